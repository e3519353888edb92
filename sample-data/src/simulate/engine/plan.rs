//! Arrivals and the daily plan: when contacts come in and who is at work.

use super::super::calendar::{HOUR_MS, MINUTE_MS};
use super::super::model::{DAY_NOISE, WEEKDAY_FACTOR, WEEKDAY_FACTOR_MAX};
use super::super::rng::mix;
use super::super::staffing::plan_team_day;
use super::{Action, Agent, AgentStep, AwayReason, Ctx, Status, TenantSim, ch};

/// Rest between two shifts of the same agent.
const REST_MS: i64 = 10 * HOUR_MS;
/// The day's plan is made this long before its local midnight.
const PLAN_AHEAD_MS: i64 = HOUR_MS;
/// The predictive dialer re-checks its pacing at least this often.
pub(crate) const CAMPAIGN_TICK_MS: i64 = 15_000;

impl TenantSim {
    /// Schedules the first action of every stream.
    pub(super) fn start(&mut self, ctx: &mut Ctx<'_>) {
        for q in 0..self.p.queues.len() {
            let b = &self.p.queues[q].behavior;
            let base = b.daily_volume * self.scale / b.curve.integral_ms();
            let qs = &mut self.queues[q];
            qs.base_rate = base;
            qs.max_rate = base * WEEKDAY_FACTOR_MAX * (1.0 + DAY_NOISE) * b.curve.peak();
            self.schedule_arrival(ctx, q as u16);
        }
        let today = self.clock.local(ctx.now).day;
        // Yesterday's plan first: a shift that started before the run may still be on.
        ctx.at(ctx.now, Action::PlanDay { day: today - 1 });
        for k in 0..self.p.campaigns.len() {
            ctx.at(ctx.now, Action::CampaignTick { campaign: k as u16 });
        }
    }

    /// The arrival rate (contacts per ms) of `queue` at `at`.
    fn arrival_rate(&mut self, queue: usize, at: i64) -> f64 {
        let local = self.clock.local(at);
        let b = &self.p.queues[queue].behavior;
        // Day-to-day noise the forecast does not know, stateless so it never depends on
        // the order of draws.
        let u = mix(&[
            self.seed,
            u64::from(self.index),
            queue as u64,
            local.day as u64,
        ]) >> 11;
        let noise = 1.0 + DAY_NOISE * (2.0 * (u as f64 / (1u64 << 53) as f64) - 1.0);
        self.queues[queue].base_rate
            * WEEKDAY_FACTOR[local.weekday()]
            * noise
            * b.curve.at(local.ms_of_day)
    }

    /// Draws the next arrival of `queue` after now: a Poisson process with a time-varying
    /// rate, by thinning (Lewis–Shedler) candidates of the maximum rate.
    pub(super) fn schedule_arrival(&mut self, ctx: &mut Ctx<'_>, queue: u16) {
        let q = usize::from(queue);
        let max_rate = self.queues[q].max_rate;
        if max_rate <= 0.0 {
            return;
        }
        let mut t = ctx.now as f64;
        loop {
            t += self.rng.exp(1.0 / max_rate);
            let at = t.ceil() as i64;
            if at >= ctx.end_ms() {
                return;
            }
            if self.rng.unit() * max_rate < self.arrival_rate(q, at) {
                ctx.at(at, Action::Arrival { queue });
                return;
            }
        }
    }

    /// Plans local day `day`: every team's shifts become logins, breaks and shift ends.
    /// Then the next day is planned, or scheduled for planning.
    pub(super) fn plan_day(&mut self, ctx: &mut Ctx<'_>, day: i64) {
        let weekday = (day + 3).rem_euclid(7) as usize;
        for team in 0..self.p.teams.len() {
            let shifts = plan_team_day(&self.p, team, weekday, self.scale);
            for shift in shifts {
                let start = self.clock.to_utc(day, shift.start_min * MINUTE_MS)
                    + self.rng.range_i64(-4, 2) * MINUTE_MS
                    + self.rng.range_i64(0, 59) * 1000;
                let end = self.clock.to_utc(day, shift.end_min * MINUTE_MS)
                    + self.rng.range_i64(0, 4) * MINUTE_MS
                    + self.rng.range_i64(0, 59) * 1000;
                if end <= ctx.now {
                    continue;
                }
                let agent = self.agent_for_shift(team, start, end);
                self.schedule_shift(ctx, agent, start, end);
            }
        }
        let next = day + 1;
        let when = self.clock.to_utc(next, 0) - PLAN_AHEAD_MS;
        if when <= ctx.now {
            self.plan_day(ctx, next);
        } else {
            ctx.at(when, Action::PlanDay { day: next });
        }
    }

