//! From [`ConfigFile`] to the typed [`Config`]: every value serde cannot check (ranges,
//! addresses, ids, consistency between keys), with every problem reported at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::{ConsumeError, ConsumerSettings, KafkaSettings};
use ccpulse_schemas::settings::TenantSettings;

use super::env::Overrides;
use super::file::{AggregationSection, ConfigFile, ConsumerSection, KafkaSection};
use ccpulse_query::QueryConfig;

use super::{Config, ConfigError, Origin, Problem, ServerConfig};

/// librdkafka properties that have a key of their own, or that the consumer runtime
/// sets itself; in `kafka.properties` they would silently win over (or lose to) it.
const RESERVED_PROPERTIES: [(&str, &str); 10] = [
    ("bootstrap.servers", "set `kafka.brokers` instead"),
    ("group.id", "set `consumer.group_id` instead"),
    (
        "session.timeout.ms",
        "set `consumer.session_timeout` instead",
    ),
    (
        "heartbeat.interval.ms",
        "set `consumer.heartbeat_interval` instead",
    ),
    (
        "max.poll.interval.ms",
        "set `consumer.max_poll_interval` instead",
    ),
    (
        "partition.assignment.strategy",
        "set `consumer.assignment_strategy` instead",
    ),
    (
        "statistics.interval.ms",
        "set `consumer.stats_interval` instead",
    ),
    (
        "enable.auto.commit",
        "ccpulse sets it: offsets are committed only after a checkpoint",
    ),
    (
        "enable.auto.offset.store",
        "ccpulse sets it: offsets are committed only after a checkpoint",
    ),
    (
        "enable.partition.eof",
        "ccpulse sets it: catching up depends on end-of-partition events",
    ),
];

/// Collects problems with the key they are about and the variable behind it.
struct Problems<'a> {
    overrides: &'a Overrides,
    list: Vec<Problem>,
}

impl Problems<'_> {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        let env_var = self.overrides.setter_of(&key).map(str::to_owned);
        self.list.push(Problem {
            key,
            message: message.into(),
            env_var,
        });
    }
}

/// Checks `file` and turns it into a [`Config`].
///
/// # Errors
/// [`ConfigError::Invalid`] listing every problem, each under its key.
pub(super) fn resolve(
    file: ConfigFile,
    origin: Origin,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let mut problems = Problems {
        overrides,
        list: Vec::new(),
    };
    let kafka = kafka_settings(file.kafka, &mut problems);
    let consumer = consumer_settings(file.consumer, &mut problems);
    if file.storage.data_dir.as_os_str().is_empty() {
        problems.push("storage.data_dir", "is empty: give a directory");
    }
    let fold = fold_config(
        &file.aggregation,
        file.tenant_defaults,
        file.tenants,
        &mut problems,
    );
    let listen = match file.server.listen.trim().parse::<SocketAddr>() {
        Ok(listen) => listen,
        Err(_) => {
            problems.push(
                "server.listen",
                format!(
                    "`{}` is not a socket address: expected IP:port such as `127.0.0.1:8080` \
                     or `[::]:8080`",
                    file.server.listen
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], 0))
        }
    };
    for (key, value) in [
        ("server.live_publish_every", file.server.live_publish_every),
        (
            "server.stream_min_interval",
            file.server.stream_min_interval,
        ),
    ] {
        if !(ServerConfig::MIN_PACING..=ServerConfig::MAX_PACING).contains(&value) {
            problems.push(
                key,
                format!(
                    "must be between {} ms and {} s (got {} ms)",
                    ServerConfig::MIN_PACING.as_millis(),
                    ServerConfig::MAX_PACING.as_secs(),
                    value.as_millis()
                ),
            );
        }
    }
    let query = QueryConfig::from(&file.query);
    for (key, message) in query.problems() {
        problems.push(format!("query.{key}"), message);
    }
    if !problems.list.is_empty() {
        return Err(ConfigError::Invalid {
            origin,
            problems: problems.list,
        });
    }
    let source_file = match origin {
        Origin::File(path) => Some(path),
        _ => None,
    };
    Ok(Config {
        kafka,
        consumer,
        data_dir: file.storage.data_dir,
        fold: Arc::new(fold),
        server: ServerConfig {
            listen,
            live_publish_every: file.server.live_publish_every,
            stream_min_interval: file.server.stream_min_interval,
        },
        query,
        source_file,
        env_vars: overrides.vars(),
    })
}

