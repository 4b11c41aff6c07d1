//! What a device on the reader's cable can write, and the checks the adversary tests share.

use shikaku_hil::rig::{scenarios, Outcome};
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::frame::{self, Header};
use shikaku_protocol::message::*;
use shikaku_protocol::{passcode, Frame, Link, Role, MAX_FRAME, MAX_PAYLOAD};

/// A pairing key the attacker made up (it does not have the real one).
pub(crate) const STRANGER_KEY: [u8; 32] = [0xEE; 32];
/// The passcode the attacker tries to provision.
pub(crate) const STRANGER_PASSCODE: &str = "1357";

/// `msg` in a plain (unsealed) frame, as anyone on the cable can write it.
pub(crate) fn unsealed(msg: &Message<'_>, seq: u32) -> Vec<u8> {
    unsealed_from_reader(msg, 0, seq)
}

/// `msg` in a plain frame with a session id of the attacker's choice.
pub(crate) fn unsealed_from_reader(msg: &Message<'_>, session: u32, seq: u32) -> Vec<u8> {
    let mut payload = vec![0u8; MAX_PAYLOAD];
    let n = msg.encode(&mut payload).expect("encodes");
    let mut buf = vec![0u8; MAX_FRAME];
    let header = Header { msg_type: msg.msg_type(), session, seq };
    let n = frame::emit(&mut buf, &header, &payload[..n], None).expect("frame");
    buf.truncate(n);
    buf
}

fn stranger_link(role: Role) -> Link {
    let mut link = Link::new(role);
    link.secure(&LinkKeys::derive(&PairingKey(STRANGER_KEY), &[1; 16], &[2; 16]));
    link
}

/// `msg` sealed as a host holding the attacker's own pairing key would seal it.
pub(crate) fn sealed_by_stranger(msg: &Message<'_>, seq: u32) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME];
    let n = stranger_link(Role::Host).encode(&mut buf, 0, seq, msg).expect("encodes");
    buf.truncate(n);
    buf
}

/// `msg` sealed as a reader holding the attacker's own pairing key would seal it.
pub(crate) fn sealed_by_stranger_reader(msg: &Message<'_>, session: u32, seq: u32) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME];
    let n = stranger_link(Role::Reader).encode(&mut buf, session, seq, msg).expect("encodes");
    buf.truncate(n);
    buf
}

/// The attacker's own 目視 account, with a hash the reader would accept were it authentic.
pub(crate) fn stranger_passcode() -> Message<'static> {
    let salt = [0x33; 16];
    let hash = passcode::hash(STRANGER_PASSCODE.as_bytes(), &salt, 10_000);
    Message::PasscodeProvision { account: "mallory", salt, iterations: 10_000, hash }
}

/// A verified identity nobody's card produced.
pub(crate) fn forged_identity() -> Message<'static> {
    Message::VerifiedIdentity(VerifiedIdentity {
        auth_cert: &[0x30, 0x82, 0x01, 0x00],
        proof: Proof::ReaderAttestation { challenge: [0x11; 32], attestation: &[0x22; 32] },
        method: AuthMethod::Visual,
        card_kind: CardKind::PhysicalCard,
        consents: Consents::NONE,
        staff_account: Some("mallory"),
        registration: false,
        cert_expiry: CertExpiry::DaysLeft(400),
        card_detected_at: 1,
        verified_at: 2,
    })
}

/// The reception ended as it should: everything delivered and acknowledged, one identity by
/// `method`, its proof checked by the host.
pub(crate) fn assert_reception_ok(o: &Outcome, method: AuthMethod) {
    if let Err(e) = scenarios::delivered(o) {
        panic!("{e}\n{}", o.transcript.join("\n"));
    }
    assert_eq!(o.identities.len(), 1, "{}", o.transcript.join("\n"));
    assert_eq!(o.identities[0].method, method);
    assert_eq!(o.identities[0].proof, Ok(()), "{}", o.transcript.join("\n"));
}

/// Whether the real reader ever sent a frame of type `t` (the type is in the clear header).
pub(crate) fn sent_by_reader(o: &Outcome, t: u8) -> bool {
    o.wire.iter().any(|w| !w.to_reader && !w.injected && Frame::new_unchecked(&w.bytes[..]).msg_type() == t)
}

/// How many passcode provisions the reader answered.
pub(crate) fn passcode_answers(o: &Outcome) -> usize {
    o.wire
        .iter()
        .filter(|w| {
            !w.to_reader
                && !w.injected
                && Frame::new_unchecked(&w.bytes[..]).msg_type() == msg_type::PASSCODE_RESULT
        })
        .count()
}
