//! Tests of the mode 6 responder through the engine's datagram path.
#![allow(clippy::field_reassign_with_default)]

use std::net::SocketAddr;

use ntp_wire::auth::{Key, KeyType, Keyring};
use ntp_wire::control::{
    ControlPacket, ControlRepr, ErrorCode, Opcode, PeerSelection, PeerStatus, Reassembler, SystemStatus, parse_var_list,
};
use ntp_wire::{NtpDuration, NtpTimestamp};

use crate::control_vars::{PEER_DEFAULTS, SYSTEM_DEFAULTS};
use crate::{AccessClass, AccessList, AssociationConfig, ControlConfig, Engine, EngineConfig, Output, Prefix};

const SERVER: &str = "10.0.0.1:123";
const NODE: &str = "10.0.0.2:123";
const NTPQ: &str = "127.0.0.1:40000";
const KEY: u32 = 7;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A node synchronized to a stratum-1 server, with `config` for the node.
struct Setup {
    server: Engine,
    node: Engine,
    now: NtpTimestamp,
}

impl Setup {
    fn new(mut config: EngineConfig) -> Self {
        let now = NtpTimestamp::from_unix(1_795_219_200, 0);
        let server = Engine::new(EngineConfig::default().with_local_reference(1), Keyring::new(), now);
        config.control.nonce_secret = Some(42);
        let mut ring = Keyring::new();
        ring.insert(Key::new(KEY, KeyType::Sha1, b"control-secret").unwrap(), true);
        ring.insert(Key::new(KEY + 1, KeyType::Md5, b"other-secret").unwrap(), true);
        let mut node = Engine::new(config, ring, now);
        node.add_association(AssociationConfig::client(addr(SERVER)).with_iburst(true), now).unwrap();
        let mut setup = Setup { server, node, now };
        setup.run(40);
        setup
    }

    fn synced() -> Self {
        let setup = Setup::new(EngineConfig::default());
        assert!(setup.node.system().is_synchronized());
        setup
    }

    /// `steps` half-seconds of exchanges between node and server.
    fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.node.handle_timeout(self.now);
            while let Some(out) = next(&mut self.node) {
                if let Output::Transmit(request) = out {
                    let at = self.now + NtpDuration::from_seconds_f64(0.001);
                    self.server.handle_datagram(at, addr(NODE), request.payload());
                    while let Output::Transmit(reply) = self.server.poll_output() {
                        self.node.handle_datagram(
                            at + NtpDuration::from_seconds_f64(0.001),
                            addr(SERVER),
                            reply.payload(),
                        );
                    }
                }
            }
            self.now += NtpDuration::from_seconds_f64(0.5);
        }
    }

    /// Sends `bytes` to the node from `from`; the datagrams it answers with.
    fn ask_from(&mut self, from: &str, bytes: &[u8]) -> Vec<Vec<u8>> {
        // Requests a microsecond apart, as a client on loopback sends them.
        self.now += NtpDuration::from_seconds_f64(1e-6);
        self.node.handle_datagram(self.now, addr(from), bytes);
        let mut out = Vec::new();
        while let Some(o) = next(&mut self.node) {
            if let Output::Transmit(t) = o
                && t.destination == addr(from)
            {
                out.push(t.payload().to_vec());
            }
        }
        out
    }

    fn ask(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.ask_from(NTPQ, bytes)
    }
}

/// The next output that is not a timeout.
fn next(engine: &mut Engine) -> Option<Output> {
    match engine.poll_output() {
        Output::Timeout(_) => None,
        other => Some(other),
    }
}

fn request(opcode: Opcode, association_id: u16, sequence: u16, data: &[u8]) -> Vec<u8> {
    let repr = ControlRepr { opcode, association_id, sequence, data, ..ControlRepr::default() };
    let mut buf = vec![0u8; 600];
    let len = repr.emit(&mut buf).unwrap();
    buf.truncate(len);
    buf
}

fn signed(opcode: Opcode, association_id: u16, data: &[u8], key: &Key) -> Vec<u8> {
    let repr = ControlRepr { opcode, association_id, sequence: 9, data, ..ControlRepr::default() };
    let mut buf = vec![0u8; 600];
    let len = repr.emit_signed(&mut buf, key).unwrap();
    buf.truncate(len);
    buf
}