/// The problem with a `kafka.brokers` value, if any (also used for `--brokers`).
/// librdkafka checks the addresses themselves (a port is optional, 9092 by default).
pub(super) fn brokers_problem(brokers: &str) -> Option<String> {
    if brokers.trim().is_empty() {
        Some("is empty: give `host:port[,host:port…]`".to_owned())
    } else if brokers.split(',').any(|broker| broker.trim().is_empty()) {
        Some(format!(
            "`{brokers}` has an empty entry: give a comma-separated `host:port` list"
        ))
    } else {
        None
    }
}

fn kafka_settings(section: KafkaSection, problems: &mut Problems<'_>) -> KafkaSettings {
    if let Some(problem) = brokers_problem(&section.brokers) {
        problems.push("kafka.brokers", problem);
    }
    let mut kafka = KafkaSettings::new(section.brokers);
    for (key, value) in section.properties {
        if key.trim().is_empty() {
            problems.push("kafka.properties", "a property has an empty name");
        } else if let Some((_, why)) = RESERVED_PROPERTIES
            .iter()
            .find(|(reserved, _)| key.trim().eq_ignore_ascii_case(reserved))
        {
            problems.push(format!("kafka.properties.{key}"), *why);
        }
        kafka = kafka.with(key, value);
    }
    kafka
}

fn consumer_settings(section: ConsumerSection, problems: &mut Problems<'_>) -> ConsumerSettings {
    let settings = ConsumerSettings::from(section);
    match settings.validate() {
        Ok(()) => {}
        Err(ConsumeError::InvalidSettings { problems: text }) => {
            let known = toml::Table::try_from(ConsumerSection::default()).unwrap_or_default();
            for problem in text.split("; ") {
                let (key, message) = consumer_key(&known, problem);
                problems.push(key, message);
            }
        }
        Err(other) => problems.push("consumer", other.to_string()),
    }
    settings
}

/// `ConsumerSettings::validate` starts each problem with the field's name, which is
/// also its key here (`known` holds the section's keys): `checkpoint_interval must be > 0` → (`consumer.checkpoint_interval`,
/// `must be > 0`).
fn consumer_key(known: &toml::Table, problem: &str) -> (String, String) {
    match problem.split_once(' ') {
        Some((field, rest)) if known.contains_key(field) => {
            (format!("consumer.{field}"), rest.to_owned())
        }
        _ => ("consumer".to_owned(), problem.to_owned()),
    }
}

/// The largest window the fold can hold (its milliseconds are an `i64`).
fn window_ms(key: &str, window: Duration, problems: &mut Problems<'_>) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or_else(|_| {
        problems.push(key, "is too long a duration");
        0
    })
}

#[allow(
    clippy::needless_update,
    reason = "fields FoldConfig gains later keep its defaults until they get a key"
)]
fn fold_config(
    aggregation: &AggregationSection,
    tenant_defaults: TenantSettings,
    tenants: std::collections::BTreeMap<String, TenantSettings>,
    problems: &mut Problems<'_>,
) -> FoldConfig {
    let allowed_lateness_ms = window_ms(
        "aggregation.allowed_lateness",
        aggregation.allowed_lateness,
        problems,
    );
    let survey_window_ms = window_ms(
        "aggregation.survey_window",
        aggregation.survey_window,
        problems,
    );
    let stale_after_ms = window_ms("aggregation.stale_after", aggregation.stale_after, problems);
    if aggregation.stale_after < Duration::from_millis(1) {
        problems.push(
            "aggregation.stale_after",
            "must be at least 1ms: every idle interaction would be closed as stale at once",
        );
    }
    tenant_problems("tenant_defaults", &tenant_defaults, problems);
    for (id, settings) in &tenants {
        let key = format!("tenants.{id}");
        if !is_tenant_id(id) {
            problems.push(
                key.clone(),
                format!(
                    "`{id}` is not a tenant id: expected 1–64 characters of [A-Za-z0-9_.-], \
                     as in the events' `tenant_id`"
                ),
            );
        }
        tenant_problems(&key, settings, problems);
    }
    FoldConfig {
        allowed_lateness_ms,
        survey_window_ms,
        stale_after_ms,
        tenants,
        default_tenant: tenant_defaults,
        ..FoldConfig::default()
    }
}

/// `TenantSettings::validate` names the field relative to the tenant
/// (`queues.sales.sl_target_pct: …`); the key here adds where the tenant is.
fn tenant_problems(prefix: &str, settings: &TenantSettings, problems: &mut Problems<'_>) {
    if let Err(problem) = settings.validate() {
        match problem.split_once(": ") {
            Some((field, message)) => problems.push(format!("{prefix}.{field}"), message),
            None => problems.push(prefix, problem),
        }
    }
}

/// The contract's `tenant_id`: 1–64 characters of `[A-Za-z0-9_.-]`.
fn is_tenant_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}
