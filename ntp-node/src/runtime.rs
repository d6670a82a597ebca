//! The UDP loop: sockets, a clock and an engine, driven by `poll(2)`.
//!
//! One turn of the loop: drain what the engine wants done (apply clock
//! actions, send datagrams, log events), wait in `poll` until a socket is
//! readable or the engine's deadline comes (at most [`MAX_WAIT`]), read
//! every waiting datagram in batches and hand each to the engine with the
//! clock's reading, then give the engine its timeout if it is due.
//!
//! Single-threaded and built only from `poll`, `recvmmsg`/`recvfrom`,
//! `sendmmsg`/`sendto`, `fcntl` and the clock calls, so it also runs under
//! clknetsim, which simulates exactly these calls. No socket timeouts are
//! used: all waiting is in `poll`.
//!
//! NTS-KE (RFC 8915 §4) runs in the same loop: the TCP server that hands
//! out cookies and the clients that fetch them for NTS associations, all
//! non-blocking (see the `nts` module), so the engine that owns the master
//! keys and the cookie jars is only ever touched from this thread.
//!
//! Replies leave through the socket their request came in on (a client of
//! 127.0.0.2 expects its answer from 127.0.0.2); polls and broadcasts leave
//! through the first socket of the destination's address family. Where
//! that matters on a multi-homed host, listen on specific addresses rather
//! than the wildcard (as ntpd does, one socket per interface).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ntp_algo::{
    AssociationConfig, AssociationId, ClockAction, Engine, EngineConfig, Event, NtsKeServerConfig, NtsServerConfig,
    Output, Transmit,
};
use ntp_wire::NtpTimestamp;
use ntp_wire::auth::Keyring;

use crate::clock::{Clock, ClockError, DriftFile, DriftFileError};
use crate::log::{self, LogRecord};
use crate::nts::{
    Answered, KeClients, KeServer, NtsKeServerCounters, NtsKeServerSettings, NtsKeSetupError, NtsKeTarget,
};
use crate::snapshot::StatusSnapshot;
use crate::socket::{self, UdpEndpoint};
use crate::sys::net::{self, RecvBatch};

/// The longest single wait in `poll`: a signal that arrives between the
/// check of the stop flag and the call is noticed within this.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// How often the clock hears the synchronization status.
const SYNC_STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// Most batches read per turn (all sockets together), so a flood of
/// requests cannot starve the engine's timers: 64 batches of 32 datagrams
/// are a few milliseconds of work.
const MAX_BATCHES_PER_TURN: usize = 64;

/// Receive calls in a row that may report errors of earlier sends.
const TRANSIENT_RETRIES: usize = 4;

/// How events are logged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Not at all.
    Off,
    /// One sentence per line on stdout.
    #[default]
    Text,
    /// One JSON object per line on stdout.
    Json,
}

/// Everything a [`Node`] is built from. Start from [`NodeConfig::default`]
/// and set fields.
#[derive(Debug)]
#[non_exhaustive]
pub struct NodeConfig {
    /// Addresses to listen on (port 0: one the kernel picks). IPv4 and IPv6
    /// may be mixed; at least one is needed.
    pub listen: Vec<SocketAddr>,
    /// The engine's configuration. The listen addresses are added to its
    /// `local_addresses` (for loop detection).
    pub engine: EngineConfig,
    /// Associations to configure at start.
    pub associations: Vec<AssociationConfig>,
    /// Symmetric keys, with their trust set.
    pub keys: Keyring,
    /// Use `recvmmsg`/`sendmmsg` where the system has them (default true);
    /// false forces the one-datagram path.
    pub batched_io: bool,
    /// The drift file: read at start as the saved frequency, written every
    /// `drift_interval` while synchronized and at shutdown.
    pub drift_file: Option<PathBuf>,
    /// How often to save the frequency (default one hour, as ntpd).
    pub drift_interval: Duration,
    /// Where to write the JSON status snapshot (atomically replaced).
    pub status_file: Option<PathBuf>,
    /// How often to rewrite the status file (default 1 s).
    pub status_interval: Duration,
    /// How to log events.
    pub log: LogFormat,
    /// Log packets rejected by a test too.
    pub verbose: bool,
    /// Shown before each text log line (`DeviceC: ...`), for several nodes
    /// in one process, as in the lab.
    pub name: Option<String>,
    /// The NTS-KE server (RFC 8915 §4) on TCP; `None`: none. The engine
    /// serves NTS requests with the master keys its `nts_server` settings
    /// rotate (the defaults when not set).
    pub nts_ke_server: Option<NtsKeServerSettings>,
    /// Trust roots (PEM files) for the NTS-KE clients of NTS associations;
    /// empty: the system's trust store.
    pub nts_trusted_certs: Vec<PathBuf>,
    /// Where NTS associations get their cookies, by association address;
    /// an NTS association not listed asks its own host on port 4460, with
    /// the address as the certificate's name.
    pub nts_ke_targets: Vec<NtsKeTarget>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: Vec::new(),
            engine: EngineConfig::default(),
            associations: Vec::new(),
            keys: Keyring::new(),
            batched_io: true,
            drift_file: None,
            drift_interval: Duration::from_secs(3600),
            status_file: None,
            status_interval: Duration::from_secs(1),
            log: LogFormat::Text,
            verbose: false,
            name: None,
            nts_ke_server: None,
            nts_trusted_certs: Vec::new(),
            nts_ke_targets: Vec::new(),
        }
    }
}

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No listen address was given.
    #[error("no listen address")]
    NoListenAddress,
    /// A socket could not be opened or bound.
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error (kind `AddrInUse` when the port is taken).
        source: io::Error,
    },
    /// An association was refused by the engine.
    #[error("association with {address}: {reason}")]
    Association {
        /// Its address.
        address: SocketAddr,
        /// The engine's reason.
        reason: String,
    },
    /// Waiting or receiving failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The clock refused an adjustment.
    #[error("clock: {0}")]
    Clock(#[from] ClockError),
    /// The drift file is unusable.
    #[error("drift file: {0}")]
    Drift(#[from] DriftFileError),
    /// The NTS-KE server or clients could not be set up (certificate, key,
    /// trust roots, TCP port).
    #[error("{0}")]
    Nts(#[from] NtsKeSetupError),
}

/// Flags a signal handler (or another thread) sets to talk to a running
/// node: stop, or print and write the status now.
#[derive(Clone, Debug, Default)]
pub struct Control {
    /// Set to stop the loop at its next turn (SIGINT, SIGTERM).
    pub stop: Arc<AtomicBool>,
    /// Set to print the status snapshot at the next turn (SIGUSR1); the
    /// node clears it.
    pub dump: Arc<AtomicBool>,
}

impl Control {
    /// Flags set by SIGINT and SIGTERM (`stop`) and SIGUSR1 (`dump`).
    /// The handlers only store to an atomic flag, which is
    /// async-signal-safe; `poll` returns EINTR and the loop looks.
    pub fn from_signals() -> io::Result<Self> {
        let control = Control::default();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&control.stop))?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&control.dump))?;
        Ok(control)
    }
}

