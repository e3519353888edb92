//! Columns turned into text before arrow's CSV and JSON writers see them: timestamps in
//! the download's zone, string fields guarded against formula injection, lists and maps
//! as text (arrow's CSV writer refuses nested types). Also the helpers XLSX shares.
//!
//! The conversion of each column is planned once from the schema ([`TextPlan`]), so the
//! header of an empty CSV matches a full one, then applied to every batch.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{ExportError, ExportFormat, ExportOptions};

/// What happens to one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    /// Written by arrow as it is.
    Keep,
    /// A timestamp with a zone: RFC 3339 text in the download's zone.
    Timestamp(TimeUnit),
    /// A string column, to guard against formula injection.
    Guard,
    /// A nested column (list, map, struct): its display text.
    Render,
}

/// How the columns of one download become the columns arrow writes.
#[derive(Debug)]
pub(crate) struct TextPlan {
    format: ExportFormat,
    conversions: Vec<Conversion>,
    /// The schema of the converted batches (converted columns are nullable `Utf8`).
    schema: SchemaRef,
    zone: Tz,
    /// Whether any column or header changes: if not, batches pass through untouched.
    changes: bool,
}

impl TextPlan {
    /// CSV: timestamps in the zone, strings (and header names) guarded when
    /// [`ExportOptions::csv_formula_guard`] is on, nested columns as text.
    pub(crate) fn for_csv(schema: &SchemaRef, options: &ExportOptions) -> Self {
        let guard = options.csv_formula_guard;
        Self::new(ExportFormat::Csv, schema, options, |data_type| {
            if let DataType::Timestamp(unit, Some(_)) = data_type {
                Conversion::Timestamp(*unit)
            } else if guard && is_string(data_type) {
                Conversion::Guard
            } else if data_type.is_nested() {
                Conversion::Render
            } else {
                Conversion::Keep
            }
        })
        .with_guarded_names(guard)
    }

    /// JSON and NDJSON: timestamps in the zone; lists and maps stay JSON arrays and
    /// objects, strings stay as they are (JSON is read by programs, not spreadsheets).
    pub(crate) fn for_json(
        format: ExportFormat,
        schema: &SchemaRef,
        options: &ExportOptions,
    ) -> Self {
        Self::new(format, schema, options, |data_type| match data_type {
            DataType::Timestamp(unit, Some(_)) => Conversion::Timestamp(*unit),
            _ => Conversion::Keep,
        })
    }

    fn new(
        format: ExportFormat,
        schema: &SchemaRef,
        options: &ExportOptions,
        plan: impl Fn(&DataType) -> Conversion,
    ) -> Self {
        let conversions: Vec<Conversion> = schema
            .fields()
            .iter()
            .map(|field| plan(field.data_type()))
            .collect();
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .zip(&conversions)
            .map(|(field, conversion)| match conversion {
                // Nullable: the writer accepts batches whose nullability differs.
                Conversion::Keep => field.as_ref().clone().with_nullable(true),
                _ => Field::new(field.name(), DataType::Utf8, true),
            })
            .collect();
        TextPlan {
            format,
            changes: conversions.iter().any(|c| *c != Conversion::Keep),
            conversions,
            schema: Arc::new(Schema::new(fields)),
            zone: options.timezone.unwrap_or(Tz::UTC),
        }
    }

    fn with_guarded_names(mut self, guard: bool) -> Self {
        if guard
            && self
                .schema
                .fields()
                .iter()
                .any(|f| needs_formula_guard(f.name()))
        {
            let fields: Vec<Field> = self
                .schema
                .fields()
                .iter()
                .map(|f| {
                    let name = guard_text(f.name()).into_owned();
                    f.as_ref().clone().with_name(name)
                })
                .collect();
            self.schema = Arc::new(Schema::new(fields));
            self.changes = true;
        }
        self
    }

