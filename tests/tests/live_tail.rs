//! The aggregator's in-memory tail read through [`LiveSource`]: SQL's view of the tables
//! must equal the reference fold of every event ingested so far, before anything is on
//! disk, across a checkpoint (no row in a file and a batch both), and after shutdown;
//! and publishing tails must not change a byte of what checkpoints write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccpulse_ingest::aggregate::{Aggregator, AggregatorSettings, LiveView};
use ccpulse_ingest::consume::{self, Opened, PartitionWorker, Pipeline};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::fold::reference::fold_all;
use ccpulse_ingest::fold::rows::Tables;
use ccpulse_ingest::store::{CompactionPolicy, DataDir};
use ccpulse_ingest::{LiveSource, RunStats, StoreSource, tables};
use ccpulse_schemas::source::{Snapshot, TableSource};
use ccpulse_schemas::v1::Event;
use ccpulse_tests::aggregate::{Following, TestTopics, assert_same_tables, produce, simulated};
use ccpulse_tests::unique_name;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Upper bound for any one wait.
const DEADLINE: Duration = Duration::from_secs(120);

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// One table of a snapshot: (its files read back, its batches).
fn table(snapshot: &Snapshot, name: &str) -> (Vec<RecordBatch>, Vec<RecordBatch>) {
    let data = &snapshot.tables[name];
    let files = data
        .files
        .iter()
        .flat_map(|file| read_parquet(&file.path))
        .collect();
    (files, data.batches.clone())
}

/// The derived tables of a snapshot (files and batches), read back and sorted.
fn derived(snapshot: &Snapshot) -> Tables {
    let read: Vec<(&str, Vec<RecordBatch>)> = tables::DERIVED
        .iter()
        .map(|spec| {
            let (mut batches, more) = table(snapshot, spec.name);
            batches.extend(more);
            (spec.name, batches)
        })
        .collect();
    let mut tables = tables::from_batches(
        read.iter()
            .flat_map(|(name, batches)| batches.iter().map(move |batch| (*name, batch))),
    )
    .unwrap();
    tables.sort();
    tables
}

/// The `raw` column of `batches`, sorted, and every `tenant_id` in them.
fn raws(batches: &[RecordBatch]) -> (Vec<String>, Vec<String>) {
    let (mut raws, mut tenants) = (Vec::new(), Vec::new());
    for batch in batches {
        let raw = batch.column_by_name("raw").unwrap().as_string::<i32>();
        let tenant = batch
            .column_by_name("tenant_id")
            .unwrap()
            .as_string::<i32>();
        raws.extend(raw.iter().map(|r| r.unwrap().to_owned()));
        tenants.extend(tenant.iter().map(|t| t.unwrap().to_owned()));
    }
    raws.sort();
    tenants.sort();
    tenants.dedup();
    (raws, tenants)
}

fn json_of<'a>(events: impl IntoIterator<Item = &'a Event<'static>>) -> Vec<String> {
    let mut json: Vec<String> = events.into_iter().map(Event::to_json).collect();
    json.sort();
    json
}

