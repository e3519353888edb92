//! Whole-run tests: determinism, the contract round trip, time order, and a replay that
//! checks the simulated contact center never does anything a real one could not.

use std::collections::{BTreeMap, BTreeSet};

use ccpulse_schemas::v1::{
    self, Channel, DialResult, Direction, Event, FlowOutReason, KnownEventType as K, Presence,
};

use super::{ConfigProblem, Error, SimConfig, SimSummary, Simulator};

/// FNV-1a over the canonical JSON of every event, one per line.
fn run_hash(config: SimConfig) -> (u64, u64) {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut n = 0;
    for event in Simulator::new(config).expect("valid config") {
        for b in event.to_json().bytes().chain(std::iter::once(b'\n')) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        n += 1;
    }
    (hash, n)
}

fn six_hours(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        // 12:00Z: business hours in New York and Berlin.
        start_ms: SimConfig::DEFAULT_START_MS + 12 * 3_600_000,
        duration_ms: 6 * 3_600_000,
        ..SimConfig::default()
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, n) = run_hash(six_hours(7));
    let (b, m) = run_hash(six_hours(7));
    assert_eq!((a, n), (b, m), "seed 7 twice");
    assert!(n > 10_000, "{n} events");
    let (c, _) = run_hash(six_hours(8));
    assert_ne!(a, c, "seed 8 must differ");
}

#[test]
fn a_tenant_does_not_depend_on_the_others() {
    let only = |tenants| {
        Simulator::new(SimConfig {
            tenants,
            duration_ms: 3 * 3_600_000,
            start_ms: SimConfig::DEFAULT_START_MS + 14 * 3_600_000,
            ..SimConfig::default()
        })
        .expect("valid")
        .filter(|e| e.tenant_id == "acme")
        .map(|e| e.to_json())
        .collect::<Vec<_>>()
    };
    assert_eq!(only(1), only(3));
}

#[test]
fn the_simulator_can_move_to_another_thread() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let sim = Simulator::new(SimConfig::default()).expect("valid");
    assert_send(&sim);
    let handle = std::thread::spawn(move || sim.take(10).count());
    assert_eq!(handle.join().expect("thread"), 10);
}

#[test]
fn invalid_configs_report_every_problem() {
    let config = SimConfig {
        duration_ms: 0,
        tenants: 0,
        scale: f64::NAN,
        ..SimConfig::default()
    };
    let Err(Error::InvalidConfig { problems }) = Simulator::new(config) else {
        panic!("must be rejected");
    };
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems.contains(&ConfigProblem::Duration(0)));
    let text = Error::InvalidConfig { problems }.to_string();
    assert!(
        text.contains("tenants must be between 1 and 256, got 0"),
        "{text}"
    );
    let late = SimConfig {
        start_ms: 253_402_300_000_000,
        duration_ms: 86_400_000,
        ..SimConfig::default()
    };
    assert!(matches!(
        late.validate(),
        Err(Error::InvalidConfig { problems }) if matches!(problems[..], [ConfigProblem::End { .. }])
    ));
    assert!(SimConfig::default().validate().is_ok());
}

#[test]
fn memory_is_bounded_by_open_work() {
    let mut sim = Simulator::new(SimConfig {
        duration_ms: 3 * 86_400_000,
        ..SimConfig::default()
    })
    .expect("valid");
    let mut max_open = 0;
    let mut n = 0u64;
    while let Some(_event) = sim.next() {
        n += 1;
        if n.is_multiple_of(1_000) {
            max_open = max_open.max(sim.open_work());
        }
    }
    assert!(n > 150_000, "{n}");
    assert!(max_open < 5_000, "open work {max_open} for {n} events");
}

/// What a queue visit has seen so far.
#[derive(Debug, Default, Clone)]
struct Visit {
    queue: String,
    queued_at: i64,
    alerting: Option<String>,
    /// Agents connected to the visit (two after a consult transfer to an agent).
    answered_by: Vec<String>,
    terminal: Option<K>,
    invited: Option<String>,
}

