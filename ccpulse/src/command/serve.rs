//! `ccpulse serve`: the whole pipeline in one process: the aggregator consuming the
//! events topic (as `ccpulse ingest`) and the API with the wallboard page on
//! `server.listen`, until Ctrl-C or SIGTERM (then the API closes its streams and every
//! partition is checkpointed).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ccpulse_dashboard_api::alerts::{Alerting, AlertsConfig, WithAlerts};
use ccpulse_dashboard_api::auth::TokenStore;
use ccpulse_dashboard_api::metrics::ApiMetrics;
use ccpulse_dashboard_api::settings::{SavedSettings, SettingsStore};
use ccpulse_dashboard_api::{ApiState, StreamConfig};
use ccpulse_ingest::aggregate::{Aggregator, AggregatorSettings};
use ccpulse_ingest::consume::CancellationToken;
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::store::DataDir;
use ccpulse_ingest::{LiveSource, RunMode, RunStats};
use ccpulse_query::{QueryConfig, QueryEngine};

use crate::cli::ServeArgs;
use crate::config::FlagOverrides;

pub(crate) async fn run(args: ServeArgs) -> Result<ExitCode> {
    let mut config = match super::load_config(
        args.config.config.as_deref(),
        FlagOverrides {
            brokers: args.brokers.clone(),
            data_dir: args.data_dir.clone(),
        },
    ) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let data_dir = DataDir::open(&config.data_dir)
        .with_context(|| format!("opening the data directory `{}`", config.data_dir.display()))?;
    let aggregator = Arc::new(Aggregator::with_settings(
        data_dir,
        Arc::clone(&config.fold),
        AggregatorSettings {
            publish_every: config.server.live_publish_every,
            ..AggregatorSettings::default()
        },
    ));
    let stats = RunStats::new();
    let mut api = Api::start(
        &config.data_dir,
        &aggregator,
        (*config.fold).clone(),
        Some(Arc::clone(&stats)),
        config.query.clone(),
        StreamConfig {
            min_interval: config.server.stream_min_interval,
            ..StreamConfig::default()
        },
        config.server.listen,
    )
    .await?;
    eprintln!(
        "serve: consuming {} at {} into {}",
        config.consumer.topic,
        config.kafka.brokers,
        config.data_dir.display()
    );
    eprintln!(
        "serve: API and wallboard at http://{}/ (OpenAPI at /api/v1/openapi.json); Ctrl-C to stop",
        api.address
    );
    api.hint_when_no_tokens();

    let cancel = CancellationToken::new();
    let consume = tokio::spawn({
        let cancel = cancel.clone();
        let stats = Arc::clone(&stats);
        let kafka = config.kafka.clone();
        let consumer = config.consumer.clone();
        let aggregator = Arc::clone(&aggregator);
        async move {
            ccpulse_ingest::consume::run(
                &kafka,
                &consumer,
                aggregator,
                RunMode::Follow,
                stats,
                cancel,
            )
            .await
        }
    });
    let stopped_by_signal = tokio::select! {
        () = super::ingest::signalled() => true,
        result = api.wait() => {
            result.context("the API server stopped")?;
            false
        }
    };
    if stopped_by_signal {
        eprintln!("serve: stopping: closing streams, checkpointing every partition…");
    }
    api.shutdown.cancel();
    cancel.cancel();
    let summary = consume
        .await
        .context("the aggregator task panicked")?
        .context("the aggregator stopped")?;
    eprintln!(
        "serve: stopped after {:.0} s: {} events, {} dead letters, {} checkpoints",
        summary.elapsed.as_secs_f64(),
        summary.stats.events,
        summary.stats.dead_lettered,
        summary.stats.checkpoints
    );
    Ok(ExitCode::SUCCESS)
}

/// The API server of `serve` and `demo`.
pub(crate) struct Api {
    pub(crate) address: SocketAddr,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tokens: Arc<TokenStore>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Api {
    /// Binds `listen` and serves the API over `aggregator`'s live view and the tables
    /// under `data_dir`, pacing the WebSocket stream by `stream`. `fold`: the fold settings in effect (the configuration file's
    /// with the saved ones applied: applying them again changes nothing); changes made
    /// through the API go to the aggregator.
    pub(crate) async fn start(
        data_dir: &Path,
        aggregator: &Arc<Aggregator>,
        fold: FoldConfig,
        run: Option<Arc<RunStats>>,
        query: QueryConfig,
        stream: StreamConfig,
        listen: SocketAddr,
    ) -> Result<Self> {
        let tokens = Arc::new(
            TokenStore::open(TokenStore::path_in(data_dir)).context("opening the token file")?,
        );
        let settings = SettingsStore::open(SavedSettings::path_in(data_dir), fold, {
            let aggregator = Arc::clone(aggregator);
            Box::new(move |config| aggregator.set_fold_config(config))
        })
        .context("opening the saved settings")?;
        let live = aggregator.live();
        let alerts_config = AlertsConfig::in_data_dir(data_dir);
        let history = alerts_config.history_file.clone();
        let alerts =
            Alerting::open(alerts_config, Arc::clone(&live)).context("opening the alert rules")?;
        let source = LiveSource::new(data_dir.to_path_buf(), Arc::clone(&live));
        let source = WithAlerts::new(Arc::new(source), history);
        let engine =
            QueryEngine::new(Arc::new(source), query).context("starting the query runtime")?;
        let metrics = Arc::new(ApiMetrics::default());
        if let Some(run) = &run {
            tokio::spawn(sample_events(Arc::clone(&metrics), Arc::clone(run)));
        }
        let shutdown = CancellationToken::new();
        let settings = Arc::new(settings);
        let engine = Arc::new(engine);
        tokio::spawn(Arc::clone(&alerts).run(
            Arc::clone(&settings),
            Some(Arc::clone(&engine)),
            shutdown.clone(),
        ));
        let state = ApiState {
            tokens: Arc::clone(&tokens),
            live,
            settings,
            engine,
            metrics,
            alerts,
            run,
            stream,
            shutdown: shutdown.clone(),
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen} (server.listen / --listen)"))?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(ccpulse_dashboard_api::serve(listener, state));
        Ok(Self {
            address,
            shutdown,
            tokens,
            task,
        })
    }

    /// Prints how to make a first token when there is none.
    pub(crate) fn hint_when_no_tokens(&self) {
        if self.tokens.list().is_ok_and(|tokens| tokens.is_empty()) {
            eprintln!(
                "serve: no API token yet: create one with `ccpulse token create --tenant TENANT --role admin` (same --data-dir), then open the printed URL followed by #token=TOKEN"
            );
        }
    }

    /// Until the server stops on its own (an I/O failure).
    async fn wait(&mut self) -> Result<()> {
        (&mut self.task).await.context("the API task panicked")??;
        Ok(())
    }
}

/// Samples the events count every second for `ccpulse_events_per_second`.
async fn sample_events(metrics: Arc<ApiMetrics>, run: Arc<RunStats>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        metrics.sample_events(Instant::now(), run.snapshot().events);
    }
}
