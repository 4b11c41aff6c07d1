//! The firmware's session core and reader link against the host driver's endpoint over a
//! byte pipe that is cut at every frame: the verified identity reaches the host exactly once,
//! every session message at most once, and a PIN session completes after each cut.

use shikaku_hil::sim_reader::SimReader;
use shikaku_hil::testkit;
use shikaku_host::reader::HostEndpoint;
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::message::*;

const KEY: [u8; 32] = [0x6B; 32];

/// Runs a PIN session; the pipe loses everything in flight at frame `cut` (counted across
/// both directions). Returns the (session, seq, type) of every message the host took.
fn run(cut: Option<usize>) -> Vec<(u32, u32, u8)> {
    let mut reader = SimReader::new(KEY, "SK-LINK-1");
    let mut host = HostEndpoint::new(Some(PairingKey(KEY)), [0; 16]);
    let r = testkit::run_cut_pipe(
        &mut reader,
        &mut host,
        testkit::pin_session_script(),
        cut,
        30_000,
        false,
        |_| {},
    );
    assert_eq!(reader.link.pending(), 0, "cut {cut:?}: messages left unacknowledged");
    r.taken
}

#[test]
fn a_clean_link_carries_the_whole_pin_session() {
    let taken = run(None);
    let types: Vec<u8> = taken.iter().map(|t| t.2).collect();
    use msg_type::*;
    assert_eq!(
        types,
        vec![
            CARD_DETECTED,
            CERTIFICATE_READ,
            AUTH_MODES_OFFERED,
            AUTH_MODE_CHOSEN,
            PIN_OUTCOME,
            CONSENT_ANSWERS,
            VERIFIED_IDENTITY,
            CARD_REMOVED
        ]
    );
}

#[test]
fn every_cut_still_delivers_each_message_once_and_one_identity() {
    let clean = run(None);
    let total_frames = 40;
    for cut in 0..total_frames {
        let taken = run(Some(cut));
        let mut keys: Vec<(u32, u32)> = taken.iter().map(|t| (t.0, t.1)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "cut {cut}: a message was taken twice");
        let ids = taken.iter().filter(|t| t.2 == msg_type::VERIFIED_IDENTITY).count();
        assert_eq!(ids, 1, "cut {cut}: identities");
        let mut sorted = taken.clone();
        sorted.sort();
        let mut clean_sorted = clean.clone();
        clean_sorted.sort();
        assert_eq!(sorted, clean_sorted, "cut {cut}: the same messages, none lost");
    }
}
