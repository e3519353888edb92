//! `occurred_at`: RFC 3339 parsing to UTC milliseconds and the canonical output form.
//!
//! Accepted (documented interpretations of "RFC 3339 timestamp with offset, ms precision
//! or finer"):
//! - `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `T` and `Z` may be lowercase (RFC 3339
//!   §5.6 note). A space instead of `T` is rejected.
//! - The fraction is optional: a missing fraction means `.000`. Digits beyond the third are
//!   truncated (floor) to whole milliseconds: `.1239` is 123 ms.
//! - The offset is required; `-00:00` is UTC.
//! - A leap second (`:60`) is accepted only where RFC 3339 allows it (23:59 UTC) and is
//!   read as `23:59:59.999` UTC, which keeps event order within the day.
//! - Years 1970..=9999 only: both the year as written and the UTC instant
//!   ([`MIN_MS`]..=[`MAX_MS`]), so the canonical form always has a four-digit year and is
//!   never before the epoch. (`1970-01-01T00:30:00+01:00` is rejected: it is 1969 in UTC.)
//!
//! Written form: always `YYYY-MM-DDTHH:MM:SS.mmmZ`.

/// `1970-01-01T00:00:00.000Z`.
pub(crate) const MIN_MS: i64 = 0;
/// `9999-12-31T23:59:59.999Z`.
pub(crate) const MAX_MS: i64 = 253_402_300_799_999;

/// What a valid timestamp looks like, for rejection messages.
pub(crate) const EXPECTED: &str = "an RFC 3339 timestamp with offset in years 1970–9999";

const MS_PER_DAY: i64 = 86_400_000;

/// Parses an RFC 3339 timestamp with offset into UTC milliseconds; `None` if it is not
/// one or falls outside [`MIN_MS`]..=[`MAX_MS`].
pub(crate) fn parse(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if year < 1970
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    let mut i = 19;
    let mut millis = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let count = i - start;
        if count == 0 {
            return None;
        }
        for _ in count..3 {
            millis *= 10;
        }
    }

    let offset_minutes = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = i64::from(hours * 60 + minutes);
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };

    let local_minute_of_day = i64::from(hour * 60 + minute);
    let (second, millis) = if second == 60 {
        // Only 23:59 UTC may have a leap second.
        if (local_minute_of_day - offset_minutes).rem_euclid(1440) != 1439 {
            return None;
        }
        (59, 999)
    } else {
        (second, millis)
    };

    let days = days_from_civil(i64::from(year), month, day);
    let ms = days * MS_PER_DAY + (local_minute_of_day * 60 + i64::from(second)) * 1000 + millis
        - offset_minutes * 60_000;
    (MIN_MS..=MAX_MS).contains(&ms).then_some(ms)
}

/// Appends `ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ`. Values outside [`MIN_MS`]..=[`MAX_MS`]
/// (which [`crate::v1::validate`] rejects) are still written, with a signed or longer
/// year, so this never panics.
pub(crate) fn write(out: &mut String, ms: i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let ms_of_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        push_digits(out, year as u32, 4);
    } else {
        out.push_str(&format!("{year:+05}"));
    }
    out.push('-');
    push_digits(out, month, 2);
    out.push('-');
    push_digits(out, day, 2);
    out.push('T');
    let ms_of_day = ms_of_day as u32;
    push_digits(out, ms_of_day / 3_600_000, 2);
    out.push(':');
    push_digits(out, ms_of_day / 60_000 % 60, 2);
    out.push(':');
    push_digits(out, ms_of_day / 1000 % 60, 2);
    out.push('.');
    push_digits(out, ms_of_day % 1000, 3);
    out.push('Z');
}

/// The canonical form of `ms` as a new string.
pub(crate) fn format(ms: i64) -> String {
    let mut out = String::with_capacity(24);
    write(&mut out, ms);
    out
}

