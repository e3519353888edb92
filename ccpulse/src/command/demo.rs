//! `ccpulse demo`: the product on an embedded default, one command, nothing to install.
//!
//! Starts librdkafka's in-process mock cluster (a Kafka-protocol broker inside this
//! process), produces live simulated traffic to it, consumes the topic back and prints
//! a running summary. The live aggregator, API and wallboard join this command as they
//! land (see the README's roadmap).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use ccpulse_ingest::{EventProducer, KafkaSettings};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};
use ccpulse_schemas::v1::{self, EventType, KnownEventType};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use tokio_util::sync::CancellationToken;

use crate::cli::{DEFAULT_TOPIC, DemoArgs};
use crate::duration::parse_duration;
use crate::pace::Pacer;

const PARTITIONS: i32 = 4;

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
    let brokers = cluster.bootstrap_servers();
    println!(
        "ccpulse demo: embedded broker at {brokers}, topic {DEFAULT_TOPIC} ({PARTITIONS} partitions)"
    );
    println!("simulated traffic at {:?}; Ctrl-C to stop", args.speed);

    let cancel = CancellationToken::new();
    let settings = KafkaSettings::new(brokers);
    let producer_task = tokio::spawn(produce_live(
        settings.clone(),
        args.seed,
        Pacer::new(args.speed),
        cancel.child_token(),
    ));

    let consumer: StreamConsumer = settings
        .clone()
        .with("group.id", "ccpulse-demo")
        .with("auto.offset.reset", "earliest")
        .with("fetch.wait.max.ms", "10")
        .client_config()
        .create()
        .context("creating the demo consumer")?;
    consumer
        .subscribe(&[DEFAULT_TOPIC])
        .context("subscribing to the events topic")?;

    let mut tally = Tally::default();
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
            _ = ticker.tick() => println!("{}", tally.line(started.elapsed())),
            message = consumer.recv() => match message {
                Ok(message) => tally.observe(message.payload().unwrap_or_default()),
                Err(error) => tracing::warn!(error = %error, "demo consumer error"),
            },
        }
    }
    cancel.cancel();
    producer_task
        .await
        .context("the demo producer task panicked")??;
    println!("{}", tally.line(started.elapsed()));
    Ok(ExitCode::SUCCESS)
}

/// Produces simulator traffic, paced, until cancelled or the simulation ends.
async fn produce_live(
    settings: KafkaSettings,
    seed: u64,
    mut pacer: Pacer,
    cancel: CancellationToken,
) -> Result<()> {
    let mut producer = EventProducer::new(&settings, DEFAULT_TOPIC)?;
    let config = SimConfig {
        seed,
        duration_ms: 7 * 86_400_000,
        ..SimConfig::default()
    };
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

/// Running counts over the consumed events.
#[derive(Debug, Default)]
struct Tally {
    events: u64,
    invalid: u64,
    latest_event_ms: i64,
    per_type: BTreeMap<&'static str, u64>,
    per_tenant: BTreeMap<String, u64>,
}

impl Tally {
    fn observe(&mut self, payload: &[u8]) {
        let Ok(event) = v1::decode(payload) else {
            self.invalid += 1;
            return;
        };
        self.events += 1;
        self.latest_event_ms = self.latest_event_ms.max(event.occurred_at);
        if let EventType::Known(known) = event.event_type {
            *self.per_type.entry(known.as_str()).or_default() += 1;
        }
        match self.per_tenant.get_mut(event.tenant_id.as_ref()) {
            Some(count) => *count += 1,
            None => {
                self.per_tenant.insert(event.tenant_id.into_owned(), 1);
            }
        }
    }

    fn count(&self, known: KnownEventType) -> u64 {
        self.per_type.get(known.as_str()).copied().unwrap_or(0)
    }

    fn line(&self, elapsed: Duration) -> String {
        let clock = chrono::DateTime::from_timestamp_millis(self.latest_event_ms)
            .filter(|_| self.events > 0)
            .map(|time| time.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".to_owned());
        let tenants: Vec<String> = self
            .per_tenant
            .iter()
            .map(|(tenant, count)| format!("{tenant}={count}"))
            .collect();
        format!(
            "[{:>5.0}s] sim {clock} UTC | {} events ({:.0}/s), {} invalid | queued {} answered {} abandoned {} flowed-out {} | dialer attempts {} | tenants {}",
            elapsed.as_secs_f64(),
            self.events,
            self.events as f64 / elapsed.as_secs_f64().max(1e-3),
            self.invalid,
            self.count(KnownEventType::InteractionQueued),
            self.count(KnownEventType::InteractionAnswered),
            self.count(KnownEventType::InteractionAbandoned),
            self.count(KnownEventType::InteractionFlowedOut),
            self.count(KnownEventType::DialerAttempted),
            tenants.join(" "),
        )
    }
}
