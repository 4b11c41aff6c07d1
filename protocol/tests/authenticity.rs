//! Secrecy and authenticity: pairing, sealed frames (ChaCha20-Poly1305), and refusal of
//! forged, replayed, reordered and misdirected frames.

use shikaku_protocol::auth::pairing::{PairingSecrets, PublicKey, StaticSecret};
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::frame::{AUTH_TRAILER_LEN, CRC_LEN, HEADER_LEN};
use shikaku_protocol::message::*;
use shikaku_protocol::{Error, Frame, Link, Role, MAX_FRAME};

fn identity(cert: &[u8]) -> Message<'_> {
    Message::VerifiedIdentity(VerifiedIdentity {
        auth_cert: cert,
        proof: Proof::ReaderAttestation { challenge: [5; 32], attestation: &[6; 64] },
        method: AuthMethod::Face,
        card_kind: CardKind::PhysicalCard,
        consents: Consents::NONE,
        staff_account: None,
        registration: false,
        cert_expiry: CertExpiry::DaysLeft(400),
        card_detected_at: 1,
        verified_at: 2,
    })
}

fn keys(pair: u8, host_nonce: u8) -> LinkKeys {
    LinkKeys::derive(&PairingKey([pair; 32]), &[host_nonce; 16], &[0xAB; 16])
}

fn pair(k: &LinkKeys) -> (Link, Link) {
    let mut reader = Link::new(Role::Reader);
    let mut host = Link::new(Role::Host);
    reader.secure(k);
    host.secure(k);
    (reader, host)
}

fn encode(link: &mut Link, seq: u32, msg: &Message<'_>) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    let n = link.encode(&mut buf, 1, seq, msg).unwrap();
    buf[..n].to_vec()
}

fn decode_err(link: &mut Link, bytes: &[u8]) -> Error {
    let mut copy = bytes.to_vec();
    link.decode(Frame::new_checked(&mut copy[..]).unwrap()).unwrap_err()
}

fn decode_ok(link: &mut Link, bytes: &[u8]) -> Message<'static> {
    let copy = Box::leak(bytes.to_vec().into_boxed_slice());
    link.decode(Frame::new_checked(&mut copy[..]).unwrap()).unwrap().message
}

#[test]
fn pairing_derives_the_same_key_and_code_on_both_sides() {
    let host_secret = StaticSecret::from([0x11; 32]);
    let reader_secret = StaticSecret::from([0x22; 32]);
    let host_pub = PublicKey::from(&host_secret).to_bytes();
    let reader_pub = PublicKey::from(&reader_secret).to_bytes();
    let (hn, rn) = ([1; 16], [2; 16]);
    let h = PairingSecrets::derive(&host_secret, &reader_pub, &host_pub, &reader_pub, &hn, &rn);
    let r = PairingSecrets::derive(&reader_secret, &host_pub, &host_pub, &reader_pub, &hn, &rn);
    assert_eq!(h.key.0, r.key.0);
    assert_eq!(h.code, r.code);
    assert!(h.code < 1_000_000);
    h.check(h.reader_confirm(), &r.reader_confirm()).unwrap();
    r.check(r.host_confirm(), &h.host_confirm()).unwrap();
    // The two confirmations differ, so one cannot be reflected as the other.
    assert_ne!(h.reader_confirm(), h.host_confirm());

    // A man in the middle substituting the reader's public key breaks the confirmation.
    let mallory = StaticSecret::from([0x33; 32]);
    let mallory_pub = PublicKey::from(&mallory).to_bytes();
    let h2 = PairingSecrets::derive(&host_secret, &mallory_pub, &host_pub, &mallory_pub, &hn, &rn);
    assert_eq!(h2.check(h2.reader_confirm(), &r.reader_confirm()), Err(Error::PairingMismatch));
}

