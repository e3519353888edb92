//! A contact's path: created → (IVR) → queued → offered → answered → holds / transfer →
//! conversation ended, or abandoned / flowed out while queued; plus the side events of
//! digital channels and surveys.

use std::borrow::Cow;

use ccpulse_schemas::v1::{
    Channel, Direction, DisconnectParty, FlowOutReason, KnownEventType as K, OfferMissedReason,
    TransferType,
};

use super::super::calendar::SECOND_MS;
use super::super::model::WaitExit;
use super::{
    Action, ContactState, ContactStep, Ctx, OfferOutcome, TalkPlan, TenantSim, TransferPlan, Work,
    WorkPhase, ch,
};

/// How the patience of a new queue visit is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Patience {
    /// A new customer: drawn.
    Fresh,
    /// An overflow: the customer is still waiting, the deadline stands.
    Keep,
    /// After a transfer: the customer is willing to wait again, a little less.
    Again,
}

impl TenantSim {
    pub(super) fn contact_step(&mut self, ctx: &mut Ctx<'_>, slot: u32, step: ContactStep) {
        match step {
            ContactStep::Enqueue => {
                if self.contacts[slot as usize].state == ContactState::Ivr {
                    self.enqueue(ctx, slot, Patience::Fresh);
                }
            }
            ContactStep::QueueTimer { tok } => self.queue_timer(ctx, slot, tok),
            ContactStep::OfferEnd { tok, outcome } => self.offer_end(ctx, slot, tok, outcome),
            ContactStep::Talk { tok } => {
                let c = &self.contacts[slot as usize];
                if c.flow_tok == tok && c.state == ContactState::Talking {
                    self.talk_segment_over(ctx, slot);
                }
            }
            ContactStep::HoldEnd { tok } => {
                let c = &self.contacts[slot as usize];
                if c.flow_tok == tok && c.state == ContactState::Held {
                    self.hold_end(ctx, slot);
                }
            }
            ContactStep::FirstResponse => {
                self.side_event_done(slot);
                let c = &self.contacts[slot as usize];
                if matches!(c.state, ContactState::Talking | ContactState::Held) {
                    let agent = c.agent;
                    let mut ev = self.contact_event(ctx.now, K::InteractionFirstResponse, slot);
                    ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
                    ctx.out.push_back(ev);
                }
            }
            ContactStep::Survey => {
                self.side_event_done(slot);
                let (csat, nps, agent) = {
                    let c = &self.contacts[slot as usize];
                    (c.csat, c.nps, c.agent)
                };
                let mut ev = self.contact_event(ctx.now, K::InteractionSurveyCompleted, slot);
                ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
                ev.csat = Some(csat);
                ev.nps = Some(nps);
                ctx.out.push_back(ev);
                self.release_if_done(slot);
            }
            ContactStep::Close => {
                self.side_event_done(slot);
                self.emit_ended(ctx, slot);
                self.release_if_done(slot);
            }
            ContactStep::PreviewDecision => self.preview_decision(ctx, slot),
            ContactStep::Dial => self.dial(ctx, slot),
            ContactStep::DialResult => self.dial_result(ctx, slot),
        }
    }

    fn side_event_done(&mut self, slot: u32) {
        let c = &mut self.contacts[slot as usize];
        c.pending = c.pending.saturating_sub(1);
    }

    /// Schedules a side event; counted so the slot outlives it.
    fn side_event(&mut self, ctx: &mut Ctx<'_>, slot: u32, delay_ms: i64, step: ContactStep) {
        let action = self.contact_action(slot, step);
        if ctx.after(delay_ms, action) {
            self.contacts[slot as usize].pending += 1;
        }
    }

    fn emit_ended(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let outcome = self.contacts[slot as usize].close_outcome;
        let mut ev = self.contact_event(ctx.now, K::InteractionEnded, slot);
        ev.outcome = Some(Cow::Borrowed(outcome));
        ctx.out.push_back(ev);
    }

