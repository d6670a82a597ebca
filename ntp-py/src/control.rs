//! Mode 6 (`ntpq`) from Python: `ControlSession` wraps ntp-algo's sans-IO
//! `ControlClient` and runs one operation at a time (system variables,
//! the peers, the MRU list) as a small state machine. The Python layer
//! only moves datagrams and keeps time, so the same session serves the
//! blocking client and the asyncio one.
//!
//! Every request, every response check and the MRU walk (ntp-algo's
//! `MruWalk`) are ntp-algo's; this module chains the requests an
//! operation needs and turns the answers into Python records.

use std::net::IpAddr;

use ntp_algo::{
    ClientError, ClientEvent, ControlClient, ControlResponse, MruEntry, MruStep, MruWalk, PeerVars, SystemVars,
    parse_association_list,
};
use ntp_wire::NtpTimestamp;
use ntp_wire::control::{Opcode, PeerStatus, SystemStatus};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::auth::PyKey;
use crate::errors::{AuthenticationError, ControlError, MalformedResponse, ServerError, timeout_error};
use crate::packet::PyLeap;
use crate::timestamp::PyTimestamp;

/// The system variables of a server (`ntpq -c rv`). Every value is None
/// when the server did not send it. Times in seconds, frequencies in ppm.
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "SystemVariables")]
pub(crate) struct PySystemVariables {
    /// The system status word of the response (RFC 9327): leap, clock
    /// source, event count and last event code.
    #[pyo3(get)]
    status: u16,
    /// `version`: the daemon's version text.
    #[pyo3(get)]
    version: Option<String>,
    /// `leap`: the leap indicator.
    #[pyo3(get)]
    leap: Option<PyLeap>,
    /// `stratum`.
    #[pyo3(get)]
    stratum: Option<u8>,
    /// `precision`: clock precision, log2 seconds.
    #[pyo3(get)]
    precision: Option<i8>,
    /// `rootdelay`: total round trip to the primary source, seconds.
    #[pyo3(get)]
    root_delay: Option<f64>,
    /// `rootdisp`: total dispersion to the primary source, seconds.
    #[pyo3(get)]
    root_dispersion: Option<f64>,
    /// `refid`, as the server wrote it (an address or a source/kiss code).
    #[pyo3(get)]
    refid: Option<String>,
    /// `reftime`: when the clock was last updated.
    #[pyo3(get)]
    reference_time: Option<PyTimestamp>,
    /// `clock`: the server's time when it answered.
    #[pyo3(get)]
    clock: Option<PyTimestamp>,
    /// `peer`: the system peer's association id (0: none).
    #[pyo3(get)]
    peer: Option<u16>,
    /// `tc`: the system poll interval, log2 seconds.
    #[pyo3(get)]
    poll: Option<i8>,
    /// `offset`: the last clock offset, seconds.
    #[pyo3(get)]
    offset: Option<f64>,
    /// `frequency`: the clock's frequency correction, ppm.
    #[pyo3(get)]
    frequency_ppm: Option<f64>,
    /// `sys_jitter`: the combined sources' jitter, seconds.
    #[pyo3(get)]
    sys_jitter: Option<f64>,
    /// `clk_jitter`: the clock's own jitter, seconds.
    #[pyo3(get)]
    clk_jitter: Option<f64>,
    /// `clk_wander`: the frequency's wander, ppm.
    #[pyo3(get)]
    clk_wander_ppm: Option<f64>,
    /// Every variable as sent, in order, as (name, value) text pairs.
    #[pyo3(get)]
    raw: Vec<(String, String)>,
    /// Items of the list that did not parse and were skipped (ntpq skips
    /// them too).
    #[pyo3(get)]
    skipped: usize,
}

