//! Workforce planning: how many agents each 30-minute slot of a local day needs (Erlang C
//! from the forecast load) and the shifts that cover those needs.
//!
//! A real planning team forecasts, staffs for a service-level target and lives with the
//! day's noise; the simulator does the same, so abandons and service level come out of the
//! model instead of being drawn directly.

use super::calendar::{DAY_MS, MINUTE_MS};
use super::model::{Staffing, TenantProfile, WEEKDAY_FACTOR};

/// Planning granularity.
pub(crate) const SLOT_MIN: i64 = 30;
const SLOTS: usize = (DAY_MS / (SLOT_MIN * MINUTE_MS)) as usize;
/// A full shift: 8.5 hours including lunch.
const FULL_SHIFT_SLOTS: usize = 17;
/// The shortest shift worth planning (a part-timer).
const MIN_SHIFT_SLOTS: usize = 8;

/// Probability that a contact waits at all, with `servers` agents and `load` Erlangs.
pub(crate) fn erlang_c(servers: u32, load: f64) -> f64 {
    if load <= 0.0 {
        return 0.0;
    }
    if f64::from(servers) <= load {
        return 1.0;
    }
    // Erlang B by the stable recurrence, then converted to Erlang C.
    let mut b = 1.0;
    for k in 1..=servers {
        b = load * b / (f64::from(k) + load * b);
    }
    let n = f64::from(servers);
    n * b / (n - load * (1.0 - b))
}

/// Share of contacts answered within `threshold_s`.
pub(crate) fn service_level(servers: u32, load: f64, aht_s: f64, threshold_s: f64) -> f64 {
    if load <= 0.0 {
        return 1.0;
    }
    if f64::from(servers) <= load {
        return 0.0;
    }
    let wait = erlang_c(servers, load);
    1.0 - wait * (-(f64::from(servers) - load) * threshold_s / aht_s).exp()
}

/// The fewest agents that reach `target` service level.
pub(crate) fn servers_needed(load: f64, aht_s: f64, threshold_s: f64, target: f64) -> u32 {
    if load <= 0.0 {
        return 0;
    }
    let mut n = load.ceil() as u32;
    while service_level(n, load, aht_s, threshold_s) < target && n < 100_000 {
        n += 1;
    }
    n
}

/// A planned shift in minutes from the local midnight of its day, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlannedShift {
    pub(crate) start_min: i64,
    pub(crate) end_min: i64,
}

/// The shifts of team `team` for a local day that falls on `weekday`.
pub(crate) fn plan_team_day(
    profile: &TenantProfile,
    team: usize,
    weekday: usize,
    scale: f64,
) -> Vec<PlannedShift> {
    match &profile.teams[team].staffing {
        Staffing::Fixed { blocks } => {
            if weekday >= 5 {
                return Vec::new();
            }
            let mut shifts = Vec::new();
            for &(start_h, hours, agents) in blocks {
                let n = (agents * scale).round().max(1.0) as usize;
                let start_min = i64::from(start_h) * 60;
                let end_min = start_min + i64::from(hours) * 60;
                shifts.extend((0..n).map(|_| PlannedShift { start_min, end_min }));
            }
            shifts
        }
        Staffing::Forecast {
            queues,
            target_sl,
            shrinkage,
            factor,
        } => {
            let required = required_agents(profile, queues, weekday, scale, *target_sl);
            let required = required.map(|r| {
                if r > 0.0 {
                    (r / (1.0 - shrinkage) * factor).ceil() as u32
                } else {
                    0
                }
            });
            cover(&required)
                .into_iter()
                .map(|(s, e)| PlannedShift {
                    start_min: s as i64 * SLOT_MIN,
                    end_min: e as i64 * SLOT_MIN,
                })
                .collect()
        }
    }
}

