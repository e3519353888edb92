//! [`Subscription`]: one subscription of a connection: what it shows, the rows its
//! client has (what the previous messages carried), and when it may send next.
//!
//! A delta holds the rows that differ from the client's, compared without the fields
//! that only follow the clock (`as_of`, `time_in_state_ms`, `oldest_wait_ms`): every
//! event moves the tenant's `as_of`, so comparing them would resend every row each
//! time. The client derives them from the message's `as_of` (module docs of `stream`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ccpulse_ingest::aggregate::LiveView;
use ccpulse_ingest::fold::FoldConfig;
use tokio::time::Instant;

use super::message::{Changes, ServerMessage, Topic};
use crate::alerts::{AlertView, Alerting};
use crate::auth::Principal;
use crate::views::{self, AgentFilter, AgentView, QueueView};

/// The rows a subscription shows at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Rows {
    /// The tenant's latest event time.
    pub(super) as_of: Option<String>,
    /// Sorted by id; empty when the topic has no queues.
    pub(super) queues: Vec<QueueView>,
    /// Sorted by id; empty when the topic has no agents.
    pub(super) agents: Vec<AgentView>,
    /// Open alerts, sorted by id; empty when the topic has no alerts.
    pub(super) alerts: Vec<AlertView>,
}

/// One subscription (see the module docs).
#[derive(Debug)]
pub(super) struct Subscription {
    pub(super) id: String,
    topic: Topic,
    /// The client's queue filter; `None`: every queue the token sees.
    queues: Option<Vec<String>>,
    /// `seq` of the last message sent (the snapshot is 1).
    seq: u64,
    /// The client's rows, by id: what the messages so far carried.
    sent_queues: BTreeMap<String, QueueView>,
    sent_agents: BTreeMap<String, AgentView>,
    sent_alerts: BTreeMap<String, AlertView>,
    /// No message before this (`min_interval` after the previous one).
    next_allowed: Instant,
    /// The live view changed since the rows were last compared.
    pending: bool,
}

/// A row of a view, for diffing.
trait Row {
    fn key(&self) -> &str;

    /// Whether the client's copy `self` still shows `now`: equal in every field but the
    /// ones that only follow the clock.
    fn same(&self, now: &Self) -> bool;
}

impl Row for QueueView {
    fn key(&self) -> &str {
        &self.queue_id
    }

    fn same(&self, now: &Self) -> bool {
        // Destructured whole, so that a new field has to be placed here.
        let QueueView {
            queue_id,
            channels,
            as_of: _,
            waiting_now,
            oldest_wait_ms: _,
            oldest_queued_at,
            in_progress,
            agents,
            settings,
            today,
            current_interval,
        } = now;
        self.queue_id == *queue_id
            && self.channels == *channels
            && self.waiting_now == *waiting_now
            && self.oldest_queued_at == *oldest_queued_at
            && self.in_progress == *in_progress
            && self.agents == *agents
            && self.settings == *settings
            && self.today == *today
            && self.current_interval == *current_interval
    }
}

impl Row for AgentView {
    fn key(&self) -> &str {
        &self.agent_id
    }

    fn same(&self, now: &Self) -> bool {
        let AgentView {
            agent_id,
            state,
            reason,
            since,
            time_in_state_ms: _,
            as_of: _,
            queues,
            team_id,
            channels,
        } = now;
        self.agent_id == *agent_id
            && self.state == *state
            && self.reason == *reason
            && self.since == *since
            && self.queues == *queues
            && self.team_id == *team_id
            && self.channels == *channels
    }
}

impl Row for AlertView {
    fn key(&self) -> &str {
        &self.alert_id
    }

    /// The value, volume and message follow every tick of a firing alert: a row comes
    /// again when its state, severity, acknowledgement or snooze changes.
    fn same(&self, now: &Self) -> bool {
        let AlertView {
            alert_id,
            rule_id,
            rule_name,
            subject,
            queue_id,
            state,
            severity,
            metric,
            window,
            comparison,
            value: _,
            threshold,
            volume: _,
            since,
            fired_at,
            acknowledged_by,
            acknowledged_at,
            snoozed_until,
            message: _,
        } = now;
        self.alert_id == *alert_id
            && self.rule_id == *rule_id
            && self.rule_name == *rule_name
            && self.subject == *subject
            && self.queue_id == *queue_id
            && self.state == *state
            && self.severity == *severity
            && self.metric == *metric
            && self.window == *window
            && self.comparison == *comparison
            && self.threshold == *threshold
            && self.since == *since
            && self.fired_at == *fired_at
            && self.acknowledged_by == *acknowledged_by
            && self.acknowledged_at == *acknowledged_at
            && self.snoozed_until == *snoozed_until
    }
}

/// The rows of `now` that `sent` lacks or shows differently, and the ids of `sent` that
/// `now` lacks.
fn changes<'a, T: Row>(sent: &'a BTreeMap<String, T>, now: &'a [T]) -> Changes<'a, T> {
    let upsert = now
        .iter()
        .filter(|row| sent.get(row.key()).is_none_or(|old| !old.same(row)))
        .collect();
    let present: BTreeSet<&str> = now.iter().map(Row::key).collect();
    let remove = sent
        .keys()
        .map(String::as_str)
        .filter(|key| !present.contains(key))
        .collect();
    Changes { upsert, remove }
}

