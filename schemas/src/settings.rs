//! Per-tenant and per-queue settings that decide how numbers are computed: time zone,
//! business hours, service-level threshold, target and formula, short-abandon threshold.
//!
//! They live here, beside the contract, because every layer reads them: the aggregator
//! (`ingest`) folds with them, the query layer and the dashboards compute service levels
//! with the same [`SlFormula`]. The `ccpulse` binary loads them from the TOML config.
//!
//! Defaults follow `shared/docs/metrics.md`: threshold 20 s voice, 60 s chat, 3600 s
//! email; target 80 %; formula `abandons_count`; short abandons ≤ 5 s. Where metrics.md
//! is silent ccpulse decides, and says so here:
//! - Channels metrics.md does not name take the threshold of the closest one: `callback`
//!   and `video` like voice (20 s), `sms` like chat (60 s), `task` like email (3600 s).
//! - A tenant with no `business_hours` is open around the clock (every interaction is
//!   `in_business_hours`). A queue's own plan, when given, replaces the tenant's.
//! - A tenant with no settings at all gets the defaults above in time zone UTC.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::metrics::SlFormula;
use crate::v1::Channel;

/// Everything the fold needs to know about one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// IANA time zone: where the tenant's day starts (`today`, daily reports) and how
    /// business hours are read.
    #[serde(with = "tz_serde", default = "utc")]
    pub timezone: Tz,
    /// When the contact center is open. Absent: always open.
    #[serde(default)]
    pub business_hours: Option<WeeklyPlan>,
    /// Settings of queues not listed in `queues`.
    #[serde(default)]
    pub queue_defaults: QueueSettings,
    /// Per-queue overrides, by queue id. Fields left out take `queue_defaults`' values.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueSettings>,
}

fn utc() -> Tz {
    Tz::UTC
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            timezone: Tz::UTC,
            business_hours: None,
            queue_defaults: QueueSettings::default(),
            queues: BTreeMap::new(),
        }
    }
}

impl TenantSettings {
    /// The effective settings of `queue_id` (its override merged over the defaults).
    pub fn queue(&self, queue_id: &str) -> EffectiveQueueSettings<'_> {
        let own = self.queues.get(queue_id);
        let pick = |f: fn(&QueueSettings) -> Option<u32>| {
            own.and_then(f).or_else(|| f(&self.queue_defaults))
        };
        EffectiveQueueSettings {
            sl_threshold_s: pick(|q| q.sl_threshold_s),
            sl_target_pct: own
                .and_then(|q| q.sl_target_pct)
                .or(self.queue_defaults.sl_target_pct)
                .unwrap_or(80.0),
            sl_formula: own
                .and_then(|q| q.sl_formula)
                .or(self.queue_defaults.sl_formula)
                .unwrap_or_default(),
            short_abandon_s: pick(|q| q.short_abandon_s).unwrap_or(5),
            business_hours: own
                .and_then(|q| q.business_hours.as_ref())
                .or(self.queue_defaults.business_hours.as_ref())
                .or(self.business_hours.as_ref()),
        }
    }

    /// Whether `at_ms` (UTC) falls in the business hours of `queue_id`.
    pub fn in_business_hours(&self, queue_id: Option<&str>, at_ms: i64) -> bool {
        let plan = match queue_id {
            Some(queue) => self.queue(queue).business_hours,
            None => self.business_hours.as_ref(),
        };
        plan.is_none_or(|plan| plan.contains(self.timezone, at_ms))
    }

    /// Checks the values serde cannot: ranges and plans. The message names the field.
    ///
    /// # Errors
    /// A human-readable description of the first invalid value.
    pub fn validate(&self) -> Result<(), String> {
        self.queue_defaults
            .validate()
            .map_err(|e| format!("queue_defaults.{e}"))?;
        for (queue, settings) in &self.queues {
            settings
                .validate()
                .map_err(|e| format!("queues.{queue}.{e}"))?;
        }
        Ok(())
    }
}

/// One queue's settings as written in the config; `None` means "inherit".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Service-level threshold T in seconds. Default by channel (see module docs).
    #[serde(default)]
    pub sl_threshold_s: Option<u32>,
    /// Service-level target in percent (for display and alerting). Default 80.
    #[serde(default)]
    pub sl_target_pct: Option<f64>,
    /// Which service-level formula the queue reports. Default `abandons_count`.
    #[serde(default)]
    pub sl_formula: Option<SlFormula>,
    /// Abandons with a wait ≤ this many seconds are short abandons. Default 5.
    #[serde(default)]
    pub short_abandon_s: Option<u32>,
    /// The queue's own opening hours, replacing the tenant's.
    #[serde(default)]
    pub business_hours: Option<WeeklyPlan>,
}

impl QueueSettings {
    fn validate(&self) -> Result<(), String> {
        if let Some(pct) = self.sl_target_pct
            && !(0.0..=100.0).contains(&pct)
        {
            return Err(format!(
                "sl_target_pct: {pct} is not a percentage (0 to 100)"
            ));
        }
        if self.sl_threshold_s == Some(0) {
            return Err("sl_threshold_s: must be at least 1 second".to_owned());
        }
        Ok(())
    }
}

/// A queue's settings with every default applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveQueueSettings<'a> {
    sl_threshold_s: Option<u32>,
    /// Target in percent.
    pub sl_target_pct: f64,
    /// The reported formula.
    pub sl_formula: SlFormula,
    /// Short-abandon threshold in seconds.
    pub short_abandon_s: u32,
    /// The opening hours that apply (`None`: always open).
    pub business_hours: Option<&'a WeeklyPlan>,
}