/// A running NTP node: an engine, a clock and UDP sockets.
pub struct Node<C: Clock> {
    engine: Engine,
    clock: C,
    sockets: Vec<UdpEndpoint>,
    local: Vec<SocketAddr>,
    batch: RecvBatch,
    pollfds: Vec<libc::pollfd>,
    pending: Vec<Transmit>,
    targets: Vec<usize>,
    deadline: NtpTimestamp,
    started: Instant,
    drift: Option<DriftFile>,
    drift_interval: Duration,
    last_drift_save: Instant,
    status_file: Option<PathBuf>,
    status_interval: Duration,
    last_status: Option<Instant>,
    last_sync_status: Option<Instant>,
    log: LogFormat,
    verbose: bool,
    prefix: String,
    send_errors: u64,
    nts: NtsRuntime,
}

/// The NTS-KE side of a node.
#[derive(Debug, Default)]
struct NtsRuntime {
    server: Option<KeServer>,
    /// What the server's answers say about NTP beyond the cookies.
    ntp_server: Option<String>,
    ntp_port: Option<u16>,
    clients: Option<KeClients>,
    /// The NTS associations and where they get their cookies.
    targets: Vec<(AssociationId, NtsKeTarget)>,
    /// Key exchanges that gave cookies the engine took.
    provisioned: u64,
}

impl<C: Clock> std::fmt::Debug for Node<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("local", &self.local).field("clock", &self.clock.name()).finish_non_exhaustive()
    }
}

