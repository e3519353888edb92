//! Ingest throughput next to the raw consume rate (issue 7, point 1), then recovery
//! after SIGKILL on the same history (point 4).
//!
//! # Ingest
//! 5 million simulator events (16 tenants, one simulated day) are produced to a fresh
//! 4-partition topic. Then, one after the other on the same topic:
//! 1. **the limit**: a bare rdkafka consumer in this process, in a consumer group like
//!    ccpulse's, that only counts messages and bytes until every partition reports its
//!    end;
//! 2. **ccpulse**: the release `ccpulse ingest --until-caught-up` process: decode and
//!    validate, fold, raw `events` and derived tables to Parquet, checkpoints (the last
//!    one included), with its default settings. Its rate is its own summary's (events /
//!    run time, group join included, as for the bare consumer); its CPU time and peak
//!    resident memory are sampled from `/proc` every 100 ms.
//!
//! # Recovery
//! `ccpulse serve` opens that data directory (5 M events of history) and follows the
//! topic while new traffic arrives; it is killed with SIGKILL in the middle of it. More
//! traffic (the backlog) is produced while it is down. Then it is started again and
//! timed: to `/readyz` = 200 (partitions assigned, checkpoints loaded: it serves the
//! state as of its last checkpoint, consistent by construction), then to lag 0 (the
//! catch-up rate is the events it read over that time). Finally it is stopped with
//! SIGTERM and every tenant's `events` table is counted: `count(*)` and
//! `count(DISTINCT event_id)` must both equal the events produced (nothing lost,
//! nothing counted twice), or the benchmark fails.
//!
//! The traffic around the kill is produced one record per batch: tansu 0.6.0 loses the
//! rest of a record batch when a consumer resumes in its middle (see
//! `ingest/src/consume.rs`, "Resuming mid-batch on tansu"), which real Kafka does not.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use ccpulse_ingest::KafkaSettings;
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use serde_json::json;

use crate::context::{Ccpulse, Context, ProcessUsage, Produced, free_port, http_get, produce};
use crate::report::{Section, Table, Target, bytes, thousands};

const PARTITIONS: i32 = 4;
/// Target: ccpulse ingests at least this share of the raw consume rate.
const TARGET_RATIO: f64 = 0.70;
/// Target: serving consistent state at most this long after a restart.
const TARGET_RECOVERY_S: f64 = 5.0;

pub(crate) async fn run(ctx: &Context) -> Result<Vec<Section>> {
    let events = ctx.size(5_000_000u64, 50_000);
    let nonce = chrono::Utc::now().timestamp_millis();
    let topic = format!("bench.ingest.{nonce}");
    ctx.create_topic(&format!("{topic}.dlq"), 1).await?;
    eprintln!("  preloading {events} simulator events into {topic}…");
    let sim = SimConfig {
        seed: 11,
        tenants: 16,
        scale: 20.0,
        ..SimConfig::default()
    };
    let (preload, simulator) = ctx.preload(&topic, PARTITIONS, sim, events).await?;
    eprintln!(
        "  preloaded {} events ({}) in {:.1} s",
        preload.events,
        bytes(preload.bytes as f64),
        preload.elapsed.as_secs_f64()
    );

    eprintln!("  bare consumer…");
    let kafka = ctx.kafka()?;
    let bare = {
        let kafka = kafka.clone();
        let topic = topic.clone();
        let group = format!("bench-bare-{nonce}");
        tokio::task::spawn_blocking(move || bare_consume(&kafka, &topic, &group))
            .await
            .context("the bare consumer's thread")??
    };
    ensure!(
        bare.messages == preload.events,
        "the bare consumer read {} messages of the {} produced",
        bare.messages,
        preload.events
    );

    eprintln!("  ccpulse ingest…");
    let data_dir = ctx.scratch("ingest")?;
    let ingest = ccpulse_ingest(ctx, &topic, &data_dir, nonce).await?;
    ensure!(
        ingest.events == preload.events,
        "ccpulse ingested {} events of the {} produced",
        ingest.events,
        preload.events
    );
    let ingest_section = ingest_section(&preload, &bare, &ingest);

    eprintln!("  recovery…");
    let recovery = recover(ctx, &topic, &data_dir, nonce, simulator, preload).await?;
    Ok(vec![ingest_section, recovery.section()])
}

