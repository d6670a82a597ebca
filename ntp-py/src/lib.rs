//! # ntp-py
//!
//! The extension module `ntp_py._ntp_py`: thin pyo3 glue over `ntp-wire`
//! (packets, timestamps, authentication) and `ntp-algo` (the sans-IO
//! engine). The pure-Python package `ntp_py` re-exports it and adds the
//! socket and asyncio drivers and the command-line tool.
//!
//! Two classes are not pyo3 classes: `Packet` and `NtpTimestamp`, the
//! objects of the decode hot path, are types of their own on CPython's
//! limited C API (see `capi`), which allocate and read several times
//! faster; the rest of the module is pyo3.
//!
//! Every protocol rule lives in the Rust crates; this crate converts types,
//! maps errors to Python exceptions, and reads the system clock where a
//! client needs a receive or transmit time (it never sets it).

mod auth;
mod capi;
mod client;
mod config;
mod control;
mod engine;
mod errors;
mod packet;
mod timestamp;

use pyo3::prelude::*;

/// The extension module. Submodule registration order does not matter:
/// classes reference each other only at call time.
#[pymodule]
fn _ntp_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    timestamp::register(m)?;
    packet::register(m)?;
    auth::register(m)?;
    client::register(m)?;
    engine::register(m)?;
    config::register(m)?;
    control::register(m)?;
    Ok(())
}
