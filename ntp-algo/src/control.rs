//! The mode 6 responder (RFC 9327): what `ntpq` reads from a node.
//!
//! The engine hands every mode 6 datagram here ([`ControlState::respond`]);
//! the answers are datagrams to the source. What is answered:
//!
//! | opcode | answer |
//! |---|---|
//! | READSTAT (1), association 0 | the system status word in the header; every association's id and peer status word as data |
//! | READSTAT (1), association N | its peer status word and its default variables (as ntpd) |
//! | READVAR (2), association 0 | the system variables: the default list, or exactly the named ones |
//! | READVAR (2), association N | the peer variables, likewise |
//! | REQ_NONCE (12) | `nonce=…`, valid 16 s, for the requester's address only |
//! | READ_MRU (10) | the recent clients the rate limiters track (`ntpq -c mrulist`), with a valid nonce |
//! | WRITEVAR (3), WRITECLOCK (5), CONFIGURE (8), SAVECONFIG (9) | PERMISSION without the trusted control key; BADOP with it (writing is not implemented) |
//! | anything else | BADOP |
//!
//! # Who is answered
//!
//! A source is answered only when both the engine's access list and the
//! control access list ([`ControlConfig::access`], loopback only by
//! default) give it a class that allows queries (`peer`, `serve`,
//! `query-only`), and the control rate limiter lets the request through.
//! Anything else is dropped without a byte back, so an unauthorised source
//! can never use a node as an amplifier. Allowed sources are bounded by
//! the rate limiter; READ_MRU, the one request whose answer can be many
//! fragments, also needs a nonce that only the address it was sent to
//! could have read.
//!
//! # Following ntpd
//!
//! * Requests with R, E or M set, a non-zero offset, or shorter than the
//!   header are dropped; a length that is not a multiple of 4, a count over
//!   468 or a count past the datagram get BADFMT (`process_control`).
//! * A request whose MAC verifies with a trusted key gets responses signed
//!   with that key (the MAC at round8(12 + count), as ntpd puts it). A
//!   request whose MAC fails is still answered for reads, unsigned, as
//!   ntpd does; `ntpq` then reports the response as unauthenticated.
//! * The first unknown name in a READVAR list makes the whole answer
//!   UNKNOWNVAR.
//!
//! Departures: association ids above 65535 (the engine's are `u32`) are not
//! reachable over mode 6; the MRU list is read from the rate limiters'
//! tables, so without rate limiting on time requests it shows only control
//! clients; `flash` is always 0 and `headway` 0 (the engine keeps neither).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ntp_wire::auth::{AuthError, Key};
use ntp_wire::control::{
    CONTROL_HEADER_LEN, ControlPacket, ControlRepr, ErrorCode, MAX_DATA_LEN, MAX_PAYLOAD_LEN, Opcode, VarListError,
    fragments, parse_var_list,
};
use ntp_wire::{LeapIndicator, NtpTimestamp, Version};

use crate::access::{AccessClass, AccessList, Prefix};
use crate::control_mru::{self, NonceKey};
use crate::control_vars::{self, PEER_DEFAULTS, SYSTEM_DEFAULTS};
use crate::engine::Engine;
use crate::ids::AssociationId;
use crate::ratelimit::{RateDecision, RateLimitConfig, RateLimiter};

/// The longest control datagram the responder sends: 12 + 468 bytes of
/// data and a 24-byte MAC (SHA-1 digest and key id).
pub(crate) const MAX_CONTROL_DATAGRAM: usize = CONTROL_HEADER_LEN + MAX_DATA_LEN + 24;

