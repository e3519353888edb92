//! `ccpulse report list | show NAME | run NAME`: the report catalog from the command line.
//! `run` streams the report out of the query engine into a CSV, XLSX, JSON, NDJSON or
//! Parquet file (written beside the target and renamed when complete, so a failed run
//! never leaves half a file under the name).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ccpulse_query::export::{ExportFormat, ExportOptions, ExportWriter};
use ccpulse_query::reports::{ExportMode, ReportDef, catalog};
use ccpulse_query::{QueryEngine, TenantScope};
use chrono::Utc;

use crate::cli::{ReportRunArgs, ReportShowArgs};
use crate::config::FlagOverrides;
use crate::progress::count_bar;

/// Exit status for a run refused because of its input (unknown report, bad parameter,
/// invalid configuration).
const CLIENT_ERROR: u8 = 2;

pub(crate) async fn list() -> Result<ExitCode> {
    let reports = catalog();
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for report in &reports {
        println!("{:width$}  {}", report.name, report.title);
    }
    eprintln!(
        "{} reports; `ccpulse report show NAME` for parameters and columns",
        reports.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(args: ReportShowArgs) -> Result<ExitCode> {
    let Some(report) = catalog().into_iter().find(|r| r.name == args.name) else {
        eprintln!("error: {}", unknown(&args.name));
        return Ok(ExitCode::from(CLIENT_ERROR));
    };
    print!("{}", describe(&report));
    Ok(ExitCode::SUCCESS)
}

/// The report's description, parameters and columns, for `show`.
fn describe(report: &ReportDef) -> String {
    let mut text = format!(
        "{} — {}\n\n{}\n\nParameters:\n",
        report.name, report.title, report.description
    );
    for param in report.parameters() {
        text.push_str(&format!("  {:16} {}\n", param.name, param.description));
    }
    text.push_str("\nColumns:\n");
    let width = report
        .columns
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for column in report.columns {
        text.push_str(&format!(
            "  {:width$}  {}\n",
            column.name, column.description
        ));
    }
    text
}

fn unknown(name: &str) -> String {
    let names: Vec<&str> = catalog().iter().map(|r| r.name).collect();
    format!(
        "no report named {name:?}; the catalog has {}",
        names.join(", ")
    )
}

pub(crate) async fn run(args: ReportRunArgs) -> Result<ExitCode> {
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
    let Some(report) = catalog().into_iter().find(|r| r.name == args.name) else {
        eprintln!("error: {}", unknown(&args.name));
        return Ok(ExitCode::from(CLIENT_ERROR));
    };
    let mut params = Vec::new();
    for param in &args.param {
        let Some((name, value)) = param.split_once('=') else {
            eprintln!("error: --param {param:?}: expected NAME=VALUE");
            return Ok(ExitCode::from(CLIENT_ERROR));
        };
        params.push((name.trim().to_owned(), value.to_owned()));
    }
    let format = match (&args.format, args.out.as_path()) {
        (Some(format), _) => ExportFormat::parse(format)?,
        (None, path) if path == Path::new("-") => ExportFormat::Csv,
        (None, path) => ExportFormat::from_path(path).with_context(|| {
            format!(
                "cannot tell the format from `{}`: give --format csv|xlsx|json|ndjson|parquet",
                path.display()
            )
        })?,
    };
    let to_stdout = args.out == Path::new("-");
    if to_stdout && matches!(format, ExportFormat::Xlsx | ExportFormat::Parquet) {
        bail!("{format} is binary: give --out FILE instead of `-`");
    }
    let mode = match (args.page, args.everything) {
        (Some(page), false) => ExportMode::Page {
            offset: page.saturating_sub(1).saturating_mul(args.page_size),
            limit: args.page_size,
        },
        (None, true) => ExportMode::Everything,
        (None, false) => ExportMode::Filtered,
        (Some(_), true) => bail!("--page and --everything exclude each other"),
    };
    let (source, tenant_id) = super::sql::open_data_dir(&config.data_dir, args.tenant)?;
    let tenant_tz = config.fold.tenant(&tenant_id).timezone;
    // Timestamps in the file are shown in the report's zone. A bad `timezone` parameter
    // is reported by the report's own parameter check below.
    let report_tz = params
        .iter()
        .find(|(name, _)| name == "timezone")
        .and_then(|(_, zone)| zone.trim().parse().ok())
        .unwrap_or(tenant_tz);
    let engine = QueryEngine::new(Arc::new(source), config.query.clone())?;
    let scope = TenantScope::new(tenant_id, tenant_tz);
    let started = Instant::now();
    let mut stream = match engine
        .stream_report(&scope, report.name, &params, Utc::now(), mode)
        .await
    {
        Ok(stream) => stream,
        Err(error) if error.is_client_error() => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(CLIENT_ERROR));
        }
        Err(error) => return Err(error).context("the report failed"),
    };
    let options = ExportOptions {
        timezone: Some(report_tz),
        sheet_name: report.name.to_owned(),
        title: Some(report.title.to_owned()),
        ..ExportOptions::default()
    };
    let (out, partial): (Box<dyn Write + Send>, Option<PathBuf>) = if to_stdout {
        (Box::new(BufWriter::new(std::io::stdout())), None)
    } else {
        let partial = partial_path(&args.out);
        let file =
            File::create(&partial).with_context(|| format!("creating `{}`", partial.display()))?;
        (Box::new(BufWriter::new(file)), Some(partial))
    };
    let result = async {
        let mut writer = ExportWriter::new(out, format, stream.schema().clone(), options)?;
        let bar = count_bar(0, "rows", args.quiet || to_stdout);
        while let Some(batch) = stream.next_batch().await {
            let batch = batch?;
            writer.write_batch(&batch)?;
            bar.inc(batch.num_rows() as u64);
        }
        bar.finish_and_clear();
        anyhow::Ok(writer.finish()?)
    }
    .await;
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            if let Some(partial) = &partial {
                let _ = std::fs::remove_file(partial);
            }
            let client = error
                .downcast_ref::<ccpulse_query::Error>()
                .is_some_and(ccpulse_query::Error::is_client_error)
                || error
                    .downcast_ref::<ccpulse_query::export::ExportError>()
                    .is_some_and(|e| e.is_client_error());
            if client {
                eprintln!("error: {error:#}");
                return Ok(ExitCode::from(CLIENT_ERROR));
            }
            return Err(error.context("writing the report"));
        }
    };
    if let Some(partial) = &partial {
        std::fs::rename(partial, &args.out).with_context(|| {
            format!(
                "renaming `{}` to `{}`",
                partial.display(),
                args.out.display()
            )
        })?;
    }
    eprintln!(
        "{}: {} rows of tenant {} as {format} {} ({} bytes) in {:.2} s",
        report.name,
        summary.rows,
        scope.tenant_id,
        if to_stdout {
            "to standard output".to_owned()
        } else {
            format!("to {}", args.out.display())
        },
        summary.bytes,
        started.elapsed().as_secs_f64()
    );
    if summary.truncated_cells > 0 {
        eprintln!(
            "note: {} cells were longer than Excel allows and were cut",
            summary.truncated_cells
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `<out>.partial`, beside the target.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}
