//! [`ApiState`]: what every handler reaches: tokens, live observations, settings, the
//! query engine, metrics, the consumer's counters and the server's shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use ccpulse_ingest::RunStats;
use ccpulse_ingest::aggregate::LiveView;
use ccpulse_query::QueryEngine;
use tokio_util::sync::CancellationToken;

use crate::alerts::Alerting;
use crate::auth::TokenStore;
use crate::metrics::ApiMetrics;
use crate::settings::SettingsStore;

/// How the WebSocket stream paces and bounds each client.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Least time between two messages of one subscription (coalescing): 250 ms, at
    /// most 4 messages per second.
    pub min_interval: Duration,
    /// A `heartbeat` message (and a WebSocket ping) this often: 15 s.
    pub heartbeat_every: Duration,
    /// A client that sends nothing (not even a pong) for this long is closed (4408): 45 s.
    pub idle_timeout: Duration,
    /// A message the client does not take within this long closes it (1008, too slow):
    /// 30 s.
    pub send_timeout: Duration,
    /// Subscriptions per connection: 16.
    pub max_subscriptions: usize,
    /// Largest client message accepted: 64 KiB.
    pub max_message_bytes: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_millis(250),
            heartbeat_every: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(45),
            send_timeout: Duration::from_secs(30),
            max_subscriptions: 16,
            max_message_bytes: 64 * 1024,
        }
    }
}

/// The API's shared state (cheap to clone).
#[derive(Debug, Clone)]
pub struct ApiState {
    pub tokens: Arc<TokenStore>,
    pub live: Arc<LiveView>,
    pub settings: Arc<SettingsStore>,
    pub engine: Arc<QueryEngine>,
    pub metrics: Arc<ApiMetrics>,
    /// Alert rules, open alerts and their history.
    pub alerts: Arc<Alerting>,
    /// The consumer's counters (`None` when no consumer runs in this process: then the
    /// API is ready at once and `/metrics` has no consumer figures).
    pub run: Option<Arc<RunStats>>,
    pub stream: StreamConfig,
    /// Cancelled when the server shuts down: streams close with 1001.
    pub shutdown: CancellationToken,
}
