//! The partition manifest: the JSON document whose atomic replacement commits a checkpoint,
//! and the checks that it names only this partition's files.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::durable::write_atomic;
use super::error::StoreError;
use super::layout::{
    MANIFEST_FILE, PartitionId, SegmentKind, check_table_name, is_valid_tenant,
    parse_date_dir_value, parse_state_name, segment_dir_rel, state_file_name,
};

/// The manifest format this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// One checkpoint of one partition, as stored in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// [`FORMAT_VERSION`] when written; checked before anything else is trusted.
    pub(crate) format_version: u32,
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// 1 for the first checkpoint, +1 for each later manifest (checkpoint or compaction).
    /// Every file is named after the manifest it was written for, so a file with a higher
    /// sequence than the current manifest's is a leftover of an attempt that never committed.
    pub(crate) sequence: u64,
    /// The first Kafka offset *not* covered by this checkpoint.
    pub(crate) next_offset: i64,
    /// The fold state of the last checkpoint (a compaction keeps it).
    pub(crate) state: StateRef,
    /// Every final segment of this partition, in commit order; a compaction's merged segment
    /// takes the place of the first segment it replaces.
    pub(crate) final_segments: Vec<SegmentRef>,
    /// The provisional segments of the last checkpoint only (a compaction keeps them).
    pub(crate) provisional_segments: Vec<SegmentRef>,
}

/// The state file of a checkpoint and what it must contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StateRef {
    /// File name inside the partition's checkpoint directory.
    pub(crate) file: String,
    /// Length in bytes.
    pub(crate) bytes: u64,
    /// FNV-1a 64 of the content, as 16 lowercase hex digits (a JSON number would lose
    /// precision in tools that read numbers as doubles).
    pub(crate) fnv1a64: String,
}

/// One Parquet segment named by a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegmentRef {
    pub(crate) table: String,
    /// Path relative to the root, `/`-separated.
    pub(crate) path: String,
    pub(crate) tenant_id: String,
    /// `YYYY-MM-DD` or `unknown`, as in the directory name.
    pub(crate) date: String,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
}

/// Only the version, read first so a future format fails with a clear error.
#[derive(Deserialize)]
struct VersionProbe {
    format_version: u32,
}

impl SegmentRef {
    /// The segment's date (`None` for `unknown`), valid once the manifest is validated.
    pub(crate) fn parsed_date(&self) -> Option<NaiveDate> {
        parse_date_dir_value(&self.date).flatten()
    }
}

/// The manifest's path in a partition's checkpoint directory.
pub(crate) fn manifest_path(checkpoint_dir: &Path) -> PathBuf {
    checkpoint_dir.join(MANIFEST_FILE)
}

