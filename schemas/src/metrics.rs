//! The arithmetic of `shared/docs/metrics.md` that every layer shares: 15-minute
//! intervals, the wait histogram's buckets and the service-level formulas.
//!
//! The aggregator stores counters and sums; the query layer, the dashboards and the
//! alerts derive ratios from them with these functions, so a service level is the same
//! number on a wallboard tile, in SQL and in a downloaded report.

use serde::{Deserialize, Serialize};

/// Interval length: 15 minutes, UTC-aligned.
pub const INTERVAL_MS: i64 = 15 * 60 * 1000;

/// The start of the 15-minute interval holding `at_ms`.
pub fn interval_start(at_ms: i64) -> i64 {
    at_ms.div_euclid(INTERVAL_MS) * INTERVAL_MS
}

/// Upper bounds (inclusive) of the wait histogram buckets in milliseconds; a 14th bucket
/// holds everything longer (`+inf`). A wait of exactly 5 000 ms is in the first bucket,
/// so "within T" for any bound T is a prefix sum.
pub const WAIT_BUCKET_BOUNDS_MS: [i64; 13] = [
    5_000, 10_000, 15_000, 20_000, 30_000, 45_000, 60_000, 90_000, 120_000, 180_000, 240_000,
    300_000, 600_000,
];

/// Number of wait histogram buckets (the bounds plus `+inf`).
pub const WAIT_BUCKETS: usize = WAIT_BUCKET_BOUNDS_MS.len() + 1;

/// The histogram bucket of a wait.
pub fn wait_bucket(wait_ms: i64) -> usize {
    WAIT_BUCKET_BOUNDS_MS.partition_point(|&bound| bound < wait_ms)
}

/// How a queue's service level is computed (metrics.md). With A≤T = answered within
/// the threshold, A = answered with a known wait, Ab = abandoned with a known wait, SAb
/// = short abandons, Ab≤T = abandoned within the threshold, F = flowed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlFormula {
    /// A≤T / A.
    Answered,
    /// A≤T / (A + Ab). The default.
    #[default]
    AbandonsCount,
    /// A≤T / (A + Ab − SAb).
    IgnoreShortAbandons,
    /// A≤T / (A + Ab>T).
    AbandonsAfterT,
    /// (A≤T + Ab≤T) / (A + Ab).
    AbandonsWithinTGood,
    /// A≤T / (A + Ab + F).
    AllOffered,
}

impl SlFormula {
    /// Every formula, in metrics.md's order.
    pub const ALL: [SlFormula; 6] = [
        SlFormula::Answered,
        SlFormula::AbandonsCount,
        SlFormula::IgnoreShortAbandons,
        SlFormula::AbandonsAfterT,
        SlFormula::AbandonsWithinTGood,
        SlFormula::AllOffered,
    ];

    /// The config and SQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SlFormula::Answered => "answered",
            SlFormula::AbandonsCount => "abandons_count",
            SlFormula::IgnoreShortAbandons => "ignore_short_abandons",
            SlFormula::AbandonsAfterT => "abandons_after_t",
            SlFormula::AbandonsWithinTGood => "abandons_within_t_good",
            SlFormula::AllOffered => "all_offered",
        }
    }

    /// Parses the config spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// Numerator and denominator of the service level from interval counters.
    pub fn terms(self, c: &SlCounts) -> (u64, u64) {
        let a = c.answered_with_wait;
        let ab = c.abandoned_with_wait;
        match self {
            SlFormula::Answered => (c.answered_within, a),
            SlFormula::AbandonsCount => (c.answered_within, a + ab),
            SlFormula::IgnoreShortAbandons => (
                c.answered_within,
                (a + ab).saturating_sub(c.short_abandoned),
            ),
            SlFormula::AbandonsAfterT => {
                (c.answered_within, a + ab.saturating_sub(c.abandoned_within))
            }
            SlFormula::AbandonsWithinTGood => (c.answered_within + c.abandoned_within, a + ab),
            SlFormula::AllOffered => (c.answered_within, a + ab + c.flowed_out),
        }
    }

    /// The service level as a fraction (0–1); `None` when the denominator is empty,
    /// shown as "—", never as 0 % or 100 %.
    pub fn value(self, c: &SlCounts) -> Option<f64> {
        let (numerator, denominator) = self.terms(c);
        (denominator > 0).then(|| numerator as f64 / denominator as f64)
    }
}

impl std::fmt::Display for SlFormula {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The counters a service level is computed from (for one queue and period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlCounts {
    /// Answered with a known wait ≤ T.
    pub answered_within: u64,
    /// Answered with a known wait (an answer without `queued` has none).
    pub answered_with_wait: u64,
    /// Abandoned with a known wait.
    pub abandoned_with_wait: u64,
    /// Abandoned with a wait ≤ T.
    pub abandoned_within: u64,
    /// Abandoned with a wait ≤ the short-abandon threshold.
    pub short_abandoned: u64,
    /// Flowed out.
    pub flowed_out: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_have_inclusive_upper_bounds() {
        assert_eq!(wait_bucket(0), 0);
        assert_eq!(wait_bucket(5_000), 0);
        assert_eq!(wait_bucket(5_001), 1);
        assert_eq!(wait_bucket(600_000), 12);
        assert_eq!(wait_bucket(600_001), 13);
        assert_eq!(WAIT_BUCKETS, 14);
    }

    #[test]
    fn intervals_are_utc_aligned_quarters() {
        assert_eq!(interval_start(0), 0);
        assert_eq!(interval_start(INTERVAL_MS - 1), 0);
        assert_eq!(interval_start(INTERVAL_MS), INTERVAL_MS);
        assert_eq!(interval_start(-1), -INTERVAL_MS);
    }

    #[test]
    fn formulas_follow_metrics_md() {
        // 8 answered within T of 10 with a wait, 4 abandoned (1 short, 2 within T), 2 flowed out.
        let c = SlCounts {
            answered_within: 8,
            answered_with_wait: 10,
            abandoned_with_wait: 4,
            abandoned_within: 2,
            short_abandoned: 1,
            flowed_out: 2,
        };
        let terms: Vec<_> = SlFormula::ALL.iter().map(|f| f.terms(&c)).collect();
        assert_eq!(
            terms,
            [(8, 10), (8, 14), (8, 13), (8, 12), (10, 14), (8, 16)]
        );
        assert_eq!(SlFormula::Answered.value(&SlCounts::default()), None);
        for f in SlFormula::ALL {
            assert_eq!(SlFormula::parse(f.as_str()), Some(f));
        }
    }
}
