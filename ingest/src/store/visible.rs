//! What readers see: the segments named by the current manifests of every partition.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::error::StoreError;
use super::layout::{CHECKPOINTS_DIR, PartitionId, check_table_name, resolve_rel};
use super::manifest::{Manifest, SegmentRef};
use super::recover::dirs_in;
use super::segment::{is_vanished, read_segment};

/// How often [`read_table`] lists again when a listed file was deleted before it was read.
const READ_ATTEMPTS: usize = 3;

/// One Parquet segment that is part of a table right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleFile {
    /// Absolute if the root was absolute: the root joined with the manifest's relative path.
    pub path: PathBuf,
    /// The table it belongs to.
    pub table: String,
    /// The tenant of every row in the file (the value of the `tenant=` directory).
    pub tenant_id: String,
    /// The UTC date of every row's time column; `None` for the `date=unknown` directory.
    pub date: Option<NaiveDate>,
    /// True for the current tail of a table (replaced at the next checkpoint of its
    /// partition), false for rows that never change.
    pub provisional: bool,
    /// Number of rows in the file.
    pub rows: u64,
    /// File size in bytes (what an object-store listing would report).
    pub bytes: u64,
    /// The Kafka topic whose partition wrote it.
    pub topic: String,
    /// The Kafka partition that wrote it.
    pub partition: i32,
}

/// Every segment currently visible for `table`, final and provisional, over all partitions'
/// manifests under `root`, sorted by path. Files not named by a manifest (a checkpoint being
/// written, leftovers of a crash) are not listed. An empty or missing root lists nothing.
///
/// A writer may delete a provisional file listed here as soon as its partition commits
/// again, and a final file as soon as its partition compacts it into a larger one: a
/// reader that gets `NotFound` should list again (the new listing names the rows'
/// new file, and never the old and the new file together).
///
/// # Errors
/// [`StoreError::InvalidName`] for an invalid table name, [`StoreError::ReadDir`], and the
/// manifest errors of [`PartitionStore::load`](super::PartitionStore::load).
pub fn visible_files(root: &Path, table: &str) -> Result<Vec<VisibleFile>, StoreError> {
    check_table_name(table)?;
    let mut files = Vec::new();
    for_each_manifest(
        root,
        |_, _| true,
        |manifest| {
            files.extend(manifest_files(root, manifest, Some(table)));
        },
    )?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Every segment currently visible, of every table, final and provisional, in the
/// partitions under `root` for which `include(topic, partition)` is true; sorted by path.
///
/// Each partition's manifest is read once, so all the files of one partition are those of
/// one checkpoint (or compaction): a reader gets every table of a partition as of one
/// moment, which listing table by table with [`visible_files`] does not promise. The
/// partitions `include` rejects are not read at all (the live source skips those whose
/// rows it has in memory). The caveats of [`visible_files`] about deleted files apply.
///
/// # Errors
/// [`StoreError::ReadDir`] and the manifest errors of
/// [`PartitionStore::load`](super::PartitionStore::load).
pub fn visible_files_all(
    root: &Path,
    include: impl FnMut(&str, i32) -> bool,
) -> Result<Vec<VisibleFile>, StoreError> {
    let mut files = Vec::new();
    for_each_manifest(root, include, |manifest| {
        files.extend(manifest_files(root, manifest, None));
    })?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Calls `each` with the current manifest of every partition under `root` that
/// `include(topic, partition)` accepts and that has committed at least once.
fn for_each_manifest(
    root: &Path,
    mut include: impl FnMut(&str, i32) -> bool,
    mut each: impl FnMut(&Manifest),
) -> Result<(), StoreError> {
    let checkpoints = root.join(CHECKPOINTS_DIR);
    if !checkpoints.is_dir() {
        return Ok(());
    }
    for (topic_dir, topic) in dirs_in(&checkpoints)? {
        for (partition_dir, name) in dirs_in(&topic_dir)? {
            let Some(partition) = name.strip_prefix('p').and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(id) = PartitionId::new(&topic, partition) else {
                continue; // not a directory the store creates
            };
            if !include(&topic, partition) {
                continue;
            }
            let Some(manifest) = Manifest::read(&partition_dir, &id)? else {
                continue; // assigned but never committed
            };
            each(&manifest);
        }
    }
    Ok(())
}

/// Every segment `manifest` names (of `table` only, if given): final ones, then
/// provisional ones.
fn manifest_files<'a>(
    root: &'a Path,
    manifest: &'a Manifest,
    table: Option<&'a str>,
) -> impl Iterator<Item = VisibleFile> + 'a {
    let finals = manifest
        .final_segments
        .iter()
        .map(|segment| (segment, false));
    let provisionals = manifest
        .provisional_segments
        .iter()
        .map(|segment| (segment, true));
    finals
        .chain(provisionals)
        .filter(move |(segment, _)| table.is_none_or(|table| segment.table == table))
        .map(move |(segment, provisional)| visible(root, manifest, segment, provisional))
}

pub(super) fn visible(
    root: &Path,
    manifest: &Manifest,
    segment: &SegmentRef,
    provisional: bool,
) -> VisibleFile {
    VisibleFile {
        path: resolve_rel(root, &segment.path),
        table: segment.table.clone(),
        tenant_id: segment.tenant_id.clone(),
        date: segment.parsed_date(),
        provisional,
        rows: segment.rows,
        bytes: segment.bytes,
        topic: manifest.topic.clone(),
        partition: manifest.partition,
    }
}

/// Reads every visible row of `table` (see [`visible_files`]), one or more batches per file
/// in path order. For tests and command-line tools: the query layer scans the same files
/// through DataFusion instead.
///
/// If a listed file is deleted before it is read (its partition committed or compacted
/// meanwhile), the files are listed again, up to three times in all.
///
/// # Errors
/// Those of [`visible_files`], and [`StoreError::OpenSegment`],
/// [`StoreError::ReadParquet`] or [`StoreError::ReadBatch`] for a file that cannot be read.
pub fn read_table(root: &Path, table: &str) -> Result<Vec<RecordBatch>, StoreError> {
    let mut attempt = 1;
    loop {
        let files = visible_files(root, table)?;
        match read_files(&files) {
            Err(err) if is_vanished(&err) && attempt < READ_ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

fn read_files(files: &[VisibleFile]) -> Result<Vec<RecordBatch>, StoreError> {
    let mut batches = Vec::new();
    for file in files {
        batches.extend(read_segment(&file.path)?);
    }
    Ok(batches)
}
