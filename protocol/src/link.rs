//! One end of a reader↔host link: encodes messages into frames and decodes frames into
//! messages, enforcing direction, secrecy and authenticity. Sans-IO: bytes in, bytes out.
//!
//! - The hellos always travel in clear: they carry the nonces the connection keys come from.
//! - Once secured, everything else is sealed (ChaCha20-Poly1305, see [`crate::auth`]); an
//!   unsealed frame other than a hello is refused, pairing messages included.
//! - Unsecured, only the hellos and the pairing messages pass.
//! - New keys can be *proposed* ([`Link::propose`]): the link goes on with its current keys
//!   until the peer's first frame opens under the proposed ones, and only then switches. So a
//!   hello from someone without the pairing key changes nothing on an established link.

use crate::auth::{LinkKeys, Opener, Sealer};
use crate::frame::{self, Frame, Header, Seal};
use crate::message::{Direction, Message};
use crate::Error;

/// Which side of the link this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    Reader,
    Host,
}

/// A message with the header it arrived under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    pub header: Header,
    /// The frame was sealed and opened under this connection's keys.
    pub authenticated: bool,
    /// It opened under the proposed keys, which are now the link's (a new connection).
    pub rekeyed: bool,
    pub message: Message<'a>,
    /// The payload the message was decoded from (decrypted, if it was sealed).
    pub payload: &'a [u8],
}

type Keys = (Sealer, Opener);

pub struct Link {
    role: Role,
    keys: Option<Keys>,
    proposed: Option<Keys>,
}

impl Link {
    /// A link that has not (yet) established keys: only hello and pairing messages pass.
    pub fn new(role: Role) -> Self {
        Self { role, keys: None, proposed: None }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_secured(&self) -> bool {
        self.keys.is_some()
    }

    fn keys_for(&self, keys: &LinkKeys) -> Keys {
        let (tx, rx) = match self.role {
            Role::Reader => (keys.reader_to_host, keys.host_to_reader),
            Role::Host => (keys.host_to_reader, keys.reader_to_host),
        };
        (Sealer::new(tx), Opener::new(rx))
    }

    /// Switches to sealed frames with this connection's keys at once; counters restart.
    pub fn secure(&mut self, keys: &LinkKeys) {
        self.keys = Some(self.keys_for(keys));
        self.proposed = None;
    }

    /// Keeps `keys` ready: the link switches to them when a frame first opens under them
    /// (reported as [`Received::rekeyed`]); until then it goes on as it was.
    pub fn propose(&mut self, keys: &LinkKeys) {
        self.proposed = Some(self.keys_for(keys));
    }

    /// Forgets the connection keys (link dropped).
    pub fn reset(&mut self) {
        self.keys = None;
        self.proposed = None;
    }

    fn may_send(&self, msg_type: u8) -> Result<(), Error> {
        if self.keys.is_none() && !Message::allowed_unsealed(msg_type, false) {
            return Err(Error::NotPaired);
        }
        Ok(())
    }

    fn sealer(&mut self, msg_type: u8) -> Option<&mut dyn Seal> {
        if Message::is_hello(msg_type) {
            return None;
        }
        self.keys.as_mut().map(|(s, _)| s as &mut dyn Seal)
    }

    /// Encodes `msg` as one frame into `buf`; returns the frame length.
    pub fn encode(
        &mut self,
        buf: &mut [u8],
        session: u32,
        seq: u32,
        msg: &Message<'_>,
    ) -> Result<usize, Error> {
        let msg_type = msg.msg_type();
        self.may_send(msg_type)?;
        let header = Header { msg_type, session, seq };
        frame::emit_with(buf, &header, self.sealer(msg_type), |dst| msg.encode(dst))
    }

    /// Encodes an already-encoded payload (retransmission from an outbox).
    pub fn encode_raw(&mut self, buf: &mut [u8], header: &Header, payload: &[u8]) -> Result<usize, Error> {
        self.may_send(header.msg_type)?;
        frame::emit(buf, header, payload, self.sealer(header.msg_type))
    }

    /// Opens (decrypting the payload in place) and decodes a checked frame.
    pub fn decode<'f>(&mut self, frame: Frame<&'f mut [u8]>) -> Result<Received<'f>, Error> {
        let msg_type = frame.msg_type();
        let minor = frame.version_minor();
        let header = frame.header();
        let secured = self.is_secured();
        let (head, payload, trailer) = frame.into_parts();
        let mut rekeyed = false;
        let authenticated = match trailer {
            Some((counter, tag)) => {
                let current = match self.keys.as_mut() {
                    Some((_, opener)) => opener.open(head, payload, counter, &tag),
                    None => Err(Error::NotPaired),
                };
                match (current, self.proposed.as_mut()) {
                    (Ok(()), _) => {}
                    // A wrong tag leaves the payload as it was: try the proposed keys on it.
                    (Err(Error::BadMac | Error::NotPaired), Some((_, opener))) => {
                        opener.open(head, payload, counter, &tag)?;
                        self.keys = self.proposed.take();
                        rekeyed = true;
                    }
                    (Err(e), _) => return Err(e),
                }
                true
            }
            None if Message::allowed_unsealed(msg_type, secured) => false,
            None => return Err(Error::Unauthenticated),
        };
        let payload: &'f [u8] = payload;
        let message = Message::decode(msg_type, minor, payload)?;
        let expected = match self.role {
            Role::Reader => Direction::HostToReader,
            Role::Host => Direction::ReaderToHost,
        };
        let dir = message.direction();
        if dir != expected && dir != Direction::Both {
            return Err(Error::WrongDirection(msg_type));
        }
        Ok(Received { header, authenticated, rekeyed, message, payload })
    }
}
