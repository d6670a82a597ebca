//! The `ntp-node` command line (clap): `run` starts a node, `status`
//! shows the status file a running node writes.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ntp_algo::{AccessClass, AccessList, AssociationConfig, AssociationMode, Prefix, RateLimitConfig};
use ntp_wire::auth::Keyring;

use crate::clock::{Clock, MAX_SLEW_PPM, SoftwareClock, SystemClock};
use crate::keys::{self, KeyFileDialect};
use crate::nts::{NtsKeServerSettings, NtsKeTarget};
use crate::runtime::{Control, LogFormat, Node, NodeConfig};
use crate::snapshot::StatusSnapshot;
use crate::views::{self, View};

/// The NTP port.
const NTP_PORT: u16 = 123;

/// An NTP node (RFC 5905) on UDP, driven by the ntp-algo engine.
#[derive(Debug, Parser)]
#[command(name = "ntp-node", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node until SIGINT/SIGTERM (or --duration), then print its final status.
    Run(Box<RunArgs>),
    /// Show the status a running node writes to its --status-file.
    Status(StatusArgs),
    /// Read a configuration file (ntp.conf, chrony.conf, Cisco IOS, Huawei
    /// VRP) and print what it means; exit status 1 with the line's error
    /// when it is refused.
    CheckConfig(CheckConfigArgs),
}

/// Options of `ntp-node check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Its dialect: ntp.conf (ntpconf), chrony, ios or vrp [default: detected].
    #[arg(long, value_name = "DIALECT")]
    pub dialect: Option<ntp_config::Dialect>,
}

/// Which clock the node disciplines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClockKind {
    /// A software clock started from the system time (plus --offset); the
    /// system clock is never touched.
    Software,
    /// The Linux system clock via clock_adjtime (needs CAP_SYS_TIME).
    System,
}

