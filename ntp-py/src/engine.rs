//! The sans-IO engine for Python: `Engine` wraps `ntp_algo::Engine` with
//! the same shape (`handle_datagram`, `handle_timeout`, `poll_output`), and
//! each output becomes a small typed object. Only `ntp_algo`'s root names
//! are used, and configs are built from `Default` and constructors, so
//! this module is the one place to adapt when that API moves.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use ntp_algo::{AssociationConfig, ClockAction, Engine, EngineConfig, Output, RateLimitConfig};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::auth::PyKeyring;
use crate::packet::{PyLeap, reference_id_object};
use crate::timestamp::{PyTimestamp, timestamp_from_any};

/// Output: send `data` to `destination` (host, port).
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "Transmit")]
pub(crate) struct PyTransmit {
    /// Where to send it: (address, port).
    #[pyo3(get)]
    destination: (String, u16),
    /// The datagram.
    #[pyo3(get)]
    data: Py<PyBytes>,
}

/// Output: step the clock by `offset` seconds (add it to the time).
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "Step")]
pub(crate) struct PyStep {
    /// Seconds; positive means the clock is behind.
    #[pyo3(get)]
    offset: f64,
}

/// Output: run the clock with this frequency correction from now on.
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "SetFrequency")]
pub(crate) struct PySetFrequency {
    /// Parts per million; positive runs the clock faster.
    #[pyo3(get)]
    ppm: f64,
}

/// Output: something happened (an association was mobilized, a source
/// became reachable, a packet was rejected, ...).
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "EngineEvent")]
pub(crate) struct PyEngineEvent {
    /// The event's name, e.g. "Reachable", "KissOfDeath", "PacketRejected".
    #[pyo3(get)]
    kind: String,
    /// The event with its details, as text.
    #[pyo3(get)]
    description: String,
}

/// Output: nothing more to do; call `handle_timeout` at `deadline` (or
/// earlier, with a datagram).
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "TimeoutAt")]
pub(crate) struct PyTimeoutAt {
    /// When.
    #[pyo3(get)]
    deadline: PyTimestamp,
}

/// The system variables (RFC 5905 §11.2) at the moment of asking.
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "SystemInfo")]
pub(crate) struct PySystemInfo {
    /// Whether the engine has a synchronization source.
    #[pyo3(get)]
    synchronized: bool,
    /// Stratum (16: unsynchronized).
    #[pyo3(get)]
    stratum: u8,
    /// Leap indicator.
    #[pyo3(get)]
    leap: PyLeap,
    /// Combined offset of the last clock update, seconds.
    #[pyo3(get)]
    offset: f64,
    /// System jitter, seconds.
    #[pyo3(get)]
    jitter: f64,
    /// Root delay, seconds.
    #[pyo3(get)]
    root_delay: f64,
    /// Root dispersion, seconds.
    #[pyo3(get)]
    root_dispersion: f64,
    /// Reference id, as `Packet.reference_id`.
    #[pyo3(get)]
    reference_id: Py<PyAny>,
    /// System poll interval, log2 seconds.
    #[pyo3(get)]
    poll: i8,
    /// Whether the engine answers NTS requests (RFC 8915 §5).
    #[pyo3(get)]
    nts_server: bool,
    /// The id of the NTS master key sealing new cookies (None: no NTS service).
    #[pyo3(get)]
    nts_master_key_id: Option<u32>,
}

/// One association's state at the moment of asking (a subset of the
/// NTPv4 MIB's association group).
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "AssociationInfo")]
pub(crate) struct PyAssociationInfo {
    /// Association id.
    #[pyo3(get)]
    id: u32,
    /// Remote (address, port).
    #[pyo3(get)]
    address: (String, u16),
    /// Reachability register, 8 bits, newest poll in bit 0.
    #[pyo3(get)]
    reach: u8,
    /// Poll interval, log2 seconds.
    #[pyo3(get)]
    poll: i8,
    /// Whether it authenticates with NTS (RFC 8915).
    #[pyo3(get)]
    nts: bool,
    /// NTS cookies held (0 without NTS or while waiting for NTS-KE).
    #[pyo3(get)]
    nts_cookies: usize,
}

