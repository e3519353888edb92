//! `ccpulse replay`: NDJSON event files to Kafka.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

use anyhow::{Context, Result};
use ccpulse_ingest::{EventProducer, KafkaSettings, ReplaySummary, replay_ndjson};

use crate::cli::ReplayArgs;
use crate::progress::bytes_bar;

/// Exit code when some lines were invalid and not sent (the valid ones were).
const EXIT_BAD_LINES: u8 = 2;

pub(crate) async fn run(args: ReplayArgs) -> Result<ExitCode> {
    let settings =
        KafkaSettings::new(args.brokers.clone()).with("compression.codec", &args.compression);
    let mut producer =
        EventProducer::new(&settings, &args.topic.topic).context("opening the Kafka producer")?;
    let total_bytes: u64 = args
        .files
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|meta| meta.len())
        .sum();
    let bar = bytes_bar(total_bytes, args.quiet);
    let started = std::time::Instant::now();
    let mut summary = ReplaySummary::default();
    for path in &args.files {
        let name = path.display().to_string();
        let reader: Box<dyn BufRead> = if name == "-" {
            Box::new(BufReader::new(std::io::stdin()))
        } else {
            let file = File::open(path).with_context(|| format!("opening `{name}`"))?;
            Box::new(BufReader::with_capacity(1 << 20, file))
        };
        let done_before = bar.position();
        replay_ndjson(&name, reader, &mut producer, &mut summary, &mut |bytes| {
            bar.set_position(done_before + bytes);
        })
        .await?;
    }
    bar.finish_and_clear();
    let stats = producer
        .finish()
        .await
        .context("delivering events to Kafka")?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "sent {} events ({} bytes) to topic {} in {:.1}s ({:.0} events/s); {} lines read, {} blank, {} invalid",
        stats.delivered,
        stats.bytes,
        args.topic.topic,
        seconds,
        stats.delivered as f64 / seconds.max(1e-9),
        summary.lines,
        summary.blank,
        summary.bad,
    );
    if summary.bad == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("invalid lines (not sent):");
    for bad in &summary.first_bad {
        eprintln!("  {}:{}: {}", bad.source_name, bad.line, bad.reason);
    }
    if summary.bad > summary.first_bad.len() as u64 {
        eprintln!(
            "  … and {} more",
            summary.bad - summary.first_bad.len() as u64
        );
    }
    Ok(ExitCode::from(EXIT_BAD_LINES))
}
