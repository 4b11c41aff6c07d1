//! The service's rules, without HTTP: certificate chain, validity, challenge, proof,
//! registration, and the insurance record.
//!
//! # Answers by date
//!
//! A qualification is **in force** on a day `D` when its 資格取得年月日 ≤ `D` and it has no
//! 資格喪失年月日 or `D` is before it (the 資格喪失年月日 is the first day without it). It is
//! **lost** by `D` when its 資格喪失年月日 ≤ `D`, **not yet acquired** when its 資格取得年月日 > `D`.
//!
//! `POST /eligibility` (照会区分 1, the card) answers about the card's person on the service
//! clock's date in JST ([`judge_card`]):
//!
//! | the person's qualifications on that day | 資格有効性 | qualification in the answer |
//! |---|---|---|
//! | exactly one in force | 1 有効 | that one |
//! | two or more in force | 5 複数該当 | none |
//! | none in force; the latest lost one has a newer one (acquired after it, even if not yet in force) | 3 無効（新しい資格あり） | the lost one |
//! | none in force; lost ones only | 2 無効 | the latest lost |
//! | none at all (or only not yet acquired), or no person holds the card | 4 該当資格なし | none |
//!
//! `POST /insured` (照会区分 2, an [`InsuredQuery`]) matches qualifications by 保険者番号
//! (compared trimmed: 6-digit 国保 numbers arrive right-aligned), 番号 and the person's 生年月日
//! (exact), and by 記号 and 枝番 when given (exact strings; empty counts as not given), then
//! ([`judge_matched`]): matches of two or more persons → 5; none → 4; one person → that
//! person's matched qualification (the one in force on `date` if several match, else the latest
//! acquired by then) on `date`: in force → 1; lost, and another qualification of the person is
//! in force on `date` or was acquired after the lost one → 3; lost → 2; not yet acquired → 4.
//! Persons without a card (資格確認書 holders) are found only this way.
//!
//! An answer about a person this clinic registered a 照会番号 for (`Person::reference_number`,
//! the number the clinic gave the patient when it registered them with the eligibility system)
//! carries it as `reference_number`; others carry none. Answers 1, 2 and 3 carry the
//! person's card consents (none for a person without a card, none in the certificate's grace
//! period); 4 and 5 carry none.
//!
//! # Consents
//!
//! Kept per card and item: the flag, the time it was given (`YYYYMMDDHHMMSS`, JST) and, when
//! given, until when the information may be viewed: by this service's rule
//! [`CONSENT_AVAILABLE_FOR_MS`] (24 hours) after the consent time. A reception that does not ask
//! an item leaves its earlier answer in place. 限度額 consent (`limit_consent`) is never
//! answered: the reader does not ask it.

use std::sync::Mutex;

use sha2::{Digest, Sha256};
use shikaku_card::der::Certificate;
use shikaku_firmware::session::expiry::Validity;
use shikaku_host::eligibility::wire::{
    self, CertStatus, Challenge, EligibilityAnswer, EligibilityRequest, ErrorBody, InsuredQuery, ProofCheck,
    ProofJson, Registered, RegistrationRequest,
};
use shikaku_host::eligibility::ErrorCode;
use shikaku_host::model::{Consents, Eligibility, Method, Qualification, QualificationValidity};

use super::store::{ChallengeState, Person, PersonId, QualificationRecord, Store};
use super::Config;
use crate::vcard::persona::Date;

/// How long consented information may be viewed after the consent: this service's rule.
pub const CONSENT_AVAILABLE_FOR_MS: i64 = 24 * 3_600_000;

/// A refusal: the code and a message for the log (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// The HTTP status the service answers with.
    pub fn http_status(&self) -> u16 {
        match self.code {
            ErrorCode::BadRequest | ErrorCode::CertMalformed => 400,
            ErrorCode::CertUnknown => 404,
            ErrorCode::RequestConflict | ErrorCode::ChallengeReplayed => 409,
            ErrorCode::ServiceError
            | ErrorCode::ServiceTimeout
            | ErrorCode::ServiceUnreachable
            | ErrorCode::BadResponse => 500,
            _ => 403,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code, self.message.clone())
    }
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        Refusal::new(ErrorCode::ServiceError, format!("store: {e}"))
    }
}

