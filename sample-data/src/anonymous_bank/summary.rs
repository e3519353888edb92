//! What an import did, record by record: counts per reason with the first examples, per
//! file and in total, and a readable report ([`ImportSummary`]'s `Display`).
//!
//! Every record read is either converted or skipped for exactly one [`SkipReason`], so
//! `records_read = records_converted + records_skipped()` always holds. Converted records
//! may additionally carry any number of [`Repair`]s (the importer changed or supplied a
//! value, documented in `MAPPING.md`) and [`Observation`]s (a quirk of the data kept as is).

use std::collections::BTreeMap;
use std::fmt;

use ccpulse_schemas::v1::KnownEventType;
use chrono::NaiveDate;

use super::record::Field;

/// How many examples (line numbers with a detail) are kept per reason and file.
pub const MAX_EXAMPLES: usize = 5;

/// How many of the kept examples the report prints per reason.
const SHOWN_EXAMPLES: usize = 3;

/// Why a record was not converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// `outcome = PHANTOM`: the data's documentation calls these virtual calls to ignore.
    Phantom,
    /// An empty line.
    BlankLine,
    /// The line is not valid UTF-8 (the file is ASCII).
    NotUtf8,
    /// Not 17 tab-separated fields.
    FieldCount,
    /// A field does not have its documented form (garbage time, bad date, unknown outcome...).
    InvalidField(Field),
    /// Same `vru+line`, `call_id`, `date` and `vru_entry` as a record already imported.
    DuplicateRecord,
    /// An event built from the record failed contract validation: an importer bug, reported
    /// rather than emitted. Never seen on the 1999 data.
    EventRejected,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Phantom => f.write_str(
                "outcome PHANTOM: a spurious record, ignored as the data's documentation says",
            ),
            SkipReason::BlankLine => f.write_str("blank line"),
            SkipReason::NotUtf8 => f.write_str("line is not UTF-8 text"),
            SkipReason::FieldCount => f.write_str("not 17 tab-separated fields"),
            SkipReason::InvalidField(field) => write!(f, "invalid `{field}`"),
            SkipReason::DuplicateRecord => f.write_str(
                "duplicate record: same vru+line, call_id, date and vru_entry already imported",
            ),
            SkipReason::EventRejected => {
                f.write_str("an event failed contract validation (importer bug)")
            }
        }
    }
}

