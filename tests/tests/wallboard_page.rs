//! The wallboard page (`dashboard-api/assets/`) in headless Chromium, against a fake API
//! server written here: it serves the three asset files from disk, answers
//! `GET /api/v1/me`, `/queues` and `/agents` with canned data (401 with the error body
//! for a wrong token), and on `/api/v1/stream` sends a snapshot, then whatever the test
//! commands (a delta, a close), exactly as `notes/api-spec.md` describes the messages.
//!
//! The page must show the canned data as the spec formats it, tick, filter, remember its
//! layout across reloads, apply deltas in place, reconnect after a close, and fall back
//! to the token form for a wrong or revoked token.

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
use axum::routing::get;
use ccpulse_tests::browser::{Browser, Page, test_output_path};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Upper bound for any one wait in the page.
const WAIT: Duration = Duration::from_secs(15);

const GOOD_TOKEN: &str =
    "ccp_0a1b2c3d_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const WRONG_TOKEN: &str =
    "ccp_deadbeef_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
const UNAUTHORIZED_MESSAGE: &str = "The token is not valid: unknown or revoked.";

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
}

#[derive(Debug)]
struct Fake {
    commands: broadcast::Sender<Command>,
    /// Std mutex: never held across `.await`.
    recorded: Mutex<Recorded>,
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
        });
        let router = Router::new()
            .route("/", get(index))
            .route("/assets/{file}", get(asset))
            .route("/api/v1/me", get(me))
            .route("/api/v1/queues", get(list_queues))
            .route("/api/v1/agents", get(list_agents))
            .route("/api/v1/stream", get(stream))
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

/// Records the request's token; the 401 error response unless it is [`GOOD_TOKEN`].
fn unauthorized(fake: &Fake, headers: &HeaderMap) -> Option<Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let good = authorization == format!("Bearer {GOOD_TOKEN}");
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
    axum::Json(json!({
        "token_id": "0a1b2c3d", "name": "wallboard", "tenant_id": "acme",
        "role": "supervisor", "queues": null,
    }))
    .into_response()
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
    if token != GOOD_TOKEN {
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
    let snapshot = json!({
        "type": "snapshot", "id": id, "seq": seq, "as_of": AS_OF,
        "queues": queues(), "agents": agents(),
    });
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
    // Only the status line is a live region.
    let live_regions = page
        .evaluate("[...document.querySelectorAll('[aria-live]')].map((element) => element.id)")
        .await?;
    assert_eq!(live_regions, json!(["status"]));

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