/// A certificate that passed chain and validity checks.
struct CheckedCert {
    card_key: String,
    sha256: String,
    status: CertStatus,
    not_after: i64,
    key_modulus: Vec<u8>,
    key_exponent: Vec<u8>,
}

/// `SHA-256(issuer Name DER)` hex, `:`, serial hex: a card's stable key.
pub fn card_key(cert: &Certificate<'_>) -> String {
    format!("{}:{}", wire::hex(&Sha256::digest(cert.issuer)), wire::hex(cert.serial))
}

/// The service state: store, trust anchors, clock.
pub struct Service {
    store: Mutex<Store>,
    /// Held across look-up, run and keep of an idempotent request, so the same request sent
    /// twice at once gets one answer twice (not one answer and "replayed").
    requests: Mutex<()>,
    config: Config,
}

impl Service {
    pub fn new(store: Store, config: Config) -> Self {
        Self { store: Mutex::new(store), requests: Mutex::new(()), config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the store (seeding, inspection).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store())
    }

    /// `POST /challenge`.
    pub fn challenge(&self) -> Result<Challenge, Refusal> {
        let mut nonce = [0u8; 32];
        getrandom::getrandom(&mut nonce).map_err(|e| Refusal::new(ErrorCode::ServiceError, e.to_string()))?;
        let now = self.config.clock.now_ms();
        let expires = now + self.config.challenge_ttl.as_millis() as i64;
        let hex = wire::hex(&nonce);
        self.store().issue_challenge(&hex, now, expires)?;
        Ok(Challenge { challenge: hex, expires_at_ms: expires as u64 })
    }

    /// Parses the certificate and checks chain and validity.
    fn check_cert(&self, der: &[u8]) -> Result<CheckedCert, Refusal> {
        let cert = Certificate::parse(der)
            .map_err(|e| Refusal::new(ErrorCode::CertMalformed, format!("certificate: {e:?}")))?;
        if cert.public_key.is_empty() {
            return Err(Refusal::new(ErrorCode::CertMalformed, "certificate key is not RSA"));
        }
        let trusted = self.config.trusted_cas.iter().any(|ca| match Certificate::parse(ca) {
            Ok(ca) => cert.verify_issued_by(&ca).is_ok(),
            Err(_) => false,
        });
        if !trusted {
            return Err(Refusal::new(ErrorCode::CertUntrusted, "no trusted CA signed this certificate"));
        }
        let now_ms = self.config.clock.now_ms();
        let now_s = now_ms.div_euclid(1000);
        if cert.not_before.unix_seconds() > now_s {
            return Err(Refusal::new(ErrorCode::CertNotYetValid, "certificate notBefore is in the future"));
        }
        let not_after = cert.not_after.unix_seconds();
        let status = match Validity::judge(not_after, now_s) {
            Validity::Valid { .. } => CertStatus::Valid,
            Validity::ExpiringSoon { .. } => CertStatus::ExpiringSoon,
            Validity::Grace { .. } => CertStatus::Grace,
            Validity::Refused { days_past } => {
                return Err(Refusal::new(
                    ErrorCode::CertLapsed,
                    format!("certificate expired {days_past} days ago, beyond the 3-month grace"),
                ))
            }
        };
        let checked = CheckedCert {
            card_key: card_key(&cert),
            sha256: wire::cert_sha256(der),
            status,
            not_after,
            key_modulus: cert.public_key.modulus.to_vec(),
            key_exponent: cert.public_key.exponent.to_vec(),
        };
        self.store().note_cert(&checked.sha256, &checked.card_key, now_ms)?;
        Ok(checked)
    }

