//! The discrete-event core: a calendar of pending actions processed in time order, the
//! state of every open contact and logged-in agent, and the events each action emits.
//!
//! Every event is stamped with the time of the action that emits it, and actions run in
//! `(time, insertion order)` order, so the output is time-ordered with a stable tie-break
//! without any sorting. Only open work is held: a pending action per arrival stream, per
//! open contact and per working agent, so memory does not grow with the length of a run.
//!
//! # Layout
//! - [`plan`]: arrivals (time-varying Poisson by thinning) and the daily shift plan.
//! - [`contact`]: a contact's path through queues, offers, talk, holds, transfers and close.
//! - [`agent`]: presence, breaks, shifts and routing of waiting work to a free agent.
//! - [`dialer`]: predictive pacing and preview dialing.

mod agent;
mod contact;
mod dialer;
mod plan;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use ccpulse_schemas::v1::{Channel, DialResult, Direction, Event, EventType, KnownEventType};

use super::SimConfig;
use super::calendar::LocalClock;
use super::model::TenantProfile;
use super::rng::{Rng, mix};

/// The simulation: all tenants share one calendar so their events interleave in time.
#[derive(Debug)]
pub(crate) struct Engine {
    calendar: BinaryHeap<Scheduled>,
    next_seq: u64,
    end_ms: i64,
    tenants: Vec<TenantSim>,
}

impl Engine {
    pub(crate) fn new(config: &SimConfig, profiles: &[TenantProfile]) -> Engine {
        let tag = mix(&[config.seed, config.start_ms as u64, config.scale.to_bits()]) & 0xFF_FFFF;
        let tenants = profiles
            .iter()
            .enumerate()
            .map(|(i, p)| TenantSim::new(i as u16, p.clone(), config, tag))
            .collect();
        let mut engine = Engine {
            calendar: BinaryHeap::new(),
            next_seq: 0,
            end_ms: config.start_ms.saturating_add(config.duration_ms),
            tenants,
        };
        let mut scratch = VecDeque::new();
        for t in 0..engine.tenants.len() {
            let (tenants, mut ctx) = engine.split(t, config.start_ms, &mut scratch);
            tenants[t].start(&mut ctx);
        }
        debug_assert!(scratch.is_empty(), "starting emits nothing");
        engine
    }

    /// Runs the next action, appending its events to `out`; `false` once nothing is left
    /// before the end of the run.
    pub(crate) fn step(&mut self, out: &mut VecDeque<Event<'static>>) -> bool {
        let Some(next) = self.calendar.pop() else {
            return false;
        };
        if next.at >= self.end_ms {
            // Everything left is at or after the end: drop it all.
            self.calendar.clear();
            return false;
        }
        let t = usize::from(next.tenant);
        let (tenants, mut ctx) = self.split(t, next.at, out);
        tenants[t].handle(&mut ctx, next.action);
        true
    }

    /// Pending actions: the measure of open work (for tests of bounded memory).
    pub(crate) fn pending(&self) -> usize {
        self.calendar.len()
    }

    fn split<'a>(
        &'a mut self,
        tenant: usize,
        now: i64,
        out: &'a mut VecDeque<Event<'static>>,
    ) -> (&'a mut [TenantSim], Ctx<'a>) {
        let ctx = Ctx {
            now,
            tenant: tenant as u16,
            end_ms: self.end_ms,
            calendar: &mut self.calendar,
            next_seq: &mut self.next_seq,
            out,
        };
        (&mut self.tenants, ctx)
    }
}

