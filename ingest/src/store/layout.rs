//! Names and paths of everything the store writes, and the parsing that tells which files
//! belong to which partition. The layout itself is described in the [module docs](super).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::error::StoreError;

/// The directory key for the tenant in segment paths (`tenant=<id>`). Deliberately not
/// `tenant_id`: the file keeps its `tenant_id` column, and a query layer declaring this key
/// as a partition column must not clash with it.
pub const TENANT_KEY: &str = "tenant";
/// The directory key for the UTC date of the table's time column (`date=YYYY-MM-DD`).
pub const DATE_KEY: &str = "date";
/// The `date` directory value for rows whose time is NULL or outside the calendar.
pub const UNKNOWN_DATE: &str = "unknown";

/// The directory under the root holding every partition's checkpoint files. Its leading
/// underscore keeps it apart from table names, which may not start with one.
pub(crate) const CHECKPOINTS_DIR: &str = "_checkpoints";
/// The manifest's file name inside a partition's checkpoint directory.
pub(crate) const MANIFEST_FILE: &str = "manifest.json";
/// The lock file's name inside a partition's checkpoint directory.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// Suffix of files still being written; they are renamed without it once synced.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// Width of the zero-padded sequence number in file names: `u64::MAX` has 20 digits, so
/// names sort by sequence.
const SEQ_WIDTH: usize = 20;
/// The extension of segment files.
const SEGMENT_EXT: &str = ".parquet";
/// Longest accepted topic name (Kafka's own limit).
const MAX_TOPIC_LEN: usize = 249;
/// Longest accepted table name.
const MAX_TABLE_LEN: usize = 128;
/// Longest tenant id allowed by the event contract.
const MAX_TENANT_LEN: usize = 64;

/// Whether a segment holds rows that never change or the current, replaceable tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SegmentKind {
    /// Append-only facts, named by every later manifest until compaction.
    Final,
    /// The tail of a table at one checkpoint, superseded by the next one.
    Provisional,
}

impl SegmentKind {
    /// The word used in file names.
    fn as_str(self) -> &'static str {
        match self {
            Self::Final => "final",
            Self::Provisional => "prov",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        match word {
            "final" => Some(Self::Final),
            "prov" => Some(Self::Provisional),
            _ => None,
        }
    }
}

/// A validated (topic, partition) pair: both are safe to use in paths and file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionId {
    topic: String,
    partition: i32,
}

/// What a segment file name says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentName {
    /// The checkpoint that wrote it.
    pub(crate) sequence: u64,
    pub(crate) kind: SegmentKind,
    /// True for a `.tmp` file still being written (or abandoned by a crash).
    pub(crate) tmp: bool,
}

impl PartitionId {
    /// Validates `topic` (Kafka's charset `[A-Za-z0-9._-]`, 1–249 characters, not `.` or
    /// `..`) and `partition` (non-negative).
    ///
    /// # Errors
    /// [`StoreError::InvalidName`] when either is unusable.
    pub(crate) fn new(topic: &str, partition: i32) -> Result<Self, StoreError> {
        let valid_topic = !topic.is_empty()
            && topic.len() <= MAX_TOPIC_LEN
            && topic != "."
            && topic != ".."
            && topic.bytes().all(is_name_byte);
        if !valid_topic {
            return Err(StoreError::InvalidName {
                kind: "topic",
                name: topic.to_owned(),
                rule: "1-249 characters of [A-Za-z0-9._-], not `.` or `..`",
            });
        }
        if partition < 0 {
            return Err(StoreError::InvalidName {
                kind: "partition",
                name: partition.to_string(),
                rule: "must not be negative",
            });
        }
        Ok(Self {
            topic: topic.to_owned(),
            partition,
        })
    }

    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    pub(crate) fn partition(&self) -> i32 {
        self.partition
    }

    /// `<root>/_checkpoints/<topic>/p<partition>`.
    pub(crate) fn checkpoint_dir(&self, root: &Path) -> PathBuf {
        root.join(CHECKPOINTS_DIR)
            .join(&self.topic)
            .join(format!("p{}", self.partition))
    }

    /// `<topic>-p<partition>-<seq>-<final|prov>-<n>.parquet`.
    pub(crate) fn segment_file_name(&self, sequence: u64, kind: SegmentKind, n: usize) -> String {
        format!(
            "{}-p{}-{sequence:0SEQ_WIDTH$}-{}-{n}{SEGMENT_EXT}",
            self.topic,
            self.partition,
            kind.as_str()
        )
    }

    /// Parses a file name written by [`segment_file_name`](Self::segment_file_name) for
    /// *this* partition, with or without the `.tmp` suffix. Returns `None` for anything
    /// else, including files of other partitions: after the `<topic>-p<partition>-` prefix
    /// exactly three dash-separated fields must follow, while another partition's name with
    /// the same prefix (topic `a` vs. topic `a-p1`) has more.
    pub(crate) fn parse_segment_name(&self, name: &str) -> Option<SegmentName> {
        let (name, tmp) = match name.strip_suffix(TMP_SUFFIX) {
            Some(stem) => (stem, true),
            None => (name, false),
        };
        let rest = name
            .strip_prefix(self.topic.as_str())?
            .strip_prefix("-p")?
            .strip_prefix(self.partition.to_string().as_str())?
            .strip_prefix('-')?
            .strip_suffix(SEGMENT_EXT)?;
        let mut fields = rest.split('-');
        let sequence = parse_digits(fields.next()?)?;
        let kind = SegmentKind::parse(fields.next()?)?;
        parse_digits(fields.next()?)?;
        if fields.next().is_some() {
            return None;
        }
        Some(SegmentName {
            sequence,
            kind,
            tmp,
        })
    }
}

