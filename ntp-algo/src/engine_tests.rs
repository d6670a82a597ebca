//! Unit tests of the engine: every dispatch cell of RFC 5905 Figure 20,
//! every packet test, every kiss-o'-death rule, and the hostile cases, each
//! checking that a rejected packet leaves the association as it was.

use std::net::SocketAddr;

use ntp_wire::auth::{self, Key, KeyType, Keyring};
use ntp_wire::{KissCode, LeapIndicator, Mode, NtpDuration, NtpShort, NtpTimestamp, ReferenceId, Repr, Stratum};

use super::*;
use crate::access::Prefix;
use crate::association::AssociationConfig;
use crate::ids::PacketTest;

const ME: &str = "10.0.0.2:123";
const SERVER: &str = "10.0.0.1:123";
const OTHER: &str = "10.0.0.9:123";
const KEY: u32 = 1;
const UNTRUSTED: u32 = 2;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t0() -> NtpTimestamp {
    NtpTimestamp::from_unix(1_795_219_200, 0)
}

fn at(s: f64) -> NtpTimestamp {
    t0() + NtpDuration::from_seconds_f64(s)
}

fn keyring() -> Keyring {
    let mut ring = Keyring::new();
    ring.insert(Key::new(KEY, KeyType::Md5, b"secret-one").unwrap(), true);
    ring.insert(Key::new(UNTRUSTED, KeyType::Sha1, b"secret-two").unwrap(), false);
    ring
}

fn config() -> EngineConfig {
    EngineConfig { local_addresses: vec![addr(ME).ip()], ..EngineConfig::default() }
}

fn engine_with(config: EngineConfig) -> Engine {
    Engine::new(config, keyring(), t0())
}

#[derive(Default)]
struct Drained {
    transmits: Vec<Transmit>,
    events: Vec<Event>,
    clock: Vec<ClockAction>,
}

fn drain(e: &mut Engine) -> Drained {
    let mut d = Drained::default();
    loop {
        match e.poll_output() {
            Output::Transmit(t) => d.transmits.push(t),
            Output::Event(ev) => d.events.push(ev),
            Output::Clock(c) => d.clock.push(c),
            Output::Timeout(_) => return d,
        }
    }
}

/// A server's answer to `request`, the server `offset` seconds ahead,
/// received `rtt` after it was sent.
fn reply_to(request: &[u8], send_time: f64, offset: f64, key: Option<u32>) -> Vec<u8> {
    let req = Repr::from_bytes(request).unwrap();
    let server_time = at(send_time + offset + 0.0001);
    let reply = Repr {
        leap: LeapIndicator::NoWarning,
        mode: Mode::Server,
        stratum: Stratum(1),
        poll: req.poll,
        precision: -20,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::from_seconds_f64(0.0001),
        reference_id: ReferenceId(*b"GPS\0"),
        reference_time: at(send_time - 10.0),
        origin_time: req.transmit_time,
        receive_time: server_time,
        transmit_time: server_time + NtpDuration::from_seconds_f64(0.00001),
        ..Repr::default()
    };
    sign(&reply, key)
}

fn sign(repr: &Repr, key: Option<u32>) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    let mut len = repr.emit_into(&mut buf).unwrap();
    if let Some(id) = key {
        let ring = keyring();
        len = auth::sign(&mut buf, len, ring.get(id).unwrap()).unwrap();
    }
    buf.truncate(len);
    buf
}

/// An engine with one client association to SERVER, its first request sent.
fn client_engine(key: Option<u32>) -> (Engine, AssociationId, Vec<u8>) {
    let mut e = engine_with(config());
    let mut c = AssociationConfig::client(addr(SERVER)).with_poll(4, 6);
    c.key_id = key;
    let id = e.add_association(c, t0()).unwrap();
    e.handle_timeout(t0());
    let d = drain(&mut e);
    assert_eq!(d.transmits.len(), 1);
    (e, id, d.transmits[0].payload().to_vec())
}

/// What a hostile packet must not change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    reach: u8,
    origin: NtpTimestamp,
    samples: u64,
    output: Option<crate::filter::FilterOutput>,
    stratum: u8,
    poll: i8,
    next_poll: f64,
    associations: usize,
}

fn snapshot(e: &Engine, id: AssociationId) -> Snapshot {
    let a = e.association(id).unwrap();
    Snapshot {
        reach: a.reach(),
        origin: a.pending_origin(),
        samples: a.counters().samples,
        output: a.filter_output(),
        stratum: a.stratum(),
        poll: a.poll_log2(),
        next_poll: a.next_poll(),
        associations: e.associations().count(),
    }
}

fn rejected_by(d: &Drained, test: PacketTest) -> bool {
    d.events.iter().any(|ev| matches!(ev, Event::PacketRejected { test: t, .. } if *t == test))
}

// ----- client/server -----

#[test]
fn test_client_request_then_reply_gives_a_sample() {
    let (mut e, id, request) = client_engine(None);
    let req = Repr::from_bytes(&request).unwrap();
    assert_eq!(req.mode, Mode::Client);
    assert!(req.origin_time.is_zero(), "client requests echo nothing");
    let reply = reply_to(&request, 0.0, 0.25, None);
    e.handle_datagram(at(0.0002), addr(SERVER), &reply);
    let d = drain(&mut e);
    assert!(d.events.contains(&Event::Reachable { id }));
    let a = e.association(id).unwrap();
    assert_eq!(a.reach(), 1);
    assert_eq!(a.stratum(), 1);
    let out = a.filter_output().unwrap();
    assert!((out.offset - 0.25).abs() < 1e-3, "{out:?}");
    assert!(a.pending_origin().is_zero(), "an answered request is forgotten");
}

