//! The driver's configuration file (TOML). Every field has a documented default, so an empty
//! file is a valid configuration; `shikaku config` prints the effective one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::transport::Endpoint;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Readers to connect to. Default: the first USB reader.
    pub readers: Vec<Endpoint>,
    /// Where pairing keys are kept (one file per reader serial, mode 0600).
    pub key_dir: PathBuf,
    /// The eligibility service. Default: the reference service on loopback.
    pub eligibility_url: String,
    /// Seconds before an eligibility request is abandoned and queued for retry.
    pub eligibility_timeout_s: u64,
    /// Receipt-computer folders (外部インターフェイス).
    pub folders: Folders,
    /// Encoding of the XML files: `cp932` (the default: Shift_JIS as Windows reads it, 髙 﨑 ①
    /// as themselves), `utf8`, or `jis0208` (strict JIS X 0208 Shift_JIS for readers that take
    /// the label literally). Characters outside the set are written as references (`&#x20BB7;`).
    pub encoding: crate::receipt::FileEncoding,
    /// 医療機関コード written into the XML header.
    pub medical_institution_code: String,
    /// The local JSON API; always bound to loopback.
    pub api_listen: String,
    /// The durable log (SQLite).
    pub journal: PathBuf,
    /// Clock skew (reader vs PC) above which `doctor` warns, in seconds.
    pub max_clock_skew_s: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Folders {
    pub face: PathBuf,
    pub req: PathBuf,
    pub res: PathBuf,
}

fn data_dir() -> PathBuf {
    std::env::var_os("SHIKAKU_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/shikaku")))
        .unwrap_or_else(|| PathBuf::from("shikaku-data"))
}

impl Default for Folders {
    fn default() -> Self {
        let base = data_dir().join("oqs");
        Self { face: base.join("face"), req: base.join("req"), res: base.join("res") }
    }
}

impl Default for Config {
    fn default() -> Self {
        let d = data_dir();
        Self {
            readers: vec![Endpoint::Usb(None)],
            key_dir: d.join("keys"),
            eligibility_url: "http://127.0.0.1:8740".into(),
            eligibility_timeout_s: 10,
            folders: Folders::default(),
            encoding: crate::receipt::FileEncoding::Cp932,
            medical_institution_code: "0000000000".into(),
            api_listen: "127.0.0.1:8741".into(),
            journal: d.join("journal.sqlite"),
            max_clock_skew_s: 120,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("api_listen must be a loopback address, not {0}")]
    NotLoopback(String),
}

impl Config {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(ConfigError::Read(path.to_owned(), e)),
        };
        let c: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_owned(), e))?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let loopback = self
            .api_listen
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().is_loopback())
            .unwrap_or(self.api_listen.starts_with("localhost:"));
        if !loopback {
            return Err(ConfigError::NotLoopback(self.api_listen.clone()));
        }
        Ok(())
    }

    pub fn default_path() -> PathBuf {
        std::env::var_os("SHIKAKU_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir().join("config.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults_and_the_defaults_round_trip() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c, Config::default());
        let text = toml::to_string(&c).unwrap();
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), c);
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let c: Config = toml::from_str("api_listen = \"0.0.0.0:8741\"").unwrap();
        assert!(matches!(c.validate(), Err(ConfigError::NotLoopback(_))));
        assert!(toml::from_str::<Config>("readers = [\"ftp:x\"]").is_err());
        assert!(toml::from_str::<Config>("no_such_field = 1").is_err());
        let c: Config =
            toml::from_str("readers = [\"tcp:127.0.0.1:4000\", \"usb\"]\nencoding = \"utf8\"").unwrap();
        assert_eq!(c.readers.len(), 2);
        assert!(c.validate().is_ok());
    }
}
