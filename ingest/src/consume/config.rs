//! [`ConsumerSettings`]: what the consumer runtime reads from configuration, with the
//! reason for every default; and [`RunMode`].

use std::time::Duration;

use super::ConsumeError;

/// The events topic (`../shared/docs/events.md`).
pub const DEFAULT_EVENTS_TOPIC: &str = "ccpulse.events";

/// The dead-letter topic for messages that are not valid events.
pub const DEFAULT_DEAD_LETTER_TOPIC: &str = "ccpulse.events.dlq";

/// The consumer group of the aggregator.
pub const DEFAULT_GROUP_ID: &str = "ccpulse-aggregator";

/// How long [`crate::consume::run`] keeps going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Until the cancellation token fires (the service).
    Follow,
    /// Until every partition assigned to this member has been read to its end (see the
    /// module docs of [`crate::consume`] for how the end is found), then checkpoint and
    /// return. For imports, benchmarks and tests.
    UntilCaughtUp,
}

/// Settings of the consumer runtime. Broker addresses and raw librdkafka properties come
/// from [`crate::KafkaSettings`]; these are the runtime's own knobs.
///
/// Construct with [`ConsumerSettings::default`] and change fields; [`run`] checks them
/// with [`ConsumerSettings::validate`].
///
/// [`run`]: crate::consume::run
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// The topic to consume. Default [`DEFAULT_EVENTS_TOPIC`].
    pub topic: String,
    /// Where messages that are not valid events go, with the reason in headers. Default
    /// [`DEFAULT_DEAD_LETTER_TOPIC`]. Its `max.message.bytes` must be at least the
    /// events topic's plus a few hundred bytes of headers, or oversized messages arrive
    /// truncated (see [`ConsumerSettings::dead_letter_max_message_bytes`]).
    pub dead_letter_topic: String,
    /// Consumer group id (`group.id`). The members of one group split the topic's
    /// partitions between them. Default [`DEFAULT_GROUP_ID`].
    pub group_id: String,
    /// How long the group coordinator waits without a heartbeat before it declares this
    /// member dead and gives its partitions to others (`session.timeout.ms`). Default
    /// 45 s, librdkafka's: long enough to ride out a broker restart, short enough that
    /// a crashed member's partitions move within a minute. A clean shutdown leaves the
    /// group at once and does not wait for this.
    pub session_timeout: Duration,
    /// How often the member heartbeats (`heartbeat.interval.ms`); also how quickly it
    /// notices that a rebalance started. Default 3 s (librdkafka's); at most a third
    /// of `session_timeout`.
    pub heartbeat_interval: Duration,
    /// The longest a rebalance may wait for this member (`max.poll.interval.ms`): the
    /// revoked partitions' checkpoints run inside the rebalance, so this bounds a
    /// checkpoint. Default 5 min (librdkafka's).
    pub max_poll_interval: Duration,
    /// `partition.assignment.strategy`. Default `cooperative-sticky`: a member joining
    /// or leaving moves only the partitions that change owner, so the others keep their
    /// state in memory instead of checkpointing and reloading it. `range` or
    /// `roundrobin` (eager: every rebalance revokes everything) also work.
    pub assignment_strategy: String,
    /// Checkpoint a partition once this many messages were processed since its last
    /// checkpoint (checked after each batch, so up to `max_batch_messages` more).
    /// Default 100 000 (a few seconds of a busy partition): bounds the work redone
    /// after a crash.
    pub checkpoint_every_messages: u64,
    /// ... or this long after the first message not yet checkpointed, whichever comes
    /// first (an idle partition is not checkpointed). Default 5 s: a quiet partition's
    /// checkpoint and committed offset do not fall far behind.
    pub checkpoint_interval: Duration,
    /// After a checkpoint that took `d`, the next one (by count or by time; not the
    /// final one) waits until at least this many times `d` later. A checkpoint writes
    /// the partition's whole saved state and provisional tail, so its cost grows with
    /// what the partition holds in memory (open interactions, closed ones in their
    /// survey window, agents); this bounds the share of the partition's thread that
    /// checkpoints take to about `1 / (factor + 1)` whatever that is, at the price of
    /// checkpoints further apart (more work redone after a crash) when the state is
    /// large. Default 9 (about a tenth); 0 checkpoints exactly as the two settings
    /// above say.
    pub checkpoint_pause_factor: u32,
    /// Messages per batch handed from the poll loop to a partition's worker. Default
    /// 512: amortises the channel hand-off without delaying a partition much.
    pub max_batch_messages: usize,
    /// Batches queued per partition worker before the poll loop waits (the bounded
    /// channel; a full one slows consumption down to the worker's pace). Default 16.
    pub worker_queue_batches: usize,
    /// How often librdkafka reports each partition's fetch high watermark
    /// (`statistics.interval.ms`), which feeds the lag in [`crate::consume::RunStats`]
    /// and lets [`RunMode::UntilCaughtUp`] finish while producers keep writing.
    /// Default 1 s; zero disables it (lag then comes only from the start-up
    /// watermarks, and catching up relies on end-of-partition events alone).
    pub stats_interval: Duration,
    /// How long the poll loop waits for a message before it looks at cancellation,
    /// worker failures and pending commits again. Default 100 ms: the worst-case delay
    /// of a shutdown request.
    pub poll_timeout: Duration,
    /// The dead-letter producer's `message.max.bytes`. A message (payload, key and
    /// headers) that would exceed it, or that the broker refuses as too large, is sent
    /// truncated to [`ConsumerSettings::dead_letter_truncate_bytes`] with the header
    /// `ccpulse-truncated-from-bytes`. Default 16 MiB: anything the consumer can
    /// receive from a default-configured topic (1 MiB) is forwarded whole.
    pub dead_letter_max_message_bytes: usize,
    /// How much of an oversized payload a truncated dead letter keeps. Default 64 KiB,
    /// the contract's largest valid message: enough to see what the producer sent.
    pub dead_letter_truncate_bytes: usize,
}

