//! Who is simulated: tenants with their time zone, queues, teams and outbound campaigns, and
//! the distributions (arrival curves, patience, talk, hold, after-contact work) behind them.
//!
//! The catalog is fixed code, not configuration: the same tenant index always describes the
//! same contact center, so a seed reproduces the same traffic. Tenant `i` is taken from
//! [`CATALOG`]; past its end the archetypes repeat with a numeric suffix (`acme-2`).

use ccpulse_schemas::v1::{Channel, DialMode, Direction, FlowOutReason};
use chrono_tz::Tz;

use super::calendar::HOUR_MS;
use super::rng::Rng;

/// One simulated contact-center account.
#[derive(Debug, Clone)]
pub struct TenantProfile {
    /// The `tenant_id` of its events.
    pub tenant_id: String,
    /// IANA time zone: the arrival curves, opening hours and shifts follow its local clock,
    /// and reporting days start at its midnight (metrics.md).
    pub timezone: Tz,
    /// Inbound queues first, then one outbound queue per campaign.
    pub queues: Vec<QueueProfile>,
    /// Agent teams; every agent belongs to exactly one.
    pub teams: Vec<TeamProfile>,
    /// Outbound dialer campaigns (possibly none).
    pub campaigns: Vec<CampaignProfile>,
}

/// A queue and how its contacts behave.
#[derive(Debug, Clone)]
pub struct QueueProfile {
    /// The `queue_id` of its events.
    pub queue_id: String,
    /// Every contact of the queue has this channel.
    pub channel: Channel,
    /// `outbound` for a campaign's queue (connected dialer calls), else `inbound`.
    pub direction: Direction,
    /// The `skills` sent with `interaction.queued`.
    pub skills: Vec<String>,
    /// The `priority` sent with `interaction.queued`; routing serves higher first.
    pub priority: i64,
    /// The service-level threshold the simulator staffs for (metrics.md defaults).
    pub sl_threshold_s: u32,
    /// Business hours in tenant-local time.
    pub hours: WeeklyHours,
    pub(crate) behavior: QueueBehavior,
}

/// Opening hours per weekday, tenant-local, as `[open, close)` minutes of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyHours {
    /// Monday first; `None` is closed all day.
    pub days: [Option<(u16, u16)>; 7],
}

impl WeeklyHours {
    /// Open every minute of every day.
    pub const ALWAYS: WeeklyHours = WeeklyHours {
        days: [Some((0, 1440)); 7],
    };

    /// `weekdays` on Monday–Friday, `saturday` and `sunday`, each `(open_h, close_h)`.
    const fn week(
        weekdays: (u16, u16),
        saturday: Option<(u16, u16)>,
        sunday: Option<(u16, u16)>,
    ) -> WeeklyHours {
        let wd = Some((weekdays.0 * 60, weekdays.1 * 60));
        let sat = match saturday {
            Some((o, c)) => Some((o * 60, c * 60)),
            None => None,
        };
        let sun = match sunday {
            Some((o, c)) => Some((o * 60, c * 60)),
            None => None,
        };
        WeeklyHours {
            days: [wd, wd, wd, wd, wd, sat, sun],
        }
    }

    /// Whether the minute `minute` of weekday `weekday` (Monday = 0) is inside the hours.
    pub fn is_open(&self, weekday: usize, minute: u32) -> bool {
        match self.days[weekday % 7] {
            Some((open, close)) => (u32::from(open)..u32::from(close)).contains(&minute),
            None => false,
        }
    }
}

/// A team of agents: the queues they serve and their concurrency per channel.
#[derive(Debug, Clone)]
pub struct TeamProfile {
    /// The `team_id` of `agent.logged_in`.
    pub team_id: String,
    /// Queue ids the agents log in to (the `queues` of `agent.logged_in`).
    pub queues: Vec<String>,
    /// Concurrent contacts per channel (the `capacity` of `agent.logged_in`).
    pub capacity: Vec<(Channel, u32)>,
    pub(crate) queue_idx: Vec<usize>,
    pub(crate) staffing: Staffing,
}