impl EffectiveQueueSettings<'_> {
    /// The threshold set for the queue (its own or the defaults'), in seconds; `None`
    /// when neither sets one and each channel's default applies.
    pub fn sl_threshold_s(&self) -> Option<u32> {
        self.sl_threshold_s
    }

    /// The service-level threshold in milliseconds for contacts of `channel`.
    pub fn sl_threshold_ms(&self, channel: Channel) -> i64 {
        let seconds = self
            .sl_threshold_s
            .unwrap_or_else(|| default_sl_threshold_s(channel));
        i64::from(seconds) * 1000
    }

    /// The short-abandon threshold in milliseconds.
    pub fn short_abandon_ms(&self) -> i64 {
        i64::from(self.short_abandon_s) * 1000
    }
}

/// metrics.md's default threshold by channel (see the module docs for the channels it
/// does not name).
pub fn default_sl_threshold_s(channel: Channel) -> u32 {
    match channel {
        Channel::Voice | Channel::Callback | Channel::Video => 20,
        Channel::Chat | Channel::Sms => 60,
        Channel::Email | Channel::Task => 3600,
    }
}

/// Opening hours per weekday, in the tenant's local time.
///
/// Written in either of two forms:
/// - the same hours on some days: `{ days = ["mon", "tue"], open = "08:00", close = "20:00" }`
/// - per day, any number of `HH:MM-HH:MM` ranges: `{ mon = ["08:00-12:00", "13:00-18:00"], sat = ["09:00-13:00"] }`
///
/// A range is `[open, close)`; `close` may be `24:00`. Days not named are closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PlanSpec", into = "PlanSpec")]
pub struct WeeklyPlan {
    /// Monday first; each a list of `[open, close)` minute-of-day ranges.
    days: [Vec<(u16, u16)>; 7],
}

impl WeeklyPlan {
    /// Whether the UTC instant `at_ms` is inside the plan, read in `tz`.
    pub fn contains(&self, tz: Tz, at_ms: i64) -> bool {
        let Some(local) = tz.timestamp_millis_opt(at_ms).single() else {
            return false;
        };
        let day = local.weekday().num_days_from_monday() as usize;
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.days[day]
            .iter()
            .any(|&(open, close)| (open..close).contains(&minute))
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The two written forms of a [`WeeklyPlan`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum PlanSpec {
    Simple {
        days: Vec<String>,
        open: String,
        close: String,
    },
    PerDay(BTreeMap<String, Vec<String>>),
}

impl TryFrom<PlanSpec> for WeeklyPlan {
    type Error = String;

    fn try_from(spec: PlanSpec) -> Result<Self, String> {
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        match spec {
            PlanSpec::Simple {
                days: names,
                open,
                close,
            } => {
                let range = parse_range(&open, &close)?;
                for name in names {
                    days[day_index(&name)?].push(range);
                }
            }
            PlanSpec::PerDay(map) => {
                for (name, ranges) in map {
                    let day = day_index(&name)?;
                    for range in ranges {
                        let (open, close) = range.split_once('-').ok_or_else(|| {
                            format!("business hours `{range}`: expected `HH:MM-HH:MM`")
                        })?;
                        days[day].push(parse_range(open.trim(), close.trim())?);
                    }
                }
            }
        }
        Ok(WeeklyPlan { days })
    }
}

impl From<WeeklyPlan> for PlanSpec {
    fn from(plan: WeeklyPlan) -> Self {
        let map = DAY_NAMES
            .iter()
            .zip(plan.days)
            .filter(|(_, ranges)| !ranges.is_empty())
            .map(|(name, ranges)| {
                let ranges = ranges
                    .into_iter()
                    .map(|(open, close)| format!("{}-{}", hhmm(open), hhmm(close)))
                    .collect();
                ((*name).to_owned(), ranges)
            })
            .collect();
        PlanSpec::PerDay(map)
    }
}

fn day_index(name: &str) -> Result<usize, String> {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let lower = name.to_ascii_lowercase();
    (0..7)
        .find(|&day| lower == DAY_NAMES[day] || lower == FULL[day])
        .ok_or_else(|| format!("business hours: `{name}` is not a weekday (use mon, tue, …, sun)"))
}

fn parse_range(open: &str, close: &str) -> Result<(u16, u16), String> {
    let open_min = parse_hhmm(open)?;
    let close_min = parse_hhmm(close)?;
    if open_min >= close_min {
        return Err(format!(
            "business hours: opening `{open}` is not before closing `{close}`"
        ));
    }
    Ok((open_min, close_min))
}

fn parse_hhmm(text: &str) -> Result<u16, String> {
    let bad = || format!("business hours: `{text}` is not a time of day `HH:MM` (00:00 to 24:00)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) || h.to_string().len() > 2 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

mod tz_serde {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>().map_err(|_| {
            serde::de::Error::custom(format!(
                "`{name}` is not an IANA time zone (for example `Europe/Paris` or `America/New_York`)"
            ))
        })
    }
}

impl fmt::Display for WeeklyPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, ranges) in DAY_NAMES.iter().zip(&self.days) {
            for &(open, close) in ranges {
                if !first {
                    f.write_str(", ")?;
                }
                first = false;
                write!(f, "{name} {}-{}", hhmm(open), hhmm(close))?;
            }
        }
        if first {
            f.write_str("closed")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
