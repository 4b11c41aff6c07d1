//! Host driver for shikaku readers: what a reception PC links and runs.

pub mod api;
pub mod app;
pub mod config;
pub mod doctor;
pub mod eligibility;
pub mod journal;
pub mod keystore;
pub mod model;
pub mod names;
pub mod os;
pub mod reader;
pub mod receipt;
pub mod smartcard;
pub mod transport;
