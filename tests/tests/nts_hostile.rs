//! Hostile input against NTS (RFC 8915), through the engine on both sides.
//! Each test attacks one rule and checks that the attack is refused, that
//! a counter records it, that the state it aimed at is unharmed, and that
//! genuine traffic still works afterwards:
//!
//! 1. `replayed_request_with_a_valid_cookie`: a captured request is sent
//!    again. The server is stateless and answers it (RFC 8915 §5.7 leaves
//!    replay detection to the client); the client refuses the answer, as
//!    its unique identifier is no longer outstanding.
//! 2. `replayed_and_foreign_replies`: a genuine reply delivered twice, and a
//!    reply to another client's request.
//! 3. `cookies_from_another_server_key`: the server answers NTSN and
//!    nothing else; a forged NTSN that does not echo the client's
//!    outstanding unique identifier is ignored.
//! 4. `truncated_authenticators`: every truncation of a request and of a
//!    reply is refused, never answered with time or used.
//! 5. `unique_identifier_mismatch`: a reply whose identifier was changed.
//! 6. `garbage_extension_fields`: random NTS fields, duplicated fields,
//!    oversized placeholders, fields after the authenticator: no panic, no
//!    authenticated answer, never an answer longer than the request.
//! 7. `nts_ke_stream_that_never_ends`: an NTS-KE peer that sends records
//!    without End of Message is cut off at the message limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::net::SocketAddr;

use ntp_algo::{
    AssociationConfig, AssociationId, Engine, EngineConfig, MAX_DATAGRAM, NtsClient, NtsKeServerConfig, NtsKeys,
    NtsServerConfig, Output, PacketTest, RandomSource, nts_ke_limits, nts_ke_read_response, nts_ke_scan,
    nts_ke_write_request,
};
use ntp_wire::nts::ke::{MessageScanner, RecordRepr, RecordWriter};
use ntp_wire::nts::{AeadKey, FieldWriter, field_type};
use ntp_wire::{HEADER_LEN, Mode, NtpDuration, NtpTimestamp, Packet, Repr, Stratum};
use proptest::prelude::*;

const CLIENT: &str = "192.0.2.2:123";
const SERVER: &str = "192.0.2.1:123";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t0() -> NtpTimestamp {
    NtpTimestamp::from_unix(1_795_219_200, 0)
}

/// A deterministic byte stream (xorshift): runs repeat.
fn seeded(mut state: u64) -> Box<dyn RandomSource + Send> {
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = (state >> 24) as u8;
        }
    })
}

fn keys(n: u8) -> NtsKeys {
    NtsKeys { c2s: AeadKey::new([n; 32]), s2c: AeadKey::new([n ^ 0xff; 32]) }
}

fn server(seed: u64) -> Engine {
    let config = EngineConfig::default()
        .with_local_reference(1)
        .with_nts_server(NtsServerConfig::default())
        .with_random_source(seeded(seed));
    Engine::new(config, Default::default(), t0())
}

fn ke_cookies(server: &mut Engine, keys: &NtsKeys) -> Vec<Vec<u8>> {
    let mut request = [0u8; 64];
    let len = nts_ke_write_request(&mut request).unwrap();
    let mut out = [0u8; 2048];
    let answer = server.nts_ke_answer(t0(), &request[..len], keys, NtsKeServerConfig::default(), &mut out).unwrap();
    nts_ke_read_response(&out[..answer.len]).unwrap().cookies
}

/// What the attacks must leave unchanged on the client.
#[derive(Debug, PartialEq)]
struct Snapshot {
    reach: u8,
    pending_origin: NtpTimestamp,
    samples: u64,
    cookies: Option<usize>,
    offset: Option<f64>,
    synchronized: bool,
}

struct World {
    client: Engine,
    server: Engine,
    id: AssociationId,
    now: NtpTimestamp,
}

impl World {
    /// A client provisioned by the server, after a few genuine exchanges.
    fn new() -> Self {
        let mut server = server(1);
        let mut client = Engine::new(EngineConfig::default().with_random_source(seeded(2)), Default::default(), t0());
        let id = client.add_association(AssociationConfig::client(addr(SERVER)).with_nts(true), t0()).unwrap();
        let cookies = ke_cookies(&mut server, &keys(1));
        client.provision_nts(id, keys(1), cookies, None).unwrap();
        let mut world = World { client, server, id, now: t0() };
        for _ in 0..3 {
            let (request, reply) = world.poll();
            world.deliver(&reply.unwrap());
            assert!(request.len() > HEADER_LEN);
        }
        assert!(world.client.association(id).unwrap().counters().samples >= 3);
        world
    }

