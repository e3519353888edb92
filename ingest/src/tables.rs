//! The derived SQL tables as Arrow: the fold's [`Tables`] to record batches for the store
//! ([`to_batches`]), and record batches back to [`Tables`] ([`from_batches`]); and the
//! live observations as Arrow ([`queue_live_batch`], [`agent_live_batch`]).
//!
//! Column names and types are part of the product's SQL interface (metrics.md, "SQL
//! tables"). Every table starts with `tenant_id`. Timestamps are
//! `Timestamp(Millisecond, "UTC")`, durations (`*_ms`) are `Int64` milliseconds, counters
//! are `Int64` (not `UInt64`: friendlier in SQL and BI tools), flags are `Boolean`. A
//! column is nullable only where its Rust field is an `Option`.
//!
//! # `interactions`: one row per queue visit
//!
//! | column | Arrow type | null when |
//! |---|---|---|
//! | `tenant_id`, `interaction_id` | `Utf8` | never |
//! | `visit` | `Int64`: 1 for the first queue visit of the interaction, then 2, ... | never |
//! | `queue_id`, `campaign_id`, `agent_id` | `Utf8` | unknown / not applicable |
//! | `channel`, `direction` | `Utf8`, contract defaults (`voice`, `inbound`) applied | never |
//! | `queued_at`, `answered_at`, `abandoned_at`, `flowed_out_at`, `conversation_ended_at`, `wrapup_completed_at` | `Timestamp(Millisecond, "UTC")` | not (yet) happened |
//! | `outcome` | `Utf8`: `answered`, `abandoned`, `flowed_out`, `in_queue` or `in_progress` | never |
//! | `wait_ms`, `talk_ms`, `hold_ms`, `acw_ms`, `handle_ms` | `Int64` ms | unknown or not yet known |
//! | `hold_count` | `Int64` | not yet known |
//! | `transferred`, `in_business_hours` | `Boolean` | never |
//! | `disposition` | `Utf8` | none given |
//! | `csat` | `Int64` (1–5) | no survey |
//!
//! The store files a row under the UTC date of `queued_at` (`date=unknown` without one).
//!
//! # `agent_states`: one row per effective-state span
//!
//! | column | Arrow type | null when |
//! |---|---|---|
//! | `tenant_id`, `agent_id` | `Utf8` | never |
//! | `state` | `Utf8`: `available`, `alerting`, `interacting`, `after_contact_work`, `away` or `offline` | never |
//! | `reason` | `Utf8`: the away reason | not away, or no reason given |
//! | `started_at` | `Timestamp(Millisecond, "UTC")` | never |
//! | `ended_at` | `Timestamp(Millisecond, "UTC")` | the span is still open |
//! | `duration_ms` | `Int64` ms | the span is still open |
//!
//! # `queue_intervals`: queue measures per (tenant, queue, channel, direction, 15 minutes)
//!
//! | column | Arrow type | null when |
//! |---|---|---|
//! | `tenant_id`, `queue_id`, `channel`, `direction` | `Utf8` | never |
//! | `interval_start` | `Timestamp(Millisecond, "UTC")`, UTC-aligned quarter hour | never |
//! | `offered`, `answered`, `abandoned`, `short_abandoned`, `flowed_out` | `Int64` | never |
//! | `<d>_count`, `<d>_sum_ms` for `<d>` in `answered_wait`, `abandoned_wait`, `talk`, `hold`, `acw`, `handle` | `Int64` (count; sum in ms) | never |
//! | `<d>_min_ms`, `<d>_max_ms` | `Int64` ms | `<d>_count` is 0 |
//! | `transfers`, `transfers_blind`, `transfers_consult` | `Int64` | never |
//! | `csat_responses`, `csat_sum`, `csat_satisfied` (scores 4–5) | `Int64` | never |
//! | `answered_within_sl`, `abandoned_within_sl` | `Int64`: waits ≤ `sl_threshold_ms` | never |
//! | `sl_threshold_ms` | `Int64` ms: the queue's threshold when the row was folded | never |
//! | `answered_wait_histogram`, `abandoned_wait_histogram` | `List<Int64>` (items non-null), see below | never |
//!
//! `hold_count` is the number of hold spans, not of held contacts. Each histogram has
//! exactly [`WAIT_BUCKETS`](ccpulse_schemas::metrics::WAIT_BUCKETS) (14) counts; bucket `i` counts waits `w` with
//! `WAIT_BUCKET_BOUNDS_MS[i − 1] < w ≤ WAIT_BUCKET_BOUNDS_MS[i]` (see
//! [`WAIT_BUCKET_BOUNDS_MS`](ccpulse_schemas::metrics::WAIT_BUCKET_BOUNDS_MS): 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600 s),
//! and the last bucket everything above 600 s. Answered within T for a bound T is a prefix
//! sum. In SQL (lists are 1-based): `answered_wait_histogram[1]` is waits ≤ 5 s.
//!
//! # `agent_intervals`: agent measures per (tenant, agent, 15 minutes)
//!
//! | column | Arrow type | null when |
//! |---|---|---|
//! | `tenant_id`, `agent_id` | `Utf8` | never |
//! | `interval_start` | `Timestamp(Millisecond, "UTC")` | never |
//! | `login_ms`, `available_ms`, `alerting_ms`, `interacting_ms`, `after_contact_work_ms`, `away_ms` | `Int64` ms | never |
//! | `away_by_reason` | `Map<Utf8, Int64>`: away reason → ms (values non-null) | never: an empty map when none |
//! | `offline_ms` | `Int64` ms | never |
//! | `handled` | `Int64` | never |
//! | `talk_sum_ms`, `hold_sum_ms`, `acw_sum_ms` | `Int64` ms | never |
//! | `offers_missed` | `Int64` | never |
//!
//! The map keeps Arrow's default field names (`entries`, `keys`, `values`) so DataFusion's
//! map functions (`away_by_reason['lunch']`, `map_keys`) work on it.
//!
//! # `campaign_intervals`: dialer measures per (tenant, campaign, 15 minutes)
//!
//! | column | Arrow type | null when |
//! |---|---|---|
//! | `tenant_id`, `campaign_id` | `Utf8` | never |
//! | `interval_start` | `Timestamp(Millisecond, "UTC")` | never |
//! | `attempts` | `Int64` | never |
//! | `result_human`, `result_machine`, `result_fax`, `result_bad_number`, `result_no_answer`, `result_busy`, `result_sit` | `Int64`: results by `result` | never |
//! | `dropped` | `Int64` | never |
//! | `preview_accept`, `preview_requeue`, `preview_reschedule`, `preview_snooze`, `preview_skip` | `Int64`: preview actions by `action` | never |
//!
//! # `queue_live`: live observations per (tenant, queue), never stored
//!
//! | column | Arrow type | null when |
//! |---|---|---|
//! | `tenant_id`, `queue_id` | `Utf8` | never |
//! | `as_of` | `Timestamp(Millisecond, "UTC")`: the tenant's latest event time (the fold's "now") | never |
//! | `waiting_now` | `Int64`: visits still in queue (alerting ones too) | never |
//! | `oldest_queued_at` | `Timestamp(Millisecond, "UTC")` | nothing waits |
//! | `oldest_wait_ms` | `Int64` ms: `as_of − oldest_queued_at` | nothing waits |
//! | `agents_available`, `agents_alerting`, `agents_interacting`, `agents_after_contact_work`, `agents_away`, `agents_offline` | `Int64`: logged-in agents serving the queue, by effective state (every state a column, 0 when none) | never |
//! | `in_progress` | `Int64`: answered visits not finished | never |
//! | `today_start` | `Timestamp(Millisecond, "UTC")`: midnight of `as_of`'s day in the tenant's time zone | never |
//! | `today_offered`, `today_answered`, `today_abandoned`, `today_flowed_out` | `Int64`, since `today_start` | never |
//! | `today_service_level` | `Float64` fraction (0.8 = 80 %), the queue's formula and threshold | empty denominator |
//! | `today_asa_ms` | `Float64` ms: average wait of answers with a known wait | no such answer |
//! | `today_abandon_rate` | `Float64` fraction: abandoned / (answered + abandoned + flowed_out) | none of those |
//! | `interval_start`, `interval_offered`, … `interval_abandon_rate` | the same eight for the 15-minute interval holding `as_of` | as for `today_` |
//!
//! # `agent_live`: live observations per (tenant, logged-in agent), never stored
//!
//! | column | Arrow type | null when |
//! |---|---|---|
//! | `tenant_id`, `agent_id` | `Utf8` | never |
//! | `as_of` | `Timestamp(Millisecond, "UTC")`: the tenant's latest event time | never |
//! | `state` | `Utf8`: the effective state, as in `agent_states` | never |
//! | `reason` | `Utf8`: the away reason | not away, or no reason given |
//! | `since` | `Timestamp(Millisecond, "UTC")`: start of the current state span | never |
//! | `time_in_state_ms` | `Int64` ms: `as_of − since` | never |
//! | `queues` | `List<Utf8>` (items non-null): the queues the agent serves | never: an empty list when none |
//!
//! # Additive rows
//!
//! The store holds interval rows as additive deltas: the final rows of each checkpoint plus
//! the current provisional tail sum to the whole, so a key may occur in several rows.
//! [`from_batches`] merges them with the measures' `merge`; SQL sums them with `GROUP BY`
//! (min and max with `MIN`/`MAX`).
//!
//! # Layout
//! - `interactions`, `agent_states`, `queue_intervals`, `agent_intervals`,
//!   `campaign_intervals`: one table each: its schema, writer and reader.
//! - `live`: `queue_live` and `agent_live`: schemas and batches of the live observations.
//! - `columns`: the shared column types, writers and the typed column reader.
//! - `error`: [`TablesError`].

