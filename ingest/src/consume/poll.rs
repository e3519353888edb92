//! The poll thread: owns the Kafka consumer, applies rebalances (opening, finishing and
//! dropping partition workers), hands messages to the workers in batches, commits
//! checkpointed offsets, and decides when [`RunMode::UntilCaughtUp`] is done.
//!
//! Only this thread touches the consumer. librdkafka calls the rebalance and statistics
//! callbacks from inside `poll`, on this same thread, so they may block (a revocation
//! waits for the revoked workers' final checkpoints) without stalling anything else:
//! heartbeats run on librdkafka's own threads.

use std::collections::BTreeMap;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::BorrowedMessage;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Message, Offset, Statistics, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::catch_up::CatchUp;
use super::dead_letter::DeadLetterProducer;
use super::stats::{PartitionStats, RunOutcome, RunStats, RunSummary};
use super::worker::{self, Record, RuntimeShared, WorkerInput, WorkerParts};
use super::{ConsumeError, ConsumerSettings, Opened, Pipeline, RunMode};
use crate::KafkaSettings;

/// Timeout of the metadata and watermark requests at start-up.
const STARTUP_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long closing the consumer (leaving the group) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Messages taken from librdkafka per loop iteration before batches are handed over
/// and the loop looks at cancellation, failures and commits again.
const MAX_POLLS_PER_ITERATION: usize = 8192;

/// Everything [`run_blocking`] needs.
pub(crate) struct RunRequest<P> {
    pub(crate) kafka: KafkaSettings,
    pub(crate) settings: ConsumerSettings,
    pub(crate) pipeline: Arc<P>,
    pub(crate) mode: RunMode,
    pub(crate) stats: Arc<RunStats>,
    pub(crate) cancel: CancellationToken,
}

/// The whole run, on the calling (dedicated) thread.
pub(crate) fn run_blocking<P: Pipeline>(
    request: RunRequest<P>,
) -> Result<RunSummary, ConsumeError> {
    let started = Instant::now();
    let RunRequest {
        kafka,
        settings,
        pipeline,
        mode,
        stats,
        cancel,
    } = request;
    let topic: Arc<str> = Arc::from(settings.topic.as_str());
    let dead_letters = Arc::new(DeadLetterProducer::new(&kafka, &settings)?);
    let context = RuntimeContext {
        topic: Arc::clone(&topic),
        pipeline,
        settings: settings.clone(),
        mode,
        stats: Arc::clone(&stats),
        shared: Arc::new(RuntimeShared::default()),
        dead_letters,
        owned: Mutex::new(Owned::default()),
    };
    let consumer: BaseConsumer<RuntimeContext<P>> = consumer_config(&kafka, &settings)
        .create_with_context(context)
        .map_err(|source| ConsumeError::CreateConsumer {
            brokers: kafka.brokers.clone(),
            source,
        })?;

    let partitions = partition_count(&consumer, &topic)?;
    record_start_offsets(&consumer, &topic, partitions, &stats);
    consumer
        .subscribe(&[&topic])
        .map_err(|source| ConsumeError::Subscribe {
            topic: topic.to_string(),
            source,
        })?;
    tracing::info!(
        topic = %topic,
        partitions,
        group = %settings.group_id,
        mode = ?mode,
        "consumer started"
    );

    let ctx = consumer.context();
    let outcome = poll_loop(&consumer, &cancel);
    // Whatever ended the loop, give every healthy worker its final checkpoint, then
    // leave the group.
    ctx.finish_all(&consumer);
    close(&consumer);
    let failure = ctx.shared.take_failure();
    drop(consumer);

    match (failure, outcome) {
        (Some(error), _) | (None, Err(error)) => Err(error),
        (None, Ok(outcome)) => {
            let summary = RunSummary {
                outcome,
                stats: stats.snapshot(),
                elapsed: started.elapsed(),
            };
            tracing::info!(
                outcome = ?summary.outcome,
                consumed = summary.stats.consumed,
                dead_lettered = summary.stats.dead_lettered,
                elapsed_ms = summary.elapsed.as_millis() as u64,
                "consumer stopped"
            );
            Ok(summary)
        }
    }
}

