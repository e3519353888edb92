//! The streaming importer: reads a file line by line, converts each record, validates its
//! events against the contract, hands them to the caller's sink and keeps the accounting.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use ccpulse_schemas::v1::{self, Event};
use chrono::NaiveDate;

use super::convert::{self, Notes};
use super::error::Error;
use super::record::{self, Clock, Field, LineError, Outcome};
use super::summary::{FileSummary, ImportSummary, Observation, Repair, SkipReason};

/// The tenant the events belong to when `--tenant` is not given.
pub const DEFAULT_TENANT: &str = "anonymous-bank";

/// How the records become events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// `tenant_id` of every event: 1 to 64 characters of `[A-Za-z0-9_.-]` (the contract's
    /// rule, checked by [`Importer::new`]). Default [`DEFAULT_TENANT`].
    pub tenant_id: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            tenant_id: DEFAULT_TENANT.to_owned(),
        }
    }
}

/// A call already imported under an interaction id: enough to tell a repeated record from
/// another call that reuses the same `vru+line` and `call_id`.
#[derive(Debug, Clone, Copy)]
struct SeenCall {
    date: NaiveDate,
    vru_entry: Clock,
    file_index: usize,
    line: u64,
}

/// Turns Anonymous Bank files into contract events, one file after another, and accounts
/// for every record in an [`ImportSummary`].
///
/// Interaction ids are unique across all files given to one importer; importing the same
/// input again with a new importer gives the same ids, so a repeated import deduplicates
/// downstream by `event_id`.
pub struct Importer {
    tenant_id: String,
    summary: ImportSummary,
    /// Calls imported so far, by base interaction id (`{vru+line}-{call_id}`).
    seen: HashMap<String, Vec<SeenCall>>,
    /// Scratch space reused for every record.
    notes: Notes,
    events: Vec<Event<'static>>,
}

impl fmt::Debug for Importer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Importer")
            .field("tenant_id", &self.tenant_id)
            .field("files", &self.summary.files.len())
            .field("calls", &self.seen.len())
            .finish_non_exhaustive()
    }
}

impl Importer {
    /// An importer with no files read yet.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`] if `options.tenant_id` is not a contract tenant id.
    pub fn new(options: ImportOptions) -> Result<Importer, Error> {
        check_tenant(&options.tenant_id).map_err(|problem| Error::InvalidTenant {
            tenant_id: options.tenant_id.clone(),
            problem,
        })?;
        Ok(Importer {
            tenant_id: options.tenant_id,
            summary: ImportSummary::default(),
            seen: HashMap::new(),
            notes: Notes::default(),
            events: Vec::with_capacity(8),
        })
    }

    /// The tenant of the events.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// Imports the file at `path` (named by its path in the summary); see
    /// [`Importer::import_reader`].
    ///
    /// # Errors
    /// [`Error::Open`] if it cannot be opened, otherwise as [`Importer::import_reader`].
    pub fn import_file<E>(
        &mut self,
        path: &Path,
        sink: &mut dyn FnMut(Event<'static>) -> Result<(), E>,
    ) -> Result<(), Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let file = File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        let reader = BufReader::with_capacity(64 * 1024, file);
        self.import_reader(&path.display().to_string(), reader, sink)
    }

    /// Reads one Anonymous Bank file (header line, then one record per line, LF or CRLF)
    /// and passes the events of each converted record to `sink`, in file order and, within
    /// a call, in time order. Bad records are skipped and counted, never fatal. The file's
    /// accounting is added to [`Importer::summary`] even when an error stops the import.
    ///
    /// # Errors
    /// [`Error::Header`] if the first line is not the expected header, [`Error::Read`] on
    /// an I/O error, [`Error::Sink`] as soon as `sink` returns an error.
    pub fn import_reader<R: BufRead, E>(
        &mut self,
        source_name: &str,
        mut reader: R,
        sink: &mut dyn FnMut(Event<'static>) -> Result<(), E>,
    ) -> Result<(), Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.summary.files.push(FileSummary::new(source_name));
        let file_index = self.summary.files.len() - 1;
        let read_error = |line, source| Error::Read {
            source_name: source_name.to_owned(),
            line,
            source,
        };

        let mut buf = Vec::with_capacity(256);
        reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| read_error(1, source))?;
        check_header(source_name, &buf)?;