mod agent_intervals;
mod agent_states;
mod campaign_intervals;
mod columns;
mod error;
mod interactions;
mod live;
mod queue_intervals;

#[cfg(test)]
mod tests;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::error::ArrowError;

use crate::fold::rows::Tables;
use crate::store::TableSpec;

pub use agent_intervals::agent_intervals_schema;
pub use agent_states::agent_states_schema;
pub use campaign_intervals::campaign_intervals_schema;
pub use error::TablesError;
pub use interactions::interactions_schema;
pub use live::{
    AGENT_LIVE, QUEUE_LIVE, agent_live_batch, agent_live_schema, queue_live_batch,
    queue_live_schema,
};
pub use queue_intervals::queue_intervals_schema;

/// The raw `events` table ([`events_schema`](ccpulse_schemas::v1::arrow::events_schema)).
pub const EVENTS: TableSpec = TableSpec {
    name: "events",
    tenant_column: "tenant_id",
    time_column: "occurred_at",
};

/// `interactions` ([`interactions_schema`]), filed by `queued_at`.
pub const INTERACTIONS: TableSpec = TableSpec {
    name: "interactions",
    tenant_column: "tenant_id",
    time_column: "queued_at",
};

/// `agent_states` ([`agent_states_schema`]), filed by `started_at`.
pub const AGENT_STATES: TableSpec = TableSpec {
    name: "agent_states",
    tenant_column: "tenant_id",
    time_column: "started_at",
};

