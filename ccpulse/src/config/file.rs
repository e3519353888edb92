//! [`ConfigFile`]: the configuration as written in TOML, one struct per section, with the
//! built-in defaults. Every struct denies unknown keys, so a typo fails at start-up
//! instead of silently keeping a default.
//!
//! The defaults of the consumer, aggregation and query sections are those of the library
//! types they become (`ConsumerSettings::default()`, `FoldConfig::default()`,
//! `QueryConfig::default()`), so each
//! default is written down in one place only.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ccpulse_dashboard_api::StreamConfig;
use ccpulse_ingest::ConsumerSettings;
use ccpulse_ingest::aggregate::AggregatorSettings;
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_query::{QueryConfig, QueryLimits};
use ccpulse_schemas::settings::TenantSettings;
use serde::{Deserialize, Serialize};

/// The whole file. Every section may be left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ConfigFile {
    pub(crate) kafka: KafkaSection,
    pub(crate) consumer: ConsumerSection,
    pub(crate) storage: StorageSection,
    pub(crate) aggregation: AggregationSection,
    /// Settings of every tenant not listed under `tenants`.
    pub(crate) tenant_defaults: TenantSettings,
    /// Settings per tenant id, each already merged over `tenant_defaults` (see
    /// `inherit_tenant_defaults`).
    pub(crate) tenants: BTreeMap<String, TenantSettings>,
    pub(crate) server: ServerSection,
    pub(crate) query: QuerySection,
}

/// `[kafka]`: where the brokers are and how to talk to them (producers and consumers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct KafkaSection {
    /// Comma-separated `host:port` list (`bootstrap.servers`). Default `127.0.0.1:9092`,
    /// a broker on this machine.
    pub(crate) brokers: String,
    /// Extra librdkafka properties (security, timeouts, …), applied after ccpulse's own
    /// defaults. Numbers and booleans are accepted and passed on as strings.
    #[serde(deserialize_with = "property_values")]
    pub(crate) properties: BTreeMap<String, String>,
}

pub(crate) fn default_brokers() -> String {
    "127.0.0.1:9092".to_owned()
}

impl Default for KafkaSection {
    fn default() -> Self {
        Self {
            brokers: default_brokers(),
            properties: BTreeMap::new(),
        }
    }
}

/// `[consumer]`: the consumer runtime's own knobs; see
/// [`ConsumerSettings`] for what each one does and why its default is what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ConsumerSection {
    /// The events topic.
    pub(crate) topic: String,
    /// Where messages that are not valid events go.
    pub(crate) dead_letter_topic: String,
    /// Consumer group id (`group.id`).
    pub(crate) group_id: String,
    /// `partition.assignment.strategy`.
    pub(crate) assignment_strategy: String,
    /// Checkpoint a partition after this many messages…
    pub(crate) checkpoint_every_messages: u64,
    /// … or this long after its first message not yet checkpointed.
    #[serde(with = "crate::duration::human")]
    pub(crate) checkpoint_interval: Duration,
    /// The next checkpoint waits at least this many times the last one's duration.
    pub(crate) checkpoint_pause_factor: u32,
    /// `session.timeout.ms`.
    #[serde(with = "crate::duration::human")]
    pub(crate) session_timeout: Duration,
    /// `heartbeat.interval.ms`; at most a third of `session_timeout`.
    #[serde(with = "crate::duration::human")]
    pub(crate) heartbeat_interval: Duration,
    /// `max.poll.interval.ms`: bounds a checkpoint during a rebalance.
    #[serde(with = "crate::duration::human")]
    pub(crate) max_poll_interval: Duration,
    /// Messages per batch handed to a partition's worker.
    pub(crate) max_batch_messages: usize,
    /// Batches queued per partition worker before polling waits.
    pub(crate) worker_queue_batches: usize,
    /// `statistics.interval.ms` (lag reporting); `"0s"` turns it off.
    #[serde(with = "crate::duration::human")]
    pub(crate) stats_interval: Duration,
    /// The longest the poll loop waits before it looks at cancellation again.
    #[serde(with = "crate::duration::human")]
    pub(crate) poll_timeout: Duration,
    /// The dead-letter producer's `message.max.bytes`.
    pub(crate) dead_letter_max_message_bytes: usize,
    /// How much of an oversized payload a truncated dead letter keeps.
    pub(crate) dead_letter_truncate_bytes: usize,
}

