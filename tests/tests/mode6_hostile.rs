//! Hostile input against the mode 6 responder and client (issue 12):
//! amplification, floods of fragments, counts beyond the datagram, nonces
//! replayed late or from elsewhere, absurd variable names. Everything runs
//! through the public engine and client APIs, in memory.
// A test states its expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::net::SocketAddr;

use ntp_algo::{ClientEvent, ControlClient, ControlConfig, Engine, EngineConfig, Output, RateLimitConfig};
use ntp_wire::auth::Keyring;
use ntp_wire::control::{ControlPacket, ControlRepr, ErrorCode, Opcode, fragments, parse_var_list};
use ntp_wire::{NtpDuration, NtpTimestamp};

const LOOPBACK: &str = "127.0.0.1:5000";
const OUTSIDER: &str = "198.51.100.7:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn start() -> NtpTimestamp {
    NtpTimestamp::from_unix(1_795_219_200, 0)
}

fn node(config: EngineConfig) -> Engine {
    let mut engine = Engine::new(config.with_local_reference(2), Keyring::new(), start());
    // Some associations, so READSTAT and READVAR have something to say.
    for i in 1..=20u8 {
        let server = format!("10.0.0.{i}:123").parse().unwrap();
        engine.add_association(ntp_algo::AssociationConfig::client(server), start()).unwrap();
    }
    engine
}

fn request(opcode: Opcode, association_id: u16, sequence: u16, data: &[u8]) -> Vec<u8> {
    let repr = ControlRepr { opcode, association_id, sequence, data, ..ControlRepr::default() };
    let mut buf = vec![0u8; 600];
    let len = repr.emit(&mut buf).unwrap();
    buf.truncate(len);
    buf
}

/// Sends `bytes` from `from` at `now`; the answers to `from`.
fn ask(engine: &mut Engine, now: NtpTimestamp, from: &str, bytes: &[u8]) -> Vec<Vec<u8>> {
    engine.handle_datagram(now, addr(from), bytes);
    let mut out = Vec::new();
    loop {
        match engine.poll_output() {
            Output::Transmit(t) if t.destination == addr(from) => out.push(t.payload().to_vec()),
            Output::Timeout(_) => return out,
            _ => {}
        }
    }
}

#[test]
fn small_requests_from_outside_get_nothing() {
    let mut engine = node(EngineConfig::default());
    let mut now = start();
    let mut sent = 0;
    for opcode in 0..32u8 {
        for association in [0u16, 1, 2, 0xffff] {
            let r = request(Opcode::from_bits(opcode), association, 1, b"");
            now += NtpDuration::from_seconds_f64(0.01);
            assert_eq!(r.len(), 12);
            sent += ask(&mut engine, now, OUTSIDER, &r).len();
        }
    }
    assert_eq!(sent, 0, "an unauthorised source gets no byte back");
    assert_eq!(engine.control_counters().answered, 0);
}

#[test]
fn allowed_flood_is_bounded_by_the_rate_limit() {
    // Opened to everyone the access list lets query, as ntpd is by default.
    let mut config = EngineConfig::default();
    config.control = ControlConfig::open();
    let mut engine = node(config);
    let mut now = start();
    let r = request(Opcode::ReadVariables, 0, 1, b"");
    let (mut requests, mut bytes_in, mut bytes_out) = (0usize, 0usize, 0usize);
    // 10 000 requests over 10 s from one source.
    for _ in 0..10_000 {
        now += NtpDuration::from_seconds_f64(0.001);
        requests += 1;
        bytes_in += r.len();
        bytes_out += ask(&mut engine, now, OUTSIDER, &r).iter().map(Vec::len).sum::<usize>();
    }
    let answered = engine.control_counters().answered as usize;
    // The default control limit: a burst of 64, then 8 per second.
    assert!(answered <= 64 + 8 * 10 + 1, "answered {answered} of {requests}");
    assert!(answered >= 64, "answered {answered}");
    let per_answer = bytes_out / answered;
    assert!(per_answer <= 2 * (12 + 468 + 24), "{per_answer}");
    eprintln!("flood: {requests} requests, {bytes_in} bytes in, {bytes_out} bytes out ({answered} answered)");
    assert!(bytes_out < 100 * bytes_in / 10, "amplification bounded: {bytes_out} out for {bytes_in} in");
}

#[test]
fn counts_beyond_the_datagram_get_badfmt_no_bigger_than_the_request() {
    let mut engine = node(EngineConfig::default());
    let mut now = start();
    for count in [1u16, 4, 100, 468, 469, 0xffff] {
        let mut r = request(Opcode::ReadVariables, 0, 9, b"");
        r[10..12].copy_from_slice(&count.to_be_bytes());
        now += NtpDuration::from_seconds_f64(0.01);
        let answers = ask(&mut engine, now, LOOPBACK, &r);
        assert_eq!(answers.len(), 1, "count {count}");
        assert!(answers[0].len() <= r.len());
        let packet = ControlPacket::new_checked(&answers[0][..]).unwrap();
        assert_eq!(packet.error_code(), Some(ErrorCode::BadFormat), "count {count}");
    }
}

