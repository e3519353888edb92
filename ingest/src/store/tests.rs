//! Tests of the store through its public API, plus a few looks at the files on disk.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, AsArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
    TimestampSecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};

use super::*;

const CALLS: TableSpec = TableSpec {
    name: "calls",
    tenant_column: "tenant_id",
    time_column: "occurred_at",
};

const TOPIC: &str = "ccpulse.events";

/// 2024-03-10T00:00:00Z in milliseconds.
const DAY0_MS: i64 = 1_710_028_800_000;
const HOUR_MS: i64 = 3_600_000;

/// One row of the `calls` test table: tenant, time (ms), value.
type Row = (String, Option<i64>, i64);

fn calls_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, true),
        Field::new(
            "occurred_at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("value", DataType::Int64, false),
    ]))
}

fn calls(rows: &[(&str, Option<i64>, i64)]) -> RecordBatch {
    let tenants: StringArray = rows.iter().map(|r| Some(r.0)).collect();
    let times = TimestampMillisecondArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())
        .with_timezone("UTC");
    let values = Int64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>());
    RecordBatch::try_new(
        calls_schema(),
        vec![Arc::new(tenants), Arc::new(times), Arc::new(values)],
    )
    .expect("valid test batch")
}

/// All rows of `batches`, sorted.
fn rows_of(batches: &[RecordBatch]) -> Vec<Row> {
    let mut rows = Vec::new();
    for batch in batches {
        let tenants = batch.column(0).as_string::<i32>();
        let times = batch
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::TimestampMillisecondType>();
        let values = batch.column(2).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            rows.push((
                tenants.value(i).to_owned(),
                times.is_valid(i).then(|| times.value(i)),
                values.value(i),
            ));
        }
    }
    rows.sort();
    rows
}

fn expected(rows: &[(&str, Option<i64>, i64)]) -> Vec<Row> {
    let mut rows: Vec<Row> = rows
        .iter()
        .map(|(t, time, v)| ((*t).to_owned(), *time, *v))
        .collect();
    rows.sort();
    rows
}

/// Every regular file under `dir`, relative, with `/` separators.
fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).expect("readable dir") {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("under base");
                let parts: Vec<_> = rel
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                out.insert(parts.join("/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn parquet_files(root: &Path) -> BTreeSet<String> {
    files_under(root)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .collect()
}

fn checkpoint_dir(root: &Path, partition: i32) -> PathBuf {
    root.join("_checkpoints")
        .join(TOPIC)
        .join(format!("p{partition}"))
}

fn loaded(dir: &DataDir, partition: i32) -> (PartitionStore, Option<Checkpoint>) {
    let mut store = dir.partition(TOPIC, partition);
    let checkpoint = store.load().expect("load");
    (store, checkpoint)
}

fn commit(
    store: &mut PartitionStore,
    next_offset: i64,
    state: &[u8],
    finals: &[(&TableSpec, RecordBatch)],
    provisionals: &[(&TableSpec, RecordBatch)],
) -> CommitStats {
    store
        .commit(Commit {
            next_offset,
            state,
            final_batches: finals,
            provisional_batches: provisionals,
        })
        .expect("commit")
}

#[test]
fn commit_then_load_round_trips_offset_state_and_sequence() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (mut store, checkpoint) = loaded(&dir, 0);
    assert_eq!(checkpoint, None, "a fresh partition has no checkpoint");

    let state1: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let stats = commit(
        &mut store,
        42,
        &state1,
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 1)]))],
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS + 1), 2)]))],
    );
    assert_eq!(stats.sequence, 1);
    assert_eq!((stats.final_files, stats.final_rows), (1, 1));
    assert_eq!((stats.provisional_files, stats.provisional_rows), (1, 1));
    assert!(stats.bytes_written > state1.len() as u64);
    assert_eq!(store.sequence(), Some(1));
    drop(store);

    let (mut store, checkpoint) = loaded(&dir, 0);
    let checkpoint = checkpoint.expect("committed checkpoint");
    assert_eq!(checkpoint.next_offset, 42);
    assert_eq!(checkpoint.sequence, 1);
    assert_eq!(checkpoint.state, state1);

    let stats = commit(&mut store, 50, b"second", &[], &[]);
    assert_eq!(stats.sequence, 2);
    drop(store);
    let (_store, checkpoint) = loaded(&dir, 0);
    let checkpoint = checkpoint.expect("committed checkpoint");
    assert_eq!(
        (
            checkpoint.next_offset,
            checkpoint.sequence,
            checkpoint.state.as_slice()
        ),
        (50, 2, b"second".as_slice())
    );
}

#[test]
fn commit_requires_load_and_a_non_decreasing_offset() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let mut store = dir.partition(TOPIC, 0);
    let early = store.commit(Commit {
        next_offset: 1,
        state: b"s",
        final_batches: &[],
        provisional_batches: &[],
    });
    assert!(
        matches!(early, Err(StoreError::CommitBeforeLoad { .. })),
        "{early:?}"
    );

    store.load().expect("load");
    commit(&mut store, 10, b"s", &[], &[]);
    commit(&mut store, 10, b"s", &[], &[]); // same offset: a quiet period
    let back = store.commit(Commit {
        next_offset: 9,
        state: b"s",
        final_batches: &[],
        provisional_batches: &[],
    });
    assert!(
        matches!(
            back,
            Err(StoreError::OffsetRegressed {
                previous: 10,
                next: 9,
                ..
            })
        ),
        "{back:?}"
    );
    assert_eq!(store.sequence(), Some(2));
}

#[test]
fn provisional_segments_are_superseded_and_deleted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (mut store, _) = loaded(&dir, 0);

    commit(
        &mut store,
        1,
        b"one",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 1)]))],
        &[(
            &CALLS,
            calls(&[("acme", Some(DAY0_MS), 10), ("beta", Some(DAY0_MS), 11)]),
        )],
    );
    let first_prov: BTreeSet<String> = parquet_files(tmp.path())
        .into_iter()
        .filter(|f| f.contains("-prov-"))
        .collect();
    assert_eq!(
        first_prov.len(),
        2,
        "one provisional file per tenant: {first_prov:?}"
    );

    let stats = commit(
        &mut store,
        2,
        b"two",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 10)]))],
        &[(&CALLS, calls(&[("beta", Some(DAY0_MS), 12)]))],
    );
    assert_eq!(
        stats.superseded_removed, 3,
        "two provisional segments and one state file"
    );
    assert_eq!(stats.superseded_remove_failed, 0);

    let on_disk = parquet_files(tmp.path());
    assert!(
        on_disk.is_disjoint(&first_prov),
        "superseded files remain: {on_disk:?}"
    );
    assert_eq!(
        on_disk.len(),
        3,
        "two final and one provisional: {on_disk:?}"
    );
    let checkpoint_files = files_under(&checkpoint_dir(tmp.path(), 0));
    assert_eq!(
        checkpoint_files,
        BTreeSet::from([
            "LOCK".to_owned(),
            "manifest.json".to_owned(),
            "state-00000000000000000002.bin".to_owned(),
        ])
    );

    let visible = read_table(tmp.path(), "calls").expect("read");
    assert_eq!(
        rows_of(&visible),
        expected(&[
            ("acme", Some(DAY0_MS), 1),
            ("acme", Some(DAY0_MS), 10),
            ("beta", Some(DAY0_MS), 12),
        ])
    );

    // A checkpoint without provisional batches leaves the table with no tail at all.
    commit(&mut store, 3, b"three", &[], &[]);
    let files = visible_files(tmp.path(), "calls").expect("list");
    assert!(files.iter().all(|f| !f.provisional), "{files:?}");
    assert_eq!(files.len(), 2);
}

