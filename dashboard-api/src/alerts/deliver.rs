//! Webhook and Slack-compatible deliveries of alert notifications.
//!
//! The alert evaluator hands each notification to a [`Deliverer`] with
//! [`Deliverer::send`] and moves on. Delivery happens in the background: one worker
//! task per endpoint posts the notification, retries it when the endpoint is
//! temporarily unavailable, and reports an endpoint that keeps failing through the
//! `on_failure` callback given to [`Deliverer::new`] (the caller records it in the alert
//! history). [`Deliverer::stats`] counts outcomes for `/metrics`.
//!
//! # Destinations
//!
//! A [`Destination`] belongs to one tenant and is one of two kinds:
//!
//! - [`DestinationKind::Webhook`]: a generic JSON webhook. The body is
//!   [`Notification::body`], sent as is, and signed when the destination has a secret.
//! - [`DestinationKind::Slack`]: a Slack-compatible incoming webhook (Slack, Mattermost,
//!   Rocket.Chat). The body is built from [`Notification::text`] and
//!   [`Notification::severity`]:
//!   `{"text": text, "attachments": [{"color": colour, "text": text, "fallback": text}]}`,
//!   where the colour is `#d93025` for `critical`, `#f9ab00` for `warning` (and any other
//!   severity) and `#1e8e3e` when there is none (a resolved alert). Slack-compatible
//!   destinations are never signed: their URL is the secret.
//!
//! # Requests
//!
//! Every delivery is a `POST` to the destination's URL with these headers:
//!
//! | header | value |
//! |---|---|
//! | `Content-Type` | `application/json` |
//! | `User-Agent` | `ccpulse/<version>` |
//! | `X-Ccpulse-Delivery` | [`Notification::delivery_id`]: unique per notification, the same on every retry, so a receiver can drop duplicates |
//! | `X-Ccpulse-Event` | [`Notification::event`]: `firing`, `escalated`, `reminder`, `resolved` or `test` |
//! | `X-Ccpulse-Attempt` | the attempt number, from 1 |
//! | `X-Ccpulse-Signature` | generic webhooks with a secret only: see below |
//!
//! Redirects are not followed: a `3xx` answer is a permanent failure like a `4xx`, so a
//! signed body is never re-sent to an address the tenant did not configure. Proxies
//! named by `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` in the environment are used.
//! URLs are never logged and never put in error texts: a Slack URL is a secret.
//!
//! # Signatures
//!
//! When a generic webhook has a secret, `X-Ccpulse-Signature` is
//! `t=<unix seconds>,v1=<hex HMAC-SHA256>` (see [`sign`]). The HMAC is keyed with the
//! secret and computed over the bytes of `t` written in decimal, a `.`, and the raw
//! request body. It is recomputed on each attempt with that attempt's time.
//!
//! A receiver checks a request like this: read the raw body before parsing it; split
//! the header on `,` and take `t` and `v1`; compute HMAC-SHA256 with the shared secret
//! over `t`, `.` and the body; compare it with `v1` in constant time; and reject the
//! request when `t` is more than a few minutes (we suggest 5) away from its own clock,
//! which stops an old request from being replayed. [`verify`] does exactly that:
//!
//! ```
//! use ccpulse_dashboard_api::alerts::deliver::{sign, verify};
//!
//! let body = br#"{"alert_id":"a-1"}"#;
//! let header = sign("s3cret", 1_700_000_000, body);
//! assert!(verify("s3cret", &header, body, 1_700_000_060, 300));
//! assert!(!verify("s3cret", &header, b"{}", 1_700_000_060, 300));
//! ```
//!
//! # Retries
//!
//! | answer | outcome |
//! |---|---|
//! | `2xx` | delivered |
//! | `408`, `429`, `5xx`, a connection error, a timeout, a broken connection | retried |
//! | any other status (`3xx`, `4xx`) | failed at once, no retry |
//! | an invalid URL, a request that cannot be built | failed at once, no HTTP attempt |
//!
//! A request gives up after [`DeliveryConfig::timeout`] (connecting, sending and reading
//! the answer). Before attempt n+1 the worker waits
//! `initial_backoff × 2^(n−1)`, at most `max_backoff`. A `Retry-After: <seconds>` header
//! on a `429` or `503` answer is honoured when it asks for longer, still at most
//! `max_backoff`. After [`DeliveryConfig::attempts`] attempts (the first one included)
//! the delivery fails. A failure calls `on_failure` once, with the last error: for a
//! status, the status and the first 200 bytes of the answer's body.
//!
//! # Ordering and isolation
//!
//! Each endpoint, that is each (tenant, destination id, URL), has its own bounded queue
//! and its own worker task, started by the first `send` to it. Deliveries to one endpoint
//! are made one at a time, in the order they were sent, retries included: a notification
//! waits until the one before it is delivered or has failed. A slow or failing endpoint
//! delays only its own queue, never another endpoint's. A worker that has been idle for
//! a while stops, and the next `send` starts a new one.
//!
//! # Never blocking
//!
//! [`Deliverer::send`] is a plain function, not `async`: it takes a short lock, puts the
//! notification in the endpoint's queue and returns. It never waits for the network or
//! for room in a queue. When the queue is full ([`DeliveryConfig::queue_capacity`]
//! notifications already waiting), the notification is dropped: `on_failure` is called
//! at once with `delivery queue full (N waiting)` and the drop is counted.
//!
//! `on_failure` is called from the worker task (from `send` itself for a dropped
//! notification), never while a lock of the deliverer is held. It should be quick:
//! the endpoint's queue waits for it.
//!
//! # Counters
//!
//! [`Deliverer::stats`] returns one [`DeliveryCount`] per (tenant, destination, outcome):
//!
//! | outcome | counted when |
//! |---|---|
//! | `delivered` | an endpoint answered `2xx` |
//! | `retried` | each attempt after the first |
//! | `failed` | a delivery gave up, or failed permanently |
//! | `dropped` | the endpoint's queue was full |
//!
//! # Shutdown
//!
//! Dropping the [`Deliverer`] closes the queues: each worker finishes the deliveries
//! already queued (retries included) and then stops. Queues live in memory only: when
//! the runtime shuts down or the process stops, notifications still queued are lost
//! (the alert history still has the alerts themselves).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::Instrument as _;

/// `User-Agent` of every delivery.
const USER_AGENT: &str = concat!("ccpulse/", env!("CARGO_PKG_VERSION"));

/// The headers of a delivery (see the module docs).
const HEADER_DELIVERY: &str = "X-Ccpulse-Delivery";
const HEADER_EVENT: &str = "X-Ccpulse-Event";
const HEADER_ATTEMPT: &str = "X-Ccpulse-Attempt";
const HEADER_SIGNATURE: &str = "X-Ccpulse-Signature";

/// How much of an error answer's body goes into the failure's error text.
const ERROR_BODY_BYTES: usize = 200;

/// How long a worker waits for a notification before it stops. Long enough that a
/// busy endpoint keeps its worker; short enough that endpoints no longer used (a
/// destination deleted, or its URL changed) do not keep a task each forever.
const WORKER_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Slack attachment colours, by severity.
const COLOUR_CRITICAL: &str = "#d93025";
const COLOUR_WARNING: &str = "#f9ab00";
const COLOUR_RESOLVED: &str = "#1e8e3e";

