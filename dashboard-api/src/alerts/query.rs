//! Rules read with SQL ([`Metric::needs_query`]): trailing windows, the dialer's
//! abandon rate and any numeric column of the interval and live tables. [`statement`]
//! writes one query per rule over the tenant's tables (the same views `POST /sql`
//! reads); [`readings`] turns its rows into the same [`Reading`]s the live path gives.
//!
//! A window is a range of `interval_start` (interval tables hold 15-minute rows):
//! `current_interval` the interval holding the tenant's clock, `previous_interval` the
//! one before it (closed), `today` from the tenant's local midnight, `trailing_<N>` the
//! current interval and the `N / 15 − 1` before it. Ids are written as quoted literals, column names come from the tables'
//! schemas: nothing of a rule is spliced into SQL unchecked.
//!
//! Service level, ASA and abandon rate are summed from the interval columns and
//! computed in Rust with each queue's formula, as the live figures are:
//! `answered_within_sl` counts waits within the threshold in force when the row was
//! folded.

use ccpulse_ingest::fold::live::local_day_start;
use ccpulse_schemas::metrics::{INTERVAL_MS, SlCounts, interval_start};
use ccpulse_schemas::settings::TenantSettings;
use serde_json::{Map, Value};

use super::evaluate::{Reading, Subject, judge};
use super::rule::{Metric, Rule, Table, Window};
use crate::views::time_text;

/// One row of a query's answer, as JSON.
pub type Row = Map<String, Value>;

/// The first `interval_start` of `window` at `as_of`.
pub fn window_start(window: Window, settings: &TenantSettings, as_of: i64) -> i64 {
    let current = interval_start(as_of);
    match window {
        Window::Now | Window::CurrentInterval => current,
        Window::Today => local_day_start(settings, as_of),
        Window::PreviousInterval => current - INTERVAL_MS,
        Window::Trailing { minutes } => current - (i64::from(minutes) * 60_000 - INTERVAL_MS),
    }
}

/// A SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// ` AND <column> IN ('a', 'b')`, or nothing for an empty list.
fn only(column: &str, ids: &[String]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = ids.iter().map(|id| quote(id)).collect();
        format!(" AND {column} IN ({})", list.join(", "))
    }
}

/// The query of `rule` at `as_of` (the tenant's clock).
pub fn statement(rule: &Rule, settings: &TenantSettings, as_of: i64) -> String {
    let scope = &rule.spec.scope;
    // The previous interval ends where the current one starts; every other window
    // runs to the tenant's clock.
    let end = match rule.window {
        Window::PreviousInterval => format!("< TIMESTAMP '{}'", time_text(interval_start(as_of))),
        _ => format!("<= TIMESTAMP '{}'", time_text(as_of)),
    };
    let range = format!(
        "interval_start >= TIMESTAMP '{}' AND interval_start {end}",
        time_text(window_start(rule.window, settings, as_of)),
    );
    match rule.metric {
        Metric::DialerAbandonRate => format!(
            "SELECT campaign_id AS subject, sum(dropped) AS dropped, sum(result_human) AS volume \
             FROM campaign_intervals WHERE {range}{campaigns} GROUP BY campaign_id ORDER BY 1",
            campaigns = only("campaign_id", &scope.campaigns),
        ),
        Metric::Column(column) => {
            let (key, _) = column.table.subject();
            let name = column.name();
            let filter = match column.table {
                Table::QueueIntervals | Table::QueueLive => only(key, &scope.queues),
                Table::CampaignIntervals => only(key, &scope.campaigns),
                Table::AgentIntervals | Table::AgentLive => {
                    only(key, scope.agent.as_slice())
                        + &scope
                            .team
                            .as_ref()
                            .map(|team| format!(" AND team_id = {}", quote(team)))
                            .unwrap_or_default()
                }
            };
            let channel = scope
                .channel
                .as_ref()
                .map(|c| format!(" AND channel = {}", quote(c)))
                .unwrap_or_default();
            match column.table.volume_column() {
                Some(volume) => format!(
                    "SELECT {key} AS subject, CAST(sum({name}) AS DOUBLE) AS value, sum({volume}) AS volume \
                     FROM {table} WHERE {range}{filter}{channel} GROUP BY {key} ORDER BY 1",
                    table = column.table.name(),
                ),
                None => format!(
                    "SELECT {key} AS subject, CAST({name} AS DOUBLE) AS value \
                     FROM {table} WHERE true{filter} ORDER BY 1",
                    table = column.table.name(),
                ),
            }
        }
        // Queue window metrics over a trailing window.
        _ => format!(
            "SELECT queue_id AS subject, sum(offered) AS volume, sum(answered) AS answered, \
             sum(abandoned) AS abandoned, sum(flowed_out) AS flowed_out, \
             sum(answered_within_sl) AS answered_within, sum(answered_wait_count) AS answered_with_wait, \
             sum(abandoned_wait_count) AS abandoned_with_wait, sum(abandoned_within_sl) AS abandoned_within, \
             sum(short_abandoned) AS short_abandoned, sum(answered_wait_sum_ms) AS answered_wait_sum_ms \
             FROM queue_intervals WHERE {range}{queues}{channel} GROUP BY queue_id ORDER BY 1",
            queues = only("queue_id", &scope.queues),
            channel = scope
                .channel
                .as_ref()
                .map(|c| format!(" AND channel = {}", quote(c)))
                .unwrap_or_default(),
        ),
    }
}

