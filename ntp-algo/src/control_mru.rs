//! REQ_NONCE and READ_MRU: the list of recent clients `ntpq -c mrulist`
//! reads, as ntpd serves it.
//!
//! A READ_MRU answer can be 32 fragments, so ntpd asks first for a nonce
//! that only the requesting address could have received: `nonce=` then
//! 24 hex digits, the issuing time (NTP seconds and fraction) and a keyed
//! hash (SipHash-2-4 under the engine's nonce secret) of that time and the
//! address. It is valid for 16 s ([`NONCE_LIFETIME`], ntpq's
//! `NONCE_TIMEOUT`) from that address only; nothing is stored per nonce.
//!
//! The list comes from the rate limiters' tables (the time responder's
//! and the control responder's), oldest first; each answer carries a fresh
//! nonce, as many entries as fit the fragments asked for (`frags=`, at most
//! 32) or the rows (`limit=`), and once the newest is in, `now=` and
//! `last.newest=`. A follow-up request names the newest entries it holds
//! (`addr.N=`, `last.N=`) and continues after the first one still listed;
//! when none is, the answer is UNKNOWNVAR and ntpq starts over (ntpd's rules).

use std::net::IpAddr;

use ntp_wire::NtpTimestamp;
use ntp_wire::control::{ErrorCode, MAX_DATA_LEN, MAX_FRAGMENTS, VarListWriter, parse_var_list};

use crate::control::{ControlState, Incoming};
use crate::engine::Engine;
use crate::ratelimit::{RecentSource, canonical_key, siphash24, splitmix64};

/// How long a nonce is accepted after it was issued, seconds.
pub(crate) const NONCE_LIFETIME: f64 = 16.0;

/// Room kept at the end of an answer for `now=` and `last.newest=`, bytes.
const TRAILER_ROOM: usize = 80;

/// The secret nonces are keyed with.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NonceKey {
    keys: (u64, u64),
}

impl NonceKey {
    /// The key for `secret`, or a random one.
    pub(crate) fn new(secret: Option<u64>) -> Self {
        let secret = secret.unwrap_or_else(|| {
            use std::hash::{BuildHasher, Hasher};
            // RandomState is seeded from the operating system's randomness.
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(0x6e6f_6e63_6521);
            hasher.finish()
        });
        NonceKey { keys: (secret, splitmix64(secret)) }
    }

    fn tag(&self, source: IpAddr, issued: NtpTimestamp) -> u32 {
        let keys = (self.keys.0 ^ issued.to_bits(), self.keys.1);
        siphash24(keys, &canonical_key(source)) as u32
    }

    /// A nonce for `source` issued at `now` (24 hex digits).
    pub(crate) fn issue(&self, source: IpAddr, now: NtpTimestamp) -> String {
        format!("{:08x}{:08x}{:08x}", now.seconds(), now.fraction(), self.tag(source, now))
    }

    /// Whether `text` is a nonce issued to `source` at most 16 s before `now`.
    pub(crate) fn check(&self, text: &str, source: IpAddr, now: NtpTimestamp) -> bool {
        if text.len() != 24 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
        let field = |range: core::ops::Range<usize>| text.get(range).and_then(|h| u32::from_str_radix(h, 16).ok());
        let (Some(seconds), Some(fraction), Some(tag)) = (field(0..8), field(8..16), field(16..24)) else {
            return false;
        };
        let issued = NtpTimestamp::from_parts(seconds, fraction);
        let age = (now - issued).to_seconds_f64();
        (0.0..=NONCE_LIFETIME).contains(&age) && self.tag(source, issued) == tag
    }
}

/// One row of the list.
struct Row {
    source: RecentSource,
    addr: String,
    first: NtpTimestamp,
    last: NtpTimestamp,
}

fn addr_text(ip: IpAddr, port: u16) -> String {
    match (ip, port) {
        (IpAddr::V4(ip), 0) => ip.to_string(),
        (IpAddr::V6(ip), 0) => ip.to_string(),
        (IpAddr::V4(ip), port) => format!("{ip}:{port}"),
        (IpAddr::V6(ip), port) => format!("[{ip}]:{port}"),
    }
}

