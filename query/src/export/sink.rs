//! [`Sink`]: the output wrapped so the writer can count bytes and tell a failed write
//! from an encoding error.
//!
//! The encoders (arrow's CSV and JSON writers, parquet's `ArrowWriter`, the zip of
//! `rust_xlsxwriter`) own the output and turn an I/O failure into their own error type,
//! often as text. The sink keeps the original [`io::Error`] in state shared with the
//! [`ExportWriter`](super::ExportWriter), which reports it as
//! [`ExportError::Write`] whatever the encoder made of it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{ExportError, ExportFormat};

/// The output of one download.
#[derive(Debug)]
pub(crate) struct Sink<W> {
    out: W,
    state: Arc<SinkState>,
}

/// What the sink saw, shared with the writer.
#[derive(Debug)]
pub(crate) struct SinkState {
    format: ExportFormat,
    bytes: AtomicU64,
    /// The first write or flush error. A std mutex: locked only to store or take it.
    error: Mutex<Option<io::Error>>,
}

impl<W: Write> Sink<W> {
    pub(crate) fn new(out: W, format: ExportFormat) -> (Self, Arc<SinkState>) {
        let state = Arc::new(SinkState {
            format,
            bytes: AtomicU64::new(0),
            error: Mutex::new(None),
        });
        (
            Sink {
                out,
                state: state.clone(),
            },
            state,
        )
    }

    /// Keeps the first error and hands the encoder a copy of it (same kind and text).
    fn record(&self, error: io::Error) -> io::Error {
        let copy = io::Error::new(error.kind(), error.to_string());
        let mut slot = self
            .state
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(error);
        }
        copy
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.out.write(buf) {
            Ok(written) => {
                self.state
                    .bytes
                    .fetch_add(written as u64, Ordering::Relaxed);
                Ok(written)
            }
            // Retried by `write_all`: not a failure.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Err(error),
            Err(error) => Err(self.record(error)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush().map_err(|error| self.record(error))
    }
}

impl SinkState {
    /// Bytes written to the output so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// `error`, or [`ExportError::Write`] when the output failed: the encoder's error is
    /// then only a consequence of it.
    pub(crate) fn prefer_write(&self, error: ExportError) -> ExportError {
        let taken = self
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match taken {
            Some(source) => ExportError::Write {
                format: self.format,
                source,
            },
            None => error,
        }
    }
}
