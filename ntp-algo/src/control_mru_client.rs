//! The client side of `ntpq -c mrulist`: a sans-IO walk of a server's
//! most-recently-used client list over a [`ControlClient`].
//!
//! The walk follows the rules the responder in this crate serves (and
//! ntpd's): REQ_NONCE first, then READ_MRU requests carrying the newest
//! nonce, `frags=` (fragments per answer) and, after the first answer, the
//! newest rows already held as `addr.N=`/`last.N=` (N = 0 the newest) so
//! that the server continues after the first of them it still lists. Each
//! answer holds rows `addr.N`, `last.N`, `first.N`, `ct.N`, `mv.N`, `rs.N`
//! (N counting from 0 in each answer) and, once the newest row is in,
//! `now=` and `last.newest=`.
//!
//! Restarts, as ntpq does them: when the server lists none of the rows
//! named (UNKNOWNVAR: they were all heard from again, or evicted), the walk
//! drops what it holds and starts over; when it refuses a nonce that has
//! had time to expire (BADVALUE, ntpd's nonce lives 16 s), the walk fetches
//! a fresh one and repeats the request. Both together happen at most
//! [`MRU_MAX_RESTARTS`] times, READ_MRU requests are bounded by
//! [`MRU_MAX_REQUESTS`] and rows by [`MruWalk::with_max_rows`], so a
//! server that never finishes cannot keep the walk going.
//!
//! A client heard from again while the walk runs appears again in a later
//! answer; the walk keeps only its newest row, in its new place, so the
//! result has one row per address, oldest first.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ntp_wire::NtpTimestamp;
use ntp_wire::control::{ErrorCode, Opcode, VarListError, parse_var_list};

use crate::control_client::{ClientError, ControlClient, ControlResponse, parse_timestamp};

/// Fragments asked for per READ_MRU answer (ntpd allows 32). Fewer keep a
/// burst of datagrams small enough not to overrun a receive buffer.
pub const MRU_FRAGMENTS: usize = 16;
/// Newest rows named in a follow-up READ_MRU, so the walk survives the
/// newest of them having moved on in the meantime (ntpq sends up to 16).
pub const MRU_CURSOR: usize = 4;
/// READ_MRU requests one walk may make: 256 answers of 16 fragments hold
/// far more rows than any server's list.
pub const MRU_MAX_REQUESTS: usize = 256;
/// Times a walk starts over or fetches a fresh nonce before it gives up.
pub const MRU_MAX_RESTARTS: u8 = 3;
/// Rows a walk holds at most unless [`MruWalk::with_max_rows`] says
/// otherwise (ntpd's default list holds at most a few thousand).
pub const MRU_DEFAULT_MAX_ROWS: usize = 100_000;
/// A nonce received this long ago (seconds) may have expired on the server
/// (ntpd's lifetime is 16 s, less the round trip), so BADVALUE then means
/// "stale nonce"; sooner, it is a real refusal and ends the walk.
pub const MRU_NONCE_STALE_AFTER: f64 = 8.0;

/// One client in a server's MRU list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MruEntry {
    /// The client's address.
    pub address: IpAddr,
    /// Its source port (0 when the server does not say).
    pub port: u16,
    /// When the server first heard from it (the server's clock).
    pub first: NtpTimestamp,
    /// When the server last heard from it (the server's clock).
    pub last: NtpTimestamp,
    /// Packets received from it.
    pub count: u64,
    /// The mode of its last packet (3 client, 6 control, …).
    pub mode: u8,
    /// The NTP version of its last packet.
    pub version: u8,
    /// The restriction flags applied to it (ntpd's `rs`; 0: none).
    pub restrictions: u64,
}

