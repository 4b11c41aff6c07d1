//! RSA PKCS#1 v1.5 signature verification with SHA-256, for moduli up to 2048 bits, on fixed
//! stack arrays (no heap): Montgomery multiplication over 32-bit limbs.
//!
//! Verification only handles public data, so nothing here needs to run in constant time.

use sha2::{Digest, Sha256};

use super::{tlv, ParseError, VerifyError};

/// Largest supported modulus, in bytes.
pub const MAX_MODULUS_LEN: usize = 256;
const LIMBS: usize = MAX_MODULUS_LEN / 4;

/// An RSA public key borrowed from card data or a certificate. Big-endian, leading zero bytes
/// stripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RsaPublicKey<'a> {
    pub modulus: &'a [u8],
    pub exponent: &'a [u8],
}

fn strip_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

impl<'a> RsaPublicKey<'a> {
    /// A key from big-endian modulus and exponent (leading zeros allowed).
    pub fn new(modulus: &'a [u8], exponent: &'a [u8]) -> Self {
        Self { modulus: strip_zeros(modulus), exponent: strip_zeros(exponent) }
    }

    /// The card's own encoding: `90 <len> <exponent> 91 <len> <modulus>` (in DF24, DF12, DF42,
    /// CV certificates, and `cv-ca-key-synthetic.bin`). Trailing bytes are refused.
    pub fn parse_card_encoding(input: &'a [u8]) -> Result<Self, ParseError> {
        let (e, rest) = tlv::expect(input, 0x90)?;
        let (n, rest) = tlv::expect(rest, 0x91)?;
        if !rest.is_empty() {
            return Err(ParseError::TrailingData);
        }
        if e.value.is_empty() || n.value.is_empty() {
            return Err(ParseError::BadFieldLength { tag: 0x91, len: n.value.len() });
        }
        Ok(Self::new(n.value, e.value))
    }

    /// Modulus size in bytes (the signature length).
    pub fn len(&self) -> usize {
        self.modulus.len()
    }

    /// Whether the modulus is empty (never true for a parsed key).
    pub fn is_empty(&self) -> bool {
        self.modulus.is_empty()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        match self.modulus.first() {
            Some(&b) => self.modulus.len() * 8 - b.leading_zeros() as usize,
            None => 0,
        }
    }

    /// Verifies a PKCS#1 v1.5 signature whose DigestInfo names SHA-256 and carries `digest`
    /// (32 bytes normally; the card face record signs 96 bytes, three hashes in a row).
    pub fn verify_sha256_digest_info(&self, digest: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        let k = self.modulus.len();
        // A key longer than supported (a forged certificate) is refused, not sliced past.
        if k > MAX_MODULUS_LEN {
            return Err(VerifyError::UnsupportedKey);
        }
        let mut em = [0u8; MAX_MODULUS_LEN];
        self.raw_public_op(signature, &mut em[..k])?;
        let expected_ok = encoded_message_matches(&em[..k], digest);
        if expected_ok {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    /// Verifies `sha256WithRSAEncryption` over `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        let hash: [u8; 32] = Sha256::digest(message).into();
        self.verify_sha256_digest_info(&hash, signature)
    }

    /// `signature^e mod n`, written big-endian into `out` (exactly the modulus length).
    pub fn raw_public_op(&self, signature: &[u8], out: &mut [u8]) -> Result<(), VerifyError> {
        let k = self.modulus.len();
        if k == 0
            || k > MAX_MODULUS_LEN
            || self.modulus[k - 1] & 1 == 0
            || self.exponent.is_empty()
            || self.exponent.len() > MAX_MODULUS_LEN
        {
            return Err(VerifyError::UnsupportedKey);
        }
        if signature.len() != k || out.len() != k {
            return Err(VerifyError::SignatureSize);
        }
        let n = Limbs::from_be(self.modulus);
        let s = Limbs::from_be(signature);
        let len = k.div_ceil(4);
        if !s.less_than(&n, len) {
            return Err(VerifyError::SignatureSize);
        }
        let m = Montgomery::new(&n, len);
        let result = m.pow(&s, self.exponent);
        result.to_be(out);
        Ok(())
    }
}

/// Compares `em` with `00 01 FF.. 00 DigestInfo(SHA-256, digest)`.
fn encoded_message_matches(em: &[u8], digest: &[u8]) -> bool {
    // DigestInfo ::= SEQ { SEQ { OID sha256, NULL }, OCTET STRING digest }
    const ALG: [u8; 15] =
        [0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00];
    if digest.len() > 0x7F - ALG.len() - 2 {
        return false;
    }
    let t_len = 2 + ALG.len() + 2 + digest.len();
    // At least 8 bytes of FF padding.
    if em.len() < t_len + 11 {
        return false;
    }
    let pad_end = em.len() - t_len - 1;
    let (head, t) = em.split_at(pad_end + 1);
    let head_ok = head[0] == 0x00
        && head[1] == 0x01
        && head[2..pad_end].iter().all(|&b| b == 0xFF)
        && head[pad_end] == 0x00;
    let t_ok = t[0] == 0x30
        && usize::from(t[1]) == t_len - 2
        && t[2..2 + ALG.len()] == ALG
        && t[2 + ALG.len()] == 0x04
        && usize::from(t[3 + ALG.len()]) == digest.len()
        && &t[4 + ALG.len()..] == digest;
    head_ok && t_ok
}

/// Little-endian 32-bit limbs, fixed capacity.
#[derive(Clone, Copy)]
struct Limbs([u32; LIMBS]);

impl Limbs {
    fn from_be(bytes: &[u8]) -> Self {
        let mut l = [0u32; LIMBS];
        for (i, &b) in bytes.iter().rev().enumerate().take(MAX_MODULUS_LEN) {
            l[i / 4] |= u32::from(b) << (8 * (i % 4));
        }
        Self(l)
    }