/// How the mode 6 responder behaves ([`crate::EngineConfig::control`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ControlConfig {
    /// Who may query, on top of the engine's access list: a source is
    /// answered only when both lists give it a class that allows queries.
    /// Default: `query-only` for 127.0.0.0/8 and ::1, `ignore` for the
    /// rest (ntpd answers everyone unless told `noquery`; loopback only is
    /// the safer default for a daemon that also serves the internet).
    pub access: AccessList,
    /// Rate limiting of control requests per source; `None` answers every
    /// allowed request. Default: a bucket of 64 requests refilled at 8 per
    /// second with no minimum spacing, room for `ntpq -p` with many
    /// associations while bounding what one source can draw.
    pub rate_limit: Option<RateLimitConfig>,
    /// The key id whose trusted key allows writes (ntpd's `controlkey`).
    /// Writes are not implemented: with this key they get BADOP, without it
    /// PERMISSION.
    pub control_key: Option<u32>,
    /// Secret for the READ_MRU nonces. `None` draws one at random when the
    /// engine is built; set it for reproducible runs.
    pub nonce_secret: Option<u64>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        let mut access = AccessList::new(AccessClass::Ignore);
        if let Ok(prefix) = Prefix::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8) {
            access.add(prefix, AccessClass::QueryOnly);
        }
        access.add(Prefix::host(IpAddr::V6(Ipv6Addr::LOCALHOST)), AccessClass::QueryOnly);
        // No minimum spacing: ntpq sends its requests back to back, and the
        // daemon stamps a whole received batch with one clock reading.
        let limit = RateLimitConfig {
            burst: 64,
            average_log2: -3,
            minimum_log2: RateLimitConfig::NO_MINIMUM_SPACING,
            capacity: 256,
            send_kod: false,
        };
        ControlConfig { access, rate_limit: Some(limit), control_key: None, nonce_secret: None }
    }
}

impl ControlConfig {
    /// Answers queries from every source the engine's access list allows
    /// to query (as ntpd does without `noquery`).
    #[must_use]
    pub fn open() -> Self {
        ControlConfig { access: AccessList::allow_all(), ..ControlConfig::default() }
    }
}

/// Counters of the mode 6 responder ([`Engine::control_counters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ControlCounters {
    /// Requests answered (with data or an error response).
    pub answered: u64,
    /// Of those, error responses.
    pub errors: u64,
    /// Of those, signed.
    pub signed: u64,
    /// Datagrams sent (fragments count one each).
    pub datagrams: u64,
    /// Dropped: shorter than the header, R/E/M set, offset not 0, bad version.
    pub malformed: u64,
    /// Dropped: access does not allow queries.
    pub access_denied: u64,
    /// Dropped by the rate limiter.
    pub rate_limited: u64,
    /// Requests whose MAC did not verify.
    pub auth_failed: u64,
}

/// The responder's state inside the engine.
#[derive(Debug, Default)]
pub(crate) struct ControlState {
    limiter: Option<RateLimiter>,
    nonce_key: NonceKey,
    counters: ControlCounters,
}

/// Whether a datagram is a mode 6 message (the mode bits of its first byte).
#[inline]
pub(crate) fn is_control(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| b & 7 == 6)
}

/// One request and what the engine knows about it.
pub(crate) struct Incoming<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) source: SocketAddr,
    pub(crate) now: NtpTimestamp,
    /// `now` on the engine's timeline, seconds.
    pub(crate) t: f64,
}

/// What the engine should send back: zero or more datagrams to the source.
pub(crate) type Datagrams = Vec<Vec<u8>>;

const R_E_M: u8 = 0xe0;

impl ControlState {
    pub(crate) fn new(config: &ControlConfig) -> Self {
        ControlState {
            limiter: config.rate_limit.map(RateLimiter::new),
            nonce_key: NonceKey::new(config.nonce_secret),
            counters: ControlCounters::default(),
        }
    }

    pub(crate) fn counters(&self) -> &ControlCounters {
        &self.counters
    }

