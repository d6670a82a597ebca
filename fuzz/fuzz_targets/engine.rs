//! Fuzz target `engine`: one `ntp_algo::Engine` driven by a
//! sequence of operations, as a daemon's event loop would drive it, with
//! invariants checked after every step.
//!
//! The engine starts with associations of every kind (a client without a
//! key, a client with key 1, a symmetric active peer with key 2, a broadcast
//! server), listens to broadcasts, rate limits its server with a table
//! smaller than the set of sources, and has an access list with every class.
//! The input chooses whether authentication is required, the default access
//! class, the local reference, limits and a few discipline settings, then up
//! to `MAX_OPS` operations: a datagram from one of `SOURCES` (arbitrary
//! bytes, a packet of a chosen mode built around the current time with a
//! zero, pending or random origin, signed or not and then mutated, or one of
//! the engine's own packets reflected), a flood of client requests, the
//! clock advancing (firing every deadline on the way, as an event loop
//! would) or jumping back, adding and removing associations, leap second
//! commands and files, trusting and removing keys, and draining the outputs.
//! Outputs are drained fully only by a `Drain` operation; after every other
//! step the harness takes only the clock actions (a step must be applied
//! before the next input) and at most one more output, so the queues fill.
//!
//! After every step:
//! * Nothing panicked. A clock step is finite, and the harness's clock
//!   follows it like a real caller's; deadlines are then compared in the
//!   shifted clock.
//! * Every `Output::Timeout(at)` is not before the last `now` given, nor
//!   more than an hour after the latest; `next_deadline()` likewise.
//! * Every association's stratum and the system stratum are at most 16.
//! * Associations: ids unique; configured ones are exactly those the harness
//!   added and did not remove (or a kiss-o'-death ended); ephemeral ones are
//!   symmetric passive or broadcast clients, within `max_ephemeral` and
//!   `max_broadcast_servers`; all within `max_associations` and configured +
//!   `max_ephemeral` + `max_broadcast_servers`.
//! * `responder().tracked_sources()` within the rate limiter's capacity.
//! * A datagram creates at most one association, ephemeral, for its source,
//!   of the mode its packet asks for, with the key it verified with; with
//!   `require_authentication` only if it verified with a trusted key, and
//!   without only if it did or carried no MAC and the rules allow it (an
//!   explicit `peer` rule for mode 1, broadcast client for mode 5). Every
//!   `Event::Mobilized { ephemeral: true }` is one of those.
//! * A datagram changes no association but its source's (a clock step aside,
//!   which makes them all forget their pending request); it changes or ends
//!   one with a key only if it verified with that key, none at all if its
//!   MAC failed or it is a crypto-NAK, and with `require_authentication`
//!   none unless it verified.
//! * Drained queues hold at most `TRANSMIT_QUEUE_LIMIT` datagrams and
//!   `EVENT_QUEUE_LIMIT` events. Every datagram sent is a well-formed NTP
//!   packet of mode 1 to 5 whose MAC, if any, verifies with the key it
//!   names; a server reply goes only to a source allowed time service.
//! * Counters never decrease, and `received` counts every datagram given.
//! * `leap_command` answers as `check_leap_command` does for the engine's
//!   date and synchronization; `add_association` and `remove_association`
//!   fail exactly when they should, with the right reason.
#![no_main]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntp_algo::{AccessClass, AccessList, Prefix};
use ntp_algo::{AssociationConfig, AssociationId, AssociationMode, ConfigError};
use ntp_algo::DisciplineConfig;
use ntp_algo::{ClockAction, Engine, EngineConfig, MAX_DATAGRAM, Output, TRANSMIT_QUEUE_LIMIT};
use ntp_algo::{Counters, DemobilizeReason, EVENT_QUEUE_LIMIT, Event};
use ntp_algo::test_api::{check_leap_command, end_of_month};
use ntp_algo::{LeapCommand, LeapSecondsList};
use ntp_algo::RateLimitConfig;
use ntp_algo::ResponderConfig;
use ntp_wire::auth::{self, AuthError, Key, KeyType, Keyring};
use ntp_wire::{
    LeapIndicator, Mode, NtpDate, NtpDuration, NtpShort, NtpTimestamp, Packet, ReferenceId, Repr, Stratum, Version,
};

/// Operations per input, at most.
const MAX_OPS: usize = 64;
/// Datagrams per input, at most (floods included).
const MAX_DATAGRAMS: usize = 4096;
/// Timer firings per `Advance`, at most.
const MAX_FIRINGS: usize = 48;
/// The longest `Advance`: 36 hours.
const MAX_ADVANCE_MS: u32 = 36 * 3600 * 1000;
/// `handle_timeout` calls in a row at the very same `now` before the engine
/// must have moved its deadline past it.
const MAX_FIRINGS_AT_ONCE: usize = 4;

