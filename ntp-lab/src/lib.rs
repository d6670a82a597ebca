//! # ntp-lab
//!
//! The project's main job: networks described by the configuration files
//! operators write (Cisco IOS, Huawei VRP, ntp.conf, chrony.conf), one per
//! device, in a topology folder ([`load`], format in the `topology`
//! module's documentation), built in the simulator ([`ntp_sim`]) and run by
//! the real engine. The binary (`cargo run --release -p ntp-lab`) runs the
//! seed documents' topologies shipped in `ntp-lab/topologies/` (or a
//! user's, `--topology DIR`) and prints what happened; the tests in
//! `tests/tests/seed_scenarios.rs` run the same folders and assert what the
//! seeds say must happen. Not published: the topologies are this project's
//! fixtures, not library API.
//!
//! Addresses in the shipped topologies follow one plan: 10.0.1.x upstream
//! servers, 10.0.2.x the nodes under test, 10.0.3.x broadcast clients;
//! port 123 everywhere.
#![forbid(unsafe_code)]

mod topology;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ntp_algo::{AssociationConfig, EngineConfig};
use ntp_sim::{ClockModel, LinkModel, Simulation};
use ntp_wire::auth::Keyring;

pub use topology::{Device, Event, EventKind, LINKS_FILE, TopologyError, dialect_of, load};

/// Why a scenario could not be built.
pub type ScenarioError = String;

/// A topology ready to run.
#[derive(Debug)]
pub struct Scenario {
    /// Short name (the folder's name: `seed-001`, ...).
    pub name: String,
    /// One line on what it shows.
    pub title: String,
    /// The simulation, at time 0.
    pub sim: Simulation,
    /// How long to run, seconds of virtual time.
    pub duration: f64,
    /// Scheduled changes (link cuts and heals, clock steps), in time order.
    pub script: Vec<Event>,
    /// The devices, with their configuration's dialect (empty for
    /// scenarios built in code).
    pub devices: Vec<Device>,
}

impl Scenario {
    /// The time of the first scripted event whose text contains `word`
    /// (`"cut"`, `"healed"`).
    pub fn first_event(&self, word: &str) -> Option<f64> {
        self.script.iter().find(|e| e.text.contains(word)).map(|e| e.time)
    }

    /// The device named `name`.
    pub fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.name == name)
    }
}

/// The folder holding the shipped topologies (`ntp-lab/topologies`).
pub fn topologies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies")
}

/// The shipped topology `name` (a folder of [`topologies_dir`]).
pub fn scenario(name: &str, seed: u64) -> Result<Scenario, TopologyError> {
    load(&topologies_dir().join(name), seed)
}

/// Every topology folder under `dir` (those holding a [`LINKS_FILE`]), by name.
pub fn load_all(dir: &Path, seed: u64) -> Result<Vec<Scenario>, TopologyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TopologyError::Read { path: dir.to_owned(), source })?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join(LINKS_FILE).is_file())
        .collect();
    folders.sort();
    folders.iter().map(|folder| load(folder, seed)).collect()
}

/// Every shipped topology, by name.
pub fn all(seed: u64) -> Result<Vec<Scenario>, TopologyError> {
    load_all(&topologies_dir(), seed)
}

/// A socket address on port 123.
pub fn address(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)), 123)
}