/// One association's variables (`ntpq -c "rv &N"`), the rows of `ntpq -p`.
/// Times in seconds (ntpd sends milliseconds), polls in log2 seconds.
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "PeerVariables")]
pub(crate) struct PyPeerVariables {
    /// The association id.
    #[pyo3(get)]
    association_id: u16,
    /// The peer status word: configured, reachable, selection, events.
    #[pyo3(get)]
    status: u16,
    /// The character `ntpq -p` prints before the name for the selection
    /// state: '*' system peer, '+' candidate, '-' outlier, 'x' falseticker,
    /// '#' backup, '.' excess, 'o' PPS peer, ' ' rejected.
    #[pyo3(get)]
    tally: char,
    /// Whether the association was configured (not made on demand).
    #[pyo3(get)]
    configured: bool,
    /// Whether the peer answered at least once in the last 8 polls.
    #[pyo3(get)]
    reachable: bool,
    /// `srcadr`: the peer's address (an `ipaddress` object).
    #[pyo3(get)]
    address: Option<Py<PyAny>>,
    /// `srcport`.
    #[pyo3(get)]
    port: Option<u16>,
    /// `stratum`.
    #[pyo3(get)]
    stratum: Option<u8>,
    /// `refid`, as the server wrote it.
    #[pyo3(get)]
    refid: Option<String>,
    /// `reach`: the 8-bit reachability register (print it in octal).
    #[pyo3(get)]
    reach: Option<u8>,
    /// `hmode`: the association's mode on the server's side (1 symmetric
    /// active, 2 passive, 3 client, 5 broadcast...).
    #[pyo3(get)]
    hmode: Option<u8>,
    /// `hpoll`: the server's poll interval to this peer, log2 seconds.
    #[pyo3(get)]
    hpoll: Option<i8>,
    /// `ppoll`: the peer's poll interval, log2 seconds.
    #[pyo3(get)]
    ppoll: Option<i8>,
    /// `rec`: when the last packet from the peer arrived (server's clock).
    #[pyo3(get)]
    rec: Option<PyTimestamp>,
    /// `delay`: round-trip delay, seconds.
    #[pyo3(get)]
    delay: Option<f64>,
    /// `offset`: the peer's clock offset from the server's, seconds.
    #[pyo3(get)]
    offset: Option<f64>,
    /// `jitter`, seconds.
    #[pyo3(get)]
    jitter: Option<f64>,
    /// `dispersion`, seconds.
    #[pyo3(get)]
    dispersion: Option<f64>,
    /// `filtdelay`: the clock filter's delays, seconds, newest first.
    #[pyo3(get)]
    filter_delay: Vec<f64>,
    /// `filtoffset`: the clock filter's offsets, seconds, newest first.
    #[pyo3(get)]
    filter_offset: Vec<f64>,
    /// `filtdisp`: the clock filter's dispersions, seconds, newest first.
    #[pyo3(get)]
    filter_dispersion: Vec<f64>,
    /// Every variable as sent, in order, as (name, value) text pairs.
    #[pyo3(get)]
    raw: Vec<(String, String)>,
    /// Items of the list that did not parse and were skipped.
    #[pyo3(get)]
    skipped: usize,
}

/// One row of a server's most-recently-used client list (`ntpq -c mrulist`).
#[pyclass(frozen, module = "ntp_py._ntp_py", name = "MruEntry")]
pub(crate) struct PyMruEntry {
    /// The client's address (an `ipaddress` object).
    #[pyo3(get)]
    address: Py<PyAny>,
    /// The client's source port (0 when the server does not say).
    #[pyo3(get)]
    port: u16,
    /// When the server first heard from it (server's clock).
    #[pyo3(get)]
    first: PyTimestamp,
    /// When the server last heard from it (server's clock).
    #[pyo3(get)]
    last: PyTimestamp,
    /// Packets received from it.
    #[pyo3(get)]
    count: u64,
    /// The mode of its last packet (3 client, 6 control...).
    #[pyo3(get)]
    mode: u8,
    /// The NTP version of its last packet.
    #[pyo3(get)]
    version: u8,
    /// The restriction flags applied to it (ntpd's `rs`, 0: none).
    #[pyo3(get)]
    restrictions: u64,
}

/// What the session is doing.
enum Operation {
    /// Waiting for READVAR of association 0.
    System,
    /// Waiting for READSTAT (the association list).
    PeerList,
    /// Reading each association's variables in turn.
    Peers { ids: Vec<u16>, next: usize, out: Vec<PeerVars> },
    /// Walking the MRU list.
    Mru(MruWalk),
}

fn malformed(what: &str, detail: impl std::fmt::Display) -> PyErr {
    MalformedResponse::new_err(format!("{what}: {detail}"))
}

