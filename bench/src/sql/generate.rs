//! The SQL benchmark's data set: simulator traffic folded and stored by ingest's own code
//! (`Fold` → `tables::to_batches` → `PartitionStore::commit`, compaction included), so the
//! query engine reads it exactly as it reads a production data directory.
//!
//! It is the aggregator's checkpoint path without the broker and without the live view:
//! events are handed straight to one fold per partition, on one thread per partition
//! (tenants spread over the partitions as the topic's key would spread them), with a
//! checkpoint every [`Plan::checkpoint_events`] events of a partition and a compaction try
//! every 16th checkpoint, as `AggregateWorker` does.
//!
//! **The `events` table holds only the `interaction.created` events**, with their real
//! raw JSON. Ingest stores every event there; at ~8 events per interaction that would be
//! ~80 million rows (several GiB of raw JSON) for the 10 million interactions, and most of
//! the generation time, for one report (`abandoned_contacts`) that reads nothing but the
//! `interaction.created` rows. Both engines read the same, smaller table; the cost this
//! leaves out is scanning the other event types' `type` column (the section says so).
//!
//! The data directory is kept across runs under a name made of its parameters, with a
//! marker file written last: a run finding the marker reuses the data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use ccpulse_ingest::aggregate::AggregatorSettings;
use ccpulse_ingest::fold::{Fold, FoldConfig};
use ccpulse_ingest::store::{Commit, CompactionPolicy, DataDir, PartitionStore};
use ccpulse_ingest::tables;
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use ccpulse_schemas::v1::Event;
use ccpulse_schemas::v1::arrow::EventsBatchBuilder;
use serde::{Deserialize, Serialize};

/// The topic name the partitions' files and checkpoints are filed under.
const TOPIC: &str = "ccpulse.events";
/// A compaction is tried after this many checkpoints, as the aggregator's default.
const COMPACT_EVERY: usize = 16;
/// Events per message between the simulator and a worker.
const CHUNK: usize = 4096;
/// The marker file, written when the data directory is complete.
const MARKER: &str = "GENERATED.json";

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) sim: SimConfig,
    /// Partitions, each with its own fold, store and thread.
    pub(crate) partitions: i32,
    /// Events of a partition between two checkpoints. Production checkpoints every 5 s
    /// or 100,000 messages; each checkpoint writes the whole fold state, which is not
    /// what this benchmark measures, so here every 1,000,000 events (200,000 with
    /// `--quick`): the files the queries read are the compacted ones either way.
    pub(crate) checkpoint_events: usize,
}

impl Plan {
    /// The full data set (≥ 10 million interactions) or the `--quick` one (~100k).
    pub(crate) fn new(quick: bool) -> Self {
        let sim = if quick {
            SimConfig {
                tenants: 2,
                scale: 4.0,
                ..SimConfig::default()
            }
        } else {
            // ~6,900 queue visits per tenant, day and unit of scale (simulator v1):
            // 2 × 135 × 6 × 6,900 ≈ 11.2 million, one large tenant per partition.
            SimConfig {
                tenants: 2,
                scale: 135.0,
                duration_ms: 6 * SimConfig::DEFAULT_DURATION_MS,
                ..SimConfig::default()
            }
        };
        Self {
            sim,
            partitions: 2,
            // The quick data set still goes through several checkpoints and a compaction.
            checkpoint_events: if quick { 200_000 } else { 1_000_000 },
        }
    }

    /// The directory name: every parameter that changes the data.
    fn dir_name(&self) -> String {
        format!(
            "sql-data-v1-seed{}-t{}-s{}-d{}-p{}-c{}",
            self.sim.seed,
            self.sim.tenants,
            self.sim.scale,
            self.sim.duration_ms / 3_600_000,
            self.partitions,
            self.checkpoint_events
        )
    }
}

/// What the generation made (read from the marker when reused).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Generated {
    pub(crate) events: u64,
    pub(crate) interaction_created: u64,
    pub(crate) checkpoints: u64,
    pub(crate) compactions: u64,
    /// How long the generation took when it ran.
    pub(crate) seconds: f64,
}

