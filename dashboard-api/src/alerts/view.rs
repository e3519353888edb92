//! [`AlertView`]: the JSON of an open alert, the same in REST (`/api/v1/alerts`), the
//! WebSocket stream and the webhook body.

use serde::Serialize;

use super::evaluate::Subject;
use super::history::AlertRecord;
use super::lifecycle::{Change, Track};
use super::rule::{Rule, Severity};
use crate::views::time_text;

/// One alert: a rule on a subject, from pending or firing to its end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub alert_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub subject: SubjectView,
    /// The queue, when the subject is one.
    pub queue_id: Option<String>,
    /// `pending` or `firing` (`resolved` in the webhook of a resolution).
    pub state: &'static str,
    pub severity: &'static str,
    pub metric: String,
    pub window: String,
    pub comparison: &'static str,
    /// The latest value (the metric's unit: fractions 0..1, seconds, counts).
    pub value: Option<f64>,
    /// The threshold of the alert's severity.
    pub threshold: f64,
    /// The window's offered contacts.
    pub volume: Option<u64>,
    /// When the condition started (data clock).
    pub since: String,
    pub fired_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub snoozed_until: Option<String>,
    pub message: String,
}

/// Who an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectView {
    /// `queue`, `team`, `agent`, `campaign` or `tenant`.
    pub kind: &'static str,
    pub id: String,
}

impl AlertView {
    /// The open alert of `track`.
    pub fn of_track(rule: &Rule, subject: &Subject, alert_id: &str, track: &Track) -> Self {
        let severity = track.severity.unwrap_or(Severity::Warning);
        let metric = rule.metric;
        let what = if metric.has_window() {
            format!("{} ({})", metric.describe(), rule.window.describe())
        } else {
            metric.describe()
        };
        let shown = track
            .value
            .map_or("no data".to_owned(), |v| metric.format(v));
        Self {
            alert_id: alert_id.to_owned(),
            rule_id: rule.spec.id.clone(),
            rule_name: rule.name().to_owned(),
            subject: SubjectView {
                kind: subject.kind,
                id: subject.id.clone(),
            },
            queue_id: subject.queue_id().map(str::to_owned),
            state: track.state.as_str(),
            severity: severity.as_str(),
            metric: metric.name(),
            window: rule.window_name(),
            comparison: rule.spec.comparison.as_str(),
            value: track.value,
            threshold: rule.threshold(severity),
            volume: track.volume,
            since: track.since.map(time_text).unwrap_or_default(),
            fired_at: track.fired_at.map(time_text),
            acknowledged_by: track.acknowledged_by.clone(),
            acknowledged_at: track.acknowledged_at.map(time_text),
            snoozed_until: track.snoozed_until.map(time_text),
            message: format!(
                "{}: {what} {shown} is {} {} on {}",
                rule.name(),
                rule.spec.comparison.as_str(),
                metric.format(rule.threshold(severity)),
                subject.describe()
            ),
        }
    }

    /// The alert as a notification of `change` describes it (`episode`: the track of
    /// the episode, before it ended for a resolution).
    pub fn new(rule: &Rule, record: &AlertRecord, episode: &Track, change: Change) -> Self {
        let subject = Subject::new(&record.subject_kind, record.subject_id.clone());
        let mut view = Self::of_track(rule, &subject, &record.alert_id, episode);
        if matches!(change, Change::Resolved(_)) {
            view.state = "resolved";
        }
        view.value = record.value;
        view.volume = record.volume;
        view.message = record.message.clone();
        view
    }
}
