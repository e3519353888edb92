//! Additive measures of the interval tables: counters, sums, minima and maxima. Two
//! measures of the same key merge by adding (min/max by min/max), so partial results
//! written at different checkpoints sum to the whole.

use std::collections::BTreeMap;

use ccpulse_schemas::metrics::{SlCounts, WAIT_BUCKETS, wait_bucket};
use ccpulse_schemas::v1::{DialResult, PreviewAction, TransferType};
use serde::{Deserialize, Serialize};

use super::interaction::{AgentEvent, CampaignEvent, QueueEvent};

/// Count, sum, min and max of a duration measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dist {
    /// Number of values.
    pub count: u64,
    /// Their sum in milliseconds.
    pub sum_ms: i64,
    /// Smallest value (`None` when `count` is 0).
    pub min_ms: Option<i64>,
    /// Largest value (`None` when `count` is 0).
    pub max_ms: Option<i64>,
}

impl Dist {
    /// Adds one value.
    pub fn add(&mut self, ms: i64) {
        self.count += 1;
        self.sum_ms += ms;
        self.min_ms = Some(self.min_ms.map_or(ms, |m| m.min(ms)));
        self.max_ms = Some(self.max_ms.map_or(ms, |m| m.max(ms)));
    }

    /// Adds another distribution.
    pub fn merge(&mut self, other: &Dist) {
        self.count += other.count;
        self.sum_ms += other.sum_ms;
        self.min_ms = min_opt(self.min_ms, other.min_ms);
        self.max_ms = match (self.max_ms, other.max_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The queue measures of metrics.md for one key and interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMeasures {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub flowed_out: u64,
    pub answered_wait: Dist,
    pub abandoned_wait: Dist,
    pub talk: Dist,
    /// Hold *spans* (count = number of holds).
    pub hold: Dist,
    pub acw: Dist,
    pub handle: Dist,
    pub transfers: u64,
    pub transfers_blind: u64,
    pub transfers_consult: u64,
    pub csat_responses: u64,
    pub csat_sum: u64,
    pub csat_satisfied: u64,
    pub answered_wait_histogram: [u64; WAIT_BUCKETS],
    pub abandoned_wait_histogram: [u64; WAIT_BUCKETS],
    /// Answered with a known wait within the queue's configured threshold.
    pub answered_within_sl: u64,
    /// Abandoned with a wait within the queue's configured threshold.
    pub abandoned_within_sl: u64,
}

/// What a queue measure needs from the queue's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueRules {
    pub(crate) sl_threshold_ms: i64,
    pub(crate) short_abandon_ms: i64,
}

impl QueueMeasures {
    pub(crate) fn add(&mut self, event: &QueueEvent, rules: QueueRules) {
        match event {
            QueueEvent::Offered => self.offered += 1,
            QueueEvent::Answered { wait_ms } => {
                self.answered += 1;
                if let Some(wait) = *wait_ms {
                    self.answered_wait.add(wait);
                    self.answered_wait_histogram[wait_bucket(wait)] += 1;
                    self.answered_within_sl += u64::from(wait <= rules.sl_threshold_ms);
                }
            }
            QueueEvent::Abandoned { wait_ms } => {
                self.abandoned += 1;
                if let Some(wait) = *wait_ms {
                    self.abandoned_wait.add(wait);
                    self.abandoned_wait_histogram[wait_bucket(wait)] += 1;
                    self.abandoned_within_sl += u64::from(wait <= rules.sl_threshold_ms);
                    self.short_abandoned += u64::from(wait <= rules.short_abandon_ms);
                }
            }
            QueueEvent::FlowedOut => self.flowed_out += 1,
            QueueEvent::Handled {
                talk_ms,
                holds,
                acw_ms,
            } => {
                self.talk.add(*talk_ms);
                for hold in holds {
                    self.hold.add(*hold);
                }
                self.acw.add(*acw_ms);
                self.handle
                    .add(talk_ms + holds.iter().sum::<i64>() + acw_ms);
            }
            QueueEvent::Transferred(kind) => {
                self.transfers += 1;
                match kind {
                    TransferType::Blind => self.transfers_blind += 1,
                    TransferType::Consult => self.transfers_consult += 1,
                }
            }
            QueueEvent::Csat(score) => {
                self.csat_responses += 1;
                self.csat_sum += u64::from(*score);
                self.csat_satisfied += u64::from(*score >= 4);
            }
        }
    }

    /// Adds another interval's measures.
    pub fn merge(&mut self, o: &QueueMeasures) {
        self.offered += o.offered;
        self.answered += o.answered;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        self.flowed_out += o.flowed_out;
        self.answered_wait.merge(&o.answered_wait);
        self.abandoned_wait.merge(&o.abandoned_wait);
        self.talk.merge(&o.talk);
        self.hold.merge(&o.hold);
        self.acw.merge(&o.acw);
        self.handle.merge(&o.handle);
        self.transfers += o.transfers;
        self.transfers_blind += o.transfers_blind;
        self.transfers_consult += o.transfers_consult;
        self.csat_responses += o.csat_responses;
        self.csat_sum += o.csat_sum;
        self.csat_satisfied += o.csat_satisfied;
        for i in 0..WAIT_BUCKETS {
            self.answered_wait_histogram[i] += o.answered_wait_histogram[i];
            self.abandoned_wait_histogram[i] += o.abandoned_wait_histogram[i];
        }
        self.answered_within_sl += o.answered_within_sl;
        self.abandoned_within_sl += o.abandoned_within_sl;
    }

    /// The service-level inputs at the queue's configured threshold.
    pub fn sl_counts(&self) -> SlCounts {
        SlCounts {
            answered_within: self.answered_within_sl,
            answered_with_wait: self.answered_wait.count,
            abandoned_with_wait: self.abandoned_wait.count,
            abandoned_within: self.abandoned_within_sl,
            short_abandoned: self.short_abandoned,
            flowed_out: self.flowed_out,
        }
    }

    /// Whether every measure is zero (such rows are not written).
    pub fn is_empty(&self) -> bool {
        *self == QueueMeasures::default()
    }
}

/// The agent measures of metrics.md for one agent and interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMeasures {
    pub login_ms: i64,
    pub available_ms: i64,
    pub alerting_ms: i64,
    pub interacting_ms: i64,
    pub after_contact_work_ms: i64,
    pub away_ms: i64,
    pub away_by_reason: BTreeMap<String, i64>,
    pub offline_ms: i64,
    pub handled: u64,
    pub talk_sum_ms: i64,
    pub hold_sum_ms: i64,
    pub acw_sum_ms: i64,
    pub offers_missed: u64,
}

impl AgentMeasures {
    pub(crate) fn add(&mut self, event: &AgentEvent) {
        match *event {
            AgentEvent::Handled {
                talk_ms,
                hold_ms,
                acw_ms,
            } => {
                self.handled += 1;
                self.talk_sum_ms += talk_ms;
                self.hold_sum_ms += hold_ms;
                self.acw_sum_ms += acw_ms;
            }
            AgentEvent::OfferMissed => self.offers_missed += 1,
        }
    }

