//! The reports of the catalog, one function per report writing its SQL.
//!
//! Conventions: durations are seconds (`*_s`, `DOUBLE`, from the tables' milliseconds),
//! ratios are fractions 0–1 and NULL when their denominator is empty (metrics.md: never
//! 0 % or 100 % on nothing), periods are the start of their bucket in the report's time
//! zone (`period_start`, a UTC timestamp). Interval reports read the interval tables;
//! detail reports read `interactions` and `agent_states`.

use super::{ColumnDef, Filter, ReportDef, ReportParams, quote};

const fn col(name: &'static str, description: &'static str) -> ColumnDef {
    ColumnDef { name, description }
}

const PERIOD: ColumnDef = col(
    "period_start",
    "start of the period (interval parameter) in the report's time zone",
);

/// Every report, in the order they are listed.
pub fn catalog() -> Vec<ReportDef> {
    vec![
        ReportDef {
            name: "queue_performance",
            title: "Queue performance by interval",
            description: "Offered, answered, abandoned and flowed-out contacts per queue and \
                          channel, with service level, speed of answer, abandon rate and \
                          handle time, per interval (default 15 minutes).",
            filters: &[Filter::Queues],
            by_interval: Some("15 minutes"),
            columns: const {
                &[
                    PERIOD,
                    col("queue_id", "queue"),
                    col("channel", "voice, chat, email, ..."),
                    col("offered", "contacts that entered the queue"),
                    col("answered", "contacts connected to an agent"),
                    col("abandoned", "contacts that left while waiting"),
                    col(
                        "short_abandoned",
                        "abandoned within the queue's short-abandon time",
                    ),
                    col(
                        "flowed_out",
                        "contacts that left for another queue or destination",
                    ),
                    col(
                        "service_level",
                        "the sl_formula's ratio (0-1) at the threshold",
                    ),
                    col("asa_s", "average speed of answer, seconds"),
                    col(
                        "max_wait_answered_s",
                        "longest wait of an answered contact, seconds",
                    ),
                    col(
                        "abandon_rate",
                        "abandoned / (answered + abandoned + flowed out)",
                    ),
                    col("aht_s", "average handle time (talk + hold + ACW), seconds"),
                    col("transfers", "transfers out of the queue"),
                ]
            },
            sql: queue_performance,
        },
        ReportDef {
            name: "service_level_by_day",
            title: "Service level by queue and day",
            description: "Each queue's service level per day in the report's time zone, with \
                          the counts behind it.",
            filters: &[Filter::Queues],
            by_interval: None,
            columns: const {
                &[
                    col(
                        "day",
                        "the day, as its first instant in the report's time zone",
                    ),
                    col("queue_id", "queue"),
                    col("offered", "contacts that entered the queue"),
                    col("answered", "contacts connected to an agent"),
                    col(
                        "answered_within_threshold",
                        "answered with a wait at most the threshold",
                    ),
                    col("abandoned", "contacts that left while waiting"),
                    col("flowed_out", "contacts sent elsewhere"),
                    col("threshold_s", "the service-level threshold, seconds"),
                    col("service_level", "the sl_formula's ratio (0-1)"),
                ]
            },
            sql: service_level_by_day,
        },
        ReportDef {
            name: "agent_performance",
            title: "Agent performance",
            description: "Per agent and period: contacts handled, talk, hold and after-call \
                          work, time in each state, occupancy and missed offers.",
            filters: &[Filter::Agents],
            by_interval: Some("day"),
            columns: const {
                &[
                    PERIOD,
                    col("agent_id", "agent"),
                    col("handled", "contacts handled to the end of wrap-up"),
                    col("avg_talk_s", "average talk per handled contact, seconds"),
                    col("avg_hold_s", "average hold per handled contact, seconds"),
                    col(
                        "avg_acw_s",
                        "average after-contact work per handled contact, seconds",
                    ),
                    col("aht_s", "average handle time, seconds"),
                    col("login_s", "time logged in, seconds"),
                    col("available_s", "time available (idle), seconds"),
                    col("interacting_s", "time on contacts, seconds"),
                    col("acw_s", "time in after-contact work, seconds"),
                    col("away_s", "time away (breaks, meetings...), seconds"),
                    col(
                        "occupancy",
                        "(interacting + ACW) / (interacting + ACW + available)",
                    ),
                    col("offers_missed", "offers not accepted (RONA, rejects)"),
                ]
            },
            sql: agent_performance,
        },
        ReportDef {
            name: "agent_state_detail",
            title: "Agent state detail",
            description: "Every effective-state span of each agent that started in the range.",
            filters: &[Filter::Agents],
            by_interval: None,
            columns: const {
                &[
                    col("agent_id", "agent"),
                    col(
                        "state",
                        "available, alerting, interacting, after_contact_work, away, offline",
                    ),
                    col("reason", "away reason, if any"),
                    col("started_at", "span start (UTC)"),
                    col("ended_at", "span end (UTC); empty while it lasts"),
                    col("duration_s", "span length, seconds; empty while it lasts"),
                ]
            },
            sql: agent_state_detail,
        },
        ReportDef {
            name: "abandoned_contacts",
            title: "Abandoned contacts (callback list)",
            description: "Every contact that abandoned a queue in the range, with the customer \
                          to call back and how long they waited.",
            filters: &[Filter::Queues],
            by_interval: None,
            columns: const {
                &[
                    col("interaction_id", "the contact"),
                    col("queue_id", "queue it abandoned"),
                    col("channel", "voice, chat, ..."),
                    col(
                        "customer_id",
                        "the customer, as the source system identifies them",
                    ),
                    col("queued_at", "entered the queue (UTC)"),
                    col("abandoned_at", "left the queue (UTC)"),
                    col("wait_s", "time waited, seconds"),
                    col(
                        "in_business_hours",
                        "whether it queued inside business hours",
                    ),
                ]
            },
            sql: abandoned_contacts,
        },
        ReportDef {
            name: "disposition_summary",
            title: "Disposition summary",
            description: "Contacts per queue and disposition code, with their handle time.",
            filters: &[Filter::Queues],
            by_interval: Some("day"),
            columns: const {
                &[
                    PERIOD,
                    col("queue_id", "queue"),
                    col("disposition", "wrap-up code; empty when none was given"),
                    col("contacts", "queue visits with this disposition"),
                    col("aht_s", "average handle time, seconds"),
                ]
            },
            sql: disposition_summary,
        },
        ReportDef {
            name: "interaction_detail",
            title: "Interaction detail",
            description: "One row per queue visit that entered a queue in the range.",
            filters: &[Filter::Queues, Filter::Agents],
            by_interval: None,
            columns: const {
                &[
                    col("interaction_id", "the contact"),
                    col("visit", "1 for its first queue, then 2, ..."),
                    col("queue_id", "queue"),
                    col("channel", "voice, chat, ..."),
                    col("direction", "inbound or outbound"),
                    col("agent_id", "agent who answered"),
                    col(
                        "outcome",
                        "answered, abandoned, flowed_out, in_queue or in_progress",
                    ),
                    col("queued_at", "entered the queue (UTC)"),
                    col("answered_at", "connected to the agent (UTC)"),
                    col("wait_s", "wait, seconds"),
                    col("talk_s", "talk (without hold), seconds"),
                    col("hold_s", "hold, seconds"),
                    col("acw_s", "after-contact work, seconds"),
                    col("handle_s", "talk + hold + ACW, seconds"),
                    col("transferred", "whether it was transferred"),
                    col("disposition", "wrap-up code"),
                    col("csat", "survey score 1-5"),
                    col("in_business_hours", "queued inside business hours"),
                ]
            },
            sql: interaction_detail,
        },
        ReportDef {
            name: "csat_summary",
            title: "Customer satisfaction",
            description: "Survey responses per queue and period: average score and the share \
                          of satisfied customers (scores 4-5).",
            filters: &[Filter::Queues],
            by_interval: Some("day"),
            columns: const {
                &[
                    PERIOD,
                    col("queue_id", "queue"),
                    col("responses", "surveys answered"),
                    col("average_score", "mean score (1-5)"),
                    col("satisfied", "responses scoring 4 or 5"),
                    col("csat", "satisfied / responses (0-1)"),
                ]
            },
            sql: csat_summary,
        },
        ReportDef {
            name: "dialer_campaign_results",
            title: "Dialer campaign results",
            description: "Per campaign and period: attempts, results, drops, connect and machine \
                          rates and the abandon rate; abandon_rate_30d is dropped / human over \
                          the 30 days ending at the end of the range (the US safe harbour is \
                          at most 3 %).",
            filters: &[Filter::Campaigns],
            by_interval: Some("day"),
            columns: const {
                &[
                    PERIOD,
                    col("campaign_id", "campaign"),
                    col("attempts", "dial attempts"),
                    col("human", "answered by a person"),
                    col("machine", "answering machines"),
                    col("no_answer", "no answer"),
                    col("busy", "busy"),
                    col(
                        "other_results",
                        "fax, bad number, special information tones",
                    ),
                    col("dropped", "connected people not given an agent in time"),
                    col("connect_rate", "human / attempts"),
                    col("machine_rate", "machine / (human + machine)"),
                    col("abandon_rate", "dropped / human in the period"),
                    col(
                        "abandon_rate_30d",
                        "dropped / human over the 30 days to the range end",
                    ),
                ]
            },
            sql: dialer_campaign_results,
        },
        ReportDef {
            name: "tenant_usage",
            title: "Usage by channel",
            description: "Contacts and minutes per channel and period (queue visits counted by \
                          the time they entered a queue).",
            filters: &[],
            by_interval: Some("day"),
            columns: const {
                &[
                    PERIOD,
                    col("channel", "voice, chat, email, ..."),
                    col("direction", "inbound or outbound"),
                    col("contacts", "distinct contacts"),
                    col("queue_visits", "queue visits"),
                    col("handled", "visits answered by an agent"),
                    col("talk_minutes", "talk, minutes"),
                    col("handle_minutes", "talk + hold + ACW, minutes"),
                ]
            },
            sql: tenant_usage,
        },
    ]
}

