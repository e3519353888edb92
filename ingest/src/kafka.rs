//! Kafka client settings shared by every ccpulse producer and consumer, and topic
//! creation for set-up scripts and tests.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::{Error, Result};

/// Where the brokers are and how to talk to them. Its `Debug` output hides the values of
/// properties that hold secrets ([`KafkaSettings::is_secret`]).
#[derive(Clone)]
pub struct KafkaSettings {
    /// Comma-separated `host:port` list (`bootstrap.servers`).
    pub brokers: String,
    /// Extra librdkafka properties, applied last (they win over ccpulse's defaults).
    pub properties: Vec<(String, String)>,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let properties: Vec<(&str, &str)> = self
            .properties
            .iter()
            .map(|(key, value)| {
                let shown = if Self::is_secret(key) { "***" } else { value };
                (key.as_str(), shown)
            })
            .collect();
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("properties", &properties)
            .finish()
    }
}

impl KafkaSettings {
    /// Whether a librdkafka property holds a secret (`sasl.password`,
    /// `ssl.key.password`, `sasl.oauthbearer.client.secret`, …): its name contains
    /// `password`, `secret` or `key` (case-insensitive).
    pub fn is_secret(property: &str) -> bool {
        let property = property.to_ascii_lowercase();
        ["password", "secret", "key"]
            .iter()
            .any(|word| property.contains(word))
    }

    /// Settings for `brokers` with ccpulse's defaults.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            properties: Vec::new(),
        }
    }

    /// Adds a librdkafka property that overrides ccpulse's default for it.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// The librdkafka configuration: bootstrap servers, then the overrides.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    /// Creates `topic` with `partitions` partitions (replication 1). A topic that
    /// already exists is not an error, so set-up can be re-run.
    ///
    /// # Errors
    /// [`Error::CreateAdmin`] or [`Error::CreateTopic`].
    pub async fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> =
            self.client_config()
                .create()
                .map_err(|source| Error::CreateAdmin {
                    brokers: self.brokers.clone(),
                    source,
                })?;
        let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|source| Error::CreateTopic {
                topic: topic.to_owned(),
                source,
            })?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(Error::CreateTopic {
                        topic: topic.to_owned(),
                        source: KafkaError::AdminOp(code),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::KafkaSettings;

    #[test]
    fn debug_output_hides_secret_properties() {
        let settings = KafkaSettings::new("b:9092")
            .with("sasl.password", "hunter2")
            .with("ssl.key.password", "s3cret")
            .with("client.id", "ccpulse-1");
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert!(
            shown.contains("ccpulse-1") && shown.contains("b:9092"),
            "{shown}"
        );
    }
}