/// Agents needed per slot (before shrinkage) for the forecast load of `queues`; at least
/// one while any of them is open.
fn required_agents(
    profile: &TenantProfile,
    queues: &[usize],
    weekday: usize,
    scale: f64,
    target: f64,
) -> [f64; SLOTS] {
    let mut required = [0.0; SLOTS];
    for (slot, req) in required.iter_mut().enumerate() {
        let mid_ms = (slot as i64 * SLOT_MIN + SLOT_MIN / 2) * MINUTE_MS;
        let minute = (mid_ms / MINUTE_MS) as u32;
        let mut any_open = false;
        // Pool the load per channel: agents of a team share it.
        let mut per_channel: Vec<(ccpulse_schemas::v1::Channel, f64, f64, f64)> = Vec::new();
        for &q in queues {
            let queue = &profile.queues[q];
            if !queue.hours.is_open(weekday, minute) {
                continue;
            }
            any_open = true;
            let b = &queue.behavior;
            let daily = b.daily_volume * scale * WEEKDAY_FACTOR[weekday];
            let rate_per_s = if b.closed_flow_out {
                daily * b.curve.at(mid_ms) / b.curve.integral_ms() * 1000.0
            } else {
                // Work that waits for opening is spread over the open hours.
                let (open, close) = queue.hours.days[weekday].unwrap_or((0, 0));
                daily / (f64::from(close.saturating_sub(open)).max(1.0) * 60.0)
            };
            let aht_s = b.ring.mean_s()
                + b.talk.mean_s()
                + b.hold_p * 1.25 * b.hold.mean_s()
                + b.acw.mean_s();
            let load = rate_per_s * aht_s;
            let threshold = f64::from(queue.sl_threshold_s);
            match per_channel.iter_mut().find(|e| e.0 == queue.channel) {
                Some(e) => {
                    e.1 += load;
                    e.2 += rate_per_s;
                    e.3 = e.3.min(threshold);
                }
                None => per_channel.push((queue.channel, load, rate_per_s, threshold)),
            }
        }
        for (channel, load, rate, threshold) in per_channel {
            if rate <= 0.0 {
                continue;
            }
            let aht = load / rate;
            let servers = servers_needed(load, aht, threshold, target);
            let capacity = team_capacity(profile, queues, channel);
            *req += f64::from(servers) / f64::from(capacity.max(1));
        }
        if any_open {
            *req = req.max(1.0);
        }
    }
    required
}

fn team_capacity(
    profile: &TenantProfile,
    queues: &[usize],
    channel: ccpulse_schemas::v1::Channel,
) -> u32 {
    profile
        .teams
        .iter()
        .find(|t| t.queue_idx.iter().any(|q| queues.contains(q)))
        .and_then(|t| t.capacity.iter().find(|(c, _)| *c == channel))
        .map_or(1, |(_, n)| *n)
}

/// Greedy cover: walking the day, every slot short of agents starts enough full shifts
/// (cut at the end of the open window, part-time near closing) to meet its need.
fn cover(required: &[u32; SLOTS]) -> Vec<(usize, usize)> {
    let Some(first) = required.iter().position(|&r| r > 0) else {
        return Vec::new();
    };
    let last_end = required
        .iter()
        .rposition(|&r| r > 0)
        .map_or(first, |i| i + 1);
    let mut have = [0u32; SLOTS];
    let mut shifts = Vec::new();
    for slot in first..last_end {
        while have[slot] < required[slot] {
            let end = (slot + FULL_SHIFT_SLOTS).min(last_end);
            let start = if end - slot < MIN_SHIFT_SLOTS {
                end.saturating_sub(MIN_SHIFT_SLOTS).max(first)
            } else {
                slot
            };
            for h in &mut have[start..end] {
                *h += 1;
            }
            shifts.push((start, end));
        }
    }
    shifts
}

#[cfg(test)]
mod tests {
    use super::super::model::tenant_profile;
    use super::*;

    #[test]
    fn erlang_c_matches_a_textbook_value() {
        // 10 Erlangs on 11 agents: P(wait) ≈ 0.6821 (standard tables).
        assert!((erlang_c(11, 10.0) - 0.6821).abs() < 1e-3);
        assert_eq!(erlang_c(10, 10.0), 1.0);
        let n = servers_needed(10.0, 180.0, 20.0, 0.8);
        assert!((13..=14).contains(&n), "{n}");
    }

    #[test]
    fn cover_meets_every_slot() {
        let mut required = [0u32; SLOTS];
        for (i, r) in required.iter_mut().enumerate().take(40).skip(16) {
            *r = 2 + (i as u32 % 5);
        }
        let shifts = cover(&required);
        for (slot, &r) in required.iter().enumerate() {
            let have = shifts
                .iter()
                .filter(|(s, e)| (*s..*e).contains(&slot))
                .count();
            assert!(have as u32 >= r, "slot {slot}: {have} < {r}");
        }
        assert!(shifts.iter().all(|(s, e)| e - s >= MIN_SHIFT_SLOTS));
    }

    #[test]
    fn a_weekday_is_staffed_and_sunday_lighter() {
        let p = tenant_profile(0);
        let monday = plan_team_day(&p, 1, 0, 1.0);
        let sunday = plan_team_day(&p, 1, 6, 1.0);
        assert!(monday.len() > 20, "{}", monday.len());
        assert!(sunday.is_empty(), "care queues are closed on Sunday");
        let campaign_saturday = plan_team_day(&p, 3, 5, 1.0);
        assert!(campaign_saturday.is_empty());
    }
}
