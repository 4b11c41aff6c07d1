//! The host driver's reader manager over real TCP against a simulated reader device: the
//! device drops the connection right after sending its results (every ack lost), the manager
//! reconnects, the reader re-sends, and the host takes each result exactly once.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use shikaku_firmware::session::{Event, Key, Phase};
use shikaku_hil::sim_reader::SimReader;
use shikaku_host::reader::{manager, HostEvent, ManagerEvent};
use shikaku_host::transport::Endpoint;
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::message::msg_type;

const KEY: [u8; 32] = [0x3C; 32];

/// Serves one simulated reader on `listener`; drops the first connection after the session's
/// messages went out. Returns how many connections it served.
fn device(listener: TcpListener) -> usize {
    let start = Instant::now();
    let mut reader = SimReader::new(KEY, "SK-TCP-1");
    let mut connections = 0;
    let mut session_done = false;
    listener.set_nonblocking(false).unwrap();
    while let Ok((mut stream, _)) = listener.accept() {
        connections += 1;
        stream.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let mut buf = [0u8; 4096];
        let mut quiet_since: Option<Instant> = None;
        loop {
            let now = shikaku_protocol::Instant::from_millis(start.elapsed().as_millis() as u64);
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => reader.receive(now, &buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
            // The patient, answering whatever the reader shows.
            if reader.link.is_secured() && reader.session.clock_synced() {
                match reader.session.phase() {
                    Phase::Idle if !session_done => reader.event(now, Event::CardPresent),
                    Phase::ChooseMethod => reader.event(now, Event::Key(Key::ChoosePin)),
                    Phase::PinEntry => {
                        // The PIN of the reader's card (Yamada's).
                        for d in [1, 2, 3, 4] {
                            reader.event(now, Event::Key(Key::Digit(d)));
                        }
                    }
                    Phase::ConsentIntro => reader.event(now, Event::Key(Key::Yes)),
                    Phase::Finished => session_done = true,
                    _ => {}
                }
            }
            reader.event(now, Event::Tick);
            let out = reader.transmit(now);
            if !out.is_empty() && stream.write_all(&out).is_err() {
                break;
            }
            if connections == 1 && reader.session.phase() == Phase::Finished && !out.is_empty() {
                // Pull the cable: results are out, their acks will never arrive.
                break;
            }
            if connections > 1 && reader.link.pending() == 0 {
                let q = *quiet_since.get_or_insert_with(Instant::now);
                if q.elapsed() > Duration::from_millis(300) {
                    return connections;
                }
            }
            if start.elapsed() > Duration::from_secs(20) {
                return connections;
            }
        }
        reader.link.disconnected();
    }
    connections
}

#[test]
fn a_result_in_flight_when_the_cable_is_pulled_arrives_exactly_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dev = std::thread::spawn(move || device(listener));
    let (tx, rx) = mpsc::channel();
    let endpoint: Endpoint = format!("tcp:127.0.0.1:{port}").parse().unwrap();
    let handle = manager::spawn(endpoint, Some(PairingKey(KEY)), Vec::new(), tx);
    let mut identities = 0;
    let mut connects = 0;
    let mut seen = Vec::new();
    let mut kept = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(ManagerEvent::Connected { .. }) => connects += 1,
            Ok(ManagerEvent::Link { event: HostEvent::Secured(_), .. }) => {
                handle.send(manager::Command::Challenge([0x77; 32]));
            }
            Ok(ManagerEvent::Link { event: HostEvent::Result(m), .. }) => {
                // Kept (here: counted once), then acknowledged; a result may come up again
                // until its ack reaches the reader, the keeping is what happens once.
                if m.msg_type() == msg_type::VERIFIED_IDENTITY && !kept.contains(&(m.session, m.seq)) {
                    identities += 1;
                }
                kept.insert((m.session, m.seq));
                handle.send(manager::Command::Ack { session: m.session, seq: m.seq });
            }
            Ok(ManagerEvent::Link { event: HostEvent::Status(m), .. }) => {
                if m.msg_type() == msg_type::CERTIFICATE_READ {
                    handle.send(manager::Command::RegistrationStatus { registered: true });
                }
                seen.push((m.session, m.seq));
            }
            Ok(_) => {}
            Err(_) if dev.is_finished() => break,
            Err(_) => {}
        }
    }
    drop(handle);
    let served = dev.join().unwrap();
    assert!(served >= 2, "the device saw a reconnect (served {served})");
    assert!(connects >= 2);
    assert_eq!(identities, 1, "exactly one verified identity");
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "no message taken twice");
}
