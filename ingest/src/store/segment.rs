//! Writing one record batch as a Parquet segment, and reading segments back.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::durable::write_atomic;
use super::error::StoreError;

/// How hard a segment is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effort {
    /// Checkpoint segments: zstd at its fastest level (1). Checkpoints are frequent and
    /// small, and most of their files are merged again soon.
    Fast,
    /// Merged segments: zstd level 3, zstd's own default. They are written rarely and
    /// read by every query over their day, so a little more CPU for smaller files pays;
    /// levels well above 3 cost several times the CPU for a few percent.
    Compact,
}

/// How segments are encoded: zstd (see [`Effort`]) and page-level statistics, so
/// DataFusion can prune row groups and pages by time and tenant.
fn writer_properties(effort: Effort) -> WriterProperties {
    let level = match effort {
        Effort::Fast => ZstdLevel::default(),
        // 3 is within zstd's range (1..=22), so this never falls back.
        Effort::Compact => ZstdLevel::try_new(3).unwrap_or_default(),
    };
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build()
}

/// Writes `batch` to `path` atomically (temporary name, sync, rename) and returns the
/// file's size in bytes. The parent directory must exist; syncing it is the caller's job.
///
/// # Errors
/// [`StoreError::WriteParquet`], [`StoreError::WriteFile`] or [`StoreError::Rename`].
pub(crate) fn write_segment(
    path: &Path,
    batch: &RecordBatch,
    effort: Effort,
) -> Result<u64, StoreError> {
    write_atomic(path, |file, tmp| {
        let parquet_err = |source| StoreError::WriteParquet {
            path: tmp.to_path_buf(),
            source,
        };
        let mut writer = ArrowWriter::try_new(
            BufWriter::new(file),
            batch.schema(),
            Some(writer_properties(effort)),
        )
        .map_err(parquet_err)?;
        writer.write(batch).map_err(parquet_err)?;
        let buffered = writer.into_inner().map_err(parquet_err)?;
        buffered.into_inner().map_err(|err| StoreError::WriteFile {
            path: tmp.to_path_buf(),
            source: err.into_error(),
        })
    })
}

/// Reads every record batch of the segment at `path`.
///
/// # Errors
/// [`StoreError::OpenSegment`] (with [`io::ErrorKind::NotFound`] if the file is gone),
/// [`StoreError::ReadParquet`] or [`StoreError::ReadBatch`].
pub(crate) fn read_segment(path: &Path) -> Result<Vec<RecordBatch>, StoreError> {
    let file = File::open(path).map_err(|source| StoreError::OpenSegment {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.build())
        .map_err(|source| StoreError::ReadParquet {
            path: path.to_path_buf(),
            source,
        })?;
    reader
        .map(|batch| {
            batch.map_err(|source| StoreError::ReadBatch {
                path: path.to_path_buf(),
                source,
            })
        })
        .collect()
}

/// Whether `err` says a segment vanished between listing and opening it.
pub(crate) fn is_vanished(err: &StoreError) -> bool {
    matches!(err, StoreError::OpenSegment { source, .. } if source.kind() == io::ErrorKind::NotFound)
}
