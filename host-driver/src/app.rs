//! `shikaku run`: the driver as a reception PC runs it. Readers on their threads; for each
//! verified identity: check the reader's attestation, journal it (the evidence that a
//! マイナ保険証 was presented), ask the eligibility system (or queue it while the line is down),
//! and write the result to the receipt computer's `face` folder; answer `req` files with the
//! eligibility system's insurance-number lookup (waiting while it is down); serve the
//! same data on the loopback JSON API. Every reader gets a fresh challenge per session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use shikaku_protocol::message::{Message, Proof};

use crate::api::{ApiServer, ReceptionSource};
use crate::config::Config;
use crate::eligibility::{
    check_reader_attestation, reception_of, request_of, EligibilityService, Forwarder, HttpEligibility,
    IssuedChallenge, Outcome,
};
use crate::journal::{Journal, ReceptionKey};
use crate::keystore::KeyStore;
use crate::model::Reception;
use crate::reader::{manager, Command, HostEvent, Inbound, Keys, ManagerEvent};
use crate::receipt::{FaceWriter, Folders, ReqWatcher, WriterConfig};
use crate::transport::Endpoint;

/// What the driver reports to whoever runs it (the console, a test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    ReaderConnected {
        endpoint: String,
        serial: String,
    },
    ReaderNeedsPairing {
        endpoint: String,
        serial: String,
    },
    ReaderLost {
        endpoint: String,
        reason: String,
    },
    /// A reception was confirmed, queued or refused, and written to the `face` folder.
    Reception {
        reader: String,
        session: u32,
        outcome: String,
        face_file: Option<String>,
        /// Fields of the face file that needed character references (check the name on the
        /// receipt computer).
        references: Vec<crate::receipt::Referenced>,
    },
    /// A reader's identity did not verify (attestation): not forwarded.
    Rejected {
        reader: String,
        session: u32,
        reason: String,
    },
    /// A message from a reader the staff screen shows (errors, PIN outcome, …).
    Status {
        reader: String,
        line: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("journal: {0}")]
    Journal(String),
    #[error("receipt-computer folders: {0}")]
    Folders(std::io::Error),
    #[error("JSON API on {0}: {1}")]
    Api(String, std::io::Error),
}

/// Serves receptions from the journal to the JSON API.
struct JournalSource {
    journal: std::sync::Mutex<Journal>,
    encoding: crate::receipt::FileEncoding,
}

impl ReceptionSource for JournalSource {
    fn waiting(&self) -> Vec<crate::journal::WaitingRequest> {
        let Ok(j) = self.journal.lock() else { return Vec::new() };
        j.waiting_requests().unwrap_or_default()
    }
    fn encoding(&self) -> crate::receipt::FileEncoding {
        self.encoding
    }
    fn since(&self, since_unix_ms: u64) -> Vec<Reception> {
        let Ok(j) = self.journal.lock() else { return Vec::new() };
        let mut v: Vec<Reception> = j
            .entries()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.reception)
            .filter(|r| r.verified_at >= since_unix_ms)
            .collect();
        v.sort_by_key(|r| r.verified_at);
        v
    }
    fn get(&self, reader: &str, session: u32) -> Option<Reception> {
        let j = self.journal.lock().ok()?;
        j.entries()
            .ok()?
            .into_iter()
            .map(|e| e.reception)
            .find(|r| r.reader == reader && r.session == session)
    }
}

/// One reader's state in the driver.
#[derive(Default)]
struct ReaderState {
    serial: Option<String>,
    /// Challenges handed out, and whether each was minted here (service down).
    challenges: HashMap<[u8; 32], bool>,
}

pub struct App<S: EligibilityService> {
    forwarder: Forwarder<S>,
    face: FaceWriter,
    keys: KeyStore,
    handles: Vec<manager::ReaderHandle>,
    readers: HashMap<Endpoint, ReaderState>,
    /// Results the `face` folder could not take (disk full, share gone): written again by
    /// [`App::retry_due`]; the journal holds them meanwhile.
    unwritten: Vec<Reception>,
}

fn writer_config(config: &Config) -> WriterConfig {
    WriterConfig {
        medical_institution_code: config.medical_institution_code.clone(),
        encoding: config.encoding,
    }
}

impl<S: EligibilityService> App<S> {
    pub fn new(config: &Config, service: S) -> Result<Self, AppError> {
        if let Some(dir) = config.journal.parent() {
            std::fs::create_dir_all(dir).map_err(AppError::Folders)?;
        }
        let journal = Journal::open(&config.journal).map_err(|e| AppError::Journal(e.to_string()))?;
        let face = FaceWriter::new(&config.folders.face, writer_config(config)).map_err(AppError::Folders)?;
        Ok(Self {
            forwarder: Forwarder::new(service, journal),
            face,
            keys: KeyStore::new(&config.key_dir),
            handles: Vec::new(),
            readers: HashMap::new(),
            unwritten: Vec::new(),
        })
    }

