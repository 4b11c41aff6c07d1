//! Just enough DER to take an X.509 certificate apart without copying it: tbsCertificate,
//! validity, the RSA subjectPublicKeyInfo, signatureAlgorithm and signature, and to check the
//! signature with an issuer certificate.

use super::date::DateTime;
use super::rsa::RsaPublicKey;
use super::{ParseError, VerifyError};

/// `1.2.840.113549.1.1.11` sha256WithRSAEncryption.
pub const OID_SHA256_WITH_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
/// `1.2.840.113549.1.1.1` rsaEncryption.
pub const OID_RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION: u8 = 0xA0;

/// A DER element: one-byte tag (all X.509 needs), definite length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Element<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    /// Tag, length and value as encoded.
    pub raw: &'a [u8],
}

/// Reads the element at the start of `input`; answers it and what follows.
pub fn read(input: &[u8]) -> Result<(Element<'_>, &[u8]), ParseError> {
    let tag = *input.first().ok_or(ParseError::Truncated)?;
    if tag & 0x1F == 0x1F {
        return Err(ParseError::InvalidValue { tag: u16::from(tag) });
    }
    let first = *input.get(1).ok_or(ParseError::Truncated)?;
    let (len, header) = match first {
        0x00..=0x7F => (usize::from(first), 2),
        0x81..=0x83 => {
            let n = usize::from(first & 0x7F);
            let bytes = input.get(2..2 + n).ok_or(ParseError::Truncated)?;
            if bytes[0] == 0 {
                return Err(ParseError::BadLength); // not minimal
            }
            let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(ParseError::BadLength); // not minimal
            }
            (len, 2 + n)
        }
        _ => return Err(ParseError::BadLength),
    };
    let end = header.checked_add(len).ok_or(ParseError::BadLength)?;
    let raw = input.get(..end).ok_or(ParseError::Truncated)?;
    Ok((Element { tag, value: &raw[header..], raw }, &input[end..]))
}

/// Reads an element and checks its tag.
pub fn expect(input: &[u8], tag: u8) -> Result<(Element<'_>, &[u8]), ParseError> {
    let (e, rest) = read(input)?;
    if e.tag != tag {
        return Err(ParseError::UnexpectedTag { expected: u16::from(tag), found: u16::from(e.tag) });
    }
    Ok((e, rest))
}

fn read_time(input: &[u8]) -> Result<(DateTime, &[u8]), ParseError> {
    let (e, rest) = read(input)?;
    let t = match e.tag {
        UTC_TIME => DateTime::parse_utc_time(e.value)?,
        GENERALIZED_TIME => DateTime::parse_generalized_time(e.value)?,
        found => {
            return Err(ParseError::UnexpectedTag { expected: u16::from(UTC_TIME), found: u16::from(found) })
        }
    };
    Ok((t, rest))
}

/// AlgorithmIdentifier: the OID, parameters ignored if absent or NULL, refused otherwise.
fn read_algorithm(input: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let (alg, rest) = expect(input, SEQUENCE)?;
    let (oid, params) = expect(alg.value, OID)?;
    if !params.is_empty() {
        let (null, after) = expect(params, NULL)?;
        if !null.value.is_empty() || !after.is_empty() {
            return Err(ParseError::InvalidValue { tag: u16::from(SEQUENCE) });
        }
    }
    Ok((oid.value, rest))
}

/// An X.509 v3 certificate with an RSA key, as views into its DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Certificate<'a> {
    /// The whole certificate.
    pub raw: &'a [u8],
    /// tbsCertificate with its header: the signed bytes.
    pub tbs: &'a [u8],
    /// serialNumber contents.
    pub serial: &'a [u8],
    /// The issuer Name, encoded.
    pub issuer: &'a [u8],
    /// The subject Name, encoded.
    pub subject: &'a [u8],
    pub not_before: DateTime,
    pub not_after: DateTime,
    /// OID of the key algorithm (rsaEncryption for every JPKI certificate).
    pub key_algorithm: &'a [u8],
    /// The RSA public key (empty views when the key is not RSA).
    pub public_key: RsaPublicKey<'a>,
    /// OID of the outer signatureAlgorithm.
    pub signature_algorithm: &'a [u8],
    /// signatureValue without the unused-bits byte.
    pub signature: &'a [u8],
}

