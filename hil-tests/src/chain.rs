//! The whole chain of a reception desk, as the demo's main job runs it after the screens:
//!
//! 1. the reference eligibility service (`testkit::eligibility_service`, its database under
//!    `<out>/chain/`);
//! 2. several simulated readers on TCP ([`SimDevice`] over [`SimReader`]: the reader images' own
//!    main loop, the simulated NFC frontend and a persona's virtual card), each paired (its key
//!    in the key store as `shikaku pair` keeps it);
//! 3. the real `shikaku run` binary, its configuration listing the readers, the service, the
//!    journal, 医療機関コード `1311111111`, CP932 files and the receipt-computer folders
//!    `<out>/chain/oqs/{req,res,face}`;
//! 4. patients at the readers (one thread per reader, its receptions in sequence), one
//!    reception per persona script ([`crate::testkit::patient_step`]), each ending with its file
//!    in `face` (found through the JSON API's reader / session / seq);
//! 5. a receipt computer dropping requests into `req` (atomically: a temporary name, then the
//!    rename): the insurance-number lookups of [`crate::eligibility::seed::insured_queries`],
//!    requests for card holders by their numbers, half UTF-8 and half Shift_JIS, and one
//!    truncated request that must come back into `res` beside its `.err`;
//! 6. `shikaku run` stopped (the child killed), the readers and the service stopped; the
//!    journal stays where the configuration put it;
//! 7. a report: every reception and request against what it must end with, the counts, and
//!    the layout check of every file ([`crate::layout::check_tree`]).
//!
//! Nothing personal is printed or kept in the report: persona ids, reader serials, file
//! names and codes only.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shikaku_host::eligibility::InsuredQuery;
use shikaku_host::keystore::KeyStore;
use shikaku_host::model::QualificationValidity;
use shikaku_host::receipt::{FACE_PREFIX, REQ_PREFIX, RES_PREFIX};
use shikaku_protocol::auth::PairingKey;

use crate::eligibility::seed;
use crate::sim_device::SimDevice;
use crate::sim_reader::SimReader;
use crate::testkit::{self, Patient};
use crate::vcard::{self, persona};

/// 医療機関コード of the chain's configuration (and of every request it writes).
pub const MEDICAL_INSTITUTION_CODE: &str = "1311111111";

/// How the chain runs.
#[derive(Debug, Clone)]
pub struct ChainOptions {
    /// Simulated readers (at least 3; the receptions are spread over them).
    pub readers: usize,
    /// Everything (receptions, answers) must be over by then; the chain never waits longer.
    pub deadline: Duration,
    /// The `shikaku` binary; `None`: the one of this build profile, built (or brought up to
    /// date) with cargo when cargo is at hand.
    pub shikaku: Option<PathBuf>,
    /// Print a line per reception and request as they end (persona ids and codes only).
    pub progress: bool,
}

impl Default for ChainOptions {
    fn default() -> Self {
        Self { readers: 4, deadline: Duration::from_secs(150), shikaku: None, progress: false }
    }
}

/// How the patient confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Pin,
    Face,
    /// Face, and the patient declines the 初回登録 offer.
    FaceNoRegistration,
    /// iPhone: confirmed on the phone.
    Phone,
}

/// How long a patient looks at a screen before acting on it. Deliberately quick: the reader
/// does not depend on the patient being slower than the host's answer about the card's
/// registration — it waits for that answer itself (shown deterministically by the firmware's
/// `a_patient_quicker_than_the_registration_answer_waits_for_it_and_is_offered_registration`).
pub const PATIENT_PAUSE_MS: u64 = 50;

/// What a reception must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A face file with `SegmentOfResult` 1 and this `QualificationValidity`.
    Validity(QualificationValidity),
    /// A face file with `SegmentOfResult` 9 (the eligibility service refused).
    Abnormal,
    /// The reader refuses the card itself (certificate past the grace period): no identity
    /// leaves it, so no reception and no face file.
    RefusedAtReader,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Validity(v) => write!(f, "validity {}", v.code()),
            Expected::Abnormal => write!(f, "SegmentOfResult 9"),
            Expected::RefusedAtReader => write!(f, "refused at the reader"),
        }
    }
}

/// One scripted reception.
#[derive(Debug, Clone, Copy)]
pub struct Visit {
    pub persona: &'static str,
    pub flow: Flow,
    pub expected: Expected,
    /// Why this one is in the chain.
    pub what: &'static str,
}

