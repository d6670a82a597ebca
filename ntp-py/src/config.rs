//! Configuration files in operators' dialects (ntp.conf, chrony.conf,
//! Cisco IOS, Huawei VRP), read by the `ntp-config` crate: `check_config`
//! says what a file means, as `ntp-node check-config` does.

use ntp_algo::Engine;
use ntp_config::Host;
use ntp_wire::NtpTimestamp;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::errors::ParseError;

/// Whether configuration files can be read by this build (`check_config`).
/// `aio.run_node(config=...)` is a separate matter: it still refuses.
const CONFIG_AVAILABLE: bool = true;

/// Reads a configuration file (dialect detected) and returns what it
/// configures, one line per item (associations, keys by id only,
/// access rules, notes with their line numbers). Raises `ParseError` with
/// the line number for a refused line (never quoting a secret) and
/// `OSError` when the file cannot be read.
#[pyfunction]
fn check_config(path: &str) -> PyResult<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| PyOSError::new_err(format!("{path}: {e}")))?;
    let config = ntp_config::parse(&text, None).map_err(|e| ParseError::new_err(format!("{path}: {e}")))?;
    Ok(ntp_config::render(&config).lines().map(str::to_owned).collect())
}

/// The engine a configuration text describes, refusing what it cannot
/// resolve by itself (host names, key files): the same rule as the C ABI's
/// `ntp_engine_new_from_config`.
pub(crate) fn engine_from_config(text: &str, now: NtpTimestamp) -> PyResult<Engine> {
    let config = ntp_config::parse(text, None).map_err(|e| ParseError::new_err(e.to_string()))?;
    if !config.key_files.is_empty() {
        return Err(PyValueError::new_err("the configuration names key files: load them and use Engine(keyring=...)"));
    }
    if let Some(name) = config.sources.iter().find_map(|s| match &s.host {
        Host::Name(name) => Some(name),
        Host::Addr(_) => None,
    }) {
        return Err(PyValueError::new_err(format!("{name:?} is a host name: resolve it first")));
    }
    let engine_config = config.engine_config().map_err(|e| PyValueError::new_err(e.to_string()))?;
    let associations = config.associations().map_err(|e| PyValueError::new_err(e.to_string()))?;
    let keys =
        ntp_config::load_keyring(&config, |_| Err::<String, std::io::Error>(std::io::ErrorKind::NotFound.into()))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mut engine = Engine::new(engine_config, keys, now);
    for association in associations {
        engine.add_association(association, now).map_err(|e| PyValueError::new_err(e.to_string()))?;
    }
    Ok(engine)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CONFIG_AVAILABLE", CONFIG_AVAILABLE)?;
    m.add_function(wrap_pyfunction!(check_config, m)?)
}
