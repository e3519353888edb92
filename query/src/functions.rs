//! TEMPORARY stand-in until the functions branch is merged.
use chrono_tz::Tz;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::functions_aggregate::sum::sum_udaf;

pub fn scalar_functions(_default_tz: Tz) -> Vec<ScalarUDF> { Vec::new() }
pub fn aggregate_functions() -> Vec<AggregateUDF> { Vec::new() }
pub fn histogram_sum() -> AggregateUDF { datafusion::functions_aggregate::min_max::max_udaf().as_ref().clone() }
pub fn map_sum() -> AggregateUDF { sum_udaf().as_ref().clone() }
