//! Entropy for the QEMU image: SHA-256 in counter mode over a 32-byte seed the rig hands over
//! at boot (from the host's OS RNG). The board image uses the MCU's TRNG instead.

use sha2::{Digest, Sha256};
use shikaku_protocol::endpoint::reader::Entropy;

pub struct HashDrbg {
    seed: [u8; 32],
    counter: u64,
}

impl HashDrbg {
    pub fn new(seed: [u8; 32]) -> Self {
        Self { seed, counter: 0 }
    }
}

impl Entropy for HashDrbg {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            self.counter += 1;
            let block =
                Sha256::new().chain_update(self.seed).chain_update(self.counter.to_le_bytes()).finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        // Ratchet so earlier outputs cannot be recomputed from a later state.
        self.counter += 1;
        self.seed = Sha256::new().chain_update(self.seed).chain_update(b"ratchet").finalize().into();
    }
}
