//! ccpulse's SQL functions: the arithmetic of `metrics.md` (time buckets in the tenant's
//! time zone, wait histograms, service levels) as DataFusion UDFs and UDAFs, so a report
//! written in SQL gives the same numbers as a wallboard tile or an alert.
//!
//! Register [`scalar_functions`] and [`aggregate_functions`] on every session. Each takes
//! columns or literals for any argument and never panics on its input: a bad value is a
//! [`DataFusionError::Plan`](datafusion::common::DataFusionError::Plan) when the planner
//! sees it (an argument type, a literal) and an
//! [`DataFusionError::Execution`](datafusion::common::DataFusionError::Execution) when it
//! comes from the data; the message names the function, the bad value and the valid ones.
//!
//! | function | returns | meaning | NULL | errors |
//! |---|---|---|---|---|
//! | `time_bucket(ts, size [, tz])` | `Timestamp(ms, "UTC")` | start of the bucket holding the instant `ts` (any timestamp; without a zone it is UTC) in time zone `tz` (IANA name; default: the tenant's). `size`: `'15 minutes'`, `'30 minutes'`, `'60 minutes'` (or `'15m'`, `'30m'`, `'60m'`, `'1 hour'`, `'hour'`, `'1h'`), `'day'`, `'week'` (ISO, from Monday), `'month'`; any case. DST rules in [`time_bucket`](time_bucket()) | any argument NULL → NULL | unknown size; unknown time zone; instant out of chrono's range |
//! | `wait_within(histogram, threshold_s)` | `Int64` | how many waits of a 14-bucket wait histogram (`List<Int64>`) are ≤ `threshold_s` s (any integer type): the buckets up to that bound | any argument NULL → NULL | threshold not a bucket bound (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600); histogram not 14 counts, or with a NULL or negative count |
//! | `service_level(formula, answered_within, answered, abandoned, abandoned_within, short_abandoned, flowed_out)` | `Float64` 0–1 | [`SlFormula`](ccpulse_schemas::metrics::SlFormula)'s service level; `answered` / `abandoned` must be the counts *with a known wait* (`answered_wait_count`, `abandoned_wait_count`) | empty denominator → NULL (never 0 or 1); any argument NULL → NULL | unknown formula; negative count; counts summing past 2^64 |
//! | `wait_percentile(histogram, p)` | `Float64` ms | p-quantile (0 ≤ p ≤ 1) of a wait histogram, linear inside its bucket; in the open bucket above 600 s it is 600 000 | empty histogram → NULL; any argument NULL → NULL | p outside [0, 1]; histogram as for `wait_within` |
//! | `histogram_sum(list)` (aggregate) | the input's `List<Int64>` | element-wise sum of equal-length lists | NULL lists skipped; none left → NULL | lengths differ; NULL item; sum past `Int64`; `DISTINCT` |
//! | `map_sum(map)` (aggregate) | the input's `Map<Utf8, Int64>` | per-key sum, keys sorted | NULL maps skipped; none left → NULL; only empty maps → empty map | NULL key or value; sum past `Int64`; `DISTINCT` |
//!
//! A typical rollup of `queue_intervals` to the tenant's days:
//!
//! ```sql
//! SELECT queue_id,
//!        time_bucket(interval_start, 'day') AS day,
//!        service_level('abandons_count',
//!                      wait_within(histogram_sum(answered_wait_histogram), 20),
//!                      sum(answered_wait_count), sum(abandoned_wait_count),
//!                      wait_within(histogram_sum(abandoned_wait_histogram), 20),
//!                      sum(short_abandoned), sum(flowed_out)) AS sl_20s,
//!        wait_percentile(histogram_sum(answered_wait_histogram), 0.9) AS p90_wait_ms
//! FROM queue_intervals
//! GROUP BY queue_id, day
//! ```

mod args;
mod distinct;
mod error;
mod histogram;
mod histogram_sum;
mod map_sum;
mod service_level;
mod summing;
mod time_bucket;
mod wait_percentile;
mod wait_within;

#[cfg(test)]
mod test_support;

use chrono_tz::Tz;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// Every ccpulse scalar SQL function, for a session whose tenant lives in `default_tz`
/// (the zone `time_bucket` uses when a call gives none).
pub fn scalar_functions(default_tz: Tz) -> Vec<ScalarUDF> {
    vec![
        time_bucket(default_tz),
        wait_within(),
        service_level(),
        wait_percentile(),
    ]
}

/// Every ccpulse aggregate SQL function.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![histogram_sum(), map_sum()]
}

/// `time_bucket(ts, size [, tz])`, with `default_tz` for calls without `tz`.
///
/// Sub-day sizes floor the instant in its own local wall time (the UTC offset in force
/// at that instant), so a fall-back night has two buckets for the repeated hour and a
/// spring-forward night none for the skipped one; days, weeks and months start at local
/// midnight, or at the first instant of the date when midnight falls in a DST gap. The
/// rules in full are in the function's source module.
pub fn time_bucket(default_tz: Tz) -> ScalarUDF {
    ScalarUDF::new_from_impl(time_bucket::TimeBucket::new(default_tz))
}

