//! The records' byte layout (see the crate docs' table). Decoding never trusts a length read
//! from flash: every read is bounds-checked and a short or overlong record is `Malformed`.

use sequential_storage::map::{SerializationError, Value};

use crate::{Lockout, PasscodeRecord, PendingRef, StoreError, FORMAT_VERSION, MAX_PASSCODES, MAX_PAYLOAD};

/// One passcode account: length, account, salt, iterations, hash.
const PASSCODE_LEN_MAX: usize = 1 + 32 + 16 + 4 + 32;
/// version, used, order, session, seq, msg_type, length.
const SLOT_HEAD_LEN: usize = 1 + 1 + 4 + 4 + 4 + 1 + 2;
/// The biggest value of any record: a full outbox slot.
pub(crate) const MAX_VALUE_LEN: usize = SLOT_HEAD_LEN + MAX_PAYLOAD;
const _: () = assert!(2 + MAX_PASSCODES * PASSCODE_LEN_MAX <= MAX_VALUE_LEN);

/// A record to write, serialised straight into sequential-storage's buffer.
pub(crate) enum Put<'a> {
    Pairing(Option<&'a [u8; 32]>),
    Passcodes(&'a [PasscodeRecord]),
    Lockout(Lockout),
    Pending {
        order: u32,
        p: &'a PendingRef<'a>,
    },
    EmptySlot,
    /// Any bytes, for the tests' hand-made records.
    #[cfg(test)]
    Raw(&'a [u8]),
}

struct Writer<'b> {
    buf: &'b mut [u8],
    n: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SerializationError> {
        let end = self.n + bytes.len();
        self.buf.get_mut(self.n..end).ok_or(SerializationError::BufferTooSmall)?.copy_from_slice(bytes);
        self.n = end;
        Ok(())
    }
}

impl<'a> Value<'a> for Put<'_> {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        let mut w = Writer { buf: buffer, n: 0 };
        #[cfg(test)]
        if let Put::Raw(bytes) = self {
            w.put(bytes)?;
            return Ok(w.n);
        }
        w.put(&[FORMAT_VERSION])?;
        match self {
            Put::Pairing(None) | Put::EmptySlot => w.put(&[0])?,
            Put::Pairing(Some(key)) => {
                w.put(&[1])?;
                w.put(&key[..])?;
            }
            Put::Passcodes(all) => {
                let n = u8::try_from(all.len()).map_err(|_| SerializationError::InvalidData)?;
                w.put(&[n])?;
                for r in *all {
                    // heapless::String<32>: at most 32 bytes, fits a u8.
                    let len = u8::try_from(r.account.len()).map_err(|_| SerializationError::InvalidData)?;
                    w.put(&[len])?;
                    w.put(r.account.as_bytes())?;
                    w.put(&r.salt)?;
                    w.put(&r.iterations.to_le_bytes())?;
                    w.put(&r.hash)?;
                }
            }
            Put::Lockout(l) => w.put(&[l.failures])?,
            #[cfg(test)]
            Put::Raw(_) => {}
            Put::Pending { order, p } => {
                let len = u16::try_from(p.payload.len()).map_err(|_| SerializationError::InvalidData)?;
                w.put(&[1])?;
                w.put(&order.to_le_bytes())?;
                w.put(&p.session.to_le_bytes())?;
                w.put(&p.seq.to_le_bytes())?;
                w.put(&[p.msg_type])?;
                w.put(&len.to_le_bytes())?;
                w.put(p.payload)?;
            }
        }
        Ok(w.n)
    }

    fn deserialize_from(_buffer: &'a [u8]) -> Result<(Self, usize), SerializationError> {
        // Records are read back as plain bytes and decoded below.
        Err(SerializationError::InvalidFormat)
    }
}

struct Reader<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl<'b> Reader<'b> {
    /// Checks the version byte and starts after it.
    fn new(buf: &'b [u8]) -> Result<Self, StoreError> {
        match buf.first() {
            Some(&FORMAT_VERSION) => Ok(Reader { buf, pos: 1 }),
            Some(&v) => Err(StoreError::UnsupportedVersion(v)),
            None => Err(StoreError::Malformed),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'b [u8], StoreError> {
        let end = self.pos.checked_add(n).ok_or(StoreError::Malformed)?;
        let s = self.buf.get(self.pos..end).ok_or(StoreError::Malformed)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, StoreError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A flag byte: 0 or 1, anything else is malformed.
    fn flag(&mut self) -> Result<bool, StoreError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(StoreError::Malformed),
        }
    }

    /// Nothing may follow the record.
    fn end(&self) -> Result<(), StoreError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(StoreError::Malformed)
        }
    }
}

pub(crate) fn pairing(v: &[u8]) -> Result<Option<[u8; 32]>, StoreError> {
    let mut r = Reader::new(v)?;
    let key = if r.flag()? { Some(r.array::<32>()?) } else { None };
    r.end()?;
    Ok(key)
}

pub(crate) fn passcodes(v: &[u8]) -> Result<heapless::Vec<PasscodeRecord, MAX_PASSCODES>, StoreError> {
    let mut r = Reader::new(v)?;
    let n = r.u8()? as usize;
    if n > MAX_PASSCODES {
        return Err(StoreError::Malformed);
    }
    let mut all = heapless::Vec::new();
    for _ in 0..n {
        let len = r.u8()? as usize;
        let name = core::str::from_utf8(r.take(len)?).map_err(|_| StoreError::Malformed)?;
        let mut account = heapless::String::new();
        account.push_str(name).map_err(|_| StoreError::Malformed)?;
        let record = PasscodeRecord { account, salt: r.array()?, iterations: r.u32()?, hash: r.array()? };
        all.push(record).map_err(|_| StoreError::Malformed)?;
    }
    r.end()?;
    Ok(all)
}

