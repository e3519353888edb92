//! The lifecycle of one rule on one subject (a queue, a team, an agent): a pure state
//! machine, [`Track::step`], fed one [`Observation`] per evaluation.
//!
//! ```text
//!            breach                 held for `for`
//!   ok ───────────────> pending ───────────────────> firing ──┐ worse: escalated
//!    ^                    │ no breach, no data,        │  │    │ `renotify_every`: reminder
//!    │   cancelled        │ outside business hours     │  └────┘
//!    └────────────────────┘                            │ past `clear` for `clear_for`,
//!    └─────────────────────────────────────────────────┘ or outside business hours: resolved
//! ```
//!
//! - **Hysteresis.** A pending alert cancels as soon as the value no longer breaches;
//!   a firing one resolves only once the value is at or past `clear` (on the good
//!   side of the threshold) and stays there for `clear_for`. A value between the
//!   threshold and `clear` keeps it firing. So a metric flapping around a threshold
//!   fires once, and never more often than `for` + `clear_for` allows.
//! - **Minimum volume, no data.** When the window has fewer offered contacts than
//!   `min_volume`, or the value is undefined (a service level with an empty
//!   denominator), the observation is [`Observation::NoData`]: a pending alert
//!   cancels (one unlucky call does not page anyone), a firing one stays as it is
//!   (nothing shows it recovered) and keeps its reminders.
//! - **Business hours.** A `business_hours_only` rule outside hours observes
//!   [`Observation::OutOfHours`]: pending cancels, firing resolves.
//! - **Severity** rises during an episode (warning → critical notifies, `escalated`)
//!   and never falls until it resolves.
//! - **Acknowledged** alerts get no reminders; **snoozed** ones notify nobody until
//!   the snooze ends (transitions are still recorded, marked not notified).
//!
//! All times are the data's clock (the tenant's latest event time, as the wallboard's
//! time in state), in UTC milliseconds.

use serde::{Deserialize, Serialize};

use super::rule::{Rule, Severity};

/// What one evaluation saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation {
    /// A value, with the window's offered contacts when the metric has a window.
    Value { value: f64, volume: Option<u64> },
    /// No judgeable value: undefined, or fewer contacts than `min_volume`.
    NoData {
        value: Option<f64>,
        volume: Option<u64>,
    },
    /// A `business_hours_only` rule outside business hours.
    OutOfHours,
}

/// Where a track is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    Pending,
    Firing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Pending => "pending",
            State::Firing => "firing",
        }
    }
}

/// A transition, as the history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Pending,
    /// Pending ended without firing.
    Cancelled,
    Firing,
    /// Severity rose while firing.
    Escalated,
    /// Still firing, `renotify_every` after the last notification.
    Reminder,
    Resolved(ResolveReason),
}

/// Why an alert resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveReason {
    /// The value cleared and stayed clear.
    Cleared,
    OutsideBusinessHours,
    /// The rule was changed, disabled or deleted (no notification).
    RuleChanged,
}

impl ResolveReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveReason::Cleared => "cleared",
            ResolveReason::OutsideBusinessHours => "outside_business_hours",
            ResolveReason::RuleChanged => "rule_changed",
        }
    }
}

impl Change {
    pub fn event(self) -> &'static str {
        match self {
            Change::Pending => "pending",
            Change::Cancelled => "cancelled",
            Change::Firing => "firing",
            Change::Escalated => "escalated",
            Change::Reminder => "reminder",
            Change::Resolved(_) => "resolved",
        }
    }

    /// Whether destinations hear of it (before snoozes and `notify_recovery`).
    pub fn notifies(self) -> bool {
        matches!(
            self,
            Change::Firing | Change::Escalated | Change::Reminder | Change::Resolved(_)
        )
    }
}

/// One rule on one subject: its state and the episode's facts (saved across restarts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub state: State,
    /// The episode's id (`al_` and 16 hex digits), given when it starts.
    pub alert_id: Option<String>,
    /// The start of the current episode (pending or firing): the alert's identity.
    pub since: Option<i64>,
    pub fired_at: Option<i64>,
    pub severity: Option<Severity>,
    /// When the value cleared (while firing).
    pub clearing_since: Option<i64>,
    pub last_notified: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<i64>,
    /// No notification before this time (survives the episode's end).
    pub snoozed_until: Option<i64>,
    pub value: Option<f64>,
    pub volume: Option<u64>,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            state: State::Ok,
            alert_id: None,
            since: None,
            fired_at: None,
            severity: None,
            clearing_since: None,
            last_notified: None,
            acknowledged_by: None,
            acknowledged_at: None,
            snoozed_until: None,
            value: None,
            volume: None,
        }
    }
}

