//! The WebSocket stream (`GET /api/v1/stream`) over real sockets: snapshot and deltas
//! from events produced to the broker, tokens and queue scopes, refused messages,
//! coalescing, slow clients, heartbeats and idle clients, shutdown.
//!
//! Clients keep a mirror of their subscription (snapshot, then deltas applied) and
//! compare it with the REST answer for the same token: what a page would show.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ccpulse_dashboard_api::StreamConfig;
use ccpulse_dashboard_api::auth::Role;
use ccpulse_dashboard_api::views::time_text;
use ccpulse_ingest::RunStats;
use ccpulse_ingest::aggregate::{Aggregator, AggregatorSettings};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::store::DataDir;
use ccpulse_schemas::v1::Event;
use ccpulse_tests::aggregate::{Following, TestTopics, produce, scripted_event};
use ccpulse_tests::api::TestApi;
use ccpulse_tests::query::Folded;
use ccpulse_tests::unique_name;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound for any one wait.
const DEADLINE: Duration = Duration::from_secs(30);

const TENANT: &str = "acme";

/// 2026-11-16T10:00:00Z: the event time of the tests' first events.
const T0: i64 = 1_794_823_200_000;

// ---------------------------------------------------------------------------------
// Events

fn event(value: Value) -> Event<'static> {
    scripted_event(TENANT, value)
}

fn logged_in(agent: &str, queues: &[&str], at_ms: i64) -> Event<'static> {
    event(json!({
        "type": "agent.logged_in", "occurred_at": time_text(T0 + at_ms), "agent_id": agent,
        "queues": queues, "capacity": {"voice": 1}, "team_id": "care",
    }))
}

fn agent_state(agent: &str, state: &str, at_ms: i64) -> Event<'static> {
    let mut value = json!({
        "type": "agent.state_changed", "occurred_at": time_text(T0 + at_ms), "agent_id": agent,
        "state": state,
    });
    if state == "away" {
        value["reason"] = json!("break");
    }
    event(value)
}

/// `interaction.<kind>` of `interaction` in `queue` (with `agent` when given).
fn interaction(
    kind: &str,
    interaction: &str,
    queue: &str,
    agent: Option<&str>,
    at_ms: i64,
) -> Event<'static> {
    let mut value = json!({
        "type": format!("interaction.{kind}"), "occurred_at": time_text(T0 + at_ms),
        "interaction_id": interaction, "channel": "voice", "direction": "inbound",
    });
    if kind == "created" {
        value["customer_id"] = json!("cust-0000001");
    } else {
        value["queue_id"] = json!(queue);
    }
    if let Some(agent) = agent {
        value["agent_id"] = json!(agent);
    }
    event(value)
}

/// A caller `id` arrives in `queue` at `at_ms`: created, then queued.
fn caller_queued(id: &str, queue: &str, at_ms: i64) -> Vec<Event<'static>> {
    vec![
        interaction("created", id, queue, None, at_ms),
        interaction("queued", id, queue, None, at_ms + 1),
    ]
}

/// Two queues with an agent and a waiting caller each: `ag-1` and `c-1` in `sales`,
/// `ag-2` and `c-2` in `support`.
fn two_queues() -> Vec<Event<'static>> {
    let mut events = vec![
        logged_in("ag-1", &["sales"], 0),
        agent_state("ag-1", "available", 1),
        logged_in("ag-2", &["support"], 2),
        agent_state("ag-2", "available", 3),
    ];
    events.extend(caller_queued("c-1", "sales", 10));
    events.extend(caller_queued("c-2", "support", 20));
    events
}

