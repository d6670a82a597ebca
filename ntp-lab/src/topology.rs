//! A topology folder (the format is also in `ntp-lab/topologies/README.md`): one configuration per device, in that device's own
//! dialect, and a `lab.toml` that says what no configuration can: where the
//! devices sit in the network, how good the links and clocks are, and what
//! happens during the run.
//!
//! ```text
//! seed-001/
//!   lab.toml          title, duration, devices (address, clock error), links (delay, jitter, loss, cuts), events
//!   DeviceC.vrp       Huawei VRP       (*.vrp)
//!   DeviceD.vrp
//!   R1.ios            Cisco IOS        (*.ios)
//!   O1.conf           ntpd ntp.conf    (*.conf)
//!   S1.chrony         chrony.conf      (*.chrony)
//! ```
//!
//! `lab.toml`:
//!
//! ```toml
//! title = "what the run shows"
//! duration = 3600.0                  # seconds of virtual time
//!
//! [names]                            # optional: names used in the configurations
//! "<I-TS-1>" = "U1"                  # a device of the folder, or an address
//!
//! [devices.DeviceD]                  # one table per configuration file
//! address = "10.0.2.1"               # the device's address in the simulated network
//! offset = 0.05                      # its clock's error at the start, seconds (default 0)
//! ppm = 30.0                         # its clock's frequency error, ppm (default 0)
//! wander = 0.0                       # random-walk frequency wander, ppm per sqrt(s) (default 0)
//!
//! [[links]]
//! between = ["DeviceC", "DeviceD"]
//! delay = 100e-6                     # one-way base delay, seconds (default: LAN, 100 µs)
//! jitter = 100e-6                    # mean extra delay, seconds (default: LAN, 100 µs)
//! asymmetry = 0.0                    # extra delay one way, seconds (default 0)
//! loss = 0.0                         # probability a datagram is lost (default 0)
//! cut = [2000.0]                     # times the link goes down, seconds
//! heal = [6000.0]                    # times it comes back, seconds
//!
//! [[events]]                         # scripted clock steps
//! at = 3000.0
//! node = "client"
//! step = 0.5                         # seconds added to its clock
//! ```
//!
//! Devices reach each other by the addresses of `lab.toml`, port 123;
//! configurations name them by address, by device name, or by a name of
//! the `[names]` table (the vendor guides' placeholders). Key files a
//! configuration names are read from the folder.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ntp_config::Dialect;
use ntp_sim::{ClockModel, LinkModel, Simulation};
use serde::Deserialize;

use crate::Scenario;

/// The links file's name in a topology folder.
pub const LINKS_FILE: &str = "lab.toml";