/// An outbound dialer campaign.
#[derive(Debug, Clone)]
pub struct CampaignProfile {
    /// The `campaign_id` of its events.
    pub campaign_id: String,
    /// `predictive` (the dialer paces calls ahead of free agents) or `preview` (an agent
    /// reviews each record first).
    pub dial_mode: DialMode,
    /// The outbound queue connected calls pass through.
    pub queue_id: String,
    /// Dialing hours in tenant-local time (calling rules are local).
    pub hours: WeeklyHours,
    pub(crate) queue: usize,
    pub(crate) team: usize,
    /// Predictive: lines dialed per idle agent.
    pub(crate) pacing_ratio: f64,
    /// Weights in [`DialResult::ALL`](ccpulse_schemas::v1::DialResult::ALL) order.
    pub(crate) result_weights: [f64; 7],
    /// Preview: weights in [`PreviewAction::ALL`](ccpulse_schemas::v1::PreviewAction::ALL) order.
    pub(crate) preview_weights: [f64; 5],
    /// Preview: how long an agent studies a record.
    pub(crate) preview_think: Dist,
}

/// How agents for a team are planned each local day.
#[derive(Debug, Clone)]
pub(crate) enum Staffing {
    /// Erlang C staffing from the forecast load of `queues` (indices), for 30-minute slots,
    /// grossed up by `shrinkage` (breaks, lunch, meetings) and multiplied by `factor`
    /// (below 1 leaves the realistic slight understaffing that produces abandons).
    Forecast {
        queues: Vec<usize>,
        target_sl: f64,
        shrinkage: f64,
        factor: f64,
    },
    /// Fixed shift blocks on weekdays (campaign teams): `(start_h, hours, agents at scale 1)`.
    Fixed { blocks: Vec<(u16, u16, f64)> },
}

/// The behaviour of a queue's contacts; all times in the distributions are seconds.
#[derive(Debug, Clone)]
pub(crate) struct QueueBehavior {
    /// Contacts on an average weekday at scale 1 (0 for campaign queues).
    pub(crate) daily_volume: f64,
    /// Intraday arrival shape in local time.
    pub(crate) curve: &'static Curve,
    /// `interaction.created` → `interaction.queued` (IVR, bot or pre-chat form).
    pub(crate) ivr: Option<Dist>,
    /// Customer patience in queue; `None` never abandons (email).
    pub(crate) patience: Option<Dist>,
    /// Share of callers who hang up almost at once (short abandons).
    pub(crate) quick_hangup: f64,
    /// What happens after waiting too long.
    pub(crate) max_wait: Option<(i64, WaitExit)>,
    /// An offer to stop waiting (a callback, leaving a voicemail) made after `.0` ms, which
    /// the caller accepts with probability `.1`: the contact flows out with reason `.2`.
    pub(crate) wait_offer: Option<(i64, f64, FlowOutReason)>,
    /// Contacts arriving while closed: flow out (`closed`) or wait for opening.
    pub(crate) closed_flow_out: bool,
    /// Connected straight to an agent without an offer (predictive dialer calls).
    pub(crate) auto_answer: bool,
    pub(crate) ring: Dist,
    /// No answer within this time: `offer_missed` (`timeout`).
    pub(crate) ring_timeout_ms: i64,
    pub(crate) miss_timeout_p: f64,
    pub(crate) miss_reject_p: f64,
    pub(crate) talk: Dist,
    pub(crate) hold_p: f64,
    pub(crate) hold: Dist,
    pub(crate) acw: Dist,
    pub(crate) transfer_p: f64,
    /// Target queues of transfers.
    pub(crate) transfer_to: Vec<usize>,
    pub(crate) consult_p: f64,
    /// Consult transfers straight to another agent of the same queue.
    pub(crate) to_agent_p: f64,
    pub(crate) survey_p: f64,
    pub(crate) dispositions: &'static [&'static str],
    /// Digital channels: answered → `first_response`.
    pub(crate) first_response: Option<Dist>,
    /// Digital channels: conversation end → `interaction.ended`.
    pub(crate) close_after: Option<Dist>,
}

