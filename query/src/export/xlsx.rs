//! XLSX: one sheet, a bold frozen header row, then one row per result row with real cell
//! types, written with `rust_xlsxwriter` in constant-memory mode.
//!
//! Constant-memory mode writes each finished row to an unnamed temporary file (in
//! [`ExportOptions::temp_dir`] or the system's), so memory stays flat however many rows
//! there are; [`XlsxEncoder::finish`] then zips that file, with the workbook's other
//! parts, straight into the output. Rows must therefore be written in order, cell by
//! cell across each row, which is what [`XlsxEncoder::write`] does.
//!
//! Cells:
//! - integers and floats are numbers. Excel numbers are doubles: integers beyond ±2^53
//!   would lose digits and are written as text; NaN and infinities, which Excel cannot
//!   hold, as the text `NaN`, `inf`, `-inf`. Decimals become doubles.
//! - booleans are booleans.
//! - timestamps are date-times shown `yyyy-mm-dd hh:mm:ss` (the value keeps its
//!   milliseconds): the wall clock in [`ExportOptions::timezone`] (UTC when `None`) for
//!   timestamps with a zone, as stored for those without. Dates are `yyyy-mm-dd`. Excel
//!   has no date before 1900-03-01 that it counts right, nor after 9999: those are
//!   written as text.
//! - strings are string cells, never formulas; one that looks like a formula also gets
//!   the quote-prefix style, so editing it in Excel keeps it text.
//! - other types (lists, maps, structs, durations, times, binary) are their display
//!   text: `[1, 2, 3]`, `{lunch: 60000}`.
//! - NULL is an empty cell, and so is an empty string (Excel stores no empty strings).
//! - text longer than Excel's 32,767 characters is cut to fit and ends with `…`, counted
//!   in [`ExportSummary::truncated_cells`](super::ExportSummary::truncated_cells): one
//!   overlong note should not make a whole download fail.

use std::io::Write;

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray,
    UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::ArrayFormatter;
use rust_xlsxwriter::{DocProperties, Format, Note, Workbook, Worksheet, XlsxError};

use super::sink::Sink;
use super::text::{convert_error, display_options, needs_formula_guard, timestamp_values, to_utc};
use super::{
    DEFAULT_SHEET_NAME, ExportError, ExportOptions, XLSX_MAX_CELL_CHARS, XLSX_MAX_COLUMNS,
    XLSX_MAX_DATA_ROWS,
};

/// Integers up to this magnitude are exact as doubles.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Excel's serial number of 1970-01-01 (day 0 is 1899-12-30, because of Lotus 1-2-3's
/// 1900 leap-year bug, which Excel kept).
const UNIX_EPOCH_SERIAL: f64 = 25_569.0;

/// The first serial Excel counts right (1900-03-01) and the first it cannot show
/// (10000-01-01).
const FIRST_EXACT_SERIAL: f64 = 61.0;
const END_SERIAL: f64 = 2_958_466.0;

const SECONDS_PER_DAY: f64 = 86_400.0;

/// Column widths, in Excel's character units.
const MIN_WIDTH: usize = 6;
const MAX_WIDTH: usize = 60;

/// Sheet names: at most 31 characters, none of these.
const SHEET_NAME_MAX_CHARS: usize = 31;
const SHEET_NAME_FORBIDDEN: [char; 7] = ['[', ']', ':', '*', '?', '/', '\\'];

/// How a column's cells are written, planned from its type.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Signed integers and the unsigned ones that fit in `i64`, cast to `Int64`.
    Int,
    /// `UInt64`.
    UInt,
    /// Floats and decimals, cast to `Float64`.
    Float,
    Bool,
    /// A timestamp: `zoned` ones are converted to the download's zone.
    Timestamp {
        unit: TimeUnit,
        zoned: bool,
    },
    /// `Date32` and `Date64`, cast to `Date32` then to its `Int32` days.
    Date,
    /// Strings of any encoding, cast to `Utf8`.
    Str,
    /// Anything else: its display text.
    Text,
}