    /// Challenge (own and unused, or host-minted and never seen) and proof.
    fn check_proof(
        &self,
        store: &Store,
        cert: &CheckedCert,
        proof: &ProofJson,
        method: Option<Method>,
        deferred: bool,
    ) -> Result<ProofCheck, Refusal> {
        let challenge = wire::from_hex(proof.challenge_hex())
            .filter(|c| c.len() == 32)
            .ok_or_else(|| Refusal::new(ErrorCode::BadRequest, "challenge must be 32 bytes of hex"))?;
        let hex = wire::hex(&challenge);
        let now = self.config.clock.now_ms();
        let state = if deferred {
            store.consume_host_challenge(&hex, now)?
        } else {
            store.consume_challenge(&hex, now)?
        };
        match state {
            ChallengeState::Fresh => {}
            ChallengeState::Unknown => {
                return Err(Refusal::new(ErrorCode::ChallengeUnknown, "challenge not issued by this service"))
            }
            ChallengeState::Used => {
                return Err(Refusal::new(ErrorCode::ChallengeReplayed, "challenge already used"))
            }
            ChallengeState::Expired => {
                return Err(Refusal::new(ErrorCode::ChallengeExpired, "challenge expired"))
            }
        }
        match proof {
            ProofJson::CardSignature { signature, .. } => {
                let sig = wire::b64_decode(signature)
                    .ok_or_else(|| Refusal::new(ErrorCode::BadRequest, "signature is not base64"))?;
                let key = shikaku_card::rsa::RsaPublicKey::new(&cert.key_modulus, &cert.key_exponent);
                key.verify_sha256(&challenge, &sig).map_err(|e| {
                    Refusal::new(ErrorCode::BadSignature, format!("card signature does not verify: {e:?}"))
                })?;
                Ok(ProofCheck::CardSignature)
            }
            ProofJson::ReaderAttestation { attested_by_host, .. } => {
                if matches!(method, Some(Method::Pin | Method::OnDevice)) {
                    return Err(Refusal::new(
                        ErrorCode::BadRequest,
                        "PIN and on-device confirmation are proven by a card signature",
                    ));
                }
                if !attested_by_host {
                    return Err(Refusal::new(
                        ErrorCode::AttestationNotVouched,
                        "reader attestation without the host's check",
                    ));
                }
                Ok(ProofCheck::AttestedByHost)
            }
        }
    }