/// What a queue does with a contact that waited `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitExit {
    /// `flowed_out` (`overflow`) and a new visit on that queue.
    Overflow(usize),
    /// `flowed_out` with this reason; the contact ends.
    FlowOut(FlowOutReason),
    /// A predictive call nobody took within the compliance window: `dialer.dropped`, then
    /// `flowed_out` (`timeout`).
    Drop,
}

/// A clamped log-normal duration in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dist {
    pub(crate) median_s: f64,
    pub(crate) sigma: f64,
    pub(crate) min_s: f64,
    pub(crate) max_s: f64,
}

impl Dist {
    pub(crate) const fn new(median_s: f64, sigma: f64, min_s: f64, max_s: f64) -> Dist {
        Dist {
            median_s,
            sigma,
            min_s,
            max_s,
        }
    }

    /// A draw in whole milliseconds.
    pub(crate) fn draw_ms(&self, rng: &mut Rng) -> i64 {
        let s = rng
            .log_normal(self.median_s, self.sigma)
            .clamp(self.min_s, self.max_s);
        (s * 1000.0).round() as i64
    }

    /// The mean in seconds (of the unclamped distribution), for staffing.
    pub(crate) fn mean_s(&self) -> f64 {
        self.median_s * (self.sigma * self.sigma / 2.0).exp()
    }
}

/// Relative arrival intensity at each local hour boundary `0..=24`, linearly interpolated.
#[derive(Debug)]
pub(crate) struct Curve {
    points: [f64; 25],
}

impl Curve {
    /// Intensity at `ms_of_day` local.
    pub(crate) fn at(&self, ms_of_day: i64) -> f64 {
        let h = (ms_of_day / HOUR_MS).clamp(0, 23) as usize;
        let frac = (ms_of_day - h as i64 * HOUR_MS) as f64 / HOUR_MS as f64;
        self.points[h] + (self.points[h + 1] - self.points[h]) * frac
    }

    /// The largest intensity.
    pub(crate) fn peak(&self) -> f64 {
        self.points.iter().copied().fold(0.0, f64::max)
    }

    /// ∫ over one day, in intensity·ms: dividing by it turns a daily volume into a rate.
    pub(crate) fn integral_ms(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| (w[0] + w[1]) / 2.0 * HOUR_MS as f64)
            .sum()
    }
}

/// Voice: quiet at night, a mid-morning peak around 10:00 and a second one around 14:00.
pub(crate) static VOICE_CURVE: Curve = Curve {
    points: [
        0.04, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.35, 0.75, 1.0, 1.15, 1.1, 0.85, 0.9, 1.05, 1.0,
        0.9, 0.75, 0.55, 0.38, 0.25, 0.16, 0.1, 0.06, 0.04,
    ],
};

/// Chat: later and flatter than voice, busy into the evening.
pub(crate) static CHAT_CURVE: Curve = Curve {
    points: [
        0.08, 0.05, 0.03, 0.03, 0.03, 0.05, 0.1, 0.25, 0.55, 0.8, 0.95, 1.0, 0.9, 0.95, 1.0, 1.0,
        0.95, 0.9, 0.85, 0.8, 0.7, 0.5, 0.3, 0.15, 0.08,
    ],
};

/// Email: written any time, with a daytime bulge.
pub(crate) static EMAIL_CURVE: Curve = Curve {
    points: [
        0.3, 0.25, 0.2, 0.2, 0.2, 0.3, 0.45, 0.7, 0.95, 1.0, 1.0, 1.0, 0.95, 1.0, 1.0, 0.95, 0.9,
        0.85, 0.75, 0.65, 0.55, 0.45, 0.4, 0.35, 0.3,
    ],
};

