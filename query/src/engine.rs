//! [`QueryEngine`]: runs one analyst query for one tenant, read-only, on the query runtime,
//! under the [`QueryLimits`](crate::QueryLimits).
//!
//! ```text
//! caller (I/O runtime) ── sql(scope, text) ──> guard::check_statement (refuse non-queries)
//!                                              │
//!          query runtime (own threads) <───────┘ spawn, await the handle
//!            ├─ wait for a slot (max_concurrent)
//!            ├─ TableSource::snapshot(tenant)      (blocking pool: lists manifests)
//!            ├─ catalog::tenant_session            (views with the tenant filter)
//!            ├─ plan, guard::verify_plan, execute  (memory limit, no spill)
//!            └─ collect, stopping at max_rows + 1  (time limit over all of it)
//! ```
//!
//! A file can vanish between the snapshot and the scan when a compaction replaces it; the
//! query then runs once more on a new snapshot (the new one names the merged file).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccpulse_schemas::source::{Snapshot, TableDef, TableSource};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::catalog;
use crate::config::QueryConfig;
use crate::error::{Error, Result};
use crate::guard;
use crate::reports::{self, ReportDef, ReportParams};

/// How many times a query runs when files vanish under it (see the module docs).
const ATTEMPTS: usize = 2;

/// Longest tenant id allowed by the event contract.
const MAX_TENANT_LEN: usize = 64;

/// Whose data a query sees, and the time zone its days start in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    /// The only tenant whose rows the query can read.
    pub tenant_id: String,
    /// The tenant's IANA time zone: the default of `time_bucket` and of report days.
    pub timezone: Tz,
}

impl TenantScope {
    /// A scope for `tenant_id` in `timezone`.
    pub fn new(tenant_id: impl Into<String>, timezone: Tz) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            timezone,
        }
    }
}

/// The result of a query.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// The columns (also when there are no rows).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// Number of rows in `batches`.
    pub rows: usize,
    /// From the call to the last row.
    pub elapsed: Duration,
}

/// Runs analyst SQL over a [`TableSource`] (see the module docs).
#[derive(Debug)]
pub struct QueryEngine {
    source: Arc<dyn TableSource>,
    tables: Arc<[TableDef]>,
    config: Arc<QueryConfig>,
    runtime: QueryRuntime,
    slots: Arc<Semaphore>,
    reports: Arc<[ReportDef]>,
}

