//! [`DataDir`] and [`PartitionStore`]: loading and committing one partition's checkpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;

use super::compact::{CompactionPolicy, CompactionStats, plan, stage};
use super::durable::{DirSync, sync_dir, write_atomic};
use super::error::StoreError;
use super::layout::{
    CHECKPOINTS_DIR, PartitionId, SegmentKind, date_dir_value, resolve_rel, segment_dir_rel,
    state_file_name,
};
use super::lock::PartitionLock;
use super::manifest::{
    FORMAT_VERSION, Manifest, SegmentRef, StateRef, fnv1a64, format_checksum, manifest_path,
    parse_checksum,
};
use super::recover::find_own_files;
use super::segment::write_segment;
use super::split::{Piece, split_by_tenant_and_date};
use super::table::TableSpec;
use super::visible::{VisibleFile, visible};

/// The root of the data directory: tables and every partition's checkpoints.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens (creating if needed) the data directory at `root`.
    ///
    /// # Errors
    /// [`StoreError::CreateDir`] or [`StoreError::SyncDir`].
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let mut dirs = DirSync::default();
        dirs.create_dir_all(&root.join(CHECKPOINTS_DIR))?;
        dirs.sync()?;
        Ok(Self { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store of one partition. Nothing is checked or touched until
    /// [`PartitionStore::load`], which validates the names and takes the partition's lock.
    pub fn partition(&self, topic: &str, partition: i32) -> PartitionStore {
        PartitionStore {
            root: self.root.clone(),
            topic: topic.to_owned(),
            partition,
            owner: None,
            position: Position::Unloaded,
        }
    }
}

/// The checkpoints of one (topic, partition): [`load`](Self::load) once when the partition
/// is assigned, then [`commit`](Self::commit) periodically and [`compact`](Self::compact)
/// now and then. Drop it when the partition is revoked, which releases the lock.
#[derive(Debug)]
pub struct PartitionStore {
    root: PathBuf,
    topic: String,
    partition: i32,
    /// Set by the first `load`, kept (with the lock) until drop.
    owner: Option<Owner>,
    position: Position,
}

/// What a loaded store owns.
#[derive(Debug)]
struct Owner {
    id: PartitionId,
    /// `<root>/_checkpoints/<topic>/p<partition>`.
    checkpoint_dir: PathBuf,
    _lock: PartitionLock,
}

/// What the store knows about the current checkpoint.
#[derive(Debug)]
enum Position {
    /// Not loaded, or a commit failed in a way that leaves the disk state unknown.
    Unloaded,
    /// Loaded: the partition has no checkpoint yet.
    Fresh,
    /// Loaded: this manifest is current on disk.
    Committed(Manifest),
}

/// A loaded checkpoint: where to resume and the fold state to resume with.
#[derive(Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The first Kafka offset to consume.
    pub next_offset: i64,
    /// The fold state, exactly as passed to [`Commit::state`].
    pub state: Vec<u8>,
    /// The sequence number of the manifest it was loaded from: 1 for the first checkpoint,
    /// +1 for every later checkpoint or compaction.
    pub sequence: u64,
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("next_offset", &self.next_offset)
            .field("state_bytes", &self.state.len())
            .field("sequence", &self.sequence)
            .finish()
    }
}

/// What one checkpoint writes. Batches may mix tenants and dates (they are split) and may
/// be empty (nothing is written for them); a table may appear several times.
pub struct Commit<'a> {
    /// The first Kafka offset *not* covered by this checkpoint. Never below the previous
    /// checkpoint's.
    pub next_offset: i64,
    /// The serialized fold state, opaque to the store.
    pub state: &'a [u8],
    /// Rows that will never change: added to every later checkpoint's list.
    pub final_batches: &'a [(&'a TableSpec, RecordBatch)],
    /// The complete current tail of each table: replaces the previous checkpoint's
    /// provisional rows wholesale (a table absent here has no provisional rows any more).
    pub provisional_batches: &'a [(&'a TableSpec, RecordBatch)],
}