/// What the bare consumer did.
#[derive(Debug, Clone)]
struct Bare {
    messages: u64,
    bytes: u64,
    elapsed_s: f64,
    cpu_s: f64,
}

impl Bare {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed_s
    }
}

/// Counts every message of `topic` with a plain consumer in group `group`.
fn bare_consume(kafka: &KafkaSettings, topic: &str, group: &str) -> Result<Bare> {
    let cpu_before = ProcessUsage::current()?.cpu_seconds;
    let started = Instant::now();
    let consumer: BaseConsumer = kafka
        .client_config()
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .context("creating the bare consumer")?;
    consumer
        .subscribe(&[topic])
        .with_context(|| format!("subscribing to `{topic}`"))?;
    let mut at_end = std::collections::BTreeSet::new();
    let (mut messages, mut total_bytes) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(1800);
    while at_end.len() < PARTITIONS as usize {
        ensure!(
            Instant::now() < deadline,
            "the bare consumer did not reach the end within 30 minutes"
        );
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(message)) => {
                messages += 1;
                total_bytes += message.payload_len() as u64;
                at_end.remove(&message.partition());
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(error)) => bail!("the bare consumer failed: {error}"),
        }
    }
    Ok(Bare {
        messages,
        bytes: total_bytes,
        elapsed_s: started.elapsed().as_secs_f64(),
        cpu_s: ProcessUsage::current()?.cpu_seconds - cpu_before,
    })
}

/// What `ccpulse ingest` did.
#[derive(Debug, Clone)]
struct Ingested {
    events: u64,
    /// The run time of its summary.
    elapsed_s: f64,
    /// Process start to exit.
    wall_s: f64,
    cpu_s: f64,
    peak_rss: u64,
    files: u64,
    disk_bytes: u64,
}

impl Ingested {
    fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed_s
    }
}

/// The environment that points `ccpulse` at the benchmark's topic and group.
fn topic_env(topic: &str, group: &str) -> Vec<(String, String)> {
    vec![
        ("CCPULSE__CONSUMER__TOPIC".into(), topic.to_owned()),
        (
            "CCPULSE__CONSUMER__DEAD_LETTER_TOPIC".into(),
            format!("{topic}.dlq"),
        ),
        ("CCPULSE__CONSUMER__GROUP_ID".into(), group.to_owned()),
    ]
}

async fn ccpulse_ingest(
    ctx: &Context,
    topic: &str,
    data_dir: &Path,
    nonce: i64,
) -> Result<Ingested> {
    let summary_path = ctx.work.join("ingest-summary.json");
    let data = data_dir.display().to_string();
    let summary_arg = summary_path.display().to_string();
    let started = Instant::now();
    let mut process = ctx.spawn_ccpulse(
        &[
            "ingest",
            "--brokers",
            ctx.brokers()?,
            "--data-dir",
            &data,
            "--until-caught-up",
            "--quiet",
            "--summary-json",
            &summary_arg,
        ],
        &topic_env(topic, &format!("bench-ingest-{nonce}")),
        "ingest",
    )?;
    let pid = process.pid()?;
    let mut last = ProcessUsage::of(pid)?;
    let mut peak_rss = last.rss_bytes;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            status = process.wait() => {
                let status = status?;
                if !status.success() {
                    bail!("ccpulse ingest failed ({status}); {}", process.log_tail());
                }
                break;
            }
            _ = ticker.tick() => {
                if let Ok(usage) = ProcessUsage::of(pid) {
                    peak_rss = peak_rss.max(usage.rss_bytes);
                    last = usage;
                }
            }
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&summary_path)
            .with_context(|| format!("reading `{}`", summary_path.display()))?,
    )
    .context("parsing the ingest summary")?;
    let (files, disk_bytes) = parquet_files(data_dir)?;
    Ok(Ingested {
        events: summary["events"]
            .as_u64()
            .context("no `events` in the summary")?,
        elapsed_s: summary["elapsed_s"]
            .as_f64()
            .context("no `elapsed_s` in the summary")?,
        wall_s,
        cpu_s: last.cpu_seconds,
        peak_rss,
        files,
        disk_bytes,
    })
}

