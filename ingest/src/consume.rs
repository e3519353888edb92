//! The Kafka consumer runtime of the aggregator: a consumer group on the events topic,
//! one worker per assigned partition, the dead-letter topic, checkpoints and offset
//! commits. What a partition's worker *does* with events is plugged in through
//! [`Pipeline`] and [`PartitionWorker`] (the fold and its storage).
//!
//! ```text
//!                     ┌─ poll thread (owns the BaseConsumer) ─────────────────────┐
//! Kafka ── fetch ──>  │ poll → batch per partition ──bounded channel──> worker p0 │──> PartitionWorker::on_event
//!                     │ rebalance callback: open / finish workers                 │    decode+validate, DLQ
//!                     │ commit checkpointed offsets, catch-up, pause              │──> worker p1 …
//!                     └───────────────────────────────────────────────────────────┘
//! ```
//!
//! # Entry point
//! [`run`] with [`crate::KafkaSettings`], [`ConsumerSettings`], a
//! [`Pipeline`], a [`RunMode`], shared [`RunStats`] (for a progress bar) and a
//! [`CancellationToken`]; it returns a [`RunSummary`] or a [`ConsumeError`].
//!
//! # Threads, and why not `split_partition_queue`
//! One dedicated **poll thread** owns the `BaseConsumer`; each assigned partition gets a
//! **worker thread** that owns its [`PartitionWorker`] (the single writer of that
//! partition's state) and is fed batches of messages through a bounded channel
//! (`worker_queue_batches` × `max_batch_messages`; a full channel makes the poll thread
//! wait, which slows fetching to the slowest worker's pace instead of growing memory).
//!
//! - librdkafka runs the rebalance callback inside `poll`, and a revocation must wait
//!   until the revoked partitions' workers have processed what they were given and
//!   checkpointed. Blocking a Tokio worker there would stall unrelated tasks (and can
//!   deadlock a small runtime), so polling happens on a thread of its own, which may
//!   block. Heartbeats run on librdkafka's threads meanwhile.
//! - [`PartitionWorker`] is synchronous (the fold is CPU work; checkpoints write
//!   files), so workers are threads too, not tasks with `spawn_blocking` around each
//!   call. Decoding happens on the workers, so it scales with partitions.
//! - rdkafka's `split_partition_queue` would save copying each payload (~200 bytes,
//!   far cheaper than decoding it), but every (eager) assignment needs new splits,
//!   messages fetched before a split still arrive on the main queue, and the revoke
//!   callback would still have to synchronise with each worker. With one channel per
//!   partition, "everything sent before `Finish` is processed before the final
//!   checkpoint" follows from FIFO order, and only one thread touches the consumer.
//!
//! # Checkpoints and commits
//! Offsets are committed only after a checkpoint (`enable.auto.commit=false`,
//! `enable.auto.offset.store=false`):
//!
//! 1. A worker calls [`PartitionWorker::checkpoint`]`(next_offset)` after
//!    `checkpoint_every_messages` messages or `checkpoint_interval` after the first
//!    message not yet checkpointed, whichever comes first, but not sooner than
//!    `checkpoint_pause_factor` times the previous checkpoint's duration after it (its
//!    cost grows with the partition's state); on revocation; on shutdown;
//!    and at the end of [`RunMode::UntilCaughtUp`]. Never when nothing new was
//!    processed.
//! 2. Before that call, it waits until the broker has acknowledged every dead letter it
//!    sent: a dead-lettered message counts as processed, so the offset that covers it
//!    must not be committed while the letter could still be lost.
//! 3. After `Ok`, the poll thread commits `next_offset` (synchronously; periodic
//!    checkpoints are posted to a shared slot and committed on the next loop turn).
//!    A failed commit is logged and counted ([`StatsSnapshot::commit_failures`]) but
//!    not fatal: the checkpoint is the source of truth for where to resume, the
//!    committed offset only serves monitoring and the next commit covers it.
//! 4. A checkpoint error (or a dead letter the broker refused) stops the runtime with
//!    [`ConsumeError::Checkpoint`] / [`ConsumeError::DeadLetter`]: the partition's
//!    work since its last checkpoint is not committed and will be redone. The other
//!    partitions get their final checkpoint first.
//!
//! On assignment, [`Pipeline::open`] loads the partition's checkpoint and the runtime
//! starts reading at [`Opened::resume_at`] (set as the assignment's offset, so no
//! message before it is fetched), or at the beginning when there is none. The committed
//! Kafka offset is never read.
//!
//! On revocation (a rebalance, or a member leaving), the revoked partitions' workers get
//! the rest of their batches and a final checkpoint, their offsets are committed, and
//! the workers are dropped — all inside the rebalance callback, so the partition is
//! handed over only afterwards. If librdkafka reports the assignment **lost** (session
//! timeout), another member may already own the partition: the worker is dropped
//! *without* a checkpoint, and the new owner redoes the work since the last one.
//!
//! With the default `cooperative-sticky` strategy, a rebalance revokes only partitions
//! that change owner; with an eager strategy (`range`, `roundrobin`) every rebalance
//! revokes everything, so every worker checkpoints and is reopened.
//!
//! # Invalid messages: the dead-letter topic
//! Every message is decoded and validated by [`ccpulse_schemas::v1::decode`] (which runs
//! the contract's validator; no separate call is needed). A message with no payload
//! (null or empty), or one `decode` rejects, is produced to the dead-letter topic and
//! counted per [`DeadLetterKind`]; its offset counts as processed. Events of unknown
//! `type` are valid and go to the worker. The process never panics on input.
//!
//! A dead letter is:
//! - **value**: the original payload bytes, unchanged (empty for a null payload);
//! - **key**: the original key (the tenant, so one tenant's letters stay in order);
//! - **headers** (UTF-8 text, see [`dead_letter_headers`]): `ccpulse-reason` (one line:
//!   field, expected, got — offending values cut to 40 chars), `ccpulse-reason-kind`
//!   ([`DeadLetterKind::as_str`], e.g. `not_json`, `too_large`, `empty_payload`),
//!   `ccpulse-source-topic`, `ccpulse-source-partition`, `ccpulse-source-offset`.
//!
//! **Large payloads.** librdkafka's producer refuses messages over `message.max.bytes`
//! (default 1 000 000) before sending them, so the dead-letter producer sets it to
//! [`ConsumerSettings::dead_letter_max_message_bytes`] (16 MiB): a 1 MiB hostile
//! payload is forwarded whole. tansu 0.6.0 has no size limit (checked: it stores any
//! batch it receives), so this works against it. Kafka brokers refuse records over the
//! topic's `max.message.bytes` (default 1 048 588); such a payload could only have
//! reached the events topic if that topic allows it, so the dead-letter topic needs
//! the same limit plus a few hundred bytes for headers. When the letter would exceed
//! the producer limit, or the broker refuses it as too large, it is sent again with
//! only the first [`ConsumerSettings::dead_letter_truncate_bytes`] (64 KiB) of the
//! payload and the header `ccpulse-truncated-from-bytes` giving the original length.
//!
//! Dead letters are at-least-once: after a crash or a lost assignment the new owner
//! re-reads from the last checkpoint and sends those letters again.
//!
//! # `UntilCaughtUp`: finding the end of a partition
//! The run ends when every partition assigned to this member has been read to the end
//! it had when the run started. How that end is found matters, because the test
//! broker gets one of the obvious answers wrong. What we measured against tansu 0.6.0
//! (in-memory storage) and read in its source (`tansu-storage` `dynostore.rs`):
//!
//! - **ListOffsets (LATEST)** — what `fetch_watermarks`, `offsets_for_times` with
//!   `Offset::End` and an admin ListOffsets send — answers *the base offset of the
//!   most recently written record batch + 1*: tansu picks the stored batch with the
//!   newest modification time and adds one. After one 258-record batch it says 1;
//!   after a further 100-record batch at 258 it says 259; after one more single-record
//!   batch at 358 it says 359 (right, by luck). It is a lower bound of the end, never
//!   more.
//! - **ListOffsets with a timestamp** (`offsets_for_times`) after the last record
//!   answers 0, not "no such offset" (-1): no help.
//! - **Fetch responses** carry the high watermark from tansu's watermark record, which
//!   is maintained per produced batch and is **correct** (258 after the 258-record
//!   batch).
//! - Hence **end-of-partition events** (`enable.partition.eof`), which librdkafka emits
//!   when a fetch at the consumer's position returns nothing and the position equals
//!   that fetch response's high watermark, arrive at exactly the right offset: at 258,
//!   at 359, at 0 for an empty partition, and again after every (re)assignment or seek.
//! - Consuming "up to the watermark" would stop after 1 message of 258, and a resume
//!   offset in the middle of the last batch (a checkpoint at 100 of 258) would look
//!   caught up against a ListOffsets answer of 1.
//!
//! So a partition counts as caught up when either
//! 1. an end-of-partition event arrives for it (everything up to the broker's end at
//!    that fetch, which is at or after the run's start, has been handed to the
//!    worker), or
//! 2. its position reaches an end that a *fetch response* reported after the run
//!    started (the last stable offset, else the high watermark, from librdkafka's
//!    statistics, every [`ConsumerSettings::stats_interval`]). This one lets the run end
//!    while producers keep writing, when a fetch rarely comes back empty.
//!
//! Both hold on real Kafka, where all these answers agree, and on tansu, because
//! neither uses ListOffsets. The start-up watermarks are still fetched, but only as the
//! first estimate of lag. Once caught up, a partition is paused and any message past
//! the end already fetched is not handed over (it belongs to the next run). When all
//! assigned partitions are done, each worker checkpoints, offsets are committed, and
//! [`run`] returns [`RunOutcome::CaughtUp`]. Limits: a member assigned no partitions
//! returns at once (run `UntilCaughtUp` with one member per group; with the
//! cooperative protocol a member that joins a busy group is first assigned nothing);
//! with transactional producers the tail of a partition can be a commit marker, and
//! then only rule 1 applies.
//!
//! # Resuming mid-batch on tansu 0.6.0
//! Checkpoints land at any offset, so a partition is often resumed in the middle of a
//! record batch. Kafka answers such a fetch with the batch that contains the offset and
//! librdkafka skips its earlier records. tansu 0.6.0 (in-memory storage, read in
//! `tansu-storage` `dynostore.rs` `fetch` and `service/fetch.rs`) does not: it returns
//! only batches that *start* at or after the offset (the rest of the batch is never
//! delivered; inside the last batch, nothing at all) and can then return overlapping
//! batches (the same offsets several times). The worker skips any message before its
//! next offset, which covers the second; nothing in a client can recover the first.
//! The end-to-end tests that restart mid-stream therefore produce one record per batch
//! (`ccpulse_tests::aggregate::produce_one_per_batch`); against real Kafka no such care
//! is needed.
//!
//! # Progress
//! [`RunStats`] counts, per partition, messages processed, events by type, dead
//! letters by kind, position, end offset (start-up watermark raised by every fetch
//! response) and lag; [`RunStats::snapshot`] sums them for a progress bar, and the
//! [`RunSummary`] holds the final snapshot.
//!
//! # Shutdown
//! Cancelling the token stops polling within [`ConsumerSettings::poll_timeout`]; every
//! worker gets its batches and a final checkpoint, offsets are committed, and the
//! consumer leaves the group (so its partitions move at once). Dropping the future of
//! [`run`] cancels the run the same way.
//!
//! # Layout
//! - `config`: [`ConsumerSettings`], [`RunMode`] and the topic defaults.
//! - `pipeline`: [`Pipeline`], [`PartitionWorker`], [`Opened`], [`BoxError`].
//! - `poll`: the poll thread, the rebalance callback, dispatch and commits.
//! - `worker`: the partition worker thread: decode, dead letters, checkpoints.
//! - `dead_letter`: [`DeadLetterKind`], the header names, the dead-letter producer.
//! - `catch_up`: the caught-up rule of [`RunMode::UntilCaughtUp`].
//! - `stats`: [`RunStats`], [`StatsSnapshot`], [`RunSummary`].
//! - `error`: [`ConsumeError`].

