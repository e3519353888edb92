//! `time_bucket(ts, size [, tz])`: the start of the bucket of `size` holding the instant
//! `ts`, in the time zone `tz` (the tenant's by default), as a UTC timestamp.
//!
//! The tables hold 15-minute intervals aligned in UTC (metrics.md); reports roll them up
//! to 30 and 60 minutes, days, ISO weeks and months, and a supervisor's day starts at
//! midnight where the contact center is, not in UTC. The rules, chosen so every bucket
//! is one contiguous span of real time and the 15-minute intervals nest in it:
//!
//! - **Sub-day sizes** (15, 30, 60 minutes) floor the instant in *its own* local wall
//!   time, using the UTC offset in force at that instant: `local = utc + offset(utc)`,
//!   floor `local` to the size, `start = floored − offset(utc)`. On a fall-back night the
//!   repeated hour therefore gives two distinct buckets (one per offset), and a
//!   spring-forward night has no bucket for the skipped hour. For zones whose offset is
//!   a whole or half hour (or, for 15 minutes, any multiple of 15 minutes, like
//!   Asia/Kathmandu's +05:45), 15-minute buckets are exactly the UTC-aligned intervals
//!   the tables store; 60-minute buckets in Asia/Kolkata (+05:30) start at :30 UTC.
//! - **Day, week, month**: the local calendar date of the instant (for a week its
//!   Monday, as ISO 8601 has it; for a month its 1st); the start is local midnight of
//!   that date, in UTC. Where midnight does not exist (a DST gap at midnight, as in
//!   America/Sao_Paulo until 2019 or Asia/Beirut) the start is the earliest instant of
//!   that local date, the end of the gap; where midnight happens twice (a fall-back to
//!   midnight, as in America/Havana) it is the earlier one.
//!
//! A timestamp without a time zone is taken as UTC, as everything ccpulse stores is.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::Result;
use datafusion::common::cast::{as_string_array, as_timestamp_millisecond_array};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, Args, PerRow};
use super::error::FunctionError;

const NAME: &str = "time_bucket";
const USAGE: &str = "time_bucket(ts, size [, tz])";
const UTC: &str = "UTC";
const MINUTE_MS: i64 = 60 * 1000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

/// The result type, the tables' timestamp type.
fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into()))
}

/// A bucket size `time_bucket` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BucketSize {
    Minutes15,
    Minutes30,
    Minutes60,
    Day,
    Week,
    Month,
}

impl BucketSize {
    /// Every size, in the order the error message lists them.
    const ALL: [BucketSize; 6] = [
        BucketSize::Minutes15,
        BucketSize::Minutes30,
        BucketSize::Minutes60,
        BucketSize::Day,
        BucketSize::Week,
        BucketSize::Month,
    ];

    /// The spelling the docs and the error message use.
    fn as_str(self) -> &'static str {
        match self {
            BucketSize::Minutes15 => "15 minutes",
            BucketSize::Minutes30 => "30 minutes",
            BucketSize::Minutes60 => "60 minutes",
            BucketSize::Day => "day",
            BucketSize::Week => "week",
            BucketSize::Month => "month",
        }
    }

    /// Parses a size, ignoring case and surrounding blanks; accepts the short forms
    /// `15m`, `30m`, `60m`, `1h`, `hour` and `1 hour` too.
    pub(crate) fn parse(text: &str) -> Result<Self, FunctionError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "15 minutes" | "15m" => Ok(BucketSize::Minutes15),
            "30 minutes" | "30m" => Ok(BucketSize::Minutes30),
            "60 minutes" | "60m" | "1 hour" | "hour" | "1h" => Ok(BucketSize::Minutes60),
            "day" => Ok(BucketSize::Day),
            "week" => Ok(BucketSize::Week),
            "month" => Ok(BucketSize::Month),
            _ => Err(FunctionError::UnknownBucketSize {
                size: text.to_owned(),
            }),
        }
    }

    /// The length of a sub-day size; `None` for the calendar sizes.
    fn fixed_ms(self) -> Option<i64> {
        match self {
            BucketSize::Minutes15 => Some(15 * MINUTE_MS),
            BucketSize::Minutes30 => Some(30 * MINUTE_MS),
            BucketSize::Minutes60 => Some(60 * MINUTE_MS),
            BucketSize::Day | BucketSize::Week | BucketSize::Month => None,
        }
    }
}

