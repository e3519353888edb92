//! Two aggregators in one consumer group, against the real broker: they split the
//! partitions, and when one stops, its partitions move to the other, which resumes each
//! from the checkpoint the first wrote. Both run in this process on one data directory
//! (as two hosts sharing storage would): a partition is never open in both at once (its
//! store lock would refuse the second), every message is processed by exactly one of
//! them, and the tables at the end equal the reference fold of every event.
//!
//! The second member joins while traffic is being produced, so the first usually hands
//! partitions over mid-stream, at whatever offset it had reached. The events are
//! produced one per record batch because tansu 0.6.0 cannot serve a fetch that starts
//! inside a batch (see [`produce_one_per_batch`]).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccpulse_ingest::aggregate::{Aggregator, LiveView};
use ccpulse_ingest::consume::{ConsumerSettings, RunOutcome, StatsSnapshot};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::fold::reference::fold_all;
use ccpulse_ingest::store::DataDir;
use ccpulse_ingest::{RunStats, RunSummary};
use ccpulse_tests::aggregate::{
    Following, TestTopics, assert_events_exactly_once, assert_same_tables, produce_one_per_batch,
    read_tables, simulated, without_anomalies,
};
use ccpulse_tests::unique_name;

/// Upper bound for any one wait.
const DEADLINE: Duration = Duration::from_secs(120);

const PARTITIONS: usize = 4;

/// One member of the group: an [`Aggregator`] under `consume::run` in `Follow` mode.
struct Member {
    name: &'static str,
    stats: Arc<RunStats>,
    live: Arc<LiveView>,
    run: Following,
}

impl Member {
    fn start(
        name: &'static str,
        data_dir: &Path,
        config: &Arc<FoldConfig>,
        settings: &ConsumerSettings,
    ) -> Self {
        let aggregator = Arc::new(Aggregator::new(
            DataDir::open(data_dir).expect("data directory"),
            Arc::clone(config),
        ));
        let live = aggregator.live();
        let stats = RunStats::new();
        let run = Following::start(settings.clone(), aggregator, Arc::clone(&stats));
        Self {
            name,
            stats,
            live,
            run,
        }
    }

    /// Cancels the run and waits for its final checkpoints.
    async fn stop(self) -> (RunSummary, Arc<LiveView>) {
        let summary = self.run.stop().await;
        assert_eq!(
            summary.outcome,
            RunOutcome::Cancelled,
            "member {}",
            self.name
        );
        (summary, self.live)
    }
}

/// The partitions a member owns now.
fn owned(stats: &StatsSnapshot) -> BTreeSet<i32> {
    stats
        .partitions
        .iter()
        .filter(|(_, partition)| partition.assigned)
        .map(|(&partition, _)| partition)
        .collect()
}

/// Messages processed over the members: per partition the furthest position any of
/// them reached (offsets run from 0 in a fresh topic), summed.
fn processed(members: &[&StatsSnapshot]) -> u64 {
    (0..PARTITIONS as i32)
        .map(|partition| {
            members
                .iter()
                .filter_map(|stats| stats.partitions.get(&partition)?.position)
                .max()
                .unwrap_or(0) as u64
        })
        .sum()
}

