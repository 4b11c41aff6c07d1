//! Host driver for shikaku readers: what a reception PC links and runs.

pub mod eligibility;
pub mod journal;
pub mod model;
pub mod reader;
pub mod transport;
pub mod names;
pub mod receipt;
pub mod api;
pub mod smartcard;
pub mod config;
pub mod keystore;
