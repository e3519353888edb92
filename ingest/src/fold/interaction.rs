//! One interaction's events, in canonical order, turned into queue visits, stamped
//! measures and agent activities. A pure function: the incremental fold and the
//! reference fold both call it, and the result depends only on the set of events.
//!
//! # Rules (metrics.md and `sample-data/fixtures/README.md`)
//! - Each `interaction.queued` opens a visit, numbered from 1 in event-time order. An
//!   `answered` (or `abandoned`, `flowed_out`) with no open visit opens a visit of its
//!   own with `queued_at = null`: an anomaly, and its wait is unknown.
//! - `offered`, `offer_missed`, `answered`, `abandoned`, `flowed_out` belong to the
//!   latest visit; `hold_*`, `transferred`, `conversation_ended`, `wrapup_completed` to
//!   the latest visit the event's agent takes part in (after a transfer the first
//!   agent's wrap-up arrives while the next visit is already open); a survey to the
//!   latest visit on its `queue_id`, else the latest answered visit.
//! - The first terminal event of a visit (by event time) wins; another is an anomaly.
//! - After `transferred` with `to_agent_id`, that agent's `answered` joins the same
//!   visit as a second leg (consult transfer to an agent): not a second answer.
//! - The visit's agent is the one who answered; its talk, hold, ACW and handle are that
//!   agent's leg. Every leg's wrap-up counts as a handled contact of its agent.
//! - A wrap-up without `conversation_ended` closes the conversation at the wrap-up:
//!   ACW 0, `conversation_ended_at` stays null.
//!
//! # Generations
//! The events of one interaction id form *generations*. A generation ends when it is
//! closed (every visit has its terminal event and every leg its wrap-up) and the next
//! event comes more than the survey window after its last event, or, while it is
//! still open, when the next event comes more than the stale timeout after its last
//! one. A generation is final once the horizon passes that point; the fold then
//! writes its rows and forgets it. Deciding this from event times alone keeps the
//! result independent of arrival order. A later generation numbers its visits from 1
//! again. Activities still open when a generation goes stale end at its last event +
//! the stale timeout.

use ccpulse_schemas::v1::{
    Channel, DialResult, Direction, KnownEventType as K, PreviewAction, TransferType,
};

use super::record::{Id, Record, empty_id};

/// Timing rules of the derivation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    /// A closed interaction still accepts events (surveys) this long after its last one.
    pub(crate) survey_window_ms: i64,
    /// An open interaction silent this long is closed as stale.
    pub(crate) stale_after_ms: i64,
}

/// How a visit left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Terminal {
    Answered,
    Abandoned,
    FlowedOut,
}

/// One agent's part in a visit.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    pub(crate) agent: Id,
    pub(crate) answered_at: i64,
    pub(crate) holds: Vec<i64>,
    pub(crate) hold_open: Option<i64>,
    pub(crate) conversation_ended_at: Option<i64>,
    pub(crate) wrapup_at: Option<i64>,
    pub(crate) disposition: Option<Id>,
}

/// One queue visit.
#[derive(Debug, Clone)]
pub(crate) struct Visit {
    pub(crate) number: u32,
    pub(crate) queue_id: Option<Id>,
    pub(crate) channel: Channel,
    pub(crate) direction: Direction,
    pub(crate) campaign_id: Option<Id>,
    pub(crate) queued_at: Option<i64>,
    pub(crate) terminal: Option<(Terminal, i64)>,
    /// Legs in the order agents joined; the first is the visit's agent.
    pub(crate) legs: Vec<Leg>,
    /// Agents named by a consult transfer to an agent, who may join as a leg.
    pub(crate) invited: Vec<Id>,
    pub(crate) transfers: u32,
    /// Open offers: agent and start.
    pub(crate) alerting: Vec<(Id, i64)>,
    pub(crate) csat: Option<u8>,
    pub(crate) in_business_hours: bool,
}

impl Visit {
    /// Closed: left the queue, and every leg wrapped up.
    pub(crate) fn is_closed(&self) -> bool {
        self.terminal.is_some() && self.legs.iter().all(|leg| leg.wrapup_at.is_some())
    }

    /// The visit's outcome column.
    pub(crate) fn outcome(&self) -> &'static str {
        match self.terminal {
            None => "in_queue",
            Some((Terminal::Abandoned, _)) => "abandoned",
            Some((Terminal::FlowedOut, _)) => "flowed_out",
            Some((Terminal::Answered, _)) => match self.legs.first() {
                Some(leg) if leg.wrapup_at.is_some() => "answered",
                _ => "in_progress",
            },
        }
    }

    /// `wait_ms`: terminal − queued (null while queued or when `queued_at` is unknown).
    pub(crate) fn wait_ms(&self) -> Option<i64> {
        Some(self.terminal?.1 - self.queued_at?)
    }
}

