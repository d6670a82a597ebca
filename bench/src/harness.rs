//! A small, dependency-free timing harness that reports medians.
//!
//! Each measurement first calibrates a batch size so one batch takes about
//! `TARGET_BATCH`, then times `SAMPLES` batches and reports the median time
//! per call in nanoseconds. Medians resist the noise of a shared machine;
//! comparing two medians taken in the same run, back to back, cancels most
//! of the rest.

use std::hint::black_box;
use std::time::{Duration, Instant};

const TARGET_BATCH: Duration = Duration::from_millis(5);
const SAMPLES: usize = 41;

/// Median nanoseconds per call of `f`.
pub fn measure<R, F: FnMut() -> R>(mut f: F) -> f64 {
    let mut batch: u64 = 1;
    loop {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        if start.elapsed() >= TARGET_BATCH / 4 || batch >= 1 << 30 {
            break;
        }
        batch *= 2;
    }
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                black_box(f());
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

/// Prints `RATIO <metric> ours=<ns> <peer>=<ns> x<peer_ns/ours_ns>`.
pub fn print_ratio(metric: &str, ours_ns: f64, peer: &str, peer_ns: f64) {
    println!("RATIO {metric} ours={ours_ns:.2} {peer}={peer_ns:.2} x{:.2}", peer_ns / ours_ns);
}
