//! Why an import stopped. Bad records never stop it (they are skipped and counted in the
//! summary); only a bad option, an unreadable or foreign file, or a failing sink do.

use std::path::PathBuf;

/// An import failure. Each variant names the file (and line) an operator must look at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--tenant` is not a contract tenant id.
    #[error("invalid tenant id {tenant_id:?}: {problem}")]
    InvalidTenant {
        /// As given.
        tenant_id: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The file could not be opened.
    #[error("cannot open {path}")]
    Open {
        /// As given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Reading failed part-way (the records before `line` were imported).
    #[error("{source_name}:{line}: read failed")]
    Read {
        /// The file.
        source_name: String,
        /// The 1-based line being read.
        line: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The first line is not the Anonymous Bank header, so this is not such a file.
    #[error(
        "{source_name}:1: not an Anonymous Bank call-record file: expected the header \
         `{expected}` (tab-separated), found {found:?}"
    )]
    Header {
        /// The file.
        source_name: String,
        /// The expected column names, tab-separated.
        expected: String,
        /// The first line as read (truncated), or `end of file`.
        found: String,
    },
    /// The sink refused an event (e.g. the output file or Kafka failed).
    #[error("{source_name}:{line}: the event sink failed")]
    Sink {
        /// The file.
        source_name: String,
        /// The line whose events were being emitted.
        line: u64,
        /// The sink's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
