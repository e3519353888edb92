//! The writers' output read back: CSV and JSON as exact text, XLSX through calamine,
//! Parquet through parquet's own reader.

use std::io::{self, Cursor, Write};
use std::sync::Arc;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, Int64Builder, ListArray,
    MapBuilder, StringArray, StringBuilder, TimestampMillisecondArray,
};
use datafusion::arrow::compute::{concat_batches, sum};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;

use super::*;

fn utc_millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// 2024-03-01T00:00:00.123Z: winter in Paris (UTC+1).
const MARCH_1: i64 = 1_709_251_200_123;
/// 2024-07-01T12:30:00Z: summer in Paris (UTC+2).
const JULY_1: i64 = 1_719_837_000_000;

fn paris() -> ExportOptions {
    ExportOptions {
        timezone: Some(chrono_tz::Europe::Paris),
        ..ExportOptions::default()
    }
}

/// The small batch of the text tests (the spirit of the original `write_text` tests).
fn small() -> (SchemaRef, RecordBatch) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("queue_id", DataType::Utf8, false),
        Field::new("at", utc_millis(), true),
        Field::new("wait_ms", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["sales, east", "support"])),
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(MARCH_1), None]).with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from(vec![Some(20_000), None])),
        ],
    )
    .expect("batch");
    (schema, batch)
}

/// Every kind of column a report or table has, three rows, NULLs in the second.
fn wide() -> (SchemaRef, RecordBatch) {
    let mut aux = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    aux.keys().append_value("lunch");
    aux.values().append_value(60_000);
    aux.append(true).expect("map row");
    aux.append(false).expect("map row");
    aux.keys().append_value("break");
    aux.values().append_value(1);
    aux.keys().append_value("lunch");
    aux.values().append_value(2);
    aux.append(true).expect("map row");
    let aux = aux.finish();
    let hist = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2), Some(3)]),
        None,
        Some(vec![]),
    ]);
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "queue_id",
            Arc::new(StringArray::from(vec![
                Some("sales, east"),
                Some("=1+1"),
                None,
            ])),
        ),
        (
            "offered",
            Arc::new(Int64Array::from(vec![Some(10), None, Some(32)])),
        ),
        (
            "asa_s",
            Arc::new(Float64Array::from(vec![Some(12.5), Some(0.25), None])),
        ),
        (
            "in_service",
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
        ),
        (
            "period_start",
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(MARCH_1), None, Some(JULY_1)])
                    .with_timezone("UTC"),
            ),
        ),
        ("wait_hist", Arc::new(hist)),
        ("aux_ms", Arc::new(aux)),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("batch");
    (schema, batch)
}

fn export(
    format: ExportFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    options: ExportOptions,
) -> (Vec<u8>, ExportSummary) {
    let mut out = Vec::new();
    let summary = write_batches(&mut out, format, schema, batches, options).expect("export");
    assert_eq!(summary.bytes, out.len() as u64, "bytes counted");
    (out, summary)
}

fn text(format: ExportFormat, batches: &[RecordBatch], options: ExportOptions) -> String {
    let (schema, _) = small();
    let (out, _) = export(format, &schema, batches, options);
    String::from_utf8(out).expect("utf-8")
}

// ---- formats -------------------------------------------------------------------------