/// `CAST(<expr> AS DOUBLE) / 1000.0`: milliseconds to seconds.
fn seconds(expr: &str) -> String {
    format!("CAST({expr} AS DOUBLE) / 1000.0")
}

/// A ratio that is NULL on an empty denominator.
fn ratio(numerator: &str, denominator: &str) -> String {
    format!("CAST({numerator} AS DOUBLE) / CAST(nullif({denominator}, 0) AS DOUBLE)")
}

/// The service-level call over summed interval columns.
fn service_level(p: &ReportParams) -> String {
    format!(
        "service_level({}, sum({}), sum(answered_wait_count), sum(abandoned_wait_count), \
         sum({}), sum(short_abandoned), sum(flowed_out))",
        p.formula(),
        p.within("answered"),
        p.within("abandoned"),
    )
}

fn queue_performance(p: &ReportParams) -> String {
    format!(
        "SELECT {bucket} AS period_start, queue_id, channel,
            sum(offered) AS offered, sum(answered) AS answered, sum(abandoned) AS abandoned,
            sum(short_abandoned) AS short_abandoned, sum(flowed_out) AS flowed_out,
            {sl} AS service_level,
            {asa} / 1000.0 AS asa_s,
            {max_wait} AS max_wait_answered_s,
            {abandon_rate} AS abandon_rate,
            {aht} / 1000.0 AS aht_s,
            sum(transfers) AS transfers
         FROM queue_intervals
         WHERE {range}{queues}
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        bucket = p.bucket("interval_start"),
        sl = service_level(p),
        asa = ratio("sum(answered_wait_sum_ms)", "sum(answered_wait_count)"),
        max_wait = seconds("max(answered_wait_max_ms)"),
        abandon_rate = ratio(
            "sum(abandoned)",
            "sum(answered) + sum(abandoned) + sum(flowed_out)"
        ),
        aht = ratio("sum(handle_sum_ms)", "sum(handle_count)"),
        range = p.range("interval_start"),
        queues = p.only(Filter::Queues, "queue_id"),
    )
}

