//! Importer of the "Anonymous Bank" call-center records (Israel, 1999): each record becomes
//! the contract events of its call (`ccpulse import anonymous-bank FILE… --tenant T`).
//!
//! The data set and its quirks are described in
//! `shared/datasets/anonymous-bank-1999/README.md` and the authors' `documentation.pdf`.
//! Using it requires acknowledging its source: print [`ACKNOWLEDGEMENT`] with every import
//! summary.
//!
//! ```no_run
//! use ccpulse_sample_data::anonymous_bank::{ACKNOWLEDGEMENT, ImportOptions, Importer};
//!
//! let mut importer = Importer::new(ImportOptions::default())?;
//! let mut lines = Vec::new();
//! importer.import_file("january.txt".as_ref(), &mut |event| {
//!     lines.push(event.to_json());
//!     Ok::<(), std::io::Error>(())
//! })?;
//! println!("{}\n{ACKNOWLEDGEMENT}", importer.summary());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - `record`: one line split into its 17 fields and checked ([`Field`]).
//! - `convert`: one record to the events of its call, with the repairs below.
//! - `importer`: [`Importer`] streams files to a sink; [`ImportOptions`].
//! - `summary`: [`ImportSummary`], the accounting of every record, and its report.
//! - `error`: [`Error`], why an import stops (bad records never stop it).
//! - `MAPPING.md`: the mapping rules below, as the README links them.
//!
#![doc = include_str!("anonymous_bank/MAPPING.md")]

mod convert;
mod error;
mod importer;
mod record;
mod summary;
#[cfg(test)]
mod tests;

pub use convert::UNKNOWN_AGENT;
pub use error::Error;
pub use importer::{DEFAULT_TENANT, ImportOptions, Importer};
pub use record::Field;
pub use summary::{
    Example, FileSummary, ImportSummary, MAX_EXAMPLES, Observation, Repair, SkipReason, Tally,
};

/// The acknowledgement the data's terms require wherever it is used; the CLI prints it
/// with every import summary. `MAPPING.md` carries the same text.
pub const ACKNOWLEDGEMENT: &str = "Data: \"Anonymous Bank\" call-center records (Israel, 1999), \
courtesy of the Service Enterprise Engineering (SEE) Laboratory, Technion - Israel Institute \
of Technology; documentation by Ilan Guedj and Avi Mandelbaum (2000).";
