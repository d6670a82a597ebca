//! Criterion benchmarks of mode 6.
//!
//! `cargo bench -p ntp-algo --bench control`
//!
//! * `control/readvar_system`: a READVAR request for the system variables
//!   (the default list) through `Engine::handle_datagram`, from parsing
//!   the request to draining the response datagram. Control rate limiting
//!   is off so every iteration is answered.
//! * `control/client_peer_4_fragments`: the client side of a peer READVAR
//!   whose answer takes 4 fragments: building the request, taking the 4
//!   datagrams (last first), reassembling and parsing the list into
//!   `PeerVars`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use ntp_algo::{ClientEvent, ControlClient, Engine, EngineConfig, Output, PeerVars};
use ntp_wire::NtpTimestamp;
use ntp_wire::auth::Keyring;
use ntp_wire::control::{ControlRepr, Opcode, VarListWriter, fragments};

fn bench_readvar_system(c: &mut Criterion) {
    let t0 = NtpTimestamp::from_unix(1_795_219_200, 0);
    let mut config = EngineConfig::default().with_local_reference(2);
    config.control.rate_limit = None;
    let mut engine = Engine::new(config, Keyring::new(), t0);
    let source: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let repr = ControlRepr { opcode: Opcode::ReadVariables, sequence: 1, ..ControlRepr::default() };
    let mut request = [0u8; 12];
    repr.emit(&mut request).unwrap();
    c.bench_function("control/readvar_system", |b| {
        b.iter(|| {
            engine.handle_datagram(t0, source, black_box(&request));
            let mut bytes = 0;
            loop {
                match engine.poll_output() {
                    Output::Transmit(t) => bytes += t.payload().len(),
                    Output::Timeout(_) => break,
                    _ => {}
                }
            }
            black_box(bytes)
        })
    });
}

/// A peer variable list long enough for 4 fragments (ntpd's peer list,
/// then more filter arrays as a server with extra variables would send).
fn peer_payload() -> Vec<u8> {
    let mut buf = vec![0u8; 4 * 468];
    let mut w = VarListWriter::new(&mut buf);
    w.push_raw("srcadr", "192.0.2.1").unwrap();
    w.push_uint("srcport", 123).unwrap();
    w.push_raw("dstadr", "192.0.2.2").unwrap();
    w.push_uint("dstport", 123).unwrap();
    w.push_uint("leap", 0).unwrap();
    w.push_uint("stratum", 1).unwrap();
    w.push_int("precision", -20).unwrap();
    w.push_decimal("rootdelay", 0.0, 3).unwrap();
    w.push_decimal("rootdisp", 0.122, 3).unwrap();
    w.push_raw("refid", "GPS").unwrap();
    w.push_timestamp("reftime", NtpTimestamp::from_parts(0xeca5_5e7d, 0x3419_7c1e)).unwrap();
    w.push_timestamp("rec", NtpTimestamp::from_parts(0xeca5_5e80, 0x1234_5678)).unwrap();
    w.push_hex("reach", 0xff).unwrap();
    w.push_uint("unreach", 0).unwrap();
    w.push_uint("hmode", 3).unwrap();
    w.push_uint("pmode", 4).unwrap();
    w.push_int("hpoll", 6).unwrap();
    w.push_int("ppoll", 6).unwrap();
    w.push_uint("headway", 0).unwrap();
    w.push_hex("flash", 0).unwrap();
    w.push_uint("keyid", 0).unwrap();
    w.push_decimal("offset", 0.123_456, 6).unwrap();
    w.push_decimal("delay", 1.234_567, 6).unwrap();
    w.push_decimal("dispersion", 2.5, 6).unwrap();
    w.push_decimal("jitter", 0.045_678, 6).unwrap();
    let array = " 1.23 1.25 1.22 1.30 1.27 1.24 1.26 1.29";
    for name in ["filtdelay", "filtoffset", "filtdisp"] {
        w.push_raw(name, array).unwrap();
    }
    let mut i = 0;
    while w.len() < 3 * 468 + 100 {
        w.push_raw(&format!("filtextra.{i}"), array).unwrap();
        i += 1;
    }
    let len = w.finish().unwrap();
    buf.truncate(len);
    buf
}

fn bench_client_peer(c: &mut Criterion) {
    let payload = peer_payload();
    let mut client = ControlClient::new(None);
    c.bench_function("control/client_peer_4_fragments", |b| {
        b.iter(|| {
            let request = client.request(Opcode::ReadVariables, 1, b"", 0.0).unwrap();
            let sequence = u16::from_be_bytes([request[2], request[3]]);
            let template = ControlRepr {
                response: true,
                opcode: Opcode::ReadVariables,
                sequence,
                association_id: 1,
                status: 0x961a,
                ..ControlRepr::default()
            };
            let mut datagrams = [[0u8; 480]; 4];
            let mut lens = [0usize; 4];
            let mut n = 0;
            for f in fragments(&payload).unwrap() {
                lens[n] = f.apply(template).emit(&mut datagrams[n]).unwrap();
                n += 1;
            }
            assert_eq!(n, 4);
            let mut done = None;
            for i in (0..4).rev() {
                if let ClientEvent::Complete(r) =
                    client.handle_datagram(black_box(&datagrams[i][..lens[i]]), 0.1).unwrap()
                {
                    done = Some(r);
                }
            }
            let r = done.unwrap();
            black_box(PeerVars::parse(r.association_id, r.status, &r.data).unwrap())
        })
    });
}

criterion_group!(benches, bench_readvar_system, bench_client_peer);
criterion_main!(benches);
