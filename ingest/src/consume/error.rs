//! [`ConsumeError`]: why the consumer runtime stopped. Bad messages are never errors
//! here: they go to the dead-letter topic.

use rdkafka::error::KafkaError;

use super::pipeline::BoxError;

/// An infrastructure failure that ends [`crate::consume::run`]. Each variant names the
/// operation that failed and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumeError {
    /// [`crate::consume::ConsumerSettings::validate`] found problems.
    #[error("invalid consumer settings: {problems}")]
    InvalidSettings { problems: String },
    /// librdkafka rejected the consumer configuration.
    #[error("creating the Kafka consumer for brokers `{brokers}`")]
    CreateConsumer {
        brokers: String,
        #[source]
        source: KafkaError,
    },
    /// librdkafka rejected the dead-letter producer configuration.
    #[error("creating the dead-letter producer for brokers `{brokers}`")]
    CreateDeadLetterProducer {
        brokers: String,
        #[source]
        source: KafkaError,
    },
    /// The topic's metadata (its partitions) could not be read.
    #[error("reading the metadata of topic `{topic}`")]
    FetchMetadata {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// The topic does not exist (or has no partitions). The runtime does not create it:
    /// a typo in the name must not silently start an empty pipeline.
    #[error("topic `{topic}` does not exist on the brokers")]
    TopicNotFound { topic: String },
    /// Subscribing to the topic failed.
    #[error("subscribing to topic `{topic}`")]
    Subscribe {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// A fatal consumer error (for example, fenced by a newer member instance).
    #[error("consuming topic `{topic}`")]
    Consume {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// Taking or giving back partitions failed.
    #[error("applying a rebalance of topic `{topic}`")]
    Rebalance {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// [`crate::consume::Pipeline::open`] failed for an assigned partition.
    #[error("opening partition {partition} of `{topic}` (loading its checkpoint)")]
    OpenPartition {
        topic: String,
        partition: i32,
        #[source]
        source: BoxError,
    },
    /// [`crate::consume::PartitionWorker::checkpoint`] failed. Nothing after the
    /// previous checkpoint is committed; the runtime stops rather than risk losing it.
    #[error("checkpointing partition {partition} of `{topic}` up to offset {next_offset}")]
    Checkpoint {
        topic: String,
        partition: i32,
        next_offset: i64,
        #[source]
        source: BoxError,
    },
    /// A dead letter was not acknowledged by the broker, so the offset that covers it
    /// cannot be committed.
    #[error(
        "sending the message at partition {source_partition}, offset {source_offset} to \
         the dead-letter topic `{dead_letter_topic}`"
    )]
    DeadLetter {
        dead_letter_topic: String,
        source_partition: i32,
        source_offset: i64,
        #[source]
        source: KafkaError,
    },
    /// A thread could not be started.
    #[error("starting thread `{name}`")]
    SpawnThread {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// A partition worker panicked (a bug in the pipeline): its state is gone and
    /// nothing after its last checkpoint is committed.
    #[error("the worker of partition {partition} of `{topic}` panicked: {message}")]
    WorkerPanicked {
        topic: String,
        partition: i32,
        message: String,
    },
    /// The poll thread panicked (a bug in the runtime).
    #[error("the consumer poll thread panicked: {message}")]
    PollThreadPanicked { message: String },
}

/// The text of a panic payload, for [`ConsumeError::WorkerPanicked`].
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(non-string panic payload)".to_owned()
    }
}