fn by_key<T: Row>(rows: Vec<T>) -> BTreeMap<String, T> {
    rows.into_iter()
        .map(|row| (row.key().to_owned(), row))
        .collect()
}

impl Subscription {
    pub(super) fn new(id: String, topic: Topic, queues: Option<Vec<String>>) -> Self {
        Self {
            id,
            topic,
            queues,
            seq: 0,
            sent_queues: BTreeMap::new(),
            sent_agents: BTreeMap::new(),
            sent_alerts: BTreeMap::new(),
            next_allowed: Instant::now(),
            pending: false,
        }
    }

    /// The rows this subscription shows now, for `principal`.
    pub(super) fn rows(
        &self,
        live: &LiveView,
        config: &FoldConfig,
        alerts: &Alerting,
        principal: &Principal,
    ) -> Rows {
        let only = self.queues.as_deref();
        Rows {
            as_of: views::tenant_as_of(live, &principal.tenant_id),
            queues: if self.topic.has_queues() {
                views::queues(live, config, principal, only)
            } else {
                Vec::new()
            },
            agents: if self.topic.has_agents() {
                views::agents(live, principal, &AgentFilter::default(), only)
            } else {
                Vec::new()
            },
            alerts: if self.topic.has_alerts() {
                let mut open = alerts.active(principal);
                if let Some(only) = only {
                    open.retain(|a| a.queue_id.as_ref().is_some_and(|q| only.contains(q)));
                }
                open
            } else {
                Vec::new()
            },
        }
    }

    /// The live view changed: compare again when allowed.
    pub(super) fn mark_pending(&mut self) {
        self.pending = true;
    }

    /// Whether a comparison is pending and allowed at `now`.
    pub(super) fn is_due(&self, now: Instant) -> bool {
        self.pending && now >= self.next_allowed
    }

    /// When a pending comparison becomes allowed (`None`: nothing pending).
    pub(super) fn wake_at(&self) -> Option<Instant> {
        self.pending.then_some(self.next_allowed)
    }

    /// The snapshot of `rows` (the first message), sent at `now`.
    pub(super) fn snapshot(&mut self, rows: Rows, now: Instant, min_interval: Duration) -> String {
        self.seq += 1;
        let text = ServerMessage::Snapshot {
            id: &self.id,
            seq: self.seq,
            as_of: rows.as_of.as_deref(),
            queues: self.topic.has_queues().then_some(&rows.queues[..]),
            agents: self.topic.has_agents().then_some(&rows.agents[..]),
            alerts: self.topic.has_alerts().then_some(&rows.alerts[..]),
        }
        .to_text();
        self.sent_queues = by_key(rows.queues);
        self.sent_agents = by_key(rows.agents);
        self.sent_alerts = by_key(rows.alerts);
        self.sent(now, min_interval);
        text
    }

    /// The delta from the client's rows to `rows`, sent at `now`; `None` when no row
    /// changed (nothing is sent, and the pacing is unchanged).
    pub(super) fn delta(
        &mut self,
        rows: Rows,
        now: Instant,
        min_interval: Duration,
    ) -> Option<String> {
        self.pending = false;
        let queues = changes(&self.sent_queues, &rows.queues);
        let agents = changes(&self.sent_agents, &rows.agents);
        let alerts = changes(&self.sent_alerts, &rows.alerts);
        if queues.is_empty() && agents.is_empty() && alerts.is_empty() {
            return None;
        }
        let seq = self.seq + 1;
        let text = ServerMessage::Delta {
            id: &self.id,
            seq,
            as_of: rows.as_of.as_deref(),
            queues: self.topic.has_queues().then_some(queues),
            agents: self.topic.has_agents().then_some(agents),
            // Absent when no alert changed, so pages of before alerts see no change.
            alerts: (self.topic.has_alerts() && !alerts.is_empty()).then_some(alerts),
        }
        .to_text();
        self.seq = seq;
        self.sent_queues = by_key(rows.queues);
        self.sent_agents = by_key(rows.agents);
        self.sent_alerts = by_key(rows.alerts);
        self.sent(now, min_interval);
        Some(text)
    }

