//! Saving and restoring a [`Fold`]: the state blob of a partition's checkpoint.
//!
//! # What is saved
//! Only what cannot be recomputed: per tenant the clocks (`max_seen`, `finalized_to`),
//! the event ids seen (for dedupe), the duplicates counted, the final queue measures of
//! recent intervals (the live view's "today"), every interaction's events still in
//! memory (as much of each as the fold keeps: the fields derivation reads, see
//! `record`), and each agent timeline's base (status, open span, presence events,
//! retired activities); plus the fold's counters. Everything derived from events (generations,
//! stamped measures, activities, the due index) is re-derived on restore by the same
//! code that derived it the first time, so a restored fold continues exactly where the
//! saved one was: the property tests check that tables with a save and restore after
//! every batch equal the uninterrupted run's.
//!
//! # Format
//! JSON (`serde_json`), versioned by [`STATE_VERSION`], maps written in sorted order so
//! the same state gives the same bytes. Events are embedded as their canonical JSON
//! ([`Event::write_json`]; an interaction's events with only the fields the fold kept,
//! which still make a valid event) and decoded again on restore (with twice the contract's size
//! limit: the canonical form of an accepted event may be a few bytes longer than the
//! message). The store adds the length and
//! checksum around it. A blob of another version is refused with
//! [`StateError::Version`]: the partition must then be re-ingested from the topic.
//!
//! The configuration is not saved: a restored fold uses the configuration it is given.
//! Settings that changed in between (a queue's threshold, a time zone) apply to what is
//! derived after the restore, including the provisional tail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::common::HashMap;

