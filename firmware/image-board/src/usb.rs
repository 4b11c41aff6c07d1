//! The reader on USB: a vendor-class device (VID 0x1209 pid.codes, PID 0x5348) with one
//! interface of class 0xFF and a bulk IN and a bulk OUT endpoint carrying protocol frames, as
//! the host driver's `rusb` transport expects. The STM32H747's USB OTG HS core runs with the
//! DISCO board's USB3320 ULPI PHY (CN1), through `usb-device` and `synopsys-usb-otg`.

use heapless::Deque;
use synopsys_usb_otg::{PhyType, UsbBus, UsbPeripheral};
use usb_device::class_prelude::*;
use usb_device::prelude::*;

use crate::board::{self, Pin, Port};

pub const VID: u16 = 0x1209;
pub const PID: u16 = 0x5348;
pub const MANUFACTURER: &str = "shikaku project";
pub const PRODUCT: &str = "shikaku face-authentication card reader";
/// Bulk packets at high speed.
const PACKET: u16 = 512;

/// USB1 OTG HS of the STM32H747 (RM0399 §57), with an external ULPI PHY.
pub struct OtgHs;

// SAFETY: REGISTERS is the OTG1_HS register block; the peripheral is used by one bus only.
unsafe impl UsbPeripheral for OtgHs {
    const REGISTERS: *const () = 0x4004_0000 as *const ();
    const HIGH_SPEED: bool = true;
    const FIFO_DEPTH_WORDS: usize = 1024;
    const ENDPOINT_COUNT: usize = 9;

    fn enable() {
        board::usb_clocks();
    }

    fn ahb_frequency_hz(&self) -> u32 {
        board::SYSCLK_HZ
    }

    fn phy_type(&self) -> PhyType {
        PhyType::ExternalHighSpeed
    }
}

/// ULPI pins of the USB3320 on the DISCO board, all AF10.
pub const ULPI_PINS: [Pin; 12] = [
    Pin { port: Port::A, n: 3 },  // D0
    Pin { port: Port::A, n: 5 },  // CK
    Pin { port: Port::B, n: 0 },  // D1
    Pin { port: Port::B, n: 1 },  // D2
    Pin { port: Port::B, n: 10 }, // D3
    Pin { port: Port::B, n: 11 }, // D4
    Pin { port: Port::B, n: 12 }, // D5
    Pin { port: Port::B, n: 13 }, // D6
    Pin { port: Port::B, n: 5 },  // D7
    Pin { port: Port::C, n: 0 },  // STP
    Pin { port: Port::H, n: 4 },  // NXT
    Pin { port: Port::I, n: 11 }, // DIR
];

/// The vendor interface: frames in on bulk OUT, frames out on bulk IN.
pub struct VendorPipe<'a, B: usb_device::bus::UsbBus> {
    iface: InterfaceNumber,
    ep_in: EndpointIn<'a, B>,
    ep_out: EndpointOut<'a, B>,
    rx: Deque<u8, 2048>,
    /// A full-size packet went last: end the transfer with a zero-length packet.
    zlp_due: bool,
}

impl<'a, B: usb_device::bus::UsbBus> VendorPipe<'a, B> {
    pub fn new(alloc: &'a UsbBusAllocator<B>) -> Self {
        Self {
            iface: alloc.interface(),
            ep_in: alloc.bulk(PACKET),
            ep_out: alloc.bulk(PACKET),
            rx: Deque::new(),
            zlp_due: false,
        }
    }

    /// Moves what the host sent into the receive queue (leaves it in the endpoint if full).
    fn pump(&mut self) {
        let room = self.rx.capacity() - self.rx.len();
        if room < PACKET as usize {
            return;
        }
        let mut buf = [0u8; PACKET as usize];
        if let Ok(n) = self.ep_out.read(&mut buf) {
            for &b in &buf[..n] {
                let _ = self.rx.push_back(b);
            }
        }
    }

    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            match self.rx.pop_front() {
                Some(b) => {
                    out[n] = b;
                    n += 1;
                }
                None => break,
            }
        }
        n
    }

    /// Writes one packet's worth; returns the bytes taken (0 when the endpoint is busy).
    pub fn write_packet(&mut self, bytes: &[u8]) -> usize {
        if self.zlp_due {
            if self.ep_in.write(&[]).is_ok() {
                self.zlp_due = false;
            }
            return 0;
        }
        let n = bytes.len().min(PACKET as usize);
        match self.ep_in.write(&bytes[..n]) {
            Ok(k) => {
                self.zlp_due = k == PACKET as usize;
                k
            }
            Err(_) => 0,
        }
    }
}

impl<B: usb_device::bus::UsbBus> UsbClass<B> for VendorPipe<'_, B> {
    fn get_configuration_descriptors(&self, w: &mut DescriptorWriter) -> usb_device::Result<()> {
        w.interface(self.iface, 0xFF, 0x00, 0x00)?;
        w.endpoint(&self.ep_in)?;
        w.endpoint(&self.ep_out)?;
        Ok(())
    }

    fn endpoint_out(&mut self, addr: EndpointAddress) {
        if addr == self.ep_out.address() {
            self.pump();
        }
    }

    fn poll(&mut self) {
        self.pump();
    }
}

pub type Bus = UsbBus<OtgHs>;

/// The device and its pipe.
pub struct Usb {
    pub device: UsbDevice<'static, Bus>,
    pub pipe: VendorPipe<'static, Bus>,
}

impl Usb {
    /// Pins, clocks and the device with its strings; `serial` is the reader's serial number
    /// (the host driver lists readers by it).
    pub fn new(alloc: &'static UsbBusAllocator<Bus>, serial: &'static str) -> Option<Self> {
        let pipe = VendorPipe::new(alloc);
        let strings =
            StringDescriptors::default().manufacturer(MANUFACTURER).product(PRODUCT).serial_number(serial);
        let device = UsbDeviceBuilder::new(alloc, UsbVidPid(VID, PID))
            .strings(&[strings])
            .ok()?
            .device_class(0x00)
            .max_packet_size_0(64)
            .ok()?
            .self_powered(false)
            .max_power(100)
            .ok()?
            .build();
        Some(Self { device, pipe })
    }

    pub fn poll(&mut self) {
        self.device.poll(&mut [&mut self.pipe]);
    }

    pub fn configured(&self) -> bool {
        self.device.state() == UsbDeviceState::Configured
    }

    /// Blocking write: polls the device until every byte went out (or the host went away).
    pub fn write_all(&mut self, mut bytes: &[u8]) {
        let mut idle = 0u32;
        while !bytes.is_empty() || self.pipe.zlp_due {
            if !self.configured() || idle > 200_000 {
                return;
            }
            self.poll();
            let n = self.pipe.write_packet(bytes);
            if n == 0 {
                idle += 1;
            } else {
                idle = 0;
            }
            bytes = &bytes[n..];
        }
    }
}
