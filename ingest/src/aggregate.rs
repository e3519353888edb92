//! The aggregator: the [`Pipeline`] that the consumer runtime drives. Per assigned
//! partition it owns one [`Fold`] and one [`PartitionStore`]: events go into the fold
//! and into the raw `events` table, checkpoints write the tables and the fold's state,
//! and live observations are published to a shared [`LiveView`] for the API.
//!
//! ```text
//! consume::run ──on_event──> AggregateWorker ── Fold::apply ──> in-memory state
//!                  │                         └─ EventsBatchBuilder (raw `events`)
//!                  ├─end_batch/tick──> LiveView (queue_live, agent_live; ≤ 4 times a second,
//!                  │                    never later than 250 ms after a batch)
//!                  │              └──> LiveView tail (final files + in-memory rows; ≤ once a
//!                  │                    second, never later than 1 s after a batch)
//!                  └─checkpoint(next_offset)──> Fold::advance + checkpoint
//!                                   ├─> PartitionStore::commit(final rows + events,
//!                                   │    provisional tail, state, next_offset)
//!                                   ├─> LiveView tail (the new files + the provisional tail)
//!                                   └─> PartitionStore::compact (every 16th checkpoint)
//!                                        └─> LiveView tail (the merged files)
//! ```
//!
//! # What a checkpoint writes
//! - **final rows**: everything the fold made final since the previous checkpoint
//!   ([`Fold::checkpoint`]: additive interval deltas, finished visits and state spans)
//!   and every event read since then (the `events` table);
//! - **provisional rows**: the fold's whole provisional tail ([`Fold::provisional`]),
//!   replacing the previous checkpoint's tail;
//! - **state**: the fold's saved state ([`Fold::restore`] reads it back);
//! - **next offset**: where to resume.
//!
//! The store makes all four visible at once (its manifest rename), so the tables on
//! disk always equal a fold of exactly the events before `next_offset`: a crash at any
//! point loses nothing and counts nothing twice. Reading a table = its final rows plus
//! its provisional rows, interval rows of equal key summed
//! ([`crate::tables::from_batches`] does that).
//!
//! # The in-memory tail
//! Between checkpoints (every 5 s by default) the rows read since the last one exist
//! only in the worker. So that SQL sees them within about a second, each worker
//! publishes a [`PartitionTail`] to the [`LiveView`]: its store's final files plus, as
//! record batches, every row not in them (events and final rows since the checkpoint,
//! and the whole provisional tail, which supersedes the provisional files). It does so
//! at most every [`AggregatorSettings::tail_every`] after a batch, at `open`, and right
//! after every checkpoint and every compaction (the files changed). The worker keeps
//! what it already converted for the next checkpoint, which writes exactly what it wrote
//! without tails (`aggregate/tail.rs` says how). [`crate::source::LiveSource`] reads the
//! tails.
//!
//! # Decisions
//! - The `events` table holds every *valid* message read, duplicates and too-late
//!   events included (it records what arrived; the derived tables count each
//!   `event_id` once). Invalid ones are in the dead-letter topic instead.
//! - The fold is advanced (its horizon moved, final rows taken out of memory) every
//!   [`AggregatorSettings::advance_every_events`] events and at each checkpoint. When
//!   it happens does not change any result (the property tests finalise at random
//!   points); it bounds memory and the cost of the provisional tail.
//! - A failed commit stops the runtime ([`crate::consume::ConsumeError::Checkpoint`]):
//!   the rows taken out of the fold for it are gone from memory, and the next owner of
//!   the partition redoes the work from the last checkpoint.
//! - Compaction ([`PartitionStore::compact`], the policy in
//!   [`AggregatorSettings::compaction`]) runs on the partition's thread right after every
//!   [`AggregatorSettings::compact_every_checkpoints`]-th successful commit: the store has
//!   one writer per partition, so commits and compactions never race, and no extra thread
//!   or lock is needed. It never changes what the tables hold, so a failed compaction is
//!   logged (WARN) and tried again that many checkpoints later, while ingest goes on —
//!   unless it failed after renaming its manifest ([`PartitionStore::needs_load`]): then,
//!   as after such a failed commit, the checkpoint returns the error and the runtime
//!   stops, and the next owner loads whichever manifest survived. The checkpoint itself
//!   was durable, so nothing is lost either way.