/// `wait_within(histogram, threshold_s)`: the waits of a wait histogram within one of
/// its bucket bounds.
pub fn wait_within() -> ScalarUDF {
    ScalarUDF::new_from_impl(wait_within::WaitWithin::new())
}

/// `service_level(formula, answered_within, answered, abandoned, abandoned_within,
/// short_abandoned, flowed_out)`: a service level by one of metrics.md's formulas.
pub fn service_level() -> ScalarUDF {
    ScalarUDF::new_from_impl(service_level::ServiceLevel::new())
}

/// `wait_percentile(histogram, p)`: the p-quantile of a wait histogram, in milliseconds.
pub fn wait_percentile() -> ScalarUDF {
    ScalarUDF::new_from_impl(wait_percentile::WaitPercentile::new())
}

/// `histogram_sum(list)`: the element-wise sum of equal-length `List<Int64>` values.
pub fn histogram_sum() -> AggregateUDF {
    AggregateUDF::new_from_impl(histogram_sum::HistogramSum::new())
}

/// `map_sum(map)`: the per-key sum of `Map<Utf8, Int64>` values.
pub fn map_sum() -> AggregateUDF {
    AggregateUDF::new_from_impl(map_sum::MapSum::new())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ccpulse_schemas::metrics::WAIT_BUCKETS;
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
    use datafusion::common::cast::{as_float64_array, as_timestamp_millisecond_array};

    use super::test_support::{context, histogram_column, ms, query, register_table};
    use super::*;

    #[test]
    fn every_function_is_listed() {
        let scalars: Vec<String> = scalar_functions(Tz::UTC)
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        assert_eq!(
            scalars,
            [
                "time_bucket",
                "wait_within",
                "service_level",
                "wait_percentile"
            ]
        );
        let aggregates: Vec<String> = aggregate_functions()
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        assert_eq!(aggregates, ["histogram_sum", "map_sum"]);
    }

    /// A histogram with `counts` at the given buckets and 0 elsewhere.
    fn histogram(counts: &[(usize, i64)]) -> Option<Vec<i64>> {
        let mut histogram = vec![0; WAIT_BUCKETS];
        for &(bucket, count) in counts {
            histogram[bucket] = count;
        }
        Some(histogram)
    }

    #[tokio::test]
    async fn the_module_example_runs() {
        // Three intervals of one queue in Europe/Berlin: the first on local 2024-10-26,
        // the other two on 2024-10-27.
        let ctx = context(Tz::Europe__Berlin);
        let starts = [
            "2024-10-26T21:45:00Z",
            "2024-10-26T22:00:00Z",
            "2024-10-27T10:00:00Z",
        ];
        let interval_start: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(starts.map(ms).to_vec()).with_timezone("UTC"));
        let int64 = |name: &str, values: [i64; 3]| -> (Field, ArrayRef) {
            (
                Field::new(name, DataType::Int64, false),
                Arc::new(Int64Array::from(values.to_vec())),
            )
        };
        register_table(
            &ctx,
            "queue_intervals",
            vec![
                (
                    Field::new("queue_id", DataType::Utf8, false),
                    Arc::new(StringArray::from(vec!["sales"; 3])),
                ),
                (
                    Field::new(
                        "interval_start",
                        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                        false,
                    ),
                    interval_start,
                ),
                histogram_column(
                    "answered_wait_histogram",
                    &[
                        histogram(&[(0, 2), (1, 1), (2, 1)]),
                        histogram(&[(0, 1), (4, 1)]),
                        histogram(&[(3, 3), (7, 1)]),
                    ],
                ),
                histogram_column(
                    "abandoned_wait_histogram",
                    &[histogram(&[]), histogram(&[(0, 1)]), histogram(&[(6, 1)])],
                ),
                int64("answered_wait_count", [4, 2, 4]),
                int64("abandoned_wait_count", [0, 1, 1]),
                int64("short_abandoned", [0, 1, 0]),
                int64("flowed_out", [0, 0, 1]),
            ],
            2,
            1,
        );
        let example = include_str!("functions.rs")
            .split("```sql\n")
            .nth(1)
            .and_then(|rest| rest.split("//! ```").next())
            .expect("the module docs have a SQL example")
            .lines()
            .map(|line| line.trim_start_matches("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        let batch = query(&ctx, &format!("{example} ORDER BY day")).await;
        let days = as_timestamp_millisecond_array(batch.column(1).as_ref()).unwrap();
        let sl = as_float64_array(batch.column(2).as_ref()).unwrap();
        let p90 = as_float64_array(batch.column(3).as_ref()).unwrap();
        // 2024-10-26: 4 of 4 answered within 20 s, no abandons; the 90th percentile of
        // 2 + 1 + 1 waits is 60 % into the 10–15 s bucket.
        // 2024-10-27: 4 of 6 answered within 20 s, 2 abandoned; the 90th percentile of
        // 6 waits is 40 % into the 60–90 s bucket.
        assert_eq!(
            days.values().to_vec(),
            [ms("2024-10-25T22:00:00Z"), ms("2024-10-26T22:00:00Z")]
        );
        assert_eq!(sl.values().to_vec(), [1.0, 0.5]);
        for (got, expected) in p90.values().iter().zip([13_000.0, 72_000.0]) {
            assert!((got - expected).abs() < 1e-6, "{got} ≠ {expected}");
        }
    }
}