    fn snapshot(&self) -> Snapshot {
        let a = self.client.association(self.id).unwrap();
        Snapshot {
            reach: a.reach(),
            pending_origin: a.pending_origin(),
            samples: a.counters().samples,
            cookies: self.client.nts_cookies(self.id),
            offset: self.client.peer_status(self.now)[0].offset,
            synchronized: self.client.system().is_synchronized(),
        }
    }

    /// Runs the client to its next poll; returns its request and the
    /// server's answer (not delivered).
    fn poll(&mut self) -> (Vec<u8>, Option<Vec<u8>>) {
        let next = self.client.next_poll(self.id).unwrap();
        if (next - self.now).to_bits() > 0 {
            self.now = next;
        }
        self.client.handle_timeout(self.now);
        let request = loop {
            match self.client.poll_output() {
                Output::Transmit(t) => break t.payload().to_vec(),
                Output::Timeout(_) => panic!("the client sent nothing"),
                _ => {}
            }
        };
        while !matches!(self.client.poll_output(), Output::Timeout(_)) {}
        let reply = self.ask(&request);
        (request, reply)
    }

    /// The server's answer to a datagram from the client's address.
    fn ask(&mut self, request: &[u8]) -> Option<Vec<u8>> {
        self.server.handle_datagram(self.now, addr(CLIENT), request);
        let mut reply = None;
        loop {
            match self.server.poll_output() {
                Output::Transmit(t) => {
                    assert!(reply.is_none(), "one answer per request");
                    reply = Some(t.payload().to_vec());
                }
                Output::Timeout(_) => return reply,
                _ => {}
            }
        }
    }

    fn deliver(&mut self, reply: &[u8]) {
        let at = self.now + NtpDuration::from_seconds_f64(0.002);
        self.client.handle_datagram(at, addr(SERVER), reply);
        while !matches!(self.client.poll_output(), Output::Timeout(_)) {}
    }

    /// Delivers `bad`, checks it is refused at test 5 and changes nothing.
    fn refused(&mut self, bad: &[u8]) {
        let before = self.snapshot();
        let rejected = self.client.counters().nts_rejected;
        let test5 = self.client.counters().rejected(PacketTest::Authentication);
        self.deliver(bad);
        assert_eq!(self.snapshot(), before, "a refused reply changed the association");
        assert_eq!(self.client.counters().nts_rejected, rejected + 1);
        assert_eq!(self.client.counters().rejected(PacketTest::Authentication), test5 + 1);
    }

    /// A genuine exchange still gives a sample.
    fn still_works(&mut self) {
        let samples = self.client.association(self.id).unwrap().counters().samples;
        let (_, reply) = self.poll();
        self.deliver(&reply.unwrap());
        assert_eq!(self.client.association(self.id).unwrap().counters().samples, samples + 1);
    }
}

fn is_ntsn(packet: &[u8]) -> bool {
    Packet::new_checked(packet).is_ok_and(|p| p.stratum() == Stratum::UNSPECIFIED && p.reference_id().0 == *b"NTSN")
}

#[test]
fn replayed_request_with_a_valid_cookie() {
    let mut w = World::new();
    let (request, reply) = w.poll();
    let reply = reply.unwrap();
    w.deliver(&reply);
    // The replay is answered (stateless server), with time and cookies...
    let replayed = w.ask(&request).expect("the server answers a replay");
    assert!(!is_ntsn(&replayed));
    assert!(replayed.len() <= request.len(), "no amplification");
    // ...which the client refuses: nothing of its is outstanding.
    w.refused(&replayed);
    w.still_works();
}

#[test]
fn replayed_and_foreign_replies() {
    let mut w = World::new();
    let (_, first) = w.poll();
    let first = first.unwrap();
    w.deliver(&first);
    w.refused(&first);
    // A newer request is outstanding now; the old reply still does not fit.
    let (_, second) = w.poll();
    w.refused(&first);
    // A reply to another client of the same server (other session keys).
    let mut other = NtsClient::new(keys(7), ke_cookies(&mut w.server, &keys(7)).iter().map(Vec::as_slice));
    let mut buf = [0u8; MAX_DATAGRAM];
    Repr { mode: Mode::Client, transmit_time: w.now, ..Repr::default() }.emit_into(&mut buf).unwrap();
    let len = other.write_request(&mut buf, &mut *seeded(9)).unwrap();
    let foreign = w.ask(&buf[..len]).unwrap();
    w.refused(&foreign);
    // The genuine reply to the outstanding request is still accepted.
    let samples = w.snapshot().samples;
    w.deliver(&second.unwrap());
    assert_eq!(w.snapshot().samples, samples + 1);
}