/// Options of `ntp-node run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file in ntp.conf, chrony.conf, Cisco IOS or Huawei VRP
    /// syntax; the other options add to it or replace its settings (see
    /// the `config` module: lists add, --listen/--master/--orphan/--drift-file
    /// replace).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The dialect of --config: ntp.conf (ntpconf), chrony, ios or vrp [default: detected].
    #[arg(long, value_name = "DIALECT", requires = "config")]
    pub dialect: Option<ntp_config::Dialect>,

    /// UDP port of the remote sources read from --config (the vendor
    /// dialects have no syntax for one) [default: 123].
    #[arg(long, value_name = "PORT", requires = "config")]
    pub port: Option<u16>,

    /// Address to listen on, IP:PORT (repeatable; IPv4 and IPv6).
    #[arg(short, long = "listen", value_name = "IP:PORT", default_value = "0.0.0.0:123")]
    pub listen: Vec<SocketAddr>,

    /// A server to poll (client association): `ADDR[:PORT]` (port 123 by
    /// default) followed by any of `,key=ID` `,minpoll=LOG2S` `,maxpoll=LOG2S`
    /// `,iburst` `,burst` `,prefer`, or `,nts` (RFC 8915: cookies from the
    /// host's NTS-KE server, port 4460 or `,ntsport=PORT`; its certificate
    /// must name ADDR as written). Poll exponents in log2 seconds (default 6..10).
    #[arg(long = "server", value_name = "SPEC")]
    pub servers: Vec<String>,

    /// A symmetric active peer: `ADDR[:PORT]` and options as for --server.
    #[arg(long = "peer", value_name = "SPEC")]
    pub peers: Vec<String>,

    /// Send broadcasts to this address: `ADDR[:PORT]` with `,key=ID` and `,minpoll=LOG2S`.
    #[arg(long = "broadcast", value_name = "SPEC")]
    pub broadcasts: Vec<String>,

    /// Listen to broadcast servers (`ntp broadcast client`).
    #[arg(long)]
    pub broadcast_client: bool,

    /// Key file, ntp.keys or chrony.keys syntax.
    #[arg(long, value_name = "PATH")]
    pub keyfile: Option<PathBuf>,

    /// The key file's syntax [default: detected: chrony if a secret has a HEX:/ASCII: prefix].
    #[arg(long, value_name = "DIALECT")]
    pub keyfile_format: Option<KeyFileDialect>,

    /// A key, as an ntp.keys line "ID TYPE SECRET" (repeatable).
    #[arg(long = "key", value_name = "\"ID TYPE SECRET\"")]
    pub keys: Vec<String>,

    /// Trusted key ids, e.g. "1 2 5-7" [default: every key given].
    #[arg(long = "trusted-key", visible_alias = "trusted", value_name = "LIST")]
    pub trusted_keys: Option<String>,

    /// Use only authenticated sources (`ntp authenticate`).
    #[arg(long)]
    pub authenticate: bool,

    /// Serve the local clock at this stratum (1..=15) when no better source
    /// is reachable (`ntp master N`).
    #[arg(long, value_name = "STRATUM", value_parser = clap::value_parser!(u8).range(1..=15))]
    pub master: Option<u8>,

    /// Orphan mode at this stratum (1..=15) (`tos orphan N`).
    #[arg(long, value_name = "STRATUM", value_parser = clap::value_parser!(u8).range(1..=15))]
    pub orphan: Option<u8>,

    /// Seconds after start before orphan mode may take over.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub orphan_wait: f64,

    /// Access rule CLASS=PREFIX (PREFIX=CLASS is read too); CLASS is peer,
    /// serve, serve-only, query-only or ignore; PREFIX is ADDR[/LEN] (repeatable).
    #[arg(long = "access", value_name = "CLASS=PREFIX")]
    pub access: Vec<String>,

    /// Shorthand for --access peer=PREFIX (repeatable).
    #[arg(long = "allow", value_name = "PREFIX")]
    pub allow: Vec<Prefix>,

    /// Shorthand for --access ignore=PREFIX (repeatable).
    #[arg(long = "deny", value_name = "PREFIX")]
    pub deny: Vec<Prefix>,

    /// Class of sources no rule matches.
    #[arg(long, value_name = "CLASS", default_value = "peer")]
    pub access_default: AccessClass,

    /// Rate-limit clients (ntpd's `discard` defaults: average 8 s, minimum
    /// 2 s, burst 8), answering excess requests with KoD RATE.
    #[arg(long)]
    pub rate_limit: bool,

    /// The clock to discipline.
    #[arg(long, value_name = "KIND", default_value = "software")]
    pub clock: ClockKind,

    /// Start the software clock this many seconds off the system clock
    /// (positive: ahead).
    #[arg(
        long,
        visible_alias = "clock-offset",
        value_name = "SECONDS",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub offset: f64,

    /// Intrinsic frequency error of the software clock, ppm (positive: fast).
    #[arg(
        long,
        visible_alias = "clock-error-ppm",
        value_name = "PPM",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub frequency_error: f64,

    /// Offsets above this are stepped, not slewed, seconds (0: never step).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.128)]
    pub step_threshold: f64,

    /// Drift file: the frequency correction (ppm) saved across restarts.
    #[arg(long, value_name = "PATH")]
    pub drift_file: Option<PathBuf>,

    /// How often to save the drift file while synchronized, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600.0)]
    pub drift_interval: f64,

    /// Write the JSON status snapshot here (replaced atomically).
    #[arg(long, value_name = "PATH")]
    pub status_file: Option<PathBuf>,

    /// How often to rewrite the status file, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub status_interval: f64,

    /// Print the ntpq-style association table this often, seconds.
    #[arg(long, value_name = "SECONDS")]
    pub status_every: Option<f64>,

    /// Log events as JSON lines instead of sentences.
    #[arg(long)]
    pub json_log: bool,

    /// Log packets rejected by a packet test too.
    #[arg(long)]
    pub verbose: bool,

    /// Log no events.
    #[arg(long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Stop after this many seconds (for tests) [default: run until a signal].
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Use one recvfrom/sendto per datagram instead of recvmmsg/sendmmsg.
    #[arg(long)]
    pub no_batch: bool,

    /// Serve NTS-KE (RFC 8915 §4) and NTS with this certificate chain
    /// (PEM, leaf first); needs --nts-key.
    #[arg(long, value_name = "PATH", requires = "nts_key")]
    pub nts_cert: Option<PathBuf>,

    /// The private key (PEM) of --nts-cert.
    #[arg(long, value_name = "PATH", requires = "nts_cert")]
    pub nts_key: Option<PathBuf>,

    /// TCP address of the NTS-KE server, IP:PORT (repeatable) [default:
    /// each listen address, port 4460].
    #[arg(long, value_name = "IP:PORT", requires = "nts_cert")]
    pub nts_listen: Vec<SocketAddr>,

    /// Make a new NTS master key this often, seconds (chrony's
    /// `ntsrotate`; 0: never) [default: 604800, a week].
    #[arg(long, value_name = "SECONDS", requires = "nts_cert")]
    pub nts_rotate: Option<u32>,

    /// Trust roots (PEM) for the NTS-KE servers of `,nts` associations
    /// (repeatable) [default: the system's trust store].
    #[arg(long = "nts-trusted-cert", value_name = "PATH")]
    pub nts_trusted_certs: Vec<PathBuf>,
}

