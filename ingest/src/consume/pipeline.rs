//! The processing interface the runtime drives: [`Pipeline`] opens one
//! [`PartitionWorker`] per assigned partition, which owns that partition's state.

use ccpulse_schemas::v1::Event;

/// The error type of pipeline callbacks: whatever the storage layer returns. The runtime
/// wraps it with the topic, partition and offset in [`super::ConsumeError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A partition's worker and where to resume reading, returned by [`Pipeline::open`].
#[derive(Debug)]
pub struct Opened<W> {
    /// The single writer of this partition's state until the partition is revoked.
    pub worker: W,
    /// The offset of the first message the worker has not seen: the `next_offset` of
    /// its last successful [`PartitionWorker::checkpoint`]. `None` when the partition
    /// has no checkpoint: reading starts at the beginning of the partition (its log
    /// start offset). The committed Kafka offset is never used: the checkpoint is the
    /// source of truth.
    pub resume_at: Option<i64>,
}

/// The aggregator as the consumer runtime sees it: a factory of partition workers.
///
/// Shared by the poll thread (which calls [`Pipeline::open`]) and nothing else;
/// `Send + Sync` because the runtime runs on its own threads.
pub trait Pipeline: Send + Sync + 'static {
    /// The per-partition state owner.
    type Worker: PartitionWorker;

    /// A partition of `topic` was assigned to this member: load its checkpoint and
    /// return its worker with the offset to resume from.
    ///
    /// Called on the poll thread inside the rebalance, before any message of the
    /// partition is read; the partition's previous owner (in this process or another)
    /// has finished its final checkpoint by then, unless its assignment was lost (see
    /// the module docs of [`crate::consume`]). May block (file or object-store reads).
    ///
    /// # Errors
    /// Any error stops the runtime with [`super::ConsumeError::OpenPartition`].
    fn open(&self, topic: &str, partition: i32) -> Result<Opened<Self::Worker>, BoxError>;
}

/// The single writer of one partition's state.
///
/// Runs on its own thread, one per assigned partition; each call gets exclusive access
/// (`&mut self`), so the state needs no locks. Calls arrive in offset order. Dropped
/// when the partition is revoked (after its final checkpoint) or the runtime stops.
pub trait PartitionWorker: Send + 'static {
    /// A valid event (decoded and validated by [`ccpulse_schemas::v1::decode`]; unknown
    /// event types included), borrowed from `raw`, the message payload unchanged.
    /// `offset` is its Kafka offset in this partition; `ingested_at_ms` is when the
    /// consumer read it (wall clock, UTC milliseconds).
    ///
    /// Infallible on purpose: a valid event must never stop the pipeline. Problems
    /// with storage surface in [`PartitionWorker::checkpoint`].
    fn on_event(&mut self, event: &Event<'_>, raw: &[u8], offset: i64, ingested_at_ms: i64);

    /// The end of a batch of messages fetched together (up to
    /// `max_batch_messages`): a good moment to publish live observations. Called after
    /// the batch's last [`PartitionWorker::on_event`] and before any checkpoint that
    /// follows it.
    ///
    /// Returns when to call [`PartitionWorker::tick`] if no further batch arrives by
    /// then (work deferred to bound its cost, such as a throttled publication), or
    /// `None`. The default does nothing and returns `None`.
    fn end_batch(&mut self) -> Option<std::time::Instant> {
        None
    }

    /// The deadline returned by [`PartitionWorker::end_batch`] (or by the previous
    /// `tick`) passed with no new batch. Returns the next deadline, or `None`.
    fn tick(&mut self) -> Option<std::time::Instant> {
        None
    }

    /// Make everything up to and including `next_offset - 1` durable (state and data),
    /// so that [`Pipeline::open`] later returns `resume_at: Some(next_offset)`.
    ///
    /// `next_offset` is one past the last message processed, valid or dead-lettered;
    /// every dead letter up to it has been acknowledged by the broker. After `Ok` the
    /// runtime commits `next_offset` to Kafka for monitoring. Called every
    /// `checkpoint_every_messages` messages or `checkpoint_interval`, whichever comes
    /// first, on revocation, on shutdown and at the end of
    /// [`super::RunMode::UntilCaughtUp`] — but only when messages were processed since
    /// the previous checkpoint (or since `open`). May block.
    ///
    /// # Errors
    /// Any error stops the runtime with [`super::ConsumeError::Checkpoint`]; nothing
    /// after the previous checkpoint is committed.
    fn checkpoint(&mut self, next_offset: i64) -> Result<(), BoxError>;
}
