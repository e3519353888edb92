//! Pacing generated traffic against the wall clock: as fast as possible, in real time,
//! or accelerated.

use std::str::FromStr;
use std::time::Duration;

/// How fast simulated time runs relative to the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Speed {
    /// No waiting at all.
    Max,
    /// Simulated seconds per wall second (1.0 = real time).
    Factor(f64),
}

impl FromStr for Speed {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        match text {
            "max" => return Ok(Speed::Max),
            "realtime" | "real-time" => return Ok(Speed::Factor(1.0)),
            _ => {}
        }
        let number = text.strip_suffix('x').unwrap_or(text);
        match number.parse::<f64>() {
            Ok(factor) if factor.is_finite() && factor > 0.0 => Ok(Speed::Factor(factor)),
            _ => Err(format!(
                "`{text}` is not a speed: use `max`, `realtime`, or a positive factor like `60x`"
            )),
        }
    }
}

/// Maps event times to wall-clock offsets from the first event.
#[derive(Debug)]
pub(crate) struct Pacer {
    speed: Speed,
    first_event_ms: Option<i64>,
}

impl Pacer {
    pub(crate) fn new(speed: Speed) -> Self {
        Self {
            speed,
            first_event_ms: None,
        }
    }

    /// How long after the start the event at `event_ms` is due (`None`: at once).
    pub(crate) fn due_after(&mut self, event_ms: i64) -> Option<Duration> {
        let Speed::Factor(factor) = self.speed else {
            return None;
        };
        let first = *self.first_event_ms.get_or_insert(event_ms);
        let simulated_ms = (event_ms - first).max(0) as f64;
        Some(Duration::from_secs_f64(simulated_ms / factor / 1000.0))
    }
}

/// Parses a duration like `90s`, `10m`, `8h`, `7d` or `250ms`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. `90s`, `10m`, `8h`, `7d`"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => {
            return Err(format!(
                "`{text}` has an unknown unit `{unit}`: use ms, s, m, h or d"
            ));
        }
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("`{text}` must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_speeds() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("realtime".parse::<Speed>(), Ok(Speed::Factor(1.0)));
        assert_eq!("60x".parse::<Speed>(), Ok(Speed::Factor(60.0)));
        assert_eq!("2.5".parse::<Speed>(), Ok(Speed::Factor(2.5)));
        assert!("0x".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }

    #[test]
    fn paces_relative_to_the_first_event() {
        let mut pacer = Pacer::new(Speed::Factor(60.0));
        assert_eq!(pacer.due_after(1_000_000), Some(Duration::ZERO));
        assert_eq!(pacer.due_after(1_060_000), Some(Duration::from_secs(1)));
        let mut max = Pacer::new(Speed::Max);
        assert_eq!(max.due_after(5), None);
    }

    #[test]
    fn parses_durations_with_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("10y").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("abc").is_err());
    }
}
