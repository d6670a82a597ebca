//! Hostile-input suite: scripted attacks on the engine, one named test per
//! class of attack in ntpd's security advisories. Every test asserts three
//! things: the attack is rejected, a counter or an event records it, and the
//! state it aimed at is unharmed (a [`Snapshot`] of the association's peer,
//! on-wire and poll variables, its filter, the association list and the
//! system variables, taken before and compared after). Each test then shows
//! that the engine still works: a genuine answer gives a sample.
//!
//! The attack classes and the advisories they come from:
//!
//! 1. `kod_spoofed_with_wrong_origin`: an off-path attacker sends a
//!    kiss-o'-death (DENY, RSTR, RATE) that does not answer our request, to
//!    make a client stop or slow down (CVE-2015-7704, CVE-2015-7705, from
//!    "Attacking the Network Time Protocol", NDSS 2016).
//! 2. `zero_origin_reply`: a reply whose origin timestamp is zero slips past
//!    an origin check that compares against a pending origin that is itself
//!    zero (CVE-2015-8138, and its regression CVE-2016-7431).
//! 3. `replay_of_an_old_reply`: a captured genuine reply is sent again, at
//!    once (duplicate transmit timestamp) or after a newer exchange (the
//!    replay class of CVE-2015-7973; a MAC does not stop a replay, the
//!    on-wire checks must). `replay_of_the_latest_symmetric_packet` does the
//!    same to a symmetric peer; `replay_of_an_old_authenticated_symmetric_packet`
//!    replays an older signed packet of the peer, which must not change the
//!    time our next packet echoes (found by this suite, fixed in
//!    `Association::receive`).
//! 4. `unauthenticated_symmetric_mode_1_cannot_create_an_association`: anyone
//!    can send mode 1, so it must not create a passive association without a
//!    trusted key (or an explicit `peer` rule where authentication is not
//!    required), and an unauthenticated packet must not steer an
//!    authenticated symmetric association's origin bookkeeping
//!    (CVE-2015-1799, CVE-2016-1549; CVE-2015-7974 for a packet signed with
//!    another trusted key).
//! 5. `crypto_nak_to_the_future_aimed_at_an_authenticated_peer`: a crypto-NAK
//!    (a bare zero key id) from a peer's address, with a transmit time in the
//!    future, got past ntpd's authentication of symmetric associations
//!    (CVE-2015-7871, "NAK to the future"); a spoofed crypto-NAK could also
//!    demobilize an association (CVE-2016-1547).
//! 6. `unauthenticated_packet_cannot_demobilize_a_configured_association`:
//!    mode 2 to a passive association (the ERR cell of RFC 5905 Figure 20),
//!    an unauthenticated KoD to an authenticated association, a stratum-0
//!    reply with a bad origin, and a flood of garbage from the server's
//!    address must neither tear down nor reschedule anything (CVE-2016-4953,
//!    CVE-2016-4954, CVE-2018-7185, CVE-2020-11868).
//! 7. `mode_3_flood_from_many_sources_keeps_state_bounded`: client requests
//!    from many spoofed sources must not grow the rate limiter's table, the
//!    transmit queue or the event queue, must not be amplified, and must not
//!    deny service to a legitimate client that keeps to its rate
//!    (CVE-2013-5211 for amplification, CVE-2016-7426 for rate limiting with
//!    spoofed sources).
//! 8. `oversized_and_truncated_packets`: every length from nothing to 64 KiB,
//!    random bytes from a fixed seed, never a panic and always counted
//!    (the parser-robustness class of CVE-2014-9295, CVE-2016-7434,
//!    CVE-2018-7182).
//! 9. `bad_extension_field_lengths`: extension fields whose length is zero,
//!    too small, not a multiple of 4, past the end of the packet, or a last
//!    field too short to tell from a MAC (the length-check class of
//!    CVE-2015-7691, CVE-2015-7692, CVE-2015-7702).
//! 10. `mac_trailer_of_every_wrong_length`: trailers of every length that is
//!     neither a crypto-NAK nor a MAC, and MACs with an unknown or untrusted
//!     key, a wrong digest, or a digest of the wrong length for the key's
//!     type, against an authenticated association (the MAC-handling class
//!     of CVE-2015-7974 and CVE-2016-1550).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ntp_algo::FilterOutput;
use ntp_algo::RateLimitConfig;
use ntp_algo::ResponderConfig;
use ntp_algo::SystemVariables;
use ntp_algo::{AccessClass, Prefix};
use ntp_algo::{AssociationConfig, AssociationId, AssociationMode, PacketTest};
use ntp_algo::{EVENT_QUEUE_LIMIT, Event};
use ntp_algo::{Engine, EngineConfig, Output, TRANSMIT_QUEUE_LIMIT, Transmit};
use ntp_wire::auth::{self, Key, KeyType, Keyring};
use ntp_wire::{
    ExtensionFieldWriter, LeapIndicator, Mode, NtpDuration, NtpShort, NtpTimestamp, Packet, ReferenceId, Repr, Stratum,
    Version,
};

// ----- the cast -----

/// Our own address.
const ME: &str = "192.0.2.2:123";
/// The server our client association polls.
const SERVER: &str = "192.0.2.1:123";
/// The peer of our symmetric associations.
const PEER: &str = "192.0.2.7:123";
/// A second peer, for ephemeral (passive) associations.
const PEER2: &str = "192.0.2.8:123";
/// Someone we have no association with.
const STRANGER: &str = "198.51.100.66:123";

/// MD5, trusted: the key of the authenticated associations.
const KEY: u32 = 1;
/// SHA1, in the keyring but not trusted.
const UNTRUSTED: u32 = 2;
/// SHA1, trusted, but not the key of any association.
const OTHER_KEY: u32 = 3;
/// Not in the keyring.
const UNKNOWN_KEY: u32 = 99;

/// Genuine exchanges before an attack, so the filter has an output.
const WARM_UP_EXCHANGES: usize = 4;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t0() -> NtpTimestamp {
    NtpTimestamp::from_unix(1_795_219_200, 0)
}

fn seconds(s: f64) -> NtpDuration {
    NtpDuration::from_seconds_f64(s)
}

fn keyring() -> Keyring {
    let mut ring = Keyring::new();
    ring.insert(Key::new(KEY, KeyType::Md5, b"hostile-suite-1").unwrap(), true);
    ring.insert(Key::new(UNTRUSTED, KeyType::Sha1, b"hostile-suite-2").unwrap(), false);
    ring.insert(Key::new(OTHER_KEY, KeyType::Sha1, b"hostile-suite-3").unwrap(), true);
    ring
}

fn base_config() -> EngineConfig {
    EngineConfig::default().with_local_address(addr(ME).ip())
}

/// A small deterministic generator (xorshift64*), so every random input is
/// the same on every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

// ----- packets -----

/// The header followed by a MAC made with `key`, if any.
fn emit(repr: &Repr, key: Option<u32>) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    let mut len = repr.emit_into(&mut buf).unwrap();
    if let Some(id) = key {
        len = auth::sign(&mut buf, len, keyring().get(id).unwrap()).unwrap();
    }
    buf.truncate(len);
    buf
}

/// `bytes` (a header, maybe with extension fields) signed with `key`.
fn signed(mut bytes: Vec<u8>, key: u32) -> Vec<u8> {
    let ring = keyring();
    let key = ring.get(key).unwrap();
    let offset = bytes.len();
    bytes.resize(offset + key.mac_len(), 0);
    auth::sign(&mut bytes, offset, key).unwrap();
    bytes
}

fn header_of(bytes: &[u8]) -> Repr {
    Repr::parse(&Packet::new_unchecked(bytes)).unwrap()
}

/// The remote's genuine answer (mode `mode`) to our packet `ours`: a
/// stratum-1 source in step with us, answering 100 µs after we sent.
fn answer(ours: &[u8], mode: Mode, key: Option<u32>) -> Vec<u8> {
    emit(&answer_header(ours, mode), key)
}