#[test]
fn cookies_from_another_server_key() {
    let mut w = World::new();
    let mut stranger = server(77);
    let foreign_cookie = ke_cookies(&mut stranger, &keys(1)).remove(0);
    let mut client = NtsClient::new(keys(1), [foreign_cookie.as_slice()]);
    let mut buf = [0u8; MAX_DATAGRAM];
    Repr { mode: Mode::Client, transmit_time: w.now, ..Repr::default() }.emit_into(&mut buf).unwrap();
    let len = client.write_request(&mut buf, &mut *seeded(5)).unwrap();
    let naks = w.server.responder().counters().nts_naks;
    let nak = w.ask(&buf[..len]).expect("an NTSN kiss");
    assert!(is_ntsn(&nak));
    assert_eq!(w.server.responder().counters().nts_naks, naks + 1);
    // The kiss carries the unique identifier and nothing else: no time, no
    // cookie, and it is no longer than the request.
    assert_eq!(nak.len(), HEADER_LEN + 4 + 32);
    assert!(Packet::new_checked(&nak[..]).unwrap().reference_time().is_zero());
    // Our client: this NTSN echoes someone else's request, so it is ignored.
    let before = w.snapshot();
    w.deliver(&nak);
    assert_eq!(w.snapshot(), before);
    assert_eq!(w.client.counters().nts_naks, 0);
    w.still_works();
}

#[test]
fn truncated_authenticators() {
    let mut w = World::new();
    let (request, reply) = w.poll();
    let reply = reply.unwrap();
    // Every truncation of the request: dropped, or an NTSN, never time.
    // (Cut to 48 bytes it is a plain request, answered as one; the client
    // refuses plain replies, see `refused` above.)
    for cut in HEADER_LEN + 1..request.len() {
        if let Some(answer) = w.ask(&request[..cut]) {
            assert!(is_ntsn(&answer), "a truncated request ({cut} bytes) got time");
        }
    }
    // Every truncation of the reply, and every single-bit change in its
    // authenticator: refused, nothing changed.
    for cut in 0..reply.len() {
        let before = w.snapshot();
        w.deliver(&reply[..cut]);
        assert_eq!(w.snapshot(), before, "truncated to {cut}");
    }
    let auth_start = reply.len() - 40;
    for byte in auth_start..reply.len() {
        let mut bad = reply.clone();
        bad[byte] ^= 0x10;
        let before = w.snapshot();
        w.deliver(&bad);
        assert_eq!(w.snapshot(), before, "byte {byte} changed");
    }
    assert!(w.client.counters().nts_rejected > 0);
    // The genuine reply still goes through.
    let samples = w.snapshot().samples;
    w.deliver(&reply);
    assert_eq!(w.snapshot().samples, samples + 1);
}

#[test]
fn unique_identifier_mismatch() {
    let mut w = World::new();
    let (_, reply) = w.poll();
    let reply = reply.unwrap();
    for byte in HEADER_LEN + 4..HEADER_LEN + 36 {
        let mut bad = reply.clone();
        bad[byte] ^= 0x01;
        w.refused(&bad);
    }
    let samples = w.snapshot().samples;
    w.deliver(&reply);
    assert_eq!(w.snapshot().samples, samples + 1);
}

/// A request with the given extension fields (type, body) after the header.
fn request_with(fields: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    Repr { mode: Mode::Client, transmit_time: t0(), ..Repr::default() }.emit_into(&mut buf).unwrap();
    let mut writer = FieldWriter::new(&mut buf, HEADER_LEN);
    for (field_type, body) in fields {
        writer.push(*field_type, body).unwrap();
    }
    let len = writer.position();
    buf.truncate(len);
    buf
}