    /// A new inbound contact on `queue`: `interaction.created`, then the IVR (or bot,
    /// pre-chat form) before it is queued.
    pub(super) fn inbound_contact(&mut self, ctx: &mut Ctx<'_>, queue: u16) {
        let channel = self.p.queues[usize::from(queue)].channel;
        let slot = self.alloc_contact(channel, Direction::Inbound, None, queue);
        let customer = self.rng.range_i64(1, 9_999_999);
        let mut ev = self.contact_event(ctx.now, K::InteractionCreated, slot);
        ev.queue_id = None;
        ev.customer_id = Some(Cow::Owned(format!("cust-{customer:07}")));
        ctx.out.push_back(ev);
        let ivr = self.p.queues[usize::from(queue)].behavior.ivr;
        match ivr {
            Some(dist) => {
                self.contacts[slot as usize].state = ContactState::Ivr;
                let delay = dist.draw_ms(&mut self.rng);
                let action = self.contact_action(slot, ContactStep::Enqueue);
                ctx.after(delay, action);
            }
            None => self.enqueue(ctx, slot, Patience::Fresh),
        }
    }

    /// A new queue visit on the contact's current queue: `interaction.queued`, then routing.
    pub(super) fn enqueue(&mut self, ctx: &mut Ctx<'_>, slot: u32, patience: Patience) {
        let q = usize::from(self.contacts[slot as usize].queue);
        {
            let c = &mut self.contacts[slot as usize];
            c.visits += 1;
            c.queued_at = ctx.now;
            c.missed_by = None;
            c.state = ContactState::Waiting;
        }
        let mut ev = self.contact_event(ctx.now, K::InteractionQueued, slot);
        let queue = &self.p.queues[q];
        ev.priority = Some(queue.priority);
        ev.skills = Some(queue.skills.iter().map(|s| Cow::Owned(s.clone())).collect());
        ctx.out.push_back(ev);

        let local = self.clock.local(ctx.now);
        let b = &self.p.queues[q].behavior;
        if b.closed_flow_out
            && !self.p.queues[q]
                .hours
                .is_open(local.weekday(), local.minute())
        {
            self.flow_out(ctx, slot, FlowOutReason::Closed);
            return;
        }
        let now = ctx.now;
        let patience_at = match (patience, b.patience) {
            (_, None) => i64::MAX,
            (Patience::Keep, Some(_)) => self.contacts[slot as usize].patience_at,
            (fresh_or_again, Some(dist)) => {
                let ms = if self.rng.chance(b.quick_hangup) {
                    self.rng.range_i64(500, 5_000)
                } else {
                    dist.draw_ms(&mut self.rng)
                };
                let ms = if fresh_or_again == Patience::Again {
                    ms * 7 / 10
                } else {
                    ms
                };
                now + ms
            }
        };
        let max_wait_at = b.max_wait.map_or(i64::MAX, |(ms, _)| now + ms);
        let offer_at = b.wait_offer.map_or(i64::MAX, |(ms, _, _)| now + ms);
        {
            let c = &mut self.contacts[slot as usize];
            c.patience_at = patience_at;
            c.max_wait_at = max_wait_at;
            c.offer_at = offer_at;
        }
        self.arm_queue_timer(ctx, slot);
        if !self.route_contact(ctx, slot) {
            self.queues[q].waiting.push_back(slot);
        }
    }

    /// Schedules the earliest queue deadline, superseding any earlier timer.
    fn arm_queue_timer(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let c = &mut self.contacts[slot as usize];
        c.timer_tok = c.timer_tok.wrapping_add(1);
        let due = c.patience_at.min(c.max_wait_at).min(c.offer_at);
        if due != i64::MAX {
            let tok = c.timer_tok;
            let action = self.contact_action(slot, ContactStep::QueueTimer { tok });
            ctx.at(due, action);
        }
    }

    fn queue_timer(&mut self, ctx: &mut Ctx<'_>, slot: u32, tok: u32) {
        let c = &self.contacts[slot as usize];
        if c.timer_tok != tok {
            return;
        }
        // While alerting, the customer hears ringing: nothing happens until the offer is
        // resolved, which re-checks the deadlines. Any other state is past the queue.
        if c.state == ContactState::Waiting && !self.fire_due_deadline(ctx, slot) {
            self.arm_queue_timer(ctx, slot);
        }
    }