/// Reassembles the answer; its payload and status word.
fn payload(datagrams: &[Vec<u8>], sequence: u16, opcode: Opcode) -> (Vec<u8>, u16) {
    let mut store = vec![0u8; 16_000];
    let mut r = Reassembler::new(&mut store, sequence, opcode);
    let mut complete = false;
    for d in datagrams {
        complete = r.push(&ControlPacket::new_checked(&d[..]).unwrap()).unwrap();
    }
    assert!(complete, "incomplete answer");
    let status = r.status();
    (r.payload().unwrap().to_vec(), status)
}

fn vars(text: &[u8]) -> Vec<(String, String)> {
    parse_var_list(text).map(|v| v.map(|v| (v.name.to_owned(), v.value.to_owned()))).collect::<Result<_, _>>().unwrap()
}

fn value<'a>(vars: &'a [(String, String)], name: &str) -> &'a str {
    &vars.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing")).1
}

fn error_of(datagrams: &[Vec<u8>]) -> Option<ErrorCode> {
    assert_eq!(datagrams.len(), 1);
    ControlPacket::new_checked(&datagrams[0][..]).unwrap().error_code()
}

#[test]
fn test_readstat_lists_associations_with_their_status_words() {
    let mut s = Setup::synced();
    let answer = s.ask(&request(Opcode::ReadStatus, 0, 1, b""));
    let (data, status) = payload(&answer, 1, Opcode::ReadStatus);
    let system = SystemStatus::from_bits(status);
    assert_eq!(system.leap, s.node.system().leap);
    assert_eq!(system.clock_source, 6);
    assert_eq!(data.len(), 4);
    let id = u16::from_be_bytes([data[0], data[1]]);
    let peer = PeerStatus::from_bits(u16::from_be_bytes([data[2], data[3]]));
    let expected = s.node.associations().next().unwrap().id();
    assert_eq!(u32::from(id), expected.0);
    assert!(peer.configured && peer.reachable);
    assert_eq!(peer.selection, PeerSelection::SystemPeer);
    assert_eq!(peer.selection.tally(), s.node.selection_status(expected).tally());
}

#[test]
fn test_readvar_system_defaults_carry_the_engines_numbers() {
    let mut s = Setup::synced();
    let answer = s.ask(&request(Opcode::ReadVariables, 0, 2, b""));
    let (data, _) = payload(&answer, 2, Opcode::ReadVariables);
    let v = vars(&data);
    let names: Vec<_> = v.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, SYSTEM_DEFAULTS);
    let status = s.node.system_status(s.now);
    assert_eq!(value(&v, "stratum"), status.stratum.to_string());
    assert_eq!(value(&v, "stratum"), "2");
    assert_eq!(value(&v, "refid"), "10.0.0.1");
    assert_eq!(value(&v, "offset"), format!("{:.6}", status.offset * 1e3));
    assert_eq!(value(&v, "rootdelay"), format!("{:.3}", status.root_delay * 1e3));
    assert_eq!(value(&v, "frequency"), format!("{:.3}", status.frequency_ppm));
    assert_eq!(value(&v, "peer"), status.system_peer_id.unwrap().0.to_string());
    assert_eq!(value(&v, "clock"), format!("{:#010x}.{:08x}", s.now.seconds(), s.now.fraction()));
    assert!(value(&v, "reftime").starts_with("0x"));
}

#[test]
fn test_readvar_names_exactly_the_requested_variables() {
    let mut s = Setup::synced();
    let answer = s.ask(&request(Opcode::ReadVariables, 0, 3, b"stratum,offset"));
    let (data, _) = payload(&answer, 3, Opcode::ReadVariables);
    let v = vars(&data);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].0, "stratum");
    assert_eq!(v[1].0, "offset");
    let answer = s.ask(&request(Opcode::ReadVariables, 0, 4, b"stratum,nosuchvar"));
    assert_eq!(error_of(&answer), Some(ErrorCode::UnknownVariable));
}

