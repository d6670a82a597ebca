//! Symmetric-key authentication: `Key`, `Keyring`, `sign`, `verify`, and
//! key files in both operators' dialects (ntpd/NTPsec `ntp.keys`, chrony
//! `chrony.keys`). The MACs, the key-file grammar and every error come
//! from `ntp_wire::auth`.

use ntp_wire::auth::{self, Key, KeyType, Keyring, parse_chrony_keys, parse_ntp_keys};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::{InvalidKey, auth_error, key_error, key_file_error, parse_error};

/// A symmetric key: id (1..2^32-1), type and secret. The secret is never
/// shown by `repr` and is wiped from memory when the key is freed.
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "Key")]
#[derive(Clone)]
pub(crate) struct PyKey {
    pub(crate) key: Key,
}

fn key_type_arg(name: &str) -> PyResult<KeyType> {
    KeyType::from_name(name).ok_or_else(|| {
        InvalidKey::new_err(format!(
            "unknown key type {name:?}; expected MD5, SHA1, SHA256, SHA384, SHA512, AES128 or AES256"
        ))
    })
}

/// The key-file dialect: an explicit name, or a guess from the text.
/// The guess is chrony's when any key is tagged `HEX:`/`ASCII:` or a key
/// line has only two fields (chrony's type defaults to MD5), both of which
/// ntpd rejects; otherwise ntpd's. The two differ on an untagged 40-digit
/// key (ntpd: 20 hex bytes; chrony: 40 ASCII characters), so pass the
/// dialect when the file has no tags.
fn dialect_of(text: &str, dialect: &str) -> PyResult<bool> {
    match dialect {
        "chrony" => Ok(true),
        "ntp" | "ntpd" | "ntpsec" => Ok(false),
        "auto" => Ok(text.lines().any(|line| {
            let line = line.split('#').next().unwrap_or("");
            let fields: Vec<&str> = line.split_whitespace().collect();
            let tagged = fields.last().is_some_and(|f| {
                let f = f.to_ascii_uppercase();
                f.starts_with("HEX:") || f.starts_with("ASCII:")
            });
            tagged || fields.len() == 2
        })),
        other => Err(PyValueError::new_err(format!("unknown key file dialect {other:?}; use auto, chrony or ntp"))),
    }
}

fn keyring_from_text(origin: &str, text: &str, dialect: &str, trusted: Option<&str>) -> PyResult<Keyring> {
    let chrony = dialect_of(text, dialect)?;
    let mut ring = if chrony { Keyring::from_chrony_keys(text) } else { Keyring::from_ntp_keys(text) }
        .map_err(|e| key_file_error(origin, e))?;
    match trusted {
        Some(list) => {
            // Start from nothing trusted, so the list is the whole truth.
            let ids: Vec<u32> = ring.iter().map(|(key, _)| key.id()).collect();
            for id in ids {
                ring.set_trusted(id, false);
            }
            ring.trust_list(list).map_err(|e| PyValueError::new_err(format!("trusted key list: {e}")))?;
        }
        None => {
            // ntp.keys carries no trust of its own (ntpd's `trustedkey`
            // lives in ntp.conf); a Python caller handing us the file means
            // to use its keys.
            let ids: Vec<u32> = ring.iter().map(|(key, _)| key.id()).collect();
            for id in ids {
                ring.set_trusted(id, true);
            }
        }
    }
    Ok(ring)
}

#[pymethods]
impl PyKey {
    /// A key from its id, type name (MD5, SHA1, SHA256, SHA384, SHA512,
    /// AES128, AES256, and the other spellings ntpd, NTPsec and chrony
    /// accept) and secret (bytes, or a str used as its UTF-8 bytes).
    #[new]
    fn new(id: u32, r#type: &str, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let key_type = key_type_arg(r#type)?;
        let key = if let Ok(text) = secret.cast::<PyString>() {
            Key::new(id, key_type, text.extract::<String>()?.as_bytes())
        } else if let Ok(bytes) = secret.cast::<PyBytes>() {
            Key::new(id, key_type, bytes.as_bytes())
        } else {
            return Err(PyTypeError::new_err("the secret must be bytes or str"));
        };
        Ok(PyKey { key: key.map_err(key_error)? })
    }

