//! What the reader keeps in flash comes back after a restart, through the same `FlashStorage`
//! the images use (here on the store's RAM NOR flash): the pairing key, the staff accounts, the
//! passcode failure count and an unacknowledged identity, after the writes a day of use makes.

use shikaku_firmware::nfc::testing::ScriptedFrontend;
use shikaku_firmware::session::visual::AccountRecord;
use shikaku_image_core::storage::FlashStorage;
use shikaku_image_core::{Reader, Storage};
use shikaku_protocol::endpoint::reader::Identity;
use shikaku_protocol::message::{Capabilities, FirmwareVersion};
use shikaku_protocol::{passcode, Header, Instant};
use shikaku_store::ram::{RamFlash, SECTOR, SECTORS};
use shikaku_store::Store;

const ID: Identity = Identity {
    firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "test" },
    serial: "SK-STORE-1",
    model: "test",
    capabilities: Capabilities(0),
};

fn open(flash: RamFlash) -> FlashStorage<RamFlash> {
    FlashStorage::new(Store::new(flash, 0..(SECTOR * SECTORS) as u32).expect("valid range"))
}

#[test]
fn key_accounts_failures_and_a_pending_identity_come_back_after_a_restart() {
    let mut s = open(RamFlash::new());
    s.save_pairing_key(&[9; 32]).unwrap();
    let hash = passcode::hash(b"4821", &[1; 16], 10_000);
    let record = AccountRecord { account: "staff-01", salt: [1; 16], iterations: 10_000, hash };
    s.save_passcodes(&mut [record].into_iter()).unwrap();
    for failures in 0..7 {
        s.save_lockout(failures).unwrap();
    }
    let identity = vec![0x30; 1911];
    let header = Header { msg_type: 0x0F, session: 0x1234, seq: 9 };
    s.save_pending(&header, &identity).unwrap();
    for seq in 0..6 {
        // Records that came and went (acknowledged).
        let h = Header { msg_type: 0x0F, session: 0x99, seq };
        s.save_pending(&h, &[1; 300]).unwrap();
        s.remove_pending(0x99, seq).unwrap();
    }
    s.save_lockout(7).unwrap();

    // Power cut: only the flash is left.
    let flash = s.into_store().into_flash().rebooted();
    let mut s = open(flash);
    let key = s.pairing_key().unwrap();
    assert_eq!(key, Some([9; 32]));
    let mut reader = Reader::new(ID, key, 7, ScriptedFrontend::new(Vec::new()));
    s.restore(&mut reader, Instant::from_millis(5)).expect("everything reads back");
    assert!(reader.link.is_paired());
    assert_eq!(reader.session.passcodes().accounts(), 1);
    assert_eq!(reader.session.passcodes().failures(), 7);
    assert_eq!(reader.link.pending(), 1, "the identity waits for the host again");
    assert_eq!(reader.link.pending_payload(0x1234, 9), Some(&identity[..]));
}
