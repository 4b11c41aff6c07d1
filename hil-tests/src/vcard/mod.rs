//! A faithful virtual My Number card (PC/SC simulator of CI).
//!
//! - [`card::VirtualCard`]: the card model (implements [`crate::SmartCard`]);
//! - [`persona`]: who the card belongs to and its state (built-in table or TOML);
//! - [`build`]: turns a persona into card contents (own test CA, deterministic keys);
//! - [`vpcd`]: serves a card to pcscd's `vpcd` driver.
//!
//! See `README.md` beside this file for the access rules and the decisions taken.

pub mod card;
pub mod der;
pub mod keys;
pub mod persona;
pub mod pki;
pub mod records;
pub mod vpcd;

use card::{Access, AppImage, Applet, CardImage, EfBody, VirtualCard};
use der::tlv_n;
use persona::{CardKind, Date, Persona, Source};
use pki::Hierarchy;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use card::{atr_contactless, ATR_CONTACT};

/// The shared fixtures directory: `$SHIKAKU_FIXTURES`, else `<workspace root>/../shared/fixtures`
/// found from the current directory upwards, else the path relative to this crate at build time.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SHIKAKU_FIXTURES") {
        return PathBuf::from(dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let manifest = dir.join("Cargo.toml");
            let is_workspace =
                std::fs::read_to_string(&manifest).map(|t| t.contains("[workspace]")).unwrap_or(false);
            if is_workspace {
                let candidate = dir.join("../shared/fixtures");
                if candidate.is_dir() {
                    return candidate;
                }
            }
        }
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures"))
}

/// Reads a file of `fixtures/myna-testcard/`.
pub fn fixture(name: &str) -> Result<Vec<u8>, String> {
    let path = fixtures_dir().join("myna-testcard").join(name);
    std::fs::read(&path).map_err(|e| format!("reading fixture {}: {e}", path.display()))
}

/// Which ATR the card presents.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AtrChoice {
    /// What a contactless PC/SC reader synthesises for the Type B card (default).
    #[default]
    Contactless,
    /// The card's contact ATR `3B E0 00 FF 81 31 FE 45 14`.
    Contact,
    Custom(Vec<u8>),
}

impl AtrChoice {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            AtrChoice::Contactless => atr_contactless(),
            AtrChoice::Contact => ATR_CONTACT.to_vec(),
            AtrChoice::Custom(b) => b.clone(),
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "contactless" => Ok(AtrChoice::Contactless),
            "contact" => Ok(AtrChoice::Contact),
            hex => {
                let clean: String = hex.chars().filter(|c| c.is_ascii_hexdigit()).collect();
                if clean.len() < 4 || !clean.len().is_multiple_of(2) {
                    return Err(format!("bad ATR {hex:?}: contactless, contact or hex bytes"));
                }
                (0..clean.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<u8>, _>>()
                    .map(AtrChoice::Custom)
            }
        }
    }
}

/// Everything a test may want to know about a built card besides the card itself.
#[derive(Clone)]
pub struct Issued {
    pub persona: Persona,
    pub auth_cert: Vec<u8>,
    pub auth_ca_cert: Vec<u8>,
    pub sign_cert: Option<Vec<u8>>,
    pub sign_ca_cert: Vec<u8>,
    pub auth_key: Arc<rsa::RsaPrivateKey>,
    pub sign_key: Arc<rsa::RsaPrivateKey>,
    /// Issuer keys of the text / surface AP data (their public halves are in EF `0004`).
    pub text_ap_key: Arc<rsa::RsaPrivateKey>,
    pub surface_ap_key: Arc<rsa::RsaPrivateKey>,
}

impl std::fmt::Debug for Issued {
    /// Private keys are not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("persona", &self.persona.id)
            .field("auth_cert", &format_args!("{} bytes", self.auth_cert.len()))
            .field("auth_ca_cert", &format_args!("{} bytes", self.auth_ca_cert.len()))
            .field("sign_cert", &self.sign_cert.as_ref().map(|c| format!("{} bytes", c.len())))
            .field("sign_ca_cert", &format_args!("{} bytes", self.sign_ca_cert.len()))
            .finish_non_exhaustive()
    }
}

fn bin(data: Vec<u8>, read: Access) -> EfBody {
    EfBody::Binary { data, read }
}

fn pin(value: Option<&str>, max: u8, left: u8) -> EfBody {
    EfBody::Pin { value: value.map(|v| v.as_bytes().to_vec()), max, left: left.min(max) }
}

