//! RAM of the session core's state (it allocates nothing else): `cargo run -p shikaku-firmware
//! --example session_sizes`. Host sizes; the MCU's are equal or smaller (32-bit usize).
use core::mem::size_of;
use shikaku_firmware::session::{Actions, PasscodeStore, Session};

fn main() {
    println!(
        "Session (context incl. 2 KB certificate and 256 B signature buffers): {} bytes",
        size_of::<Session>()
    );
    println!("  of which PasscodeStore (8 staff accounts): {} bytes", size_of::<PasscodeStore>());
    println!("Actions returned per event (stack): {} bytes", size_of::<Actions>());
}
