//! The column types the derived tables share, how Rust values become those columns, and
//! [`Reader`], which reads them back with a clear error for every way a batch can be wrong.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use ccpulse_schemas::metrics::WAIT_BUCKETS;
use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, Float64Array, Int64Array,
    Int64Builder, ListArray, ListBuilder, MapArray, MapBuilder, PrimitiveArray, RecordBatch,
    StringArray, StringBuilder, TimestampMillisecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, TimeUnit};
use datafusion::arrow::error::ArrowError;

use super::error::TablesError;

/// The time zone of every timestamp column.
const UTC: &str = "UTC";

/// `Timestamp(Millisecond, "UTC")`.
pub(super) fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into()))
}

fn histogram_item_field() -> Field {
    Field::new_list_field(DataType::Int64, false)
}

/// `List<Int64>` with non-null items: one count per wait bucket.
pub(super) fn histogram_type() -> DataType {
    DataType::List(Arc::new(histogram_item_field()))
}

fn map_values_field() -> Field {
    Field::new("values", DataType::Int64, false)
}

/// `Map<Utf8, Int64>` with Arrow's default field names (`entries`, `keys`, `values`), so
/// DataFusion's map functions work on it; values non-null.
pub(super) fn int_map_type() -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("keys", DataType::Utf8, false),
                map_values_field(),
            ]
            .into(),
        ),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// A `Utf8` column.
pub(super) fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// A nullable `Utf8` column.
pub(super) fn optional_strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

/// An `Int64` column.
pub(super) fn int64s(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(values))
}

/// A nullable `Int64` column.
pub(super) fn optional_int64s(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from_iter(values))
}

/// A nullable `Float64` column.
pub(super) fn optional_float64s(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from_iter(values))
}

/// A `Boolean` column.
pub(super) fn booleans(values: impl Iterator<Item = bool>) -> ArrayRef {
    Arc::new(values.map(Some).collect::<BooleanArray>())
}

/// A `Timestamp(Millisecond, "UTC")` column.
pub(super) fn timestamps(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(values).with_timezone(UTC))
}

/// A nullable `Timestamp(Millisecond, "UTC")` column.
pub(super) fn optional_timestamps(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter(values).with_timezone(UTC))
}

/// A counter to `Int64`.
///
/// # Errors
/// [`ArrowError::InvalidArgumentError`] above `i64::MAX`.
fn count_to_i64(table: &str, column: &str, count: u64) -> Result<i64, ArrowError> {
    i64::try_from(count).map_err(|_| {
        ArrowError::InvalidArgumentError(format!(
            "table `{table}`: column `{column}`: count {count} does not fit Int64"
        ))
    })
}

/// An `Int64` column of counters.
///
/// # Errors
/// [`ArrowError::InvalidArgumentError`] for a count above `i64::MAX`.
pub(super) fn counts(
    table: &str,
    column: &str,
    values: impl Iterator<Item = u64>,
) -> Result<ArrayRef, ArrowError> {
    let values = values
        .map(|count| count_to_i64(table, column, count))
        .collect::<Result<Int64Array, _>>()?;
    Ok(Arc::new(values))
}

/// A `List<Int64>` column of wait histograms.
///
/// # Errors
/// [`ArrowError::InvalidArgumentError`] for a count above `i64::MAX`.
pub(super) fn histograms<'a>(
    table: &str,
    column: &str,
    values: impl Iterator<Item = &'a [u64; WAIT_BUCKETS]>,
) -> Result<ArrayRef, ArrowError> {
    let mut builder = ListBuilder::new(Int64Builder::new()).with_field(histogram_item_field());
    for histogram in values {
        for &count in histogram {
            builder
                .values()
                .append_value(count_to_i64(table, column, count)?);
        }
        builder.append(true);
    }
    Ok(Arc::new(builder.finish()))
}

/// A `Map<Utf8, Int64>` column; an empty map is an empty map, not null.
///
/// # Errors
/// Only if keys and values were appended unevenly, which this function never does.
pub(super) fn int_maps<'a>(
    values: impl Iterator<Item = &'a BTreeMap<String, i64>>,
) -> Result<ArrayRef, ArrowError> {
    let mut builder = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new())
        .with_values_field(map_values_field());
    for map in values {
        for (key, value) in map {
            builder.keys().append_value(key);
            builder.values().append_value(*value);
        }
        builder.append(true)?;
    }
    Ok(Arc::new(builder.finish()))
}

/// Reads the columns of one batch of `table` by name. Columns it is not asked for (such
/// as partition columns a query engine adds) are ignored.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    table: &'static str,
    batch: &'a RecordBatch,
}

impl<'a> Reader<'a> {
    pub(super) fn new(table: &'static str, batch: &'a RecordBatch) -> Self {
        Self { table, batch }
    }

