//! The aggregator end to end: produce contract events to a test topic, run
//! [`Aggregator`] under the real consumer runtime, and read the tables it wrote back as
//! [`Tables`] to compare with the reference fold.
//!
//! Also: [`simulated`] traffic with matching fold settings, the raw `events` table read
//! back ([`read_events`], [`assert_events_exactly_once`]) and [`assert_same_tables`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ccpulse_ingest::aggregate::{Aggregator, Totals};
use ccpulse_ingest::consume::{self, CancellationToken, ConsumerSettings, RunMode, RunOutcome};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::fold::rows::Tables;
use ccpulse_ingest::store::{DataDir, read_table};
use ccpulse_ingest::{EventProducer, KafkaSettings, RunStats, RunSummary, tables};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::v1::{Event, decode};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type};
use serde_json::{Value, json};

use crate::{create_topic, test_settings, unique_name};

/// The directory of the sample-data fixtures (one scenario per subdirectory).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-data/fixtures")
}

/// The one tenant of every sample-data fixture.
pub const FIXTURE_TENANT: &str = "acme";

/// A sample-data fixture's events, in file order, and the fold settings its
/// `expected.json` states (tenant [`FIXTURE_TENANT`], its time zone, business hours and
/// queues, the allowed lateness).
///
/// # Errors
/// When the fixture is missing or does not parse.
pub fn fixture(name: &str) -> Result<(Vec<Event<'static>>, FoldConfig)> {
    let dir = fixtures_dir().join(name);
    let text = std::fs::read_to_string(dir.join("events.ndjson"))
        .with_context(|| format!("fixture {name}"))?;
    let events = decode_ndjson(&text).with_context(|| format!("fixture {name}"))?;
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json"))?)?;
    let settings = &expected["settings"];
    let tenant: TenantSettings = serde_json::from_value(json!({
        "timezone": settings["timezone"],
        "business_hours": settings["business_hours"],
        "queues": settings["queues"],
    }))?;
    let mut config = FoldConfig {
        tenants: [(FIXTURE_TENANT.to_owned(), tenant)].into(),
        ..FoldConfig::default()
    };
    if let Some(lateness) = settings["allowed_lateness_ms"].as_i64() {
        config.allowed_lateness_ms = lateness;
    }
    Ok((events, config))
}

/// The events of an NDJSON text (blank lines skipped), each checked by the contract.
///
/// # Errors
/// The first line that is not a valid event, with its number.
pub fn decode_ndjson(text: &str) -> Result<Vec<Event<'static>>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            decode(line.as_bytes())
                .map(|event| event.into_owned())
                .map_err(|err| anyhow!("line {}: {err}", n + 1))
        })
        .collect()
}

/// A fresh events topic with `partitions` partitions and its dead-letter topic.
#[derive(Debug, Clone)]
pub struct TestTopics {
    pub events: String,
    pub dead_letters: String,
    pub partitions: i32,
}

impl TestTopics {
    /// Creates both topics, named after `prefix`.
    ///
    /// # Errors
    /// When the broker refuses.
    pub async fn create(prefix: &str, partitions: i32) -> Result<Self> {
        let topics = Self {
            events: unique_name(prefix),
            dead_letters: unique_name(&format!("{prefix}-dlq")),
            partitions,
        };
        create_topic(&topics.events, partitions).await?;
        create_topic(&topics.dead_letters, 1).await?;
        Ok(topics)
    }

    /// Consumer settings for these topics and `group`, tuned for tests: frequent
    /// checkpoints and statistics, short polls.
    pub fn consumer_settings(&self, group: &str) -> ConsumerSettings {
        ConsumerSettings {
            topic: self.events.clone(),
            dead_letter_topic: self.dead_letters.clone(),
            group_id: group.to_owned(),
            session_timeout: Duration::from_secs(6),
            heartbeat_interval: Duration::from_millis(100),
            max_poll_interval: Duration::from_secs(60),
            checkpoint_every_messages: 5_000,
            checkpoint_interval: Duration::from_millis(500),
            stats_interval: Duration::from_millis(200),
            poll_timeout: Duration::from_millis(20),
            ..ConsumerSettings::default()
        }
    }
}