    /// Starts a thread for each reader. `usb` (no bus/address) means every shikaku reader on
    /// USB: see [`App::poll_usb`], which follows plugging and unplugging.
    pub fn connect_readers(&mut self, endpoints: &[Endpoint], events: mpsc::Sender<ManagerEvent>) {
        for endpoint in endpoints.iter().filter(|e| **e != Endpoint::Usb(None)) {
            let dir = self.keys_dir();
            let lookup = Keys::BySerial(Box::new(move |serial: &str| KeyStore::new(&dir).lookup(serial)));
            self.handles.push(manager::spawn(endpoint.clone(), lookup, Vec::new(), events.clone()));
            self.readers.insert(endpoint.clone(), ReaderState::default());
        }
    }

    /// Hot-plug for `usb`: a thread for each shikaku reader newly on the bus; the thread of a
    /// reader gone for good is stopped (one that comes back gets a new address and a new thread).
    pub fn poll_usb(&mut self, events: &mpsc::Sender<ManagerEvent>) {
        let Ok(present) = crate::transport::list_readers() else { return };
        let present: Vec<Endpoint> =
            present.iter().map(|r| Endpoint::Usb(Some((r.bus, r.address)))).collect();
        for endpoint in &present {
            if !self.readers.contains_key(endpoint) {
                tracing::info!(%endpoint, "shikaku reader plugged in");
                self.connect_readers(std::slice::from_ref(endpoint), events.clone());
            }
        }
        let gone: Vec<Endpoint> = self
            .readers
            .keys()
            .filter(|e| matches!(e, Endpoint::Usb(Some(_))) && !present.contains(e))
            .cloned()
            .collect();
        for endpoint in gone {
            tracing::info!(%endpoint, "shikaku reader unplugged");
            self.readers.remove(&endpoint);
            self.handles.retain(|h| h.endpoint != endpoint);
        }
    }

    fn keys_dir(&self) -> std::path::PathBuf {
        self.keys.dir().to_owned()
    }

    fn handle(&self, endpoint: &Endpoint) -> Option<&manager::ReaderHandle> {
        self.handles.iter().find(|h| &h.endpoint == endpoint)
    }

    fn send_challenge(&mut self, endpoint: &Endpoint) {
        let IssuedChallenge { challenge, deferred, reason } = match self.forwarder.challenge() {
            Ok(c) => c,
            Err(e) => {
                // No challenge at all: end the reception at the reader at once rather than let
                // the patient wait for its timeout.
                tracing::error!(%endpoint, error = %e, "no challenge for the reader");
                if let Some(h) = self.handle(endpoint) {
                    h.send(Command::Cancel);
                }
                return;
            }
        };
        if let Some(r) = reason {
            tracing::warn!(%endpoint, reason = %r, "eligibility service unreachable: minted a challenge here");
        }
        if let Some(state) = self.readers.get_mut(endpoint) {
            // Keep a few; a reader uses the latest one it received.
            if state.challenges.len() > 16 {
                state.challenges.clear();
            }
            state.challenges.insert(challenge, deferred);
        }
        if let Some(h) = self.handle(endpoint) {
            h.send(Command::Challenge(challenge));
        }
    }

    /// Handles one event from the reader threads.
    pub fn on_event(&mut self, event: ManagerEvent) -> Vec<AppEvent> {
        let mut out = Vec::new();
        match event {
            ManagerEvent::Connected { .. } => {}
            ManagerEvent::Disconnected { endpoint, reason } => {
                out.push(AppEvent::ReaderLost { endpoint: endpoint.to_string(), reason });
            }
            // The application never pairs (`shikaku pair` does); logged in case it ever does.
            ManagerEvent::PairingRefused { endpoint, error } => {
                tracing::error!(%endpoint, %error, "pairing refused");
            }
            ManagerEvent::Link { endpoint, event } => match event {
                HostEvent::Secured(info) => {
                    self.readers.entry(endpoint.clone()).or_default().serial = Some(info.serial.clone());
                    out.push(AppEvent::ReaderConnected {
                        endpoint: endpoint.to_string(),
                        serial: info.serial,
                    });
                    self.send_challenge(&endpoint);
                }
                HostEvent::NeedsPairing(info) | HostEvent::KeyMismatch(info) => {
                    out.push(AppEvent::ReaderNeedsPairing {
                        endpoint: endpoint.to_string(),
                        serial: info.serial,
                    });
                }
                HostEvent::Status(m) => {
                    self.on_message(&endpoint, &m, &mut out);
                }
                // A result is acknowledged only once it is kept (journal written), so a host
                // that dies before that gets it again from the reader.
                HostEvent::Result(m) => {
                    let kept = self.on_message(&endpoint, &m, &mut out);
                    if let Some(h) = self.handle(&endpoint) {
                        h.send(if kept {
                            Command::Ack { session: m.session, seq: m.seq }
                        } else {
                            // Taken again when the reader re-sends it, until it is kept.
                            Command::NotKept { session: m.session, seq: m.seq }
                        });
                    }
                }
                // The application never pairs (`shikaku pair` does).
                HostEvent::Paired { .. } | HostEvent::PairingCode { .. } | HostEvent::PairingRefused(_) => {}
                HostEvent::AlreadyKept { session, seq } => {
                    tracing::debug!(%endpoint, session, seq, "a kept result came again: acknowledged again");
                }
                HostEvent::Rejected(e) => tracing::warn!(%endpoint, error = %e, "frame refused"),
            },
        }
        out
    }