fn service_level_by_day(p: &ReportParams) -> String {
    let threshold = match p.sl_threshold_s {
        Some(seconds) => format!("CAST({seconds} AS DOUBLE)"),
        None => seconds("max(sl_threshold_ms)"),
    };
    format!(
        "SELECT time_bucket(interval_start, 'day', {tz}) AS day, queue_id,
            sum(offered) AS offered, sum(answered) AS answered,
            sum({within}) AS answered_within_threshold,
            sum(abandoned) AS abandoned, sum(flowed_out) AS flowed_out,
            {threshold} AS threshold_s,
            {sl} AS service_level
         FROM queue_intervals
         WHERE {range}{queues}
         GROUP BY 1, 2 ORDER BY 1, 2",
        tz = quote(p.timezone.name()),
        within = p.within("answered"),
        sl = service_level(p),
        range = p.range("interval_start"),
        queues = p.only(Filter::Queues, "queue_id"),
    )
}

fn agent_performance(p: &ReportParams) -> String {
    format!(
        "SELECT {bucket} AS period_start, agent_id,
            sum(handled) AS handled,
            {talk} / 1000.0 AS avg_talk_s,
            {hold} / 1000.0 AS avg_hold_s,
            {acw} / 1000.0 AS avg_acw_s,
            {aht} / 1000.0 AS aht_s,
            {login} AS login_s, {available} AS available_s, {interacting} AS interacting_s,
            {acw_time} AS acw_s, {away} AS away_s,
            {occupancy} AS occupancy,
            sum(offers_missed) AS offers_missed
         FROM agent_intervals
         WHERE {range}{agents}
         GROUP BY 1, 2 ORDER BY 1, 2",
        bucket = p.bucket("interval_start"),
        talk = ratio("sum(talk_sum_ms)", "sum(handled)"),
        hold = ratio("sum(hold_sum_ms)", "sum(handled)"),
        acw = ratio("sum(acw_sum_ms)", "sum(handled)"),
        aht = ratio(
            "sum(talk_sum_ms) + sum(hold_sum_ms) + sum(acw_sum_ms)",
            "sum(handled)"
        ),
        login = seconds("sum(login_ms)"),
        available = seconds("sum(available_ms)"),
        interacting = seconds("sum(interacting_ms)"),
        acw_time = seconds("sum(after_contact_work_ms)"),
        away = seconds("sum(away_ms)"),
        occupancy = ratio(
            "sum(interacting_ms) + sum(after_contact_work_ms)",
            "sum(interacting_ms) + sum(after_contact_work_ms) + sum(available_ms)"
        ),
        range = p.range("interval_start"),
        agents = p.only(Filter::Agents, "agent_id"),
    )
}

