//! [`SnapshotTable`]: one table of a tenant's [`Snapshot`](ccpulse_schemas::source::Snapshot)
//! as a DataFusion table: its Parquet files (a listing scan, pruned by date) unioned with
//! its in-memory batches.
//!
//! It holds the rows exactly as the source stores them; the catalog puts the tenant filter
//! and, for interval tables, the summing of deltas on top (see [`crate::catalog`]).

use std::sync::Arc;

use async_trait::async_trait;
use ccpulse_schemas::source::{TableData, TableFile};
use chrono::{NaiveDate, TimeDelta};
use datafusion::arrow::datatypes::{SchemaRef, TimeUnit};
use datafusion::catalog::Session;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;

/// A table of one snapshot: Parquet files plus in-memory batches, both with the table's
/// schema (see the module docs).
#[derive(Debug)]
pub(crate) struct SnapshotTable {
    schema: SchemaRef,
    /// The column files are grouped by (their [`TableFile::date`] is its UTC date).
    time_column: Option<String>,
    files: Vec<TableFile>,
    batches: Vec<datafusion::arrow::record_batch::RecordBatch>,
}

impl SnapshotTable {
    pub(crate) fn new(schema: SchemaRef, time_column: Option<String>, data: TableData) -> Self {
        Self {
            schema,
            time_column,
            files: data.files,
            batches: data.batches,
        }
    }

    /// The files that may hold rows passing `filters`: those whose date overlaps the
    /// time range the filters allow on the time column.
    fn files_for(&self, filters: &[Expr]) -> Vec<&TableFile> {
        let Some(time_column) = &self.time_column else {
            return self.files.iter().collect();
        };
        let range = filters.iter().fold(TimeRange::ALL, |range, filter| {
            range.intersect(TimeRange::of_filter(filter, time_column))
        });
        self.files
            .iter()
            .filter(|file| range.may_hold(file.date))
            .collect()
    }