#[test]
fn visible_files_name_exactly_final_and_current_provisional_rows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    assert!(visible_files(tmp.path(), "calls").expect("list").is_empty());

    commit(
        &mut store,
        5,
        b"a",
        &[(
            &CALLS,
            calls(&[("acme", Some(DAY0_MS), 1), ("acme", Some(DAY0_MS), 2)]),
        )],
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 3)]))],
    );
    commit(
        &mut store,
        9,
        b"b",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS + HOUR_MS), 4)]))],
        &[(
            &CALLS,
            calls(&[("acme", Some(DAY0_MS), 5), ("acme", Some(DAY0_MS), 6)]),
        )],
    );

    let files = visible_files(tmp.path(), "calls").expect("list");
    let summary: Vec<(bool, u64)> = files.iter().map(|f| (f.provisional, f.rows)).collect();
    assert_eq!(summary, [(false, 2), (false, 1), (true, 2)]);
    for file in &files {
        assert!(file.path.is_file(), "{}", file.path.display());
        assert_eq!(file.bytes, fs::metadata(&file.path).expect("stat").len());
        assert_eq!((file.topic.as_str(), file.partition), (TOPIC, 0));
        assert_eq!(file.tenant_id, "acme");
        assert_eq!(file.date, NaiveDate::from_ymd_opt(2024, 3, 10));
    }
    assert_eq!(
        rows_of(&read_table(tmp.path(), "calls").expect("read")),
        expected(&[
            ("acme", Some(DAY0_MS), 1),
            ("acme", Some(DAY0_MS), 2),
            ("acme", Some(DAY0_MS + HOUR_MS), 4),
            ("acme", Some(DAY0_MS), 5),
            ("acme", Some(DAY0_MS), 6),
        ])
    );
    assert!(read_table(tmp.path(), "other").expect("read").is_empty());
    assert!(matches!(
        visible_files(tmp.path(), "../calls"),
        Err(StoreError::InvalidName { kind: "table", .. })
    ));
}

#[test]
fn batches_are_split_by_tenant_and_utc_date() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (mut store, _) = loaded(&dir, 3);

    let last_ms_of_day0 = DAY0_MS + 24 * HOUR_MS - 1;
    let rows = [
        ("acme", Some(last_ms_of_day0), 1),
        ("beta", Some(DAY0_MS), 2),
        ("acme", Some(last_ms_of_day0 + 1), 3), // next UTC day
        ("acme", Some(DAY0_MS), 4),
        ("acme", None, 5),
        ("beta", Some(-1), 6), // 1969-12-31T23:59:59.999Z
    ];
    let stats = commit(&mut store, 1, b"s", &[(&CALLS, calls(&rows))], &[]);
    assert_eq!((stats.final_files, stats.final_rows), (5, 6));

    let on_disk = parquet_files(tmp.path());
    let dirs: BTreeSet<String> = on_disk
        .iter()
        .map(|f| f.rsplit_once('/').expect("has a dir").0.to_owned())
        .collect();
    assert_eq!(
        dirs,
        BTreeSet::from(
            [
                "calls/tenant=acme/date=2024-03-10",
                "calls/tenant=acme/date=2024-03-11",
                "calls/tenant=acme/date=unknown",
                "calls/tenant=beta/date=1969-12-31",
                "calls/tenant=beta/date=2024-03-10",
            ]
            .map(str::to_owned)
        )
    );
    assert!(
        on_disk
            .iter()
            .all(|f| f.contains("/ccpulse.events-p3-00000000000000000001-final-")),
        "{on_disk:?}"
    );

    // Each file holds exactly its tenant-day, with every column kept (tenant_id included),
    // rows in their original order.
    let files = visible_files(tmp.path(), "calls").expect("list");
    let acme_day0 = files
        .iter()
        .find(|f| f.tenant_id == "acme" && f.date == NaiveDate::from_ymd_opt(2024, 3, 10))
        .expect("acme 2024-03-10 file");
    let batches = super::segment::read_segment(&acme_day0.path).expect("read file");
    assert_eq!(batches[0].schema(), calls_schema());
    let values: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(2).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(values, [1, 4]);
    let unknown = files
        .iter()
        .find(|f| f.date.is_none())
        .expect("unknown-date file");
    assert_eq!((unknown.tenant_id.as_str(), unknown.rows), ("acme", 1));

    assert_eq!(
        rows_of(&read_table(tmp.path(), "calls").expect("read")),
        expected(&rows)
    );
}

#[test]
fn other_time_units_and_zones_use_the_utc_date() {
    const SECONDS: TableSpec = TableSpec {
        name: "agent_states",
        tenant_column: "tenant",
        time_column: "at",
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    let make = |tenant_column: &str| {
        let schema = Arc::new(Schema::new(vec![
            Field::new(tenant_column, DataType::Utf8, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Second, Some("+05:00".into())),
                false,
            ),
        ]));
        // 2024-03-10T23:30:00Z is 2024-03-11 in +05:00; the directory uses the UTC date.
        let at = TimestampSecondArray::from(vec![DAY0_MS / 1000 + 23 * 3600 + 1800])
            .with_timezone("+05:00");
        RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(vec!["acme"])), Arc::new(at)],
        )
        .expect("batch")
    };
    // A column named like the `tenant=` directory key is refused...
    let clash = store.commit(Commit {
        next_offset: 0,
        state: b"",
        final_batches: &[(&SECONDS, make("tenant"))],
        provisional_batches: &[],
    });
    assert!(
        matches!(clash, Err(StoreError::ReservedColumn { .. })),
        "{clash:?}"
    );
    // ...any other name works.
    const RENAMED: TableSpec = TableSpec {
        tenant_column: "tenant_id",
        ..SECONDS
    };
    commit(&mut store, 0, b"", &[(&RENAMED, make("tenant_id"))], &[]);
    let files = visible_files(tmp.path(), "agent_states").expect("list");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].date, NaiveDate::from_ymd_opt(2024, 3, 10));
}

