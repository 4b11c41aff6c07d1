//! Pairing keys on disk: one file per reader serial, hex, readable by the owner only.
//!
//! A key file holds exactly 64 hexadecimal digits (ASCII whitespace around them is tolerated).
//! Anything else — bytes that are not text, the wrong length, a sign or another character
//! among the digits, a directory in its place, a file that cannot be read — is an error that
//! names the file and the remedy, never a panic and never a key: the reader is then treated as
//! not paired, and pairing it again writes a fresh file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use shikaku_protocol::auth::PairingKey;

/// What to do about a key file that cannot be used.
const REMEDY: &str =
    "delete it and pair the reader again: `shikaku pair <endpoint>` with the reader in pairing mode";

/// Longest key file read: a valid one has 64 digits and a little whitespace; anything much
/// longer is damaged whatever it holds.
const MAX_FILE: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// Writing a key file (or creating the folder) failed.
    #[error("key store {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The key file is there but does not hold a key.
    #[error("key file {path} is damaged ({damage}); {REMEDY}")]
    Damaged { path: PathBuf, damage: Damage },
    /// The key file is there but cannot be read.
    #[error(
        "key file {path} cannot be read ({source}); give the driver's user read access to it, or {REMEDY}"
    )]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("reader serial {0:?} cannot name a key file")]
    BadSerial(String),
}

/// How a key file is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    /// A directory or something else that is not a regular file.
    #[error("not a regular file")]
    NotAFile,
    /// Not 64 digits between the whitespace (empty or truncated files included).
    #[error("{0} bytes where 64 hexadecimal digits belong")]
    Length(u64),
    /// A byte that is not a hexadecimal digit (a sign, a space, a non-ASCII byte) at this
    /// offset after the leading whitespace.
    #[error("byte {value:#04x} at offset {offset} is not a hexadecimal digit")]
    NotHex { offset: usize, value: u8 },
}