/// `count` agents logged in to `sales` or `support` (alternately), available.
fn many_agents(count: usize) -> Vec<Event<'static>> {
    (0..count)
        .flat_map(|n| {
            let agent = format!("ag-{n:04}");
            let queue = if n % 2 == 0 { "sales" } else { "support" };
            [
                logged_in(&agent, &[queue], n as i64),
                agent_state(&agent, "available", n as i64),
            ]
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Clients

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn stream_url(address: SocketAddr, token: Option<&str>) -> String {
    match token {
        Some(token) => format!("ws://{address}/api/v1/stream?access_token={token}"),
        None => format!("ws://{address}/api/v1/stream"),
    }
}

/// Connects with the token in the query (or none).
async fn connect(address: SocketAddr, token: Option<&str>) -> Socket {
    let (socket, _) = timeout(
        DEADLINE,
        tokio_tungstenite::connect_async(stream_url(address, token)),
    )
    .await
    .expect("connected within the deadline")
    .expect("the upgrade is accepted");
    socket
}

/// Connects with the token in `Authorization: Bearer`.
async fn connect_with_header(address: SocketAddr, token: &str) -> Socket {
    let mut request = stream_url(address, None).into_client_request().unwrap();
    request.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (socket, _) = timeout(DEADLINE, tokio_tungstenite::connect_async(request))
        .await
        .expect("connected within the deadline")
        .expect("the upgrade is accepted");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("sending to the server");
}

async fn subscribe(socket: &mut Socket, id: &str, topic: &str, queues: Option<&[&str]>) {
    let mut message = json!({"type": "subscribe", "id": id, "topic": topic});
    if let Some(queues) = queues {
        message["queues"] = json!(queues);
    }
    send(socket, message).await;
}

/// What a client sees next.
#[derive(Debug)]
enum Seen {
    Json(Value),
    Close(u16, String),
    /// The connection ended without a close frame (or with an error).
    Ended(String),
}

/// The next text message or close (pings and pongs are skipped; tungstenite answers
/// pings as it reads).
async fn next_seen(socket: &mut Socket) -> Seen {
    loop {
        let frame = timeout(DEADLINE, socket.next())
            .await
            .expect("a message within the deadline");
        return match frame {
            Some(Ok(Message::Text(text))) => {
                Seen::Json(serde_json::from_str(text.as_str()).unwrap())
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                Seen::Close(u16::from(frame.code), frame.reason.to_string())
            }
            Some(Ok(Message::Close(None))) => Seen::Ended("close without a code".to_owned()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
            Some(Err(error)) => Seen::Ended(error.to_string()),
            None => Seen::Ended("end of stream".to_owned()),
        };
    }
}

/// The next text message, skipping heartbeats.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        match next_seen(socket).await {
            Seen::Json(value) if value["type"] == "heartbeat" => continue,
            Seen::Json(value) => return value,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Expects an `error` message with `code`, then a close frame with `close_code`.
async fn expect_refusal(socket: &mut Socket, code: &str, close_code: u16) -> Value {
    let error = next_json(socket).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], code, "{error}");
    match next_seen(socket).await {
        Seen::Close(got, reason) => {
            assert_eq!(got, close_code, "close reason: {reason}");
            assert!(!reason.is_empty(), "a close reason is given");
        }
        other => panic!("expected close {close_code}, got {other:?}"),
    }
    error
}

/// Reads `socket` in the background: every message, with when it arrived.
fn read_in_background(mut socket: Socket) -> mpsc::Receiver<(Instant, Seen)> {
    let (sender, receiver) = mpsc::channel(100_000);
    tokio::spawn(async move {
        loop {
            let seen = match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    Seen::Json(serde_json::from_str(text.as_str()).unwrap())
                }
                Some(Ok(Message::Close(Some(frame)))) => {
                    Seen::Close(u16::from(frame.code), frame.reason.to_string())
                }
                Some(Ok(Message::Binary(_) | Message::Close(None))) => {
                    Seen::Ended("unexpected frame".to_owned())
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => Seen::Ended(error.to_string()),
                None => Seen::Ended("end of stream".to_owned()),
            };
            let last = !matches!(seen, Seen::Json(_));
            if sender.send((Instant::now(), seen)).await.is_err() || last {
                return;
            }
        }
    });
    receiver
}

// ---------------------------------------------------------------------------------
// A client's copy of its subscription

/// A subscription as a page keeps it: the snapshot with every delta applied.
#[derive(Debug, Default)]
struct Mirror {
    seq: u64,
    as_of: Value,
    queues: BTreeMap<String, Value>,
    agents: BTreeMap<String, Value>,
    /// Messages applied (snapshot and deltas).
    messages: usize,
}

fn ms(time: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time.as_str().expect("a time"))
        .expect("RFC 3339")
        .timestamp_millis()
}

impl Mirror {
    /// Applies a snapshot or a delta; checks that `seq` runs on without a gap.
    fn apply(&mut self, message: &Value) {
        assert_eq!(
            message["seq"].as_u64(),
            Some(self.seq + 1),
            "seq runs on: {message}"
        );
        self.seq += 1;
        self.messages += 1;
        self.as_of = message["as_of"].clone();
        match message["type"].as_str() {
            Some("snapshot") => {
                self.queues = by_id(&message["queues"], "queue_id");
                self.agents = by_id(&message["agents"], "agent_id");
            }
            Some("delta") => {
                for (rows, kind, key) in [
                    (&mut self.queues, "queues", "queue_id"),
                    (&mut self.agents, "agents", "agent_id"),
                ] {
                    for row in message[kind]["upsert"].as_array().into_iter().flatten() {
                        rows.insert(row[key].as_str().unwrap().to_owned(), row.clone());
                    }
                    for id in message[kind]["remove"].as_array().into_iter().flatten() {
                        assert!(
                            rows.remove(id.as_str().unwrap()).is_some(),
                            "removed {id}, which the client did not have"
                        );
                    }
                }
            }
            _ => panic!("not a snapshot or delta: {message}"),
        }
    }