    /// Handles one reader message; returns whether it is kept for good (a result may then be
    /// acknowledged): false only when the journal could not take an identity.
    fn on_message(&mut self, endpoint: &Endpoint, m: &Inbound, out: &mut Vec<AppEvent>) -> bool {
        let reader =
            self.readers.get(endpoint).and_then(|s| s.serial.clone()).unwrap_or_else(|| endpoint.to_string());
        let Ok(message) = m.message() else { return true };
        match message {
            Message::CertificateRead { auth_cert } => {
                let (registered, why) = self.forwarder.registration_status(auth_cert);
                if let Some(e) = why {
                    tracing::warn!(%reader, error = %e, "registration status unknown; assuming registered");
                }
                if let Some(h) = self.handle(endpoint) {
                    h.send(Command::RegistrationStatus { registered });
                }
            }
            Message::VerifiedIdentity(v) => {
                let attested = match v.proof {
                    Proof::ReaderAttestation { .. } => {
                        let key = self.keys.lookup(&reader);
                        let ok = key.is_some_and(|k| check_reader_attestation(&k, &v));
                        if !ok {
                            out.push(AppEvent::Rejected {
                                reader,
                                session: m.session,
                                reason: "reader attestation does not verify".into(),
                            });
                            // Nothing to keep; acknowledged so the reader stops re-sending.
                            return true;
                        }
                        true
                    }
                    Proof::CardSignature { .. } => false,
                };
                let challenge = match v.proof {
                    Proof::ReaderAttestation { challenge, .. } | Proof::CardSignature { challenge, .. } => {
                        challenge
                    }
                };
                let deferred = self
                    .readers
                    .get(endpoint)
                    .and_then(|s| s.challenges.get(&challenge).copied())
                    .unwrap_or(false);
                let reception = reception_of(&reader, m.session, m.seq, &v);
                let key = ReceptionKey::of(&reception);
                let request = request_of(&key, &v, attested, deferred);
                match self.forwarder.submit(&reception, &request) {
                    Ok(outcome) => self.after_outcome(reception, outcome, out),
                    Err(e) => {
                        // Not journalled: not acknowledged; the reader sends it again.
                        out.push(AppEvent::Rejected { reader, session: m.session, reason: e.to_string() });
                        return false;
                    }
                }
            }
            Message::CardRemoved => {
                // The session is over: a fresh challenge for the next card.
                self.send_challenge(endpoint);
            }
            Message::Error { code, remedy, .. } => {
                out.push(AppEvent::Status { reader, line: format!("error E{} ({remedy:?})", code.0) })
            }
            Message::PinOutcome { result, tries_left } => out
                .push(AppEvent::Status { reader, line: format!("PIN {result:?}, {tries_left} tries left") }),
            Message::VisualModeStarted { staff_account } => {
                out.push(AppEvent::Status { reader, line: format!("目視 unlocked by {staff_account}") })
            }
            Message::VisualUnlockFailed { failures, locked_for_ms } => out.push(AppEvent::Status {
                reader,
                line: format!("目視 passcode wrong ({failures} failures, {} s wait)", locked_for_ms / 1000),
            }),
            Message::CertExpiryNotice { expiry } => {
                out.push(AppEvent::Status { reader, line: format!("certificate {expiry:?}") })
            }
            _ => {}
        }
        true
    }

