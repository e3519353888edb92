//! Agents' effective state over time: presence (from `agent.*` events) combined with
//! activities (alerting, interacting, ACW, from the interactions).
//!
//! The effective state is, by priority, `alerting` while any offer is open,
//! `interacting` while any answered leg has not ended, `after_contact_work` while any
//! leg is in ACW, else the presence (`available`, `away` with its reason, `offline`).
//! Nothing is recorded while the agent is logged out. Until its first
//! `agent.state_changed` a logged-in agent is `away` with no reason.
//!
//! [`AgentTimeline`] keeps the part of an agent's history that may still change: the
//! status at `base_at` (everything before it is final and already emitted), the
//! presence events from `base_at` on, and the activities that reach past `base_at`.

use std::collections::BTreeMap;

use datafusion::common::HashMap;

use ccpulse_schemas::metrics::{INTERVAL_MS, interval_start};
use ccpulse_schemas::v1::{Event, KnownEventType as K, Presence};

use super::interaction::{Activity, ActivityKind};
use super::measures::AgentMeasures;

/// An effective state of metrics.md.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EffectiveState {
    Available,
    Alerting,
    Interacting,
    AfterContactWork,
    Away(Option<String>),
    Offline,
}

impl EffectiveState {
    /// The `state` column.
    pub fn name(&self) -> &'static str {
        match self {
            EffectiveState::Available => "available",
            EffectiveState::Alerting => "alerting",
            EffectiveState::Interacting => "interacting",
            EffectiveState::AfterContactWork => "after_contact_work",
            EffectiveState::Away(_) => "away",
            EffectiveState::Offline => "offline",
        }
    }

    /// The `reason` column (away reason).
    pub fn reason(&self) -> Option<&str> {
        match self {
            EffectiveState::Away(reason) => reason.as_deref(),
            _ => None,
        }
    }

    /// Every state name, in the order of the live tables.
    pub const NAMES: [&'static str; 6] = [
        "available",
        "alerting",
        "interacting",
        "after_contact_work",
        "away",
        "offline",
    ];
}

/// Presence and login as set by `agent.*` events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) logged_in: bool,
    pub(crate) presence: Option<(Presence, Option<String>)>,
    pub(crate) queues: Vec<String>,
    /// `team_id` of the latest login.
    pub(crate) team_id: Option<String>,
    /// Channels of the latest login's `capacity` (sorted).
    pub(crate) channels: Vec<String>,
}

impl Status {
    pub(crate) fn apply(&mut self, event: &Event<'_>) {
        match event.event_type.known() {
            Some(K::AgentLoggedIn) => {
                self.logged_in = true;
                self.presence = None;
                self.queues = event
                    .queues
                    .iter()
                    .flatten()
                    .map(|q| q.to_string())
                    .collect();
                self.team_id = event.team_id.as_deref().map(str::to_owned);
                let mut channels: Vec<String> = event
                    .capacity
                    .iter()
                    .flatten()
                    .map(|(channel, _)| channel.to_string())
                    .collect();
                channels.sort();
                channels.dedup();
                self.channels = channels;
            }
            Some(K::AgentStateChanged) => {
                if let Some(state) = event.state {
                    let reason = event.reason.as_deref().map(str::to_owned);
                    self.presence = Some((state, reason));
                }
            }
            Some(K::AgentLoggedOut) => {
                self.logged_in = false;
                self.presence = None;
            }
            _ => {}
        }
    }

    fn presence_state(&self) -> EffectiveState {
        match &self.presence {
            Some((Presence::Available, _)) => EffectiveState::Available,
            Some((Presence::Offline, _)) => EffectiveState::Offline,
            Some((Presence::Away, reason)) => EffectiveState::Away(reason.clone()),
            None => EffectiveState::Away(None),
        }
    }
}

/// A piece of the timeline with one state (`None`: logged out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) state: Option<EffectiveState>,
}

