//! The mode 6 control client (what `ntpq` does, RFC 9327) behind an
//! opaque handle: requests are built into the caller's buffer, response
//! datagrams are fed in, and the complete response is read back as C
//! structs or as text.
//!
//! Sans-IO like the engine: the caller owns the socket and the clock.
//! Times are `double` seconds on the caller's monotonic timeline (the
//! Rust client's convention), not NTP timestamps: its deadlines are
//! durations, and a monotonic clock never steps.

use std::ffi::c_char;
use std::fmt::Write as _;

use ntp_algo::{
    ClientError, ClientEvent, ControlClient, ControlResponse, PeerVars, SystemVars, parse_association_list,
};
use ntp_wire::NtpTimestamp;
use ntp_wire::control::{Opcode, PeerStatus, parse_var_list};

use crate::addr::ntp_sockaddr;
use crate::auth::ntp_keyring;
use crate::ptr::{self, boundary, boundary_void};
use crate::result::ntp_result;
use crate::time::ntp_timestamp;

/// Opcode 1, READSTAT: the association list (association 0) or one
/// association's status.
pub const NTP_CONTROL_OP_READ_STATUS: u8 = 1;
/// Opcode 2, READVAR: the system variables (association 0) or one
/// association's variables.
pub const NTP_CONTROL_OP_READ_VARIABLES: u8 = 2;
/// Bytes of a string field in the control structs, NUL included; longer
/// values are cut at a character boundary.
pub const NTP_CONTROL_TEXT_LEN: usize = 64;
/// Entries of a clock filter array (`filtdelay` and friends).
pub const NTP_CONTROL_FILTER_LEN: usize = 8;

/// A mode 6 client. Opaque; create with `ntp_control_client_new`, release
/// with `ntp_control_client_free`. One request is in flight at a time; the
/// last complete response is held until the next request starts.
pub struct ntp_control_client {
    inner: ControlClient,
    /// Length of the request in flight, so a retry is known to fit the
    /// caller's buffer before the client commits to it.
    request_len: usize,
    response: Option<ControlResponse>,
    /// The error code of the last error response (RFC 9327 section 3).
    server_error: Option<u8>,
}

/// What a datagram did to the request in flight.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_control_event {
    /// Not for the request in flight (another sequence number, not a
    /// response, a duplicate fragment); nothing changed.
    Ignored = 0,
    /// A fragment was taken; more are awaited.
    Progress = 1,
    /// The response is complete and held: read it with the
    /// `ntp_control_client_response*` functions.
    Complete = 2,
}

/// The header of the held response.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ntp_control_response {
    /// The opcode it answers.
    pub opcode: u8,
    /// Whether every fragment verified with the client's key (false for a
    /// client without a key).
    pub authenticated: bool,
    /// The association it is about (0: the system).
    pub association_id: u16,
    /// Status word of its last fragment (system or peer status, RFC 9327
    /// section 2.4).
    pub status: u16,
    /// Bytes of reassembled data (`ntp_control_client_response_data`).
    pub data_len: usize,
}

/// One entry of a READSTAT association list.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ntp_control_association {
    /// The association id.
    pub association_id: u16,
    /// Its peer status word.
    pub status: u16,
    /// The selection code of the status word, 0..=7 (4: candidate, 6:
    /// system peer; RFC 9327 section 2.4.2).
    pub selection: u8,
    /// ntpq's tally character for `selection` (`*` system peer, `+`
    /// candidate, ...).
    pub tally: c_char,
}