/// The key in a key file's bytes.
fn parse(content: &[u8]) -> Result<[u8; 32], Damage> {
    let digits = content.trim_ascii();
    if digits.len() != 64 {
        return Err(Damage::Length(digits.len() as u64));
    }
    let nibble = |offset: usize| {
        let value = digits[offset];
        match value {
            b'0'..=b'9' => Ok(value - b'0'),
            b'a'..=b'f' => Ok(value - b'a' + 10),
            b'A'..=b'F' => Ok(value - b'A' + 10),
            _ => Err(Damage::NotHex { offset, value }),
        }
    };
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = (nibble(2 * i)? << 4) | nibble(2 * i + 1)?;
    }
    Ok(key)
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

    /// The key stored for `serial`: `Ok(None)` if there is no key file, an error naming the
    /// file and the remedy if there is one that holds no key.
    pub fn load(&self, serial: &str) -> Result<Option<PairingKey>, KeyStoreError> {
        let path = self.path(serial)?;
        let unreadable = |source| KeyStoreError::Unreadable { path: path.clone(), source };
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(e)),
        };
        let damaged = |damage| KeyStoreError::Damaged { path: path.clone(), damage };
        if !meta.is_file() {
            return Err(damaged(Damage::NotAFile));
        }
        let mut content = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut content))
            .map_err(unreadable)?;
        if content.len() as u64 > MAX_FILE {
            return Err(damaged(Damage::Length(meta.len().max(content.len() as u64))));
        }
        parse(&content).map(|k| Some(PairingKey(k))).map_err(damaged)
    }

    /// [`KeyStore::load`] for a link's key lookup: a key file that holds no key is logged
    /// (file and remedy) and the reader counts as not paired, so that it can be paired again.
    pub fn lookup(&self, serial: &str) -> Option<PairingKey> {
        match self.load(serial) {
            Ok(key) => key,
            Err(e) => {
                tracing::error!(serial, error = %e, "no usable pairing key");
                None
            }
        }
    }

    /// Writes atomically (temp + rename) with mode 0600.
    pub fn store(&self, serial: &str, key: &PairingKey) -> Result<(), KeyStoreError> {
        let path = self.path(serial)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| KeyStoreError::Io(self.dir.clone(), e))?;
        let tmp = self.dir.join(format!(".{serial}.key.tmp"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| KeyStoreError::Io(tmp.clone(), e))?;
        let hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
        f.write_all(hex.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| KeyStoreError::Io(tmp.clone(), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| KeyStoreError::Io(path, e))
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

    const SERIAL: &str = "SK-1";

    /// A key store in a fresh folder with `SK-1.key` holding `content`.
    fn store_with(content: &[u8]) -> (tempfile::TempDir, KeyStore, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SK-1.key");
        std::fs::write(&path, content).unwrap();
        let ks = KeyStore::new(dir.path());
        (dir, ks, path)
    }

    /// The error for a damaged key file names the file and how to repair it.
    fn assert_names_file_and_remedy(e: &KeyStoreError, path: &Path) {
        let text = e.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("shikaku pair"), "{text}");
    }

    /// The error of loading `SK-1`, which must fail.
    fn load_error(ks: &KeyStore) -> KeyStoreError {
        match ks.load(SERIAL) {
            Ok(key) => panic!("loaded {}", if key.is_some() { "a key" } else { "nothing" }),
            Err(e) => e,
        }
    }

    fn damaged(content: &[u8]) -> KeyStoreError {
        let (_dir, ks, path) = store_with(content);
        let e = load_error(&ks);
        assert_names_file_and_remedy(&e, &path);
        e
    }

    const GOOD: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn keys_round_trip_privately() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::new(dir.path());
        assert!(ks.load(SERIAL).unwrap().is_none());
        ks.store(SERIAL, &PairingKey([0xAB; 32])).unwrap();
        assert_eq!(ks.load(SERIAL).unwrap().unwrap().0, [0xAB; 32]);
        assert_eq!(ks.serials(), vec![SERIAL.to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("SK-1.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_file_with_surrounding_whitespace_and_upper_case_digits_loads() {
        let (_dir, ks, _) = store_with(format!("\n {}\r\n", GOOD.to_uppercase()).as_bytes());
        let key = ks.load(SERIAL).unwrap().unwrap();
        assert_eq!(key.0, core::array::from_fn::<u8, 32, _>(|i| i as u8));
    }

    #[test]
    fn a_serial_that_cannot_name_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::new(dir.path());
        assert!(matches!(ks.load("../etc/passwd"), Err(KeyStoreError::BadSerial(_))));
        assert!(matches!(ks.load(""), Err(KeyStoreError::BadSerial(_))));
    }

    #[test]
    fn a_key_file_with_multibyte_characters_is_damaged_not_a_panic() {
        // 64 bytes, but `é` (2 bytes) straddles the byte pairs: slicing pairs would panic.
        let text = format!("a{}b", "é".repeat(31));
        assert_eq!(text.len(), 64);
        assert!(matches!(
            damaged(text.as_bytes()),
            KeyStoreError::Damaged { damage: Damage::NotHex { offset: 1, value: 0xC3 }, .. }
        ));
    }

    #[test]
    fn a_key_file_with_bytes_that_are_not_utf8_is_damaged() {
        damaged(&[0xFF; 64]);
        let mut almost = GOOD.as_bytes().to_vec();
        almost[17] = 0x80;
        damaged(&almost);
    }

    #[test]
    fn a_key_file_with_the_wrong_length_is_damaged() {
        assert!(matches!(
            damaged(&GOOD.as_bytes()[..63]),
            KeyStoreError::Damaged { damage: Damage::Length(63), .. }
        ));
        damaged(format!("{GOOD}0").as_bytes());
        damaged(format!("{GOOD}{GOOD}").as_bytes());
        // A huge file is not read whole.
        let e = damaged(&vec![b'0'; 1 << 20]);
        assert!(matches!(e, KeyStoreError::Damaged { damage: Damage::Length(1_048_576), .. }), "{e}");
    }

    #[test]
    fn a_truncated_key_file_is_damaged() {
        assert!(matches!(damaged(b""), KeyStoreError::Damaged { damage: Damage::Length(0), .. }));
        damaged(b"\n");
        damaged(&GOOD.as_bytes()[..32]);
    }

    #[test]
    fn a_key_file_with_characters_that_are_not_hex_digits_is_damaged() {
        damaged(&[b'z'; 64]);
        damaged(GOOD.replace('f', "g").as_bytes());
        // Whitespace inside the digits is damage too (only the ends are trimmed).
        damaged(format!("{} {}", &GOOD[..31], &GOOD[32..]).as_bytes());
    }

    #[test]
    fn a_key_file_with_signs_before_digits_is_damaged() {
        // `+a` is not two hex digits, though a number parser would take it as 10.
        assert!(matches!(
            damaged("+a".repeat(32).as_bytes()),
            KeyStoreError::Damaged { damage: Damage::NotHex { offset: 0, value: b'+' }, .. }
        ));
        damaged("-1".repeat(32).as_bytes());
    }

    #[test]
    fn a_directory_where_the_key_file_should_be_is_reported_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SK-1.key");
        std::fs::create_dir(&path).unwrap();
        let ks = KeyStore::new(dir.path());
        let e = load_error(&ks);
        assert_names_file_and_remedy(&e, &path);
        assert!(matches!(e, KeyStoreError::Damaged { damage: Damage::NotAFile, .. }));
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_key_file_is_reported_with_the_file_and_the_remedy() {
        // A symbolic link to itself cannot be opened, even by root.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SK-1.key");
        std::os::unix::fs::symlink(&path, &path).unwrap();
        let ks = KeyStore::new(dir.path());
        let e = load_error(&ks);
        assert_names_file_and_remedy(&e, &path);
        assert!(matches!(e, KeyStoreError::Unreadable { .. }));

        // A file without read permission (not for root, whom permissions do not stop).
        use std::os::unix::fs::PermissionsExt;
        let (_dir, ks, path) = store_with(GOOD.as_bytes());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read(&path).is_err() {
            let e = load_error(&ks);
            assert_names_file_and_remedy(&e, &path);
        }
    }

    /// A small deterministic generator (xorshift64*), so that the sweep below needs no crate.
    struct Bytes(u64);
    impl Bytes {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    /// Whether `content` is a valid key file: 64 hex digits, ASCII whitespace around them.
    fn valid(content: &[u8]) -> bool {
        let t = content.trim_ascii();
        t.len() == 64 && t.iter().all(u8::is_ascii_hexdigit)
    }

    #[test]
    fn any_bytes_in_a_key_file_load_or_give_an_error_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::new(dir.path());
        let path = dir.path().join("SK-1.key");
        let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
        // Byte values biased towards the interesting ones: hex digits, signs, whitespace,
        // UTF-8 lead and continuation bytes.
        let alphabet: Vec<u8> = b"0123456789abcdefABCDEF+- \t\r\nzG\x00"
            .iter()
            .copied()
            .chain([0x80, 0xBF, 0xC3, 0xA9, 0xE3, 0x81, 0xFF])
            .collect();
        for case in 0..3000 {
            let len = match case % 4 {
                0 => 64,
                1 => 62 + (rng.next() % 6) as usize,
                2 => (rng.next() % 140) as usize,
                _ => 66,
            };
            let mut content: Vec<u8> = (0..len)
                .map(|_| match rng.next() % 4 {
                    0 => rng.next() as u8,
                    _ => alphabet[(rng.next() % alphabet.len() as u64) as usize],
                })
                .collect();
            if case % 7 == 0 {
                // A valid key with one byte replaced.
                content = GOOD.as_bytes().to_vec();
                content[(rng.next() % 64) as usize] = rng.next() as u8;
            }
            std::fs::write(&path, &content).unwrap();
            let loaded = std::panic::catch_unwind(|| ks.load(SERIAL))
                .unwrap_or_else(|_| panic!("load panicked on {content:02x?}"));
            match loaded {
                Ok(Some(_)) => assert!(valid(&content), "accepted {content:02x?}"),
                Ok(None) => panic!("the file is there"),
                Err(e) => {
                    assert!(!valid(&content), "refused {content:02x?}: {e}");
                    assert_names_file_and_remedy(&e, &path);
                }
            }
        }
    }
}
