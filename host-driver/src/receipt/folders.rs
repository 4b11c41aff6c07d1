//! The `face`, `req` and `res` folders.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::model::{Eligibility, Reception};
use crate::names::FieldFlag;

use super::atomic::{remove_stale_temps, sync_dir, write_atomic, WriteHook, STALE_AFTER};
use super::req::{parse_request, QualificationRequest, ReqError, MAX_REQ_BYTES};
use super::time::jst_datetime;
use super::write::{reception_id, render_answer, render_reception, HeaderError, WriterConfig};
use crate::os::unix_ms;

/// Requests the receipt computer drops into `req`.
pub const REQ_PREFIX: &str = "OQSsiquc01req_";
/// Answers in `res` (same identifier as the request) and results in `face`.
pub const RES_PREFIX: &str = "OQSsiquc01res_";
/// Results of card receptions in `face`: `OQSsiquc01res_face_<reception>_<YYYYMMDDHHmmss>.xml`.
pub const FACE_PREFIX: &str = "OQSsiquc01res_face_";

/// Where the files go (serde, for the driver's configuration file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Folders {
    pub req: PathBuf,
    pub res: PathBuf,
    pub face: PathBuf,
    /// Request files that could not be read are moved here (with a `.error.txt` beside them),
    /// never deleted.
    pub rejected: PathBuf,
}

impl Folders {
    /// `base/req`, `base/res`, `base/face`, `base/rejected`.
    pub fn under(base: impl AsRef<Path>) -> Self {
        let base = base.as_ref();
        Folders {
            req: base.join("req"),
            res: base.join("res"),
            face: base.join("face"),
            rejected: base.join("rejected"),
        }
    }

    pub fn create_all(&self) -> io::Result<()> {
        for d in [&self.req, &self.res, &self.face, &self.rejected] {
            fs::create_dir_all(d)?;
        }
        Ok(())
    }
}

/// A file written, and the fields that had to be flagged in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub flagged: Vec<(&'static str, FieldFlag)>,
}

/// Writes each reception's result into `face`.
pub struct FaceWriter {
    dir: PathBuf,
    cfg: WriterConfig,
    hook: Option<WriteHook>,
}

impl FaceWriter {
    /// Creates the folder if needed and clears old temporary files left by a crash.
    pub fn new(dir: impl Into<PathBuf>, cfg: WriterConfig) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        remove_stale_temps(&dir, STALE_AFTER)?;
        Ok(FaceWriter { dir, cfg, hook: None })
    }

    /// Installs a failpoint between the temporary file and the rename (tests).
    pub fn with_hook(mut self, hook: WriteHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The file name for a reception. It depends only on the reception (its exactly-once key
    /// and the time it was verified), so a result delivered twice replaces its own file.
    pub fn file_name(r: &Reception) -> String {
        format!("{FACE_PREFIX}{}_{}.xml", reception_id(r), jst_datetime(r.verified_at))
    }

    /// Writes the reception's file. Call it once the reception is settled: eligibility
    /// answered, or `error_code` set (a reception with neither is written as error `SHK0000`).
    pub fn write(&self, r: &Reception) -> io::Result<Written> {
        self.write_at(r, unix_ms())
    }

    /// As [`write`](Self::write) with the `ProcessExecutionTime` given.
    pub fn write_at(&self, r: &Reception, now_unix_ms: u64) -> io::Result<Written> {
        let rendered = render_reception(r, now_unix_ms, &self.cfg);
        let path = write_atomic(&self.dir, &Self::file_name(r), &rendered.bytes, self.hook.as_ref())?;
        Ok(Written { path, flagged: rendered.flagged })
    }
}

/// Answers a request: the eligibility record, or an error for the header.
pub trait EligibilityLookup {
    fn lookup(&self, req: &QualificationRequest) -> Result<Eligibility, HeaderError>;
}

impl<F> EligibilityLookup for F
where
    F: Fn(&QualificationRequest) -> Result<Eligibility, HeaderError>,
{
    fn lookup(&self, req: &QualificationRequest) -> Result<Eligibility, HeaderError> {
        self(req)
    }
}

/// What one pass over `req` did.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Answers written to `res`.
    pub answered: Vec<PathBuf>,
    /// Requests refused: where the file was moved, and why. Each also got an error answer.
    pub rejected: Vec<(PathBuf, ReqError)>,
    /// Requests still being written (modified too recently), left for the next pass.
    pub waiting: usize,
    /// File-system errors; the request stays in `req` and is retried on the next pass.
    pub io_errors: Vec<(PathBuf, String)>,
}

/// Watches `req` for `OQSsiquc01req_<id>.xml` and answers each into `res` as
/// `OQSsiquc01res_<id>.xml`.
///
/// Polling rather than file-system notifications: these folders are often shared over SMB,
/// where notifications are unreliable, and a poll every half second is nothing to a disk.
/// A request is read once it has been left alone for `settle` (a receipt computer that writes
/// in place must not be read half-way), answered atomically, and only then removed; after a
/// crash at any point it is answered again, to the same answer file.
pub struct ReqWatcher {
    folders: Folders,
    cfg: WriterConfig,
    settle: Duration,
    hook: Option<WriteHook>,
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, Instant)>,
}

impl ReqWatcher {
    pub fn new(folders: Folders, cfg: WriterConfig) -> io::Result<Self> {
        folders.create_all()?;
        remove_stale_temps(&folders.res, STALE_AFTER)?;
        remove_stale_temps(&folders.rejected, STALE_AFTER)?;
        Ok(ReqWatcher { folders, cfg, settle: Duration::from_millis(500), hook: None, seen: HashMap::new() })
    }

