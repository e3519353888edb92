//! Alert rules and destinations: the TOML file's shape ([`RulesFile`]), what the API
//! takes ([`RuleSpec`]), and their checked form ([`Rule`]).
//!
//! A rule watches one metric of one scope and compares it with a warning and/or a
//! critical threshold. The README ("Alerting") documents every field with examples;
//! [`Metric`] lists the metrics, their units and the windows each one has.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use serde::{Deserialize, Serialize};

use super::deliver::{Destination, DestinationKind};

/// The rules file (`<data_dir>/alerts/rules.toml` by default): destinations and rules
/// of every tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(default, rename = "destination", skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationSpec>,
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleSpec>,
}

/// Where notifications of a tenant's rules may go (`[[destination]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSpec {
    /// Named by rules' `notify`; unique per tenant.
    pub id: String,
    pub tenant: String,
    /// `webhook` (JSON, signed when `secret` is set) or `slack` (Slack-compatible
    /// incoming webhook).
    pub kind: DestinationKind,
    pub url: String,
    /// Webhooks: the HMAC-SHA256 key of `X-Ccpulse-Signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One rule as written in the file (`[[rule]]`) and sent to the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique per tenant: letters, digits, `-`, `_` and `.`, at most 64.
    pub id: String,
    /// The tenant (the file; the API takes it from the token and leaves it out).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// Shown in notifications; the id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Scope::is_everything")]
    pub scope: Scope,
    /// One of [`Metric::NAMES`].
    pub metric: String,
    /// `now`, `current_interval` or `today`; the metric's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// `below` (service level, available agents) or `above` (waits, abandons).
    pub comparison: Comparison,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
    /// The value that ends a firing alert (hysteresis): on the good side of the
    /// warning threshold (or the critical one when there is no warning). The threshold
    /// itself when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<f64>,
    /// How long the condition must hold before the alert fires (`"2m"`); `0s` fires at
    /// once.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub hold_for: Option<String>,
    /// How long the value must stay cleared before the alert resolves; `for` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_for: Option<String>,
    /// The window's offered contacts needed to judge (window metrics only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_volume: Option<u64>,
    /// Evaluated only inside the queue's (or tenant's) business hours.
    #[serde(default, skip_serializing_if = "is_false")]
    pub business_hours_only: bool,
    /// Notify again this often while firing and not acknowledged (`"15m"`); never when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renotify_every: Option<String>,
    /// Notify when the alert resolves.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub notify_recovery: bool,
    /// Destination ids (besides the wallboard, which always shows active alerts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// What a rule watches. Empty: every queue of the tenant (queue metrics) or the whole
/// tenant (agent counts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// These queues (each judged on its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<String>,
    /// Only queues (or agents) handling this channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The agents of this team (agent metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// One agent (agent metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// These dialer campaigns (`dialer_abandon_rate`, `campaign_intervals.*`); empty:
    /// every campaign.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<String>,
    /// `time_in_state_s`: only agents in this state (`away`, `after_contact_work`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl Scope {
    fn is_everything(&self) -> bool {
        *self == Scope::default()
    }
}

/// Which side of the threshold is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Bad when the value is below the threshold.
    Below,
    /// Bad when the value is above the threshold.
    Above,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Below => "below",
            Comparison::Above => "above",
        }
    }

    /// Whether `value` is on the bad side of `threshold` (the threshold itself is bad:
    /// a service level of exactly 0.8 is not "below 0.8", so `<` and `>`).
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Below => value < threshold,
            Comparison::Above => value > threshold,
        }
    }

    /// Whether `value` is at or past `clear` on the good side.
    pub fn clears(self, value: f64, clear: f64) -> bool {
        match self {
            Comparison::Below => value >= clear,
            Comparison::Above => value <= clear,
        }
    }
}

/// How bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// The period a window metric covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A gauge: the state now.
    Now,
    /// The current 15-minute interval (the wallboard's "interval" figures).
    CurrentInterval,
    /// Today in the tenant's time zone (the wallboard's "today" figures).
    Today,
    /// The last closed 15-minute interval, judged when the next one starts (the
    /// interval close) and again as late events amend it.
    PreviousInterval,
    /// `trailing_<N>m|h|d`: the current 15-minute interval and the ones before it,
    /// `minutes / 15` intervals in all, summed from the interval tables (so
    /// `trailing_60m` at 10:07 covers 09:15 to 10:07).
    Trailing { minutes: u32 },
}

