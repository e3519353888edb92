//! Service-level alerting: rules, their lifecycle, delivery and history.
//!
//! - `deliver`: webhook and Slack-compatible deliveries (signed, retried, never blocking).

pub mod deliver;
