//! [`Alerting`]: the rules file, every track's lifecycle, the history and the
//! deliveries, evaluated on every publication of the live view.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ccpulse_ingest::aggregate::LiveView;
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_query::{QueryEngine, QueryOutput, TenantScope};
use ccpulse_schemas::metrics::interval_start;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::deliver::{Deliverer, DeliveryConfig, DeliveryFailure, Destination, Notification};
use super::evaluate::{self, Reading, Subject};
use super::history::{self, AlertRecord, HistoryWriter};
use super::lifecycle::{Change, Observation, State, Track};
use super::query;
use super::rule::{Metric, Rule, RuleErrors, RuleSet, RuleSpec, RulesFile};
use super::view::AlertView;
use crate::auth::Principal;
use crate::metrics::family;
use crate::views::{AgentView, QueueView, time_text};

/// Where alerting keeps its files, and how it delivers.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// The rules and destinations (TOML); written by the API, re-read when changed on
    /// disk. Default `<data_dir>/alerts/rules.toml`.
    pub rules_file: PathBuf,
    /// Open tracks, so a restart neither forgets a firing alert nor notifies it again.
    pub state_file: PathBuf,
    /// The history (the `alerts` table).
    pub history_file: PathBuf,
    pub delivery: DeliveryConfig,
    /// How often rules read with SQL are evaluated besides each interval close: 30 s.
    pub query_every: Duration,
}

impl AlertsConfig {
    /// Everything under `<data_dir>/alerts/`, default deliveries.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        let dir = data_dir.join("alerts");
        Self {
            rules_file: dir.join("rules.toml"),
            state_file: dir.join("state.json"),
            history_file: history::path_in(data_dir),
            delivery: DeliveryConfig::default(),
            query_every: Duration::from_secs(30),
        }
    }
}

/// Why an alerting call was refused.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

/// One rule on one subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct TrackKey {
    tenant_id: String,
    rule_id: String,
    subject_kind: String,
    subject_id: String,
}

impl TrackKey {
    fn subject(&self) -> Subject {
        Subject::new(&self.subject_kind, self.subject_id.clone())
    }

