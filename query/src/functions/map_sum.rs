//! `map_sum(map)`: the per-key sum of `Map<Utf8, Int64>` values, the way
//! `agent_intervals.away_by_reason` rolls up from intervals to days, agents to teams.
//!
//! The result has the input's type (the tables' map, with its `entries` / `keys` /
//! `values` field names), its keys sorted (byte order) so equal sums compare and print
//! equal. NULL maps are skipped; with no non-NULL map the result is NULL, as for `SUM`
//! and `histogram_sum` (a group of empty maps sums to an empty map, not NULL: "no
//! reason was recorded" differs from "there were no rows"). NULL keys or values and
//! sums beyond `Int64` are errors.
//!
//! The partial state is the running sums as a map of the result's type, so DataFusion
//! can sum partitions in parallel and merge them (`merge_batch` is `update_batch`).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, MapArray, StringArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::cast::{as_int64_array, as_map_array, as_string_array};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::args;
use super::distinct::reject_distinct;
use super::error::FunctionError;
use super::summing;

const NAME: &str = "map_sum";
const USAGE: &str = "map_sum(map)";

/// The type `map_sum(NULL)` takes: the tables' `Map<Utf8, Int64>`.
fn default_map_type() -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("keys", DataType::Utf8, false),
                Field::new("values", DataType::Int64, false),
            ]
            .into(),
        ),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// The target type of the argument: a `Map<Utf8, Int64>` with the input's field names
/// and nullability. A map with `Utf8` keys and `Int64` values is taken as it is; other
/// string keys and integer values are cast.
fn coerce_map(data_type: &DataType) -> Result<DataType, FunctionError> {
    let bad = || FunctionError::ArgumentType {
        function: NAME,
        argument: "map",
        expected: "a map of string keys to integer counts (Map<Utf8, Int64>)",
        got: data_type.clone(),
    };
    let (entries, ordered) = match data_type {
        DataType::Map(entries, ordered) => (entries, *ordered),
        DataType::Null => return Ok(default_map_type()),
        _ => return Err(bad()),
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return Err(bad());
    };
    let [key, value] = fields.as_ref() else {
        return Err(bad());
    };
    match (key.data_type(), value.data_type()) {
        (DataType::Utf8, DataType::Int64) => Ok(data_type.clone()),
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, v) if v.is_integer() => {
            let fields: Fields = vec![
                key.as_ref().clone().with_data_type(DataType::Utf8),
                value.as_ref().clone().with_data_type(DataType::Int64),
            ]
            .into();
            let entries = Field::new(
                entries.name(),
                DataType::Struct(fields),
                entries.is_nullable(),
            );
            Ok(DataType::Map(Arc::new(entries), ordered))
        }
        _ => Err(bad()),
    }
}

/// The `map_sum` aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct MapSum {
    signature: Signature,
}

impl MapSum {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for MapSum {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_count(USAGE, "1", arg_types.len(), 1, 1).map_err(FunctionError::plan)?;
        Ok(vec![
            coerce_map(&arg_types[0]).map_err(FunctionError::plan)?,
        ])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        summing::input_type(USAGE, arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return Err(FunctionError::Distinct { function: NAME }.plan());
        }
        Ok(Box::new(MapSumAccumulator::new(args.return_type())?))
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

/// The running per-key sums of one group.
#[derive(Debug)]
struct MapSumAccumulator {
    /// The result's entries field and key/value fields, so its type is the input's.
    entries: FieldRef,
    fields: Fields,
    ordered: bool,
    /// `None` until the first non-NULL map. A `BTreeMap`, so the keys come out sorted.
    sums: Option<BTreeMap<String, i64>>,
    /// The bytes of the keys held, for [`Accumulator::size`].
    key_bytes: usize,
}

impl MapSumAccumulator {
    fn new(data_type: &DataType) -> Result<Self> {
        let internal = || {
            DataFusionError::Internal(format!(
                "{NAME}: expected a Map<Utf8, Int64> result type, got {data_type}"
            ))
        };
        let DataType::Map(entries, ordered) = data_type else {
            return Err(internal());
        };
        let DataType::Struct(fields) = entries.data_type() else {
            return Err(internal());
        };
        Ok(Self {
            entries: Arc::clone(entries),
            fields: fields.clone(),
            ordered: *ordered,
            sums: None,
            key_bytes: 0,
        })
    }

    /// Adds every non-NULL map of `maps` (input values or partial sums alike).
    fn add(&mut self, maps: &ArrayRef) -> Result<()> {
        let maps: &MapArray = as_map_array(maps.as_ref())?;
        let keys = as_string_array(maps.keys().as_ref())?;
        let values = as_int64_array(maps.values().as_ref())?;
        for (row, bounds) in maps.value_offsets().windows(2).enumerate() {
            if maps.is_null(row) {
                continue;
            }
            let sums = self.sums.get_or_insert_with(BTreeMap::new);
            for i in bounds[0].max(0) as usize..bounds[1].max(0) as usize {
                if i >= keys.len() || keys.is_null(i) {
                    return Err(FunctionError::NullMapKey.into());
                }
                let key = keys.value(i);
                if i >= values.len() || values.is_null(i) {
                    return Err(FunctionError::NullMapValue {
                        key: key.to_owned(),
                    }
                    .into());
                }
                let value = values.value(i);
                match sums.get_mut(key) {
                    Some(sum) => {
                        *sum = sum
                            .checked_add(value)
                            .ok_or(FunctionError::SumOverflow { function: NAME })?;
                    }
                    None => {
                        self.key_bytes += key.len();
                        sums.insert(key.to_owned(), value);
                    }
                }
            }
        }
        Ok(())
    }