    fn sent(&mut self, now: Instant, min_interval: Duration) {
        self.pending = false;
        self.next_allowed = now + min_interval;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::*;
    use crate::views::{QueueSettingsView, SummaryView};

    const MIN: Duration = Duration::from_millis(250);

    fn summary() -> SummaryView {
        SummaryView {
            period_start: "2026-11-16T00:00:00.000Z".to_owned(),
            offered: 0,
            answered: 0,
            abandoned: 0,
            flowed_out: 0,
            service_level: None,
            asa_ms: None,
            abandon_rate: None,
        }
    }

    fn queue(id: &str, waiting: u64, as_of: &str) -> QueueView {
        QueueView {
            queue_id: id.to_owned(),
            channels: vec!["voice".to_owned()],
            as_of: as_of.to_owned(),
            waiting_now: waiting,
            oldest_wait_ms: (waiting > 0).then_some(1_000),
            oldest_queued_at: (waiting > 0).then(|| "2026-11-16T10:00:00.000Z".to_owned()),
            in_progress: 0,
            agents: BTreeMap::from([("available", 1)]),
            settings: QueueSettingsView {
                sl_threshold_s: 20,
                sl_target_pct: 80.0,
                sl_formula: "abandons_count",
            },
            today: summary(),
            current_interval: summary(),
        }
    }

    fn agent(id: &str, state: &'static str, as_of_ms: i64) -> AgentView {
        AgentView {
            agent_id: id.to_owned(),
            state,
            reason: None,
            since: "2026-11-16T10:00:00.000Z".to_owned(),
            time_in_state_ms: as_of_ms,
            as_of: format!("+{as_of_ms}"),
            queues: vec!["sales".to_owned()],
            team_id: None,
            channels: vec!["voice".to_owned()],
        }
    }

    fn rows(queues: Vec<QueueView>, agents: Vec<AgentView>) -> Rows {
        Rows {
            as_of: Some("2026-11-16T10:00:01.000Z".to_owned()),
            queues,
            agents,
            alerts: Vec::new(),
        }
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_delta_carries_changed_and_removed_rows_only() {
        let start = Instant::now();
        let mut sub = Subscription::new("wall".to_owned(), Topic::Tenant, None);
        let first = sub.snapshot(
            rows(
                vec![queue("sales", 0, "t1"), queue("support", 1, "t1")],
                vec![agent("a-1", "available", 1), agent("a-2", "away", 1)],
            ),
            start,
            MIN,
        );
        let first = json(&first);
        assert_eq!(first["type"], "snapshot");
        assert_eq!(first["seq"], 1);
        assert_eq!(first["queues"].as_array().unwrap().len(), 2);

        // Only the clock moved (as_of, time in state, oldest wait): nothing to send.
        sub.mark_pending();
        let mut support = queue("support", 1, "t2");
        support.oldest_wait_ms = Some(2_000);
        let later = start + MIN;
        assert_eq!(
            sub.delta(
                rows(
                    vec![queue("sales", 0, "t2"), support.clone()],
                    vec![agent("a-1", "available", 2), agent("a-2", "away", 2)],
                ),
                later,
                MIN,
            ),
            None
        );
        assert!(!sub.is_due(later), "the comparison is done");

        // support gains a caller, a-2 logs out, a-3 logs in.
        sub.mark_pending();
        let delta = sub
            .delta(
                rows(
                    vec![queue("sales", 0, "t3"), queue("support", 2, "t3")],
                    vec![agent("a-1", "available", 3), agent("a-3", "available", 3)],
                ),
                later,
                MIN,
            )
            .expect("a delta");
        assert_eq!(
            json(&delta),
            json!({
                "type": "delta", "id": "wall", "seq": 2, "as_of": "2026-11-16T10:00:01.000Z",
                "queues": {"upsert": [serde_json::to_value(queue("support", 2, "t3")).unwrap()], "remove": []},
                "agents": {"upsert": [serde_json::to_value(agent("a-3", "available", 3)).unwrap()], "remove": ["a-2"]},
            })
        );
    }

    #[test]
    fn a_topic_shows_only_its_kind() {
        let mut sub = Subscription::new("q".to_owned(), Topic::Queues, None);
        let snapshot = json(&sub.snapshot(
            rows(vec![queue("sales", 0, "t")], vec![]),
            Instant::now(),
            MIN,
        ));
        assert!(snapshot.get("agents").is_none(), "{snapshot}");
        sub.mark_pending();
        let delta = sub
            .delta(rows(vec![], vec![]), Instant::now(), MIN)
            .expect("sales is gone");
        let delta = json(&delta);
        assert_eq!(delta["queues"]["remove"], json!(["sales"]));
        assert!(delta.get("agents").is_none(), "{delta}");
    }

    #[test]
    fn pacing_allows_one_message_per_min_interval() {
        let start = Instant::now();
        let mut sub = Subscription::new("w".to_owned(), Topic::Queues, None);
        sub.snapshot(rows(vec![queue("sales", 0, "t")], vec![]), start, MIN);
        assert_eq!(sub.wake_at(), None, "nothing pending");
        sub.mark_pending();
        assert!(!sub.is_due(start + MIN / 2));
        assert_eq!(sub.wake_at(), Some(start + MIN));
        assert!(sub.is_due(start + MIN));
        let sent_at = start + MIN * 3;
        sub.delta(rows(vec![queue("sales", 1, "t")], vec![]), sent_at, MIN)
            .expect("changed");
        sub.mark_pending();
        assert_eq!(sub.wake_at(), Some(sent_at + MIN));
    }

    #[test]
    fn unsorted_rows_are_not_reported_removed() {
        let sent = by_key(vec![queue("a", 0, "t"), queue("b", 0, "t")]);
        let now = vec![queue("b", 0, "t"), queue("a", 0, "t")];
        let changes = changes(&sent, &now);
        assert!(changes.is_empty(), "{changes:?}");
    }
}
