//! What the functions' tests share: a real DataFusion session with every function
//! registered, tables split over several partitions, and queries that return their one
//! result batch or their error message.

use std::sync::Arc;

use chrono::DateTime;
use chrono_tz::Tz;
use datafusion::arrow::array::{ArrayRef, Int64Array, ListArray, RecordBatch};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::{aggregate_functions, scalar_functions};

/// A session whose tenant lives in `default_tz`, with every function registered. Four
/// target partitions, so aggregates run as partial and final stages.
pub(crate) fn context(default_tz: Tz) -> SessionContext {
    let config = SessionConfig::new().with_target_partitions(4);
    let ctx = SessionContext::new_with_config(config);
    for function in scalar_functions(default_tz) {
        ctx.register_udf(function);
    }
    for function in aggregate_functions() {
        ctx.register_udaf(function);
    }
    ctx
}

/// Registers table `name` with `columns`, its rows dealt into `partitions` partitions of
/// batches of at most `batch_rows` rows.
pub(crate) fn register_table(
    ctx: &SessionContext,
    name: &str,
    columns: Vec<(Field, ArrayRef)>,
    partitions: usize,
    batch_rows: usize,
) {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).expect("valid columns");
    let mut split: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
    let mut offset = 0;
    let mut next = 0;
    while offset < batch.num_rows() {
        let len = batch_rows.min(batch.num_rows() - offset);
        split[next % partitions].push(batch.slice(offset, len));
        offset += len;
        next += 1;
    }
    let table = MemTable::try_new(schema, split).expect("valid table");
    ctx.register_table(name, Arc::new(table))
        .expect("table registers");
}

/// Runs `sql` and returns its result as one batch.
pub(crate) async fn query(ctx: &SessionContext, sql: &str) -> RecordBatch {
    let frame = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("planning {sql}: {e}"));
    let planned: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame
        .collect()
        .await
        .unwrap_or_else(|e| panic!("running {sql}: {e}"));
    let schema = batches.first().map_or(planned, RecordBatch::schema);
    concat_batches(&schema, &batches).expect("batches of one schema")
}

/// Runs `sql`, which must fail while planning or running, and returns the message.
pub(crate) async fn query_error(ctx: &SessionContext, sql: &str) -> String {
    match ctx.sql(sql).await {
        Err(e) => e.to_string(),
        Ok(frame) => match frame.collect().await {
            Err(e) => e.to_string(),
            Ok(batches) => panic!("{sql} should fail, returned {batches:?}"),
        },
    }
}

/// The physical plan of `sql`, as `EXPLAIN` prints it.
pub(crate) async fn physical_plan(ctx: &SessionContext, sql: &str) -> String {
    let batch = query(ctx, &format!("EXPLAIN {sql}")).await;
    datafusion::arrow::util::pretty::pretty_format_batches(&[batch])
        .expect("printable")
        .to_string()
}

/// Milliseconds since the epoch of an RFC 3339 instant.
pub(crate) fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .timestamp_millis()
}

/// The tables' histogram type: `List<Int64>` with a non-nullable `item`.
pub(crate) fn histogram_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int64, false)))
}

/// A nullable column `name` of [`histogram_type`] lists.
pub(crate) fn histogram_column(name: &str, rows: &[Option<Vec<i64>>]) -> (Field, ArrayRef) {
    let lengths = rows.iter().map(|row| row.as_ref().map_or(0, Vec::len));
    let items: Vec<i64> = rows.iter().flatten().flatten().copied().collect();
    let nulls = NullBuffer::from_iter(rows.iter().map(Option::is_some));
    let DataType::List(item) = histogram_type() else {
        unreachable!("a list type")
    };
    let lists = ListArray::try_new(
        item,
        OffsetBuffer::from_lengths(lengths),
        Arc::new(Int64Array::from(items)),
        Some(nulls),
    )
    .expect("valid lists");
    (Field::new(name, histogram_type(), true), Arc::new(lists))
}

/// A SQL list literal of `counts`: `make_array(1, 2, 3)`.
pub(crate) fn list_literal(counts: &[i64]) -> String {
    let items: Vec<String> = counts.iter().map(i64::to_string).collect();
    format!("make_array({})", items.join(", "))
}
