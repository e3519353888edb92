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
}