/// The system variables of a READVAR response for association 0, typed.
/// Absent values: -1 for the integers, NaN for the doubles, 0 for the
/// timestamps, "" for the strings.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ntp_control_system_vars {
    /// `leap`, 0..=3.
    pub leap: i32,
    /// `stratum`.
    pub stratum: i32,
    /// `precision`, log2 seconds.
    pub precision: i32,
    /// `peer`: the system peer's association id (0: none).
    pub peer: i32,
    /// `tc`: the system poll interval, log2 seconds.
    pub poll: i32,
    /// `rootdelay`, seconds (ntpd sends milliseconds; converted).
    pub root_delay: f64,
    /// `rootdisp`, seconds.
    pub root_dispersion: f64,
    /// `offset`, seconds.
    pub offset: f64,
    /// `frequency`, ppm.
    pub frequency_ppm: f64,
    /// `sys_jitter`, seconds.
    pub sys_jitter: f64,
    /// `clk_jitter`, seconds.
    pub clk_jitter: f64,
    /// `clk_wander`, ppm.
    pub clk_wander_ppm: f64,
    /// `reftime`.
    pub reference_time: ntp_timestamp,
    /// `clock`: the server's clock when it answered.
    pub clock: ntp_timestamp,
    /// `refid` as sent, NUL-terminated.
    pub refid: [c_char; NTP_CONTROL_TEXT_LEN],
    /// `version`, NUL-terminated (cut to fit).
    pub version: [c_char; NTP_CONTROL_TEXT_LEN],
    /// Items of the list that did not parse and were skipped (as ntpq does).
    pub skipped: usize,
}

/// One association's variables (`ntpq -c "rv &N"`), typed. Absent values
/// as in `ntp_control_system_vars`; `address.family` 0 when `srcadr` is absent.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ntp_control_peer_vars {
    /// The association id.
    pub association_id: u16,
    /// The peer status word of the response.
    pub status: u16,
    /// The selection code of `status`, 0..=7.
    pub selection: u8,
    /// ntpq's tally character for `selection`.
    pub tally: c_char,
    /// `srcadr` and `srcport`.
    pub address: ntp_sockaddr,
    /// `stratum`.
    pub stratum: i32,
    /// `reach`, the 8-bit register.
    pub reach: i32,
    /// `hmode`: the server's side's mode.
    pub hmode: i32,
    /// `hpoll`, log2 seconds.
    pub hpoll: i32,
    /// `ppoll`, log2 seconds.
    pub ppoll: i32,
    /// `rec`: when its last packet arrived.
    pub rec: ntp_timestamp,
    /// `delay`, seconds.
    pub delay: f64,
    /// `offset`, seconds.
    pub offset: f64,
    /// `jitter`, seconds.
    pub jitter: f64,
    /// `dispersion`, seconds.
    pub dispersion: f64,
    /// Entries used in the three filter arrays (0..=8).
    pub filter_count: usize,
    /// `filtdelay`, seconds, newest first.
    pub filter_delay: [f64; NTP_CONTROL_FILTER_LEN],
    /// `filtoffset`, seconds, newest first.
    pub filter_offset: [f64; NTP_CONTROL_FILTER_LEN],
    /// `filtdisp`, seconds, newest first.
    pub filter_dispersion: [f64; NTP_CONTROL_FILTER_LEN],
    /// `refid` as sent, NUL-terminated.
    pub refid: [c_char; NTP_CONTROL_TEXT_LEN],
    /// Items of the list that did not parse and were skipped.
    pub skipped: usize,
}

impl From<ClientError> for ntp_result {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Busy => ntp_result::ControlBusy,
            ClientError::Request(_) => ntp_result::InvalidParameter,
            ClientError::Server(_) => ntp_result::ControlServerError,
            ClientError::Timeout => ntp_result::ControlTimeout,
            ClientError::Unauthenticated => ntp_result::ControlUnauthenticated,
            ClientError::VarList(_) | ClientError::BadValue { .. } => ntp_result::ControlBadResponse,
            _ => ntp_result::ControlOther,
        }
    }
}

fn seconds(now: f64) -> Result<f64, ntp_result> {
    if now.is_finite() { Ok(now) } else { Err(ntp_result::InvalidParameter) }
}

fn int<T: Into<i32>>(v: Option<T>) -> i32 {
    v.map_or(-1, Into::into)
}