#[test]
fn test_readvar_peer_defaults_and_unknown_association() {
    let mut s = Setup::synced();
    let a = s.node.associations().next().unwrap();
    let id = a.id().0 as u16;
    let reach = a.reach();
    let answer = s.ask(&request(Opcode::ReadVariables, id, 5, b""));
    let (data, status) = payload(&answer, 5, Opcode::ReadVariables);
    assert_eq!(PeerStatus::from_bits(status).selection, PeerSelection::SystemPeer);
    let v = vars(&data);
    let names: Vec<_> = v.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, PEER_DEFAULTS);
    assert_eq!(value(&v, "srcadr"), "10.0.0.1");
    assert_eq!(value(&v, "srcport"), "123");
    assert_eq!(value(&v, "reach"), format!("{reach:#x}"));
    assert_eq!(value(&v, "stratum"), "1");
    assert_eq!(value(&v, "hmode"), "3");
    let peer = s.node.peer_status(s.now)[0];
    assert_eq!(value(&v, "delay"), format!("{:.6}", peer.delay.unwrap() * 1e3));
    assert_eq!(value(&v, "filtdelay").split_whitespace().count(), 8);
    // READSTAT of one association answers its variables too.
    let answer = s.ask(&request(Opcode::ReadStatus, id, 6, b"reach"));
    let (data, _) = payload(&answer, 6, Opcode::ReadStatus);
    assert_eq!(vars(&data), [("reach".to_owned(), format!("{reach:#x}"))]);
    let answer = s.ask(&request(Opcode::ReadVariables, id + 100, 7, b""));
    assert_eq!(error_of(&answer), Some(ErrorCode::BadAssociation));
}

#[test]
fn test_bad_format_rules() {
    let mut s = Setup::synced();
    // Length not a multiple of 4.
    let mut odd = request(Opcode::ReadVariables, 0, 8, b"stratum");
    odd.push(0);
    assert_eq!(error_of(&s.ask(&odd)), Some(ErrorCode::BadFormat));
    // A count past the datagram.
    let mut long = request(Opcode::ReadVariables, 0, 8, b"stratum");
    long[11] = 40;
    assert_eq!(error_of(&s.ask(&long)), Some(ErrorCode::BadFormat));
    // A count over 468.
    let mut huge = request(Opcode::ReadVariables, 0, 8, &[b'a'; 400]);
    huge.extend_from_slice(&[b'a'; 100]);
    huge[10..12].copy_from_slice(&469u16.to_be_bytes());
    assert_eq!(error_of(&s.ask(&huge)), Some(ErrorCode::BadFormat));
    // Garbage names.
    assert_eq!(error_of(&s.ask(&request(Opcode::ReadVariables, 0, 8, b"=x"))), Some(ErrorCode::BadFormat));
    // Dropped: short, R/E/M set, offset not 0.
    // Shorter than a control header: the engine counts it as malformed, the
    // responder never sees it.
    let malformed = s.node.counters().malformed;
    assert!(s.ask(&request(Opcode::ReadVariables, 0, 8, b"")[..8]).is_empty());
    assert_eq!(s.node.counters().malformed, malformed + 1);
    for flag in [0x80, 0x40, 0x20] {
        let mut r = request(Opcode::ReadVariables, 0, 8, b"");
        r[1] |= flag;
        assert!(s.ask(&r).is_empty());
    }
    let mut offset = request(Opcode::ReadVariables, 0, 8, b"");
    offset[9] = 4;
    assert!(s.ask(&offset).is_empty());
    // Unsupported opcodes.
    assert_eq!(error_of(&s.ask(&request(Opcode::SetTrap, 0, 8, b""))), Some(ErrorCode::BadOpcode));
    assert_eq!(error_of(&s.ask(&request(Opcode::Unknown(20), 0, 8, b""))), Some(ErrorCode::BadOpcode));
    assert!(s.node.control_counters().malformed >= 4);
}

#[test]
fn test_access_loopback_only_by_default() {
    let mut s = Setup::synced();
    let r = request(Opcode::ReadVariables, 0, 1, b"");
    assert!(s.ask_from("192.0.2.7:5000", &r).is_empty());
    assert!(s.ask_from("[2001:db8::1]:5000", &r).is_empty());
    assert!(!s.ask_from("[::1]:5000", &r).is_empty());
    assert_eq!(s.node.control_counters().access_denied, 2);

    // Opened, the engine's access list decides: serve-only may not query.
    let mut config = EngineConfig::default();
    config.control = ControlConfig::open();
    let mut access = AccessList::allow_all();
    access.add(Prefix::host("192.0.2.8".parse().unwrap()), AccessClass::ServeOnly);
    access.add(Prefix::host("192.0.2.9".parse().unwrap()), AccessClass::QueryOnly);
    config.access = access;
    let mut s = Setup::new(config);
    assert!(s.ask_from("192.0.2.8:5000", &r).is_empty());
    assert!(!s.ask_from("192.0.2.9:5000", &r).is_empty());
    assert!(!s.ask_from("192.0.2.10:5000", &r).is_empty());
}