#[test]
fn garbage_extension_fields() {
    let mut w = World::new();
    let (request, _) = w.poll();
    let cookie = ke_cookies(&mut w.server, &keys(1)).remove(0);
    let dropped = w.server.responder().counters().nts_dropped;
    let cases = [
        // No authenticator.
        request_with(&[(field_type::UNIQUE_IDENTIFIER, vec![1; 32]), (field_type::COOKIE, cookie.clone())]),
        // No cookie.
        request_with(&[(field_type::UNIQUE_IDENTIFIER, vec![1; 32]), (field_type::AUTHENTICATOR, vec![0; 40])]),
        // Two unique identifiers, two cookies.
        request_with(&[
            (field_type::UNIQUE_IDENTIFIER, vec![1; 32]),
            (field_type::UNIQUE_IDENTIFIER, vec![2; 32]),
            (field_type::COOKIE, cookie.clone()),
        ]),
        request_with(&[
            (field_type::UNIQUE_IDENTIFIER, vec![1; 32]),
            (field_type::COOKIE, cookie.clone()),
            (field_type::COOKIE, cookie.clone()),
        ]),
        // A unique identifier that is too short.
        request_with(&[(field_type::UNIQUE_IDENTIFIER, vec![1; 8]), (field_type::COOKIE, cookie.clone())]),
        // A garbage authenticator.
        request_with(&[
            (field_type::UNIQUE_IDENTIFIER, vec![1; 32]),
            (field_type::COOKIE, cookie.clone()),
            (field_type::AUTHENTICATOR, vec![0xff; 64]),
        ]),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(w.ask(case), None, "case {i} was answered");
    }
    assert_eq!(w.server.responder().counters().nts_dropped, dropped + cases.len() as u64);
    // Many placeholders of another length, appended after the genuine
    // request's authenticator: not covered, not answered with time.
    let mut padded = request.clone();
    let mut extra = vec![0u8; 2000];
    let mut writer = FieldWriter::new(&mut extra, 0);
    for _ in 0..7 {
        writer.push(field_type::COOKIE_PLACEHOLDER, &[0; 200]).unwrap();
    }
    let n = writer.position();
    padded.extend_from_slice(&extra[..n]);
    if let Some(answer) = w.ask(&padded) {
        assert!(answer.len() <= padded.len());
    }
}

#[test]
fn nts_ke_stream_that_never_ends() {
    // Records of a harmless non-critical type, forever, in small chunks.
    let mut record = [0u8; 64];
    let mut writer = RecordWriter::new(&mut record);
    writer.push(&RecordRepr::Unknown { critical: false, record_type: 0x4000, body: &[0; 40] }).unwrap();
    let len = writer.len();
    let mut scanner = MessageScanner::new(nts_ke_limits());
    let mut received = Vec::new();
    for _ in 0..1_000_000 {
        received.extend_from_slice(&record[..len]);
        match nts_ke_scan(&mut scanner, &received) {
            Ok(None) => continue,
            Ok(Some(_)) => panic!("a message without End of Message completed"),
            Err(_) => return,
        }
    }
    panic!("{} bytes were accepted without End of Message", received.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random NTS fields in any order, with random bodies: no panic, never
    /// time for a request with an NTS field (at most an NTSN), and never an
    /// answer longer than the request. A request without NTS fields is a
    /// plain one (unknown fields are ignored, RFC 7822) and gets a plain
    /// 48-byte reply.
    #[test]
    fn random_nts_fields_never_authenticate(
        fields in prop::collection::vec(
            (prop::sample::select(vec![
                field_type::UNIQUE_IDENTIFIER, field_type::COOKIE, field_type::COOKIE_PLACEHOLDER,
                field_type::AUTHENTICATOR, 0x0505, 0x8004,
            ]), prop::collection::vec(any::<u8>(), 0..140)),
            1..6,
        ),
    ) {
        let mut server = server(3);
        let request = request_with(&fields);
        let nts = fields.iter().any(|(t, _)| {
            [field_type::UNIQUE_IDENTIFIER, field_type::COOKIE, field_type::COOKIE_PLACEHOLDER, field_type::AUTHENTICATOR]
                .contains(t)
        });
        server.handle_datagram(t0(), addr(CLIENT), &request);
        loop {
            match server.poll_output() {
                Output::Transmit(t) => {
                    prop_assert!(t.payload().len() <= request.len());
                    if nts {
                        prop_assert!(is_ntsn(t.payload()), "random NTS fields got time");
                    } else {
                        prop_assert_eq!(t.payload().len(), HEADER_LEN);
                    }
                }
                Output::Timeout(_) => break,
                _ => {}
            }
        }
    }

    /// Random bytes after a genuine reply's header, delivered to the client:
    /// never used.
    #[test]
    fn random_reply_trailers_are_refused(tail in prop::collection::vec(any::<u8>(), 0..300), seed in any::<u64>()) {
        let mut w = World::new();
        let (_, reply) = w.poll();
        let reply = reply.unwrap();
        let mut bad = reply[..HEADER_LEN].to_vec();
        let mut rng = seeded(seed);
        let mut noise = tail;
        rng.fill(&mut noise);
        bad.extend_from_slice(&noise);
        let before = w.snapshot();
        w.deliver(&bad);
        prop_assert_eq!(w.snapshot(), before);
    }
}
