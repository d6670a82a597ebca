//! The client exchange of RFC 5905 §8 for one request: `ClientRequest`
//! builds and stamps the request, and `check_reply` runs every check a
//! client owes the reply before it computes offset and delay. The sockets
//! (blocking and asyncio) live in the Python package.
//!
//! Checks, in order: structure; mode 4; the origin timestamp equals our
//! transmit time (which rejects stale, duplicate and forged replies); the
//! MAC when a key was used; kiss-o'-death (acted on only after the origin
//! and MAC checks, as RFC 5905 §7.4 requires); leap indicator 3 or stratum
//! 16 and up; zero receive or transmit timestamps.

use std::time::SystemTime;

use ntp_wire::auth::{self, Key};
use ntp_wire::{KissCode, LeapIndicator, Mode, NtpTimestamp, Packet, Repr, Version};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::auth::PyKey;
use crate::errors::{CryptoNak, InvalidReply, NotSynchronized, OriginMismatch, auth_error, kiss_of_death, parse_error};
use crate::packet::{PyLeap, packet_object, reference_id_object};
use crate::timestamp::{PyTimestamp, timestamp_from_any};

/// One client request (mode 3) and the validation of its reply. Call
/// `stamp()` right before sending: it sets the transmit time from the
/// system clock (read, never set) and signs when a key is given.
#[pyclass(module = "ntp_py._ntp_py", name = "ClientRequest")]
pub(crate) struct PyClientRequest {
    version: Version,
    key: Option<Key>,
    sent: Option<NtpTimestamp>,
}

/// What the server said and what it means for our clock.
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "Reply")]
pub(crate) struct PyReply {
    /// Offset of the server's clock from ours, seconds (positive: ours is behind).
    #[pyo3(get)]
    offset: f64,
    /// Round-trip delay, seconds, without the server's processing time.
    #[pyo3(get)]
    delay: f64,
    /// Root distance for this one sample, seconds: half the total
    /// round trip to the primary source plus its dispersion.
    #[pyo3(get)]
    root_distance: f64,
    /// The server's stratum.
    #[pyo3(get)]
    stratum: u8,
    /// The server's leap indicator.
    #[pyo3(get)]
    leap: PyLeap,
    /// The server's reference id (see `Packet.reference_id`).
    #[pyo3(get)]
    reference_id: Py<PyAny>,
    /// Root delay, seconds, as the server reports it.
    #[pyo3(get)]
    root_delay: f64,
    /// Root dispersion, seconds, as the server reports it.
    #[pyo3(get)]
    root_dispersion: f64,
    /// T1: our transmit time.
    #[pyo3(get)]
    originate_time: PyTimestamp,
    /// T2: when the server received the request.
    #[pyo3(get)]
    receive_time: PyTimestamp,
    /// T3: when the server sent the reply.
    #[pyo3(get)]
    transmit_time: PyTimestamp,
    /// T4: when we received the reply.
    #[pyo3(get)]
    destination_time: PyTimestamp,
    /// The id of the key that authenticated the reply, or None.
    #[pyo3(get)]
    key_id: Option<u32>,
    /// The reply packet.
    #[pyo3(get)]
    packet: Py<PyAny>,
}

/// What a kiss code asks of the client (RFC 5905 §7.4), for the message.
fn kiss_meaning(code: KissCode) -> &'static str {
    match code {
        KissCode::Rate => "the server rate-limits us: poll less often",
        KissCode::Deny | KissCode::Rstr => "the server denies us access: stop querying it",
        KissCode::Auth | KissCode::Nkey | KissCode::Cryp => "the server failed to authenticate our request",
        KissCode::Init | KissCode::Step => "the server's clock is not ready yet",
        _ => "the server refused to serve time",
    }
}

/// `a - b` in seconds, era-safe (RFC 5905 §6: both within 68 years).
fn diff(a: NtpTimestamp, b: NtpTimestamp) -> f64 {
    a.wrapping_sub(b).to_seconds_f64()
}

#[pymethods]
impl PyClientRequest {
    /// A request with this NTP version (1–4), signed with `key` if given.
    #[new]
    #[pyo3(signature = (version = 4, key = None))]
    fn new(version: u8, key: Option<PyRef<'_, PyKey>>) -> PyResult<Self> {
        if !(1..=4).contains(&version) {
            return Err(PyValueError::new_err(format!("version must be 1, 2, 3 or 4, not {version}")));
        }
        Ok(PyClientRequest { version: Version::from_bits(version), key: key.map(|k| k.key.clone()), sent: None })
    }

