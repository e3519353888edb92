//! The SQL golden tests: every `query/tests/slt/*.slt` file runs through `sqllogictest`
//! against a fresh [`QueryEngine`] over one sample-data fixture (the file's first line
//! says which: `# fixture: a-answered-hold-acw-abandons`).
//!
//! The fixture's events go through the real aggregator ([`Folded`]: the pipeline driven
//! in-process without Kafka, which adds nothing to SQL), checkpointed once half-way, so
//! every table is Parquet files *and* the in-memory tail, read through the same source
//! the API uses. `queue_live` and `agent_live` come from the live view.
//!
//! Run one file: `cargo test --workspace --locked --test sqllogictests -- functions`.
//! Rewrite the expected results after a deliberate change:
//! `CCPULSE_SLT_COMPLETE=1 cargo test --workspace --locked --test sqllogictests`, then
//! review the diff of `query/tests/slt/` like code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use async_trait::async_trait;
use ccpulse_query::{QueryConfig, QueryEngine, TenantScope};
use ccpulse_tests::aggregate::{FIXTURE_TENANT, fixture};
use ccpulse_tests::query::Folded;
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use sqllogictest::{DBOutput, DefaultColumnType};

fn slt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../query/tests/slt")
}

/// A fixture folded by the aggregator (half committed, half in the tail), and the
/// tenant's time zone.
struct FoldedFixture {
    _folded: Folded,
    engine: Arc<QueryEngine>,
    timezone: chrono_tz::Tz,
}

fn fold_fixture(name: &str) -> Result<FoldedFixture> {
    let (events, config) = fixture(name)?;
    let timezone = config.tenant(FIXTURE_TENANT).timezone;
    let folded = Folded::new(&events, config, 1)?;
    let engine = folded.live_engine(QueryConfig::default())?;
    Ok(FoldedFixture {
        _folded: folded,
        engine: Arc::new(engine),
        timezone,
    })
}

/// One `.slt` connection: the tenant's queries through the engine.
struct Db {
    engine: Arc<QueryEngine>,
    scope: TenantScope,
}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = ccpulse_query::Error;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let output = self.engine.sql(&self.scope, sql).await?;
        let types = output
            .schema
            .fields()
            .iter()
            .map(|field| column_type(field.data_type()))
            .collect();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::with_capacity(output.rows);
        for batch in &output.batches {
            let formatters: Vec<_> = batch
                .columns()
                .iter()
                .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
                .collect::<Result<_, _>>()
                .map_err(|err| ccpulse_query::Error::Execute {
                    cause: Box::new(err.into()),
                })?;
            for row in 0..batch.num_rows() {
                rows.push(
                    formatters
                        .iter()
                        .zip(batch.columns())
                        .map(|(formatter, column)| {
                            let text = formatter.value(row).to_string();
                            // sqllogictest cannot tell an empty string from no value.
                            if text.is_empty() && !column.is_null(row) {
                                "(empty)".to_owned()
                            } else {
                                text
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "ccpulse"
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => {
            DefaultColumnType::FloatingPoint
        }
        _ => DefaultColumnType::Text,
    }
}

/// The fixture a file names on its first line.
fn fixture_of(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)?;
    let first = text.lines().next().unwrap_or_default();
    match first.strip_prefix("# fixture:") {
        Some(name) => Ok(name.trim().to_owned()),
        None => bail!(
            "{}: the first line must be `# fixture: <sample-data fixture>`",
            path.display()
        ),
    }
}

async fn run_file(path: &Path, complete: bool) -> Result<()> {
    let fixture = fold_fixture(&fixture_of(path)?)?;
    let engine = Arc::clone(&fixture.engine);
    let scope = TenantScope::new(FIXTURE_TENANT, fixture.timezone);
    let mut runner = sqllogictest::Runner::new(move || {
        let db = Db {
            engine: Arc::clone(&engine),
            scope: scope.clone(),
        };
        async move { Ok(db) }
    });
    if complete {
        runner
            .update_test_file(
                path,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::strict_column_validator,
            )
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
    } else {
        runner.with_column_validator(sqllogictest::strict_column_validator);
        runner
            .run_file_async(path)
            .await
            .map_err(|err| anyhow::anyhow!("{}", err.display(true)))?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let complete = std::env::var_os("CCPULSE_SLT_COMPLETE").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(slt_dir())?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "slt"));
    files.sort();
    if files.is_empty() {
        bail!("no .slt files in {}", slt_dir().display());
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let mut failed = Vec::new();
    let mut ran = 0;
    for path in &files {
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        match runtime.block_on(run_file(path, complete)) {
            Ok(()) => println!("slt {name} ... ok"),
            Err(err) => {
                println!("slt {name} ... FAILED\n{err:#}\n");
                failed.push(name.into_owned());
            }
        }
    }
    println!("{ran} .slt files, {} failed", failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("failed: {}", failed.join(", "))
    }
}
