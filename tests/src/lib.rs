//! Shared helpers for the cross-crate and interop tests in `tests/tests/`.
//!
//! * [`tools`]: find an external program (tshark, chronyd, ...) and decide
//!   what a missing one means: a loud skip on a developer machine, a failure
//!   under `CI=true`.
//! * [`pcap`]: write datagrams into a pcap file that tshark can read.
//! * [`chrony`]: start and stop a chronyd on loopback with its own config.
//! * [`chronyc`]: query such a chronyd over a command socket of its own.
//! * [`node`]: build and run the `ntp-node` binary, and read its JSON status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub mod chrony;
pub mod chronyc;
pub mod node;
pub mod pcap;
pub mod tools;
