//! TCP: QEMU's serial port (`-serial tcp::PORT,server`) and the simulators.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{Transport, TransportError};

pub struct TcpTransport {
    stream: TcpStream,
    peer: String,
}

impl TcpTransport {
    pub fn connect(addr: &str) -> Result<Self, TransportError> {
        let stream = TcpStream::connect(addr).map_err(|e| match e.kind() {
            ErrorKind::ConnectionRefused | ErrorKind::NotFound => TransportError::NotFound(addr.to_owned()),
            _ => TransportError::Io(e),
        })?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, peer: addr.to_owned() })
    }

    pub fn from_stream(stream: TcpStream) -> Self {
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        Self { stream, peer }
    }
}

impl Transport for TcpTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.stream.write_all(bytes).map_err(disconnected)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match self.stream.read(buf) {
            Ok(0) => Err(TransportError::Disconnected),
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(0),
            Err(e) => Err(disconnected(e)),
        }
    }

    fn describe(&self) -> String {
        format!("tcp:{}", self.peer)
    }
}

fn disconnected(e: std::io::Error) -> TransportError {
    match e.kind() {
        ErrorKind::BrokenPipe
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::UnexpectedEof => TransportError::Disconnected,
        _ => TransportError::Io(e),
    }
}