    /// `POST /eligibility`: `(HTTP status, JSON body)`; a repeated request id with the same body
    /// gets the first answer again.
    pub fn eligibility_http(&self, body: &[u8]) -> (u16, String) {
        let request: EligibilityRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return refusal_http(&Refusal::new(ErrorCode::BadRequest, format!("request: {e}"))),
        };
        self.idempotent(&request.request_id.clone(), body, |s| s.eligibility(&request))
    }

    /// `POST /registration`.
    pub fn registration_http(&self, body: &[u8]) -> (u16, String) {
        let request: RegistrationRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return refusal_http(&Refusal::new(ErrorCode::BadRequest, format!("request: {e}"))),
        };
        self.idempotent(&format!("registration:{}", request.request_id), body, |s| s.registration(&request))
    }

    fn idempotent<T: serde::Serialize>(
        &self,
        request_id: &str,
        body: &[u8],
        run: impl FnOnce(&Self) -> Result<T, Refusal>,
    ) -> (u16, String) {
        if request_id.is_empty() || request_id.len() > 200 {
            return refusal_http(&Refusal::new(ErrorCode::BadRequest, "request_id must be 1–200 characters"));
        }
        let digest = wire::hex(&Sha256::digest(body));
        let _one_at_a_time = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        match self.store().answer(request_id) {
            Ok(Some((d, status, answer))) if d == digest => return (status, answer),
            Ok(Some(_)) => {
                return refusal_http(&Refusal::new(
                    ErrorCode::RequestConflict,
                    "request_id already used with a different request",
                ))
            }
            Ok(None) => {}
            Err(e) => return refusal_http(&e.into()),
        }
        let (status, answer) = match run(self) {
            Ok(v) => (200, serde_json::to_string(&v).unwrap_or_default()),
            Err(r) => refusal_http(&r),
        };
        // Transport-class failures are not kept: a retry may succeed.
        if status < 500 {
            if let Err(e) = self.store().keep_answer(request_id, &digest, status, &answer) {
                return refusal_http(&e.into());
            }
        }
        (status, answer)
    }

    /// The eligibility rules.
    pub fn eligibility(&self, request: &EligibilityRequest) -> Result<EligibilityAnswer, Refusal> {
        let der = request
            .auth_cert_der()
            .ok_or_else(|| Refusal::new(ErrorCode::CertMalformed, "auth_cert is not base64"))?;
        let cert = self.check_cert(&der)?;
        let now = self.config.clock.now_ms();
        if request.deferred {
            self.check_deferred_age(request.verified_at, now)?;
        }
        let mut guard = self.store();
        guard.transaction(|store| {
            let proof =
                self.check_proof(store, &cert, &request.proof, Some(request.method), request.deferred)?;
            if request.registration {
                store.register(&cert.card_key, now)?;
            } else if !store.is_registered(&cert.card_key)? {
                return Err(Refusal::new(ErrorCode::NotRegistered, "card not registered for insurance use"));
            }
            let grace = cert.status == CertStatus::Grace;
            if !grace && request.consents.any_asked() {
                store.set_consents(
                    &cert.card_key,
                    request.consents.effective(),
                    &jst_timestamp(now),
                    &jst_timestamp(now.saturating_add(CONSENT_AVAILABLE_FOR_MS)),
                )?;
            }
            let date = jst_date(now).yyyymmdd();
            let mut eligibility = match store.person_by_card(&cert.card_key)? {
                None => Eligibility::without_record(QualificationValidity::NotFound),
                Some((id, person)) => {
                    let records: Vec<QualificationRecord> =
                        store.qualifications_of(id)?.into_iter().map(|(_, q)| q).collect();
                    let (validity, which) = judge_card(&records, &date);
                    answer(validity, which.map(|i| qualification(&person, &records[i])), &person)
                }
            };
            if !grace && eligibility.qualification.is_some() {
                eligibility.consents = store.consents(&cert.card_key)?;
            }
            Ok(EligibilityAnswer {
                eligibility,
                cert_status: cert.status,
                cert_not_after: cert.not_after,
                proof,
                attested_by_host: proof == ProofCheck::AttestedByHost,
                deferred: request.deferred,
                registered: true,
                medical_info_available: !grace,
            })
        })
    }

    /// A deferred request's age: freshness rests on the host, within bounds.
    fn check_deferred_age(&self, verified_at_ms: u64, now_ms: i64) -> Result<(), Refusal> {
        const SKEW_MS: i64 = 10 * 60 * 1000;
        let at = i64::try_from(verified_at_ms).unwrap_or(i64::MAX);
        if at > now_ms.saturating_add(SKEW_MS) {
            return Err(Refusal::new(ErrorCode::BadRequest, "deferred request verified in the future"));
        }
        let max = self.config.max_deferred_age.as_millis() as i64;
        if now_ms.saturating_sub(at) > max {
            return Err(Refusal::new(
                ErrorCode::ChallengeExpired,
                format!("deferred request older than {} days", max / 86_400_000),
            ));
        }
        Ok(())
    }

    /// 初回登録 alone.
    pub fn registration(&self, request: &RegistrationRequest) -> Result<Registered, Refusal> {
        let der = wire::b64_decode(&request.auth_cert)
            .ok_or_else(|| Refusal::new(ErrorCode::CertMalformed, "auth_cert is not base64"))?;
        let cert = self.check_cert(&der)?;
        let now = self.config.clock.now_ms();
        let mut guard = self.store();
        guard.transaction(|store| {
            self.check_proof(store, &cert, &request.proof, None, request.deferred)?;
            store.register(&cert.card_key, now)?;
            Ok(Registered { registered: true })
        })
    }

    /// `GET /registered?cert_sha256=`.
    pub fn registered_by_hash(&self, sha256_hex: &str) -> Result<Registered, Refusal> {
        let h = sha256_hex.trim().to_ascii_lowercase();
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Refusal::new(ErrorCode::BadRequest, "cert_sha256 must be 64 hex digits"));
        }
        let store = self.store();
        let key = store.card_key_of_cert(&h)?.ok_or_else(|| {
            Refusal::new(ErrorCode::CertUnknown, "certificate never seen; POST /registered")
        })?;
        Ok(Registered { registered: store.is_registered(&key)? })
    }

    /// `POST /registered` with the certificate: chain checked, validity not (a lapsed card can
    /// still be asked about).
    pub fn registered_by_cert(&self, der: &[u8]) -> Result<Registered, Refusal> {
        let cert = match self.check_cert(der) {
            Ok(c) => c.card_key,
            Err(r) if matches!(r.code, ErrorCode::CertLapsed | ErrorCode::CertNotYetValid) => {
                let cert = Certificate::parse(der).map_err(|_| r.clone())?;
                card_key(&cert)
            }
            Err(r) => return Err(r),
        };
        Ok(Registered { registered: self.store().is_registered(&cert)? })
    }
}

