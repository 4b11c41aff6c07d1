//! Readers attached to this PC: the protocol endpoint of each link, and the manager that runs
//! one thread per reader over any transport.

mod endpoint;
pub mod manager;

pub use endpoint::{HostEndpoint, HostEvent, Inbound, Keys, ReaderInfo};
pub use manager::{Command, ManagerEvent, ReaderHandle};
