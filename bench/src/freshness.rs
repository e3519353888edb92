//! Freshness: the time from producing an event to its change showing on a WebSocket
//! client, under a steady load of realistic traffic with many clients subscribed
//! (issue 7, point 2; target p99 ≤ 250 ms).
//!
//! A real `ccpulse serve` follows a fresh topic. A producer thread of this process sends
//! simulator traffic at a fixed rate and, every [`PROBE_EVERY`], a probe (see
//! [`crate::stream`]) into the first simulated tenant, whose events share its partition
//! and its fold with the probes. Clients subscribe to the probe's queue, and each probe's
//! latency is timed on every client. The server's CPU comes from `/proc` over the window.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};

use crate::context::{Context, ProcessUsage};
use crate::report::{Section, Table, Target, bytes, thousands};
use crate::stats::percentile;
use crate::stream::{Clients, Delivery, Produced, Producer, Server, Traffic, probes_between};

/// A probe this often: not a multiple of the 250 ms pacing, so probes fall at every
/// phase of it.
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// After the window, how long the last probes have to arrive before they count as
/// missed.
const DRAIN: Duration = Duration::from_secs(3);
/// The target (issue 7): p99 at most this, in ms.
const TARGET_P99_MS: f64 = 250.0;
/// Topic partitions (the simulated tenants spread over them, keyed by tenant).
const PARTITIONS: i32 = 4;

/// The pacing of a run: `server.live_publish_every` and `server.stream_min_interval`.
#[derive(Debug, Clone, Copy)]
struct Pacing {
    name: &'static str,
    publish_ms: u64,
    stream_ms: u64,
}

/// The built-in pacing, then a tuned one.
const RUNS: [Pacing; 2] = [
    Pacing {
        name: "default",
        publish_ms: 250,
        stream_ms: 250,
    },
    Pacing {
        name: "tuned",
        publish_ms: 50,
        stream_ms: 50,
    },
];

/// The sizes of a run.
#[derive(Debug, Clone)]
struct Plan {
    clients: usize,
    rate: f64,
    warmup: Duration,
    window: Duration,
    sim: SimConfig,
    tenant: String,
}

pub(crate) async fn run(ctx: &Context) -> Result<Section> {
    // Business hours from 08:00 UTC, so the traffic is a daytime mix; long enough for
    // the whole run at any rate used here.
    let sim = SimConfig {
        seed: 17,
        start_ms: SimConfig::DEFAULT_START_MS + 8 * 3_600_000,
        duration_ms: 3 * 86_400_000,
        tenants: 4,
        scale: ctx.size(50.0, 5.0),
    };
    let tenant = Simulator::new(sim.clone())?
        .tenants()
        .first()
        .map(|t| t.tenant_id.clone())
        .context("the simulation has no tenant")?;
    let plan = Plan {
        clients: ctx.size(1000, 50),
        rate: ctx.size(20_000.0, 2_000.0),
        warmup: Duration::from_secs(ctx.size(10, 5)),
        window: Duration::from_secs(ctx.size(60, 15)),
        sim,
        tenant,
    };
    let started = Instant::now();
    let mut runs = Vec::new();
    for pacing in RUNS {
        // The tuned run only shows what the intervals buy: half the window is enough.
        let window = if pacing.name == "default" {
            plan.window
        } else {
            plan.window / 2
        };
        eprintln!(
            "  {} pacing ({} ms publish, {} ms stream)…",
            pacing.name, pacing.publish_ms, pacing.stream_ms
        );
        let measured = measure(ctx, &plan, pacing, window)
            .await
            .with_context(|| format!("the run with {} pacing", pacing.name))?;
        runs.push((pacing, window, measured));
    }
    Ok(section(&plan, &runs, started.elapsed()))
}

