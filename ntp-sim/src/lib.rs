//! # ntp-sim
//!
//! A deterministic network simulator: many nodes running the real
//! [`ntp_algo::Engine`], virtual clocks, a virtual network, all in one
//! process and virtual time. For users who want to test a topology (their
//! own configurations, a link that dies, a clock that drifts) before
//! deploying it, and for this project's own seed scenarios and lab.
//!
//! It is a crate of its own rather than a module or feature of ntp-algo,
//! as str0m keeps its network emulator in a crate beside the protocol
//! crate: the engine stays free of anything that is only for testing
//! (random numbers, clock models, an event queue), its API is not widened
//! by types a daemon never needs, and the simulator can grow (topology
//! files, plots) without touching the library that runs in production. It
//! uses only ntp-algo's public API, which keeps that API honest: whatever
//! a simulation needs, a real caller can do too.
//!
//! * Time is a single `f64` of true seconds since the start. Nothing sleeps:
//!   the loop jumps from one event (a datagram arriving, a deadline, a
//!   scheduled change) to the next.
//! * Each node has a [`VirtualClock`]: an offset from true time, an intrinsic
//!   frequency error (ppm), optional random-walk wander, and the frequency
//!   correction its engine asks for. Steps move the offset.
//! * Clocks can be stepped at given times ([`Simulation::schedule_clock_step`]).
//! * Links join pairs of nodes with a base one-way delay, exponentially
//!   distributed extra delay (jitter), an asymmetry added in one direction,
//!   and a loss probability. They can be cut and healed at given times.
//! * A seed fixes every random draw: the same seed and the same calls give
//!   the same run, bit for bit.

#![forbid(unsafe_code)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use ntp_wire::auth::Keyring;
use ntp_wire::{NtpDuration, NtpTimestamp};

use ntp_algo::{AssociationConfig, AssociationId, ClockAction, Engine, EngineConfig, Event, Output, Transmit};

/// A small, fast, seedable generator (SplitMix64). Not for cryptography.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }
}

/// How a node's clock misbehaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockModel {
    /// Initial offset from true time, seconds.
    pub offset: f64,
    /// Intrinsic frequency error, ppm (positive: runs fast).
    pub frequency_ppm: f64,
    /// Random-walk frequency wander, ppm per square root of a second.
    pub wander_ppm: f64,
}

impl ClockModel {
    /// A perfect clock.
    pub const PERFECT: ClockModel = ClockModel { offset: 0.0, frequency_ppm: 0.0, wander_ppm: 0.0 };
}

/// A node's clock in virtual time.
#[derive(Clone, Debug)]
pub struct VirtualClock {
    model: ClockModel,
    offset: f64,
    intrinsic_ppm: f64,
    correction_ppm: f64,
    last: f64,
}

impl VirtualClock {
    fn new(model: ClockModel) -> Self {
        VirtualClock { model, offset: model.offset, intrinsic_ppm: model.frequency_ppm, correction_ppm: 0.0, last: 0.0 }
    }

    fn advance(&mut self, t: f64, rng: &mut Rng) {
        let dt = t - self.last;
        if dt <= 0.0 {
            return;
        }
        self.offset += dt * (self.intrinsic_ppm + self.correction_ppm) * 1e-6;
        if self.model.wander_ppm > 0.0 {
            self.intrinsic_ppm += self.model.wander_ppm * dt.sqrt() * rng.gaussian();
        }
        self.last = t;
    }

    /// The clock's error against true time, seconds.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// Its total rate error now, ppm (intrinsic plus correction).
    pub fn rate_ppm(&self) -> f64 {
        self.intrinsic_ppm + self.correction_ppm
    }

    /// The correction the engine set, ppm.
    pub fn correction_ppm(&self) -> f64 {
        self.correction_ppm
    }
}

/// A link's behaviour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkModel {
    /// Base one-way delay, seconds.
    pub delay: f64,
    /// Mean of the exponentially distributed extra delay, seconds.
    pub jitter: f64,
    /// Extra one-way delay from the first node to the second, seconds.
    pub asymmetry: f64,
    /// Probability that a datagram is lost, 0..1.
    pub loss: f64,
}

