//! Field encodings shared by all messages: little-endian integers, `u16`-length byte
//! strings, `u8`-length UTF-8 text, fixed arrays. Decoding is zero-copy with `nom`.

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u64, u8 as le_u8};
use nom::{IResult, Parser};

use crate::Error;

/// Encoder into a caller's buffer; never allocates, fails with [`Error::BufferTooSmall`].
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) -> Result<(), Error> {
        let end = self.pos.checked_add(data.len()).ok_or(Error::BufferTooSmall)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(data);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.bytes(&[v])
    }
    pub(crate) fn u16(&mut self, v: u16) -> Result<(), Error> {
        self.bytes(&v.to_le_bytes())
    }
    pub(crate) fn u32(&mut self, v: u32) -> Result<(), Error> {
        self.bytes(&v.to_le_bytes())
    }
    pub(crate) fn u64(&mut self, v: u64) -> Result<(), Error> {
        self.bytes(&v.to_le_bytes())
    }
    pub(crate) fn bool(&mut self, v: bool) -> Result<(), Error> {
        self.u8(v as u8)
    }

    /// A byte string with a `u16` length prefix.
    pub(crate) fn blob(&mut self, data: &[u8]) -> Result<(), Error> {
        let len = u16::try_from(data.len())
            .map_err(|_| Error::FieldTooLong { len: data.len(), max: u16::MAX as usize })?;
        self.u16(len)?;
        self.bytes(data)
    }

    /// UTF-8 text with a `u8` length prefix (at most [`MAX_TEXT`] bytes).
    pub(crate) fn text(&mut self, s: &str) -> Result<(), Error> {
        if s.len() > MAX_TEXT {
            return Err(Error::FieldTooLong { len: s.len(), max: MAX_TEXT });
        }
        self.u8(s.len() as u8)?;
        self.bytes(s.as_bytes())
    }

    /// Optional text: a presence byte, then the text.
    pub(crate) fn opt_text(&mut self, s: Option<&str>) -> Result<(), Error> {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1)?;
                self.text(s)
            }
        }
    }
}

/// Longest text field (account ids, versions, details): one length byte.
pub const MAX_TEXT: usize = 255;

/// Zero-copy decoder over a payload. Errors carry no position: a bad payload is refused whole.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

type R<'a, T> = IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

/// Decoding failed inside a field; the caller turns it into [`Error::MalformedPayload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    Short,
    Utf8,
    Value { field: &'static str, value: u8 },
}

impl<'a> Reader<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        Self { rest: payload }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn run<T>(&mut self, parsed: R<'a, T>) -> Result<T, FieldError> {
        let (rest, v) = parsed.map_err(|_| FieldError::Short)?;
        self.rest = rest;
        Ok(v)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FieldError> {
        let r = le_u8(self.rest);
        self.run(r)
    }
    pub(crate) fn u16(&mut self) -> Result<u16, FieldError> {
        let r = le_u16(self.rest);
        self.run(r)
    }
    pub(crate) fn u32(&mut self) -> Result<u32, FieldError> {
        let r = le_u32(self.rest);
        self.run(r)
    }
    pub(crate) fn u64(&mut self) -> Result<u64, FieldError> {
        let r = le_u64(self.rest);
        self.run(r)
    }
    pub(crate) fn bool(&mut self) -> Result<bool, FieldError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(FieldError::Value { field: "bool", value: v }),
        }
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], FieldError> {
        let r = take(n).parse(self.rest);
        self.run(r)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], FieldError> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }
    pub(crate) fn blob(&mut self) -> Result<&'a [u8], FieldError> {
        let len = self.u16()? as usize;
        self.bytes(len)
    }
    pub(crate) fn text(&mut self) -> Result<&'a str, FieldError> {
        let len = self.u8()? as usize;
        let b = self.bytes(len)?;
        core::str::from_utf8(b).map_err(|_| FieldError::Utf8)
    }
    pub(crate) fn opt_text(&mut self) -> Result<Option<&'a str>, FieldError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.text().map(Some),
            v => Err(FieldError::Value { field: "option", value: v }),
        }
    }
}

impl FieldError {
    pub(crate) fn into_error(self, msg_type: u8) -> Error {
        match self {
            FieldError::Short => Error::MalformedPayload(msg_type),
            FieldError::Utf8 => Error::InvalidUtf8,
            FieldError::Value { field, value } => Error::UnknownValue { field, value },
        }
    }
}