    /// How long a request must stay unchanged before it is read (default 500 ms).
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    pub fn with_hook(mut self, hook: WriteHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The request identifier of a file name, if it is a request.
    pub fn request_id(file_name: &str) -> Option<&str> {
        let id = file_name.strip_prefix(REQ_PREFIX)?;
        let id = id.strip_suffix(".xml").or_else(|| id.strip_suffix(".XML"))?;
        (!id.is_empty() && !id.contains(['/', '\\'])).then_some(id)
    }

    fn settled(&mut self, path: &Path, meta: &fs::Metadata) -> bool {
        let mtime = meta.modified().ok();
        let sig = (meta.len(), mtime);
        let now = Instant::now();
        let first = match self.seen.get(path) {
            Some(&(len, m, at)) if (len, m) == sig => at,
            _ => {
                self.seen.insert(path.to_owned(), (sig.0, sig.1, now));
                now
            }
        };
        // Old enough by its own clock, or unchanged for `settle` by ours (a network share's
        // clock may be ahead of ours).
        let aged = mtime.and_then(|m| m.elapsed().ok()).is_some_and(|age| age >= self.settle);
        aged || now.duration_since(first) >= self.settle
    }

    /// One pass over `req`.
    pub fn poll_once(&mut self, lookup: &dyn EligibilityLookup) -> PollReport {
        let mut report = PollReport::default();
        let entries = match fs::read_dir(&self.folders.req) {
            Ok(e) => e,
            Err(e) => {
                report.io_errors.push((self.folders.req.clone(), e.to_string()));
                return report;
            }
        };
        let mut requests: Vec<(String, PathBuf, fs::Metadata)> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if Self::request_id(name).is_none() {
                continue;
            }
            match entry.metadata() {
                Ok(m) if m.is_file() => requests.push((name.to_owned(), entry.path(), m)),
                Ok(_) => {}
                Err(e) => report.io_errors.push((entry.path(), e.to_string())),
            }
        }
        requests.sort_by(|a, b| a.0.cmp(&b.0));
        let present: Vec<PathBuf> = requests.iter().map(|r| r.1.clone()).collect();
        self.seen.retain(|p, _| present.contains(p));
        for (name, path, meta) in requests {
            if !self.settled(&path, &meta) {
                report.waiting += 1;
                continue;
            }
            let id = Self::request_id(&name).unwrap_or_default().to_owned();
            if let Err(e) = self.handle(&name, &id, &path, lookup, &mut report) {
                report.io_errors.push((path.clone(), e.to_string()));
            }
            self.seen.remove(&path);
        }
        report
    }

    fn handle(
        &self,
        name: &str,
        id: &str,
        path: &Path,
        lookup: &dyn EligibilityLookup,
        report: &mut PollReport,
    ) -> io::Result<()> {
        // Never more than the parser accepts (+1 so it can say "too large").
        let mut bytes = Vec::new();
        fs::File::open(path)?.take(MAX_REQ_BYTES as u64 + 1).read_to_end(&mut bytes)?;
        let res_name = format!("{RES_PREFIX}{id}.xml");
        let now = unix_ms();
        match parse_request(&bytes) {
            Ok(req) => {
                let answer = lookup.lookup(&req);
                let rendered = render_answer(Some(&req), answer.as_ref(), now, &self.cfg);
                let out = write_atomic(&self.folders.res, &res_name, &rendered.bytes, self.hook.as_ref())?;
                fs::remove_file(path)?;
                sync_dir(&self.folders.req);
                report.answered.push(out);
            }
            Err(err) => {
                let header = HeaderError {
                    code: err.code().into(),
                    message: format!("要求ファイルを読めません: {err}"),
                };
                let rendered = render_answer(None, Err(&header), now, &self.cfg);
                write_atomic(&self.folders.res, &res_name, &rendered.bytes, self.hook.as_ref())?;
                let moved = self.move_aside(name, path, &err)?;
                report.rejected.push((moved, err));
            }
        }
        Ok(())
    }

    /// Moves a refused request into `rejected` under a name not yet taken, with the reason in
    /// a text file beside it.
    fn move_aside(&self, name: &str, path: &Path, err: &ReqError) -> io::Result<PathBuf> {
        let dir = &self.folders.rejected;
        let mut dest = dir.join(name);
        let mut n = 1;
        while dest.exists() {
            dest = dir.join(format!("{name}.{n}"));
            n += 1;
        }
        if fs::rename(path, &dest).is_err() {
            // Another file system: copy durably, then remove.
            let bytes = fs::read(path)?;
            let dest_name = dest.file_name().and_then(|n| n.to_str()).unwrap_or(name).to_owned();
            write_atomic(dir, &dest_name, &bytes, None)?;
            fs::remove_file(path)?;
        }
        sync_dir(dir);
        sync_dir(&self.folders.req);
        let reason_name = format!("{}.error.txt", dest.file_name().and_then(|n| n.to_str()).unwrap_or(name));
        write_atomic(dir, &reason_name, format!("{}: {err}\n", err.code()).as_bytes(), None)?;
        Ok(dest)
    }

    /// Polls every `interval` until `stop` is set, logging what each pass did.
    pub fn run(&mut self, lookup: &dyn EligibilityLookup, stop: &AtomicBool, interval: Duration) {
        while !stop.load(Ordering::Relaxed) {
            let report = self.poll_once(lookup);
            for path in &report.answered {
                tracing::info!(answer = %path.display(), "request answered");
            }
            for (path, err) in &report.rejected {
                tracing::warn!(moved_to = %path.display(), code = err.code(), error = %err, "request refused");
            }
            for (path, err) in &report.io_errors {
                tracing::warn!(path = %path.display(), error = %err, "request not processed, will retry");
            }
            std::thread::sleep(interval);
        }
    }
}