/// The outcomes counted by [`Deliverer::stats`].
const OUTCOME_DELIVERED: &str = "delivered";
const OUTCOME_RETRIED: &str = "retried";
const OUTCOME_FAILED: &str = "failed";
const OUTCOME_DROPPED: &str = "dropped";

/// Where a tenant's alert notifications go.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    /// Unique within the tenant; names the destination in failures and counters.
    pub id: String,
    pub tenant_id: String,
    pub kind: DestinationKind,
    /// `http` or `https` URL the notification is posted to. For Slack-compatible
    /// destinations the URL itself is the secret: it is never logged, and `Debug`
    /// shows only its scheme and host.
    pub url: String,
    /// HMAC key of the `X-Ccpulse-Signature` header (generic webhooks only; ignored
    /// for Slack-compatible destinations). `None`: requests are not signed.
    pub secret: Option<String>,
}

/// Redacted: the URL shows only its scheme and host, the secret only whether it is set.
impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("kind", &self.kind)
            .field("url", &redact_url(&self.url))
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What a destination speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// Generic JSON webhook: [`Notification::body`] as is, signed when there is a secret.
    Webhook,
    /// Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat).
    Slack,
}

impl DestinationKind {
    /// The name used in config and JSON: `webhook` or `slack`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
        }
    }
}

/// How deliveries are made and retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Time limit of one attempt: connecting, sending and reading the answer.
    /// Default 10 s.
    pub timeout: Duration,
    /// Attempts per notification, the first one included (0 counts as 1). Default 5.
    pub attempts: u32,
    /// Wait before the second attempt; it doubles before each later one. Default 1 s.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts, `Retry-After` included. Default 60 s.
    pub max_backoff: Duration,
    /// Notifications that may wait per endpoint, besides the one being delivered
    /// (0 counts as 1). Beyond it they are dropped. Default 256.
    pub queue_capacity: usize,
}

impl Default for DeliveryConfig {
    /// 10 s timeout, 5 attempts, backoff from 1 s to 60 s: a notification survives an
    /// endpoint restart of about 15 s, and gives up within about two minutes.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            queue_capacity: 256,
        }
    }
}

/// One alert notification, ready for any kind of destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Unique per notification, the same on every retry (header `X-Ccpulse-Delivery`).
    pub delivery_id: String,
    pub tenant_id: String,
    pub alert_id: String,
    pub rule_id: String,
    /// `firing`, `escalated`, `reminder`, `resolved` or `test` (header `X-Ccpulse-Event`).
    pub event: String,
    /// The generic webhook's JSON body, sent as is.
    pub body: serde_json::Value,
    /// One human line (Slack mrkdwn allowed) for Slack-compatible destinations.
    pub text: String,
    /// `warning`, `critical`, or `None` (resolved): the Slack attachment's colour.
    pub severity: Option<String>,
}

/// A notification that could not be delivered, handed to the `on_failure` callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    pub tenant_id: String,
    pub destination_id: String,
    pub alert_id: String,
    pub rule_id: String,
    pub delivery_id: String,
    pub event: String,
    /// HTTP attempts made: 0 when none could be made (a full queue, an invalid URL, a
    /// request that could not be built).
    pub attempts: u32,
    /// What went wrong on the last attempt, for people: e.g.
    /// `HTTP 404 Not Found: no such hook`, `connection failed: ...`, `invalid URL: ...`.
    pub error: String,
}

/// One counter of [`Deliverer::stats`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCount {
    pub tenant_id: String,
    pub destination_id: String,
    /// `delivered`, `retried`, `failed` or `dropped` (see the module docs).
    pub outcome: &'static str,
    pub count: u64,
}

/// The callback told about each notification that could not be delivered.
type OnFailure = Arc<dyn Fn(DeliveryFailure) + Send + Sync>;

/// Delivers notifications in the background, one worker task and queue per endpoint.
///
/// Share it behind an `Arc`. Dropping it lets the workers finish their queues, then stop.
pub struct Deliverer {
    context: Arc<Context>,
    /// The only strong reference: workers hold a `Weak` to remove themselves when idle,
    /// so dropping the deliverer drops every queue's sender and the workers drain and stop.
    workers: Arc<Workers>,
}

/// What the workers share with the deliverer.
struct Context {
    config: DeliveryConfig,
    /// Built once in [`Deliverer::new`]. An error (it would be a broken TLS setup) fails
    /// every delivery with its text rather than panicking.
    client: Result<reqwest::Client, String>,
    on_failure: OnFailure,
    /// (tenant, destination, outcome) → count. Std mutex: never held across `.await`.
    counts: Mutex<BTreeMap<(String, String, &'static str), u64>>,
    /// Notifications queued or being delivered (see [`PendingGuard`]).
    pending: AtomicUsize,
    idle_timeout: Duration,
}

/// The endpoints' queues.
#[derive(Debug)]
struct Workers {
    /// Std mutex: held only to look up a queue and `try_send` to it, never across `.await`.
    queues: Mutex<HashMap<Endpoint, Queue>>,
    next_id: AtomicU64,
}

/// The sending side of one worker's queue.
#[derive(Debug)]
struct Queue {
    /// Tells a worker's own queue from a newer one under the same endpoint.
    worker_id: u64,
    sender: mpsc::Sender<Job>,
}

/// What one worker delivers to: the same destination id with another URL gets another
/// worker, so a changed URL never waits behind the old one.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Endpoint {
    tenant_id: String,
    destination_id: String,
    url: String,
}

/// Redacted like [`Destination`]'s: the URL may be the secret.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("tenant_id", &self.tenant_id)
            .field("destination_id", &self.destination_id)
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

/// One queued notification, with the destination's settings at the time of `send`.
struct Job {
    kind: DestinationKind,
    secret: Option<String>,
    notification: Notification,
    /// Counts the job in [`Deliverer::pending`] until it is dropped: delivered, failed,
    /// dropped from a full queue, or lost with its worker.
    _pending: PendingGuard,
}

/// Decrements [`Context::pending`] when dropped.
struct PendingGuard {
    context: Arc<Context>,
}

impl PendingGuard {
    fn new(context: &Arc<Context>) -> Self {
        context.pending.fetch_add(1, Ordering::SeqCst);
        Self {
            context: Arc::clone(context),
        }
    }
}

impl fmt::Debug for PendingGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingGuard").finish_non_exhaustive()
    }
}

/// Without the secret.
impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("kind", &self.kind)
            .field("delivery_id", &self.notification.delivery_id)
            .field("event", &self.notification.event)
            .finish_non_exhaustive()
    }
}

