//! `wait_percentile(histogram, p)`: an estimate, in milliseconds, of the p-quantile
//! (0 ≤ p ≤ 1) of the waits in a wait histogram.
//!
//! The histogram only knows how many waits fell in each bucket, so the estimate
//! interpolates linearly inside the bucket holding the quantile, as Prometheus'
//! `histogram_quantile` does: with `rank = p × total`, the bucket is the first whose
//! running count reaches `rank`, and the estimate is
//! `lower + (upper − lower) × (rank − count before it) / its count`. Bucket 0 spans
//! 0–5 000 ms. Two choices where the data cannot say more:
//!
//! - A quantile in the open last bucket (waits above 600 s) is 600 000 ms, the highest
//!   finite bound, as in Prometheus: a floor, not an estimate. Read it as "600 s or
//!   more".
//! - Empty buckets never hold the quantile, so p = 0 is the lower bound of the first
//!   non-empty bucket and p = 1 the upper bound of the last one.
//!
//! An empty histogram (all counts 0) has no quantile: NULL.

use std::sync::Arc;

use ccpulse_schemas::metrics::{WAIT_BUCKET_BOUNDS_MS, WAIT_BUCKETS};
use datafusion::arrow::array::Float64Array;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::common::cast::as_float64_array;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, Args};
use super::error::FunctionError;
use super::histogram::{Histograms, coerce_counts_list};

const NAME: &str = "wait_percentile";
const USAGE: &str = "wait_percentile(histogram, p)";

/// Accepts a p within [0, 1] (not NaN).
pub(crate) fn check_p(p: f64) -> Result<f64, FunctionError> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(FunctionError::PercentileOutOfRange { p })
    }
}

/// The p-quantile estimate of `histogram` in milliseconds (see the [module docs](self));
/// `None` when it is empty. `histogram` holds non-negative counts and `p` is in [0, 1].
pub(crate) fn percentile(histogram: &[i64; WAIT_BUCKETS], p: f64) -> Option<f64> {
    let total: i128 = histogram.iter().map(|&count| i128::from(count)).sum();
    if total <= 0 {
        return None;
    }
    let highest_finite = WAIT_BUCKET_BOUNDS_MS[WAIT_BUCKET_BOUNDS_MS.len() - 1] as f64;
    let rank = p * total as f64;
    let mut before: i128 = 0;
    for (bucket, &count) in histogram.iter().enumerate() {
        let through = before + i128::from(count);
        if count > 0 && through as f64 >= rank {
            let Some(&upper) = WAIT_BUCKET_BOUNDS_MS.get(bucket) else {
                // The open bucket above the last bound.
                return Some(highest_finite);
            };
            let lower = match bucket.checked_sub(1) {
                Some(previous) => WAIT_BUCKET_BOUNDS_MS[previous],
                None => 0,
            };
            let fraction = ((rank - before as f64) / count as f64).clamp(0.0, 1.0);
            return Some(lower as f64 + (upper - lower) as f64 * fraction);
        }
        before = through;
    }
    // Unreachable with p ≤ 1 (rank ≤ total); the highest finite bound is the safe answer.
    Some(highest_finite)
}

/// The `wait_percentile` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct WaitPercentile {
    signature: Signature,
}