/// One NTP node, sans IO: it opens no socket and reads no clock. Pass the
/// current time with every call and drain `poll_output()` until it returns
/// a `TimeoutAt`.
#[pyclass(module = "ntp_py._ntp_py", name = "Engine")]
pub(crate) struct PyEngine {
    engine: Engine,
}

impl PyEngine {
    /// Wraps an engine built elsewhere (from a configuration file).
    pub(crate) fn wrap(engine: Engine) -> Self {
        PyEngine { engine }
    }
}

fn socket_addr(host: &str, port: u16) -> PyResult<SocketAddr> {
    let ip: IpAddr = host
        .parse()
        .map_err(|_| PyValueError::new_err(format!("{host:?} is not an IP address (resolve names first)")))?;
    Ok(SocketAddr::new(ip, port))
}

fn now_arg(now: Option<&Bound<'_, PyAny>>) -> PyResult<ntp_wire::NtpTimestamp> {
    match now {
        Some(v) if !v.is_none() => Ok(timestamp_from_any(v)?.ts),
        _ => Ok(PyTimestamp::now_date().timestamp()),
    }
}

/// The variant name of an event, from its `Debug` form: robust against
/// variants being added to `ntp_algo::Event`.
fn event_kind(description: &str) -> String {
    description.split([' ', '(', '{']).next().unwrap_or("").to_owned()
}