fn answer_header(ours: &[u8], mode: Mode) -> Repr {
    let request = Repr::from_bytes(ours).unwrap();
    let received = request.transmit_time + seconds(0.0001);
    Repr {
        leap: LeapIndicator::NoWarning,
        mode,
        stratum: Stratum(1),
        poll: request.poll,
        precision: -20,
        root_delay: NtpShort::from_seconds_f64(0.0001),
        root_dispersion: NtpShort::from_seconds_f64(0.0002),
        reference_id: ReferenceId(*b"GPS\0"),
        reference_time: received - seconds(8.0),
        origin_time: request.transmit_time,
        receive_time: received,
        transmit_time: received + seconds(0.00001),
        ..Repr::default()
    }
}

/// A kiss-o'-death with code `code` and origin `origin`.
fn kod(code: &[u8; 4], origin: NtpTimestamp, transmit: NtpTimestamp, poll: i8) -> Repr {
    Repr {
        leap: LeapIndicator::Unsynchronized,
        mode: Mode::Server,
        stratum: Stratum(0),
        poll,
        reference_id: ReferenceId(*code),
        origin_time: origin,
        receive_time: transmit,
        transmit_time: transmit,
        ..Repr::default()
    }
}

/// A client request sent at `at`.
fn client_request(at: NtpTimestamp) -> Vec<u8> {
    emit(&Repr { mode: Mode::Client, poll: 6, transmit_time: at, ..Repr::default() }, None)
}

// ----- driving the engine -----

#[derive(Default)]
struct Drained {
    transmits: Vec<Transmit>,
    events: Vec<Event>,
}

fn drain(e: &mut Engine) -> Drained {
    let mut d = Drained::default();
    loop {
        match e.poll_output() {
            Output::Transmit(t) => d.transmits.push(t),
            Output::Event(ev) => d.events.push(ev),
            Output::Timeout(_) => return d,
            _ => {}
        }
    }
}

impl Drained {
    fn rejections(&self, test: PacketTest) -> usize {
        self.events.iter().filter(|ev| matches!(ev, Event::PacketRejected { test: t, .. } if *t == test)).count()
    }

    /// No association came or went, and no kiss-o'-death was acted on.
    fn assert_no_lifecycle_events(&self, what: &str) {
        for ev in &self.events {
            assert!(
                !matches!(ev, Event::Mobilized { .. } | Event::Demobilized { .. } | Event::KissOfDeath { .. }),
                "{what}: unexpected {ev:?}"
            );
        }
    }

    fn transmits_to(&self, to: SocketAddr) -> Vec<Vec<u8>> {
        self.transmits.iter().filter(|t| t.destination == to).map(|t| t.payload().to_vec()).collect()
    }
}

/// What an attack must not change.
#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    reach: u8,
    pending_origin: NtpTimestamp,
    samples: u64,
    kod: u64,
    filter: Option<FilterOutput>,
    stratum: u8,
    leap: LeapIndicator,
    reference_id: ReferenceId,
    root_delay: f64,
    root_dispersion: f64,
    peer_poll: i8,
    poll: i8,
    next_poll: f64,
    associations: Vec<AssociationId>,
    system: SystemVariables,
}

fn snapshot(e: &Engine, id: AssociationId) -> Snapshot {
    let a = e.association(id).expect("the association is still there");
    Snapshot {
        reach: a.reach(),
        pending_origin: a.pending_origin(),
        samples: a.counters().samples,
        kod: a.counters().kod,
        filter: e.test_filter_output(id),
        stratum: a.stratum(),
        leap: a.leap(),
        reference_id: a.reference_id(),
        root_delay: a.root_delay(),
        root_dispersion: a.root_dispersion(),
        peer_poll: a.peer_poll_log2(),
        poll: a.poll_log2(),
        next_poll: e.test_next_poll_seconds(id).unwrap(),
        associations: e.associations().map(|a| a.id()).collect(),
        system: *e.system(),
    }
}

/// An engine with one warmed-up association (client or symmetric active)
/// and a packet of ours in flight, waiting for its answer.
struct Fixture {
    e: Engine,
    id: AssociationId,
    remote: SocketAddr,
    key: Option<u32>,
    /// The mode of the remote's answers.
    answer_mode: Mode,
    /// Our last packet, awaiting its answer.
    pending: Vec<u8>,
    /// When it was sent, engine timeline.
    sent: f64,
    /// Every genuine answer so far, oldest first.
    answers: Vec<Vec<u8>>,
}

impl Fixture {
    /// A client association to SERVER.
    fn client(config: EngineConfig, key: Option<u32>) -> Self {
        let mut association = AssociationConfig::client(addr(SERVER)).with_poll(4, 10);
        association.key_id = key;
        Self::new(config, association, Mode::Server)
    }

    /// A symmetric active association with PEER.
    fn symmetric(config: EngineConfig, key: Option<u32>) -> Self {
        let mut association = AssociationConfig::symmetric_active(addr(PEER)).with_poll(4, 10);
        association.key_id = key;
        Self::new(config, association, Mode::SymmetricPassive)
    }

    fn new(config: EngineConfig, association: AssociationConfig, answer_mode: Mode) -> Self {
        let mut e = Engine::new(config, keyring(), t0());
        let id = e.add_association(association, t0()).unwrap();
        let mut f = Fixture {
            e,
            id,
            remote: association.address,
            key: association.key_id,
            answer_mode,
            pending: Vec::new(),
            sent: 0.0,
            answers: Vec::new(),
        };
        for _ in 0..WARM_UP_EXCHANGES {
            f.poll();
            f.deliver_genuine_answer();
        }
        f.poll();
        drain(&mut f.e);
        f
    }

    /// A reading of the caller's clock `dt` seconds after our pending packet left.
    fn at(&self, dt: f64) -> NtpTimestamp {
        self.e.test_timestamp_at(self.sent + dt)
    }

    /// Runs the poll that is due (or `not_before`, if later) and records the packet we sent.
    fn poll_not_before(&mut self, not_before: f64) {
        let due = self.e.test_next_poll_seconds(self.id).unwrap().max(not_before);
        self.e.handle_timeout(self.e.test_timestamp_at(due));
        let sent = drain(&mut self.e).transmits_to(self.remote);
        assert_eq!(sent.len(), 1, "one packet per poll");
        self.pending = sent.into_iter().next().unwrap();
        self.sent = due;
    }

    fn poll(&mut self) {
        self.poll_not_before(0.0);
    }

    fn genuine_answer(&self) -> Vec<u8> {
        answer(&self.pending, self.answer_mode, self.key)
    }

    fn samples(&self) -> u64 {
        self.e.association(self.id).unwrap().counters().samples
    }

    /// Delivers the genuine answer to our pending packet, 200 µs after we
    /// sent it, and checks that it gave a sample.
    fn deliver_genuine_answer(&mut self) {
        let before = self.samples();
        let answer = self.genuine_answer();
        self.e.handle_datagram(self.at(0.0002), self.remote, &answer);
        assert_eq!(self.samples(), before + 1, "a genuine answer gives a sample");
        self.answers.push(answer);
    }

    /// The engine still works: a genuine answer to the pending packet gives a sample.
    fn assert_still_works(&mut self) {
        self.deliver_genuine_answer();
        drain(&mut self.e);
    }

    fn snapshot(&self) -> Snapshot {
        snapshot(&self.e, self.id)
    }

    /// Sends `bytes` from the remote's address, 100 µs after our packet left.
    fn attack(&mut self, bytes: &[u8]) {
        let now = self.at(0.0001);
        self.e.handle_datagram(now, self.remote, bytes);
    }

    /// The genuine answer's header, for forging variants of it.
    fn forgeable(&self) -> Repr {
        answer_header(&self.pending, self.answer_mode)
    }
}

fn assert_unharmed(before: &Snapshot, after: &Snapshot, what: &str) {
    assert_eq!(before, after, "{what}: the attack changed the state");
}

// ----- 1 -----