/// The receptions of the chain, in the order they are dealt to the readers (reception `i` goes
/// to reader `i % readers`, each reader taking its own in sequence).
pub fn visits() -> Vec<Visit> {
    use Expected::{Abnormal, RefusedAtReader, Validity};
    use QualificationValidity::{InvalidNewerExists, MultipleMatches, NotFound, Valid};
    let v = |persona, flow, expected, what| Visit { persona, flow, expected, what };
    vec![
        v("yamada", Flow::Pin, Validity(Valid), "PIN, card signature"),
        v("takasaki", Flow::Face, Validity(Valid), "face; name outside JIS X 0208"),
        v("fixture", Flow::Face, Validity(Valid), "face; the real test card's certificate"),
        v("android", Flow::Pin, Validity(MultipleMatches), "Android: PIN on the reader, two qualifications"),
        v("expiring", Flow::Face, Validity(Valid), "certificate expiring (notice dismissed)"),
        v(
            "locked",
            Flow::Face,
            Validity(InvalidNewerExists),
            "PIN locked: face; lost, a newer qualification",
        ),
        v("lasttry", Flow::Pin, Validity(Valid), "PIN with one try left (confirmed)"),
        v("iphone", Flow::Phone, Validity(NotFound), "iPhone: confirmed on the phone, nobody insured"),
        v("expired", Flow::Face, Validity(Valid), "certificate in its grace period: eligibility only"),
        v("lapsed", Flow::Face, RefusedAtReader, "certificate past the grace period"),
        // Reader 3 (every 4th from the 11th) takes both of the unregistered card's receptions,
        // in this order.
        v(
            "faceonly",
            Flow::FaceNoRegistration,
            Abnormal,
            "unregistered card, 初回登録 declined: the service refuses (618)",
        ),
        v("yamada", Flow::Face, Validity(Valid), "face"),
        v("takasaki", Flow::Pin, Validity(Valid), "PIN"),
        v("expiring", Flow::Pin, Validity(Valid), "certificate expiring, PIN"),
        v("faceonly", Flow::Face, Validity(Valid), "PIN-less card, 初回登録 accepted"),
        v("yamada", Flow::Face, Validity(Valid), "face again (another session)"),
        v("takasaki", Flow::Face, Validity(Valid), "face again"),
        v("locked", Flow::Face, Validity(InvalidNewerExists), "face again"),
        v("expired", Flow::Pin, Validity(Valid), "grace period, PIN"),
    ]
}

/// What became of one reception.
#[derive(Debug, Clone)]
pub struct ReceptionResult {
    pub persona: String,
    pub reader: String,
    pub flow: Flow,
    pub expected: Expected,
    /// `reader-session-seq` of the reception at the host, if one arrived.
    pub reception: Option<String>,
    /// The file in `face` (name only).
    pub face_file: Option<String>,
    pub segment: Option<String>,
    pub validity: Option<String>,
    /// `ErrorCode` of the face file (with `SegmentOfResult` 9).
    pub error_code: Option<String>,
    pub ok: bool,
    /// Why not, or what else happened.
    pub note: String,
}

/// What became of one request.
#[derive(Debug, Clone)]
pub struct RequestResult {
    pub label: String,
    /// The request file's name.
    pub file: String,
    /// `UTF-8`, `Shift_JIS`, or `truncated`.
    pub encoding: &'static str,
    /// The expected `QualificationValidity` code, or `.err` for the unreadable one.
    pub expected: String,
    /// What came back: the `QualificationValidity` of the answer, `.err`, or what is missing.
    pub got: String,
    pub ok: bool,
}

/// The layout check's findings.
#[derive(Debug, Clone, Default)]
pub struct LayoutSummary {
    /// Whether the check ran.
    pub ran: bool,
    pub face: usize,
    pub res: usize,
    pub err: usize,
    /// (file, what is wrong).
    pub violations: Vec<(PathBuf, String)>,
}

/// Everything the chain did.
#[derive(Debug, Clone)]
pub struct ChainReport {
    pub receptions: Vec<ReceptionResult>,
    pub requests: Vec<RequestResult>,
    /// `OQSsiquc01res_face_*.xml` in `face` at the end.
    pub face_files: usize,
    /// `OQSsiquc01res_*.xml` in `res` at the end.
    pub res_answers: usize,
    /// `.err` files in `res` at the end.
    pub err_files: usize,
    pub layout: LayoutSummary,
    pub oqs: PathBuf,
    pub journal: PathBuf,
    /// `shikaku run`'s output (not printed: it is the clinic's log).
    pub run_log: PathBuf,
    pub elapsed: Duration,
}

/// At least this many face files and answers in `res`, or the chain failed.
pub const MIN_FACE_FILES: usize = 14;
pub const MIN_RES_ANSWERS: usize = 6;