mod tail;
mod view;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccpulse_schemas::v1::Event;
use ccpulse_schemas::v1::arrow::EventsBatchBuilder;
use datafusion::arrow::record_batch::RecordBatch;
use tokio::sync::watch;

pub use tail::PartitionTail;
pub use view::{LiveView, PartitionStatus, Totals};

use crate::consume::error_chain;
use crate::consume::{BoxError, Opened, PartitionWorker, Pipeline};
use crate::fold::{Fold, FoldConfig};
use crate::store::{Commit, CompactionPolicy, DataDir, PartitionStore, TableSpec};
use crate::tables;
use tail::TailBuffer;

/// A live or tail publication that took `d` is not repeated sooner than this many
/// times `d` after it (besides [`AggregatorSettings::publish_every`] and
/// [`AggregatorSettings::tail_every`]), so that publishing takes at most about a tenth
/// of a partition's thread however much it holds in memory. Publications right after
/// a checkpoint or compaction are not deferred.
pub const PUBLISH_PAUSE_FACTOR: u32 = 9;

/// How often the aggregator does its periodic work.
#[derive(Debug, Clone)]
pub struct AggregatorSettings {
    /// Advance the fold after this many events (besides every checkpoint). Default
    /// 32 768: an advance walks every agent's timeline, so its cost grows with the
    /// agents logged in, not with the events since the last one; at 4 096 it took a
    /// fifth of a busy partition's time (BENCHMARKS.md, "Ingest").
    pub advance_every_events: usize,
    /// Publish live observations at most this often per partition. Default 250 ms.
    /// Unless zero, both publications also wait at least [`PUBLISH_PAUSE_FACTOR`] times
    /// their last duration after it: their cost grows with what the partition holds in
    /// memory, and folding must keep most of the thread.
    pub publish_every: Duration,
    /// Publish each partition's in-memory tail (see the module docs) at most this often,
    /// besides after every checkpoint and compaction. Default 1 s: SQL then sees rows
    /// about a second after ingest, while the cost stays small next to folding. Each
    /// publication costs one [`Fold::provisional`] and its Arrow conversion per
    /// partition (the rest is converted once per checkpoint interval whatever this is),
    /// so a shorter interval buys freshness with CPU on the partition's thread. Zero
    /// publishes after every batch; an interval too long to add to an `Instant` (such as
    /// `Duration::MAX`) only at `open`, checkpoints and compactions.
    pub tail_every: Duration,
    /// Try to compact a partition's final segments after every this many successful
    /// checkpoints of it; 0 never compacts. Default 16: with the default 5 s checkpoint
    /// interval, about every 80 s. Planning is in memory and cheap when nothing qualifies,
    /// and with [`CompactionPolicy::min_files`] at 16 a (table, tenant, date) gains at most
    /// 16 segments between two tries, so it keeps at most about 31 segments per size tier.
    pub compact_every_checkpoints: usize,
    /// What a compaction merges (see [`CompactionPolicy`] for its defaults). Checked by
    /// [`Pipeline::open`].
    pub compaction: CompactionPolicy,
}

impl Default for AggregatorSettings {
    fn default() -> Self {
        Self {
            advance_every_events: 32_768,
            publish_every: Duration::from_millis(250),
            tail_every: Duration::from_secs(1),
            compact_every_checkpoints: 16,
            compaction: CompactionPolicy::default(),
        }
    }
}

/// The [`Pipeline`] of ccpulse: folds each partition and stores its tables under a
/// data directory.
#[derive(Debug)]
pub struct Aggregator {
    data_dir: DataDir,
    /// The fold settings; replaced at run time by [`Aggregator::set_fold_config`].
    config: watch::Sender<Arc<FoldConfig>>,
    settings: AggregatorSettings,
    view: Arc<LiveView>,
}