impl Default for ConsumerSection {
    fn default() -> Self {
        Self::from(&ConsumerSettings::default())
    }
}

impl From<&ConsumerSettings> for ConsumerSection {
    fn from(settings: &ConsumerSettings) -> Self {
        Self {
            topic: settings.topic.clone(),
            dead_letter_topic: settings.dead_letter_topic.clone(),
            group_id: settings.group_id.clone(),
            assignment_strategy: settings.assignment_strategy.clone(),
            checkpoint_every_messages: settings.checkpoint_every_messages,
            checkpoint_interval: settings.checkpoint_interval,
            checkpoint_pause_factor: settings.checkpoint_pause_factor,
            session_timeout: settings.session_timeout,
            heartbeat_interval: settings.heartbeat_interval,
            max_poll_interval: settings.max_poll_interval,
            max_batch_messages: settings.max_batch_messages,
            worker_queue_batches: settings.worker_queue_batches,
            stats_interval: settings.stats_interval,
            poll_timeout: settings.poll_timeout,
            dead_letter_max_message_bytes: settings.dead_letter_max_message_bytes,
            dead_letter_truncate_bytes: settings.dead_letter_truncate_bytes,
        }
    }
}

impl From<ConsumerSection> for ConsumerSettings {
    #[allow(
        clippy::needless_update,
        reason = "knobs ConsumerSettings gains later keep its defaults until they get a key"
    )]
    fn from(section: ConsumerSection) -> Self {
        Self {
            topic: section.topic,
            dead_letter_topic: section.dead_letter_topic,
            group_id: section.group_id,
            assignment_strategy: section.assignment_strategy,
            checkpoint_every_messages: section.checkpoint_every_messages,
            checkpoint_interval: section.checkpoint_interval,
            checkpoint_pause_factor: section.checkpoint_pause_factor,
            session_timeout: section.session_timeout,
            heartbeat_interval: section.heartbeat_interval,
            max_poll_interval: section.max_poll_interval,
            max_batch_messages: section.max_batch_messages,
            worker_queue_batches: section.worker_queue_batches,
            stats_interval: section.stats_interval,
            poll_timeout: section.poll_timeout,
            dead_letter_max_message_bytes: section.dead_letter_max_message_bytes,
            dead_letter_truncate_bytes: section.dead_letter_truncate_bytes,
            ..ConsumerSettings::default()
        }
    }
}

/// `[storage]`: where the data lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct StorageSection {
    /// Parquet segments, checkpoints and the manifest. A relative path is relative to
    /// the working directory. Default `./ccpulse-data`: beside wherever ccpulse runs, so
    /// a first try needs no set-up.
    pub(crate) data_dir: PathBuf,
}

pub(crate) fn default_data_dir() -> PathBuf {
    PathBuf::from("./ccpulse-data")
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
        }
    }
}

/// `[aggregation]`: the fold's windows, in event time; see [`FoldConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AggregationSection {
    /// How late an event may arrive and still count.
    #[serde(with = "crate::duration::human")]
    pub(crate) allowed_lateness: Duration,
    /// How long a closed interaction still accepts events such as surveys.
    #[serde(with = "crate::duration::human")]
    pub(crate) survey_window: Duration,
    /// An interaction with open visits and no event for this long is closed as stale.
    #[serde(with = "crate::duration::human")]
    pub(crate) stale_after: Duration,
}

impl Default for AggregationSection {
    fn default() -> Self {
        Self::from(&FoldConfig::default())
    }
}

impl From<&FoldConfig> for AggregationSection {
    fn from(fold: &FoldConfig) -> Self {
        Self {
            allowed_lateness: duration_from_ms(fold.allowed_lateness_ms),
            survey_window: duration_from_ms(fold.survey_window_ms),
            stale_after: duration_from_ms(fold.stale_after_ms),
        }
    }
}

