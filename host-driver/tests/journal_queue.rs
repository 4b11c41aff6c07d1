//! The durable journal and the offline queue: a reception is kept when the service is down,
//! survives a restart of the host, and is delivered when the service is back; a result
//! delivered twice is recorded once.

mod common;

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shikaku_host::eligibility::wire::{
    CertStatus, Challenge, ConsentAnswers, EligibilityAnswer, ProofCheck, ProofJson, RegistrationRequest,
};
use shikaku_host::eligibility::{
    EligibilityError, EligibilityRequest, EligibilityService, ErrorCode, Forwarder, HttpEligibility, Outcome,
    QueueBackoff, RetryPolicy, Timeouts,
};
use shikaku_host::journal::{Journal, ReceptionKey, Status};
use shikaku_host::model::{Eligibility, Method, Reception};
use shikaku_host::os::unix_ms as now_ms;

fn reception(seq: u32) -> Reception {
    Reception {
        reader: "SK-0001".into(),
        session: 5,
        seq,
        method: Method::Pin,
        cert_sha256: shikaku_host::eligibility::wire::cert_sha256(b"auth certificate"),
        staff_account: None,
        registration: false,
        verified_at: 1_763_700_000_000,
        eligibility: None,
        error_code: None,
    }
}

fn request(r: &Reception, deferred: bool) -> EligibilityRequest {
    EligibilityRequest {
        request_id: ReceptionKey::of(r).request_id(),
        auth_cert: shikaku_host::eligibility::wire::b64(b"auth certificate"),
        proof: ProofJson::CardSignature { challenge: "11".repeat(32), signature: "AAAA".into() },
        method: Method::Pin,
        consents: ConsentAnswers::default(),
        registration: false,
        staff_account: None,
        verified_at: r.verified_at,
        deferred,
    }
}

fn answer() -> EligibilityAnswer {
    EligibilityAnswer {
        eligibility: common::eligibility("髙﨑　𠮷乃"),
        cert_status: CertStatus::Valid,
        cert_not_after: 1_900_000_000,
        proof: ProofCheck::CardSignature,
        attested_by_host: false,
        deferred: true,
        registered: true,
        medical_info_available: true,
    }
}

/// A service answering every `POST /eligibility` with [`answer`], keeping the bodies.
fn eligibility_fake(listener: TcpListener) -> Arc<Mutex<Vec<String>>> {
    let bodies = Arc::new(Mutex::new(vec![]));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
            let json = serde_json::to_string(&answer()).unwrap();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                json.len()
            );
        }
    });
    bodies
}

fn client(port: u16) -> HttpEligibility {
    HttpEligibility::with(
        &format!("http://127.0.0.1:{port}"),
        Timeouts { connect: Duration::from_millis(300), total: Duration::from_secs(2) },
        RetryPolicy {
            attempts: 2,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
        },
    )
}

#[test]
fn the_offline_queue_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let r = reception(1);
    let key = ReceptionKey::of(&r);
    let backoff = QueueBackoff { initial_ms: 60_000, max_ms: 240_000 };
    {
        let mut f = Forwarder::new(client(port), Journal::open(&path).unwrap()).with_backoff(backoff);
        // No service: the host mints the challenge itself.
        let c = f.challenge().expect("the OS generator answers");
        assert!(c.deferred);
        assert_eq!(c.reason.unwrap().code, ErrorCode::ServiceUnreachable);
        let before = now_ms();
        match f.submit(&r, &request(&r, true)).unwrap() {
            Outcome::Queued(e) => assert_eq!(e.code, ErrorCode::ServiceUnreachable),
            other => panic!("{other:?}"),
        }
        let s = f.staff_status(&key).unwrap().unwrap();
        assert_eq!((s.status, s.code), (Status::Pending, Some(ErrorCode::ServiceUnreachable)));
        assert!(s.message.starts_with("[E601]"), "{}", s.message);
        let p = f.journal().pending().unwrap();
        assert_eq!(p.len(), 1);
        assert!(p[0].next_attempt_ms >= before + 60_000);
        // Not due yet; when due and still down, the pause doubles.
        assert!(f.retry_due(now_ms()).unwrap().is_empty());
        let later = f.retry_due(now_ms() + 61_000).unwrap();
        assert!(matches!(later[0].1, Outcome::Queued(_)));
        let p = f.journal().pending().unwrap();
        assert_eq!(p[0].attempts, 2);
        assert!(p[0].next_attempt_ms >= now_ms() + 119_000);
    } // the host process ends

    let journal = Journal::open(&path).unwrap();
    let entry = journal.get(&key).unwrap().unwrap();
    assert_eq!(entry.status, Status::Pending);
    assert_eq!(entry.reception.error_code, Some(601));
    assert_eq!(journal.pending().unwrap().len(), 1);

    let bodies = eligibility_fake(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let mut f = Forwarder::new(client(port), journal).with_backoff(backoff);
    let done = f.retry_due(now_ms() + 600_000).unwrap();
    assert_eq!(done.len(), 1);
    match &done[0].1 {
        Outcome::Confirmed(a) => {
            assert_eq!(a.eligibility.qualification.as_ref().map(|q| q.name.as_str()), Some("髙﨑　𠮷乃"))
        }
        other => panic!("{other:?}"),
    }
    let sent: EligibilityRequest = serde_json::from_str(&bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(sent, request(&r, true));
    assert!(f.journal().pending().unwrap().is_empty());
    let entry = f.journal().get(&key).unwrap().unwrap();
    assert_eq!(entry.status, Status::Confirmed);
    assert_eq!(entry.reception.error_code, None);
    assert_eq!(
        entry.reception.eligibility.unwrap().qualification.and_then(|q| q.limit).map(|l| l.category),
        Some(shikaku_host::model::LimitCategory::A03)
    );
    let s = f.staff_status(&key).unwrap().unwrap();
    assert_eq!((s.status, s.code), (Status::Confirmed, None));
}

/// Counts calls; answers or refuses as told.
struct Counting {
    calls: Cell<u32>,
    refuse: Option<ErrorCode>,
}

impl EligibilityService for Counting {
    fn challenge(&self) -> Result<Challenge, EligibilityError> {
        Err(EligibilityError::new(ErrorCode::ServiceUnreachable, "not used"))
    }
    fn is_registered(&self, _: &[u8]) -> Result<bool, EligibilityError> {
        Ok(true)
    }
    fn check(&self, _: &EligibilityRequest) -> Result<EligibilityAnswer, EligibilityError> {
        self.calls.set(self.calls.get() + 1);
        match self.refuse {
            Some(code) => Err(EligibilityError::new(code, "refused")),
            None => Ok(answer()),
        }
    }
    fn lookup_insured(
        &self,
        _: &shikaku_host::eligibility::InsuredQuery,
    ) -> Result<Eligibility, EligibilityError> {
        Err(EligibilityError::new(ErrorCode::ServiceUnreachable, "not used"))
    }
    fn register(&self, _: &RegistrationRequest) -> Result<bool, EligibilityError> {
        Ok(true)
    }
}

#[test]
fn a_result_delivered_twice_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut f = Forwarder::new(Counting { calls: Cell::new(0), refuse: None }, Journal::open(&path).unwrap());
    let r = reception(9);
    assert!(matches!(f.submit(&r, &request(&r, false)).unwrap(), Outcome::Confirmed(_)));
    match f.submit(&r, &request(&r, false)).unwrap() {
        Outcome::Duplicate(e) => assert_eq!(e.status, Status::Confirmed),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.service().calls.get(), 1);
    // Also across a restart.
    let (_, journal) = f.into_parts();
    drop(journal);
    let mut f = Forwarder::new(Counting { calls: Cell::new(0), refuse: None }, Journal::open(&path).unwrap());
    assert!(matches!(f.submit(&r, &request(&r, false)).unwrap(), Outcome::Duplicate(_)));
    assert_eq!(f.service().calls.get(), 0);
    assert_eq!(f.journal().entries().unwrap().len(), 1);
}

