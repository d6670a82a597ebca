//! NTS through the engine: a client engine and a server engine talking in
//! memory, with NTS-KE done by hand (the server's `nts_ke_answer`, keys
//! made up as a TLS exporter would give them).

use std::net::SocketAddr;

use ntp_wire::nts::AeadKey;
use ntp_wire::{HEADER_LEN, NtpDuration, NtpTimestamp, Packet, Stratum};

use super::random::testing::Seeded;
use super::*;
use crate::{AssociationConfig, AssociationId, ConfigError, Engine, EngineConfig, Event, Output, PacketTest};

const CLIENT: &str = "192.0.2.2:123";
const SERVER: &str = "192.0.2.1:123";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t0() -> NtpTimestamp {
    NtpTimestamp::from_unix(1_795_219_200, 0)
}

fn session_keys(n: u8) -> NtsKeys {
    NtsKeys { c2s: AeadKey::new([n; 32]), s2c: AeadKey::new([n.wrapping_add(1); 32]) }
}

/// A datagram in flight and where it goes.
type Datagram = (SocketAddr, Vec<u8>);
/// Changes (or drops, with `None`) a datagram on its way.
type Tamper = Box<dyn FnMut(Vec<u8>) -> Option<Vec<u8>>>;

struct Net {
    client: Engine,
    server: Engine,
    now: NtpTimestamp,
    id: AssociationId,
    /// Every client event so far.
    events: Vec<Event>,
    /// Every datagram the server sent the client so far.
    replies: Vec<Vec<u8>>,
    /// Every request the client sent so far.
    requests: Vec<Vec<u8>>,
    /// Changes (or drops, with `None`) each server→client datagram.
    tamper: Option<Tamper>,
}

fn server_engine(nts: NtsServerConfig, seed: u64) -> Engine {
    let config =
        EngineConfig::default().with_local_reference(1).with_nts_server(nts).with_random_source(Box::new(Seeded(seed)));
    Engine::new(config, Default::default(), t0())
}

impl Net {
    fn new(nts: NtsServerConfig) -> Self {
        let server = server_engine(nts, 11);
        let mut client =
            Engine::new(EngineConfig::default().with_random_source(Box::new(Seeded(22))), Default::default(), t0());
        let id = client
            .add_association(AssociationConfig::client(addr(SERVER)).with_iburst(true).with_nts(true), t0())
            .unwrap();
        Net {
            client,
            server,
            now: t0(),
            id,
            events: Vec::new(),
            replies: Vec::new(),
            requests: Vec::new(),
            tamper: None,
        }
    }

    /// NTS-KE by hand: the server's answer for `keys`, read by the client.
    fn key_exchange(&mut self, keys: u8) {
        let cookies = ke_cookies(&mut self.server, self.now, &session_keys(keys));
        self.client.provision_nts(self.id, session_keys(keys), cookies, None).unwrap();
    }

    /// Runs the network for `seconds`, every datagram delivered at once.
    fn run(&mut self, seconds: f64) {
        let end = self.now + NtpDuration::from_seconds_f64(seconds);
        loop {
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
            self.exchange();
            let next = self.client.next_deadline().min(self.server.next_deadline());
            if (next - end).to_bits() > 0 {
                break;
            }
            self.now =
                if (next - self.now).to_bits() > 0 { next } else { self.now + NtpDuration::from_seconds_f64(0.01) };
        }
        self.now = end;
    }