/// The READ_MRU answer's data, or its error code.
pub(crate) fn read_mru(
    engine: &Engine,
    state: &ControlState,
    request: &Incoming<'_>,
    data: &[u8],
) -> Result<Vec<u8>, ErrorCode> {
    let now = request.now;
    let mut nonce_ok = false;
    let mut frags = MAX_FRAGMENTS;
    let mut limit = usize::MAX;
    let mut cursor: Vec<(usize, &str, Option<&str>)> = Vec::new();
    for item in parse_var_list(data) {
        let item = item.map_err(|_| ErrorCode::BadFormat)?;
        match item.name {
            "nonce" => nonce_ok = state.nonce_key().check(item.value, request.source.ip(), now),
            "frags" => frags = item.value.parse::<usize>().map_err(|_| ErrorCode::BadValue)?,
            "limit" => limit = item.value.parse::<usize>().map_err(|_| ErrorCode::BadValue)?,
            name => {
                if let Some((kind, index)) = name.split_once('.')
                    && let Ok(index) = index.parse::<usize>()
                    && index < 256
                {
                    let at = match cursor.iter().position(|c| c.0 == index) {
                        Some(at) => at,
                        None => {
                            cursor.push((index, "", None));
                            cursor.len() - 1
                        }
                    };
                    if let Some(slot) = cursor.get_mut(at) {
                        match kind {
                            "addr" => slot.1 = item.value,
                            "last" => slot.2 = Some(item.value),
                            _ => {}
                        }
                    }
                }
                // Other filters (mincount, laddr, resall, …) are not
                // supported and are ignored: the whole list is returned.
            }
        }
    }
    if !nonce_ok {
        return Err(ErrorCode::BadValue);
    }
    if !(1..=MAX_FRAGMENTS).contains(&frags) || limit == 0 {
        return Err(ErrorCode::BadValue);
    }
    let mut rows: Vec<Row> = engine
        .responder()
        .limiter()
        .into_iter()
        .chain(state.limiter())
        .flat_map(|limiter| limiter.recent())
        .map(|source| Row {
            addr: addr_text(source.address, source.port),
            first: engine.timestamp_at(source.first_seen),
            last: engine.timestamp_at(source.last_seen),
            source,
        })
        .collect();
    rows.sort_by_key(|r| r.last.to_bits());
    let mut start = 0;
    if !cursor.is_empty() {
        cursor.sort_by_key(|c| c.0);
        let matched = cursor.iter().find_map(|&(_, addr, last)| {
            rows.iter().position(|r| r.addr == addr && last.is_some_and(|l| l == timestamp_text(r.last)))
        });
        start = matched.ok_or(ErrorCode::UnknownVariable)? + 1;
    }

    let budget = frags * MAX_DATA_LEN;
    let mut buf = vec![0u8; budget];
    let mut w = VarListWriter::new(&mut buf);
    let fresh = state.nonce_key().issue(request.source.ip(), now);
    w.push_raw("nonce", &fresh).map_err(|_| ErrorCode::Unspecified)?;
    let mut newest = None;
    let mut complete = true;
    for (sent, (n, row)) in rows.iter().enumerate().skip(start).enumerate() {
        if sent >= limit || w.len() + 200 + TRAILER_ROOM > budget {
            complete = false;
            break;
        }
        let i = n - start;
        let push = |w: &mut VarListWriter<'_>| -> Result<(), ntp_wire::control::VarListError> {
            w.push_raw(&format!("addr.{i}"), &row.addr)?;
            w.push_timestamp(&format!("last.{i}"), row.last)?;
            w.push_timestamp(&format!("first.{i}"), row.first)?;
            w.push_uint(&format!("ct.{i}"), row.source.count)?;
            w.push_hex(&format!("mv.{i}"), u64::from(row.source.mode_version))?;
            w.push_hex(&format!("rs.{i}"), 0)
        };
        push(&mut w).map_err(|_| ErrorCode::Unspecified)?;
        newest = Some(row.last);
    }
    if complete {
        w.push_timestamp("now", now).map_err(|_| ErrorCode::Unspecified)?;
        if let Some(newest) = newest {
            w.push_timestamp("last.newest", newest).map_err(|_| ErrorCode::Unspecified)?;
        }
    }
    let len = w.finish().map_err(|_| ErrorCode::Unspecified)?;
    buf.truncate(len);
    Ok(buf)
}

fn timestamp_text(t: NtpTimestamp) -> String {
    format!("{:#010x}.{:08x}", t.seconds(), t.fraction())
}
