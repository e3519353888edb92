//! Compaction inside the aggregator, without a broker: the [`Aggregator`] pipeline driven
//! directly (`open`, `on_event`, `checkpoint`) over simulator traffic with a checkpoint
//! every few dozen events, once with compaction and once without. The tables read back
//! must be identical (and equal to the reference fold), and compaction must keep the
//! number of final files per (table, tenant, date) bounded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ccpulse_ingest::aggregate::{Aggregator, AggregatorSettings};
use ccpulse_ingest::consume::{Opened, PartitionWorker, Pipeline};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::fold::reference::fold_all;
use ccpulse_ingest::store::{CompactionPolicy, DataDir, read_table, visible_files};
use ccpulse_ingest::tables;
use ccpulse_schemas::v1::Event;
use ccpulse_tests::aggregate::{read_tables, simulated, without_anomalies};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;

const TOPIC: &str = "ccpulse.events";
/// Events between two checkpoints: small, so that final segments pile up fast.
const CHECKPOINT_EVERY: usize = 40;

/// (table, tenant, date) → (final files, rows in them).
type Groups = BTreeMap<(String, String, String), (usize, u64)>;

/// The final files of every group, as the manifest lists them.
fn final_files_per_group(root: &Path) -> Groups {
    let mut groups = Groups::new();
    for spec in tables::ALL {
        for file in visible_files(root, spec.name).unwrap() {
            if !file.provisional {
                let date = file
                    .date
                    .map_or_else(|| "unknown".to_owned(), |d| d.to_string());
                let group = groups
                    .entry((file.table.clone(), file.tenant_id.clone(), date))
                    .or_default();
                group.0 += 1;
                group.1 += file.rows;
            }
        }
    }
    groups
}

/// Every final Parquet file under `root` (listed by directory, not by manifest: what a
/// compaction leaves on disk must be exactly what the manifest names).
fn parquet_files_on_disk(root: &Path) -> usize {
    let mut count = 0;
    for spec in tables::ALL {
        let table = root.join(spec.name);
        if !table.is_dir() {
            continue;
        }
        for tenant in std::fs::read_dir(&table).unwrap() {
            for date in std::fs::read_dir(tenant.unwrap().path()).unwrap() {
                for file in std::fs::read_dir(date.unwrap().path()).unwrap() {
                    let name = file.unwrap().file_name().to_string_lossy().into_owned();
                    if name.contains("-final-") && name.ends_with(".parquet") {
                        count += 1;
                    }
                }
            }
        }
    }
    count
}

