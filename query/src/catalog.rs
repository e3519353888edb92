//! The DataFusion session of one query: the tenant's tables, as views that only ever see
//! that tenant's rows, the ccpulse SQL functions, and the memory limit.
//!
//! Each table of the [`TableSource`](ccpulse_schemas::source::TableSource) becomes a view
//! over a [`SnapshotTable`]:
//! - **detail and live tables** (`events`, `interactions`, `agent_states`, `queue_live`,
//!   `agent_live`): `SELECT * FROM <rows> WHERE tenant_id = '<tenant>'`;
//! - **interval tables** (`queue_intervals`, `agent_intervals`, `campaign_intervals`): the
//!   stored rows are additive deltas (a checkpoint's final rows plus the live tail), so the
//!   view sums them by key: one row per key, as metrics.md describes the table. Counters
//!   and sums are `SUM`med, `*_min_ms` take the `MIN`, `*_max_ms` and `sl_threshold_ms`
//!   the `MAX`, wait histograms are summed bucket by bucket (`histogram_sum`) and
//!   `away_by_reason` key by key (`map_sum`).
//!
//! The tenant filter is part of each view's plan, below anything the analyst writes: no
//! SQL can reach a row of another tenant, because the session holds no other table
//! (the snapshot itself holds only the tenant's files and rows; the filter is the second
//! wall). Filters on the time column reach the scan, which skips files of other days.

use std::sync::Arc;

use ccpulse_schemas::source::{Snapshot, TableDef, TableKind};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::view::ViewTable;
use datafusion::datasource::provider_as_source;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::{SessionConfig, SessionContext, col, lit};

use crate::TenantScope;
use crate::config::QueryConfig;
use crate::functions;
use crate::table::SnapshotTable;

/// The column every table starts with.
const TENANT_COLUMN: &str = "tenant_id";

/// A session holding `scope`'s tables from `snapshot` (see the module docs).
pub(crate) fn tenant_session(
    defs: &[TableDef],
    mut snapshot: Snapshot,
    scope: &TenantScope,
    config: &QueryConfig,
) -> Result<SessionContext> {
    let session_config = SessionConfig::new()
        .with_target_partitions(config.target_partitions)
        .with_information_schema(true);
    // No spilling: a query over its memory limit stops with a clear error instead of
    // writing temporary files.
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(config.limits.memory_limit_bytes, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()?;
    let state = SessionStateBuilder::new()
        .with_config(session_config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    let ctx = SessionContext::new_with_state(state);
    for udf in functions::scalar_functions(scope.timezone) {
        ctx.register_udf(udf);
    }
    for udaf in functions::aggregate_functions() {
        ctx.register_udaf(udaf);
    }
    for def in defs {
        let data = snapshot.tables.remove(&def.name).unwrap_or_default();
        let rows = SnapshotTable::new(Arc::clone(&def.schema), def.time_column.clone(), data);
        let plan = table_view(def, rows, &scope.tenant_id)?;
        ctx.register_table(def.name.as_str(), Arc::new(ViewTable::new(plan, None)))?;
    }
    Ok(ctx)
}

/// The plan of one table's view: the tenant filter, and for interval tables the sums.
fn table_view(def: &TableDef, rows: SnapshotTable, tenant_id: &str) -> Result<LogicalPlan> {
    let scan =
        LogicalPlanBuilder::scan(def.name.as_str(), provider_as_source(Arc::new(rows)), None)?
            .filter(col(TENANT_COLUMN).eq(lit(tenant_id)))?;
    let TableKind::Interval { key } = def.kind else {
        return scan.build();
    };
    let mut aggregates = Vec::new();
    for field in def.schema.fields() {
        if key.contains(&field.name().as_str()) {
            continue;
        }
        aggregates.push(merge_expr(&def.name, field)?.alias(field.name()));
    }
    let group: Vec<Expr> = key.iter().map(|name| col(*name)).collect();
    let in_table_order: Vec<Expr> = def.schema.fields().iter().map(|f| col(f.name())).collect();
    scan.aggregate(group, aggregates)?
        .project(in_table_order)?
        .build()
}

/// How the deltas of one interval column combine.
fn merge_expr(table: &str, field: &Field) -> Result<Expr> {
    let name = field.name();
    let column = col(name);
    Ok(match field.data_type() {
        DataType::List(_) => functions::histogram_sum().call(vec![column]),
        DataType::Map(_, _) => functions::map_sum().call(vec![column]),
        DataType::Int64 if name.ends_with("_min_ms") => min(column),
        DataType::Int64 if name.ends_with("_max_ms") || name == "sl_threshold_ms" => max(column),
        DataType::Int64 => sum(column),
        other => {
            return Err(DataFusionError::Plan(format!(
                "interval table {table}: no rule to sum column {name} of type {other}"
            )));
        }
    })
}
