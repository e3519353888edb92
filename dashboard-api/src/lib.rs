//! The REST and WebSocket API (axum), access control by API token and role,
//! service-level alerting, and the supervisor wallboard page served by the binary.
//!
//! Empty for now: it is built by the "Live dashboards" and "Service-level alerting"
//! issues, on top of `query` and the live observations published by `ingest`.
