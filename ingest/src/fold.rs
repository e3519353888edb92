//! The aggregator fold: events in, metrics.md's tables out, exactly, whatever the
//! arrival order within the allowed lateness, and whatever the duplicates.
//!
//! # How it stays exact
//! Every measure is *stamped* with the time of the event that completes it
//! (metrics.md, "Attribution"), and depends only on events at or before that time.
//! Per tenant the fold keeps a *horizon*: the latest event time seen minus the allowed
//! lateness. An event older than the horizon is too late (counted, kept in the raw
//! `events` table by the caller, not folded). Everything stamped before the horizon
//! can therefore no longer change: [`Fold::advance`] emits it once, as *final* rows
//! (additive interval deltas, finished detail rows), and forgets what it no longer
//! needs. What is stamped after the horizon stays in memory and is recomputed from
//! the events on demand ([`Fold::provisional`]): the *provisional* tail. Final plus
//! provisional is the whole picture at any moment, and equals what the reference
//! fold ([`reference::fold_all`]) computes from the same events in one sorted pass.
//!
//! # Layout
//! - `order`: the canonical event order (time, lifecycle rank, id).
//! - `record`: what the fold keeps of an interaction's event, with shared ids.
//! - `interaction`: one interaction's events → visits, stamped measures, activities.
//! - `agent`: agents' effective-state timelines.
//! - [`measures`]: the additive interval measures.
//! - [`rows`]: the output tables as Rust values.
//! - [`live`]: live observations (queue_live, agent_live).
//! - [`mod@reference`]: the obviously-correct, slow fold the tests compare with.
//! - `state`: saving and restoring the fold ([`Fold::checkpoint`], [`Fold::restore`]).
//!
//! # Decisions where metrics.md is silent
//! - Events older than the horizon (latest event time − allowed lateness, per tenant)
//!   are not folded: history is amended only within the allowed lateness.
//! - Duplicates are recognised by `event_id` per tenant while the original is within
//!   the allowed lateness of the horizon.
//! - See `interaction` for generations, the survey window and stale interactions.

mod agent;
mod interaction;
pub mod live;
pub mod measures;
mod order;
mod record;
pub mod reference;
pub mod rows;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

// hashbrown with foldhash (through DataFusion, so one copy of the crate): the fold hashes
// an event id and an interaction id or two per event, and std's SipHash was 8 % of it.
// Its seed is random per process, as std's is.
use datafusion::common::HashMap;

use ccpulse_schemas::metrics::interval_start;
use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::v1::{Channel, Direction, Event, EventFamily};

pub use agent::EffectiveState;
use agent::{AgentTimeline, TimelineOutput};
use interaction::{Contribution, Generation, Terminal, Windows};
use measures::{AgentMeasures, CampaignMeasures, QueueRules};
use record::{Id, Interner, Record};
use rows::{AgentKey, AgentStateRow, CampaignKey, InteractionRow, QueueInterval, QueueKey, Tables};
pub use state::{STATE_VERSION, StateError};

/// The fold's settings.
#[derive(Debug, Clone)]
pub struct FoldConfig {
    /// How late (in event time) an event may arrive and still count. Default 10 min.
    pub allowed_lateness_ms: i64,
    /// How long after its last event a closed interaction still accepts events such as
    /// surveys. Default 1 h.
    pub survey_window_ms: i64,
    /// An interaction with open visits and no event for this long is closed as stale.
    /// Default 12 h.
    pub stale_after_ms: i64,
    /// Settings per tenant id.
    pub tenants: BTreeMap<String, TenantSettings>,
    /// Settings of tenants not in `tenants`.
    pub default_tenant: TenantSettings,
}

impl Default for FoldConfig {
    fn default() -> Self {
        Self {
            allowed_lateness_ms: 10 * 60 * 1000,
            survey_window_ms: 60 * 60 * 1000,
            stale_after_ms: 12 * 60 * 60 * 1000,
            tenants: BTreeMap::new(),
            default_tenant: TenantSettings::default(),
        }
    }
}

impl FoldConfig {
    /// The settings of `tenant_id`.
    pub fn tenant(&self, tenant_id: &str) -> &TenantSettings {
        self.tenants.get(tenant_id).unwrap_or(&self.default_tenant)
    }

    fn windows(&self) -> Windows {
        Windows {
            survey_window_ms: self.survey_window_ms,
            stale_after_ms: self.stale_after_ms,
        }
    }
}