/// Options of `ntp-node status`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "host"])))]
pub struct StatusArgs {
    /// The status file a node writes (its --status-file).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// How to show it.
    #[arg(long, value_name = "VIEW", default_value = "json")]
    pub view: View,

    /// Ask a running server over mode 6 (as ntpq does) instead: HOST[:PORT].
    #[arg(long, value_name = "HOST[:PORT]")]
    pub host: Option<String>,

    /// With --host: sign the requests with this key id (from --keyfile).
    #[arg(long, value_name = "ID", requires = "keyfile", requires = "host")]
    pub key: Option<u32>,

    /// With --host: the key file holding --key (ntp.keys or chrony format).
    #[arg(long, value_name = "PATH", requires = "key")]
    pub keyfile: Option<PathBuf>,

    /// With --host: print JSON instead of the peers table and system variables.
    #[arg(long, requires = "host")]
    pub json: bool,

    /// With --host: list the server's recent clients instead (ntpq's mrulist).
    #[arg(long, requires = "host")]
    pub mru: bool,
}

/// A usage error in an option's value, with the option named.
#[derive(Debug, thiserror::Error)]
#[error("{option} {value:?}: {reason}")]
pub struct OptionError {
    /// The option.
    pub option: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

fn option_error(option: &'static str, value: &str, reason: impl ToString) -> OptionError {
    OptionError { option, value: value.to_owned(), reason: reason.to_string() }
}

/// `ADDR[:PORT]`, an IPv6 address with a port in brackets; a host name is
/// resolved (the first address).
pub fn parse_remote(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, NTP_PORT));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| format!("bad port {port:?}"))?),
        None => (text, NTP_PORT),
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host:?} has no address"))
}

/// One association spec: `ADDR[:PORT][,key=N][,minpoll=N][,maxpoll=N][,iburst][,burst][,prefer]`.
pub fn parse_association(
    option: &'static str,
    mode: AssociationMode,
    spec: &str,
) -> Result<AssociationConfig, OptionError> {
    let mut parts = spec.split(',');
    let address = parse_remote(parts.next().unwrap_or_default()).map_err(|e| option_error(option, spec, e))?;
    let mut config = AssociationConfig::new(mode, address);
    for part in parts {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let number = |what: &str| -> Result<i64, OptionError> {
            value
                .parse::<i64>()
                .map_err(|_| option_error(option, spec, format!("{what} needs a number, got {value:?}")))
        };
        let range = |what: &str| option_error(option, spec, format!("{what} out of range"));
        match name {
            "key" => config.key_id = Some(u32::try_from(number("key")?).map_err(|_| range("key"))?),
            "minpoll" => config.min_poll = i8::try_from(number("minpoll")?).map_err(|_| range("minpoll"))?,
            "maxpoll" => config.max_poll = i8::try_from(number("maxpoll")?).map_err(|_| range("maxpoll"))?,
            "iburst" => config.iburst = true,
            "burst" => config.burst = true,
            "prefer" => config.prefer = true,
            "nts" => config = config.with_nts(true),
            // Read by `nts_target`.
            "ntsport" => {
                u16::try_from(number("ntsport")?).map_err(|_| range("ntsport"))?;
            }
            _ => return Err(option_error(option, spec, format!("unknown option {name:?}"))),
        }
    }
    config.validate().map_err(|e| option_error(option, spec, e))?;
    Ok(config)
}