impl Service {
    /// `POST /insured`: `(HTTP status, JSON body)`.
    pub fn insured_http(&self, body: &[u8]) -> (u16, String) {
        let query: InsuredQuery = match serde_json::from_slice(body) {
            Ok(q) => q,
            Err(e) => return refusal_http(&Refusal::new(ErrorCode::BadRequest, format!("request: {e}"))),
        };
        match self.insured(&query) {
            Ok(e) => (200, serde_json::to_string(&e).unwrap_or_default()),
            Err(r) => refusal_http(&r),
        }
    }

    /// 照会区分 2: the state on `query.date` of the person the insurance numbers name.
    pub fn insured(&self, query: &InsuredQuery) -> Result<Eligibility, Refusal> {
        let q = Lookup::of(query)?;
        let mut guard = self.store();
        guard.transaction(|store| {
            let found =
                store.find_qualifications(q.insurer_number, q.symbol, q.number, q.branch, &q.birth_date)?;
            let mut persons: Vec<PersonId> = found.iter().map(|(p, _)| *p).collect();
            persons.sort();
            persons.dedup();
            let eligibility = match persons.as_slice() {
                [] => Eligibility::without_record(QualificationValidity::NotFound),
                [one] => {
                    let Some((id, person)) = store.person(*one)? else {
                        return Err(Refusal::new(
                            ErrorCode::ServiceError,
                            "store: qualification without a person",
                        ));
                    };
                    let rows = store.qualifications_of(id)?;
                    let matched: Vec<usize> = rows
                        .iter()
                        .enumerate()
                        .filter(|(_, (row, _))| found.iter().any(|(_, f)| f == row))
                        .map(|(i, _)| i)
                        .collect();
                    let records: Vec<QualificationRecord> = rows.into_iter().map(|(_, r)| r).collect();
                    let (validity, which) = judge_matched(&records, &matched, &q.date);
                    let mut e = answer(validity, which.map(|i| qualification(&person, &records[i])), &person);
                    if let (Some(card), Some(_)) = (&person.card_key, &e.qualification) {
                        e.consents = store.consents(card)?;
                    }
                    e
                }
                _ => Eligibility::without_record(QualificationValidity::MultipleMatches),
            };
            Ok(eligibility)
        })
    }
}

/// An [`InsuredQuery`] checked: digits where digits belong, empty 記号 and 枝番 as not given.
struct Lookup<'a> {
    insurer_number: &'a str,
    symbol: Option<&'a str>,
    number: &'a str,
    branch: Option<&'a str>,
    birth_date: String,
    date: String,
}

impl<'a> Lookup<'a> {
    fn of(q: &'a InsuredQuery) -> Result<Self, Refusal> {
        let bad = |m: &str| Refusal::new(ErrorCode::BadRequest, m.to_owned());
        let insurer_number = q.insurer_number.trim();
        if !matches!(insurer_number.len(), 6 | 8) || !insurer_number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("insurer_number must be 6 or 8 digits"));
        }
        let number = q.number.as_str();
        if number.trim().is_empty() {
            return Err(bad("number is empty"));
        }
        let given = |s: &'a Option<String>| s.as_deref().filter(|s| !s.trim().is_empty());
        let branch = given(&q.branch);
        if branch.is_some_and(|b| b.len() != 2 || !b.bytes().all(|c| c.is_ascii_digit())) {
            return Err(bad("branch must be 2 digits"));
        }
        Ok(Self {
            insurer_number,
            symbol: given(&q.symbol),
            number,
            branch,
            birth_date: yyyymmdd(&q.birth_date).ok_or_else(|| bad("birth_date must be YYYYMMDD"))?,
            date: yyyymmdd(&q.date).ok_or_else(|| bad("date must be YYYYMMDD"))?,
        })
    }
}

/// A `YYYYMMDD` date that exists, as given.
fn yyyymmdd(s: &str) -> Option<String> {
    let d = Date::parse(s).filter(|_| s.len() == 8)?;
    (Date::from_days(d.days()) == d).then(|| d.yyyymmdd())
}

