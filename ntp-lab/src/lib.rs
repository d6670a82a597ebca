//! # ntp-lab
//!
//! The project's main job: the seed documents' topologies, built in the
//! simulator ([`ntp_sim`]) and run by the real engine. The binary
//! (`cargo run --release -p ntp-lab`) runs them and prints what happened;
//! the tests in `tests/tests/seed_scenarios.rs` assert what the seeds say
//! must happen. Not published: the scenarios are this project's fixtures,
//! not library API.
//!
//! Each function returns a [`Scenario`]: a ready [`Simulation`], how long to
//! run it, and the moments where its story changes (a link cut, a heal),
//! or the configuration error that stopped it from being built.
//!
//! Addresses follow one plan: 10.0.1.x upstream servers, 10.0.2.x the nodes
//! under test, 10.0.3.x broadcast clients; port 123 everywhere.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use ntp_algo::{AccessClass, AssociationConfig, EngineConfig, Prefix};
use ntp_sim::{ClockModel, LinkModel, Simulation};
use ntp_wire::auth::{Key, KeyType, Keyring};

/// Why a scenario could not be built: an association the engine refused.
pub type ScenarioError = String;

/// The MD5 key the authenticated scenarios share (`ntp authentication-key 1 md5 ...`).
pub const SCENARIO_KEY_ID: u32 = 1;
const SCENARIO_SECRET: &[u8] = b"NtpBestPractice";

/// A topology ready to run.
#[derive(Debug)]
pub struct Scenario {
    /// Short name (`seed-001`, ...).
    pub name: &'static str,
    /// One line on what it shows.
    pub title: &'static str,
    /// The simulation, at time 0.
    pub sim: Simulation,
    /// How long to run, seconds of virtual time.
    pub duration: f64,
    /// Scheduled changes, for timelines: (time, what).
    pub script: Vec<(f64, String)>,
}

/// A socket address on port 123.
pub fn address(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)), 123)
}

/// The shared key, trusted.
pub fn scenario_keys() -> Keyring {
    let mut ring = Keyring::new();
    if let Ok(key) = Key::new(SCENARIO_KEY_ID, KeyType::Md5, SCENARIO_SECRET) {
        ring.insert(key, true);
    }
    ring
}

fn master(stratum: u8) -> EngineConfig {
    EngineConfig::default().with_local_reference(stratum)
}

fn allow_peer(config: &mut EngineConfig, peer: &str) {
    if let Ok(ip) = peer.parse() {
        config.access.add(Prefix::host(ip), AccessClass::Peer);
    }
}

fn client(addr: &str) -> AssociationConfig {
    AssociationConfig::client(address(addr)).with_iburst(true)
}

fn peer(addr: &str) -> AssociationConfig {
    AssociationConfig::symmetric_active(address(addr)).with_iburst(true)
}

fn drifting(offset: f64, ppm: f64) -> ClockModel {
    ClockModel { offset, frequency_ppm: ppm, wander_ppm: 0.0 }
}

/// Seed 001 (Huawei VRP): DeviceC is its own reference at stratum 2
/// (`refclock-master 2`); DeviceD is its client (`unicast-server`), so
/// stratum 3 with DeviceC as reference; DeviceE is a symmetric active peer of
/// DeviceD (`unicast-peer`), so stratum 4 with DeviceD as reference.
pub fn seed_001(seed: u64) -> Result<Scenario, ScenarioError> {
    let mut sim = Simulation::new(seed);
    let c = sim.add_node("DeviceC", address("10.0.1.31"), master(2), Keyring::new(), ClockModel::PERFECT);
    let mut d_config = EngineConfig::default();
    // DeviceD lets DeviceE peer with it (`ntp-service access peer`).
    allow_peer(&mut d_config, "10.0.2.2");
    let d = sim.add_node("DeviceD", address("10.0.2.1"), d_config, Keyring::new(), drifting(0.05, 30.0));
    let e =
        sim.add_node("DeviceE", address("10.0.2.2"), EngineConfig::default(), Keyring::new(), drifting(-0.08, -45.0));
    sim.link(c, d, LinkModel::LAN);
    sim.link(d, e, LinkModel::LAN);
    sim.add_association(d, client("10.0.1.31"))?;
    sim.add_association(e, peer("10.0.2.1"))?;
    Ok(Scenario {
        name: "seed-001",
        title: "Huawei: refclock-master 2 -> unicast-server -> unicast-peer",
        sim,
        duration: 3600.0,
        script: Vec::new(),
    })
}

/// The moment the R1-S1 link dies and heals in [`seed_000_002`].
pub const SEED_000_CUT: f64 = 2000.0;
/// See [`SEED_000_CUT`].
pub const SEED_000_HEAL: f64 = 6000.0;

