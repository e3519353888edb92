//! Durations as people write them, for flags and the config file alike: `250ms`, `90s`,
//! `10m`, `8h`, `7d` (a bare number is seconds; fractions such as `1.5s` are fine).

use std::fmt;
use std::time::Duration;

/// Units, largest first, with their length in milliseconds.
const UNITS_MS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

const EXAMPLES: &str = "use e.g. `250ms`, `90s`, `10m`, `8h`, `7d`";

/// Parses a positive duration like `90s`, `10m`, `8h`, `7d` or `250ms`.
///
/// # Errors
/// A message naming the text when it is not a duration or is zero.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration_or_zero(text)?;
    if duration.is_zero() {
        return Err(format!("`{}` must be a positive duration", text.trim()));
    }
    Ok(duration)
}

/// Like [`parse_duration`], but zero (`0s`) is allowed: for settings where zero means
/// "none" or "off".
///
/// # Errors
/// A message naming the text when it is not a duration (or is too long to represent).
pub(crate) fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_ms = match unit {
        "" => 1_000,
        _ => UNITS_MS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, ms)| ms)
            .ok_or_else(|| {
                format!("`{text}` has an unknown unit `{unit}`: use ms, s, m, h or d")
            })?,
    };
    let not_a_duration = || format!("`{text}` is not a duration: {EXAMPLES}");
    let too_long = || format!("`{text}` is too long a duration");
    if number.bytes().all(|b| b.is_ascii_digit()) && !number.is_empty() {
        // Whole numbers exactly, without a detour through floating point.
        let count: u64 = number.parse().map_err(|_| too_long())?;
        let ms = count.checked_mul(unit_ms).ok_or_else(too_long)?;
        return Ok(Duration::from_millis(ms));
    }
    let value: f64 = number.parse().map_err(|_| not_a_duration())?;
    Duration::try_from_secs_f64(value * (unit_ms as f64 / 1000.0)).map_err(|_| too_long())
}

/// Writes a duration the way [`parse_duration_or_zero`] reads it, in the largest unit
/// that divides it exactly: `45s`, `5m`, `12h`, `250ms`.
pub(crate) fn format_duration(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_owned();
    }
    if !duration.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{}s", duration.as_secs_f64());
    }
    let ms = duration.as_millis();
    UNITS_MS
        .iter()
        .find(|&&(_, size)| ms.is_multiple_of(u128::from(size)))
        .map_or_else(
            || format!("{ms}ms"),
            |&(unit, size)| format!("{}{unit}", ms / u128::from(size)),
        )
}

/// `#[serde(with = "crate::duration::human")]`: a [`Duration`] written as a string such
/// as `"5s"` (zero allowed; the owner of the setting decides whether it means "off").
pub(crate) mod human {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*duration))
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        deserializer.deserialize_str(HumanDuration)
    }

    struct HumanDuration;

    impl serde::de::Visitor<'_> for HumanDuration {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a duration string such as \"5s\" or \"10m\"")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
            parse_duration_or_zero(text).map_err(E::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_with_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 45 "), Ok(Duration::from_secs(45)));
        assert!(parse_duration("10y").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
    }

    #[test]
    fn zero_only_where_allowed() {
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("0"), Ok(Duration::ZERO));
        assert!(parse_duration("0ms").is_err());
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        for text in [
            "99999999999999999999d",
            "1e400s",
            "184467440737095516160000s",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert!(parse_duration("99999999999999999999999.5d").is_err());
    }

    #[test]
    fn formats_in_the_largest_exact_unit_and_round_trips() {
        for (duration, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_secs(45), "45s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(12 * 3600), "12h"),
            (Duration::from_secs(86_400), "1d"),
            (Duration::from_millis(1500), "1500ms"),
        ] {
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration_or_zero(text), Ok(duration), "{text}");
        }
        assert_eq!(format_duration(Duration::from_micros(1500)), "0.0015s");
    }
}
