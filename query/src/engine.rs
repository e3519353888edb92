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
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use tokio::runtime::Runtime;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::catalog;
use crate::config::QueryConfig;
use crate::error::{Error, Result};
use crate::guard;
use crate::reports::{self, ExportMode, ReportDef, ReportParams};

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

    /// What the query runtime needs to run `sql` for `scope`.
    fn job(&self, scope: &TenantScope, sql: &str) -> Job {
        Job {
            source: Arc::clone(&self.source),
            tables: Arc::clone(&self.tables),
            config: Arc::clone(&self.config),
            slots: Arc::clone(&self.slots),
            scope: scope.clone(),
            sql: sql.to_owned(),
        }
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
        let sql = self.report_sql(scope, name, params, now, ExportMode::Filtered)?;
        self.sql(scope, &sql).await
    }

    /// Streams the catalog's report `name` (see [`QueryEngine::report`]) restricted to the
    /// rows `mode` selects, for a download (see [`QueryEngine::stream`]).
    ///
    /// # Errors
    /// As [`QueryEngine::report`] and [`QueryEngine::stream`].
    pub async fn stream_report(
        &self,
        scope: &TenantScope,
        name: &str,
        params: &[(String, String)],
        now: DateTime<Utc>,
        mode: ExportMode,
    ) -> Result<QueryStream> {
        let sql = self.report_sql(scope, name, params, now, mode)?;
        self.stream(scope, &sql).await
    }

    /// The report of the catalog named `name`.
    ///
    /// # Errors
    /// [`Error::UnknownReport`], listing the catalog.
    pub fn find_report(&self, name: &str) -> Result<&ReportDef> {
        self.reports
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
            })
    }

    fn report_sql(
        &self,
        scope: &TenantScope,
        name: &str,
        params: &[(String, String)],
        now: DateTime<Utc>,
        mode: ExportMode,
    ) -> Result<String> {
        let report = self.find_report(name)?;
        let params = ReportParams::parse(report, params, scope.timezone, now)?;
        Ok(report.sql(&params, mode))
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
        let job = self.job(scope, sql);
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

impl QueryEngine {
    /// Runs `sql` over `scope`'s rows and hands the result over batch by batch, for
    /// downloads too large to hold: at most two batches wait in memory, and a slow reader
    /// slows the query down. The export limits apply ([`QueryLimits::export_time_limit`]
    /// over the whole transfer, [`QueryLimits::export_max_rows`]); the memory limit as
    /// for any query.
    ///
    /// [`QueryLimits::export_time_limit`]: crate::QueryLimits::export_time_limit
    /// [`QueryLimits::export_max_rows`]: crate::QueryLimits::export_max_rows
    ///
    /// # Errors
    /// Those of [`QueryEngine::sql`] that happen before the first row; later ones
    /// (the time or row limit, a failing file) end the stream with an error item.
    pub async fn stream(&self, scope: &TenantScope, sql: &str) -> Result<QueryStream> {
        check_tenant(&scope.tenant_id)?;
        guard::check_statement(sql)?;
        let job = self.job(scope, sql);
        let limits = &self.config.limits;
        let (time_limit, max_rows) = (limits.export_time_limit, limits.export_max_rows);
        let (schema_tx, schema_rx) = oneshot::channel();
        let (batch_tx, batch_rx) = mpsc::channel(2);
        let timeout_tx = batch_tx.clone();
        let handle = self.runtime.handle().spawn(async move {
            let run = job.stream_into(max_rows, schema_tx, batch_tx);
            if tokio::time::timeout(time_limit, run).await.is_err() {
                let _ = timeout_tx
                    .send(Err(Error::TimeLimit { limit: time_limit }))
                    .await;
            }
        });
        let task = AbortOnDrop(handle);
        let schema = match schema_rx.await {
            Ok(schema) => schema?,
            // The task ended without a schema: only the time limit does that.
            Err(_) => {
                let mut batches = batch_rx;
                return Err(match batches.recv().await {
                    Some(Err(err)) => err,
                    _ => Error::TimeLimit { limit: time_limit },
                });
            }
        };
        Ok(QueryStream {
            schema,
            batches: batch_rx,
            _task: task,
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
                    // Parquet's errors do not keep the I/O error kind: look at the files
                    // (a few `stat`s, on the query runtime, only after a failure).
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
        let (schema, mut stream) = self.execute(snapshot).await?;
        let memory_limit = self.config.limits.memory_limit_bytes;
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

    /// Plans the query over `snapshot` and starts it.
    async fn execute(&self, snapshot: Snapshot) -> Result<(SchemaRef, SendableRecordBatchStream)> {
        let ctx = catalog::tenant_session(&self.tables, snapshot, &self.scope, &self.config)
            .map_err(Error::from_planning)?;
        let plan = ctx
            .state()
            .create_logical_plan(&self.sql)
            .await
            .map_err(Error::from_planning)?;
        guard::verify_plan(&plan)?;
        let frame = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(Error::from_planning)?;
        let schema = Arc::clone(frame.schema().inner());
        let stream = frame
            .execute_stream()
            .await
            .map_err(|err| Error::from_execution(err, self.config.limits.memory_limit_bytes))?;
        Ok((schema, stream))
    }

    /// Streams the result into `batches` (the row cap being `max_rows`), after sending
    /// the schema through `schema_tx`; errors go to whichever of the two is still open.
    async fn stream_into(
        self,
        max_rows: usize,
        schema_tx: oneshot::Sender<Result<SchemaRef>>,
        batches: mpsc::Sender<Result<RecordBatch>>,
    ) {
        let _slot = self.slots.acquire().await;
        let started = async {
            let snapshot = self.snapshot().await?;
            self.execute(snapshot).await
        };
        let (schema, mut stream) = match started.await {
            Ok(started) => started,
            Err(err) => {
                let _ = schema_tx.send(Err(err));
                return;
            }
        };
        if schema_tx.send(Ok(schema)).is_err() {
            return; // the caller went away
        }
        let memory_limit = self.config.limits.memory_limit_bytes;
        let mut rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|err| Error::from_execution(err, memory_limit));
            if let Ok(batch) = &batch {
                rows += batch.num_rows();
                if rows > max_rows {
                    let _ = batches.send(Err(Error::RowLimit { limit: max_rows })).await;
                    return;
                }
            }
            let failed = batch.is_err();
            if batches.send(batch).await.is_err() || failed {
                return;
            }
        }
    }
}

/// A query result arriving batch by batch (see [`QueryEngine::stream`]). Dropping it
/// cancels the query.
#[derive(Debug)]
pub struct QueryStream {
    schema: SchemaRef,
    batches: mpsc::Receiver<Result<RecordBatch>>,
    _task: AbortOnDrop<()>,
}

impl QueryStream {
    /// The result's columns.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The next batch; `None` after the last one. An error ends the stream.
    pub async fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        self.batches.recv().await
    }
}

impl futures::Stream for QueryStream {
    type Item = Result<RecordBatch>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.batches.poll_recv(cx)
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
#[derive(Debug)]
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