fn float(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

fn stamp(v: Option<NtpTimestamp>) -> ntp_timestamp {
    v.map_or(0, NtpTimestamp::to_bits)
}

/// `text` as a NUL-terminated C string, cut at a character boundary.
fn c_text(text: Option<&str>) -> [c_char; NTP_CONTROL_TEXT_LEN] {
    let mut out = [0 as c_char; NTP_CONTROL_TEXT_LEN];
    let text = text.unwrap_or("");
    let mut end = text.len().min(NTP_CONTROL_TEXT_LEN - 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for (dst, src) in out.iter_mut().zip(text.as_bytes().iter().take(end)) {
        *dst = *src as c_char;
    }
    out
}

fn tally(status: PeerStatus) -> c_char {
    let c = status.selection.tally();
    if c.is_ascii() { c as u8 as c_char } else { b'?' as c_char }
}

fn filter(values: &[f64]) -> [f64; NTP_CONTROL_FILTER_LEN] {
    let mut out = [f64::NAN; NTP_CONTROL_FILTER_LEN];
    for (dst, v) in out.iter_mut().zip(values) {
        *dst = *v;
    }
    out
}

/// Copies `bytes` to the start of the caller's buffer.
fn copy_out(buf: *mut u8, len: usize, bytes: &[u8]) -> Result<(), ntp_result> {
    let dst = ptr::slice_mut(buf, len)?;
    dst.get_mut(..bytes.len()).ok_or(ntp_result::InsufficientSize)?.copy_from_slice(bytes);
    Ok(())
}

/// Creates a control client in `*out`; free it with `ntp_control_client_free`.
///
/// - `keyring`, `key_id`: with a non-NULL keyring and a non-zero key id,
///   requests are signed with that key (copied from the keyring, which the
///   caller keeps) and responses must verify with it. NULL / 0: no key.
///
/// Returns `NTP_RESULT_AUTH_UNKNOWN_KEY` when the key id is not in the keyring.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_new(
    keyring: *const ntp_keyring,
    key_id: u32,
    out: *mut *mut ntp_control_client,
) -> ntp_result {
    boundary(|| {
        let out = ptr::out(out)?;
        let key = match (keyring.is_null(), key_id) {
            (true, _) | (_, 0) => None,
            (false, id) => Some(ptr::read(keyring)?.inner.get(id).cloned().ok_or(ntp_result::AuthUnknownKey)?),
        };
        *out = ptr::to_boxed(ntp_control_client {
            inner: ControlClient::new(key),
            request_len: 0,
            response: None,
            server_error: None,
        });
        Ok(())
    })
}

/// Frees a client made by `ntp_control_client_new`; NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_free(client: *mut ntp_control_client) {
    boundary_void(|| ptr::free_boxed(client));
}

/// Starts a request and writes the datagram to send into the caller's
/// `buf` (`buf_len` bytes; 512 always suffice) and its length to `written`.
///
/// - `opcode`: an `NTP_CONTROL_OP_*` value (0..=31).
/// - `association_id`: 0 for the system, else an association.
/// - `data`, `data_len`: the request's data (a variable list, may be
///   NULL/0), at most 468 bytes; read during the call only.
/// - `now`: the caller's monotonic clock, seconds; starts the deadline.
///
/// Drops any held response. Returns `NTP_RESULT_CONTROL_BUSY` while a
/// request is in flight (`ntp_control_client_cancel` gives it up),
/// `NTP_RESULT_INSUFFICIENT_SIZE` (nothing started) when `buf` is short.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ntp_control_client_request(
    client: *mut ntp_control_client,
    opcode: u8,
    association_id: u16,
    data: *const u8,
    data_len: usize,
    now: f64,
    buf: *mut u8,
    buf_len: usize,
    written: *mut usize,
) -> ntp_result {
    boundary(|| {
        let client = ptr::out(client)?;
        let data = ptr::slice(data, data_len)?;
        let written = ptr::out(written)?;
        let now = seconds(now)?;
        if opcode > 31 {
            return Err(ntp_result::InvalidParameter);
        }
        if buf.is_null() {
            return Err(ntp_result::NullParameter);
        }
        let request = client.inner.request(Opcode::from_bits(opcode), association_id, data, now)?;
        if let Err(e) = copy_out(buf, buf_len, &request) {
            // Nothing was sent: the request must not stay in flight.
            client.inner.cancel();
            return Err(e);
        }
        client.request_len = request.len();
        client.response = None;
        client.server_error = None;
        *written = request.len();
        Ok(())
    })
}

