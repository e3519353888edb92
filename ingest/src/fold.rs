//! The aggregator fold (being built).
