//! The virtual card's own test PKI: JPKI-shaped X.509 certificates (same fields, extensions and
//! order as the fixture's `jpki-auth-cert.der` / `jpki-sign-cert.der`) under self-signed test
//! CAs, and card-verifiable (CV) certificates in the 券面 APs' layout.
//!
//! The CAs are named `O=SHIKAKU-VCARD-TEST` so that nothing can mistake them for J-LIS (or
//! J-LIS's own `JPKI-TEST`) roots; policies and OUs are those of the JPKI test hierarchy.

use super::der::*;
use super::keys::{self, exponent, modulus};
use super::persona::{DateTime, Persona};
use rsa::RsaPrivateKey;

pub const CA_ORG: &str = "SHIKAKU-VCARD-TEST";
const JLIS: &str = "Japan Agency for Local Authority Information Systems";
const SHA256_RSA: &str = "1.2.840.113549.1.1.11";

/// Which of the two JPKI hierarchies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    Auth,
    Sign,
}

impl Hierarchy {
    fn ou(self) -> &'static str {
        match self {
            Hierarchy::Auth => "JPKI for user authentication",
            Hierarchy::Sign => "JPKI for digital signature",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Hierarchy::Auth => "auth",
            Hierarchy::Sign => "sign",
        }
    }
    /// Certificate policy of the JPKI test hierarchy (…0.30 auth, …0.20 sign).
    fn policy(self) -> &'static str {
        match self {
            Hierarchy::Auth => "1.2.392.200149.8.5.1.0.30",
            Hierarchy::Sign => "1.2.392.200149.8.5.1.0.20",
        }
    }
    /// Japanese OU of the issuer alternative name.
    fn ian_ou(self) -> &'static str {
        match self {
            Hierarchy::Auth => "公的個人認証サービス利用者証明用",
            Hierarchy::Sign => "公的個人認証サービス署名用",
        }
    }
}

fn rdn(oid_s: &str, value: Vec<u8>) -> Vec<u8> {
    set(&[seq(&[oid(oid_s), value])])
}

const C: &str = "2.5.4.6";
const O: &str = "2.5.4.10";
const OU: &str = "2.5.4.11";
const CN: &str = "2.5.4.3";
const L: &str = "2.5.4.7";

/// `C=JP, O=SHIKAKU-VCARD-TEST, OU=<hierarchy>, OU=J-LIS` (the CA's DN).
pub fn ca_name(h: Hierarchy) -> Vec<u8> {
    seq(&[rdn(C, printable("JP")), rdn(O, utf8(CA_ORG)), rdn(OU, utf8(h.ou())), rdn(OU, utf8(JLIS))])
}

fn alg() -> Vec<u8> {
    seq(&[oid(SHA256_RSA), null()])
}

fn spki(key: &RsaPrivateKey) -> Vec<u8> {
    let rsa_pub = seq(&[uint(&modulus(key)), uint(&exponent(key))]);
    seq(&[seq(&[oid("1.2.840.113549.1.1.1"), null()]), bits(&rsa_pub)])
}

/// SHA-1-style key identifier: we use the first 20 bytes of SHA-256 of the public key bits.
pub fn key_id(key: &RsaPrivateKey) -> Vec<u8> {
    let rsa_pub = seq(&[uint(&modulus(key)), uint(&exponent(key))]);
    keys::sha256(&rsa_pub)[..20].to_vec()
}

fn ext(oid_s: &str, critical: bool, value: Vec<u8>) -> Vec<u8> {
    if critical {
        seq(&[oid(oid_s), boolean(true), octets(&value)])
    } else {
        seq(&[oid(oid_s), octets(&value)])
    }
}

fn ian(h: Hierarchy, ca: bool) -> Vec<u8> {
    // DirName: C=JP, O=公的個人認証サービス[, OU=…用, OU=地方公共団体情報システム機構]
    let mut rdns = vec![rdn(C, printable("JP")), rdn(O, utf8("公的個人認証サービス"))];
    if !ca {
        rdns.push(rdn(OU, utf8(h.ian_ou())));
        rdns.push(rdn(OU, utf8("地方公共団体情報システム機構")));
    }
    seq(&[ctx_cons(4, &seq(&rdns))])
}

fn crldp(h: Hierarchy, p: Option<&Persona>) -> Vec<u8> {
    let mut rdns = vec![rdn(C, printable("JP")), rdn(O, utf8(CA_ORG)), rdn(OU, utf8(h.ou()))];
    match p {
        Some(p) => {
            rdns.push(rdn(OU, utf8("CRL Distribution Points")));
            rdns.push(rdn(OU, utf8(&p.prefecture)));
            rdns.push(rdn(CN, utf8(&format!("{} CRLDP", p.city))));
        }
        None => rdns.push(rdn(OU, utf8(JLIS))),
    }
    // CRLDistributionPoints ::= SEQ { DistributionPoint { [0] { [0] fullName { [4] dirName } } } }
    let dir = ctx_cons(4, &seq(&rdns));
    seq(&[seq(&[ctx_cons(0, &ctx_cons(0, &dir))])])
}