impl fmt::Debug for Commit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = |batches: &[(&TableSpec, RecordBatch)]| -> usize {
            batches.iter().map(|(_, batch)| batch.num_rows()).sum()
        };
        f.debug_struct("Commit")
            .field("next_offset", &self.next_offset)
            .field("state_bytes", &self.state.len())
            .field("final_rows", &rows(self.final_batches))
            .field("provisional_rows", &rows(self.provisional_batches))
            .finish()
    }
}

/// What a successful [`PartitionStore::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// The new checkpoint's sequence number.
    pub sequence: u64,
    /// Final segments written by this commit.
    pub final_files: usize,
    pub final_rows: u64,
    /// Provisional segments written by this commit.
    pub provisional_files: usize,
    pub provisional_rows: u64,
    /// Bytes of Parquet and state written (the manifest not counted).
    pub bytes_written: u64,
    /// Superseded files (previous provisional segments and state) deleted.
    pub superseded_removed: usize,
    /// Superseded files that could not be deleted (logged; the next load removes them).
    pub superseded_remove_failed: usize,
}

impl PartitionStore {
    /// The topic this store is for.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition this store is for.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The sequence number of the current manifest (the last checkpoint, or a compaction
    /// after it), if loaded and there is one.
    pub fn sequence(&self) -> Option<u64> {
        match &self.position {
            Position::Committed(manifest) => Some(manifest.sequence),
            Position::Unloaded | Position::Fresh => None,
        }
    }

    /// The final segments of every table named by the current manifest (the last
    /// checkpoint, or a compaction after it), as [`visible_files`](super::visible_files)
    /// would list them, in manifest order; empty before the first checkpoint or when not
    /// loaded. Read from memory: the store holds the manifest it last wrote or loaded, and
    /// as the partition's only writer it knows that this is the one on disk.
    ///
    /// The aggregator pairs these with the rows it holds in memory (everything after the
    /// checkpoint, and the whole provisional tail) for readers of its live tail. The
    /// provisional segments are left out on purpose: the in-memory tail supersedes them.
    pub fn final_files(&self) -> Vec<VisibleFile> {
        match &self.position {
            Position::Committed(manifest) => manifest
                .final_segments
                .iter()
                .map(|segment| visible(&self.root, manifest, segment, false))
                .collect(),
            Position::Unloaded | Position::Fresh => Vec::new(),
        }
    }

