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
    use shikaku_protocol::{Link, Role, MAX_FRAME, MAX_PAYLOAD};

    static mut DEFRAMER: Deframer<MAX_FRAME> = Deframer::new();
    static mut OUTBOX: Outbox<4, MAX_PAYLOAD> = Outbox::new(RetryPolicy { initial_ms: 200, max_ms: 5000 });
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
            let n = link.encode(&mut TX, 1, seed as u32, &Message::CardDetected { kind: CardKind::PhysicalCard }).unwrap_or(0);
            let _ = OUTBOX.push(shikaku_protocol::Header { msg_type: 3, session: 1, seq: 1 }, &TX[..n], 0);
            if let Some(t) = OUTBOX.poll_transmit(seed as u64) {
                let (h, p) = (t.header, t.payload);
                let mut tmp = [0u8; 64];
                let _ = link.encode_raw(&mut tmp, &h, &p[..p.len().min(8)]);
            }
            DEFRAMER.push(&TX[..n]);
            while let Some(Ok(frame)) = DEFRAMER.next_frame() {
                if let Ok(rx) = link.decode(&frame) {
                    let _ = dups.check(rx.header.session, rx.header.seq);
                    let n = rx.message.encode(&mut TX).unwrap_or(0);
                    core::ptr::write_volatile(0x2400_0004 as *mut usize, n);
                }
            }
        }
    }
}
