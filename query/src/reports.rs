//! The report catalog: named, parameterised reports for business users, each one SQL
//! query over the same tables analysts see, so a report's figures are the tables' figures.
//!
//! A report is listed with a title, a description, the filters it takes and its columns
//! ([`ReportDef`]). Running one ([`QueryEngine::report`](crate::QueryEngine::report))
//! checks the parameters ([`ReportParams::parse`]), writes the SQL with every value as a
//! quoted literal (never spliced text), and runs it like any analyst query: read-only,
//! the caller's tenant only, under the same limits.
//!
//! # Parameters
//! | name | value | default |
//! |---|---|---|
//! | `from`, `to` | RFC 3339 instant, or a date `YYYY-MM-DD` meaning local midnight in `timezone` | today in `timezone`: from its midnight to the next |
//! | `interval` | `15 minutes`, `30 minutes`, `60 minutes`, `day`, `week`, `month` | `day` (the interval reports: `15 minutes`) |
//! | `timezone` | IANA name | the tenant's |
//! | `queues`, `agents`, `campaigns` | comma-separated ids | all |
//! | `sl_formula` | one of metrics.md's six | `abandons_count` |
//! | `sl_threshold_s` | a wait histogram bound (5 … 600) | each queue's own threshold |
//!
//! The range is `from` inclusive, `to` exclusive. Interval rows count by their
//! `interval_start`, detail rows by their own time (`queued_at`, `started_at`).

mod definitions;

use std::fmt::Write;

use ccpulse_schemas::metrics::{SlFormula, WAIT_BUCKET_BOUNDS_MS};
use chrono::{DateTime, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

pub use definitions::catalog;

/// A report of the catalog.
#[derive(Debug, Clone)]
pub struct ReportDef {
    /// The name used to run it (`queue_performance`).
    pub name: &'static str,
    /// A title for lists and file names.
    pub title: &'static str,
    /// What it shows and how it counts.
    pub description: &'static str,
    /// Which id filters apply (`queues`, `agents`, `campaigns`).
    pub filters: &'static [Filter],
    /// The default of the `interval` parameter for reports grouped by period; `None` for
    /// reports of detail rows, which take no `interval`.
    pub by_interval: Option<&'static str>,
    /// Its columns, in order.
    pub columns: &'static [ColumnDef],
    /// Writes its SQL for checked parameters.
    pub(crate) sql: fn(&ReportParams) -> String,
}

/// A column of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// The column name in the result and the file header.
    pub name: &'static str,
    /// What it holds, with its unit.
    pub description: &'static str,
}

/// An id filter a report accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `queues`: queue ids.
    Queues,
    /// `agents`: agent ids.
    Agents,
    /// `campaigns`: dialer campaign ids.
    Campaigns,
}

impl Filter {
    /// The parameter name.
    pub fn param(self) -> &'static str {
        match self {
            Filter::Queues => "queues",
            Filter::Agents => "agents",
            Filter::Campaigns => "campaigns",
        }
    }
}

/// Bucket sizes of the `interval` parameter, as `time_bucket` spells them.
pub const INTERVALS: [&str; 6] = [
    "15 minutes",
    "30 minutes",
    "60 minutes",
    "day",
    "week",
    "month",
];

/// The checked parameters of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportParams {
    /// Start of the range (inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// One of [`INTERVALS`].
    pub interval: &'static str,
    /// The zone of buckets and of date parameters.
    pub timezone: Tz,
    /// Only these queues (empty: all).
    pub queues: Vec<String>,
    /// Only these agents (empty: all).
    pub agents: Vec<String>,
    /// Only these campaigns (empty: all).
    pub campaigns: Vec<String>,
    /// The service-level formula.
    pub sl_formula: SlFormula,
    /// A threshold for every queue, in seconds; `None`: each queue's own.
    pub sl_threshold_s: Option<u32>,
}

