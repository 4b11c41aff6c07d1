//! The `face`, `req` and `res` folders.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::eligibility::{EligibilityError, EligibilityService, InsuredQuery};
use crate::journal::Journal;
use crate::model::{ConsentFlag, Eligibility, LimitConsent, Reception};

use super::atomic::{remove_stale_temps, sync_dir, write_atomic, WriteHook, STALE_AFTER};
use super::req::{parse_request, ReqError, MAX_REQ_BYTES};
use super::time::jst_datetime;
use super::write::{
    face_digits, render_answer, render_reception, Answer, FileEncoding, HeaderError, Referenced, WriterConfig,
};
use crate::os::unix_ms;

/// Requests the receipt computer drops into `req`.
pub const REQ_PREFIX: &str = "OQSsiquc01req_";
/// Answers in `res` (same identifier as the request) and results in `face`.
pub const RES_PREFIX: &str = "OQSsiquc01res_";
/// Results of card receptions in `face`: `OQSsiquc01res_face_<30 digits>_<YYYYMMDDHHMMSS>.xml`.
pub const FACE_PREFIX: &str = "OQSsiquc01res_face_";

/// Where the files go (serde, for the driver's configuration file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Folders {
    pub req: PathBuf,
    pub res: PathBuf,
    pub face: PathBuf,
}

impl Folders {
    /// `base/req`, `base/res`, `base/face`.
    pub fn under(base: impl AsRef<Path>) -> Self {
        let base = base.as_ref();
        Folders { req: base.join("req"), res: base.join("res"), face: base.join("face") }
    }

    pub fn create_all(&self) -> io::Result<()> {
        for d in [&self.req, &self.res, &self.face] {
            fs::create_dir_all(d)?;
        }
        Ok(())
    }
}

/// A file written, and the fields that needed character references in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub referenced: Vec<Referenced>,
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
    pub fn file_name(&self, r: &Reception) -> String {
        format!(
            "{FACE_PREFIX}{}_{}.xml",
            face_digits(r, &self.cfg.medical_institution_code),
            jst_datetime(r.verified_at)
        )
    }

    /// Writes the reception's file. Call it once the reception is settled: eligibility
    /// answered, or `error_code` set (a reception with neither is written as error `SHK0000`).
    pub fn write(&self, r: &Reception) -> io::Result<Written> {
        self.write_at(r, unix_ms())
    }

    /// As [`write`](Self::write) with the `ProcessExecutionTime` given.
    pub fn write_at(&self, r: &Reception, now_unix_ms: u64) -> io::Result<Written> {
        let rendered = render_reception(r, now_unix_ms, &self.cfg);
        let path = write_atomic(&self.dir, &self.file_name(r), &rendered.bytes, self.hook.as_ref())?;
        Ok(Written { path, referenced: rendered.referenced })
    }
}

/// Answers 照会区分 2: the eligibility service's insurance-number lookup.
pub trait InsuredLookup {
    fn lookup_insured(&self, query: &InsuredQuery) -> Result<Eligibility, EligibilityError>;
}

impl<S: EligibilityService + ?Sized> InsuredLookup for S {
    fn lookup_insured(&self, query: &InsuredQuery) -> Result<Eligibility, EligibilityError> {
        EligibilityService::lookup_insured(self, query)
    }
}

/// A lookup from a closure (tests, tools).
pub struct FnLookup<F>(pub F);

impl<F> InsuredLookup for FnLookup<F>
where
    F: Fn(&InsuredQuery) -> Result<Eligibility, EligibilityError>,
{
    fn lookup_insured(&self, query: &InsuredQuery) -> Result<Eligibility, EligibilityError> {
        (self.0)(query)
    }
}

/// What one pass over `req` did.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Answers written to `res`.
    pub answered: Vec<PathBuf>,
    /// Unreadable requests put back into `res` beside their `.err`: the request's new path, why.
    pub returned: Vec<(PathBuf, ReqError)>,
    /// Requests left in `req` because the eligibility service cannot be reached.
    pub waiting: Vec<(PathBuf, EligibilityError)>,
    /// Requests still being written (modified too recently), left for the next pass.
    pub settling: usize,
    /// File-system errors; the request stays in `req` and is retried on the next pass.
    pub io_errors: Vec<(PathBuf, String)>,
}

