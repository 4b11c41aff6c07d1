//! The rig's serial protocol on the host side: the image's own codes, framing and deframer
//! (`shikaku_image_core::wire`, which documents the frames), with owned buffers around them.

pub use shikaku_image_core::wire::*;

/// One frame of `kind` carrying `payload` (cut at [`MAX_PAYLOAD`]).
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    encode(kind, &[payload], |b| out.extend_from_slice(b));
    out
}

/// Reassembles frames from the image's byte stream; bad ones are dropped.
pub struct FrameReader(Box<Deframer>);

impl Default for FrameReader {
    fn default() -> Self {
        Self(Box::new(Deframer::new()))
    }
}

impl FrameReader {
    /// Takes one byte; a complete, checked frame comes back as its type and payload.
    pub fn push(&mut self, b: u8) -> Option<(u8, Vec<u8>)> {
        let (kind, n) = self.0.push(b)?;
        Some((kind, self.0.payload(n).to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_garbage() {
        let mut d = FrameReader::default();
        let mut bytes = vec![0x00, 0x13];
        bytes.extend(frame(TRANSCEIVE, &[1, 2, 3]));
        let mut bad = frame(RX, &[9]);
        bad[4] ^= 1;
        bytes.extend(bad);
        bytes.extend(frame(OK, &[]));
        let got: Vec<_> = bytes.into_iter().filter_map(|b| d.push(b)).collect();
        assert_eq!(got, vec![(TRANSCEIVE, vec![1, 2, 3]), (OK, vec![])]);
    }
}