/// Gives up on the request in flight (no-op when there is none).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_cancel(client: *mut ntp_control_client) -> ntp_result {
    boundary(|| {
        ptr::out(client)?.inner.cancel();
        Ok(())
    })
}

/// When `ntp_control_client_handle_timeout` is due, seconds on the
/// caller's monotonic clock. Returns `NTP_RESULT_NOT_FOUND` when no request
/// is in flight.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_deadline(client: *const ntp_control_client, deadline: *mut f64) -> ntp_result {
    boundary(|| {
        let client = ptr::read(client)?;
        let deadline = ptr::out(deadline)?;
        *deadline = client.inner.deadline().ok_or(ntp_result::NotFound)?;
        Ok(())
    })
}

/// The deadline may have passed (`now`, seconds): writes the request to
/// send again into `buf` and its length to `written`, or 0 when there is
/// nothing to send (not due yet, or no request in flight). After one
/// retry, the next expiry fails the request with `NTP_RESULT_CONTROL_TIMEOUT`.
///
/// `buf` must hold the original request (`NTP_RESULT_INSUFFICIENT_SIZE`
/// otherwise, with nothing changed).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_handle_timeout(
    client: *mut ntp_control_client,
    now: f64,
    buf: *mut u8,
    buf_len: usize,
    written: *mut usize,
) -> ntp_result {
    boundary(|| {
        let client = ptr::out(client)?;
        let written = ptr::out(written)?;
        let now = seconds(now)?;
        let dst = ptr::slice_mut(buf, buf_len)?;
        if client.inner.deadline().is_some() && dst.len() < client.request_len {
            return Err(ntp_result::InsufficientSize);
        }
        *written = match client.inner.handle_timeout(now)? {
            Some(again) => {
                dst.get_mut(..again.len()).ok_or(ntp_result::InsufficientSize)?.copy_from_slice(&again);
                again.len()
            }
            None => 0,
        };
        Ok(())
    })
}

/// A datagram arrived (`bytes`, `len`, read during the call only) at `now`
/// seconds: writes what it did to `event` (an `ntp_control_event`).
///
/// A datagram that is not for the request in flight is `IGNORED`, never an
/// error. Errors end the request: `NTP_RESULT_CONTROL_SERVER_ERROR` (the
/// code from `ntp_control_client_server_error`),
/// `NTP_RESULT_CONTROL_UNAUTHENTICATED`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_handle_datagram(
    client: *mut ntp_control_client,
    bytes: *const u8,
    len: usize,
    now: f64,
    event: *mut u32,
) -> ntp_result {
    boundary(|| {
        let client = ptr::out(client)?;
        let bytes = ptr::slice(bytes, len)?;
        let event = ptr::out(event)?;
        let now = seconds(now)?;
        let kind = match client.inner.handle_datagram(bytes, now) {
            Ok(ClientEvent::Complete(response)) => {
                client.response = Some(response);
                ntp_control_event::Complete
            }
            Ok(ClientEvent::Progress) => ntp_control_event::Progress,
            Ok(_) => ntp_control_event::Ignored,
            Err(ClientError::Server(code)) => {
                client.server_error = Some(code.to_bits());
                return Err(ntp_result::ControlServerError);
            }
            Err(e) => return Err(e.into()),
        };
        *event = kind as u32;
        Ok(())
    })
}

/// The mode 6 error code (RFC 9327 section 3: 1 permission, 2 bad format,
/// 3 bad opcode, 4 unknown association, 5 unknown variable, 6 bad value,
/// 7 prohibited) of the last request's error response. Returns
/// `NTP_RESULT_NOT_FOUND` when the last request got none.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_server_error(client: *const ntp_control_client, code: *mut u8) -> ntp_result {
    boundary(|| {
        let client = ptr::read(client)?;
        let code = ptr::out(code)?;
        *code = client.server_error.ok_or(ntp_result::NotFound)?;
        Ok(())
    })
}