/// Where datagrams come from (and associations point to).
const SOURCES: [&str; 11] = [
    "10.0.0.1:123",      // 0: a client association, no key
    "10.0.0.2:123",      // 1: a client association with key 1
    "10.0.0.3:123",      // 2: a symmetric active peer with key 2
    "10.0.0.4:123",      // 3: unknown, but an explicit `peer` rule covers it
    "10.0.0.6:123",      // 4: serve-only
    "10.0.0.7:123",      // 5: ignore
    "10.0.1.8:123",      // 6: serve
    "192.0.2.9:123",     // 7: no rule: the default class
    "[2001:db8::1]:123", // 8: query-only
    "[fe80::9]:4123",    // 9: no rule, IPv6
    "10.0.0.255:123",    // 10: where the broadcast server association sends
];

/// The engine's keys: id, type, secret, trusted.
const KEYS: [(u32, KeyType, &[u8], bool); 4] = [
    (1, KeyType::Md5, b"fuzz-md5-key", true),
    (2, KeyType::Sha1, b"fuzz sha1 key, twenty", true),
    (3, KeyType::Sha256, b"fuzz sha256 key, untrusted", false),
    (4, KeyType::Aes128Cmac, b"fuzz aes128 key!", true),
];

struct Fixed {
    /// The engine's keys as configured.
    keys: Vec<(Key, bool)>,
    /// Keys the harness may sign with: the engine's four, a key the engine
    /// does not know (id 9), and a forgery of key 1 (another secret).
    signers: Vec<Key>,
    /// A leap-seconds.list announcing a leap at the end of 2026 that
    /// expires in mid-2027.
    leap_list: LeapSecondsList,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let keys: Vec<(Key, bool)> = KEYS
            .iter()
            .map(|&(id, key_type, secret, trusted)| (Key::new(id, key_type, secret).expect("valid key"), trusted))
            .collect();
        let mut signers: Vec<Key> = keys.iter().map(|(key, _)| key.clone()).collect();
        signers.push(Key::new(9, KeyType::Sha1, b"a key the engine lacks").expect("valid key"));
        signers.push(Key::new(1, KeyType::Md5, b"forged key one").expect("valid key"));
        // 2017-01-01 (37 s), 2027-01-01 (38 s); expires 2027-06-28.
        let text = "#@\t4023129600\n3692217600\t37\n4007750400\t38\n";
        let leap_list = LeapSecondsList::parse_allow_missing_hash(text).expect("valid leap file");
        Fixed { keys, signers, leap_list }
    })
}

fn source(index: u8) -> SocketAddr {
    SOURCES[usize::from(index) % SOURCES.len()].parse().expect("valid address")
}

fn prefix(text: &str) -> Prefix {
    text.parse().expect("valid prefix")
}

// ----- the input -----