#[test]
fn formats_parse_names_and_extensions() {
    for format in ExportFormat::ALL {
        assert_eq!(ExportFormat::parse(format.name()).expect("name"), format);
        assert_eq!(
            ExportFormat::parse(format.extension()).expect("ext"),
            format
        );
        let path = std::path::PathBuf::from(format!("out/Report.{}", format.extension()));
        assert_eq!(ExportFormat::from_path(&path).expect("path"), format);
    }
    assert_eq!(
        ExportFormat::parse("JSONL").expect("jsonl"),
        ExportFormat::Ndjson
    );
    assert_eq!(
        ExportFormat::parse(".XLSX").expect("dot"),
        ExportFormat::Xlsx
    );
    assert_eq!(
        "csv".parse::<ExportFormat>().expect("from_str"),
        ExportFormat::Csv
    );
    assert_eq!(
        ExportFormat::Xlsx.content_type(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(ExportFormat::Csv.content_type(), "text/csv; charset=utf-8");
    assert_eq!(ExportFormat::Ndjson.content_type(), "application/x-ndjson");
    assert_eq!(
        ExportFormat::Parquet.content_type(),
        "application/vnd.apache.parquet"
    );

    let error = ExportFormat::parse("xls").expect_err("xls");
    assert!(matches!(&error, ExportError::UnknownFormat { name } if name == "xls"));
    assert!(error.is_client_error());
    assert_eq!(error.code(), "unknown_export_format");
    let error = ExportFormat::from_path(std::path::Path::new("report")).expect_err("no ext");
    assert!(matches!(error, ExportError::UnknownFormat { name } if name == "report"));
}

#[test]
fn errors_and_writers_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send>() {}
    send_sync::<ExportError>();
    send::<ExportWriter<Vec<u8>>>();
}

// ---- CSV -----------------------------------------------------------------------------

#[test]
fn csv_quotes_and_writes_nulls_empty() {
    let (_, batch) = small();
    assert_eq!(
        text(ExportFormat::Csv, &[batch], ExportOptions::default()),
        "queue_id,at,wait_ms\n\"sales, east\",2024-03-01T00:00:00.123Z,20000\nsupport,,\n"
    );
}

#[test]
fn csv_of_no_rows_is_its_header() {
    assert_eq!(
        text(ExportFormat::Csv, &[], ExportOptions::default()),
        "queue_id,at,wait_ms\n"
    );
    let (schema, _) = small();
    let empty = RecordBatch::new_empty(schema);
    assert_eq!(
        text(
            ExportFormat::Csv,
            &[empty.clone(), empty],
            ExportOptions::default()
        ),
        "queue_id,at,wait_ms\n"
    );
}

#[test]
fn csv_shows_timestamps_in_the_zone_with_their_offset() {
    let (schema, wide) = wide();
    let (out, _) = export(ExportFormat::Csv, &schema, &[wide], paris());
    let csv = String::from_utf8(out).expect("utf-8");
    assert_eq!(
        csv,
        "queue_id,offered,asa_s,in_service,period_start,wait_hist,aux_ms\n\
         \"sales, east\",10,12.5,true,2024-03-01T01:00:00.123+01:00,\"[1, 2, 3]\",{lunch: 60000}\n\
         '=1+1,,0.25,,,,\n\
         ,32,,false,2024-07-01T14:30:00+02:00,[],\"{break: 1, lunch: 2}\"\n"
    );
}

#[test]
fn csv_guards_strings_a_spreadsheet_would_run() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("=cmd", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![
                Some("=1+1"),
                Some("+33 1 23"),
                Some("-x"),
                Some("@SUM(A1)"),
                Some("\tx"),
                Some("a=b"),
                None,
            ])),
            // Negative numbers are numbers, not strings: never prefixed.
            Arc::new(Int64Array::from(vec![-1, -2, -3, -4, -5, -6, -7])),
        ],
    )
    .expect("batch");
    let (out, _) = export(
        ExportFormat::Csv,
        &schema,
        std::slice::from_ref(&batch),
        ExportOptions::default(),
    );
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "'=cmd,n\n'=1+1,-1\n'+33 1 23,-2\n'-x,-3\n'@SUM(A1),-4\n'\tx,-5\na=b,-6\n,-7\n"
    );
    let raw = ExportOptions {
        csv_formula_guard: false,
        ..ExportOptions::default()
    };
    let (out, _) = export(ExportFormat::Csv, &schema, &[batch], raw);
    assert!(
        String::from_utf8(out)
            .expect("utf-8")
            .starts_with("=cmd,n\n=1+1,-1\n")
    );
}

// ---- JSON ----------------------------------------------------------------------------

#[test]
fn json_has_every_column_of_every_row() {
    let (_, batch) = small();
    assert_eq!(
        text(
            ExportFormat::Json,
            std::slice::from_ref(&batch),
            ExportOptions::default()
        ),
        r#"[{"queue_id":"sales, east","at":"2024-03-01T00:00:00.123Z","wait_ms":20000},{"queue_id":"support","at":null,"wait_ms":null}]"#
    );
    assert_eq!(
        text(ExportFormat::Ndjson, &[batch], ExportOptions::default()),
        "{\"queue_id\":\"sales, east\",\"at\":\"2024-03-01T00:00:00.123Z\",\"wait_ms\":20000}\n\
         {\"queue_id\":\"support\",\"at\":null,\"wait_ms\":null}\n"
    );
}