impl Aggregator {
    /// An aggregator writing under `data_dir` with the fold settings `config`.
    pub fn new(data_dir: DataDir, config: Arc<FoldConfig>) -> Self {
        Self::with_settings(data_dir, config, AggregatorSettings::default())
    }

    /// [`Aggregator::new`] with explicit [`AggregatorSettings`].
    pub fn with_settings(
        data_dir: DataDir,
        config: Arc<FoldConfig>,
        settings: AggregatorSettings,
    ) -> Self {
        Self {
            data_dir,
            config: watch::Sender::new(config),
            settings,
            view: Arc::new(LiveView::default()),
        }
    }

    /// The fold settings in effect.
    pub fn fold_config(&self) -> Arc<FoldConfig> {
        Arc::clone(&self.config.borrow())
    }

    /// Replaces the fold settings (tenant and queue settings changed through the API).
    /// Every partition folds its next events with them and republishes its live
    /// observations; rows already folded keep the settings they were computed with.
    pub fn set_fold_config(&self, config: Arc<FoldConfig>) {
        self.config.send_replace(config);
    }

    /// The live observations of every partition this process owns, for the API.
    pub fn live(&self) -> Arc<LiveView> {
        Arc::clone(&self.view)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }
}

impl Pipeline for Aggregator {
    type Worker = AggregateWorker;

    fn open(&self, topic: &str, partition: i32) -> Result<Opened<AggregateWorker>, BoxError> {
        self.settings.compaction.validate()?;
        let mut store = self.data_dir.partition(topic, partition);
        let checkpoint = store.load()?;
        let mut config = self.config.subscribe();
        let current = Arc::clone(&config.borrow_and_update());
        let (fold, resume_at) = match checkpoint {
            Some(checkpoint) => {
                let fold = Fold::restore(current, &checkpoint.state)?;
                (fold, Some(checkpoint.next_offset))
            }
            None => (Fold::new(current), None),
        };
        tracing::info!(
            topic,
            partition,
            resume_at,
            sequence = store.sequence(),
            "partition opened"
        );
        let mut worker = AggregateWorker {
            topic: topic.to_owned(),
            partition,
            store,
            fold,
            config,
            events: EventsBatchBuilder::new(),
            settings: self.settings.clone(),
            since_advance: 0,
            since_compaction: 0,
            last_publish: None,
            live_stale: false,
            live_cost: Duration::ZERO,
            tail: TailBuffer::default(),
            last_tail: None,
            tail_stale: false,
            tail_cost: Duration::ZERO,
            view: Arc::clone(&self.view),
        };
        let provisional = worker.fold.provisional();
        worker.publish(Some(&provisional.anomalies));
        match tables::to_batches(&provisional) {
            Ok(batches) => {
                worker.tail.set_provisional(batches);
                worker.publish_tail();
            }
            // Readers read the partition from disk until a checkpoint succeeds.
            Err(error) => worker.tail_failed(&error),
        }
        Ok(Opened { worker, resume_at })
    }
}

/// One partition's fold, store and raw-events buffer (see the module docs).
#[derive(Debug)]
pub struct AggregateWorker {
    topic: String,
    partition: i32,
    store: PartitionStore,
    fold: Fold,
    /// Changes of the fold settings (see [`Aggregator::set_fold_config`]).
    config: watch::Receiver<Arc<FoldConfig>>,
    events: EventsBatchBuilder,
    settings: AggregatorSettings,
    since_advance: usize,
    /// Successful checkpoints since compaction was last tried.
    since_compaction: usize,
    /// When live observations were last published. A batch that ends sooner than
    /// `publish_every` after it defers its publication to a [`PartitionWorker::tick`].
    last_publish: Option<Instant>,
    /// A batch ended since the live observations were last published.
    live_stale: bool,
    /// How long the last publication of live observations took.
    live_cost: Duration,
    /// What the tail holds between checkpoints.
    tail: TailBuffer,
    /// When the tail was last published (deferred like `last_publish`, by `tail_every`).
    last_tail: Option<Instant>,
    /// Events arrived since the tail was last published.
    tail_stale: bool,
    /// How long the last refresh of the tail took (see [`PUBLISH_PAUSE_FACTOR`]).
    tail_cost: Duration,
    view: Arc<LiveView>,
}

