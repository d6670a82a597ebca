//! The seed documents' scenarios, asserting the outcome each seed states.
//! The topologies are folders of vendor configuration files in
//! `ntp-lab/topologies/` (Huawei VRP, Cisco IOS, ntp.conf), loaded by the
//! `ntp-lab` crate; the lab prints the same runs. Scripted times (cuts,
//! heals) are read from each folder's `lab.toml`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::net::IpAddr;

use ntp_algo::{SelectionStatus, SyncSource};
use ntp_lab::{self as scenarios, Scenario};
use ntp_sim::Simulation;
use ntp_wire::ReferenceId;

/// The shipped topology folder `name`, seeded with `seed`.
fn topology(name: &str, seed: u64) -> Scenario {
    scenarios::scenario(name, seed).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The address of `node`'s system peer, if it has one.
fn system_peer(sim: &Simulation, node: usize) -> Option<IpAddr> {
    let engine = &sim.node(node)?.engine;
    let id = engine.system().system_peer()?;
    Some(engine.association(id)?.config().address.ip())
}

fn stratum(sim: &Simulation, node: usize) -> u8 {
    sim.node(node).unwrap().engine.system().stratum
}

fn synchronized(sim: &Simulation, node: usize) -> bool {
    sim.node(node).unwrap().engine.system().is_synchronized()
}

fn selection_of(sim: &Simulation, node: usize, peer: &str) -> SelectionStatus {
    let engine = &sim.node(node).unwrap().engine;
    let a = engine.associations().find(|a| a.config().address.ip() == ip(peer)).unwrap();
    engine.selection_status(a.id())
}

#[test]
fn seed_001_master_client_peer_chain() {
    let mut s = topology("seed-001", 1);
    s.sim.run_until(s.duration);
    let sim = &mut s.sim;
    let (c, d, e) = (sim.find("DeviceC").unwrap(), sim.find("DeviceD").unwrap(), sim.find("DeviceE").unwrap());
    // DeviceC: its own reference at stratum 2.
    assert_eq!(sim.node(c).unwrap().engine.system().source, SyncSource::LocalReference);
    assert_eq!(stratum(sim, c), 2);
    // DeviceD: synchronized to C, stratum 3, reference id = C's address.
    assert!(synchronized(sim, d));
    assert_eq!(stratum(sim, d), 3);
    assert_eq!(system_peer(sim, d), Some(ip("10.0.1.31")));
    assert_eq!(sim.node(d).unwrap().engine.system().reference_id, ReferenceId::from_ip(ip("10.0.1.31")));
    // DeviceE: symmetric peer of D, stratum 4, reference id = D's address.
    assert!(synchronized(sim, e));
    assert_eq!(stratum(sim, e), 4);
    assert_eq!(system_peer(sim, e), Some(ip("10.0.2.1")));
    assert_eq!(sim.node(e).unwrap().engine.system().reference_id, ReferenceId::from_ip(ip("10.0.2.1")));
    // D does not take E (E is synchronized to D: a loop).
    assert_ne!(selection_of(sim, d, "10.0.2.2"), SelectionStatus::SystemPeer);
    for node in [d, e] {
        let offset = sim.true_offset(node).unwrap();
        assert!(offset.abs() < 0.002, "{} is {offset} s off", sim.node(node).unwrap().name);
    }
}

#[test]
fn seed_000_002_peers_back_each_other_up() {
    let mut s = topology("seed-000-002", 1);
    let (cut, heal) = (s.first_event("cut").unwrap(), s.first_event("healed").unwrap());
    let sim = &mut s.sim;
    let (r1, r2) = (sim.find("R1").unwrap(), sim.find("R2").unwrap());
    let mut loops = 0;
    let mut check = |sim: &mut Simulation| {
        // R2 never takes R1 while R1 depends on R2.
        if system_peer(sim, r1) == Some(ip("10.0.2.2")) && system_peer(sim, r2) == Some(ip("10.0.2.1")) {
            loops += 1;
        }
    };
    sim.run_until_with(cut - 1.0, &mut check);
    // Both upstreams alive: each router takes its stratum 1 server, stratum 2.
    assert_eq!(system_peer(sim, r1), Some(ip("10.0.1.1")));
    assert_eq!(system_peer(sim, r2), Some(ip("10.0.1.2")));
    assert_eq!((stratum(sim, r1), stratum(sim, r2)), (2, 2));
    // S1's link dies: R1 takes R2 (stratum 3); R2 keeps S2.
    sim.run_until_with(cut + 1500.0, &mut check);
    assert_eq!(system_peer(sim, r1), Some(ip("10.0.2.2")), "R1 fails over to its peer");
    assert_eq!(stratum(sim, r1), 3);
    assert!(synchronized(sim, r1));
    assert_eq!(system_peer(sim, r2), Some(ip("10.0.1.2")));
    // S1's link heals: R1 goes back to S1.
    sim.run_until_with(heal + 3000.0, &mut check);
    assert_eq!(system_peer(sim, r1), Some(ip("10.0.1.1")), "R1 returns to its lower-stratum server");
    assert_eq!(stratum(sim, r1), 2);
    assert_eq!(loops, 0, "R2 took R1 while R1 depended on R2");
    let events = sim.records().iter().filter(|r| r.node == r2);
    let r2_took_r1 = events.filter(|r| matches!(r.event, ntp_algo::Event::SystemPeerChanged { .. })).count();
    assert!(r2_took_r1 <= 1, "R2 hopped between sources {r2_took_r1} times");
}

#[test]
fn seed_003_falseticker_master_fallback_and_broadcast() {
    let mut s = topology("seed-003", 1);
    let cut = s.first_event("cut").unwrap();
    let sim = &mut s.sim;
    let [p1, p2, b1, b2] = ["P1", "P2", "B1", "B2"].map(|n| sim.find(n).unwrap());
    sim.run_until(cut - 1.0);
    // U3 is stratum 1 but 200 ms off: a falseticker at both peers, never a source.
    for node in [p1, p2] {
        assert_eq!(selection_of(sim, node, "10.0.1.3"), SelectionStatus::Falseticker);
        let peer = system_peer(sim, node).unwrap();
        assert!(peer == ip("10.0.1.1") || peer == ip("10.0.1.2"), "{peer}");
        assert_eq!(stratum(sim, node), 3);
        assert!(sim.true_offset(node).unwrap().abs() < 0.002);
    }
    assert!(
        sim.records().iter().any(|r| r.node == p1 && matches!(r.event, ntp_algo::Event::FalsetickerRejected { .. }))
    );
    // Broadcast clients follow P1.
    for node in [b1, b2] {
        assert!(synchronized(sim, node));
        assert_eq!(system_peer(sim, node), Some(ip("10.0.2.1")));
    }
    // Every upstream cut: P1 serves its own clock at stratum 3 (ntp master 3),
    // P2 and the broadcast clients follow P1.
    sim.run_until(s.duration);
    assert_eq!(sim.node(p1).unwrap().engine.system().source, SyncSource::LocalReference);
    assert_eq!(stratum(sim, p1), 3);
    assert_eq!(system_peer(sim, p2), Some(ip("10.0.2.1")));
    assert_eq!(stratum(sim, p2), 4);
    let p1_offset = sim.true_offset(p1).unwrap();
    for node in [p2, b1, b2] {
        assert!(synchronized(sim, node));
        let apart = sim.true_offset(node).unwrap() - p1_offset;
        assert!(apart.abs() < 0.002, "{} is {apart} s from P1", sim.node(node).unwrap().name);
    }
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut s = topology("seed-000-002", seed);
        s.sim.run_until(3000.0);
        (s.sim.records().to_vec(), s.sim.stats)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7).0, run(8).0);
}

