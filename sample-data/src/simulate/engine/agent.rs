//! Agents: login, presence (available, breaks, RONA), shift end, after-contact work, and
//! pulling waiting work when an agent frees up.

use std::borrow::Cow;

use ccpulse_schemas::v1::{KnownEventType as K, Presence};

use super::{Action, AgentStep, AwayReason, Ctx, Status, TenantSim, ch};

impl TenantSim {
    pub(super) fn agent_step(
        &mut self,
        ctx: &mut Ctx<'_>,
        agent: u32,
        shift: u32,
        step: AgentStep,
    ) {
        if let AgentStep::Wrapup { work } = step {
            self.wrapup(ctx, agent, work);
            return;
        }
        let current = {
            let a = &self.agents[agent as usize];
            a.shift == shift && a.logged_in
        };
        match step {
            AgentStep::Login => self.login(ctx, agent, shift),
            AgentStep::BreakStart { reason, minutes } if current => {
                let a = &self.agents[agent as usize];
                if a.leaving || a.status == Status::Away(reason) {
                    return;
                }
                self.set_status(ctx, agent, Status::Away(reason));
                ctx.after(
                    i64::from(minutes) * 60_000 + self.rng.range_i64(-60_000, 90_000),
                    Action::Agent {
                        agent,
                        shift,
                        step: AgentStep::BreakEnd { reason },
                    },
                );
            }
            AgentStep::BreakEnd { reason } if current => {
                self.back_from_away(ctx, agent, reason);
            }
            AgentStep::NoAnswerReturn if current => {
                self.back_from_away(ctx, agent, AwayReason::NoAnswer);
            }
            AgentStep::ShiftEnd if current => {
                self.agents[agent as usize].leaving = true;
                let a = &self.agents[agent as usize];
                if a.work.is_empty() && !a.reserved {
                    self.logout(ctx, agent);
                } else if a.status == Status::Available {
                    self.set_status(ctx, agent, Status::Away(AwayReason::EndOfShift));
                }
            }
            _ => {}
        }
    }

    fn back_from_away(&mut self, ctx: &mut Ctx<'_>, agent: u32, reason: AwayReason) {
        let a = &self.agents[agent as usize];
        if a.leaving || a.status != Status::Away(reason) {
            return;
        }
        self.set_status(ctx, agent, Status::Available);
        self.agents[agent as usize].last_activity = ctx.now;
        self.agent_ready(ctx, agent);
    }

    /// `agent.state_changed`.
    fn set_status(&mut self, ctx: &mut Ctx<'_>, agent: u32, status: Status) {
        let a = &mut self.agents[agent as usize];
        a.status = status;
        let mut ev = self.ids.event(ctx.now, K::AgentStateChanged);
        ev.agent_id = Some(Cow::Owned(a.id.clone()));
        match status {
            Status::Available => ev.state = Some(Presence::Available),
            Status::Away(reason) => {
                ev.state = Some(Presence::Away);
                ev.reason = Some(Cow::Borrowed(reason.as_str()));
            }
            Status::Offline => ev.state = Some(Presence::Offline),
        }
        ctx.out.push_back(ev);
    }

    fn login(&mut self, ctx: &mut Ctx<'_>, agent: u32, shift: u32) {
        let a = &mut self.agents[agent as usize];
        if a.logged_in {
            // Still finishing the previous shift's work: carry on into the new one.
            a.shift = shift;
            a.leaving = false;
            if a.status != Status::Available {
                self.set_status(ctx, agent, Status::Available);
            }
            self.agent_ready(ctx, agent);
            return;
        }
        a.logged_in = true;
        a.shift = shift;
        a.leaving = false;
        a.last_activity = ctx.now;
        let team = &self.p.teams[usize::from(a.team)];
        let mut ev = self.ids.event(ctx.now, K::AgentLoggedIn);
        ev.agent_id = Some(Cow::Owned(a.id.clone()));
        ev.team_id = Some(Cow::Owned(team.team_id.clone()));
        ev.queues = Some(team.queues.iter().map(|q| Cow::Owned(q.clone())).collect());
        ev.capacity = Some(
            team.capacity
                .iter()
                .map(|(c, n)| (Cow::Borrowed(c.as_str()), *n))
                .collect(),
        );
        ctx.out.push_back(ev);
        self.set_status(ctx, agent, Status::Available);
        self.agent_ready(ctx, agent);
    }

