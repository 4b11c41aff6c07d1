//! The generic card operations every applet client uses, over any [`ApduTransport`]: SELECT,
//! READ BINARY of a whole EF, GET DATA, VERIFY (status and with a secret, with the last-try
//! rule), COMPUTE DIGITAL SIGNATURE, and the status word → [`CardError`] mapping.

use crate::apdu::{ApduTransport, StatusWord};

use super::commands;
use super::secret::{wipe, LastTryConfirmation, PinStatus, Secret};
use super::{tlv, CardError, ParseError};

/// Response buffer of one short exchange: 256 data bytes and the status word.
pub const RESPONSE_CAPACITY: usize = 258;
/// Size of an RSA-2048 signature.
pub const SIGNATURE_LEN: usize = 256;

/// `6282`: end of file reached before Le bytes (the data that exists comes with it).
const END_OF_FILE: StatusWord = StatusWord(0x6282);

/// How [`CardIo::read_ef`] knows where a file ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Sizing {
    /// The file holds one BER-TLV (or DER) element: its header gives the size; filler after it
    /// is neither read nor returned.
    Tlv,
    /// Exactly this many bytes (or fewer, if the file is shorter).
    Fixed(usize),
    /// Until a short read or `6B00`.
    UntilEnd,
}

/// Which key COMPUTE DIGITAL SIGNATURE uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SigningKey {
    /// The key EF selected before (JPKI `0017` / `001A`): `P2 = 80`, needs its PIN.
    SelectedKeyEf,
    /// The text / surface applet's own key: `P2 = 00`, no PIN (chip genuineness).
    AppletKey,
}

/// Card operations over a borrowed transport.
pub struct CardIo<'t, T> {
    transport: &'t mut T,
}

/// Result alias for this layer.
pub type CardResult<T, E> = Result<T, CardError<E>>;

impl<'t, T: ApduTransport> CardIo<'t, T> {
    pub fn new(transport: &'t mut T) -> Self {
        Self { transport }
    }

    /// The transport, for what this layer does not cover.
    pub fn transport(&mut self) -> &mut T {
        self.transport
    }

    /// Sends `command`; answers the data length in `response` and the status word.
    pub fn exchange(
        &mut self,
        command: &[u8],
        response: &mut [u8],
    ) -> CardResult<(usize, StatusWord), T::Error> {
        let n = self.transport.transceive(command, response).map_err(CardError::Transport)?;
        if n > response.len() {
            return Err(CardError::UnexpectedResponseLength { len: n });
        }
        if n < 2 {
            return Err(CardError::ResponseTooShort);
        }
        let sw = StatusWord::from_bytes(response[n - 2], response[n - 1]);
        if !sw.is_success() {
            debug!("card: INS {:x} answered {:x}", command.get(1).copied().unwrap_or(0), sw.0);
        }
        Ok((n - 2, sw))
    }

    /// Sends `command`; anything but `9000` becomes its [`CardError`].
    pub fn exchange_ok(&mut self, command: &[u8], response: &mut [u8]) -> CardResult<usize, T::Error> {
        let (n, sw) = self.exchange(command, response)?;
        if sw.is_success() {
            Ok(n)
        } else {
            Err(CardError::from_status(sw))
        }
    }

    /// Sends a command that answers no data; data in the answer is an error.
    fn exchange_no_data(&mut self, command: &[u8]) -> CardResult<(), T::Error> {
        let mut response = [0u8; 16];
        match self.exchange_ok(command, &mut response)? {
            0 => Ok(()),
            len => Err(CardError::UnexpectedResponseLength { len }),
        }
    }

    /// SELECT an applet by AID.
    pub fn select_ap(&mut self, aid: &[u8]) -> CardResult<(), T::Error> {
        let mut cmd = [0u8; 5 + commands::MAX_SHORT_DATA];
        let n = commands::select_ap(aid, &mut cmd)?;
        self.exchange_no_data(&cmd[..n])
    }

    /// SELECT an EF of the current applet.
    pub fn select_ef(&mut self, ef: u16) -> CardResult<(), T::Error> {
        let mut cmd = [0u8; 7];
        let n = commands::select_ef(ef, &mut cmd)?;
        self.exchange_no_data(&cmd[..n])
    }

