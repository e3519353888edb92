//! SQL over ccpulse's tables: a tenant-scoped, read-only DataFusion session over the
//! Parquet history unioned with the aggregator's in-memory tail, with the limits that
//! keep one analyst's query from hurting ingest or anyone else.
//!
//! It reads tables through [`ccpulse_schemas::source::TableSource`], which `ingest`
//! implements; the two crates never depend on each other (see `ARCHITECTURE.md`).
//!
//! ```text
//! QueryEngine::sql(scope, text)
//!   guard    one query only: DDL, DML, COPY, SET ... refused by name
//!   source   TableSource::snapshot(tenant): Parquet files + in-memory batches per table
//!   catalog  one view per table: WHERE tenant_id = <tenant>; interval deltas summed by key
//!   table    files pruned by day, scanned with DataFusion's Parquet reader, ∪ the batches
//!   engine   own runtime, time limit, memory limit (no spill), row cap, max concurrency
//! ```
//!
//! # Layout
//! - [`config`]: [`QueryConfig`] and [`QueryLimits`], with their defaults.
//! - `engine`: [`QueryEngine`], [`TenantScope`], [`QueryOutput`].
//! - `catalog`: the per-query session and the tables' views.
//! - `table`: the table provider over one snapshot table (date pruning, union).
//! - `guard`: the read-only rules.
//! - [`export`]: downloads: [`ExportWriter`] streams results as CSV, JSON, NDJSON, XLSX or
//!   Parquet; [`ExportError`] is apart from [`Error`].
//! - [`reports`]: the report catalog: named, parameterised SQL reports.
//! - [`functions`]: ccpulse's SQL functions (`time_bucket`, `wait_within`,
//!   `service_level`, `wait_percentile`, `histogram_sum`, `map_sum`), registered on every
//!   session.
//! - `error`: [`Error`], with [`Error::is_client_error`] and [`Error::code`] for the API.

pub mod config;
pub mod export;
pub mod functions;
pub mod reports;

mod catalog;
mod engine;
mod error;
mod guard;
mod table;

pub use config::{QueryConfig, QueryLimits};
pub use engine::{QueryEngine, QueryOutput, QueryStream, TenantScope};
pub use error::{Error, Result};
pub use export::{ExportError, ExportFormat, ExportOptions, ExportSummary, ExportWriter};