pub(crate) fn lockout(v: &[u8]) -> Result<Lockout, StoreError> {
    let mut r = Reader::new(v)?;
    let failures = r.u8()?;
    r.end()?;
    Ok(Lockout { failures })
}

/// The fixed part of an outbox slot.
pub(crate) struct SlotHead {
    pub(crate) order: u32,
    pub(crate) session: u32,
    pub(crate) seq: u32,
}

/// The head of an outbox slot (`None`: empty), the payload checked but not kept.
pub(crate) fn slot_head(v: &[u8]) -> Result<Option<SlotHead>, StoreError> {
    Ok(slot_full(v)?.map(|(order, p)| SlotHead { order, session: p.session, seq: p.seq }))
}

/// An outbox slot's pending result (`None`: empty).
pub(crate) fn slot(v: &[u8]) -> Result<Option<PendingRef<'_>>, StoreError> {
    Ok(slot_full(v)?.map(|(_, p)| p))
}

fn slot_full(v: &[u8]) -> Result<Option<(u32, PendingRef<'_>)>, StoreError> {
    let mut r = Reader::new(v)?;
    if !r.flag()? {
        r.end()?;
        return Ok(None);
    }
    let order = r.u32()?;
    let session = r.u32()?;
    let seq = r.u32()?;
    let msg_type = r.u8()?;
    let len = r.u16()? as usize;
    if len > MAX_PAYLOAD {
        return Err(StoreError::Malformed);
    }
    let payload = r.take(len)?;
    r.end()?;
    Ok(Some((order, PendingRef { session, seq, msg_type, payload })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(p: &Put<'_>) -> Vec<u8> {
        let mut buf = vec![0; 4096];
        let n = p.serialize_into(&mut buf).expect("fits");
        buf.truncate(n);
        buf
    }

    #[test]
    fn every_record_decodes_to_what_was_encoded() {
        let key = [7u8; 32];
        assert_eq!(pairing(&encode(&Put::Pairing(Some(&key)))), Ok(Some(key)));
        assert_eq!(pairing(&encode(&Put::Pairing(None))), Ok(None));
        assert_eq!(lockout(&encode(&Put::Lockout(Lockout { failures: 4 }))), Ok(Lockout { failures: 4 }));
        let rec = PasscodeRecord {
            account: heapless::String::try_from("staff-01").expect("short"),
            salt: [1; 16],
            iterations: 1000,
            hash: [2; 32],
        };
        let all = [rec.clone(), rec];
        assert_eq!(passcodes(&encode(&Put::Passcodes(&all))).expect("decodes").as_slice(), &all);
        let p = PendingRef { session: 5, seq: 9, msg_type: 0x21, payload: &[1, 2, 3] };
        let bytes = encode(&Put::Pending { order: 3, p: &p });
        assert_eq!(slot(&bytes), Ok(Some(p)));
        assert_eq!(slot(&encode(&Put::EmptySlot)), Ok(None));
    }

    #[test]
    fn a_record_of_another_version_is_a_typed_error() {
        let mut bytes = encode(&Put::Lockout(Lockout { failures: 1 }));
        bytes[0] = 2;
        assert_eq!(lockout(&bytes), Err(StoreError::UnsupportedVersion(2)));
    }

    #[test]
    fn every_truncation_or_extension_of_a_record_is_malformed_not_a_panic() {
        let p = PendingRef { session: 5, seq: 9, msg_type: 0x21, payload: &[1, 2, 3] };
        let rec = PasscodeRecord {
            account: heapless::String::try_from("staff-01").expect("short"),
            salt: [1; 16],
            iterations: 1000,
            hash: [2; 32],
        };
        type Decode = fn(&[u8]) -> bool;
        let records: [(Vec<u8>, Decode); 4] = [
            (encode(&Put::Pending { order: 3, p: &p }), |b| slot(b).is_ok()),
            (encode(&Put::Passcodes(&[rec])), |b| passcodes(b).is_ok()),
            (encode(&Put::Pairing(Some(&[3; 32]))), |b| pairing(b).is_ok()),
            (encode(&Put::Lockout(Lockout { failures: 2 })), |b| lockout(b).is_ok()),
        ];
        for (bytes, decodes) in &records {
            assert!(decodes(bytes), "the whole record decodes");
            for cut in 0..bytes.len() {
                assert!(!decodes(&bytes[..cut]), "cut at {cut} of {}", bytes.len());
            }
            let mut long = bytes.clone();
            long.push(0);
            assert!(!decodes(&long), "a trailing byte");
        }
        // A length that points past the end, and bad UTF-8 in an account name.
        let mut lying = encode(&Put::Pending { order: 0, p: &p });
        let len_at = SLOT_HEAD_LEN - 2;
        lying[len_at..len_at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(slot(&lying), Err(StoreError::Malformed));
        assert_eq!(passcodes(&[FORMAT_VERSION, 1, 2, 0xff, 0xfe]), Err(StoreError::Malformed));
    }
}
