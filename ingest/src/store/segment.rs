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

/// How segments are encoded: zstd at its fastest level and page-level statistics, so
/// DataFusion can prune row groups and pages by time and tenant.
///
/// Level 1 for merged segments too. Measured on a merge of 131 072 simulator events
/// (16 checkpoint files of 5.1 MB in all): level 1 wrote 4.8 MB, level 3 (zstd's default)
/// 4.9 MB, level 6 4.5 MB in 1.8 times the merge time, level 9 4.3 MB in 2.2 times. A few
/// percent of disk is not worth delaying the partition's ingest, which runs the merge.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build()
}

/// Writes `batch` to `path` atomically (temporary name, sync, rename) and returns the
/// file's size in bytes. The parent directory must exist; syncing it is the caller's job.
///
/// # Errors
/// [`StoreError::WriteParquet`], [`StoreError::WriteFile`] or [`StoreError::Rename`].
pub(crate) fn write_segment(path: &Path, batch: &RecordBatch) -> Result<u64, StoreError> {
    write_atomic(path, |file, tmp| {
        let parquet_err = |source| StoreError::WriteParquet {
            path: tmp.to_path_buf(),
            source,
        };
        let mut writer = ArrowWriter::try_new(
            BufWriter::new(file),
            batch.schema(),
            Some(writer_properties()),
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