#[test]
fn json_of_no_rows_is_an_empty_array() {
    assert_eq!(
        text(ExportFormat::Json, &[], ExportOptions::default()),
        "[]"
    );
    assert_eq!(
        text(ExportFormat::Ndjson, &[], ExportOptions::default()),
        ""
    );
}

#[test]
fn json_keeps_lists_and_maps_and_shows_the_zone() {
    let (schema, wide) = wide();
    let (out, _) = export(
        ExportFormat::Ndjson,
        &schema,
        &[wide.clone(), wide],
        paris(),
    );
    let lines: Vec<&str> = std::str::from_utf8(&out).expect("utf-8").lines().collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[0],
        r#"{"queue_id":"sales, east","offered":10,"asa_s":12.5,"in_service":true,"period_start":"2024-03-01T01:00:00.123+01:00","wait_hist":[1,2,3],"aux_ms":{"lunch":60000}}"#
    );
    // JSON is read by programs: strings are not guarded.
    assert_eq!(
        lines[1],
        r#"{"queue_id":"=1+1","offered":null,"asa_s":0.25,"in_service":null,"period_start":null,"wait_hist":null,"aux_ms":null}"#
    );
    assert_eq!(lines[3], lines[0]);
}

// ---- XLSX ----------------------------------------------------------------------------

fn read_xlsx(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(bytes)).expect("a readable xlsx")
}

fn sheet(bytes: Vec<u8>) -> (Vec<String>, Vec<Vec<Data>>) {
    let mut workbook = read_xlsx(bytes);
    let names = workbook.sheet_names();
    let range = workbook.worksheet_range(&names[0]).expect("sheet");
    let rows = range.rows().map(<[Data]>::to_vec).collect();
    (names, rows)
}

fn header(names: &[&str]) -> Vec<Data> {
    names
        .iter()
        .map(|n| Data::String((*n).to_owned()))
        .collect()
}

/// Excel's serial date-time of a wall clock: days since 1899-12-30 plus the fraction.
fn serial(days_since_1899_12_30: f64, h: f64, m: f64, s: f64) -> f64 {
    days_since_1899_12_30 + (h * 3600.0 + m * 60.0 + s) / 86_400.0
}

fn assert_datetime(cell: &Data, expected_serial: f64) {
    match cell {
        Data::DateTime(value) => {
            assert!(value.is_datetime(), "{value:?} is a date-time");
            let got = value.as_f64();
            assert!(
                (got - expected_serial).abs() < 1e-9,
                "{got} != {expected_serial}"
            );
        }
        other => panic!("expected a date-time cell, got {other:?}"),
    }
}

