//! The per-partition owner lock: an exclusive OS file lock on `LOCK` in the partition's
//! checkpoint directory.
//!
//! An advisory lock (`flock` on Unix) rather than "the file exists": the OS releases it
//! when the process dies, so a crash never leaves a stale lock that blocks the restart.
//! Locks belong to the open file, so a second store for the same partition in the *same*
//! process is refused too — which is what catches a rebalance that assigns a partition
//! before the previous owner dropped it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use super::error::StoreError;
use super::layout::LOCK_FILE;

/// Holds the lock until dropped.
#[derive(Debug)]
pub(crate) struct PartitionLock {
    /// Kept open: closing the file releases the lock.
    _file: File,
}

impl PartitionLock {
    /// Locks `<dir>/LOCK`, creating it if needed. Never blocks.
    ///
    /// # Errors
    /// [`StoreError::Locked`] if another owner holds it, [`StoreError::Lock`] on I/O errors.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Lock {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Locked { path }),
            Err(TryLockError::Error(source)) => Err(StoreError::Lock { path, source }),
        }
    }
}