        let mut call_ids = HashMap::new();
        let mut line = 1;
        loop {
            buf.clear();
            let read = reader
                .read_until(b'\n', &mut buf)
                .map_err(|source| read_error(line + 1, source))?;
            if read == 0 {
                return Ok(());
            }
            line += 1;
            let text = trim_line_end(&buf);
            self.import_line(file_index, line, text, &mut call_ids, sink)?;
        }
    }

    /// The accounting so far.
    pub fn summary(&self) -> &ImportSummary {
        &self.summary
    }

    /// The accounting, ending the import.
    pub fn into_summary(self) -> ImportSummary {
        self.summary
    }

    fn import_line<E>(
        &mut self,
        file_index: usize,
        line: u64,
        text: &[u8],
        call_ids: &mut HashMap<u32, (u64, bool)>,
        sink: &mut dyn FnMut(Event<'static>) -> Result<(), E>,
    ) -> Result<(), Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Importer {
            tenant_id,
            summary,
            seen,
            notes,
            events,
        } = self;
        let file = &mut summary.files[file_index];
        file.records_read += 1;
        let skip = |file: &mut FileSummary, reason: SkipReason, detail: String| {
            let tally = file.skipped.entry(reason).or_default();
            tally.add(&file.source_name, line, || detail);
        };

        let Ok(text) = std::str::from_utf8(text) else {
            skip(file, SkipReason::NotUtf8, String::new());
            return Ok(());
        };
        if text.trim().is_empty() {
            skip(file, SkipReason::BlankLine, String::new());
            return Ok(());
        }
        let record = match record::parse_line(text) {
            Ok(record) => record,
            Err(error) => {
                let reason = match error {
                    LineError::FieldCount(_) => SkipReason::FieldCount,
                    LineError::Field { field, .. } => SkipReason::InvalidField(field),
                };
                skip(file, reason, format!("({error})"));
                return Ok(());
            }
        };
        let base_id = format!("{}-{}", record.vru_line, record.call_id);
        if record.outcome == Outcome::Phantom {
            skip(file, SkipReason::Phantom, format!("({base_id})"));
            return Ok(());
        }

        notes.clear();
        let calls = seen.get(&base_id).map_or(&[][..], Vec::as_slice);
        if let Some(earlier) = calls
            .iter()
            .find(|call| call.date == record.date && call.vru_entry == record.vru_entry)
        {
            let earlier_file = &summary.files[earlier.file_index].source_name;
            let detail = format!(
                "({base_id}: already read at {earlier_file}:{})",
                earlier.line
            );
            let file = &mut summary.files[file_index];
            skip(file, SkipReason::DuplicateRecord, detail);
            return Ok(());
        }
        let interaction_id = if calls.is_empty() {
            base_id.clone()
        } else {
            notes.repairs.push(Repair::DuplicateInteractionId);
            format!("{base_id}~{}", calls.len() + 1)
        };

        events.clear();
        if let Err(reason) = convert::convert(&record, &interaction_id, tenant_id, notes, events) {
            skip(file, reason, format!("({interaction_id})"));
            return Ok(());
        }
        for event in events.iter() {
            if let Err(rejection) = v1::validate(event) {
                let detail = format!(
                    "({interaction_id} {}: {rejection})",
                    event.event_type.as_str()
                );
                skip(file, SkipReason::EventRejected, detail);
                return Ok(());
            }
        }

        // Converted: account for it, then emit.
        seen.entry(base_id).or_default().push(SeenCall {
            date: record.date,
            vru_entry: record.vru_entry,
            file_index,
            line,
        });
        file.records_converted += 1;
        *file.calls_per_day.entry(record.date).or_default() += 1;
        if !notes.repairs.is_empty() {
            file.records_repaired += 1;
        }
        for &repair in &notes.repairs {
            file.repaired
                .entry(repair)
                .or_default()
                .add(&file.source_name, line, || {
                    convert::repair_detail(repair, &record, &interaction_id)
                });
        }
        for &observation in &notes.observations {
            file.observed
                .entry(observation)
                .or_default()
                .add(&file.source_name, line, || {
                    convert::observation_detail(observation, &record, &interaction_id)
                });
        }
        note_call_id(file, call_ids, record.call_id, line);

        for event in events.drain(..) {
            let event_type = event.event_type.known();
            sink(event).map_err(|source| Error::Sink {
                source_name: file.source_name.clone(),
                line,
                source: source.into(),
            })?;
            if let Some(event_type) = event_type {
                *file.events.entry(event_type).or_default() += 1;
            }
        }
        Ok(())
    }
}