impl LinkModel {
    /// A LAN: 100 µs each way, 100 µs jitter, no loss.
    pub const LAN: LinkModel = LinkModel { delay: 100e-6, jitter: 100e-6, asymmetry: 0.0, loss: 0.0 };
}

#[derive(Clone, Debug)]
struct Link {
    a: usize,
    b: usize,
    model: LinkModel,
    up: bool,
}

/// One simulated node.
#[derive(Debug)]
pub struct SimNode {
    /// Its name, for timelines.
    pub name: String,
    /// Its address.
    pub address: SocketAddr,
    /// The real engine.
    pub engine: Engine,
    /// Its clock.
    pub clock: VirtualClock,
    wake: f64,
    base: NtpTimestamp,
}

impl SimNode {
    /// The clock's reading at true time `t` (its offset must be current).
    fn reading(&self, t: f64) -> NtpTimestamp {
        self.base + NtpDuration::from_seconds_f64(t + self.clock.offset)
    }
}

/// Something that happened in the simulation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Record {
    /// True time, seconds.
    pub time: f64,
    /// Node index.
    pub node: usize,
    /// The engine's event.
    pub event: Event,
}

#[derive(Debug)]
struct Delivery {
    at: f64,
    seq: u64,
    to: usize,
    from: SocketAddr,
    transmit: Transmit,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl Eq for Delivery {}
impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delivery {
    // Earliest first in a max-heap; ties in order of sending.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.total_cmp(&self.at).then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Something scheduled to happen at a given true time.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// A link goes down or comes back.
    Link { link: usize, up: bool },
    /// A node's clock is set off by this many seconds (an operator, a bad
    /// RTC at boot, a virtual machine resumed): the engine must notice.
    ClockStep { node: usize, offset: f64 },
}

#[derive(Clone, Copy, Debug)]
struct LinkChange {
    at: f64,
    change: Change,
}

/// The simulation.
#[derive(Debug)]
pub struct Simulation {
    now: f64,
    nodes: Vec<SimNode>,
    links: Vec<Link>,
    changes: Vec<LinkChange>,
    queue: BinaryHeap<Delivery>,
    seq: u64,
    rng: Rng,
    records: Vec<Record>,
    base: NtpTimestamp,
    /// Datagrams sent, delivered and lost.
    pub stats: SimStats,
}

/// Traffic counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Datagrams the engines sent.
    pub sent: u64,
    /// Datagrams delivered.
    pub delivered: u64,
    /// Lost on a lossy link.
    pub lost: u64,
    /// Sent to an address with no up link from the sender.
    pub unroutable: u64,
}

/// 2026-11-21T00:00:00Z, where simulations start.
pub const SIM_EPOCH_UNIX: i64 = 1_795_219_200;

impl Simulation {
    /// An empty simulation with a seed.
    pub fn new(seed: u64) -> Self {
        Simulation {
            now: 0.0,
            nodes: Vec::new(),
            links: Vec::new(),
            changes: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            rng: Rng::new(seed),
            records: Vec::new(),
            base: NtpTimestamp::from_unix(SIM_EPOCH_UNIX, 0),
            stats: SimStats::default(),
        }
    }

    /// Adds a node; returns its index.
    pub fn add_node(
        &mut self,
        name: &str,
        address: SocketAddr,
        mut config: EngineConfig,
        keys: Keyring,
        clock: ClockModel,
    ) -> usize {
        if config.local_addresses.is_empty() {
            config.local_addresses.push(address.ip());
        }
        let mut clock = VirtualClock::new(clock);
        clock.last = self.now;
        let reading = self.base + NtpDuration::from_seconds_f64(self.now + clock.offset);
        let node = SimNode {
            name: name.to_string(),
            address,
            engine: Engine::new(config, keys, reading),
            clock,
            wake: self.now,
            base: self.base,
        };
        self.nodes.push(node);
        let index = self.nodes.len() - 1;
        self.drain(index);
        index
    }

    /// Adds an association to node `node` now.
    pub fn add_association(&mut self, node: usize, config: AssociationConfig) -> Result<AssociationId, String> {
        let now = self.now;
        let rng = &mut self.rng;
        let n = self.nodes.get_mut(node).ok_or("no such node")?;
        n.clock.advance(now, rng);
        let reading = n.reading(now);
        let id = n.engine.add_association(config, reading).map_err(|e| e.to_string())?;
        self.drain(node);
        Ok(id)
    }