/// The longest trailing window: 31 days.
const MAX_TRAILING_MINUTES: u32 = 31 * 24 * 60;

impl Window {
    /// As written in a rule (`current_interval`, `trailing_30m`, `trailing_30d`).
    pub fn name(self) -> String {
        match self {
            Window::Now => "now".into(),
            Window::CurrentInterval => "current_interval".into(),
            Window::Today => "today".into(),
            Window::PreviousInterval => "previous_interval".into(),
            Window::Trailing { minutes } if minutes % (24 * 60) == 0 => {
                format!("trailing_{}d", minutes / (24 * 60))
            }
            Window::Trailing { minutes } if minutes % 60 == 0 => {
                format!("trailing_{}h", minutes / 60)
            }
            Window::Trailing { minutes } => format!("trailing_{minutes}m"),
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        let window = match text {
            "now" => Window::Now,
            "current_interval" => Window::CurrentInterval,
            "today" => Window::Today,
            "previous_interval" => Window::PreviousInterval,
            other => {
                let bad = || {
                    format!(
                        "unknown window `{other}` (one of: now, current_interval, previous_interval, today, trailing_<N>m, trailing_<N>h, trailing_<N>d)"
                    )
                };
                let span = other.strip_prefix("trailing_").ok_or_else(bad)?;
                let (number, unit) = span.split_at(span.len().saturating_sub(1));
                let number: u32 = number.parse().map_err(|_| bad())?;
                let minutes = match unit {
                    "m" => number,
                    "h" => number.saturating_mul(60),
                    "d" => number.saturating_mul(24 * 60),
                    _ => return Err(bad()),
                };
                if minutes == 0 || minutes % 15 != 0 || minutes > MAX_TRAILING_MINUTES {
                    return Err(format!(
                        "window `{other}`: a trailing window is a whole number of 15-minute intervals, at most 31 days"
                    ));
                }
                Window::Trailing { minutes }
            }
        };
        Ok(window)
    }

    /// How notifications name it.
    pub fn describe(self) -> String {
        match self {
            Window::Now => "now".into(),
            Window::CurrentInterval => "current interval".into(),
            Window::Today => "today".into(),
            Window::PreviousInterval => "previous interval".into(),
            Window::Trailing { minutes } if minutes % (24 * 60) == 0 => {
                format!("last {} days", minutes / (24 * 60))
            }
            Window::Trailing { minutes } if minutes % 60 == 0 => {
                format!("last {} h", minutes / 60)
            }
            Window::Trailing { minutes } => format!("last {minutes} min"),
        }
    }
}

/// A table whose numeric columns rules may watch (`<table>.<column>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    QueueIntervals,
    AgentIntervals,
    CampaignIntervals,
    QueueLive,
    AgentLive,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::QueueIntervals,
        Table::AgentIntervals,
        Table::CampaignIntervals,
        Table::QueueLive,
        Table::AgentLive,
    ];

    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::QueueIntervals => "queue_intervals",
            Table::AgentIntervals => "agent_intervals",
            Table::CampaignIntervals => "campaign_intervals",
            Table::QueueLive => "queue_live",
            Table::AgentLive => "agent_live",
        }
    }

    pub fn schema(self) -> SchemaRef {
        use ccpulse_ingest::tables as t;
        match self {
            Table::QueueIntervals => t::queue_intervals_schema(),
            Table::AgentIntervals => t::agent_intervals_schema(),
            Table::CampaignIntervals => t::campaign_intervals_schema(),
            Table::QueueLive => t::queue_live_schema(),
            Table::AgentLive => t::agent_live_schema(),
        }
    }

    /// The column naming a subject, and the subject's kind.
    pub fn subject(self) -> (&'static str, &'static str) {
        match self {
            Table::QueueIntervals | Table::QueueLive => ("queue_id", "queue"),
            Table::AgentIntervals | Table::AgentLive => ("agent_id", "agent"),
            Table::CampaignIntervals => ("campaign_id", "campaign"),
        }
    }

    /// Interval tables sum a window; live tables are read as they are.
    pub fn is_interval(self) -> bool {
        matches!(
            self,
            Table::QueueIntervals | Table::AgentIntervals | Table::CampaignIntervals
        )
    }

    /// The column counted for `min_volume`: offered, handled, attempts.
    pub fn volume_column(self) -> Option<&'static str> {
        match self {
            Table::QueueIntervals => Some("offered"),
            Table::AgentIntervals => Some("handled"),
            Table::CampaignIntervals => Some("attempts"),
            Table::QueueLive | Table::AgentLive => None,
        }
    }
}

