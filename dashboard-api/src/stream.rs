//! The WebSocket stream, `GET /api/v1/stream`: the live queues and agents of
//! `/api/v1/queues` and `/api/v1/agents`, pushed to a page as a snapshot and then
//! deltas, at most a few messages per second per subscription.
//!
//! # Connecting
//!
//! The token goes in `Authorization: Bearer ccp_…` or, from a browser (whose WebSocket
//! API cannot set headers), in the query: `/api/v1/stream?access_token=ccp_…`. The
//! upgrade is always accepted, because a browser cannot read the status of a refused
//! one: a missing or invalid token gets an `error` message and close code 4401. Every
//! role may read the stream. A token sees its own tenant only; a supervisor limited to
//! some queues sees those queues and the agents serving at least one of them, as in
//! REST.
//!
//! # Client messages
//!
//! JSON text frames of at most [`StreamConfig::max_message_bytes`] (64 KiB by default).
//! Unknown fields are refused, so that a typo (`queue` for `queues`) is not silently
//! a subscription to everything.
//!
//! | message | answer |
//! |---|---|
//! | `{"type":"subscribe","id":"wall","topic":"tenant"}` | a `snapshot`, then `delta`s |
//! | `{"type":"subscribe","id":"s","topic":"agents","queues":["sales"]}` | the same, narrowed to some queues |
//! | `{"type":"unsubscribe","id":"wall"}` | none: no more messages for `wall` |
//! | `{"type":"ping"}` | `{"type":"pong"}` |
//!
//! - `id`: 1 to 128 characters, unique on the connection; it names the subscription
//!   in every message about it. A connection has at most
//!   [`StreamConfig::max_subscriptions`] (16).
//! - `topic`: `tenant` (queues, agents and open alerts), `queues`, `agents` or
//!   `alerts`.
//! - `queues` (optional, not empty): only these queues, and the agents serving at
//!   least one of them. A queue outside a supervisor's scope closes the connection
//!   (4403).
//!
//! # Server messages
//!
//! ```text
//! {"type":"snapshot","id":"wall","seq":1,"as_of":"…Z"|null,
//!  "queues":[QueueView…],"agents":[AgentView…],"alerts":[AlertView…]}
//! {"type":"delta","id":"wall","seq":2,"as_of":"…Z"|null,
//!  "queues":{"upsert":[QueueView…],"remove":["queue-id"…]},
//!  "agents":{"upsert":[AgentView…],"remove":["agent-id"…]},
//!  "alerts":{"upsert":[AlertView…],"remove":["alert-id"…]}}
//! {"type":"heartbeat","time":"…Z"}
//! {"type":"pong"}
//! {"type":"error","id":"wall"|null,"code":"…","message":"…"}
//! ```
//!
//! - `QueueView` and `AgentView` are the JSON of `/api/v1/queues` and `/api/v1/agents`
//!   ([`crate::views`]), sorted by id. A message has `queues` when the topic is
//!   `tenant` or `queues`, `agents` when it is `tenant` or `agents`.
//! - `AlertView` is the JSON of `/api/v1/alerts` ([`crate::alerts::AlertView`]): the
//!   open (pending and firing) alerts the token sees, by `alert_id`; with a `queues`
//!   filter, the alerts on those queues. A snapshot of topic `tenant` or `alerts` has
//!   `alerts`; a delta has it only when an alert changed: appeared, changed state,
//!   severity, acknowledgement or snooze (an alert's `value`, `volume` and `message`
//!   are as of the message that carried it), or ended (`remove`). This is the in-app
//!   delivery of alerts.
//! - `seq` counts a subscription's messages from 1 (the snapshot). No message is ever
//!   skipped: a client that cannot take them is disconnected (1008), never sent a
//!   partial history.
//! - `as_of` is the tenant's latest event time (`null` before any event).
//! - A client applies a delta by replacing or adding each `upsert` row by its id
//!   (`queue_id`, `agent_id`) and deleting each `remove` id. A row comes again when
//!   anything but the passage of time changed in it: its `as_of`, `time_in_state_ms`
//!   and `oldest_wait_ms` are as of the message that carried it, since every event
//!   moves the tenant's clock and resending every row for it would make each delta a
//!   snapshot. The figures as of a message are `time_in_state_ms = as_of − since` and
//!   `oldest_wait_ms = as_of − oldest_queued_at`, with the message's `as_of`; between
//!   messages a page ticks them on with its own clock.
//! - `heartbeat`: every [`StreamConfig::heartbeat_every`] (15 s), with a WebSocket
//!   ping. `time` is the server's clock.
//! - `error`: see the close codes. An `unsubscribe` naming no subscription gets the
//!   error `unknown_subscription` and the connection stays open.
//!
//! # Pacing and slow clients
//!
//! One task per connection owns the socket: it reads the client's messages, waits for
//! publications of the live view and runs the timers. A subscription sends at most one
//! message per [`StreamConfig::min_interval`] (250 ms): when the live view changes, it
//! compares the rows with the ones its client has and sends a delta with the changed
//! and removed rows, or nothing when none changed; a change inside the interval is
//! compared when the interval ends, so the delta coalesces every change since the
//! previous message.
//!
//! The state is read when a message can be sent, never queued: while a client is slow
//! to read, the task waits on its one message in flight, and the next one, once it is
//! taken, holds the latest rows. So the memory a client costs is its subscriptions'
//! rows and one message, however slow it is. A message it does not take within
//! [`StreamConfig::send_timeout`] (30 s) closes the connection (1008).
//!
//! # Close codes
//!
//! | code | error `code` | when |
//! |---|---|---|
//! | 4401 | `unauthorized` | no token, or not a valid one |
//! | 4403 | `forbidden` | a subscription names a queue outside the token's queues (or the role may not read live data) |
//! | 4400 | `malformed_json` | a message is not a JSON object |
//! | 4400 | `unknown_type` | no `type`, or not one of the three |
//! | 4400 | `invalid_message` | a field is missing, unknown or invalid |
//! | 4400 | `duplicate_subscription` | a subscription `id` already in use |
//! | 4400 | `too_many_subscriptions` | more than `max_subscriptions` |
//! | 4400 | `binary_message` | a binary frame |
//! | 4400 | `invalid_frame` | a frame that cannot be read, such as a message over `max_message_bytes` |
//! | 4408 | — | nothing (not even a pong) received for [`StreamConfig::idle_timeout`] (45 s) |
//! | 1008 | — | a message not taken within `send_timeout`: too slow |
//! | 1001 | — | the server is shutting down |
//!
//! The close frame's reason is the error message (cut to the 123 bytes a close frame
//! allows). After its close frame the server waits up to 5 s for the client's.

