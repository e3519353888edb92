//! [`EventProducer`]: puts contract events on the events topic, keyed by tenant.
//!
//! Throughput comes from librdkafka's batching (`linger.ms`, large batches) and
//! compression; this wrapper only keeps a bounded number of deliveries in flight and
//! counts what the broker acknowledged, so a caller learns about every lost message.

use futures::FutureExt;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::time::Duration;

use crate::{Error, KafkaSettings, Result};

/// Deliveries awaited at most at once; beyond it `send` waits for acknowledgements,
/// which slows the caller down to the broker's pace instead of growing memory.
const MAX_IN_FLIGHT: usize = 200_000;

/// How often (in sends) completed deliveries are collected without waiting.
const REAP_EVERY: u64 = 1024;

/// ccpulse's producer defaults; [`KafkaSettings::properties`] override them.
///
/// - `linger.ms=10`: lets batches fill. Single-record requests are slow on every
///   broker (and tansu falls behind on them).
/// - `compression.codec=lz4`: cheap on CPU, ~4× smaller JSON on the wire.
/// - `acks=all`: a message counts as delivered only once the broker has it.
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("linger.ms", "10"),
    ("batch.num.messages", "10000"),
    ("batch.size", "1000000"),
    ("compression.codec", "lz4"),
    ("acks", "all"),
    ("queue.buffering.max.messages", "500000"),
    ("message.timeout.ms", "60000"),
];

/// Counts of one producer's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProduceStats {
    /// Messages handed to librdkafka.
    pub sent: u64,
    /// Messages the broker acknowledged.
    pub delivered: u64,
    /// Messages that failed delivery (lost unless re-sent).
    pub failed: u64,
    /// Payload bytes handed to librdkafka.
    pub bytes: u64,
}

/// A producer of event messages to one topic.
pub struct EventProducer {
    producer: FutureProducer,
    topic: String,
    in_flight: FuturesUnordered<DeliveryFuture>,
    stats: ProduceStats,
    first_failure: Option<KafkaError>,
}

impl std::fmt::Debug for EventProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventProducer")
            .field("topic", &self.topic)
            .field("in_flight", &self.in_flight.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl EventProducer {
    /// A producer to `topic` with ccpulse's defaults overridden by `settings`.
    ///
    /// # Errors
    /// [`Error::CreateProducer`] when librdkafka rejects the configuration.
    pub fn new(settings: &KafkaSettings, topic: impl Into<String>) -> Result<Self> {
        let mut config = settings.client_config();
        for &(key, value) in PRODUCER_DEFAULTS {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        let producer = config.create().map_err(|source| Error::CreateProducer {
            brokers: settings.brokers.clone(),
            source,
        })?;
        Ok(Self {
            producer,
            topic: topic.into(),
            in_flight: FuturesUnordered::new(),
            stats: ProduceStats::default(),
            first_failure: None,
        })
    }

    /// The topic this producer writes to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Counts so far (deliveries still in flight are in `sent` only).
    pub fn stats(&self) -> ProduceStats {
        self.stats
    }

    /// Queues one message. Waits only when librdkafka's queue or the in-flight bound
    /// is full.
    ///
    /// # Errors
    /// [`Error::Produce`] when the message cannot be queued at all (for example larger
    /// than `message.max.bytes`). Delivery failures are reported by [`Self::finish`].
    pub async fn send(&mut self, key: &str, payload: &[u8]) -> Result<()> {
        loop {
            let record = FutureRecord::to(&self.topic).key(key).payload(payload);
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.in_flight.push(delivery);
                    self.stats.sent += 1;
                    self.stats.bytes += payload.len() as u64;
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.await_one_delivery().await;
                }
                Err((source, _)) => {
                    return Err(Error::Produce {
                        topic: self.topic.clone(),
                        source,
                    });
                }
            }
        }
        if self.stats.sent.is_multiple_of(REAP_EVERY) {
            while let Some(Some(outcome)) = self.in_flight.next().now_or_never() {
                self.record(outcome);
            }
        }
        while self.in_flight.len() >= MAX_IN_FLIGHT {
            self.await_one_delivery().await;
        }
        Ok(())
    }

    /// Waits for every queued message to be acknowledged (or to fail). Every message
    /// has a delivery future here, so once they have all resolved librdkafka's queue is
    /// empty: no separate flush is needed.
    ///
    /// # Errors
    /// [`Error::Delivery`] when any message was not delivered, with the count and the
    /// first failure.
    pub async fn finish(mut self) -> Result<ProduceStats> {
        while let Some(outcome) = self.in_flight.next().await {
            self.record(outcome);
        }
        match self.first_failure.take() {
            Some(source) => Err(Error::Delivery {
                topic: self.topic,
                failed: self.stats.failed,
                source,
            }),
            None => Ok(self.stats),
        }
    }

    async fn await_one_delivery(&mut self) {
        match self.in_flight.next().await {
            Some(outcome) => self.record(outcome),
            // Queue full with nothing of ours in flight: librdkafka is busy with
            // retries; give it a moment.
            None => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }

    fn record(
        &mut self,
        outcome: Result<
            rdkafka::producer::future_producer::OwnedDeliveryResult,
            futures::channel::oneshot::Canceled,
        >,
    ) {
        match outcome {
            Ok(Ok(_)) => self.stats.delivered += 1,
            Ok(Err((error, _))) => {
                self.stats.failed += 1;
                self.first_failure.get_or_insert(error);
            }
            Err(_canceled) => {
                self.stats.failed += 1;
                self.first_failure.get_or_insert(KafkaError::Canceled);
            }
        }
    }
}
