//! CSV: arrow's writer (RFC 4180 quoting, `\n` line ends) over the converted columns of
//! [`TextPlan::for_csv`], one batch at a time.

use std::io::Write;

use datafusion::arrow::csv::{Writer, WriterBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use super::sink::Sink;
use super::text::TextPlan;
use super::{ExportError, ExportFormat, ExportOptions};

pub(crate) struct CsvEncoder<W: Write> {
    writer: Writer<Sink<W>>,
    plan: TextPlan,
    /// Whether a batch went out: the header is written with the first one.
    started: bool,
}

impl<W: Write> CsvEncoder<W> {
    pub(crate) fn new(sink: Sink<W>, schema: &SchemaRef, options: &ExportOptions) -> Self {
        CsvEncoder {
            writer: WriterBuilder::new().with_header(true).build(sink),
            plan: TextPlan::for_csv(schema, options),
            started: false,
        }
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let converted = self.plan.apply(batch)?;
        self.writer.write(&converted).map_err(encode_error)?;
        self.started = true;
        Ok(())
    }

    /// Writes the header if no batch did (an empty result), then flushes.
    pub(crate) fn finish(mut self) -> Result<(), ExportError> {
        if !self.started {
            let empty = RecordBatch::new_empty(self.plan.schema().clone());
            self.writer.write(&empty).map_err(encode_error)?;
        }
        let mut sink = self.writer.into_inner();
        sink.flush().map_err(|source| ExportError::Write {
            format: ExportFormat::Csv,
            source,
        })
    }
}

fn encode_error(source: datafusion::arrow::error::ArrowError) -> ExportError {
    ExportError::EncodeText {
        format: ExportFormat::Csv,
        source,
    }
}
