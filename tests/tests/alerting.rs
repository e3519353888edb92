//! Service-level alerting end to end: scripted traffic produced to the real broker,
//! folded by the aggregator, evaluated by the alerting loop on each live publication,
//! delivered to a webhook and a Slack-compatible receiver served by the test.
//!
//! Every phase of traffic is produced, then the test waits until the alerting loop has
//! evaluated at the phase's last event time (`evaluated_as_of` of `/api/v1/alerts`),
//! so each intermediate state is seen by the rules, not skipped over by a batch.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ccpulse_dashboard_api::StreamConfig;
use ccpulse_dashboard_api::alerts::AlertsConfig;
use ccpulse_dashboard_api::alerts::deliver::{DeliveryConfig, verify};
use ccpulse_dashboard_api::auth::Role;
use ccpulse_dashboard_api::views::time_text;
use ccpulse_ingest::RunStats;
use ccpulse_ingest::aggregate::{Aggregator, AggregatorSettings};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::store::DataDir;
use ccpulse_schemas::v1::Event;
use ccpulse_tests::aggregate::{Following, TestTopics, produce, scripted_event};
use ccpulse_tests::api::TestApi;
use ccpulse_tests::unique_name;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Upper bound for any one wait.
const DEADLINE: Duration = Duration::from_secs(30);

const TENANT: &str = "acme";

/// 2026-11-16T10:00:00Z: the event time of the tests' first events.
const T0: i64 = 1_794_823_200_000;

const SECRET: &str = "s3cret-for-tests";

// ---------------------------------------------------------------------------------
// Traffic

fn event(value: Value) -> Event<'static> {
    scripted_event(TENANT, value)
}

fn at(ms: i64) -> String {
    time_text(T0 + ms)
}

fn agent_logged_in(at_ms: i64) -> Vec<Event<'static>> {
    vec![
        event(json!({
            "type": "agent.logged_in", "occurred_at": at(at_ms), "agent_id": "ag-1",
            "queues": ["sales"], "capacity": {"voice": 1}, "team_id": "care",
        })),
        event(json!({
            "type": "agent.state_changed", "occurred_at": at(at_ms + 1), "agent_id": "ag-1",
            "state": "available",
        })),
    ]
}

/// An event that only moves the tenant's clock.
fn heartbeat(at_ms: i64) -> Event<'static> {
    event(json!({"type": "agent.heartbeat", "occurred_at": at(at_ms), "agent_id": "ag-1"}))
}

fn interaction(kind: &str, id: &str, at_ms: i64) -> Event<'static> {
    let mut value = json!({
        "type": format!("interaction.{kind}"), "occurred_at": at(at_ms),
        "interaction_id": id, "channel": "voice", "direction": "inbound",
    });
    if kind == "created" {
        value["customer_id"] = json!("cust-0000001");
    } else {
        value["queue_id"] = json!("sales");
    }
    if kind == "answered" {
        value["agent_id"] = json!("ag-1");
    }
    event(value)
}

/// A caller `id` queued in sales at `at_ms`.
fn queued(id: &str, at_ms: i64) -> Vec<Event<'static>> {
    vec![
        interaction("created", id, at_ms),
        interaction("queued", id, at_ms + 1),
    ]
}

/// A caller queued at `at_ms` and answered after `wait_ms`.
fn answered_call(id: &str, at_ms: i64, wait_ms: i64) -> Vec<Event<'static>> {
    let mut events = queued(id, at_ms);
    events.push(interaction("answered", id, at_ms + 1 + wait_ms));
    events
}

/// `count` calls from `first_ms`, one every `every_ms`, each answered after `wait_ms`.
fn calls(
    prefix: &str,
    count: i64,
    first_ms: i64,
    every_ms: i64,
    wait_ms: i64,
) -> Vec<Event<'static>> {
    let mut events: Vec<Event<'static>> = (0..count)
        .flat_map(|n| answered_call(&format!("{prefix}-{n}"), first_ms + n * every_ms, wait_ms))
        .collect();
    events.sort_by_key(|e| e.occurred_at);
    events
}

