//! Pairing keys on disk: one file per reader serial, hex, readable by the owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

use shikaku_protocol::auth::PairingKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("key store {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("key file {0} is damaged")]
    Damaged(PathBuf),
    #[error("reader serial {0:?} cannot name a key file")]
    BadSerial(String),
}

pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_owned() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, serial: &str) -> Result<PathBuf, KeyStoreError> {
        if serial.is_empty() || !serial.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(KeyStoreError::BadSerial(serial.to_owned()));
        }
        Ok(self.dir.join(format!("{serial}.key")))
    }

    pub fn load(&self, serial: &str) -> Result<Option<PairingKey>, KeyStoreError> {
        let path = self.path(serial)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(KeyStoreError::Io(path, e)),
        };
        let hex = text.trim();
        if hex.len() != 64 {
            return Err(KeyStoreError::Damaged(path));
        }
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| KeyStoreError::Damaged(path.clone()))?;
        }
        Ok(Some(PairingKey(key)))
    }

    /// Writes atomically (temp + rename) with mode 0600.
    pub fn store(&self, serial: &str, key: &PairingKey) -> Result<(), KeyStoreError> {
        let path = self.path(serial)?;
        let io = |e| KeyStoreError::Io(self.dir.clone(), e);
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let tmp = self.dir.join(format!(".{serial}.key.tmp"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        let hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
        f.write_all(hex.as_bytes()).and_then(|_| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Readers paired with this PC.
    pub fn serials(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut v: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".key")).map(str::to_owned))
            .filter(|n| !n.starts_with('.'))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_privately_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::new(dir.path());
        assert!(ks.load("SK-1").unwrap().is_none());
        ks.store("SK-1", &PairingKey([0xAB; 32])).unwrap();
        assert_eq!(ks.load("SK-1").unwrap().unwrap().0, [0xAB; 32]);
        assert_eq!(ks.serials(), vec!["SK-1".to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("SK-1.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("SK-2.key"), "zz").unwrap();
        assert!(matches!(ks.load("SK-2"), Err(KeyStoreError::Damaged(_))));
        assert!(matches!(ks.load("../etc/passwd"), Err(KeyStoreError::BadSerial(_))));
    }
}
