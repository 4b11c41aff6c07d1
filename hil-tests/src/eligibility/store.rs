//! The service's SQLite store: insured persons and their qualifications, cards (registration,
//! consents), the certificates seen, challenges, the answers already given (idempotency) and
//! the reference-number counter.
//!
//! - `persons`: one row per insured **person** — names (氏名, その他の氏名, both in kana,
//!   full-width), 性別1/性別2, 生年月日, 住所, 郵便番号, and the `card_key` of the person's
//!   マイナ保険証 when one is registered to them (none for 資格確認書 holders).
//! - `qualifications`: one row per **qualification** (資格) of a person — the typed
//!   [`QualificationRecord`] (everything of `ResultOfQualificationConfirmation` that is not
//!   about the person) as JSON, next to the columns searched on: 保険者番号 (trimmed), 記号,
//!   番号, 枝番, 資格取得年月日 and 資格喪失年月日 (`NULL`: still in force).
//! - `consents`: per card and item (特定健診, 薬剤, 診療, 手術) the flag, when it was given
//!   and until when the information may be viewed under it.
//!
//! A card is keyed by its auth certificate's **issuer and serial** (`card_key`: SHA-256 of
//! the issuer Name DER, `:`, the serial in hex). That key survives re-issuing the same
//! certificate (the virtual card issues it relative to today, so its bytes and SHA-256 change
//! from day to day); the SHA-256 of every certificate seen is kept in `certs` so
//! `GET /registered?cert_sha256=` can answer.
//!
//! The schema carries its version in `PRAGMA user_version`; a database of an older version
//! loses its people, cards and kept answers on opening (they are re-seeded; kept answers were
//! in the old JSON) — certificates seen and challenges stay.

use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::Path;

use shikaku_host::model::{
    Consent, ConsentFlag, Consents, ElderlyRecipient, InsuredCardClassification, LimitCertificate,
    PersonalFamilyClassification, PreschoolClassification, ReasonOfLoss, Sex,
};

/// One insured person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Unique name of the row in the seed (the persona id for card holders).
    pub label: String,
    /// The person's registered マイナ保険証, if any.
    pub card_key: Option<String>,
    /// 氏名 (UTF-8: 𠮷, 髙, 﨑 … stay as they are).
    pub name: String,
    /// その他の氏名 (通称名, 旧姓).
    pub name_of_other: Option<String>,
    /// 氏名カナ, full-width katakana (the receipt writer makes them half-width).
    pub name_kana: Option<String>,
    pub name_of_other_kana: Option<String>,
    pub sex1: Sex,
    pub sex2: Option<Sex>,
    /// `YYYYMMDD`
    pub birth_date: String,
    pub address: Option<String>,
    /// `NNN-NNNN`
    pub post_number: Option<String>,
    /// 照会番号: the number this clinic registered for the patient with the eligibility system
    /// (`ReferenceNumber` in the answers), if it did.
    pub reference_number: Option<String>,
}

/// A person's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonId(pub i64);

/// One qualification (資格) of a person: the fields of the answer that are not about the person.
/// Dates `YYYYMMDD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualificationRecord {
    pub card_classification: InsuredCardClassification,
    /// 保険者番号: 8 digits, or 6 for 国保.
    pub insurer_number: String,
    /// 保険者名称
    pub insurer_name: String,
    pub symbol: Option<String>,
    pub number: String,
    pub branch: Option<String>,
    pub family: Option<PersonalFamilyClassification>,
    /// 被保険者氏名 (the head, for a family member).
    pub insured_name: Option<String>,
    /// 資格取得年月日: in force from this day.
    pub qualification_date: String,
    /// 資格喪失年月日: no longer in force from this day; `None` while in force.
    pub disqualification_date: Option<String>,
    pub reason_of_loss: Option<ReasonOfLoss>,
    pub certificate_issuance_date: Option<String>,
    pub card_valid_date: Option<String>,
    pub card_expiration_date: Option<String>,
    pub copay_percent: Option<u8>,
    pub preschool: Option<PreschoolClassification>,
    pub elderly: Option<ElderlyRecipient>,
    pub limit: Option<LimitCertificate>,
}

impl QualificationRecord {
    /// Acquired on or before `date` (`YYYYMMDD`).
    pub fn acquired_by(&self, date: &str) -> bool {
        self.qualification_date.as_str() <= date
    }