#[derive(Debug, Default)]
struct Interaction {
    visits: Vec<Visit>,
    /// Agent → talking (true) or in ACW (false).
    legs: BTreeMap<String, bool>,
    on_hold: bool,
    dial_result: Option<DialResult>,
    attempted: bool,
    ended: bool,
}

#[derive(Debug, Default)]
struct AgentView {
    logged_in: bool,
    presence: Option<Presence>,
    capacity: BTreeMap<String, u32>,
    /// Interactions holding capacity, with their channel.
    work: BTreeMap<String, String>,
}

/// Per tenant and channel: answered (wait ≤ threshold), abandoned, flowed out.
#[derive(Debug, Default, Clone, Copy)]
struct Rates {
    answered: u64,
    answered_in_sl: u64,
    abandoned: u64,
    short_abandoned: u64,
    flowed_out: u64,
}

#[derive(Debug, Default)]
struct Replay {
    ids: BTreeSet<String>,
    last_ms: i64,
    interactions: BTreeMap<String, Interaction>,
    agents: BTreeMap<String, AgentView>,
    rates: BTreeMap<(String, Channel, Direction), Rates>,
    dropped: u64,
    humans: u64,
    outbound_answered: u64,
    transfers_to_agent: u64,
    transfers_to_queue: u64,
    holds: u64,
    first_responses: u64,
    digital_ended_after_talk: u64,
    rona: u64,
    reasons_away: BTreeSet<String>,
}

