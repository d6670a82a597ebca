//! Mode 6 (`ntpq`) from Python: `ControlSession` wraps ntp-algo's sans-IO
//! `ControlClient` and runs one operation at a time (system variables,
//! the peers, the MRU list) as a small state machine. The Python layer
//! only moves datagrams and keeps time, so the same session serves the
//! blocking client and the asyncio one.
//!
//! Every request and every response check is ntp-algo's; this module
//! chains the requests an operation needs and turns the answers into
//! Python records. The MRU walk (`REQ_NONCE`, then `READ_MRU` with a
//! cursor of the newest entries held) follows ntpd's rules as
//! ntp-algo's control responder documents them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ntp_algo::{
    ClientError, ClientEvent, ControlClient, ControlResponse, PeerVars, SystemVars, parse_association_list,
    parse_timestamp,
};
use ntp_wire::NtpTimestamp;
use ntp_wire::control::{ErrorCode, Opcode, PeerStatus, SystemStatus, parse_var_list};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::auth::PyKey;
use crate::errors::{AuthenticationError, ControlError, MalformedResponse, ServerError, timeout_error};
use crate::packet::PyLeap;
use crate::timestamp::PyTimestamp;

/// Fragments asked for per READ_MRU answer (ntpd allows 32). Fewer keep a
/// burst of datagrams small enough not to overrun a receive buffer.
const MRU_FRAGMENTS: usize = 16;
/// Newest entries named in a follow-up READ_MRU, so the walk survives the
/// newest of them having moved on in the meantime.
const MRU_CURSOR: usize = 4;
/// READ_MRU requests one walk may make: 256 answers of 16 fragments hold
/// far more than any server's list.
const MRU_MAX_REQUESTS: usize = 256;
/// Times the walk starts over when the server no longer knows our cursor.
const MRU_MAX_RESTARTS: u8 = 3;

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

/// A raw MRU row before it becomes a Python object.
#[derive(Clone, Debug, Default, PartialEq)]
struct MruRow {
    addr: String,
    last: Option<NtpTimestamp>,
    first: Option<NtpTimestamp>,
    count: u64,
    mode_version: u8,
    restrictions: u64,
}

#[derive(Debug, Default)]
struct MruWalk {
    nonce: Option<String>,
    /// Rows held so far, oldest first, one per address.
    rows: Vec<MruRow>,
    /// The raw `last.N` texts of the held rows, for the cursor (the
    /// server matches the text, so it is sent back exactly as received).
    last_text: HashMap<String, String>,
    requests: usize,
    restarts: u8,
}

/// What one READ_MRU answer said.
#[derive(Debug, Default, PartialEq)]
struct MruAnswer {
    nonce: Option<String>,
    rows: Vec<(MruRow, String)>,
    complete: bool,
}

fn malformed(what: &str, detail: impl std::fmt::Display) -> PyErr {
    MalformedResponse::new_err(format!("{what}: {detail}"))
}

