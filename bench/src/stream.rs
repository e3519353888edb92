//! What the freshness and fan-out benchmarks share: a real `ccpulse serve` on a fresh
//! topic ([`Server`]), WebSocket clients subscribed to it ([`Clients`]), a producer of
//! simulator traffic with *probe* events interleaved ([`Producer`]), and the
//! bookkeeping that turns "probe n handed to the producer at t" and "client c first
//! showed probe ≥ n at t′" into latencies ([`latencies`]).
//!
//! # Probes
//! A probe is an `agent.state_changed` of one agent that only the benchmark drives
//! ([`PROBE_AGENT`], logged in to its own queue [`PROBE_QUEUE`]): state `away`, reason
//! `probe-<n>` with n counting up. Its effect on a tile is the agent row's `reason`, so a
//! client recognises probe n in any snapshot or delta that carries the row
//! ([`probe_in_message`]). Clients subscribe to topic `agents` narrowed to the probe's
//! queue: every message then carries the probe's row alone, so the measurement is the
//! pipeline's delay and not the bench's JSON parsing of the whole tenant (the server
//! still folds, publishes and filters the whole tenant for each subscription).
//!
//! The stream coalesces (a subscription sends at most one message per 250 ms, with the
//! latest rows), so a message may skip probes: a message showing probe m delivers every
//! probe n ≤ m the client had not seen, since the state it shows includes them. Probe
//! n's latency on a client is therefore the first receipt of any m ≥ n minus the time n
//! was handed to the producer, both on this process's monotonic clock.
//!
//! Probes carry event times that keep the tenant's clock: with simulator traffic the
//! tenant's latest simulated time (the fold drops events older than the allowed
//! lateness), else the wall clock; always 1 ms after the previous probe at least, so
//! that their order is their event-time order.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ccpulse_ingest::{EventProducer, KafkaSettings};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use futures::{SinkExt, StreamExt};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::context::{Ccpulse, Context, http_get};

/// The agent whose state changes are the probes.
pub(crate) const PROBE_AGENT: &str = "bench-probe";
/// The queue only [`PROBE_AGENT`] serves; clients subscribe to it.
pub(crate) const PROBE_QUEUE: &str = "bench-probe";

/// Longest wait for `serve` to print its address and answer `/readyz` 200.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Longest wait for one client's connection and snapshot.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections opened at once (the rest wait): keeps the listen backlog from
/// overflowing, which would show as connect delays, not as the server's cost.
const CONNECTING_AT_ONCE: usize = 100;

/// A `ccpulse serve` on a fresh topic and data directory, with a viewer token.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) process: Ccpulse,
    pub(crate) address: SocketAddr,
    pub(crate) token: String,
    pub(crate) topic: String,
}

impl Server {
    /// Creates topic `bench.<name>.<unique>` (and its dead-letter topic) with
    /// `partitions`, a data directory under the scratch directory `name`, a viewer token
    /// of `tenant`, then starts `serve` on a free loopback port and waits until
    /// `/readyz` answers 200. `server`: extra `[server]` keys (TOML values).
    pub(crate) async fn start(
        ctx: &Context,
        name: &str,
        tenant: &str,
        partitions: i32,
        server: &[(&str, &str)],
    ) -> Result<Self> {
        let dir = ctx.scratch(name)?;
        let unique = chrono::Utc::now().timestamp_millis();
        let topic = format!("bench.{name}.{unique}");
        let dead_letters = format!("{topic}.dlq");
        let kafka = ctx.kafka()?;
        for (topic, partitions) in [(&topic, partitions), (&dead_letters, 1)] {
            kafka
                .create_topic(topic, partitions)
                .await
                .with_context(|| format!("creating topic `{topic}`"))?;
        }
        let data_dir = dir.join("data");
        let config = dir.join("ccpulse.toml");
        let mut text = format!(
            "[kafka]\nbrokers = {}\n\n[consumer]\ntopic = {}\ndead_letter_topic = {}\n\
             group_id = {}\n\n[storage]\ndata_dir = {}\n\n[server]\nlisten = \"127.0.0.1:0\"\n",
            toml_string(ctx.brokers()?),
            toml_string(&topic),
            toml_string(&dead_letters),
            toml_string(&format!("bench-{name}-{unique}")),
            toml_string(&data_dir.display().to_string()),
        );
        for (key, value) in server {
            text.push_str(&format!("{key} = {value}\n"));
        }
        std::fs::write(&config, text).with_context(|| format!("writing `{}`", config.display()))?;
        let token = create_token(&ctx.ccpulse, &data_dir, tenant).await?;
        let config = config.display().to_string();
        let mut process = ctx.spawn_ccpulse(&["serve", "--config", &config], &[], name)?;
        let deadline = Instant::now() + START_TIMEOUT;
        let address = wait_for_address(&mut process, deadline).await?;
        wait_ready(&mut process, address, deadline).await?;
        Ok(Self {
            process,
            address,
            token,
            topic,
        })
    }

