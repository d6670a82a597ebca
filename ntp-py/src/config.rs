//! Configuration files in operators' dialects (ntp.conf, chrony.conf,
//! Cisco IOS, Huawei VRP), read by the `ntp-config` crate: `check_config`
//! says what a file means, as `ntp-node check-config` does.

use pyo3::exceptions::PyOSError;
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

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CONFIG_AVAILABLE", CONFIG_AVAILABLE)?;
    m.add_function(wrap_pyfunction!(check_config, m)?)
}