#[test]
fn kod_spoofed_with_wrong_origin() {
    for code in [b"DENY", b"RSTR", b"RATE"] {
        let name = String::from_utf8_lossy(code).into_owned();
        let mut f = Fixture::client(base_config(), None);
        let pending = header_of(&f.pending).transmit_time;
        let stale = header_of(&f.answers[0]).origin_time;
        let before = f.snapshot();
        let counters = *f.e.counters();
        let forged_origins = [
            pending + seconds(3.0), // a guess near our transmit time
            stale,                  // an earlier request of ours, already answered
            NtpTimestamp::from_bits(0x0123_4567_89ab_cdef),
            pending + NtpDuration::from_bits(1), // one fraction off
        ];
        for origin in forged_origins {
            // A poll of 17 asks for the longest interval there is.
            f.attack(&emit(&kod(code, origin, f.at(0.00005), 17), None));
        }
        let d = drain(&mut f.e);
        assert_eq!(d.rejections(PacketTest::Bogus), forged_origins.len(), "{name}");
        assert_eq!(
            f.e.counters().rejected(PacketTest::Bogus) - counters.rejected(PacketTest::Bogus),
            forged_origins.len() as u64,
            "{name}"
        );
        assert_eq!(f.e.counters().kod_received, counters.kod_received, "{name}: no KoD accepted");
        d.assert_no_lifecycle_events(&name);
        assert!(f.e.association(f.id).is_some(), "{name}: not demobilized");
        let after = f.snapshot();
        assert_eq!(after.poll, before.poll, "{name}: poll not raised");
        assert_unharmed(&before, &after, &name);
        f.assert_still_works();

        // Control: the same KoD with the right origin is obeyed, so the
        // rejection above was the origin check and nothing else.
        f.poll();
        let origin = header_of(&f.pending).transmit_time;
        let poll_before = f.e.association(f.id).unwrap().poll_log2();
        f.attack(&emit(&kod(code, origin, f.at(0.00005), 17), None));
        match code {
            b"RATE" => assert!(f.e.association(f.id).unwrap().poll_log2() > poll_before, "{name}"),
            _ => assert!(f.e.association(f.id).is_none(), "{name}: a genuine {name} demobilizes"),
        }
        assert_eq!(f.e.counters().kod_received, counters.kod_received + 1, "{name}");
    }
}

// ----- 2 -----

#[test]
fn zero_origin_reply() {
    for key in [None, Some(KEY)] {
        let mut f = Fixture::client(base_config(), key);
        let what = format!("key {key:?}");

        // (a) A request is pending: zero origin in a reply, with and without
        // a receive time, and in KoDs.
        let genuine = f.forgeable();
        let forgeries = [
            Repr { origin_time: NtpTimestamp::ZERO, ..genuine },
            Repr { origin_time: NtpTimestamp::ZERO, receive_time: NtpTimestamp::ZERO, ..genuine },
            Repr { origin_time: NtpTimestamp::ZERO, transmit_time: genuine.transmit_time + seconds(5.0), ..genuine },
            kod(b"DENY", NtpTimestamp::ZERO, f.at(0.00005), 17),
            kod(b"RATE", NtpTimestamp::ZERO, f.at(0.00005), 17),
        ];
        let before = f.snapshot();
        let invalid = f.e.counters().rejected(PacketTest::Invalid);
        for forged in &forgeries {
            f.attack(&emit(forged, f.key));
        }
        let d = drain(&mut f.e);
        assert_eq!(d.rejections(PacketTest::Invalid), forgeries.len(), "{what}");
        assert_eq!(f.e.counters().rejected(PacketTest::Invalid) - invalid, forgeries.len() as u64, "{what}");
        d.assert_no_lifecycle_events(&what);
        assert_unharmed(&before, &f.snapshot(), &what);
        f.assert_still_works();

        // (b) Nothing is pending (the answer came, our origin is forgotten,
        // pending_origin() is zero): a zero origin must not "match" it.
        // This is the CVE-2015-8138 case.
        assert!(f.e.association(f.id).unwrap().pending_origin().is_zero());
        let last = header_of(f.answers.last().unwrap());
        let before = f.snapshot();
        let invalid = f.e.counters().rejected(PacketTest::Invalid);
        let late = Repr {
            origin_time: NtpTimestamp::ZERO,
            receive_time: last.receive_time + seconds(1.0),
            transmit_time: last.transmit_time + seconds(1.0),
            ..last
        };
        f.e.handle_datagram(f.at(1.0), f.remote, &emit(&late, f.key));
        let deny = kod(b"DENY", NtpTimestamp::ZERO, f.at(1.0), 6);
        f.e.handle_datagram(f.at(1.0), f.remote, &emit(&deny, f.key));
        let d = drain(&mut f.e);
        assert_eq!(d.rejections(PacketTest::Invalid), 2, "{what}");
        assert_eq!(f.e.counters().rejected(PacketTest::Invalid) - invalid, 2, "{what}");
        d.assert_no_lifecycle_events(&what);
        assert_unharmed(&before, &f.snapshot(), &what);
        f.poll();
        f.assert_still_works();
    }
}

// ----- 3 -----

#[test]
fn replay_of_an_old_reply() {
    for key in [None, Some(KEY)] {
        let mut f = Fixture::client(base_config(), key);
        let what = format!("key {key:?}");

        // (a) The genuine answer, then the same bytes again: duplicate.
        f.deliver_genuine_answer();
        drain(&mut f.e);
        let latest = f.answers.last().unwrap().clone();
        let before = f.snapshot();
        let counters = *f.e.counters();
        f.attack(&latest);
        f.attack(&latest);
        let d = drain(&mut f.e);
        assert_eq!(d.rejections(PacketTest::Duplicate), 2, "{what}");
        assert_eq!(f.e.counters().rejected(PacketTest::Duplicate) - counters.rejected(PacketTest::Duplicate), 2);
        assert_unharmed(&before, &f.snapshot(), &what);

        // (b) A newer request is in flight: the latest answer (duplicate
        // transmit time) and every older genuine answer (an origin that is
        // not our pending one) are refused, and our request stays pending.
        f.poll();
        drain(&mut f.e);
        let before = f.snapshot();
        let counters = *f.e.counters();
        let old: Vec<Vec<u8>> = f.answers[..f.answers.len() - 1].to_vec();
        f.attack(&latest);
        for replay in &old {
            f.attack(replay);
        }
        let d = drain(&mut f.e);
        assert_eq!(d.rejections(PacketTest::Duplicate), 1, "{what}");
        assert_eq!(d.rejections(PacketTest::Bogus), old.len(), "{what}");
        assert_eq!(f.e.counters().rejected(PacketTest::Duplicate) - counters.rejected(PacketTest::Duplicate), 1);
        assert_eq!(f.e.counters().rejected(PacketTest::Bogus) - counters.rejected(PacketTest::Bogus), old.len() as u64);
        if key.is_some() {
            assert_eq!(f.e.counters().auth_failed, counters.auth_failed, "replays carry valid MACs");
        }
        d.assert_no_lifecycle_events(&what);
        assert_unharmed(&before, &f.snapshot(), &what);
        f.assert_still_works();

        // (c) After that newer exchange, the answer before it once more.
        let previous = f.answers[f.answers.len() - 2].clone();
        let before = f.snapshot();
        f.attack(&previous);
        assert_eq!(drain(&mut f.e).rejections(PacketTest::Bogus), 1, "{what}");
        assert_unharmed(&before, &f.snapshot(), &what);
        f.poll();
        f.assert_still_works();
    }
}

#[test]
fn replay_of_the_latest_symmetric_packet() {
    // The symmetric counterpart of (a) above: the peer's latest signed
    // packet, sent again, is a duplicate and changes nothing, not even the
    // time our next packet echoes.
    let mut f = Fixture::symmetric(base_config(), Some(KEY));
    let latest = f.answers.last().unwrap().clone();
    let before = f.snapshot();
    let duplicates = f.e.counters().rejected(PacketTest::Duplicate);
    f.attack(&latest);
    let d = drain(&mut f.e);
    assert_eq!(d.rejections(PacketTest::Duplicate), 1);
    assert_eq!(f.e.counters().rejected(PacketTest::Duplicate) - duplicates, 1);
    assert!(d.transmits.is_empty());
    assert_unharmed(&before, &f.snapshot(), "symmetric duplicate");
    f.poll();
    assert_eq!(header_of(&f.pending).origin_time, header_of(&latest).transmit_time);
    f.assert_still_works();
}

