//! The Kafka side of ccpulse.
//!
//! Today this crate owns the Kafka client set-up and the producer that puts contract
//! events onto the events topic (`ccpulse replay`, `ccpulse simulate --brokers`). The
//! consumer, the aggregator fold, checkpoints and the Parquet writer land here next
//! (see `ARCHITECTURE.md`); `ingest` never depends on `query`.
//!
//! # Layout
//! - [`consume`]: the consumer runtime: group membership, one worker per partition,
//!   dead letters, checkpoints and commits ([`consume::run`]).
//! - [`kafka`]: client settings shared by producers and consumers, and topic creation.
//! - [`produce`]: [`EventProducer`], a batching, compressing producer keyed by tenant.
//! - [`replay`]: NDJSON files to Kafka, validating each line first.
//! - [`store`]: Parquet segments and per-partition checkpoints behind an atomic manifest.
//! - `error`: this crate's [`Error`].

pub mod consume;
mod error;
pub mod fold;
pub mod kafka;
pub mod produce;
pub mod replay;
pub mod store;

pub use consume::{
    ConsumeError, ConsumerSettings, PartitionWorker, Pipeline, RunMode, RunStats, RunSummary,
};
pub use error::{Error, Result};
pub use kafka::KafkaSettings;
pub use produce::{EventProducer, ProduceStats};
pub use replay::{BadLine, ReplaySummary, replay_ndjson};
pub use store::{
    Checkpoint, Commit, CommitStats, DataDir, PartitionStore, StoreError, TableSpec, VisibleFile,
    read_table, visible_files,
};