impl ReportParams {
    /// Checks `pairs` (name, value) for `report` run by a tenant in `tenant_tz` at `now`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad parameter: unknown to the report,
    /// given twice, or with a value it cannot take.
    pub fn parse(
        report: &ReportDef,
        pairs: &[(String, String)],
        tenant_tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let mut seen: Vec<&str> = Vec::new();
        for (name, _) in pairs {
            let known = ["from", "to", "timezone", "sl_formula", "sl_threshold_s"]
                .contains(&name.as_str())
                || (name == "interval" && report.by_interval.is_some())
                || report.filters.iter().any(|f| f.param() == name);
            if !known {
                let mut accepted = vec!["from", "to", "timezone", "sl_formula", "sl_threshold_s"];
                if report.by_interval.is_some() {
                    accepted.push("interval");
                }
                accepted.extend(report.filters.iter().map(|f| f.param()));
                return Err(invalid(
                    name,
                    format!(
                        "report {} takes no such parameter; it takes {}",
                        report.name,
                        accepted.join(", ")
                    ),
                ));
            }
            if seen.contains(&name.as_str()) {
                return Err(invalid(name, "given more than once".to_owned()));
            }
            seen.push(name);
        }
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value.trim())
        };
        let timezone = match get("timezone") {
            Some(name) => name.parse::<Tz>().map_err(|_| {
                invalid(
                    "timezone",
                    format!(
                        "unknown time zone {name:?}: use an IANA name such as America/New_York"
                    ),
                )
            })?,
            None => tenant_tz,
        };
        let today = now.with_timezone(&timezone).date_naive();
        let from = match get("from") {
            Some(text) => parse_instant("from", text, timezone)?,
            None => local_midnight(today, timezone),
        };
        let to = match get("to") {
            Some(text) => parse_instant("to", text, timezone)?,
            None => local_midnight(today.succ_opt().unwrap_or(today), timezone),
        };
        if to <= from {
            return Err(invalid("to", format!("{to} is not after from ({from})")));
        }
        let default_interval = report.by_interval.unwrap_or("day");
        let interval = match get("interval") {
            Some(text) => INTERVALS
                .iter()
                .copied()
                .find(|size| size.eq_ignore_ascii_case(text))
                .ok_or_else(|| {
                    invalid(
                        "interval",
                        format!("{text:?}; expected one of {}", INTERVALS.join(", ")),
                    )
                })?,
            None => default_interval,
        };
        let sl_formula = match get("sl_formula") {
            Some(text) => SlFormula::parse(text).ok_or_else(|| {
                let names: Vec<&str> = SlFormula::ALL.iter().map(|f| f.as_str()).collect();
                invalid(
                    "sl_formula",
                    format!("{text:?}; expected one of {}", names.join(", ")),
                )
            })?,
            None => SlFormula::default(),
        };
        let sl_threshold_s = match get("sl_threshold_s") {
            Some(text) => {
                let bounds: Vec<String> = WAIT_BUCKET_BOUNDS_MS
                    .iter()
                    .map(|ms| (ms / 1000).to_string())
                    .collect();
                let seconds = text
                    .parse::<u32>()
                    .ok()
                    .filter(|s| bounds.contains(&s.to_string()))
                    .ok_or_else(|| {
                        invalid(
                            "sl_threshold_s",
                            format!(
                                "{text:?}; the wait histograms answer {} seconds",
                                bounds.join(", ")
                            ),
                        )
                    })?;
                Some(seconds)
            }
            None => None,
        };
        Ok(Self {
            from,
            to,
            interval,
            timezone,
            queues: ids(get("queues")),
            agents: ids(get("agents")),
            campaigns: ids(get("campaigns")),
            sl_formula,
            sl_threshold_s,
        })
    }

    /// `<column> >= TIMESTAMP '<from>' AND <column> < TIMESTAMP '<to>'`.
    pub(crate) fn range(&self, column: &str) -> String {
        format!(
            "{column} >= TIMESTAMP '{}' AND {column} < TIMESTAMP '{}'",
            self.from.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.to.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        )
    }

    /// `time_bucket(<column>, '<interval>', '<timezone>')`.
    pub(crate) fn bucket(&self, column: &str) -> String {
        format!(
            "time_bucket({column}, {}, {})",
            quote(self.interval),
            quote(self.timezone.name())
        )
    }

    /// ` AND <column> IN (...)` for a non-empty filter, else nothing.
    pub(crate) fn only(&self, filter: Filter, column: &str) -> String {
        let ids = match filter {
            Filter::Queues => &self.queues,
            Filter::Agents => &self.agents,
            Filter::Campaigns => &self.campaigns,
        };
        if ids.is_empty() {
            return String::new();
        }
        let mut text = format!(" AND {column} IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let _ = write!(text, "{}", quote(id));
        }
        text.push(')');
        text
    }

    /// The expression of answered (or abandoned, with `prefix` `abandoned`) waits within
    /// the service-level threshold.
    pub(crate) fn within(&self, prefix: &str) -> String {
        match self.sl_threshold_s {
            Some(seconds) => format!("wait_within({prefix}_wait_histogram, {seconds})"),
            None => format!("{prefix}_within_sl"),
        }
    }

    /// The formula as a SQL literal.
    pub(crate) fn formula(&self) -> String {
        quote(self.sl_formula.as_str())
    }
}