fn cert_policies(h: Hierarchy) -> Vec<u8> {
    let cps = seq(&[oid("1.3.6.1.5.5.7.2.1"), ia5("http://www.jpki.go.jp/cps.html")]);
    seq(&[seq(&[oid(h.policy()), seq(&[cps])])])
}

/// The self-signed CA certificate and its key.
pub struct Ca {
    pub hierarchy: Hierarchy,
    pub key: std::sync::Arc<RsaPrivateKey>,
    pub der: Vec<u8>,
    pub serial: u64,
}

pub fn ca(h: Hierarchy) -> Ca {
    let key = keys::rsa_key(&format!("ca/{}", h.label()));
    let serial = 0x5A_0000 + if h == Hierarchy::Auth { 1 } else { 2 };
    let name = ca_name(h);
    let nb = super::persona::Date::new(2023, 3, 23).at(2, 5, 2);
    let na = super::persona::Date::new(2043, 3, 22).at(14, 59, 59);
    let exts = seq(&[
        ext("2.5.29.15", true, bits_ku(&[0x06])),
        ext("2.5.29.17", false, ian(h, true)),
        ext("2.5.29.19", true, seq(&[boolean(true)])),
        ext("2.5.29.31", false, crldp(h, None)),
        ext("2.5.29.14", false, octets(&key_id(&key))),
    ]);
    let tbs = seq(&[
        ctx_cons(0, &uint_u64(2)),
        uint_u64(serial),
        alg(),
        name.clone(),
        seq(&[utc_time(&nb), utc_time(&na)]),
        name,
        spki(&key),
        ctx_cons(3, &exts),
    ]);
    let der = finish(&tbs, &key);
    Ca { hierarchy: h, key, der, serial }
}

/// KeyUsage BIT STRING with given first byte (no unused-bit trimming needed for our values).
fn bits_ku(b: &[u8]) -> Vec<u8> {
    // keyCertSign|cRLSign = 0x06 with 1 unused bit; digitalSignature 0x80 (7 unused);
    // digitalSignature|nonRepudiation 0xC0 (6 unused) — as the fixture encodes them.
    let unused = match b[0] {
        0x80 => 7,
        0xC0 => 6,
        0x06 => 1,
        _ => 0,
    };
    let mut v = vec![unused];
    v.extend_from_slice(b);
    tlv(&[0x03], &v)
}

fn finish(tbs: &[u8], key: &RsaPrivateKey) -> Vec<u8> {
    let sig = keys::sign_sha256(key, tbs);
    seq(&[tbs.to_vec(), alg(), bits(&sig)])
}

/// Validity window of the persona's certificates relative to `today`.
pub fn validity(p: &Persona, today: super::persona::Date) -> (DateTime, DateTime) {
    use super::persona::CertState::*;
    let (issue, not_after) = match p.cert {
        Valid => {
            let issue = today.add_days(-400);
            // The 5th birthday after the day of issue.
            let mut first = p.birth_date.with_year(issue.year);
            if first <= issue {
                first = p.birth_date.with_year(issue.year + 1);
            }
            (issue, p.birth_date.with_year(first.year + 4))
        }
        Expiring => {
            let na = today.add_days(60);
            (na.add_days(-5 * 365), na)
        }
        Expired => {
            let na = today.add_days(-30);
            (na.add_days(-5 * 365), na)
        }
        Lapsed => {
            let na = today.add_days(-200);
            (na.add_days(-5 * 365), na)
        }
    };
    // Issued 10:35:42 JST like the fixture; valid until 23:59:59 JST.
    (issue.at(1, 35, 42), not_after.at(14, 59, 59))
}

fn persona_serial(p: &Persona, h: Hierarchy) -> u64 {
    let d = keys::digest(&["serial", &p.id, h.label()]);
    0x10_0000 + (u64::from(d[0]) << 16 | u64::from(d[1]) << 8 | u64::from(d[2])) % 0xE0_0000
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Auth subject CN: 14 serial-like characters + municipality code + `003A` (23 chars).
fn auth_cn(p: &Persona) -> String {
    let d = keys::digest(&["auth-cn", &p.id]);
    let mut s: String = d[..14].iter().map(|b| ALNUM[usize::from(*b) % 36] as char).collect();
    s.push_str(&p.municipality_code);
    s.push_str("003A");
    s
}

/// Sign subject CN: issue timestamp + 7 digits + municipality code + `003A` (28 chars).
fn sign_cn(p: &Persona, issued: &DateTime) -> String {
    let d = keys::digest(&["sign-cn", &p.id]);
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 10_000_000;
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:07}{}003A",
        issued.year, issued.month, issued.day, issued.hour, issued.minute, n, p.municipality_code
    )
}

/// Characters outside JIS X 0208 that the JPKI certificate replaces (代替文字) and flags.
fn substitute(c: char) -> Option<char> {
    Some(match c {
        '髙' => '高',
        '﨑' => '崎',
        '𠮷' => '吉',
        '德' => '徳',
        '彅' => '薙',
        '栁' => '柳',
        '隆' => '隆',
        _ => return None,
    })
}

