//! SQL over ccpulse's tables: a tenant-scoped, read-only DataFusion session over the
//! Parquet history unioned with the aggregator's in-memory tail, the report catalog,
//! and CSV / XLSX / Parquet exports.
//!
//! Empty for now: it is built by the "SQL over live and historical data" issue, after
//! the aggregator in `ingest` exists. It never depends on `ingest`; the two meet
//! through `schemas` types (see `ARCHITECTURE.md`).
//!
//! # Layout
//!
//! - [`functions`]: ccpulse's SQL functions (`time_bucket`, `wait_within`,
//!   `service_level`, `wait_percentile`, `histogram_sum`, `map_sum`), to register on
//!   every session.

pub mod functions;
