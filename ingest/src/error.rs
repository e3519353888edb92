//! The crate's error type: one variant per failure site.

use rdkafka::error::KafkaError;

/// Errors of the Kafka side of ccpulse. Bad *events* are never errors here: they are
/// reported per line or sent to the dead-letter topic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The producer could not be created (bad settings, unresolvable broker list).
    #[error("creating the Kafka producer for brokers `{brokers}`")]
    CreateProducer {
        brokers: String,
        #[source]
        source: KafkaError,
    },
    /// The admin client could not be created.
    #[error("creating the Kafka admin client for brokers `{brokers}`")]
    CreateAdmin {
        brokers: String,
        #[source]
        source: KafkaError,
    },
    /// The broker refused to create a topic, or did not answer in time.
    #[error("creating topic `{topic}`")]
    CreateTopic {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// A message could not be handed to the producer (for example, too large).
    #[error("producing to topic `{topic}`")]
    Produce {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// Messages were not acknowledged by the broker; `failed` of them are lost.
    #[error("{failed} message(s) to topic `{topic}` were not delivered; first failure")]
    Delivery {
        topic: String,
        failed: u64,
        #[source]
        source: KafkaError,
    },
    /// Reading an NDJSON input failed.
    #[error("reading `{source_name}`")]
    ReadInput {
        source_name: String,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