    fn exchange(&mut self) {
        let mut to_server: Vec<Datagram> = Vec::new();
        loop {
            match self.client.poll_output() {
                Output::Transmit(t) => to_server.push((t.destination, t.payload().to_vec())),
                Output::Event(e) => self.events.push(e),
                Output::Clock(_) => {}
                Output::Timeout(_) => break,
            }
        }
        for (destination, payload) in to_server {
            assert_eq!(destination, addr(SERVER));
            self.requests.push(payload.clone());
            self.server.handle_datagram(self.now, addr(CLIENT), &payload);
            let mut to_client = Vec::new();
            loop {
                match self.server.poll_output() {
                    Output::Transmit(t) => to_client.push(t.payload().to_vec()),
                    Output::Timeout(_) => break,
                    _ => {}
                }
            }
            let later = self.now + NtpDuration::from_seconds_f64(0.001);
            for reply in to_client {
                let reply = match self.tamper.as_mut() {
                    Some(tamper) => tamper(reply),
                    None => Some(reply),
                };
                if let Some(reply) = reply {
                    self.replies.push(reply.clone());
                    self.client.handle_datagram(later, addr(SERVER), &reply);
                }
            }
        }
        loop {
            match self.client.poll_output() {
                Output::Event(e) => self.events.push(e),
                Output::Timeout(_) => break,
                _ => {}
            }
        }
    }

    fn ke_needed(&self) -> usize {
        self.events.iter().filter(|e| matches!(e, Event::NtsKeyExchangeNeeded { id } if *id == self.id)).count()
    }
}

fn ke_cookies(server: &mut Engine, now: NtpTimestamp, keys: &NtsKeys) -> Vec<Vec<u8>> {
    let mut request = [0u8; 64];
    let len = nts_ke_write_request(&mut request).unwrap();
    let mut out = [0u8; 2048];
    let answer = server.nts_ke_answer(now, &request[..len], keys, NtsKeServerConfig::default(), &mut out).unwrap();
    assert_eq!(answer.refused, None);
    nts_ke_read_response(&out[..answer.len]).unwrap().cookies
}

/// Whether a datagram carries an NTS authenticator.
fn authenticated(packet: &[u8]) -> bool {
    super::scan::scan(packet).is_ok_and(|found| found.auth.is_some())
}

#[test]
fn unprovisioned_association_sends_nothing_and_asks_for_key_exchange_once() {
    let mut net = Net::new(NtsServerConfig::default());
    net.run(120.0);
    assert!(net.requests.is_empty(), "sent {} requests without cookies", net.requests.len());
    assert_eq!(net.ke_needed(), 1);
    assert_eq!(net.client.nts_cookies(net.id), Some(0));
    assert!(net.client.counters().nts_unsent > 0);
}

#[test]
fn client_synchronizes_over_nts_and_every_packet_is_authenticated() {
    let mut net = Net::new(NtsServerConfig::default());
    net.key_exchange(1);
    net.run(600.0);
    assert!(net.client.system().is_synchronized());
    assert_eq!(net.client.system().stratum, 2);
    assert!(net.requests.len() >= 8);
    assert!(net.requests.iter().all(|r| authenticated(r)), "an unauthenticated request went out");
    assert!(net.replies.iter().all(|r| authenticated(r)), "an unauthenticated reply came back");
    assert!(net.requests.iter().chain(&net.replies).all(|p| p.len() <= crate::MAX_DATAGRAM));
    // Each reply refills the jar.
    assert_eq!(net.client.nts_cookies(net.id), Some(8));
    assert_eq!(net.server.responder().counters().nts_replies, net.replies.len() as u64);
    let peer = net.client.peer_status(net.now)[0];
    assert!(peer.nts);
    assert_eq!(peer.nts_cookies, 8);
    assert!(net.server.system_status(net.now).nts_server);
    assert_eq!(net.ke_needed(), 1, "only the start-up request for NTS-KE");
}

#[test]
fn tampered_replies_are_rejected_and_never_used() {
    let mut net = Net::new(NtsServerConfig::default());
    net.key_exchange(1);
    // Every reply's transmit time is moved by an hour: authenticated data.
    net.tamper = Some(Box::new(|mut reply| {
        if let Some(b) = reply.get_mut(40) {
            *b ^= 0x80;
        }
        Some(reply)
    }));
    net.run(300.0);
    assert!(!net.client.system().is_synchronized());
    let rejected = net.client.counters().nts_rejected;
    assert_eq!(rejected, net.replies.len() as u64);
    assert!(rejected > 0);
    assert_eq!(net.client.counters().rejected(PacketTest::Authentication), rejected);
    assert!(net.events.iter().any(|e| matches!(e, Event::PacketRejected { test: PacketTest::Authentication, .. })));
    assert_eq!(net.client.association(net.id).unwrap().reach(), 0);
}