    /// Lost on or before `date`: the 資格喪失年月日 is the first day without it.
    pub fn lost_by(&self, date: &str) -> bool {
        self.disqualification_date.as_deref().is_some_and(|d| d <= date)
    }

    /// In force on `date`: acquired by then and not lost by then.
    pub fn in_force_on(&self, date: &str) -> bool {
        self.acquired_by(date) && !self.lost_by(date)
    }
}

/// The consent items, in the order of the host's `ConsentAnswers::effective`.
pub const CONSENT_ITEMS: [&str; 4] = ["medication", "health_checkup", "treatment", "surgery"];

/// What a challenge lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeState {
    Fresh,
    Unknown,
    Used,
    Expired,
}

pub struct Store {
    db: Connection,
}

/// `PRAGMA user_version` of [`SCHEMA`]; 0 (or a missing pragma) was the single `insured` table.
const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE,
    card_key TEXT UNIQUE,
    name TEXT NOT NULL,
    name_of_other TEXT,
    name_kana TEXT,
    name_of_other_kana TEXT,
    sex1 TEXT NOT NULL,
    sex2 TEXT,
    birth_date TEXT NOT NULL,
    address TEXT,
    post_number TEXT,
    reference_number TEXT
);
CREATE INDEX IF NOT EXISTS persons_birth ON persons (birth_date);
CREATE TABLE IF NOT EXISTS qualifications (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons (id),
    insurer_number TEXT NOT NULL,
    symbol TEXT,
    number TEXT NOT NULL,
    branch TEXT,
    qualification_date TEXT NOT NULL,
    disqualification_date TEXT,
    record TEXT NOT NULL
);
-- On 番号 alone: an index on (保険者番号, 番号) would store the two side by side, a 12-digit run
-- that the privacy scans cannot tell from a My Number.
CREATE INDEX IF NOT EXISTS qualifications_number ON qualifications (number);
CREATE INDEX IF NOT EXISTS qualifications_person ON qualifications (person_id);
CREATE TABLE IF NOT EXISTS cards (
    card_key TEXT PRIMARY KEY,
    label TEXT,
    registered INTEGER NOT NULL DEFAULT 0,
    registered_at INTEGER
);
CREATE TABLE IF NOT EXISTS consents (
    card_key TEXT NOT NULL,
    item TEXT NOT NULL CHECK (item IN ('medication', 'health_checkup', 'treatment', 'surgery')),
    flag TEXT NOT NULL,
    time TEXT NOT NULL,
    available_until TEXT,
    PRIMARY KEY (card_key, item)
);
CREATE TABLE IF NOT EXISTS certs (
    sha256 TEXT PRIMARY KEY,
    card_key TEXT NOT NULL,
    first_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS challenges (
    nonce TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE IF NOT EXISTS answers (
    request_id TEXT PRIMARY KEY,
    body_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL
);
";

/// A text column that does not parse as what it holds.
fn conversion(col: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e))
}

