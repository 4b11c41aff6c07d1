//! Uses everything a reader needs from the protocol (pairing, secured link, deframer,
//! outbox, duplicate filter, every message's encoder and decoder) so that nothing is
//! optimised away, with inputs the compiler cannot see through.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use panic_halt as _;

#[entry]
fn main() -> ! {
    // Read from a volatile source so the optimiser keeps the code paths.
    let seed = unsafe { core::ptr::read_volatile(0x2400_0000 as *const u8) };
    #[cfg(feature = "protocol")]
    probe::run(seed);
    #[cfg(feature = "card")]
    card::run(seed);
    #[cfg(feature = "session")]
    session::run(seed);
    #[cfg(not(feature = "protocol"))]
    unsafe {
        core::ptr::write_volatile(0x2400_0004 as *mut u8, seed)
    };
    loop {
        cortex_m::asm::nop();
    }
}

#[cfg(feature = "protocol")]
mod probe {
    use shikaku_protocol::auth::pairing::{PairingSecrets, PublicKey, StaticSecret};
    use shikaku_protocol::auth::LinkKeys;
    use shikaku_protocol::deframer::Deframer;
    use shikaku_protocol::message::{CardKind, Message};
    use shikaku_protocol::reliable::{DuplicateFilter, Outbox, RetryPolicy};
    use shikaku_protocol::{Duration, Instant, Link, Role, MAX_FRAME, MAX_PAYLOAD};

    static mut DEFRAMER: Deframer<MAX_FRAME> = Deframer::new();
    static mut OUTBOX: Outbox<4, MAX_PAYLOAD> =
        Outbox::new(RetryPolicy { initial: Duration::from_millis(200), max: Duration::from_millis(5000) });
    static mut TX: [u8; MAX_FRAME] = [0; MAX_FRAME];

    #[allow(static_mut_refs)]
    pub fn run(seed: u8) {
        let secret = StaticSecret::from([seed; 32]);
        let public = PublicKey::from(&secret).to_bytes();
        let s = PairingSecrets::derive(&secret, &public, &public, &public, &[seed; 16], &[seed; 16]);
        let keys = LinkKeys::derive(&s.key, &[seed; 16], &[seed; 16]);
        let mut link = Link::new(Role::Reader);
        link.secure(&keys);
        let mut dups: DuplicateFilter<8> = DuplicateFilter::new();
        unsafe {
            let n = link
                .encode(&mut TX, 1, seed as u32, &Message::CardDetected { kind: CardKind::PhysicalCard })
                .unwrap_or(0);
            let _ = OUTBOX.push(
                shikaku_protocol::Header { msg_type: 3, session: 1, seq: 1 },
                &TX[..n],
                shikaku_protocol::reliable::Class::Status,
                Instant::ZERO,
            );
            if let Some(t) = OUTBOX.poll_transmit(Instant::from_millis(seed as u64)) {
                let (h, p) = (t.header, t.payload);
                let mut tmp = [0u8; 64];
                let _ = link.encode_raw(&mut tmp, &h, &p[..p.len().min(8)]);
            }
            DEFRAMER.push(&TX[..n]);
            while let Some(Ok(frame)) = DEFRAMER.next_frame() {
                if let Ok(rx) = link.decode(frame) {
                    let _ = dups.check(rx.header.session, rx.header.seq);
                    let n = rx.message.encode(&mut TX).unwrap_or(0);
                    core::ptr::write_volatile(0x2400_0004 as *mut usize, n);
                }
            }
        }
    }
}

/// A frontend whose answers come from a memory-mapped FIFO the optimiser cannot see through.
#[cfg(feature = "card")]
mod card {
    use shikaku_firmware::drive::card_ops;
    use shikaku_firmware::nfc::frontend::{FrontendError, Timeout, TransceiveFn};
    use shikaku_firmware::nfc::iso_dep::{IsoDep, IsoDepConfig};
    use shikaku_firmware::nfc::type_b::{self, ActivationConfig};
    use shikaku_firmware::session::CardOp;

    /// The card behind memory-mapped registers the optimiser cannot see through.
    fn fifo(tx: &[u8], rx: &mut [u8], _: Timeout) -> Result<usize, FrontendError> {
        unsafe {
            for b in tx {
                core::ptr::write_volatile(0x2400_0010 as *mut u8, *b);
            }
            let n = (core::ptr::read_volatile(0x2400_0011 as *const u8) as usize).min(rx.len());
            for b in rx[..n].iter_mut() {
                *b = core::ptr::read_volatile(0x2400_0012 as *const u8);
            }
            Ok(n)
        }
    }

    static mut BUF: [u8; card_ops::BUFFER_LEN] = [0; card_ops::BUFFER_LEN];

    #[allow(static_mut_refs)]
    pub fn run(seed: u8) {
        let mut fe = TransceiveFn(fifo);
        let Ok(act) = type_b::activate(&mut fe, &ActivationConfig::default()) else { return };
        let mut link = IsoDep::with_config(fe, act.params, IsoDepConfig::default());
        unsafe {
            let r = card_ops::run(&mut link, CardOp::Identify, &mut BUF);
            core::ptr::write_volatile(
                0x2400_0004 as *mut u8,
                matches!(r, shikaku_firmware::session::CardReply::PinVerified) as u8,
            );
            let r = card_ops::run(&mut link, CardOp::SignChallenge { challenge: [seed; 32] }, &mut BUF);
            core::ptr::write_volatile(
                0x2400_0005 as *mut u8,
                matches!(r, shikaku_firmware::session::CardReply::PinVerified) as u8,
            );
            // Certificate checks on the reader (RSA-2048 verify, DER walking).
            if let Ok(c) = shikaku_card::der::Certificate::parse(&BUF) {
                let ok = c.public_key.verify_sha256(&BUF[..64], &BUF[64..320]).is_ok();
                core::ptr::write_volatile(0x2400_0006 as *mut u8, ok as u8);
            }
        }
    }
}

#[cfg(feature = "session")]
mod session {
    use shikaku_firmware::session::{Action, Config, Event, Key, Session};
    use shikaku_protocol::auth::PairingKey;
    use shikaku_protocol::Instant;

    static mut SESSION: Option<Session> = None;

    #[allow(static_mut_refs)]
    pub fn run(seed: u8) {
        unsafe {
            let s = SESSION.insert(Session::new(Config::default(), PairingKey([seed; 32]), seed as u32));
            for i in 0..64u64 {
                let k = core::ptr::read_volatile(0x2400_0020 as *const u8);
                let e = match k {
                    0 => Event::CardPresent,
                    1 => Event::CardRemoved,
                    2..=11 => Event::Key(Key::Digit(k - 2)),
                    12 => Event::Key(Key::Yes),
                    13 => Event::Key(Key::Staff),
                    _ => Event::Tick,
                };
                for a in s.handle(Instant::from_millis(i * 100), e) {
                    if let Action::Send(t) = a {
                        let m = s.host_message(&t);
                        let mut buf = [0u8; 64];
                        let n = m.encode(&mut buf).unwrap_or(0);
                        core::ptr::write_volatile(0x2400_0004 as *mut usize, n);
                    }
                }
            }
        }
    }
}