    /// The request's bytes with the transmit time set to now (T1); sends
    /// of the same request must each call this again.
    fn stamp<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let now = NtpTimestamp::from_system_time(SystemTime::now());
        let repr = Repr { mode: Mode::Client, version: self.version, transmit_time: now, ..Repr::default() };
        let mac_len = self.key.as_ref().map_or(0, Key::mac_len);
        let mut buf = vec![0u8; repr.buffer_len() + mac_len];
        let mut len = repr.emit_into(&mut buf).map_err(parse_error)?;
        if let Some(key) = &self.key {
            len = auth::sign(&mut buf, len, key).map_err(parse_error)?;
        }
        self.sent = Some(now);
        Ok(PyBytes::new(py, buf.get(..len).unwrap_or(&[])))
    }

    /// T1 of the last `stamp()`, or None before the first.
    #[getter]
    fn transmit_time(&self) -> Option<PyTimestamp> {
        self.sent.map(|ts| PyTimestamp { ts, era: None })
    }

    /// Validates a reply and computes offset and delay. `received_at`
    /// (T4) defaults to now. Raises `ParseError`, `InvalidReply`,
    /// `OriginMismatch` (keep waiting: it is not the answer to this
    /// request), an `AuthenticationError` subclass, `KissOfDeath` or
    /// `NotSynchronized`.
    #[pyo3(signature = (data, received_at = None))]
    fn check_reply(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        received_at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyReply> {
        let t4 = match received_at {
            Some(v) if !v.is_none() => timestamp_from_any(v)?.ts,
            _ => NtpTimestamp::from_system_time(SystemTime::now()),
        };
        let Some(t1) = self.sent else {
            return Err(PyValueError::new_err("stamp() the request before checking a reply to it"));
        };
        let bytes = data.as_bytes();
        let packet = Packet::new_checked(bytes).map_err(parse_error)?;
        let repr = Repr::parse(&packet).map_err(parse_error)?;
        if repr.mode != Mode::Server {
            return Err(InvalidReply::new_err(format!(
                "the reply is in mode {} ({}); a server answers in mode 4",
                repr.mode.to_bits(),
                repr.mode
            )));
        }
        if repr.origin_time != t1 {
            return Err(OriginMismatch::new_err(format!(
                "the reply's origin timestamp 0x{:016x} is not our transmit time 0x{:016x}: a stale, duplicate or forged reply",
                repr.origin_time.to_bits(),
                t1.to_bits()
            )));
        }
        let key_id = match &self.key {
            Some(key) => {
                if auth::is_crypto_nak(bytes) {
                    return Err(CryptoNak::new_err(
                        "the reply is a crypto-NAK: the server could not authenticate our request (wrong key id, type or secret?)",
                    ));
                }
                Some(auth::verify(bytes, key).map_err(|e| auth_error(py, e))?.id())
            }
            None => None,
        };
        if let Some(code) = repr.kiss_code() {
            let text = code.to_string();
            let message = format!("kiss-o'-death {text}: {}", kiss_meaning(code));
            return Err(kiss_of_death(py, &text, message));
        }
        if repr.leap == LeapIndicator::Unsynchronized || !repr.stratum.is_synchronized() {
            return Err(NotSynchronized::new_err(format!(
                "the server is not synchronized (leap indicator {}, stratum {})",
                repr.leap.to_bits(),
                repr.stratum.0
            )));
        }
        if repr.receive_time.is_zero() || repr.transmit_time.is_zero() {
            return Err(InvalidReply::new_err("the reply's receive or transmit timestamp is zero"));
        }
        let (t2, t3) = (repr.receive_time, repr.transmit_time);
        // RFC 5905 §8: offset and delay from the four timestamps.
        let offset = (diff(t2, t1) + diff(t3, t4)) / 2.0;
        let delay = diff(t4, t1) - diff(t3, t2);
        let root_delay = repr.root_delay.to_seconds_f64();
        let root_dispersion = repr.root_dispersion.to_seconds_f64();
        // RFC 5905 §A.5.5.2 root_dist() for a single sample: no clock
        // filter, so no filter dispersion or jitter; the server's
        // precision stands in for the sample's own dispersion.
        let root_distance = (root_delay + delay.max(0.0)) / 2.0 + root_dispersion + 2f64.powi(repr.precision.into());
        let reference_id = reference_id_object(py, repr.reference_id, repr.stratum)?.unbind();
        let packet = packet_object(data)?.unbind();
        Ok(PyReply {
            offset,
            delay,
            root_distance,
            stratum: repr.stratum.0,
            leap: repr.leap.into(),
            reference_id,
            root_delay,
            root_dispersion,
            originate_time: PyTimestamp::wire(t1),
            receive_time: PyTimestamp::wire(t2),
            transmit_time: PyTimestamp::wire(t3),
            destination_time: PyTimestamp::wire(t4),
            key_id,
            packet,
        })
    }
}

#[pymethods]
impl PyReply {
    fn __repr__(&self, py: Python<'_>) -> String {
        let refid = self.reference_id.bind(py).str().map(|s| s.to_string()).unwrap_or_default();
        format!(
            "Reply(offset={:+.6}, delay={:.6}, stratum={}, reference_id={refid}, leap={:?})",
            self.offset, self.delay, self.stratum, self.leap
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyClientRequest>()?;
    m.add_class::<PyReply>()
}
