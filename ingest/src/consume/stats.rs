//! Progress of a run: [`RunStats`] (live, shared with the caller), its
//! [`StatsSnapshot`], and the [`RunSummary`] returned at the end.
//!
//! Counters are per partition and written by one thread each (the partition's worker,
//! or the poll thread for end offsets), so the hot path touches only uncontended
//! atomics; a snapshot sums them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ccpulse_schemas::v1::{EventType, KnownEventType};

use super::dead_letter::{DEAD_LETTER_KINDS, DeadLetterKind};

/// Label of events whose `type` the contract does not know (valid, kept, counted here).
pub const UNKNOWN_EVENT_TYPE: &str = "unknown";

const EVENT_TYPE_SLOTS: usize = KnownEventType::ALL.len() + 1;

/// "Not known yet" in the offset atomics.
const UNKNOWN: i64 = -1;

/// Live counters of a run, shared between the runtime and whoever draws progress.
///
/// Create one with [`RunStats::new`], pass it to [`crate::consume::run`] and call
/// [`RunStats::snapshot`] as often as you like (it locks briefly, never blocks the
/// hot path).
#[derive(Debug, Default)]
pub struct RunStats {
    /// Per partition, created on first assignment and kept for the whole run. Std mutex:
    /// held only to look up or insert, never across I/O.
    partitions: Mutex<BTreeMap<i32, Arc<PartitionStats>>>,
    checkpoints: AtomicU64,
    commits: AtomicU64,
    commit_failures: AtomicU64,
    rebalances: AtomicU64,
}

/// One partition's counters.
#[derive(Debug)]
pub(crate) struct PartitionStats {
    consumed: AtomicU64,
    events_by_type: [AtomicU64; EVENT_TYPE_SLOTS],
    dead_letters_by_kind: [AtomicU64; DEAD_LETTER_KINDS],
    /// Next offset to process (one past the last processed), or [`UNKNOWN`].
    position: AtomicI64,
    /// Best known end of the partition (see [`PartitionSnapshot::end_offset`]).
    end_offset: AtomicI64,
    /// `next_offset` of the last successful checkpoint in this run.
    checkpointed: AtomicI64,
    assigned: AtomicBool,
}

impl Default for PartitionStats {
    fn default() -> Self {
        Self {
            consumed: AtomicU64::new(0),
            events_by_type: std::array::from_fn(|_| AtomicU64::new(0)),
            dead_letters_by_kind: std::array::from_fn(|_| AtomicU64::new(0)),
            position: AtomicI64::new(UNKNOWN),
            end_offset: AtomicI64::new(UNKNOWN),
            checkpointed: AtomicI64::new(UNKNOWN),
            assigned: AtomicBool::new(false),
        }
    }
}

impl PartitionStats {
    pub(crate) fn count_event(&self, event_type: &EventType<'_>, offset: i64) {
        let slot = match event_type {
            EventType::Known(known) => *known as usize,
            EventType::Unknown(_) => KnownEventType::ALL.len(),
        };
        self.events_by_type[slot].fetch_add(1, Ordering::Relaxed);
        self.processed(offset);
    }

    pub(crate) fn count_dead_letter(&self, kind: DeadLetterKind, offset: i64) {
        self.dead_letters_by_kind[kind.index()].fetch_add(1, Ordering::Relaxed);
        self.processed(offset);
    }

    fn processed(&self, offset: i64) {
        self.consumed.fetch_add(1, Ordering::Relaxed);
        self.position.store(offset + 1, Ordering::Relaxed);
    }

    /// Where the worker starts: its resume offset, when known.
    pub(crate) fn set_position(&self, next_offset: Option<i64>) {
        self.position
            .store(next_offset.unwrap_or(UNKNOWN), Ordering::Relaxed);
    }

    /// Raises the known end (ends only grow; a lower report is stale).
    pub(crate) fn raise_end_offset(&self, end: i64) {
        self.end_offset.fetch_max(end, Ordering::Relaxed);
    }

    pub(crate) fn set_checkpointed(&self, next_offset: i64) {
        self.checkpointed.store(next_offset, Ordering::Relaxed);
    }

    pub(crate) fn set_assigned(&self, assigned: bool) {
        self.assigned.store(assigned, Ordering::Relaxed);
    }