#[test]
fn test_signed_client_exchange() {
    let (mut e, id, request) = client_engine(Some(KEY));
    assert!(auth::verify(&request, &keyring()).is_ok(), "our request is signed with key 1");
    let reply = reply_to(&request, 0.0, 0.0, Some(KEY));
    e.handle_datagram(at(0.0002), addr(SERVER), &reply);
    assert_eq!(e.association(id).unwrap().counters().samples, 1);
}

// ----- packet tests -----

#[test]
fn test_packet_test_1_duplicate() {
    let (mut e, id, request) = client_engine(None);
    let reply = reply_to(&request, 0.0, 0.0, None);
    e.handle_datagram(at(0.0002), addr(SERVER), &reply);
    drain(&mut e);
    let before = snapshot(&e, id);
    e.handle_datagram(at(0.0003), addr(SERVER), &reply);
    let d = drain(&mut e);
    assert!(rejected_by(&d, PacketTest::Duplicate));
    assert_eq!(e.counters().rejected(PacketTest::Duplicate), 1);
    assert_eq!(snapshot(&e, id), before);
}

#[test]
fn test_packet_test_2_bogus_origin() {
    let (mut e, id, request) = client_engine(None);
    let mut forged = Repr::from_bytes(&reply_to(&request, 0.0, 5.0, None)).unwrap();
    forged.origin_time += NtpDuration::from_seconds(1);
    let before = snapshot(&e, id);
    e.handle_datagram(at(0.0002), addr(SERVER), &sign(&forged, None));
    let d = drain(&mut e);
    assert!(rejected_by(&d, PacketTest::Bogus));
    assert_eq!(snapshot(&e, id), before, "a bogus packet must not make us forget our request");
    // The genuine reply still gets through afterwards.
    e.handle_datagram(at(0.0003), addr(SERVER), &reply_to(&request, 0.0, 0.0, None));
    assert_eq!(e.association(id).unwrap().counters().samples, 1);
}

#[test]
fn test_packet_test_3_zero_origin_and_zero_transmit() {
    let (mut e, id, request) = client_engine(None);
    let good = Repr::from_bytes(&reply_to(&request, 0.0, 0.0, None)).unwrap();
    let before = snapshot(&e, id);
    let zero_origin = Repr { origin_time: NtpTimestamp::ZERO, ..good };
    e.handle_datagram(at(0.0002), addr(SERVER), &sign(&zero_origin, None));
    let zero_transmit = Repr { transmit_time: NtpTimestamp::ZERO, ..good };
    e.handle_datagram(at(0.0002), addr(SERVER), &sign(&zero_transmit, None));
    let d = drain(&mut e);
    assert!(rejected_by(&d, PacketTest::Invalid));
    assert_eq!(e.counters().rejected(PacketTest::Invalid), 2);
    assert_eq!(snapshot(&e, id), before);
}

#[test]
fn test_packet_test_4_access_denied() {
    let mut cfg = config();
    cfg.access = AccessList::new(AccessClass::Peer);
    cfg.access.add(Prefix::host(addr(SERVER).ip()), AccessClass::Serve);
    let mut e = engine_with(cfg);
    let id = e.add_association(AssociationConfig::client(addr(SERVER)), t0()).unwrap();
    e.handle_timeout(t0());
    let request = drain(&mut e).transmits[0].payload().to_vec();
    let before = snapshot(&e, id);
    e.handle_datagram(at(0.0002), addr(SERVER), &reply_to(&request, 0.0, 0.0, None));
    let d = drain(&mut e);
    assert!(rejected_by(&d, PacketTest::AccessDenied), "serve: we serve it but never synchronize to it");
    assert_eq!(snapshot(&e, id), before);
}

#[test]
fn test_packet_test_5_authentication() {
    let (mut e, id, request) = client_engine(Some(KEY));
    let before = snapshot(&e, id);
    // Unsigned, signed with an untrusted key, signed with a tampered MAC, a crypto-NAK.
    let unsigned = reply_to(&request, 0.0, 0.0, None);
    let untrusted = reply_to(&request, 0.0, 0.0, Some(UNTRUSTED));
    let mut tampered = reply_to(&request, 0.0, 0.0, Some(KEY));
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let mut nak = unsigned.clone();
    nak.extend_from_slice(&[0, 0, 0, 0]);
    for bad in [&unsigned, &untrusted, &tampered, &nak] {
        e.handle_datagram(at(0.0002), addr(SERVER), bad);
    }
    let d = drain(&mut e);
    assert!(rejected_by(&d, PacketTest::Authentication));
    assert_eq!(e.counters().rejected(PacketTest::Authentication), 4);
    assert_eq!(e.counters().crypto_nak, 1);
    assert_eq!(snapshot(&e, id), before);
    e.handle_datagram(at(0.0003), addr(SERVER), &reply_to(&request, 0.0, 0.0, Some(KEY)));
    assert_eq!(e.association(id).unwrap().counters().samples, 1);
}

#[test]
fn test_packet_test_6_unsynchronized_counts_reach_but_gives_no_sample() {
    let (mut e, id, request) = client_engine(None);
    let mut r = Repr::from_bytes(&reply_to(&request, 0.0, 0.0, None)).unwrap();
    r.leap = LeapIndicator::Unsynchronized;
    r.stratum = Stratum(16);
    e.handle_datagram(at(0.0002), addr(SERVER), &sign(&r, None));
    let d = drain(&mut e);
    assert!(rejected_by(&d, PacketTest::Unsynchronized));
    let a = e.association(id).unwrap();
    assert_eq!(a.reach(), 1, "an unsynchronized server is still reachable");
    assert_eq!(a.stratum(), 16);
    assert!(a.filter_output().is_none());
}