mod message;
mod subscription;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use ccpulse_ingest::aggregate::LiveView;

use crate::alerts::Alerting;
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::message::{ClientMessage, ServerMessage, parse};
use self::subscription::Subscription;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::extract::{authenticate, bearer_token};
use crate::metrics::ApiMetrics;
use crate::settings::SettingsStore;
use crate::state::{ApiState, StreamConfig};
use crate::views;

/// Close codes (module docs, "Close codes").
const CLOSE_SHUTTING_DOWN: u16 = 1001;
const CLOSE_TOO_SLOW: u16 = 1008;
const CLOSE_BAD_REQUEST: u16 = 4400;
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_IDLE: u16 = 4408;

/// Longest wait for the closing handshake (the server's error and close frame out,
/// the client's close frame back); at most `send_timeout` too.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A close frame's reason: its payload is at most 125 bytes, 2 of them the code.
const MAX_REASON_BYTES: usize = 123;

/// How much a connection reads from its socket at a time. Clients send only small
/// control messages (a larger one is read in several pieces), and tungstenite's default
/// of 128 KiB per connection was most of what a connected wallboard cost the server
/// (BENCHMARKS.md, "Fan-out").
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// How much a connection buffers before writing to its socket (a larger message is
/// written whole). Deltas are small; snapshots of a large tenant pass through it.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Upgrades the connection and serves one client.
pub(crate) async fn upgrade(
    State(state): State<ApiState>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::new(
                rejection.status(),
                "websocket_required",
                format!(
                    "`/api/v1/stream` is a WebSocket: connect with a WebSocket client ({})",
                    rejection.body_text()
                ),
            )
            .into_response();
        }
    };
    // The token is checked now (the request is gone after the upgrade) and a refusal
    // reported over the socket (module docs, "Connecting").
    let caller = bearer_token(&headers, &uri, true).and_then(|token| authenticate(&state, &token));
    let limit = state.stream.max_message_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let _client = state.metrics.websocket_opened();
            Connection::new(socket, &state).serve(caller).await;
        })
}