use ccpulse_schemas::v1::{
    Channel, Direction, EventFamily, MAX_EVENT_BYTES, Presence, decode_with_limit,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::agent::{AgentTimeline, Status};
use super::interaction::{Activity, ActivityKind};
use super::record::{Id, Interner, Record};
use super::rows::{QueueInterval, QueueKey, Tables};
use super::{EffectiveState, Fold, FoldConfig, FoldStats, InteractionState, TenantFold};

/// The version of the saved-state format.
pub const STATE_VERSION: u32 = 1;

/// Why a saved state could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not JSON of the expected shape.
    #[error("the saved aggregator state is not readable: {0}")]
    Parse(#[from] serde_json::Error),
    /// Written by another version of the format.
    #[error(
        "the saved aggregator state has format version {found}, this build reads version {STATE_VERSION}; re-ingest the partition from the topic"
    )]
    Version {
        /// The version found.
        found: u32,
    },
    /// An embedded event that does not decode.
    #[error("the saved aggregator state holds an invalid event of tenant {tenant}: {reason}")]
    Event {
        /// Its tenant.
        tenant: String,
        /// The decoder's message.
        reason: String,
    },
    /// A value out of its domain (an unknown channel, state or activity).
    #[error("the saved aggregator state holds an unknown {what} {value:?}")]
    Value {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedFold {
    version: u32,
    by_type: BTreeMap<String, u64>,
    duplicates: u64,
    too_late: u64,
    final_anomalies: BTreeMap<String, u64>,
    tenants: Vec<SavedTenant>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedTenant {
    tenant_id: String,
    max_seen: i64,
    finalized_to: i64,
    duplicates: u64,
    seen_pruned_len: usize,
    /// Event id → event time, sorted by id.
    seen: BTreeMap<String, i64>,
    recent_queue: Vec<SavedQueueInterval>,
    /// Interaction id → its events, sorted by id.
    interactions: BTreeMap<String, Vec<Box<RawValue>>>,
    agents: BTreeMap<String, SavedAgent>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedQueueInterval {
    queue_id: String,
    channel: String,
    direction: String,
    interval_start: i64,
    sl_threshold_ms: i64,
    measures: super::measures::QueueMeasures,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedAgent {
    base_at: i64,
    logged_in: bool,
    presence: Option<(String, Option<String>)>,
    queues: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    channels: Vec<String>,
    open_span: Option<(SavedState, i64)>,
    events: Vec<Box<RawValue>>,
    retired: Vec<SavedActivity>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    state: String,
    reason: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedActivity {
    agent: String,
    kind: String,
    start: i64,
    end: Option<i64>,
}

impl Fold {
    /// Takes the final rows not taken yet (as [`Fold::take_final`] does) and serialises
    /// the rest of the state: what a checkpoint writes, rows first. Restoring the bytes
    /// with [`Fold::restore`] gives a fold that continues exactly as this one would.
    pub fn checkpoint(&mut self) -> (Tables, Vec<u8>) {
        let rows = self.take_final();
        (rows, self.save())
    }

    /// The state without the pending final rows (see [`Fold::checkpoint`]).
    fn save(&self) -> Vec<u8> {
        let saved = SavedFold {
            version: STATE_VERSION,
            by_type: self.stats.by_type.clone(),
            duplicates: self.stats.duplicates,
            too_late: self.stats.too_late,
            final_anomalies: self.stats.final_anomalies.clone(),
            tenants: self.tenants.values().map(save_tenant).collect(),
        };
        // Serialising owned strings, numbers and pre-validated raw JSON cannot fail.
        serde_json::to_vec(&saved).unwrap_or_default()
    }

    /// A fold continuing from `bytes` (from [`Fold::checkpoint`]) under `config`.
    ///
    /// # Errors
    /// [`StateError`] when the bytes are not a saved state of this format version.
    pub fn restore(config: Arc<FoldConfig>, bytes: &[u8]) -> Result<Self, StateError> {
        // Check the version before the shape, so an old blob gets the clear message.
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let VersionOnly { version } = serde_json::from_slice(bytes)?;
        if version != STATE_VERSION {
            return Err(StateError::Version { found: version });
        }
        let saved: SavedFold = serde_json::from_slice(bytes)?;
        let mut fold = Fold::new(Arc::clone(&config));
        fold.stats = FoldStats {
            by_type: saved.by_type,
            duplicates: saved.duplicates,
            too_late: saved.too_late,
            final_anomalies: saved.final_anomalies,
        };
        for tenant in saved.tenants {
            let restored = restore_tenant(&config, tenant)?;
            fold.tenants.insert(restored.tenant_id.clone(), restored);
        }
        Ok(fold)
    }
}

fn raw_events(
    events: impl Iterator<Item = ccpulse_schemas::v1::Event<'static>>,
) -> Vec<Box<RawValue>> {
    events
        .filter_map(|event| RawValue::from_string(event.to_json()).ok())
        .collect()
}

fn save_tenant(tenant: &TenantFold) -> SavedTenant {
    let interactions = tenant
        .interactions
        .iter()
        .map(|(id, state)| {
            let events = state
                .events
                .iter()
                .map(|record| record.to_event(&tenant.tenant_id, id));
            (id.to_string(), raw_events(events))
        })
        .collect();
    let agents = tenant
        .agents
        .iter()
        .map(|(id, timeline)| (id.clone(), save_agent(timeline)))
        .collect();
    SavedTenant {
        tenant_id: tenant.tenant_id.clone(),
        max_seen: tenant.max_seen,
        finalized_to: tenant.finalized_to,
        duplicates: tenant.duplicates,
        seen_pruned_len: tenant.seen_pruned_len,
        seen: tenant
            .seen
            .iter()
            .map(|(id, at)| (id.to_string(), *at))
            .collect(),
        recent_queue: tenant
            .recent_queue
            .iter()
            .map(|(key, value)| SavedQueueInterval {
                queue_id: key.queue_id.clone(),
                channel: key.channel.as_str().to_owned(),
                direction: key.direction.as_str().to_owned(),
                interval_start: key.interval_start,
                sl_threshold_ms: value.sl_threshold_ms,
                measures: value.measures.clone(),
            })
            .collect(),
        interactions,
        agents,
    }
}

fn save_agent(timeline: &AgentTimeline) -> SavedAgent {
    SavedAgent {
        base_at: timeline.base_at,
        logged_in: timeline.status.logged_in,
        presence: timeline
            .status
            .presence
            .as_ref()
            .map(|(presence, reason)| (presence.as_str().to_owned(), reason.clone())),
        queues: timeline.status.queues.clone(),
        team_id: timeline.status.team_id.clone(),
        channels: timeline.status.channels.clone(),
        open_span: timeline.open_span.as_ref().map(|(state, start)| {
            (
                SavedState {
                    state: state.name().to_owned(),
                    reason: state.reason().map(str::to_owned),
                },
                *start,
            )
        }),
        events: raw_events(timeline.events.iter().cloned()),
        retired: timeline
            .retired
            .iter()
            .map(|activity| SavedActivity {
                agent: activity.agent.to_string(),
                kind: activity_kind_name(activity.kind).to_owned(),
                start: activity.start,
                end: activity.end,
            })
            .collect(),
    }
}

fn restore_tenant(config: &FoldConfig, saved: SavedTenant) -> Result<TenantFold, StateError> {
    let mut tenant = TenantFold::new(&saved.tenant_id);
    tenant.max_seen = saved.max_seen;
    tenant.finalized_to = saved.finalized_to;
    tenant.duplicates = saved.duplicates;
    tenant.seen_pruned_len = saved.seen_pruned_len;
    tenant.seen = saved
        .seen
        .into_iter()
        .map(|(id, at)| (Id::from(id), at))
        .collect::<HashMap<_, _>>();
    for entry in saved.recent_queue {
        let key = QueueKey {
            tenant_id: saved.tenant_id.clone(),
            queue_id: entry.queue_id,
            channel: parse(Channel::parse, "channel", &entry.channel)?,
            direction: parse(Direction::parse, "direction", &entry.direction)?,
            interval_start: entry.interval_start,
        };
        let value = QueueInterval {
            measures: entry.measures,
            sl_threshold_ms: entry.sl_threshold_ms,
        };
        tenant.recent_queue.insert(key, value);
    }
    // Agents first: re-deriving the interactions adds their activities to the timelines.
    for (agent_id, agent) in saved.agents {
        let timeline = restore_agent(&saved.tenant_id, agent, &mut tenant.ids)?;
        tenant.agents.insert(agent_id, timeline);
    }
    let ids: BTreeSet<String> = saved.interactions.keys().cloned().collect();
    for (id, events) in saved.interactions {
        let events = decode_events(&saved.tenant_id, &events)?
            .iter()
            .map(|event| {
                let family = event
                    .event_type
                    .known()
                    .map(|known| (known, known.family()));
                match family {
                    Some((known, EventFamily::Interaction | EventFamily::Dialer)) => {
                        // The id the dedupe map holds, so that both share one copy.
                        let event_id = match tenant.seen.get_key_value(event.event_id.as_ref()) {
                            Some((id, _)) => Id::clone(id),
                            None => Id::from(event.event_id.as_ref()),
                        };
                        Ok(Record::new(event, event_id, known, &mut tenant.ids))
                    }
                    _ => Err(StateError::Value {
                        what: "interaction event type",
                        value: event.event_type.as_str().to_owned(),
                    }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let id = Id::from(id);
        let state = InteractionState::new(Id::clone(&id), events);
        tenant.interactions.insert(id, state);
    }
    let finalized_to = tenant.finalized_to;
    for id in ids {
        tenant.refresh(config, &id, finalized_to);
    }
    Ok(tenant)
}

fn restore_agent(
    tenant_id: &str,
    saved: SavedAgent,
    ids: &mut Interner,
) -> Result<AgentTimeline, StateError> {
    let presence = match saved.presence {
        Some((name, reason)) => Some((parse(Presence::parse, "presence", &name)?, reason)),
        None => None,
    };
    let open_span = match saved.open_span {
        Some((state, start)) => Some((effective_state(state)?, start)),
        None => None,
    };
    let retired = saved
        .retired
        .into_iter()
        .map(|activity| {
            Ok(Activity {
                agent: ids.id(&activity.agent),
                kind: activity_kind(&activity.kind)?,
                start: activity.start,
                end: activity.end,
            })
        })
        .collect::<Result<Vec<_>, StateError>>()?;
    Ok(AgentTimeline {
        base_at: saved.base_at,
        status: Status {
            logged_in: saved.logged_in,
            presence,
            queues: saved.queues,
            team_id: saved.team_id,
            channels: saved.channels,
        },
        open_span,
        events: decode_events(tenant_id, &saved.events)?,
        activities: HashMap::new(),
        retired,
    })
}

fn decode_events(
    tenant_id: &str,
    events: &[Box<RawValue>],
) -> Result<Vec<ccpulse_schemas::v1::Event<'static>>, StateError> {
    events
        .iter()
        .map(|raw| {
            // Canonical JSON can be a little longer than the accepted original.
            decode_with_limit(raw.get().as_bytes(), 2 * MAX_EVENT_BYTES)
                .map(ccpulse_schemas::v1::Event::into_owned)
                .map_err(|rejection| StateError::Event {
                    tenant: tenant_id.to_owned(),
                    reason: rejection.to_string(),
                })
        })
        .collect()
}

fn parse<T>(
    parser: impl Fn(&str) -> Option<T>,
    what: &'static str,
    value: &str,
) -> Result<T, StateError> {
    parser(value).ok_or_else(|| StateError::Value {
        what,
        value: value.to_owned(),
    })
}

fn effective_state(saved: SavedState) -> Result<EffectiveState, StateError> {
    Ok(match saved.state.as_str() {
        "available" => EffectiveState::Available,
        "alerting" => EffectiveState::Alerting,
        "interacting" => EffectiveState::Interacting,
        "after_contact_work" => EffectiveState::AfterContactWork,
        "away" => EffectiveState::Away(saved.reason),
        "offline" => EffectiveState::Offline,
        _ => {
            return Err(StateError::Value {
                what: "agent state",
                value: saved.state,
            });
        }
    })
}

fn activity_kind_name(kind: ActivityKind) -> &'static str {
    match kind {
        ActivityKind::Alerting => "alerting",
        ActivityKind::Interacting => "interacting",
        ActivityKind::AfterContactWork => "after_contact_work",
    }
}

fn activity_kind(name: &str) -> Result<ActivityKind, StateError> {
    parse(
        |name| match name {
            "alerting" => Some(ActivityKind::Alerting),
            "interacting" => Some(ActivityKind::Interacting),
            "after_contact_work" => Some(ActivityKind::AfterContactWork),
            _ => None,
        },
        "activity",
        name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccpulse_schemas::v1::decode;

    /// An accepted message of exactly the size limit with a timestamp without
    /// milliseconds: its canonical form is longer than the limit, and must still restore.
    #[test]
    fn an_event_at_the_size_limit_survives_a_restore() {
        let head = r#"{"schema_version":1,"event_id":"e1","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-20T09:00:00Z","interaction_id":"i1","queue_id":"q","pad":""#;
        let tail = r#""}"#;
        let pad = "x".repeat(MAX_EVENT_BYTES - head.len() - tail.len());
        let message = format!("{head}{pad}{tail}");
        assert_eq!(message.len(), MAX_EVENT_BYTES);
        let event = decode(message.as_bytes()).expect("accepted at the limit");
        assert!(event.to_json().len() > MAX_EVENT_BYTES);

        let config = Arc::new(FoldConfig::default());
        let mut fold = Fold::new(Arc::clone(&config));
        fold.apply(&event);
        let (_, state) = fold.checkpoint();
        let mut restored = Fold::restore(config, &state).expect("restores");
        assert_eq!(restored.queue_live(), fold.queue_live());
        assert_eq!(restored.queue_live()[0].waiting_now, 1);
    }

    /// The agent's team and channels (from its login) are live, and survive a
    /// checkpoint: a restored fold shows the same `agent_live` rows.
    #[test]
    fn team_and_channels_of_a_login_survive_a_restore() {
        let lines = [
            r#"{"schema_version":1,"event_id":"e1","tenant_id":"acme","type":"agent.logged_in","occurred_at":"2026-11-20T09:00:00.000Z","agent_id":"a-1","queues":["sales"],"capacity":{"voice":1,"chat":3},"team_id":"t-north"}"#,
            r#"{"schema_version":1,"event_id":"e2","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-20T09:01:00.000Z","interaction_id":"i1","channel":"chat","direction":"inbound","queue_id":"sales"}"#,
        ];
        let config = Arc::new(FoldConfig::default());
        let mut fold = Fold::new(Arc::clone(&config));
        for line in lines {
            fold.apply(&decode(line.as_bytes()).unwrap());
        }
        let agents = fold.agent_live();
        assert_eq!(agents[0].team_id.as_deref(), Some("t-north"));
        assert_eq!(agents[0].channels, ["chat", "voice"]);
        assert_eq!(fold.queue_live()[0].channels, ["chat"]);
        let (_, state) = fold.checkpoint();
        let mut restored = Fold::restore(config, &state).expect("restores");
        assert_eq!(restored.agent_live(), fold.agent_live());
        assert_eq!(restored.queue_live(), fold.queue_live());
    }

    /// New settings apply to the events folded after them: the live service level of a
    /// queue follows its new formula.
    #[test]
    fn set_config_applies_to_the_next_figures() {
        use ccpulse_schemas::metrics::SlFormula;
        let lines = [
            r#"{"schema_version":1,"event_id":"e1","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-20T09:00:00.000Z","interaction_id":"i1","channel":"voice","direction":"inbound","queue_id":"sales"}"#,
            r#"{"schema_version":1,"event_id":"e2","tenant_id":"acme","type":"interaction.abandoned","occurred_at":"2026-11-20T09:00:02.000Z","interaction_id":"i1","channel":"voice","direction":"inbound","queue_id":"sales"}"#,
            r#"{"schema_version":1,"event_id":"e3","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-20T09:01:00.000Z","interaction_id":"i2","channel":"voice","direction":"inbound","queue_id":"sales"}"#,
            r#"{"schema_version":1,"event_id":"e4","tenant_id":"acme","type":"interaction.answered","occurred_at":"2026-11-20T09:01:05.000Z","interaction_id":"i2","channel":"voice","direction":"inbound","queue_id":"sales","agent_id":"a-1"}"#,
        ];
        let mut fold = Fold::new(Arc::new(FoldConfig::default()));
        for line in lines {
            fold.apply(&decode(line.as_bytes()).unwrap());
        }
        // abandons_count: 1 answered within T over 1 answered + 1 abandoned.
        assert_eq!(fold.queue_live()[0].today.service_level, Some(0.5));
        let mut changed = FoldConfig::default();
        changed.default_tenant.queue_defaults.sl_formula = Some(SlFormula::Answered);
        fold.set_config(Arc::new(changed));
        assert_eq!(
            fold.config().tenant("acme").queue("sales").sl_formula,
            SlFormula::Answered
        );
        assert_eq!(fold.queue_live()[0].today.service_level, Some(1.0));
    }
}
