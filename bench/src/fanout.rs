//! Fan-out: how many WebSocket clients one `ccpulse serve` holds at one update per
//! second each, and the CPU and memory each costs (issue 7, point 6).
//!
//! The only traffic is one probe per second (see [`crate::stream`]) into a tenant of its
//! own, so every update is one small delta per client and the server's cost is the
//! stream's: waking each connection, filtering the live view for it, diffing its rows
//! and writing the message. The number of clients grows in steps; at each step the
//! server's CPU and memory are read over a window, and the step is held when every
//! client got every probe of the window, none disconnected and the p99 delivery latency
//! is under [`HELD_P99_MS`]. The ramp stops at the first step not held.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::context::{Context, ProcessUsage};
use crate::report::{Section, Table, bytes, thousands};
use crate::stats::percentile;
use crate::stream::{Clients, Delivery, Producer, Server, open_files_limit, probes_between};

/// One update per second per client.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// After the clients of a step are subscribed, before its window.
const SETTLE: Duration = Duration::from_secs(2);
/// After a window, how long its last probe has to arrive before it counts as missed.
const DRAIN: Duration = Duration::from_secs(2);
/// A step is held when its p99 latency is at most this (ms).
const HELD_P99_MS: f64 = 1000.0;
/// File descriptors kept for everything but the clients (broker, log, data files).
const SPARE_FILES: u64 = 1000;
/// The probes' tenant.
const TENANT: &str = "bench";

/// One step of the ramp.
#[derive(Debug, serde::Serialize)]
struct Step {
    clients: usize,
    connect_seconds: f64,
    probes: usize,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    missed: usize,
    clients_missing: usize,
    disconnected: usize,
    server_cpu_pct: f64,
    bench_cpu_pct: f64,
    server_rss_bytes: u64,
    held: bool,
}