fn agent_state_detail(p: &ReportParams) -> String {
    format!(
        "SELECT agent_id, state, reason, started_at, ended_at, {duration} AS duration_s
         FROM agent_states
         WHERE {range}{agents}
         ORDER BY agent_id, started_at",
        duration = seconds("duration_ms"),
        range = p.range("started_at"),
        agents = p.only(Filter::Agents, "agent_id"),
    )
}

fn abandoned_contacts(p: &ReportParams) -> String {
    format!(
        "SELECT i.interaction_id, i.queue_id, i.channel, c.customer_id, i.queued_at,
            i.abandoned_at, {wait} AS wait_s, i.in_business_hours
         FROM interactions i
         LEFT JOIN (
            SELECT interaction_id, min(customer_id) AS customer_id FROM events
            WHERE type = 'interaction.created' GROUP BY interaction_id
         ) c ON c.interaction_id = i.interaction_id
         WHERE i.outcome = 'abandoned' AND {range}{queues}
         ORDER BY i.queued_at, i.interaction_id, i.visit",
        wait = seconds("i.wait_ms"),
        range = p.range("i.queued_at"),
        queues = p.only(Filter::Queues, "i.queue_id"),
    )
}

fn disposition_summary(p: &ReportParams) -> String {
    format!(
        "SELECT {bucket} AS period_start, queue_id, disposition,
            count(*) AS contacts, {aht} / 1000.0 AS aht_s
         FROM interactions
         WHERE outcome = 'answered' AND {range}{queues}
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 4 DESC, 3",
        bucket = p.bucket("queued_at"),
        aht = ratio("sum(handle_ms)", "count(handle_ms)"),
        range = p.range("queued_at"),
        queues = p.only(Filter::Queues, "queue_id"),
    )
}

