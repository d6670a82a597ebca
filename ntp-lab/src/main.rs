//! The lab: networks built from vendor configuration files, run by the real engine.
//!
//! ```text
//! cargo run --release -p ntp-lab                       # every shipped topology (ntp-lab/topologies/), virtual time
//! cargo run --release -p ntp-lab -- --scenario seed-003
//! cargo run --release -p ntp-lab -- --topology DIR     # your own folder: one config per device + lab.toml
//! cargo run --release -p ntp-lab -- --trace trace.csv  # convergence trace, one row per node per 16 s
//! cargo run --release -p ntp-lab -- --plot lab.svg     # true offset and stratum over time, events marked
//! cargo run --release -p ntp-lab -- --udp              # seed 001 over real loopback sockets
//! ```
//!
//! A topology is a folder with one configuration per device in its own
//! dialect (`*.ios`, `*.vrp`, `*.conf`, `*.chrony`) and a `lab.toml`
//! (addresses, clock errors, links, cuts and heals); see the library's
//! documentation for the format.
//!
//! In virtual time nothing sleeps, so hours of network life take a moment.
//! For each scenario the lab prints the timeline of what matters to an
//! operator (synchronization gained and lost, system peer changes,
//! falsetickers, the local reference taking over) and the final status in
//! the vendors' formats. `--udp` runs seed 001 as three real nodes on
//! 127.0.0.1 with short polls, each with its own socket and software clock.

mod plot;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use ntp_algo::{AssociationMode, Event};
use ntp_config::Dialect;
use ntp_lab::{Device, Scenario};
use ntp_node::views;
use ntp_node::{AssociationSnapshot, SystemSnapshot};
use ntp_sim::Simulation;

