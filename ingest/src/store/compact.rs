//! Compaction: merging the small final segments of one (table, tenant, date) into fewer,
//! larger, time-sorted ones. [`plan`] picks the merges from the manifest alone; [`stage`]
//! reads, checks, merges and writes them.
//! [`PartitionStore::compact`](super::PartitionStore::compact) commits the result through
//! the manifest (see the [module docs](super) for the protocol).
//!
//! # Which segments are merged: size tiers
//!
//! Every checkpoint adds one small final segment per table, tenant and date it has rows
//! for. Merging a group's segments whenever there are `min_files` of them would rewrite
//! the whole day so far each time: the merged file of a busy day is read and written again
//! every `min_files` checkpoints, so a day's rows are rewritten hundreds of times.
//! Instead segments are grouped in *size tiers*: with `F = min_files`, a segment of `r`
//! rows is in tier `⌊log_F r⌋` (with the default 16: 1–15 rows in tier 0, 16–255 in tier
//! 1, …). A tier that holds at least `F` segments of a group is merged; `F` segments of
//! tier `t` hold at least `F^(t+1)` rows, so the result lands in a higher tier. Every row
//! is therefore rewritten about once per tier — `log_F max_rows_per_file` times, 4 or 5
//! with the defaults — and each tier of a group holds fewer than `F` segments plus those
//! added since the last compaction, besides the segments too large to merge.
//!
//! A merge holds all its rows in memory (they are sorted before writing), so it takes
//! the tier's segments oldest first only while their rows add up to at most
//! `max_rows_per_file`, and starts another merge with the rest (so near that size a merge
//! may have fewer than `F` inputs and stay in its tier); segments of at least
//! `max_rows_per_file` rows are never merged again. A merge needs at least two segments.
//!
//! # What a merged segment holds
//!
//! Exactly the rows of its inputs, no more, no fewer, every column unchanged, sorted by
//! the table's time column (NULLs first; ties keep the inputs' commit order). Sorted
//! files give DataFusion tight row-group and page statistics for time-range pruning, and
//! the sort is cheap: the inputs are already roughly in time order. Interval rows with
//! equal keys are *not* summed: compaction never changes what a query sees, only how many
//! files hold it.
//!
//! Segments of one merge whose Parquet schemas differ (a newer build added a column) are
//! merged per schema: each schema's segments become one file, a lone one stays as it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt64Array};
use datafusion::arrow::compute::{cast, concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::durable::DirSync;
use super::error::StoreError;
use super::layout::{PartitionId, SegmentKind, date_dir_value, resolve_rel, segment_dir_rel};
use super::manifest::SegmentRef;
use super::segment::{read_segment, write_segment};
use super::split::split_by_tenant_and_date;
use super::table::TableSpec;

/// Which final segments [`PartitionStore::compact`](super::PartitionStore::compact) merges
/// (see the [module docs](super) and `store/compact.rs` for the size tiers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// How many segments of one (table, tenant, date) and one size tier trigger a merge,
    /// and the width of a tier (a tier's sizes span a factor of `min_files`). At least 2.
    /// Default 16: a merge replaces 16 or more segments at once, a row is rewritten 4 or
    /// 5 times on its way to a full-size file, and a group seldom holds more than a few
    /// dozen segments.
    pub min_files: usize,
    /// The most rows a merged segment holds, which is also the most rows one merge holds
    /// in memory (the inputs, then the sorted copy). Segments with at least this many
    /// rows are never merged. At least 2. Default 131 072 (2^17), measured on simulator
    /// events: the largest table per row, `events` (its rows carry the raw JSON), takes
    /// about 80 MB of Arrow memory, twice that at the peak, and 5 MB of Parquet; such a
    /// merge took half a second in a debug build.
    pub max_rows_per_file: u64,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        Self {
            min_files: default_min_files(),
            max_rows_per_file: default_max_rows_per_file(),
        }
    }
}

fn default_min_files() -> usize {
    16
}

fn default_max_rows_per_file() -> u64 {
    1 << 17
}

impl CompactionPolicy {
    /// Checks that the policy can merge anything at all.
    ///
    /// # Errors
    /// [`StoreError::InvalidPolicy`] when `min_files` or `max_rows_per_file` is below 2.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.min_files < 2 {
            return Err(StoreError::InvalidPolicy {
                rule: "min_files must be at least 2",
            });
        }
        if self.max_rows_per_file < 2 {
            return Err(StoreError::InvalidPolicy {
                rule: "max_rows_per_file must be at least 2",
            });
        }
        Ok(())
    }

    /// The size tier of a segment of `rows` rows: `⌊log_min_files rows⌋` (0 for 0 rows).
    fn tier(&self, rows: u64) -> u32 {
        let width = u64::try_from(self.min_files).unwrap_or(u64::MAX).max(2);
        let (mut tier, mut rest) = (0, rows);
        while rest >= width {
            rest /= width;
            tier += 1;
        }
        tier
    }
}

