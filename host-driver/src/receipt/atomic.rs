//! Atomic file publication for folders that another program polls.
//!
//! The receipt computer picks up any file in `face` / `res` whose name matches
//! `OQSsiquc01res_*.xml` as soon as it appears, so a file must appear complete or not at all:
//! the bytes go to a temporary file *in the same folder* (same file system, so the rename is
//! atomic), are flushed to disk (`fsync`), and only then is the file renamed to its final name;
//! the folder is fsynced afterwards so the rename itself survives a power cut.
//!
//! Temporary names start with [`TEMP_PREFIX`] (`.shikaku-tmp-`): they begin with a dot, do not
//! contain `OQS` and do not end in `.xml`, so no pattern a receipt computer uses can match
//! one. A crash between writing and renaming leaves such a temporary file behind and nothing
//! else; [`remove_stale_temps`] clears them once they are [`STALE_AFTER`] old.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Every temporary file this module creates starts with this.
pub const TEMP_PREFIX: &str = ".shikaku-tmp-";

/// A failpoint called after the temporary file is written and synced, just before the rename:
/// tests use it to stop there (return an error, or abort the process to simulate a crash).
pub type WriteHook = Arc<dyn Fn(&Path) -> io::Result<()> + Send + Sync>;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{TEMP_PREFIX}{}-{n}", std::process::id())
}

/// Writes `bytes` to `dir/name` atomically (see the module docs). On any error the temporary
/// file is removed and no file named `name` has been created or changed.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8], hook: Option<&WriteHook>) -> io::Result<PathBuf> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad file name {name:?}")));
    }
    let tmp = dir.join(temp_name());
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        if let Some(hook) = hook {
            hook(&tmp)?;
        }
        let dest = dir.join(name);
        fs::rename(&tmp, &dest)?;
        sync_dir(dir);
        Ok(dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes a rename or removal in `dir` durable where the platform allows opening a directory.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// How old another process's temporary file must be before a starting writer removes it.
/// Folders may be shared by several reception PCs, so a young temporary file may belong to a
/// writer that is still running; a crash's leftover matches no pattern and can wait.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// Removes temporary files left by a crashed writer: those of any process but this one that
/// were last modified at least `older_than` ago. Returns how many were removed.
pub fn remove_stale_temps(dir: &Path, older_than: Duration) -> io::Result<usize> {
    let own = format!("{TEMP_PREFIX}{}-", std::process::id());
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(TEMP_PREFIX) || name.starts_with(&own) || !entry.file_type()?.is_file() {
            continue;
        }
        let age = entry.metadata()?.modified()?.elapsed().unwrap_or(Duration::ZERO);
        if age >= older_than {
            // Another starting writer may have removed it first.
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}