impl Kind {
    fn of(data_type: &DataType) -> Kind {
        match data_type {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => Kind::Int,
            DataType::UInt64 => Kind::UInt,
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(_, _)
            | DataType::Decimal64(_, _)
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _) => Kind::Float,
            DataType::Boolean => Kind::Bool,
            DataType::Timestamp(unit, zone) => Kind::Timestamp {
                unit: *unit,
                zoned: zone.is_some(),
            },
            DataType::Date32 | DataType::Date64 => Kind::Date,
            data_type if super::text::is_string(data_type) => Kind::Str,
            _ => Kind::Text,
        }
    }

    /// Display width of a cell of fixed width, if the kind has one.
    fn fixed_width(self) -> Option<usize> {
        match self {
            Kind::Float => Some(10),
            Kind::Bool => Some(5),
            Kind::Timestamp { .. } => Some(19),
            Kind::Date => Some(10),
            Kind::Int | Kind::UInt | Kind::Str | Kind::Text => None,
        }
    }
}

/// The formats cells use, registered once.
struct Formats {
    header: Format,
    datetime: Format,
    date: Format,
    quoted: Format,
}

pub(crate) struct XlsxEncoder<W: Write + Send> {
    workbook: Workbook,
    out: Sink<W>,
    names: Vec<String>,
    kinds: Vec<Kind>,
    /// Widest cell seen per column, in characters (header included).
    widths: Vec<usize>,
    formats: Formats,
    zone: Tz,
    /// The next sheet row (0 is the header).
    next_row: u32,
    max_rows: u32,
    truncated: u64,
}

impl<W: Write + Send> XlsxEncoder<W> {
    /// Creates the workbook and its constant-memory sheet and writes the header row.
    pub(crate) fn new(
        out: Sink<W>,
        schema: &SchemaRef,
        options: &ExportOptions,
    ) -> Result<Self, ExportError> {
        let columns = schema.fields().len();
        if columns > XLSX_MAX_COLUMNS {
            return Err(ExportError::TooManyColumnsForXlsx {
                columns,
                limit: XLSX_MAX_COLUMNS,
            });
        }
        let zone = options.timezone.unwrap_or(Tz::UTC);
        let mut workbook = Workbook::new();
        if let Some(dir) = &options.temp_dir {
            workbook
                .set_tempdir(dir)
                .map_err(|source| ExportError::XlsxTempFile { source })?;
        }
        if let Some(title) = &options.title {
            workbook.set_properties(&DocProperties::new().set_title(title));
        }
        let formats = Formats {
            header: Format::new().set_bold(),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            quoted: Format::new().set_quote_prefix(),
        };
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let kinds: Vec<Kind> = schema
            .fields()
            .iter()
            .map(|f| Kind::of(f.data_type()))
            .collect();
        let mut widths = Vec::with_capacity(columns);
        let mut truncated = 0;
        {
            let sheet = workbook
                .add_worksheet_with_constant_memory()
                .map_err(|source| ExportError::XlsxTempFile { source })?;
            sheet
                .set_name(sheet_name(&options.sheet_name))
                .map_err(encode_error)?;
            sheet.set_freeze_panes(1, 0).map_err(encode_error)?;
            for (col, (name, kind)) in (0u16..).zip(names.iter().zip(&kinds)) {
                let (text, cut) = fit(name);
                truncated += u64::from(cut);
                sheet
                    .write_string_with_format(0, col, text.as_ref(), &formats.header)
                    .map_err(encode_error)?;
                if let Kind::Timestamp { zoned: true, .. } = kind {
                    let note = Note::new(format!(
                        "Date-times in {zone}: Excel cells carry no time zone, so this \
                         column shows the wall clock there."
                    ))
                    .add_author_prefix(false);
                    sheet.insert_note(0, col, &note).map_err(encode_error)?;
                }
                // Bold text is a little wider than the data's.
                let header_width = name.chars().count() + 1;
                widths.push(header_width.max(kind.fixed_width().unwrap_or(0)));
            }
        }
        Ok(XlsxEncoder {
            workbook,
            out,
            names,
            kinds,
            widths,
            formats,
            zone,
            next_row: 1,
            max_rows: options.max_xlsx_rows.min(XLSX_MAX_DATA_ROWS),
            truncated,
        })
    }

