//! The query engine over a hand-built [`TableSource`]: Parquet files written here and
//! in-memory batches, two tenants. What `ingest` writes is tested with the real source in
//! `tests/tests/`; this file pins the engine's own rules: union, summing of interval
//! deltas, the tenant wall, date pruning, refusals and limits.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccpulse_query::{
    Error, QueryConfig, QueryEngine, QueryLimits, QueryOutput, QueryStream, TenantScope,
};
use ccpulse_schemas::source::{
    Snapshot, SourceError, TableData, TableDef, TableFile, TableKind, TableSource,
};
use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, Int64Builder, ListBuilder, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;

const DAY_MS: i64 = 86_400_000;
/// 2024-03-01T00:00:00Z.
const MARCH_1_MS: i64 = 1_709_251_200_000;

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn calls_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("call_id", DataType::Utf8, false),
        Field::new("at", ts_type(), true),
        Field::new("wait_ms", DataType::Int64, true),
    ]))
}

fn intervals_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("queue_id", DataType::Utf8, false),
        Field::new("interval_start", ts_type(), false),
        Field::new("offered", DataType::Int64, false),
        Field::new("wait_min_ms", DataType::Int64, true),
        Field::new("wait_max_ms", DataType::Int64, true),
        Field::new(
            "wait_histogram",
            DataType::List(Arc::new(Field::new("item", DataType::Int64, false))),
            false,
        ),
    ]))
}

/// One call per row: (tenant, id, at ms, wait ms).
fn calls_batch(rows: &[(&str, String, Option<i64>, i64)]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.1.as_str()),
        )),
        Arc::new(
            TimestampMillisecondArray::from_iter(rows.iter().map(|r| r.2)).with_timezone("UTC"),
        ),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
    ];
    RecordBatch::try_new(calls_schema(), columns).expect("calls batch")
}

/// (tenant, queue, interval start, offered, min, max, histogram).
type IntervalRow<'a> = (&'a str, &'a str, i64, i64, i64, i64, [i64; 3]);

fn intervals_batch(rows: &[IntervalRow<'_>]) -> RecordBatch {
    let mut histograms = ListBuilder::new(Int64Builder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::Int64,
        false,
    )));
    for row in rows {
        histograms.values().append_slice(&row.6);
        histograms.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.2))
                .with_timezone("UTC"),
        ),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.4))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.5))),
        Arc::new(histograms.finish()),
    ];
    RecordBatch::try_new(intervals_schema(), columns).expect("intervals batch")
}

fn write_parquet(path: &Path, batch: &RecordBatch) -> TableFile {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
    TableFile {
        path: path.to_path_buf(),
        date: None,
        bytes: std::fs::metadata(path).expect("stat").len(),
        rows: batch.num_rows() as u64,
    }
}

/// A source with files per (table, tenant) and batches per (table, tenant).
#[derive(Debug, Default)]
struct FakeSource {
    files: Mutex<BTreeMap<(String, String), Vec<TableFile>>>,
    batches: Mutex<BTreeMap<(String, String), Vec<RecordBatch>>>,
    /// Also hand out every other tenant's batches (a broken source: the catalog's tenant
    /// filter must still hold).
    leaky: bool,
    /// Before each snapshot: how many snapshots were taken.
    snapshots: AtomicUsize,
    /// Files listed only by the first snapshot (to simulate a compaction in between).
    first_snapshot_extra: Mutex<Vec<(String, TableFile)>>,
}

impl FakeSource {
    fn add_file(&self, table: &str, tenant: &str, file: TableFile) {
        self.files
            .lock()
            .expect("lock")
            .entry((table.to_owned(), tenant.to_owned()))
            .or_default()
            .push(file);
    }

    fn add_batch(&self, table: &str, tenant: &str, batch: RecordBatch) {
        self.batches
            .lock()
            .expect("lock")
            .entry((table.to_owned(), tenant.to_owned()))
            .or_default()
            .push(batch);
    }
}