mod catch_up;
mod config;
mod dead_letter;
mod error;
mod pipeline;
mod poll;
mod stats;
mod worker;

use std::sync::Arc;

pub use config::{
    ConsumerSettings, DEFAULT_DEAD_LETTER_TOPIC, DEFAULT_EVENTS_TOPIC, DEFAULT_GROUP_ID, RunMode,
};
pub use dead_letter::DeadLetterKind;
pub use dead_letter::headers as dead_letter_headers;
pub use error::ConsumeError;
pub use pipeline::{BoxError, Opened, PartitionWorker, Pipeline};
pub use stats::{
    PartitionSnapshot, RunOutcome, RunStats, RunSummary, StatsSnapshot, UNKNOWN_EVENT_TYPE,
};
/// Re-exported so callers need no direct dependency on `tokio-util`.
pub use tokio_util::sync::CancellationToken;

use crate::KafkaSettings;

/// Consumes `settings.topic` as a member of `settings.group_id`, feeding each assigned
/// partition's events to a worker from `pipeline`, until `cancel` fires
/// ([`RunMode::Follow`]) or every assigned partition is caught up
/// ([`RunMode::UntilCaughtUp`]).
///
/// The work runs on dedicated threads (see the module docs); this future only waits for
/// it, so it can be awaited on any runtime. Dropping it cancels the run, which then
/// finishes its checkpoints in the background. `stats` is updated live.
///
/// # Errors
/// - [`ConsumeError::InvalidSettings`] before anything starts;
/// - creating the clients, reading the topic's metadata ([`ConsumeError::TopicNotFound`]
///   when it does not exist) or subscribing;
/// - during the run, the first infrastructure failure: [`ConsumeError::OpenPartition`],
///   [`ConsumeError::Checkpoint`], [`ConsumeError::DeadLetter`], a fatal consumer
///   error, a failed rebalance, or a panicking worker. Healthy partitions still get
///   their final checkpoint before the error is returned. Invalid messages are never
///   errors.
pub async fn run<P: Pipeline>(
    kafka: &KafkaSettings,
    settings: &ConsumerSettings,
    pipeline: Arc<P>,
    mode: RunMode,
    stats: Arc<RunStats>,
    cancel: CancellationToken,
) -> Result<RunSummary, ConsumeError> {
    settings.validate()?;
    let cancel = cancel.child_token();
    // Dropping this future cancels the run instead of leaking a consumer.
    let _cancel_on_drop = cancel.clone().drop_guard();
    let request = poll::RunRequest {
        kafka: kafka.clone(),
        settings: settings.clone(),
        pipeline,
        mode,
        stats,
        cancel,
    };
    let (done, finished) = tokio::sync::oneshot::channel();
    let name = "ccpulse-consume".to_owned();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                poll::run_blocking(request)
            }))
            .unwrap_or_else(|payload| {
                Err(ConsumeError::PollThreadPanicked {
                    message: error::panic_message(payload.as_ref()),
                })
            });
            // The caller may have stopped waiting; the run is over either way.
            let _ = done.send(result);
        })
        .map_err(|source| ConsumeError::SpawnThread { name, source })?;
    finished.await.unwrap_or_else(|_| {
        Err(ConsumeError::PollThreadPanicked {
            message: "the poll thread ended without a result".to_owned(),
        })
    })
}

/// An error with its sources, `: `-separated, for log lines (`{err}` alone drops them).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
