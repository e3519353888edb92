//! The wallboard page (`dashboard-api/assets/`) in headless Chromium, against a fake API
//! server written here: it serves the three asset files from disk, answers
//! `GET /api/v1/me`, `/queues` and `/agents` with canned data (401 with the error body
//! for a wrong token), `POST /api/v1/alerts/{id}/acknowledge` (recorded; 403 for a
//! viewer or when the test says so), and on `/api/v1/stream` sends a snapshot, then
//! whatever the test commands (a delta, a close), exactly as `notes/api-spec.md` and the
//! stream's docs (`dashboard-api/src/stream.rs`) describe the messages. By default the
//! snapshot has no `alerts`, as from a server without alerting.
//!
//! The page must show the canned data as the spec formats it, tick, filter, remember its
//! layout across reloads, apply deltas in place, reconnect after a close, fall back to
//! the token form for a wrong or revoked token, and show the alerts: ordered, ticking,
//! marking their queues' tiles, acknowledgeable by a supervisor only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ccpulse_tests::browser::{Browser, Page, test_output_path};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Upper bound for any one wait in the page.
const WAIT: Duration = Duration::from_secs(15);

const GOOD_TOKEN: &str =
    "ccp_0a1b2c3d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const WRONG_TOKEN: &str =
    "ccp_deadbeef_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
/// A valid token of the `viewer` role: it reads everything, acknowledges nothing.
const VIEWER_TOKEN: &str =
    "ccp_5e1f0a77_8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";
const UNAUTHORIZED_MESSAGE: &str = "The token is not valid: unknown or revoked.";
const FORBIDDEN_MESSAGE: &str = "This token may not acknowledge alerts on queue support.";

const AS_OF: &str = "2026-11-20T10:15:02.120Z";
const DELTA_AS_OF: &str = "2026-11-20T10:15:07.480Z";

// ---------------------------------------------------------------------------------
// Canned data

fn summary(service_level: Value, asa_ms: Value, abandon_rate: Value) -> Value {
    json!({
        "period_start": "2026-11-20T00:00:00.000Z", "offered": 10, "answered": 8,
        "abandoned": 1, "flowed_out": 0, "service_level": service_level, "asa_ms": asa_ms,
        "abandon_rate": abandon_rate,
    })
}

struct QueueSpec {
    id: &'static str,
    channel: &'static str,
    waiting_now: u32,
    oldest_wait_ms: Option<u64>,
    /// available, alerting, interacting, after_contact_work, away, offline.
    agents: [u32; 6],
    sl_threshold_s: u32,
    sl_target_pct: f64,
    /// Today's service level, ASA and abandon rate.
    today: (Value, Value, Value),
    sl_now: Value,
}

fn queue_view(spec: &QueueSpec) -> Value {
    let [
        available,
        alerting,
        interacting,
        after_contact_work,
        away,
        offline,
    ] = spec.agents;
    let (sl_today, asa_ms, abandon_rate) = spec.today.clone();
    json!({
        "queue_id": spec.id, "channels": [spec.channel], "as_of": AS_OF,
        "waiting_now": spec.waiting_now, "oldest_wait_ms": spec.oldest_wait_ms,
        "oldest_queued_at": spec.oldest_wait_ms.map(|_| "2026-11-20T10:14:20.120Z"),
        "in_progress": 5,
        "agents": {
            "available": available, "alerting": alerting, "interacting": interacting,
            "after_contact_work": after_contact_work, "away": away, "offline": offline,
        },
        "settings": {
            "sl_threshold_s": spec.sl_threshold_s, "sl_target_pct": spec.sl_target_pct,
            "sl_formula": "abandons_count",
        },
        "today": summary(sl_today, asa_ms, abandon_rate),
        "current_interval": summary(spec.sl_now.clone(), json!(null), json!(null)),
    })
}

/// Four queues, one per SL status of today: sales met (87.5 ≥ 80 + 5), support at risk
/// (82.0), billing missed (60.0 < 90), email no data. Sales (42 s > 20 s) and email
/// (1:06:40 > 3600 s) have an oldest wait over the threshold, billing (5 s < 60 s) not.
fn queues() -> Vec<Value> {
    [
        QueueSpec {
            id: "sales",
            channel: "voice",
            waiting_now: 3,
            oldest_wait_ms: Some(42_000),
            agents: [2, 0, 5, 1, 1, 0],
            sl_threshold_s: 20,
            sl_target_pct: 80.0,
            today: (json!(0.875), json!(12000.5), json!(0.111)),
            sl_now: json!(0.75),
        },
        QueueSpec {
            id: "support",
            channel: "voice",
            waiting_now: 0,
            oldest_wait_ms: None,
            agents: [1, 1, 0, 0, 0, 2],
            sl_threshold_s: 20,
            sl_target_pct: 80.0,
            today: (json!(0.82), json!(8400), json!(0.05)),
            sl_now: json!(null),
        },
        QueueSpec {
            id: "billing",
            channel: "chat",
            waiting_now: 1,
            oldest_wait_ms: Some(5_000),
            agents: [0, 0, 1, 0, 0, 0],
            sl_threshold_s: 60,
            sl_target_pct: 90.0,
            today: (json!(0.6), json!(65000), json!(0.2)),
            sl_now: json!(1.0),
        },
        QueueSpec {
            id: "email",
            channel: "email",
            waiting_now: 12,
            oldest_wait_ms: Some(4_000_000),
            agents: [0, 0, 0, 1, 0, 0],
            sl_threshold_s: 3600,
            sl_target_pct: 80.0,
            today: (json!(null), json!(null), json!(null)),
            sl_now: json!(null),
        },
    ]
    .iter()
    .map(queue_view)
    .collect()
}

fn agent_view(
    id: &str,
    state: &str,
    reason: Option<&str>,
    time_in_state_ms: u64,
    queues: &[&str],
    team: Option<&str>,
    channels: &[&str],
) -> Value {
    json!({
        "agent_id": id, "state": state, "reason": reason, "since": "2026-11-20T10:00:00.000Z",
        "time_in_state_ms": time_in_state_ms, "as_of": AS_OF, "queues": queues,
        "team_id": team, "channels": channels,
    })
}

fn agents() -> Vec<Value> {
    vec![
        agent_view(
            "a-1",
            "available",
            None,
            12_000,
            &["sales", "support"],
            Some("t-north"),
            &["voice"],
        ),
        agent_view(
            "a-2",
            "away",
            Some("lunch"),
            600_000,
            &["sales"],
            Some("t-south"),
            &["voice", "chat"],
        ),
        agent_view(
            "a-3",
            "interacting",
            None,
            3_700_000,
            &["billing"],
            Some("t-north"),
            &["chat"],
        ),
        agent_view(
            "a-10",
            "after_contact_work",
            None,
            5_000,
            &["email"],
            None,
            &["email"],
        ),
    ]
}

/// Sales gets busier and misses its target, email goes, a-2 is back from lunch, a-3
/// logs out of the view, a-11 arrives.
fn delta() -> Value {
    let sales = QueueSpec {
        id: "sales",
        channel: "voice",
        waiting_now: 7,
        oldest_wait_ms: Some(65_000),
        agents: [0, 1, 6, 1, 1, 0],
        sl_threshold_s: 20,
        sl_target_pct: 80.0,
        today: (json!(0.5), json!(30000), json!(0.25)),
        sl_now: json!(0.9),
    };
    json!({
        "type": "delta", "as_of": DELTA_AS_OF,
        "queues": { "upsert": [queue_view(&sales)], "remove": ["email"] },
        "agents": {
            "upsert": [
                agent_view("a-2", "interacting", None, 0, &["sales"], Some("t-south"), &["voice", "chat"]),
                agent_view("a-11", "available", None, 1_000, &["support"], Some("t-north"), &["voice"]),
            ],
            "remove": ["a-3"],
        },
    })
}

// Alerts ---------------------------------------------------------------------------

const SALES_SL: &str = "acme.sales-sl.queue.sales.1795168920000";
const BILLING_ABANDON: &str = "acme.billing-abandon.queue.billing.1795169100000";
const SUPPORT_WAIT: &str = "acme.support-wait.queue.support.1795169670000";
const NORTH_AWAY: &str = "acme.north-away.team.t-north.1795169580000";
const TENANT_ABANDON: &str = "acme.tenant-abandon.tenant.acme.1795169520000";
const EMAIL_WAIT: &str = "acme.email-wait.queue.email.1795169700000";

