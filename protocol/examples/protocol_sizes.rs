//! Prints the RAM each protocol component takes (the same on the MCU: no pointers-size
//! dependent fields beyond `usize` counters). Used by scripts/footprint.sh.
use core::mem::size_of;
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::reliable::{DuplicateFilter, Outbox};
use shikaku_protocol::{Link, MAX_FRAME, MAX_PAYLOAD};

fn main() {
    println!("  Link (keys and counters, both directions): {} bytes", size_of::<Link>());
    println!("  Deframer<MAX_FRAME = {MAX_FRAME}>: {} bytes", size_of::<Deframer<MAX_FRAME>>());
    println!(
        "  Outbox<4 results, {MAX_PAYLOAD}-byte payloads>: {} bytes",
        size_of::<Outbox<4, MAX_PAYLOAD>>()
    );
    println!("  DuplicateFilter<8 sessions>: {} bytes", size_of::<DuplicateFilter<8>>());
    println!("  one frame buffer: {MAX_FRAME} bytes");
}
