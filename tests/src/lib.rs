//! Helpers for ccpulse's end-to-end tests, which run against a real Kafka-protocol
//! broker over TCP (tansu, started by `scripts/kafka.sh` from `scripts/test.sh`).
//!
//! The broker address comes from `CCPULSE_TEST_BROKERS`. Without it these tests fail
//! with a message saying how to start the broker: they never pass by skipping.
//! Every test uses its own topic (and group), so tests can share one broker.
//!
//! # Layout
//! - [`brokers`], [`unique_name`], [`create_topic`]: set-up.
//! - [`consume_all`]: read a topic back from the beginning.
//! - [`Rng`]: a seeded PRNG, so a failing random test can be replayed.
//! - [`aggregate`]: simulate and produce events, run the aggregator, read its tables
//!   (and the raw `events` table) back.
//! - [`query`]: events folded in-process by the aggregator, served to a query engine.
//! - [`browser`]: headless Chromium driven over the DevTools protocol, for tests of the
//!   wallboard page (no broker needed).

pub mod aggregate;
pub mod browser;
pub mod query;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use ccpulse_ingest::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

/// The test broker's address, from `CCPULSE_TEST_BROKERS`.
///
/// # Panics
/// When the variable is unset: the test cannot run without a broker, and must fail
/// loudly rather than pass by skipping.
pub fn brokers() -> String {
    match std::env::var("CCPULSE_TEST_BROKERS") {
        Ok(brokers) if !brokers.trim().is_empty() => brokers,
        _ => panic!(
            "CCPULSE_TEST_BROKERS is not set. Run the tests with `scripts/test.sh`, or start \
             a broker with `scripts/kafka.sh start && source .kafka/env` first."
        ),
    }
}

/// Settings for the test broker with test-friendly consumer latency
/// (`fetch.wait.max.ms=10`: otherwise every empty fetch waits 500 ms).
pub fn test_settings() -> KafkaSettings {
    KafkaSettings::new(brokers()).with("fetch.wait.max.ms", "10")
}

/// A name no other test (in this or another process) uses: `prefix-pid-n-nanos`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// Creates `topic` with `partitions` partitions on the test broker.
pub async fn create_topic(topic: &str, partitions: i32) -> Result<()> {
    test_settings()
        .create_topic(topic, partitions)
        .await
        .with_context(|| format!("creating test topic {topic}"))
}

/// One message read back from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// Reads every partition of `topic` (of a fresh topic, written by one test) from the
/// beginning until `expected` messages have arrived.
///
/// # Errors
/// When fewer than `expected` messages arrive before `deadline` (the error says how
/// many did), or a partition's offsets have a gap.
pub fn consume_all(
    topic: &str,
    partitions: i32,
    expected: usize,
    deadline: Duration,
) -> Result<Vec<Consumed>> {
    let consumer: BaseConsumer = test_settings()
        .with("group.id", unique_name("ccpulse-test-reader"))
        .with("enable.auto.commit", "false")
        .client_config()
        .create()
        .context("creating the test consumer")?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let mut messages = Vec::with_capacity(expected);
    let until = Instant::now() + deadline;
    while messages.len() < expected {
        if Instant::now() > until {
            bail!(
                "only {} of {expected} messages arrived on {topic} within {deadline:?}",
                messages.len()
            );
        }
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.context("consuming the test topic")?;
            messages.push(Consumed {
                partition: message.partition(),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().unwrap_or_default().to_vec(),
            });
        }
    }
    // Offsets must run 0, 1, 2 … per partition: a gap means a message was skipped.
    // (The broker's high watermark would be the natural check, but tansu 0.6.0 reports
    // it as the last batch's base offset + 1, so it is not used.) Duplicates show up as
    // repeated payloads, which callers check.
    for partition in 0..partitions {
        let mut offsets: Vec<i64> = messages
            .iter()
            .filter(|message| message.partition == partition)
            .map(|message| message.offset)
            .collect();
        offsets.sort_unstable();
        if offsets
            .iter()
            .enumerate()
            .any(|(index, &offset)| offset != index as i64)
        {
            bail!("{topic} partition {partition}: offsets are not contiguous from 0");
        }
    }
    Ok(messages)
}

/// A small deterministic PRNG (splitmix64): the same seed gives the same numbers on
/// every platform, so a failing random test can be replayed from its seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