    /// The first agent of the team rested enough for a shift at `start`, or a new hire.
    fn agent_for_shift(&mut self, team: usize, start: i64, end: i64) -> u32 {
        let found = self.team_agents[team]
            .iter()
            .copied()
            .find(|&a| self.agents[a as usize].free_from <= start);
        let agent = match found {
            Some(a) => a,
            None => self.hire(team),
        };
        self.agents[agent as usize].free_from = end + REST_MS;
        agent
    }

    fn hire(&mut self, team: usize) -> u32 {
        let profile = &self.p.teams[team];
        let index = self.agents.len() as u32;
        let number = self.team_agents[team].len() + 1;
        let mut capacity = [0u8; 7];
        for &(channel, n) in &profile.capacity {
            capacity[ch(channel)] = n.min(u32::from(u8::MAX)) as u8;
        }
        self.agents.push(Agent {
            id: format!("{}-{}-{number:03}", self.p.tenant_id, profile.team_id),
            team: team as u16,
            capacity,
            active: [0; 7],
            logged_in: false,
            status: Status::Offline,
            shift: 0,
            shifts_planned: 0,
            leaving: false,
            reserved: false,
            last_activity: 0,
            free_from: i64::MIN,
            work: Vec::new(),
        });
        for &q in &profile.queue_idx {
            self.queues[q].agents.push(index);
        }
        self.team_agents[team].push(index);
        index
    }

    /// Login, breaks and shift end of one shift. Breaks follow the usual pattern: a short
    /// break two hours in, lunch mid-shift, another break two hours before the end, and now
    /// and then a meeting or training.
    fn schedule_shift(&mut self, ctx: &mut Ctx<'_>, agent: u32, start: i64, end: i64) {
        let a = &mut self.agents[agent as usize];
        a.shifts_planned += 1;
        let shift = a.shifts_planned;
        let act = |step| Action::Agent { agent, shift, step };
        ctx.at(start, act(AgentStep::Login));
        let len_min = (end - start) / MINUTE_MS;
        let mut breaks: Vec<(i64, AwayReason, u16)> = Vec::new();
        if len_min >= 6 * 60 {
            breaks.push((120 + self.rng.range_i64(-15, 15), AwayReason::Break, 15));
            let lunch = if self.rng.chance(0.3) { 45 } else { 30 };
            breaks.push((
                len_min / 2 - 15 + self.rng.range_i64(-20, 20),
                AwayReason::Lunch,
                lunch,
            ));
            breaks.push((
                len_min - 120 + self.rng.range_i64(-15, 15),
                AwayReason::Break,
                15,
            ));
            let extra = self.rng.unit();
            if extra < 0.07 {
                breaks.push((150 + self.rng.range_i64(-5, 5), AwayReason::Meeting, 30));
            } else if extra < 0.10 {
                breaks.push((150 + self.rng.range_i64(-5, 5), AwayReason::Training, 45));
            }
        } else if len_min >= 4 * 60 {
            breaks.push((
                len_min / 2 + self.rng.range_i64(-15, 15),
                AwayReason::Break,
                15,
            ));
        }
        for (offset_min, reason, minutes) in breaks {
            let at = start + offset_min * MINUTE_MS + self.rng.range_i64(0, 59) * 1000;
            if at > ctx.now {
                ctx.at(at, act(AgentStep::BreakStart { reason, minutes }));
            }
        }
        ctx.at(end, act(AgentStep::ShiftEnd));
    }

    /// A contact arrives on an inbound queue; the next one is drawn.
    pub(super) fn arrival(&mut self, ctx: &mut Ctx<'_>, queue: u16) {
        self.inbound_contact(ctx, queue);
        self.schedule_arrival(ctx, queue);
    }

    /// Re-checks a campaign: pacing, or idle preview agents.
    pub(super) fn campaign_tick(&mut self, ctx: &mut Ctx<'_>, campaign: u16) {
        self.campaign_tick_work(ctx, campaign);
        ctx.after(CAMPAIGN_TICK_MS, Action::CampaignTick { campaign });
    }
}
