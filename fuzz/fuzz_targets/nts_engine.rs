//! Fuzz target `nts_engine`: NTS (RFC 8915) through the engine, on both
//! sides: an NTS server engine, and a client engine with an NTS
//! association provisioned by that server (NTS-KE done in memory, with
//! fixed session keys and a counter as the random source).
//!
//! The input picks one of three uses:
//!
//! * `0`: the rest is a datagram to the server from the client's address.
//!   Nothing panics; an answer is never longer than a client request that
//!   carries NTS fields (no amplification, RFC 8915 §5.7), and such a request gets
//!   time only if it authenticates, which arbitrary bytes cannot.
//! * `1`: the rest is a datagram to the client from the server's address,
//!   while a genuine request is outstanding. Nothing panics and the
//!   association gains no sample: only the genuine reply may give one.
//! * `2`: the rest says which byte of the genuine reply to change and
//!   how; the changed reply is refused, and the genuine one is accepted
//!   after it (the forgery cleared nothing).
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use ntp_algo::{
    AssociationConfig, Engine, EngineConfig, NtsKeServerConfig, NtsKeys, NtsServerConfig, Output, RandomSource,
    nts_ke_read_response, nts_ke_write_request,
};
use ntp_wire::nts::AeadKey;
use ntp_wire::{NtpDuration, NtpTimestamp};

fn counter(mut n: u8) -> Box<dyn RandomSource + Send> {
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(151);
            *b = n;
        }
    })
}

fn drain(engine: &mut Engine) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match engine.poll_output() {
            Output::Transmit(t) => out.push(t.payload().to_vec()),
            Output::Timeout(_) => return out,
            _ => {}
        }
    }
}

fn has_nts_fields(packet: &[u8]) -> bool {
    ntp_wire::Trailer::split(packet).is_ok_and(|t| {
        t.extension_fields()
            .any(|f| f.is_ok_and(|f| (0x0104..=0x0404).contains(&f.field_type) && f.field_type & 0xff == 4))
    })
}

fuzz_target!(|data: &[u8]| {
    let [which, rest @ ..] = data else { return };
    let client_addr: SocketAddr = "192.0.2.2:123".parse().expect("address");
    let server_addr: SocketAddr = "192.0.2.1:123".parse().expect("address");
    let t0 = NtpTimestamp::from_unix(1_795_219_200, 0);
    let config = EngineConfig::default()
        .with_local_reference(1)
        .with_nts_server(NtsServerConfig::default())
        .with_random_source(counter(1));
    let mut server = Engine::new(config, Default::default(), t0);

    if which % 3 == 0 {
        server.handle_datagram(t0, client_addr, rest);
        for answer in drain(&mut server) {
            // Mode 3 only: a mode 1 packet is answered statelessly as a
            // plain symmetric peer, whatever fields it carries.
            if rest.first().is_some_and(|b| b & 7 == 3) && has_nts_fields(rest) {
                assert!(answer.len() <= rest.len(), "an NTS answer longer than its request");
                let header = ntp_wire::Packet::new_checked(&answer[..]).expect("the engine's own packet");
                assert_eq!(header.reference_id().0, *b"NTSN", "arbitrary NTS fields got time");
            }
        }
        return;
    }

    let keys = || NtsKeys { c2s: AeadKey::new([3; 32]), s2c: AeadKey::new([4; 32]) };
    let mut request = [0u8; 64];
    let len = nts_ke_write_request(&mut request).expect("request");
    let mut out = [0u8; 2048];
    let answer =
        server.nts_ke_answer(t0, &request[..len], &keys(), NtsKeServerConfig::default(), &mut out).expect("answer");
    let cookies = nts_ke_read_response(&out[..answer.len]).expect("cookies").cookies;
    let mut client = Engine::new(EngineConfig::default().with_random_source(counter(2)), Default::default(), t0);
    let id = client.add_association(AssociationConfig::client(server_addr).with_nts(true), t0).expect("association");
    client.provision_nts(id, keys(), cookies, None).expect("provisioned");
    client.handle_timeout(t0);
    let requests = drain(&mut client);
    let [request] = requests.as_slice() else { panic!("one request") };
    server.handle_datagram(t0, client_addr, request);
    let replies = drain(&mut server);
    let [reply] = replies.as_slice() else { panic!("one reply") };
    let at = t0 + NtpDuration::from_seconds_f64(0.001);
    let samples = |c: &Engine| c.association(id).expect("association").counters().samples;

    if which % 3 == 1 {
        client.handle_datagram(at, server_addr, rest);
        drain(&mut client);
        if rest != &reply[..] {
            assert_eq!(samples(&client), 0, "a datagram that is not the reply gave a sample");
        }
        return;
    }

    let [position, flip, ..] = rest else { return };
    let mut bad = reply.clone();
    let index = usize::from(*position) % bad.len();
    bad[index] ^= flip | 1;
    client.handle_datagram(at, server_addr, &bad);
    drain(&mut client);
    assert_eq!(samples(&client), 0, "a changed reply gave a sample");
    client.handle_datagram(at, server_addr, reply);
    drain(&mut client);
    assert_eq!(samples(&client), 1, "the genuine reply was refused after a forgery");
});