/// Why an MRU walk failed (besides the request errors of [`ClientError`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MruError {
    /// The nonce answer, or an unfinished READ_MRU answer, had no `nonce=`.
    #[error("the server sent no nonce")]
    NoNonce,
    /// A READ_MRU answer's variable list did not parse.
    #[error("{0}")]
    List(VarListError),
    /// A row lacks `addr.N` or `last.N`.
    #[error("row {index} lacks addr or last")]
    IncompleteRow {
        /// Its index N in the answer.
        index: usize,
    },
    /// A row's value did not have the expected form.
    #[error("bad value {value:?} for {name}")]
    BadValue {
        /// The variable.
        name: String,
        /// Its text.
        value: String,
    },
    /// `addr.N` is not `IP`, `IP:port` or `[IPv6]:port`.
    #[error("bad address {0:?}")]
    BadAddress(String),
    /// The server did not finish within [`MRU_MAX_REQUESTS`] requests.
    #[error("no end after {0} requests")]
    TooManyRequests(usize),
    /// The list grew past the walk's row limit.
    #[error("more than {0} rows")]
    TooManyRows(usize),
}

/// What the caller does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MruStep {
    /// Send this datagram (the next request, already registered with the
    /// client).
    Send(Vec<u8>),
    /// The walk is over: the list, oldest first, one row per address.
    Done(Vec<MruEntry>),
}

/// A row held, with the texts the cursor sends back verbatim (the server
/// matches `last.N` as text).
#[derive(Clone, Debug)]
struct Held {
    entry: MruEntry,
    addr: String,
    last: String,
}

/// What one READ_MRU answer said.
#[derive(Debug, Default)]
struct Answer {
    nonce: Option<String>,
    rows: Vec<Held>,
    complete: bool,
}

/// The walk (see the module docs). Drive it with [`MruWalk::start`], then
/// hand it every complete response of the client
/// ([`MruWalk::handle_response`]) and every error
/// ([`MruWalk::handle_error`]); time-outs stay the client's business.
#[derive(Debug)]
pub struct MruWalk {
    nonce: Option<String>,
    /// When (caller's seconds) the nonce in use arrived.
    nonce_at: f64,
    /// Rows held, oldest first; a row seen again leaves a hole.
    rows: Vec<Option<Held>>,
    /// Where each address's row is in `rows`.
    index: HashMap<String, usize>,
    held: usize,
    requests: usize,
    restarts: u8,
    max_rows: usize,
    awaiting: Option<Opcode>,
}

impl Default for MruWalk {
    fn default() -> Self {
        Self::new()
    }
}

impl MruWalk {
    /// A walk holding at most [`MRU_DEFAULT_MAX_ROWS`] rows.
    pub fn new() -> Self {
        Self::with_max_rows(MRU_DEFAULT_MAX_ROWS)
    }

    /// A walk that fails with [`MruError::TooManyRows`] past `max_rows` rows.
    pub fn with_max_rows(max_rows: usize) -> Self {
        MruWalk {
            nonce: None,
            nonce_at: 0.0,
            rows: Vec::new(),
            index: HashMap::new(),
            held: 0,
            requests: 0,
            restarts: 0,
            max_rows,
            awaiting: None,
        }
    }

    /// Times the walk started over or fetched a fresh nonce so far.
    pub fn restarts(&self) -> u8 {
        self.restarts
    }

    /// READ_MRU requests made so far.
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// Starts the walk: the REQ_NONCE datagram to send. Fails when the
    /// client already has a request in flight.
    pub fn start(&mut self, client: &mut ControlClient, now: f64) -> Result<Vec<u8>, ClientError> {
        self.ask_nonce(client, now)
    }

    fn ask_nonce(&mut self, client: &mut ControlClient, now: f64) -> Result<Vec<u8>, ClientError> {
        let bytes = client.request(Opcode::RequestNonce, 0, b"", now)?;
        self.awaiting = Some(Opcode::RequestNonce);
        Ok(bytes)
    }

    /// A complete response of the client arrived: the next request, or the
    /// list.
    pub fn handle_response(
        &mut self,
        client: &mut ControlClient,
        response: &ControlResponse,
        now: f64,
    ) -> Result<MruStep, ClientError> {
        if self.awaiting.take() == Some(Opcode::RequestNonce) {
            self.nonce = first_nonce(&response.data);
            self.nonce_at = now;
        } else {
            let answer = parse_answer(&response.data)?;
            let complete = answer.complete;
            self.absorb(answer, now)?;
            if complete {
                let rows = core::mem::take(&mut self.rows);
                self.index.clear();
                self.held = 0;
                return Ok(MruStep::Done(rows.into_iter().flatten().map(|h| h.entry).collect()));
            }
        }
        self.next_read(client, now).map(MruStep::Send)
    }

