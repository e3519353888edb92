//! `ccpulse replay`: NDJSON files of contract events to Kafka.
//!
//! Each line is validated with the contract's decoder before it is sent, so a bad
//! line is reported with its file and line number and never reaches the topic. Valid
//! lines are sent byte for byte as they are in the file, keyed by their `tenant_id`.

use std::io::BufRead;

use ccpulse_schemas::v1;

use crate::{Error, EventProducer, Result};

/// How many bad lines a summary keeps word for word (all are counted).
pub const KEPT_BAD_LINES: usize = 20;

/// A line that was not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The input's name, as given to [`replay_ndjson`].
    pub source_name: String,
    /// 1-based line number.
    pub line: u64,
    /// The contract's rejection reason.
    pub reason: String,
}

/// What a replay read and sent, accumulated over any number of inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Blank lines (skipped silently, as NDJSON allows).
    pub blank: u64,
    /// Lines handed to the producer.
    pub sent: u64,
    /// Lines rejected by the contract and not sent.
    pub bad: u64,
    /// The first [`KEPT_BAD_LINES`] bad lines.
    pub first_bad: Vec<BadLine>,
    /// Bytes read from the inputs.
    pub bytes_read: u64,
}

/// Reads NDJSON events from `reader` and sends each valid one to `producer`.
///
/// `on_progress` is called with the bytes read so far from this input, every few
/// thousand lines and at the end (the CLI drives a progress bar with it).
///
/// # Errors
/// [`Error::ReadInput`] when reading fails, [`Error::Produce`] when a message cannot be
/// queued. Invalid lines are not errors: they are counted in `summary`.
pub async fn replay_ndjson<R: BufRead>(
    source_name: &str,
    mut reader: R,
    producer: &mut EventProducer,
    summary: &mut ReplaySummary,
    on_progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut buffer = Vec::with_capacity(4096);
    let mut line_number = 0u64;
    let mut bytes_read = 0u64;
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|source| Error::ReadInput {
                source_name: source_name.to_owned(),
                source,
            })?;
        if read == 0 {
            break;
        }
        line_number += 1;
        bytes_read += read as u64;
        summary.lines += 1;
        summary.bytes_read += read as u64;
        let line = trim_line_end(&buffer);
        if line.iter().all(u8::is_ascii_whitespace) {
            summary.blank += 1;
            continue;
        }
        match v1::decode(line) {
            Ok(event) => {
                producer.send(&event.tenant_id, line).await?;
                summary.sent += 1;
            }
            Err(rejection) => {
                summary.bad += 1;
                if summary.first_bad.len() < KEPT_BAD_LINES {
                    summary.first_bad.push(BadLine {
                        source_name: source_name.to_owned(),
                        line: line_number,
                        reason: rejection.to_string(),
                    });
                }
            }
        }
        if line_number.is_multiple_of(4096) {
            on_progress(bytes_read);
        }
    }
    on_progress(bytes_read);
    Ok(())
}

/// The line without its `\n` or `\r\n`.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::trim_line_end;

    #[test]
    fn trims_unix_and_windows_line_ends_only() {
        assert_eq!(trim_line_end(b"{}\n"), b"{}");
        assert_eq!(trim_line_end(b"{}\r\n"), b"{}");
        assert_eq!(trim_line_end(b"{}"), b"{}");
        assert_eq!(trim_line_end(b" {} \n"), b" {} ");
    }
}