impl TableSource for FakeSource {
    fn tables(&self) -> Vec<TableDef> {
        vec![
            TableDef {
                name: "calls".into(),
                schema: calls_schema(),
                time_column: Some("at".into()),
                kind: TableKind::Detail,
            },
            TableDef {
                name: "queue_intervals".into(),
                schema: intervals_schema(),
                time_column: Some("interval_start".into()),
                kind: TableKind::Interval {
                    key: &["tenant_id", "queue_id", "interval_start"],
                },
            },
        ]
    }

    fn snapshot(&self, tenant_id: &str) -> Result<Snapshot, SourceError> {
        let n = self.snapshots.fetch_add(1, Ordering::SeqCst);
        let mut snapshot = Snapshot::default();
        for ((table, tenant), files) in self.files.lock().expect("lock").iter() {
            if tenant == tenant_id {
                let data = snapshot.tables.entry(table.clone()).or_default();
                data.files.extend(files.iter().cloned());
            }
        }
        for ((table, tenant), batches) in self.batches.lock().expect("lock").iter() {
            if tenant == tenant_id || self.leaky {
                let data: &mut TableData = snapshot.tables.entry(table.clone()).or_default();
                data.batches.extend(batches.iter().cloned());
            }
        }
        if n == 0 {
            for (table, file) in self.first_snapshot_extra.lock().expect("lock").drain(..) {
                snapshot.tables.entry(table).or_default().files.push(file);
            }
        }
        Ok(snapshot)
    }
}

/// Two tenants: `a` with 40 calls over 4 days in files (one file per day) and 10 in
/// memory, `b` with 7 calls in a file and 3 in memory.
fn two_tenants(dir: &Path) -> FakeSource {
    let source = FakeSource::default();
    for day in 0..4 {
        let rows: Vec<_> = (0..10)
            .map(|i| {
                (
                    "a",
                    format!("a-{day}-{i}"),
                    Some(MARCH_1_MS + day * DAY_MS + i * 60_000),
                    i * 1000,
                )
            })
            .collect();
        let mut file = write_parquet(
            &dir.join(format!("calls/a/{day}.parquet")),
            &calls_batch(&rows),
        );
        file.date = NaiveDate::from_ymd_opt(2024, 3, 1 + day as u32);
        source.add_file("calls", "a", file);
    }
    let memory: Vec<_> = (0..10)
        .map(|i| {
            (
                "a",
                format!("a-mem-{i}"),
                Some(MARCH_1_MS + 4 * DAY_MS + i),
                500,
            )
        })
        .collect();
    source.add_batch("calls", "a", calls_batch(&memory));
    let rows: Vec<_> = (0..7)
        .map(|i| ("b", format!("b-{i}"), Some(MARCH_1_MS + i), 99_000))
        .collect();
    let mut file = write_parquet(&dir.join("calls/b/0.parquet"), &calls_batch(&rows));
    file.date = NaiveDate::from_ymd_opt(2024, 3, 1);
    source.add_file("calls", "b", file);
    let memory: Vec<_> = (0..3)
        .map(|i| ("b", format!("b-mem-{i}"), None, 99_000))
        .collect();
    source.add_batch("calls", "b", calls_batch(&memory));
    source
}

fn engine(source: FakeSource, limits: QueryLimits) -> QueryEngine {
    let config = QueryConfig {
        limits,
        ..QueryConfig::default()
    };
    QueryEngine::new(Arc::new(source), config).expect("engine")
}

fn tenant(id: &str) -> TenantScope {
    TenantScope::new(id, chrono_tz::Europe::Berlin)
}

fn int(output: &QueryOutput, column: usize, row: usize) -> Option<i64> {
    let mut remaining = row;
    for batch in &output.batches {
        if remaining < batch.num_rows() {
            let array = batch
                .column(column)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("an Int64 column");
            return (!array.is_null(remaining)).then(|| array.value(remaining));
        }
        remaining -= batch.num_rows();
    }
    panic!("row {row} out of range ({} rows)", output.rows)
}