impl Track {
    /// Applies one observation at `now` (UTC ms, data clock) and returns the
    /// transitions it caused, in order (at most two: pending then firing when `for`
    /// is 0).
    pub fn step(&mut self, rule: &Rule, observation: Observation, now: i64) -> Vec<Change> {
        let mut changes = Vec::new();
        let hold_ms = rule.hold_for.as_millis() as i64;
        let clear_ms = rule.clear_for.as_millis() as i64;
        match observation {
            Observation::Value { value, volume }
            | Observation::NoData {
                value: Some(value),
                volume,
            } => {
                self.value = Some(value);
                self.volume = volume;
            }
            Observation::NoData {
                value: None,
                volume,
            } => {
                self.value = None;
                self.volume = volume;
            }
            Observation::OutOfHours => {}
        }
        let breach = match observation {
            Observation::Value { value, .. } => Some(rule.severity(value)),
            _ => None,
        };
        match (self.state, observation) {
            (State::Ok, Observation::Value { .. }) => {
                if let Some(Some(severity)) = breach {
                    self.state = State::Pending;
                    self.since = Some(now);
                    self.severity = Some(severity);
                    changes.push(Change::Pending);
                    if hold_ms == 0 {
                        self.fire(now, &mut changes);
                    }
                }
            }
            (State::Ok, _) => {}
            (State::Pending, Observation::Value { .. }) => match breach {
                Some(Some(severity)) => {
                    self.severity = self.severity.max(Some(severity));
                    if now - self.since.unwrap_or(now) >= hold_ms {
                        self.fire(now, &mut changes);
                    }
                }
                _ => {
                    self.end_episode();
                    changes.push(Change::Cancelled);
                }
            },
            (State::Pending, _) => {
                self.end_episode();
                changes.push(Change::Cancelled);
            }
            (State::Firing, Observation::OutOfHours) => {
                self.end_episode();
                changes.push(Change::Resolved(ResolveReason::OutsideBusinessHours));
            }
            (State::Firing, Observation::Value { value, .. }) => {
                if rule.spec.comparison.clears(value, rule.clear) {
                    let since = *self.clearing_since.get_or_insert(now);
                    if now - since >= clear_ms {
                        self.end_episode();
                        changes.push(Change::Resolved(ResolveReason::Cleared));
                        return changes;
                    }
                } else {
                    self.clearing_since = None;
                }
                if let Some(Some(severity)) = breach
                    && Some(severity) > self.severity
                {
                    self.severity = Some(severity);
                    self.last_notified = Some(now);
                    changes.push(Change::Escalated);
                    return changes;
                }
                self.remind(rule, now, &mut changes);
            }
            (State::Firing, Observation::NoData { .. }) => {
                self.remind(rule, now, &mut changes);
            }
        }
        changes
    }

    fn fire(&mut self, now: i64, changes: &mut Vec<Change>) {
        self.state = State::Firing;
        self.fired_at = Some(now);
        self.last_notified = Some(now);
        changes.push(Change::Firing);
    }

    fn remind(&mut self, rule: &Rule, now: i64, changes: &mut Vec<Change>) {
        let Some(every) = rule.renotify_every else {
            return;
        };
        if self.acknowledged_by.is_some() {
            return;
        }
        let last = self.last_notified.or(self.fired_at).unwrap_or(now);
        if now - last >= every.as_millis() as i64 {
            self.last_notified = Some(now);
            changes.push(Change::Reminder);
        }
    }

    /// Back to ok; the snooze outlives the episode.
    pub fn end_episode(&mut self) {
        *self = Track {
            snoozed_until: self.snoozed_until,
            value: self.value,
            volume: self.volume,
            ..Track::default()
        };
    }