#[test]
fn orphan_mode_elects_the_lowest_address_and_keeps_one_time() {
    let mut s = topology("orphan", 1);
    let sim = &mut s.sim;
    let [o1, o2, o3] = ["O1", "O2", "O3"].map(|n| sim.find(n).unwrap());
    // Before orphan mode may start (300 s) nobody serves its own clock.
    sim.run_until(200.0);
    for node in [o1, o2, o3] {
        assert_eq!(system_peer(sim, node), Some(ip("10.0.1.1")));
        assert_eq!(stratum(sim, node), 2);
    }
    sim.run_until(s.duration);
    // The upstream is gone: O1 (lowest address) is the root at stratum 10,
    // the others follow it at 11, and all three keep one time.
    assert_eq!(sim.node(o1).unwrap().engine.system().source, SyncSource::Orphan);
    assert_eq!(stratum(sim, o1), 10);
    for node in [o2, o3] {
        assert_eq!(system_peer(sim, node), Some(ip("10.0.2.1")));
        assert_eq!(stratum(sim, node), 11);
    }
    let root = sim.true_offset(o1).unwrap();
    for node in [o2, o3] {
        let apart = sim.true_offset(node).unwrap() - root;
        assert!(apart.abs() < 0.002, "{} is {apart} s from O1", sim.node(node).unwrap().name);
    }
}