fn strings(output: &QueryOutput, column: usize) -> Vec<String> {
    output
        .batches
        .iter()
        .flat_map(|batch| {
            let array = batch
                .column(column)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("a Utf8 column");
            (0..array.len())
                .map(|i| array.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn files_and_batches_are_one_table_of_the_callers_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(two_tenants(dir.path()), QueryLimits::default());
    let out = engine
        .sql(
            &tenant("a"),
            "SELECT count(*), count(DISTINCT call_id), sum(wait_ms) FROM calls",
        )
        .await
        .expect("query");
    assert_eq!(int(&out, 0, 0), Some(50));
    assert_eq!(int(&out, 1, 0), Some(50));
    assert_eq!(int(&out, 2, 0), Some(4 * 45_000 + 10 * 500));
    let out = engine
        .sql(&tenant("b"), "SELECT count(*) FROM calls")
        .await
        .expect("query");
    assert_eq!(int(&out, 0, 0), Some(10));
    let out = engine
        .sql(&tenant("nobody"), "SELECT count(*) FROM calls")
        .await
        .expect("an unknown tenant has empty tables");
    assert_eq!(int(&out, 0, 0), Some(0));
}

#[tokio::test]
async fn a_leaky_source_still_shows_only_the_callers_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut source = two_tenants(dir.path());
    source.leaky = true;
    let engine = engine(source, QueryLimits::default());
    let a = tenant("a");
    for sql in [
        "SELECT DISTINCT tenant_id FROM calls",
        "SELECT DISTINCT tenant_id FROM datafusion.public.calls",
        "SELECT tenant_id FROM calls WHERE tenant_id = 'b' OR 1 = 1 GROUP BY tenant_id",
        "SELECT DISTINCT c.tenant_id FROM calls c JOIN calls d ON c.call_id <> d.call_id",
        "WITH x AS (SELECT * FROM calls) SELECT DISTINCT tenant_id FROM x",
    ] {
        let out = engine.sql(&a, sql).await.expect(sql);
        assert_eq!(strings(&out, 0), ["a"], "{sql}");
    }
    let out = engine
        .sql(&a, "SELECT count(*) FROM calls WHERE tenant_id = 'b'")
        .await
        .expect("query");
    assert_eq!(int(&out, 0, 0), Some(0));
    // The catalog lists the views and nothing behind them.
    let out = engine
        .sql(
            &a,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        )
        .await
        .expect("information_schema");
    assert_eq!(strings(&out, 0), ["calls", "queue_intervals"]);
}

#[tokio::test]
async fn interval_deltas_are_summed_by_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = FakeSource::default();
    let q = MARCH_1_MS;
    let file_rows: [IntervalRow<'_>; 3] = [
        ("a", "sales", q, 3, 1_000, 9_000, [2, 1, 0]),
        ("a", "sales", q + 900_000, 1, 4_000, 4_000, [1, 0, 0]),
        ("a", "support", q, 2, 500, 700, [2, 0, 0]),
    ];
    source.add_file(
        "queue_intervals",
        "a",
        write_parquet(
            &dir.path().join("qi/a.parquet"),
            &intervals_batch(&file_rows),
        ),
    );
    source.add_batch(
        "queue_intervals",
        "a",
        intervals_batch(&[("a", "sales", q, 2, 200, 20_000, [0, 1, 1])]),
    );
    source.add_batch(
        "queue_intervals",
        "b",
        intervals_batch(&[("b", "sales", q, 100, 1, 1, [100, 0, 0])]),
    );
    let engine = engine(source, QueryLimits::default());
    let out = engine
        .sql(
            &tenant("a"),
            "SELECT queue_id, offered, wait_min_ms, wait_max_ms, wait_histogram \
             FROM queue_intervals ORDER BY queue_id, interval_start",
        )
        .await
        .expect("query");
    let table = pretty_format_batches(&out.batches)
        .expect("format")
        .to_string();
    let expected = [
        "+----------+---------+-------------+-------------+----------------+",
        "| queue_id | offered | wait_min_ms | wait_max_ms | wait_histogram |",
        "+----------+---------+-------------+-------------+----------------+",
        "| sales    | 5       | 200         | 20000       | [2, 2, 1]      |",
        "| sales    | 1       | 4000        | 4000        | [1, 0, 0]      |",
        "| support  | 2       | 500         | 700         | [2, 0, 0]      |",
        "+----------+---------+-------------+-------------+----------------+",
    ]
    .join("\n");
    assert_eq!(table, expected);
}

#[tokio::test]
async fn filters_on_the_time_column_skip_other_days_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = two_tenants(dir.path());
    // Day 3's file becomes unreadable: only a query that reads it can fail.
    let broken = dir.path().join("calls/a/3.parquet");
    std::fs::write(&broken, b"not parquet").expect("overwrite");
    source
        .files
        .lock()
        .expect("lock")
        .get_mut(&("calls".to_owned(), "a".to_owned()))
        .expect("a's files")
        .iter_mut()
        .for_each(|file| {
            if file.path == broken {
                file.bytes = 11;
            }
        });
    let engine = engine(source, QueryLimits::default());
    let a = tenant("a");
    let out = engine
        .sql(
            &a,
            "SELECT count(*) FROM calls WHERE at >= TIMESTAMP '2024-03-02T00:00:00Z' \
             AND at < TIMESTAMP '2024-03-04T00:00:00Z'",
        )
        .await
        .expect("days 2 and 3 only: the broken day-4 file is not read");
    assert_eq!(int(&out, 0, 0), Some(20));
    let out = engine
        .sql(&a, "SELECT count(*) FROM calls WHERE at BETWEEN TIMESTAMP '2024-03-05T00:00:00Z' AND TIMESTAMP '2024-03-06T00:00:00Z'")
        .await
        .expect("the in-memory rows of 5 March");
    assert_eq!(int(&out, 0, 0), Some(10));
    let err = engine
        .sql(&a, "SELECT count(*) FROM calls")
        .await
        .expect_err("reading every day reads the broken file");
    assert!(!err.is_client_error(), "{err:?}");
}

