//! The sources over a store the aggregator writes, driven directly (no broker): the
//! hand-checked fixtures of `sample-data/fixtures/` under three tenants in two
//! partitions.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::source::{Snapshot, TableKind, TableSource};
use ccpulse_schemas::v1::{Event, decode};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use super::*;
use crate::aggregate::{AggregateWorker, Aggregator, AggregatorSettings};
use crate::consume::{PartitionWorker, Pipeline};
use crate::fold::live::{AgentLive, LiveSummary, QueueLive};
use crate::fold::reference::fold_all;
use crate::fold::rows::Tables;
use crate::fold::{EffectiveState, FoldConfig};
use crate::store::{CompactionPolicy, DataDir, read_table};

const TOPIC: &str = "unit-events";

/// Tenant → the fixture whose events it gets (renamed to it), and the partition.
const TENANTS: [(&str, &str, i32); 3] = [
    ("acme", "a-answered-hold-acw-abandons", 0),
    ("globex", "e-dialer-campaign", 0),
    ("initech", "c-transfer-and-rona", 1),
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-data/fixtures")
}

/// The events of fixture `name` as tenant `tenant`, and the tenant's settings from the
/// fixture's `expected.json`.
fn fixture(name: &str, tenant: &str) -> (Vec<Event<'static>>, TenantSettings) {
    let dir = fixtures_dir().join(name);
    let text = std::fs::read_to_string(dir.join("events.ndjson")).unwrap();
    let events = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut event = decode(line.as_bytes()).unwrap().into_owned();
            event.tenant_id = Cow::Owned(tenant.to_owned());
            event
        })
        .collect();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let settings = &expected["settings"];
    let tenant: TenantSettings = serde_json::from_value(json!({
        "timezone": settings["timezone"],
        "business_hours": settings["business_hours"],
        "queues": settings["queues"],
    }))
    .unwrap();
    (events, tenant)
}

/// Every tenant's events (in time order within each partition) and the fold settings.
/// The lateness is one minute rather than the fixtures' ten, so that checkpoints make
/// plenty of rows final (the fixtures arrive in time order: none is too late).
fn traffic() -> (BTreeMap<i32, Vec<Event<'static>>>, FoldConfig) {
    let mut config = FoldConfig {
        allowed_lateness_ms: 60_000,
        ..FoldConfig::default()
    };
    let mut partitions: BTreeMap<i32, Vec<Event<'static>>> = BTreeMap::new();
    for (tenant, name, partition) in TENANTS {
        let (events, settings) = fixture(name, tenant);
        config.tenants.insert(tenant.to_owned(), settings);
        partitions.entry(partition).or_default().extend(events);
    }
    for events in partitions.values_mut() {
        events.sort_by_key(|event| event.occurred_at);
    }
    (partitions, config)
}

fn of_tenant<'a>(events: &'a [Event<'static>], tenant: &str) -> Vec<&'a Event<'static>> {
    events.iter().filter(|e| e.tenant_id == tenant).collect()
}

