//! Counts of what a run produced, for the end of `ccpulse simulate` and for tests.
//!
//! Built from the events alone ([`SimSummary::observe`]), so the same numbers can be
//! recounted from a written file and compared.

use std::collections::BTreeMap;
use std::fmt;

use ccpulse_schemas::v1::{DialResult, Event, FlowOutReason, KnownEventType, PreviewAction};

/// Counts over a stream of events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimSummary {
    /// All events.
    pub events: u64,
    /// Earliest `occurred_at` (UTC ms).
    pub first_ms: Option<i64>,
    /// Latest `occurred_at` (UTC ms).
    pub last_ms: Option<i64>,
    /// Events per known type.
    pub by_type: BTreeMap<KnownEventType, u64>,
    /// Events of types this contract version does not know.
    pub unknown_types: u64,
    /// Queue-visit outcomes over all tenants.
    pub outcomes: OutcomeCounts,
    /// `flowed_out` per reason.
    pub flowed_out_by_reason: BTreeMap<FlowOutReason, u64>,
    /// `dialer.result` per result.
    pub dial_results: BTreeMap<DialResult, u64>,
    /// `dialer.preview_action` per action.
    pub preview_actions: BTreeMap<PreviewAction, u64>,
    /// Per tenant.
    pub tenants: BTreeMap<String, TenantCounts>,
}

/// Queue-visit outcome counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    /// `interaction.queued`: visits offered to a queue.
    pub queued: u64,
    /// `interaction.answered`.
    pub answered: u64,
    /// `interaction.abandoned`.
    pub abandoned: u64,
    /// `interaction.flowed_out`.
    pub flowed_out: u64,
    /// `interaction.transferred`.
    pub transferred: u64,
    /// `interaction.offer_missed`.
    pub offers_missed: u64,
    /// `interaction.survey_completed`.
    pub surveys: u64,
    /// Sum of survey CSAT scores (average = `csat_sum / surveys`).
    pub csat_sum: u64,
    /// `dialer.attempted`.
    pub dial_attempts: u64,
    /// `dialer.dropped`.
    pub dropped: u64,
}

/// One tenant's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantCounts {
    /// All of the tenant's events.
    pub events: u64,
    /// The tenant's outcomes.
    pub outcomes: OutcomeCounts,
    /// `dialer.result` `human`.
    pub dial_humans: u64,
    /// `agent.logged_in`.
    pub logins: u64,
}

impl OutcomeCounts {
    fn observe(&mut self, event: &Event<'_>, kind: KnownEventType) {
        match kind {
            KnownEventType::InteractionQueued => self.queued += 1,
            KnownEventType::InteractionAnswered => self.answered += 1,
            KnownEventType::InteractionAbandoned => self.abandoned += 1,
            KnownEventType::InteractionFlowedOut => self.flowed_out += 1,
            KnownEventType::InteractionTransferred => self.transferred += 1,
            KnownEventType::InteractionOfferMissed => self.offers_missed += 1,
            KnownEventType::InteractionSurveyCompleted => {
                self.surveys += 1;
                self.csat_sum += u64::from(event.csat.unwrap_or(0));
            }
            KnownEventType::DialerAttempted => self.dial_attempts += 1,
            KnownEventType::DialerDropped => self.dropped += 1,
            _ => {}
        }
    }

    /// Abandoned share of closed visits: abandoned / (answered + abandoned + flowed out),
    /// as metrics.md defines the abandon rate; `None` with no closed visit.
    pub fn abandon_rate(&self) -> Option<f64> {
        let closed = self.answered + self.abandoned + self.flowed_out;
        (closed > 0).then(|| self.abandoned as f64 / closed as f64)
    }
}

impl SimSummary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one event.
    pub fn observe(&mut self, event: &Event<'_>) {
        self.events += 1;
        let at = event.occurred_at;
        self.first_ms = Some(self.first_ms.map_or(at, |f| f.min(at)));
        self.last_ms = Some(self.last_ms.map_or(at, |l| l.max(at)));
        let tenant = match self.tenants.get_mut(event.tenant_id.as_ref()) {
            Some(t) => t,
            None => self.tenants.entry(event.tenant_id.to_string()).or_default(),
        };
        tenant.events += 1;
        let Some(kind) = event.event_type.known() else {
            self.unknown_types += 1;
            return;
        };
        *self.by_type.entry(kind).or_default() += 1;
        tenant.outcomes.observe(event, kind);
        self.outcomes.observe(event, kind);
        match kind {
            KnownEventType::InteractionFlowedOut => {
                if let Some(reason) = event.reason.as_deref().and_then(FlowOutReason::parse) {
                    *self.flowed_out_by_reason.entry(reason).or_default() += 1;
                }
            }
            KnownEventType::DialerResult => {
                if let Some(result) = event.result {
                    *self.dial_results.entry(result).or_default() += 1;
                    if result == DialResult::Human {
                        tenant.dial_humans += 1;
                    }
                }
            }
            KnownEventType::DialerPreviewAction => {
                if let Some(action) = event.action {
                    *self.preview_actions.entry(action).or_default() += 1;
                }
            }
            KnownEventType::AgentLoggedIn => tenant.logins += 1,
            _ => {}
        }
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn rfc3339(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || "—".to_owned(),
            |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        )
}