/// Parquet files under `dir` and their total size.
fn parquet_files(dir: &Path) -> Result<(u64, u64)> {
    let (mut files, mut total) = (0, 0);
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing `{}`", dir.display()))?
        {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if entry.path().extension().is_some_and(|e| e == "parquet") {
                files += 1;
                total += meta.len();
            }
        }
    }
    Ok((files, total))
}

fn ingest_section(preload: &Produced, bare: &Bare, ingest: &Ingested) -> Section {
    let ratio = ingest.rate() / bare.rate();
    let mut table = Table::new(&[
        "reader",
        "events/s",
        "run time",
        "CPU time",
        "events per CPU-second",
        "note",
    ]);
    table.row(vec![
        "bare rdkafka consumer (counts messages)".into(),
        thousands(bare.rate()),
        format!("{:.1} s", bare.elapsed_s),
        format!("{:.1} s", bare.cpu_s),
        thousands(bare.messages as f64 / bare.cpu_s.max(1e-9)),
        format!("{} of payload", bytes(bare.bytes as f64)),
    ]);
    table.row(vec![
        "ccpulse ingest (decode, fold, Parquet, checkpoints)".into(),
        thousands(ingest.rate()),
        format!("{:.1} s", ingest.elapsed_s),
        format!("{:.1} s", ingest.cpu_s),
        thousands(ingest.events as f64 / ingest.cpu_s.max(1e-9)),
        format!(
            "peak RSS {}; {} Parquet files, {}",
            bytes(ingest.peak_rss as f64),
            ingest.files,
            bytes(ingest.disk_bytes as f64)
        ),
    ]);
    Section {
        id: "ingest",
        title: "Ingest throughput".into(),
        method: vec![
            format!(
                "{} simulator events (16 tenants, scale 20, one simulated day; {} of JSON) \
                 preloaded into a {PARTITIONS}-partition topic of tansu 0.6.0 (in-memory \
                 storage) on loopback, produced in {:.1} s ({} events/s).",
                thousands(preload.events as f64),
                bytes(preload.bytes as f64),
                preload.elapsed.as_secs_f64(),
                thousands(preload.events as f64 / preload.elapsed.as_secs_f64())
            ),
            "The same topic read twice, one reader at a time: a bare rdkafka consumer that \
             counts messages, then the release `ccpulse ingest --until-caught-up` with \
             default settings (checkpoints every 5 s or 100,000 messages per partition)."
                .into(),
            "Both rates are events over the reader's run (group join to the end of every \
             partition; for ccpulse, to its final checkpoint)."
                .into(),
            format!(
                "ccpulse process wall time (start to exit): {:.1} s.",
                ingest.wall_s
            ),
        ],
        table,
        targets: vec![Target::new(
            "ingest / raw consume rate",
            "≥ 70 %",
            format!("{:.0} %", ratio * 100.0),
            ratio >= TARGET_RATIO,
        )],
        notes: vec![
            "Both readers share the machine's 2 cores with the broker, which serves every \
             fetch from memory."
                .into(),
        ],
        raw: json!({
            "events": preload.events,
            "payload_bytes": preload.bytes,
            "preload_s": preload.elapsed.as_secs_f64(),
            "bare": {"messages": bare.messages, "bytes": bare.bytes, "elapsed_s": bare.elapsed_s,
                     "cpu_s": bare.cpu_s, "events_per_s": bare.rate()},
            "ccpulse": {"events": ingest.events, "elapsed_s": ingest.elapsed_s, "wall_s": ingest.wall_s,
                        "cpu_s": ingest.cpu_s, "peak_rss_bytes": ingest.peak_rss,
                        "events_per_s": ingest.rate(), "parquet_files": ingest.files,
                        "parquet_bytes": ingest.disk_bytes},
            "ratio": ratio,
        }),
    }
}