/// A documented fix applied to a converted record (see `MAPPING.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Repair {
    /// `AGENT` with `q_start = 0:00:00`: queued and answered at `ser_start`, wait 0.
    ServedWithoutQueueWait,
    /// `AGENT` with `ser_start = 0:00:00`: talk 0, the conversation ends at the answer.
    ServedWithoutServiceTimes,
    /// `AGENT` with `server = NO_SERVER`: `agent_id` is `unknown`.
    UnknownServer,
    /// `ser_start` before `q_exit`: answered at `q_exit`, so talk is `ser_exit - q_exit`.
    ServiceStartBeforeQueueExit,
    /// `ser_exit` before `q_exit`: the conversation ends at the answer (talk 0).
    ServiceEndBeforeAnswer,
    /// `HANG` that has service times or a server name: they are ignored.
    HangWithServiceData,
    /// `vru_entry` later than the next stage (negative `vru_time`): `interaction.created`
    /// moved back to that stage's time so the call's events stay in order.
    CreatedMovedBack,
    /// `customer_id` in spreadsheet notation (`6.02E+11`, digits lost): omitted.
    CustomerIdScientific,
    /// `q_exit` or `q_time` set although `q_start = 0:00:00`: treated as not queued.
    QueueTimesWithoutStart,
    /// `vru_time` differs from `vru_exit - vru_entry`: the clock times are used.
    VruTimeMismatch,
    /// `q_time` differs from `q_exit - q_start`: the clock times are used.
    QueueTimeMismatch,
    /// `ser_time` differs from `ser_exit - ser_start`: the clock times are used.
    ServiceTimeMismatch,
    /// `vru+line` and `call_id` already used by a different call: interaction id suffixed.
    DuplicateInteractionId,
    /// `vru_entry` falls in the hour repeated when daylight saving ends: the earlier
    /// (daylight) offset is used.
    AmbiguousLocalTime,
    /// `vru_entry` falls in the hour skipped when daylight saving starts: the offset in
    /// effect before the change is used.
    NonexistentLocalTime,
    /// The call spans a daylight-saving change: the offset at `vru_entry` is used for all
    /// its events, so durations stay as recorded.
    SpansOffsetChange,
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Repair::ServedWithoutQueueWait => {
                "served without queue wait (q_start 0:00:00): queued and answered at ser_start, wait 0"
            }
            Repair::ServedWithoutServiceTimes => {
                "served with no service times (ser_start 0:00:00): talk 0, conversation ends at the answer"
            }
            Repair::UnknownServer => "served by NO_SERVER: agent_id `unknown`",
            Repair::ServiceStartBeforeQueueExit => {
                "ser_start before q_exit: answered at q_exit (wait = q_time), talk = ser_exit - q_exit"
            }
            Repair::ServiceEndBeforeAnswer => {
                "ser_exit before q_exit: conversation ends at the answer (talk 0)"
            }
            Repair::HangWithServiceData => {
                "HANG with service times or a server: ignored, the call is abandoned at q_exit"
            }
            Repair::CreatedMovedBack => {
                "vru_entry after the next stage (negative vru_time): interaction.created moved back to it"
            }
            Repair::CustomerIdScientific => {
                "customer_id in spreadsheet notation (digits lost): omitted"
            }
            Repair::QueueTimesWithoutStart => {
                "q_exit or q_time set but q_start 0:00:00: treated as not queued"
            }
            Repair::VruTimeMismatch => "vru_time differs from vru_exit - vru_entry: clock times used",
            Repair::QueueTimeMismatch => "q_time differs from q_exit - q_start: clock times used",
            Repair::ServiceTimeMismatch => {
                "ser_time differs from ser_exit - ser_start: clock times used"
            }
            Repair::DuplicateInteractionId => {
                "vru+line and call_id already used by another call: interaction id suffixed"
            }
            Repair::AmbiguousLocalTime => {
                "vru_entry in the hour repeated at the end of daylight saving: earlier offset used"
            }
            Repair::NonexistentLocalTime => {
                "vru_entry in the hour skipped at the start of daylight saving: previous offset used"
            }
            Repair::SpansOffsetChange => {
                "call spans a daylight-saving change: the offset at vru_entry is used throughout"
            }
        })
    }
}

/// A quirk of a converted record that needed no change, counted so the report explains
/// the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Observation {
    /// `customer_id = 0`: the caller was not identified; `customer_id` omitted.
    UnknownCustomer,
    /// A `type` the documentation does not list (`AA`): kept as the queue id.
    UndocumentedType,
    /// The `call_id` is used by other records of the same file too (it is a per-line
    /// counter); the interaction id is `{vru+line}-{call_id}`, which is unique.
    CallIdShared,
    /// A stage's clock time is earlier than the previous stage's by 12 hours or more: it is
    /// on the next day.
    MidnightCrossing,
    /// `vru_time < 0`.
    NegativeVruTime,
    /// `AGENT` with `ser_time = 0`.
    ZeroServiceTime,
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Observation::UnknownCustomer => "customer_id 0 (caller not identified): omitted",
            Observation::UndocumentedType => "call type not in the documentation: kept as queue_id",
            Observation::CallIdShared => {
                "call_id also used by other records of the file (a per-line counter): interaction id is vru+line-call_id"
            }
            Observation::MidnightCrossing => "crossed midnight: later stages are on the next day",
            Observation::NegativeVruTime => "negative vru_time (vru_exit before vru_entry)",
            Observation::ZeroServiceTime => "served with ser_time 0",
        })
    }
}

/// One example of a reason: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The file (the `source_name` given to the importer).
    pub source_name: String,
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// What was found, e.g. the interaction id or the offending value.
    pub detail: String,
}

