//! The UDP runtime of the `node` and `lab` examples: a software clock that
//! the engine disciplines (never the system clock), a UDP socket, and the
//! loop that feeds one to the other.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use ntp_algo::RateLimitConfig;
use ntp_algo::status;
use ntp_algo::{AccessClass, AccessList, Prefix};
use ntp_algo::{AssociationConfig, AssociationMode};
use ntp_algo::{ClockAction, Engine, EngineConfig, Output};
use ntp_wire::auth::Keyring;
use ntp_wire::{NtpDuration, NtpTimestamp};

/// A clock that runs from the system clock's reading at start, at a
/// frequency and phase the engine controls.
pub(crate) struct SoftClock {
    base: NtpTimestamp,
    start: Instant,
    last: Instant,
    phase: f64,
    frequency_ppm: f64,
    error_ppm: f64,
}

impl SoftClock {
    /// Starts at the system time plus `offset` seconds; `error_ppm` is an
    /// intrinsic frequency error, for demonstrations.
    pub(crate) fn new(offset: f64, error_ppm: f64) -> Self {
        let now = Instant::now();
        SoftClock {
            base: NtpTimestamp::from_system_time(SystemTime::now()),
            start: now,
            last: now,
            phase: offset,
            frequency_ppm: 0.0,
            error_ppm,
        }
    }

    /// The clock's reading now.
    pub(crate) fn now(&mut self) -> NtpTimestamp {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.phase += dt * (self.frequency_ppm + self.error_ppm) * 1e-6;
        self.last = now;
        let elapsed = now.duration_since(self.start).as_secs_f64();
        self.base + NtpDuration::from_seconds_f64(elapsed + self.phase)
    }

    /// Applies what the engine asked for.
    pub(crate) fn apply(&mut self, action: ClockAction) {
        self.now();
        match action {
            ClockAction::Step { offset } => self.phase += offset,
            ClockAction::SetFrequency { ppm } => self.frequency_ppm = ppm,
            _ => {}
        }
    }

    /// How far this clock is from the system clock, seconds.
    pub(crate) fn offset_from_system(&mut self) -> f64 {
        let ours = self.now();
        (ours - NtpTimestamp::from_system_time(SystemTime::now())).to_seconds_f64()
    }
}

/// One association from the command line: `ADDR:PORT[,key=N][,minpoll=N][,maxpoll=N][,iburst][,burst][,prefer]`.
pub(crate) fn parse_association(mode: AssociationMode, spec: &str) -> Result<AssociationConfig, String> {
    let mut parts = spec.split(',');
    let address: SocketAddr =
        parts.next().unwrap_or_default().parse().map_err(|e| format!("{spec:?}: the address must be IP:PORT ({e})"))?;
    let mut config = AssociationConfig::new(mode, address);
    for option in parts {
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        let number = |what: &str| -> Result<i64, String> {
            value.parse::<i64>().map_err(|_| format!("{spec:?}: {what} needs a number, got {value:?}"))
        };
        match name {
            "key" => config.key_id = Some(u32::try_from(number("key")?).map_err(|_| format!("{spec:?}: bad key id"))?),
            "minpoll" => config.min_poll = i8::try_from(number("minpoll")?).map_err(|_| "minpoll out of range")?,
            "maxpoll" => config.max_poll = i8::try_from(number("maxpoll")?).map_err(|_| "maxpoll out of range")?,
            "iburst" => config.iburst = true,
            "burst" => config.burst = true,
            "prefer" => config.prefer = true,
            _ => return Err(format!("{spec:?}: unknown option {name:?}")),
        }
    }
    config.validate().map_err(|e| format!("{spec:?}: {e}"))?;
    Ok(config)
}

/// Everything the node can be told.
#[derive(Default)]
pub(crate) struct NodeOptions {
    /// Where to listen.
    pub(crate) listen: Option<SocketAddr>,
    /// Associations to configure.
    pub(crate) associations: Vec<AssociationConfig>,
    /// Key file (ntp.keys or chrony.keys syntax, told apart by content).
    pub(crate) keyfile: Option<PathBuf>,
    /// Trusted key list (`1 2 5-7`); default: every key in the file.
    pub(crate) trusted: Option<String>,
    /// Access rules.
    pub(crate) access: Vec<(Prefix, AccessClass)>,
    /// Class for sources no rule matches (default peer, or serve when rules exist? see docs).
    pub(crate) access_default: Option<AccessClass>,
    /// `ntp authenticate`.
    pub(crate) authenticate: bool,
    /// `ntp broadcast client`.
    pub(crate) broadcast_client: bool,
    /// `ntp master N`.
    pub(crate) master: Option<u8>,
    /// Rate limiting for the server.
    pub(crate) rate_limit: bool,
    /// Stop after this many seconds.
    pub(crate) duration: Option<f64>,
    /// Print the association table this often, seconds.
    pub(crate) status_every: Option<f64>,
    /// Start the software clock this many seconds off the system clock.
    pub(crate) clock_offset: f64,
    /// Intrinsic frequency error of the software clock, ppm.
    pub(crate) clock_error_ppm: f64,
    /// Print no event lines.
    pub(crate) quiet: bool,
}