/// A numeric column of a [`Table`]: its index in the table's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub table: Table,
    pub index: usize,
}

impl Column {
    /// `table.column`, when it names a numeric (integer or float) column that is not a
    /// key.
    fn parse(text: &str) -> Result<Option<Self>, String> {
        let Some((table_name, column_name)) = text.split_once('.') else {
            return Ok(None);
        };
        let table = Table::ALL
            .into_iter()
            .find(|t| t.name() == table_name)
            .ok_or_else(|| {
                format!(
                    "`{table_name}` is no table rules can watch ({})",
                    Table::ALL.map(Table::name).join(", ")
                )
            })?;
        let schema = table.schema();
        let numeric =
            |field: &Field| matches!(field.data_type(), DataType::Int64 | DataType::Float64);
        let index = schema
            .fields()
            .iter()
            .position(|f| f.name() == column_name && numeric(f))
            .ok_or_else(|| {
                let columns: Vec<&str> = schema
                    .fields()
                    .iter()
                    .filter(|f| numeric(f))
                    .map(|f| f.name().as_str())
                    .collect();
                format!(
                    "`{column_name}` is no numeric column of `{table_name}` ({})",
                    columns.join(", ")
                )
            })?;
        Ok(Some(Column { table, index }))
    }

    pub fn name(self) -> String {
        self.table.schema().field(self.index).name().clone()
    }
}

/// What a rule measures: the wallboard's own figures (`views::QueueView`,
/// `views::AgentView`), so an alert never disagrees with the tile beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Queue, window: by the queue's formula and threshold; a fraction 0..1.
    ServiceLevel,
    /// Queue, window: average speed of answer in seconds.
    AsaS,
    /// Queue, window: abandoned / (answered + abandoned + flowed out), 0..1.
    AbandonRate,
    /// Queue, window: counts.
    Offered,
    Answered,
    Abandoned,
    FlowedOut,
    /// Queue, now: contacts waiting.
    WaitingNow,
    /// Queue, now: the oldest waiting contact's wait in seconds (0 when none waits).
    OldestWaitS,
    /// Queue, now: interactions in progress.
    InProgress,
    /// Queue (agents serving it), team, agent or tenant, now: agents in a state.
    Agents(&'static str),
    /// Logged-in agents (every state but offline).
    AgentsLoggedIn,
    /// Agent (each agent of the scope), now: seconds in the current state.
    TimeInStateS,
    /// Campaign, window (default the last 30 days): dropped / connects (`result_human`),
    /// the regulatory figure of metrics.md; a fraction 0..1.
    DialerAbandonRate,
    /// Any numeric column of an interval table (summed over the window) or a live
    /// table (as it is), per queue, agent or campaign.
    Column(Column),
}

/// The agent states of the live tables, in their order.
pub const AGENT_STATES: [&str; 6] = ccpulse_ingest::fold::EffectiveState::NAMES;

impl Metric {
    /// Every metric name a rule may use.
    pub const NAMES: [&'static str; 17] = [
        "service_level",
        "asa_s",
        "abandon_rate",
        "offered",
        "answered",
        "abandoned",
        "flowed_out",
        "waiting_now",
        "oldest_wait_s",
        "in_progress",
        "agents_available",
        "agents_alerting",
        "agents_interacting",
        "agents_after_contact_work",
        "agents_away",
        "agents_logged_in",
        "time_in_state_s",
    ];

    /// The metric `name` names; the error says why not.
    pub fn parse(name: &str) -> Result<Self, String> {
        if let Some(column) = Column::parse(name)? {
            return Ok(Metric::Column(column));
        }
        Self::parse_named(name).ok_or_else(|| {
            format!(
                "unknown metric `{name}` (one of: {}, dialer_abandon_rate, or <table>.<column> of a numeric column of {})",
                Metric::NAMES.join(", "),
                Table::ALL.map(Table::name).join(", ")
            )
        })
    }

    fn parse_named(name: &str) -> Option<Self> {
        Some(match name {
            "service_level" => Metric::ServiceLevel,
            "asa_s" => Metric::AsaS,
            "abandon_rate" => Metric::AbandonRate,
            "offered" => Metric::Offered,
            "answered" => Metric::Answered,
            "abandoned" => Metric::Abandoned,
            "flowed_out" => Metric::FlowedOut,
            "waiting_now" => Metric::WaitingNow,
            "oldest_wait_s" => Metric::OldestWaitS,
            "in_progress" => Metric::InProgress,
            "agents_logged_in" => Metric::AgentsLoggedIn,
            "time_in_state_s" => Metric::TimeInStateS,
            "dialer_abandon_rate" => Metric::DialerAbandonRate,
            other => {
                let state = other.strip_prefix("agents_")?;
                Metric::Agents(AGENT_STATES[..5].iter().find(|s| **s == state)?)
            }
        })
    }