#[test]
fn test_rate_limit_bounds_an_allowed_source() {
    let mut s = Setup::synced();
    let r = request(Opcode::ReadVariables, 0, 1, b"stratum");
    let answered = (0..200).filter(|_| !s.ask(&r).is_empty()).count();
    assert_eq!(answered, 64, "the burst, then (almost) nothing");
    s.now += NtpDuration::from_seconds(1);
    let later = (0..20).filter(|_| !s.ask(&r).is_empty()).count();
    assert_eq!(later, 8, "eight per second refill");
    assert_eq!(s.node.control_counters().rate_limited, 136 + 12);
}

#[test]
fn test_requests_at_one_instant_are_all_answered() {
    // ntp-node stamps a whole received batch with one clock reading, so
    // ntpq's back-to-back requests can arrive at the very same instant.
    let mut s = Setup::synced();
    let r = request(Opcode::ReadVariables, 0, 1, b"stratum");
    for _ in 0..3 {
        s.node.handle_datagram(s.now, addr(NTPQ), &r);
    }
    let answers = std::iter::from_fn(|| next(&mut s.node))
        .filter(|o| matches!(o, Output::Transmit(t) if t.destination == addr(NTPQ)))
        .count();
    assert_eq!(answers, 3);
    assert_eq!(s.node.control_counters().rate_limited, 0);
}

#[test]
fn test_signed_request_gets_signed_response() {
    let mut s = Setup::synced();
    let key = s.node.keys().get(KEY).unwrap().clone();
    let answer = s.ask(&signed(Opcode::ReadVariables, 0, b"stratum", &key));
    assert_eq!(answer.len(), 1);
    let packet = ControlPacket::new_checked(&answer[0][..]).unwrap();
    assert_eq!(packet.verify(s.node.keys()).unwrap().id(), KEY);
    assert_eq!(packet.data(), b"stratum=2\r\n");

    // A MAC that fails: answered, unsigned.
    let mut bad = signed(Opcode::ReadVariables, 0, b"stratum", &key);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let answer = s.ask(&bad);
    let packet = ControlPacket::new_checked(&answer[0][..]).unwrap();
    assert!(packet.mac().is_none());
    assert_eq!(s.node.control_counters().auth_failed, 1);

    // Errors are signed too (the MAC right after the header).
    let answer = s.ask(&signed(Opcode::ReadVariables, 0, b"bogus", &key));
    let packet = ControlPacket::new_checked(&answer[0][..]).unwrap();
    assert_eq!(packet.error_code(), Some(ErrorCode::UnknownVariable));
    assert_eq!(packet.verify(s.node.keys()).unwrap().id(), KEY);
}

#[test]
fn test_writes_need_the_control_key_and_are_not_implemented() {
    let mut config = EngineConfig::default();
    config.control.control_key = Some(KEY);
    let mut s = Setup::new(config);
    let key = s.node.keys().get(KEY).unwrap().clone();
    let other = s.node.keys().get(KEY + 1).unwrap().clone();
    for op in [Opcode::WriteVariables, Opcode::Configure, Opcode::WriteClock, Opcode::SaveConfig] {
        assert_eq!(error_of(&s.ask(&request(op, 0, 1, b"leap=1"))), Some(ErrorCode::Permission));
        assert_eq!(error_of(&s.ask(&signed(op, 0, b"leap=1", &other))), Some(ErrorCode::Permission));
        assert_eq!(error_of(&s.ask(&signed(op, 0, b"leap=1", &key))), Some(ErrorCode::BadOpcode));
    }
    assert_eq!(s.node.system().leap, ntp_wire::LeapIndicator::NoWarning);
}

