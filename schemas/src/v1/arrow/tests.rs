use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int32Type, Int64Type, TimestampMillisecondType};
use proptest::prelude::*;

use super::*;
use crate::v1::encode::write_str;
use crate::v1::fixtures::{self, DOC_EXAMPLE, UNKNOWN_TYPE};
use crate::v1::{decode, timestamp};

/// Rebuilds row `row`'s event as JSON from the batch alone (canonical order, `extra`
/// spliced verbatim), so decoding it must give back the appended event.
fn row_json(batch: &RecordBatch, row: usize) -> String {
    let mut out = String::from("{");
    for (i, &field) in Field::ALL.iter().enumerate() {
        let column = batch.column(i);
        if column.is_null(row) {
            continue;
        }
        let mut value = String::new();
        match column.data_type() {
            DataType::Int64 => value = column.as_primitive::<Int64Type>().value(row).to_string(),
            DataType::Utf8 => write_str(&mut value, column.as_string::<i32>().value(row)),
            DataType::Timestamp(..) => {
                let ms = column.as_primitive::<TimestampMillisecondType>().value(row);
                write_str(&mut value, &timestamp::format(ms));
            }
            DataType::List(_) => {
                let items = column.as_list::<i32>().value(row);
                let items = items.as_string::<i32>();
                let items: Vec<String> = items
                    .iter()
                    .map(|item| {
                        let mut text = String::new();
                        write_str(&mut text, item.unwrap());
                        text
                    })
                    .collect();
                value = format!("[{}]", items.join(","));
            }
            DataType::Map(..) => {
                let entries = column.as_map().value(row);
                if entries.is_empty() && field == Field::Attributes {
                    continue;
                }
                let keys = entries.column(0).as_string::<i32>();
                let values = entries.column(1);
                value.push('{');
                for j in 0..entries.len() {
                    if j > 0 {
                        value.push(',');
                    }
                    write_str(&mut value, keys.value(j));
                    value.push(':');
                    match values.data_type() {
                        DataType::Utf8 => write_str(&mut value, values.as_string::<i32>().value(j)),
                        _ => {
                            value.push_str(&values.as_primitive::<Int64Type>().value(j).to_string())
                        }
                    }
                }
                value.push('}');
            }
            other => panic!("unexpected column type {other}"),
        }
        if out.len() > 1 {
            out.push(',');
        }
        write_str(&mut out, field.name());
        out.push(':');
        out.push_str(&value);
    }
    let extra = batch.column_by_name("extra").unwrap().as_string::<i32>();
    if extra.is_valid(row) {
        let object = extra.value(row);
        out.push(',');
        out.push_str(&object[1..object.len() - 1]);
    }
    out.push('}');
    out
}

#[test]
fn schema_has_the_documented_columns() {
    let schema = events_schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        &names[..5],
        [
            "schema_version",
            "event_id",
            "tenant_id",
            "type",
            "occurred_at"
        ]
    );
    assert_eq!(
        &names[names.len() - 5..],
        ["extra", "raw", "partition", "offset", "ingested_at"]
    );
    for (name, data_type, nullable) in [
        ("occurred_at", timestamp_type(), false),
        ("ingested_at", timestamp_type(), false),
        ("type", DataType::Utf8, false),
        ("channel", DataType::Utf8, true),
        ("direction", DataType::Utf8, true),
        ("priority", DataType::Int64, true),
        ("csat", DataType::Int64, true),
        ("attributes", map_type(DataType::Utf8), false),
        ("capacity", map_type(DataType::Int64), true),
        ("skills", DataType::List(Arc::new(list_item_field())), true),
        ("extra", DataType::Utf8, true),
        ("raw", DataType::Utf8, false),
        ("partition", DataType::Int32, false),
        ("offset", DataType::Int64, false),
    ] {
        let field = schema.field_with_name(name).unwrap();
        assert_eq!(field.data_type(), &data_type, "{name}");
        assert_eq!(field.is_nullable(), nullable, "{name}");
    }
    assert_eq!(names.len(), Field::ALL.len() + 5);
}

