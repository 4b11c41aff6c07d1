//! Exactly-once delivery of results, sans-IO, used by both sides.
//!
//! The sender keeps each result in an [`Outbox`] until the peer acknowledges its
//! `(session, seq)`, re-sending with exponential back-off and at once after a reconnect. The
//! payload is kept, not the frame: a retransmission is sealed anew with the current
//! connection's counter, so the MAC layer's replay refusal never eats a legitimate resend.
//! The receiver acknowledges everything and passes on only what its [`DuplicateFilter`] has
//! not seen.
//!
//! The outbox is small (it lives in the reader's RAM), so when it is full, what goes is chosen
//! by [`Class`]: progress and status first, then records of attempts (PIN outcomes, face
//! outcomes), and a verified identity never: it is refused only when every slot already holds
//! one, which the reader prevents by not starting a session without room (see
//! [`Outbox::identities`]).

use heapless::Vec;

use crate::frame::Header;
use crate::time::{Duration, Instant};
use crate::Error;

/// Retransmission timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RetryPolicy {
    /// Wait before the first retransmission; doubled after each.
    pub initial: Duration,
    /// The longest wait between retransmissions.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { initial: Duration::from_millis(200), max: Duration::from_secs(5) }
    }
}

/// What a queued message is worth when room runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Class {
    /// Progress shown to staff (card detected, face progress, …): the first to go.
    Status,
    /// A record of an attempt (PIN outcome, face outcome, 目視 events, errors).
    Record,
    /// A verified identity: never evicted.
    Identity,
}

impl Class {
    pub fn of(message: &crate::Message<'_>) -> Self {
        match message {
            crate::Message::VerifiedIdentity(_) => Class::Identity,
            m if m.is_result() => Class::Record,
            _ => Class::Status,
        }
    }
}

/// What [`Outbox::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Queued {
    /// Queued; nothing else was touched (or it was already queued).
    Queued,
    /// Queued in place of an older, lesser message of this class, which is gone.
    Evicted(Header, Class),
}

struct Pending<const P: usize> {
    header: Header,
    class: Class,
    payload: Vec<u8, P>,
    due: Instant,
    interval: Duration,
    sends: u32,
}

/// Up to `N` unacknowledged results of up to `P` payload bytes each.
pub struct Outbox<const N: usize, const P: usize> {
    pending: Vec<Pending<P>, N>,
    policy: RetryPolicy,
}

/// One frame the outbox wants on the wire now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<'a> {
    pub header: Header,
    pub payload: &'a [u8],
    /// 1 for the first send, 2 for the first retransmission, …
    pub attempt: u32,
}

impl<const N: usize, const P: usize> Default for Outbox<N, P> {
    fn default() -> Self {
        Self::new(RetryPolicy::default())
    }
}