    pub fn name(self) -> String {
        match self {
            Metric::ServiceLevel => "service_level".into(),
            Metric::AsaS => "asa_s".into(),
            Metric::AbandonRate => "abandon_rate".into(),
            Metric::Offered => "offered".into(),
            Metric::Answered => "answered".into(),
            Metric::Abandoned => "abandoned".into(),
            Metric::FlowedOut => "flowed_out".into(),
            Metric::WaitingNow => "waiting_now".into(),
            Metric::OldestWaitS => "oldest_wait_s".into(),
            Metric::InProgress => "in_progress".into(),
            Metric::Agents(state) => format!("agents_{state}"),
            Metric::AgentsLoggedIn => "agents_logged_in".into(),
            Metric::TimeInStateS => "time_in_state_s".into(),
            Metric::DialerAbandonRate => "dialer_abandon_rate".into(),
            Metric::Column(column) => format!("{}.{}", column.table.name(), column.name()),
        }
    }

    /// How notifications name it.
    pub fn describe(self) -> String {
        match self {
            Metric::ServiceLevel => "service level".into(),
            Metric::AsaS => "ASA".into(),
            Metric::AbandonRate => "abandon rate".into(),
            Metric::Offered => "offered".into(),
            Metric::Answered => "answered".into(),
            Metric::Abandoned => "abandoned".into(),
            Metric::FlowedOut => "flowed out".into(),
            Metric::WaitingNow => "waiting now".into(),
            Metric::OldestWaitS => "oldest wait".into(),
            Metric::InProgress => "in progress".into(),
            Metric::Agents(state) => format!("agents {}", state.replace('_', " ")),
            Metric::AgentsLoggedIn => "agents logged in".into(),
            Metric::TimeInStateS => "time in state".into(),
            Metric::DialerAbandonRate => "dialer abandon rate".into(),
            Metric::Column(column) => format!("{}.{}", column.table.name(), column.name()),
        }
    }

    /// Whether it sums a period (and so takes `current_interval`, `today` or a
    /// trailing window).
    pub fn has_window(self) -> bool {
        match self {
            Metric::ServiceLevel
            | Metric::AsaS
            | Metric::AbandonRate
            | Metric::Offered
            | Metric::Answered
            | Metric::Abandoned
            | Metric::FlowedOut
            | Metric::DialerAbandonRate => true,
            Metric::Column(column) => column.table.is_interval(),
            _ => false,
        }
    }

    /// A fraction 0..1 (thresholds too).
    pub fn is_fraction(self) -> bool {
        matches!(
            self,
            Metric::ServiceLevel | Metric::AbandonRate | Metric::DialerAbandonRate
        )
    }

    /// Whether it is evaluated with SQL over the tables (at interval close and every
    /// `query_every`) rather than from the live view on every publication.
    pub fn needs_query(self, window: Window) -> bool {
        matches!(self, Metric::DialerAbandonRate | Metric::Column(_))
            || matches!(window, Window::Trailing { .. } | Window::PreviousInterval)
    }

    /// Seconds.
    pub fn is_seconds(self) -> bool {
        matches!(
            self,
            Metric::AsaS | Metric::OldestWaitS | Metric::TimeInStateS
        )
    }

    /// About agents rather than queues (scope team/agent allowed).
    pub fn is_agent_metric(self) -> bool {
        matches!(
            self,
            Metric::Agents(_) | Metric::AgentsLoggedIn | Metric::TimeInStateS
        )
    }

    /// `value` as a notification writes it (`62.5 %`, `95 s`, `3`).
    pub fn format(self, value: f64) -> String {
        if self.is_fraction() {
            format!("{:.1} %", value * 100.0)
        } else if self.is_seconds() {
            format!("{value:.0} s")
        } else if value.fract() == 0.0 {
            format!("{value:.0}")
        } else {
            format!("{value:.2}")
        }
    }
}