/// Volume per weekday relative to the average weekday, Monday first.
pub(crate) const WEEKDAY_FACTOR: [f64; 7] = [1.15, 1.05, 1.0, 1.0, 0.95, 0.45, 0.25];

/// The largest of [`WEEKDAY_FACTOR`].
pub(crate) const WEEKDAY_FACTOR_MAX: f64 = 1.15;

/// Day-to-day volume noise is uniform in `1 ± DAY_NOISE`.
pub(crate) const DAY_NOISE: f64 = 0.12;

/// Where the archetypes come from: `(tenant_id, time zone, archetype, size)`.
pub(crate) const CATALOG: [(&str, Tz, Archetype, f64); 8] = [
    ("acme", Tz::America__New_York, Archetype::Large, 1.0),
    ("globex", Tz::Europe__Berlin, Archetype::Medium, 1.0),
    ("initech", Tz::America__Chicago, Archetype::Small, 1.0),
    ("umbrella", Tz::Australia__Sydney, Archetype::Medium, 0.8),
    ("hooli", Tz::America__Los_Angeles, Archetype::Large, 0.6),
    ("stark", Tz::Europe__London, Archetype::Small, 1.5),
    ("wayne", Tz::Asia__Tokyo, Archetype::Medium, 0.7),
    ("soylent", Tz::America__Sao_Paulo, Archetype::Small, 0.8),
];

/// The shapes of contact center the catalog is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Archetype {
    /// Sales, support and billing lines, chat, email and a predictive renewals campaign.
    Large,
    /// Service and tech lines with callback offers, chat, email and a preview campaign.
    Medium,
    /// One help-desk line and an email inbox, handled by one blended team.
    Small,
}

/// The profile of tenant number `index` (0-based).
pub(crate) fn tenant_profile(index: u32) -> TenantProfile {
    let (name, tz, archetype, size) = CATALOG[index as usize % CATALOG.len()];
    let round = index as usize / CATALOG.len();
    let tenant_id = if round == 0 {
        name.to_owned()
    } else {
        format!("{name}-{}", round + 1)
    };
    // Later rounds shrink a little so many tenants stay cheap to run.
    let size = size / (1.0 + round as f64 * 0.5);
    let mut profile = match archetype {
        Archetype::Large => large(size),
        Archetype::Medium => medium(size),
        Archetype::Small => small(size),
    };
    profile.tenant_id = tenant_id;
    profile.timezone = tz;
    profile
}

/// Predictive campaigns have no preview step.
const NO_THINK: Dist = Dist::new(1.0, 0.0, 1.0, 1.0);
const VOICE_RING: Dist = Dist::new(4.0, 0.4, 1.0, 12.0);
const CHAT_RING: Dist = Dist::new(3.0, 0.4, 1.0, 10.0);
const EMAIL_RING: Dist = Dist::new(5.0, 0.4, 1.0, 20.0);
const HOLD: Dist = Dist::new(45.0, 0.7, 5.0, 600.0);
const VOICE_ACW: Dist = Dist::new(25.0, 0.6, 2.0, 600.0);
const CHAT_ACW: Dist = Dist::new(20.0, 0.6, 2.0, 300.0);
const EMAIL_ACW: Dist = Dist::new(60.0, 0.6, 5.0, 900.0);
const IVR: Dist = Dist::new(20.0, 0.5, 3.0, 180.0);
const PRECHAT: Dist = Dist::new(8.0, 0.5, 1.0, 60.0);
const VOICE_PATIENCE: Dist = Dist::new(150.0, 1.0, 6.0, 3600.0);
const CHAT_PATIENCE: Dist = Dist::new(240.0, 0.9, 6.0, 7200.0);