#[derive(Arbitrary, Debug)]
struct Input {
    setup: Setup,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
struct Setup {
    require_authentication: bool,
    crypto_nak_on_failure: bool,
    answer_symmetric: bool,
    /// Index into `AccessClass::ALL`: the class of sources no rule covers.
    default_class: u8,
    /// Serve the local clock at this stratum (modulo 20).
    local_reference_stratum: Option<u8>,
    /// Orphan stratum (modulo 20), with no orphan wait when `quick`.
    orphan_stratum: Option<u8>,
    /// 0: the default limit; else 4 + n % 12.
    max_associations: u8,
    max_ephemeral: u8,
    max_broadcast_servers: u8,
    /// Rate limiter table size, 1 + n % 8 (there are 11 sources).
    rate_capacity: u8,
    rate_burst: u8,
    send_kod: bool,
    /// Step at once (stepout 0), allow a first step beyond the panic
    /// threshold, no orphan wait.
    quick: bool,
    iburst: bool,
    saved_frequency_ppm: Option<i16>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// A datagram from `SOURCES[source]`.
    Receive {
        source: u8,
        payload: Payload,
    },
    /// `4 * count` client requests from the sources in turn.
    Flood {
        first_source: u8,
        count: u8,
        signed: bool,
    },
    /// The clock moves on by `millis` (modulo 36 h), firing every deadline
    /// on the way.
    Advance {
        millis: u32,
    },
    /// `handle_timeout` now.
    Timeout,
    /// The caller's clock goes back (someone else set it).
    JumpBack {
        millis: u16,
    },
    /// `add_association`.
    Add {
        mode: u8,
        source: u8,
        key: u8,
        min_poll: u8,
        max_poll: u8,
        iburst: bool,
        burst: bool,
        prefer: bool,
    },
    /// `remove_association` of the n-th association (or of no association).
    Remove {
        which: u8,
    },
    /// `leap_command`.
    Leap {
        delete: bool,
        at: LeapAt,
    },
    ClearLeap,
    /// `set_leap_seconds` with the fixed list.
    LeapList,
    /// Change key `1 + which % 4` in the engine's keyring.
    Key {
        which: u8,
        action: KeyAction,
    },
    /// Drain every output.
    Drain,
}

#[derive(Arbitrary, Debug)]
enum Payload {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// A packet built around the current time.
    Packet(Box<PacketSpec>),
    /// One of the engine's recent datagrams, sent back from where it went.
    Reflect { which: u8, flip: Option<(u8, u8)> },
}

#[derive(Arbitrary, Debug)]
struct PacketSpec {
    /// Low 3 bits: the mode.
    mode: u8,
    /// 0: version 4; else its low 3 bits.
    version: u8,
    leap: u8,
    stratum: u8,
    poll: i8,
    precision: i8,
    root_delay: u32,
    root_dispersion: u32,
    reference_id: [u8; 4],
    origin: Origin,
    /// The sender's clock minus ours, milliseconds.
    offset_ms: i32,
    /// Between the sender's receive and transmit times, milliseconds.
    hold_ms: u16,
    /// Age of the sender's reference time, seconds.
    reference_age: u16,
    auth: Auth,
    /// XOR `.1` into byte `.0` (modulo the length) of the finished datagram.
    mutation: Option<(u8, u8)>,
}

#[derive(Arbitrary, Debug)]
enum Origin {
    Zero,
    /// The pending origin of the n-th association; `from_it` also sends
    /// the packet from that association's address.
    Pending {
        which: u8,
        from_it: bool,
    },
    Random(u64),
}

#[derive(Arbitrary, Debug)]
enum Auth {
    None,
    /// Sign with `signers[n % 6]`.
    Sign(u8),
    CryptoNak,
    /// Signed with key 1, then one byte short.
    Truncated,
}

#[derive(Arbitrary, Debug)]
enum LeapAt {
    /// The end of the current month (the only instant the rule accepts).
    EndOfMonth,
    /// The end of the month plus this many seconds.
    Near(i32),
    /// Any date in era 0 or 1.
    Anywhere { era1: bool, timestamp: u64 },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum KeyAction {
    Trust,
    Untrust,
    Remove,
    Restore,
}

// ----- the harness -----

/// An association as seen from outside, for "did this change?".
#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    id: AssociationId,
    address: SocketAddr,
    mode: AssociationMode,
    ephemeral: bool,
    key_id: Option<u32>,
    reach: u8,
    stratum: u8,
    leap: LeapIndicator,
    reference_id: ReferenceId,
    pending_origin: NtpTimestamp,
    poll: i8,
    peer_poll: i8,
    next_poll: u64,
    root_delay: u64,
    sent: u64,
    samples: u64,
    kod: u64,
}

struct Harness {
    engine: Engine,
    /// The caller's clock: what it passes as `now`.
    now: NtpTimestamp,
    /// The latest `now` given, on the engine's timeline.
    latest: f64,
    require_authentication: bool,
    max_ephemeral: usize,
    max_broadcast_servers: usize,
    max_associations: usize,
    rate_capacity: usize,
    /// Configured associations the engine should hold.
    configured: Vec<AssociationId>,
    /// Ephemeral associations seen created, and whether their datagram
    /// verified with a trusted key.
    ephemeral: BTreeMap<AssociationId, bool>,
    /// Datagrams the engine sent lately: destination and payload.
    sent: Vec<(SocketAddr, Vec<u8>)>,
    counters: Counters,
    datagrams: usize,
}

/// `ENGINE_FUZZ_TRACE=1` prints every operation and output to stderr, to
/// see what an input does: `ENGINE_FUZZ_TRACE=1 cargo fuzz run --sanitizer
/// none engine FILE`.
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ENGINE_FUZZ_TRACE").is_some())
}

fuzz_target!(|input: Input| {
    let mut harness = Harness::new(&input.setup);
    harness.check_state();
    for op in input.ops.iter().take(MAX_OPS) {
        if tracing() {
            eprintln!("{:>12.3} s  {op:?}", harness.engine.test_timeline_seconds(harness.now));
        }
        harness.apply(op);
        if !matches!(op, Op::Drain) {
            harness.pump();
        }
        harness.check_state();
    }
    harness.drain();
    harness.check_state();
    if tracing() {
        eprintln!("system: {:?}", harness.engine.system());
        for a in harness.engine.associations() {
            eprintln!(
                "  {} {} {:?} reach {:08b} stratum {}",
                a.id(),
                a.config().address,
                a.config().mode,
                a.reach(),
                a.stratum()
            );
        }
        eprintln!("counters: {:?}", harness.engine.counters());
    }
});

