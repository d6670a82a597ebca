//! The hook for configuration files in operators' dialects (ntp.conf,
//! chrony.conf, ...). Their parser is the `ntp-config` crate, which is not
//! part of this build yet; until it is linked here, `check_config` raises
//! `ConfigUnavailable` and `CONFIG_AVAILABLE` is False, so callers (the
//! `check-config` command, `aio.run_node`) can say so plainly.
//!
//! To link it: add the dependency, parse the file in `check_config`, map
//! its errors (which carry the line number) to `ParseError`, and return
//! the summary the docstring promises; then set `CONFIG_AVAILABLE`.

use pyo3::prelude::*;

use crate::errors::ConfigUnavailable;

/// Whether configuration files can be read by this build.
const CONFIG_AVAILABLE: bool = false;

/// Reads a configuration file and returns a summary of what it
/// configures (one line per directive understood). Raises
/// `ConfigUnavailable` in builds without the ntp-config crate.
#[pyfunction]
fn check_config(path: &str) -> PyResult<Vec<String>> {
    Err(ConfigUnavailable::new_err(format!(
        "cannot check {path}: configuration-file support (the ntp-config crate) is not built into this version of ntp-py"
    )))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CONFIG_AVAILABLE", CONFIG_AVAILABLE)?;
    m.add_function(wrap_pyfunction!(check_config, m)?)
}