struct Options {
    scenario: Option<String>,
    topology: Option<String>,
    trace: Option<String>,
    plot: Option<String>,
    seed: u64,
    udp: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options { scenario: None, topology: None, trace: None, plot: None, seed: 1, udp: false };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--scenario" => o.scenario = Some(value()?),
            "--topology" => o.topology = Some(value()?),
            "--trace" => o.trace = Some(value()?),
            "--plot" => o.plot = Some(value()?),
            "--seed" => o.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--udp" => o.udp = true,
            "--help" | "-h" => {
                return Err(
                    "usage: ntp-lab [--scenario seed-001|seed-000-002|seed-003|orphan] [--topology DIR] [--trace FILE.csv] [--plot FILE.svg] [--seed N] [--udp]"
                        .into(),
                );
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if options.udp {
        return match udp_lab() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lab --udp: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let loaded = match &options.topology {
        Some(dir) => ntp_lab::load(std::path::Path::new(dir), options.seed).map(|s| vec![s]),
        None => ntp_lab::all(options.seed),
    };
    let mut scenarios = match loaded {
        Ok(scenarios) => scenarios,
        Err(e) => {
            eprintln!("lab: a topology could not be built: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(name) = &options.scenario {
        scenarios.retain(|s| &s.name == name);
        if scenarios.is_empty() {
            eprintln!("no scenario {name:?}; try seed-001, seed-000-002, seed-003 or orphan");
            return ExitCode::FAILURE;
        }
    }
    let mut trace = options
        .trace
        .as_ref()
        .map(|_| String::from("scenario,time_s,node,true_offset_s,stratum,system_peer,synchronized\n"));
    let mut plots = Vec::new();
    for scenario in scenarios {
        if let Some(traced) = run(scenario, trace.as_mut(), options.plot.is_some()) {
            plots.push(traced);
        }
    }
    if let (Some(path), Some(text)) = (&options.trace, trace) {
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("writing {path}: {e}");
            return ExitCode::FAILURE;
        }
        println!("trace written to {path}");
    }
    if let Some(path) = &options.plot {
        if let Err(e) = plot::write_svg(std::path::Path::new(path), &plots) {
            eprintln!("writing {path}: {e}");
            return ExitCode::FAILURE;
        }
        println!("plot written to {path}");
    }
    ExitCode::SUCCESS
}

/// Runs one scenario and prints it; with `plot`, returns what the plot needs.
fn run(mut scenario: Scenario, mut trace: Option<&mut String>, plot: bool) -> Option<plot::RunTrace> {
    println!("== {}: {}", scenario.name, scenario.title);
    for device in &scenario.devices {
        println!("   {device}");
    }
    let started = Instant::now();
    let name = scenario.name.clone();
    let mut next_sample = 0.0;
    let plot_every = scenario.duration / 400.0;
    let mut next_plot = 0.0;
    let mut points: Vec<Vec<(f64, f64, u8)>> = vec![Vec::new(); scenario.sim.nodes().len()];
    scenario.sim.run_until_with(scenario.duration, |sim| {
        if let Some(out) = trace.as_deref_mut() {
            while sim.now() >= next_sample {
                sample_trace(out, &name, next_sample, sim);
                next_sample += 16.0;
            }
        }
        while plot && sim.now() >= next_plot {
            for (index, series) in points.iter_mut().enumerate() {
                let offset = sim.true_offset(index).unwrap_or(f64::NAN);
                let stratum = sim.node(index).map_or(16, |n| n.engine.system().stratum.min(16));
                series.push((next_plot, offset, stratum));
            }
            next_plot += plot_every;
        }
    });
    let elapsed = started.elapsed();
    print_timeline(&scenario);
    println!(
        "-- {:.0} s of network time in {:.2} s of real time; {} datagrams sent, {} delivered",
        scenario.duration,
        elapsed.as_secs_f64(),
        scenario.sim.stats.sent,
        scenario.sim.stats.delivered
    );
    print_final_status(&mut scenario.sim, &scenario.devices);
    println!();
    plot.then(|| plot_trace(&scenario, points))
}

/// The plot's view of a finished run: the nodes that have associations
/// (reference servers left out), their samples, the scripted events and
/// the system peer changes.
fn plot_trace(scenario: &Scenario, points: Vec<Vec<(f64, f64, u8)>>) -> plot::RunTrace {
    let sim = &scenario.sim;
    let mut kept = Vec::new();
    let mut nodes = Vec::new();
    for (index, series) in points.into_iter().enumerate() {
        let Some(node) = sim.node(index) else { continue };
        if node.engine.associations().next().is_none() {
            continue;
        }
        kept.push(index);
        nodes.push(plot::NodeTrace { name: node.name.clone(), points: series });
    }
    let peer_changes = sim
        .records()
        .iter()
        .filter(|r| matches!(r.event, Event::SystemPeerChanged { .. }))
        .filter_map(|r| kept.iter().position(|&k| k == r.node).map(|i| (r.time, i)))
        .collect();
    plot::RunTrace {
        name: scenario.name.clone(),
        duration: scenario.duration,
        nodes,
        events: scenario.script.clone(),
        peer_changes,
    }
}

fn sample_trace(out: &mut String, scenario: &str, time: f64, sim: &mut Simulation) {
    for index in 0..sim.nodes().len() {
        let offset = sim.true_offset(index).unwrap_or(f64::NAN);
        let Some(node) = sim.node(index) else { continue };
        let system = node.engine.system();
        let peer = system
            .system_peer()
            .and_then(|id| node.engine.association(id))
            .map_or("-".to_string(), |a| a.config().address.ip().to_string());
        let _ = writeln!(
            out,
            "{scenario},{time:.0},{},{offset:.9},{},{peer},{}",
            node.name,
            system.stratum,
            u8::from(system.is_synchronized())
        );
    }
}

fn describe(sim: &Simulation, node: usize, event: &Event) -> Option<String> {
    let engine = &sim.node(node)?.engine;
    let name_of = |id| {
        engine.association(id).map(|a| {
            let address = a.config().address.ip().to_string();
            sim.nodes().iter().find(|n| n.address.ip().to_string() == address).map_or(address, |n| n.name.clone())
        })
    };
    Some(match event {
        Event::SyncGained { stratum } => format!("synchronized, stratum {stratum}"),
        Event::SyncLost => "lost synchronization: no usable source".into(),
        Event::SystemPeerChanged { to: Some(id), .. } => {
            format!("system peer is now {}", name_of(*id).unwrap_or_else(|| format!("association {id}")))
        }
        Event::SystemPeerChanged { to: None, .. } => "no system peer".into(),
        Event::FalsetickerRejected { id } => {
            format!("rejected {} as a falseticker", name_of(*id).unwrap_or_else(|| format!("association {id}")))
        }
        Event::LocalReferenceInUse { stratum } => format!("serving its local clock as reference, stratum {stratum}"),
        Event::ClockStepped { offset } => format!("clock stepped by {:+.6} s", offset),
        Event::Mobilized { ephemeral: true, mode, address, .. } => {
            let mode = match mode {
                AssociationMode::SymmetricPassive => "symmetric passive peer",
                AssociationMode::BroadcastClient => "broadcast client association",
                _ => "association",
            };
            format!("accepted {mode} for {}", address.ip())
        }
        Event::Unreachable { id } => {
            format!("{} unreachable", name_of(*id).unwrap_or_else(|| format!("association {id}")))
        }
        Event::KissOfDeath { code, .. } => format!("kiss-o'-death {code}"),
        Event::PanicOffset { offset } => format!("refused an offset of {offset:+.3} s (panic threshold)"),
        _ => return None,
    })
}

fn print_timeline(scenario: &Scenario) {
    let sim = &scenario.sim;
    let mut lines: Vec<(f64, String)> =
        scenario.script.iter().map(|e| (e.time, format!("{:<8} {}", "--", e.text))).collect();
    for record in sim.records() {
        if let Some(text) = describe(sim, record.node, &record.event) {
            let name = sim.node(record.node).map_or("?", |n| n.name.as_str());
            lines.push((record.time, format!("{name:<8} {text}")));
        }
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("  {:>9}  {:<8} event", "time (s)", "node");
    for (time, text) in lines {
        println!("  {time:>9.1}  {text}");
    }
}

fn print_final_status(sim: &mut Simulation, devices: &[Device]) {
    println!("-- final status, in each device's own view");
    for index in 0..sim.nodes().len() {
        let offset = sim.true_offset(index).unwrap_or(f64::NAN);
        let Some(reading) = sim.reading(index) else { continue };
        let Some(node) = sim.node(index) else { continue };
        let s = node.engine.system_status(reading);
        let peers = node.engine.peer_status(reading);
        let name = node.name.as_str();
        if peers.is_empty() && s.stratum <= 2 {
            println!("[{name}] reference node, stratum {}, true offset {:+.3} ms", s.stratum, offset * 1e3);
            continue;
        }
        let system = SystemSnapshot::from_status(&s);
        let peers: Vec<AssociationSnapshot> = peers.iter().map(AssociationSnapshot::from_status).collect();
        let dialect = devices.iter().find(|d| d.name == name).map_or(Dialect::Ios, |d| d.dialect);
        let views: Vec<(&str, String)> = match dialect {
            Dialect::Vrp => {
                let peer_dispersion = peers.iter().find(|p| p.tally == '*').and_then(|p| p.dispersion);
                vec![
                    ("display ntp-service status", views::huawei_display_ntp_status(&system, peer_dispersion)),
                    ("display ntp-service sessions (as ntpq -p)", views::ntpq_peers(&peers)),
                ]
            }
            Dialect::Ios => vec![
                ("show ntp status", views::cisco_show_ntp_status(&system)),
                ("show ntp associations", views::cisco_show_ntp_associations(&peers)),
            ],
            Dialect::NtpConf | Dialect::Chrony => vec![("ntpq -p", views::ntpq_peers(&peers))],
        };
        println!("[{name}] true offset {:+.3} ms", offset * 1e3);
        for (command, text) in views {
            println!("[{name}] {command}");
            for line in text.lines() {
                println!("    {line}");
            }
        }
    }
}

/// Seed 001 over real sockets: DeviceC (master 2), DeviceD (client of C),
/// DeviceE (peer of D), each an `ntp-node` runtime in its own thread with
/// short polls and a software clock.
fn udp_lab() -> Result<(), String> {
    use ntp_algo::{AccessClass, AssociationConfig, Prefix};
    use ntp_node::{Control, Node, NodeConfig, SoftwareClock};
    use std::net::SocketAddr;
    use std::time::Duration;

    // One loopback address per node: reference ids are addresses, and loop
    // detection would mistake nodes sharing 127.0.0.1 for one another.
    let bind = |name: &str, ip: &str, configure: &dyn Fn(&mut NodeConfig)| -> Result<Node<SoftwareClock>, String> {
        let mut config = NodeConfig::default();
        config.name = Some(name.to_string());
        config.listen = vec![SocketAddr::new(ip.parse().map_err(|e| format!("{ip}: {e}"))?, 0)];
        configure(&mut config);
        Node::new(config, SoftwareClock::new(0.0, 0.0)).map_err(|e| format!("{name}: {e}"))
    };
    let fast = |a: SocketAddr, mode: AssociationMode| AssociationConfig::new(mode, a).with_iburst(true).with_poll(1, 1);
    let first = |node: &Node<SoftwareClock>| node.local_addrs().first().copied().ok_or("no local address");
    let device_c = bind("DeviceC", "127.0.1.31", &|c| c.engine.local_reference_stratum = Some(2))?;
    let c = first(&device_c)?;
    let e_ip: std::net::IpAddr = "127.0.2.2".parse().map_err(|e| format!("{e}"))?;
    let device_d = bind("DeviceD", "127.0.2.1", &|d| {
        d.associations.push(fast(c, AssociationMode::Client));
        d.engine.access.add(Prefix::host(e_ip), AccessClass::Peer);
    })?;
    let d = first(&device_d)?;
    let device_e = bind("DeviceE", "127.0.2.2", &|e| e.associations.push(fast(d, AssociationMode::SymmetricActive)))?;
    let e = first(&device_e)?;
    let duration = Duration::from_secs(40);
    println!("== seed-001 over UDP on loopback for {} s: DeviceC {c}, DeviceD {d}, DeviceE {e}", duration.as_secs());
    let handles: Vec<_> = [device_c, device_d, device_e]
        .into_iter()
        .map(|mut node| {
            std::thread::spawn(move || -> Result<String, String> {
                node.run(&Control::default(), Some(duration)).map_err(|e| e.to_string())?;
                let snapshot = node.snapshot();
                Ok(views::ntpq_peers(&snapshot.associations))
            })
        })
        .collect();
    for (name, handle) in ["DeviceC", "DeviceD", "DeviceE"].into_iter().zip(handles) {
        let table = handle.join().map_err(|_| "a node thread panicked".to_string())??;
        println!("[{name}] ntpq -p");
        for line in table.lines() {
            println!("    {line}");
        }
    }
    Ok(())
}