/// The reference tables of `tenant`'s events in `events`, without anomalies, sorted.
fn reference(events: &[Event<'static>], tenant: &str, config: &FoldConfig) -> Tables {
    let own: Vec<Event<'static>> = events
        .iter()
        .filter(|e| e.tenant_id == tenant)
        .cloned()
        .collect();
    let mut tables = fold_all(&own, config);
    tables.anomalies.clear();
    tables.sort();
    tables
}

/// Asserts that `source`'s snapshot of every tenant equals the reference fold of
/// `events` (everything ingested so far) and that its `events` table holds exactly the
/// tenant's events, once each.
fn assert_source_is_reference(
    source: &dyn TableSource,
    events: &[Event<'static>],
    tenants: &[String],
    config: &FoldConfig,
    what: &str,
) {
    for tenant in tenants {
        let snapshot = source.snapshot(tenant).unwrap();
        let what = format!("{what}, tenant {tenant}");
        assert_same_tables(
            &derived(&snapshot),
            &reference(events, tenant, config),
            &what,
        );
        let (mut rows, more) = table(&snapshot, tables::EVENTS.name);
        rows.extend(more);
        let (raw, seen_tenants) = raws(&rows);
        assert_eq!(
            seen_tenants,
            std::slice::from_ref(tenant),
            "{what}: tenants in `events`"
        );
        let own = json_of(events.iter().filter(|e| e.tenant_id == tenant.as_str()));
        assert!(
            raw == own,
            "{what}: {} `events` rows for {} events",
            raw.len(),
            own.len()
        );
    }
}

/// Events in the published tails, in files and batches.
fn tail_events(view: &LiveView) -> u64 {
    view.tails()
        .iter()
        .map(|tail| {
            tail.file_rows(tables::EVENTS.name) + tail.batch_rows(tables::EVENTS.name) as u64
        })
        .sum()
}

/// Waits until the tails hold `count` events and `ready` holds.
async fn wait_for_tail(view: &LiveView, count: usize, ready: impl Fn(&LiveView) -> bool) {
    let mut changes = view.subscribe();
    let deadline = Instant::now() + DEADLINE;
    loop {
        if tail_events(view) == count as u64 && ready(view) {
            return;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(
            !remaining.is_zero(),
            "the tails hold {} events, expected {count}",
            tail_events(view)
        );
        // Wait for the next publication (or re-check when the deadline passes).
        let _ = tokio::time::timeout(remaining, changes.changed()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_source_holds_every_ingested_row_before_and_across_a_checkpoint_none_twice() {
    // Three tenants in one partition: every tail batch mixes them.
    let (events, config) = simulated(21, 9, 3_600_000, 3);
    let n = events.len();
    assert!(n > 1_000, "only {n} events");
    let mut tenants: Vec<String> = events.iter().map(|e| e.tenant_id.to_string()).collect();
    tenants.sort();
    tenants.dedup();
    assert_eq!(tenants.len(), 3);
    let (first, second) = (n / 3, 2 * n / 3);

    let topics = TestTopics::create("live-tail", 1).await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let root = data_dir.path().to_path_buf();
    let aggregator = Arc::new(Aggregator::new(
        DataDir::open(&root).unwrap(),
        Arc::new(config.clone()),
    ));
    let view = aggregator.live();
    let source = LiveSource::new(root.clone(), Arc::clone(&view));
    // No checkpoint by time; one by count, once more than half the events are read (and
    // only one: fewer than half are left after it).
    let settings = consume::ConsumerSettings {
        checkpoint_interval: Duration::from_secs(3_600),
        checkpoint_every_messages: (n / 2 + 1) as u64,
        ..topics.consumer_settings(&unique_name("live-tail"))
    };
    let run = Following::start(settings, aggregator, RunStats::new());

    // Nothing on disk yet: every row is in the tail's batches.
    produce(&topics.events, &events[..first]).await.unwrap();
    wait_for_tail(&view, first, |_| true).await;
    assert!(
        StoreSource::new(root.clone())
            .snapshot(&tenants[0])
            .unwrap()
            .tables
            .values()
            .all(|t| t.files.is_empty())
    );
    for tenant in &tenants {
        let snapshot = source.snapshot(tenant).unwrap();
        assert!(
            snapshot.tables.values().all(|t| t.files.is_empty()),
            "{tenant}: no files yet"
        );
    }
    assert_source_is_reference(
        &source,
        &events[..first],
        &tenants,
        &config,
        "before any checkpoint",
    );

    // A checkpoint in the middle of the second part: rows now in files and batches.
    produce(&topics.events, &events[first..second])
        .await
        .unwrap();
    wait_for_tail(&view, second, |view| {
        view.tails().iter().all(|tail| tail.sequence == Some(1))
    })
    .await;
    produce(&topics.events, &events[second..]).await.unwrap();
    wait_for_tail(&view, n, |_| true).await;
    let tails = view.tails();
    assert_eq!(tails.len(), 1);
    assert_eq!(tails[0].sequence, Some(1), "one checkpoint");
    let checkpointed = tails[0].file_rows(tables::EVENTS.name) as usize;
    assert!(
        (n / 2 + 1..=second).contains(&checkpointed),
        "the checkpoint covers {checkpointed} of {n} events"
    );
    assert!(tails[0].files.iter().all(|file| !file.provisional));
    assert_source_is_reference(&source, &events, &tenants, &config, "after a checkpoint");
    // The `events` files hold what was read before the checkpoint, the batches the rest.
    for tenant in &tenants {
        let snapshot = source.snapshot(tenant).unwrap();
        let (files, batches) = table(&snapshot, tables::EVENTS.name);
        let own = |range: &[Event<'static>]| {
            json_of(range.iter().filter(|e| e.tenant_id == tenant.as_str()))
        };
        assert!(
            raws(&files).0 == own(&events[..checkpointed]),
            "{tenant}: files"
        );
        assert!(
            raws(&batches).0 == own(&events[checkpointed..]),
            "{tenant}: batches"
        );
        let derived_batches: usize = tables::DERIVED
            .iter()
            .map(|spec| snapshot.tables[spec.name].batches.len())
            .sum();
        assert!(
            derived_batches > 0,
            "{tenant}: the provisional tail is in memory"
        );
    }

    // Shutdown checkpoints and drops the tail: the disk alone has every row.
    run.stop().await;
    assert!(view.tails().is_empty());
    assert_source_is_reference(&source, &events, &tenants, &config, "after shutdown");
    let store = StoreSource::new(root.clone());
    assert_source_is_reference(&store, &events, &tenants, &config, "from disk");
}

/// Every row of `batches` as one line of text, sorted: a multiset of rows.
fn row_strings(batches: &[RecordBatch]) -> Vec<String> {
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

/// A manifest with the sizes of its provisional segments left out.
fn without_provisional_sizes(manifest: &[u8]) -> serde_json::Value {
    let mut manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    for segment in manifest["provisional_segments"].as_array_mut().unwrap() {
        segment.as_object_mut().unwrap().remove("bytes");
    }
    manifest
}

/// Every file under `root` but the lock files: relative path → bytes.
fn contents_under(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.file_name().is_some_and(|name| name != "LOCK") {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Feeds `events` to partition 0 of a fresh aggregator under `root` in batches of 50,
/// checkpointing every 10 batches and at the end; checks the live source after some
/// batches. Returns the number of batches after which the view changed, and of
/// checkpoints.
fn ingest(
    events: &[Event<'static>],
    config: &FoldConfig,
    tail_every: Duration,
    root: &Path,
) -> (usize, usize) {
    let settings = AggregatorSettings {
        tail_every,
        // Final rows between tails, not only at checkpoints.
        advance_every_events: 64,
        compact_every_checkpoints: 3,
        compaction: CompactionPolicy {
            min_files: 3,
            max_rows_per_file: 4_000,
        },
        ..AggregatorSettings::default()
    };
    let aggregator = Aggregator::with_settings(
        DataDir::open(root).unwrap(),
        Arc::new(config.clone()),
        settings,
    );
    let view = aggregator.live();
    let source = LiveSource::new(root.to_path_buf(), Arc::clone(&view));
    let mut tenants: Vec<String> = events.iter().map(|e| e.tenant_id.to_string()).collect();
    tenants.sort();
    tenants.dedup();
    let mut changes = view.subscribe();
    let (mut publications, mut checkpoints) = (0, 0);
    let Opened { mut worker, .. } = aggregator.open("ccpulse.events", 0).unwrap();
    for (n, chunk) in events.chunks(50).enumerate() {
        for (i, event) in chunk.iter().enumerate() {
            let offset = (n * 50 + i) as i64;
            worker.on_event(event, event.to_json().as_bytes(), offset, event.occurred_at);
        }
        worker.end_batch();
        let read = n * 50 + chunk.len();
        if (n + 1) % 10 == 0 || read == events.len() {
            worker.checkpoint(read as i64).unwrap();
            checkpoints += 1;
        }
        if changes.has_changed().unwrap() {
            changes.mark_unchanged();
            publications += 1;
        }
        if tail_every.is_zero() && n % 37 == 5 {
            assert_source_is_reference(
                &source,
                &events[..read],
                &tenants,
                config,
                &format!("after {read} events"),
            );
        }
    }
    (publications, checkpoints)
}

#[test]
fn checkpoints_write_the_same_bytes_with_or_without_tails() {
    let (events, config) = simulated(22, 8, 2 * 3_600_000, 2);
    let with_tails = tempfile::tempdir().unwrap();
    let without = tempfile::tempdir().unwrap();
    let batches = events.len().div_ceil(50);
    let (published, checkpoints) = ingest(&events, &config, Duration::ZERO, with_tails.path());
    ingest(&events, &config, Duration::MAX, without.path());
    // With tails every batch publishes one.
    assert!(
        published == batches,
        "{published} publications for {batches} batches"
    );

    let (a, b) = (
        contents_under(with_tails.path()),
        contents_under(without.path()),
    );
    let names = |files: &BTreeMap<PathBuf, Vec<u8>>| files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "the same files");
    let manifest = Path::new("_checkpoints/ccpulse.events/p0/manifest.json");
    let (manifest_a, manifest_b) = (
        without_provisional_sizes(&a[manifest]),
        without_provisional_sizes(&b[manifest]),
    );
    let sequence = manifest_a["sequence"].as_u64().unwrap();
    assert!(
        sequence > checkpoints as u64,
        "{checkpoints} checkpoints, and compactions up to sequence {sequence}"
    );
    // Provisional rows come out in hash-map order, different in every fold: those files
    // (and their sizes in the manifest) are compared by rows; everything else by bytes.
    assert_eq!(manifest_a, manifest_b);
    let provisional = |path: &Path| path.to_string_lossy().contains("-prov-");
    for path in a.keys().filter(|path| provisional(path)) {
        let rows = |root: &Path| row_strings(&read_parquet(&root.join(path)));
        assert!(
            rows(with_tails.path()) == rows(without.path()),
            "{}",
            path.display()
        );
    }
    let differ: Vec<&PathBuf> = a
        .keys()
        .filter(|path| !provisional(path) && path.as_path() != manifest)
        .filter(|path| a[*path] != b[*path])
        .collect();
    assert!(
        differ.is_empty(),
        "{} files differ: {differ:?}",
        differ.len()
    );
}
