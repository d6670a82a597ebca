//! # ntp-algo
//!
//! The NTP protocol engine, sans-IO: it opens no socket, reads no clock,
//! sleeps on nothing and spawns no thread. The caller passes its clock's
//! reading with every input and drains what to do afterwards.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod access;
pub mod association;
pub mod constants;
pub mod discipline;
pub mod engine;
pub mod events;
pub mod filter;
pub mod leap;
pub mod onwire;
pub mod ratelimit;
pub mod scenarios;
pub mod select;
pub mod server;
pub mod sim;
pub mod status;
pub mod system;