/// Reproducer for a finding (see the ignore reason): an older genuine,
/// correctly signed packet of the peer, replayed after newer exchanges,
/// fails test 2 but is still taken into the symmetric echo bookkeeping, so
/// our next packet carries the replayed transmit time as its origin and the
/// genuine peer then rejects our packet as bogus (one lost sample per
/// replay, so replaying once per poll starves the peer).
#[test]
fn replay_of_an_old_authenticated_symmetric_packet() {
    let mut f = Fixture::symmetric(base_config(), Some(KEY));
    let last_genuine = header_of(f.answers.last().unwrap()).transmit_time;
    let old = f.answers[0].clone();
    let before = f.snapshot();
    f.attack(&old);
    let d = drain(&mut f.e);
    assert_eq!(d.rejections(PacketTest::Bogus), 1);
    assert!(d.transmits.is_empty());
    assert_unharmed(&before, &f.snapshot(), "symmetric replay");
    f.poll();
    let next = header_of(&f.pending);
    assert_eq!(next.origin_time, last_genuine, "our next packet echoes the replayed transmit time instead");
    f.assert_still_works();
}

// ----- 4 -----

/// A symmetric active packet from a would-be peer, sent at `at`.
fn mode_1(at: NtpTimestamp, origin: NtpTimestamp) -> Repr {
    Repr {
        leap: LeapIndicator::NoWarning,
        mode: Mode::SymmetricActive,
        stratum: Stratum(1),
        poll: 6,
        precision: -20,
        reference_id: ReferenceId(*b"GPS\0"),
        reference_time: at - seconds(4.0),
        origin_time: origin,
        receive_time: if origin.is_zero() { NtpTimestamp::ZERO } else { at - seconds(0.001) },
        transmit_time: at,
        ..Repr::default()
    }
}

/// The same packet with its MAC's last digest byte flipped.
fn tampered(mut bytes: Vec<u8>) -> Vec<u8> {
    *bytes.last_mut().unwrap() ^= 0x01;
    bytes
}

/// A header followed by a MAC naming `key_id` with a made-up 16-byte digest.
fn with_fake_mac(repr: &Repr, key_id: u32) -> Vec<u8> {
    let mut bytes = emit(repr, None);
    bytes.extend_from_slice(&key_id.to_be_bytes());
    bytes.extend_from_slice(&[0x5a; 16]);
    bytes
}

#[test]
fn unauthenticated_symmetric_mode_1_cannot_create_an_association() {
    let stranger = addr(STRANGER);

    // (a) Authentication required, with and without a `peer` rule for the source.
    for peer_rule in [false, true] {
        let mut config = base_config().with_authentication_required(true);
        if peer_rule {
            config.access.add(Prefix::host(stranger.ip()), AccessClass::Peer);
        }
        let mut f = Fixture::client(config, Some(KEY));
        let what = format!("authentication required, peer rule {peer_rule}");
        let before = f.snapshot();
        let counters = *f.e.counters();
        let served = *f.e.responder().counters();
        let now = f.at(0.0001);
        let attempts = [
            emit(&mode_1(now, NtpTimestamp::ZERO), None),
            emit(&mode_1(now, now - seconds(1.0)), None),
            emit(&mode_1(now, NtpTimestamp::ZERO), Some(UNTRUSTED)),
            tampered(emit(&mode_1(now, NtpTimestamp::ZERO), Some(KEY))),
            with_fake_mac(&mode_1(now, NtpTimestamp::ZERO), UNKNOWN_KEY),
        ];
        for bytes in &attempts {
            f.e.handle_datagram(now, stranger, bytes);
        }
        let d = drain(&mut f.e);
        d.assert_no_lifecycle_events(&what);
        assert_eq!(f.e.associations().count(), 1, "{what}");
        assert_eq!(f.e.counters().peer_refused - counters.peer_refused, attempts.len() as u64, "{what}");
        // Refused packets go on to the stateless responder, which counts
        // their bad MACs (once: the engine does not count them too).
        let failed = f.e.counters().auth_failed - counters.auth_failed;
        let served_failed = f.e.responder().counters().auth_failed - served.auth_failed;
        assert!(failed + served_failed >= 3, "{what}: the bad MACs are counted");
        assert_unharmed(&before, &f.snapshot(), &what);

        // Control: signed with the trusted key, it does create a passive association.
        f.e.handle_datagram(now, stranger, &emit(&mode_1(now, NtpTimestamp::ZERO), Some(KEY)));
        let d = drain(&mut f.e);
        assert!(
            d.events
                .iter()
                .any(|ev| matches!(ev, Event::Mobilized { ephemeral: true, address, .. } if *address == stranger)),
            "{what}"
        );
        let passive = f.e.associations().find(|a| a.config().address == stranger).unwrap();
        assert_eq!(passive.config().mode, AssociationMode::SymmetricPassive);
        assert_eq!(passive.config().key_id, Some(KEY));
        f.assert_still_works();
    }

    // (b) Authentication not required, and no `peer` rule (every source may
    // do everything by default, but only an explicit rule lets an
    // unauthenticated packet create a peer): many sources, nothing created,
    // each answered statelessly.
    {
        let mut f = Fixture::client(base_config(), None);
        let what = "authentication not required, no peer rule";
        let before = f.snapshot();
        let counters = *f.e.counters();
        let now = f.at(0.0001);
        let sources = 200u32;
        for i in 0..sources {
            let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i)), 123);
            f.e.handle_datagram(now, source, &emit(&mode_1(now, NtpTimestamp::ZERO), None));
        }
        let d = drain(&mut f.e);
        d.assert_no_lifecycle_events(what);
        assert_eq!(f.e.associations().count(), 1, "{what}");
        assert_eq!(f.e.counters().peer_refused - counters.peer_refused, u64::from(sources));
        assert_eq!(d.transmits.len(), sources as usize, "{what}: answered by the stateless server");
        for t in &d.transmits {
            assert_eq!(header_of(t.payload()).mode, Mode::SymmetricPassive);
            assert!(t.payload().len() <= 48, "no amplification");
        }
        assert_unharmed(&before, &f.snapshot(), what);
        f.assert_still_works();
    }

    // (c) An authenticated symmetric association cannot be steered: forged
    // packets from the peer's address carry the right origin (an on-path
    // attacker sees it) and a forged transmit time, which our next packet
    // would echo as its origin if the bookkeeping took it.
    {
        let mut f = Fixture::symmetric(base_config(), Some(KEY));
        let what = "steering an authenticated peer";
        let last_genuine = header_of(f.answers.last().unwrap()).transmit_time;
        let ours = header_of(&f.pending).transmit_time;
        assert_eq!(header_of(&f.pending).origin_time, last_genuine, "the fixture's bookkeeping works");
        let now = f.at(0.0001);
        let forged_time = now + seconds(1000.0);
        let forged = Repr { transmit_time: forged_time, ..mode_1(now, ours) };
        let forged_passive = Repr { mode: Mode::SymmetricPassive, ..forged };
        let zero_origin = Repr { origin_time: NtpTimestamp::ZERO, ..forged };
        let attempts = [
            emit(&forged, None),
            emit(&forged_passive, None),
            emit(&zero_origin, None),
            emit(&forged, Some(UNTRUSTED)),
            emit(&forged, Some(OTHER_KEY)),
            tampered(emit(&forged, Some(KEY))),
            with_fake_mac(&forged, UNKNOWN_KEY),
        ];
        let before = f.snapshot();
        let counters = *f.e.counters();
        for bytes in &attempts {
            f.attack(bytes);
        }
        let d = drain(&mut f.e);
        assert_eq!(d.rejections(PacketTest::Authentication), attempts.len(), "{what}");
        assert_eq!(
            f.e.counters().rejected(PacketTest::Authentication) - counters.rejected(PacketTest::Authentication),
            attempts.len() as u64
        );
        assert!(d.transmits.is_empty(), "{what}: a forged packet must not make us answer");
        d.assert_no_lifecycle_events(what);
        assert_unharmed(&before, &f.snapshot(), what);

        // Our next packet echoes the last genuine transmit time, not the forged one.
        f.poll();
        let next = header_of(&f.pending);
        assert_ne!(next.origin_time, forged_time, "{what}");
        assert_eq!(next.origin_time, last_genuine, "{what}");
        f.assert_still_works();
    }
}