#[test]
fn xlsx_has_typed_cells_and_the_zones_wall_clock() {
    let (schema, batch) = wide();
    let options = ExportOptions {
        sheet_name: "Queue performance".to_owned(),
        title: Some("Queue performance by interval".to_owned()),
        ..paris()
    };
    let (out, summary) = export(
        ExportFormat::Xlsx,
        &schema,
        std::slice::from_ref(&batch),
        options,
    );
    assert_eq!(summary.rows, 3);
    assert_eq!(summary.truncated_cells, 0);

    let mut workbook = read_xlsx(out.clone());
    assert_eq!(workbook.sheet_names(), vec!["Queue performance".to_owned()]);
    let formulas = workbook
        .worksheet_formula("Queue performance")
        .expect("formulas");
    assert!(
        formulas.cells().all(|(_, _, f)| f.is_empty()),
        "no formula cells"
    );

    let (_, rows) = sheet(out);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0],
        header(&[
            "queue_id",
            "offered",
            "asa_s",
            "in_service",
            "period_start",
            "wait_hist",
            "aux_ms"
        ])
    );
    // Row 1: every type. 2024-03-01 is serial 45352; in Paris it is 01:00:00.123.
    let row = &rows[1];
    assert_eq!(row[0], Data::String("sales, east".to_owned()));
    assert_eq!(row[1], Data::Float(10.0));
    assert_eq!(row[2], Data::Float(12.5));
    assert_eq!(row[3], Data::Bool(true));
    assert_datetime(&row[4], serial(45_352.0, 1.0, 0.0, 0.123));
    assert_eq!(row[5], Data::String("[1, 2, 3]".to_owned()));
    assert_eq!(row[6], Data::String("{lunch: 60000}".to_owned()));
    // Row 2: NULLs are empty cells; a formula-looking string is a string, not 2.
    let row = &rows[2];
    assert_eq!(row[0], Data::String("=1+1".to_owned()));
    assert_eq!(row[2], Data::Float(0.25));
    for col in [1, 3, 4, 5, 6] {
        assert_eq!(row[col], Data::Empty, "column {col}");
    }
    // Row 3: 2024-07-01 (serial 45474) 12:30Z is 14:30 in Paris (summer time).
    let row = &rows[3];
    assert_eq!(row[0], Data::Empty);
    assert_eq!(row[1], Data::Float(32.0));
    assert_eq!(row[2], Data::Empty);
    assert_eq!(row[3], Data::Bool(false));
    assert_datetime(&row[4], serial(45_474.0, 14.0, 30.0, 0.0));
    assert_eq!(row[5], Data::String("[]".to_owned()));
    assert_eq!(row[6], Data::String("{break: 1, lunch: 2}".to_owned()));

    // Column totals are the batch's.
    let column_sum = |col: usize| -> f64 {
        rows[1..]
            .iter()
            .map(|row| match &row[col] {
                Data::Float(value) => *value,
                Data::Empty => 0.0,
                other => panic!("not a number: {other:?}"),
            })
            .sum()
    };
    let offered = sum(batch
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("i64"));
    let asa = sum(batch
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("f64"));
    assert_eq!(column_sum(1), offered.expect("sum") as f64);
    assert_eq!(column_sum(2), asa.expect("sum"));
}

#[test]
fn xlsx_timestamps_are_utc_without_a_zone_option() {
    let (schema, batch) = wide();
    let (out, _) = export(
        ExportFormat::Xlsx,
        &schema,
        &[batch],
        ExportOptions::default(),
    );
    let (names, rows) = sheet(out);
    assert_eq!(names, vec![DEFAULT_SHEET_NAME.to_owned()]);
    assert_datetime(&rows[1][4], serial(45_352.0, 0.0, 0.0, 0.123));
    assert_datetime(&rows[3][4], serial(45_474.0, 12.0, 30.0, 0.0));
}

fn ints(values: std::ops::Range<i64>) -> (SchemaRef, RecordBatch) {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from_iter_values(values))],
    )
    .expect("batch");
    (schema, batch)
}

#[test]
fn xlsx_writes_batches_in_order() {
    let (schema, first) = ints(0..3);
    let (_, second) = ints(3..5);
    let (_, third) = ints(5..9);
    let (out, summary) = export(
        ExportFormat::Xlsx,
        &schema,
        &[first, second, third],
        ExportOptions::default(),
    );
    assert_eq!(summary.rows, 9);
    let (_, rows) = sheet(out);
    assert_eq!(rows[0], header(&["n"]));
    let values: Vec<Data> = rows[1..].iter().map(|row| row[0].clone()).collect();
    let expected: Vec<Data> = (0..9).map(|n| Data::Float(n as f64)).collect();
    assert_eq!(values, expected);
}

#[test]
fn xlsx_of_no_rows_is_a_header_only_sheet() {
    let (schema, _) = wide();
    let (out, summary) = export(ExportFormat::Xlsx, &schema, &[], ExportOptions::default());
    assert_eq!(summary.rows, 0);
    let (_, rows) = sheet(out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].len(), schema.fields().len());
}

#[test]
fn xlsx_refuses_more_rows_than_its_limit_and_writes_nothing() {
    let (schema, batch) = ints(0..3);
    let options = ExportOptions {
        max_xlsx_rows: 5,
        ..ExportOptions::default()
    };
    let mut out = Vec::new();
    let mut writer = ExportWriter::new(
        &mut out,
        ExportFormat::Xlsx,
        schema.clone(),
        options.clone(),
    )
    .expect("writer");
    writer.write_batch(&batch).expect("3 rows fit");
    let error = writer.write_batch(&batch).expect_err("6 rows do not");
    assert!(matches!(
        error,
        ExportError::TooManyRowsForXlsx { limit: 5 }
    ));
    assert!(error.is_client_error());
    assert!(error.to_string().contains("CSV or Parquet"), "{error}");
    assert_eq!(writer.rows(), 3);
    drop(writer);
    assert!(out.is_empty(), "nothing written before finish");

    // Exactly the limit is fine.
    let (_, two) = ints(0..2);
    let (out, summary) = export(ExportFormat::Xlsx, &schema, &[batch, two], options);
    assert_eq!(summary.rows, 5);
    assert_eq!(sheet(out).1.len(), 6);
}

