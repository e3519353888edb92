//! Every fixture scenario under `sample-data/fixtures/` is well-formed: its events decode and
//! validate against contract v1, and its `expected.json` has the documented shape and only
//! names interactions, agents, queues and campaigns that occur in its events.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ccpulse_schemas::v1;
use serde_json::Value;

const INTERACTION_COLUMNS: &[&str] = &[
    "tenant_id",
    "interaction_id",
    "visit",
    "queue_id",
    "channel",
    "direction",
    "campaign_id",
    "agent_id",
    "queued_at",
    "answered_at",
    "abandoned_at",
    "flowed_out_at",
    "conversation_ended_at",
    "wrapup_completed_at",
    "outcome",
    "wait_ms",
    "talk_ms",
    "hold_ms",
    "hold_count",
    "acw_ms",
    "handle_ms",
    "transferred",
    "disposition",
    "csat",
    "in_business_hours",
];

const AGENT_STATE_COLUMNS: &[&str] = &[
    "tenant_id",
    "agent_id",
    "state",
    "reason",
    "started_at",
    "ended_at",
    "duration_ms",
];

/// Columns of a `queue_intervals` row, as fixtures/README.md lists them.
fn queue_interval_columns() -> Vec<String> {
    let mut columns: Vec<String> = [
        "tenant_id",
        "queue_id",
        "channel",
        "direction",
        "interval_start",
        "offered",
        "answered",
        "abandoned",
        "short_abandoned",
        "flowed_out",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    for measure in [
        "answered_wait",
        "abandoned_wait",
        "talk",
        "hold",
        "acw",
        "handle",
    ] {
        for part in ["count", "sum_ms", "min_ms", "max_ms"] {
            columns.push(format!("{measure}_{part}"));
        }
    }
    columns.extend(
        [
            "transfers",
            "transfers_blind",
            "transfers_consult",
            "csat_responses",
            "csat_sum",
            "csat_satisfied",
            "answered_wait_histogram",
            "abandoned_wait_histogram",
        ]
        .iter()
        .map(|c| (*c).to_owned()),
    );
    columns
}

/// Bucket upper bounds 5 … 600 s plus +inf.
const HISTOGRAM_BUCKETS: usize = 14;

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|err| panic!("{}: {err}", root.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// What the events of a scenario name.
#[derive(Debug, Default)]
struct Names {
    event_ids: BTreeSet<String>,
    duplicates: u64,
    interactions: BTreeSet<String>,
    agents: BTreeSet<String>,
    queues: BTreeSet<String>,
    campaigns: BTreeSet<String>,
    in_time_order: bool,
}

fn read_events(dir: &Path) -> Names {
    let path = dir.join("events.ndjson");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let mut names = Names {
        in_time_order: true,
        ..Names::default()
    };
    let mut last = i64::MIN;
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        let event = v1::decode(line.as_bytes())
            .unwrap_or_else(|err| panic!("{}:{}: {err}", path.display(), n + 1));
        v1::validate(&event).unwrap_or_else(|err| panic!("{}:{}: {err}", path.display(), n + 1));
        count += 1;
        if !names.event_ids.insert(event.event_id.to_string()) {
            names.duplicates += 1;
        }
        names.in_time_order &= event.occurred_at >= last;
        last = last.max(event.occurred_at);
        let mut add = |set: fn(&mut Names) -> &mut BTreeSet<String>, value: Option<&str>| {
            if let Some(value) = value {
                set(&mut names).insert(value.to_owned());
            }
        };
        add(|n| &mut n.interactions, event.interaction_id.as_deref());
        add(|n| &mut n.agents, event.agent_id.as_deref());
        add(|n| &mut n.agents, event.to_agent_id.as_deref());
        add(|n| &mut n.queues, event.queue_id.as_deref());
        add(|n| &mut n.queues, event.to_queue_id.as_deref());
        add(|n| &mut n.campaigns, event.campaign_id.as_deref());
        for queue in event.queues.iter().flatten() {
            names.queues.insert(queue.to_string());
        }
    }
    assert!(
        (3..=60).contains(&count),
        "{}: {count} events, fixtures stay small",
        path.display()
    );
    names
}

fn rows<'a>(expected: &'a Value, section: &str) -> &'a [Value] {
    expected
        .get(section)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn assert_columns(scenario: &str, section: &str, row: &Value, columns: &[String]) {
    let object = row
        .as_object()
        .unwrap_or_else(|| panic!("{scenario}: a {section} row is not an object"));
    let have: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = columns.iter().map(String::as_str).collect();
    assert_eq!(have, want, "{scenario}: columns of a {section} row");
}