fn refusal_http(r: &Refusal) -> (u16, String) {
    (r.http_status(), serde_json::to_string(&r.body()).unwrap_or_default())
}

/// The answer about one person: the 照会番号 the clinic registered for them comes with the
/// qualification, never without it.
fn answer(validity: QualificationValidity, q: Option<Qualification>, person: &Person) -> Eligibility {
    Eligibility {
        validity,
        reference_number: q.as_ref().and(person.reference_number.clone()),
        qualification: q.map(Box::new),
        consents: Consents::none(),
    }
}

/// The card rule (see the module documentation): the validity and which of `records` the
/// answer is about.
pub fn judge_card(records: &[QualificationRecord], date: &str) -> (QualificationValidity, Option<usize>) {
    let in_force: Vec<usize> = (0..records.len()).filter(|&i| records[i].in_force_on(date)).collect();
    match in_force.as_slice() {
        [one] => (QualificationValidity::Valid, Some(*one)),
        [_, _, ..] => (QualificationValidity::MultipleMatches, None),
        [] => {
            let latest_lost = (0..records.len()).filter(|&i| records[i].lost_by(date)).max_by(|&a, &b| {
                let key = |i: usize| (&records[i].disqualification_date, &records[i].qualification_date);
                key(a).cmp(&key(b))
            });
            match latest_lost {
                None => (QualificationValidity::NotFound, None),
                Some(i) if has_newer(records, i) => (QualificationValidity::InvalidNewerExists, Some(i)),
                Some(i) => (QualificationValidity::Invalid, Some(i)),
            }
        }
    }
}

/// Another of the person's qualifications acquired after `records[i]`.
fn has_newer(records: &[QualificationRecord], i: usize) -> bool {
    records.iter().enumerate().any(|(j, q)| j != i && q.qualification_date > records[i].qualification_date)
}

/// The insurance-number rule (see the module documentation) for one person: `records` are all
/// of the person's qualifications, `matched` the indices the query matched.
pub fn judge_matched(
    records: &[QualificationRecord],
    matched: &[usize],
    date: &str,
) -> (QualificationValidity, Option<usize>) {
    let pick = matched.iter().copied().find(|&i| records[i].in_force_on(date)).or_else(|| {
        matched
            .iter()
            .copied()
            .filter(|&i| records[i].acquired_by(date))
            .max_by(|&a, &b| records[a].qualification_date.cmp(&records[b].qualification_date))
    });
    let Some(i) = pick else { return (QualificationValidity::NotFound, None) };
    if records[i].in_force_on(date) {
        return (QualificationValidity::Valid, Some(i));
    }
    let newer =
        records.iter().enumerate().any(|(j, q)| j != i && q.in_force_on(date)) || has_newer(records, i);
    if newer {
        (QualificationValidity::InvalidNewerExists, Some(i))
    } else {
        (QualificationValidity::Invalid, Some(i))
    }
}

/// The answer's qualification: the person's fields and the qualification's.
pub fn qualification(p: &Person, r: &QualificationRecord) -> Qualification {
    Qualification {
        card_classification: r.card_classification,
        insurer_number: r.insurer_number.clone(),
        symbol: r.symbol.clone(),
        number: r.number.clone(),
        branch: r.branch.clone(),
        family: r.family,
        insured_name: r.insured_name.clone(),
        name: p.name.clone(),
        name_of_other: p.name_of_other.clone(),
        name_kana: p.name_kana.clone(),
        name_of_other_kana: p.name_of_other_kana.clone(),
        sex1: p.sex1,
        sex2: p.sex2,
        birth_date: p.birth_date.clone(),
        address: p.address.clone(),
        post_number: p.post_number.clone(),
        qualification_date: Some(r.qualification_date.clone()),
        disqualification_date: r.disqualification_date.clone(),
        certificate_issuance_date: r.certificate_issuance_date.clone(),
        card_valid_date: r.card_valid_date.clone(),
        card_expiration_date: r.card_expiration_date.clone(),
        copay_percent: r.copay_percent,
        preschool: r.preschool,
        reason_of_loss: r.reason_of_loss,
        insurer_name: r.insurer_name.clone(),
        elderly: r.elderly.clone(),
        limit_consent: None,
        limit: r.limit.clone(),
    }
}

