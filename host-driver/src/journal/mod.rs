//! The durable log: every reception the host saw, in SQLite, so nothing is lost on a crash.
//!
//! - One row per reception keyed by `(reader, session, seq)`; inserting the same key again is a
//!   no-op, so a result the reader re-sends (exactly-once delivery across a dropped link) is
//!   recorded once.
//! - A row is written **before** eligibility is asked: it is the evidence that a マイナ保険証 was
//!   presented (needed for a 不詳レセプト claim) even when eligibility is never confirmed.
//! - Pending retries of the offline queue live in their own table and survive restarts.
//!
//! What is never stored: a PIN (the host never gets one), an image, a 個人番号. The holder is
//! identified by the SHA-256 of the auth certificate only. A pending retry has to keep the
//! request it re-sends (the auth certificate, which carries no personal data, and the
//! signature); the row is deleted as soon as it is answered, and `secure_delete` overwrites
//! the freed pages.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::model::{Eligibility, Method, Reception};
use crate::os::unix_ms;

/// `(reader, session, seq)`: the exactly-once key of a reception.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ReceptionKey {
    pub reader: String,
    pub session: u32,
    pub seq: u32,
}

impl ReceptionKey {
    pub fn of(r: &Reception) -> Self {
        Self { reader: r.reader.clone(), session: r.session, seq: r.seq }
    }
    /// `<reader>/<session>/<seq>`, the eligibility request id.
    pub fn request_id(&self) -> String {
        format!("{}/{}/{}", self.reader, self.session, self.seq)
    }
}

/// Where a reception stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recorded (card presented), eligibility not asked yet.
    Presented,
    /// Eligibility answered.
    Confirmed,
    /// The service could not be reached; queued for retry.
    Pending,
    /// The service refused (certificate, proof, …): final, with its error code.
    Refused,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Presented => "presented",
            Status::Confirmed => "confirmed",
            Status::Pending => "pending",
            Status::Refused => "refused",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "confirmed" => Status::Confirmed,
            "pending" => Status::Pending,
            "refused" => Status::Refused,
            _ => Status::Presented,
        }
    }
}

/// A reception as the journal holds it (serialisable for the JSON API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub reception: Reception,
    pub status: Status,
    /// Staff-facing reason when not confirmed.
    pub message: Option<String>,
    /// Fields of the reception's `face` file that needed character references (the receipt
    /// computer's character set lacks a character of the name): what staff should check.
    pub receipt_references: Vec<crate::receipt::Referenced>,
    /// Unix milliseconds, host clock.
    pub recorded_at_ms: u64,
    pub updated_at_ms: u64,
}

/// A receipt-computer request (`req` file) waiting because the eligibility service cannot be
/// reached. The file itself stays in `req` (the durable part); this row says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingRequest {
    pub file: String,
    pub identifier: Option<String>,
    /// Unix ms of the first failed attempt.
    pub since_ms: u64,
    pub attempts: u32,
    pub last_code: u16,
    pub reason: String,
}

/// A queued eligibility request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub key: ReceptionKey,
    /// The JSON request to re-send.
    pub request: String,
    /// Attempts made so far (queued after the first).
    pub attempts: u32,
    pub next_attempt_ms: u64,
    pub last_code: Option<u16>,
}

#[derive(Debug)]
pub enum JournalError {
    Sqlite(rusqlite::Error),
    /// Refused before writing: the value must not be stored (e.g. not a certificate hash).
    Refused(&'static str),
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalError::Sqlite(e) => write!(f, "journal: {e}"),
            JournalError::Refused(why) => write!(f, "journal refused a value: {why}"),
        }
    }
}

impl std::error::Error for JournalError {}

impl From<rusqlite::Error> for JournalError {
    fn from(e: rusqlite::Error) -> Self {
        JournalError::Sqlite(e)
    }
}

