//! The exception hierarchy, and the mapping of the Rust crates' error
//! enums onto it. Messages are the crates' own `Display` texts, which say
//! why (offsets, lengths, key ids) and never show a secret.

use ntp_wire::auth::{AuthError, KeyError, KeyFileError as WireKeyFileError};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTimeoutError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

create_exception!(_ntp_py, NtpError, PyException, "Base class of every error this package raises on purpose.");
create_exception!(
    _ntp_py,
    ParseError,
    NtpError,
    "Bytes that are not a well-formed NTP packet, or a refused configuration line."
);
create_exception!(_ntp_py, InvalidKey, NtpError, "A key that cannot be made: bad id, type, or secret length.");
create_exception!(_ntp_py, KeyFileError, NtpError, "A key file line that cannot be read (the message names the line).");
create_exception!(
    _ntp_py,
    AuthenticationError,
    NtpError,
    "A packet that does not authenticate; the subclass says why."
);
create_exception!(_ntp_py, NoMac, AuthenticationError, "The packet carries no MAC.");
create_exception!(
    _ntp_py,
    CryptoNak,
    AuthenticationError,
    "The packet is a crypto-NAK: the sender could not authenticate our request."
);
create_exception!(_ntp_py, UnknownKey, AuthenticationError, "The MAC names a key id that is not configured.");
create_exception!(_ntp_py, UntrustedKey, AuthenticationError, "The MAC names a configured key that is not trusted.");
create_exception!(
    _ntp_py,
    BadMac,
    AuthenticationError,
    "The MAC does not match: wrong secret, wrong type, or an altered packet."
);
create_exception!(_ntp_py, InvalidReply, NtpError, "A reply that fails a validity check (mode, zero timestamps).");
create_exception!(
    _ntp_py,
    OriginMismatch,
    InvalidReply,
    "A reply whose origin timestamp is not our request's transmit time (stale, duplicate or forged)."
);
create_exception!(
    _ntp_py,
    KissOfDeath,
    NtpError,
    "The server sent a kiss-o'-death; the code is in `.code` (e.g. 'RATE', 'DENY')."
);
create_exception!(
    _ntp_py,
    NotSynchronized,
    NtpError,
    "The server says its clock is not synchronized (leap indicator 3 or stratum 16)."
);
create_exception!(_ntp_py, ControlError, NtpError, "A mode 6 (ntpq) exchange that failed; the subclass says why.");
create_exception!(
    _ntp_py,
    ServerError,
    ControlError,
    "The server answered a mode 6 request with an error status; the code is in `.code` (e.g. 1 permission denied, 4 unknown association)."
);
create_exception!(
    _ntp_py,
    MalformedResponse,
    ControlError,
    "A mode 6 response whose data cannot be read (a bad variable list or value)."
);
create_exception!(
    _ntp_py,
    ConfigUnavailable,
    NtpError,
    "Configuration-file support (the ntp-config crate) is not built into this package yet."
);

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("NtpError", py.get_type::<NtpError>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
    m.add("InvalidKey", py.get_type::<InvalidKey>())?;
    m.add("KeyFileError", py.get_type::<KeyFileError>())?;
    m.add("AuthenticationError", py.get_type::<AuthenticationError>())?;
    m.add("NoMac", py.get_type::<NoMac>())?;
    m.add("CryptoNak", py.get_type::<CryptoNak>())?;
    m.add("UnknownKey", py.get_type::<UnknownKey>())?;
    m.add("UntrustedKey", py.get_type::<UntrustedKey>())?;
    m.add("BadMac", py.get_type::<BadMac>())?;
    m.add("InvalidReply", py.get_type::<InvalidReply>())?;
    m.add("OriginMismatch", py.get_type::<OriginMismatch>())?;
    m.add("KissOfDeath", py.get_type::<KissOfDeath>())?;
    m.add("NotSynchronized", py.get_type::<NotSynchronized>())?;
    m.add("ControlError", py.get_type::<ControlError>())?;
    m.add("ServerError", py.get_type::<ServerError>())?;
    m.add("MalformedResponse", py.get_type::<MalformedResponse>())?;
    let timeout = timeout_type(py)?;
    m.add("Timeout", &timeout)?;
    let _ = TIMEOUT.set(py, timeout.unbind());
    m.add("ConfigUnavailable", py.get_type::<ConfigUnavailable>())?;
    Ok(())
}

/// `Timeout` derives from both `NtpError` and the built-in `TimeoutError`,
/// so `except TimeoutError` (and asyncio's) catches it too. pyo3's
/// `create_exception!` takes one base, so the class is made with `type()`;
/// it is kept in `TIMEOUT` so the Rust side can raise it too.
fn timeout_type(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let bases = (py.get_type::<NtpError>(), py.get_type::<PyTimeoutError>());
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "ntp_py._ntp_py")?;
    namespace.set_item("__doc__", "No valid reply arrived in time.")?;
    py.import("builtins")?.getattr("type")?.call1(("Timeout", bases, namespace))
}

/// The `Timeout` class, for raising it from Rust.
static TIMEOUT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A `Timeout` with this message.
pub(crate) fn timeout_error(message: &'static str) -> PyErr {
    Python::attach(|py| match TIMEOUT.get(py) {
        Some(class) => match class.bind(py).call1((message,)) {
            Ok(value) => PyErr::from_value(value),
            Err(e) => e,
        },
        None => PyTimeoutError::new_err(message),
    })
}

/// A decode error from ntp-wire.
pub(crate) fn parse_error(err: ntp_wire::Error) -> PyErr {
    ParseError::new_err(err.to_string())
}

/// A key construction error.
pub(crate) fn key_error(err: KeyError) -> PyErr {
    InvalidKey::new_err(err.to_string())
}

/// A key file error (names the line, never the secret).
pub(crate) fn key_file_error(path: &str, err: WireKeyFileError) -> PyErr {
    KeyFileError::new_err(format!("{path}: {err}"))
}

/// The exception for each reason `verify` gives. The key id, where there
/// is one, is also set as the `key_id` attribute.
pub(crate) fn auth_error(py: Python<'_>, err: AuthError) -> PyErr {
    let message = err.to_string();
    let (pyerr, key_id) = match err {
        AuthError::Malformed(e) => (parse_error(e), None),
        AuthError::NoMac => (NoMac::new_err(message), None),
        AuthError::CryptoNak => (CryptoNak::new_err(message), None),
        AuthError::UnknownKey { key_id } => (UnknownKey::new_err(message), Some(key_id)),
        AuthError::UntrustedKey { key_id } => (UntrustedKey::new_err(message), Some(key_id)),
        AuthError::DigestLength { key_id, .. } | AuthError::BadMac { key_id } => {
            (BadMac::new_err(message), Some(key_id))
        }
        _ => (AuthenticationError::new_err(message), None),
    };
    if let Some(id) = key_id {
        // Setting an attribute on a fresh exception cannot fail in practice;
        // if it did, the message still names the key id.
        let _ = pyerr.value(py).setattr("key_id", id);
    }
    pyerr
}

/// A kiss-o'-death, with its four-letter code as the `code` attribute.
pub(crate) fn kiss_of_death(py: Python<'_>, code: &str, message: String) -> PyErr {
    let err = KissOfDeath::new_err(message);
    let _ = err.value(py).setattr("code", code);
    err
}
