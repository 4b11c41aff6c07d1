//! Insured persons for the virtual card's personas and for the fixture test card, covering
//! every 資格有効性 code:
//!
//! | persona | qualification(s) | 資格有効性 |
//! |---|---|---|
//! | `fixture` (黒桐　幹也, the real test card's certificate) | 協会けんぽ, active | 1 |
//! | `yamada`, `expiring`, `expired` (grace), `lapsed` (refused before lookup), `lasttry` | active | 1 |
//! | `takasaki` (髙﨑　𠮷乃: outside JIS X 0208) | 国保, active, 限度額区分 ウ | 1 |
//! | `locked` | the old one superseded, the new one not yet confirmed | 3 |
//! | `faceonly` | active, but the card is **not registered** (初回登録 flow) | 1 after registration |
//! | `android` | two active qualifications | 5 |
//! | `iphone` | registered card, no qualification | 4 |
//! | `lost` (no card persona: issue one with [`persona_cert`]) | 資格喪失 | 2 |
//!
//! Personas not in this table (from a TOML file) get one active 協会けんぽ qualification.

use shikaku_card::der::Certificate;

use super::service::card_key;
use super::store::{Insured, Store};
use crate::vcard::persona::{Date, Persona, Source};
use crate::vcard::pki::{self, Hierarchy};
use crate::vcard::{fixture, keys};

/// A qualification row of the table: status, 保険者番号, 記号, 番号, 枝番, 負担割合, 限度額区分.
type Row = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    u8,
    Option<&'static str>,
);

/// (persona id, 氏名カナ, registered, qualifications).
const TABLE: &[(&str, &str, bool, &[Row])] = &[
    (
        "fixture",
        "クロギリ　ミキヤ",
        true,
        &[("active", "01130012", Some("5020013"), "47", Some("00"), 30, None)],
    ),
    (
        "yamada",
        "ヤマダ　タロウ",
        true,
        &[("active", "06273399", Some("21003"), "1024", Some("00"), 30, None)],
    ),
    (
        "takasaki",
        "タカサキ　ヨシノ",
        true,
        &[("active", "270009", Some("大阪北"), "812345", Some("01"), 30, Some("ウ"))],
    ),
    (
        "expiring",
        "スズキ　イチロウ",
        true,
        &[("active", "32130019", Some("13-7"), "55621", Some("00"), 30, Some("エ"))],
    ),
    (
        "expired",
        "サトウ　ケン",
        true,
        &[("active", "010017", Some("札中"), "3300521", Some("00"), 30, Some("イ"))],
    ),
    ("lapsed", "カトウ　エミ", true, &[("active", "01230017", Some("7070123"), "88", Some("00"), 30, None)]),
    ("lasttry", "タナカ　ミノル", true, &[("active", "39401016", None, "00731152", None, 10, Some("区分Ⅱ"))]),
    (
        "locked",
        "コバヤシ　キヨシ",
        true,
        &[
            ("lost", "39261011", None, "00918273", None, 10, None),
            ("superseded", "39261011", None, "00918274", None, 10, None),
        ],
    ),
    ("faceonly", "ナカムラ　ハル", false, &[("active", "39341019", None, "01020304", None, 10, None)]),
    (
        "android",
        "イトウ　サクラ",
        true,
        &[
            ("active", "06041234", Some("宮青"), "501", Some("01"), 30, None),
            ("active", "31040017", Some("52-3"), "77810", Some("02"), 30, None),
        ],
    ),
    ("iphone", "ワタナベ　ショウ", true, &[]),
];

/// The persona with 資格喪失 only (validity code 2). It has no built-in card persona; tests
/// issue its certificate with [`persona_cert`] on [`lost_persona`].
pub fn lost_persona() -> Persona {
    let mut p = crate::vcard::persona::find("yamada").expect("built-in persona");
    p.id = "lost".into();
    p.name = "髙橋　﨑子".into();
    p.description = "資格喪失: validity code 2".into();
    p
}

const LOST: (&str, bool, &[Row]) =
    ("タカハシ　サキコ", true, &[("lost", "06139994", Some("0307"), "30117", Some("00"), 30, None)]);

/// The persona's auth certificate as the virtual card issues it on `today` (the fixture
/// persona: the real test card's certificate).
pub fn persona_cert(p: &Persona, today: Date) -> Result<Vec<u8>, String> {
    if p.source == Source::Fixture {
        return fixture("jpki-auth-cert.der");
    }
    let key = keys::rsa_key(&format!("persona/{}/auth", p.id));
    Ok(pki::issue(p, Hierarchy::Auth, &key, &pki::ca(Hierarchy::Auth), today))
}

/// One seeded card.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub persona: String,
    pub card_key: String,
    /// SHA-256 of today's certificate.
    pub cert_sha256: String,
    pub qualifications: usize,
    pub registered: bool,
}

/// Replaces the insured persons with those of `personas` (plus the 資格喪失 persona).
pub fn seed(store: &Store, personas: &[Persona], today: Date, now_ms: i64) -> Result<Vec<Seeded>, String> {
    store.clear_people().map_err(|e| e.to_string())?;
    let mut out = vec![];
    let lost = lost_persona();
    let all = personas.iter().chain(std::iter::once(&lost));
    for p in all {
        let der = persona_cert(p, today)?;
        let cert = Certificate::parse(&der).map_err(|e| format!("persona {}: certificate: {e:?}", p.id))?;
        let key = card_key(&cert);
        let sha = shikaku_host::eligibility::wire::cert_sha256(&der);
        let (kana, registered, rows): (&str, bool, &[Row]) = if p.id == "lost" {
            LOST
        } else {
            match TABLE.iter().find(|(id, ..)| *id == p.id) {
                Some((_, kana, registered, rows)) => (kana, *registered, rows),
                None => ("", true, &[("active", "01130012", Some("0000001"), "1", Some("00"), 30, None)]),
            }
        };
        store.note_cert(&sha, &key, now_ms).map_err(|e| e.to_string())?;
        store.add_card(&key, &p.id, registered, now_ms).map_err(|e| e.to_string())?;
        for &(status, insurer, symbol, number, branch, copay, limit) in rows {
            store
                .add_insured(&Insured {
                    card_key: key.clone(),
                    status: status.into(),
                    insurer_number: insurer.into(),
                    symbol: symbol.map(Into::into),
                    number: number.into(),
                    branch: branch.map(Into::into),
                    name: p.name.clone(),
                    name_kana: if kana.is_empty() { p.name.clone() } else { kana.into() },
                    birth_date: p.birth_date.yyyymmdd(),
                    copay_percent: copay,
                    limit_category: limit.map(Into::into),
                })
                .map_err(|e| e.to_string())?;
        }
        out.push(Seeded {
            persona: p.id.clone(),
            card_key: key,
            cert_sha256: sha,
            qualifications: rows.len(),
            registered,
        });
    }
    Ok(out)
}