#[test]
fn xlsx_refuses_more_columns_than_a_sheet_has() {
    let fields: Vec<Field> = (0..=XLSX_MAX_COLUMNS)
        .map(|i| Field::new(format!("c{i}"), DataType::Int64, true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let error = ExportWriter::new(
        Vec::new(),
        ExportFormat::Xlsx,
        schema,
        ExportOptions::default(),
    )
    .expect_err("too wide");
    assert!(matches!(
        error,
        ExportError::TooManyColumnsForXlsx {
            columns: 16_385,
            limit: 16_384
        }
    ));
}

#[test]
fn xlsx_needs_a_writable_temp_dir() {
    let (schema, _) = ints(0..1);
    let options = ExportOptions {
        temp_dir: Some("/nonexistent/ccpulse-export".into()),
        ..ExportOptions::default()
    };
    let error = ExportWriter::new(Vec::new(), ExportFormat::Xlsx, schema, options)
        .expect_err("no temp dir");
    assert!(
        matches!(error, ExportError::XlsxTempFile { .. }),
        "{error:?}"
    );
}

#[test]
fn xlsx_cuts_text_longer_than_a_cell_holds() {
    let schema = Arc::new(Schema::new(vec![Field::new("note", DataType::Utf8, true)]));
    let long = "x".repeat(40_000);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec![long.as_str(), "short"]))],
    )
    .expect("batch");
    let (out, summary) = export(
        ExportFormat::Xlsx,
        &schema,
        &[batch],
        ExportOptions::default(),
    );
    assert_eq!(summary.truncated_cells, 1);
    let (_, rows) = sheet(out);
    match &rows[1][0] {
        Data::String(text) => {
            assert_eq!(text.chars().count(), XLSX_MAX_CELL_CHARS);
            assert!(text.starts_with("xxx") && text.ends_with('…'));
        }
        other => panic!("expected a string, got {other:?}"),
    }
    assert_eq!(rows[2][0], Data::String("short".to_owned()));
}

#[test]
fn xlsx_keeps_big_integers_and_non_finite_floats_as_text() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("x", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![9_007_199_254_740_993, -5])),
            Arc::new(Float64Array::from(vec![f64::NAN, f64::NEG_INFINITY])),
        ],
    )
    .expect("batch");
    let (out, _) = export(
        ExportFormat::Xlsx,
        &schema,
        &[batch],
        ExportOptions::default(),
    );
    let (_, rows) = sheet(out);
    assert_eq!(rows[1][0], Data::String("9007199254740993".to_owned()));
    assert_eq!(rows[1][1], Data::String("NaN".to_owned()));
    assert_eq!(rows[2][0], Data::Float(-5.0));
    assert_eq!(rows[2][1], Data::String("-inf".to_owned()));
}

#[test]
fn xlsx_dates_and_timestamps_without_a_zone_are_shown_as_stored() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("day", DataType::Date32, true),
        Field::new(
            "local_at",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        ),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            // 2024-03-01, and 1900-01-01, which Excel counts wrong (before 1900-03-01).
            Arc::new(Date32Array::from(vec![Some(19_783), Some(-25_567), None])),
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(MARCH_1),
                None,
                Some(0),
            ])),
        ],
    )
    .expect("batch");
    let (out, _) = export(ExportFormat::Xlsx, &schema, &[batch], paris());
    let (_, rows) = sheet(out);
    assert_datetime(&rows[1][0], 45_352.0);
    // No zone: the wall clock as stored, not moved to Paris.
    assert_datetime(&rows[1][1], serial(45_352.0, 0.0, 0.0, 0.123));
    assert_eq!(rows[2][0], Data::String("1900-01-01".to_owned()));
    assert_eq!(rows[2][1], Data::Empty);
    assert_eq!(rows[3][0], Data::Empty);
    assert_datetime(&rows[3][1], 25_569.0);
}

// ---- Parquet -------------------------------------------------------------------------