/// The consumer's configuration: `kafka`'s properties, then the runtime's settings
/// where `kafka` does not set them, then the properties the runtime depends on.
fn consumer_config(kafka: &KafkaSettings, settings: &ConsumerSettings) -> ClientConfig {
    let mut config = kafka.client_config();
    let millis = |duration: Duration| duration.as_millis().to_string();
    let defaults = [
        ("session.timeout.ms", millis(settings.session_timeout)),
        ("heartbeat.interval.ms", millis(settings.heartbeat_interval)),
        ("max.poll.interval.ms", millis(settings.max_poll_interval)),
        (
            "partition.assignment.strategy",
            settings.assignment_strategy.clone(),
        ),
        ("statistics.interval.ms", millis(settings.stats_interval)),
        // Only when a resume offset is out of range (the topic was recreated or
        // retention deleted it): read what is there rather than skip it.
        ("auto.offset.reset", "earliest".to_owned()),
    ];
    for (key, value) in defaults {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
    // Correctness depends on these; they override anything in `kafka`.
    config
        .set("group.id", &settings.group_id)
        // Offsets are committed only after a checkpoint, by the runtime.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // End-of-partition events drive `RunMode::UntilCaughtUp`.
        .set("enable.partition.eof", "true");
    config
}

fn partition_count<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<i32, ConsumeError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), STARTUP_REQUEST_TIMEOUT)
        .map_err(|source| ConsumeError::FetchMetadata {
            topic: topic.to_owned(),
            source,
        })?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|candidate| candidate.name() == topic && candidate.error().is_none())
        .map_or(0, |found| found.partitions().len());
    if partitions == 0 {
        return Err(ConsumeError::TopicNotFound {
            topic: topic.to_owned(),
        });
    }
    Ok(i32::try_from(partitions).unwrap_or(i32::MAX))
}

/// The high watermark of every partition at start-up, for lag and progress only: on
/// tansu 0.6.0 it is too low (see the module docs), so catching up never relies on it.
fn record_start_offsets<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partitions: i32,
    stats: &RunStats,
) {
    for partition in 0..partitions {
        match consumer.fetch_watermarks(topic, partition, STARTUP_REQUEST_TIMEOUT) {
            Ok((_low, high)) => stats.partition(partition).raise_end_offset(high),
            Err(error) => tracing::warn!(
                topic,
                partition,
                error = %error,
                "no start-up watermark; lag unknown until the first fetch"
            ),
        }
    }
}

fn poll_loop<P: Pipeline>(
    consumer: &BaseConsumer<RuntimeContext<P>>,
    cancel: &CancellationToken,
) -> Result<RunOutcome, ConsumeError> {
    let ctx = consumer.context();
    loop {
        if ctx.shared.has_failed() {
            // The failure itself is returned by `run_blocking`.
            return Ok(RunOutcome::Cancelled);
        }
        if cancel.is_cancelled() {
            return Ok(RunOutcome::Cancelled);
        }
        if ctx.mode == RunMode::UntilCaughtUp && ctx.lock().all_done() {
            return Ok(RunOutcome::CaughtUp);
        }
        ctx.commit_posted(consumer);
        ctx.pause_done(consumer);
        ctx.check_workers();

        let mut timeout = ctx.settings.poll_timeout;
        for _ in 0..MAX_POLLS_PER_ITERATION {
            match consumer.poll(timeout) {
                None => break,
                Some(Ok(message)) => ctx.dispatch(&message),
                Some(Err(KafkaError::PartitionEOF(partition))) => ctx.end_of_partition(partition),
                Some(Err(KafkaError::MessageConsumptionFatal(code))) => {
                    return Err(ConsumeError::Consume {
                        topic: ctx.topic.to_string(),
                        source: KafkaError::MessageConsumptionFatal(code),
                    });
                }
                // Transport hiccups, leader changes and the like: librdkafka retries.
                Some(Err(error)) => tracing::warn!(error = %error, "consumer error"),
            }
            timeout = Duration::ZERO;
        }
        ctx.lock().flush_all();
    }
}