fn default_session_timeout() -> Duration {
    Duration::from_secs(45)
}

fn default_heartbeat_interval() -> Duration {
    Duration::from_secs(3)
}

fn default_max_poll_interval() -> Duration {
    Duration::from_secs(300)
}

fn default_assignment_strategy() -> String {
    "cooperative-sticky".to_owned()
}

fn default_checkpoint_every_messages() -> u64 {
    100_000
}

fn default_checkpoint_interval() -> Duration {
    Duration::from_secs(5)
}

fn default_checkpoint_pause_factor() -> u32 {
    9
}

fn default_max_batch_messages() -> usize {
    512
}

fn default_worker_queue_batches() -> usize {
    16
}

fn default_stats_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_poll_timeout() -> Duration {
    Duration::from_millis(100)
}

fn default_dead_letter_max_message_bytes() -> usize {
    16 * 1024 * 1024
}

fn default_dead_letter_truncate_bytes() -> usize {
    64 * 1024
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            topic: DEFAULT_EVENTS_TOPIC.to_owned(),
            dead_letter_topic: DEFAULT_DEAD_LETTER_TOPIC.to_owned(),
            group_id: DEFAULT_GROUP_ID.to_owned(),
            session_timeout: default_session_timeout(),
            heartbeat_interval: default_heartbeat_interval(),
            max_poll_interval: default_max_poll_interval(),
            assignment_strategy: default_assignment_strategy(),
            checkpoint_every_messages: default_checkpoint_every_messages(),
            checkpoint_interval: default_checkpoint_interval(),
            checkpoint_pause_factor: default_checkpoint_pause_factor(),
            max_batch_messages: default_max_batch_messages(),
            worker_queue_batches: default_worker_queue_batches(),
            stats_interval: default_stats_interval(),
            poll_timeout: default_poll_timeout(),
            dead_letter_max_message_bytes: default_dead_letter_max_message_bytes(),
            dead_letter_truncate_bytes: default_dead_letter_truncate_bytes(),
        }
    }
}

/// The largest [`ConsumerSettings::checkpoint_pause_factor`]: a pause of 99 times a
/// checkpoint's duration leaves checkpoints about 1 % of a partition's thread; more
/// would only push them further apart.
const MAX_CHECKPOINT_PAUSE_FACTOR: u32 = 99;