impl Replay {
    fn check(&mut self, e: &Event<'static>) {
        let ctx = || {
            format!(
                "{} {} at {}",
                e.event_id,
                e.event_type.as_str(),
                e.occurred_at
            )
        };
        assert!(
            self.ids.insert(e.event_id.to_string()),
            "duplicate id {}",
            ctx()
        );
        assert!(e.occurred_at >= self.last_ms, "out of order: {}", ctx());
        self.last_ms = e.occurred_at;
        let kind = e.event_type.known().expect("known type");
        let agent = e.agent_id.as_deref().map(str::to_owned);
        if let Some(agent) = &agent {
            let view = self.agents.get(agent);
            // A survey names the agent it rates, who may have gone home since.
            if kind != K::AgentLoggedIn && kind != K::InteractionSurveyCompleted {
                assert!(
                    view.is_some_and(|a| a.logged_in),
                    "agent {agent} not logged in: {}",
                    ctx()
                );
            }
        }
        let tenant = e.tenant_id.to_string();
        let channel = e.channel_or_default();
        let direction = e.direction_or_default();
        match kind {
            K::AgentLoggedIn => {
                let a = self.agents.entry(agent.clone().unwrap()).or_default();
                assert!(!a.logged_in, "double login {}", ctx());
                a.logged_in = true;
                a.presence = None;
                a.capacity = e
                    .capacity
                    .as_ref()
                    .unwrap()
                    .iter()
                    .map(|(c, n)| (c.to_string(), *n))
                    .collect();
            }
            K::AgentStateChanged => {
                let a = self.agents.get_mut(agent.as_ref().unwrap()).unwrap();
                a.presence = e.state;
                if e.state == Some(Presence::Away) {
                    self.reasons_away
                        .insert(e.reason.as_deref().unwrap().to_owned());
                }
            }
            K::AgentLoggedOut => {
                let a = self.agents.get_mut(agent.as_ref().unwrap()).unwrap();
                assert!(
                    a.work.is_empty(),
                    "logged out with work {:?}: {}",
                    a.work,
                    ctx()
                );
                a.logged_in = false;
            }
            _ => {}
        }
        if kind.family() == v1::EventFamily::Agent {
            return;
        }
        let id = e.interaction_id.as_deref().unwrap().to_owned();
        let queue = e.queue_id.as_deref().map(str::to_owned);
        let ix = self.interactions.entry(id.clone()).or_default();
        let rates = self
            .rates
            .entry((tenant.clone(), channel, direction))
            .or_default();
        let take = |agents: &mut BTreeMap<String, AgentView>, agent: &str| {
            let a = agents.get_mut(agent).unwrap();
            a.work.insert(id.clone(), channel.as_str().to_owned());
            let used = a.work.values().filter(|c| *c == channel.as_str()).count() as u32;
            let cap = a.capacity.get(channel.as_str()).copied().unwrap_or(0);
            assert!(
                used <= cap,
                "agent {agent} over capacity {used}/{cap}: {}",
                ctx()
            );
        };
        match kind {
            K::InteractionCreated => assert!(ix.visits.is_empty(), "{}", ctx()),
            K::InteractionQueued => {
                if let Some(last) = ix.visits.last() {
                    assert!(
                        last.terminal.is_some(),
                        "queued again while the visit is open: {}",
                        ctx()
                    );
                }
                if direction == Direction::Outbound {
                    assert_eq!(ix.dial_result, Some(DialResult::Human), "{}", ctx());
                }
                ix.visits.push(Visit {
                    queue: queue.unwrap(),
                    queued_at: e.occurred_at,
                    ..Visit::default()
                });
            }
            K::InteractionOffered => {
                let v = ix.visits.last_mut().expect("offered without queued");
                assert!(v.terminal.is_none() && v.alerting.is_none(), "{}", ctx());
                assert_eq!(Some(&v.queue), queue.as_ref(), "{}", ctx());
                let agent = agent.unwrap();
                let a = &self.agents[&agent];
                assert_eq!(
                    a.presence,
                    Some(Presence::Available),
                    "offered to unavailable agent: {}",
                    ctx()
                );
                take(&mut self.agents, &agent);
                v.alerting = Some(agent);
            }
            K::InteractionOfferMissed => {
                let v = ix.visits.last_mut().unwrap();
                assert_eq!(v.alerting, agent, "{}", ctx());
                v.alerting = None;
                self.agents
                    .get_mut(agent.as_ref().unwrap())
                    .unwrap()
                    .work
                    .remove(&id);
                self.rona += 1;
            }
            K::InteractionAnswered => {
                let v = ix.visits.last_mut().expect("answered without queued");
                assert_eq!(
                    Some(&v.queue),
                    queue.as_ref(),
                    "answered on another queue: {}",
                    ctx()
                );
                let agent = agent.unwrap();
                if v.answered_by.is_empty() {
                    assert!(v.terminal.is_none(), "answered after terminal: {}", ctx());
                    match &v.alerting {
                        Some(alerting) => assert_eq!(alerting, &agent, "{}", ctx()),
                        None => {
                            // Connected without an offer: outbound calls only.
                            assert_eq!(direction, Direction::Outbound, "{}", ctx());
                            take(&mut self.agents, &agent);
                            self.outbound_answered += 1;
                        }
                    }
                    let wait = e.occurred_at - v.queued_at;
                    rates.answered += 1;
                    if wait <= threshold_ms(channel) {
                        rates.answered_in_sl += 1;
                    }
                    v.terminal = Some(K::InteractionAnswered);
                } else {
                    // Only the agent a consult transfer named may join the answered visit.
                    assert_eq!(
                        v.invited.take(),
                        Some(agent.clone()),
                        "second answer: {}",
                        ctx()
                    );
                    take(&mut self.agents, &agent);
                }
                v.alerting = None;
                v.answered_by.push(agent.clone());
                ix.legs.insert(agent, true);
            }
            K::InteractionAbandoned | K::InteractionFlowedOut => {
                let v = ix.visits.last_mut().unwrap();
                assert!(v.terminal.is_none(), "second terminal: {}", ctx());
                assert!(v.alerting.is_none(), "left while alerting: {}", ctx());
                assert_eq!(Some(&v.queue), queue.as_ref(), "{}", ctx());
                v.terminal = Some(kind);
                let wait = e.occurred_at - v.queued_at;
                if kind == K::InteractionAbandoned {
                    rates.abandoned += 1;
                    if wait <= 5_000 {
                        rates.short_abandoned += 1;
                    }
                } else {
                    rates.flowed_out += 1;
                    FlowOutReason::parse(e.reason.as_deref().unwrap()).expect("reason");
                }
            }
            K::InteractionHoldStarted | K::InteractionHoldEnded => {
                let agent = agent.unwrap();
                assert_eq!(
                    ix.legs.get(&agent),
                    Some(&true),
                    "hold by a non-talking agent: {}",
                    ctx()
                );
                let start = kind == K::InteractionHoldStarted;
                assert_eq!(ix.on_hold, !start, "{}", ctx());
                ix.on_hold = start;
                self.holds += u64::from(start);
            }
            K::InteractionTransferred => {
                assert!(!ix.on_hold, "{}", ctx());
                let v = ix.visits.last_mut().unwrap();
                if let Some(to) = e.to_agent_id.as_deref() {
                    v.invited = Some(to.to_owned());
                    self.transfers_to_agent += 1;
                } else {
                    assert!(e.to_queue_id.is_some(), "{}", ctx());
                    self.transfers_to_queue += 1;
                }
            }
            K::InteractionConversationEnded => {
                let agent = agent.unwrap();
                assert!(!ix.on_hold, "ended on hold: {}", ctx());
                assert_eq!(ix.legs.insert(agent, false), Some(true), "{}", ctx());
            }
            K::InteractionWrapupCompleted => {
                let agent = agent.unwrap();
                assert_eq!(
                    ix.legs.remove(&agent),
                    Some(false),
                    "wrap-up before end: {}",
                    ctx()
                );
                assert!(e.disposition.is_some());
                let a = self.agents.get_mut(&agent).unwrap();
                assert!(a.work.remove(&id).is_some(), "{}", ctx());
            }
            K::InteractionSurveyCompleted => {
                assert!(
                    ix.visits.iter().any(|v| !v.answered_by.is_empty()),
                    "{}",
                    ctx()
                );
                assert!((1..=5).contains(&e.csat.unwrap()) && e.nps.unwrap() <= 10);
            }
            K::InteractionFirstResponse => {
                assert!(
                    matches!(channel, Channel::Chat | Channel::Email),
                    "{}",
                    ctx()
                );
                assert_eq!(
                    ix.legs.get(agent.as_ref().unwrap()),
                    Some(&true),
                    "{}",
                    ctx()
                );
                self.first_responses += 1;
            }
            K::InteractionEnded => {
                assert!(!ix.ended, "{}", ctx());
                assert!(
                    ix.legs.values().all(|talking| !talking),
                    "ended during talk: {}",
                    ctx()
                );
                assert!(
                    ix.visits.last().is_none_or(|v| v.terminal.is_some()),
                    "{}",
                    ctx()
                );
                if ix.visits.iter().any(|v| !v.answered_by.is_empty()) {
                    self.digital_ended_after_talk += 1;
                }
                ix.ended = true;
            }
            K::DialerAttempted => {
                assert!(!ix.attempted && e.campaign_id.is_some(), "{}", ctx());
                ix.attempted = true;
            }
            K::DialerResult => {
                assert!(ix.attempted && ix.dial_result.is_none(), "{}", ctx());
                ix.dial_result = e.result;
                if e.result == Some(DialResult::Human) {
                    self.humans += 1;
                }
            }
            K::DialerDropped => {
                assert_eq!(ix.dial_result, Some(DialResult::Human), "{}", ctx());
                let v = ix.visits.last().unwrap();
                assert!(v.answered_by.is_empty() && e.occurred_at - v.queued_at >= 2_000);
                self.dropped += 1;
            }
            K::DialerPreviewAction => assert!(e.agent_id.is_some() && e.action.is_some()),
            _ => {}
        }
    }
}