#[test]
fn stripped_authenticator_is_rejected() {
    let mut net = Net::new(NtsServerConfig::default());
    net.key_exchange(1);
    // Replies cut down to the header: a plain NTP reply.
    net.tamper = Some(Box::new(|reply| Some(reply[..HEADER_LEN].to_vec())));
    net.run(120.0);
    assert!(net.client.counters().nts_rejected > 0);
    assert_eq!(net.client.association(net.id).unwrap().reach(), 0);
}

#[test]
fn replayed_and_mismatched_replies_are_rejected() {
    let mut net = Net::new(NtsServerConfig::default());
    net.key_exchange(1);
    net.run(30.0);
    let reach = net.client.association(net.id).unwrap().reach();
    assert_ne!(reach, 0);
    let before = net.client.counters().nts_rejected;
    // A reply already used, delivered again: its unique id is not outstanding.
    let old = net.replies[0].clone();
    net.client.handle_datagram(net.now, addr(SERVER), &old);
    assert_eq!(net.client.counters().nts_rejected, before + 1);
    // A reply to the outstanding request, but with its unique id changed:
    // lose the replies for a while, so a request stays outstanding.
    net.tamper = Some(Box::new(|_| None));
    net.run(70.0);
    let lost = net.requests.last().unwrap().clone();
    // The server answers the lost request again; change one unique-id byte.
    net.tamper = None;
    net.server.handle_datagram(net.now, addr(CLIENT), &lost);
    let Output::Transmit(t) = net.server.poll_output() else { panic!("no answer") };
    let mut reply = t.payload().to_vec();
    reply[HEADER_LEN + 4] ^= 1;
    let before = net.client.counters().nts_rejected;
    net.client.handle_datagram(net.now, addr(SERVER), &reply);
    assert_eq!(net.client.counters().nts_rejected, before + 1);
    // The genuine answer still goes through: the forgery cleared nothing.
    reply[HEADER_LEN + 4] ^= 1;
    let samples = net.client.association(net.id).unwrap().counters().samples;
    net.client.handle_datagram(net.now, addr(SERVER), &reply);
    assert_eq!(net.client.association(net.id).unwrap().counters().samples, samples + 1);
}

#[test]
fn cookie_exhaustion_asks_for_key_exchange_and_provisioning_resumes() {
    let mut net = Net::new(NtsServerConfig::default());
    net.key_exchange(1);
    net.run(30.0);
    assert!(net.client.system().is_synchronized());
    // The server's replies are lost from now on: each request uses a cookie.
    net.tamper = Some(Box::new(|_| None));
    let sent = net.requests.len();
    net.run(3600.0);
    assert_eq!(net.requests.len() - sent, 8, "one request per cookie, then silence");
    assert_eq!(net.client.nts_cookies(net.id), Some(0));
    assert_eq!(net.ke_needed(), 2, "start-up, then exhaustion, once");
    // NTS-KE again: polls resume at once and are answered.
    net.tamper = None;
    net.key_exchange(3);
    let sent = net.requests.len();
    net.run(60.0);
    assert!(net.requests.len() > sent);
    assert_eq!(net.client.association(net.id).unwrap().reach() & 1, 1);
    assert_eq!(net.client.nts_cookies(net.id), Some(8));
}