/// The event `value` of `tenant` (schema version 1 and a unique `event_id` added),
/// decoded and validated as the consumer would: the builder behind the scripted
/// traffic of the API and alerting tests.
///
/// # Panics
/// When `value` is not a valid event (a bug in the calling test).
pub fn scripted_event(tenant: &str, mut value: Value) -> Event<'static> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    value["schema_version"] = json!(1);
    value["tenant_id"] = json!(tenant);
    value["event_id"] = json!(format!("e-{id}"));
    let text = value.to_string();
    decode(text.as_bytes())
        .unwrap_or_else(|err| panic!("{text}: {err}"))
        .into_owned()
}

/// Produces `events` (canonical JSON, keyed by tenant) to `topic`, in this order.
///
/// # Errors
/// When the broker does not acknowledge every event.
pub async fn produce(topic: &str, events: &[Event<'_>]) -> Result<()> {
    produce_with(&test_settings().with("linger.ms", "5"), topic, events).await
}

/// Produces `events` to `topic` with the producer settings `settings`.
async fn produce_with(settings: &KafkaSettings, topic: &str, events: &[Event<'_>]) -> Result<()> {
    let mut producer = EventProducer::new(settings, topic)?;
    for event in events {
        producer
            .send(&event.tenant_id, event.to_json().as_bytes())
            .await?;
    }
    let stats = producer.finish().await?;
    if stats.delivered != events.len() as u64 {
        bail!("{} of {} events delivered", stats.delivered, events.len());
    }
    Ok(())
}

/// An aggregator following a topic in the background (`RunMode::Follow`), until
/// [`Following::stop`].
#[derive(Debug)]
pub struct Following {
    cancel: CancellationToken,
    run: tokio::task::JoinHandle<Result<RunSummary, consume::ConsumeError>>,
}

impl Following {
    /// Starts `aggregator` on the topic of `settings` with the test broker's client
    /// settings; `stats` receives the run's counters.
    pub fn start(
        settings: ConsumerSettings,
        aggregator: Arc<Aggregator>,
        stats: Arc<RunStats>,
    ) -> Self {
        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let cancel = cancel.clone();
            async move {
                consume::run(
                    &test_settings(),
                    &settings,
                    aggregator,
                    RunMode::Follow,
                    stats,
                    cancel,
                )
                .await
            }
        });
        Self { cancel, run }
    }

    /// Whether the run ended by itself (it should not before [`Following::stop`]).
    pub fn is_finished(&self) -> bool {
        self.run.is_finished()
    }

    /// Stops the run (it checkpoints every partition first) and returns its summary.
    ///
    /// # Panics
    /// When the run failed or its task panicked.
    pub async fn stop(self) -> RunSummary {
        self.cancel.cancel();
        self.run
            .await
            .expect("the aggregator task")
            .expect("the aggregator run")
    }
}

/// Runs the aggregator over `topics` with `config` into `data_dir` until every
/// partition is caught up; returns the run's summary and the aggregator's totals.
///
/// # Errors
/// When the run fails, or ends otherwise than caught up.
pub async fn ingest_until_caught_up(
    topics: &TestTopics,
    data_dir: &Path,
    config: FoldConfig,
) -> Result<(RunSummary, Totals)> {
    let group = unique_name("ccpulse-aggregate-test");
    let aggregator = Arc::new(Aggregator::new(DataDir::open(data_dir)?, Arc::new(config)));
    let live = aggregator.live();
    let summary = consume::run(
        &test_settings(),
        &topics.consumer_settings(&group),
        aggregator,
        RunMode::UntilCaughtUp,
        RunStats::new(),
        CancellationToken::new(),
    )
    .await
    .context("the aggregator run failed")?;
    if summary.outcome != RunOutcome::CaughtUp {
        bail!("the run ended {:?}", summary.outcome);
    }
    Ok((summary, live.totals()))
}

