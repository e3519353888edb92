//! The dead-letter topic: [`DeadLetterKind`], the header names, and the producer that
//! forwards a bad message and waits for the broker's acknowledgement before the offset
//! covering it may be committed.

use std::time::Duration;

use ccpulse_schemas::v1::RejectKind;
use futures::executor::block_on;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use super::{ConsumeError, ConsumerSettings};
use crate::KafkaSettings;

/// Header names of a dead letter. Values are UTF-8 text.
pub mod headers {
    /// Why the message was rejected, one line: [`ccpulse_schemas::v1::Rejection`]'s
    /// `Display` (field, expected, got; offending values truncated to 40 chars), or
    /// `empty payload`.
    pub const REASON: &str = "ccpulse-reason";
    /// The bounded reason, [`super::DeadLetterKind::as_str`]: a metrics label.
    pub const REASON_KIND: &str = "ccpulse-reason-kind";
    /// The topic the message was read from.
    pub const SOURCE_TOPIC: &str = "ccpulse-source-topic";
    /// Its partition, decimal.
    pub const SOURCE_PARTITION: &str = "ccpulse-source-partition";
    /// Its offset, decimal.
    pub const SOURCE_OFFSET: &str = "ccpulse-source-offset";
    /// Present only when the value is truncated: the original payload length in bytes,
    /// decimal. The value then holds the payload's first
    /// `dead_letter_truncate_bytes` bytes.
    pub const TRUNCATED_FROM_BYTES: &str = "ccpulse-truncated-from-bytes";
}

/// Room kept for the key, headers and record framing when deciding whether a payload
/// fits in `dead_letter_max_message_bytes`.
pub(crate) const HEADROOM_BYTES: usize = 4096;

/// Number of [`DeadLetterKind`] values (for counter arrays).
pub(crate) const DEAD_LETTER_KINDS: usize = RejectKind::ALL.len() + 1;

/// Why a message went to the dead-letter topic. Bounded: a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeadLetterKind {
    /// The message had no payload (a null value, such as a tombstone) or an empty one.
    EmptyPayload,
    /// The payload is not a valid v1 event.
    Rejected(RejectKind),
}

impl DeadLetterKind {
    /// `snake_case` name, stable: the `ccpulse-reason-kind` header and the metrics
    /// label. `empty_payload`, or [`RejectKind::as_str`].
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterKind::EmptyPayload => "empty_payload",
            DeadLetterKind::Rejected(kind) => kind.as_str(),
        }
    }

    /// Every kind, for pre-registering metric labels.
    pub fn all() -> impl Iterator<Item = DeadLetterKind> {
        (0..DEAD_LETTER_KINDS).map(DeadLetterKind::from_index)
    }

    pub(crate) fn index(self) -> usize {
        match self {
            DeadLetterKind::EmptyPayload => 0,
            DeadLetterKind::Rejected(kind) => {
                1 + RejectKind::ALL
                    .iter()
                    .position(|&known| known == kind)
                    .unwrap_or(0)
            }
        }
    }

    /// The kind at `index` (indices past the end map to the last kind).
    pub(crate) fn from_index(index: usize) -> DeadLetterKind {
        match index.checked_sub(1) {
            None => DeadLetterKind::EmptyPayload,
            Some(slot) => {
                DeadLetterKind::Rejected(RejectKind::ALL[slot.min(RejectKind::ALL.len() - 1)])
            }
        }
    }
}

impl std::fmt::Display for DeadLetterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Producer defaults of the dead-letter producer; [`KafkaSettings::properties`]
/// override them, except `message.max.bytes` which comes from
/// [`ConsumerSettings::dead_letter_max_message_bytes`].
///
/// - `acks=all`: a dead letter counts as delivered only once the broker has it, since
///   the source offset is committed after it.
/// - `linger.ms=5`: bad messages come in bursts; batch them a little, but the
///   checkpoint waits for them.
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("linger.ms", "5"),
    ("compression.codec", "lz4"),
    ("message.timeout.ms", "60000"),
];

/// Beyond this many unacknowledged dead letters (or bytes), a worker waits for the
/// broker before reading on: a flood of huge bad messages must not grow memory.
const MAX_PENDING_LETTERS: usize = 10_000;
const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// One bad message to forward, borrowed from the consumed record.
#[derive(Debug)]
pub(crate) struct DeadLetter<'a> {
    pub(crate) payload: &'a [u8],
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) kind: DeadLetterKind,
    pub(crate) reason: &'a str,
    pub(crate) source_partition: i32,
    pub(crate) source_offset: i64,
}

/// The dead-letter producer, shared by every worker of one run.
pub(crate) struct DeadLetterProducer {
    producer: FutureProducer,
    topic: String,
    source_topic: String,
    max_message_bytes: usize,
    truncate_bytes: usize,
}

impl std::fmt::Debug for DeadLetterProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterProducer")
            .field("topic", &self.topic)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish_non_exhaustive()
    }
}

