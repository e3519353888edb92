//! The tables `ingest` writes, as a [`TableSource`] for the query layer: [`StoreSource`]
//! reads the history under a data directory, [`LiveSource`] adds what this process's
//! aggregator holds in memory (the tails of the partitions it owns, and the live
//! observations).
//!
//! # What a snapshot holds
//! Per Kafka partition under the data directory, one of two consistent sets:
//! - **a published tail** ([`PartitionTail`], `LiveSource` only, for the partitions this
//!   process owns): the final files of the partition store's current manifest plus, as
//!   record batches, every other row the worker has (events and final rows since that
//!   checkpoint, the whole provisional tail). The provisional files on disk are *not*
//!   listed: the batches supersede them. Files and batches come from one publication,
//!   swapped under the [`LiveView`]'s lock, so they never overlap or leave a gap.
//! - **the disk**: the final and provisional files named by the partition's manifest,
//!   read once per snapshot for all tables ([`visible_files_all`]), so every table of the
//!   partition is as of the same checkpoint.
//!
//! Either way each row of the partition is there exactly once, as of one moment per
//! partition. Files and batches are restricted to the requested tenant: files are per
//! tenant already; batches (a partition may hold many tenants) are filtered on
//! `tenant_id`. A tenant's events all go to one partition (the message key is the
//! tenant), but nothing here relies on that.
//!
//! # Races with the writers
//! A snapshot names files; it does not hold them. A later checkpoint of the partition
//! deletes the provisional files a disk listing named, and a later compaction deletes
//! the final files it merged (listed from disk or in a tail). A reader that gets
//! `NotFound` for a listed file takes a new snapshot: the new one names the rows' new
//! files and never the old and the new together. Snapshots are cheap (the manifests of
//! the partitions without a tail, and `Arc` clones of the tails), so retrying is fine.
//!
//! # Layout
//! - `tests`: unit tests over a store written by the aggregator without a broker.

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use ccpulse_schemas::source::{
    Snapshot, SourceError, TableData, TableDef, TableFile, TableKind, TableSource,
};
use ccpulse_schemas::v1::arrow::events_schema;
use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::aggregate::{LiveView, PartitionTail};
use crate::store::{StoreError, TableSpec, VisibleFile, visible_files_all};
use crate::tables::{self, AGENT_LIVE, QUEUE_LIVE};

/// A table ingest stores: where it is filed, its schema, how its rows combine.
struct Stored {
    spec: &'static TableSpec,
    schema: fn() -> SchemaRef,
    kind: TableKind,
}

/// The stored tables, in the order [`TableSource::tables`] lists them; the live tables
/// follow.
const STORED: [Stored; 6] = [
    Stored {
        spec: &tables::EVENTS,
        schema: events_schema,
        kind: TableKind::Detail,
    },
    Stored {
        spec: &tables::INTERACTIONS,
        schema: tables::interactions_schema,
        kind: TableKind::Detail,
    },
    Stored {
        spec: &tables::AGENT_STATES,
        schema: tables::agent_states_schema,
        kind: TableKind::Detail,
    },
    Stored {
        spec: &tables::QUEUE_INTERVALS,
        schema: tables::queue_intervals_schema,
        kind: TableKind::Interval {
            key: &[
                "tenant_id",
                "queue_id",
                "channel",
                "direction",
                "interval_start",
            ],
        },
    },
    Stored {
        spec: &tables::AGENT_INTERVALS,
        schema: tables::agent_intervals_schema,
        kind: TableKind::Interval {
            key: &["tenant_id", "agent_id", "interval_start"],
        },
    },
    Stored {
        spec: &tables::CAMPAIGN_INTERVALS,
        schema: tables::campaign_intervals_schema,
        kind: TableKind::Interval {
            key: &["tenant_id", "campaign_id", "interval_start"],
        },
    },
];

/// Every table ingest serves, in a stable order: the six stored ones, then the two live
/// ones.
fn table_defs() -> Vec<TableDef> {
    let stored = STORED.iter().map(|table| TableDef {
        name: table.spec.name.to_owned(),
        schema: (table.schema)(),
        time_column: Some(table.spec.time_column.to_owned()),
        kind: table.kind,
    });
    let live = [
        (QUEUE_LIVE, tables::queue_live_schema()),
        (AGENT_LIVE, tables::agent_live_schema()),
    ]
    .into_iter()
    .map(|(name, schema)| TableDef {
        name: name.to_owned(),
        schema,
        time_column: None,
        kind: TableKind::Live,
    });
    stored.chain(live).collect()
}

/// The history under a data directory, and nothing else (see the module docs): for
/// `ccpulse sql --data-dir` beside a running ingest or without one.
///
/// `queue_live` and `agent_live` are always empty: offline there are no live
/// observations (they are the state of a running fold, never stored).
#[derive(Debug, Clone)]
pub struct StoreSource {
    root: PathBuf,
}

impl StoreSource {
    /// A source reading the data directory at `root` (which need not exist yet: then
    /// every table is empty).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Every tenant with at least one visible file, sorted (for a command line that
    /// picks the only tenant when none is given).
    ///
    /// # Errors
    /// [`SourceError`] when a manifest cannot be read.
    pub fn tenants(&self) -> Result<Vec<String>, SourceError> {
        let files = list_disk(&self.root, |_, _| true)?;
        let tenants: BTreeSet<String> = files.into_iter().map(|file| file.tenant_id).collect();
        Ok(tenants.into_iter().collect())
    }
}

impl TableSource for StoreSource {
    fn tables(&self) -> Vec<TableDef> {
        table_defs()
    }

