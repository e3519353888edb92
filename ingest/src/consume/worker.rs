//! The partition worker thread: decodes each message, hands valid events to the
//! [`PartitionWorker`], forwards bad ones to the dead-letter topic, and checkpoints.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ccpulse_schemas::v1;

use super::dead_letter::{DeadLetter, DeadLetterKind, DeadLetterProducer, PendingLetters};
use super::error::panic_message;
use super::pipeline::PartitionWorker;
use super::stats::{PartitionStats, RunStats};
use super::{ConsumeError, ConsumerSettings};

/// One consumed message, copied out of librdkafka's buffer by the poll thread.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) offset: i64,
    pub(crate) ingested_at_ms: i64,
    /// The payload's bytes, then the key's: one allocation per message.
    bytes: Vec<u8>,
    /// `None`: the message had no value at all (null).
    payload_len: Option<usize>,
    key_len: Option<usize>,
}

impl Record {
    pub(crate) fn new(
        offset: i64,
        ingested_at_ms: i64,
        payload: Option<&[u8]>,
        key: Option<&[u8]>,
    ) -> Self {
        let payload_len = payload.map(<[u8]>::len);
        let key_len = key.map(<[u8]>::len);
        let mut bytes = Vec::with_capacity(payload_len.unwrap_or(0) + key_len.unwrap_or(0));
        bytes.extend_from_slice(payload.unwrap_or_default());
        bytes.extend_from_slice(key.unwrap_or_default());
        Self {
            offset,
            ingested_at_ms,
            bytes,
            payload_len,
            key_len,
        }
    }

    pub(crate) fn payload(&self) -> Option<&[u8]> {
        self.payload_len.map(|len| &self.bytes[..len])
    }

    pub(crate) fn key(&self) -> Option<&[u8]> {
        let start = self.payload_len.unwrap_or(0);
        self.key_len.map(|len| &self.bytes[start..start + len])
    }
}

/// What the poll thread sends a worker, in order.
#[derive(Debug)]
pub(crate) enum WorkerInput {
    /// Messages in offset order.
    Batch(Vec<Record>),
    /// Checkpoint what was processed (if anything), reply with the offset to commit
    /// (the last successful checkpoint's `next_offset`, if any), and exit.
    Finish(SyncSender<Result<Option<i64>, ConsumeError>>),
}

/// State shared by the poll thread and the workers of one run.
#[derive(Debug, Default)]
pub(crate) struct RuntimeShared {
    /// The first infrastructure error; the poll loop stops when it is set. Std mutex:
    /// short critical sections only.
    fatal: Mutex<Option<ConsumeError>>,
    /// Periodic checkpoints not yet committed: partition → (worker generation,
    /// `next_offset`). A slot rather than a channel, so a worker never waits for the
    /// poll thread (which may itself be waiting for room in that worker's queue).
    to_commit: Mutex<BTreeMap<i32, (u64, i64)>>,
}

impl RuntimeShared {
    /// Records `error` unless an earlier one is already recorded.
    pub(crate) fn fail(&self, error: ConsumeError) {
        let mut fatal = self.fatal.lock().unwrap_or_else(PoisonError::into_inner);
        if fatal.is_none() {
            tracing::error!(error = %super::error_chain(&error), "consumer runtime stopping");
            *fatal = Some(error);
        }
    }