#[tokio::test]
async fn statements_other_than_queries_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(two_tenants(dir.path()), QueryLimits::default());
    let a = tenant("a");
    let target = dir.path().join("stolen.csv");
    let cases = [
        (format!("COPY calls TO '{}'", target.display()), "COPY"),
        (
            format!(
                "COPY (SELECT * FROM calls) TO '{}' STORED AS CSV",
                target.display()
            ),
            "COPY",
        ),
        (
            format!(
                "CREATE EXTERNAL TABLE stolen STORED AS PARQUET LOCATION '{}'",
                dir.path().join("calls/b/0.parquet").display()
            ),
            "CREATE EXTERNAL TABLE",
        ),
        (
            "CREATE TABLE t AS SELECT * FROM calls".to_owned(),
            "CREATE TABLE",
        ),
        (
            "CREATE VIEW v AS SELECT * FROM calls".to_owned(),
            "CREATE VIEW",
        ),
        (
            "INSERT INTO calls VALUES ('a', 'x', NULL, 1)".to_owned(),
            "INSERT",
        ),
        ("DELETE FROM calls".to_owned(), "DELETE"),
        ("DROP TABLE calls".to_owned(), "DROP TABLE"),
        (
            "SET datafusion.execution.target_partitions = 1".to_owned(),
            "SET",
        ),
        ("SELECT * INTO t FROM calls".to_owned(), "SELECT INTO"),
    ];
    for (sql, name) in &cases {
        match engine.sql(&a, sql).await {
            Err(Error::Refused { statement }) => assert_eq!(statement, *name, "{sql}"),
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }
    assert!(!target.exists(), "nothing was written");
    // File access through a query: no URL tables, no file-reading table functions.
    let b_file = dir.path().join("calls/b/0.parquet");
    for sql in [
        format!("SELECT * FROM '{}'", b_file.display()),
        format!("SELECT * FROM read_parquet('{}')", b_file.display()),
        format!("SELECT * FROM read_csv('{}')", "/etc/passwd"),
    ] {
        let err = engine.sql(&a, &sql).await.expect_err(&sql);
        assert!(matches!(err, Error::Plan { .. }), "{sql}: {err:?}");
        assert!(err.is_client_error());
    }
    // The tables are unchanged.
    let out = engine
        .sql(&a, "SELECT count(*) FROM calls")
        .await
        .expect("query");
    assert_eq!(int(&out, 0, 0), Some(50));
}