// ----- 5 -----

/// `repr` followed by a crypto-NAK (a zero key id and no digest).
fn crypto_nak(repr: &Repr) -> Vec<u8> {
    let mut bytes = emit(repr, None);
    bytes.extend_from_slice(&[0; 4]);
    assert!(auth::is_crypto_nak(&bytes));
    bytes
}

#[test]
fn crypto_nak_to_the_future_aimed_at_an_authenticated_peer() {
    // (a) The symmetric case of CVE-2015-7871.
    {
        let mut f = Fixture::symmetric(base_config(), Some(KEY));
        let what = "crypto-NAK to a symmetric peer";
        let last_genuine = header_of(f.answers.last().unwrap()).transmit_time;
        let ours = header_of(&f.pending).transmit_time;
        let now = f.at(0.0001);
        let future = now + seconds(86_400.0 * 365.0);
        let naks = [
            crypto_nak(&Repr { transmit_time: future, ..mode_1(now, ours) }),
            crypto_nak(&Repr { mode: Mode::SymmetricPassive, transmit_time: future, ..mode_1(now, ours) }),
            crypto_nak(&mode_1(now, ours)),
            crypto_nak(&Repr { transmit_time: future, ..mode_1(now, NtpTimestamp::ZERO) }),
            crypto_nak(&Repr { mode: Mode::SymmetricPassive, ..f.forgeable() }),
        ];
        let before = f.snapshot();
        let counters = *f.e.counters();
        for nak in &naks {
            f.attack(nak);
        }
        let d = drain(&mut f.e);
        assert_eq!(f.e.counters().crypto_nak - counters.crypto_nak, naks.len() as u64, "{what}");
        assert_eq!(d.rejections(PacketTest::Authentication), naks.len(), "{what}");
        assert!(d.transmits.is_empty(), "{what}");
        d.assert_no_lifecycle_events(what);
        assert_unharmed(&before, &f.snapshot(), what);
        f.poll();
        let next = header_of(&f.pending);
        assert_ne!(next.origin_time, future, "{what}: the future transmit time is not echoed");
        assert_eq!(next.origin_time, last_genuine, "{what}");
        f.assert_still_works();
    }

    // (b) An authenticated client association: a crypto-NAK carrying the
    // genuine answer's header, and a crypto-NAK KoD DENY with the right origin.
    {
        let mut f = Fixture::client(base_config(), Some(KEY));
        let what = "crypto-NAK to a client";
        let origin = header_of(&f.pending).transmit_time;
        let naks = [crypto_nak(&f.forgeable()), crypto_nak(&kod(b"DENY", origin, f.at(0.00005), 17))];
        let before = f.snapshot();
        let counters = *f.e.counters();
        for nak in &naks {
            f.attack(nak);
        }
        let d = drain(&mut f.e);
        assert_eq!(f.e.counters().crypto_nak - counters.crypto_nak, 2, "{what}");
        assert_eq!(d.rejections(PacketTest::Authentication), 2, "{what}");
        assert_eq!(f.e.counters().kod_received, counters.kod_received, "{what}");
        d.assert_no_lifecycle_events(what);
        assert_unharmed(&before, &f.snapshot(), what);
        f.assert_still_works();
    }

    // (c) Crypto-NAKs create nothing: from a stranger (also one with a
    // `peer` rule), and they do not tear down an ephemeral passive association.
    {
        let mut config = base_config();
        config.access.add(Prefix::host(addr(STRANGER).ip()), AccessClass::Peer);
        let mut f = Fixture::client(config, Some(KEY));
        let what = "crypto-NAKs create and remove nothing";
        let now = f.at(0.0001);
        // An ephemeral passive association with PEER2, created by a signed mode 1.
        f.e.handle_datagram(now, addr(PEER2), &emit(&mode_1(now, NtpTimestamp::ZERO), Some(KEY)));
        drain(&mut f.e);
        let passive = f.e.associations().find(|a| a.config().address == addr(PEER2)).unwrap().id();
        let before = f.snapshot();
        let before_passive = snapshot(&f.e, passive);
        let counters = *f.e.counters();
        let future = now + seconds(86_400.0 * 365.0);
        let nak = crypto_nak(&Repr { transmit_time: future, ..mode_1(now, NtpTimestamp::ZERO) });
        f.e.handle_datagram(now, addr(STRANGER), &nak);
        f.e.handle_datagram(now, addr("203.0.113.9:123"), &nak);
        f.e.handle_datagram(now, addr(PEER2), &nak);
        let d = drain(&mut f.e);
        assert_eq!(f.e.counters().crypto_nak - counters.crypto_nak, 3, "{what}");
        assert_eq!(f.e.counters().peer_refused - counters.peer_refused, 2, "{what}");
        assert_eq!(d.rejections(PacketTest::Authentication), 1, "{what}");
        d.assert_no_lifecycle_events(what);
        assert_unharmed(&before, &f.snapshot(), what);
        assert_unharmed(&before_passive, &snapshot(&f.e, passive), what);
        f.assert_still_works();
    }
}

// ----- 6 -----

#[test]
fn unauthenticated_packet_cannot_demobilize_a_configured_association() {
    // (a) Mode 2 to a passive association: the ERR cell discards it. A
    // configured passive association (with and without a key) and an
    // ephemeral one created by a signed mode 1.
    {
        let mut f = Fixture::client(base_config(), None);
        let what = "mode 2 to a passive association";
        let now = f.at(0.0001);
        let configured =
            f.e.add_association(AssociationConfig::new(AssociationMode::SymmetricPassive, addr(PEER)), now).unwrap();
        let keyed =
            f.e.add_association(
                AssociationConfig::new(AssociationMode::SymmetricPassive, addr(STRANGER)).with_key(KEY),
                now,
            )
            .unwrap();
        f.e.handle_datagram(now, addr(PEER2), &emit(&mode_1(now, NtpTimestamp::ZERO), Some(KEY)));
        drain(&mut f.e);
        let ephemeral = f.e.associations().find(|a| a.config().address == addr(PEER2)).unwrap().id();
        let targets = [(configured, addr(PEER)), (keyed, addr(STRANGER)), (ephemeral, addr(PEER2))];
        let before: Vec<Snapshot> = targets.iter().map(|(id, _)| snapshot(&f.e, *id)).collect();
        let before_client = f.snapshot();
        let counters = *f.e.counters();
        let mut sent = 0;
        for (_, source) in targets {
            let passive = Repr { mode: Mode::SymmetricPassive, ..mode_1(now, now - seconds(0.5)) };
            for bytes in [emit(&passive, None), emit(&passive, Some(KEY)), emit(&passive, Some(UNTRUSTED))] {
                f.e.handle_datagram(now, source, &bytes);
                sent += 1;
            }
        }
        let d = drain(&mut f.e);
        assert_eq!(f.e.counters().discarded - counters.discarded, sent, "{what}");
        assert!(d.transmits.is_empty(), "{what}");
        d.assert_no_lifecycle_events(what);
        for ((id, _), snap) in targets.iter().zip(&before) {
            assert_unharmed(snap, &snapshot(&f.e, *id), what);
        }
        assert_unharmed(&before_client, &f.snapshot(), what);
        f.assert_still_works();
    }

    // (b) An unauthenticated KoD with the right origin, to an authenticated
    // client association.
    for code in [b"DENY", b"RSTR", b"RATE"] {
        let mut f = Fixture::client(base_config(), Some(KEY));
        let what = format!("unauthenticated KoD {}", String::from_utf8_lossy(code));
        let origin = header_of(&f.pending).transmit_time;
        let before = f.snapshot();
        let counters = *f.e.counters();
        f.attack(&emit(&kod(code, origin, f.at(0.00005), 17), None));
        f.attack(&emit(&kod(code, origin, f.at(0.00005), 17), Some(UNTRUSTED)));
        f.attack(&emit(&kod(code, origin, f.at(0.00005), 17), Some(OTHER_KEY)));
        let d = drain(&mut f.e);
        assert_eq!(d.rejections(PacketTest::Authentication), 3, "{what}");
        assert_eq!(f.e.counters().kod_received, counters.kod_received, "{what}");
        d.assert_no_lifecycle_events(&what);
        assert_unharmed(&before, &f.snapshot(), &what);
        f.assert_still_works();
    }

    // (c) Mode 4, stratum 0, a bad origin: KoDs and an unknown code.
    {
        let mut f = Fixture::client(base_config(), None);
        let what = "stratum 0 with a bad origin";
        let origin = header_of(&f.pending).transmit_time + seconds(0.25);
        let before = f.snapshot();
        let counters = *f.e.counters();
        let codes = [b"DENY", b"RSTR", b"RATE", b"XYZZ", b"\0\0\0\0"];
        for code in codes {
            f.attack(&emit(&kod(code, origin, f.at(0.00005), 17), None));
        }
        let d = drain(&mut f.e);
        assert_eq!(d.rejections(PacketTest::Bogus), codes.len(), "{what}");
        assert_eq!(f.e.counters().rejected(PacketTest::Bogus) - counters.rejected(PacketTest::Bogus), 5);
        d.assert_no_lifecycle_events(what);
        assert_unharmed(&before, &f.snapshot(), what);
        f.assert_still_works();
    }

    // (d) A flood of garbage from the server's address: random datagrams,
    // and random headers made to look like mode 4 version 4 so they reach
    // the association's tests.
    for key in [None, Some(KEY)] {
        let mut f = Fixture::client(base_config(), key);
        let what = format!("garbage flood, key {key:?}");
        let mut rng = Rng::new(0x6a61_6e6b);
        let before = f.snapshot();
        for i in 0..4000 {
            let len = if i % 2 == 0 { rng.below(121) } else { 48 };
            let mut bytes = rng.bytes(len);
            if i % 2 == 1 {
                bytes[0] = (bytes[0] & 0b1100_0000) | (4 << 3) | 4;
            }
            f.attack(&bytes);
            if i % 500 == 0 {
                drain(&mut f.e).assert_no_lifecycle_events(&what);
            }
        }
        drain(&mut f.e).assert_no_lifecycle_events(&what);
        assert!(f.e.counters().malformed > 0, "{what}");
        assert_unharmed(&before, &f.snapshot(), &what);
        f.assert_still_works();
    }
}

