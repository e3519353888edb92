//! Downloads: query results written as files people open elsewhere — CSV (spreadsheets,
//! BI tools), JSON and NDJSON (scripts), XLSX (Excel) and Parquet (data tools) — one
//! record batch at a time, so a large result never sits in memory whole.
//!
//! [`ExportWriter`] takes the batches of one result in order and writes them to any
//! `Write + Send` (a file, an HTTP body channel, a `Vec<u8>`). What each format does
//! with the awkward parts of a result:
//!
//! | | CSV | JSON / NDJSON | XLSX | Parquet |
//! |---|---|---|---|---|
//! | NULL | empty field | `null` | empty cell | null |
//! | timestamp with a zone | RFC 3339 in [`ExportOptions::timezone`] | same as CSV | Excel date-time, wall clock in that zone | kept as stored (UTC instants) |
//! | timestamp without a zone | as stored (`2024-03-01T08:00:00`) | same | Excel date-time, as stored | kept |
//! | list, map, struct | text (`[1, 2]`, `{lunch: 60000}`) | JSON array / object | text | kept |
//! | string starting `=` `+` `-` `@` tab CR | prefixed `'` (see below) | unchanged | string cell, quote-prefixed | unchanged |
//! | streaming | as it goes | as it goes | rows spooled to a temp file, the zip written at [`ExportWriter::finish`] | one row group at a time |
//!
//! # Formula injection
//! Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` (and, in some,
//! tab or carriage return) as a formula, so a queue named `=HYPERLINK(...)` could act on
//! the machine of whoever opens the download. CSV cannot mark a field as text, so such a
//! *string* field gets a leading `'` (OWASP's advice; Excel hides it), header names
//! included. Turn it off with [`ExportOptions::csv_formula_guard`] when the CSV feeds a
//! program rather than a person. XLSX always writes strings as string cells, which Excel
//! never evaluates, and gives those cells Excel's quote-prefix style so that editing one
//! does not turn it into a formula either; the text itself is unchanged.
//!
//! # Time zones
//! Timestamps with a zone are instants. CSV and JSON write them as RFC 3339 in
//! [`ExportOptions::timezone`] (UTC, with `Z`, when `None`), so the offset is always
//! there. Excel cells have no time zone: XLSX writes the wall clock in that zone, and the
//! header cell of each such column carries a note naming the zone. Parquet keeps the
//! instants and their column type untouched.

mod csv;
mod error;
mod json;
mod parquet;
mod sink;
mod text;
mod xlsx;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono_tz::Tz;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use self::sink::{Sink, SinkState};

pub use self::error::ExportError;

/// Data rows an Excel worksheet holds: 1,048,576 rows, less the header row.
pub const XLSX_MAX_DATA_ROWS: u32 = 1_048_575;

/// Columns an Excel worksheet holds.
pub const XLSX_MAX_COLUMNS: usize = 16_384;

/// Characters (UTF-16 code units, as Excel counts) a cell holds. Longer text is cut to
/// fit and ends with `…`; [`ExportSummary::truncated_cells`] counts such cells.
pub const XLSX_MAX_CELL_CHARS: usize = 32_767;

/// The sheet name used when [`ExportOptions::sheet_name`] is empty or unusable.
pub const DEFAULT_SHEET_NAME: &str = "report";

/// A file format a result can be downloaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// RFC 4180 CSV (UTF-8, `\n` line ends) with a header row.
    Csv,
    /// A JSON array of objects, one per row, every column present (NULL as `null`).
    Json,
    /// One JSON object per line (also called JSON Lines).
    Ndjson,
    /// An Excel workbook of one sheet: a bold, frozen header row, then typed cells.
    Xlsx,
    /// Apache Parquet with the result's Arrow types, zstd-compressed.
    Parquet,
}

impl ExportFormat {
    /// Every format, in the order they are listed to users.
    pub const ALL: [ExportFormat; 5] = [
        ExportFormat::Csv,
        ExportFormat::Json,
        ExportFormat::Ndjson,
        ExportFormat::Xlsx,
        ExportFormat::Parquet,
    ];

