//! The derived tables through the real store: the fold's `Tables` → record batches →
//! Parquet checkpoints (final and provisional segments) → `read_table` → `Tables` again,
//! for every fixture of `sample-data/fixtures/`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use ccpulse_ingest::fold::Fold;
use ccpulse_ingest::fold::reference::fold_all;
use ccpulse_ingest::fold::rows::Tables;
use ccpulse_ingest::store::{Commit, DataDir, TableSpec, read_table};
use ccpulse_ingest::tables::{self, DERIVED};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};

mod support;

use support::Fixture;

/// Every fixture.
fn fixtures() -> Vec<Fixture> {
    support::names()
        .iter()
        .map(|name| support::load(name))
        .collect()
}

fn schema_of(table: &str) -> SchemaRef {
    match table {
        "interactions" => tables::interactions_schema(),
        "agent_states" => tables::agent_states_schema(),
        "queue_intervals" => tables::queue_intervals_schema(),
        "agent_intervals" => tables::agent_intervals_schema(),
        "campaign_intervals" => tables::campaign_intervals_schema(),
        other => panic!("not a derived table: {other}"),
    }
}

/// Every derived table as the store shows it now, checking each file's schema; the
/// names of the tables that had rows.
fn read_store(root: &Path, name: &str) -> (Tables, BTreeSet<&'static str>) {
    let mut read: Vec<(&str, RecordBatch)> = Vec::new();
    let mut present = BTreeSet::new();
    for spec in DERIVED {
        for batch in read_table(root, spec.name).unwrap() {
            let schema = batch.schema();
            assert_eq!(
                schema.fields(),
                schema_of(spec.name).fields(),
                "{name}: schema of {} read back from Parquet",
                spec.name
            );
            assert_eq!(
                schema
                    .field_with_name(spec.time_column)
                    .unwrap()
                    .data_type(),
                &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                "{name}: {}.{}",
                spec.name,
                spec.time_column
            );
            present.insert(spec.name);
            read.push((spec.name, batch));
        }
    }
    let tables = tables::from_batches(read.iter().map(|(table, batch)| (*table, batch)))
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    (tables, present)
}

fn sorted(mut tables: Tables) -> Tables {
    tables.anomalies.clear();
    tables.sort();
    tables
}

/// `batch` cut in two at half its rows.
fn halves(batch: &RecordBatch) -> (RecordBatch, RecordBatch) {
    let half = batch.num_rows() / 2;
    (
        batch.slice(0, half),
        batch.slice(half, batch.num_rows() - half),
    )
}

#[test]
fn reference_tables_survive_final_and_provisional_segments() {
    let mut covered = BTreeSet::new();
    for fixture in fixtures() {
        let folded = fold_all(&fixture.events, &fixture.config);
        let batches = tables::to_batches(&folded).unwrap();
        let mut first_halves: Vec<(&TableSpec, RecordBatch)> = Vec::new();
        let mut second_halves: Vec<(&TableSpec, RecordBatch)> = Vec::new();
        for (spec, batch) in &batches {
            let (first, second) = halves(batch);
            first_halves.push((spec, first));
            second_halves.push((spec, second));
        }

        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let mut store = data.partition("t", 0);
        assert!(store.load().unwrap().is_none());
        // Checkpoint 1: the first halves final, everything provisional (superseded next).
        store
            .commit(Commit {
                next_offset: 1,
                state: b"1",
                final_batches: &first_halves,
                provisional_batches: &batches,
            })
            .unwrap();
        // Checkpoint 2: nothing new is final; the tail is the second halves.
        store
            .commit(Commit {
                next_offset: 2,
                state: b"2",
                final_batches: &[],
                provisional_batches: &second_halves,
            })
            .unwrap();

        let (read, present) = read_store(data.root(), &fixture.name);
        assert_eq!(
            present,
            batches.iter().map(|(spec, _)| spec.name).collect(),
            "{}",
            fixture.name
        );
        assert_eq!(sorted(read), sorted(folded), "{}", fixture.name);
        covered.extend(present);
    }
    assert_eq!(
        covered,
        DERIVED.iter().map(|spec| spec.name).collect(),
        "the fixtures exercise every derived table"
    );
}

#[test]
fn incremental_checkpoints_add_up_to_the_fold() {
    for fixture in fixtures() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let mut store = data.partition("t", 0);
        store.load().unwrap();

        // A checkpoint every three events: the final deltas since the last one, and the
        // current provisional tail. Interval keys recur across checkpoints.
        let mut fold = Fold::new(Arc::new(fixture.config.clone()));
        let mut in_memory = Tables::default();
        let mut offset = 0;
        for chunk in fixture.events.chunks(3) {
            for event in chunk {
                fold.apply(event);
                offset += 1;
            }
            fold.advance();
            let final_rows = fold.take_final();
            let final_batches = tables::to_batches(&final_rows).unwrap();
            let provisional_batches = tables::to_batches(&fold.provisional()).unwrap();
            store
                .commit(Commit {
                    next_offset: offset,
                    state: &[],
                    final_batches: &final_batches,
                    provisional_batches: &provisional_batches,
                })
                .unwrap();
            in_memory.merge(final_rows);
        }
        in_memory.merge(fold.provisional());

        let (read, _) = read_store(data.root(), &fixture.name);
        let read = sorted(read);
        assert_eq!(read, sorted(in_memory), "{}", fixture.name);
        assert_eq!(
            read,
            sorted(fold_all(&fixture.events, &fixture.config)),
            "{}",
            fixture.name
        );
    }
}