/// One client's connection: the socket (axum's `WebSocket`, or channels in tests) and
/// what its messages are made of.
struct Connection<S> {
    socket: S,
    live: Arc<LiveView>,
    settings: Arc<SettingsStore>,
    alerts: Arc<Alerting>,
    metrics: Arc<ApiMetrics>,
    config: StreamConfig,
    shutdown: CancellationToken,
}

/// How a connection ends.
#[derive(Debug)]
enum End {
    /// The client closed, or the connection broke: nothing more to say.
    Gone,
    /// A message was not taken within `send_timeout`.
    TooSlow,
    /// The server closes with `code` and `reason`, after an `error` message when there
    /// is one.
    Close {
        code: u16,
        reason: String,
        error: Option<Refusal>,
    },
}

/// An `error` message.
#[derive(Debug)]
struct Refusal {
    id: Option<String>,
    code: &'static str,
    message: String,
}

impl End {
    fn close(code: u16, reason: impl Into<String>) -> Self {
        End::Close {
            code,
            reason: reason.into(),
            error: None,
        }
    }

    /// An `error` message with `error_code` and `message`, then close `code`.
    fn refuse(code: u16, id: Option<String>, error_code: &'static str, message: String) -> Self {
        End::Close {
            code,
            reason: message.clone(),
            error: Some(Refusal {
                id,
                code: error_code,
                message,
            }),
        }
    }
}