impl<C: Clock> Node<C> {
    /// Opens the sockets, reads the drift file and builds the engine.
    pub fn new(mut config: NodeConfig, mut clock: C) -> Result<Self, NodeError> {
        if config.listen.is_empty() {
            return Err(NodeError::NoListenAddress);
        }
        let mut sockets = Vec::with_capacity(config.listen.len());
        for addr in &config.listen {
            let socket = UdpEndpoint::bind(*addr, config.batched_io)
                .map_err(|source| NodeError::Bind { addr: *addr, source })?;
            sockets.push(socket);
        }
        let local: Vec<SocketAddr> = sockets.iter().map(UdpEndpoint::local_addr).collect();
        for addr in &local {
            if !addr.ip().is_unspecified() && !config.engine.local_addresses.contains(&addr.ip()) {
                config.engine.local_addresses.push(addr.ip());
            }
        }
        let drift = config.drift_file.map(DriftFile::new);
        if let Some(file) = &drift
            && let Some(ppm) = file.read()?
        {
            config.engine.saved_frequency_ppm = Some(ppm);
            clock.apply(ClockAction::SetFrequency { ppm })?;
        }
        let mut nts = NtsRuntime::default();
        if let Some(settings) = &config.nts_ke_server {
            let listen: Vec<SocketAddr> = if settings.listen.is_empty() {
                local.iter().map(|a| SocketAddr::new(a.ip(), settings.port)).collect()
            } else {
                settings.listen.clone()
            };
            nts.server = Some(KeServer::bind(settings, &listen)?);
            nts.ntp_server.clone_from(&settings.ntp_server);
            // Clients assume port 123 unless told (RFC 8915 §4.1.8).
            nts.ntp_port = settings.ntp_port.or_else(|| local.first().map(SocketAddr::port).filter(|p| *p != 123));
            if config.engine.nts_server.is_none() {
                config.engine.nts_server = Some(NtsServerConfig::default());
            }
        }
        let now = clock.now();
        let mut engine = Engine::new(config.engine, config.keys, now);
        for association in &config.associations {
            let id = engine
                .add_association(*association, now)
                .map_err(|e| NodeError::Association { address: association.address, reason: e.to_string() })?;
            if association.nts {
                let target = config
                    .nts_ke_targets
                    .iter()
                    .find(|t| t.association == association.address)
                    .cloned()
                    .unwrap_or_else(|| NtsKeTarget::for_association(association.address));
                nts.targets.push((id, target));
            }
        }
        if !nts.targets.is_empty() {
            nts.clients = Some(KeClients::new(&config.nts_trusted_certs)?);
        }
        let pollfds =
            sockets.iter().map(|s| libc::pollfd { fd: s.raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
        let started = Instant::now();
        Ok(Node {
            engine,
            clock,
            sockets,
            local,
            batch: RecvBatch::new(),
            pollfds,
            pending: Vec::with_capacity(256),
            targets: Vec::with_capacity(256),
            deadline: now,
            started,
            drift,
            drift_interval: config.drift_interval,
            last_drift_save: started,
            status_file: config.status_file,
            status_interval: config.status_interval,
            last_status: None,
            last_sync_status: None,
            log: config.log,
            verbose: config.verbose,
            prefix: config.name.map(|name| format!("{name}: ")).unwrap_or_default(),
            send_errors: 0,
            nts,
        })
    }

    /// The addresses the sockets are bound to (ports filled in).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, to change its configuration while the node runs.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The clock.
    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }

    /// Whether the sockets still use batched calls (false after the
    /// system refused them, or when configured off).
    pub fn is_batched(&self) -> bool {
        self.sockets.iter().all(UdpEndpoint::is_batched)
    }

    /// The TCP addresses the NTS-KE server listens on (empty without one).
    pub fn nts_ke_addrs(&self) -> Vec<SocketAddr> {
        self.nts.server.as_ref().map(KeServer::local_addrs).unwrap_or_default()
    }

    /// The NTS-KE server's counters (zero without one).
    pub fn nts_ke_server_counters(&self) -> NtsKeServerCounters {
        self.nts.server.as_ref().map(|s| s.counters).unwrap_or_default()
    }

    /// NTS-KE client exchanges so far: (gave cookies the engine took,
    /// failed).
    pub fn nts_ke_client_counts(&self) -> (u64, u64) {
        let failed = self.nts.clients.as_ref().map_or(0, |c| c.failed);
        (self.nts.provisioned, failed)
    }

    /// Datagrams the system refused to send so far.
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }

    /// The status now.
    pub fn snapshot(&mut self) -> StatusSnapshot {
        let now = self.clock.now();
        let uptime = self.started.elapsed().as_secs_f64();
        let mut snapshot = StatusSnapshot::capture(&self.engine, now, self.clock.name(), &self.local, uptime);
        snapshot.batched_io = self.is_batched();
        snapshot.set_nts_ke(&self.nts_ke_server_counters(), self.nts_ke_client_counts());
        snapshot
    }

    /// Runs until `control.stop` is set or `duration` has passed, then
    /// saves the drift file and the status file one last time.
    pub fn run(&mut self, control: &Control, duration: Option<Duration>) -> Result<(), NodeError> {
        let end = duration.map(|d| Instant::now() + d);
        let result = loop {
            if control.stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            if control.dump.swap(false, Ordering::Relaxed) {
                println!("{}", self.snapshot().to_json());
            }
            let now = Instant::now();
            if end.is_some_and(|end| now >= end) {
                break Ok(());
            }
            let limit = end.map_or(MAX_WAIT, |end| end.saturating_duration_since(now).min(MAX_WAIT));
            if let Err(e) = self.turn(limit) {
                break Err(e);
            }
        };
        self.save_drift_if_synchronized();
        self.write_status_file();
        result
    }

    /// One turn of the loop, waiting at most `limit` for a datagram or the
    /// engine's deadline.
    pub fn turn(&mut self, limit: Duration) -> Result<(), NodeError> {
        self.drain(None)?;
        self.housekeeping()?;
        let wait = self.time_to_deadline().min(limit).min(self.nts_wait());
        // Round up, so a deadline 0.3 ms away is not polled for 0 ms over and over.
        let timeout_ms = i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        for pollfd in &mut self.pollfds {
            pollfd.revents = 0;
        }
        // The UDP sockets come first, in order; the NTS-KE descriptors
        // after them change from turn to turn.
        self.pollfds.truncate(self.sockets.len());
        if let Some(server) = &self.nts.server {
            server.pollfds(&mut self.pollfds);
        }
        if let Some(clients) = &self.nts.clients {
            clients.pollfds(&mut self.pollfds);
        }
        match net::poll(&mut self.pollfds, timeout_ms) {
            Ok(_) => {}
            // A signal: the caller looks at its flags.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(source) => return Err(NodeError::Io { what: "poll", source }),
        }
        self.receive_ready()?;
        self.nts_progress()?;
        let now = self.clock.now();
        if (now - self.deadline).to_bits() >= 0 {
            self.engine.handle_timeout(now);
        }
        Ok(())
    }