    /// The schema of converted batches.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// `batch` with its columns converted.
    pub(crate) fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, ExportError> {
        if !self.changes {
            return Ok(batch.clone());
        }
        let columns = batch
            .columns()
            .iter()
            .zip(&self.conversions)
            .zip(self.schema.fields())
            .map(|((array, conversion), field)| {
                let name = field.name();
                match conversion {
                    Conversion::Keep => Ok(array.clone()),
                    Conversion::Timestamp(unit) => timestamps_text(array, *unit, self.zone, name),
                    Conversion::Guard => guarded_strings(array, name),
                    Conversion::Render => rendered(array, name),
                }
            })
            .collect::<Result<Vec<ArrayRef>, ExportError>>()?;
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|source| {
            ExportError::EncodeText {
                format: self.format,
                source,
            }
        })
    }
}

/// Whether a column holds strings (plain, large, view, or dictionary-encoded).
pub(crate) fn is_string(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_string(values),
        _ => false,
    }
}

/// Whether a spreadsheet would run `text` as a formula (or, for tab and carriage
/// return, strip the first character and then run it).
pub(crate) fn needs_formula_guard(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// `text`, prefixed with `'` when a spreadsheet would run it as a formula.
pub(crate) fn guard_text(text: &str) -> std::borrow::Cow<'_, str> {
    if needs_formula_guard(text) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// The instant of a timestamp value in `unit`; `None` past chrono's calendar.
pub(crate) fn to_utc(value: i64, unit: TimeUnit) -> Option<DateTime<Utc>> {
    match unit {
        TimeUnit::Second => DateTime::from_timestamp(value, 0),
        TimeUnit::Millisecond => DateTime::from_timestamp_millis(value),
        TimeUnit::Microsecond => DateTime::from_timestamp_micros(value),
        TimeUnit::Nanosecond => Some(DateTime::from_timestamp_nanos(value)),
    }
}

/// A timestamp column's raw values (its unit since 1970): a cast arrow always allows.
pub(crate) fn timestamp_values(array: &ArrayRef, column: &str) -> Result<ArrayRef, ExportError> {
    cast(array, &DataType::Int64).map_err(|source| convert_error(column, source))
}

/// Options for the display text of nested values: `null` inside a list or map reads
/// better than nothing (a NULL cell itself is never rendered).
pub(crate) fn display_options() -> FormatOptions<'static> {
    FormatOptions::default().with_null("null")
}

pub(crate) fn convert_error(column: &str, source: ArrowError) -> ExportError {
    ExportError::ConvertColumn {
        column: column.to_owned(),
        source,
    }
}

fn timestamps_text(
    array: &ArrayRef,
    unit: TimeUnit,
    zone: Tz,
    column: &str,
) -> Result<ArrayRef, ExportError> {
    let values = timestamp_values(array, column)?;
    let values = values.as_primitive::<Int64Type>();
    let mut text = StringBuilder::with_capacity(values.len(), values.len() * 30);
    for value in values.iter() {
        match value {
            None => text.append_null(),
            Some(value) => {
                let instant = to_utc(value, unit).ok_or_else(|| ExportError::DateOutOfRange {
                    column: column.to_owned(),
                    value,
                })?;
                text.append_value(
                    instant
                        .with_timezone(&zone)
                        .to_rfc3339_opts(SecondsFormat::AutoSi, true),
                );
            }
        }
    }
    Ok(Arc::new(text.finish()))
}

fn guarded_strings(array: &ArrayRef, column: &str) -> Result<ArrayRef, ExportError> {
    let strings = cast(array, &DataType::Utf8).map_err(|source| convert_error(column, source))?;
    let plain = strings.as_string::<i32>();
    if !plain.iter().flatten().any(needs_formula_guard) {
        return Ok(strings);
    }
    let guarded: StringArray = plain.iter().map(|s| s.map(guard_text)).collect();
    Ok(Arc::new(guarded))
}

fn rendered(array: &ArrayRef, column: &str) -> Result<ArrayRef, ExportError> {
    let options = display_options();
    let formatter =
        ArrayFormatter::try_new(array, &options).map_err(|source| convert_error(column, source))?;
    let mut text = StringBuilder::with_capacity(array.len(), array.len() * 16);
    for row in 0..array.len() {
        if array.is_null(row) {
            text.append_null();
        } else {
            formatter
                .value(row)
                .write(&mut text)
                .map_err(|source| convert_error(column, source))?;
            text.append_value("");
        }
    }
    Ok(Arc::new(text.finish()))
}