/// One pending action.
#[derive(Debug)]
struct Scheduled {
    at: i64,
    seq: u64,
    tenant: u16,
    action: Action,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed: [`BinaryHeap`] is a max-heap and the earliest action must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// What an action does when its time comes. Small and `Copy`: the state it acts on lives
/// in the tenant, and tokens let an action notice that it was superseded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    /// Plan the shifts of local day `day` (days since 1970-01-01).
    PlanDay { day: i64 },
    /// A contact arrives on `queue`.
    Arrival { queue: u16 },
    /// A step of the contact in `slot`, valid while the slot holds generation `generation`.
    Contact {
        slot: u32,
        generation: u32,
        step: ContactStep,
    },
    /// A step of an agent, valid during shift number `shift` (wrap-ups ignore the shift).
    Agent {
        agent: u32,
        shift: u32,
        step: AgentStep,
    },
    /// The predictive dialer re-checks its pacing.
    CampaignTick { campaign: u16 },
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum ContactStep {
    /// IVR or pre-chat done: enter the queue.
    Enqueue,
    /// Patience, maximum wait or a callback / voicemail offer is due.
    QueueTimer {
        tok: u32,
    },
    /// The alerting agent answers or misses.
    OfferEnd {
        tok: u32,
        outcome: OfferOutcome,
    },
    /// A talk segment is over: hold, transfer or end.
    Talk {
        tok: u32,
    },
    HoldEnd {
        tok: u32,
    },
    FirstResponse,
    Survey,
    /// `interaction.ended` of a digital contact.
    Close,
    /// Preview dialing: the agent decides about the record.
    PreviewDecision,
    /// Preview dialing: the accepted record is dialed.
    Dial,
    DialResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OfferOutcome {
    Answer,
    Timeout,
    Reject,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum AgentStep {
    Login,
    BreakStart { reason: AwayReason, minutes: u16 },
    BreakEnd { reason: AwayReason },
    NoAnswerReturn,
    ShiftEnd,
    Wrapup { work: u32 },
}

/// Why an agent is away (`agent.state_changed` reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AwayReason {
    Break,
    Lunch,
    Meeting,
    Training,
    /// Set by the system after an offer timed out (RONA).
    NoAnswer,
    /// Finishing the last contacts before logging out.
    EndOfShift,
}

impl AwayReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AwayReason::Break => "break",
            AwayReason::Lunch => "lunch",
            AwayReason::Meeting => "meeting",
            AwayReason::Training => "training",
            AwayReason::NoAnswer => "no_answer",
            AwayReason::EndOfShift => "end_of_shift",
        }
    }
}

/// What one action may touch besides its tenant: the clock, the calendar and the output.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) now: i64,
    tenant: u16,
    end_ms: i64,
    calendar: &'a mut BinaryHeap<Scheduled>,
    next_seq: &'a mut u64,
    pub(crate) out: &'a mut VecDeque<Event<'static>>,
}

impl Ctx<'_> {
    /// Schedules `action` at `at` (never before now); `false` (and nothing scheduled) when
    /// that is past the end of the run.
    pub(crate) fn at(&mut self, at: i64, action: Action) -> bool {
        let at = at.max(self.now);
        if at >= self.end_ms {
            return false;
        }
        *self.next_seq += 1;
        self.calendar.push(Scheduled {
            at,
            seq: *self.next_seq,
            tenant: self.tenant,
            action,
        });
        true
    }

    pub(crate) fn after(&mut self, delay_ms: i64, action: Action) -> bool {
        self.at(self.now.saturating_add(delay_ms.max(0)), action)
    }

    pub(crate) fn end_ms(&self) -> i64 {
        self.end_ms
    }
}

/// Event and interaction ids: `{tenant}-{run tag}-{n}`. The run tag (a hash of seed, start
/// and scale) keeps ids of different runs apart when they share a topic, while the same run
/// always produces the same ids.
#[derive(Debug)]
pub(crate) struct Ids {
    tenant_id: String,
    prefix: String,
    events: u64,
    contacts: u64,
}

impl Ids {
    /// A new event of `kind` at `now` with the envelope filled in.
    pub(crate) fn event(&mut self, now: i64, kind: KnownEventType) -> Event<'static> {
        self.events += 1;
        Event {
            schema_version: 1,
            event_id: Cow::Owned(format!("{}{}", self.prefix, self.events)),
            tenant_id: Cow::Owned(self.tenant_id.clone()),
            event_type: EventType::Known(kind),
            occurred_at: now,
            ..Default::default()
        }
    }

    fn interaction_id(&mut self, outbound: bool) -> String {
        self.contacts += 1;
        let kind = if outbound { 'o' } else { 'c' };
        format!("{}{kind}{}", self.prefix, self.contacts)
    }
}