    /// How long until NTS-KE needs a look (a timeout or a retry).
    fn nts_wait(&self) -> Duration {
        let server = self.nts.server.as_ref().and_then(KeServer::next_deadline);
        let clients = self.nts.clients.as_ref().and_then(KeClients::next_deadline);
        match server.into_iter().chain(clients).min() {
            Some(at) => at.saturating_duration_since(Instant::now()),
            None => MAX_WAIT,
        }
    }

    /// Moves the NTS-KE connections on: the server's answers come from the
    /// engine, the clients' cookies go to it.
    fn nts_progress(&mut self) -> Result<(), NodeError> {
        let mut lines: Vec<(String, Option<AssociationId>)> = Vec::new();
        if let Some(server) = &mut self.nts.server {
            let (engine, clock) = (&mut self.engine, &mut self.clock);
            let config = NtsKeServerConfig { ntp_server: self.nts.ntp_server.as_deref(), ntp_port: self.nts.ntp_port };
            server.progress(
                |request| {
                    // Eight cookies of about 100 bytes, a server name and a port.
                    let mut out = vec![0u8; 4096];
                    let now = clock.now();
                    let answer = engine
                        .nts_ke_answer(now, &request.message, &request.keys, config, &mut out)
                        .map_err(|e| e.to_string())?;
                    let how = answer.refused.map_or(Answered::Served, Answered::Refused);
                    Ok((out.get(..answer.len).unwrap_or(&[]).to_vec(), how))
                },
                |line| lines.push((line, None)),
            );
        }
        let mut provisioned = false;
        if let Some(clients) = &mut self.nts.clients {
            for result in clients.progress(|line| lines.push((line, None))) {
                let id = result.id;
                let keys = result.outcome.keys;
                match self.engine.provision_nts(id, keys, result.outcome.cookies, result.ntp_address) {
                    Ok(()) => {
                        self.nts.provisioned += 1;
                        provisioned = true;
                    }
                    Err(e) => {
                        lines.push((format!("NTS-KE: association {id}: cookies refused: {e}"), Some(id)));
                        if let Some((_, target)) = self.nts.targets.iter().find(|(i, _)| *i == id) {
                            clients.retry_later(id, target.clone(), 1);
                        }
                    }
                }
            }
        }
        for (line, id) in lines {
            self.log_line("nts_ke", line, id);
        }
        if provisioned {
            // The association polls at once: pick up its new deadline.
            self.drain(None)?;
        }
        Ok(())
    }

    /// The engine events NTS-KE acts on.
    fn nts_event(&mut self, event: &Event) {
        match *event {
            Event::NtsKeyExchangeNeeded { id } => self.nts_key_exchange_needed(id),
            Event::Demobilized { id, .. } => {
                if let Some(clients) = &mut self.nts.clients {
                    clients.forget(id);
                }
                self.nts.targets.retain(|(i, _)| *i != id);
            }
            _ => {}
        }
    }

    /// An NTS association needs cookies (none yet, the jar ran out, or an
    /// NTSN): start its key exchange unless one is under way.
    fn nts_key_exchange_needed(&mut self, id: AssociationId) {
        let Some(clients) = &mut self.nts.clients else { return };
        let target = match self.nts.targets.iter().find(|(i, _)| *i == id) {
            Some((_, target)) => target.clone(),
            // An association added while running: its own host, port 4460.
            None => match self.engine.association(id) {
                Some(a) => {
                    let target = NtsKeTarget::for_association(a.config().address);
                    self.nts.targets.push((id, target.clone()));
                    target
                }
                None => return,
            },
        };
        clients.request(id, target);
    }

    fn log_line(&mut self, event: &str, message: String, id: Option<AssociationId>) {
        if self.log == LogFormat::Off {
            return;
        }
        let now = self.clock.now();
        let record = LogRecord {
            time: crate::snapshot::utc_text(now).unwrap_or_default(),
            event: event.to_owned(),
            message,
            id: id.map(|id| id.0),
            address: None,
            offset: None,
            stratum: None,
        };
        self.print(&record);
    }

    fn time_to_deadline(&mut self) -> Duration {
        let seconds = (self.deadline - self.clock.now()).to_seconds_f64();
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
    }

    /// Reads and answers what the sockets `poll` marked readable; then,
    /// when requests were queueing up (a batch of more than one), goes on
    /// reading all batched sockets without going back to `poll` until a
    /// round finds nothing, for at most [`MAX_BATCHES_PER_TURN`] batches.
    ///
    /// Under load this saves a `poll` call per batch; an idle server
    /// sleeps as soon as its queue is empty. (Spinning on empty sockets for
    /// 50 µs more was measured with `bench/loadgen` and changed neither
    /// the rate nor the CPU time per reply: the server slept about twice
    /// per thousand replies either way.) Sockets on the one-datagram
    /// fallback (clknetsim) are read once per turn, as that simulator
    /// advances time only in `poll`.
    fn receive_ready(&mut self) -> Result<(), NodeError> {
        let mut batches = 0;
        let mut queueing = false;
        for index in 0..self.sockets.len() {
            let readable = self.pollfds.get(index).is_some_and(|p| p.revents & (libc::POLLIN | libc::POLLERR) != 0);
            if readable {
                // One datagram on the fallback path, a batch otherwise.
                queueing |= self.receive_batch(index)? > 1;
                batches += 1;
            }
        }
        while queueing && batches < MAX_BATCHES_PER_TURN {
            queueing = false;
            for index in 0..self.sockets.len() {
                if self.sockets.get(index).is_some_and(UdpEndpoint::is_batched) {
                    queueing |= self.receive_batch(index)? > 0;
                    batches += 1;
                }
            }
        }
        Ok(())
    }