    /// Writes the rows of `batch`, or none of them if they would pass the row limit.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let written = u64::from(self.next_row - 1);
        if written + batch.num_rows() as u64 > u64::from(self.max_rows) {
            return Err(ExportError::TooManyRowsForXlsx {
                limit: self.max_rows,
            });
        }
        let prepared = batch
            .columns()
            .iter()
            .zip(&self.kinds)
            .zip(&self.names)
            .map(|((array, kind), name)| prepare(array, *kind, name))
            .collect::<Result<Vec<ArrayRef>, ExportError>>()?;
        let options = display_options();
        let cells = prepared
            .iter()
            .zip(&self.kinds)
            .zip(&self.names)
            .map(|((array, kind), name)| Cells::new(array, *kind, name, &options))
            .collect::<Result<Vec<Cells<'_>>, ExportError>>()?;
        let sheet = self
            .workbook
            .worksheet_from_index(0)
            .map_err(encode_error)?;
        let mut row = SheetRow {
            sheet,
            formats: &self.formats,
            widths: &mut self.widths,
            truncated: &mut self.truncated,
            zone: self.zone,
            row: self.next_row,
        };
        for index in 0..batch.num_rows() {
            for (col, (column, name)) in (0u16..).zip(cells.iter().zip(&self.names)) {
                row.write(col, column, index, name)?;
            }
            row.row += 1;
        }
        self.next_row = row.row;
        Ok(())
    }

    /// Sets the column widths and writes the whole file to the output. Returns how many
    /// cells were cut to Excel's limit.
    pub(crate) fn finish(mut self) -> Result<u64, ExportError> {
        let sheet = self
            .workbook
            .worksheet_from_index(0)
            .map_err(encode_error)?;
        for (col, width) in (0u16..).zip(&self.widths) {
            let width = (*width + 1).clamp(MIN_WIDTH, MAX_WIDTH);
            sheet
                .set_column_width(col, width as f64)
                .map_err(encode_error)?;
        }
        self.workbook
            .save_to_writer(&mut self.out)
            .map_err(encode_error)?;
        self.out.flush().map_err(|source| ExportError::Write {
            format: super::ExportFormat::Xlsx,
            source,
        })?;
        Ok(self.truncated)
    }
}

/// A batch column cast to the array type its [`Kind`] reads.
fn prepare(array: &ArrayRef, kind: Kind, column: &str) -> Result<ArrayRef, ExportError> {
    let cast_to = |data_type: &DataType| {
        cast(array, data_type).map_err(|source| convert_error(column, source))
    };
    match kind {
        Kind::Int => cast_to(&DataType::Int64),
        Kind::Float => cast_to(&DataType::Float64),
        Kind::Timestamp { .. } => timestamp_values(array, column),
        Kind::Date => {
            let days = cast_to(&DataType::Date32)?;
            cast(&days, &DataType::Int32).map_err(|source| convert_error(column, source))
        }
        Kind::Str => cast_to(&DataType::Utf8),
        Kind::UInt | Kind::Bool | Kind::Text => Ok(array.clone()),
    }
}

