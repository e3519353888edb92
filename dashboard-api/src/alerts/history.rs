//! The alert history: every transition, acknowledgement, snooze and failed delivery,
//! one [`AlertRecord`] per line of `<data_dir>/alerts/history.ndjson`, served as the
//! `alerts` SQL table by [`WithAlerts`].
//!
//! Lines are appended and flushed before anyone hears of them, so the history is
//! never behind a notification. A reader takes every complete line (a line being
//! written when it reads has no newline yet and is left for the next read), so
//! `ccpulse sql` beside a running `serve` sees the same table. There is no retention
//! yet: alerts are rare next to events, and the file grows by a few hundred bytes per
//! transition.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ccpulse_schemas::source::{Snapshot, SourceError, TableData, TableDef, TableKind, TableSource};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

/// One line of the history and one row of the `alerts` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub tenant_id: String,
    /// The episode (one rule on one subject, from pending or firing to the end).
    pub alert_id: String,
    pub rule_id: String,
    pub rule_name: String,
    /// `pending`, `cancelled`, `firing`, `escalated`, `reminder`, `resolved`,
    /// `acknowledged`, `snoozed` or `delivery_failed`.
    pub event: String,
    /// The state after it: `ok`, `pending` or `firing`.
    pub state: String,
    pub severity: Option<String>,
    /// `queue`, `team`, `agent` or `tenant`.
    pub subject_kind: String,
    pub subject_id: String,
    pub queue_id: Option<String>,
    pub metric: String,
    pub window: String,
    pub comparison: String,
    /// The value that caused it (the metric's unit: fractions, seconds, counts).
    pub value: Option<f64>,
    /// The threshold of the severity (or of the warning when there is none).
    pub threshold: Option<f64>,
    /// The window's offered contacts.
    pub volume: Option<u64>,
    /// `resolved`: `cleared`, `outside_business_hours`, `rule_changed`;
    /// `delivery_failed`: the error.
    pub reason: Option<String>,
    /// `delivery_failed`: the destination.
    pub destination_id: Option<String>,
    /// Whether destinations were sent it (false when snoozed, not a notifying event,
    /// or the rule notifies nobody).
    pub notified: bool,
    /// Who acknowledged or snoozed (the token's name).
    pub actor: Option<String>,
    pub message: String,
    /// The data's clock (UTC ms).
    pub occurred_at: i64,
    /// The server's clock (UTC ms).
    pub recorded_at: i64,
}

/// The `alerts` table's schema (README, "Alerting").
pub fn schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let time = |name: &str| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        )
    };
    Arc::new(Schema::new(vec![
        text("tenant_id", false),
        text("alert_id", false),
        text("rule_id", false),
        text("rule_name", false),
        text("event", false),
        text("state", false),
        text("severity", true),
        text("subject_kind", false),
        text("subject_id", false),
        text("queue_id", true),
        text("metric", false),
        text("window", false),
        text("comparison", false),
        Field::new("value", DataType::Float64, true),
        Field::new("threshold", DataType::Float64, true),
        Field::new("volume", DataType::Int64, true),
        text("reason", true),
        text("destination_id", true),
        Field::new("notified", DataType::Boolean, false),
        text("actor", true),
        text("message", false),
        time("occurred_at"),
        time("recorded_at"),
        Field::new("seq", DataType::Int64, false),
    ]))
}

/// `records` as one batch of [`schema`], each with its position in the history file
/// (`seq`: the order records were written, for `ORDER BY seq`).
pub fn to_batch(records: &[(usize, &AlertRecord)]) -> RecordBatch {
    let n = records.len();
    let mut strings: Vec<StringBuilder> = (0..13)
        .map(|_| StringBuilder::with_capacity(n, n * 16))
        .collect();
    let mut value = Float64Builder::with_capacity(n);
    let mut threshold = Float64Builder::with_capacity(n);
    let mut volume = Int64Builder::with_capacity(n);
    let mut tail: Vec<StringBuilder> = (0..2)
        .map(|_| StringBuilder::with_capacity(n, n * 8))
        .collect();
    let mut notified = BooleanBuilder::with_capacity(n);
    let mut actor = StringBuilder::with_capacity(n, n * 8);
    let mut message = StringBuilder::with_capacity(n, n * 64);
    let mut occurred = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut recorded = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut seq = Int64Builder::with_capacity(n);
    for &(position, r) in records {
        seq.append_value(position as i64);
        let texts: [Option<&str>; 13] = [
            Some(&r.tenant_id),
            Some(&r.alert_id),
            Some(&r.rule_id),
            Some(&r.rule_name),
            Some(&r.event),
            Some(&r.state),
            r.severity.as_deref(),
            Some(&r.subject_kind),
            Some(&r.subject_id),
            r.queue_id.as_deref(),
            Some(&r.metric),
            Some(&r.window),
            Some(&r.comparison),
        ];
        for (builder, text) in strings.iter_mut().zip(texts) {
            builder.append_option(text);
        }
        value.append_option(r.value);
        threshold.append_option(r.threshold);
        volume.append_option(r.volume.map(|v| v.min(i64::MAX as u64) as i64));
        tail[0].append_option(r.reason.as_deref());
        tail[1].append_option(r.destination_id.as_deref());
        notified.append_value(r.notified);
        actor.append_option(r.actor.as_deref());
        message.append_value(&r.message);
        occurred.append_value(r.occurred_at);
        recorded.append_value(r.recorded_at);
    }
    let mut columns: Vec<ArrayRef> = strings
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    columns.push(Arc::new(value.finish()));
    columns.push(Arc::new(threshold.finish()));
    columns.push(Arc::new(volume.finish()));
    columns.extend(tail.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.push(Arc::new(notified.finish()));
    columns.push(Arc::new(actor.finish()));
    columns.push(Arc::new(message.finish()));
    columns.push(Arc::new(occurred.finish()));
    columns.push(Arc::new(recorded.finish()));
    columns.push(Arc::new(seq.finish()));
    RecordBatch::try_new(schema(), columns).expect("the columns follow the schema")
}

/// Where the history of a data directory is.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("alerts").join("history.ndjson")
}