#[pymethods]
impl PyEngine {
    /// A node. `local_stratum` makes it serve its own clock at that
    /// stratum (1 for a reference); `keyring` holds the keys its
    /// associations and clients may use; `now` is the current time
    /// (NtpTimestamp, datetime or Unix seconds; default: the system clock).
    /// `rate_limit_burst` turns on per-client rate limiting of the server
    /// side (ntpd's `limited`): that many requests back to back, then one
    /// per 2^`rate_limit_average` s and none closer than
    /// 2^`rate_limit_minimum` s; excess requests get a KoD RATE.
    #[new]
    #[pyo3(signature = (
        *, keyring = None, local_stratum = None, precision = None, require_authentication = false,
        rate_limit_burst = None, rate_limit_average = 3, rate_limit_minimum = 1, now = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        keyring: Option<PyRef<'_, PyKeyring>>,
        local_stratum: Option<u8>,
        precision: Option<i8>,
        require_authentication: bool,
        rate_limit_burst: Option<u32>,
        rate_limit_average: i8,
        rate_limit_minimum: i8,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if let Some(s) = local_stratum
            && !(1..=15).contains(&s)
        {
            return Err(PyValueError::new_err(format!("local_stratum must be in 1..=15, not {s}")));
        }
        // Field by field on purpose: EngineConfig is becoming
        // #[non_exhaustive], which rules out struct literals outside ntp-algo.
        #[allow(clippy::field_reassign_with_default)]
        let config = {
            let mut config = EngineConfig::default();
            config.local_reference_stratum = local_stratum;
            if let Some(p) = precision {
                config.precision = p;
            }
            config.require_authentication = require_authentication;
            if let Some(burst) = rate_limit_burst {
                let mut limit = RateLimitConfig::default();
                limit.burst = burst;
                limit.average_log2 = rate_limit_average;
                limit.minimum_log2 = rate_limit_minimum;
                config.responder.rate_limit = Some(limit);
            }
            config
        };
        let keys = keyring.map(|k| k.ring.clone()).unwrap_or_default();
        Ok(PyEngine { engine: Engine::new(config, keys, now_arg(now)?) })
    }

    /// Adds a server to poll (client mode) and returns the association id.
    /// `address` must be an IP address; `key_id` must be in the keyring.
    #[pyo3(signature = (address, port = 123, *, key_id = None, iburst = false, min_poll = None, max_poll = None, now = None))]
    #[allow(clippy::too_many_arguments)]
    fn add_server(
        &mut self,
        address: &str,
        port: u16,
        key_id: Option<u32>,
        iburst: bool,
        min_poll: Option<i8>,
        max_poll: Option<i8>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u32> {
        let mut config = AssociationConfig::client(socket_addr(address, port)?).with_iburst(iburst);
        if let Some(id) = key_id {
            config = config.with_key(id);
        }
        if min_poll.is_some() || max_poll.is_some() {
            let min = min_poll.unwrap_or(config.min_poll);
            let max = max_poll.unwrap_or(config.max_poll);
            config = config.with_poll(min, max);
        }
        let id = self
            .engine
            .add_association(config, now_arg(now)?)
            .map_err(|e| PyValueError::new_err(format!("cannot add {address} port {port}: {e}")))?;
        Ok(id.0)
    }

    /// A datagram `data` arrived from `source` (address, port) at `now`.
    fn handle_datagram(&mut self, now: &Bound<'_, PyAny>, source: (String, u16), data: &[u8]) -> PyResult<()> {
        let addr = socket_addr(&source.0, source.1)?;
        self.engine.handle_datagram(timestamp_from_any(now)?.ts, addr, data);
        Ok(())
    }

    /// The clock reached `now` (call at the last `TimeoutAt` deadline).
    fn handle_timeout(&mut self, now: &Bound<'_, PyAny>) -> PyResult<()> {
        self.engine.handle_timeout(timestamp_from_any(now)?.ts);
        Ok(())
    }

    /// The next output: `Transmit`, `Step`, `SetFrequency`, `EngineEvent`,
    /// or `TimeoutAt` when there is nothing more to do.
    fn poll_output(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        // An output kind this binding does not know (a newer engine) carries
        // nothing a Python caller could act on: skip it.
        let obj = loop {
            break match self.engine.poll_output() {
                Output::Transmit(t) => Py::new(
                    py,
                    PyTransmit {
                        destination: (t.destination.ip().to_string(), t.destination.port()),
                        data: PyBytes::new(py, t.payload()).unbind(),
                    },
                )?
                .into_any(),
                Output::Clock(ClockAction::Step { offset }) => Py::new(py, PyStep { offset })?.into_any(),
                Output::Clock(ClockAction::SetFrequency { ppm }) => Py::new(py, PySetFrequency { ppm })?.into_any(),
                Output::Event(event) => {
                    let description = format!("{event:?}");
                    Py::new(py, PyEngineEvent { kind: event_kind(&description), description })?.into_any()
                }
                Output::Timeout(at) => Py::new(py, PyTimeoutAt { deadline: PyTimestamp::wire(at) })?.into_any(),
                _ => continue,
            };
        };
        Ok(obj)
    }

    /// The system variables now.
    #[getter]
    fn system(&self, py: Python<'_>) -> PyResult<PySystemInfo> {
        let sys = self.engine.system();
        Ok(PySystemInfo {
            synchronized: sys.is_synchronized(),
            stratum: sys.stratum,
            leap: sys.leap.into(),
            offset: sys.offset,
            jitter: sys.jitter,
            root_delay: sys.root_delay,
            root_dispersion: sys.root_dispersion,
            reference_id: reference_id_object(py, sys.reference_id, ntp_wire::Stratum(sys.stratum))?.unbind(),
            poll: sys.poll,
            nts_server: self.engine.nts_master_keys().is_some(),
            nts_master_key_id: self.engine.nts_master_keys().map(|k| k.current_id()),
        })
    }

    /// Every association's state at `now` (default: the system clock).
    #[pyo3(signature = (now = None))]
    fn associations(&self, now: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<PyAssociationInfo>> {
        Ok(self
            .engine
            .peer_status(now_arg(now)?)
            .iter()
            .map(|p| PyAssociationInfo {
                id: p.id.0,
                address: (p.address.ip().to_string(), p.address.port()),
                reach: p.reach,
                poll: p.poll,
                nts: p.nts,
                nts_cookies: p.nts_cookies,
            })
            .collect())
    }

    /// The engine's counters since it was created, by name (the engine's
    /// and its responder's, as the NTPv4 MIB and ntpd's `sysstats` count
    /// them; the NTS ones per RFC 8915).
    #[getter]
    fn counters(&self) -> BTreeMap<&'static str, u64> {
        let c = self.engine.counters();
        let r = self.engine.responder().counters();
        BTreeMap::from([
            ("received", c.received),
            ("malformed", c.malformed),
            ("bad_version", c.bad_version),
            ("access_denied", c.access_denied + r.access_denied),
            ("auth_failed", c.auth_failed + r.auth_failed),
            ("kod_received", c.kod_received),
            ("polls_sent", c.polls_sent),
            ("replies_sent", r.replies),
            ("kod_sent", r.kod_sent),
            ("rate_dropped", r.rate_dropped),
            ("nts_rejected", c.nts_rejected),
            ("nts_naks", c.nts_naks),
            ("nts_unsent", c.nts_unsent),
            ("nts_replies", r.nts_replies),
            ("nts_naks_sent", r.nts_naks),
            ("nts_dropped", r.nts_dropped),
        ])
    }

    /// An engine built from a configuration text in any dialect (ntp.conf,
    /// chrony.conf, Cisco IOS, Huawei VRP; detected), as `check_config`
    /// reads it: its associations (NTS ones included), access rules, local
    /// reference and NTS service. Raises `ParseError` with the line number
    /// for a refused line, and `ValueError` for a file naming host names or
    /// key files (resolve and load those first).
    #[staticmethod]
    #[pyo3(signature = (text, *, now = None))]
    fn from_config(text: &str, now: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        crate::config::engine_from_config(text, now_arg(now)?).map(PyEngine::wrap)
    }
}