// ----- 7 -----

/// The `i`-th spoofed source: mostly IPv4, every tenth IPv6.
fn spoofed(i: u32) -> SocketAddr {
    let ip = if i % 10 == 9 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16))
    } else {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
    };
    SocketAddr::new(ip, 123 + (i % 1000) as u16)
}

/// What the server sent a client: a reply or a KoD RATE, checked against
/// the request it answers.
#[derive(Debug, PartialEq)]
enum Answer {
    Reply,
    RateKod,
}

fn classify_answer(answer: &[u8], request: &[u8]) -> Answer {
    assert!(answer.len() <= request.len(), "no amplification");
    let a = Repr::from_bytes(answer).unwrap();
    assert_eq!(a.mode, Mode::Server);
    assert_eq!(a.origin_time, header_of(request).transmit_time, "it answers this request");
    if a.stratum == Stratum(0) {
        assert_eq!(a.reference_id, ReferenceId(*b"RATE"));
        Answer::RateKod
    } else {
        Answer::Reply
    }
}

#[test]
fn mode_3_flood_from_many_sources_keeps_state_bounded() {
    const CAPACITY: usize = 1024;
    const SOURCES: u32 = 100_000;
    let mut rate_limit = RateLimitConfig::default();
    rate_limit.capacity = CAPACITY;
    let mut responder = ResponderConfig::default();
    responder.rate_limit = Some(rate_limit);
    let config = base_config().with_responder(responder);
    let mut f = Fixture::client(config, None);
    let before = f.snapshot();
    let legit = addr("203.0.113.5:123");
    let start = f.sent + 1.0;
    let span = 800.0;
    let served = *f.e.responder().counters();

    // Phase 1: the flood, with a legitimate client polling every 16 s
    // (well within its rate) in the middle of it. Outputs are drained.
    let mut next_legit = start;
    let mut legit_requests = 0;
    let mut legit_replies = 0;
    let mut flood_answers = 0usize;
    let mut t = start;
    for i in 0..SOURCES {
        t = start + span * f64::from(i) / f64::from(SOURCES);
        let request = client_request(f.e.test_timestamp_at(t));
        f.e.handle_datagram(f.e.test_timestamp_at(t), spoofed(i), &request);
        if t >= next_legit {
            flood_answers += drain(&mut f.e).transmits.len();
            let request = client_request(f.e.test_timestamp_at(t));
            f.e.handle_datagram(f.e.test_timestamp_at(t), legit, &request);
            let d = drain(&mut f.e);
            let answers = d.transmits_to(legit);
            assert_eq!(answers.len(), 1, "the legitimate client is answered at {t}");
            assert_eq!(classify_answer(&answers[0], &request), Answer::Reply, "at {t}");
            legit_requests += 1;
            legit_replies += 1;
            next_legit += 16.0;
        }
        if i % 512 == 0 {
            let d = drain(&mut f.e);
            for transmit in &d.transmits {
                assert!(transmit.payload().len() <= 48, "no amplification");
            }
            flood_answers += d.transmits.len();
            assert!(f.e.responder().tracked_sources() <= CAPACITY);
        }
    }
    flood_answers += drain(&mut f.e).transmits.len();
    assert!(legit_requests >= 40);
    assert_eq!(legit_replies, legit_requests);
    assert!(f.e.responder().tracked_sources() <= CAPACITY);
    assert!(f.e.responder().tracked_sources() > CAPACITY / 2, "the table is in use");
    // Each spoofed source sent one request: a one-off client is answered, once.
    assert_eq!(flood_answers, SOURCES as usize);
    assert_eq!(f.e.responder().counters().replies - served.replies, u64::from(SOURCES) + legit_replies);
    assert_eq!(f.e.associations().count(), 1, "requests create no association");

    // Phase 2: the legitimate client now polls every 100 ms, still inside
    // the flood: one reply, then KoD RATE at most once per minimum spacing
    // (2 s), the rest dropped.
    let burst_start = t + 16.0;
    let burst = 30;
    let mut answers = Vec::new();
    for k in 0..burst {
        let at = burst_start + 0.1 * f64::from(k);
        for j in 0..20 {
            let source = spoofed(SOURCES + k * 20 + j);
            f.e.handle_datagram(f.e.test_timestamp_at(at), source, &client_request(f.e.test_timestamp_at(at)));
        }
        let request = client_request(f.e.test_timestamp_at(at));
        f.e.handle_datagram(f.e.test_timestamp_at(at), legit, &request);
        for answer in drain(&mut f.e).transmits_to(legit) {
            answers.push(classify_answer(&answer, &request));
        }
    }
    let replies = answers.iter().filter(|a| **a == Answer::Reply).count();
    let kods = answers.iter().filter(|a| **a == Answer::RateKod).count();
    assert_eq!(answers.first(), Some(&Answer::Reply), "its first request is within its rate");
    assert!(kods >= 1, "a client that polls too fast is told so: {answers:?}");
    assert!(kods <= 2, "at most one KoD per 2 s: {answers:?}");
    assert!(replies + kods < burst as usize / 2, "most of the burst is dropped: {answers:?}");
    assert!(f.e.responder().counters().rate_dropped > 0);
    assert!(f.e.responder().tracked_sources() <= CAPACITY);

    // Phase 3: nothing is drained. The transmit queue stops at its limit.
    let at = burst_start + 10.0;
    let replies_before = f.e.responder().counters().replies;
    let dropped_before = f.e.counters().transmits_dropped;
    for i in 0..5000 {
        let source = spoofed(2 * SOURCES + i);
        f.e.handle_datagram(f.e.test_timestamp_at(at), source, &client_request(f.e.test_timestamp_at(at)));
    }
    // Every request is answered by the responder; what did not fit in the
    // queue is counted as dropped.
    assert_eq!(f.e.responder().counters().replies - replies_before, 5000);
    assert_eq!(f.e.counters().transmits_dropped - dropped_before, 5000 - TRANSMIT_QUEUE_LIMIT as u64);
    let d = drain(&mut f.e);
    assert_eq!(d.transmits.len(), TRANSMIT_QUEUE_LIMIT, "the transmit queue is bounded");

    // Phase 4: nothing is drained, and every packet makes an event (forged
    // answers from the server's address): old events are dropped and counted.
    let dropped = f.e.counters().events_dropped;
    let forged = 5000u64;
    let base = f.forgeable();
    for i in 0..forged {
        let bogus = Repr { origin_time: base.origin_time + NtpDuration::from_bits(i as i64 + 1), ..base };
        f.e.handle_datagram(f.e.test_timestamp_at(at), f.remote, &emit(&bogus, None));
    }
    assert!(f.e.counters().events_dropped - dropped >= forged - EVENT_QUEUE_LIMIT as u64);
    let d = drain(&mut f.e);
    assert!(d.events.len() <= EVENT_QUEUE_LIMIT, "the event queue is bounded: {}", d.events.len());
    assert_eq!(d.rejections(PacketTest::Bogus), d.events.len());
    d.assert_no_lifecycle_events("flood");
    assert!(f.e.responder().tracked_sources() <= CAPACITY);

    // The client association was never touched, and still works.
    assert_unharmed(&before, &f.snapshot(), "flood");
    f.poll_not_before(at + 1.0);
    f.assert_still_works();
}

