//! `ccpulse demo`: the product on an embedded default, one command, nothing to install.
//!
//! Starts librdkafka's in-process mock cluster (a Kafka-protocol broker inside this
//! process), produces live simulated traffic to it, runs the aggregator on it (the same
//! `Aggregator` and consumer runtime as `ccpulse ingest`, tables under a data directory),
//! serves the API and the wallboard page (as `ccpulse serve`) with an admin token per
//! simulated tenant, prints the wallboard's URL and a running summary from the live
//! observations.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ccpulse_ingest::aggregate::{Aggregator, LiveView};
use ccpulse_ingest::consume::{self, ConsumerSettings, RunMode, RunStats};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::store::DataDir;
use ccpulse_ingest::{EventProducer, KafkaSettings};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use ccpulse_schemas::settings::TenantSettings;
use rdkafka::mocking::MockCluster;
use tokio_util::sync::CancellationToken;

use super::serve::Api;
use crate::cli::{DEFAULT_TOPIC, DemoArgs};
use crate::duration::parse_duration;
use crate::pace::Pacer;
use ccpulse_dashboard_api::StreamConfig;
use ccpulse_dashboard_api::alerts::AlertsConfig;
use ccpulse_dashboard_api::alerts::rule::{RuleSet, RuleSpec, RulesFile};
use ccpulse_dashboard_api::auth::{NewToken, Role};
use ccpulse_query::QueryConfig;

const PARTITIONS: i32 = 4;
const DEAD_LETTER_TOPIC: &str = "ccpulse.events.dlq";