/// How often a reason occurred, with the first [`MAX_EXAMPLES`] examples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Number of records.
    pub count: u64,
    /// The first few, in file order.
    pub examples: Vec<Example>,
}

impl Tally {
    /// Counts one occurrence; `detail` is only built for the first [`MAX_EXAMPLES`].
    pub(crate) fn add(&mut self, source_name: &str, line: u64, detail: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(Example {
                source_name: source_name.to_owned(),
                line,
                detail: detail(),
            });
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.count += other.count;
        let room = MAX_EXAMPLES.saturating_sub(self.examples.len());
        self.examples
            .extend(other.examples.iter().take(room).cloned());
    }
}

/// The accounting of one input file (or, from [`ImportSummary::total`], of all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// The name given to the importer (the path for files).
    pub source_name: String,
    /// Lines after the header.
    pub records_read: u64,
    /// Records turned into events.
    pub records_converted: u64,
    /// Converted records with at least one repair.
    pub records_repaired: u64,
    /// Records not converted, by reason (each record has exactly one).
    pub skipped: BTreeMap<SkipReason, Tally>,
    /// Repairs on converted records, by reason (a record can have several).
    pub repaired: BTreeMap<Repair, Tally>,
    /// Quirks of converted records kept as they are, by kind (a record can have several).
    pub observed: BTreeMap<Observation, Tally>,
    /// Events emitted, by type.
    pub events: BTreeMap<KnownEventType, u64>,
    /// Converted records by their `date` column.
    pub calls_per_day: BTreeMap<NaiveDate, u64>,
}

impl FileSummary {
    pub(crate) fn new(source_name: &str) -> Self {
        FileSummary {
            source_name: source_name.to_owned(),
            ..FileSummary::default()
        }
    }

    /// Records not converted, all reasons together.
    pub fn records_skipped(&self) -> u64 {
        self.skipped.values().map(|tally| tally.count).sum()
    }

    /// Events emitted, all types together.
    pub fn events_emitted(&self) -> u64 {
        self.events.values().sum()
    }

    /// How many records were skipped for `reason`.
    pub fn skipped_count(&self, reason: SkipReason) -> u64 {
        self.skipped.get(&reason).map_or(0, |tally| tally.count)
    }

    /// How many converted records had `repair`.
    pub fn repaired_count(&self, repair: Repair) -> u64 {
        self.repaired.get(&repair).map_or(0, |tally| tally.count)
    }

    /// How many converted records showed `observation`.
    pub fn observed_count(&self, observation: Observation) -> u64 {
        self.observed
            .get(&observation)
            .map_or(0, |tally| tally.count)
    }

    /// How many events of `event_type` were emitted.
    pub fn event_count(&self, event_type: KnownEventType) -> u64 {
        self.events.get(&event_type).copied().unwrap_or(0)
    }

    /// Days between the first and the last day with calls that have none (11 and 12
    /// January 1999 are missing from the public data).
    pub fn missing_days(&self) -> Vec<NaiveDate> {
        let (Some(first), Some(last)) = (
            self.calls_per_day.keys().next(),
            self.calls_per_day.keys().next_back(),
        ) else {
            return Vec::new();
        };
        first
            .iter_days()
            .take_while(|day| day <= last)
            .filter(|day| !self.calls_per_day.contains_key(day))
            .collect()
    }

    fn merge(&mut self, other: &FileSummary) {
        self.records_read += other.records_read;
        self.records_converted += other.records_converted;
        self.records_repaired += other.records_repaired;
        for (reason, tally) in &other.skipped {
            self.skipped.entry(*reason).or_default().merge(tally);
        }
        for (repair, tally) in &other.repaired {
            self.repaired.entry(*repair).or_default().merge(tally);
        }
        for (observation, tally) in &other.observed {
            self.observed.entry(*observation).or_default().merge(tally);
        }
        for (event_type, count) in &other.events {
            *self.events.entry(*event_type).or_default() += count;
        }
        for (day, count) in &other.calls_per_day {
            *self.calls_per_day.entry(*day).or_default() += count;
        }
    }