fn voice_queue(id: &str, skills: &[&str], priority: i64, hours: WeeklyHours) -> QueueProfile {
    QueueProfile {
        queue_id: id.to_owned(),
        channel: Channel::Voice,
        direction: Direction::Inbound,
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        priority,
        sl_threshold_s: 20,
        hours,
        behavior: QueueBehavior {
            daily_volume: 0.0,
            curve: &VOICE_CURVE,
            ivr: Some(IVR),
            patience: Some(VOICE_PATIENCE),
            quick_hangup: 0.03,
            max_wait: None,
            wait_offer: None,
            closed_flow_out: true,
            auto_answer: false,
            ring: VOICE_RING,
            ring_timeout_ms: 15_000,
            miss_timeout_p: 0.02,
            miss_reject_p: 0.008,
            talk: Dist::new(270.0, 0.6, 20.0, 3600.0),
            hold_p: 0.25,
            hold: HOLD,
            acw: VOICE_ACW,
            transfer_p: 0.0,
            transfer_to: Vec::new(),
            consult_p: 0.35,
            to_agent_p: 0.0,
            survey_p: 0.12,
            dispositions: &["resolved", "follow_up", "info_provided"],
            first_response: None,
            close_after: None,
        },
    }
}

fn chat_queue(id: &str, skills: &[&str], hours: WeeklyHours) -> QueueProfile {
    let mut q = voice_queue(id, skills, 1, hours);
    q.channel = Channel::Chat;
    q.sl_threshold_s = 60;
    let b = &mut q.behavior;
    b.curve = &CHAT_CURVE;
    b.ivr = Some(PRECHAT);
    b.patience = Some(CHAT_PATIENCE);
    b.quick_hangup = 0.02;
    b.max_wait = Some((1200 * 1000, WaitExit::FlowOut(FlowOutReason::Timeout)));
    b.ring = CHAT_RING;
    b.ring_timeout_ms = 20_000;
    b.talk = Dist::new(540.0, 0.5, 60.0, 5400.0);
    b.hold_p = 0.0;
    b.acw = CHAT_ACW;
    b.survey_p = 0.22;
    b.dispositions = &["resolved", "follow_up", "escalated"];
    b.first_response = Some(Dist::new(25.0, 0.5, 3.0, 55.0));
    b.close_after = Some(Dist::new(90.0, 0.6, 10.0, 900.0));
    q
}

fn email_queue(id: &str, skills: &[&str], hours: WeeklyHours) -> QueueProfile {
    let mut q = voice_queue(id, skills, 0, hours);
    q.channel = Channel::Email;
    q.sl_threshold_s = 3600;
    let b = &mut q.behavior;
    b.curve = &EMAIL_CURVE;
    b.ivr = None;
    b.patience = None;
    b.quick_hangup = 0.0;
    b.closed_flow_out = false;
    b.ring = EMAIL_RING;
    b.ring_timeout_ms = 30_000;
    b.miss_timeout_p = 0.01;
    b.miss_reject_p = 0.02;
    b.talk = Dist::new(330.0, 0.7, 30.0, 3600.0);
    b.hold_p = 0.0;
    b.acw = EMAIL_ACW;
    b.survey_p = 0.06;
    b.dispositions = &["replied", "replied_and_closed", "closed_no_action"];
    b.first_response = Some(Dist::new(240.0, 0.5, 20.0, 1800.0));
    b.close_after = Some(Dist::new(7200.0, 0.8, 600.0, 86_400.0));
    q
}

fn campaign_queue(id: &str) -> QueueProfile {
    let mut q = voice_queue(id, &["outbound"], 5, WeeklyHours::ALWAYS);
    q.direction = Direction::Outbound;
    let b = &mut q.behavior;
    b.ivr = None;
    b.patience = None;
    b.quick_hangup = 0.0;
    b.max_wait = Some((2_000, WaitExit::Drop));
    b.closed_flow_out = false;
    b.auto_answer = true;
    b.talk = Dist::new(150.0, 0.7, 15.0, 2400.0);
    b.hold_p = 0.08;
    b.survey_p = 0.0;
    b.dispositions = &[
        "renewed",
        "callback_requested",
        "not_interested",
        "wrong_party",
        "do_not_call",
    ];
    q
}

