//! The consumer runtime against a real broker: every event reaches a worker exactly
//! once, bad messages land in the dead-letter topic with their reason and source,
//! restarts resume from checkpoints, and group members hand partitions over without
//! losing or repeating anything.
//!
//! The in-test pipeline records what it gets in a shared [`Store`]: deliveries,
//! checkpoints (the resume offsets a restart loads) and which member owns which
//! partition. Tests wait for observable state with deadline loops, never fixed sleeps.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ccpulse_ingest::consume::{
    self, BoxError, CancellationToken, ConsumeError, ConsumerSettings, DeadLetterKind, Opened,
    PartitionWorker, Pipeline, RunMode, RunOutcome, RunStats, RunSummary, dead_letter_headers,
};
use ccpulse_ingest::{EventProducer, KafkaSettings};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use ccpulse_schemas::v1::{Event, RejectKind};
use ccpulse_tests::{create_topic, test_settings, unique_name};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// Upper bound for any one wait; tests normally take a second or two.
const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------
// The in-test pipeline.

/// One `on_event` call.
#[derive(Debug, Clone)]
struct Delivered {
    member: String,
    partition: i32,
    offset: i64,
    event_id: String,
    event_type: String,
}

/// What the test pipelines of all members saw, and their "durable" checkpoints.
#[derive(Debug, Default)]
struct Store {
    /// partition → `next_offset` of the last checkpoint: what `open` resumes from.
    checkpoints: BTreeMap<i32, i64>,
    /// Every delivery, in order.
    delivered: Vec<Delivered>,
    /// Deliveries made durable by a checkpoint, as (partition, offset, event id).
    durable: Vec<(i32, i64, String)>,
    /// Every `open`: (member, partition, resume offset).
    opens: Vec<(String, i32, Option<i64>)>,
    /// Every checkpoint: (member, partition, next offset).
    checkpoint_log: Vec<(String, i32, i64)>,
    /// partition → member whose worker owns it now.
    owners: BTreeMap<i32, String>,
    /// Problems a worker noticed (offsets out of order, bad checkpoint offsets).
    violations: Vec<String>,
}

type SharedStore = Arc<Mutex<Store>>;

fn lock(store: &SharedStore) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct TestPipeline {
    member: String,
    store: SharedStore,
    /// Every checkpoint fails (to test that the runtime stops).
    fail_checkpoints: bool,
}

impl TestPipeline {
    fn new(member: &str, store: &SharedStore) -> Arc<Self> {
        Arc::new(Self {
            member: member.to_owned(),
            store: Arc::clone(store),
            fail_checkpoints: false,
        })
    }
}

#[derive(Debug)]
struct TestWorker {
    member: String,
    partition: i32,
    store: SharedStore,
    fail_checkpoints: bool,
    /// Delivered since the last checkpoint.
    pending: Vec<(i64, String)>,
    last_offset: Option<i64>,
}

impl Pipeline for TestPipeline {
    type Worker = TestWorker;

    fn open(&self, _topic: &str, partition: i32) -> Result<Opened<TestWorker>, BoxError> {
        let mut store = lock(&self.store);
        let resume_at = store.checkpoints.get(&partition).copied();
        store
            .opens
            .push((self.member.clone(), partition, resume_at));
        if let Some(previous) = store.owners.insert(partition, self.member.clone()) {
            store.violations.push(format!(
                "{} opened partition {partition} while {previous} still owned it",
                self.member
            ));
        }
        Ok(Opened {
            worker: TestWorker {
                member: self.member.clone(),
                partition,
                store: Arc::clone(&self.store),
                fail_checkpoints: self.fail_checkpoints,
                pending: Vec::new(),
                last_offset: resume_at.map(|next| next - 1),
            },
            resume_at,
        })
    }
}

impl PartitionWorker for TestWorker {
    fn on_event(&mut self, event: &Event<'_>, raw: &[u8], offset: i64, ingested_at_ms: i64) {
        let mut store = lock(&self.store);
        if self.last_offset.is_some_and(|last| offset <= last) {
            store.violations.push(format!(
                "partition {}: offset {offset} after {:?}",
                self.partition, self.last_offset
            ));
        }
        if raw.is_empty() || ingested_at_ms <= 0 {
            store.violations.push(format!(
                "partition {}: bad raw or ingested_at",
                self.partition
            ));
        }
        self.last_offset = Some(offset);
        self.pending.push((offset, event.event_id.to_string()));
        store.delivered.push(Delivered {
            member: self.member.clone(),
            partition: self.partition,
            offset,
            event_id: event.event_id.to_string(),
            event_type: event.event_type.as_str().to_owned(),
        });
    }