/// Reads a key file in either dialect.
pub(crate) fn load_keys(path: &PathBuf, trusted: Option<&str>) -> Result<Keyring, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let chrony = text.contains("ASCII:") || text.contains("HEX:");
    let mut ring = if chrony { Keyring::from_chrony_keys(&text) } else { Keyring::from_ntp_keys(&text) }
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Without --trusted every key in the file is trusted, in both dialects
    // (an ntp.keys file alone trusts nothing until its trustedkey list).
    let ids: Vec<u32> = ring.iter().map(|(k, _)| k.id()).collect();
    for id in ids {
        ring.set_trusted(id, trusted.is_none());
    }
    if let Some(list) = trusted {
        ring.trust_list(list).map_err(|e| format!("trusted keys {list:?}: {e}"))?;
    }
    Ok(ring)
}

/// Builds the engine the options describe.
pub(crate) fn build_engine(opts: &NodeOptions, keys: Keyring, now: NtpTimestamp) -> Result<Engine, String> {
    let listen = opts.listen.ok_or("--listen is required")?;
    let default_class = opts.access_default.unwrap_or(AccessClass::Peer);
    let mut access = AccessList::new(default_class);
    for (prefix, class) in &opts.access {
        access.add(*prefix, *class);
    }
    let mut config = EngineConfig::default()
        .with_local_address(listen.ip())
        .with_authentication_required(opts.authenticate)
        .with_access(access)
        .with_broadcast_client(opts.broadcast_client);
    config.local_reference_stratum = opts.master;
    if opts.rate_limit {
        config.responder.rate_limit = Some(RateLimitConfig::default());
    }
    let mut engine = Engine::new(config, keys, now);
    for association in &opts.associations {
        engine.add_association(*association, now).map_err(|e| format!("{}: {e}", association.address))?;
    }
    Ok(engine)
}

/// One line per association, easy to parse in tests:
/// `ASSOC id=1 address=127.0.0.1:123 mode=client reach=377 stratum=9 offset=0.000012 delay=0.000100 jitter=0.000010 selection=*`
pub(crate) fn machine_lines(engine: &Engine, now: NtpTimestamp) -> String {
    let mut out = String::new();
    let s = engine.system_status(now);
    out.push_str(&format!(
        "SYSTEM synchronized={} stratum={} refid={} offset={:.9} frequency_ppm={:.4} peer={}\n",
        u8::from(s.synchronized),
        s.stratum,
        s.reference_id.as_ipv4(),
        s.offset,
        s.frequency_ppm,
        s.system_peer.map_or("-".to_string(), |a| a.to_string()),
    ));
    for p in engine.peer_status(now) {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.9}"));
        out.push_str(&format!(
            "ASSOC id={} address={} mode={} reach={:o} stratum={} offset={} delay={} jitter={} selection={} samples={}\n",
            p.id,
            p.address,
            p.mode.name(),
            p.reach,
            p.stratum,
            f(p.offset),
            f(p.delay),
            f(p.jitter),
            p.selection.tally(),
            engine.association(p.id).map_or(0, |a| a.counters().samples),
        ));
    }
    out
}