/// One run: a fresh `serve` with `pacing`, traffic, clients, a window.
async fn measure(ctx: &Context, plan: &Plan, pacing: Pacing, window: Duration) -> Result<Window> {
    let publish = format!("\"{}ms\"", pacing.publish_ms);
    let stream = format!("\"{}ms\"", pacing.stream_ms);
    let mut server = Server::start(
        ctx,
        &format!("freshness-{}", pacing.name),
        &plan.tenant,
        PARTITIONS,
        &[
            ("live_publish_every", &publish),
            ("stream_min_interval", &stream),
        ],
    )
    .await?;
    let producer = Producer::start(
        ctx.kafka()?,
        server.topic.clone(),
        plan.tenant.clone(),
        Some(Traffic {
            rate: plan.rate,
            sim: plan.sim.clone(),
        }),
        PROBE_EVERY,
    );
    let origin = Instant::now();
    let mut clients = Clients::new(&server);
    let measured = async {
        let connecting = Instant::now();
        clients.grow_to(plan.clients).await?;
        let connect = connecting.elapsed();
        eprintln!(
            "  {} clients subscribed in {:.1} s; warming up",
            plan.clients,
            connect.as_secs_f64()
        );
        tokio::time::sleep(plan.warmup).await;
        let pid = server.process.pid()?;
        let (server0, bench0) = (ProcessUsage::of(pid)?, ProcessUsage::current()?);
        let sent0 = producer.sent.load(std::sync::atomic::Ordering::Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(window).await;
        let t1 = Instant::now();
        let (server1, bench1) = (ProcessUsage::of(pid)?, ProcessUsage::current()?);
        let sent1 = producer.sent.load(std::sync::atomic::Ordering::Relaxed);
        // Only a deadline for the window's last probes: anything later counts as missed.
        tokio::time::sleep(DRAIN).await;
        server.process.check_running()?;
        let probes = probes_between(&producer.probes, origin, t0, t1);
        let delivery = Delivery::of(&clients.logs, &probes, origin);
        let seconds = (t1 - t0).as_secs_f64();
        Ok::<_, anyhow::Error>(Window {
            connect,
            probes: probes.len(),
            delivery,
            achieved_rate: sent1.saturating_sub(sent0) as f64 / seconds,
            server_cpu_pct: (server1.cpu_seconds - server0.cpu_seconds) / seconds * 100.0,
            bench_cpu_pct: (bench1.cpu_seconds - bench0.cpu_seconds) / seconds * 100.0,
            server_rss: server1.rss_bytes,
            first_end: Delivery::first_end(&clients.logs),
            produced: None,
        })
    }
    .await;
    clients.close().await;
    let produced = producer.stop().await;
    let mut measured = measured?;
    measured.produced = Some(produced?);
    Ok(measured)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} ms"))
}