#[test]
fn test_packet_test_7_bad_header() {
    let (mut e, id, request) = client_engine(None);
    let mut r = Repr::from_bytes(&reply_to(&request, 0.0, 0.0, None)).unwrap();
    r.root_dispersion = NtpShort::from_seconds_f64(17.0);
    e.handle_datagram(at(0.0002), addr(SERVER), &sign(&r, None));
    assert!(rejected_by(&drain(&mut e), PacketTest::BadHeader));
    assert!(e.association(id).unwrap().filter_output().is_none());
}

// ----- kiss-o'-death -----

fn kod(request: &[u8], code: &[u8; 4], poll: i8, key: Option<u32>) -> Vec<u8> {
    let req = Repr::from_bytes(request).unwrap();
    let r = Repr {
        leap: LeapIndicator::Unsynchronized,
        mode: Mode::Server,
        stratum: Stratum(0),
        poll,
        reference_id: ReferenceId(*code),
        origin_time: req.transmit_time,
        receive_time: req.transmit_time,
        transmit_time: req.transmit_time,
        ..Repr::default()
    };
    sign(&r, key)
}

#[test]
fn test_kod_rate_raises_the_poll() {
    let (mut e, id, request) = client_engine(None);
    let before = e.association(id).unwrap().poll_log2();
    e.handle_datagram(at(0.0002), addr(SERVER), &kod(&request, b"RATE", 8, None));
    let d = drain(&mut e);
    assert!(d.events.contains(&Event::KissOfDeath { id, code: KissCode::Rate }));
    let after = e.association(id).unwrap().poll_log2();
    assert!(after > before && after >= 6, "poll {before} -> {after}");
    assert_eq!(e.counters().kod_received, 1);
}

#[test]
fn test_kod_deny_and_rstr_demobilize() {
    for code in [b"DENY", b"RSTR"] {
        let (mut e, id, request) = client_engine(None);
        e.handle_datagram(at(0.0002), addr(SERVER), &kod(&request, code, 6, None));
        let d = drain(&mut e);
        assert!(e.association(id).is_none(), "{code:?}");
        assert!(d.events.iter().any(
            |ev| matches!(ev, Event::Demobilized { id: i, reason: DemobilizeReason::KissOfDeath(_), .. } if *i == id)
        ));
    }
}

#[test]
fn test_kod_with_wrong_origin_is_ignored() {
    let (mut e, id, request) = client_engine(None);
    let mut spoofed = Repr::from_bytes(&kod(&request, b"DENY", 6, None)).unwrap();
    spoofed.origin_time += NtpDuration::from_seconds(3);
    let before = snapshot(&e, id);
    e.handle_datagram(at(0.0002), addr(SERVER), &sign(&spoofed, None));
    let d = drain(&mut e);
    assert!(rejected_by(&d, PacketTest::Bogus));
    assert_eq!(snapshot(&e, id), before);
    assert_eq!(e.counters().kod_received, 0);
}

#[test]
fn test_unauthenticated_kod_for_authenticated_association_is_ignored() {
    let (mut e, id, request) = client_engine(Some(KEY));
    let before = snapshot(&e, id);
    e.handle_datagram(at(0.0002), addr(SERVER), &kod(&request, b"DENY", 6, None));
    assert!(rejected_by(&drain(&mut e), PacketTest::Authentication));
    assert_eq!(snapshot(&e, id), before);
    // Signed, it counts.
    e.handle_datagram(at(0.0003), addr(SERVER), &kod(&request, b"DENY", 6, Some(KEY)));
    assert!(e.association(id).is_none());
}

#[test]
fn test_other_kiss_codes_are_unsynchronized_not_commands() {
    let (mut e, id, request) = client_engine(None);
    e.handle_datagram(at(0.0002), addr(SERVER), &kod(&request, b"INIT", 6, None));
    assert!(rejected_by(&drain(&mut e), PacketTest::Unsynchronized));
    assert!(e.association(id).is_some());
}

// ----- dispatch cells -----

fn packet(mode: Mode, xmt: f64, org: NtpTimestamp) -> Repr {
    Repr {
        leap: LeapIndicator::NoWarning,
        mode,
        stratum: Stratum(2),
        poll: 6,
        precision: -20,
        reference_id: ReferenceId([10, 0, 0, 7]),
        reference_time: at(xmt - 5.0),
        origin_time: org,
        receive_time: if org.is_zero() { NtpTimestamp::ZERO } else { at(xmt - 0.001) },
        transmit_time: at(xmt),
        ..Repr::default()
    }
}