/// Retry limit assumed for the 照合番号 A/B and the DOB key (not published; 10 chosen).
pub const CODE_TRIES: u8 = 10;

/// Token info (EF `0006`): 160 bytes, label space-padded in the first 32 bytes.
fn token_info(p: &Persona) -> Vec<u8> {
    fn field(s: &str, n: usize) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.resize(n, b' ');
        v
    }
    let serial: String =
        keys::digest(&["token-serial", &p.id])[..8].iter().map(|b| format!("{b:02X}")).collect();
    let mut v = field(p.kind.token_label(), 32);
    v.extend(field("J-LIS", 32));
    v.extend(field("JPKI-AP", 16));
    v.extend(field(&serial, 16));
    let words: [u32; 11] = [
        0x0000_040D, // RNG | LOGIN_REQUIRED | USER_PIN_INITIALIZED | TOKEN_INITIALIZED
        0,
        u32::MAX,
        0,
        u32::MAX,
        16,
        4,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
    ];
    for w in words {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(&[1, 0, 1, 0]);
    v.extend(field("", 16));
    debug_assert_eq!(v.len(), 160);
    v
}

/// Builds the card for a persona, with certificates valid relative to today.
pub fn build(p: &Persona) -> Result<(VirtualCard, Issued), String> {
    build_at(p, Date::today(), &AtrChoice::default())
}

/// Builds the card for a persona as of `today`.
pub fn build_at(p: &Persona, today: Date, atr: &AtrChoice) -> Result<(VirtualCard, Issued), String> {
    validate(p)?;
    let label = |what: &str| format!("persona/{}/{what}", p.id);
    let auth_key = keys::rsa_key(&label("auth"));
    let sign_key = keys::rsa_key(&label("sign"));
    let fixture_source = p.source == Source::Fixture;

    let (auth_cert, auth_ca_cert, sign_cert, sign_ca_cert) = if fixture_source {
        (
            fixture("jpki-auth-cert.der")?,
            fixture("jpki-auth-ca-cert.der")?,
            Some(fixture("jpki-sign-cert.der")?),
            fixture("jpki-sign-ca-cert.der")?,
        )
    } else {
        let auth_ca = pki::ca(Hierarchy::Auth);
        let sign_ca = pki::ca(Hierarchy::Sign);
        let auth = pki::issue(p, Hierarchy::Auth, &auth_key, &auth_ca, today);
        let sign =
            p.sign_password.as_ref().map(|_| pki::issue(p, Hierarchy::Sign, &sign_key, &sign_ca, today));
        (auth, auth_ca.der, sign, sign_ca.der)
    };

    // JPKI AP.
    let mut jpki = AppImage::default();
    let auth_read = match p.kind {
        CardKind::Physical => Access::Free,
        CardKind::Android | CardKind::Iphone => Access::AnyOf(vec![0x0018]),
    };
    jpki.efs.insert(0x000A, bin(auth_cert.clone(), auth_read));
    jpki.efs.insert(0x000B, bin(auth_ca_cert.clone(), Access::Free));
    if let Some(cert) = &sign_cert {
        jpki.efs.insert(0x0001, bin(cert.clone(), Access::AnyOf(vec![0x001B])));
    }
    jpki.efs.insert(0x0002, bin(sign_ca_cert.clone(), Access::Free));
    jpki.efs.insert(0x0006, bin(token_info(p), Access::Free));
    let availability = vec![if sign_cert.is_some() { 0x8F } else { 0x00 }, 0x8F, 0x00];
    jpki.efs.insert(0x0008, bin(availability, Access::Free));
    jpki.efs.insert(0x0017, EfBody::PrivateKey { key: auth_key.clone(), needs: 0x0018 });
    jpki.efs.insert(0x0018, pin(p.pin.as_deref(), 3, p.auth_tries));
    jpki.efs.insert(0x001A, EfBody::PrivateKey { key: sign_key.clone(), needs: 0x001B });
    jpki.efs.insert(0x001B, pin(p.sign_password.as_deref(), 5, p.sign_tries));

    let mut image = CardImage {
        last_command_indicator: p.kind == CardKind::Iphone,
        confirmed_on_device: p.kind == CardKind::Iphone,
        ..Default::default()
    };
    image.apps.insert(Applet::Jpki, jpki);

    let text_ap_key = keys::rsa_key(&label("text-ap"));
    let surface_ap_key = keys::rsa_key(&label("surface-ap"));

    if p.kind == CardKind::Physical {
        let (text, surface) =
            if fixture_source { fixture_aps()? } else { generated_aps(p, &text_ap_key, &surface_ap_key)? };
        image.apps.insert(Applet::Text, text_ap(p, text, &text_ap_key));
        image.apps.insert(Applet::Surface, surface_ap(p, surface, &surface_ap_key));
        image.apps.insert(Applet::Common, common_ap(p));
        image.mf_data.insert(0x00F8, fixture("mf-do-F8.bin")?);
        image.mf_data.insert(0x7F21, fixture("mf-do-7F21.bin")?);
        image.mf_data.insert(0x5F51, ATR_CONTACT[1..].to_vec());
    }

    let card = VirtualCard::new(image, atr.bytes(), &p.id);
    let issued = Issued {
        persona: p.clone(),
        auth_cert,
        auth_ca_cert,
        sign_cert,
        sign_ca_cert,
        auth_key,
        sign_key,
        text_ap_key,
        surface_ap_key,
    };
    Ok((card, issued))
}