    fn snapshot(&self) -> PartitionSnapshot {
        let known = |value: i64| (value >= 0).then_some(value);
        let position = known(self.position.load(Ordering::Relaxed));
        let end_offset = known(self.end_offset.load(Ordering::Relaxed));
        let assigned = self.assigned.load(Ordering::Relaxed);
        let events: u64 = self
            .events_by_type
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .sum();
        let dead_lettered: u64 = self
            .dead_letters_by_kind
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .sum();
        let lag = match (assigned, position, end_offset) {
            (true, Some(position), Some(end)) => Some((end - position).max(0) as u64),
            _ => None,
        };
        PartitionSnapshot {
            consumed: self.consumed.load(Ordering::Relaxed),
            events,
            dead_lettered,
            position,
            end_offset,
            lag,
            checkpointed: known(self.checkpointed.load(Ordering::Relaxed)),
            assigned,
        }
    }
}

impl RunStats {
    /// Empty counters, shareable.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The counters of `partition`, created on first use.
    pub(crate) fn partition(&self, partition: i32) -> Arc<PartitionStats> {
        let mut partitions = self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(partitions.entry(partition).or_default())
    }

    pub(crate) fn count_checkpoint(&self) {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_commit(&self, ok: bool) {
        if ok {
            self.commits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.commit_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_rebalance(&self) {
        self.rebalances.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough view of every counter (each counter is read once; counters
    /// of different partitions may be a few messages apart in time).
    pub fn snapshot(&self) -> StatsSnapshot {
        let partitions: Vec<(i32, Arc<PartitionStats>)> = self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(&partition, stats)| (partition, Arc::clone(stats)))
            .collect();
        let mut snapshot = StatsSnapshot {
            checkpoints: self.checkpoints.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            commit_failures: self.commit_failures.load(Ordering::Relaxed),
            rebalances: self.rebalances.load(Ordering::Relaxed),
            ..StatsSnapshot::default()
        };
        for (partition, stats) in partitions {
            for (slot, count) in stats.events_by_type.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let name = KnownEventType::ALL
                        .get(slot)
                        .map_or(UNKNOWN_EVENT_TYPE, |known| known.as_str());
                    *snapshot.events_by_type.entry(name).or_default() += count;
                }
            }
            for (slot, count) in stats.dead_letters_by_kind.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let kind = DeadLetterKind::from_index(slot).as_str();
                    *snapshot.dead_letters_by_kind.entry(kind).or_default() += count;
                }
            }
            let partition_snapshot = stats.snapshot();
            snapshot.consumed += partition_snapshot.consumed;
            snapshot.events += partition_snapshot.events;
            snapshot.dead_lettered += partition_snapshot.dead_lettered;
            if let Some(lag) = partition_snapshot.lag {
                *snapshot.lag.get_or_insert(0) += lag;
            }
            snapshot.partitions.insert(partition, partition_snapshot);
        }
        snapshot
    }
}

/// Counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Per partition of the topic: every partition gets its start-up end offset; the
    /// counts are those of the partitions this member owned during the run.
    pub partitions: BTreeMap<i32, PartitionSnapshot>,
    /// Messages processed: valid events plus dead letters.
    pub consumed: u64,
    /// Valid events handed to workers.
    pub events: u64,
    /// Valid events by `type`; unknown types are counted under [`UNKNOWN_EVENT_TYPE`].
    /// Only types seen appear.
    pub events_by_type: BTreeMap<&'static str, u64>,
    /// Messages sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// Dead letters by [`DeadLetterKind::as_str`]. Only kinds seen appear.
    pub dead_letters_by_kind: BTreeMap<&'static str, u64>,
    /// Sum of the lag of the assigned partitions whose lag is known; `None` when none is.
    pub lag: Option<u64>,
    /// Successful worker checkpoints.
    pub checkpoints: u64,
    /// Successful offset commits to Kafka (one commit may cover several partitions).
    pub commits: u64,
    /// Failed offset commits. Not fatal: the checkpoint is the source of truth and the
    /// next commit covers the offsets (see the module docs of [`crate::consume`]).
    pub commit_failures: u64,
    /// Rebalance callbacks (assignments and revocations) this member went through.
    pub rebalances: u64,
}

