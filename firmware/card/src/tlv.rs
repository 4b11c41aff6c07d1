//! BER-TLV as the 券面 applets store it: one- or two-byte tags (`FF20`, `DF22`, `7F21`, `5F4E`,
//! `90`, …), definite lengths of up to three length bytes. Zero-copy: values borrow the input.

use super::ParseError;

/// One TLV element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tlv<'a> {
    /// The tag, one or two bytes, as a big-endian number (`0xDF22`, `0x90`).
    pub tag: u16,
    /// The value.
    pub value: &'a [u8],
    /// Tag, length and value as encoded (what a signature over "the element" covers).
    pub raw: &'a [u8],
}

/// Reads a tag; answers (tag, bytes used). Tags longer than two bytes are refused.
fn read_tag(input: &[u8]) -> Result<(u16, usize), ParseError> {
    let first = *input.first().ok_or(ParseError::Truncated)?;
    if first & 0x1F != 0x1F {
        return Ok((u16::from(first), 1));
    }
    let second = *input.get(1).ok_or(ParseError::Truncated)?;
    if second & 0x80 != 0 {
        // A third tag byte follows: nothing on this card uses one.
        return Err(ParseError::InvalidValue { tag: u16::from_be_bytes([first, second]) });
    }
    Ok((u16::from_be_bytes([first, second]), 2))
}

/// Reads a definite length; answers (length, bytes used).
pub(crate) fn read_length(input: &[u8]) -> Result<(usize, usize), ParseError> {
    let first = *input.first().ok_or(ParseError::Truncated)?;
    match first {
        0x00..=0x7F => Ok((usize::from(first), 1)),
        0x81..=0x83 => {
            let n = usize::from(first & 0x7F);
            let bytes = input.get(1..1 + n).ok_or(ParseError::Truncated)?;
            let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            Ok((len, 1 + n))
        }
        // 0x80 is indefinite; longer lengths cannot occur in a card file.
        _ => Err(ParseError::BadLength),
    }
}

/// Size of the tag and length header at the start of `input`, and the value length.
pub fn header(input: &[u8]) -> Result<(u16, usize, usize), ParseError> {
    let (tag, t) = read_tag(input)?;
    let (len, l) = read_length(&input[t..])?;
    Ok((tag, t + l, len))
}

/// Total encoded size (header + value) of the TLV at the start of `input`, from its first few
/// bytes: lets a reader stop at the end of a record instead of reading filler.
pub fn encoded_len(input: &[u8]) -> Result<usize, ParseError> {
    let (_, h, len) = header(input)?;
    h.checked_add(len).ok_or(ParseError::BadLength)
}

/// Parses the TLV at the start of `input`; answers it and the bytes after it.
pub fn parse(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), ParseError> {
    let (tag, h, len) = header(input)?;
    let end = h.checked_add(len).ok_or(ParseError::BadLength)?;
    let raw = input.get(..end).ok_or(ParseError::Truncated)?;
    Ok((Tlv { tag, value: &raw[h..], raw }, &input[end..]))
}

/// Parses the TLV at the start of `input` and checks its tag.
pub fn expect(input: &[u8], tag: u16) -> Result<(Tlv<'_>, &[u8]), ParseError> {
    let (tlv, rest) = parse(input)?;
    if tlv.tag != tag {
        return Err(ParseError::UnexpectedTag { expected: tag, found: tlv.tag });
    }
    Ok((tlv, rest))
}

/// Takes the element at the start of `input`, which must carry `tag`, and advances `input`
/// past it: for records whose elements come in a fixed order.
pub fn take<'a>(input: &mut &'a [u8], tag: u16) -> Result<Tlv<'a>, ParseError> {
    let (t, rest) = expect(input, tag)?;
    *input = rest;
    Ok(t)
}

/// Iterates over consecutive TLVs filling `input` exactly; yields one error and stops on
/// malformed input.
pub fn iter(input: &[u8]) -> TlvIter<'_> {
    TlvIter { rest: input }
}

/// See [`iter`].
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match parse(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// The first element with `tag` among the TLVs filling `input`.
pub fn find(input: &[u8], tag: u16) -> Result<Option<Tlv<'_>>, ParseError> {
    for tlv in iter(input) {
        let tlv = tlv?;
        if tlv.tag == tag {
            return Ok(Some(tlv));
        }
    }
    Ok(None)
}

/// Like [`find`], but a missing element is an error.
pub fn require(input: &[u8], tag: u16) -> Result<Tlv<'_>, ParseError> {
    find(input, tag)?.ok_or(ParseError::Missing { tag })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_lengths() {
        let (t, rest) = parse(&[0xDF, 0x22, 0x02, 0xAA, 0xBB, 0x01]).unwrap();
        assert_eq!((t.tag, t.value, rest), (0xDF22, &[0xAA, 0xBB][..], &[0x01][..]));
        let (t, _) = parse(&[0x90, 0x81, 0x01, 0x07]).unwrap();
        assert_eq!((t.tag, t.value), (0x90, &[0x07][..]));
        assert_eq!(encoded_len(&[0xFF, 0x20, 0x82, 0x0B, 0xF9]), Ok(5 + 0x0BF9));
        assert_eq!(parse(&[0xFF, 0x20, 0x82, 0x0B]), Err(ParseError::Truncated));
        assert_eq!(parse(&[0xFF, 0x20, 0x80]), Err(ParseError::BadLength));
        assert_eq!(parse(&[0xFF, 0x20, 0x03, 0x00]), Err(ParseError::Truncated));
        assert_eq!(parse(&[0xFF]), Err(ParseError::Truncated));
        assert!(parse(&[0xFF, 0x81, 0x01, 0x00]).is_err());
        assert_eq!(
            expect(&[0xDF, 0x23, 0x00], 0xDF22),
            Err(ParseError::UnexpectedTag { expected: 0xDF22, found: 0xDF23 })
        );
        let items: Result<heapless::Vec<u16, 4>, _> =
            iter(&[0xDF, 0x21, 0x00, 0x01, 0x01, 0x00]).map(|t| t.map(|t| t.tag)).collect();
        assert_eq!(items.unwrap().as_slice(), &[0xDF21, 0x01]);
        assert_eq!(require(&[0xDF, 0x21, 0x00], 0xDF22), Err(ParseError::Missing { tag: 0xDF22 }));
    }
}
