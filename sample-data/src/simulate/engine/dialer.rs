//! Outbound dialing: predictive pacing ahead of free agents, and preview dialing where an
//! agent studies each record first.
//!
//! A dialed person (`dialer.result` `human`) enters the campaign's outbound queue like any
//! contact and is connected to an agent without an offer. The queue's two-second maximum
//! wait is the compliance window: past it the call is dropped (`dialer.dropped`, then
//! `interaction.flowed_out` with reason `timeout`, which closes the queue visit).

use std::borrow::Cow;

use ccpulse_schemas::v1::{DialMode, DialResult, Direction, KnownEventType as K, PreviewAction};

use super::contact::Patience;
use super::{ContactState, ContactStep, Ctx, Status, TenantSim};

/// Never start more dials than this in one pacing decision.
const MAX_DIALS_PER_PACE: u32 = 50;

impl TenantSim {
    fn campaign_open(&mut self, ctx: &Ctx<'_>, campaign: u16) -> bool {
        let local = self.clock.local(ctx.now);
        self.p.campaigns[usize::from(campaign)]
            .hours
            .is_open(local.weekday(), local.minute())
    }

    /// Agents of the campaign's team who are free for a new call.
    fn idle_campaign_agents(&self, campaign: u16) -> impl Iterator<Item = u32> + '_ {
        let team = self.p.campaigns[usize::from(campaign)].team;
        self.team_agents[team].iter().copied().filter(|&a| {
            let a = &self.agents[a as usize];
            a.logged_in
                && a.status == Status::Available
                && !a.leaving
                && !a.reserved
                && a.work.is_empty()
        })
    }

    /// Periodic re-check: pacing for predictive campaigns, idle agents for preview ones.
    pub(super) fn campaign_tick_work(&mut self, ctx: &mut Ctx<'_>, campaign: u16) {
        match self.p.campaigns[usize::from(campaign)].dial_mode {
            DialMode::Preview => {
                let idle: Vec<u32> = self.idle_campaign_agents(campaign).collect();
                for agent in idle {
                    self.start_preview(ctx, campaign, agent);
                }
            }
            _ => self.pace(ctx, campaign),
        }
    }

    /// A campaign agent became free.
    pub(super) fn campaign_agent_ready(&mut self, ctx: &mut Ctx<'_>, campaign: u16, agent: u32) {
        match self.p.campaigns[usize::from(campaign)].dial_mode {
            DialMode::Preview => {
                let a = &self.agents[agent as usize];
                if a.work.is_empty() && !a.reserved {
                    self.start_preview(ctx, campaign, agent);
                }
            }
            _ => self.pace(ctx, campaign),
        }
    }

    /// Predictive pacing: keep `idle agents × pacing ratio` dials in flight.
    pub(super) fn pace(&mut self, ctx: &mut Ctx<'_>, campaign: u16) {
        let k = usize::from(campaign);
        if self.p.campaigns[k].dial_mode == DialMode::Preview || !self.campaign_open(ctx, campaign)
        {
            return;
        }
        let idle = self.idle_campaign_agents(campaign).count();
        let queue = self.p.campaigns[k].queue;
        let waiting = self.queues[queue].waiting.len() as u32;
        let target = (idle as f64 * self.p.campaigns[k].pacing_ratio).round() as u32;
        let busy = self.campaigns[k].in_flight + waiting;
        let dials = target.saturating_sub(busy).min(MAX_DIALS_PER_PACE);
        for _ in 0..dials {
            let slot = self.alloc_contact(
                ccpulse_schemas::v1::Channel::Voice,
                Direction::Outbound,
                Some(campaign),
                queue as u16,
            );
            self.campaigns[k].in_flight += 1;
            self.dial(ctx, slot);
        }
    }

    /// `dialer.attempted`; the call-progress result is drawn and scheduled.
    pub(super) fn dial(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let campaign = usize::from(self.contacts[slot as usize].campaign.unwrap_or(0));
        let profile = &self.p.campaigns[campaign];
        let mode = profile.dial_mode;
        let result = DialResult::ALL[self.rng.weighted(&profile.result_weights)];
        let customer = self.rng.range_i64(1, 9_999_999);
        let r = &mut self.rng;
        let (ring_ms, amd_ms) = match result {
            DialResult::Human => (r.range_i64(4_000, 18_000), r.range_i64(700, 2_500)),
            DialResult::Machine => (r.range_i64(5_000, 25_000), r.range_i64(1_500, 4_500)),
            DialResult::Fax => (r.range_i64(3_000, 12_000), r.range_i64(300, 1_000)),
            DialResult::BadNumber => (r.range_i64(1_000, 3_000), 0),
            DialResult::Sit => (r.range_i64(1_000, 4_000), 0),
            DialResult::Busy => (r.range_i64(2_000, 6_000), 0),
            DialResult::NoAnswer => (r.range_i64(25_000, 35_000), 0),
        };
        // Answering-machine detection runs on predictive calls that were picked up.
        let amd = (mode == DialMode::Predictive && amd_ms > 0).then_some(amd_ms);
        {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Dialing;
            c.dial_result = result;
            c.amd_ms = amd;
        }
        let mut ev = self.contact_event(ctx.now, K::DialerAttempted, slot);
        ev.queue_id = None;
        ev.dial_mode = Some(mode);
        ev.customer_id = Some(Cow::Owned(format!("cust-{customer:07}")));
        if self.contacts[slot as usize].has_agent {
            let agent = self.contacts[slot as usize].agent;
            ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        }
        ctx.out.push_back(ev);
        let action = self.contact_action(slot, ContactStep::DialResult);
        if !ctx.after(ring_ms + amd.unwrap_or(0), action) && mode == DialMode::Predictive {
            // Past the end of the run: it never comes back.
            self.campaigns[campaign].in_flight -= 1;
        }
    }

    /// `dialer.result`: a person is queued for an agent, anything else ends the record.
    pub(super) fn dial_result(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let (campaign, result, amd, has_agent, agent) = {
            let c = &self.contacts[slot as usize];
            (
                c.campaign.unwrap_or(0),
                c.dial_result,
                c.amd_ms,
                c.has_agent,
                c.agent,
            )
        };
        let k = usize::from(campaign);
        let predictive = self.p.campaigns[k].dial_mode != DialMode::Preview;
        if predictive {
            self.campaigns[k].in_flight = self.campaigns[k].in_flight.saturating_sub(1);
        }
        let mut ev = self.contact_event(ctx.now, K::DialerResult, slot);
        ev.queue_id = None;
        ev.result = Some(result);
        ev.amd_ms = amd;
        if has_agent {
            ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        }
        ctx.out.push_back(ev);
        if result == DialResult::Human {
            self.enqueue(ctx, slot, Patience::Fresh);
        } else {
            self.contacts[slot as usize].has_agent = false;
            self.finish(ctx, slot, result.as_str());
            if has_agent {
                self.release_preview_agent(ctx, agent);
            }
        }
        if predictive {
            self.pace(ctx, campaign);
        }
    }

    /// Preview: the agent is given a record to study.
    fn start_preview(&mut self, ctx: &mut Ctx<'_>, campaign: u16, agent: u32) {
        if !self.campaign_open(ctx, campaign) {
            return;
        }
        let k = usize::from(campaign);
        let queue = self.p.campaigns[k].queue as u16;
        let slot = self.alloc_contact(
            ccpulse_schemas::v1::Channel::Voice,
            Direction::Outbound,
            Some(campaign),
            queue,
        );
        {
            let c = &mut self.contacts[slot as usize];
            c.state = ContactState::Dialing;
            c.agent = agent;
            c.has_agent = true;
        }
        let a = &mut self.agents[agent as usize];
        a.reserved = true;
        a.last_activity = ctx.now;
        let think = self.p.campaigns[k].preview_think.draw_ms(&mut self.rng);
        let action = self.contact_action(slot, ContactStep::PreviewDecision);
        ctx.after(think, action);
    }

    /// `dialer.preview_action`: accepted records are dialed, others released.
    pub(super) fn preview_decision(&mut self, ctx: &mut Ctx<'_>, slot: u32) {
        let (campaign, agent) = {
            let c = &self.contacts[slot as usize];
            (usize::from(c.campaign.unwrap_or(0)), c.agent)
        };
        let weights = self.p.campaigns[campaign].preview_weights;
        let action = PreviewAction::ALL[self.rng.weighted(&weights)];
        let mut ev = self.contact_event(ctx.now, K::DialerPreviewAction, slot);
        ev.queue_id = None;
        ev.agent_id = Some(Cow::Owned(self.agents[agent as usize].id.clone()));
        ev.action = Some(action);
        ctx.out.push_back(ev);
        if action == PreviewAction::Accept {
            let delay = self.rng.range_i64(1_000, 3_000);
            let step = self.contact_action(slot, ContactStep::Dial);
            ctx.after(delay, step);
        } else {
            self.contacts[slot as usize].has_agent = false;
            self.finish(ctx, slot, action.as_str());
            self.release_preview_agent(ctx, agent);
        }
    }

    /// The record is done with: the preview agent is free for the next one.
    fn release_preview_agent(&mut self, ctx: &mut Ctx<'_>, agent: u32) {
        self.agents[agent as usize].reserved = false;
        self.agent_ready(ctx, agent);
    }
}