#[tokio::test]
async fn a_cartesian_bomb_stops_at_the_time_limit_and_the_engine_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = QueryLimits {
        time_limit: Duration::from_millis(1500),
        ..QueryLimits::default()
    };
    let engine = engine(two_tenants(dir.path()), limits);
    let a = tenant("a");
    for sql in [
        // 50^6 = 1.6e10 combinations.
        "SELECT count(*) FROM calls c1, calls c2, calls c3, calls c4, calls c5, calls c6",
        "SELECT count(*) FROM generate_series(1, 100000000000)",
    ] {
        match engine.sql(&a, sql).await {
            Err(Error::TimeLimit { limit }) => assert_eq!(limit, Duration::from_millis(1500)),
            other => panic!("{sql}: expected the time limit, got {other:?}"),
        }
    }
    let out = engine
        .sql(&a, "SELECT count(*) FROM calls")
        .await
        .expect("still serving");
    assert_eq!(int(&out, 0, 0), Some(50));
}

#[tokio::test]
async fn results_over_the_row_cap_are_refused_and_limit_makes_them_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = QueryLimits {
        max_rows: 20,
        ..QueryLimits::default()
    };
    let engine = engine(two_tenants(dir.path()), limits);
    let a = tenant("a");
    match engine.sql(&a, "SELECT * FROM calls").await {
        Err(Error::RowLimit { limit: 20 }) => {}
        other => panic!("expected the row cap, got {other:?}"),
    }
    let out = engine
        .sql(&a, "SELECT * FROM calls ORDER BY at LIMIT 20")
        .await
        .expect("fits");
    assert_eq!(out.rows, 20);
    assert_eq!(out.schema.fields().len(), 4);
}

