//! `/api/v1/settings` and `/api/v1/settings/queues/{queue_id}`: the tenant's settings
//! (time zone, business hours, queue defaults and overrides) and one queue's. Read:
//! admin, supervisor (a queue-limited one: its queues only), analyst. Update: admin.
//! Updates are validated, saved in `<data_dir>/api/settings.json` and applied to the
//! running aggregator (see `crate::settings`).

use axum::Json;
use axum::extract::{Path, State};
use ccpulse_schemas::settings::{QueueSettings, TenantSettings};
use serde::Serialize;

use super::live::check_queue;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::extract::{Caller, JsonBody};
use crate::settings::{SettingsError, SettingsSource};
use crate::state::ApiState;

#[derive(Debug, Serialize)]
pub(super) struct TenantSettingsResponse {
    tenant_id: String,
    /// `api` (saved through the API), `config` (the configuration file) or `default`.
    source: SettingsSource,
    settings: TenantSettings,
}

#[derive(Debug, Serialize)]
pub(super) struct EffectiveQueue {
    sl_threshold_s: Option<u32>,
    sl_target_pct: f64,
    sl_formula: &'static str,
    short_abandon_s: u32,
}

#[derive(Debug, Serialize)]
pub(super) struct QueueSettingsResponse {
    tenant_id: String,
    queue_id: String,
    /// The queue's own overrides (fields left out inherit `queue_defaults`).
    settings: QueueSettings,
    /// With defaults applied (`sl_threshold_s` null: the channel's default).
    effective: EffectiveQueue,
}

fn limited_view(caller: &Principal, mut settings: TenantSettings) -> TenantSettings {
    if caller.queues.is_some() {
        settings.queues.retain(|queue, _| caller.sees_queue(queue));
    }
    settings
}

fn saved_error(error: Result<String, SettingsError>) -> ApiError {
    match error {
        Ok(message) => ApiError::bad_request(message),
        Err(error) => {
            tracing::error!(%error, "saving settings failed");
            ApiError::internal(format!("the settings could not be saved: {error}"))
        }
    }
}

pub(super) async fn tenant(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<TenantSettingsResponse>, ApiError> {
    caller
        .require(Permission::ReadSettings)
        .map_err(ApiError::forbidden)?;
    let (settings, source) = state.settings.tenant(&caller.tenant_id);
    Ok(Json(TenantSettingsResponse {
        settings: limited_view(&caller, settings),
        tenant_id: caller.tenant_id,
        source,
    }))
}

pub(super) async fn put_tenant(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    JsonBody(settings): JsonBody<TenantSettings>,
) -> Result<Json<TenantSettingsResponse>, ApiError> {
    caller
        .require(Permission::WriteSettings)
        .map_err(ApiError::forbidden)?;
    let saved = state
        .settings
        .update(&caller.tenant_id, |current| *current = settings)
        .map_err(saved_error)?;
    tracing::info!(tenant = %caller.tenant_id, token = %caller.token_id, "tenant settings updated");
    // Streams resend the queues with their new settings.
    state.live.notify();
    Ok(Json(TenantSettingsResponse {
        tenant_id: caller.tenant_id,
        source: SettingsSource::Api,
        settings: saved,
    }))
}

fn queue_response(
    tenant_id: String,
    queue_id: String,
    settings: &TenantSettings,
) -> QueueSettingsResponse {
    let effective = settings.queue(&queue_id);
    QueueSettingsResponse {
        effective: EffectiveQueue {
            sl_threshold_s: effective.sl_threshold_s(),
            sl_target_pct: effective.sl_target_pct,
            sl_formula: effective.sl_formula.as_str(),
            short_abandon_s: effective.short_abandon_s,
        },
        settings: settings.queues.get(&queue_id).cloned().unwrap_or_default(),
        tenant_id,
        queue_id,
    }
}

pub(super) async fn queue(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(queue_id): Path<String>,
) -> Result<Json<QueueSettingsResponse>, ApiError> {
    caller
        .require(Permission::ReadSettings)
        .map_err(ApiError::forbidden)?;
    check_queue(&caller, &queue_id)?;
    let (settings, _) = state.settings.tenant(&caller.tenant_id);
    Ok(Json(queue_response(caller.tenant_id, queue_id, &settings)))
}

pub(super) async fn put_queue(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(queue_id): Path<String>,
    JsonBody(queue): JsonBody<QueueSettings>,
) -> Result<Json<QueueSettingsResponse>, ApiError> {
    caller
        .require(Permission::WriteSettings)
        .map_err(ApiError::forbidden)?;
    if queue_id.is_empty() || queue_id.len() > 128 {
        return Err(ApiError::bad_request("a queue id is 1 to 128 characters"));
    }
    let saved = state
        .settings
        .update(&caller.tenant_id, |current| {
            current.queues.insert(queue_id.clone(), queue);
        })
        .map_err(saved_error)?;
    tracing::info!(tenant = %caller.tenant_id, queue = %queue_id, token = %caller.token_id, "queue settings updated");
    state.live.notify();
    Ok(Json(queue_response(caller.tenant_id, queue_id, &saved)))
}