/// A sans-IO mode 6 session: `begin_*` returns the first datagram to send;
/// feed every datagram that arrives to `handle_datagram` and call
/// `handle_timeout` when `deadline` (seconds on the caller's monotonic
/// clock) passes; each returns the next datagram to send, if any. When
/// `done` turns true, `take_result()` gives the operation's value. Errors
/// end the operation and are raised from the call that met them.
#[pyclass(module = "ntp_py._ntp_py", name = "ControlSession")]
pub(crate) struct PyControlSession {
    client: ControlClient,
    op: Option<Operation>,
    result: Option<Py<PyAny>>,
}

impl PyControlSession {
    fn begin(
        &mut self,
        op: Operation,
        opcode: Opcode,
        association_id: u16,
        data: &[u8],
        now: f64,
    ) -> PyResult<Vec<u8>> {
        if self.op.is_some() {
            return Err(PyRuntimeError::new_err("an operation is already in progress on this session"));
        }
        self.result = None;
        let bytes = self.client.request(opcode, association_id, data, now).map_err(|e| client_error(&e))?;
        self.op = Some(op);
        Ok(bytes)
    }

    /// Moves the operation on after a complete response: the next request,
    /// or the result.
    fn advance(&mut self, py: Python<'_>, response: ControlResponse, now: f64) -> PyResult<Option<Vec<u8>>> {
        let Some(op) = self.op.take() else { return Ok(None) };
        match op {
            Operation::System => {
                let vars = SystemVars::parse(&response.data).map_err(|e| malformed("system variables", e))?;
                self.result = Some(Py::new(py, system_record(vars, response.status))?.into_any());
                Ok(None)
            }
            Operation::PeerList => {
                let ids: Vec<u16> = parse_association_list(&response.data).into_iter().map(|(id, _)| id).collect();
                self.chain_peers(py, ids, 0, Vec::new(), now)
            }
            Operation::Peers { ids, next, mut out } => {
                let id = ids.get(next).copied().unwrap_or(0);
                let vars = PeerVars::parse(id, response.status, &response.data)
                    .map_err(|e| malformed(&format!("association {id}"), e))?;
                out.push(vars);
                self.chain_peers(py, ids, next + 1, out, now)
            }
            Operation::Mru(mut walk) => match walk.handle_response(&mut self.client, &response, now) {
                Ok(MruStep::Send(bytes)) => {
                    self.op = Some(Operation::Mru(walk));
                    Ok(Some(bytes))
                }
                Ok(MruStep::Done(rows)) => {
                    self.result = Some(mru_records(py, &rows)?.into_any().unbind());
                    Ok(None)
                }
                Err(err) => Err(client_error(&err)),
            },
        }
    }

    fn chain_peers(
        &mut self,
        py: Python<'_>,
        ids: Vec<u16>,
        next: usize,
        out: Vec<PeerVars>,
        now: f64,
    ) -> PyResult<Option<Vec<u8>>> {
        match ids.get(next).copied() {
            Some(id) => {
                let bytes = self.client.request(Opcode::ReadVariables, id, b"", now).map_err(|e| client_error(&e))?;
                self.op = Some(Operation::Peers { ids, next, out });
                Ok(Some(bytes))
            }
            None => {
                let records = out.into_iter().map(|p| peer_record(py, p)).collect::<PyResult<Vec<_>>>()?;
                self.result = Some(PyList::new(py, records)?.into_any().unbind());
                Ok(None)
            }
        }
    }

    /// An error from the client: the MRU walk may restart (ntp-algo's
    /// rules); everything else ends the operation.
    fn on_error(&mut self, err: ClientError, now: f64) -> PyResult<Option<Vec<u8>>> {
        if let Some(Operation::Mru(mut walk)) = self.op.take() {
            match walk.handle_error(&mut self.client, err, now) {
                Ok(bytes) => {
                    self.op = Some(Operation::Mru(walk));
                    return Ok(Some(bytes));
                }
                Err(err) => {
                    self.client.cancel();
                    return Err(client_error(&err));
                }
            }
        }
        self.op = None;
        self.client.cancel();
        Err(client_error(&err))
    }
}

