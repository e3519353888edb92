//! The connection loop over channels instead of a socket: the protocol's answers,
//! close codes and timers, with an empty live view (the stream's rows and deltas over
//! a real aggregator are tested in `tests/tests/api_stream.rs`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Message;
use ccpulse_ingest::aggregate::LiveView;
use ccpulse_ingest::fold::FoldConfig;
use futures::channel::mpsc;
use futures::{Sink, SinkExt, Stream, StreamExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::auth::Role;
use crate::settings::SavedSettings;

/// Upper bound for any one wait.
const DEADLINE: Duration = Duration::from_secs(10);

/// The server's end of two channels.
struct ChannelSocket {
    incoming: mpsc::Receiver<Result<Message, axum::Error>>,
    outgoing: mpsc::Sender<Message>,
}

impl Stream for ChannelSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_next_unpin(cx)
    }
}

impl Sink<Message> for ChannelSocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.poll_ready(cx).map_err(axum::Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.outgoing.start_send(item).map_err(axum::Error::new)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.outgoing)
            .poll_flush(cx)
            .map_err(axum::Error::new)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.outgoing)
            .poll_close(cx)
            .map_err(axum::Error::new)
    }
}

/// The client's end, and the served connection's task.
struct Client {
    to_server: mpsc::Sender<Result<Message, axum::Error>>,
    from_server: mpsc::Receiver<Message>,
    task: JoinHandle<()>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

fn config() -> StreamConfig {
    StreamConfig {
        min_interval: Duration::from_millis(50),
        heartbeat_every: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        send_timeout: Duration::from_secs(5),
        max_subscriptions: 2,
        max_message_bytes: 1024,
    }
}

fn principal(role: Role, queues: Option<&[&str]>) -> Principal {
    Principal {
        token_id: "k7f3a9c2".to_owned(),
        name: "test".to_owned(),
        tenant_id: "acme".to_owned(),
        role,
        queues: queues.map(|q| q.iter().map(|q| (*q).to_owned()).collect()),
    }
}

/// Serves `caller` over channels; `outgoing` is how many messages the server may send
/// ahead of the client's reads.
fn connect(config: StreamConfig, caller: Result<Principal, ApiError>, outgoing: usize) -> Client {
    let dir = tempfile::tempdir().unwrap();
    let settings = SettingsStore::open(
        SavedSettings::path_in(dir.path()),
        FoldConfig::default(),
        Box::new(|_| {}),
    )
    .unwrap();
    let (to_server, incoming) = mpsc::channel(16);
    let (outgoing, from_server) = mpsc::channel(outgoing);
    let shutdown = CancellationToken::new();
    let live = Arc::new(LiveView::default());
    let alerts = crate::alerts::Alerting::open(
        crate::alerts::AlertsConfig::in_data_dir(dir.path()),
        Arc::clone(&live),
    )
    .unwrap();
    let connection = Connection {
        socket: ChannelSocket { incoming, outgoing },
        live,
        settings: Arc::new(settings),
        alerts,
        metrics: Arc::new(crate::metrics::ApiMetrics::default()),
        config,
        shutdown: shutdown.clone(),
    };
    Client {
        to_server,
        from_server,
        task: tokio::spawn(connection.serve(caller)),
        shutdown,
        _dir: dir,
    }
}

impl Client {
    async fn send(&mut self, text: &str) {
        self.to_server
            .send(Ok(Message::text(text.to_owned())))
            .await
            .unwrap();
    }

    async fn next(&mut self) -> Message {
        tokio::time::timeout(DEADLINE, self.from_server.next())
            .await
            .expect("a message within the deadline")
            .expect("the connection is open")
    }