/// A named bad batch and a check that the error is the expected one.
type Attempt = (&'static str, RecordBatch, fn(&StoreError) -> bool);

#[test]
fn bad_batches_are_rejected_before_anything_is_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    commit(
        &mut store,
        1,
        b"one",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 1)]))],
        &[],
    );
    let before = files_under(tmp.path());

    let null_tenant = {
        let batch = calls(&[("acme", Some(DAY0_MS), 1), ("acme", Some(DAY0_MS), 2)]);
        let tenants = StringArray::from(vec![Some("acme"), None]);
        let mut columns = batch.columns().to_vec();
        columns[0] = Arc::new(tenants);
        RecordBatch::try_new(calls_schema(), columns).expect("batch")
    };
    let good = calls(&[("acme", Some(DAY0_MS), 3)]);
    let attempts: [Attempt; 3] = [
        (
            "null tenant",
            null_tenant,
            |e| matches!(e, StoreError::InvalidTenant { row: 1, value, .. } if value == "NULL"),
        ),
        (
            "tenant with a slash",
            calls(&[("ac/me", Some(DAY0_MS), 1)]),
            |e| matches!(e, StoreError::InvalidTenant { row: 0, .. }),
        ),
        (
            "missing column",
            {
                let schema = Arc::new(Schema::new(vec![Field::new(
                    "value",
                    DataType::Int64,
                    false,
                )]));
                RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))])
                    .expect("batch")
            },
            |e| matches!(e, StoreError::ColumnMissing { .. }),
        ),
    ];
    for (what, bad, is_expected) in attempts {
        // The good batch comes first: it must not be written either.
        let result = store.commit(Commit {
            next_offset: 2,
            state: b"two",
            final_batches: &[(&CALLS, good.clone()), (&CALLS, bad)],
            provisional_batches: &[],
        });
        match result {
            Err(err) => assert!(is_expected(&err), "{what}: {err:?}"),
            Ok(stats) => panic!("{what}: committed {stats:?}"),
        }
        assert_eq!(files_under(tmp.path()), before, "{what}: files changed");
    }
    assert_eq!(store.sequence(), Some(1));
}

#[test]
fn empty_batches_write_no_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    let stats = commit(
        &mut store,
        1,
        b"",
        &[(&CALLS, calls(&[]))],
        &[(&CALLS, calls(&[]))],
    );
    assert_eq!((stats.final_files, stats.provisional_files), (0, 0));
    assert!(parquet_files(tmp.path()).is_empty());
    assert!(!tmp.path().join("calls").exists());
    drop(store);
    let (_store, checkpoint) = loaded(&dir, 0);
    assert_eq!(checkpoint.expect("checkpoint").state, b"");
}

#[test]
fn a_failed_commit_keeps_the_previous_checkpoint_and_removes_its_files() {
    const BLOCKED: TableSpec = TableSpec {
        name: "blocked",
        ..CALLS
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    commit(
        &mut store,
        1,
        b"one",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 1)]))],
        &[],
    );
    // A regular file where the table directory should be: creating it fails mid-commit,
    // after the `calls` segment was written.
    fs::write(tmp.path().join("blocked"), b"not a directory").expect("block");
    let before = parquet_files(tmp.path());

    let result = store.commit(Commit {
        next_offset: 2,
        state: b"two",
        final_batches: &[
            (&CALLS, calls(&[("acme", Some(DAY0_MS), 2)])),
            (&BLOCKED, calls(&[("acme", Some(DAY0_MS), 3)])),
        ],
        provisional_batches: &[],
    });
    assert!(
        matches!(result, Err(StoreError::CreateDir { .. })),
        "{result:?}"
    );
    assert_eq!(
        parquet_files(tmp.path()),
        before,
        "the written segment was removed"
    );
    assert_eq!(store.sequence(), Some(1));

    // The store is still usable, and the failed attempt left no trace in the checkpoint.
    fs::remove_file(tmp.path().join("blocked")).expect("unblock");
    let stats = commit(
        &mut store,
        2,
        b"two",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 2)]))],
        &[],
    );
    assert_eq!(stats.sequence, 2);
    assert_eq!(
        rows_of(&read_table(tmp.path(), "calls").expect("read")),
        expected(&[("acme", Some(DAY0_MS), 1), ("acme", Some(DAY0_MS), 2)])
    );
}

/// Writes the files a commit of sequence 2 would write before crashing ahead of the
/// manifest rename: a complete segment, a half-written one, the state and a manifest tmp.
fn simulate_crash_before_manifest(root: &Path, partition: i32, seq: &str) -> Vec<PathBuf> {
    let data_dir = root.join("calls/tenant=acme/date=2024-03-10");
    fs::create_dir_all(&data_dir).expect("mkdir");
    let named = fs::read_dir(&data_dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().contains(&format!("-p{partition}-")))
        .expect("a committed segment of this partition to copy");
    let segment = data_dir.join(format!("{TOPIC}-p{partition}-{seq}-final-0.parquet"));
    fs::copy(&named, &segment).expect("copy segment");
    let partial = data_dir.join(format!("{TOPIC}-p{partition}-{seq}-prov-0.parquet.tmp"));
    fs::write(&partial, b"PAR1 half a file").expect("write tmp");
    let dir = checkpoint_dir(root, partition);
    let state = dir.join(format!("state-{seq}.bin"));
    fs::write(&state, b"next state").expect("write state");
    let manifest_tmp = dir.join("manifest.json.tmp");
    fs::write(&manifest_tmp, b"{\"format_version\":1,").expect("write manifest tmp");
    vec![segment, partial, state, manifest_tmp]
}

#[test]
fn load_deletes_this_partitions_unnamed_files_and_keeps_the_rest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut p0, _) = loaded(&dir, 0);
    let (mut p1, _) = loaded(&dir, 1);
    let row = |v| calls(&[("acme", Some(DAY0_MS), v)]);
    commit(
        &mut p0,
        10,
        b"p0 state",
        &[(&CALLS, row(1))],
        &[(&CALLS, row(2))],
    );
    commit(&mut p1, 20, b"p1 state", &[(&CALLS, row(3))], &[]);
    drop(p0);

    let seq2 = "00000000000000000002";
    let leftovers = simulate_crash_before_manifest(root, 0, seq2);
    // Partition 1 is mid-commit at the same moment: its uncommitted file is not p0's to delete.
    let p1_in_flight = root.join(format!(
        "calls/tenant=acme/date=2024-03-10/{TOPIC}-p1-{seq2}-final-0.parquet.tmp"
    ));
    fs::write(&p1_in_flight, b"p1 writing").expect("write");
    let stranger = root.join("calls/tenant=acme/date=2024-03-10/notes.txt");
    fs::write(&stranger, b"not the store's").expect("write");
    let named_before: BTreeSet<String> = parquet_files(root);

    // Readers never see the leftovers, even before recovery.
    let rows = expected(&[
        ("acme", Some(DAY0_MS), 1),
        ("acme", Some(DAY0_MS), 2),
        ("acme", Some(DAY0_MS), 3),
    ]);
    assert_eq!(rows_of(&read_table(root, "calls").expect("read")), rows);

    let (_p0, checkpoint) = loaded(&dir, 0);
    let checkpoint = checkpoint.expect("checkpoint");
    assert_eq!((checkpoint.sequence, checkpoint.next_offset), (1, 10));
    assert_eq!(checkpoint.state, b"p0 state");
    for leftover in &leftovers {
        assert!(!leftover.exists(), "not deleted: {}", leftover.display());
    }
    assert!(
        p1_in_flight.exists(),
        "another partition's file was deleted"
    );
    assert!(
        stranger.exists(),
        "a file the store did not name was deleted"
    );
    let after = parquet_files(root);
    let removed: BTreeSet<_> = named_before.difference(&after).collect();
    assert_eq!(
        removed.len(),
        1,
        "only p0's complete leftover segment: {removed:?}"
    );
    assert_eq!(rows_of(&read_table(root, "calls").expect("read")), rows);
    assert!(checkpoint_dir(root, 0).join("manifest.json").is_file());
    assert!(
        checkpoint_dir(root, 0)
            .join("state-00000000000000000001.bin")
            .is_file()
    );

    // p1 still loads its own checkpoint intact.
    drop(p1);
    let (_p1, checkpoint) = loaded(&dir, 1);
    assert_eq!(checkpoint.expect("checkpoint").state, b"p1 state");
}

