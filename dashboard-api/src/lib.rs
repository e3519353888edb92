//! The API of ccpulse: REST and WebSocket over the live observations and the query
//! layer, access control by token and role, and the wallboard page.
//!
//! - [`router`] builds the axum router over an [`ApiState`]; [`serve`] runs it.
//! - `auth`: tokens (hashed, bound to a tenant and a role) and what each role may do.
//! - `views`: the JSON of queues and agents, shared by REST and the stream.
//! - `routes`: the REST handlers, one module per resource.
//! - `stream`: the WebSocket protocol (snapshot, coalesced deltas, heartbeats).
//! - `settings`: tenant and queue settings saved through the API, applied at run time.
//! - `metrics`: Prometheus `/metrics`.
//!
//! The routes, their roles and their JSON are listed in the README ("API") and served
//! as OpenAPI at `/api/v1/openapi.json`.

pub mod alerts;
pub mod auth;
pub mod error;
pub mod extract;
mod file;
pub mod metrics;
mod routes;
pub mod settings;
pub mod state;
mod stream;
pub mod views;

pub use error::ApiError;
pub use routes::{OPENAPI, router};
pub use state::{ApiState, StreamConfig};

/// Serves `router` on `listener` until `state.shutdown` is cancelled.
///
/// # Errors
/// The listener fails.
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