impl Manifest {
    /// Reads and validates the manifest in `checkpoint_dir`, or `None` if there is none.
    ///
    /// # Errors
    /// [`StoreError::ReadManifest`], [`StoreError::ParseManifest`],
    /// [`StoreError::ManifestVersion`], or [`StoreError::ManifestMismatch`] when the content
    /// does not belong to `id` (see [`validate`](Self::validate)).
    pub(crate) fn read(
        checkpoint_dir: &Path,
        id: &PartitionId,
    ) -> Result<Option<Self>, StoreError> {
        let path = manifest_path(checkpoint_dir);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::ReadManifest { path, source }),
        };
        let parse_err = |source| StoreError::ParseManifest {
            path: path.clone(),
            source,
        };
        let probe: VersionProbe = serde_json::from_slice(&text).map_err(parse_err)?;
        if probe.format_version != FORMAT_VERSION {
            return Err(StoreError::ManifestVersion {
                path,
                found: probe.format_version,
                supported: FORMAT_VERSION,
            });
        }
        let manifest: Self = serde_json::from_slice(&text).map_err(parse_err)?;
        manifest.validate(&path, id)?;
        Ok(Some(manifest))
    }

    /// Writes this manifest over `<checkpoint_dir>/manifest.json` atomically. The caller
    /// then syncs the directory; only after that is the checkpoint durable.
    ///
    /// # Errors
    /// [`StoreError::EncodeManifest`], [`StoreError::WriteFile`] or [`StoreError::Rename`]:
    /// in all cases the previous manifest is still current.
    pub(crate) fn write_file(&self, checkpoint_dir: &Path) -> Result<(), StoreError> {
        let path = manifest_path(checkpoint_dir);
        let json =
            serde_json::to_vec_pretty(self).map_err(|source| StoreError::EncodeManifest {
                path: path.clone(),
                source,
            })?;
        write_atomic(&path, |mut file, tmp| {
            file.write_all(&json)
                .map_err(|source| StoreError::WriteFile {
                    path: tmp.to_path_buf(),
                    source,
                })?;
            Ok(file)
        })?;
        Ok(())
    }

    /// The relative paths of every segment this manifest names.
    pub(crate) fn segment_paths(&self) -> impl Iterator<Item = &str> {
        self.final_segments
            .iter()
            .chain(&self.provisional_segments)
            .map(|segment| segment.path.as_str())
    }

    /// Checks that the manifest belongs to `id` and names only files `id` could have
    /// written, each at the path its table, tenant and date imply, with no duplicates.
    /// After this, every path is safe to join onto the root (no `..`, no absolute paths).
    ///
    /// # Errors
    /// [`StoreError::ManifestMismatch`] describing the first problem.
    pub(crate) fn validate(&self, path: &Path, id: &PartitionId) -> Result<(), StoreError> {
        let mismatch = |what: &str, expected: String, found: String| StoreError::ManifestMismatch {
            path: path.to_path_buf(),
            what: what.to_owned(),
            expected,
            found,
        };
        if self.topic != id.topic() {
            return Err(mismatch("topic", id.topic().to_owned(), self.topic.clone()));
        }
        if self.partition != id.partition() {
            return Err(mismatch(
                "partition",
                id.partition().to_string(),
                self.partition.to_string(),
            ));
        }
        if self.sequence == 0 {
            return Err(mismatch("sequence", "at least 1".into(), "0".into()));
        }
        if self.next_offset < 0 {
            return Err(mismatch(
                "next_offset",
                "a non-negative offset".into(),
                self.next_offset.to_string(),
            ));
        }
        // The state file, like the provisional segments, is written by checkpoints only: a
        // compaction's manifest keeps the last checkpoint's, so it may be older than the
        // manifest itself.
        let state_sequence = parse_state_name(&self.state.file)
            .filter(|&(sequence, tmp)| {
                !tmp && sequence <= self.sequence && self.state.file == state_file_name(sequence)
            })
            .map(|(sequence, _)| sequence);
        let Some(state_sequence) = state_sequence else {
            return Err(mismatch(
                "state.file",
                format!("a state file of checkpoint {} or earlier", self.sequence),
                self.state.file.clone(),
            ));
        };
        if parse_checksum(&self.state.fnv1a64).is_none() {
            return Err(mismatch(
                "state.fnv1a64",
                "16 hex digits".into(),
                self.state.fnv1a64.clone(),
            ));
        }
        let mut seen = BTreeSet::new();
        let lists = [
            (SegmentKind::Final, &self.final_segments),
            (SegmentKind::Provisional, &self.provisional_segments),
        ];
        for (kind, segments) in lists {
            for segment in segments {
                let what = format!("segment `{}`", segment.path);
                let problem = self.segment_problem(id, kind, segment, state_sequence);
                if let Some((expected, found)) = problem {
                    return Err(mismatch(&what, expected, found));
                }
                if !seen.insert(segment.path.as_str()) {
                    return Err(mismatch(&what, "named once".into(), "named twice".into()));
                }
            }
        }
        Ok(())
    }

    /// What is wrong with one segment entry, as (expected, found), if anything.
    ///
    /// A final segment comes from any checkpoint or compaction up to this manifest's; a
    /// provisional one from the checkpoint that wrote the state (`state_sequence`).
    fn segment_problem(
        &self,
        id: &PartitionId,
        kind: SegmentKind,
        segment: &SegmentRef,
        state_sequence: u64,
    ) -> Option<(String, String)> {
        if check_table_name(&segment.table).is_err() {
            return Some(("a valid table name".into(), segment.table.clone()));
        }
        if !is_valid_tenant(&segment.tenant_id) {
            return Some(("a valid tenant id".into(), segment.tenant_id.clone()));
        }
        let Some(date) = parse_date_dir_value(&segment.date) else {
            return Some(("YYYY-MM-DD or unknown".into(), segment.date.clone()));
        };
        let dir = segment_dir_rel(&segment.table, &segment.tenant_id, date);
        let Some(file_name) = segment
            .path
            .strip_prefix(dir.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return Some((format!("a file in `{dir}`"), segment.path.clone()));
        };
        let parsed = id.parse_segment_name(file_name).filter(|name| !name.tmp);
        let (fits, expected) = match kind {
            SegmentKind::Final => (
                parsed.is_some_and(|name| name.kind == kind && name.sequence <= self.sequence),
                format!(
                    "a final segment of this partition from checkpoint {} or earlier",
                    self.sequence
                ),
            ),
            SegmentKind::Provisional => (
                parsed.is_some_and(|name| name.kind == kind && name.sequence == state_sequence),
                format!(
                    "a provisional segment of this partition from checkpoint {state_sequence} (the state's)"
                ),
            ),
        };
        (!fits).then(|| (expected, file_name.to_owned()))
    }
}

/// FNV-1a, 64 bits: a cheap checksum that catches truncation and torn writes (not an
/// adversary), written out because std has none and it is four lines.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// Formats a checksum as stored in [`StateRef::fnv1a64`].
pub(crate) fn format_checksum(checksum: u64) -> String {
    format!("{checksum:016x}")
}

/// Parses [`StateRef::fnv1a64`].
pub(crate) fn parse_checksum(text: &str) -> Option<u64> {
    if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(parse_checksum(&format_checksum(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_checksum("+123456789abcdef"), None);
    }
}
