//! A deterministic discrete-event simulator of contact-center traffic: the source of
//! `ccpulse simulate`, of the demo and of realistic test data.
//!
//! ```no_run
//! use ccpulse_sample_data::simulate::{SimConfig, Simulator};
//!
//! let mut sim = Simulator::new(SimConfig { seed: 42, ..SimConfig::default() })?;
//! for event in sim.by_ref() {
//!     // publish `event`
//!     # let _ = event;
//! }
//! println!("{}", sim.summary());
//! # Ok::<(), ccpulse_sample_data::simulate::Error>(())
//! ```
//!
//! # What is simulated
//! Every tenant ([`TenantProfile`]) has a time zone, inbound queues (voice, chat where an
//! agent handles three at once, email), teams of agents and possibly an outbound campaign.
//!
//! - **Arrivals** are a Poisson process whose rate follows an intraday curve in the
//!   tenant's local time (quiet at night, peaks mid-morning and early afternoon, lighter
//!   weekends) with day-to-day noise the staffing plan does not know about.
//! - **Staffing**: every local day, each team's shifts are planned from the forecast with
//!   Erlang C for the queues' service-level targets, grossed up for breaks. Agents log in
//!   at shift start, take breaks, lunch and the odd meeting (`agent.state_changed` away),
//!   and log out at shift end once their work is done.
//! - **Routing**: a queued contact goes to the longest-idle available agent serving the
//!   queue with spare capacity on its channel; a freed agent takes the highest-priority,
//!   longest-waiting contact of their queues.
//! - **Offers** are answered after ringing, or missed (`offer_missed` `timeout`, after
//!   which the system sets the agent away `no_answer` for a while; or `rejected`): the
//!   contact returns to the queue in its place and is offered to someone else.
//! - **Customers** have patience (log-normal, with a few immediate hang-ups that make short
//!   abandons) and abandon; queues have a maximum wait that flows contacts out
//!   (`overflow` to another queue as a new visit, `voicemail`, `timeout`), some offer a
//!   `callback`, and contacts arriving after hours flow out `closed`. Email waits.
//! - **Conversations** have holds, consult and blind transfers to another queue (a new
//!   `interaction.queued` visit) and consult transfers to another agent, then
//!   `conversation_ended`, after-contact work and `wrapup_completed` with a disposition.
//!   Chats and emails get `first_response` and, later than the talk, `interaction.ended`.
//!   A share of customers answer a survey (`csat` 1–5, `nps` 0–10), lower after long waits.
//! - **Outbound**: a predictive campaign paces dials ahead of free agents
//!   (`dialer.attempted`, `dialer.result` with answering-machine detection times); a
//!   person is connected to a free agent through the campaign's outbound queue
//!   (`queued`, `answered`, …) or dropped after the two-second compliance window
//!   (`dialer.dropped`, then `flowed_out` `timeout`). A preview campaign has agents study
//!   each record first (`dialer.preview_action`).
//!
//! A consult transfer to another agent continues the same queue visit: the target agent's
//! `interaction.answered` follows the `interaction.transferred` that names them in
//! `to_agent_id`, without a new `offered` or `queued`.
//!
//! # Determinism
//! The same [`SimConfig`] gives the same events, byte for byte: the simulator uses its own
//! generator (xoshiro256\*\*, one stream per tenant), ordered collections only
//! and no clock. Event ids are `{tenant}-{run tag}-{n}`, where the run tag is a hash of the
//! seed, start and scale, so separate runs never collide in one topic.
//!
//! # Streaming
//! [`Simulator`] is an iterator: events are produced as the simulated clock advances, in
//! non-decreasing `occurred_at` order (ties keep the order of the simulation), and memory
//! holds only open work. The run ends at `start_ms + duration_ms`: work still open then is
//! simply cut off, as a live stream would be.
//!
//! # Layout
//! - `rng`: the generator. `calendar`: tenant-local time. `model`: the tenant catalog and
//!   its distributions. `staffing`: Erlang C and shift planning. `engine`: the event
//!   calendar and the contact, agent and dialer state machines. `summary`: counts.

mod calendar;
mod engine;
mod model;
mod rng;
mod staffing;
mod summary;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use ccpulse_schemas::v1::Event;

pub use model::{CampaignProfile, QueueProfile, TeamProfile, TenantProfile, WeeklyHours};
pub use summary::{OutcomeCounts, SimSummary, TenantCounts};

use engine::Engine;

/// The errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// [`SimConfig::validate`] found problems; all of them are listed.
    #[error("invalid simulator configuration: {}", join(.problems))]
    InvalidConfig {
        /// Every problem found.
        problems: Vec<ConfigProblem>,
    },
}

