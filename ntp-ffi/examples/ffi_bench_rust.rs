//! The Rust side of the ABI overhead benchmark (scripts/test-c.sh step 8):
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

/// Rounds per figure. Each round is short (a few ms), and the figure is
/// the fastest round: on a shared machine most rounds are stretched by
/// other processes, the fastest is the one that ran alone. bench.c does
/// the same, so the two figures compare like with like.
const ROUNDS: usize = 200;

/// Fastest per-iteration time of `f` over ROUNDS rounds of `iters` calls.
fn measure(iters: u64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

fn main() {
    let now = NtpTimestamp::from_unix(1_795_219_200, 0);
    let request = Repr { mode: Mode::Client, transmit_time: now, poll: 6, ..Repr::default() };
    let mut packet = [0u8; 48];
    request.emit_into(&mut packet).unwrap();

    let mut out = [0u8; 48];
    let codec = measure(20_000, || {
        // The same result as the C calls: the header's fields decoded into
        // a value the caller can read (black_box stands for the reader; the
        // C struct is in the caller's memory), then encoded from that value.
        // Without it the optimizer fuses decode and encode into a copy
        // (each byte swap cancels the next), which no caller that looks at
        // a field gets.
        let repr = black_box(Repr::from_bytes(black_box(&packet)).unwrap());
        black_box(repr.emit_into(&mut out).unwrap());
        // The C side's output is visible to the caller; so must this be,
        // or the compiler drops the encode as dead stores.
        black_box(&mut out);
    });
    println!("decode_encode={codec:.2}");

    let mut config = EngineConfig::default();
    config.local_reference_stratum = Some(1);
    let mut server = Engine::new(config, Keyring::new(), now);
    let client: SocketAddr = "192.0.2.2:123".parse().unwrap();
    let engine = measure(2_000, || {
        server.handle_datagram(now, client, black_box(&packet));
        loop {
            // What a Rust daemon does with each output: a transmit is sent
            // from where it lies (the payload by reference), anything else
            // is looked at.
            match server.poll_output() {
                Output::Timeout(_) => break,
                Output::Transmit(t) => {
                    black_box((t.destination, t.payload()));
                }
                other => {
                    black_box(&other);
                }
            }
        }
    });
    println!("engine_datagram={engine:.2}");
}
