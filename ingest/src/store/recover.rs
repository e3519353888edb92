//! Finding every file one partition has written, named by its manifest or not: the input
//! of the leftover clean-up in [`PartitionStore::load`](super::PartitionStore::load).

use std::fs;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::layout::{
    DATE_KEY, LOCK_FILE, MANIFEST_FILE, PartitionId, TENANT_KEY, TMP_SUFFIX, check_table_name,
    parse_state_name,
};

/// A file that belongs to the partition being recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnFile {
    pub(crate) path: PathBuf,
    /// The checkpoint that wrote it; `None` for a temporary manifest.
    pub(crate) sequence: Option<u64>,
}

/// Lists the files of partition `id` under `root`: its segments (complete or `.tmp`) in
/// every `<table>/tenant=*/date=*` directory, and its state files and temporary files in
/// its checkpoint directory. The manifest and the lock file are not listed. Files of other
/// partitions, and anything the store did not name, are never listed.
///
/// # Errors
/// [`StoreError::ReadDir`] when a directory cannot be listed.
pub(crate) fn find_own_files(
    root: &Path,
    id: &PartitionId,
    checkpoint_dir: &Path,
) -> Result<Vec<OwnFile>, StoreError> {
    let mut found = Vec::new();
    for (path, name) in files_in(checkpoint_dir)? {
        if name == MANIFEST_FILE || name == LOCK_FILE {
            continue;
        }
        if let Some((sequence, _tmp)) = parse_state_name(&name) {
            found.push(OwnFile {
                path,
                sequence: Some(sequence),
            });
        } else if name == format!("{MANIFEST_FILE}{TMP_SUFFIX}") {
            found.push(OwnFile {
                path,
                sequence: None,
            });
        }
    }

    let tenant_prefix = format!("{TENANT_KEY}=");
    let date_prefix = format!("{DATE_KEY}=");
    for (table_dir, table) in dirs_in(root)? {
        if check_table_name(&table).is_err() {
            continue; // `_checkpoints`, hidden directories, anything else not a table
        }
        for (tenant_dir, tenant) in dirs_in(&table_dir)? {
            if !tenant.starts_with(&tenant_prefix) {
                continue;
            }
            for (date_dir, date) in dirs_in(&tenant_dir)? {
                if !date.starts_with(&date_prefix) {
                    continue;
                }
                for (path, name) in files_in(&date_dir)? {
                    if let Some(segment) = id.parse_segment_name(&name) {
                        found.push(OwnFile {
                            path,
                            sequence: Some(segment.sequence),
                        });
                    }
                }
            }
        }
    }
    Ok(found)
}

/// The subdirectories of `dir` with UTF-8 names (others cannot be ours), as (path, name).
pub(crate) fn dirs_in(dir: &Path) -> Result<Vec<(PathBuf, String)>, StoreError> {
    entries(dir, true)
}

/// The regular files of `dir` with UTF-8 names, as (path, name).
fn files_in(dir: &Path) -> Result<Vec<(PathBuf, String)>, StoreError> {
    entries(dir, false)
}

fn entries(dir: &Path, want_dirs: bool) -> Result<Vec<(PathBuf, String)>, StoreError> {
    let read_err = |source| StoreError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let file_type = entry.file_type().map_err(read_err)?;
        let wanted = if want_dirs {
            file_type.is_dir()
        } else {
            file_type.is_file()
        };
        if let (true, Ok(name)) = (wanted, entry.file_name().into_string()) {
            out.push((entry.path(), name));
        }
    }
    Ok(out)
}