/// `state-<seq>.bin`, inside the partition's checkpoint directory.
pub(crate) fn state_file_name(sequence: u64) -> String {
    format!("state-{sequence:0SEQ_WIDTH$}.bin")
}

/// Parses a state file name (with or without `.tmp`) into its sequence and tmp flag.
pub(crate) fn parse_state_name(name: &str) -> Option<(u64, bool)> {
    let (name, tmp) = match name.strip_suffix(TMP_SUFFIX) {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    let digits = name.strip_prefix("state-")?.strip_suffix(".bin")?;
    Some((parse_digits(digits)?, tmp))
}

/// The `date=` directory value: `YYYY-MM-DD`, or [`UNKNOWN_DATE`].
pub(crate) fn date_dir_value(date: Option<NaiveDate>) -> String {
    match date {
        Some(date) => date.format("%Y-%m-%d").to_string(),
        None => UNKNOWN_DATE.to_owned(),
    }
}

/// Parses a `date=` directory value back (the inverse of [`date_dir_value`]).
pub(crate) fn parse_date_dir_value(value: &str) -> Option<Option<NaiveDate>> {
    if value == UNKNOWN_DATE {
        return Some(None);
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    (date_dir_value(Some(date)) == value).then_some(Some(date))
}

/// The directory of one (table, tenant, date), relative to the root, with `/` separators
/// (the form stored in manifests): `<table>/tenant=<id>/date=<date>`.
pub(crate) fn segment_dir_rel(table: &str, tenant_id: &str, date: Option<NaiveDate>) -> String {
    format!(
        "{table}/{TENANT_KEY}={tenant_id}/{DATE_KEY}={}",
        date_dir_value(date)
    )
}

/// Joins a manifest-style relative path (`/` separators) onto `root`.
pub(crate) fn resolve_rel(root: &Path, rel: &str) -> PathBuf {
    rel.split('/')
        .fold(root.to_path_buf(), |path, part| path.join(part))
}

/// The path of `path` with [`TMP_SUFFIX`] appended to its file name.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(TMP_SUFFIX);
    path.with_file_name(name)
}

/// Validates a table name: 1–128 characters of `[A-Za-z0-9_-]`, starting with a letter or
/// digit (a leading `_` or `.` is reserved for the store's own directories).
///
/// # Errors
/// [`StoreError::InvalidName`] when the name is unusable.
pub(crate) fn check_table_name(name: &str) -> Result<(), StoreError> {
    let valid = name.len() <= MAX_TABLE_LEN
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidName {
            kind: "table",
            name: name.to_owned(),
            rule: "1-128 characters of [A-Za-z0-9_-], starting with a letter or digit",
        })
    }
}

/// Whether `id` is a tenant id allowed by the event contract: `[A-Za-z0-9_.-]{1,64}`.
pub(crate) fn is_valid_tenant(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_TENANT_LEN && id.bytes().all(is_name_byte)
}

/// `[A-Za-z0-9._-]`: the charset of Kafka topics and of tenant ids.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// A non-empty run of ASCII digits as a `u64` (no sign, no overflow).
fn parse_digits(field: &str) -> Option<u64> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_reject_other_partitions() {
        let id = PartitionId::new("a", 1).expect("valid");
        let name = id.segment_file_name(7, SegmentKind::Provisional, 3);
        assert_eq!(name, "a-p1-00000000000000000007-prov-3.parquet");
        let parsed = id.parse_segment_name(&name).expect("own name parses");
        assert_eq!(
            (parsed.sequence, parsed.kind, parsed.tmp),
            (7, SegmentKind::Provisional, false)
        );
        let tmp = id
            .parse_segment_name(&format!("{name}.tmp"))
            .expect("tmp parses");
        assert!(tmp.tmp);

        // Same prefix, other owners.
        let other_topic = PartitionId::new("a-p1", 2).expect("valid");
        let foreign = other_topic.segment_file_name(7, SegmentKind::Final, 0);
        assert!(foreign.starts_with("a-p1-"));
        assert_eq!(id.parse_segment_name(&foreign), None);
        let p11 = PartitionId::new("a", 11).expect("valid");
        assert_eq!(
            id.parse_segment_name(&p11.segment_file_name(1, SegmentKind::Final, 0)),
            None
        );
        assert_eq!(id.parse_segment_name("a-p1-7-final-x.parquet"), None);
        assert_eq!(id.parse_segment_name("a-p1-7-other-0.parquet"), None);
    }

    #[test]
    fn names_are_validated() {
        assert!(PartitionId::new("ccpulse.events", 0).is_ok());
        for bad in ["", ".", "..", "a/b", "a b"] {
            assert!(PartitionId::new(bad, 0).is_err(), "topic {bad:?}");
        }
        assert!(PartitionId::new("t", -1).is_err());
        assert!(check_table_name("agent_states").is_ok());
        for bad in ["", "_checkpoints", ".x", "a/b", "a.b"] {
            assert!(check_table_name(bad).is_err(), "table {bad:?}");
        }
        assert!(is_valid_tenant(".."));
        assert!(!is_valid_tenant("a/b"));
        assert!(!is_valid_tenant(&"a".repeat(65)));
    }

    #[test]
    fn state_and_date_names_round_trip() {
        assert_eq!(parse_state_name(&state_file_name(42)), Some((42, false)));
        assert_eq!(parse_state_name("state-42.bin.tmp"), Some((42, true)));
        assert_eq!(parse_state_name("state-.bin"), None);
        let date = NaiveDate::from_ymd_opt(2024, 2, 29);
        assert_eq!(parse_date_dir_value(&date_dir_value(date)), Some(date));
        assert_eq!(parse_date_dir_value(UNKNOWN_DATE), Some(None));
        assert_eq!(parse_date_dir_value("2024-2-29"), None);
    }
}