/// Index of a channel in per-channel arrays.
pub(crate) fn ch(channel: Channel) -> usize {
    match channel {
        Channel::Voice => 0,
        Channel::Chat => 1,
        Channel::Email => 2,
        Channel::Sms => 3,
        Channel::Callback => 4,
        Channel::Video => 5,
        Channel::Task => 6,
    }
}

/// Where a contact is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContactState {
    /// In the IVR / bot / pre-chat form.
    Ivr,
    /// Queued, waiting for an agent.
    Waiting,
    /// Offered to `Contact::agent`.
    Alerting,
    Talking,
    Held,
    /// Outbound: a record being previewed or dialed.
    Dialing,
    /// Nothing more happens except pending side events (survey, first response, close).
    Closed,
}

/// How a transfer planned at answer time goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferPlan {
    None,
    /// To another queue: a new visit there.
    Queue {
        target: u16,
        consult: bool,
    },
    /// Consult transfer to another agent of the same queue (same visit).
    Agent,
}

/// The talk of one agent leg: `segments[0]`, hold, `segments[1]`, hold, … then an optional
/// consult hold and transfer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TalkPlan {
    pub(crate) segments: [i64; 3],
    pub(crate) holds: [i64; 2],
    pub(crate) n_holds: u8,
    pub(crate) done_holds: u8,
    pub(crate) transfer: TransferPlan,
    pub(crate) consult_ms: i64,
    pub(crate) consulted: bool,
}

impl TalkPlan {
    const EMPTY: TalkPlan = TalkPlan {
        segments: [0; 3],
        holds: [0; 2],
        n_holds: 0,
        done_holds: 0,
        transfer: TransferPlan::None,
        consult_ms: 0,
        consulted: false,
    };
}

/// One interaction (inbound contact or outbound dial) while anything about it is pending.
#[derive(Debug, Clone)]
pub(crate) struct Contact {
    pub(crate) live: bool,
    pub(crate) generation: u32,
    pub(crate) id: String,
    pub(crate) channel: Channel,
    pub(crate) direction: Direction,
    pub(crate) campaign: Option<u16>,
    pub(crate) queue: u16,
    pub(crate) visits: u16,
    pub(crate) state: ContactState,
    pub(crate) queued_at: i64,
    /// Absolute deadlines of the current visit; `i64::MAX` when not applicable.
    pub(crate) patience_at: i64,
    pub(crate) max_wait_at: i64,
    /// When the queue offers a callback or voicemail.
    pub(crate) offer_at: i64,
    /// Tokens: an action carrying an older one was superseded.
    pub(crate) timer_tok: u32,
    pub(crate) flow_tok: u32,
    /// The agent who last missed the offer of this visit (not offered again).
    pub(crate) missed_by: Option<u32>,
    /// The agent alerting, talking, or (preview) reserved for this contact.
    pub(crate) agent: u32,
    pub(crate) has_agent: bool,
    pub(crate) plan: TalkPlan,
    pub(crate) transfers: u8,
    pub(crate) waited_ms: i64,
    /// Side events (survey, first response, close) still scheduled.
    pub(crate) pending: u8,
    pub(crate) close_outcome: &'static str,
    pub(crate) csat: u8,
    pub(crate) nps: u8,
    pub(crate) dial_result: DialResult,
    pub(crate) amd_ms: Option<i64>,
}

impl Contact {
    fn empty() -> Contact {
        Contact {
            live: false,
            generation: 0,
            id: String::new(),
            channel: Channel::Voice,
            direction: Direction::Inbound,
            campaign: None,
            queue: 0,
            visits: 0,
            state: ContactState::Closed,
            queued_at: 0,
            patience_at: i64::MAX,
            max_wait_at: i64::MAX,
            offer_at: i64::MAX,
            timer_tok: 0,
            flow_tok: 0,
            missed_by: None,
            agent: 0,
            has_agent: false,
            plan: TalkPlan::EMPTY,
            transfers: 0,
            waited_ms: 0,
            pending: 0,
            close_outcome: "",
            csat: 0,
            nps: 0,
            dial_result: DialResult::NoAnswer,
            amd_ms: None,
        }
    }
}