    /// Joins two nodes; returns the link's index.
    pub fn link(&mut self, a: usize, b: usize, model: LinkModel) -> usize {
        self.links.push(Link { a, b, model, up: true });
        self.links.len() - 1
    }

    /// Cuts (`up == false`) or heals a link at true time `at`.
    pub fn schedule_link(&mut self, at: f64, link: usize, up: bool) {
        self.schedule(at, Change::Link { link, up });
    }

    /// Steps node `node`'s clock by `offset` seconds at true time `at`, as
    /// if someone had set it.
    pub fn schedule_clock_step(&mut self, at: f64, node: usize, offset: f64) {
        self.schedule(at, Change::ClockStep { node, offset });
    }

    fn schedule(&mut self, at: f64, change: Change) {
        self.changes.push(LinkChange { at, change });
        // Stable: changes at the same time happen in the order scheduled.
        self.changes.sort_by(|x, y| x.at.total_cmp(&y.at));
    }

    /// True time now, seconds.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// A node.
    pub fn node(&self, index: usize) -> Option<&SimNode> {
        self.nodes.get(index)
    }

    /// All nodes.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// The index of the node with this name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Everything the engines reported, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// A node's clock reading now.
    pub fn reading(&self, node: usize) -> Option<NtpTimestamp> {
        self.nodes.get(node).map(|n| n.reading(self.now))
    }

    /// A node's clock error against true time now, seconds.
    pub fn true_offset(&mut self, node: usize) -> Option<f64> {
        let now = self.now;
        let rng = &mut self.rng;
        let n = self.nodes.get_mut(node)?;
        n.clock.advance(now, rng);
        Some(n.clock.offset())
    }

    /// Runs until true time `until`, calling `observe` after every step.
    pub fn run_until_with(&mut self, until: f64, mut observe: impl FnMut(&mut Simulation)) {
        loop {
            let next_delivery = self.queue.peek().map_or(f64::INFINITY, |d| d.at);
            let next_change = self.changes.first().map_or(f64::INFINITY, |c| c.at);
            let (wake_node, next_wake) = self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (i, n.wake))
                .fold((usize::MAX, f64::INFINITY), |best, cur| if cur.1 < best.1 { cur } else { best });
            let next = next_delivery.min(next_change).min(next_wake);
            if next > until {
                self.now = until;
                return;
            }
            self.now = next.max(self.now);
            if next_change <= next_delivery && next_change <= next_wake {
                let change = self.changes.remove(0);
                match change.change {
                    Change::Link { link, up } => {
                        if let Some(link) = self.links.get_mut(link) {
                            link.up = up;
                        }
                    }
                    Change::ClockStep { node, offset } => {
                        let now = self.now;
                        if let Some(n) = self.nodes.get_mut(node) {
                            n.clock.advance(now, &mut self.rng);
                            n.clock.offset += offset;
                        }
                    }
                }
            } else if next_delivery <= next_wake {
                if let Some(d) = self.queue.pop() {
                    self.deliver(d);
                }
            } else if wake_node != usize::MAX {
                self.wake(wake_node);
            }
            observe(self);
        }
    }

    /// Runs until true time `until`.
    pub fn run_until(&mut self, until: f64) {
        self.run_until_with(until, |_| {});
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        let rng = &mut self.rng;
        let Some(node) = self.nodes.get_mut(d.to) else { return };
        node.clock.advance(now, rng);
        let reading = node.reading(now);
        node.engine.handle_datagram(reading, d.from, d.transmit.payload());
        self.stats.delivered += 1;
        self.drain(d.to);
    }

    fn wake(&mut self, index: usize) {
        let now = self.now;
        let rng = &mut self.rng;
        let Some(node) = self.nodes.get_mut(index) else { return };
        node.clock.advance(now, rng);
        let reading = node.reading(now);
        node.engine.handle_timeout(reading);
        self.drain(index);
    }

    /// Takes every output of node `index` and acts on it.
    fn drain(&mut self, index: usize) {
        loop {
            let now = self.now;
            let Some(node) = self.nodes.get_mut(index) else { return };
            match node.engine.poll_output() {
                Output::Transmit(t) => self.send(index, t),
                Output::Clock(ClockAction::Step { offset }) => node.clock.offset += offset,
                Output::Clock(ClockAction::SetFrequency { ppm }) => {
                    node.clock.advance(now, &mut self.rng);
                    node.clock.correction_ppm = ppm;
                }
                Output::Event(event) => self.records.push(Record { time: now, node: index, event }),
                // Outputs a later engine may add have no effect on the simulation.
                Output::Clock(_) => {}
                Output::Timeout(at) => {
                    // Solve reading(t') = at for the true time t', at the clock's current rate.
                    let ahead = (at - node.reading(now)).to_seconds_f64();
                    let rate = 1.0 + node.clock.rate_ppm() * 1e-6;
                    node.wake = now + (ahead / rate).max(0.0) + 1e-9;
                    return;
                }
                _ => {}
            }
        }
    }

    fn send(&mut self, from: usize, transmit: Transmit) {
        self.stats.sent += 1;
        let Some(sender) = self.nodes.get(from) else { return };
        let source = sender.address;
        let destination = transmit.destination;
        let broadcast = is_broadcast(destination);
        let mut targets = Vec::new();
        for link in self.links.iter().filter(|l| l.up) {
            let (other, forward) = if link.a == from {
                (link.b, true)
            } else if link.b == from {
                (link.a, false)
            } else {
                continue;
            };
            let Some(node) = self.nodes.get(other) else { continue };
            let matches = if broadcast { true } else { node.address == destination };
            if matches {
                targets.push((other, link.model, forward));
            }
        }
        if targets.is_empty() {
            self.stats.unroutable += 1;
        }
        for (to, model, forward) in targets {
            if model.loss > 0.0 && self.rng.uniform() < model.loss {
                self.stats.lost += 1;
                continue;
            }
            let extra = if model.jitter > 0.0 { self.rng.exponential(model.jitter) } else { 0.0 };
            let delay = model.delay + extra + if forward { model.asymmetry } else { 0.0 };
            self.seq += 1;
            self.queue.push(Delivery { at: self.now + delay, seq: self.seq, to, from: source, transmit });
        }
    }
}