/// Seeds 000 and 002 (Cisco peers, CCNA note): R1 is a client of S1 and R2
/// of S2 (both stratum 1); R1 and R2 are symmetric peers. When R1's link to
/// S1 dies, R1 takes its time from R2 (stratum 3) and R2 never takes R1
/// while R1 depends on R2; when the link heals R1 goes back to S1.
pub fn seed_000_002(seed: u64) -> Result<Scenario, ScenarioError> {
    let mut sim = Simulation::new(seed);
    let s1 = sim.add_node("S1", address("10.0.1.1"), master(1), Keyring::new(), ClockModel::PERFECT);
    let s2 = sim.add_node("S2", address("10.0.1.2"), master(1), Keyring::new(), ClockModel::PERFECT);
    let r1 = sim.add_node("R1", address("10.0.2.1"), EngineConfig::default(), Keyring::new(), drifting(0.02, 25.0));
    let r2 = sim.add_node("R2", address("10.0.2.2"), EngineConfig::default(), Keyring::new(), drifting(-0.03, -40.0));
    let uplink = sim.link(s1, r1, LinkModel::LAN);
    sim.link(s2, r2, LinkModel::LAN);
    sim.link(r1, r2, LinkModel::LAN);
    sim.add_association(r1, client("10.0.1.1"))?;
    sim.add_association(r2, client("10.0.1.2"))?;
    sim.add_association(r1, peer("10.0.2.2"))?;
    sim.add_association(r2, peer("10.0.2.1"))?;
    sim.schedule_link(SEED_000_CUT, uplink, false);
    sim.schedule_link(SEED_000_HEAL, uplink, true);
    Ok(Scenario {
        name: "seed-000-002",
        title: "Cisco peers: R1/R2 back each other up when an upstream dies",
        sim,
        duration: 10_000.0,
        script: vec![(SEED_000_CUT, "link R1-S1 cut".into()), (SEED_000_HEAL, "link R1-S1 healed".into())],
    })
}

/// When every upstream of [`seed_003`] is cut.
pub const SEED_003_CUT: f64 = 3000.0;

/// Seed 003 (Cisco best-practice white paper): P1 and P2 are clients of
/// three upstreams (U1, U2 at stratum 2; U3 at stratum 1 but 200 ms off) and
/// symmetric peers of each other, every association signed with the shared
/// MD5 key and `ntp authenticate` on (only authenticated packets are used
/// for time), as the white paper configures them. U3 is a falseticker despite its lower stratum. P1 has
/// `ntp master 3` and broadcasts on its LAN to two authenticated broadcast
/// clients. When every upstream is cut, P1 serves its local clock at stratum
/// 3, P2 follows P1, and the broadcast clients follow P1.
pub fn seed_003(seed: u64) -> Result<Scenario, ScenarioError> {
    let mut sim = Simulation::new(seed);
    // The upstreams know the key, so they sign their replies to signed requests.
    let u1 = sim.add_node("U1", address("10.0.1.1"), master(2), scenario_keys(), ClockModel::PERFECT);
    let u2 = sim.add_node("U2", address("10.0.1.2"), master(2), scenario_keys(), ClockModel::PERFECT);
    let u3 = sim.add_node("U3", address("10.0.1.3"), master(1), scenario_keys(), drifting(0.200, 0.0));
    let authenticated = EngineConfig::default().with_authentication_required(true);
    let p1_config = authenticated.clone().with_local_reference(3);
    let p1 = sim.add_node("P1", address("10.0.2.1"), p1_config, scenario_keys(), drifting(0.01, 60.0));
    let p2 = sim.add_node("P2", address("10.0.2.2"), authenticated, scenario_keys(), drifting(-0.01, -20.0));
    let listener = EngineConfig::default().with_broadcast_client(true).with_authentication_required(true);
    let b1 = sim.add_node("B1", address("10.0.3.1"), listener.clone(), scenario_keys(), drifting(0.03, 10.0));
    let b2 = sim.add_node("B2", address("10.0.3.2"), listener, scenario_keys(), drifting(-0.02, -15.0));
    let mut uplinks = Vec::new();
    for upstream in [u1, u2, u3] {
        uplinks.push(sim.link(upstream, p1, LinkModel::LAN));
        uplinks.push(sim.link(upstream, p2, LinkModel::LAN));
    }
    sim.link(p1, p2, LinkModel::LAN);
    sim.link(p1, b1, LinkModel::LAN);
    sim.link(p1, b2, LinkModel::LAN);
    for node in [p1, p2] {
        for upstream in ["10.0.1.1", "10.0.1.2", "10.0.1.3"] {
            sim.add_association(node, client(upstream).with_key(SCENARIO_KEY_ID))?;
        }
    }
    sim.add_association(p1, peer("10.0.2.2").with_key(SCENARIO_KEY_ID))?;
    sim.add_association(p2, peer("10.0.2.1").with_key(SCENARIO_KEY_ID))?;
    sim.add_association(
        p1,
        AssociationConfig::broadcast_server(address("10.0.3.255")).with_key(SCENARIO_KEY_ID).with_poll(6, 6),
    )?;
    for link in uplinks {
        sim.schedule_link(SEED_003_CUT, link, false);
    }
    Ok(Scenario {
        name: "seed-003",
        title: "Cisco white paper: falseticker rejected, ntp master 3 fallback, broadcast clients",
        sim,
        duration: 9000.0,
        script: vec![(SEED_003_CUT, "every upstream link cut".into())],
    })
}

