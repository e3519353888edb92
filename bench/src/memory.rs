//! Resident memory per logged-in agent and per open interaction (issue 7, point 5).
//!
//! # Method
//! The aggregator's own partition worker (`Aggregator::open`, `on_event`, `end_batch`,
//! `checkpoint`: the code `ccpulse serve` runs per partition, minus librdkafka) is fed, in
//! this process, first 20,000 agent log-ins (each with a presence), then 100,000
//! contacts that are created and queued, 20,000 of them answered (one per agent) and the
//! rest still waiting. After each phase the worker checkpoints (so the raw events are
//! written out, as they are every 5 s in production) and publishes its live
//! observations and SQL tail; the process's resident set size (`/proc/self/statm`) is
//! read then. Memory per agent = RSS growth over the agent phase / agents; per open
//! interaction = RSS growth over the contact phase / contacts.
//!
//! What it covers: the fold's state, the live observations (queue and agent views) and
//! the in-memory SQL tail (the provisional rows of every open visit and agent span, as
//! Arrow), which is where an open interaction costs memory in a running instance. What
//! it leaves out: librdkafka's fetch buffers (bounded by its settings, not by the number
//! of open interactions) and the WebSocket clients' copies of the rows (see fan-out).
//!
//! RSS never shrinks for memory the allocator keeps after a free (the events buffer
//! emptied by each checkpoint, for one), so the figures are upper bounds.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use ccpulse_ingest::aggregate::{AggregateWorker, Aggregator};
use ccpulse_ingest::fold::{Fold, FoldConfig};
use ccpulse_ingest::store::DataDir;
use ccpulse_ingest::{PartitionWorker, Pipeline};
use ccpulse_schemas::v1::{Event, decode};
use serde_json::json;

use crate::context::{Context, ProcessUsage};
use crate::report::{Section, Table, Target, bytes, thousands};

/// The tenant of the generated events.
const TENANT: &str = "bench";
/// Queues the agents serve and the contacts wait in.
const QUEUES: usize = 50;
/// Target of the issue: at most this much per open interaction.
const TARGET_PER_INTERACTION: f64 = 1024.0;

pub(crate) async fn run(ctx: &Context) -> Result<Section> {
    let agents = ctx.size(20_000, 2_000);
    let contacts = ctx.size(100_000, 10_000);
    let dir = ctx.scratch("memory")?;
    // The worker does blocking file I/O at checkpoints, as on the consumer's threads.
    let measured = tokio::task::spawn_blocking(move || measure(&dir, agents, contacts))
        .await
        .context("the memory benchmark's thread")??;
    Ok(measured.section())
}

/// Memory at each step of [`measure`]: the live heap bytes (exact, from the counting
/// allocator) and the resident set size.
#[derive(Debug, Clone, Copy, Default)]
struct Step {
    heap: u64,
    rss: u64,
}

impl Step {
    fn now() -> Result<Self> {
        Ok(Self {
            heap: crate::ALLOCATOR.allocated() as u64,
            rss: ProcessUsage::current()?.rss_bytes,
        })
    }
}

/// What one pass of [`measure`] found.
#[derive(Debug, Clone)]
struct Pass {
    baseline: Step,
    after_agents: Step,
    after_contacts: Step,
}

impl Pass {
    fn heap_per_agent(&self, agents: usize) -> f64 {
        self.after_agents.heap.saturating_sub(self.baseline.heap) as f64 / agents as f64
    }

    fn heap_per_contact(&self, contacts: usize) -> f64 {
        self.after_contacts
            .heap
            .saturating_sub(self.after_agents.heap) as f64
            / contacts as f64
    }

    fn rss_per_agent(&self, agents: usize) -> f64 {
        self.after_agents.rss.saturating_sub(self.baseline.rss) as f64 / agents as f64
    }

    fn rss_per_contact(&self, contacts: usize) -> f64 {
        self.after_contacts
            .rss
            .saturating_sub(self.after_agents.rss) as f64
            / contacts as f64
    }
}

/// Both passes.
#[derive(Debug, Clone)]
struct Measured {
    agents: usize,
    contacts: usize,
    answered: usize,
    /// The aggregator's partition worker.
    worker: Pass,
    /// The fold alone.
    fold: Pass,
    elapsed_s: f64,
}

