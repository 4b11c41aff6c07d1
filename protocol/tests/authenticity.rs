//! Authenticity: pairing, MACs, and refusal of forged, replayed, reordered and misdirected
//! frames.

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
    let f = Frame::new_checked(bytes).unwrap();
    link.decode(&f).unwrap_err()
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
fn an_authenticated_frame_carries_counter_and_tag() {
    let (mut reader, mut host) = pair(&keys(1, 1));
    let cert = [0x30; 100];
    let f = encode(&mut reader, 1, &identity(&cert));
    let frame = Frame::new_checked(&f[..]).unwrap();
    assert!(frame.is_authenticated());
    assert_eq!(f.len(), HEADER_LEN + frame.payload_len() + AUTH_TRAILER_LEN + CRC_LEN);
    assert_eq!(frame.auth_trailer().unwrap().0, 1);
    assert_eq!(host.decode(&frame).unwrap().message, identity(&cert));
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
    host.decode(&Frame::new_checked(&f2[..]).unwrap()).unwrap();
    assert_eq!(decode_err(&mut host, &f1), Error::Replay { got: 1, last: 2 });
    // Replayed.
    assert_eq!(decode_err(&mut host, &f2), Error::Replay { got: 2, last: 2 });
    host.decode(&Frame::new_checked(&f3[..]).unwrap()).unwrap();
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
fn only_hello_and_pairing_pass_unauthenticated() {
    for t in 0u8..=255 {
        let allowed = Message::allowed_unauthenticated(t);
        let expected = matches!(
            t,
            msg_type::READER_HELLO
                | msg_type::HOST_HELLO
                | msg_type::PAIR_REQUEST
                | msg_type::PAIR_RESPONSE
                | msg_type::PAIR_CONFIRM
        );
        assert_eq!(allowed, expected, "type {t:#x}");
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
