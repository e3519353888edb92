//! The arguments of a scalar function call: their coercion at planning time, their
//! literal values when the planner knows them, and their per-row values at execution,
//! where each is either a column or a literal that stands for every row.
//!
//! Literal arguments (a bucket size, a formula name, a threshold) are the common case,
//! so they are parsed once per batch rather than once per row, and a call whose
//! arguments are all literals answers with a literal, as DataFusion's own functions do.

use datafusion::arrow::array::{Array, ArrayAccessor, ArrayRef};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs};

use super::error::FunctionError;

/// The target type of an integer argument (`NULL` included): `Int64`.
pub(crate) fn coerce_integer(
    function: &'static str,
    argument: &'static str,
    data_type: &DataType,
) -> Result<DataType, FunctionError> {
    if data_type.is_integer() || data_type == &DataType::Null {
        Ok(DataType::Int64)
    } else {
        Err(FunctionError::ArgumentType {
            function,
            argument,
            expected: "an integer",
            got: data_type.clone(),
        })
    }
}

/// The target type of a numeric argument (`NULL` included): `Float64`.
pub(crate) fn coerce_float(
    function: &'static str,
    argument: &'static str,
    data_type: &DataType,
) -> Result<DataType, FunctionError> {
    if data_type.is_numeric() || data_type == &DataType::Null {
        Ok(DataType::Float64)
    } else {
        Err(FunctionError::ArgumentType {
            function,
            argument,
            expected: "a number",
            got: data_type.clone(),
        })
    }
}

/// The target type of a string argument (`NULL` included): `Utf8`, so execution reads
/// one string layout only.
pub(crate) fn coerce_string(
    function: &'static str,
    argument: &'static str,
    data_type: &DataType,
) -> Result<DataType, FunctionError> {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            Ok(DataType::Utf8)
        }
        other => Err(FunctionError::ArgumentType {
            function,
            argument,
            expected: "a string",
            got: other.clone(),
        }),
    }
}

/// Checks the number of arguments against `min..=max`; `usage` is the call's shape for
/// the message, e.g. `time_bucket(ts, size [, tz])`, and `expected` the count in words.
pub(crate) fn check_count(
    usage: &'static str,
    expected: &'static str,
    got: usize,
    min: usize,
    max: usize,
) -> Result<(), FunctionError> {
    if (min..=max).contains(&got) {
        Ok(())
    } else {
        Err(FunctionError::ArgumentCount {
            usage,
            expected,
            got,
        })
    }
}

/// The value of argument `index` when the planner knows it as a non-NULL string
/// literal, so a bad literal fails when the query is planned, before any data is read.
pub(crate) fn literal_str<'a>(args: &'a ReturnFieldArgs<'a>, index: usize) -> Option<&'a str> {
    args.scalar_arguments
        .get(index)
        .copied()
        .flatten()
        .and_then(ScalarValue::try_as_str)
        .flatten()
}

/// The value of argument `index` when the planner knows it as a non-NULL literal
/// convertible to `Int64`.
pub(crate) fn literal_i64(args: &ReturnFieldArgs<'_>, index: usize) -> Option<i64> {
    let scalar = args.scalar_arguments.get(index).copied().flatten()?;
    match scalar.cast_to(&DataType::Int64).ok()? {
        ScalarValue::Int64(value) => value,
        _ => None,
    }
}

/// The value of argument `index` when the planner knows it as a non-NULL literal
/// convertible to `Float64`.
pub(crate) fn literal_f64(args: &ReturnFieldArgs<'_>, index: usize) -> Option<f64> {
    let scalar = args.scalar_arguments.get(index).copied().flatten()?;
    match scalar.cast_to(&DataType::Float64).ok()? {
        ScalarValue::Float64(value) => value,
        _ => None,
    }
}

/// The evaluated arguments of one call, each as an array: a column has one value per
/// row, a literal one value for every row.
#[derive(Debug)]
pub(crate) struct Args {
    function: &'static str,
    arrays: Vec<ArrayRef>,
    literal: Vec<bool>,
    rows: usize,
}

impl Args {
    /// Takes the evaluated arguments of a call over `number_rows` rows.
    pub(crate) fn new(
        function: &'static str,
        args: Vec<ColumnarValue>,
        number_rows: usize,
    ) -> Result<Self> {
        let all_literal = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let mut arrays = Vec::with_capacity(args.len());
        let mut literal = Vec::with_capacity(args.len());
        for arg in args {
            match arg {
                ColumnarValue::Array(array) => {
                    arrays.push(array);
                    literal.push(false);
                }
                ColumnarValue::Scalar(scalar) => {
                    arrays.push(scalar.to_array_of_size(1)?);
                    literal.push(true);
                }
            }
        }
        Ok(Self {
            function,
            arrays,
            literal,
            // All literals: compute one row and answer with a literal.
            rows: if all_literal { 1 } else { number_rows },
        })
    }

    /// How many arguments the call has.
    pub(crate) fn count(&self) -> usize {
        self.arrays.len()
    }

    /// How many rows to compute.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The array of argument `index`.
    pub(crate) fn array(&self, index: usize) -> Result<&ArrayRef> {
        self.arrays.get(index).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "{}: argument {index} is missing (the call has {})",
                self.function,
                self.arrays.len()
            ))
        })
    }

    /// The index into argument `index`'s array of `row`: `row` itself for a column, 0
    /// for a literal.
    pub(crate) fn index(&self, index: usize, row: usize) -> usize {
        if self.literal.get(index).copied().unwrap_or(false) {
            0
        } else {
            row
        }
    }

    /// Parses every value of argument `index` (once, if it is a literal); NULL stays
    /// `None`.
    pub(crate) fn parse<'a, A, T>(
        &'a self,
        index: usize,
        downcast: impl Fn(&'a dyn Array) -> Result<A>,
        parse: impl Fn(A::Item) -> Result<T, FunctionError>,
    ) -> Result<PerRow<T>>
    where
        A: ArrayAccessor + 'a,
    {
        let array = self.array(index)?;
        let values = downcast(array.as_ref())?;
        let parsed = (0..values.len())
            .map(|i| {
                if values.is_null(i) {
                    Ok(None)
                } else {
                    parse(values.value(i)).map(Some)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PerRow {
            values: parsed,
            literal: self.literal.get(index).copied().unwrap_or(false),
        })
    }

    /// The result of the call: a literal when every argument is one, else a column.
    pub(crate) fn finish(&self, result: ArrayRef) -> Result<ColumnarValue> {
        if self.literal.iter().all(|&l| l) {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                result.as_ref(),
                0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// The parsed values of one argument, `None` for NULL.
#[derive(Debug)]
pub(crate) struct PerRow<T> {
    values: Vec<Option<T>>,
    literal: bool,
}

impl<T: Copy> PerRow<T> {
    /// The same value for every row, for an optional argument the call left out.
    pub(crate) fn every_row(value: T) -> Self {
        Self {
            values: vec![Some(value)],
            literal: true,
        }
    }

    /// The value for `row`; `None` for NULL.
    pub(crate) fn get(&self, row: usize) -> Option<T> {
        let index = if self.literal { 0 } else { row };
        self.values.get(index).copied().flatten()
    }
}