/// A checked rule, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub spec: RuleSpec,
    pub metric: Metric,
    pub window: Window,
    pub hold_for: Duration,
    pub clear_for: Duration,
    pub renotify_every: Option<Duration>,
    /// The clear value (hysteresis), always set.
    pub clear: f64,
}

impl Rule {
    /// The window as the rule wrote it (`trailing_60m`), or its default's name.
    pub fn window_name(&self) -> String {
        self.spec
            .window
            .clone()
            .unwrap_or_else(|| self.window.name())
    }

    /// The name notifications use.
    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or(&self.spec.id)
    }

    /// The threshold of `severity` (its own, else the other one).
    pub fn threshold(&self, severity: Severity) -> f64 {
        let (warning, critical) = (self.spec.warning, self.spec.critical);
        match severity {
            Severity::Warning => warning.or(critical),
            Severity::Critical => critical.or(warning),
        }
        .unwrap_or(f64::NAN)
    }

    /// The worst severity `value` breaches, if any.
    pub fn severity(&self, value: f64) -> Option<Severity> {
        let comparison = self.spec.comparison;
        if self
            .spec
            .critical
            .is_some_and(|t| comparison.breaches(value, t))
        {
            Some(Severity::Critical)
        } else if self
            .spec
            .warning
            .is_some_and(|t| comparison.breaches(value, t))
        {
            Some(Severity::Warning)
        } else {
            None
        }
    }

    /// Checks `spec` against the tenant's `destinations`; the error is one sentence
    /// naming the field.
    pub fn check(spec: RuleSpec, destinations: &[DestinationSpec]) -> Result<Rule, String> {
        check_id("rule id", &spec.id)?;
        if spec.tenant.is_empty() {
            return Err(format!("rule `{}`: `tenant` is missing", spec.id));
        }
        let at = |what: String| format!("rule `{}`: {what}", spec.id);
        let metric = Metric::parse(&spec.metric).map_err(at)?;
        let window = match spec.window.as_deref() {
            None if metric == Metric::DialerAbandonRate => Window::Trailing {
                minutes: 30 * 24 * 60,
            },
            None if metric.has_window() => Window::CurrentInterval,
            None => Window::Now,
            Some(text) => {
                let window = Window::parse(text).map_err(at)?;
                match (metric.has_window(), window) {
                    (true, Window::Now) => {
                        return Err(at(format!(
                            "metric `{}` sums a period: window `current_interval`, `today` or `trailing_<N>m`",
                            spec.metric
                        )));
                    }
                    (false, Window::Now) | (true, _) => window,
                    (false, _) => {
                        return Err(at(format!(
                            "metric `{}` is a gauge: window `now` only",
                            spec.metric
                        )));
                    }
                }
            }
        };
        check_scope(&spec, metric).map_err(at)?;
        check_thresholds(&spec, metric).map_err(at)?;
        let threshold = match spec.warning {
            Some(warning) => warning,
            None => spec.critical.unwrap_or_default(),
        };
        let clear = spec.clear.unwrap_or(threshold);
        let hold_for = parse_duration(spec.hold_for.as_deref().unwrap_or("0s"))
            .map_err(|e| at(format!("`for`: {e}")))?;
        let clear_for = match spec.clear_for.as_deref() {
            Some(text) => parse_duration(text).map_err(|e| at(format!("`clear_for`: {e}")))?,
            None => hold_for,
        };
        let renotify_every = match spec.renotify_every.as_deref() {
            Some(text) => {
                let every =
                    parse_duration(text).map_err(|e| at(format!("`renotify_every`: {e}")))?;
                if every < Duration::from_secs(60) {
                    return Err(at("`renotify_every` must be at least 1m".into()));
                }
                Some(every)
            }
            None => None,
        };
        if spec.min_volume.is_some() && !metric.has_window() {
            return Err(at(format!(
                "`min_volume` counts a window's offered contacts; metric `{}` has no window",
                spec.metric
            )));
        }
        let mut seen = BTreeSet::new();
        for id in &spec.notify {
            if !seen.insert(id) {
                return Err(at(format!("`notify` names `{id}` twice")));
            }
            if !destinations
                .iter()
                .any(|d| d.id == *id && d.tenant == spec.tenant)
            {
                return Err(at(format!(
                    "`notify` names `{id}`, which is no destination of tenant `{}`",
                    spec.tenant
                )));
            }
        }
        Ok(Rule {
            spec,
            metric,
            window,
            hold_for,
            clear_for,
            renotify_every,
            clear,
        })
    }
}

