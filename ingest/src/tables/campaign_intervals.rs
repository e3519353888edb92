//! `campaign_intervals`: the outbound dialer measures of one (tenant, campaign, interval)
//! ([`CampaignMeasures`]).
//!
//! [`CampaignMeasures::results`] is indexed in [`DialResult::ALL`] order and
//! [`CampaignMeasures::preview_actions`] in [`PreviewAction::ALL`] order; the columns
//! `result_<name>` and `preview_<name>` follow the same orders, named by
//! [`DialResult::NAMES`] and [`PreviewAction::NAMES`].

use std::collections::BTreeMap;
use std::sync::Arc;

use ccpulse_schemas::v1::{DialResult, PreviewAction};
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::CAMPAIGN_INTERVALS;
use super::columns::{Reader, counts, strings, timestamp_type, timestamps};
use super::error::TablesError;
use crate::fold::measures::CampaignMeasures;
use crate::fold::rows::CampaignKey;

/// The length of an array field, for the compile-time checks below.
const fn array_len<const N: usize>(_field: fn(&CampaignMeasures) -> &[u64; N]) -> usize {
    N
}

// One column per array element and one array element per column: indexing the arrays by
// column position below cannot go out of bounds.
const _: () = assert!(array_len(|m| &m.results) == DialResult::NAMES.len());
const _: () = assert!(array_len(|m| &m.preview_actions) == PreviewAction::NAMES.len());

/// `result_<name>` for every dial result, in [`DialResult::ALL`] order.
fn result_columns() -> impl Iterator<Item = String> {
    DialResult::NAMES
        .iter()
        .map(|name| format!("result_{name}"))
}

/// `preview_<name>` for every preview action, in [`PreviewAction::ALL`] order.
fn preview_columns() -> impl Iterator<Item = String> {
    PreviewAction::NAMES
        .iter()
        .map(|name| format!("preview_{name}"))
}

/// The schema of `campaign_intervals` (see the [module docs](super) for each column).
pub fn campaign_intervals_schema() -> SchemaRef {
    let int64 = |name: &str| Field::new(name, DataType::Int64, false);
    let mut fields = vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("campaign_id", DataType::Utf8, false),
        Field::new("interval_start", timestamp_type(), false),
        int64("attempts"),
    ];
    fields.extend(result_columns().map(|name| int64(&name)));
    fields.push(int64("dropped"));
    fields.extend(preview_columns().map(|name| int64(&name)));
    Arc::new(Schema::new(fields))
}

/// `intervals` as one batch of [`campaign_intervals_schema`].
pub(super) fn to_batch(
    intervals: &BTreeMap<CampaignKey, CampaignMeasures>,
) -> Result<RecordBatch, ArrowError> {
    let table = CAMPAIGN_INTERVALS.name;
    let keys = || intervals.keys();
    let ms = || intervals.values();
    let mut columns: Vec<ArrayRef> = vec![
        strings(keys().map(|k| k.tenant_id.as_str())),
        strings(keys().map(|k| k.campaign_id.as_str())),
        timestamps(keys().map(|k| k.interval_start)),
        counts(table, "attempts", ms().map(|m| m.attempts))?,
    ];
    for (i, name) in result_columns().enumerate() {
        columns.push(counts(table, &name, ms().map(|m| m.results[i]))?);
    }
    columns.push(counts(table, "dropped", ms().map(|m| m.dropped))?);
    for (i, name) in preview_columns().enumerate() {
        columns.push(counts(table, &name, ms().map(|m| m.preview_actions[i]))?);
    }
    RecordBatch::try_new(campaign_intervals_schema(), columns)
}

/// Adds the rows of `batch` to `intervals`, merging rows of equal keys
/// ([`CampaignMeasures::merge`]).
pub(super) fn read(
    batch: &RecordBatch,
    intervals: &mut BTreeMap<CampaignKey, CampaignMeasures>,
) -> Result<(), TablesError> {
    let r = Reader::new(CAMPAIGN_INTERVALS.name, batch);
    let tenant_id = r.string("tenant_id")?;
    let campaign_id = r.string("campaign_id")?;
    let interval_start = r.timestamp("interval_start")?;
    let attempts = r.int64("attempts")?;
    let results = result_columns()
        .map(|name| r.int64(&name))
        .collect::<Result<Vec<_>, _>>()?;
    let dropped = r.int64("dropped")?;
    let preview_actions = preview_columns()
        .map(|name| r.int64(&name))
        .collect::<Result<Vec<_>, _>>()?;
    for row in r.rows() {
        let key = CampaignKey {
            tenant_id: tenant_id.value(row)?.to_owned(),
            campaign_id: campaign_id.value(row)?.to_owned(),
            interval_start: interval_start.value(row)?,
        };
        let mut measures = CampaignMeasures {
            attempts: attempts.count(row)?,
            dropped: dropped.count(row)?,
            ..CampaignMeasures::default()
        };
        for (count, column) in measures.results.iter_mut().zip(&results) {
            *count = column.count(row)?;
        }
        for (count, column) in measures.preview_actions.iter_mut().zip(&preview_actions) {
            *count = column.count(row)?;
        }
        intervals.entry(key).or_default().merge(&measures);
    }
    Ok(())
}