/// Asks for a nonce from `from`; its text.
fn nonce(s: &mut Setup, from: &str) -> String {
    let answer = s.ask_from(from, &request(Opcode::RequestNonce, 0, 11, b""));
    let (data, _) = payload(&answer, 11, Opcode::RequestNonce);
    let v = vars(&data);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, "nonce");
    v[0].1.clone()
}

#[test]
fn test_mrulist_needs_a_fresh_nonce_from_the_same_address() {
    let mut config = EngineConfig::default();
    config.responder.rate_limit = Some(crate::RateLimitConfig::default());
    let mut s = Setup::new(config);
    // A few clients of the node's time service.
    for i in 0..3u8 {
        let mut packet = [0u8; 48];
        packet[0] = 0x23;
        let from = format!("192.0.2.{}:123", 10 + i);
        s.node.handle_datagram(s.now, addr(&from), &packet);
    }
    while next(&mut s.node).is_some() {}
    let n = nonce(&mut s, NTPQ);
    let ask = format!("nonce={n}, frags=32");
    let answer = s.ask(&request(Opcode::ReadMru, 0, 12, ask.as_bytes()));
    let (data, _) = payload(&answer, 12, Opcode::ReadMru);
    let v = vars(&data);
    assert_eq!(v[0].0, "nonce");
    let addrs: Vec<_> = v.iter().filter(|(n, _)| n.starts_with("addr.")).map(|(_, v)| v.as_str()).collect();
    for i in 0..3 {
        assert!(addrs.contains(&format!("192.0.2.{}", 10 + i).as_str()), "{addrs:?}");
    }
    assert!(addrs.contains(&"127.0.0.1:40000"), "the control client is listed: {addrs:?}");
    assert_eq!(value(&v, "mv.0"), "0x23");
    assert!(v.iter().any(|(n, _)| n == "now"));
    assert!(v.iter().any(|(n, _)| n == "last.newest"));

    // From another loopback address: the nonce is not theirs.
    let answer = s.ask_from("127.0.0.2:40000", &request(Opcode::ReadMru, 0, 13, ask.as_bytes()));
    assert_eq!(error_of(&answer), Some(ErrorCode::BadValue));
    // Without one, or forged.
    let answer = s.ask(&request(Opcode::ReadMru, 0, 14, b"frags=32"));
    assert_eq!(error_of(&answer), Some(ErrorCode::BadValue));
    let flipped = if n.ends_with('0') { '1' } else { '0' };
    let forged = format!("nonce={}{flipped}, frags=32", &n[..23]);
    assert_eq!(error_of(&s.ask(&request(Opcode::ReadMru, 0, 15, forged.as_bytes()))), Some(ErrorCode::BadValue));
    // Replayed after 16 s.
    s.now += NtpDuration::from_seconds(17);
    let answer = s.ask(&request(Opcode::ReadMru, 0, 16, ask.as_bytes()));
    assert_eq!(error_of(&answer), Some(ErrorCode::BadValue));
}

#[test]
fn test_mrulist_continues_after_the_last_entry_held() {
    let mut config = EngineConfig::default();
    config.responder.rate_limit = Some(crate::RateLimitConfig::default());
    let mut s = Setup::new(config);
    for i in 0..200u8 {
        let mut packet = [0u8; 48];
        packet[0] = 0x23;
        s.now += NtpDuration::from_seconds_f64(0.01);
        s.node.handle_datagram(s.now, addr(&format!("198.51.{i}.1:123")), &packet);
    }
    while next(&mut s.node).is_some() {}
    let n = nonce(&mut s, NTPQ);
    let answer = s.ask(&request(Opcode::ReadMru, 0, 12, format!("nonce={n}, frags=2").as_bytes()));
    assert!(answer.len() <= 2);
    let (data, _) = payload(&answer, 12, Opcode::ReadMru);
    let v = vars(&data);
    assert!(!v.iter().any(|(n, _)| n == "now"), "two fragments do not hold 200 rows");
    let rows = v.iter().filter(|(n, _)| n.starts_with("addr.")).count();
    let (next_nonce, last_addr, last_seen) =
        (value(&v, "nonce"), value(&v, &format!("addr.{}", rows - 1)), value(&v, &format!("last.{}", rows - 1)));
    let follow = format!("nonce={next_nonce}, frags=32, last.0={last_seen}, addr.0={last_addr}");
    let answer = s.ask(&request(Opcode::ReadMru, 0, 13, follow.as_bytes()));
    let (data, _) = payload(&answer, 13, Opcode::ReadMru);
    let v2 = vars(&data);
    assert_ne!(value(&v2, "addr.0"), value(&v, "addr.0"));
    let unknown = format!("nonce={}, last.0=0x00000001.00000000, addr.0=203.0.113.1", value(&v2, "nonce"));
    assert_eq!(
        error_of(&s.ask(&request(Opcode::ReadMru, 0, 14, unknown.as_bytes()))),
        Some(ErrorCode::UnknownVariable)
    );
}