fn check_scope(spec: &RuleSpec, metric: Metric) -> Result<(), String> {
    let scope = &spec.scope;
    let table = match metric {
        Metric::DialerAbandonRate => Some(Table::CampaignIntervals),
        Metric::Column(column) => Some(column.table),
        _ => None,
    };
    if let Some(table) = table {
        return check_table_scope(spec, table);
    }
    if !scope.campaigns.is_empty() {
        return Err(format!(
            "`scope.campaigns` goes with dialer metrics, not `{}`",
            spec.metric
        ));
    }
    for queue in &scope.queues {
        if queue.is_empty() {
            return Err("`scope.queues` has an empty queue id".into());
        }
    }
    if let Some(channel) = &scope.channel
        && ccpulse_schemas::v1::Channel::parse(channel).is_none()
    {
        return Err(format!(
            "`scope.channel` `{channel}` is not a channel (voice, chat, email, sms, social, callback)"
        ));
    }
    let people = scope.team.is_some() || scope.agent.is_some();
    if people && !metric.is_agent_metric() {
        return Err(format!(
            "`scope.team` and `scope.agent` go with agent metrics (agents_*, time_in_state_s), not `{}`",
            spec.metric
        ));
    }
    if people && !scope.queues.is_empty() {
        return Err("give `scope.queues` or `scope.team`/`scope.agent`, not both".into());
    }
    if scope.team.is_some() && scope.agent.is_some() {
        return Err("give `scope.team` or `scope.agent`, not both".into());
    }
    if metric == Metric::TimeInStateS {
        if !scope.queues.is_empty() {
            return Err(
                "`time_in_state_s` is about agents: scope it with `team`, `agent` or nothing"
                    .into(),
            );
        }
    } else if scope.state.is_some() {
        return Err("`scope.state` goes with `time_in_state_s` only".into());
    }
    if let Some(state) = &scope.state
        && !AGENT_STATES.contains(&state.as_str())
    {
        return Err(format!(
            "`scope.state` `{state}` is not an agent state ({})",
            AGENT_STATES.join(", ")
        ));
    }
    Ok(())
}

/// The scope of a metric read from `table`: its subjects' ids only (and a channel for
/// `queue_intervals`, a team for `agent_live`).
fn check_table_scope(spec: &RuleSpec, table: Table) -> Result<(), String> {
    let scope = &spec.scope;
    let (_, kind) = table.subject();
    let mut given: Vec<&str> = Vec::new();
    if !scope.queues.is_empty() && kind != "queue" {
        given.push("queues");
    }
    if scope.channel.is_some() && table != Table::QueueIntervals {
        given.push("channel");
    }
    if scope.team.is_some() && table != Table::AgentLive {
        given.push("team");
    }
    if scope.agent.is_some() && kind != "agent" {
        given.push("agent");
    }
    if !scope.campaigns.is_empty() && kind != "campaign" {
        given.push("campaigns");
    }
    if scope.state.is_some() {
        given.push("state");
    }
    match given.first() {
        None => {
            if let Some(channel) = &scope.channel
                && ccpulse_schemas::v1::Channel::parse(channel).is_none()
            {
                return Err(format!("`scope.channel` `{channel}` is not a channel"));
            }
            Ok(())
        }
        Some(field) => Err(format!(
            "`scope.{field}` does not apply to `{}` (read per {kind} from `{}`)",
            spec.metric,
            table.name()
        )),
    }
}

fn check_thresholds(spec: &RuleSpec, metric: Metric) -> Result<(), String> {
    let (warning, critical) = (spec.warning, spec.critical);
    if warning.is_none() && critical.is_none() {
        return Err("give `warning`, `critical` or both".into());
    }
    for (name, value) in [
        ("warning", warning),
        ("critical", critical),
        ("clear", spec.clear),
    ] {
        let Some(value) = value else { continue };
        if !value.is_finite() {
            return Err(format!("`{name}` must be a number"));
        }
        if metric.is_fraction() && !(0.0..=1.0).contains(&value) {
            return Err(format!(
                "`{name}` = {value}: `{}` is a fraction 0..1 (write 0.8 for 80 %)",
                spec.metric
            ));
        }
        if !metric.is_fraction() && value < 0.0 {
            return Err(format!("`{name}` = {value} is negative"));
        }
    }
    let comparison = spec.comparison;
    if let (Some(w), Some(c)) = (warning, critical)
        && comparison.breaches(w, c)
    {
        return Err(format!(
            "`critical` ({c}) must be at or past `warning` ({w}) on the bad side ({} is bad)",
            comparison.as_str()
        ));
    }
    if let Some(clear) = spec.clear {
        let threshold = warning.or(critical).unwrap_or_default();
        if comparison.breaches(clear, threshold) {
            return Err(format!(
                "`clear` ({clear}) must be on the good side of {threshold} (it ends an alert; {} is bad)",
                comparison.as_str()
            ));
        }
    }
    Ok(())
}