/// Every derived table under `data_dir` (final rows plus provisional tails, interval
/// deltas of equal keys summed), sorted. `anomalies` stays empty: it is not a table.
///
/// # Errors
/// When a table cannot be read or does not have the expected columns.
pub fn read_tables(data_dir: &Path) -> Result<Tables> {
    let mut read = Vec::new();
    for spec in tables::DERIVED {
        read.push((spec.name, read_table(data_dir, spec.name)?));
    }
    let mut tables = tables::from_batches(
        read.iter()
            .flat_map(|(name, batches)| batches.iter().map(move |batch| (*name, batch))),
    )?;
    tables.sort();
    Ok(tables)
}

/// `tables` without its anomaly counts, sorted: what the Parquet tables hold.
pub fn without_anomalies(mut tables: Tables) -> Tables {
    tables.anomalies.clear();
    tables.sort();
    tables
}

/// `duration_ms` of simulated traffic (seeded: same arguments, same events) from `start_h`
/// hours after the simulator's start, over `tenants` tenants; and fold settings that give
/// each tenant its simulated time zone (the rest default).
///
/// # Panics
/// When the simulator refuses the settings (a bug in the calling test).
pub fn simulated(
    seed: u64,
    start_h: i64,
    duration_ms: i64,
    tenants: u32,
) -> (Vec<Event<'static>>, FoldConfig) {
    let sim = Simulator::new(SimConfig {
        seed,
        start_ms: SimConfig::DEFAULT_START_MS + start_h * 3_600_000,
        duration_ms,
        tenants,
        scale: 1.0,
    })
    .expect("simulator settings");
    let mut config = FoldConfig::default();
    for profile in sim.tenants() {
        config.tenants.insert(
            profile.tenant_id.clone(),
            TenantSettings {
                timezone: profile.timezone,
                ..TenantSettings::default()
            },
        );
    }
    (sim.collect(), config)
}

/// Asserts that `actual` equals `expected` table by table, so that a failure names the
/// table (and shows its rows); `what` says which comparison this is.
///
/// # Panics
/// When they differ.
pub fn assert_same_tables(actual: &Tables, expected: &Tables, what: &str) {
    assert_eq!(
        actual.interactions, expected.interactions,
        "{what}: interactions"
    );
    assert_eq!(
        actual.agent_states, expected.agent_states,
        "{what}: agent_states"
    );
    assert_eq!(
        actual.queue_intervals, expected.queue_intervals,
        "{what}: queue_intervals"
    );
    assert_eq!(
        actual.agent_intervals, expected.agent_intervals,
        "{what}: agent_intervals"
    );
    assert_eq!(
        actual.campaign_intervals, expected.campaign_intervals,
        "{what}: campaign_intervals"
    );
    assert!(actual == expected, "{what}: tables differ");
}

/// One row of the raw `events` table: where the message was read, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawEvent {
    pub partition: i32,
    pub offset: i64,
    /// The message as received.
    pub raw: String,
}

/// The raw `events` table under `data_dir` (what the manifests make visible), sorted by
/// partition and offset.
///
/// # Errors
/// When the table cannot be read, or lacks one of the columns `partition`, `offset` and
/// `raw` or has a null in one.
pub fn read_events(data_dir: &Path) -> Result<Vec<RawEvent>> {
    let mut rows = Vec::new();
    for batch in read_table(data_dir, tables::EVENTS.name)? {
        let column = |name: &str, data_type: DataType| -> Result<_> {
            let column = batch
                .column_by_name(name)
                .with_context(|| format!("the events table has no `{name}` column"))?;
            if column.null_count() > 0 {
                bail!("the events table has nulls in `{name}`");
            }
            Ok(cast(column, &data_type)?)
        };
        let partitions = column("partition", DataType::Int32)?;
        let offsets = column("offset", DataType::Int64)?;
        let raws = column("raw", DataType::Utf8)?;
        let (partitions, offsets, raws) = (
            partitions.as_primitive::<Int32Type>(),
            offsets.as_primitive::<Int64Type>(),
            raws.as_string::<i32>(),
        );
        for row in 0..batch.num_rows() {
            rows.push(RawEvent {
                partition: partitions.value(row),
                offset: offsets.value(row),
                raw: raws.value(row).to_owned(),
            });
        }
    }
    rows.sort();
    Ok(rows)
}

