//! The configuration of ccpulse: one TOML file (every key is listed, with its default, in
//! `config/ccpulse.example.toml`) plus `CCPULSE__SECTION__KEY` environment overrides,
//! checked in full at start-up and turned into the settings the library crates take.
//!
//! Commands that need it call [`load_from_process`] (or [`load`] with an explicit
//! environment, as the tests do), then [`Config::apply_flags`] with their own flags, and
//! hand each crate its part: [`Config::kafka`], [`Config::consumer`], [`Config::fold`],
//! [`Config::data_dir`], [`Config::server`], [`Config::query`].
//!
//! # Layout
//! - `file`: the TOML shape, one struct per section, with the built-in defaults.
//! - `env`: the environment overrides, and which variable is behind an error.
//! - `validate`: from the TOML shape to [`Config`], reporting every problem at once.
//! - `error`: [`ConfigError`].

mod env;
mod error;
mod file;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::{ConsumerSettings, KafkaSettings};
use serde_path_to_error::Segment;
use toml::{Table, Value};

use ccpulse_query::QueryConfig;
use env::Overrides;
pub(crate) use error::{ConfigError, Origin, Problem};
use file::{
    AggregationSection, ConfigFile, KafkaSection, QuerySection, ServerSection, StorageSection,
};

/// What a redacted librdkafka property shows instead of its value.
const REDACTED: &str = "***";

/// The loaded, validated configuration. Its `Debug` output redacts secrets.
#[derive(Clone)]
pub(crate) struct Config {
    /// Brokers and extra librdkafka properties, for producers and consumers.
    pub(crate) kafka: KafkaSettings,
    /// The consumer runtime's settings, already checked with
    /// [`ConsumerSettings::validate`].
    pub(crate) consumer: ConsumerSettings,
    /// Where Parquet segments, checkpoints and the manifest live.
    pub(crate) data_dir: PathBuf,
    /// The fold's windows and every tenant's settings; shared by all partition workers.
    pub(crate) fold: Arc<FoldConfig>,
    /// The HTTP API.
    pub(crate) server: ServerConfig,
    /// Analyst SQL: the query runtime and each query's limits, checked.
    pub(crate) query: QueryConfig,
    /// The file the configuration was read from, if any.
    pub(crate) source_file: Option<PathBuf>,
    /// The `CCPULSE__…` variables that were applied, in the order they were applied.
    pub(crate) env_vars: Vec<String>,
}

/// `[server]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerConfig {
    /// Address the HTTP API listens on.
    pub(crate) listen: SocketAddr,
    /// How often each partition republishes its live observations (between
    /// [`ServerConfig::MIN_PACING`] and [`ServerConfig::MAX_PACING`]).
    pub(crate) live_publish_every: Duration,
    /// Least time between two messages of one stream subscription (same bounds).
    pub(crate) stream_min_interval: Duration,
}

impl ServerConfig {
    /// Shortest pacing interval accepted: below it, republishing and diffing for every
    /// client costs CPU for changes no one can see.
    pub(crate) const MIN_PACING: Duration = Duration::from_millis(10);
    /// Longest pacing interval accepted: a live wallboard a minute behind is not live.
    pub(crate) const MAX_PACING: Duration = Duration::from_secs(60);
}

/// Values given on the command line: the highest layer.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlagOverrides {
    /// `--brokers`: replaces `kafka.brokers`.
    pub(crate) brokers: Option<String>,
    /// `--data-dir`: replaces `storage.data_dir`.
    pub(crate) data_dir: Option<PathBuf>,
}

/// Loads the configuration from the file at `path` (none: built-in defaults only) and
/// the `CCPULSE__…` variables among `env`, then checks it.
///
/// Layers, lowest to highest: built-in defaults < the file (`--config`) < environment
/// variables `CCPULSE__SECTION__KEY` < command-line flags (applied afterwards by the
/// command, with [`Config::apply_flags`]). The overrides are applied to the parsed TOML
/// tree, so they pass exactly the checks the file passes.
///
/// # Errors
/// [`ConfigError::ReadFile`], [`ConfigError::ParseFile`] (with line and column),
/// [`ConfigError::EnvOverride`], [`ConfigError::Deserialize`] (a wrong type or unknown
/// key, naming the key and the file or variable), or [`ConfigError::Invalid`] listing
/// every value out of range.
pub(crate) fn load(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut tree = match path {
        Some(path) => read_file(path)?,
        None => Table::new(),
    };
    let origin = path.map_or(Origin::Defaults, |path| Origin::File(path.to_owned()));
    let mut overrides = Overrides::apply(&mut tree, env)?;
    inherit_tenant_defaults(&mut tree);
    let file = deserialize(tree, &origin, &mut overrides)?;
    validate::resolve(file, origin, &overrides)
}

/// [`load`] with this process's environment.
///
/// # Errors
/// As [`load`], and [`ConfigError::EnvNotUnicode`].
pub(crate) fn load_from_process(path: Option<&Path>) -> Result<Config, ConfigError> {
    load(path, process_env()?)
}

/// The `CCPULSE__…` variables of this process (the others are of no interest here).
///
/// # Errors
/// [`ConfigError::EnvNotUnicode`] for such a variable whose value is not UTF-8.
pub(crate) fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let lossy = name.to_string_lossy();
        if !env::is_override(&lossy) {
            continue;
        }
        match (name.to_str(), value.into_string()) {
            (Some(name), Ok(value)) => vars.push((name.to_owned(), value)),
            _ => {
                return Err(ConfigError::EnvNotUnicode {
                    var: lossy.into_owned(),
                });
            }
        }
    }
    Ok(vars)
}