impl<'a> Certificate<'a> {
    /// Parses a DER certificate. Bytes after it (EF filler) are ignored.
    pub fn parse(input: &'a [u8]) -> Result<Self, ParseError> {
        let (cert, _filler) = expect(input, SEQUENCE)?;
        let (tbs, rest) = expect(cert.value, SEQUENCE)?;
        let (signature_algorithm, rest) = read_algorithm(rest)?;
        let (sig, rest) = expect(rest, BIT_STRING)?;
        if !rest.is_empty() {
            return Err(ParseError::TrailingData);
        }
        let signature = match sig.value {
            [0, s @ ..] => s,
            _ => return Err(ParseError::InvalidValue { tag: u16::from(BIT_STRING) }),
        };

        let mut body = tbs.value;
        if body.first() == Some(&VERSION) {
            body = read(body)?.1;
        }
        let (serial, body) = expect(body, INTEGER)?;
        let (inner_alg, body) = read_algorithm(body)?;
        let (issuer, body) = expect(body, SEQUENCE)?;
        let (validity, body) = expect(body, SEQUENCE)?;
        let (not_before, v) = read_time(validity.value)?;
        let (not_after, _) = read_time(v)?;
        let (subject, body) = expect(body, SEQUENCE)?;
        let (spki, _extensions) = expect(body, SEQUENCE)?;
        let (key_algorithm, spki_rest) = read_algorithm(spki.value)?;
        let (key_bits, _) = expect(spki_rest, BIT_STRING)?;
        let public_key = if key_algorithm == OID_RSA_ENCRYPTION {
            let key = match key_bits.value {
                [0, k @ ..] => k,
                _ => return Err(ParseError::InvalidValue { tag: u16::from(BIT_STRING) }),
            };
            let (seq, _) = expect(key, SEQUENCE)?;
            let (n, r) = expect(seq.value, INTEGER)?;
            let (e, _) = expect(r, INTEGER)?;
            RsaPublicKey::new(n.value, e.value)
        } else {
            RsaPublicKey { modulus: &[], exponent: &[] }
        };
        if inner_alg != signature_algorithm {
            return Err(ParseError::InvalidValue { tag: u16::from(OID) });
        }
        Ok(Self {
            raw: cert.raw,
            tbs: tbs.raw,
            serial: serial.value,
            issuer: issuer.raw,
            subject: subject.raw,
            not_before,
            not_after,
            key_algorithm,
            public_key,
            signature_algorithm,
            signature,
        })
    }

    /// Checks this certificate's signature with `issuer`'s key, after checking that `issuer`
    /// is the subject this certificate names. Several CA generations share one DN, so a name
    /// match alone picks nothing: only the signature does.
    pub fn verify_issued_by(&self, issuer: &Certificate<'_>) -> Result<(), VerifyError> {
        if self.issuer != issuer.subject {
            return Err(VerifyError::IssuerMismatch);
        }
        self.verify_with_key(&issuer.public_key)
    }

    /// Checks this certificate's signature with `key`.
    pub fn verify_with_key(&self, key: &RsaPublicKey<'_>) -> Result<(), VerifyError> {
        if self.signature_algorithm != OID_SHA256_WITH_RSA {
            return Err(VerifyError::UnsupportedAlgorithm);
        }
        key.verify_sha256(self.tbs, self.signature)
    }

    /// Whether `now` lies within notBefore..=notAfter.
    pub fn is_valid_at(&self, now: DateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_minimal_and_bounded() {
        assert_eq!(read(&[0x30, 0x81, 0x05]), Err(ParseError::BadLength));
        assert_eq!(read(&[0x30, 0x82, 0x00, 0x80]), Err(ParseError::BadLength));
        assert_eq!(read(&[0x30, 0x80]), Err(ParseError::BadLength));
        assert_eq!(read(&[0x30, 0x02, 0x01]), Err(ParseError::Truncated));
        assert_eq!(read(&[0x30]), Err(ParseError::Truncated));
        let (e, rest) = read(&[0x02, 0x01, 0x05, 0xFF]).unwrap();
        assert_eq!((e.tag, e.value, rest), (0x02, &[0x05][..], &[0xFF][..]));
        assert!(Certificate::parse(&[0x30, 0x00]).is_err());
    }
}
