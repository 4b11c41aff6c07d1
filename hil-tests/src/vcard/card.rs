//! The card model: applets, EFs with access rules, retry counters, volatile security state and
//! the APDU interpreter. Contents come from [`super::build`]; behaviour is documented in
//! `hil-tests/src/vcard/README.md`.

use super::keys;
use crate::SmartCard;
use rand_core::RngCore;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const AID_JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
pub const AID_TEXT: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
pub const AID_SURFACE: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];
pub const AID_JUKI: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01];
pub const AID_COMMON: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00];
/// GlobalPlatform Issuer Security Domain: selecting it restores the MF-level state.
pub const AID_GP_ISD: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00];

/// The contact-interface ATR of the card (OpenSC's JPKI driver matches it).
pub const ATR_CONTACT: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

/// The ATR a PC/SC contactless reader synthesises for this Type B card (PC/SC part 3:
/// `3B 88 80 01`, ATQB application data, protocol info `B3 81 A1`, MBLI/CID, TCK).
pub fn atr_contactless() -> Vec<u8> {
    let mut atr = vec![0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0xB3, 0x81, 0xA1, 0x00];
    let tck = atr[1..].iter().fold(0u8, |a, b| a ^ b);
    atr.push(tck);
    atr
}

/// ATQB protocol info observed on the card: 106/212/424 kbit/s, frame size 256, FWI 10, CID.
pub const ATQB_PROTOCOL_INFO: [u8; 3] = [0xB3, 0x81, 0xA1];

/// ATQB (without CRC) for a simulated ISO 14443-4 Type B front end: `50`, PUPI, application
/// data (zero, as in the synthesised contactless ATR), protocol info.
pub fn atqb(pupi: [u8; 4]) -> [u8; 12] {
    let mut a = [0u8; 12];
    a[0] = 0x50;
    a[1..5].copy_from_slice(&pupi);
    a[9..12].copy_from_slice(&ATQB_PROTOCOL_INFO);
    a
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Applet {
    Jpki,
    Text,
    Surface,
    /// 共通カードAP, minimal: card-info record, internal-authentication key, PIN.
    Common,
}

/// Who may read an EF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Free,
    /// After any one of these key EFs was verified in the current applet session.
    AnyOf(Vec<u16>),
}

#[derive(Clone, Debug)]
pub enum EfBody {
    /// Transparent EF.
    Binary { data: Vec<u8>, read: Access },
    /// Key EF holding a PIN / 照合番号 (VERIFY target). `value: None` = no usable reference data.
    Pin { value: Option<Vec<u8>>, max: u8, left: u8 },
    /// Private key EF (sign target), usable after `needs` was verified.
    PrivateKey { key: Arc<RsaPrivateKey>, needs: u16 },
    /// Record-structured EF (READ RECORD).
    Records { records: Vec<Vec<u8>>, read: Access },
    /// INTERNAL AUTHENTICATE key, usable without a credential (共通カードAP `0019`).
    AuthKey { key: Arc<RsaPrivateKey> },
}

#[derive(Clone, Debug, Default)]
pub struct AppImage {
    pub efs: BTreeMap<u16, EfBody>,
    /// AP key signing challenges with `80 2A 00 00` without PIN (text and surface APs).
    pub ap_key: Option<Arc<RsaPrivateKey>>,
}

/// Everything non-volatile on the card.
#[derive(Clone, Debug, Default)]
pub struct CardImage {
    pub apps: BTreeMap<Applet, AppImage>,
    /// GET DATA objects answered with no DF selected (tag → value).
    pub mf_data: BTreeMap<u16, Vec<u8>>,
    /// iPhone JPKI-token profile: `80 FC 00 00` (last-command indicator) answers 9000; the
    /// physical card rejects it with 6700.
    pub last_command_indicator: bool,
    /// iPhone: the phone confirms its owner itself (Face ID / the app's own PIN) before it
    /// answers, so towards the reader the auth key is usable as soon as JPKI is selected.
    pub confirmed_on_device: bool,
}

