//! `ccpulse simulate`: deterministic traffic to a file or to Kafka.

use std::process::ExitCode;

use anyhow::{Context, Result};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};

use crate::cli::SimulateArgs;
use crate::duration::parse_duration;
use crate::pace::Pacer;
use crate::progress::count_bar;
use crate::sink::EventSink;

pub(crate) async fn run(args: SimulateArgs) -> Result<ExitCode> {
    let config = sim_config(&args)?;
    let mut simulator = Simulator::new(config.clone()).context("invalid simulation settings")?;
    let mut sink = EventSink::open(&args.output, &args.topic.topic)?;
    let total_minutes = (config.duration_ms / 60_000).max(1) as u64;
    let bar = count_bar(total_minutes, "simulated minutes", args.quiet);
    let mut pacer = Pacer::new(args.speed);
    let started = tokio::time::Instant::now();
    let mut count = 0u64;
    for event in simulator.by_ref() {
        if let Some(due) = pacer.due_after(event.occurred_at) {
            tokio::time::sleep_until(started + due).await;
        }
        sink.write(&event).await?;
        count += 1;
        if count.is_multiple_of(2048) {
            bar.set_position(((event.occurred_at - config.start_ms) / 60_000).max(0) as u64);
        }
    }
    bar.finish_and_clear();
    let written = sink.finish().await?;
    eprintln!("{}", simulator.summary());
    eprintln!("{written} in {:.1?}", started.elapsed());
    Ok(ExitCode::SUCCESS)
}

fn sim_config(args: &SimulateArgs) -> Result<SimConfig> {
    let mut config = SimConfig {
        seed: args.seed,
        ..SimConfig::default()
    };
    if let Some(start) = &args.start {
        let start = chrono::DateTime::parse_from_rfc3339(start)
            .with_context(|| format!("--start `{start}` is not an RFC 3339 timestamp"))?;
        config.start_ms = start.timestamp_millis();
    }
    config.duration_ms = parse_duration(&args.duration)
        .map_err(anyhow::Error::msg)
        .context("--duration")?
        .as_millis() as i64;
    if let Some(tenants) = args.tenants {
        config.tenants = tenants;
    }
    if let Some(scale) = args.scale {
        config.scale = scale;
    }
    Ok(config)
}
