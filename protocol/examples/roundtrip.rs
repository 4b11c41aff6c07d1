//! Pairs a simulated reader and host, secures the link, and carries one reception session's
//! messages across a byte pipe with garbage, a corrupted frame and a duplicate, printing what
//! each side sees. `cargo run -p shikaku-protocol --example roundtrip [-- --seeds DIR]`
//! (`--seeds` also writes each frame as a fuzzing seed.)

use shikaku_protocol::auth::pairing::{PairingSecrets, PublicKey, StaticSecret};
use shikaku_protocol::auth::LinkKeys;
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::message::*;
use shikaku_protocol::reliable::{Delivery, DuplicateFilter};
use shikaku_protocol::{Link, Role, MAX_FRAME};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seeds = std::env::args().skip_while(|a| a != "--seeds").nth(1);

    // Pairing: ephemeral X25519 on both sides (fixed seeds here; a device uses its TRNG).
    let host_secret = StaticSecret::from([0x42; 32]);
    let reader_secret = StaticSecret::from([0x24; 32]);
    let host_pub = PublicKey::from(&host_secret).to_bytes();
    let reader_pub = PublicKey::from(&reader_secret).to_bytes();
    let (hn, rn) = ([1u8; 16], [2u8; 16]);
    let host_side = PairingSecrets::derive(&host_secret, &reader_pub, &host_pub, &reader_pub, &hn, &rn);
    let reader_side = PairingSecrets::derive(&reader_secret, &host_pub, &host_pub, &reader_pub, &hn, &rn);
    host_side.check(host_side.reader_confirm(), &reader_side.reader_confirm())?;
    reader_side.check(reader_side.host_confirm(), &host_side.host_confirm())?;
    println!("paired: comparison code {:06} on both sides", host_side.code);

    let keys = LinkKeys::derive(&host_side.key, &[7; 16], &[8; 16]);
    let mut reader = Link::new(Role::Reader);
    let mut host = Link::new(Role::Host);
    reader.secure(&keys);
    host.secure(&keys);

    let cert = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/myna-testcard/jpki-auth-cert.der"
    ))
    .unwrap_or_else(|_| vec![0x30; 1590]);
    let session = 0x5EED;
    let msgs = [
        Message::CardDetected { kind: CardKind::PhysicalCard },
        Message::CertExpiryNotice { expiry: CertExpiry::DaysLeft(812) },
        Message::AuthModesOffered { modes: AuthModes::EMPTY.with(AuthMethod::Face).with(AuthMethod::Pin) },
        Message::AuthModeChosen { method: AuthMethod::Pin },
        Message::PinOutcome { result: PinResult::Verified, tries_left: 3 },
        Message::ConsentAnswers {
            consents: Consents { comprehensive: ConsentAnswer::Agreed, ..Consents::NONE },
        },
        Message::VerifiedIdentity(VerifiedIdentity {
            auth_cert: &cert,
            proof: Proof::CardSignature { challenge: [9; 32], signature: &[0xA5; 256] },
            method: AuthMethod::Pin,
            card_kind: CardKind::PhysicalCard,
            consents: Consents { comprehensive: ConsentAnswer::Agreed, ..Consents::NONE },
            staff_account: None,
            registration: false,
            cert_expiry: CertExpiry::DaysLeft(812),
            card_detected_at: 1_763_700_000_000,
            verified_at: 1_763_700_004_200,
        }),
    ];

    let mut wire = Vec::new();
    let mut identity_frame = Vec::new();
    for (seq, msg) in msgs.iter().enumerate() {
        let mut buf = [0u8; MAX_FRAME];
        let n = reader.encode(&mut buf, session, seq as u32, msg)?;
        if let Some(dir) = &seeds {
            std::fs::create_dir_all(dir)?;
            std::fs::write(format!("{dir}/frame-{seq:02}.bin"), &buf[..n])?;
        }
        wire.extend_from_slice(b"\x00line noise\xFF");
        if seq == 2 {
            // One corrupted copy first: the receiver reports it and resynchronises.
            let mut bad = buf[..n].to_vec();
            bad[n / 2] ^= 0x10;
            wire.extend_from_slice(&bad);
        }
        wire.extend_from_slice(&buf[..n]);
        if matches!(msg, Message::VerifiedIdentity(_)) {
            identity_frame = buf[..n].to_vec();
        }
    }
    // The reader re-sends the result (its ack was lost): sealed anew, same (session, seq).
    let mut buf = [0u8; MAX_FRAME];
    let resend_len = reader.encode(&mut buf, session, 6, &msgs[6])?;
    wire.extend_from_slice(&buf[..resend_len]);
    println!("wire: {} bytes incl. noise, identity frame {} bytes", wire.len(), identity_frame.len());

    let mut deframer: Deframer<MAX_FRAME> = Deframer::new();
    let mut dedup: DuplicateFilter<4> = DuplicateFilter::new();
    let mut identities = 0;
    let mut input = &wire[..];
    while !input.is_empty() {
        let n = deframer.push(input);
        input = &input[n..];
        while let Some(frame) = deframer.next_frame() {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    println!("host: rejected a frame: {e}");
                    continue;
                }
            };
            let rx = host.decode(frame)?;
            let fresh = dedup.check(rx.header.session, rx.header.seq) == Delivery::New;
            let note = if fresh { "" } else { " (duplicate, acknowledged again, dropped)" };
            match rx.message {
                Message::VerifiedIdentity(v) => {
                    if fresh {
                        identities += 1;
                    }
                    println!(
                        "host: seq {} VerifiedIdentity method={:?} cert={} bytes{note}",
                        rx.header.seq,
                        v.method,
                        v.auth_cert.len()
                    )
                }
                m => println!("host: seq {} {:?}{note}", rx.header.seq, m),
            }
        }
    }
    let stats = deframer.stats();
    println!(
        "deframer: {} frames, {} rejected, {} noise bytes skipped; identities delivered: {identities}",
        stats.frames, stats.rejected, stats.skipped_bytes
    );
    if identities != 1 {
        return Err("exactly one verified identity must reach the host".into());
    }
    Ok(())
}