fn hex_or_decimal(value: &str) -> Option<u64> {
    let v = value.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(digits) => u64::from_str_radix(digits, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Reads one READ_MRU answer's data: `nonce=`, rows `addr.N`, `last.N`,
/// `first.N`, `ct.N`, `mv.N`, `rs.N` (N counting from 0 in each answer),
/// and `now=` once the newest row is in.
fn parse_mru_answer(data: &[u8]) -> Result<MruAnswer, String> {
    let mut answer = MruAnswer::default();
    let mut rows: Vec<(usize, MruRow, String)> = Vec::new();
    for item in parse_var_list(data) {
        let item = item.map_err(|e| e.to_string())?;
        let bad = || format!("bad value {:?} for {}", item.value, item.name);
        match item.name {
            "nonce" => answer.nonce = Some(item.value.to_owned()),
            "now" => answer.complete = true,
            "last.newest" => {}
            name => {
                let Some((kind, index)) = name.split_once('.') else { continue };
                let Ok(index) = index.parse::<usize>() else { continue };
                let at = match rows.iter().position(|r| r.0 == index) {
                    Some(at) => at,
                    None => {
                        rows.push((index, MruRow::default(), String::new()));
                        rows.len() - 1
                    }
                };
                let Some((_, row, last_text)) = rows.get_mut(at) else { continue };
                match kind {
                    "addr" => row.addr = item.value.to_owned(),
                    "last" => {
                        row.last = Some(parse_timestamp(item.value).ok_or_else(bad)?);
                        *last_text = item.value.to_owned();
                    }
                    "first" => row.first = Some(parse_timestamp(item.value).ok_or_else(bad)?),
                    "ct" => row.count = hex_or_decimal(item.value).ok_or_else(bad)?,
                    "mv" => {
                        row.mode_version =
                            u8::try_from(hex_or_decimal(item.value).ok_or_else(bad)?).map_err(|_| bad())?
                    }
                    "rs" => row.restrictions = hex_or_decimal(item.value).ok_or_else(bad)?,
                    // Newer ntpd fields (sc.N, dr.N...) are not needed here.
                    _ => {}
                }
            }
        }
    }
    rows.sort_by_key(|r| r.0);
    for (index, row, last_text) in rows {
        if row.addr.is_empty() || row.last.is_none() {
            return Err(format!("row {index} lacks addr or last"));
        }
        answer.rows.push((row, last_text));
    }
    Ok(answer)
}

/// `1.2.3.4`, `1.2.3.4:123`, `::1` or `[::1]:123`.
fn split_address(text: &str) -> Option<(IpAddr, u16)> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some((ip, 0));
    }
    text.parse::<SocketAddr>().ok().map(|s| (s.ip(), s.port()))
}

impl MruWalk {
    /// The next READ_MRU data: the nonce, the fragment budget and, after
    /// the first answer, the newest rows held (index 0 the newest).
    fn request_data(&self, nonce: &str) -> Vec<u8> {
        let mut text = format!("nonce={nonce}, frags={MRU_FRAGMENTS}");
        for (i, row) in self.rows.iter().rev().take(MRU_CURSOR).enumerate() {
            if let Some(last) = self.last_text.get(&row.addr) {
                text.push_str(&format!(", addr.{i}={}, last.{i}={last}", row.addr));
            }
        }
        text.into_bytes()
    }

    /// Takes an answer's rows; an address seen before moves to its new place.
    fn absorb(&mut self, answer: MruAnswer) {
        for (row, last_text) in answer.rows {
            self.rows.retain(|r| r.addr != row.addr);
            self.last_text.insert(row.addr.clone(), last_text);
            self.rows.push(row);
        }
        self.nonce = answer.nonce;
    }
}

