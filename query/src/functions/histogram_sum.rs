//! `histogram_sum(list)`: the element-wise sum of equal-length `List<Int64>` values, the
//! way wait histograms roll up from 15-minute intervals to days, queues to a tenant.
//!
//! The result has the input's type (the tables' `List<Int64>` with a non-nullable
//! `item`), so a rolled-up histogram goes back into `wait_within`, `wait_percentile` or
//! another `histogram_sum` like a stored one. NULL lists are skipped, as `SUM` skips
//! NULLs; with no non-NULL list the result is NULL. Lists of different lengths, NULL
//! items and sums beyond `Int64` are errors: there is no right answer to guess.
//!
//! The partial state is the running sums in the result's type, so DataFusion can sum
//! partitions in parallel and merge them (`merge_batch` is `update_batch`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::cast::{as_int64_array, as_list_array};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::args;
use super::distinct::reject_distinct;
use super::error::FunctionError;
use super::histogram::coerce_counts_list;
use super::summing;

const NAME: &str = "histogram_sum";
const USAGE: &str = "histogram_sum(list)";

/// The `histogram_sum` aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct HistogramSum {
    signature: Signature,
}

impl HistogramSum {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for HistogramSum {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_count(USAGE, "1", arg_types.len(), 1, 1).map_err(FunctionError::plan)?;
        Ok(vec![
            coerce_counts_list(NAME, "list", &arg_types[0]).map_err(FunctionError::plan)?,
        ])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        summing::input_type(USAGE, arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return Err(FunctionError::Distinct { function: NAME }.plan());
        }
        Ok(Box::new(HistogramSumAccumulator::new(args.return_type())?))
    }

    /// One state column: the running sums, in the result's type.
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        summing::sums_state(args)
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }

    /// Refuses `DISTINCT` before the optimizer rewrites it away (see [`distinct`](super::distinct)).
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        Some(reject_distinct(NAME))
    }
}

/// The running element-wise sums of one group.
#[derive(Debug)]
struct HistogramSumAccumulator {
    /// The item field of the result's `List`, kept so the result's type is the input's.
    item: FieldRef,
    /// `None` until the first non-NULL list.
    sums: Option<Vec<i64>>,
}

impl HistogramSumAccumulator {
    fn new(data_type: &DataType) -> Result<Self> {
        match data_type {
            DataType::List(item) => Ok(Self {
                item: Arc::clone(item),
                sums: None,
            }),
            other => Err(DataFusionError::Internal(format!(
                "{NAME}: expected a List result type, got {other}"
            ))),
        }
    }

    /// Adds every non-NULL list of `lists` (input values or partial sums alike).
    fn add(&mut self, lists: &ArrayRef) -> Result<()> {
        let lists: &ListArray = as_list_array(lists.as_ref())?;
        let items = as_int64_array(lists.values().as_ref())?;
        for (row, bounds) in lists.value_offsets().windows(2).enumerate() {
            if lists.is_null(row) {
                continue;
            }
            let (start, end) = (bounds[0].max(0) as usize, bounds[1].max(0) as usize);
            self.add_list(items, start..end.max(start))?;
        }
        Ok(())
    }

    /// Adds the items `range` of `items`: one list.
    fn add_list(&mut self, items: &Int64Array, range: std::ops::Range<usize>) -> Result<()> {
        let len = range.len();
        let values = items.values().get(range.clone()).ok_or_else(|| {
            DataFusionError::Internal(format!("{NAME}: list offsets beyond its items"))
        })?;
        if items.null_count() > 0
            && let Some(position) = range.clone().position(|i| items.is_null(i))
        {
            return Err(FunctionError::NullListItem {
                position: position + 1,
                len,
            }
            .into());
        }
        match &mut self.sums {
            None => self.sums = Some(values.to_vec()),
            Some(sums) if sums.len() != len => {
                return Err(FunctionError::ListLengthMismatch {
                    expected: sums.len(),
                    got: len,
                }
                .into());
            }
            Some(sums) => {
                for (sum, &value) in sums.iter_mut().zip(values) {
                    *sum = sum
                        .checked_add(value)
                        .ok_or(FunctionError::SumOverflow { function: NAME })?;
                }
            }
        }
        Ok(())
    }