fn sex_at(r: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<Option<Sex>> {
    r.get::<_, Option<String>>(col)?.map(|s| Sex::from_code(&s).map_err(|e| conversion(col, e))).transpose()
}

fn flag_at(r: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<ConsentFlag> {
    let s: String = r.get(col)?;
    ConsentFlag::from_code(&s).map_err(|e| conversion(col, e))
}

/// The search form of a 保険者番号: surrounding spaces removed (6-digit 国保 numbers arrive
/// right-aligned in 8-character fields).
pub fn insurer_key(insurer_number: &str) -> &str {
    insurer_number.trim()
}

impl Store {
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < SCHEMA_VERSION {
            db.execute_batch(
                "DROP TABLE IF EXISTS insured; DROP TABLE IF EXISTS cards; DROP TABLE IF EXISTS answers;
                 DROP TABLE IF EXISTS qualifications; DROP TABLE IF EXISTS persons;
                 DROP TABLE IF EXISTS reference_numbers;",
            )?;
        }
        db.execute_batch(SCHEMA)?;
        db.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Self { db })
    }

    /// How many insured persons the store holds (0: seed it).
    pub fn person_count(&self) -> rusqlite::Result<u64> {
        self.db.query_row("SELECT COUNT(*) FROM persons", [], |r| r.get::<_, i64>(0)).map(|n| n as u64)
    }

    /// Removes every insured person, qualification, card and consent (before re-seeding);
    /// certificates seen, challenges, kept answers and the reference counter stay.
    pub fn clear_people(&self) -> rusqlite::Result<()> {
        self.db.execute_batch(
            "DELETE FROM qualifications; DELETE FROM persons; DELETE FROM consents; DELETE FROM cards;",
        )
    }

    pub fn add_person(&self, p: &Person) -> rusqlite::Result<PersonId> {
        self.db.execute(
            "INSERT INTO persons (label, card_key, name, name_of_other, name_kana, name_of_other_kana,
                sex1, sex2, birth_date, address, post_number, reference_number)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                p.label,
                p.card_key,
                p.name,
                p.name_of_other,
                p.name_kana,
                p.name_of_other_kana,
                p.sex1.code(),
                p.sex2.map(|s| s.code()),
                p.birth_date,
                p.address,
                p.post_number,
                p.reference_number
            ],
        )?;
        Ok(PersonId(self.db.last_insert_rowid()))
    }

    pub fn add_qualification(&self, person: PersonId, q: &QualificationRecord) -> rusqlite::Result<i64> {
        let record =
            serde_json::to_string(q).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.db.execute(
            "INSERT INTO qualifications (person_id, insurer_number, symbol, number, branch, qualification_date,
                disqualification_date, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                person.0,
                insurer_key(&q.insurer_number),
                q.symbol,
                q.number,
                q.branch,
                q.qualification_date,
                q.disqualification_date,
                record
            ],
        )?;
        Ok(self.db.last_insert_rowid())
    }

    fn person_where(
        &self,
        clause: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> rusqlite::Result<Option<(PersonId, Person)>> {
        let sql = format!(
            "SELECT id, label, card_key, name, name_of_other, name_kana, name_of_other_kana, sex1, sex2,
                birth_date, address, post_number, reference_number FROM persons WHERE {clause}"
        );
        self.db
            .query_row(&sql, [arg], |r| {
                Ok((
                    PersonId(r.get(0)?),
                    Person {
                        label: r.get(1)?,
                        card_key: r.get(2)?,
                        name: r.get(3)?,
                        name_of_other: r.get(4)?,
                        name_kana: r.get(5)?,
                        name_of_other_kana: r.get(6)?,
                        sex1: sex_at(r, 7)?.unwrap_or(Sex::Unspecified),
                        sex2: sex_at(r, 8)?,
                        birth_date: r.get(9)?,
                        address: r.get(10)?,
                        post_number: r.get(11)?,
                        reference_number: r.get(12)?,
                    },
                ))
            })
            .optional()
    }

    /// The person a card is registered to (none: a card nobody holds insurance with).
    pub fn person_by_card(&self, card_key: &str) -> rusqlite::Result<Option<(PersonId, Person)>> {
        self.person_where("card_key = ?1", &card_key)
    }

    pub fn person(&self, id: PersonId) -> rusqlite::Result<Option<(PersonId, Person)>> {
        self.person_where("id = ?1", &id.0)
    }

    /// Every qualification of a person, `(row id, record)`, in the order they were added.
    pub fn qualifications_of(&self, person: PersonId) -> rusqlite::Result<Vec<(i64, QualificationRecord)>> {
        let mut stmt =
            self.db.prepare("SELECT id, record FROM qualifications WHERE person_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([person.0], |r| {
            let text: String = r.get(1)?;
            let record = serde_json::from_str(&text).map_err(|e| conversion(1, e))?;
            Ok((r.get(0)?, record))
        })?;
        rows.collect()
    }

    /// Qualifications matching an insurance-number lookup, `(person, qualification row id)`:
    /// 保険者番号 (trimmed), 番号 and the person's 生年月日 always; 記号 and 枝番 when given.
    pub fn find_qualifications(
        &self,
        insurer_number: &str,
        symbol: Option<&str>,
        number: &str,
        branch: Option<&str>,
        birth_date: &str,
    ) -> rusqlite::Result<Vec<(PersonId, i64)>> {
        let mut stmt = self.db.prepare(
            "SELECT q.person_id, q.id FROM qualifications q JOIN persons p ON p.id = q.person_id
             WHERE q.insurer_number = ?1 AND q.number = ?2 AND p.birth_date = ?3
                AND (?4 IS NULL OR q.symbol = ?4) AND (?5 IS NULL OR q.branch = ?5)
             ORDER BY q.id",
        )?;
        let rows = stmt
            .query_map(params![insurer_key(insurer_number), number, birth_date, symbol, branch], |r| {
                Ok((PersonId(r.get(0)?), r.get(1)?))
            })?;
        rows.collect()
    }

    /// Creates the card row if missing; `registered` sets the initial registration state.
    pub fn add_card(
        &self,
        card_key: &str,
        label: &str,
        registered: bool,
        now_ms: i64,
    ) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO cards (card_key, label, registered, registered_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (card_key) DO UPDATE SET label = excluded.label, registered = excluded.registered,
                registered_at = excluded.registered_at",
            params![card_key, label, registered, registered.then_some(now_ms)],
        )?;
        Ok(())
    }

    pub fn note_cert(&self, sha256: &str, card_key: &str, now_ms: i64) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT OR IGNORE INTO certs (sha256, card_key, first_seen) VALUES (?1, ?2, ?3)",
            params![sha256, card_key, now_ms],
        )?;
        Ok(())
    }

    pub fn card_key_of_cert(&self, sha256: &str) -> rusqlite::Result<Option<String>> {
        self.db.query_row("SELECT card_key FROM certs WHERE sha256 = ?1", [sha256], |r| r.get(0)).optional()
    }

    pub fn is_registered(&self, card_key: &str) -> rusqlite::Result<bool> {
        Ok(self
            .db
            .query_row("SELECT registered FROM cards WHERE card_key = ?1", [card_key], |r| {
                r.get::<_, bool>(0)
            })
            .optional()?
            .unwrap_or(false))
    }

    pub fn register(&self, card_key: &str, now_ms: i64) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO cards (card_key, registered, registered_at) VALUES (?1, 1, ?2)
             ON CONFLICT (card_key) DO UPDATE SET registered = 1,
                registered_at = COALESCE(cards.registered_at, excluded.registered_at)",
            params![card_key, now_ms],
        )?;
        Ok(())
    }

    /// The card's consents as kept (items never answered are `None`).
    pub fn consents(&self, card_key: &str) -> rusqlite::Result<Consents> {
        let mut stmt =
            self.db.prepare("SELECT item, flag, time, available_until FROM consents WHERE card_key = ?1")?;
        let rows = stmt.query_map([card_key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Consent { flag: flag_at(r, 1)?, time: r.get(2)?, available_until: r.get(3)? },
            ))
        })?;
        let mut out = Consents::none();
        for row in rows {
            let (item, consent) = row?;
            let slot = match item.as_str() {
                "medication" => &mut out.medication,
                "health_checkup" => &mut out.health_checkup,
                "treatment" => &mut out.treatment,
                _ => &mut out.surgery,
            };
            *slot = Some(consent);
        }
        Ok(out)
    }

    /// Stores the answers given, in [`CONSENT_ITEMS`] order (`None` leaves an item's earlier
    /// answer in place): each answered item gets `time` and, when given, `available_until`.
    pub fn set_consents(
        &self,
        card_key: &str,
        items: [Option<bool>; 4],
        time: &str,
        available_until: &str,
    ) -> rusqlite::Result<()> {
        for (item, answer) in CONSENT_ITEMS.iter().zip(items) {
            let Some(given) = answer else { continue };
            let flag = if given { ConsentFlag::Given } else { ConsentFlag::NotGiven };
            self.db.execute(
                "INSERT INTO consents (card_key, item, flag, time, available_until) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (card_key, item) DO UPDATE SET flag = excluded.flag, time = excluded.time,
                    available_until = excluded.available_until",
                params![card_key, item, flag.code(), time, given.then_some(available_until)],
            )?;
        }
        Ok(())
    }

    pub fn issue_challenge(&self, nonce: &str, now_ms: i64, expires_ms: i64) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO challenges (nonce, origin, issued_at, expires_at) VALUES (?1, 'service', ?2, ?3)",
            params![nonce, now_ms, expires_ms],
        )?;
        Ok(())
    }

    /// Marks a service challenge used if it is fresh; answers what it was before.
    pub fn consume_challenge(&self, nonce: &str, now_ms: i64) -> rusqlite::Result<ChallengeState> {
        let row: Option<(i64, Option<i64>)> = self
            .db
            .query_row("SELECT expires_at, used_at FROM challenges WHERE nonce = ?1", [nonce], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(match row {
            None => ChallengeState::Unknown,
            Some((_, Some(_))) => ChallengeState::Used,
            Some((expires, None)) => {
                // Burnt either way: an expired challenge is not reusable.
                self.db
                    .execute("UPDATE challenges SET used_at = ?2 WHERE nonce = ?1", params![nonce, now_ms])?;
                if now_ms > expires {
                    ChallengeState::Expired
                } else {
                    ChallengeState::Fresh
                }
            }
        })
    }

    /// A host-minted (deferred) challenge: recorded as used; `Used` if it was seen before.
    pub fn consume_host_challenge(&self, nonce: &str, now_ms: i64) -> rusqlite::Result<ChallengeState> {
        let n = self.db.execute(
            "INSERT OR IGNORE INTO challenges (nonce, origin, issued_at, expires_at, used_at)
             VALUES (?1, 'host', ?2, ?2, ?2)",
            params![nonce, now_ms],
        )?;
        Ok(if n == 1 { ChallengeState::Fresh } else { ChallengeState::Used })
    }

    /// The answer given earlier to `request_id`: `(body_sha256, status, body)`.
    pub fn answer(&self, request_id: &str) -> rusqlite::Result<Option<(String, u16, String)>> {
        self.db
            .query_row(
                "SELECT body_sha256, status, body FROM answers WHERE request_id = ?1",
                [request_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
    }

    pub fn keep_answer(
        &self,
        request_id: &str,
        body_sha256: &str,
        status: u16,
        body: &str,
    ) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT OR IGNORE INTO answers (request_id, body_sha256, status, body) VALUES (?1, ?2, ?3, ?4)",
            params![request_id, body_sha256, status, body],
        )?;
        Ok(())
    }

    /// Runs `f` in one transaction (a request's checks and writes are atomic).
    pub fn transaction<T, E: From<rusqlite::Error>>(
        &mut self,
        f: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        self.db.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(v) => {
                self.db.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.db.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(from: &str, until: Option<&str>) -> QualificationRecord {
        QualificationRecord {
            card_classification: InsuredCardClassification::General,
            insurer_number: "  270009".into(),
            insurer_name: "大阪市 国民健康保険".into(),
            symbol: Some("大阪北".into()),
            number: "812345".into(),
            branch: Some("01".into()),
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

    #[test]
    fn a_qualification_is_in_force_from_its_acquisition_until_the_day_before_its_loss() {
        let q = record("20200401", Some("20250701"));
        assert!(!q.in_force_on("20200331"));
        assert!(q.in_force_on("20200401"));
        assert!(q.in_force_on("20250630"));
        assert!(!q.in_force_on("20250701"), "資格喪失年月日 is the first day without it");
        assert!(record("20200401", None).in_force_on("20991231"));
    }

    #[test]
    fn persons_qualifications_and_consents_read_back_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let person = Person {
            label: "t".into(),
            card_key: Some("k".into()),
            name: "髙﨑　𠮷乃".into(),
            name_of_other: None,
            name_kana: Some("タカサキ　ヨシノ".into()),
            name_of_other_kana: None,
            sex1: Sex::Female,
            sex2: None,
            birth_date: "19890108".into(),
            address: Some("大阪府".into()),
            post_number: Some("530-0005".into()),
            reference_number: Some("0000012345".into()),
        };
        let id = store.add_person(&person).unwrap();
        let q = record("20200401", None);
        store.add_qualification(id, &q).unwrap();
        assert_eq!(store.person_by_card("k").unwrap(), Some((id, person)));
        assert_eq!(store.qualifications_of(id).unwrap().into_iter().map(|(_, q)| q).collect::<Vec<_>>(), [q]);
        // Found by the 6-digit number however it is padded.
        assert_eq!(store.find_qualifications("270009", None, "812345", None, "19890108").unwrap().len(), 1);
        assert_eq!(
            store.find_qualifications("270009", Some("大阪南"), "812345", None, "19890108").unwrap(),
            []
        );

        store
            .set_consents("k", [Some(true), Some(false), None, None], "20261207100000", "20261208100000")
            .unwrap();
        let c = store.consents("k").unwrap();
        assert_eq!(
            c.medication.map(|c| (c.flag, c.available_until)),
            Some((ConsentFlag::Given, Some("20261208100000".into())))
        );
        assert_eq!(
            c.health_checkup.map(|c| (c.flag, c.available_until)),
            Some((ConsentFlag::NotGiven, None))
        );
        assert_eq!(c.treatment, None);
    }
}
