//! The fold's output tables as Rust values: detail rows, interval measures by key, and
//! anomaly counts. [`Tables::merge`] adds two outputs (interval measures of the same
//! key are summed), which is how final rows written at successive checkpoints and the
//! provisional tail add up to the whole.

use std::collections::BTreeMap;

use ccpulse_schemas::v1::{Channel, Direction};
use serde::Serialize;

use super::measures::{AgentMeasures, CampaignMeasures, QueueMeasures};

/// One row of `interactions` (one queue visit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InteractionRow {
    pub tenant_id: String,
    pub interaction_id: String,
    pub visit: u32,
    pub queue_id: Option<String>,
    pub channel: &'static str,
    pub direction: &'static str,
    pub campaign_id: Option<String>,
    pub agent_id: Option<String>,
    pub queued_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub abandoned_at: Option<i64>,
    pub flowed_out_at: Option<i64>,
    pub conversation_ended_at: Option<i64>,
    pub wrapup_completed_at: Option<i64>,
    pub outcome: &'static str,
    pub wait_ms: Option<i64>,
    pub talk_ms: Option<i64>,
    pub hold_ms: Option<i64>,
    pub hold_count: Option<i64>,
    pub acw_ms: Option<i64>,
    pub handle_ms: Option<i64>,
    pub transferred: bool,
    pub disposition: Option<String>,
    pub csat: Option<u8>,
    pub in_business_hours: bool,
}

/// One row of `agent_states` (one effective-state span; open spans have no end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentStateRow {
    pub tenant_id: String,
    pub agent_id: String,
    pub state: &'static str,
    pub reason: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub duration_ms: Option<i64>,
}

/// Key of `queue_intervals`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueKey {
    pub tenant_id: String,
    pub queue_id: String,
    pub channel: Channel,
    pub direction: Direction,
    pub interval_start: i64,
}

/// Key of `agent_intervals`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentKey {
    pub tenant_id: String,
    pub agent_id: String,
    pub interval_start: i64,
}

/// Key of `campaign_intervals`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CampaignKey {
    pub tenant_id: String,
    pub campaign_id: String,
    pub interval_start: i64,
}

/// Queue measures plus the service-level threshold they were counted at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueInterval {
    pub measures: QueueMeasures,
    /// The threshold `answered_within_sl` used (the queue's setting when folded).
    pub sl_threshold_ms: i64,
}

/// A set of output rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tables {
    pub interactions: Vec<InteractionRow>,
    pub agent_states: Vec<AgentStateRow>,
    pub queue_intervals: BTreeMap<QueueKey, QueueInterval>,
    pub agent_intervals: BTreeMap<AgentKey, AgentMeasures>,
    pub campaign_intervals: BTreeMap<CampaignKey, CampaignMeasures>,
    /// Anomaly name → count (metrics.md's inconsistent-input rules and ccpulse's own).
    pub anomalies: BTreeMap<String, u64>,
}

impl Tables {
    /// Adds `other` to `self`: rows appended, measures of equal keys summed.
    pub fn merge(&mut self, other: Tables) {
        self.interactions.extend(other.interactions);
        self.agent_states.extend(other.agent_states);
        for (key, value) in other.queue_intervals {
            let entry = self.queue_intervals.entry(key).or_default();
            entry.measures.merge(&value.measures);
            entry.sl_threshold_ms = entry.sl_threshold_ms.max(value.sl_threshold_ms);
        }
        for (key, value) in other.agent_intervals {
            self.agent_intervals.entry(key).or_default().merge(&value);
        }
        for (key, value) in other.campaign_intervals {
            self.campaign_intervals
                .entry(key)
                .or_default()
                .merge(&value);
        }
        for (name, count) in other.anomalies {
            *self.anomalies.entry(name).or_default() += count;
        }
    }

    /// Sorts detail rows by their keys, so two equal outputs compare equal.
    pub fn sort(&mut self) {
        self.interactions.sort_by(|a, b| {
            (
                &a.tenant_id,
                &a.interaction_id,
                a.visit,
                a.queued_at,
                a.answered_at,
            )
                .cmp(&(
                    &b.tenant_id,
                    &b.interaction_id,
                    b.visit,
                    b.queued_at,
                    b.answered_at,
                ))
        });
        self.agent_states.sort_by(|a, b| {
            (&a.tenant_id, &a.agent_id, a.started_at).cmp(&(
                &b.tenant_id,
                &b.agent_id,
                b.started_at,
            ))
        });
    }

    /// Whether nothing is in it.
    pub fn is_empty(&self) -> bool {
        self.interactions.is_empty()
            && self.agent_states.is_empty()
            && self.queue_intervals.is_empty()
            && self.agent_intervals.is_empty()
            && self.campaign_intervals.is_empty()
            && self.anomalies.is_empty()
    }
}
