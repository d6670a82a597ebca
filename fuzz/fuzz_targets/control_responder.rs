//! Fuzz target `control_responder`: arbitrary mode 6 datagrams into the
//! engine's control responder, from sources allowed and not allowed to
//! query, and arbitrary datagrams into the control client.
//!
//! What must hold for every input:
//!
//! * Nothing panics (engine, responder, client).
//! * A source the access lists do not let query gets nothing back at all,
//!   and so never more bytes than it sent.
//! * An allowed source gets well-formed mode 6 responses only: each passes
//!   `ControlPacket::new_checked`, has the R bit, answers the request's
//!   opcode and sequence, and is at most 12 + 468 + 24 bytes; a request
//!   shorter than the header, or with R, E or M set, or a non-zero offset,
//!   gets nothing.
//! * The client, fed the same bytes as a response, never panics and its
//!   deadline never moves backwards in time it was given.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ntp_algo::{ControlClient, Engine, EngineConfig, Output};
use ntp_wire::auth::{Key, KeyType, Keyring};
use ntp_wire::control::{ControlPacket, Opcode};
use ntp_wire::{NtpDuration, NtpTimestamp};

const ALLOWED: &str = "127.0.0.1:4000";
const DENIED: &str = "192.0.2.1:4000";

fn key() -> Key {
    Key::new(1, KeyType::Sha1, b"fuzz control key").expect("valid key")
}

/// A node with one association (so READSTAT and peer READVAR have
/// something to say), rate limiting on time requests (the MRU list has
/// rows), and a trusted key.
fn engine() -> Engine {
    static START: OnceLock<NtpTimestamp> = OnceLock::new();
    let now = *START.get_or_init(|| NtpTimestamp::from_unix(1_795_219_200, 0));
    let mut config = EngineConfig::default();
    config.responder.rate_limit = Some(Default::default());
    config.control.nonce_secret = Some(7);
    let mut ring = Keyring::new();
    ring.insert(key(), true);
    let mut engine = Engine::new(config, ring, now);
    let _ = engine.add_association(ntp_algo::AssociationConfig::client("10.0.0.1:123".parse().unwrap()), now);
    engine
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the source; the rest is one or more datagrams
    // separated by a 0xff 0xfe marker.
    let Some((&selector, rest)) = data.split_first() else { return };
    let source: SocketAddr = if selector & 1 == 0 { ALLOWED } else { DENIED }.parse().unwrap();
    let mut engine = engine();
    let mut now = NtpTimestamp::from_unix(1_795_219_200, 0);
    let mut client = ControlClient::new((selector & 2 != 0).then(key));
    let _ = client.request(Opcode::ReadVariables, 0, b"", 0.0);
    for (i, datagram) in rest.split(|&b| b == 0xff).enumerate() {
        now += NtpDuration::from_seconds_f64(0.001);
        // Make most datagrams mode 6 so the fuzzer does not waste time on
        // the time path.
        let mut bytes = datagram.to_vec();
        if selector & 4 == 0
            && let Some(first) = bytes.first_mut()
        {
            *first = (*first & !7) | 6;
        }
        engine.handle_datagram(now, source, &bytes);
        let mut answers = Vec::new();
        loop {
            match engine.poll_output() {
                Output::Transmit(t) => answers.push((t.destination, t.payload().to_vec())),
                Output::Timeout(_) => break,
                _ => {}
            }
        }
        let sent: usize = answers.iter().filter(|(d, _)| *d == source).map(|(_, p)| p.len()).sum();
        let mode6 = bytes.first().is_some_and(|b| b & 7 == 6);
        if mode6 && source.to_string() == DENIED {
            assert_eq!(sent, 0, "a source not allowed to query got {sent} bytes for {} bytes", bytes.len());
        }
        let is_request = bytes.len() >= 12
            && bytes[0] & 7 == 6
            && bytes[1] & 0xe0 == 0
            && bytes[8] == 0
            && bytes[9] == 0;
        for (destination, payload) in &answers {
            if *destination != source || !mode6 {
                continue;
            }
            assert!(is_request, "an answer to something that is not a request");
            assert!(payload.len() <= 12 + 468 + 24);
            let packet = ControlPacket::new_checked(&payload[..]).expect("a well-formed response");
            assert!(packet.is_response());
            assert_eq!(packet.sequence(), u16::from_be_bytes([bytes[2], bytes[3]]));
            assert_eq!(packet.opcode().to_bits(), bytes[1] & 0x1f);
        }
        let t = i as f64 * 0.5;
        let before = client.deadline();
        let _ = client.handle_datagram(&bytes, t);
        let _ = client.handle_timeout(t);
        if let (Some(before), Some(after)) = (before, client.deadline()) {
            assert!(after >= before.min(t), "deadline moved back: {before} -> {after}");
        }
    }
});