    /// Reads one batch from socket `index` and answers it; returns how
    /// many datagrams it held.
    fn receive_batch(&mut self, index: usize) -> Result<usize, NodeError> {
        let Some(socket) = self.sockets.get_mut(index) else { return Ok(0) };
        let mut received = 0;
        // An ICMP error for an earlier send is reported once, by one call;
        // the datagrams behind it are still there.
        for _ in 0..TRANSIENT_RETRIES {
            match socket.receive(&mut self.batch) {
                Ok(count) => {
                    received = count;
                    break;
                }
                Err(e) if socket::is_transient(&e) => {}
                Err(source) => return Err(NodeError::Io { what: "receive", source }),
            }
        }
        if received == 0 {
            return Ok(0);
        }
        // One reading for the whole batch, taken as the call returns: the
        // datagrams were all queued before this instant, and a reading per
        // datagram taken after answering the ones before it would be
        // later, not earlier, for all but the first. (Kernel receive
        // timestamps would be better still; the clock here is the
        // runtime's, which may not be the system clock.)
        let now = self.clock.now();
        for (from, bytes) in self.batch.datagrams() {
            self.engine.handle_datagram(now, from, bytes);
        }
        // Answers go out through the socket the requests came in on.
        self.drain(Some(index))?;
        Ok(received)
    }

    /// Applies clock actions, logs events and sends datagrams until the
    /// engine has nothing more, then remembers its deadline.
    fn drain(&mut self, reply_via: Option<usize>) -> Result<(), NodeError> {
        self.pending.clear();
        self.targets.clear();
        loop {
            match self.engine.poll_output() {
                Output::Transmit(transmit) => {
                    self.targets.push(route(&self.local, reply_via, transmit.destination));
                    self.pending.push(transmit);
                }
                Output::Clock(action) => self.clock.apply(action)?,
                Output::Event(event) => {
                    self.nts_event(&event);
                    if self.log != LogFormat::Off && (self.verbose || !log::is_verbose_only(&event)) {
                        let now = self.clock.now();
                        self.print(&log::describe(&event, &self.engine, now));
                    }
                }
                Output::Timeout(at) => {
                    self.deadline = at;
                    break;
                }
                // An output kind this runtime does not know yet (the enum
                // is open to additions).
                _ => {}
            }
        }
        self.flush();
        Ok(())
    }

    /// Sends the pending datagrams, each run of the same socket in one call.
    fn flush(&mut self) {
        let mut start = 0;
        while start < self.pending.len() {
            let target = self.targets.get(start).copied().unwrap_or(usize::MAX);
            let run = self.targets.get(start..).unwrap_or(&[]).iter().take_while(|t| **t == target).count();
            let datagrams = self.pending.get(start..start + run).unwrap_or(&[]);
            let mut errors = Vec::new();
            match self.sockets.get_mut(target) {
                Some(socket) => socket.send(
                    datagrams,
                    |t: &Transmit| (t.destination, t.payload()),
                    |destination, error| errors.push((destination, error)),
                ),
                None => errors.extend(
                    datagrams.iter().map(|t| (t.destination, io::Error::other("no socket of this address family"))),
                ),
            }
            for (destination, error) in errors {
                self.send_errors += 1;
                if self.log != LogFormat::Off {
                    eprintln!("{}send to {destination}: {error}", self.prefix);
                }
            }
            start += run.max(1);
        }
        self.pending.clear();
        self.targets.clear();
    }

    fn print(&self, record: &LogRecord) {
        match self.log {
            LogFormat::Off => {}
            LogFormat::Text => println!("{}{}", self.prefix, record.text()),
            LogFormat::Json => println!("{}", record.json()),
        }
    }

    /// Periodic work: the kernel's sync status, the status file and the
    /// drift file.
    fn housekeeping(&mut self) -> Result<(), NodeError> {
        if self.last_sync_status.is_none_or(|last| last.elapsed() >= SYNC_STATUS_INTERVAL) {
            self.last_sync_status = Some(Instant::now());
            let s = self.engine.system_status(self.clock.now());
            // RFC 5905 §11.3: the root distance bounds the error.
            let max_error = s.root_delay / 2.0 + s.root_dispersion;
            self.clock.set_sync_status(s.synchronized, s.jitter, max_error)?;
        }
        let due = self.last_status.is_none_or(|last| last.elapsed() >= self.status_interval);
        if self.status_file.is_some() && due {
            self.write_status_file();
        }
        if self.last_drift_save.elapsed() >= self.drift_interval {
            self.last_drift_save = Instant::now();
            self.save_drift_if_synchronized();
        }
        Ok(())
    }