/// What an agent was doing for an interaction over a span of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ActivityKind {
    Alerting,
    Interacting,
    AfterContactWork,
}

/// An activity of an agent: `[start, end)`, `end` `None` while it goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Activity {
    pub(crate) agent: Id,
    pub(crate) kind: ActivityKind,
    pub(crate) start: i64,
    pub(crate) end: Option<i64>,
}

/// Inconsistent input, counted (metrics.md, "Inconsistent input: the rules").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Anomaly {
    AnsweredWithoutQueued,
    TerminalWithoutQueued,
    SecondTerminal,
    /// An event that needs a visit or an agent's leg that does not exist.
    Orphan,
    /// A generation closed as stale (open visits never finished).
    StaleInteraction,
}

impl Anomaly {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Anomaly::AnsweredWithoutQueued => "answered_without_queued",
            Anomaly::TerminalWithoutQueued => "terminal_without_queued",
            Anomaly::SecondTerminal => "second_terminal",
            Anomaly::Orphan => "orphan_event",
            Anomaly::StaleInteraction => "stale_interaction",
        }
    }
}

/// A measure of the queue visit tables.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QueueEvent {
    Offered,
    Answered {
        wait_ms: Option<i64>,
    },
    Abandoned {
        wait_ms: Option<i64>,
    },
    FlowedOut,
    Handled {
        talk_ms: i64,
        holds: Vec<i64>,
        acw_ms: i64,
    },
    Transferred(TransferType),
    Csat(u8),
}

/// A measure of the agent tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AgentEvent {
    Handled {
        talk_ms: i64,
        hold_ms: i64,
        acw_ms: i64,
    },
    OfferMissed,
}

/// A measure of the campaign tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CampaignEvent {
    Attempt,
    Result(DialResult),
    Dropped,
    PreviewAction(PreviewAction),
}

/// One measure and what it is about, stamped by [`Stamped::at`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Contribution {
    Queue {
        queue_id: Id,
        channel: Channel,
        direction: Direction,
        event: QueueEvent,
    },
    Agent {
        agent_id: Id,
        event: AgentEvent,
    },
    Campaign {
        campaign_id: Id,
        event: CampaignEvent,
    },
    Anomaly(Anomaly),
}

/// A contribution and the event time that completes it (which interval it lands in).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stamped {
    pub(crate) at: i64,
    pub(crate) contribution: Contribution,
}

/// The result of one generation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Generation {
    /// The generation's events are `events[..end]` after the earlier generations'.
    pub(crate) end: usize,
    pub(crate) visits: Vec<Visit>,
    pub(crate) stamped: Vec<Stamped>,
    pub(crate) activities: Vec<Activity>,
    /// Once the horizon passes this, no event can join the generation.
    pub(crate) complete_after: i64,
}

/// Derives every generation of one interaction's events (canonical order).
pub(crate) fn derive(
    events: &[Record],
    windows: Windows,
    in_business_hours: &dyn Fn(Option<&str>, i64) -> bool,
) -> Vec<Generation> {
    let mut generations = Vec::new();
    let mut builder = Builder::new(in_business_hours);
    for (index, event) in events.iter().enumerate() {
        if builder.started() {
            let gap = event.occurred_at - builder.last_event_at;
            let closed = builder.is_closed();
            if (closed && gap > windows.survey_window_ms)
                || (!closed && gap > windows.stale_after_ms)
            {
                let done = std::mem::replace(&mut builder, Builder::new(in_business_hours));
                generations.push(done.finish(index, windows));
            }
        }
        builder.apply(event);
    }
    if builder.started() {
        generations.push(builder.finish(events.len(), windows));
    }
    // The result stays in memory as long as the interaction: no spare capacity.
    generations.shrink_to_fit();
    generations
}

/// Folds one generation's events.
struct Builder<'f> {
    count: usize,
    last_event_at: i64,
    campaign_id: Option<Id>,
    visits: Vec<Visit>,
    stamped: Vec<Stamped>,
    activities: Vec<Activity>,
    in_business_hours: &'f dyn Fn(Option<&str>, i64) -> bool,
}

impl<'f> Builder<'f> {
    fn new(in_business_hours: &'f dyn Fn(Option<&str>, i64) -> bool) -> Self {
        Self {
            count: 0,
            last_event_at: i64::MIN,
            campaign_id: None,
            visits: Vec::new(),
            stamped: Vec::new(),
            activities: Vec::new(),
            in_business_hours,
        }
    }