    /// The client failed with `err`: the request that restarts the walk,
    /// when the error calls for one (see the module docs), or the error.
    pub fn handle_error(
        &mut self,
        client: &mut ControlClient,
        err: ClientError,
        now: f64,
    ) -> Result<Vec<u8>, ClientError> {
        let reading = self.awaiting == Some(Opcode::ReadMru);
        let restart = match err {
            // None of the rows we named is listed any more: start over.
            ClientError::Server(ErrorCode::UnknownVariable) if reading && self.held > 0 => true,
            // Our nonce may have expired: a fresh one, the same cursor.
            ClientError::Server(ErrorCode::BadValue) if reading && now - self.nonce_at >= MRU_NONCE_STALE_AFTER => {
                false
            }
            _ => return Err(err),
        };
        if self.restarts >= MRU_MAX_RESTARTS {
            return Err(err);
        }
        self.restarts += 1;
        self.nonce = None;
        if restart {
            self.rows.clear();
            self.index.clear();
            self.held = 0;
        }
        client.cancel();
        self.ask_nonce(client, now)
    }

    /// Sends the next READ_MRU.
    fn next_read(&mut self, client: &mut ControlClient, now: f64) -> Result<Vec<u8>, ClientError> {
        let nonce = self.nonce.as_deref().ok_or(MruError::NoNonce)?;
        if self.requests >= MRU_MAX_REQUESTS {
            return Err(MruError::TooManyRequests(MRU_MAX_REQUESTS).into());
        }
        let data = self.request_data(nonce);
        let bytes = client.request(Opcode::ReadMru, 0, data.as_bytes(), now)?;
        self.requests += 1;
        self.awaiting = Some(Opcode::ReadMru);
        Ok(bytes)
    }

    /// The READ_MRU data: nonce, fragment budget, and the newest rows held
    /// (index 0 the newest).
    fn request_data(&self, nonce: &str) -> String {
        let mut text = format!("nonce={nonce}, frags={MRU_FRAGMENTS}");
        for (i, row) in self.rows.iter().rev().flatten().take(MRU_CURSOR).enumerate() {
            text.push_str(&format!(", addr.{i}={}, last.{i}={}", row.addr, row.last));
        }
        text
    }

    /// Takes an answer's rows; an address seen before moves to its new place.
    fn absorb(&mut self, answer: Answer, now: f64) -> Result<(), ClientError> {
        for row in answer.rows {
            match self.index.get(&row.addr).copied() {
                Some(old) => {
                    if let Some(slot) = self.rows.get_mut(old) {
                        *slot = None;
                    }
                }
                None => self.held += 1,
            }
            if self.held > self.max_rows {
                return Err(MruError::TooManyRows(self.max_rows).into());
            }
            self.index.insert(row.addr.clone(), self.rows.len());
            self.rows.push(Some(row));
        }
        if answer.nonce.is_some() {
            self.nonce = answer.nonce;
            self.nonce_at = now;
        }
        Ok(())
    }
}

fn first_nonce(data: &[u8]) -> Option<String> {
    parse_var_list(data).filter_map(Result::ok).find(|v| v.name == "nonce").map(|v| v.value.to_owned())
}

fn hex_or_decimal(value: &str) -> Option<u64> {
    let v = value.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(digits) => u64::from_str_radix(digits, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `1.2.3.4`, `1.2.3.4:123`, `::1` or `[::1]:123`.
fn split_address(text: &str) -> Option<(IpAddr, u16)> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some((ip, 0));
    }
    text.parse::<SocketAddr>().ok().map(|s| (s.ip(), s.port()))
}

/// A row while its variables come in.
#[derive(Default)]
struct Partial {
    addr: Option<String>,
    last: Option<(NtpTimestamp, String)>,
    first: Option<NtpTimestamp>,
    count: u64,
    mode_version: u8,
    restrictions: u64,
}

