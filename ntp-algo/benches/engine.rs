//! Criterion benchmarks of the engine's hot paths.
//!
//! `cargo bench -p ntp-algo --bench engine`
//!
//! * `select/N`: select + cluster + combine over N candidates (3, 10, 100,
//!   1000), the selector reused as the engine does (no allocation).
//! * `client_poll_cycle`: one whole client exchange through the engine:
//!   the poll timer fires, the request is built and drained, the server's
//!   reply is checked, dispatched, run through the packet tests, the clock
//!   filter, the selection and the discipline, and the outputs are drained.
//! * `handle_datagram/N`: one server reply arriving for one association
//!   of an engine that has N (1, 64, 1024, 4096): lookup by address,
//!   packet tests, filter, selection, and draining the outputs. Only the
//!   `handle_datagram` call and the drain are timed; the poll that makes
//!   the request is not. The other N-1 associations are configured but
//!   silent, as in a server with many peers of which one answers now.
//! * `responder/{none,md5}`: the stateless server answering one client
//!   request, unauthenticated and with an MD5 MAC.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ntp_algo::AccessClass;
use ntp_algo::AssociationConfig;
use ntp_algo::{Candidate, SelectConfig, Selector};
use ntp_algo::{Engine, EngineConfig, Output};
use ntp_algo::{Request, Responder, ResponderConfig};
use ntp_wire::auth::{self, Key, KeyType, Keyring};
use ntp_wire::{LeapIndicator, Mode, NtpDuration, NtpShort, NtpTimestamp, ReferenceId, Repr, Stratum};

/// SplitMix64: a small seedable generator for the benchmark's inputs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gaussian(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()
    }
}

fn candidates(n: u32, rng: &mut Rng) -> Vec<Candidate> {
    (0..n)
        .map(|id| Candidate {
            id,
            offset: 0.001 * rng.gaussian(),
            root_distance: 0.01 + 0.02 * rng.uniform(),
            jitter: 0.0005 + 0.001 * rng.uniform(),
            stratum: 1 + (rng.next_u64() % 3) as u8,
            prefer: false,
        })
        .collect()
}

fn bench_select(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    let mut rng = Rng::new(7);
    for n in [3u32, 10, 100, 1000] {
        let cands = candidates(n, &mut rng);
        let mut selector = Selector::new();
        let config = SelectConfig::default();
        group.bench_with_input(BenchmarkId::from_parameter(n), &cands, |b, cands| {
            b.iter(|| {
                let out = selector.select(black_box(cands), Some(0), &config).unwrap();
                black_box((out.system_peer, out.offset));
            })
        });
    }
    group.finish();
}

fn server_reply(request: &[u8]) -> Vec<u8> {
    let req = Repr::from_bytes(request).unwrap();
    let t = req.transmit_time + NtpDuration::from_seconds_f64(0.0001);
    let reply = Repr {
        leap: LeapIndicator::NoWarning,
        mode: Mode::Server,
        stratum: Stratum(1),
        poll: req.poll,
        precision: -20,
        root_dispersion: NtpShort::from_seconds_f64(0.0001),
        reference_id: ReferenceId(*b"GPS\0"),
        reference_time: t,
        origin_time: req.transmit_time,
        receive_time: t,
        transmit_time: t,
        ..Repr::default()
    };
    let mut buf = [0u8; 48];
    reply.emit_into(&mut buf).unwrap();
    buf.to_vec()
}

