//! Where generated or imported events go: an NDJSON file (or stdout), or Kafka.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ccpulse_ingest::{EventProducer, KafkaSettings, ProduceStats};
use ccpulse_schemas::v1::Event;

use crate::cli::Output;

/// An open destination for events.
pub(crate) enum EventSink {
    /// NDJSON, one event per line.
    File {
        path: PathBuf,
        writer: BufWriter<Box<dyn Write + Send>>,
        line: String,
        written: u64,
    },
    /// The events topic, keyed by tenant; `line` is the reused encoding buffer.
    Kafka {
        producer: EventProducer,
        line: String,
    },
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventSink::File { path, written, .. } => f
                .debug_struct("File")
                .field("path", path)
                .field("written", written)
                .finish_non_exhaustive(),
            EventSink::Kafka { producer, .. } => f.debug_tuple("Kafka").field(producer).finish(),
        }
    }
}

impl EventSink {
    /// Opens the destination chosen on the command line.
    pub(crate) fn open(output: &Output, topic: &str) -> Result<Self> {
        match (&output.out, &output.brokers) {
            (Some(path), _) => Self::file(path),
            (None, Some(brokers)) => {
                let producer = EventProducer::new(&KafkaSettings::new(brokers.clone()), topic)
                    .context("opening the Kafka producer")?;
                Ok(EventSink::Kafka {
                    producer,
                    line: String::with_capacity(1024),
                })
            }
            (None, None) => anyhow::bail!("give --out FILE or --brokers BROKERS"),
        }
    }

    fn file(path: &Path) -> Result<Self> {
        let inner: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                File::create(path)
                    .with_context(|| format!("creating output file `{}`", path.display()))?,
            )
        };
        Ok(EventSink::File {
            path: path.to_owned(),
            writer: BufWriter::with_capacity(1 << 20, inner),
            line: String::with_capacity(1024),
            written: 0,
        })
    }

    /// Writes one event.
    pub(crate) async fn write(&mut self, event: &Event<'_>) -> Result<()> {
        match self {
            EventSink::File {
                path,
                writer,
                line,
                written,
            } => {
                line.clear();
                event.write_json(line);
                line.push('\n');
                writer
                    .write_all(line.as_bytes())
                    .with_context(|| format!("writing to `{}`", path.display()))?;
                *written += 1;
                Ok(())
            }
            EventSink::Kafka { producer, line } => {
                line.clear();
                event.write_json(line);
                producer
                    .send(&event.tenant_id, line.as_bytes())
                    .await
                    .context("producing an event")
            }
        }
    }

    /// Flushes and closes; returns a one-line account of what was written.
    pub(crate) async fn finish(self) -> Result<String> {
        match self {
            EventSink::File {
                path,
                mut writer,
                written,
                ..
            } => {
                writer
                    .flush()
                    .with_context(|| format!("writing to `{}`", path.display()))?;
                Ok(format!("wrote {written} events to {}", path.display()))
            }
            EventSink::Kafka { producer, .. } => {
                let topic = producer.topic().to_owned();
                let ProduceStats {
                    delivered, bytes, ..
                } = producer
                    .finish()
                    .await
                    .context("delivering events to Kafka")?;
                Ok(format!(
                    "delivered {delivered} events ({bytes} bytes) to topic {topic}"
                ))
            }
        }
    }
}