    pub(crate) fn limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_ref()
    }

    /// Answers one mode 6 datagram (see the module docs).
    pub(crate) fn respond(&mut self, engine: &Engine, request: &Incoming<'_>) -> Datagrams {
        let bytes = request.bytes;
        let (Some(&first), Some(&flags)) = (bytes.first(), bytes.get(1)) else {
            self.counters.malformed += 1;
            return Vec::new();
        };
        if bytes.len() < CONTROL_HEADER_LEN
            || flags & R_E_M != 0
            || header_u16(bytes, 8) != 0
            || matches!(Version::from_bits(first >> 3), Version::Unknown(_))
        {
            self.counters.malformed += 1;
            return Vec::new();
        }
        let ip = request.source.ip();
        let config = &engine.config().control;
        if !engine.config().access.classify(ip).allows_queries() || !config.access.classify(ip).allows_queries() {
            self.counters.access_denied += 1;
            return Vec::new();
        }
        if let Some(limiter) = self.limiter.as_mut()
            && limiter.check_tagged(ip, request.source.port(), request.t, first & 0x3f) != RateDecision::Allow
        {
            self.counters.rate_limited += 1;
            return Vec::new();
        }
        let leap = engine.system().leap;
        let count = usize::from(header_u16(bytes, 10));
        if bytes.len() % 4 != 0 || count > MAX_DATA_LEN || CONTROL_HEADER_LEN + count > bytes.len() {
            let head = ControlPacket::new_unchecked(bytes.get(..CONTROL_HEADER_LEN).unwrap_or(&[]));
            let header = ControlRepr::parse(&head);
            return self.finish(ErrorCode::BadFormat.into(), &header, leap, None);
        }
        // The checks above leave only a trailer of an odd length for
        // new_checked to refuse; such a request is read without its MAC.
        let packet = ControlPacket::new_unchecked(bytes);
        let repr = ControlRepr::parse(&packet);
        let key = match ControlPacket::new_checked(bytes).map(|p| p.verify(engine.keys()).cloned()) {
            Ok(Ok(key)) => Some(key),
            Ok(Err(AuthError::NoMac)) | Err(_) => None,
            Ok(Err(_)) => {
                self.counters.auth_failed += 1;
                None
            }
        };
        let answer = self.answer(engine, request, &repr, key.as_ref());
        self.finish(answer, &repr, leap, key.as_ref())
    }

    fn answer(&mut self, engine: &Engine, request: &Incoming<'_>, repr: &ControlRepr<'_>, key: Option<&Key>) -> Answer {
        let now = request.now;
        match repr.opcode {
            Opcode::ReadStatus if repr.association_id == 0 => {
                let mut data = Vec::with_capacity(4 * engine.associations().count());
                let mut ids: Vec<_> = engine.associations().filter_map(|a| mode6_id(a.id())).collect();
                ids.sort_unstable();
                for id in ids {
                    let word = control_vars::peer_status_word(engine, AssociationId(u32::from(id)));
                    data.extend_from_slice(&id.to_be_bytes());
                    data.extend_from_slice(&word.to_be_bytes());
                }
                Answer::Data { status: control_vars::system_status_word(engine), data }
            }
            Opcode::ReadStatus | Opcode::ReadVariables if repr.association_id == 0 => {
                let names = match requested_names(repr.data, SYSTEM_DEFAULTS) {
                    Ok(names) => names,
                    Err(code) => return code.into(),
                };
                let status = control_vars::system_status_word(engine);
                list_answer(status, |w, name| control_vars::system_var(engine, now, name, w), &names)
            }
            Opcode::ReadStatus | Opcode::ReadVariables => {
                let id = AssociationId(u32::from(repr.association_id));
                let Some(association) = engine.association(id) else { return ErrorCode::BadAssociation.into() };
                let names = match requested_names(repr.data, PEER_DEFAULTS) {
                    Ok(names) => names,
                    Err(code) => return code.into(),
                };
                let status = control_vars::peer_status_word(engine, id);
                list_answer(status, |w, name| control_vars::peer_var(engine, association, now, name, w), &names)
            }
            Opcode::RequestNonce => {
                let status = control_vars::system_status_word(engine);
                let text = self.nonce_key.issue(request.source.ip(), now);
                let mut data = Vec::with_capacity(text.len() + 8);
                data.extend_from_slice(b"nonce=");
                data.extend_from_slice(text.as_bytes());
                data.extend_from_slice(b"\r\n");
                Answer::Data { status, data }
            }
            Opcode::ReadMru => {
                let status = control_vars::system_status_word(engine);
                match control_mru::read_mru(engine, self, request, repr.data) {
                    Ok(data) => Answer::Data { status, data },
                    Err(code) => code.into(),
                }
            }
            Opcode::WriteVariables | Opcode::WriteClock | Opcode::Configure | Opcode::SaveConfig => {
                let config = &engine.config().control;
                let controls = key.is_some_and(|k| Some(k.id()) == config.control_key);
                if controls { ErrorCode::BadOpcode.into() } else { ErrorCode::Permission.into() }
            }
            _ => ErrorCode::BadOpcode.into(),
        }
    }

    pub(crate) fn nonce_key(&self) -> &NonceKey {
        &self.nonce_key
    }

    /// The datagrams of an answer, signed with `key` when there is one.
    fn finish(
        &mut self,
        answer: Answer,
        request: &ControlRepr<'_>,
        leap: LeapIndicator,
        key: Option<&Key>,
    ) -> Datagrams {
        let mut out = Vec::new();
        let template = ControlRepr {
            leap,
            version: request.version,
            response: true,
            opcode: request.opcode,
            sequence: request.sequence,
            association_id: request.association_id,
            ..ControlRepr::default()
        };
        let error = matches!(answer, Answer::Error(_));
        match answer {
            Answer::Error(code) => {
                let repr = ControlRepr::error_response(request, code, leap);
                out.extend(emit(&repr, key));
            }
            Answer::Data { status, data } => {
                // The payload is bounded by the writer (MAX_PAYLOAD_LEN); a
                // longer one would be a bug here, answered as an error.
                match fragments(&data) {
                    Ok(parts) => {
                        for part in parts {
                            out.extend(emit(&part.apply(ControlRepr { status, ..template }), key));
                        }
                    }
                    Err(_) => {
                        out.extend(emit(&ControlRepr::error_response(request, ErrorCode::Unspecified, leap), key))
                    }
                }
            }
        }
        self.counters.answered += 1;
        self.counters.errors += u64::from(error);
        self.counters.signed += u64::from(key.is_some());
        self.counters.datagrams += out.len() as u64;
        out
    }
}

