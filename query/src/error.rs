//! [`Error`]: why a query was refused, stopped or failed.

use std::time::Duration;

use ccpulse_schemas::source::SourceError;
use datafusion::error::DataFusionError;

/// The query crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a query did not produce its result.
///
/// The messages are written for the analyst who sent the SQL: they name what was refused
/// or which limit was hit, and never include another tenant's data or a file path.
/// [`Error::is_client_error`] tells the API whether it is a 4xx or a 5xx.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not a single valid SQL statement.
    #[error("invalid SQL: {message}")]
    Parse { message: String },

    /// A statement other than a query: analyst SQL is read-only.
    #[error(
        "{statement} is not allowed: analyst SQL is read-only; only queries (SELECT, WITH, VALUES, EXPLAIN of a query) may run"
    )]
    Refused {
        /// What was refused, e.g. `CREATE EXTERNAL TABLE`, `COPY`, `SET`, `INSERT`.
        statement: String,
    },

    /// The query names something that does not exist or mixes types (DataFusion's planner
    /// message follows).
    #[error("could not plan the query: {cause}")]
    Plan { cause: Box<DataFusionError> },

    /// The query ran longer than its time limit and was cancelled.
    #[error(
        "the query was stopped after its time limit of {:.1} s; narrow the time range or aggregate more",
        limit.as_secs_f64()
    )]
    TimeLimit { limit: Duration },

    /// The result has more rows than an interactive query may return.
    #[error(
        "the result has more than {limit} rows, the limit for interactive queries; add a LIMIT, aggregate, or use a download (export) instead"
    )]
    RowLimit { limit: usize },

    /// The query needed more memory than its limit (DataFusion's message follows).
    #[error(
        "the query was stopped: it needed more than its memory limit of {limit_bytes} bytes ({cause})"
    )]
    MemoryLimit {
        limit_bytes: usize,
        cause: Box<DataFusionError>,
    },

    /// The query failed while running because of its input or expressions (a bad
    /// argument to a function, a division by zero...).
    #[error("the query failed: {cause}")]
    Execute { cause: Box<DataFusionError> },

    /// The tables could not be listed (an unreadable manifest, say).
    #[error("could not read the tables")]
    Snapshot {
        #[source]
        source: SourceError,
    },

    /// Reading the tables failed (an I/O error, a corrupt file): an operator must look.
    #[error("reading the tables failed")]
    Storage {
        #[source]
        source: Box<DataFusionError>,
    },

    /// No report of that name in the catalog.
    #[error("no report named {name:?}; the catalog has {available}")]
    UnknownReport { name: String, available: String },

    /// A report parameter is unknown or has a value the report cannot take.
    #[error("report parameter {name}: {message}")]
    InvalidParam { name: String, message: String },

    /// The tenant id is not one the event contract allows.
    #[error("invalid tenant id {tenant_id:?}: expected 1-64 characters of [A-Za-z0-9_.-]")]
    InvalidTenant { tenant_id: String },

    /// The query runtime could not be built.
    #[error("could not start the query runtime")]
    StartRuntime {
        #[source]
        source: std::io::Error,
    },

    /// The task running the query panicked or its runtime shut down.
    #[error("the query task ended abnormally")]
    Task {
        #[source]
        source: tokio::task::JoinError,
    },
}

impl Error {
    /// Whether the caller's input caused the error (HTTP 4xx) rather than the service
    /// (5xx).
    pub fn is_client_error(&self) -> bool {
        match self {
            Error::Parse { .. }
            | Error::Refused { .. }
            | Error::Plan { .. }
            | Error::TimeLimit { .. }
            | Error::RowLimit { .. }
            | Error::MemoryLimit { .. }
            | Error::Execute { .. }
            | Error::UnknownReport { .. }
            | Error::InvalidParam { .. }
            | Error::InvalidTenant { .. } => true,
            Error::Snapshot { .. }
            | Error::Storage { .. }
            | Error::StartRuntime { .. }
            | Error::Task { .. } => false,
        }
    }

    /// A stable, machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Parse { .. } => "invalid_sql",
            Error::Refused { .. } => "statement_refused",
            Error::Plan { .. } => "plan_failed",
            Error::TimeLimit { .. } => "time_limit",
            Error::RowLimit { .. } => "row_limit",
            Error::MemoryLimit { .. } => "memory_limit",
            Error::Execute { .. } => "query_failed",
            Error::Snapshot { .. } => "tables_unavailable",
            Error::Storage { .. } => "storage_failed",
            Error::UnknownReport { .. } => "unknown_report",
            Error::InvalidParam { .. } => "invalid_parameter",
            Error::InvalidTenant { .. } => "invalid_tenant",
            Error::StartRuntime { .. } | Error::Task { .. } => "internal",
        }
    }

    /// Sorts a DataFusion error from planning into [`Error::Parse`] or [`Error::Plan`]
    /// (or a storage failure: planning reads Parquet metadata).
    pub(crate) fn from_planning(err: DataFusionError) -> Self {
        match err.find_root() {
            DataFusionError::SQL(parse, _) => Error::Parse {
                message: parse.to_string(),
            },
            DataFusionError::IoError(_)
            | DataFusionError::ObjectStore(_)
            | DataFusionError::ParquetError(_) => Error::Storage {
                source: Box::new(err),
            },
            _ => Error::Plan {
                cause: Box::new(err),
            },
        }
    }

    /// Sorts a DataFusion error from execution into the limit, input or storage variants.
    pub(crate) fn from_execution(err: DataFusionError, memory_limit_bytes: usize) -> Self {
        match err.find_root() {
            DataFusionError::ResourcesExhausted(_) => Error::MemoryLimit {
                limit_bytes: memory_limit_bytes,
                cause: Box::new(err),
            },
            DataFusionError::IoError(_)
            | DataFusionError::ObjectStore(_)
            | DataFusionError::ParquetError(_)
            | DataFusionError::Internal(_) => Error::Storage {
                source: Box::new(err),
            },
            _ => Error::Execute {
                cause: Box::new(err),
            },
        }
    }
}