    /// The next text message, as JSON.
    async fn json(&mut self) -> Value {
        match self.next().await {
            Message::Text(text) => serde_json::from_str(text.as_str()).unwrap(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Expects an `error` message with `code`, then a close frame with `close`; answers
    /// the close and waits for the task to end.
    async fn expect_refusal(mut self, code: &str, close: u16) -> Value {
        let error = self.json().await;
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["code"], code, "{error}");
        self.expect_close(close).await;
        error
    }

    async fn expect_close(mut self, code: u16) {
        match self.next().await {
            Message::Close(Some(frame)) => assert_eq!(frame.code, code, "{frame:?}"),
            other => panic!("expected close {code}, got {other:?}"),
        }
        self.to_server.send(Ok(Message::Close(None))).await.unwrap();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the connection ends after its close")
            .unwrap();
    }
}

#[tokio::test]
async fn a_missing_token_is_an_error_then_4401() {
    let client = connect(config(), Err(ApiError::unauthorized("no token")), 16);
    let error = client.expect_refusal("unauthorized", 4401).await;
    assert_eq!(error["message"], "no token");
}

#[tokio::test]
async fn subscribe_ping_and_unsubscribe() {
    let mut client = connect(config(), Ok(principal(Role::Viewer, None)), 16);
    client
        .send(r#"{"type":"subscribe","id":"wall","topic":"tenant"}"#)
        .await;
    assert_eq!(
        client.json().await,
        json!({"type": "snapshot", "id": "wall", "seq": 1, "as_of": null, "queues": [], "agents": [], "alerts": []})
    );
    client
        .send(r#"{"type":"subscribe","id":"q","topic":"queues"}"#)
        .await;
    assert_eq!(
        client.json().await,
        json!({"type": "snapshot", "id": "q", "seq": 1, "as_of": null, "queues": []})
    );
    client.send(r#"{"type":"ping"}"#).await;
    assert_eq!(client.json().await, json!({"type": "pong"}));
    client.send(r#"{"type":"unsubscribe","id":"nope"}"#).await;
    let error = client.json().await;
    assert_eq!(
        (&error["code"], &error["id"]),
        (&json!("unknown_subscription"), &json!("nope"))
    );
    // Still open, and a subscription's slot is free again after unsubscribe.
    client.send(r#"{"type":"unsubscribe","id":"q"}"#).await;
    client
        .send(r#"{"type":"subscribe","id":"a","topic":"agents"}"#)
        .await;
    assert_eq!(client.json().await["id"], "a");
    client
        .send(r#"{"type":"subscribe","id":"b","topic":"agents"}"#)
        .await;
    let error = client.expect_refusal("too_many_subscriptions", 4400).await;
    assert_eq!(error["id"], "b");
}

#[tokio::test]
async fn bad_messages_close_with_4400() {
    for (text, code) in [
        ("{", "malformed_json"),
        (r#"{"type":"hello"}"#, "unknown_type"),
        (
            r#"{"type":"subscribe","topic":"tenant"}"#,
            "invalid_message",
        ),
    ] {
        let mut client = connect(config(), Ok(principal(Role::Viewer, None)), 16);
        client.send(text).await;
        client.expect_refusal(code, 4400).await;
    }

    let mut client = connect(config(), Ok(principal(Role::Viewer, None)), 16);
    client
        .send(r#"{"type":"subscribe","id":"w","topic":"queues"}"#)
        .await;
    client.json().await;
    client
        .send(r#"{"type":"subscribe","id":"w","topic":"agents"}"#)
        .await;
    client.expect_refusal("duplicate_subscription", 4400).await;

    let mut client = connect(config(), Ok(principal(Role::Viewer, None)), 16);
    client
        .to_server
        .send(Ok(Message::Binary(vec![1, 2, 3].into())))
        .await
        .unwrap();
    client.expect_refusal("binary_message", 4400).await;
}

#[tokio::test]
async fn a_queue_outside_the_scope_closes_with_4403() {
    let mut client = connect(
        config(),
        Ok(principal(Role::Supervisor, Some(&["sales"]))),
        16,
    );
    client
        .send(r#"{"type":"subscribe","id":"w","topic":"tenant","queues":["sales"]}"#)
        .await;
    assert_eq!(client.json().await["type"], "snapshot");
    client
        .send(r#"{"type":"subscribe","id":"x","topic":"tenant","queues":["sales","support"]}"#)
        .await;
    let error = client.expect_refusal("forbidden", 4403).await;
    assert!(
        error["message"].as_str().unwrap().contains("`support`"),
        "{error}"
    );
}

#[tokio::test]
async fn heartbeats_come_with_a_ping_and_a_silent_client_is_closed_with_4408() {
    let mut config = config();
    config.heartbeat_every = Duration::from_millis(20);
    config.idle_timeout = Duration::from_millis(300);
    let mut client = connect(config, Ok(principal(Role::Viewer, None)), 16);
    let started = Instant::now();
    let heartbeat = client.json().await;
    assert_eq!(heartbeat["type"], "heartbeat");
    assert!(
        heartbeat["time"].as_str().unwrap().ends_with('Z'),
        "{heartbeat}"
    );
    assert!(matches!(client.next().await, Message::Ping(_)));
    // Pongs keep it open past the idle timeout...
    while started.elapsed() < Duration::from_millis(900) {
        client
            .to_server
            .send(Ok(Message::Pong(Default::default())))
            .await
            .unwrap();
        match client.next().await {
            Message::Close(frame) => panic!("closed while answering: {frame:?}"),
            _ => continue,
        }
    }
    // ...and silence closes it.
    let silent_from = Instant::now();
    loop {
        match client.next().await {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, 4408, "{frame:?}");
                break;
            }
            Message::Close(None) => panic!("a close without a code"),
            _ => {}
        }
    }
    let silent_for = silent_from.elapsed();
    assert!(
        silent_for >= Duration::from_millis(250) && silent_for < DEADLINE,
        "closed after {silent_for:?} of silence"
    );
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_after_send_timeout() {
    let mut config = config();
    config.heartbeat_every = Duration::from_millis(10);
    config.send_timeout = Duration::from_millis(200);
    // Room for 1 message ahead (the channel's buffer plus the sender's slot): the
    // client never reads, so the third send waits.
    let mut client = connect(config, Ok(principal(Role::Viewer, None)), 0);
    tokio::time::timeout(DEADLINE, &mut client.task)
        .await
        .expect("the server drops the client within the deadline")
        .unwrap();
    let mut received = Vec::new();
    while let Some(message) = client.from_server.next().await {
        received.push(message);
    }
    // What the server had buffered: a bounded number, whatever the test's duration.
    assert!(received.len() <= 2, "{received:?}");
}

#[tokio::test]
async fn shutdown_closes_with_1001() {
    let mut client = connect(config(), Ok(principal(Role::Viewer, None)), 16);
    client
        .send(r#"{"type":"subscribe","id":"w","topic":"tenant"}"#)
        .await;
    client.json().await;
    client.shutdown.cancel();
    client.expect_close(1001).await;
}

#[test]
fn close_reasons_fit_a_control_frame() {
    assert_eq!(close_reason("short"), "short");
    let long = "é".repeat(100);
    let cut = close_reason(&long);
    assert!(cut.len() <= MAX_REASON_BYTES, "{}", cut.len());
    assert!(cut.ends_with('…'));
}
