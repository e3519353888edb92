//! `service_level(formula, answered_within, answered, abandoned, abandoned_within,
//! short_abandoned, flowed_out)`: a queue's service level as a fraction (0–1), by one of
//! metrics.md's formulas.
//!
//! The arithmetic is [`SlFormula`]'s, so SQL gives the same number as a wallboard tile
//! or an alert. Its rule that an empty denominator is NULL ("—"), never 0 % or 100 %,
//! holds here too.
//!
//! `answered` and `abandoned` must be the counts *with a known wait*
//! (`answered_wait_count` and `abandoned_wait_count` of `queue_intervals`), not the
//! `answered` and `abandoned` columns: metrics.md keeps an answer without `queued` out of
//! both the numerator and the denominator. `answered_within` and `abandoned_within` come
//! from `answered_within_sl` / `abandoned_within_sl`, or from `wait_within` over the
//! wait histograms for another threshold.
//!
//! A NULL formula or count makes the result NULL, as SQL arithmetic would: a level
//! computed as if a missing count were 0 would look like a real number. A negative count
//! is an error (counters never are).

use std::sync::Arc;

use ccpulse_schemas::metrics::{SlCounts, SlFormula};
use datafusion::arrow::array::Float64Array;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::common::cast::{as_int64_array, as_string_array};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{self, Args, PerRow};
use super::error::FunctionError;

const NAME: &str = "service_level";
const USAGE: &str = "service_level(formula, answered_within, answered, abandoned, \
                     abandoned_within, short_abandoned, flowed_out)";

/// The count arguments, after the formula, in call order.
const COUNTS: [&str; 6] = [
    "answered_within",
    "answered",
    "abandoned",
    "abandoned_within",
    "short_abandoned",
    "flowed_out",
];

