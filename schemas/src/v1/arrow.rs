//! The Arrow schema of the raw `events` SQL table, and a builder of its record batches.
//!
//! # Columns
//! One column per contract field, in canonical order and named as on the wire (so the
//! type column is `type`), then the ingest columns:
//!
//! | contract field | Arrow type | null when |
//! |---|---|---|
//! | `schema_version`, `priority`, `csat`, `nps`, `amd_ms` | `Int64` | absent (`schema_version` never) |
//! | `event_id`, `tenant_id`, `type`, ids, free text | `Utf8` | absent (envelope never) |
//! | closed enums (`channel`, `direction`, `state`, ...) and `reason` | `Utf8`, the value as sent | absent |
//! | `occurred_at` | `Timestamp(Millisecond, "UTC")` | never |
//! | `skills`, `queues` | `List<Utf8>` (items non-null) | absent |
//! | `attributes` | `Map<Utf8, Utf8>` (values non-null), input order | never: an empty map when absent |
//! | `capacity` | `Map<Utf8, Int64>` (values non-null), input order | absent |
//! | `extra` | `Utf8`: a JSON object of the unknown top-level fields, values verbatim, input order | no unknown field |
//! | `raw` | `Utf8`: the original message | never |
//! | `partition` | `Int32`: Kafka partition | never |
//! | `offset` | `Int64`: Kafka offset | never |
//! | `ingested_at` | `Timestamp(Millisecond, "UTC")`: when ingest read it | never |
//!
//! `channel` and `direction` hold the value as sent and are null when absent: the raw
//! table records what producers wrote. The contract defaults (`voice`, `inbound`) are
//! applied by the derived tables, or in SQL with `COALESCE(channel, 'voice')`.
//! Maps keep Arrow's default field names (`entries`, `keys`, `values`) so DataFusion's
//! map functions (`attributes['region']`, `map_keys`) work on them.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, Int32Builder, Int64Builder, ListBuilder, MapBuilder, RecordBatch,
    StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef, TimeUnit};

use super::encode::write_str;
use super::event::Event;
use super::field::{ENVELOPE_REQUIRED, Field, FieldKind, FieldValue};

/// The time zone of every timestamp column.
const UTC: &str = "UTC";

/// The schema of the raw `events` table (see the module docs for each column).
pub fn events_schema() -> SchemaRef {
    let mut fields: Vec<ArrowField> = Field::ALL
        .iter()
        .map(|&field| {
            let nullable = !(ENVELOPE_REQUIRED.contains(&field) || field == Field::Attributes);
            ArrowField::new(field.name(), data_type(field.spec().kind), nullable)
        })
        .collect();
    fields.extend([
        ArrowField::new("extra", DataType::Utf8, true),
        ArrowField::new("raw", DataType::Utf8, false),
        ArrowField::new("partition", DataType::Int32, false),
        ArrowField::new("offset", DataType::Int64, false),
        ArrowField::new("ingested_at", timestamp_type(), false),
    ]);
    Arc::new(Schema::new(fields))
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into()))
}

fn list_item_field() -> ArrowField {
    ArrowField::new_list_field(DataType::Utf8, false)
}

fn map_values_field(value_type: DataType) -> ArrowField {
    ArrowField::new("values", value_type, false)
}

