//! A reader without radio or wire: the firmware images' own main loop
//! ([`shikaku_image_core::Reader`]) over the simulated frontend ([`SimFrontend`]) with a
//! persona's virtual card, and a [`Platform`] whose clock is the time the caller passes in.
//! For link, transport and host tests that need a reader but no rig.
//!
//! Everything goes through [`Reader::poll`], as on the board and in the simulated rig
//! (`crate::rig`): host bytes are read from the platform's inbox, keys from its queue, the card
//! is found by the loop's own card poll, its operations run over ISO-DEP against the virtual
//! card, frames leave through the platform. The events tests feed ([`SimReader::event`]) are
//! mapped onto that world:
//!
//! - `Event::CardPresent` / `Event::CardRemoved`: the card enters / leaves the simulated field;
//!   when that moves it, the reader's clock is advanced to its next card poll (at most
//!   [`shikaku_image_core::CARD_POLL`] or [`shikaku_image_core::PRESENCE_CHECK`] ahead), so
//!   the loop finds it (or notices it gone) at once when the session wants a card, at a later
//!   poll otherwise.
//! - `Event::Key`: the key is pressed (queued for the loop).
//! - `Event::Face`: the reply is queued for the platform's face engine, which answers the next
//!   face attempt with it (with nothing queued: `PhotoUnavailable`, as the images without a
//!   camera do). Feed it before the attempt starts.
//! - `Event::Tick`: one turn of the loop.
//!
//! The card is Yamada's (PIN 1234, issued as of [`crate::rig::TODAY`]) unless
//! [`SimReader::with_persona_card`] gives another. The reader keeps what must survive a restart
//! in a RAM flash through the images' [`FlashStorage`]. The clock never goes back: a `now`
//! earlier than the reader's clock (a caller passing `Instant::ZERO`) means "now".
//!
//! Its diagnostics are the images': NFC passes while activations do not fail in the frontend,
//! the camera is not run, the clock is the session's wall clock.

use std::collections::VecDeque;

use shikaku_firmware::session::{Event, FaceReply, FaceVerifier, Key, Phase, Screen};
use shikaku_image_core::storage::FlashStorage;
use shikaku_image_core::{Platform, Reader, Storage};
use shikaku_protocol::endpoint::reader::{Entropy, Identity};
use shikaku_protocol::message::*;
use shikaku_protocol::Instant;
use shikaku_store::ram::{RamFlash, SECTOR, SECTORS};
use shikaku_store::Store;

use crate::sim_frontend::SimFrontend;
use crate::vcard::card::VirtualCard;
use crate::vcard::persona;
use crate::vcard::{self, AtrChoice};

/// A deterministic stand-in for the TRNG.
pub struct Counter(pub u8);
impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(17).wrapping_add(29);
            *b = self.0;
        }
    }
}

/// The face engine: replies queued by the test, in order.
#[derive(Default)]
struct QueuedFace {
    replies: VecDeque<FaceReply>,
}

impl FaceVerifier for QueuedFace {
    fn verify(&mut self, _attempt: u8) -> FaceReply {
        self.replies
            .pop_front()
            .unwrap_or(FaceReply { decision: FaceDecision::PhotoUnavailable, score_milli: 0 })
    }
    fn wipe(&mut self) {}
}

/// The simulated reader's board: clock, host bytes in and out, keypad, display, TRNG, face
/// engine, flash.
struct SimPlatform {
    now: Instant,
    inbox: VecDeque<u8>,
    outbox: Vec<u8>,
    keys: VecDeque<Key>,
    rng: Counter,
    face: QueuedFace,
    storage: FlashStorage<RamFlash>,
    staff_confirms_pairing: Option<bool>,
    shown_code: Option<u32>,
    screens: Vec<Screen>,
}

impl Platform for SimPlatform {
    fn now(&mut self) -> Instant {
        self.now
    }

    fn host_read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.inbox.len());
        for (d, s) in buf.iter_mut().zip(self.inbox.drain(..n)) {
            *d = s;
        }
        n
    }

    fn host_write(&mut self, bytes: &[u8]) {
        self.outbox.extend_from_slice(bytes);
    }

    fn key(&mut self) -> Option<Key> {
        self.keys.pop_front()
    }

    /// Staff at the reader answer a pairing code on the keypad (read by the loop in the same
    /// turn).
    fn show(&mut self, screen: &Screen, _phase: Phase) {
        if let Screen::PairingCode { code } = *screen {
            self.shown_code = Some(code);
            match self.staff_confirms_pairing {
                Some(true) => self.keys.push_back(Key::Yes),
                Some(false) => self.keys.push_back(Key::No),
                None => {}
            }
        }
        self.screens.push(*screen);
    }

    fn entropy(&mut self) -> &mut dyn Entropy {
        &mut self.rng
    }

    fn face(&mut self) -> Option<&mut dyn FaceVerifier> {
        Some(&mut self.face)
    }

    fn storage(&mut self) -> Option<&mut dyn Storage> {
        Some(&mut self.storage)
    }
}

/// The frontend with the card in (or out of) its field.
pub type SimReaderFrontend = SimFrontend<VirtualCard>;

pub struct SimReader {
    /// The images' main loop (its `session` and `link` are reachable through `Deref`).
    pub reader: Reader<SimReaderFrontend>,
    platform: SimPlatform,
    /// What staff at this reader do when it shows a pairing code: press Yes (`Some(true)`),
    /// No (`Some(false)`), or nobody is there (`None`).
    pub staff_confirms_pairing: Option<bool>,
    /// The last pairing code the reader showed.
    pub shown_code: Option<u32>,
}

