//! Secrecy and authenticity of frames on a paired link.
//!
//! Pairing (X25519 + HKDF-SHA256, confirmed by both sides and by a 6-digit code that staff
//! confirm on the reader's keypad) yields a long-term [`PairingKey`]. Each connection derives
//! fresh per-direction [`LinkKeys`] from it and both hello nonces, so counters start at zero on
//! every connection without any flash bookkeeping, and frames of an old connection never open
//! on a new one. Every frame after the hellos is sealed with ChaCha20-Poly1305 (RFC 8439): the
//! payload encrypted, the header as associated data, the frame counter as the nonce (a key is
//! used for one connection and one direction only, so a counter never repeats under a key). The
//! counter must rise strictly, which refuses both replayed and reordered frames; a sender stops
//! at `u32::MAX` rather than reuse a nonce.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::frame::{Seal, TAG_LEN};
use crate::Error;

type HmacSha256 = Hmac<Sha256>;

/// Long-term secret shared by one reader and one host after pairing. Stored by both.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PairingKey(pub [u8; 32]);

/// Per-connection, per-direction AEAD keys.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LinkKeys {
    pub reader_to_host: [u8; 32],
    pub host_to_reader: [u8; 32],
}

fn hkdf_expand(ikm: &[u8], salt: &[u8], info: &[u8], out: &mut [u8]) {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm);
    // Output lengths used here (32, 64) are far below HKDF's limit of 255 * 32.
    if hk.expand(info, out).is_err() {
        out.fill(0);
    }
}

impl LinkKeys {
    pub fn derive(pairing: &PairingKey, host_nonce: &[u8; 16], reader_nonce: &[u8; 16]) -> Self {
        let mut salt = [0u8; 32];
        salt[..16].copy_from_slice(host_nonce);
        salt[16..].copy_from_slice(reader_nonce);
        let mut okm = [0u8; 64];
        hkdf_expand(&pairing.0, &salt, b"shikaku link keys v2", &mut okm);
        let mut keys = LinkKeys { reader_to_host: [0; 32], host_to_reader: [0; 32] };
        keys.reader_to_host.copy_from_slice(&okm[..32]);
        keys.host_to_reader.copy_from_slice(&okm[32..]);
        okm.zeroize();
        keys
    }
}

impl LinkKeys {
    /// What the reader puts in its hello to prove it holds the pairing key: a MAC under the
    /// reader→host key over both nonces. Only a reader with the same pairing key gets it.
    pub fn hello_check(&self, host_nonce: &[u8; 16], reader_nonce: &[u8; 16]) -> [u8; 16] {
        let mut covered = [0u8; 37];
        covered[..5].copy_from_slice(b"hello");
        covered[5..21].copy_from_slice(host_nonce);
        covered[21..].copy_from_slice(reader_nonce);
        tag(&self.reader_to_host, &covered, 0)
    }

    /// Checks a hello's `key_check` in constant time.
    pub fn hello_matches(&self, host_nonce: &[u8; 16], reader_nonce: &[u8; 16], got: &[u8; 16]) -> bool {
        bool::from(self.hello_check(host_nonce, reader_nonce).ct_eq(got))
    }
}

fn tag(key: &[u8; 32], covered: &[u8], counter: u32) -> [u8; TAG_LEN] {
    // HMAC accepts keys of any length; 32 bytes cannot fail.
    let mut mac = match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; TAG_LEN],
    };
    mac.update(covered);
    mac.update(&counter.to_le_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    out
}

/// The 96-bit nonce of frame `counter`: the counter, little-endian, then zeros.
fn nonce(counter: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&counter.to_le_bytes());
    Nonce::from(n)
}

/// Seals outgoing frames with one direction's key and a rising counter.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Sealer {
    key: [u8; 32],
    counter: u32,
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key, counter: 0 }
    }
    pub fn counter(&self) -> u32 {
        self.counter
    }
    /// A sealer whose last counter was `counter` (to test the end of the counter space).
    #[doc(hidden)]
    pub fn at_counter_for_tests(key: [u8; 32], counter: u32) -> Self {
        Self { key, counter }
    }
}

impl Seal for Sealer {
    fn seal(&mut self, header: &[u8], payload: &mut [u8], out: &mut [u8; TAG_LEN]) -> Result<u32, Error> {
        // Never wrap: a repeated counter would repeat a nonce under this key.
        let counter = self.counter.checked_add(1).ok_or(Error::CounterExhausted)?;
        let cipher = ChaCha20Poly1305::new(&self.key.into());
        let tag = cipher
            .encrypt_in_place_detached(&nonce(counter), header, payload)
            .map_err(|_| Error::Oversized { len: payload.len(), max: crate::MAX_PAYLOAD })?;
        out.copy_from_slice(&tag);
        self.counter = counter;
        Ok(counter)
    }
}

/// Opens incoming frames: the tag is checked (in constant time) before anything is
/// decrypted, then the counter must rise.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Opener {
    key: [u8; 32],
    last: u32,
}