    /// Adds another interval's measures.
    pub fn merge(&mut self, o: &AgentMeasures) {
        self.login_ms += o.login_ms;
        self.available_ms += o.available_ms;
        self.alerting_ms += o.alerting_ms;
        self.interacting_ms += o.interacting_ms;
        self.after_contact_work_ms += o.after_contact_work_ms;
        self.away_ms += o.away_ms;
        for (reason, ms) in &o.away_by_reason {
            *self.away_by_reason.entry(reason.clone()).or_default() += ms;
        }
        self.offline_ms += o.offline_ms;
        self.handled += o.handled;
        self.talk_sum_ms += o.talk_sum_ms;
        self.hold_sum_ms += o.hold_sum_ms;
        self.acw_sum_ms += o.acw_sum_ms;
        self.offers_missed += o.offers_missed;
    }

    /// (interacting + ACW) / (interacting + ACW + available); `None` on an empty
    /// denominator.
    pub fn occupancy(&self) -> Option<f64> {
        let busy = self.interacting_ms + self.after_contact_work_ms;
        let denominator = busy + self.available_ms;
        (denominator > 0).then(|| busy as f64 / denominator as f64)
    }
}

/// The outbound dialer measures of metrics.md for one campaign and interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignMeasures {
    pub attempts: u64,
    /// By [`DialResult::ALL`] order.
    pub results: [u64; 7],
    pub dropped: u64,
    /// By [`PreviewAction::ALL`] order.
    pub preview_actions: [u64; 5],
}

impl CampaignMeasures {
    pub(crate) fn add(&mut self, event: &CampaignEvent) {
        match *event {
            CampaignEvent::Attempt => self.attempts += 1,
            CampaignEvent::Result(result) => {
                self.results[DialResult::ALL
                    .iter()
                    .position(|r| *r == result)
                    .unwrap_or(0)] += 1;
            }
            CampaignEvent::Dropped => self.dropped += 1,
            CampaignEvent::PreviewAction(action) => {
                let i = PreviewAction::ALL
                    .iter()
                    .position(|a| *a == action)
                    .unwrap_or(0);
                self.preview_actions[i] += 1;
            }
        }
    }

    /// Adds another interval's measures.
    pub fn merge(&mut self, o: &CampaignMeasures) {
        self.attempts += o.attempts;
        self.dropped += o.dropped;
        for i in 0..self.results.len() {
            self.results[i] += o.results[i];
        }
        for i in 0..self.preview_actions.len() {
            self.preview_actions[i] += o.preview_actions[i];
        }
    }

    /// Count of one result.
    pub fn result(&self, result: DialResult) -> u64 {
        DialResult::ALL
            .iter()
            .position(|r| *r == result)
            .map_or(0, |i| self.results[i])
    }
}