#[test]
fn test_unauthorised_source_never_gets_more_than_it_sent() {
    let mut s = Setup::synced();
    for opcode in [Opcode::ReadStatus, Opcode::ReadVariables, Opcode::RequestNonce, Opcode::ReadMru] {
        let r = request(opcode, 0, 1, b"");
        assert_eq!(r.len(), 12);
        assert!(s.ask_from("203.0.113.5:123", &r).is_empty());
    }
}

mod client {
    use super::*;
    use crate::{
        ClientError, ClientEvent, ControlClient, ControlResponse, PeerVars, SystemVars, parse_association_list,
    };

    /// One exchange: the client's request through the node, the answer back
    /// in `order` (indexes into the datagrams).
    fn exchange(s: &mut Setup, client: &mut ControlClient, opcode: Opcode, id: u16, data: &[u8]) -> ControlResponse {
        let request = client.request(opcode, id, data, 0.0).unwrap();
        let answer = s.ask(&request);
        let mut done = None;
        for d in answer.iter().rev() {
            if let ClientEvent::Complete(r) = client.handle_datagram(d, 0.1).unwrap() {
                done = Some(r);
            }
        }
        done.expect("complete")
    }

    #[test]
    fn test_client_reads_the_engines_numbers() {
        let mut s = Setup::synced();
        let mut client = ControlClient::new(None);
        let list = exchange(&mut s, &mut client, Opcode::ReadStatus, 0, b"");
        let ids = parse_association_list(&list.data);
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].1.selection.tally(), '*');
        let system = SystemVars::parse(&exchange(&mut s, &mut client, Opcode::ReadVariables, 0, b"").data).unwrap();
        let status = s.node.system_status(s.now);
        assert_eq!(system.stratum, Some(status.stratum));
        assert_eq!(system.peer, Some(ids[0].0));
        assert!((system.offset.unwrap() - status.offset).abs() < 1e-9);
        assert!((system.root_delay.unwrap() - status.root_delay).abs() < 1e-6);
        assert!((system.frequency_ppm.unwrap() - status.frequency_ppm).abs() < 1e-3);
        assert_eq!(system.refid.as_deref(), Some("10.0.0.1"));
        let response = exchange(&mut s, &mut client, Opcode::ReadVariables, ids[0].0, b"");
        let peer = PeerVars::parse(response.association_id, response.status, &response.data).unwrap();
        let snapshot = s.node.peer_status(s.now)[0];
        assert_eq!(peer.address, Some(snapshot.address.ip()));
        assert_eq!(peer.reach, Some(snapshot.reach));
        assert_eq!(peer.filter_delay.len(), 8);
        assert!((peer.delay.unwrap() - snapshot.delay.unwrap()).abs() < 1e-9);
        assert_eq!(peer.status.selection, PeerSelection::SystemPeer);
    }

    #[test]
    fn test_client_signs_and_checks() {
        let mut s = Setup::synced();
        let key = s.node.keys().get(KEY).unwrap().clone();
        let mut client = ControlClient::new(Some(key));
        let response = exchange(&mut s, &mut client, Opcode::ReadVariables, 0, b"stratum");
        assert!(response.authenticated);
        assert_eq!(response.data, b"stratum=2\r\n");
        // A response signed with another key (or not at all) is refused.
        let other = s.node.keys().get(KEY + 1).unwrap().clone();
        let mut client = ControlClient::new(Some(other.clone()));
        let sent = client.request(Opcode::ReadVariables, 0, b"stratum", 0.0).unwrap();
        let unsigned = s.ask(&request(Opcode::ReadVariables, 0, 1, b"stratum"));
        let mut forged = unsigned[0].clone();
        forged[2..4].copy_from_slice(&sent[2..4]);
        assert_eq!(client.handle_datagram(&forged, 0.1), Err(ClientError::Unauthenticated));
    }

    #[test]
    fn test_client_errors_timeouts_and_strays() {
        let mut s = Setup::synced();
        let mut client = ControlClient::new(None);
        let request = client.request(Opcode::ReadVariables, 0, b"nosuch", 0.0).unwrap();
        assert_eq!(client.request(Opcode::ReadVariables, 0, b"", 0.0), Err(ClientError::Busy));
        let answer = s.ask(&request);
        // A stray with another sequence number is ignored.
        let mut stray = answer[0].clone();
        stray[3] ^= 0x55;
        assert_eq!(client.handle_datagram(&stray, 0.1), Ok(ClientEvent::Ignored));
        assert_eq!(client.handle_datagram(b"garbage", 0.1), Ok(ClientEvent::Ignored));
        assert_eq!(client.handle_datagram(&answer[0], 0.1), Err(ClientError::Server(ErrorCode::UnknownVariable)));

        // Nothing comes back: one retry at 5 s, failure at 10 s.
        let first = client.request(Opcode::ReadVariables, 0, b"", 0.0).unwrap();
        assert_eq!(client.deadline(), Some(5.0));
        assert_eq!(client.handle_timeout(4.9), Ok(None));
        assert_eq!(client.handle_timeout(5.0), Ok(Some(first)));
        assert_eq!(client.deadline(), Some(10.0));
        assert_eq!(client.handle_timeout(10.0), Err(ClientError::Timeout));
        assert_eq!(client.deadline(), None);
    }

    #[test]
    fn test_client_reassembles_out_of_order_and_ignores_duplicates() {
        let mut s = Setup::synced();
        let mut client = ControlClient::new(None);
        let id = s.node.associations().next().unwrap().id().0 as u16;
        let request = client.request(Opcode::ReadVariables, id, b"", 0.0).unwrap();
        let answer = s.ask(&request);
        assert!(answer.len() >= 2, "the peer list takes two fragments");
        let last = answer.len() - 1;
        assert_eq!(client.handle_datagram(&answer[last], 1.0), Ok(ClientEvent::Progress));
        assert_eq!(client.deadline(), Some(1.0 + crate::NEXT_FRAGMENT_TIMEOUT));
        assert_eq!(client.handle_datagram(&answer[last], 1.5), Ok(ClientEvent::Ignored));
        let mut complete = None;
        for d in &answer[..last] {
            if let ClientEvent::Complete(r) = client.handle_datagram(d, 2.0).unwrap() {
                complete = Some(r);
            }
        }
        let r = complete.unwrap();
        assert!(PeerVars::parse(r.association_id, r.status, &r.data).unwrap().reach.is_some());
    }
}