pub(crate) async fn run(ctx: &Context) -> Result<Section> {
    let steps: Vec<usize> = ctx.size(vec![0, 1000, 2000, 5000, 10_000], vec![0, 20, 100]);
    let window = Duration::from_secs(ctx.size(15, 5));
    let files = open_files_limit();
    let cap = files.map_or(usize::MAX, |n| n.saturating_sub(SPARE_FILES) as usize);

    let started = Instant::now();
    let mut server = Server::start(ctx, "fanout", TENANT, 1, &[]).await?;
    let producer = Producer::start(
        ctx.kafka()?,
        server.topic.clone(),
        TENANT.to_owned(),
        None,
        PROBE_EVERY,
    );
    let origin = Instant::now();
    let mut clients = Clients::new(&server);
    let mut done: Vec<Step> = Vec::new();
    let mut stopped_by: Option<String> = None;
    let ramp = async {
        for &n in &steps {
            if n > cap {
                stopped_by = Some(format!(
                    "{n} clients would exceed the open-files limit ({} per process, less \
                     {SPARE_FILES} spare): raise `ulimit -n`",
                    files.unwrap_or_default()
                ));
                break;
            }
            let connecting = Instant::now();
            if let Err(error) = clients.grow_to(n).await {
                stopped_by = Some(format!("connecting {n} clients failed: {error:#}"));
                break;
            }
            let connect_seconds = connecting.elapsed().as_secs_f64();
            tokio::time::sleep(SETTLE).await;
            let pid = server.process.pid()?;
            let (server0, bench0) = (ProcessUsage::of(pid)?, ProcessUsage::current()?);
            let t0 = Instant::now();
            tokio::time::sleep(window).await;
            let t1 = Instant::now();
            let (server1, bench1) = (ProcessUsage::of(pid)?, ProcessUsage::current()?);
            // Only a deadline for the window's last probe: anything later counts as missed.
            tokio::time::sleep(DRAIN).await;
            server.process.check_running()?;
            let probes = probes_between(&producer.probes, origin, t0, t1);
            let delivery = Delivery::of(&clients.logs, &probes, origin);
            let seconds = (t1 - t0).as_secs_f64();
            let p99 = percentile(&delivery.latencies, 99.0);
            let held = n == 0
                || (delivery.missed == 0
                    && delivery.disconnected == 0
                    && p99.is_some_and(|v| v <= HELD_P99_MS));
            let step = Step {
                clients: n,
                connect_seconds,
                probes: probes.len(),
                p50_ms: percentile(&delivery.latencies, 50.0),
                p99_ms: p99,
                missed: delivery.missed,
                clients_missing: delivery.clients_missing,
                disconnected: delivery.disconnected,
                server_cpu_pct: (server1.cpu_seconds - server0.cpu_seconds) / seconds * 100.0,
                bench_cpu_pct: (bench1.cpu_seconds - bench0.cpu_seconds) / seconds * 100.0,
                server_rss_bytes: server1.rss_bytes,
                held,
            };
            eprintln!(
                "  {n} clients: p99 {:?} ms, missed {}, serve CPU {:.0} %",
                step.p99_ms.map(f64::round),
                step.missed,
                step.server_cpu_pct
            );
            done.push(step);
            if !held {
                stopped_by = Some(format!("{n} clients were not held"));
                if let Some(why) = Delivery::first_end(&clients.logs) {
                    stopped_by = Some(format!("{n} clients were not held; first end: {why}"));
                }
                break;
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    clients.close().await;
    let produced = producer.stop().await;
    ramp?;
    produced?;
    let elapsed = started.elapsed();

    let idle = done.iter().find(|s| s.clients == 0);
    let best = done.iter().rfind(|s| s.held && s.clients > 0);
    let per_thousand_cpu = match (idle, best) {
        (Some(idle), Some(best)) => {
            Some((best.server_cpu_pct - idle.server_cpu_pct) / (best.clients as f64 / 1000.0))
        }
        _ => None,
    };
    let per_client_rss = match (idle, best) {
        (Some(idle), Some(best)) => Some(
            (best.server_rss_bytes as f64 - idle.server_rss_bytes as f64) / best.clients as f64,
        ),
        _ => None,
    };

    let ms = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} ms"));
    let mut table = Table::new(&[
        "clients",
        "connect",
        "probes",
        "p50",
        "p99",
        "missed",
        "disconnected",
        "serve CPU",
        "serve RSS",
        "RSS / client",
        "bench CPU",
        "held",
    ]);
    for step in &done {
        let rss_per = match idle {
            Some(idle) if step.clients > 0 => bytes(
                (step.server_rss_bytes as f64 - idle.server_rss_bytes as f64) / step.clients as f64,
            ),
            _ => "—".to_owned(),
        };
        table.row(vec![
            thousands(step.clients as f64),
            format!("{:.1} s", step.connect_seconds),
            step.probes.to_string(),
            ms(step.p50_ms),
            ms(step.p99_ms),
            thousands(step.missed as f64),
            thousands(step.disconnected as f64),
            format!("{:.1} %", step.server_cpu_pct),
            bytes(step.server_rss_bytes as f64),
            rss_per,
            format!("{:.1} %", step.bench_cpu_pct),
            if step.held { "yes" } else { "**no**" }.to_owned(),
        ]);
    }

    let mut notes = vec![match (best, per_thousand_cpu, per_client_rss) {
        (Some(best), Some(cpu), Some(rss)) => format!(
            "Largest step held: {} clients at one update per second each; above idle, the \
             stream costs about {cpu:.1} % of a core and {} of serve RSS per 1,000 clients \
             (at that step).",
            thousands(best.clients as f64),
            bytes(rss * 1000.0)
        ),
        _ => "No step with clients was held.".to_owned(),
    }];
    match &stopped_by {
        Some(why) => notes.push(format!("The ramp stopped: {why}.")),
        None => notes.push(format!(
            "Every step asked for was held; the ramp ends at {} clients to keep the suite \
             under its time budget and within the open-files limit ({}), not at a limit \
             of serve's.",
            thousands(steps.last().copied().unwrap_or(0) as f64),
            files.map_or_else(|| "unknown".to_owned(), |n| n.to_string())
        )),
    }
    notes.push(
        "The clients run in this process on the same 2-core machine as `serve` (their CPU \
         is the `bench CPU` column): past a few thousand clients they compete with the \
         server for the cores, so the latencies are an upper bound of the server's own. \
         Numbers measured while other work ran on the machine are indicative only."
            .to_owned(),
    );

    Ok(Section {
        id: "fanout",
        title: "Fan-out (WebSocket clients per instance)".to_owned(),
        method: vec![
            format!(
                "`ccpulse serve` (default settings) follows a fresh topic whose only \
                 traffic is one probe per second (an `agent.state_changed` whose `reason` \
                 carries a counter) of tenant `{TENANT}`. Clients subscribe to topic \
                 `agents` narrowed to the probe's queue: one small delta per client per \
                 second."
            ),
            format!(
                "Clients grow in steps ({}); at each step, once all are subscribed and {} s \
                 later, a {} s window: serve's CPU (`/proc/<pid>/stat`, 100 % = one core) \
                 and RSS, and each probe's latency on every client (first message showing \
                 it − the time it was handed to the producer). A step is held when every \
                 client got every probe, none disconnected and p99 ≤ {HELD_P99_MS:.0} ms.",
                steps
                    .iter()
                    .map(|n| thousands(*n as f64))
                    .collect::<Vec<_>>()
                    .join(", "),
                SETTLE.as_secs(),
                window.as_secs()
            ),
            format!(
                "The whole benchmark took {:.0} s; open-files limit {}.",
                elapsed.as_secs_f64(),
                files.map_or_else(|| "unknown".to_owned(), |n| n.to_string())
            ),
        ],
        table,
        targets: Vec::new(),
        notes,
        raw: serde_json::json!({
            "steps": done,
            "largest_held": best.map(|s| s.clients),
            "cpu_pct_per_1000_clients": per_thousand_cpu,
            "rss_bytes_per_client": per_client_rss,
            "stopped_by": stopped_by,
            "window_seconds": window.as_secs(),
            "open_files_limit": files,
            "elapsed_seconds": elapsed.as_secs_f64(),
        }),
    })
}
