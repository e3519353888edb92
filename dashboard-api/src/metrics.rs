//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4), written by hand:
//! a few counters, gauges and one histogram do not need a metrics library.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `ccpulse_consumer_lag` | gauge | `partition` (assigned partitions with a known lag) |
//! | `ccpulse_consumer_partitions_assigned` | gauge | |
//! | `ccpulse_events_total` | counter | |
//! | `ccpulse_events_per_second` | gauge | (over the last 10 s) |
//! | `ccpulse_dead_letters_total` | counter | `reason` |
//! | `ccpulse_checkpoints_total` | counter | |
//! | `ccpulse_websocket_clients` | gauge | |
//! | `ccpulse_websocket_too_slow_total` | counter | (clients closed for not taking a message in time) |
//! | `ccpulse_query_duration_seconds` | histogram | `kind` (`sql`, `report`) |
//! | `ccpulse_http_requests_total` | counter | `status` class (`2xx` … `5xx`) |

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ccpulse_ingest::RunStats;

/// Upper bounds (seconds) of the query-latency buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How far back `ccpulse_events_per_second` looks.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// The API's own measurements, plus what it reads from the consumer's [`RunStats`].
#[derive(Debug, Default)]
pub struct ApiMetrics {
    websocket_clients: AtomicI64,
    websocket_too_slow: AtomicU64,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Responses by status class: 2xx, 3xx, 4xx, 5xx.
    responses: [AtomicU64; 4],
    /// (when, events so far) samples for the events rate.
    event_samples: Mutex<VecDeque<(Instant, u64)>>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counts one WebSocket client while alive.
#[derive(Debug)]
pub struct ClientGuard {
    metrics: Arc<ApiMetrics>,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.metrics
            .websocket_clients
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl ApiMetrics {
    /// A WebSocket client connected; it is counted until the guard drops.
    pub fn websocket_opened(self: &Arc<Self>) -> ClientGuard {
        self.websocket_clients.fetch_add(1, Ordering::Relaxed);
        ClientGuard {
            metrics: Arc::clone(self),
        }
    }

    /// A WebSocket client was closed for not taking a message within its send timeout.
    pub fn websocket_too_slow(&self) {
        self.websocket_too_slow.fetch_add(1, Ordering::Relaxed);
    }

    pub fn websocket_clients(&self) -> i64 {
        self.websocket_clients.load(Ordering::Relaxed)
    }

    /// One query (`kind`: `sql` or `report`) took `elapsed`.
    pub fn observe_query(&self, kind: &'static str, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        let histogram = latency.entry(kind).or_default();
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&mut histogram.buckets) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// One HTTP response with `status`.
    pub fn observe_response(&self, status: u16) {
        if let Some(class) = (status / 100).checked_sub(2).map(usize::from)
            && let Some(counter) = self.responses.get(class)
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the events count now (called every second by the server's sampler, and
    /// at each scrape) and returns the rate over the last `RATE_WINDOW` (10 s).
    pub fn sample_events(&self, now: Instant, events: u64) -> f64 {
        let mut samples = self
            .event_samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        samples.push_back((now, events));
        while samples.len() > 2
            && samples
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) >= RATE_WINDOW)
        {
            samples.pop_front();
        }
        match (samples.front(), samples.back()) {
            (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => {
                n1.saturating_sub(*n0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// The exposition text.
    pub fn render(&self, run: Option<&RunStats>) -> String {
        let mut out = String::new();
        if let Some(run) = run {
            let stats = run.snapshot();
            let rate = self.sample_events(Instant::now(), stats.events);
            family(
                &mut out,
                "ccpulse_consumer_lag",
                "gauge",
                "Messages left to read per assigned partition (end offset minus position).",
            );
            for (partition, p) in &stats.partitions {
                if let (true, Some(lag)) = (p.assigned, p.lag) {
                    let _ = writeln!(
                        out,
                        "ccpulse_consumer_lag{{partition=\"{partition}\"}} {lag}"
                    );
                }
            }
            family(
                &mut out,
                "ccpulse_consumer_partitions_assigned",
                "gauge",
                "Partitions of the events topic this process owns.",
            );
            let assigned = stats.partitions.values().filter(|p| p.assigned).count();
            let _ = writeln!(out, "ccpulse_consumer_partitions_assigned {assigned}");
            family(
                &mut out,
                "ccpulse_events_total",
                "counter",
                "Valid events read since start.",
            );
            let _ = writeln!(out, "ccpulse_events_total {}", stats.events);
            family(
                &mut out,
                "ccpulse_events_per_second",
                "gauge",
                "Valid events per second over the last 10 s.",
            );
            let _ = writeln!(out, "ccpulse_events_per_second {rate:.3}");
            family(
                &mut out,
                "ccpulse_dead_letters_total",
                "counter",
                "Invalid messages sent to the dead-letter topic, by reason.",
            );
            for (reason, count) in &stats.dead_letters_by_kind {
                let _ = writeln!(
                    out,
                    "ccpulse_dead_letters_total{{reason=\"{}\"}} {count}",
                    escape(reason)
                );
            }
            family(
                &mut out,
                "ccpulse_checkpoints_total",
                "counter",
                "Partition checkpoints written since start.",
            );
            let _ = writeln!(out, "ccpulse_checkpoints_total {}", stats.checkpoints);
        }
        family(
            &mut out,
            "ccpulse_websocket_clients",
            "gauge",
            "Connected WebSocket clients.",
        );
        let _ = writeln!(
            out,
            "ccpulse_websocket_clients {}",
            self.websocket_clients()
        );
        family(
            &mut out,
            "ccpulse_query_duration_seconds",
            "histogram",
            "SQL and report latency, from request to last row.",
        );
        let latency = self
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for (kind, histogram) in &latency {
            for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
                let _ = writeln!(
                    out,
                    "ccpulse_query_duration_seconds_bucket{{kind=\"{kind}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "ccpulse_query_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "ccpulse_query_duration_seconds_sum{{kind=\"{kind}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "ccpulse_query_duration_seconds_count{{kind=\"{kind}\"}} {}",
                histogram.count
            );
        }
        family(
            &mut out,
            "ccpulse_http_requests_total",
            "counter",
            "HTTP responses by status class.",
        );
        for (class, counter) in ["2xx", "3xx", "4xx", "5xx"].iter().zip(&self.responses) {
            let _ = writeln!(
                out,
                "ccpulse_http_requests_total{{status=\"{class}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}

pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped.
pub(crate) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_latency_lands_in_cumulative_buckets() {
        let metrics = ApiMetrics::default();
        metrics.observe_query("sql", Duration::from_millis(30));
        metrics.observe_query("sql", Duration::from_secs(60));
        let text = metrics.render(None);
        assert!(
            text.contains("ccpulse_query_duration_seconds_bucket{kind=\"sql\",le=\"0.025\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("ccpulse_query_duration_seconds_bucket{kind=\"sql\",le=\"0.05\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ccpulse_query_duration_seconds_bucket{kind=\"sql\",le=\"30\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ccpulse_query_duration_seconds_bucket{kind=\"sql\",le=\"+Inf\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("ccpulse_query_duration_seconds_count{kind=\"sql\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn websocket_clients_count_while_their_guard_lives() {
        let metrics = Arc::new(ApiMetrics::default());
        let first = metrics.websocket_opened();
        let second = metrics.websocket_opened();
        assert_eq!(metrics.websocket_clients(), 2);
        drop(first);
        assert_eq!(metrics.websocket_clients(), 1);
        drop(second);
        assert!(metrics.render(None).contains("ccpulse_websocket_clients 0"));
    }

    #[test]
    fn the_events_rate_covers_the_last_window() {
        let metrics = ApiMetrics::default();
        let start = Instant::now();
        assert_eq!(metrics.sample_events(start, 0), 0.0);
        assert_eq!(
            metrics.sample_events(start + Duration::from_secs(2), 200),
            100.0
        );
        // Sampled every second: 28 s without traffic, then 5 s at 100 events/s. The
        // rate covers the last 10 s only: 500 events in 10 s.
        let mut events = 200;
        for second in 3..=35 {
            if second > 30 {
                events += 100;
            }
            let rate = metrics.sample_events(start + Duration::from_secs(second), events);
            if second == 30 {
                assert_eq!(rate, 0.0, "no traffic in the last 10 s");
            }
            if second == 35 {
                assert_eq!(rate, 50.0);
            }
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