/// Checks a destination; the error names the field.
pub fn check_destination(spec: &DestinationSpec) -> Result<Destination, String> {
    check_id("destination id", &spec.id)?;
    let at = |what: &str| format!("destination `{}`: {what}", spec.id);
    if spec.tenant.is_empty() {
        return Err(at("`tenant` is missing"));
    }
    if !(spec.url.starts_with("https://") || spec.url.starts_with("http://")) {
        return Err(at("`url` must start with https:// or http://"));
    }
    if spec.kind == DestinationKind::Slack && spec.secret.is_some() {
        return Err(at(
            "`secret` signs generic webhooks; a Slack URL is its own secret",
        ));
    }
    if spec.secret.as_deref().is_some_and(str::is_empty) {
        return Err(at("`secret` is empty"));
    }
    Ok(Destination {
        id: spec.id.clone(),
        tenant_id: spec.tenant.clone(),
        kind: spec.kind,
        url: spec.url.clone(),
        secret: spec.secret.clone(),
    })
}

/// Ids: 1 to 64 of letters, digits, `-`, `_`, `.`.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    let fine = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "{what} `{id}` must be 1 to 64 letters, digits, `-`, `_` or `.`"
        ))
    }
}

/// `"90s"`, `"2m"`, `"1h"`, `"0s"`: a whole number and a unit (s, m, h).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 2m or 1h"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "" if number == 0 => 0,
        _ => return Err(format!("`{text}` is not a duration like 90s, 2m or 1h")),
    };
    if seconds > 7 * 24 * 3600 {
        return Err(format!("`{text}` is longer than a week"));
    }
    Ok(Duration::from_secs(seconds))
}

/// The checked rules and destinations of a file.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub destinations: Vec<Destination>,
}