impl WaitPercentile {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for WaitPercentile {
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
            args::coerce_float(NAME, "p", &arg_types[1]).map_err(FunctionError::plan)?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    /// Checks a literal p while planning.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(p) = args::literal_f64(&args, 1) {
            check_p(p).map_err(FunctionError::plan)?;
        }
        Ok(Arc::new(Field::new(NAME, DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(NAME, args.args, args.number_rows)?;
        args::check_count(USAGE, "2", args.count(), 2, 2)?;
        let histograms = Histograms::new(NAME, args.array(0)?)?;
        let ps = args.parse(1, as_float64_array, check_p)?;
        let estimates = (0..args.rows())
            .map(|row| {
                let histogram = histograms.get(args.index(0, row))?;
                Ok(histogram
                    .zip(ps.get(row))
                    .and_then(|(histogram, p)| percentile(&histogram, p)))
            })
            .collect::<Result<Float64Array, FunctionError>>()?;
        args.finish(Arc::new(estimates))
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;
    use datafusion::arrow::array::ArrayRef;

    use super::*;
    use crate::functions::test_support::{
        context, histogram_column, list_literal, query, query_error, register_table,
    };

    /// A histogram with `counts` at the given buckets and 0 elsewhere.
    fn histogram(counts: &[(usize, i64)]) -> Vec<i64> {
        let mut histogram = vec![0; WAIT_BUCKETS];
        for &(bucket, count) in counts {
            histogram[bucket] = count;
        }
        histogram
    }

    /// A histogram, a p and the expected estimate.
    type Case = (Option<Vec<i64>>, Option<f64>, Option<f64>);

    #[tokio::test]
    async fn interpolates_inside_the_bucket_holding_the_quantile() {
        // (histogram, p, expected ms), worked by hand.
        let ten_fast = histogram(&[(0, 10)]);
        // 4 waits in 5–10 s, 4 in 15–20 s.
        let two_humps = histogram(&[(1, 4), (3, 4)]);
        // 3 waits in 300–600 s, 1 above 600 s.
        let slow = histogram(&[(12, 3), (13, 1)]);
        let all_open = histogram(&[(13, 5)]);
        let cases: Vec<Case> = vec![
            (Some(ten_fast.clone()), Some(0.5), Some(2_500.0)),
            (Some(ten_fast.clone()), Some(0.1), Some(500.0)),
            (Some(ten_fast.clone()), Some(0.0), Some(0.0)),
            (Some(ten_fast), Some(1.0), Some(5_000.0)),
            (Some(two_humps.clone()), Some(0.25), Some(7_500.0)),
            (Some(two_humps.clone()), Some(0.5), Some(10_000.0)),
            (Some(two_humps.clone()), Some(0.75), Some(17_500.0)),
            // Empty buckets never hold it: p = 0 is where the waits begin, 1 where they end.
            (Some(two_humps.clone()), Some(0.0), Some(5_000.0)),
            (Some(two_humps), Some(1.0), Some(20_000.0)),
            (Some(slow.clone()), Some(0.0), Some(300_000.0)),
            (Some(slow.clone()), Some(0.5), Some(500_000.0)),
            (Some(slow.clone()), Some(0.75), Some(600_000.0)),
            // In the open bucket: the highest finite bound.
            (Some(slow.clone()), Some(0.9), Some(600_000.0)),
            (Some(all_open.clone()), Some(0.0), Some(600_000.0)),
            (Some(all_open), Some(1.0), Some(600_000.0)),
            // Empty histogram, NULL histogram, NULL p.
            (Some(vec![0; WAIT_BUCKETS]), Some(0.5), None),
            (None, Some(0.5), None),
            (Some(slow), None, None),
        ];
        let ctx = context(Tz::UTC);
        let histograms: Vec<Option<Vec<i64>>> = cases.iter().map(|c| c.0.clone()).collect();
        let ps: ArrayRef = Arc::new(Float64Array::from(
            cases.iter().map(|c| c.1).collect::<Vec<_>>(),
        ));
        let ids: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(
            0..cases.len() as i64,
        ));
        register_table(
            &ctx,
            "t",
            vec![
                (Field::new("id", DataType::Int64, false), ids),
                histogram_column("h", &histograms),
                (Field::new("p", DataType::Float64, true), ps),
            ],
            2,
            4,
        );
        let batch = query(&ctx, "SELECT wait_percentile(h, p) FROM t ORDER BY id").await;
        let estimates: Vec<Option<f64>> = as_float64_array(batch.column(0).as_ref())
            .unwrap()
            .iter()
            .collect();
        for ((histogram, p, expected), estimate) in cases.iter().zip(&estimates) {
            assert_eq!(estimate, expected, "p = {p:?} of {histogram:?}");
        }
        // Literals, and an integer p.
        let two_humps = list_literal(&histogram(&[(1, 4), (3, 4)]));
        let batch = query(
            &ctx,
            &format!("SELECT wait_percentile({two_humps}, 0.75), wait_percentile({two_humps}, 1)"),
        )
        .await;
        let values: Vec<f64> = batch
            .columns()
            .iter()
            .map(|c| as_float64_array(c.as_ref()).unwrap().value(0))
            .collect();
        assert_eq!(values, [17_500.0, 20_000.0]);
    }

    #[tokio::test]
    async fn p_outside_zero_to_one_is_an_error_naming_it() {
        let ctx = context(Tz::UTC);
        let histogram = list_literal(&[1; WAIT_BUCKETS]);
        for (p, shown) in [
            ("1.5", "1.5"),
            ("-0.1", "-0.1"),
            ("CAST('NaN' AS DOUBLE)", "NaN"),
            ("50", "50"),
        ] {
            let message =
                query_error(&ctx, &format!("SELECT wait_percentile({histogram}, {p})")).await;
            assert!(
                message.contains(&format!(
                    "wait_percentile: p must be between 0 and 1, got {shown}"
                )),
                "{p}: {message}"
            );
        }
        let message = query_error(
            &ctx,
            &format!("SELECT wait_percentile({histogram}, p) FROM (VALUES (0.5), (2.0)) AS v(p)"),
        )
        .await;
        assert!(message.contains("got 2"), "{message}");
        let message = query_error(&ctx, "SELECT wait_percentile(make_array(1, 2), 0.5)").await;
        assert!(
            message.contains("wait_percentile: a wait histogram has 14 buckets, got a list of 2"),
            "{message}"
        );
        let message = query_error(
            &ctx,
            &format!("SELECT wait_percentile({histogram}, 'median')"),
        )
        .await;
        assert!(
            message.contains("wait_percentile: argument 'p' must be a number"),
            "{message}"
        );
    }
}
