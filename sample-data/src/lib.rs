//! Traffic for ccpulse: a deterministic contact-center simulator, importers of real
//! call records, and hand-checked fixture scenarios.
//!
//! # Layout
//! - [`simulate`]: the seeded discrete-event simulator behind `ccpulse simulate`.
//! - [`anonymous_bank`]: the importer of the Anonymous Bank 1999 call records.

pub mod anonymous_bank;
pub mod simulate;