impl<const N: usize, const P: usize> Outbox<N, P> {
    pub const fn new(policy: RetryPolicy) -> Self {
        Self { pending: Vec::new(), policy }
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Verified identities waiting for their acknowledgement.
    pub fn identities(&self) -> usize {
        self.pending.iter().filter(|p| p.class == Class::Identity).count()
    }

    /// Queues a message; it is due at once. A `(session, seq)` already queued is not doubled.
    /// When full, the oldest message of the lowest class below `class` makes room (a status
    /// also replaces an older status); with nothing lesser to evict: [`Error::OutboxFull`].
    pub fn push(
        &mut self,
        header: Header,
        payload: &[u8],
        class: Class,
        now: Instant,
    ) -> Result<Queued, Error> {
        if self.pending.iter().any(|p| p.header.session == header.session && p.header.seq == header.seq) {
            return Ok(Queued::Queued);
        }
        let payload =
            Vec::from_slice(payload).map_err(|_| Error::Oversized { len: payload.len(), max: P })?;
        let mut queued = Queued::Queued;
        if self.pending.is_full() {
            let victim = [Class::Status, Class::Record]
                .into_iter()
                .filter(|c| *c < class || (*c == Class::Status && class == Class::Status))
                .find_map(|c| self.pending.iter().position(|p| p.class == c))
                .ok_or(Error::OutboxFull)?;
            let gone = self.pending.remove(victim);
            queued = Queued::Evicted(gone.header, gone.class);
        }
        self.pending
            .push(Pending { header, class, payload, due: now, interval: self.policy.initial, sends: 0 })
            .map_err(|_| Error::OutboxFull)?;
        Ok(queued)
    }

    /// The payload of a pending `(session, seq)`.
    pub fn payload(&self, session: u32, seq: u32) -> Option<&[u8]> {
        self.pending
            .iter()
            .find(|p| p.header.session == session && p.header.seq == seq)
            .map(|p| &p.payload[..])
    }

    /// The peer acknowledged `(session, seq)`. Returns whether it was pending.
    pub fn ack(&mut self, session: u32, seq: u32) -> bool {
        match self.pending.iter().position(|p| p.header.session == session && p.header.seq == seq) {
            Some(i) => {
                self.pending.remove(i);
                true
            }
            None => false,
        }
    }

    /// The oldest result due at `now`, if any; it is rescheduled with back-off.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
        let policy = self.policy;
        let p = self.pending.iter_mut().find(|p| p.due <= now)?;
        p.sends = p.sends.saturating_add(1);
        p.due = now + p.interval;
        p.interval = p.interval.saturating_mul(2).min(policy.max);
        Some(Transmit { header: p.header, payload: &p.payload, attempt: p.sends })
    }

    /// When the next retransmission is due.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.due).min()
    }

    /// A new connection: everything pending is due at once, back-off restarts.
    pub fn on_reconnect(&mut self, now: Instant) {
        for p in self.pending.iter_mut() {
            p.due = now;
            p.interval = self.policy.initial;
        }
    }
}

/// Whether a received result is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Delivery {
    /// First time: process it, then acknowledge.
    New,
    /// Seen before: acknowledge again, do not process.
    Duplicate,
}

#[derive(Clone, Copy)]
struct Window {
    session: u32,
    highest: u32,
    /// Bit i set: `highest - i` was seen.
    seen: u64,
    last_used: u64,
}

/// Remembers, for the `S` most recent sessions, which sequence numbers arrived: the highest
/// one and a 64-wide window below it. Anything older than the window counts as seen, which
/// is safe because a sender never has more than a few results outstanding.
pub struct DuplicateFilter<const S: usize> {
    windows: Vec<Window, S>,
    tick: u64,
}

impl<const S: usize> Default for DuplicateFilter<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const S: usize> DuplicateFilter<S> {
    pub const fn new() -> Self {
        Self { windows: Vec::new(), tick: 0 }
    }

    /// Records `(session, seq)` and says whether it is new.
    pub fn check(&mut self, session: u32, seq: u32) -> Delivery {
        self.tick += 1;
        let tick = self.tick;
        let w = match self.windows.iter_mut().position(|w| w.session == session) {
            Some(i) => &mut self.windows[i],
            None => {
                let fresh = Window { session, highest: seq, seen: 1, last_used: tick };
                if self.windows.is_full() {
                    // Evict the least recently used session.
                    if let Some(i) = (0..self.windows.len()).min_by_key(|&i| self.windows[i].last_used) {
                        self.windows[i] = fresh;
                    }
                } else {
                    // Cannot fail: checked not full above.
                    let _ = self.windows.push(fresh);
                }
                return Delivery::New;
            }
        };
        w.last_used = tick;
        if seq > w.highest {
            let shift = seq - w.highest;
            w.seen = if shift >= 64 { 0 } else { w.seen << shift };
            w.seen |= 1;
            w.highest = seq;
            return Delivery::New;
        }
        let back = w.highest - seq;
        if back >= 64 {
            return Delivery::Duplicate;
        }
        let bit = 1u64 << back;
        if w.seen & bit != 0 {
            Delivery::Duplicate
        } else {
            w.seen |= bit;
            Delivery::New
        }
    }

    /// Marks `(session, seq)` as seen without asking (e.g. restored from a durable log).
    pub fn restore(&mut self, session: u32, seq: u32) {
        let _ = self.check(session, seq);
    }
}