fn first_nonce(data: &[u8]) -> Option<String> {
    parse_var_list(data).filter_map(Result::ok).find(|v| v.name == "nonce").map(|v| v.value.to_owned())
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
            Operation::Mru(mut walk) => {
                if response.opcode == Opcode::RequestNonce {
                    walk.nonce = first_nonce(&response.data);
                } else {
                    let answer = parse_mru_answer(&response.data).map_err(|e| malformed("MRU list", e))?;
                    let complete = answer.complete;
                    walk.absorb(answer);
                    if complete {
                        self.result = Some(mru_records(py, &walk.rows)?.into_any().unbind());
                        return Ok(None);
                    }
                }
                self.next_mru(walk, now).map(Some)
            }
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

    fn next_mru(&mut self, mut walk: MruWalk, now: f64) -> PyResult<Vec<u8>> {
        let Some(nonce) = walk.nonce.clone() else {
            return Err(malformed("MRU list", "the server sent no nonce"));
        };
        walk.requests += 1;
        if walk.requests > MRU_MAX_REQUESTS {
            return Err(malformed("MRU list", format!("no end after {MRU_MAX_REQUESTS} requests")));
        }
        let data = walk.request_data(&nonce);
        let bytes = self.client.request(Opcode::ReadMru, 0, &data, now).map_err(|e| client_error(&e))?;
        self.op = Some(Operation::Mru(walk));
        Ok(bytes)
    }

    /// An error from the client: the MRU walk starts over when the server
    /// no longer lists any row of our cursor (ntpd answers UNKNOWNVAR, and
    /// ntpq starts over too); everything else ends the operation.
    fn on_error(&mut self, err: ClientError, now: f64) -> PyResult<Option<Vec<u8>>> {
        if let (ClientError::Server(ErrorCode::UnknownVariable), Some(Operation::Mru(walk))) = (&err, &self.op)
            && walk.restarts < MRU_MAX_RESTARTS
            && !walk.rows.is_empty()
        {
            let restarts = walk.restarts + 1;
            self.op = None;
            let bytes = self.client.request(Opcode::RequestNonce, 0, b"", now).map_err(|e| client_error(&e))?;
            self.op = Some(Operation::Mru(MruWalk { restarts, ..MruWalk::default() }));
            return Ok(Some(bytes));
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
        let bytes = self.begin(Operation::Mru(MruWalk::default()), Opcode::RequestNonce, 0, b"", now)?;
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

fn mru_records<'py>(py: Python<'py>, rows: &[MruRow]) -> PyResult<Bound<'py, PyList>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (ip, port) =
            split_address(&row.addr).ok_or_else(|| malformed("MRU list", format!("bad address {:?}", row.addr)))?;
        let last = row.last.unwrap_or(NtpTimestamp::ZERO);
        out.push(Py::new(
            py,
            PyMruEntry {
                address: ip_object(py, ip)?,
                port,
                first: PyTimestamp::wire(row.first.unwrap_or(last)),
                last: PyTimestamp::wire(last),
                count: row.count,
                mode: row.mode_version & 7,
                version: (row.mode_version >> 3) & 7,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn test_mru_answer_rows_in_index_order_and_completion() {
        let data = b"nonce=abc, addr.1=[::1]:5, last.1=0x2.0, first.1=0x1.0, ct.1=3, mv.1=0x23, rs.1=0x0, \
addr.0=127.0.0.1:123, last.0=0x1.80000000, first.0=0x1.0, ct.0=1, mv.0=0x1b, rs.0=0x0, now=0x3.0, last.newest=0x2.0\r\n";
        let answer = parse_mru_answer(data).unwrap();
        assert!(answer.complete);
        assert_eq!(answer.nonce.as_deref(), Some("abc"));
        assert_eq!(answer.rows.len(), 2);
        assert_eq!(answer.rows[0].0.addr, "127.0.0.1:123");
        assert_eq!(answer.rows[0].1, "0x1.80000000");
        assert_eq!(answer.rows[1].0.count, 3);
        assert_eq!(answer.rows[1].0.mode_version, 0x23);
        assert_eq!(split_address("[::1]:5"), Some(("::1".parse().unwrap(), 5)));
        assert_eq!(split_address("10.0.0.1"), Some(("10.0.0.1".parse().unwrap(), 0)));
        assert!(parse_mru_answer(b"addr.0=1.2.3.4, last.0=banana").is_err());
        assert!(parse_mru_answer(b"addr.0=1.2.3.4").is_err());
    }

    #[test]
    fn test_mru_walk_moves_a_seen_address_and_names_the_newest_in_the_cursor() {
        let mut walk = MruWalk::default();
        let row = |addr: &str, s: u32| {
            (
                MruRow { addr: addr.into(), last: Some(NtpTimestamp::from_parts(s, 0)), ..MruRow::default() },
                format!("0x{s:x}.0"),
            )
        };
        walk.absorb(MruAnswer { nonce: Some("n1".into()), rows: vec![row("a", 1), row("b", 2)], complete: false });
        walk.absorb(MruAnswer { nonce: Some("n2".into()), rows: vec![row("a", 3)], complete: false });
        let order: Vec<_> = walk.rows.iter().map(|r| r.addr.as_str()).collect();
        assert_eq!(order, ["b", "a"]);
        let text = String::from_utf8(walk.request_data("n2")).unwrap();
        assert_eq!(text, "nonce=n2, frags=16, addr.0=a, last.0=0x3.0, addr.1=b, last.1=0x2.0");
    }
}
