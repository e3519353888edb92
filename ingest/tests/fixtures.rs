//! The hand-checked scenarios of `sample-data/fixtures/`: each `events.ndjson` folded
//! (in its file order, finalising after every event) must give exactly the rows of its
//! `expected.json`. The reference fold must give the same.

use std::collections::BTreeMap;
use std::sync::Arc;

use ccpulse_ingest::fold::Fold;
use ccpulse_ingest::fold::reference::fold_all;
use ccpulse_ingest::fold::rows::Tables;
use ccpulse_schemas::metrics::SlFormula;
use ccpulse_schemas::v1::{DialResult, PreviewAction};
use serde_json::{Value, json};

mod support;

use support::{Fixture as Scenario, load, names as scenarios};

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("timestamp in range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn ts_opt(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(ts(ms)))
}

/// The incremental fold, finalising after every event: final + provisional rows, and
/// the live view at the end.
fn fold_with_live(scenario: &Scenario) -> (Tables, Vec<Value>) {
    let mut fold = Fold::new(Arc::new(scenario.config.clone()));
    let mut tables = Tables::default();
    for event in &scenario.events {
        fold.apply(event);
        fold.advance();
        tables.merge(fold.take_final());
    }
    tables.merge(fold.provisional());
    tables.sort();
    let live = fold.queue_live().iter().map(live_row).collect();
    (tables, live)
}

fn live_row(q: &ccpulse_ingest::fold::live::QueueLive) -> Value {
    let summary = |s: &ccpulse_ingest::fold::live::LiveSummary| {
        json!({
            "offered": s.offered, "answered": s.answered, "abandoned": s.abandoned,
            "flowed_out": s.flowed_out, "service_level": s.service_level,
            "asa_ms": s.asa_ms, "abandon_rate": s.abandon_rate,
        })
    };
    let mut current = summary(&q.current_interval);
    current["interval_start"] = json!(ts(q.current_interval.period_start));
    json!({
        "tenant_id": q.tenant_id, "queue_id": q.queue_id, "as_of": ts(q.as_of),
        "waiting_now": q.waiting_now, "oldest_queued_at": ts_opt(q.oldest_queued_at),
        "oldest_wait_ms": q.oldest_wait_ms, "agents": q.agents, "in_progress": q.in_progress,
        "today": summary(&q.today), "current_interval": current,
    })
}

/// The incremental fold, finalising after every event, final + provisional.
fn fold_incrementally(scenario: &Scenario) -> Tables {
    fold_with_live(scenario).0
}

fn interaction_rows(t: &Tables) -> Vec<Value> {
    t.interactions
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            for field in [
                "queued_at",
                "answered_at",
                "abandoned_at",
                "flowed_out_at",
                "conversation_ended_at",
                "wrapup_completed_at",
            ] {
                v[field] = ts_opt(v[field].as_i64());
            }
            v
        })
        .collect()
}

fn dist(
    v: &mut serde_json::Map<String, Value>,
    name: &str,
    d: &ccpulse_ingest::fold::measures::Dist,
) {
    v.insert(format!("{name}_count"), json!(d.count));
    v.insert(format!("{name}_sum_ms"), json!(d.sum_ms));
    v.insert(format!("{name}_min_ms"), json!(d.min_ms));
    v.insert(format!("{name}_max_ms"), json!(d.max_ms));
}

fn queue_rows(t: &Tables) -> Vec<Value> {
    t.queue_intervals
        .iter()
        .map(|(k, q)| {
            let m = &q.measures;
            let mut v = serde_json::Map::new();
            v.insert("tenant_id".into(), json!(k.tenant_id));
            v.insert("queue_id".into(), json!(k.queue_id));
            v.insert("channel".into(), json!(k.channel.as_str()));
            v.insert("direction".into(), json!(k.direction.as_str()));
            v.insert("interval_start".into(), json!(ts(k.interval_start)));
            for (name, value) in [
                ("offered", m.offered),
                ("answered", m.answered),
                ("abandoned", m.abandoned),
                ("short_abandoned", m.short_abandoned),
                ("flowed_out", m.flowed_out),
                ("transfers", m.transfers),
                ("transfers_blind", m.transfers_blind),
                ("transfers_consult", m.transfers_consult),
                ("csat_responses", m.csat_responses),
                ("csat_sum", m.csat_sum),
                ("csat_satisfied", m.csat_satisfied),
            ] {
                v.insert(name.into(), json!(value));
            }
            dist(&mut v, "answered_wait", &m.answered_wait);
            dist(&mut v, "abandoned_wait", &m.abandoned_wait);
            dist(&mut v, "talk", &m.talk);
            dist(&mut v, "hold", &m.hold);
            dist(&mut v, "acw", &m.acw);
            dist(&mut v, "handle", &m.handle);
            v.insert(
                "answered_wait_histogram".into(),
                json!(m.answered_wait_histogram),
            );
            v.insert(
                "abandoned_wait_histogram".into(),
                json!(m.abandoned_wait_histogram),
            );
            Value::Object(v)
        })
        .collect()
}