#[test]
fn ntsn_from_the_server_when_cookies_do_not_open() {
    let mut net = Net::new(NtsServerConfig::default());
    // Cookies sealed by another server's master key.
    let mut other = server_engine(NtsServerConfig::default(), 99);
    let cookies = ke_cookies(&mut other, net.now, &session_keys(1));
    net.client.provision_nts(net.id, session_keys(1), cookies, None).unwrap();
    net.run(10.0);
    assert_eq!(net.requests.len(), 1, "the NTSN stops the client until NTS-KE runs again");
    let nak = &net.replies[0];
    let header = Packet::new_checked(&nak[..]).unwrap();
    assert_eq!((header.stratum(), header.reference_id().0), (Stratum::UNSPECIFIED, *b"NTSN"));
    assert_eq!(net.server.responder().counters().nts_naks, 1);
    assert_eq!(net.client.counters().nts_naks, 1);
    assert_eq!(net.client.nts_cookies(net.id), Some(0));
    assert_eq!(net.ke_needed(), 2);
    // With the right server's cookies it synchronizes.
    net.key_exchange(1);
    net.run(600.0);
    assert!(net.client.system().is_synchronized());
}

#[test]
fn ntsn_that_does_not_echo_our_request_is_ignored() {
    let mut net = Net::new(NtsServerConfig::default());
    net.key_exchange(1);
    net.run(10.0);
    let cookies = net.client.nts_cookies(net.id).unwrap();
    let request = net.requests.last().unwrap();
    // A forged NTSN with a unique id of the attacker's choosing.
    let mut reply = vec![0u8; 512];
    ntp_wire::Repr { mode: ntp_wire::Mode::Server, ..Default::default() }.emit_into(&mut reply).unwrap();
    let len = nts_write_nak(&[7; 32], &mut reply).unwrap();
    net.client.handle_datagram(net.now, addr(SERVER), &reply[..len]);
    assert_eq!(net.client.nts_cookies(net.id), Some(cookies), "cookies kept");
    assert_eq!(net.client.counters().nts_naks, 0);
    assert_eq!(net.ke_needed(), 1);
    // And one echoing a request already answered is ignored too.
    let id = super::scan::scan(request).unwrap().unique_id.unwrap().to_vec();
    let len = nts_write_nak(&id, &mut reply).unwrap();
    net.client.handle_datagram(net.now, addr(SERVER), &reply[..len]);
    assert_eq!(net.client.nts_cookies(net.id), Some(cookies));
    assert_eq!(net.ke_needed(), 1);
}

#[test]
fn master_key_rotation_keeps_old_cookies_for_the_grace_period_only() {
    let nts = NtsServerConfig::default().with_rotation_interval(3600).with_grace(1800);
    let mut net = Net::new(nts);
    let cookies = ke_cookies(&mut net.server, net.now, &session_keys(5));
    let first_key = net.server.nts_master_keys().unwrap().current_id();
    let ask = |server: &mut Engine, at: NtpTimestamp, cookie: &[u8]| -> Option<[u8; 4]> {
        let mut client = NtsClient::new(session_keys(5), [cookie]);
        let mut buf = [0u8; 512];
        ntp_wire::Repr { mode: ntp_wire::Mode::Client, transmit_time: at, ..Default::default() }
            .emit_into(&mut buf)
            .unwrap();
        let len = client.write_request(&mut buf, &mut Seeded(3)).unwrap();
        server.handle_datagram(at, addr(CLIENT), &buf[..len]);
        match server.poll_output() {
            Output::Transmit(t) => {
                let reply = t.payload();
                let ok = client.check_response(reply).is_ok();
                assert!(ok, "the reply or the NTSN answers our request");
                Some(Packet::new_checked(reply).unwrap().reference_id().0)
            }
            _ => None,
        }
    };
    let at = |s: f64| t0() + NtpDuration::from_seconds_f64(s);
    // Before the rotation: served.
    assert_ne!(ask(&mut net.server, at(100.0), &cookies[0]), Some(*b"NTSN"));
    // Rotation due at 3600 s: a request at 4000 s rotates first, and the
    // old key is still inside its grace period.
    assert_ne!(ask(&mut net.server, at(4000.0), &cookies[1]), Some(*b"NTSN"));
    assert_ne!(net.server.nts_master_keys().unwrap().current_id(), first_key);
    assert_eq!(net.server.nts_master_keys().unwrap().len(), 2);
    // After the grace period (retired at 4000 s + 1800 s): NTSN.
    assert_eq!(ask(&mut net.server, at(5900.0), &cookies[2]), Some(*b"NTSN"));
    assert_eq!(net.server.nts_master_keys().unwrap().len(), 1);
    // A forced rotation: cookies of the new current key keep opening.
    let fresh = ke_cookies(&mut net.server, at(5900.0), &session_keys(5));
    net.server.rotate_nts_master_key(at(6000.0));
    assert_ne!(ask(&mut net.server, at(6001.0), &fresh[0]), Some(*b"NTSN"));
}

