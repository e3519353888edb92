//! Writing query results as files people open elsewhere: CSV (spreadsheets, BI tools)
//! and JSON (scripts). Timestamps are written in RFC 3339 with their zone (`Z` for UTC),
//! NULLs as empty CSV fields or JSON `null`.

use std::io::Write;

use datafusion::arrow::csv;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json;
use datafusion::arrow::record_batch::RecordBatch;

/// A format rows can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A JSON array of objects, one per row, every column present (NULL as `null`).
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// Writes `batches` (all of `schema`) to `out` in `format`. A CSV of no rows still has
/// its header; a JSON array of no rows is `[]`.
///
/// # Errors
/// [`ArrowError`] when writing to `out` fails or a column type has no text form.
pub fn write_text(
    out: impl Write,
    format: TextFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), ArrowError> {
    match format {
        TextFormat::Csv => {
            let mut writer = csv::WriterBuilder::new().with_header(true).build(out);
            if batches.is_empty() {
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for batch in batches {
                writer.write(batch)?;
            }
            Ok(())
        }
        TextFormat::Json => {
            let mut writer = json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, json::writer::JsonArray>(out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()
        }
        TextFormat::Ndjson => {
            let mut writer = json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, json::writer::LineDelimited>(out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    fn sample() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("queue_id", DataType::Utf8, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("wait_ms", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["sales, east", "support"])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![Some(1_709_251_200_123), None])
                        .with_timezone("UTC"),
                ),
                Arc::new(Int64Array::from(vec![Some(20_000), None])),
            ],
        )
        .expect("batch");
        (schema, batch)
    }

    fn text(format: TextFormat, batches: &[RecordBatch]) -> String {
        let (schema, _) = sample();
        let mut out = Vec::new();
        write_text(&mut out, format, &schema, batches).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn csv_quotes_and_writes_nulls_empty() {
        let (_, batch) = sample();
        assert_eq!(
            text(TextFormat::Csv, &[batch]),
            "queue_id,at,wait_ms\n\"sales, east\",2024-03-01T00:00:00.123Z,20000\nsupport,,\n"
        );
        assert_eq!(text(TextFormat::Csv, &[]), "queue_id,at,wait_ms\n");
    }

    #[test]
    fn json_has_every_column_of_every_row() {
        let (_, batch) = sample();
        let json = text(TextFormat::Json, std::slice::from_ref(&batch));
        assert_eq!(
            json,
            r#"[{"queue_id":"sales, east","at":"2024-03-01T00:00:00.123Z","wait_ms":20000},{"queue_id":"support","at":null,"wait_ms":null}]"#
        );
        assert_eq!(text(TextFormat::Json, &[]), "[]");
        assert_eq!(text(TextFormat::Ndjson, &[batch]).lines().count(), 2);
    }
}