/// What a [`PartitionStore::compact`](super::PartitionStore::compact) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionStats {
    /// The sequence number of the manifest the compaction committed; `None` when there
    /// was nothing to merge and no manifest was written.
    pub sequence: Option<u64>,
    /// Final segments replaced by merged ones.
    pub input_files: usize,
    /// Merged segments written.
    pub output_files: usize,
    /// Rows moved from the inputs to the merged segments (the same rows).
    pub rows: u64,
    /// Bytes of Parquet read (the inputs' sizes).
    pub bytes_read: u64,
    /// Bytes of Parquet written.
    pub bytes_written: u64,
    /// Replaced segments deleted after the commit.
    pub superseded_removed: usize,
    /// Replaced segments that could not be deleted (logged; the next load removes them).
    pub superseded_remove_failed: usize,
}

/// One planned merge: segments of one (table, tenant, date) and one tier, as indices into
/// the manifest's final segments, in manifest order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Merge<'t> {
    pub(crate) spec: &'t TableSpec,
    pub(crate) inputs: Vec<usize>,
}

/// The merges `policy` calls for among `segments` (a manifest's final segments). Only
/// tables listed in `tables` are considered; the policy must be valid.
pub(crate) fn plan<'t>(
    segments: &[SegmentRef],
    tables: &[&'t TableSpec],
    policy: &CompactionPolicy,
) -> Vec<Merge<'t>> {
    // (table, tenant, date) → tier → segment indices, in manifest order.
    type Groups<'s> = BTreeMap<(&'s str, &'s str, &'s str), BTreeMap<u32, Vec<usize>>>;
    let mut groups: Groups<'_> = BTreeMap::new();
    for (index, segment) in segments.iter().enumerate() {
        if segment.rows == 0 || segment.rows >= policy.max_rows_per_file {
            continue;
        }
        groups
            .entry((&segment.table, &segment.tenant_id, &segment.date))
            .or_default()
            .entry(policy.tier(segment.rows))
            .or_default()
            .push(index);
    }

    let mut merges = Vec::new();
    for ((table, _, _), tiers) in groups {
        let Some(spec) = tables.iter().copied().find(|spec| spec.name == table) else {
            continue;
        };
        for indices in tiers.into_values() {
            if indices.len() < policy.min_files {
                continue;
            }
            let mut run: Vec<usize> = Vec::new();
            let mut run_rows = 0_u64;
            for index in indices {
                let rows = segments[index].rows;
                if !run.is_empty() && run_rows.saturating_add(rows) > policy.max_rows_per_file {
                    push_run(&mut merges, spec, std::mem::take(&mut run));
                    run_rows = 0;
                }
                run.push(index);
                run_rows = run_rows.saturating_add(rows);
            }
            push_run(&mut merges, spec, run);
        }
    }
    merges
}

fn push_run<'t>(merges: &mut Vec<Merge<'t>>, spec: &'t TableSpec, inputs: Vec<usize>) {
    if inputs.len() >= 2 {
        merges.push(Merge { spec, inputs });
    }
}

/// What [`stage`] wrote.
#[derive(Debug)]
pub(crate) struct Staged {
    /// Each merged segment with the indices (into the manifest's final segments) of the
    /// segments it replaces, in manifest order.
    pub(crate) outputs: Vec<(Vec<usize>, SegmentRef)>,
    pub(crate) bytes_read: u64,
    pub(crate) bytes_written: u64,
}