#[test]
fn test_dispatch_none_row() {
    // mode 1 unauthenticated, no peer rule: no association, a stateless mode 2 answer.
    let mut e = engine_with(config());
    e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::SymmetricActive, 1.0, NtpTimestamp::ZERO), None));
    let d = drain(&mut e);
    assert_eq!(e.associations().count(), 0);
    assert_eq!(e.counters().peer_refused, 1);
    assert_eq!(d.transmits.len(), 1);
    assert_eq!(Repr::from_bytes(d.transmits[0].payload()).unwrap().mode, Mode::SymmetricPassive);
    // mode 1 signed with a trusted key: NEWPS.
    e.handle_datagram(at(2.0), addr(OTHER), &sign(&packet(Mode::SymmetricActive, 2.0, NtpTimestamp::ZERO), Some(KEY)));
    let d = drain(&mut e);
    let a = e.associations().next().expect("a passive association");
    assert_eq!(a.config().mode, AssociationMode::SymmetricPassive);
    assert_eq!(a.config().key_id, Some(KEY));
    assert!(a.is_ephemeral());
    assert!(d.events.iter().any(|ev| matches!(ev, Event::Mobilized { ephemeral: true, .. })));
    // mode 2, 4 from unknown sources: discarded; mode 3: answered.
    let mut e = engine_with(config());
    for mode in [Mode::SymmetricPassive, Mode::Server] {
        e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(mode, 1.0, at(0.5)), None));
    }
    assert_eq!(e.counters().discarded, 2);
    e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::Client, 1.0, NtpTimestamp::ZERO), None));
    let d = drain(&mut e);
    assert_eq!(d.transmits.len(), 1);
    let reply = Repr::from_bytes(d.transmits[0].payload()).unwrap();
    assert_eq!(reply.mode, Mode::Server);
    assert_eq!(reply.origin_time, at(1.0));
    assert_eq!(e.associations().count(), 0);
    // mode 5 with broadcast client off: discarded; on: NEWBC.
    e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::Broadcast, 1.0, NtpTimestamp::ZERO), None));
    assert_eq!(e.associations().count(), 0);
    let mut e = engine_with(EngineConfig { broadcast_client: true, ..config() });
    e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::Broadcast, 1.0, NtpTimestamp::ZERO), None));
    let a = e.associations().next().expect("a broadcast client association");
    assert_eq!(a.config().mode, AssociationMode::BroadcastClient);
    // modes 0, 6, 7: discarded.
    for mode in [Mode::Reserved, Mode::Control, Mode::Private] {
        e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(mode, 1.0, NtpTimestamp::ZERO), None));
    }
    assert_eq!(e.counters().discarded, 3);
}

#[test]
fn test_dispatch_peer_rule_allows_unauthenticated_newps_unless_authentication_required() {
    let mut cfg = config();
    cfg.access.add(Prefix::host(addr(OTHER).ip()), AccessClass::Peer);
    let mut e = engine_with(cfg.clone());
    e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::SymmetricActive, 1.0, NtpTimestamp::ZERO), None));
    assert_eq!(e.associations().count(), 1);
    cfg.require_authentication = true;
    let mut e = engine_with(cfg);
    e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::SymmetricActive, 1.0, NtpTimestamp::ZERO), None));
    assert_eq!(e.associations().count(), 0);
    assert_eq!(e.counters().peer_refused, 1);
}

fn engine_with_association(mode: AssociationMode) -> (Engine, AssociationId) {
    let mut e = engine_with(EngineConfig { broadcast_client: true, ..config() });
    let id = e.add_association(AssociationConfig::new(mode, addr(OTHER)), t0()).unwrap();
    drain(&mut e);
    (e, id)
}

#[test]
fn test_dispatch_association_rows() {
    use AssociationMode::*;
    // (association mode, packet mode, handled by the association?)
    let table = [
        (SymmetricActive, Mode::SymmetricActive, true),
        (SymmetricActive, Mode::SymmetricPassive, true),
        (SymmetricActive, Mode::Server, false),
        (SymmetricActive, Mode::Broadcast, false),
        (SymmetricPassive, Mode::SymmetricActive, true),
        (SymmetricPassive, Mode::SymmetricPassive, false),
        (SymmetricPassive, Mode::Server, false),
        (SymmetricPassive, Mode::Broadcast, false),
        (Client, Mode::SymmetricActive, false),
        (Client, Mode::SymmetricPassive, false),
        (Client, Mode::Server, true),
        (Client, Mode::Broadcast, false),
        (BroadcastClient, Mode::SymmetricActive, false),
        (BroadcastClient, Mode::SymmetricPassive, false),
        (BroadcastClient, Mode::Broadcast, true),
        (BroadcastServer, Mode::Server, false),
        (BroadcastServer, Mode::SymmetricActive, false),
    ];
    for (assoc_mode, packet_mode, proc) in table {
        let (mut e, id) = engine_with_association(assoc_mode);
        let received_before = e.association(id).unwrap().counters().received;
        let discarded_before = e.counters().discarded;
        e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(packet_mode, 1.0, at(0.5)), None));
        let received = e.association(id).unwrap().counters().received - received_before;
        assert_eq!(received == 1, proc, "{assoc_mode:?} x {packet_mode:?}");
        assert_eq!(e.counters().discarded - discarded_before == 1, !proc, "{assoc_mode:?} x {packet_mode:?}");
    }
}

#[test]
fn test_dispatch_client_request_is_answered_whatever_the_association() {
    for mode in [AssociationMode::Client, AssociationMode::SymmetricActive, AssociationMode::BroadcastClient] {
        let (mut e, _) = engine_with_association(mode);
        e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::Client, 1.0, NtpTimestamp::ZERO), None));
        let d = drain(&mut e);
        assert_eq!(d.transmits.len(), 1, "{mode:?}");
        assert_eq!(e.responder().counters().replies, 1);
    }
}

#[test]
fn test_dispatch_passive_err_cell_never_demobilizes() {
    let (mut e, id) = engine_with_association(AssociationMode::SymmetricPassive);
    e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::SymmetricPassive, 1.0, at(0.5)), None));
    assert!(e.association(id).is_some());
}

