//! Crash-safe file primitives: write to a temporary name, sync, rename; sync directories so
//! that creations and renames in them survive a power loss.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::layout::tmp_path;

/// Writes `path` atomically: `fill` writes the content into a fresh `<path>.tmp`, which is
/// synced and renamed over `path`. Returns the file's length in bytes.
///
/// The rename is durable only once the parent directory is synced: callers collect the
/// directory in a [`DirSync`]. On error the temporary file is removed (best effort; recovery
/// removes it otherwise) and `path` is untouched.
///
/// # Errors
/// [`StoreError::WriteFile`] or [`StoreError::Rename`], or whatever `fill` returns.
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(File, &Path) -> Result<File, StoreError>,
) -> Result<u64, StoreError> {
    let tmp = tmp_path(path);
    let result = write_then_rename(path, &tmp, fill);
    if result.is_err() {
        // Best effort: a leftover `.tmp` is removed by the next recovery anyway.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(
    path: &Path,
    tmp: &Path,
    fill: impl FnOnce(File, &Path) -> Result<File, StoreError>,
) -> Result<u64, StoreError> {
    let write_err = |source| StoreError::WriteFile {
        path: tmp.to_path_buf(),
        source,
    };
    let file = File::create(tmp).map_err(write_err)?;
    let file = fill(file, tmp)?;
    file.sync_all().map_err(write_err)?;
    let bytes = file.metadata().map_err(write_err)?.len();
    drop(file);
    fs::rename(tmp, path).map_err(|source| StoreError::Rename {
        from: tmp.to_path_buf(),
        to: path.to_path_buf(),
        source,
    })?;
    Ok(bytes)
}

/// Syncs a directory, making creations, renames and deletions in it durable.
///
/// On non-Unix platforms directories cannot be opened for syncing; this is a no-op there.
///
/// # Errors
/// [`StoreError::SyncDir`].
pub(crate) fn sync_dir(path: &Path) -> Result<(), StoreError> {
    if cfg!(unix) {
        File::open(path)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| StoreError::SyncDir {
                path: path.to_path_buf(),
                source,
            })?;
    }
    Ok(())
}

/// The set of directories whose entries changed and must be synced before a commit point.
#[derive(Debug, Default)]
pub(crate) struct DirSync {
    dirs: BTreeSet<PathBuf>,
}

impl DirSync {
    /// Remembers that an entry of `dir` changed.
    pub(crate) fn add(&mut self, dir: &Path) {
        self.dirs.insert(dir.to_path_buf());
    }

    /// Creates `dir` and any missing ancestors, remembering the parent of every directory
    /// created (its new entry must be synced too).
    ///
    /// # Errors
    /// [`StoreError::CreateDir`].
    pub(crate) fn create_dir_all(&mut self, dir: &Path) -> Result<(), StoreError> {
        if dir.is_dir() {
            return Ok(());
        }
        match dir.parent() {
            // A relative path's last ancestor is the current directory.
            Some(parent) if parent.as_os_str().is_empty() => self.add(Path::new(".")),
            Some(parent) => {
                self.create_dir_all(parent)?;
                self.add(parent);
            }
            None => {}
        }
        match fs::create_dir(dir) {
            Ok(()) => Ok(()),
            // Another partition's writer may have created it concurrently.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
            Err(source) => Err(StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            }),
        }
    }

    /// Syncs every remembered directory, deepest first, and forgets them.
    ///
    /// # Errors
    /// The first [`StoreError::SyncDir`].
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        for dir in std::mem::take(&mut self.dirs).iter().rev() {
            sync_dir(dir)?;
        }
        Ok(())
    }
}