    /// The row indices of the batch.
    pub(super) fn rows(&self) -> Range<usize> {
        0..self.batch.num_rows()
    }

    fn array(&self, name: &str) -> Result<&'a ArrayRef, TablesError> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| TablesError::ColumnMissing {
                table: self.table,
                column: name.to_owned(),
            })
    }

    fn column<A>(&self, name: &str, array: A) -> Column<A> {
        Column {
            table: self.table,
            name: name.to_owned(),
            array,
        }
    }

    fn type_error(&self, name: &str, expected: &'static str, found: &DataType) -> TablesError {
        TablesError::ColumnType {
            table: self.table,
            column: name.to_owned(),
            expected,
            found: found.clone(),
        }
    }

    /// A string column: `Utf8`, or another string type (`LargeUtf8`, `Utf8View`, a
    /// dictionary of strings, as query engines may return) cast to `Utf8`.
    pub(super) fn string(&self, name: &str) -> Result<Column<StringArray>, TablesError> {
        let array = self.array(name)?;
        if let Some(strings) = array.as_string_opt::<i32>() {
            return Ok(self.column(name, strings.clone()));
        }
        if !is_string_type(array.data_type()) {
            return Err(self.type_error(name, "Utf8", array.data_type()));
        }
        let cast = cast(array, &DataType::Utf8).map_err(|source| TablesError::CastColumn {
            table: self.table,
            column: name.to_owned(),
            source,
        })?;
        let strings = cast
            .as_string_opt::<i32>()
            .ok_or_else(|| self.type_error(name, "Utf8", array.data_type()))?;
        Ok(self.column(name, strings.clone()))
    }

    /// An `Int64` column.
    pub(super) fn int64(&self, name: &str) -> Result<Column<Int64Array>, TablesError> {
        let array = self.array(name)?;
        let ints = array
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| self.type_error(name, "Int64", array.data_type()))?;
        Ok(self.column(name, ints.clone()))
    }

    /// A millisecond timestamp column, whatever its time zone (the values are instants).
    pub(super) fn timestamp(
        &self,
        name: &str,
    ) -> Result<Column<TimestampMillisecondArray>, TablesError> {
        let array = self.array(name)?;
        let expected = "Timestamp(Millisecond, \"UTC\")";
        let timestamps = array
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .ok_or_else(|| self.type_error(name, expected, array.data_type()))?;
        Ok(self.column(name, timestamps.clone()))
    }

    /// A `Boolean` column.
    pub(super) fn boolean(&self, name: &str) -> Result<Column<BooleanArray>, TablesError> {
        let array = self.array(name)?;
        let booleans = array
            .as_boolean_opt()
            .ok_or_else(|| self.type_error(name, "Boolean", array.data_type()))?;
        Ok(self.column(name, booleans.clone()))
    }

    /// A `List<Int64>` wait histogram column.
    pub(super) fn histogram(&self, name: &str) -> Result<Column<ListArray>, TablesError> {
        let array = self.array(name)?;
        let expected = "List<Int64>";
        let lists = array
            .as_list_opt::<i32>()
            .filter(|lists| lists.values().data_type() == &DataType::Int64)
            .ok_or_else(|| self.type_error(name, expected, array.data_type()))?;
        Ok(self.column(name, lists.clone()))
    }

    /// A `Map<Utf8, Int64>` column.
    pub(super) fn int_map(&self, name: &str) -> Result<Column<MapArray>, TablesError> {
        let array = self.array(name)?;
        let expected = "Map<Utf8, Int64>";
        let maps = array
            .as_map_opt()
            .filter(|maps| {
                maps.keys().data_type() == &DataType::Utf8
                    && maps.values().data_type() == &DataType::Int64
            })
            .ok_or_else(|| self.type_error(name, expected, array.data_type()))?;
        Ok(self.column(name, maps.clone()))
    }
}

/// Types that Arrow's `cast` turns into `Utf8` without loss.
fn is_string_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_string_type(values),
        _ => false,
    }
}

/// One typed column of a batch, with what its errors need to say where they are.
#[derive(Debug)]
pub(super) struct Column<A> {
    table: &'static str,
    name: String,
    array: A,
}

impl<A: Array> Column<A> {
    fn null_error(&self, row: usize) -> TablesError {
        TablesError::NullValue {
            table: self.table,
            column: self.name.clone(),
            row,
        }
    }

    fn type_error(&self, expected: &'static str) -> TablesError {
        TablesError::ColumnType {
            table: self.table,
            column: self.name.clone(),
            expected,
            found: self.array.data_type().clone(),
        }
    }

    fn out_of_range(&self, row: usize, value: i64, target: &'static str) -> TablesError {
        TablesError::OutOfRange {
            table: self.table,
            column: self.name.clone(),
            row,
            value,
            target,
        }
    }
}

