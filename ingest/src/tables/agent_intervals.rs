//! `agent_intervals`: the agent measures of one (tenant, agent, interval)
//! ([`AgentMeasures`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::AGENT_INTERVALS;
use super::columns::{
    Reader, counts, int_map_type, int_maps, int64s, strings, timestamp_type, timestamps,
};
use super::error::TablesError;
use crate::fold::measures::AgentMeasures;
use crate::fold::rows::AgentKey;

/// The schema of `agent_intervals`: the key, then every [`AgentMeasures`] field in its
/// order (see the [module docs](super)).
pub fn agent_intervals_schema() -> SchemaRef {
    let int64 = |name: &str| Field::new(name, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("agent_id", DataType::Utf8, false),
        Field::new("interval_start", timestamp_type(), false),
        int64("login_ms"),
        int64("available_ms"),
        int64("alerting_ms"),
        int64("interacting_ms"),
        int64("after_contact_work_ms"),
        int64("away_ms"),
        Field::new("away_by_reason", int_map_type(), false),
        int64("offline_ms"),
        int64("handled"),
        int64("talk_sum_ms"),
        int64("hold_sum_ms"),
        int64("acw_sum_ms"),
        int64("offers_missed"),
    ]))
}

/// `intervals` as one batch of [`agent_intervals_schema`].
pub(super) fn to_batch(
    intervals: &BTreeMap<AgentKey, AgentMeasures>,
) -> Result<RecordBatch, ArrowError> {
    let table = AGENT_INTERVALS.name;
    let keys = || intervals.keys();
    let ms = || intervals.values();
    let columns = vec![
        strings(keys().map(|k| k.tenant_id.as_str())),
        strings(keys().map(|k| k.agent_id.as_str())),
        timestamps(keys().map(|k| k.interval_start)),
        int64s(ms().map(|m| m.login_ms)),
        int64s(ms().map(|m| m.available_ms)),
        int64s(ms().map(|m| m.alerting_ms)),
        int64s(ms().map(|m| m.interacting_ms)),
        int64s(ms().map(|m| m.after_contact_work_ms)),
        int64s(ms().map(|m| m.away_ms)),
        int_maps(ms().map(|m| &m.away_by_reason))?,
        int64s(ms().map(|m| m.offline_ms)),
        counts(table, "handled", ms().map(|m| m.handled))?,
        int64s(ms().map(|m| m.talk_sum_ms)),
        int64s(ms().map(|m| m.hold_sum_ms)),
        int64s(ms().map(|m| m.acw_sum_ms)),
        counts(table, "offers_missed", ms().map(|m| m.offers_missed))?,
    ];
    RecordBatch::try_new(agent_intervals_schema(), columns)
}

/// Adds the rows of `batch` to `intervals`, merging rows of equal keys
/// ([`AgentMeasures::merge`]).
pub(super) fn read(
    batch: &RecordBatch,
    intervals: &mut BTreeMap<AgentKey, AgentMeasures>,
) -> Result<(), TablesError> {
    let r = Reader::new(AGENT_INTERVALS.name, batch);
    let tenant_id = r.string("tenant_id")?;
    let agent_id = r.string("agent_id")?;
    let interval_start = r.timestamp("interval_start")?;
    let login_ms = r.int64("login_ms")?;
    let available_ms = r.int64("available_ms")?;
    let alerting_ms = r.int64("alerting_ms")?;
    let interacting_ms = r.int64("interacting_ms")?;
    let after_contact_work_ms = r.int64("after_contact_work_ms")?;
    let away_ms = r.int64("away_ms")?;
    let away_by_reason = r.int_map("away_by_reason")?;
    let offline_ms = r.int64("offline_ms")?;
    let handled = r.int64("handled")?;
    let talk_sum_ms = r.int64("talk_sum_ms")?;
    let hold_sum_ms = r.int64("hold_sum_ms")?;
    let acw_sum_ms = r.int64("acw_sum_ms")?;
    let offers_missed = r.int64("offers_missed")?;
    for row in r.rows() {
        let key = AgentKey {
            tenant_id: tenant_id.value(row)?.to_owned(),
            agent_id: agent_id.value(row)?.to_owned(),
            interval_start: interval_start.value(row)?,
        };
        let measures = AgentMeasures {
            login_ms: login_ms.value(row)?,
            available_ms: available_ms.value(row)?,
            alerting_ms: alerting_ms.value(row)?,
            interacting_ms: interacting_ms.value(row)?,
            after_contact_work_ms: after_contact_work_ms.value(row)?,
            away_ms: away_ms.value(row)?,
            away_by_reason: away_by_reason.int_map(row)?,
            offline_ms: offline_ms.value(row)?,
            handled: handled.count(row)?,
            talk_sum_ms: talk_sum_ms.value(row)?,
            hold_sum_ms: hold_sum_ms.value(row)?,
            acw_sum_ms: acw_sum_ms.value(row)?,
            offers_missed: offers_missed.count(row)?,
        };
        intervals.entry(key).or_default().merge(&measures);
    }
    Ok(())
}