#[test]
fn commits_of_two_partitions_do_not_delete_each_others_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut p0, _) = loaded(&dir, 0);
    let (mut p1, _) = loaded(&dir, 1);
    let row = |v| calls(&[("acme", Some(DAY0_MS), v)]);
    // Same table, tenant and date, same sequence numbers: different files.
    commit(&mut p0, 1, b"a", &[(&CALLS, row(1))], &[(&CALLS, row(2))]);
    commit(&mut p1, 1, b"b", &[(&CALLS, row(3))], &[(&CALLS, row(4))]);
    commit(&mut p0, 2, b"c", &[], &[(&CALLS, row(5))]);
    assert_eq!(
        rows_of(&read_table(root, "calls").expect("read")),
        expected(&[
            ("acme", Some(DAY0_MS), 1),
            ("acme", Some(DAY0_MS), 3),
            ("acme", Some(DAY0_MS), 4),
            ("acme", Some(DAY0_MS), 5),
        ])
    );
    let by_partition = |p: i32| {
        visible_files(root, "calls")
            .expect("list")
            .into_iter()
            .filter(|f| f.partition == p)
            .count()
    };
    assert_eq!((by_partition(0), by_partition(1)), (2, 2));
    assert_eq!(parquet_files(root).len(), 4, "no unnamed files remain");
}

#[test]
fn a_crash_before_the_first_manifest_starts_fresh_and_cleans_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut p0, _) = loaded(&dir, 0);
    commit(
        &mut p0,
        1,
        b"x",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 1)]))],
        &[],
    );
    drop(p0);
    // Turn that into "crashed before the manifest": remove the manifest only.
    fs::remove_file(checkpoint_dir(root, 0).join("manifest.json")).expect("rm manifest");
    assert!(!parquet_files(root).is_empty());

    let (_p0, checkpoint) = loaded(&dir, 0);
    assert_eq!(checkpoint, None);
    assert!(
        parquet_files(root).is_empty(),
        "checkpoint-1 leftovers removed"
    );
    assert_eq!(
        files_under(&checkpoint_dir(root, 0)),
        BTreeSet::from(["LOCK".to_owned()])
    );
}

#[test]
fn a_lost_manifest_after_later_checkpoints_is_an_error_and_deletes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut p0, _) = loaded(&dir, 0);
    commit(
        &mut p0,
        1,
        b"x",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 1)]))],
        &[],
    );
    commit(
        &mut p0,
        2,
        b"y",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 2)]))],
        &[],
    );
    drop(p0);
    fs::remove_file(checkpoint_dir(root, 0).join("manifest.json")).expect("rm manifest");
    let before = files_under(root);

    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(result, Err(StoreError::ManifestMissing { sequence: 2, .. })),
        "{result:?}"
    );
    assert_eq!(files_under(root), before);
}

#[test]
fn a_corrupt_or_missing_state_file_is_an_error_not_a_fresh_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut p0, _) = loaded(&dir, 0);
    commit(&mut p0, 7, b"the fold state", &[], &[]);
    drop(p0);
    let state = checkpoint_dir(root, 0).join("state-00000000000000000001.bin");
    // A leftover that a successful load would delete: a failed load must keep it.
    let leftover = checkpoint_dir(root, 0).join("state-00000000000000000002.bin");
    fs::write(&leftover, b"next").expect("write");

    // Same length, one byte flipped: only the checksum can tell.
    fs::write(&state, b"the fold stat!").expect("corrupt");
    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(
            result,
            Err(StoreError::StateCorrupt {
                expected_bytes: 14,
                found_bytes: 14,
                ..
            })
        ),
        "{result:?}"
    );
    // Truncated.
    fs::write(&state, b"the fold").expect("truncate");
    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(result, Err(StoreError::StateCorrupt { found_bytes: 8, .. })),
        "{result:?}"
    );
    // Missing.
    fs::remove_file(&state).expect("rm state");
    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(result, Err(StoreError::StateMissing { .. })),
        "{result:?}"
    );
    assert!(leftover.exists(), "a failed load deleted files");

    // Restored: loads again.
    fs::write(&state, b"the fold state").expect("restore");
    let (_p0, checkpoint) = loaded(&dir, 0);
    assert_eq!(checkpoint.expect("checkpoint").state, b"the fold state");
    assert!(!leftover.exists());
}

#[test]
fn a_missing_segment_or_a_tampered_manifest_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut p0, _) = loaded(&dir, 0);
    commit(
        &mut p0,
        1,
        b"s",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 1)]))],
        &[],
    );
    drop(p0);
    let manifest_path = checkpoint_dir(root, 0).join("manifest.json");
    let manifest = fs::read_to_string(&manifest_path).expect("read manifest");

    let segment = visible_files(root, "calls").expect("list").remove(0).path;
    let moved = segment.with_extension("moved");
    fs::rename(&segment, &moved).expect("move segment");
    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(result, Err(StoreError::SegmentMissing { .. })),
        "{result:?}"
    );
    fs::rename(&moved, &segment).expect("restore segment");

    let escaping = manifest.replace("calls/tenant=acme", "../../calls/tenant=acme");
    assert_ne!(escaping, manifest);
    fs::write(&manifest_path, escaping).expect("tamper");
    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(result, Err(StoreError::ManifestMismatch { .. })),
        "{result:?}"
    );
    assert!(visible_files(root, "calls").is_err());

    let other_partition = manifest.replace("\"partition\": 0", "\"partition\": 1");
    assert_ne!(other_partition, manifest);
    fs::write(&manifest_path, other_partition).expect("tamper");
    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(result, Err(StoreError::ManifestMismatch { .. })),
        "{result:?}"
    );

    fs::write(&manifest_path, &manifest[..manifest.len() / 2]).expect("truncate");
    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(result, Err(StoreError::ParseManifest { .. })),
        "{result:?}"
    );

    fs::write(
        &manifest_path,
        manifest.replace("\"format_version\": 1", "\"format_version\": 2"),
    )
    .expect("tamper");
    let result = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(result, Err(StoreError::ManifestVersion { found: 2, .. })),
        "{result:?}"
    );

    fs::write(&manifest_path, &manifest).expect("restore");
    assert!(loaded(&dir, 0).1.is_some());
}

