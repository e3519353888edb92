//! The in-memory tail: what a partition worker holds between two checkpoints, published
//! to the [`LiveView`](super::LiveView) so SQL sees rows seconds after ingest instead of
//! at the next checkpoint.
//!
//! A [`PartitionTail`] is a consistent pair: the **final files** named by the partition
//! store's current manifest ([`PartitionStore::final_files`]), and **batches** holding
//! exactly the rows of the partition that are in none of those files:
//! - the raw events read since that checkpoint;
//! - the final rows the fold emitted since that checkpoint;
//! - the fold's whole provisional tail ([`Fold::provisional`]), which supersedes the
//!   provisional files on disk: a reader of the tail must not read those.
//!
//! Files plus batches therefore equal the fold of every event the worker has read, which
//! is what the next checkpoint will make durable.
//!
//! # Incremental, not quadratic
//! [`TailBuffer`] keeps what the next checkpoint will write and what every tail since the
//! last checkpoint shared: at each publication the raw-events builder is finished into a
//! pending batch and the fold's new final rows are taken ([`Fold::take_final`]) and
//! converted once; only the provisional tail is recomputed. The next checkpoint writes
//! the pending rows plus the rest *exactly as before*: the pending events batches and the
//! rest are concatenated into one batch, and the pending final rows are merged with the
//! rest as the fold itself would have merged them (interval deltas of equal key summed),
//! so the Parquet files and the state are the same bytes with or without tails.

use std::collections::BTreeMap;
use std::sync::Arc;

use ccpulse_schemas::v1::arrow::EventsBatchBuilder;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::fold::Fold;
use crate::fold::rows::Tables;
use crate::store::{PartitionStore, TableSpec, VisibleFile};
use crate::tables;

/// One owned partition's rows as its worker knows them, published to the
/// [`LiveView`](super::LiveView): final files plus the batches of every other row (see
/// the module docs).
#[derive(Debug, Clone)]
pub struct PartitionTail {
    pub topic: String,
    pub partition: i32,
    /// The sequence number of the manifest whose final files `files` are; `None` before
    /// the partition's first checkpoint.
    pub sequence: Option<u64>,
    /// The final files of every table named by that manifest. Provisional files are left
    /// out: `batches` hold their rows, as of now.
    pub files: Arc<[VisibleFile]>,
    /// Per table name (`events` and the derived tables), the rows of the partition in no
    /// file of `files`, every tenant of the partition mixed. A table without rows may be
    /// missing.
    pub batches: BTreeMap<&'static str, Vec<RecordBatch>>,
}

impl PartitionTail {
    /// Rows of `table` in `batches`.
    pub fn batch_rows(&self, table: &str) -> usize {
        self.batches
            .get(table)
            .map_or(0, |batches| batches.iter().map(RecordBatch::num_rows).sum())
    }

    /// Rows of `table` in `files` (as their manifest records them).
    pub fn file_rows(&self, table: &str) -> u64 {
        self.files
            .iter()
            .filter(|file| file.table == table)
            .map(|file| file.rows)
            .sum()
    }
}