fn held<'a>(client: *const ntp_control_client) -> Result<&'a ControlResponse, ntp_result> {
    ptr::read(client)?.response.as_ref().ok_or(ntp_result::ControlNoResponse)
}

/// The header of the held response. Returns `NTP_RESULT_CONTROL_NO_RESPONSE`
/// when none is held.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_response(
    client: *const ntp_control_client,
    out: *mut ntp_control_response,
) -> ntp_result {
    boundary(|| {
        let r = held(client)?;
        *ptr::out(out)? = ntp_control_response {
            opcode: r.opcode.to_bits(),
            authenticated: r.authenticated,
            association_id: r.association_id,
            status: r.status,
            data_len: r.data.len(),
        };
        Ok(())
    })
}

/// Copies the held response's reassembled data (`data_len` bytes) into
/// `buf` (`len` bytes) and writes its length to `written`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_response_data(
    client: *const ntp_control_client,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> ntp_result {
    boundary(|| {
        let r = held(client)?;
        let written = ptr::out(written)?;
        copy_out(buf, len, &r.data)?;
        *written = r.data.len();
        Ok(())
    })
}

/// The held READSTAT response as an association list: up to `capacity`
/// entries into `out` (may be NULL when `capacity` is 0), the number of
/// associations the server listed to `count`. Returns
/// `NTP_RESULT_INSUFFICIENT_SIZE` (with `*count` unchanged) when they do
/// not fit; `NTP_RESULT_INVALID_PARAMETER` when the held response answers
/// another opcode.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_associations(
    client: *const ntp_control_client,
    out: *mut ntp_control_association,
    capacity: usize,
    count: *mut usize,
) -> ntp_result {
    boundary(|| {
        let r = held(client)?;
        let dst = ptr::slice_mut(out, capacity)?;
        let count = ptr::out(count)?;
        if r.opcode != Opcode::ReadStatus {
            return Err(ntp_result::InvalidParameter);
        }
        let list = parse_association_list(&r.data);
        let dst = dst.get_mut(..list.len()).ok_or(ntp_result::InsufficientSize)?;
        for (slot, (id, status)) in dst.iter_mut().zip(&list) {
            *slot = ntp_control_association {
                association_id: *id,
                status: status.to_bits(),
                selection: status.selection.to_bits(),
                tally: tally(*status),
            };
        }
        *count = list.len();
        Ok(())
    })
}

/// The held READVAR response for association 0 as system variables.
/// Returns `NTP_RESULT_CONTROL_BAD_RESPONSE` when a known variable has a
/// malformed value, `NTP_RESULT_INVALID_PARAMETER` when the response is not
/// READVAR about association 0.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_system_vars(
    client: *const ntp_control_client,
    out: *mut ntp_control_system_vars,
) -> ntp_result {
    boundary(|| {
        let r = held(client)?;
        let out = ptr::out(out)?;
        if r.opcode != Opcode::ReadVariables || r.association_id != 0 {
            return Err(ntp_result::InvalidParameter);
        }
        let s = SystemVars::parse(&r.data)?;
        *out = ntp_control_system_vars {
            leap: int(s.leap),
            stratum: int(s.stratum),
            precision: int(s.precision),
            peer: int(s.peer),
            poll: int(s.poll),
            root_delay: float(s.root_delay),
            root_dispersion: float(s.root_dispersion),
            offset: float(s.offset),
            frequency_ppm: float(s.frequency_ppm),
            sys_jitter: float(s.sys_jitter),
            clk_jitter: float(s.clk_jitter),
            clk_wander_ppm: float(s.clk_wander_ppm),
            reference_time: stamp(s.reference_time),
            clock: stamp(s.clock),
            refid: c_text(s.refid.as_deref()),
            version: c_text(s.version.as_deref()),
            skipped: s.skipped,
        };
        Ok(())
    })
}