#[pymethods]
impl PyControlSession {
    /// A session; requests are signed with `key` when given, and every
    /// response must then verify with it.
    #[new]
    #[pyo3(signature = (key = None))]
    fn new(key: Option<PyRef<'_, PyKey>>) -> Self {
        PyControlSession { client: ControlClient::new(key.map(|k| k.key.clone())), op: None, result: None }
    }

    /// Starts reading the system variables (READVAR, association 0); the
    /// result is a `SystemVariables`.
    fn begin_system<'py>(&mut self, py: Python<'py>, now: f64) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.begin(Operation::System, Opcode::ReadVariables, 0, b"", now)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Starts reading the association list, then each association's
    /// variables; the result is a list of `PeerVariables`.
    fn begin_peers<'py>(&mut self, py: Python<'py>, now: f64) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.begin(Operation::PeerList, Opcode::ReadStatus, 0, b"", now)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Starts walking the MRU list (a nonce first, as ntpd requires); the
    /// result is a list of `MruEntry`, oldest first.
    fn begin_mrulist<'py>(&mut self, py: Python<'py>, now: f64) -> PyResult<Bound<'py, PyBytes>> {
        if self.op.is_some() {
            return Err(PyRuntimeError::new_err("an operation is already in progress on this session"));
        }
        self.result = None;
        let mut walk = MruWalk::new();
        let bytes = walk.start(&mut self.client, now).map_err(|e| client_error(&e))?;
        self.op = Some(Operation::Mru(walk));
        Ok(PyBytes::new(py, &bytes))
    }

    /// When `handle_timeout` is due (caller's monotonic seconds), or None
    /// when nothing is awaited.
    #[getter]
    fn deadline(&self) -> Option<f64> {
        self.client.deadline()
    }

    /// Whether the operation finished and `take_result()` has its value.
    #[getter]
    fn done(&self) -> bool {
        self.result.is_some()
    }

    /// The finished operation's value (once), or None.
    fn take_result(&mut self) -> Option<Py<PyAny>> {
        self.result.take()
    }

    /// Gives up on the operation in flight.
    fn cancel(&mut self) {
        self.op = None;
        self.client.cancel();
    }

    /// A datagram arrived; returns the next datagram to send, if any.
    /// Raises `ServerError`, `AuthenticationError` or `MalformedResponse`.
    fn handle_datagram<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        now: f64,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        if self.op.is_none() {
            return Ok(None);
        }
        let next = match self.client.handle_datagram(data, now) {
            Ok(ClientEvent::Complete(response)) => self.advance(py, response, now),
            Ok(_) => Ok(None),
            Err(err) => self.on_error(err, now),
        };
        if next.is_err() {
            self.cancel();
        }
        Ok(next?.map(|b| PyBytes::new(py, &b)))
    }

    /// The deadline passed: returns the request to send again (once), or
    /// raises `Timeout` after the retry.
    fn handle_timeout<'py>(&mut self, py: Python<'py>, now: f64) -> PyResult<Option<Bound<'py, PyBytes>>> {
        match self.client.handle_timeout(now) {
            Ok(again) => Ok(again.map(|b| PyBytes::new(py, &b))),
            Err(err) => {
                self.op = None;
                Err(client_error(&err))
            }
        }
    }
}

fn client_error(err: &ClientError) -> PyErr {
    match err {
        ClientError::Server(code) => {
            let e = ServerError::new_err(format!("the server answered with an error: {code}"));
            Python::attach(|py| {
                let _ = e.value(py).setattr("code", code.to_bits());
            });
            e
        }
        ClientError::Timeout => timeout_error("no mode 6 response (the request was sent twice)"),
        ClientError::Unauthenticated => {
            AuthenticationError::new_err("the mode 6 response does not verify with our key (wrong key or secret?)")
        }
        ClientError::VarList(_) | ClientError::BadValue { .. } => malformed("response", err),
        ClientError::Mru(e) => malformed("MRU list", e),
        other => ControlError::new_err(other.to_string()),
    }
}

fn ts(t: Option<NtpTimestamp>) -> Option<PyTimestamp> {
    t.map(PyTimestamp::wire)
}