    /// The sums as a one-row map, NULL before any map.
    fn to_scalar(&self) -> Result<ScalarValue> {
        let data_type = DataType::Map(Arc::clone(&self.entries), self.ordered);
        let Some(sums) = &self.sums else {
            return ScalarValue::try_new_null(&data_type);
        };
        if i32::try_from(sums.len()).is_err() {
            return Err(DataFusionError::Execution(format!(
                "{NAME}: {} keys are too many for a Map",
                sums.len()
            )));
        }
        let keys: ArrayRef = Arc::new(StringArray::from_iter_values(sums.keys()));
        let values: ArrayRef = Arc::new(Int64Array::from_iter_values(sums.values().copied()));
        let entries = StructArray::try_new(self.fields.clone(), vec![keys, values], None)?;
        let map = MapArray::try_new(
            Arc::clone(&self.entries),
            OffsetBuffer::from_lengths([sums.len()]),
            entries,
            None,
            self.ordered,
        )?;
        Ok(ScalarValue::Map(Arc::new(map)))
    }
}

impl Accumulator for MapSumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values {
            [maps] => self.add(maps),
            _ => Err(DataFusionError::Internal(format!(
                "{NAME}: expected 1 input column, got {}",
                values.len()
            ))),
        }
    }

    /// Partial sums add up like maps.
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
        let entries = self.sums.as_ref().map_or(0, BTreeMap::len);
        size_of_val(self) + self.key_bytes + entries * (size_of::<String>() + size_of::<i64>())
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;
    use datafusion::arrow::array::AsArray;
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::functions::test_support::{
        context, physical_plan, query, query_error, register_table,
    };

