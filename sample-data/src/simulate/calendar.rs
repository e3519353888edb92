//! Tenant-local time: weekday, time of day and local-to-UTC conversion through the tenant's
//! IANA zone (daylight-saving changes included).

use chrono::{DateTime, LocalResult, Offset, TimeZone};
use chrono_tz::Tz;

pub(crate) const SECOND_MS: i64 = 1_000;
pub(crate) const MINUTE_MS: i64 = 60 * SECOND_MS;
pub(crate) const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// How long a looked-up UTC offset is reused. Every zone of the catalog changes offset on a
/// quarter-hour boundary of UTC, so a cache aligned to quarter hours is always exact.
const OFFSET_CACHE_MS: i64 = 15 * MINUTE_MS;

/// A local wall-clock instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalTime {
    /// Local days since 1970-01-01.
    pub(crate) day: i64,
    /// Milliseconds since local midnight (a 25-hour day runs past 24 h only in UTC terms:
    /// here it is always `0..DAY_MS`).
    pub(crate) ms_of_day: i64,
}

impl LocalTime {
    /// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
    pub(crate) fn weekday(self) -> usize {
        (self.day + 3).rem_euclid(7) as usize
    }

    pub(crate) fn minute(self) -> u32 {
        (self.ms_of_day / MINUTE_MS) as u32
    }
}

/// A tenant's clock: converts UTC instants to local ones, caching the offset.
#[derive(Debug, Clone)]
pub(crate) struct LocalClock {
    tz: Tz,
    cache_from: i64,
    offset_ms: i64,
}

impl LocalClock {
    pub(crate) fn new(tz: Tz) -> Self {
        LocalClock {
            tz,
            cache_from: i64::MIN,
            offset_ms: 0,
        }
    }

    /// The local time at `utc_ms`.
    pub(crate) fn local(&mut self, utc_ms: i64) -> LocalTime {
        if !(self.cache_from..self.cache_from.saturating_add(OFFSET_CACHE_MS)).contains(&utc_ms) {
            self.cache_from = utc_ms - utc_ms.rem_euclid(OFFSET_CACHE_MS);
            self.offset_ms = offset_ms(self.tz, utc_ms);
        }
        let local = utc_ms + self.offset_ms;
        LocalTime {
            day: local.div_euclid(DAY_MS),
            ms_of_day: local.rem_euclid(DAY_MS),
        }
    }

    /// The UTC instant of local day `day` at `ms_of_day` (may exceed one day for shifts that
    /// run past midnight). A wall time skipped by a daylight-saving jump maps to the instant
    /// one hour later; a repeated one to its first occurrence.
    pub(crate) fn to_utc(&self, day: i64, ms_of_day: i64) -> i64 {
        let wall = day * DAY_MS + ms_of_day;
        for shift in [0, HOUR_MS] {
            let Some(naive) = DateTime::from_timestamp_millis(wall + shift) else {
                break;
            };
            match self.tz.from_local_datetime(&naive.naive_utc()) {
                LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => {
                    return dt.timestamp_millis();
                }
                LocalResult::None => {}
            }
        }
        // Outside chrono's range (validation keeps runs far from it): treat as UTC.
        wall
    }
}

fn offset_ms(tz: Tz, utc_ms: i64) -> i64 {
    match DateTime::from_timestamp_millis(utc_ms) {
        Some(dt) => {
            i64::from(
                tz.offset_from_utc_datetime(&dt.naive_utc())
                    .fix()
                    .local_minus_utc(),
            ) * SECOND_MS
        }
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-16T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_794_787_200_000;

    #[test]
    fn new_york_is_five_hours_behind_in_november() {
        let mut clock = LocalClock::new(Tz::America__New_York);
        let t = clock.local(MONDAY);
        assert_eq!(t.weekday(), 6, "still Sunday evening in New York");
        assert_eq!(t.ms_of_day, 19 * HOUR_MS);
        assert_eq!(clock.to_utc(t.day, t.ms_of_day), MONDAY);
        assert_eq!(clock.to_utc(t.day + 1, 9 * HOUR_MS), MONDAY + 14 * HOUR_MS);
    }

    #[test]
    fn berlin_and_dst_gap() {
        let mut clock = LocalClock::new(Tz::Europe__Berlin);
        let t = clock.local(MONDAY);
        assert_eq!((t.weekday(), t.minute()), (0, 60));
        // 2026-03-29 02:30 does not exist in Berlin: it maps to 03:30 CEST = 01:30Z.
        let day = 20_541; // 2026-03-29
        assert_eq!(clock.local(clock.to_utc(day, 0)).weekday(), 6);
        let utc = clock.to_utc(day, 2 * HOUR_MS + 30 * MINUTE_MS);
        assert_eq!(utc, day * DAY_MS + HOUR_MS + 30 * MINUTE_MS);
        let back = clock.local(utc);
        assert_eq!(back.ms_of_day, 3 * HOUR_MS + 30 * MINUTE_MS);
    }
}
