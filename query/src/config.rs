//! [`QueryConfig`]: the query runtime's size and the limits every analyst query runs under.

use std::time::Duration;

/// Settings of the [`QueryEngine`](crate::QueryEngine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryConfig {
    /// Worker threads of the query runtime, which is separate from the runtime that
    /// consumes Kafka and serves WebSockets so a heavy query cannot starve them. Default 2.
    pub threads: usize,
    /// DataFusion's `target_partitions`: how many streams a scan or an aggregate is split
    /// into. Default 2 (more than the runtime's threads only adds overhead).
    pub target_partitions: usize,
    /// The limits of each query.
    pub limits: QueryLimits,
}

/// What one analyst query may use. Each one reached is a clear error naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    /// Wall-clock time from planning to the last row. Default 30 s: interactive queries
    /// over a tenant's month of intervals take well under a second.
    pub time_limit: Duration,
    /// Rows a query may return. Default 100 000: more is a download, not a screen.
    pub max_rows: usize,
    /// Memory of one query's operators (hash tables, sorts, buffered batches); there is
    /// no spilling to disk. Default 512 MiB.
    pub memory_limit_bytes: usize,
    /// Queries running at once; more wait for a slot (the wait counts towards the time
    /// limit). Default 4.
    pub max_concurrent: usize,
    /// Wall-clock time of a streamed download, from planning to the last row written.
    /// Default 10 minutes: a month of interaction detail takes seconds to read, but the
    /// client may be slow to take it.
    pub export_time_limit: Duration,
    /// Rows a streamed download may hold. Default 5 000 000 (XLSX stops at 1 048 576 by
    /// itself; CSV and Parquet go further).
    pub export_max_rows: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            target_partitions: default_target_partitions(),
            limits: QueryLimits::default(),
        }
    }
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            time_limit: default_time_limit(),
            max_rows: default_max_rows(),
            memory_limit_bytes: default_memory_limit_bytes(),
            max_concurrent: default_max_concurrent(),
            export_time_limit: default_export_time_limit(),
            export_max_rows: default_export_max_rows(),
        }
    }
}

/// The default of [`QueryConfig::threads`].
pub fn default_threads() -> usize {
    2
}

/// The default of [`QueryConfig::target_partitions`].
pub fn default_target_partitions() -> usize {
    2
}

/// The default of [`QueryLimits::time_limit`].
pub fn default_time_limit() -> Duration {
    Duration::from_secs(30)
}

/// The default of [`QueryLimits::max_rows`].
pub fn default_max_rows() -> usize {
    100_000
}

/// The default of [`QueryLimits::memory_limit_bytes`].
pub fn default_memory_limit_bytes() -> usize {
    512 * 1024 * 1024
}

/// The default of [`QueryLimits::max_concurrent`].
pub fn default_max_concurrent() -> usize {
    4
}

/// The default of [`QueryLimits::export_time_limit`].
pub fn default_export_time_limit() -> Duration {
    Duration::from_secs(600)
}

/// The default of [`QueryLimits::export_max_rows`].
pub fn default_export_max_rows() -> usize {
    5_000_000
}

impl QueryConfig {
    /// Every problem with the settings as (key, message) pairs, keys as in the `[query]`
    /// section of the configuration file (empty when valid).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let positive = [
            ("threads", self.threads),
            ("target_partitions", self.target_partitions),
            ("max_rows", self.limits.max_rows),
            ("memory_limit_bytes", self.limits.memory_limit_bytes),
            ("max_concurrent", self.limits.max_concurrent),
            ("export_max_rows", self.limits.export_max_rows),
        ];
        for (name, value) in positive {
            if value == 0 {
                problems.push((name, "must be at least 1".to_owned()));
            }
        }
        if self.limits.time_limit.is_zero() {
            problems.push(("time_limit", "must be longer than 0 s".to_owned()));
        }
        if self.limits.export_time_limit.is_zero() {
            problems.push(("export_time_limit", "must be longer than 0 s".to_owned()));
        }
        problems
    }
}
