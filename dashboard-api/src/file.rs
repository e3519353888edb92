//! Files the API writes (tokens, saved settings): replaced whole, never half-written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over
/// `path`: a reader sees the old file or the new one. `private`: readable by the owner
/// only (Unix). On failure: what was being done, to which file, and why.
pub(crate) fn replace(
    path: &Path,
    bytes: &[u8],
    private: bool,
) -> Result<(), (&'static str, PathBuf, std::io::Error)> {
    let temporary = path.with_extension("json.tmp");
    let failed = |action: &'static str, at: &Path| {
        let at = at.to_owned();
        move |error| (action, at, error)
    };
    {
        let mut options = fs::OpenOptions::new();
        options.create(true).truncate(true).write(true);
        #[cfg(unix)]
        if private {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut out = options
            .open(&temporary)
            .map_err(failed("writing", &temporary))?;
        out.write_all(bytes)
            .map_err(failed("writing", &temporary))?;
        out.sync_all().map_err(failed("writing", &temporary))?;
    }
    fs::rename(&temporary, path).map_err(failed("replacing", path))
}