fn section(plan: &Plan, runs: &[(Pacing, Duration, Window)], elapsed: Duration) -> Section {
    let mut header = vec!["measure".to_owned()];
    header.extend(runs.iter().map(|(pacing, _, _)| {
        format!(
            "{} ({} ms / {} ms)",
            pacing.name, pacing.publish_ms, pacing.stream_ms
        )
    }));
    let mut table = Table {
        header,
        rows: Vec::new(),
    };
    let mut row = |name: &str, cell: &dyn Fn(&Duration, &Window) -> String| {
        let mut cells = vec![name.to_owned()];
        cells.extend(runs.iter().map(|(_, window, w)| cell(window, w)));
        table.row(cells);
    };
    row("window", &|window, _| format!("{} s", window.as_secs()));
    row("simulator events/s achieved", &|_, w| {
        thousands(w.achieved_rate)
    });
    row("probes × clients", &|_, w| {
        format!(
            "{} × {} = {}",
            w.probes,
            plan.clients,
            thousands(w.delivery.latencies.len() as f64)
        )
    });
    row("latency min", &|_, w| ms(w.min()));
    row("latency p50", &|_, w| ms(w.p(50.0)));
    row("latency p95", &|_, w| ms(w.p(95.0)));
    row("latency p99", &|_, w| ms(w.p(99.0)));
    row("latency max", &|_, w| ms(w.p(100.0)));
    row("(probe, client) pairs missed", &|_, w| {
        thousands(w.delivery.missed as f64)
    });
    row("clients disconnected", &|_, w| {
        thousands(w.delivery.disconnected as f64)
    });
    row("serve CPU (100 % = one core)", &|_, w| {
        format!("{:.0} %", w.server_cpu_pct)
    });
    row("ccpulse-bench CPU (producer, clients)", &|_, w| {
        format!("{:.0} %", w.bench_cpu_pct)
    });
    row("serve RSS", &|_, w| bytes(w.server_rss as f64));
    row("clients connected in", &|_, w| {
        format!("{:.1} s", w.connect.as_secs_f64())
    });

    let targets = runs
        .iter()
        .map(|(pacing, _, w)| {
            let what = if pacing.name == "default" {
                "freshness p99".to_owned()
            } else {
                format!(
                    "freshness p99 ({} ms / {} ms pacing)",
                    pacing.publish_ms, pacing.stream_ms
                )
            };
            let p99 = w.p(99.0);
            let measured = match p99 {
                Some(v) if w.delivery.missed > 0 => {
                    format!("{v:.0} ms ({} missed)", w.delivery.missed)
                }
                Some(v) => format!("{v:.0} ms"),
                None => "no probe delivered".to_owned(),
            };
            let met = p99.is_some_and(|v| v <= TARGET_P99_MS) && w.delivery.missed == 0;
            Target::new(&what, "≤ 250 ms", measured, met)
        })
        .collect();

    let mut notes = vec![
        "The pipeline paces itself twice, by design: a partition republishes its live view \
         at most every `server.live_publish_every` (250 ms by default), and a stream \
         subscription sends at most one message per `server.stream_min_interval` (250 ms). \
         A change waits for the next publication, then for its subscription's next \
         message: latency ≈ floor + U(0, publish) + U(0, stream), whose p99 is about \
         floor + 0.9 × (publish + stream) = floor + 450 ms with the defaults. The 250 ms \
         target cannot be met with the default intervals on any machine."
            .to_owned(),
    ];
    for (pacing, _, w) in runs {
        if let (Some(min), Some(p50)) = (w.min(), w.p(50.0)) {
            notes.push(format!(
                "{} pacing: the floor (produce with the producer's 10 ms linger, broker, \
                 consume, fold, publish, diff, send, read; the fastest sample) is {min:.0} ms; \
                 the median adds {:.0} ms of pacing and queueing on top (expected from the \
                 intervals alone: about {} ms).",
                pacing.name,
                p50 - min,
                (pacing.publish_ms + pacing.stream_ms) / 2
            ));
        }
        if let Some(why) = &w.first_end {
            notes.push(format!(
                "{} pacing: first disconnection: {why}.",
                pacing.name
            ));
        }
        if w.achieved_rate < plan.rate * 0.95 {
            notes.push(format!(
                "{} pacing: the producer fell behind its rate ({} events/s of {}): the \
                 machine could not generate, produce and serve at once.",
                pacing.name,
                thousands(w.achieved_rate),
                thousands(plan.rate)
            ));
        }
    }
    notes.push(
        "Shorter intervals trade CPU for freshness: each publication rebuilds a \
         partition's live rows, and each stream message is a diff of a subscription's \
         rows; compare the serve CPU of the two runs. Both keys are validated (10 ms to \
         60 s) and documented in `config/ccpulse.example.toml`."
            .to_owned(),
    );
    notes.push(
        "Clients subscribe to topic `agents` narrowed to the probe's queue, so each \
         message carries the probe agent's row: the bench's cost of reading messages is \
         small, while the server still folds and publishes the whole tenant and filters \
         it for every subscription. The clients and the producer run on the same 2-core \
         machine as `serve` and the broker (their CPU is in the table); numbers measured \
         while other work ran on the machine are indicative only."
            .to_owned(),
    );

    Section {
        id: "freshness",
        title: "Freshness (produce → WebSocket client)".to_owned(),
        method: vec![
            format!(
                "`ccpulse serve` follows a fresh {PARTITIONS}-partition topic on the local \
                 tansu broker. A producer thread of this process sends simulator traffic \
                 ({} tenants, scale {}, from 08:00 UTC) paced at {} events/s, and every {} ms \
                 a probe: an `agent.state_changed` of a probe agent of tenant `{}` whose \
                 `reason` carries a counter.",
                plan.sim.tenants,
                plan.sim.scale,
                thousands(plan.rate),
                PROBE_EVERY.as_millis(),
                plan.tenant
            ),
            format!(
                "{} WebSocket clients subscribe (topic `agents`, the probe's queue); then {} s \
                 of warm-up and the window. Latency of probe n on a client = the receipt of \
                 its first message showing probe ≥ n − the time n was handed to the producer \
                 (one monotonic clock); percentiles over every (probe, client) pair of the \
                 window. A probe not shown within {} s after the window is missed.",
                plan.clients,
                plan.warmup.as_secs(),
                DRAIN.as_secs()
            ),
            "Two runs, each with a fresh `serve`, topic and data directory: the default \
             pacing, then `server.live_publish_every` and `server.stream_min_interval` at \
             50 ms. CPU and RSS from `/proc/<pid>` over the window."
                .to_owned(),
            format!("The whole benchmark took {:.0} s.", elapsed.as_secs_f64()),
        ],
        table,
        targets,
        notes,
        raw: serde_json::json!({
            "clients": plan.clients,
            "rate_asked": plan.rate,
            "warmup_seconds": plan.warmup.as_secs(),
            "elapsed_seconds": elapsed.as_secs_f64(),
            "sim": {"seed": plan.sim.seed, "tenants": plan.sim.tenants, "scale": plan.sim.scale},
            "runs": runs.iter().map(|(pacing, window, w)| serde_json::json!({
                "pacing": pacing.name,
                "live_publish_every_ms": pacing.publish_ms,
                "stream_min_interval_ms": pacing.stream_ms,
                "window_seconds": window.as_secs(),
                "rate_achieved": w.achieved_rate,
                "probes_in_window": w.probes,
                "samples": w.delivery.latencies.len(),
                "latency_ms": {
                    "min": w.min(), "p50": w.p(50.0), "p95": w.p(95.0),
                    "p99": w.p(99.0), "max": w.p(100.0),
                },
                "missed": w.delivery.missed,
                "clients_missing_probes": w.delivery.clients_missing,
                "disconnected": w.delivery.disconnected,
                "messages": w.delivery.messages,
                "message_bytes": w.delivery.bytes,
                "server_cpu_pct": w.server_cpu_pct,
                "bench_cpu_pct": w.bench_cpu_pct,
                "server_rss_bytes": w.server_rss,
                "connect_seconds": w.connect.as_secs_f64(),
                "produced": w.produced.map(|p| serde_json::json!({
                    "events": p.events, "probes": p.probes, "seconds": p.elapsed.as_secs_f64(),
                })),
            })).collect::<Vec<_>>(),
        }),
    }
}

/// What the window measured.
#[derive(Debug)]
struct Window {
    connect: Duration,
    probes: usize,
    delivery: Delivery,
    achieved_rate: f64,
    server_cpu_pct: f64,
    bench_cpu_pct: f64,
    server_rss: u64,
    first_end: Option<String>,
    /// What the producer sent over the whole run.
    produced: Option<Produced>,
}

impl Window {
    fn p(&self, q: f64) -> Option<f64> {
        percentile(&self.delivery.latencies, q)
    }

    fn min(&self) -> Option<f64> {
        self.delivery.latencies.iter().copied().reduce(f64::min)
    }
}