fn push_digits(out: &mut String, value: u32, width: u32) {
    let mut divisor = 10u32.pow(width - 1);
    while divisor > 0 {
        out.push(char::from(b'0' + (value / divisor % 10) as u8));
        divisor /= 10;
    }
}

/// Parses 1–4 ASCII digits.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_accepted_forms() {
        let base = 1_795_166_102_123; // 2026-11-20T09:15:02.123Z
        for text in [
            "2026-11-20T09:15:02.123Z",
            "2026-11-20t09:15:02.123z",
            "2026-11-20T09:15:02.123456789Z",
            "2026-11-20T09:15:02.1239Z",
            "2026-11-20T10:15:02.123+01:00",
            "2026-11-20T04:45:02.123-04:30",
            "2026-11-20T09:15:02.123-00:00",
        ] {
            assert_eq!(parse(text), Some(base), "{text}");
        }
        assert_eq!(parse("2026-11-20T09:15:02Z"), Some(base - 123));
        assert_eq!(parse("2026-11-20T09:15:02.1Z"), Some(base - 23));
        assert_eq!(parse("2026-11-20T09:15:02.12Z"), Some(base - 3));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(MIN_MS));
        assert_eq!(parse("9999-12-31T23:59:59.999999Z"), Some(MAX_MS));
        assert_eq!(parse("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        // Leap second: only at 23:59 UTC, read as .999.
        assert_eq!(
            parse("2016-12-31T23:59:60.5Z"),
            parse("2016-12-31T23:59:59.999Z")
        );
        assert_eq!(
            parse("2017-01-01T00:59:60+01:00"),
            parse("2016-12-31T23:59:59.999Z")
        );
    }

    #[test]
    fn rejects_everything_else() {
        for text in [
            "",
            "2026-11-20T09:15:02.123",
            "2026-11-20T09:15:02",
            "2026-11-20 09:15:02.123Z",
            "2026-11-20T09:15:02.Z",
            "2026-11-20T09:15:02.123+0100",
            "2026-11-20T09:15:02.123+01",
            "2026-11-20T09:15:02.123+24:00",
            "2026-11-20T09:15:02.123+01:60",
            "2026-11-20T09:15:02.123Zjunk",
            "2026-13-20T09:15:02.123Z",
            "2026-00-20T09:15:02.123Z",
            "2026-11-31T09:15:02.123Z",
            "2025-02-29T09:15:02.123Z",
            "2026-11-20T24:00:00Z",
            "2026-11-20T09:60:00Z",
            "2026-11-20T09:15:60Z",
            "1969-12-31T23:59:59.999Z",
            "1969-12-31T23:30:00-01:00",
            "1970-01-01T00:30:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "10000-01-01T00:00:00Z",
            "+2026-11-20T09:15:02Z",
            "2026-1-20T09:15:02.123Z",
            "２０２６-11-20T09:15:02Z",
            "1795072502123",
            "yesterday",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn writes_canonical_form() {
        assert_eq!(format(1_795_166_102_123), "2026-11-20T09:15:02.123Z");
        assert_eq!(format(MIN_MS), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(MAX_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format(MAX_MS + 1), "+10000-01-01T00:00:00.000Z");
        assert!(!format(i64::MIN).is_empty());
        assert!(!format(i64::MAX).is_empty());
    }

    proptest! {
        #[test]
        fn write_then_parse_round_trips(ms in MIN_MS..=MAX_MS) {
            prop_assert_eq!(parse(&format(ms)), Some(ms));
        }

        #[test]
        fn agrees_with_chrono(ms in MIN_MS..=MAX_MS, offset_min in -1439i32..=1439) {
            let offset = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
            let at = chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&offset);
            let text = at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            let expected = (1970..=9999).contains(&chrono::Datelike::year(&at)).then_some(ms);
            prop_assert_eq!(parse(&text), expected, "{}", text);
            prop_assert_eq!(
                format(ms),
                at.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
        }
    }
}