/// Runs a node until `duration` passes (or forever).
pub(crate) fn run(opts: &NodeOptions, name: &str) -> Result<(), String> {
    let listen = opts.listen.ok_or("--listen is required")?;
    let socket = UdpSocket::bind(listen).map_err(|e| format!("bind {listen}: {e}"))?;
    socket.set_broadcast(true).map_err(|e| e.to_string())?;
    let keys = match &opts.keyfile {
        Some(path) => load_keys(path, opts.trusted.as_deref())?,
        None => Keyring::new(),
    };
    let mut clock = SoftClock::new(opts.clock_offset, opts.clock_error_ppm);
    let mut engine = build_engine(opts, keys, clock.now())?;
    let started = Instant::now();
    let mut next_status = opts.status_every.map(|s| started + Duration::from_secs_f64(s));
    let mut buf = [0u8; 2048];
    println!("{name}: listening on {listen}");
    loop {
        // Drain everything the engine wants done.
        let deadline = loop {
            match engine.poll_output() {
                Output::Transmit(t) => {
                    if let Err(e) = socket.send_to(t.payload(), t.destination) {
                        eprintln!("{name}: send to {}: {e}", t.destination);
                    }
                }
                Output::Clock(action) => clock.apply(action),
                Output::Event(event) if !opts.quiet => {
                    println!("{name}: [{:8.3}s] {event:?}", started.elapsed().as_secs_f64());
                }
                Output::Timeout(at) => break at,
                _ => {}
            }
        };
        if let Some(limit) = opts.duration
            && started.elapsed().as_secs_f64() >= limit
        {
            let now = clock.now();
            print!("{}", status::ntpq_peers(&engine.peer_status(now)));
            print!("{}", machine_lines(&engine, now));
            return Ok(());
        }
        if let Some(at) = next_status
            && Instant::now() >= at
        {
            let now = clock.now();
            print!("{}", status::ntpq_peers(&engine.peer_status(now)));
            next_status = opts.status_every.map(|s| at + Duration::from_secs_f64(s));
        }
        let now = clock.now();
        let mut wait = (deadline - now).to_seconds_f64().clamp(0.001, 1.0);
        if let Some(limit) = opts.duration {
            wait = wait.min((limit - started.elapsed().as_secs_f64()).max(0.001));
        }
        socket.set_read_timeout(Some(Duration::from_secs_f64(wait))).map_err(|e| e.to_string())?;
        match socket.recv_from(&mut buf) {
            Ok((len, from)) => {
                let now = clock.now();
                engine.handle_datagram(now, from, buf.get(..len).unwrap_or(&[]));
            }
            Err(e) if is_transient(&e) => {}
            Err(e) => return Err(format!("receive: {e}")),
        }
        let now = clock.now();
        if (now - engine.next_deadline()).to_bits() >= 0 {
            engine.handle_timeout(now);
        }
    }
}

/// Parses the node's command line.
pub(crate) fn parse_node_args(args: &[String]) -> Result<NodeOptions, String> {
    let mut opts = NodeOptions::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => opts.listen = Some(value("--listen")?.parse().map_err(|e| format!("--listen: {e}"))?),
            "--server" => opts.associations.push(parse_association(AssociationMode::Client, &value("--server")?)?),
            "--peer" => opts.associations.push(parse_association(AssociationMode::SymmetricActive, &value("--peer")?)?),
            "--broadcast" => {
                opts.associations.push(parse_association(AssociationMode::BroadcastServer, &value("--broadcast")?)?)
            }
            "--broadcast-client" => opts.broadcast_client = true,
            "--keyfile" => opts.keyfile = Some(PathBuf::from(value("--keyfile")?)),
            "--trusted" => opts.trusted = Some(value("--trusted")?),
            "--access" => {
                let rule = value("--access")?;
                let (prefix, class) =
                    rule.split_once('=').ok_or_else(|| format!("--access {rule:?}: expected PREFIX=CLASS"))?;
                let prefix: Prefix = prefix.parse().map_err(|e| format!("--access {rule:?}: {e}"))?;
                let class: AccessClass = class.parse().map_err(|e| format!("--access {rule:?}: {e}"))?;
                opts.access.push((prefix, class));
            }
            "--access-default" => {
                let class = value("--access-default")?;
                opts.access_default = Some(class.parse().map_err(|e| format!("--access-default: {e}"))?);
            }
            "--authenticate" => opts.authenticate = true,
            "--master" => opts.master = Some(value("--master")?.parse().map_err(|e| format!("--master: {e}"))?),
            "--rate-limit" => opts.rate_limit = true,
            "--duration" => opts.duration = Some(value("--duration")?.parse().map_err(|e| format!("--duration: {e}"))?),
            "--status-every" => {
                opts.status_every = Some(value("--status-every")?.parse().map_err(|e| format!("--status-every: {e}"))?)
            }
            "--clock-offset" => {
                opts.clock_offset = value("--clock-offset")?.parse().map_err(|e| format!("--clock-offset: {e}"))?
            }
            "--clock-error-ppm" => {
                opts.clock_error_ppm =
                    value("--clock-error-ppm")?.parse().map_err(|e| format!("--clock-error-ppm: {e}"))?
            }
            "--quiet" => opts.quiet = true,
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    Ok(opts)
}

/// `true` for errors a UDP receive may report spuriously.
pub(crate) fn is_transient(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionRefused)
}