/// The MRU walk of [`crate::MruWalk`] against the engine's own responder.
mod mru_walk {
    use super::*;
    use crate::{ClientEvent, ControlClient, MruEntry, MruStep, MruWalk};

    /// A node whose time service heard from `clients` addresses, 10 ms apart.
    fn busy_node(clients: u8) -> Setup {
        let mut config = EngineConfig::default();
        config.responder.rate_limit = Some(crate::RateLimitConfig::default());
        let mut s = Setup::new(config);
        for i in 0..clients {
            hear_from(&mut s, &client_addr(i));
        }
        s
    }

    fn client_addr(i: u8) -> String {
        format!("198.51.{i}.1:123")
    }

    fn hear_from(s: &mut Setup, from: &str) {
        let mut packet = [0u8; 48];
        packet[0] = 0x23;
        s.now += NtpDuration::from_seconds_f64(0.01);
        s.node.handle_datagram(s.now, addr(from), &packet);
        while next(&mut s.node).is_some() {}
    }

    /// Runs a walk; after each answer is taken, `between(setup, round)`
    /// may change the node and returns seconds to move the client's clock.
    fn run(s: &mut Setup, walk: &mut MruWalk, mut between: impl FnMut(&mut Setup, usize) -> f64) -> Vec<MruEntry> {
        let mut client = ControlClient::new(None);
        let mut clock = 0.0;
        let mut request = walk.start(&mut client, clock).unwrap();
        for round in 0..64 {
            let answer = s.ask(&request);
            let mut step = None;
            for d in &answer {
                match client.handle_datagram(d, clock) {
                    Ok(ClientEvent::Complete(r)) => step = Some(walk.handle_response(&mut client, &r, clock).unwrap()),
                    Ok(_) => {}
                    Err(e) => step = Some(MruStep::Send(walk.handle_error(&mut client, e, clock).unwrap())),
                }
            }
            match step.expect("the node answered") {
                MruStep::Send(next) => request = next,
                MruStep::Done(rows) => return rows,
            }
            clock += between(s, round);
        }
        panic!("the walk did not end");
    }