/// A worker's unacknowledged dead letters.
#[derive(Default)]
pub(crate) struct PendingLetters {
    letters: Vec<Pending>,
    bytes: usize,
}

impl std::fmt::Debug for PendingLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLetters")
            .field("letters", &self.letters.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl PendingLetters {
    pub(crate) fn is_empty(&self) -> bool {
        self.letters.is_empty()
    }

    fn is_full(&self) -> bool {
        self.letters.len() >= MAX_PENDING_LETTERS || self.bytes >= MAX_PENDING_BYTES
    }
}

struct Pending {
    delivery: DeliveryFuture,
    source_partition: i32,
    source_offset: i64,
    /// Kept only for payloads longer than the truncation size: what to send if the
    /// broker refuses the whole message as too large.
    resend: Option<Resend>,
}

#[derive(Debug)]
struct Resend {
    prefix: Vec<u8>,
    original_len: usize,
    key: Option<Vec<u8>>,
    kind: DeadLetterKind,
    reason: String,
}

impl DeadLetterProducer {
    pub(crate) fn new(
        kafka: &KafkaSettings,
        settings: &ConsumerSettings,
    ) -> Result<Self, ConsumeError> {
        let mut config = kafka.client_config();
        for &(key, value) in PRODUCER_DEFAULTS {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        config.set(
            "message.max.bytes",
            settings.dead_letter_max_message_bytes.to_string(),
        );
        let producer =
            config
                .create()
                .map_err(|source| ConsumeError::CreateDeadLetterProducer {
                    brokers: kafka.brokers.clone(),
                    source,
                })?;
        Ok(Self {
            producer,
            topic: settings.dead_letter_topic.clone(),
            source_topic: settings.topic.clone(),
            max_message_bytes: settings.dead_letter_max_message_bytes,
            truncate_bytes: settings.dead_letter_truncate_bytes,
        })
    }

    /// Queues `letter`; waits only when librdkafka's queue or this worker's pending
    /// bound is full.
    ///
    /// # Errors
    /// [`ConsumeError::DeadLetter`] when the letter cannot be queued, or an earlier one
    /// (awaited to make room) failed.
    pub(crate) fn send(
        &self,
        letter: &DeadLetter<'_>,
        pending: &mut PendingLetters,
    ) -> Result<(), ConsumeError> {
        if pending.is_full() {
            self.settle(pending)?;
        }
        let original_len = letter.payload.len();
        let truncatable = original_len > self.truncate_bytes;
        let framing = letter.key.map_or(0, <[u8]>::len) + letter.reason.len() + HEADROOM_BYTES;
        let fits = original_len.saturating_add(framing) <= self.max_message_bytes;
        let whole = if fits {
            self.enqueue(&Letter::whole(letter), pending)
        } else {
            Err(EnqueueError::Kafka(KafkaError::MessageProduction(
                RDKafkaErrorCode::MessageSizeTooLarge,
            )))
        };
        let (delivery, resend) = match whole {
            Ok(delivery) => {
                // Keep what a truncated resend needs, in case the broker refuses it.
                let resend = truncatable.then(|| Resend {
                    prefix: letter.payload[..self.truncate_bytes].to_vec(),
                    original_len,
                    key: letter.key.map(<[u8]>::to_vec),
                    kind: letter.kind,
                    reason: letter.reason.to_owned(),
                });
                (delivery, resend)
            }
            Err(EnqueueError::Kafka(KafkaError::MessageProduction(
                RDKafkaErrorCode::MessageSizeTooLarge,
            ))) if truncatable => {
                let truncated = Letter {
                    payload: &letter.payload[..self.truncate_bytes],
                    truncated_from: Some(original_len),
                    ..Letter::whole(letter)
                };
                let delivery = self
                    .enqueue(&truncated, pending)
                    .map_err(|error| self.enqueue_error(&truncated, error))?;
                (delivery, None)
            }
            Err(error) => return Err(self.enqueue_error(&Letter::whole(letter), error)),
        };
        pending.bytes += original_len.min(self.max_message_bytes)
            + resend.as_ref().map_or(0, |resend| resend.prefix.len());
        pending.letters.push(Pending {
            delivery,
            source_partition: letter.source_partition,
            source_offset: letter.source_offset,
            resend,
        });
        Ok(())
    }

    /// Waits until the broker acknowledged every pending letter. A letter the broker
    /// refuses as too large is sent again truncated (and awaited).
    ///
    /// # Errors
    /// [`ConsumeError::DeadLetter`] for the first letter that was not delivered.
    pub(crate) fn settle(&self, pending: &mut PendingLetters) -> Result<(), ConsumeError> {
        let letters = std::mem::take(&mut pending.letters);
        pending.bytes = 0;
        let mut first_error = None;
        for letter in letters {
            let result = match (wait(letter.delivery), letter.resend) {
                (Ok(()), _) => Ok(()),
                (
                    Err(KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)),
                    Some(resend),
                ) => {
                    let truncated = Letter {
                        key: resend.key.as_deref(),
                        payload: &resend.prefix,
                        kind: resend.kind,
                        reason: &resend.reason,
                        source_partition: letter.source_partition,
                        source_offset: letter.source_offset,
                        truncated_from: Some(resend.original_len),
                    };
                    match self.enqueue(&truncated, &mut PendingLetters::default()) {
                        Ok(delivery) => {
                            wait(delivery).map_err(|source| self.error(&truncated, source))
                        }
                        Err(error) => Err(self.enqueue_error(&truncated, error)),
                    }
                }
                (Err(source), _) => Err(ConsumeError::DeadLetter {
                    dead_letter_topic: self.topic.clone(),
                    source_partition: letter.source_partition,
                    source_offset: letter.source_offset,
                    source,
                }),
            };
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Hands one letter to librdkafka. When its queue is full, waits for this worker's
    /// pending letters (or, with none, backs off for a millisecond) and retries.
    fn enqueue(
        &self,
        letter: &Letter<'_>,
        pending: &mut PendingLetters,
    ) -> Result<DeliveryFuture, EnqueueError> {
        let partition = letter.source_partition.to_string();
        let offset = letter.source_offset.to_string();
        let mut headers = OwnedHeaders::new_with_capacity(6)
            .insert(Header {
                key: headers::REASON,
                value: Some(letter.reason),
            })
            .insert(Header {
                key: headers::REASON_KIND,
                value: Some(letter.kind.as_str()),
            })
            .insert(Header {
                key: headers::SOURCE_TOPIC,
                value: Some(self.source_topic.as_str()),
            })
            .insert(Header {
                key: headers::SOURCE_PARTITION,
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: headers::SOURCE_OFFSET,
                value: Some(offset.as_str()),
            });
        if let Some(original_len) = letter.truncated_from {
            headers = headers.insert(Header {
                key: headers::TRUNCATED_FROM_BYTES,
                value: Some(original_len.to_string().as_str()),
            });
        }
        loop {
            let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic)
                .payload(letter.payload)
                .headers(headers.clone());
            if let Some(key) = letter.key {
                record = record.key(key);
            }
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    if pending.is_empty() {
                        // Other workers' letters fill the queue: librdkafka drains it
                        // in the background; retry shortly.
                        std::thread::sleep(Duration::from_millis(1));
                    } else {
                        self.settle(pending).map_err(EnqueueError::Earlier)?;
                    }
                }
                Err((source, _)) => return Err(EnqueueError::Kafka(source)),
            }
        }
    }

    fn enqueue_error(&self, letter: &Letter<'_>, error: EnqueueError) -> ConsumeError {
        match error {
            EnqueueError::Kafka(source) => self.error(letter, source),
            EnqueueError::Earlier(error) => error,
        }
    }

    fn error(&self, letter: &Letter<'_>, source: KafkaError) -> ConsumeError {
        ConsumeError::DeadLetter {
            dead_letter_topic: self.topic.clone(),
            source_partition: letter.source_partition,
            source_offset: letter.source_offset,
            source,
        }
    }
}