/// Asserts that the raw `events` table under `data_dir` holds every message of
/// `produced` (sent with [`produce`], nothing else on the topic) exactly once: no
/// (partition, offset) twice, and the payloads equal the produced JSON as a multiset.
/// A message read twice or lost shows up here even where the derived tables hide it
/// (they count each `event_id` once).
///
/// # Panics
/// When the table cannot be read or does not hold exactly `produced`.
pub fn assert_events_exactly_once(data_dir: &Path, produced: &[Event<'_>]) {
    let rows = read_events(data_dir).expect("reading the events table");
    let twice: Vec<(i32, i64)> = rows
        .windows(2)
        .filter(|pair| (pair[0].partition, pair[0].offset) == (pair[1].partition, pair[1].offset))
        .map(|pair| (pair[0].partition, pair[0].offset))
        .collect();
    assert!(
        twice.is_empty(),
        "{} (partition, offset) pairs are in the events table more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    // +1 per produced copy, -1 per stored copy: what is left was lost or added.
    let mut balance: BTreeMap<String, i64> = BTreeMap::new();
    for event in produced {
        *balance.entry(event.to_json()).or_default() += 1;
    }
    for row in &rows {
        *balance.entry(row.raw.clone()).or_default() -= 1;
    }
    balance.retain(|_, count| *count != 0);
    let lost: i64 = balance.values().filter(|count| **count > 0).sum();
    let extra: i64 = -balance.values().filter(|count| **count < 0).sum::<i64>();
    assert!(
        balance.is_empty(),
        "the events table has {} rows for {} produced events: {lost} missing, {extra} \
         extra (or changed); offsets missing before each partition's last row: {:?}; \
         e.g. {:?}",
        rows.len(),
        produced.len(),
        offset_gaps(&rows),
        balance.iter().next()
    );
}

/// Per partition, the offset ranges missing below the partition's highest offset in
/// `rows` (sorted by partition and offset).
fn offset_gaps(rows: &[RawEvent]) -> BTreeMap<i32, Vec<std::ops::Range<i64>>> {
    let mut gaps: BTreeMap<i32, Vec<std::ops::Range<i64>>> = BTreeMap::new();
    let mut expected: BTreeMap<i32, i64> = BTreeMap::new();
    for row in rows {
        let next = expected.entry(row.partition).or_default();
        if row.offset > *next {
            gaps.entry(row.partition)
                .or_default()
                .push(*next..row.offset);
        }
        *next = (*next).max(row.offset + 1);
    }
    gaps
}

/// [`produce`], each event in a record batch of its own, so that every offset starts a
/// batch. For tests that resume partitions at arbitrary offsets (crashes, hand-overs
/// mid-stream) on the test broker: tansu 0.6.0 answers a fetch at an offset *inside* a
/// record batch from the next batch on (its storage returns the batches whose base
/// offset is at least the fetch offset), so the rest of that batch is never delivered,
/// and none at all when the offset is inside the last batch; its fetch loop then
/// advances by record counts from the unaligned offset and returns overlapping batches,
/// which librdkafka delivers again. Kafka returns the batch that contains the offset,
/// and the client skips the records before it. (Producing this way is slow on tansu:
/// about 6 000 events/s.)
///
/// # Errors
/// When the broker does not acknowledge every event.
pub async fn produce_one_per_batch(topic: &str, events: &[Event<'_>]) -> Result<()> {
    let settings = test_settings()
        .with("batch.num.messages", "1")
        .with("linger.ms", "0");
    produce_with(&settings, topic, events).await
}
