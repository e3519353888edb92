//! [`TableSource`]: where the query layer gets ccpulse's tables from. `ingest` implements
//! it (the Parquet history under a data directory, plus the aggregator's in-memory tail
//! and live observations); `query` reads through it; the binary connects the two. The
//! two crates never depend on each other (ARCHITECTURE.md, "Crate graph").
//!
//! A source hands out a [`Snapshot`] of one tenant: for every table, the Parquet files
//! to scan and the in-memory record batches to union with them. Together they hold each
//! row of that tenant exactly once, as of one moment per Kafka partition.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

/// The source of every table the query layer serves (see the module docs).
pub trait TableSource: Send + Sync + fmt::Debug {
    /// Every table this source serves, in a stable order.
    fn tables(&self) -> Vec<TableDef>;

    /// Every row of `tenant_id` in every table of [`tables`](Self::tables), as Parquet
    /// files plus in-memory batches that hold no row twice. Files and batches hold rows
    /// of `tenant_id` only.
    ///
    /// # Errors
    /// [`SourceError`] when the history cannot be listed (an unreadable manifest, say).
    fn snapshot(&self, tenant_id: &str) -> Result<Snapshot, SourceError>;
}

/// A table: its SQL name, Arrow schema and how its rows are filed.
#[derive(Debug, Clone)]
pub struct TableDef {
    /// The SQL name (metrics.md, "SQL tables").
    pub name: String,
    /// The schema of every file and batch of the table.
    pub schema: SchemaRef,
    /// The `Timestamp` column whose UTC date files are grouped by ([`TableFile::date`]);
    /// `None` for tables with no files (the live observations).
    pub time_column: Option<String>,
    /// How rows of the table combine (see [`TableKind`]).
    pub kind: TableKind,
}

/// How a table's rows relate to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// One row per fact (an event, a queue visit, a state span).
    Detail,
    /// Additive deltas of interval counters: rows with equal key columns are parts of one
    /// row and are summed (minimums and maximums combined). The key columns are listed.
    Interval {
        /// The columns that identify one interval row, e.g. `tenant_id, queue_id,
        /// channel, direction, interval_start`.
        key: &'static [&'static str],
    },
    /// Gauges computed from live state (`queue_live`, `agent_live`): batches only.
    Live,
}

/// One tenant's rows of every table at one moment (see [`TableSource::snapshot`]).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Per table name; a table of [`TableSource::tables`] missing here is empty.
    pub tables: BTreeMap<String, TableData>,
}

/// The rows of one table: Parquet files plus in-memory batches.
#[derive(Debug, Clone, Default)]
pub struct TableData {
    /// Files to scan, each holding rows of a single UTC date of the time column.
    pub files: Vec<TableFile>,
    /// Rows not (yet) in any file.
    pub batches: Vec<RecordBatch>,
}

/// One Parquet file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFile {
    /// Where it is.
    pub path: PathBuf,
    /// The UTC date of the time column of every row; `None` when the rows have no time.
    pub date: Option<NaiveDate>,
    /// Size in bytes.
    pub bytes: u64,
    /// Number of rows.
    pub rows: u64,
}

/// Why a source could not produce a snapshot.
#[derive(Debug)]
pub struct SourceError {
    /// What the source was doing, e.g. "listing the files of table `events`".
    pub context: String,
    /// The failure.
    pub source: Box<dyn StdError + Send + Sync>,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl StdError for SourceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.source.as_ref())
    }
}