fn team(
    id: &str,
    queues: &[usize],
    all: &[QueueProfile],
    capacity: &[(Channel, u32)],
    staffing: Staffing,
) -> TeamProfile {
    TeamProfile {
        team_id: id.to_owned(),
        queues: queues.iter().map(|&q| all[q].queue_id.clone()).collect(),
        capacity: capacity.to_vec(),
        queue_idx: queues.to_vec(),
        staffing,
    }
}

fn forecast(queues: &[usize], factor: f64) -> Staffing {
    Staffing::Forecast {
        queues: queues.to_vec(),
        target_sl: 0.8,
        shrinkage: 0.12,
        factor,
    }
}

/// Predictive: a quarter of dials reach a person.
const PREDICTIVE_RESULTS: [f64; 7] = [0.22, 0.18, 0.01, 0.05, 0.38, 0.10, 0.06];
/// Preview: better lists, more humans, no fax machines.
const PREVIEW_RESULTS: [f64; 7] = [0.36, 0.15, 0.0, 0.03, 0.34, 0.08, 0.04];

fn large(size: f64) -> TenantProfile {
    let voice_hours = WeeklyHours::week((8, 20), Some((9, 17)), None);
    let chat_hours = WeeklyHours::week((8, 22), Some((10, 18)), Some((10, 18)));
    let email_hours = WeeklyHours::week((8, 18), None, None);
    // Queue indices, fixed by the order below.
    let (sales, support, billing, chat, email, renewals) = (0, 1, 2, 3, 4, 5);
    let mut queues = vec![
        voice_queue("sales", &["sales", "en"], 3, voice_hours),
        voice_queue("support", &["support", "en"], 2, voice_hours),
        voice_queue("billing", &["billing", "en"], 2, voice_hours),
        chat_queue("chat_support", &["support", "chat", "en"], chat_hours),
        email_queue("email", &["support", "written", "en"], email_hours),
        campaign_queue("renewals"),
    ];
    {
        let b = &mut queues[sales].behavior;
        b.daily_volume = 2000.0 * size;
        b.talk = Dist::new(240.0, 0.6, 20.0, 3600.0);
        b.max_wait = Some((180_000, WaitExit::Overflow(support)));
        b.transfer_p = 0.04;
        b.transfer_to = vec![billing];
        b.dispositions = &["sale", "no_sale", "quote_sent", "follow_up"];
    }
    {
        let b = &mut queues[support].behavior;
        b.daily_volume = 2600.0 * size;
        b.talk = Dist::new(330.0, 0.65, 30.0, 5400.0);
        b.hold_p = 0.35;
        b.max_wait = Some((900_000, WaitExit::FlowOut(FlowOutReason::Voicemail)));
        b.wait_offer = Some((90_000, 0.12, FlowOutReason::Voicemail));
        b.transfer_p = 0.07;
        b.transfer_to = vec![billing, sales];
        b.consult_p = 0.4;
        b.to_agent_p = 0.015;
        b.dispositions = &["resolved", "escalated", "follow_up", "info_provided"];
    }
    {
        let b = &mut queues[billing].behavior;
        b.daily_volume = 1100.0 * size;
        b.max_wait = Some((480_000, WaitExit::FlowOut(FlowOutReason::Timeout)));
        b.transfer_p = 0.04;
        b.transfer_to = vec![support];
        b.dispositions = &["payment_taken", "dispute_opened", "resolved"];
    }
    queues[chat].behavior.daily_volume = 1300.0 * size;
    queues[email].behavior.daily_volume = 450.0 * size;
    let teams = vec![
        team(
            "sales",
            &[sales],
            &queues,
            &[(Channel::Voice, 1)],
            forecast(&[sales], 0.88),
        ),
        team(
            "care",
            &[support, billing],
            &queues,
            &[(Channel::Voice, 1)],
            forecast(&[support, billing], 0.88),
        ),
        team(
            "chat",
            &[chat],
            &queues,
            &[(Channel::Chat, 3)],
            forecast(&[chat], 0.8),
        ),
        team(
            "backoffice",
            &[email],
            &queues,
            &[(Channel::Email, 1)],
            forecast(&[email], 0.9),
        ),
        team(
            "outbound",
            &[renewals],
            &queues,
            &[(Channel::Voice, 1)],
            Staffing::Fixed {
                blocks: vec![(9, 8, 10.0 * size), (12, 8, 6.0 * size)],
            },
        ),
    ];
    let campaigns = vec![CampaignProfile {
        campaign_id: "renewals".to_owned(),
        dial_mode: DialMode::Predictive,
        queue_id: queues[renewals].queue_id.clone(),
        hours: WeeklyHours::week((9, 20), Some((10, 16)), None),
        queue: renewals,
        team: 4,
        pacing_ratio: 2.1,
        result_weights: PREDICTIVE_RESULTS,
        preview_weights: [0.0; 5],
        preview_think: NO_THINK,
    }];
    TenantProfile {
        tenant_id: String::new(),
        timezone: Tz::UTC,
        queues,
        teams,
        campaigns,
    }
}