fn measure(dir: &std::path::Path, agents: usize, contacts: usize) -> Result<Measured> {
    let started = Instant::now();
    // The fold alone first: its allocations are all freed before the worker's pass.
    let fold = {
        let mut fold = Fold::new(Arc::new(FoldConfig::default()));
        let pass = feed_all(Sink::Fold(&mut fold), agents, contacts)?;
        drop(fold);
        pass
    };
    let aggregator = Aggregator::new(
        DataDir::open(dir).context("opening the scratch data directory")?,
        Arc::new(FoldConfig::default()),
    );
    let mut worker = aggregator
        .open("bench.memory", 0)
        .map_err(|error| anyhow::anyhow!("opening the partition worker: {error}"))?
        .worker;
    let pass = feed_all(Sink::Worker(&mut worker), agents, contacts)?;
    drop(worker);
    Ok(Measured {
        agents,
        contacts,
        answered: contacts.min(agents),
        worker: pass,
        fold,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// Feeds the three phases to `sink` and reads memory after each.
fn feed_all(sink: Sink<'_>, agents: usize, contacts: usize) -> Result<Pass> {
    let mut feed = Feed::new(sink);
    // Something of everything first, so that one-off allocations (tables, builders,
    // thread-locals) are in the baseline.
    let start_ms = chrono::Utc::now().timestamp_millis() - 3_600_000;
    feed.clock_ms = start_ms;
    for i in 0..10 {
        feed.push(&agent_login(i, "warmup"))?;
        feed.push(&contact_created(i, "warmup"))?;
        feed.push(&contact_queued(i, "warmup"))?;
    }
    feed.checkpoint()?;
    let baseline = Step::now()?;

    for i in 0..agents {
        feed.push(&agent_login(i, "a"))?;
        feed.push(&agent_available(i))?;
        feed.batch_boundary(4096)?;
    }
    feed.checkpoint()?;
    let after_agents = Step::now()?;

    let answered = contacts.min(agents);
    for i in 0..contacts {
        feed.push(&contact_created(i, "c"))?;
        feed.push(&contact_queued(i, "c"))?;
        if i < answered {
            feed.push(&contact_offered(i))?;
            feed.push(&contact_answered(i))?;
        }
        feed.batch_boundary(4096)?;
    }
    feed.checkpoint()?;
    let after_contacts = Step::now()?;
    Ok(Pass {
        baseline,
        after_agents,
        after_contacts,
    })
}

/// What the events are fed to.
enum Sink<'a> {
    /// The aggregator's partition worker: fold, events buffer, live view, tail.
    Worker(&'a mut AggregateWorker),
    /// The fold alone; a checkpoint takes its final rows out (and drops them).
    Fold(&'a mut Fold),
}

/// Feeds events to a worker as the consumer runtime would: offsets, batch ends,
/// checkpoints.
struct Feed<'a> {
    sink: Sink<'a>,
    offset: i64,
    in_batch: usize,
    /// Event time of the next event, ms; one ms apart.
    clock_ms: i64,
}

impl<'a> Feed<'a> {
    fn new(sink: Sink<'a>) -> Self {
        Self {
            sink,
            offset: 0,
            in_batch: 0,
            clock_ms: 0,
        }
    }

    /// Decodes `body` (the envelope is added here) and hands it to the worker.
    fn push(&mut self, body: &serde_json::Value) -> Result<()> {
        let mut value = body.clone();
        value["schema_version"] = json!(1);
        value["tenant_id"] = json!(TENANT);
        value["event_id"] = json!(format!("m-{}", self.offset));
        value["occurred_at"] = json!(
            chrono::DateTime::from_timestamp_millis(self.clock_ms)
                .context("event time out of range")?
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        let raw = value.to_string();
        let event: Event<'_> =
            decode(raw.as_bytes()).map_err(|error| anyhow::anyhow!("{raw}: {error}"))?;
        match &mut self.sink {
            Sink::Worker(worker) => {
                worker.on_event(&event, raw.as_bytes(), self.offset, self.clock_ms);
            }
            Sink::Fold(fold) => {
                fold.apply(&event);
            }
        }
        self.offset += 1;
        self.in_batch += 1;
        self.clock_ms += 1;
        Ok(())
    }

    /// Ends the batch every `size` events, as a consumer poll would.
    fn batch_boundary(&mut self, size: usize) -> Result<()> {
        if self.in_batch >= size {
            match &mut self.sink {
                Sink::Worker(worker) => {
                    worker.end_batch();
                }
                Sink::Fold(fold) => fold.advance(),
            }
            self.in_batch = 0;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.in_batch = 0;
        match &mut self.sink {
            Sink::Worker(worker) => {
                worker.end_batch();
                worker
                    .checkpoint(self.offset)
                    .map_err(|error| anyhow::anyhow!("checkpoint: {error}"))
            }
            Sink::Fold(fold) => {
                fold.advance();
                drop(fold.checkpoint());
                Ok(())
            }
        }
    }
}

fn queue(i: usize) -> String {
    format!("q-{}", i % QUEUES)
}

fn agent_login(i: usize, prefix: &str) -> serde_json::Value {
    json!({
        "type": "agent.logged_in",
        "agent_id": format!("{prefix}-agent-{i}"),
        "queues": [queue(i), queue(i + 1)],
        "capacity": {"voice": 1, "chat": 3},
        "team_id": format!("team-{}", i % 100),
    })
}

fn agent_available(i: usize) -> serde_json::Value {
    json!({
        "type": "agent.state_changed",
        "agent_id": format!("a-agent-{i}"),
        "state": "available",
    })
}

fn channel(i: usize) -> &'static str {
    match i % 10 {
        0..=5 => "voice",
        6..=8 => "chat",
        _ => "email",
    }
}

fn contact_created(i: usize, prefix: &str) -> serde_json::Value {
    json!({
        "type": "interaction.created",
        "interaction_id": format!("{prefix}-contact-{i}"),
        "channel": channel(i),
        "customer_id": format!("customer-{i}"),
    })
}

fn contact_queued(i: usize, prefix: &str) -> serde_json::Value {
    json!({
        "type": "interaction.queued",
        "interaction_id": format!("{prefix}-contact-{i}"),
        "channel": channel(i),
        "queue_id": queue(i),
    })
}

fn contact_offered(i: usize) -> serde_json::Value {
    json!({
        "type": "interaction.offered",
        "interaction_id": format!("c-contact-{i}"),
        "channel": channel(i),
        "queue_id": queue(i),
        "agent_id": format!("a-agent-{i}"),
    })
}

fn contact_answered(i: usize) -> serde_json::Value {
    json!({
        "type": "interaction.answered",
        "interaction_id": format!("c-contact-{i}"),
        "channel": channel(i),
        "queue_id": queue(i),
        "agent_id": format!("a-agent-{i}"),
    })
}

impl Measured {
    fn section(&self) -> Section {
        let (agents, contacts) = (self.agents, self.contacts);
        let mut table = Table::new(&[
            "what holds it",
            "per logged-in agent (heap)",
            "per open interaction (heap)",
            "per open interaction (RSS)",
        ]);
        for (what, pass) in [
            (
                "the aggregator's partition worker (fold, live view, SQL tail)",
                &self.worker,
            ),
            ("of which the fold's state", &self.fold),
        ] {
            table.row(vec![
                what.to_owned(),
                bytes(pass.heap_per_agent(agents)),
                bytes(pass.heap_per_contact(contacts)),
                bytes(pass.rss_per_contact(contacts)),
            ]);
        }
        let per_contact = self.worker.heap_per_contact(contacts);
        Section {
            id: "memory",
            title: "Memory per open interaction and per agent".into(),
            method: vec![
                "The aggregator's partition worker (fold, raw-events buffer, live \
                 observations, in-memory SQL tail; no librdkafka) in the bench process, fed \
                 generated events of one tenant with 50 queues; then, for the breakdown, a \
                 bare fold with the same events."
                    .into(),
                format!(
                    "{} agents log in and become available; then {} contacts are created \
                     and queued (60 % voice, 30 % chat, 10 % email), {} of them answered.",
                    thousands(agents as f64),
                    thousands(contacts as f64),
                    thousands(self.answered as f64)
                ),
                "A checkpoint after each phase (raw events written out, live view and tail \
                 published); then the live heap bytes (a counting global allocator) and the \
                 resident set size (/proc/self/statm). Per item = growth over the phase / \
                 items."
                    .into(),
                format!(
                    "Totals at 100 % ({} agents, {} open interactions): heap {} \
                     (RSS {}), from {} (RSS {}) before the first agent. The run took {:.1} s.",
                    thousands(agents as f64),
                    thousands(contacts as f64),
                    bytes(self.worker.after_contacts.heap as f64),
                    bytes(self.worker.after_contacts.rss as f64),
                    bytes(self.worker.baseline.heap as f64),
                    bytes(self.worker.baseline.rss as f64),
                    self.elapsed_s
                ),
            ],
            table,
            targets: vec![Target::new(
                "memory per open interaction",
                "≤ 1 KiB",
                bytes(per_contact),
                per_contact <= TARGET_PER_INTERACTION,
            )],
            notes: vec![
                "What an open interaction costs: the fold keeps every event of an open \
                 interaction (to re-derive its visits whatever the arrival order, \
                 metrics.md) as a record of the fields derivation reads (queue, agent and \
                 campaign ids shared per tenant, the event id shared with the dedupe map), \
                 its id, its derived visits and stamped measures, and its due-time entry."
                    .into(),
                "The target is judged on the heap: RSS also keeps what the allocator holds \
                 after frees (the raw-events buffer emptied by each checkpoint, for one), so \
                 it is an upper bound that depends on allocation order."
                    .into(),
                "Not included: librdkafka's fetch queue (bounded by its settings, not by \
                 open work) and the WebSocket subscriptions' copies of the rows (see \
                 fan-out)."
                    .into(),
            ],
            raw: json!({
                "agents": agents,
                "contacts": contacts,
                "answered": self.answered,
                "worker": pass_json(&self.worker, agents, contacts),
                "fold": pass_json(&self.fold, agents, contacts),
                "elapsed_s": self.elapsed_s,
            }),
        }
    }
}

fn pass_json(pass: &Pass, agents: usize, contacts: usize) -> serde_json::Value {
    json!({
        "heap_bytes": [pass.baseline.heap, pass.after_agents.heap, pass.after_contacts.heap],
        "rss_bytes": [pass.baseline.rss, pass.after_agents.rss, pass.after_contacts.rss],
        "heap_per_agent": pass.heap_per_agent(agents),
        "heap_per_open_interaction": pass.heap_per_contact(contacts),
        "rss_per_agent": pass.rss_per_agent(agents),
        "rss_per_open_interaction": pass.rss_per_contact(contacts),
    })
}
