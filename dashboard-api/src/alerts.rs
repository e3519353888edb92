//! Service-level alerting: rules, their lifecycle, delivery and history.
//!
//! ```text
//! rules.toml ──(API writes, hand edits re-read)──> RuleSet
//! LiveView publication ─> Alerting::evaluate: per tenant, per enabled rule:
//!     evaluate::readings (the wallboard's QueueView/AgentView figures, per subject)
//!     ─> Track::step (ok → pending → firing → resolved; hold, hysteresis, volume)
//!     ─> AlertRecord per change ─> history.ndjson (the `alerts` SQL table)
//!                              ─> Deliverer (webhook / Slack; queued, retried)
//!     ─> state.json (open tracks survive a restart) ─> LiveView::notify (streams)
//! ```
//!
//! - [`rule`]: the rules file, the API's rule JSON, checking, the metrics.
//! - [`lifecycle`]: the pure state machine of one rule on one subject.
//! - [`evaluate`]: a rule's subjects and observations from the live views.
//! - [`query`]: the same for rules read with SQL (trailing windows, the dialer's
//!   abandon rate, table columns), at interval close and every `query_every`.
//! - [`deliver`]: webhook and Slack-compatible deliveries (signed, retried, never
//!   blocking).
//! - [`history`]: the history file and the `alerts` table.
//! - [`view`]: the JSON of an open alert.
//! - [`service`]: [`Alerting`], which ties them together.
//!
//! Every duration of a rule (`for`, `clear_for`, `renotify_every`, snoozes) runs on
//! the data's clock, the tenant's latest event time, as the wallboard's time in state
//! does: live it follows the wall clock within the pipeline's lag; in a replay it
//! follows the replayed time. One process evaluates the tenants of the partitions it
//! owns.

pub mod deliver;
pub mod evaluate;
pub mod history;
pub mod lifecycle;
pub mod query;
pub mod rule;
pub mod service;
pub mod view;

pub use history::WithAlerts;
pub use service::{AlertError, Alerting, AlertsConfig, check_rules_file};
pub use view::AlertView;