    /// Handles a due deadline of a waiting contact; `true` when it left the queue.
    fn fire_due_deadline(&mut self, ctx: &mut Ctx<'_>, slot: u32) -> bool {
        let now = ctx.now;
        let (patience_at, max_wait_at, offer_at, q) = {
            let c = &self.contacts[slot as usize];
            (
                c.patience_at,
                c.max_wait_at,
                c.offer_at,
                usize::from(c.queue),
            )
        };
        if patience_at <= now {
            self.remove_waiting(slot);
            let ev = self.contact_event(now, K::InteractionAbandoned, slot);
            ctx.out.push_back(ev);
            self.finish(ctx, slot, "abandoned");
            return true;
        }
        if max_wait_at <= now {
            match self.p.queues[q].behavior.max_wait.map(|(_, exit)| exit) {
                Some(WaitExit::Overflow(target)) => {
                    self.remove_waiting(slot);
                    let mut ev = self.contact_event(now, K::InteractionFlowedOut, slot);
                    ev.reason = Some(Cow::Borrowed(FlowOutReason::Overflow.as_str()));
                    ctx.out.push_back(ev);
                    self.contacts[slot as usize].queue = target as u16;
                    self.enqueue(ctx, slot, Patience::Keep);
                }
                Some(WaitExit::FlowOut(reason)) => self.flow_out(ctx, slot, reason),
                Some(WaitExit::Drop) => {
                    self.remove_waiting(slot);
                    let ev = self.contact_event(now, K::DialerDropped, slot);
                    ctx.out.push_back(ev);
                    self.flow_out(ctx, slot, FlowOutReason::Timeout);
                }
                None => {
                    self.contacts[slot as usize].max_wait_at = i64::MAX;
                    return false;
                }
            }
            return true;
        }
        if offer_at <= now {
            self.contacts[slot as usize].offer_at = i64::MAX;
            if let Some((_, accept, reason)) = self.p.queues[q].behavior.wait_offer
                && self.rng.chance(accept)
            {
                self.flow_out(ctx, slot, reason);
                return true;
            }
        }
        false
    }

    fn flow_out(&mut self, ctx: &mut Ctx<'_>, slot: u32, reason: FlowOutReason) {
        self.remove_waiting(slot);
        let mut ev = self.contact_event(ctx.now, K::InteractionFlowedOut, slot);
        ev.reason = Some(Cow::Borrowed(reason.as_str()));
        ctx.out.push_back(ev);
        self.finish(ctx, slot, reason.as_str());
    }

    fn remove_waiting(&mut self, slot: u32) {
        let q = usize::from(self.contacts[slot as usize].queue);
        let waiting = &mut self.queues[q].waiting;
        if let Some(i) = waiting.iter().position(|&s| s == slot) {
            waiting.remove(i);
        }
    }

    /// Back in the queue after a missed offer, in queued-time order.
    fn requeue_waiting(&mut self, slot: u32) {
        let (q, at) = {
            let c = &self.contacts[slot as usize];
            (usize::from(c.queue), c.queued_at)
        };
        let contacts = &self.contacts;
        let waiting = &mut self.queues[q].waiting;
        let i = waiting.partition_point(|&s| contacts[s as usize].queued_at <= at);
        waiting.insert(i, slot);
    }