#[test]
fn a_client_whose_clock_is_set_wrong_recovers() {
    // One client, synchronized, then someone sets its clock 0.5 s ahead:
    // the engine sees a spike, waits out the stepout, steps back, and is
    // within a millisecond again.
    let mut s = scenarios::accuracy(3, 100e-6, 20.0, 0.05, 6000.0).unwrap();
    let client = s.sim.find("client").unwrap();
    s.sim.schedule_clock_step(3000.0, client, 0.5);
    s.sim.run_until(2999.0);
    assert!(s.sim.true_offset(client).unwrap().abs() < 0.001);
    s.sim.run_until(s.duration);
    let steps: Vec<f64> = s
        .sim
        .records()
        .iter()
        .filter(|r| r.node == client && r.time > 3000.0)
        .filter_map(|r| match r.event {
            ntp_algo::Event::ClockStepped { offset } => Some(offset),
            _ => None,
        })
        .collect();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!((steps[0] + 0.5).abs() < 0.01, "{steps:?}");
    assert!(s.sim.true_offset(client).unwrap().abs() < 0.001);
}

/// A client of four stratum-1 servers, two of them `apart` seconds ahead of
/// the other two (perfect clocks, LAN links).
fn two_against_two(apart: f64, split: usize) -> (Simulation, usize) {
    use ntp_algo::{AssociationConfig, EngineConfig};
    use ntp_sim::{ClockModel, LinkModel};
    use ntp_wire::auth::Keyring;
    let mut sim = Simulation::new(5);
    let client = sim.add_node("C", scenarios::address("10.0.2.1"), EngineConfig::default(), Keyring::new(), {
        ClockModel::PERFECT
    });
    for i in 0..4u8 {
        let offset = if usize::from(i) < split { 0.0 } else { apart };
        let clock = ClockModel { offset, frequency_ppm: 0.0, wander_ppm: 0.0 };
        let ip = format!("10.0.1.{}", i + 1);
        let config = EngineConfig::default().with_local_reference(1);
        let server = sim.add_node(&ip, scenarios::address(&ip), config, Keyring::new(), clock);
        sim.link(server, client, LinkModel::LAN);
        sim.add_association(client, AssociationConfig::client(scenarios::address(&ip)).with_iburst(true)).unwrap();
    }
    (sim, client)
}