    fn started(&self) -> bool {
        self.count > 0
    }

    fn is_closed(&self) -> bool {
        self.visits.iter().all(Visit::is_closed)
    }

    fn finish(mut self, end: usize, windows: Windows) -> Generation {
        let closed = self.is_closed();
        let complete_after = if closed {
            self.last_event_at + windows.survey_window_ms
        } else {
            self.last_event_at + windows.stale_after_ms
        };
        // Activities still open end when the generation completes (goes stale); until
        // the horizon passes that point they show as still going on.
        for activity in &mut self.activities {
            activity.end.get_or_insert(complete_after);
        }
        if !closed {
            self.stamped.push(Stamped {
                at: complete_after,
                contribution: Contribution::Anomaly(Anomaly::StaleInteraction),
            });
        }
        self.visits.shrink_to_fit();
        self.stamped.shrink_to_fit();
        self.activities.shrink_to_fit();
        Generation {
            end,
            visits: self.visits,
            stamped: self.stamped,
            activities: self.activities,
            complete_after,
        }
    }

    fn stamp(&mut self, at: i64, contribution: Contribution) {
        self.stamped.push(Stamped { at, contribution });
    }

    fn anomaly(&mut self, at: i64, anomaly: Anomaly) {
        self.stamp(at, Contribution::Anomaly(anomaly));
    }

    fn queue_stamp(&mut self, at: i64, visit: usize, event: QueueEvent) {
        let v = &self.visits[visit];
        let Some(queue_id) = v.queue_id.clone() else {
            return;
        };
        let contribution = Contribution::Queue {
            queue_id,
            channel: v.channel,
            direction: v.direction,
            event,
        };
        self.stamp(at, contribution);
    }

    fn start_activity(&mut self, agent: &Id, kind: ActivityKind, start: i64) {
        self.activities.push(Activity {
            agent: Id::clone(agent),
            kind,
            start,
            end: None,
        });
    }

    fn end_activity(&mut self, agent: &str, kind: ActivityKind, end: i64) {
        if let Some(activity) = self
            .activities
            .iter_mut()
            .rev()
            .find(|a| *a.agent == *agent && a.kind == kind && a.end.is_none())
        {
            activity.end = Some(end);
        }
    }

    /// Ends every open offer of `visit` at `at`.
    fn end_alerting(&mut self, visit: usize, at: i64) {
        for (agent, _) in std::mem::take(&mut self.visits[visit].alerting) {
            self.end_activity(&agent, ActivityKind::Alerting, at);
        }
    }

    fn open_visit(&mut self, event: &Record, queued_at: Option<i64>) -> usize {
        let queue_id = event.queue_id.clone();
        let campaign_id = event
            .campaign_id
            .clone()
            .or_else(|| self.campaign_id.clone());
        let in_business_hours = (self.in_business_hours)(queue_id.as_deref(), event.occurred_at);
        self.visits.push(Visit {
            number: self.visits.len() as u32 + 1,
            queue_id,
            channel: event.channel_or_default(),
            direction: event.direction_or_default(),
            campaign_id,
            queued_at,
            terminal: None,
            legs: Vec::new(),
            invited: Vec::new(),
            transfers: 0,
            alerting: Vec::new(),
            csat: None,
            in_business_hours,
        });
        self.visits.len() - 1
    }

    /// The latest visit in which `agent` has a leg, and the leg.
    fn leg_of(&self, agent: &str) -> Option<(usize, usize)> {
        self.visits.iter().enumerate().rev().find_map(|(v, visit)| {
            visit
                .legs
                .iter()
                .rposition(|leg| *leg.agent == *agent)
                .map(|l| (v, l))
        })
    }