fn medium(size: f64) -> TenantProfile {
    let voice_hours = WeeklyHours::week((7, 19), Some((8, 14)), None);
    let chat_hours = WeeklyHours::week((8, 20), Some((9, 15)), None);
    let email_hours = WeeklyHours::week((8, 17), None, None);
    let (service, tech, chat, email, winback) = (0, 1, 2, 3, 4);
    let mut queues = vec![
        voice_queue("service", &["service", "de"], 2, voice_hours),
        voice_queue("tech", &["tech", "de"], 2, voice_hours),
        chat_queue("chat", &["service", "chat", "de"], chat_hours),
        email_queue("email", &["service", "written", "de"], email_hours),
        campaign_queue("winback"),
    ];
    {
        let b = &mut queues[service].behavior;
        b.daily_volume = 1500.0 * size;
        b.talk = Dist::new(280.0, 0.6, 20.0, 3600.0);
        b.max_wait = Some((480_000, WaitExit::FlowOut(FlowOutReason::Voicemail)));
        b.wait_offer = Some((90_000, 0.3, FlowOutReason::Callback));
        b.transfer_p = 0.06;
        b.transfer_to = vec![tech];
        b.dispositions = &["resolved", "order_changed", "complaint", "follow_up"];
    }
    {
        let b = &mut queues[tech].behavior;
        b.daily_volume = 700.0 * size;
        b.talk = Dist::new(420.0, 0.65, 30.0, 5400.0);
        b.hold_p = 0.4;
        b.max_wait = Some((240_000, WaitExit::Overflow(service)));
        b.transfer_p = 0.05;
        b.transfer_to = vec![service];
        b.to_agent_p = 0.02;
        b.dispositions = &["fixed", "ticket_opened", "technician_booked"];
    }
    queues[chat].behavior.daily_volume = 700.0 * size;
    queues[email].behavior.daily_volume = 250.0 * size;
    {
        let b = &mut queues[winback].behavior;
        b.auto_answer = true;
        b.dispositions = &["won_back", "offer_sent", "not_interested", "wrong_party"];
    }
    let teams = vec![
        team(
            "service",
            &[service, tech],
            &queues,
            &[(Channel::Voice, 1)],
            forecast(&[service], 0.84),
        ),
        team(
            "tech",
            &[tech],
            &queues,
            &[(Channel::Voice, 1)],
            forecast(&[tech], 0.86),
        ),
        team(
            "chat",
            &[chat, email],
            &queues,
            &[(Channel::Chat, 3), (Channel::Email, 1)],
            forecast(&[chat], 0.8),
        ),
        team(
            "backoffice",
            &[email],
            &queues,
            &[(Channel::Email, 1)],
            forecast(&[email], 0.9),
        ),
        team(
            "retention",
            &[winback],
            &queues,
            &[(Channel::Voice, 1)],
            Staffing::Fixed {
                blocks: vec![(9, 8, 6.0 * size)],
            },
        ),
    ];
    let campaigns = vec![CampaignProfile {
        campaign_id: "winback".to_owned(),
        dial_mode: DialMode::Preview,
        queue_id: queues[winback].queue_id.clone(),
        hours: WeeklyHours::week((9, 19), None, None),
        queue: winback,
        team: 4,
        pacing_ratio: 1.0,
        result_weights: PREVIEW_RESULTS,
        preview_weights: [0.78, 0.04, 0.07, 0.05, 0.06],
        preview_think: Dist::new(20.0, 0.6, 4.0, 120.0),
    }];
    TenantProfile {
        tenant_id: String::new(),
        timezone: Tz::UTC,
        queues,
        teams,
        campaigns,
    }
}