/// What the recovery run measured.
#[derive(Debug, Clone)]
struct Recovery {
    history: u64,
    crash_window: u64,
    read_before_kill: u64,
    backlog: u64,
    ready_s: f64,
    assigned_s: f64,
    caught_up_s: f64,
    read_after_restart: u64,
    produced: Produced,
    tenants_checked: usize,
}

impl Recovery {
    fn catch_up_rate(&self) -> f64 {
        self.read_after_restart as f64 / (self.caught_up_s - self.ready_s).max(1e-9)
    }
}

/// A `ccpulse serve` under test, with its address.
struct Served {
    process: Ccpulse,
    base: String,
}

async fn serve(
    ctx: &Context,
    topic: &str,
    data_dir: &Path,
    group: &str,
    log: &str,
) -> Result<Served> {
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let data = data_dir.display().to_string();
    let process = ctx.spawn_ccpulse(
        &[
            "serve",
            "--brokers",
            ctx.brokers()?,
            "--data-dir",
            &data,
            "--listen",
            &listen,
        ],
        &topic_env(topic, group),
        log,
    )?;
    Ok(Served {
        process,
        base: format!("http://{listen}"),
    })
}

impl Served {
    /// Polls `/readyz` until 200; returns when the port first answered and when it was
    /// ready, both since `since`.
    async fn wait_ready(&mut self, client: &reqwest::Client, since: Instant) -> Result<(f64, f64)> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut assigned = None;
        loop {
            self.process.check_running()?;
            if let Ok((status, _)) = http_get(client, &format!("{}/readyz", self.base)).await {
                if assigned.is_none() {
                    let metrics = self.metrics(client).await.unwrap_or_default();
                    if metric_sum(&metrics, "ccpulse_consumer_partitions_assigned").unwrap_or(0.0)
                        >= 1.0
                    {
                        assigned = Some(since.elapsed().as_secs_f64());
                    }
                }
                if status == 200 {
                    let ready = since.elapsed().as_secs_f64();
                    return Ok((assigned.unwrap_or(ready), ready));
                }
            }
            ensure!(
                Instant::now() < deadline,
                "ccpulse serve was not ready within 120 s; {}",
                self.process.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn metrics(&self, client: &reqwest::Client) -> Result<String> {
        let (status, body) = http_get(client, &format!("{}/metrics", self.base)).await?;
        ensure!(status == 200, "/metrics answered {status}");
        Ok(body)
    }

    /// Events read by this process so far (`ccpulse_events_total`).
    async fn events_read(&self, client: &reqwest::Client) -> Result<u64> {
        let metrics = self.metrics(client).await?;
        Ok(metric_sum(&metrics, "ccpulse_events_total").unwrap_or(0.0) as u64)
    }

    /// Polls `/metrics` until every partition is assigned with lag 0 and at least
    /// `at_least` events were read.
    async fn wait_caught_up(&mut self, client: &reqwest::Client, at_least: u64) -> Result<u64> {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            self.process.check_running()?;
            let metrics = self.metrics(client).await?;
            let read = metric_sum(&metrics, "ccpulse_events_total").unwrap_or(0.0) as u64;
            let lags = metric_values(&metrics, "ccpulse_consumer_lag");
            if lags.len() == PARTITIONS as usize
                && lags.iter().all(|lag| *lag == 0.0)
                && read >= at_least
            {
                return Ok(read);
            }
            ensure!(
                Instant::now() < deadline,
                "ccpulse serve did not catch up within 15 minutes (read {read})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn recover(
    ctx: &Context,
    topic: &str,
    data_dir: &Path,
    nonce: i64,
    mut simulator: Simulator,
    history: Produced,
) -> Result<Recovery> {
    let crash_window = ctx.size(20_000u64, 2_000);
    let backlog = ctx.size(1_000_000u64, 20_000);
    let group = format!("bench-serve-{nonce}");
    let client = reqwest::Client::new();
    let mut produced = history.clone();

    // Follow the topic, then die in the middle of new traffic.
    let mut first = serve(ctx, topic, data_dir, &group, "recovery-first").await?;
    first.wait_ready(&client, Instant::now()).await?;
    let one_per_batch = ctx
        .kafka()?
        .with("batch.num.messages", "1")
        .with("linger.ms", "0");
    let window: Vec<_> = simulator.by_ref().take(crash_window as usize).collect();
    ensure!(
        window.len() as u64 == crash_window,
        "the simulation ended early"
    );
    let producer = {
        let topic = topic.to_owned();
        tokio::spawn(async move {
            produce(
                &one_per_batch,
                &topic,
                &mut window.into_iter(),
                crash_window,
            )
            .await
        })
    };
    let kill_at = crash_window / 2;
    let deadline = Instant::now() + Duration::from_secs(300);
    let read_before_kill = loop {
        first.process.check_running()?;
        let read = first.events_read(&client).await?;
        if read >= kill_at {
            break read;
        }
        ensure!(
            Instant::now() < deadline,
            "ccpulse serve read only {read} events of the crash window in 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    first.process.kill().await?;
    produced.add(&producer.await.context("the crash-window producer")??);

    // The backlog, produced while it is down.
    let kafka = ctx.kafka()?;
    produced.add(&produce(&kafka, topic, &mut simulator, backlog).await?);

    // Restart and time it.
    // In a group of its own: the killed member never left the old one, and a broker
    // gives its partitions to a new dynamic member only once that member's session has
    // expired (tansu 0.6.0 not even then). See the notes.
    let started = Instant::now();
    let restart_group = format!("{group}-restarted");
    let mut second = serve(ctx, topic, data_dir, &restart_group, "recovery-second").await?;
    let (assigned_s, ready_s) = second.wait_ready(&client, started).await?;
    let read_after_restart = second.wait_caught_up(&client, backlog).await?;
    let caught_up_s = started.elapsed().as_secs_f64();
    second.process.terminate().await?;

    // Nothing lost, nothing counted twice.
    let tenants_checked = check_counts(ctx, data_dir, &produced.by_tenant).await?;
    Ok(Recovery {
        history: history.events,
        crash_window,
        read_before_kill,
        backlog,
        ready_s,
        assigned_s,
        caught_up_s,
        read_after_restart,
        produced,
        tenants_checked,
    })
}

/// Counts each tenant's `events` rows with `ccpulse sql`; an error unless both the rows
/// and the distinct event ids equal what was produced.
async fn check_counts(
    ctx: &Context,
    data_dir: &Path,
    produced: &BTreeMap<String, u64>,
) -> Result<usize> {
    let data = data_dir.display().to_string();
    for (tenant, expected) in produced {
        let out = tokio::process::Command::new(&ctx.ccpulse)
            .args([
                "sql",
                "--data-dir",
                &data,
                "--tenant",
                tenant,
                "--format",
                "json",
                "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events",
            ])
            .output()
            .await
            .context("running ccpulse sql")?;
        ensure!(
            out.status.success(),
            "ccpulse sql failed for tenant {tenant}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("parsing ccpulse sql's JSON")?;
        let (n, d) = (rows[0]["n"].as_u64(), rows[0]["d"].as_u64());
        ensure!(
            n == Some(*expected) && d == Some(*expected),
            "tenant {tenant}: {n:?} events rows and {d:?} distinct event ids after recovery, \
             {expected} produced"
        );
    }
    Ok(produced.len())
}

impl Recovery {
    fn section(&self) -> Section {
        let mut table = Table::new(&["measure", "value"]);
        table.row(vec![
            "history in the data directory before the crash".into(),
            format!("{} events", thousands(self.history as f64)),
        ]);
        table.row(vec![
            "SIGKILL".into(),
            format!(
                "after reading {} of {} events of live traffic",
                thousands(self.read_before_kill as f64),
                thousands(self.crash_window as f64)
            ),
        ]);
        table.row(vec![
            "backlog produced while down".into(),
            format!("{} events", thousands(self.backlog as f64)),
        ]);
        table.row(vec![
            "restart → partitions assigned".into(),
            format!("{:.2} s", self.assigned_s),
        ]);
        table.row(vec![
            "restart → `/readyz` 200 (serving its last checkpoint)".into(),
            format!("{:.2} s", self.ready_s),
        ]);
        table.row(vec![
            "restart → lag 0".into(),
            format!("{:.2} s", self.caught_up_s),
        ]);
        table.row(vec![
            "catch-up rate".into(),
            format!(
                "{} events/s ({} events read after the restart)",
                thousands(self.catch_up_rate()),
                thousands(self.read_after_restart as f64)
            ),
        ]);
        table.row(vec![
            "events rows = distinct event ids = produced".into(),
            format!(
                "yes, for all {} tenants ({} events)",
                self.tenants_checked,
                thousands(self.produced.events as f64)
            ),
        ]);
        Section {
            id: "recovery",
            title: "Recovery after SIGKILL".into(),
            method: vec![
                "`ccpulse serve` on the ingest benchmark's data directory follows the topic while \
                 new simulator traffic arrives (one record per batch, see the notes), and is \
                 killed with SIGKILL half-way through it."
                    .into(),
                "A backlog is produced while it is down; then it is started again: the clock \
                 runs from the process start to `/readyz` = 200 (polled every 20 ms) and to \
                 lag 0 on every partition (`/metrics`, every 50 ms)."
                    .into(),
                "Then SIGTERM, and every tenant's `events` table is counted with `ccpulse sql`."
                    .into(),
            ],
            table,
            targets: vec![Target::new(
                "restart to serving consistent state",
                "≤ 5 s",
                format!("{:.2} s", self.ready_s),
                self.ready_s <= TARGET_RECOVERY_S,
            )],
            notes: vec![
                "The traffic around the kill is produced one record per batch: tansu 0.6.0 \
                 drops the rest of a record batch when a consumer resumes in its middle, \
                 which Kafka does not (ingest/src/consume.rs)."
                    .into(),
                "The restarted process joins a consumer group of its own. A killed member \
                 never leaves its group, and a broker assigns its partitions to a new \
                 dynamic member only after the dead one's session expires: on Kafka add up \
                 to `consumer.session_timeout` (45 s by default) to the time above, or give \
                 each instance a `group.instance.id` (static membership) in \
                 `[kafka.properties]` so that a restart takes its partitions back at once. \
                 tansu 0.6.0 never expired the dead member in our runs (the restart waited \
                 over 10 minutes) and hangs with static membership, hence the new group. \
                 Where to resume comes from the checkpoints, not from the group, so the group \
                 does not change what is read."
                    .into(),
            ],
            raw: json!({
                "history_events": self.history,
                "crash_window_events": self.crash_window,
                "read_before_kill": self.read_before_kill,
                "backlog_events": self.backlog,
                "assigned_s": self.assigned_s,
                "ready_s": self.ready_s,
                "caught_up_s": self.caught_up_s,
                "read_after_restart": self.read_after_restart,
                "catch_up_events_per_s": self.catch_up_rate(),
                "produced_events": self.produced.events,
                "tenants_checked": self.tenants_checked,
            }),
        }
    }
}

/// The values of every series of `name` in Prometheus text.
fn metric_values(text: &str, name: &str) -> Vec<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = match rest.as_bytes().first()? {
                b' ' => rest,
                b'{' => &rest[rest.find('}')? + 1..],
                _ => return None,
            };
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// The sum of every series of `name`; `None` when there is none.
fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let values = metric_values(text, name);
    (!values.is_empty()).then(|| values.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "# HELP ccpulse_consumer_lag lag\n\
        # TYPE ccpulse_consumer_lag gauge\n\
        ccpulse_consumer_lag{partition=\"0\"} 12\n\
        ccpulse_consumer_lag{partition=\"1\"} 0\n\
        ccpulse_consumer_lag_other 5\n\
        ccpulse_events_total 1234\n";

    #[test]
    fn metric_values_read_every_series_of_one_name() {
        assert_eq!(metric_values(METRICS, "ccpulse_consumer_lag"), [12.0, 0.0]);
        assert_eq!(metric_sum(METRICS, "ccpulse_events_total"), Some(1234.0));
        assert_eq!(metric_sum(METRICS, "ccpulse_missing"), None);
    }
}
