//! [`LiveView`]: the live observations of every partition this process owns, shared
//! between the partition workers (which publish) and the API (which reads and waits for
//! changes).
//!
//! Each worker publishes a snapshot of its fold (`queue_live`, `agent_live`, counters)
//! at most every `publish_every` and at each checkpoint; readers get the union over the
//! partitions. A tenant's events all go to one partition (the message key is the
//! tenant), so rows of different partitions never overlap. A revoked partition's rows
//! are dropped at once (its new owner publishes them); its counters stay, for the run's
//! summary.
//!
//! Each worker also publishes its partition's [`PartitionTail`] (final files plus every
//! other row in memory, see `aggregate/tail.rs`) at most every `tail_every`, after every
//! checkpoint and compaction: one `Arc` replaced under the lock, so a reader
//! ([`LiveView::tails`]) gets a tail's files and batches as one consistent pair, never
//! the files of one publication with the batches of another. A revoked partition's tail
//! is dropped with its rows; readers then read the partition's files from disk until its
//! new owner publishes a tail.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::tail::PartitionTail;
use crate::fold::live::{AgentLive, QueueLive};
use crate::fold::{Fold, FoldStats};

/// The shared live observations (see the module docs).
#[derive(Debug)]
pub struct LiveView {
    /// Std mutex: held only to swap values in or clone them out, never across I/O or an
    /// `.await`.
    partitions: Mutex<BTreeMap<(String, i32), Entry>>,
    /// Incremented at every publication (live observations or tail).
    changes: watch::Sender<u64>,
}

impl Default for LiveView {
    fn default() -> Self {
        Self {
            partitions: Mutex::default(),
            changes: watch::Sender::new(0),
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    owned: bool,
    checkpoint_sequence: Option<u64>,
    as_of: BTreeMap<String, i64>,
    queues: Vec<QueueLive>,
    agents: Vec<AgentLive>,
    stats: FoldStats,
    anomalies: BTreeMap<String, u64>,
    /// The latest tail; `None` when revoked, or not published (yet).
    tail: Option<Arc<PartitionTail>>,
}

/// A partition as the live view knows it (for readiness and monitoring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: i32,
    /// Whether this process owns it now (false after a revocation).
    pub owned: bool,
    /// The sequence number of its store's manifest at the latest publication (`None`: no
    /// checkpoint yet). It grows by one per checkpoint and per compaction.
    pub checkpoint_sequence: Option<u64>,
    /// Latest event time per tenant (UTC ms).
    pub as_of: BTreeMap<String, i64>,
}

/// Counters summed over every partition this process has opened, over each
/// partition's whole history (they are restored with its checkpoint).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Events folded, by type.
    pub events_by_type: BTreeMap<String, u64>,
    /// Events ignored as duplicates of an earlier `event_id`.
    pub duplicates: u64,
    /// Events older than their tenant's horizon (kept in `events`, not folded).
    pub too_late: u64,
    /// Anomalies (metrics.md's inconsistent-input rules) as of each partition's latest
    /// checkpoint.
    pub anomalies: BTreeMap<String, u64>,
}

impl LiveView {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, i32), Entry>> {
        // A publisher that panicked left whole values behind: the data stays usable.
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A receiver whose value changes at every publication (for WebSocket pushes).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Wakes the subscribers without a publication: something they show beside the
    /// live rows changed (queue settings saved through the API).
    pub fn notify(&self) {
        self.changes.send_modify(|version| *version += 1);
    }

    /// Replaces a partition's snapshot with `fold`'s. `anomalies_tail`: the provisional
    /// tail's anomaly counts when a checkpoint just computed them (else the previous
    /// anomaly counts stay).
    pub(crate) fn publish(
        &self,
        topic: &str,
        partition: i32,
        fold: &mut Fold,
        anomalies_tail: Option<&BTreeMap<String, u64>>,
        checkpoint_sequence: Option<u64>,
    ) {
        let queues = fold.queue_live();
        let agents = fold.agent_live();
        {
            let mut partitions = self.lock();
            let entry = partitions.entry((topic.to_owned(), partition)).or_default();
            entry.owned = true;
            entry.checkpoint_sequence = checkpoint_sequence;
            entry.as_of = fold.as_of();
            entry.queues = queues;
            entry.agents = agents;
            entry.stats = fold.stats().clone();
            if let Some(tail) = anomalies_tail {
                let mut anomalies = entry.stats.final_anomalies.clone();
                for (name, count) in tail {
                    *anomalies.entry(name.clone()).or_default() += count;
                }
                entry.anomalies = anomalies;
            }
        }
        self.changes.send_modify(|version| *version += 1);
    }

