//! The Rust side of the ABI overhead benchmark (scripts/test-c.sh step 7):
//! the same work bench/ffi/bench.c does through the C ABI, done with the
//! Rust API directly. Prints `name=nanoseconds-per-iteration` lines that the
//! C program reads to print the RATIO lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
// EngineConfig is becoming #[non_exhaustive]: no struct literals outside ntp-algo.
#![allow(clippy::field_reassign_with_default)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use ntp_algo::{Engine, EngineConfig, Output};
use ntp_wire::auth::Keyring;
use ntp_wire::{Mode, NtpTimestamp, Repr};

const ROUNDS: usize = 7;

/// Median over ROUNDS of the per-iteration time of `f` run `iters` times.
fn measure(iters: u64, mut f: impl FnMut()) -> f64 {
    let mut samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        samples.push(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[ROUNDS / 2]
}

fn main() {
    let now = NtpTimestamp::from_unix(1_795_219_200, 0);
    let request = Repr { mode: Mode::Client, transmit_time: now, poll: 6, ..Repr::default() };
    let mut packet = [0u8; 48];
    request.emit_into(&mut packet).unwrap();

    let mut out = [0u8; 48];
    let codec = measure(2_000_000, || {
        let repr = Repr::from_bytes(black_box(&packet)).unwrap();
        black_box(repr.emit_into(&mut out).unwrap());
    });
    println!("decode_encode={codec:.2}");

    let mut config = EngineConfig::default();
    config.local_reference_stratum = Some(1);
    let mut server = Engine::new(config, Keyring::new(), now);
    let client: SocketAddr = "192.0.2.2:123".parse().unwrap();
    let engine = measure(200_000, || {
        server.handle_datagram(now, client, black_box(&packet));
        loop {
            match server.poll_output() {
                Output::Timeout(_) => break,
                other => {
                    black_box(other);
                }
            }
        }
    });
    println!("engine_datagram={engine:.2}");
}