pub type Result<T> = std::result::Result<T, JournalError>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS receptions (
    reader TEXT NOT NULL,
    session INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    method TEXT NOT NULL,
    cert_sha256 TEXT NOT NULL,
    staff_account TEXT,
    registration INTEGER NOT NULL,
    verified_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    eligibility TEXT,
    error_code INTEGER,
    message TEXT,
    recorded_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    receipt_references TEXT,
    PRIMARY KEY (reader, session, seq)
);
CREATE INDEX IF NOT EXISTS receptions_cert ON receptions (cert_sha256);
CREATE TABLE IF NOT EXISTS pending (
    reader TEXT NOT NULL,
    session INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    request TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_code INTEGER,
    PRIMARY KEY (reader, session, seq)
);
CREATE TABLE IF NOT EXISTS requests_waiting (
    file TEXT PRIMARY KEY,
    identifier TEXT,
    since INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_code INTEGER NOT NULL,
    reason TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
";

fn method_str(m: Method) -> &'static str {
    match m {
        Method::Face => "face",
        Method::Pin => "pin",
        Method::Visual => "visual",
        Method::OnDevice => "on_device",
    }
}

fn method_parse(s: &str) -> Method {
    match s {
        "pin" => Method::Pin,
        "visual" => Method::Visual,
        "on_device" => Method::OnDevice,
        _ => Method::Face,
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The SQLite journal. One connection, one thread; other threads or processes (the JSON
/// API, `doctor`) open their own [`Journal`] on the same file (WAL lets them read while the
/// forwarder writes).
pub struct Journal {
    db: Connection,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let db = Connection::open(path)?;
        Self::init(db)
    }

    /// A journal that lives only in memory (tests, dry runs).
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(db: Connection) -> Result<Self> {
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL keeps readers (the JSON API, `doctor`) off the writer's back; FULL syncs every
        // commit so an acknowledged reception survives power loss.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.pragma_update(None, "secure_delete", "ON")?;
        db.execute_batch(SCHEMA)?;
        // Journals written before the column existed gain it.
        let has_refs: bool = db
            .prepare("SELECT 1 FROM pragma_table_info('receptions') WHERE name = 'receipt_references'")?
            .exists([])?;
        if !has_refs {
            db.execute_batch("ALTER TABLE receptions ADD COLUMN receipt_references TEXT")?;
        }
        Ok(Self { db })
    }

    /// Records a reception. Answers `true` if it was new, `false` if the key was already
    /// there (then nothing changes: the first delivery wins).
    pub fn record(&self, r: &Reception) -> Result<bool> {
        if !is_sha256_hex(&r.cert_sha256) {
            return Err(JournalError::Refused("cert_sha256 must be 64 hex digits"));
        }
        let now = unix_ms();
        let (status, eligibility) = match &r.eligibility {
            Some(e) => (Status::Confirmed, Some(to_json(e)?)),
            None if r.error_code.is_some() => (Status::Refused, None),
            None => (Status::Presented, None),
        };
        let n = self.db.execute(
            "INSERT OR IGNORE INTO receptions (reader, session, seq, method, cert_sha256, staff_account,
                registration, verified_at, status, eligibility, error_code, message, recorded_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, ?12, ?12)",
            params![
                r.reader,
                r.session,
                r.seq,
                method_str(r.method),
                r.cert_sha256.to_ascii_lowercase(),
                r.staff_account,
                r.registration,
                r.verified_at as i64,
                status.as_str(),
                eligibility,
                r.error_code,
                now as i64,
            ],
        )?;
        Ok(n == 1)
    }

    pub fn get(&self, key: &ReceptionKey) -> Result<Option<Entry>> {
        self.db
            .query_row(
                &format!("SELECT {COLUMNS} FROM receptions WHERE reader = ?1 AND session = ?2 AND seq = ?3"),
                params![key.reader, key.session, key.seq],
                row_to_entry,
            )
            .optional()?
            .transpose()
    }

    /// Every reception, oldest first.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let mut stmt = self.db.prepare(&format!(
            "SELECT {COLUMNS} FROM receptions ORDER BY recorded_at, reader, session, seq"
        ))?;
        let rows = stmt.query_map([], row_to_entry)?;
        let mut out = vec![];
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// Every reception of one card (by certificate hash), oldest first: the evidence that a
    /// マイナ保険証 was presented, whatever the eligibility outcome (不詳レセプト).
    pub fn evidence(&self, cert_sha256: &str) -> Result<Vec<Entry>> {
        let mut stmt = self.db.prepare(&format!(
            "SELECT {COLUMNS} FROM receptions WHERE cert_sha256 = ?1 ORDER BY recorded_at, reader, session, seq"
        ))?;
        let rows = stmt.query_map([cert_sha256.to_ascii_lowercase()], row_to_entry)?;
        let mut out = vec![];
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// Eligibility answered: store it, clear any error and pending retry.
    pub fn confirm(&mut self, key: &ReceptionKey, e: &Eligibility) -> Result<()> {
        let json = to_json(e)?;
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE receptions SET status = 'confirmed', eligibility = ?4, error_code = NULL, message = NULL,
                updated_at = ?5 WHERE reader = ?1 AND session = ?2 AND seq = ?3",
            params![key.reader, key.session, key.seq, json, unix_ms() as i64],
        )?;
        let dequeued = delete_pending(&tx, key)?;
        tx.commit()?;
        self.wipe_after(dequeued);
        Ok(())
    }

    /// A final refusal: keep the code and the staff message, drop any pending retry.
    pub fn refuse(&mut self, key: &ReceptionKey, code: u16, message: &str) -> Result<()> {
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE receptions SET status = 'refused', error_code = ?4, message = ?5, updated_at = ?6
             WHERE reader = ?1 AND session = ?2 AND seq = ?3",
            params![key.reader, key.session, key.seq, code, message, unix_ms() as i64],
        )?;
        let dequeued = delete_pending(&tx, key)?;
        tx.commit()?;
        self.wipe_after(dequeued);
        Ok(())
    }

    /// After a queued request left the queue: fold the WAL back into the database and
    /// truncate it, so the request (certificate, signature) is gone from the files too
    /// (`secure_delete` zeroes it in the database; the WAL would keep old page images).
    fn wipe_after(&self, dequeued: bool) {
        if dequeued {
            // Best effort: a concurrent reader can keep the WAL alive until the next one.
            let _ = self.db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }

    /// Queues (or re-schedules) the request of a reception the service could not answer.
    pub fn defer(
        &mut self,
        key: &ReceptionKey,
        request: &str,
        attempts: u32,
        next_attempt_ms: u64,
        code: u16,
        message: &str,
    ) -> Result<()> {
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE receptions SET status = 'pending', error_code = ?4, message = ?5, updated_at = ?6
             WHERE reader = ?1 AND session = ?2 AND seq = ?3",
            params![key.reader, key.session, key.seq, code, message, unix_ms() as i64],
        )?;
        tx.execute(
            "INSERT INTO pending (reader, session, seq, request, attempts, next_attempt, last_code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (reader, session, seq) DO UPDATE SET
                attempts = excluded.attempts, next_attempt = excluded.next_attempt, last_code = excluded.last_code",
            params![key.reader, key.session, key.seq, request, attempts, next_attempt_ms as i64, code],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Queued requests whose next attempt is due at `now_ms`, earliest first.
    pub fn due(&self, now_ms: u64) -> Result<Vec<Pending>> {
        self.pending_where("WHERE next_attempt <= ?1", now_ms)
    }

    /// When the earliest queued request is due (Unix ms), if any: when to call
    /// [`crate::eligibility::Forwarder::retry_due`] next.
    pub fn next_due_ms(&self) -> Result<Option<u64>> {
        let next: Option<i64> =
            self.db.query_row("SELECT MIN(next_attempt) FROM pending", [], |r| r.get(0))?;
        Ok(next.map(|n| n as u64))
    }

    /// Every queued request.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        self.pending_where("", 0)
    }

    fn pending_where(&self, filter: &str, now_ms: u64) -> Result<Vec<Pending>> {
        let sql = format!(
            "SELECT reader, session, seq, request, attempts, next_attempt, last_code FROM pending {filter}
             ORDER BY next_attempt, reader, session, seq"
        );
        let mut stmt = self.db.prepare(&sql)?;
        let map = |row: &rusqlite::Row<'_>| {
            Ok(Pending {
                key: ReceptionKey { reader: row.get(0)?, session: row.get(1)?, seq: row.get(2)? },
                request: row.get(3)?,
                attempts: row.get(4)?,
                next_attempt_ms: row.get::<_, i64>(5)? as u64,
                last_code: row.get(6)?,
            })
        };
        let rows =
            if filter.is_empty() { stmt.query_map([], map)? } else { stmt.query_map([now_ms as i64], map)? };
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

impl Journal {
    /// Keeps which fields of the reception's `face` file needed character references.
    pub fn note_receipt_references(
        &self,
        key: &ReceptionKey,
        refs: &[crate::receipt::Referenced],
    ) -> Result<()> {
        let json =
            serde_json::to_string(refs).map_err(|_| JournalError::Refused("references do not serialise"))?;
        self.db.execute(
            "UPDATE receptions SET receipt_references = ?4 WHERE reader = ?1 AND session = ?2 AND seq = ?3",
            params![key.reader, key.session, key.seq, json],
        )?;
        Ok(())
    }

    /// Notes (or updates) a request waiting for the eligibility service.
    pub fn request_waiting(
        &self,
        file: &str,
        identifier: Option<&str>,
        attempts: u32,
        code: u16,
        reason: &str,
    ) -> Result<()> {
        let now = unix_ms() as i64;
        self.db.execute(
            "INSERT INTO requests_waiting (file, identifier, since, attempts, last_code, reason, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3)
             ON CONFLICT (file) DO UPDATE SET identifier = excluded.identifier, attempts = excluded.attempts,
                last_code = excluded.last_code, reason = excluded.reason, updated_at = excluded.updated_at",
            params![file, identifier, now, attempts, code, reason],
        )?;
        Ok(())
    }

    /// The request was answered (or taken away): no longer waiting.
    pub fn request_done(&self, file: &str) -> Result<()> {
        self.db.execute("DELETE FROM requests_waiting WHERE file = ?1", [file])?;
        Ok(())
    }

    /// Every request waiting for the eligibility service, oldest first.
    pub fn waiting_requests(&self) -> Result<Vec<WaitingRequest>> {
        let mut stmt = self.db.prepare(
            "SELECT file, identifier, since, attempts, last_code, reason FROM requests_waiting ORDER BY since, file",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(WaitingRequest {
                file: r.get(0)?,
                identifier: r.get(1)?,
                since_ms: r.get::<_, i64>(2)? as u64,
                attempts: r.get(3)?,
                last_code: r.get(4)?,
                reason: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

const COLUMNS: &str = "reader, session, seq, method, cert_sha256, staff_account, registration, verified_at,
    status, eligibility, error_code, message, recorded_at, updated_at, receipt_references";

fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Entry>> {
    let eligibility: Option<String> = row.get(9)?;
    let eligibility = match eligibility.map(|j| serde_json::from_str::<Eligibility>(&j)).transpose() {
        Ok(e) => e,
        Err(_) => return Ok(Err(JournalError::Refused("stored eligibility is not valid JSON"))),
    };
    let status: String = row.get(8)?;
    Ok(Ok(Entry {
        reception: Reception {
            reader: row.get(0)?,
            session: row.get(1)?,
            seq: row.get(2)?,
            method: method_parse(&row.get::<_, String>(3)?),
            cert_sha256: row.get(4)?,
            staff_account: row.get(5)?,
            registration: row.get(6)?,
            verified_at: row.get::<_, i64>(7)? as u64,
            eligibility,
            error_code: row.get(10)?,
        },
        status: Status::parse(&status),
        message: row.get(11)?,
        recorded_at_ms: row.get::<_, i64>(12)? as u64,
        updated_at_ms: row.get::<_, i64>(13)? as u64,
        receipt_references: row
            .get::<_, Option<String>>(14)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
    }))
}

fn delete_pending(tx: &rusqlite::Transaction<'_>, key: &ReceptionKey) -> Result<bool> {
    let n = tx.execute(
        "DELETE FROM pending WHERE reader = ?1 AND session = ?2 AND seq = ?3",
        params![key.reader, key.session, key.seq],
    )?;
    Ok(n > 0)
}

fn to_json(e: &Eligibility) -> Result<String> {
    serde_json::to_string(e).map_err(|_| JournalError::Refused("eligibility does not serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reception(seq: u32) -> Reception {
        Reception {
            reader: "SK-0001".into(),
            session: 7,
            seq,
            method: Method::Face,
            cert_sha256: "ab".repeat(32),
            staff_account: None,
            registration: false,
            verified_at: 1_763_700_000_000,
            eligibility: None,
            error_code: None,
        }
    }

    #[test]
    fn insert_is_idempotent_per_key() {
        let j = Journal::in_memory().unwrap();
        assert!(j.record(&reception(1)).unwrap());
        assert!(!j.record(&reception(1)).unwrap());
        assert!(j.record(&reception(2)).unwrap());
        assert_eq!(j.entries().unwrap().len(), 2);
        let e = j.get(&ReceptionKey::of(&reception(1))).unwrap().unwrap();
        assert_eq!(e.status, Status::Presented);
        assert_eq!(e.reception, reception(1));
    }

    #[test]
    fn the_receipt_reference_flag_is_kept_and_old_journals_gain_its_column() {
        let dir = std::env::temp_dir().join(format!("shikaku-journal-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("old.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            // A journal from before the column: the receptions table without it.
            let db = Connection::open(&path).unwrap();
            db.execute_batch(&SCHEMA.replace("    receipt_references TEXT,\n", "")).unwrap();
        }
        let j = Journal::open(&path).unwrap();
        let r = reception(1);
        j.record(&r).unwrap();
        let refs = vec![crate::receipt::Referenced { element: "Name".into(), chars: vec!['𠮷'] }];
        j.note_receipt_references(&ReceptionKey::of(&r), &refs).unwrap();
        let e = j.get(&ReceptionKey::of(&r)).unwrap().unwrap();
        assert_eq!(e.receipt_references, refs);
        drop(j);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_what_is_not_a_certificate_hash() {
        let j = Journal::in_memory().unwrap();
        let mut r = reception(1);
        r.cert_sha256 = "537686677188".into();
        assert!(matches!(j.record(&r), Err(JournalError::Refused(_))));
    }

    #[test]
    fn pending_lifecycle() {
        let mut j = Journal::in_memory().unwrap();
        let r = reception(3);
        let key = ReceptionKey::of(&r);
        j.record(&r).unwrap();
        j.defer(&key, "{}", 1, 1000, 601, "down").unwrap();
        assert_eq!(j.due(999).unwrap().len(), 0);
        assert_eq!(j.next_due_ms().unwrap(), Some(1000));
        assert_eq!(j.due(1000).unwrap().len(), 1);
        j.defer(&key, "{}", 2, 5000, 602, "slow").unwrap();
        let p = j.pending().unwrap();
        assert_eq!((p.len(), p[0].attempts, p[0].last_code), (1, 2, Some(602)));
        assert_eq!(j.get(&key).unwrap().unwrap().status, Status::Pending);
        j.refuse(&key, 611, "lapsed").unwrap();
        assert!(j.pending().unwrap().is_empty());
        assert_eq!(j.next_due_ms().unwrap(), None);
        let e = j.get(&key).unwrap().unwrap();
        assert_eq!((e.status, e.reception.error_code), (Status::Refused, Some(611)));
        let evidence = j.evidence(&"AB".repeat(32)).unwrap();
        assert_eq!(evidence.len(), 1);
        assert_eq!(evidence[0].reception.seq, 3);
        assert!(j.evidence(&"cd".repeat(32)).unwrap().is_empty());
    }
}