    fn check_list(rows: &[MruEntry], clients: u8, heard: u64) {
        for i in 0..clients {
            let want: SocketAddr = addr(&client_addr(i));
            let hits = rows.iter().filter(|r| r.address == want.ip()).count();
            assert_eq!(hits, 1, "{want} once");
        }
        assert!(rows.iter().any(|r| r.address == addr(NTPQ).ip() && r.port == 40000 && r.mode == 6));
        assert!(rows.windows(2).all(|w| w[0].last <= w[1].last), "oldest first");
        let time_client = rows.iter().find(|r| r.address == addr(&client_addr(0)).ip()).unwrap();
        assert_eq!((time_client.mode, time_client.version, time_client.count), (3, 4, heard));
        assert!(time_client.first <= time_client.last);
    }

    #[test]
    fn test_walk_reads_the_whole_list_over_several_answers() {
        let mut s = busy_node(200);
        let mut walk = MruWalk::new();
        let rows = run(&mut s, &mut walk, |_, _| 0.1);
        assert_eq!(rows.len(), 201, "200 time clients and ourselves");
        check_list(&rows, 200, 1);
        assert!(walk.requests() > 2, "16 fragments do not hold 200 rows: {}", walk.requests());
        assert_eq!(walk.restarts(), 0);
    }

    #[test]
    fn test_walk_starts_over_when_the_cursor_rows_moved_on() {
        let mut s = busy_node(200);
        let mut walk = MruWalk::new();
        // After the first READ_MRU answer, every client it listed is heard
        // from again: no row the cursor names is listed any more.
        let rows = run(&mut s, &mut walk, |s, round| {
            if round == 1 {
                for i in 0..200 {
                    hear_from(s, &client_addr(i));
                }
            }
            0.1
        });
        assert_eq!(walk.restarts(), 1);
        assert_eq!(rows.len(), 201);
        check_list(&rows, 200, 2);
    }

    #[test]
    fn test_walk_fetches_a_fresh_nonce_when_its_nonce_expired() {
        let mut s = busy_node(120);
        let mut walk = MruWalk::new();
        // The caller stalls 17 s between two READ_MRU requests.
        let rows = run(&mut s, &mut walk, |s, round| {
            if round == 1 {
                s.now += NtpDuration::from_seconds(17);
                17.0
            } else {
                0.1
            }
        });
        assert_eq!(walk.restarts(), 1);
        assert_eq!(rows.len(), 121);
        check_list(&rows, 120, 1);
    }

    #[test]
    fn test_walk_gives_up_after_max_restarts() {
        let mut s = busy_node(200);
        let mut walk = MruWalk::new();
        let mut client = ControlClient::new(None);
        let mut request = walk.start(&mut client, 0.0).unwrap();
        let mut outcome = None;
        for _ in 0..64 {
            let answer = s.ask(&request);
            // Every answer is followed by all clients being heard from again.
            for i in 0..200 {
                hear_from(&mut s, &client_addr(i));
            }
            let mut step = None;
            for d in &answer {
                match client.handle_datagram(d, 0.0) {
                    Ok(ClientEvent::Complete(r)) => step = Some(walk.handle_response(&mut client, &r, 0.0)),
                    Ok(_) => {}
                    Err(e) => step = Some(walk.handle_error(&mut client, e, 0.0).map(MruStep::Send)),
                }
            }
            match step.unwrap() {
                Ok(MruStep::Send(next)) => request = next,
                other => {
                    outcome = Some(other);
                    break;
                }
            }
        }
        assert_eq!(outcome, Some(Err(crate::ClientError::Server(ErrorCode::UnknownVariable))));
        assert_eq!(walk.restarts(), crate::MRU_MAX_RESTARTS);
    }
}