impl ChainReport {
    /// Everything that did not end as expected (empty: the chain worked).
    pub fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        for r in self.receptions.iter().filter(|r| !r.ok) {
            f.push(format!("reception {} at {}: expected {}, {}", r.persona, r.reader, r.expected, r.note));
        }
        for r in self.requests.iter().filter(|r| !r.ok) {
            f.push(format!("request {} ({}): expected {}, got {}", r.file, r.label, r.expected, r.got));
        }
        if self.face_files < MIN_FACE_FILES {
            f.push(format!("{} face files, fewer than {MIN_FACE_FILES}", self.face_files));
        }
        if self.res_answers < MIN_RES_ANSWERS {
            f.push(format!("{} answers in res, fewer than {MIN_RES_ANSWERS}", self.res_answers));
        }
        for (file, what) in &self.layout.violations {
            f.push(format!("layout: {}: {what}", file.display()));
        }
        f
    }

    pub fn ok(&self) -> bool {
        self.failures().is_empty()
    }

    /// The summary the demo prints: receptions, requests, counts, layout.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "receptions ({}):", self.receptions.len());
        for r in &self.receptions {
            let _ = writeln!(
                s,
                "  {} {:<9} {:<18} at {:<11} {:<72} SegmentOfResult {} QualificationValidity {}{}  (expected {}){}",
                if r.ok { "PASS" } else { "FAIL" },
                r.persona,
                format!("{:?}", r.flow),
                r.reader,
                r.face_file.as_deref().unwrap_or("(no face file)"),
                r.segment.as_deref().unwrap_or("-"),
                r.validity.as_deref().unwrap_or("-"),
                r.error_code.as_deref().map(|c| format!(" ErrorCode {c}")).unwrap_or_default(),
                r.expected,
                if r.note.is_empty() { String::new() } else { format!("  — {}", r.note) },
            );
        }
        let _ = writeln!(s, "requests ({}):", self.requests.len());
        for r in &self.requests {
            let _ = writeln!(
                s,
                "  {} {:<32} {:<9} expected {:<4} got {:<12} {}",
                if r.ok { "PASS" } else { "FAIL" },
                r.file,
                r.encoding,
                r.expected,
                r.got,
                r.label
            );
        }
        let _ = writeln!(
            s,
            "files: {} in face, {} answers and {} .err in res (under {}); journal {}",
            self.face_files,
            self.res_answers,
            self.err_files,
            self.oqs.display(),
            self.journal.display()
        );
        if self.layout.ran {
            let _ = writeln!(
                s,
                "layout check: {} face, {} res, {} err files checked, {} violation(s)",
                self.layout.face,
                self.layout.res,
                self.layout.err,
                self.layout.violations.len()
            );
            for (file, what) in &self.layout.violations {
                let _ = writeln!(s, "  {}: {what}", file.display());
            }
        } else {
            let _ = writeln!(s, "layout check: not run");
        }
        let _ = writeln!(s, "chain took {:.1} s", self.elapsed.as_secs_f64());
        s
    }
}

/// The layout check of every file under `oqs` (the requests given with their bytes).
fn layout_check(oqs: &Path, requests: &[(String, Vec<u8>)]) -> LayoutSummary {
    let r = crate::layout::check_tree(oqs, requests);
    LayoutSummary {
        ran: true,
        face: r.face,
        res: r.res,
        err: r.err,
        violations: r.violations.into_iter().map(|v| (v.file, v.what)).collect(),
    }
}

/// The `target/<profile>` directory of the running executable (a binary there, or a test in
/// its `deps`).
fn profile_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    Some(if dir.file_name().is_some_and(|n| n == "deps") { dir.parent()?.to_owned() } else { dir.to_owned() })
}

