//! What the two summing aggregates, `histogram_sum` and `map_sum`, share: the result has
//! the input's type, and the state is one column of running sums in that type.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::StateFieldsArgs;
use datafusion::logical_expr::utils::format_state_name;

use super::error::FunctionError;

/// The result type of a one-argument summing aggregate: its argument's (coerced) type.
pub(crate) fn input_type(usage: &'static str, arg_types: &[DataType]) -> Result<DataType> {
    match arg_types {
        [data_type] => Ok(data_type.clone()),
        _ => Err(FunctionError::ArgumentCount {
            usage,
            expected: "1",
            got: arg_types.len(),
        }
        .plan()),
    }
}

/// One state column: the running sums, in the result's type.
pub(crate) fn sums_state(args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
    Ok(vec![Arc::new(Field::new(
        format_state_name(args.name, "sums"),
        args.return_type().clone(),
        true,
    ))])
}