/// The held READVAR response for an association (not 0) as peer
/// variables. Errors as `ntp_control_client_system_vars`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_peer_vars(
    client: *const ntp_control_client,
    out: *mut ntp_control_peer_vars,
) -> ntp_result {
    boundary(|| {
        let r = held(client)?;
        let out = ptr::out(out)?;
        if r.opcode != Opcode::ReadVariables || r.association_id == 0 {
            return Err(ntp_result::InvalidParameter);
        }
        let p = PeerVars::parse(r.association_id, r.status, &r.data)?;
        let count = p.filter_delay.len().max(p.filter_offset.len()).max(p.filter_dispersion.len());
        *out = ntp_control_peer_vars {
            association_id: p.association_id,
            status: p.status.to_bits(),
            selection: p.status.selection.to_bits(),
            tally: tally(p.status),
            address: p.address.map_or(ntp_sockaddr::NONE, |ip| ntp_sockaddr::from_ip(ip, p.port.unwrap_or(0))),
            stratum: int(p.stratum),
            reach: int(p.reach),
            hmode: int(p.hmode),
            hpoll: int(p.hpoll),
            ppoll: int(p.ppoll),
            rec: stamp(p.rec),
            delay: float(p.delay),
            offset: float(p.offset),
            jitter: float(p.jitter),
            dispersion: float(p.dispersion),
            filter_count: count.min(NTP_CONTROL_FILTER_LEN),
            filter_delay: filter(&p.filter_delay),
            filter_offset: filter(&p.filter_offset),
            filter_dispersion: filter(&p.filter_dispersion),
            refid: c_text(p.refid.as_deref()),
            skipped: p.skipped,
        };
        Ok(())
    })
}

