//! NTS: the server's cost of one NTS request (RFC 8915) through
//! ntp-algo's engine, beside an MD5-signed and an unauthenticated request,
//! in one run.
//!
//! Each metric is one `Engine::handle_datagram` of a client request from a
//! fixed source plus the `poll_output` that hands back the reply: dispatch,
//! access class, the responder's header, and then
//!
//! * `unauth`: nothing more (48 bytes in, 48 out);
//! * `md5`: verify the request's MAC, sign the reply (68 in, 68 out);
//! * `nts`: open the cookie with the master key, verify the request's
//!   authenticator with the client-to-server key, seal one fresh cookie
//!   and the reply with the server-to-client key (228 bytes in, 228 out);
//! * `nts3`: the same for a client whose jar is low, which asks for three
//!   cookies with two placeholders (the most a request within the engine's
//!   512-byte datagram asks for): 436 bytes in, 436 out.
//!
//! Here "ours" is the NTS reply and the other side is the engine's own
//! unauthenticated or MD5 reply in the same run. ntpd-rs's `ntp-proto` NTS
//! server path is not measured beside it: its server needs a key-set
//! provider and cookies from its own NTS-KE, which this crate does not set
//! up, so the baseline is our own plain reply, which shows what NTS adds
//! per request.
//!
//! Every path is checked before timing (a reply of the expected length).
//! The four paths alternate over a few rounds and each keeps its fastest
//! median, as in `codec`, so a busy neighbour on a shared machine shifts
//! all of them alike.

use std::hint::black_box;
use std::net::SocketAddr;

use ntp_algo::{
    Engine, EngineConfig, MAX_DATAGRAM, NtsClient, NtsKeServerConfig, NtsKeys, NtsServerConfig, Output, RandomSource,
    nts_ke_read_response, nts_ke_write_request,
};
use ntp_wire::auth::{Key, KeyType, Keyring, sign};
use ntp_wire::nts::AeadKey;
use ntp_wire::{Mode, NtpDuration, NtpTimestamp, Repr};

use crate::harness::{measure, print_ratio};

/// Rounds of alternating measurements.
const ROUNDS: usize = 5;

/// Not random at all: the benchmark measures cost, not secrecy.
fn counter() -> Box<dyn RandomSource + Send> {
    let mut n = 0u8;
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(151);
            *b = n;
        }
    })
}

fn t0() -> NtpTimestamp {
    NtpTimestamp::from_unix(1_795_219_200, 0)
}

/// One request through the engine and its reply out; returns the reply's length.
fn serve(engine: &mut Engine, now: NtpTimestamp, source: SocketAddr, request: &[u8]) -> usize {
    engine.handle_datagram(now, source, request);
    match engine.poll_output() {
        Output::Transmit(reply) => reply.payload().len(),
        other => panic!("no reply: {other:?}"),
    }
}

/// An NTS request from a client provisioned by `server`, with `cookies` in
/// its jar before the request.
fn nts_request(server: &mut Engine, cookies: usize) -> Vec<u8> {
    let keys = || NtsKeys { c2s: AeadKey::new([1; 32]), s2c: AeadKey::new([2; 32]) };
    let mut ke = [0u8; 64];
    let len = nts_ke_write_request(&mut ke).unwrap();
    let mut out = [0u8; 2048];
    let answer = server.nts_ke_answer(t0(), &ke[..len], &keys(), NtsKeServerConfig::default(), &mut out).unwrap();
    let jar = nts_ke_read_response(&out[..answer.len]).unwrap().cookies;
    let mut client = NtsClient::new(keys(), jar.iter().take(cookies).map(Vec::as_slice));
    let mut request = [0u8; MAX_DATAGRAM];
    Repr { mode: Mode::Client, poll: 6, transmit_time: t0(), ..Repr::default() }.emit_into(&mut request).unwrap();
    let len = client.write_request(&mut request, &mut *counter()).unwrap();
    request[..len].to_vec()
}

/// Measures and prints the three `nts.server.*` ratios.
pub fn run() {
    let source: SocketAddr = "192.0.2.2:123".parse().unwrap();
    let mut keyring = Keyring::new();
    keyring.insert(Key::new(1, KeyType::Md5, b"interop-md5-key!").unwrap(), true);
    let config = EngineConfig::default()
        .with_local_reference(1)
        .with_nts_server(NtsServerConfig::default())
        .with_random_source(counter());
    let mut engine = Engine::new(config, keyring, t0());
    // The engine's associations and deadlines do not matter here; a fixed
    // reading a second after start keeps every path the same per call.
    let now = t0() + NtpDuration::from_seconds_f64(1.0);

    let mut plain = [0u8; 48];
    Repr { mode: Mode::Client, poll: 6, transmit_time: t0(), ..Repr::default() }.emit_into(&mut plain).unwrap();
    let mut md5 = [0u8; 68];
    md5[..48].copy_from_slice(&plain);
    let md5_len = sign(&mut md5, 48, engine.keys().get(1).unwrap()).unwrap();
    let nts1 = nts_request(&mut engine, 8);
    let nts3 = nts_request(&mut engine, 1);

    // Check every path before timing it: a reply of the expected length.
    assert_eq!(serve(&mut engine, now, source, &plain), 48);
    assert_eq!(serve(&mut engine, now, source, &md5[..md5_len]), 68);
    assert_eq!(serve(&mut engine, now, source, &nts1), nts1.len(), "one cookie back: as long as the request");
    assert_eq!(serve(&mut engine, now, source, &nts3), nts3.len(), "three cookies back: as long as the request");
    assert_eq!(engine.responder().counters().nts_replies, 2);

    let (mut unauth_ns, mut md5_ns, mut nts_ns, mut nts3_ns) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        unauth_ns = unauth_ns.min(measure(|| serve(&mut engine, now, source, black_box(&plain))));
        md5_ns = md5_ns.min(measure(|| serve(&mut engine, now, source, black_box(&md5[..md5_len]))));
        nts_ns = nts_ns.min(measure(|| serve(&mut engine, now, source, black_box(&nts1))));
        nts3_ns = nts3_ns.min(measure(|| serve(&mut engine, now, source, black_box(&nts3))));
    }
    println!(
        "nts server, ns per request through the engine: unauth {unauth_ns:.0}, md5 {md5_ns:.0}, nts (1 cookie) {nts_ns:.0}, nts (3 cookies) {nts3_ns:.0}"
    );
    print_ratio("nts.server.reply_vs_unauth", nts_ns, "unauth", unauth_ns);
    print_ratio("nts.server.reply_vs_md5", nts_ns, "md5", md5_ns);
    print_ratio("nts.server.reply3_vs_unauth", nts3_ns, "unauth", unauth_ns);
}