    /// A Parquet scan of exactly `files`. The files are named one by one with the sizes
    /// the source gave, never listed: a file that vanished since the snapshot is an error
    /// (`NotFound`, which the engine retries on a new snapshot), not silently missing rows.
    async fn scan_files(
        &self,
        state: &dyn Session,
        files: &[&TableFile],
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let group_count = state.config().target_partitions().min(files.len()).max(1);
        let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); group_count];
        for (i, file) in files.iter().enumerate() {
            // `absolute`, not `canonicalize`: a vanished file must fail at the read.
            let location = std::path::absolute(&file.path)
                .map_err(DataFusionError::from)
                .and_then(|path| {
                    ObjectPath::from_absolute_path(path)
                        .map_err(|err| DataFusionError::External(Box::new(err)))
                })
                .map_err(|err| {
                    DataFusionError::Execution(format!(
                        "segment path {} is not usable: {err}",
                        file.path.display()
                    ))
                })?;
            groups[i % group_count].push(PartitionedFile::new(location.to_string(), file.bytes));
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source = format.file_source(TableSchema::from(Arc::clone(&self.schema)));
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Every filter is applied again above the scan: the date pruning and Parquet's
    /// row-group statistics only skip data, they do not filter rows.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut inputs = Vec::new();
        let files = self.files_for(filters);
        if !files.is_empty() {
            inputs.push(self.scan_files(state, &files, projection, limit).await?);
        }
        if !self.batches.is_empty() {
            let memory = MemTable::try_new(Arc::clone(&self.schema), vec![self.batches.clone()])?;
            inputs.push(memory.scan(state, projection, filters, limit).await?);
        }
        if inputs.is_empty() {
            let schema = match projection {
                Some(indices) => Arc::new(self.schema.project(indices)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        UnionExec::try_new(inputs)
    }
}

/// An inclusive range of UTC milliseconds that rows passing the filters may have in the
/// time column; `None` bounds are open. Rows with a NULL time pass no comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeRange {
    lo: Option<i64>,
    hi: Option<i64>,
}

impl TimeRange {
    const ALL: TimeRange = TimeRange { lo: None, hi: None };

    fn intersect(self, other: TimeRange) -> TimeRange {
        TimeRange {
            lo: max_opt(self.lo, other.lo),
            hi: min_opt(self.hi, other.hi),
        }
    }

    /// The range a single filter allows; [`TimeRange::ALL`] for filters it cannot read
    /// (pruning is an optimisation: when in doubt, keep the file).
    fn of_filter(filter: &Expr, time_column: &str) -> TimeRange {
        match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if *op == Operator::And {
                    return Self::of_filter(left, time_column)
                        .intersect(Self::of_filter(right, time_column));
                }
                let (op, value) = match (column_of(left), column_of(right)) {
                    (Some(column), None) if column.name == time_column => (*op, right),
                    (None, Some(column)) if column.name == time_column => match op.swap() {
                        Some(op) => (op, left),
                        None => return TimeRange::ALL,
                    },
                    _ => return TimeRange::ALL,
                };
                let Some(ns) = timestamp_ns(value) else {
                    return TimeRange::ALL;
                };
                let floor = ns.div_euclid(1_000_000);
                let ceil = floor + i64::from(ns.rem_euclid(1_000_000) != 0);
                match op {
                    Operator::Eq => TimeRange {
                        lo: Some(ceil),
                        hi: Some(floor),
                    },
                    Operator::Gt => TimeRange {
                        lo: Some(floor.saturating_add(1)),
                        hi: None,
                    },
                    Operator::GtEq => TimeRange {
                        lo: Some(ceil),
                        hi: None,
                    },
                    Operator::Lt => TimeRange {
                        lo: None,
                        hi: Some(ceil.saturating_sub(1)),
                    },
                    Operator::LtEq => TimeRange {
                        lo: None,
                        hi: Some(floor),
                    },
                    _ => TimeRange::ALL,
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if column_of(expr).is_some_and(|column| column.name == time_column) => {
                let low =
                    Expr::BinaryExpr(BinaryExpr::new(expr.clone(), Operator::GtEq, low.clone()));
                let high =
                    Expr::BinaryExpr(BinaryExpr::new(expr.clone(), Operator::LtEq, high.clone()));
                Self::of_filter(&low, time_column).intersect(Self::of_filter(&high, time_column))
            }
            _ => TimeRange::ALL,
        }
    }

    /// Whether a file of UTC `date` (`None`: rows without a time) may hold rows in range.
    fn may_hold(&self, date: Option<NaiveDate>) -> bool {
        if *self == TimeRange::ALL {
            return true;
        }
        let Some(date) = date else {
            return false; // NULL times pass no comparison
        };
        let day_start = date
            .and_hms_opt(0, 0, 0)
            .map(|midnight| midnight.and_utc().timestamp_millis());
        let Some(day_start) = day_start else {
            return true;
        };
        let day_end = day_start + TimeDelta::days(1).num_milliseconds() - 1;
        self.lo.is_none_or(|lo| day_end >= lo) && self.hi.is_none_or(|hi| day_start <= hi)
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The column an expression reads, looking through casts (the planner casts columns
/// and literals to a common timestamp type).
fn column_of(expr: &Expr) -> Option<&Column> {
    match expr {
        Expr::Column(column) => Some(column),
        Expr::Cast(cast) => column_of(&cast.expr),
        Expr::TryCast(cast) => column_of(&cast.expr),
        _ => None,
    }
}

/// A timestamp literal as UTC nanoseconds (saturating: pruning only needs the day).
fn timestamp_ns(expr: &Expr) -> Option<i64> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    let (value, unit) = match value {
        ScalarValue::TimestampSecond(Some(v), _) => (*v, TimeUnit::Second),
        ScalarValue::TimestampMillisecond(Some(v), _) => (*v, TimeUnit::Millisecond),
        ScalarValue::TimestampMicrosecond(Some(v), _) => (*v, TimeUnit::Microsecond),
        ScalarValue::TimestampNanosecond(Some(v), _) => (*v, TimeUnit::Nanosecond),
        _ => return None,
    };
    let per_unit: i64 = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    Some(value.saturating_mul(per_unit))
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;

    fn ts_ms(ms: i64) -> Expr {
        lit(ScalarValue::TimestampMillisecond(
            Some(ms),
            Some("UTC".into()),
        ))
    }

    fn day(d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2024, 3, d)
    }

    fn day_start_ms(d: u32) -> i64 {
        day(d)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis())
            .expect("valid date")
    }

    #[test]
    fn filters_on_the_time_column_keep_only_overlapping_days() {
        let t = "queued_at";
        let at = |expr: Expr| TimeRange::of_filter(&expr, t);
        // [2 Mar, 4 Mar): days 2 and 3.
        let range = at(col(t).gt_eq(ts_ms(day_start_ms(2))))
            .intersect(at(col(t).lt(ts_ms(day_start_ms(4)))));
        let kept: Vec<u32> = (1..=5).filter(|d| range.may_hold(day(*d))).collect();
        assert_eq!(kept, [2, 3]);
        assert!(
            !range.may_hold(None),
            "rows without a time fail every comparison"
        );

        // A literal on the left, `>` at the last millisecond of a day, BETWEEN, AND.
        let last_ms_of_2 = day_start_ms(3) - 1;
        let range = at(ts_ms(last_ms_of_2).lt(col(t)));
        assert!(!range.may_hold(day(2)) && range.may_hold(day(3)));
        let range = at(col(t).between(ts_ms(day_start_ms(2) + 5), ts_ms(day_start_ms(2) + 9)));
        assert_eq!((1..=3).filter(|d| range.may_hold(day(*d))).count(), 1);
        let range = at(col(t).eq(ts_ms(day_start_ms(5))).and(col(t).gt(ts_ms(0))));
        assert_eq!(
            (1..=6)
                .filter(|d| range.may_hold(day(*d)))
                .collect::<Vec<_>>(),
            [5]
        );
    }

    #[test]
    fn other_filters_prune_nothing() {
        let t = "queued_at";
        for filter in [
            col("answered_at").gt(ts_ms(day_start_ms(4))),
            col(t).gt(lit(5)),
            col(t).not_eq(ts_ms(0)),
            col(t).gt(ts_ms(0)).or(col(t).lt(ts_ms(0))),
        ] {
            let range = TimeRange::of_filter(&filter, t);
            assert_eq!(range, TimeRange::ALL, "{filter}");
            assert!(range.may_hold(None));
        }
    }
}