    fn checkpoint(&mut self, next_offset: i64) -> Result<(), BoxError> {
        if self.fail_checkpoints {
            return Err("the test store refuses checkpoints".into());
        }
        let mut store = lock(&self.store);
        // Dead-lettered messages advance the offset too, so `next_offset` may be past
        // the last delivered event, never before it.
        if self.last_offset.is_some_and(|last| next_offset <= last) {
            store.violations.push(format!(
                "partition {}: checkpoint {next_offset} does not cover offset {:?}",
                self.partition, self.last_offset
            ));
        }
        let partition = self.partition;
        store.durable.extend(
            self.pending
                .drain(..)
                .map(|(offset, id)| (partition, offset, id)),
        );
        store.checkpoints.insert(partition, next_offset);
        store
            .checkpoint_log
            .push((self.member.clone(), partition, next_offset));
        Ok(())
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        let mut store = lock(&self.store);
        if store.owners.get(&self.partition) == Some(&self.member) {
            store.owners.remove(&self.partition);
        }
    }
}

// ---------------------------------------------------------------------------------
// Set-up helpers.

/// Runtime settings for tests: quick heartbeats (rebalances settle in a fraction of a
/// second), frequent statistics and small checkpoint intervals so every path runs.
fn settings(topic: &str, dead_letter_topic: &str, group: &str) -> ConsumerSettings {
    ConsumerSettings {
        topic: topic.to_owned(),
        dead_letter_topic: dead_letter_topic.to_owned(),
        group_id: group.to_owned(),
        session_timeout: Duration::from_secs(6),
        heartbeat_interval: Duration::from_millis(100),
        max_poll_interval: Duration::from_secs(30),
        checkpoint_every_messages: 400,
        checkpoint_interval: Duration::from_millis(200),
        stats_interval: Duration::from_millis(200),
        poll_timeout: Duration::from_millis(20),
        ..ConsumerSettings::default()
    }
}

/// An events topic with `partitions` partitions and a one-partition dead-letter topic.
async fn topics(prefix: &str, partitions: i32) -> (String, String) {
    let topic = unique_name(prefix);
    let dead_letters = format!("{topic}.dlq");
    create_topic(&topic, partitions)
        .await
        .expect("events topic");
    create_topic(&dead_letters, 1)
        .await
        .expect("dead-letter topic");
    (topic, dead_letters)
}

/// `count` simulated events (seeded), as (event id, type, JSON).
fn simulated(seed: u64, count: usize) -> Vec<(String, String, String)> {
    let defaults = SimConfig::default();
    let config = SimConfig {
        seed,
        // Business hours for every simulated tenant: busy, varied traffic.
        start_ms: defaults.start_ms + 14 * 3_600_000,
        duration_ms: 6 * 3_600_000,
        ..defaults
    };
    let events: Vec<_> = Simulator::new(config)
        .expect("simulator config")
        .take(count)
        .map(|event| {
            (
                event.event_id.to_string(),
                event.event_type.as_str().to_owned(),
                event.to_json(),
            )
        })
        .collect();
    assert_eq!(events.len(), count, "the simulator ran out of events");
    events
}

/// Produces events keyed by event id (spreads them over every partition).
async fn produce(topic: &str, events: &[(String, String, String)]) {
    let mut producer = EventProducer::new(&test_settings(), topic).expect("producer");
    for (id, _, json) in events {
        producer.send(id, json.as_bytes()).await.expect("send");
    }
    let stats = producer.finish().await.expect("every event delivered");
    assert_eq!(stats.delivered, events.len() as u64);
}

