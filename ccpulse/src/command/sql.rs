//! `ccpulse sql`: one analyst query over the tables in a data directory, printed as a
//! table, CSV or JSON. It reads what the aggregator committed (final and provisional
//! segments); the live tail of a running ingest is served by `ccpulse serve`'s HTTP API.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ccpulse_dashboard_api::alerts::WithAlerts;
use ccpulse_ingest::source::StoreSource;
use ccpulse_query::export::{ExportFormat, ExportOptions, write_batches};
use ccpulse_query::{QueryEngine, TenantScope};
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::cli::{SqlArgs, SqlFormat};
use crate::config::FlagOverrides;

/// Exit status for a query that was refused or failed because of its text (or for an
/// invalid configuration): the caller must change something.
const CLIENT_ERROR: u8 = 2;

pub(crate) async fn run(args: SqlArgs) -> Result<ExitCode> {
    let config = match super::load_config(
        args.config.config.as_deref(),
        FlagOverrides {
            data_dir: args.data_dir.clone(),
            ..FlagOverrides::default()
        },
    ) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let sql = match args.query.as_str() {
        "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the query from standard input")?;
            text
        }
        text => text.to_owned(),
    };
    let (source, tenant_id) = open_data_dir(&config.data_dir, args.tenant)?;
    let timezone = config.fold.tenant(&tenant_id).timezone;
    let mut query_config = config.query.clone();
    if let Some(max_rows) = args.max_rows {
        query_config.limits.max_rows = max_rows;
    }
    let engine = QueryEngine::new(Arc::new(source), query_config)?;
    let scope = TenantScope::new(tenant_id, timezone);
    let output = match engine.sql(&scope, &sql).await {
        Ok(output) => output,
        Err(error) if error.is_client_error() => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(CLIENT_ERROR));
        }
        Err(error) => return Err(error).context("the query failed"),
    };
    // `Stdout`, not its lock: the export writer needs a `Send` output.
    let mut stdout = std::io::BufWriter::new(std::io::stdout());
    let export = |out: &mut std::io::BufWriter<std::io::Stdout>, format| {
        write_batches(
            out,
            format,
            &output.schema,
            &output.batches,
            ExportOptions::default(),
        )
        .context("writing the result")
    };
    match args.format {
        SqlFormat::Table => {
            let table = pretty_format_batches(&output.batches).context("formatting the result")?;
            writeln!(stdout, "{table}")?;
        }
        SqlFormat::Csv => {
            export(&mut stdout, ExportFormat::Csv)?;
        }
        SqlFormat::Json => {
            export(&mut stdout, ExportFormat::Json)?;
            writeln!(stdout)?;
        }
        SqlFormat::Ndjson => {
            export(&mut stdout, ExportFormat::Ndjson)?;
        }
    }
    stdout.flush()?;
    eprintln!(
        "{} row{} of tenant {} in {:.3} s",
        output.rows,
        if output.rows == 1 { "" } else { "s" },
        scope.tenant_id,
        output.elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The tables under `data_dir` (with the alert history as `alerts`) and whose rows to
/// read: `tenant`, or the only tenant the directory holds.
///
/// # Errors
/// When the directory does not exist, or holds no tenant or several and none was given.
pub(crate) fn open_data_dir(
    data_dir: &Path,
    tenant: Option<String>,
) -> Result<(WithAlerts, String)> {
    if !data_dir.is_dir() {
        bail!(
            "no data directory at `{}` (give --data-dir, or run `ccpulse ingest` first)",
            data_dir.display()
        );
    }
    let source = StoreSource::new(data_dir.to_path_buf());
    let tenant_id = match tenant {
        Some(tenant) => tenant,
        None => only_tenant(&source)?,
    };
    let history = ccpulse_dashboard_api::alerts::history::path_in(data_dir);
    Ok((WithAlerts::new(Arc::new(source), history), tenant_id))
}

/// The tenant of a data directory that holds exactly one.
fn only_tenant(source: &StoreSource) -> Result<String> {
    let tenants = source.tenants().context("listing the tenants")?;
    match tenants.as_slice() {
        [tenant] => Ok(tenant.clone()),
        [] => bail!("the data directory holds no tables yet"),
        many => bail!(
            "the data directory holds {} tenants; choose one with --tenant ({})",
            many.len(),
            many.join(", ")
        ),
    }
}