/// The data directory of `plan` under `work`, generated unless a complete one is there;
/// also whether it was reused.
pub(crate) fn ensure(work: &Path, plan: &Plan) -> Result<(PathBuf, Generated, bool)> {
    let root = work.join(plan.dir_name());
    let marker = root.join(MARKER);
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let generated: Generated = serde_json::from_str(&text)
            .with_context(|| format!("reading `{}`", marker.display()))?;
        eprintln!("  reusing the data in `{}`", root.display());
        return Ok((root, generated, true));
    }
    if root.exists() {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("removing the incomplete `{}`", root.display()))?;
    }
    std::fs::create_dir_all(&root).with_context(|| format!("creating `{}`", root.display()))?;
    eprintln!(
        "  generating {} tenants × {:.0} h at scale {} into `{}`",
        plan.sim.tenants,
        plan.sim.duration_ms as f64 / 3_600_000.0,
        plan.sim.scale,
        root.display()
    );
    let generated = generate(&root, plan)?;
    std::fs::write(&marker, serde_json::to_string_pretty(&generated)?)
        .with_context(|| format!("writing `{}`", marker.display()))?;
    Ok((root, generated, false))
}

/// One partition's totals.
#[derive(Debug, Default)]
struct PartitionTotals {
    events: u64,
    interaction_created: u64,
    checkpoints: u64,
    compactions: u64,
}

fn generate(root: &Path, plan: &Plan) -> Result<Generated> {
    let started = Instant::now();
    let simulator = Simulator::new(plan.sim.clone()).context("configuring the simulator")?;
    let folded = AtomicU64::new(0);
    let totals = std::thread::scope(|scope| -> Result<Vec<PartitionTotals>> {
        let mut senders: Vec<SyncSender<Vec<Event<'static>>>> = Vec::new();
        let mut workers = Vec::new();
        for partition in 0..plan.partitions {
            let (sender, receiver) = sync_channel(4);
            senders.push(sender);
            let folded = &folded;
            workers.push(scope.spawn(move || {
                fold_partition(root, partition, receiver, plan.checkpoint_events, folded)
                    .with_context(|| format!("partition {partition}"))
            }));
        }
        let simulated = simulate(simulator, plan, &senders, &folded, started);
        drop(senders); // the workers finish their last checkpoint
        let mut totals = Vec::new();
        for worker in workers {
            totals.push(
                worker
                    .join()
                    .map_err(|_| anyhow!("a partition's thread panicked"))??,
            );
        }
        simulated?;
        Ok(totals)
    })?;
    let sum = |f: fn(&PartitionTotals) -> u64| totals.iter().map(f).sum();
    let generated = Generated {
        events: sum(|t| t.events),
        interaction_created: sum(|t| t.interaction_created),
        checkpoints: sum(|t| t.checkpoints),
        compactions: sum(|t| t.compactions),
        seconds: started.elapsed().as_secs_f64(),
    };
    eprintln!(
        "  generated {} events in {:.0} s",
        generated.events, generated.seconds
    );
    Ok(generated)
}

