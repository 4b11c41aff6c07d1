//! The service's SQLite store: insured persons, cards (registration, consents), the
//! certificates seen, challenges, and the answers already given (idempotency).
//!
//! A card is keyed by its auth certificate's **issuer and serial** (`card_key`: SHA-256 of
//! the issuer Name DER, `:`, the serial in hex). That key survives re-issuing the same
//! certificate (the virtual card issues it relative to today, so its bytes and SHA-256 change
//! from day to day); the SHA-256 of every certificate seen is kept in `certs` so
//! `GET /registered?cert_sha256=` can answer.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

use shikaku_host::model::ConsentRecord;

/// One insurance qualification (資格) of a card holder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Insured {
    pub card_key: String,
    /// `active`, `lost` (資格喪失: 2 無効) or `superseded` (3 無効(新しい資格あり)).
    pub status: String,
    pub insurer_number: String,
    pub symbol: Option<String>,
    pub number: String,
    pub branch: Option<String>,
    pub name: String,
    pub name_kana: String,
    pub birth_date: String,
    pub copay_percent: u8,
    pub limit_category: Option<String>,
}

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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS insured (
    id INTEGER PRIMARY KEY,
    card_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'lost', 'superseded')),
    insurer_number TEXT NOT NULL,
    symbol TEXT,
    number TEXT NOT NULL,
    branch TEXT,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    copay_percent INTEGER NOT NULL,
    limit_category TEXT
);
CREATE INDEX IF NOT EXISTS insured_card ON insured (card_key);
CREATE TABLE IF NOT EXISTS cards (
    card_key TEXT PRIMARY KEY,
    label TEXT,
    registered INTEGER NOT NULL DEFAULT 0,
    registered_at INTEGER,
    consent_medication INTEGER,
    consent_health_checkup INTEGER,
    consent_treatment INTEGER,
    consent_surgery INTEGER,
    consents_at TEXT
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

impl Store {
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.execute_batch(SCHEMA)?;
        Ok(Self { db })
    }

    pub fn insured_count(&self) -> rusqlite::Result<u64> {
        self.db.query_row("SELECT COUNT(*) FROM insured", [], |r| r.get::<_, i64>(0)).map(|n| n as u64)
    }

    /// Removes every insured person and card (before re-seeding); certificates seen stay.
    pub fn clear_people(&self) -> rusqlite::Result<()> {
        self.db.execute_batch("DELETE FROM insured; DELETE FROM cards;")
    }

    pub fn add_insured(&self, p: &Insured) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO insured (card_key, status, insurer_number, symbol, number, branch, name, name_kana,
                birth_date, copay_percent, limit_category) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                p.card_key,
                p.status,
                p.insurer_number,
                p.symbol,
                p.number,
                p.branch,
                p.name,
                p.name_kana,
                p.birth_date,
                p.copay_percent,
                p.limit_category
            ],
        )?;
        Ok(())
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

    pub fn insured_for(&self, card_key: &str) -> rusqlite::Result<Vec<Insured>> {
        let mut stmt = self.db.prepare(
            "SELECT card_key, status, insurer_number, symbol, number, branch, name, name_kana, birth_date,
                copay_percent, limit_category FROM insured WHERE card_key = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([card_key], |r| {
            Ok(Insured {
                card_key: r.get(0)?,
                status: r.get(1)?,
                insurer_number: r.get(2)?,
                symbol: r.get(3)?,
                number: r.get(4)?,
                branch: r.get(5)?,
                name: r.get(6)?,
                name_kana: r.get(7)?,
                birth_date: r.get(8)?,
                copay_percent: r.get(9)?,
                limit_category: r.get(10)?,
            })
        })?;
        rows.collect()
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

    pub fn consents(&self, card_key: &str) -> rusqlite::Result<ConsentRecord> {
        Ok(self
            .db
            .query_row(
                "SELECT consent_medication, consent_health_checkup, consent_treatment, consent_surgery, consents_at
                 FROM cards WHERE card_key = ?1",
                [card_key],
                |r| {
                    Ok(ConsentRecord {
                        medication: r.get(0)?,
                        health_checkup: r.get(1)?,
                        treatment: r.get(2)?,
                        surgery: r.get(3)?,
                        given_at: r.get(4)?,
                    })
                },
            )
            .optional()?
            .unwrap_or(ConsentRecord {
                medication: None,
                health_checkup: None,
                treatment: None,
                surgery: None,
                given_at: None,
            }))
    }

    /// Stores the answers given (`None` leaves an item's earlier answer in place).
    pub fn set_consents(&self, card_key: &str, items: [Option<bool>; 4], at: &str) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO cards (card_key) VALUES (?1) ON CONFLICT (card_key) DO NOTHING",
            [card_key],
        )?;
        self.db.execute(
            "UPDATE cards SET consent_medication = COALESCE(?2, consent_medication),
                consent_health_checkup = COALESCE(?3, consent_health_checkup),
                consent_treatment = COALESCE(?4, consent_treatment),
                consent_surgery = COALESCE(?5, consent_surgery), consents_at = ?6
             WHERE card_key = ?1",
            params![card_key, items[0], items[1], items[2], items[3], at],
        )?;
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
