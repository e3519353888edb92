//! The aggregator end to end against the real broker: events produced to a topic,
//! consumed by `consume::run` with the [`Aggregator`], tables written as Parquet under a
//! data directory and read back. They must equal what the reference fold computes from
//! the same events (which `ingest/tests/fixtures.rs` checks against the hand-written
//! expectations), whatever the arrival order within the lateness, the duplicates, the
//! partitioning and the invalid messages in between.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccpulse_ingest::aggregate::Aggregator;
use ccpulse_ingest::consume::DeadLetterKind;
use ccpulse_ingest::fold::Fold;
use ccpulse_ingest::fold::reference::fold_all;
use ccpulse_ingest::store::DataDir;
use ccpulse_ingest::{RunStats, tables};
use ccpulse_schemas::v1::Event;
use ccpulse_tests::aggregate::{
    Following, TestTopics, assert_same_tables, fixture, fixtures_dir, ingest_until_caught_up,
    produce, read_tables, simulated, without_anomalies,
};
use ccpulse_tests::{Rng, consume_all, test_settings, unique_name};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Upper bound for any one wait.
const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_through_the_broker_gives_the_reference_tables() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("expected.json").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "fixtures missing: {names:?}");
    for name in names {
        let (events, config) = fixture(&name).unwrap();
        let reference = fold_all(&events, &config);
        let topics = TestTopics::create("aggregate-fixture", 1).await.unwrap();
        produce(&topics.events, &events).await.unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let (summary, totals) = ingest_until_caught_up(&topics, data_dir.path(), config)
            .await
            .unwrap();
        assert_eq!(summary.stats.events, events.len() as u64, "{name}");
        let written = read_tables(data_dir.path()).unwrap();
        assert_same_tables(&written, &without_anomalies(reference.clone()), &name);
        assert_eq!(totals.anomalies, reference.anomalies, "{name}: anomalies");
        // The raw `events` table has every event read, with its offset.
        let raw: usize = ccpulse_ingest::store::read_table(data_dir.path(), tables::EVENTS.name)
            .unwrap()
            .iter()
            .map(|batch| batch.num_rows())
            .sum();
        assert_eq!(raw, events.len(), "{name}: events table");
    }
}

