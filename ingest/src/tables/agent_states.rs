//! `agent_states`: one row per effective-state span ([`AgentStateRow`]).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::AGENT_STATES;
use super::columns::{
    Reader, optional_int64s, optional_strings, optional_timestamps, strings, timestamp_type,
    timestamps,
};
use super::error::TablesError;
use crate::fold::EffectiveState;
use crate::fold::rows::AgentStateRow;

/// The schema of `agent_states`: metrics.md's columns, in its order.
pub fn agent_states_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("agent_id", DataType::Utf8, false),
        Field::new("state", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
        Field::new("started_at", timestamp_type(), false),
        Field::new("ended_at", timestamp_type(), true),
        Field::new("duration_ms", DataType::Int64, true),
    ]))
}

/// `rows` as one batch of [`agent_states_schema`].
pub(super) fn to_batch(rows: &[AgentStateRow]) -> Result<RecordBatch, ArrowError> {
    let columns = vec![
        strings(rows.iter().map(|r| r.tenant_id.as_str())),
        strings(rows.iter().map(|r| r.agent_id.as_str())),
        strings(rows.iter().map(|r| r.state)),
        optional_strings(rows.iter().map(|r| r.reason.as_deref())),
        timestamps(rows.iter().map(|r| r.started_at)),
        optional_timestamps(rows.iter().map(|r| r.ended_at)),
        optional_int64s(rows.iter().map(|r| r.duration_ms)),
    ];
    RecordBatch::try_new(agent_states_schema(), columns)
}

/// Appends the rows of `batch` to `rows`.
pub(super) fn read(batch: &RecordBatch, rows: &mut Vec<AgentStateRow>) -> Result<(), TablesError> {
    let r = Reader::new(AGENT_STATES.name, batch);
    let tenant_id = r.string("tenant_id")?;
    let agent_id = r.string("agent_id")?;
    let state = r.string("state")?;
    let reason = r.string("reason")?;
    let started_at = r.timestamp("started_at")?;
    let ended_at = r.timestamp("ended_at")?;
    let duration_ms = r.int64("duration_ms")?;
    rows.reserve(batch.num_rows());
    for row in r.rows() {
        rows.push(AgentStateRow {
            tenant_id: tenant_id.value(row)?.to_owned(),
            agent_id: agent_id.value(row)?.to_owned(),
            state: state.one_of(row, &EffectiveState::NAMES)?,
            reason: reason.optional_owned(row),
            started_at: started_at.value(row)?,
            ended_at: ended_at.optional(row),
            duration_ms: duration_ms.optional(row),
        });
    }
    Ok(())
}
