//! What a rule reads: its subjects and their [`Observation`]s, from the same
//! [`QueueView`]s and [`AgentView`]s the wallboard shows.
//!
//! - Queue metrics: one subject per queue of the scope (every queue of the tenant
//!   when `scope.queues` is empty), narrowed to queues with today's interactions on
//!   `scope.channel`. Queues are judged one by one, never summed, so a figure in an
//!   alert is the figure on that queue's tile.
//! - Agent counts (`agents_*`): per queue of `scope.queues` (the agents serving it, as
//!   on the tile); otherwise one subject for `scope.team`, `scope.agent` or the whole
//!   tenant, counting its logged-in agents (on `scope.channel`) in the state.
//! - `time_in_state_s`: one subject per agent of the scope; an agent in another state
//!   than `scope.state` reads 0.

use ccpulse_schemas::settings::TenantSettings;

use super::lifecycle::Observation;
use super::rule::{Metric, Rule, Window};
use crate::views::{AgentView, QueueView, SummaryView};

/// Who an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subject {
    /// `queue`, `team`, `agent`, `campaign` or `tenant`.
    pub kind: &'static str,
    pub id: String,
}

/// Every subject kind.
pub const SUBJECT_KINDS: [&str; 5] = ["queue", "team", "agent", "campaign", "tenant"];

impl Subject {
    /// The subject of `kind` (an unknown kind reads as `tenant`) and `id`.
    pub fn new(kind: &str, id: String) -> Self {
        Subject {
            kind: SUBJECT_KINDS
                .into_iter()
                .find(|k| *k == kind)
                .unwrap_or("tenant"),
            id,
        }
    }

    /// The queue, when the subject is one.
    pub fn queue_id(&self) -> Option<&str> {
        (self.kind == "queue").then_some(self.id.as_str())
    }

    /// How notifications name it (`queue sales`).
    pub fn describe(&self) -> String {
        format!("{} {}", self.kind, self.id)
    }
}

/// One subject's observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub subject: Subject,
    pub observation: Observation,
}

/// The readings of `rule` for one tenant at `as_of` (its data clock); none for a rule
/// evaluated with SQL ([`Metric::needs_query`]).
pub fn readings(
    rule: &Rule,
    settings: &TenantSettings,
    queues: &[QueueView],
    agents: &[AgentView],
    as_of: i64,
) -> Vec<Reading> {
    let scope = &rule.spec.scope;
    let mut readings = Vec::new();
    if rule.metric.needs_query(rule.window) {
        return readings;
    }
    let open = |queue: Option<&str>| {
        !rule.spec.business_hours_only || settings.in_business_hours(queue, as_of)
    };
    // Queue metrics, and agent counts of queues (`check_scope` keeps `queues` apart
    // from `team`/`agent` and from `time_in_state_s`).
    if !rule.metric.is_agent_metric() || !scope.queues.is_empty() {
        for queue in queues {
            if !scope.queues.is_empty() && !scope.queues.contains(&queue.queue_id) {
                continue;
            }
            if let Some(channel) = &scope.channel
                && !queue.channels.contains(channel)
            {
                continue;
            }
            let observation = if open(Some(&queue.queue_id)) {
                queue_observation(rule, queue)
            } else {
                Observation::OutOfHours
            };
            readings.push(Reading {
                subject: Subject {
                    kind: "queue",
                    id: queue.queue_id.clone(),
                },
                observation,
            });
        }
        return readings;
    }
    let in_scope = |agent: &&AgentView| {
        scope
            .team
            .as_ref()
            .is_none_or(|team| agent.team_id.as_ref() == Some(team))
            && scope.agent.as_ref().is_none_or(|id| agent.agent_id == *id)
            && scope
                .channel
                .as_ref()
                .is_none_or(|channel| agent.channels.contains(channel))
    };
    let hours = if open(None) {
        None
    } else {
        Some(Observation::OutOfHours)
    };
    if rule.metric == Metric::TimeInStateS {
        for agent in agents.iter().filter(in_scope) {
            let matches = scope
                .state
                .as_ref()
                .is_none_or(|state| agent.state == state);
            let seconds = if matches {
                agent.time_in_state_ms as f64 / 1000.0
            } else {
                0.0
            };
            readings.push(Reading {
                subject: Subject {
                    kind: "agent",
                    id: agent.agent_id.clone(),
                },
                observation: hours.unwrap_or(Observation::Value {
                    value: seconds,
                    volume: None,
                }),
            });
        }
        return readings;
    }
    let count = agents
        .iter()
        .filter(in_scope)
        .filter(|agent| counts(rule.metric, agent.state))
        .count();
    let subject = match (&scope.team, &scope.agent) {
        (Some(team), _) => Subject {
            kind: "team",
            id: team.clone(),
        },
        (None, Some(agent)) => Subject {
            kind: "agent",
            id: agent.clone(),
        },
        (None, None) => Subject {
            kind: "tenant",
            id: rule.spec.tenant.clone(),
        },
    };
    readings.push(Reading {
        subject,
        observation: hours.unwrap_or(Observation::Value {
            value: count as f64,
            volume: None,
        }),
    });
    readings
}