    /// A new episode's id: `al_` and 16 hex digits of a hash of the key, the data
    /// time it starts and the server's clock (so an episode that starts again at the
    /// same data time, after a rule change, gets another id).
    fn new_alert_id(&self, since: i64) -> String {
        let mut hash = Sha256::new();
        for part in [
            &self.tenant_id,
            &self.rule_id,
            &self.subject_kind,
            &self.subject_id,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.update(since.to_be_bytes());
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hash.update(nanos.to_be_bytes());
        format!("al_{}", &hex::encode(hash.finalize())[..16])
    }
}

/// The rules as last read from the file.
#[derive(Debug)]
struct LoadedRules {
    file: RulesFile,
    set: Arc<RuleSet>,
    modified: Option<SystemTime>,
    /// The file's problems when the last read failed (the previous rules stay).
    error: Option<String>,
}

/// Every open track, and the rule each was evaluated under.
#[derive(Debug, Default)]
struct Book {
    tracks: BTreeMap<TrackKey, Track>,
    /// The rule each (tenant, rule id) was last evaluated as: a change ends its alerts.
    rules: BTreeMap<(String, String), Rule>,
    /// Each tenant's data clock at its last evaluation.
    evaluated: BTreeMap<String, i64>,
    /// Each tenant's data clock at its last evaluation of the rules read with SQL.
    queried: BTreeMap<String, i64>,
}

impl Book {
    /// The rule `key`'s track was last evaluated under.
    fn rule(&self, key: &TrackKey) -> Option<&Rule> {
        self.rules
            .get(&(key.tenant_id.clone(), key.rule_id.clone()))
    }
}

/// What the state file holds.
#[derive(Debug, Serialize, Deserialize)]
struct SavedState {
    version: u32,
    tracks: Vec<(TrackKey, Track)>,
}

/// What one evaluation produced, committed at its end.
#[derive(Debug)]
struct Pass {
    recorded_at: i64,
    records: Vec<AlertRecord>,
    outbox: Vec<(Destination, Notification)>,
    changed: bool,
}

impl Pass {
    fn new() -> Self {
        Pass {
            recorded_at: wall_ms(),
            records: Vec::new(),
            outbox: Vec::new(),
            changed: false,
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    evaluations: AtomicU64,
    query_failures: AtomicU64,
    /// By event name.
    events: Mutex<BTreeMap<&'static str, u64>>,
}

/// Service-level alerting for every tenant of this process (see the module docs of
/// [`crate::alerts`]).
#[derive(Debug)]
pub struct Alerting {
    config: AlertsConfig,
    live: Arc<LiveView>,
    rules: Mutex<LoadedRules>,
    book: Mutex<Book>,
    history: Arc<HistoryWriter>,
    deliverer: Deliverer,
    /// Records of recent notifications by delivery id, to write a failed delivery
    /// with its alert's facts (bounded).
    sent: Arc<Mutex<VecDeque<(String, AlertRecord)>>>,
    counters: Arc<Counters>,
}

const SENT_KEPT: usize = 4096;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Alerting {
    /// Opens the rules file (none: no rules), the saved tracks and the history.
    ///
    /// # Errors
    /// The rules file does not parse or check (every problem listed), or a file cannot
    /// be read or created.
    pub fn open(config: AlertsConfig, live: Arc<LiveView>) -> Result<Arc<Self>, AlertError> {
        let (file, modified) = read_rules(&config.rules_file)?;
        let set = RuleSet::check(&file)
            .map_err(|e| AlertError::Invalid(format!("{}: {e}", config.rules_file.display())))?;
        let mut book = Book::default();
        match fs::read(&config.state_file) {
            Ok(bytes) => {
                let saved: SavedState = serde_json::from_slice(&bytes).map_err(|e| {
                    AlertError::Invalid(format!("{}: {e}", config.state_file.display()))
                })?;
                book.tracks = saved.tracks.into_iter().collect();
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(AlertError::Io {
                    context: format!("reading {}", config.state_file.display()),
                    source,
                });
            }
        }
        for rule in &set.rules {
            book.rules.insert(
                (rule.spec.tenant.clone(), rule.spec.id.clone()),
                rule.clone(),
            );
        }
        let history = Arc::new(HistoryWriter::open(config.history_file.clone()).map_err(
            |source| AlertError::Io {
                context: format!("opening {}", config.history_file.display()),
                source,
            },
        )?);
        let sent: Arc<Mutex<VecDeque<(String, AlertRecord)>>> = Arc::default();
        let counters = Arc::new(Counters::default());
        let on_failure = {
            let (history, sent, counters) = (
                Arc::clone(&history),
                Arc::clone(&sent),
                Arc::clone(&counters),
            );
            Arc::new(move |failure: DeliveryFailure| {
                let record = failed_delivery(&lock(&sent), failure);
                *lock(&counters.events).entry("delivery_failed").or_default() += 1;
                if let Err(e) = history.append(&[record]) {
                    tracing::error!("alerts: writing the history: {e}");
                }
            })
        };
        let deliverer = Deliverer::new(config.delivery, on_failure);
        Ok(Arc::new(Self {
            rules: Mutex::new(LoadedRules {
                file,
                set: Arc::new(set),
                modified,
                error: None,
            }),
            book: Mutex::new(book),
            history,
            deliverer,
            sent,
            counters,
            config,
            live,
        }))
    }

    /// Evaluates on every publication of the live view (and once a second, to pick
    /// up an edited rules file) until `shutdown`.
    ///
    /// Rules read with SQL ([`Metric::needs_query`]) run through `engine` every
    /// [`AlertsConfig::query_every`] and as soon as a tenant's clock enters a new
    /// 15-minute interval (the interval close); without an engine they are not
    /// evaluated.
    pub async fn run(
        self: Arc<Self>,
        settings: Arc<crate::settings::SettingsStore>,
        engine: Option<Arc<QueryEngine>>,
        shutdown: CancellationToken,
    ) {
        let mut changes = self.live.subscribe();
        let mut timer = tokio::time::interval(Duration::from_secs(1));
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut queried_at: Option<tokio::time::Instant> = None;
        let mut intervals: BTreeMap<String, i64> = BTreeMap::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return },
                _ = timer.tick() => {}
            }
            let config = settings.current();
            self.evaluate(&config);
            let Some(engine) = &engine else { continue };
            let now_intervals: BTreeMap<String, i64> = tenant_clocks(&self.live)
                .into_iter()
                .map(|(tenant, clock)| (tenant, interval_start(clock)))
                .collect();
            let due = queried_at.is_none_or(|at| at.elapsed() >= self.config.query_every)
                || now_intervals != intervals;
            if due {
                queried_at = Some(tokio::time::Instant::now());
                intervals = now_intervals;
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = self.evaluate_queries(&config, engine) => {}
                }
            }
        }
    }

    /// One evaluation of every enabled rule read with SQL, at each tenant's clock. A
    /// query that fails is logged and counted (`ccpulse_alert_query_failures_total`);
    /// its rule keeps its state.
    pub async fn evaluate_queries(&self, config: &FoldConfig, engine: &QueryEngine) {
        let set = self.rule_set();
        let clocks = tenant_clocks(&self.live);
        let tenants: BTreeSet<&str> = set
            .rules
            .iter()
            .filter(|r| r.spec.enabled && r.metric.needs_query(r.window))
            .map(|r| r.spec.tenant.as_str())
            .collect();
        for tenant in tenants {
            let Some(&as_of) = clocks.get(tenant) else {
                continue;
            };
            let settings = config.tenant(tenant);
            let scope = TenantScope::new(tenant.to_owned(), settings.timezone);
            let mut results = Vec::new();
            for rule in set.rules.iter().filter(|r| {
                r.spec.tenant == tenant && r.spec.enabled && r.metric.needs_query(r.window)
            }) {
                let sql = query::statement(rule, settings, as_of);
                match engine
                    .sql(&scope, &sql)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|output| rows(&output))
                {
                    Ok(rows) => results.push((rule, query::readings(rule, settings, &rows))),
                    Err(error) => {
                        self.counters.query_failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "alerts: rule `{}` of tenant `{tenant}`: the query failed: {error}",
                            rule.spec.id
                        );
                    }
                }
            }
            let mut pass = Pass::new();
            let mut book = lock(&self.book);
            for (rule, readings) in results {
                self.apply(&mut book, &set, rule, as_of, readings, &mut pass);
            }
            book.queried.insert(tenant.to_owned(), as_of);
            self.commit(book, pass);
        }
    }

    /// The checked rules (re-read first when the file changed on disk).
    pub fn rule_set(&self) -> Arc<RuleSet> {
        let mut rules = lock(&self.rules);
        self.reload(&mut rules);
        Arc::clone(&rules.set)
    }

    /// The problems of the rules file on disk, when its last read failed.
    pub fn file_error(&self) -> Option<String> {
        lock(&self.rules).error.clone()
    }

    fn reload(&self, rules: &mut LoadedRules) {
        let modified = fs::metadata(&self.config.rules_file)
            .and_then(|m| m.modified())
            .ok();
        if modified == rules.modified {
            return;
        }
        rules.modified = modified;
        let checked = read_rules(&self.config.rules_file).and_then(|(file, _)| {
            RuleSet::check(&file)
                .map(|set| (file, set))
                .map_err(|e| AlertError::Invalid(e.to_string()))
        });
        match checked {
            Ok((file, set)) => {
                tracing::info!(
                    "alerts: {} rules from {}",
                    set.rules.len(),
                    self.config.rules_file.display()
                );
                rules.file = file;
                rules.set = Arc::new(set);
                rules.error = None;
            }
            Err(e) => {
                tracing::error!(
                    "alerts: {} has errors, keeping the previous rules: {e}",
                    self.config.rules_file.display()
                );
                rules.error = Some(e.to_string());
            }
        }
    }

    /// One evaluation of every enabled rule, at each tenant's data clock.
    pub fn evaluate(&self, config: &FoldConfig) {
        self.counters.evaluations.fetch_add(1, Ordering::Relaxed);
        let set = self.rule_set();
        let mut pass = Pass::new();
        let mut book = lock(&self.book);
        pass.changed = self.end_changed_rules(&mut book, &set, pass.recorded_at, &mut pass.records);
        let clocks = tenant_clocks(&self.live);
        let tenants: BTreeSet<&str> = set.rules.iter().map(|r| r.spec.tenant.as_str()).collect();
        for tenant in tenants {
            let Some(&as_of) = clocks.get(tenant) else {
                continue;
            };
            book.evaluated.insert(tenant.to_owned(), as_of);
            let settings = config.tenant(tenant);
            let queues: Vec<QueueView> = self
                .live
                .queue_live(Some(tenant))
                .iter()
                .map(|row| QueueView::new(row, settings))
                .collect();
            let agents: Vec<AgentView> = self
                .live
                .agent_live(Some(tenant))
                .iter()
                .map(AgentView::new)
                .collect();
            for rule in set.rules.iter().filter(|r| {
                r.spec.tenant == tenant && r.spec.enabled && !r.metric.needs_query(r.window)
            }) {
                let readings = evaluate::readings(rule, settings, &queues, &agents, as_of);
                self.apply(&mut book, &set, rule, as_of, readings, &mut pass);
            }
        }
        self.commit(book, pass);
    }

    /// Applies one rule's readings at `as_of` (its tenant's clock) to its tracks: the
    /// subjects read, and the open tracks whose subject was not.
    fn apply(
        &self,
        book: &mut Book,
        set: &RuleSet,
        rule: &Rule,
        as_of: i64,
        readings: Vec<Reading>,
        pass: &mut Pass,
    ) {
        let tenant = rule.spec.tenant.as_str();
        let mut readings: BTreeMap<Subject, Observation> = readings
            .into_iter()
            .map(|r| (r.subject, r.observation))
            .collect();
        // Open tracks whose subject is gone this time: an agent no longer in the
        // state reads 0; anything else has no data.
        for (key, track) in &book.tracks {
            if key.tenant_id == tenant && key.rule_id == rule.spec.id && track.state != State::Ok {
                let missing = if rule.metric == Metric::TimeInStateS {
                    Observation::Value {
                        value: 0.0,
                        volume: None,
                    }
                } else {
                    Observation::NoData {
                        value: None,
                        volume: None,
                    }
                };
                readings.entry(key.subject()).or_insert(missing);
            }
        }
        for (subject, observation) in readings {
            let key = TrackKey {
                tenant_id: tenant.to_owned(),
                rule_id: rule.spec.id.clone(),
                subject_kind: subject.kind.to_owned(),
                subject_id: subject.id.clone(),
            };
            let track = book.tracks.entry(key.clone()).or_default();
            let before = track.clone();
            let steps = track.step(rule, observation, as_of);
            if track.state != State::Ok && track.alert_id.is_none() {
                track.alert_id = Some(key.new_alert_id(as_of));
            }
            let after = track.clone();
            if after.state == State::Ok && after.snoozed_until.is_none() {
                book.tracks.remove(&key);
            }
            if steps.is_empty() {
                continue;
            }
            pass.changed = true;
            for change in steps {
                let (record, sends) = self.transition(
                    rule,
                    &key,
                    &before,
                    &after,
                    change,
                    as_of,
                    pass.recorded_at,
                    set,
                );
                pass.records.push(record);
                pass.outbox.extend(sends);
            }
        }
    }

    /// Ends an evaluation: the history first, then the open tracks, then the
    /// notifications, so a record exists before anyone hears of it.
    fn commit(&self, book: MutexGuard<'_, Book>, pass: Pass) {
        let Pass {
            records,
            outbox,
            changed,
            ..
        } = pass;
        self.record(&records);
        if changed {
            self.save(&book);
        }
        drop(book);
        for (destination, notification) in outbox {
            self.deliverer.send(&destination, notification);
        }
        if changed {
            self.live.notify();
        }
    }

    /// Ends the open alerts of rules that were changed, disabled or deleted (recorded,
    /// not notified).
    fn end_changed_rules(
        &self,
        book: &mut Book,
        set: &RuleSet,
        recorded_at: i64,
        records: &mut Vec<AlertRecord>,
    ) -> bool {
        let current: BTreeMap<(String, String), &RuleSpec> = set
            .rules
            .iter()
            .map(|r| ((r.spec.tenant.clone(), r.spec.id.clone()), &r.spec))
            .collect();
        let stale: Vec<(String, String)> = book
            .rules
            .iter()
            .filter(|(key, old)| {
                current
                    .get(*key)
                    .is_none_or(|now| **now != old.spec || !now.enabled)
            })
            .map(|(key, _)| key.clone())
            .collect();
        let clocks = tenant_clocks(&self.live);
        let mut changed = false;
        for (tenant, rule_id) in &stale {
            let old = book.rules.remove(&(tenant.clone(), rule_id.clone()));
            let keys: Vec<TrackKey> = book
                .tracks
                .keys()
                .filter(|k| k.tenant_id == *tenant && k.rule_id == *rule_id)
                .cloned()
                .collect();
            for key in keys {
                let Some(track) = book.tracks.remove(&key) else {
                    continue;
                };
                changed = true;
                let (Some(rule), State::Pending | State::Firing) = (&old, track.state) else {
                    continue;
                };
                let at = clocks.get(tenant.as_str()).copied().unwrap_or(recorded_at);
                let mut record = base_record(rule, &key, &track, at, recorded_at);
                record.event = "resolved".into();
                record.state = "ok".into();
                record.reason = Some("rule_changed".into());
                record.message = format!(
                    "{}: ended on {} because the rule was changed, disabled or deleted",
                    rule.name(),
                    key.subject().describe()
                );
                records.push(record);
            }
        }
        for rule in &set.rules {
            if rule.spec.enabled {
                book.rules
                    .entry((rule.spec.tenant.clone(), rule.spec.id.clone()))
                    .or_insert_with(|| rule.clone());
            }
        }
        changed
    }

    /// The record of one change, and the notifications to send once it is written.
    #[allow(clippy::too_many_arguments)]
    fn transition(
        &self,
        rule: &Rule,
        key: &TrackKey,
        before: &Track,
        after: &Track,
        change: Change,
        at: i64,
        recorded_at: i64,
        set: &RuleSet,
    ) -> (AlertRecord, Vec<(Destination, Notification)>) {
        // A resolved or cancelled episode is described by the track it ended.
        let episode = if after.state == State::Ok {
            before
        } else {
            after
        };
        let mut record = base_record(rule, key, episode, at, recorded_at);
        record.event = change.event().into();
        record.state = after.state.as_str().into();
        record.value = after.value;
        record.volume = after.volume;
        if let Change::Resolved(reason) = change {
            record.reason = Some(reason.as_str().into());
        }
        record.message = message(rule, &key.subject(), change, episode, after.value);
        let recovery = matches!(change, Change::Resolved(_));
        let wanted = change.notifies()
            && (rule.spec.notify_recovery || !recovery)
            && !after.snoozed(at)
            && !before.snoozed(at);
        let destinations: Vec<_> = rule
            .spec
            .notify
            .iter()
            .filter_map(|id| set.destination(&key.tenant_id, id))
            .collect();
        record.notified = wanted && !destinations.is_empty();
        let mut sends = Vec::new();
        if record.notified {
            let view = AlertView::new(rule, &record, episode, change);
            for destination in destinations {
                let delivery_id = format!(
                    "{}-{}-{}-{}",
                    record.alert_id,
                    change.event(),
                    at,
                    destination.id
                );
                {
                    let mut sent = lock(&self.sent);
                    if sent.len() == SENT_KEPT {
                        sent.pop_front();
                    }
                    let mut template = record.clone();
                    template.destination_id = Some(destination.id.clone());
                    sent.push_back((delivery_id.clone(), template));
                }
                sends.push((
                    destination.clone(),
                    Notification {
                        delivery_id,
                        tenant_id: key.tenant_id.clone(),
                        alert_id: record.alert_id.clone(),
                        rule_id: rule.spec.id.clone(),
                        event: change.event().into(),
                        body: serde_json::json!({
                            "type": "ccpulse.alert",
                            "version": 1,
                            "event": change.event(),
                            "tenant_id": key.tenant_id,
                            "occurred_at": time_text(at),
                            "message": record.message,
                            "alert": view,
                        }),
                        text: record.message.clone(),
                        severity: (!matches!(change, Change::Resolved(_)))
                            .then(|| record.severity.clone())
                            .flatten(),
                    },
                ));
            }
        }
        (record, sends)
    }

    /// Appends `records` to the history and counts them.
    fn record(&self, records: &[AlertRecord]) {
        if !records.is_empty() {
            let mut events = lock(&self.counters.events);
            for record in records {
                let name = EVENT_NAMES
                    .iter()
                    .find(|n| **n == record.event)
                    .copied()
                    .unwrap_or("other");
                *events.entry(name).or_default() += 1;
            }
        }
        if let Err(e) = self.history.append(records) {
            tracing::error!("alerts: writing {}: {e}", self.history.path().display());
        }
    }

    fn save(&self, book: &Book) {
        let saved = SavedState {
            version: 1,
            tracks: book
                .tracks
                .iter()
                .filter(|(_, t)| t.state != State::Ok || t.snoozed_until.is_some())
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&saved).unwrap_or_default();
        if let Some(parent) = self.config.state_file.parent() {
            let _ = fs::create_dir_all(parent);
        }
        if let Err((action, path, e)) = crate::file::replace(&self.config.state_file, &bytes, false)
        {
            tracing::error!("alerts: {action} {}: {e}", path.display());
        }
    }

    /// The data time `tenant`'s rules were last evaluated at (UTC ms).
    pub fn evaluated_as_of(&self, tenant: &str) -> Option<i64> {
        lock(&self.book).evaluated.get(tenant).copied()
    }

    /// The data time `tenant`'s rules read with SQL were last evaluated at (UTC ms).
    pub fn queried_as_of(&self, tenant: &str) -> Option<i64> {
        lock(&self.book).queried.get(tenant).copied()
    }

    /// The caller's tenant's open (pending or firing) alerts it may see, by id.
    ///
    /// Called for every stream message: it reads the book only (each open alert with
    /// the rule it was evaluated under), never the rules file.
    pub fn active(&self, principal: &Principal) -> Vec<AlertView> {
        let book = lock(&self.book);
        let mut views: Vec<AlertView> = book
            .tracks
            .iter()
            .filter(|(key, track)| key.tenant_id == principal.tenant_id && track.state != State::Ok)
            .filter(|(key, _)| visible(principal, key))
            .filter_map(|(key, track)| {
                let rule = book.rule(key)?;
                Some(AlertView::of_track(
                    rule,
                    &key.subject(),
                    track.alert_id.as_deref()?,
                    track,
                ))
            })
            .collect();
        views.sort_by(|a, b| a.alert_id.cmp(&b.alert_id));
        views
    }

    /// Acknowledges a firing alert: no more reminders for this episode.
    ///
    /// # Errors
    /// Unknown (or not visible) alert; an alert still pending.
    pub fn acknowledge(
        &self,
        principal: &Principal,
        alert_id: &str,
    ) -> Result<AlertView, AlertError> {
        self.act(principal, alert_id, |track, at| {
            if track.state != State::Firing {
                return Err(AlertError::Conflict(format!(
                    "alert `{alert_id}` is pending, not firing: there is nothing to acknowledge yet"
                )));
            }
            if track.acknowledged_by.is_some() {
                return Ok(None);
            }
            track.acknowledged_by = Some(principal.name.clone());
            track.acknowledged_at = Some(at);
            Ok(Some(("acknowledged", None)))
        })
    }

    /// Holds back every notification of the alert's rule on its subject for
    /// `minutes` of the data's clock (0: ends a snooze).
    ///
    /// # Errors
    /// Unknown alert; minutes over a week.
    pub fn snooze(
        &self,
        principal: &Principal,
        alert_id: &str,
        minutes: u32,
    ) -> Result<AlertView, AlertError> {
        if minutes > 7 * 24 * 60 {
            return Err(AlertError::Invalid(
                "`minutes` must be at most 10080 (a week)".into(),
            ));
        }
        self.act(principal, alert_id, |track, at| {
            track.snoozed_until = (minutes > 0).then(|| at + i64::from(minutes) * 60_000);
            Ok(Some((
                "snoozed",
                Some(if minutes == 0 {
                    "snooze ended".to_owned()
                } else {
                    format!("for {minutes} min")
                }),
            )))
        })
    }

    /// Finds the caller's open alert `alert_id`, applies `act`, and records and saves
    /// what it did (`None`: nothing changed).
    fn act(
        &self,
        principal: &Principal,
        alert_id: &str,
        act: impl FnOnce(&mut Track, i64) -> Result<Option<(&'static str, Option<String>)>, AlertError>,
    ) -> Result<AlertView, AlertError> {
        let not_found = || {
            AlertError::NotFound(format!(
                "no open alert `{alert_id}` (it may have resolved: see the `alerts` table)"
            ))
        };
        let mut guard = lock(&self.book);
        let book = &mut *guard;
        let key = book
            .tracks
            .iter()
            .find(|(key, track)| {
                key.tenant_id == principal.tenant_id
                    && track.state != State::Ok
                    && track.alert_id.as_deref() == Some(alert_id)
            })
            .map(|(key, _)| key.clone())
            .filter(|key| visible(principal, key))
            .ok_or_else(not_found)?;
        // Disjoint fields: the rule is read while the track is changed.
        let rule = book
            .rules
            .get(&(key.tenant_id.clone(), key.rule_id.clone()))
            .ok_or_else(not_found)?;
        let at = tenant_clocks(&self.live)
            .get(key.tenant_id.as_str())
            .copied()
            .unwrap_or_else(wall_ms);
        let track = book.tracks.get_mut(&key).ok_or_else(not_found)?;
        let Some((event, detail)) = act(track, at)? else {
            return Ok(AlertView::of_track(rule, &key.subject(), alert_id, track));
        };
        let track = track.clone();
        let mut record = base_record(rule, &key, &track, at, wall_ms());
        record.event = event.into();
        record.state = track.state.as_str().into();
        record.actor = Some(principal.name.clone());
        record.message = format!(
            "{}: {} by {} on {}{}",
            rule.name(),
            event,
            principal.name,
            key.subject().describe(),
            detail.map(|d| format!(" ({d})")).unwrap_or_default()
        );
        self.record(&[record]);
        self.save(book);
        let view = AlertView::of_track(rule, &key.subject(), alert_id, &track);
        drop(guard);
        self.live.notify();
        Ok(view)
    }

    /// The rules of `tenant` the caller may see, and the file's problems when its last
    /// read failed.
    pub fn rules_of(&self, principal: &Principal) -> (Vec<RuleSpec>, Option<String>) {
        let mut rules = lock(&self.rules);
        self.reload(&mut rules);
        let specs = rules
            .file
            .rules
            .iter()
            .filter(|r| r.tenant == principal.tenant_id && rule_visible(principal, r))
            .cloned()
            .collect();
        (specs, rules.error.clone())
    }

    /// Creates or replaces rule `spec.id` of `spec.tenant`; true when created.
    ///
    /// # Errors
    /// The rule does not check (400), the file on disk has errors (409), or it cannot
    /// be written.
    pub fn put_rule(&self, spec: RuleSpec) -> Result<bool, AlertError> {
        self.edit_rules(|file| {
            let slot = file
                .rules
                .iter_mut()
                .find(|r| r.tenant == spec.tenant && r.id == spec.id);
            Ok(match slot {
                Some(slot) => {
                    *slot = spec;
                    false
                }
                None => {
                    file.rules.push(spec);
                    true
                }
            })
        })
    }

    /// Deletes rule `id` of `tenant`.
    ///
    /// # Errors
    /// No such rule (404), the file on disk has errors (409), or it cannot be written.
    pub fn delete_rule(&self, tenant: &str, id: &str) -> Result<RuleSpec, AlertError> {
        self.edit_rules(|file| {
            let at = file
                .rules
                .iter()
                .position(|r| r.tenant == tenant && r.id == id)
                .ok_or_else(|| AlertError::NotFound(format!("no alert rule `{id}`")))?;
            Ok(file.rules.remove(at))
        })
    }

    fn edit_rules<T>(
        &self,
        edit: impl FnOnce(&mut RulesFile) -> Result<T, AlertError>,
    ) -> Result<T, AlertError> {
        let mut rules = lock(&self.rules);
        self.reload(&mut rules);
        if let Some(error) = &rules.error {
            return Err(AlertError::Conflict(format!(
                "the rules file {} has errors; fix it before changing rules through the API: {error}",
                self.config.rules_file.display()
            )));
        }
        let mut file = rules.file.clone();
        let answer = edit(&mut file)?;
        let set = RuleSet::check(&file)
            .map_err(|RuleErrors(errors)| AlertError::Invalid(errors.join("; ")))?;
        let text = toml::to_string(&file)
            .map_err(|e| AlertError::Invalid(format!("writing the rules as TOML: {e}")))?;
        let text = format!("{RULES_FILE_HEADER}{text}");
        if let Some(parent) = self.config.rules_file.parent() {
            fs::create_dir_all(parent).map_err(|source| AlertError::Io {
                context: format!("creating {}", parent.display()),
                source,
            })?;
        }
        crate::file::replace(&self.config.rules_file, text.as_bytes(), true).map_err(
            |(action, path, source)| AlertError::Io {
                context: format!("{action} {}", path.display()),
                source,
            },
        )?;
        rules.modified = fs::metadata(&self.config.rules_file)
            .and_then(|m| m.modified())
            .ok();
        rules.file = file;
        rules.set = Arc::new(set);
        drop(rules);
        self.live.notify();
        Ok(answer)
    }

    /// Deliveries not yet done (tests, `/metrics`).
    pub fn deliveries_pending(&self) -> usize {
        self.deliverer.pending()
    }

    /// Appends alerting's families to a `/metrics` page.
    pub fn render_metrics(&self, out: &mut String) {
        family(
            out,
            "ccpulse_alert_evaluations_total",
            "counter",
            "Evaluations of the alert rules (one per live publication or second).",
        );
        let _ = writeln!(
            out,
            "ccpulse_alert_evaluations_total {}",
            self.counters.evaluations.load(Ordering::Relaxed)
        );
        family(
            out,
            "ccpulse_alert_query_failures_total",
            "counter",
            "Queries of rules read with SQL that failed (the rule keeps its state).",
        );
        let _ = writeln!(
            out,
            "ccpulse_alert_query_failures_total {}",
            self.counters.query_failures.load(Ordering::Relaxed)
        );
        family(
            out,
            "ccpulse_alert_events_total",
            "counter",
            "Alert history records by event (firing, resolved, delivery_failed, ...).",
        );
        for (event, count) in lock(&self.counters.events).iter() {
            let _ = writeln!(
                out,
                "ccpulse_alert_events_total{{event=\"{event}\"}} {count}"
            );
        }
        family(
            out,
            "ccpulse_alerts_active",
            "gauge",
            "Open alerts by state and severity.",
        );
        let mut active: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for track in lock(&self.book).tracks.values() {
            if track.state != State::Ok {
                let severity = track.severity.map_or("none", |s| s.as_str());
                *active.entry((track.state.as_str(), severity)).or_default() += 1;
            }
        }
        for ((state, severity), count) in active {
            let _ = writeln!(
                out,
                "ccpulse_alerts_active{{state=\"{state}\",severity=\"{severity}\"}} {count}"
            );
        }
        family(
            out,
            "ccpulse_alert_deliveries_total",
            "counter",
            "Webhook and Slack deliveries by tenant, destination and outcome (delivered, retried, failed, dropped).",
        );
        for row in self.deliverer.stats() {
            let _ = writeln!(
                out,
                "ccpulse_alert_deliveries_total{{tenant=\"{}\",destination=\"{}\",outcome=\"{}\"}} {}",
                crate::metrics::escape(&row.tenant_id),
                crate::metrics::escape(&row.destination_id),
                row.outcome,
                row.count
            );
        }
        family(
            out,
            "ccpulse_alert_rules_file_errors",
            "gauge",
            "1 while the rules file on disk has errors (the previous rules stay in force).",
        );
        let _ = writeln!(
            out,
            "ccpulse_alert_rules_file_errors {}",
            u8::from(self.file_error().is_some())
        );
    }
}

