//! A sans-IO mode 6 client: what `ntpq` does, without the socket.
//!
//! [`ControlClient::request`] builds a request (a fresh sequence number,
//! signed when the client has a key) and returns the bytes to send; the
//! caller feeds every datagram that arrives to
//! [`ControlClient::handle_datagram`] and calls
//! [`ControlClient::handle_timeout`] when [`ControlClient::deadline`]
//! passes. Deadlines follow `ntpq`: 5 s for the first fragment, 3 s for
//! each further one; after the first expiry the request is sent once more
//! (the same sequence number, so late fragments of the first try still
//! count), after the second the request fails.
//!
//! Times are `f64` seconds on the caller's monotonic timeline.
//!
//! [`SystemVars`] and [`PeerVars`] read the variable lists into typed
//! values, in seconds (ntpd sends milliseconds) and ppm.

use std::net::IpAddr;

use ntp_wire::NtpTimestamp;
use ntp_wire::auth::Key;
use ntp_wire::control::{
    ControlError, ControlPacket, ControlRepr, ErrorCode, MAX_PAYLOAD_LEN, Opcode, PeerStatus, ReassemblyError,
    VarListError, parse_var_list,
};

/// Seconds to wait for the first fragment of a response (ntpq's).
pub const FIRST_FRAGMENT_TIMEOUT: f64 = 5.0;
/// Seconds to wait for each further fragment (ntpq's).
pub const NEXT_FRAGMENT_TIMEOUT: f64 = 3.0;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A request is already waiting for its response.
    #[error("a request is already in flight")]
    Busy,
    /// The request could not be built (data longer than 468 bytes).
    #[error("request: {0}")]
    Request(#[from] ControlError),
    /// The server answered with an error code.
    #[error("server answered: {0}")]
    Server(ErrorCode),
    /// No complete response after the retry.
    #[error("no response (timed out after one retry)")]
    Timeout,
    /// The response's MAC did not verify with the client's key.
    #[error("response not authenticated")]
    Unauthenticated,
    /// The response's variable list did not parse.
    #[error("response: {0}")]
    VarList(#[from] VarListError),
    /// An MRU list walk failed ([`crate::MruWalk`]).
    #[error("MRU list: {0}")]
    Mru(#[from] crate::control_mru_client::MruError),
    /// A value did not have the expected form.
    #[error("variable {name}: bad value {value:?}")]
    BadValue {
        /// The variable.
        name: String,
        /// Its text.
        value: String,
    },
}

/// A complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlResponse {
    /// The opcode it answers.
    pub opcode: Opcode,
    /// The association it is about (0: the system).
    pub association_id: u16,
    /// The status word of its last fragment (system or peer status).
    pub status: u16,
    /// The reassembled data.
    pub data: Vec<u8>,
    /// Whether every fragment verified with the client's key.
    pub authenticated: bool,
}

/// What a datagram did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// Not for the request in flight (or refused as a fragment); ignored.
    Ignored,
    /// A fragment was taken; more are awaited.
    Progress,
    /// The response is complete.
    Complete(ControlResponse),
}

#[derive(Debug)]
struct Pending {
    request: Vec<u8>,
    sequence: u16,
    opcode: Opcode,
    association_id: u16,
    fragments: Vec<Vec<u8>>,
    deadline: f64,
    retried: bool,
}

/// The client (see the module docs).
#[derive(Debug)]
pub struct ControlClient {
    key: Option<Key>,
    sequence: u16,
    pending: Option<Pending>,
}

impl ControlClient {
    /// A client; requests are signed with `key` when given, and responses
    /// must then verify with it.
    pub fn new(key: Option<Key>) -> Self {
        ControlClient { key, sequence: 0, pending: None }
    }

