//! Truncated, corrupted, oversized, unknown and version-skewed frames each give their exact
//! typed error; the deframer resynchronises after garbage without losing good frames.

use proptest::prelude::*;
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::frame::{self, Header, CRC_LEN, HEADER_LEN, MAX_PAYLOAD};
use shikaku_protocol::message::{msg_type, CardKind, Message};
use shikaku_protocol::{Error, Frame, Link, Role, MAX_FRAME};

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fn hello_frame() -> Vec<u8> {
    let mut link = Link::new(Role::Host);
    let mut buf = [0u8; MAX_FRAME];
    let n = link
        .encode(&mut buf, 1, 1, &Message::HostHello { driver_version: "shikaku 0.1", nonce: [9; 16] })
        .unwrap();
    buf[..n].to_vec()
}

/// Rewrites both checksums after a deliberate edit, so only the edited field is wrong.
fn fix_checksums(f: &mut [u8]) {
    let h = CRC16.checksum(&f[..15]);
    f[15..17].copy_from_slice(&h.to_le_bytes());
    let end = f.len() - CRC_LEN;
    let c = CRC32.checksum(&f[..end]);
    f[end..].copy_from_slice(&c.to_le_bytes());
}

#[test]
fn every_truncation_reports_the_exact_missing_length() {
    let f = hello_frame();
    for cut in 0..f.len() {
        let want = if cut < HEADER_LEN { HEADER_LEN - cut } else { f.len() - cut };
        assert_eq!(
            Frame::new_checked(&f[..cut]).unwrap_err(),
            Error::Truncated { needed: want },
            "cut at {cut}"
        );
    }
    assert!(Frame::new_checked(&f[..]).is_ok());
}

#[test]
fn every_single_bit_flip_is_detected() {
    let f = hello_frame();
    for i in 0..f.len() * 8 {
        let mut g = f.clone();
        g[i / 8] ^= 1 << (i % 8);
        let err = Frame::new_checked(&g[..]).expect_err("a flipped bit must not pass");
        let byte = i / 8;
        let expected = match byte {
            0..=1 => Error::BadMarker,
            2..=16 => Error::HeaderCrc,
            _ => Error::FrameCrc,
        };
        assert_eq!(err, expected, "bit {i}");
    }
}

#[test]
fn a_declared_payload_above_the_limit_is_refused_before_reading_it() {
    let mut f = hello_frame();
    f[13..15].copy_from_slice(&((MAX_PAYLOAD + 1) as u16).to_le_bytes());
    fix_checksums(&mut f);
    assert_eq!(
        Frame::new_checked(&f[..]).unwrap_err(),
        Error::Oversized { len: MAX_PAYLOAD + 1, max: MAX_PAYLOAD }
    );
}

#[test]
fn encoding_an_oversized_payload_is_refused() {
    let big = vec![0u8; MAX_PAYLOAD + 1];
    let mut buf = vec![0u8; MAX_FRAME + 64];
    let h = Header { msg_type: msg_type::CARD_REMOVED, session: 0, seq: 0 };
    assert_eq!(
        frame::emit(&mut buf, &h, &big, None),
        Err(Error::Oversized { len: MAX_PAYLOAD + 1, max: MAX_PAYLOAD })
    );
    let mut small = [0u8; 20];
    assert_eq!(frame::emit(&mut small, &h, &[1; 8], None), Err(Error::BufferTooSmall));
}

#[test]
fn another_major_version_is_refused_a_newer_minor_is_tolerated() {
    for (version, major) in [(0x10, 1), (0x30, 3)] {
        let mut f = hello_frame();
        f[2] = version;
        fix_checksums(&mut f);
        assert_eq!(Frame::new_checked(&f[..]).unwrap_err(), Error::UnsupportedVersion(major));
    }

    // Minor 3 with a field appended at the end: accepted, the extra field skipped.
    let mut g = hello_frame();
    let payload_len = u16::from_le_bytes([g[13], g[14]]) as usize;
    g.truncate(g.len() - CRC_LEN);
    g.extend_from_slice(&[0xEE, 0xEE]);
    g.extend_from_slice(&[0; CRC_LEN]);
    g[2] = 0x23;
    g[13..15].copy_from_slice(&((payload_len + 2) as u16).to_le_bytes());
    fix_checksums(&mut g);
    let frame = Frame::new_checked(&mut g[..]).unwrap();
    assert_eq!(frame.version_minor(), 3);
    let mut reader = Link::new(Role::Reader);
    let got = reader.decode(frame).unwrap();
    assert_eq!(got.message, Message::HostHello { driver_version: "shikaku 0.1", nonce: [9; 16] });

    // The same extra bytes from our own minor are an error.
    g[2] = 0x20;
    fix_checksums(&mut g);
    let frame = Frame::new_checked(&mut g[..]).unwrap();
    assert_eq!(reader.decode(frame).unwrap_err(), Error::TrailingBytes(2));
}