    fn apply(&mut self, event: &Record) {
        self.count += 1;
        self.last_event_at = self.last_event_at.max(event.occurred_at);
        let kind = event.kind;
        let at = event.occurred_at;
        if let Some(campaign) = &event.campaign_id
            && self.campaign_id.is_none()
        {
            self.campaign_id = Some(Id::clone(campaign));
        }
        let agent = event.agent_id.as_ref();
        match kind {
            K::InteractionQueued => {
                let v = self.open_visit(event, Some(at));
                self.queue_stamp(at, v, QueueEvent::Offered);
            }
            K::InteractionOffered => self.offered(event, agent.unwrap_or(empty_id())),
            K::InteractionOfferMissed => {
                let agent = agent.unwrap_or(empty_id());
                if let Some(v) = self.visits.len().checked_sub(1) {
                    let visit = &mut self.visits[v];
                    if let Some(i) = visit.alerting.iter().position(|(a, _)| a == agent) {
                        visit.alerting.remove(i);
                        self.end_activity(agent, ActivityKind::Alerting, at);
                    }
                }
                self.stamp(
                    at,
                    Contribution::Agent {
                        agent_id: agent.to_owned(),
                        event: AgentEvent::OfferMissed,
                    },
                );
            }
            K::InteractionAnswered => self.answered(event, agent.unwrap_or(empty_id())),
            K::InteractionAbandoned | K::InteractionFlowedOut => {
                let terminal = if kind == K::InteractionAbandoned {
                    Terminal::Abandoned
                } else {
                    Terminal::FlowedOut
                };
                self.unanswered(event, terminal);
            }
            K::InteractionHoldStarted | K::InteractionHoldEnded => {
                let agent = agent.unwrap_or(empty_id());
                let Some((v, l)) = self.leg_of(agent) else {
                    self.anomaly(at, Anomaly::Orphan);
                    return;
                };
                let leg = &mut self.visits[v].legs[l];
                if kind == K::InteractionHoldStarted {
                    leg.hold_open.get_or_insert(at);
                } else if let Some(start) = leg.hold_open.take() {
                    leg.holds.push(at - start);
                }
            }
            K::InteractionTransferred => {
                let Some((v, _)) = agent.and_then(|a| self.leg_of(a)) else {
                    self.anomaly(at, Anomaly::Orphan);
                    return;
                };
                self.visits[v].transfers += 1;
                if let Some(to) = &event.to_agent_id {
                    self.visits[v].invited.push(Id::clone(to));
                }
                let transfer_type = event.transfer_type.unwrap_or(TransferType::Blind);
                self.queue_stamp(at, v, QueueEvent::Transferred(transfer_type));
            }
            K::InteractionConversationEnded => {
                let agent = agent.unwrap_or(empty_id());
                let Some((v, l)) = self.leg_of(agent) else {
                    self.anomaly(at, Anomaly::Orphan);
                    return;
                };
                let leg = &mut self.visits[v].legs[l];
                if leg.conversation_ended_at.is_some() {
                    return;
                }
                leg.conversation_ended_at = Some(at);
                if let Some(start) = leg.hold_open.take() {
                    leg.holds.push(at - start);
                }
                self.end_activity(agent, ActivityKind::Interacting, at);
                self.start_activity(agent, ActivityKind::AfterContactWork, at);
            }
            K::InteractionWrapupCompleted => self.wrapup(event, agent.unwrap_or(empty_id())),
            K::InteractionSurveyCompleted => self.survey(event),
            K::DialerAttempted | K::DialerResult | K::DialerDropped | K::DialerPreviewAction => {
                let Some(campaign_id) = &event.campaign_id else {
                    return;
                };
                let campaign_event = match kind {
                    K::DialerAttempted => CampaignEvent::Attempt,
                    K::DialerResult => match event.result {
                        Some(result) => CampaignEvent::Result(result),
                        None => return,
                    },
                    K::DialerDropped => CampaignEvent::Dropped,
                    _ => match event.action {
                        Some(action) => CampaignEvent::PreviewAction(action),
                        None => return,
                    },
                };
                self.stamp(
                    at,
                    Contribution::Campaign {
                        campaign_id: Id::clone(campaign_id),
                        event: campaign_event,
                    },
                );
            }
            // No measure of metrics.md depends on these.
            K::InteractionCreated
            | K::InteractionFirstResponse
            | K::InteractionEnded
            | K::AgentLoggedIn
            | K::AgentStateChanged
            | K::AgentLoggedOut
            | K::AgentHeartbeat => {}
        }
    }

    fn offered(&mut self, event: &Record, agent: &Id) {
        let at = event.occurred_at;
        let Some(v) = self.visits.len().checked_sub(1) else {
            self.anomaly(at, Anomaly::Orphan);
            return;
        };
        let visit = &self.visits[v];
        let may_alert = match visit.terminal {
            None => true,
            Some((Terminal::Answered, _)) => visit.invited.iter().any(|a| a == agent),
            Some(_) => false,
        };
        if !may_alert {
            self.anomaly(at, Anomaly::Orphan);
            return;
        }
        if visit.alerting.iter().any(|(a, _)| a == agent) {
            return;
        }
        self.visits[v].alerting.push((agent.to_owned(), at));
        self.start_activity(agent, ActivityKind::Alerting, at);
    }