    /// The full report; `with_file` prefixes example lines with the file name.
    fn write_report(&self, f: &mut fmt::Formatter<'_>, with_file: bool) -> fmt::Result {
        let skipped = self.records_skipped();
        writeln!(f, "  records read       {:>8}", self.records_read)?;
        writeln!(f, "    converted        {:>8}", self.records_converted)?;
        writeln!(f, "    skipped          {:>8}", skipped)?;
        if self.records_converted + skipped != self.records_read {
            // Cannot happen (each record is counted once); said loudly if it ever does.
            writeln!(
                f,
                "  WARNING: converted + skipped does not equal records read"
            )?;
        }
        if !self.skipped.is_empty() {
            writeln!(f, "  skipped, by reason:")?;
            write_tallies(f, &self.skipped, with_file)?;
        }
        if !self.repaired.is_empty() {
            writeln!(
                f,
                "  repaired: {} converted records, by reason (a record can have several):",
                self.records_repaired
            )?;
            write_tallies(f, &self.repaired, with_file)?;
        }
        if !self.observed.is_empty() {
            writeln!(f, "  noted, kept as they are:")?;
            write_tallies(f, &self.observed, with_file)?;
        }
        writeln!(f, "  events emitted     {:>8}", self.events_emitted())?;
        for (event_type, count) in &self.events {
            writeln!(f, "    {:<34} {count:>8}", event_type.as_str())?;
        }
        if let (Some(first), Some(last)) = (
            self.calls_per_day.keys().next(),
            self.calls_per_day.keys().next_back(),
        ) {
            write!(
                f,
                "  calls on {} days from {first} to {last}",
                self.calls_per_day.len()
            )?;
            let missing = self.missing_days();
            if missing.is_empty() {
                writeln!(f)?;
            } else {
                let days: Vec<String> = missing.iter().map(ToString::to_string).collect();
                writeln!(f, "; no records on {}", days.join(", "))?;
            }
        }
        Ok(())
    }
}

fn write_tallies<K: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    tallies: &BTreeMap<K, Tally>,
    with_file: bool,
) -> fmt::Result {
    for (reason, tally) in tallies {
        writeln!(f, "    {:>8}  {reason}", tally.count)?;
        if tally.examples.is_empty() {
            continue;
        }
        let examples: Vec<String> = tally
            .examples
            .iter()
            .take(SHOWN_EXAMPLES)
            .map(|example| {
                if with_file {
                    format!(
                        "{}:{} {}",
                        example.source_name, example.line, example.detail
                    )
                } else {
                    format!("line {} {}", example.line, example.detail)
                }
            })
            .collect();
        writeln!(f, "              e.g. {}", examples.join("; "))?;
    }
    Ok(())
}

/// The accounting of everything an [`Importer`](super::Importer) read, file by file.
///
/// `Display` gives the report the CLI prints: totals, every skip, repair and noted quirk
/// with its count and first examples, and the events by type. It does not include
/// [`ACKNOWLEDGEMENT`](super::ACKNOWLEDGEMENT), which the caller prints with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// One entry per imported file, in import order.
    pub files: Vec<FileSummary>,
}

impl ImportSummary {
    /// All files together (`source_name` is `total`).
    pub fn total(&self) -> FileSummary {
        let mut total = FileSummary::new("total");
        for file in &self.files {
            total.merge(file);
        }
        total
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.files.as_slice() {
            [] => writeln!(f, "Anonymous Bank import: no files read"),
            [file] => {
                writeln!(f, "Anonymous Bank import of {}", file.source_name)?;
                file.write_report(f, false)
            }
            files => {
                writeln!(f, "Anonymous Bank import of {} files", files.len())?;
                for file in files {
                    writeln!(
                        f,
                        "  {}: read {}, converted {}, skipped {}, events {}",
                        file.source_name,
                        file.records_read,
                        file.records_converted,
                        file.records_skipped(),
                        file.events_emitted()
                    )?;
                }
                writeln!(f, "All files:")?;
                self.total().write_report(f, true)
            }
        }
    }
}