/// Where the association of a `--server` spec with `,nts` gets its cookies:
/// the host as written (the name its certificate must carry) at `,ntsport`
/// or 4460. `None` for a spec without `,nts`.
pub fn nts_target(spec: &str, association: &AssociationConfig) -> Result<Option<NtsKeTarget>, OptionError> {
    if !association.nts {
        return Ok(None);
    }
    let mut parts = spec.split(',');
    let remote = parts.next().unwrap_or_default();
    let mut port = ntp_algo::NTS_KE_PORT;
    for part in parts {
        if let Some(value) = part.strip_prefix("ntsport=") {
            port = value.parse().map_err(|_| option_error("--server", spec, "ntsport out of range"))?;
        }
    }
    // The host without its port (and an IPv6 address without brackets).
    let name = if let Ok(addr) = remote.parse::<SocketAddr>() {
        addr.ip().to_string()
    } else if let Ok(ip) = remote.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        ip.to_string()
    } else {
        remote.rsplit_once(':').map_or(remote, |(host, _)| host).to_owned()
    };
    let address = SocketAddr::new(association.address.ip(), port);
    Ok(Some(NtsKeTarget { association: association.address, name, address }))
}

/// `CLASS=PREFIX` or `PREFIX=CLASS`.
pub fn parse_access_rule(rule: &str) -> Result<(Prefix, AccessClass), OptionError> {
    let (left, right) = rule.split_once('=').ok_or_else(|| option_error("--access", rule, "expected CLASS=PREFIX"))?;
    let (class, prefix) = if left.parse::<AccessClass>().is_ok() { (left, right) } else { (right, left) };
    let class = class.parse::<AccessClass>().map_err(|e| option_error("--access", rule, e))?;
    let prefix = prefix.parse::<Prefix>().map_err(|e| option_error("--access", rule, e))?;
    Ok((prefix, class))
}

fn seconds(option: &'static str, value: f64) -> Result<Duration, OptionError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| option_error(option, &value.to_string(), "not a duration in seconds"))
}

impl RunArgs {
    /// The node configuration these options describe (keys read from files).
    pub fn node_config(&self) -> Result<NodeConfig, Box<dyn std::error::Error>> {
        Ok(self.node_config_and_leap()?.0)
    }

    /// [`RunArgs::node_config`], and the leap-seconds list a --config file
    /// names (for the engine once the node runs).
    pub fn node_config_and_leap(
        &self,
    ) -> Result<(NodeConfig, Option<ntp_algo::LeapSecondsList>), Box<dyn std::error::Error>> {
        if let Some(path) = &self.config {
            return crate::config::merge_run_args(path, self);
        }
        let mut config = NodeConfig::default();
        config.listen.clone_from(&self.listen);
        for (option, mode, specs) in [
            ("--server", AssociationMode::Client, &self.servers),
            ("--peer", AssociationMode::SymmetricActive, &self.peers),
            ("--broadcast", AssociationMode::BroadcastServer, &self.broadcasts),
        ] {
            for spec in specs {
                config.associations.push(parse_association(option, mode, spec)?);
            }
        }
        let mut ring = match &self.keyfile {
            Some(path) => keys::read_key_file(path, self.keyfile_format)?,
            None => Keyring::new(),
        };
        keys::add_key_lines(&mut ring, &self.keys)?;
        keys::apply_trusted(&mut ring, self.trusted_keys.as_deref())?;
        config.keys = ring;

        let mut access = AccessList::new(self.access_default);
        for rule in &self.access {
            let (prefix, class) = parse_access_rule(rule)?;
            access.add(prefix, class);
        }
        for prefix in &self.allow {
            access.add(*prefix, AccessClass::Peer);
        }
        for prefix in &self.deny {
            access.add(*prefix, AccessClass::Ignore);
        }
        let engine = &mut config.engine;
        engine.access = access;
        engine.require_authentication = self.authenticate;
        engine.broadcast_client = self.broadcast_client;
        engine.local_reference_stratum = self.master;
        engine.orphan_stratum = self.orphan;
        engine.orphan_wait = self.orphan_wait;
        engine.discipline.step_threshold = self.step_threshold;
        if self.rate_limit {
            engine.responder.rate_limit = Some(RateLimitConfig::default());
        }
        config.drift_file.clone_from(&self.drift_file);
        self.apply_runtime_options(&mut config)?;
        self.apply_nts_options(&mut config)?;
        Ok((config, None))
    }

