//! `/api/v1/alerts` (open alerts, acknowledge, snooze) and `/api/v1/alert-rules`
//! (list, read, create or replace, delete). Open alerts: every role (a queue-limited
//! supervisor: alerts on its queues). Acknowledge and snooze: admin, supervisor.
//! Rules: read by admin, supervisor and analyst; changed by admin and supervisor (a
//! queue-limited supervisor: rules naming only its queues). The history is the
//! `alerts` SQL table.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::alerts::rule::{RuleSpec, check_id};
use crate::alerts::service::rule_visible;
use crate::alerts::{AlertError, AlertView};
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::extract::{Caller, JsonBody};
use crate::state::ApiState;
use crate::views;

impl From<AlertError> for ApiError {
    fn from(error: AlertError) -> Self {
        match error {
            AlertError::NotFound(m) => ApiError::not_found(m),
            AlertError::Invalid(m) => ApiError::bad_request(m),
            AlertError::Conflict(m) => ApiError::conflict(m),
            AlertError::Forbidden(m) => ApiError::forbidden(m),
            error @ AlertError::Io { .. } => {
                tracing::error!(%error, "alerts");
                ApiError::internal(error.to_string())
            }
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct AlertList {
    tenant_id: String,
    /// The tenant's latest event time.
    as_of: Option<String>,
    /// The data time the rules were last evaluated at (`null` before the first
    /// evaluation with data).
    evaluated_as_of: Option<String>,
    alerts: Vec<AlertView>,
}

pub(super) async fn list(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<AlertList>, ApiError> {
    caller
        .require(Permission::ReadLive)
        .map_err(ApiError::forbidden)?;
    Ok(Json(AlertList {
        as_of: views::tenant_as_of(&state.live, &caller.tenant_id),
        evaluated_as_of: state
            .alerts
            .evaluated_as_of(&caller.tenant_id)
            .map(views::time_text),
        alerts: state.alerts.active(&caller),
        tenant_id: caller.tenant_id,
    }))
}

pub(super) async fn acknowledge(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(alert_id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    caller
        .require(Permission::AcknowledgeAlerts)
        .map_err(ApiError::forbidden)?;
    Ok(Json(state.alerts.acknowledge(&caller, &alert_id)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Snooze {
    /// Minutes of the data's clock; 0 ends a snooze.
    minutes: u32,
}

pub(super) async fn snooze(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(alert_id): Path<String>,
    JsonBody(body): JsonBody<Snooze>,
) -> Result<Json<AlertView>, ApiError> {
    caller
        .require(Permission::AcknowledgeAlerts)
        .map_err(ApiError::forbidden)?;
    Ok(Json(state.alerts.snooze(
        &caller,
        &alert_id,
        body.minutes,
    )?))
}

#[derive(Debug, Serialize)]
pub(super) struct RuleList {
    tenant_id: String,
    rules: Vec<RuleSpec>,
    /// The rules file's problems when it was edited into an invalid state (the
    /// previous rules stay in force until it is fixed).
    file_error: Option<String>,
}

pub(super) async fn rules(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<RuleList>, ApiError> {
    caller
        .require(Permission::ReadSettings)
        .map_err(ApiError::forbidden)?;
    let (rules, file_error) = state.alerts.rules_of(&caller);
    Ok(Json(RuleList {
        rules: rules.into_iter().map(without_tenant).collect(),
        tenant_id: caller.tenant_id,
        file_error,
    }))
}

pub(super) async fn rule(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(rule_id): Path<String>,
) -> Result<Json<RuleSpec>, ApiError> {
    caller
        .require(Permission::ReadSettings)
        .map_err(ApiError::forbidden)?;
    let (rules, _) = state.alerts.rules_of(&caller);
    rules
        .into_iter()
        .find(|r| r.id == rule_id)
        .map(|r| Json(without_tenant(r)))
        .ok_or_else(|| ApiError::not_found(format!("no alert rule `{rule_id}`")))
}

/// The API's rule JSON has no tenant: the token says it.
fn without_tenant(mut spec: RuleSpec) -> RuleSpec {
    spec.tenant.clear();
    spec
}

/// Refuses a queue-limited supervisor a rule outside its queues.
fn check_scope(caller: &Principal, spec: &RuleSpec) -> Result<(), ApiError> {
    if rule_visible(caller, spec) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "token `{}` is limited to some queues: a rule it changes must name only those in `scope.queues`",
            caller.token_id
        )))
    }
}

pub(super) async fn put_rule(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(rule_id): Path<String>,
    JsonBody(mut spec): JsonBody<RuleSpec>,
) -> Result<Response, ApiError> {
    caller
        .require(Permission::ManageAlerts)
        .map_err(ApiError::forbidden)?;
    check_id("rule id", &rule_id).map_err(ApiError::bad_request)?;
    if spec.id != rule_id {
        return Err(ApiError::bad_request(format!(
            "the body's id `{}` differs from the path's `{rule_id}`",
            spec.id
        )));
    }
    if !spec.tenant.is_empty() && spec.tenant != caller.tenant_id {
        return Err(ApiError::bad_request(
            "leave `tenant` out: a rule belongs to the token's tenant",
        ));
    }
    spec.tenant = caller.tenant_id.clone();
    check_scope(&caller, &spec)?;
    if let Some(old) = state
        .alerts
        .rules_of(&caller)
        .0
        .iter()
        .find(|r| r.id == rule_id)
    {
        check_scope(&caller, old)?;
    } else if caller.queues.is_some()
        && state
            .alerts
            .rule_set()
            .rules
            .iter()
            .any(|r| r.spec.tenant == caller.tenant_id && r.spec.id == rule_id)
    {
        return Err(ApiError::forbidden(format!(
            "rule `{rule_id}` covers queues outside this token's"
        )));
    }
    let created = state.alerts.put_rule(spec.clone())?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(without_tenant(spec))).into_response())
}

pub(super) async fn delete_rule(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(rule_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(Permission::ManageAlerts)
        .map_err(ApiError::forbidden)?;
    let (visible, _) = state.alerts.rules_of(&caller);
    if !visible.iter().any(|r| r.id == rule_id) {
        return Err(ApiError::not_found(format!("no alert rule `{rule_id}`")));
    }
    state.alerts.delete_rule(&caller.tenant_id, &rule_id)?;
    Ok(StatusCode::NO_CONTENT)
}
