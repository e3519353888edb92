//! Why a ccpulse SQL function refused its input: one variant per failure site.
//!
//! The reader is a person who typed SQL, so every message names the function, the bad
//! value and what would have been accepted. DataFusion only carries its own error type
//! through a plan, so a [`FunctionError`] becomes a [`DataFusionError::Plan`] when the
//! planner catches it (a bad literal or argument type) and a
//! [`DataFusionError::Execution`] when a value read from the data is bad.

use ccpulse_schemas::metrics::WAIT_BUCKETS;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DataFusionError;

use super::service_level::valid_formulas;
use super::time_bucket::valid_sizes;
use super::wait_within::valid_thresholds;

/// A bad argument of a ccpulse SQL function.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FunctionError {
    /// The call has too few or too many arguments.
    #[error("{usage} takes {expected} arguments, got {got}")]
    ArgumentCount {
        /// The call's shape, e.g. `time_bucket(ts, size [, tz])`.
        usage: &'static str,
        /// How many it takes, e.g. `2 or 3`.
        expected: &'static str,
        got: usize,
    },
    /// An argument of a type the function cannot coerce to what it computes on.
    #[error("{function}: argument '{argument}' must be {expected}, got {got}")]
    ArgumentType {
        function: &'static str,
        argument: &'static str,
        expected: &'static str,
        got: DataType,
    },
    /// `time_bucket`'s size is not one it knows.
    #[error(
        "time_bucket: unknown size '{size}'; expected one of {}",
        valid_sizes()
    )]
    UnknownBucketSize { size: String },
    /// `time_bucket`'s time zone is not in the IANA database.
    #[error(
        "time_bucket: unknown time zone '{tz}'; expected an IANA time zone name such as \
         'Europe/Berlin', 'America/New_York' or 'UTC'"
    )]
    UnknownTimeZone { tz: String },
    /// An instant chrono cannot place on a calendar (hundreds of thousands of years
    /// away), or whose bucket start falls outside `Int64` milliseconds.
    #[error("time_bucket: timestamp {ms} ms since 1970-01-01 is out of the supported range")]
    TimestampOutOfRange { ms: i64 },
    /// A threshold that is not a bucket bound: a histogram cannot split a bucket.
    #[error(
        "wait_within: no wait histogram bucket ends at {threshold_s} s, so the histogram \
         cannot tell how many waits are within it; expected one of the bucket bounds {} (s)",
        valid_thresholds()
    )]
    UnknownThreshold { threshold_s: i64 },
    /// A wait histogram that is not the table's 14 buckets.
    #[error("{function}: a wait histogram has {WAIT_BUCKETS} buckets, got a list of {len}")]
    HistogramLength { function: &'static str, len: usize },
    /// A wait histogram with a NULL bucket (the tables never write one).
    #[error("{function}: bucket {bucket} of {WAIT_BUCKETS} of the wait histogram is NULL")]
    HistogramNullBucket {
        function: &'static str,
        /// Counting from 1, as SQL arrays do.
        bucket: usize,
    },
    /// A wait histogram with a negative count (the tables never write one).
    #[error(
        "{function}: bucket {bucket} of {WAIT_BUCKETS} of the wait histogram is negative ({count})"
    )]
    HistogramNegativeBucket {
        function: &'static str,
        /// Counting from 1, as SQL arrays do.
        bucket: usize,
        count: i64,
    },
    /// `service_level`'s formula is not one of [`SlFormula`](ccpulse_schemas::metrics::SlFormula)'s spellings.
    #[error(
        "service_level: unknown formula '{formula}'; expected one of {}",
        valid_formulas()
    )]
    UnknownFormula { formula: String },
    /// A negative count given to `service_level`.
    #[error("service_level: {argument} must not be negative, got {value}")]
    NegativeCount { argument: &'static str, value: i64 },
    /// `service_level` counts whose sum does not fit the formulas' arithmetic.
    #[error("service_level: the counts are too large to add up (their sum exceeds 2^64)")]
    CountOverflow,
    /// `wait_percentile`'s p outside [0, 1] (or NaN).
    #[error("wait_percentile: p must be between 0 and 1, got {p}")]
    PercentileOutOfRange { p: f64 },
    /// `histogram_sum` over lists of different lengths: the positions would not line up.
    #[error(
        "histogram_sum: cannot add a list of {got} items to lists of {expected} items; \
         every list must have the same length"
    )]
    ListLengthMismatch { expected: usize, got: usize },
    /// `histogram_sum` over a list with a NULL item.
    #[error(
        "histogram_sum: item {position} of a list of {len} is NULL; only non-NULL counts \
         can be summed"
    )]
    NullListItem {
        /// Counting from 1, as SQL arrays do.
        position: usize,
        len: usize,
    },
    /// `map_sum` over a map with a NULL key (Arrow forbids them; a foreign file may not).
    #[error("map_sum: a map has a NULL key")]
    NullMapKey,
    /// `map_sum` over a map with a NULL value.
    #[error("map_sum: the value of key '{key}' is NULL; only non-NULL counts can be summed")]
    NullMapValue { key: String },
    /// A sum beyond `Int64`.
    #[error("{function}: the sum overflows Int64")]
    SumOverflow { function: &'static str },
    /// An aggregate called with `DISTINCT`, which it would otherwise silently ignore.
    #[error("{function}: DISTINCT is not supported")]
    Distinct { function: &'static str },
}

impl FunctionError {
    /// As an error found while planning: a bad literal or argument type.
    pub(crate) fn plan(self) -> DataFusionError {
        DataFusionError::Plan(self.to_string())
    }
}

/// As an error found in the data while executing.
impl From<FunctionError> for DataFusionError {
    fn from(error: FunctionError) -> Self {
        DataFusionError::Execution(error.to_string())
    }
}