/// librdkafka's ceiling for `message.max.bytes`.
const LIBRDKAFKA_MAX_MESSAGE_BYTES: usize = 1_000_000_000;

impl ConsumerSettings {
    /// Checks the settings and reports every problem at once.
    ///
    /// # Errors
    /// [`ConsumeError::InvalidSettings`] listing each problem.
    pub fn validate(&self) -> Result<(), ConsumeError> {
        let mut problems = Vec::new();
        if self.topic.is_empty() {
            problems.push("topic is empty".to_owned());
        }
        if self.dead_letter_topic.is_empty() {
            problems.push("dead_letter_topic is empty".to_owned());
        }
        if self.dead_letter_topic == self.topic {
            problems.push(format!(
                "dead_letter_topic is the events topic `{}`: dead letters would be read back",
                self.topic
            ));
        }
        if self.group_id.is_empty() {
            problems.push("group_id is empty".to_owned());
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval * 3 > self.session_timeout {
            problems.push(format!(
                "heartbeat_interval ({:?}) must be positive and at most a third of \
                 session_timeout ({:?})",
                self.heartbeat_interval, self.session_timeout
            ));
        }
        if self.max_poll_interval < self.session_timeout {
            problems.push(format!(
                "max_poll_interval ({:?}) is shorter than session_timeout ({:?})",
                self.max_poll_interval, self.session_timeout
            ));
        }
        if self.assignment_strategy.is_empty() {
            problems.push("assignment_strategy is empty".to_owned());
        }
        if self.checkpoint_every_messages == 0 {
            problems.push("checkpoint_every_messages must be > 0".to_owned());
        }
        if self.checkpoint_interval.is_zero() {
            problems.push("checkpoint_interval must be > 0".to_owned());
        }
        if self.checkpoint_pause_factor > MAX_CHECKPOINT_PAUSE_FACTOR {
            problems.push(format!(
                "checkpoint_pause_factor ({}) exceeds {MAX_CHECKPOINT_PAUSE_FACTOR}",
                self.checkpoint_pause_factor
            ));
        }
        if self.max_batch_messages == 0 {
            problems.push("max_batch_messages must be > 0".to_owned());
        }
        if self.worker_queue_batches == 0 {
            problems.push("worker_queue_batches must be > 0".to_owned());
        }
        if self.poll_timeout.is_zero() {
            problems.push("poll_timeout must be > 0".to_owned());
        }
        if self.dead_letter_max_message_bytes > LIBRDKAFKA_MAX_MESSAGE_BYTES {
            problems.push(format!(
                "dead_letter_max_message_bytes ({}) exceeds librdkafka's limit of {}",
                self.dead_letter_max_message_bytes, LIBRDKAFKA_MAX_MESSAGE_BYTES
            ));
        }
        if self.dead_letter_truncate_bytes + super::dead_letter::HEADROOM_BYTES
            > self.dead_letter_max_message_bytes
        {
            problems.push(format!(
                "dead_letter_truncate_bytes ({}) plus {} bytes of headers exceeds \
                 dead_letter_max_message_bytes ({})",
                self.dead_letter_truncate_bytes,
                super::dead_letter::HEADROOM_BYTES,
                self.dead_letter_max_message_bytes
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConsumeError::InvalidSettings {
                problems: problems.join("; "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ConsumerSettings::default().validate().expect("defaults");
    }

    #[test]
    fn every_problem_is_reported() {
        let settings = ConsumerSettings {
            topic: "t".into(),
            dead_letter_topic: "t".into(),
            checkpoint_every_messages: 0,
            checkpoint_pause_factor: 100,
            max_batch_messages: 0,
            dead_letter_truncate_bytes: 20 * 1024 * 1024,
            ..ConsumerSettings::default()
        };
        let error = settings.validate().expect_err("invalid").to_string();
        for part in [
            "dead letters would be read back",
            "checkpoint_every_messages",
            "checkpoint_pause_factor (100) exceeds 99",
            "max_batch_messages",
            "dead_letter_truncate_bytes",
        ] {
            assert!(error.contains(part), "{part} missing from {error}");
        }
    }
}
