//! An observer that records every byte on the cable between the reader and the PC, through a
//! PIN reception with consent answers and a 目視 reception (the staff passcode provisioned on the
//! way), learns none of: the passcode's salted hash or its salt, the staff account, the auth
//! certificate, the consent answers, the end of the verified identity. Only the frame headers
//! (type, session, sequence, length) travel in clear; the search covers everything after them.
//!
//! The same search over what the host decrypted finds each of them, so the search itself works.

mod common;

use shikaku_hil::rig::{self, scenarios, Outcome, RIG_PASSCODE_SALT, STAFF_ACCOUNT, STAFF_PASSCODE};
use shikaku_protocol::frame::HEADER_LEN;
use shikaku_protocol::message::{msg_type, Message};
use shikaku_protocol::{passcode, Frame, MAX_PAYLOAD};

/// Secrets (and things a clinic must not leak) with a name, as byte strings to look for.
fn secrets(o: &Outcome) -> Vec<(String, Vec<u8>)> {
    let hash = passcode::hash(STAFF_PASSCODE.as_bytes(), RIG_PASSCODE_SALT, 10_000);
    let mut out = vec![
        ("passcode hash".to_string(), hash[..12].to_vec()),
        ("passcode salt".to_string(), RIG_PASSCODE_SALT.to_vec()),
        ("staff account".to_string(), STAFF_ACCOUNT.as_bytes().to_vec()),
    ];
    // Every 24-byte piece of the certificate.
    for (i, piece) in o.issued.auth_cert.chunks(24).enumerate().filter(|(_, p)| p.len() == 24) {
        out.push((format!("certificate bytes {}..", i * 24), piece.to_vec()));
    }
    for m in &o.host_messages {
        let msg = m.message();
        let mut buf = vec![0u8; MAX_PAYLOAD];
        let Ok(n) = msg.encode(&mut buf) else { continue };
        match msg {
            Message::ConsentAnswers { .. } => out.push(("consent answers".into(), buf[..n].to_vec())),
            Message::VerifiedIdentity(_) => {
                // The message's tail: consents, staff, registration, expiry and times.
                out.push(("identity (tail)".into(), buf[n - 24..n].to_vec()));
            }
            _ => {}
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn observe(o: &Outcome) {
    let tapped: Vec<&[u8]> = o.wire.iter().filter(|t| !t.injected).map(|t| &t.bytes[..]).collect();
    let total: usize = tapped.iter().map(|f| f.len()).sum();
    assert!(total > 3_000, "the observer saw the reception ({total} bytes)");
    // What each frame carries beyond its clear header (type, session, sequence, length): the
    // (sealed) payload, and the counter and tag.
    let payloads: Vec<&[u8]> = tapped
        .iter()
        .filter_map(|f| Frame::new_checked(*f).ok().map(|fr| &f[HEADER_LEN..fr.total_len()]))
        .collect();
    assert_eq!(payloads.len(), tapped.len(), "every tapped frame parses");
    let found: Vec<String> = secrets(o)
        .into_iter()
        .filter(|(_, s)| payloads.iter().any(|p| contains(p, s)))
        .map(|(name, _)| name)
        .collect();
    assert!(found.is_empty(), "an observer of the cable reads: {found:?}");

    // The control: what the host decrypted from the reader holds the reader's secrets (the
    // passcode, salt and, in a PIN reception, the staff account go the other way or not at all).
    let mut plain = Vec::new();
    for m in &o.host_messages {
        let mut buf = vec![0u8; MAX_PAYLOAD];
        if let Ok(n) = m.message().encode(&mut buf) {
            plain.extend_from_slice(&buf[..n]);
        }
    }
    let visual = o.host_messages_of(msg_type::VISUAL_MODE_STARTED).count() > 0;
    for (name, s) in secrets(o) {
        let reader_to_host = !name.starts_with("passcode") && (name != "staff account" || visual);
        if reader_to_host {
            assert!(contains(&plain, &s), "the search finds {name} in the host's decrypted view");
        }
    }
}

#[test]
fn an_observer_of_the_cable_learns_nothing_from_a_pin_reception() {
    let o = rig::run(&scenarios::pin_ok()).unwrap();
    assert!(o.host_messages_of(msg_type::CONSENT_ANSWERS).count() == 1);
    observe(&o);
}

#[test]
fn an_observer_of_the_cable_learns_nothing_from_a_visual_reception() {
    let o = rig::run(&scenarios::pin_locked_visual()).unwrap();
    assert!(o.host_messages_of(msg_type::VISUAL_MODE_STARTED).count() == 1);
    observe(&o);
}
