//! The API over a running aggregator, for router, stream and browser tests:
//! [`TestApi`] builds an [`ApiState`] (token store and settings under a data
//! directory, a query engine over the live tail), creates tokens, calls the router
//! in-process ([`TestApi::call`]) or serves it on a loopback port ([`TestApi::listen`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use ccpulse_dashboard_api::alerts::{Alerting, AlertsConfig, WithAlerts};
use ccpulse_dashboard_api::auth::{NewToken, Role, TokenStore};
use ccpulse_dashboard_api::metrics::ApiMetrics;
use ccpulse_dashboard_api::settings::{OnChange, SavedSettings, SettingsStore};
use ccpulse_dashboard_api::{ApiState, StreamConfig, router};
use ccpulse_ingest::aggregate::LiveView;
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::{LiveSource, RunStats};
use ccpulse_query::{QueryConfig, QueryEngine};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// An API over one data directory and live view (see the module docs).
#[derive(Debug, Clone)]
pub struct TestApi {
    pub state: ApiState,
}

/// A response read whole: status, content type and body (JSON when it parses).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error message of an error body (`""` when there is none).
    pub fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl TestApi {
    /// An API over `live` and the tables under `data_dir`, with the fold settings
    /// `config`; settings changes go to `on_change` (the aggregator's
    /// `set_fold_config`). `run`: the consumer's counters, when one runs.
    ///
    /// # Errors
    /// The token or settings file cannot be opened, or the query runtime cannot start.
    pub fn new(
        data_dir: &Path,
        live: Arc<LiveView>,
        config: FoldConfig,
        on_change: OnChange,
        run: Option<Arc<RunStats>>,
        stream: StreamConfig,
    ) -> Result<Self> {
        let alerts = AlertsConfig::in_data_dir(data_dir);
        Self::with_alerts(data_dir, live, config, on_change, run, stream, alerts)
    }

    /// [`TestApi::new`] with alerting's files and delivery settings `alerts` (the
    /// alerting loop runs once [`TestApi::start_alerting`] is called).
    ///
    /// # Errors
    /// As [`TestApi::new`], and the rules file does not check.
    pub fn with_alerts(
        data_dir: &Path,
        live: Arc<LiveView>,
        config: FoldConfig,
        on_change: OnChange,
        run: Option<Arc<RunStats>>,
        stream: StreamConfig,
        alerts: AlertsConfig,
    ) -> Result<Self> {
        let tokens = TokenStore::open(TokenStore::path_in(data_dir))?;
        let settings = SettingsStore::open(SavedSettings::path_in(data_dir), config, on_change)?;
        let history = alerts.history_file.clone();
        let alerts = Alerting::open(alerts, Arc::clone(&live))?;
        let source = LiveSource::new(data_dir.to_path_buf(), Arc::clone(&live));
        let source = WithAlerts::new(Arc::new(source), history);
        let engine = QueryEngine::new(Arc::new(source), QueryConfig::default())?;
        Ok(Self {
            state: ApiState {
                tokens: Arc::new(tokens),
                live,
                settings: Arc::new(settings),
                engine: Arc::new(engine),
                metrics: Arc::new(ApiMetrics::default()),
                alerts,
                run,
                stream,
                shutdown: CancellationToken::new(),
            },
        })
    }

    /// Runs the alerting loop (every live publication evaluates the rules) until the
    /// state's shutdown token is cancelled. Call it inside a Tokio runtime.
    pub fn start_alerting(&self) {
        tokio::spawn(Arc::clone(&self.state.alerts).run(
            Arc::clone(&self.state.settings),
            Some(Arc::clone(&self.state.engine)),
            self.state.shutdown.clone(),
        ));
    }

    /// A new token of `tenant` with `role` (and a supervisor's `queues`).
    ///
    /// # Panics
    /// When the token file cannot be written (a broken test set-up).
    pub fn token(&self, tenant: &str, role: Role, queues: Option<&[&str]>) -> String {
        let (_, token) = self
            .state
            .tokens
            .create(NewToken {
                name: format!("test-{role}"),
                tenant_id: tenant.to_owned(),
                role,
                queues: queues.map(|q| q.iter().map(|s| (*s).to_owned()).collect()),
            })
            .expect("creating a test token");
        token
    }

    /// Calls the router in-process.
    ///
    /// # Panics
    /// When the request cannot be built or the body cannot be read.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Body::from(body.unwrap_or_default().to_owned()))
            .expect("a valid test request");
        let response = router(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("reading the response body")
            .to_vec();
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// `GET uri` with `token`.
    pub async fn get(&self, uri: &str, token: &str) -> Answer {
        self.call(Method::GET, uri, Some(token), None).await
    }

    /// Serves the API on a free loopback port until `state.shutdown` is cancelled.
    ///
    /// # Errors
    /// No port can be bound.
    pub async fn listen(&self) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")?;
        let address = listener.local_addr()?;
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = ccpulse_dashboard_api::serve(listener, state).await {
                eprintln!("test API server failed: {error}");
            }
        });
        Ok((address, task))
    }
}

/// `GET path` on a running server over plain HTTP/1.1 (`Connection: close`), with
/// `token` as a bearer token: the status and the body. For tests of the real binary,
/// which has no in-process router to call.
///
/// # Errors
/// The connection fails or the answer is not HTTP.
pub fn http_get(address: SocketAddr, path: &str, token: Option<&str>) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .context("no end of headers in the answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("no status in the answer")?;
    anyhow::ensure!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "http_get reads whole bodies only, not chunked ones ({path})"
    );
    Ok((status, body.to_owned()))
}