#[test]
fn unknown_types_and_values_are_typed_errors() {
    assert_eq!(Message::decode(0x3E, 0, &[]), Err(Error::UnknownMessageType(0x3E)));
    assert_eq!(
        Message::decode(msg_type::CARD_DETECTED, 0, &[9]),
        Err(Error::UnknownValue { field: "card_kind", value: 9 })
    );
    assert_eq!(
        Message::decode(msg_type::CARD_DETECTED, 0, &[]),
        Err(Error::MalformedPayload(msg_type::CARD_DETECTED))
    );
    assert_eq!(Message::decode(msg_type::VISUAL_MODE_STARTED, 0, &[2, 0xFF, 0xFE]), Err(Error::InvalidUtf8));
    assert_eq!(
        Message::decode(msg_type::CARD_DETECTED, 0, &[CardKind::IPhone as u8, 0]),
        Err(Error::TrailingBytes(1))
    );
}

#[test]
fn text_longer_than_its_length_byte_is_refused_on_encode() {
    let long = "髙".repeat(100);
    let mut buf = [0u8; 512];
    assert_eq!(
        Message::VisualModeStarted { staff_account: &long }.encode(&mut buf),
        Err(Error::FieldTooLong { len: 300, max: 255 })
    );
}

fn frames(n: usize) -> Vec<Vec<u8>> {
    let mut link = Link::new(Role::Host);
    (0..n)
        .map(|i| {
            let mut buf = [0u8; MAX_FRAME];
            let msg = Message::HostHello { driver_version: "x", nonce: [i as u8; 16] };
            let len = link.encode(&mut buf, 7, i as u32, &msg).unwrap();
            buf[..len].to_vec()
        })
        .collect()
}

fn drain(d: &mut Deframer<MAX_FRAME>, out: &mut Vec<u32>, errors: &mut usize) {
    while let Some(r) = d.next_frame() {
        match r {
            Ok(f) => out.push(f.seq()),
            Err(_) => *errors += 1,
        }
    }
}

fn feed(d: &mut Deframer<MAX_FRAME>, mut data: &[u8], out: &mut Vec<u32>, errors: &mut usize) {
    while !data.is_empty() {
        let n = d.push(data);
        data = &data[n..];
        drain(d, out, errors);
    }
}

proptest! {
    #[test]
    fn resynchronises_after_random_garbage(
        garbage in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 6),
        split in 1usize..64,
    ) {
        let fs = frames(5);
        let mut wire = Vec::new();
        for (i, f) in fs.iter().enumerate() {
            wire.extend_from_slice(&garbage[i]);
            wire.extend_from_slice(f);
        }
        wire.extend_from_slice(&garbage[5]);
        // A closing frame flushes any false start left in the garbage tail.
        let tail = frames(6).pop().unwrap();
        wire.extend_from_slice(&tail);
        let mut d: Deframer<MAX_FRAME> = Deframer::new();
        let (mut got, mut errors) = (Vec::new(), 0);
        for chunk in wire.chunks(split) {
            feed(&mut d, chunk, &mut got, &mut errors);
        }
        // Garbage can, with tiny probability, form a valid-looking header that swallows bytes
        // until its CRC fails; every real frame must still come out, in order.
        let real: Vec<u32> = got.iter().copied().filter(|&s| s < 6).collect();
        prop_assert_eq!(real, vec![0, 1, 2, 3, 4, 5]);
    }
}

#[test]
fn a_corrupted_frame_is_reported_once_and_the_next_one_survives() {
    let fs = frames(3);
    let mut wire = Vec::new();
    wire.extend_from_slice(&fs[0]);
    let mut bad = fs[1].clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    wire.extend_from_slice(&bad);
    wire.extend_from_slice(&fs[2]);
    let mut d: Deframer<MAX_FRAME> = Deframer::new();
    let mut results = Vec::new();
    let mut data = &wire[..];
    while !data.is_empty() {
        let n = d.push(data);
        data = &data[n..];
        while let Some(r) = d.next_frame() {
            results.push(r.map(|f| f.seq()));
        }
    }
    assert_eq!(results, vec![Ok(0), Err(Error::FrameCrc), Ok(2)]);
    assert_eq!(d.stats().frames, 2);
    assert_eq!(d.stats().rejected, 1);
}

#[test]
fn byte_at_a_time_feeding_yields_the_same_frames() {
    let fs = frames(4);
    let wire: Vec<u8> = fs.concat();
    let mut d: Deframer<MAX_FRAME> = Deframer::new();
    let (mut got, mut errors) = (Vec::new(), 0);
    for b in &wire {
        feed(&mut d, std::slice::from_ref(b), &mut got, &mut errors);
    }
    assert_eq!(got, vec![0, 1, 2, 3]);
    assert_eq!(errors, 0);
}
