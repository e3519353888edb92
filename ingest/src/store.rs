//! Parquet segments, per-partition checkpoints and the manifest that makes them visible.
//!
//! The aggregator has one writer per Kafka partition. Each writer periodically *commits a
//! checkpoint* through its [`PartitionStore`]: the rows that will never change again
//! (final segments), the current still-changing tail of each table (provisional segments,
//! replaced wholesale at every checkpoint), the serialized fold state and the next Kafka
//! offset to consume. Now and then it *compacts* ([`PartitionStore::compact`]): it merges
//! many small final segments of one table, tenant and day into a few larger ones. Both
//! become visible — to [`PartitionStore::load`] after a restart and to readers through
//! [`visible_files`] — only when the partition's manifest is atomically replaced. Anything
//! on disk that a manifest does not name does not exist.
//!
//! The API is synchronous and does blocking file I/O: async callers run it on
//! `spawn_blocking`. Paths are local (`std::fs`); object storage is a later step.
//!
//! # On-disk layout
//!
//! ```text
//! <root>/
//!   <table>/tenant=<tenant_id>/date=<YYYY-MM-DD | unknown>/
//!       <topic>-p<partition>-<seq>-final-<n>.parquet     rows that never change (written
//!                                                        by a checkpoint or a compaction)
//!       <topic>-p<partition>-<seq>-prov-<n>.parquet      current tail, superseded by the
//!                                                        next checkpoint
//!   _checkpoints/<topic>/p<partition>/
//!       manifest.json                                    the commit point (see below)
//!       state-<seq>.bin                                  the fold state of checkpoint <seq>
//!       LOCK                                             held while a PartitionStore is loaded
//! ```
//!
//! `<seq>` is the sequence number of the manifest the file was written for (zero-padded to
//! 20 digits): every manifest, checkpoint or compaction, takes the next number. `<n>`
//! numbers the files of one kind written for one manifest. A file's name says which
//! partition and which manifest wrote it, so a partition recognises its own leftovers
//! without touching the files of other partitions that share the table directories, and a
//! file never overwrites one that a committed manifest names. Files being written carry an
//! extra `.tmp` suffix until they are complete, synced and renamed.
//!
//! ## Tenant and date: directory keys vs. file columns
//!
//! Every segment holds rows of exactly one tenant and one UTC day: [`PartitionStore::commit`]
//! splits each batch by (tenant, date) first. The date is the **UTC calendar date** of the
//! table's time column, whatever time zone the column is annotated with: an Arrow timestamp
//! is an instant, and one fixed convention keeps a tenant-day in one directory no matter
//! where the contact center is. Rows whose time is NULL (or outside chrono's calendar) go
//! to `date=unknown`; they are never dropped.
//!
//! Files keep **every column of the batch unchanged**, including the tenant column: the file
//! schema is exactly the table schema, the same as the in-memory tail the query layer
//! unions with the history, and a file read on its own is complete. The directory keys are
//! therefore named differently from any data column — [`TENANT_KEY`] (`tenant`) and
//! [`DATE_KEY`] (`date`), not `tenant_id` — so a DataFusion listing table can declare them
//! as partition columns without clashing with the file's `tenant_id`. They exist for
//! pruning only: **readers take values from the file columns**; `tenant` always equals the
//! file's tenant column and `date` is derived from the time column. A batch whose schema has
//! a column named `tenant` or `date` is rejected so that this stays possible.
//!
//! Tenant ids follow the contract (`[A-Za-z0-9_.-]{1,64}`). Because the directory name is
//! `tenant=<id>`, ids such as `.` and `..` are ordinary names that cannot escape the table
//! directory. A NULL tenant or one outside the contract is an error rather than escaped:
//! it means a bug upstream, and renaming it would hide the rows from tenant-scoped queries.
//!
//! **Readers must list files through the manifests** ([`visible_files`], or
//! [`visible_files_all`] for every table of a partition as of one manifest; the
//! partition's own writer has them in memory: [`PartitionStore::final_files`]), not by
//! globbing directories: a directory may briefly hold files of a checkpoint or compaction that is
//! not committed yet, or superseded files (provisional segments, a compaction's inputs)
//! not deleted yet, and globbing would count their rows twice. [`VisibleFile`] carries the
//! tenant id and date so the query layer can attach partition values to each file itself.
//!
//! ## Parquet
//!
//! zstd level 1 (checkpoints are frequent, and for merged segments higher levels saved a
//! few percent at best: see `store/segment.rs`), page-level statistics on, one file per
//! (table, tenant, date, checkpoint, kind); a merged segment holds one (table, tenant,
//! date) too. Empty pieces write no file.
//!
//! # Commit protocol
//!
//! 1. Validate and split every batch before writing anything.
//! 2. Write each segment and the state file: temporary name, `fsync`, rename; then `fsync`
//!    each directory that got a new file or a new subdirectory.
//! 3. Write `manifest.json.tmp`, `fsync`, rename over `manifest.json`, `fsync` the directory.
//!    This rename is the commit point.
//! 4. Delete what the new manifest superseded: the previous provisional segments and the
//!    previous state file. Failures here are logged, not returned — the checkpoint is
//!    already durable and the next [`PartitionStore::load`] removes them.
//!
//! If a step before 3 fails, the files written so far are removed (best effort) and the
//! previous checkpoint stays current.
//!
//! The manifest names the format version, topic, partition, sequence number (monotonic,
//! from 1), next offset, the state file with its length and FNV-1a 64 checksum, every final
//! segment of the partition and the current provisional segments (table, relative path,
//! tenant, date, rows, bytes).
//!
//! # Compaction
//!
//! Checkpoints come every few seconds and each adds a small final segment per table,
//! tenant and date it has rows for: tens of thousands of files per busy day, which make
//! every query over history slow and the manifest (rewritten at every checkpoint) large.
//! [`PartitionStore::compact`] merges them through the same manifest:
//!
//! 1. Plan from the manifest alone ([`CompactionPolicy`]): in each (table, tenant, date),
//!    the segments of one *size tier* (rows within a factor of `min_files`) are merged once
//!    there are `min_files` of them, at most `max_rows_per_file` rows per merged file. Every
//!    row is rewritten a few times at most (once per tier), never once per checkpoint.
//! 2. Read each input, check it holds the rows, tenant and date its manifest entry says,
//!    concatenate, sort by the table's time column (stable; NULLs first) and write the
//!    merged segment as in step 2 of a commit, named after the *next* sequence number.
//! 3. Write the next manifest: same next offset, same state file, same provisional
//!    segments, the merged segments in place of their inputs. Rename, `fsync` the
//!    directory: the commit point.
//! 4. Delete the inputs, logging failures (the next `load` removes them).
//!
//! A compaction therefore keeps the last checkpoint's state file and provisional segments,
//! whose names carry that checkpoint's (smaller) sequence number; the next checkpoint
//! supersedes them as usual. The rows readers see are the same before and after; only the
//! files holding them change.
//!
//! A crash at any step leaves one of two consistent sets, and `load` keeps exactly one:
//! before the rename, the old manifest names the inputs and `load` deletes the merged files
//! (complete or `.tmp`, they carry a sequence number no manifest has); after it, the new
//! manifest names the merged files and `load` deletes whatever inputs are left. The inputs
//! are deleted only once the new manifest is durable, so a power loss that undoes the
//! rename still finds them. A failed `fsync` of the checkpoint directory after the rename
//! leaves the store needing a `load` ([`PartitionStore::needs_load`]), as for a commit.
//!
//! # Recovery
//!
//! [`PartitionStore::load`] reads the manifest, checks that every named segment exists and
//! that the state file has the recorded length and checksum, and only then deletes the
//! files of this partition that the manifest does not name (leftovers of a crash between
//! writing files and renaming the manifest, or of deletions that failed). A missing or
//! corrupt state file is an error, never a silent start from zero; so is a partition
//! without a manifest that has files from a checkpoint after the first (a lost manifest,
//! not a crash: nothing is deleted). Recovery scans every `tenant=*/date=*` directory of
//! every table, so its cost grows with the number of tenant-days; only load pays it.
//!
//! # Concurrency
//!
//! One [`PartitionStore`] per partition at a time: `load` takes an exclusive lock on the
//! partition's `LOCK` file (an OS file lock, released when the store is dropped or the
//! process dies), so a second owner — another process, or a second store in this one —
//! gets [`StoreError::Locked`]. Commits and compactions of a partition are therefore never
//! concurrent. Readers take no lock; they read each manifest once and see either the old
//! or the new one — never a compaction's inputs and its merged file together, never
//! neither — and a superseded file (a provisional segment after a commit, a merged input
//! after a compaction) may disappear between listing and reading ([`read_table`] lists
//! again in that case).
//!
//! # Not yet
//!
//! - Retention. The manifest lists every final segment of every day the partition has
//!   written; compaction bounds the files per day, not the number of days.
//! - Compaction off the partition's thread: it runs inside the caller's checkpoint, so a
//!   large merge delays that partition's next events (the largest merge of `events` with
//!   the default policy took half a second in a debug build).
//! - Object storage: paths are local; the target design reaches `s3://` through
//!   `object_store`, where "rename" becomes a conditional put of the manifest.

mod compact;
mod durable;
mod error;
mod layout;
mod lock;
mod manifest;
mod partition;
mod recover;
mod segment;
mod split;
mod table;
mod visible;

#[cfg(test)]
mod tests;

pub use compact::{CompactionPolicy, CompactionStats};
pub use error::StoreError;
pub use layout::{DATE_KEY, TENANT_KEY, UNKNOWN_DATE};
pub use partition::{Checkpoint, Commit, CommitStats, DataDir, PartitionStore};
pub use table::TableSpec;
pub use visible::{VisibleFile, read_table, visible_files, visible_files_all};