fn small(size: f64) -> TenantProfile {
    let hours = WeeklyHours::week((8, 18), None, None);
    let (helpdesk, email) = (0, 1);
    let mut queues = vec![
        voice_queue("helpdesk", &["it", "en"], 2, hours),
        email_queue("email", &["it", "written", "en"], hours),
    ];
    {
        let b = &mut queues[helpdesk].behavior;
        b.daily_volume = 450.0 * size;
        b.talk = Dist::new(360.0, 0.7, 30.0, 5400.0);
        b.hold_p = 0.3;
        b.max_wait = Some((600_000, WaitExit::FlowOut(FlowOutReason::Voicemail)));
        b.to_agent_p = 0.03;
        b.dispositions = &["fixed", "ticket_opened", "password_reset", "escalated"];
    }
    queues[email].behavior.daily_volume = 150.0 * size;
    let teams = vec![team(
        "helpdesk",
        &[helpdesk, email],
        &queues,
        &[(Channel::Voice, 1), (Channel::Email, 1)],
        forecast(&[helpdesk, email], 0.95),
    )];
    TenantProfile {
        tenant_id: String::new(),
        timezone: Tz::UTC,
        queues,
        teams,
        campaigns: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_profiles_are_internally_consistent() {
        for index in 0..20 {
            let p = tenant_profile(index);
            assert!(!p.tenant_id.is_empty());
            for team in &p.teams {
                for &q in &team.queue_idx {
                    let channel = p.queues[q].channel;
                    assert!(
                        team.capacity.iter().any(|(c, n)| *c == channel && *n > 0),
                        "{} team {} lacks capacity for {channel}",
                        p.tenant_id,
                        team.team_id
                    );
                }
            }
            for q in &p.queues {
                for &t in &q.behavior.transfer_to {
                    assert_ne!(p.queues[t].queue_id, q.queue_id);
                }
                // Every queue is served by some team.
                let idx = p.queues.iter().position(|x| x.queue_id == q.queue_id);
                assert!(p.teams.iter().any(|t| t.queue_idx.contains(&idx.unwrap())));
            }
            for c in &p.campaigns {
                assert_eq!(p.queues[c.queue].direction, Direction::Outbound);
                assert!(p.teams[c.team].queue_idx.contains(&c.queue));
            }
        }
        assert_eq!(tenant_profile(0).tenant_id, "acme");
        assert_eq!(tenant_profile(9).tenant_id, "globex-2");
    }

    #[test]
    fn curves_integrate_to_a_day_and_peak_twice() {
        let c = &VOICE_CURVE;
        assert!(c.integral_ms() > 0.0);
        let at = |h: i64| c.at(h * HOUR_MS);
        assert!(at(10) > at(8) && at(10) > at(12), "mid-morning peak");
        assert!(at(14) > at(12) && at(14) > at(17), "early-afternoon peak");
        assert!(at(3) < 0.1, "quiet at night");
        assert!(c.at(24 * HOUR_MS - 1) > 0.0);
    }

    #[test]
    fn hours_are_half_open() {
        let h = WeeklyHours::week((8, 20), None, None);
        assert!(h.is_open(0, 8 * 60));
        assert!(!h.is_open(0, 20 * 60));
        assert!(!h.is_open(6, 12 * 60));
        assert!(WeeklyHours::ALWAYS.is_open(6, 0));
    }
}