    fn after_outcome(&mut self, mut reception: Reception, outcome: Outcome, out: &mut Vec<AppEvent>) {
        let label = match &outcome {
            Outcome::Confirmed(answer) => {
                reception.eligibility = Some(answer.eligibility.clone());
                format!("confirmed (資格有効性 {})", answer.eligibility.validity.code())
            }
            Outcome::Queued(e) => {
                reception.error_code = Some(e.code.code());
                format!("queued: {}", e.staff_message())
            }
            Outcome::Refused(e) => {
                reception.error_code = Some(e.code.code());
                format!("refused: {} — {}", e.staff_message(), e.detail)
            }
            Outcome::Duplicate(_) => {
                out.push(AppEvent::Reception {
                    reader: reception.reader.clone(),
                    session: reception.session,
                    outcome: "duplicate (already recorded)".into(),
                    face_file: None,
                    references: Vec::new(),
                });
                return;
            }
        };
        let (face_file, references) = match self.face.write(&reception) {
            Ok(w) => {
                let key = ReceptionKey::of(&reception);
                if let Err(e) = self.forwarder.journal().note_receipt_references(&key, &w.referenced) {
                    tracing::warn!(error = %e, "journal: could not keep the character-reference flag");
                }
                (Some(w.path.display().to_string()), w.referenced)
            }
            Err(e) => {
                tracing::error!(error = %e, "writing the face folder failed; the journal keeps the reception, written again later");
                self.unwritten.retain(|r| {
                    (r.reader.as_str(), r.session, r.seq)
                        != (reception.reader.as_str(), reception.session, reception.seq)
                });
                self.unwritten.push(reception.clone());
                (None, Vec::new())
            }
        };
        out.push(AppEvent::Reception {
            reader: reception.reader,
            session: reception.session,
            outcome: label,
            face_file,
            references,
        });
    }

    /// Re-sends queued eligibility requests that are due and writes their results; writes the
    /// results the `face` folder could not take before.
    pub fn retry_due(&mut self) -> Vec<AppEvent> {
        let mut out = Vec::new();
        for reception in std::mem::take(&mut self.unwritten) {
            match self.face.write(&reception) {
                Ok(w) => out.push(AppEvent::Reception {
                    reader: reception.reader.clone(),
                    session: reception.session,
                    outcome: "written to the face folder after it recovered".into(),
                    face_file: Some(w.path.display().to_string()),
                    references: w.referenced,
                }),
                Err(_) => self.unwritten.push(reception),
            }
        }
        let Ok(done) = self.forwarder.retry_due(crate::os::unix_ms()) else { return out };
        for (key, outcome) in done {
            if let Ok(Some(entry)) = self.forwarder.journal().get(&key) {
                if !matches!(outcome, Outcome::Queued(_)) {
                    self.after_outcome(entry.reception, outcome, &mut out);
                }
            }
        }
        out
    }
}

/// Runs the driver until `stop`: readers, eligibility, folders, JSON API.
pub fn run(config: &Config, stop: &AtomicBool, mut report: impl FnMut(&AppEvent)) -> Result<(), AppError> {
    let service = HttpEligibility::new(&config.eligibility_url);
    let mut app = App::new(config, service)?;
    let folders = Folders {
        req: config.folders.req.clone(),
        res: config.folders.res.clone(),
        face: config.folders.face.clone(),
    };
    folders.create_all().map_err(AppError::Folders)?;

    let api_source = Arc::new(JournalSource {
        journal: std::sync::Mutex::new(
            Journal::open(&config.journal).map_err(|e| AppError::Journal(e.to_string()))?,
        ),
        encoding: config.encoding,
    });
    let addr = config
        .api_listen
        .parse()
        .map_err(|_| AppError::Api(config.api_listen.clone(), std::io::Error::other("not an address")))?;
    let api = ApiServer::start(addr, api_source).map_err(|e| AppError::Api(config.api_listen.clone(), e))?;

    let req_stop = Arc::new(AtomicBool::new(false));
    let req_thread = {
        // Requests are answered by the eligibility service (照会区分 2), never from the journal:
        // the journal is the evidence log of card receptions, not a source of answers.
        let lookup = HttpEligibility::new(&config.eligibility_url);
        let journal = Journal::open(&config.journal).map_err(|e| AppError::Journal(e.to_string()))?;
        let mut watcher =
            ReqWatcher::new(folders, writer_config(config)).map_err(AppError::Folders)?.with_journal(journal);
        let req_stop = req_stop.clone();
        std::thread::spawn(move || watcher.run(&lookup, &req_stop, Duration::from_millis(500)))
    };

    let (tx, rx) = mpsc::channel();
    app.connect_readers(&config.readers, tx.clone());
    let usb_hotplug = config.readers.contains(&Endpoint::Usb(None));
    let mut last_retry = std::time::Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if let Ok(event) = rx.recv_timeout(Duration::from_millis(200)) {
            for e in app.on_event(event) {
                report(&e);
            }
        }
        if last_retry.elapsed() > Duration::from_secs(1) {
            last_retry = std::time::Instant::now();
            if usb_hotplug {
                app.poll_usb(&tx);
            }
            for e in app.retry_due() {
                report(&e);
            }
        }
    }
    req_stop.store(true, Ordering::SeqCst);
    let _ = req_thread.join();
    api.shutdown();
    Ok(())
}