/// `queue_intervals` ([`queue_intervals_schema`]), filed by `interval_start`.
pub const QUEUE_INTERVALS: TableSpec = TableSpec {
    name: "queue_intervals",
    tenant_column: "tenant_id",
    time_column: "interval_start",
};

/// `agent_intervals` ([`agent_intervals_schema`]), filed by `interval_start`.
pub const AGENT_INTERVALS: TableSpec = TableSpec {
    name: "agent_intervals",
    tenant_column: "tenant_id",
    time_column: "interval_start",
};

/// `campaign_intervals` ([`campaign_intervals_schema`]), filed by `interval_start`.
pub const CAMPAIGN_INTERVALS: TableSpec = TableSpec {
    name: "campaign_intervals",
    tenant_column: "tenant_id",
    time_column: "interval_start",
};

/// Every table derived by the fold, in the order [`to_batches`] returns them.
pub const DERIVED: [&TableSpec; 5] = [
    &INTERACTIONS,
    &AGENT_STATES,
    &QUEUE_INTERVALS,
    &AGENT_INTERVALS,
    &CAMPAIGN_INTERVALS,
];

/// Every table the aggregator stores: the raw [`EVENTS`] and the [`DERIVED`] ones.
pub const ALL: [&TableSpec; 6] = [
    &EVENTS,
    &INTERACTIONS,
    &AGENT_STATES,
    &QUEUE_INTERVALS,
    &AGENT_INTERVALS,
    &CAMPAIGN_INTERVALS,
];