/// The fold keeps windows as signed milliseconds; they are never negative.
fn duration_from_ms(ms: i64) -> Duration {
    Duration::from_millis(ms.unsigned_abs())
}

/// `[server]`: the HTTP API (read now so that it is validated from the start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ServerSection {
    /// `IP:port` to listen on. Default `127.0.0.1:8080`: this machine only, until an
    /// operator decides to expose it.
    pub(crate) listen: String,
    /// How often each partition republishes its live observations for the API and the
    /// stream (`AggregatorSettings::publish_every`). Default 250 ms.
    #[serde(with = "crate::duration::human")]
    pub(crate) live_publish_every: Duration,
    /// Least time between two messages of one stream subscription
    /// (`StreamConfig::min_interval`). Default 250 ms.
    #[serde(with = "crate::duration::human")]
    pub(crate) stream_min_interval: Duration,
}

pub(crate) fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            live_publish_every: AggregatorSettings::default().publish_every,
            stream_min_interval: StreamConfig::default().min_interval,
        }
    }
}

/// `[query]`: analyst SQL (`ccpulse sql`, the HTTP API, reports); see [`QueryConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct QuerySection {
    /// Threads of the query runtime, apart from ingest's.
    pub(crate) threads: usize,
    /// Streams a scan or aggregate is split into.
    pub(crate) target_partitions: usize,
    /// Longest a query may run, from planning to its last row.
    #[serde(with = "crate::duration::human")]
    pub(crate) time_limit: Duration,
    /// Most rows a query may return.
    pub(crate) max_rows: usize,
    /// Memory of one query's operators; no spilling to disk.
    pub(crate) memory_limit_bytes: usize,
    /// Queries running at once; more wait for a slot.
    pub(crate) max_concurrent: usize,
    /// Longest a streamed download (report or SQL export) may take.
    #[serde(with = "crate::duration::human")]
    pub(crate) export_time_limit: Duration,
    /// Most rows a streamed download may hold.
    pub(crate) export_max_rows: usize,
}

impl Default for QuerySection {
    fn default() -> Self {
        Self::from(&QueryConfig::default())
    }
}

impl From<&QueryConfig> for QuerySection {
    fn from(config: &QueryConfig) -> Self {
        Self {
            threads: config.threads,
            target_partitions: config.target_partitions,
            time_limit: config.limits.time_limit,
            max_rows: config.limits.max_rows,
            memory_limit_bytes: config.limits.memory_limit_bytes,
            max_concurrent: config.limits.max_concurrent,
            export_time_limit: config.limits.export_time_limit,
            export_max_rows: config.limits.export_max_rows,
        }
    }
}

impl From<&QuerySection> for QueryConfig {
    fn from(section: &QuerySection) -> Self {
        Self {
            threads: section.threads,
            target_partitions: section.target_partitions,
            limits: QueryLimits {
                time_limit: section.time_limit,
                max_rows: section.max_rows,
                memory_limit_bytes: section.memory_limit_bytes,
                max_concurrent: section.max_concurrent,
                export_time_limit: section.export_time_limit,
                export_max_rows: section.export_max_rows,
            },
        }
    }
}

/// librdkafka takes every property as a string; `retries = 5` is as good as `"5"`.
fn property_values<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, PropertyValue>::deserialize(deserializer)?;
    Ok(map.into_iter().map(|(key, value)| (key, value.0)).collect())
}

struct PropertyValue(String);

impl<'de> Deserialize<'de> for PropertyValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PropertyVisitor)
    }
}

struct PropertyVisitor;

impl serde::de::Visitor<'_> for PropertyVisitor {
    type Value = PropertyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a librdkafka property value (a string, number or boolean)")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<PropertyValue, E> {
        Ok(PropertyValue(value.to_owned()))
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<PropertyValue, E> {
        Ok(PropertyValue(value.to_string()))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<PropertyValue, E> {
        Ok(PropertyValue(value.to_string()))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<PropertyValue, E> {
        Ok(PropertyValue(value.to_string()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<PropertyValue, E> {
        Ok(PropertyValue(value.to_string()))
    }
}