    pub(crate) fn has_failed(&self) -> bool {
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    pub(crate) fn take_failure(&self) -> Option<ConsumeError> {
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn post_commit(&self, partition: i32, generation: u64, next_offset: i64) {
        self.to_commit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(partition, (generation, next_offset));
    }

    /// Takes the posted checkpoints.
    pub(crate) fn take_commits(&self) -> BTreeMap<i32, (u64, i64)> {
        std::mem::take(
            &mut *self
                .to_commit
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// Everything a worker thread needs besides its [`PartitionWorker`].
#[derive(Debug)]
pub(crate) struct WorkerParts {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) generation: u64,
    pub(crate) resume_at: Option<i64>,
    pub(crate) dead_letters: Arc<DeadLetterProducer>,
    pub(crate) stats: Arc<PartitionStats>,
    pub(crate) run_stats: Arc<RunStats>,
    pub(crate) shared: Arc<RuntimeShared>,
}

/// Starts the worker thread of one partition; returns its input and its handle.
pub(crate) fn spawn<W: PartitionWorker>(
    worker: W,
    parts: WorkerParts,
    settings: &ConsumerSettings,
) -> Result<(SyncSender<WorkerInput>, JoinHandle<()>), ConsumeError> {
    let (input, receiver) = sync_channel(settings.worker_queue_batches);
    let name = format!("ccpulse-p{}", parts.partition);
    let state = WorkerLoop {
        worker,
        next_offset: parts.resume_at,
        checkpointed: None,
        uncheckpointed: 0,
        first_uncheckpointed_at: None,
        tick_at: None,
        every_messages: settings.checkpoint_every_messages,
        interval: settings.checkpoint_interval,
        pause_factor: settings.checkpoint_pause_factor,
        pause_until: None,
        pending: PendingLetters::default(),
        log_limit: LogLimit::default(),
        redelivery_log_limit: LogLimit::default(),
        parts,
    };
    let thread = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || state.run_guarded(receiver))
        .map_err(|source| ConsumeError::SpawnThread { name, source })?;
    Ok((input, thread))
}

struct WorkerLoop<W> {
    worker: W,
    parts: WorkerParts,
    /// One past the last processed offset; the resume offset before the first message.
    next_offset: Option<i64>,
    /// `next_offset` of the last successful checkpoint of this worker.
    checkpointed: Option<i64>,
    /// Messages processed since the last checkpoint.
    uncheckpointed: u64,
    first_uncheckpointed_at: Option<Instant>,
    /// When the worker asked for [`PartitionWorker::tick`].
    tick_at: Option<Instant>,
    every_messages: u64,
    interval: Duration,
    /// [`ConsumerSettings::checkpoint_pause_factor`].
    pause_factor: u32,
    /// No periodic checkpoint before this: the last one's end plus `pause_factor` times
    /// its duration.
    pause_until: Option<Instant>,
    pending: PendingLetters,
    log_limit: LogLimit,
    redelivery_log_limit: LogLimit,
}

impl<W: PartitionWorker> WorkerLoop<W> {
    /// Runs the loop; a panic in the pipeline becomes [`ConsumeError::WorkerPanicked`].
    fn run_guarded(self, input: Receiver<WorkerInput>) {
        let shared = Arc::clone(&self.parts.shared);
        let topic = Arc::clone(&self.parts.topic);
        let partition = self.parts.partition;
        let span = tracing::info_span!("partition_worker", topic = %topic, partition);
        let _entered = span.enter();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || self.run(input))) {
            shared.fail(ConsumeError::WorkerPanicked {
                topic: topic.to_string(),
                partition,
                message: panic_message(payload.as_ref()),
            });
        }
    }

    fn run(mut self, input: Receiver<WorkerInput>) {
        loop {
            let checkpoint_at = self.checkpoint_due_at();
            let wake_at = match (checkpoint_at, self.tick_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let received = match wake_at {
                Some(at) => input.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => input.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let result = match received {
                Ok(WorkerInput::Batch(records)) => self.process_batch(&records),
                Ok(WorkerInput::Finish(reply)) => {
                    let result = self.checkpoint(false).map(|()| self.checkpointed);
                    if let Err(error) = &result {
                        tracing::error!(error = %super::error_chain(error), "final checkpoint failed");
                    }
                    // The poll thread may have given up waiting (it never does today).
                    let _ = reply.send(result);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.tick_at.is_some_and(|at| at <= Instant::now()) {
                        self.tick_at = self.worker.tick();
                    }
                    self.checkpoint_if_due()
                }
                // The runtime dropped this worker without a final checkpoint: its
                // assignment was lost, or the run is failing. The next owner resumes
                // from the last checkpoint.
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if let Err(error) = result {
                self.parts.shared.fail(error);
                return;
            }
        }
    }

    fn process_batch(&mut self, records: &[Record]) -> Result<(), ConsumeError> {
        for record in records {
            // A message before the next offset was processed already. Kafka never
            // delivers one (the client skips the start of a batch fetched mid-way), but a
            // broker that answers a mid-batch fetch with overlapping batches (tansu 0.6.0)
            // would otherwise have it counted twice.
            if self.next_offset.is_some_and(|next| record.offset < next) {
                if let Some(suppressed) = self.redelivery_log_limit.admit(Instant::now()) {
                    tracing::warn!(
                        partition = self.parts.partition,
                        offset = record.offset,
                        next_offset = self.next_offset,
                        suppressed,
                        "the broker delivered a message before the next offset again; skipped"
                    );
                }
                continue;
            }
            self.process(record)?;
        }
        self.tick_at = self.worker.end_batch();
        self.checkpoint_if_due()
    }

    fn process(&mut self, record: &Record) -> Result<(), ConsumeError> {
        let offset = record.offset;
        match record.payload() {
            None | Some([]) => {
                self.dead_letter(record, DeadLetterKind::EmptyPayload, "empty payload")?;
            }
            Some(raw) => match v1::decode(raw) {
                Ok(event) => {
                    self.worker
                        .on_event(&event, raw, offset, record.ingested_at_ms);
                    self.parts.stats.count_event(&event.event_type, offset);
                }
                Err(rejection) => {
                    let reason = rejection.to_string();
                    self.dead_letter(record, DeadLetterKind::Rejected(rejection.kind), &reason)?;
                }
            },
        }
        self.next_offset = Some(offset + 1);
        self.uncheckpointed += 1;
        self.first_uncheckpointed_at
            .get_or_insert_with(Instant::now);
        Ok(())
    }

    fn dead_letter(
        &mut self,
        record: &Record,
        kind: DeadLetterKind,
        reason: &str,
    ) -> Result<(), ConsumeError> {
        let letter = DeadLetter {
            payload: record.payload().unwrap_or_default(),
            key: record.key(),
            kind,
            reason,
            source_partition: self.parts.partition,
            source_offset: record.offset,
        };
        self.parts.dead_letters.send(&letter, &mut self.pending)?;
        self.parts.stats.count_dead_letter(kind, record.offset);
        if let Some(suppressed) = self.log_limit.admit(Instant::now()) {
            tracing::warn!(
                partition = self.parts.partition,
                offset = record.offset,
                kind = kind.as_str(),
                reason,
                suppressed,
                "invalid message sent to the dead-letter topic"
            );
        }
        Ok(())
    }

    /// When the next periodic checkpoint is due: `interval` after the first message not
    /// yet checkpointed, or now once `every_messages` are waiting; in both cases not
    /// before the pause after the last one. `None` when nothing waits.
    fn checkpoint_due_at(&self) -> Option<Instant> {
        let since = self.first_uncheckpointed_at?;
        let due = if self.uncheckpointed >= self.every_messages {
            since
        } else {
            since + self.interval
        };
        Some(self.pause_until.map_or(due, |until| due.max(until)))
    }

    fn checkpoint_if_due(&mut self) -> Result<(), ConsumeError> {
        match self.checkpoint_due_at() {
            Some(at) if at <= Instant::now() => self.checkpoint(true),
            _ => Ok(()),
        }
    }

    /// Waits for the dead letters, checkpoints the worker and (when `post`) leaves the
    /// offset for the poll thread to commit. Does nothing when nothing was processed
    /// since the last checkpoint.
    fn checkpoint(&mut self, post: bool) -> Result<(), ConsumeError> {
        let Some(next_offset) = self.next_offset.filter(|_| self.uncheckpointed > 0) else {
            return Ok(());
        };
        // Every dead letter up to `next_offset` must be on the broker before the
        // offset that covers it can be committed.
        self.parts.dead_letters.settle(&mut self.pending)?;
        let started = Instant::now();
        self.worker
            .checkpoint(next_offset)
            .map_err(|source| ConsumeError::Checkpoint {
                topic: self.parts.topic.to_string(),
                partition: self.parts.partition,
                next_offset,
                source,
            })?;
        let ended = Instant::now();
        let took = ended - started;
        self.pause_until = ended.checked_add(took.saturating_mul(self.pause_factor));
        tracing::debug!(
            next_offset,
            messages = self.uncheckpointed,
            elapsed_ms = took.as_millis() as u64,
            "partition checkpointed"
        );
        self.checkpointed = Some(next_offset);
        self.uncheckpointed = 0;
        self.first_uncheckpointed_at = None;
        self.parts.stats.set_checkpointed(next_offset);
        self.parts.run_stats.count_checkpoint();
        if post {
            self.parts
                .shared
                .post_commit(self.parts.partition, self.parts.generation, next_offset);
        }
        Ok(())
    }
}

/// At most one dead-letter warning per second per partition; the next one says how
/// many were not logged in between.
#[derive(Debug, Default)]
struct LogLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimit {
    const PERIOD: Duration = Duration::from_secs(1);

    /// `Some(suppressed since the last admitted)` when a line may be logged now.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < Self::PERIOD => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BoxError, stats::RunStats};
    use super::*;
    use crate::KafkaSettings;

    const EVENT: &str = r#"{"schema_version":1,"event_id":"e","tenant_id":"acme","type":"agent.heartbeat","occurred_at":"2026-11-20T09:15:02.123Z","agent_id":"a"}"#;

    /// Records what the runtime asked of it; fails or panics on request.
    struct Fake {
        log: Arc<Mutex<Vec<String>>>,
        fail_checkpoints: bool,
        panic_on_event: bool,
        /// Ask for a tick at once after every batch.
        ticks: bool,
    }

    impl PartitionWorker for Fake {
        fn end_batch(&mut self) -> Option<Instant> {
            self.ticks.then(|| {
                self.log.lock().unwrap().push("end_batch".to_owned());
                Instant::now()
            })
        }

        fn tick(&mut self) -> Option<Instant> {
            self.log.lock().unwrap().push("tick".to_owned());
            None
        }

        fn on_event(&mut self, _: &v1::Event<'_>, _: &[u8], offset: i64, _: i64) {
            assert!(!self.panic_on_event, "the fold broke");
            self.log.lock().unwrap().push(format!("event {offset}"));
        }

        fn checkpoint(&mut self, next_offset: i64) -> Result<(), BoxError> {
            if self.fail_checkpoints {
                return Err("disk full".into());
            }
            self.log
                .lock()
                .unwrap()
                .push(format!("checkpoint {next_offset}"));
            Ok(())
        }
    }

    struct Harness {
        input: SyncSender<WorkerInput>,
        thread: JoinHandle<()>,
        log: Arc<Mutex<Vec<String>>>,
        shared: Arc<RuntimeShared>,
    }

    /// A worker thread with a fake pipeline. The dead-letter producer points at a
    /// closed port: these tests send no dead letters, and creating it connects nothing.
    fn harness(resume_at: Option<i64>, fail_checkpoints: bool, panic_on_event: bool) -> Harness {
        harness_with(resume_at, fail_checkpoints, panic_on_event, false)
    }

    fn harness_with(
        resume_at: Option<i64>,
        fail_checkpoints: bool,
        panic_on_event: bool,
        ticks: bool,
    ) -> Harness {
        // No pause: checkpoints exactly every 3 messages, however long one takes.
        paced_harness(resume_at, fail_checkpoints, panic_on_event, ticks, 0)
    }

    fn paced_harness(
        resume_at: Option<i64>,
        fail_checkpoints: bool,
        panic_on_event: bool,
        ticks: bool,
        checkpoint_pause_factor: u32,
    ) -> Harness {
        let settings = ConsumerSettings {
            checkpoint_every_messages: 3,
            checkpoint_interval: Duration::from_secs(3600),
            checkpoint_pause_factor,
            ..ConsumerSettings::default()
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(RuntimeShared::default());
        let run_stats = RunStats::new();
        let parts = WorkerParts {
            topic: Arc::from("events"),
            partition: 2,
            generation: 7,
            resume_at,
            dead_letters: Arc::new(
                DeadLetterProducer::new(&KafkaSettings::new("127.0.0.1:1"), &settings)
                    .expect("producer"),
            ),
            stats: run_stats.partition(2),
            run_stats,
            shared: Arc::clone(&shared),
        };
        let fake = Fake {
            log: Arc::clone(&log),
            fail_checkpoints,
            panic_on_event,
            ticks,
        };
        let (input, thread) = spawn(fake, parts, &settings).expect("spawn");
        Harness {
            input,
            thread,
            log,
            shared,
        }
    }

    fn batch(offsets: std::ops::Range<i64>) -> WorkerInput {
        WorkerInput::Batch(
            offsets
                .map(|offset| Record::new(offset, 1, Some(EVENT.as_bytes()), Some(b"acme")))
                .collect(),
        )
    }

    fn finish(harness: Harness) -> (Option<Result<Option<i64>, ConsumeError>>, Vec<String>) {
        let (reply, replied) = sync_channel(1);
        let reply = harness
            .input
            .send(WorkerInput::Finish(reply))
            .ok()
            .and_then(|()| replied.recv().ok());
        drop(harness.input);
        harness.thread.join().expect("the thread catches panics");
        let log = harness.log.lock().unwrap().clone();
        (reply, log)
    }

    #[test]
    fn checkpoints_every_n_messages_and_on_finish() {
        let harness = harness(Some(10), false, false);
        harness.input.send(batch(10..12)).unwrap();
        harness.input.send(batch(12..14)).unwrap();
        harness.input.send(batch(14..15)).unwrap();
        let shared = Arc::clone(&harness.shared);
        let (reply, log) = finish(harness);
        assert_eq!(reply.expect("a reply").expect("ok"), Some(15));
        assert_eq!(
            log,
            [
                "event 10",
                "event 11",
                "event 12",
                "event 13",
                "checkpoint 14",
                "event 14",
                "checkpoint 15"
            ]
        );
        // The periodic checkpoint was posted for commit; the final one is in the reply.
        assert_eq!(
            shared.take_commits().into_iter().collect::<Vec<_>>(),
            [(2, (7, 14))]
        );
        assert!(!shared.has_failed());
    }

    #[test]
    fn a_checkpoint_due_during_the_pause_after_the_last_one_waits_for_its_end() {
        // Any checkpoint takes some nanoseconds: times u32::MAX, the pause after the first
        // one lasts seconds at least, far longer than the second batch takes to arrive.
        let harness = paced_harness(Some(10), false, false, false, u32::MAX);
        harness.input.send(batch(10..13)).unwrap();
        harness.input.send(batch(13..16)).unwrap();
        let shared = Arc::clone(&harness.shared);
        let (reply, log) = finish(harness);
        // Only the final checkpoint (which never waits) covers the second batch.
        assert_eq!(reply.expect("a reply").expect("ok"), Some(16));
        assert_eq!(
            log.iter().filter(|l| l.starts_with("checkpoint")).count(),
            2
        );
        assert_eq!(
            shared.take_commits().into_iter().collect::<Vec<_>>(),
            [(2, (7, 13))]
        );
    }

    #[test]
    fn a_checkpoint_deferred_by_the_pause_comes_at_its_end_without_a_new_batch() {
        // The fake's checkpoint takes microseconds: the pause, milliseconds. The second
        // batch arrives within it (the checkpoint is deferred) or after it (taken at
        // once); either way it must come without another batch.
        let harness = paced_harness(Some(10), false, false, false, 10_000);
        harness.input.send(batch(10..13)).unwrap();
        harness.input.send(batch(13..16)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let commits = harness.shared.take_commits();
            if commits.get(&2) == Some(&(7, 16)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the deferred checkpoint never came"
            );
            std::thread::yield_now();
        }
        let (reply, log) = finish(harness);
        assert_eq!(reply.expect("a reply").expect("ok"), Some(16));
        assert_eq!(
            log.iter()
                .filter(|l| l.starts_with("checkpoint"))
                .collect::<Vec<_>>(),
            ["checkpoint 13", "checkpoint 16"]
        );
    }

    #[test]
    fn a_tick_asked_for_at_the_end_of_a_batch_comes_without_a_new_batch() {
        let harness = harness_with(Some(0), false, false, true);
        harness.input.send(batch(0..1)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !harness.log.lock().unwrap().iter().any(|l| l == "tick") {
            assert!(Instant::now() < deadline, "no tick came");
            std::thread::yield_now();
        }
        let (reply, log) = finish(harness);
        assert_eq!(reply.expect("a reply").expect("ok"), Some(1));
        assert_eq!(log, ["event 0", "end_batch", "tick", "checkpoint 1"]);
    }

    #[test]
    fn messages_before_the_next_offset_are_skipped() {
        let harness = harness(Some(10), false, false);
        harness.input.send(batch(8..12)).unwrap();
        harness.input.send(batch(11..13)).unwrap();
        let (reply, log) = finish(harness);
        assert_eq!(reply.expect("a reply").expect("ok"), Some(13));
        assert_eq!(log, ["event 10", "event 11", "event 12", "checkpoint 13"]);
    }

    #[test]
    fn nothing_new_means_no_checkpoint() {
        let (reply, log) = finish(harness(Some(10), false, false));
        assert_eq!(reply.expect("a reply").expect("ok"), None);
        assert!(log.is_empty(), "{log:?}");
    }

    #[test]
    fn a_failed_checkpoint_is_reported_with_its_offset() {
        let (reply, _) = finish({
            let harness = harness(None, true, false);
            harness.input.send(batch(0..2)).unwrap();
            harness
        });
        match reply.expect("a reply") {
            Err(ConsumeError::Checkpoint {
                partition,
                next_offset,
                ..
            }) => assert_eq!((partition, next_offset), (2, 2)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_periodic_checkpoint_failure_stops_the_worker() {
        let harness = harness(None, true, false);
        harness.input.send(batch(0..3)).unwrap();
        let shared = Arc::clone(&harness.shared);
        let (reply, _) = finish(harness);
        assert!(reply.is_none(), "the worker had already stopped");
        assert!(matches!(
            shared.take_failure(),
            Some(ConsumeError::Checkpoint { next_offset: 3, .. })
        ));
    }

    #[test]
    fn a_panicking_worker_is_reported() {
        let harness = harness(None, false, true);
        harness.input.send(batch(0..1)).unwrap();
        let shared = Arc::clone(&harness.shared);
        let (reply, _) = finish(harness);
        assert!(reply.is_none());
        match shared.take_failure() {
            Some(ConsumeError::WorkerPanicked {
                partition, message, ..
            }) => {
                assert_eq!(partition, 2);
                assert!(message.contains("the fold broke"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn record_keeps_payload_and_key_apart() {
        let record = Record::new(7, 1, Some(b"{}"), Some(b"acme"));
        assert_eq!(record.payload(), Some(&b"{}"[..]));
        assert_eq!(record.key(), Some(&b"acme"[..]));
        let null = Record::new(8, 1, None, Some(b"k"));
        assert_eq!(null.payload(), None);
        assert_eq!(null.key(), Some(&b"k"[..]));
        let empty = Record::new(9, 1, Some(b""), None);
        assert_eq!(empty.payload(), Some(&b""[..]));
        assert_eq!(empty.key(), None);
    }

    #[test]
    fn log_limit_admits_one_line_per_period() {
        let mut limit = LogLimit::default();
        let start = Instant::now();
        assert_eq!(limit.admit(start), Some(0));
        assert_eq!(limit.admit(start + Duration::from_millis(10)), None);
        assert_eq!(limit.admit(start + Duration::from_millis(20)), None);
        assert_eq!(limit.admit(start + Duration::from_secs(2)), Some(2));
    }

    #[test]
    fn shared_keeps_the_first_failure() {
        let shared = RuntimeShared::default();
        assert!(!shared.has_failed());
        shared.fail(ConsumeError::TopicNotFound { topic: "a".into() });
        shared.fail(ConsumeError::TopicNotFound { topic: "b".into() });
        match shared.take_failure() {
            Some(ConsumeError::TopicNotFound { topic }) => assert_eq!(topic, "a"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