/// Without the callback (not `Debug`) or the counters.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field("client_ok", &self.client.is_ok())
            .field("pending", &self.pending.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.context.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer")
            .field("config", &self.context.config)
            .field("workers", &self.workers.lock().len())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer with no workers yet; they start on the first `send` to each endpoint.
    ///
    /// `on_failure` is told about every notification that could not be delivered (see
    /// the module docs): record it, don't block in it.
    pub fn new(
        config: DeliveryConfig,
        on_failure: Arc<dyn Fn(DeliveryFailure) + Send + Sync>,
    ) -> Self {
        Self::build(config, on_failure, WORKER_IDLE_TIMEOUT, true)
    }

    /// `use_system_proxy`: whether `HTTP(S)_PROXY` from the environment applies (tests
    /// talk to 127.0.0.1 directly whatever the environment says).
    fn build(
        config: DeliveryConfig,
        on_failure: OnFailure,
        idle_timeout: Duration,
        use_system_proxy: bool,
    ) -> Self {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none());
        if !use_system_proxy {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|err| format!("HTTP client unavailable: {}", error_chain(&err)));
        Self {
            context: Arc::new(Context {
                config,
                client,
                on_failure,
                counts: Mutex::default(),
                pending: AtomicUsize::new(0),
                idle_timeout,
            }),
            workers: Arc::new(Workers {
                queues: Mutex::default(),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// Queues `notification` for `destination` and returns at once: never blocks, never
    /// awaits. The outcome comes later, through the counters and, for a failure, the
    /// `on_failure` callback. A full queue drops the notification and calls `on_failure`
    /// before returning.
    ///
    /// Must be called inside a Tokio runtime: it starts the endpoint's worker task on
    /// the first notification. Outside one, the notification fails (no panic).
    pub fn send(&self, destination: &Destination, notification: Notification) {
        let endpoint = Endpoint {
            tenant_id: destination.tenant_id.clone(),
            destination_id: destination.id.clone(),
            url: destination.url.clone(),
        };
        let job = Job {
            kind: destination.kind,
            secret: destination.secret.clone(),
            notification,
            _pending: PendingGuard::new(&self.context),
        };
        // The lock is released before `on_failure` runs.
        let Some((job, rejection)) = self.enqueue(&endpoint, job) else {
            return;
        };
        let (outcome, error) = match rejection {
            Rejection::QueueFull { waiting } => (
                OUTCOME_DROPPED,
                format!("delivery queue full ({waiting} waiting)"),
            ),
            Rejection::NoRuntime => (
                OUTCOME_FAILED,
                "not delivered: Deliverer::send was called outside a Tokio runtime".to_owned(),
            ),
        };
        tracing::warn!(
            tenant = %endpoint.tenant_id,
            destination = %endpoint.destination_id,
            delivery_id = %job.notification.delivery_id,
            error = %error,
            "alert notification not queued"
        );
        self.context.count(&endpoint, outcome);
        self.context
            .report_failure(&endpoint, &job.notification, 0, error);
    }

    /// Puts `job` in the endpoint's queue, starting its worker when there is none (or
    /// its worker has gone). `None`: queued. `Some`: the job back, and why it could not
    /// be queued.
    fn enqueue(&self, endpoint: &Endpoint, job: Job) -> Option<(Job, Rejection)> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Some((job, Rejection::NoRuntime));
        };
        let mut queues = self.workers.lock();
        let job = match queues.get(endpoint) {
            None => job,
            Some(queue) => match queue.sender.try_send(job) {
                Ok(()) => return None,
                Err(TrySendError::Full(job)) => {
                    let waiting = queue.sender.max_capacity();
                    return Some((job, Rejection::QueueFull { waiting }));
                }
                // The worker ended without removing its queue (its task panicked or the
                // runtime is shutting down): start a new one below.
                Err(TrySendError::Closed(job)) => job,
            },
        };
        let (sender, receiver) = mpsc::channel(self.context.config.queue_capacity.max(1));
        if let Err(err) = sender.try_send(job) {
            // Unreachable with a new queue of capacity ≥ 1; give the job back rather than panic.
            let (TrySendError::Full(job) | TrySendError::Closed(job)) = err;
            return Some((job, Rejection::QueueFull { waiting: 0 }));
        }
        let worker_id = self.workers.next_id.fetch_add(1, Ordering::Relaxed);
        let worker = Worker {
            context: Arc::clone(&self.context),
            workers: Arc::downgrade(&self.workers),
            endpoint: endpoint.clone(),
            worker_id,
            url: parse_url(&endpoint.url),
        };
        let span = tracing::debug_span!(
            "alert_delivery_worker",
            tenant = %endpoint.tenant_id,
            destination = %endpoint.destination_id,
        );
        runtime.spawn(worker.run(receiver).instrument(span));
        queues.insert(endpoint.clone(), Queue { worker_id, sender });
        None
    }

    /// Counters for `/metrics`: one row per (tenant, destination, outcome) seen so far,
    /// sorted by tenant, destination, then outcome.
    pub fn stats(&self) -> Vec<DeliveryCount> {
        self.context
            .lock_counts()
            .iter()
            .map(
                |((tenant_id, destination_id, outcome), count)| DeliveryCount {
                    tenant_id: tenant_id.clone(),
                    destination_id: destination_id.clone(),
                    outcome,
                    count: *count,
                },
            )
            .collect()
    }

    /// Notifications queued or being delivered (retries and their waits included), over
    /// all destinations.
    pub fn pending(&self) -> usize {
        self.context.pending.load(Ordering::SeqCst)
    }
}

/// Why `send` could not queue a notification.
#[derive(Debug)]
enum Rejection {
    QueueFull { waiting: usize },
    NoRuntime,
}

impl Workers {
    fn lock(&self) -> MutexGuard<'_, HashMap<Endpoint, Queue>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Context {
    fn lock_counts(&self) -> MutexGuard<'_, BTreeMap<(String, String, &'static str), u64>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, endpoint: &Endpoint, outcome: &'static str) {
        let key = (
            endpoint.tenant_id.clone(),
            endpoint.destination_id.clone(),
            outcome,
        );
        *self.lock_counts().entry(key).or_default() += 1;
    }

    /// Calls `on_failure` (no lock held). A panicking callback is logged, not allowed to
    /// kill the worker and the queue behind it.
    fn report_failure(
        &self,
        endpoint: &Endpoint,
        notification: &Notification,
        attempts: u32,
        error: String,
    ) {
        let failure = DeliveryFailure {
            tenant_id: endpoint.tenant_id.clone(),
            destination_id: endpoint.destination_id.clone(),
            alert_id: notification.alert_id.clone(),
            rule_id: notification.rule_id.clone(),
            delivery_id: notification.delivery_id.clone(),
            event: notification.event.clone(),
            attempts,
            error,
        };
        let on_failure = &self.on_failure;
        if std::panic::catch_unwind(AssertUnwindSafe(|| on_failure(failure))).is_err() {
            tracing::error!(
                tenant = %endpoint.tenant_id,
                destination = %endpoint.destination_id,
                delivery_id = %notification.delivery_id,
                "the delivery failure callback panicked"
            );
        }
    }
}

/// The task that delivers one endpoint's queue, in order.
#[derive(Debug)]
struct Worker {
    context: Arc<Context>,
    workers: Weak<Workers>,
    endpoint: Endpoint,
    worker_id: u64,
    /// The endpoint's URL, checked once; an error fails every delivery.
    url: Result<Url, String>,
}

impl Worker {
    /// Delivers jobs until the queue closes (the deliverer was dropped) or has been idle
    /// for `idle_timeout`.
    async fn run(self, mut receiver: mpsc::Receiver<Job>) {
        loop {
            match tokio::time::timeout(self.context.idle_timeout, receiver.recv()).await {
                Ok(Some(job)) => self.deliver(job).await,
                Ok(None) => return,
                Err(_idle) => {
                    if self.retire(&receiver) {
                        return;
                    }
                }
            }
        }
    }