/// Reads one READ_MRU answer. Rows come out in index order, whatever order
/// their variables came in; names this client does not use (ntpd's newer
/// `sc.N`, `dr.N`, …) are skipped.
fn parse_answer(data: &[u8]) -> Result<Answer, MruError> {
    let mut answer = Answer::default();
    let mut rows: Vec<(usize, Partial)> = Vec::new();
    for item in parse_var_list(data) {
        let item = item.map_err(MruError::List)?;
        let bad = || MruError::BadValue { name: item.name.to_owned(), value: item.value.to_owned() };
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
                        rows.push((index, Partial::default()));
                        rows.len() - 1
                    }
                };
                let Some((_, row)) = rows.get_mut(at) else { continue };
                match kind {
                    "addr" => row.addr = Some(item.value.to_owned()),
                    "last" => row.last = Some((parse_timestamp(item.value).ok_or_else(bad)?, item.value.to_owned())),
                    "first" => row.first = Some(parse_timestamp(item.value).ok_or_else(bad)?),
                    "ct" => row.count = hex_or_decimal(item.value).ok_or_else(bad)?,
                    "mv" => {
                        row.mode_version =
                            hex_or_decimal(item.value).and_then(|v| u8::try_from(v).ok()).ok_or_else(bad)?
                    }
                    "rs" => row.restrictions = hex_or_decimal(item.value).ok_or_else(bad)?,
                    _ => {}
                }
            }
        }
    }
    rows.sort_by_key(|r| r.0);
    for (index, row) in rows {
        let (Some(addr), Some((last, last_text))) = (row.addr, row.last) else {
            return Err(MruError::IncompleteRow { index });
        };
        let (address, port) = split_address(&addr).ok_or_else(|| MruError::BadAddress(addr.clone()))?;
        let entry = MruEntry {
            address,
            port,
            first: row.first.unwrap_or(last),
            last,
            count: row.count,
            mode: row.mode_version & 7,
            version: (row.mode_version >> 3) & 7,
            restrictions: row.restrictions,
        };
        answer.rows.push(Held { entry, addr, last: last_text });
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use proptest::prelude::*;

    fn response(opcode: Opcode, data: &[u8]) -> ControlResponse {
        ControlResponse { opcode, association_id: 0, status: 0, data: data.to_vec(), authenticated: false }
    }

    #[test]
    fn test_answer_rows_in_index_order_and_completion() {
        let data = b"nonce=abc, addr.1=[::1]:5, last.1=0x2.0, first.1=0x1.0, ct.1=3, mv.1=0x23, rs.1=0x0, \
addr.0=127.0.0.1:123, last.0=0x1.80000000, first.0=0x1.0, ct.0=1, mv.0=0x1b, rs.0=0x10, now=0x3.0, last.newest=0x2.0\r\n";
        let answer = parse_answer(data).unwrap();
        assert!(answer.complete);
        assert_eq!(answer.nonce.as_deref(), Some("abc"));
        assert_eq!(answer.rows.len(), 2);
        assert_eq!(answer.rows[0].addr, "127.0.0.1:123");
        assert_eq!(answer.rows[0].last, "0x1.80000000");
        assert_eq!(answer.rows[0].entry.port, 123);
        assert_eq!(answer.rows[0].entry.restrictions, 0x10);
        assert_eq!((answer.rows[0].entry.mode, answer.rows[0].entry.version), (3, 3));
        assert_eq!(answer.rows[1].entry.count, 3);
        assert_eq!((answer.rows[1].entry.mode, answer.rows[1].entry.version), (3, 4));
        assert_eq!(answer.rows[1].entry.address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(split_address("10.0.0.1"), Some(("10.0.0.1".parse().unwrap(), 0)));
        assert!(matches!(parse_answer(b"addr.0=1.2.3.4, last.0=banana"), Err(MruError::BadValue { .. })));
        assert_eq!(parse_answer(b"addr.0=1.2.3.4").err(), Some(MruError::IncompleteRow { index: 0 }));
        assert!(matches!(parse_answer(b"addr.0=nowhere, last.0=0x1.0"), Err(MruError::BadAddress(_))));
        assert!(matches!(parse_answer(b"addr.0=1.2.3.4, last.0=0x1.0, mv.0=0x100"), Err(MruError::BadValue { .. })));
    }

    /// Feeds the walk a READ_MRU answer as if the client had completed it.
    fn feed(walk: &mut MruWalk, client: &mut ControlClient, data: &[u8]) -> Result<MruStep, ClientError> {
        client.cancel();
        walk.handle_response(client, &response(Opcode::ReadMru, data), 0.0)
    }

    #[test]
    fn test_walk_moves_a_seen_address_and_names_the_newest_in_the_cursor() {
        let mut client = ControlClient::new(None);
        let mut walk = MruWalk::new();
        walk.start(&mut client, 0.0).unwrap();
        client.cancel();
        let step = walk.handle_response(&mut client, &response(Opcode::RequestNonce, b"nonce=n1\r\n"), 0.0).unwrap();
        assert!(matches!(step, MruStep::Send(_)));
        assert_eq!(walk.request_data("n1"), "nonce=n1, frags=16");
        feed(&mut walk, &mut client, b"nonce=n2, addr.0=10.0.0.1, last.0=0x1.0, addr.1=10.0.0.2, last.1=0x2.0")
            .unwrap();
        feed(&mut walk, &mut client, b"nonce=n3, addr.0=10.0.0.1, last.0=0x3.0").unwrap();
        assert_eq!(
            walk.request_data("n3"),
            "nonce=n3, frags=16, addr.0=10.0.0.1, last.0=0x3.0, addr.1=10.0.0.2, last.1=0x2.0"
        );
        let MruStep::Done(rows) = feed(&mut walk, &mut client, b"nonce=n4, now=0x4.0").unwrap() else { panic!() };
        let order: Vec<String> = rows.iter().map(|r| r.address.to_string()).collect();
        assert_eq!(order, ["10.0.0.2", "10.0.0.1"]);
        assert_eq!(walk.requests(), 3);
    }

    #[test]
    fn test_walk_bounds_and_errors() {
        let mut client = ControlClient::new(None);
        // No nonce in the nonce answer.
        let mut walk = MruWalk::new();
        walk.start(&mut client, 0.0).unwrap();
        client.cancel();
        let err = walk.handle_response(&mut client, &response(Opcode::RequestNonce, b""), 0.0);
        assert_eq!(err, Err(ClientError::Mru(MruError::NoNonce)));
        // Rows past the limit.
        let mut walk = MruWalk::with_max_rows(1);
        walk.start(&mut client, 0.0).unwrap();
        client.cancel();
        walk.handle_response(&mut client, &response(Opcode::RequestNonce, b"nonce=n"), 0.0).unwrap();
        let err =
            feed(&mut walk, &mut client, b"nonce=n, addr.0=10.0.0.1, last.0=0x1.0, addr.1=10.0.0.2, last.1=0x2.0");
        assert_eq!(err, Err(ClientError::Mru(MruError::TooManyRows(1))));
        // A server that never says `now`.
        let mut walk = MruWalk::new();
        walk.start(&mut client, 0.0).unwrap();
        client.cancel();
        walk.handle_response(&mut client, &response(Opcode::RequestNonce, b"nonce=n"), 0.0).unwrap();
        let mut last = Ok(MruStep::Done(Vec::new()));
        for _ in 0..MRU_MAX_REQUESTS + 1 {
            last = feed(&mut walk, &mut client, b"nonce=n");
            if last.is_err() {
                break;
            }
        }
        assert_eq!(last, Err(ClientError::Mru(MruError::TooManyRequests(MRU_MAX_REQUESTS))));
        // UNKNOWNVAR before any row is held, or other errors: passed on.
        let mut walk = MruWalk::new();
        walk.start(&mut client, 0.0).unwrap();
        client.cancel();
        walk.handle_response(&mut client, &response(Opcode::RequestNonce, b"nonce=n"), 0.0).unwrap();
        let unknown = ClientError::Server(ErrorCode::UnknownVariable);
        assert_eq!(walk.handle_error(&mut client, unknown.clone(), 0.1), Err(unknown));
        // BADVALUE soon after the nonce came: a refusal, not a stale nonce.
        let bad = ClientError::Server(ErrorCode::BadValue);
        assert_eq!(walk.handle_error(&mut client, bad.clone(), 1.0), Err(bad.clone()));
        assert_eq!(walk.handle_error(&mut client, ClientError::Timeout, 1.0), Err(ClientError::Timeout));
    }

    #[test]
    fn test_stale_nonce_is_refetched_at_most_max_restarts_times() {
        let mut client = ControlClient::new(None);
        let mut walk = MruWalk::new();
        walk.start(&mut client, 0.0).unwrap();
        client.cancel();
        walk.handle_response(&mut client, &response(Opcode::RequestNonce, b"nonce=n"), 0.0).unwrap();
        feed(&mut walk, &mut client, b"nonce=n2, addr.0=10.0.0.1, last.0=0x1.0").unwrap();
        let bad = ClientError::Server(ErrorCode::BadValue);
        let mut now = 0.0;
        for round in 0..MRU_MAX_RESTARTS {
            now += 20.0;
            let again = walk.handle_error(&mut client, bad.clone(), now).unwrap();
            assert_eq!(again[1] & 0x1f, Opcode::RequestNonce.to_bits(), "round {round}: a fresh nonce");
            client.cancel();
            walk.handle_response(&mut client, &response(Opcode::RequestNonce, b"nonce=m"), now).unwrap();
            // The cursor is kept.
            assert!(walk.request_data("m").contains("addr.0=10.0.0.1"));
        }
        now += 20.0;
        assert_eq!(walk.handle_error(&mut client, bad.clone(), now), Err(bad));
        assert_eq!(walk.restarts(), MRU_MAX_RESTARTS);
    }

    proptest! {
        /// Whatever a server sends, the walk gives rows, a request or an
        /// error, never a panic; and rows are one per address.
        #[test]
        fn prop_any_answer_gives_rows_or_an_error(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut client = ControlClient::new(None);
            let mut walk = MruWalk::new();
            walk.start(&mut client, 0.0).unwrap();
            client.cancel();
            let _ = walk.handle_response(&mut client, &response(Opcode::RequestNonce, &data), 0.0);
            client.cancel();
            walk.awaiting = Some(Opcode::ReadMru);
            if let Ok(MruStep::Done(rows)) = walk.handle_response(&mut client, &response(Opcode::ReadMru, &data), 0.0) {
                let mut seen = std::collections::HashSet::new();
                for r in &rows {
                    prop_assert!(seen.insert((r.address, r.port)));
                }
            }
        }

        /// Rows written the way the responder writes them read back.
        #[test]
        fn prop_rows_round_trip(rows in proptest::collection::vec((any::<u32>(), any::<u16>(), any::<u64>(), any::<u64>(), 0u8..64), 0..20)) {
            let mut text = String::from("nonce=x");
            for (i, (ip, port, last, count, mv)) in rows.iter().enumerate() {
                let ip = std::net::Ipv4Addr::from(*ip);
                let last = NtpTimestamp::from_bits(*last);
                text.push_str(&format!(
                    ", addr.{i}={ip}:{port}, last.{i}={:#010x}.{:08x}, first.{i}=0x1.0, ct.{i}={count}, mv.{i}={mv:#x}, rs.{i}=0x0",
                    last.seconds(), last.fraction()
                ));
            }
            text.push_str(", now=0x5.0");
            let answer = parse_answer(text.as_bytes()).unwrap();
            prop_assert!(answer.complete);
            prop_assert_eq!(answer.rows.len(), rows.len());
            for (held, (ip, port, last, count, mv)) in answer.rows.iter().zip(&rows) {
                prop_assert_eq!(held.entry.address, IpAddr::V4((*ip).into()));
                prop_assert_eq!(held.entry.port, *port);
                prop_assert_eq!(held.entry.last.to_bits(), *last);
                prop_assert_eq!(held.entry.count, *count);
                prop_assert_eq!((held.entry.mode, held.entry.version), (mv & 7, mv >> 3));
            }
        }
    }
}