/// Who the fake says acknowledged an alert, and when.
const ACKNOWLEDGED_BY: &str = "wallboard";
const ACKNOWLEDGED_AT: &str = "2026-11-20T10:15:10.000Z";

/// An AlertView: not acknowledged, not snoozed.
struct AlertSpec {
    alert_id: &'static str,
    rule_id: &'static str,
    rule_name: &'static str,
    /// kind, id
    subject: (&'static str, &'static str),
    state: &'static str,
    severity: &'static str,
    metric: &'static str,
    comparison: &'static str,
    value: f64,
    threshold: f64,
    since: &'static str,
    fired_at: Option<&'static str>,
    message: &'static str,
}

fn alert_view(spec: &AlertSpec) -> Value {
    let (kind, subject) = spec.subject;
    json!({
        "alert_id": spec.alert_id, "rule_id": spec.rule_id, "rule_name": spec.rule_name,
        "subject": { "kind": kind, "id": subject },
        "queue_id": (kind == "queue").then_some(subject),
        "state": spec.state, "severity": spec.severity,
        "metric": spec.metric, "window": "current_interval", "comparison": spec.comparison,
        "value": spec.value, "threshold": spec.threshold, "volume": 14,
        "since": spec.since, "fired_at": spec.fired_at,
        "acknowledged_by": null, "acknowledged_at": null, "snoozed_until": null,
        "message": spec.message,
    })
}

/// Firing and critical on sales since 10:04 (11:02 before the snapshot's as_of).
fn sales_alert() -> Value {
    alert_view(&AlertSpec {
        alert_id: SALES_SL,
        rule_id: "sales-sl",
        rule_name: "Sales service level",
        subject: ("queue", "sales"),
        state: "firing",
        severity: "critical",
        metric: "service_level",
        comparison: "below",
        value: 0.62,
        threshold: 0.7,
        since: "2026-11-20T10:02:00.000Z",
        fired_at: Some("2026-11-20T10:04:00.000Z"),
        message: "Sales service level: service level (current interval) 62.0 % is below 70 % \
                  on queue sales",
    })
}

/// Firing warning on billing, acknowledged by dana and snoozed.
fn billing_alert() -> Value {
    let mut alert = alert_view(&AlertSpec {
        alert_id: BILLING_ABANDON,
        rule_id: "billing-abandon",
        rule_name: "Billing abandon rate",
        subject: ("queue", "billing"),
        state: "firing",
        severity: "warning",
        metric: "abandon_rate",
        comparison: "above",
        value: 0.2,
        threshold: 0.15,
        since: "2026-11-20T10:05:00.000Z",
        fired_at: Some("2026-11-20T10:06:00.000Z"),
        message: "Billing abandon rate: abandon rate (current interval) 20.0 % is above 15 % \
                  on queue billing",
    });
    alert["acknowledged_by"] = json!("dana");
    alert["acknowledged_at"] = json!("2026-11-20T10:08:30.000Z");
    alert["snoozed_until"] = json!("2026-11-20T10:45:00.000Z");
    alert
}

/// Critical on support: pending since 10:14:30, or firing from 10:15:05.
fn support_alert(firing: bool) -> Value {
    alert_view(&AlertSpec {
        alert_id: SUPPORT_WAIT,
        rule_id: "support-wait",
        rule_name: "Support oldest wait",
        subject: ("queue", "support"),
        state: if firing { "firing" } else { "pending" },
        severity: "critical",
        metric: "oldest_wait_s",
        comparison: "above",
        value: 95.0,
        threshold: 90.0,
        since: "2026-11-20T10:14:30.000Z",
        fired_at: firing.then_some("2026-11-20T10:15:05.000Z"),
        message: "Support oldest wait: oldest wait 95 s is above 90 s on queue support",
    })
}

/// A pending warning on a team (no queue), since 10:13.
fn north_alert() -> Value {
    alert_view(&AlertSpec {
        alert_id: NORTH_AWAY,
        rule_id: "north-away",
        rule_name: "North team away",
        subject: ("team", "t-north"),
        state: "pending",
        severity: "warning",
        metric: "agents_away",
        comparison: "above",
        value: 3.0,
        threshold: 2.0,
        since: "2026-11-20T10:13:00.000Z",
        fired_at: None,
        message: "North team away: agents away 3 is above 2 on team t-north",
    })
}

/// A firing warning on the tenant (no queue), fired at 10:14.
fn tenant_alert() -> Value {
    alert_view(&AlertSpec {
        alert_id: TENANT_ABANDON,
        rule_id: "tenant-abandon",
        rule_name: "Tenant abandon rate",
        subject: ("tenant", "acme"),
        state: "firing",
        severity: "warning",
        metric: "abandon_rate",
        comparison: "above",
        value: 0.125,
        threshold: 0.1,
        since: "2026-11-20T10:12:00.000Z",
        fired_at: Some("2026-11-20T10:14:00.000Z"),
        message: "Tenant abandon rate: abandon rate (current interval) 12.5 % is above 10 % \
                  on tenant acme",
    })
}

/// A firing critical on email, fired at 10:15:30.
fn email_alert() -> Value {
    alert_view(&AlertSpec {
        alert_id: EMAIL_WAIT,
        rule_id: "email-wait",
        rule_name: "Email oldest wait",
        subject: ("queue", "email"),
        state: "firing",
        severity: "critical",
        metric: "oldest_wait_s",
        comparison: "above",
        value: 4000.0,
        threshold: 3600.0,
        since: "2026-11-20T10:15:00.000Z",
        fired_at: Some("2026-11-20T10:15:30.000Z"),
        message: "Email oldest wait: oldest wait 4000 s is above 3600 s on queue email",
    })
}

/// The snapshot's alerts of the alert tests: one of each state and severity.
fn alerts() -> Vec<Value> {
    vec![
        sales_alert(),
        billing_alert(),
        support_alert(false),
        north_alert(),
    ]
}

/// Support starts firing, the tenant alert is new, the north one resolves; no queues
/// or agents (their keys are absent).
fn alert_delta() -> Value {
    json!({
        "type": "delta", "as_of": DELTA_AS_OF,
        "alerts": { "upsert": [support_alert(true), tenant_alert()], "remove": [NORTH_AWAY] },
    })
}

/// Every alert the fake knows, in its latest version: what it acknowledges.
fn known_alert(alert_id: &str) -> Option<Value> {
    [
        sales_alert(),
        billing_alert(),
        support_alert(true),
        north_alert(),
        tenant_alert(),
        email_alert(),
    ]
    .into_iter()
    .find(|alert| alert["alert_id"] == alert_id)
}

// ---------------------------------------------------------------------------------
// The fake API server

/// What the test tells open streams to do.
#[derive(Debug, Clone)]
enum Command {
    /// Send this delta (the server fills in `id` and `seq`).
    Delta(Value),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

#[derive(Debug, Default)]
struct Recorded {
    /// The `Authorization` header of every API request.
    authorizations: Vec<String>,
    /// The `access_token` of every stream connection.
    stream_tokens: Vec<String>,
    /// Every text message clients sent on streams.
    client_messages: Vec<Value>,
    /// Every acknowledge request: the alert id, the `Authorization` header, the body.
    acknowledgements: Vec<(String, String, Value)>,
}

/// What the fake answers, as the test sets it.
#[derive(Debug, Default)]
struct Script {
    /// The snapshot's `alerts` (sorted by id when sent); `None`: no `alerts` key, as
    /// from a server without alerting.
    snapshot_alerts: Option<Vec<Value>>,
    /// Acknowledging answers 403 even for a supervisor.
    acknowledge_forbidden: bool,
}

#[derive(Debug)]
struct Fake {
    commands: broadcast::Sender<Command>,
    /// Std mutex: never held across `.await`.
    recorded: Mutex<Recorded>,
    /// Std mutex: never held across `.await`.
    script: Mutex<Script>,
    /// Acknowledge requests wait while this is false (so that a test sees the page
    /// while one is in flight).
    acknowledge_gate: watch::Sender<bool>,
}

#[derive(Debug)]
struct FakeApi {
    url: String,
    fake: Arc<Fake>,
    server: JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeApi {
    async fn start() -> Result<FakeApi> {
        let (commands, _) = broadcast::channel(16);
        let fake = Arc::new(Fake {
            commands,
            recorded: Mutex::default(),
            script: Mutex::default(),
            acknowledge_gate: watch::Sender::new(true),
        });
        let router = Router::new()
            .route("/", get(index))
            .route("/assets/{file}", get(asset))
            .route("/api/v1/me", get(me))
            .route("/api/v1/queues", get(list_queues))
            .route("/api/v1/agents", get(list_agents))
            .route("/api/v1/stream", get(stream))
            .route(
                "/api/v1/alerts/{alert_id}/acknowledge",
                post(acknowledge_alert),
            )
            .with_state(Arc::clone(&fake));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("fake API server");
        });
        Ok(FakeApi { url, fake, server })
    }