/// Every event name of the history, for the metric's label.
const EVENT_NAMES: [&str; 9] = [
    "pending",
    "cancelled",
    "firing",
    "escalated",
    "reminder",
    "resolved",
    "acknowledged",
    "snoozed",
    "delivery_failed",
];

const RULES_FILE_HEADER: &str = "# ccpulse alert rules and destinations (README, \"Alerting\").\n# Written by the API; hand edits are picked up within a second (comments are not kept\n# when the API writes the file).\n\n";

/// Reads and checks the rules file at `path` (none: no rules), as `serve` would at
/// start; `ccpulse config check` reports it.
///
/// # Errors
/// The file cannot be read, does not parse, or does not check (every problem listed).
pub fn check_rules_file(path: &Path) -> Result<RuleSet, AlertError> {
    let (file, _) = read_rules(path)?;
    RuleSet::check(&file).map_err(|e| AlertError::Invalid(format!("{}: {e}", path.display())))
}

fn read_rules(path: &Path) -> Result<(RulesFile, Option<SystemTime>), AlertError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((RulesFile::default(), None)),
        Err(source) => {
            return Err(AlertError::Io {
                context: format!("reading {}", path.display()),
                source,
            });
        }
    };
    let modified = fs::metadata(path).and_then(|m| m.modified()).ok();
    let file = toml::from_str(&text)
        .map_err(|e| AlertError::Invalid(format!("{}: {e}", path.display())))?;
    Ok((file, modified))
}