impl Opener {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key, last: 0 }
    }

    /// Decrypts `payload` in place if `tag` is right for it under `header`; on a wrong tag the
    /// payload is left as it was (so another key may be tried on it).
    pub fn open(
        &mut self,
        header: &[u8],
        payload: &mut [u8],
        counter: u32,
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        let cipher = ChaCha20Poly1305::new(&self.key.into());
        cipher
            .decrypt_in_place_detached(&nonce(counter), header, payload, Tag::from_slice(tag))
            .map_err(|_| Error::BadMac)?;
        // Checked after the tag so a forged counter cannot probe the window.
        if counter <= self.last {
            return Err(Error::Replay { got: counter, last: self.last });
        }
        self.last = counter;
        Ok(())
    }
}

/// Pairing: X25519 key agreement, key confirmation both ways, and a comparison code.
pub mod pairing {
    use super::*;
    pub use x25519_dalek::{PublicKey, StaticSecret};

    /// What both sides derive from the exchange.
    #[derive(Zeroize, ZeroizeOnDrop)]
    pub struct PairingSecrets {
        pub key: PairingKey,
        confirm_key: [u8; 32],
        transcript: [u8; 96],
        /// Six digits both the reader's screen and the host show; staff compare them.
        #[zeroize(skip)]
        pub code: u32,
    }

    impl PairingSecrets {
        /// `secret` is this side's ephemeral secret (from the device's RNG).
        pub fn derive(
            secret: &StaticSecret,
            peer_public: &[u8; 32],
            host_public: &[u8; 32],
            reader_public: &[u8; 32],
            host_nonce: &[u8; 16],
            reader_nonce: &[u8; 16],
        ) -> Self {
            let shared = secret.diffie_hellman(&PublicKey::from(*peer_public));
            let mut transcript = [0u8; 96];
            transcript[..32].copy_from_slice(host_public);
            transcript[32..64].copy_from_slice(reader_public);
            transcript[64..80].copy_from_slice(host_nonce);
            transcript[80..].copy_from_slice(reader_nonce);
            let mut okm = [0u8; 68];
            hkdf_expand(shared.as_bytes(), &transcript, b"shikaku pairing v1", &mut okm);
            let mut key = [0u8; 32];
            key.copy_from_slice(&okm[..32]);
            let mut confirm_key = [0u8; 32];
            confirm_key.copy_from_slice(&okm[32..64]);
            let code = u32::from_le_bytes([okm[64], okm[65], okm[66], okm[67]]) % 1_000_000;
            okm.zeroize();
            Self { key: PairingKey(key), confirm_key, transcript, code }
        }

        /// The confirmation the reader sends in `PairResponse`.
        pub fn reader_confirm(&self) -> [u8; 16] {
            self.confirm(b"reader")
        }
        /// The confirmation the host sends in `PairConfirm`.
        pub fn host_confirm(&self) -> [u8; 16] {
            self.confirm(b"host")
        }

        /// What the reader sends in `PairResult { outcome: Accepted }` once staff confirmed
        /// the code on its keypad.
        pub fn accepted_proof(&self) -> [u8; 16] {
            self.confirm(b"accept")
        }

        /// Checks a peer's confirmation in constant time.
        pub fn check(&self, expected: [u8; 16], got: &[u8; 16]) -> Result<(), Error> {
            if bool::from(expected.ct_eq(got)) {
                Ok(())
            } else {
                Err(Error::PairingMismatch)
            }
        }

        fn confirm(&self, label: &[u8]) -> [u8; 16] {
            let mut covered = [0u8; 102];
            covered[..label.len()].copy_from_slice(label);
            covered[6..].copy_from_slice(&self.transcript);
            tag(&self.confirm_key, &covered, 0)
        }
    }
}

/// Reader attestation for a verified identity the card did not sign (face, 目視): HMAC-SHA256
/// under a key derived from the pairing key, over the host's challenge, the SHA-256 of the
/// auth certificate, the method, the staff account and the time. The host, holding the same
/// pairing key, recomputes it; a device without the key cannot produce it.
pub fn reader_attestation(
    pairing: &PairingKey,
    challenge: &[u8; 32],
    auth_cert: &[u8],
    method: u8,
    staff_account: Option<&str>,
    verified_at: u64,
) -> [u8; 32] {
    use sha2::Digest;
    let mut key = [0u8; 32];
    hkdf_expand(&pairing.0, b"", b"shikaku reader attestation v1", &mut key);
    let mut mac = match <HmacSha256 as Mac>::new_from_slice(&key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    key.zeroize();
    mac.update(challenge);
    mac.update(&Sha256::digest(auth_cert));
    mac.update(&[method]);
    let staff = staff_account.unwrap_or("").as_bytes();
    mac.update(&[staff.len() as u8]);
    mac.update(staff);
    mac.update(&verified_at.to_le_bytes());
    mac.finalize().into_bytes().into()
}