/// Whether an agent in `state` counts for an agent-count metric.
fn counts(metric: Metric, state: &str) -> bool {
    match metric {
        Metric::Agents(wanted) => state == wanted,
        Metric::AgentsLoggedIn => state != "offline",
        _ => false,
    }
}

/// One queue's observation of a queue metric (or of the agents serving it).
fn queue_observation(rule: &Rule, queue: &QueueView) -> Observation {
    let summary: &SummaryView = match rule.window {
        Window::Today => &queue.today,
        // Trailing and previous-interval windows are read with SQL (`query.rs`), never
        // from the live view.
        Window::CurrentInterval
        | Window::Now
        | Window::PreviousInterval
        | Window::Trailing { .. } => &queue.current_interval,
    };
    let value = match rule.metric {
        Metric::ServiceLevel => summary.service_level,
        Metric::AsaS => summary.asa_ms.map(|ms| ms / 1000.0),
        Metric::AbandonRate => summary.abandon_rate,
        Metric::Offered => Some(summary.offered as f64),
        Metric::Answered => Some(summary.answered as f64),
        Metric::Abandoned => Some(summary.abandoned as f64),
        Metric::FlowedOut => Some(summary.flowed_out as f64),
        Metric::WaitingNow => Some(queue.waiting_now as f64),
        Metric::OldestWaitS => Some(queue.oldest_wait_ms.unwrap_or(0) as f64 / 1000.0),
        Metric::InProgress => Some(queue.in_progress as f64),
        Metric::Agents(_) | Metric::AgentsLoggedIn => Some(
            queue
                .agents
                .iter()
                .filter(|(state, _)| counts(rule.metric, state))
                .map(|(_, n)| *n)
                .sum::<u64>() as f64,
        ),
        Metric::TimeInStateS | Metric::DialerAbandonRate | Metric::Column(_) => None,
    };
    let volume = rule.metric.has_window().then_some(summary.offered);
    judge(rule, value, volume)
}