/// A completed (or, at a snapshot, still open) state span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) state: EffectiveState,
    pub(crate) start: i64,
    pub(crate) end: Option<i64>,
}

/// The still-changing part of one agent's history.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentTimeline {
    /// Everything before this instant is final and emitted.
    pub(crate) base_at: i64,
    /// The status after every presence event before `base_at`.
    pub(crate) status: Status,
    /// The span in effect just before `base_at`, if any.
    pub(crate) open_span: Option<(EffectiveState, i64)>,
    /// Presence events at or after `base_at`, in canonical order.
    pub(crate) events: Vec<Event<'static>>,
    /// Activities of interactions still in memory, by interaction id.
    pub(crate) activities: HashMap<String, Vec<Activity>>,
    /// Activities of interactions already finalised that reach past `base_at`.
    pub(crate) retired: Vec<Activity>,
}

/// What advancing or snapshotting a timeline produced.
#[derive(Debug, Default)]
pub(crate) struct TimelineOutput {
    /// Spans that ended (final when advancing; at a snapshot the last may be open).
    pub(crate) spans: Vec<Span>,
    /// Time in state per interval.
    pub(crate) intervals: BTreeMap<i64, AgentMeasures>,
}

impl AgentTimeline {
    pub(crate) fn new(base_at: i64) -> Self {
        Self {
            base_at,
            ..Self::default()
        }
    }

    fn all_activities(&self) -> impl Iterator<Item = &Activity> {
        self.activities.values().flatten().chain(&self.retired)
    }

    /// The segments of `[self.base_at, to)`.
    pub(crate) fn segments(&self, to: i64) -> Vec<Segment> {
        let from = self.base_at;
        if to <= from {
            return Vec::new();
        }
        // Only activities overlapping `[from, to]` can cover an instant of it. The others
        // (mostly those of closed interactions still in their survey window) are
        // skipped once here instead of at every boundary: with them, advancing every
        // agent cost the square of the interactions an agent handles in an hour.
        let activities: Vec<&Activity> = self
            .all_activities()
            .filter(|a| a.start <= to && a.end.is_none_or(|end| end > from))
            .collect();
        let mut bounds = vec![from, to];
        bounds.extend(self.events.iter().map(|e| e.occurred_at));
        for activity in &activities {
            bounds.push(activity.start);
            bounds.extend(activity.end);
        }
        bounds.retain(|&b| (from..=to).contains(&b));
        bounds.sort_unstable();
        bounds.dedup();

        let mut status = self.status.clone();
        let mut next_event = 0;
        let mut segments = Vec::with_capacity(bounds.len());
        for pair in bounds.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            while let Some(event) = self.events.get(next_event)
                && event.occurred_at <= start
            {
                status.apply(event);
                next_event += 1;
            }
            segments.push(Segment {
                start,
                end,
                state: state_at(&status, start, activities.iter().copied()),
            });
        }
        segments
    }

    /// The state at the instant `at` (events at `at` included) and the presence status
    /// then (queues served, team, channels).
    pub(crate) fn state_now(&self, at: i64) -> (Option<EffectiveState>, Status) {
        let mut status = self.status.clone();
        for event in self.events.iter().filter(|e| e.occurred_at <= at) {
            status.apply(event);
        }
        let state = state_at(&status, at, self.all_activities());
        (state, status)
    }

    /// Spans and interval time from `base_at` to `to`, starting from the open span.
    /// With `open_end`, the span still going on at `to` is returned open.
    fn walk(&self, to: i64, open_end: bool) -> (TimelineOutput, Option<(EffectiveState, i64)>) {
        let mut out = TimelineOutput::default();
        let mut open = self.open_span.clone();
        for segment in self.segments(to) {
            let same = match (&open, &segment.state) {
                (Some((state, _)), Some(now)) => state == now,
                (None, None) => true,
                _ => false,
            };
            if !same {
                if let Some((state, start)) = open.take()
                    && segment.start > start
                {
                    out.spans.push(Span {
                        state,
                        start,
                        end: Some(segment.start),
                    });
                }
                open = segment.state.clone().map(|state| (state, segment.start));
            }
            if let Some(state) = &segment.state {
                add_time(&mut out.intervals, state, segment.start, segment.end);
            }
        }
        if open_end {
            // The state at `to` itself (events at `to` included) is the one going on.
            let (now, _) = self.state_now(to);
            if open.as_ref().map(|(state, _)| state) != now.as_ref() {
                if let Some((state, start)) = open.take()
                    && to > start
                {
                    out.spans.push(Span {
                        state,
                        start,
                        end: Some(to),
                    });
                }
                open = now.map(|state| (state, to));
            }
            if let Some((state, start)) = &open {
                out.spans.push(Span {
                    state: state.clone(),
                    start: *start,
                    end: None,
                });
            }
        }
        (out, open)
    }

    /// Makes everything before `to` final: returns its spans and time and moves
    /// `base_at` to `to`.
    pub(crate) fn advance(&mut self, to: i64) -> TimelineOutput {
        if to <= self.base_at {
            return TimelineOutput::default();
        }
        let (out, open) = self.walk(to, false);
        self.open_span = open;
        let keep_from = self.events.partition_point(|e| e.occurred_at < to);
        for event in self.events.drain(..keep_from) {
            self.status.apply(&event);
        }
        self.base_at = to;
        self.retired.retain(|a| a.end.is_none_or(|end| end > to));
        out
    }

    /// The still-provisional spans and time from `base_at` to `as_of` (the span in
    /// progress at `as_of` open).
    pub(crate) fn provisional(&self, as_of: i64) -> TimelineOutput {
        self.walk(as_of, true).0
    }

    /// Whether the agent has nothing left that could change (logged out, no activity).
    pub(crate) fn is_idle(&self) -> bool {
        !self.status.logged_in
            && self.open_span.is_none()
            && self.events.is_empty()
            && self.retired.is_empty()
            && self.activities.values().all(Vec::is_empty)
    }
}