    /// Builds a request and returns the datagram to send; `now` starts its
    /// deadline.
    pub fn request(
        &mut self,
        opcode: Opcode,
        association_id: u16,
        data: &[u8],
        now: f64,
    ) -> Result<Vec<u8>, ClientError> {
        if self.pending.is_some() {
            return Err(ClientError::Busy);
        }
        self.sequence = self.sequence.wrapping_add(1).max(1);
        let repr = ControlRepr { opcode, association_id, sequence: self.sequence, data, ..ControlRepr::default() };
        let mut buf = vec![0u8; 600];
        let len = match &self.key {
            Some(key) => repr.emit_signed(&mut buf, key)?,
            None => repr.emit(&mut buf)?,
        };
        buf.truncate(len);
        self.pending = Some(Pending {
            request: buf.clone(),
            sequence: self.sequence,
            opcode,
            association_id,
            fragments: Vec::new(),
            deadline: now + FIRST_FRAGMENT_TIMEOUT,
            retried: false,
        });
        Ok(buf)
    }

    /// When [`ControlClient::handle_timeout`] is due, if a request is in flight.
    pub fn deadline(&self) -> Option<f64> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// Gives up on the request in flight.
    pub fn cancel(&mut self) {
        self.pending = None;
    }

    /// The deadline passed: the request to send again (once), or the error.
    pub fn handle_timeout(&mut self, now: f64) -> Result<Option<Vec<u8>>, ClientError> {
        let Some(pending) = self.pending.as_mut() else { return Ok(None) };
        if now < pending.deadline {
            return Ok(None);
        }
        if pending.retried {
            self.pending = None;
            return Err(ClientError::Timeout);
        }
        pending.retried = true;
        pending.deadline = now + FIRST_FRAGMENT_TIMEOUT;
        Ok(Some(pending.request.clone()))
    }

    /// A datagram arrived at `now`.
    pub fn handle_datagram(&mut self, bytes: &[u8], now: f64) -> Result<ClientEvent, ClientError> {
        let Some(pending) = self.pending.as_mut() else { return Ok(ClientEvent::Ignored) };
        let Ok(packet) = ControlPacket::new_checked(bytes) else { return Ok(ClientEvent::Ignored) };
        if !packet.is_response() || packet.sequence() != pending.sequence || packet.opcode() != pending.opcode {
            return Ok(ClientEvent::Ignored);
        }
        if let Some(key) = &self.key
            && packet.verify(core::slice::from_ref(key)).is_err()
        {
            self.pending = None;
            return Err(ClientError::Unauthenticated);
        }
        if let Some(code) = packet.error_code() {
            self.pending = None;
            return Err(ClientError::Server(code));
        }
        // Replay the held fragments and the new one through a reassembler;
        // a fragment it refuses (duplicate, overlap, too many) is ignored.
        let mut store = vec![0u8; MAX_PAYLOAD_LEN];
        let mut reassembler = ntp_wire::control::Reassembler::new(&mut store, pending.sequence, pending.opcode);
        for held in &pending.fragments {
            if let Ok(held) = ControlPacket::new_checked(&held[..]) {
                let _ = reassembler.push(&held);
            }
        }
        match reassembler.push(&packet) {
            Ok(_) => {}
            Err(ReassemblyError::ServerError { code }) => {
                self.pending = None;
                return Err(ClientError::Server(code));
            }
            Err(_) => return Ok(ClientEvent::Ignored),
        }
        if let Ok(data) = reassembler.payload() {
            let response = ControlResponse {
                opcode: pending.opcode,
                association_id: pending.association_id,
                status: reassembler.status(),
                data: data.to_vec(),
                authenticated: self.key.is_some(),
            };
            self.pending = None;
            return Ok(ClientEvent::Complete(response));
        }
        pending.fragments.push(bytes.to_vec());
        pending.deadline = now + NEXT_FRAGMENT_TIMEOUT;
        Ok(ClientEvent::Progress)
    }
}

/// READSTAT's data: association ids and their peer status words.
pub fn parse_association_list(data: &[u8]) -> Vec<(u16, PeerStatus)> {
    data.chunks_exact(4)
        .filter_map(|c| match c {
            [a, b, s, t] => Some((u16::from_be_bytes([*a, *b]), PeerStatus::from_bits(u16::from_be_bytes([*s, *t])))),
            _ => None,
        })
        .collect()
}