    /// The queues as of the last message: the clock fields derived from its `as_of`
    /// (as the stream's docs tell a client to).
    fn queues_now(&self) -> Vec<Value> {
        self.queues
            .values()
            .map(|row| {
                let mut row = row.clone();
                row["as_of"] = self.as_of.clone();
                if !row["oldest_queued_at"].is_null() {
                    row["oldest_wait_ms"] = json!(ms(&self.as_of) - ms(&row["oldest_queued_at"]));
                }
                row
            })
            .collect()
    }

    fn agents_now(&self) -> Vec<Value> {
        self.agents
            .values()
            .map(|row| {
                let mut row = row.clone();
                row["as_of"] = self.as_of.clone();
                row["time_in_state_ms"] = json!(ms(&self.as_of) - ms(&row["since"]));
                row
            })
            .collect()
    }

    fn queue(&self, id: &str) -> &Value {
        self.queues.get(id).unwrap_or(&Value::Null)
    }

    fn agent(&self, id: &str) -> &Value {
        self.agents.get(id).unwrap_or(&Value::Null)
    }
}

fn by_id(rows: &Value, key: &str) -> BTreeMap<String, Value> {
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|row| (row[key].as_str().unwrap().to_owned(), row.clone()))
        .collect()
}

/// What REST answers `token` now: (as_of, queues, agents).
async fn rest(api: &TestApi, token: &str) -> (Value, Vec<Value>, Vec<Value>) {
    let queues = api.get("/api/v1/queues", token).await.json();
    let agents = api.get("/api/v1/agents", token).await.json();
    (
        queues["as_of"].clone(),
        queues["queues"].as_array().cloned().unwrap_or_default(),
        agents["agents"].as_array().cloned().unwrap_or_default(),
    )
}

/// Whether `mirror` shows what REST answers (`rest`).
fn same_as_rest(mirror: &Mirror, rest: &(Value, Vec<Value>, Vec<Value>)) -> bool {
    mirror.as_of == rest.0 && mirror.queues_now() == rest.1 && mirror.agents_now() == rest.2
}

/// Applies what `socket` sends to `mirror` until `done(mirror)`.
async fn read_until(socket: &mut Socket, mirror: &mut Mirror, done: impl Fn(&Mirror) -> bool) {
    let until = Instant::now() + DEADLINE;
    while !done(mirror) {
        let message = timeout_at(until, next_json(socket))
            .await
            .unwrap_or_else(|_| panic!("still {mirror:#?} after {DEADLINE:?}"));
        mirror.apply(&message);
    }
}

