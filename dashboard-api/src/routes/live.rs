//! `/api/v1/me`, `/api/v1/queues`, `/api/v1/agents`: who the caller is, and the live
//! observations it may see (every role).

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::ApiState;
use crate::views::{self, AgentFilter, AgentView, QueueView};

#[derive(Debug, Serialize)]
pub(super) struct Me {
    token_id: String,
    name: String,
    tenant_id: String,
    role: &'static str,
    queues: Option<Vec<String>>,
}

pub(super) async fn me(Caller(caller): Caller) -> Json<Me> {
    Json(Me {
        token_id: caller.token_id,
        name: caller.name,
        tenant_id: caller.tenant_id,
        role: caller.role.as_str(),
        queues: caller.queues.map(|q| q.into_iter().collect()),
    })
}

#[derive(Debug, Serialize)]
pub(super) struct QueueList {
    tenant_id: String,
    as_of: Option<String>,
    queues: Vec<QueueView>,
}

pub(super) async fn queues(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<QueueList>, ApiError> {
    caller
        .require(Permission::ReadLive)
        .map_err(ApiError::forbidden)?;
    let config = state.settings.current();
    Ok(Json(QueueList {
        as_of: views::tenant_as_of(&state.live, &caller.tenant_id),
        queues: views::queues(&state.live, &config, &caller, None),
        tenant_id: caller.tenant_id,
    }))
}

pub(super) async fn queue(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(queue_id): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    caller
        .require(Permission::ReadLive)
        .map_err(ApiError::forbidden)?;
    check_queue(&caller, &queue_id)?;
    let config = state.settings.current();
    views::queues(
        &state.live,
        &config,
        &caller,
        Some(std::slice::from_ref(&queue_id)),
    )
    .into_iter()
    .next()
    .map(Json)
    .ok_or_else(|| {
        ApiError::not_found(format!(
            "no live figures for queue `{queue_id}` (no interaction and no agent in it today)"
        ))
    })
}

/// A 403 when the caller's queue scope leaves `queue_id` out.
pub(super) fn check_queue(caller: &Principal, queue_id: &str) -> Result<(), ApiError> {
    if caller.sees_queue(queue_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "token `{}` is limited to queues {}; `{queue_id}` is not one of them",
            caller.token_id,
            caller
                .queues
                .iter()
                .flatten()
                .map(|q| format!("`{q}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AgentQuery {
    queue: Option<String>,
    team: Option<String>,
    channel: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct AgentList {
    tenant_id: String,
    as_of: Option<String>,
    agents: Vec<AgentView>,
}

pub(super) async fn agents(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    query: Result<Query<AgentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AgentList>, ApiError> {
    caller
        .require(Permission::ReadLive)
        .map_err(ApiError::forbidden)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if let Some(queue) = &query.queue {
        check_queue(&caller, queue)?;
    }
    let filter = AgentFilter {
        queue: query.queue,
        team: query.team,
        channel: query.channel,
    };
    Ok(Json(AgentList {
        as_of: views::tenant_as_of(&state.live, &caller.tenant_id),
        agents: views::agents(&state.live, &caller, &filter, None),
        tenant_id: caller.tenant_id,
    }))
}

pub(super) async fn agent(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(agent_id): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    caller
        .require(Permission::ReadLive)
        .map_err(ApiError::forbidden)?;
    let all = state.live.agent_live(Some(&caller.tenant_id));
    let row = all
        .iter()
        .find(|row| row.agent_id == agent_id)
        .ok_or_else(|| ApiError::not_found(format!("agent `{agent_id}` is not logged in")))?;
    if !caller.sees_agent(row.queues.iter().map(String::as_str)) {
        return Err(ApiError::forbidden(format!(
            "agent `{agent_id}` serves none of the queues token `{}` is limited to",
            caller.token_id
        )));
    }
    Ok(Json(AgentView::new(row)))
}