/// Which rows of a report a download holds: what call-center consoles offer as "export
/// this page", "export what the filters match" and "export everything".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportMode {
    /// The rows the caller is looking at: `limit` rows after skipping `offset`, in the
    /// report's order.
    Page { offset: usize, limit: usize },
    /// Every row the parameters select (the default).
    Filtered,
    /// Every row of the time range, ignoring the `queues`, `agents` and `campaigns`
    /// filters (range, interval, time zone and service-level settings still apply).
    Everything,
}

/// One parameter of a report, for `ccpulse report show` and `GET /api/v1/reports/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamDoc {
    pub name: &'static str,
    pub description: String,
}

impl ReportDef {
    /// Every parameter the report takes, in the order they are documented.
    pub fn parameters(&self) -> Vec<ParamDoc> {
        let param = |name: &'static str, description: &str| ParamDoc {
            name,
            description: description.to_owned(),
        };
        let mut out = vec![
            param(
                "from",
                "start of the range: a date (local midnight) or an RFC 3339 instant; default today",
            ),
            param(
                "to",
                "end of the range (exclusive), same forms; default tomorrow",
            ),
        ];
        if let Some(default) = self.by_interval {
            out.push(param(
                "interval",
                &format!(
                    "15 minutes, 30 minutes, 60 minutes, day, week or month (default {default})"
                ),
            ));
        }
        out.push(param(
            "timezone",
            "IANA zone of days and buckets (default the tenant's)",
        ));
        for filter in self.filters {
            out.push(param(filter.param(), "comma-separated ids (default all)"));
        }
        out.push(param(
            "sl_formula",
            "abandons_count (default), answered, ignore_short_abandons, abandons_after_t, abandons_within_t_good, all_offered",
        ));
        out.push(param(
            "sl_threshold_s",
            "a histogram bound in seconds (default each queue's own)",
        ));
        out
    }

    /// The SQL of this report for `params`, restricted to the rows `mode` selects.
    pub fn sql(&self, params: &ReportParams, mode: ExportMode) -> String {
        match mode {
            ExportMode::Filtered => (self.sql)(params),
            ExportMode::Everything => {
                let unfiltered = ReportParams {
                    queues: Vec::new(),
                    agents: Vec::new(),
                    campaigns: Vec::new(),
                    ..params.clone()
                };
                (self.sql)(&unfiltered)
            }
            // Every report ends with its ORDER BY (a unit test checks it): the page is
            // taken in that order. Wrapping the query in a subquery would not keep it.
            ExportMode::Page { offset, limit } => {
                format!("{} LIMIT {limit} OFFSET {offset}", (self.sql)(params))
            }
        }
    }
}

/// A SQL string literal.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn invalid(name: &str, message: String) -> Error {
    Error::InvalidParam {
        name: name.to_owned(),
        message,
    }
}

fn ids(value: Option<&str>) -> Vec<String> {
    value
        .map(|text| {
            text.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn parse_instant(name: &str, text: &str, timezone: Tz) -> Result<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Ok(local_midnight(date, timezone)),
        Err(_) => Err(invalid(
            name,
            format!(
                "{text:?}; expected a date (2026-11-16) or an RFC 3339 instant (2026-11-16T14:00:00Z)"
            ),
        )),
    }
}

/// The first instant of `date` in `timezone` (the earliest one if midnight is ambiguous,
/// the first after the gap if it does not exist).
fn local_midnight(date: NaiveDate, timezone: Tz) -> DateTime<Utc> {
    let mut local = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..=24 * 4 {
        match timezone.from_local_datetime(&local) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return at.with_timezone(&Utc);
            }
            LocalResult::None => local += chrono::TimeDelta::minutes(15),
        }
    }
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

#[cfg(test)]
mod tests;