    /// Loads the current checkpoint and cleans up after a crash; `Ok(None)` for a partition
    /// that never committed. Must succeed once before [`commit`](Self::commit); calling it
    /// again re-reads the disk.
    ///
    /// The first call validates the topic and partition, creates the checkpoint directory
    /// and takes the partition's lock. Then it reads the manifest, checks that every
    /// segment it names exists and that the state file has the recorded length and
    /// checksum, and only then deletes this partition's files that the manifest does not
    /// name. Files of other partitions are never touched.
    ///
    /// # Errors
    /// - [`StoreError::InvalidName`], [`StoreError::Locked`], [`StoreError::Lock`].
    /// - Manifest problems: [`StoreError::ReadManifest`], [`StoreError::ParseManifest`],
    ///   [`StoreError::ManifestVersion`], [`StoreError::ManifestMismatch`], and
    ///   [`StoreError::ManifestMissing`] when there is no manifest but files of a later
    ///   checkpoint than the first exist (nothing is deleted then).
    /// - [`StoreError::SegmentMissing`], [`StoreError::StateMissing`],
    ///   [`StoreError::StateCorrupt`], [`StoreError::ReadState`]: a manifest exists but its
    ///   checkpoint cannot be restored. Never a silent start from zero.
    /// - [`StoreError::ReadDir`], [`StoreError::RemoveFile`] during the clean-up.
    pub fn load(&mut self) -> Result<Option<Checkpoint>, StoreError> {
        self.position = Position::Unloaded;
        self.ensure_owner()?;
        let Some(owner) = &self.owner else {
            return Err(self.before_load());
        };
        let manifest = Manifest::read(&owner.checkpoint_dir, &owner.id)?;
        let found = find_own_files(&self.root, &owner.id, &owner.checkpoint_dir)?;

        let mut named: BTreeSet<PathBuf> = BTreeSet::new();
        let checkpoint = match &manifest {
            None => {
                // Leftovers of a crash before the first manifest all belong to checkpoint 1.
                let later = found
                    .iter()
                    .find(|file| file.sequence.is_some_and(|seq| seq > 1));
                if let Some(file) = later {
                    return Err(StoreError::ManifestMissing {
                        manifest: manifest_path(&owner.checkpoint_dir),
                        found: file.path.clone(),
                        sequence: file.sequence.unwrap_or_default(),
                    });
                }
                None
            }
            Some(manifest) => {
                let on_disk: BTreeSet<&Path> =
                    found.iter().map(|file| file.path.as_path()).collect();
                for rel in manifest.segment_paths() {
                    let path = resolve_rel(&self.root, rel);
                    if !on_disk.contains(path.as_path()) {
                        return Err(StoreError::SegmentMissing { path });
                    }
                    named.insert(path);
                }
                let state_path = owner.checkpoint_dir.join(&manifest.state.file);
                let state = read_state(&state_path, &manifest.state)?;
                named.insert(state_path);
                Some(Checkpoint {
                    next_offset: manifest.next_offset,
                    state,
                    sequence: manifest.sequence,
                })
            }
        };

        let mut removed = 0_usize;
        for file in found.iter().filter(|file| !named.contains(&file.path)) {
            match fs::remove_file(&file.path) {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::RemoveFile {
                        path: file.path.clone(),
                        source,
                    });
                }
            }
        }
        tracing::info!(
            topic = owner.id.topic(),
            partition = owner.id.partition(),
            sequence = checkpoint.as_ref().map(|c| c.sequence),
            next_offset = checkpoint.as_ref().map(|c| c.next_offset),
            leftovers_removed = removed,
            "checkpoint loaded"
        );
        self.position = match manifest {
            Some(manifest) => Position::Committed(manifest),
            None => Position::Fresh,
        };
        Ok(checkpoint)
    }

    /// Commits a checkpoint: writes the segments and the state, then atomically replaces
    /// the manifest, then deletes what it superseded (see the [module docs](super) for the
    /// protocol). When this returns `Ok`, the checkpoint is durable and the caller may
    /// commit `next_offset` to Kafka.
    ///
    /// # Errors
    /// - [`StoreError::CommitBeforeLoad`] without a successful [`load`](Self::load).
    /// - [`StoreError::OffsetRegressed`], [`StoreError::SequenceExhausted`].
    /// - Batch problems, found before anything is written: [`StoreError::InvalidName`],
    ///   [`StoreError::ColumnMissing`], [`StoreError::ColumnType`],
    ///   [`StoreError::ReservedColumn`], [`StoreError::InvalidTenant`],
    ///   [`StoreError::SplitBatch`].
    /// - I/O: [`StoreError::CreateDir`], [`StoreError::WriteFile`],
    ///   [`StoreError::WriteParquet`], [`StoreError::Rename`], [`StoreError::SyncDir`],
    ///   [`StoreError::EncodeManifest`].
    ///
    /// After an error the previous checkpoint is still current and the files written so
    /// far are removed (best effort), except for a [`StoreError::SyncDir`] of the
    /// checkpoint directory after the manifest rename: the new manifest may or may not
    /// survive a power loss, so the store then requires a new `load` before committing.
    pub fn commit(&mut self, commit: Commit<'_>) -> Result<CommitStats, StoreError> {
        let Some(owner) = &self.owner else {
            return Err(self.before_load());
        };
        let previous = match &self.position {
            Position::Unloaded => return Err(self.before_load()),
            Position::Fresh => None,
            Position::Committed(manifest) => Some(manifest),
        };
        let sequence =
            match previous {
                None => 1,
                Some(manifest) => manifest.sequence.checked_add(1).ok_or_else(|| {
                    StoreError::SequenceExhausted {
                        path: manifest_path(&owner.checkpoint_dir),
                    }
                })?,
            };
        let previous_offset = previous.map_or(0, |manifest| manifest.next_offset);
        if commit.next_offset < previous_offset {
            return Err(StoreError::OffsetRegressed {
                topic: self.topic.clone(),
                partition: self.partition,
                previous: previous_offset,
                next: commit.next_offset,
            });
        }

        // Validate and split everything before the first write.
        let finals = split_all(commit.final_batches)?;
        let provisionals = split_all(commit.provisional_batches)?;

        let mut written = Vec::new();
        let writer = Writer {
            root: &self.root,
            owner,
            sequence,
        };
        let staged = writer.stage(&finals, &provisionals, commit.state, &mut written);
        let staged = match staged {
            Ok(staged) => staged,
            Err(err) => {
                remove_quietly(&written);
                return Err(err);
            }
        };

        let mut final_segments = previous.map_or_else(Vec::new, |m| m.final_segments.clone());
        final_segments.extend(staged.finals);
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            topic: owner.id.topic().to_owned(),
            partition: owner.id.partition(),
            sequence,
            next_offset: commit.next_offset,
            state: staged.state,
            final_segments,
            provisional_segments: staged.provisionals,
        };
        if let Err(err) = manifest.write_file(&owner.checkpoint_dir) {
            remove_quietly(&written);
            return Err(err);
        }
        // The commit point has passed (at least in the page cache): from here on the
        // written files are named by the manifest on disk and must not be removed.
        if let Err(err) = sync_dir(&owner.checkpoint_dir) {
            self.position = Position::Unloaded;
            return Err(err);
        }

        let mut superseded: Vec<PathBuf> = Vec::new();
        if let Some(previous) = previous {
            superseded.extend(
                previous
                    .provisional_segments
                    .iter()
                    .map(|segment| resolve_rel(&self.root, &segment.path)),
            );
            superseded.push(owner.checkpoint_dir.join(&previous.state.file));
        }
        let (superseded_removed, superseded_remove_failed) = remove_superseded(&superseded);

        let stats = CommitStats {
            sequence,
            final_files: finals.len(),
            final_rows: rows(&finals),
            provisional_files: provisionals.len(),
            provisional_rows: rows(&provisionals),
            bytes_written: staged.bytes,
            superseded_removed,
            superseded_remove_failed,
        };
        tracing::info!(
            topic = owner.id.topic(),
            partition = owner.id.partition(),
            sequence,
            next_offset = commit.next_offset,
            final_files = stats.final_files,
            provisional_files = stats.provisional_files,
            bytes_written = stats.bytes_written,
            "checkpoint committed"
        );
        self.position = Position::Committed(manifest);
        Ok(stats)
    }

    /// True when [`load`](Self::load) must succeed before the next
    /// [`commit`](Self::commit) or [`compact`](Self::compact): the store was never loaded,
    /// or a commit or compaction failed after renaming its manifest, so that which manifest
    /// survives a power loss is unknown ([`StoreError::SyncDir`]). A caller that keeps
    /// running after an error checks this to tell a failure that changed nothing from one
    /// that did.
    pub fn needs_load(&self) -> bool {
        matches!(self.position, Position::Unloaded)
    }

    /// Merges small final segments of the tables in `tables` into fewer, larger ones, as
    /// `policy` says, and commits the result as a new manifest: same next offset, same
    /// state, same provisional segments, the merged segments in place of their inputs. The
    /// rows a reader sees do not change, only the files holding them. Groups of tables not
    /// in `tables` (whose time column the store would not know) are left alone. Returns
    /// without writing anything when nothing qualifies, or for a partition without a
    /// checkpoint.
    ///
    /// Protocol (see the [module docs](super)): read and check the inputs; write each
    /// merged segment as a final segment of the new manifest's sequence (temporary name,
    /// sync, rename, sync the directory); replace the manifest (the commit point) and sync
    /// its directory; only then delete the inputs. A crash at any point leaves either the
    /// old manifest with its inputs or the new one with its merged segments, and `load`
    /// deletes the other set. Readers listing through [`visible_files`](super::visible_files)
    /// see one manifest or the other, so every row exactly once; an input deleted after
    /// they listed it makes [`read_table`](super::read_table) list again.
    ///
    /// Runs synchronously on the caller's thread and holds up to
    /// [`CompactionPolicy::max_rows_per_file`] rows of one table in memory at a time.
    ///
    /// # Errors
    /// - [`StoreError::InvalidPolicy`], [`StoreError::CommitBeforeLoad`],
    ///   [`StoreError::SequenceExhausted`].
    /// - Reading the inputs: [`StoreError::OpenSegment`], [`StoreError::ReadParquet`],
    ///   [`StoreError::ReadBatch`], [`StoreError::SegmentMismatch`] (a file that does not
    ///   hold what the manifest says), the schema errors of [`commit`](Self::commit), and
    ///   [`StoreError::MergeSegments`].
    /// - I/O: [`StoreError::CreateDir`], [`StoreError::WriteFile`],
    ///   [`StoreError::WriteParquet`], [`StoreError::Rename`], [`StoreError::SyncDir`],
    ///   [`StoreError::EncodeManifest`].
    ///
    /// After an error the previous manifest is still current and the merged files written
    /// so far are removed (best effort), except for a [`StoreError::SyncDir`] of the
    /// checkpoint directory after the manifest rename: as for `commit`, the store then
    /// requires a new `load` ([`needs_load`](Self::needs_load)). The inputs are never
    /// deleted before the new manifest is durable.
    pub fn compact(
        &mut self,
        tables: &[&TableSpec],
        policy: &CompactionPolicy,
    ) -> Result<CompactionStats, StoreError> {
        policy.validate()?;
        let Some(owner) = &self.owner else {
            return Err(self.before_load());
        };
        let current = match &self.position {
            Position::Unloaded => return Err(self.before_load()),
            Position::Fresh => return Ok(CompactionStats::default()),
            Position::Committed(manifest) => manifest,
        };
        let merges = plan(&current.final_segments, tables, policy);
        if merges.is_empty() {
            return Ok(CompactionStats::default());
        }
        let sequence =
            current
                .sequence
                .checked_add(1)
                .ok_or_else(|| StoreError::SequenceExhausted {
                    path: manifest_path(&owner.checkpoint_dir),
                })?;

        let mut written = Vec::new();
        let staged = stage(
            &self.root,
            &owner.id,
            sequence,
            &current.final_segments,
            &merges,
            &mut written,
        );
        let staged = match staged {
            Ok(staged) => staged,
            Err(err) => {
                remove_quietly(&written);
                return Err(err);
            }
        };
        if staged.outputs.is_empty() {
            // Every merge split into segments of distinct schemas: nothing to replace.
            return Ok(CompactionStats::default());
        }

        let (final_segments, replaced) = replace_merged(&current.final_segments, &staged.outputs);
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            topic: current.topic.clone(),
            partition: current.partition,
            sequence,
            next_offset: current.next_offset,
            state: current.state.clone(),
            final_segments,
            provisional_segments: current.provisional_segments.clone(),
        };
        if let Err(err) = manifest.write_file(&owner.checkpoint_dir) {
            remove_quietly(&written);
            return Err(err);
        }
        // The commit point has passed (at least in the page cache). The inputs must stay
        // until it is durable: if the old manifest came back after a power loss, it would
        // name them.
        if let Err(err) = sync_dir(&owner.checkpoint_dir) {
            self.position = Position::Unloaded;
            return Err(err);
        }
        let superseded: Vec<PathBuf> = replaced
            .iter()
            .map(|segment| resolve_rel(&self.root, &segment.path))
            .collect();
        let (superseded_removed, superseded_remove_failed) = remove_superseded(&superseded);

        let stats = CompactionStats {
            sequence: Some(sequence),
            input_files: replaced.len(),
            output_files: staged.outputs.len(),
            rows: staged.outputs.iter().map(|(_, segment)| segment.rows).sum(),
            bytes_read: staged.bytes_read,
            bytes_written: staged.bytes_written,
            superseded_removed,
            superseded_remove_failed,
        };
        tracing::info!(
            topic = owner.id.topic(),
            partition = owner.id.partition(),
            sequence,
            input_files = stats.input_files,
            output_files = stats.output_files,
            rows = stats.rows,
            bytes_read = stats.bytes_read,
            bytes_written = stats.bytes_written,
            final_files = manifest.final_segments.len(),
            "segments compacted"
        );
        self.position = Position::Committed(manifest);
        Ok(stats)
    }

    fn before_load(&self) -> StoreError {
        StoreError::CommitBeforeLoad {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }

    /// Validates the names, creates the checkpoint directory and takes the lock, once.
    fn ensure_owner(&mut self) -> Result<(), StoreError> {
        if self.owner.is_none() {
            let id = PartitionId::new(&self.topic, self.partition)?;
            let checkpoint_dir = id.checkpoint_dir(&self.root);
            let mut dirs = DirSync::default();
            dirs.create_dir_all(&checkpoint_dir)?;
            dirs.sync()?;
            let lock = PartitionLock::acquire(&checkpoint_dir)?;
            self.owner = Some(Owner {
                id,
                checkpoint_dir,
                _lock: lock,
            });
        }
        Ok(())
    }
}