    fn logout(&mut self, ctx: &mut Ctx<'_>, agent: u32) {
        let a = &mut self.agents[agent as usize];
        a.logged_in = false;
        a.leaving = false;
        a.status = Status::Offline;
        let mut ev = self.ids.event(ctx.now, K::AgentLoggedOut);
        ev.agent_id = Some(Cow::Owned(a.id.clone()));
        ctx.out.push_back(ev);
    }

    /// RONA: the system sets an agent who let an offer time out to away (`no_answer`);
    /// the agent comes back after a moment.
    pub(super) fn set_no_answer(&mut self, ctx: &mut Ctx<'_>, agent: u32) {
        let a = &self.agents[agent as usize];
        if a.status != Status::Available || a.leaving {
            return;
        }
        let shift = a.shift;
        self.set_status(ctx, agent, Status::Away(AwayReason::NoAnswer));
        let delay = self.rng.range_i64(20_000, 90_000);
        ctx.after(
            delay,
            Action::Agent {
                agent,
                shift,
                step: AgentStep::NoAnswerReturn,
            },
        );
    }

    /// After-contact work is over: `wrapup_completed` frees the capacity.
    fn wrapup(&mut self, ctx: &mut Ctx<'_>, agent: u32, key: u32) {
        let Some(i) = self.agents[agent as usize]
            .work
            .iter()
            .position(|w| w.key == key)
        else {
            return;
        };
        let disposition = self.agents[agent as usize].work[i].disposition;
        let mut ev = self.work_event(ctx.now, K::InteractionWrapupCompleted, agent, key);
        ev.disposition = Some(Cow::Borrowed(disposition));
        ctx.out.push_back(ev);
        let a = &mut self.agents[agent as usize];
        let w = a.work.swap_remove(i);
        a.active[ch(w.channel)] -= 1;
        a.last_activity = ctx.now;
        self.agent_ready(ctx, agent);
    }

    /// The agent may take new work: log out if the shift is over and the work done,
    /// otherwise take waiting contacts (highest priority, then longest waiting) while
    /// capacity lasts, then let the campaign use the agent.
    pub(super) fn agent_ready(&mut self, ctx: &mut Ctx<'_>, agent: u32) {
        let a = &self.agents[agent as usize];
        if !a.logged_in {
            return;
        }
        if a.leaving {
            if a.work.is_empty() && !a.reserved {
                self.logout(ctx, agent);
            }
            return;
        }
        if a.status != Status::Available || a.reserved {
            return;
        }
        while let Some((q, i)) = self.best_waiting_for(agent) {
            let slot = self.queues[q]
                .waiting
                .remove(i)
                .expect("index from best_waiting_for");
            self.offer(ctx, slot, agent);
        }
        let team = usize::from(self.agents[agent as usize].team);
        if let Some(campaign) = self.team_campaign[team] {
            self.campaign_agent_ready(ctx, campaign, agent);
        }
    }

    /// The waiting contact `agent` should take next, as `(queue, index in its waiting list)`.
    fn best_waiting_for(&self, agent: u32) -> Option<(usize, usize)> {
        /// Contacts that just missed this agent are skipped; looking this deep is enough.
        const SCAN: usize = 8;
        let a = &self.agents[agent as usize];
        let team = &self.p.teams[usize::from(a.team)];
        let mut best: Option<(i64, i64, usize, usize)> = None;
        for &q in &team.queue_idx {
            let queue = &self.p.queues[q];
            if !a.routable(ch(queue.channel)) {
                continue;
            }
            let found = self.queues[q]
                .waiting
                .iter()
                .take(SCAN)
                .position(|&s| self.contacts[s as usize].missed_by != Some(agent));
            if let Some(i) = found {
                let slot = self.queues[q].waiting[i];
                let key = (
                    -queue.priority,
                    self.contacts[slot as usize].queued_at,
                    q,
                    i,
                );
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
        }
        best.map(|(_, _, q, i)| (q, i))
    }
}