impl AggregateWorker {
    /// Takes new fold settings, if any: later events fold with them and the live
    /// observations are republished.
    fn take_config(&mut self) {
        if self.config.has_changed().unwrap_or(false) {
            let config = Arc::clone(&self.config.borrow_and_update());
            self.fold.set_config(config);
            self.live_stale = true;
        }
    }

    /// Publishes the live observations; `anomalies_tail` are the provisional tail's
    /// anomalies when a checkpoint just computed them.
    fn publish(&mut self, anomalies_tail: Option<&std::collections::BTreeMap<String, u64>>) {
        let started = Instant::now();
        self.view.publish(
            &self.topic,
            self.partition,
            &mut self.fold,
            anomalies_tail,
            self.store.sequence(),
        );
        let now = Instant::now();
        self.live_cost = now - started;
        self.last_publish = Some(now);
        self.live_stale = false;
    }

    /// Publishes the tail from what the buffer holds now (see [`TailBuffer::tail`]).
    fn publish_tail(&mut self) {
        let tail = self.tail.tail(&self.topic, self.partition, &self.store);
        self.view.publish_tail(tail);
        self.last_tail = Some(Instant::now());
        self.tail_stale = false;
    }

    /// Takes the rows since the last publication into the tail buffer, recomputes the
    /// provisional tail and publishes.
    fn refresh_tail(&mut self) {
        if self.tail.is_broken() {
            self.last_tail = Some(Instant::now());
            self.tail_stale = false;
            return;
        }
        let started = Instant::now();
        match self.tail.take_new(&mut self.fold, &mut self.events) {
            Ok(()) => {
                self.publish_tail();
                self.tail_cost = started.elapsed();
                tracing::trace!(
                    topic = %self.topic,
                    partition = self.partition,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "tail published"
                );
            }
            Err(error) => self.tail_failed(&error),
        }
    }

    /// A tail could not be converted: withdraw it (readers read the partition's files
    /// from disk) until the next checkpoint, which converts the same rows and fails if
    /// they really cannot be.
    fn tail_failed(&mut self, error: &datafusion::arrow::error::ArrowError) {
        tracing::warn!(
            topic = %self.topic,
            partition = self.partition,
            error = %error_chain(error),
            "tail not published; readers see the partition's last checkpoint"
        );
        self.view.withdraw_tail(&self.topic, self.partition);
        self.last_tail = Some(Instant::now());
        self.tail_stale = false;
    }

    /// Publishes what is stale and due (live observations, tail); returns when the next
    /// stale one is due, for [`PartitionWorker::tick`].
    fn publish_due(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut defer = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        if self.live_stale {
            let every = paced(self.settings.publish_every, self.live_cost);
            match due_at(self.last_publish, every, now) {
                Some(at) if at > now => defer(at),
                Some(_) => self.publish(None),
                None => {}
            }
        }
        if self.tail_stale {
            let every = paced(self.settings.tail_every, self.tail_cost);
            match due_at(self.last_tail, every, now) {
                Some(at) if at > now => defer(at),
                Some(_) => self.refresh_tail(),
                None => {}
            }
        }
        next
    }

    /// Compacts the store if [`AggregatorSettings::compact_every_checkpoints`] checkpoints
    /// passed since the last try; see the module docs for what a failure does.
    fn compact_if_due(&mut self) -> Result<(), BoxError> {
        let every = self.settings.compact_every_checkpoints;
        if every == 0 {
            return Ok(());
        }
        self.since_compaction += 1;
        if self.since_compaction < every {
            return Ok(());
        }
        self.since_compaction = 0;
        let started = Instant::now();
        match self.store.compact(&tables::ALL, &self.settings.compaction) {
            Ok(stats) => {
                if stats.sequence.is_some() {
                    // The merged files replace their inputs, which are deleted now.
                    self.publish_tail();
                }
                tracing::debug!(
                    topic = %self.topic,
                    partition = self.partition,
                    sequence = stats.sequence,
                    input_files = stats.input_files,
                    output_files = stats.output_files,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "compaction tried"
                );
                Ok(())
            }
            // The manifest on disk may be either one: only a reload can tell.
            Err(error) if self.store.needs_load() => Err(error.into()),
            Err(error) => {
                tracing::warn!(
                    topic = %self.topic,
                    partition = self.partition,
                    error = %error_chain(&error),
                    retry_after_checkpoints = every,
                    "compaction failed; the previous files stay current"
                );
                Ok(())
            }
        }
    }