/// A virtual My Number card.
pub struct VirtualCard {
    image: CardImage,
    atr: Vec<u8>,
    /// `None` = MF level (power-on state).
    selected: Option<Applet>,
    current_ef: Option<u16>,
    verified: BTreeSet<u16>,
    rng: rand_chacha::ChaCha20Rng,
    /// Every exchange (C-APDU, R-APDU) for tests and the `--trace` option.
    pub trace: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// Status words.
pub mod sw {
    pub const OK: u16 = 0x9000;
    pub const WRONG_LENGTH: u16 = 0x6700;
    pub const CHANNEL_NOT_SUPPORTED: u16 = 0x6881;
    pub const SM_NOT_SUPPORTED: u16 = 0x6882;
    pub const FILE_STRUCTURE: u16 = 0x6981;
    pub const SECURITY: u16 = 0x6982;
    pub const BLOCKED: u16 = 0x6984;
    pub const CONDITIONS: u16 = 0x6985;
    pub const NO_CURRENT_EF: u16 = 0x6986;
    pub const NOT_FOUND: u16 = 0x6A82;
    pub const WRONG_P1P2: u16 = 0x6A86;
    pub const DATA_NOT_FOUND: u16 = 0x6A88;
    pub const OFFSET: u16 = 0x6B00;
    pub const INS: u16 = 0x6D00;
    pub const CLA: u16 = 0x6E00;
}

/// A parsed command APDU.
#[derive(Debug)]
struct Apdu<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
    /// Expected length (256 / 65536 for a zero Le), `None` when absent.
    le: Option<usize>,
    extended: bool,
}

