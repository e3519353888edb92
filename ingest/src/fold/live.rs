//! Live observations (being built).