/// The held response as text, NUL-terminated, into `buf` (`len` bytes);
/// its length without the NUL to `written`. A READSTAT response gives one
/// `associd=N status=0xXXXX tally=C` line per association; any other
/// response one `name=value` line per variable (as `ntpq -c rv` lists
/// them, items that do not parse skipped).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_control_client_response_text(
    client: *const ntp_control_client,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> ntp_result {
    boundary(|| {
        let r = held(client)?;
        let dst = ptr::slice_mut(buf.cast::<u8>(), len)?;
        let written = ptr::out(written)?;
        let mut text = String::new();
        if r.opcode == Opcode::ReadStatus {
            for (id, status) in parse_association_list(&r.data) {
                let _ =
                    writeln!(text, "associd={id} status={:#06x} tally={}", status.to_bits(), status.selection.tally());
            }
        } else {
            // The typed parsers skip garbled items as ntpq does; when a
            // known variable has a malformed value, the list up to the
            // first unreadable item is still worth showing.
            let typed = match r.association_id {
                0 => SystemVars::parse(&r.data).map(|s| s.raw),
                id => PeerVars::parse(id, r.status, &r.data).map(|p| p.raw),
            };
            let vars = typed.unwrap_or_else(|_| {
                parse_var_list(&r.data)
                    .map_while(Result::ok)
                    .map(|item| (item.name.to_owned(), item.value.to_owned()))
                    .collect()
            });
            for (name, value) in vars {
                let _ = writeln!(text, "{name}={value}");
            }
        }
        *written = ptr::write_c_string(dst, &text)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_algo::{Engine, EngineConfig, Output};
    use ntp_wire::auth::Keyring;
    use std::net::SocketAddr;

    fn new_client() -> *mut ntp_control_client {
        let mut c = std::ptr::null_mut();
        assert_eq!(ntp_control_client_new(std::ptr::null(), 0, &mut c), ntp_result::Ok);
        c
    }

    /// Sends the request to an engine from loopback and feeds its answers back.
    fn exchange(engine: &mut Engine, c: *mut ntp_control_client, req: &[u8], at: f64) -> (ntp_result, u32) {
        let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let now = NtpTimestamp::from_unix(1_795_219_200, 0) + ntp_wire::NtpDuration::from_seconds_f64(at);
        engine.handle_datagram(now, from, req);
        let mut last = (ntp_result::Ok, u32::MAX);
        while let Some(out) = match engine.poll_output() {
            Output::Timeout(_) => None,
            other => Some(other),
        } {
            if let Output::Transmit(t) = out
                && t.destination == from
            {
                let mut event = u32::MAX;
                let rc = ntp_control_client_handle_datagram(c, t.payload().as_ptr(), t.payload().len(), at, &mut event);
                last = (rc, event);
            }
        }
        last
    }

    #[test]
    fn system_variables_round_trip_through_an_engine() {
        let mut engine = Engine::new(
            EngineConfig::default().with_local_reference(4),
            Keyring::new(),
            NtpTimestamp::from_unix(1_795_219_200, 0),
        );
        let c = new_client();
        let mut req = [0u8; 512];
        let mut n = 0;
        assert_eq!(
            ntp_control_client_request(
                c,
                NTP_CONTROL_OP_READ_VARIABLES,
                0,
                std::ptr::null(),
                0,
                1.0,
                req.as_mut_ptr(),
                512,
                &mut n
            ),
            ntp_result::Ok
        );
        assert_eq!(exchange(&mut engine, c, &req[..n], 1.0), (ntp_result::Ok, ntp_control_event::Complete as u32));
        let mut sys = std::mem::MaybeUninit::<ntp_control_system_vars>::zeroed();
        assert_eq!(ntp_control_client_system_vars(c, sys.as_mut_ptr()), ntp_result::Ok);
        // SAFETY: written by the call that returned Ok.
        let sys = unsafe { sys.assume_init() };
        assert_eq!(sys.stratum, 4);
        let mut text = [0 as c_char; 2048];
        let mut len = 0;
        assert_eq!(ntp_control_client_response_text(c, text.as_mut_ptr(), text.len(), &mut len), ntp_result::Ok);
        let text: Vec<u8> = text[..len].iter().map(|b| *b as u8).collect();
        assert!(String::from_utf8(text).unwrap().contains("stratum=4\n"));
        ntp_control_client_free(c);
    }

    #[test]
    fn a_short_buffer_starts_nothing_and_a_retry_needs_room() {
        let c = new_client();
        let mut buf = [0u8; 512];
        let mut n = 77;
        assert_eq!(
            ntp_control_client_request(c, 1, 0, std::ptr::null(), 0, 0.0, buf.as_mut_ptr(), 11, &mut n),
            ntp_result::InsufficientSize
        );
        assert_eq!(n, 77);
        let mut d = 0.0;
        assert_eq!(ntp_control_client_deadline(c, &mut d), ntp_result::NotFound);
        assert_eq!(
            ntp_control_client_request(c, 1, 0, std::ptr::null(), 0, 0.0, buf.as_mut_ptr(), 512, &mut n),
            ntp_result::Ok
        );
        assert_eq!(
            ntp_control_client_handle_timeout(c, 5.0, buf.as_mut_ptr(), n - 1, &mut n),
            ntp_result::InsufficientSize
        );
        assert_eq!(ntp_control_client_handle_timeout(c, 5.0, buf.as_mut_ptr(), 512, &mut n), ntp_result::Ok);
        assert_eq!(n, 12);
        assert_eq!(
            ntp_control_client_handle_timeout(c, 10.0, buf.as_mut_ptr(), 512, &mut n),
            ntp_result::ControlTimeout
        );
        ntp_control_client_free(c);
        ntp_control_client_free(std::ptr::null_mut());
    }

    #[test]
    fn strings_are_cut_at_a_character_boundary() {
        let long = "é".repeat(40);
        let out = c_text(Some(&long));
        let n = out.iter().position(|b| *b == 0).unwrap();
        assert!(n < NTP_CONTROL_TEXT_LEN && n % 2 == 0);
        assert_eq!(c_text(None)[0], 0);
    }
}
