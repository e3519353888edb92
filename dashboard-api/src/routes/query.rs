//! `/api/v1/sql`, `/api/v1/tables`, `/api/v1/reports…`: analyst SQL and the report
//! catalog (roles admin and analyst), scoped to the token's tenant by the query layer.
//!
//! `POST /api/v1/sql` answers JSON (columns, rows as objects, timing); a report run
//! (`GET /api/v1/reports/{name}/run?format=csv&from=…`) is a download, streamed batch
//! by batch as the query produces them.

use std::io::Write;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ccpulse_query::reports::ExportMode;
use ccpulse_query::{ExportFormat, ExportOptions, ExportWriter};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{rows_json, tenant_scope};
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::extract::{Caller, JsonBody};
use crate::state::ApiState;

fn require(caller: &Principal) -> Result<(), ApiError> {
    caller
        .require(Permission::RunQueries)
        .map_err(ApiError::forbidden)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SqlRequest {
    sql: String,
}

#[derive(Debug, Serialize)]
pub(super) struct Column {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
    nullable: bool,
}

fn columns(schema: &datafusion::arrow::datatypes::Schema) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .map(|field| Column {
            name: field.name().clone(),
            data_type: field.data_type().to_string(),
            nullable: field.is_nullable(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub(super) struct SqlResponse {
    columns: Vec<Column>,
    /// Rows as objects (column name → value), timestamps RFC 3339 in UTC.
    rows: Box<RawValue>,
    row_count: usize,
    elapsed_ms: f64,
}

pub(super) async fn sql(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<SqlRequest>,
) -> Result<Json<SqlResponse>, ApiError> {
    require(&caller)?;
    if request.sql.trim().is_empty() {
        return Err(ApiError::bad_request("`sql` is empty"));
    }
    let output = state
        .engine
        .sql(&tenant_scope(&state, &caller), &request.sql)
        .await;
    let output = match output {
        Ok(output) => output,
        Err(error) => return Err(error.into()),
    };
    state.metrics.observe_query("sql", output.elapsed);
    let rows = rows_json(&output)?;
    Ok(Json(SqlResponse {
        columns: columns(&output.schema),
        rows,
        row_count: output.rows,
        elapsed_ms: output.elapsed.as_secs_f64() * 1000.0,
    }))
}

#[derive(Debug, Serialize)]
pub(super) struct TableInfo {
    name: String,
    columns: Vec<Column>,
}

pub(super) async fn tables(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<TableInfo>>, ApiError> {
    require(&caller)?;
    Ok(Json(
        state
            .engine
            .tables()
            .iter()
            .map(|table| TableInfo {
                name: table.name.clone(),
                columns: columns(&table.schema),
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize)]
pub(super) struct ReportSummary {
    name: &'static str,
    title: &'static str,
}

pub(super) async fn reports(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<ReportSummary>>, ApiError> {
    require(&caller)?;
    Ok(Json(
        state
            .engine
            .reports()
            .iter()
            .map(|report| ReportSummary {
                name: report.name,
                title: report.title,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize)]
pub(super) struct Parameter {
    name: String,
    description: String,
}

#[derive(Debug, Serialize)]
pub(super) struct ReportDetail {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    parameters: Vec<Parameter>,
    columns: Vec<Parameter>,
    formats: [&'static str; 5],
}

pub(super) async fn report(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<ReportDetail>, ApiError> {
    require(&caller)?;
    let report = state.engine.find_report(&name)?;
    Ok(Json(ReportDetail {
        name: report.name,
        title: report.title,
        description: report.description,
        parameters: report
            .parameters()
            .into_iter()
            .map(|param| Parameter {
                name: param.name.to_owned(),
                description: param.description,
            })
            .collect(),
        columns: report
            .columns
            .iter()
            .map(|column| Parameter {
                name: column.name.to_owned(),
                description: column.description.to_owned(),
            })
            .collect(),
        formats: ["csv", "xlsx", "json", "ndjson", "parquet"],
    }))
}

/// `?format=&page=&page_size=&everything=` beside the report's own parameters.
const RUN_OPTIONS: [&str; 4] = ["format", "page", "page_size", "everything"];

pub(super) async fn run_report(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    require(&caller)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let report = state.engine.find_report(&name)?;
    let option = |key: &str| {
        query
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    let format = ExportFormat::parse(option("format").unwrap_or("csv"))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let number = |key: &str| -> Result<Option<usize>, ApiError> {
        option(key)
            .map(|value| {
                value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "`{key}` must be a whole number ≥ 1, not {value:?}"
                        ))
                    })
            })
            .transpose()
    };
    let everything = match option("everything") {
        None | Some("false") => false,
        Some("true" | "") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`everything` is true or false, not {other:?}"
            )));
        }
    };
    let mode = match (number("page")?, everything) {
        (Some(_), true) => {
            return Err(ApiError::bad_request(
                "`page` and `everything` exclude each other",
            ));
        }
        (Some(page), false) => {
            let limit = number("page_size")?.unwrap_or(100);
            ExportMode::Page {
                offset: (page - 1).saturating_mul(limit),
                limit,
            }
        }
        (None, true) => ExportMode::Everything,
        (None, false) => ExportMode::Filtered,
    };
    let params: Vec<(String, String)> = query
        .iter()
        .filter(|(name, _)| !RUN_OPTIONS.contains(&name.as_str()))
        .cloned()
        .collect();
    let scope = tenant_scope(&state, &caller);
    let report_tz = params
        .iter()
        .find(|(name, _)| name == "timezone")
        .and_then(|(_, zone)| zone.trim().parse().ok())
        .unwrap_or(scope.timezone);
    let started = Instant::now();
    let stream = state
        .engine
        .stream_report(&scope, report.name, &params, chrono::Utc::now(), mode)
        .await?;
    let options = ExportOptions {
        timezone: Some(report_tz),
        sheet_name: report.name.to_owned(),
        title: Some(report.title.to_owned()),
        ..ExportOptions::default()
    };
    let file_name = format!(
        "{}-{}.{}",
        report.name,
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    let body = download(stream, format, options, state.clone(), started)?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Chunks of the download, sent from the encoding thread to the response body.
struct ChannelWriter {
    chunks: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.chunks
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Drop for ChannelWriter {
    /// The last chunk (the writer is dropped on the encoding thread after `finish`).
    fn drop(&mut self) {
        let _ = self.send();
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Encodes `stream` on a blocking thread into a streamed body. An error after the
/// first bytes ends the body abruptly (the client sees a failed download, never a
/// complete-looking partial file).
fn download(
    mut stream: ccpulse_query::QueryStream,
    format: ExportFormat,
    options: ExportOptions,
    state: ApiState,
    started: Instant,
) -> Result<Body, ApiError> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let out = ChannelWriter {
        chunks: sender.clone(),
        buffer: Vec::with_capacity(CHUNK),
    };
    let mut writer = ExportWriter::new(out, format, stream.schema().clone(), options)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let result: Result<(), String> = (|| {
            while let Some(batch) = runtime.block_on(stream.next_batch()) {
                let batch = batch.map_err(|e| e.to_string())?;
                writer.write_batch(&batch).map_err(|e| e.to_string())?;
            }
            writer.finish().map_err(|e| e.to_string())?;
            Ok(())
        })();
        state.metrics.observe_query("report", started.elapsed());
        if let Err(message) = result {
            tracing::warn!(%message, "report download failed");
            let _ = sender.blocking_send(Err(std::io::Error::other(message)));
        }
    });
    let chunks = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    Ok(Body::from_stream(chunks))
}
