//! The Kafka side of ccpulse: the producer that puts contract events onto the events
//! topic (`ccpulse replay`, `ccpulse simulate --brokers`), and the aggregator that
//! consumes them (`ccpulse ingest`, `ccpulse serve`): decode and validate, dead
//! letters, the fold of metrics.md, Parquet tables and checkpoints under a data
//! directory, and live observations. See `ARCHITECTURE.md`; `ingest` never depends on
//! `query`.
//!
//! # Layout
//! - [`aggregate`]: the [`consume::Pipeline`] of ccpulse: a fold and a store per
//!   partition, checkpoints, and the [`aggregate::LiveView`] the API reads (live
//!   observations, and each partition's in-memory tail).
//! - [`consume`]: the consumer runtime: group membership, one worker per partition,
//!   dead letters, checkpoints and commits ([`consume::run`]).
//! - [`kafka`]: client settings shared by producers and consumers, and topic creation.
//! - [`produce`]: [`EventProducer`], a batching, compressing producer keyed by tenant.
//! - [`replay`]: NDJSON files to Kafka, validating each line first.
//! - [`source`]: the tables as a [`TableSource`](ccpulse_schemas::source::TableSource)
//!   for the query layer: [`StoreSource`] (the history on disk) and [`LiveSource`] (plus
//!   the aggregator's in-memory tails and live observations).
//! - [`store`]: Parquet segments and per-partition checkpoints behind an atomic manifest.
//! - [`tables`]: the fold's derived tables as Arrow record batches, and back; the live
//!   observations as Arrow.
//! - `error`: this crate's [`Error`].

pub mod aggregate;
pub mod consume;
mod error;
pub mod fold;
pub mod kafka;
pub mod produce;
pub mod replay;
pub mod source;
pub mod store;
pub mod tables;

pub use consume::{
    ConsumeError, ConsumerSettings, PartitionWorker, Pipeline, RunMode, RunStats, RunSummary,
};
pub use error::{Error, Result};
pub use kafka::KafkaSettings;
pub use produce::{EventProducer, ProduceStats};
pub use replay::{BadLine, ReplaySummary, replay_ndjson};
pub use source::{LiveSource, StoreSource};
pub use store::{
    Checkpoint, Commit, CommitStats, CompactionPolicy, CompactionStats, DataDir, PartitionStore,
    StoreError, TableSpec, VisibleFile, read_table, visible_files, visible_files_all,
};