impl QueryEngine {
    /// An engine reading `source`, with its own runtime of `config.threads` threads.
    ///
    /// # Errors
    /// [`Error::StartRuntime`] when the runtime's threads cannot be started.
    pub fn new(source: Arc<dyn TableSource>, config: QueryConfig) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name("ccpulse-query")
            .enable_all()
            .build()
            .map_err(|source| Error::StartRuntime { source })?;
        Ok(Self {
            tables: source.tables().into(),
            source,
            slots: Arc::new(Semaphore::new(config.limits.max_concurrent.max(1))),
            reports: reports::catalog().into(),
            config: Arc::new(config),
            runtime: QueryRuntime(Some(runtime)),
        })
    }

    /// The tables a query can name, with their schemas.
    pub fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    /// The settings in effect.
    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// The report catalog.
    pub fn reports(&self) -> &[ReportDef] {
        &self.reports
    }

    /// Runs the catalog's report `name` with the parameters `params` (name, value) over
    /// `scope`'s rows; `now` decides the default range ("today").
    ///
    /// # Errors
    /// [`Error::UnknownReport`], [`Error::InvalidParam`], and those of
    /// [`QueryEngine::sql`].
    pub async fn report(
        &self,
        scope: &TenantScope,
        name: &str,
        params: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<QueryOutput> {
        let report = self
            .reports
            .iter()
            .find(|report| report.name == name)
            .ok_or_else(|| Error::UnknownReport {
                name: name.to_owned(),
                available: self
                    .reports
                    .iter()
                    .map(|report| report.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let params = ReportParams::parse(report, params, scope.timezone, now)?;
        self.sql(scope, &(report.sql)(&params)).await
    }

    /// Runs `sql` over `scope`'s rows and returns the whole result.
    ///
    /// Callable from any runtime: the work runs on the query runtime, and dropping the
    /// returned future cancels it.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`], [`Error::Parse`], [`Error::Refused`], [`Error::Plan`],
    /// [`Error::TimeLimit`], [`Error::RowLimit`], [`Error::MemoryLimit`],
    /// [`Error::Execute`] (see [`Error::is_client_error`]), and the storage failures
    /// [`Error::Snapshot`] and [`Error::Storage`].
    pub async fn sql(&self, scope: &TenantScope, sql: &str) -> Result<QueryOutput> {
        let started = Instant::now();
        check_tenant(&scope.tenant_id)?;
        guard::check_statement(sql)?;
        let job = Job {
            source: Arc::clone(&self.source),
            tables: Arc::clone(&self.tables),
            config: Arc::clone(&self.config),
            slots: Arc::clone(&self.slots),
            scope: scope.clone(),
            sql: sql.to_owned(),
        };
        let time_limit = self.config.limits.time_limit;
        let handle = self.runtime.handle().spawn(async move {
            match tokio::time::timeout(time_limit, job.run()).await {
                Ok(result) => result,
                Err(_) => Err(Error::TimeLimit { limit: time_limit }),
            }
        });
        let (schema, batches) = AbortOnDrop(handle)
            .join()
            .await
            .map_err(|source| Error::Task { source })??;
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let elapsed = started.elapsed();
        tracing::debug!(
            tenant_id = %scope.tenant_id,
            rows,
            elapsed_ms = elapsed.as_millis() as u64,
            "query finished"
        );
        Ok(QueryOutput {
            schema,
            batches,
            rows,
            elapsed,
        })
    }
}

/// Everything a query needs on the query runtime.
struct Job {
    source: Arc<dyn TableSource>,
    tables: Arc<[TableDef]>,
    config: Arc<QueryConfig>,
    slots: Arc<Semaphore>,
    scope: TenantScope,
    sql: String,
}

impl Job {
    async fn run(self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        // The semaphore is never closed.
        let _slot = self.slots.acquire().await;
        let mut attempt = 1;
        loop {
            let snapshot = self.snapshot().await?;
            let files: Vec<PathBuf> = snapshot
                .tables
                .values()
                .flat_map(|table| table.files.iter().map(|file| file.path.clone()))
                .collect();
            match self.attempt(snapshot).await {
                Err(err @ Error::Storage { .. }) if attempt < ATTEMPTS => {
                    // Parquet's errors do not keep the I/O error kind: look at the files.
                    if files.iter().all(|path| path.exists()) {
                        return Err(err);
                    }
                    tracing::debug!(
                        tenant_id = %self.scope.tenant_id,
                        "a file vanished under a query; running it again"
                    );
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        let source = Arc::clone(&self.source);
        let tenant_id = self.scope.tenant_id.clone();
        tokio::task::spawn_blocking(move || source.snapshot(&tenant_id))
            .await
            .map_err(|source| Error::Task { source })?
            .map_err(|source| Error::Snapshot { source })
    }

    async fn attempt(&self, snapshot: Snapshot) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let ctx = catalog::tenant_session(&self.tables, snapshot, &self.scope, &self.config)
            .map_err(Error::from_planning)?;
        let plan = ctx
            .state()
            .create_logical_plan(&self.sql)
            .await
            .map_err(Error::from_planning)?;
        guard::verify_plan(&plan)?;
        let memory_limit = self.config.limits.memory_limit_bytes;
        let frame = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(Error::from_planning)?;
        let schema = Arc::clone(frame.schema().inner());
        let mut stream = frame
            .execute_stream()
            .await
            .map_err(|err| Error::from_execution(err, memory_limit))?;
        let max_rows = self.config.limits.max_rows;
        let mut rows = 0;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|err| Error::from_execution(err, memory_limit))?;
            rows += batch.num_rows();
            if rows > max_rows {
                return Err(Error::RowLimit { limit: max_rows });
            }
            batches.push(batch);
        }
        Ok((schema, batches))
    }
}

/// Checks a tenant id against the contract's `[A-Za-z0-9_.-]{1,64}`.
fn check_tenant(tenant_id: &str) -> Result<()> {
    let valid = !tenant_id.is_empty()
        && tenant_id.len() <= MAX_TENANT_LEN
        && tenant_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidTenant {
            tenant_id: tenant_id.to_owned(),
        })
    }
}

/// The query runtime. Dropped without blocking, so an engine can be dropped inside
/// another runtime (tokio refuses to block a runtime thread on a runtime's shutdown).
#[derive(Debug)]
struct QueryRuntime(Option<Runtime>);

impl QueryRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        // Only `Drop` takes the runtime out.
        match &self.0 {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the query runtime is present until the engine is dropped"),
        }
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A task handle that aborts the task when dropped: a caller that gives up on a query
/// (a closed HTTP connection) stops its work.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn join(mut self) -> std::result::Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