/// A request waiting for the eligibility service.
#[derive(Debug, Clone)]
struct Waiting {
    attempts: u32,
    next: Instant,
}

/// Watches `req` for `OQSsiquc01req_<id>.xml` and answers each into `res` as
/// `OQSsiquc01res_<id>.xml`.
///
/// * A readable request is looked up with the eligibility service (照会区分 2) and answered with
///   the state on its 資格確認日; a request with a missing or malformed field is answered with
///   `ProcessingResultStatus` 2 and a `ProcessingResultCode` naming the field.
/// * While the service cannot be reached the request **stays in `req`** (a file is the durable
///   queue: it survives a crash or a restart), is retried with a doubling pause, and the reason
///   is kept in the journal for the JSON API and `doctor`. It is never answered from old data.
/// * An unreadable request is put back into `res` under its own name with a same-named `.err`
///   beside it holding the reason (written first, so a receipt computer that sees the request
///   in `res` finds the reason there): the terminal's convention, which receipt computers wait
///   for.
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
    waiting: HashMap<PathBuf, Waiting>,
    journal: Option<Journal>,
    retry_initial: Duration,
    retry_max: Duration,
}

impl ReqWatcher {
    pub fn new(folders: Folders, cfg: WriterConfig) -> io::Result<Self> {
        folders.create_all()?;
        remove_stale_temps(&folders.res, STALE_AFTER)?;
        Ok(ReqWatcher {
            folders,
            cfg,
            settle: Duration::from_millis(500),
            hook: None,
            seen: HashMap::new(),
            waiting: HashMap::new(),
            journal: None,
            retry_initial: Duration::from_secs(2),
            retry_max: Duration::from_secs(60),
        })
    }

    /// How long a request must stay unchanged before it is read (default 500 ms).
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Pause before asking the service again for a waiting request: `initial`, doubling up to
    /// `max` (default 2 s → 60 s).
    pub fn retry(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_initial = initial;
        self.retry_max = max;
        self
    }