fn map_type(value_type: DataType) -> DataType {
    let entries = ArrowField::new(
        "entries",
        DataType::Struct(
            vec![
                ArrowField::new("keys", DataType::Utf8, false),
                map_values_field(value_type),
            ]
            .into(),
        ),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

fn data_type(kind: FieldKind) -> DataType {
    match kind {
        FieldKind::SchemaVersion | FieldKind::Int(_) => DataType::Int64,
        FieldKind::Text(_) | FieldKind::Enum(_) => DataType::Utf8,
        FieldKind::Timestamp => timestamp_type(),
        FieldKind::TextList(_) => DataType::List(Arc::new(list_item_field())),
        FieldKind::TextMap => map_type(DataType::Utf8),
        FieldKind::Capacity => map_type(DataType::Int64),
    }
}

/// The builder of one contract field's column.
#[derive(Debug)]
enum Column {
    Int(Int64Builder),
    Text(StringBuilder),
    Timestamp(TimestampMillisecondBuilder),
    TextList(ListBuilder<StringBuilder>),
    TextMap(MapBuilder<StringBuilder, StringBuilder>),
    IntMap(MapBuilder<StringBuilder, Int64Builder>),
}

impl Column {
    fn new(kind: FieldKind, rows: usize) -> Self {
        match kind {
            FieldKind::SchemaVersion | FieldKind::Int(_) => {
                Column::Int(Int64Builder::with_capacity(rows))
            }
            FieldKind::Text(_) | FieldKind::Enum(_) => {
                Column::Text(StringBuilder::with_capacity(rows, rows * 8))
            }
            FieldKind::Timestamp => Column::Timestamp(
                TimestampMillisecondBuilder::with_capacity(rows).with_timezone(UTC),
            ),
            FieldKind::TextList(_) => Column::TextList(
                ListBuilder::with_capacity(StringBuilder::new(), rows)
                    .with_field(list_item_field()),
            ),
            FieldKind::TextMap => Column::TextMap(
                MapBuilder::with_capacity(None, StringBuilder::new(), StringBuilder::new(), rows)
                    .with_values_field(map_values_field(DataType::Utf8)),
            ),
            FieldKind::Capacity => Column::IntMap(
                MapBuilder::with_capacity(None, StringBuilder::new(), Int64Builder::new(), rows)
                    .with_values_field(map_values_field(DataType::Int64)),
            ),
        }
    }

    /// Appends one row. `empty_when_absent`: a missing map is an empty map, not null.
    fn append(&mut self, value: Option<FieldValue<'_>>, empty_when_absent: bool) {
        const PAIRED: &str = "map keys and values are appended in pairs";
        match (self, value) {
            (Column::Int(b), Some(FieldValue::Int(n))) => b.append_value(n),
            (Column::Text(b), Some(FieldValue::Text(text))) => b.append_value(text),
            (Column::Timestamp(b), Some(FieldValue::Timestamp(ms))) => b.append_value(ms),
            (Column::TextList(b), Some(FieldValue::TextList(items))) => {
                for item in items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (Column::TextMap(b), Some(FieldValue::TextMap(pairs))) => {
                for (key, value) in pairs {
                    b.keys().append_value(key);
                    b.values().append_value(value);
                }
                b.append(true).expect(PAIRED);
            }
            (Column::IntMap(b), Some(FieldValue::Capacity(pairs))) => {
                for (key, value) in pairs {
                    b.keys().append_value(key);
                    b.values().append_value(i64::from(*value));
                }
                b.append(true).expect(PAIRED);
            }
            (Column::TextMap(b), None) => b.append(empty_when_absent).expect(PAIRED),
            (Column::IntMap(b), None) => b.append(empty_when_absent).expect(PAIRED),
            // Absent, or (never, by construction of the field table: a test covers every
            // field) a value of another shape.
            (Column::Int(b), _) => b.append_null(),
            (Column::Text(b), _) => b.append_null(),
            (Column::Timestamp(b), _) => b.append_null(),
            (Column::TextList(b), _) => b.append(false),
            (Column::TextMap(b), _) => b.append(false).expect(PAIRED),
            (Column::IntMap(b), _) => b.append(false).expect(PAIRED),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Int(b) => Arc::new(b.finish()),
            Column::Text(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::TextList(b) => Arc::new(b.finish()),
            Column::TextMap(b) => Arc::new(b.finish()),
            Column::IntMap(b) => Arc::new(b.finish()),
        }
    }
}

/// Accumulates decoded events into record batches of [`events_schema`].
///
/// Reusable: [`EventsBatchBuilder::finish`] returns the rows so far and starts empty.
#[derive(Debug)]
pub struct EventsBatchBuilder {
    schema: SchemaRef,
    /// One per [`Field::ALL`], same order.
    fields: Vec<Column>,
    extra: StringBuilder,
    raw: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    ingested_at: TimestampMillisecondBuilder,
    /// Scratch for the `extra` JSON object, reused across rows.
    scratch: String,
}

impl Default for EventsBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventsBatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::with_capacity(1024)
    }

    /// An empty builder with room for `rows` rows before reallocating.
    pub fn with_capacity(rows: usize) -> Self {
        EventsBatchBuilder {
            schema: events_schema(),
            fields: Field::ALL
                .iter()
                .map(|field| Column::new(field.spec().kind, rows))
                .collect(),
            extra: StringBuilder::new(),
            raw: StringBuilder::with_capacity(rows, rows * 256),
            partition: Int32Builder::with_capacity(rows),
            offset: Int64Builder::with_capacity(rows),
            ingested_at: TimestampMillisecondBuilder::with_capacity(rows).with_timezone(UTC),
            scratch: String::new(),
        }
    }

    /// The schema of the batches this builds (the same as [`events_schema`]).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Rows appended since the last [`EventsBatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether no row was appended since the last [`EventsBatchBuilder::finish`].
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one accepted event with its original message text, its Kafka partition
    /// and offset, and when ingest read it (UTC milliseconds since the epoch).
    pub fn append(
        &mut self,
        event: &Event<'_>,
        raw: &str,
        partition: i32,
        offset: i64,
        ingested_at_ms: i64,
    ) {
        for (column, &field) in self.fields.iter_mut().zip(Field::ALL) {
            column.append(event.field_value(field), field == Field::Attributes);
        }
        if event.extra.is_empty() {
            self.extra.append_null();
        } else {
            self.scratch.clear();
            self.scratch.push('{');
            for (i, (name, value)) in event.extra.iter().enumerate() {
                if i > 0 {
                    self.scratch.push(',');
                }
                write_str(&mut self.scratch, name);
                self.scratch.push(':');
                self.scratch.push_str(value);
            }
            self.scratch.push('}');
            self.extra.append_value(&self.scratch);
        }
        self.raw.append_value(raw);
        self.partition.append_value(partition);
        self.offset.append_value(offset);
        self.ingested_at.append_value(ingested_at_ms);
    }

    /// The rows appended so far as one batch of [`events_schema`]; the builder is then
    /// empty and ready for the next batch.
    ///
    /// # Panics
    ///
    /// Only if the columns disagree with the schema, a broken invariant of this module
    /// (every field kind maps to one builder and one data type; tests cover each).
    pub fn finish(&mut self) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = self.fields.iter_mut().map(Column::finish).collect();
        columns.push(Arc::new(self.extra.finish()));
        columns.push(Arc::new(self.raw.finish()));
        columns.push(Arc::new(self.partition.finish()));
        columns.push(Arc::new(self.offset.finish()));
        columns.push(Arc::new(self.ingested_at.finish()));
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .expect("events batch columns match events_schema")
    }
}

#[cfg(test)]
mod tests;