/// The sizes for the error message: `'15 minutes', …, 'month'`.
pub(crate) fn valid_sizes() -> String {
    BucketSize::ALL
        .iter()
        .map(|size| format!("'{}'", size.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses an IANA time zone name (surrounding blanks ignored; the name is case-sensitive,
/// as the database is).
pub(crate) fn parse_tz(text: &str) -> Result<Tz, FunctionError> {
    Tz::from_str(text.trim()).map_err(|_| FunctionError::UnknownTimeZone {
        tz: text.to_owned(),
    })
}

/// The start (UTC milliseconds) of the bucket of `size` holding `ts_ms` in `tz`, by the
/// rules of the [module docs](self).
pub(crate) fn bucket_start(ts_ms: i64, size: BucketSize, tz: Tz) -> Result<i64, FunctionError> {
    let out_of_range = || FunctionError::TimestampOutOfRange { ms: ts_ms };
    let utc = DateTime::from_timestamp_millis(ts_ms)
        .ok_or_else(out_of_range)?
        .naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix();
    if let Some(size_ms) = size.fixed_ms() {
        let offset_ms = i64::from(offset.local_minus_utc()) * 1000;
        let local_ms = ts_ms.checked_add(offset_ms).ok_or_else(out_of_range)?;
        let floored = local_ms.div_euclid(size_ms) * size_ms;
        return floored.checked_sub(offset_ms).ok_or_else(out_of_range);
    }
    // Checked arithmetic rather than `DateTime<Tz>`'s calendar methods, which panic
    // where the wall time leaves chrono's range.
    let date = utc
        .checked_add_offset(offset)
        .ok_or_else(out_of_range)?
        .date();
    let first = match size {
        BucketSize::Week => date
            .checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
            .ok_or_else(out_of_range)?,
        BucketSize::Month => date.with_day(1).ok_or_else(out_of_range)?,
        _ => date,
    };
    day_start(first, tz).ok_or_else(out_of_range)
}

/// The wall time in `tz` at the instant `utc_ms`; `None` outside chrono's range.
fn wall_time(utc_ms: i64, tz: Tz) -> Option<NaiveDateTime> {
    let utc = DateTime::from_timestamp_millis(utc_ms)?.naive_utc();
    utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix())
}

/// The first instant (UTC milliseconds) of the local date `date` in `tz`: its midnight,
/// the earlier one if midnight happens twice, the end of the gap if it does not happen.
fn day_start(date: NaiveDate, tz: Tz) -> Option<i64> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(at) => Some(at.timestamp_millis()),
        LocalResult::Ambiguous(a, b) => Some(a.timestamp_millis().min(b.timestamp_millis())),
        LocalResult::None => first_instant_from(midnight, tz),
    }
}

/// The first instant whose local wall time in `tz` is at or after `local`, for a `local`
/// inside a DST gap: a binary search over the day either side, where (UTC offsets being
/// under a day) the wall time is before `local` at the low end and after it at the high.
fn first_instant_from(local: NaiveDateTime, tz: Tz) -> Option<i64> {
    let local_ms = local.and_utc().timestamp_millis();
    let (mut before, mut after) = (local_ms.checked_sub(DAY_MS)?, local_ms.checked_add(DAY_MS)?);
    // Invariant: the wall time at `before` is earlier than `local`, at `after` it is not.
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if wall_time(middle, tz)? >= local {
            after = middle;
        } else {
            before = middle;
        }
    }
    Some(after)
}

/// The `time_bucket` scalar function, bound to the session's default time zone.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimeBucket {
    signature: Signature,
    /// The tenant's time zone, used when the call gives none.
    default_tz: Tz,
}

impl TimeBucket {
    pub(crate) fn new(default_tz: Tz) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            default_tz,
        }
    }
}