/// (text with 代替文字, position flags `0`/`1` per character).
fn jis_substituted(s: &str) -> (String, String) {
    let mut out = String::new();
    let mut flags = String::new();
    for c in s.chars() {
        match substitute(c) {
            Some(r) => {
                out.push(r);
                flags.push('1');
            }
            None => {
                out.push(c);
                flags.push('0');
            }
        }
    }
    (out, flags)
}

fn other_name(oid_s: &str, value: &str) -> Vec<u8> {
    ctx_cons(0, &[oid(oid_s), ctx_cons(0, &utf8(value))].concat())
}

/// Issues the persona's JPKI certificate of hierarchy `h` for `key`.
pub fn issue(
    p: &Persona,
    h: Hierarchy,
    key: &RsaPrivateKey,
    ca: &Ca,
    today: super::persona::Date,
) -> Vec<u8> {
    let (nb, na) = validity(p, today);
    let subject = match h {
        Hierarchy::Auth => seq(&[rdn(C, printable("JP")), rdn(CN, utf8(&auth_cn(p)))]),
        Hierarchy::Sign => seq(&[
            rdn(C, printable("JP")),
            rdn(L, utf8(&p.prefecture)),
            rdn(L, utf8(&p.city)),
            rdn(CN, utf8(&sign_cn(p, &nb))),
        ]),
    };
    let aki = seq(&[
        ctx_prim(0, &key_id(&ca.key)),
        ctx_cons(1, &ctx_cons(4, &ca_name(h))),
        ctx_prim(2, &uint_u64(ca.serial)[2..]),
    ]);
    let mut exts = vec![];
    match h {
        Hierarchy::Auth => {
            exts.push(ext("2.5.29.15", true, bits_ku(&[0x80])));
            exts.push(ext("2.5.29.37", false, seq(&[oid("1.3.6.1.5.5.7.3.2")])));
        }
        Hierarchy::Sign => {
            exts.push(ext("2.5.29.15", true, bits_ku(&[0xC0])));
            let (name, name_flags) = jis_substituted(&p.name);
            let (addr, addr_flags) = jis_substituted(&p.address);
            let (era, _) = p.birth_date.era();
            let san = seq(&[
                other_name("1.2.392.200149.8.5.5.1", &name),
                other_name("1.2.392.200149.8.5.5.4", &format!("{}{}", era, p.birth_date.yyyymmdd())),
                other_name("1.2.392.200149.8.5.5.3", &(p.sex_digit() as char).to_string()),
                other_name("1.2.392.200149.8.5.5.5", &addr),
                other_name("1.2.392.200149.8.5.5.2", &name_flags),
                other_name("1.2.392.200149.8.5.5.6", &addr_flags),
            ]);
            exts.push(ext("2.5.29.17", false, san));
        }
    }
    exts.push(ext("2.5.29.32", true, cert_policies(h)));
    exts.push(ext("2.5.29.18", false, ian(h, false)));
    exts.push(ext("2.5.29.31", false, crldp(h, Some(p))));
    if h == Hierarchy::Auth {
        let aia =
            seq(&[seq(&[oid("1.3.6.1.5.5.7.48.1"), ctx_prim(6, b"http://ocsp.shikaku-vcard.invalid")])]);
        exts.push(ext("1.3.6.1.5.5.7.1.1", false, aia));
    }
    exts.push(ext("2.5.29.35", false, aki));
    exts.push(ext("2.5.29.14", false, octets(&key_id(key))));
    let tbs = seq(&[
        ctx_cons(0, &uint_u64(2)),
        uint_u64(persona_serial(p, h)),
        alg(),
        ca_name(h),
        seq(&[utc_time(&nb), utc_time(&na)]),
        subject,
        spki(key),
        ctx_cons(3, &seq(&exts)),
    ]);
    finish(&tbs, &ca.key)
}

/// The card's public-key encoding `90 <e> 91 82 01 00 <n>` (265 bytes for e = 65537).
pub fn card_public_key(key: &RsaPrivateKey) -> Vec<u8> {
    [tlv(&[0x90], &exponent(key)), tlv(&[0x91], &modulus(key))].concat()
}

/// A 16-byte key identifier: 7 digits, `08 05`, 3 digits, 4 zero bytes (as on the card).
pub fn cv_key_id(number: &str, group: &str) -> Vec<u8> {
    let mut v = number.as_bytes()[..7].to_vec();
    v.extend_from_slice(&[0x08, 0x05]);
    v.extend_from_slice(&group.as_bytes()[..3]);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v
}

/// A CV certificate `7F21 { 5F4E <issuer id, subject id, key> 5F37 <signature> }`.
pub fn cv_certificate(
    issuer_id: &[u8],
    subject_id: &[u8],
    subject_key: &RsaPrivateKey,
    ca_key: &RsaPrivateKey,
) -> Vec<u8> {
    let body = [issuer_id, subject_id, &card_public_key(subject_key)].concat();
    let sig = keys::sign_sha256(ca_key, &body);
    tlv_n(0x7F21, &[tlv_n(0x5F4E, &body), tlv_n(0x5F37, &sig)].concat())
}
