//! The in-process fold alone (issue 7, point 1: "the in-process fold alone (criterion),
//! in events/s per core"), and the stages around it in `ccpulse ingest`, so that a slow
//! ingest can be traced to one of them:
//!
//! - `fold/apply`: [`Fold::apply`] of one simulated day (8 tenants), advancing every
//!   32,768 events as the aggregator does; one thread, so events/s is per core;
//! - `decode/json`: [`decode`] of the same events' JSON (validation included);
//! - `tables/to_batches`: the Arrow conversion of the rows the fold made final, as a
//!   checkpoint does before writing Parquet.
//!
//! Run with `cargo bench --bench fold` (`scripts/bench.sh` does); `ccpulse-bench fold`
//! turns criterion's estimates into the `BENCHMARKS.md` section.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use ccpulse_ingest::aggregate::AggregatorSettings;
use ccpulse_ingest::fold::{Fold, FoldConfig};
use ccpulse_ingest::tables;
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use ccpulse_schemas::v1::{Event, decode};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// Events per measured iteration: enough for every kind of event and a realistic
/// amount of open work, few enough for criterion to take its samples in seconds.
const EVENTS: usize = 200_000;

fn events() -> Vec<Event<'static>> {
    let sim = SimConfig {
        seed: 11,
        tenants: 8,
        scale: 1.0,
        ..SimConfig::default()
    };
    let events: Vec<Event<'static>> = Simulator::new(sim)
        .expect("a valid simulator configuration")
        .take(EVENTS)
        .collect();
    assert_eq!(events.len(), EVENTS, "the simulated day has fewer events");
    events
}

fn fold_all(events: &[Event<'_>], config: &Arc<FoldConfig>) -> Fold {
    // As the aggregator does by default.
    let advance_every = AggregatorSettings::default().advance_every_events;
    let mut fold = Fold::new(Arc::clone(config));
    for (i, event) in events.iter().enumerate() {
        black_box(fold.apply(event));
        if (i + 1) % advance_every == 0 {
            fold.advance();
        }
    }
    // As the next checkpoint would: `apply` defers derivation to the next read, so the
    // events since the last advance are only derived here.
    fold.advance();
    fold
}

fn benches(c: &mut Criterion) {
    let events = events();
    let config = Arc::new(FoldConfig::default());

    let mut group = c.benchmark_group("fold");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("apply", |b| {
        b.iter(|| black_box(fold_all(&events, &config)));
    });
    group.finish();

    let json: Vec<String> = events.iter().map(Event::to_json).collect();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("json", |b| {
        b.iter(|| {
            for line in &json {
                black_box(decode(line.as_bytes()).expect("the simulator's events are valid"));
            }
        });
    });
    group.finish();

    let mut group = c.benchmark_group("tables");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("to_batches", |b| {
        b.iter_batched(
            || {
                let mut fold = fold_all(&events, &config);
                fold.advance();
                fold.checkpoint().0
            },
            |rows| black_box(tables::to_batches(&rows).expect("the fold's rows convert")),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(fold, benches);
criterion_main!(fold);
