//! Deterministic RSA-2048 keys for the virtual card and its test CAs.
//!
//! Every key is derived from a label (`"persona/yamada/auth"`, `"ca/auth"`, …): the label is
//! hashed into a ChaCha20 seed and fed to `rsa`'s key generation, so the same label always gives
//! the same key. Generation costs 0.1–2 s per key even optimised, so keys are cached once per
//! process and on disk (PKCS#1 DER) under `<target>/shikaku-vcard-keys/` (override with
//! `SHIKAKU_VCARD_KEYS`). A cached file is only a shortcut: deleting it regenerates the same key.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// Bumped whenever derivation changes, so stale disk caches are ignored.
const DERIVATION: &str = "shikaku-vcard/rsa0.9/v1";

/// SHA-256 over length-prefixed parts.
pub fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u32).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// A deterministic RNG for a purpose (used for keys, PSS salts, challenges).
pub fn rng(label: &str) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(digest(&[DERIVATION, label]))
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SHIKAKU_VCARD_KEYS") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("shikaku-vcard-keys")
}

type Slot = Arc<OnceLock<Arc<RsaPrivateKey>>>;

fn slots() -> &'static Mutex<HashMap<String, Slot>> {
    static SLOTS: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    SLOTS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The RSA-2048 key for `label` (generated once per process, cached on disk).
pub fn rsa_key(label: &str) -> Arc<RsaPrivateKey> {
    let slot = {
        let mut map = slots().lock().unwrap_or_else(|e| e.into_inner());
        map.entry(label.to_owned()).or_default().clone()
    };
    slot.get_or_init(|| Arc::new(load_or_generate(label))).clone()
}

fn load_or_generate(label: &str) -> RsaPrivateKey {
    let name: String = digest(&[DERIVATION, label])[..12].iter().map(|b| format!("{b:02x}")).collect();
    let path = cache_dir().join(format!("{name}.der"));
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(key) = RsaPrivateKey::from_pkcs1_der(&bytes) {
            if key.size() == 256 && key.validate().is_ok() {
                return key;
            }
        }
    }
    let key = RsaPrivateKey::new(&mut rng(label), 2048).expect("RSA-2048 key generation");
    if let Ok(der) = key.to_pkcs1_der() {
        let dir = cache_dir();
        if std::fs::create_dir_all(&dir).is_ok() {
            let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
            if std::fs::write(&tmp, der.as_bytes()).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }
    key
}

/// Public modulus, big-endian, exactly 256 bytes.
pub fn modulus(key: &RsaPrivateKey) -> Vec<u8> {
    let n = key.n().to_bytes_be();
    let mut out = vec![0u8; 256usize.saturating_sub(n.len())];
    out.extend(n);
    out
}

/// Public exponent, big-endian.
pub fn exponent(key: &RsaPrivateKey) -> Vec<u8> {
    key.e().to_bytes_be()
}

/// PKCS#1 v1.5 signature over `data` as given (the card pads; `data` is usually a DigestInfo).
pub fn sign_raw(key: &RsaPrivateKey, data: &[u8]) -> Option<Vec<u8>> {
    key.sign(Pkcs1v15Sign::new_unprefixed(), data).ok()
}

/// The DER DigestInfo for a SHA-256 digest (or any 32-byte-or-longer value, as the card face does).
pub fn sha256_digest_info(digest: &[u8]) -> Vec<u8> {
    let mut out = vec![
        0x30,
        (17 + digest.len()) as u8,
        0x30,
        0x0D,
        0x06,
        0x09,
        0x60,
        0x86,
        0x48,
        0x01,
        0x65,
        0x03,
        0x04,
        0x02,
        0x01,
        0x05,
        0x00,
        0x04,
        digest.len() as u8,
    ];
    out.extend_from_slice(digest);
    out
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// sha256WithRSAEncryption signature over `message`.
pub fn sign_sha256(key: &RsaPrivateKey, message: &[u8]) -> Vec<u8> {
    sign_raw(key, &sha256_digest_info(&sha256(message))).expect("signing a DigestInfo")
}