/// One prepared column of a batch, typed for reading cells.
enum Cells<'a> {
    Int(&'a Int64Array),
    UInt(&'a UInt64Array),
    Float(&'a Float64Array),
    Bool(&'a BooleanArray),
    Timestamp {
        values: &'a Int64Array,
        unit: TimeUnit,
        zoned: bool,
    },
    Date(&'a Int32Array),
    Str(&'a StringArray),
    Text {
        array: &'a ArrayRef,
        formatter: ArrayFormatter<'a>,
    },
}

impl<'a> Cells<'a> {
    fn new(
        array: &'a ArrayRef,
        kind: Kind,
        column: &str,
        options: &'a datafusion::arrow::util::display::FormatOptions<'a>,
    ) -> Result<Self, ExportError> {
        // The arrays were cast to these types by `prepare`, and the writer checked the
        // batch's types against the schema the kinds come from; a mismatch is reported,
        // not a panic, all the same.
        let mismatch = || {
            convert_error(
                column,
                datafusion::arrow::error::ArrowError::InvalidArgumentError(format!(
                    "unexpected array type {}",
                    array.data_type()
                )),
            )
        };
        Ok(match kind {
            Kind::Int => Cells::Int(array.as_primitive_opt().ok_or_else(mismatch)?),
            Kind::UInt => Cells::UInt(array.as_primitive_opt().ok_or_else(mismatch)?),
            Kind::Float => Cells::Float(array.as_primitive_opt().ok_or_else(mismatch)?),
            Kind::Bool => Cells::Bool(array.as_boolean_opt().ok_or_else(mismatch)?),
            Kind::Timestamp { unit, zoned } => Cells::Timestamp {
                values: array.as_primitive_opt().ok_or_else(mismatch)?,
                unit,
                zoned,
            },
            Kind::Date => Cells::Date(array.as_primitive_opt().ok_or_else(mismatch)?),
            Kind::Str => Cells::Str(array.as_string_opt().ok_or_else(mismatch)?),
            Kind::Text => Cells::Text {
                array,
                formatter: ArrayFormatter::try_new(array.as_ref(), options)
                    .map_err(|source| convert_error(column, source))?,
            },
        })
    }
}

/// The sheet while one batch is written: cell by cell, left to right, row by row.
struct SheetRow<'a> {
    sheet: &'a mut Worksheet,
    formats: &'a Formats,
    widths: &'a mut [usize],
    truncated: &'a mut u64,
    zone: Tz,
    row: u32,
}

impl SheetRow<'_> {
    fn write(
        &mut self,
        col: u16,
        cells: &Cells<'_>,
        index: usize,
        column: &str,
    ) -> Result<(), ExportError> {
        let width = match cells {
            Cells::Int(values) => match values.is_valid(index).then(|| values.value(index)) {
                None => 0,
                Some(value) if value.unsigned_abs() <= MAX_EXACT_INTEGER => {
                    self.number(col, value as f64)?;
                    digits(value.unsigned_abs()) + usize::from(value < 0)
                }
                Some(value) => self.text(col, &value.to_string())?,
            },
            Cells::UInt(values) => match values.is_valid(index).then(|| values.value(index)) {
                None => 0,
                Some(value) if value <= MAX_EXACT_INTEGER => {
                    self.number(col, value as f64)?;
                    digits(value)
                }
                Some(value) => self.text(col, &value.to_string())?,
            },
            Cells::Float(values) => match values.is_valid(index).then(|| values.value(index)) {
                None => 0,
                Some(value) if value.is_finite() => {
                    self.number(col, value)?;
                    0
                }
                Some(value) => self.text(col, &value.to_string())?,
            },
            Cells::Bool(values) => {
                if values.is_valid(index) {
                    self.sheet
                        .write_boolean(self.row, col, values.value(index))
                        .map_err(encode_error)?;
                }
                0
            }
            Cells::Timestamp {
                values,
                unit,
                zoned,
            } => {
                if values.is_valid(index) {
                    let value = values.value(index);
                    let instant =
                        to_utc(value, *unit).ok_or_else(|| ExportError::DateOutOfRange {
                            column: column.to_owned(),
                            value,
                        })?;
                    let wall_clock = if *zoned {
                        instant.with_timezone(&self.zone).naive_local()
                    } else {
                        instant.naive_utc()
                    };
                    self.datetime(col, wall_clock)?;
                }
                0
            }
            Cells::Date(values) => {
                if values.is_valid(index) {
                    let days = values.value(index);
                    let date = NaiveDate::from_epoch_days(days).ok_or_else(|| {
                        ExportError::DateOutOfRange {
                            column: column.to_owned(),
                            value: i64::from(days),
                        }
                    })?;
                    self.date(col, date, days)?;
                }
                0
            }
            Cells::Str(values) => match values.is_valid(index).then(|| values.value(index)) {
                None => 0,
                Some(value) => self.text(col, value)?,
            },
            Cells::Text { array, formatter } => {
                if array.is_valid(index) {
                    let text = formatter
                        .value(index)
                        .try_to_string()
                        .map_err(|source| convert_error(column, source))?;
                    self.text(col, &text)?
                } else {
                    0
                }
            }
        };
        let slot = &mut self.widths[usize::from(col)];
        *slot = (*slot).max(width);
        Ok(())
    }

    fn number(&mut self, col: u16, value: f64) -> Result<(), ExportError> {
        self.sheet
            .write_number(self.row, col, value)
            .map_err(encode_error)?;
        Ok(())
    }

    /// A string cell, cut to Excel's limit; returns its width in characters.
    fn text(&mut self, col: u16, text: &str) -> Result<usize, ExportError> {
        let (text, cut) = fit(text);
        *self.truncated += u64::from(cut);
        if needs_formula_guard(&text) {
            self.sheet
                .write_string_with_format(self.row, col, text.as_ref(), &self.formats.quoted)
                .map_err(encode_error)?;
        } else {
            self.sheet
                .write_string(self.row, col, text.as_ref())
                .map_err(encode_error)?;
        }
        Ok(text.chars().count())
    }

    fn datetime(&mut self, col: u16, wall_clock: NaiveDateTime) -> Result<(), ExportError> {
        let since_epoch = wall_clock.and_utc();
        let seconds =
            since_epoch.timestamp() as f64 + f64::from(since_epoch.timestamp_subsec_nanos()) / 1e9;
        let serial = UNIX_EPOCH_SERIAL + seconds / SECONDS_PER_DAY;
        if (FIRST_EXACT_SERIAL..END_SERIAL).contains(&serial) {
            self.sheet
                .write_number_with_format(self.row, col, serial, &self.formats.datetime)
                .map_err(encode_error)?;
        } else {
            let text = wall_clock.format("%Y-%m-%d %H:%M:%S%.f").to_string();
            self.text(col, &text)?;
        }
        Ok(())
    }

    fn date(&mut self, col: u16, date: NaiveDate, days: i32) -> Result<(), ExportError> {
        let serial = UNIX_EPOCH_SERIAL + f64::from(days);
        if (FIRST_EXACT_SERIAL..END_SERIAL).contains(&serial) {
            self.sheet
                .write_number_with_format(self.row, col, serial, &self.formats.date)
                .map_err(encode_error)?;
        } else {
            self.text(col, &date.format("%Y-%m-%d").to_string())?;
        }
        Ok(())
    }
}

/// `text` cut to Excel's cell limit (counted in UTF-16 units, as Excel does), ending
/// with `…` when cut; and whether it was.
fn fit(text: &str) -> (std::borrow::Cow<'_, str>, bool) {
    // Fast path: UTF-16 units never outnumber UTF-8 bytes.
    if text.len() <= XLSX_MAX_CELL_CHARS || text.encode_utf16().count() <= XLSX_MAX_CELL_CHARS {
        return (text.into(), false);
    }
    let mut units = 0;
    let mut end = 0;
    for (at, ch) in text.char_indices() {
        // Room for the `…` (one unit).
        if units + ch.len_utf16() > XLSX_MAX_CELL_CHARS - 1 {
            break;
        }
        units += ch.len_utf16();
        end = at + ch.len_utf8();
    }
    (format!("{}…", &text[..end]).into(), true)
}

/// A sheet name Excel accepts: forbidden characters replaced by `_`, no leading or
/// trailing `'`, at most 31 characters, not the reserved `History`.
fn sheet_name(wanted: &str) -> String {
    let replaced: String = wanted
        .chars()
        .map(|c| {
            if SHEET_NAME_FORBIDDEN.contains(&c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let name: String = replaced
        .trim()
        .trim_matches('\'')
        .chars()
        .take(SHEET_NAME_MAX_CHARS)
        .collect();
    let name = name.trim_end().trim_end_matches('\'');
    if name.is_empty() || name.eq_ignore_ascii_case("history") {
        DEFAULT_SHEET_NAME.to_owned()
    } else {
        name.to_owned()
    }
}

fn digits(value: u64) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

fn encode_error(source: XlsxError) -> ExportError {
    ExportError::EncodeXlsx { source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_made_acceptable_to_excel() {
        assert_eq!(sheet_name("Queue performance"), "Queue performance");
        assert_eq!(sheet_name("a/b:c [d]"), "a_b_c _d_");
        assert_eq!(sheet_name("'quoted'"), "quoted");
        assert_eq!(sheet_name("   "), DEFAULT_SHEET_NAME);
        assert_eq!(sheet_name("History"), DEFAULT_SHEET_NAME);
        let long = sheet_name(&"é".repeat(40));
        assert_eq!(long.chars().count(), 31);
    }

    #[test]
    fn fit_counts_utf16_units_and_marks_the_cut() {
        let short = "x".repeat(XLSX_MAX_CELL_CHARS);
        assert_eq!(fit(&short), (short.as_str().into(), false));
        // '😀' is two UTF-16 units: 20,000 of them are 40,000 units.
        let long = "😀".repeat(20_000);
        let (cut, was_cut) = fit(&long);
        assert!(was_cut);
        assert!(cut.ends_with('…'));
        assert_eq!(cut.encode_utf16().count(), XLSX_MAX_CELL_CHARS);
    }

    #[test]
    fn digits_counts_decimal_digits() {
        assert_eq!(digits(0), 1);
        assert_eq!(digits(9), 1);
        assert_eq!(digits(10), 2);
        assert_eq!(digits(u64::MAX), 20);
    }
}