    /// A key whose secret is given in hexadecimal.
    #[staticmethod]
    fn from_hex(id: u32, r#type: &str, hex: &str) -> PyResult<Self> {
        let key_type = key_type_arg(r#type)?;
        let digits = hex.trim().as_bytes();
        if digits.len() % 2 != 0 {
            return Err(InvalidKey::new_err(format!("the hex secret has an odd number of digits ({})", digits.len())));
        }
        let mut secret = Vec::with_capacity(digits.len() / 2);
        for (i, pair) in digits.chunks(2).enumerate() {
            let text = core::str::from_utf8(pair).ok();
            match text.and_then(|t| u8::from_str_radix(t, 16).ok()) {
                Some(byte) => secret.push(byte),
                None => {
                    return Err(InvalidKey::new_err(format!(
                        "the secret is not hexadecimal (digits {}-{})",
                        2 * i + 1,
                        2 * i + 2
                    )));
                }
            }
        }
        let key = Key::new(id, key_type, &secret).map_err(key_error);
        // Best effort: the copy we made should not outlive the call.
        secret.iter_mut().for_each(|b| *b = 0);
        Ok(PyKey { key: key? })
    }

    /// A key from one key-file line, e.g. `1 AES128 HEX:...` (chrony) or
    /// `1 SHA1 0123...` (ntp).
    #[staticmethod]
    #[pyo3(signature = (line, dialect = "chrony"))]
    fn parse(line: &str, dialect: &str) -> PyResult<Self> {
        let chrony = dialect_of(line, dialect)?;
        let found = if chrony { parse_chrony_keys(line).next() } else { parse_ntp_keys(line).next() };
        match found {
            Some(Ok((_, key))) => Ok(PyKey { key }),
            Some(Err(e)) => Err(key_file_error("key", e)),
            None => Err(InvalidKey::new_err("the line holds no key (empty or a comment)")),
        }
    }

    /// The key id.
    #[getter]
    fn id(&self) -> u32 {
        self.key.id()
    }

    /// The type's name as chrony writes it (MD5, SHA1, ..., AES128, AES256).
    #[getter]
    fn r#type(&self) -> &'static str {
        self.key.key_type().name()
    }

    /// Bytes of digest on the wire (16 or 20).
    #[getter]
    fn digest_len(&self) -> usize {
        self.key.digest_len()
    }

    /// Bytes of the whole MAC: key id plus digest (20 or 24).
    #[getter]
    fn mac_len(&self) -> usize {
        self.key.mac_len()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyKey>().is_ok_and(|o| o.get().key == self.key)
    }

    fn __hash__(&self) -> u32 {
        self.key.id()
    }

    fn __repr__(&self) -> String {
        format!("Key(id={}, type={:?}, secret=<redacted>)", self.key.id(), self.key.key_type().name())
    }
}

/// A set of keys, each trusted or not (ntpd's `trustedkey` model: a
/// configured key that is not trusted is recognised but refused).
#[pyclass(module = "ntp_py._ntp_py", name = "Keyring")]
#[derive(Clone, Default)]
pub(crate) struct PyKeyring {
    pub(crate) ring: Keyring,
}

#[pymethods]
impl PyKeyring {
    /// A keyring holding `keys`, all trusted.
    #[new]
    #[pyo3(signature = (keys = Vec::new()))]
    fn new(keys: Vec<PyRef<'_, PyKey>>) -> Self {
        let mut ring = Keyring::new();
        for key in keys {
            ring.insert(key.key.clone(), true);
        }
        PyKeyring { ring }
    }

    /// Reads a key file. `dialect` is "chrony", "ntp" or "auto" (see
    /// `from_text`). `trusted`, a `trustedkey`-style list such as
    /// "1 3-5", limits which keys are trusted; by default all are.
    #[staticmethod]
    #[pyo3(signature = (path, *, dialect = "auto", trusted = None))]
    fn from_file(path: &Bound<'_, PyAny>, dialect: &str, trusted: Option<&str>) -> PyResult<Self> {
        let path_str: String = path.py().import("os")?.call_method1("fspath", (path,))?.extract()?;
        let text = std::fs::read_to_string(&path_str)
            .map_err(|e| PyOSError::new_err(format!("cannot read key file {path_str}: {e}")))?;
        Ok(PyKeyring { ring: keyring_from_text(&path_str, &text, dialect, trusted)? })
    }

