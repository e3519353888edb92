//! `ccpulse ingest`: the aggregator on its own. Consumes the events topic into the data
//! directory (Parquet tables, checkpoints) until Ctrl-C, or with `--until-caught-up`
//! to the end offsets seen at start, then prints a summary.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ccpulse_ingest::aggregate::{Aggregator, Totals};
use ccpulse_ingest::consume::{CancellationToken, PartitionSnapshot, RunOutcome, StatsSnapshot};
use ccpulse_ingest::store::DataDir;
use ccpulse_ingest::{RunMode, RunStats, RunSummary};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::cli::IngestArgs;
use crate::config::FlagOverrides;
use crate::progress::count_bar;

pub(crate) async fn run(args: IngestArgs) -> Result<ExitCode> {
    let config = match super::load_config(
        args.config.config.as_deref(),
        FlagOverrides {
            brokers: args.brokers.clone(),
            data_dir: args.data_dir.clone(),
        },
    ) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let data_dir = DataDir::open(&config.data_dir)
        .with_context(|| format!("opening the data directory `{}`", config.data_dir.display()))?;
    let aggregator = Arc::new(Aggregator::new(data_dir, Arc::clone(&config.fold)));
    let live = aggregator.live();
    let mode = if args.until_caught_up {
        RunMode::UntilCaughtUp
    } else {
        RunMode::Follow
    };
    let stats = RunStats::new();
    let cancel = CancellationToken::new();
    tokio::spawn(cancel_on_signal(cancel.clone()));
    let bar = count_bar(0, "messages", args.quiet);
    let progress = tokio::spawn(show_progress(Arc::clone(&stats), bar.clone()));
    eprintln!(
        "ingest: topic {} at {} into {}{}",
        config.consumer.topic,
        config.kafka.brokers,
        config.data_dir.display(),
        if args.until_caught_up {
            " (until caught up)"
        } else {
            " (Ctrl-C to stop)"
        }
    );
    let result = ccpulse_ingest::consume::run(
        &config.kafka,
        &config.consumer,
        aggregator,
        mode,
        Arc::clone(&stats),
        cancel,
    )
    .await;
    progress.abort();
    bar.finish_and_clear();
    let summary = result.context("ingest stopped")?;
    let report = Report::new(&summary, &live.totals(), &config.data_dir);
    print!("{}", report.text());
    if let Some(path) = &args.summary_json {
        let json = serde_json::to_string_pretty(&report).context("encoding the summary")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the summary to `{}`", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Cancels the run on Ctrl-C or SIGTERM: every partition is checkpointed first.
async fn cancel_on_signal(cancel: CancellationToken) {
    signalled().await;
    eprintln!("ingest: stopping: checkpointing every partition…");
    cancel.cancel();
}

/// Returns on Ctrl-C or SIGTERM.
pub(super) async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Updates the bar from the run's counters: messages processed out of processed + lag.
async fn show_progress(stats: Arc<RunStats>, bar: ProgressBar) {
    let started = std::time::Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    loop {
        ticker.tick().await;
        let snapshot = stats.snapshot();
        bar.set_length(snapshot.consumed + snapshot.lag.unwrap_or(0));
        bar.set_position(snapshot.consumed);
        let seconds = started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!(
            "{:.0}/s, {} dead letters, lag {}",
            snapshot.consumed as f64 / seconds,
            snapshot.dead_lettered,
            snapshot
                .lag
                .map_or_else(|| "unknown".to_owned(), |lag| lag.to_string()),
        ));
    }
}

/// The partitions this run read or checkpointed (the topic may have others, owned by
/// other members of the group).
fn read_partitions(stats: &StatsSnapshot) -> impl Iterator<Item = &PartitionSnapshot> {
    stats
        .partitions
        .values()
        .filter(|p| p.position.is_some() || p.consumed > 0 || p.assigned)
}

/// The final summary, printed and optionally written as JSON (`--summary-json`).
#[derive(Debug, Serialize)]
struct Report {
    /// `caught_up` or `stopped`.
    outcome: &'static str,
    elapsed_s: f64,
    /// Messages read in this run: events plus dead letters.
    messages: u64,
    events: u64,
    events_per_second: f64,
    events_by_type: BTreeMap<String, u64>,
    dead_letters: u64,
    dead_letters_by_reason: BTreeMap<String, u64>,
    /// What was left to read at the end in the partitions read: end offset (as last
    /// fetched) minus position; `None` when unknown for one of them.
    lag: Option<u64>,
    partitions: usize,
    checkpoints: u64,
    /// Over each partition's whole history (restored with its checkpoint), not only
    /// this run.
    duplicates_ignored: u64,
    too_late: u64,
    anomalies: BTreeMap<String, u64>,
    data_dir: String,
}

impl Report {
    fn new(summary: &RunSummary, totals: &Totals, data_dir: &std::path::Path) -> Self {
        let stats: &StatsSnapshot = &summary.stats;
        let elapsed_s = summary.elapsed.as_secs_f64();
        Self {
            outcome: match summary.outcome {
                RunOutcome::CaughtUp => "caught_up",
                RunOutcome::Cancelled => "stopped",
            },
            elapsed_s,
            messages: stats.consumed,
            events: stats.events,
            events_per_second: stats.events as f64 / elapsed_s.max(1e-9),
            events_by_type: stats
                .events_by_type
                .iter()
                .map(|(name, count)| ((*name).to_owned(), *count))
                .collect(),
            dead_letters: stats.dead_lettered,
            dead_letters_by_reason: stats
                .dead_letters_by_kind
                .iter()
                .map(|(name, count)| ((*name).to_owned(), *count))
                .collect(),
            lag: read_partitions(stats)
                .map(|p| Some((p.end_offset? - p.position?).max(0) as u64))
                .sum(),
            partitions: read_partitions(stats).count(),
            checkpoints: stats.checkpoints,
            duplicates_ignored: totals.duplicates,
            too_late: totals.too_late,
            anomalies: totals.anomalies.clone(),
            data_dir: data_dir.display().to_string(),
        }
    }

    fn text(&self) -> String {
        let mut out = format!(
            "ingest {}: {} events and {} dead letters in {:.1}s ({:.0} events/s), lag {}, {} partition(s), {} checkpoint(s)\n",
            match self.outcome {
                "caught_up" => "caught up",
                _ => "stopped",
            },
            self.events,
            self.dead_letters,
            self.elapsed_s,
            self.events_per_second,
            self.lag
                .map_or_else(|| "unknown".to_owned(), |lag| lag.to_string()),
            self.partitions,
            self.checkpoints,
        );
        let list = |counts: &BTreeMap<String, u64>| -> String {
            if counts.is_empty() {
                return "none".to_owned();
            }
            counts
                .iter()
                .map(|(name, count)| format!("{name} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "  events by type: {}\n",
            list(&self.events_by_type)
        ));
        out.push_str(&format!(
            "  dead letters by reason: {}\n",
            list(&self.dead_letters_by_reason)
        ));
        out.push_str(&format!(
            "  all data so far: {} duplicates ignored, {} too late to fold; anomalies: {}\n",
            self.duplicates_ignored,
            self.too_late,
            list(&self.anomalies)
        ));
        out.push_str(&format!("  tables under {}\n", self.data_dir));
        out
    }
}