#[test]
fn test_broadcast_client_calibrates_then_listens() {
    let mut e = engine_with(EngineConfig { broadcast_client: true, ..config() });
    let server = addr(OTHER);
    e.handle_datagram(at(1.0), server, &sign(&packet(Mode::Broadcast, 1.0, NtpTimestamp::ZERO), None));
    let id = e.associations().next().unwrap().id();
    // Calibration: client requests, answered by mode 4.
    let mut now = 1.0;
    for _ in 0..10 {
        e.handle_timeout(at(now));
        for t in drain(&mut e).transmits {
            assert_eq!(t.destination, server);
            let reply = reply_to(t.payload(), now, 0.0, None);
            e.handle_datagram(at(now + 0.0002), server, &reply);
        }
        now += 2.0;
    }
    let a = e.association(id).unwrap();
    let delay = a.broadcast_delay().expect("calibrated");
    assert!(delay > 0.0 && delay < 0.001, "{delay}");
    // Now mode 4 is no longer ours, and broadcasts give samples.
    assert!(!a.accepts(Mode::Server));
    let samples = a.counters().samples;
    let mut b = packet(Mode::Broadcast, now, NtpTimestamp::ZERO);
    b.stratum = Stratum(1);
    e.handle_datagram(at(now + 0.0001), server, &sign(&b, None));
    assert_eq!(e.association(id).unwrap().counters().samples, samples + 1);
}

// ----- symmetric mode and hostile mode 1 -----

#[test]
fn test_symmetric_bookkeeping_echoes_the_peer() {
    let (mut e, id) = engine_with_association(AssociationMode::SymmetricActive);
    // The peer's first packet (zero origin) is invalid for time but remembered.
    e.handle_datagram(at(0.5), addr(OTHER), &sign(&packet(Mode::SymmetricActive, 0.5, NtpTimestamp::ZERO), None));
    assert!(rejected_by(&drain(&mut e), PacketTest::Invalid));
    e.handle_timeout(at(1.0));
    let d = drain(&mut e);
    let ours = Repr::from_bytes(d.transmits[0].payload()).unwrap();
    assert_eq!(ours.mode, Mode::SymmetricActive);
    assert_eq!(ours.origin_time, at(0.5), "our packet carries the peer's transmit time back");
    assert_eq!(ours.receive_time, at(0.5));
    // The peer answers with our transmit time as origin: a sample.
    let mut answer = packet(Mode::SymmetricPassive, 1.2, ours.transmit_time);
    answer.receive_time = at(1.1);
    e.handle_datagram(at(1.3), addr(OTHER), &sign(&answer, None));
    assert_eq!(e.association(id).unwrap().counters().samples, 1);
}

#[test]
fn test_unauthenticated_mode_1_cannot_steer_an_authenticated_peer() {
    let mut e = engine_with(config());
    let id = e.add_association(AssociationConfig::symmetric_active(addr(OTHER)).with_key(KEY), t0()).unwrap();
    e.handle_timeout(t0());
    drain(&mut e);
    let before = snapshot(&e, id);
    // Unsigned mode 1 and a crypto-NAK from the peer's address.
    let forged = sign(&packet(Mode::SymmetricActive, 0.5, at(0.0)), None);
    e.handle_datagram(at(0.6), addr(OTHER), &forged);
    let mut nak = forged.clone();
    nak.extend_from_slice(&[0; 4]);
    e.handle_datagram(at(0.7), addr(OTHER), &nak);
    let d = drain(&mut e);
    assert!(rejected_by(&d, PacketTest::Authentication));
    assert_eq!(snapshot(&e, id), before);
    e.handle_timeout(at(64.0));
    let ours = Repr::from_bytes(drain(&mut e).transmits[0].payload()).unwrap();
    assert!(ours.origin_time.is_zero(), "the forged transmit time was not echoed");
}

#[test]
fn test_ephemeral_limit_bounds_state() {
    let mut e = engine_with(EngineConfig { max_ephemeral: 3, ..config() });
    for i in 0..10u8 {
        let source: SocketAddr = format!("10.1.0.{i}:123").parse().unwrap();
        e.handle_datagram(
            at(1.0),
            source,
            &sign(&packet(Mode::SymmetricActive, 1.0 + f64::from(i), NtpTimestamp::ZERO), Some(KEY)),
        );
    }
    assert_eq!(e.associations().count(), 3);
    assert_eq!(e.counters().peer_refused, 7);
}

#[test]
fn test_ephemeral_passive_is_dropped_when_unreachable() {
    let mut e = engine_with(config());
    e.handle_datagram(at(1.0), addr(OTHER), &sign(&packet(Mode::SymmetricActive, 1.0, NtpTimestamp::ZERO), Some(KEY)));
    let id = e.associations().next().unwrap().id();
    let mut now = 1.0;
    while e.association(id).is_some() && now < 100_000.0 {
        now += 64.0;
        e.handle_timeout(at(now));
        drain(&mut e);
    }
    assert!(e.association(id).is_none(), "still there at {now}");
}

// ----- poll process -----

#[test]
fn test_iburst_sends_a_burst_while_unreachable() {
    let mut e = engine_with(config());
    e.add_association(AssociationConfig::client(addr(SERVER)).with_iburst(true), t0()).unwrap();
    let mut sent = Vec::new();
    let mut now = 0.0;
    while now < 12.0 {
        e.handle_timeout(at(now));
        sent.extend(drain(&mut e).transmits.iter().map(|_| now));
        now += 0.5;
    }
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert!(sent.windows(2).all(|w| (w[1] - w[0] - 2.0).abs() < 0.6), "{sent:?}");
}

#[test]
fn test_reach_register_shifts_per_poll_and_reports_unreachable() {
    let (mut e, id, request) = client_engine(None);
    e.handle_datagram(at(0.0002), addr(SERVER), &reply_to(&request, 0.0, 0.0, None));
    drain(&mut e);
    let mut events = Vec::new();
    let mut now = 0.0;
    for _ in 0..20 {
        now += 70.0;
        e.handle_timeout(at(now));
        events.extend(drain(&mut e).events);
        if e.association(id).unwrap().reach() == 0 {
            break;
        }
    }
    assert_eq!(e.association(id).unwrap().reach(), 0);
    assert!(events.contains(&Event::Unreachable { id }));
}