    /// Keeps the waiting requests and their reasons in `journal` (read by the JSON API and
    /// `doctor`).
    pub fn with_journal(mut self, journal: Journal) -> Self {
        self.journal = Some(journal);
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
    pub fn poll_once(&mut self, lookup: &dyn InsuredLookup) -> PollReport {
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
        let gone: Vec<PathBuf> = self.waiting.keys().filter(|p| !present.contains(p)).cloned().collect();
        for p in gone {
            // Taken away by the receipt computer (it gave up): nothing to answer any more.
            self.waiting.remove(&p);
            self.forget_waiting(&p);
        }
        let now = Instant::now();
        for (name, path, meta) in requests {
            if !self.settled(&path, &meta) {
                report.settling += 1;
                continue;
            }
            if self.waiting.get(&path).is_some_and(|w| w.next > now) {
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
        &mut self,
        name: &str,
        id: &str,
        path: &Path,
        lookup: &dyn InsuredLookup,
        report: &mut PollReport,
    ) -> io::Result<()> {
        // Never more than the parser accepts (+1 so it can say "too large").
        let mut bytes = Vec::new();
        fs::File::open(path)?.take(MAX_REQ_BYTES as u64 + 1).read_to_end(&mut bytes)?;
        let res_name = format!("{RES_PREFIX}{id}.xml");
        let now = unix_ms();
        let req = match parse_request(&bytes) {
            Ok(req) => req,
            Err(err) => {
                let moved = self.put_back(name, path, &err)?;
                report.returned.push((moved, err));
                return Ok(());
            }
        };
        let rendered = match req.lookup() {
            Err(problem) => {
                let message = problem.to_string();
                render_answer(
                    &req,
                    Answer::Refused { code: problem.code(), message: &message },
                    now,
                    &self.cfg,
                )
            }
            Ok(l) => match lookup.lookup_insured(&l.query) {
                Ok(mut e) => {
                    if let Some(q) = e.qualification.as_mut() {
                        // The consent of this request decides whether 限度額 data is handed over.
                        let flag = if l.limit_consent { ConsentFlag::Given } else { ConsentFlag::NotGiven };
                        q.limit_consent = Some(LimitConsent { flag, time: jst_datetime(now) });
                        if !l.limit_consent {
                            q.limit = None;
                        }
                    }
                    render_answer(&req, Answer::Answered(&e), now, &self.cfg)
                }
                Err(e) if e.is_retryable() => {
                    self.wait(path, name, req.header.arbitrary_file_identifier.as_deref(), &e);
                    report.waiting.push((path.to_owned(), e));
                    return Ok(());
                }
                Err(e) => {
                    let header =
                        HeaderError { code: format!("SHK{:04}", e.code.code()), message: e.staff_message() };
                    render_answer(&req, Answer::Failed(&header), now, &self.cfg)
                }
            },
        };
        let out = write_atomic(&self.folders.res, &res_name, &rendered.bytes, self.hook.as_ref())?;
        fs::remove_file(path)?;
        sync_dir(&self.folders.req);
        if self.waiting.remove(path).is_some() {
            self.forget_waiting(path);
        }
        report.answered.push(out);
        Ok(())
    }

    fn wait(&mut self, path: &Path, name: &str, identifier: Option<&str>, e: &EligibilityError) {
        let attempts = self.waiting.get(path).map_or(1, |w| w.attempts + 1);
        let pause =
            self.retry_initial.saturating_mul(1u32 << attempts.saturating_sub(1).min(16)).min(self.retry_max);
        self.waiting.insert(path.to_owned(), Waiting { attempts, next: Instant::now() + pause });
        if let Some(j) = &mut self.journal {
            if let Err(err) = j.request_waiting(name, identifier, attempts, e.code.code(), &e.staff_message())
            {
                tracing::warn!(error = %err, "journal: could not note a waiting request");
            }
        }
    }

    fn forget_waiting(&mut self, path: &Path) {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return };
        if let Some(j) = &mut self.journal {
            if let Err(err) = j.request_done(name) {
                tracing::warn!(error = %err, "journal: could not clear a waiting request");
            }
        }
    }

    /// Puts an unreadable request back into `res` under its own name, after writing the
    /// reason into `<name without .xml>.err` there.
    fn put_back(&self, name: &str, path: &Path, err: &ReqError) -> io::Result<PathBuf> {
        let dir = &self.folders.res;
        let base = name.strip_suffix(".xml").or_else(|| name.strip_suffix(".XML")).unwrap_or(name);
        let reason = format!("{}\r\n{err}\r\n", err.code());
        let reason = match self.cfg.encoding {
            FileEncoding::Utf8 => reason.into_bytes(),
            FileEncoding::Cp932 | FileEncoding::Jis0208 => {
                encoding_rs::SHIFT_JIS.encode(&reason).0.into_owned()
            }
        };
        write_atomic(dir, &format!("{base}.err"), &reason, None)?;
        let dest = dir.join(name);
        if fs::rename(path, &dest).is_err() {
            // Another file system, or a stale copy in the way (Windows will not replace):
            // copy durably, then remove.
            let bytes = fs::read(path)?;
            write_atomic(dir, name, &bytes, None)?;
            fs::remove_file(path)?;
        }
        sync_dir(dir);
        sync_dir(&self.folders.req);
        Ok(dest)
    }

    /// Polls every `interval` until `stop` is set, logging what each pass did.
    pub fn run(&mut self, lookup: &dyn InsuredLookup, stop: &AtomicBool, interval: Duration) {
        while !stop.load(Ordering::Relaxed) {
            let report = self.poll_once(lookup);
            for path in &report.answered {
                tracing::info!(answer = %path.display(), "request answered");
            }
            for (path, err) in &report.returned {
                tracing::warn!(returned_to = %path.display(), code = err.code(), error = %err, "request unreadable");
            }
            for (path, err) in &report.waiting {
                tracing::warn!(path = %path.display(), error = %err, "eligibility service unreachable: request waits");
            }
            for (path, err) in &report.io_errors {
                tracing::warn!(path = %path.display(), error = %err, "request not processed, will retry");
            }
            std::thread::sleep(interval);
        }
    }
}
