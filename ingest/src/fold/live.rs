//! Live observations (metrics.md, "Live observations"): the state now, per tenant and
//! queue, computed from the fold's in-memory state, never from interval sums alone.
//!
//! - `as_of` is the tenant's latest event time: the fold's "now" follows event time,
//!   so a replay shows what a supervisor saw then.
//! - `waiting_now` counts visits still in queue (alerting ones too); `oldest_wait_ms`
//!   is `as_of` minus the oldest of their `queued_at`.
//! - `agents` counts logged-in agents whose `queues` include the queue, by effective
//!   state at `as_of`.
//! - `today` is the tenant-local day of `as_of`, `current_interval` the 15-minute
//!   interval holding it; both add final and provisional measures. Service level uses
//!   the queue's formula and threshold.

use std::collections::{BTreeMap, BTreeSet};

use ccpulse_schemas::metrics::interval_start;
use ccpulse_schemas::settings::TenantSettings;
use chrono::{TimeZone, Timelike};
use serde::Serialize;

use super::interaction::Terminal;
use super::measures::QueueMeasures;
use super::{Fold, TenantFold};
use crate::fold::agent::EffectiveState;

/// One row of `queue_live`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueLive {
    pub tenant_id: String,
    pub queue_id: String,
    /// UTC ms.
    pub as_of: i64,
    pub waiting_now: u64,
    pub oldest_queued_at: Option<i64>,
    pub oldest_wait_ms: Option<i64>,
    /// Agents serving the queue by effective state (every state present, maybe 0).
    pub agents: BTreeMap<&'static str, u64>,
    pub in_progress: u64,
    /// Channels of today's interactions in the queue, sorted (not a table column).
    pub channels: Vec<String>,
    pub today: LiveSummary,
    pub current_interval: LiveSummary,
}

/// Running figures over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSummary {
    /// Start of the period (UTC ms).
    pub period_start: i64,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub flowed_out: u64,
    /// By the queue's formula; `None` on an empty denominator.
    pub service_level: Option<f64>,
    /// Average speed of answer over answers with a known wait.
    pub asa_ms: Option<f64>,
    /// abandoned / (answered + abandoned + flowed_out).
    pub abandon_rate: Option<f64>,
}

impl LiveSummary {
    fn from_measures(
        period_start: i64,
        m: &QueueMeasures,
        settings: &TenantSettings,
        queue: &str,
    ) -> Self {
        let formula = settings.queue(queue).sl_formula;
        let closed = m.answered + m.abandoned + m.flowed_out;
        Self {
            period_start,
            offered: m.offered,
            answered: m.answered,
            abandoned: m.abandoned,
            flowed_out: m.flowed_out,
            service_level: formula.value(&m.sl_counts()),
            asa_ms: (m.answered_wait.count > 0)
                .then(|| m.answered_wait.sum_ms as f64 / m.answered_wait.count as f64),
            abandon_rate: (closed > 0).then(|| m.abandoned as f64 / closed as f64),
        }
    }
}

/// One row of `agent_live`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentLive {
    pub tenant_id: String,
    pub agent_id: String,
    pub as_of: i64,
    pub state: &'static str,
    pub reason: Option<String>,
    /// Start of the current state span (UTC ms).
    pub since: i64,
    pub queues: Vec<String>,
    /// `team_id` of the agent's latest login.
    pub team_id: Option<String>,
    /// Channels of the latest login's `capacity`, sorted (not a table column).
    pub channels: Vec<String>,
}

impl Fold {
    /// `queue_live` rows of every tenant, sorted by tenant and queue.
    pub fn queue_live(&mut self) -> Vec<QueueLive> {
        self.settle();
        let mut rows = Vec::new();
        for tenant in self.tenants.values() {
            tenant.queue_live(
                self.config.tenant(&tenant.tenant_id),
                &self.config,
                &mut rows,
            );
        }
        rows
    }

    /// `agent_live` rows of every logged-in agent, sorted by tenant and agent.
    pub fn agent_live(&mut self) -> Vec<AgentLive> {
        self.settle();
        let mut rows = Vec::new();
        for tenant in self.tenants.values() {
            let as_of = tenant.max_seen;
            for (agent_id, timeline) in &tenant.agents {
                let (state, status) = timeline.state_now(as_of);
                let Some(state) = state else { continue };
                let since = timeline
                    .provisional(as_of)
                    .spans
                    .last()
                    .map_or(as_of, |span| span.start);
                rows.push(AgentLive {
                    tenant_id: tenant.tenant_id.clone(),
                    agent_id: agent_id.clone(),
                    as_of,
                    state: state.name(),
                    reason: state.reason().map(str::to_owned),
                    since,
                    queues: status.queues,
                    team_id: status.team_id,
                    channels: status.channels,
                });
            }
        }
        rows
    }
}