    /// The contact's flow is over without (further) talk: digital contacts close now.
    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_>, slot: u32, outcome: &'static str) {
        let digital = self.p.queues[usize::from(self.contacts[slot as usize].queue)]
            .behavior
            .close_after
            .is_some();
        {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Closed;
            c.close_outcome = outcome;
        }
        if digital {
            self.emit_ended(ctx, slot);
        }
        self.release_if_done(slot);
    }

    /// Offers a waiting contact to the longest-idle routable agent of its queue; `false`
    /// when nobody can take it. A contact held for a preview agent goes to that agent.
    pub(super) fn route_contact(&mut self, ctx: &mut Ctx<'_>, slot: u32) -> bool {
        let c = &self.contacts[slot as usize];
        if c.has_agent {
            let agent = c.agent;
            self.agents[agent as usize].reserved = false;
            self.connect(ctx, slot, agent);
            return true;
        }
        let (q, channel, missed_by) = (usize::from(c.queue), ch(c.channel), c.missed_by);
        let agents = &self.agents;
        let best = self.queues[q]
            .agents
            .iter()
            .copied()
            .filter(|&a| Some(a) != missed_by && agents[a as usize].routable(channel))
            .min_by_key(|&a| (agents[a as usize].last_activity, a));
        match best {
            Some(agent) => {
                self.offer(ctx, slot, agent);
                true
            }
            None => false,
        }
    }

    fn take_work(&mut self, slot: u32, agent: u32, phase: WorkPhase) -> u32 {
        self.next_work = self.next_work.wrapping_add(1);
        let key = self.next_work;
        let c = &mut self.contacts[slot as usize];
        c.agent = agent;
        c.has_agent = true;
        let a = &mut self.agents[agent as usize];
        a.active[ch(c.channel)] += 1;
        a.work.push(Work {
            key,
            interaction_id: c.id.clone(),
            queue: c.queue,
            channel: c.channel,
            direction: c.direction,
            campaign: c.campaign,
            phase,
            disposition: "",
        });
        key
    }

    fn set_phase(&mut self, agent: u32, interaction: usize, phase: WorkPhase) -> Option<u32> {
        let id = &self.contacts[interaction].id;
        let a = &mut self.agents[agent as usize];
        let w = a.work.iter_mut().find(|w| &w.interaction_id == id)?;
        w.phase = phase;
        Some(w.key)
    }

    /// Alerting: `interaction.offered`, and the agent's response is drawn.
    pub(super) fn offer(&mut self, ctx: &mut Ctx<'_>, slot: u32, agent: u32) {
        let q = usize::from(self.contacts[slot as usize].queue);
        if self.p.queues[q].behavior.auto_answer {
            self.connect(ctx, slot, agent);
            return;
        }
        self.take_work(slot, agent, WorkPhase::Alerting);
        self.agents[agent as usize].last_activity = ctx.now;
        let tok = {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Alerting;
            c.flow_tok = c.flow_tok.wrapping_add(1);
            c.flow_tok
        };
        let mut ev = self.contact_event(ctx.now, K::InteractionOffered, slot);
        ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        ctx.out.push_back(ev);
        let b = &self.p.queues[q].behavior;
        let r = self.rng.unit();
        let (outcome, delay) = if r < b.miss_timeout_p {
            (OfferOutcome::Timeout, b.ring_timeout_ms)
        } else if r < b.miss_timeout_p + b.miss_reject_p {
            (OfferOutcome::Reject, self.rng.range_i64(1_000, 4_000))
        } else {
            (OfferOutcome::Answer, b.ring.draw_ms(&mut self.rng))
        };
        let action = self.contact_action(slot, ContactStep::OfferEnd { tok, outcome });
        ctx.after(delay, action);
    }

    /// Connected without alerting (predictive call, preview record).
    fn connect(&mut self, ctx: &mut Ctx<'_>, slot: u32, agent: u32) {
        self.take_work(slot, agent, WorkPhase::Connected);
        self.agents[agent as usize].last_activity = ctx.now;
        self.answer(ctx, slot);
    }

    fn offer_end(&mut self, ctx: &mut Ctx<'_>, slot: u32, tok: u32, outcome: OfferOutcome) {
        let c = &self.contacts[slot as usize];
        if c.flow_tok != tok || c.state != ContactState::Alerting {
            return;
        }
        let agent = c.agent;
        if outcome == OfferOutcome::Answer {
            self.answer(ctx, slot);
            return;
        }
        let reason = if outcome == OfferOutcome::Timeout {
            OfferMissedReason::Timeout
        } else {
            OfferMissedReason::Rejected
        };
        let mut ev = self.contact_event(ctx.now, K::InteractionOfferMissed, slot);
        ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        ev.reason = Some(Cow::Borrowed(reason.as_str()));
        ctx.out.push_back(ev);
        self.drop_work(slot, agent);
        {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Waiting;
            c.has_agent = false;
            c.missed_by = Some(agent);
        }
        if outcome == OfferOutcome::Timeout {
            self.set_no_answer(ctx, agent);
        }
        // Deadlines that passed while it rang apply now.
        if !self.fire_due_deadline(ctx, slot) {
            self.arm_queue_timer(ctx, slot);
            if !self.route_contact(ctx, slot) {
                self.requeue_waiting(slot);
            }
        }
        self.agent_ready(ctx, agent);
    }

    /// Releases the capacity an agent held for a contact that did not reach them.
    fn drop_work(&mut self, slot: u32, agent: u32) {
        let c = &self.contacts[slot as usize];
        let a = &mut self.agents[agent as usize];
        if let Some(i) = a.work.iter().position(|w| w.interaction_id == c.id) {
            a.work.swap_remove(i);
            a.active[ch(c.channel)] -= 1;
        }
    }

    /// `interaction.answered`; the talk of this leg is planned.
    fn answer(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let agent = self.contacts[slot as usize].agent;
        self.set_phase(agent, slot as usize, WorkPhase::Connected);
        let q = {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Talking;
            c.waited_ms += ctx.now - c.queued_at;
            usize::from(c.queue)
        };
        let mut ev = self.contact_event(ctx.now, K::InteractionAnswered, slot);
        ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        ctx.out.push_back(ev);
        let allow_transfer = self.contacts[slot as usize].transfers < 2;
        let plan = self.plan_talk(q, allow_transfer);
        let talk_total: i64 = plan.segments.iter().sum();
        self.contacts[slot as usize].plan = plan;
        if let Some(dist) = self.p.queues[q].behavior.first_response {
            let delay = dist.draw_ms(&mut self.rng).min(talk_total * 9 / 10);
            self.side_event(ctx, slot, delay, ContactStep::FirstResponse);
        }
        self.schedule_talk(ctx, slot, 0);
    }

    /// Talk split by holds, and whether (and how) the leg ends in a transfer.
    fn plan_talk(&mut self, q: usize, allow_transfer: bool) -> TalkPlan {
        let b = &self.p.queues[q].behavior;
        let total = b.talk.draw_ms(&mut self.rng);
        let n_holds: u8 = if self.rng.chance(b.hold_p) {
            if self.rng.chance(0.25) { 2 } else { 1 }
        } else {
            0
        };
        let mut cuts = [0i64; 2];
        for cut in cuts.iter_mut().take(usize::from(n_holds)) {
            *cut = self.rng.range_i64(total / 10, total * 9 / 10);
        }
        cuts[..usize::from(n_holds)].sort_unstable();
        let mut segments = [0i64; 3];
        let mut prev = 0;
        for i in 0..usize::from(n_holds) {
            segments[i] = cuts[i] - prev;
            prev = cuts[i];
        }
        segments[usize::from(n_holds)] = total - prev;
        let mut holds = [0i64; 2];
        for h in holds.iter_mut().take(usize::from(n_holds)) {
            *h = b.hold.draw_ms(&mut self.rng);
        }
        let mut transfer = TransferPlan::None;
        if allow_transfer {
            let r = self.rng.unit();
            if r < b.to_agent_p {
                transfer = TransferPlan::Agent;
            } else if r < b.to_agent_p + b.transfer_p && !b.transfer_to.is_empty() {
                let target = b.transfer_to[self.rng.index(b.transfer_to.len())] as u16;
                let consult = self.rng.chance(b.consult_p);
                transfer = TransferPlan::Queue { target, consult };
            }
        }
        let consult_ms = b.hold.draw_ms(&mut self.rng) + 15 * SECOND_MS;
        TalkPlan {
            segments,
            holds,
            n_holds,
            done_holds: 0,
            transfer,
            consult_ms,
            consulted: false,
        }
    }

    fn schedule_talk(&mut self, ctx: &mut Ctx<'_>, slot: u32, segment: usize) {
        let (delay, tok) = {
            let c = &mut self.contacts[slot as usize];
            c.flow_tok = c.flow_tok.wrapping_add(1);
            (c.plan.segments[segment], c.flow_tok)
        };
        let action = self.contact_action(slot, ContactStep::Talk { tok });
        ctx.after(delay, action);
    }

    fn start_hold(&mut self, ctx: &mut Ctx<'_>, slot: u32, hold_ms: i64) {
        let (agent, tok) = {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Held;
            c.flow_tok = c.flow_tok.wrapping_add(1);
            (c.agent, c.flow_tok)
        };
        let mut ev = self.contact_event(ctx.now, K::InteractionHoldStarted, slot);
        ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        ctx.out.push_back(ev);
        let action = self.contact_action(slot, ContactStep::HoldEnd { tok });
        ctx.after(hold_ms, action);
    }

    fn talk_segment_over(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let plan = self.contacts[slot as usize].plan;
        if plan.done_holds < plan.n_holds {
            self.start_hold(ctx, slot, plan.holds[usize::from(plan.done_holds)]);
            return;
        }
        let consult = match plan.transfer {
            TransferPlan::Queue { consult, .. } => consult,
            TransferPlan::Agent => true,
            TransferPlan::None => false,
        };
        if consult && !plan.consulted {
            // The agent puts the customer on hold to talk to the transfer target first.
            self.contacts[slot as usize].plan.consulted = true;
            self.start_hold(ctx, slot, plan.consult_ms);
        } else if plan.transfer != TransferPlan::None {
            self.transfer(ctx, slot);
        } else {
            self.conversation_end(ctx, slot);
        }
    }

    fn hold_end(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let agent = self.contacts[slot as usize].agent;
        let mut ev = self.contact_event(ctx.now, K::InteractionHoldEnded, slot);
        ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        ctx.out.push_back(ev);
        let plan = {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Talking;
            c.plan
        };
        if plan.done_holds < plan.n_holds {
            let next = plan.done_holds + 1;
            self.contacts[slot as usize].plan.done_holds = next;
            self.schedule_talk(ctx, slot, usize::from(next));
        } else {
            // The consult hold: the transfer completes as the customer comes off hold.
            self.transfer(ctx, slot);
        }
    }

    /// Ends the current agent's leg: `conversation_ended`, and the agent starts ACW.
    fn end_leg(
        &mut self,
        ctx: &mut Ctx<'_>,
        slot: u32,
        party: DisconnectParty,
        disposition: &'static str,
    ) {
        let agent = self.contacts[slot as usize].agent;
        let mut ev = self.contact_event(ctx.now, K::InteractionConversationEnded, slot);
        ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        ev.disconnect_party = Some(party);
        ctx.out.push_back(ev);
        if let Some(key) = self.set_phase(agent, slot as usize, WorkPhase::AfterContactWork) {
            let a = &mut self.agents[agent as usize];
            if let Some(w) = a.work.iter_mut().find(|w| w.key == key) {
                w.disposition = disposition;
            }
            let q = usize::from(self.contacts[slot as usize].queue);
            let acw = self.p.queues[q].behavior.acw.draw_ms(&mut self.rng);
            let shift = self.agents[agent as usize].shift;
            ctx.after(
                acw,
                Action::Agent {
                    agent,
                    shift,
                    step: super::AgentStep::Wrapup { work: key },
                },
            );
        }
    }

    fn transfer(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let (plan, from, channel, q) = {
            let c = &self.contacts[slot as usize];
            (c.plan, c.agent, c.channel, usize::from(c.queue))
        };
        match plan.transfer {
            TransferPlan::Queue { target, consult } => {
                let mut ev = self.contact_event(ctx.now, K::InteractionTransferred, slot);
                ev.agent_id = Some(Cow::Owned(self.agents[from as usize].id.clone()));
                ev.to_queue_id = Some(Cow::Owned(
                    self.p.queues[usize::from(target)].queue_id.clone(),
                ));
                ev.transfer_type = Some(if consult {
                    TransferType::Consult
                } else {
                    TransferType::Blind
                });
                ctx.out.push_back(ev);
                self.end_leg(ctx, slot, DisconnectParty::Agent, "transferred");
                {
                    let c = &mut self.contacts[slot as usize];
                    c.transfers += 1;
                    c.has_agent = false;
                    c.queue = target;
                }
                self.enqueue(ctx, slot, Patience::Again);
            }
            TransferPlan::Agent => {
                let c = ch(channel);
                let agents = &self.agents;
                let to = self.queues[q]
                    .agents
                    .iter()
                    .copied()
                    .filter(|&a| a != from && agents[a as usize].routable(c))
                    .min_by_key(|&a| (agents[a as usize].last_activity, a));
                let Some(to) = to else {
                    // Nobody free to take it: the first agent finishes the call.
                    self.conversation_end(ctx, slot);
                    return;
                };
                let mut ev = self.contact_event(ctx.now, K::InteractionTransferred, slot);
                ev.agent_id = Some(Cow::Owned(self.agents[from as usize].id.clone()));
                ev.to_agent_id = Some(Cow::Owned(self.agents[to as usize].id.clone()));
                ev.transfer_type = Some(TransferType::Consult);
                ctx.out.push_back(ev);
                self.end_leg(ctx, slot, DisconnectParty::Agent, "transferred");
                self.contacts[slot as usize].transfers += 1;
                // The target agent accepted during the consult: connected at once, same visit.
                self.take_work(slot, to, WorkPhase::Connected);
                self.agents[to as usize].last_activity = ctx.now;
                self.contacts[slot as usize].state = ContactState::Talking;
                let mut ev = self.contact_event(ctx.now, K::InteractionAnswered, slot);
                ev.agent_id = Some(Cow::Owned(self.agents[to as usize].id.clone()));
                ctx.out.push_back(ev);
                let plan = self.plan_talk(q, false);
                self.contacts[slot as usize].plan = plan;
                self.schedule_talk(ctx, slot, 0);
            }
            TransferPlan::None => self.conversation_end(ctx, slot),
        }
    }

    /// The conversation is over for good: ACW starts, a survey may follow, digital
    /// contacts close later.
    fn conversation_end(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let q = usize::from(self.contacts[slot as usize].queue);
        let party = if self.rng.chance(0.7) {
            DisconnectParty::Customer
        } else {
            DisconnectParty::Agent
        };
        let b = &self.p.queues[q].behavior;
        let disposition = b.dispositions[self.rng.index(b.dispositions.len())];
        self.end_leg(ctx, slot, party, disposition);
        let (inbound, waited, transfers) = {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Closed;
            c.close_outcome = "resolved";
            (c.direction == Direction::Inbound, c.waited_ms, c.transfers)
        };
        let b = &self.p.queues[q].behavior;
        if let Some(dist) = b.close_after {
            let delay = dist.draw_ms(&mut self.rng);
            self.side_event(ctx, slot, delay, ContactStep::Close);
        }
        let b = &self.p.queues[q].behavior;
        if inbound && self.rng.chance(b.survey_p) {
            // Satisfaction falls with waiting and with being passed around.
            let base =
                4.3 - 0.4 * (waited as f64 / 120_000.0).min(2.5) - 0.35 * f64::from(transfers);
            let csat = (base + 0.9 * self.rng.normal()).round().clamp(1.0, 5.0);
            let nps = (2.0 * csat - 0.5 + 1.3 * self.rng.normal())
                .round()
                .clamp(0.0, 10.0);
            let c = &mut self.contacts[slot as usize];
            c.csat = csat as u8;
            c.nps = nps as u8;
            let delay = if c.channel == Channel::Voice {
                self.rng.range_i64(20_000, 240_000)
            } else {
                self.rng.range_i64(30_000, 600_000)
            };
            self.side_event(ctx, slot, delay, ContactStep::Survey);
        }
        self.release_if_done(slot);
    }
}