/// The rows of a query's answer as JSON objects.
fn rows(output: &QueryOutput) -> Result<Vec<query::Row>, String> {
    let bytes = crate::views::rows_json(output)?;
    serde_json::from_slice(&bytes).map_err(|e| format!("reading the rows: {e}"))
}

/// Each tenant's data clock: its latest event time over the partitions this process
/// owns.
fn tenant_clocks(live: &LiveView) -> BTreeMap<String, i64> {
    let mut clocks: BTreeMap<String, i64> = BTreeMap::new();
    for partition in live.partitions().into_iter().filter(|p| p.owned) {
        for (tenant, as_of) in partition.as_of {
            let clock = clocks.entry(tenant).or_insert(as_of);
            *clock = (*clock).max(as_of);
        }
    }
    clocks
}

/// Whether a queue-limited supervisor sees alerts on this subject: queues of its
/// scope only.
fn visible(principal: &Principal, key: &TrackKey) -> bool {
    match &principal.queues {
        None => true,
        Some(queues) => key.subject_kind == "queue" && queues.contains(&key.subject_id),
    }
}

/// Whether a queue-limited supervisor sees (and may change) a rule: one naming only
/// queues of its scope.
pub(crate) fn rule_visible(principal: &Principal, spec: &RuleSpec) -> bool {
    match &principal.queues {
        None => true,
        Some(queues) => {
            !spec.scope.queues.is_empty()
                && spec.scope.queues.iter().all(|q| queues.contains(q))
                && spec.scope.team.is_none()
                && spec.scope.agent.is_none()
        }
    }
}