/// What [`Fold::apply`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Folded (also events of unknown type: kept, no measure depends on them).
    Folded,
    /// Its `event_id` was seen before: ignored.
    Duplicate,
    /// Older than the tenant's horizon: not folded.
    TooLate,
}

/// Counters of what the fold saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldStats {
    /// Events folded, by type.
    pub by_type: BTreeMap<String, u64>,
    /// Events ignored as duplicates.
    pub duplicates: u64,
    /// Events older than the horizon.
    pub too_late: u64,
    /// Anomalies in the final rows taken so far ([`Fold::take_final`]); the
    /// provisional tail's ([`Fold::provisional`]) add to these.
    pub final_anomalies: BTreeMap<String, u64>,
}

/// The aggregator state of one Kafka partition (any number of tenants).
#[derive(Debug)]
pub struct Fold {
    config: Arc<FoldConfig>,
    tenants: BTreeMap<String, TenantFold>,
    /// Final rows emitted since the last [`Fold::take_final`].
    pending: Tables,
    stats: FoldStats,
}

/// One tenant's part of the fold.
#[derive(Debug)]
struct TenantFold {
    tenant_id: String,
    /// Latest event time seen (the live view's "now").
    max_seen: i64,
    /// Everything stamped before this is final and emitted.
    finalized_to: i64,
    interactions: HashMap<Id, InteractionState>,
    /// (due time, interaction id): when an interaction has something to emit or finish.
    due: BTreeSet<(i64, Id)>,
    agents: BTreeMap<String, AgentTimeline>,
    /// Event ids seen, with their event time (pruned behind the horizon). The ids are
    /// shared with the records that hold them.
    seen: HashMap<Id, i64>,
    seen_pruned_len: usize,
    /// Final queue measures of recent intervals, for the live view's "today".
    recent_queue: BTreeMap<QueueKey, QueueInterval>,
    /// Duplicates counted per tenant (anomaly `duplicate_event_id`).
    duplicates: u64,
    /// The tenant's queue, agent, campaign and disposition ids, one copy each.
    ids: Interner,
    /// Interactions with events not derived yet (see [`TenantFold::settle`]).
    dirty: Vec<Id>,
}

/// One interaction id's events still in memory and what they derive.
#[derive(Debug)]
struct InteractionState {
    /// The interaction id (shared with the map's key and the due index).
    id: Id,
    events: Vec<Record>,
    generations: Vec<Generation>,
    /// Its entry in [`TenantFold::due`]; `i64::MIN` while it has none (no event time
    /// is that early).
    due_at: i64,
    /// Agents whose timelines hold this interaction's activities.
    agents: Vec<Id>,
    /// Events came since `generations` was derived (it is listed in
    /// [`TenantFold::dirty`]).
    dirty: bool,
}

impl InteractionState {
    fn new(id: Id, events: Vec<Record>) -> Self {
        Self {
            id,
            events,
            generations: Vec::new(),
            due_at: i64::MIN,
            agents: Vec::new(),
            dirty: false,
        }
    }
}