/// Leaves the group: librdkafka revokes the (already finished) assignment through the
/// rebalance callback and sends LeaveGroup, so the partitions move at once.
fn close<C: ConsumerContext>(consumer: &BaseConsumer<C>) {
    if let Err(error) = consumer.close_queue() {
        tracing::warn!(error = %error, "closing the consumer");
        return;
    }
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    while !consumer.closed() {
        if Instant::now() > deadline {
            tracing::warn!("the consumer did not close in time; the group will time it out");
            return;
        }
        // Messages still arriving belong to partitions already checkpointed: dropped.
        let _ = consumer.poll(Duration::from_millis(100));
    }
}

/// The consumer context: the runtime's state, reached from the poll loop and from
/// librdkafka's callbacks (which run inside `poll`, on the poll thread).
struct RuntimeContext<P: Pipeline> {
    topic: Arc<str>,
    pipeline: Arc<P>,
    settings: ConsumerSettings,
    mode: RunMode,
    stats: Arc<RunStats>,
    shared: Arc<RuntimeShared>,
    dead_letters: Arc<DeadLetterProducer>,
    /// Std mutex, only ever locked on the poll thread and never across `poll` (the
    /// callbacks lock it too); it exists because contexts must be `Sync`.
    owned: Mutex<Owned>,
}

/// The partitions this member owns.
#[derive(Debug, Default)]
struct Owned {
    owners: BTreeMap<i32, Owner>,
    /// Distinguishes a partition's successive workers, so a stale posted checkpoint of
    /// an earlier owner is never committed.
    next_generation: u64,
    /// A rebalance has assigned partitions (possibly none) at least once.
    assigned_once: bool,
    /// Partitions that reached their end and are to be paused.
    to_pause: Vec<i32>,
    /// Shutting down: every worker got its final checkpoint; nothing new is opened.
    closing: bool,
}

/// One owned partition: its worker thread and what the poll thread tracks for it.
#[derive(Debug)]
struct Owner {
    generation: u64,
    input: SyncSender<WorkerInput>,
    thread: JoinHandle<()>,
    /// Messages not yet handed to the worker.
    batch: Vec<Record>,
    catch_up: CatchUp,
    stats: Arc<PartitionStats>,
    /// The worker's input is closed (it failed); nothing more is sent.
    gone: bool,
}

impl Owner {
    /// Hands the pending batch to the worker, waiting for room in its queue.
    fn flush(&mut self) {
        if self.batch.is_empty() || self.gone {
            self.batch.clear();
            return;
        }
        // The end is at least what was fetched (tansu's start-up watermark is low).
        if let Some(last) = self.batch.last() {
            self.stats.raise_end_offset(last.offset + 1);
        }
        let batch = std::mem::take(&mut self.batch);
        if self.input.send(WorkerInput::Batch(batch)).is_err() {
            // The worker ended on its own, so it failed and recorded why;
            // `check_workers` makes sure of it.
            self.gone = true;
        }
    }
}

impl Owned {
    fn all_done(&self) -> bool {
        self.assigned_once && self.owners.values().all(|owner| owner.catch_up.is_done())
    }

    fn flush_all(&mut self) {
        for owner in self.owners.values_mut() {
            owner.flush();
        }
    }
}