impl Column<StringArray> {
    /// The value of a non-null column.
    pub(super) fn value(&self, row: usize) -> Result<&str, TablesError> {
        self.optional(row).ok_or_else(|| self.null_error(row))
    }

    /// The value of a nullable column.
    pub(super) fn optional(&self, row: usize) -> Option<&str> {
        self.array.is_valid(row).then(|| self.array.value(row))
    }

    /// The value of a nullable column, owned.
    pub(super) fn optional_owned(&self, row: usize) -> Option<String> {
        self.optional(row).map(str::to_owned)
    }

    /// The value of a non-null column of a closed set, parsed by `parse`.
    pub(super) fn parse<T>(
        &self,
        row: usize,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, TablesError> {
        let value = self.value(row)?;
        parse(value).ok_or_else(|| TablesError::UnknownValue {
            table: self.table,
            column: self.name.clone(),
            row,
            value: value.to_owned(),
        })
    }

    /// The value of a non-null column as one of `names` (with its static lifetime).
    pub(super) fn one_of(
        &self,
        row: usize,
        names: &[&'static str],
    ) -> Result<&'static str, TablesError> {
        self.parse(row, |value| {
            names.iter().copied().find(|name| *name == value)
        })
    }
}

impl<T: ArrowPrimitiveType<Native = i64>> Column<PrimitiveArray<T>> {
    /// The value of a non-null column.
    pub(super) fn value(&self, row: usize) -> Result<i64, TablesError> {
        self.optional(row).ok_or_else(|| self.null_error(row))
    }

    /// The value of a nullable column.
    pub(super) fn optional(&self, row: usize) -> Option<i64> {
        self.array.is_valid(row).then(|| self.array.value(row))
    }

    /// The value of a non-null column as a narrower or unsigned integer type.
    pub(super) fn value_as<U: TryFrom<i64>>(&self, row: usize) -> Result<U, TablesError> {
        let value = self.value(row)?;
        U::try_from(value).map_err(|_| self.out_of_range(row, value, std::any::type_name::<U>()))
    }

    /// The value of a nullable column as a narrower or unsigned integer type.
    pub(super) fn optional_as<U: TryFrom<i64>>(
        &self,
        row: usize,
    ) -> Result<Option<U>, TablesError> {
        self.optional(row)
            .map(|value| {
                U::try_from(value)
                    .map_err(|_| self.out_of_range(row, value, std::any::type_name::<U>()))
            })
            .transpose()
    }

    /// A counter: non-null and not negative.
    pub(super) fn count(&self, row: usize) -> Result<u64, TablesError> {
        self.value_as(row)
    }
}

impl Column<BooleanArray> {
    /// The value of a non-null column.
    pub(super) fn value(&self, row: usize) -> Result<bool, TablesError> {
        if self.array.is_valid(row) {
            Ok(self.array.value(row))
        } else {
            Err(self.null_error(row))
        }
    }
}

impl Column<ListArray> {
    /// A non-null histogram of exactly [`WAIT_BUCKETS`] non-null, non-negative counts.
    pub(super) fn histogram(&self, row: usize) -> Result<[u64; WAIT_BUCKETS], TablesError> {
        if self.array.is_null(row) {
            return Err(self.null_error(row));
        }
        let items = self.array.value(row);
        let items = items
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| self.type_error("List<Int64>"))?;
        if items.len() != WAIT_BUCKETS {
            return Err(TablesError::HistogramLength {
                table: self.table,
                column: self.name.clone(),
                row,
                found: items.len(),
                expected: WAIT_BUCKETS,
            });
        }
        let mut histogram = [0; WAIT_BUCKETS];
        for (bucket, item) in histogram.iter_mut().zip(items) {
            let value = item.ok_or_else(|| self.null_error(row))?;
            *bucket = u64::try_from(value).map_err(|_| self.out_of_range(row, value, "u64"))?;
        }
        Ok(histogram)
    }
}

impl Column<MapArray> {
    /// A non-null map with non-null keys and values; equal keys are summed.
    pub(super) fn int_map(&self, row: usize) -> Result<BTreeMap<String, i64>, TablesError> {
        if self.array.is_null(row) {
            return Err(self.null_error(row));
        }
        let entries = self.array.value(row);
        let keys = entries.column(0).as_string_opt::<i32>();
        let values = entries.column(1).as_primitive_opt::<Int64Type>();
        let (Some(keys), Some(values)) = (keys, values) else {
            return Err(self.type_error("Map<Utf8, Int64>"));
        };
        let mut map = BTreeMap::new();
        for (key, value) in keys.iter().zip(values) {
            let (Some(key), Some(value)) = (key, value) else {
                return Err(self.null_error(row));
            };
            *map.entry(key.to_owned()).or_default() += value;
        }
        Ok(map)
    }
}