/// The `shikaku` binary of this build profile (`target/<profile>/shikaku`). Under cargo
/// (`cargo run`, `cargo test`) it is built or brought up to date first, so the chain never runs
/// a stale driver; without cargo an existing binary is used as it is.
pub fn shikaku_binary() -> Result<PathBuf, String> {
    let dir = profile_dir().ok_or("cannot tell where this executable lives")?;
    let bin = dir.join("shikaku");
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug").to_owned();
    let cargo = std::env::var("CARGO").ok();
    if cargo.is_some() || !bin.exists() {
        let mut cmd = Command::new(cargo.unwrap_or_else(|| "cargo".into()));
        cmd.args(["build", "-q", "-p", "shikaku-host", "--bin", "shikaku"]);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let status = cmd.status();
        if !bin.exists() {
            return Err(format!(
                "building the shikaku binary failed ({status:?}): {} is missing",
                bin.display()
            ));
        }
        if !status.as_ref().is_ok_and(|s| s.success()) {
            eprintln!("chain: building shikaku did not succeed ({status:?}); using {}", bin.display());
        }
    }
    Ok(bin)
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// `GET path` on the loopback API; the body, or `None`.
fn http_get(addr: &str, path: &str) -> Option<String> {
    let sock: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut body = Vec::new();
    s.read_to_end(&mut body).ok()?;
    let body = String::from_utf8_lossy(&body).into_owned();
    body.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

/// (session, seq, settled) of every reception of `reader` on the API; `None` if the API did
/// not answer. Settled: the eligibility answer or an error code is there.
fn receptions_of(api: &str, reader: &str) -> Option<Vec<(u64, u64, bool)>> {
    let body = http_get(api, "/receptions?since=0")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(
        v.as_array()?
            .iter()
            .filter(|r| r["reader"] == reader)
            .map(|r| {
                let settled = !r["eligibility"].is_null() || !r["error_code"].is_null();
                (r["session"].as_u64().unwrap_or(0), r["seq"].as_u64().unwrap_or(0), settled)
            })
            .collect(),
    )
}

/// The text of the first `<tag>…</tag>` in `bytes` (the tags and codes are ASCII in UTF-8 and
/// in Shift_JIS alike).
fn element(bytes: &[u8], tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let at = find(bytes, open.as_bytes())? + open.len();
    let len = find(&bytes[at..], close.as_bytes())?;
    Some(String::from_utf8_lossy(&bytes[at..at + len]).trim().to_owned())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The face file whose `ArbitraryFileIdentifier` is `id`, with its bytes.
fn face_file_of(face: &Path, id: &str) -> Option<(String, Vec<u8>)> {
    let want = format!("<ArbitraryFileIdentifier>{id}</ArbitraryFileIdentifier>");
    for e in std::fs::read_dir(face).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(FACE_PREFIX) && name.ends_with(".xml")) {
            continue;
        }
        if let Ok(bytes) = std::fs::read(e.path()) {
            if find(&bytes, want.as_bytes()).is_some() {
                return Some((name, bytes));
            }
        }
    }
    None
}

fn count_files(dir: &Path, ok: impl Fn(&str) -> bool) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().filter(|e| ok(&e.file_name().to_string_lossy())).count())
        .unwrap_or(0)
}

/// Kills `shikaku run` however the chain ends.
struct RunGuard(Child);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One reader's patients, in sequence: each reception scripted to its end, then found at the
/// host.
fn serve_patients(
    reader: Arc<Mutex<SimReader>>,
    serial: String,
    api: String,
    face: PathBuf,
    visits: Vec<Visit>,
    deadline: Instant,
    progress: bool,
) -> Vec<ReceptionResult> {
    let mut out = Vec::new();
    // What the host already has from this reader (nothing, on a fresh journal).
    let mut known: Vec<(u64, u64)> = Vec::new();
    for visit in visits {
        let result = one_reception(&reader, &serial, &api, &face, &visit, deadline, &mut known);
        if progress {
            println!(
                "  chain: {} {} ({:?}) at {}: {}",
                if result.ok { "ok  " } else { "FAIL" },
                result.persona,
                result.flow,
                result.reader,
                result.face_file.as_deref().unwrap_or(if result.note.is_empty() {
                    "-"
                } else {
                    &result.note
                })
            );
        }
        out.push(result);
    }
    out
}