    /// Reads a format name or file extension, ignoring case and a leading dot: `csv`,
    /// `json`, `ndjson` or `jsonl`, `xlsx`, `parquet`.
    ///
    /// # Errors
    /// [`ExportError::UnknownFormat`] for anything else.
    pub fn parse(name: &str) -> Result<Self, ExportError> {
        let trimmed = name.trim();
        let bare = trimmed.strip_prefix('.').unwrap_or(trimmed);
        match bare.to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            "ndjson" | "jsonl" => Ok(ExportFormat::Ndjson),
            "xlsx" => Ok(ExportFormat::Xlsx),
            "parquet" => Ok(ExportFormat::Parquet),
            _ => Err(ExportError::UnknownFormat {
                name: name.to_owned(),
            }),
        }
    }

    /// The format a file name asks for, by its extension (`report.XLSX` is XLSX).
    ///
    /// # Errors
    /// [`ExportError::UnknownFormat`] when the extension is missing or not a format's.
    pub fn from_path(path: &Path) -> Result<Self, ExportError> {
        let extension = path
            .extension()
            .and_then(|ext| ext.to_str())
            .unwrap_or_default();
        Self::parse(extension).map_err(|_| ExportError::UnknownFormat {
            name: path.display().to_string(),
        })
    }

    /// The lowercase name [`ExportFormat::parse`] reads back (`ndjson`, not `jsonl`).
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Parquet => "parquet",
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// The HTTP `Content-Type` of a download in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ExportFormat::Parquet => "application/vnd.apache.parquet",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportFormat::Csv => "CSV",
            ExportFormat::Json => "JSON",
            ExportFormat::Ndjson => "NDJSON",
            ExportFormat::Xlsx => "XLSX",
            ExportFormat::Parquet => "Parquet",
        })
    }
}

impl FromStr for ExportFormat {
    type Err = ExportError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

/// How a download is written. `ExportOptions::default()` suits most; set `timezone` to
/// the report's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// The zone timestamps with a zone are shown in (CSV, JSON, NDJSON, XLSX); UTC when
    /// `None`. Parquet keeps instants as they are.
    pub timezone: Option<Tz>,
    /// XLSX: the sheet's name. Characters Excel forbids (`[]:*?/\`) become `_`, it is cut
    /// to Excel's 31 characters, and an empty result is [`DEFAULT_SHEET_NAME`].
    pub sheet_name: String,
    /// XLSX: the workbook's title (document properties), e.g. the report's title. The
    /// other formats have nowhere to put it.
    pub title: Option<String>,
    /// CSV: prefix string fields that a spreadsheet would run as a formula with `'`
    /// (see the module docs). On by default: CSV downloads are opened in Excel.
    pub csv_formula_guard: bool,
    /// XLSX: the most data rows to write; a result with more is refused with
    /// [`ExportError::TooManyRowsForXlsx`]. Defaults to, and is capped at,
    /// [`XLSX_MAX_DATA_ROWS`], Excel's own limit.
    pub max_xlsx_rows: u32,
    /// XLSX: where the sheet's rows are spooled until [`ExportWriter::finish`] zips
    /// them (an unnamed temporary file, gone when the writer is dropped). `None`: the
    /// system's temporary directory. XLSX cannot be written without one.
    pub temp_dir: Option<PathBuf>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            timezone: None,
            sheet_name: DEFAULT_SHEET_NAME.to_owned(),
            title: None,
            csv_formula_guard: true,
            max_xlsx_rows: XLSX_MAX_DATA_ROWS,
            temp_dir: None,
        }
    }
}

/// What a finished download holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// Data rows written (headers not counted).
    pub rows: u64,
    /// Bytes written to the output.
    pub bytes: u64,
    /// XLSX cells whose text was longer than Excel allows and was cut
    /// ([`XLSX_MAX_CELL_CHARS`]); 0 for the other formats.
    pub truncated_cells: u64,
}

/// Writes one result to `out` in one format, a batch at a time.
///
/// Create it with the result's schema, give it every batch in order with
/// [`write_batch`](Self::write_batch), then call [`finish`](Self::finish): the output is
/// complete only after `finish` returns `Ok` (a JSON array's `]`, Parquet's footer and
/// the whole XLSX file are written there). After an error the output is incomplete:
/// drop the writer and discard it. XLSX writes nothing to `out` before `finish`, so a
/// refused XLSX download ([`ExportError::TooManyRowsForXlsx`]) leaves `out` untouched.
///
/// `out` should be buffered when each write is costly (a raw file or socket): Parquet
/// and XLSX write in large blocks, CSV once per batch, JSON in 8 KiB pieces.
pub struct ExportWriter<W: Write + Send> {
    format: ExportFormat,
    schema: SchemaRef,
    encoder: Encoder<W>,
    sink: std::sync::Arc<SinkState>,
    rows: u64,
}

/// One encoder per format, boxed: they differ in size by hundreds of bytes.
enum Encoder<W: Write + Send> {
    Csv(Box<csv::CsvEncoder<W>>),
    Json(Box<json::JsonEncoder<W, datafusion::arrow::json::writer::JsonArray>>),
    Ndjson(Box<json::JsonEncoder<W, datafusion::arrow::json::writer::LineDelimited>>),
    Xlsx(Box<xlsx::XlsxEncoder<W>>),
    Parquet(Box<parquet::ParquetEncoder<W>>),
}