fn bad(name: &str, value: &str) -> ClientError {
    ClientError::BadValue { name: name.to_owned(), value: value.to_owned() }
}

fn number<T: core::str::FromStr>(name: &str, value: &str) -> Result<T, ClientError> {
    value.trim().parse().map_err(|_| bad(name, value))
}

/// Milliseconds as ntpd writes them, in seconds.
fn millis(name: &str, value: &str) -> Result<f64, ClientError> {
    let ms: f64 = number(name, value)?;
    if !ms.is_finite() {
        return Err(bad(name, value));
    }
    Ok(ms / 1e3)
}

/// `0x1a` (or decimal) as an integer.
fn hex(name: &str, value: &str) -> Result<u64, ClientError> {
    let v = value.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(digits) => u64::from_str_radix(digits, 16).map_err(|_| bad(name, value)),
        None => number(name, v),
    }
}

/// `0xeca55e7d.34197c1e`, ntpd's timestamp format.
pub fn parse_timestamp(value: &str) -> Option<NtpTimestamp> {
    let v = value.trim();
    let digits = v.strip_prefix("0x").unwrap_or(v);
    let (seconds, fraction) = digits.split_once('.')?;
    if seconds.len() > 8 || fraction.len() > 8 {
        return None;
    }
    Some(NtpTimestamp::from_parts(u32::from_str_radix(seconds, 16).ok()?, u32::from_str_radix(fraction, 16).ok()?))
}

fn timestamp(name: &str, value: &str) -> Result<NtpTimestamp, ClientError> {
    parse_timestamp(value).ok_or_else(|| bad(name, value))
}

/// A filter array (` 0.12 0.34 …` ms), in seconds.
fn array(name: &str, value: &str) -> Result<Vec<f64>, ClientError> {
    value.split_whitespace().take(8).map(|v| millis(name, v)).collect()
}

/// The system variables (`ntpq -c rv`), as far as the response carries them.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SystemVars {
    /// `version`.
    pub version: Option<String>,
    /// `leap`, the leap indicator bits.
    pub leap: Option<u8>,
    /// `stratum`.
    pub stratum: Option<u8>,
    /// `precision`, log2 seconds.
    pub precision: Option<i8>,
    /// `rootdelay`, seconds.
    pub root_delay: Option<f64>,
    /// `rootdisp`, seconds.
    pub root_dispersion: Option<f64>,
    /// `refid` as sent (an address or a text code).
    pub refid: Option<String>,
    /// `reftime`.
    pub reference_time: Option<NtpTimestamp>,
    /// `clock`: the server's clock when it answered.
    pub clock: Option<NtpTimestamp>,
    /// `peer`: the system peer's association id (0: none).
    pub peer: Option<u16>,
    /// `tc`: the system poll interval, log2 seconds.
    pub poll: Option<i8>,
    /// `offset`, seconds.
    pub offset: Option<f64>,
    /// `frequency`, ppm.
    pub frequency_ppm: Option<f64>,
    /// `sys_jitter`, seconds.
    pub sys_jitter: Option<f64>,
    /// `clk_jitter`, seconds.
    pub clk_jitter: Option<f64>,
    /// `clk_wander`, ppm.
    pub clk_wander_ppm: Option<f64>,
    /// Every variable as sent, in order.
    pub raw: Vec<(String, String)>,
    /// Items of the list that did not parse and were skipped.
    pub skipped: usize,
}

/// Where a list error is.
fn error_offset(e: &VarListError) -> Option<usize> {
    match *e {
        VarListError::EmptyName { offset }
        | VarListError::NameTooLong { offset, .. }
        | VarListError::ValueTooLong { offset, .. }
        | VarListError::BadNameByte { offset, .. }
        | VarListError::BadValueByte { offset, .. }
        | VarListError::UnterminatedQuote { offset }
        | VarListError::AfterQuote { offset } => Some(offset),
        _ => None,
    }
}