fn validate(p: &Persona) -> Result<(), String> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(pin) = &p.pin {
        if !digits(pin, 4) {
            return Err(format!("{}: PIN must be 4 digits", p.id));
        }
    }
    if let Some(pw) = &p.sign_password {
        let ok =
            (6..=16).contains(&pw.len()) && pw.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            return Err(format!("{}: sign password must be 6-16 of A-Z0-9", p.id));
        }
    }
    if !digits(&p.security_code, 4) {
        return Err(format!("{}: security code must be 4 digits", p.id));
    }
    if !p.my_number.is_empty() && !digits(&p.my_number, 12) {
        return Err(format!("{}: 個人番号 must be 12 digits", p.id));
    }
    if !matches!(p.sex, b'1' | b'2' | b'9' | 1 | 2 | 9) {
        return Err(format!("{}: sex must be 1, 2 or 9", p.id));
    }
    Ok(())
}

/// EF contents of the text and surface APs, by EF id.
type Files = Vec<(u16, Vec<u8>)>;

fn fixture_aps() -> Result<(Files, Files), String> {
    let mut text = vec![(0x0001, fixture("text-0001-physical.bin")?)];
    for ef in 2..=7u16 {
        text.push((ef, fixture(&format!("text-{ef:04}.bin"))?));
    }
    let mut surface = vec![];
    for ef in 1..=5u16 {
        surface.push((ef, fixture(&format!("surface-{ef:04}.bin"))?));
    }
    Ok((text, surface))
}

/// The virtual cards' CV root as the reader provisions it: 証明者鍵ID and the public key's
/// modulus and exponent (big-endian). Every generated card's applet certificates chain to it.
pub fn cv_root_anchor() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use rsa::traits::PublicKeyParts;
    let key = keys::rsa_key("cv/root");
    (cv_root_id(), key.n().to_bytes_be(), key.e().to_bytes_be())
}

/// 証明者鍵ID 9000023: neither the production (5…) nor the J-LIS test (6…) hierarchy.
fn cv_root_id() -> Vec<u8> {
    pki::cv_key_id("9000023", "001")
}