    fn send(&self, command: Command) {
        self.fake
            .commands
            .send(command)
            .expect("a stream is open to receive the command");
    }

    fn recorded<T>(&self, read: impl FnOnce(&Recorded) -> T) -> T {
        read(&self.fake.recorded.lock().unwrap())
    }

    fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.fake.script.lock().unwrap());
    }

    /// Holds acknowledge requests (`false`) or lets them through (`true`).
    fn open_acknowledge_gate(&self, open: bool) {
        self.fake.acknowledge_gate.send_replace(open);
    }
}

fn assets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboard-api/assets")
}

async fn serve_asset(file: &str, content_type: &'static str) -> Response {
    match tokio::fs::read(assets_dir().join(file)).await {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(error) => (StatusCode::NOT_FOUND, format!("{file}: {error}")).into_response(),
    }
}

async fn index() -> Response {
    serve_asset("index.html", "text/html; charset=utf-8").await
}

async fn asset(UrlPath(file): UrlPath<String>) -> Response {
    let content_type = match file.as_str() {
        "wallboard.js" => "text/javascript; charset=utf-8",
        "wallboard.css" => "text/css; charset=utf-8",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    serve_asset(&file, content_type).await
}

fn authorization(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Records the request's token; the 401 error response unless it is [`GOOD_TOKEN`] or
/// [`VIEWER_TOKEN`].
fn unauthorized(fake: &Fake, headers: &HeaderMap) -> Option<Response> {
    let authorization = authorization(headers);
    let good = [GOOD_TOKEN, VIEWER_TOKEN]
        .iter()
        .any(|token| authorization == format!("Bearer {token}"));
    fake.recorded
        .lock()
        .unwrap()
        .authorizations
        .push(authorization);
    if good {
        return None;
    }
    let body = json!({ "error": { "code": "unauthorized", "message": UNAUTHORIZED_MESSAGE } });
    Some((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response())
}

async fn me(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    if let Some(rejection) = unauthorized(&fake, &headers) {
        return rejection;
    }
    if authorization(&headers) == format!("Bearer {VIEWER_TOKEN}") {
        return axum::Json(json!({
            "token_id": "5e1f0a77", "name": "wall-tv", "tenant_id": "acme",
            "role": "viewer", "queues": null,
        }))
        .into_response();
    }
    axum::Json(json!({
        "token_id": "0a1b2c3d", "name": ACKNOWLEDGED_BY, "tenant_id": "acme",
        "role": "supervisor", "queues": null,
    }))
    .into_response()
}

fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "error": { "code": code, "message": message } });
    (status, axum::Json(body)).into_response()
}

/// Records the call; 403 for a viewer or when scripted; else waits for the gate and
/// answers the alert, acknowledged (the stream is not told: the page must show the
/// answer by itself).
async fn acknowledge_alert(
    State(fake): State<Arc<Fake>>,
    UrlPath(alert_id): UrlPath<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(rejection) = unauthorized(&fake, &headers) {
        return rejection;
    }
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    fake.recorded.lock().unwrap().acknowledgements.push((
        alert_id.clone(),
        authorization(&headers),
        body,
    ));
    if authorization(&headers) == format!("Bearer {VIEWER_TOKEN}") {
        return api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The role viewer may not acknowledge alerts.",
        );
    }
    if fake.script.lock().unwrap().acknowledge_forbidden {
        return api_error(StatusCode::FORBIDDEN, "forbidden", FORBIDDEN_MESSAGE);
    }
    let mut gate = fake.acknowledge_gate.subscribe();
    if gate.wait_for(|open| *open).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let Some(mut alert) = known_alert(&alert_id) else {
        return api_error(StatusCode::NOT_FOUND, "not_found", "No such alert.");
    };
    alert["acknowledged_by"] = json!(ACKNOWLEDGED_BY);
    alert["acknowledged_at"] = json!(ACKNOWLEDGED_AT);
    axum::Json(alert).into_response()
}

async fn list_queues(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    if let Some(rejection) = unauthorized(&fake, &headers) {
        return rejection;
    }
    axum::Json(json!({ "tenant_id": "acme", "as_of": AS_OF, "queues": queues() })).into_response()
}

async fn list_agents(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    if let Some(rejection) = unauthorized(&fake, &headers) {
        return rejection;
    }
    axum::Json(json!({ "tenant_id": "acme", "as_of": AS_OF, "agents": agents() })).into_response()
}