fn agent_state_rows(t: &Tables) -> Vec<Value> {
    t.agent_states
        .iter()
        .map(|r| {
            json!({
                "tenant_id": r.tenant_id, "agent_id": r.agent_id, "state": r.state,
                "reason": r.reason, "started_at": ts(r.started_at),
                "ended_at": ts_opt(r.ended_at), "duration_ms": r.duration_ms,
            })
        })
        .collect()
}

fn agent_interval_rows(t: &Tables) -> Vec<Value> {
    t.agent_intervals
        .iter()
        .map(|(k, m)| {
            json!({
                "tenant_id": k.tenant_id, "agent_id": k.agent_id,
                "interval_start": ts(k.interval_start),
                "login_ms": m.login_ms, "available_ms": m.available_ms,
                "alerting_ms": m.alerting_ms, "interacting_ms": m.interacting_ms,
                "after_contact_work_ms": m.after_contact_work_ms, "away_ms": m.away_ms,
                "away_by_reason": m.away_by_reason, "offline_ms": m.offline_ms,
                "handled": m.handled, "talk_sum_ms": m.talk_sum_ms,
                "hold_sum_ms": m.hold_sum_ms, "acw_sum_ms": m.acw_sum_ms,
                "offers_missed": m.offers_missed, "occupancy": m.occupancy(),
            })
        })
        .collect()
}

fn campaign_rows(t: &Tables) -> Vec<Value> {
    t.campaign_intervals
        .iter()
        .map(|(k, m)| {
            let results: BTreeMap<&str, u64> = DialResult::ALL
                .iter()
                .map(|r| (r.as_str(), m.result(*r)))
                .collect();
            let actions: BTreeMap<&str, u64> = PreviewAction::ALL
                .iter()
                .zip(m.preview_actions)
                .map(|(a, n)| (a.as_str(), n))
                .collect();
            let human = m.result(DialResult::Human);
            let machine = m.result(DialResult::Machine);
            let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
            json!({
                "tenant_id": k.tenant_id, "campaign_id": k.campaign_id,
                "interval_start": ts(k.interval_start), "attempts": m.attempts,
                "results": results, "connects": human, "dropped": m.dropped,
                "preview_actions": actions,
                "connect_rate": ratio(human, m.attempts),
                "machine_rate": ratio(machine, human + machine),
                "abandon_rate": ratio(m.dropped, human),
            })
        })
        .collect()
}

fn service_level_rows(t: &Tables, expected: &[Value]) -> Vec<Value> {
    // One row per expected (queue, interval, formula): computed from our interval rows.
    expected
        .iter()
        .map(|e| {
            let formula = SlFormula::parse(e["formula"].as_str().unwrap()).unwrap();
            let mut measures = ccpulse_ingest::fold::measures::QueueMeasures::default();
            let mut threshold = 0;
            for (k, q) in &t.queue_intervals {
                if k.queue_id == e["queue_id"].as_str().unwrap()
                    && ts(k.interval_start) == e["interval_start"].as_str().unwrap()
                {
                    measures.merge(&q.measures);
                    threshold = q.sl_threshold_ms / 1000;
                }
            }
            let counts = measures.sl_counts();
            let (numerator, denominator) = formula.terms(&counts);
            json!({
                "tenant_id": e["tenant_id"], "queue_id": e["queue_id"],
                "interval_start": e["interval_start"], "threshold_s": threshold,
                "formula": formula.as_str(), "numerator": numerator,
                "denominator": denominator, "value": formula.value(&counts),
            })
        })
        .collect()
}