fn last_time(events: &[Event<'_>]) -> i64 {
    events.iter().map(|e| e.occurred_at).max().expect("events") - T0
}

// ---------------------------------------------------------------------------------
// The receiver of webhooks and Slack messages

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Debug, Default)]
struct Receiver {
    received: Mutex<Vec<Received>>,
    /// Webhook requests to answer 500 before answering 200.
    fail_first: AtomicUsize,
}

impl Receiver {
    async fn start(fail_first: usize) -> (Arc<Self>, SocketAddr) {
        let receiver = Arc::new(Receiver {
            fail_first: AtomicUsize::new(fail_first),
            ..Receiver::default()
        });
        let router = Router::new()
            .route("/hook", post(receive))
            .route("/slack", post(receive))
            .with_state(Arc::clone(&receiver));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, address)
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn on(&self, path: &str) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.path == path).collect()
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_owned();
    let fail = path == "/hook"
        && receiver
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    receiver.received.lock().unwrap().push(Received {
        path,
        headers,
        body,
    });
    if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

// ---------------------------------------------------------------------------------
// A wallboard's view: the stream's `alerts` topic

/// Subscribes to the `alerts` topic of the stream at `address` and keeps, for every
/// alert, the states it was shown in (consecutive repeats merged) and `removed` when
/// a delta removed it.
async fn watch_alerts(address: SocketAddr, token: &str) -> Arc<Mutex<Vec<(String, String)>>> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("ws://{address}/api/v1/stream?access_token={token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the stream");
    let subscribe = json!({"type": "subscribe", "id": "alerts", "topic": "alerts"});
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let (ready, subscribed) = tokio::sync::oneshot::channel();
    let mut ready = Some(ready);
    tokio::spawn({
        let seen = Arc::clone(&seen);
        async move {
            while let Some(Ok(frame)) = socket.next().await {
                let Message::Text(text) = frame else { continue };
                let message: Value = serde_json::from_str(&text).unwrap();
                let mut seen = seen.lock().unwrap();
                let mut note = |id: &str, what: &str| {
                    if seen.last() != Some(&(id.to_owned(), what.to_owned())) {
                        seen.push((id.to_owned(), what.to_owned()));
                    }
                };
                match message["type"].as_str() {
                    Some("snapshot") => {
                        for alert in message["alerts"].as_array().unwrap() {
                            note(
                                alert["alert_id"].as_str().unwrap(),
                                alert["state"].as_str().unwrap(),
                            );
                        }
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    Some("delta") => {
                        for alert in message["alerts"]["upsert"].as_array().into_iter().flatten() {
                            note(
                                alert["alert_id"].as_str().unwrap(),
                                alert["state"].as_str().unwrap(),
                            );
                        }
                        for id in message["alerts"]["remove"].as_array().into_iter().flatten() {
                            note(id.as_str().unwrap(), "removed");
                        }
                    }
                    _ => {}
                }
            }
        }
    });
    subscribed.await.expect("a snapshot");
    seen
}

// ---------------------------------------------------------------------------------
// The pipeline

struct Pipeline {
    topics: TestTopics,
    api: TestApi,
    admin: String,
    run: Option<Following>,
    _data_dir: tempfile::TempDir,
}

impl Pipeline {
    /// Aggregator following a new topic, the API over it with the alerting loop
    /// running, and `destinations` (TOML) in the rules file.
    async fn start(name: &str, destinations: &str) -> Pipeline {
        let topics = TestTopics::create(name, 1).await.unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let config = FoldConfig::default();
        let aggregator = Arc::new(Aggregator::with_settings(
            DataDir::open(data_dir.path()).unwrap(),
            Arc::new(config.clone()),
            AggregatorSettings {
                publish_every: Duration::from_millis(20),
                tail_every: Duration::from_millis(200),
                ..AggregatorSettings::default()
            },
        ));
        let alerts = AlertsConfig {
            delivery: DeliveryConfig {
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(200),
                attempts: 3,
                ..DeliveryConfig::default()
            },
            query_every: Duration::from_millis(200),
            ..AlertsConfig::in_data_dir(data_dir.path())
        };
        std::fs::create_dir_all(alerts.rules_file.parent().unwrap()).unwrap();
        std::fs::write(&alerts.rules_file, destinations).unwrap();
        let stats = RunStats::new();
        let api = TestApi::with_alerts(
            data_dir.path(),
            aggregator.live(),
            config,
            Box::new({
                let aggregator = Arc::clone(&aggregator);
                move |config| aggregator.set_fold_config(config)
            }),
            Some(Arc::clone(&stats)),
            StreamConfig::default(),
            alerts,
        )
        .unwrap();
        api.start_alerting();
        let run = Following::start(
            topics.consumer_settings(&unique_name(name)),
            aggregator,
            stats,
        );
        let admin = api.token(TENANT, Role::Admin, None);
        Pipeline {
            topics,
            api,
            admin,
            run: Some(run),
            _data_dir: data_dir,
        }
    }

