//! `/api/v1/interactions/{id}` and `/api/v1/customers/{id}/interactions`: one
//! interaction's visits and events, and a customer's contact history (roles admin,
//! supervisor, analyst). A queue-limited supervisor sees only the visits in its queues;
//! an interaction with none of them is refused.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::ApiState;
use ccpulse_query::QueryOutput;

use super::{rows_json, tenant_scope};

/// A SQL string literal (ids are data, never SQL).
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `AND queue_id IN (…)` for a queue-limited caller (`column`: the queue column).
fn queue_filter(caller: &Principal, column: &str) -> String {
    match &caller.queues {
        None => String::new(),
        Some(queues) => format!(
            " AND {column} IN ({})",
            queues
                .iter()
                .map(|q| literal(q))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[derive(Debug, Serialize)]
pub(super) struct InteractionDetail {
    interaction_id: String,
    /// `interactions` rows (one per queue visit), by visit.
    visits: Box<RawValue>,
    /// The interaction's events as received, by event time.
    events: Box<RawValue>,
}

pub(super) async fn by_id(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(interaction_id): Path<String>,
) -> Result<Json<InteractionDetail>, ApiError> {
    caller
        .require(Permission::ReadInteractions)
        .map_err(ApiError::forbidden)?;
    let scope = tenant_scope(&state, &caller);
    let id = literal(&interaction_id);
    let all_visits = state
        .engine
        .sql(
            &scope,
            &format!("SELECT count(*) AS n FROM interactions WHERE interaction_id = {id}"),
        )
        .await?;
    let visits_sql = format!(
        "SELECT * FROM interactions WHERE interaction_id = {id}{} ORDER BY visit",
        queue_filter(&caller, "queue_id")
    );
    let visits = state.engine.sql(&scope, &visits_sql).await?;
    let known = count(&all_visits) > 0;
    if visits.rows == 0 {
        return Err(if known && caller.queues.is_some() {
            ApiError::forbidden(format!(
                "interaction `{interaction_id}` has no visit in the queues token `{}` is limited to",
                caller.token_id
            ))
        } else {
            ApiError::not_found(format!("no interaction `{interaction_id}`"))
        });
    }
    let events_sql = format!(
        "SELECT event_id, type, occurred_at, queue_id, agent_id, customer_id, channel, direction, reason, disposition, csat, attributes \
         FROM events WHERE interaction_id = {id} ORDER BY occurred_at, event_id"
    );
    let events = state.engine.sql(&scope, &events_sql).await?;
    Ok(Json(InteractionDetail {
        interaction_id,
        visits: rows_json(&visits)?,
        events: rows_json(&events)?,
    }))
}

fn count(output: &QueryOutput) -> i64 {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;
    output
        .batches
        .first()
        .filter(|batch| batch.num_rows() > 0)
        .map(|batch| batch.column(0).as_primitive::<Int64Type>())
        .filter(|column| !column.is_null(0))
        .map_or(0, |column| column.value(0))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub(super) struct CustomerHistory {
    customer_id: String,
    /// `interactions` rows of the customer's interactions, newest first.
    visits: Box<RawValue>,
    /// Rows returned (at most `limit`, default 100, at most 1000).
    count: usize,
}

pub(super) async fn by_customer(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(customer_id): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CustomerHistory>, ApiError> {
    caller
        .require(Permission::ReadInteractions)
        .map_err(ApiError::forbidden)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` is 1 to 1000, not {limit}"
        )));
    }
    let sql = format!(
        "SELECT * FROM interactions \
         WHERE interaction_id IN (SELECT DISTINCT interaction_id FROM events WHERE customer_id = {} AND interaction_id IS NOT NULL){} \
         ORDER BY COALESCE(queued_at, answered_at, conversation_ended_at) DESC NULLS LAST, interaction_id, visit \
         LIMIT {limit}",
        literal(&customer_id),
        queue_filter(&caller, "queue_id")
    );
    let output = state
        .engine
        .sql(&tenant_scope(&state, &caller), &sql)
        .await?;
    Ok(Json(CustomerHistory {
        customer_id,
        count: output.rows,
        visits: rows_json(&output)?,
    }))
}