/// Polls `condition` on the members' statistics until it holds; fails with `what` and
/// both snapshots at the deadline.
async fn wait_for(members: &[&Member], what: &str, condition: impl Fn(&[&StatsSnapshot]) -> bool) {
    let until = Instant::now() + DEADLINE;
    loop {
        let snapshots: Vec<StatsSnapshot> = members.iter().map(|m| m.stats.snapshot()).collect();
        let snapshots: Vec<&StatsSnapshot> = snapshots.iter().collect();
        if condition(&snapshots) {
            return;
        }
        for member in members {
            assert!(
                !member.run.is_finished(),
                "member {} stopped while waiting for {what}",
                member.name
            );
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}: {:#?}",
            members
                .iter()
                .zip(&snapshots)
                .map(|(member, stats)| (member.name, owned(stats), processed(&[stats])))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_the_partitions_and_hand_them_over() {
    // Eight tenants over four partitions (by tenant key: three of them get traffic).
    let (events, config) = simulated(12, 6, 4 * 3_600_000, 8);
    let config = Arc::new(config);
    let total = events.len() as u64;
    assert!(total >= 15_000, "only {total} events");
    let (first, rest) = events.split_at(events.len() * 3 / 5);
    let topics = TestTopics::create("aggregate-group", PARTITIONS as i32)
        .await
        .expect("topics");
    let settings = topics.consumer_settings(&unique_name("aggregate-group"));
    let data_dir = tempfile::tempdir().expect("data directory");

    // A owns every partition; B joins while the first part of the traffic arrives.
    let a = Member::start("a", data_dir.path(), &config, &settings);
    wait_for(&[&a], "A to own every partition", |s| {
        owned(s[0]).len() == PARTITIONS
    })
    .await;
    let b = Member::start("b", data_dir.path(), &config, &settings);
    produce_one_per_batch(&topics.events, first)
        .await
        .expect("producing the first part");
    // With the cooperative protocol B is first assigned nothing, then A's revoked
    // partitions once A has checkpointed them.
    wait_for(
        &[&a, &b],
        "A and B to split the partitions and process the first part",
        |s| {
            let (owned_a, owned_b) = (owned(s[0]), owned(s[1]));
            !owned_a.is_empty()
                && !owned_b.is_empty()
                && owned_a.is_disjoint(&owned_b)
                && owned_a.len() + owned_b.len() == PARTITIONS
                && processed(s) == first.len() as u64
        },
    )
    .await;
    let owned_by_a = owned(&a.stats.snapshot());

    // A leaves: B takes its partitions over from A's checkpoints and reads the rest.
    let (summary_a, live_a) = a.stop().await;
    produce_one_per_batch(&topics.events, rest)
        .await
        .expect("producing the rest");
    wait_for(
        &[&b],
        "B to own every partition and process everything",
        |s| owned(s[0]).len() == PARTITIONS && processed(s) == total,
    )
    .await;
    let (summary_b, live_b) = b.stop().await;

    // Each member owned partitions and processed events; B took A's over, resuming
    // those A had read from A's checkpoints.
    assert!(summary_a.stats.events > 0 && summary_b.stats.events > 0);
    let read_by = |summary: &RunSummary| -> BTreeSet<i32> {
        summary
            .stats
            .partitions
            .iter()
            .filter(|(_, partition)| partition.consumed > 0)
            .map(|(&partition, _)| partition)
            .collect()
    };
    let (read_by_a, read_by_b) = (read_by(&summary_a), read_by(&summary_b));
    assert!(
        !owned_by_a.is_disjoint(&read_by_a) && !owned_by_a.is_disjoint(&read_by_b),
        "no partition was read by A, then by B: A owned {owned_by_a:?}, A read \
         {read_by_a:?}, B read {read_by_b:?}"
    );
    let opened = |live: &LiveView| -> BTreeSet<i32> {
        live.partitions().iter().map(|p| p.partition).collect()
    };
    assert!(
        owned_by_a.is_subset(&opened(&live_b)),
        "B opened A's partitions {owned_by_a:?}: {:?}",
        opened(&live_b)
    );
    assert!(opened(&live_a).is_superset(&owned_by_a));
    assert!(live_a.partitions().iter().all(|p| !p.owned));
    assert!(live_b.partitions().iter().all(|p| !p.owned));
    // Every message was processed by exactly one member: hand-overs resumed exactly
    // where the previous owner's last checkpoint ended.
    assert_eq!(
        summary_a.stats.consumed + summary_b.stats.consumed,
        total,
        "A processed {}, B {}",
        summary_a.stats.consumed,
        summary_b.stats.consumed
    );
    eprintln!(
        "aggregate_group: {total} events; A owned {owned_by_a:?} after the split, read \
         {read_by_a:?} and processed {}; B processed {}",
        summary_a.stats.consumed, summary_b.stats.consumed,
    );

    assert_events_exactly_once(data_dir.path(), &events);
    let written = read_tables(data_dir.path()).expect("reading the tables");
    assert_same_tables(
        &written,
        &without_anomalies(fold_all(&events, &config)),
        "two members vs reference",
    );
}