/// What a request gets, before fragmentation and signing.
#[derive(Debug)]
pub(crate) enum Answer {
    Data { status: u16, data: Vec<u8> },
    Error(ErrorCode),
}

impl From<ErrorCode> for Answer {
    fn from(code: ErrorCode) -> Self {
        Answer::Error(code)
    }
}

fn emit(repr: &ControlRepr<'_>, key: Option<&Key>) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; MAX_CONTROL_DATAGRAM];
    let len = match key {
        Some(key) => repr.emit_signed(&mut buf, key).ok()?,
        None => repr.emit(&mut buf).ok()?,
    };
    buf.truncate(len);
    Some(buf)
}

fn header_u16(bytes: &[u8], at: usize) -> u16 {
    match (bytes.get(at), bytes.get(at + 1)) {
        (Some(&hi), Some(&lo)) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

/// The id an association has on the wire, if it fits 16 bits (0 is the system).
pub(crate) fn mode6_id(id: AssociationId) -> Option<u16> {
    u16::try_from(id.0).ok().filter(|&id| id != 0)
}

/// The names a READVAR asks for: the defaults for an empty list. A list
/// that does not parse is BADFMT.
fn requested_names<'a>(data: &'a [u8], defaults: &'a [&'a str]) -> Result<Vec<&'a str>, ErrorCode> {
    let mut names = Vec::new();
    for item in parse_var_list(data) {
        let item = item.map_err(|_| ErrorCode::BadFormat)?;
        names.push(item.name);
        if names.len() > 256 {
            return Err(ErrorCode::BadFormat);
        }
    }
    if names.is_empty() {
        names.extend_from_slice(defaults);
    }
    Ok(names)
}

/// Writes `names` with `write` (false: unknown name); the first unknown
/// name is UNKNOWNVAR, a list beyond 32 fragments BADVALUE.
fn list_answer(
    status: u16,
    mut write: impl FnMut(&mut ntp_wire::control::VarListWriter<'_>, &str) -> Result<bool, VarListError>,
    names: &[&str],
) -> Answer {
    let mut buf = vec![0u8; MAX_PAYLOAD_LEN];
    let mut writer = ntp_wire::control::VarListWriter::new(&mut buf);
    for name in names {
        match write(&mut writer, name) {
            Ok(true) => {}
            Ok(false) => return ErrorCode::UnknownVariable.into(),
            Err(_) => return ErrorCode::BadValue.into(),
        }
    }
    match writer.finish() {
        Ok(len) => {
            buf.truncate(len);
            Answer::Data { status, data: buf }
        }
        Err(_) => ErrorCode::BadValue.into(),
    }
}