    /// Whether a notification at `now` is held back by a snooze.
    pub fn snoozed(&self, now: i64) -> bool {
        self.snoozed_until.is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::RuleSpec;

    const MINUTE: i64 = 60_000;

    fn rule(extra: &str) -> Rule {
        let spec: RuleSpec = toml::from_str(&format!(
            r#"id = "sl"
            tenant = "acme"
            metric = "service_level"
            comparison = "below"
            warning = 0.8
            critical = 0.6
            {extra}"#
        ))
        .expect("a rule");
        Rule::check(spec, &[]).expect("valid")
    }

    fn value(value: f64) -> Observation {
        Observation::Value {
            value,
            volume: Some(20),
        }
    }

    /// Steps `track` through `(minute, observation)` and returns every change with
    /// its minute.
    fn run(rule: &Rule, track: &mut Track, steps: &[(i64, Observation)]) -> Vec<(i64, Change)> {
        steps
            .iter()
            .flat_map(|&(minute, observation)| {
                track
                    .step(rule, observation, minute * MINUTE)
                    .into_iter()
                    .map(move |change| (minute, change))
            })
            .collect()
    }

    #[test]
    fn breach_holds_fires_and_recovers_past_the_clear_value() {
        let rule = rule("clear = 0.85\nfor = \"2m\"\nclear_for = \"1m\"");
        let mut track = Track::default();
        let changes = run(
            &rule,
            &mut track,
            &[
                (0, value(0.9)),
                (1, value(0.75)),
                (2, value(0.7)),
                (3, value(0.72)),
                (4, value(0.82)), // between the threshold and clear: still firing
                (5, value(0.86)), // cleared, for less than clear_for
                (6, value(0.9)),
                (7, value(0.9)),
            ],
        );
        assert_eq!(
            changes,
            vec![
                (1, Change::Pending),
                (3, Change::Firing),
                (6, Change::Resolved(ResolveReason::Cleared)),
            ]
        );
        assert_eq!(track.state, State::Ok);
    }

    #[test]
    fn a_dip_shorter_than_for_is_cancelled_without_notifying() {
        let rule = rule("for = \"2m\"");
        let mut track = Track::default();
        let changes = run(&rule, &mut track, &[(0, value(0.7)), (1, value(0.81))]);
        assert_eq!(changes, vec![(0, Change::Pending), (1, Change::Cancelled)]);
        assert!(!changes.iter().any(|(_, c)| c.notifies()));
    }

    #[test]
    fn a_flapping_value_fires_once() {
        let rule = rule("clear = 0.85\nfor = \"1m\"\nclear_for = \"3m\"");
        let mut track = Track::default();
        // Two bad minutes, then an hour swinging across the threshold and, for a
        // minute at a time, past the clear value.
        let swing = [0.79, 0.83, 0.86, 0.79];
        let steps: Vec<(i64, Observation)> = (0..62)
            .map(|minute| {
                let v = if minute < 2 {
                    0.7
                } else {
                    swing[minute as usize % 4]
                };
                (minute, value(v))
            })
            .collect();
        let changes = run(&rule, &mut track, &steps);
        let notified: Vec<_> = changes.iter().filter(|(_, c)| c.notifies()).collect();
        assert_eq!(notified, vec![&(1, Change::Firing)], "{changes:?}");
        assert_eq!(changes.len(), 2, "pending then firing only: {changes:?}");
        // A swing that stays clear for clear_for does resolve it.
        let changes = run(&rule, &mut track, &[(62, value(0.9)), (65, value(0.9))]);
        assert_eq!(
            changes,
            vec![(65, Change::Resolved(ResolveReason::Cleared))]
        );
    }

    #[test]
    fn without_hysteresis_the_same_flapping_would_notify_repeatedly() {
        // The contrast that shows the flapping test can fail: clear at the threshold
        // and no hold resolves and fires again on every swing.
        let rule = rule("");
        let mut track = Track::default();
        let steps: Vec<(i64, Observation)> = (0..10)
            .map(|minute| (minute, value(if minute % 2 == 0 { 0.79 } else { 0.83 })))
            .collect();
        let changes = run(&rule, &mut track, &steps);
        assert_eq!(
            changes.iter().filter(|(_, c)| *c == Change::Firing).count(),
            5
        );
    }

    #[test]
    fn too_little_volume_cancels_pending_and_keeps_firing() {
        let rule = rule("for = \"1m\"\nmin_volume = 10\nrenotify_every = \"5m\"");
        let mut track = Track::default();
        let no_data = Observation::NoData {
            value: Some(0.5),
            volume: Some(3),
        };
        let changes = run(&rule, &mut track, &[(0, value(0.7)), (1, no_data)]);
        assert_eq!(changes, vec![(0, Change::Pending), (1, Change::Cancelled)]);
        let changes = run(
            &rule,
            &mut track,
            &[(2, value(0.7)), (3, value(0.7)), (4, no_data), (8, no_data)],
        );
        assert_eq!(
            changes,
            vec![
                (2, Change::Pending),
                (3, Change::Firing),
                (8, Change::Reminder)
            ]
        );
        assert_eq!(track.state, State::Firing);
    }

    #[test]
    fn severity_escalates_once_and_reminders_stop_when_acknowledged() {
        let rule = rule("renotify_every = \"10m\"");
        let mut track = Track::default();
        let changes = run(
            &rule,
            &mut track,
            &[
                (0, value(0.7)),
                (1, value(0.5)),
                (2, value(0.7)),
                (3, value(0.5)),
            ],
        );
        assert_eq!(
            changes,
            vec![
                (0, Change::Pending),
                (0, Change::Firing),
                (1, Change::Escalated)
            ]
        );
        assert_eq!(track.severity, Some(Severity::Critical));
        let changes = run(&rule, &mut track, &[(11, value(0.7))]);
        assert_eq!(changes, vec![(11, Change::Reminder)]);
        track.acknowledged_by = Some("sam".into());
        let changes = run(&rule, &mut track, &[(30, value(0.7))]);
        assert_eq!(changes, vec![]);
    }

    #[test]
    fn leaving_business_hours_resolves_and_the_snooze_outlives_the_episode() {
        let rule = rule("business_hours_only = true");
        let mut track = Track::default();
        run(&rule, &mut track, &[(0, value(0.7))]);
        track.snoozed_until = Some(60 * MINUTE);
        let changes = run(&rule, &mut track, &[(5, Observation::OutOfHours)]);
        assert_eq!(
            changes,
            vec![(5, Change::Resolved(ResolveReason::OutsideBusinessHours))]
        );
        assert!(track.snoozed(59 * MINUTE));
        assert!(!track.snoozed(60 * MINUTE));
        assert_eq!(
            run(&rule, &mut track, &[(6, Observation::OutOfHours)]),
            vec![]
        );
    }
}