/// Runs one member in the background; the handle yields its result.
fn spawn_member(
    kafka: KafkaSettings,
    settings: ConsumerSettings,
    pipeline: Arc<TestPipeline>,
    mode: RunMode,
    stats: Arc<RunStats>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<Result<RunSummary, ConsumeError>> {
    tokio::spawn(
        async move { consume::run(&kafka, &settings, pipeline, mode, stats, cancel).await },
    )
}

/// Runs `UntilCaughtUp` to the end (bounded by [`DEADLINE`]).
async fn run_until_caught_up(
    settings: &ConsumerSettings,
    pipeline: Arc<TestPipeline>,
) -> Result<RunSummary, ConsumeError> {
    tokio::time::timeout(
        DEADLINE,
        consume::run(
            &test_settings(),
            settings,
            pipeline,
            RunMode::UntilCaughtUp,
            RunStats::new(),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("the run ends once caught up")
}

/// Polls `condition` on the store until it holds; fails with `what` at the deadline.
async fn wait_for(store: &SharedStore, what: &str, condition: impl Fn(&Store) -> bool) {
    let until = Instant::now() + DEADLINE;
    loop {
        if condition(&lock(store)) {
            return;
        }
        let store = lock(store);
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}; delivered {}, owners {:?}, violations {:?}",
            store.delivered.len(),
            store.owners,
            store.violations
        );
        drop(store);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The committed offsets of `group` on `topic`, read back from the broker.
fn committed(topic: &str, partitions: i32, group: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = test_settings()
        .with("group.id", group)
        .with("enable.auto.commit", "false")
        .client_config()
        .create()
        .expect("offsets reader");
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(topic, partition);
    }
    let offsets = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    offsets
        .elements()
        .iter()
        .filter_map(|element| match element.offset() {
            Offset::Offset(offset) => Some((element.partition(), offset)),
            _ => None,
        })
        .collect()
}

/// Asserts the store saw exactly `expected` ids, each once, and that per partition the
/// checkpointed offsets plus the `dead_lettered` ones are contiguous and end at that
/// partition's checkpoint.
fn assert_exactly_once(store: &Store, expected: &BTreeSet<String>, dead_lettered: &[(i32, i64)]) {
    assert!(store.violations.is_empty(), "{:?}", store.violations);
    let mut seen = BTreeSet::new();
    let mut places = BTreeSet::new();
    for delivered in &store.delivered {
        assert!(
            seen.insert(delivered.event_id.clone()),
            "{} delivered twice",
            delivered.event_id
        );
        assert!(
            places.insert((delivered.partition, delivered.offset)),
            "offset {}/{} delivered twice",
            delivered.partition,
            delivered.offset
        );
    }
    assert_eq!(&seen, expected, "delivered ids differ from produced ids");
    let durable: BTreeSet<String> = store.durable.iter().map(|(_, _, id)| id.clone()).collect();
    assert_eq!(
        store.durable.len(),
        durable.len(),
        "an event was checkpointed twice"
    );
    assert_eq!(
        &durable, expected,
        "checkpointed ids differ from produced ids"
    );
    let mut per_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (partition, offset) in store
        .durable
        .iter()
        .map(|(partition, offset, _)| (*partition, *offset))
        .chain(dead_lettered.iter().copied())
    {
        per_partition.entry(partition).or_default().push(offset);
    }
    for (partition, mut offsets) in per_partition {
        offsets.sort_unstable();
        assert!(
            offsets.iter().enumerate().all(|(i, &o)| o == i as i64),
            "partition {partition}: offsets are not 0, 1, 2, …"
        );
        assert_eq!(
            store.checkpoints.get(&partition),
            offsets.last().map(|last| last + 1).as_ref(),
            "partition {partition}: the checkpoint is not one past the last message"
        );
    }
}

fn ids(events: &[(String, String, String)]) -> BTreeSet<String> {
    let ids: BTreeSet<String> = events.iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(ids.len(), events.len(), "simulated ids are unique");
    ids
}

// ---------------------------------------------------------------------------------
// 1. Until caught up: every event once, exact counts.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_caught_up_delivers_every_event_exactly_once() {
    const PARTITIONS: i32 = 4;
    let (topic, dead_letters) = topics("consume-once", PARTITIONS).await;
    let events = simulated(21, 3_000);
    produce(&topic, &events).await;
    let group = unique_name("group");
    let store = SharedStore::default();

    let started = Instant::now();
    let summary = run_until_caught_up(
        &settings(&topic, &dead_letters, &group),
        TestPipeline::new("a", &store),
    )
    .await
    .expect("run");
    let elapsed = started.elapsed();

    assert_eq!(summary.outcome, RunOutcome::CaughtUp);
    let stats = &summary.stats;
    assert_eq!(stats.consumed, 3_000);
    assert_eq!(stats.events, 3_000);
    assert_eq!(stats.dead_lettered, 0);
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, event_type, _) in &events {
        *by_type.entry(event_type.as_str()).or_default() += 1;
    }
    assert_eq!(stats.events_by_type, by_type);
    assert_eq!(stats.partitions.len(), PARTITIONS as usize);
    assert!(
        stats.partitions.values().all(|p| p.consumed > 0),
        "every partition had events: {:?}",
        stats.partitions
    );
    assert_eq!(stats.lag, None, "nothing is assigned after the run");

    let store = lock(&store);
    assert_exactly_once(&store, &ids(&events), &[]);
    for (partition, snapshot) in &stats.partitions {
        assert_eq!(
            snapshot.checkpointed,
            store.checkpoints.get(partition).copied()
        );
        assert_eq!(snapshot.position, snapshot.checkpointed);
        // The end is known (from fetch responses) and was reached.
        assert_eq!(
            snapshot.end_offset, snapshot.position,
            "partition {partition}"
        );
    }
    // The offsets committed to Kafka are the checkpoints.
    assert_eq!(committed(&topic, PARTITIONS, &group), store.checkpoints);
    eprintln!(
        "until_caught_up: {} events in {elapsed:?} ({:.0} events/s including group join)",
        stats.consumed,
        stats.consumed as f64 / elapsed.as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------
// 2. Hostile input: dead letters with reasons and sources; valid events go on.

/// A message read back from the dead-letter topic.
#[derive(Debug)]
struct Letter {
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: BTreeMap<String, String>,
}

fn read_dead_letters(topic: &str, expected: usize) -> Vec<Letter> {
    let consumer: BaseConsumer = test_settings()
        .with("group.id", unique_name("dlq-reader"))
        .with("enable.auto.commit", "false")
        .client_config()
        .create()
        .expect("dead-letter reader");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let until = Instant::now() + DEADLINE;
    let mut letters = Vec::new();
    while letters.len() < expected {
        assert!(
            Instant::now() < until,
            "only {} of {expected} dead letters arrived",
            letters.len()
        );
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.expect("reading the dead-letter topic");
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|header| {
                        let value = header
                            .value
                            .map(|v| String::from_utf8_lossy(v).into_owned());
                        (header.key.to_owned(), value.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        letters.push(Letter {
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
        });
    }
    letters
}

/// One bad message: its key, payload (None: null) and the kind it must be rejected as.
struct Hostile {
    key: String,
    payload: Option<Vec<u8>>,
    kind: DeadLetterKind,
    /// A fragment the reason must contain.
    reason: &'static str,
}

const ONE_MIB: usize = 1024 * 1024;

fn hostile_messages() -> Vec<Hostile> {
    let envelope = r#""schema_version":1,"event_id":"bad-ID","tenant_id":"acme""#;
    let rejected = |kind| DeadLetterKind::Rejected(kind);
    let json = |n: usize, body: &str| Some(body.replace("ID", &n.to_string()).into_bytes());
    // A well-formed event padded to exactly 1 MiB: rejected for its size alone.
    let mut big = format!(
        r#"{{{envelope},"type":"agent.heartbeat","occurred_at":"2026-11-20T09:15:02.123Z","agent_id":"a","attributes":{{"pad":""#
    );
    let close = "\"}}";
    big.push_str(&"x".repeat(ONE_MIB - big.len() - close.len()));
    big.push_str(close);
    assert_eq!(big.len(), ONE_MIB);
    vec![
        Hostile {
            key: "k-not-json".into(),
            payload: Some(b"not json at all".to_vec()),
            kind: rejected(RejectKind::NotJson),
            reason: "not JSON",
        },
        Hostile {
            key: "k-truncated".into(),
            payload: json(2, &format!("{{{envelope},\"type\":\"interaction.que")),
            kind: rejected(RejectKind::NotJson),
            reason: "not JSON",
        },
        Hostile {
            key: "k-big".into(),
            payload: Some(big.into_bytes()),
            kind: rejected(RejectKind::TooLarge),
            reason: "too large",
        },
        Hostile {
            key: "k-wrong-type".into(),
            payload: json(
                4,
                &format!(
                    r#"{{{envelope},"type":"interaction.queued","occurred_at":"2026-11-20T09:15:02.123Z","interaction_id":"c","queue_id":"q","priority":"high"}}"#
                ),
            ),
            kind: rejected(RejectKind::WrongType),
            reason: "priority",
        },
        Hostile {
            key: "k-timestamp".into(),
            payload: json(
                5,
                &format!(
                    r#"{{{envelope},"type":"interaction.queued","occurred_at":"yesterday","interaction_id":"c","queue_id":"q"}}"#
                ),
            ),
            kind: rejected(RejectKind::BadTimestamp),
            reason: "occurred_at",
        },
        Hostile {
            key: "k-missing-id".into(),
            payload: json(
                6,
                &format!(
                    r#"{{{envelope},"type":"interaction.queued","occurred_at":"2026-11-20T09:15:02.123Z","queue_id":"q"}}"#
                ),
            ),
            kind: rejected(RejectKind::MissingField),
            reason: "interaction_id",
        },
        Hostile {
            key: "k-no-tenant".into(),
            payload: Some(
                br#"{"schema_version":1,"event_id":"bad-7","type":"agent.heartbeat","occurred_at":"2026-11-20T09:15:02.123Z","agent_id":"a"}"#
                    .to_vec(),
            ),
            kind: rejected(RejectKind::MissingField),
            reason: "tenant_id",
        },
        Hostile {
            key: "k-array".into(),
            payload: Some(b"[1,2,3]".to_vec()),
            kind: rejected(RejectKind::NotAnObject),
            reason: "object",
        },
        Hostile {
            key: "k-binary".into(),
            payload: Some(vec![0xff, 0xfe, 0x00, 0x80, b'{']),
            kind: rejected(RejectKind::NotUtf8),
            reason: "UTF-8",
        },
        Hostile {
            key: "k-empty".into(),
            payload: Some(Vec::new()),
            kind: DeadLetterKind::EmptyPayload,
            reason: "empty",
        },
        Hostile {
            key: "k-null".into(),
            payload: None,
            kind: DeadLetterKind::EmptyPayload,
            reason: "empty",
        },
    ]
}

/// An event of a type this contract version does not know: valid, goes to the worker.
fn unknown_type_event() -> (String, String, String) {
    let id = "future-1".to_owned();
    let json = format!(
        r#"{{"schema_version":1,"event_id":"{id}","tenant_id":"acme","type":"interaction.teleported","occurred_at":"2026-11-20T09:15:02.123Z","interaction_id":"c-9","warp":7}}"#
    );
    (id, "interaction.teleported".to_owned(), json)
}

/// Produces valid events with the hostile messages interleaved; returns, per hostile
/// message, where it landed (partition, offset).
async fn produce_hostile(
    topic: &str,
    valid: &[(String, String, String)],
    hostile: &[Hostile],
) -> Vec<(i32, i64)> {
    let producer: FutureProducer = test_settings()
        // The 1 MiB payload exceeds librdkafka's default limit of 1 000 000 bytes.
        .with("message.max.bytes", "4000000")
        .with("linger.ms", "5")
        .client_config()
        .create()
        .expect("producer");
    let every = valid.len() / (hostile.len() + 1);
    let mut valid_deliveries = Vec::new();
    let mut hostile_deliveries = Vec::new();
    let mut next_bad = hostile.iter();
    for (index, (id, _, json)) in valid.iter().enumerate() {
        if index > 0
            && index % every == 0
            && let Some(bad) = next_bad.next()
        {
            let mut record = FutureRecord::<str, [u8]>::to(topic).key(&bad.key);
            if let Some(payload) = &bad.payload {
                record = record.payload(payload);
            }
            let delivery = producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("queue");
            hostile_deliveries.push(delivery);
        }
        let record = FutureRecord::<str, str>::to(topic).key(id).payload(json);
        valid_deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("queue"),
        );
    }
    assert!(next_bad.next().is_none(), "every hostile message was sent");
    for delivery in valid_deliveries {
        delivery.await.expect("delivery").expect("delivered");
    }
    let mut places = Vec::new();
    for delivery in hostile_deliveries {
        let delivered = delivery.await.expect("delivery").expect("delivered");
        places.push((delivered.partition, delivered.offset));
    }
    places
}

async fn hostile_run(
    prefix: &str,
    adjust: impl FnOnce(&mut ConsumerSettings),
) -> (
    Vec<Hostile>,
    Vec<(i32, i64)>,
    Vec<Letter>,
    RunSummary,
    SharedStore,
    String,
    usize,
) {
    const PARTITIONS: i32 = 3;
    let (topic, dead_letters) = topics(prefix, PARTITIONS).await;
    let mut valid = simulated(33, 1_200);
    valid.insert(600, unknown_type_event());
    let hostile = hostile_messages();
    let places = produce_hostile(&topic, &valid, &hostile).await;
    let store = SharedStore::default();
    let mut settings = settings(&topic, &dead_letters, &unique_name("group"));
    adjust(&mut settings);
    let summary = run_until_caught_up(&settings, TestPipeline::new("a", &store))
        .await
        .expect("no crash: the run ends normally");
    let letters = read_dead_letters(&dead_letters, hostile.len());
    {
        let store = lock(&store);
        assert_exactly_once(&store, &ids(&valid), &places);
        assert!(
            store
                .delivered
                .iter()
                .any(|d| d.event_type == "interaction.teleported"),
            "the unknown-type event reached the worker"
        );
    }
    (hostile, places, letters, summary, store, topic, valid.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_go_to_the_dead_letter_topic_with_reasons() {
    let (hostile, places, letters, summary, store, topic, valid) =
        hostile_run("consume-hostile", |_| {}).await;

    let stats = &summary.stats;
    assert_eq!(stats.consumed, (valid + hostile.len()) as u64);
    assert_eq!(stats.events, valid as u64);
    assert_eq!(stats.dead_lettered, hostile.len() as u64);
    assert_eq!(stats.events_of_type(consume::UNKNOWN_EVENT_TYPE), 1);
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for bad in &hostile {
        *kinds.entry(bad.kind.as_str()).or_default() += 1;
    }
    assert_eq!(stats.dead_letters_by_kind, kinds);

    // The checkpoints cover the dead-lettered offsets too.
    let checkpoints = lock(&store).checkpoints.clone();
    for &(partition, offset) in &places {
        assert!(
            checkpoints[&partition] > offset,
            "checkpoint covers {partition}/{offset}"
        );
    }

    let by_source: BTreeMap<(i32, i64), &Letter> = letters
        .iter()
        .map(|letter| {
            let partition = letter.headers[dead_letter_headers::SOURCE_PARTITION]
                .parse()
                .expect("partition header");
            let offset = letter.headers[dead_letter_headers::SOURCE_OFFSET]
                .parse()
                .expect("offset header");
            ((partition, offset), letter)
        })
        .collect();
    assert_eq!(by_source.len(), hostile.len(), "one letter per bad message");
    for (bad, place) in hostile.iter().zip(&places) {
        let letter = by_source
            .get(place)
            .unwrap_or_else(|| panic!("no dead letter for {} at {place:?}", bad.key));
        let headers = &letter.headers;
        assert_eq!(
            headers[dead_letter_headers::REASON_KIND],
            bad.kind.as_str(),
            "{}",
            bad.key
        );
        assert_eq!(headers[dead_letter_headers::SOURCE_TOPIC], topic);
        let reason = &headers[dead_letter_headers::REASON];
        assert!(
            reason.contains(bad.reason),
            "{}: reason {reason:?}",
            bad.key
        );
        assert!(reason.len() < 300, "the reason never echoes the message");
        assert!(!headers.contains_key(dead_letter_headers::TRUNCATED_FROM_BYTES));
        assert_eq!(letter.key.as_deref(), Some(bad.key.as_bytes()));
        // The value is the original payload, unchanged (empty for a null one).
        let original = bad.payload.as_deref().unwrap_or_default();
        let forwarded = letter.payload.as_deref().unwrap_or_default();
        assert!(
            forwarded == original,
            "{}: payload changed ({} vs {} bytes)",
            bad.key,
            forwarded.len(),
            original.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_dead_letters_are_truncated_with_their_length() {
    let (hostile, places, letters, summary, _store, _topic, _valid) =
        hostile_run("consume-truncate", |settings| {
            settings.dead_letter_max_message_bytes = 256 * 1024;
            settings.dead_letter_truncate_bytes = 1024;
        })
        .await;
    assert_eq!(summary.stats.dead_lettered, hostile.len() as u64);
    let (big_index, big) = hostile
        .iter()
        .enumerate()
        .find(|(_, bad)| bad.key == "k-big")
        .expect("the big message");
    let place = places[big_index];
    let letter = letters
        .iter()
        .find(|letter| {
            letter.headers[dead_letter_headers::SOURCE_OFFSET] == place.1.to_string()
                && letter.headers[dead_letter_headers::SOURCE_PARTITION] == place.0.to_string()
        })
        .expect("the big message's letter");
    assert_eq!(
        letter.headers[dead_letter_headers::TRUNCATED_FROM_BYTES],
        ONE_MIB.to_string()
    );
    let original = big.payload.as_deref().expect("payload");
    assert_eq!(letter.payload.as_deref(), Some(&original[..1024]));
    assert_eq!(
        letter.headers[dead_letter_headers::REASON_KIND],
        "too_large"
    );
    // Only the oversized one is truncated.
    let truncated = letters
        .iter()
        .filter(|letter| {
            letter
                .headers
                .contains_key(dead_letter_headers::TRUNCATED_FROM_BYTES)
        })
        .count();
    assert_eq!(truncated, 1);
}

// ---------------------------------------------------------------------------------
// 3. Restart: the second run resumes from the checkpoints.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_sees_only_new_messages() {
    const PARTITIONS: i32 = 3;
    let (topic, dead_letters) = topics("consume-restart", PARTITIONS).await;
    let first = simulated(41, 2_000);
    produce(&topic, &first).await;
    let store = SharedStore::default();
    let settings = settings(&topic, &dead_letters, &unique_name("group"));

    let summary = run_until_caught_up(&settings, TestPipeline::new("first", &store))
        .await
        .expect("first run");
    assert_eq!(summary.stats.consumed, 2_000);
    let after_first = lock(&store).checkpoints.clone();
    assert_eq!(after_first.values().sum::<i64>(), 2_000);

    let second = simulated(42, 1_000);
    produce(&topic, &second).await;
    let summary = run_until_caught_up(&settings, TestPipeline::new("second", &store))
        .await
        .expect("second run");
    assert_eq!(summary.outcome, RunOutcome::CaughtUp);
    assert_eq!(summary.stats.consumed, 1_000);
    assert_eq!(summary.stats.events, 1_000);

    let store = lock(&store);
    let second_run: BTreeSet<String> = store
        .delivered
        .iter()
        .filter(|d| d.member == "second")
        .map(|d| d.event_id.clone())
        .collect();
    assert_eq!(
        second_run,
        ids(&second),
        "the second run saw exactly the new events"
    );
    let reopened: BTreeMap<i32, Option<i64>> = store
        .opens
        .iter()
        .filter(|(member, _, _)| member == "second")
        .map(|(_, partition, resume)| (*partition, *resume))
        .collect();
    let expected: BTreeMap<i32, Option<i64>> =
        after_first.iter().map(|(&p, &o)| (p, Some(o))).collect();
    assert_eq!(reopened, expected, "resumed at the first run's checkpoints");
    let all: BTreeSet<String> = ids(&first).union(&ids(&second)).cloned().collect();
    assert_exactly_once(&store, &all, &[]);
    assert_eq!(store.checkpoints.values().sum::<i64>(), 3_000);
}

// ---------------------------------------------------------------------------------
// 4. Two members split the partitions; the survivor takes over from the checkpoints.

/// The default, cooperative protocol: only moved partitions are revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_split_partitions_and_hand_them_over() {
    group_handover("cooperative-sticky").await;
}

/// An eager protocol: every rebalance revokes (and checkpoints) everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_handover_works_with_an_eager_protocol() {
    group_handover("range").await;
}

async fn group_handover(strategy: &str) {
    const PARTITIONS: i32 = 4;
    let (topic, dead_letters) = topics("consume-group", PARTITIONS).await;
    let group = unique_name("group");
    let settings = ConsumerSettings {
        assignment_strategy: strategy.to_owned(),
        ..settings(&topic, &dead_letters, &group)
    };
    let store = SharedStore::default();
    let batches = [
        simulated(51, 1_500),
        simulated(52, 1_500),
        simulated(53, 1_500),
    ];

    // A alone reads the first batch.
    produce(&topic, &batches[0]).await;
    let cancel_a = CancellationToken::new();
    let member_a = spawn_member(
        test_settings(),
        settings.clone(),
        TestPipeline::new("a", &store),
        RunMode::Follow,
        RunStats::new(),
        cancel_a.clone(),
    );
    wait_for(&store, "A to read the first batch", |s| {
        s.delivered.len() == 1_500
    })
    .await;

    // B joins: each ends up with some partitions.
    let cancel_b = CancellationToken::new();
    let stats_b = RunStats::new();
    let member_b = spawn_member(
        test_settings(),
        settings.clone(),
        TestPipeline::new("b", &store),
        RunMode::Follow,
        Arc::clone(&stats_b),
        cancel_b.clone(),
    );
    wait_for(&store, "A and B to split the partitions", |s| {
        let owned_by = |m: &str| s.owners.values().filter(|o| *o == m).count();
        owned_by("a") > 0 && owned_by("b") > 0 && s.owners.len() == PARTITIONS as usize
    })
    .await;
    let split = lock(&store).owners.clone();

    // Both read the second batch.
    produce(&topic, &batches[1]).await;
    wait_for(&store, "the second batch", |s| s.delivered.len() == 3_000).await;
    {
        let store = lock(&store);
        let second: BTreeSet<&String> = batches[1].iter().map(|(id, _, _)| id).collect();
        for member in ["a", "b"] {
            assert!(
                store
                    .delivered
                    .iter()
                    .any(|d| d.member == member && second.contains(&d.event_id)),
                "{member} read part of the second batch (split {split:?})"
            );
        }
    }

    // A leaves: B takes over A's partitions from A's checkpoints.
    cancel_a.cancel();
    let summary_a = member_a
        .await
        .expect("member A task")
        .expect("member A run");
    assert_eq!(summary_a.outcome, RunOutcome::Cancelled);
    wait_for(&store, "B to own every partition", |s| {
        s.owners.len() == PARTITIONS as usize && s.owners.values().all(|o| o == "b")
    })
    .await;
    produce(&topic, &batches[2]).await;
    wait_for(&store, "the third batch", |s| s.delivered.len() == 4_500).await;
    assert!(stats_b.snapshot().lag.is_some(), "B knows its lag");

    cancel_b.cancel();
    let summary_b = member_b
        .await
        .expect("member B task")
        .expect("member B run");
    assert_eq!(summary_b.outcome, RunOutcome::Cancelled);

    let store = lock(&store);
    let all: BTreeSet<String> = batches.iter().flat_map(|b| ids(b)).collect();
    assert_exactly_once(&store, &all, &[]);
    assert!(store.owners.is_empty(), "every worker was dropped");
    // Every takeover by B of a partition A had resumed at A's last checkpoint of it.
    for (index, (member, partition, resume)) in store.opens.iter().enumerate() {
        if member != "b" {
            continue;
        }
        let previous = store.opens[..index]
            .iter()
            .rev()
            .find(|(_, p, _)| p == partition)
            .map(|(m, _, _)| m.as_str());
        if previous != Some("a") {
            continue;
        }
        let last_of_a = store
            .checkpoint_log
            .iter()
            .rev()
            .find(|(m, p, _)| m == "a" && p == partition)
            .map(|(_, _, next)| *next);
        assert_eq!(
            *resume, last_of_a,
            "B resumed partition {partition} at A's checkpoint"
        );
    }
    assert!(
        store.opens.iter().filter(|(m, _, _)| m == "b").count() >= PARTITIONS as usize,
        "B opened every partition at some point: {:?}",
        store.opens
    );
    assert_eq!(
        summary_a.stats.consumed + summary_b.stats.consumed,
        4_500,
        "the members' counts add up"
    );
    assert_eq!(committed(&topic, PARTITIONS, &group), store.checkpoints);
}

// ---------------------------------------------------------------------------------
// 5. A checkpoint failure stops the runtime with a clear error.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_checkpoint_stops_the_run() {
    let (topic, dead_letters) = topics("consume-fail", 2).await;
    produce(&topic, &simulated(61, 300)).await;
    let store = SharedStore::default();
    let pipeline = Arc::new(TestPipeline {
        member: "a".into(),
        store: Arc::clone(&store),
        fail_checkpoints: true,
    });
    let group = unique_name("group");
    let error = run_until_caught_up(&settings(&topic, &dead_letters, &group), pipeline)
        .await
        .expect_err("the checkpoint fails");
    match &error {
        ConsumeError::Checkpoint {
            topic: t,
            next_offset,
            ..
        } => {
            assert_eq!(t, &topic);
            assert!(*next_offset > 0);
        }
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
    let text = format!(
        "{error}: {}",
        std::error::Error::source(&error).expect("source")
    );
    assert!(text.contains("refuses checkpoints"), "{text}");
    assert!(
        committed(&topic, 2, &group).is_empty(),
        "nothing was committed"
    );
}

// ---------------------------------------------------------------------------------
// Set-up errors are reported, not panicked on.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_is_an_error() {
    let topic = unique_name("consume-missing");
    let error = run_until_caught_up(
        &settings(&topic, &format!("{topic}.dlq"), &unique_name("group")),
        TestPipeline::new("a", &SharedStore::default()),
    )
    .await
    .expect_err("no such topic");
    assert!(
        matches!(error, ConsumeError::TopicNotFound { .. }),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------
// 6. A dead letter the broker never acknowledges stops the run before its offset is
// committed.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeliverable_dead_letter_stops_the_run_uncommitted() {
    let (topic, _) = topics("consume-dlq-down", 1).await;
    let valid = simulated(71, 50);
    let hostile: Vec<Hostile> = hostile_messages().into_iter().take(1).collect();
    let places = produce_hostile(&topic, &valid, &hostile).await;
    let store = SharedStore::default();
    let group = unique_name("group");
    // The dead-letter topic does not exist, and deliveries time out quickly.
    let settings = settings(&topic, &unique_name("missing-dlq"), &group);
    let kafka = test_settings().with("message.timeout.ms", "1500");
    let error = tokio::time::timeout(
        DEADLINE,
        consume::run(
            &kafka,
            &settings,
            TestPipeline::new("a", &store),
            RunMode::UntilCaughtUp,
            RunStats::new(),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("the run ends")
    .expect_err("the dead letter cannot be delivered");
    match &error {
        ConsumeError::DeadLetter {
            source_partition,
            source_offset,
            ..
        } => assert_eq!((*source_partition, *source_offset), places[0]),
        other => panic!("expected a dead-letter error, got {other:?}"),
    }
    let committed = committed(&topic, 1, &group);
    assert!(
        committed.get(&0).is_none_or(|&next| next <= places[0].1),
        "the bad message's offset was committed: {committed:?}"
    );
    assert!(
        lock(&store)
            .checkpoints
            .get(&0)
            .is_none_or(|&next| next <= places[0].1),
        "checkpointed past the undelivered letter"
    );
}

// ---------------------------------------------------------------------------------
// 7. Until caught up ends even while producers keep writing.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_caught_up_ends_while_producers_keep_writing() {
    const PARTITIONS: i32 = 2;
    let (topic, dead_letters) = topics("consume-live", PARTITIONS).await;
    let before = simulated(81, 1_000);
    produce(&topic, &before).await;

    // A background writer: bursts of 50 events every 5 ms until stopped (load, not
    // synchronisation: the test never waits on it).
    let stop = CancellationToken::new();
    let writer = tokio::spawn({
        let topic = topic.clone();
        let stop = stop.clone();
        async move {
            let mut producer = EventProducer::new(&test_settings(), &topic).expect("producer");
            let mut pace = tokio::time::interval(Duration::from_millis(5));
            let mut written = 0u64;
            while !stop.is_cancelled() {
                pace.tick().await;
                for _ in 0..50 {
                    let id = format!("live-{written}");
                    let json = format!(
                        r#"{{"schema_version":1,"event_id":"{id}","tenant_id":"acme","type":"agent.heartbeat","occurred_at":"2026-11-20T09:15:02.123Z","agent_id":"a-1"}}"#
                    );
                    producer.send(&id, json.as_bytes()).await.expect("send");
                    written += 1;
                }
            }
            producer.finish().await.expect("live events delivered");
            written
        }
    });

    let store = SharedStore::default();
    let summary = run_until_caught_up(
        &settings(&topic, &dead_letters, &unique_name("group")),
        TestPipeline::new("a", &store),
    )
    .await
    .expect("the run ends although the topic keeps growing");
    stop.cancel();
    let written = writer.await.expect("writer task");
    assert_eq!(summary.outcome, RunOutcome::CaughtUp);

    let store = lock(&store);
    assert!(store.violations.is_empty(), "{:?}", store.violations);
    let delivered: BTreeSet<&String> = store.delivered.iter().map(|d| &d.event_id).collect();
    assert_eq!(
        delivered.len(),
        store.delivered.len(),
        "an event was delivered twice"
    );
    for (id, _, _) in &before {
        assert!(
            delivered.contains(id),
            "{id}, produced before the run, was missed"
        );
    }
    assert!(
        delivered
            .iter()
            .all(|id| id.starts_with("live-") || ids(&before).contains(*id)),
        "only produced events arrive"
    );
    assert_eq!(summary.stats.consumed, store.delivered.len() as u64);
    assert!(
        summary.stats.consumed < 1_000 + written,
        "stopped before the writer stopped: {} of {}",
        summary.stats.consumed,
        1_000 + written
    );
    // Per partition, what was checkpointed is 0..checkpoint without gaps.
    for partition in 0..PARTITIONS {
        let mut offsets: Vec<i64> = store
            .durable
            .iter()
            .filter(|(p, _, _)| *p == partition)
            .map(|(_, offset, _)| *offset)
            .collect();
        offsets.sort_unstable();
        assert!(offsets.iter().enumerate().all(|(i, &o)| o == i as i64));
        assert_eq!(
            store.checkpoints.get(&partition).copied(),
            Some(offsets.len() as i64)
        );
    }
}
