//! Fuzz target `config_vrp`: Huawei VRP configuration commands as text (UTF-8, invalid sequences
//! replaced) through `ntp_config`. The checks are those of
//! `config_common.rs`: no panic, deterministic parses, errors and notes on
//! lines of the text, no secret in errors, renderings or `Debug`, and
//! consistent engine values once names are resolved.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "config_common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check(data, ntp_config::Dialect::Vrp));