/// Every `name=value` of a list, owned, and how many items were skipped.
///
/// Read as `ntpq` reads it: an item that does not parse is skipped up to
/// the next comma, and the rest is still read. NTPsec 1.2.2 needs this: its
/// filter arrays can carry stray bytes (a `\x04` or `\xe0` inside
/// `filtdisp=` when the list crosses a fragment boundary). More than 64
/// skipped items make the list garbage.
fn raw_list(data: &[u8]) -> Result<(Vec<(String, String)>, usize), ClientError> {
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut start = 0;
    'lists: while let Some(rest) = data.get(start..) {
        for item in parse_var_list(rest) {
            match item {
                Ok(item) => out.push((item.name.to_owned(), item.value.to_owned())),
                Err(e) => {
                    skipped += 1;
                    let at = error_offset(&e).ok_or(e)?;
                    let comma = rest.get(at..).and_then(|r| r.iter().position(|&b| b == b','));
                    match comma {
                        Some(_) if skipped > 64 => return Err(e.into()),
                        Some(comma) => {
                            start += at + comma + 1;
                            continue 'lists;
                        }
                        None => break 'lists,
                    }
                }
            }
        }
        break;
    }
    Ok((out, skipped))
}

impl SystemVars {
    /// Reads a READVAR (association 0) response's data.
    pub fn parse(data: &[u8]) -> Result<SystemVars, ClientError> {
        let (raw, skipped) = raw_list(data)?;
        let mut s = SystemVars { skipped, ..SystemVars::default() };
        for (name, value) in &raw {
            let (n, v) = (name.as_str(), value.as_str());
            match n {
                "version" => s.version = Some(v.to_owned()),
                "leap" => s.leap = Some(number(n, v)?),
                "stratum" => s.stratum = Some(number(n, v)?),
                "precision" => s.precision = Some(number(n, v)?),
                "rootdelay" => s.root_delay = Some(millis(n, v)?),
                "rootdisp" => s.root_dispersion = Some(millis(n, v)?),
                "refid" => s.refid = Some(v.to_owned()),
                "reftime" => s.reference_time = Some(timestamp(n, v)?),
                "clock" => s.clock = Some(timestamp(n, v)?),
                "peer" => s.peer = Some(number(n, v)?),
                "tc" => s.poll = Some(number(n, v)?),
                "offset" => s.offset = Some(millis(n, v)?),
                "frequency" => s.frequency_ppm = Some(number(n, v)?),
                "sys_jitter" => s.sys_jitter = Some(millis(n, v)?),
                "clk_jitter" => s.clk_jitter = Some(millis(n, v)?),
                "clk_wander" => s.clk_wander_ppm = Some(number(n, v)?),
                _ => {}
            }
        }
        s.raw = raw;
        Ok(s)
    }
}

/// One association's variables (`ntpq -c "rv &N"`).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct PeerVars {
    /// The association id.
    pub association_id: u16,
    /// The peer status word of the response.
    pub status: PeerStatus,
    /// `srcadr`.
    pub address: Option<IpAddr>,
    /// `srcport`.
    pub port: Option<u16>,
    /// `stratum`.
    pub stratum: Option<u8>,
    /// `refid` as sent.
    pub refid: Option<String>,
    /// `reach`, the 8-bit register.
    pub reach: Option<u8>,
    /// `hmode`: our side's mode.
    pub hmode: Option<u8>,
    /// `hpoll`, log2 seconds.
    pub hpoll: Option<i8>,
    /// `ppoll`, log2 seconds.
    pub ppoll: Option<i8>,
    /// `rec`: when its last packet arrived.
    pub rec: Option<NtpTimestamp>,
    /// `delay`, seconds.
    pub delay: Option<f64>,
    /// `offset`, seconds.
    pub offset: Option<f64>,
    /// `jitter`, seconds.
    pub jitter: Option<f64>,
    /// `dispersion`, seconds.
    pub dispersion: Option<f64>,
    /// `filtdelay`, seconds, newest first.
    pub filter_delay: Vec<f64>,
    /// `filtoffset`, seconds, newest first.
    pub filter_offset: Vec<f64>,
    /// `filtdisp`, seconds, newest first.
    pub filter_dispersion: Vec<f64>,
    /// Every variable as sent, in order.
    pub raw: Vec<(String, String)>,
    /// Items of the list that did not parse and were skipped.
    pub skipped: usize,
}

