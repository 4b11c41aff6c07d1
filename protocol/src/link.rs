//! One end of a reader↔host link: encodes messages into frames and decodes frames into
//! messages, enforcing direction and authenticity. Sans-IO: bytes in, bytes out.

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
    pub authenticated: bool,
    pub message: Message<'a>,
}

pub struct Link {
    role: Role,
    keys: Option<(Sealer, Opener)>,
}

impl Link {
    /// A link that has not (yet) established keys: only hello and pairing messages pass.
    pub fn new(role: Role) -> Self {
        Self { role, keys: None }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_secured(&self) -> bool {
        self.keys.is_some()
    }

    /// Switches to authenticated frames with this connection's keys; counters restart.
    pub fn secure(&mut self, keys: &LinkKeys) {
        let (tx, rx) = match self.role {
            Role::Reader => (keys.reader_to_host, keys.host_to_reader),
            Role::Host => (keys.host_to_reader, keys.reader_to_host),
        };
        self.keys = Some((Sealer::new(tx), Opener::new(rx)));
    }

    /// Forgets the connection keys (link dropped).
    pub fn reset(&mut self) {
        self.keys = None;
    }

    fn may_send(&self, msg_type: u8) -> Result<(), Error> {
        if self.keys.is_none() && !Message::allowed_unauthenticated(msg_type) {
            return Err(Error::NotPaired);
        }
        Ok(())
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
        let sealer = self.keys.as_mut().map(|(s, _)| s as &mut dyn Seal);
        frame::emit_with(buf, &header, sealer, |dst| msg.encode(dst))
    }

    /// Encodes an already-encoded payload (retransmission from an outbox).
    pub fn encode_raw(&mut self, buf: &mut [u8], header: &Header, payload: &[u8]) -> Result<usize, Error> {
        self.may_send(header.msg_type)?;
        let sealer = self.keys.as_mut().map(|(s, _)| s as &mut dyn Seal);
        frame::emit(buf, header, payload, sealer)
    }

    /// Verifies and decodes a checked frame.
    pub fn decode<'f>(&mut self, frame: &Frame<&'f [u8]>) -> Result<Received<'f>, Error> {
        let msg_type = frame.msg_type();
        let authenticated = frame.is_authenticated();
        if authenticated {
            let (_, opener) = self.keys.as_mut().ok_or(Error::NotPaired)?;
            opener.open(frame)?;
        } else if !Message::allowed_unauthenticated(msg_type) {
            return Err(Error::Unauthenticated);
        }
        let message = Message::decode(msg_type, frame.version_minor(), frame.payload())?;
        let expected = match self.role {
            Role::Reader => Direction::HostToReader,
            Role::Host => Direction::ReaderToHost,
        };
        let dir = message.direction();
        if dir != expected && dir != Direction::Both {
            return Err(Error::WrongDirection(msg_type));
        }
        Ok(Received { header: frame.header(), authenticated, message })
    }
}
