//! Operations: `/healthz` (the process answers), `/readyz` (partitions assigned and
//! their checkpoints loaded), `/metrics` (Prometheus) and `/api/v1/openapi.json`. None
//! needs a token: they carry no tenant's data.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::state::ApiState;

/// The OpenAPI 3.1 description of every route (`dashboard-api/openapi.json`).
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub(super) async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

#[derive(Debug, Serialize)]
pub(super) struct Readiness {
    ready: bool,
    /// Why not, when not.
    reason: Option<String>,
    partitions_assigned: usize,
    partitions_loaded: usize,
}

/// Ready when the consumer has had its first assignment and every partition assigned to
/// it has its checkpoint loaded (it published its live observations). Without a
/// consumer in this process: ready.
pub(super) async fn ready(State(state): State<ApiState>) -> Response {
    let Some(run) = &state.run else {
        return Json(Readiness {
            ready: true,
            reason: None,
            partitions_assigned: 0,
            partitions_loaded: 0,
        })
        .into_response();
    };
    let stats = run.snapshot();
    let assigned: Vec<i32> = stats
        .partitions
        .iter()
        .filter(|(_, p)| p.assigned)
        .map(|(partition, _)| *partition)
        .collect();
    let loaded: Vec<i32> = state
        .live
        .partitions()
        .iter()
        .filter(|p| p.owned)
        .map(|p| p.partition)
        .collect();
    let loaded_count = assigned.iter().filter(|p| loaded.contains(p)).count();
    let reason = if stats.rebalances == 0 {
        Some("waiting for the consumer group to assign partitions".to_owned())
    } else if loaded_count < assigned.len() {
        Some(format!(
            "loading checkpoints: {loaded_count} of {} assigned partitions ready",
            assigned.len()
        ))
    } else {
        None
    };
    let readiness = Readiness {
        ready: reason.is_none(),
        reason,
        partitions_assigned: assigned.len(),
        partitions_loaded: loaded_count,
    };
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

pub(super) async fn metrics(State(state): State<ApiState>) -> Response {
    let mut text = state.metrics.render(state.run.as_deref());
    state.alerts.render_metrics(&mut text);
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

pub(super) async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