/// The values of `interactions.outcome` (metrics.md).
const OUTCOMES: [&str; 5] = [
    "answered",
    "abandoned",
    "flowed_out",
    "in_queue",
    "in_progress",
];

/// One batch per non-empty derived table of `tables`, in [`DERIVED`] order. Anomaly counts
/// are not a table and are left out.
///
/// # Errors
/// [`ArrowError::InvalidArgumentError`] for a counter above `i64::MAX`; otherwise only if
/// a column disagrees with its schema, which would be a bug in this module.
pub fn to_batches(tables: &Tables) -> Result<Vec<(&'static TableSpec, RecordBatch)>, ArrowError> {
    let mut batches = Vec::new();
    if !tables.interactions.is_empty() {
        batches.push((&INTERACTIONS, interactions::to_batch(&tables.interactions)?));
    }
    if !tables.agent_states.is_empty() {
        batches.push((&AGENT_STATES, agent_states::to_batch(&tables.agent_states)?));
    }
    if !tables.queue_intervals.is_empty() {
        batches.push((
            &QUEUE_INTERVALS,
            queue_intervals::to_batch(&tables.queue_intervals)?,
        ));
    }
    if !tables.agent_intervals.is_empty() {
        batches.push((
            &AGENT_INTERVALS,
            agent_intervals::to_batch(&tables.agent_intervals)?,
        ));
    }
    if !tables.campaign_intervals.is_empty() {
        batches.push((
            &CAMPAIGN_INTERVALS,
            campaign_intervals::to_batch(&tables.campaign_intervals)?,
        ));
    }
    Ok(batches)
}

/// Reads batches of the derived tables, each labelled with its table name, back into one
/// [`Tables`] (without anomalies): detail rows are appended in order, and interval rows of
/// equal keys are merged with the measures' `merge`, so the deltas the store holds (final
/// rows of several checkpoints plus a provisional tail) add up to the whole.
///
/// Columns are found by name; other columns (such as partition columns a query engine
/// adds) are ignored. String columns may be any Arrow string type and timestamps any time
/// zone. For any `tables`, `from_batches` of [`to_batches`] gives `tables` back (after
/// [`Tables::sort`] of both), anomalies aside.
///
/// # Errors
/// [`TablesError`]: an unknown table name, a missing column or one of the wrong type, a
/// null where the schema has none, a negative counter, an unknown channel, direction,
/// state or outcome, or a histogram without exactly
/// [`WAIT_BUCKETS`](ccpulse_schemas::metrics::WAIT_BUCKETS) counts.
pub fn from_batches<'a>(
    batches: impl IntoIterator<Item = (&'a str, &'a RecordBatch)>,
) -> Result<Tables, TablesError> {
    let mut tables = Tables::default();
    for (table, batch) in batches {
        if table == INTERACTIONS.name {
            interactions::read(batch, &mut tables.interactions)?;
        } else if table == AGENT_STATES.name {
            agent_states::read(batch, &mut tables.agent_states)?;
        } else if table == QUEUE_INTERVALS.name {
            queue_intervals::read(batch, &mut tables.queue_intervals)?;
        } else if table == AGENT_INTERVALS.name {
            agent_intervals::read(batch, &mut tables.agent_intervals)?;
        } else if table == CAMPAIGN_INTERVALS.name {
            campaign_intervals::read(batch, &mut tables.campaign_intervals)?;
        } else {
            return Err(TablesError::UnknownTable {
                table: table.to_owned(),
            });
        }
    }
    Ok(tables)
}