/// The effective state at `at` of an agent with presence `status`, from the activities
/// that may cover `at` (the highest-ranked covering one wins over presence).
fn state_at<'a>(
    status: &Status,
    at: i64,
    activities: impl Iterator<Item = &'a Activity>,
) -> Option<EffectiveState> {
    if !status.logged_in {
        return None;
    }
    let mut best: Option<ActivityKind> = None;
    for activity in activities {
        let covers = activity.start <= at && activity.end.is_none_or(|end| at < end);
        if covers && best.is_none_or(|b| activity.kind < b) {
            best = Some(activity.kind);
        }
    }
    Some(match best {
        Some(ActivityKind::Alerting) => EffectiveState::Alerting,
        Some(ActivityKind::Interacting) => EffectiveState::Interacting,
        Some(ActivityKind::AfterContactWork) => EffectiveState::AfterContactWork,
        None => status.presence_state(),
    })
}

/// Adds `[start, end)` in `state` to the per-interval time, split at boundaries.
fn add_time(
    intervals: &mut BTreeMap<i64, AgentMeasures>,
    state: &EffectiveState,
    start: i64,
    end: i64,
) {
    let mut at = start;
    while at < end {
        let interval = interval_start(at);
        let until = end.min(interval + INTERVAL_MS);
        let ms = until - at;
        let m = intervals.entry(interval).or_default();
        m.login_ms += ms;
        match state {
            EffectiveState::Available => m.available_ms += ms,
            EffectiveState::Alerting => m.alerting_ms += ms,
            EffectiveState::Interacting => m.interacting_ms += ms,
            EffectiveState::AfterContactWork => m.after_contact_work_ms += ms,
            EffectiveState::Away(reason) => {
                m.away_ms += ms;
                if let Some(reason) = reason {
                    *m.away_by_reason.entry(reason.clone()).or_default() += ms;
                }
            }
            EffectiveState::Offline => m.offline_ms += ms,
        }
        at = until;
    }
}