/// Every value of `key` anywhere in `value`.
fn collect(value: &Value, key: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key
                    && let Some(s) = v.as_str()
                {
                    out.push(s.to_owned());
                }
                collect(v, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, key, out)),
        _ => {}
    }
}

#[test]
fn every_fixture_is_valid_and_self_consistent() {
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 4, "fixture scenarios: {dirs:?}");
    let interaction_columns: Vec<String> = INTERACTION_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let agent_state_columns: Vec<String> = AGENT_STATE_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let queue_columns = queue_interval_columns();
    for dir in dirs {
        let scenario = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        assert!(
            readme.len() > 200,
            "{scenario}: README.md explains the scenario"
        );

        let names = read_events(&dir);
        let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
        let expected: Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{scenario}/expected.json: {err}"));
        assert_eq!(expected["scenario"], Value::from(scenario.as_str()));

        let order = expected["settings"]["arrival_order"].as_str();
        match order {
            Some("time") => assert!(names.in_time_order, "{scenario}: events out of time order"),
            Some("shuffled") => assert!(!names.in_time_order, "{scenario}: not shuffled"),
            other => panic!("{scenario}: arrival_order {other:?}"),
        }
        // Duplicates only where the scenario says so, and exactly as many.
        let duplicates = expected["anomalies"]["duplicate_event_id"].as_u64();
        assert_eq!(
            duplicates,
            Some(names.duplicates),
            "{scenario}: duplicate event ids"
        );
        let as_of = expected["as_of"].as_str().expect("as_of");
        assert!(as_of.ends_with('Z'), "{scenario}: as_of in UTC");

        for row in rows(&expected, "interactions") {
            assert_columns(&scenario, "interactions", row, &interaction_columns);
        }
        let visits: BTreeSet<(String, u64)> = rows(&expected, "interactions")
            .iter()
            .map(|r| {
                let id = r["interaction_id"].as_str().expect("id").to_owned();
                (id, r["visit"].as_u64().expect("visit"))
            })
            .collect();
        assert_eq!(
            visits.len(),
            rows(&expected, "interactions").len(),
            "{scenario}: visit keys unique"
        );
        for row in rows(&expected, "queue_intervals") {
            assert_columns(&scenario, "queue_intervals", row, &queue_columns);
            for histogram in ["answered_wait_histogram", "abandoned_wait_histogram"] {
                let buckets = row[histogram].as_array().expect("histogram array");
                assert_eq!(buckets.len(), HISTOGRAM_BUCKETS, "{scenario}: {histogram}");
                let total: u64 = buckets.iter().map(|b| b.as_u64().expect("count")).sum();
                let count = row[histogram.replace("_histogram", "_count")].as_u64();
                assert_eq!(
                    Some(total),
                    count,
                    "{scenario}: {histogram} sums to its count"
                );
            }
        }
        for row in rows(&expected, "agent_states") {
            assert_columns(&scenario, "agent_states", row, &agent_state_columns);
        }
        assert!(
            !rows(&expected, "queue_live").is_empty()
                && !rows(&expected, "agent_states").is_empty(),
            "{scenario}: queue_live and agent_states are asserted everywhere"
        );

        for (key, known) in [
            ("interaction_id", &names.interactions),
            ("agent_id", &names.agents),
            ("queue_id", &names.queues),
            ("campaign_id", &names.campaigns),
        ] {
            let mut referenced = Vec::new();
            collect(&expected, key, &mut referenced);
            for name in referenced {
                assert!(
                    known.contains(&name),
                    "{scenario}: expected.json names {key} {name:?} absent from the events"
                );
            }
        }
    }
}