// ----- 8 -----

/// A mode 6 datagram goes to the control responder, whose header is 12
/// bytes; every other datagram is judged as a time packet.
fn is_control(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| b & 7 == 6)
}

/// What a datagram should be counted as, judged by the wire crate alone.
fn expected_malformed(bytes: &[u8]) -> bool {
    if is_control(bytes) {
        return bytes.len() < ntp_wire::control::CONTROL_HEADER_LEN;
    }
    Packet::new_checked(bytes).is_err()
}

/// Control messages with a bad version are the responder's to drop (counted
/// as discarded), not the time path's.
fn expected_bad_version(bytes: &[u8]) -> bool {
    !is_control(bytes) && Packet::new_checked(bytes).is_ok_and(|p| matches!(p.version(), Version::Unknown(_)))
}

/// Sends each datagram from `source` and checks the malformed and
/// bad-version counters move exactly as the wire crate predicts.
fn send_and_count(f: &mut Fixture, source: SocketAddr, datagrams: &[Vec<u8>], what: &str) {
    for bytes in datagrams {
        let counters = *f.e.counters();
        let now = f.at(0.0001);
        f.e.handle_datagram(now, source, bytes);
        let c = f.e.counters();
        assert_eq!(c.received, counters.received + 1);
        assert_eq!(
            c.malformed - counters.malformed,
            u64::from(expected_malformed(bytes)),
            "{what}: {} bytes, malformed counted?",
            bytes.len()
        );
        assert_eq!(
            c.bad_version - counters.bad_version,
            u64::from(expected_bad_version(bytes)),
            "{what}: {} bytes, bad version counted?",
            bytes.len()
        );
    }
}

/// Header plus valid extension fields of 16 bytes up to about `total`
/// bytes, the last one 28 bytes long (RFC 7822's rule without a MAC).
fn with_many_extension_fields(header: &Repr, total: usize) -> Vec<u8> {
    let mut buf = vec![0u8; total];
    header.emit_into(&mut buf).unwrap();
    let mut writer = ExtensionFieldWriter::new(&mut buf);
    let fields = (total - 48 - 28) / 16;
    for i in 0..fields {
        writer.push(0x7f00 | (i as u16 & 0xff), &[0xa5; 12]).unwrap();
    }
    writer.push(0x7fff, &[0x5a; 24]).unwrap();
    let len = writer.finish(false).unwrap();
    buf.truncate(len);
    buf
}

#[test]
fn oversized_and_truncated_packets() {
    let mut f = Fixture::client(base_config(), None);
    let mut rng = Rng::new(0x5eed_0008);
    let genuine = f.genuine_answer();
    let before = f.snapshot();

    // Every length below a header: zeros, and prefixes of the genuine answer.
    let short: Vec<Vec<u8>> = (0..48).flat_map(|len| [vec![0u8; len], genuine[..len].to_vec()]).collect();
    let server = f.remote;
    let counters = *f.e.counters();
    send_and_count(&mut f, server, &short, "truncated");
    assert_eq!(f.e.counters().malformed - counters.malformed, short.len() as u64);

    // The genuine header followed by garbage of every length 1..=200. A
    // garbage that happens to make well-formed extension fields without a
    // MAC would be a genuine answer with extension fields: break its first
    // length so the test stays about garbage.
    let mut garbage_tailed = Vec::new();
    for extra in 1..=200 {
        let mut bytes = genuine.clone();
        bytes.extend(rng.bytes(extra));
        if matches!(auth::verify(&bytes, &keyring()), Err(auth::AuthError::NoMac)) {
            bytes[48 + 3] |= 1;
        }
        garbage_tailed.push(bytes);
    }
    send_and_count(&mut f, server, &garbage_tailed, "48 + garbage");

    // Random bytes of every length 0..=200, from the server and from a stranger.
    let random: Vec<Vec<u8>> = (0..=200).map(|len| rng.bytes(len)).collect();
    send_and_count(&mut f, server, &random, "random from the server");
    let random: Vec<Vec<u8>> = (0..=200).map(|len| rng.bytes(len)).collect();
    send_and_count(&mut f, addr(STRANGER), &random, "random from a stranger");

    // 64 KiB packets: all ones; the genuine header and zeros; the genuine
    // header, valid extension fields and three stray bytes; a forged answer
    // with valid extension fields.
    let mut huge = Vec::new();
    huge.push(vec![0xff; 65_536]);
    let mut zeros = genuine.clone();
    zeros.resize(65_536, 0);
    huge.push(zeros);
    let mut stray = with_many_extension_fields(&header_of(&genuine), 65_500);
    stray.extend_from_slice(&[1, 2, 3]);
    huge.push(stray);
    let forged = Repr { origin_time: header_of(&genuine).origin_time + seconds(1.0), ..header_of(&genuine) };
    let forged_huge = with_many_extension_fields(&forged, 65_507);
    assert!(Packet::new_checked(&forged_huge[..]).is_ok());
    huge.push(forged_huge);
    let counters = *f.e.counters();
    send_and_count(&mut f, server, &huge, "64 KiB");
    assert_eq!(f.e.counters().malformed - counters.malformed, 3);
    assert_eq!(f.e.counters().rejected(PacketTest::Bogus) - counters.rejected(PacketTest::Bogus), 1);

    // A 64 KiB client request is answered with a plain header: no amplification.
    let request = with_many_extension_fields(&header_of(&client_request(f.at(0.0001))), 65_507);
    drain(&mut f.e);
    f.e.handle_datagram(f.at(0.0001), addr(STRANGER), &request);
    let d = drain(&mut f.e);
    let replies = d.transmits_to(addr(STRANGER));
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].len(), 48);

    let d = drain(&mut f.e);
    d.assert_no_lifecycle_events("malformed input");
    assert_eq!(f.e.associations().count(), 1);
    assert_unharmed(&before, &f.snapshot(), "malformed input");
    f.assert_still_works();
}

// ----- 9 -----

/// The genuine answer's header followed by `trailer` (raw bytes).
fn header_with(header: &[u8], trailer: &[u8]) -> Vec<u8> {
    let mut bytes = header[..48].to_vec();
    bytes.extend_from_slice(trailer);
    bytes
}

/// An extension field header declaring `declared` bytes, then `body_len` bytes of value.
fn field(declared: u16, body_len: usize) -> Vec<u8> {
    let mut bytes = vec![0x01, 0x04];
    bytes.extend_from_slice(&declared.to_be_bytes());
    bytes.extend(std::iter::repeat_n(0x33, body_len));
    bytes
}

