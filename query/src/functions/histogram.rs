//! The wait histogram argument of `wait_within` and `wait_percentile`, and the list of
//! counts `histogram_sum` adds up: a `List<Int64>`, as `queue_intervals` stores its
//! `answered_wait_histogram` and `abandoned_wait_histogram` columns.
//!
//! A wait histogram has [`WAIT_BUCKETS`] non-negative counts; bucket `i` counts the waits
//! in `(bound[i - 1], bound[i]]` of
//! [`WAIT_BUCKET_BOUNDS_MS`](ccpulse_schemas::metrics::WAIT_BUCKET_BOUNDS_MS) and the
//! last one every wait above the last bound. Anything else (another length, a NULL or
//! negative count) cannot have come from the tables, so it is an error, not a guess.

use std::sync::Arc;

use ccpulse_schemas::metrics::WAIT_BUCKETS;
use datafusion::arrow::array::{Array, ArrayRef, Int64Array, ListArray};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::Result;
use datafusion::common::cast::{as_int64_array, as_list_array};

use super::error::FunctionError;

/// The target type of a list-of-counts argument: `List<Int64>`.
///
/// A `List<Int64>` is taken as it is, so its item field (the tables' non-nullable
/// `item`) survives into `histogram_sum`'s result type. Lists of another integer type,
/// `LargeList` and `FixedSizeList` are cast to a `List<Int64>` with the same item field
/// name and nullability; `NULL` becomes a `List<Int64>` of nullable items.
pub(crate) fn coerce_counts_list(
    function: &'static str,
    argument: &'static str,
    data_type: &DataType,
) -> Result<DataType, FunctionError> {
    let bad = || FunctionError::ArgumentType {
        function,
        argument,
        expected: "a list of integer counts (List<Int64>)",
        got: data_type.clone(),
    };
    match data_type {
        DataType::List(item) if item.data_type() == &DataType::Int64 => Ok(data_type.clone()),
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            if item.data_type().is_integer() {
                Ok(DataType::List(Arc::new(Field::new(
                    item.name(),
                    DataType::Int64,
                    item.is_nullable(),
                ))))
            } else {
                Err(bad())
            }
        }
        DataType::Null => Ok(DataType::new_list(DataType::Int64, true)),
        _ => Err(bad()),
    }
}

/// The wait histograms of one argument array, validated row by row as they are read.
#[derive(Debug)]
pub(crate) struct Histograms<'a> {
    function: &'static str,
    lists: &'a ListArray,
    counts: &'a Int64Array,
}

impl<'a> Histograms<'a> {
    /// Reads `array`, which coercion made a `List<Int64>`.
    pub(crate) fn new(function: &'static str, array: &'a ArrayRef) -> Result<Self> {
        let lists = as_list_array(array.as_ref())?;
        let counts = as_int64_array(lists.values().as_ref())?;
        Ok(Self {
            function,
            lists,
            counts,
        })
    }

    /// The histogram of row `row`; `None` when the list is NULL.
    pub(crate) fn get(&self, row: usize) -> Result<Option<[i64; WAIT_BUCKETS]>, FunctionError> {
        if row >= self.lists.len() || self.lists.is_null(row) {
            return Ok(None);
        }
        let offsets = self.lists.value_offsets();
        let (start, end) = (
            offsets[row].max(0) as usize,
            offsets[row + 1].max(0) as usize,
        );
        let len = end.saturating_sub(start);
        if len != WAIT_BUCKETS {
            return Err(FunctionError::HistogramLength {
                function: self.function,
                len,
            });
        }
        let mut histogram = [0; WAIT_BUCKETS];
        for (bucket, (slot, i)) in histogram.iter_mut().zip(start..end).enumerate() {
            if i >= self.counts.len() || self.counts.is_null(i) {
                return Err(FunctionError::HistogramNullBucket {
                    function: self.function,
                    bucket: bucket + 1,
                });
            }
            let count = self.counts.value(i);
            if count < 0 {
                return Err(FunctionError::HistogramNegativeBucket {
                    function: self.function,
                    bucket: bucket + 1,
                    count,
                });
            }
            *slot = count;
        }
        Ok(Some(histogram))
    }
}