#[test]
fn a_sealed_frame_carries_counter_and_tag_and_no_payload_byte_in_clear() {
    let (mut reader, mut host) = pair(&keys(1, 1));
    let cert = [0x30; 100];
    let f = encode(&mut reader, 1, &identity(&cert));
    let frame = Frame::new_checked(&f[..]).unwrap();
    assert!(frame.is_authenticated());
    assert_eq!(f.len(), HEADER_LEN + frame.payload_len() + AUTH_TRAILER_LEN + CRC_LEN);
    assert_eq!(frame.auth_trailer().unwrap().0, 1);
    let mut plain = [0u8; MAX_FRAME];
    let n = identity(&cert).encode(&mut plain).unwrap();
    assert_eq!(frame.payload_len(), n, "the stream cipher keeps the length");
    let cipher = &f[HEADER_LEN..HEADER_LEN + n];
    assert!(!cipher.windows(8).any(|w| w == [0x30; 8]), "the certificate bytes are not in clear");
    let same = plain[..n].iter().zip(cipher).filter(|(a, b)| a == b).count();
    assert!(same < n / 16, "{same} of {n} payload bytes equal their plaintext");
    assert_eq!(decode_ok(&mut host, &f), identity(&cert));
}

#[test]
fn a_frame_sealed_under_proposed_keys_switches_the_link_to_them_and_old_ones_stop() {
    let old = keys(1, 1);
    let new = keys(1, 2);
    let (mut reader, mut host) = pair(&old);
    let (_, mut host2) = pair(&new);
    reader.propose(&new);
    // The current connection goes on while keys are only proposed.
    let f = encode(&mut host, 1, &Message::TimeSync { unix_ms: 1 });
    let mut copy = f.clone();
    let rx = reader.decode(Frame::new_checked(&mut copy[..]).unwrap()).unwrap();
    assert!(rx.authenticated && !rx.rekeyed);
    // The host of the new connection proves its keys: the link switches.
    let f = encode(&mut host2, 1, &Message::LinkReady);
    let mut copy = f.clone();
    let rx = reader.decode(Frame::new_checked(&mut copy[..]).unwrap()).unwrap();
    assert!(rx.authenticated && rx.rekeyed);
    // The old connection's frames no longer open.
    let f = encode(&mut host, 2, &Message::TimeSync { unix_ms: 2 });
    assert_eq!(decode_err(&mut reader, &f), Error::BadMac);
}

#[test]
fn a_sealing_counter_never_wraps() {
    use shikaku_protocol::auth::Sealer;
    use shikaku_protocol::frame::Seal;
    let mut s = Sealer::new([1; 32]);
    let mut tag = [0u8; 16];
    let mut payload = [0u8; 4];
    assert_eq!(s.seal(&[0; HEADER_LEN], &mut payload, &mut tag), Ok(1));
    let mut last = Sealer::at_counter_for_tests([1; 32], u32::MAX);
    assert_eq!(last.seal(&[0; HEADER_LEN], &mut payload, &mut tag), Err(Error::CounterExhausted));
}

#[test]
fn a_fake_reader_without_the_pairing_key_cannot_inject_an_identity() {
    let (_, mut host) = pair(&keys(1, 1));
    let cert = [0x30; 100];
    // Unauthenticated: refused before decoding.
    let mut bare = [0u8; MAX_FRAME];
    let n = shikaku_protocol::frame::emit_with(
        &mut bare,
        &shikaku_protocol::Header { msg_type: msg_type::VERIFIED_IDENTITY, session: 1, seq: 1 },
        None,
        |dst| identity(&cert).encode(dst),
    )
    .unwrap();
    assert_eq!(decode_err(&mut host, &bare[..n]), Error::Unauthenticated);
    // An unsecured link will not even encode it.
    let mut fake = Link::new(Role::Reader);
    assert_eq!(fake.encode(&mut bare, 1, 1, &identity(&cert)), Err(Error::NotPaired));
    // Authenticated with another key: bad MAC.
    let (mut fake_reader, _) = pair(&keys(2, 1));
    let forged = encode(&mut fake_reader, 1, &identity(&cert));
    assert_eq!(decode_err(&mut host, &forged), Error::BadMac);
    // Tampered payload with CRCs fixed up: bad MAC.
    let (mut reader, _) = pair(&keys(1, 1));
    let mut good = encode(&mut reader, 1, &identity(&cert));
    good[HEADER_LEN + 5] ^= 1;
    let end = good.len() - CRC_LEN;
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&good[..end]);
    good[end..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(decode_err(&mut host, &good), Error::BadMac);
}