/// Seconds since the epoch shifted to JST.
fn jst_seconds(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(1000) + 9 * 3600
}

/// The calendar date in JST at `unix_ms`.
pub fn jst_date(unix_ms: i64) -> Date {
    Date::from_days(jst_seconds(unix_ms).div_euclid(86_400))
}

/// Unix milliseconds as `YYYYMMDDHHMMSS` in JST (the interface's time format).
pub fn jst_timestamp(unix_ms: i64) -> String {
    let t = jst_seconds(unix_ms).rem_euclid(86_400);
    format!("{}{:02}{:02}{:02}", jst_date(unix_ms).yyyymmdd(), t / 3600, t / 60 % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shikaku_host::model::InsuredCardClassification;
    use QualificationValidity::*;

    #[test]
    fn jst_times() {
        assert_eq!(jst_timestamp(0), "19700101090000");
        assert_eq!(jst_timestamp(1_763_700_000_000), "20251121134000");
        assert_eq!(jst_date(1_763_700_000_000 + 11 * 3_600_000), Date::new(2025, 11, 22), "00:40 JST");
    }

    fn q(from: &str, until: Option<&str>) -> QualificationRecord {
        QualificationRecord {
            card_classification: InsuredCardClassification::General,
            insurer_number: "01130012".into(),
            insurer_name: "全国健康保険協会 東京支部".into(),
            symbol: None,
            number: from.into(),
            branch: None,
            family: None,
            insured_name: None,
            qualification_date: from.into(),
            disqualification_date: until.map(Into::into),
            reason_of_loss: None,
            certificate_issuance_date: None,
            card_valid_date: None,
            card_expiration_date: None,
            copay_percent: Some(30),
            preschool: None,
            elderly: None,
            limit: None,
        }
    }

    const DAY: &str = "20261207";

    #[test]
    fn the_card_answer_follows_the_qualifications_in_force_that_day() {
        let judge = |rows: &[QualificationRecord]| judge_card(rows, DAY);
        assert_eq!(judge(&[]), (NotFound, None));
        assert_eq!(judge(&[q("20200401", None)]), (Valid, Some(0)));
        assert_eq!(judge(&[q("20200401", Some("20240401"))]), (Invalid, Some(0)));
        assert_eq!(judge(&[q("20200401", None), q("20210401", None)]), (MultipleMatches, None));
        assert_eq!(judge(&[q("20200401", Some("20240401")), q("20240401", None)]), (Valid, Some(1)));
        // Lost, the new one starts next week: 3, about the lost one.
        assert_eq!(
            judge(&[q("20200401", Some("20261201")), q("20261214", None)]),
            (InvalidNewerExists, Some(0))
        );
        // Two lost: the latest lost decides; an older one is not newer.
        assert_eq!(
            judge(&[q("20100401", Some("20150401")), q("20150401", Some("20240401"))]),
            (Invalid, Some(1))
        );
        // Not yet acquired only: nothing to answer about.
        assert_eq!(judge(&[q("20270101", None)]), (NotFound, None));
    }

    #[test]
    fn the_insured_answer_judges_the_matched_qualification_on_the_date_asked() {
        let rows = [q("20200401", Some("20250701")), q("20250801", None)];
        assert_eq!(judge_matched(&rows, &[0], "20250615"), (Valid, Some(0)));
        assert_eq!(
            judge_matched(&rows, &[0], "20250715"),
            (InvalidNewerExists, Some(0)),
            "newer acquired later"
        );
        assert_eq!(judge_matched(&rows, &[0], DAY), (InvalidNewerExists, Some(0)));
        assert_eq!(judge_matched(&rows, &[1], "20250715"), (NotFound, None), "not yet acquired");
        assert_eq!(judge_matched(&rows, &[1], DAY), (Valid, Some(1)));
        assert_eq!(judge_matched(&rows[..1], &[0], DAY), (Invalid, Some(0)));
    }

    #[test]
    fn only_real_dates_are_dates() {
        assert_eq!(yyyymmdd("20261207").as_deref(), Some("20261207"));
        for bad in ["2026-12-07", "20260230", "2026120", "abcdefgh", ""] {
            assert_eq!(yyyymmdd(bad), None, "{bad}");
        }
    }
}
