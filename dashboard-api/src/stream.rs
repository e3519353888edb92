//! The WebSocket stream (`GET /api/v1/stream`). Placeholder: being written.

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use crate::state::ApiState;

/// Upgrades the connection and serves one client.
pub(crate) async fn upgrade(
    State(state): State<ApiState>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let _ = (state, headers, uri);
    ws.on_upgrade(|_socket| async {})
}
