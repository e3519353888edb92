//! Set-up for the SQL tests: events folded by the real aggregator in-process, served to a
//! [`QueryEngine`] through the same [`LiveSource`] the API uses.
//!
//! The [`Aggregator`] pipeline is driven directly (open a partition, feed events,
//! checkpoint), without a broker: what the query layer sees does not depend on how the
//! events arrived, and the Kafka path has its own end-to-end tests. Checkpoints are
//! spread over the events so every table is Parquet files *and* the in-memory tail.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use ccpulse_ingest::aggregate::{AggregateWorker, Aggregator, AggregatorSettings};
use ccpulse_ingest::consume::{PartitionWorker, Pipeline};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::source::{LiveSource, StoreSource};
use ccpulse_ingest::store::DataDir;
use ccpulse_query::{QueryConfig, QueryEngine};
use ccpulse_schemas::v1::Event;

/// `ingested_at` of every event folded here: a fixed instant (2025-11-17T00:00:00Z), so
/// the `events` table is the same at every run.
pub const INGESTED_AT_MS: i64 = 1_763_337_600_000;

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

    /// The aggregator (its live view, its fold settings).
    pub fn aggregator(&self) -> &Aggregator {
        &self.aggregator
    }

    /// Folds more events (as the next offsets from `first_offset`), then ends the batch:
    /// the live view and the tail are published.
    pub fn apply(&mut self, events: &[Event<'_>], first_offset: i64) {
        for (n, event) in events.iter().enumerate() {
            let raw = event.to_json();
            self.worker.on_event(
                event,
                raw.as_bytes(),
                first_offset + n as i64,
                INGESTED_AT_MS,
            );
        }
        self.worker.end_batch();
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
