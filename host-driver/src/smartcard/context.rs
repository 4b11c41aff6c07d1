//! The PC/SC context, kept alive across pcscd restarts.

use std::ffi::CString;
use std::time::Duration;

use shikaku_card::apdu::ApduTransport;

#[derive(Debug, thiserror::Error)]
pub enum PcscError {
    #[error("the PC/SC service is not running (pcscd): {0}")]
    NoService(pcsc::Error),
    #[error("no card in {0}")]
    NoCard(String),
    #[error("the card was removed")]
    Removed,
    #[error("PC/SC: {0}")]
    Pcsc(#[from] pcsc::Error),
}

fn classify(e: pcsc::Error) -> PcscError {
    match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => PcscError::NoService(e),
        pcsc::Error::RemovedCard | pcsc::Error::ResetCard => PcscError::Removed,
        other => PcscError::Pcsc(other),
    }
}

/// A reader and whether a card is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderSlot {
    pub name: String,
    pub card_present: bool,
}

/// The PC/SC service, reconnecting by itself when pcscd went away.
pub struct PcscService {
    ctx: Option<pcsc::Context>,
}

impl Default for PcscService {
    fn default() -> Self {
        Self::new()
    }
}

impl PcscService {
    pub fn new() -> Self {
        Self { ctx: None }
    }

    fn context(&mut self) -> Result<&pcsc::Context, PcscError> {
        if let Some(ctx) = &self.ctx {
            if ctx.is_valid().is_ok() {
                return Ok(self.ctx.as_ref().expect("just checked"));
            }
            tracing::info!("PC/SC context no longer valid; establishing a new one");
        }
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(classify)?;
        Ok(self.ctx.insert(ctx))
    }

    /// Runs `f` with a valid context; once more with a fresh context if the service restarted.
    fn with_context<T>(
        &mut self,
        f: impl Fn(&pcsc::Context) -> Result<T, pcsc::Error>,
    ) -> Result<T, PcscError> {
        let first = f(self.context()?);
        match first {
            Err(pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::InvalidHandle) => {
                self.ctx = None;
                f(self.context()?).map_err(classify)
            }
            other => other.map_err(classify),
        }
    }

    /// Readers and card presence.
    pub fn readers(&mut self) -> Result<Vec<ReaderSlot>, PcscError> {
        self.with_context(|ctx| {
            let names = match ctx.list_readers_owned() {
                Ok(n) => n,
                Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut states: Vec<pcsc::ReaderState> =
                names.iter().map(|n| pcsc::ReaderState::new(n.clone(), pcsc::State::UNAWARE)).collect();
            ctx.get_status_change(Duration::from_millis(0), &mut states)?;
            Ok(states
                .iter()
                .map(|s| ReaderSlot {
                    name: s.name().to_string_lossy().into_owned(),
                    card_present: s.event_state().contains(pcsc::State::PRESENT),
                })
                .collect())
        })
    }

    /// Waits up to `timeout` for a card to appear in `reader` (insertion watch).
    pub fn wait_for_card(&mut self, reader: &str, timeout: Duration) -> Result<bool, PcscError> {
        let name = CString::new(reader).map_err(|_| PcscError::NoCard(reader.to_owned()))?;
        self.with_context(|ctx| {
            let mut state = [pcsc::ReaderState::new(name.clone(), pcsc::State::UNAWARE)];
            ctx.get_status_change(Duration::from_millis(0), &mut state)?;
            if state[0].event_state().contains(pcsc::State::PRESENT) {
                return Ok(true);
            }
            state[0].sync_current_state();
            match ctx.get_status_change(timeout, &mut state) {
                Ok(()) => Ok(state[0].event_state().contains(pcsc::State::PRESENT)),
                Err(pcsc::Error::Timeout) => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    /// Connects to the card in `reader`.
    pub fn connect(&mut self, reader: &str) -> Result<PcscCard, PcscError> {
        let name = CString::new(reader).map_err(|_| PcscError::NoCard(reader.to_owned()))?;
        let card = self
            .with_context(|ctx| ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY))
            .map_err(|e| match e {
                PcscError::Pcsc(pcsc::Error::NoSmartcard) => PcscError::NoCard(reader.to_owned()),
                other => other,
            })?;
        Ok(PcscCard { card, reader: reader.to_owned() })
    }
}

/// A connected card; the firmware's applet clients talk to it through [`ApduTransport`].
pub struct PcscCard {
    card: pcsc::Card,
    pub reader: String,
}

impl ApduTransport for PcscCard {
    type Error = PcscError;

    /// Handles `61xx` (GET RESPONSE) and `6Cxx` (re-send with the right Le) like the
    /// reader's own ISO 7816-4 layer, so the applet clients see complete responses.
    fn transceive(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, PcscError> {
        let mut rx = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let mut data = Vec::new();
        let mut cmd = command.to_vec();
        for _ in 0..32 {
            let got = self.card.transmit(&cmd, &mut rx).map_err(classify)?;
            let [body @ .., sw1, sw2] = got else {
                return Err(PcscError::Pcsc(pcsc::Error::InvalidValue));
            };
            match (*sw1, *sw2) {
                (0x61, le) => {
                    data.extend_from_slice(body);
                    cmd = vec![0x00, 0xC0, 0x00, 0x00, le];
                }
                (0x6C, le) if cmd.len() >= 5 => {
                    let last = cmd.len() - 1;
                    cmd[last] = le;
                }
                (s1, s2) => {
                    data.extend_from_slice(body);
                    data.extend_from_slice(&[s1, s2]);
                    let out = response
                        .get_mut(..data.len())
                        .ok_or(PcscError::Pcsc(pcsc::Error::InsufficientBuffer))?;
                    out.copy_from_slice(&data);
                    return Ok(data.len());
                }
            }
        }
        Err(PcscError::Pcsc(pcsc::Error::InvalidValue))
    }
}

impl PcscCard {
    pub fn reader_name(&self) -> &str {
        &self.reader
    }
}