#[test]
fn client_keeps_synchronized_across_rotations() {
    let nts = NtsServerConfig::default().with_rotation_interval(600).with_grace(1200);
    let mut net = Net::new(nts);
    net.key_exchange(1);
    net.run(4.0 * 3600.0);
    assert!(net.client.system().is_synchronized());
    assert_eq!(net.ke_needed(), 1, "no NTS-KE needed after start-up");
    assert_eq!(net.server.responder().counters().nts_naks, 0);
}

#[test]
fn nts_requests_are_dropped_when_the_server_has_no_nts() {
    let mut net = Net::new(NtsServerConfig::default());
    net.key_exchange(1);
    net.server = Engine::new(EngineConfig::default().with_local_reference(1), Default::default(), t0());
    net.run(60.0);
    assert!(!net.requests.is_empty());
    assert!(net.replies.is_empty());
    assert_eq!(net.server.responder().counters().nts_dropped, net.requests.len() as u64);
}

#[test]
fn rate_limited_nts_requests_get_authenticated_kisses() {
    let limit = crate::RateLimitConfig { burst: 1, ..crate::RateLimitConfig::default() };
    let mut server = server_engine(NtsServerConfig::default(), 11);
    server = {
        let mut config = server.config().clone().with_random_source(Box::new(Seeded(11)));
        config.responder.rate_limit = Some(limit);
        Engine::new(config, Default::default(), t0())
    };
    let cookies = ke_cookies(&mut server, t0(), &session_keys(1));
    let mut client = NtsClient::new(session_keys(1), cookies.iter().map(Vec::as_slice));
    let mut codes = Vec::new();
    for i in 0..2 {
        let at = t0() + NtpDuration::from_seconds_f64(0.5 * f64::from(i));
        let mut buf = [0u8; 512];
        ntp_wire::Repr { mode: ntp_wire::Mode::Client, transmit_time: at, ..Default::default() }
            .emit_into(&mut buf)
            .unwrap();
        let len = client.write_request(&mut buf, &mut Seeded(3)).unwrap();
        server.handle_datagram(at, addr(CLIENT), &buf[..len]);
        let Output::Transmit(t) = server.poll_output() else { panic!("no answer") };
        assert!(client.check_response(t.payload()).is_ok(), "authenticated");
        codes.push(Packet::new_checked(t.payload()).unwrap().stratum());
    }
    assert_eq!(codes, [Stratum(1), Stratum::UNSPECIFIED], "the second is an authenticated RATE kiss");
}