#[pymethods]
impl PyAssociationInfo {
    fn __repr__(&self) -> String {
        format!("AssociationInfo(id={}, address={:?}, nts={})", self.id, self.address, self.nts)
    }
}

#[pymethods]
impl PyTransmit {
    fn __repr__(&self) -> String {
        format!("Transmit(destination={:?})", self.destination)
    }
}

#[pymethods]
impl PyStep {
    fn __repr__(&self) -> String {
        format!("Step(offset={})", self.offset)
    }
}

#[pymethods]
impl PySetFrequency {
    fn __repr__(&self) -> String {
        format!("SetFrequency(ppm={})", self.ppm)
    }
}

#[pymethods]
impl PyEngineEvent {
    fn __repr__(&self) -> String {
        format!("EngineEvent({})", self.description)
    }
}

#[pymethods]
impl PyTimeoutAt {
    fn __repr__(&self) -> String {
        format!("TimeoutAt(0x{:016x})", self.deadline.ts.to_bits())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEngine>()?;
    m.add_class::<PyTransmit>()?;
    m.add_class::<PyStep>()?;
    m.add_class::<PySetFrequency>()?;
    m.add_class::<PyEngineEvent>()?;
    m.add_class::<PyTimeoutAt>()?;
    m.add_class::<PyAssociationInfo>()?;
    m.add_class::<PySystemInfo>()
}

#[cfg(test)]
mod tests {
    use super::event_kind;

    #[test]
    fn test_event_kind_is_the_variant_name() {
        assert_eq!(event_kind("Reachable { id: AssociationId(1) }"), "Reachable");
        assert_eq!(event_kind("Synchronized"), "Synchronized");
        assert_eq!(event_kind("Stepped(0.5)"), "Stepped");
    }
}