impl PeerVars {
    /// Reads a READVAR response's data for association `association_id`
    /// whose status word was `status`.
    pub fn parse(association_id: u16, status: u16, data: &[u8]) -> Result<PeerVars, ClientError> {
        let (raw, skipped) = raw_list(data)?;
        let mut p = PeerVars { association_id, status: PeerStatus::from_bits(status), skipped, ..PeerVars::default() };
        for (name, value) in &raw {
            let (n, v) = (name.as_str(), value.as_str());
            match n {
                "srcadr" => p.address = Some(number(n, v)?),
                "srcport" => p.port = Some(number(n, v)?),
                "stratum" => p.stratum = Some(number(n, v)?),
                "refid" => p.refid = Some(v.to_owned()),
                "reach" => p.reach = Some(u8::try_from(hex(n, v)?).map_err(|_| bad(n, v))?),
                "hmode" => p.hmode = Some(number(n, v)?),
                "hpoll" => p.hpoll = Some(number(n, v)?),
                "ppoll" => p.ppoll = Some(number(n, v)?),
                "rec" => p.rec = Some(timestamp(n, v)?),
                "delay" => p.delay = Some(millis(n, v)?),
                "offset" => p.offset = Some(millis(n, v)?),
                "jitter" => p.jitter = Some(millis(n, v)?),
                "dispersion" => p.dispersion = Some(millis(n, v)?),
                "filtdelay" => p.filter_delay = array(n, v)?,
                "filtoffset" => p.filter_offset = array(n, v)?,
                "filtdisp" => p.filter_dispersion = array(n, v)?,
                _ => {}
            }
        }
        p.raw = raw;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_garbled_item_is_skipped_as_ntpq_does() {
        // NTPsec 1.2.2's answer, with the stray byte it really sent.
        let data = b"reach=0x1, filtdisp= 0.27 0.0\x04 0.00, flash=0x400, headway=13\r\n";
        let peer = PeerVars::parse(1, 0, data).unwrap();
        assert_eq!(peer.reach, Some(1));
        assert_eq!(peer.skipped, 1);
        assert!(peer.filter_dispersion.is_empty());
        assert_eq!(peer.raw.last().unwrap(), &("headway".to_owned(), "13".to_owned()));
        // Garbage at the end: what came before is kept.
        let (list, skipped) = raw_list(b"a=1, b=\x01").unwrap();
        assert_eq!((list.len(), skipped), (1, 1));
        // Too much garbage is an error.
        let noise: Vec<u8> = std::iter::repeat_n(&b"x=\x01,"[..], 70).flatten().copied().collect();
        assert!(raw_list(&noise).is_err());
    }

    #[test]
    fn test_timestamps_and_numbers() {
        assert_eq!(parse_timestamp("0xeca55e7d.34197c1e"), Some(NtpTimestamp::from_parts(0xeca5_5e7d, 0x3419_7c1e)));
        assert_eq!(parse_timestamp("eca55e7d.34197c1e"), Some(NtpTimestamp::from_parts(0xeca5_5e7d, 0x3419_7c1e)));
        assert_eq!(parse_timestamp("0x1.2.3"), None);
        assert_eq!(parse_timestamp("0x123456789.0"), None);
        let system = SystemVars::parse(b"offset=-1.5, rootdelay=2.000, frequency=3.25\r\n").unwrap();
        assert_eq!(system.offset, Some(-0.0015));
        assert_eq!(system.root_delay, Some(0.002));
        assert_eq!(system.frequency_ppm, Some(3.25));
        assert!(matches!(SystemVars::parse(b"stratum=banana"), Err(ClientError::BadValue { .. })));
        assert!(matches!(SystemVars::parse(b"offset=nan"), Err(ClientError::BadValue { .. })));
    }
}
