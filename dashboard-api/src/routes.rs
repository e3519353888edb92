//! The router: every route, its handler module and the middleware around them.

mod alerts;
mod interactions;
mod live;
mod ops;
mod page;
mod query;
mod settings;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use ccpulse_query::{QueryOutput, TenantScope};
use serde_json::value::RawValue;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::ApiState;

pub use ops::OPENAPI;

/// Every route of the API (README, "API"; `/api/v1/openapi.json`).
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/me", get(live::me))
        .route("/queues", get(live::queues))
        .route("/queues/{queue_id}", get(live::queue))
        .route("/agents", get(live::agents))
        .route("/agents/{agent_id}", get(live::agent))
        .route("/interactions/{interaction_id}", get(interactions::by_id))
        .route(
            "/customers/{customer_id}/interactions",
            get(interactions::by_customer),
        )
        .route("/sql", post(query::sql))
        .route("/tables", get(query::tables))
        .route("/reports", get(query::reports))
        .route("/reports/{name}", get(query::report))
        .route("/reports/{name}/run", get(query::run_report))
        .route("/settings", get(settings::tenant).put(settings::put_tenant))
        .route(
            "/settings/queues/{queue_id}",
            get(settings::queue).put(settings::put_queue),
        )
        .route("/alerts", get(alerts::list))
        .route("/alerts/{alert_id}/acknowledge", post(alerts::acknowledge))
        .route("/alerts/{alert_id}/snooze", post(alerts::snooze))
        .route("/alert-rules", get(alerts::rules))
        .route(
            "/alert-rules/{rule_id}",
            get(alerts::rule)
                .put(alerts::put_rule)
                .delete(alerts::delete_rule),
        )
        .route("/stream", get(crate::stream::upgrade))
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/", get(page::index))
        .route("/assets/{file}", get(page::asset))
        .route("/healthz", get(ops::health))
        .route("/readyz", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route (the routes are listed at /api/v1/openapi.json)")
}

/// Counts responses by status class for `/metrics`.
async fn count_responses(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    state.metrics.observe_response(response.status().as_u16());
    response
}

/// The query scope of the caller: its tenant, in the tenant's time zone.
fn tenant_scope(state: &ApiState, caller: &Principal) -> TenantScope {
    let timezone = state.settings.current().tenant(&caller.tenant_id).timezone;
    TenantScope::new(caller.tenant_id.clone(), timezone)
}

/// The rows of `output` as a JSON array of objects (timestamps RFC 3339 UTC).
fn rows_json(output: &QueryOutput) -> Result<Box<RawValue>, ApiError> {
    let bytes = crate::views::rows_json(output).map_err(ApiError::internal)?;
    RawValue::from_string(String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| ApiError::internal(format!("encoding the rows: {e}")))
}