/// Runs the simulation, sending each tenant's events to its partition in chunks;
/// reports progress every 10 s.
fn simulate(
    simulator: Simulator,
    plan: &Plan,
    senders: &[SyncSender<Vec<Event<'static>>>],
    folded: &AtomicU64,
    started: Instant,
) -> Result<()> {
    // Tenants go to partitions in the order they first appear, round robin: the two
    // largest (the catalog's first two) land on different partitions.
    let mut partition_of: HashMap<String, usize> = HashMap::new();
    let mut chunks: Vec<Vec<Event<'static>>> = vec![Vec::with_capacity(CHUNK); senders.len()];
    let (start, end) = (plan.sim.start_ms, plan.sim.end_ms());
    let mut last_report = Instant::now();
    for event in simulator {
        let next = partition_of.len() % senders.len();
        let partition = *partition_of
            .entry(event.tenant_id.to_string())
            .or_insert(next);
        let at = event.occurred_at;
        chunks[partition].push(event);
        if chunks[partition].len() >= CHUNK {
            let chunk = std::mem::replace(&mut chunks[partition], Vec::with_capacity(CHUNK));
            senders[partition]
                .send(chunk)
                .map_err(|_| anyhow!("partition {partition}'s thread stopped early"))?;
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            let done = (at - start) as f64 / (end - start) as f64;
            let events = folded.load(Ordering::Relaxed);
            eprintln!(
                "  {:.0} % of the simulated period, {} events folded ({:.0}/s)",
                done * 100.0,
                events,
                events as f64 / started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    for (partition, chunk) in chunks.into_iter().enumerate() {
        if !chunk.is_empty() {
            senders[partition]
                .send(chunk)
                .map_err(|_| anyhow!("partition {partition}'s thread stopped early"))?;
        }
    }
    Ok(())
}

/// One partition's fold and store: folds what arrives, checkpoints and compacts as the
/// aggregator does, and checkpoints once more at the end.
fn fold_partition(
    root: &Path,
    partition: i32,
    events: Receiver<Vec<Event<'static>>>,
    checkpoint_events: usize,
    folded: &AtomicU64,
) -> Result<PartitionTotals> {
    let data_dir = DataDir::open(root).context("opening the data directory")?;
    let mut store = data_dir.partition(TOPIC, partition);
    if store
        .load()
        .context("loading the partition store")?
        .is_some()
    {
        bail!("the partition already has a checkpoint: the data directory is not new");
    }
    let mut worker = Worker {
        store,
        fold: Fold::new(Arc::new(FoldConfig::default())),
        created: EventsBatchBuilder::new(),
        totals: PartitionTotals::default(),
    };
    let advance_every = AggregatorSettings::default().advance_every_events;
    let mut offset: i64 = 0;
    let (mut since_advance, mut since_checkpoint) = (0, 0);
    for chunk in events {
        for event in &chunk {
            worker.fold.apply(event);
            if event.event_type.as_str() == "interaction.created" {
                let raw = event.to_json();
                worker
                    .created
                    .append(event, &raw, partition, offset, event.occurred_at);
                worker.totals.interaction_created += 1;
            }
            offset += 1;
            since_advance += 1;
            since_checkpoint += 1;
            if since_advance >= advance_every {
                worker.fold.advance();
                since_advance = 0;
            }
            if since_checkpoint >= checkpoint_events {
                worker.checkpoint(offset)?;
                since_checkpoint = 0;
                since_advance = 0;
            }
        }
        worker.totals.events += chunk.len() as u64;
        folded.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    worker.checkpoint(offset)?;
    worker.compact()?;
    Ok(worker.totals)
}

/// A partition's state while generating.
struct Worker {
    store: PartitionStore,
    fold: Fold,
    /// The `interaction.created` events since the last checkpoint.
    created: EventsBatchBuilder,
    totals: PartitionTotals,
}

impl Worker {
    /// `AggregateWorker::checkpoint` without the live view: final rows and new events,
    /// the provisional tail and the fold's state, committed as one checkpoint.
    fn checkpoint(&mut self, next_offset: i64) -> Result<()> {
        self.fold.advance();
        let (rest, state) = self.fold.checkpoint();
        let mut final_batches = tables::to_batches(&rest).context("converting final rows")?;
        if !self.created.is_empty() {
            final_batches.push((&tables::EVENTS, self.created.finish()));
        }
        let provisional =
            tables::to_batches(&self.fold.provisional()).context("converting the tail")?;
        self.store
            .commit(Commit {
                next_offset,
                state: &state,
                final_batches: &final_batches,
                provisional_batches: &provisional,
            })
            .context("committing a checkpoint")?;
        self.totals.checkpoints += 1;
        if self.totals.checkpoints.is_multiple_of(COMPACT_EVERY as u64) {
            self.compact()?;
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<()> {
        let stats = self
            .store
            .compact(&tables::ALL, &CompactionPolicy::default())
            .context("compacting")?;
        if stats.sequence.is_some() {
            self.totals.compactions += 1;
        }
        Ok(())
    }
}