fn one_reception(
    reader: &Arc<Mutex<SimReader>>,
    serial: &str,
    api: &str,
    face: &Path,
    visit: &Visit,
    deadline: Instant,
    known: &mut Vec<(u64, u64)>,
) -> ReceptionResult {
    let mut result = ReceptionResult {
        persona: visit.persona.to_owned(),
        reader: serial.to_owned(),
        flow: visit.flow,
        expected: visit.expected,
        reception: None,
        face_file: None,
        segment: None,
        validity: None,
        error_code: None,
        ok: false,
        note: String::new(),
    };
    // The card of the persona, issued as of today.
    let Some(p) = persona::find(visit.persona) else {
        result.note = "no such built-in persona".into();
        return result;
    };
    let patient = match visit.flow {
        Flow::Pin => match p.pin.as_deref().and_then(|pin| <[u8; 4]>::try_from(pin.as_bytes()).ok()) {
            Some(pin) => Patient::Pin(pin),
            None => {
                result.note = "the persona has no 4-digit PIN".into();
                return result;
            }
        },
        Flow::Face => Patient::Face { score_milli: 900, register: true },
        Flow::FaceNoRegistration => Patient::Face { score_milli: 900, register: false },
        Flow::Phone => Patient::Phone,
    };
    let card = match vcard::build(&p) {
        Ok((card, _)) => card,
        Err(e) => {
            result.note = format!("card not built: {e}");
            return result;
        }
    };
    let screens_before = match reader.lock() {
        Ok(mut r) => {
            r.set_card(card);
            r.screens().len()
        }
        Err(_) => {
            result.note = "reader poisoned".into();
            return result;
        }
    };
    // The patient, until the reader has finished and the card is taken.
    let mut done = false;
    let reception_deadline = deadline.min(Instant::now() + Duration::from_secs(60));
    while !done && Instant::now() < reception_deadline {
        let acted = match reader.lock() {
            Ok(mut r) => testkit::patient_step(&mut r, &patient, &mut done).is_some(),
            Err(_) => false,
        };
        // A person's pace: a moment to read each screen before acting.
        std::thread::sleep(Duration::from_millis(if acted { PATIENT_PAUSE_MS } else { 20 }));
    }
    if !done {
        let phase = reader.lock().map(|r| format!("{:?}", r.session.phase())).unwrap_or_default();
        result.note = format!("the reader never finished (phase {phase})");
        // Take the card away for the next patient.
        if let Ok(mut r) = reader.lock() {
            r.event(shikaku_protocol::Instant::ZERO, shikaku_firmware::session::Event::CardRemoved);
        }
        return result;
    }
    let screens: Vec<String> = reader
        .lock()
        .map(|r| {
            r.screens()[screens_before.min(r.screens().len())..]
                .iter()
                .map(crate::render::screen_name)
                .collect()
        })
        .unwrap_or_default();
    let refused_on_screen = screens.iter().any(|s| s == "CertExpiredRefused");
    // The reception at the host: a new one from this reader, settled.
    let wait_for = if visit.expected == Expected::RefusedAtReader {
        // Nothing should come: look for a while all the same.
        Instant::now() + Duration::from_secs(2)
    } else {
        deadline.min(Instant::now() + Duration::from_secs(30))
    };
    let mut found = None;
    while Instant::now() < wait_for && found.is_none() {
        if let Some(list) = receptions_of(api, serial) {
            found = list.into_iter().find(|(s, q, settled)| *settled && !known.contains(&(*s, *q)));
        }
        if found.is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let Some((session, seq, _)) = found else {
        if visit.expected == Expected::RefusedAtReader {
            result.ok = refused_on_screen;
            result.note = if refused_on_screen {
                "reader showed the 資格確認書 guidance; nothing sent to the service".into()
            } else {
                "no refusal screen at the reader".into()
            };
        } else {
            result.note = "no settled reception at the host".into();
        }
        return result;
    };
    known.push((session, seq));
    let id = format!("{serial}-{session}-{seq}");
    result.reception = Some(id.clone());
    // Its file in `face` (written right after the answer; allow a moment).
    let file_deadline = deadline.min(Instant::now() + Duration::from_secs(10));
    let mut file = face_file_of(face, &id);
    while file.is_none() && Instant::now() < file_deadline {
        std::thread::sleep(Duration::from_millis(100));
        file = face_file_of(face, &id);
    }
    let Some((name, bytes)) = file else {
        result.note = format!("reception {id} has no face file");
        return result;
    };
    result.face_file = Some(name);
    result.segment = element(&bytes, "SegmentOfResult");
    result.validity = element(&bytes, "QualificationValidity");
    result.error_code = element(&bytes, "ErrorCode");
    result.ok = match visit.expected {
        Expected::Validity(v) => {
            result.segment.as_deref() == Some("1") && result.validity.as_deref() == Some(v.code())
        }
        Expected::Abnormal => result.segment.as_deref() == Some("9"),
        Expected::RefusedAtReader => false,
    };
    if !result.ok {
        let got = match visit.expected {
            Expected::RefusedAtReader => format!("the host got reception {id}"),
            _ => format!(
                "got SegmentOfResult {} QualificationValidity {}{}",
                result.segment.as_deref().unwrap_or("-"),
                result.validity.as_deref().unwrap_or("-"),
                result.error_code.as_deref().map(|c| format!(" ErrorCode {c}")).unwrap_or_default()
            ),
        };
        result.note = format!("{got}; reader screens: {}", screens.join(" "));
    }
    result
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The request XML a receipt computer writes for `q` (照会区分 2), labelled `encoding_label`.
pub fn request_xml(q: &InsuredQuery, identifier: &str, encoding_label: &str) -> String {
    let opt = |tag: &str, v: &Option<String>| match v {
        Some(v) => format!("      <{tag}>{}</{tag}>\n", xml_escape(v)),
        None => String::new(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"{encoding_label}\" standalone=\"no\"?>\n<XmlMsg>\n  <MessageHeader>\n    <QualificationConfirmationDate>{}</QualificationConfirmationDate>\n    <MedicalInstitutionCode>{MEDICAL_INSTITUTION_CODE}</MedicalInstitutionCode>\n    <ArbitraryFileIdentifier>{identifier}</ArbitraryFileIdentifier>\n  </MessageHeader>\n  <MessageBody>\n    <QualificationConfirmSearchInfo>\n      <InsurerNumber>{}</InsurerNumber>\n{}      <InsuredIdentificationNumber>{}</InsuredIdentificationNumber>\n{}      <Birthdate>{}</Birthdate>\n      <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\n    </QualificationConfirmSearchInfo>\n  </MessageBody>\n</XmlMsg>\n",
        xml_escape(&q.date),
        xml_escape(&q.insurer_number),
        opt("InsuredCardSymbol", &q.symbol),
        xml_escape(&q.number),
        opt("InsuredBranchNumber", &q.branch),
        xml_escape(&q.birth_date),
    )
}

/// One request the receipt computer writes.
struct Req {
    label: String,
    id: String,
    bytes: Vec<u8>,
    encoding: &'static str,
    /// The `QualificationValidity` code expected, or `None`: unreadable (`.err`).
    expected: Option<&'static str>,
}

impl Req {
    fn file_name(&self) -> String {
        format!("{REQ_PREFIX}{}.xml", self.id)
    }
}

/// Lookups of card holders by the numbers of their qualifications (`persona`, qualification
/// index, expected validity, label).
fn card_holder_queries(today: persona::Date) -> Vec<(String, InsuredQuery, QualificationValidity)> {
    use QualificationValidity::{InvalidNewerExists, NotFound, Valid};
    let cases: [(&str, usize, QualificationValidity, &str); 6] = [
        ("yamada", 0, Valid, "card holder yamada by numbers"),
        ("takasaki", 0, Valid, "card holder takasaki by numbers (6-digit 国保, padded)"),
        ("expired", 0, Valid, "card holder expired by numbers (6-digit 国保)"),
        ("locked", 0, InvalidNewerExists, "card holder locked: the lost qualification"),
        ("locked", 1, NotFound, "card holder locked: the one not yet acquired"),
        ("android", 1, Valid, "card holder android: one of two by numbers"),
    ];
    let mut out = Vec::new();
    for (id, i, expected, label) in cases {
        let (Some(p), Some(h)) = (persona::find(id), seed::card_holder(id, today)) else { continue };
        let Some(q) = h.qualifications.get(i) else { continue };
        // Takasaki's 6-digit 国保 number right-aligned with spaces, as the files carry it;
        // the other one as 6 digits.
        let insurer =
            if id == "takasaki" { format!("  {}", q.insurer_number) } else { q.insurer_number.clone() };
        out.push((
            label.to_owned(),
            InsuredQuery {
                insurer_number: insurer,
                symbol: q.symbol.clone(),
                number: q.number.clone(),
                branch: q.branch.clone(),
                birth_date: p.birth_date.yyyymmdd(),
                date: today.yyyymmdd(),
            },
            expected,
        ));
    }
    out
}

/// Every request of the chain: the seed's insurance-number lookups, the card holders, one
/// truncated file; UTF-8 and Shift_JIS alternately.
fn requests(today: persona::Date) -> Vec<Req> {
    let mut all: Vec<(String, InsuredQuery, QualificationValidity)> =
        seed::insured_queries(today).into_iter().map(|c| (c.label.to_owned(), c.query, c.expected)).collect();
    all.extend(card_holder_queries(today));
    let mut out = Vec::new();
    for (i, (label, q, expected)) in all.into_iter().enumerate() {
        let sjis = i % 2 == 1;
        let id = format!("chain{:02}{}", i + 1, if sjis { "s" } else { "u" });
        let (bytes, encoding) = if sjis {
            let text = request_xml(&q, &id, "Shift_JIS");
            let (b, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
            if unmappable {
                // Not representable in Shift_JIS: sent in UTF-8 instead.
                (request_xml(&q, &id, "UTF-8").into_bytes(), "UTF-8")
            } else {
                (b.into_owned(), "Shift_JIS")
            }
        } else {
            (request_xml(&q, &id, "UTF-8").into_bytes(), "UTF-8")
        };
        out.push(Req { label, id, bytes, encoding, expected: Some(expected.code()) });
    }
    // A request cut off half-way (the receipt computer crashed while writing it in place).
    if let Some((_, q, _)) = card_holder_queries(today).into_iter().next() {
        let id = "chain99broken".to_owned();
        let full = request_xml(&q, &id, "UTF-8").into_bytes();
        out.push(Req {
            label: "a request cut off half-way (truncated XML)".into(),
            id,
            bytes: full[..full.len() / 2].to_vec(),
            encoding: "truncated",
            expected: None,
        });
    }
    out
}

/// Writes `req` into `dir` as the receipt computer should: a temporary name, then the rename.
fn drop_request(dir: &Path, req: &Req) -> Result<(), String> {
    let tmp = dir.join(format!(".chain-tmp-{}", req.id));
    std::fs::write(&tmp, &req.bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let dest = dir.join(req.file_name());
    std::fs::rename(&tmp, &dest).map_err(|e| format!("{}: {e}", dest.display()))
}

/// What came back for `req` in `res`, if anything yet.
fn answer_of(res: &Path, req: &Req) -> Option<String> {
    let answer = res.join(format!("{RES_PREFIX}{}.xml", req.id));
    let err = res.join(format!("{REQ_PREFIX}{}.err", req.id));
    if let Ok(bytes) = std::fs::read(&answer) {
        return Some(element(&bytes, "QualificationValidity").unwrap_or_else(|| {
            format!(
                "no validity (ProcessingResultStatus {}, code {})",
                element(&bytes, "ProcessingResultStatus").unwrap_or_default(),
                element(&bytes, "ProcessingResultCode").unwrap_or_default()
            )
        }));
    }
    if err.exists() {
        let back = res.join(req.file_name()).exists();
        return Some(if back { ".err".into() } else { ".err without the request".into() });
    }
    None
}

/// Runs the chain with its files under `out/chain` (removed first if there). `Err` only when
/// the chain could not be set up at all; what did not end as expected is in the report.
pub fn run(out: &Path, opts: &ChainOptions) -> Result<ChainReport, String> {
    let dir = out.join("chain");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("clearing {}: {e}", dir.display()))?;
    }
    let oqs = dir.join("oqs");
    for sub in ["req", "res", "face"] {
        std::fs::create_dir_all(oqs.join(sub)).map_err(|e| format!("{}: {e}", oqs.join(sub).display()))?;
    }
    let shikaku = match &opts.shikaku {
        Some(p) => p.clone(),
        None => shikaku_binary()?,
    };
    // The clock starts once the driver is built.
    let t0 = Instant::now();
    let deadline = t0 + opts.deadline;
    let readers = opts.readers.max(3);
    let today = persona::Date::today();

    // 1. The eligibility service.
    let service = testkit::eligibility_service(&dir, 0)?;

    // 2. The readers, paired.
    let key_dir = dir.join("keys");
    let mut devices = Vec::new();
    let mut serials = Vec::new();
    let first = persona::find("yamada").ok_or("built-in persona yamada")?;
    let (_, issued) = vcard::build(&first)?;
    for i in 0..readers {
        let serial: &'static str = Box::leak(format!("SK-CHAIN-{}", i + 1).into_boxed_str());
        let key = [0x40 + i as u8; 32];
        let device = SimDevice::spawn(SimReader::new(key, serial).with_persona_card(&issued))
            .map_err(|e| format!("reader {serial}: {e}"))?;
        KeyStore::new(&key_dir)
            .store(serial, &PairingKey(key))
            .map_err(|e| format!("pairing {serial}: {e}"))?;
        devices.push(device);
        serials.push(serial.to_owned());
    }

    // 3. `shikaku run`.
    let api = format!("127.0.0.1:{}", free_port()?);
    let journal = dir.join("journal.sqlite");
    let cfg_path = dir.join("config.toml");
    let readers_toml: Vec<String> = devices.iter().map(|d| format!("\"{}\"", d.endpoint())).collect();
    let toml_path = |p: &Path| p.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
    let config = format!(
        "readers = [{}]\nkey_dir = \"{}\"\neligibility_url = \"{}\"\napi_listen = \"{api}\"\njournal = \"{}\"\nmedical_institution_code = \"{MEDICAL_INSTITUTION_CODE}\"\nencoding = \"cp932\"\n\n[folders]\nface = \"{}\"\nreq = \"{}\"\nres = \"{}\"\n",
        readers_toml.join(", "),
        toml_path(&key_dir),
        service.url(),
        toml_path(&journal),
        toml_path(&oqs.join("face")),
        toml_path(&oqs.join("req")),
        toml_path(&oqs.join("res")),
    );
    std::fs::write(&cfg_path, config).map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    let run_log = dir.join("shikaku-run.log");
    let log = std::fs::File::create(&run_log).map_err(|e| format!("{}: {e}", run_log.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(&shikaku)
        .args(["--config", cfg_path.to_str().ok_or("config path is not UTF-8")?, "run"])
        .env("SHIKAKU_HOME", &dir)
        .env_remove("SHIKAKU_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .spawn()
        .map_err(|e| format!("starting {}: {e}", shikaku.display()))?;
    let mut run = RunGuard(child);

    // The driver is up once its API answers.
    let started = Instant::now();
    while http_get(&api, "/health").is_none() {
        if let Ok(Some(status)) = run.0.try_wait() {
            return Err(format!("shikaku run exited at once ({status}); see {}", run_log.display()));
        }
        if Instant::now() > deadline.min(started + Duration::from_secs(30)) {
            return Err(format!("shikaku run's API never answered on {api}; see {}", run_log.display()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // 4. The patients, one thread per reader.
    let mut per_reader: Vec<Vec<Visit>> = vec![Vec::new(); readers];
    for (i, v) in visits().into_iter().enumerate() {
        per_reader[i % readers].push(v);
    }
    let threads: Vec<_> = per_reader
        .into_iter()
        .zip(&devices)
        .zip(&serials)
        .map(|((visits, device), serial)| {
            let (reader, serial, api, face) =
                (device.reader.clone(), serial.clone(), api.clone(), oqs.join("face"));
            let progress = opts.progress;
            let fallback: Vec<ReceptionResult> = visits
                .iter()
                .map(|v| ReceptionResult {
                    persona: v.persona.to_owned(),
                    reader: serial.clone(),
                    flow: v.flow,
                    expected: v.expected,
                    reception: None,
                    face_file: None,
                    segment: None,
                    validity: None,
                    error_code: None,
                    ok: false,
                    note: "the patient thread panicked".into(),
                })
                .collect();
            let handle = std::thread::spawn(move || {
                serve_patients(reader, serial, api, face, visits, deadline, progress)
            });
            (handle, fallback)
        })
        .collect();

    // 5. The receipt computer's requests, meanwhile.
    let reqs = requests(today);
    let req_dir = oqs.join("req");
    let res_dir = oqs.join("res");
    for r in &reqs {
        drop_request(&req_dir, r)?;
    }
    let mut answers: Vec<Option<String>> = vec![None; reqs.len()];
    let answers_deadline = deadline.min(Instant::now() + Duration::from_secs(60));
    while answers.iter().any(Option::is_none) && Instant::now() < answers_deadline {
        for (a, r) in answers.iter_mut().zip(&reqs) {
            if a.is_none() {
                *a = answer_of(&res_dir, r);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let requests: Vec<RequestResult> = reqs
        .iter()
        .zip(&answers)
        .map(|(r, a)| {
            let expected = r.expected.unwrap_or(".err").to_owned();
            let got = a.clone().unwrap_or_else(|| "no answer".into());
            if opts.progress {
                println!(
                    "  chain: {} request {} ({})",
                    if got == expected { "ok  " } else { "FAIL" },
                    r.id,
                    r.encoding
                );
            }
            RequestResult {
                label: r.label.clone(),
                file: r.file_name(),
                encoding: r.encoding,
                ok: got == expected,
                expected,
                got,
            }
        })
        .collect();

    let mut receptions = Vec::new();
    for (h, fallback) in threads {
        receptions.extend(h.join().unwrap_or(fallback));
    }

    // 6. Stop everything; the journal stays where it is.
    drop(run);
    drop(devices);
    service.shutdown();

    // 7. The report.
    let face_dir = oqs.join("face");
    let face_files = count_files(&face_dir, |n| n.starts_with(FACE_PREFIX) && n.ends_with(".xml"));
    let res_answers = count_files(&res_dir, |n| n.starts_with(RES_PREFIX) && n.ends_with(".xml"));
    let err_files = count_files(&res_dir, |n| n.ends_with(".err"));
    let req_bytes: Vec<(String, Vec<u8>)> = reqs.iter().map(|r| (r.file_name(), r.bytes.clone())).collect();
    let layout = layout_check(&oqs, &req_bytes);
    Ok(ChainReport {
        receptions,
        requests,
        face_files,
        res_answers,
        err_files,
        layout,
        oqs,
        journal,
        run_log,
        elapsed: t0.elapsed(),
    })
}