    fn write_status_file(&mut self) {
        self.last_status = Some(Instant::now());
        let Some(path) = self.status_file.clone() else { return };
        let json = self.snapshot().to_json();
        if let Err(e) = write_atomically(&path, json.as_bytes()) {
            eprintln!("ntp-node: status file {}: {e}", path.display());
        }
    }

    /// Saves the learned frequency, but only once the discipline has one
    /// (state SYNC): an unsynchronized node would overwrite a good value
    /// with a guess.
    fn save_drift_if_synchronized(&mut self) {
        let Some(drift) = &self.drift else { return };
        let status = self.engine.system_status(self.clock.now());
        if status.synchronized && status.clock_state == ntp_algo::ClockState::Sync {
            if let Err(e) = drift.write(status.frequency_ppm) {
                eprintln!("ntp-node: {e}");
            }
        }
    }
}

/// The socket for a datagram to `destination`: the one a request came in
/// on when that is of the destination's family, else the first of the
/// family. `usize::MAX` when there is none.
fn route(local: &[SocketAddr], reply_via: Option<usize>, destination: SocketAddr) -> usize {
    if let Some(index) = reply_via
        && local.get(index).is_some_and(|l| l.is_ipv4() == destination.is_ipv4())
    {
        return index;
    }
    local.iter().position(|l| l.is_ipv4() == destination.is_ipv4()).unwrap_or(usize::MAX)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// reader sees the old content or the new, never a partial file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SoftwareClock;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn test_route_prefers_the_receiving_socket_of_the_same_family() {
        let local = [addr("127.0.0.1:1"), addr("[::1]:2"), addr("127.0.0.2:3")];
        assert_eq!(route(&local, Some(2), addr("192.0.2.1:123")), 2);
        assert_eq!(route(&local, None, addr("192.0.2.1:123")), 0);
        assert_eq!(route(&local, Some(2), addr("[2001:db8::1]:123")), 1);
        assert_eq!(route(&local[..1], None, addr("[2001:db8::1]:123")), usize::MAX);
    }

    /// A stratum-2 server (`--master 2`) and a client of it, each with its
    /// own socket and software clock, in this thread, over loopback.
    fn two_nodes(batched: bool, client_offset: f64) -> (Node<SoftwareClock>, Node<SoftwareClock>) {
        let mut server = NodeConfig::default();
        server.listen = vec![addr("127.0.0.1:0")];
        server.engine.local_reference_stratum = Some(2);
        server.log = LogFormat::Off;
        server.batched_io = batched;
        let server = Node::new(server, SoftwareClock::new(0.0, 0.0)).unwrap();
        let mut client = NodeConfig::default();
        client.listen = vec![addr("127.0.0.1:0")];
        client.log = LogFormat::Off;
        client.batched_io = batched;
        let mut association = AssociationConfig::client(server.local_addrs()[0]);
        association.iburst = true;
        association.min_poll = 0;
        association.max_poll = 0;
        client.associations.push(association);
        let client = Node::new(client, SoftwareClock::new(client_offset, 0.0)).unwrap();
        (server, client)
    }

    /// Turns both nodes until the client is synchronized, at most `limit`.
    fn run_until_synchronized(server: &mut Node<SoftwareClock>, client: &mut Node<SoftwareClock>, limit: Duration) {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            server.turn(Duration::from_millis(5)).unwrap();
            client.turn(Duration::from_millis(5)).unwrap();
            if client.engine().system().is_synchronized() {
                return;
            }
        }
        panic!("not synchronized within {limit:?}: {}", client.snapshot().to_json());
    }

    #[test]
    fn test_two_nodes_synchronize_over_loopback_batched() {
        let (mut server, mut client) = two_nodes(true, 0.0);
        run_until_synchronized(&mut server, &mut client, Duration::from_secs(20));
        let snapshot = client.snapshot();
        assert_eq!(snapshot.system.stratum, 3);
        assert_eq!(snapshot.system.system_peer, Some(server.local_addrs()[0]));
        let a = snapshot.association(server.local_addrs()[0]).unwrap();
        assert!(a.offset.unwrap().abs() < 0.01, "{a:?}");
        assert!(client.is_batched() && server.is_batched() && snapshot.batched_io);
        // An initial burst synchronizes on its third sample.
        assert!(server.snapshot().counters.replies_sent >= 3);
    }

    #[test]
    fn test_two_nodes_synchronize_over_the_fallback_path_and_measure_a_known_offset() {
        // The client's clock starts 50 ms ahead: the server is 50 ms behind it.
        let (mut server, mut client) = two_nodes(false, 0.05);
        run_until_synchronized(&mut server, &mut client, Duration::from_secs(20));
        assert!(!client.is_batched());
        let snapshot = client.snapshot();
        assert!(!snapshot.batched_io);
        let a = snapshot.association(server.local_addrs()[0]).unwrap();
        let offset = a.offset.unwrap();
        assert!((offset + 0.05).abs() < 0.01, "offset {offset}, expected about -0.05");
    }

    /// A burst of requests far larger than one batch and than Linux's
    /// default socket buffer (about 200 KiB: a few hundred datagrams) is
    /// answered in full, each reply echoing its request's transmit time.
    #[test]
    fn test_a_burst_of_requests_is_answered_in_full() {
        const BURST: u32 = 1500;
        let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut config = NodeConfig::default();
        config.listen = vec![addr("127.0.0.1:0")];
        config.engine.local_reference_stratum = Some(1);
        config.log = LogFormat::Off;
        let mut server = Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap();
        let to = server.local_addrs()[0];
        let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        client.set_recv_buffer_size(SOCKET_BUFFER_FOR_TESTS).unwrap();
        client.bind(&addr("127.0.0.1:0").into()).unwrap();
        let client = std::net::UdpSocket::from(client);
        client.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        for i in 0..BURST {
            let mut request = [0u8; 48];
            request[0] = 0x23; // LI 0, version 4, mode 3
            request[40..44].copy_from_slice(&0xC000_0000u32.to_be_bytes());
            request[44..48].copy_from_slice(&i.to_be_bytes());
            client.send_to(&request, to).unwrap();
        }
        // The whole burst waits in the server's socket before it reads any.
        let mut seen = vec![false; BURST as usize];
        let mut buffer = [0u8; 128];
        let end = Instant::now() + Duration::from_secs(20);
        while seen.iter().any(|s| !s) && Instant::now() < end {
            server.turn(Duration::from_millis(5)).unwrap();
            while let Ok((len, from)) = client.recv_from(&mut buffer) {
                assert_eq!((len, from, buffer[0] & 7), (48, to, 4));
                assert_eq!(buffer[24..28], 0xC000_0000u32.to_be_bytes());
                let i = u32::from_be_bytes(buffer[28..32].try_into().unwrap());
                seen[i as usize] = true;
            }
        }
        let answered = seen.iter().filter(|s| **s).count();
        // The socket buffers are only as large as net.core.rmem_max allows.
        if rmem_max >= SOCKET_BUFFER_FOR_TESTS {
            assert_eq!(answered, BURST as usize, "rmem_max {rmem_max}");
            assert_eq!(server.snapshot().counters.replies_sent, u64::from(BURST));
        } else {
            eprintln!("net.core.rmem_max is {rmem_max}: {answered} of {BURST} answered, not checked");
        }
    }

    /// What the burst test needs: large enough for the burst at ~1 KiB per queued datagram.
    const SOCKET_BUFFER_FOR_TESTS: usize = 2 << 20;

    #[test]
    fn test_ipv6_client_of_a_dual_stack_server() {
        let mut server = NodeConfig::default();
        server.listen = vec![addr("127.0.0.1:0"), addr("[::1]:0")];
        server.engine.local_reference_stratum = Some(1);
        server.log = LogFormat::Off;
        let Ok(mut server) = Node::new(server, SoftwareClock::new(0.0, 0.0)) else { return }; // no IPv6 here
        let v6 = server.local_addrs()[1];
        let mut client = NodeConfig::default();
        client.listen = vec![addr("[::1]:0")];
        client.log = LogFormat::Off;
        let mut association = AssociationConfig::client(v6);
        association.min_poll = 0;
        association.max_poll = 0;
        client.associations.push(association);
        let mut client = Node::new(client, SoftwareClock::new(0.0, 0.0)).unwrap();
        run_until_synchronized(&mut server, &mut client, Duration::from_secs(20));
        assert_eq!(client.snapshot().system.system_peer, Some(v6));
        assert_eq!(client.snapshot().system.stratum, 2);
    }

    #[test]
    fn test_run_stops_on_the_flag_and_writes_the_status_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::default();
        config.listen = vec![addr("127.0.0.1:0"), addr("[::1]:0")];
        config.log = LogFormat::Off;
        config.status_file = Some(dir.path().join("status.json"));
        let node = Node::new(config, SoftwareClock::new(0.0, 0.0));
        // Without IPv6 on the host, bind to IPv4 only.
        let mut node = match node {
            Ok(node) => node,
            Err(NodeError::Bind { .. }) => {
                let mut config = NodeConfig::default();
                config.listen = vec![addr("127.0.0.1:0")];
                config.log = LogFormat::Off;
                config.status_file = Some(dir.path().join("status.json"));
                Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap()
            }
            Err(e) => panic!("{e}"),
        };
        let control = Control::default();
        control.stop.store(true, Ordering::Relaxed);
        let started = Instant::now();
        node.run(&control, Some(Duration::from_secs(30))).unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        let text = std::fs::read_to_string(dir.path().join("status.json")).unwrap();
        let snapshot = StatusSnapshot::from_json(&text).unwrap();
        assert_eq!(snapshot.listen, node.local_addrs());
        assert_eq!(snapshot.clock, "software");
        // A duration ends the loop too.
        control.stop.store(false, Ordering::Relaxed);
        let started = Instant::now();
        node.run(&control, Some(Duration::from_millis(300))).unwrap();
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn test_taken_port_is_a_bind_error_of_kind_addr_in_use() {
        let squatter = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut config = NodeConfig::default();
        config.listen = vec![squatter.local_addr().unwrap()];
        match Node::new(config, SoftwareClock::new(0.0, 0.0)) {
            Err(NodeError::Bind { source, .. }) => assert_eq!(source.kind(), io::ErrorKind::AddrInUse),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Node::new(NodeConfig::default(), SoftwareClock::new(0.0, 0.0)),
            Err(NodeError::NoListenAddress)
        ));
    }

    #[test]
    fn test_drift_file_is_written_at_shutdown_once_the_frequency_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ntp.drift");
        let (mut server, mut client) = two_nodes(true, 0.0);
        // A client with a drift file whose frequency measurement (FREQ) ends
        // after 2 s instead of 300 s, so the test can reach SYNC.
        let mut config = NodeConfig::default();
        config.listen = vec![addr("127.0.0.1:0")];
        config.log = LogFormat::Off;
        config.drift_file = Some(path.clone());
        config.engine.discipline.stepout = 2.0;
        config.associations = client.engine().associations().map(|a| *a.config()).collect();
        client = Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap();
        let control = Control::default();
        client.run(&control, Some(Duration::from_millis(10))).unwrap();
        assert!(!path.exists(), "no frequency is saved before there is one");
        let end = Instant::now() + Duration::from_secs(30);
        while client.snapshot().system.clock_state != "SYNC" && Instant::now() < end {
            server.turn(Duration::from_millis(5)).unwrap();
            client.turn(Duration::from_millis(5)).unwrap();
        }
        assert_eq!(client.snapshot().system.clock_state, "SYNC", "{}", client.snapshot().to_json());
        control.stop.store(true, Ordering::Relaxed);
        client.run(&control, None).unwrap();
        let saved = DriftFile::new(&path).read().unwrap().expect("a drift file after shutdown");
        let frequency = client.snapshot().system.frequency_ppm;
        assert!((saved - frequency).abs() < 0.001, "saved {saved}, engine {frequency}");
    }

    #[test]
    fn test_drift_file_is_read_at_start_and_a_corrupt_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drift");
        std::fs::write(&path, "12.5\n").unwrap();
        let mut config = NodeConfig::default();
        config.listen = vec![addr("127.0.0.1:0")];
        config.log = LogFormat::Off;
        config.drift_file = Some(path.clone());
        let mut node = Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap();
        assert_eq!(node.clock_mut().frequency_ppm(), 12.5);
        assert_eq!(node.snapshot().system.clock_state, "FSET");
        std::fs::write(&path, "garbage\n").unwrap();
        let mut config = NodeConfig::default();
        config.listen = vec![addr("127.0.0.1:0")];
        config.drift_file = Some(path);
        assert!(matches!(Node::new(config, SoftwareClock::new(0.0, 0.0)), Err(NodeError::Drift(_))));
    }

    /// An NTS server and an NTS client node in this thread: the client
    /// fetches cookies over TLS from the server's NTS-KE port, and every
    /// sample it takes is NTS-authenticated.
    #[test]
    fn test_nts_client_synchronizes_to_an_nts_server_node() {
        let dir = tempfile::tempdir().unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let mut config = NodeConfig::default();
        config.listen = vec![addr("127.0.0.1:0")];
        config.engine.local_reference_stratum = Some(2);
        config.log = LogFormat::Off;
        let mut settings = NtsKeServerSettings::new(cert.clone(), key);
        settings.listen = vec![addr("127.0.0.1:0")];
        config.nts_ke_server = Some(settings);
        let mut server = Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap();
        let ntp = server.local_addrs()[0];
        let ke = server.nts_ke_addrs()[0];
        let mut config = NodeConfig::default();
        config.listen = vec![addr("127.0.0.1:0")];
        config.log = LogFormat::Off;
        // The client knows the server only by a placeholder port: NTS-KE's
        // Port record (the server's UDP port is not 123) moves it.
        let placeholder = SocketAddr::new(ntp.ip(), 9);
        let mut association = AssociationConfig::client(placeholder).with_nts(true);
        association.min_poll = 0;
        association.max_poll = 0;
        association.iburst = true;
        config.associations.push(association);
        config.nts_trusted_certs = vec![cert];
        config.nts_ke_targets =
            vec![NtsKeTarget { association: placeholder, name: "127.0.0.1".to_owned(), address: ke }];
        let mut client = Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap();
        run_until_synchronized(&mut server, &mut client, Duration::from_secs(20));
        assert_eq!(client.nts_ke_client_counts(), (1, 0));
        assert_eq!(client.snapshot().system.system_peer, Some(ntp));
        let counters = server.nts_ke_server_counters();
        assert_eq!((counters.accepted, counters.served, counters.failed), (1, 1, 0));
        // The status file carries the same counts.
        assert_eq!(client.snapshot().nts_ke.client_provisioned, 1);
        assert_eq!(server.snapshot().nts_ke.server_served, 1);
        let association = client.engine().association_at(ntp).unwrap();
        assert!(association.counters().samples >= 1);
        assert_eq!(client.engine().counters().nts_rejected, 0);
        // An NTS node without a usable certificate does not start.
        let mut config = NodeConfig::default();
        config.listen = vec![addr("127.0.0.1:0")];
        config.nts_ke_server = Some(NtsKeServerSettings::new(dir.path().join("none.pem"), dir.path().join("none.key")));
        let error = Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap_err().to_string();
        assert!(error.contains("none.pem"), "{error}");
    }
}