impl StatsSnapshot {
    /// Dead letters of one kind (0 when none).
    pub fn dead_letters(&self, kind: DeadLetterKind) -> u64 {
        self.dead_letters_by_kind
            .get(kind.as_str())
            .copied()
            .unwrap_or(0)
    }

    /// Valid events of one `type` name (0 when none).
    pub fn events_of_type(&self, name: &str) -> u64 {
        self.events_by_type.get(name).copied().unwrap_or(0)
    }
}

/// One partition's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionSnapshot {
    /// Messages processed (events plus dead letters) during the run.
    pub consumed: u64,
    /// Valid events.
    pub events: u64,
    /// Dead letters.
    pub dead_lettered: u64,
    /// One past the last processed offset (or the resume offset before the first
    /// message); `None` when the worker started at the beginning and has seen nothing.
    pub position: Option<i64>,
    /// The best known end of the partition: the high watermark at start-up, raised by
    /// every fetch response's high watermark (librdkafka statistics). On tansu 0.6.0
    /// the start-up value is too low (see the module docs); fetch responses are right.
    pub end_offset: Option<i64>,
    /// `end_offset - position` (at least 0) while the partition is assigned and both
    /// are known.
    pub lag: Option<u64>,
    /// `next_offset` of the last successful checkpoint in this run.
    pub checkpointed: Option<i64>,
    /// Whether this member owns the partition now.
    pub assigned: bool,
}

/// Why [`crate::consume::run`] returned successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// [`super::RunMode::UntilCaughtUp`]: every assigned partition reached its end.
    CaughtUp,
    /// The cancellation token fired; every owned partition was checkpointed.
    Cancelled,
}

/// What a successful run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Why the run ended.
    pub outcome: RunOutcome,
    /// The counters at the end.
    pub stats: StatsSnapshot,
    /// Wall time from start to the end of the final checkpoints.
    pub elapsed: Duration,
}

#[cfg(test)]
mod tests {
    use ccpulse_schemas::v1::RejectKind;

    use super::*;

    #[test]
    fn snapshot_sums_partitions_and_labels_slots() {
        let stats = RunStats::new();
        let p0 = stats.partition(0);
        let p1 = stats.partition(1);
        p0.set_assigned(true);
        p0.raise_end_offset(10);
        p0.count_event(&EventType::Known(KnownEventType::InteractionQueued), 3);
        p0.count_event(&EventType::Unknown("x.y".into()), 4);
        p1.count_dead_letter(DeadLetterKind::EmptyPayload, 0);
        p1.count_dead_letter(DeadLetterKind::Rejected(RejectKind::BadTimestamp), 1);
        p1.count_event(
            &EventType::Known(*KnownEventType::ALL.last().expect("types")),
            2,
        );
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.consumed, 5);
        assert_eq!(snapshot.events, 3);
        assert_eq!(snapshot.dead_lettered, 2);
        assert_eq!(snapshot.events_of_type("interaction.queued"), 1);
        assert_eq!(snapshot.events_of_type(UNKNOWN_EVENT_TYPE), 1);
        assert_eq!(
            snapshot.events_of_type(KnownEventType::ALL.last().expect("types").as_str()),
            1
        );
        assert_eq!(snapshot.dead_letters(DeadLetterKind::EmptyPayload), 1);
        assert_eq!(
            snapshot.dead_letters(DeadLetterKind::Rejected(RejectKind::BadTimestamp)),
            1
        );
        let partition0 = snapshot.partitions[&0];
        assert_eq!(partition0.position, Some(5));
        assert_eq!(partition0.lag, Some(5));
        // Partition 1 is not assigned: its lag is not counted.
        assert_eq!(snapshot.partitions[&1].lag, None);
        assert_eq!(snapshot.lag, Some(5));
    }

    #[test]
    fn known_type_slots_follow_all() {
        for (index, known) in KnownEventType::ALL.iter().enumerate() {
            assert_eq!(*known as usize, index, "{known}");
        }
    }

    #[test]
    fn end_offsets_only_grow() {
        let stats = PartitionStats::default();
        stats.raise_end_offset(7);
        stats.raise_end_offset(3);
        assert_eq!(stats.snapshot().end_offset, Some(7));
    }
}
