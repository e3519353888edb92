//! JSON (one array) and NDJSON (one object per line): arrow's writer with explicit
//! nulls, over the converted columns of [`TextPlan::for_json`]. The array's `[` goes out
//! with the first row and its `]` at the end, so nothing is held back between batches.

use std::io::Write;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::writer::{JsonFormat, Writer, WriterBuilder};
use datafusion::arrow::record_batch::RecordBatch;

use super::sink::Sink;
use super::text::TextPlan;
use super::{ExportError, ExportFormat, ExportOptions};

pub(crate) struct JsonEncoder<W: Write, F: JsonFormat> {
    writer: Writer<Sink<W>, F>,
    plan: TextPlan,
    format: ExportFormat,
}

impl<W: Write, F: JsonFormat> JsonEncoder<W, F> {
    pub(crate) fn new(
        format: ExportFormat,
        sink: Sink<W>,
        schema: &SchemaRef,
        options: &ExportOptions,
    ) -> Self {
        JsonEncoder {
            writer: WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, F>(sink),
            plan: TextPlan::for_json(format, schema, options),
            format,
        }
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let converted = self.plan.apply(batch)?;
        self.writer
            .write(&converted)
            .map_err(|source| self.encode_error(source))
    }

    /// Closes the array (`[]` when empty) and flushes.
    pub(crate) fn finish(mut self) -> Result<(), ExportError> {
        self.writer
            .finish()
            .map_err(|source| self.encode_error(source))?;
        let format = self.format;
        self.writer
            .into_inner()
            .flush()
            .map_err(|source| ExportError::Write { format, source })
    }

    fn encode_error(&self, source: datafusion::arrow::error::ArrowError) -> ExportError {
        ExportError::EncodeText {
            format: self.format,
            source,
        }
    }
}