/// The facts every record of an episode shares.
fn base_record(
    rule: &Rule,
    key: &TrackKey,
    track: &Track,
    at: i64,
    recorded_at: i64,
) -> AlertRecord {
    let subject = key.subject();
    AlertRecord {
        tenant_id: key.tenant_id.clone(),
        alert_id: track.alert_id.clone().unwrap_or_default(),
        rule_id: rule.spec.id.clone(),
        rule_name: rule.name().to_owned(),
        event: String::new(),
        state: track.state.as_str().into(),
        severity: track.severity.map(|s| s.as_str().into()),
        subject_kind: subject.kind.into(),
        queue_id: subject.queue_id().map(str::to_owned),
        subject_id: subject.id,
        metric: rule.metric.name(),
        window: rule.window_name(),
        comparison: rule.spec.comparison.as_str().into(),
        value: track.value,
        threshold: Some(rule.threshold(track.severity.unwrap_or(super::rule::Severity::Warning))),
        volume: track.volume,
        reason: None,
        destination_id: None,
        notified: false,
        actor: None,
        message: String::new(),
        occurred_at: at,
        recorded_at,
    }
}

/// The one line a person reads.
fn message(
    rule: &Rule,
    subject: &Subject,
    change: Change,
    episode: &Track,
    value: Option<f64>,
) -> String {
    let metric = rule.metric;
    let what = if rule.metric.has_window() {
        format!("{} ({})", metric.describe(), rule.window.describe())
    } else {
        metric.describe()
    };
    let shown = value.map_or("no data".to_owned(), |v| metric.format(v));
    let severity = episode.severity.unwrap_or(super::rule::Severity::Warning);
    let threshold = metric.format(rule.threshold(severity));
    let subject = subject.describe();
    let name = rule.name();
    let comparison = rule.spec.comparison.as_str();
    match change {
        Change::Pending => {
            format!("{name}: {what} {shown} is {comparison} {threshold} on {subject} (pending)")
        }
        Change::Cancelled => format!("{name}: {what} back to {shown} on {subject} before firing"),
        Change::Firing | Change::Escalated => format!(
            "{name}: {} {what} {shown} is {comparison} {threshold} on {subject}",
            severity.as_str().to_uppercase()
        ),
        Change::Reminder => format!(
            "{name}: still {} {what} {shown} is {comparison} {threshold} on {subject}",
            severity.as_str()
        ),
        Change::Resolved(reason) => match reason {
            super::lifecycle::ResolveReason::Cleared => format!(
                "{name}: RESOLVED {what} {shown} on {subject} (clears at {})",
                metric.format(rule.clear)
            ),
            super::lifecycle::ResolveReason::OutsideBusinessHours => {
                format!("{name}: RESOLVED on {subject}: outside business hours")
            }
            super::lifecycle::ResolveReason::RuleChanged => {
                format!("{name}: ended on {subject}: the rule changed")
            }
        },
    }
}

