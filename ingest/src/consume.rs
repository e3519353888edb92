//! The Kafka consumer runtime: consumer group, per-partition workers, dead-letter topic.
//! (Being built: see issue 3.)
