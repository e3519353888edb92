//! [`ExportError`]: why a download could not be written.

use std::io;

use datafusion::arrow::error::ArrowError;
use datafusion::parquet::errors::ParquetError;
use rust_xlsxwriter::XlsxError;

use super::ExportFormat;

/// Why a download could not be written.
///
/// Kept apart from [`crate::Error`]: a query can succeed and its download still fail (the
/// client went away, the result is too big for Excel), and the API answers the two
/// differently. [`ExportError::is_client_error`] and [`ExportError::code`] give it what
/// it needs. Messages name the column or limit concerned, never a value of the data.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The requested format name or file extension is not one we write.
    #[error(
        "unknown export format {name:?}; expected csv, json, ndjson (or jsonl), xlsx or parquet"
    )]
    UnknownFormat {
        /// The name, extension or file name given.
        name: String,
    },

    /// A batch's columns differ from the schema the writer was created with.
    #[error(
        "a batch does not match the download's columns: expected ({expected}), found ({found})"
    )]
    BatchSchema { expected: String, found: String },

    /// Writing to the output failed (a full disk, a client that went away).
    #[error("writing the {format} download failed")]
    Write {
        format: ExportFormat,
        #[source]
        source: io::Error,
    },

    /// The CSV or JSON encoder refused a batch (a column type with no text form).
    #[error("encoding the {format} download failed")]
    EncodeText {
        format: ExportFormat,
        #[source]
        source: ArrowError,
    },

    /// A column could not be turned into text or numbers for CSV, JSON or XLSX (a cast
    /// or display Arrow does not support for its type).
    #[error("column {column:?} could not be converted for the download")]
    ConvertColumn {
        column: String,
        #[source]
        source: ArrowError,
    },

    /// A date or timestamp lies outside the calendar range dates can be written in.
    #[error(
        "column {column:?} holds a date or timestamp ({value}) outside the supported calendar range"
    )]
    DateOutOfRange {
        column: String,
        /// The raw value: days for dates, the column's unit since 1970 for timestamps.
        value: i64,
    },

    /// XLSX: the worksheet's temporary file could not be created (rows are spooled to
    /// disk to keep memory bounded; see [`super::ExportOptions::temp_dir`]).
    #[error("could not create the temporary file the XLSX download is spooled to")]
    XlsxTempFile {
        #[source]
        source: XlsxError,
    },

    /// XLSX: the workbook writer refused a cell or could not assemble the file.
    #[error("encoding the XLSX download failed")]
    EncodeXlsx {
        #[source]
        source: XlsxError,
    },

    /// XLSX: the result has more rows than the download may hold (Excel's sheet limit,
    /// or a lower [`super::ExportOptions::max_xlsx_rows`]). Nothing was written.
    #[error(
        "the result has more than {limit} rows, more than an Excel sheet can hold; download it as CSV or Parquet instead"
    )]
    TooManyRowsForXlsx { limit: u32 },

    /// XLSX: the result has more columns than an Excel sheet holds.
    #[error(
        "the result has {columns} columns, more than the {limit} of an Excel sheet; download it as CSV or Parquet instead"
    )]
    TooManyColumnsForXlsx { columns: usize, limit: usize },

    /// Parquet: the writer refused the schema or a batch.
    #[error("encoding the Parquet download failed")]
    EncodeParquet {
        #[source]
        source: ParquetError,
    },
}

impl ExportError {
    /// Whether the request caused the error (HTTP 4xx: a format we don't write, a result
    /// too big for Excel) rather than the service or the connection (5xx).
    pub fn is_client_error(&self) -> bool {
        match self {
            ExportError::UnknownFormat { .. }
            | ExportError::TooManyRowsForXlsx { .. }
            | ExportError::TooManyColumnsForXlsx { .. } => true,
            ExportError::BatchSchema { .. }
            | ExportError::Write { .. }
            | ExportError::EncodeText { .. }
            | ExportError::ConvertColumn { .. }
            | ExportError::DateOutOfRange { .. }
            | ExportError::XlsxTempFile { .. }
            | ExportError::EncodeXlsx { .. }
            | ExportError::EncodeParquet { .. } => false,
        }
    }

    /// A stable, machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            ExportError::UnknownFormat { .. } => "unknown_export_format",
            ExportError::TooManyRowsForXlsx { .. } => "too_many_rows_for_xlsx",
            ExportError::TooManyColumnsForXlsx { .. } => "too_many_columns_for_xlsx",
            ExportError::Write { .. } => "export_write_failed",
            ExportError::BatchSchema { .. }
            | ExportError::EncodeText { .. }
            | ExportError::ConvertColumn { .. }
            | ExportError::DateOutOfRange { .. }
            | ExportError::XlsxTempFile { .. }
            | ExportError::EncodeXlsx { .. }
            | ExportError::EncodeParquet { .. } => "export_failed",
        }
    }
}