#[test]
fn one_owner_per_partition() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let (first, _) = loaded(&dir, 0);
    let second = dir.partition(TOPIC, 0).load();
    assert!(
        matches!(second, Err(StoreError::Locked { .. })),
        "{second:?}"
    );
    assert!(
        dir.partition(TOPIC, 1).load().is_ok(),
        "other partitions are free"
    );
    drop(first);
    assert!(dir.partition(TOPIC, 0).load().is_ok(), "released on drop");
}

#[test]
fn dot_tenants_and_bad_names_cannot_escape_the_root() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("data");
    let dir = DataDir::open(&root).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    commit(
        &mut store,
        1,
        b"",
        &[(
            &CALLS,
            calls(&[("..", Some(DAY0_MS), 1), (".", Some(DAY0_MS), 2)]),
        )],
        &[],
    );
    let files = visible_files(&root, "calls").expect("list");
    assert_eq!(files.len(), 2);
    for file in &files {
        assert!(file.path.is_file());
        assert!(file.path.starts_with(root.join("calls")));
    }
    assert!(root.join("calls/tenant=../date=2024-03-10").is_dir());
    assert_eq!(
        files_under(tmp.path())
            .iter()
            .filter(|f| !f.starts_with("data/"))
            .count(),
        0
    );

    for (topic, partition) in [("..", 0), ("a/b", 0), ("", 0), ("ok", -1)] {
        let result = dir.partition(topic, partition).load();
        assert!(
            matches!(result, Err(StoreError::InvalidName { .. })),
            "{topic:?} {partition}"
        );
    }
    const ESCAPING: TableSpec = TableSpec {
        name: "../calls",
        ..CALLS
    };
    let result = store.commit(Commit {
        next_offset: 1,
        state: b"",
        final_batches: &[(&ESCAPING, calls(&[("acme", Some(DAY0_MS), 1)]))],
        provisional_batches: &[],
    });
    assert!(
        matches!(result, Err(StoreError::InvalidName { kind: "table", .. })),
        "{result:?}"
    );
}

// Compaction.

fn compact(store: &mut PartitionStore, min_files: usize) -> CompactionStats {
    store
        .compact(
            &[&CALLS],
            &CompactionPolicy {
                min_files,
                ..CompactionPolicy::default()
            },
        )
        .expect("compact")
}

/// `path` relative to `root`, with `/` separators (as [`files_under`] lists it).
fn rel(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).expect("under root");
    let parts: Vec<_> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Every file under `dir` with its content.
fn contents_under(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|file| {
            let content = fs::read(super::layout::resolve_rel(dir, &file)).expect("read");
            (file, content)
        })
        .collect()
}

/// Copies every file under `from` to the same place under `to`.
fn copy_tree(from: &Path, to: &Path) {
    for file in files_under(from) {
        let target = super::layout::resolve_rel(to, &file);
        fs::create_dir_all(target.parent().expect("has a parent")).expect("mkdir");
        fs::copy(super::layout::resolve_rel(from, &file), &target).expect("copy");
    }
}

/// (time, value) of every row of the segment at `path`, in file order.
fn times_and_values(path: &Path) -> Vec<(Option<i64>, i64)> {
    let mut out = Vec::new();
    for batch in super::segment::read_segment(path).expect("read segment") {
        let times = batch
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::TimestampMillisecondType>();
        let values = batch.column(2).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            out.push((times.is_valid(i).then(|| times.value(i)), values.value(i)));
        }
    }
    out
}

#[test]
fn compaction_merges_each_group_into_one_sorted_file_and_keeps_every_row() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    let mut all = Vec::new();
    for i in 0..20_i64 {
        // Later checkpoints carry earlier times, and pairs of checkpoints share a time:
        // the merged file must be sorted, ties in commit order.
        let time = DAY0_MS + (20 - i / 2) * 60_000;
        let rows = [
            ("acme", Some(time), i),
            ("beta", Some(time), 100 + i),
            ("acme", None, 200 + i),
        ];
        all.extend(rows);
        commit(
            &mut store,
            i + 1,
            format!("state {i}").as_bytes(),
            &[(&CALLS, calls(&rows))],
            &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 1000 + i)]))],
        );
    }
    all.push(("acme", Some(DAY0_MS), 1019)); // the last tail
    let before = rows_of(&read_table(root, "calls").expect("read"));
    assert_eq!(before, expected(&all));
    assert_eq!(visible_files(root, "calls").expect("list").len(), 61);

    let stats = store
        .compact(&[&CALLS], &CompactionPolicy::default())
        .expect("compact");
    assert_eq!(stats.sequence, Some(21));
    assert_eq!(
        (stats.input_files, stats.output_files, stats.rows),
        (60, 3, 60)
    );
    assert_eq!(
        (stats.superseded_removed, stats.superseded_remove_failed),
        (60, 0)
    );
    assert!(stats.bytes_read > 0 && stats.bytes_written > 0, "{stats:?}");
    assert_eq!(store.sequence(), Some(21));
    assert!(!store.needs_load());

    let files = visible_files(root, "calls").expect("list");
    let finals: Vec<&VisibleFile> = files.iter().filter(|f| !f.provisional).collect();
    let groups: BTreeSet<(&str, Option<NaiveDate>)> = finals
        .iter()
        .map(|f| (f.tenant_id.as_str(), f.date))
        .collect();
    assert_eq!((finals.len(), groups.len()), (3, 3), "{finals:?}");
    assert!(finals.iter().all(|f| f.rows == 20), "{finals:?}");
    assert_eq!(files.iter().filter(|f| f.provisional).count(), 1);
    assert_eq!(rows_of(&read_table(root, "calls").expect("read")), before);
    let listed: BTreeSet<String> = files.iter().map(|f| rel(root, &f.path)).collect();
    assert_eq!(parquet_files(root), listed, "the inputs are deleted");

    // Sorted by time, ties in commit order; NULL times keep commit order.
    let day0 = NaiveDate::from_ymd_opt(2024, 3, 10);
    let acme = finals
        .iter()
        .find(|f| f.tenant_id == "acme" && f.date == day0)
        .expect("acme's day");
    let mut sorted: Vec<(Option<i64>, i64)> = all
        .iter()
        .filter(|(tenant, time, v)| *tenant == "acme" && time.is_some() && *v < 1000)
        .map(|(_, time, v)| (*time, *v))
        .collect();
    sorted.sort_by_key(|(time, _)| *time);
    assert_eq!(
        sorted[..2],
        [
            (Some(DAY0_MS + 11 * 60_000), 18),
            (Some(DAY0_MS + 11 * 60_000), 19)
        ]
    );
    assert_eq!(times_and_values(&acme.path), sorted);
    let unknown = finals.iter().find(|f| f.date.is_none()).expect("unknown");
    let nulls: Vec<(Option<i64>, i64)> = (0..20).map(|i| (None, 200 + i)).collect();
    assert_eq!(times_and_values(&unknown.path), nulls);

    // A restart resumes from the same checkpoint and sees the same rows.
    drop(store);
    let (mut store, checkpoint) = loaded(&dir, 0);
    let checkpoint = checkpoint.expect("checkpoint");
    assert_eq!(
        (
            checkpoint.sequence,
            checkpoint.next_offset,
            checkpoint.state.as_slice()
        ),
        (21, 20, b"state 19".as_slice())
    );
    assert_eq!(rows_of(&read_table(root, "calls").expect("read")), before);
    assert_eq!(parquet_files(root), listed, "load deleted nothing more");

    // Nothing left to merge: no new manifest.
    let manifest = fs::read(checkpoint_dir(root, 0).join("manifest.json")).expect("read");
    assert_eq!(compact(&mut store, 16), CompactionStats::default());
    assert_eq!(store.sequence(), Some(21));
    assert_eq!(
        fs::read(checkpoint_dir(root, 0).join("manifest.json")).expect("read"),
        manifest
    );
}