#[test]
fn a_refusal_is_kept_as_evidence_with_its_code() {
    let mut f = Forwarder::new(
        Counting { calls: Cell::new(0), refuse: Some(ErrorCode::CertLapsed) },
        Journal::in_memory().unwrap(),
    );
    let r = reception(2);
    match f.submit(&r, &request(&r, false)).unwrap() {
        Outcome::Refused(e) => assert_eq!(e.code, ErrorCode::CertLapsed),
        other => panic!("{other:?}"),
    }
    let e = f.journal().get(&ReceptionKey::of(&r)).unwrap().unwrap();
    // The card was presented: the row stays, with the code and the staff message.
    assert_eq!((e.status, e.reception.error_code), (Status::Refused, Some(611)));
    assert!(e.message.unwrap().contains("3か月"));
    assert_eq!(e.reception.cert_sha256, r.cert_sha256);
    assert!(f.journal().pending().unwrap().is_empty());
}

#[test]
fn a_crash_between_recording_and_asking_is_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let r = reception(4);
    // Recorded, then the process died before the service answered.
    Journal::open(&path).unwrap().record(&r).unwrap();
    let mut f = Forwarder::new(Counting { calls: Cell::new(0), refuse: None }, Journal::open(&path).unwrap());
    assert!(matches!(f.submit(&r, &request(&r, false)).unwrap(), Outcome::Confirmed(_)));
    assert_eq!(f.service().calls.get(), 1);
}

#[test]
fn registration_status_assumes_registered_when_the_service_is_down() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let f = Forwarder::new(client(port), Journal::in_memory().unwrap());
    let (registered, why) = f.registration_status(b"auth certificate");
    assert!(registered);
    assert_eq!(why.unwrap().code, ErrorCode::ServiceUnreachable);
    let f = Forwarder::new(Counting { calls: Cell::new(0), refuse: None }, Journal::in_memory().unwrap());
    assert_eq!(f.registration_status(b"auth certificate"), (true, None));
}

#[test]
fn the_forwarder_takes_a_boxed_service() {
    let boxed: Box<dyn EligibilityService> = Box::new(Counting { calls: Cell::new(0), refuse: None });
    let mut f = Forwarder::new(boxed, Journal::in_memory().unwrap());
    let r = reception(1);
    assert!(matches!(f.submit(&r, &request(&r, false)).unwrap(), Outcome::Confirmed(_)));
}

#[test]
fn reception_and_request_must_name_the_same_certificate() {
    let mut f = Forwarder::new(Counting { calls: Cell::new(0), refuse: None }, Journal::in_memory().unwrap());
    let r = reception(1);
    let mut req = request(&r, false);
    req.auth_cert = shikaku_host::eligibility::wire::b64(b"another certificate");
    assert!(f.submit(&r, &req).is_err());
    assert!(f.journal().entries().unwrap().is_empty());
    assert_eq!(f.service().calls.get(), 0);
}
