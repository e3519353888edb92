//! What the API shows of the live observations: [`QueueView`] and [`AgentView`], the
//! same JSON for REST (`/api/v1/queues`, `/api/v1/agents`) and the WebSocket stream.
//!
//! Built from [`LiveView`] rows, narrowed to what the caller's token may see (its
//! tenant, a supervisor's queues and the agents serving them), with each queue's
//! effective settings (threshold, target, formula) beside its figures, so a page colours
//! a tile without a second request.
//!
//! Times are RFC 3339 UTC with milliseconds; durations integer milliseconds; service
//! levels and rates fractions 0..1, `null` on an empty denominator.

use std::collections::BTreeMap;

use ccpulse_ingest::aggregate::LiveView;
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::fold::live::{AgentLive, LiveSummary, QueueLive};
use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::v1::Channel;
use serde::Serialize;

use crate::auth::Principal;

/// One queue's live figures (REST and stream).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueView {
    pub queue_id: String,
    /// Channels of today's interactions in the queue.
    pub channels: Vec<String>,
    pub as_of: String,
    pub waiting_now: u64,
    pub oldest_wait_ms: Option<i64>,
    pub oldest_queued_at: Option<String>,
    pub in_progress: u64,
    /// Agents serving the queue by effective state (every state, maybe 0).
    pub agents: BTreeMap<&'static str, u64>,
    pub settings: QueueSettingsView,
    pub today: SummaryView,
    pub current_interval: SummaryView,
}

/// The settings a page needs to colour a tile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSettingsView {
    /// The queue's threshold, or its first channel's default when it has none.
    pub sl_threshold_s: u32,
    pub sl_target_pct: f64,
    pub sl_formula: &'static str,
}

/// Running figures over a period (today, the current interval).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryView {
    pub period_start: String,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub flowed_out: u64,
    pub service_level: Option<f64>,
    pub asa_ms: Option<f64>,
    pub abandon_rate: Option<f64>,
}

/// One logged-in agent's state now (REST and stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    pub agent_id: String,
    pub state: &'static str,
    pub reason: Option<String>,
    pub since: String,
    /// `as_of − since`, in event time.
    pub time_in_state_ms: i64,
    pub as_of: String,
    pub queues: Vec<String>,
    pub team_id: Option<String>,
    pub channels: Vec<String>,
}

/// Optional narrowing of the agent list (`?queue=&team=&channel=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFilter {
    pub queue: Option<String>,
    pub team: Option<String>,
    pub channel: Option<String>,
}

impl AgentFilter {
    fn keeps(&self, agent: &AgentLive) -> bool {
        self.queue
            .as_ref()
            .is_none_or(|q| agent.queues.iter().any(|own| own == q))
            && self
                .team
                .as_ref()
                .is_none_or(|t| agent.team_id.as_deref() == Some(t.as_str()))
            && self
                .channel
                .as_ref()
                .is_none_or(|c| agent.channels.iter().any(|own| own == c))
    }
}

/// The rows of a query's answer as a JSON array of objects (timestamps RFC 3339 UTC),
/// for `POST /sql` and the alert rules read with SQL.
pub fn rows_json(output: &ccpulse_query::QueryOutput) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    ccpulse_query::export::write_batches(
        &mut bytes,
        ccpulse_query::ExportFormat::Json,
        &output.schema,
        &output.batches,
        ccpulse_query::ExportOptions::default(),
    )
    .map_err(|e| format!("encoding the rows: {e}"))?;
    Ok(bytes)
}

/// RFC 3339 UTC with milliseconds (`2026-11-20T10:15:02.120Z`).
pub fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl SummaryView {
    fn new(summary: &LiveSummary) -> Self {
        Self {
            period_start: time_text(summary.period_start),
            offered: summary.offered,
            answered: summary.answered,
            abandoned: summary.abandoned,
            flowed_out: summary.flowed_out,
            service_level: summary.service_level,
            asa_ms: summary.asa_ms,
            abandon_rate: summary.abandon_rate,
        }
    }
}

impl QueueView {
    pub fn new(row: &QueueLive, settings: &TenantSettings) -> Self {
        let effective = settings.queue(&row.queue_id);
        let channel = row
            .channels
            .iter()
            .find_map(|name| Channel::parse(name))
            .unwrap_or(Channel::Voice);
        Self {
            queue_id: row.queue_id.clone(),
            channels: row.channels.clone(),
            as_of: time_text(row.as_of),
            waiting_now: row.waiting_now,
            oldest_wait_ms: row.oldest_wait_ms,
            oldest_queued_at: row.oldest_queued_at.map(time_text),
            in_progress: row.in_progress,
            agents: row.agents.clone(),
            settings: QueueSettingsView {
                sl_threshold_s: (effective.sl_threshold_ms(channel) / 1000) as u32,
                sl_target_pct: effective.sl_target_pct,
                sl_formula: effective.sl_formula.as_str(),
            },
            today: SummaryView::new(&row.today),
            current_interval: SummaryView::new(&row.current_interval),
        }
    }
}

impl AgentView {
    pub fn new(row: &AgentLive) -> Self {
        Self {
            agent_id: row.agent_id.clone(),
            state: row.state,
            reason: row.reason.clone(),
            since: time_text(row.since),
            time_in_state_ms: row.as_of.saturating_sub(row.since),
            as_of: time_text(row.as_of),
            queues: row.queues.clone(),
            team_id: row.team_id.clone(),
            channels: row.channels.clone(),
        }
    }
}

/// The queues the caller sees, sorted by id; `only` narrows further (a subscription's
/// queue list).
pub fn queues(
    live: &LiveView,
    config: &FoldConfig,
    principal: &Principal,
    only: Option<&[String]>,
) -> Vec<QueueView> {
    let settings = config.tenant(&principal.tenant_id);
    live.queue_live(Some(&principal.tenant_id))
        .iter()
        .filter(|row| principal.sees_queue(&row.queue_id))
        .filter(|row| only.is_none_or(|only| only.contains(&row.queue_id)))
        .map(|row| QueueView::new(row, settings))
        .collect()
}

/// The logged-in agents the caller sees, sorted by id.
pub fn agents(
    live: &LiveView,
    principal: &Principal,
    filter: &AgentFilter,
    only_queues: Option<&[String]>,
) -> Vec<AgentView> {
    live.agent_live(Some(&principal.tenant_id))
        .iter()
        .filter(|row| principal.sees_agent(row.queues.iter().map(String::as_str)))
        .filter(|row| only_queues.is_none_or(|only| row.queues.iter().any(|q| only.contains(q))))
        .filter(|row| filter.keeps(row))
        .map(AgentView::new)
        .collect()
}

/// The tenant's latest event time, as the live view knows it.
pub fn tenant_as_of(live: &LiveView, tenant: &str) -> Option<String> {
    live.partitions()
        .iter()
        .filter(|p| p.owned)
        .filter_map(|p| p.as_of.get(tenant).copied())
        .max()
        .map(time_text)
}