    /// One READ BINARY of the current EF into `out` (at most 256 bytes); answers the length.
    /// `6282` (end of file) answers the bytes that came with it.
    pub fn read_binary(&mut self, offset: usize, le: usize, out: &mut [u8]) -> CardResult<usize, T::Error> {
        let le = le.clamp(1, 256);
        let mut cmd = [0u8; 5];
        let n = commands::read_binary(offset, le, &mut cmd)?;
        let mut response = [0u8; RESPONSE_CAPACITY];
        let (len, sw) = self.exchange(&cmd[..n], &mut response)?;
        if !(sw.is_success() || sw == END_OF_FILE) {
            return Err(CardError::from_status(sw));
        }
        if len > le {
            return Err(CardError::UnexpectedResponseLength { len });
        }
        let capacity = out.len();
        let copied = match out.get_mut(..len) {
            Some(dst) => {
                dst.copy_from_slice(&response[..len]);
                Ok(len)
            }
            None => Err(CardError::BufferTooSmall { capacity }),
        };
        // Names, addresses and the 個人番号 pass through here: leave no copy on the stack.
        wipe(&mut response);
        copied
    }

    /// Reads the current EF from offset 0 into `out` in 256-byte steps; answers the length.
    ///
    /// Stops at the size `sizing` gives, at a short read, or at `6B00` after the first step.
    /// A file larger than `out` is [`CardError::BufferTooSmall`]; a TLV file that ends before
    /// its declared length is [`ParseError::Truncated`].
    pub fn read_ef(&mut self, out: &mut [u8], sizing: Sizing) -> CardResult<usize, T::Error> {
        let capacity = out.len();
        let mut total = match sizing {
            Sizing::Fixed(n) => Some(n.min(capacity)),
            _ => None,
        };
        let mut filled = 0usize;
        loop {
            let want = match total {
                Some(t) => t - filled,
                None => 256,
            }
            .min(256);
            if want == 0 {
                break;
            }
            let n = match self.read_binary(filled, want, &mut out[filled..]) {
                Ok(n) => n,
                Err(CardError::WrongOffset) if filled > 0 => break,
                Err(CardError::BufferTooSmall { .. }) => return Err(CardError::BufferTooSmall { capacity }),
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            filled += n;
            if total.is_none() && sizing == Sizing::Tlv {
                match tlv::encoded_len(&out[..filled]) {
                    Ok(t) if t > capacity => return Err(CardError::BufferTooSmall { capacity }),
                    Ok(t) => {
                        total = Some(t);
                        filled = filled.min(t);
                    }
                    Err(ParseError::Truncated) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if n < want {
                break;
            }
        }
        match (sizing, total) {
            (Sizing::Tlv, None) => Err(ParseError::Truncated.into()),
            (Sizing::Tlv, Some(t)) if filled < t => Err(ParseError::Truncated.into()),
            _ => Ok(filled),
        }
    }

    /// SELECT EF `ef`, then [`read_ef`](Self::read_ef); answers the bytes read.
    pub fn read_file<'b>(
        &mut self,
        ef: u16,
        out: &'b mut [u8],
        sizing: Sizing,
    ) -> CardResult<&'b [u8], T::Error> {
        self.select_ef(ef)?;
        let n = self.read_ef(out, sizing)?;
        Ok(&out[..n])
    }

    /// GET DATA `tag` (with no DF selected for the MF objects) into `out`, which needs room
    /// for the data and the status word.
    pub fn get_data<'b>(&mut self, tag: u16, out: &'b mut [u8]) -> CardResult<&'b [u8], T::Error> {
        let mut cmd = [0u8; 7];
        let n = commands::get_data(tag, &mut cmd)?;
        // The objects are larger than one short response: the transport below joins the
        // `61xx` parts, so the answer goes straight into the caller's buffer (data + SW).
        // A card that wants the length said outright answers `6700`: ask again with an
        // extended Le.
        let len = match self.exchange_ok(&cmd[..n], out) {
            Err(CardError::WrongLength) => {
                let n = commands::get_data_extended(tag, &mut cmd)?;
                self.exchange_ok(&cmd[..n], out)?
            }
            other => other?,
        };
        Ok(&out[..len])
    }

    /// VERIFY with no data on the key reference `key_ef` (selected first): costs no try.
    pub fn pin_status(&mut self, key_ef: u16) -> CardResult<PinStatus, T::Error> {
        self.select_ef(key_ef)?;
        let mut cmd = [0u8; 4];
        let n = commands::verify_status(&mut cmd)?;
        let mut response = [0u8; 16];
        let (len, sw) = self.exchange(&cmd[..n], &mut response)?;
        if len != 0 {
            return Err(CardError::UnexpectedResponseLength { len });
        }
        match (sw, sw.tries_left()) {
            (StatusWord::OK, _) => Ok(PinStatus::Verified),
            (StatusWord::AUTH_METHOD_BLOCKED, _) | (_, Some(0)) => Ok(PinStatus::Locked),
            (_, Some(n)) => Ok(PinStatus::TriesLeft(n)),
            _ => Err(CardError::from_status(sw)),
        }
    }

    /// Presents `secret` to the key reference `key_ef`, never burning a try on our own error:
    ///
    /// 1. SELECT `key_ef` and ask the status (no try spent);
    /// 2. locked → [`CardError::Locked`], nothing sent;
    /// 3. one try left and no `confirm` → [`CardError::LastTryNotConfirmed`], nothing sent;
    /// 4. VERIFY with the secret, written only into a stack APDU buffer that is wiped after.
    ///
    /// Wrong → [`CardError::WrongPin`] with the tries left (0 on `63C0`); `6984` → `Locked`.
    pub fn verify_secret<S: Secret + ?Sized>(
        &mut self,
        key_ef: u16,
        secret: &S,
        confirm: Option<LastTryConfirmation>,
    ) -> CardResult<(), T::Error> {
        match self.pin_status(key_ef)? {
            PinStatus::Locked => {
                warn!("card: key {:x} locked; not sending VERIFY", key_ef);
                return Err(CardError::Locked);
            }
            PinStatus::TriesLeft(1) if confirm.is_none() => {
                warn!("card: one try left on key {:x}; VERIFY needs confirmation", key_ef);
                return Err(CardError::LastTryNotConfirmed);
            }
            PinStatus::TriesLeft(_) | PinStatus::Verified => {}
        }
        let mut cmd = [0u8; 5 + 16];
        let mut response = [0u8; 16];
        let result = match secret.write_apdu(&mut cmd) {
            Ok(n) => self.exchange(&cmd[..n], &mut response),
            Err(e) => Err(e.into()),
        };
        wipe(&mut cmd);
        let (len, sw) = result?;
        if len != 0 {
            return Err(CardError::UnexpectedResponseLength { len });
        }
        match sw {
            StatusWord::OK => Ok(()),
            _ => {
                if sw.tries_left().is_some() {
                    warn!("card: VERIFY on key {:x} failed: {:x}", key_ef, sw.0);
                }
                Err(CardError::from_status(sw))
            }
        }
    }

    /// COMPUTE DIGITAL SIGNATURE over `digest_info` with `key`. The answer must be 256 bytes.
    pub fn compute_signature(
        &mut self,
        key: SigningKey,
        digest_info: &[u8],
        signature: &mut [u8; SIGNATURE_LEN],
    ) -> CardResult<(), T::Error> {
        let mut cmd = [0u8; 6 + commands::MAX_SHORT_DATA];
        let n = match key {
            SigningKey::SelectedKeyEf => commands::compute_signature(digest_info, &mut cmd)?,
            SigningKey::AppletKey => commands::compute_signature_applet_key(digest_info, &mut cmd)?,
        };
        let mut response = [0u8; RESPONSE_CAPACITY];
        let len = self.exchange_ok(&cmd[..n], &mut response)?;
        if len != SIGNATURE_LEN {
            return Err(CardError::UnexpectedResponseLength { len });
        }
        signature.copy_from_slice(&response[..SIGNATURE_LEN]);
        Ok(())
    }
}