/// Waits until the API counts `expected` WebSocket clients.
async fn wait_for_clients(api: &TestApi, expected: i64) -> Duration {
    let started = Instant::now();
    while api.state.metrics.websocket_clients() != expected {
        assert!(
            started.elapsed() < DEADLINE,
            "{} clients, not {expected}, after {DEADLINE:?}",
            api.state.metrics.websocket_clients()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// An API over `folded`'s live view.
fn api_over(folded: &Folded, stream: StreamConfig) -> TestApi {
    TestApi::new(
        folded.data_dir(),
        folded.aggregator().live(),
        FoldConfig::default(),
        Box::new(|_| {}),
        None,
        stream,
    )
    .unwrap()
}

/// Stream settings for tests: the defaults but a shorter `min_interval`.
fn stream_config() -> StreamConfig {
    StreamConfig {
        min_interval: Duration::from_millis(50),
        ..StreamConfig::default()
    }
}

// ---------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_follow_events_produced_to_the_broker() {
    let topics = TestTopics::create("api-stream", 1).await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let config = FoldConfig::default();
    let aggregator = Arc::new(Aggregator::with_settings(
        DataDir::open(data_dir.path()).unwrap(),
        Arc::new(config.clone()),
        AggregatorSettings {
            publish_every: Duration::from_millis(20),
            tail_every: Duration::from_millis(100),
            ..AggregatorSettings::default()
        },
    ));
    let stats = RunStats::new();
    let api = TestApi::new(
        data_dir.path(),
        aggregator.live(),
        config,
        Box::new({
            let aggregator = Arc::clone(&aggregator);
            move |config| aggregator.set_fold_config(config)
        }),
        Some(Arc::clone(&stats)),
        StreamConfig {
            min_interval: Duration::from_millis(100),
            ..StreamConfig::default()
        },
    )
    .unwrap();
    let run = Following::start(
        topics.consumer_settings(&unique_name("api-stream")),
        Arc::clone(&aggregator),
        stats,
    );
    let (address, _server) = api.listen().await.unwrap();
    let token = api.token(TENANT, Role::Viewer, None);
    let mut socket = connect(address, Some(&token)).await;
    subscribe(&mut socket, "wall", "tenant", None).await;
    let mut mirror = Mirror::default();
    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    mirror.apply(&snapshot);
    assert!(
        mirror.queues.is_empty() && mirror.agents.is_empty(),
        "{mirror:?}"
    );

    // An agent logs in and becomes available; a caller waits in sales.
    let mut events = vec![
        logged_in("ag-1", &["sales"], 0),
        agent_state("ag-1", "available", 1),
    ];
    events.extend(caller_queued("c-1", "sales", 1_000));
    produce(&topics.events, &events).await.unwrap();
    read_until(&mut socket, &mut mirror, |m| {
        m.queue("sales")["waiting_now"] == 1 && m.agent("ag-1")["state"] == "available"
    })
    .await;
    assert_eq!(mirror.queue("sales")["in_progress"], 0);
    assert_eq!(mirror.queue("sales")["agents"]["available"], 1);
    assert_eq!(
        mirror.queue("sales")["oldest_queued_at"],
        time_text(T0 + 1_001)
    );

    // The caller is offered to the agent and answered.
    let answered = [
        interaction("offered", "c-1", "sales", Some("ag-1"), 6_000),
        interaction("answered", "c-1", "sales", Some("ag-1"), 9_000),
    ];
    produce(&topics.events, &answered).await.unwrap();
    read_until(&mut socket, &mut mirror, |m| {
        m.queue("sales")["waiting_now"] == 0 && m.queue("sales")["in_progress"] == 1
    })
    .await;
    assert_eq!(mirror.agent("ag-1")["state"], "interacting", "{mirror:#?}");
    assert_eq!(mirror.queue("sales")["today"]["answered"], 1);
    assert_eq!(mirror.queue("sales")["oldest_queued_at"], Value::Null);
    assert_eq!(mirror.as_of, time_text(T0 + 9_000));
    // The page shows what REST shows.
    let now = rest(&api, &token).await;
    assert!(same_as_rest(&mirror, &now), "{mirror:#?}\n{now:#?}");
    eprintln!(
        "{} messages (snapshot included) for 6 events produced in two batches",
        mirror.messages
    );
    assert!(!run.is_finished(), "the aggregator is still following");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_queue_scopes() {
    let folded = Folded::new(&two_queues(), FoldConfig::default(), 0).unwrap();
    let api = api_over(&folded, stream_config());
    let (address, _server) = api.listen().await.unwrap();

    // No token, and a token that is not one: an error, then 4401.
    let mut socket = connect(address, None).await;
    let error = expect_refusal(&mut socket, "unauthorized", 4401).await;
    assert!(
        error["message"].as_str().unwrap().contains("access_token"),
        "{error}"
    );
    let mut socket = connect(address, Some(&format!("ccp_00000000_{}", "0".repeat(64)))).await;
    expect_refusal(&mut socket, "unauthorized", 4401).await;

    // A viewer (token in the header) sees the tenant.
    let viewer = api.token(TENANT, Role::Viewer, None);
    let mut viewer_socket = connect_with_header(address, &viewer).await;
    subscribe(&mut viewer_socket, "wall", "tenant", None).await;
    let mut mirror = Mirror::default();
    mirror.apply(&next_json(&mut viewer_socket).await);
    assert_eq!(
        mirror.queues.keys().collect::<Vec<_>>(),
        ["sales", "support"]
    );
    assert_eq!(mirror.agents.keys().collect::<Vec<_>>(), ["ag-1", "ag-2"]);
    assert!(same_as_rest(&mirror, &rest(&api, &viewer).await));

    // A supervisor limited to sales sees sales and its agent only...
    let supervisor = api.token(TENANT, Role::Supervisor, Some(&["sales"]));
    let mut socket = connect(address, Some(&supervisor)).await;
    subscribe(&mut socket, "wall", "tenant", None).await;
    let mut mirror = Mirror::default();
    mirror.apply(&next_json(&mut socket).await);
    assert_eq!(mirror.queues.keys().collect::<Vec<_>>(), ["sales"]);
    assert_eq!(mirror.agents.keys().collect::<Vec<_>>(), ["ag-1"]);
    assert!(same_as_rest(&mirror, &rest(&api, &supervisor).await));
    // ...and naming support closes the connection: an error, then 4403.
    subscribe(&mut socket, "support", "queues", Some(&["support"])).await;
    let error = expect_refusal(&mut socket, "forbidden", 4403).await;
    assert_eq!(error["id"], "support");

    // Another tenant's token sees none of acme's rows.
    let other = api.token("globex", Role::Admin, None);
    let mut other_socket = connect(address, Some(&other)).await;
    subscribe(&mut other_socket, "wall", "tenant", None).await;
    let snapshot = next_json(&mut other_socket).await;
    assert_eq!(
        snapshot,
        json!({"type": "snapshot", "id": "wall", "seq": 1, "as_of": null, "queues": [], "agents": [], "alerts": []})
    );
    // The refused connections are closed; the two open ones are counted until they
    // close.
    wait_for_clients(&api, 2).await;
    viewer_socket.close(None).await.unwrap();
    drop(other_socket);
    wait_for_clients(&api, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_messages_close_with_4400() {
    let folded = Folded::new(&two_queues(), FoldConfig::default(), 0).unwrap();
    let api = api_over(
        &folded,
        StreamConfig {
            max_message_bytes: 1_024,
            ..stream_config()
        },
    );
    let (address, _server) = api.listen().await.unwrap();
    let token = api.token(TENANT, Role::Viewer, None);

    for (message, code) in [
        (Message::text("{\"type\":"), "malformed_json"),
        (
            Message::text(r#"{"type":"watch","id":"w"}"#),
            "unknown_type",
        ),
        (
            Message::text(r#"{"type":"subscribe","topic":"tenant"}"#),
            "invalid_message",
        ),
        (
            Message::text(format!(
                r#"{{"type":"ping","pad":"{}"}}"#,
                "x".repeat(2_000)
            )),
            "invalid_frame",
        ),
        (Message::binary(vec![0_u8; 8]), "binary_message"),
    ] {
        let mut socket = connect(address, Some(&token)).await;
        socket.send(message).await.unwrap();
        expect_refusal(&mut socket, code, 4400).await;
    }

    // A duplicate id closes; an unknown one in `unsubscribe` does not.
    let mut socket = connect(address, Some(&token)).await;
    subscribe(&mut socket, "wall", "tenant", None).await;
    assert_eq!(next_json(&mut socket).await["type"], "snapshot");
    send(&mut socket, json!({"type": "unsubscribe", "id": "board"})).await;
    let error = next_json(&mut socket).await;
    assert_eq!(error["code"], "unknown_subscription", "{error}");
    send(&mut socket, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
    subscribe(&mut socket, "wall", "agents", None).await;
    let error = expect_refusal(&mut socket, "duplicate_subscription", 4400).await;
    assert_eq!(error["id"], "wall");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_the_read_buffer_is_read_whole() {
    // The server reads 4 KiB at a time; a message ten times that (under the 64 KiB
    // limit) arrives in pieces and is answered.
    let folded = Folded::new(&two_queues(), FoldConfig::default(), 0).unwrap();
    let api = api_over(&folded, stream_config());
    let (address, _server) = api.listen().await.unwrap();
    let token = api.token(TENANT, Role::Viewer, None);
    let mut socket = connect(address, Some(&token)).await;
    // Valid JSON (the contract refuses unknown fields): whitespace pads it.
    let padded = format!(r#"{{"type":"ping"{}}}"#, " ".repeat(40_000));
    socket.send(Message::text(padded)).await.unwrap();
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
    subscribe(&mut socket, "wall", "tenant", None).await;
    assert_eq!(next_json(&mut socket).await["type"], "snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_coalesced_to_one_message_per_min_interval() {
    const ROUNDS: usize = 150;
    let min_interval = Duration::from_millis(300);
    let mut folded = Folded::new(&two_queues(), FoldConfig::default(), 0).unwrap();
    let mut offset = two_queues().len() as i64;
    let api = api_over(
        &folded,
        StreamConfig {
            min_interval,
            ..StreamConfig::default()
        },
    );
    let (address, _server) = api.listen().await.unwrap();
    let token = api.token(TENANT, Role::Viewer, None);
    let mut socket = connect(address, Some(&token)).await;
    subscribe(&mut socket, "wall", "tenant", None).await;
    let mut received = read_in_background(socket);

    // A caller arrives in sales every 10 ms: each fold publishes the live view.
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for round in 0..ROUNDS {
        tick.tick().await;
        let events = caller_queued(
            &format!("r-{round}"),
            "sales",
            60_000 + round as i64 * 1_000,
        );
        folded.apply(&events, offset);
        offset += events.len() as i64;
    }
    let last = rest(&api, &token).await;
    assert_eq!(
        last.1[0]["waiting_now"],
        ROUNDS + 1,
        "REST sees every caller: {:?}",
        last.1[0]
    );

    // The client reaches the final state; count what it took.
    let mut mirror = Mirror::default();
    let mut arrivals = Vec::new();
    let until = Instant::now() + DEADLINE;
    while !same_as_rest(&mirror, &last) {
        let (at, seen) = timeout_at(until, received.recv())
            .await
            .unwrap_or_else(|_| panic!("the client never reached the final state: {mirror:#?}"))
            .expect("the reader runs");
        match seen {
            Seen::Json(message) if message["type"] == "heartbeat" => {}
            Seen::Json(message) => {
                mirror.apply(&message);
                arrivals.push(at);
            }
            other => panic!("{other:?}"),
        }
    }
    let elapsed = arrivals[arrivals.len() - 1] - arrivals[0];
    let allowed = elapsed.as_millis().div_ceil(min_interval.as_millis()) as usize + 1;
    eprintln!(
        "{ROUNDS} changes: {} messages over {elapsed:?} (at most {allowed} allowed)",
        arrivals.len()
    );
    assert!(
        arrivals.len() <= allowed,
        "{} messages in {elapsed:?} with min_interval {min_interval:?}",
        arrivals.len()
    );
    // Deltas did come while the changes went on (not a snapshot and one delta at the
    // end): the bound above was put to the test.
    assert!(arrivals.len() >= 3, "{} messages", arrivals.len());
}

/// Reads `VmRSS` (kB) of this process.
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A listener whose accepted sockets have small kernel buffers (Linux gives an accepted
/// socket the listener's buffer sizes), so that a client that does not read blocks the
/// server's writes after a few kilobytes rather than after megabytes of autotuned
/// buffers.
fn small_buffer_listener() -> tokio::net::TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(4_096).unwrap();
    socket.set_recv_buffer_size(4_096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket.listen(16).unwrap()
}

/// Connects with a small receive buffer.
async fn connect_small(address: SocketAddr, token: &str) -> Socket {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4_096).unwrap();
    let stream = socket.connect(address).await.unwrap();
    let (socket, _) = tokio_tungstenite::client_async(
        stream_url(address, Some(token)),
        MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("the upgrade is accepted");
    socket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_gets_the_latest_state_not_a_backlog() {
    // What is observable of "bounded per client": the messages the slow client gets
    // once it reads. A server that kept a backlog for it (a queue of messages, or of
    // changes) would deliver about one message per change, as to the reading client;
    // one that computes the state when the socket takes a message delivers the few
    // messages the socket buffers held, then the latest state. The process RSS is
    // printed, not asserted: the tests of this file share the process, and the fold
    // itself grows with the changes.
    const AGENTS: usize = 200;
    const ROUNDS: usize = 400;
    const PER_ROUND: usize = 10;
    let mut folded = Folded::new(&many_agents(AGENTS), FoldConfig::default(), 0).unwrap();
    let mut offset = (AGENTS * 2) as i64;
    let api = api_over(
        &folded,
        StreamConfig {
            // Pacing does not limit here: what the slow client gets is limited by what
            // it reads only.
            min_interval: Duration::from_millis(5),
            send_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(120),
            ..StreamConfig::default()
        },
    );
    let listener = small_buffer_listener();
    let address = listener.local_addr().unwrap();
    tokio::spawn(ccpulse_dashboard_api::serve(listener, api.state.clone()));
    let token = api.token(TENANT, Role::Viewer, None);

    let mut fast = connect(address, Some(&token)).await;
    subscribe(&mut fast, "wall", "agents", None).await;
    let mut fast = read_in_background(fast);
    // Subscribes, then reads nothing until every change is made.
    let mut slow = connect_small(address, &token).await;
    subscribe(&mut slow, "wall", "agents", None).await;

    let rss_before = rss_kb();
    let mut away = [false; AGENTS];
    for round in 0..ROUNDS {
        let events: Vec<Event<'static>> = (0..PER_ROUND)
            .map(|n| {
                let agent = (round * PER_ROUND + n) % AGENTS;
                away[agent] = !away[agent];
                let state = if away[agent] { "away" } else { "available" };
                agent_state(
                    &format!("ag-{agent:04}"),
                    state,
                    60_000 + round as i64 * 1_000,
                )
            })
            .collect();
        folded.apply(&events, offset);
        offset += events.len() as i64;
        tokio::task::yield_now().await;
    }
    let rss_after = rss_kb();
    // The subscriptions are to `agents`: no queue rows.
    let (as_of, _, agents) = rest(&api, &token).await;
    let last = (as_of, Vec::new(), agents);

    // The reading client followed the changes...
    let mut fast_mirror = Mirror::default();
    let until = Instant::now() + DEADLINE;
    while !same_as_rest(&fast_mirror, &last) {
        match timeout_at(until, fast.recv())
            .await
            .expect("the fast client catches up")
        {
            Some((_, Seen::Json(message))) => fast_mirror.apply(&message),
            other => panic!("{other:?}"),
        }
    }
    // ...and the slow one, reading now, gets what its socket held plus the latest
    // state: a few messages, not one per change.
    let mut slow_mirror = Mirror::default();
    read_until(&mut slow, &mut slow_mirror, |m| same_as_rest(m, &last)).await;
    eprintln!(
        "{ROUNDS} rounds of {PER_ROUND} agent changes: the reading client got {} messages, \
         the slow one {}; RSS {rss_before} kB before the changes, {rss_after} kB after",
        fast_mirror.messages, slow_mirror.messages
    );
    // The snapshot of 200 agents alone is larger than the socket buffers: the slow
    // client gets it, then a delta with the latest state (a few more at most).
    assert!(
        slow_mirror.messages <= 5,
        "the slow client got {} messages",
        slow_mirror.messages
    );
    assert!(
        fast_mirror.messages >= 10 * slow_mirror.messages,
        "the reading client got {} messages, the slow one {}",
        fast_mirror.messages,
        slow_mirror.messages
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_dropped_after_send_timeout() {
    let folded = Folded::new(&many_agents(200), FoldConfig::default(), 0).unwrap();
    let send_timeout = Duration::from_millis(500);
    let api = api_over(
        &folded,
        StreamConfig {
            send_timeout,
            ..stream_config()
        },
    );
    let listener = small_buffer_listener();
    let address = listener.local_addr().unwrap();
    tokio::spawn(ccpulse_dashboard_api::serve(listener, api.state.clone()));
    let token = api.token(TENANT, Role::Viewer, None);

    let mut slow = connect_small(address, &token).await;
    wait_for_clients(&api, 1).await;
    let started = Instant::now();
    // The snapshot (200 agents, about 60 kB) does not fit in the socket buffers: the
    // server waits on it, then gives up on the client.
    subscribe(&mut slow, "wall", "tenant", None).await;
    wait_for_clients(&api, 0).await;
    let dropped_after = started.elapsed();
    eprintln!("dropped after {dropped_after:?} (send_timeout {send_timeout:?})");
    assert!(dropped_after >= send_timeout, "{dropped_after:?}");
    // What reaches the client: never a whole snapshot, then the end of the connection.
    loop {
        match next_seen(&mut slow).await {
            Seen::Json(message) => assert_ne!(message["type"], "snapshot", "{message}"),
            Seen::Close(code, _) => {
                assert_eq!(code, 1008);
                break;
            }
            Seen::Ended(why) => {
                eprintln!("the connection ended: {why}");
                break;
            }
        }
    }
}

/// A client that reads frames but never answers anything (no pong), by hand: the
/// WebSocket handshake and unmasked server frames.
struct RawClient {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    async fn connect(address: SocketAddr, token: &str) -> Self {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request = format!(
            "GET /api/v1/stream?access_token={token} HTTP/1.1\r\nHost: {address}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut client = Self {
            stream,
            buffer: Vec::new(),
        };
        let end = loop {
            if let Some(end) = client.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            client.fill().await;
        };
        let head = String::from_utf8_lossy(&client.buffer[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        client.buffer.drain(..end);
        client
    }

    async fn fill(&mut self) {
        let mut chunk = [0_u8; 4_096];
        let read = timeout(DEADLINE, self.stream.read(&mut chunk))
            .await
            .expect("data within the deadline")
            .unwrap();
        assert!(read > 0, "the server closed the TCP connection");
        self.buffer.extend_from_slice(&chunk[..read]);
    }

    /// The next frame: (opcode, payload).
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if self.buffer.len() >= 2 {
                let opcode = self.buffer[0] & 0x0f;
                let (length, header) = match self.buffer[1] & 0x7f {
                    126 if self.buffer.len() >= 4 => (
                        usize::from(u16::from_be_bytes([self.buffer[2], self.buffer[3]])),
                        4,
                    ),
                    127 if self.buffer.len() >= 10 => (
                        u64::from_be_bytes(self.buffer[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    short => (usize::from(short), 2),
                };
                if header > 0 && self.buffer.len() >= header + length {
                    let payload = self.buffer[header..header + length].to_vec();
                    self.buffer.drain(..header + length);
                    return (opcode, payload);
                }
            }
            self.fill().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_a_reading_client_and_a_silent_one_is_closed_with_4408() {
    let folded = Folded::new(&two_queues(), FoldConfig::default(), 0).unwrap();
    let idle_timeout = Duration::from_millis(1_000);
    let api = api_over(
        &folded,
        StreamConfig {
            heartbeat_every: Duration::from_millis(100),
            idle_timeout,
            ..stream_config()
        },
    );
    let (address, _server) = api.listen().await.unwrap();
    let token = api.token(TENANT, Role::Viewer, None);

    // A client that reads (tungstenite answers each ping with a pong) stays connected
    // for several idle timeouts, with a heartbeat about every 100 ms.
    let mut reading = connect(address, Some(&token)).await;
    let started = Instant::now();
    let mut heartbeats = 0;
    while started.elapsed() < idle_timeout * 3 {
        match next_seen(&mut reading).await {
            Seen::Json(message) => {
                assert_eq!(message["type"], "heartbeat", "{message}");
                ms(&message["time"]);
                heartbeats += 1;
            }
            other => panic!("the reading client was closed: {other:?}"),
        }
    }
    eprintln!("{heartbeats} heartbeats in {:?}", started.elapsed());
    assert!(heartbeats >= 10, "{heartbeats} heartbeats");
    drop(reading);

    // A client that sends nothing, not even a pong, is closed with 4408 after about
    // idle_timeout, having had pings.
    let mut silent = RawClient::connect(address, &token).await;
    let started = Instant::now();
    let mut pings = 0;
    let code = loop {
        match silent.frame().await {
            (0x9, _) => pings += 1,
            (0x1, text) => {
                let message: Value = serde_json::from_slice(&text).unwrap();
                assert_eq!(message["type"], "heartbeat", "{message}");
            }
            (0x8, payload) => break u16::from_be_bytes([payload[0], payload[1]]),
            (opcode, _) => panic!("unexpected opcode {opcode}"),
        }
    };
    let closed_after = started.elapsed();
    eprintln!("silent client closed with {code} after {closed_after:?}, {pings} pings");
    assert_eq!(code, 4408);
    assert!(pings >= 3, "{pings} pings before the close");
    assert!(
        closed_after >= idle_timeout && closed_after < idle_timeout * 4,
        "closed after {closed_after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_streams_with_1001() {
    let folded = Folded::new(&two_queues(), FoldConfig::default(), 0).unwrap();
    let api = api_over(&folded, stream_config());
    let (address, _server) = api.listen().await.unwrap();
    let token = api.token(TENANT, Role::Viewer, None);
    let mut socket = connect(address, Some(&token)).await;
    subscribe(&mut socket, "wall", "queues", None).await;
    assert_eq!(next_json(&mut socket).await["type"], "snapshot");
    api.state.shutdown.cancel();
    match next_seen(&mut socket).await {
        Seen::Close(code, reason) => {
            assert_eq!(code, 1001);
            assert_eq!(reason, "server shutting down");
        }
        other => panic!("expected close 1001, got {other:?}"),
    }
    wait_for_clients(&api, 0).await;
}

/// Queue settings saved through the API reach the streams at once (a delta with the
/// queue's new target), without waiting for the next event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_change_is_pushed_to_the_streams() {
    let folded = Folded::new(&two_queues(), FoldConfig::default(), 0).unwrap();
    let api = api_over(&folded, stream_config());
    let (address, _server) = api.listen().await.unwrap();
    let admin = api.token(TENANT, Role::Admin, None);
    let mut socket = connect(address, Some(&admin)).await;
    subscribe(&mut socket, "wall", "queues", None).await;
    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot");
    let put = api
        .call(
            axum::http::Method::PUT,
            "/api/v1/settings/queues/sales",
            Some(&admin),
            Some(r#"{"sl_target_pct":92.5}"#),
        )
        .await;
    assert_eq!(put.status, axum::http::StatusCode::OK, "{}", put.text());
    let delta = next_json(&mut socket).await;
    assert_eq!(delta["type"], "delta", "{delta}");
    let upserts = delta["queues"]["upsert"].as_array().unwrap();
    assert_eq!(upserts.len(), 1, "only the changed queue: {delta}");
    assert_eq!(upserts[0]["queue_id"], "sales");
    assert_eq!(upserts[0]["settings"]["sl_target_pct"], 92.5);
}
