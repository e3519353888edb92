//! The aggregator end to end: produce contract events to a test topic, run
//! [`Aggregator`] under the real consumer runtime, and read the tables it wrote back as
//! [`Tables`] to compare with the reference fold.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ccpulse_ingest::aggregate::{Aggregator, Totals};
use ccpulse_ingest::consume::{self, CancellationToken, ConsumerSettings, RunMode, RunOutcome};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::fold::rows::Tables;
use ccpulse_ingest::store::{DataDir, read_table};
use ccpulse_ingest::{EventProducer, RunStats, RunSummary, tables};
use ccpulse_schemas::v1::Event;

use crate::{create_topic, test_settings, unique_name};

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

/// Produces `events` (canonical JSON, keyed by tenant) to `topic`, in this order.
///
/// # Errors
/// When the broker does not acknowledge every event.
pub async fn produce(topic: &str, events: &[Event<'_>]) -> Result<()> {
    let settings = test_settings().with("linger.ms", "5");
    let mut producer = EventProducer::new(&settings, topic)?;
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