/// Presence as the agent (or the system) set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Offline,
    Available,
    Away(AwayReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkPhase {
    Alerting,
    Connected,
    AfterContactWork,
}

/// A contact an agent holds capacity for: from the offer (or connect) to the wrap-up. Kept
/// on the agent, not the contact, because the contact moves on after a transfer while the
/// agent still does after-contact work for it.
#[derive(Debug, Clone)]
pub(crate) struct Work {
    pub(crate) key: u32,
    pub(crate) interaction_id: String,
    pub(crate) queue: u16,
    pub(crate) channel: Channel,
    pub(crate) direction: Direction,
    pub(crate) campaign: Option<u16>,
    pub(crate) phase: WorkPhase,
    pub(crate) disposition: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub(crate) id: String,
    pub(crate) team: u16,
    pub(crate) capacity: [u8; 7],
    pub(crate) active: [u8; 7],
    pub(crate) logged_in: bool,
    pub(crate) status: Status,
    /// The shift being worked; actions of other shifts are stale.
    pub(crate) shift: u32,
    pub(crate) shifts_planned: u32,
    /// Shift over: finish the work in hand, then log out.
    pub(crate) leaving: bool,
    /// Preview dialing: holding a record, not routable.
    pub(crate) reserved: bool,
    /// Last offer, wrap-up or return to available: routing prefers the longest idle.
    pub(crate) last_activity: i64,
    /// Planning: the earliest start of this agent's next shift (rest time included).
    pub(crate) free_from: i64,
    pub(crate) work: Vec<Work>,
}

impl Agent {
    /// Can take a new contact of channel index `c` now.
    pub(crate) fn routable(&self, c: usize) -> bool {
        self.logged_in
            && self.status == Status::Available
            && !self.leaving
            && !self.reserved
            && self.active[c] < self.capacity[c]
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct QueueSim {
    /// Waiting contacts (slots), oldest first.
    pub(crate) waiting: VecDeque<u32>,
    /// Agents serving the queue, in creation order.
    pub(crate) agents: Vec<u32>,
    /// Arrival rate at scale: `daily × scale / ∫curve`, contacts per ms per unit intensity.
    pub(crate) base_rate: f64,
    /// Upper bound of the arrival rate, for thinning.
    pub(crate) max_rate: f64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct CampaignSim {
    /// Predictive: dials waiting for their result.
    pub(crate) in_flight: u32,
}

/// Salt of the per-tenant random streams.
const TENANT_STREAM: u64 = 0x7E4A_4700;

/// One tenant's whole state.
#[derive(Debug)]
pub(crate) struct TenantSim {
    index: u16,
    p: TenantProfile,
    rng: Rng,
    clock: LocalClock,
    ids: Ids,
    seed: u64,
    scale: f64,
    queues: Vec<QueueSim>,
    agents: Vec<Agent>,
    /// Agents per team, in creation order.
    team_agents: Vec<Vec<u32>>,
    /// The campaign a team works, if any.
    team_campaign: Vec<Option<u16>>,
    campaigns: Vec<CampaignSim>,
    contacts: Vec<Contact>,
    free_slots: Vec<u32>,
    next_gen: u32,
    next_work: u32,
}

impl TenantSim {
    fn new(index: u16, p: TenantProfile, config: &SimConfig, tag: u64) -> TenantSim {
        let team_campaign = (0..p.teams.len())
            .map(|t| {
                p.campaigns
                    .iter()
                    .position(|c| c.team == t)
                    .map(|c| c as u16)
            })
            .collect();
        TenantSim {
            index,
            rng: Rng::new(mix(&[config.seed, u64::from(index), TENANT_STREAM])),
            clock: LocalClock::new(p.timezone),
            ids: Ids {
                tenant_id: p.tenant_id.clone(),
                prefix: format!("{}-{tag:06x}-", p.tenant_id),
                events: 0,
                contacts: 0,
            },
            seed: config.seed,
            scale: config.scale,
            queues: vec![QueueSim::default(); p.queues.len()],
            agents: Vec::new(),
            team_agents: vec![Vec::new(); p.teams.len()],
            team_campaign,
            campaigns: vec![CampaignSim::default(); p.campaigns.len()],
            contacts: Vec::new(),
            free_slots: Vec::new(),
            next_gen: 0,
            next_work: 0,
            p,
        }
    }

    fn handle(&mut self, ctx: &mut Ctx<'_>, action: Action) {
        match action {
            Action::PlanDay { day } => self.plan_day(ctx, day),
            Action::Arrival { queue } => self.arrival(ctx, queue),
            Action::Contact {
                slot,
                generation,
                step,
            } => {
                let c = &self.contacts[slot as usize];
                if c.live && c.generation == generation {
                    self.contact_step(ctx, slot, step);
                }
            }
            Action::Agent { agent, shift, step } => self.agent_step(ctx, agent, shift, step),
            Action::CampaignTick { campaign } => self.campaign_tick(ctx, campaign),
        }
    }

    fn contact_action(&self, slot: u32, step: ContactStep) -> Action {
        Action::Contact {
            slot,
            generation: self.contacts[slot as usize].generation,
            step,
        }
    }

    /// A fresh contact slot.
    fn alloc_contact(
        &mut self,
        channel: Channel,
        direction: Direction,
        campaign: Option<u16>,
        queue: u16,
    ) -> u32 {
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.contacts.push(Contact::empty());
                (self.contacts.len() - 1) as u32
            }
        };
        self.next_gen = self.next_gen.wrapping_add(1);
        let id = self.ids.interaction_id(direction == Direction::Outbound);
        let old = &self.contacts[slot as usize];
        // Tokens continue across reuse so stale actions of the previous occupant stay stale.
        let (timer_tok, flow_tok) = (old.timer_tok, old.flow_tok);
        self.contacts[slot as usize] = Contact {
            live: true,
            generation: self.next_gen,
            id,
            channel,
            direction,
            campaign,
            queue,
            timer_tok,
            flow_tok,
            ..Contact::empty()
        };
        slot
    }

    /// Frees the slot once the contact's flow is over and no side event is pending.
    fn release_if_done(&mut self, slot: u32) {
        let c = &mut self.contacts[slot as usize];
        if c.live && c.state == ContactState::Closed && c.pending == 0 {
            c.live = false;
            c.id = String::new();
            self.free_slots.push(slot);
        }
    }

    /// An event about contact `c` on its current queue.
    fn contact_event(&mut self, now: i64, kind: KnownEventType, slot: u32) -> Event<'static> {
        let c = &self.contacts[slot as usize];
        let mut ev = self.ids.event(now, kind);
        ev.interaction_id = Some(Cow::Owned(c.id.clone()));
        ev.channel = Some(c.channel);
        ev.direction = Some(c.direction);
        ev.queue_id = Some(Cow::Owned(
            self.p.queues[usize::from(c.queue)].queue_id.clone(),
        ));
        if let Some(k) = c.campaign {
            ev.campaign_id = Some(Cow::Owned(
                self.p.campaigns[usize::from(k)].campaign_id.clone(),
            ));
        }
        ev
    }

    /// An event about an agent's piece of work.
    fn work_event(
        &mut self,
        now: i64,
        kind: KnownEventType,
        agent: u32,
        key: u32,
    ) -> Event<'static> {
        let a = &self.agents[agent as usize];
        let mut ev = self.ids.event(now, kind);
        if let Some(w) = a.work.iter().find(|w| w.key == key) {
            ev.interaction_id = Some(Cow::Owned(w.interaction_id.clone()));
            ev.channel = Some(w.channel);
            ev.direction = Some(w.direction);
            ev.queue_id = Some(Cow::Owned(
                self.p.queues[usize::from(w.queue)].queue_id.clone(),
            ));
            if let Some(k) = w.campaign {
                ev.campaign_id = Some(Cow::Owned(
                    self.p.campaigns[usize::from(k)].campaign_id.clone(),
                ));
            }
        }
        ev.agent_id = Some(Cow::Owned(a.id.clone()));
        ev
    }
}