#[test]
fn compaction_leaves_other_partitions_provisional_segments_and_other_tables_alone() {
    const OTHER: TableSpec = TableSpec {
        name: "other",
        ..CALLS
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut p0, _) = loaded(&dir, 0);
    let (mut p1, _) = loaded(&dir, 1);
    for i in 0..4 {
        let row = calls(&[("acme", Some(DAY0_MS), i)]);
        let finals = [(&CALLS, row.clone()), (&OTHER, row.clone())];
        commit(&mut p0, i + 1, b"p0", &finals, &[(&CALLS, row.clone())]);
        commit(&mut p1, i + 1, b"p1", &finals, &[(&CALLS, row)]);
    }
    let before = contents_under(root);
    let rows_before = [
        rows_of(&read_table(root, "calls").expect("read")),
        rows_of(&read_table(root, "other").expect("read")),
    ];

    let stats = compact(&mut p0, 4);
    assert_eq!((stats.input_files, stats.output_files), (4, 1));

    let after = contents_under(root);
    let removed: BTreeSet<&String> = before.keys().filter(|f| !after.contains_key(*f)).collect();
    let added: BTreeSet<&String> = after.keys().filter(|f| !before.contains_key(*f)).collect();
    let changed: BTreeSet<&String> = after
        .iter()
        .filter(|(f, content)| before.get(*f).is_some_and(|old| old != *content))
        .map(|(f, _)| f)
        .collect();
    assert_eq!(removed.len(), 4, "{removed:?}");
    assert!(
        removed
            .iter()
            .all(|f| f.starts_with("calls/") && f.contains("-p0-") && f.contains("-final-")),
        "{removed:?}"
    );
    assert_eq!(
        added.into_iter().cloned().collect::<Vec<_>>(),
        [format!(
            "calls/tenant=acme/date=2024-03-10/{TOPIC}-p0-00000000000000000005-final-0.parquet"
        )]
    );
    assert_eq!(
        changed.into_iter().cloned().collect::<Vec<_>>(),
        [format!("_checkpoints/{TOPIC}/p0/manifest.json")],
        "p1's files, p0's provisional segment, p0's `other` table and p0's state are untouched"
    );
    assert_eq!(
        [
            rows_of(&read_table(root, "calls").expect("read")),
            rows_of(&read_table(root, "other").expect("read")),
        ],
        rows_before
    );

    // Both partitions go on committing, and load, as before.
    commit(&mut p1, 5, b"p1 again", &[], &[]);
    drop((p0, p1));
    assert_eq!(loaded(&dir, 0).1.expect("p0").state, b"p0");
    assert_eq!(loaded(&dir, 1).1.expect("p1").state, b"p1 again");
}

#[test]
fn commits_after_a_compaction_supersede_its_tail_and_sequences_keep_increasing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    let mut sequences = Vec::new();
    let mut finals = Vec::new();
    let mut offset = 0;
    for round in 0..4 {
        for i in 0..4 {
            offset += 1;
            let row = ("acme", Some(DAY0_MS + offset * 1000), round * 10 + i);
            finals.push(row);
            let tail = calls(&[("acme", Some(DAY0_MS), -offset)]);
            let stats = commit(
                &mut store,
                offset,
                format!("state {offset}").as_bytes(),
                &[(&CALLS, calls(&[row]))],
                &[(&CALLS, tail)],
            );
            sequences.push(stats.sequence);
        }
        // Four one-row segments (tier 0 with tiers of width 4) become one of four rows.
        let stats = compact(&mut store, 4);
        assert_eq!(
            (stats.input_files, stats.output_files),
            (4, 1),
            "round {round}"
        );
        let sequence = stats.sequence.expect("a manifest");
        sequences.push(sequence);

        // The compaction kept the last checkpoint's state and tail.
        let last_checkpoint = sequence - 1;
        assert_eq!(
            files_under(&checkpoint_dir(root, 0)),
            BTreeSet::from([
                "LOCK".to_owned(),
                "manifest.json".to_owned(),
                format!("state-{last_checkpoint:020}.bin"),
            ])
        );
        let provisional: Vec<VisibleFile> = visible_files(root, "calls")
            .expect("list")
            .into_iter()
            .filter(|f| f.provisional)
            .collect();
        assert_eq!(provisional.len(), 1);
        assert!(
            rel(root, &provisional[0].path).contains(&format!("-{last_checkpoint:020}-prov-")),
            "{provisional:?}"
        );
        let mut rows = finals.clone();
        rows.push(("acme", Some(DAY0_MS), -offset));
        assert_eq!(
            rows_of(&read_table(root, "calls").expect("read")),
            expected(&rows)
        );
        let files = visible_files(root, "calls").expect("list");
        assert_eq!(files.len(), round as usize + 2, "round {round}: {files:?}");
        assert_eq!(parquet_files(root).len(), files.len(), "round {round}");
    }
    // The merged segments are a tier up (4 rows) and now four of them: one more merge.
    let stats = compact(&mut store, 4);
    assert_eq!(
        (stats.input_files, stats.output_files, stats.rows),
        (4, 1, 16)
    );
    sequences.push(stats.sequence.expect("a manifest"));
    assert_eq!(compact(&mut store, 4), CompactionStats::default());

    let expected_sequences: Vec<u64> = (1..=sequences.len() as u64).collect();
    assert_eq!(sequences, expected_sequences);

    // And a checkpoint after it replaces the old tail and state.
    offset += 1;
    let stats = commit(&mut store, offset, b"last", &[], &[]);
    assert_eq!(stats.sequence, 22);
    assert_eq!(stats.superseded_removed, 2, "the tail of 16 and state 16");
    drop(store);
    let (_store, checkpoint) = loaded(&dir, 0);
    let checkpoint = checkpoint.expect("checkpoint");
    assert_eq!(
        (
            checkpoint.sequence,
            checkpoint.next_offset,
            checkpoint.state.as_slice()
        ),
        (22, offset, b"last".as_slice())
    );
    assert_eq!(
        rows_of(&read_table(root, "calls").expect("read")),
        expected(&finals)
    );
    assert_eq!(parquet_files(root).len(), 1);
}