#[test]
fn two_against_two_has_no_majority_and_no_system_peer() {
    // RFC 5905 §11.2.1: the intersection needs the correctness intervals of
    // a majority (more than half) to overlap; two pairs 100 ms apart give
    // two intervals held by exactly half each, so no source is chosen and
    // the client stays unsynchronized rather than pick a side.
    // While the filters are filling, each source's root distance (its
    // interval's half-width) is larger than the 100 ms between the pairs, so
    // all four intervals overlap and a source may rightly be chosen. Once
    // the filters are full (8 samples: iburst, then two 64 s polls; 300 s
    // is ample), the pairs' intervals are disjoint and nothing may be.
    let (mut sim, client) = two_against_two(0.100, 2);
    let (mut observed, mut chosen) = (0, 0);
    sim.run_until_with(2000.0, |sim| {
        if sim.now() > 300.0 {
            observed += 1;
            if system_peer(sim, client).is_some() || synchronized(sim, client) {
                chosen += 1;
            }
        }
    });
    assert!(observed > 50);
    assert_eq!(chosen, 0, "a system peer was chosen without a majority");
    let lost = sim.records().iter().any(|r| r.node == client && matches!(r.event, ntp_algo::Event::SyncLost));
    assert!(lost, "the client gave up the source it had while the intervals overlapped");
    assert_eq!(stratum(&sim, client), 16);
    let engine = &sim.node(client).unwrap().engine;
    assert!(engine.associations().all(|a| a.reach() != 0 && a.counters().samples > 0), "every server answers");
    assert!(engine.associations().all(|a| a.selection() != SelectionStatus::SystemPeer));

    // Control: three against one is a majority; the client follows the three.
    let (mut sim, client) = two_against_two(0.100, 3);
    sim.run_until(2000.0);
    assert!(synchronized(&sim, client));
    let peer = system_peer(&sim, client).unwrap();
    assert_ne!(peer, ip("10.0.1.4"), "the lone server is the falseticker");
    assert_eq!(selection_of(&sim, client, "10.0.1.4"), SelectionStatus::Falseticker);
}

/// Checks the graph of system peers at this instant: no cycle, and no
/// node's stratum above its true distance from a reference (the stratum of
/// the node at the end of its chain that serves its own clock, plus the
/// hops to it). Returns a description of the first violation.
fn timing_loop_or_inflated_stratum(sim: &Simulation) -> Option<String> {
    let nodes = sim.nodes();
    let next = |i: usize| -> Option<usize> {
        let peer = system_peer(sim, i)?;
        nodes.iter().position(|n| n.address.ip() == peer)
    };
    for start in 0..nodes.len() {
        if !synchronized(sim, start) || next(start).is_none() {
            continue;
        }
        let mut seen = vec![start];
        let mut at = start;
        while let Some(up) = next(at) {
            if seen.contains(&up) {
                let names: Vec<_> = seen.iter().map(|&i| nodes[i].name.as_str()).collect();
                return Some(format!("cycle {names:?} -> {} at {:.0} s", nodes[up].name, sim.now()));
            }
            seen.push(up);
            at = up;
        }
        let root = &nodes[at].engine.system();
        if !matches!(root.source, SyncSource::LocalReference | SyncSource::Orphan) {
            continue; // the chain ends at a node that has just lost its source
        }
        let hops = (seen.len() - 1) as u8;
        let own = stratum(sim, start);
        if own > root.stratum + hops {
            return Some(format!(
                "{} is stratum {own}, {hops} hops from {} at stratum {}, at {:.0} s",
                nodes[start].name,
                nodes[at].name,
                root.stratum,
                sim.now()
            ));
        }
    }
    None
}

#[test]
fn no_scenario_ever_forms_a_timing_loop_or_inflates_its_stratum() {
    for mut scenario in scenarios::all(1).unwrap() {
        let mut violations = Vec::new();
        let mut next_sample = 0.0;
        scenario.sim.run_until_with(scenario.duration, |sim| {
            // Every second of the run (the simulator calls back after every event).
            while sim.now() >= next_sample {
                next_sample += 1.0;
                if let Some(v) = timing_loop_or_inflated_stratum(sim) {
                    violations.push(v);
                }
            }
        });
        assert!(
            violations.is_empty(),
            "{}: {} violations, first {:?}",
            scenario.name,
            violations.len(),
            violations.first()
        );
    }
}