impl<S> Connection<S>
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
{
    fn new(socket: S, state: &ApiState) -> Self {
        Self {
            socket,
            live: Arc::clone(&state.live),
            settings: Arc::clone(&state.settings),
            alerts: Arc::clone(&state.alerts),
            metrics: Arc::clone(&state.metrics),
            config: state.stream.clone(),
            shutdown: state.shutdown.clone(),
        }
    }

    /// Serves `caller` (the token's principal, or why it has none) until the
    /// connection ends.
    async fn serve(mut self, caller: Result<Principal, ApiError>) {
        let token = caller
            .as_ref()
            .map_or("none", |principal| principal.token_id.as_str())
            .to_owned();
        let span = tracing::debug_span!("stream", token = %token);
        async move {
            let end = match caller {
                Err(error) => End::refuse(CLOSE_UNAUTHORIZED, None, error.code, error.message),
                Ok(principal) => match principal.require(Permission::ReadLive) {
                    Err(message) => End::refuse(CLOSE_FORBIDDEN, None, "forbidden", message),
                    Ok(()) => self.run(&principal).await,
                },
            };
            self.finish(end).await;
        }
        .instrument(span)
        .await;
    }

    /// The connection's loop (module docs, "Pacing and slow clients").
    async fn run(&mut self, principal: &Principal) -> End {
        tracing::debug!("stream opened");
        let mut changes = self.live.subscribe();
        // False once the live view is gone (it cannot be while `self.live` holds it).
        let mut watching = true;
        let mut subscriptions: Vec<Subscription> = Vec::new();
        let every = self.config.heartbeat_every;
        let mut heartbeat = interval_at(Instant::now() + every, every);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            let wake = subscriptions.iter().filter_map(Subscription::wake_at).min();
            // Biased: shutdown first; the socket after the paced branches (which are
            // never ready for long), so that a client sending without pause delays its
            // own updates but cannot keep the timers from running; the idle deadline
            // last, so that a frame that arrived in time counts.
            let step = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => {
                    Err(End::close(CLOSE_SHUTTING_DOWN, "server shutting down"))
                }
                changed = changes.changed(), if watching => match changed {
                    Ok(()) => {
                        subscriptions.iter_mut().for_each(Subscription::mark_pending);
                        self.send_due(principal, &mut subscriptions).await
                    }
                    Err(_) => {
                        watching = false;
                        Ok(())
                    }
                },
                () = sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {
                    self.send_due(principal, &mut subscriptions).await
                }
                _ = heartbeat.tick() => self.heartbeat().await,
                frame = self.socket.next() => {
                    last_heard = Instant::now();
                    self.on_frame(frame, principal, &mut subscriptions).await
                }
                () = sleep_until(last_heard + self.config.idle_timeout) => Err(End::close(
                    CLOSE_IDLE,
                    format!(
                        "nothing received from the client for {} ms",
                        self.config.idle_timeout.as_millis()
                    ),
                )),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
        principal: &Principal,
        subscriptions: &mut Vec<Subscription>,
    ) -> Result<(), End> {
        match frame {
            None | Some(Ok(Message::Close(_))) => Err(End::Gone),
            Some(Err(error)) => Err(End::refuse(
                CLOSE_BAD_REQUEST,
                None,
                "invalid_frame",
                format!(
                    "the frame could not be read ({error}); messages are JSON text of at \
                     most {} bytes",
                    self.config.max_message_bytes
                ),
            )),
            Some(Ok(Message::Text(text))) => {
                self.on_message(text.as_str(), principal, subscriptions)
                    .await
            }
            Some(Ok(Message::Binary(_))) => Err(End::refuse(
                CLOSE_BAD_REQUEST,
                None,
                "binary_message",
                "binary frames are not part of the protocol: send JSON text".to_owned(),
            )),
            // Pings are answered by the WebSocket layer; both count as signs of life.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
        }
    }

    async fn on_message(
        &mut self,
        text: &str,
        principal: &Principal,
        subscriptions: &mut Vec<Subscription>,
    ) -> Result<(), End> {
        let message = parse(text).map_err(|invalid| {
            End::refuse(CLOSE_BAD_REQUEST, invalid.id, invalid.code, invalid.message)
        })?;
        match message {
            ClientMessage::Ping => self.send(ServerMessage::Pong.to_text()).await,
            ClientMessage::Unsubscribe { id } => {
                if let Some(index) = subscriptions.iter().position(|s| s.id == id) {
                    subscriptions.remove(index);
                    return Ok(());
                }
                let text = ServerMessage::Error {
                    id: Some(&id),
                    code: "unknown_subscription",
                    message: &format!("no subscription `{id}` on this connection"),
                }
                .to_text();
                self.send(text).await
            }
            ClientMessage::Subscribe { id, topic, queues } => {
                if subscriptions.iter().any(|s| s.id == id) {
                    let message = format!("a subscription `{id}` exists on this connection");
                    return Err(End::refuse(
                        CLOSE_BAD_REQUEST,
                        Some(id),
                        "duplicate_subscription",
                        message,
                    ));
                }
                let max = self.config.max_subscriptions;
                if subscriptions.len() >= max {
                    return Err(End::refuse(
                        CLOSE_BAD_REQUEST,
                        Some(id),
                        "too_many_subscriptions",
                        format!("a connection has at most {max} subscriptions"),
                    ));
                }
                if let Some(outside) = queues
                    .iter()
                    .flatten()
                    .find(|queue| !principal.sees_queue(queue))
                {
                    let message = format!(
                        "token `{}` is limited to queues {}; `{}` is not one of them",
                        principal.token_id,
                        principal
                            .queues
                            .iter()
                            .flatten()
                            .map(|q| format!("`{q}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        message::shorten(outside, 64),
                    );
                    return Err(End::refuse(CLOSE_FORBIDDEN, Some(id), "forbidden", message));
                }
                let mut subscription = Subscription::new(id, topic, queues);
                let rows = subscription.rows(
                    &self.live,
                    &self.settings.current(),
                    &self.alerts,
                    principal,
                );
                let text = subscription.snapshot(rows, Instant::now(), self.config.min_interval);
                subscriptions.push(subscription);
                self.send(text).await
            }
        }
    }

    /// Sends the delta of every subscription whose comparison is due.
    async fn send_due(
        &mut self,
        principal: &Principal,
        subscriptions: &mut [Subscription],
    ) -> Result<(), End> {
        let mut config = None;
        for subscription in subscriptions {
            let now = Instant::now();
            if !subscription.is_due(now) {
                continue;
            }
            let config = config.get_or_insert_with(|| self.settings.current());
            let rows = subscription.rows(&self.live, config, &self.alerts, principal);
            if let Some(text) = subscription.delta(rows, now, self.config.min_interval) {
                self.send(text).await?;
            }
        }
        Ok(())
    }

    async fn heartbeat(&mut self) -> Result<(), End> {
        let time = views::time_text(chrono::Utc::now().timestamp_millis());
        self.send(ServerMessage::Heartbeat { time }.to_text())
            .await?;
        self.send_frame(Message::Ping(Default::default())).await
    }

    async fn send(&mut self, text: String) -> Result<(), End> {
        self.send_frame(Message::text(text)).await
    }

    /// Sends (and flushes) `frame` within `send_timeout`. The wait is the bound on a slow
    /// client: when its socket is full, this is where the task waits.
    async fn send_frame(&mut self, frame: Message) -> Result<(), End> {
        let deadline = Instant::now() + self.config.send_timeout;
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => {
                Err(End::close(CLOSE_SHUTTING_DOWN, "server shutting down"))
            }
            sent = timeout_at(deadline, self.socket.send(frame)) => match sent {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => {
                    tracing::debug!(error = %error, "stream write failed");
                    Err(End::Gone)
                }
                Err(_) => Err(End::TooSlow),
            },
        }
    }

    /// Ends the connection as `end` says (module docs, "Close codes").
    async fn finish(&mut self, end: End) {
        let deadline = Instant::now() + CLOSE_GRACE.min(self.config.send_timeout);
        let (code, reason, error) = match end {
            End::Gone => {
                tracing::debug!("stream closed by the client");
                // Sends the answer to the client's close frame, if it sent one.
                let _ = timeout_at(deadline, self.socket.close()).await;
                return;
            }
            End::TooSlow => {
                tracing::warn!(
                    send_timeout_ms = self.config.send_timeout.as_millis(),
                    "closing a stream whose client does not take its messages"
                );
                self.metrics.websocket_too_slow();
                (CLOSE_TOO_SLOW, "too slow".to_owned(), None)
            }
            End::Close {
                code,
                reason,
                error,
            } => {
                tracing::debug!(code, reason = %reason, "closing the stream");
                (code, reason, error)
            }
        };
        if let Some(error) = error {
            let text = ServerMessage::Error {
                id: error.id.as_deref(),
                code: error.code,
                message: &error.message,
            }
            .to_text();
            if !matches!(
                timeout_at(deadline, self.socket.send(Message::text(text))).await,
                Ok(Ok(()))
            ) {
                return;
            }
        }
        let frame = CloseFrame {
            code,
            reason: close_reason(&reason).into(),
        };
        if !matches!(
            timeout_at(deadline, self.socket.send(Message::Close(Some(frame)))).await,
            Ok(Ok(()))
        ) {
            return;
        }
        // The client's close frame ends the handshake; what it sent before is read and
        // dropped, so that the connection ends cleanly rather than with a reset.
        while let Ok(Some(Ok(frame))) = timeout_at(deadline, self.socket.next()).await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    }
}

/// `reason` cut to the bytes a close frame allows, at a character boundary.
fn close_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES - '…'.len_utf8();
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}