    /// The NTS options (RFC 8915): the NTS-KE server, the trust roots, and
    /// where each `--server …,nts` gets its cookies. Added to what a
    /// --config file set.
    pub(crate) fn apply_nts_options(&self, config: &mut NodeConfig) -> Result<(), OptionError> {
        for spec in &self.servers {
            let association = parse_association("--server", AssociationMode::Client, spec)?;
            if let Some(target) = nts_target(spec, &association)? {
                config.nts_ke_targets.retain(|t| t.association != target.association);
                config.nts_ke_targets.push(target);
            }
        }
        config.nts_trusted_certs.extend(self.nts_trusted_certs.iter().cloned());
        if let (Some(cert), Some(key)) = (&self.nts_cert, &self.nts_key) {
            let mut settings = NtsKeServerSettings::new(cert.clone(), key.clone());
            settings.listen.clone_from(&self.nts_listen);
            config.nts_ke_server = Some(settings);
        }
        if let Some(seconds) = self.nts_rotate {
            let nts = config.engine.nts_server.unwrap_or_default();
            config.engine.nts_server = Some(nts.with_rotation_interval(seconds));
        }
        Ok(())
    }

    /// The options that are the runtime's alone (I/O, files, logging), with
    /// or without --config.
    pub(crate) fn apply_runtime_options(&self, config: &mut NodeConfig) -> Result<(), OptionError> {
        config.batched_io = !self.no_batch;
        config.drift_interval = seconds("--drift-interval", self.drift_interval)?;
        config.status_file.clone_from(&self.status_file);
        config.status_interval = seconds("--status-interval", self.status_interval)?;
        config.log = if self.quiet {
            LogFormat::Off
        } else if self.json_log {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
        config.verbose = self.verbose;
        Ok(())
    }
}

/// Runs the command line `cli`; the process's exit code.
pub fn main_with(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Status(args) => status(&args),
        Command::CheckConfig(args) => check_config(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ntp-node: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (mut config, leap_seconds) = args.node_config_and_leap()?;
    let duration = args.duration.map(|d| seconds("--duration", d)).transpose()?;
    let every = args.status_every.map(|d| seconds("--status-every", d)).transpose()?;
    let control = Control::from_signals()?;
    match args.clock {
        ClockKind::Software => {
            let clock = SoftwareClock::new(args.offset, args.frequency_error);
            run_node(with_leap(Node::new(config, clock)?, leap_seconds), &control, duration, every)
        }
        ClockKind::System => {
            let (clock, kernel_ppm) = SystemClock::open()?;
            // The tick length lets this clock slew far faster than its
            // frequency alone (see MAX_SLEW_PPM).
            config.engine.discipline.max_slew_rate = MAX_SLEW_PPM * 1e-6;
            println!("ntp-node: disciplining the system clock (kernel frequency {kernel_ppm:+.3} ppm)");
            run_node(with_leap(Node::new(config, clock)?, leap_seconds), &control, duration, every)
        }
    }
}

fn with_leap<C: Clock>(mut node: Node<C>, list: Option<ntp_algo::LeapSecondsList>) -> Node<C> {
    if let Some(list) = list {
        let now = node.clock_mut().now();
        node.engine_mut().set_leap_seconds(list, now);
    }
    node
}

fn check_config(args: &CheckConfigArgs) -> Result<(), Box<dyn std::error::Error>> {
    print!("{}", crate::config::check(&args.file, args.dialect)?);
    Ok(())
}

fn run_node<C: Clock>(
    mut node: Node<C>,
    control: &Control,
    duration: Option<Duration>,
    every: Option<Duration>,
) -> Result<(), Box<dyn std::error::Error>> {
    for addr in node.local_addrs() {
        println!("ntp-node: listening on {addr}");
    }
    let started = std::time::Instant::now();
    loop {
        let left = duration.map(|d| d.saturating_sub(started.elapsed()));
        let chunk = match (left, every) {
            (Some(left), Some(every)) => Some(left.min(every)),
            (left, every) => left.or(every),
        };
        node.run(control, chunk)?;
        let finished = control.stop.load(std::sync::atomic::Ordering::Relaxed)
            || left.is_some_and(|left| chunk.is_some_and(|chunk| chunk >= left));
        if finished {
            break;
        }
        print!("{}", views::ntpq_peers(&node.snapshot().associations));
    }
    let snapshot = node.snapshot();
    print!("{}", views::ntpq_peers(&snapshot.associations));
    println!("ntp-node: stopped after {:.1} s", snapshot.uptime);
    Ok(())
}

fn status(args: &StatusArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(host) = &args.host {
        return crate::query::status_command(host, args.key, args.keyfile.as_deref(), args.json, args.mru);
    }
    // clap's `requires` does not fire beside the required source group.
    if args.mru || args.json {
        return Err("--mru and --json need --host".into());
    }
    let file = args.file.as_deref().ok_or("status needs --file or --host")?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let snapshot = StatusSnapshot::from_json(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    print!("{}", views::render(&snapshot, args.view));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ntp-node").chain(args.iter().copied()))
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(&[&["run"], args].concat()).unwrap().command {
            Command::Run(run) => *run,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn test_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn test_help_lists_every_option_with_units_and_defaults() {
        let help = Cli::command().find_subcommand_mut("run").unwrap().render_long_help().to_string();
        for needle in [
            "--listen",
            "--server",
            "--peer",
            "--broadcast",
            "--broadcast-client",
            "--keyfile",
            "--key ",
            "--trusted-key",
            "--master",
            "--orphan",
            "--access",
            "--allow",
            "--deny",
            "--rate-limit",
            "--clock",
            "--offset",
            "--drift-file",
            "--status-file",
            "--json-log",
            "--duration",
            "--nts-cert",
            "--nts-key",
            "--nts-listen",
            "--nts-rotate",
            "--nts-trusted-cert",
            "log2 seconds",
            "[default: 0.0.0.0:123]",
            "[default: software]",
            "seconds",
            "ppm",
        ] {
            assert!(help.contains(needle), "{needle:?} missing from\n{help}");
        }
    }

    #[test]
    fn test_run_options_build_the_node_config() {
        let args = run_args(&[
            "--listen",
            "127.0.0.2:1123",
            "--listen",
            "[::1]:1123",
            "--server",
            "127.0.0.1:123,iburst,minpoll=0,maxpoll=2,key=3",
            "--peer",
            "192.0.2.9",
            "--broadcast",
            "192.0.2.255:123,minpoll=4",
            "--key",
            "3 md5 secret-text",
            "--trusted-key",
            "3",
            "--master",
            "2",
            "--access",
            "serve=10.0.0.0/8",
            "--access",
            "192.0.2.0/24=ignore",
            "--deny",
            "198.51.100.7",
            "--rate-limit",
            "--offset",
            "-0.05",
            "--duration",
            "2.5",
            "--json-log",
        ]);
        assert_eq!(args.offset, -0.05);
        let config = args.node_config().unwrap();
        assert_eq!(config.listen.len(), 2);
        let [server, peer, broadcast] = config.associations.as_slice() else { panic!("{:?}", config.associations) };
        assert_eq!(
            (server.mode, server.key_id, server.min_poll, server.max_poll, server.iburst),
            (AssociationMode::Client, Some(3), 0, 2, true)
        );
        assert_eq!((peer.mode, peer.address), (AssociationMode::SymmetricActive, "192.0.2.9:123".parse().unwrap()));
        assert_eq!((broadcast.mode, broadcast.min_poll), (AssociationMode::BroadcastServer, 4));
        assert!(config.keys.is_trusted(3));
        let access = &config.engine.access;
        assert_eq!(access.classify("10.1.2.3".parse().unwrap()), AccessClass::Serve);
        assert_eq!(access.classify("192.0.2.4".parse().unwrap()), AccessClass::Ignore);
        assert_eq!(access.classify("198.51.100.7".parse().unwrap()), AccessClass::Ignore);
        assert_eq!(access.classify("203.0.113.1".parse().unwrap()), AccessClass::Peer);
        assert_eq!(config.engine.local_reference_stratum, Some(2));
        assert!(config.engine.responder.rate_limit.is_some());
        assert_eq!(config.log, LogFormat::Json);
    }

    #[test]
    fn test_bad_values_are_clear_errors() {
        let bad = |args: &[&str]| run_args(args).node_config().unwrap_err().to_string();
        assert!(bad(&["--server", "127.0.0.1,minpoll=x"]).contains("minpoll needs a number"));
        assert!(bad(&["--server", "127.0.0.1,color=blue"]).contains("unknown option \"color\""));
        assert!(bad(&["--access", "friend=10.0.0.0/8"]).contains("--access"));
        assert!(bad(&["--key", "1 md5"]).contains("--key: line 1"));
        assert!(bad(&["--keyfile", "/nonexistent/keys"]).contains("/nonexistent/keys"));
        assert!(parse(&["run", "--master", "16"]).is_err());
        assert!(parse(&["run", "--clock", "sundial"]).is_err());
        assert!(parse(&["run", "--quiet", "--verbose"]).is_err());
        assert!(parse(&["status"]).is_err(), "status needs --file or --host");
        assert!(parse(&["status", "--host", "127.0.0.1", "--key", "1"]).is_err(), "--key needs --keyfile");
        assert!(parse(&["status", "--file", "x", "--host", "127.0.0.1"]).is_err());
        assert!(parse(&["status", "--host", "127.0.0.1:4123", "--json"]).is_ok());
        assert!(parse(&["status", "--host", "127.0.0.1", "--mru"]).is_ok());
        let Command::Status(args) = parse(&["status", "--file", "x", "--mru"]).unwrap().command else { panic!() };
        assert!(status(&args).unwrap_err().to_string().contains("need --host"));
    }

    #[test]
    fn test_remote_addresses() {
        assert_eq!(parse_remote("192.0.2.1").unwrap(), "192.0.2.1:123".parse().unwrap());
        assert_eq!(parse_remote("192.0.2.1:4123").unwrap(), "192.0.2.1:4123".parse().unwrap());
        assert_eq!(parse_remote("2001:db8::1").unwrap(), "[2001:db8::1]:123".parse().unwrap());
        assert_eq!(parse_remote("[2001:db8::1]").unwrap(), "[2001:db8::1]:123".parse().unwrap());
        assert_eq!(parse_remote("[2001:db8::1]:9").unwrap(), "[2001:db8::1]:9".parse().unwrap());
        assert!(parse_remote("localhost:notaport").is_err());
    }

    #[test]
    fn test_nts_options_build_the_node_config() {
        let args = run_args(&[
            "--server",
            "127.0.0.1:11123,nts,ntsport=14460,minpoll=0",
            "--server",
            "[::1],nts",
            "--server",
            "192.0.2.1,iburst",
            "--nts-trusted-cert",
            "/etc/ca.pem",
            "--nts-cert",
            "/etc/chain.pem",
            "--nts-key",
            "/etc/key.pem",
            "--nts-listen",
            "127.0.0.1:4461",
            "--nts-rotate",
            "3600",
        ]);
        let config = args.node_config().unwrap();
        let nts: Vec<bool> = config.associations.iter().map(|a| a.nts).collect();
        assert_eq!(nts, [true, true, false]);
        assert_eq!(
            config.nts_ke_targets,
            [
                NtsKeTarget {
                    association: "127.0.0.1:11123".parse().unwrap(),
                    name: "127.0.0.1".to_owned(),
                    address: "127.0.0.1:14460".parse().unwrap(),
                },
                NtsKeTarget {
                    association: "[::1]:123".parse().unwrap(),
                    name: "::1".to_owned(),
                    address: "[::1]:4460".parse().unwrap(),
                },
            ]
        );
        assert_eq!(config.nts_trusted_certs, [PathBuf::from("/etc/ca.pem")]);
        let server = config.nts_ke_server.unwrap();
        assert_eq!((server.cert_chain.to_str(), server.key.to_str()), (Some("/etc/chain.pem"), Some("/etc/key.pem")));
        assert_eq!(server.listen, ["127.0.0.1:4461".parse::<SocketAddr>().unwrap()]);
        assert_eq!(config.engine.nts_server.unwrap().rotation_interval, 3600);
        // NTS is for client associations, without a key; the key file needs its certificate.
        assert!(run_args(&["--peer", "192.0.2.1,nts"]).node_config().is_err());
        assert!(run_args(&["--server", "192.0.2.1,nts,key=1", "--key", "1 md5 x"]).node_config().is_err());
        assert!(run_args(&["--server", "192.0.2.1,nts,ntsport=70000"]).node_config().is_err());
        assert!(parse(&["run", "--nts-cert", "/c.pem"]).is_err());
        // A host name is the name the certificate must carry.
        let association = AssociationConfig::client("192.0.2.7:123".parse().unwrap()).with_nts(true);
        let target = nts_target("time.example:123,nts", &association).unwrap().unwrap();
        assert_eq!((target.name.as_str(), target.address), ("time.example", "192.0.2.7:4460".parse().unwrap()));
        assert_eq!(
            nts_target("192.0.2.7", &AssociationConfig::client("192.0.2.7:123".parse().unwrap())).unwrap(),
            None
        );
    }
}