/// What a worker holds for its tail between two checkpoints (see the module docs).
#[derive(Debug, Default)]
pub(super) struct TailBuffer {
    /// Raw events read since the last checkpoint that an earlier tail already holds, in
    /// offset order (the rest is still in the worker's builder).
    events: Vec<RecordBatch>,
    /// Final rows taken out of the fold since the last checkpoint, merged as the fold
    /// merges them: the next checkpoint writes them.
    finals: Tables,
    /// The same rows as Arrow, one batch per table and take, for the tails.
    final_batches: Vec<(&'static TableSpec, RecordBatch)>,
    /// The provisional tail as of the last publication, kept to publish again when only
    /// the files change (after a compaction).
    provisional: Vec<(&'static TableSpec, RecordBatch)>,
    /// A conversion failed since the last checkpoint: `final_batches` may miss rows, so
    /// no tail is published until the next checkpoint (which needs the same conversion,
    /// and fails the same way if the data is really unconvertible).
    broken: bool,
    /// The final files of the manifest with this sequence number, built once per
    /// manifest rather than once per publication.
    files: Option<(Option<u64>, Arc<[VisibleFile]>)>,
}

impl TailBuffer {
    /// Whether a conversion failed since the last checkpoint (see `broken`).
    pub(super) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Moves what happened since the last publication into the buffer: the events
    /// builder's rows, and the fold's final rows (as Arrow too); then takes `provisional`
    /// as the provisional tail. On error the buffer is marked broken, the final rows are
    /// kept for the checkpoint, and nothing may be published until then.
    ///
    /// # Errors
    /// [`ArrowError`] from [`tables::to_batches`] (a counter above `i64::MAX`).
    pub(super) fn take_new(
        &mut self,
        fold: &mut Fold,
        events: &mut EventsBatchBuilder,
    ) -> Result<(), ArrowError> {
        if !events.is_empty() {
            self.events.push(events.finish());
        }
        let taken = fold.take_final();
        let converted = tables::to_batches(&taken);
        merge_into(&mut self.finals, taken);
        let provisional = converted.and_then(|batches| {
            self.final_batches.extend(batches);
            tables::to_batches(&fold.provisional())
        });
        match provisional {
            Ok(provisional) => {
                self.provisional = provisional;
                Ok(())
            }
            Err(error) => {
                self.broken = true;
                Err(error)
            }
        }
    }

    /// Takes what the next checkpoint writes: every final row since the last checkpoint
    /// (the buffer's and `rest`, from [`Fold::checkpoint`]) and every raw event since
    /// then (the buffer's and `events`'), in one batch; empties the buffer.
    ///
    /// # Errors
    /// [`ArrowError`] if the events batches cannot be concatenated, which would mean
    /// builders disagreeing on the schema (a bug).
    pub(super) fn take_for_commit(
        &mut self,
        rest: Tables,
        events: &mut EventsBatchBuilder,
    ) -> Result<(Tables, Option<RecordBatch>), ArrowError> {
        let mut finals = std::mem::take(&mut self.finals);
        merge_into(&mut finals, rest);
        self.final_batches.clear();
        self.broken = false;
        let mut pending = std::mem::take(&mut self.events);
        if !events.is_empty() {
            pending.push(events.finish());
        }
        let events = match pending.len() {
            0 => None,
            1 => pending.pop(),
            _ => Some(concat_batches(pending[0].schema_ref(), &pending)?),
        };
        Ok((finals, events))
    }

    /// Takes `provisional` as the provisional tail (the one a checkpoint just wrote).
    pub(super) fn set_provisional(&mut self, provisional: Vec<(&'static TableSpec, RecordBatch)>) {
        self.provisional = provisional;
    }

    /// The tail to publish: `store`'s final files and the buffer's batches.
    pub(super) fn tail(
        &mut self,
        topic: &str,
        partition: i32,
        store: &PartitionStore,
    ) -> PartitionTail {
        let sequence = store.sequence();
        let files = match &self.files {
            Some((cached, files)) if *cached == sequence => Arc::clone(files),
            _ => {
                let files: Arc<[VisibleFile]> = store.final_files().into();
                self.files = Some((sequence, Arc::clone(&files)));
                files
            }
        };
        let mut batches: BTreeMap<&'static str, Vec<RecordBatch>> = BTreeMap::new();
        if !self.events.is_empty() {
            batches.insert(tables::EVENTS.name, self.events.clone());
        }
        for (spec, batch) in self.final_batches.iter().chain(&self.provisional) {
            batches.entry(spec.name).or_default().push(batch.clone());
        }
        PartitionTail {
            topic: topic.to_owned(),
            partition,
            sequence,
            files,
            batches,
        }
    }
}

/// `into.merge(rows)`, without copying when `into` is empty (the common case of a
/// checkpoint with no tail published since the previous one).
fn merge_into(into: &mut Tables, rows: Tables) {
    if into.is_empty() {
        *into = rows;
    } else {
        into.merge(rows);
    }
}