/// What [`Writer::stage`] wrote: everything the new manifest names that is new.
#[derive(Debug)]
struct Staged {
    finals: Vec<SegmentRef>,
    provisionals: Vec<SegmentRef>,
    state: StateRef,
    bytes: u64,
}

/// Writes the files of one checkpoint (everything before the manifest).
#[derive(Debug)]
struct Writer<'a> {
    root: &'a Path,
    owner: &'a Owner,
    sequence: u64,
}

impl Writer<'_> {
    /// Writes every segment and the state file and syncs the directories they are in.
    /// Each path is pushed to `written` before its file is created, so the caller can
    /// remove them all if this fails.
    fn stage(
        &self,
        finals: &[(&TableSpec, Piece)],
        provisionals: &[(&TableSpec, Piece)],
        state: &[u8],
        written: &mut Vec<PathBuf>,
    ) -> Result<Staged, StoreError> {
        let mut dirs = DirSync::default();
        let mut bytes = 0;
        let finals =
            self.write_segments(SegmentKind::Final, finals, &mut dirs, written, &mut bytes)?;
        let provisionals = self.write_segments(
            SegmentKind::Provisional,
            provisionals,
            &mut dirs,
            written,
            &mut bytes,
        )?;

        let file = state_file_name(self.sequence);
        let path = self.owner.checkpoint_dir.join(&file);
        written.push(path.clone());
        let state_bytes = write_atomic(&path, |mut out, tmp| {
            out.write_all(state)
                .map_err(|source| StoreError::WriteFile {
                    path: tmp.to_path_buf(),
                    source,
                })?;
            Ok(out)
        })?;
        bytes += state_bytes;
        dirs.add(&self.owner.checkpoint_dir);
        dirs.sync()?;

        Ok(Staged {
            finals,
            provisionals,
            state: StateRef {
                file,
                bytes: state_bytes,
                fnv1a64: format_checksum(fnv1a64(state)),
            },
            bytes,
        })
    }

    fn write_segments(
        &self,
        kind: SegmentKind,
        pieces: &[(&TableSpec, Piece)],
        dirs: &mut DirSync,
        written: &mut Vec<PathBuf>,
        bytes: &mut u64,
    ) -> Result<Vec<SegmentRef>, StoreError> {
        let mut refs = Vec::with_capacity(pieces.len());
        for (n, (spec, piece)) in pieces.iter().enumerate() {
            let dir_rel = segment_dir_rel(spec.name, &piece.tenant_id, piece.date);
            let dir = resolve_rel(self.root, &dir_rel);
            dirs.create_dir_all(&dir)?;
            let name = self.owner.id.segment_file_name(self.sequence, kind, n);
            let path = dir.join(&name);
            written.push(path.clone());
            let size = write_segment(&path, &piece.batch)?;
            dirs.add(&dir);
            *bytes += size;
            refs.push(SegmentRef {
                table: spec.name.to_owned(),
                path: format!("{dir_rel}/{name}"),
                tenant_id: piece.tenant_id.clone(),
                date: date_dir_value(piece.date),
                rows: piece.batch.num_rows() as u64,
                bytes: size,
            });
        }
        Ok(refs)
    }
}

