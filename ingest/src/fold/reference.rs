//! The reference fold: obviously correct and slow. It takes every event at once,
//! drops duplicates, sorts them in the canonical order and derives every table in one
//! pass, with no horizon, no incremental state and nothing forgotten. The incremental
//! [`Fold`](super::Fold) must give the same tables (final plus provisional) for the
//! same events in any arrival order within the allowed lateness; a property test
//! checks it on simulator traffic.

use std::collections::{BTreeMap, HashSet};

use ccpulse_schemas::v1::{Event, EventFamily};

use super::agent::AgentTimeline;
use super::record::{Id, Interner, Record};
use super::rows::Tables;
use super::{FoldConfig, StampedMeasures, agent_output, interaction, order, visit_rows};

/// Folds `events` (in any order, duplicates allowed) into the complete tables as of
/// each tenant's latest event.
pub fn fold_all(events: &[Event<'_>], config: &FoldConfig) -> Tables {
    let mut seen = HashSet::new();
    let mut by_tenant: BTreeMap<&str, Vec<Event<'static>>> = BTreeMap::new();
    let mut duplicates: BTreeMap<&str, u64> = BTreeMap::new();
    for event in events {
        if seen.insert((event.tenant_id.as_ref(), event.event_id.as_ref())) {
            by_tenant
                .entry(event.tenant_id.as_ref())
                .or_default()
                .push(event.clone().into_owned());
        } else {
            *duplicates.entry(event.tenant_id.as_ref()).or_default() += 1;
        }
    }
    let mut tables = Tables::default();
    for (tenant_id, mut events) in by_tenant {
        events.sort_by(|a, b| order::key(a).cmp(&order::key(b)));
        let settings = config.tenant(tenant_id);
        let as_of = events
            .iter()
            .map(|e| e.occurred_at)
            .max()
            .unwrap_or(i64::MIN);

        let mut ids = Interner::default();
        let mut interactions: BTreeMap<String, Vec<Record>> = BTreeMap::new();
        let mut agents: BTreeMap<String, AgentTimeline> = BTreeMap::new();
        for event in events {
            let Some(known) = event.event_type.known() else {
                continue;
            };
            match known.family() {
                EventFamily::Agent => {
                    let agent = event.agent_id.as_deref().unwrap_or_default().to_owned();
                    agents
                        .entry(agent)
                        .or_insert_with(|| AgentTimeline::new(i64::MIN))
                        .events
                        .push(event);
                }
                EventFamily::Interaction | EventFamily::Dialer => {
                    let id = event
                        .interaction_id
                        .as_deref()
                        .unwrap_or_default()
                        .to_owned();
                    let event_id = Id::from(&*event.event_id);
                    let record = Record::new(&event, event_id, known, &mut ids);
                    interactions.entry(id).or_default().push(record);
                }
            }
        }
        let mut measures = StampedMeasures::default();
        for (id, events) in &interactions {
            let generations = interaction::derive(events, config.windows(), &|queue, at| {
                settings.in_business_hours(queue, at)
            });
            for generation in &generations {
                measures.add(settings, generation, i64::MIN, as_of.saturating_add(1));
                tables
                    .interactions
                    .extend(visit_rows(tenant_id, id, generation));
                for activity in &generation.activities {
                    agents
                        .entry(activity.agent.to_string())
                        .or_insert_with(|| AgentTimeline::new(i64::MIN))
                        .retired
                        .push(activity.clone());
                }
            }
        }
        measures.flush_into(tenant_id, &mut tables);
        for (agent_id, timeline) in &agents {
            agent_output(
                tenant_id,
                agent_id,
                timeline.provisional(as_of),
                &mut tables,
            );
        }
        if let Some(&count) = duplicates.get(tenant_id) {
            *tables
                .anomalies
                .entry("duplicate_event_id".to_owned())
                .or_default() += count;
        }
    }
    tables.sort();
    tables
}