#[test]
fn test_config_errors() {
    let mut e = engine_with(config());
    let bad = AssociationConfig::client(addr(SERVER)).with_poll(3, 18);
    assert_eq!(e.add_association(bad, t0()), Err(ConfigError::PollOutOfRange { poll: 18 }));
    let bad = AssociationConfig::client(addr(SERVER)).with_poll(8, 6);
    assert_eq!(e.add_association(bad, t0()), Err(ConfigError::PollOrder { min_poll: 8, max_poll: 6 }));
    let bad = AssociationConfig::client(addr(SERVER)).with_key(99);
    assert_eq!(e.add_association(bad, t0()), Err(ConfigError::UnknownKey { key_id: 99 }));
    e.add_association(AssociationConfig::client(addr(SERVER)), t0()).unwrap();
    assert_eq!(
        e.add_association(AssociationConfig::client(addr(SERVER)), t0()),
        Err(ConfigError::Duplicate { address: addr(SERVER) })
    );
    assert_eq!(
        e.remove_association(AssociationId(77), t0()),
        Err(ConfigError::NoSuchAssociation { id: AssociationId(77) })
    );
}

#[test]
fn test_malformed_and_bad_version_are_counted() {
    let mut e = engine_with(config());
    e.handle_datagram(at(1.0), addr(OTHER), &[0u8; 20]);
    let mut v7 = sign(&packet(Mode::Client, 1.0, NtpTimestamp::ZERO), None);
    v7[0] = (v7[0] & !0b0011_1000) | (7 << 3);
    e.handle_datagram(at(1.0), addr(OTHER), &v7);
    assert_eq!(e.counters().malformed, 1);
    assert_eq!(e.counters().bad_version, 1);
    assert!(drain(&mut e).transmits.is_empty());
}

#[test]
fn test_deadline_is_never_in_the_past() {
    let (mut e, _, _) = client_engine(None);
    e.handle_datagram(at(500.0), addr(OTHER), &[0u8; 3]);
    match e.poll_output() {
        Output::Timeout(deadline) => assert!((deadline - at(500.0)).to_bits() >= 0),
        other => panic!("{other:?}"),
    }
}

// ----- leap seconds -----