/// The reference tables of `tenant`'s events among `events`, without anomalies, sorted.
fn reference(events: &[Event<'static>], tenant: &str, config: &FoldConfig) -> Tables {
    let own: Vec<Event<'static>> = of_tenant(events, tenant).into_iter().cloned().collect();
    let mut tables = fold_all(&own, config);
    tables.anomalies.clear();
    tables.sort();
    tables
}

/// Feeds `events` to `worker` as batches of `batch` events with offsets from `first`,
/// checkpointing after every `checkpoint_every` batches; calls `after_batch` after each.
fn feed(
    worker: &mut AggregateWorker,
    events: &[Event<'static>],
    first: i64,
    batch: usize,
    checkpoint_every: usize,
    mut after_batch: impl FnMut(&mut AggregateWorker, usize),
) {
    for (n, chunk) in events.chunks(batch).enumerate() {
        let start = first + (n * batch) as i64;
        for (i, event) in chunk.iter().enumerate() {
            let json = event.to_json();
            worker.on_event(event, json.as_bytes(), start + i as i64, event.occurred_at);
        }
        worker.end_batch();
        if (n + 1) % checkpoint_every == 0 {
            worker.checkpoint(start + chunk.len() as i64).unwrap();
        }
        after_batch(worker, start as usize + chunk.len());
    }
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every row of `batches` as one line of text, sorted: a multiset of rows.
fn row_strings<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> Vec<String> {
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter<'_>> = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    rows
}

/// The batches of one table of a snapshot: its files read, then its in-memory batches.
fn read_snapshot_table(snapshot: &Snapshot, table: &str) -> Vec<RecordBatch> {
    let data = &snapshot.tables[table];
    let mut batches: Vec<RecordBatch> = data
        .files
        .iter()
        .flat_map(|file| read_parquet(&file.path))
        .collect();
    batches.extend(data.batches.iter().cloned());
    batches
}

/// The derived tables of a snapshot, read back and sorted.
fn snapshot_tables(snapshot: &Snapshot) -> Tables {
    let read: Vec<(&str, Vec<RecordBatch>)> = tables::DERIVED
        .iter()
        .map(|spec| (spec.name, read_snapshot_table(snapshot, spec.name)))
        .collect();
    let mut tables = tables::from_batches(
        read.iter()
            .flat_map(|(name, batches)| batches.iter().map(move |batch| (*name, batch))),
    )
    .unwrap();
    tables.sort();
    tables
}

/// The `raw` column of a snapshot's `events` table, sorted.
fn snapshot_raw_events(snapshot: &Snapshot) -> Vec<String> {
    let mut raws: Vec<String> = read_snapshot_table(snapshot, tables::EVENTS.name)
        .iter()
        .flat_map(|batch| {
            let raw = batch.column_by_name("raw").unwrap().as_string::<i32>();
            (0..raw.len())
                .map(|row| raw.value(row).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    raws.sort();
    raws
}

fn raw_events(events: &[&Event<'static>]) -> Vec<String> {
    let mut raws: Vec<String> = events.iter().map(|event| event.to_json()).collect();
    raws.sort();
    raws
}

/// Every tenant id in every file and batch of `snapshot`.
fn tenants_in(snapshot: &Snapshot) -> Vec<String> {
    let mut tenants: Vec<String> = Vec::new();
    for table in snapshot.tables.keys() {
        for batch in &read_snapshot_table(snapshot, table) {
            let column = batch
                .column_by_name("tenant_id")
                .unwrap()
                .as_string::<i32>();
            tenants.extend(column.iter().map(|t| t.unwrap().to_owned()));
        }
    }
    tenants.sort();
    tenants.dedup();
    tenants
}

fn new_aggregator(root: &Path, config: &FoldConfig, settings: AggregatorSettings) -> Aggregator {
    Aggregator::with_settings(
        DataDir::open(root).unwrap(),
        Arc::new(config.clone()),
        settings,
    )
}

#[test]
fn the_tables_are_listed_with_their_kinds_and_key_columns_in_their_schemas() {
    let source = StoreSource::new(PathBuf::from("/nonexistent"));
    let defs = source.tables();
    let names: Vec<&str> = defs.iter().map(|def| def.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "events",
            "interactions",
            "agent_states",
            "queue_intervals",
            "agent_intervals",
            "campaign_intervals",
            "queue_live",
            "agent_live"
        ]
    );
    for def in &defs {
        match def.kind {
            TableKind::Interval { key } => {
                for column in key {
                    assert!(
                        def.schema.column_with_name(column).is_some(),
                        "{}: key column {column} not in the schema",
                        def.name
                    );
                }
                assert_eq!(def.time_column.as_deref(), Some("interval_start"));
            }
            TableKind::Live => assert_eq!(def.time_column, None, "{}", def.name),
            TableKind::Detail => {
                let time = def.time_column.as_deref().unwrap();
                assert!(def.schema.column_with_name(time).is_some(), "{}", def.name);
            }
        }
        assert!(def.schema.column_with_name("tenant_id").is_some());
    }
    let kinds: Vec<TableKind> = defs.iter().map(|def| def.kind).collect();
    assert_eq!(kinds[0..3], [TableKind::Detail; 3]);
    assert_eq!(kinds[6..], [TableKind::Live, TableKind::Live]);
    // A missing data directory is an empty history, not an error.
    let snapshot = source.snapshot("acme").unwrap();
    assert!(snapshot.tables.values().all(|data| data.files.is_empty()));
}

#[test]
fn store_source_gives_each_tenant_exactly_its_rows() {
    let (partitions, config) = traffic();
    let root = tempfile::tempdir().unwrap();
    let aggregator = new_aggregator(root.path(), &config, AggregatorSettings::default());
    for (partition, events) in &partitions {
        let mut worker = aggregator.open(TOPIC, *partition).unwrap().worker;
        feed(&mut worker, events, 0, 5, 3, |_, _| {});
        worker.checkpoint(events.len() as i64).unwrap();
    }
    let all: Vec<Event<'static>> = partitions.values().flatten().cloned().collect();
    let source = StoreSource::new(root.path().to_path_buf());

    let mut finals = 0;
    for (tenant, _, _) in TENANTS {
        let snapshot = source.snapshot(tenant).unwrap();
        assert_eq!(tenants_in(&snapshot), [tenant], "{tenant}: only its rows");
        for (name, data) in &snapshot.tables {
            assert!(
                data.batches.is_empty(),
                "{tenant}/{name}: no batches offline"
            );
            finals += data
                .files
                .iter()
                .filter(|f| f.path.to_string_lossy().contains("-final-"))
                .count();
        }
        // Each stored table: the snapshot's files hold exactly the tenant's rows of the
        // whole table.
        for Stored { spec, .. } in STORED {
            let whole = read_table(root.path(), spec.name).unwrap();
            let own: Vec<RecordBatch> = whole
                .iter()
                .filter_map(|batch| tenant_rows(batch, tenant).unwrap())
                .collect();
            let listed = read_snapshot_table(&snapshot, spec.name);
            assert_eq!(
                row_strings(&listed),
                row_strings(&own),
                "{tenant}/{}",
                spec.name
            );
        }
        assert_eq!(
            snapshot_tables(&snapshot),
            reference(&all, tenant, &config),
            "{tenant}: derived tables vs reference"
        );
        assert_eq!(
            snapshot_raw_events(&snapshot),
            raw_events(&of_tenant(&all, tenant)),
            "{tenant}: events"
        );
        for live in [QUEUE_LIVE, AGENT_LIVE] {
            let data = &snapshot.tables[live];
            assert!(data.files.is_empty() && data.batches.is_empty(), "{live}");
        }
    }
    assert!(finals > 0, "the store has final files");

    let unknown = source.snapshot("nobody").unwrap();
    assert_eq!(unknown.tables.len(), 8);
    assert!(
        unknown
            .tables
            .values()
            .all(|data| data.files.is_empty() && data.batches.is_empty())
    );
}

/// Asserts that a [`LiveSource`] snapshot of every tenant of `partition` equals the
/// reference fold of its first `upto` events, and its `events` rows are those events.
fn assert_snapshot_is_reference(
    source: &LiveSource,
    events: &[Event<'static>],
    config: &FoldConfig,
    what: &str,
) {
    for (tenant, _, _) in TENANTS {
        let snapshot = source.snapshot(tenant).unwrap();
        let own = of_tenant(events, tenant);
        if own.is_empty() {
            continue;
        }
        assert_eq!(
            tenants_in(&snapshot),
            [tenant],
            "{what}: {tenant}: only its rows"
        );
        assert_eq!(
            snapshot_tables(&snapshot),
            reference(events, tenant, config),
            "{what}: {tenant}: derived tables"
        );
        assert_eq!(
            snapshot_raw_events(&snapshot),
            raw_events(&own),
            "{what}: {tenant}: events"
        );
    }
}

#[test]
fn live_source_holds_every_row_once_across_tails_checkpoints_and_compactions() {
    let (partitions, config) = traffic();
    let root = tempfile::tempdir().unwrap();
    // A tail after every batch, a compaction try after every checkpoint, merging pairs.
    let settings = AggregatorSettings {
        tail_every: Duration::ZERO,
        advance_every_events: 2,
        compact_every_checkpoints: 1,
        compaction: CompactionPolicy {
            min_files: 2,
            max_rows_per_file: 1_000,
        },
        ..AggregatorSettings::default()
    };
    let aggregator = new_aggregator(root.path(), &config, settings);
    let view = aggregator.live();
    let source = LiveSource::new(root.path().to_path_buf(), Arc::clone(&view));

    // Partition 1 is checkpointed and closed: it is read from disk.
    let on_disk = &partitions[&1];
    {
        let mut worker = aggregator.open(TOPIC, 1).unwrap().worker;
        feed(&mut worker, on_disk, 0, 7, 1, |_, _| {});
    }
    assert!(view.tails().is_empty(), "a closed partition has no tail");

    let live = &partitions[&0];
    let mut worker = aggregator.open(TOPIC, 0).unwrap().worker;
    let (mut checked, mut with_files_and_batches) = (0, 0);
    feed(&mut worker, live, 0, 3, 4, |_, upto| {
        let tails = view.tails();
        assert_eq!(tails.len(), 1);
        let tail = &tails[0];
        assert!(
            tail.files.iter().all(|file| !file.provisional),
            "a tail names final files only"
        );
        // The tail covers every event read so far: in files or in batches.
        let events_rows =
            tail.file_rows(tables::EVENTS.name) as usize + tail.batch_rows(tables::EVENTS.name);
        assert_eq!(events_rows, upto);
        let has_batches = tail
            .batches
            .iter()
            .any(|(table, batches)| *table != tables::EVENTS.name && !batches.is_empty());
        if !tail.files.is_empty() && has_batches {
            with_files_and_batches += 1;
        }
        let mut seen: Vec<Event<'static>> = live[..upto].to_vec();
        seen.extend(on_disk.iter().cloned());
        assert_snapshot_is_reference(&source, &seen, &config, &format!("after {upto} events"));
        checked += 1;
    });
    assert!(checked >= 10 && with_files_and_batches >= 3);
    let checkpoints = live.len().div_ceil(3) / 4;
    assert!(
        tails_sequence(&view) > Some(checkpoints as u64),
        "compactions added manifests besides the {checkpoints} checkpoints"
    );

    // Live observations come from the view, one tenant at a time.
    let snapshot = source.snapshot("acme").unwrap();
    let queues = &snapshot.tables[QUEUE_LIVE].batches;
    assert_eq!(
        queues.iter().map(RecordBatch::num_rows).sum::<usize>(),
        view.queue_live(Some("acme")).len()
    );
    assert!(!view.queue_live(Some("acme")).is_empty());
    assert_eq!(tenants_in(&snapshot), ["acme"]);

    // Revoked: no tail, and the snapshot is the disk's.
    drop(worker);
    assert!(view.tails().is_empty());
    let all: Vec<Event<'static>> = partitions.values().flatten().cloned().collect();
    assert_snapshot_is_reference(&source, &all, &config, "after revocation");
    let store = StoreSource::new(root.path().to_path_buf())
        .snapshot("acme")
        .unwrap();
    let live = source.snapshot("acme").unwrap();
    for Stored { spec, .. } in STORED {
        assert_eq!(live.tables[spec.name].files, store.tables[spec.name].files);
        assert!(live.tables[spec.name].batches.is_empty());
    }
}

fn tails_sequence(view: &LiveView) -> Option<u64> {
    view.tails().first().and_then(|tail| tail.sequence)
}

#[test]
fn a_tail_published_before_any_checkpoint_has_no_files_and_every_row() {
    let (partitions, config) = traffic();
    let root = tempfile::tempdir().unwrap();
    let settings = AggregatorSettings {
        tail_every: Duration::ZERO,
        ..AggregatorSettings::default()
    };
    let aggregator = new_aggregator(root.path(), &config, settings);
    let source = LiveSource::new(root.path().to_path_buf(), aggregator.live());
    let events = &partitions[&0];
    let mut worker = aggregator.open(TOPIC, 0).unwrap().worker;
    feed(&mut worker, events, 0, 1000, usize::MAX, |_, _| {});
    let tails = aggregator.live().tails();
    assert_eq!(tails[0].sequence, None);
    assert!(tails[0].files.is_empty());
    assert_eq!(tails[0].batch_rows(tables::EVENTS.name), events.len());
    assert_snapshot_is_reference(&source, events, &config, "before any checkpoint");
    // A tail interval too long for an `Instant` publishes at checkpoints only.
    drop(worker);
    let settings = AggregatorSettings {
        tail_every: Duration::MAX,
        ..AggregatorSettings::default()
    };
    let root = tempfile::tempdir().unwrap();
    let aggregator = new_aggregator(root.path(), &config, settings);
    let mut worker = aggregator.open(TOPIC, 0).unwrap().worker;
    feed(&mut worker, events, 0, 1000, usize::MAX, |_, _| {});
    assert_eq!(
        aggregator.live().tails()[0].batch_rows(tables::EVENTS.name),
        0
    );
    worker.checkpoint(events.len() as i64).unwrap();
    assert_eq!(
        aggregator.live().tails()[0].file_rows(tables::EVENTS.name),
        events.len() as u64
    );
}

#[test]
fn tenant_rows_filters_and_does_not_copy_a_single_tenant_batch() {
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
        datafusion::arrow::datatypes::Field::new(
            "tenant_id",
            datafusion::arrow::datatypes::DataType::Utf8,
            false,
        ),
    ]));
    let mixed = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(datafusion::arrow::array::StringArray::from(vec![
            "a", "b", "a",
        ]))],
    )
    .unwrap();
    assert_eq!(tenant_rows(&mixed, "a").unwrap().unwrap().num_rows(), 2);
    assert!(tenant_rows(&mixed, "c").unwrap().is_none());
    let single = tenant_rows(&mixed, "b").unwrap().unwrap();
    let again = tenant_rows(&single, "b").unwrap().unwrap();
    assert!(Arc::ptr_eq(single.column(0), again.column(0)));
}

fn summary(start: i64, n: u64, sl: Option<f64>) -> LiveSummary {
    LiveSummary {
        period_start: start,
        offered: n,
        answered: n + 1,
        abandoned: n + 2,
        flowed_out: n + 3,
        service_level: sl,
        asa_ms: sl.map(|sl| sl * 1000.0),
        abandon_rate: sl.map(|sl| 1.0 - sl),
    }
}

#[test]
fn queue_live_batches_round_trip() {
    let rows = vec![
        QueueLive {
            tenant_id: "acme".into(),
            queue_id: "support".into(),
            as_of: 1_794_837_600_000,
            waiting_now: 3,
            oldest_queued_at: Some(1_794_837_540_000),
            oldest_wait_ms: Some(60_000),
            agents: [("available", 2), ("away", 1)].into_iter().collect(),
            in_progress: 4,
            channels: Vec::new(),
            today: summary(1_794_805_200_000, 10, Some(0.75)),
            current_interval: summary(1_794_837_600_000, 1, None),
        },
        QueueLive {
            tenant_id: "acme".into(),
            queue_id: "sales".into(),
            as_of: 1_794_837_600_000,
            waiting_now: 0,
            oldest_queued_at: None,
            oldest_wait_ms: None,
            agents: EffectiveState::NAMES.iter().map(|n| (*n, 7)).collect(),
            in_progress: 0,
            channels: Vec::new(),
            today: summary(1_794_805_200_000, 0, None),
            current_interval: summary(1_794_837_600_000, 0, Some(1.0)),
        },
    ];
    let batch = tables::queue_live_batch(&rows).unwrap();
    assert_eq!(batch.schema(), tables::queue_live_schema());
    let names: Vec<String> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut expected_names: Vec<String> = [
        "tenant_id",
        "queue_id",
        "as_of",
        "waiting_now",
        "oldest_queued_at",
        "oldest_wait_ms",
        "agents_available",
        "agents_alerting",
        "agents_interacting",
        "agents_after_contact_work",
        "agents_away",
        "agents_offline",
        "in_progress",
    ]
    .map(str::to_owned)
    .to_vec();
    for period in ["today", "interval"] {
        for suffix in [
            "start",
            "offered",
            "answered",
            "abandoned",
            "flowed_out",
            "service_level",
            "asa_ms",
            "abandon_rate",
        ] {
            expected_names.push(format!("{period}_{suffix}"));
        }
    }
    assert_eq!(names, expected_names);

    let strs = |name: &str| -> Vec<String> {
        let column = batch.column_by_name(name).unwrap().as_string::<i32>();
        column.iter().map(|v| v.unwrap().to_owned()).collect()
    };
    let ints = |name: &str| -> Vec<Option<i64>> {
        let column = batch.column_by_name(name).unwrap();
        column.as_primitive::<Int64Type>().iter().collect()
    };
    let times = |name: &str| -> Vec<Option<i64>> {
        let column = batch.column_by_name(name).unwrap();
        column
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .collect()
    };
    let floats = |name: &str| -> Vec<Option<f64>> {
        let column = batch.column_by_name(name).unwrap();
        column.as_primitive::<Float64Type>().iter().collect()
    };
    let count = |v: Option<i64>| u64::try_from(v.unwrap()).unwrap();
    let read_summary = |prefix: &str, row: usize| LiveSummary {
        period_start: times(&format!("{prefix}_start"))[row].unwrap(),
        offered: count(ints(&format!("{prefix}_offered"))[row]),
        answered: count(ints(&format!("{prefix}_answered"))[row]),
        abandoned: count(ints(&format!("{prefix}_abandoned"))[row]),
        flowed_out: count(ints(&format!("{prefix}_flowed_out"))[row]),
        service_level: floats(&format!("{prefix}_service_level"))[row],
        asa_ms: floats(&format!("{prefix}_asa_ms"))[row],
        abandon_rate: floats(&format!("{prefix}_abandon_rate"))[row],
    };
    let read: Vec<QueueLive> = (0..batch.num_rows())
        .map(|row| QueueLive {
            tenant_id: strs("tenant_id")[row].clone(),
            queue_id: strs("queue_id")[row].clone(),
            as_of: times("as_of")[row].unwrap(),
            waiting_now: count(ints("waiting_now")[row]),
            oldest_queued_at: times("oldest_queued_at")[row],
            oldest_wait_ms: ints("oldest_wait_ms")[row],
            agents: EffectiveState::NAMES
                .iter()
                .map(|state| (*state, count(ints(&format!("agents_{state}"))[row])))
                .collect(),
            in_progress: count(ints("in_progress")[row]),
            channels: Vec::new(),
            today: read_summary("today", row),
            current_interval: read_summary("interval", row),
        })
        .collect();
    // The states a row does not count read back as 0.
    let mut expected = rows.clone();
    for row in &mut expected {
        for state in EffectiveState::NAMES {
            row.agents.entry(state).or_insert(0);
        }
    }
    assert_eq!(read, expected);
    assert_eq!(tables::queue_live_batch(&[]).unwrap().num_rows(), 0);
}

#[test]
fn agent_live_batches_round_trip() {
    let rows = vec![
        AgentLive {
            tenant_id: "acme".into(),
            agent_id: "a-1".into(),
            as_of: 1_794_837_600_000,
            state: "away",
            reason: Some("lunch".into()),
            since: 1_794_837_000_000,
            queues: vec!["support".into(), "sales".into()],
            team_id: Some("t-north".into()),
            channels: Vec::new(),
        },
        AgentLive {
            tenant_id: "acme".into(),
            agent_id: "a-2".into(),
            as_of: 1_794_837_600_000,
            state: "available",
            reason: None,
            since: 1_794_837_600_000,
            queues: Vec::new(),
            team_id: None,
            channels: Vec::new(),
        },
    ];
    let batch = tables::agent_live_batch(&rows).unwrap();
    assert_eq!(batch.schema(), tables::agent_live_schema());
    let column = |name: &str| batch.column_by_name(name).unwrap();
    let strs = |name: &str| -> Vec<Option<String>> {
        column(name)
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    };
    let times = |name: &str| -> Vec<i64> {
        column(name)
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .map(Option::unwrap)
            .collect()
    };
    let queues = column("queues").as_list::<i32>();
    let read: Vec<AgentLive> = (0..batch.num_rows())
        .map(|row| AgentLive {
            tenant_id: strs("tenant_id")[row].clone().unwrap(),
            agent_id: strs("agent_id")[row].clone().unwrap(),
            as_of: times("as_of")[row],
            state: EffectiveState::NAMES
                .into_iter()
                .find(|s| Some(*s) == strs("state")[row].as_deref())
                .unwrap(),
            reason: strs("reason")[row].clone(),
            since: times("since")[row],
            queues: queues
                .value(row)
                .as_string::<i32>()
                .iter()
                .map(|q| q.unwrap().to_owned())
                .collect(),
            team_id: strs("team_id")[row].clone(),
            channels: Vec::new(),
        })
        .collect();
    assert_eq!(read, rows);
    let in_state: Vec<Option<i64>> = column("time_in_state_ms")
        .as_primitive::<Int64Type>()
        .iter()
        .collect();
    assert_eq!(in_state, [Some(600_000), Some(0)]);
    assert_eq!(column("queues").null_count(), 0);
}