impl<P: Pipeline> RuntimeContext<P> {
    fn lock(&self) -> MutexGuard<'_, Owned> {
        self.owned.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn dispatch(&self, message: &BorrowedMessage<'_>) {
        let partition = message.partition();
        let mut owned = self.lock();
        let max_batch = self.settings.max_batch_messages;
        let Some(owner) = owned.owners.get_mut(&partition) else {
            tracing::debug!(partition, "message of a partition this member does not own");
            return;
        };
        if owner.catch_up.is_done() {
            // Past the end of an `UntilCaughtUp` run: left for the next run.
            return;
        }
        owner.batch.push(Record::new(
            message.offset(),
            now_ms(),
            message.payload(),
            message.key(),
        ));
        owner.catch_up.dispatched(message.offset());
        let finished = self.mode == RunMode::UntilCaughtUp && owner.catch_up.finish_if_reached();
        if owner.batch.len() >= max_batch || finished {
            owner.flush();
        }
        if finished {
            owned.to_pause.push(partition);
        }
    }

    fn end_of_partition(&self, partition: i32) {
        let mut owned = self.lock();
        let Some(owner) = owned.owners.get_mut(&partition) else {
            return;
        };
        owner.catch_up.end_of_partition();
        // The position at end-of-partition is the broker's end.
        if let Some(end) = owner.catch_up.next() {
            owner.stats.raise_end_offset(end);
        }
        tracing::debug!(partition, "end of partition");
        if self.mode == RunMode::UntilCaughtUp && owner.catch_up.finish_if_reached() {
            owner.flush();
            owned.to_pause.push(partition);
        }
    }

    /// Stops fetching partitions that reached their end (`UntilCaughtUp`).
    fn pause_done(&self, consumer: &BaseConsumer<Self>) {
        let partitions = std::mem::take(&mut self.lock().to_pause);
        if partitions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for &partition in &partitions {
            list.add_partition(&self.topic, partition);
        }
        tracing::info!(?partitions, "caught up");
        if let Err(error) = consumer.pause(&list) {
            // Not fatal: messages past the end are dropped by `dispatch` anyway.
            tracing::debug!(error = %error, "pausing caught-up partitions");
        }
    }

    /// Commits the offsets that workers checkpointed since the last call (periodic
    /// checkpoints), skipping those of workers that no longer own their partition.
    fn commit_posted(&self, consumer: &BaseConsumer<Self>) {
        let posted = self.shared.take_commits();
        if posted.is_empty() {
            return;
        }
        let offsets: Vec<(i32, i64)> = {
            let owned = self.lock();
            posted
                .into_iter()
                .filter(|(partition, (generation, _))| {
                    owned
                        .owners
                        .get(partition)
                        .is_some_and(|owner| owner.generation == *generation)
                })
                .map(|(partition, (_, offset))| (partition, offset))
                .collect()
        };
        self.commit(consumer, &offsets);
    }