    /// The stream's URL with the token.
    pub(crate) fn stream_url(&self) -> String {
        format!(
            "ws://{}/api/v1/stream?access_token={}",
            self.address, self.token
        )
    }
}

/// `value` as a TOML basic string (JSON's escapes are TOML's).
fn toml_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// `ccpulse token create --role viewer`; the token it prints.
async fn create_token(ccpulse: &Path, data_dir: &Path, tenant: &str) -> Result<String> {
    let output = tokio::process::Command::new(ccpulse)
        .args(["token", "create", "--tenant", tenant, "--role", "viewer"])
        .args(["--name", "bench", "--data-dir"])
        .arg(data_dir)
        .output()
        .await
        .with_context(|| format!("running `{} token create`", ccpulse.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "`ccpulse token create` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    stdout
        .split_whitespace()
        .find(|word| word.starts_with("ccp_"))
        .map(str::to_owned)
        .with_context(|| format!("no token in the output of `ccpulse token create`: {stdout}"))
}

/// The address `serve` prints in its log ("API and wallboard at http://ADDR/").
async fn wait_for_address(process: &mut Ccpulse, deadline: Instant) -> Result<SocketAddr> {
    const MARK: &str = "API and wallboard at http://";
    loop {
        process.check_running()?;
        let log = std::fs::read_to_string(&process.log).unwrap_or_default();
        if let Some(rest) = log.split(MARK).nth(1) {
            let address = rest.split('/').next().unwrap_or_default();
            return address
                .parse()
                .with_context(|| format!("reading the address `{address}` in the serve log"));
        }
        if Instant::now() >= deadline {
            bail!(
                "serve printed no address within {} s; {}",
                START_TIMEOUT.as_secs(),
                process.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `/readyz` until 200.
async fn wait_ready(process: &mut Ccpulse, address: SocketAddr, deadline: Instant) -> Result<()> {
    let client = reqwest::Client::new();
    let url = format!("http://{address}/readyz");
    let mut last;
    loop {
        process.check_running()?;
        match http_get(&client, &url).await {
            Ok((200, _)) => return Ok(()),
            Ok((status, body)) => last = format!("{status} {body}"),
            Err(error) => last = format!("{error:#}"),
        }
        if Instant::now() >= deadline {
            bail!(
                "serve not ready within {} s (last answer: {last}); {}",
                START_TIMEOUT.as_secs(),
                process.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The probe number a stream message shows (the probe agent's `reason` `probe-<n>`), if
/// it carries the probe agent's row. `None` for other messages (heartbeats, pongs, rows
/// of other agents); an error for a message that is not JSON or is a server `error`.
pub(crate) fn probe_in_message(text: &str) -> Result<Option<u64>> {
    let message: serde_json::Value =
        serde_json::from_str(text).context("a stream message that is not JSON")?;
    if message["type"] == "error" {
        bail!("the server sent an error: {message}");
    }
    // A snapshot has `agents: [row…]`, a delta `agents: {"upsert": [row…]}`.
    let rows = match &message["agents"] {
        serde_json::Value::Array(rows) => rows,
        serde_json::Value::Object(delta) => match delta.get("upsert") {
            Some(serde_json::Value::Array(rows)) => rows,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(rows
        .iter()
        .filter(|row| row["agent_id"] == PROBE_AGENT)
        .filter_map(|row| row["reason"].as_str()?.strip_prefix("probe-")?.parse().ok())
        .max())
}

/// Probe latencies of one client, in ms: for each probe `(n, sent)` of `probes` (sorted
/// by n, times in ms from any common origin), the first receipt `(m, at)` of `seen`
/// (in receipt order, m increasing) with m ≥ n, minus `sent`. Returns the latencies and
/// the number of probes never shown.
pub(crate) fn latencies(probes: &[(u64, f64)], seen: &[(u64, f64)]) -> (Vec<f64>, usize) {
    let mut out = Vec::with_capacity(probes.len());
    let mut missed = 0;
    let mut next = 0;
    for &(n, sent) in probes {
        while next < seen.len() && seen[next].0 < n {
            next += 1;
        }
        match seen.get(next) {
            Some(&(_, at)) => out.push(at - sent),
            None => missed += 1,
        }
    }
    (out, missed)
}

/// What one client saw.
#[derive(Debug, Default)]
pub(crate) struct ClientLog {
    /// Each probe number first shown, with when (m increasing).
    pub(crate) seen: Vec<(u64, Instant)>,
    /// Messages and bytes received.
    pub(crate) messages: u64,
    pub(crate) bytes: u64,
    /// Why and when the connection ended before the bench closed it.
    pub(crate) ended: Option<(Instant, String)>,
}

/// Subscribed WebSocket clients, each a task recording into its [`ClientLog`].
#[derive(Debug)]
pub(crate) struct Clients {
    url: String,
    pub(crate) logs: Vec<Arc<Mutex<ClientLog>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Clients {
    pub(crate) fn new(server: &Server) -> Self {
        Self {
            url: server.stream_url(),
            logs: Vec::new(),
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    /// Connects clients until there are `total`, and waits until each new one has its
    /// snapshot; an error naming the first that failed.
    pub(crate) async fn grow_to(&mut self, total: usize) -> Result<()> {
        let adding = total.saturating_sub(self.logs.len());
        let (ready_tx, mut ready_rx) = mpsc::channel::<Result<()>>(adding.max(1));
        let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
        for _ in 0..adding {
            let log = Arc::new(Mutex::new(ClientLog::default()));
            self.logs.push(Arc::clone(&log));
            let task = tokio::spawn(client(
                self.url.clone(),
                log,
                self.stop.subscribe(),
                Arc::clone(&gate),
                ready_tx.clone(),
            ));
            self.tasks.push(task);
        }
        drop(ready_tx);
        for done in 0..adding {
            match ready_rx.recv().await {
                Some(Ok(())) => {}
                Some(Err(error)) => {
                    return Err(error.context(format!(
                        "subscribing client {} of {total}",
                        total - adding + done + 1
                    )));
                }
                None => bail!("a client task ended before reporting its snapshot"),
            }
        }
        Ok(())
    }

    /// Closes every client and waits for their tasks.
    pub(crate) async fn close(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// One client: connect, subscribe, report the snapshot on `ready`, then record probes
/// until `stop`.
async fn client(
    url: String,
    log: Arc<Mutex<ClientLog>>,
    mut stop: watch::Receiver<bool>,
    gate: Arc<Semaphore>,
    ready: mpsc::Sender<Result<()>>,
) {
    let permit = gate.acquire_owned().await;
    let connected = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .context("connecting to the stream")?;
        let subscribe = serde_json::json!({
            "type": "subscribe", "id": "bench", "topic": "agents", "queues": [PROBE_QUEUE],
        });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .context("sending the subscription")?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let probe = probe_in_message(&text)?;
                    let value: serde_json::Value = serde_json::from_str(&text)?;
                    record(&log, probe, text.len());
                    if value["type"] == "snapshot" {
                        return Ok(socket);
                    }
                }
                Some(Ok(Message::Close(frame))) => bail!("closed before the snapshot: {frame:?}"),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error).context("reading the snapshot"),
                None => bail!("the connection ended before the snapshot"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        Err(anyhow::anyhow!(
            "no snapshot within {} s",
            SUBSCRIBE_TIMEOUT.as_secs()
        ))
    });
    drop(permit);
    let mut socket = match connected {
        Ok(socket) => {
            let _ = ready.send(Ok(())).await;
            socket
        }
        Err(error) => {
            end(&log, format!("{error:#}"));
            let _ = ready.send(Err(error)).await;
            return;
        }
    };
    drop(ready);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => match probe_in_message(&text) {
                    Ok(probe) => record(&log, probe, text.len()),
                    Err(error) => {
                        end(&log, format!("{error:#}"));
                        return;
                    }
                },
                Some(Ok(Message::Close(frame))) => {
                    end(&log, format!("closed by the server: {frame:?}"));
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    end(&log, format!("{error}"));
                    return;
                }
                None => {
                    end(&log, "the connection ended".to_owned());
                    return;
                }
            },
        }
    }
}

fn record(log: &Mutex<ClientLog>, probe: Option<u64>, bytes: usize) {
    let now = Instant::now();
    let mut log = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    log.messages += 1;
    log.bytes += bytes as u64;
    if let Some(m) = probe
        && log.seen.last().is_none_or(|&(last, _)| m > last)
    {
        log.seen.push((m, now));
    }
}

fn end(log: &Mutex<ClientLog>, why: String) {
    let mut log = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    log.ended = Some((Instant::now(), why));
}

/// What the [`Producer`] sends besides probes.
#[derive(Debug, Clone)]
pub(crate) struct Traffic {
    /// Simulator events per second (0: probes only).
    pub(crate) rate: f64,
    pub(crate) sim: SimConfig,
}

/// Probes sent so far, `(n, when handed to the producer)`, n from 1.
pub(crate) type ProbeLog = Arc<Mutex<Vec<(u64, Instant)>>>;

/// What the producer did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Produced {
    /// Simulator events sent and the time they took (from the first send to the stop).
    pub(crate) events: u64,
    pub(crate) elapsed: Duration,
    pub(crate) probes: u64,
}

/// A producer on its own thread (so clients' load on the runtime does not delay it):
/// the probe agent's login, then paced simulator traffic and a probe every
/// `probe_every`, until [`Producer::stop`].
#[derive(Debug)]
pub(crate) struct Producer {
    pub(crate) probes: ProbeLog,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<Produced>>,
    /// Simulator events sent so far (for progress and rate checks).
    pub(crate) sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Producer {
    pub(crate) fn start(
        kafka: KafkaSettings,
        topic: String,
        tenant: String,
        traffic: Option<Traffic>,
        probe_every: Duration,
    ) -> Self {
        let probes: ProbeLog = Arc::default();
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::task::spawn_blocking({
            let probes = Arc::clone(&probes);
            let sent = Arc::clone(&sent);
            move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the producer's runtime")?;
                runtime.block_on(produce(
                    kafka,
                    topic,
                    tenant,
                    traffic,
                    probe_every,
                    probes,
                    sent,
                    stopped,
                ))
            }
        });
        Self {
            probes,
            stop,
            task,
            sent,
        }
    }

    /// Stops producing, waits for every message to be acknowledged.
    pub(crate) async fn stop(self) -> Result<Produced> {
        let _ = self.stop.send(true);
        self.task.await.context("the producer thread panicked")?
    }
}

/// The probe's event JSON.
fn probe_event(tenant: &str, run: i64, n: u64, occurred_at: i64) -> String {
    let time = chrono::DateTime::from_timestamp_millis(occurred_at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({
        "schema_version": 1,
        "event_id": format!("{PROBE_AGENT}-{run}-{n}"),
        "tenant_id": tenant,
        "type": "agent.state_changed",
        "occurred_at": time,
        "agent_id": PROBE_AGENT,
        "state": "away",
        "reason": format!("probe-{n}"),
    })
    .to_string()
}

fn login_event(tenant: &str, run: i64, occurred_at: i64) -> String {
    let time = chrono::DateTime::from_timestamp_millis(occurred_at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({
        "schema_version": 1,
        "event_id": format!("{PROBE_AGENT}-{run}-login"),
        "tenant_id": tenant,
        "type": "agent.logged_in",
        "occurred_at": time,
        "agent_id": PROBE_AGENT,
        "queues": [PROBE_QUEUE],
        "capacity": {"voice": 1},
        "team_id": "bench",
    })
    .to_string()
}

/// How often the producer wakes up to catch up with its schedule.
const TICK: Duration = Duration::from_millis(5);

#[allow(clippy::too_many_arguments)]
async fn produce(
    kafka: KafkaSettings,
    topic: String,
    tenant: String,
    traffic: Option<Traffic>,
    probe_every: Duration,
    probes: ProbeLog,
    sent: Arc<std::sync::atomic::AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Result<Produced> {
    let mut producer = EventProducer::new(&kafka, topic.as_str())?;
    let run = chrono::Utc::now().timestamp_millis();
    let (mut sim, rate) = match traffic {
        Some(traffic) => (Some(Simulator::new(traffic.sim)?), traffic.rate),
        None => (None, 0.0),
    };
    // The probe tenant's clock: its latest simulated event time, or the wall clock.
    let mut clock = match &sim {
        Some(sim) => sim.config().start_ms,
        None => run,
    };
    producer
        .send(&tenant, login_event(&tenant, run, clock).as_bytes())
        .await
        .context("producing the probe agent's login")?;
    let mut line = String::with_capacity(1024);
    let started = Instant::now();
    let mut events = 0u64;
    let mut probe = 0u64;
    let mut next_probe = started + probe_every;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticker.tick() => {}
        }
        if let Some(sim) = sim.as_mut() {
            let due = (rate * started.elapsed().as_secs_f64()) as u64;
            while events < due {
                let Some(event) = sim.next() else {
                    bail!("the simulation ended after {events} events: make it longer");
                };
                if event.tenant_id == tenant.as_str() {
                    clock = clock.max(event.occurred_at);
                }
                line.clear();
                event.write_json(&mut line);
                producer
                    .send(&event.tenant_id, line.as_bytes())
                    .await
                    .context("producing an event")?;
                events += 1;
                if events.is_multiple_of(1024) {
                    sent.store(events, std::sync::atomic::Ordering::Relaxed);
                }
            }
        } else {
            clock = clock.max(chrono::Utc::now().timestamp_millis());
        }
        if Instant::now() >= next_probe {
            probe += 1;
            clock += 1;
            let text = probe_event(&tenant, run, probe, clock);
            let handed = Instant::now();
            producer
                .send(&tenant, text.as_bytes())
                .await
                .context("producing a probe")?;
            probes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((probe, handed));
            next_probe += probe_every;
        }
    }
    let elapsed = started.elapsed();
    sent.store(events, std::sync::atomic::Ordering::Relaxed);
    producer
        .finish()
        .await
        .with_context(|| format!("delivering events to `{topic}`"))?;
    Ok(Produced {
        events,
        elapsed,
        probes: probe,
    })
}

/// The probes sent in `[from, until)`, as `(n, ms since origin)`.
pub(crate) fn probes_between(
    probes: &ProbeLog,
    origin: Instant,
    from: Instant,
    until: Instant,
) -> Vec<(u64, f64)> {
    probes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter(|(_, at)| *at >= from && *at < until)
        .map(|&(n, at)| (n, ms_since(origin, at)))
        .collect()
}

/// Milliseconds from `origin` to `at` (negative before it).
pub(crate) fn ms_since(origin: Instant, at: Instant) -> f64 {
    match at.checked_duration_since(origin) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => -(origin.duration_since(at).as_secs_f64() * 1000.0),
    }
}

/// Probe latencies over clients `clients` of `logs` for `probes`: every (probe,
/// client) latency in ms, probes missed (summed over clients), clients that missed at
/// least one, and clients whose connection ended before `until`.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    pub(crate) latencies: Vec<f64>,
    pub(crate) missed: usize,
    pub(crate) clients_missing: usize,
    pub(crate) disconnected: usize,
    pub(crate) messages: u64,
    pub(crate) bytes: u64,
}

impl Delivery {
    pub(crate) fn of(
        logs: &[Arc<Mutex<ClientLog>>],
        probes: &[(u64, f64)],
        origin: Instant,
    ) -> Self {
        let mut out = Self::default();
        for log in logs {
            let log = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let seen: Vec<(u64, f64)> = log
                .seen
                .iter()
                .map(|&(m, at)| (m, ms_since(origin, at)))
                .collect();
            let (latencies, missed) = latencies(probes, &seen);
            out.latencies.extend(latencies);
            out.missed += missed;
            if missed > 0 {
                out.clients_missing += 1;
            }
            if log.ended.is_some() {
                out.disconnected += 1;
            }
            out.messages += log.messages;
            out.bytes += log.bytes;
        }
        out
    }

    /// The first disconnection reason, for notes.
    pub(crate) fn first_end(logs: &[Arc<Mutex<ClientLog>>]) -> Option<String> {
        logs.iter().find_map(|log| {
            let log = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            log.ended.as_ref().map(|(_, why)| why.clone())
        })
    }
}

/// The soft limit on open files of this process (`/proc/self/limits`), inherited by
/// the `serve` it starts; `None` when it cannot be read or is unlimited.
pub(crate) fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(agent: &str, reason: &str) -> serde_json::Value {
        serde_json::json!({"agent_id": agent, "state": "away", "reason": reason})
    }

    #[test]
    fn a_probe_is_recognised_in_snapshots_and_deltas() {
        let snapshot = serde_json::json!({
            "type": "snapshot", "id": "bench", "seq": 1,
            "agents": [row("a1", "probe-99"), row(PROBE_AGENT, "probe-7")],
        });
        assert_eq!(probe_in_message(&snapshot.to_string()).unwrap(), Some(7));
        let delta = serde_json::json!({
            "type": "delta", "id": "bench", "seq": 2,
            "agents": {"upsert": [row(PROBE_AGENT, "probe-12")], "remove": []},
        });
        assert_eq!(probe_in_message(&delta.to_string()).unwrap(), Some(12));
    }

    #[test]
    fn other_messages_show_no_probe() {
        for text in [
            r#"{"type":"heartbeat","time":"2026-11-16T00:00:00Z"}"#,
            r#"{"type":"snapshot","id":"b","seq":1,"agents":[]}"#,
            r#"{"type":"delta","id":"b","seq":2,"agents":{"upsert":[],"remove":["bench-probe"]}}"#,
        ] {
            assert_eq!(probe_in_message(text).unwrap(), None, "{text}");
        }
        let other = serde_json::json!({"type": "delta", "agents": {"upsert": [
            row(PROBE_AGENT, "break"), row("someone", "probe-3"),
        ]}});
        assert_eq!(probe_in_message(&other.to_string()).unwrap(), None);
    }

    #[test]
    fn errors_and_garbage_are_errors() {
        assert!(probe_in_message("not json").is_err());
        let error = r#"{"type":"error","id":null,"code":"unauthorized","message":"no"}"#;
        assert!(probe_in_message(error).is_err());
    }

    #[test]
    fn a_later_probe_delivers_the_ones_it_coalesced() {
        let probes = [(1, 0.0), (2, 100.0), (3, 200.0), (4, 300.0)];
        // Probes 1 and 2 arrive together in one message showing 2; 3 alone; 4 never.
        let seen = [(2, 260.0), (3, 510.0)];
        let (latencies, missed) = latencies(&probes, &seen);
        assert_eq!(latencies, vec![260.0, 160.0, 310.0]);
        assert_eq!(missed, 1);
    }

    #[test]
    fn receipts_before_the_window_do_not_count() {
        // The snapshot showed probe 5, before the window's first probe 6.
        let probes = [(6, 1000.0), (7, 1200.0)];
        let seen = [(5, 10.0), (7, 1450.0)];
        let (latencies, missed) = latencies(&probes, &seen);
        assert_eq!(latencies, vec![450.0, 250.0]);
        assert_eq!(missed, 0);
    }

    #[test]
    fn probe_events_are_valid_contract_events() {
        let probe = probe_event("acme", 1, 3, 1_794_787_200_000);
        let event = ccpulse_schemas::v1::decode(probe.as_bytes()).unwrap();
        assert_eq!(event.agent_id.as_deref(), Some(PROBE_AGENT));
        assert_eq!(event.occurred_at, 1_794_787_200_000);
        let login = login_event("acme", 1, 1_794_787_200_000);
        ccpulse_schemas::v1::decode(login.as_bytes()).unwrap();
    }

    #[test]
    fn milliseconds_either_side_of_the_origin() {
        let origin = Instant::now();
        let later = origin + Duration::from_millis(1500);
        assert!((ms_since(origin, later) - 1500.0).abs() < 1e-6);
        assert!((ms_since(later, origin) + 1500.0).abs() < 1e-6);
    }
}