#[test]
fn a_compacted_manifest_must_name_the_last_checkpoints_state_and_tail() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    for i in 0..4 {
        let row = calls(&[("acme", Some(DAY0_MS), i)]);
        commit(
            &mut store,
            i + 1,
            b"s",
            &[(&CALLS, row.clone())],
            &[(&CALLS, row)],
        );
    }
    compact(&mut store, 4);
    drop(store);
    let manifest_path = checkpoint_dir(root, 0).join("manifest.json");
    let manifest = fs::read_to_string(&manifest_path).expect("read manifest");
    assert!(manifest.contains("\"sequence\": 5"), "{manifest}");

    let tampered = [
        // A state file newer than the manifest.
        manifest.replace(
            "state-00000000000000000004.bin",
            "state-00000000000000000006.bin",
        ),
        // A tail from another checkpoint than the state's.
        manifest.replace("-00000000000000000004-prov-", "-00000000000000000005-prov-"),
        // A final segment newer than the manifest.
        manifest.replace(
            "-00000000000000000005-final-",
            "-00000000000000000006-final-",
        ),
    ];
    for text in tampered {
        assert_ne!(text, manifest);
        fs::write(&manifest_path, &text).expect("tamper");
        let result = dir.partition(TOPIC, 0).load();
        assert!(
            matches!(result, Err(StoreError::ManifestMismatch { .. })),
            "{result:?}"
        );
    }
    fs::write(&manifest_path, &manifest).expect("restore");
    assert_eq!(loaded(&dir, 0).1.expect("checkpoint").sequence, 5);
}

/// A step of [`PartitionStore::compact`] at which the process dies.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// A merged file half written under its temporary name.
    WritingMerged,
    /// Every merged file written and renamed, the manifest not touched yet.
    MergedWritten,
    /// Every merged file written, the new manifest written to `manifest.json.tmp`.
    BeforeManifestRename,
    /// The new manifest renamed into place, no input deleted yet.
    AfterManifestRename,
    /// Some of the inputs deleted.
    DeletingInputs,
}

#[test]
fn a_crash_at_any_step_of_a_compaction_leaves_one_consistent_set_of_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The disk before the compaction (two partitions, two groups in p0)...
    let before_root = tmp.path().join("before");
    let dir = DataDir::open(&before_root).expect("open");
    let (mut p0, _) = loaded(&dir, 0);
    let (mut p1, _) = loaded(&dir, 1);
    for i in 0..6 {
        let rows = calls(&[
            ("acme", Some(DAY0_MS + i), i),
            ("beta", Some(DAY0_MS), 10 + i),
        ]);
        let tail = calls(&[("acme", Some(DAY0_MS), 100 + i)]);
        commit(
            &mut p0,
            i + 1,
            b"p0 state",
            &[(&CALLS, rows)],
            &[(&CALLS, tail)],
        );
    }
    commit(
        &mut p1,
        7,
        b"p1 state",
        &[(&CALLS, calls(&[("acme", Some(DAY0_MS), 50)]))],
        &[],
    );
    drop((p0, p1));
    let rows = rows_of(&read_table(&before_root, "calls").expect("read"));

    // ...and after it.
    let after_root = tmp.path().join("after");
    copy_tree(&before_root, &after_root);
    let after_dir = DataDir::open(&after_root).expect("open");
    let (mut p0, _) = loaded(&after_dir, 0);
    let stats = compact(&mut p0, 4);
    assert_eq!((stats.input_files, stats.output_files), (12, 2));
    drop(p0);
    let before = files_under(&before_root);
    let after = files_under(&after_root);
    let merged: Vec<&String> = after.difference(&before).collect();
    let inputs: Vec<&String> = before.difference(&after).collect();
    assert_eq!((merged.len(), inputs.len()), (2, 12));
    let manifest = format!("_checkpoints/{TOPIC}/p0/manifest.json");

    for crash in [
        Crash::WritingMerged,
        Crash::MergedWritten,
        Crash::BeforeManifestRename,
        Crash::AfterManifestRename,
        Crash::DeletingInputs,
    ] {
        let root = tmp.path().join(format!("{crash:?}"));
        copy_tree(&before_root, &root);
        let put = |file: &str, target: &str| {
            fs::copy(
                super::layout::resolve_rel(&after_root, file),
                super::layout::resolve_rel(&root, target),
            )
            .expect("copy");
        };
        let committed = match crash {
            Crash::WritingMerged => {
                let full = fs::read(super::layout::resolve_rel(&after_root, merged[0]))
                    .expect("read merged");
                let tmp_name = format!("{}.tmp", merged[0]);
                fs::write(
                    super::layout::resolve_rel(&root, &tmp_name),
                    &full[..full.len() / 2],
                )
                .expect("write half");
                false
            }
            Crash::MergedWritten => {
                merged.iter().for_each(|file| put(file, file));
                false
            }
            Crash::BeforeManifestRename => {
                merged.iter().for_each(|file| put(file, file));
                put(&manifest, &format!("{manifest}.tmp"));
                false
            }
            Crash::AfterManifestRename | Crash::DeletingInputs => {
                merged.iter().for_each(|file| put(file, file));
                put(&manifest, &manifest);
                if matches!(crash, Crash::DeletingInputs) {
                    for file in inputs.iter().step_by(2) {
                        fs::remove_file(super::layout::resolve_rel(&root, file)).expect("rm");
                    }
                }
                true
            }
        };

        // Readers, before any recovery, see every row once.
        assert_eq!(
            rows_of(&read_table(&root, "calls").expect("read")),
            rows,
            "{crash:?}"
        );

        let dir = DataDir::open(&root).expect("open");
        let (mut p0, checkpoint) = loaded(&dir, 0);
        let checkpoint = checkpoint.expect("checkpoint");
        let (expected_files, expected_sequence) =
            if committed { (&after, 7) } else { (&before, 6) };
        assert_eq!(&files_under(&root), expected_files, "{crash:?}");
        assert_eq!(
            (
                checkpoint.sequence,
                checkpoint.next_offset,
                checkpoint.state.as_slice()
            ),
            (expected_sequence, 6, b"p0 state".as_slice()),
            "{crash:?}"
        );
        assert_eq!(
            rows_of(&read_table(&root, "calls").expect("read")),
            rows,
            "{crash:?}"
        );
        let (_p1, p1_checkpoint) = loaded(&dir, 1);
        assert_eq!(p1_checkpoint.expect("p1").state, b"p1 state", "{crash:?}");

        // The partition goes on: a compaction (again, or for the first time) and a commit.
        let again = compact(&mut p0, 4);
        assert_eq!(
            again.output_files,
            if committed { 0 } else { 2 },
            "{crash:?}"
        );
        let stats = commit(&mut p0, 7, b"next", &[], &[]);
        assert_eq!(stats.sequence, 8, "{crash:?}");
        let mut now = rows.clone();
        now.retain(|(_, _, v)| *v != 105); // the tail is gone: the last commit had none
        assert_eq!(
            rows_of(&read_table(&root, "calls").expect("read")),
            now,
            "{crash:?}"
        );
    }
}