impl std::ops::Deref for SimReader {
    type Target = Reader<SimReaderFrontend>;
    fn deref(&self) -> &Self::Target {
        &self.reader
    }
}

impl std::ops::DerefMut for SimReader {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.reader
    }
}

/// Yamada's virtual card as of the rig's date.
fn default_card() -> VirtualCard {
    let p = persona::find("yamada").expect("built-in persona yamada");
    vcard::build_at(&p, crate::rig::TODAY, &AtrChoice::Contactless).expect("yamada's card").0
}

impl SimReader {
    /// A reader paired with `key`.
    pub fn new(key: [u8; 32], serial: &'static str) -> Self {
        Self::with_key(Some(key), serial)
    }

    /// A reader never paired: it answers hello and pairing only.
    pub fn unpaired(serial: &'static str) -> Self {
        Self::with_key(None, serial)
    }

    fn with_key(key: Option<[u8; 32]>, serial: &'static str) -> Self {
        let id = Identity {
            firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "test" },
            serial,
            model: "sim",
            capabilities: Capabilities(Capabilities::PIN_KEYPAD | Capabilities::FACE),
        };
        let mut store = Store::new(RamFlash::new(), 0..(SECTOR * SECTORS) as u32).expect("RAM flash");
        if let Some(k) = key {
            store.set_pairing_key(Some(&k)).expect("RAM flash");
        }
        let mut fe = SimFrontend::new(default_card());
        fe.set_card_present(false);
        Self {
            reader: Reader::new(id, key, 500, fe),
            platform: SimPlatform {
                now: Instant::ZERO,
                inbox: VecDeque::new(),
                outbox: Vec::new(),
                keys: VecDeque::new(),
                rng: Counter(1),
                face: QueuedFace::default(),
                storage: FlashStorage::new(store),
                staff_confirms_pairing: Some(true),
                shown_code: None,
                screens: Vec::new(),
            },
            staff_confirms_pairing: Some(true),
            shown_code: None,
        }
    }

    /// Gives this reader the persona's card of `issued` (built again as of today, as
    /// [`vcard::build`] issued it).
    pub fn with_persona_card(mut self, issued: &vcard::Issued) -> Self {
        let (card, again) = vcard::build(&issued.persona).expect("the persona's card");
        debug_assert_eq!(again.auth_cert, issued.auth_cert, "the same card as issued");
        let present = self.reader.frontend().card_present();
        *self.reader.frontend_mut().card_mut() = card;
        self.reader.frontend_mut().set_card_present(present);
        self
    }

    /// Hands the reader the next patient's `card` (for instance from [`vcard::build`]), out of
    /// the field until [`Event::CardPresent`]. A card still on the reader is taken away first
    /// (the loop notices at its next card poll).
    pub fn set_card(&mut self, card: VirtualCard) {
        self.reader.frontend_mut().set_card_present(false);
        *self.reader.frontend_mut().card_mut() = card;
    }

    /// One turn of the main loop at `now` (or at the reader's clock if that is later).
    fn turn(&mut self, now: Instant) {
        self.platform.now = self.platform.now.max(now);
        self.platform.staff_confirms_pairing = self.staff_confirms_pairing;
        self.reader.poll(&mut self.platform);
        self.shown_code = self.platform.shown_code;
    }

    /// Something happens in the reader's world (see the module documentation), then the loop
    /// turns.
    ///
    /// # Panics
    ///
    /// On events the world cannot produce here: host messages come as bytes
    /// ([`SimReader::receive`]), card replies from the card, pairing codes from the link.
    pub fn event(&mut self, now: Instant, e: Event<'_>) {
        match e {
            Event::Tick => self.turn(now),
            Event::Key(k) => {
                self.platform.keys.push_back(k);
                self.turn(now);
            }
            Event::Face(reply) => self.platform.face.replies.push_back(reply),
            Event::CardPresent | Event::CardRemoved => {
                let present = matches!(e, Event::CardPresent);
                let moved = self.reader.frontend().card_present() != present;
                self.reader.frontend_mut().set_card_present(present);
                self.turn(now);
                // The loop looks at the field on its own schedule: let its clock reach the
                // next look (once per move, so a card placed again and again does not run the
                // clock ahead).
                let next = self.reader.next_card_poll();
                if moved && next > self.platform.now {
                    self.turn(next);
                }
            }
            _ => panic!("SimReader is fed host bytes, keys, face replies, card presence and ticks only"),
        }
    }

    /// Bytes from the host arrive; the loop reads them all.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        self.platform.inbox.extend(bytes);
        self.turn(now);
        while !self.platform.inbox.is_empty() {
            self.turn(now);
        }
    }

    /// One turn of the loop, then what it sent to the host.
    pub fn transmit(&mut self, now: Instant) -> Vec<u8> {
        self.turn(now);
        std::mem::take(&mut self.platform.outbox)
    }

    /// The reader's clock (the latest `now` it was given).
    pub fn now(&self) -> Instant {
        self.platform.now
    }

    /// Every screen the reader showed, in order.
    pub fn screens(&self) -> &[Screen] {
        &self.platform.screens
    }

    /// Session messages the outbox refused.
    pub fn outbox_full(&self) -> u32 {
        self.reader.outbox_full
    }
}