impl Harness {
    fn new(setup: &Setup) -> Harness {
        let now = NtpTimestamp::from_unix(1_795_219_200, 0); // 2026-11-21 00:00 UTC
        let mut access = AccessList::new(AccessClass::ALL[usize::from(setup.default_class) % AccessClass::ALL.len()]);
        access.add(prefix("10.0.0.0/24"), AccessClass::Peer);
        access.add(prefix("10.0.0.6/32"), AccessClass::ServeOnly);
        access.add(prefix("10.0.0.7/32"), AccessClass::Ignore);
        access.add(prefix("10.0.1.0/24"), AccessClass::Serve);
        access.add(prefix("2001:db8::/32"), AccessClass::QueryOnly);
        let rate_capacity = 1 + usize::from(setup.rate_capacity % 8);
        let mut rate_limit = RateLimitConfig::default();
        rate_limit.burst = 1 + u32::from(setup.rate_burst % 8);
        rate_limit.capacity = rate_capacity;
        rate_limit.send_kod = setup.send_kod;
        let mut discipline = DisciplineConfig::default();
        if setup.quick {
            discipline.stepout = 0.0;
            discipline.allow_first_panic_step = true;
        }
        let max_associations =
            if setup.max_associations == 0 { 4096 } else { 4 + usize::from(setup.max_associations % 12) };
        let mut responder = ResponderConfig::default();
        responder.rate_limit = Some(rate_limit);
        responder.crypto_nak_on_failure = setup.crypto_nak_on_failure;
        responder.answer_symmetric = setup.answer_symmetric;
        let mut config = EngineConfig::default()
            .with_local_address(IpAddr::from([10, 0, 0, 100]))
            .with_authentication_required(setup.require_authentication)
            .with_access(access)
            .with_responder(responder)
            .with_broadcast_client(true);
        config.max_ephemeral = usize::from(setup.max_ephemeral % 4);
        config.max_broadcast_servers = usize::from(setup.max_broadcast_servers % 4);
        config.max_associations = max_associations;
        config.discipline = discipline;
        config.local_reference_stratum = setup.local_reference_stratum.map(|s| s % 20);
        config.orphan_stratum = setup.orphan_stratum.map(|s| s % 20);
        config.orphan_wait = if setup.quick { 0.0 } else { 300.0 };
        config.saved_frequency_ppm = setup.saved_frequency_ppm.map(f64::from);
        let (max_ephemeral, max_broadcast_servers) = (config.max_ephemeral, config.max_broadcast_servers);
        let mut keys = Keyring::new();
        for (key, trusted) in &fixed().keys {
            keys.insert(key.clone(), *trusted);
        }
        let engine = Engine::new(config, keys, now);
        let mut harness = Harness {
            engine,
            now,
            latest: 0.0,
            require_authentication: setup.require_authentication,
            max_ephemeral,
            max_broadcast_servers,
            max_associations,
            rate_capacity,
            configured: Vec::new(),
            ephemeral: BTreeMap::new(),
            sent: Vec::new(),
            counters: Counters::default(),
            datagrams: 0,
        };
        let initial = [
            AssociationConfig::client(source(0)).with_iburst(setup.iburst),
            AssociationConfig::client(source(1)).with_key(1).with_iburst(setup.iburst),
            AssociationConfig::symmetric_active(source(2)).with_key(2),
            AssociationConfig::broadcast_server(source(10)),
        ];
        for config in initial {
            let id = harness.engine.add_association(config, now).expect("the initial associations are valid");
            harness.configured.push(id);
        }
        harness
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Receive { source: index, payload } => {
                if self.datagrams >= MAX_DATAGRAMS {
                    return;
                }
                let (from, bytes) = match payload {
                    Payload::Raw(bytes) => (source(*index), bytes.clone()),
                    Payload::Packet(spec) => self.build_packet(source(*index), spec),
                    Payload::Reflect { which, flip } => {
                        if self.sent.is_empty() {
                            return;
                        }
                        let (to, bytes) = &self.sent[usize::from(*which) % self.sent.len()];
                        let mut bytes = bytes.clone();
                        if let Some((at, xor)) = flip {
                            let i = usize::from(*at) % bytes.len();
                            bytes[i] ^= xor;
                        }
                        (*to, bytes)
                    }
                };
                self.receive(from, &bytes);
            }
            Op::Flood { first_source, count, signed } => {
                let key = &fixed().signers[0];
                for i in 0..usize::from(*count) * 4 {
                    if self.datagrams >= MAX_DATAGRAMS {
                        break;
                    }
                    let request = Repr { mode: Mode::Client, transmit_time: self.now, ..Repr::default() };
                    let mut buf = [0u8; 128];
                    let mut len = request.emit_into(&mut buf).expect("room for a header");
                    if *signed {
                        len = auth::sign(&mut buf, len, key).expect("room for a MAC");
                    }
                    let from = source(first_source.wrapping_add(i as u8));
                    self.receive(from, &buf[..len]);
                }
            }
            Op::Advance { millis } => self.advance(millis % MAX_ADVANCE_MS),
            Op::Timeout => {
                self.given();
                self.engine.handle_timeout(self.now);
            }
            Op::JumpBack { millis } => {
                self.now = self.now - NtpDuration::from_seconds_f64(f64::from(*millis) / 1000.0);
            }
            Op::Add { mode, source: index, key, min_poll, max_poll, iburst, burst, prefer } => {
                let modes = [
                    AssociationMode::Client,
                    AssociationMode::SymmetricActive,
                    AssociationMode::SymmetricPassive,
                    AssociationMode::BroadcastServer,
                    AssociationMode::BroadcastClient,
                ];
                let mut config = AssociationConfig::new(modes[usize::from(*mode) % modes.len()], source(*index))
                    .with_poll(*min_poll as i8 % 20 - 1, *max_poll as i8 % 20 - 1)
                    .with_iburst(*iburst)
                    .with_burst(*burst)
                    .with_prefer(*prefer);
                config.key_id = match key % 7 {
                    0 => None,
                    5 => Some(9),
                    6 => Some(0),
                    k => Some(u32::from(k)),
                };
                self.add(config);
            }
            Op::Remove { which } => {
                let ids: Vec<AssociationId> = self.engine.associations().map(|a| a.id()).collect();
                let id = ids.get(usize::from(*which) % (ids.len() + 1)).copied().unwrap_or(AssociationId(u32::MAX));
                self.given();
                let result = self.engine.remove_association(id, self.now);
                if ids.contains(&id) {
                    assert_eq!(result, Ok(()));
                    self.configured.retain(|c| *c != id);
                    assert!(self.engine.association(id).is_none());
                } else {
                    assert_eq!(result, Err(ConfigError::NoSuchAssociation { id }));
                }
            }
            Op::Leap { delete, at } => {
                let command = if *delete { LeapCommand::Delete } else { LeapCommand::Add };
                let today = self.now.to_date(NtpDate::ERA1_START).unwrap_or(NtpDate::ERA1_START);
                let eom = end_of_month(today);
                let leap_at = match at {
                    LeapAt::EndOfMonth => eom,
                    LeapAt::Near(seconds) => eom.checked_add(NtpDuration::from_seconds(*seconds)).unwrap_or(eom),
                    LeapAt::Anywhere { era1, timestamp } => {
                        NtpDate::new(i32::from(*era1), NtpTimestamp::from_bits(*timestamp))
                    }
                };
                let synchronized = self.engine.system().is_synchronized();
                let expected = check_leap_command(command, leap_at, today, synchronized);
                self.given();
                let result = self.engine.leap_command(command, leap_at, self.now);
                assert_eq!(result, expected, "leap_command and check_leap_command disagree");
            }
            Op::ClearLeap => {
                self.given();
                self.engine.clear_leap_command(self.now);
            }
            Op::LeapList => {
                self.given();
                self.engine.set_leap_seconds(fixed().leap_list.clone(), self.now);
            }
            Op::Key { which, action } => {
                let (key, trusted) = &fixed().keys[usize::from(*which) % fixed().keys.len()];
                let id = key.id();
                let keys = self.engine.keys_mut();
                match action {
                    KeyAction::Trust | KeyAction::Untrust => {
                        let present = keys.get(id).is_some();
                        assert_eq!(keys.set_trusted(id, matches!(action, KeyAction::Trust)), present);
                    }
                    KeyAction::Remove => {
                        keys.remove(id);
                    }
                    KeyAction::Restore => {
                        keys.insert(key.clone(), *trusted);
                    }
                }
            }
            Op::Drain => self.drain(),
        }
    }

    /// Records that `self.now` is about to be given to the engine (before
    /// the call: a step during it moves the engine's timeline).
    fn given(&mut self) {
        self.latest = self.latest.max(self.engine.test_timeline_seconds(self.now));
    }

    fn build_packet(&self, from: SocketAddr, spec: &PacketSpec) -> (SocketAddr, Vec<u8>) {
        let mut from = from;
        let origin = match spec.origin {
            Origin::Zero => NtpTimestamp::ZERO,
            Origin::Random(bits) => NtpTimestamp::from_bits(bits),
            Origin::Pending { which, from_it } => {
                let associations: Vec<_> = self.engine.associations().collect();
                match associations.get(usize::from(which) % associations.len().max(1)) {
                    Some(association) => {
                        if from_it {
                            from = association.config().address;
                        }
                        association.pending_origin()
                    }
                    None => NtpTimestamp::ZERO,
                }
            }
        };
        let receive_time = self.now + NtpDuration::from_seconds_f64(f64::from(spec.offset_ms) / 1000.0);
        let transmit_time = receive_time + NtpDuration::from_seconds_f64(f64::from(spec.hold_ms) / 1000.0);
        let repr = Repr {
            leap: LeapIndicator::from_bits(spec.leap & 3),
            version: if spec.version == 0 { Version::from_bits(4) } else { Version::from_bits(spec.version & 7) },
            mode: Mode::from_bits(spec.mode & 7),
            stratum: Stratum(spec.stratum),
            poll: spec.poll,
            precision: spec.precision,
            root_delay: NtpShort::from_bits(spec.root_delay),
            root_dispersion: NtpShort::from_bits(spec.root_dispersion),
            reference_id: ReferenceId(spec.reference_id),
            reference_time: transmit_time - NtpDuration::from_seconds(i32::from(spec.reference_age)),
            origin_time: origin,
            receive_time,
            transmit_time,
        };
        let mut buf = [0u8; 128];
        let header = repr.emit_into(&mut buf).expect("room for a header");
        let signers = &fixed().signers;
        let len = match spec.auth {
            Auth::None => header,
            Auth::Sign(n) => auth::sign(&mut buf, header, &signers[usize::from(n) % signers.len()]).expect("room"),
            Auth::CryptoNak => auth::emit_crypto_nak(&mut buf, header).expect("room"),
            Auth::Truncated => auth::sign(&mut buf, header, &signers[0]).expect("room") - 1,
        };
        let mut bytes = buf[..len].to_vec();
        if let Some((at, xor)) = spec.mutation {
            let i = usize::from(at) % bytes.len();
            bytes[i] ^= xor;
        }
        (from, bytes)
    }

    fn snapshots(&self) -> Vec<Snapshot> {
        self.engine
            .associations()
            .map(|a| Snapshot {
                id: a.id(),
                address: a.config().address,
                mode: a.config().mode,
                ephemeral: a.is_ephemeral(),
                key_id: a.config().key_id,
                reach: a.reach(),
                stratum: a.stratum(),
                leap: a.leap(),
                reference_id: a.reference_id(),
                pending_origin: a.pending_origin(),
                poll: a.poll_log2(),
                peer_poll: a.peer_poll_log2(),
                next_poll: self.engine.test_next_poll_seconds(a.id()).unwrap_or(0.0).to_bits(),
                root_delay: a.root_delay().to_bits(),
                sent: a.counters().sent,
                samples: a.counters().samples,
                kod: a.counters().kod,
            })
            .collect()
    }

    /// Hands a datagram to the engine and checks what it did to the associations.
    fn receive(&mut self, from: SocketAddr, bytes: &[u8]) {
        // Which key, if any, the engine will find the packet signed with.
        let verified = auth::verify(bytes, self.engine.keys()).ok().map(Key::id);
        let no_mac = auth::verify(bytes, self.engine.keys()) == Err(AuthError::NoMac);
        let mode = Packet::new_checked(bytes).ok().map(|p| p.mode());
        let before = self.snapshots();
        let received = self.engine.counters().received;
        let timeline = self.engine.test_timeline_seconds(self.now);
        self.given();
        self.engine.handle_datagram(self.now, from, bytes);
        self.datagrams += 1;
        assert_eq!(self.engine.counters().received, received + 1);
        // A step moves the engine's timeline against the caller's clock (the
        // harness follows it when it takes the clock action) and makes every
        // association forget its pending request.
        let stepped = self.engine.test_timeline_seconds(self.now) != timeline;

        let after = self.snapshots();
        // Created: at most one, ephemeral, for this source, as the rules allow.
        let created: Vec<&Snapshot> = after.iter().filter(|a| !before.iter().any(|b| b.id == a.id)).collect();
        assert!(created.len() <= 1, "one datagram created {} associations", created.len());
        for new in created {
            assert!(new.ephemeral, "a datagram created a configured association");
            assert!(!self.ephemeral.contains_key(&new.id), "association id {} reused", new.id);
            assert_eq!(new.address, from);
            assert_eq!(new.key_id, verified, "created with a key other than the one it verified with");
            if self.require_authentication {
                assert!(verified.is_some(), "an unauthenticated {mode:?} packet created {new:?}");
            }
            match mode {
                Some(Mode::SymmetricActive) => {
                    assert_eq!(new.mode, AssociationMode::SymmetricPassive);
                    let by_rule = no_mac
                        && !self.require_authentication
                        && self.engine.config().access.explicit_class(from.ip()) == Some(AccessClass::Peer);
                    assert!(verified.is_some() || by_rule, "NEWPS without a key or a peer rule");
                }
                Some(Mode::Broadcast) => {
                    assert_eq!(new.mode, AssociationMode::BroadcastClient);
                    assert!(verified.is_some() || no_mac, "NEWBC from a packet whose MAC failed");
                }
                other => panic!("a {other:?} packet created {new:?}"),
            }
            assert_eq!(self.engine.config().access.classify(from.ip()), AccessClass::Peer);
            self.ephemeral.insert(new.id, verified.is_some());
        }
        // Changed or ended: only the source's association, and only when the
        // packet is authentic enough for it.
        for old in &before {
            let mut now = after.iter().find(|a| a.id == old.id).cloned();
            if let Some(now) = now.as_mut().filter(|now| stepped && now.pending_origin == NtpTimestamp::ZERO) {
                now.pending_origin = old.pending_origin;
            }
            if now.as_ref() == Some(old) {
                continue;
            }
            assert_eq!(old.address, from, "a datagram from {from} changed {old:?} into {now:?}");
            if let Some(key_id) = old.key_id {
                assert_eq!(
                    verified,
                    Some(key_id),
                    "a packet not signed with key {key_id} changed {old:?} into {now:?}"
                );
            }
            if self.require_authentication {
                assert!(verified.is_some(), "an unauthenticated packet changed {old:?} into {now:?}");
            }
            // A MAC that fails, or a crypto-NAK, is test 5 for everyone.
            assert!(verified.is_some() || no_mac, "a packet whose MAC failed changed {old:?} into {now:?}");
            if now.is_none() {
                self.configured.retain(|id| *id != old.id);
            }
        }
    }

    fn add(&mut self, config: AssociationConfig) {
        let count = self.engine.associations().count();
        let expected = if let Err(e) = config.validate() {
            Err(e)
        } else if let Some(key_id) = config.key_id.filter(|id| self.engine.keys().get(*id).is_none()) {
            Err(ConfigError::UnknownKey { key_id })
        } else if self.engine.associations().any(|a| a.config().address == config.address) {
            Err(ConfigError::Duplicate { address: config.address })
        } else if count >= self.max_associations {
            Err(ConfigError::TooManyAssociations { limit: self.max_associations })
        } else {
            Ok(())
        };
        self.given();
        let result = self.engine.add_association(config, self.now);
        assert_eq!(result.map(|_| ()), expected);
        if let Ok(id) = result {
            self.configured.push(id);
            let added = self.engine.association(id).expect("the new association");
            assert_eq!((added.config(), added.is_ephemeral()), (&config, false));
        }
    }

    /// The clock moves on by `millis`, and every deadline on the way fires.
    fn advance(&mut self, millis: u32) {
        let target = self.now + NtpDuration::from_seconds_f64(f64::from(millis) / 1000.0);
        let mut at_once = 0;
        for _ in 0..MAX_FIRINGS {
            let deadline = self.engine.next_deadline();
            if (target - deadline).to_bits() < 0 {
                break;
            }
            let next = if (deadline - self.now).to_bits() > 0 { deadline } else { self.now };
            at_once = if next == self.now { at_once + 1 } else { 0 };
            assert!(at_once <= MAX_FIRINGS_AT_ONCE, "handle_timeout does not move the deadline past {next:?}");
            self.now = next;
            self.given();
            self.engine.handle_timeout(self.now);
            // A step must be applied before the next input; this may also
            // take one other output, as after every operation.
            self.pump();
        }
        if (target - self.now).to_bits() > 0 {
            self.now = target;
        }
        self.given();
        self.engine.handle_timeout(self.now);
    }

    /// Applies a clock action as a real caller would.
    fn apply_clock(&mut self, action: ClockAction) {
        if tracing() {
            eprintln!("               -> {action:?}");
        }
        match action {
            ClockAction::Step { offset } => {
                assert!(offset.is_finite(), "step by {offset}");
                self.now += NtpDuration::from_seconds_f64(offset);
            }
            ClockAction::SetFrequency { ppm } => assert!(ppm.is_finite(), "frequency {ppm} ppm"),
            other => panic!("a clock action this target does not know: {other:?}"),
        }
    }

    /// Takes the clock actions waiting (they come first) and at most one
    /// other output.
    fn pump(&mut self) {
        loop {
            match self.engine.poll_output() {
                Output::Clock(action) => self.apply_clock(action),
                other => {
                    self.output(other);
                    return;
                }
            }
        }
    }

    /// Drains every output until `Timeout`.
    fn drain(&mut self) {
        let (mut transmits, mut events) = (0usize, 0usize);
        loop {
            match self.engine.poll_output() {
                Output::Clock(action) => self.apply_clock(action),
                Output::Timeout(at) => return self.check_deadline(at),
                other => {
                    match other {
                        Output::Transmit(_) => transmits += 1,
                        _ => events += 1,
                    }
                    assert!(transmits <= TRANSMIT_QUEUE_LIMIT, "more than {TRANSMIT_QUEUE_LIMIT} datagrams queued");
                    assert!(events <= EVENT_QUEUE_LIMIT, "more than {EVENT_QUEUE_LIMIT} events queued");
                    self.output(other);
                }
            }
        }
    }

    /// Checks one non-clock output.
    fn output(&mut self, output: Output) {
        if tracing() {
            eprintln!("               -> {output:?}");
        }
        match output {
            Output::Clock(action) => self.apply_clock(action),
            Output::Timeout(at) => self.check_deadline(at),
            Output::Transmit(transmit) => {
                let payload = transmit.payload();
                assert!(payload.len() <= MAX_DATAGRAM);
                // A mode 6 answer: a well-formed control response, never a request.
                if payload.first().is_some_and(|b| b & 7 == 6) {
                    let control = ntp_wire::control::ControlPacket::new_checked(payload)
                        .expect("the engine sent a malformed control message");
                    assert!(control.is_response(), "the engine sent a control request");
                    return;
                }
                let packet = Packet::new_checked(payload).expect("the engine sent a malformed packet");
                let mode = packet.mode();
                assert!(
                    matches!(
                        mode,
                        Mode::SymmetricActive | Mode::SymmetricPassive | Mode::Client | Mode::Server | Mode::Broadcast
                    ),
                    "sent a {mode:?} packet"
                );
                if mode == Mode::Server {
                    let class = self.engine.config().access.classify(transmit.destination.ip());
                    assert!(class.allows_time_requests(), "served {} of class {class}", transmit.destination);
                }
                match auth::verify(payload, &fixed().signers[..4]) {
                    Ok(_) | Err(AuthError::NoMac) | Err(AuthError::CryptoNak) => {}
                    Err(e) => panic!("the engine sent a packet that does not verify: {e}"),
                }
                if self.sent.len() >= 16 {
                    self.sent.remove(0);
                }
                self.sent.push((transmit.destination, payload.to_vec()));
            }
            Output::Event(event) => match event {
                Event::Mobilized { id, ephemeral: true, address, .. } => {
                    let verified = self.ephemeral.get(&id).copied();
                    assert!(verified.is_some(), "Mobilized {id} ({address}), not created by a datagram");
                    if self.require_authentication {
                        assert_eq!(verified, Some(true));
                    }
                }
                Event::Mobilized { id, ephemeral: false, .. } => {
                    // Configured ones are added by the harness (perhaps removed since).
                    assert!(!self.ephemeral.contains_key(&id));
                }
                Event::Demobilized { reason: DemobilizeReason::Unreachable, id, .. } => {
                    assert!(self.ephemeral.contains_key(&id), "a configured association {id} timed out");
                }
                Event::ClockStepped { offset } | Event::PanicOffset { offset } => assert!(offset.is_finite()),
                Event::SyncGained { stratum } => assert!(stratum <= 16),
                _ => {}
            },
            other => panic!("an output this target does not know: {other:?}"),
        }
    }

    /// A deadline is not before the last `now` given, nor more than an hour
    /// after the latest.
    fn check_deadline(&self, at: NtpTimestamp) {
        let ahead = (at - self.now).to_bits();
        assert!(ahead >= 0, "deadline {at:?} is {} s before now {:?}", -(ahead as f64) / 2f64.powi(32), self.now);
        let lag = self.latest - self.engine.test_timeline_seconds(self.now);
        assert!(
            (at - self.now).to_seconds_f64() <= 3600.0 + lag.max(0.0) + 1e-6,
            "deadline {} s ahead",
            (at - self.now).to_seconds_f64()
        );
    }

    fn check_state(&mut self) {
        let engine = &self.engine;
        assert!((engine.next_deadline() - self.now).to_bits() >= 0, "next_deadline before now");
        assert!(engine.system().stratum <= 16, "system stratum {}", engine.system().stratum);

        let mut ids: Vec<AssociationId> = Vec::new();
        let (mut passive, mut broadcast, mut configured) = (0, 0, 0);
        for association in engine.associations() {
            assert!(association.stratum() <= 16, "stratum {}", association.stratum());
            let id = association.id();
            assert!(!ids.contains(&id), "association id {id} twice");
            ids.push(id);
            if association.is_ephemeral() {
                assert!(self.ephemeral.contains_key(&id));
                match association.config().mode {
                    AssociationMode::SymmetricPassive => passive += 1,
                    AssociationMode::BroadcastClient => broadcast += 1,
                    mode => panic!("an ephemeral {mode:?} association"),
                }
            } else {
                configured += 1;
                assert!(self.configured.contains(&id), "configured association {id} the harness did not add");
            }
        }
        // Configured associations end only by removal or a kiss-o'-death
        // (`remove` and `receive` keep the list), never on a timer.
        for id in &self.configured {
            assert!(ids.contains(id), "configured association {id} vanished");
        }
        assert_eq!(configured, self.configured.len());
        assert!(passive <= self.max_ephemeral, "{passive} ephemeral symmetric passive associations");
        assert!(broadcast <= self.max_broadcast_servers, "{broadcast} broadcast servers");
        assert!(ids.len() <= self.max_associations);
        assert!(ids.len() <= configured + self.max_ephemeral + self.max_broadcast_servers);
        assert!(engine.responder().tracked_sources() <= self.rate_capacity);

        let counters = *engine.counters();
        assert!(monotonic(&self.counters, &counters), "counters went down: {:?} -> {counters:?}", self.counters);
        self.counters = counters;
    }
}

fn monotonic(a: &Counters, b: &Counters) -> bool {
    let fields = |c: &Counters| {
        let mut v = vec![
            c.received,
            c.malformed,
            c.bad_version,
            c.discarded,
            c.access_denied,
            c.auth_failed,
            c.crypto_nak,
            c.peer_refused,
            c.kod_received,
            c.polls_sent,
            c.events_dropped,
            c.transmits_dropped,
        ];
        v.extend(c.rejected_by_test);
        v
    };
    fields(a).iter().zip(fields(b)).all(|(x, y)| *x <= y)
}
