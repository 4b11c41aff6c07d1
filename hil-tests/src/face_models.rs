//! Where the face tests and tools find dlib's models, our converted weight files and the
//! reference data the scripts write, and what they do when a file is not there.

use std::path::PathBuf;

/// `$SHIKAKU_FACE_MODELS`, else the workspace's `target/face-models` (scripts/face-models.sh).
pub fn models_dir() -> PathBuf {
    std::env::var_os("SHIKAKU_FACE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/face-models"))
}

/// Reads a file a test needs, or says why the test is skipped (`None`); with
/// `SHIKAKU_REQUIRE_MODELS=1` (as scripts/test.sh runs the face tests) a missing file fails.
pub fn need(path: PathBuf, made_by: &str) -> Option<Vec<u8>> {
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => {
            let msg = format!("{}: {e}; run {made_by} first", path.display());
            if std::env::var("SHIKAKU_REQUIRE_MODELS").as_deref() == Ok("1") {
                panic!("{msg} (SHIKAKU_REQUIRE_MODELS=1)");
            }
            eprintln!("SKIPPED: {msg}");
            None
        }
    }
}