/// Counts records whose `call_id` another converted record of the same file also has
/// (both are counted, at the second one).
fn note_call_id(
    file: &mut FileSummary,
    call_ids: &mut HashMap<u32, (u64, bool)>,
    call_id: u32,
    line: u64,
) {
    let first_line = match call_ids.entry(call_id) {
        Entry::Vacant(vacant) => {
            vacant.insert((line, false));
            return;
        }
        Entry::Occupied(mut occupied) => {
            let (first_line, counted) = occupied.get_mut();
            let first = (!*counted).then_some(*first_line);
            *counted = true;
            first
        }
    };
    let tally = file.observed.entry(Observation::CallIdShared).or_default();
    let detail = || format!("(call_id {call_id})");
    if let Some(first_line) = first_line {
        tally.add(&file.source_name, first_line, detail);
    }
    tally.add(&file.source_name, line, detail);
}

/// The contract's rule for `tenant_id`.
fn check_tenant(tenant_id: &str) -> Result<(), &'static str> {
    if tenant_id.is_empty() {
        return Err("empty");
    }
    if tenant_id.len() > 64 {
        return Err("longer than 64 characters");
    }
    if !tenant_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err("only ASCII letters, digits, `_`, `.` and `-` are allowed");
    }
    Ok(())
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn check_header(source_name: &str, line: &[u8]) -> Result<(), Error> {
    let expected: Vec<&str> = Field::ALL.iter().map(|field| field.name()).collect();
    let text = String::from_utf8_lossy(trim_line_end(line));
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.split('\t').map(str::trim).eq(expected.iter().copied()) {
        return Ok(());
    }
    let found = if line.is_empty() {
        "end of file".to_owned()
    } else {
        text.chars().take(200).collect()
    };
    Err(Error::Header {
        source_name: source_name.to_owned(),
        expected: expected.join(" "),
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_follow_the_contract() {
        assert!(check_tenant("anonymous-bank").is_ok());
        assert!(check_tenant("Bank_1999.v2").is_ok());
        assert!(check_tenant(&"a".repeat(64)).is_ok());
        assert_eq!(check_tenant(""), Err("empty"));
        assert_eq!(
            check_tenant(&"a".repeat(65)),
            Err("longer than 64 characters")
        );
        assert!(check_tenant("bank 1").is_err());
        assert!(check_tenant("bänk").is_err());
        let err = Importer::new(ImportOptions {
            tenant_id: "a/b".into(),
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tenant id \"a/b\": only ASCII letters, digits, `_`, `.` and `-` are allowed"
        );
    }

    #[test]
    fn default_tenant_is_valid() {
        let importer = Importer::new(ImportOptions::default()).unwrap();
        assert_eq!(importer.tenant_id(), DEFAULT_TENANT);
    }

    #[test]
    fn line_ends_are_trimmed() {
        assert_eq!(trim_line_end(b"a\tb\r\n"), b"a\tb");
        assert_eq!(trim_line_end(b"a\tb\n"), b"a\tb");
        assert_eq!(trim_line_end(b"a\tb"), b"a\tb");
    }
}