fn system_record(v: SystemVars, status: u16) -> PySystemVariables {
    PySystemVariables {
        status,
        version: v.version,
        leap: v.leap.map(|bits| ntp_wire::LeapIndicator::from_bits(bits & 3).into()),
        stratum: v.stratum,
        precision: v.precision,
        root_delay: v.root_delay,
        root_dispersion: v.root_dispersion,
        refid: v.refid,
        reference_time: ts(v.reference_time),
        clock: ts(v.clock),
        peer: v.peer,
        poll: v.poll,
        offset: v.offset,
        frequency_ppm: v.frequency_ppm,
        sys_jitter: v.sys_jitter,
        clk_jitter: v.clk_jitter,
        clk_wander_ppm: v.clk_wander_ppm,
        raw: v.raw,
        skipped: v.skipped,
    }
}

fn ip_object(py: Python<'_>, ip: IpAddr) -> PyResult<Py<PyAny>> {
    Ok(py.import("ipaddress")?.getattr("ip_address")?.call1((ip.to_string(),))?.unbind())
}

fn peer_record(py: Python<'_>, p: PeerVars) -> PyResult<PyPeerVariables> {
    let status: PeerStatus = p.status;
    Ok(PyPeerVariables {
        association_id: p.association_id,
        status: status.to_bits(),
        tally: status.selection.tally(),
        configured: status.configured,
        reachable: status.reachable,
        address: p.address.map(|a| ip_object(py, a)).transpose()?,
        port: p.port,
        stratum: p.stratum,
        refid: p.refid,
        reach: p.reach,
        hmode: p.hmode,
        hpoll: p.hpoll,
        ppoll: p.ppoll,
        rec: ts(p.rec),
        delay: p.delay,
        offset: p.offset,
        jitter: p.jitter,
        dispersion: p.dispersion,
        filter_delay: p.filter_delay,
        filter_offset: p.filter_offset,
        filter_dispersion: p.filter_dispersion,
        raw: p.raw,
        skipped: p.skipped,
    })
}

fn mru_records<'py>(py: Python<'py>, rows: &[MruEntry]) -> PyResult<Bound<'py, PyList>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(Py::new(
            py,
            PyMruEntry {
                address: ip_object(py, row.address)?,
                port: row.port,
                first: PyTimestamp::wire(row.first),
                last: PyTimestamp::wire(row.last),
                count: row.count,
                mode: row.mode,
                version: row.version,
                restrictions: row.restrictions,
            },
        )?);
    }
    PyList::new(py, out)
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "None".to_owned(), ToString::to_string)
}

#[pymethods]
impl PySystemVariables {
    /// The variables as a dict of their raw texts.
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (n, v) in &self.raw {
            d.set_item(n, v)?;
        }
        Ok(d)
    }

    /// The leap indicator of the status word (always present, unlike `leap`).
    #[getter]
    fn status_leap(&self) -> PyLeap {
        SystemStatus::from_bits(self.status).leap.into()
    }

    fn __repr__(&self) -> String {
        format!(
            "SystemVariables(stratum={}, refid={}, offset={}, sys_jitter={}, version={:?})",
            opt(&self.stratum),
            opt(&self.refid),
            opt(&self.offset),
            opt(&self.sys_jitter),
            self.version.as_deref().unwrap_or("")
        )
    }
}

#[pymethods]
impl PyPeerVariables {
    /// The variables as a dict of their raw texts.
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (n, v) in &self.raw {
            d.set_item(n, v)?;
        }
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let address = self
            .address
            .as_ref()
            .and_then(|a| a.bind(py).str().ok())
            .map_or_else(|| "None".to_owned(), |s| s.to_string());
        format!(
            "PeerVariables(association_id={}, tally={:?}, address={address}, stratum={}, reach={}, offset={}, delay={})",
            self.association_id,
            self.tally,
            opt(&self.stratum),
            self.reach.map_or_else(|| "None".to_owned(), |r| format!("0o{r:o}")),
            opt(&self.offset),
            opt(&self.delay)
        )
    }
}

#[pymethods]
impl PyMruEntry {
    fn __repr__(&self, py: Python<'_>) -> String {
        let address = self.address.bind(py).str().map(|s| s.to_string()).unwrap_or_default();
        format!(
            "MruEntry(address={address}, port={}, count={}, mode={}, version={})",
            self.port, self.count, self.mode, self.version
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyControlSession>()?;
    m.add_class::<PySystemVariables>()?;
    m.add_class::<PyPeerVariables>()?;
    m.add_class::<PyMruEntry>()
}