/// The formulas for the error message: `'answered', 'abandons_count', …`.
pub(crate) fn valid_formulas() -> String {
    SlFormula::ALL
        .iter()
        .map(|formula| format!("'{formula}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a formula name, spelled exactly as in the config.
pub(crate) fn parse_formula(text: &str) -> Result<SlFormula, FunctionError> {
    SlFormula::parse(text).ok_or_else(|| FunctionError::UnknownFormula {
        formula: text.to_owned(),
    })
}

/// The service level of one row: `None` when the denominator is empty.
fn value(formula: SlFormula, counts: &SlCounts) -> Result<Option<f64>, FunctionError> {
    // The formulas add subsets of the six counts as `u64`: bounding their total bounds
    // every sum, so the arithmetic cannot overflow.
    let total: u128 = [
        counts.answered_within,
        counts.answered_with_wait,
        counts.abandoned_with_wait,
        counts.abandoned_within,
        counts.short_abandoned,
        counts.flowed_out,
    ]
    .iter()
    .map(|&count| u128::from(count))
    .sum();
    if total > u128::from(u64::MAX) {
        return Err(FunctionError::CountOverflow);
    }
    Ok(formula.value(counts))
}

/// The `service_level` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ServiceLevel {
    signature: Signature,
}

impl ServiceLevel {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ServiceLevel {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_count(USAGE, "7", arg_types.len(), 7, 7).map_err(FunctionError::plan)?;
        let mut types =
            vec![args::coerce_string(NAME, "formula", &arg_types[0]).map_err(FunctionError::plan)?];
        for (argument, data_type) in COUNTS.iter().zip(&arg_types[1..]) {
            types.push(
                args::coerce_integer(NAME, argument, data_type).map_err(FunctionError::plan)?,
            );
        }
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    /// Checks a literal formula while planning.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(formula) = args::literal_str(&args, 0) {
            parse_formula(formula).map_err(FunctionError::plan)?;
        }
        Ok(Arc::new(Field::new(NAME, DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(NAME, args.args, args.number_rows)?;
        args::check_count(USAGE, "7", args.count(), 7, 7)?;
        let formulas = args.parse(0, as_string_array, parse_formula)?;
        let counts = COUNTS
            .iter()
            .enumerate()
            .map(|(i, &argument)| {
                args.parse(i + 1, as_int64_array, |value| {
                    u64::try_from(value)
                        .map_err(|_| FunctionError::NegativeCount { argument, value })
                })
            })
            .collect::<Result<Vec<PerRow<u64>>>>()?;
        let levels = (0..args.rows())
            .map(|row| {
                let Some(formula) = formulas.get(row) else {
                    return Ok(None);
                };
                let mut values = [0_u64; COUNTS.len()];
                for (value, count) in values.iter_mut().zip(&counts) {
                    match count.get(row) {
                        Some(v) => *value = v,
                        None => return Ok(None),
                    }
                }
                let [
                    answered_within,
                    answered_with_wait,
                    abandoned_with_wait,
                    abandoned_within,
                    short_abandoned,
                    flowed_out,
                ] = values;
                let counts = SlCounts {
                    answered_within,
                    answered_with_wait,
                    abandoned_with_wait,
                    abandoned_within,
                    short_abandoned,
                    flowed_out,
                };
                value(formula, &counts)
            })
            .collect::<Result<Float64Array, FunctionError>>()?;
        args.finish(Arc::new(levels))
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;
    use datafusion::arrow::array::{Array, ArrayRef, Int32Array, Int64Array, StringArray};
    use datafusion::common::cast::as_float64_array;

    use super::*;
    use crate::functions::test_support::{context, query, query_error, register_table};

    /// answered_within, answered, abandoned, abandoned_within, short_abandoned, flowed_out.
    const CASES: [[i64; 6]; 8] = [
        [8, 10, 4, 2, 1, 2],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 3],
        [0, 0, 2, 2, 2, 0],
        [5, 5, 0, 0, 0, 0],
        [3, 7, 5, 1, 4, 0],
        [0, 4, 6, 6, 0, 1],
        [1, 1, 3, 0, 3, 0],
    ];

    /// The six counts of row `row`, from the six columns starting at `first` (Int64, or
    /// Int32 where a test casts one).
    fn counts_at(
        batch: &datafusion::arrow::record_batch::RecordBatch,
        first: usize,
        row: usize,
    ) -> [i64; 6] {
        std::array::from_fn(|i| {
            let column = batch.column(first + i);
            match as_int64_array(column.as_ref()) {
                Ok(values) => values.value(row),
                Err(_) => i64::from(
                    column
                        .as_any()
                        .downcast_ref::<Int32Array>()
                        .unwrap()
                        .value(row),
                ),
            }
        })
    }

    fn counts(case: [i64; 6]) -> SlCounts {
        let [aw, a, ab, abw, sab, f] = case.map(|c| c as u64);
        SlCounts {
            answered_within: aw,
            answered_with_wait: a,
            abandoned_with_wait: ab,
            abandoned_within: abw,
            short_abandoned: sab,
            flowed_out: f,
        }
    }

    /// Registers `t`: every formula against every case, `flowed_out` as `Int32`.
    fn cases_context() -> datafusion::prelude::SessionContext {
        let ctx = context(Tz::UTC);
        let rows: Vec<(SlFormula, [i64; 6])> = SlFormula::ALL
            .iter()
            .flat_map(|&f| CASES.iter().map(move |&case| (f, case)))
            .collect();
        let mut columns = vec![(
            Field::new("formula", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(f, _)| f.as_str()),
            )) as ArrayRef,
        )];
        for (i, name) in COUNTS.iter().enumerate() {
            let values = rows.iter().map(|(_, case)| case[i]);
            let (data_type, array): (DataType, ArrayRef) = if *name == "flowed_out" {
                let values = values.map(|v| i32::try_from(v).unwrap());
                (
                    DataType::Int32,
                    Arc::new(Int32Array::from_iter_values(values)),
                )
            } else {
                (
                    DataType::Int64,
                    Arc::new(Int64Array::from_iter_values(values)),
                )
            };
            columns.push((Field::new(*name, data_type, false), array));
        }
        register_table(&ctx, "t", columns, 3, 4);
        ctx
    }

    const ARGS: &str =
        "answered_within, answered, abandoned, abandoned_within, short_abandoned, flowed_out";

    #[tokio::test]
    async fn every_formula_matches_sl_formula_value() {
        let ctx = cases_context();
        // The formula as a column.
        let batch = query(
            &ctx,
            &format!("SELECT formula, {ARGS}, service_level(formula, {ARGS}) FROM t"),
        )
        .await;
        let formulas = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let levels = as_float64_array(batch.column(7).as_ref()).unwrap();
        assert_eq!(levels.len(), SlFormula::ALL.len() * CASES.len());
        for row in 0..levels.len() {
            let formula = SlFormula::parse(formulas.value(row)).unwrap();
            let case = counts_at(&batch, 1, row);
            let level = levels.is_valid(row).then(|| levels.value(row));
            assert_eq!(level, formula.value(&counts(case)), "{formula} of {case:?}");
        }
        // The formula as a literal.
        for formula in SlFormula::ALL {
            let batch = query(
                &ctx,
                &format!(
                    "SELECT {ARGS}, service_level('{formula}', {ARGS}) FROM t WHERE formula = '{formula}'"
                ),
            )
            .await;
            assert_eq!(batch.num_rows(), CASES.len());
            let levels = as_float64_array(batch.column(6).as_ref()).unwrap();
            for row in 0..batch.num_rows() {
                let case = counts_at(&batch, 0, row);
                let level = levels.is_valid(row).then(|| levels.value(row));
                assert_eq!(level, formula.value(&counts(case)), "{formula} of {case:?}");
            }
        }
    }

    #[tokio::test]
    async fn an_empty_denominator_is_null_never_zero_or_one() {
        let ctx = context(Tz::UTC);
        for formula in SlFormula::ALL {
            let batch = query(
                &ctx,
                &format!("SELECT service_level('{formula}', 0, 0, 0, 0, 0, 0)"),
            )
            .await;
            assert!(batch.column(0).is_null(0), "{formula}");
        }
        // Only flow-outs: 0 for the formula that counts them, NULL for the others.
        let batch = query(
            &ctx,
            "SELECT service_level('all_offered', 0, 0, 0, 0, 0, 3), \
                    service_level('abandons_count', 0, 0, 0, 0, 0, 3)",
        )
        .await;
        assert_eq!(
            as_float64_array(batch.column(0).as_ref()).unwrap().value(0),
            0.0
        );
        assert!(batch.column(1).is_null(0));
        let batch = query(&ctx, "SELECT service_level('answered', 8, 10, 4, 2, 1, 2)").await;
        assert_eq!(
            as_float64_array(batch.column(0).as_ref()).unwrap().value(0),
            0.8
        );
    }

    #[tokio::test]
    async fn a_null_argument_gives_null() {
        let ctx = context(Tz::UTC);
        let mut calls = vec!["service_level(NULL, 8, 10, 4, 2, 1, 2)".to_owned()];
        for i in 0..COUNTS.len() {
            let mut counts = ["8", "10", "4", "2", "1", "2"];
            counts[i] = "NULL";
            calls.push(format!(
                "service_level('all_offered', {})",
                counts.join(", ")
            ));
        }
        let batch = query(&ctx, &format!("SELECT {}", calls.join(", "))).await;
        for (call, column) in calls.iter().zip(batch.columns()) {
            assert!(column.is_null(0), "{call}");
        }
    }

    #[tokio::test]
    async fn bad_arguments_are_errors_naming_them() {
        let ctx = context(Tz::UTC);
        for (sql, expected) in [
            (
                "SELECT service_level('fast', 8, 10, 4, 2, 1, 2)".to_owned(),
                "service_level: unknown formula 'fast'; expected one of 'answered', \
                 'abandons_count', 'ignore_short_abandons', 'abandons_after_t', \
                 'abandons_within_t_good', 'all_offered'"
                    .to_owned(),
            ),
            (
                "SELECT service_level(f, 8, 10, 4, 2, 1, 2) FROM (VALUES ('answered'), ('Answered')) AS v(f)".to_owned(),
                "unknown formula 'Answered'".to_owned(),
            ),
            (
                "SELECT service_level('answered', 8, 10, -3, 2, 1, 2)".to_owned(),
                "service_level: abandoned must not be negative, got -3".to_owned(),
            ),
            (
                "SELECT service_level('answered', 8, 10, 4, 2, 1, a) FROM (VALUES (0), (-1)) AS v(a)".to_owned(),
                "service_level: flowed_out must not be negative, got -1".to_owned(),
            ),
            (
                format!("SELECT service_level('all_offered', 0, {m}, {m}, 0, 0, {m})", m = i64::MAX),
                "service_level: the counts are too large to add up".to_owned(),
            ),
            (
                "SELECT service_level('answered', 8, 10, 4, 2, 1)".to_owned(),
                "takes 7 arguments, got 6".to_owned(),
            ),
            (
                "SELECT service_level('answered', 8, 10, 4.5, 2, 1, 2)".to_owned(),
                "service_level: argument 'abandoned' must be an integer, got Float64".to_owned(),
            ),
        ] {
            let message = query_error(&ctx, &sql).await;
            assert!(message.contains(&expected), "{sql}: {message}");
        }
    }
}