#[test]
fn every_example_builds_a_valid_batch_that_round_trips() {
    let inputs: Vec<&str> = fixtures::all_valid().collect();
    let events: Vec<Event<'_>> = inputs
        .iter()
        .map(|j| decode(j.as_bytes()).unwrap())
        .collect();
    let mut builder = EventsBatchBuilder::new();
    for (i, (event, raw)) in events.iter().zip(&inputs).enumerate() {
        builder.append(event, raw, 3, 1000 + i as i64, 1_800_000_000_000 + i as i64);
    }
    assert_eq!(builder.len(), events.len());
    let batch = builder.finish();
    assert!(builder.is_empty());
    assert_eq!(batch.schema(), events_schema());
    RecordBatch::try_new(events_schema(), batch.columns().to_vec()).unwrap();
    assert_eq!(batch.num_rows(), events.len());

    for (row, (event, raw)) in events.iter().zip(&inputs).enumerate() {
        let json = row_json(&batch, row);
        assert_eq!(&decode(json.as_bytes()).unwrap(), event, "{json}");
        let column = |name: &str| Arc::clone(batch.column_by_name(name).unwrap());
        assert_eq!(column("raw").as_string::<i32>().value(row), *raw);
        assert_eq!(
            column("partition").as_primitive::<Int32Type>().value(row),
            3
        );
        assert_eq!(
            column("offset").as_primitive::<Int64Type>().value(row),
            1000 + row as i64
        );
        assert_eq!(
            column("ingested_at")
                .as_primitive::<TimestampMillisecondType>()
                .value(row),
            1_800_000_000_000 + row as i64
        );
    }
}

#[test]
fn values_are_stored_as_sent() {
    let queued = decode(DOC_EXAMPLE.as_bytes()).unwrap();
    let heartbeat = decode(fixtures::PER_TYPE[22].1.as_bytes()).unwrap();
    let unknown = decode(UNKNOWN_TYPE.as_bytes()).unwrap();
    let mut builder = EventsBatchBuilder::with_capacity(2);
    builder.append(&queued, DOC_EXAMPLE, 0, 0, 0);
    builder.append(&heartbeat, "{}", 0, 1, 0);
    builder.append(&unknown, UNKNOWN_TYPE, 0, 2, 0);
    let batch = builder.finish();
    let strings = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .clone()
    };

    assert_eq!(strings("type").value(0), "interaction.queued");
    assert_eq!(strings("type").value(2), "interaction.sentiment_scored");
    assert_eq!(strings("channel").value(0), "voice");
    assert!(
        strings("channel").is_null(1),
        "absent channel is null, not the default"
    );
    assert!(strings("direction").is_null(1));
    let occurred = batch.column_by_name("occurred_at").unwrap();
    assert_eq!(
        occurred.as_primitive::<TimestampMillisecondType>().value(0),
        1_795_166_102_123
    );
    assert!(strings("extra").is_null(0));
    assert_eq!(
        strings("extra").value(2),
        r#"{"score":-0.75,"model":{"name":"s-1","tags":["a",null]},"flag":true}"#
    );
    assert_eq!(strings("raw").value(2), UNKNOWN_TYPE);
    let attributes = batch.column_by_name("attributes").unwrap().as_map().clone();
    assert!(attributes.is_valid(1) && attributes.value(1).is_empty());
}

#[test]
fn finish_resets_the_builder() {
    let mut builder = EventsBatchBuilder::default();
    builder.append(
        &decode(DOC_EXAMPLE.as_bytes()).unwrap(),
        DOC_EXAMPLE,
        0,
        0,
        0,
    );
    assert_eq!(builder.finish().num_rows(), 1);
    let empty = builder.finish();
    assert_eq!(empty.num_rows(), 0);
    assert_eq!(empty.schema(), builder.schema());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn generated_events_round_trip_through_a_batch(
        events in proptest::collection::vec(fixtures::arb_event(), 1..6),
    ) {
        let mut builder = EventsBatchBuilder::new();
        let raws: Vec<String> = events.iter().map(Event::to_json).collect();
        for (i, (event, raw)) in events.iter().zip(&raws).enumerate() {
            builder.append(event, raw, i as i32, i as i64, 0);
        }
        let batch = builder.finish();
        for (row, event) in events.iter().enumerate() {
            let json = row_json(&batch, row);
            prop_assert_eq!(&decode(json.as_bytes()).unwrap(), event);
        }
    }
}