/// Arrival order within the lateness: each event (and each injected duplicate, one in
/// `duplicate_every`) arrives at a random time up to `lateness_ms` after it happened.
fn shuffled_with_duplicates(
    events: &[Event<'static>],
    lateness_ms: i64,
    duplicate_every: u64,
    rng: &mut Rng,
) -> Vec<Event<'static>> {
    let mut keyed = Vec::with_capacity(events.len() * 11 / 10);
    for (i, event) in events.iter().enumerate() {
        keyed.push((event.occurred_at + rng.below(lateness_ms as u64) as i64, i));
        if rng.below(duplicate_every) == 0 {
            keyed.push((event.occurred_at + rng.below(lateness_ms as u64) as i64, i));
        }
    }
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| events[i].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_in_order_and_shuffled_with_duplicates_gives_identical_tables() {
    // Seven tenants over four partitions: over 200k events.
    let (events, config) = simulated(5, 0, 86_400_000, 7);
    assert!(events.len() >= 200_000, "only {} events", events.len());
    let reference = without_anomalies(fold_all(&events, &config));

    let in_order = TestTopics::create("aggregate-in-order", 4).await.unwrap();
    produce(&in_order.events, &events).await.unwrap();
    let in_order_dir = tempfile::tempdir().unwrap();
    let (summary, _) = ingest_until_caught_up(&in_order, in_order_dir.path(), config.clone())
        .await
        .unwrap();
    let busy = summary
        .stats
        .partitions
        .values()
        .filter(|partition| partition.events > 0)
        .count();
    assert!(busy >= 2, "the tenants landed in {busy} partition(s)");
    let in_order_tables = read_tables(in_order_dir.path()).unwrap();
    assert_same_tables(&in_order_tables, &reference, "in order vs reference");

    let arrived = shuffled_with_duplicates(&events, config.allowed_lateness_ms, 10, &mut Rng(3));
    let duplicates = arrived.len() - events.len();
    assert!(duplicates > events.len() / 20, "{duplicates} duplicates");
    let shuffled = TestTopics::create("aggregate-shuffled", 4).await.unwrap();
    produce(&shuffled.events, &arrived).await.unwrap();
    let shuffled_dir = tempfile::tempdir().unwrap();
    let (_, totals) = ingest_until_caught_up(&shuffled, shuffled_dir.path(), config)
        .await
        .unwrap();
    assert_eq!(totals.duplicates, duplicates as u64);
    assert_eq!(totals.too_late, 0);
    let shuffled_tables = read_tables(shuffled_dir.path()).unwrap();
    assert_same_tables(&shuffled_tables, &in_order_tables, "shuffled vs in order");
}

/// Sends raw payloads to `topic` keyed `key`, in order.
async fn send_raw(topic: &str, key: &str, payloads: &[Vec<u8>]) {
    let producer: FutureProducer = test_settings()
        .with("message.max.bytes", "4000000")
        .client_config()
        .create()
        .unwrap();
    for payload in payloads {
        producer
            .send(
                FutureRecord::to(topic).key(key).payload(payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_between_valid_traffic_change_nothing() {
    let (events, config) = simulated(8, 9, 2 * 3_600_000, 1);
    let tenant = events[0].tenant_id.to_string();
    let valid: Vec<Vec<u8>> = events.iter().map(|e| e.to_json().into_bytes()).collect();
    let first = String::from_utf8(valid[0].clone()).unwrap();
    let hostile: Vec<(Vec<u8>, DeadLetterKind)> = vec![
        (
            b"not json at all".to_vec(),
            DeadLetterKind::Rejected(ccpulse_schemas::v1::RejectKind::NotJson),
        ),
        (
            first.as_bytes()[..first.len() / 2].to_vec(),
            DeadLetterKind::Rejected(ccpulse_schemas::v1::RejectKind::NotJson),
        ),
        (
            format!(
                "{{\"schema_version\":1,\"event_id\":\"big\",\"tenant_id\":\"{tenant}\",\"type\":\"agent.heartbeat\",\"occurred_at\":\"2026-11-20T09:00:00Z\",\"agent_id\":\"a\",\"pad\":\"{}\"}}",
                "x".repeat(1 << 20)
            )
            .into_bytes(),
            DeadLetterKind::Rejected(ccpulse_schemas::v1::RejectKind::TooLarge),
        ),
        (
            first.replacen("\"schema_version\":1", "\"schema_version\":\"one\"", 1).into_bytes(),
            DeadLetterKind::Rejected(ccpulse_schemas::v1::RejectKind::WrongType),
        ),
        (
            first.replacen("\"occurred_at\":\"", "\"occurred_at\":\"yesterday", 1).into_bytes(),
            DeadLetterKind::Rejected(ccpulse_schemas::v1::RejectKind::BadTimestamp),
        ),
        (
            first.replacen("\"event_id\":", "\"event_idx\":", 1).into_bytes(),
            DeadLetterKind::Rejected(ccpulse_schemas::v1::RejectKind::MissingField),
        ),
        (Vec::new(), DeadLetterKind::EmptyPayload),
    ];
    // An unknown type is valid (kept in `events`, no measure depends on it).
    let unknown = first
        .replacen("\"type\":\"", "\"type\":\"x.future_", 1)
        .replacen("\"event_id\":\"", "\"event_id\":\"future-", 1);

    let topics = TestTopics::create("aggregate-hostile", 1).await.unwrap();
    let mut payloads = Vec::new();
    let step = valid.len() / (hostile.len() + 1);
    for (i, payload) in valid.iter().enumerate() {
        payloads.push(payload.clone());
        if i % step == step / 2 && i / step < hostile.len() {
            payloads.push(hostile[i / step].0.clone());
        }
    }
    payloads.push(unknown.into_bytes());
    send_raw(&topics.events, &tenant, &payloads).await;

    let data_dir = tempfile::tempdir().unwrap();
    let (summary, _) = ingest_until_caught_up(&topics, data_dir.path(), config.clone())
        .await
        .unwrap();
    assert_eq!(summary.stats.events, events.len() as u64 + 1);
    assert_eq!(summary.stats.dead_lettered, hostile.len() as u64);
    for (_, kind) in &hostile {
        assert!(
            summary.stats.dead_letters(*kind) >= 1,
            "{kind:?}: {:?}",
            summary.stats.dead_letters_by_kind
        );
    }
    let letters = consume_all(&topics.dead_letters, 1, hostile.len(), DEADLINE).unwrap();
    let mut sent: Vec<&Vec<u8>> = hostile.iter().map(|(payload, _)| payload).collect();
    let mut received: Vec<&Vec<u8>> = letters.iter().map(|letter| &letter.payload).collect();
    sent.sort();
    received.sort();
    assert!(
        sent == received,
        "every bad message is in the dead-letter topic"
    );

    let written = read_tables(data_dir.path()).unwrap();
    assert_same_tables(
        &written,
        &without_anomalies(fold_all(&events, &config)),
        "with hostile input vs valid only",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_observations_follow_the_topic() {
    let (events, config) = simulated(9, 10, 2 * 3_600_000, 2);
    let config = Arc::new(config);
    let topics = TestTopics::create("aggregate-live", 2).await.unwrap();
    let (first, second) = events.split_at(events.len() / 2);
    produce(&topics.events, first).await.unwrap();

    let data_dir = tempfile::tempdir().unwrap();
    let aggregator = Arc::new(Aggregator::new(
        DataDir::open(data_dir.path()).unwrap(),
        Arc::clone(&config),
    ));
    let live = aggregator.live();
    let mut changes = live.subscribe();
    let run = Following::start(
        topics.consumer_settings(&unique_name("aggregate-live")),
        aggregator,
        RunStats::new(),
    );

    for (part, upto) in [(1, first.len()), (2, events.len())] {
        if part == 2 {
            produce(&topics.events, second).await.unwrap();
        }
        let mut fold = Fold::new(Arc::clone(&config));
        for event in &events[..upto] {
            fold.apply(event);
        }
        let expected_queues = fold.queue_live();
        let expected_agents = fold.agent_live();
        assert!(!expected_queues.is_empty() && !expected_agents.is_empty());
        let deadline = Instant::now() + DEADLINE;
        loop {
            let queues = live.queue_live(None);
            let agents = live.agent_live(None);
            if queues == expected_queues && agents == expected_agents {
                break;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            assert!(
                !remaining.is_zero(),
                "part {part}: live view never matched: {} queues vs {} expected",
                queues.len(),
                expected_queues.len()
            );
            // Wait for the next publication (or re-check when the deadline passes).
            let _ = tokio::time::timeout(remaining, changes.changed()).await;
        }
        let tenant = &expected_queues[0].tenant_id;
        assert!(
            live.queue_live(Some(tenant))
                .iter()
                .all(|row| &row.tenant_id == tenant)
        );
    }
    run.stop().await;
    // A stopped run leaves no rows behind in the view (another owner would publish them),
    // and its partitions are known, each one that saw events with a checkpoint.
    assert!(live.queue_live(None).is_empty());
    let partitions = live.partitions();
    assert_eq!(partitions.len(), 2);
    assert!(partitions.iter().all(|p| !p.owned));
    assert!(partitions.iter().any(|p| !p.as_of.is_empty()));
    assert!(
        partitions
            .iter()
            .filter(|p| !p.as_of.is_empty())
            .all(|p| p.checkpoint_sequence.is_some())
    );
    let events_by_type: u64 = live.totals().events_by_type.values().sum();
    assert_eq!(events_by_type, events.len() as u64);
}