    fn batches(
        rows: &crate::fold::rows::Tables,
    ) -> Result<Vec<(&'static TableSpec, RecordBatch)>, BoxError> {
        Ok(tables::to_batches(rows)?)
    }
}

impl PartitionWorker for AggregateWorker {
    fn on_event(&mut self, event: &Event<'_>, raw: &[u8], offset: i64, ingested_at_ms: i64) {
        // `decode` accepted the payload, so it is UTF-8.
        let raw = String::from_utf8_lossy(raw);
        self.take_config();
        self.events
            .append(event, &raw, self.partition, offset, ingested_at_ms);
        self.fold.apply(event);
        self.since_advance += 1;
        self.tail_stale = true;
        if self.since_advance >= self.settings.advance_every_events {
            self.fold.advance();
            self.since_advance = 0;
        }
    }

    fn end_batch(&mut self) -> Option<Instant> {
        self.live_stale = true;
        self.publish_due()
    }

    fn tick(&mut self) -> Option<Instant> {
        self.take_config();
        self.publish_due()
    }

    fn checkpoint(&mut self, next_offset: i64) -> Result<(), BoxError> {
        self.fold.advance();
        self.since_advance = 0;
        let (rest, state) = self.fold.checkpoint();
        // What earlier tails took out of the fold and the builder, plus the rest.
        let (final_rows, events) = self.tail.take_for_commit(rest, &mut self.events)?;
        let provisional = self.fold.provisional();
        let mut final_batches = Self::batches(&final_rows)?;
        if let Some(events) = events {
            final_batches.push((&tables::EVENTS, events));
        }
        let provisional_batches = Self::batches(&provisional)?;
        let stats = self.store.commit(Commit {
            next_offset,
            state: &state,
            final_batches: &final_batches,
            provisional_batches: &provisional_batches,
        })?;
        tracing::debug!(
            topic = %self.topic,
            partition = self.partition,
            next_offset,
            sequence = stats.sequence,
            final_rows = stats.final_rows,
            provisional_rows = stats.provisional_rows,
            state_bytes = state.len(),
            "checkpoint committed"
        );
        self.publish(Some(&provisional.anomalies));
        self.tail.set_provisional(provisional_batches);
        self.publish_tail();
        self.compact_if_due()
    }
}

/// The interval between two publications: `every`, or [`PUBLISH_PAUSE_FACTOR`] times
/// the last one's cost if longer. Zero stays zero: publishing after every batch was
/// asked for explicitly (tests, and readers that want every row at once).
fn paced(every: Duration, cost: Duration) -> Duration {
    if every.is_zero() {
        return every;
    }
    every.max(cost.saturating_mul(PUBLISH_PAUSE_FACTOR))
}

/// When work last done at `last` is due again, `every` later: now if never done; `None`
/// (never) when the sum does not fit an `Instant`.
fn due_at(last: Option<Instant>, every: Duration, now: Instant) -> Option<Instant> {
    match last {
        None => Some(now),
        Some(at) => at.checked_add(every),
    }
}

impl Drop for AggregateWorker {
    fn drop(&mut self) {
        self.view.release(&self.topic, self.partition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_is_paced_by_its_interval_or_by_its_cost_if_that_is_longer() {
        let ms = Duration::from_millis;
        assert_eq!(paced(ms(250), ms(10)), ms(250));
        assert_eq!(paced(ms(250), ms(100)), ms(900));
        assert_eq!(paced(Duration::MAX, ms(100)), Duration::MAX);
        assert_eq!(paced(ms(250), Duration::MAX), Duration::MAX);
        assert_eq!(paced(Duration::ZERO, ms(100)), Duration::ZERO);
    }
}