fn read_file(path: &Path) -> Result<Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<Table>()
        .map_err(|source| ConfigError::ParseFile {
            path: path.to_owned(),
            source,
        })
}

/// The typed file shape from the tree, naming the key (and the variable, when an
/// override is to blame) of the first value that does not fit.
fn deserialize(
    mut tree: Table,
    origin: &Origin,
    overrides: &mut Overrides,
) -> Result<ConfigFile, ConfigError> {
    loop {
        let error = match serde_path_to_error::deserialize(Value::Table(tree.clone())) {
            Ok(file) => return Ok(file),
            Err(error) => error,
        };
        let path: Vec<String> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                Segment::Map { key } => Some(key.clone()),
                Segment::Seq { index } => Some(format!("[{index}]")),
                _ => None,
            })
            .collect();
        // Bounded: each override is retried at most once.
        if overrides.retry_as_string(&mut tree, &path) {
            continue;
        }
        let origin = overrides
            .blame(&path)
            .map_or_else(|| origin.clone(), |var| Origin::Env(var.to_owned()));
        return Err(ConfigError::Deserialize {
            origin,
            key: dotted(&path),
            message: error.inner().message().trim().to_owned(),
        });
    }
}

/// Every table under `[tenants]` inherits what it leaves out from `[tenant_defaults]`:
/// tables merge key by key (so `queue_defaults` and `queues.<id>` merge too), the
/// tenant's values win, and a `business_hours` plan is replaced whole (its two shapes
/// must not mix). Runs on the tree, before typing, so a merged value is checked like a
/// written one (under `tenant_defaults`, which is read first, when it is at fault).
fn inherit_tenant_defaults(tree: &mut Table) {
    let Some(Value::Table(defaults)) = tree.get("tenant_defaults").cloned() else {
        return;
    };
    let Some(Value::Table(tenants)) = tree.get_mut("tenants") else {
        return;
    };
    for (_, tenant) in tenants.iter_mut() {
        if let Value::Table(settings) = tenant {
            let mut merged = defaults.clone();
            merge_over(&mut merged, std::mem::take(settings));
            *settings = merged;
        }
    }
}

/// `over`'s keys onto `base`, recursively for tables except `business_hours`.
fn merge_over(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_table)), Value::Table(over_table))
                if key != "business_hours" =>
            {
                merge_over(base_table, over_table);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `tenants.acme.queues` and `days[0]`.
fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if !out.is_empty() && !segment.starts_with('[') {
            out.push('.');
        }
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push_str("(top level)");
    }
    out
}

fn redacted(properties: &[(String, String)]) -> Vec<(String, String)> {
    properties
        .iter()
        .map(|(key, value)| {
            let value = if KafkaSettings::is_secret(key) {
                REDACTED.to_owned()
            } else {
                value.clone()
            };
            (key.clone(), value)
        })
        .collect()
}

impl Config {
    /// Applies the command-line flags over everything loaded.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] (origin [`Origin::Flags`]) for an empty value.
    pub(crate) fn apply_flags(&mut self, flags: FlagOverrides) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if let Some(brokers) = flags.brokers {
            match validate::brokers_problem(&brokers) {
                Some(message) => problems.push(Problem {
                    key: "kafka.brokers (--brokers)".to_owned(),
                    message,
                    env_var: None,
                }),
                None => self.kafka.brokers = brokers,
            }
        }
        if let Some(data_dir) = flags.data_dir {
            if data_dir.as_os_str().is_empty() {
                problems.push(Problem {
                    key: "storage.data_dir (--data-dir)".to_owned(),
                    message: "is empty: give a directory".to_owned(),
                    env_var: None,
                });
            } else {
                self.data_dir = data_dir;
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                origin: Origin::Flags,
                problems,
            })
        }
    }

    /// The configuration in effect, in the shape of the file.
    fn to_file(&self) -> ConfigFile {
        ConfigFile {
            kafka: KafkaSection {
                brokers: self.kafka.brokers.clone(),
                // Later entries win, as in librdkafka.
                properties: self.kafka.properties.iter().cloned().collect(),
            },
            consumer: (&self.consumer).into(),
            storage: StorageSection {
                data_dir: self.data_dir.clone(),
            },
            aggregation: AggregationSection::from(&*self.fold),
            tenant_defaults: self.fold.default_tenant.clone(),
            tenants: self.fold.tenants.clone(),
            server: ServerSection {
                listen: self.server.listen.to_string(),
                live_publish_every: self.server.live_publish_every,
                stream_min_interval: self.server.stream_min_interval,
            },
            query: QuerySection::from(&self.query),
        }
    }

    /// The configuration in effect as TOML, every key written out, with the values of
    /// secret librdkafka properties replaced by `"***"`.
    ///
    /// # Errors
    /// [`ConfigError::Render`] when a value has no TOML form (a data directory that is
    /// not UTF-8).
    pub(crate) fn to_redacted_toml(&self) -> Result<String, ConfigError> {
        let mut file = self.to_file();
        file.kafka.properties = redacted(&self.kafka.properties).into_iter().collect();
        toml::to_string_pretty(&file).map_err(|source| ConfigError::Render { source })
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kafka = KafkaSettings::new(self.kafka.brokers.clone());
        kafka.properties = redacted(&self.kafka.properties);
        f.debug_struct("Config")
            .field("kafka", &kafka)
            .field("consumer", &self.consumer)
            .field("data_dir", &self.data_dir)
            .field("fold", &self.fold)
            .field("server", &self.server)
            .field("query", &self.query)
            .field("source_file", &self.source_file)
            .field("env_vars", &self.env_vars)
            .finish()
    }
}

#[cfg(test)]
mod tests;