/// Why a topology folder could not be built. Each variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `lab.toml` is not valid (the message has the line and column).
    #[error("{path}: {message}")]
    Links {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A device's configuration was refused (the message has the line).
    #[error("{path}: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The dialect a configuration file's extension says it is in.
pub fn dialect_of(path: &Path) -> Option<Dialect> {
    match path.extension()?.to_str()? {
        "ios" => Some(Dialect::Ios),
        "vrp" => Some(Dialect::Vrp),
        "conf" => Some(Dialect::NtpConf),
        "chrony" => Some(Dialect::Chrony),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinksFile {
    title: Option<String>,
    duration: f64,
    #[serde(default)]
    names: BTreeMap<String, String>,
    devices: BTreeMap<String, DeviceSpec>,
    #[serde(default)]
    links: Vec<LinkSpec>,
    #[serde(default)]
    events: Vec<EventSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceSpec {
    address: IpAddr,
    #[serde(default)]
    offset: f64,
    #[serde(default)]
    ppm: f64,
    #[serde(default)]
    wander: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkSpec {
    between: [String; 2],
    delay: Option<f64>,
    jitter: Option<f64>,
    asymmetry: Option<f64>,
    loss: Option<f64>,
    #[serde(default)]
    cut: Vec<f64>,
    #[serde(default)]
    heal: Vec<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    at: f64,
    node: String,
    step: f64,
}

/// A device of a loaded topology: its name, its configuration's dialect
/// (which decides the status view the lab prints for it) and its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The name (the configuration file's stem).
    pub name: String,
    /// The configuration's dialect.
    pub dialect: Dialect,
    /// Its address in the simulated network.
    pub address: IpAddr,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.dialect, self.address)
    }
}

/// Builds the [`Scenario`] a topology folder describes, the simulation
/// seeded with `seed`. Its name is the folder's name.
pub fn load(dir: &Path, seed: u64) -> Result<Scenario, TopologyError> {
    let links_path = dir.join(LINKS_FILE);
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| TopologyError::Read { path: path.to_owned(), source })
    };
    let links_error = |message: String| TopologyError::Links { path: links_path.clone(), message };
    let spec: LinksFile = toml::from_str(&read(&links_path)?).map_err(|e| links_error(e.to_string()))?;
    if !(spec.duration.is_finite() && spec.duration > 0.0) {
        return Err(links_error(format!("duration {} is not a positive number of seconds", spec.duration)));
    }

    // Every configuration file of the folder is a device, and every device
    // of lab.toml has exactly one.
    let mut files: BTreeMap<String, (PathBuf, Dialect)> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|source| TopologyError::Read { path: dir.to_owned(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| TopologyError::Read { path: dir.to_owned(), source })?.path();
        let (Some(dialect), Some(stem)) = (dialect_of(&path), path.file_stem().and_then(|s| s.to_str())) else {
            continue;
        };
        if let Some((first, _)) = files.insert(stem.to_owned(), (path.clone(), dialect)) {
            return Err(links_error(format!("device {stem} has two configurations: {}", first.display())));
        }
    }
    for name in files.keys() {
        if !spec.devices.contains_key(name) {
            return Err(links_error(format!("{name} has a configuration but no [devices.{name}] table")));
        }
    }
    let address_of = |name: &str| spec.devices.get(name).map(|d| d.address);
    let resolve = |name: &str| -> Option<IpAddr> {
        let target = spec.names.get(name).map_or(name, String::as_str);
        address_of(target).or_else(|| target.parse().ok())
    };

    let mut sim = Simulation::new(seed);
    let mut devices = Vec::new();
    let mut associations = Vec::new();
    for (name, device) in &spec.devices {
        let (path, dialect) =
            files.get(name).ok_or_else(|| links_error(format!("device {name} has no configuration file")))?;
        let config_error = |message: String| TopologyError::Config { path: path.clone(), message };
        let mut parsed = ntp_config::parse(&read(path)?, Some(*dialect)).map_err(|e| config_error(e.to_string()))?;
        parsed.resolve_names(resolve).map_err(|e| config_error(e.to_string()))?;
        let mut engine = parsed.engine_config().map_err(|e| config_error(e.to_string()))?;
        // The simulator sends from the device's lab.toml address: it must
        // count as the device's own (loop detection, orphan root choice).
        if !engine.local_addresses.contains(&device.address) {
            engine.local_addresses.insert(0, device.address);
        }
        let keys = ntp_config::load_keyring(&parsed, |file| std::fs::read_to_string(dir.join(file)))
            .map_err(|e| config_error(e.to_string()))?;
        let clock = ClockModel { offset: device.offset, frequency_ppm: device.ppm, wander_ppm: device.wander };
        let index = sim.add_node(name, SocketAddr::new(device.address, 123), engine, keys, clock);
        for association in parsed.associations().map_err(|e| config_error(e.to_string()))? {
            associations.push((index, association, path.clone()));
        }
        devices.push(Device { name: name.clone(), dialect: *dialect, address: device.address });
    }

    let mut script = Vec::new();
    for link in &spec.links {
        let [a, b] = &link.between;
        let index = |name: &String| {
            sim.find(name).ok_or_else(|| links_error(format!("link between {a} and {b}: no device {name}")))
        };
        let (ia, ib) = (index(a)?, index(b)?);
        let lan = LinkModel::LAN;
        let model = LinkModel {
            delay: link.delay.unwrap_or(lan.delay),
            jitter: link.jitter.unwrap_or(lan.jitter),
            asymmetry: link.asymmetry.unwrap_or(lan.asymmetry),
            loss: link.loss.unwrap_or(lan.loss),
        };
        let checks = [model.delay, model.jitter, model.asymmetry, model.loss];
        if checks.iter().any(|v| !v.is_finite() || *v < 0.0) || model.loss > 1.0 {
            return Err(links_error(format!("link between {a} and {b}: delays must be >= 0 and loss in 0..=1")));
        }
        let id = sim.link(ia, ib, model);
        for (times, up, what) in [(&link.cut, false, "cut"), (&link.heal, true, "healed")] {
            for &at in times {
                if !(at.is_finite() && at >= 0.0) {
                    return Err(links_error(format!("link between {a} and {b}: bad time {at}")));
                }
                sim.schedule_link(at, id, up);
                script.push(Event { time: at, kind: EventKind::Link { up }, text: format!("link {a}-{b} {what}") });
            }
        }
    }
    for event in &spec.events {
        let node = sim
            .find(&event.node)
            .ok_or_else(|| links_error(format!("event at {}: no device {}", event.at, event.node)))?;
        if !(event.at.is_finite() && event.at >= 0.0 && event.step.is_finite()) {
            return Err(links_error(format!("event at {}: bad time or step", event.at)));
        }
        sim.schedule_clock_step(event.at, node, event.step);
        script.push(Event {
            time: event.at,
            kind: EventKind::ClockStep,
            text: format!("{}'s clock set {:+} s off", event.node, event.step),
        });
    }
    script.sort_by(|a, b| a.time.total_cmp(&b.time));

    // Associations last, once every device exists, so that the first polls
    // find their peers.
    for (index, association, path) in associations {
        sim.add_association(index, association)
            .map_err(|message| TopologyError::Config { path: path.clone(), message })?;
    }
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("topology").to_owned();
    Ok(Scenario {
        title: spec.title.unwrap_or_else(|| name.clone()),
        name,
        sim,
        duration: spec.duration,
        script,
        devices,
    })
}

/// A scripted change, for timelines and plots.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When, seconds of virtual time.
    pub time: f64,
    /// What kind of change.
    pub kind: EventKind,
    /// In words.
    pub text: String,
}

/// The kinds of scripted change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A link is cut (`up == false`) or healed.
    Link {
        /// Whether the link comes up.
        up: bool,
    },
    /// A node's clock is set off.
    ClockStep,
}
