//! Set-up for the SQL tests: events folded by the real aggregator in-process, served to a
//! [`QueryEngine`] through the same [`LiveSource`] the API uses.
//!
//! The [`Aggregator`] pipeline is driven directly (open a partition, feed events,
//! checkpoint), without a broker: what the query layer sees does not depend on how the
//! events arrived, and the Kafka path has its own end-to-end tests. Checkpoints are
//! spread over the events so every table is Parquet files *and* the in-memory tail.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use ccpulse_ingest::aggregate::{AggregateWorker, Aggregator, AggregatorSettings};
use ccpulse_ingest::consume::{PartitionWorker, Pipeline};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::source::{LiveSource, StoreSource};
use ccpulse_ingest::store::DataDir;
use ccpulse_query::{QueryConfig, QueryEngine};
use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::v1::{Event, decode};
use serde_json::{Value, json};

/// `ingested_at` of every event folded here: a fixed instant (2025-11-17T00:00:00Z), so
/// the `events` table is the same at every run.
pub const INGESTED_AT_MS: i64 = 1_763_337_600_000;

/// The one tenant of every sample-data fixture.
pub const FIXTURE_TENANT: &str = "acme";

/// A sample-data fixture's events, in file order, and the fold settings its
/// `expected.json` states (tenant [`FIXTURE_TENANT`], its time zone, business hours and
/// queues, the allowed lateness).
///
/// # Errors
/// When the fixture is missing or does not parse.
pub fn fixture(name: &str) -> Result<(Vec<Event<'static>>, FoldConfig)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sample-data/fixtures")
        .join(name);
    let text = std::fs::read_to_string(dir.join("events.ndjson"))
        .with_context(|| format!("fixture {name}"))?;
    let events = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            decode(line.as_bytes())
                .map(|event| event.into_owned())
                .map_err(|err| anyhow!("{name}: {err}"))
        })
        .collect::<Result<Vec<_>>>()?;
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

/// Events folded into a data directory by one open partition of an [`Aggregator`]: its
/// tail and live view stay in memory as long as this lives.
#[derive(Debug)]
pub struct Folded {
    dir: tempfile::TempDir,
    aggregator: Aggregator,
    worker: AggregateWorker,
}

impl Folded {
    /// Folds `events` (in this order, as offsets 0, 1, ...) with `config`, committing
    /// `checkpoints` checkpoints spread evenly over them; the events after the last one
    /// are only in memory. Then publishes the live view and the tail, as the consumer
    /// runtime does at the end of a batch.
    ///
    /// # Errors
    /// When the data directory, a checkpoint or the partition fails.
    pub fn new(events: &[Event<'_>], config: FoldConfig, checkpoints: usize) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let settings = AggregatorSettings {
            // Publish the live view and the tail at every end of batch: nothing waits
            // for a clock.
            publish_every: std::time::Duration::ZERO,
            tail_every: std::time::Duration::ZERO,
            ..AggregatorSettings::default()
        };
        let aggregator =
            Aggregator::with_settings(DataDir::open(dir.path())?, Arc::new(config), settings);
        let mut worker = aggregator
            .open("ccpulse.events", 0)
            .map_err(|err| anyhow!("opening the partition: {err}"))?
            .worker;
        let every = events.len() / (checkpoints + 1);
        for (offset, event) in events.iter().enumerate() {
            let raw = event.to_json();
            worker.on_event(event, raw.as_bytes(), offset as i64, INGESTED_AT_MS);
            let done = offset + 1;
            if every > 0 && done % every == 0 && done / every <= checkpoints {
                worker
                    .checkpoint(done as i64)
                    .map_err(|err| anyhow!("checkpoint after {done} events: {err}"))?;
            }
        }
        worker.end_batch();
        Ok(Self {
            dir,
            aggregator,
            worker,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// An engine over the files and the in-memory tail (what the API serves).
    ///
    /// # Errors
    /// When the query runtime cannot start.
    pub fn live_engine(&self, config: QueryConfig) -> Result<QueryEngine> {
        let source = LiveSource::new(self.dir.path().to_path_buf(), self.aggregator.live());
        Ok(QueryEngine::new(Arc::new(source), config)?)
    }

    /// An engine over the committed files only (what `ccpulse sql --data-dir` reads).
    ///
    /// # Errors
    /// When the query runtime cannot start.
    pub fn disk_engine(&self, config: QueryConfig) -> Result<QueryEngine> {
        let source = StoreSource::new(self.dir.path().to_path_buf());
        Ok(QueryEngine::new(Arc::new(source), config)?)
    }

    /// Commits a checkpoint of everything folded so far (`next_offset` is the number of
    /// events given to [`Folded::new`]), so the disk holds every row.
    ///
    /// # Errors
    /// When the checkpoint fails.
    pub fn checkpoint(&mut self, next_offset: i64) -> Result<()> {
        self.worker
            .checkpoint(next_offset)
            .map_err(|err| anyhow!("checkpoint: {err}"))
    }
}