impl fmt::Display for SimSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} events from {} to {}",
            self.events,
            rfc3339(self.first_ms),
            rfc3339(self.last_ms)
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<14} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
            "tenant",
            "events",
            "queued",
            "answered",
            "abandoned",
            "flowout",
            "aband%",
            "transfer",
            "surveys",
            "dials",
            "dropped",
            "logins"
        )?;
        let mut total = TenantCounts::default();
        let rows = self.tenants.iter().map(|(k, v)| (k.as_str(), *v));
        for (name, t) in rows {
            total.events += t.events;
            total.dial_humans += t.dial_humans;
            total.logins += t.logins;
            write_row(f, name, &t)?;
        }
        total.outcomes = self.outcomes;
        if self.tenants.len() > 1 {
            write_row(f, "total", &total)?;
        }
        writeln!(f)?;
        let reasons: Vec<String> = self
            .flowed_out_by_reason
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        writeln!(f, "flowed out by reason: {}", list(&reasons))?;
        let results: Vec<String> = self
            .dial_results
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        writeln!(f, "dialer results:       {}", list(&results))?;
        let humans = self
            .dial_results
            .get(&DialResult::Human)
            .copied()
            .unwrap_or(0);
        writeln!(
            f,
            "dialer abandon rate:  {} (dropped {} / human {})",
            pct(self.outcomes.dropped, humans),
            self.outcomes.dropped,
            humans
        )?;
        if !self.preview_actions.is_empty() {
            let actions: Vec<String> = self
                .preview_actions
                .iter()
                .map(|(a, n)| format!("{a} {n}"))
                .collect();
            writeln!(f, "preview actions:      {}", list(&actions))?;
        }
        if self.outcomes.surveys > 0 {
            writeln!(
                f,
                "surveys:              {} (average csat {:.2})",
                self.outcomes.surveys,
                self.outcomes.csat_sum as f64 / self.outcomes.surveys as f64
            )?;
        }
        writeln!(f)?;
        writeln!(f, "{:<34} {:>9}", "event type", "count")?;
        for (kind, n) in &self.by_type {
            writeln!(f, "{:<34} {:>9}", kind.as_str(), n)?;
        }
        if self.unknown_types > 0 {
            writeln!(f, "{:<34} {:>9}", "(unknown types)", self.unknown_types)?;
        }
        Ok(())
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_owned()
    } else {
        items.join(", ")
    }
}

fn write_row(f: &mut fmt::Formatter<'_>, name: &str, t: &TenantCounts) -> fmt::Result {
    let o = &t.outcomes;
    writeln!(
        f,
        "{:<14} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        name,
        t.events,
        o.queued,
        o.answered,
        o.abandoned,
        o.flowed_out,
        pct(o.abandoned, o.answered + o.abandoned + o.flowed_out),
        o.transferred,
        o.surveys,
        o.dial_attempts,
        o.dropped,
        t.logins
    )
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use ccpulse_schemas::v1::EventType;

    use super::*;

    fn event(tenant: &'static str, kind: KnownEventType) -> Event<'static> {
        Event {
            schema_version: 1,
            event_id: Cow::Borrowed("e"),
            tenant_id: Cow::Borrowed(tenant),
            event_type: EventType::Known(kind),
            occurred_at: 1_000,
            ..Default::default()
        }
    }

    #[test]
    fn counts_and_display() {
        let mut s = SimSummary::new();
        s.observe(&event("acme", KnownEventType::InteractionQueued));
        s.observe(&event("acme", KnownEventType::InteractionAbandoned));
        let mut flow = event("globex", KnownEventType::InteractionFlowedOut);
        flow.reason = Some(Cow::Borrowed("closed"));
        s.observe(&flow);
        let mut result = event("acme", KnownEventType::DialerResult);
        result.result = Some(DialResult::Human);
        s.observe(&result);
        s.observe(&event("acme", KnownEventType::DialerDropped));
        assert_eq!(s.events, 5);
        assert_eq!(s.tenants["acme"].events, 4);
        assert_eq!(s.tenants["acme"].dial_humans, 1);
        assert_eq!(s.outcomes.abandon_rate(), Some(0.5));
        assert_eq!(s.flowed_out_by_reason[&FlowOutReason::Closed], 1);
        let text = s.to_string();
        assert!(
            text.contains("dialer abandon rate:  100.0% (dropped 1 / human 1)"),
            "{text}"
        );
        assert!(text.contains("interaction.flowed_out"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("total")), "{text}");
    }
}