    async fn put_rule(&self, rule: Value) {
        let id = rule["id"].as_str().unwrap().to_owned();
        let answer = self
            .api
            .call(
                axum::http::Method::PUT,
                &format!("/api/v1/alert-rules/{id}"),
                Some(&self.admin),
                Some(&rule.to_string()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    }

    /// Produces `events`, then waits until the rules were evaluated at the last one's
    /// time; returns `/api/v1/alerts` as of then.
    async fn phase(&self, events: &[Event<'_>]) -> Value {
        produce(&self.topics.events, events).await.unwrap();
        self.evaluated_at(last_time(events)).await
    }

    async fn evaluated_at(&self, ms: i64) -> Value {
        let wanted = at(ms);
        let deadline = Instant::now() + DEADLINE;
        loop {
            let answer = self.api.get("/api/v1/alerts", &self.admin).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
            let body = answer.json();
            if body["evaluated_as_of"].as_str() == Some(wanted.as_str()) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "the rules were never evaluated at {wanted}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The `event` column of the `alerts` table, in order, for `rule`.
    async fn history(&self, rule: &str) -> Vec<String> {
        self.sql(&format!(
            "SELECT event FROM alerts WHERE rule_id = '{rule}' AND event <> 'delivery_failed' ORDER BY seq"
        ))
        .await
        .iter()
        .map(|row| row["event"].as_str().unwrap().to_owned())
        .collect()
    }

    async fn sql(&self, sql: &str) -> Vec<Value> {
        let answer = self
            .api
            .call(
                axum::http::Method::POST,
                "/api/v1/sql",
                Some(&self.admin),
                Some(&json!({ "sql": sql }).to_string()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{sql}: {}", answer.text());
        answer.json()["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn stop(mut self) {
        self.api.state.shutdown.cancel();
        self.run.take().unwrap().stop().await;
    }
}

/// The only open alert of `body`, or none.
fn open_alert(body: &Value) -> Option<Value> {
    let alerts = body["alerts"].as_array().expect("alerts");
    assert!(alerts.len() <= 1, "{body}");
    alerts.first().cloned()
}

/// Waits until `receiver` has `count` requests on `path`.
async fn wait_for_requests(receiver: &Receiver, path: &str, count: usize) -> Vec<Received> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let on = receiver.on(path);
        if on.len() >= count {
            return on;
        }
        assert!(
            Instant::now() < deadline,
            "{path} received {} requests, not {count}",
            on.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn destinations(address: SocketAddr) -> String {
    // A port nothing listens on, for a destination that always fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    format!(
        r#"
[[destination]]
id = "dead"
tenant = "{TENANT}"
kind = "webhook"
url = "http://{dead}/gone"

[[destination]]
id = "hook"
tenant = "{TENANT}"
kind = "webhook"
url = "http://{address}/hook"
secret = "{SECRET}"

[[destination]]
id = "chat"
tenant = "{TENANT}"
kind = "slack"
url = "http://{address}/slack"
"#
    )
}

fn assert_signed(request: &Received) {
    let signature = request.header("x-ccpulse-signature");
    let now = chrono::Utc::now().timestamp();
    assert!(
        verify(SECRET, &signature, &request.body, now, 300),
        "signature {signature:?} does not verify"
    );
    assert!(!verify(
        "another secret",
        &signature,
        &request.body,
        now,
        300
    ));
}

// ---------------------------------------------------------------------------------
// Tests

/// A queue's service level (today, at least 10 offered) breaches, holds for `for`,
/// fires (critical), improves into the hysteresis band and keeps firing, then clears
/// past `clear` for `clear_for` and resolves: exactly pending → firing → resolved, two
/// notifications to each destination, the webhook's first attempt failed and retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_level_breach_holds_fires_and_recovers_with_hysteresis() {
    let (receiver, address) = Receiver::start(1).await;
    let pipeline = Pipeline::start("alerting-sl", &destinations(address)).await;
    pipeline
        .put_rule(json!({
            "id": "sales-sl", "name": "Sales service level",
            "scope": {"queues": ["sales"]},
            "metric": "service_level", "window": "today",
            "comparison": "below", "warning": 0.8, "critical": 0.5, "clear": 0.85,
            "for": "2m", "clear_for": "2m", "min_volume": 10,
            "notify": ["hook", "chat", "dead"],
        }))
        .await;
    let (address, _server) = pipeline.api.listen().await.unwrap();
    let wallboard = watch_alerts(address, &pipeline.admin).await;

    // Five calls answered in 5 s, then three after 60 s (threshold 20 s): the service
    // level is 5/8 = 62.5 %, below both thresholds, but only 8 were offered.
    let mut events = agent_logged_in(0);
    events.extend(calls("fast", 5, 1_000, 10_000, 5_000));
    events.extend(calls("slow", 3, 60_000, 10_000, 60_000));
    let body = pipeline.phase(&events).await;
    assert_eq!(open_alert(&body), None, "minimum volume: {body}");
    let queue = pipeline
        .api
        .get("/api/v1/queues/sales", &pipeline.admin)
        .await
        .json();
    assert_eq!(queue["today"]["offered"], 8, "{queue}");
    assert_eq!(queue["today"]["service_level"], 0.625, "{queue}");

    // Four more slow answers: 12 offered, 5/12 = 41.7 %: pending (critical), not yet
    // firing.
    let events = calls("slower", 4, 150_000, 10_000, 60_000);
    let body = pipeline.phase(&events).await;
    let alert = open_alert(&body).expect("an alert");
    assert_eq!(alert["state"], "pending", "{alert}");
    assert_eq!(alert["severity"], "critical", "{alert}");
    assert_eq!(alert["subject"], json!({"kind": "queue", "id": "sales"}));
    let queue = pipeline
        .api
        .get("/api/v1/queues/sales", &pipeline.admin)
        .await
        .json();
    assert_eq!(
        alert["value"], queue["today"]["service_level"],
        "the alert agrees with the tile"
    );
    assert!(receiver.all().is_empty(), "pending notifies nobody");

    // Held for two minutes: firing.
    let body = pipeline.phase(&[heartbeat(241_001 + 130_000)]).await;
    let alert = open_alert(&body).expect("an alert");
    assert_eq!(alert["state"], "firing", "{alert}");
    let alert_id = alert["alert_id"].as_str().unwrap().to_owned();

    // 24 fast answers: 29/36 = 80.6 %, above the warning but below `clear`: still
    // firing three minutes later.
    let events = calls("better", 24, 380_000, 5_000, 2_000);
    let end = last_time(&events);
    pipeline.phase(&events).await;
    let body = pipeline.phase(&[heartbeat(end + 180_000)]).await;
    let alert = open_alert(&body).expect("still open");
    assert_eq!(alert["state"], "firing", "hysteresis: {alert}");
    let value = alert["value"].as_f64().unwrap();
    assert!((value - 29.0 / 36.0).abs() < 1e-9, "{alert}");

    // 12 more: 41/48 = 85.4 %, past `clear`; two minutes later it resolves.
    let events = calls("good", 12, 700_000, 5_000, 2_000);
    let end = last_time(&events);
    let body = pipeline.phase(&events).await;
    assert_eq!(
        open_alert(&body).expect("not yet resolved")["state"],
        "firing"
    );
    let body = pipeline.phase(&[heartbeat(end + 121_000)]).await;
    assert_eq!(open_alert(&body), None, "resolved: {body}");

    assert_eq!(
        pipeline.history("sales-sl").await,
        ["pending", "firing", "resolved"]
    );
    let rows = pipeline
        .sql("SELECT event, severity, value, volume, notified, alert_id FROM alerts WHERE event = 'firing'")
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["severity"], "critical");
    assert_eq!(rows[0]["volume"], 12);
    assert_eq!(rows[0]["notified"], true);
    assert_eq!(rows[0]["alert_id"], alert_id.as_str());

    // The webhook: firing failed once (500) and was retried with the same delivery id,
    // then resolved; every request signed.
    let hook = wait_for_requests(&receiver, "/hook", 3).await;
    let slack = wait_for_requests(&receiver, "/slack", 2).await;
    let events: Vec<String> = hook.iter().map(|r| r.header("x-ccpulse-event")).collect();
    assert_eq!(events, ["firing", "firing", "resolved"]);
    assert_eq!(
        hook[0].header("x-ccpulse-delivery"),
        hook[1].header("x-ccpulse-delivery")
    );
    assert_eq!(hook[0].header("x-ccpulse-attempt"), "1");
    assert_eq!(hook[1].header("x-ccpulse-attempt"), "2");
    hook.iter().for_each(assert_signed);
    let firing = hook[1].json();
    assert_eq!(firing["event"], "firing");
    assert_eq!(firing["alert"]["alert_id"], alert_id.as_str());
    assert_eq!(firing["alert"]["severity"], "critical");
    assert_eq!(hook[2].json()["alert"]["state"], "resolved");
    let texts: Vec<String> = slack
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        texts[0].contains("CRITICAL") && texts[0].contains("queue sales"),
        "{texts:?}"
    );
    assert!(texts[1].contains("RESOLVED"), "{texts:?}");
    assert_eq!(receiver.all().len(), 5, "no other request");

    // The dead endpoint: both deliveries gave up after 3 attempts, recorded in the
    // history and counted.
    let deadline = Instant::now() + DEADLINE;
    let failed = loop {
        let rows = pipeline
            .sql("SELECT destination_id, reason, message FROM alerts WHERE event = 'delivery_failed' ORDER BY seq")
            .await;
        if rows.len() >= 2 || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(failed.len(), 2, "{failed:?}");
    for row in &failed {
        assert_eq!(row["destination_id"], "dead");
        let message = row["message"].as_str().unwrap();
        assert!(message.contains("after 3 attempt"), "{message}");
        assert!(
            row["reason"].as_str().unwrap().contains("connection"),
            "{row}"
        );
    }

    // The wallboard saw it firing, then gone (pending too, unless that lasted less
    // than the stream's coalescing interval).
    let seen = wallboard.lock().unwrap().clone();
    let states: Vec<&str> = seen
        .iter()
        .filter(|(id, _)| *id == alert_id)
        .map(|(_, state)| state.as_str())
        .collect();
    assert!(
        states == ["pending", "firing", "removed"] || states == ["firing", "removed"],
        "{seen:?}"
    );
    assert!(seen.iter().all(|(id, _)| *id == alert_id), "{seen:?}");

    let metrics = pipeline.api.get("/metrics", &pipeline.admin).await.text();
    for line in [
        "ccpulse_alert_deliveries_total{tenant=\"acme\",destination=\"hook\",outcome=\"delivered\"} 2",
        "ccpulse_alert_deliveries_total{tenant=\"acme\",destination=\"hook\",outcome=\"retried\"} 1",
        "ccpulse_alert_events_total{event=\"firing\"} 1",
        "ccpulse_alert_deliveries_total{tenant=\"acme\",destination=\"dead\",outcome=\"failed\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    pipeline.stop().await;
}

/// Waiting contacts swing across the threshold twenty times while the alert fires,
/// each time below it for longer than `clear_for`: no more notifications than the one
/// firing and the one resolution, because 2 waiting is above `clear` (1). Without
/// `clear` each swing would resolve the alert and start a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_metric_notifies_once() {
    let (receiver, address) = Receiver::start(0).await;
    let pipeline = Pipeline::start("alerting-flap", &destinations(address)).await;
    pipeline
        .put_rule(json!({
            "id": "sales-waiting", "scope": {"queues": ["sales"]},
            "metric": "waiting_now", "comparison": "above", "warning": 3, "clear": 1,
            "for": "1m", "clear_for": "10s", "notify": ["hook"],
        }))
        .await;
    let mut events = agent_logged_in(0);
    for n in 0..4 {
        events.extend(queued(&format!("c-{n}"), 1_000 + n));
    }
    let body = pipeline.phase(&events).await;
    assert_eq!(open_alert(&body).expect("pending")["state"], "pending");
    let body = pipeline.phase(&[heartbeat(62_000)]).await;
    assert_eq!(open_alert(&body).expect("firing")["state"], "firing");

    // Twenty swings: two answered (2 waiting, below the threshold but above `clear`),
    // two new callers (4 waiting, above it again).
    let mut waiting: Vec<String> = (0..4).map(|n| format!("c-{n}")).collect();
    let mut next = 4;
    let mut swings = 0;
    for k in 0..10 {
        let t = 70_000 + k * 30_000;
        let answered: Vec<Event<'static>> = waiting
            .drain(..2)
            .enumerate()
            .map(|(i, id)| interaction("answered", &id, t + i as i64))
            .collect();
        pipeline.phase(&answered).await;
        // Twelve seconds at 2 waiting: longer than `clear_for`, so only `clear` keeps
        // the alert from resolving.
        let body = pipeline.phase(&[heartbeat(t + 12_000)]).await;
        assert_eq!(open_alert(&body).expect("open")["state"], "firing");
        let mut arrivals = Vec::new();
        for i in 0..2 {
            let id = format!("c-{next}");
            next += 1;
            arrivals.extend(queued(&id, t + 15_000 + i));
            waiting.push(id);
        }
        let body = pipeline.phase(&arrivals).await;
        assert_eq!(open_alert(&body).expect("open")["state"], "firing");
        swings += 2;
    }
    let queue = pipeline
        .api
        .get("/api/v1/queues/sales", &pipeline.admin)
        .await
        .json();
    assert_eq!(queue["waiting_now"], 4, "{queue}");

    // Everyone answered, and a minute later: resolved.
    let answered: Vec<Event<'static>> = waiting
        .iter()
        .enumerate()
        .map(|(i, id)| interaction("answered", id, 400_000 + i as i64))
        .collect();
    pipeline.phase(&answered).await;
    let body = pipeline.phase(&[heartbeat(461_000)]).await;
    assert_eq!(open_alert(&body), None, "{body}");

    assert_eq!(swings, 20);
    assert_eq!(
        pipeline.history("sales-waiting").await,
        ["pending", "firing", "resolved"]
    );
    let hook = wait_for_requests(&receiver, "/hook", 2).await;
    let events: Vec<String> = hook.iter().map(|r| r.header("x-ccpulse-event")).collect();
    assert_eq!(events, ["firing", "resolved"]);
    pipeline.stop().await;
}

/// A rule over a trailing window is read with SQL by the alerting loop (every
/// `query_every`, here 200 ms), from the interval rows the aggregator wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trailing_window_rule_is_evaluated_with_sql_by_the_loop() {
    let (receiver, address) = Receiver::start(0).await;
    let pipeline = Pipeline::start("alerting-sql", &destinations(address)).await;
    pipeline
        .put_rule(json!({
            "id": "sales-abandons", "scope": {"queues": ["sales"]},
            "metric": "abandon_rate", "window": "trailing_30m",
            "comparison": "above", "warning": 0.3, "min_volume": 3, "notify": ["hook"],
        }))
        .await;
    let mut events = agent_logged_in(0);
    for n in 0..3 {
        events.extend(queued(&format!("c-{n}"), 1_000 + n * 1_000));
    }
    events.push(interaction("answered", "c-0", 10_000));
    events.push(interaction("abandoned", "c-1", 20_000));
    events.push(interaction("abandoned", "c-2", 21_000));
    pipeline.phase(&events).await;
    let deadline = Instant::now() + DEADLINE;
    let alert = loop {
        let body = pipeline
            .api
            .get("/api/v1/alerts", &pipeline.admin)
            .await
            .json();
        if let Some(alert) = open_alert(&body) {
            break alert;
        }
        assert!(Instant::now() < deadline, "no alert: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(alert["state"], "firing", "{alert}");
    assert_eq!(alert["window"], "trailing_30m");
    assert_eq!(alert["volume"], 3);
    let value = alert["value"].as_f64().unwrap();
    assert!((value - 2.0 / 3.0).abs() < 1e-9, "{alert}");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("abandon rate (last 30 min) 66.7 %"),
        "{alert}"
    );
    let hook = wait_for_requests(&receiver, "/hook", 1).await;
    assert_eq!(hook[0].header("x-ccpulse-event"), "firing");
    pipeline.stop().await;
}