/// Generated text/surface AP files (see [`records`] for the signature constructions).
fn generated_aps(
    p: &Persona,
    text_ap_key: &rsa::RsaPrivateKey,
    surface_ap_key: &rsa::RsaPrivateKey,
) -> Result<(Files, Files), String> {
    let muni = &p.municipality_code;
    let cv_root = keys::rsa_key("cv/root");
    let text_issuer = keys::rsa_key(&format!("cv/text-issuer/{muni}"));
    let surface_issuer = keys::rsa_key(&format!("cv/surface-issuer/{muni}"));
    let root_id = cv_root_id();
    let text_issuer_id = pki::cv_key_id(&format!("{muni}31"), "000");
    let surface_issuer_id = pki::cv_key_id(&format!("{muni}21"), "000");
    let sex = [p.sex_digit()];
    let dob = p.birth_date.yyyymmdd();

    // --- text AP ---
    let my_number = p.my_number();
    let mut t1 = tlv_n(0xFF10, my_number.as_bytes());
    t1.extend_from_slice(&[0xFF, 0xFF]);
    let t2 = records::with_offsets(
        0xFF20,
        0xDF21,
        &[
            tlv_n(0xDF22, p.name.as_bytes()),
            tlv_n(0xDF23, p.address.as_bytes()),
            tlv_n(0xDF24, dob.as_bytes()),
            tlv_n(0xDF25, &sex),
        ],
    );
    let t2_digest_source = {
        let (_, hl, vl) = der::parse_header(&t2).ok_or("bad FF20")?;
        let (_, thl, tvl) = der::parse_header(&t2[hl..]).ok_or("bad DF21")?;
        t2[hl + thl + tvl..hl + vl].to_vec()
    };
    let signed =
        [tlv_n(0xDF31, &keys::sha256(&t1)), tlv_n(0xDF32, &keys::sha256(&t2_digest_source))].concat();
    let t3 =
        tlv_n(0xFF30, &[signed.clone(), tlv_n(0xDF33, &keys::sign_sha256(&text_issuer, &signed))].concat());
    let t4 = pki::cv_certificate(&root_id, &text_issuer_id, &text_issuer, &cv_root);
    let mut df43 = keys::sha256(&t2).to_vec();
    df43.resize(128, 0xFF);
    let t5 = tlv_n(
        0xFF40,
        &[
            tlv_n(0xDF41, &[0x01, 0x03, 0x0E, 0x01]),
            tlv_n(0xDF42, &pki::cv_key_id("9000034", "001")),
            tlv_n(0xDF43, &df43),
        ]
        .concat(),
    );
    let t6 = tlv_n(0xA1, &pki::card_public_key(text_ap_key));
    let df51 = tlv_n(0xDF51, &pki::card_public_key(text_ap_key));
    let t7 = tlv_n(0xFF50, &[df51.clone(), tlv_n(0xDF52, &keys::sign_sha256(&text_issuer, &df51))].concat());
    let text = vec![(1, t1), (2, t2), (3, t3), (4, t4), (5, t5), (6, t6), (7, t7)];

    // --- surface AP ---
    let ap_pub = pki::card_public_key(surface_ap_key);
    let s1_signed = [tlv_n(0xDF11, dob.as_bytes()), tlv_n(0xDF12, &ap_pub)].concat();
    let s1 = tlv_n(
        0xFF10,
        &[s1_signed.clone(), tlv_n(0xDF13, &keys::sign_sha256(&surface_issuer, &s1_signed))].concat(),
    );
    let photo = {
        let face = fixture("surface-0002.bin")?;
        records::child(&face, 0xDF27).ok_or("fixture surface-0002.bin has no DF27")?.to_vec()
    };
    let seg1 = [tlv_n(0xDF22, dob.as_bytes()), tlv_n(0xDF23, &sex), tlv_n(0xDF24, &ap_pub)];
    let seg2 =
        [tlv_n(0xDF25, &records::render_png(&p.name)), tlv_n(0xDF26, &records::render_png(&p.address))];
    let seg3 = tlv_n(0xDF27, &photo);
    let mut digests = Vec::with_capacity(96);
    digests.extend_from_slice(&keys::sha256(&seg1.concat()));
    digests.extend_from_slice(&keys::sha256(&seg2.concat()));
    digests.extend_from_slice(&keys::sha256(&seg3));
    let df28 = keys::sign_raw(&surface_issuer, &keys::sha256_digest_info(&digests))
        .ok_or("signing the card face")?;
    let mut face_fields: Vec<Vec<u8>> = seg1.to_vec();
    face_fields.extend(seg2);
    face_fields.push(seg3);
    face_fields.push(tlv_n(0xDF28, &df28));
    face_fields.push(tlv_n(0xDF29, p.card_expiry.yyyymmdd().as_bytes()));
    face_fields.push(tlv_n(0xDF2A, &records::render_png(&p.security_code)));
    let s2 = records::with_offsets(0xFF20, 0xDF21, &face_fields);
    let mut df35 = pki::cv_key_id("9900025", "001");
    let mut r = keys::rng(&format!("df35/{}", p.id));
    let mut opaque = [0u8; 256];
    rand_core::RngCore::fill_bytes(&mut r, &mut opaque);
    df35.extend_from_slice(&opaque);
    let s3 = tlv_n(
        0xFF30,
        &[
            tlv_n(0xDF31, &[0x06, 0x03, 0x0E, 0x01]),
            tlv_n(0xDF32, &pki::cv_key_id("9000024", "001")),
            tlv_n(0xDF33, &[0x00]),
            tlv_n(0xDF34, muni.as_bytes()),
            tlv_n(0xDF35, &df35),
        ]
        .concat(),
    );
    let s4 = pki::cv_certificate(&root_id, &surface_issuer_id, &surface_issuer, &cv_root);
    let s5_signed = [tlv_n(0xDF41, &records::render_png(&my_number)), tlv_n(0xDF42, &ap_pub)].concat();
    let s5 = tlv_n(
        0xFF40,
        &[s5_signed.clone(), tlv_n(0xDF43, &keys::sign_sha256(&surface_issuer, &s5_signed))].concat(),
    );
    let surface = vec![(1, s1), (2, s2), (3, s3), (4, s4), (5, s5)];
    Ok((text, surface))
}