fn parse(c: &[u8]) -> Option<Apdu<'_>> {
    if c.len() < 4 {
        return None;
    }
    let (cla, ins, p1, p2) = (c[0], c[1], c[2], c[3]);
    let mk = |data, le, extended| Apdu { cla, ins, p1, p2, data, le, extended };
    let body = &c[4..];
    match body.len() {
        0 => Some(mk(&[], None, false)),
        1 => Some(mk(&[], Some(if body[0] == 0 { 256 } else { usize::from(body[0]) }), false)),
        _ if body[0] != 0 => {
            let lc = usize::from(body[0]);
            if body.len() == 1 + lc {
                Some(mk(&body[1..], None, false))
            } else if body.len() == 2 + lc {
                let le = body[1 + lc];
                Some(mk(&body[1..1 + lc], Some(if le == 0 { 256 } else { usize::from(le) }), false))
            } else {
                None
            }
        }
        3 => {
            let le = usize::from(u16::from_be_bytes([body[1], body[2]]));
            Some(mk(&[], Some(if le == 0 { 65536 } else { le }), true))
        }
        n if n > 3 => {
            let lc = usize::from(u16::from_be_bytes([body[1], body[2]]));
            if lc == 0 {
                return None;
            }
            if n == 3 + lc {
                Some(mk(&body[3..], None, true))
            } else if n == 5 + lc {
                let le = usize::from(u16::from_be_bytes([body[3 + lc], body[4 + lc]]));
                Some(mk(&body[3..3 + lc], Some(if le == 0 { 65536 } else { le }), true))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn status(sw: u16) -> Vec<u8> {
    sw.to_be_bytes().to_vec()
}

fn data_ok(mut data: Vec<u8>) -> Vec<u8> {
    data.extend_from_slice(&[0x90, 0x00]);
    data
}

impl VirtualCard {
    pub fn new(image: CardImage, atr: Vec<u8>, seed: &str) -> Self {
        VirtualCard {
            image,
            atr,
            selected: None,
            current_ef: None,
            verified: BTreeSet::new(),
            rng: keys::rng(&format!("challenge/{seed}")),
            trace: None,
        }
    }

    pub fn image(&self) -> &CardImage {
        &self.image
    }

    pub fn set_atr(&mut self, atr: Vec<u8>) {
        self.atr = atr;
    }

    /// Retries left on a key EF (for tests and diagnostics).
    pub fn tries_left(&self, app: Applet, ef: u16) -> Option<u8> {
        match self.image.apps.get(&app)?.efs.get(&ef)? {
            EfBody::Pin { left, .. } => Some(*left),
            _ => None,
        }
    }

    fn app(&self) -> Option<&AppImage> {
        self.image.apps.get(&self.selected?)
    }

    fn handle(&mut self, c: &[u8]) -> Vec<u8> {
        let Some(a) = parse(c) else {
            return status(sw::WRONG_LENGTH);
        };
        // Logical channels (bits 1-0, or the further-channel CLA range) are not supported.
        if a.cla & 0x03 != 0 || (a.cla & 0xE0) == 0x40 || (a.cla & 0xE0) == 0x60 {
            return status(sw::CHANNEL_NOT_SUPPORTED);
        }
        if a.cla & 0x0C != 0 {
            return status(sw::SM_NOT_SUPPORTED);
        }
        let proprietary = a.cla == 0x80;
        if a.cla != 0x00 && !proprietary {
            return status(sw::CLA);
        }
        match (proprietary, a.ins) {
            (false, 0xA4) => self.select(&a),
            (false, 0xB0) => self.read_binary(&a),
            (false, 0x20) => self.verify(&a),
            (false, 0x24) => self.change_reference_data(&a),
            (false, 0x84) => self.get_challenge(&a),
            (false, 0xCA) => self.get_data(&a),
            (true, 0x2A) => self.sign(&a),
            (true, 0xFC) if self.image.last_command_indicator && a.data.is_empty() => status(sw::OK),
            (true, 0xFC) => status(sw::WRONG_LENGTH),
            (false, 0x2A) => status(sw::CLA),
            // SET SESSION KEY (secure messaging is not simulated): what the real card answers
            // where it has no session to offer — JPKI 6982, surface 66F1; text 6985 here.
            (true, 0xAE) => match self.selected {
                Some(Applet::Jpki) => status(sw::SECURITY),
                Some(Applet::Surface) => status(0x66F1),
                _ => status(sw::CONDITIONS),
            },
            // MANAGE CHANNEL: only the basic channel exists.
            (false, 0x70) => status(sw::CHANNEL_NOT_SUPPORTED),
            (false, 0xB2) => self.read_record(&a),
            (false, 0x88) => self.internal_authenticate(&a),
            (false, 0xC0) => status(sw::CONDITIONS),
            _ => status(sw::INS),
        }
    }

    fn enter(&mut self, applet: Option<Applet>) {
        // Selecting an applet (even the same one again) clears the verified state.
        self.selected = applet;
        self.current_ef = None;
        self.verified.clear();
        if self.image.confirmed_on_device && applet == Some(Applet::Jpki) {
            self.verified.insert(0x0018);
        }
    }

    fn select(&mut self, a: &Apdu) -> Vec<u8> {
        if a.p2 != 0x0C && a.p2 != 0x00 {
            return status(sw::WRONG_P1P2);
        }
        match a.p1 {
            0x04 => {
                if a.data.is_empty() || a.data.len() > 16 {
                    return status(sw::WRONG_LENGTH);
                }
                let applet = if a.data == AID_JPKI {
                    Applet::Jpki
                } else if a.data == AID_TEXT {
                    Applet::Text
                } else if a.data == AID_SURFACE {
                    Applet::Surface
                } else if a.data == AID_COMMON {
                    Applet::Common
                } else if a.data == AID_GP_ISD {
                    self.enter(None);
                    return status(sw::OK);
                } else {
                    // 住基 is not modelled; every other AID is unknown.
                    return status(sw::NOT_FOUND);
                };
                if !self.image.apps.contains_key(&applet) {
                    return status(sw::NOT_FOUND);
                }
                self.enter(Some(applet));
                status(sw::OK)
            }
            0x02 => {
                if a.data.len() != 2 {
                    return status(sw::WRONG_LENGTH);
                }
                let id = u16::from_be_bytes([a.data[0], a.data[1]]);
                match self.app() {
                    Some(app) if app.efs.contains_key(&id) => {
                        self.current_ef = Some(id);
                        status(sw::OK)
                    }
                    _ => status(sw::NOT_FOUND),
                }
            }
            // ISO "select MF" `00 A4 00 00`: refused at power-on, a no-op inside an applet;
            // 3F00 by identifier is not found (as observed on the real card).
            0x00 if a.data.is_empty() => {
                if self.selected.is_none() {
                    status(sw::WRONG_P1P2)
                } else {
                    status(sw::OK)
                }
            }
            0x00 => status(sw::NOT_FOUND),
            _ => status(sw::WRONG_P1P2),
        }
    }

    /// Resolves a short EF identifier (`0` = current EF) to an EF of the current applet; makes it
    /// current.
    fn resolve_sfi(&mut self, sfi: u8) -> Result<u16, u16> {
        if sfi == 0 {
            return self.current_ef.ok_or(sw::NO_CURRENT_EF);
        }
        let id = u16::from(sfi);
        match self.app() {
            Some(app) if app.efs.contains_key(&id) => {
                self.current_ef = Some(id);
                Ok(id)
            }
            _ => Err(sw::NOT_FOUND),
        }
    }

    fn allowed(&self, access: &Access) -> bool {
        match access {
            Access::Free => true,
            Access::AnyOf(keys) => keys.iter().any(|k| self.verified.contains(k)),
        }
    }

    fn read_binary(&mut self, a: &Apdu) -> Vec<u8> {
        if !a.data.is_empty() {
            return status(sw::WRONG_LENGTH);
        }
        let (id, offset) = if a.p1 & 0x80 != 0 {
            if a.p1 & 0x60 != 0 {
                return status(sw::WRONG_P1P2);
            }
            match self.resolve_sfi(a.p1 & 0x1F) {
                Ok(id) => (id, usize::from(a.p2)),
                Err(e) => return status(e),
            }
        } else {
            match self.current_ef {
                Some(id) => (id, usize::from(a.p1) << 8 | usize::from(a.p2)),
                None => return status(sw::NO_CURRENT_EF),
            }
        };
        let le = a.le.unwrap_or(256);
        let Some(ef) = self.app().and_then(|app| app.efs.get(&id)) else {
            return status(sw::NO_CURRENT_EF);
        };
        match ef {
            EfBody::Binary { data, read } => {
                if !self.allowed(read) {
                    return status(sw::SECURITY);
                }
                if offset >= data.len() {
                    return status(sw::OFFSET);
                }
                let end = data.len().min(offset + le);
                data_ok(data[offset..end].to_vec())
            }
            _ => status(sw::FILE_STRUCTURE),
        }
    }

    /// The key EF named by P2 of VERIFY / 80 2A (`80` current EF, `80|sfi`).
    fn key_ref(&mut self, p2: u8) -> Result<u16, u16> {
        if p2 & 0xE0 != 0x80 {
            return Err(sw::WRONG_P1P2);
        }
        self.resolve_sfi(p2 & 0x1F)
    }

    fn verify(&mut self, a: &Apdu) -> Vec<u8> {
        if a.p1 != 0x00 {
            return status(sw::WRONG_P1P2);
        }
        if self.selected.is_none() {
            return status(sw::NOT_FOUND);
        }
        let id = match self.key_ref(a.p2) {
            Ok(id) => id,
            Err(e) => return status(e),
        };
        if a.data.len() > 16 {
            return status(sw::WRONG_LENGTH);
        }
        let Some(applet) = self.selected else {
            return status(sw::NOT_FOUND);
        };
        let Some(EfBody::Pin { value, max, left }) =
            self.image.apps.get_mut(&applet).and_then(|app| app.efs.get_mut(&id))
        else {
            return status(sw::FILE_STRUCTURE);
        };
        if a.data.is_empty() {
            // Query: 63Cx without spending a try; a blocked or unusable key answers 63C0.
            let n = if value.is_none() { 0 } else { *left };
            return status(0x63C0 | u16::from(n));
        }
        let Some(expected) = value.as_ref() else {
            return status(sw::BLOCKED);
        };
        if *left == 0 {
            return status(sw::BLOCKED);
        }
        if expected.as_slice() == a.data {
            *left = *max;
            self.verified.insert(id);
            status(sw::OK)
        } else {
            *left -= 1;
            let n = *left;
            self.verified.remove(&id);
            status(0x63C0 | u16::from(n))
        }
    }

    fn change_reference_data(&mut self, a: &Apdu) -> Vec<u8> {
        if a.p1 != 0x01 {
            return status(sw::WRONG_P1P2);
        }
        let id = match self.key_ref(a.p2) {
            Ok(id) => id,
            Err(e) => return status(e),
        };
        if a.data.is_empty() || a.data.len() > 16 {
            return status(sw::WRONG_LENGTH);
        }
        if !self.verified.contains(&id) {
            return status(sw::SECURITY);
        }
        let Some(applet) = self.selected else {
            return status(sw::NO_CURRENT_EF);
        };
        match self.image.apps.get_mut(&applet).and_then(|app| app.efs.get_mut(&id)) {
            Some(EfBody::Pin { value, .. }) => {
                *value = Some(a.data.to_vec());
                status(sw::OK)
            }
            _ => status(sw::FILE_STRUCTURE),
        }
    }

    fn get_challenge(&mut self, a: &Apdu) -> Vec<u8> {
        if a.p1 != 0 || a.p2 != 0 {
            return status(sw::WRONG_P1P2);
        }
        if a.extended || !a.data.is_empty() {
            return status(sw::CONDITIONS);
        }
        let n = a.le.unwrap_or(8);
        let mut out = vec![0u8; n];
        self.rng.fill_bytes(&mut out);
        data_ok(out)
    }

    fn get_data(&mut self, a: &Apdu) -> Vec<u8> {
        if self.selected.is_some() {
            return status(sw::DATA_NOT_FOUND);
        }
        let tag = u16::from_be_bytes([a.p1, a.p2]);
        let Some(value) = self.image.mf_data.get(&tag) else {
            return status(sw::DATA_NOT_FOUND);
        };
        // Large objects need an extended Le (the real card refuses a short one with 6700).
        if value.len() > 256 && !a.extended {
            return status(sw::WRONG_LENGTH);
        }
        data_ok(value.clone())
    }

    fn sign(&mut self, a: &Apdu) -> Vec<u8> {
        let Some(applet) = self.selected else {
            return status(sw::CONDITIONS);
        };
        if a.data.is_empty() {
            return status(sw::WRONG_LENGTH);
        }
        if applet != Applet::Jpki {
            // AP key: challenge signing without PIN, data is a DigestInfo (card pads).
            if a.p1 != 0x00 || a.p2 != 0x00 {
                return status(sw::WRONG_P1P2);
            }
            if a.data.len() > 245 {
                return status(sw::WRONG_LENGTH);
            }
            let Some(key) = self.app().and_then(|app| app.ap_key.clone()) else {
                return status(sw::CONDITIONS);
            };
            return match keys::sign_raw(&key, a.data) {
                Some(sig) => data_ok(sig),
                None => status(sw::WRONG_LENGTH),
            };
        }
        let id = match self.key_ref(a.p2) {
            Ok(id) => id,
            Err(e) => return status(e),
        };
        let (key, needs) = match self.app().and_then(|app| app.efs.get(&id)) {
            Some(EfBody::PrivateKey { key, needs }) => (key.clone(), *needs),
            _ => return status(sw::FILE_STRUCTURE),
        };
        if !self.verified.contains(&needs) {
            return status(sw::SECURITY);
        }
        let d = a.data;
        let digest_info = |h: &[u8]| keys::sha256_digest_info(h);
        let result = match a.p1 {
            // Verbatim: the data (normally a DigestInfo) is padded and signed.
            0x00 if d.len() <= 245 => keys::sign_raw(&key, d),
            // SHA-256 on card, bare 32-byte hash padded (no DigestInfo).
            0x01 if d.len() <= 255 => keys::sign_raw(&key, &Sha256::digest(d)),
            // Pre-hashed: 32 bytes wrapped in a DigestInfo.
            0x02 if d.len() == 32 => keys::sign_raw(&key, &digest_info(d)),
            // SHA-256 on card + DigestInfo: an ordinary sha256WithRSAEncryption.
            0x03 if d.len() <= 255 => keys::sign_raw(&key, &digest_info(&Sha256::digest(d))),
            0x04 if d.len() == 32 => self.sign_pss(&key, d),
            0x05 if d.len() <= 255 => {
                let h = Sha256::digest(d);
                self.sign_pss(&key, &h)
            }
            0x00..=0x05 => return status(sw::WRONG_LENGTH),
            _ => return status(sw::WRONG_P1P2),
        };
        match result {
            Some(sig) => data_ok(sig),
            None => status(sw::WRONG_LENGTH),
        }
    }

    fn read_record(&mut self, a: &Apdu) -> Vec<u8> {
        if !a.data.is_empty() {
            return status(sw::WRONG_LENGTH);
        }
        let (sfi, mode) = (a.p2 >> 3, a.p2 & 0x07);
        if mode != 0x04 && mode != 0x05 {
            return status(sw::WRONG_P1P2);
        }
        if self.selected.is_none() {
            return status(sw::NOT_FOUND);
        }
        let id = match self.resolve_sfi(sfi) {
            Ok(id) => id,
            Err(e) => return status(e),
        };
        let Some(ef) = self.app().and_then(|app| app.efs.get(&id)) else {
            return status(sw::NO_CURRENT_EF);
        };
        let EfBody::Records { records, read } = ef else {
            return status(sw::FILE_STRUCTURE);
        };
        if !self.allowed(read) {
            return status(sw::SECURITY);
        }
        let first = usize::from(a.p1);
        if first == 0 || first > records.len() {
            return status(0x6A83);
        }
        let last = if mode == 0x05 { records.len() } else { first };
        let out: Vec<u8> = records[first - 1..last].concat();
        if out.len() > a.le.unwrap_or(256) {
            return status(sw::WRONG_LENGTH);
        }
        data_ok(out)
    }

    /// INTERNAL AUTHENTICATE `00 88 00 80|SFI <challenge> 00`: DigestInfo(SHA-256(challenge))
    /// signed PKCS#1 v1.5 by the 共通カードAP key, no credential; every other key refuses.
    fn internal_authenticate(&mut self, a: &Apdu) -> Vec<u8> {
        if a.p1 != 0x00 {
            return status(sw::WRONG_P1P2);
        }
        match self.selected {
            None => return status(sw::NOT_FOUND),
            Some(Applet::Jpki) => return status(sw::SECURITY),
            Some(Applet::Text | Applet::Surface) => return status(sw::CONDITIONS),
            Some(Applet::Common) => {}
        }
        if a.data.is_empty() || a.data.len() > 255 {
            return status(sw::WRONG_LENGTH);
        }
        let id = match self.key_ref(a.p2) {
            Ok(id) => id,
            Err(e) => return status(e),
        };
        let Some(EfBody::AuthKey { key }) = self.app().and_then(|app| app.efs.get(&id)) else {
            return status(sw::CONDITIONS);
        };
        let di = keys::sha256_digest_info(&Sha256::digest(a.data));
        match keys::sign_raw(key, &di) {
            Some(sig) => data_ok(sig),
            None => status(sw::WRONG_LENGTH),
        }
    }

    fn sign_pss(&mut self, key: &RsaPrivateKey, hash: &[u8]) -> Option<Vec<u8>> {
        key.sign_with_rng(&mut self.rng, rsa::Pss::new::<Sha256>(), hash).ok()
    }
}

impl SmartCard for VirtualCard {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn reset(&mut self) {
        self.enter(None);
    }

    fn process_apdu(&mut self, command: &[u8]) -> Vec<u8> {
        let response = self.handle(command);
        if let Some(t) = self.trace.as_mut() {
            t.push((command.to_vec(), response.clone()));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_apdu_case() {
        assert!(parse(&[0, 0xA4, 0, 0]).unwrap().le.is_none());
        assert_eq!(parse(&[0, 0xB0, 0, 0, 0]).unwrap().le, Some(256));
        let a = parse(&[0, 0xA4, 2, 0x0C, 2, 0, 0x0A]).unwrap();
        assert_eq!(a.data, [0, 0x0A]);
        let a = parse(&[0x80, 0x2A, 0, 0x80, 1, 0xAA, 0]).unwrap();
        assert_eq!((a.data.len(), a.le), (1, Some(256)));
        let a = parse(&[0, 0xCA, 0, 0xF8, 0, 0, 0]).unwrap();
        assert_eq!((a.extended, a.le), (true, Some(65536)));
        assert!(parse(&[0, 0xA4, 4, 0x0C, 5, 1]).is_none());
        assert!(parse(&[0, 0xA4]).is_none());
        assert_eq!(atr_contactless().len(), 13);
        assert_eq!(atqb([1, 2, 3, 4])[9..], [0xB3, 0x81, 0xA1]);
    }
}