fn interaction_detail(p: &ReportParams) -> String {
    format!(
        "SELECT interaction_id, visit, queue_id, channel, direction, agent_id, outcome,
            queued_at, answered_at, {wait} AS wait_s, {talk} AS talk_s, {hold} AS hold_s,
            {acw} AS acw_s, {handle} AS handle_s, transferred, disposition, csat,
            in_business_hours
         FROM interactions
         WHERE {range}{queues}{agents}
         ORDER BY queued_at, interaction_id, visit",
        wait = seconds("wait_ms"),
        talk = seconds("talk_ms"),
        hold = seconds("hold_ms"),
        acw = seconds("acw_ms"),
        handle = seconds("handle_ms"),
        range = p.range("queued_at"),
        queues = p.only(Filter::Queues, "queue_id"),
        agents = p.only(Filter::Agents, "agent_id"),
    )
}

fn csat_summary(p: &ReportParams) -> String {
    format!(
        "SELECT {bucket} AS period_start, queue_id,
            sum(csat_responses) AS responses,
            {average} AS average_score,
            sum(csat_satisfied) AS satisfied,
            {csat} AS csat
         FROM queue_intervals
         WHERE {range}{queues}
         GROUP BY 1, 2 HAVING sum(csat_responses) > 0 ORDER BY 1, 2",
        bucket = p.bucket("interval_start"),
        average = ratio("sum(csat_sum)", "sum(csat_responses)"),
        csat = ratio("sum(csat_satisfied)", "sum(csat_responses)"),
        range = p.range("interval_start"),
        queues = p.only(Filter::Queues, "queue_id"),
    )
}

fn dialer_campaign_results(p: &ReportParams) -> String {
    let window_start = p.to - chrono::TimeDelta::days(30);
    let window = ReportParams {
        from: window_start,
        ..p.clone()
    };
    format!(
        "WITH period AS (
            SELECT {bucket} AS period_start, campaign_id,
                sum(attempts) AS attempts, sum(result_human) AS human,
                sum(result_machine) AS machine, sum(result_no_answer) AS no_answer,
                sum(result_busy) AS busy,
                sum(result_fax) + sum(result_bad_number) + sum(result_sit) AS other_results,
                sum(dropped) AS dropped
            FROM campaign_intervals
            WHERE {range}{campaigns}
            GROUP BY 1, 2
         ), window30 AS (
            SELECT campaign_id, {window_rate} AS abandon_rate_30d
            FROM campaign_intervals
            WHERE {window_range}{campaigns}
            GROUP BY campaign_id
         )
         SELECT p.period_start, p.campaign_id, p.attempts, p.human, p.machine, p.no_answer,
            p.busy, p.other_results, p.dropped,
            {connect} AS connect_rate, {machine_rate} AS machine_rate,
            {abandon} AS abandon_rate, w.abandon_rate_30d
         FROM period p LEFT JOIN window30 w ON w.campaign_id = p.campaign_id
         ORDER BY 1, 2",
        bucket = p.bucket("interval_start"),
        range = p.range("interval_start"),
        campaigns = p.only(Filter::Campaigns, "campaign_id"),
        window_rate = ratio("sum(dropped)", "sum(result_human)"),
        window_range = window.range("interval_start"),
        connect = ratio("p.human", "p.attempts"),
        machine_rate = ratio("p.machine", "p.human + p.machine"),
        abandon = ratio("p.dropped", "p.human"),
    )
}

fn tenant_usage(p: &ReportParams) -> String {
    format!(
        "SELECT {bucket} AS period_start, channel, direction,
            count(DISTINCT interaction_id) AS contacts,
            count(*) AS queue_visits,
            count(answered_at) AS handled,
            CAST(coalesce(sum(talk_ms), 0) AS DOUBLE) / 60000.0 AS talk_minutes,
            CAST(coalesce(sum(handle_ms), 0) AS DOUBLE) / 60000.0 AS handle_minutes
         FROM interactions
         WHERE {range}
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        bucket = p.bucket("queued_at"),
        range = p.range("queued_at"),
    )
}