impl RuleSet {
    /// Checks every destination and rule of `file`: ids unique per tenant, every
    /// `notify` a destination of the rule's tenant. All errors, one per line.
    pub fn check(file: &RulesFile) -> Result<RuleSet, RuleErrors> {
        let mut errors = Vec::new();
        let mut destinations = Vec::new();
        let mut ids = BTreeSet::new();
        for spec in &file.destinations {
            if !ids.insert((&spec.tenant, &spec.id)) {
                errors.push(format!(
                    "destination `{}` of tenant `{}` is defined twice",
                    spec.id, spec.tenant
                ));
            }
            match check_destination(spec) {
                Ok(destination) => destinations.push(destination),
                Err(e) => errors.push(e),
            }
        }
        let mut rules = Vec::new();
        let mut ids = BTreeSet::new();
        for spec in &file.rules {
            if !ids.insert((&spec.tenant, &spec.id)) {
                errors.push(format!(
                    "rule `{}` of tenant `{}` is defined twice",
                    spec.id, spec.tenant
                ));
            }
            match Rule::check(spec.clone(), &file.destinations) {
                Ok(rule) => rules.push(rule),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(RuleSet {
                rules,
                destinations,
            })
        } else {
            Err(RuleErrors(errors))
        }
    }

    /// `tenant`'s destination `id`.
    pub fn destination(&self, tenant: &str, id: &str) -> Option<&Destination> {
        self.destinations
            .iter()
            .find(|d| d.tenant_id == tenant && d.id == id)
    }
}

/// Every problem of a rules file, one sentence each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleErrors(pub Vec<String>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl std::error::Error for RuleErrors {}

/// Rule `r` of tenant `acme` from the TOML lines `text`, checked (unit tests).
#[cfg(test)]
pub(crate) fn test_rule(text: &str) -> Rule {
    let spec: RuleSpec =
        toml::from_str(&format!("id = \"r\"\ntenant = \"acme\"\n{text}")).expect("a rule");
    Rule::check(spec, &[]).expect("valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> RuleSpec {
        toml::from_str(toml_text).expect("a rule")
    }

    const SL: &str = r#"
        id = "sales-sl"
        tenant = "acme"
        metric = "service_level"
        comparison = "below"
        warning = 0.8
        critical = 0.6
        clear = 0.85
        for = "2m"
    "#;

    #[test]
    fn a_service_level_rule_checks_with_its_defaults() {
        let rule = Rule::check(spec(SL), &[]).expect("valid");
        assert_eq!(rule.window, Window::CurrentInterval);
        assert_eq!(rule.hold_for, Duration::from_secs(120));
        assert_eq!(rule.clear_for, Duration::from_secs(120));
        assert_eq!(rule.clear, 0.85);
        assert_eq!(rule.severity(0.7), Some(Severity::Warning));
        assert_eq!(rule.severity(0.5), Some(Severity::Critical));
        assert_eq!(
            rule.severity(0.8),
            None,
            "the threshold itself is not below"
        );
        assert_eq!(rule.name(), "sales-sl");
    }

    #[test]
    fn mistakes_are_refused_naming_the_field() {
        let cases = [
            (
                "metric = \"service_level\"",
                "metric = \"sl\"",
                "unknown metric `sl`",
            ),
            ("warning = 0.8", "warning = 80.0", "fraction 0..1"),
            (
                "clear = 0.85",
                "clear = 0.7",
                "`clear` (0.7) must be on the good side",
            ),
            (
                "critical = 0.6",
                "critical = 0.9",
                "`critical` (0.9) must be at or past",
            ),
            ("for = \"2m\"", "for = \"2 minutes\"", "`for`"),
            (
                "for = \"2m\"",
                "for = \"2m\"\nwindow = \"now\"",
                "sums a period",
            ),
            (
                "for = \"2m\"",
                "for = \"2m\"\nscope = { team = \"t1\" }",
                "go with agent metrics",
            ),
            (
                "for = \"2m\"",
                "for = \"2m\"\nnotify = [\"ops\"]",
                "no destination of tenant `acme`",
            ),
            (
                "for = \"2m\"",
                "for = \"2m\"\nrenotify_every = \"10s\"",
                "at least 1m",
            ),
            ("id = \"sales-sl\"", "id = \"sales sl\"", "must be 1 to 64"),
        ];
        for (from, to, expected) in cases {
            let text = SL.replace(from, to);
            let error = Rule::check(spec(&text), &[]).expect_err(&text);
            assert!(error.contains(expected), "{error} (expected {expected})");
        }
        let unknown = toml::from_str::<RuleSpec>(&format!("{SL}\nthreshold = 3"));
        assert!(
            unknown
                .expect_err("unknown field")
                .to_string()
                .contains("threshold")
        );
    }

    #[test]
    fn gauges_and_agent_metrics() {
        let wait = Rule::check(
            spec(
                r#"id = "w"
                tenant = "acme"
                metric = "oldest_wait_s"
                comparison = "above"
                critical = 120.0"#,
            ),
            &[],
        )
        .expect("valid");
        assert_eq!(wait.window, Window::Now);
        assert_eq!(wait.clear, 120.0);
        assert_eq!(wait.severity(121.0), Some(Severity::Critical));
        assert_eq!(wait.threshold(Severity::Warning), 120.0);
        let team = Rule::check(
            spec(
                r#"id = "t"
                tenant = "acme"
                metric = "agents_available"
                scope = { team = "north" }
                comparison = "below"
                warning = 2.0"#,
            ),
            &[],
        )
        .expect("valid");
        assert_eq!(team.metric, Metric::Agents("available"));
        assert!(Metric::parse("agents_offline").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("8d").is_err());
        assert!(parse_duration("200h").is_err());
    }

    #[test]
    fn the_example_file_checks() {
        let text = include_str!("../../../config/alert-rules.example.toml");
        let file: RulesFile = toml::from_str(text).expect("parses");
        let set = RuleSet::check(&file).expect("checks");
        assert_eq!(set.rules.len(), 8);
        assert_eq!(set.destinations.len(), 2);
        assert!(set.destination("acme", "floor-slack").is_some());
    }

    #[test]
    fn a_file_with_two_problems_reports_both() {
        let file: RulesFile = toml::from_str(&format!(
            r#"
            [[destination]]
            id = "ops"
            tenant = "acme"
            kind = "webhook"
            url = "ftp://x"

            [[rule]]
            {SL}

            [[rule]]
            {SL}
            "#
        ))
        .expect("parses");
        let errors = RuleSet::check(&file).expect_err("two problems");
        assert_eq!(errors.0.len(), 2, "{errors}");
        assert!(errors.0[0].contains("https://"), "{errors}");
        assert!(errors.0[1].contains("defined twice"), "{errors}");
    }
}
