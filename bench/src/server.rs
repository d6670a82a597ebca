//! Server: ntp-algo's stateless `Responder` against ntp-proto 1.9's
//! `Server::handle` (ntpd-rs's server), on the same client request, in one
//! run.
//!
//! Per call, each side takes the request bytes, a source address and the
//! receive timestamp, decides whether to serve the source, parses the
//! request, builds the reply from its system variables and writes all of it
//! into a caller buffer:
//!
//! * ours: `AccessList::classify` (no rules, default `peer`), then
//!   `Responder::respond` with no rate limiter and a one-key `Keyring`
//!   (MD5, key id 1), into a `MAX_REPLY_LEN` buffer.
//! * ntp-proto: `Server::handle` with an empty denylist, an allowlist of
//!   `0.0.0.0/0` and `::/0`, rate limiting off (cache size 0), no NTS
//!   requirement, versions 3 and 4, a fixed-time `NtpClock` and a counting
//!   `ServerStatHandler`. This is its path for a client without NTS. Its
//!   `handle` reads `Instant::now()` for the rate limiter even when the
//!   limiter is off, and computes the root dispersion from its variance
//!   polynomial (a square root); both are part of what it costs per request.
//!
//! Metrics:
//!
//! * `server.reply.nokey`: the 48-byte unauthenticated request on both sides.
//! * `server.reply.md5_vs_unauth`: ours answers the MD5-signed request
//!   (verify the MAC, sign the reply); ntp-proto gets the same 68 bytes but
//!   has no MAC support, so it parses and skips the MAC and answers
//!   unsigned. The ratio is therefore our authenticated reply against its
//!   unauthenticated one, not like against like.
//!
//! Every reply is checked before timing: mode 4, the origin equal to the
//! request's transmit time, the receive time equal to the one given, and
//! the length (48 unsigned, 68 with our MAC, which must verify). Each pair
//! is measured in alternating rounds and each side keeps its fastest median,
//! as in `codec` and `auth`.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use ntp_algo::{AccessList, MAX_REPLY_LEN, Request, Responder, ResponderConfig, Response};
use ntp_proto::{
    FilterAction, FilterList, KeySetProvider, NtpClock, NtpDuration as ProtoDuration, NtpLeapIndicator,
    NtpTimestamp as ProtoTimestamp, NtpVersion, ReferenceId as ProtoReferenceId, Server, ServerAction, ServerConfig,
    ServerReason, ServerResponse, ServerStatHandler, SystemSnapshot, TimeSnapshot,
};
use ntp_wire::auth::{Key, KeyType, Keyring, sign, verify};
use ntp_wire::{LeapIndicator, Mode, NtpShort, NtpTimestamp, Packet, ReferenceId, Repr, Stratum};

use crate::harness::{measure, print_ratio};

/// A client request as chrony sends it (mode 3, version 4, poll 6, transmit
/// time set); the same bytes as in `auth`.
const REQUEST: [u8; 48] = [
    0x23, 0x00, 0x06, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xec, 0xa5, 0x5e, 0x80, 0x12, 0x34, 0x56, 0x78,
];

const MD5_SECRET: [u8; 16] = *b"interop-md5-key!";

/// The request's arrival: a little after its transmit time, half a second
/// into the second (a fraction both crates represent exactly).
const RECEIVED_SECONDS: u32 = 0xeca5_5e80;
const RECEIVED_NANOS: u32 = 500_000_000;
const RECEIVED_FRACTION: u32 = 0x8000_0000;

/// ntp-proto's server reads the transmit time from its clock; this one
/// always says the receive time, as our responder does.
#[derive(Clone)]
struct FixedClock(ProtoTimestamp);

impl NtpClock for FixedClock {
    type Error = Infallible;

    fn now(&self) -> Result<ProtoTimestamp, Infallible> {
        Ok(self.0)
    }

    fn set_frequency(&self, _freq: f64) -> Result<ProtoTimestamp, Infallible> {
        Ok(self.0)
    }

    fn get_frequency(&self) -> Result<f64, Infallible> {
        Ok(0.0)
    }

    fn step_clock(&self, _offset: ProtoDuration) -> Result<ProtoTimestamp, Infallible> {
        Ok(self.0)
    }