/// Reads, checks and merges the inputs of every merge and writes the merged segments as
/// final segments of checkpoint `sequence` (`<topic>-p<n>-<sequence>-final-<i>`), then
/// syncs their directories. Each path is pushed to `written` before its file is created,
/// so the caller can remove them all if this fails.
///
/// # Errors
/// Reading: [`StoreError::OpenSegment`], [`StoreError::ReadParquet`],
/// [`StoreError::ReadBatch`], [`StoreError::SegmentMismatch`] and the schema errors of a
/// commit; merging: [`StoreError::MergeSegments`]; writing: [`StoreError::CreateDir`],
/// [`StoreError::WriteFile`], [`StoreError::WriteParquet`], [`StoreError::Rename`],
/// [`StoreError::SyncDir`].
pub(crate) fn stage(
    root: &Path,
    id: &PartitionId,
    sequence: u64,
    segments: &[SegmentRef],
    merges: &[Merge<'_>],
    written: &mut Vec<PathBuf>,
) -> Result<Staged, StoreError> {
    let mut dirs = DirSync::default();
    let mut staged = Staged {
        outputs: Vec::new(),
        bytes_read: 0,
        bytes_written: 0,
    };
    for merge in merges {
        let Some(&first) = merge.inputs.first() else {
            continue;
        };
        let group = &segments[first];
        let dir_rel = segment_dir_rel(&group.table, &group.tenant_id, group.parsed_date());
        let dir = resolve_rel(root, &dir_rel);
        staged.bytes_read += merge.inputs.iter().map(|&i| segments[i].bytes).sum::<u64>();
        for (inputs, batch) in read_merge(root, &dir_rel, merge, segments)? {
            dirs.create_dir_all(&dir)?;
            let name = id.segment_file_name(sequence, SegmentKind::Final, staged.outputs.len());
            let path = dir.join(&name);
            written.push(path.clone());
            let bytes = write_segment(&path, &batch)?;
            dirs.add(&dir);
            staged.bytes_written += bytes;
            staged.outputs.push((
                inputs,
                SegmentRef {
                    table: group.table.clone(),
                    path: format!("{dir_rel}/{name}"),
                    tenant_id: group.tenant_id.clone(),
                    date: group.date.clone(),
                    rows: batch.num_rows() as u64,
                    bytes,
                },
            ));
        }
    }
    dirs.sync()?;
    Ok(staged)
}

/// The merged batches of one merge, one per Parquet schema that at least two inputs
/// share, each with the inputs it replaces.
fn read_merge(
    root: &Path,
    dir_rel: &str,
    merge: &Merge<'_>,
    segments: &[SegmentRef],
) -> Result<Vec<(Vec<usize>, RecordBatch)>, StoreError> {
    let mut by_schema: Vec<(SchemaRef, Vec<usize>, Vec<RecordBatch>)> = Vec::new();
    for &index in &merge.inputs {
        let segment = &segments[index];
        let path = resolve_rel(root, &segment.path);
        let batches = read_segment(&path)?;
        check_segment(merge.spec, segment, &path, &batches)?;
        let Some(schema) = batches.first().map(RecordBatch::schema) else {
            continue; // no rows (not planned: the manifest said it had some)
        };
        match by_schema.iter_mut().find(|(known, _, _)| *known == schema) {
            Some((_, inputs, all)) => {
                inputs.push(index);
                all.extend(batches);
            }
            None => by_schema.push((schema, vec![index], batches)),
        }
    }
    let merge_err = |source| StoreError::MergeSegments {
        dir: dir_rel.to_owned(),
        source,
    };
    by_schema
        .into_iter()
        .filter(|(_, inputs, _)| inputs.len() >= 2)
        .map(|(schema, inputs, batches)| {
            let merged = concat_batches(&schema, &batches).map_err(merge_err)?;
            drop(batches);
            let sorted = sort_by_time(merge.spec, merged).map_err(merge_err)?;
            Ok((inputs, sorted))
        })
        .collect()
}

/// Checks that a segment read back holds what its manifest entry says: the row count,
/// and only rows of its tenant and UTC date. A merged file must never carry a misfiled
/// row into a directory that query pruning trusts.
fn check_segment(
    spec: &TableSpec,
    segment: &SegmentRef,
    path: &Path,
    batches: &[RecordBatch],
) -> Result<(), StoreError> {
    let mismatch = |what, expected: &str, found: String| StoreError::SegmentMismatch {
        path: path.to_path_buf(),
        what,
        expected: expected.to_owned(),
        found,
    };
    let rows: u64 = batches.iter().map(|batch| batch.num_rows() as u64).sum();
    if rows != segment.rows {
        return Err(mismatch(
            "rows",
            &segment.rows.to_string(),
            rows.to_string(),
        ));
    }
    for batch in batches {
        for piece in split_by_tenant_and_date(spec, batch)? {
            if piece.tenant_id != segment.tenant_id {
                return Err(mismatch("tenant", &segment.tenant_id, piece.tenant_id));
            }
            let date = date_dir_value(piece.date);
            if date != segment.date {
                return Err(mismatch("date", &segment.date, date));
            }
        }
    }
    Ok(())
}

/// `batch` sorted by `spec`'s time column, NULLs first, stable (ties keep their order).
/// Returned as is when already sorted.
fn sort_by_time(spec: &TableSpec, batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
    let times = batch
        .column_by_name(spec.time_column)
        .ok_or_else(|| ArrowError::SchemaError(format!("no time column `{}`", spec.time_column)))?;
    // The raw i64 of a timestamp orders instants whatever the unit and zone (one schema
    // per merge, so one unit).
    let raw = cast(times, &DataType::Int64)?;
    let raw = raw
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| ArrowError::CastError("time column is not castable to Int64".into()))?;
    let key = |row: usize| raw.is_valid(row).then(|| raw.value(row));
    let mut order: Vec<usize> = (0..batch.num_rows()).collect();
    if order.is_sorted_by_key(|&row| key(row)) {
        return Ok(batch);
    }
    order.sort_by_key(|&row| key(row));
    let indices = UInt64Array::from_iter_values(order.into_iter().map(|row| row as u64));
    take_record_batch(&batch, &indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLS: TableSpec = TableSpec {
        name: "calls",
        tenant_column: "tenant_id",
        time_column: "occurred_at",
    };
    const OTHER: TableSpec = TableSpec {
        name: "other",
        ..CALLS
    };

    fn segment(table: &str, tenant: &str, rows: u64) -> SegmentRef {
        SegmentRef {
            table: table.to_owned(),
            path: String::new(),
            tenant_id: tenant.to_owned(),
            date: "2024-03-10".to_owned(),
            rows,
            bytes: rows * 10,
        }
    }

    fn policy(min_files: usize, max_rows_per_file: u64) -> CompactionPolicy {
        CompactionPolicy {
            min_files,
            max_rows_per_file,
        }
    }

    fn inputs(merges: &[Merge<'_>]) -> Vec<Vec<usize>> {
        merges.iter().map(|merge| merge.inputs.clone()).collect()
    }

    #[test]
    fn tiers_span_a_factor_of_min_files() {
        let sixteen = policy(16, 1 << 17);
        let tiers: Vec<u32> = [0, 1, 15, 16, 255, 256, 4095, 4096, u64::MAX]
            .into_iter()
            .map(|rows| sixteen.tier(rows))
            .collect();
        assert_eq!(tiers, [0, 0, 0, 1, 1, 2, 2, 3, 15]);
        assert_eq!(policy(2, 2).tier(8), 3);
    }

    #[test]
    fn a_tier_is_merged_once_it_has_min_files_segments() {
        // Tiers of width 4: 0..=3 rows, 4..=15, ...
        let mut segments: Vec<SegmentRef> = (0..3).map(|_| segment("calls", "acme", 2)).collect();
        assert!(plan(&segments, &[&CALLS], &policy(4, 1000)).is_empty());
        segments.push(segment("calls", "acme", 5)); // tier 1: not the same tier
        assert!(plan(&segments, &[&CALLS], &policy(4, 1000)).is_empty());
        segments.push(segment("calls", "acme", 1));
        let merges = plan(&segments, &[&CALLS], &policy(4, 1000));
        assert_eq!(inputs(&merges), [vec![0, 1, 2, 4]]);
        assert_eq!(merges[0].spec, &CALLS);
    }

    #[test]
    fn groups_are_table_tenant_and_date_and_unlisted_tables_are_left_alone() {
        let mut segments = Vec::new();
        for _ in 0..2 {
            segments.push(segment("calls", "acme", 1));
            segments.push(segment("calls", "beta", 1));
            segments.push(segment("other", "acme", 1));
        }
        let mut next_day = segment("calls", "acme", 1);
        next_day.date = "2024-03-11".to_owned();
        segments.push(next_day);
        let merges = plan(&segments, &[&CALLS], &policy(2, 1000));
        assert_eq!(inputs(&merges), [vec![0, 3], vec![1, 4]]);
        let merges = plan(&segments, &[&CALLS, &OTHER], &policy(2, 1000));
        assert_eq!(inputs(&merges), [vec![0, 3], vec![1, 4], vec![2, 5]]);
    }

    #[test]
    fn merges_stay_within_max_rows_and_full_segments_are_never_merged() {
        // Tier 1 of width 4: 4..=15 rows.
        let mut segments: Vec<SegmentRef> = [10, 10, 10, 4, 4]
            .into_iter()
            .map(|rows| segment("calls", "acme", rows))
            .collect();
        segments.push(segment("calls", "acme", 25)); // at the maximum: full
        segments.push(segment("calls", "acme", 30));
        let merges = plan(&segments, &[&CALLS], &policy(4, 25));
        // 10+10 | 10+4+4 (a third 10 would exceed 25 rows).
        assert_eq!(inputs(&merges), [vec![0, 1], vec![2, 3, 4]]);
        // A run of one is no merge.
        let merges = plan(&segments[..4], &[&CALLS], &policy(4, 12));
        assert!(merges.is_empty(), "{merges:?}");
    }

    #[test]
    fn policies_below_two_are_invalid() {
        assert!(CompactionPolicy::default().validate().is_ok());
        assert!(matches!(
            policy(1, 100).validate(),
            Err(StoreError::InvalidPolicy { .. })
        ));
        assert!(matches!(
            policy(16, 1).validate(),
            Err(StoreError::InvalidPolicy { .. })
        ));
    }
}