impl<W: Write + Send> ExportWriter<W> {
    /// A writer of `format` for a result of `schema`. CSV and JSON write nothing yet;
    /// XLSX creates its temporary file.
    ///
    /// # Errors
    /// [`ExportError::TooManyColumnsForXlsx`], [`ExportError::XlsxTempFile`] (no
    /// writable temporary directory), [`ExportError::EncodeXlsx`] or
    /// [`ExportError::EncodeParquet`] (a column type the format cannot hold).
    pub fn new(
        out: W,
        format: ExportFormat,
        schema: SchemaRef,
        options: ExportOptions,
    ) -> Result<Self, ExportError> {
        let (sink, state) = Sink::new(out, format);
        let encoder = match format {
            ExportFormat::Csv => {
                Encoder::Csv(Box::new(csv::CsvEncoder::new(sink, &schema, &options)))
            }
            ExportFormat::Json => Encoder::Json(Box::new(json::JsonEncoder::new(
                format, sink, &schema, &options,
            ))),
            ExportFormat::Ndjson => Encoder::Ndjson(Box::new(json::JsonEncoder::new(
                format, sink, &schema, &options,
            ))),
            ExportFormat::Xlsx => {
                Encoder::Xlsx(Box::new(xlsx::XlsxEncoder::new(sink, &schema, &options)?))
            }
            ExportFormat::Parquet => Encoder::Parquet(Box::new(
                parquet::ParquetEncoder::new(sink, &schema).map_err(|e| state.prefer_write(e))?,
            )),
        };
        Ok(ExportWriter {
            format,
            schema,
            encoder,
            sink: state,
            rows: 0,
        })
    }

    /// The format being written.
    pub fn format(&self) -> ExportFormat {
        self.format
    }

    /// Data rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the rows of `batch`, which must have the writer's column types.
    ///
    /// # Errors
    /// [`ExportError::BatchSchema`] for a batch of other columns;
    /// [`ExportError::TooManyRowsForXlsx`] when the rows would pass the XLSX limit
    /// (nothing of this batch is written); [`ExportError::Write`] when `out` fails;
    /// an encoding or conversion variant when a value cannot be written.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        self.check_schema(batch)?;
        let result = match &mut self.encoder {
            Encoder::Csv(encoder) => encoder.write(batch),
            Encoder::Json(encoder) => encoder.write(batch),
            Encoder::Ndjson(encoder) => encoder.write(batch),
            Encoder::Xlsx(encoder) => encoder.write(batch),
            Encoder::Parquet(encoder) => encoder.write(batch),
        };
        result.map_err(|e| self.sink.prefer_write(e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Completes the output (a CSV of no rows still gets its header, a JSON array of no
    /// rows is `[]`, an XLSX of no rows is a header-only sheet) and flushes `out`.
    ///
    /// # Errors
    /// [`ExportError::Write`] when `out` fails; an encoding variant otherwise.
    pub fn finish(self) -> Result<ExportSummary, ExportError> {
        let truncated_cells = match self.encoder {
            Encoder::Csv(encoder) => encoder.finish().map(|()| 0),
            Encoder::Json(encoder) => encoder.finish().map(|()| 0),
            Encoder::Ndjson(encoder) => encoder.finish().map(|()| 0),
            Encoder::Xlsx(encoder) => encoder.finish(),
            Encoder::Parquet(encoder) => encoder.finish().map(|()| 0),
        }
        .map_err(|e| self.sink.prefer_write(e))?;
        Ok(ExportSummary {
            rows: self.rows,
            bytes: self.sink.bytes(),
            truncated_cells,
        })
    }

    /// Column count and types must match the writer's: each encoder planned its
    /// conversions from the schema. Names and nullability may differ.
    fn check_schema(&self, batch: &RecordBatch) -> Result<(), ExportError> {
        let expected = self.schema.fields();
        let found = batch.schema_ref().fields();
        let same = expected.len() == found.len()
            && expected
                .iter()
                .zip(found.iter())
                .all(|(a, b)| a.data_type() == b.data_type());
        if same {
            return Ok(());
        }
        let describe = |fields: &datafusion::arrow::datatypes::Fields| {
            fields
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(ExportError::BatchSchema {
            expected: describe(expected),
            found: describe(found),
        })
    }
}

impl<W: Write + Send> fmt::Debug for ExportWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportWriter")
            .field("format", &self.format)
            .field("columns", &self.schema.fields().len())
            .field("rows", &self.rows)
            .field("bytes", &self.sink.bytes())
            .finish_non_exhaustive()
    }
}

/// Writes a whole result held in memory: [`ExportWriter`] over `batches`, then
/// [`ExportWriter::finish`].
///
/// # Errors
/// As [`ExportWriter::new`], [`ExportWriter::write_batch`] and [`ExportWriter::finish`].
pub fn write_batches<W: Write + Send>(
    out: W,
    format: ExportFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    options: ExportOptions,
) -> Result<ExportSummary, ExportError> {
    let mut writer = ExportWriter::new(out, format, schema.clone(), options)?;
    for batch in batches {
        writer.write_batch(batch)?;
    }
    writer.finish()
}