/// One problem of a [`SimConfig`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigProblem {
    /// `duration_ms` is zero or negative.
    #[error("duration_ms must be positive, got {0}")]
    Duration(i64),
    /// `start_ms` is before 1970 or after 9999.
    #[error("start_ms must be within 1970-01-01..9999-12-31, got {0}")]
    Start(i64),
    /// The run would end after year 9999.
    #[error("start_ms + duration_ms must end before 9999-12-31, got {start_ms} + {duration_ms}")]
    End {
        /// The configured start.
        start_ms: i64,
        /// The configured duration.
        duration_ms: i64,
    },
    /// `tenants` is outside `1..=MAX_TENANTS`.
    #[error("tenants must be between 1 and {max}, got {got}")]
    Tenants {
        /// The configured count.
        got: u32,
        /// [`SimConfig::MAX_TENANTS`].
        max: u32,
    },
    /// `scale` is not a finite number in `(0, MAX_SCALE]`.
    #[error("scale must be a number above 0 and at most {max}, got {got}")]
    Scale {
        /// The configured scale.
        got: f64,
        /// [`SimConfig::MAX_SCALE`].
        max: f64,
    },
}

fn join(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seeds every random choice: same config, same events.
    pub seed: u64,
    /// Start of the simulated period, UTC milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// Length of the simulated period in milliseconds; nothing is emitted at or after
    /// `start_ms + duration_ms`.
    pub duration_ms: i64,
    /// Number of tenants, taken in catalog order (`acme`, `globex`, `initech`, …).
    pub tenants: u32,
    /// Multiplies every arrival rate (and so the staffing): 1.0 is a mid-size center,
    /// roughly 100k events a day for the first two tenants.
    pub scale: f64,
}

impl SimConfig {
    /// More tenants than this would only repeat the catalog many times.
    pub const MAX_TENANTS: u32 = 256;
    /// Far beyond what a single process could stream in reasonable time.
    pub const MAX_SCALE: f64 = 10_000.0;
    /// 2026-11-16T00:00:00Z, a Monday.
    pub const DEFAULT_START_MS: i64 = 1_794_787_200_000;
    /// One day.
    pub const DEFAULT_DURATION_MS: i64 = 86_400_000;
    /// Latest instant a run may reach: 9999-12-31T23:59:59.999Z.
    const MAX_MS: i64 = 253_402_300_799_999;

    /// The end of the run (exclusive), UTC ms.
    pub fn end_ms(&self) -> i64 {
        self.start_ms.saturating_add(self.duration_ms)
    }

    /// Checks every field and reports all problems at once.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] listing each problem.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        if self.duration_ms <= 0 {
            problems.push(ConfigProblem::Duration(self.duration_ms));
        }
        if !(0..=Self::MAX_MS).contains(&self.start_ms) {
            problems.push(ConfigProblem::Start(self.start_ms));
        } else if self.duration_ms > 0
            && self
                .start_ms
                .checked_add(self.duration_ms)
                .is_none_or(|end| end > Self::MAX_MS)
        {
            problems.push(ConfigProblem::End {
                start_ms: self.start_ms,
                duration_ms: self.duration_ms,
            });
        }
        if !(1..=Self::MAX_TENANTS).contains(&self.tenants) {
            problems.push(ConfigProblem::Tenants {
                got: self.tenants,
                max: Self::MAX_TENANTS,
            });
        }
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= Self::MAX_SCALE) {
            problems.push(ConfigProblem::Scale {
                got: self.scale,
                max: Self::MAX_SCALE,
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig { problems })
        }
    }
}

impl Default for SimConfig {
    /// Seed 7, one day from Monday 2026-11-16T00:00:00Z, two tenants, scale 1.
    fn default() -> Self {
        SimConfig {
            seed: 7,
            start_ms: Self::DEFAULT_START_MS,
            duration_ms: Self::DEFAULT_DURATION_MS,
            tenants: 2,
            scale: 1.0,
        }
    }
}

/// The simulator: an iterator over the events of the configured run.
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    profiles: Vec<TenantProfile>,
    engine: Engine,
    buffer: VecDeque<Event<'static>>,
    summary: SimSummary,
}

impl Simulator {
    /// Prepares a run; nothing is simulated until events are pulled.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when [`SimConfig::validate`] fails.
    pub fn new(config: SimConfig) -> Result<Simulator, Error> {
        config.validate()?;
        let profiles: Vec<TenantProfile> = (0..config.tenants).map(model::tenant_profile).collect();
        let engine = Engine::new(&config, &profiles);
        Ok(Simulator {
            config,
            profiles,
            engine,
            buffer: VecDeque::new(),
            summary: SimSummary::new(),
        })
    }

    /// The configuration of this run.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The simulated tenants, in tenant order.
    pub fn tenants(&self) -> &[TenantProfile] {
        &self.profiles
    }

    /// Counts of the events yielded so far.
    pub fn summary(&self) -> &SimSummary {
        &self.summary
    }

    /// Pending simulation actions (open contacts, agents at work, arrival streams): what
    /// the simulator holds in memory, independent of how many events it has produced.
    pub fn open_work(&self) -> usize {
        self.engine.pending() + self.buffer.len()
    }
}

impl Iterator for Simulator {
    type Item = Event<'static>;

    fn next(&mut self) -> Option<Event<'static>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.summary.observe(&event);
                return Some(event);
            }
            if !self.engine.step(&mut self.buffer) {
                return None;
            }
        }
    }
}