    /// Replaces the partition's tail with `tail` (its files and batches at once).
    pub(crate) fn publish_tail(&self, tail: PartitionTail) {
        let key = (tail.topic.clone(), tail.partition);
        let tail = Arc::new(tail);
        let previous = {
            let mut partitions = self.lock();
            let entry = partitions.entry(key).or_default();
            entry.owned = true;
            entry.tail.replace(tail)
        };
        // The previous tail's batches are freed here, outside the lock (unless a
        // reader still holds them).
        drop(previous);
        self.changes.send_modify(|version| *version += 1);
    }

    /// Withdraws the partition's tail: readers read its files from disk instead.
    pub(crate) fn withdraw_tail(&self, topic: &str, partition: i32) {
        let previous = self
            .lock()
            .get_mut(&(topic.to_owned(), partition))
            .and_then(|entry| entry.tail.take());
        drop(previous);
        self.changes.send_modify(|version| *version += 1);
    }

    /// The partition was revoked or the run ended: its rows and its tail go, its
    /// counters stay.
    pub(crate) fn release(&self, topic: &str, partition: i32) {
        let tail = self
            .lock()
            .get_mut(&(topic.to_owned(), partition))
            .and_then(|entry| {
                entry.owned = false;
                entry.queues.clear();
                entry.agents.clear();
                entry.tail.take()
            });
        drop(tail);
        self.changes.send_modify(|version| *version += 1);
    }

    /// The latest tail of every owned partition that has one, by topic and partition.
    /// Each is one publication: its files and batches belong together.
    pub fn tails(&self) -> Vec<Arc<PartitionTail>> {
        self.lock()
            .values()
            .filter(|entry| entry.owned)
            .filter_map(|entry| entry.tail.clone())
            .collect()
    }

    /// `queue_live` rows of the owned partitions (of one tenant, or all), sorted by
    /// tenant and queue.
    pub fn queue_live(&self, tenant: Option<&str>) -> Vec<QueueLive> {
        let mut rows: Vec<QueueLive> = self
            .lock()
            .values()
            .flat_map(|entry| &entry.queues)
            .filter(|row| tenant.is_none_or(|t| row.tenant_id == t))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (&a.tenant_id, &a.queue_id).cmp(&(&b.tenant_id, &b.queue_id)));
        rows
    }

    /// `agent_live` rows of the owned partitions (of one tenant, or all), sorted by
    /// tenant and agent.
    pub fn agent_live(&self, tenant: Option<&str>) -> Vec<AgentLive> {
        let mut rows: Vec<AgentLive> = self
            .lock()
            .values()
            .flat_map(|entry| &entry.agents)
            .filter(|row| tenant.is_none_or(|t| row.tenant_id == t))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (&a.tenant_id, &a.agent_id).cmp(&(&b.tenant_id, &b.agent_id)));
        rows
    }

    /// Every partition opened by this process, owned or not, by topic and partition.
    pub fn partitions(&self) -> Vec<PartitionStatus> {
        self.lock()
            .iter()
            .map(|((topic, partition), entry)| PartitionStatus {
                topic: topic.clone(),
                partition: *partition,
                owned: entry.owned,
                checkpoint_sequence: entry.checkpoint_sequence,
                as_of: entry.as_of.clone(),
            })
            .collect()
    }

    /// Counters over every partition opened (see [`Totals`]).
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for entry in self.lock().values() {
            for (name, count) in &entry.stats.by_type {
                *totals.events_by_type.entry(name.clone()).or_default() += count;
            }
            totals.duplicates += entry.stats.duplicates;
            totals.too_late += entry.stats.too_late;
            for (name, count) in &entry.anomalies {
                *totals.anomalies.entry(name.clone()).or_default() += count;
            }
        }
        totals
    }
}
