//! Parquet: the batches as they are, through parquet's `ArrowWriter`, so every Arrow type
//! (timestamps with their zone, lists, maps) survives the round trip.
//!
//! zstd (the workspace's parquet has its codecs on): report results are repetitive and
//! compress well, and every Parquet reader we expect (DataFusion, DuckDB, pandas, Spark)
//! reads it. Row groups are capped at [`ROW_GROUP_ROWS`] because the writer holds a
//! whole encoded row group in memory before writing it out.

use std::io::Write;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::ExportError;
use super::sink::Sink;

/// Rows per row group: small enough to bound the writer's buffer, large enough for
/// readers to skip and decode efficiently.
const ROW_GROUP_ROWS: usize = 128 * 1024;

pub(crate) struct ParquetEncoder<W: Write + Send> {
    writer: ArrowWriter<Sink<W>>,
}

impl<W: Write + Send> ParquetEncoder<W> {
    pub(crate) fn new(sink: Sink<W>, schema: &SchemaRef) -> Result<Self, ExportError> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(sink, schema.clone(), Some(properties))
            .map_err(|source| ExportError::EncodeParquet { source })?;
        Ok(ParquetEncoder { writer })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        self.writer
            .write(batch)
            .map_err(|source| ExportError::EncodeParquet { source })
    }

    /// Writes the last row group and the footer, then flushes.
    pub(crate) fn finish(self) -> Result<(), ExportError> {
        let mut sink = self
            .writer
            .into_inner()
            .map_err(|source| ExportError::EncodeParquet { source })?;
        sink.flush().map_err(|source| ExportError::Write {
            format: super::ExportFormat::Parquet,
            source,
        })
    }
}