    /// The sums as a one-row list, NULL before any list.
    fn to_scalar(&self) -> Result<ScalarValue> {
        let list = match &self.sums {
            None => ListArray::new_null(Arc::clone(&self.item), 1),
            Some(sums) => {
                if i32::try_from(sums.len()).is_err() {
                    return Err(DataFusionError::Execution(format!(
                        "{NAME}: a list of {} items is too long for a List",
                        sums.len()
                    )));
                }
                ListArray::try_new(
                    Arc::clone(&self.item),
                    OffsetBuffer::from_lengths([sums.len()]),
                    Arc::new(Int64Array::from(sums.clone())),
                    None,
                )?
            }
        };
        Ok(ScalarValue::List(Arc::new(list)))
    }
}

impl Accumulator for HistogramSumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values {
            [lists] => self.add(lists),
            _ => Err(DataFusionError::Internal(format!(
                "{NAME}: expected 1 input column, got {}",
                values.len()
            ))),
        }
    }

    /// Partial sums add up like lists.
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        match states {
            [sums] => self.add(sums),
            _ => Err(DataFusionError::Internal(format!(
                "{NAME}: expected 1 state column, got {}",
                states.len()
            ))),
        }
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.to_scalar()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.to_scalar()
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.sums.as_ref().map_or(0, |sums| sums.capacity() * 8)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ccpulse_schemas::metrics::WAIT_BUCKETS;
    use chrono_tz::Tz;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::Field;
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::functions::test_support::{
        context, histogram_column, histogram_type, physical_plan, query, query_error,
        register_table,
    };

    type Rows = Vec<(&'static str, Option<Vec<i64>>)>;

    /// 60 rows of queues `a`, `b`, `c` (`c` only NULL histograms), every fifth NULL,
    /// registered as `t` over 4 partitions of 3-row batches.
    fn table() -> (SessionContext, Rows) {
        let rows: Rows = (0..60_i64)
            .map(|r| {
                let queue = ["a", "b", "c"][(r % 3) as usize];
                let histogram = (queue != "c" && r % 5 != 0).then(|| {
                    (0..WAIT_BUCKETS as i64)
                        .map(|i| (r * 7 + i * 3) % 11)
                        .collect()
                });
                (queue, histogram)
            })
            .collect();
        let ctx = context(Tz::UTC);
        let queues: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0)));
        let histograms: Vec<Option<Vec<i64>>> = rows.iter().map(|r| r.1.clone()).collect();
        register_table(
            &ctx,
            "t",
            vec![
                (Field::new("queue", DataType::Utf8, false), queues),
                histogram_column("h", &histograms),
            ],
            4,
            3,
        );
        (ctx, rows)
    }

    /// The plain Rust sum of `rows` per queue.
    fn sums(rows: &Rows) -> BTreeMap<&'static str, Option<Vec<i64>>> {
        let mut sums: BTreeMap<&str, Option<Vec<i64>>> = BTreeMap::new();
        for (queue, histogram) in rows {
            let sum = sums.entry(queue).or_default();
            if let Some(histogram) = histogram {
                match sum {
                    None => *sum = Some(histogram.clone()),
                    Some(sum) => sum.iter_mut().zip(histogram).for_each(|(s, h)| *s += h),
                }
            }
        }
        sums
    }

    /// The lists of a `List<Int64>` column.
    fn lists(column: &ArrayRef) -> Vec<Option<Vec<i64>>> {
        let lists = as_list_array(column.as_ref()).unwrap();
        (0..lists.len())
            .map(|row| {
                lists.is_valid(row).then(|| {
                    as_int64_array(lists.value(row).as_ref())
                        .unwrap()
                        .values()
                        .to_vec()
                })
            })
            .collect()
    }

    #[tokio::test]
    async fn sums_per_group_across_partitions_like_a_plain_sum() {
        let (ctx, rows) = table();
        let sql = "SELECT queue, histogram_sum(h) FROM t GROUP BY queue ORDER BY queue";
        // Partial sums per partition, merged in a final stage.
        let plan = physical_plan(&ctx, sql).await;
        assert!(plan.contains("mode=Partial"), "{plan}");
        assert!(plan.contains("mode=FinalPartitioned"), "{plan}");
        let batch = query(&ctx, sql).await;
        assert_eq!(batch.schema().field(1).data_type(), &histogram_type());
        let queues = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let got: BTreeMap<&str, Option<Vec<i64>>> = queues
            .iter()
            .map(Option::unwrap)
            .zip(lists(batch.column(1)))
            .collect();
        let expected = sums(&rows);
        assert_eq!(got, expected);
        // Queue c has only NULL histograms.
        assert_eq!(got["c"], None);
        assert!(got["a"].is_some());
    }

    #[tokio::test]
    async fn sums_a_whole_table_and_feeds_the_histogram_functions() {
        let (ctx, rows) = table();
        let all: Rows = rows.iter().map(|(_, h)| ("all", h.clone())).collect();
        let total = sums(&all)["all"].clone().unwrap();
        let sql = "SELECT histogram_sum(h), wait_within(histogram_sum(h), 20) FROM t";
        let plan = physical_plan(&ctx, sql).await;
        assert!(plan.contains("mode=Partial"), "{plan}");
        let batch = query(&ctx, sql).await;
        assert_eq!(lists(batch.column(0)), [Some(total.clone())]);
        let within = as_int64_array(batch.column(1).as_ref()).unwrap().value(0);
        assert_eq!(within, total[..4].iter().sum::<i64>());
        // No rows: NULL.
        let batch = query(&ctx, "SELECT histogram_sum(h) FROM t WHERE queue = 'none'").await;
        assert_eq!(lists(batch.column(0)), [None]);
    }

    #[tokio::test]
    async fn takes_any_integer_list_and_returns_int64() {
        let ctx = context(Tz::UTC);
        let batch = query(
            &ctx,
            "SELECT histogram_sum(x) FROM (VALUES \
             (make_array(CAST(1 AS INT), CAST(2 AS INT))), (NULL), (make_array(CAST(30 AS INT), CAST(40 AS INT)))) AS v(x)",
        )
        .await;
        assert_eq!(
            batch.schema().field(0).data_type(),
            &DataType::new_list(DataType::Int64, true)
        );
        assert_eq!(lists(batch.column(0)), [Some(vec![31, 42])]);
    }

    #[tokio::test]
    async fn bad_input_is_an_error_naming_it() {
        let (ctx, _) = table();
        let message = query_error(
            &ctx,
            "SELECT histogram_sum(x) FROM (VALUES (make_array(1, 2, 3)), (make_array(4, 5))) AS v(x)",
        )
        .await;
        assert!(
            message.contains("histogram_sum: cannot add a list of 2 items to lists of 3 items")
                || message
                    .contains("histogram_sum: cannot add a list of 3 items to lists of 2 items"),
            "{message}"
        );
        for (sql, expected) in [
            (
                "SELECT histogram_sum(x) FROM (VALUES (make_array(1, NULL, 3))) AS v(x)",
                "histogram_sum: item 2 of a list of 3 is NULL",
            ),
            (
                "SELECT histogram_sum(x) FROM (VALUES (make_array(9223372036854775807)), (make_array(1))) AS v(x)",
                "histogram_sum: the sum overflows Int64",
            ),
            (
                "SELECT histogram_sum(DISTINCT h) FROM t",
                "histogram_sum: DISTINCT is not supported",
            ),
            // Not rewritten into a GROUP BY by the optimizer: the same answer.
            (
                "SELECT histogram_sum(DISTINCT h), count(DISTINCT queue) FROM t",
                "histogram_sum: DISTINCT is not supported",
            ),
            (
                "SELECT histogram_sum(queue) FROM t",
                "histogram_sum: argument 'list' must be a list of integer counts (List<Int64>), got Utf8",
            ),
        ] {
            let message = query_error(&ctx, sql).await;
            assert!(message.contains(expected), "{sql}: {message}");
        }
    }
}