/// Feeds `events` to partition 0 of a fresh aggregator under `root`, checkpointing every
/// [`CHECKPOINT_EVERY`] events and at the end, then reopens the partition as a restart
/// would. Returns the number of checkpoints and the most final files any (table, tenant,
/// date) had (looked at every 25 checkpoints and at the end).
fn ingest(
    events: &[Event<'static>],
    config: &FoldConfig,
    settings: AggregatorSettings,
    root: &Path,
) -> (usize, usize) {
    let aggregator = Aggregator::with_settings(
        DataDir::open(root).unwrap(),
        Arc::new(config.clone()),
        settings,
    );
    let Opened {
        mut worker,
        resume_at,
    } = aggregator.open(TOPIC, 0).unwrap();
    assert_eq!(resume_at, None);
    let (mut checkpoints, mut most_files) = (0, 0);
    for (i, event) in events.iter().enumerate() {
        let offset = i as i64;
        worker.on_event(event, event.to_json().as_bytes(), offset, event.occurred_at);
        let last = i + 1 == events.len();
        if (i + 1) % CHECKPOINT_EVERY == 0 || last {
            worker.end_batch();
            worker.checkpoint(offset + 1).unwrap();
            checkpoints += 1;
            if checkpoints % 25 == 0 || last {
                let groups = final_files_per_group(root);
                let most = groups.values().map(|(files, _)| *files).max().unwrap_or(0);
                most_files = most_files.max(most);
            }
        }
    }
    drop(worker);
    let reopened = aggregator.open(TOPIC, 0).unwrap();
    assert_eq!(reopened.resume_at, Some(events.len() as i64));
    (checkpoints, most_files)
}

#[test]
fn compaction_bounds_the_files_and_keeps_every_table_row() {
    // Two tenants over three business hours: nearly 10k events, about 240 checkpoints.
    let (events, config) = simulated(11, 8, 3 * 3_600_000, 2);

    let policy = CompactionPolicy {
        min_files: 4,
        max_rows_per_file: 2_000,
    };
    let every = 4;
    let compacted = tempfile::tempdir().unwrap();
    let (checkpoints, most_compacted) = ingest(
        &events,
        &config,
        AggregatorSettings {
            compact_every_checkpoints: every,
            compaction: policy.clone(),
            ..AggregatorSettings::default()
        },
        compacted.path(),
    );
    let plain = tempfile::tempdir().unwrap();
    let (_, most_plain) = ingest(
        &events,
        &config,
        AggregatorSettings {
            compact_every_checkpoints: 0,
            ..AggregatorSettings::default()
        },
        plain.path(),
    );
    assert!(checkpoints >= 200, "only {checkpoints} checkpoints");

    // The tables are the same with and without compaction, and the reference fold's.
    let reference = without_anomalies(fold_all(&events, &config));
    let read_compacted = read_tables(compacted.path()).unwrap();
    assert!(read_compacted == read_tables(plain.path()).unwrap());
    assert!(
        read_compacted == reference,
        "compacted tables differ from the reference"
    );
    // The raw events too: every offset once, with its payload.
    let mut raw: Vec<(i64, String)> = Vec::new();
    for batch in read_table(compacted.path(), tables::EVENTS.name).unwrap() {
        let offsets = batch
            .column_by_name("offset")
            .unwrap()
            .as_primitive::<Int64Type>();
        let payloads = batch.column_by_name("raw").unwrap().as_string::<i32>();
        raw.extend((0..batch.num_rows()).map(|i| (offsets.value(i), payloads.value(i).to_owned())));
    }
    raw.sort();
    let sent: Vec<(i64, String)> = events
        .iter()
        .enumerate()
        .map(|(offset, event)| (offset as i64, event.to_json()))
        .collect();
    assert!(
        raw == sent,
        "the events table lost, doubled or changed rows"
    );

    // Without compaction a busy group has a file per checkpoint. With it, a group keeps
    // at most `min_files - 1 + every` files per size tier (tiers 0 to 4 hold 1 to 1 023
    // rows), plus the files too large to pair up (over half of `max_rows_per_file`).
    let plain_files = final_files_per_group(plain.path());
    let compacted_files = final_files_per_group(compacted.path());
    let total = |groups: &Groups| groups.values().map(|(files, _)| files).sum::<usize>();
    assert!(
        most_plain >= checkpoints / 2,
        "{most_plain} files per group"
    );
    for (group, &(files, rows)) in &compacted_files {
        let bound =
            5 * (policy.min_files - 1 + every) + (2 * rows / policy.max_rows_per_file) as usize + 1;
        assert!(files <= bound, "{group:?}: {files} files for {rows} rows");
    }
    assert!(
        most_compacted * 5 < most_plain,
        "{most_compacted} vs {most_plain} files per group"
    );
    assert!(
        total(&compacted_files) * 5 < total(&plain_files),
        "{} final files with compaction, {} without",
        total(&compacted_files),
        total(&plain_files)
    );
    // Nothing but what the manifest names is left on disk.
    assert_eq!(
        parquet_files_on_disk(compacted.path()),
        total(&compacted_files)
    );
    assert_eq!(parquet_files_on_disk(plain.path()), total(&plain_files));
}

#[test]
fn a_failed_compaction_is_retried_later_and_ingest_goes_on() {
    // One tenant: each checkpoint of 40 events adds one `events` segment of 40 rows.
    let (events, config) = simulated(11, 8, 3 * 3_600_000, 1);
    assert!(
        events.len() >= 8 * CHECKPOINT_EVERY,
        "{} events",
        events.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let aggregator = Aggregator::with_settings(
        DataDir::open(root).unwrap(),
        Arc::new(config.clone()),
        AggregatorSettings {
            compact_every_checkpoints: 2,
            compaction: CompactionPolicy {
                min_files: 2,
                ..CompactionPolicy::default()
            },
            ..AggregatorSettings::default()
        },
    );
    let mut worker = aggregator.open(TOPIC, 0).unwrap().worker;
    let newest_events_segment = || {
        visible_files(root, tables::EVENTS.name)
            .unwrap()
            .into_iter()
            .filter(|file| !file.provisional)
            .max_by(|a, b| a.path.cmp(&b.path))
            .unwrap()
    };
    let mut fed = 0;
    let mut checkpoint = |worker: &mut ccpulse_ingest::aggregate::AggregateWorker| {
        for event in &events[fed..fed + CHECKPOINT_EVERY] {
            worker.on_event(
                event,
                event.to_json().as_bytes(),
                fed as i64,
                event.occurred_at,
            );
            fed += 1;
        }
        worker.checkpoint(fed as i64)
    };

    // Checkpoints 1 and 2 (a compaction), then 3 adds a segment that the compaction at
    // checkpoint 4 will want to merge: it is not Parquet by then.
    for _ in 0..3 {
        checkpoint(&mut worker).unwrap();
    }
    let names = |files: Vec<ccpulse_ingest::VisibleFile>| -> Vec<std::path::PathBuf> {
        files.into_iter().map(|file| file.path).collect()
    };
    let damaged = newest_events_segment();
    assert_eq!(damaged.rows, CHECKPOINT_EVERY as u64);
    let before = names(visible_files(root, tables::EVENTS.name).unwrap());
    let original = std::fs::read(&damaged.path).unwrap();
    std::fs::write(&damaged.path, b"not parquet").unwrap();
    checkpoint(&mut worker).expect("a failed compaction does not fail the checkpoint");
    // Intact, the damaged segment and checkpoint 4's (40 rows each, the same size tier)
    // would have been merged; the failed compaction changed nothing.
    let after_failure = names(visible_files(root, tables::EVENTS.name).unwrap());
    assert_eq!(after_failure.len(), before.len() + 1, "{after_failure:?}");
    assert!(before.iter().all(|path| after_failure.contains(path)));

    // Ingest goes on; repaired, the segment is merged at the next try.
    std::fs::write(&damaged.path, &original).unwrap();
    checkpoint(&mut worker).unwrap();
    assert!(names(visible_files(root, tables::EVENTS.name).unwrap()).contains(&damaged.path));
    checkpoint(&mut worker).unwrap();
    assert!(
        !names(visible_files(root, tables::EVENTS.name).unwrap()).contains(&damaged.path),
        "the repaired segment was not merged"
    );
    assert!(!damaged.path.exists(), "a merged input is deleted");

    drop(worker);
    let reopened = aggregator.open(TOPIC, 0).unwrap();
    assert_eq!(reopened.resume_at, Some(fed as i64));
    let reference = without_anomalies(fold_all(&events[..fed], &config));
    assert!(read_tables(root).unwrap() == reference);
    let offsets: usize = read_table(root, tables::EVENTS.name)
        .unwrap()
        .iter()
        .map(|batch| batch.num_rows())
        .sum();
    assert_eq!(offsets, fed);
}