#[test]
fn a_failed_compaction_changes_nothing_and_removes_its_merged_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    for i in 0..4 {
        // The first checkpoint has two rows of acme, the others one.
        let mut rows = vec![("acme", Some(DAY0_MS), i), ("beta", Some(DAY0_MS), 10 + i)];
        if i == 0 {
            rows.push(("acme", Some(DAY0_MS), 20));
        }
        commit(&mut store, i + 1, b"s", &[(&CALLS, calls(&rows))], &[]);
    }
    let before = contents_under(root);
    let rows = rows_of(&read_table(root, "calls").expect("read"));
    // A checkpoint numbers its pieces in (tenant, date) order: acme 0, beta 1.
    let segment = |tenant: &str, seq: u64| -> PathBuf {
        let n = if tenant == "acme" { 0 } else { 1 };
        root.join(format!("calls/tenant={tenant}/date=2024-03-10"))
            .join(format!("{TOPIC}-p0-{seq:020}-final-{n}.parquet"))
    };
    let check_unchanged = |store: &PartitionStore, what: &str| {
        assert!(!store.needs_load(), "{what}");
        assert_eq!(store.sequence(), Some(4), "{what}");
        assert!(contents_under(root) == before, "{what}: files changed");
    };

    // The merged file of the second group cannot be created (a directory has its
    // temporary name) after the first group's was written.
    let blocker = root.join("calls/tenant=beta/date=2024-03-10").join(format!(
        "{TOPIC}-p0-00000000000000000005-final-1.parquet.tmp"
    ));
    fs::create_dir(&blocker).expect("block");
    let result = store.compact(
        &[&CALLS],
        &CompactionPolicy {
            min_files: 4,
            ..CompactionPolicy::default()
        },
    );
    assert!(
        matches!(result, Err(StoreError::WriteFile { .. })),
        "{result:?}"
    );
    fs::remove_dir(&blocker).expect("unblock");
    check_unchanged(&store, "blocked write");

    // Inputs that are not what the manifest says: not Parquet, another tenant's rows,
    // another row count. Each is refused before anything is written.
    type Damage = (&'static str, PathBuf, fn(&StoreError) -> bool);
    let damages: [Damage; 3] = [
        ("not parquet", PathBuf::new(), |e| {
            matches!(e, StoreError::ReadParquet { .. })
        }),
        ("beta's rows", segment("beta", 2), |e| {
            matches!(e, StoreError::SegmentMismatch { what: "tenant", .. })
        }),
        ("two rows", segment("acme", 1), |e| {
            matches!(e, StoreError::SegmentMismatch { what: "rows", .. })
        }),
    ];
    let victim = segment("acme", 3);
    let original = fs::read(&victim).expect("read");
    for (what, source, is_expected) in damages {
        if source.as_os_str().is_empty() {
            fs::write(&victim, b"PAR1 not really").expect("damage");
        } else {
            fs::copy(&source, &victim).expect("damage");
        }
        let result = store.compact(
            &[&CALLS],
            &CompactionPolicy {
                min_files: 4,
                ..CompactionPolicy::default()
            },
        );
        match result {
            Err(err) => assert!(is_expected(&err), "{what}: {err:?}"),
            Ok(stats) => panic!("{what}: compacted {stats:?}"),
        }
        fs::write(&victim, &original).expect("repair");
        check_unchanged(&store, what);
    }

    // Repaired, the store works as before.
    let stats = compact(&mut store, 4);
    assert_eq!((stats.input_files, stats.output_files), (8, 2));
    assert_eq!(rows_of(&read_table(root, "calls").expect("read")), rows);
    assert_eq!(commit(&mut store, 5, b"t", &[], &[]).sequence, 6);
}

#[test]
fn a_compaction_needs_a_load_and_a_valid_policy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DataDir::open(tmp.path()).expect("open");
    let mut store = dir.partition(TOPIC, 0);
    assert!(store.needs_load());
    let policy = CompactionPolicy::default();
    let result = store.compact(&[&CALLS], &policy);
    assert!(
        matches!(result, Err(StoreError::CommitBeforeLoad { .. })),
        "{result:?}"
    );
    store.load().expect("load");
    assert!(!store.needs_load());
    // A partition without a checkpoint has nothing to merge.
    assert_eq!(
        store.compact(&[&CALLS], &policy).expect("compact"),
        CompactionStats::default()
    );
    let result = store.compact(
        &[&CALLS],
        &CompactionPolicy {
            min_files: 1,
            ..policy
        },
    );
    assert!(
        matches!(result, Err(StoreError::InvalidPolicy { .. })),
        "{result:?}"
    );
}

#[test]
fn a_reader_that_listed_before_a_compaction_lists_again_and_sees_every_row_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let (mut store, _) = loaded(&dir, 0);
    for i in 0..4 {
        commit(
            &mut store,
            i + 1,
            b"s",
            &[(&CALLS, calls(&[("acme", Some(DAY0_MS), i)]))],
            &[],
        );
    }
    let rows = rows_of(&read_table(root, "calls").expect("read"));
    let stale = visible_files(root, "calls").expect("list");
    compact(&mut store, 4);

    // The old listing names deleted inputs: reading one says it vanished...
    assert!(stale.iter().all(|f| !f.path.exists()));
    let err = super::segment::read_segment(&stale[0].path).expect_err("deleted");
    assert!(super::segment::is_vanished(&err), "{err:?}");
    // ...and a new one names the merged file only.
    let fresh = visible_files(root, "calls").expect("list");
    assert_eq!(fresh.len(), 1);
    assert!(stale.iter().all(|f| f.path != fresh[0].path));
    assert_eq!(rows_of(&read_table(root, "calls").expect("read")), rows);
}

#[test]
fn concurrent_readers_see_every_row_exactly_once_while_partitions_compact() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;

    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = DataDir::open(root).expect("open");
    let mut stores = Vec::new();
    for partition in 0..6 {
        let (mut store, _) = loaded(&dir, partition);
        for i in 0..4 {
            let value = i64::from(partition) * 10 + i;
            let rows = calls(&[
                ("acme", Some(DAY0_MS), value),
                ("beta", Some(DAY0_MS), value),
            ]);
            commit(&mut store, i + 1, b"s", &[(&CALLS, rows)], &[]);
        }
        stores.push(store);
    }
    let rows = rows_of(&read_table(root, "calls").expect("read"));
    assert_eq!(rows.len(), 48);

    let stop = AtomicBool::new(false);
    // A rendezvous channel: the reader reports each complete read and waits until the
    // writer takes the report, so at most one compaction overlaps any read (and
    // `read_table`'s three listings always suffice).
    let (done, reads) = mpsc::sync_channel::<()>(0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                let read = read_table(root, "calls").expect("read during compaction");
                assert_eq!(rows_of(&read), rows, "a row seen twice or not at all");
                if done.send(()).is_err() {
                    break;
                }
            }
        });
        for store in &mut stores {
            reads.recv().expect("the reader is alive");
            let stats = compact(store, 4);
            assert_eq!(stats.output_files, 2);
        }
        reads.recv().expect("the reader is alive");
        stop.store(true, Ordering::SeqCst);
        drop(reads);
    });
    assert_eq!(visible_files(root, "calls").expect("list").len(), 12);
    assert_eq!(rows_of(&read_table(root, "calls").expect("read")), rows);
}
