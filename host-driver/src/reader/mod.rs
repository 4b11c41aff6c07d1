//! Readers attached to this PC: the protocol endpoint of each link.

mod endpoint;

pub use endpoint::{HostEndpoint, HostEvent, Inbound, ReaderInfo};