    /// Commits `offsets` synchronously. A failure is counted and logged, not fatal:
    /// the checkpoint already holds the offset and the next commit covers it.
    fn commit(&self, consumer: &BaseConsumer<Self>, offsets: &[(i32, i64)]) {
        if offsets.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::with_capacity(offsets.len());
        for &(partition, offset) in offsets {
            if let Err(error) =
                list.add_partition_offset(&self.topic, partition, Offset::Offset(offset))
            {
                tracing::warn!(partition, offset, error = %error, "bad offset to commit");
                return;
            }
        }
        match consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => {
                self.stats.count_commit(true);
                tracing::debug!(?offsets, "offsets committed");
            }
            Err(error) => {
                self.stats.count_commit(false);
                tracing::warn!(
                    ?offsets,
                    error = %error,
                    "offset commit failed; the checkpoint holds the offsets and the next commit covers them"
                );
            }
        }
    }

    /// A worker thread that ended by itself failed: make sure its failure is recorded.
    fn check_workers(&self) {
        let owned = self.lock();
        for (&partition, owner) in &owned.owners {
            if (owner.gone || owner.thread.is_finished()) && !self.shared.has_failed() {
                self.shared.fail(ConsumeError::WorkerPanicked {
                    topic: self.topic.to_string(),
                    partition,
                    message: "the worker thread ended unexpectedly".to_owned(),
                });
            }
        }
    }

    /// Opens a worker for every newly assigned partition and sets the partition's
    /// start offset in `list` to the worker's resume offset.
    fn assign(&self, list: &mut TopicPartitionList) {
        let partitions: Vec<i32> = list
            .elements_for_topic(&self.topic)
            .iter()
            .map(|element| element.partition())
            .collect();
        tracing::info!(?partitions, "partitions assigned");
        let mut owned = self.lock();
        owned.assigned_once = true;
        for partition in partitions {
            if let Some(owner) = owned.owners.get(&partition) {
                // Assigned again without a revocation in between: keep the worker and
                // carry on where it is.
                let start = owner.catch_up.next();
                self.set_start(list, partition, start);
                continue;
            }
            if self.shared.has_failed() || owned.closing {
                // Stopping anyway; open nothing more (its messages are ignored).
                continue;
            }
            let Opened { worker, resume_at } = match self.pipeline.open(&self.topic, partition) {
                Ok(opened) => opened,
                Err(source) => {
                    self.shared.fail(ConsumeError::OpenPartition {
                        topic: self.topic.to_string(),
                        partition,
                        source,
                    });
                    continue;
                }
            };
            let stats = self.stats.partition(partition);
            stats.set_position(resume_at);
            stats.set_assigned(true);
            owned.next_generation += 1;
            let generation = owned.next_generation;
            let parts = WorkerParts {
                topic: Arc::clone(&self.topic),
                partition,
                generation,
                resume_at,
                dead_letters: Arc::clone(&self.dead_letters),
                stats: Arc::clone(&stats),
                run_stats: Arc::clone(&self.stats),
                shared: Arc::clone(&self.shared),
            };
            match worker::spawn(worker, parts, &self.settings) {
                Ok((input, thread)) => {
                    tracing::info!(partition, resume_at, "partition opened");
                    self.set_start(list, partition, resume_at);
                    owned.owners.insert(
                        partition,
                        Owner {
                            generation,
                            input,
                            thread,
                            batch: Vec::with_capacity(self.settings.max_batch_messages),
                            catch_up: CatchUp::starting_at(resume_at),
                            stats,
                            gone: false,
                        },
                    );
                }
                Err(error) => {
                    stats.set_assigned(false);
                    self.shared.fail(error);
                }
            }
        }
    }

    fn set_start(&self, list: &mut TopicPartitionList, partition: i32, resume_at: Option<i64>) {
        let offset = resume_at.map_or(Offset::Beginning, Offset::Offset);
        if let Err(error) = list.set_partition_offset(&self.topic, partition, offset) {
            tracing::warn!(partition, error = %error, "setting the start offset");
        }
    }

    /// Takes the revoked partitions' workers out; unless the assignment was lost,
    /// gives each its final checkpoint and commits the offsets before returning (the
    /// partitions are handed over only after that).
    fn revoke(&self, consumer: &BaseConsumer<Self>, partitions: &[i32], lost: bool) {
        tracing::info!(?partitions, lost, "partitions revoked");
        let owners: Vec<(i32, Owner)> = {
            let mut owned = self.lock();
            partitions
                .iter()
                .filter_map(|partition| {
                    owned
                        .owners
                        .remove(partition)
                        .map(|owner| (*partition, owner))
                })
                .collect()
        };
        if lost {
            // Another member may already own these partitions: do not checkpoint over
            // its work. Dropping the input ends each worker without a checkpoint; the
            // new owner redoes what came after the last one.
            for (partition, owner) in owners {
                owner.stats.set_assigned(false);
                drop(owner.input);
                if owner.thread.join().is_err() {
                    tracing::warn!(partition, "worker panicked while being dropped");
                }
            }
            return;
        }
        self.finish(consumer, owners);
    }

    /// Final checkpoint of every owned partition (shutdown).
    fn finish_all(&self, consumer: &BaseConsumer<Self>) {
        let owners: Vec<(i32, Owner)> = {
            let mut owned = self.lock();
            owned.closing = true;
            std::mem::take(&mut owned.owners).into_iter().collect()
        };
        self.finish(consumer, owners);
    }

    /// Hands each worker its last batch and `Finish`, waits for all of them (they
    /// checkpoint in parallel), joins them and commits their offsets.
    fn finish(&self, consumer: &BaseConsumer<Self>, owners: Vec<(i32, Owner)>) {
        if owners.is_empty() {
            return;
        }
        let mut waiting = Vec::with_capacity(owners.len());
        for (partition, mut owner) in owners {
            owner.flush();
            let (reply, replied) = sync_channel(1);
            let sent = !owner.gone && owner.input.send(WorkerInput::Finish(reply)).is_ok();
            waiting.push((partition, owner, sent.then_some(replied)));
        }
        let mut offsets = Vec::new();
        for (partition, owner, replied) in waiting {
            let reply = replied.and_then(|replied| replied.recv().ok());
            drop(owner.input);
            if owner.thread.join().is_err() {
                tracing::warn!(partition, "worker thread panicked outside the pipeline");
            }
            owner.stats.set_assigned(false);
            match reply {
                Some(Ok(Some(offset))) => offsets.push((partition, offset)),
                Some(Ok(None)) => {}
                Some(Err(error)) => self.shared.fail(error),
                // No reply: the worker had already failed (and recorded why) or panicked.
                None => {
                    if !self.shared.has_failed() {
                        self.shared.fail(ConsumeError::WorkerPanicked {
                            topic: self.topic.to_string(),
                            partition,
                            message: "the worker ended without its final checkpoint".to_owned(),
                        });
                    }
                }
            }
        }
        self.commit(consumer, &offsets);
    }
}

