//! Readers attached to this PC: the manager that runs one thread per reader over any
//! transport, each with the protocol crate's host endpoint.

pub mod manager;

pub use manager::{Command, ManagerEvent, ReaderHandle};
pub use shikaku_protocol::endpoint::host::{HostEndpoint, HostEvent, Inbound, Keys, ReaderInfo};