fn text_ap(p: &Persona, files: Files, key: &Arc<rsa::RsaPrivateKey>) -> AppImage {
    const PIN: u16 = 0x0011;
    const A: u16 = 0x0014;
    const B: u16 = 0x0015;
    let mut app = AppImage { ap_key: Some(key.clone()), ..Default::default() };
    for (ef, data) in files {
        let read = match ef {
            1 => Access::AnyOf(vec![PIN, A]),
            2 | 3 => Access::AnyOf(vec![PIN, A, B]),
            _ => Access::Free,
        };
        app.efs.insert(ef, bin(data, read));
    }
    app.efs.insert(PIN, pin(p.pin.as_deref(), 3, p.text_tries));
    // 0012: issued blocked on every card examined (63C0 / 6984).
    app.efs.insert(0x0012, pin(None, 3, 0));
    app.efs.insert(A, pin(Some(&p.code_a()), CODE_TRIES, CODE_TRIES));
    app.efs.insert(B, pin(Some(&p.code_b()), CODE_TRIES, CODE_TRIES));
    app
}

fn surface_ap(p: &Persona, files: Files, key: &Arc<rsa::RsaPrivateKey>) -> AppImage {
    const DOB: u16 = 0x0011;
    const B: u16 = 0x0012;
    const A: u16 = 0x0013;
    let mut app = AppImage { ap_key: Some(key.clone()), ..Default::default() };
    for (ef, data) in files {
        let read = match ef {
            1 => Access::AnyOf(vec![DOB, A, B]),
            2 => Access::AnyOf(vec![A, B]),
            5 => Access::AnyOf(vec![A]),
            _ => Access::Free,
        };
        app.efs.insert(ef, bin(data, read));
    }
    app.efs.insert(DOB, pin(Some(&p.birth_date.wareki_yymmdd()), CODE_TRIES, CODE_TRIES));
    app.efs.insert(B, pin(Some(&p.code_b()), CODE_TRIES, CODE_TRIES));
    app.efs.insert(A, pin(Some(&p.code_a()), CODE_TRIES, CODE_TRIES));
    app
}

/// 共通カードAP: EF `0001` card info record `01 1C <serial 15><municipality 5><expiry 8>`,
/// `0019` internal-authentication key (no credential), `001C` PIN (the persona's PIN, 3 tries).
fn common_ap(p: &Persona) -> AppImage {
    let d = keys::digest(&["card-serial", &p.id]);
    let serial: String = d[..15].iter().map(|b| char::from(b'0' + b % 10)).collect();
    let info = format!("{serial}{}{}", p.municipality_code, p.card_expiry.yyyymmdd());
    let mut record = vec![0x01, info.len() as u8];
    record.extend_from_slice(info.as_bytes());
    let mut app = AppImage::default();
    app.efs.insert(0x0001, EfBody::Records { records: vec![record], read: Access::Free });
    app.efs.insert(0x0019, EfBody::AuthKey { key: keys::rsa_key(&format!("persona/{}/common-ia", p.id)) });
    app.efs.insert(0x001C, pin(p.pin.as_deref(), 3, 3));
    app
}

/// Loads personas from a TOML file, or the built-ins when `path` is `None`.
pub fn load_personas(path: Option<&Path>) -> Result<Vec<Persona>, String> {
    match path {
        None => Ok(persona::builtin()),
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            persona::parse_toml(&text)
        }
    }
}

/// Builds the built-in persona `id` and serves it to vpcd on `port` from a background thread
/// (35963 = reader "Virtual PCD 00 00", 35964 = "… 00 01"). Drop the server to remove the card.
pub fn spawn_persona(id: &str, port: u16) -> Result<(vpcd::CardServer<VirtualCard>, Issued), String> {
    let p = persona::find(id).ok_or_else(|| format!("no built-in persona {id:?}"))?;
    let (card, issued) = build(&p)?;
    let cfg = vpcd::VpcdConfig { port, ..Default::default() };
    Ok((vpcd::spawn(card, cfg), issued))
}