#[test]
fn parquet_reads_back_as_the_batches_written() {
    let (schema, batch) = wide();
    let (_, other) = wide();
    let empty = RecordBatch::new_empty(schema.clone());
    let input = [batch, empty, other];
    let mut file = tempfile::tempfile().expect("temp file");
    let summary = write_batches(
        &mut file,
        ExportFormat::Parquet,
        &schema,
        &input,
        ExportOptions::default(),
    )
    .expect("parquet");
    assert_eq!(summary.rows, 6);
    assert_eq!(summary.bytes, file.metadata().expect("metadata").len());

    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet file");
    let compression = builder.metadata().row_group(0).column(0).compression();
    assert!(
        matches!(compression, Compression::ZSTD(_)),
        "{compression:?}"
    );
    let read: Vec<RecordBatch> = builder
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("batches");
    let read_schema = read[0].schema();
    assert_eq!(read_schema.fields(), schema.fields());
    let read = concat_batches(&read_schema, &read).expect("concat");
    let expected = concat_batches(&schema, &input).expect("concat");
    assert_eq!(read.columns(), expected.columns());
}

#[test]
fn parquet_of_no_rows_keeps_the_schema() {
    let (schema, _) = wide();
    let mut file = tempfile::tempfile().expect("temp file");
    write_batches(
        &mut file,
        ExportFormat::Parquet,
        &schema,
        &[],
        ExportOptions::default(),
    )
    .expect("parquet");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet file");
    assert_eq!(builder.schema().fields(), schema.fields());
    let rows: usize = builder
        .build()
        .expect("reader")
        .map(|batch| batch.expect("batch").num_rows())
        .sum();
    assert_eq!(rows, 0);
}

// ---- streaming and failures ----------------------------------------------------------

/// Counts what it is given and keeps none of it.
#[derive(Debug, Default)]
struct CountingSink {
    bytes: u64,
    lines: u64,
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.lines += buf.iter().filter(|b| **b == b'\n').count() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn csv_streams_many_batches() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("queue_id", DataType::Utf8, false),
        Field::new("wait_s", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..10_000)),
            Arc::new(StringArray::from_iter_values(
                (0..10_000).map(|i| format!("queue-{}", i % 7)),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..10_000).map(|i| i as f64 / 4.0),
            )),
        ],
    )
    .expect("batch");
    let mut sink = CountingSink::default();
    let mut writer = ExportWriter::new(
        &mut sink,
        ExportFormat::Csv,
        schema,
        ExportOptions::default(),
    )
    .expect("writer");
    for _ in 0..50 {
        writer.write_batch(&batch).expect("batch");
    }
    let summary = writer.finish().expect("finish");
    assert_eq!(summary.rows, 500_000);
    assert_eq!(sink.lines, 500_001, "a header and one line per row");
    assert_eq!(summary.bytes, sink.bytes);
}

/// Accepts `room` bytes, then fails like a client that went away.
struct FailingSink {
    room: usize,
}

impl Write for FailingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "client went away",
            ));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_output_is_a_write_error_whatever_the_format() {
    let (schema, batch) = wide();
    for format in ExportFormat::ALL {
        let result = (|| -> Result<ExportSummary, ExportError> {
            let mut writer = ExportWriter::new(
                FailingSink { room: 10 },
                format,
                schema.clone(),
                ExportOptions::default(),
            )?;
            for _ in 0..100 {
                writer.write_batch(&batch)?;
            }
            writer.finish()
        })();
        match result {
            Err(ExportError::Write { format: f, source }) => {
                assert_eq!(f, format);
                assert_eq!(source.kind(), io::ErrorKind::BrokenPipe, "{format}");
                assert_eq!(source.to_string(), "client went away");
            }
            other => panic!("{format}: expected a write error, got {other:?}"),
        }
    }
}

#[test]
fn a_batch_of_other_columns_is_refused() {
    let (schema, _) = small();
    let (_, other) = ints(0..2);
    let mut writer = ExportWriter::new(
        Vec::new(),
        ExportFormat::Csv,
        schema,
        ExportOptions::default(),
    )
    .expect("writer");
    let error = writer.write_batch(&other).expect_err("wrong columns");
    assert!(
        matches!(&error, ExportError::BatchSchema { found, .. } if found == "n Int64"),
        "{error:?}"
    );
}