#[tokio::test]
async fn a_query_over_its_memory_limit_stops_with_a_clear_error() {
    let source = FakeSource::default();
    // 200k calls in memory, each with a distinct 40-byte id.
    for chunk in 0..20 {
        let rows: Vec<_> = (0..10_000)
            .map(|i| ("a", format!("{chunk:08}-{i:031}"), Some(MARCH_1_MS + i), i))
            .collect();
        source.add_batch("calls", "a", calls_batch(&rows));
    }
    let limits = QueryLimits {
        memory_limit_bytes: 2 * 1024 * 1024,
        ..QueryLimits::default()
    };
    let engine = engine(source, limits);
    let a = tenant("a");
    let sql = "SELECT call_id, count(*) FROM calls GROUP BY call_id ORDER BY call_id DESC LIMIT 3";
    match engine.sql(&a, sql).await {
        Err(err @ Error::MemoryLimit { limit_bytes, .. }) => {
            assert_eq!(limit_bytes, 2 * 1024 * 1024);
            assert!(err.to_string().contains("memory limit"), "{err}");
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    let out = engine
        .sql(&a, "SELECT count(*) FROM calls")
        .await
        .expect("small query");
    assert_eq!(int(&out, 0, 0), Some(200_000));
}

#[tokio::test]
async fn a_file_that_vanishes_under_a_query_is_retried_on_a_new_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = two_tenants(dir.path());
    let gone = TableFile {
        path: dir.path().join("calls/a/compacted-away.parquet"),
        date: NaiveDate::from_ymd_opt(2024, 3, 1),
        bytes: 1000,
        rows: 10,
    };
    source
        .first_snapshot_extra
        .lock()
        .expect("lock")
        .push(("calls".to_owned(), gone));
    let source = Arc::new(source);
    let engine =
        QueryEngine::new(Arc::clone(&source) as _, QueryConfig::default()).expect("engine");
    let out = engine
        .sql(&tenant("a"), "SELECT count(*) FROM calls")
        .await
        .expect("retried");
    assert_eq!(int(&out, 0, 0), Some(50));
    assert_eq!(source.snapshots.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn bad_tenants_and_bad_sql_are_client_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(two_tenants(dir.path()), QueryLimits::default());
    let err = engine
        .sql(&tenant("../b"), "SELECT 1")
        .await
        .expect_err("invalid tenant");
    assert!(matches!(err, Error::InvalidTenant { .. }), "{err:?}");
    for (sql, code) in [
        ("SELEC 1", "invalid_sql"),
        ("SELECT nope FROM calls", "plan_failed"),
        ("SELECT * FROM no_such_table", "plan_failed"),
        ("SELECT 1; SELECT 2", "invalid_sql"),
    ] {
        let err = engine.sql(&tenant("a"), sql).await.expect_err(sql);
        assert_eq!(err.code(), code, "{sql}: {err}");
        assert!(err.is_client_error());
    }
}

/// Reads a stream to its end; its last item (an error ends a stream).
async fn last_item(stream: &mut QueryStream) -> Option<ccpulse_query::Result<RecordBatch>> {
    let mut last = None;
    while let Some(item) = stream.next_batch().await {
        last = Some(item);
    }
    last
}

#[tokio::test]
async fn a_stream_hands_over_every_row_and_stops_at_the_export_limits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = QueryLimits {
        max_rows: 5,
        export_max_rows: 46,
        export_time_limit: Duration::from_millis(1500),
        ..QueryLimits::default()
    };
    let engine = engine(two_tenants(dir.path()), limits);
    let a = tenant("a");
    // More rows than an interactive query may return, fewer than an export may.
    let mut stream = engine
        .stream(
            &a,
            "SELECT call_id FROM calls WHERE wait_ms < 9000 ORDER BY call_id",
        )
        .await
        .expect("starts");
    assert_eq!(stream.schema().field(0).name(), "call_id");
    let mut ids = Vec::new();
    while let Some(batch) = stream.next_batch().await {
        let batch = batch.expect("batch");
        let column = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8");
        ids.extend((0..column.len()).map(|i| column.value(i).to_owned()));
    }
    assert_eq!(ids.len(), 4 * 9 + 10);
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "in order");

    let mut stream = engine
        .stream(&a, "SELECT * FROM calls")
        .await
        .expect("starts");
    let last = last_item(&mut stream).await;
    assert!(
        matches!(last, Some(Err(Error::RowLimit { limit: 46 }))),
        "expected the export row cap, got {last:?}"
    );

    let mut stream = engine
        .stream(
            &a,
            "SELECT count(*) FROM calls c1, calls c2, calls c3, calls c4, calls c5, calls c6",
        )
        .await
        .expect("starts");
    let last = last_item(&mut stream).await;
    assert!(
        matches!(last, Some(Err(Error::TimeLimit { .. }))),
        "expected the export time limit, got {last:?}"
    );

    // Refusals come before any row.
    let err = engine
        .stream(&a, "DROP TABLE calls")
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    let err = engine
        .stream(&a, "SELECT nope FROM calls")
        .await
        .expect_err("plan");
    assert_eq!(err.code(), "plan_failed");
}