    fn to_be(self, out: &mut [u8]) {
        let k = out.len();
        for (i, o) in out.iter_mut().enumerate() {
            let j = k - 1 - i;
            *o = (self.0[j / 4] >> (8 * (j % 4))) as u8;
        }
    }

    fn less_than(&self, other: &Self, len: usize) -> bool {
        for i in (0..len).rev() {
            if self.0[i] != other.0[i] {
                return self.0[i] < other.0[i];
            }
        }
        false
    }

    /// `self -= other` over `len` limbs; answers the borrow.
    fn sub_assign(&mut self, other: &Self, len: usize) -> bool {
        let mut borrow = 0u64;
        for i in 0..len {
            let d = u64::from(self.0[i]).wrapping_sub(u64::from(other.0[i])).wrapping_sub(borrow);
            self.0[i] = d as u32;
            borrow = (d >> 63) & 1;
        }
        borrow != 0
    }
}

/// Montgomery arithmetic modulo an odd `n` of `len` limbs, R = 2^(32·len).
struct Montgomery<'n> {
    n: &'n Limbs,
    len: usize,
    /// `-n⁻¹ mod 2³²`.
    n0_inv: u32,
    /// `R² mod n`.
    r2: Limbs,
}

impl<'n> Montgomery<'n> {
    fn new(n: &'n Limbs, len: usize) -> Self {
        // Newton iteration for n0⁻¹ mod 2³² (n0 odd).
        let n0 = n.0[0];
        let mut inv = 1u32;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
        }
        // R² mod n by doubling 1 (2·32·len times), reducing each time.
        let mut r2 = Limbs([0; LIMBS]);
        r2.0[0] = 1;
        for _ in 0..(64 * len) {
            let mut carry = 0u32;
            for limb in r2.0.iter_mut().take(len) {
                let next = *limb >> 31;
                *limb = (*limb << 1) | carry;
                carry = next;
            }
            if carry != 0 || !r2.less_than(n, len) {
                r2.sub_assign(n, len);
            }
        }
        Self { n, len, n0_inv: inv.wrapping_neg(), r2 }
    }

    /// `a·b·R⁻¹ mod n` (CIOS).
    fn mul(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let len = self.len;
        let n = &self.n.0;
        let mut t = [0u32; LIMBS + 2];
        for &bi in b.0.iter().take(len) {
            let mut c = 0u64;
            for (tj, &aj) in t[..len].iter_mut().zip(&a.0[..len]) {
                let s = u64::from(*tj) + u64::from(aj) * u64::from(bi) + c;
                *tj = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[len]) + c;
            t[len] = s as u32;
            t[len + 1] = (s >> 32) as u32;

            let m = t[0].wrapping_mul(self.n0_inv);
            let s = u64::from(t[0]) + u64::from(m) * u64::from(n[0]);
            let mut c = s >> 32;
            for j in 1..len {
                let s = u64::from(t[j]) + u64::from(m) * u64::from(n[j]) + c;
                t[j - 1] = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[len]) + c;
            t[len - 1] = s as u32;
            t[len] = t[len + 1] + (s >> 32) as u32;
        }
        let mut r = Limbs([0; LIMBS]);
        r.0[..len].copy_from_slice(&t[..len]);
        if t[len] != 0 || !r.less_than(self.n, len) {
            r.sub_assign(self.n, len);
        }
        r
    }

    /// `base^exp mod n`, `exp` big-endian.
    fn pow(&self, base: &Limbs, exp: &[u8]) -> Limbs {
        let base_m = self.mul(base, &self.r2);
        let mut one = Limbs([0; LIMBS]);
        one.0[0] = 1;
        let mut acc = self.mul(&one, &self.r2); // R mod n
        for &byte in exp {
            for bit in (0..8).rev() {
                acc = self.mul(&acc, &acc);
                if byte >> bit & 1 == 1 {
                    acc = self.mul(&acc, &base_m);
                }
            }
        }
        self.mul(&acc, &one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_modulus_arithmetic() {
        // n = 3233 = 61·53, e = 17, d = 2753: 65^17 mod 3233 = 2790.
        let n = [0x0C, 0xA1];
        let key = RsaPublicKey::new(&n, &[17]);
        let mut out = [0u8; 2];
        key.raw_public_op(&[0x00, 65], &mut out).unwrap();
        assert_eq!(u16::from_be_bytes(out), 2790);
        // 2790^2753 mod 3233 = 65 with the private exponent as "public" one.
        let key = RsaPublicKey::new(&n, &[0x0A, 0xC1]);
        key.raw_public_op(&2790u16.to_be_bytes(), &mut out).unwrap();
        assert_eq!(u16::from_be_bytes(out), 65);
    }

    #[test]
    fn bad_keys_and_sizes() {
        let mut out = [0u8; 2];
        let even = RsaPublicKey::new(&[0x0C, 0xA0], &[17]);
        assert_eq!(even.raw_public_op(&[0, 1], &mut out), Err(VerifyError::UnsupportedKey));
        let key = RsaPublicKey::new(&[0x0C, 0xA1], &[17]);
        assert_eq!(key.raw_public_op(&[1], &mut out), Err(VerifyError::SignatureSize));
        assert_eq!(key.raw_public_op(&[0x0C, 0xA1], &mut out), Err(VerifyError::SignatureSize));
        assert_eq!(
            RsaPublicKey::new(&[], &[1]).raw_public_op(&[], &mut []),
            Err(VerifyError::UnsupportedKey)
        );
        assert_eq!(key.verify_sha256(b"x", &[0, 1]), Err(VerifyError::BadSignature));
    }
}