/// Broadcast destinations: an IPv4 address ending in .255.
fn is_broadcast(addr: SocketAddr) -> bool {
    match addr {
        SocketAddr::V4(v4) => matches!(v4.ip().octets(), [_, _, _, 255]),
        SocketAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn addr(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 123)
    }

    /// A server and a client 50 ms off, joined by a LAN link.
    fn pair(seed: u64) -> (Simulation, usize, usize) {
        let mut sim = Simulation::new(seed);
        let server_config = EngineConfig::default().with_local_reference(1);
        let server = sim.add_node("S", addr("10.0.0.1"), server_config, Keyring::new(), ClockModel::PERFECT);
        let clock = ClockModel { offset: 0.05, frequency_ppm: 20.0, wander_ppm: 0.0 };
        let client = sim.add_node("C", addr("10.0.0.2"), EngineConfig::default(), Keyring::new(), clock);
        let link = sim.link(server, client, LinkModel::LAN);
        sim.add_association(client, AssociationConfig::client(addr("10.0.0.1")).with_iburst(true)).unwrap();
        sim.schedule_link(1000.0, link, false);
        (sim, server, client)
    }

    #[test]
    fn test_a_client_converges_and_a_cut_link_carries_nothing() {
        let (mut sim, _, client) = pair(1);
        sim.run_until(999.0);
        assert!(sim.node(client).unwrap().engine.system().is_synchronized());
        assert!(sim.true_offset(client).unwrap().abs() < 0.002, "the engine steers the virtual clock");
        let delivered = sim.stats.delivered;
        sim.run_until(3000.0);
        assert_eq!(sim.stats.delivered, delivered, "nothing crosses a cut link");
        assert!(sim.stats.unroutable > 0);
    }

    #[test]
    fn test_same_seed_same_run_other_seed_other_run() {
        let run = |seed| {
            let (mut sim, _, client) = pair(seed);
            sim.run_until(500.0);
            (sim.records().to_vec(), sim.true_offset(client).unwrap().to_bits())
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3).1, run(4).1);
    }
}