impl ScalarUDFImpl for TimeBucket {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_count(USAGE, "2 or 3", arg_types.len(), 2, 3).map_err(FunctionError::plan)?;
        arg_types
            .iter()
            .enumerate()
            .map(|(i, data_type)| match i {
                0 => match data_type {
                    DataType::Timestamp(_, _) | DataType::Null => Ok(timestamp_type()),
                    other => Err(FunctionError::ArgumentType {
                        function: NAME,
                        argument: "ts",
                        expected: "a timestamp",
                        got: other.clone(),
                    }),
                },
                1 => args::coerce_string(NAME, "size", data_type),
                _ => args::coerce_string(NAME, "tz", data_type),
            })
            .collect::<Result<_, _>>()
            .map_err(FunctionError::plan)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(timestamp_type())
    }

    /// Checks a literal size and time zone while planning, so a typo fails before any
    /// data is read (and even when no row would reach the function).
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(size) = args::literal_str(&args, 1) {
            BucketSize::parse(size).map_err(FunctionError::plan)?;
        }
        if let Some(tz) = args::literal_str(&args, 2) {
            parse_tz(tz).map_err(FunctionError::plan)?;
        }
        Ok(Arc::new(Field::new(NAME, timestamp_type(), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(NAME, args.args, args.number_rows)?;
        args::check_count(USAGE, "2 or 3", args.count(), 2, 3)?;
        let timestamps = as_timestamp_millisecond_array(args.array(0)?.as_ref())?;
        let sizes = args.parse(1, as_string_array, BucketSize::parse)?;
        let tzs = if args.count() > 2 {
            args.parse(2, as_string_array, parse_tz)?
        } else {
            PerRow::every_row(self.default_tz)
        };
        let starts = (0..args.rows())
            .map(|row| {
                let i = args.index(0, row);
                if timestamps.is_null(i) {
                    return Ok(None);
                }
                match (sizes.get(row), tzs.get(row)) {
                    (Some(size), Some(tz)) => bucket_start(timestamps.value(i), size, tz).map(Some),
                    _ => Ok(None),
                }
            })
            .collect::<Result<TimestampMillisecondArray, FunctionError>>()?;
        args.finish(Arc::new(starts.with_timezone(UTC)))
    }
}

#[cfg(test)]
mod tests {
    use ccpulse_schemas::metrics::interval_start;
    use chrono::{Timelike, Utc, Weekday};
    use datafusion::arrow::array::{ArrayRef, TimestampNanosecondArray, TimestampSecondArray};
    use datafusion::common::cast::as_int64_array;
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::functions::test_support::{context, ms, query, query_error, register_table};

    /// An instant as RFC 3339, for failure messages.
    fn utc(ms: i64) -> String {
        DateTime::from_timestamp_millis(ms).map_or_else(|| format!("{ms} ms"), |t| t.to_rfc3339())
    }

    /// The bucket starts SQL computes for `instants` (RFC 3339, given as a column).
    async fn buckets(
        ctx: &SessionContext,
        size: &str,
        tz: Option<&str>,
        instants: &[&str],
    ) -> Vec<Option<i64>> {
        let values = instants
            .iter()
            .enumerate()
            .map(|(i, at)| format!("({i}, '{at}')"))
            .collect::<Vec<_>>()
            .join(", ");
        let tz = tz.map(|tz| format!(", '{tz}'")).unwrap_or_default();
        let sql = format!(
            "SELECT time_bucket(to_timestamp_millis(ts), '{size}'{tz}) FROM (VALUES {values}) AS v(i, ts) ORDER BY i"
        );
        let batch = query(ctx, &sql).await;
        let starts = as_timestamp_millisecond_array(batch.column(0).as_ref()).expect("timestamps");
        starts.iter().collect()
    }

    /// Checks `(instant, expected bucket start)` pairs for `size` in `tz`.
    async fn check(size: &str, tz: &str, cases: &[(&str, &str)]) {
        let ctx = context(Tz::UTC);
        let instants: Vec<&str> = cases.iter().map(|(at, _)| *at).collect();
        let starts = buckets(&ctx, size, Some(tz), &instants).await;
        for ((at, expected), start) in cases.iter().zip(starts) {
            assert_eq!(
                start,
                Some(ms(expected)),
                "'{size}' in {tz}: {at} should be in the bucket starting {expected}, got {:?}",
                start.map(utc)
            );
        }
    }

    #[tokio::test]
    async fn sub_day_buckets_follow_the_wall_clock_across_berlin_dst_nights() {
        // Fall back on 2024-10-27 at 01:00Z (CEST +2 → CET +1): local 02:00–03:00 twice.
        check(
            "60 minutes",
            "Europe/Berlin",
            &[
                ("2024-10-26T23:30:00Z", "2024-10-26T23:00:00Z"),
                // 02:30 CEST and 02:30 CET: two buckets, one per offset.
                ("2024-10-27T00:30:00Z", "2024-10-27T00:00:00Z"),
                ("2024-10-27T00:59:59.999Z", "2024-10-27T00:00:00Z"),
                ("2024-10-27T01:00:00Z", "2024-10-27T01:00:00Z"),
                ("2024-10-27T01:30:00Z", "2024-10-27T01:00:00Z"),
                ("2024-10-27T02:10:00Z", "2024-10-27T02:00:00Z"),
                // Spring forward on 2024-03-31 at 01:00Z: local 01:59 CET, then 03:00 CEST.
                ("2024-03-31T00:59:00Z", "2024-03-31T00:00:00Z"),
                ("2024-03-31T01:00:00Z", "2024-03-31T01:00:00Z"),
                ("2024-03-31T01:59:59.999Z", "2024-03-31T01:00:00Z"),
            ],
        )
        .await;
        check(
            "30 minutes",
            "Europe/Berlin",
            &[
                ("2024-03-31T00:45:00Z", "2024-03-31T00:30:00Z"),
                ("2024-03-31T01:15:00Z", "2024-03-31T01:00:00Z"),
                ("2024-10-27T00:40:00Z", "2024-10-27T00:30:00Z"),
                ("2024-10-27T01:40:00Z", "2024-10-27T01:30:00Z"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn the_skipped_hour_has_no_bucket_and_the_repeated_one_two() {
        // Every minute of the Berlin nights: the distinct buckets and how long each is.
        let ctx = context(Tz::UTC);
        // Local wall-clock hours of the four buckets: no 02 in spring, 02 twice in autumn.
        let nights: [(&str, [u32; 4]); 2] =
            [("2024-03-31", [0, 1, 3, 4]), ("2024-10-27", [1, 2, 2, 3])];
        for (night, expected) in nights {
            let first = ms(&format!("{night}T00:00:00Z")) - 60 * MINUTE_MS;
            let instants: Vec<i64> = (0..4 * 60).map(|m| first + m * MINUTE_MS).collect();
            let ts: ArrayRef =
                Arc::new(TimestampMillisecondArray::from(instants).with_timezone(UTC));
            let table = format!("night_{}", night.replace('-', "_"));
            register_table(
                &ctx,
                &table,
                vec![(Field::new("ts", timestamp_type(), false), ts)],
                1,
                1000,
            );
            let batch = query(
                &ctx,
                &format!(
                    "SELECT b, count(*) AS minutes FROM \
                     (SELECT time_bucket(ts, '60 minutes', 'Europe/Berlin') AS b FROM {table}) \
                     GROUP BY b ORDER BY b"
                ),
            )
            .await;
            let starts = as_timestamp_millisecond_array(batch.column(0).as_ref()).unwrap();
            let minutes = as_int64_array(batch.column(1).as_ref()).unwrap();
            // 4 UTC hours of instants: 4 buckets, each a whole real hour.
            assert_eq!(starts.len(), 4, "{night}");
            for row in 0..4 {
                assert_eq!(
                    starts.value(row),
                    first + row as i64 * 60 * MINUTE_MS,
                    "{night}"
                );
                assert_eq!(minutes.value(row), 60, "{night}");
            }
            let local_hours: Vec<u32> = starts
                .iter()
                .flatten()
                .map(|s| {
                    DateTime::from_timestamp_millis(s)
                        .unwrap()
                        .with_timezone(&Tz::Europe__Berlin)
                        .hour()
                })
                .collect();
            assert_eq!(local_hours, expected, "{night}");
        }
    }

    #[tokio::test]
    async fn sub_day_buckets_follow_the_wall_clock_across_new_york_dst_nights() {
        check(
            "60 minutes",
            "America/New_York",
            &[
                // Fall back on 2024-11-03 at 06:00Z (EDT −4 → EST −5): 01:30 twice.
                ("2024-11-03T05:30:00Z", "2024-11-03T05:00:00Z"),
                ("2024-11-03T06:30:00Z", "2024-11-03T06:00:00Z"),
                // Spring forward on 2024-03-10 at 07:00Z: 01:59 EST, then 03:00 EDT.
                ("2024-03-10T06:59:00Z", "2024-03-10T06:00:00Z"),
                ("2024-03-10T07:00:00Z", "2024-03-10T07:00:00Z"),
            ],
        )
        .await;
        check(
            "15 minutes",
            "America/New_York",
            &[
                ("2024-11-03T05:59:59.999Z", "2024-11-03T05:45:00Z"),
                ("2024-11-03T06:07:00Z", "2024-11-03T06:00:00Z"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn hour_buckets_start_at_the_zones_half_and_quarter_hours() {
        // Asia/Kolkata is +05:30: local 15:40 → 15:00 local = 09:30Z.
        check(
            "60 minutes",
            "Asia/Kolkata",
            &[
                ("2024-01-15T10:10:00Z", "2024-01-15T09:30:00Z"),
                ("2024-01-15T10:35:00Z", "2024-01-15T10:30:00Z"),
            ],
        )
        .await;
        check(
            "15 minutes",
            "Asia/Kolkata",
            &[("2024-01-15T10:10:00Z", "2024-01-15T10:00:00Z")],
        )
        .await;
        check(
            "day",
            "Asia/Kolkata",
            &[("2024-01-15T20:00:00Z", "2024-01-15T18:30:00Z")],
        )
        .await;
        // Asia/Kathmandu is +05:45: local 15:55 → 15:00 local = 09:15Z.
        check(
            "60 minutes",
            "Asia/Kathmandu",
            &[
                ("2024-01-15T10:10:00Z", "2024-01-15T09:15:00Z"),
                ("2024-01-15T10:20:00Z", "2024-01-15T10:15:00Z"),
            ],
        )
        .await;
        check(
            "30 minutes",
            "Asia/Kathmandu",
            &[("2024-01-15T10:10:00Z", "2024-01-15T09:45:00Z")],
        )
        .await;
        check(
            "15 minutes",
            "Asia/Kathmandu",
            &[("2024-01-15T10:10:00Z", "2024-01-15T10:00:00Z")],
        )
        .await;
    }

    #[tokio::test]
    async fn days_start_at_local_midnight_across_dst() {
        check(
            "day",
            "Europe/Berlin",
            &[
                // 2024-10-27 is 25 hours long.
                ("2024-10-27T12:00:00Z", "2024-10-26T22:00:00Z"),
                ("2024-10-27T22:59:59.999Z", "2024-10-26T22:00:00Z"),
                ("2024-10-27T23:00:00Z", "2024-10-27T23:00:00Z"),
                // 2024-03-31 is 23 hours long.
                ("2024-03-30T22:59:59.999Z", "2024-03-29T23:00:00Z"),
                ("2024-03-30T23:00:00Z", "2024-03-30T23:00:00Z"),
                ("2024-03-31T10:00:00Z", "2024-03-30T23:00:00Z"),
                ("2024-03-31T21:59:59.999Z", "2024-03-30T23:00:00Z"),
                ("2024-03-31T22:00:00Z", "2024-03-31T22:00:00Z"),
            ],
        )
        .await;
        check(
            "day",
            "America/New_York",
            &[
                ("2024-11-03T12:00:00Z", "2024-11-03T04:00:00Z"),
                ("2024-11-04T04:30:00Z", "2024-11-03T04:00:00Z"),
                ("2024-11-04T05:00:00Z", "2024-11-04T05:00:00Z"),
                ("2024-03-10T12:00:00Z", "2024-03-10T05:00:00Z"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn weeks_start_on_monday() {
        check(
            "week",
            "Europe/Berlin",
            &[
                // Thursday 2024-06-13 → Monday 2024-06-10, local midnight (+02:00).
                ("2024-06-13T12:00:00Z", "2024-06-09T22:00:00Z"),
                // Sunday 23:59 local is still that week; Monday 00:00 the next.
                ("2024-06-16T21:59:59.999Z", "2024-06-09T22:00:00Z"),
                ("2024-06-16T22:00:00Z", "2024-06-16T22:00:00Z"),
                // The week of the spring-forward Sunday began in winter time.
                ("2024-03-31T20:00:00Z", "2024-03-24T23:00:00Z"),
                // Across a year: Wednesday 2025-01-01 → Monday 2024-12-30.
                ("2025-01-01T12:00:00Z", "2024-12-29T23:00:00Z"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn months_start_on_the_first() {
        check(
            "month",
            "Europe/Berlin",
            &[
                // Local 2024-04-01 00:30 CEST.
                ("2024-03-31T22:30:00Z", "2024-03-31T22:00:00Z"),
                // Local 2024-03-31 23:30 CEST: March began in winter time.
                ("2024-03-31T21:30:00Z", "2024-02-29T23:00:00Z"),
                ("2024-01-01T00:30:00Z", "2023-12-31T23:00:00Z"),
                ("2024-02-29T12:00:00Z", "2024-01-31T23:00:00Z"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn a_day_whose_midnight_is_skipped_starts_when_the_gap_ends() {
        // America/Sao_Paulo sprang forward at midnight on 2018-11-04 (−03 → −02): the
        // day began at 01:00 local = 03:00Z.
        check(
            "day",
            "America/Sao_Paulo",
            &[
                ("2018-11-04T12:00:00Z", "2018-11-04T03:00:00Z"),
                ("2018-11-04T03:00:00Z", "2018-11-04T03:00:00Z"),
                ("2018-11-04T02:59:59.999Z", "2018-11-03T03:00:00Z"),
            ],
        )
        .await;
        check(
            "week",
            "America/Sao_Paulo",
            &[("2018-11-04T12:00:00Z", "2018-10-29T03:00:00Z")],
        )
        .await;
        // Asia/Beirut springs forward at midnight (+02 → +03) on 2024-03-31.
        check(
            "day",
            "Asia/Beirut",
            &[
                ("2024-03-31T12:00:00Z", "2024-03-30T22:00:00Z"),
                ("2024-03-30T21:59:59.999Z", "2024-03-29T22:00:00Z"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn a_day_whose_midnight_repeats_starts_at_the_first() {
        // America/Havana falls back from 01:00 CDT to 00:00 CST on 2024-11-03, so its
        // midnight happens at 04:00Z and again at 05:00Z.
        check(
            "day",
            "America/Havana",
            &[
                ("2024-11-03T12:00:00Z", "2024-11-03T04:00:00Z"),
                ("2024-11-03T04:30:00Z", "2024-11-03T04:00:00Z"),
                ("2024-11-03T05:30:00Z", "2024-11-03T04:00:00Z"),
                ("2024-11-03T03:59:59.999Z", "2024-11-02T04:00:00Z"),
            ],
        )
        .await;
    }

    /// The zones of the property tests, the nights they cover, and every 7 minutes
    /// (and a millisecond before every quarter hour) from a day before to two after.
    fn instants() -> Vec<i64> {
        let nights = [
            "2018-11-04",
            "2019-02-16",
            "2024-01-01",
            "2024-02-29",
            "2024-03-10",
            "2024-03-31",
            "2024-10-27",
            "2024-11-03",
        ];
        let mut instants = Vec::new();
        for night in nights {
            let first = ms(&format!("{night}T00:00:00Z")) - DAY_MS;
            instants.extend((0..3 * 24 * 60 / 7).map(|k| first + k * 7 * MINUTE_MS));
            instants.extend((1..3 * 24 * 4).map(|k| first + k * 15 * MINUTE_MS - 1));
        }
        instants
    }

    const ZONES: [Tz; 7] = [
        Tz::Europe__Berlin,
        Tz::America__New_York,
        Tz::America__Sao_Paulo,
        Tz::America__Havana,
        Tz::Asia__Beirut,
        Tz::Asia__Kolkata,
        Tz::Asia__Kathmandu,
    ];

    /// `time_bucket(ts, size, tz)` over every instant of [`instants`]: (instant, start).
    async fn bucket_all(ctx: &SessionContext, size: &str, tz: Tz) -> Vec<(i64, i64)> {
        let batch = query(
            ctx,
            &format!(
                "SELECT ts, time_bucket(ts, '{size}', '{}') FROM instants",
                tz.name()
            ),
        )
        .await;
        let ts = as_timestamp_millisecond_array(batch.column(0).as_ref()).unwrap();
        let starts = as_timestamp_millisecond_array(batch.column(1).as_ref()).unwrap();
        assert_eq!(starts.null_count(), 0);
        ts.values()
            .iter()
            .copied()
            .zip(starts.values().iter().copied())
            .collect()
    }

    fn instants_context() -> SessionContext {
        let ctx = context(Tz::UTC);
        let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from(instants()).with_timezone(UTC));
        register_table(
            &ctx,
            "instants",
            vec![(Field::new("ts", timestamp_type(), false), ts)],
            3,
            997,
        );
        ctx
    }

    #[tokio::test]
    async fn fifteen_minute_buckets_are_the_stored_utc_intervals() {
        let ctx = instants_context();
        for tz in ZONES {
            for (at, start) in bucket_all(&ctx, "15 minutes", tz).await {
                assert_eq!(start, interval_start(at), "{} at {}", tz.name(), utc(at));
            }
        }
    }

    #[tokio::test]
    async fn hour_and_half_hour_buckets_are_whole_spans_aligned_to_the_offset() {
        let ctx = instants_context();
        for tz in ZONES {
            // Where in the UTC hour the zone's hours start.
            let phase = match tz {
                Tz::Asia__Kolkata => 30 * MINUTE_MS,
                Tz::Asia__Kathmandu => 15 * MINUTE_MS,
                _ => 0,
            };
            for (size, size_ms) in [
                ("60 minutes", 60 * MINUTE_MS),
                ("30 minutes", 30 * MINUTE_MS),
            ] {
                for (at, start) in bucket_all(&ctx, size, tz).await {
                    let context = format!("{size} in {} at {}: {}", tz.name(), utc(at), utc(start));
                    assert!(start <= at && at < start + size_ms, "{context}");
                    assert_eq!((start - phase).rem_euclid(size_ms), 0, "{context}");
                }
            }
        }
    }

    #[tokio::test]
    async fn calendar_buckets_start_at_the_first_instant_of_their_local_date() {
        let ctx = instants_context();
        for tz in ZONES {
            let date = |ms: i64| {
                DateTime::from_timestamp_millis(ms)
                    .unwrap()
                    .with_timezone(&tz)
                    .date_naive()
            };
            for size in ["day", "week", "month"] {
                for (at, start) in bucket_all(&ctx, size, tz).await {
                    let context = format!("{size} in {} at {}: {}", tz.name(), utc(at), utc(start));
                    assert!(start <= at, "{context}");
                    // No earlier instant has the start's local date.
                    assert!(date(start - 1) < date(start), "{context}");
                    let (first, local) = (date(start), date(at));
                    match size {
                        "day" => assert_eq!(first, local, "{context}"),
                        "week" => {
                            assert_eq!(first.weekday(), Weekday::Mon, "{context}");
                            assert!((0..7).contains(&(local - first).num_days()), "{context}");
                        }
                        _ => {
                            assert_eq!(first.day(), 1, "{context}");
                            assert_eq!(
                                (first.year(), first.month()),
                                (local.year(), local.month()),
                                "{context}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn sizes_ignore_case_and_blanks_and_have_short_forms() {
        let ctx = context(Tz::UTC);
        let at = ["2024-01-15T10:50:00Z"];
        let hour = Some(ms("2024-01-15T10:00:00Z"));
        for size in [
            "60 minutes",
            "60m",
            "1h",
            "hour",
            "1 hour",
            " HOUR ",
            "60 Minutes",
        ] {
            assert_eq!(buckets(&ctx, size, None, &at).await, [hour], "{size}");
        }
        for (size, start) in [
            ("15m", "2024-01-15T10:45:00Z"),
            ("15 MINUTES", "2024-01-15T10:45:00Z"),
            ("30m", "2024-01-15T10:30:00Z"),
            ("Day", "2024-01-15T00:00:00Z"),
            ("WEEK", "2024-01-15T00:00:00Z"),
            (" month", "2024-01-01T00:00:00Z"),
        ] {
            assert_eq!(
                buckets(&ctx, size, None, &at).await,
                [Some(ms(start))],
                "{size}"
            );
        }
    }

    #[tokio::test]
    async fn the_default_time_zone_is_the_tenants() {
        let ctx = context(Tz::America__New_York);
        let at = ["2024-11-03T03:00:00Z"];
        let default = buckets(&ctx, "day", None, &at).await;
        assert_eq!(default, [Some(ms("2024-11-02T04:00:00Z"))]);
        assert_eq!(
            buckets(&ctx, "day", Some("America/New_York"), &at).await,
            default
        );
        assert_eq!(
            buckets(&ctx, "day", Some("UTC"), &at).await,
            [Some(ms("2024-11-03T00:00:00Z"))]
        );
    }

    #[tokio::test]
    async fn size_and_time_zone_can_be_columns_or_literals() {
        let ctx = context(Tz::Europe__Berlin);
        let batch = query(
            &ctx,
            "SELECT time_bucket(to_timestamp_millis(ts), size, tz) FROM (VALUES \
             (0, '2024-10-27T12:00:00Z', 'day', 'Europe/Berlin'), \
             (1, '2024-10-27T12:00:00Z', 'day', 'America/New_York'), \
             (2, '2024-10-27T12:40:00Z', '30m', 'Asia/Kathmandu'), \
             (3, '2024-10-27T12:40:00Z', 'month', 'UTC')) AS v(i, ts, size, tz) ORDER BY i",
        )
        .await;
        let starts: Vec<_> = as_timestamp_millisecond_array(batch.column(0).as_ref())
            .unwrap()
            .iter()
            .collect();
        let expected = [
            "2024-10-26T22:00:00Z",
            "2024-10-27T04:00:00Z",
            "2024-10-27T12:15:00Z",
            "2024-10-01T00:00:00Z",
        ];
        assert_eq!(starts, expected.map(|e| Some(ms(e))));
        // All literals: folded to a literal.
        let batch = query(
            &ctx,
            "SELECT time_bucket(to_timestamp_millis('2024-10-27T12:00:00Z'), 'day')",
        )
        .await;
        let start = as_timestamp_millisecond_array(batch.column(0).as_ref()).unwrap();
        assert_eq!(
            start.iter().collect::<Vec<_>>(),
            [Some(ms("2024-10-26T22:00:00Z"))]
        );
        assert_eq!(batch.schema().field(0).data_type(), &timestamp_type());
    }

    #[tokio::test]
    async fn any_timestamp_unit_and_zone_is_one_instant() {
        let ctx = context(Tz::Europe__Berlin);
        let at = ms("2024-10-27T01:30:00Z");
        let seconds: ArrayRef =
            Arc::new(TimestampSecondArray::from(vec![at / 1000]).with_timezone("+05:00"));
        let nanos: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![at * 1_000_000]));
        register_table(
            &ctx,
            "units",
            vec![
                (Field::new("s", seconds.data_type().clone(), false), seconds),
                (Field::new("ns", nanos.data_type().clone(), false), nanos),
            ],
            1,
            10,
        );
        let batch = query(
            &ctx,
            "SELECT time_bucket(s, 'hour'), time_bucket(ns, 'hour') FROM units",
        )
        .await;
        for column in batch.columns() {
            let start = as_timestamp_millisecond_array(column.as_ref()).unwrap();
            assert_eq!(start.value(0), ms("2024-10-27T01:00:00Z"));
        }
    }

    #[tokio::test]
    async fn null_arguments_give_null() {
        let ctx = context(Tz::UTC);
        let batch = query(
            &ctx,
            "SELECT time_bucket(NULL, 'day'), \
                    time_bucket(to_timestamp_millis('2024-01-01T00:00:00Z'), NULL), \
                    time_bucket(to_timestamp_millis('2024-01-01T00:00:00Z'), 'day', NULL)",
        )
        .await;
        for column in batch.columns() {
            assert_eq!(column.null_count(), 1, "{column:?}");
        }
        let starts = buckets(&ctx, "day", None, &["2024-01-01T10:00:00Z"]).await;
        assert_eq!(starts, [Some(ms("2024-01-01T00:00:00Z"))]);
        let batch = query(
            &ctx,
            "SELECT time_bucket(to_timestamp_millis(ts), 'day') FROM \
             (VALUES (0, '2024-01-01T10:00:00Z'), (1, NULL)) AS v(i, ts) ORDER BY i",
        )
        .await;
        let starts = as_timestamp_millisecond_array(batch.column(0).as_ref()).unwrap();
        assert_eq!(
            starts.iter().collect::<Vec<_>>(),
            [Some(ms("2024-01-01T00:00:00Z")), None]
        );
    }

    #[tokio::test]
    async fn an_unknown_size_is_an_error_naming_it_and_the_valid_ones() {
        let ctx = context(Tz::UTC);
        let expected = "time_bucket: unknown size '7 minutes'; expected one of '15 minutes', \
                        '30 minutes', '60 minutes', 'day', 'week', 'month'";
        // A literal fails while planning, even over no rows.
        let message = query_error(
            &ctx,
            "SELECT time_bucket(to_timestamp_millis(ts), '7 minutes') FROM (VALUES ('2024-01-01T00:00:00Z')) AS v(ts) WHERE false",
        )
        .await;
        assert!(message.contains(expected), "{message}");
        // A column fails on the bad row.
        let message = query_error(
            &ctx,
            "SELECT time_bucket(to_timestamp_millis('2024-01-01T00:00:00Z'), size) FROM (VALUES ('day'), ('fortnight')) AS v(size)",
        )
        .await;
        assert!(message.contains("unknown size 'fortnight'"), "{message}");
    }

    #[tokio::test]
    async fn an_unknown_time_zone_is_an_error_naming_it() {
        let ctx = context(Tz::UTC);
        for tz in ["Mars/Olympus_Mons", "europe/berlin", "CEST"] {
            let message = query_error(
                &ctx,
                &format!(
                    "SELECT time_bucket(to_timestamp_millis('2024-01-01T00:00:00Z'), 'day', '{tz}')"
                ),
            )
            .await;
            assert!(
                message.contains(&format!("time_bucket: unknown time zone '{tz}'")),
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn wrong_arguments_are_errors_naming_the_function() {
        let ctx = context(Tz::UTC);
        let message = query_error(&ctx, "SELECT time_bucket(42, 'day')").await;
        assert!(
            message.contains("time_bucket: argument 'ts' must be a timestamp, got Int64"),
            "{message}"
        );
        let message = query_error(
            &ctx,
            "SELECT time_bucket(to_timestamp_millis('2024-01-01T00:00:00Z'))",
        )
        .await;
        assert!(
            message.contains("time_bucket(ts, size [, tz]) takes 2 or 3 arguments, got 1"),
            "{message}"
        );
        let message = query_error(
            &ctx,
            "SELECT time_bucket(to_timestamp_millis('2024-01-01T00:00:00Z'), 15)",
        )
        .await;
        assert!(
            message.contains("argument 'size' must be a string"),
            "{message}"
        );
    }

    #[test]
    fn instants_out_of_range_are_errors_not_panics() {
        for at in [i64::MIN, i64::MAX, i64::MAX - 1] {
            for size in BucketSize::ALL {
                let result = bucket_start(at, size, Tz::Europe__Berlin);
                assert!(
                    matches!(result, Err(FunctionError::TimestampOutOfRange { ms }) if ms == at),
                    "{size:?} at {at}: {result:?}"
                );
            }
        }
        // At chrono's own limits, any answer will do but a panic.
        for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            for size in BucketSize::ALL {
                for tz in [
                    Tz::Pacific__Kiritimati,
                    Tz::Etc__GMTPlus12,
                    Tz::Europe__Berlin,
                ] {
                    let _ = bucket_start(at.timestamp_millis(), size, tz);
                }
            }
        }
    }
}