/// A date as a clock reading.
fn date(y: i64, m: u8, d: u8) -> NtpTimestamp {
    let days = {
        // Days from 1970-01-01 to y-m-d (proleptic Gregorian).
        let (y, m) = if m <= 2 { (y - 1, i64::from(m) + 9) } else { (y, i64::from(m) - 3) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    };
    NtpTimestamp::from_unix(days * 86_400, 0)
}

fn leap_of_our_packets(e: &mut Engine, now: NtpTimestamp) -> LeapIndicator {
    e.handle_datagram(now, addr(OTHER), &sign(&packet(Mode::Client, 1.0, NtpTimestamp::ZERO), None));
    let reply = drain(e).transmits.into_iter().next().expect("a reply");
    Repr::from_bytes(reply.payload()).unwrap().leap
}

#[test]
fn test_manual_leap_second_rules() {
    use crate::leap::{LeapCommand, LeapCommandError};
    let leap_at = date(2027, 1, 1).to_date(NtpDate::ERA1_START).unwrap();
    // Unsynchronized: refused.
    let mut e = Engine::new(config(), keyring(), date(2026, 12, 10));
    assert_eq!(e.leap_command(LeapCommand::Add, leap_at, date(2026, 12, 10)), Err(LeapCommandError::NotSynchronized));
    // Synchronized (ntp master 1) but two months early: refused.
    let master = EngineConfig { local_reference_stratum: Some(1), ..config() };
    let mut e = Engine::new(master.clone(), keyring(), date(2026, 11, 1));
    assert!(matches!(
        e.leap_command(LeapCommand::Add, leap_at, date(2026, 11, 1)),
        Err(LeapCommandError::TooEarly { .. })
    ));
    assert_eq!(leap_of_our_packets(&mut e, date(2026, 11, 1)), LeapIndicator::NoWarning);
    // Within the month before: accepted, announced, and dropped after the leap.
    let mut e = Engine::new(master, keyring(), date(2026, 12, 10));
    e.leap_command(LeapCommand::Add, leap_at, date(2026, 12, 10)).unwrap();
    assert_eq!(leap_of_our_packets(&mut e, date(2026, 12, 10)), LeapIndicator::InsertSecond);
    e.clear_leap_command(date(2026, 12, 11));
    assert_eq!(leap_of_our_packets(&mut e, date(2026, 12, 11)), LeapIndicator::NoWarning);
    e.leap_command(LeapCommand::Delete, leap_at, date(2026, 12, 12)).unwrap();
    assert_eq!(leap_of_our_packets(&mut e, date(2026, 12, 12)), LeapIndicator::DeleteSecond);
    e.handle_timeout(date(2027, 1, 2));
    assert_eq!(leap_of_our_packets(&mut e, date(2027, 1, 2)), LeapIndicator::NoWarning);
}

#[test]
fn test_leap_seconds_list_sets_the_indicator() {
    let text = include_str!("../testdata/leap-seconds.list");
    let list = crate::leap::LeapSecondsList::parse(text).unwrap();
    let master = EngineConfig { local_reference_stratum: Some(1), ..config() };
    // December 2016: the list announces the leap second of 2016-12-31.
    let mut e = Engine::new(master.clone(), keyring(), date(2016, 12, 5));
    e.set_leap_seconds(list.clone(), date(2016, 12, 5));
    assert_eq!(leap_of_our_packets(&mut e, date(2016, 12, 5)), LeapIndicator::InsertSecond);
    // A month without a leap.
    let mut e = Engine::new(master, keyring(), date(2016, 11, 5));
    e.set_leap_seconds(list, date(2016, 11, 5));
    assert_eq!(leap_of_our_packets(&mut e, date(2016, 11, 5)), LeapIndicator::NoWarning);
}

#[test]
fn test_unsynchronized_engine_announces_unsynchronized() {
    let mut e = engine_with(config());
    assert_eq!(leap_of_our_packets(&mut e, at(1.0)), LeapIndicator::Unsynchronized);
}

#[test]
fn test_broadcast_servers_have_their_own_budget() {
    // Spoofed unauthenticated broadcasts fill the broadcast budget, not the
    // room a signed mode 1 peer needs.
    let mut e =
        engine_with(EngineConfig { broadcast_client: true, max_broadcast_servers: 4, max_ephemeral: 2, ..config() });
    for i in 0..50u8 {
        let source: SocketAddr = format!("10.9.0.{i}:123").parse().unwrap();
        e.handle_datagram(
            at(1.0),
            source,
            &sign(&packet(Mode::Broadcast, 1.0 + f64::from(i), NtpTimestamp::ZERO), None),
        );
    }
    let count = |e: &Engine, mode| e.associations().filter(|a| a.config().mode == mode).count();
    assert_eq!(count(&e, AssociationMode::BroadcastClient), 4);
    e.handle_datagram(at(2.0), addr(OTHER), &sign(&packet(Mode::SymmetricActive, 2.0, NtpTimestamp::ZERO), Some(KEY)));
    assert_eq!(count(&e, AssociationMode::SymmetricPassive), 1);
    assert_eq!(e.counters().peer_refused, 0);
}

#[test]
fn test_undrained_transmits_are_dropped_and_counted() {
    let mut e = engine_with(config());
    let request = sign(&packet(Mode::Client, 1.0, NtpTimestamp::ZERO), None);
    for _ in 0..(TRANSMIT_QUEUE_LIMIT + 10) {
        e.handle_datagram(at(1.0), addr(OTHER), &request);
    }
    assert_eq!(e.responder().counters().replies, TRANSMIT_QUEUE_LIMIT as u64 + 10);
    assert_eq!(e.counters().transmits_dropped, 10);
    assert_eq!(drain(&mut e).transmits.len(), TRANSMIT_QUEUE_LIMIT);
}

#[test]
fn test_timeout_is_never_before_the_last_input_after_weeks() {
    // Found by the `engine` fuzz target. The engine's timeline is f64
    // seconds; after 2^21 s (24 days) a reading with a fine fraction no
    // longer survives the trip clock -> f64 -> clock, and a deadline due at
    // once came back up to half an f64 ulp *before* the reading just given
    // (1 unit of 2^-32 s here), so `at - now` was negative.
    let mut e = engine_with(config());
    let late = |days: u64| t0() + NtpDuration::from_bits(((days * 86_400) << 32) as i64 + 0x5333_3339);
    for days in [25, 40, 100, 400] {
        let now = late(days);
        e.handle_timeout(now);
        let id = e.add_association(AssociationConfig::client(addr(SERVER)), now).unwrap();
        // The new association's first poll is due now: drain to the Timeout.
        let deadline = loop {
            if let Output::Timeout(at) = e.poll_output() {
                break at;
            }
        };
        assert!((deadline - now).to_bits() >= 0, "day {days}: deadline {deadline:?} before now {now:?}");
        e.remove_association(id, now).unwrap();
        drain(&mut e);
    }
}

// ----- every access class against every kind of source -----

/// Drives one source of kind `mode` (a server we poll, a symmetric peer we
/// poll, a broadcast server we hear) through ten exchanges under an access
/// list whose every address has class `class`; returns the engine.
fn run_source_under(class: AccessClass, mode: AssociationMode) -> Engine {
    let mut cfg = config().with_access(AccessList::new(class)).with_broadcast_client(true);
    cfg.access.set_default_class(class);
    let mut e = engine_with(cfg);
    let source = addr(OTHER);
    if mode != AssociationMode::BroadcastClient {
        e.add_association(AssociationConfig::new(mode, source).with_poll(4, 4), t0()).unwrap();
    }
    let mut now = 0.0;
    for round in 0..10 {
        if mode == AssociationMode::BroadcastClient {
            let mut b = packet(Mode::Broadcast, now, NtpTimestamp::ZERO);
            b.stratum = Stratum(1);
            e.handle_datagram(at(now + 0.0001), source, &sign(&b, None));
        }
        e.handle_timeout(at(now));
        for t in drain(&mut e).transmits.into_iter().filter(|t| t.destination == source) {
            let request = Repr::from_bytes(t.payload()).unwrap();
            let answer = match request.mode {
                // A symmetric peer's answer: our transmit time as its origin.
                Mode::SymmetricActive => sign(
                    &Repr {
                        receive_time: at(now + 0.001),
                        ..packet(Mode::SymmetricPassive, now + 0.002, request.transmit_time)
                    },
                    None,
                ),
                _ => reply_to(t.payload(), now, 0.0, None),
            };
            e.handle_datagram(at(now + 0.003), source, &answer);
        }
        drain(&mut e);
        now += if round < 6 { 2.0 } else { 16.0 };
    }
    e
}

#[test]
fn test_only_the_peer_class_lets_a_source_become_a_sample_or_system_peer() {
    for mode in [AssociationMode::Client, AssociationMode::SymmetricActive, AssociationMode::BroadcastClient] {
        for class in AccessClass::ALL {
            let e = run_source_under(class, mode);
            let what = format!("{mode:?} source, access class {class}");
            let samples: u64 = e.associations().map(|a| a.counters().samples).sum();
            let peer = e.system().system_peer();
            if class == AccessClass::Peer {
                assert!(samples > 0, "{what}: samples expected");
                let id = peer.unwrap_or_else(|| panic!("{what}: the source should be the system peer"));
                assert_eq!(e.association(id).unwrap().config().address, addr(OTHER), "{what}");
                assert_eq!(e.selection_status(id), SelectionStatus::SystemPeer, "{what}");
                continue;
            }
            assert_eq!(samples, 0, "{what}: a source we may not synchronize to gave a sample");
            assert_eq!(peer, None, "{what}: a source we may not synchronize to became the system peer");
            assert!(!e.system().is_synchronized(), "{what}");
            assert!(e.associations().all(|a| a.selection() == SelectionStatus::Rejected), "{what}");
            match (mode, class) {
                // Broadcasts from a source we may not sync to create nothing.
                (AssociationMode::BroadcastClient, _) => assert_eq!(e.associations().count(), 0, "{what}"),
                // `ignore` drops the answers at the door, before any association sees them.
                (_, AccessClass::Ignore) => {
                    assert!(e.counters().access_denied > 0, "{what}");
                    assert_eq!(e.counters().rejected(PacketTest::AccessDenied), 0, "{what}");
                }
                // The others reach the association and fail test 4 there.
                _ => assert!(e.counters().rejected(PacketTest::AccessDenied) > 0, "{what}"),
            }
        }
    }
}

// ----- start-up: frequency from the initial burst, the first round -----

/// A client with iburst associations to `servers` (each with its clock
/// offset from true time, seconds) whose own clock starts `start_offset`
/// seconds behind true time and runs `error_ppm` slow. Replies come back
/// 0.2 ms after each request, the servers answering in reverse order of
/// configuration. Runs `seconds` of true time in 50 ms steps; returns the
/// steps the engine asked for and the clock's error (local − true) at the end.
fn start_up(servers: &[(&str, f64)], start_offset: f64, error_ppm: f64, seconds: f64) -> (Vec<f64>, f64) {
    start_up_with_queues(servers, start_offset, error_ppm, seconds, &[])
}

/// [`start_up`], with the replies numbered in `queued` (0 = the first)
/// held 5 ms in a queue on the way back.
fn start_up_with_queues(
    servers: &[(&str, f64)],
    start_offset: f64,
    error_ppm: f64,
    seconds: f64,
    queued: &[usize],
) -> (Vec<f64>, f64) {
    let mut e = engine_with(config());
    for (server, _) in servers {
        e.add_association(AssociationConfig::client(addr(server)).with_iburst(true), t0()).unwrap();
    }
    let mut error = -start_offset;
    let mut correction = 0.0;
    let mut steps = Vec::new();
    let mut replies_sent = 0;
    let dt = 0.05;
    let mut t = 0.0;
    while t < seconds {
        let local = t + error;
        e.handle_timeout(at(local));
        let mut d = drain(&mut e);
        let mut replies = Vec::new();
        for tx in d.transmits.iter().rev() {
            let server_offset = servers.iter().find(|(s, _)| addr(s) == tx.destination).unwrap().1;
            replies.push((tx.destination, reply_to(tx.payload(), local, server_offset - error, None)));
        }
        for (from, reply) in replies {
            let queue = if queued.contains(&replies_sent) { 0.005 } else { 0.0 };
            replies_sent += 1;
            e.handle_datagram(at(local + 0.0002 + queue), from, &reply);
            let more = drain(&mut e);
            d.clock.extend(more.clock);
        }
        for action in d.clock {
            match action {
                ClockAction::Step { offset } => {
                    error += offset;
                    steps.push(offset);
                }
                ClockAction::SetFrequency { ppm } => correction = ppm * 1e-6,
            }
        }
        error += (correction - error_ppm * 1e-6) * dt;
        t += dt;
    }
    (steps, error)
}

#[test]
fn test_initial_burst_measures_the_frequency() {
    // 0.3 s behind and 100 ppm slow. The step comes at the third sample
    // (4 s); without the burst's slope the clock would then drift 100 ppm
    // until the first 64 s poll, 3.6 ms by 40 s.
    let (steps, error) = start_up(&[(SERVER, 0.0)], 0.3, 100.0, 40.0);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!((steps[0] - 0.3).abs() < 0.001, "{steps:?}");
    assert!(error.abs() < 200e-6, "error {error}");
}

#[test]
fn test_first_update_waits_for_the_burst_round() {
    // The server 200 ms off answers first: alone it would be stepped to.
    // Waiting for the round, the selection sees three and drops it.
    let servers = [(SERVER, 0.0), ("10.0.0.3:123", 0.0), ("10.0.0.4:123", 0.2)];
    let (steps, error) = start_up(&servers, 0.3, 0.0, 20.0);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!((steps[0] - 0.3).abs() < 0.001, "{steps:?}");
    assert!(error.abs() < 1e-3, "error {error}");
}

#[test]
fn test_queued_replies_stay_out_of_the_start_up_frequency() {
    // A clock that is right in frequency, and two burst replies held 5 ms
    // in a queue (each reads 2.5 ms off): the frequency fit must not take
    // them for a slope.
    let (steps, error) = start_up_with_queues(&[(SERVER, 0.0)], 0.3, 0.0, 40.0, &[3, 4]);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!(error.abs() < 200e-6, "error {error}");
}
