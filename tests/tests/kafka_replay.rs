//! Replaying NDJSON to a real broker: every valid line arrives once, keyed by tenant,
//! in file order per tenant; every bad line is reported with its number and not sent.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::time::Duration;

use ccpulse_ingest::{EventProducer, ReplaySummary, replay_ndjson};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use ccpulse_schemas::v1;
use ccpulse_tests::{Consumed, consume_all, create_topic, test_settings, unique_name};

const PARTITIONS: i32 = 3;

/// Simulator traffic as NDJSON, with bad lines at known places. Returns the text,
/// the valid lines in order, and the 1-based numbers of the bad lines.
fn ndjson_with_bad_lines() -> (String, Vec<String>, Vec<u64>) {
    let defaults = SimConfig::default();
    // 14:00–17:00 UTC: business hours for every simulated tenant, so traffic is busy.
    let config = SimConfig {
        seed: 11,
        start_ms: defaults.start_ms + 14 * 3_600_000,
        duration_ms: 3 * 3_600_000,
        ..defaults
    };
    let valid: Vec<String> = Simulator::new(config)
        .expect("simulator config")
        .map(|event| event.to_json())
        .collect();
    assert!(
        valid.len() > 1_000,
        "simulator produced only {} events",
        valid.len()
    );
    let bad = [
        "not json at all",
        r#"{"schema_version":1,"event_id":"x","tenant_id":"acme""#,
        r#"{"schema_version":1,"event_id":"x","tenant_id":"acme","type":"interaction.queued","occurred_at":"yesterday","interaction_id":"c","queue_id":"q"}"#,
    ];
    let mut text = String::new();
    let mut bad_lines = Vec::new();
    let mut line = 0u64;
    for (index, event) in valid.iter().enumerate() {
        if index % 500 == 250 {
            let junk = bad[bad_lines.len() % bad.len()];
            line += 1;
            bad_lines.push(line);
            text.push_str(junk);
            text.push('\n');
        }
        line += 1;
        text.push_str(event);
        text.push('\n');
    }
    text.push('\n'); // a trailing blank line is allowed
    (text, valid, bad_lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_delivers_every_valid_line_once_keyed_by_tenant_in_order() {
    let (text, valid, bad_lines) = ndjson_with_bad_lines();
    let topic = unique_name("replay");
    create_topic(&topic, PARTITIONS)
        .await
        .expect("create topic");

    let mut producer = EventProducer::new(&test_settings(), &topic).expect("producer");
    let mut summary = ReplaySummary::default();
    let mut progress_calls = 0;
    replay_ndjson(
        "traffic.ndjson",
        Cursor::new(text.as_bytes()),
        &mut producer,
        &mut summary,
        &mut |_| progress_calls += 1,
    )
    .await
    .expect("replay");
    let stats = producer.finish().await.expect("all delivered");

    assert_eq!(summary.sent, valid.len() as u64);
    assert_eq!(stats.delivered, valid.len() as u64);
    assert_eq!(summary.bad, bad_lines.len() as u64);
    assert_eq!(summary.blank, 1);
    let reported: Vec<u64> = summary.first_bad.iter().map(|bad| bad.line).collect();
    assert_eq!(reported, bad_lines[..reported.len()]);
    assert!(
        summary.first_bad[0].reason.contains("JSON"),
        "{:?}",
        summary.first_bad[0]
    );
    assert!(progress_calls >= 1);

    let consumed = tokio::task::spawn_blocking(move || {
        consume_all(&topic, PARTITIONS, valid.len(), Duration::from_secs(60))
    })
    .await
    .expect("consumer thread")
    .expect("consume");
    let (text2, valid2, _) = ndjson_with_bad_lines();
    assert_eq!(text, text2, "the simulator is deterministic");
    check_keys_partitions_and_order(&consumed, &valid2);
}

/// Every message is a valid line whose key is its tenant; one tenant lives on one
/// partition; per tenant, offsets follow file order; every line arrived exactly once.
fn check_keys_partitions_and_order(consumed: &[Consumed], valid: &[String]) {
    let position: BTreeMap<&str, usize> = valid
        .iter()
        .enumerate()
        .map(|(index, line)| (line.as_str(), index))
        .collect();
    assert_eq!(position.len(), valid.len(), "simulated lines are unique");

    let mut seen = vec![false; valid.len()];
    let mut tenant_partition: BTreeMap<String, i32> = BTreeMap::new();
    let mut per_partition: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
    for message in consumed {
        let payload = std::str::from_utf8(&message.payload).expect("utf-8");
        let index = *position
            .get(payload)
            .expect("payload is one of the valid lines");
        assert!(!seen[index], "line {index} arrived twice");
        seen[index] = true;
        let event = v1::decode(payload.as_bytes()).expect("valid event");
        assert_eq!(message.key.as_deref(), Some(event.tenant_id.as_bytes()));
        let partition = *tenant_partition
            .entry(event.tenant_id.to_string())
            .or_insert(message.partition);
        assert_eq!(
            partition, message.partition,
            "tenant split across partitions"
        );
        per_partition
            .entry(message.partition)
            .or_default()
            .push((message.offset, index));
    }
    assert!(seen.iter().all(|&arrived| arrived));
    assert!(tenant_partition.len() >= 2, "expected several tenants");
    for (partition, mut entries) in per_partition {
        entries.sort_unstable();
        assert!(
            entries.windows(2).all(|pair| pair[0].1 < pair[1].1),
            "partition {partition}: offsets do not follow file order"
        );
    }
}