pub(crate) async fn run(args: DemoArgs) -> Result<ExitCode> {
    let run_for = args
        .duration
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("--duration")?;
    let cluster = MockCluster::new(1).context("starting the embedded Kafka broker")?;
    cluster
        .create_topic(DEFAULT_TOPIC, PARTITIONS, 1)
        .context("creating the events topic")?;
    cluster
        .create_topic(DEAD_LETTER_TOPIC, 1, 1)
        .context("creating the dead-letter topic")?;
    let brokers = cluster.bootstrap_servers();
    // Without --data-dir the tables go to a temporary directory, removed at the end.
    let temporary = match &args.data_dir {
        Some(_) => None,
        None => Some(tempfile_dir()?),
    };
    let data_path = args
        .data_dir
        .clone()
        .or_else(|| temporary.as_ref().map(|dir| dir.path().to_owned()))
        .context("no data directory")?;
    println!(
        "ccpulse demo: embedded broker at {brokers}, topic {DEFAULT_TOPIC} ({PARTITIONS} partitions), tables in {}{}",
        data_path.display(),
        if temporary.is_some() {
            " (temporary; --data-dir to keep them)"
        } else {
            ""
        }
    );
    println!("simulated traffic at {:?}; Ctrl-C to stop", args.speed);

    let sim = SimConfig {
        seed: args.seed,
        duration_ms: 7 * 86_400_000,
        ..SimConfig::default()
    };
    let mut fold = FoldConfig::default();
    let tenant_ids: Vec<String> = Simulator::new(sim.clone())?
        .tenants()
        .iter()
        .map(|profile| profile.tenant_id.clone())
        .collect();
    for profile in Simulator::new(sim.clone())?.tenants() {
        let settings = TenantSettings {
            timezone: profile.timezone,
            ..TenantSettings::default()
        };
        fold.tenants.insert(profile.tenant_id.clone(), settings);
    }
    let aggregator = Arc::new(Aggregator::new(
        DataDir::open(&data_path).context("opening the data directory")?,
        Arc::new(fold.clone()),
    ));
    let live = aggregator.live();
    let stats = RunStats::new();
    let rules = AlertsConfig::in_data_dir(&data_path).rules_file;
    if !rules.exists() {
        write_demo_rules(&rules, &tenant_ids)?;
        println!(
            "alert rules: {} (service level and oldest voice wait per tenant; edit it, or use /api/v1/alert-rules)",
            rules.display()
        );
    }
    let api = Api::start(
        &data_path,
        &aggregator,
        fold,
        Some(Arc::clone(&stats)),
        QueryConfig::default(),
        StreamConfig::default(),
        args.listen,
    )
    .await?;
    let mut urls = Vec::new();
    for tenant in &tenant_ids {
        let (_, token) = api
            .tokens
            .create(NewToken {
                name: format!("demo-{tenant}"),
                tenant_id: tenant.clone(),
                role: Role::Admin,
                queues: None,
            })
            .context("creating the demo's API token")?;
        urls.push((tenant.clone(), token));
    }
    println!(
        "wallboard: http://{}/#token={} (tenant {}; OpenAPI at /api/v1/openapi.json)",
        api.address,
        urls.first().map_or("", |(_, token)| token.as_str()),
        urls.first().map_or("-", |(tenant, _)| tenant.as_str()),
    );
    for (tenant, token) in urls.iter().skip(1) {
        println!("  tenant {tenant}: http://{}/#token={token}", api.address);
    }
    println!(
        "  API calls: curl -H 'Authorization: Bearer TOKEN' http://{}/api/v1/queues",
        api.address
    );

    let cancel = CancellationToken::new();
    let settings = KafkaSettings::new(brokers);
    let producer_task = tokio::spawn(produce_live(
        settings.clone(),
        sim,
        Pacer::new(args.speed),
        cancel.child_token(),
    ));
    let consumer = ConsumerSettings {
        topic: DEFAULT_TOPIC.to_owned(),
        dead_letter_topic: DEAD_LETTER_TOPIC.to_owned(),
        group_id: "ccpulse-demo".to_owned(),
        ..ConsumerSettings::default()
    };
    let consume_cancel = CancellationToken::new();
    let consume_task = tokio::spawn({
        let settings = settings.clone();
        let stats = Arc::clone(&stats);
        let cancel = consume_cancel.clone();
        async move {
            consume::run(
                &settings,
                &consumer,
                aggregator,
                RunMode::Follow,
                stats,
                cancel,
            )
            .await
        }
    });

    let mut ticker = tokio::time::interval(Duration::from_secs(args.every.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = async {
        match run_for {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let started = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            () = &mut deadline => break,
            _ = ticker.tick() => println!("{}", summary_line(&live, &stats, started.elapsed())),
        }
    }
    cancel.cancel();
    producer_task
        .await
        .context("the demo producer task panicked")??;
    // The producer has flushed; stop the aggregator, which checkpoints every partition
    // (and then lets go of its live rows: the last line is printed before).
    println!("{}", summary_line(&live, &stats, started.elapsed()));
    api.shutdown.cancel();
    consume_cancel.cancel();
    consume_task
        .await
        .context("the demo aggregator task panicked")?
        .context("the aggregator stopped")?;
    drop(temporary);
    Ok(ExitCode::SUCCESS)
}

fn tempfile_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("ccpulse-demo-")
        .tempdir()
        .context("creating a temporary data directory")
}

/// Two rules per simulated tenant, so the demo's wallboard shows alerts: each
/// queue's service level this interval (below 80 %, critical below 60 %, held 2
/// minutes, after 10 contacts, clear at 85 %) and the oldest wait of voice queues
/// (over 90 s).
fn write_demo_rules(path: &std::path::Path, tenants: &[String]) -> Result<()> {
    let mut file = RulesFile::default();
    for tenant in tenants {
        let rule = |text: String| -> Result<RuleSpec> {
            toml::from_str(&format!("tenant = \"{tenant}\"\n{text}")).context("a demo alert rule")
        };
        file.rules.push(rule(
            "id = \"service-level\"\nname = \"Service level\"\nmetric = \"service_level\"\n\
             comparison = \"below\"\nwarning = 0.8\ncritical = 0.6\nclear = 0.85\n\
             for = \"2m\"\nclear_for = \"2m\"\nmin_volume = 10\n"
                .to_owned(),
        )?);
        file.rules.push(rule(
            "id = \"oldest-wait\"\nname = \"Oldest voice wait\"\nmetric = \"oldest_wait_s\"\n\
             scope = { channel = \"voice\" }\n\
             comparison = \"above\"\nwarning = 90.0\nclear = 30.0\nfor = \"30s\"\n"
                .to_owned(),
        )?);
    }
    RuleSet::check(&file).map_err(|e| anyhow::anyhow!("the demo alert rules: {e}"))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = toml::to_string(&file).context("writing the demo alert rules")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// One line: traffic, then per tenant what a supervisor's wallboard shows.
fn summary_line(live: &LiveView, stats: &RunStats, elapsed: Duration) -> String {
    let snapshot = stats.snapshot();
    let clock = live
        .partitions()
        .iter()
        .flat_map(|p| p.as_of.values().copied())
        .max()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|time| time.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".to_owned());
    let mut tenants: Vec<String> = Vec::new();
    let queues = live.queue_live(None);
    let agents = live.agent_live(None);
    let mut tenant_ids: Vec<&str> = queues.iter().map(|q| q.tenant_id.as_str()).collect();
    tenant_ids.dedup();
    for tenant in tenant_ids {
        let rows = queues.iter().filter(|q| q.tenant_id == tenant);
        let (mut waiting, mut oldest, mut answered, mut abandoned) = (0, None, 0, 0);
        let (mut in_sl, mut sl_terms) = (0.0, 0.0);
        for row in rows {
            waiting += row.waiting_now;
            oldest = oldest.max(row.oldest_wait_ms);
            answered += row.today.answered;
            abandoned += row.today.abandoned;
            if let Some(level) = row.today.service_level {
                let weight = (row.today.answered + row.today.abandoned) as f64;
                in_sl += level * weight;
                sl_terms += weight;
            }
        }
        let staff = agents.iter().filter(|a| a.tenant_id == tenant);
        let (mut available, mut busy) = (0, 0);
        for agent in staff {
            match agent.state {
                "available" => available += 1,
                "alerting" | "interacting" | "after_contact_work" => busy += 1,
                _ => {}
            }
        }
        let level = if sl_terms > 0.0 {
            format!("{:.1}%", 100.0 * in_sl / sl_terms)
        } else {
            "—".to_owned()
        };
        tenants.push(format!(
            "{tenant}: waiting {waiting} (oldest {}), today answered {answered} abandoned {abandoned} SL ~{level}, agents {available} available {busy} busy",
            oldest.map_or_else(|| "—".to_owned(), |ms| format!("{}s", ms / 1000)),
        ));
    }
    format!(
        "[{:>5.0}s] sim {clock} UTC | {} events ({:.0}/s), {} invalid, lag {} | {}",
        elapsed.as_secs_f64(),
        snapshot.events,
        snapshot.events as f64 / elapsed.as_secs_f64().max(1e-3),
        snapshot.dead_lettered,
        snapshot
            .lag
            .map_or_else(|| "-".to_owned(), |lag| lag.to_string()),
        if tenants.is_empty() {
            "no queue activity yet".to_owned()
        } else {
            tenants.join(" | ")
        },
    )
}

/// Produces simulator traffic, paced, until cancelled or the simulation ends.
async fn produce_live(
    settings: KafkaSettings,
    config: SimConfig,
    mut pacer: Pacer,
    cancel: CancellationToken,
) -> Result<()> {
    let mut producer = EventProducer::new(&settings, DEFAULT_TOPIC)?;
    let started = tokio::time::Instant::now();
    for event in Simulator::new(config)? {
        if let Some(due) = pacer.due_after(event.occurred_at) {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep_until(started + due) => {}
            }
        } else if cancel.is_cancelled() {
            break;
        }
        producer
            .send(&event.tenant_id, event.to_json().as_bytes())
            .await?;
    }
    producer.finish().await?;
    Ok(())
}
