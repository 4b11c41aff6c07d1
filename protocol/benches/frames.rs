//! Frames per second for encode and decode (deframe + verify + parse) of a small event and
//! of a full verified identity with a 1.6 KB certificate, on a secured link.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::message::*;
use shikaku_protocol::{Link, Role, MAX_FRAME};

fn secured() -> (Link, Link) {
    let k = LinkKeys::derive(&PairingKey([1; 32]), &[2; 16], &[3; 16]);
    let (mut r, mut h) = (Link::new(Role::Reader), Link::new(Role::Host));
    r.secure(&k);
    h.secure(&k);
    (r, h)
}

fn identity(cert: &[u8]) -> Message<'_> {
    Message::VerifiedIdentity(VerifiedIdentity {
        auth_cert: cert,
        proof: Proof::CardSignature { challenge: [9; 32], signature: &[0xA5; 256] },
        method: AuthMethod::Pin,
        card_kind: CardKind::PhysicalCard,
        consents: Consents::NONE,
        staff_account: None,
        registration: false,
        cert_expiry: CertExpiry::DaysLeft(800),
        card_detected_at: 1,
        verified_at: 2,
    })
}

fn bench(c: &mut Criterion) {
    let cert = vec![0x30u8; 1590];
    let cases = [
        ("pin_outcome", Message::PinOutcome { result: PinResult::Verified, tries_left: 3 }),
        ("verified_identity", identity(&cert)),
    ];
    let mut g = c.benchmark_group("frames");
    g.throughput(Throughput::Elements(1));
    for (name, msg) in cases {
        let (mut reader, mut host) = secured();
        let mut buf = [0u8; MAX_FRAME];
        let mut seq = 0u32;
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                black_box(reader.encode(&mut buf, 1, seq, black_box(&msg)).unwrap())
            })
        });
        // Decode needs fresh counters: pre-encode a batch, reset the receiver per batch.
        let frames: Vec<Vec<u8>> = {
            let (mut r, _) = secured();
            (0..1024)
                .map(|i| {
                    let n = r.encode(&mut buf, 1, i, &msg).unwrap();
                    buf[..n].to_vec()
                })
                .collect()
        };
        let mut i = 0usize;
        let mut deframer: Deframer<MAX_FRAME> = Deframer::new();
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                if i.is_multiple_of(frames.len()) {
                    host = secured().1;
                }
                let f = &frames[i % frames.len()];
                i += 1;
                deframer.push(f);
                let frame = deframer.next_frame().unwrap().unwrap();
                black_box(host.decode(frame).unwrap().header.seq)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