    /// Removes this worker's queue if it is still empty. `send` queues under the same
    /// lock, so no notification can arrive after the check and be lost.
    fn retire(&self, receiver: &mpsc::Receiver<Job>) -> bool {
        let Some(workers) = self.workers.upgrade() else {
            // The deliverer is gone: the queue is closed, `recv` drains it and ends.
            return false;
        };
        let mut queues = workers.lock();
        if !receiver.is_empty() {
            return false;
        }
        if queues
            .get(&self.endpoint)
            .is_some_and(|queue| queue.worker_id == self.worker_id)
        {
            queues.remove(&self.endpoint);
        }
        true
    }

    /// Delivers one notification with its retries, then counts and reports the outcome.
    async fn deliver(&self, job: Job) {
        let Job {
            kind,
            secret,
            notification,
            _pending,
        } = job;
        let endpoint = &self.endpoint;
        match self
            .attempt_all(kind, secret.as_deref(), &notification)
            .await
        {
            Ok(attempt) => {
                tracing::debug!(
                    delivery_id = %notification.delivery_id,
                    event = %notification.event,
                    attempt,
                    "alert notification delivered"
                );
                self.context.count(endpoint, OUTCOME_DELIVERED);
            }
            Err((attempts, error)) => {
                tracing::warn!(
                    delivery_id = %notification.delivery_id,
                    event = %notification.event,
                    attempts,
                    error = %error,
                    "alert notification not delivered"
                );
                self.context.count(endpoint, OUTCOME_FAILED);
                self.context
                    .report_failure(endpoint, &notification, attempts, error);
            }
        }
        // `_pending` drops here, after the counters and the callback, so a caller that
        // sees `pending() == 0` also sees every outcome.
    }

    /// Makes up to `attempts` attempts. `Ok`: the attempt that was delivered. `Err`: the
    /// attempts made and the last error.
    async fn attempt_all(
        &self,
        kind: DestinationKind,
        secret: Option<&str>,
        notification: &Notification,
    ) -> Result<u32, (u32, String)> {
        let config = &self.context.config;
        let client = self
            .context
            .client
            .as_ref()
            .map_err(|err| (0, err.clone()))?;
        let url = self.url.as_ref().map_err(|err| (0, err.clone()))?;
        let body = match kind {
            DestinationKind::Webhook => serde_json::to_vec(&notification.body),
            DestinationKind::Slack => serde_json::to_vec(&slack_body(notification)),
        }
        .map_err(|err| (0, format!("encoding the body: {err}")))?;
        // Slack-compatible URLs are the secret; they are never signed.
        let secret = secret.filter(|_| kind == DestinationKind::Webhook);

        let attempts = config.attempts.max(1);
        let mut attempt = 1;
        loop {
            let request = build_request(client, url, notification, &body, secret, attempt);
            let error = match attempt_once(request).await {
                Ok(()) => return Ok(attempt),
                Err(error) => error,
            };
            if !error.retryable || attempt >= attempts {
                let made = if error.sent { attempt } else { attempt - 1 };
                return Err((made, error.message));
            }
            let wait = backoff(config, attempt, error.retry_after);
            tracing::debug!(
                delivery_id = %notification.delivery_id,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %error.message,
                "alert notification attempt failed, retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
            self.context.count(&self.endpoint, OUTCOME_RETRIED);
        }
    }
}

/// The request of one attempt; the signature carries this attempt's time.
fn build_request(
    client: &reqwest::Client,
    url: &Url,
    notification: &Notification,
    body: &[u8],
    secret: Option<&str>,
    attempt: u32,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(url.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(HEADER_DELIVERY, notification.delivery_id.as_str())
        .header(HEADER_EVENT, notification.event.as_str())
        .header(HEADER_ATTEMPT, attempt.to_string());
    if let Some(secret) = secret {
        request = request.header(HEADER_SIGNATURE, sign(secret, unix_now(), body));
    }
    request.body(body.to_vec())
}

/// Why one attempt failed.
#[derive(Debug)]
struct AttemptError {
    message: String,
    retryable: bool,
    /// False when the request could not even be built (nothing was sent).
    sent: bool,
    /// A `Retry-After` in seconds on a 429 or 503 answer.
    retry_after: Option<Duration>,
}

/// Sends one request and classifies the answer (see the table in the module docs).
async fn attempt_once(request: reqwest::RequestBuilder) -> Result<(), AttemptError> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => {
            // Never the URL in the text: a Slack URL is a secret.
            let err = err.without_url();
            let (message, retryable) = if err.is_builder() {
                (format!("invalid request: {}", error_chain(&err)), false)
            } else if err.is_timeout() {
                (format!("timed out: {}", error_chain(&err)), true)
            } else if err.is_connect() {
                (format!("connection failed: {}", error_chain(&err)), true)
            } else {
                (format!("request failed: {}", error_chain(&err)), true)
            };
            return Err(AttemptError {
                message,
                retryable,
                sent: !err.is_builder(),
                retry_after: None,
            });
        }
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retryable = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    let retry_after =
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        } else {
            None
        };
    let body = body_prefix(response, ERROR_BODY_BYTES).await;
    let message = if body.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {body}")
    };
    Err(AttemptError {
        message,
        retryable,
        sent: true,
        retry_after,
    })
}

/// The first `limit` bytes of an answer's body, as text. Reading stops at `limit`, at the
/// end, or at an error (the request's timeout still applies).
async fn body_prefix(mut response: reqwest::Response, limit: usize) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(limit);
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// The wait before the attempt after `failed_attempt` (from 1):
/// `initial_backoff × 2^(failed_attempt − 1)`, or `retry_after` when longer, at most
/// `max_backoff`.
fn backoff(
    config: &DeliveryConfig,
    failed_attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let factor = 1u32
        .checked_shl(failed_attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    let exponential = config.initial_backoff.saturating_mul(factor);
    exponential
        .max(retry_after.unwrap_or_default())
        .min(config.max_backoff)
}

/// What Slack, Mattermost and Rocket.Chat incoming webhooks all accept.
fn slack_body(notification: &Notification) -> serde_json::Value {
    let colour = match notification.severity.as_deref() {
        None => COLOUR_RESOLVED,
        Some("critical") => COLOUR_CRITICAL,
        Some(_) => COLOUR_WARNING,
    };
    serde_json::json!({
        "text": notification.text,
        "attachments": [{
            "color": colour,
            "text": notification.text,
            "fallback": notification.text,
        }],
    })
}

/// The endpoint's URL, or the error every delivery to it fails with.
fn parse_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|err| format!("invalid URL: {err}"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(format!(
            "invalid URL: scheme {other:?} is not supported (use http or https)"
        )),
    }
}

/// Scheme and host only, for `Debug`: the rest of the URL may be a secret.
fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}/<redacted>",
            parsed.scheme(),
            parsed.host_str().unwrap_or("")
        ),
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// An error and its sources, `: `-separated (reqwest's own text alone says little).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper and reqwest sometimes repeat their source's text in their own.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