/// The observation of `value` with `volume` contacts in the window: no data when the
/// value is undefined or the volume is under the rule's `min_volume`.
pub fn judge(rule: &Rule, value: Option<f64>, volume: Option<u64>) -> Observation {
    let enough = match (rule.spec.min_volume, volume) {
        (Some(min), Some(volume)) => volume >= min,
        (Some(_), None) => false,
        (None, _) => true,
    };
    match value {
        Some(value) if enough => Observation::Value { value, volume },
        value => Observation::NoData { value, volume },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::views::QueueSettingsView;

    use crate::alerts::rule::test_rule as rule;

    fn summary(offered: u64, service_level: Option<f64>) -> SummaryView {
        SummaryView {
            period_start: String::new(),
            offered,
            answered: offered,
            abandoned: 0,
            flowed_out: 0,
            service_level,
            asa_ms: Some(12_500.0),
            abandon_rate: Some(0.0),
        }
    }

    fn queue(id: &str, channel: &str, offered: u64, sl: Option<f64>) -> QueueView {
        QueueView {
            queue_id: id.into(),
            channels: vec![channel.into()],
            as_of: String::new(),
            waiting_now: 4,
            oldest_wait_ms: Some(95_000),
            oldest_queued_at: None,
            in_progress: 2,
            agents: BTreeMap::from([("available", 1), ("interacting", 3), ("offline", 2)]),
            settings: QueueSettingsView {
                sl_threshold_s: 20,
                sl_target_pct: 80.0,
                sl_formula: "abandons_count",
            },
            today: summary(offered * 10, sl.map(|s| s + 0.1)),
            current_interval: summary(offered, sl),
        }
    }

    fn agent(id: &str, team: &str, state: &'static str, ms: i64) -> AgentView {
        AgentView {
            agent_id: id.into(),
            state,
            reason: None,
            since: String::new(),
            time_in_state_ms: ms,
            as_of: String::new(),
            queues: vec![],
            team_id: Some(team.into()),
            channels: vec!["voice".into()],
        }
    }

    #[test]
    fn queue_metrics_read_the_tile_figures_per_queue() {
        let queues = [
            queue("sales", "voice", 12, Some(0.7)),
            queue("support", "chat", 3, Some(0.5)),
            queue("empty", "voice", 0, None),
        ];
        let settings = TenantSettings::default();
        let sl = rule(
            "metric = \"service_level\"\ncomparison = \"below\"\nwarning = 0.8\nmin_volume = 10",
        );
        let read = readings(&sl, &settings, &queues, &[], 0);
        let values: Vec<_> = read
            .iter()
            .map(|r| (r.subject.id.as_str(), r.observation))
            .collect();
        assert_eq!(
            values,
            vec![
                (
                    "sales",
                    Observation::Value {
                        value: 0.7,
                        volume: Some(12)
                    }
                ),
                (
                    "support",
                    Observation::NoData {
                        value: Some(0.5),
                        volume: Some(3)
                    }
                ),
                (
                    "empty",
                    Observation::NoData {
                        value: None,
                        volume: Some(0)
                    }
                ),
            ]
        );
        let today = rule(
            "metric = \"service_level\"\nwindow = \"today\"\nscope = { channel = \"voice\", queues = [\"sales\"] }\ncomparison = \"below\"\nwarning = 0.8",
        );
        let read = readings(&today, &settings, &queues, &[], 0);
        assert_eq!(read.len(), 1);
        assert_eq!(
            read[0].observation,
            Observation::Value {
                value: queues[0].today.service_level.expect("set"),
                volume: Some(120)
            }
        );
        let wait = rule("metric = \"oldest_wait_s\"\ncomparison = \"above\"\nwarning = 60.0");
        assert_eq!(
            readings(&wait, &settings, &queues, &[], 0)[0].observation,
            Observation::Value {
                value: 95.0,
                volume: None
            }
        );
        let logged_in = rule(
            "metric = \"agents_logged_in\"\nscope = { queues = [\"sales\"] }\ncomparison = \"below\"\nwarning = 2.0",
        );
        assert_eq!(
            readings(&logged_in, &settings, &queues, &[], 0)[0].observation,
            Observation::Value {
                value: 4.0,
                volume: None
            }
        );
    }

    #[test]
    fn agent_metrics_count_a_team_or_time_each_agent() {
        let agents = [
            agent("a1", "north", "available", 1_000),
            agent("a2", "north", "away", 600_000),
            agent("a3", "south", "available", 5_000),
        ];
        let settings = TenantSettings::default();
        let team = rule(
            "metric = \"agents_available\"\nscope = { team = \"north\" }\ncomparison = \"below\"\nwarning = 2.0",
        );
        let read = readings(&team, &settings, &[], &agents, 0);
        assert_eq!(read.len(), 1);
        assert_eq!(
            read[0].subject,
            Subject {
                kind: "team",
                id: "north".into()
            }
        );
        assert_eq!(
            read[0].observation,
            Observation::Value {
                value: 1.0,
                volume: None
            }
        );
        let tenant = rule("metric = \"agents_available\"\ncomparison = \"below\"\nwarning = 2.0");
        let read = readings(&tenant, &settings, &[], &agents, 0);
        assert_eq!(read[0].subject.kind, "tenant");
        assert_eq!(
            read[0].observation,
            Observation::Value {
                value: 2.0,
                volume: None
            }
        );
        let away = rule(
            "metric = \"time_in_state_s\"\nscope = { team = \"north\", state = \"away\" }\ncomparison = \"above\"\nwarning = 300.0",
        );
        let read: Vec<_> = readings(&away, &settings, &[], &agents, 0)
            .into_iter()
            .map(|r| (r.subject.id, r.observation))
            .collect();
        assert_eq!(
            read,
            vec![
                (
                    "a1".to_owned(),
                    Observation::Value {
                        value: 0.0,
                        volume: None
                    }
                ),
                (
                    "a2".to_owned(),
                    Observation::Value {
                        value: 600.0,
                        volume: None
                    }
                ),
            ]
        );
    }
}