/// A single client of a perfect stratum-1 server over a link with `jitter`
/// seconds of mean extra delay (and the same base delay), the client's clock
/// `ppm` off in frequency and `offset` seconds off at the start; iburst on,
/// default polling. The accuracy benchmark's setup.
pub fn accuracy(seed: u64, jitter: f64, ppm: f64, offset: f64, duration: f64) -> Result<Scenario, ScenarioError> {
    let mut sim = Simulation::new(seed);
    let master = EngineConfig::default().with_local_reference(1);
    let server = sim.add_node("server", address("10.0.1.1"), master, Keyring::new(), ClockModel::PERFECT);
    let clock = ClockModel { offset, frequency_ppm: ppm, wander_ppm: 0.0 };
    let client_node = sim.add_node("client", address("10.0.2.1"), EngineConfig::default(), Keyring::new(), clock);
    sim.link(server, client_node, LinkModel { delay: jitter.max(10e-6), jitter, asymmetry: 0.0, loss: 0.0 });
    sim.add_association(client_node, AssociationConfig::client(address("10.0.1.1")).with_iburst(true))?;
    Ok(Scenario {
        name: "accuracy".into(),
        title: "one client, one server".into(),
        sim,
        duration,
        script: Vec::new(),
        devices: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use ntp_config::Dialect;

    #[test]
    fn test_every_shipped_topology_builds() {
        let scenarios = all(1).unwrap();
        let names: Vec<_> = scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["orphan", "seed-000-002", "seed-001", "seed-003"]);
        assert!(accuracy(1, 1e-4, 10.0, 0.1, 100.0).is_ok());
        let dialects = |name: &str| -> Vec<Dialect> {
            scenarios.iter().find(|s| s.name == name).unwrap().devices.iter().map(|d| d.dialect).collect()
        };
        assert!(dialects("seed-001").iter().all(|d| *d == Dialect::Vrp));
        assert!(dialects("seed-000-002").iter().all(|d| *d == Dialect::Ios));
        assert!(dialects("seed-003").iter().all(|d| *d == Dialect::Ios));
        assert!(dialects("orphan").iter().all(|d| *d == Dialect::NtpConf));
    }

    #[test]
    fn test_seed_003_uses_only_authenticated_time() {
        let s = scenario("seed-003", 1).unwrap();
        for name in ["P1", "P2", "B1", "B2"] {
            let node = s.sim.node(s.sim.find(name).unwrap()).unwrap();
            assert!(node.engine.config().require_authentication, "{name}");
            let keyed = node.engine.associations().all(|a| a.config().key_id == Some(1));
            assert!(keyed, "{name}: every configured association is signed");
        }
    }

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const TWO: &str = "duration = 100.0\n[devices.A]\naddress = \"10.0.0.1\"\n[devices.B]\naddress = \"10.0.0.2\"\n\
                       [[links]]\nbetween = [\"A\", \"B\"]\ncut = [50.0]\n";

    #[test]
    fn test_a_folder_with_names_and_events() {
        let dir = folder(&[
            (
                "lab.toml",
                &format!(
                    "{TWO}[devices.C]\naddress = \"10.0.0.3\"\n[[links]]\nbetween = [\"A\", \"C\"]\n[names]\n\"<SERVER>\" = \"A\"\n[[events]]\nat = 10.0\nnode = \"B\"\nstep = 0.5\n"
                ),
            ),
            ("A.ios", "ntp master 1\n"),
            ("B.conf", "server <SERVER> iburst\n"),
            ("C.chrony", "server A iburst\nallow 10.0.0.0/24\n"),
        ]);
        let s = load(dir.path(), 1).unwrap();
        assert_eq!(s.duration, 100.0);
        assert_eq!(s.first_event("cut"), Some(50.0));
        assert_eq!(s.script.len(), 2);
        assert_eq!(s.device("B").unwrap().dialect, Dialect::NtpConf);
        let b = s.sim.node(s.sim.find("B").unwrap()).unwrap();
        let server = b.engine.associations().next().unwrap().config().address;
        assert_eq!(server, address("10.0.0.1"));
        assert_eq!(s.device("C").unwrap().dialect, Dialect::Chrony);
        let mut sim = s.sim;
        sim.run_until(s.duration);
        for name in ["B", "C"] {
            let node = sim.node(sim.find(name).unwrap()).unwrap();
            assert!(node.engine.system().is_synchronized(), "{name} follows A");
        }
    }

    #[test]
    fn test_bad_folders_say_which_file_and_why() {
        let err = |files: &[(&str, &str)]| load(folder(files).path(), 1).unwrap_err().to_string();
        let e = err(&[("lab.toml", TWO), ("A.ios", "ntp master 1\n")]);
        assert!(e.contains("B has no configuration"), "{e}");
        let e = err(&[("lab.toml", TWO), ("A.ios", "ntp master 1\n"), ("B.ios", "ntp frobnicate\n")]);
        assert!(e.contains("B.ios") && e.contains("line 1"), "{e}");
        let e = err(&[("lab.toml", TWO), ("A.ios", "ntp master 1\n"), ("B.ios", "ntp server <X>\n")]);
        assert!(e.contains("B.ios") && e.contains("<X>"), "{e}");
        let e = err(&[("lab.toml", "duration = \"long\"\n")]);
        assert!(e.contains("lab.toml") && e.contains("line 1"), "{e}");
        let e = err(&[("lab.toml", TWO), ("A.ios", ""), ("B.ios", ""), ("C.vrp", "")]);
        assert!(e.contains("C has a configuration"), "{e}");
    }
}