/// When the upstream of [`orphan`] is cut.
pub const ORPHAN_CUT: f64 = 2000.0;

/// Orphan mode (`tos orphan 10`): three servers O1..O3 are symmetric peers
/// of each other and clients of one stratum-1 server. When its links are
/// cut, the group elects its lowest-addressed member (O1) as root at
/// stratum 10; the others follow it at stratum 11 and stay together.
pub fn orphan(seed: u64) -> Result<Scenario, ScenarioError> {
    let mut sim = Simulation::new(seed);
    let upstream = sim.add_node("S1", address("10.0.1.1"), master(1), Keyring::new(), ClockModel::PERFECT);
    let config = EngineConfig::default().with_orphan(10);
    let names = [("O1", "10.0.2.1", 0.02, 40.0), ("O2", "10.0.2.2", -0.03, -25.0), ("O3", "10.0.2.3", 0.01, 15.0)];
    let mut nodes = Vec::new();
    for (name, ip, offset, ppm) in names {
        let mut node_config = config.clone();
        for (_, other, _, _) in names {
            if other != ip {
                allow_peer(&mut node_config, other);
            }
        }
        nodes.push(sim.add_node(name, address(ip), node_config, Keyring::new(), drifting(offset, ppm)));
    }
    let mut uplinks = Vec::new();
    for (i, &node) in nodes.iter().enumerate() {
        uplinks.push(sim.link(upstream, node, LinkModel::LAN));
        sim.add_association(node, client("10.0.1.1"))?;
        for (j, &other) in nodes.iter().enumerate() {
            if j > i {
                sim.link(node, other, LinkModel::LAN);
            }
            if j != i {
                sim.add_association(node, peer(names.get(j).map_or("", |n| n.1)))?;
            }
        }
    }
    for link in uplinks {
        sim.schedule_link(ORPHAN_CUT, link, false);
    }
    Ok(Scenario {
        name: "orphan",
        title: "Orphan mode: three peers lose their upstream and keep one time",
        sim,
        duration: 8000.0,
        script: vec![(ORPHAN_CUT, "upstream links cut".into())],
    })
}

/// A single client of a perfect stratum-1 server over a link with `jitter`
/// seconds of mean extra delay (and the same base delay), the client's clock
/// `ppm` off in frequency and `offset` seconds off at the start; iburst on,
/// default polling. The accuracy benchmark's setup.
pub fn accuracy(seed: u64, jitter: f64, ppm: f64, offset: f64, duration: f64) -> Result<Scenario, ScenarioError> {
    let mut sim = Simulation::new(seed);
    let server = sim.add_node("server", address("10.0.1.1"), master(1), Keyring::new(), ClockModel::PERFECT);
    let client_node =
        sim.add_node("client", address("10.0.2.1"), EngineConfig::default(), Keyring::new(), drifting(offset, ppm));
    sim.link(server, client_node, LinkModel { delay: jitter.max(10e-6), jitter, asymmetry: 0.0, loss: 0.0 });
    sim.add_association(client_node, client("10.0.1.1"))?;
    Ok(Scenario { name: "accuracy", title: "one client, one server", sim, duration, script: Vec::new() })
}

/// Every scenario the lab runs, in order: the seeds, then orphan mode.
pub fn all(seed: u64) -> Result<Vec<Scenario>, ScenarioError> {
    Ok(vec![seed_001(seed)?, seed_000_002(seed)?, seed_003(seed)?, orphan(seed)?])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn test_every_scenario_builds_without_a_refused_association() {
        let scenarios = all(1).unwrap();
        let names: Vec<_> = scenarios.iter().map(|s| s.name).collect();
        assert_eq!(names, ["seed-001", "seed-000-002", "seed-003", "orphan"]);
        assert!(accuracy(1, 1e-4, 10.0, 0.1, 100.0).is_ok());
    }

    #[test]
    fn test_seed_003_uses_only_authenticated_time() {
        let s = seed_003(1).unwrap();
        for name in ["P1", "P2", "B1", "B2"] {
            let node = s.sim.node(s.sim.find(name).unwrap()).unwrap();
            assert!(node.engine.config().require_authentication, "{name}");
            let keyed = node.engine.associations().all(|a| a.config().key_id == Some(SCENARIO_KEY_ID));
            assert!(keyed, "{name}: every configured association is signed");
        }
    }
}