impl Fold {
    /// An empty fold.
    pub fn new(config: Arc<FoldConfig>) -> Self {
        Self {
            config,
            tenants: BTreeMap::new(),
            pending: Tables::default(),
            stats: FoldStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Arc<FoldConfig> {
        &self.config
    }

    /// Folds every later event with `config` (settings changed at run time, through the
    /// API). What is already folded stays as it was computed: interval rows carry the
    /// service-level threshold they were counted with.
    pub fn set_config(&mut self, config: Arc<FoldConfig>) {
        self.settle();
        self.config = config;
    }

    /// Derives the interactions that had events since they were last derived. Every
    /// method that reads derived state calls it first; `apply` only files the event.
    fn settle(&mut self) {
        for tenant in self.tenants.values_mut() {
            tenant.settle(&self.config);
        }
    }

    /// Counters of what was folded.
    pub fn stats(&self) -> &FoldStats {
        &self.stats
    }

    /// Folds one valid event (from [`ccpulse_schemas::v1::decode`]).
    pub fn apply(&mut self, event: &Event<'_>) -> Applied {
        let config = Arc::clone(&self.config);
        if !self.tenants.contains_key(event.tenant_id.as_ref()) {
            let tenant = TenantFold::new(&event.tenant_id);
            self.tenants.insert(event.tenant_id.to_string(), tenant);
        }
        let Some(tenant) = self.tenants.get_mut(event.tenant_id.as_ref()) else {
            unreachable!("the tenant was just added");
        };
        if tenant.seen.contains_key(event.event_id.as_ref()) {
            self.stats.duplicates += 1;
            tenant.duplicates += 1;
            return Applied::Duplicate;
        }
        if event.occurred_at < tenant.horizon(&config) {
            self.stats.too_late += 1;
            return Applied::TooLate;
        }
        let event_id = Id::from(event.event_id.as_ref());
        tenant.seen.insert(Id::clone(&event_id), event.occurred_at);
        tenant.max_seen = tenant.max_seen.max(event.occurred_at);
        let type_name = event.event_type.as_str();
        match self.stats.by_type.get_mut(type_name) {
            Some(count) => *count += 1,
            None => {
                self.stats.by_type.insert(type_name.to_owned(), 1);
            }
        }
        let Some(known) = event.event_type.known() else {
            return Applied::Folded;
        };
        match known.family() {
            EventFamily::Agent => {
                let agent_id = event.agent_id.as_deref().unwrap_or_default();
                let finalized_to = tenant.finalized_to;
                let timeline = tenant
                    .agents
                    .entry(agent_id.to_owned())
                    .or_insert_with(|| AgentTimeline::new(finalized_to));
                order::insert_sorted(&mut timeline.events, event.clone().into_owned());
            }
            EventFamily::Interaction | EventFamily::Dialer => {
                let record = Record::new(event, event_id, known, &mut tenant.ids);
                let id = event.interaction_id.as_deref().unwrap_or_default();
                let state = match tenant.interactions.get_mut(id) {
                    Some(state) => {
                        order::insert_sorted(&mut state.events, record);
                        state
                    }
                    None => {
                        let key = Id::from(id);
                        let state = InteractionState::new(Id::clone(&key), vec![record]);
                        tenant.interactions.entry(key).or_insert(state)
                    }
                };
                // Derived when next read: an interaction whose events arrive between two
                // reads is derived once, not once per event.
                if !state.dirty {
                    state.dirty = true;
                    tenant.dirty.push(Id::clone(&state.id));
                }
            }
        }
        Applied::Folded
    }

    /// Makes final everything before each tenant's horizon; the rows go to the
    /// pending output ([`Fold::take_final`]).
    pub fn advance(&mut self) {
        self.settle();
        let config = Arc::clone(&self.config);
        for tenant in self.tenants.values_mut() {
            let horizon = tenant.horizon(&config);
            tenant.advance_to(&config, horizon, &mut self.pending);
        }
    }

    /// Takes the final rows emitted since the last call (to write them durably).
    pub fn take_final(&mut self) -> Tables {
        for (name, count) in &self.pending.anomalies {
            *self.stats.final_anomalies.entry(name.clone()).or_default() += count;
        }
        std::mem::take(&mut self.pending)
    }

    /// The provisional tail: everything not final yet, as of each tenant's latest event.
    pub fn provisional(&mut self) -> Tables {
        self.settle();
        let mut tables = Tables::default();
        for tenant in self.tenants.values() {
            tenant.provisional(&self.config, &mut tables);
        }
        tables
    }

    /// Latest event time per tenant.
    pub fn as_of(&self) -> BTreeMap<String, i64> {
        self.tenants
            .iter()
            .map(|(id, t)| (id.clone(), t.max_seen))
            .collect()
    }
}

impl TenantFold {
    fn new(tenant_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            max_seen: i64::MIN,
            finalized_to: i64::MIN,
            interactions: HashMap::new(),
            due: BTreeSet::new(),
            agents: BTreeMap::new(),
            seen: HashMap::new(),
            seen_pruned_len: 0,
            recent_queue: BTreeMap::new(),
            duplicates: 0,
            ids: Interner::default(),
            dirty: Vec::new(),
        }
    }

    fn horizon(&self, config: &FoldConfig) -> i64 {
        self.max_seen.saturating_sub(config.allowed_lateness_ms)
    }

    /// Derives every interaction with events since it was last derived.
    fn settle(&mut self, config: &FoldConfig) {
        let finalized_to = self.finalized_to;
        for id in std::mem::take(&mut self.dirty) {
            self.refresh(config, &id, finalized_to);
        }
    }

    /// Re-derives interaction `id` from its events and updates agents and the due index.
    /// `finalized_to` is the point from which measures are still to be emitted.
    fn refresh(&mut self, config: &FoldConfig, id: &str, finalized_to: i64) {
        let settings = config.tenant(&self.tenant_id);
        let Some(state) = self.interactions.get_mut(id) else {
            return;
        };
        state.dirty = false;
        state.generations = interaction::derive(&state.events, config.windows(), &|queue, at| {
            settings.in_business_hours(queue, at)
        });
        // An interaction has an agent or two: a list is cheaper than a map.
        let mut by_agent: Vec<(Id, Vec<interaction::Activity>)> = Vec::new();
        for activity in state.generations.iter().flat_map(|g| &g.activities) {
            match by_agent
                .iter_mut()
                .find(|(agent, _)| *agent == activity.agent)
            {
                Some((_, activities)) => activities.push(activity.clone()),
                None => by_agent.push((Id::clone(&activity.agent), vec![activity.clone()])),
            }
        }
        for agent in &state.agents {
            if !by_agent.iter().any(|(a, _)| a == agent)
                && let Some(timeline) = self.agents.get_mut(agent.as_ref())
            {
                timeline.activities.remove(id);
            }
        }
        state.agents = by_agent.iter().map(|(agent, _)| Id::clone(agent)).collect();
        for (agent, activities) in by_agent {
            let timeline = match self.agents.get_mut(agent.as_ref()) {
                Some(timeline) => timeline,
                None => self
                    .agents
                    .entry(agent.to_string())
                    .or_insert_with(|| AgentTimeline::new(finalized_to)),
            };
            match timeline.activities.get_mut(id) {
                Some(slot) => *slot = activities,
                None => {
                    timeline.activities.insert(id.to_owned(), activities);
                }
            }
        }
        let due_at = next_due(&state.generations, finalized_to);
        if due_at != state.due_at {
            self.due.remove(&(state.due_at, Id::clone(&state.id)));
            state.due_at = due_at;
            self.due.insert((due_at, Id::clone(&state.id)));
        }
    }

    fn advance_to(&mut self, config: &FoldConfig, to: i64, out: &mut Tables) {
        if to <= self.finalized_to {
            return;
        }
        let from = self.finalized_to;
        let settings = config.tenant(&self.tenant_id);
        // Interactions first: finishing a generation fixes its activities' ends, which
        // the agents' timelines read next. Their rows are gathered here and merged into
        // `out` once: merging per interaction compared and dropped a key per measure.
        let mut emitted = Tables::default();
        let mut measures = StampedMeasures::default();
        while let Some((due_at, id)) = self.due.first().cloned() {
            if due_at >= to {
                break;
            }
            self.due.pop_first();
            let Some(mut state) = self.interactions.remove(id.as_ref()) else {
                continue;
            };
            for generation in &state.generations {
                measures.add(settings, generation, from, to);
            }
            let mut finished = 0;
            for generation in &state.generations {
                if generation.complete_after >= to {
                    break;
                }
                emitted
                    .interactions
                    .extend(visit_rows(&self.tenant_id, &id, generation));
                for activity in &generation.activities {
                    if let Some(timeline) = self.agents.get_mut(activity.agent.as_ref()) {
                        timeline.retired.push(activity.clone());
                    }
                }
                finished = generation.end;
            }
            state.events.drain(..finished);
            for agent in &state.agents {
                if let Some(timeline) = self.agents.get_mut(agent.as_ref()) {
                    timeline.activities.remove(id.as_ref());
                }
            }
            state.agents.clear();
            if state.events.is_empty() {
                continue;
            }
            state.due_at = i64::MIN;
            self.interactions.insert(id.clone(), state);
            // Everything before `to` has just been emitted.
            self.refresh(config, &id, to);
        }
        measures.flush_into(&self.tenant_id, &mut emitted);
        self.remember_recent(&emitted);
        out.merge(emitted);
        for (agent_id, timeline) in &mut self.agents {
            let output = timeline.advance(to);
            agent_output(&self.tenant_id, agent_id, output, out);
        }
        self.agents.retain(|_, timeline| !timeline.is_idle());
        self.finalized_to = to;
        if self.seen.len() > 2 * self.seen_pruned_len.max(1024) {
            self.seen.retain(|_, at| *at >= to);
            self.seen_pruned_len = self.seen.len();
        }
        self.ids.prune();
        let keep_from = interval_start(self.max_seen.saturating_sub(2 * 86_400_000));
        self.recent_queue
            .retain(|key, _| key.interval_start >= keep_from);
    }

    fn remember_recent(&mut self, emitted: &Tables) {
        for (key, value) in &emitted.queue_intervals {
            let entry = self.recent_queue.entry(key.clone()).or_default();
            entry.measures.merge(&value.measures);
            entry.sl_threshold_ms = value.sl_threshold_ms;
        }
    }

    fn provisional(&self, config: &FoldConfig, out: &mut Tables) {
        self.provisional_interactions(config, true, out);
        for (agent_id, timeline) in &self.agents {
            agent_output(
                &self.tenant_id,
                agent_id,
                timeline.provisional(self.max_seen),
                out,
            );
        }
        if self.duplicates > 0 {
            *out.anomalies
                .entry("duplicate_event_id".to_owned())
                .or_default() += self.duplicates;
        }
    }

    /// The provisional measures of the interactions in memory, and their `interactions`
    /// rows when `with_rows` (the live view needs only the measures: building a row per
    /// visit of every interaction in memory, closed ones in their survey window included,
    /// would cost it more than everything else it does).
    fn provisional_interactions(&self, config: &FoldConfig, with_rows: bool, out: &mut Tables) {
        let settings = config.tenant(&self.tenant_id);
        let as_of = self.max_seen;
        let mut measures = StampedMeasures::default();
        for (id, state) in &self.interactions {
            for generation in &state.generations {
                measures.add(
                    settings,
                    generation,
                    self.finalized_to,
                    as_of.saturating_add(1),
                );
                if with_rows {
                    out.interactions
                        .extend(visit_rows(&self.tenant_id, id, generation));
                }
            }
        }
        measures.flush_into(&self.tenant_id, out);
    }
}

/// The earliest time at which an interaction has something to emit or to finish.
fn next_due(generations: &[Generation], finalized_to: i64) -> i64 {
    let stamps = generations
        .iter()
        .flat_map(|g| &g.stamped)
        .map(|s| s.at)
        .filter(|&at| at >= finalized_to);
    let complete = generations.first().map(|g| g.complete_after);
    stamps.chain(complete).min().unwrap_or(i64::MAX)
}

/// Interval measures gathered under one tenant's shared ids, so that adding a
/// contribution allocates nothing. The owned keys of [`Tables`] are built once per
/// distinct key, by [`StampedMeasures::flush_into`]: building them per contribution
/// (two strings each) was the largest cost of `Fold::advance`.
#[derive(Default)]
struct StampedMeasures {
    queues: HashMap<(Id, Channel, Direction, i64), QueueInterval>,
    agents: HashMap<(Id, i64), AgentMeasures>,
    campaigns: HashMap<(Id, i64), CampaignMeasures>,
    anomalies: HashMap<&'static str, u64>,
}

impl StampedMeasures {
    /// Adds a generation's measures stamped in `[from, to)`.
    fn add(&mut self, settings: &TenantSettings, generation: &Generation, from: i64, to: i64) {
        for stamped in generation
            .stamped
            .iter()
            .filter(|s| (from..to).contains(&s.at))
        {
            let interval = interval_start(stamped.at);
            match &stamped.contribution {
                Contribution::Queue {
                    queue_id,
                    channel,
                    direction,
                    event,
                } => {
                    let queue = settings.queue(queue_id);
                    let rules = QueueRules {
                        sl_threshold_ms: queue.sl_threshold_ms(*channel),
                        short_abandon_ms: queue.short_abandon_ms(),
                    };
                    let key = (Id::clone(queue_id), *channel, *direction, interval);
                    let entry = self.queues.entry(key).or_default();
                    entry.measures.add(event, rules);
                    entry.sl_threshold_ms = rules.sl_threshold_ms;
                }
                Contribution::Agent { agent_id, event } => {
                    let key = (Id::clone(agent_id), interval);
                    self.agents.entry(key).or_default().add(event);
                }
                Contribution::Campaign { campaign_id, event } => {
                    let key = (Id::clone(campaign_id), interval);
                    self.campaigns.entry(key).or_default().add(event);
                }
                Contribution::Anomaly(anomaly) => {
                    *self.anomalies.entry(anomaly.name()).or_default() += 1;
                }
            }
        }
    }