async fn stream(
    upgrade: WebSocketUpgrade,
    Query(params): Query<HashMap<String, String>>,
    State(fake): State<Arc<Fake>>,
) -> Response {
    let token = params.get("access_token").cloned().unwrap_or_default();
    upgrade.on_upgrade(move |socket| serve_stream(socket, token, fake))
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// One stream: 4401 for a wrong token; else waits for the subscribe, sends the
/// snapshot, then runs the test's commands and answers pings.
async fn serve_stream(mut socket: WebSocket, token: String, fake: Arc<Fake>) {
    let mut commands = fake.commands.subscribe();
    fake.recorded
        .lock()
        .unwrap()
        .stream_tokens
        .push(token.clone());
    if token != GOOD_TOKEN && token != VIEWER_TOKEN {
        return close(socket, 4401, "invalid token").await;
    }
    let subscribe = loop {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) => break serde_json::from_str::<Value>(&text).ok(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return,
        }
    };
    let Some(subscribe) = subscribe else {
        return close(socket, 4400, "not JSON").await;
    };
    fake.recorded
        .lock()
        .unwrap()
        .client_messages
        .push(subscribe.clone());
    if subscribe["type"] != "subscribe" {
        return close(socket, 4400, "expected a subscribe").await;
    }
    let id = subscribe["id"].clone();
    let mut seq = 1;
    let mut snapshot = json!({
        "type": "snapshot", "id": id, "seq": seq, "as_of": AS_OF,
        "queues": queues(), "agents": agents(),
    });
    let snapshot_alerts = fake.script.lock().unwrap().snapshot_alerts.clone();
    if let Some(mut alerts) = snapshot_alerts {
        alerts.sort_by(|a, b| a["alert_id"].as_str().cmp(&b["alert_id"].as_str()));
        snapshot["alerts"] = json!(alerts);
    }
    if socket
        .send(Message::Text(snapshot.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Ok(Command::Delta(mut delta)) => {
                    seq += 1;
                    delta["id"] = id.clone();
                    delta["seq"] = json!(seq);
                    if socket.send(Message::Text(delta.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Ok(Command::Close(code, reason)) => return close(socket, code, reason).await,
                Err(_) => return,
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let ping = message["type"] == "ping";
                    fake.recorded.lock().unwrap().client_messages.push(message);
                    if ping {
                        let pong = json!({ "type": "pong" }).to_string();
                        if socket.send(Message::Text(pong.into())).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

// ---------------------------------------------------------------------------------
// Reading the page

/// Every tile: its `data-field` texts, plus `sl_status_attr` (`data-sl-status`),
/// `oldest_over` and `visible`; and `order`, the queue ids in document order.
const READ_TILES: &str = r#"(() => {
  const tiles = [...document.querySelectorAll('[data-queue]')];
  const read = (tile) => ({
    ...Object.fromEntries([...tile.querySelectorAll('[data-field]')]
      .map((element) => [element.dataset.field, element.textContent.trim()])),
    sl_status_attr: tile.dataset.slStatus,
    oldest_over: tile.dataset.oldestOver,
    visible: tile.checkVisibility(),
  });
  return {
    tiles: Object.fromEntries(tiles.map((tile) => [tile.dataset.queue, read(tile)])),
    order: tiles.map((tile) => tile.dataset.queue),
    visible: tiles.filter((tile) => tile.checkVisibility()).map((tile) => tile.dataset.queue),
  };
})()"#;

/// Every agent row: its `data-field` texts, `data-state` and `visible`; and `order`.
const READ_AGENTS: &str = r#"(() => {
  const rows = [...document.querySelectorAll('[data-agent]')];
  const read = (row) => ({
    ...Object.fromEntries([...row.querySelectorAll('[data-field]')]
      .map((element) => [element.dataset.field, element.textContent.trim()])),
    state_attr: row.dataset.state,
    visible: row.checkVisibility(),
  });
  return {
    rows: Object.fromEntries(rows.map((row) => [row.dataset.agent, read(row)])),
    order: rows.map((row) => row.dataset.agent),
    visible: rows.filter((row) => row.checkVisibility()).map((row) => row.dataset.agent),
  };
})()"#;

/// The alert strip: `visible`, `count`, `summary`, `order` (alert ids in document
/// order), each alert's `data-field` texts plus `state_attr`, `severity_attr` and
/// `button` ("none", "enabled" or "disabled"); each tile's `marker` (its `alert-*`
/// classes) and `badge` (the badge's text, "" when hidden); and what was `announced`.
const READ_ALERTS: &str = r#"(() => {
  const items = [...document.querySelectorAll('#alert-list [data-alert]')];
  const read = (item) => {
    const button = item.querySelector('button[data-action="acknowledge"]');
    return {
      ...Object.fromEntries([...item.querySelectorAll('[data-field]')]
        .map((element) => [element.dataset.field, element.textContent.trim()])),
      state_attr: item.dataset.state,
      severity_attr: item.dataset.severity,
      button: !button.checkVisibility() ? 'none' : button.disabled ? 'disabled' : 'enabled',
    };
  };
  const tile = (tile) => {
    const badge = tile.querySelector('[data-field="alert_badge"]');
    return {
      marker: [...tile.classList].filter((name) => name.startsWith('alert-')).join(' '),
      badge: badge.checkVisibility() ? badge.textContent.trim() : '',
    };
  };
  return {
    visible: document.getElementById('alerts').checkVisibility(),
    count: document.getElementById('alerts-count').textContent,
    summary: document.getElementById('alerts-summary').textContent,
    order: items.map((item) => item.dataset.alert),
    alerts: Object.fromEntries(items.map((item) => [item.dataset.alert, read(item)])),
    tiles: Object.fromEntries([...document.querySelectorAll('[data-queue]')]
      .map((element) => [element.dataset.queue, tile(element)])),
    announced: document.getElementById('alerts-announcer').textContent,
  };
})()"#;

/// Live, with this many tiles.
fn live_with_tiles(count: usize) -> String {
    format!(
        "document.body.dataset.connection === 'live' \
         && document.querySelectorAll('[data-queue]').length === {count}"
    )
}

fn assert_fields(read: &Value, id: &str, expected: &[(&str, &str)]) {
    for (field, text) in expected {
        assert_eq!(
            read[id][field], *text,
            "{id}.{field}; the whole item: {:#}",
            read[id]
        );
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| item.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// "mm:ss" or "h:mm:ss" as seconds.
fn clock_seconds(text: &str) -> Result<u64> {
    text.split(':').try_fold(0, |total, part| {
        let part: u64 = part
            .parse()
            .with_context(|| format!("not a duration: {text:?}"))?;
        Ok(total * 60 + part)
    })
}

/// Sets a filter select and fires its change event, as a user's choice does.
async fn choose(page: &Page, select_id: &str, value: &str) -> Result<()> {
    page.evaluate(&format!(
        "(() => {{ const select = document.getElementById('{select_id}'); \
         select.value = '{value}'; select.dispatchEvent(new Event('change')); }})()"
    ))
    .await?;
    Ok(())
}

async fn click(page: &Page, selector: &str) -> Result<()> {
    page.evaluate(&format!("document.querySelector('{selector}').click()"))
        .await?;
    Ok(())
}

fn assert_no_exceptions(page: &Page) {
    let console = page.console();
    assert!(
        !console.iter().any(|line| line.starts_with("exception")),
        "the page threw: {console:#?}"
    );
}

/// An RFC 3339 time as the page shows it: local "HH:MM".
fn local_hour_minute(time: &str) -> Result<String> {
    Ok(chrono::DateTime::parse_from_rfc3339(time)?
        .with_timezone(&chrono::Local)
        .format("%H:%M")
        .to_string())
}

/// "<prefix><mm:ss>" as seconds, checked to be within `range`.
fn assert_elapsed(text: &Value, prefix: &str, range: std::ops::RangeInclusive<u64>) -> Result<()> {
    let text = text.as_str().unwrap_or_default();
    let seconds = clock_seconds(
        text.strip_prefix(prefix)
            .with_context(|| format!("{text:?} does not start with {prefix:?}"))?,
    )?;
    ensure!(
        range.contains(&seconds),
        "{text:?}: {seconds} s, expected {range:?}"
    );
    Ok(())
}

/// A fresh browser on a fresh fake API whose snapshot has [`alerts`], opened at `path`
/// (e.g. `/?mode=wall`) with `token` in the fragment, live with its tiles and alerts.
async fn open_alert_board(token: &str, path: &str) -> Result<(FakeApi, Browser, Page)> {
    let api = FakeApi::start().await?;
    api.script(|script| script.snapshot_alerts = Some(alerts()));
    let browser = Browser::launch().await?;
    let page = browser
        .new_page(&format!("{}{path}#token={token}", api.url))
        .await?;
    page.wait_for(
        &format!(
            "{} && document.querySelectorAll('#alert-list [data-alert]').length === 4",
            live_with_tiles(4)
        ),
        WAIT,
    )
    .await?;
    Ok((api, browser, page))
}

/// A fresh browser (empty localStorage) on the board of a fresh fake API, opened with
/// the good token in the fragment, live with its four tiles.
async fn open_board() -> Result<(FakeApi, Browser, Page)> {
    let api = FakeApi::start().await?;
    let browser = Browser::launch().await?;
    let page = browser
        .new_page(&format!("{}/#token={GOOD_TOKEN}", api.url))
        .await?;
    page.wait_for(&live_with_tiles(4), WAIT).await?;
    Ok((api, browser, page))
}

// ---------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_shows_the_queues_and_agents_as_the_spec_formats_them() -> Result<()> {
    let opened = Instant::now();
    let (api, _browser, page) = open_board().await?;

    // The token: taken from the fragment, stored, the fragment dropped, sent as Bearer
    // and on the stream; the subscription exactly as the spec's.
    let token_state = page
        .evaluate("[location.hash, localStorage.getItem('ccpulse.token')]")
        .await?;
    assert_eq!(token_state, json!(["", GOOD_TOKEN]));
    api.recorded(|recorded| {
        assert!(
            recorded
                .authorizations
                .iter()
                .all(|auth| *auth == format!("Bearer {GOOD_TOKEN}")),
            "{:?}",
            recorded.authorizations
        );
        assert_eq!(recorded.stream_tokens, [GOOD_TOKEN]);
        assert_eq!(
            recorded.client_messages[0],
            json!({ "type": "subscribe", "id": "wall", "topic": "tenant" })
        );
    });
    let header = page
        .evaluate(
            "['identity-tenant', 'identity-role', 'status', 'as-of'] \
             .map((id) => document.getElementById(id).textContent)",
        )
        .await?;
    let as_of = chrono::DateTime::parse_from_rfc3339(AS_OF)?
        .with_timezone(&chrono::Local)
        .format("data as of %H:%M:%S")
        .to_string();
    assert_eq!(header, json!(["acme", "supervisor", "live", as_of]));
    // Only the status line and the alert announcer are live regions (not the tiles,
    // not the alert strip: they tick every second).
    let live_regions = page
        .evaluate("[...document.querySelectorAll('[aria-live]')].map((element) => element.id)")
        .await?;
    assert_eq!(live_regions, json!(["status", "alerts-announcer"]));
    // A snapshot without `alerts` (a server without alerting): no alert strip, no marks.
    let read = page.evaluate(READ_ALERTS).await?;
    assert_eq!(read["visible"], false);
    assert_eq!(read["order"], json!([]));
    for queue in ["sales", "support", "billing", "email"] {
        assert_eq!(read["tiles"][queue], json!({ "marker": "", "badge": "" }));
    }

    // Queue tiles: the canned values, formatted as the spec says.
    let read = page.evaluate(READ_TILES).await?;
    let tiles = &read["tiles"];
    assert_eq!(
        strings(&read["order"]),
        ["billing", "email", "sales", "support"]
    );
    assert_fields(
        tiles,
        "sales",
        &[
            ("waiting_now", "3"),
            ("sl_now", "75.0 %"),
            ("sl_now_status", "missed"),
            ("sl_today", "87.5 %"),
            ("sl_today_status", "met"),
            ("sl_status_attr", "met"),
            ("sl_target", "80.0 %"),
            ("asa", "12 s"),
            ("abandon_rate", "11.1 %"),
            ("agents_available", "2"),
            ("agents_alerting", "0"),
            ("agents_interacting", "5"),
            ("agents_after_contact_work", "1"),
            ("agents_away", "1"),
            ("agents_offline", "0"),
            ("channels", "voice"),
            ("oldest_over", "true"),
            ("oldest_wait_status", "over 20 s"),
        ],
    );
    assert_fields(
        tiles,
        "support",
        &[
            ("waiting_now", "0"),
            ("oldest_wait", "—"),
            ("oldest_over", "false"),
            ("oldest_wait_status", ""),
            ("sl_now", "—"),
            ("sl_now_status", "no data"),
            ("sl_today", "82.0 %"),
            ("sl_today_status", "at risk"),
            ("sl_status_attr", "at_risk"),
            ("asa", "8 s"),
            ("abandon_rate", "5.0 %"),
            ("agents_available", "1"),
            ("agents_offline", "2"),
        ],
    );
    assert_fields(
        tiles,
        "billing",
        &[
            ("waiting_now", "1"),
            ("oldest_over", "false"),
            ("sl_now", "100.0 %"),
            ("sl_now_status", "met"),
            ("sl_today", "60.0 %"),
            ("sl_today_status", "missed"),
            ("sl_status_attr", "missed"),
            ("sl_target", "90.0 %"),
            ("asa", "65 s"),
            ("abandon_rate", "20.0 %"),
        ],
    );
    assert_fields(
        tiles,
        "email",
        &[
            ("waiting_now", "12"),
            ("oldest_over", "true"),
            ("oldest_wait_status", "over 3600 s"),
            ("sl_today", "—"),
            ("sl_today_status", "no data"),
            ("sl_status_attr", "no_data"),
            ("asa", "—"),
            ("abandon_rate", "—"),
        ],
    );
    // Oldest waits tick on from arrival: the canned value, or a little more.
    let ticked = opened.elapsed().as_secs() + 1;
    for (queue, canned) in [("sales", 42), ("billing", 5), ("email", 4000)] {
        let shown = clock_seconds(tiles[queue]["oldest_wait"].as_str().unwrap_or(""))?;
        assert!(
            (canned..=canned + ticked).contains(&shown),
            "{queue}: oldest wait {shown} s, canned {canned} s"
        );
    }
    assert!(
        tiles["email"]["oldest_wait"]
            .as_str()
            .is_some_and(|text| text.starts_with("1:06:")),
        "h:mm:ss past an hour: {}",
        tiles["email"]["oldest_wait"]
    );

    // The agent grid, sorted by id (a-10 after a-3).
    let read = page.evaluate(READ_AGENTS).await?;
    let rows = &read["rows"];
    assert_eq!(strings(&read["order"]), ["a-1", "a-2", "a-3", "a-10"]);
    assert_fields(
        rows,
        "a-1",
        &[
            ("state", "Available"),
            ("state_attr", "available"),
            ("queues", "sales, support"),
            ("team", "t-north"),
        ],
    );
    assert_fields(
        rows,
        "a-2",
        &[
            ("state", "Away (lunch)"),
            ("state_attr", "away"),
            ("queues", "sales"),
            ("team", "t-south"),
            ("channels", "voice, chat"),
        ],
    );
    assert_fields(
        rows,
        "a-10",
        &[("state", "After-contact work"), ("team", "—")],
    );
    let a3_time = clock_seconds(rows["a-3"]["time_in_state"].as_str().unwrap_or(""))?;
    assert!(
        (3700..=3700 + ticked).contains(&a3_time),
        "a-3: {a3_time} s"
    );

    // Time in state ticks: read it again after the wall clock moved on.
    let time_of_a2 =
        "document.querySelector('[data-agent=\"a-2\"] [data-field=\"time_in_state\"]').textContent";
    let first = page.evaluate(time_of_a2).await?;
    let first = first.as_str().context("a-2's time in state")?.to_owned();
    let second = page
        .wait_for(
            &format!("(() => {{ const now = {time_of_a2}; return now !== '{first}' && now; }})()"),
            WAIT,
        )
        .await?;
    let (first, second) = (
        clock_seconds(&first)?,
        clock_seconds(second.as_str().unwrap_or(""))?,
    );
    assert!(
        second > first && first >= 600,
        "a-2's time in state went from {first} s to {second} s"
    );

    // The formatting rules at their edges, from the page's own module.
    let formatted = page
        .evaluate(
            "import('/assets/wallboard.js').then((m) => [m.formatDuration(3723000), \
             m.formatDuration(59999), m.formatDuration(null), m.formatPercent(0.8499), \
             m.formatPercent(0), m.formatSeconds(12499), m.slStatus(0.85, 80), \
             m.slStatus(0.8, 80), m.slStatus(0.849, 80), m.slStatus(0.7949, 80), \
             m.slStatus(null, 80)])",
        )
        .await?;
    assert_eq!(
        formatted,
        json!([
            "1:02:03", "00:59", "—", "85.0 %", "0.0 %", "12 s", "met", "at_risk", "at_risk",
            "missed", "no_data"
        ])
    );

    let screenshot = test_output_path("wallboard-page.png");
    page.screenshot(&screenshot).await?;
    let png = std::fs::read(&screenshot)?;
    ensure!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "not a real screenshot"
    );
    println!("screenshot: {}", screenshot.display());
    assert_no_exceptions(&page);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_order_and_sections_are_remembered_across_reloads() -> Result<()> {
    let (_api, _browser, page) = open_board().await?;

    // By queue (tiles and agents), remembered across a reload.
    choose(&page, "filter-queue", "billing").await?;
    let tiles = page.evaluate(READ_TILES).await?;
    assert_eq!(strings(&tiles["visible"]), ["billing"]);
    let agents = page.evaluate(READ_AGENTS).await?;
    assert_eq!(strings(&agents["visible"]), ["a-3"]);
    page.reload().await?;
    page.wait_for(&live_with_tiles(4), WAIT).await?;
    let tiles = page.evaluate(READ_TILES).await?;
    assert_eq!(strings(&tiles["visible"]), ["billing"]);
    assert_eq!(
        page.evaluate("document.getElementById('filter-queue').value")
            .await?,
        "billing"
    );
    choose(&page, "filter-queue", "").await?;
    // By channel (tiles and agents), then by team (agents only).
    choose(&page, "filter-channel", "voice").await?;
    let tiles = page.evaluate(READ_TILES).await?;
    assert_eq!(strings(&tiles["visible"]), ["sales", "support"]);
    let agents = page.evaluate(READ_AGENTS).await?;
    assert_eq!(strings(&agents["visible"]), ["a-1", "a-2"]);
    choose(&page, "filter-team", "t-north").await?;
    let agents = page.evaluate(READ_AGENTS).await?;
    assert_eq!(strings(&agents["visible"]), ["a-1"]);
    let tiles = page.evaluate(READ_TILES).await?;
    assert_eq!(strings(&tiles["visible"]), ["sales", "support"]);
    choose(&page, "filter-channel", "").await?;
    choose(&page, "filter-team", "").await?;
    let tiles = page.evaluate(READ_TILES).await?;
    assert_eq!(tiles["visible"], tiles["order"]);

    // Tile order: a keyboard-accessible move button (focus stays on it) ...
    click(
        &page,
        "[data-queue=\"sales\"] button[data-move=\"earlier\"]",
    )
    .await?;
    let tiles = page.evaluate(READ_TILES).await?;
    assert_eq!(
        strings(&tiles["order"]),
        ["billing", "sales", "email", "support"]
    );
    let focused = page
        .evaluate("document.activeElement.getAttribute('aria-label')")
        .await?;
    assert_eq!(focused, "Move sales earlier");
    // ... and drag and drop: support dropped on billing takes its place.
    page.evaluate(
        "(() => { const transfer = new DataTransfer(); \
         const from = document.querySelector('[data-queue=\"support\"]'); \
         const to = document.querySelector('[data-queue=\"billing\"]'); \
         const fire = (target, type) => target.dispatchEvent(new DragEvent(type, \
           { bubbles: true, cancelable: true, dataTransfer: transfer })); \
         fire(from, 'dragstart'); fire(to, 'dragover'); fire(to, 'drop'); fire(from, 'dragend'); })()",
    )
    .await?;
    let tiles = page.evaluate(READ_TILES).await?;
    assert_eq!(
        strings(&tiles["order"]),
        ["support", "billing", "sales", "email"]
    );

    // Sections can be hidden; order and sections are remembered.
    click(&page, "#show-agents").await?;
    assert_eq!(
        page.evaluate("document.getElementById('agents-section').checkVisibility()")
            .await?,
        false
    );
    page.reload().await?;
    page.wait_for(&live_with_tiles(4), WAIT).await?;
    let tiles = page.evaluate(READ_TILES).await?;
    assert_eq!(
        strings(&tiles["order"]),
        ["support", "billing", "sales", "email"]
    );
    let sections = page
        .evaluate(
            "[document.getElementById('agents-section').checkVisibility(), \
             document.getElementById('show-agents').checked, \
             document.getElementById('queues-section').checkVisibility()]",
        )
        .await?;
    assert_eq!(sections, json!([false, false, true]));
    assert_no_exceptions(&page);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_update_in_place_and_a_reconnect_resyncs() -> Result<()> {
    let (api, _browser, page) = open_board().await?;

    // A delta updates the tiles and rows it names, in place, and removes the others.
    let as_of_before = page
        .evaluate("document.getElementById('as-of').textContent")
        .await?;
    let sales_tile = "document.querySelector('[data-queue=\"sales\"]')";
    page.evaluate(&format!("window.salesTileBefore = {sales_tile}"))
        .await?;
    api.send(Command::Delta(delta()));
    page.wait_for(
        &format!(
            "{sales_tile}.querySelector('[data-field=\"waiting_now\"]').textContent === '7' \
             && !document.querySelector('[data-queue=\"email\"]') \
             && !document.querySelector('[data-agent=\"a-3\"]')"
        ),
        WAIT,
    )
    .await?;
    let read = page.evaluate(READ_TILES).await?;
    assert_eq!(strings(&read["order"]), ["billing", "sales", "support"]);
    assert_fields(
        &read["tiles"],
        "sales",
        &[
            ("waiting_now", "7"),
            ("sl_today", "50.0 %"),
            ("sl_today_status", "missed"),
            ("sl_status_attr", "missed"),
            ("sl_now", "90.0 %"),
            ("sl_now_status", "met"),
            ("asa", "30 s"),
            ("abandon_rate", "25.0 %"),
            ("agents_available", "0"),
            ("agents_interacting", "6"),
        ],
    );
    // Untouched tiles keep their values; the sales tile is the same element, updated.
    assert_fields(&read["tiles"], "support", &[("sl_today", "82.0 %")]);
    assert_eq!(
        page.evaluate(&format!("window.salesTileBefore === {sales_tile}"))
            .await?,
        true
    );
    let read = page.evaluate(READ_AGENTS).await?;
    assert_eq!(strings(&read["order"]), ["a-1", "a-2", "a-10", "a-11"]);
    assert_fields(
        &read["rows"],
        "a-2",
        &[("state", "Interacting"), ("state_attr", "interacting")],
    );
    assert_fields(
        &read["rows"],
        "a-11",
        &[("state", "Available"), ("team", "t-north")],
    );
    let a2_time = clock_seconds(read["rows"]["a-2"]["time_in_state"].as_str().unwrap_or(""))?;
    assert!(a2_time < 60, "a-2 changed state: {a2_time} s");
    let as_of_after = page
        .evaluate("document.getElementById('as-of').textContent")
        .await?;
    assert_ne!(as_of_before, as_of_after);
    assert!(
        as_of_after
            .as_str()
            .is_some_and(|text| text.starts_with("data as of ")),
        "{as_of_after}"
    );

    // A closed stream: "reconnecting…" (every status text is recorded, so a short
    // backoff cannot slip between two polls), then a new connection whose snapshot
    // replaces the board (email and a-3 are back, a-11 gone).
    page.evaluate(
        "window.statusTexts = []; \
         new MutationObserver(() => statusTexts.push(document.getElementById('status').textContent)) \
           .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true })",
    )
    .await?;
    api.send(Command::Close(1001, "server restarting"));
    page.wait_for(&live_with_tiles(4), WAIT).await?;
    let texts = page.evaluate("statusTexts").await?;
    let texts = strings(&texts);
    assert!(
        texts.iter().any(|text| text.starts_with("reconnecting…"))
            && texts.last().is_some_and(|text| text == "live"),
        "status texts while reconnecting: {texts:?}"
    );
    api.recorded(|recorded| assert_eq!(recorded.stream_tokens.len(), 2));
    let read = page.evaluate(READ_AGENTS).await?;
    assert_eq!(strings(&read["order"]), ["a-1", "a-2", "a-3", "a-10"]);
    let read = page.evaluate(READ_TILES).await?;
    assert_fields(&read["tiles"], "sales", &[("waiting_now", "3")]);
    assert_no_exceptions(&page);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_listed_mark_their_queues_and_can_be_acknowledged() -> Result<()> {
    let opened = Instant::now();
    let (api, _browser, page) = open_alert_board(GOOD_TOKEN, "/").await?;

    // The strip: a labelled region above the tiles, the count, firing before pending,
    // critical before warning (the snapshot had them by id).
    let strip = page
        .evaluate(
            "(() => { const strip = document.getElementById('alerts'); \
             return [strip.getAttribute('role'), strip.getAttribute('aria-label'), \
             Boolean(strip.compareDocumentPosition(document.getElementById('queue-tiles')) \
             & Node.DOCUMENT_POSITION_FOLLOWING)]; })()",
        )
        .await?;
    assert_eq!(strip, json!(["region", "Service-level alerts", true]));
    let read = page.evaluate(READ_ALERTS).await?;
    assert_eq!(read["visible"], true);
    assert_eq!(read["count"], "4 alerts");
    assert_eq!(read["summary"], "2 firing · 2 pending");
    assert_eq!(
        strings(&read["order"]),
        [SALES_SL, BILLING_ABANDON, SUPPORT_WAIT, NORTH_AWAY]
    );
    let alerts = &read["alerts"];
    assert_fields(
        alerts,
        SALES_SL,
        &[
            ("severity", "Critical"),
            ("state_attr", "firing"),
            ("severity_attr", "critical"),
            (
                "message",
                "Sales service level: service level (current interval) 62.0 % is below 70 % \
                 on queue sales",
            ),
            ("acknowledged", ""),
            ("snoozed", ""),
            ("button", "enabled"),
        ],
    );
    assert_fields(
        alerts,
        BILLING_ABANDON,
        &[
            ("severity", "Warning"),
            ("state_attr", "firing"),
            (
                "acknowledged",
                &format!(
                    "acknowledged by dana at {}",
                    local_hour_minute("2026-11-20T10:08:30.000Z")?
                ),
            ),
            (
                "snoozed",
                &format!(
                    "snoozed until {}",
                    local_hour_minute("2026-11-20T10:45:00.000Z")?
                ),
            ),
            ("button", "none"),
        ],
    );
    assert_fields(
        alerts,
        SUPPORT_WAIT,
        &[
            ("severity", "Critical"),
            ("state_attr", "pending"),
            ("button", "none"),
        ],
    );
    assert_fields(
        alerts,
        NORTH_AWAY,
        &[("state_attr", "pending"), ("button", "none")],
    );
    // How long: on the data's clock (as_of 10:15:02.12), ticking on.
    let ticked = opened.elapsed().as_secs() + 1;
    assert_elapsed(
        &alerts[SALES_SL]["elapsed"],
        "firing for ",
        662..=662 + ticked,
    )?;
    assert_elapsed(
        &alerts[SUPPORT_WAIT]["elapsed"],
        "pending for ",
        32..=32 + ticked,
    )?;
    assert_elapsed(
        &alerts[NORTH_AWAY]["elapsed"],
        "pending for ",
        122..=122 + ticked,
    )?;
    let sales_elapsed = format!(
        "document.querySelector('[data-alert=\"{SALES_SL}\"] [data-field=\"elapsed\"]').textContent"
    );
    let first = alerts[SALES_SL]["elapsed"].as_str().unwrap_or_default();
    page.wait_for(&format!("{sales_elapsed} !== '{first}'"), WAIT)
        .await?;
    // Pending alerts are quieter: muted text, no filled badge.
    let colours = page
        .evaluate(&format!(
            "[{SALES_SL:?}, {SUPPORT_WAIT:?}].map((id) => {{ \
             const item = document.querySelector(`[data-alert=\"${{id}}\"]`); \
             return [getComputedStyle(item).color, \
             getComputedStyle(item.querySelector('.alert-severity')).backgroundColor]; }})"
        ))
        .await?;
    assert_ne!(colours[0], colours[1], "firing and pending look alike");
    // Tiles: a firing alert marks its queue; a pending one does not.
    assert_eq!(
        read["tiles"]["sales"],
        json!({ "marker": "alert-critical", "badge": "critical alert" })
    );
    assert_eq!(
        read["tiles"]["billing"],
        json!({ "marker": "alert-warning", "badge": "warning alert" })
    );
    for queue in ["support", "email"] {
        assert_eq!(read["tiles"][queue], json!({ "marker": "", "badge": "" }));
    }
    // The first snapshot is on screen: nothing to announce.
    assert_eq!(read["announced"], "");

    let screenshot = test_output_path("wallboard-alerts.png");
    page.screenshot(&screenshot).await?;
    println!("screenshot: {}", screenshot.display());

    // A delta: support starts firing, the tenant alert is new, north resolves; the
    // items are updated in place and the new firing ones announced.
    let sales_item = format!("document.querySelector('[data-alert=\"{SALES_SL}\"]')");
    page.evaluate(&format!("window.salesAlertBefore = {sales_item}"))
        .await?;
    api.send(Command::Delta(alert_delta()));
    page.wait_for(
        "document.getElementById('alerts-count').textContent === '4 alerts' \
         && !document.querySelector('[data-alert*=\"north-away\"]')",
        WAIT,
    )
    .await?;
    let read = page.evaluate(READ_ALERTS).await?;
    assert_eq!(
        strings(&read["order"]),
        [SALES_SL, SUPPORT_WAIT, BILLING_ABANDON, TENANT_ABANDON]
    );
    assert_eq!(read["summary"], "4 firing");
    assert_fields(
        &read["alerts"],
        SUPPORT_WAIT,
        &[("state_attr", "firing"), ("button", "enabled")],
    );
    assert_elapsed(
        &read["alerts"][SUPPORT_WAIT]["elapsed"],
        "firing for ",
        2..=2 + WAIT.as_secs(),
    )?;
    assert_fields(
        &read["alerts"],
        TENANT_ABANDON,
        &[("severity", "Warning"), ("button", "enabled")],
    );
    assert_eq!(
        read["tiles"]["support"],
        json!({ "marker": "alert-critical", "badge": "critical alert" })
    );
    assert_eq!(
        read["announced"],
        "New critical alert: Support oldest wait: oldest wait 95 s is above 90 s on queue \
         support. New warning alert: Tenant abandon rate: abandon rate (current interval) \
         12.5 % is above 10 % on tenant acme."
    );
    assert_eq!(
        page.evaluate(&format!("window.salesAlertBefore === {sales_item}"))
            .await?,
        true
    );

    // Acknowledging: the button is disabled while the request runs (a second click
    // sends nothing), then the answer shows who acknowledged it.
    api.open_acknowledge_gate(false);
    let sales_button = format!("[data-alert=\"{SALES_SL}\"] button[data-action=\"acknowledge\"]");
    click(&page, &sales_button).await?;
    page.wait_for(
        &format!("document.querySelector('{sales_button}').disabled"),
        WAIT,
    )
    .await?;
    click(&page, &sales_button).await?;
    api.open_acknowledge_gate(true);
    let acknowledged = format!(
        "acknowledged by {ACKNOWLEDGED_BY} at {}",
        local_hour_minute(ACKNOWLEDGED_AT)?
    );
    page.wait_for(
        &format!(
            "{sales_item}.querySelector('[data-field=\"acknowledged\"]').textContent === '{acknowledged}'"
        ),
        WAIT,
    )
    .await?;
    api.recorded(|recorded| {
        assert_eq!(
            recorded.acknowledgements,
            [(
                SALES_SL.to_owned(),
                format!("Bearer {GOOD_TOKEN}"),
                json!({})
            )]
        );
    });
    let read = page.evaluate(READ_ALERTS).await?;
    assert_fields(&read["alerts"], SALES_SL, &[("button", "none")]);
    assert_eq!(
        page.evaluate("document.getElementById('status').textContent")
            .await?,
        "live"
    );

    // A refused acknowledgement: the server's message on the status line, the button
    // back, the alert unchanged.
    api.script(|script| script.acknowledge_forbidden = true);
    click(
        &page,
        &format!("[data-alert=\"{SUPPORT_WAIT}\"] button[data-action=\"acknowledge\"]"),
    )
    .await?;
    let status = page
        .wait_for(
            "(() => { const text = document.getElementById('status').textContent; \
             return text.startsWith('could not') && text; })()",
            WAIT,
        )
        .await?;
    assert_eq!(
        status,
        format!("could not acknowledge \"Support oldest wait\": {FORBIDDEN_MESSAGE}")
    );
    page.wait_for(
        &format!("!document.querySelector('[data-alert=\"{SUPPORT_WAIT}\"] button').disabled"),
        WAIT,
    )
    .await?;
    let read = page.evaluate(READ_ALERTS).await?;
    assert_fields(
        &read["alerts"],
        SUPPORT_WAIT,
        &[("button", "enabled"), ("acknowledged", "")],
    );

    // A delta without `alerts` changes no alert, and a re-rendered tile keeps its mark.
    api.send(Command::Delta(delta()));
    page.wait_for(&live_with_tiles(3), WAIT).await?;
    let read = page.evaluate(READ_ALERTS).await?;
    assert_eq!(
        strings(&read["order"]),
        [SALES_SL, SUPPORT_WAIT, BILLING_ABANDON, TENANT_ABANDON]
    );
    assert_eq!(read["tiles"]["sales"]["marker"], "alert-critical");

    // A reconnect re-syncs from the snapshot: sales and support resolved in between,
    // email fires (and only it is announced); the tiles follow.
    api.script(|script| script.snapshot_alerts = Some(vec![billing_alert(), email_alert()]));
    api.send(Command::Close(1001, "server restarting"));
    page.wait_for(
        &format!(
            "{} && document.getElementById('alerts-count').textContent === '2 alerts'",
            live_with_tiles(4)
        ),
        WAIT,
    )
    .await?;
    let read = page.evaluate(READ_ALERTS).await?;
    assert_eq!(strings(&read["order"]), [EMAIL_WAIT, BILLING_ABANDON]);
    assert_eq!(
        read["announced"],
        "New critical alert: Email oldest wait: oldest wait 4000 s is above 3600 s on queue \
         email."
    );
    assert_eq!(
        read["tiles"],
        json!({
            "billing": { "marker": "alert-warning", "badge": "warning alert" },
            "email": { "marker": "alert-critical", "badge": "critical alert" },
            "sales": { "marker": "", "badge": "" },
            "support": { "marker": "", "badge": "" },
        })
    );
    assert_no_exceptions(&page);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_the_alerts_in_wall_mode_without_acknowledge_buttons() -> Result<()> {
    let (api, _browser, page) = open_alert_board(VIEWER_TOKEN, "/?mode=wall").await?;
    assert_eq!(
        page.evaluate(
            "[document.getElementById('identity-role').textContent, \
             document.documentElement.classList.contains('wall'), \
             document.getElementById('controls').checkVisibility()]"
        )
        .await?,
        json!(["viewer", true, false])
    );
    let read = page.evaluate(READ_ALERTS).await?;
    assert_eq!(read["visible"], true, "the strip stays in wall mode");
    assert_eq!(read["count"], "4 alerts");
    for id in [SALES_SL, BILLING_ABANDON, SUPPORT_WAIT, NORTH_AWAY] {
        assert_fields(&read["alerts"], id, &[("button", "none")]);
    }
    assert_eq!(read["tiles"]["sales"]["marker"], "alert-critical");
    // Still none once an alert starts firing.
    api.send(Command::Delta(alert_delta()));
    page.wait_for(
        &format!(
            "document.querySelector('[data-alert=\"{SUPPORT_WAIT}\"]').dataset.state === 'firing'"
        ),
        WAIT,
    )
    .await?;
    let read = page.evaluate(READ_ALERTS).await?;
    assert_fields(&read["alerts"], SUPPORT_WAIT, &[("button", "none")]);
    api.recorded(|recorded| assert!(recorded.acknowledgements.is_empty()));

    let screenshot = test_output_path("wallboard-alerts-wall.png");
    page.screenshot(&screenshot).await?;
    println!("screenshot: {}", screenshot.display());
    assert_no_exceptions(&page);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_mode_hides_the_controls_and_enlarges_the_text() -> Result<()> {
    let (api, _browser, page) = open_board().await?;
    let normal_font = page
        .evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        .await?;
    // The token is remembered: no fragment needed.
    page.goto(&format!("{}/?mode=wall", api.url)).await?;
    page.wait_for(&live_with_tiles(4), WAIT).await?;
    let wall = page
        .evaluate(
            "[document.documentElement.classList.contains('wall'), \
             document.getElementById('controls').checkVisibility(), \
             document.getElementById('sign-out-button').checkVisibility(), \
             document.querySelector('[data-queue] button[data-move]').checkVisibility(), \
             document.querySelector('[data-queue]').draggable, \
             parseFloat(getComputedStyle(document.documentElement).fontSize)]",
        )
        .await?;
    assert_eq!(
        wall.as_array().map(|items| &items[..5]),
        Some(
            &[
                json!(true),
                json!(false),
                json!(false),
                json!(false),
                json!(false)
            ][..]
        ),
        "wall mode: the wall class, no controls, no dragging"
    );
    let (wall_font, normal_font) = (
        wall[5].as_f64().context("wall mode font size")?,
        normal_font.as_f64().context("normal font size")?,
    );
    assert!(
        wall_font > normal_font,
        "wall mode font {wall_font} px, normal {normal_font} px"
    );
    let screenshot = test_output_path("wallboard-wall.png");
    page.screenshot(&screenshot).await?;
    println!("screenshot: {}", screenshot.display());
    assert_no_exceptions(&page);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_revoked_token_shows_the_token_form() -> Result<()> {
    let api = FakeApi::start().await?;
    let browser = Browser::launch().await?;
    let page = browser
        .new_page(&format!("{}/#token={WRONG_TOKEN}", api.url))
        .await?;
    let sign_in_shown = "document.getElementById('sign-in').checkVisibility() \
                         && document.getElementById('sign-in-message').textContent";

    // A wrong token: the form, with the server's message; the token is forgotten.
    let message = page.wait_for(sign_in_shown, WAIT).await?;
    assert_eq!(message, UNAUTHORIZED_MESSAGE);
    let state = page
        .evaluate(
            "[location.hash, localStorage.getItem('ccpulse.token'), \
             document.body.dataset.connection, document.getElementById('board').checkVisibility()]",
        )
        .await?;
    assert_eq!(state, json!(["", null, "closed", false]));
    api.recorded(|recorded| {
        assert_eq!(
            recorded.authorizations,
            [format!("Bearer {WRONG_TOKEN}")],
            "only /me was asked"
        );
        assert!(
            recorded.stream_tokens.is_empty(),
            "no stream without a valid token"
        );
    });

    // The right token through the form.
    page.evaluate(&format!(
        "document.getElementById('token-input').value = '{GOOD_TOKEN}'; \
         document.getElementById('token-form').requestSubmit()"
    ))
    .await?;
    page.wait_for(&live_with_tiles(4), WAIT).await?;
    assert_eq!(
        page.evaluate("localStorage.getItem('ccpulse.token')")
            .await?,
        GOOD_TOKEN
    );

    // A token revoked while connected: the server closes with 4401.
    api.send(Command::Close(4401, "token revoked"));
    let message = page.wait_for(sign_in_shown, WAIT).await?;
    assert!(
        message
            .as_str()
            .is_some_and(|text| text.contains("token revoked")),
        "{message}"
    );
    assert_eq!(
        page.evaluate("[localStorage.getItem('ccpulse.token'), document.querySelectorAll('[data-queue]').length]")
            .await?,
        json!([null, 0])
    );

    // Signing in again, then out.
    page.evaluate(&format!(
        "document.getElementById('token-input').value = '{GOOD_TOKEN}'; \
         document.getElementById('token-form').requestSubmit()"
    ))
    .await?;
    page.wait_for(&live_with_tiles(4), WAIT).await?;
    click(&page, "#sign-out-button").await?;
    let message = page.wait_for(sign_in_shown, WAIT).await?;
    assert_eq!(message, "Signed out.");
    let state = page
        .evaluate(
            "[localStorage.getItem('ccpulse.token'), document.body.dataset.connection, \
             document.querySelectorAll('[data-queue], [data-agent]').length]",
        )
        .await?;
    assert_eq!(state, json!([null, "closed", 0]));

    assert_no_exceptions(&page);
    Ok(())
}

/// The driver itself: a clear error without Chromium, JavaScript errors and rejected
/// promises as errors with their message, failed navigations, and `wait_for`'s deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_driver_reports_errors_and_timeouts() -> Result<()> {
    let missing = Browser::launch_executable(Path::new("/nonexistent/chromium"))
        .await
        .expect_err("there is no browser there");
    assert!(
        format!("{missing:#}").contains("scripts/install-browser.sh"),
        "{missing:#}"
    );

    let browser = Browser::launch().await?;
    let page = browser.new_page("about:blank").await?;
    assert_eq!(page.evaluate("Promise.resolve(6 * 7)").await?, 42);
    assert_eq!(page.evaluate("undefined").await?, Value::Null);
    let thrown = page
        .evaluate("(() => { throw new Error('boom'); })()")
        .await
        .expect_err("it throws");
    assert!(format!("{thrown:#}").contains("boom"), "{thrown:#}");
    let rejected = page
        .evaluate("Promise.reject(new Error('nope'))")
        .await
        .expect_err("it rejects");
    assert!(format!("{rejected:#}").contains("nope"), "{rejected:#}");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let refused = page
        .goto(&format!("http://{closed_port}/"))
        .await
        .expect_err("nothing listens there any more");
    assert!(
        format!("{refused:#}").contains("ERR_CONNECTION_REFUSED"),
        "{refused:#}"
    );

    let counting = "(window.polls = (window.polls ?? 0) + 1) > 2 && `polled ${window.polls}`";
    assert_eq!(page.wait_for(counting, WAIT).await?, "polled 3");
    let timed_out = page
        .wait_for("window.polls = -1, false", Duration::from_millis(300))
        .await
        .expect_err("never truthy");
    assert!(
        format!("{timed_out:#}").contains("last value false"),
        "{timed_out:#}"
    );
    Ok(())
}