/// What is actually sent: the letter, possibly truncated.
struct Letter<'a> {
    key: Option<&'a [u8]>,
    payload: &'a [u8],
    kind: DeadLetterKind,
    reason: &'a str,
    source_partition: i32,
    source_offset: i64,
    /// `Some(original length)` when `payload` is a truncated prefix.
    truncated_from: Option<usize>,
}

impl<'a> Letter<'a> {
    fn whole(letter: &DeadLetter<'a>) -> Self {
        Letter {
            key: letter.key,
            payload: letter.payload,
            kind: letter.kind,
            reason: letter.reason,
            source_partition: letter.source_partition,
            source_offset: letter.source_offset,
            truncated_from: None,
        }
    }
}

enum EnqueueError {
    /// librdkafka refused this letter.
    Kafka(KafkaError),
    /// Waiting for room, an earlier letter failed.
    Earlier(ConsumeError),
}

/// Blocks the worker thread until the broker answers for one letter.
fn wait(delivery: DeliveryFuture) -> Result<(), KafkaError> {
    match block_on(delivery) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, _message))) => Err(error),
        Err(_canceled) => Err(KafkaError::Canceled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_index() {
        let kinds: Vec<DeadLetterKind> = DeadLetterKind::all().collect();
        assert_eq!(kinds.len(), DEAD_LETTER_KINDS);
        for (index, kind) in kinds.iter().enumerate() {
            assert_eq!(kind.index(), index);
            assert_eq!(DeadLetterKind::from_index(index), *kind);
        }
        let mut names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DEAD_LETTER_KINDS, "names are unique");
        assert_eq!(DeadLetterKind::EmptyPayload.as_str(), "empty_payload");
        assert_eq!(
            DeadLetterKind::Rejected(RejectKind::NotJson).to_string(),
            "not_json"
        );
    }
}
