//! A serial port (a reader's USB CDC-ACM or UART bridge).

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use super::{Transport, TransportError};

pub struct SerialTransport {
    port: Box<dyn serialport::SerialPort>,
    path: String,
}

impl SerialTransport {
    pub fn open(path: &str, baud: u32) -> Result<Self, TransportError> {
        let port =
            serialport::new(path, baud).timeout(Duration::from_millis(50)).open().map_err(|e| {
                match e.kind {
                    serialport::ErrorKind::NoDevice => TransportError::NotFound(path.to_owned()),
                    serialport::ErrorKind::Io(ErrorKind::NotFound) => {
                        TransportError::NotFound(path.to_owned())
                    }
                    _ => TransportError::Io(std::io::Error::other(e.to_string())),
                }
            })?;
        Ok(Self { port, path: path.to_owned() })
    }
}

impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.port.write_all(bytes).map_err(|e| match e.kind() {
            ErrorKind::BrokenPipe | ErrorKind::NotConnected => TransportError::Disconnected,
            _ => TransportError::Io(e),
        })
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.port
            .set_timeout(timeout.max(Duration::from_millis(1)))
            .map_err(|e| TransportError::Io(std::io::Error::other(e.to_string())))?;
        match self.port.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == ErrorKind::TimedOut => Ok(0),
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::NotConnected) => {
                Err(TransportError::Disconnected)
            }
            Err(e) => Err(TransportError::Io(e)),
        }
    }

    fn describe(&self) -> String {
        format!("serial:{}", self.path)
    }
}