/// Every complete record of the file at `path` (none when it does not exist). A line
/// that does not parse is skipped with a warning (a hand-edited file), never fatal.
pub fn read(path: &Path) -> io::Result<Vec<AlertRecord>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    let mut records = Vec::new();
    for (number, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(e) => tracing::warn!(
                "{}: line {} is not an alert record ({e}); skipped",
                path.display(),
                number + 1
            ),
        }
    }
    Ok(records)
}

/// Appends records to the history file, one flushed line each.
#[derive(Debug)]
pub struct HistoryWriter {
    path: PathBuf,
    file: Mutex<File>,
}

impl HistoryWriter {
    /// Opens (creating) the file at `path` for appending.
    pub fn open(path: PathBuf) -> io::Result<Self> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `records` (one write, so lines of two callers never interleave).
    pub fn append(&self, records: &[AlertRecord]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for record in records {
            serde_json::to_writer(&mut bytes, record).map_err(io::Error::other)?;
            bytes.push(b'\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&bytes)?;
        file.flush()
    }
}

/// A [`TableSource`] that adds the `alerts` table (the history file of a data
/// directory) to another source's tables.
#[derive(Debug)]
pub struct WithAlerts {
    inner: Arc<dyn TableSource>,
    history: PathBuf,
}

impl WithAlerts {
    /// `inner`'s tables plus `alerts` read from the history file at `history`.
    pub fn new(inner: Arc<dyn TableSource>, history: PathBuf) -> Self {
        Self { inner, history }
    }
}

impl TableSource for WithAlerts {
    fn tables(&self) -> Vec<TableDef> {
        let mut tables = self.inner.tables();
        tables.push(TableDef {
            name: "alerts".into(),
            schema: schema(),
            time_column: None,
            kind: TableKind::Detail,
        });
        tables
    }

    fn snapshot(&self, tenant_id: &str) -> Result<Snapshot, SourceError> {
        let mut snapshot = self.inner.snapshot(tenant_id)?;
        let records = read(&self.history).map_err(|e| SourceError {
            context: format!("reading the alert history {}", self.history.display()),
            source: Box::new(e),
        })?;
        let mine: Vec<(usize, &AlertRecord)> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.tenant_id == tenant_id)
            .collect();
        snapshot.tables.insert(
            "alerts".into(),
            TableData {
                files: Vec::new(),
                batches: vec![to_batch(&mine)],
            },
        );
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(tenant: &str, event: &str, at: i64) -> AlertRecord {
        AlertRecord {
            tenant_id: tenant.into(),
            alert_id: "al_1".into(),
            rule_id: "sl".into(),
            rule_name: "SL".into(),
            event: event.into(),
            state: "firing".into(),
            severity: Some("warning".into()),
            subject_kind: "queue".into(),
            subject_id: "sales".into(),
            queue_id: Some("sales".into()),
            metric: "service_level".into(),
            window: "current_interval".into(),
            comparison: "below".into(),
            value: Some(0.7),
            threshold: Some(0.8),
            volume: Some(12),
            reason: None,
            destination_id: None,
            notified: true,
            actor: None,
            message: "m".into(),
            occurred_at: at,
            recorded_at: at + 5,
        }
    }

    #[test]
    fn appended_lines_read_back_and_a_partial_last_line_waits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_in(dir.path());
        assert_eq!(read(&path).expect("no file yet"), vec![]);
        let writer = HistoryWriter::open(path.clone()).expect("opens");
        let records = vec![record("acme", "pending", 1), record("acme", "firing", 2)];
        writer.append(&records).expect("appends");
        let mut file = OpenOptions::new().append(true).open(&path).expect("opens");
        file.write_all(b"{\"tenant_id\":\"ac").expect("writes");
        assert_eq!(read(&path).expect("reads"), records);
        let batch = to_batch(&records.iter().enumerate().collect::<Vec<_>>());
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), schema());
    }
}
