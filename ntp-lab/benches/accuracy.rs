//! Accuracy of the whole engine in the simulator (issue 5's yardstick).
//!
//! `cargo bench -p ntp-lab --bench accuracy`
//!
//! One client, one perfect stratum-1 server; the link's base delay and mean
//! exponential jitter are both J; the client's clock starts 0.1 s off with
//! a 100 ppm frequency error; default polling (64..1024 s) with iburst.
//! For each J and each of several seeds it runs one day of virtual time and
//! reports, from one sample of the client's true offset every 16 s after
//! the first hour:
//!
//! * mean |offset| and RMS offset (medians over the seeds),
//! * the largest |offset| seen (over all seeds),
//! * time to synchronize: the first "synchronized" event, and the first
//!   moment the true offset stays within 1 ms for the rest of the run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use ntp_algo::Event;

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
const DAY: f64 = 86_400.0;
const SETTLE: f64 = 3_600.0;

struct Run {
    mean_abs: f64,
    rms: f64,
    max_abs: f64,
    sync_at: f64,
    within_1ms_from: f64,
}

fn run(jitter: f64, seed: u64) -> Run {
    let mut s = ntp_lab::accuracy(seed, jitter, 100.0, 0.1, DAY).unwrap();
    let client = s.sim.find("client").unwrap();
    let mut samples = Vec::new();
    let mut last_outside = 0.0;
    let mut next = 0.0;
    s.sim.run_until_with(DAY, |sim| {
        while sim.now() >= next {
            let offset = sim.true_offset(client).unwrap();
            if offset.abs() > 1e-3 {
                last_outside = next;
            }
            if next >= SETTLE {
                samples.push(offset);
            }
            next += 16.0;
        }
    });
    let n = samples.len() as f64;
    let sync_at = s
        .sim
        .records()
        .iter()
        .find(|r| r.node == client && matches!(r.event, Event::SyncGained { .. }))
        .map_or(f64::INFINITY, |r| r.time);
    Run {
        mean_abs: samples.iter().map(|x| x.abs()).sum::<f64>() / n,
        rms: (samples.iter().map(|x| x * x).sum::<f64>() / n).sqrt(),
        max_abs: samples.iter().fold(0.0, |m, x| m.max(x.abs())),
        sync_at,
        within_1ms_from: last_outside + 16.0,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs benches with `--test`; one short case keeps that quick.
    let quick = std::env::args().any(|a| a == "--test");
    let jitters: &[f64] = if quick { &[100e-6] } else { &[10e-6, 100e-6, 1e-3, 10e-3] };
    println!("| jitter | mean abs offset | RMS offset | max abs offset | synchronized after | within 1 ms from |");
    println!("|---|---|---|---|---|---|");
    for &jitter in jitters {
        let seeds: &[u64] = if quick { &SEEDS[..1] } else { &SEEDS };
        let runs: Vec<Run> = seeds.iter().map(|&seed| run(jitter, seed)).collect();
        let mean = median(runs.iter().map(|r| r.mean_abs).collect());
        let rms = median(runs.iter().map(|r| r.rms).collect());
        let max = runs.iter().fold(0.0f64, |m, r| m.max(r.max_abs));
        let sync = median(runs.iter().map(|r| r.sync_at).collect());
        let within = median(runs.iter().map(|r| r.within_1ms_from).collect());
        println!(
            "| {:.0} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.0} s | {:.0} s |",
            jitter * 1e6,
            mean * 1e6,
            rms * 1e6,
            max * 1e6,
            sync,
            within
        );
    }
}