/// HMAC-SHA256 keyed with `secret`, over `<unix_seconds>.<body>`.
fn signature_mac(secret: &str, unix_seconds: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Ccpulse-Signature` header value:
/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body bytes>")>`.
pub fn sign(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let tag = signature_mac(secret, unix_seconds, body)
        .finalize()
        .into_bytes();
    format!("t={unix_seconds},v1={}", hex::encode(tag))
}

/// The receiver's check: true when `header` (an `X-Ccpulse-Signature` value) carries a
/// `v1` signature of `body` made with `secret`, and its `t` is within `tolerance_s`
/// seconds of `now_unix`. Signatures are compared in constant time. Several `v1` entries
/// are allowed (any one matching is enough); a header without exactly one `t`, or
/// anything malformed, is rejected.
pub fn verify(secret: &str, header: &str, body: &[u8], now_unix: i64, tolerance_s: i64) -> bool {
    let mut timestamp = None;
    let mut timestamps = 0;
    let mut signatures = Vec::new();
    for part in header.split(',').map(str::trim) {
        if let Some(value) = part.strip_prefix("t=") {
            timestamps += 1;
            timestamp = value.parse::<i64>().ok();
        } else if let Some(value) = part.strip_prefix("v1=") {
            signatures.push(value);
        }
    }
    let (1, Some(timestamp)) = (timestamps, timestamp) else {
        return false;
    };
    if tolerance_s < 0 || now_unix.abs_diff(timestamp) > tolerance_s.unsigned_abs() {
        return false;
    }
    let mac = signature_mac(secret, timestamp, body);
    signatures.iter().any(|signature| {
        hex::decode(signature).is_ok_and(|tag| mac.clone().verify_slice(&tag).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::future::Future;
    use std::time::Instant;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::response::{IntoResponse, Response};
    use tokio::sync::Semaphore;

    use super::*;

    /// How long a test waits for something that should happen quickly.
    const DEADLINE: Duration = Duration::from_secs(10);

    // ----- A scripted HTTP receiver -----

    /// What the receiver answers to one request.
    #[derive(Debug, Clone)]
    struct Reply {
        status: u16,
        body: String,
        headers: Vec<(&'static str, String)>,
        /// Wait for a permit of the receiver's gate before answering.
        stall: bool,
    }

    impl Reply {
        fn status(status: u16) -> Self {
            Self {
                status,
                body: String::new(),
                headers: Vec::new(),
                stall: false,
            }
        }

        fn body(mut self, body: impl Into<String>) -> Self {
            self.body = body.into();
            self
        }

        fn stalled(mut self) -> Self {
            self.stall = true;
            self
        }
    }

    /// One request as the receiver saw it.
    #[derive(Debug, Clone)]
    struct Recorded {
        headers: HeaderMap,
        body: Bytes,
    }

    impl Recorded {
        fn header(&self, name: &str) -> &str {
            self.headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
        }

        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).expect("a JSON body")
        }
    }

    #[derive(Debug)]
    struct ReceiverState {
        /// Answers in order; `fallback` once they are used up.
        script: Mutex<VecDeque<Reply>>,
        fallback: Reply,
        requests: Mutex<Vec<Recorded>>,
        seen: mpsc::UnboundedSender<Recorded>,
        /// Stalled replies wait for a permit here.
        gate: Semaphore,
    }

    /// An axum server on 127.0.0.1 that records every request and answers from a script.
    #[derive(Debug)]
    struct Receiver {
        url: String,
        state: Arc<ReceiverState>,
        seen: mpsc::UnboundedReceiver<Recorded>,
    }

    impl Receiver {
        async fn start(script: Vec<Reply>, fallback: Reply) -> Self {
            let (seen, seen_receiver) = mpsc::unbounded_channel();
            let state = Arc::new(ReceiverState {
                script: Mutex::new(script.into()),
                fallback,
                requests: Mutex::default(),
                seen,
                gate: Semaphore::new(0),
            });
            let app = axum::Router::new()
                .fallback(receive)
                .with_state(Arc::clone(&state));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the receiver");
            let address = listener.local_addr().expect("receiver address");
            tokio::spawn(async move { axum::serve(listener, app).await });
            Self {
                url: format!("http://{address}/hook"),
                state,
                seen: seen_receiver,
            }
        }

        /// Answers `status` to every request.
        async fn always(status: u16) -> Self {
            Self::start(Vec::new(), Reply::status(status)).await
        }

        /// The next request, waiting up to [`DEADLINE`] for it.
        async fn next_request(&mut self) -> Recorded {
            tokio::time::timeout(DEADLINE, self.seen.recv())
                .await
                .expect("a request within the deadline")
                .expect("the receiver is running")
        }

        fn requests(&self) -> Vec<Recorded> {
            self.state.requests.lock().unwrap().clone()
        }

        /// Lets `n` stalled replies answer.
        fn release(&self, n: usize) {
            self.state.gate.add_permits(n);
        }
    }

    async fn receive(
        State(state): State<Arc<ReceiverState>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let recorded = Recorded { headers, body };
        state.requests.lock().unwrap().push(recorded.clone());
        let _ = state.seen.send(recorded);
        let reply = state
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| state.fallback.clone());
        if reply.stall {
            state
                .gate
                .acquire()
                .await
                .expect("the gate stays open")
                .forget();
        }
        let mut response = (
            StatusCode::from_u16(reply.status).expect("a valid status"),
            reply.body,
        )
            .into_response();
        for (name, value) in reply.headers {
            response
                .headers_mut()
                .insert(name, value.parse().expect("a header value"));
        }
        response
    }

    // ----- The deliverer under test -----

    /// A deliverer with tiny backoffs whose failures arrive on a channel.
    fn deliverer(config: DeliveryConfig) -> (Deliverer, mpsc::UnboundedReceiver<DeliveryFailure>) {
        let (failures, failures_receiver) = mpsc::unbounded_channel();
        let on_failure: OnFailure = Arc::new(move |failure| {
            let _ = failures.send(failure);
        });
        let deliverer = Deliverer::build(config, on_failure, WORKER_IDLE_TIMEOUT, false);
        (deliverer, failures_receiver)
    }

    fn test_config() -> DeliveryConfig {
        DeliveryConfig {
            timeout: Duration::from_secs(5),
            attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            queue_capacity: 16,
        }
    }

    fn webhook(id: &str, url: &str, secret: Option<&str>) -> Destination {
        Destination {
            id: id.to_owned(),
            tenant_id: "acme".to_owned(),
            kind: DestinationKind::Webhook,
            url: url.to_owned(),
            secret: secret.map(str::to_owned),
        }
    }

    fn notification(delivery_id: &str) -> Notification {
        Notification {
            delivery_id: delivery_id.to_owned(),
            tenant_id: "acme".to_owned(),
            alert_id: "alert-1".to_owned(),
            rule_id: "rule-sl".to_owned(),
            event: "firing".to_owned(),
            body: serde_json::json!({
                "event": "firing",
                "alert_id": "alert-1",
                "rule_id": "rule-sl",
                "queue": "sales",
                "value": 71.5,
            }),
            text: "*Service level* of sales is 71.5% (target 80%)".to_owned(),
            severity: Some("critical".to_owned()),
        }
    }

    /// Polls `condition` until it holds, failing the test after [`DEADLINE`].
    async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
        let start = Instant::now();
        while !condition() {
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until nothing is queued or in flight.
    async fn settled(deliverer: &Deliverer) {
        wait_until("no pending delivery", || deliverer.pending() == 0).await;
    }

    async fn next_failure(
        failures: &mut mpsc::UnboundedReceiver<DeliveryFailure>,
    ) -> DeliveryFailure {
        within(failures.recv())
            .await
            .expect("the failure channel is open")
    }

    async fn within<T>(future: impl Future<Output = T>) -> T {
        tokio::time::timeout(DEADLINE, future)
            .await
            .expect("within the deadline")
    }

    /// The count of `outcome` for destination `destination` of tenant `acme` (0 if none).
    fn count(deliverer: &Deliverer, destination: &str, outcome: &str) -> u64 {
        deliverer
            .stats()
            .iter()
            .find(|row| {
                row.tenant_id == "acme"
                    && row.destination_id == destination
                    && row.outcome == outcome
            })
            .map_or(0, |row| row.count)
    }

    // ----- Signatures -----

    #[test]
    fn sign_writes_t_and_a_hex_hmac() {
        let header = sign("s3cret", 1_700_000_000, b"{}");
        let (t, v1) = header.split_once(',').unwrap();
        assert_eq!(t, "t=1700000000");
        let tag = v1.strip_prefix("v1=").unwrap();
        assert_eq!(tag.len(), 64);
        assert!(tag.chars().all(|c| c.is_ascii_hexdigit()));
        // The MAC covers "<t>.<body>": recompute it independently.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"s3cret").unwrap();
        mac.update(b"1700000000.{}");
        assert_eq!(tag, hex::encode(mac.finalize().into_bytes()));
    }

    #[test]
    fn verify_rejects_malformed_headers_without_panicking() {
        let body = b"{}";
        let good = sign("k", 100, body);
        assert!(verify("k", &good, body, 100, 0));
        assert!(verify("k", &format!("{good},v1=00ff"), body, 100, 0));
        assert!(verify(
            "k",
            &format!("v1=00ff, {}", good.replace(',', ", ")),
            body,
            100,
            0
        ));
        for header in [
            "",
            "t=100",
            "v1=abc",
            "t=abc,v1=00",
            "t=100,v1=zz",
            "t=100,v1=",
            "t=100,t=100,v1=00",
            ",,,,",
            "t=-9223372036854775808,v1=00",
        ] {
            assert!(!verify("k", header, body, 100, 300), "{header:?}");
        }
        let twice = format!("t=100,{good}");
        assert!(!verify("k", &twice, body, 100, 300), "two timestamps");
        assert!(!verify("k", &good, body, 100, -1), "negative tolerance");
        // Extreme clocks and tolerances do not overflow.
        assert!(verify("k", &good, body, i64::MAX, i64::MAX));
        assert!(!verify("k", &good, body, i64::MIN, i64::MAX));
        assert!(verify("k", &good, body, 400, 300));
        assert!(verify("k", &good, body, -200, 300));
        assert!(!verify("k", &good, body, 401, 300));
    }

    // ----- Backoff and bodies -----

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_a_longer_retry_after() {
        let config = DeliveryConfig::default();
        let seconds = |n, retry_after: Option<u64>| {
            backoff(&config, n, retry_after.map(Duration::from_secs)).as_secs()
        };
        assert_eq!(
            (1..=8).map(|n| seconds(n, None)).collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 60, 60]
        );
        assert_eq!(seconds(100, None), 60);
        assert_eq!(seconds(u32::MAX, None), 60);
        assert_eq!(seconds(0, None), 1);
        assert_eq!(seconds(3, Some(10)), 10);
        assert_eq!(seconds(3, Some(2)), 4, "a shorter Retry-After is ignored");
        assert_eq!(seconds(1, Some(3600)), 60, "Retry-After is capped too");
    }

    #[test]
    fn slack_colours_follow_the_severity() {
        let mut n = notification("d");
        let colour = |n: &Notification| slack_body(n)["attachments"][0]["color"].clone();
        assert_eq!(colour(&n), "#d93025");
        n.severity = Some("warning".to_owned());
        assert_eq!(colour(&n), "#f9ab00");
        n.severity = None;
        assert_eq!(colour(&n), "#1e8e3e");
    }

    #[test]
    fn debug_output_hides_urls_and_secrets() {
        let destination = Destination {
            kind: DestinationKind::Slack,
            ..webhook(
                "ops",
                "https://hooks.slack.com/services/T0/B0/XYZ",
                Some("k3y"),
            )
        };
        let text = format!("{destination:?}");
        assert!(text.contains("hooks.slack.com"), "{text}");
        assert!(!text.contains("XYZ") && !text.contains("k3y"), "{text}");
        assert_eq!(DestinationKind::Slack.as_str(), "slack");
        assert_eq!(DestinationKind::Webhook.as_str(), "webhook");
        assert_eq!(
            serde_json::to_value(DestinationKind::Webhook).unwrap(),
            "webhook"
        );
    }

    // ----- Deliveries over HTTP -----

    #[tokio::test]
    async fn a_signed_delivery_carries_the_headers_and_verifies() {
        let mut receiver = Receiver::always(200).await;
        let (deliverer, mut failures) = deliverer(test_config());
        let sent = notification("d-signed");
        deliverer.send(
            &webhook("hook", &receiver.url, Some("s3cret")),
            sent.clone(),
        );

        let request = receiver.next_request().await;
        settled(&deliverer).await;
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(request.header("user-agent"), USER_AGENT);
        assert!(request.header("user-agent").starts_with("ccpulse/"));
        assert_eq!(request.header("x-ccpulse-delivery"), "d-signed");
        assert_eq!(request.header("x-ccpulse-event"), "firing");
        assert_eq!(request.header("x-ccpulse-attempt"), "1");
        assert_eq!(request.json(), sent.body);
        assert_eq!(request.body, serde_json::to_vec(&sent.body).unwrap());

        let signature = request.header("x-ccpulse-signature");
        let now = unix_now();
        assert!(
            verify("s3cret", signature, &request.body, now, 300),
            "{signature}"
        );
        let mut tampered = request.body.to_vec();
        tampered[0] = b' ';
        assert!(
            !verify("s3cret", signature, &tampered, now, 300),
            "tampered body"
        );
        assert!(
            !verify("wrong", signature, &request.body, now, 300),
            "wrong secret"
        );
        assert!(
            !verify("s3cret", signature, &request.body, now + 301, 300),
            "stale"
        );

        assert_eq!(count(&deliverer, "hook", "delivered"), 1);
        assert!(failures.try_recv().is_err());
    }

    #[tokio::test]
    async fn an_unsigned_webhook_has_no_signature_header() {
        let mut receiver = Receiver::always(204).await;
        let (deliverer, _failures) = deliverer(test_config());
        deliverer.send(&webhook("hook", &receiver.url, None), notification("d"));
        let request = receiver.next_request().await;
        assert!(request.headers.get("x-ccpulse-signature").is_none());
        settled(&deliverer).await;
        assert_eq!(count(&deliverer, "hook", "delivered"), 1);
    }

    #[tokio::test]
    async fn server_errors_are_retried_with_the_same_delivery_id() {
        let receiver = Receiver::start(
            vec![Reply::status(500), Reply::status(500)],
            Reply::status(200),
        )
        .await;
        let (deliverer, mut failures) = deliverer(test_config());
        deliverer.send(
            &webhook("hook", &receiver.url, Some("k")),
            notification("d-retry"),
        );
        settled(&deliverer).await;

        let requests = receiver.requests();
        assert_eq!(requests.len(), 3);
        for (i, request) in requests.iter().enumerate() {
            assert_eq!(request.header("x-ccpulse-delivery"), "d-retry");
            assert_eq!(request.header("x-ccpulse-attempt"), (i + 1).to_string());
            assert!(verify(
                "k",
                request.header("x-ccpulse-signature"),
                &request.body,
                unix_now(),
                300
            ));
        }
        assert_eq!(
            deliverer.stats(),
            [
                DeliveryCount {
                    tenant_id: "acme".to_owned(),
                    destination_id: "hook".to_owned(),
                    outcome: "delivered",
                    count: 1,
                },
                DeliveryCount {
                    tenant_id: "acme".to_owned(),
                    destination_id: "hook".to_owned(),
                    outcome: "retried",
                    count: 2,
                },
            ]
        );
        assert!(failures.try_recv().is_err(), "no failure reported");
    }

    #[tokio::test]
    async fn rate_limits_and_request_timeouts_are_retried() {
        let mut too_many = Reply::status(429);
        too_many.headers.push(("retry-after", "0".to_owned()));
        let receiver =
            Receiver::start(vec![too_many, Reply::status(408)], Reply::status(202)).await;
        let (deliverer, mut failures) = deliverer(test_config());
        deliverer.send(&webhook("hook", &receiver.url, None), notification("d"));
        settled(&deliverer).await;
        assert_eq!(receiver.requests().len(), 3);
        assert_eq!(count(&deliverer, "hook", "retried"), 2);
        assert_eq!(count(&deliverer, "hook", "delivered"), 1);
        assert!(failures.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_client_error_fails_at_once_with_the_status_and_the_start_of_the_body() {
        let receiver = Receiver::always(400).await;
        receiver
            .state
            .script
            .lock()
            .unwrap()
            .push_back(Reply::status(400).body("x".repeat(300)));
        let (deliverer, mut failures) = deliverer(test_config());
        deliverer.send(&webhook("hook", &receiver.url, None), notification("d-400"));

        let failure = next_failure(&mut failures).await;
        settled(&deliverer).await;
        assert_eq!(receiver.requests().len(), 1, "no retry");
        assert_eq!(
            failure,
            DeliveryFailure {
                tenant_id: "acme".to_owned(),
                destination_id: "hook".to_owned(),
                alert_id: "alert-1".to_owned(),
                rule_id: "rule-sl".to_owned(),
                delivery_id: "d-400".to_owned(),
                event: "firing".to_owned(),
                attempts: 1,
                error: format!("HTTP 400 Bad Request: {}", "x".repeat(200)),
            }
        );
        assert!(failures.try_recv().is_err(), "exactly one failure");
        assert_eq!(count(&deliverer, "hook", "failed"), 1);
        assert_eq!(count(&deliverer, "hook", "retried"), 0);
        assert_eq!(count(&deliverer, "hook", "delivered"), 0);
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let mut moved = Reply::status(301);
        moved
            .headers
            .push(("location", "http://127.0.0.1:9/elsewhere".to_owned()));
        let receiver = Receiver::start(Vec::new(), moved).await;
        let (deliverer, mut failures) = deliverer(test_config());
        deliverer.send(&webhook("hook", &receiver.url, None), notification("d"));
        let failure = next_failure(&mut failures).await;
        assert_eq!(failure.attempts, 1);
        assert!(failure.error.starts_with("HTTP 301"), "{}", failure.error);
    }

    #[tokio::test]
    async fn an_endpoint_that_always_fails_gets_every_attempt_and_one_failure() {
        let receiver = Receiver::start(Vec::new(), Reply::status(503).body("down")).await;
        let config = DeliveryConfig {
            attempts: 4,
            ..test_config()
        };
        let (deliverer, mut failures) = deliverer(config);
        deliverer.send(
            &webhook("hook", &receiver.url, None),
            notification("d-down"),
        );

        let failure = next_failure(&mut failures).await;
        settled(&deliverer).await;
        assert_eq!(receiver.requests().len(), 4);
        assert_eq!(failure.attempts, 4);
        assert_eq!(failure.error, "HTTP 503 Service Unavailable: down");
        assert!(failures.try_recv().is_err(), "exactly one failure");
        assert_eq!(count(&deliverer, "hook", "retried"), 3);
        assert_eq!(count(&deliverer, "hook", "failed"), 1);
    }

    #[tokio::test]
    async fn a_refused_connection_fails_after_the_retries_with_a_clear_error() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let config = DeliveryConfig {
            attempts: 3,
            ..test_config()
        };
        let (deliverer, mut failures) = deliverer(config);
        let url = format!("http://127.0.0.1:{port}/hook");
        deliverer.send(&webhook("gone", &url, None), notification("d-refused"));

        let failure = next_failure(&mut failures).await;
        assert_eq!(failure.attempts, 3);
        assert!(
            failure.error.starts_with("connection failed"),
            "{}",
            failure.error
        );
        assert!(
            failure.error.to_lowercase().contains("refused"),
            "{}",
            failure.error
        );
        assert!(
            !failure.error.contains(&url),
            "no URL in the error: {}",
            failure.error
        );
        settled(&deliverer).await;
        assert_eq!(count(&deliverer, "gone", "retried"), 2);
        assert_eq!(count(&deliverer, "gone", "failed"), 1);
    }

    #[tokio::test]
    async fn a_timeout_is_retried_and_reported() {
        let receiver = Receiver::start(Vec::new(), Reply::status(200).stalled()).await;
        let config = DeliveryConfig {
            timeout: Duration::from_millis(100),
            attempts: 2,
            ..test_config()
        };
        let (deliverer, mut failures) = deliverer(config);
        deliverer.send(&webhook("slow", &receiver.url, None), notification("d"));
        let failure = next_failure(&mut failures).await;
        assert_eq!(failure.attempts, 2);
        assert!(failure.error.starts_with("timed out"), "{}", failure.error);
        assert_eq!(receiver.requests().len(), 2);
        receiver.release(2);
    }

    #[tokio::test]
    async fn invalid_urls_fail_without_a_request_or_a_panic() {
        let (deliverer, mut failures) = deliverer(test_config());
        for (id, url) in [
            ("empty", ""),
            ("relative", "/hook"),
            ("ftp", "ftp://example.com/hook"),
            ("spaces", "http://exa mple.com/"),
        ] {
            deliverer.send(&webhook(id, url, None), notification(id));
            let failure = next_failure(&mut failures).await;
            assert_eq!(failure.destination_id, id);
            assert_eq!(failure.attempts, 0);
            assert!(
                failure.error.starts_with("invalid URL: "),
                "{}",
                failure.error
            );
        }
        settled(&deliverer).await;
        assert_eq!(count(&deliverer, "ftp", "failed"), 1);
    }

    #[tokio::test]
    async fn a_bad_header_value_fails_without_a_panic() {
        let receiver = Receiver::always(200).await;
        let (deliverer, mut failures) = deliverer(test_config());
        deliverer.send(
            &webhook("hook", &receiver.url, None),
            notification("line\nbreak"),
        );
        let failure = next_failure(&mut failures).await;
        assert_eq!(failure.attempts, 0, "nothing was sent");
        assert!(
            failure.error.starts_with("invalid request"),
            "{}",
            failure.error
        );
        assert!(receiver.requests().is_empty());
    }

    #[tokio::test]
    async fn slack_destinations_get_text_and_a_coloured_attachment_unsigned() {
        let mut receiver = Receiver::always(200).await;
        let (deliverer, mut failures) = deliverer(test_config());
        let destination = Destination {
            kind: DestinationKind::Slack,
            ..webhook("slack", &receiver.url, Some("ignored"))
        };
        let sent = notification("d-slack");
        deliverer.send(&destination, sent.clone());

        let request = receiver.next_request().await;
        assert_eq!(
            request.json(),
            serde_json::json!({
                "text": sent.text,
                "attachments": [{
                    "color": "#d93025",
                    "text": sent.text,
                    "fallback": sent.text,
                }],
            })
        );
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(request.header("user-agent"), USER_AGENT);
        assert!(request.headers.get("x-ccpulse-signature").is_none());
        settled(&deliverer).await;
        assert_eq!(count(&deliverer, "slack", "delivered"), 1);
        assert!(failures.try_recv().is_err());
    }

    #[tokio::test]
    async fn deliveries_to_one_endpoint_keep_their_order() {
        let receiver = Receiver::start(
            vec![Reply::status(500), Reply::status(200), Reply::status(503)],
            Reply::status(200),
        )
        .await;
        let (deliverer, _failures) = deliverer(test_config());
        let destination = webhook("hook", &receiver.url, None);
        for i in 0..5 {
            deliverer.send(&destination, notification(&format!("d-{i}")));
        }
        settled(&deliverer).await;
        let order: Vec<_> = receiver
            .requests()
            .iter()
            .map(|r| r.header("x-ccpulse-delivery").to_owned())
            .collect();
        // d-0 is retried once (500), then d-1 once (503): each waits for the one before.
        assert_eq!(order, ["d-0", "d-0", "d-1", "d-1", "d-2", "d-3", "d-4"]);
        assert_eq!(count(&deliverer, "hook", "delivered"), 5);
    }

    #[tokio::test]
    async fn a_full_queue_drops_without_blocking() {
        let mut receiver = Receiver::start(Vec::new(), Reply::status(200).stalled()).await;
        let config = DeliveryConfig {
            queue_capacity: 1,
            ..test_config()
        };
        let (deliverer, mut failures) = deliverer(config);
        let destination = webhook("hook", &receiver.url, None);

        deliverer.send(&destination, notification("d-1"));
        // d-1 is in flight, stalled at the receiver: the queue is empty again.
        assert_eq!(
            receiver.next_request().await.header("x-ccpulse-delivery"),
            "d-1"
        );
        deliverer.send(&destination, notification("d-2")); // waits in the queue
        assert_eq!(deliverer.pending(), 2);
        deliverer.send(&destination, notification("d-3")); // no room: dropped at once

        let dropped = failures.try_recv().expect("reported before send returned");
        assert_eq!(dropped.delivery_id, "d-3");
        assert_eq!(dropped.attempts, 0);
        assert_eq!(dropped.error, "delivery queue full (1 waiting)");
        assert_eq!(count(&deliverer, "hook", "dropped"), 1);
        assert_eq!(deliverer.pending(), 2);

        receiver.release(2);
        settled(&deliverer).await;
        let order: Vec<_> = receiver
            .requests()
            .iter()
            .map(|r| r.header("x-ccpulse-delivery").to_owned())
            .collect();
        assert_eq!(order, ["d-1", "d-2"]);
        assert_eq!(count(&deliverer, "hook", "delivered"), 2);
        assert!(failures.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_slow_destination_does_not_delay_another() {
        let mut slow = Receiver::start(Vec::new(), Reply::status(200).stalled()).await;
        let mut fast = Receiver::always(200).await;
        let (deliverer, _failures) = deliverer(test_config());

        deliverer.send(&webhook("slow", &slow.url, None), notification("d-slow"));
        slow.next_request().await; // in flight, stalled
        deliverer.send(&webhook("fast", &fast.url, None), notification("d-fast"));
        fast.next_request().await;
        wait_until("the fast delivery", || {
            count(&deliverer, "fast", "delivered") == 1
        })
        .await;

        // The slow one is still waiting for its answer.
        assert_eq!(count(&deliverer, "slow", "delivered"), 0);
        assert_eq!(deliverer.pending(), 1);

        slow.release(1);
        settled(&deliverer).await;
        assert_eq!(count(&deliverer, "slow", "delivered"), 1);
    }

    #[tokio::test]
    async fn a_changed_url_gets_its_own_worker() {
        let mut old = Receiver::start(Vec::new(), Reply::status(200).stalled()).await;
        let mut new = Receiver::always(200).await;
        let (deliverer, _failures) = deliverer(test_config());
        deliverer.send(&webhook("hook", &old.url, None), notification("d-old"));
        old.next_request().await;
        deliverer.send(&webhook("hook", &new.url, None), notification("d-new"));
        assert_eq!(
            new.next_request().await.header("x-ccpulse-delivery"),
            "d-new"
        );
        old.release(1);
        settled(&deliverer).await;
        assert_eq!(count(&deliverer, "hook", "delivered"), 2);
    }

    #[tokio::test]
    async fn idle_workers_stop_and_restart_on_the_next_send() {
        let receiver = Receiver::always(200).await;
        let (failures, _failures_receiver) = mpsc::unbounded_channel();
        let on_failure: OnFailure = Arc::new(move |failure| {
            let _ = failures.send(failure);
        });
        let deliverer =
            Deliverer::build(test_config(), on_failure, Duration::from_millis(20), false);
        let destination = webhook("hook", &receiver.url, None);

        deliverer.send(&destination, notification("d-1"));
        settled(&deliverer).await;
        wait_until("the idle worker to stop", || {
            deliverer.workers.lock().is_empty()
        })
        .await;

        deliverer.send(&destination, notification("d-2"));
        settled(&deliverer).await;
        assert_eq!(count(&deliverer, "hook", "delivered"), 2);
        assert_eq!(receiver.requests().len(), 2);
    }

    #[tokio::test]
    async fn dropping_the_deliverer_finishes_the_queued_deliveries() {
        let receiver = Receiver::always(200).await;
        let (deliverer, _failures) = deliverer(test_config());
        let destination = webhook("hook", &receiver.url, None);
        for i in 0..3 {
            deliverer.send(&destination, notification(&format!("d-{i}")));
        }
        drop(deliverer);
        wait_until("the queued deliveries", || receiver.requests().len() == 3).await;
    }

    #[tokio::test]
    async fn a_panicking_callback_does_not_stop_the_worker() {
        let receiver = Receiver::start(vec![Reply::status(404)], Reply::status(200)).await;
        let on_failure: OnFailure = Arc::new(|_| panic!("callback bug"));
        let deliverer = Deliverer::build(test_config(), on_failure, WORKER_IDLE_TIMEOUT, false);
        let destination = webhook("hook", &receiver.url, None);
        deliverer.send(&destination, notification("d-1"));
        deliverer.send(&destination, notification("d-2"));
        settled(&deliverer).await;
        assert_eq!(count(&deliverer, "hook", "failed"), 1);
        assert_eq!(count(&deliverer, "hook", "delivered"), 1);
    }

    #[test]
    fn the_deliverer_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Deliverer>();
        shareable::<Arc<Deliverer>>();
    }

    #[test]
    fn send_outside_a_runtime_fails_instead_of_panicking() {
        let (deliverer, mut failures) = deliverer(test_config());
        deliverer.send(
            &webhook("hook", "http://127.0.0.1:9/", None),
            notification("d"),
        );
        let failure = failures.try_recv().expect("reported at once");
        assert!(
            failure.error.contains("outside a Tokio runtime"),
            "{}",
            failure.error
        );
        assert_eq!(deliverer.pending(), 0);
        assert_eq!(count(&deliverer, "hook", "failed"), 1);
        assert!(format!("{deliverer:?}").contains("pending: 0"));
    }
}