    type Entries = Vec<(String, i64)>;
    type Rows = Vec<(&'static str, Option<Entries>)>;

    /// A nullable `Map<Utf8, Int64>` column of `agent_intervals.away_by_reason`'s type.
    fn map_column(name: &str, rows: &[Option<Entries>]) -> (Field, ArrayRef) {
        let data_type = default_map_type();
        let DataType::Map(entries_field, _) = &data_type else {
            unreachable!("a map type")
        };
        let DataType::Struct(fields) = entries_field.data_type() else {
            unreachable!("a struct type")
        };
        let entries: Vec<&(String, i64)> = rows.iter().flatten().flatten().collect();
        let keys: ArrayRef = Arc::new(StringArray::from_iter_values(
            entries.iter().map(|e| e.0.as_str()),
        ));
        let values: ArrayRef = Arc::new(Int64Array::from_iter_values(entries.iter().map(|e| e.1)));
        let maps = MapArray::try_new(
            Arc::clone(entries_field),
            OffsetBuffer::from_lengths(rows.iter().map(|r| r.as_ref().map_or(0, Vec::len))),
            StructArray::try_new(fields.clone(), vec![keys, values], None).unwrap(),
            Some(rows.iter().map(Option::is_some).collect()),
            false,
        )
        .unwrap();
        (Field::new(name, data_type, true), Arc::new(maps))
    }

    /// The entries of each map of a map column.
    fn maps(column: &ArrayRef) -> Vec<Option<Entries>> {
        let maps = as_map_array(column.as_ref()).unwrap();
        (0..maps.len())
            .map(|row| {
                maps.is_valid(row).then(|| {
                    let entries = maps.value(row);
                    let keys = entries.column(0).as_string::<i32>();
                    let values = as_int64_array(entries.column(1).as_ref()).unwrap();
                    keys.iter()
                        .map(|k| k.unwrap().to_owned())
                        .zip(values.values().iter().copied())
                        .collect()
                })
            })
            .collect()
    }

    /// 60 rows of agents `x`, `y` (every seventh NULL), `z` (only NULL maps) and `w`
    /// (only empty maps), registered as `t` over 4 partitions of 3-row batches.
    fn table() -> (SessionContext, Rows) {
        let reasons = ["lunch", "break", "Zeta", "meeting", "ábc", "training"];
        let rows: Rows = (0..60_i64)
            .map(|r| {
                let agent = ["x", "y", "z", "w"][(r % 4) as usize];
                let map = match agent {
                    "z" => None,
                    "w" => Some(Vec::new()),
                    _ if r % 7 == 0 => None,
                    _ => Some(
                        reasons
                            .iter()
                            .enumerate()
                            .filter(|(k, _)| !(r as usize + k).is_multiple_of(3))
                            .map(|(k, reason)| ((*reason).to_owned(), (r * 5 + k as i64) % 13 + 1))
                            .collect(),
                    ),
                };
                (agent, map)
            })
            .collect();
        let ctx = context(Tz::UTC);
        let agents: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0)));
        let maps: Vec<Option<Entries>> = rows.iter().map(|r| r.1.clone()).collect();
        register_table(
            &ctx,
            "t",
            vec![
                (Field::new("agent", DataType::Utf8, false), agents),
                map_column("m", &maps),
            ],
            4,
            3,
        );
        (ctx, rows)
    }

    /// The plain Rust sum of `rows` per agent, keys sorted.
    fn sums(rows: &Rows) -> BTreeMap<&'static str, Option<Entries>> {
        let mut sums: BTreeMap<&str, Option<BTreeMap<String, i64>>> = BTreeMap::new();
        for (agent, map) in rows {
            let sum = sums.entry(agent).or_default();
            if let Some(map) = map {
                let sum = sum.get_or_insert_with(BTreeMap::new);
                for (key, value) in map {
                    *sum.entry(key.clone()).or_default() += value;
                }
            }
        }
        sums.into_iter()
            .map(|(agent, sum)| (agent, sum.map(|s| s.into_iter().collect())))
            .collect()
    }

    #[tokio::test]
    async fn sums_per_key_and_group_across_partitions_like_a_plain_sum() {
        let (ctx, rows) = table();
        let sql = "SELECT agent, map_sum(m) FROM t GROUP BY agent ORDER BY agent";
        let plan = physical_plan(&ctx, sql).await;
        assert!(plan.contains("mode=Partial"), "{plan}");
        assert!(plan.contains("mode=FinalPartitioned"), "{plan}");
        let batch = query(&ctx, sql).await;
        assert_eq!(batch.schema().field(1).data_type(), &default_map_type());
        let agents = batch.column(0).as_string::<i32>();
        let got: BTreeMap<&str, Option<Entries>> = agents
            .iter()
            .map(Option::unwrap)
            .zip(maps(batch.column(1)))
            .collect();
        assert_eq!(got, sums(&rows));
        // Keys in byte order, as the expected BTreeMap has them.
        let x: Vec<&str> = got["x"]
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.0.as_str())
            .collect();
        assert_eq!(x, ["Zeta", "break", "lunch", "meeting", "training", "ábc"]);
        assert_eq!(got["z"], None, "only NULL maps");
        assert_eq!(got["w"], Some(Vec::new()), "only empty maps");
        // The whole table; no rows.
        let batch = query(&ctx, "SELECT map_sum(m) FROM t").await;
        let all: Rows = rows.iter().map(|(_, m)| ("all", m.clone())).collect();
        assert_eq!(maps(batch.column(0)), [sums(&all)["all"].clone()]);
        let batch = query(&ctx, "SELECT map_sum(m) FROM t WHERE agent = 'none'").await;
        assert_eq!(maps(batch.column(0)), [None]);
    }

    #[tokio::test]
    async fn takes_sql_map_literals_and_integer_values() {
        let ctx = context(Tz::UTC);
        let batch = query(
            &ctx,
            "SELECT map_sum(m) FROM (VALUES (MAP {'y': 2, 'x': 1}), (NULL), (MAP {'y': 5})) AS v(m)",
        )
        .await;
        assert_eq!(
            maps(batch.column(0)),
            [Some(vec![("x".to_owned(), 1), ("y".to_owned(), 7)])]
        );
        let batch = query(
            &ctx,
            "SELECT map_sum(m) FROM (VALUES (MAP {'a': CAST(1 AS INT)}), (MAP {'a': CAST(2 AS INT)})) AS v(m)",
        )
        .await;
        let DataType::Map(entries, _) = batch.schema().field(0).data_type().clone() else {
            panic!("a map")
        };
        let DataType::Struct(fields) = entries.data_type() else {
            panic!("a struct")
        };
        assert_eq!(fields[1].data_type(), &DataType::Int64);
        assert_eq!(maps(batch.column(0)), [Some(vec![("a".to_owned(), 3)])]);
    }

    #[tokio::test]
    async fn bad_input_is_an_error_naming_it() {
        let (ctx, _) = table();
        for (sql, expected) in [
            (
                "SELECT map_sum(m) FROM (VALUES (MAP {'a': 1}), (MAP {'a': CAST(NULL AS BIGINT)})) AS v(m)",
                "map_sum: the value of key 'a' is NULL",
            ),
            (
                "SELECT map_sum(m) FROM (VALUES (MAP {'a': 9223372036854775807}), (MAP {'a': 1})) AS v(m)",
                "map_sum: the sum overflows Int64",
            ),
            (
                "SELECT map_sum(DISTINCT m) FROM t",
                "map_sum: DISTINCT is not supported",
            ),
            (
                "SELECT map_sum(agent) FROM t",
                "map_sum: argument 'map' must be a map of string keys to integer counts (Map<Utf8, Int64>), got Utf8",
            ),
            (
                "SELECT map_sum(MAP {1: 2})",
                "map_sum: argument 'map' must be a map",
            ),
        ] {
            let message = query_error(&ctx, sql).await;
            assert!(message.contains(expected), "{sql}: {message}");
        }
    }
}