fn count(row: &Row, name: &str) -> u64 {
    row.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// `a / b`, undefined when `b` is 0.
fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The readings of `rule` from the rows of its [`statement`].
pub fn readings(rule: &Rule, settings: &TenantSettings, rows: &[Row]) -> Vec<Reading> {
    let kind = match rule.metric {
        Metric::DialerAbandonRate => "campaign",
        Metric::Column(column) => column.table.subject().1,
        _ => "queue",
    };
    rows.iter()
        .filter_map(|row| {
            let id = row.get("subject")?.as_str()?.to_owned();
            let volume = row.get("volume").and_then(Value::as_u64);
            let value = match rule.metric {
                Metric::DialerAbandonRate => ratio(count(row, "dropped"), count(row, "volume")),
                Metric::Column(_) => row.get("value").and_then(Value::as_f64),
                metric => queue_value(metric, settings, &id, row),
            };
            Some(Reading {
                subject: Subject { kind, id },
                observation: judge(rule, value, volume),
            })
        })
        .collect()
}

/// A queue window metric from the summed interval columns.
fn queue_value(metric: Metric, settings: &TenantSettings, queue: &str, row: &Row) -> Option<f64> {
    let answered = count(row, "answered");
    let abandoned = count(row, "abandoned");
    let flowed_out = count(row, "flowed_out");
    match metric {
        Metric::ServiceLevel => settings.queue(queue).sl_formula.value(&SlCounts {
            answered_within: count(row, "answered_within"),
            answered_with_wait: count(row, "answered_with_wait"),
            abandoned_with_wait: count(row, "abandoned_with_wait"),
            abandoned_within: count(row, "abandoned_within"),
            short_abandoned: count(row, "short_abandoned"),
            flowed_out,
        }),
        Metric::AsaS => ratio(
            count(row, "answered_wait_sum_ms"),
            count(row, "answered_with_wait"),
        )
        .map(|ms| ms / 1000.0),
        Metric::AbandonRate => ratio(abandoned, answered + abandoned + flowed_out),
        Metric::Offered => Some(count(row, "volume") as f64),
        Metric::Answered => Some(answered as f64),
        Metric::Abandoned => Some(abandoned as f64),
        Metric::FlowedOut => Some(flowed_out as f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::alerts::lifecycle::Observation;
    use crate::alerts::rule::RuleSpec;

    use crate::alerts::rule::test_rule as rule;

    /// 2026-11-16T10:07:30Z.
    const AS_OF: i64 = 1_794_823_650_000;

    #[test]
    fn windows_start_at_interval_boundaries() {
        let settings = TenantSettings::default();
        let at = |w| time_text(window_start(w, &settings, AS_OF));
        assert_eq!(at(Window::CurrentInterval), "2026-11-16T10:00:00.000Z");
        assert_eq!(
            at(Window::Trailing { minutes: 15 }),
            "2026-11-16T10:00:00.000Z"
        );
        assert_eq!(
            at(Window::Trailing { minutes: 60 }),
            "2026-11-16T09:15:00.000Z"
        );
        assert_eq!(at(Window::Today), "2026-11-16T00:00:00.000Z");
        assert_eq!(at(Window::PreviousInterval), "2026-11-16T09:45:00.000Z");
        let closed = rule(
            "metric = \"abandon_rate\"\nwindow = \"previous_interval\"\ncomparison = \"above\"\nwarning = 0.1",
        );
        let sql = statement(&closed, &settings, AS_OF);
        assert!(
            sql.contains("interval_start >= TIMESTAMP '2026-11-16T09:45:00.000Z' AND interval_start < TIMESTAMP '2026-11-16T10:00:00.000Z'"),
            "{sql}"
        );
    }

    #[test]
    fn statements_quote_ids_and_name_checked_columns() {
        let settings = TenantSettings::default();
        let sl = rule(
            "metric = \"service_level\"\nwindow = \"trailing_30m\"\nscope = { queues = [\"o'brien\"], channel = \"voice\" }\ncomparison = \"below\"\nwarning = 0.8",
        );
        let sql = statement(&sl, &settings, AS_OF);
        assert!(sql.contains("queue_id IN ('o''brien')"), "{sql}");
        assert!(sql.contains("channel = 'voice'"), "{sql}");
        assert!(
            sql.contains("interval_start >= TIMESTAMP '2026-11-16T09:45:00.000Z'"),
            "{sql}"
        );
        let column = rule(
            "metric = \"queue_intervals.transfers\"\nwindow = \"today\"\ncomparison = \"above\"\nwarning = 10.0",
        );
        let sql = statement(&column, &settings, AS_OF);
        assert!(
            sql.contains("CAST(sum(transfers) AS DOUBLE) AS value"),
            "{sql}"
        );
        assert!(sql.contains("sum(offered) AS volume"), "{sql}");
        let live = rule(
            "metric = \"agent_live.time_in_state_ms\"\nscope = { team = \"north\" }\ncomparison = \"above\"\nwarning = 1.0",
        );
        let sql = statement(&live, &settings, AS_OF);
        assert!(
            sql.contains("FROM agent_live WHERE true AND team_id = 'north'"),
            "{sql}"
        );
        for (text, expected) in [
            ("metric = \"queue_intervals.queue_id\"", "no numeric column"),
            ("metric = \"events.offset\"", "no table rules can watch"),
            (
                "metric = \"queue_live.waiting_now\"\nwindow = \"today\"",
                "is a gauge",
            ),
            (
                "metric = \"dialer_abandon_rate\"\nscope = { queues = [\"a\"] }",
                "`scope.queues` does not apply",
            ),
            (
                "metric = \"service_level\"\nwindow = \"trailing_20m\"",
                "15-minute intervals",
            ),
            (
                "metric = \"service_level\"\nwindow = \"trailing_32d\"",
                "at most 31 days",
            ),
        ] {
            let spec: RuleSpec = toml::from_str(&format!(
                "id = \"r\"\ntenant = \"acme\"\ncomparison = \"above\"\nwarning = 0.5\n{text}"
            ))
            .expect("parses");
            let error = Rule::check(spec, &[]).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn rows_become_readings_with_each_queue_formula() {
        let settings = TenantSettings::default();
        let sl = rule(
            "metric = \"service_level\"\nwindow = \"trailing_60m\"\ncomparison = \"below\"\nwarning = 0.8\nmin_volume = 10",
        );
        let row = |id: &str, offered: u64| {
            json!({"subject": id, "volume": offered, "answered": 10, "abandoned": 2,
                "flowed_out": 0, "answered_within": 7, "answered_with_wait": 10,
                "abandoned_with_wait": 2, "abandoned_within": 1, "short_abandoned": 1,
                "answered_wait_sum_ms": 150_000})
            .as_object()
            .cloned()
            .unwrap()
        };
        let read = readings(&sl, &settings, &[row("sales", 12), row("tiny", 4)]);
        // abandons_count (the default formula): A≤T / (A + Ab) = 7 / 12.
        assert_eq!(
            read[0].observation,
            Observation::Value {
                value: 7.0 / 12.0,
                volume: Some(12)
            }
        );
        assert!(matches!(read[1].observation, Observation::NoData { .. }));
        let dialer =
            rule("metric = \"dialer_abandon_rate\"\ncomparison = \"above\"\nwarning = 0.03");
        assert_eq!(
            dialer.window,
            Window::Trailing {
                minutes: 30 * 24 * 60
            }
        );
        let rows = [json!({"subject": "c1", "dropped": 4, "volume": 100})
            .as_object()
            .cloned()
            .unwrap()];
        let read = readings(&dialer, &settings, &rows);
        assert_eq!(
            read[0].subject,
            Subject {
                kind: "campaign",
                id: "c1".into()
            }
        );
        assert_eq!(
            read[0].observation,
            Observation::Value {
                value: 0.04,
                volume: Some(100)
            }
        );
    }
}