#[test]
fn bad_extension_field_lengths() {
    for key in [None, Some(KEY)] {
        let mut f = Fixture::client(base_config(), key);
        let what = format!("key {key:?}");
        // The header is the genuine answer's, right origin and all: only the
        // extension fields are wrong.
        let header = emit(&f.forgeable(), None);
        let valid_16 = field(16, 12);
        let trailers: Vec<Vec<u8>> = vec![
            field(0, 28),                                     // length 0
            field(3, 28),                                     // below 16, not a multiple of 4
            field(12, 28),                                    // below 16
            field(30, 28),                                    // not a multiple of 4
            field(33, 29),                                    // not a multiple of 4, odd packet length
            field(64, 28),                                    // longer than the packet
            field(0xfffc, 28),                                // far longer than the packet
            field(16, 12),                                    // a last field of 16 without a MAC
            [valid_16.clone(), field(16, 12)].concat(),       // the same after a good field
            [valid_16.clone(), field(7, 28)].concat(),        // a bad field after a good one
            [field(32, 28), vec![0, 0, 0, 5]].concat(),       // a field, then 4 bytes that are no crypto-NAK
            [valid_16.clone(), vec![9, 9, 9]].concat(),       // three stray bytes after a field
            [field(28, 24), field(28, 24), vec![1]].concat(), // one stray byte
        ];
        let mut datagrams: Vec<Vec<u8>> = trailers.iter().map(|t| header_with(&header, t)).collect();
        // The same with a MAC that is correct over the bad fields: the
        // structure is checked before, and regardless of, the MAC. (A
        // 16-byte last field is legal when a MAC follows, so those two are
        // left out, as is the one whose last 4 bytes then start a MAC.)
        if let Some(key) = key {
            let signed_bad: Vec<Vec<u8>> = trailers
                .iter()
                .map(|t| signed(header_with(&header, t), key))
                .filter(|bytes| expected_malformed(bytes))
                .collect();
            assert_eq!(signed_bad.len(), trailers.len() - 3);
            datagrams.extend(signed_bad);
        }
        for bytes in &datagrams {
            assert!(expected_malformed(bytes), "{what}: the wire crate agrees it is malformed: {bytes:02x?}");
        }
        // A client request with a bad field gets no answer.
        let request = header_with(&client_request(f.at(0.0001)), &field(12, 28));

        let before = f.snapshot();
        let counters = *f.e.counters();
        for bytes in &datagrams {
            f.attack(bytes);
        }
        f.e.handle_datagram(f.at(0.0001), addr(STRANGER), &request);
        let d = drain(&mut f.e);
        assert_eq!(f.e.counters().malformed - counters.malformed, datagrams.len() as u64 + 1, "{what}");
        assert!(d.transmits.is_empty(), "{what}: no answer to a malformed request");
        assert!(d.events.is_empty(), "{what}: dropped before any association sees it: {:?}", d.events);
        assert_unharmed(&before, &f.snapshot(), &what);
        f.assert_still_works();
    }
}

// ----- 10 -----

#[test]
fn mac_trailer_of_every_wrong_length() {
    let mut f = Fixture::client(base_config(), Some(KEY));
    let ring = keyring();
    let mut rng = Rng::new(0x0000_3ac0);
    let before = f.snapshot();
    let counters = *f.e.counters();

    let header = emit(&f.forgeable(), None);
    let good = signed(header.clone(), KEY);
    let good_digest = good[52..].to_vec();

    // Every trailer length 1..=40 other than the 20- and 24-byte MAC forms:
    // our key id then the genuine digest (repeated as needed).
    let mut malformed = Vec::new();
    for len in (1..=40usize).filter(|l| *l != 20 && *l != 24) {
        let mut trailer = KEY.to_be_bytes().to_vec();
        trailer.extend(good_digest.iter().cycle().take(40));
        trailer.truncate(len);
        malformed.push(header_with(&header, &trailer));
    }
    // The 4-byte form with a non-zero key id is no crypto-NAK.
    malformed.push(header_with(&header, &KEY.to_be_bytes()));
    for bytes in &malformed {
        assert!(expected_malformed(bytes), "{} bytes", bytes.len());
    }

    // The 20- and 24-byte forms that are MACs but fail: unknown key,
    // untrusted key, wrong digest, and a correct digest in a trailer of the
    // other key type's length.
    let md5 = ring.get(KEY).unwrap();
    let sha1 = ring.get(OTHER_KEY).unwrap();
    let header_digest_md5 = md5.digest(&header);
    let header_digest_sha1 = sha1.digest(&header);
    assert_eq!(header_digest_md5.as_bytes(), good_digest.as_slice());
    let mac = |key_id: u32, digest: &[u8]| header_with(&header, &[&key_id.to_be_bytes()[..], digest].concat());
    let auth_failures = vec![
        mac(UNKNOWN_KEY, &good_digest),
        mac(UNKNOWN_KEY, &[0; 20]),
        signed(header.clone(), UNTRUSTED),
        tampered(good.clone()),
        mac(KEY, &[0; 16]),
        // The right MD5 digest, padded to the SHA1 trailer length.
        mac(KEY, &[good_digest.as_slice(), &[0; 4]].concat()),
        // A 20-byte digest (the right SHA1 one) under the MD5 key's id.
        mac(KEY, header_digest_sha1.as_bytes()),
        // The right SHA1 digest cut to the MD5 trailer length.
        mac(OTHER_KEY, &header_digest_sha1.as_bytes()[..16]),
        mac(OTHER_KEY, &[header_digest_md5.as_bytes(), &[0; 4]].concat()),
    ];
    for bytes in &auth_failures {
        assert!(!expected_malformed(bytes));
        assert!(!matches!(auth::verify(bytes, &ring), Ok(_) | Err(auth::AuthError::NoMac)));
    }
    // Signed correctly, but with a trusted key that is not this association's.
    let wrong_key = signed(header.clone(), OTHER_KEY);
    // Random trailers of every length 1..=40: whatever the wire crate makes
    // of them, the engine must count them the same way and use none.
    let random: Vec<Vec<u8>> = (1..=40).map(|len| header_with(&header, &rng.bytes(len))).collect();

    let attacks: Vec<&Vec<u8>> = malformed.iter().chain(&auth_failures).chain([&wrong_key]).chain(&random).collect();
    let (mut expect_malformed, mut expect_failed, mut expect_nak, mut expect_rejected) = (0u64, 0u64, 0u64, 0usize);
    for bytes in &attacks {
        match auth::verify(bytes, &ring) {
            Err(auth::AuthError::Malformed(_)) => expect_malformed += 1,
            Err(auth::AuthError::NoMac) => expect_rejected += 1,
            Err(auth::AuthError::CryptoNak) => {
                expect_nak += 1;
                expect_rejected += 1;
            }
            Err(_) => {
                expect_failed += 1;
                expect_rejected += 1;
            }
            Ok(key) => {
                assert_ne!(key.id(), KEY, "only the wrong-key packet verifies");
                expect_rejected += 1;
            }
        }
    }
    assert!(expect_malformed >= malformed.len() as u64);
    assert!(expect_failed >= auth_failures.len() as u64);

    for bytes in &attacks {
        f.attack(bytes);
    }
    let d = drain(&mut f.e);
    let c = f.e.counters();
    assert_eq!(c.malformed - counters.malformed, expect_malformed, "malformed trailers are counted");
    assert_eq!(c.auth_failed - counters.auth_failed, expect_failed, "every MAC that does not verify is counted");
    assert_eq!(c.crypto_nak - counters.crypto_nak, expect_nak);
    assert_eq!(d.rejections(PacketTest::Authentication), expect_rejected);
    assert_eq!(
        c.rejected(PacketTest::Authentication) - counters.rejected(PacketTest::Authentication),
        expect_rejected as u64
    );
    assert_eq!(c.kod_received, counters.kod_received);
    d.assert_no_lifecycle_events("MAC trailers");
    assert_unharmed(&before, &f.snapshot(), "MAC trailers");

    // The genuine signed answer still works.
    assert_eq!(f.genuine_answer(), good);
    f.assert_still_works();
}
