//! [`TablesError`]: why a record batch could not be read back into [`Tables`](crate::fold::rows::Tables).

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;

/// Errors of [`from_batches`](super::from_batches). Each names the table and column, and
/// the row (within its batch) where the value is wrong.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    /// The batch is labelled with a name that is not a derived table.
    #[error(
        "unknown table `{table}`: expected interactions, agent_states, queue_intervals, agent_intervals or campaign_intervals"
    )]
    UnknownTable { table: String },
    /// A column of the table's schema is not in the batch.
    #[error("table `{table}`: batch has no column `{column}`")]
    ColumnMissing { table: &'static str, column: String },
    /// A column has a type that cannot be read as the schema's.
    #[error("table `{table}`: column `{column}` is {found}, expected {expected}")]
    ColumnType {
        table: &'static str,
        column: String,
        expected: &'static str,
        found: DataType,
    },
    /// A string column of another string type (`Utf8View`, a dictionary, ...) could not be
    /// cast to `Utf8`.
    #[error("table `{table}`: casting column `{column}` to Utf8")]
    CastColumn {
        table: &'static str,
        column: String,
        #[source]
        source: ArrowError,
    },
    /// A value is null where the schema says never.
    #[error("table `{table}`: column `{column}` is null in row {row}")]
    NullValue {
        table: &'static str,
        column: String,
        row: usize,
    },
    /// An integer does not fit the Rust field: a negative counter, a csat above 255, ...
    #[error("table `{table}`: column `{column}` row {row}: {value} is out of range for {target}")]
    OutOfRange {
        table: &'static str,
        column: String,
        row: usize,
        value: i64,
        /// The Rust type it should fit, e.g. `u64`.
        target: &'static str,
    },
    /// A closed-set string (channel, direction, state, outcome) has a value outside its set.
    #[error("table `{table}`: column `{column}` row {row}: unknown value `{value}`")]
    UnknownValue {
        table: &'static str,
        column: String,
        row: usize,
        value: String,
    },
    /// A wait histogram does not have exactly one count per bucket.
    #[error("table `{table}`: column `{column}` row {row}: {found} buckets, expected {expected}")]
    HistogramLength {
        table: &'static str,
        column: String,
        row: usize,
        found: usize,
        expected: usize,
    },
}