fn bench_client_poll_cycle(c: &mut Criterion) {
    let server: SocketAddr = "10.0.0.1:123".parse().unwrap();
    let t0 = NtpTimestamp::from_unix(1_795_219_200, 0);
    let mut engine = Engine::new(EngineConfig::default(), Keyring::new(), t0);
    engine.add_association(AssociationConfig::client(server).with_poll(0, 0), t0).unwrap();
    let mut now = t0;
    let drain = |engine: &mut Engine| -> Option<Vec<u8>> {
        let mut request = None;
        loop {
            match engine.poll_output() {
                Output::Transmit(t) => request = Some(t.payload().to_vec()),
                Output::Timeout(_) => return request,
                _ => {}
            }
        }
    };
    c.bench_function("client_poll_cycle", |b| {
        b.iter(|| {
            now += NtpDuration::ONE_SECOND;
            engine.handle_timeout(now);
            if let Some(request) = drain(&mut engine) {
                let reply = server_reply(&request);
                engine.handle_datagram(now + NtpDuration::from_seconds_f64(0.0002), server, &reply);
                drain(&mut engine);
            }
        })
    });
}

fn bench_handle_datagram(c: &mut Criterion) {
    let t0 = NtpTimestamp::from_unix(1_795_219_200, 0);
    let target: SocketAddr = "10.0.0.1:123".parse().unwrap();
    let mut group = c.benchmark_group("handle_datagram");
    for n in [1u32, 64, 1024, 4096] {
        let mut engine = Engine::new(EngineConfig::default(), Keyring::new(), t0);
        engine.add_association(AssociationConfig::client(target).with_poll(0, 0), t0).unwrap();
        for i in 1..n {
            let address = SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 123));
            // The longest poll: the silent ones do not fire again while we measure.
            engine.add_association(AssociationConfig::client(address).with_poll(17, 17), t0).unwrap();
        }
        let mut now = t0;
        engine.handle_timeout(now);
        while !matches!(engine.poll_output(), Output::Timeout(_)) {}
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iterations| {
                let mut spent = std::time::Duration::ZERO;
                for _ in 0..iterations {
                    // Untimed: the target's poll, and its request.
                    now += NtpDuration::ONE_SECOND;
                    engine.handle_timeout(now);
                    let mut request = None;
                    loop {
                        match engine.poll_output() {
                            Output::Transmit(t) if t.destination == target => request = Some(t),
                            Output::Timeout(_) => break,
                            _ => {}
                        }
                    }
                    let reply = server_reply(request.unwrap().payload());
                    let arrival = now + NtpDuration::from_seconds_f64(0.0002);
                    let start = std::time::Instant::now();
                    engine.handle_datagram(arrival, target, black_box(&reply));
                    while !matches!(engine.poll_output(), Output::Timeout(_)) {}
                    spent += start.elapsed();
                }
                spent
            })
        });
    }
    group.finish();
}

fn bench_responder(c: &mut Criterion) {
    let mut ring = Keyring::new();
    ring.insert(Key::new(1, KeyType::Md5, b"benchmark-key").unwrap(), true);
    let system = Repr {
        stratum: Stratum(2),
        precision: -20,
        reference_id: ReferenceId([10, 0, 0, 1]),
        reference_time: NtpTimestamp::from_unix(1_795_219_100, 0),
        ..Repr::default()
    };
    let request = Repr {
        mode: Mode::Client,
        poll: 6,
        transmit_time: NtpTimestamp::from_unix(1_795_219_200, 0),
        ..Repr::default()
    };
    let mut plain = [0u8; 48];
    request.emit_into(&mut plain).unwrap();
    let mut signed = [0u8; 68];
    request.emit_into(&mut signed).unwrap();
    auth::sign(&mut signed, 48, ring.get(1).unwrap()).unwrap();
    let received = NtpTimestamp::from_unix(1_795_219_200, 500);
    let source = "192.0.2.7".parse().unwrap();
    let mut group = c.benchmark_group("responder");
    for (name, bytes) in [("none", &plain[..]), ("md5", &signed[..])] {
        let mut responder = Responder::new(ResponderConfig::default());
        let mut out = [0u8; 128];
        group.bench_function(name, |b| {
            b.iter(|| {
                let request =
                    Request { bytes: black_box(bytes), source, access: AccessClass::Serve, received, now: 0.0 };
                black_box(responder.respond(&request, &system, &ring, &mut out))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_select, bench_client_poll_cycle, bench_handle_datagram, bench_responder);
criterion_main!(benches);