impl<P: Pipeline> ClientContext for RuntimeContext<P> {
    /// Fetch responses carry each partition's high watermark (correct on tansu too):
    /// it raises the known end offsets (lag) and the catch-up targets.
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&*self.topic) else {
            return;
        };
        let mut owned = self.lock();
        for (&partition, fetched) in &topic.partitions {
            let end = if fetched.ls_offset >= 0 {
                fetched.ls_offset
            } else {
                fetched.hi_offset
            };
            if partition < 0 || end < 0 {
                continue;
            }
            if let Some(owner) = owned.owners.get_mut(&partition) {
                owner.stats.raise_end_offset(end);
                owner.catch_up.fetched_end(end);
                if self.mode == RunMode::UntilCaughtUp && owner.catch_up.finish_if_reached() {
                    owner.flush();
                    owned.to_pause.push(partition);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // With `enable.partition.eof`, librdkafka also reports each end of partition
        // here; the poll loop handles those as events, they are not errors.
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::trace!(reason, "end of partition");
            return;
        }
        tracing::warn!(error = %error, reason, "kafka client error");
    }
}

impl<P: Pipeline> ConsumerContext for RuntimeContext<P> {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        list: &mut TopicPartitionList,
    ) {
        self.stats.count_rebalance();
        let incremental = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.assign(list);
                if incremental {
                    consumer.incremental_assign(list)
                } else {
                    consumer.assign(list)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let partitions: Vec<i32> = list
                    .elements_for_topic(&self.topic)
                    .iter()
                    .map(|element| element.partition())
                    .collect();
                self.revoke(consumer, &partitions, consumer.assignment_lost());
                if incremental {
                    consumer.incremental_unassign(list)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                // librdkafka only sends the two above; should another arrive, give
                // everything back cleanly, as librdkafka's default handler would.
                tracing::warn!(error = ?other, "unexpected rebalance event; giving up the assignment");
                let partitions: Vec<i32> = self.lock().owners.keys().copied().collect();
                self.revoke(consumer, &partitions, false);
                consumer.unassign()
            }
        };
        if let Err(source) = result {
            self.shared.fail(ConsumeError::Rebalance {
                topic: self.topic.to_string(),
                source,
            });
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