/// Splits every batch by tenant and date, keeping which table each piece belongs to.
fn split_all<'s>(
    batches: &[(&'s TableSpec, RecordBatch)],
) -> Result<Vec<(&'s TableSpec, Piece)>, StoreError> {
    let mut pieces = Vec::new();
    for (spec, batch) in batches {
        pieces.extend(
            split_by_tenant_and_date(spec, batch)?
                .into_iter()
                .map(|piece| (*spec, piece)),
        );
    }
    Ok(pieces)
}

fn rows(pieces: &[(&TableSpec, Piece)]) -> u64 {
    pieces
        .iter()
        .map(|(_, piece)| piece.batch.num_rows() as u64)
        .sum()
}

/// `segments` with each merged segment of `outputs` in place of the first of the inputs
/// it replaces and its other inputs left out; also returns the replaced segments.
fn replace_merged(
    segments: &[SegmentRef],
    outputs: &[(Vec<usize>, SegmentRef)],
) -> (Vec<SegmentRef>, Vec<SegmentRef>) {
    // Input index → Some(output) at the first input of each output, None at the others.
    let mut replaced_by: BTreeMap<usize, Option<&SegmentRef>> = BTreeMap::new();
    for (inputs, output) in outputs {
        for (n, &index) in inputs.iter().enumerate() {
            replaced_by.insert(index, (n == 0).then_some(output));
        }
    }
    let mut kept = Vec::with_capacity(segments.len());
    let mut replaced = Vec::with_capacity(replaced_by.len());
    for (index, segment) in segments.iter().enumerate() {
        match replaced_by.get(&index) {
            None => kept.push(segment.clone()),
            Some(output) => {
                replaced.push(segment.clone());
                kept.extend(output.cloned());
            }
        }
    }
    (kept, replaced)
}

/// Reads a state file and checks it against its manifest entry.
fn read_state(path: &Path, expected: &StateRef) -> Result<Vec<u8>, StoreError> {
    let state = match fs::read(path) {
        Ok(state) => state,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::StateMissing {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(StoreError::ReadState {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let found_checksum = fnv1a64(&state);
    // The manifest was validated, so the checksum parses; a zero fallback would just
    // report a mismatch.
    let expected_checksum = parse_checksum(&expected.fnv1a64).unwrap_or_default();
    let found_bytes = state.len() as u64;
    if found_bytes != expected.bytes || found_checksum != expected_checksum {
        return Err(StoreError::StateCorrupt {
            path: path.to_path_buf(),
            expected_bytes: expected.bytes,
            found_bytes,
            expected_checksum,
            found_checksum,
        });
    }
    Ok(state)
}

/// Removes files of a failed commit, ignoring errors: recovery removes what remains.
fn remove_quietly(paths: &[PathBuf]) {
    for path in paths {
        let _ = fs::remove_file(path);
    }
}

/// Deletes superseded files, logging failures. Returns (removed, failed).
fn remove_superseded(paths: &[PathBuf]) -> (usize, usize) {
    let (mut removed, mut failed) = (0, 0);
    for path in paths {
        match fs::remove_file(path) {
            Ok(()) => removed += 1,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                failed += 1;
                tracing::warn!(
                    path = %path.display(),
                    %error,
                    "could not delete a superseded checkpoint file; the next load removes it"
                );
            }
        }
    }
    (removed, failed)
}
