//! Byte pipes to readers, behind one trait: USB vendor bulk (rusb), a serial port, TCP (QEMU's
//! serial port and the simulators). The protocol's frames ride on any of them unchanged.

mod serial;
mod tcp;
mod usb;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use serial::SerialTransport;
pub use tcp::TcpTransport;
pub use usb::{list_readers, UsbTransport, USB_PID, USB_VID};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the reader went away (cable pulled or peer closed)")]
    Disconnected,
    #[error("no reader at {0}")]
    NotFound(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("USB: {0}")]
    Usb(String),
    #[error("bad endpoint {0:?}: expected tcp:HOST:PORT, serial:PATH[@BAUD] or usb[:BUS-ADDR]")]
    BadEndpoint(String),
}

/// A connected byte pipe.
pub trait Transport: Send {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError>;
    /// Reads what arrives within `timeout`; `Ok(0)` when nothing did.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    fn describe(&self) -> String;
}

/// Where a reader is attached.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Endpoint {
    Tcp(String),
    Serial {
        path: String,
        baud: u32,
    },
    /// A specific device (bus, address), or the first shikaku reader found.
    Usb(Option<(u8, u8)>),
}

impl Endpoint {
    pub fn open(&self) -> Result<Box<dyn Transport>, TransportError> {
        Ok(match self {
            Endpoint::Tcp(addr) => Box::new(TcpTransport::connect(addr)?),
            Endpoint::Serial { path, baud } => Box::new(SerialTransport::open(path, *baud)?),
            Endpoint::Usb(which) => Box::new(UsbTransport::open(*which)?),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "tcp:{a}"),
            Endpoint::Serial { path, baud } => write!(f, "serial:{path}@{baud}"),
            Endpoint::Usb(None) => write!(f, "usb"),
            Endpoint::Usb(Some((b, a))) => write!(f, "usb:{b}-{a}"),
        }
    }
}

impl FromStr for Endpoint {
    type Err = TransportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TransportError::BadEndpoint(s.to_owned());
        if let Some(addr) = s.strip_prefix("tcp:") {
            if addr.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
                return Err(bad());
            }
            return Ok(Endpoint::Tcp(addr.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("serial:") {
            let (path, baud) = match rest.rsplit_once('@') {
                Some((p, b)) => (p, b.parse().map_err(|_| bad())?),
                None => (rest, 115_200),
            };
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(Endpoint::Serial { path: path.to_owned(), baud });
        }
        if s == "usb" {
            return Ok(Endpoint::Usb(None));
        }
        if let Some(rest) = s.strip_prefix("usb:") {
            let (b, a) = rest.split_once('-').ok_or_else(bad)?;
            return Ok(Endpoint::Usb(Some((b.parse().map_err(|_| bad())?, a.parse().map_err(|_| bad())?))));
        }
        Err(bad())
    }
}

impl TryFrom<String> for Endpoint {
    type Error = TransportError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Endpoint> for String {
    fn from(e: Endpoint) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_print_back() {
        for s in ["tcp:127.0.0.1:4000", "serial:/dev/ttyACM0@115200", "usb", "usb:1-7"] {
            assert_eq!(s.parse::<Endpoint>().unwrap().to_string(), s);
        }
        assert_eq!(
            "serial:/dev/ttyUSB0".parse::<Endpoint>().unwrap(),
            Endpoint::Serial { path: "/dev/ttyUSB0".into(), baud: 115_200 }
        );
        for bad in ["", "tcp:nohost", "tcp:h:99999", "serial:", "usb:x", "ftp:1"] {
            assert!(matches!(bad.parse::<Endpoint>(), Err(TransportError::BadEndpoint(_))), "{bad}");
        }
    }
}
