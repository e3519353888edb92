//! `wait_within(histogram, threshold_s)`: how many of the waits in a wait histogram were
//! at most `threshold_s` seconds.
//!
//! The histogram's buckets have inclusive upper bounds ([`WAIT_BUCKET_BOUNDS_MS`]), so
//! the waits within a bound are exactly the buckets up to it: a prefix sum. That is what
//! lets a report compute a service level for any of those thresholds after the fact
//! (metrics.md). A threshold between two bounds would need a guess about how the waits
//! spread inside a bucket, so it is an error, not an estimate; for a queue's own
//! configured threshold the tables also hold `answered_within_sl` and
//! `abandoned_within_sl`.

use std::sync::Arc;

use ccpulse_schemas::metrics::WAIT_BUCKET_BOUNDS_MS;
use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::common::cast::as_int64_array;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, Args};
use super::error::FunctionError;
use super::histogram::{Histograms, coerce_counts_list};

const NAME: &str = "wait_within";
const USAGE: &str = "wait_within(histogram, threshold_s)";

/// The thresholds a histogram can answer, for the error message: `5, 10, …, 600`.
pub(crate) fn valid_thresholds() -> String {
    WAIT_BUCKET_BOUNDS_MS
        .iter()
        .map(|bound| (bound / 1000).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The index of the bucket whose upper bound is `threshold_s` seconds.
pub(crate) fn threshold_bucket(threshold_s: i64) -> Result<usize, FunctionError> {
    threshold_s
        .checked_mul(1000)
        .and_then(|ms| WAIT_BUCKET_BOUNDS_MS.iter().position(|&bound| bound == ms))
        .ok_or(FunctionError::UnknownThreshold { threshold_s })
}

/// The `wait_within` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct WaitWithin {
    signature: Signature,
}

impl WaitWithin {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for WaitWithin {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_count(USAGE, "2", arg_types.len(), 2, 2).map_err(FunctionError::plan)?;
        Ok(vec![
            coerce_counts_list(NAME, "histogram", &arg_types[0]).map_err(FunctionError::plan)?,
            args::coerce_integer(NAME, "threshold_s", &arg_types[1])
                .map_err(FunctionError::plan)?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    /// Checks a literal threshold while planning.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(threshold_s) = args::literal_i64(&args, 1) {
            threshold_bucket(threshold_s).map_err(FunctionError::plan)?;
        }
        Ok(Arc::new(Field::new(NAME, DataType::Int64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(NAME, args.args, args.number_rows)?;
        args::check_count(USAGE, "2", args.count(), 2, 2)?;
        let histograms = Histograms::new(NAME, args.array(0)?)?;
        let last_buckets = args.parse(1, as_int64_array, threshold_bucket)?;
        let counts = (0..args.rows())
            .map(|row| {
                let (Some(histogram), Some(last)) =
                    (histograms.get(args.index(0, row))?, last_buckets.get(row))
                else {
                    return Ok(None);
                };
                histogram[..=last]
                    .iter()
                    .try_fold(0_i64, |sum, &count| sum.checked_add(count))
                    .map(Some)
                    .ok_or(FunctionError::SumOverflow { function: NAME })
            })
            .collect::<Result<Int64Array, FunctionError>>()?;
        args.finish(Arc::new(counts))
    }
}

#[cfg(test)]
mod tests {
    use ccpulse_schemas::metrics::{WAIT_BUCKETS, wait_bucket};
    use chrono_tz::Tz;
    use datafusion::arrow::array::{Array, ArrayRef};

    use super::*;
    use crate::functions::test_support::{
        context, histogram_column, list_literal, query, query_error, register_table,
    };

    /// Waits on, just below and just above every bound (the bounds repeated a different
    /// number of times, so the bucket counts differ), and far above the last.
    fn waits() -> Vec<i64> {
        let mut waits = vec![0, 1, 600_001, 3_600_000, 86_400_000];
        for (i, &bound) in WAIT_BUCKET_BOUNDS_MS.iter().enumerate() {
            waits.extend(std::iter::repeat_n(bound, i + 1));
            waits.extend([bound - 1, bound + 1]);
        }
        waits
    }

    fn histogram_of(waits: &[i64]) -> Vec<i64> {
        let mut histogram = vec![0; WAIT_BUCKETS];
        for &wait in waits {
            histogram[wait_bucket(wait)] += 1;
        }
        histogram
    }

    /// The brute-force answer: the waits of at most `threshold_s` seconds.
    fn within(waits: &[i64], threshold_s: i64) -> i64 {
        waits.iter().filter(|&&w| w <= threshold_s * 1000).count() as i64
    }

    fn thresholds() -> Vec<i64> {
        WAIT_BUCKET_BOUNDS_MS.iter().map(|b| b / 1000).collect()
    }

    #[tokio::test]
    async fn counts_the_waits_within_every_bound() {
        let waits = waits();
        let histogram = histogram_of(&waits);
        let ctx = context(Tz::UTC);
        let thresholds = thresholds();
        let rows = vec![Some(histogram.clone()); thresholds.len()];
        let threshold_column: ArrayRef = Arc::new(Int64Array::from(thresholds.clone()));
        register_table(
            &ctx,
            "t",
            vec![
                histogram_column("h", &rows),
                (
                    Field::new("threshold_s", DataType::Int64, false),
                    threshold_column,
                ),
            ],
            2,
            3,
        );
        // Both arguments columns.
        let batch = query(
            &ctx,
            "SELECT threshold_s, wait_within(h, threshold_s) FROM t",
        )
        .await;
        let (ts, counts) = (
            as_int64_array(batch.column(0).as_ref()).unwrap(),
            as_int64_array(batch.column(1).as_ref()).unwrap(),
        );
        assert_eq!(counts.len(), thresholds.len());
        for (t, count) in ts.iter().zip(counts) {
            let t = t.unwrap();
            assert_eq!(count, Some(within(&waits, t)), "within {t} s");
        }
        for t in thresholds {
            // A column histogram, a literal threshold.
            let batch = query(&ctx, &format!("SELECT wait_within(h, {t}) FROM t LIMIT 1")).await;
            let count = as_int64_array(batch.column(0).as_ref()).unwrap().value(0);
            assert_eq!(count, within(&waits, t), "within {t} s");
            // All literals, and a threshold of a smaller integer type.
            let sql = format!(
                "SELECT wait_within({}, CAST({t} AS SMALLINT))",
                list_literal(&histogram)
            );
            let batch = query(&ctx, &sql).await;
            let count = as_int64_array(batch.column(0).as_ref()).unwrap().value(0);
            assert_eq!(count, within(&waits, t), "within {t} s");
        }
        // Every wait is within the last bound but those above 600 s.
        assert_eq!(within(&waits, 600), waits.len() as i64 - 4);
    }

    #[tokio::test]
    async fn null_arguments_give_null() {
        let ctx = context(Tz::UTC);
        let histogram = list_literal(&[1; WAIT_BUCKETS]);
        let batch = query(
            &ctx,
            &format!("SELECT wait_within(NULL, 20), wait_within({histogram}, NULL)"),
        )
        .await;
        for column in batch.columns() {
            assert!(column.is_null(0), "{column:?}");
        }
        register_table(
            &ctx,
            "t",
            vec![histogram_column("h", &[None, Some(vec![2; WAIT_BUCKETS])])],
            1,
            10,
        );
        let batch = query(&ctx, "SELECT wait_within(h, 20) FROM t").await;
        let counts: Vec<_> = as_int64_array(batch.column(0).as_ref())
            .unwrap()
            .iter()
            .collect();
        assert_eq!(counts, [None, Some(8)]);
    }

    #[tokio::test]
    async fn a_threshold_between_bounds_is_an_error_listing_the_bounds() {
        let ctx = context(Tz::UTC);
        let histogram = list_literal(&[1; WAIT_BUCKETS]);
        let bounds = "5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600";
        for threshold in ["25", "0", "-5", "3600", "9223372036854775807"] {
            let message = query_error(
                &ctx,
                &format!("SELECT wait_within({histogram}, {threshold})"),
            )
            .await;
            assert!(
                message.contains(&format!(
                    "wait_within: no wait histogram bucket ends at {threshold} s"
                )),
                "{message}"
            );
            assert!(message.contains(bounds), "{message}");
        }
        // From a column, while executing.
        let message = query_error(
            &ctx,
            &format!("SELECT wait_within({histogram}, t) FROM (VALUES (20), (21)) AS v(t)"),
        )
        .await;
        assert!(message.contains("ends at 21 s"), "{message}");
    }

    #[tokio::test]
    async fn a_histogram_that_is_not_fourteen_counts_is_an_error() {
        let ctx = context(Tz::UTC);
        let mut negative = [1; WAIT_BUCKETS];
        negative[1] = -1;
        let mut overflowing = [0; WAIT_BUCKETS];
        overflowing[0] = i64::MAX;
        overflowing[1] = 1;
        let with_null = format!("make_array(1, NULL{})", ", 0".repeat(WAIT_BUCKETS - 2));
        for (histogram, expected) in [
            (
                list_literal(&[1, 2, 3]),
                "wait_within: a wait histogram has 14 buckets, got a list of 3",
            ),
            (list_literal(&[1; 15]), "got a list of 15"),
            (
                list_literal(&negative),
                "bucket 2 of 14 of the wait histogram is negative (-1)",
            ),
            (with_null, "bucket 2 of 14 of the wait histogram is NULL"),
            (
                list_literal(&overflowing),
                "wait_within: the sum overflows Int64",
            ),
        ] {
            let message = query_error(&ctx, &format!("SELECT wait_within({histogram}, 10)")).await;
            assert!(message.contains(expected), "{histogram}: {message}");
        }
        let message = query_error(&ctx, "SELECT wait_within(make_array(1.5), 20)").await;
        assert!(
            message.contains("wait_within: argument 'histogram' must be a list of integer counts"),
            "{message}"
        );
        let histogram = list_literal(&[1; WAIT_BUCKETS]);
        let message = query_error(&ctx, &format!("SELECT wait_within({histogram}, 20.5)")).await;
        assert!(
            message.contains("wait_within: argument 'threshold_s' must be an integer, got Float64"),
            "{message}"
        );
    }
}
