//! `queue_live` and `agent_live`: the live observations ([`QueueLive`], [`AgentLive`]) as
//! flat Arrow tables, so SQL can read them like the other tables (columns in the
//! [module docs](super)).
//!
//! They are gauges of one moment, never written to Parquet: the query layer gets them
//! as in-memory batches built from the [`LiveView`](crate::aggregate::LiveView) at each
//! snapshot.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, ListBuilder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::columns::{
    counts, int64s, optional_float64s, optional_int64s, optional_strings, optional_timestamps,
    strings, timestamp_type, timestamps,
};
use crate::fold::EffectiveState;
use crate::fold::live::{AgentLive, LiveSummary, QueueLive};

/// The SQL name of the queue observations.
pub const QUEUE_LIVE: &str = "queue_live";
/// The SQL name of the agent observations.
pub const AGENT_LIVE: &str = "agent_live";

/// The column prefixes of the two [`LiveSummary`] periods of a [`QueueLive`] row.
const PERIODS: [&str; 2] = ["today", "interval"];

/// `agents_<state>` for every effective state, in [`EffectiveState::NAMES`] order.
fn agent_state_columns() -> impl Iterator<Item = (&'static str, String)> {
    EffectiveState::NAMES
        .iter()
        .map(|state| (*state, format!("agents_{state}")))
}

/// The schema of `queue_live` (see the [module docs](super) for each column).
pub fn queue_live_schema() -> SchemaRef {
    let int64 = |name: &str| Field::new(name, DataType::Int64, false);
    let mut fields = vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("queue_id", DataType::Utf8, false),
        Field::new("as_of", timestamp_type(), false),
        int64("waiting_now"),
        Field::new("oldest_queued_at", timestamp_type(), true),
        Field::new("oldest_wait_ms", DataType::Int64, true),
    ];
    fields.extend(agent_state_columns().map(|(_, name)| int64(&name)));
    fields.push(int64("in_progress"));
    for period in PERIODS {
        fields.extend([
            Field::new(format!("{period}_start"), timestamp_type(), false),
            int64(&format!("{period}_offered")),
            int64(&format!("{period}_answered")),
            int64(&format!("{period}_abandoned")),
            int64(&format!("{period}_flowed_out")),
            Field::new(format!("{period}_service_level"), DataType::Float64, true),
            Field::new(format!("{period}_asa_ms"), DataType::Float64, true),
            Field::new(format!("{period}_abandon_rate"), DataType::Float64, true),
        ]);
    }
    Arc::new(Schema::new(fields))
}

/// `rows` as one batch of [`queue_live_schema`].
///
/// # Errors
/// [`ArrowError::InvalidArgumentError`] for a count above `i64::MAX`.
pub fn queue_live_batch(rows: &[QueueLive]) -> Result<RecordBatch, ArrowError> {
    let table = QUEUE_LIVE;
    let mut columns: Vec<ArrayRef> = vec![
        strings(rows.iter().map(|r| r.tenant_id.as_str())),
        strings(rows.iter().map(|r| r.queue_id.as_str())),
        timestamps(rows.iter().map(|r| r.as_of)),
        counts(table, "waiting_now", rows.iter().map(|r| r.waiting_now))?,
        optional_timestamps(rows.iter().map(|r| r.oldest_queued_at)),
        optional_int64s(rows.iter().map(|r| r.oldest_wait_ms)),
    ];
    for (state, name) in agent_state_columns() {
        // The fold counts every state of `NAMES` and no other; a missing one is 0.
        let values = rows
            .iter()
            .map(|r| r.agents.get(state).copied().unwrap_or(0));
        columns.push(counts(table, &name, values)?);
    }
    columns.push(counts(
        table,
        "in_progress",
        rows.iter().map(|r| r.in_progress),
    )?);
    let periods: [fn(&QueueLive) -> &LiveSummary; 2] = [|r| &r.today, |r| &r.current_interval];
    for (prefix, period) in PERIODS.into_iter().zip(periods) {
        let summaries = || rows.iter().map(period);
        let count = |suffix: &str, get: fn(&LiveSummary) -> u64| {
            counts(table, &format!("{prefix}_{suffix}"), summaries().map(get))
        };
        columns.extend([
            timestamps(summaries().map(|s| s.period_start)),
            count("offered", |s| s.offered)?,
            count("answered", |s| s.answered)?,
            count("abandoned", |s| s.abandoned)?,
            count("flowed_out", |s| s.flowed_out)?,
            optional_float64s(summaries().map(|s| s.service_level)),
            optional_float64s(summaries().map(|s| s.asa_ms)),
            optional_float64s(summaries().map(|s| s.abandon_rate)),
        ]);
    }
    RecordBatch::try_new(queue_live_schema(), columns)
}

fn queue_item_field() -> Field {
    Field::new_list_field(DataType::Utf8, false)
}

/// The schema of `agent_live` (see the [module docs](super) for each column).
pub fn agent_live_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("agent_id", DataType::Utf8, false),
        Field::new("as_of", timestamp_type(), false),
        Field::new("state", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
        Field::new("since", timestamp_type(), false),
        Field::new("time_in_state_ms", DataType::Int64, false),
        Field::new(
            "queues",
            DataType::List(Arc::new(queue_item_field())),
            false,
        ),
        Field::new("team_id", DataType::Utf8, true),
    ]))
}

/// `rows` as one batch of [`agent_live_schema`].
///
/// # Errors
/// Only if a column disagrees with the schema, which would be a bug in this module.
pub fn agent_live_batch(rows: &[AgentLive]) -> Result<RecordBatch, ArrowError> {
    let mut queues = ListBuilder::new(StringBuilder::new()).with_field(queue_item_field());
    for row in rows {
        for queue in &row.queues {
            queues.values().append_value(queue);
        }
        queues.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        strings(rows.iter().map(|r| r.tenant_id.as_str())),
        strings(rows.iter().map(|r| r.agent_id.as_str())),
        timestamps(rows.iter().map(|r| r.as_of)),
        strings(rows.iter().map(|r| r.state)),
        optional_strings(rows.iter().map(|r| r.reason.as_deref())),
        timestamps(rows.iter().map(|r| r.since)),
        int64s(rows.iter().map(|r| r.as_of.saturating_sub(r.since))),
        Arc::new(queues.finish()),
        optional_strings(rows.iter().map(|r| r.team_id.as_deref())),
    ];
    RecordBatch::try_new(agent_live_schema(), columns)
}
