//! Helpers shared by this crate's test binaries, one file per topic (the convention of every
//! crate here: `tests/common/<topic>.rs`, declared below, and `mod common;` in each test).
//! Each binary uses only some of them, hence `dead_code` is allowed.
#![allow(dead_code)]

pub(crate) mod adversary;
pub(crate) mod eligibility;
pub(crate) mod fault;