#[test]
fn absurd_variable_names_are_refused_in_a_small_answer() {
    let mut engine = node(EngineConfig::default());
    let mut now = start();
    let cases: Vec<Vec<u8>> = vec![
        vec![b'a'; 468],
        b"stratum,".repeat(58),
        [b"x".as_slice(), &[0xff; 100]].concat(),
        b"\"\"\"\"".to_vec(),
        b"name=\"unterminated".to_vec(),
    ];
    for data in cases {
        now += NtpDuration::from_seconds_f64(0.01);
        let r = request(Opcode::ReadVariables, 0, 3, &data);
        let answers = ask(&mut engine, now, LOOPBACK, &r);
        assert!(!answers.is_empty());
        let packet = ControlPacket::new_checked(&answers[0][..]).unwrap();
        match packet.error_code() {
            Some(code) => {
                assert!(matches!(code, ErrorCode::BadFormat | ErrorCode::UnknownVariable), "{code:?}");
                assert_eq!((answers.len(), answers[0].len()), (1, 12));
            }
            // 58 names of a known variable: answered once per name, as ntpd does.
            None => {
                let text: Vec<u8> =
                    answers.iter().flat_map(|a| ControlPacket::new_checked(&a[..]).unwrap().data().to_vec()).collect();
                assert_eq!(text.windows(8).filter(|w| w == b"stratum=").count(), 58);
            }
        }
    }
}

#[test]
fn nonces_do_not_travel_or_keep() {
    let mut config = EngineConfig::default();
    config.responder.rate_limit = Some(RateLimitConfig::default());
    let mut engine = node(config);
    let mut now = start();
    let answers = ask(&mut engine, now, LOOPBACK, &request(Opcode::RequestNonce, 0, 1, b""));
    let packet = ControlPacket::new_checked(&answers[0][..]).unwrap();
    let nonce = parse_var_list(packet.data()).next().unwrap().unwrap().value.to_owned();
    let mru = |nonce: &str| format!("nonce={nonce}, frags=32").into_bytes();
    let code = |answers: &[Vec<u8>]| {
        assert_eq!(answers.len(), 1, "one answer expected");
        ControlPacket::new_checked(&answers[0][..]).unwrap().error_code()
    };
    now += NtpDuration::from_seconds(15);
    let first = ask(&mut engine, now, LOOPBACK, &request(Opcode::ReadMru, 0, 2, &mru(&nonce)));
    assert!(!first.is_empty(), "{:?} {nonce}", engine.control_counters());
    assert_eq!(code(&first), None);
    assert_eq!(
        code(&ask(&mut engine, now, "127.0.0.9:5000", &request(Opcode::ReadMru, 0, 3, &mru(&nonce)))),
        Some(ErrorCode::BadValue),
        "another address"
    );
    assert_eq!(
        code(&ask(&mut engine, now, "[::1]:5000", &request(Opcode::ReadMru, 0, 3, &mru(&nonce)))),
        Some(ErrorCode::BadValue),
        "another family"
    );
    now += NtpDuration::from_seconds(2);
    assert_eq!(
        code(&ask(&mut engine, now, LOOPBACK, &request(Opcode::ReadMru, 0, 4, &mru(&nonce)))),
        Some(ErrorCode::BadValue),
        "17 s old"
    );
    // A nonce from the future (a forged time) is refused too.
    now += NtpDuration::from_seconds_f64(0.001);
    let future = format!("{:08x}{}", now.seconds() + 100, &nonce[8..]);
    assert_eq!(
        code(&ask(&mut engine, now, LOOPBACK, &request(Opcode::ReadMru, 0, 5, &mru(&future)))),
        Some(ErrorCode::BadValue)
    );
}

#[test]
fn fragment_floods_do_not_confuse_the_client() {
    let mut client = ControlClient::new(None);
    let sent = client.request(Opcode::ReadVariables, 0, b"", 0.0).unwrap();
    let sequence = u16::from_be_bytes([sent[2], sent[3]]);
    let template = ControlRepr { response: true, opcode: Opcode::ReadVariables, sequence, ..ControlRepr::default() };
    let mut buf = [0u8; 600];
    let mut t = 0.0;
    // 10 000 fragments that never end (M bit set), at every offset, overlapping.
    for i in 0..10_000u32 {
        t += 0.0001;
        let data = [b'a'; 100];
        let repr = ControlRepr { more: true, offset: ((i * 37) % 15_000) as u16, data: &data, ..template };
        let len = repr.emit(&mut buf).unwrap();
        match client.handle_datagram(&buf[..len], t).unwrap() {
            ClientEvent::Progress | ClientEvent::Ignored => {}
            ClientEvent::Complete(r) => panic!("completed from never-ending fragments: {} bytes", r.data.len()),
        }
    }
    // The real answer still gets through? No: the held fragments occupy the
    // slots; the request times out and the caller asks again.
    assert!(client.deadline().is_some());
    assert!(client.handle_timeout(t + 3.0).is_ok());
    client.cancel();

    // A proper multi-fragment answer, with duplicates and strays mixed in.
    let sent = client.request(Opcode::ReadVariables, 0, b"", 10.0).unwrap();
    let sequence = u16::from_be_bytes([sent[2], sent[3]]);
    let payload: Vec<u8> = b"x=1, ".repeat(300);
    let template = ControlRepr { sequence, ..template };
    let mut datagrams = Vec::new();
    for fragment in fragments(&payload).unwrap() {
        let len = fragment.apply(template).emit(&mut buf).unwrap();
        datagrams.push(buf[..len].to_vec());
    }
    let mut done = None;
    for d in datagrams.iter().chain(datagrams.iter()).rev() {
        let mut stray = d.clone();
        stray[3] ^= 1;
        assert_eq!(client.handle_datagram(&stray, 10.1).unwrap(), ClientEvent::Ignored);
        if let ClientEvent::Complete(r) = client.handle_datagram(d, 10.1).unwrap() {
            done = Some(r);
            break;
        }
    }
    assert_eq!(done.unwrap().data, payload);
}