fn threshold_ms(channel: Channel) -> i64 {
    match channel {
        Channel::Voice => 20_000,
        Channel::Chat => 60_000,
        _ => 3_600_000,
    }
}

/// Runs `config` through validation, the JSON round trip and the replay checks.
fn replay(config: SimConfig) -> (Replay, SimSummary) {
    let seed = config.seed;
    let mut sim = Simulator::new(config).expect("valid");
    let mut replay = Replay::default();
    let mut recount = SimSummary::new();
    for event in sim.by_ref() {
        v1::validate(&event).unwrap_or_else(|err| panic!("seed {seed}: {err:?}: {event:?}"));
        let json = event.to_json();
        let back = v1::decode(json.as_bytes()).unwrap_or_else(|err| panic!("{err:?}: {json}"));
        assert_eq!(back, event, "seed {seed}: round trip of {json}");
        replay.check(&event);
        recount.observe(&event);
    }
    let summary = sim.summary().clone();
    assert_eq!(summary, recount, "seed {seed}: summary equals a recount");
    (replay, summary)
}

/// Many tenants, other seeds and scales, and the daylight-saving weekend in Europe: the
/// replay finds nothing inconsistent.
#[test]
fn other_configs_stay_consistent() {
    let configs = [
        SimConfig {
            seed: 3,
            tenants: 9,
            scale: 0.25,
            ..SimConfig::default()
        },
        SimConfig {
            seed: 11,
            scale: 3.0,
            start_ms: SimConfig::DEFAULT_START_MS + 13 * 3_600_000,
            duration_ms: 3 * 3_600_000,
            ..SimConfig::default()
        },
        SimConfig {
            seed: 5,
            // Friday 2026-03-27 to Monday 2026-03-30: Berlin moves to summer time.
            start_ms: 1_774_569_600_000,
            duration_ms: 3 * 86_400_000,
            scale: 0.2,
            ..SimConfig::default()
        },
    ];
    for config in configs {
        let (_, summary) = replay(config);
        assert!(summary.events > 1_000, "{summary}");
    }
}