    fn disable_ntp_algorithm(&self) -> Result<(), Infallible> {
        Ok(())
    }

    fn error_estimate_update(&self, _est: ProtoDuration, _max: ProtoDuration) -> Result<(), Infallible> {
        Ok(())
    }

    fn status_update(&self, _leap: NtpLeapIndicator) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Counts registrations, as our responder counts replies.
#[derive(Default)]
struct Counter(u64);

impl ServerStatHandler for Counter {
    fn register(&mut self, _version: u8, _nts: bool, _reason: ServerReason, _response: ServerResponse) {
        self.0 += 1;
    }
}

/// Keeps a whole result: the value escapes to memory through `black_box`
/// by reference (see `codec::sink` for why not by value).
#[inline(always)]
fn sink<T>(value: T) {
    black_box(&value);
}

/// Our system variables: synchronized, stratum 2, precision 2^-20, root
/// delay ~40 ms and dispersion ~110 ms, reference id 192.0.2.1.
fn our_system() -> Repr {
    Repr {
        leap: LeapIndicator::NoWarning,
        stratum: Stratum(2),
        precision: -20,
        root_delay: NtpShort::from_seconds_f64(0.04),
        root_dispersion: NtpShort::from_seconds_f64(0.11),
        reference_id: ReferenceId([192, 0, 2, 1]),
        reference_time: NtpTimestamp::from_parts(RECEIVED_SECONDS - 60, 0),
        ..Repr::default()
    }
}

/// The same system variables as ntp-proto keeps them.
fn proto_system() -> SystemSnapshot {
    SystemSnapshot {
        stratum: 2,
        reference_id: ProtoReferenceId::from_ip("192.0.2.1".parse().expect("address")),
        time_snapshot: TimeSnapshot {
            precision: ProtoDuration::from_exponent(-20),
            root_delay: ProtoDuration::from_seconds(0.04),
            root_variance_base: 0.11 * 0.11,
            leap_indicator: NtpLeapIndicator::NoWarning,
            ..TimeSnapshot::default()
        },
        ..SystemSnapshot::default()
    }
}

/// ntp-proto's server with every per-request policy off except what cannot
/// be: serve everyone, no rate limit, no NTS requirement.
fn proto_server(received: ProtoTimestamp) -> Server<FixedClock> {
    let config = ServerConfig {
        denylist: FilterList { filter: vec![], action: FilterAction::Deny },
        allowlist: FilterList {
            filter: vec!["0.0.0.0/0".parse().expect("subnet"), "::/0".parse().expect("subnet")],
            action: FilterAction::Ignore,
        },
        rate_limiting_cache_size: 0,
        rate_limiting_cutoff: Duration::ZERO,
        require_nts: None,
        accepted_versions: vec![NtpVersion::V3, NtpVersion::V4],
    };
    Server::new(config, FixedClock(received), proto_system(), KeySetProvider::new(1).get())
}

/// Our server: the access list, the responder, the system variables and
/// keys it answers with, and its reply buffer.
struct Ours {
    access: AccessList,
    responder: Responder,
    system: Repr,
    keys: Keyring,
    out: [u8; MAX_REPLY_LEN],
}

impl Ours {
    /// One request: the access decision, then the responder.
    #[inline(always)]
    fn answer(&mut self, request: &[u8], source: IpAddr, received: NtpTimestamp) -> Response {
        let class = self.access.classify(source);
        let out = black_box(&mut self.out[..]);
        let request = Request { bytes: request, source, access: class, received, now: 0.0 };
        self.responder.respond(&request, &self.system, &self.keys, out)
    }
}

/// ntp-proto's server, its statistics sink and its reply buffer.
struct Peer {
    server: Server<FixedClock>,
    stats: Counter,
    out: [u8; MAX_REPLY_LEN],
}

impl Peer {
    /// One request; the reply's length, 0 for none.
    #[inline(always)]
    fn answer(&mut self, request: &[u8], source: IpAddr, received: ProtoTimestamp) -> usize {
        let out = black_box(&mut self.out[..]);
        match self.server.handle(source, received, request, out, &mut self.stats) {
            ServerAction::Respond { message } => message.len(),
            ServerAction::Ignore => 0,
        }
    }
}

/// Checks a reply to [`REQUEST`]: mode 4, origin and receive times as they
/// must be, and the expected length.
fn check_reply(who: &str, reply: &[u8], len: usize) {
    assert_eq!(reply.len(), len, "{who}: reply length");
    let repr = Repr::parse(&Packet::new_checked(reply).expect("a well-formed reply")).expect("a parsable reply");
    let request = Repr::from_bytes(&REQUEST).expect("the request parses");
    assert_eq!(repr.mode, Mode::Server, "{who}: mode 4");
    assert_eq!(repr.origin_time, request.transmit_time, "{who}: origin = request's transmit");
    assert_eq!(repr.receive_time, NtpTimestamp::from_parts(RECEIVED_SECONDS, RECEIVED_FRACTION), "{who}: receive");
    assert_eq!(repr.stratum, Stratum(2), "{who}: stratum");
}

/// Rounds of alternating measurements per pair.
const ROUNDS: usize = 5;

/// The fastest of [`ROUNDS`] medians of each closure, measured alternately.
fn compare<A, B>(mut ours: impl FnMut() -> A, mut peer: impl FnMut() -> B) -> (f64, f64) {
    (0..ROUNDS).fold((f64::INFINITY, f64::INFINITY), |(best_ours, best_peer), _| {
        (best_ours.min(measure(&mut ours)), best_peer.min(measure(&mut peer)))
    })
}

/// Measures and prints `server.reply.nokey` and `server.reply.md5_vs_unauth`.
pub fn run() {
    let key = Key::new(1, KeyType::Md5, &MD5_SECRET).expect("MD5 key");
    let mut keys = Keyring::new();
    keys.insert(key.clone(), true);
    let mut signed = [0u8; 68];
    signed[..48].copy_from_slice(&REQUEST);
    assert_eq!(sign(&mut signed, 48, &key).ok(), Some(68), "the request signs");

    let source: IpAddr = "192.0.2.7".parse().expect("address");
    let received = NtpTimestamp::from_parts(RECEIVED_SECONDS, RECEIVED_FRACTION);
    let proto_received = ProtoTimestamp::from_seconds_nanos_since_ntp_era(RECEIVED_SECONDS, RECEIVED_NANOS);
    let mut ours = Ours {
        access: AccessList::allow_all(),
        responder: Responder::new(no_rate_limit()),
        system: our_system(),
        keys,
        out: [0; MAX_REPLY_LEN],
    };
    let mut peer = Peer { server: proto_server(proto_received), stats: Counter::default(), out: [0; MAX_REPLY_LEN] };

    // Both sides must answer both requests before anything is timed.
    let response = ours.answer(&REQUEST, source, received);
    assert_eq!(response, Response::Reply { len: 48, key_id: None }, "ours: unsigned reply");
    check_reply("ours, no key", &ours.out[..48], 48);
    let response = ours.answer(&signed, source, received);
    assert_eq!(response, Response::Reply { len: 68, key_id: Some(1) }, "ours: signed reply");
    check_reply("ours, MD5", &ours.out[..48], 48);
    assert_eq!(verify(&ours.out[..68], &ours.keys).map(Key::id), Ok(1), "ours: the reply's MAC verifies");
    for (what, request) in [("no key", &REQUEST[..]), ("MD5 request", &signed[..])] {
        peer.out.fill(0);
        let len = peer.answer(request, source, proto_received);
        check_reply(&format!("ntp-proto, {what}"), &peer.out[..len], 48);
    }
    assert_eq!(peer.stats.0, 2, "ntp-proto registered both replies");

    for (metric, request) in [("server.reply.nokey", &REQUEST[..]), ("server.reply.md5_vs_unauth", &signed[..])] {
        let (ours_ns, peer_ns) = compare(
            || {
                sink(ours.answer(black_box(request), black_box(source), black_box(received)));
                black_box(&ours.out);
            },
            || {
                sink(peer.answer(black_box(request), black_box(source), black_box(proto_received)));
                black_box(&peer.out);
            },
        );
        print_ratio(metric, ours_ns, "ntp-proto", peer_ns);
    }
}

/// The responder's settings with rate limiting off, as ntp-proto's server
/// has none by default.
fn no_rate_limit() -> ResponderConfig {
    let mut config = ResponderConfig::default();
    config.rate_limit = None;
    config
}