    /// Adds everything gathered to `out`, under `tenant_id`. A queue interval takes the
    /// threshold it was gathered at (one call of the fold sees one set of settings).
    fn flush_into(self, tenant_id: &str, out: &mut Tables) {
        for ((queue_id, channel, direction, interval_start), value) in self.queues {
            let key = QueueKey {
                tenant_id: tenant_id.to_owned(),
                queue_id: queue_id.to_string(),
                channel,
                direction,
                interval_start,
            };
            let entry = out.queue_intervals.entry(key).or_default();
            entry.measures.merge(&value.measures);
            entry.sl_threshold_ms = value.sl_threshold_ms;
        }
        for ((agent_id, interval_start), value) in self.agents {
            let key = AgentKey {
                tenant_id: tenant_id.to_owned(),
                agent_id: agent_id.to_string(),
                interval_start,
            };
            out.agent_intervals.entry(key).or_default().merge(&value);
        }
        for ((campaign_id, interval_start), value) in self.campaigns {
            let key = CampaignKey {
                tenant_id: tenant_id.to_owned(),
                campaign_id: campaign_id.to_string(),
                interval_start,
            };
            out.campaign_intervals.entry(key).or_default().merge(&value);
        }
        for (name, count) in self.anomalies {
            *out.anomalies.entry(name.to_owned()).or_default() += count;
        }
    }
}

/// The `interactions` rows of a generation's visits.
fn visit_rows(
    tenant_id: &str,
    interaction_id: &str,
    generation: &Generation,
) -> Vec<InteractionRow> {
    generation
        .visits
        .iter()
        .map(|visit| {
            let leg = visit.legs.first();
            let terminal_at =
                |kind: Terminal| visit.terminal.filter(|(t, _)| *t == kind).map(|(_, at)| at);
            let wrapped = leg.and_then(|l| l.wrapup_at.map(|w| (l, w)));
            let (talk_ms, hold_ms, hold_count, acw_ms, handle_ms) = match wrapped {
                Some((leg, wrapup)) => {
                    let hold: i64 = leg.holds.iter().sum();
                    let ended = leg.conversation_ended_at.unwrap_or(wrapup);
                    let talk = ended - leg.answered_at - hold;
                    let acw = wrapup - ended;
                    (
                        Some(talk),
                        Some(hold),
                        Some(leg.holds.len() as i64),
                        Some(acw),
                        Some(talk + hold + acw),
                    )
                }
                None => (None, None, None, None, None),
            };
            InteractionRow {
                tenant_id: tenant_id.to_owned(),
                interaction_id: interaction_id.to_owned(),
                visit: visit.number,
                queue_id: visit.queue_id.as_deref().map(str::to_owned),
                channel: visit.channel.as_str(),
                direction: visit.direction.as_str(),
                campaign_id: visit.campaign_id.as_deref().map(str::to_owned),
                agent_id: leg.map(|l| l.agent.to_string()),
                queued_at: visit.queued_at,
                answered_at: terminal_at(Terminal::Answered),
                abandoned_at: terminal_at(Terminal::Abandoned),
                flowed_out_at: terminal_at(Terminal::FlowedOut),
                conversation_ended_at: leg.and_then(|l| l.conversation_ended_at),
                wrapup_completed_at: leg.and_then(|l| l.wrapup_at),
                outcome: visit.outcome(),
                wait_ms: visit.wait_ms(),
                talk_ms,
                hold_ms,
                hold_count,
                acw_ms,
                handle_ms,
                transferred: visit.transfers > 0,
                disposition: leg.and_then(|l| l.disposition.as_deref().map(str::to_owned)),
                csat: visit.csat,
                in_business_hours: visit.in_business_hours,
            }
        })
        .collect()
}

/// Adds an agent timeline's spans and interval time to `out`.
fn agent_output(tenant_id: &str, agent_id: &str, output: TimelineOutput, out: &mut Tables) {
    for span in output.spans {
        out.agent_states.push(AgentStateRow {
            tenant_id: tenant_id.to_owned(),
            agent_id: agent_id.to_owned(),
            state: span.state.name(),
            reason: span.state.reason().map(str::to_owned),
            started_at: span.start,
            ended_at: span.end,
            duration_ms: span.end.map(|end| end - span.start),
        });
    }
    for (interval, measures) in output.intervals {
        let key = AgentKey {
            tenant_id: tenant_id.to_owned(),
            agent_id: agent_id.to_owned(),
            interval_start: interval,
        };
        out.agent_intervals.entry(key).or_default().merge(&measures);
    }
}
