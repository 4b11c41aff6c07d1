//! A minimal DER / BER-TLV writer: just enough to build X.509 certificates and the card's
//! proprietary TLV records by hand, byte for byte in the layout the real card uses.

/// Encodes a definite length (short form below 128, long form otherwise).
pub fn len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n <= 0xFF {
        vec![0x81, n as u8]
    } else if n <= 0xFFFF {
        vec![0x82, (n >> 8) as u8, n as u8]
    } else {
        vec![0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]
    }
}

/// A TLV with a one- or multi-byte tag given as bytes.
pub fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    out.extend(len(value.len()));
    out.extend_from_slice(value);
    out
}

/// A TLV with a tag given as a number (`0x30`, `0xDF22`, `0x7F21`, …).
pub fn tlv_n(tag: u32, value: &[u8]) -> Vec<u8> {
    let tag_bytes: Vec<u8> = if tag > 0xFFFF {
        vec![(tag >> 16) as u8, (tag >> 8) as u8, tag as u8]
    } else if tag > 0xFF {
        vec![(tag >> 8) as u8, tag as u8]
    } else {
        vec![tag as u8]
    };
    tlv(&tag_bytes, value)
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(&[0x30], &parts.concat())
}

pub fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(&[0x31], &parts.concat())
}

/// An INTEGER from big-endian unsigned bytes.
pub fn uint(bytes: &[u8]) -> Vec<u8> {
    let mut b: &[u8] = bytes;
    while b.len() > 1 && b[0] == 0 {
        b = &b[1..];
    }
    let mut v = Vec::with_capacity(b.len() + 1);
    if b.first().is_none_or(|x| x & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(b);
    tlv(&[0x02], &v)
}

pub fn uint_u64(n: u64) -> Vec<u8> {
    uint(&n.to_be_bytes())
}

/// An OBJECT IDENTIFIER from its dotted form.
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap_or(0)).collect();
    let mut body = vec![(arcs[0] * 40 + arcs.get(1).copied().unwrap_or(0)) as u8];
    for &arc in arcs.iter().skip(2) {
        let mut chunk = vec![(arc & 0x7F) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(((rest & 0x7F) as u8) | 0x80);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(&[0x06], &body)
}

pub fn null() -> Vec<u8> {
    vec![0x05, 0x00]
}

pub fn boolean(v: bool) -> Vec<u8> {
    vec![0x01, 0x01, if v { 0xFF } else { 0x00 }]
}

pub fn utf8(s: &str) -> Vec<u8> {
    tlv(&[0x0C], s.as_bytes())
}

pub fn printable(s: &str) -> Vec<u8> {
    tlv(&[0x13], s.as_bytes())
}

pub fn ia5(s: &str) -> Vec<u8> {
    tlv(&[0x16], s.as_bytes())
}

pub fn octets(b: &[u8]) -> Vec<u8> {
    tlv(&[0x04], b)
}

pub fn bits(b: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(b);
    tlv(&[0x03], &v)
}

/// Context-specific constructed `[n]`.
pub fn ctx_cons(n: u8, value: &[u8]) -> Vec<u8> {
    tlv(&[0xA0 | n], value)
}

/// Context-specific primitive `[n]`.
pub fn ctx_prim(n: u8, value: &[u8]) -> Vec<u8> {
    tlv(&[0x80 | n], value)
}

/// UTCTime `YYMMDDHHMMSSZ` for years 1950–2049.
pub fn utc_time(t: &crate::vcard::persona::DateTime) -> Vec<u8> {
    let s =
        format!("{:02}{:02}{:02}{:02}{:02}{:02}Z", t.year % 100, t.month, t.day, t.hour, t.minute, t.second);
    tlv(&[0x17], s.as_bytes())
}

/// Reads one BER-TLV header: (tag, header length, value length). `None` if malformed.
pub fn parse_header(data: &[u8]) -> Option<(u32, usize, usize)> {
    let mut i = 0;
    let first = *data.first()?;
    let mut tag = u32::from(first);
    i += 1;
    if first & 0x1F == 0x1F {
        loop {
            let b = *data.get(i)?;
            tag = (tag << 8) | u32::from(b);
            i += 1;
            if b & 0x80 == 0 || i > 3 {
                break;
            }
        }
    }
    let l = *data.get(i)?;
    i += 1;
    let value_len = match l {
        0..=0x7F => usize::from(l),
        0x81 => {
            let v = usize::from(*data.get(i)?);
            i += 1;
            v
        }
        0x82 => {
            let v = usize::from(*data.get(i)?) << 8 | usize::from(*data.get(i + 1)?);
            i += 2;
            v
        }
        _ => return None,
    };
    Some((tag, i, value_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_oids_and_lengths() {
        assert_eq!(
            oid("1.2.840.113549.1.1.11"),
            [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]
        );
        assert_eq!(
            oid("1.2.392.200149.8.5.1.0.30"),
            [0x06, 0x0B, 0x2A, 0x83, 0x08, 0x8C, 0x9B, 0x55, 0x08, 0x05, 0x01, 0x00, 0x1E]
        );
        assert_eq!(len(0x7F), [0x7F]);
        assert_eq!(len(0x80), [0x81, 0x80]);
        assert_eq!(len(0x100), [0x82, 0x01, 0x00]);
        assert_eq!(uint(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[0x00, 0x00, 0x05]), [0x02, 0x01, 0x05]);
        assert_eq!(parse_header(&[0xDF, 0x22, 0x81, 0x90]), Some((0xDF22, 4, 0x90)));
        assert_eq!(parse_header(&[0x7F, 0x21, 0x82, 0x02, 0x33]), Some((0x7F21, 5, 0x233)));
    }
}