/// Compares two JSON values; numbers compare with a tolerance of 0.00005.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= 0.00005
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

fn sort_key(v: &Value, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| v[*k].to_string())
        .collect::<Vec<_>>()
        .join("|")
}

fn check_section(
    scenario: &Scenario,
    section: &str,
    keys: &[&str],
    mut actual: Vec<Value>,
    failures: &mut Vec<String>,
) {
    let Some(expected) = scenario.expected.get(section).and_then(Value::as_array) else {
        return;
    };
    let mut expected = expected.clone();
    expected.sort_by_key(|v| sort_key(v, keys));
    actual.sort_by_key(|v| sort_key(v, keys));
    if expected.len() != actual.len() || !expected.iter().zip(&actual).all(|(e, a)| same(e, a)) {
        failures.push(format!(
            "{} / {section}:\nexpected {}\nactual   {}",
            scenario.name,
            serde_json::to_string_pretty(&expected).unwrap(),
            serde_json::to_string_pretty(&actual).unwrap()
        ));
    }
}

fn check(scenario: &Scenario, tables: &Tables, failures: &mut Vec<String>) {
    check_section(
        scenario,
        "interactions",
        &["interaction_id", "visit"],
        interaction_rows(tables),
        failures,
    );
    check_section(
        scenario,
        "queue_intervals",
        &["queue_id", "channel", "direction", "interval_start"],
        queue_rows(tables),
        failures,
    );
    check_section(
        scenario,
        "agent_states",
        &["agent_id", "started_at"],
        agent_state_rows(tables),
        failures,
    );
    check_section(
        scenario,
        "agent_intervals",
        &["agent_id", "interval_start"],
        agent_interval_rows(tables),
        failures,
    );
    check_section(
        scenario,
        "campaign_intervals",
        &["campaign_id", "interval_start"],
        campaign_rows(tables),
        failures,
    );
    if let Some(expected) = scenario.expected["service_level"].as_array() {
        check_section(
            scenario,
            "service_level",
            &["queue_id", "interval_start", "formula"],
            service_level_rows(tables, expected),
            failures,
        );
    }
    for (name, count) in scenario.expected["anomalies"].as_object().unwrap() {
        let actual = tables.anomalies.get(name).copied().unwrap_or(0);
        if Some(actual) != count.as_u64() {
            failures.push(format!(
                "{} / anomalies.{name}: expected {count}, actual {actual}",
                scenario.name
            ));
        }
    }
}

#[test]
fn incremental_fold_reproduces_every_fixture() {
    let mut failures = Vec::new();
    for name in scenarios() {
        let scenario = load(&name);
        let (tables, live) = fold_with_live(&scenario);
        check(&scenario, &tables, &mut failures);
        check_section(&scenario, "queue_live", &["queue_id"], live, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn reference_fold_reproduces_every_fixture() {
    let mut failures = Vec::new();
    for name in scenarios() {
        let scenario = load(&name);
        check(
            &scenario,
            &fold_all(&scenario.events, &scenario.config),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn fixtures_in_reverse_order_within_lateness_give_the_same_tables() {
    // Reversing a scenario whose span is within the allowed lateness is a legal arrival
    // order: the tables must not change.
    for name in scenarios() {
        let scenario = load(&name);
        let span = scenario.events.iter().map(|e| e.occurred_at).max().unwrap()
            - scenario.events.iter().map(|e| e.occurred_at).min().unwrap();
        let mut config = scenario.config.clone();
        config.allowed_lateness_ms = config.allowed_lateness_ms.max(span);
        let forward = Scenario {
            config: config.clone(),
            name: name.clone(),
            events: scenario.events.clone(),
            expected: Value::Null,
        };
        let mut reversed_events = scenario.events.clone();
        reversed_events.reverse();
        let reversed = Scenario {
            config,
            name: name.clone(),
            events: reversed_events,
            expected: Value::Null,
        };
        assert_eq!(
            fold_incrementally(&forward),
            fold_incrementally(&reversed),
            "{name}"
        );
    }
}
