//! USB vendor-class bulk pipe (rusb). The reader enumerates with a fixed VID/PID and one
//! vendor-specific interface (class 0xFF) with a bulk IN and a bulk OUT endpoint.

use std::time::Duration;

use rusb::{Direction, GlobalContext, TransferType, UsbContext};

use super::{Transport, TransportError};

/// pid.codes open-source vendor id; the product id is shikaku's (must match the firmware).
pub const USB_VID: u16 = 0x1209;
pub const USB_PID: u16 = 0x5348;
/// Vendor-specific interface class.
const VENDOR_CLASS: u8 = 0xFF;

/// A shikaku reader on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbReader {
    pub bus: u8,
    pub address: u8,
    pub serial: Option<String>,
}

/// Lists the shikaku readers on the bus (empty without USB access or libusb).
pub fn list_readers() -> Result<Vec<UsbReader>, TransportError> {
    let devices = rusb::devices().map_err(|e| TransportError::Usb(e.to_string()))?;
    let mut found = Vec::new();
    for d in devices.iter() {
        let Ok(desc) = d.device_descriptor() else { continue };
        if desc.vendor_id() != USB_VID || desc.product_id() != USB_PID {
            continue;
        }
        let serial = d.open().ok().and_then(|h| h.read_serial_number_string_ascii(&desc).ok());
        found.push(UsbReader { bus: d.bus_number(), address: d.address(), serial });
    }
    Ok(found)
}

pub struct UsbTransport {
    handle: rusb::DeviceHandle<GlobalContext>,
    interface: u8,
    ep_in: u8,
    ep_out: u8,
    name: String,
}

impl UsbTransport {
    /// Opens a specific reader, or the first one found.
    pub fn open(which: Option<(u8, u8)>) -> Result<Self, TransportError> {
        let usb = |e: rusb::Error| TransportError::Usb(e.to_string());
        let ctx = GlobalContext::default();
        let device = ctx
            .devices()
            .map_err(usb)?
            .iter()
            .find(|d| {
                let ids = d.device_descriptor().map(|x| (x.vendor_id(), x.product_id())).ok();
                ids == Some((USB_VID, USB_PID))
                    && which.is_none_or(|(b, a)| d.bus_number() == b && d.address() == a)
            })
            .ok_or_else(|| TransportError::NotFound(format!("usb {USB_VID:04x}:{USB_PID:04x}")))?;
        let config = device.active_config_descriptor().map_err(usb)?;
        let mut pipe = None;
        for iface in config.interfaces() {
            for alt in iface.descriptors() {
                if alt.class_code() != VENDOR_CLASS {
                    continue;
                }
                let bulk = |dir| {
                    alt.endpoint_descriptors()
                        .find(|e| e.transfer_type() == TransferType::Bulk && e.direction() == dir)
                        .map(|e| e.address())
                };
                if let (Some(i), Some(o)) = (bulk(Direction::In), bulk(Direction::Out)) {
                    pipe = Some((alt.interface_number(), i, o));
                }
            }
        }
        let (interface, ep_in, ep_out) =
            pipe.ok_or_else(|| TransportError::Usb("no vendor interface with bulk endpoints".into()))?;
        let handle = device.open().map_err(usb)?;
        let _ = handle.set_auto_detach_kernel_driver(true);
        handle.claim_interface(interface).map_err(usb)?;
        let name = format!("usb:{}-{}", device.bus_number(), device.address());
        Ok(Self { handle, interface, ep_in, ep_out, name })
    }
}

impl Drop for UsbTransport {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(self.interface);
    }
}

fn map(e: rusb::Error) -> TransportError {
    match e {
        rusb::Error::NoDevice | rusb::Error::Pipe | rusb::Error::Io => TransportError::Disconnected,
        other => TransportError::Usb(other.to_string()),
    }
}

impl Transport for UsbTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let mut sent = 0;
        while sent < bytes.len() {
            sent +=
                self.handle.write_bulk(self.ep_out, &bytes[sent..], Duration::from_secs(1)).map_err(map)?;
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        match self.handle.read_bulk(self.ep_in, buf, timeout.max(Duration::from_millis(1))) {
            Ok(n) => Ok(n),
            Err(rusb::Error::Timeout) => Ok(0),
            Err(e) => Err(map(e)),
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
