//! [`StoreError`]: one variant per failure site, each naming the path or table involved.

use std::io;
use std::path::PathBuf;

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::errors::ParquetError;

/// Errors of the checkpoint store.
///
/// Every variant is fatal for the operation that returned it. A failed
/// [`commit`](super::PartitionStore::commit) or [`compact`](super::PartitionStore::compact)
/// leaves the previous manifest current, except [`SyncDir`](Self::SyncDir) after the
/// manifest rename, where the store asks for a fresh [`load`](super::PartitionStore::load)
/// before the next commit ([`PartitionStore::needs_load`](super::PartitionStore::needs_load)).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A topic, partition or table name cannot be used as a path component.
    #[error("invalid {kind} `{name}`: {rule}")]
    InvalidName {
        /// What was being named: `topic`, `partition` or `table`.
        kind: &'static str,
        /// The rejected name, as given.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A directory could not be created.
    #[error("creating directory `{path}`")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A directory could not be listed during recovery or listing.
    #[error("listing directory `{path}`")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The partition's lock file could not be opened or locked.
    #[error("locking `{path}`")]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Another [`PartitionStore`](super::PartitionStore), in this process or another, owns
    /// the partition.
    #[error("partition already in use: `{path}` is locked by another owner")]
    Locked { path: PathBuf },
    /// [`commit`](super::PartitionStore::commit) or [`compact`](super::PartitionStore::compact)
    /// was called before a successful [`load`](super::PartitionStore::load): the store does
    /// not know the current checkpoint.
    #[error("commit or compaction for topic `{topic}` partition {partition} before load")]
    CommitBeforeLoad { topic: String, partition: i32 },
    /// The offset to commit is negative or before the current checkpoint's offset.
    #[error(
        "next offset {next} for topic `{topic}` partition {partition} is before the committed {previous} (or negative)"
    )]
    OffsetRegressed {
        topic: String,
        partition: i32,
        previous: i64,
        next: i64,
    },
    /// The sequence number cannot be incremented any more (a corrupt manifest).
    #[error("checkpoint sequence exhausted in `{path}`")]
    SequenceExhausted { path: PathBuf },
    /// A batch lacks the tenant or time column its [`TableSpec`](super::TableSpec) names.
    #[error("table `{table}`: batch has no column `{column}`")]
    ColumnMissing { table: String, column: String },
    /// The tenant or time column has a type the store cannot partition by.
    #[error("table `{table}`: column `{column}` is {found}, expected {expected}")]
    ColumnType {
        table: String,
        column: String,
        expected: &'static str,
        found: DataType,
    },
    /// A batch has a column named like a directory key (`tenant`, `date`), which would
    /// clash with the partition columns the query layer declares.
    #[error("table `{table}`: column `{column}` is reserved for the partition directories")]
    ReservedColumn { table: String, column: String },
    /// A row's tenant id is NULL or outside the contract's `[A-Za-z0-9_.-]{1,64}`.
    #[error("table `{table}` row {row}: invalid tenant id {value}")]
    InvalidTenant {
        table: String,
        row: usize,
        /// The id, quoted and escaped, truncated to a few dozen characters; `NULL` if null.
        value: String,
    },
    /// Splitting a batch by tenant and date failed in an Arrow kernel.
    #[error("table `{table}`: splitting a batch by tenant and date")]
    SplitBatch {
        table: String,
        #[source]
        source: ArrowError,
    },
    /// A file (segment, state or manifest) could not be created, written or synced.
    #[error("writing `{path}`")]
    WriteFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Encoding a segment as Parquet failed.
    #[error("writing Parquet `{path}`")]
    WriteParquet {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },
    /// A completed temporary file could not be renamed into place.
    #[error("renaming `{from}` to `{to}`")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A directory could not be synced, so a rename in it may not be durable.
    #[error("syncing directory `{path}`")]
    SyncDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A leftover file could not be deleted during recovery.
    #[error("deleting `{path}`")]
    RemoveFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The manifest exists but could not be read.
    #[error("reading manifest `{path}`")]
    ReadManifest {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("parsing manifest `{path}`")]
    ParseManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The manifest could not be serialized (should not happen: it is plain data).
    #[error("encoding manifest `{path}`")]
    EncodeManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The manifest was written by an unknown format version.
    #[error("manifest `{path}` has format version {found}, this build reads {supported}")]
    ManifestVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The manifest parses but contradicts where it lives or what it names.
    #[error("manifest `{path}`: {what} is `{found}`, expected `{expected}`")]
    ManifestMismatch {
        path: PathBuf,
        /// The field or entry that is wrong.
        what: String,
        expected: String,
        found: String,
    },
    /// No manifest, but files of a checkpoint after the first exist: the manifest was lost,
    /// which a crash cannot cause. Nothing is deleted; an operator must decide.
    #[error(
        "no manifest at `{manifest}` but `{found}` belongs to checkpoint {sequence}: refusing to start from zero"
    )]
    ManifestMissing {
        manifest: PathBuf,
        found: PathBuf,
        sequence: u64,
    },
    /// A segment named by the manifest is not on disk.
    #[error("segment `{path}` named by the manifest is missing")]
    SegmentMissing { path: PathBuf },
    /// The state file named by the manifest is not on disk.
    #[error("state file `{path}` named by the manifest is missing")]
    StateMissing { path: PathBuf },
    /// The state file could not be read.
    #[error("reading state file `{path}`")]
    ReadState {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The state file's length or checksum differs from the manifest.
    #[error(
        "state file `{path}` is corrupt: {found_bytes} bytes with checksum {found_checksum:016x}, manifest says {expected_bytes} bytes with {expected_checksum:016x}"
    )]
    StateCorrupt {
        path: PathBuf,
        expected_bytes: u64,
        found_bytes: u64,
        expected_checksum: u64,
        found_checksum: u64,
    },
    /// A [`CompactionPolicy`](super::CompactionPolicy) that cannot work.
    #[error("invalid compaction policy: {rule}")]
    InvalidPolicy {
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A segment read for compaction does not hold what the manifest says it holds (its
    /// row count, or rows of another tenant or date): the file or the manifest was changed
    /// outside the store. Nothing is merged; the file is left for an operator.
    #[error("segment `{path}`: {what} is {found}, the manifest says {expected}")]
    SegmentMismatch {
        path: PathBuf,
        /// What differs: `rows`, `tenant`, `date`.
        what: &'static str,
        expected: String,
        found: String,
    },
    /// Concatenating or sorting the segments of one compaction merge failed in an Arrow
    /// kernel.
    #[error("merging segments in `{dir}`")]
    MergeSegments {
        /// The segments' directory, relative to the root.
        dir: String,
        #[source]
        source: ArrowError,
    },
    /// A segment could not be opened for reading.
    #[error("opening segment `{path}`")]
    OpenSegment {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A segment is not readable Parquet.
    #[error("reading Parquet `{path}`")]
    ReadParquet {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },
    /// Decoding a record batch from a segment failed.
    #[error("decoding a record batch of `{path}`")]
    ReadBatch {
        path: PathBuf,
        #[source]
        source: ArrowError,
    },
}