/// The history record of a failed delivery.
fn failed_delivery(
    sent: &VecDeque<(String, AlertRecord)>,
    failure: DeliveryFailure,
) -> AlertRecord {
    let recorded_at = wall_ms();
    let found = sent
        .iter()
        .rev()
        .find(|(id, _)| *id == failure.delivery_id)
        .map(|(_, record)| record.clone());
    let mut record = found.unwrap_or_else(|| AlertRecord {
        tenant_id: failure.tenant_id.clone(),
        alert_id: failure.alert_id.clone(),
        rule_id: failure.rule_id.clone(),
        rule_name: failure.rule_id.clone(),
        event: String::new(),
        state: String::new(),
        severity: None,
        subject_kind: String::new(),
        subject_id: String::new(),
        queue_id: None,
        metric: String::new(),
        window: String::new(),
        comparison: String::new(),
        value: None,
        threshold: None,
        volume: None,
        reason: None,
        destination_id: None,
        notified: false,
        actor: None,
        message: String::new(),
        occurred_at: recorded_at,
        recorded_at,
    });
    record.message = format!(
        "{}: delivery of `{}` to `{}` failed after {} attempt(s): {}",
        record.rule_name, failure.event, failure.destination_id, failure.attempts, failure.error
    );
    record.event = "delivery_failed".into();
    record.reason = Some(failure.error);
    record.destination_id = Some(failure.destination_id);
    record.notified = false;
    record.recorded_at = recorded_at;
    record
}
