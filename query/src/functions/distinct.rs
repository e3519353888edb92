//! Why `histogram_sum` and `map_sum` refuse `DISTINCT`, and where they do.
//!
//! Two intervals with equal histograms (or equal away-reason maps) are two real
//! intervals: summing only the distinct ones is never what a report means, so
//! `histogram_sum(DISTINCT h)` is an error rather than a quiet undercount. The check has
//! to come early: DataFusion's optimizer rewrites a lone `DISTINCT` aggregate into a
//! `GROUP BY` of its argument, after which the accumulator never learns it was asked
//! for distinct values. Expression simplification runs before that rewrite, so the
//! check sits in [`AggregateUDFImpl::simplify`](datafusion::logical_expr::AggregateUDFImpl::simplify),
//! with the accumulator's own check as a backstop for plans that skip the optimizer.

use datafusion::logical_expr::Expr;
use datafusion::logical_expr::function::AggregateFunctionSimplification;

use super::error::FunctionError;

/// A simplification of aggregate `function` that fails for `DISTINCT` and otherwise
/// leaves the call as it is.
pub(crate) fn reject_distinct(function: &'static str) -> AggregateFunctionSimplification {
    Box::new(move |call, _| {
        if call.params.distinct {
            Err(FunctionError::Distinct { function }.plan())
        } else {
            Ok(Expr::AggregateFunction(call))
        }
    })
}