#[test]
fn configuration_errors() {
    let mut e = Engine::new(EngineConfig::default(), Default::default(), t0());
    let peer = AssociationConfig::symmetric_active(addr(SERVER)).with_nts(true);
    assert!(matches!(e.add_association(peer, t0()), Err(ConfigError::NtsMode { .. })));
    let keyed = AssociationConfig::client(addr(SERVER)).with_key(1).with_nts(true);
    assert_eq!(keyed.validate(), Err(ConfigError::NtsWithKey));
    let plain = e.add_association(AssociationConfig::client(addr(SERVER)), t0()).unwrap();
    assert_eq!(
        e.provision_nts(plain, session_keys(1), vec![vec![1; 100]], None),
        Err(ConfigError::NotNts { id: plain })
    );
    let nts = e.add_association(AssociationConfig::client(addr(CLIENT)).with_nts(true), t0()).unwrap();
    assert_eq!(e.provision_nts(nts, session_keys(1), vec![], None), Err(ConfigError::NoNtsCookies));
    assert_eq!(e.provision_nts(nts, session_keys(1), vec![vec![]], None), Err(ConfigError::NoNtsCookies));
    assert_eq!(
        e.provision_nts(nts, session_keys(1), vec![vec![1; 100]], Some(addr(SERVER))),
        Err(ConfigError::Duplicate { address: addr(SERVER) })
    );
    assert_eq!(
        e.provision_nts(AssociationId(999), session_keys(1), vec![vec![1; 100]], None),
        Err(ConfigError::NoSuchAssociation { id: AssociationId(999) })
    );
    // Moving to the NTP server NTS-KE named: found under its new address.
    let moved: SocketAddr = "192.0.2.77:1123".parse().unwrap();
    e.provision_nts(nts, session_keys(1), vec![vec![1; 100]], Some(moved)).unwrap();
    assert_eq!(e.association_at(moved).map(|a| a.id()), Some(nts));
    assert!(e.association_at(addr(CLIENT)).is_none());
    assert_eq!(e.nts_cookies(nts), Some(1));
    let mut out = [0u8; 2048];
    assert_eq!(
        e.nts_ke_answer(t0(), &[0, 0, 0, 0], &session_keys(1), NtsKeServerConfig::default(), &mut out),
        Err(NtsKeError::NotEnabled)
    );
}

proptest::proptest! {
    /// Whatever the jar holds and however large the datagram buffer: the
    /// request fits it, the reply is no longer than the request (no
    /// amplification) and fits the same buffer, and the jar ends with the
    /// cookies it had plus what the placeholders asked for, never above
    /// eight.
    #[test]
    fn requests_and_replies_fit_and_refill(jar in 1usize..=8, buf_len in 228usize..1600, seed in 1u64..) {
        let mut rng = Seeded(seed);
        let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
        let cookies: Vec<_> = (0..jar).map(|_| master.seal_cookie(&session_keys(1), &mut rng)).collect();
        let mut client = NtsClient::new(session_keys(1), cookies.iter().map(|c| &c[..]));
        let mut request = vec![0u8; buf_len];
        ntp_wire::Repr { mode: ntp_wire::Mode::Client, ..Default::default() }.emit_into(&mut request).unwrap();
        let len = client.write_request(&mut request, &mut rng).unwrap();
        proptest::prop_assert!(len <= buf_len);
        let asked = super::scan::scan(&request[..len]).unwrap().placeholders;
        proptest::prop_assert!(asked <= 7 - (jar - 1).min(7));
        let mut reply = vec![0u8; buf_len];
        ntp_wire::Repr { mode: ntp_wire::Mode::Server, stratum: Stratum(1), ..Default::default() }
            .emit_into(&mut reply)
            .unwrap();
        let NtsRequestCheck::Authentic(checked) = nts_check_request(&master, &request[..len]).unwrap() else {
            panic!("own cookie refused")
        };
        let reply_len = nts_write_response(&master, &checked, &mut reply, &mut rng).unwrap();
        proptest::prop_assert!(reply_len <= len, "{} > {}", reply_len, len);
        let got = client.check_response(&reply[..reply_len]).unwrap();
        proptest::prop_assert_eq!(got, NtsResponseCheck::Authentic { new_cookies: 1 + asked });
        proptest::prop_assert_eq!(client.cookies(), jar - 1 + 1 + asked);
        proptest::prop_assert!(client.cookies() <= NTS_JAR_CAPACITY);
    }
}
