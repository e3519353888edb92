//! `interactions`: one row per queue visit ([`InteractionRow`]).

use std::sync::Arc;

use ccpulse_schemas::v1::{Channel, Direction};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::columns::{
    Reader, booleans, int64s, optional_int64s, optional_strings, optional_timestamps, strings,
    timestamp_type,
};
use super::error::TablesError;
use super::{INTERACTIONS, OUTCOMES};
use crate::fold::rows::InteractionRow;

/// The schema of `interactions`: metrics.md's columns, in its order.
pub fn interactions_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let int64 = |name: &str| Field::new(name, DataType::Int64, true);
    let timestamp = |name: &str| Field::new(name, timestamp_type(), true);
    Arc::new(Schema::new(vec![
        utf8("tenant_id", false),
        utf8("interaction_id", false),
        Field::new("visit", DataType::Int64, false),
        utf8("queue_id", true),
        utf8("channel", false),
        utf8("direction", false),
        utf8("campaign_id", true),
        utf8("agent_id", true),
        timestamp("queued_at"),
        timestamp("answered_at"),
        timestamp("abandoned_at"),
        timestamp("flowed_out_at"),
        timestamp("conversation_ended_at"),
        timestamp("wrapup_completed_at"),
        utf8("outcome", false),
        int64("wait_ms"),
        int64("talk_ms"),
        int64("hold_ms"),
        int64("hold_count"),
        int64("acw_ms"),
        int64("handle_ms"),
        Field::new("transferred", DataType::Boolean, false),
        utf8("disposition", true),
        int64("csat"),
        Field::new("in_business_hours", DataType::Boolean, false),
    ]))
}

/// `rows` as one batch of [`interactions_schema`].
pub(super) fn to_batch(rows: &[InteractionRow]) -> Result<RecordBatch, ArrowError> {
    let columns = vec![
        strings(rows.iter().map(|r| r.tenant_id.as_str())),
        strings(rows.iter().map(|r| r.interaction_id.as_str())),
        int64s(rows.iter().map(|r| i64::from(r.visit))),
        optional_strings(rows.iter().map(|r| r.queue_id.as_deref())),
        strings(rows.iter().map(|r| r.channel)),
        strings(rows.iter().map(|r| r.direction)),
        optional_strings(rows.iter().map(|r| r.campaign_id.as_deref())),
        optional_strings(rows.iter().map(|r| r.agent_id.as_deref())),
        optional_timestamps(rows.iter().map(|r| r.queued_at)),
        optional_timestamps(rows.iter().map(|r| r.answered_at)),
        optional_timestamps(rows.iter().map(|r| r.abandoned_at)),
        optional_timestamps(rows.iter().map(|r| r.flowed_out_at)),
        optional_timestamps(rows.iter().map(|r| r.conversation_ended_at)),
        optional_timestamps(rows.iter().map(|r| r.wrapup_completed_at)),
        strings(rows.iter().map(|r| r.outcome)),
        optional_int64s(rows.iter().map(|r| r.wait_ms)),
        optional_int64s(rows.iter().map(|r| r.talk_ms)),
        optional_int64s(rows.iter().map(|r| r.hold_ms)),
        optional_int64s(rows.iter().map(|r| r.hold_count)),
        optional_int64s(rows.iter().map(|r| r.acw_ms)),
        optional_int64s(rows.iter().map(|r| r.handle_ms)),
        booleans(rows.iter().map(|r| r.transferred)),
        optional_strings(rows.iter().map(|r| r.disposition.as_deref())),
        optional_int64s(rows.iter().map(|r| r.csat.map(i64::from))),
        booleans(rows.iter().map(|r| r.in_business_hours)),
    ];
    RecordBatch::try_new(interactions_schema(), columns)
}

/// Appends the rows of `batch` to `rows`.
pub(super) fn read(batch: &RecordBatch, rows: &mut Vec<InteractionRow>) -> Result<(), TablesError> {
    let r = Reader::new(INTERACTIONS.name, batch);
    let tenant_id = r.string("tenant_id")?;
    let interaction_id = r.string("interaction_id")?;
    let visit = r.int64("visit")?;
    let queue_id = r.string("queue_id")?;
    let channel = r.string("channel")?;
    let direction = r.string("direction")?;
    let campaign_id = r.string("campaign_id")?;
    let agent_id = r.string("agent_id")?;
    let queued_at = r.timestamp("queued_at")?;
    let answered_at = r.timestamp("answered_at")?;
    let abandoned_at = r.timestamp("abandoned_at")?;
    let flowed_out_at = r.timestamp("flowed_out_at")?;
    let conversation_ended_at = r.timestamp("conversation_ended_at")?;
    let wrapup_completed_at = r.timestamp("wrapup_completed_at")?;
    let outcome = r.string("outcome")?;
    let wait_ms = r.int64("wait_ms")?;
    let talk_ms = r.int64("talk_ms")?;
    let hold_ms = r.int64("hold_ms")?;
    let hold_count = r.int64("hold_count")?;
    let acw_ms = r.int64("acw_ms")?;
    let handle_ms = r.int64("handle_ms")?;
    let transferred = r.boolean("transferred")?;
    let disposition = r.string("disposition")?;
    let csat = r.int64("csat")?;
    let in_business_hours = r.boolean("in_business_hours")?;
    rows.reserve(batch.num_rows());
    for row in r.rows() {
        rows.push(InteractionRow {
            tenant_id: tenant_id.value(row)?.to_owned(),
            interaction_id: interaction_id.value(row)?.to_owned(),
            visit: visit.value_as(row)?,
            queue_id: queue_id.optional_owned(row),
            channel: channel.one_of(row, Channel::NAMES)?,
            direction: direction.one_of(row, Direction::NAMES)?,
            campaign_id: campaign_id.optional_owned(row),
            agent_id: agent_id.optional_owned(row),
            queued_at: queued_at.optional(row),
            answered_at: answered_at.optional(row),
            abandoned_at: abandoned_at.optional(row),
            flowed_out_at: flowed_out_at.optional(row),
            conversation_ended_at: conversation_ended_at.optional(row),
            wrapup_completed_at: wrapup_completed_at.optional(row),
            outcome: outcome.one_of(row, &OUTCOMES)?,
            wait_ms: wait_ms.optional(row),
            talk_ms: talk_ms.optional(row),
            hold_ms: hold_ms.optional(row),
            hold_count: hold_count.optional(row),
            acw_ms: acw_ms.optional(row),
            handle_ms: handle_ms.optional(row),
            transferred: transferred.value(row)?,
            disposition: disposition.optional_owned(row),
            csat: csat.optional_as(row)?,
            in_business_hours: in_business_hours.value(row)?,
        });
    }
    Ok(())
}