/// The default day (seed 7): every event is valid, survives the JSON round trip, comes in
/// time order, and the replay finds nothing a real contact center could not do.
#[test]
fn a_full_day_is_valid_consistent_and_realistic() {
    let (replay, summary) = replay(SimConfig::default());
    println!("{summary}");
    let mut unrealistic = Vec::new();
    for ((tenant, channel, direction), r) in &replay.rates {
        if *direction == Direction::Outbound || *channel == Channel::Email {
            continue;
        }
        let closed = r.answered + r.abandoned + r.flowed_out;
        let abandon = r.abandoned as f64 / closed as f64;
        let sl = r.answered_in_sl as f64 / (r.answered + r.abandoned) as f64;
        println!(
            "{tenant} {channel}: {closed} closed, abandon {abandon:.3}, SL {sl:.3}, short {}",
            r.short_abandoned
        );
        if !(0.02..=0.20).contains(&abandon)
            || !(0.5..=0.97).contains(&sl)
            || r.short_abandoned == 0
        {
            unrealistic.push(format!("{tenant} {channel}"));
        }
    }
    assert!(unrealistic.is_empty(), "unrealistic: {unrealistic:?}");

    let events = summary.events;
    assert!((50_000..=150_000).contains(&events), "{events} events");
    for kind in K::ALL {
        if *kind != K::AgentHeartbeat {
            assert!(
                summary.by_type.get(kind).is_some_and(|n| *n > 0),
                "no {kind}"
            );
        }
    }
    for reason in [
        FlowOutReason::Timeout,
        FlowOutReason::Overflow,
        FlowOutReason::Callback,
        FlowOutReason::Voicemail,
        FlowOutReason::Closed,
    ] {
        assert!(
            summary.flowed_out_by_reason.contains_key(&reason),
            "no flow-out {reason}"
        );
    }
    for result in DialResult::ALL {
        assert!(
            summary.dial_results.contains_key(result),
            "no dial result {result}"
        );
    }
    assert!(replay.transfers_to_agent > 0 && replay.transfers_to_queue > 0);
    assert!(replay.holds > 0 && replay.rona > 0 && replay.first_responses > 0);
    assert!(replay.digital_ended_after_talk > 0 && replay.outbound_answered > 0);
    for reason in ["break", "lunch", "no_answer"] {
        assert!(
            replay.reasons_away.contains(reason),
            "nobody away for {reason}"
        );
    }
    let dialer_abandon = replay.dropped as f64 / replay.humans as f64;
    assert!(
        (0.0..0.10).contains(&dialer_abandon) && replay.dropped > 0,
        "dialer abandon {dialer_abandon}"
    );
}