    /// Reads key-file text. With dialect "auto", the file is chrony's if
    /// any key is tagged HEX:/ASCII: or has no type column, else ntpd's.
    #[staticmethod]
    #[pyo3(signature = (text, *, dialect = "auto", trusted = None))]
    fn from_text(text: &str, dialect: &str, trusted: Option<&str>) -> PyResult<Self> {
        Ok(PyKeyring { ring: keyring_from_text("<text>", text, dialect, trusted)? })
    }

    /// Adds a key (replacing one with the same id).
    #[pyo3(signature = (key, trusted = true))]
    fn add(&mut self, key: PyRef<'_, PyKey>, trusted: bool) {
        self.ring.insert(key.key.clone(), trusted);
    }

    /// The key with this id, or None.
    fn get(&self, key_id: u32) -> Option<PyKey> {
        self.ring.get(key_id).map(|key| PyKey { key: key.clone() })
    }

    /// Whether a key with this id exists and is trusted.
    fn is_trusted(&self, key_id: u32) -> bool {
        self.ring.is_trusted(key_id)
    }

    /// Trusts or distrusts a key; False if there is no such key.
    fn set_trusted(&mut self, key_id: u32, trusted: bool) -> bool {
        self.ring.set_trusted(key_id, trusted)
    }

    /// The key ids, in the ring's order.
    fn ids(&self) -> Vec<u32> {
        self.ring.iter().map(|(key, _)| key.id()).collect()
    }

    fn __len__(&self) -> usize {
        self.ring.len()
    }

    fn __contains__(&self, key_id: u32) -> bool {
        self.ring.get(key_id).is_some()
    }

    fn __repr__(&self) -> String {
        format!("Keyring(ids={:?})", self.ids())
    }
}

/// `data` (a header and any extension fields) with a MAC appended.
#[pyfunction]
pub(crate) fn sign<'py>(py: Python<'py>, data: &[u8], key: PyRef<'_, PyKey>) -> PyResult<Bound<'py, PyBytes>> {
    let mut buf = vec![0u8; data.len() + key.key.mac_len()];
    if let Some(head) = buf.get_mut(..data.len()) {
        head.copy_from_slice(data);
    }
    let len = auth::sign(&mut buf, data.len(), &key.key).map_err(parse_error)?;
    Ok(PyBytes::new(py, buf.get(..len).unwrap_or(&[])))
}

/// Checks the MAC of a packet against a `Keyring` (or one `Key`) and
/// returns the key that signed it; raises `NoMac`, `CryptoNak`,
/// `UnknownKey`, `UntrustedKey`, `BadMac` or `ParseError` otherwise.
#[pyfunction]
pub(crate) fn verify(py: Python<'_>, data: &[u8], keys: &Bound<'_, PyAny>) -> PyResult<PyKey> {
    if let Ok(ring) = keys.cast::<PyKeyring>() {
        let ring = ring.borrow();
        let key = auth::verify(data, &ring.ring).map_err(|e| auth_error(py, e))?;
        return Ok(PyKey { key: key.clone() });
    }
    if let Ok(key) = keys.cast::<PyKey>() {
        let key = auth::verify(data, &key.get().key).map_err(|e| auth_error(py, e))?;
        return Ok(PyKey { key: key.clone() });
    }
    Err(PyTypeError::new_err("keys must be a Keyring or a Key"))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKey>()?;
    m.add_class::<PyKeyring>()?;
    m.add_function(wrap_pyfunction!(sign, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)
}

#[cfg(test)]
mod tests {
    use super::dialect_of;

    #[test]
    fn test_dialect_guess() {
        let chrony_tagged = "# comment\n1 SHA1 HEX:00FF\n";
        let chrony_untyped = "10 tulip\n";
        let ntp = "1 MD5 secret # note\n2 SHA1 933F62BE1D604E68A81B557F18CFA200483F5B70\n";
        assert!(matches!(dialect_of(chrony_tagged, "auto"), Ok(true)));
        assert!(matches!(dialect_of(chrony_untyped, "auto"), Ok(true)));
        assert!(matches!(dialect_of(ntp, "auto"), Ok(false)));
        assert!(matches!(dialect_of(ntp, "chrony"), Ok(true)));
        assert!(matches!(dialect_of(chrony_tagged, "ntpsec"), Ok(false)));
        assert!(dialect_of(ntp, "openntpd").is_err());
    }
}