#[test]
fn replayed_and_reordered_frames_are_refused() {
    let (mut reader, mut host) = pair(&keys(1, 1));
    let cert = [0x30; 10];
    let f1 = encode(&mut reader, 1, &identity(&cert));
    let f2 = encode(&mut reader, 2, &Message::CardRemoved);
    let f3 = encode(&mut reader, 3, &Message::CardRemoved);
    // Reordered: 2 arrives before 1; 1 is then refused.
    decode_ok(&mut host, &f2);
    assert_eq!(decode_err(&mut host, &f1), Error::Replay { got: 1, last: 2 });
    // Replayed.
    assert_eq!(decode_err(&mut host, &f2), Error::Replay { got: 2, last: 2 });
    decode_ok(&mut host, &f3);
    assert_eq!(decode_err(&mut host, &f3), Error::Replay { got: 3, last: 3 });
}

#[test]
fn frames_from_an_earlier_connection_do_not_verify_on_a_new_one() {
    let (mut reader, _) = pair(&keys(1, 1));
    let old = encode(&mut reader, 1, &Message::CardRemoved);
    // Same pairing key, fresh host nonce: new connection keys, counters restart.
    let (_, mut host) = pair(&keys(1, 2));
    assert_eq!(decode_err(&mut host, &old), Error::BadMac);
}

#[test]
fn a_reader_frame_reflected_back_to_the_reader_is_refused() {
    let k = keys(1, 1);
    let (mut reader, _) = pair(&k);
    let mut reader2 = Link::new(Role::Reader);
    reader2.secure(&k);
    // Per-direction keys: the reader's own frame does not verify as a host frame.
    let f = encode(&mut reader, 1, &Message::CardRemoved);
    assert_eq!(decode_err(&mut reader2, &f), Error::BadMac);
}

#[test]
fn messages_in_the_wrong_direction_are_refused() {
    let k = keys(1, 1);
    let (mut reader, mut host) = pair(&k);
    // A correctly sealed frame of a host→reader type, sent by the reader, is still refused.
    let f = encode(
        &mut reader,
        1,
        &Message::PasscodeProvision { account: "staff-01", salt: [1; 16], iterations: 1000, hash: [2; 32] },
    );
    assert_eq!(decode_err(&mut host, &f), Error::WrongDirection(msg_type::PASSCODE_PROVISION));
}

#[test]
fn only_hello_and_on_an_unsecured_link_pairing_pass_unsealed() {
    for t in 0u8..=255 {
        let hello = matches!(t, msg_type::READER_HELLO | msg_type::HOST_HELLO);
        let pairing = matches!(
            t,
            msg_type::PAIR_REQUEST | msg_type::PAIR_RESPONSE | msg_type::PAIR_CONFIRM | msg_type::PAIR_RESULT
        );
        assert_eq!(Message::allowed_unsealed(t, false), hello || pairing, "type {t:#x} unsecured");
        assert_eq!(Message::allowed_unsealed(t, true), hello, "type {t:#x} secured");
    }
    let mut buf = [0u8; MAX_FRAME];
    let n = shikaku_protocol::frame::emit(
        &mut buf,
        &shikaku_protocol::Header { msg_type: msg_type::PASSCODE_PROVISION, session: 0, seq: 0 },
        &[],
        None,
    )
    .unwrap();
    let mut reader = Link::new(Role::Reader);
    // Firmware refuses a passcode hash that did not come over a secured link.
    assert_eq!(decode_err(&mut reader, &buf[..n]), Error::Unauthenticated);
}

#[test]
fn reader_attestation_binds_challenge_certificate_method_staff_and_time() {
    use shikaku_protocol::auth::reader_attestation;
    let k = PairingKey([4; 32]);
    let base = reader_attestation(&k, &[1; 32], b"cert", 3, Some("staff-01"), 100);
    assert_eq!(base, reader_attestation(&k, &[1; 32], b"cert", 3, Some("staff-01"), 100));
    for other in [
        reader_attestation(&PairingKey([5; 32]), &[1; 32], b"cert", 3, Some("staff-01"), 100),
        reader_attestation(&k, &[2; 32], b"cert", 3, Some("staff-01"), 100),
        reader_attestation(&k, &[1; 32], b"cerT", 3, Some("staff-01"), 100),
        reader_attestation(&k, &[1; 32], b"cert", 1, Some("staff-01"), 100),
        reader_attestation(&k, &[1; 32], b"cert", 3, Some("staff-02"), 100),
        reader_attestation(&k, &[1; 32], b"cert", 3, None, 100),
        reader_attestation(&k, &[1; 32], b"cert", 3, Some("staff-01"), 101),
    ] {
        assert_ne!(base, other);
    }
}