    fn answered(&mut self, event: &Record, agent: &Id) {
        let at = event.occurred_at;
        let v = match self.visits.len().checked_sub(1) {
            Some(v) => v,
            None => {
                self.anomaly(at, Anomaly::AnsweredWithoutQueued);
                self.open_visit(event, None)
            }
        };
        if let Some((terminal, _)) = self.visits[v].terminal {
            let visit = &self.visits[v];
            let joins = terminal == Terminal::Answered
                && visit.invited.iter().any(|a| a == agent)
                && !visit.legs.iter().any(|leg| leg.agent == *agent);
            if !joins {
                self.anomaly(at, Anomaly::SecondTerminal);
                return;
            }
            self.visits[v].alerting.retain(|(a, _)| a != agent);
            self.end_activity(agent, ActivityKind::Alerting, at);
        } else {
            let wait_ms = self.visits[v].queued_at.map(|queued| at - queued);
            self.visits[v].terminal = Some((Terminal::Answered, at));
            self.end_alerting(v, at);
            self.queue_stamp(at, v, QueueEvent::Answered { wait_ms });
        }
        self.visits[v].legs.push(Leg {
            agent: Id::clone(agent),
            answered_at: at,
            holds: Vec::new(),
            hold_open: None,
            conversation_ended_at: None,
            wrapup_at: None,
            disposition: None,
        });
        self.start_activity(agent, ActivityKind::Interacting, at);
    }

    fn unanswered(&mut self, event: &Record, terminal: Terminal) {
        let at = event.occurred_at;
        let v = match self.visits.len().checked_sub(1) {
            Some(v) => v,
            None => {
                self.anomaly(at, Anomaly::TerminalWithoutQueued);
                self.open_visit(event, None)
            }
        };
        if self.visits[v].terminal.is_some() {
            self.anomaly(at, Anomaly::SecondTerminal);
            return;
        }
        let wait_ms = self.visits[v].queued_at.map(|queued| at - queued);
        self.visits[v].terminal = Some((terminal, at));
        self.end_alerting(v, at);
        let measure = match terminal {
            Terminal::Abandoned => QueueEvent::Abandoned { wait_ms },
            _ => QueueEvent::FlowedOut,
        };
        self.queue_stamp(at, v, measure);
    }

    fn wrapup(&mut self, event: &Record, agent: &Id) {
        let at = event.occurred_at;
        let Some((v, l)) = self.leg_of(agent) else {
            self.anomaly(at, Anomaly::Orphan);
            return;
        };
        let leg = &mut self.visits[v].legs[l];
        if leg.wrapup_at.is_some() {
            return;
        }
        leg.wrapup_at = Some(at);
        leg.disposition = event.disposition.clone();
        if let Some(start) = leg.hold_open.take() {
            leg.holds.push(at - start);
        }
        let ended = leg.conversation_ended_at.unwrap_or(at);
        let hold_ms: i64 = leg.holds.iter().sum();
        let talk_ms = ended - leg.answered_at - hold_ms;
        let acw_ms = at - ended;
        let holds = leg.holds.clone();
        if leg.conversation_ended_at.is_some() {
            self.end_activity(agent, ActivityKind::AfterContactWork, at);
        } else {
            self.end_activity(agent, ActivityKind::Interacting, at);
        }
        if l == 0 {
            self.queue_stamp(
                at,
                v,
                QueueEvent::Handled {
                    talk_ms,
                    holds,
                    acw_ms,
                },
            );
        }
        self.stamp(
            at,
            Contribution::Agent {
                agent_id: agent.to_owned(),
                event: AgentEvent::Handled {
                    talk_ms,
                    hold_ms,
                    acw_ms,
                },
            },
        );
    }

    fn survey(&mut self, event: &Record) {
        let at = event.occurred_at;
        let by_queue = event.queue_id.as_deref().and_then(|queue| {
            self.visits
                .iter()
                .rposition(|v| v.queue_id.as_deref() == Some(queue))
        });
        let target = by_queue.or_else(|| {
            self.visits
                .iter()
                .rposition(|v| matches!(v.terminal, Some((Terminal::Answered, _))))
        });
        let (Some(v), Some(score)) = (target, event.csat) else {
            if target.is_none() {
                self.anomaly(at, Anomaly::Orphan);
            }
            return;
        };
        if self.visits[v].csat.is_some() {
            return;
        }
        self.visits[v].csat = Some(score);
        self.queue_stamp(at, v, QueueEvent::Csat(score));
    }
}
