//! Splitting a record batch into one piece per (tenant, UTC date), the unit of a segment.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt64Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};

use super::error::StoreError;
use super::layout::is_valid_tenant;
use super::table::TableSpec;

/// Rows of one tenant and one UTC date, in their original order.
#[derive(Debug)]
pub(crate) struct Piece {
    pub(crate) tenant_id: String,
    /// `None` when the time is NULL or outside chrono's calendar.
    pub(crate) date: Option<NaiveDate>,
    pub(crate) batch: RecordBatch,
}

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// How many characters of a bad tenant id an error quotes.
const MAX_QUOTED_CHARS: usize = 40;

/// Splits `batch` by (tenant, UTC date of the time column). Pieces come out sorted by
/// tenant, then date (unknown first), and keep the batch's row order; an empty batch gives
/// no pieces. A batch of a single (tenant, date) is returned as is, without copying.
///
/// # Errors
/// Schema problems (see [`TableSpec::check_schema`]), [`StoreError::InvalidTenant`] for
/// the first NULL or out-of-contract tenant id, [`StoreError::SplitBatch`] if an Arrow
/// kernel fails.
pub(crate) fn split_by_tenant_and_date(
    spec: &TableSpec,
    batch: &RecordBatch,
) -> Result<Vec<Piece>, StoreError> {
    spec.check_schema(batch.schema_ref())?;
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let arrow_err = |source| StoreError::SplitBatch {
        table: spec.name.to_owned(),
        source,
    };
    let tenant_column = column(spec, batch, spec.tenant_column)?;
    let tenants = cast(tenant_column, &DataType::Utf8).map_err(arrow_err)?;
    let tenants = tenants
        .as_string_opt::<i32>()
        .ok_or_else(|| StoreError::ColumnType {
            table: spec.name.to_owned(),
            column: spec.tenant_column.to_owned(),
            expected: "a string type",
            found: tenant_column.data_type().clone(),
        })?;
    let dates = utc_dates(spec, batch)?;

    let mut groups: BTreeMap<(&str, Option<NaiveDate>), Vec<u64>> = BTreeMap::new();
    for (row, date) in dates.into_iter().enumerate() {
        let tenant = tenants.is_valid(row).then(|| tenants.value(row));
        let Some(tenant) = tenant.filter(|id| is_valid_tenant(id)) else {
            return Err(StoreError::InvalidTenant {
                table: spec.name.to_owned(),
                row,
                value: quote_tenant(tenant),
            });
        };
        // Row indices of an in-memory batch fit in u64 on every supported platform.
        groups.entry((tenant, date)).or_default().push(row as u64);
    }

    if groups.len() == 1 {
        return Ok(groups
            .into_keys()
            .map(|(tenant, date)| Piece {
                tenant_id: tenant.to_owned(),
                date,
                batch: batch.clone(),
            })
            .collect());
    }
    groups
        .into_iter()
        .map(|((tenant, date), rows)| {
            let batch = take_record_batch(batch, &UInt64Array::from(rows)).map_err(arrow_err)?;
            Ok(Piece {
                tenant_id: tenant.to_owned(),
                date,
                batch,
            })
        })
        .collect()
}

fn column<'b>(
    spec: &TableSpec,
    batch: &'b RecordBatch,
    name: &str,
) -> Result<&'b dyn Array, StoreError> {
    batch
        .column_by_name(name)
        .map(|array| array.as_ref())
        .ok_or_else(|| StoreError::ColumnMissing {
            table: spec.name.to_owned(),
            column: name.to_owned(),
        })
}

/// The UTC date of each row's time, `None` for NULL or out-of-calendar times.
fn utc_dates(spec: &TableSpec, batch: &RecordBatch) -> Result<Vec<Option<NaiveDate>>, StoreError> {
    let times = column(spec, batch, spec.time_column)?;
    let units_per_day: i64 = match times.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => 86_400,
        DataType::Timestamp(TimeUnit::Millisecond, _) => 86_400_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 86_400_000_000,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => 86_400_000_000_000,
        other => {
            return Err(StoreError::ColumnType {
                table: spec.name.to_owned(),
                column: spec.time_column.to_owned(),
                expected: "a Timestamp",
                found: other.clone(),
            });
        }
    };
    // A timestamp is an i64 count of units since the Unix epoch in UTC, whatever its time
    // zone annotation; the cast just exposes the raw values.
    let raw = cast(times, &DataType::Int64).map_err(|source| StoreError::SplitBatch {
        table: spec.name.to_owned(),
        source,
    })?;
    let raw = raw
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| StoreError::ColumnType {
            table: spec.name.to_owned(),
            column: spec.time_column.to_owned(),
            expected: "a Timestamp castable to Int64",
            found: times.data_type().clone(),
        })?;
    // Rows arrive roughly in time order: remember the last day's date.
    let mut last: Option<(i64, Option<NaiveDate>)> = None;
    Ok(raw
        .iter()
        .map(|value| {
            let day = value?.div_euclid(units_per_day);
            match last {
                Some((last_day, date)) if last_day == day => date,
                _ => {
                    let date = date_of_epoch_day(day);
                    last = Some((day, date));
                    date
                }
            }
        })
        .collect())
}

/// The calendar date `day` days after 1970-01-01, if chrono can represent it.
fn date_of_epoch_day(day: i64) -> Option<NaiveDate> {
    let days_from_ce = i32::try_from(day.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?).ok()?;
    NaiveDate::from_num_days_from_ce_opt(days_from_ce)
}

/// A bad tenant id for an error message: quoted, escaped, truncated.
fn quote_tenant(tenant: Option<&str>) -> String {
    match tenant {
        None => "NULL".to_owned(),
        Some(id) if id.chars().count() > MAX_QUOTED_CHARS => {
            let head: String = id.chars().take(MAX_QUOTED_CHARS).collect();
            format!("{head:?}...")
        }
        Some(id) => format!("{id:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_days_map_to_utc_dates() {
        assert_eq!(date_of_epoch_day(0), NaiveDate::from_ymd_opt(1970, 1, 1));
        assert_eq!(date_of_epoch_day(-1), NaiveDate::from_ymd_opt(1969, 12, 31));
        assert_eq!(
            date_of_epoch_day(19_782),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(date_of_epoch_day(i64::MAX), None);
        assert_eq!(date_of_epoch_day(i64::MIN / 86_400), None);
    }

    #[test]
    fn bad_tenants_are_quoted_and_truncated() {
        assert_eq!(quote_tenant(None), "NULL");
        assert_eq!(quote_tenant(Some("a b")), "\"a b\"");
        assert_eq!(quote_tenant(Some(&"x".repeat(100))).len(), 40 + 2 + 3);
    }
}
