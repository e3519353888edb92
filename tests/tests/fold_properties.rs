//! The incremental fold against the reference fold on simulator traffic: in order,
//! shuffled within the allowed lateness and with duplicates injected, finalising at
//! random points, the tables (final rows plus the provisional tail) must be identical.

use std::sync::Arc;

use ccpulse_ingest::fold::reference::fold_all;
use ccpulse_ingest::fold::rows::Tables;
use ccpulse_ingest::fold::{Applied, Fold, FoldConfig};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::v1::Event;
use ccpulse_tests::Rng;

fn simulate(
    seed: u64,
    start_ms: i64,
    duration_ms: i64,
    tenants: u32,
) -> (Vec<Event<'static>>, FoldConfig) {
    let sim = Simulator::new(SimConfig {
        seed,
        start_ms,
        duration_ms,
        tenants,
        scale: 1.0,
    })
    .unwrap();
    let mut config = FoldConfig::default();
    for profile in sim.tenants() {
        let settings = TenantSettings {
            timezone: profile.timezone,
            ..TenantSettings::default()
        };
        config.tenants.insert(profile.tenant_id.clone(), settings);
    }
    (sim.collect(), config)
}

/// Arrival order: each event (and each injected duplicate) arrives at a random time
/// between its event time and its event time + the allowed lateness.
fn shuffle_within_lateness(
    events: &[Event<'static>],
    lateness_ms: i64,
    duplicate_per_mille: u64,
    rng: &mut Rng,
) -> (Vec<Event<'static>>, u64) {
    let mut keyed = Vec::with_capacity(events.len() * 11 / 10);
    let mut duplicates = 0;
    for (i, event) in events.iter().enumerate() {
        let delay = rng.below(lateness_ms as u64 + 1) as i64;
        keyed.push((event.occurred_at + delay, i));
        if rng.below(1000) < duplicate_per_mille {
            let delay = rng.below(lateness_ms as u64 + 1) as i64;
            keyed.push((event.occurred_at + delay, i));
            duplicates += 1;
        }
    }
    keyed.sort_unstable();
    let arrived = keyed.into_iter().map(|(_, i)| events[i].clone()).collect();
    (arrived, duplicates)
}

/// Folds `events` in the given order, finalising after random batch sizes.
fn fold(events: &[Event<'static>], config: &FoldConfig, rng: &mut Rng) -> (Tables, Fold) {
    fold_with(events, config, rng, false)
}

/// [`fold`], optionally checkpointing at every finalisation and continuing from the
/// restored state, as a restarted process would.
fn fold_with(
    events: &[Event<'static>],
    config: &FoldConfig,
    rng: &mut Rng,
    restore_each_time: bool,
) -> (Tables, Fold) {
    let config = Arc::new(config.clone());
    let mut fold = Fold::new(Arc::clone(&config));
    let mut tables = Tables::default();
    let mut until_advance = 1 + rng.below(2000);
    for event in events {
        let applied = fold.apply(event);
        assert_ne!(
            applied,
            Applied::TooLate,
            "arrival stayed within the lateness"
        );
        until_advance -= 1;
        if until_advance == 0 {
            fold.advance();
            if restore_each_time {
                let (rows, state) = fold.checkpoint();
                tables.merge(rows);
                let restored = Fold::restore(Arc::clone(&config), &state).unwrap();
                assert_eq!(restored.stats(), fold.stats());
                fold = restored;
                let (rows, again) = fold.checkpoint();
                assert!(rows.is_empty(), "a restored fold has no pending rows");
                assert!(state == again, "a restored fold saves the same bytes");
            } else {
                tables.merge(fold.take_final());
            }
            until_advance = 1 + rng.below(2000);
        }
    }
    fold.advance();
    tables.merge(fold.take_final());
    tables.merge(fold.provisional());
    tables.sort();
    (tables, fold)
}

fn first_difference(a: &Tables, b: &Tables) -> String {
    if a.interactions != b.interactions {
        let i = a
            .interactions
            .iter()
            .zip(&b.interactions)
            .position(|(x, y)| x != y)
            .unwrap_or(a.interactions.len().min(b.interactions.len()));
        return format!(
            "interactions differ ({} vs {} rows) at {i}: {:?} vs {:?}",
            a.interactions.len(),
            b.interactions.len(),
            a.interactions.get(i),
            b.interactions.get(i)
        );
    }
    if a.agent_states != b.agent_states {
        let i = a
            .agent_states
            .iter()
            .zip(&b.agent_states)
            .position(|(x, y)| x != y)
            .unwrap_or(a.agent_states.len().min(b.agent_states.len()));
        return format!(
            "agent_states differ ({} vs {} rows) at {i}: {:?} vs {:?}",
            a.agent_states.len(),
            b.agent_states.len(),
            a.agent_states.get(i),
            b.agent_states.get(i)
        );
    }
    for (key, value) in &a.queue_intervals {
        if b.queue_intervals.get(key) != Some(value) {
            return format!(
                "queue_intervals {key:?}: {value:?} vs {:?}",
                b.queue_intervals.get(key)
            );
        }
    }
    for (key, value) in &a.agent_intervals {
        if b.agent_intervals.get(key) != Some(value) {
            return format!(
                "agent_intervals {key:?}: {value:?} vs {:?}",
                b.agent_intervals.get(key)
            );
        }
    }
    format!(
        "sizes: queue {} vs {}, agent {} vs {}, campaign {} vs {}, anomalies {:?} vs {:?}",
        a.queue_intervals.len(),
        b.queue_intervals.len(),
        a.agent_intervals.len(),
        b.agent_intervals.len(),
        a.campaign_intervals.len(),
        b.campaign_intervals.len(),
        a.anomalies,
        b.anomalies
    )
}

fn assert_same(a: &Tables, b: &Tables, what: &str) {
    assert!(a == b, "{what}: {}", first_difference(a, b));
}

#[test]
fn incremental_fold_equals_reference_on_random_traffic() {
    // Busy afternoons (UTC) of several seeds: a few thousand events each.
    for seed in 1..=6u64 {
        let start = SimConfig::DEFAULT_START_MS + 13 * 3_600_000 + seed as i64 * 600_000;
        let (events, config) = simulate(seed, start, 90 * 60_000, 2);
        assert!(
            events.len() > 1000,
            "seed {seed}: only {} events",
            events.len()
        );
        let mut rng = Rng(seed);
        let (arrived, duplicates) =
            shuffle_within_lateness(&events, config.allowed_lateness_ms, 100, &mut rng);
        let (tables, fold) = fold(&arrived, &config, &mut rng);
        let reference = fold_all(&arrived, &config);
        assert_same(&tables, &reference, &format!("seed {seed}"));
        assert_eq!(fold.stats().duplicates, duplicates, "seed {seed}");
        assert_eq!(
            tables
                .anomalies
                .get("duplicate_event_id")
                .copied()
                .unwrap_or(0),
            duplicates
        );
        assert!(!tables.interactions.is_empty() && !tables.agent_states.is_empty());
    }
}

#[test]
fn a_day_in_order_shuffled_and_duplicated_gives_identical_tables() {
    // Two whole simulated days of two tenants: over 200k events.
    let (events, config) = simulate(42, SimConfig::DEFAULT_START_MS, 2 * 86_400_000, 2);
    assert!(events.len() >= 200_000, "only {} events", events.len());
    let mut rng = Rng(7);
    let (in_order, _) = fold(&events, &config, &mut rng);
    assert_same(
        &in_order,
        &fold_all(&events, &config),
        "in order vs reference",
    );
    let (arrived, duplicates) =
        shuffle_within_lateness(&events, config.allowed_lateness_ms, 100, &mut rng);
    assert!(duplicates > events.len() as u64 / 20);
    let (shuffled, fold_state) = fold(&arrived, &config, &mut rng);
    assert_eq!(fold_state.stats().duplicates, duplicates);

    // Identical tables except the duplicate counter, which only the second run has.
    let mut without_dups = shuffled.clone();
    without_dups.anomalies.remove("duplicate_event_id");
    assert_same(
        &in_order,
        &without_dups,
        "in order vs shuffled with duplicates",
    );

    // The day is long enough that most of it was finalised along the way, and every
    // interaction of the simulator shows up.
    let answered: u64 = in_order
        .queue_intervals
        .values()
        .map(|q| q.measures.answered)
        .sum();
    let rows_answered = in_order
        .interactions
        .iter()
        .filter(|r| r.answered_at.is_some())
        .count() as u64;
    assert_eq!(answered, rows_answered);
    assert!(answered > 10_000, "answered {answered}");
}

#[test]
fn saving_and_restoring_at_every_checkpoint_changes_nothing() {
    for seed in 11..=13u64 {
        let start = SimConfig::DEFAULT_START_MS + 9 * 3_600_000 + seed as i64 * 900_000;
        let (events, config) = simulate(seed, start, 3 * 3_600_000, 2);
        let mut rng = Rng(seed);
        let (arrived, duplicates) =
            shuffle_within_lateness(&events, config.allowed_lateness_ms, 100, &mut rng);
        let (tables, fold) = fold_with(&arrived, &config, &mut rng, true);
        assert_eq!(fold.stats().duplicates, duplicates, "seed {seed}");
        assert_same(
            &tables,
            &fold_all(&arrived, &config),
            &format!("seed {seed}"),
        );
    }
}

#[test]
fn a_state_of_another_version_or_garbage_is_refused_clearly() {
    let config = Arc::new(FoldConfig::default());
    let error = Fold::restore(Arc::clone(&config), br#"{"version":999}"#).unwrap_err();
    assert!(error.to_string().contains("version 999"), "{error}");
    let error = Fold::restore(config, b"not json").unwrap_err();
    assert!(error.to_string().contains("not readable"), "{error}");
}