    fn snapshot(&self, tenant_id: &str) -> Result<Snapshot, SourceError> {
        let files = list_disk(&self.root, |_, _| true)?;
        let mut snapshot = empty_snapshot();
        add_files(&mut snapshot, tenant_id, &files);
        Ok(snapshot)
    }
}

/// The history under a data directory plus the in-memory tails and live observations of
/// this process's aggregator (see the module docs).
#[derive(Debug, Clone)]
pub struct LiveSource {
    root: PathBuf,
    view: Arc<LiveView>,
}

impl LiveSource {
    /// A source over the data directory at `root` and `view`, the
    /// [`Aggregator::live`](crate::aggregate::Aggregator::live) of the aggregator writing
    /// under that same directory.
    pub fn new(root: PathBuf, view: Arc<LiveView>) -> Self {
        Self { root, view }
    }
}

impl TableSource for LiveSource {
    fn tables(&self) -> Vec<TableDef> {
        table_defs()
    }

    fn snapshot(&self, tenant_id: &str) -> Result<Snapshot, SourceError> {
        // Tails first. Each is one consistent set even if its partition is revoked
        // while the disk is listed (it is then merely older than the disk); a
        // partition without a tail now is read from its manifest, another consistent
        // set.
        let tails = self.view.tails();
        let with_tail: BTreeSet<(&str, i32)> = tails
            .iter()
            .map(|tail| (tail.topic.as_str(), tail.partition))
            .collect();
        let files = list_disk(&self.root, |topic, partition| {
            !with_tail.contains(&(topic, partition))
        })?;
        let mut snapshot = empty_snapshot();
        add_files(&mut snapshot, tenant_id, &files);
        for tail in &tails {
            add_tail(&mut snapshot, tenant_id, tail)?;
        }
        let queues = tables::queue_live_batch(&self.view.queue_live(Some(tenant_id)))
            .map_err(|source| arrow_error(QUEUE_LIVE, source))?;
        let agents = tables::agent_live_batch(&self.view.agent_live(Some(tenant_id)))
            .map_err(|source| arrow_error(AGENT_LIVE, source))?;
        for (name, batch) in [(QUEUE_LIVE, queues), (AGENT_LIVE, agents)] {
            if batch.num_rows() > 0 {
                table_data(&mut snapshot, name).batches.push(batch);
            }
        }
        Ok(snapshot)
    }
}

/// Every table of [`table_defs`], with no files and no batches.
fn empty_snapshot() -> Snapshot {
    let tables = table_defs()
        .into_iter()
        .map(|table| (table.name, TableData::default()))
        .collect();
    Snapshot { tables }
}

fn table_data<'a>(snapshot: &'a mut Snapshot, table: &str) -> &'a mut TableData {
    snapshot.tables.entry(table.to_owned()).or_default()
}

/// The visible files of the partitions `include` accepts, every table at once.
fn list_disk(
    root: &std::path::Path,
    include: impl FnMut(&str, i32) -> bool,
) -> Result<Vec<VisibleFile>, SourceError> {
    visible_files_all(root, include).map_err(|source: StoreError| {
        let names: Vec<String> = STORED
            .iter()
            .map(|table| format!("`{}`", table.spec.name))
            .collect();
        SourceError {
            context: format!(
                "listing the files of tables {} under {}",
                names.join(", "),
                root.display()
            ),
            source: Box::new(source),
        }
    })
}

/// Adds the files of `tenant_id` among `files` to their tables.
fn add_files(snapshot: &mut Snapshot, tenant_id: &str, files: &[VisibleFile]) {
    for file in files.iter().filter(|file| file.tenant_id == tenant_id) {
        table_data(snapshot, &file.table).files.push(TableFile {
            path: file.path.clone(),
            date: file.date,
            bytes: file.bytes,
            rows: file.rows,
        });
    }
}

/// Adds `tail`'s files and batches of `tenant_id`.
fn add_tail(
    snapshot: &mut Snapshot,
    tenant_id: &str,
    tail: &PartitionTail,
) -> Result<(), SourceError> {
    add_files(snapshot, tenant_id, &tail.files);
    for (table, batches) in &tail.batches {
        for batch in batches {
            let rows =
                tenant_rows(batch, tenant_id).map_err(|source| arrow_error(table, source))?;
            if let Some(rows) = rows {
                table_data(snapshot, table).batches.push(rows);
            }
        }
    }
    Ok(())
}

/// The rows of `batch` whose `tenant_id` is `tenant_id`; `None` when there are none. A
/// batch of that tenant only is returned as is, without copying.
fn tenant_rows(batch: &RecordBatch, tenant_id: &str) -> Result<Option<RecordBatch>, ArrowError> {
    let Some(tenants) = batch.column_by_name("tenant_id") else {
        return Err(ArrowError::SchemaError(
            "the batch has no `tenant_id` column".to_owned(),
        ));
    };
    let Some(tenants) = tenants.as_string_opt::<i32>() else {
        return Err(ArrowError::SchemaError(format!(
            "`tenant_id` is {}, expected Utf8",
            tenants.data_type()
        )));
    };
    let matches = eq(tenants, &StringArray::new_scalar(tenant_id))?;
    match matches.true_count() {
        0 => Ok(None),
        n if n == batch.num_rows() => Ok(Some(batch.clone())),
        _ => filter_record_batch(batch, &matches).map(Some),
    }
}

fn arrow_error(table: &str, source: ArrowError) -> SourceError {
    SourceError {
        context: format!("building the in-memory rows of table `{table}`"),
        source: Box::new(source),
    }
}