/// Local midnight (tenant zone) of the day holding `at_ms`, as UTC ms: the start of
/// `today` (also for alert rules read with SQL).
pub fn local_day_start(settings: &TenantSettings, at_ms: i64) -> i64 {
    let Some(local) = settings.timezone.timestamp_millis_opt(at_ms).single() else {
        return interval_start(at_ms);
    };
    let since_midnight_ms = i64::from(local.num_seconds_from_midnight()) * 1000
        + i64::from(local.nanosecond() / 1_000_000);
    at_ms - since_midnight_ms
}

impl TenantFold {
    fn queue_live(
        &self,
        settings: &TenantSettings,
        config: &super::FoldConfig,
        rows: &mut Vec<QueueLive>,
    ) {
        let as_of = self.max_seen;
        if as_of == i64::MIN {
            return;
        }
        let day_start = local_day_start(settings, as_of);
        let current = interval_start(as_of);

        let mut provisional = super::rows::Tables::default();
        self.provisional_interactions(config, false, &mut provisional);
        let mut today: BTreeMap<String, QueueMeasures> = BTreeMap::new();
        let mut now: BTreeMap<String, QueueMeasures> = BTreeMap::new();
        let mut channels: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let finals = self.recent_queue.iter();
        for (key, value) in finals.chain(provisional.queue_intervals.iter()) {
            if key.interval_start >= day_start {
                channels
                    .entry(key.queue_id.as_str())
                    .or_default()
                    .insert(key.channel.as_str());
                today
                    .entry(key.queue_id.clone())
                    .or_default()
                    .merge(&value.measures);
            }
            if key.interval_start == current {
                now.entry(key.queue_id.clone())
                    .or_default()
                    .merge(&value.measures);
            }
        }

        let mut waiting: BTreeMap<&str, (u64, Option<i64>)> = BTreeMap::new();
        let mut in_progress: BTreeMap<&str, u64> = BTreeMap::new();
        for state in self.interactions.values() {
            for visit in state.generations.iter().flat_map(|g| &g.visits) {
                let Some(queue) = visit.queue_id.as_deref() else {
                    continue;
                };
                match visit.terminal {
                    None => {
                        let entry = waiting.entry(queue).or_default();
                        entry.0 += 1;
                        if let Some(queued) = visit.queued_at {
                            entry.1 = Some(entry.1.map_or(queued, |o: i64| o.min(queued)));
                        }
                    }
                    Some((Terminal::Answered, _)) if visit.outcome() == "in_progress" => {
                        *in_progress.entry(queue).or_default() += 1;
                    }
                    _ => {}
                }
            }
        }

        let mut agents: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
        for timeline in self.agents.values() {
            let (state, status) = timeline.state_now(as_of);
            let Some(state) = state else { continue };
            for queue in status.queues {
                *agents
                    .entry(queue)
                    .or_default()
                    .entry(state.name())
                    .or_default() += 1;
            }
        }

        let queues: BTreeSet<&str> = today
            .keys()
            .map(String::as_str)
            .chain(waiting.keys().copied())
            .chain(in_progress.keys().copied())
            .chain(agents.keys().map(String::as_str))
            .collect();
        let empty = QueueMeasures::default();
        for queue in queues {
            let (waiting_now, oldest) = waiting.get(queue).copied().unwrap_or_default();
            let mut by_state: BTreeMap<&'static str, u64> = EffectiveState::NAMES
                .iter()
                .map(|name| (*name, 0))
                .collect();
            for (state, count) in agents.get(queue).into_iter().flatten() {
                *by_state.entry(state).or_default() += count;
            }
            rows.push(QueueLive {
                tenant_id: self.tenant_id.clone(),
                queue_id: queue.to_owned(),
                as_of,
                waiting_now,
                oldest_queued_at: oldest,
                oldest_wait_ms: oldest.map(|o| as_of - o),
                agents: by_state,
                in_progress: in_progress.get(queue).copied().unwrap_or(0),
                channels: channels
                    .get(queue)
                    .into_iter()
                    .flatten()
                    .map(|channel| (*channel).to_owned())
                    .collect(),
                today: LiveSummary::from_measures(
                    day_start,
                    today.get(queue).unwrap_or(&empty),
                    settings,
                    queue,
                ),
                current_interval: LiveSummary::from_measures(
                    current,
                    now.get(queue).unwrap_or(&empty),
                    settings,
                    queue,
                ),
            });
        }
    }
}
