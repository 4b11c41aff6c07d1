//! An [`NfcFrontend`] that forwards every call over a serial line to a simulated frontend on
//! the host (the QEMU rig's bridge), in the [`crate::wire`] protocol. The same serial line
//! carries keypad input and status notifications.

use shikaku_firmware::nfc::frontend::{
    BitFrameRx, BitRate, FrontendError, NfcFrontend, ShortFrame, Technology, Timeout,
};

use shikaku_protocol::{Duration, Instant};

use crate::wire::{self, Deframer};

/// A byte pipe: non-blocking read, blocking write, and a clock for the call timeout.
pub trait Serial {
    fn read(&mut self) -> Option<u8>;
    fn write(&mut self, bytes: &[u8]);
    fn now(&mut self) -> Instant;
}

/// The remote frontend.
pub struct UartFrontend<S: Serial> {
    pub serial: S,
    rx: Deframer,
    /// A call unanswered for this long is a hardware fault.
    pub call_timeout: Duration,
}

impl<S: Serial> UartFrontend<S> {
    pub fn new(serial: S) -> Self {
        Self { serial, rx: Deframer::new(), call_timeout: Duration::from_secs(5) }
    }

    /// Sends a notification (no answer).
    pub fn notify(&mut self, kind: u8, parts: &[&[u8]]) {
        let s = &mut self.serial;
        wire::encode(kind, parts, |b| s.write(b));
    }

    /// Sends a request and waits for its answer; returns (answer type, payload length), the
    /// payload in [`UartFrontend::payload`].
    pub fn call(&mut self, kind: u8, parts: &[&[u8]]) -> Result<(u8, usize), FrontendError> {
        self.notify(kind, parts);
        let t0 = self.serial.now();
        loop {
            match self.serial.read() {
                Some(b) => {
                    if let Some(frame) = self.rx.push(b) {
                        return Ok(frame);
                    }
                }
                None => {
                    if self.serial.now() - t0 > self.call_timeout {
                        return Err(FrontendError::Hardware);
                    }
                }
            }
        }
    }

    pub fn payload(&self, n: usize) -> &[u8] {
        self.rx.payload(n)
    }

    fn simple(&mut self, kind: u8, parts: &[&[u8]]) -> Result<(), FrontendError> {
        match self.call(kind, parts)? {
            (wire::OK, _) => Ok(()),
            (wire::ERR, n) => Err(wire::error_from_code(self.payload(n).first().copied().unwrap_or(0))),
            _ => Err(FrontendError::Hardware),
        }
    }

    fn frame(&mut self, kind: u8, parts: &[&[u8]], rx: &mut [u8]) -> Result<usize, FrontendError> {
        match self.call(kind, parts)? {
            (wire::RX, n) => {
                let data = self.rx.payload(n);
                let dst = rx.get_mut(..data.len()).ok_or(FrontendError::Overflow)?;
                dst.copy_from_slice(data);
                Ok(data.len())
            }
            (wire::ERR, n) => Err(wire::error_from_code(self.payload(n).first().copied().unwrap_or(0))),
            _ => Err(FrontendError::Hardware),
        }
    }
}

impl<S: Serial> NfcFrontend for UartFrontend<S> {
    fn field_on(&mut self) -> Result<(), FrontendError> {
        self.simple(wire::FIELD_ON, &[])
    }
    fn field_off(&mut self) -> Result<(), FrontendError> {
        self.simple(wire::FIELD_OFF, &[])
    }
    fn configure(
        &mut self,
        technology: Technology,
        pcd_to_picc: BitRate,
        picc_to_pcd: BitRate,
    ) -> Result<(), FrontendError> {
        let t = match technology {
            Technology::TypeA => 0,
            Technology::TypeB => 1,
        };
        self.simple(wire::CONFIGURE, &[&[t, pcd_to_picc.code(), picc_to_pcd.code()]])
    }
    fn transceive(&mut self, tx: &[u8], rx: &mut [u8], timeout: Timeout) -> Result<usize, FrontendError> {
        self.frame(wire::TRANSCEIVE, &[&timeout.as_fc().to_le_bytes(), tx], rx)
    }
    fn transceive_short_frame(
        &mut self,
        frame: ShortFrame,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<usize, FrontendError> {
        self.frame(wire::SHORT, &[&[frame.code()], &timeout.as_fc().to_le_bytes()], rx)
    }
    fn transceive_bits(
        &mut self,
        tx: &[u8],
        tx_bits: usize,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<BitFrameRx, FrontendError> {
        let bits = (tx_bits.min(u16::MAX as usize) as u16).to_le_bytes();
        match self.call(wire::BITS, &[&bits, &timeout.as_fc().to_le_bytes(), tx])? {
            (wire::BITS_RX, n) if n >= 3 => {
                let p = self.rx.payload(n);
                let valid_bits = u16::from_le_bytes([p[0], p[1]]) as usize;
                let collision = p[2] != 0;
                let data = &p[3..];
                let dst = rx.get_mut(..data.len()).ok_or(FrontendError::Overflow)?;
                dst.copy_from_slice(data);
                Ok(BitFrameRx { valid_bits, collision })
            }
            (wire::ERR, n) => Err(wire::error_from_code(self.payload(n).first().copied().unwrap_or(0))),
            _ => Err(FrontendError::Hardware),
        }
    }
    fn guard_time(&mut self, time: Timeout) -> Result<(), FrontendError> {
        self.simple(wire::GUARD, &[&time.as_fc().to_le_bytes()])
    }
}
