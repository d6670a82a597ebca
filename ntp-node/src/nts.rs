//! NTS-KE on TCP (RFC 8915 §4) inside the runtime's `poll(2)` loop: the
//! server that hands out cookies, and the clients that fetch them for the
//! NTS associations.
//!
//! Everything is non-blocking and driven by the same loop as the UDP
//! sockets, not by threads, because the answer of an NTS-KE server comes
//! from the engine (it owns the master keys that seal the cookies) and the
//! outcome of a client goes to the engine; one thread keeps both without
//! locks. TLS is `ntp_algo`'s sans-IO [`NtsKeServer`] and [`NtsKeClient`]:
//! this module only moves their bytes and keeps the time.
//!
//! Bounds: at most [`NTS_KE_MAX_CONNECTIONS`] connections at once (more
//! wait in the kernel's backlog), each closed after [`NTS_KE_SERVER_TIMEOUT`];
//! a client exchange gives up after [`NTS_KE_CLIENT_TIMEOUT`] and is retried with
//! a backoff from [`NTS_KE_RETRY_MIN`] doubling to [`NTS_KE_RETRY_MAX`]. Messages are
//! bounded by the sessions themselves (16 KiB).

use std::io::{self, Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ntp_algo::{AssociationId, NtsKeClient, NtsKeOutcome, NtsKeRequest, NtsKeServer, NtsTlsError};
use rustls::{ClientConfig, ServerConfig};
use socket2::{Domain, SockAddr, Socket, Type};

/// Longest life of one server connection, from accept to close: a client
/// that stalls (or never sends) loses its slot after this.
pub const NTS_KE_SERVER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest client exchange, from connect to the last cookie.
pub const NTS_KE_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most server connections served at once.
pub const NTS_KE_MAX_CONNECTIONS: usize = 64;
/// First wait before a failed key exchange is tried again.
pub const NTS_KE_RETRY_MIN: Duration = Duration::from_secs(2);
/// Longest wait between tries (chrony backs off to the same order).
pub const NTS_KE_RETRY_MAX: Duration = Duration::from_secs(256);
/// The NTP port, when NTS-KE names none (RFC 8915 §4.1.8).
const NTP_PORT: u16 = 123;
/// How long the server waits for a client to close after the answer.
const LINGER: Duration = Duration::from_secs(1);
/// Bytes read from one connection per turn: with the sessions' 16 KiB
/// message bound, a flooding peer fails its session within a few turns.
const READ_LIMIT_PER_TURN: usize = 32 * 1024;

/// The NTS-KE server of a node.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NtsKeServerSettings {
    /// The certificate chain, PEM, leaf first.
    pub cert_chain: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
    /// TCP addresses to listen on; empty: each UDP listen address with
    /// `port`.
    pub listen: Vec<SocketAddr>,
    /// The TCP port of the default listen addresses (RFC 8915 §4: 4460).
    pub port: u16,
    /// The NTP server clients are told to use, when not this host (RFC
    /// 8915 §4.1.7).
    pub ntp_server: Option<String>,
    /// The NTP port clients are told to use; `None`: the first UDP listen
    /// port, announced only when it is not 123.
    pub ntp_port: Option<u16>,
}

impl NtsKeServerSettings {
    /// A server with the certificate chain and key from these PEM files,
    /// on the default addresses.
    pub fn new(cert_chain: PathBuf, key: PathBuf) -> Self {
        NtsKeServerSettings {
            cert_chain,
            key,
            listen: Vec::new(),
            port: ntp_algo::NTS_KE_PORT,
            ntp_server: None,
            ntp_port: None,
        }
    }
}

/// Where an NTS association gets its cookies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NtsKeTarget {
    /// The association's NTP address (the key).
    pub association: SocketAddr,
    /// The name the server's certificate must carry: the configured host
    /// name, or the address as text.
    pub name: String,
    /// The NTS-KE server's address.
    pub address: SocketAddr,
}

impl NtsKeTarget {
    /// The default for an association: the same host, port 4460, the
    /// address as the certificate name.
    pub fn for_association(association: SocketAddr) -> Self {
        NtsKeTarget {
            association,
            name: association.ip().to_string(),
            address: SocketAddr::new(association.ip(), ntp_algo::NTS_KE_PORT),
        }
    }
}

/// One non-blocking TCP connection and the bytes waiting to leave.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    started: Instant,
    /// A connect in progress has not completed yet.
    connecting: bool,
    /// When our side of the stream was shut down (the answer is out): the
    /// server waits for the client's end of stream, so the close does not
    /// reset a connection whose last bytes the client has not read.
    shut_at: Option<Instant>,
}

impl Conn {
    fn new(stream: TcpStream, connecting: bool) -> Self {
        Conn { stream, out: Vec::new(), started: Instant::now(), connecting, shut_at: None }
    }

    fn pollfd(&self) -> libc::pollfd {
        let mut events = libc::POLLIN;
        if self.connecting || !self.out.is_empty() {
            events |= libc::POLLOUT;
        }
        libc::pollfd { fd: self.stream.as_raw_fd(), events, revents: 0 }
    }

    /// Sends what is queued, as far as the socket takes it.
    fn flush(&mut self) -> io::Result<()> {
        if self.connecting {
            // A non-blocking connect reports its end as writability, and
            // its failure as the socket's pending error.
            if let Some(e) = self.stream.take_error()? {
                return Err(e);
            }
            match self.stream.peer_addr() {
                Ok(_) => self.connecting = false,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n.min(self.out.len()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what is waiting (at most [`READ_LIMIT_PER_TURN`]) into `buf`;
    /// true at end of stream.
    fn read(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        if self.connecting {
            return Ok(false);
        }
        let mut chunk = [0u8; 4096];
        while buf.len() < READ_LIMIT_PER_TURN {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(true),
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    fn expired(&self, limit: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= limit
    }
}

/// A non-blocking, close-on-exec TCP socket.
fn tcp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let domain = if addr.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
    let socket = Socket::new(domain, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    Ok(socket)
}

/// Counters of the NTS-KE server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NtsKeServerCounters {
    /// Connections accepted.
    pub accepted: u64,
    /// Requests answered with cookies.
    pub served: u64,
    /// Requests answered with an Error record.
    pub refused: u64,
    /// Sessions that failed (TLS, malformed or endless messages, early close).
    pub failed: u64,
    /// Connections closed for taking longer than [`NTS_KE_SERVER_TIMEOUT`].
    pub timed_out: u64,
}

/// The NTS-KE server: listening sockets and open sessions.
pub(crate) struct KeServer {
    listeners: Vec<TcpListener>,
    config: Arc<ServerConfig>,
    conns: Vec<(Conn, NtsKeServer)>,
    pub(crate) counters: NtsKeServerCounters,
}

impl std::fmt::Debug for KeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeServer").field("connections", &self.conns.len()).finish_non_exhaustive()
    }
}

/// What a server answer came to, for the log.
pub(crate) enum Answered {
    /// Cookies sent.
    Served,
    /// An Error record with this code sent.
    Refused(u16),
}

impl KeServer {
    /// Reads the certificate and key and binds the listeners.
    pub(crate) fn bind(settings: &NtsKeServerSettings, listen: &[SocketAddr]) -> Result<Self, NtsKeSetupError> {
        let config = ntp_algo::nts_ke_server_config(&settings.cert_chain, &settings.key)?;
        let mut listeners = Vec::with_capacity(listen.len());
        for addr in listen {
            let bind = || -> io::Result<TcpListener> {
                let socket = tcp_socket(*addr)?;
                if addr.is_ipv6() {
                    socket.set_only_v6(true)?;
                }
                socket.set_reuse_address(true)?;
                socket.bind(&SockAddr::from(*addr))?;
                socket.listen(128)?;
                Ok(TcpListener::from(socket))
            };
            listeners.push(bind().map_err(|source| NtsKeSetupError::Bind { addr: *addr, source })?);
        }
        Ok(KeServer { listeners, config, conns: Vec::new(), counters: NtsKeServerCounters::default() })
    }

    /// The bound addresses (ports filled in).
    pub(crate) fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|l| l.local_addr().ok()).collect()
    }

    /// The descriptors to wait on. Listeners are left out while every slot
    /// is taken, so a full server does not wake for connections it will
    /// not accept yet.
    pub(crate) fn pollfds(&self, out: &mut Vec<libc::pollfd>) {
        if self.conns.len() < NTS_KE_MAX_CONNECTIONS {
            for l in &self.listeners {
                out.push(libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            }
        }
        out.extend(self.conns.iter().map(|(c, _)| c.pollfd()));
    }

    /// When the oldest connection times out (or stops lingering).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.conns.iter().map(|(c, _)| c.shut_at.map_or(c.started + NTS_KE_SERVER_TIMEOUT, |at| at + LINGER)).min()
    }

    /// Accepts, reads, answers (with `answer`: the request and its keys
    /// to answer bytes), writes and closes, as far as the sockets allow
    /// without waiting. `log` hears one line per finished session.
    pub(crate) fn progress(
        &mut self,
        mut answer: impl FnMut(&NtsKeRequest) -> Result<(Vec<u8>, Answered), String>,
        mut log: impl FnMut(String),
    ) {
        self.accept(&mut log);
        let now = Instant::now();
        let mut index = 0;
        while let Some((conn, session)) = self.conns.get_mut(index) {
            let peer = conn.stream.peer_addr().ok();
            let peer_text = peer.map_or_else(|| "?".to_owned(), |p| p.to_string());
            let mut done = false;
            let mut received = Vec::new();
            let step = conn.read(&mut received).map_err(|e| format!("read: {e}")).and_then(|eof| {
                if !received.is_empty() || eof {
                    match session.receive_tls(&received) {
                        Ok(Some(request)) => {
                            let (bytes, how) = answer(&request)?;
                            session.answer(&bytes).map_err(|e| e.to_string())?;
                            match how {
                                Answered::Served => {
                                    self.counters.served += 1;
                                    log(format!("NTS-KE: cookies sent to {peer_text}"));
                                }
                                Answered::Refused(code) => {
                                    self.counters.refused += 1;
                                    log(format!("NTS-KE: request from {peer_text} refused with error {code}"));
                                }
                            }
                        }
                        Ok(None) if eof && !session.is_finished() => {
                            // The client went away before the answer.
                            return Err("closed early".to_owned());
                        }
                        Ok(None) => {}
                        Err(e) => {
                            session.write_tls(&mut conn.out);
                            let _ = conn.flush();
                            return Err(e.to_string());
                        }
                    }
                }
                Ok(eof)
            });
            match step {
                Ok(eof) => {
                    session.write_tls(&mut conn.out);
                    if let Err(e) = conn.flush() {
                        self.counters.failed += 1;
                        log(format!("NTS-KE: connection from {peer_text}: write: {e}"));
                        done = true;
                    } else if eof {
                        done = true;
                    } else if session.is_finished() && conn.out.is_empty() {
                        match conn.shut_at {
                            None => {
                                let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                                conn.shut_at = Some(now);
                            }
                            // A client that does not close in a second is closed on.
                            Some(at) => done = now.saturating_duration_since(at) >= LINGER,
                        }
                    }
                }
                Err(why) => {
                    self.counters.failed += 1;
                    log(format!("NTS-KE: session with {peer_text} failed: {why}"));
                    done = true;
                }
            }
            if !done && conn.shut_at.is_none() && conn.expired(NTS_KE_SERVER_TIMEOUT, now) {
                self.counters.timed_out += 1;
                log(format!("NTS-KE: connection from {peer_text} timed out"));
                done = true;
            }
            if done {
                let (conn, _) = self.conns.swap_remove(index);
                let _ = conn.stream.shutdown(std::net::Shutdown::Both);
            } else {
                index += 1;
            }
        }
    }

    fn accept(&mut self, log: &mut impl FnMut(String)) {
        for listener in &self.listeners {
            while self.conns.len() < NTS_KE_MAX_CONNECTIONS {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Err(e) = stream.set_nonblocking(true) {
                            log(format!("NTS-KE: accept: {e}"));
                            continue;
                        }
                        match NtsKeServer::new(Arc::clone(&self.config)) {
                            Ok(session) => {
                                self.counters.accepted += 1;
                                self.conns.push((Conn::new(stream, false), session));
                            }
                            Err(e) => log(format!("NTS-KE: {e}")),
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // ECONNABORTED and the like concern one connection;
                    // the listener goes on next turn.
                    Err(e) => {
                        log(format!("NTS-KE: accept: {e}"));
                        break;
                    }
                }
            }
        }
    }
}

/// Why the NTS-KE server or clients could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NtsKeSetupError {
    /// Certificates, key or trust roots.
    #[error("NTS-KE: {0}")]
    Tls(#[from] NtsTlsError),
    /// A TCP listener could not be opened.
    #[error("NTS-KE bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// One association's key exchange.
#[derive(Debug)]
struct Task {
    id: AssociationId,
    target: NtsKeTarget,
    failures: u32,
    state: TaskState,
}

#[derive(Debug)]
enum TaskState {
    /// Start (again) at this instant.
    Waiting(Instant),
    /// Connected or connecting.
    Running(Box<(Conn, NtsKeClient)>),
}

/// A finished client exchange.
#[derive(Debug)]
pub(crate) struct KeResult {
    /// The association.
    pub(crate) id: AssociationId,
    /// What the server gave.
    pub(crate) outcome: NtsKeOutcome,
    /// Where NTP goes now, when the server said (RFC 8915 §4.1.7, §4.1.8).
    pub(crate) ntp_address: Option<SocketAddr>,
}

/// The NTS-KE clients of the node's NTS associations.
pub(crate) struct KeClients {
    config: Arc<ClientConfig>,
    tasks: Vec<Task>,
    /// Exchanges that gave cookies, and that failed.
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
}

impl std::fmt::Debug for KeClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeClients").field("tasks", &self.tasks).finish_non_exhaustive()
    }
}

impl KeClients {
    /// Clients trusting the PEM files `trusted` (empty: the system store).
    pub(crate) fn new(trusted: &[PathBuf]) -> Result<Self, NtsKeSetupError> {
        let roots = ntp_algo::nts_ke_trust_roots(trusted)?;
        Ok(KeClients { config: ntp_algo::nts_ke_client_config(roots)?, tasks: Vec::new(), succeeded: 0, failed: 0 })
    }

    /// Asks for a key exchange for association `id` at `target`, now; a
    /// request for an association whose exchange is already under way or
    /// waiting to be retried changes nothing.
    pub(crate) fn request(&mut self, id: AssociationId, target: NtsKeTarget) {
        if self.tasks.iter().any(|t| t.id == id) {
            return;
        }
        self.tasks.push(Task { id, target, failures: 0, state: TaskState::Waiting(Instant::now()) });
    }

    /// Tries the exchange of `id` again after the backoff (the engine
    /// refused the outcome).
    pub(crate) fn retry_later(&mut self, id: AssociationId, target: NtsKeTarget, failures: u32) {
        self.tasks.retain(|t| t.id != id);
        let failures = failures.max(1);
        self.tasks.push(Task { id, target, failures, state: TaskState::Waiting(Instant::now() + backoff(failures)) });
    }

    /// Forgets the exchange of `id` (the association is gone).
    pub(crate) fn forget(&mut self, id: AssociationId) {
        self.tasks.retain(|t| t.id != id);
    }

    /// Whether any exchange is under way or waiting.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The descriptors to wait on.
    pub(crate) fn pollfds(&self, out: &mut Vec<libc::pollfd>) {
        for task in &self.tasks {
            if let TaskState::Running(running) = &task.state {
                out.push(running.0.pollfd());
            }
        }
    }

    /// The next start or timeout.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.tasks
            .iter()
            .map(|t| match &t.state {
                TaskState::Waiting(at) => *at,
                TaskState::Running(running) => running.0.started + NTS_KE_CLIENT_TIMEOUT,
            })
            .min()
    }

    /// Starts what is due, moves bytes, and returns the exchanges that
    /// finished with cookies. `log` hears what happens.
    pub(crate) fn progress(&mut self, mut log: impl FnMut(String)) -> Vec<KeResult> {
        let now = Instant::now();
        let mut done = Vec::new();
        let mut index = 0;
        while let Some(task) = self.tasks.get_mut(index) {
            let step = match &mut task.state {
                TaskState::Waiting(at) if *at <= now => match start(&self.config, &task.target) {
                    Ok(running) => {
                        log(format!(
                            "NTS-KE: association {} asks {} ({}) for cookies",
                            task.id, task.target.address, task.target.name
                        ));
                        task.state = TaskState::Running(Box::new(running));
                        drive(&mut task.state, now)
                    }
                    Err(e) => Err(e),
                },
                TaskState::Waiting(_) => Ok(None),
                TaskState::Running(_) => drive(&mut task.state, now),
            };
            match step {
                Ok(None) => index += 1,
                Ok(Some(outcome)) => {
                    self.succeeded += 1;
                    let task = self.tasks.swap_remove(index);
                    let ntp_address = ntp_address(&outcome, task.target.association);
                    log(format!(
                        "NTS-KE: association {} got {} cookies from {}{}",
                        task.id,
                        outcome.cookies.len(),
                        task.target.address,
                        ntp_address.map(|a| format!("; NTP at {a}")).unwrap_or_default()
                    ));
                    done.push(KeResult { id: task.id, outcome, ntp_address });
                }
                Err(why) => {
                    self.failed += 1;
                    task.failures = task.failures.saturating_add(1);
                    let wait = backoff(task.failures);
                    log(format!(
                        "NTS-KE: association {} with {}: {why}; trying again in {} s",
                        task.id,
                        task.target.address,
                        wait.as_secs()
                    ));
                    task.state = TaskState::Waiting(now + wait);
                    index += 1;
                }
            }
        }
        done
    }
}

/// The wait after `failures` failures in a row.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    NTS_KE_RETRY_MIN.saturating_mul(1 << doublings).min(NTS_KE_RETRY_MAX)
}

/// Opens the connection and the session.
fn start(config: &Arc<ClientConfig>, target: &NtsKeTarget) -> Result<(Conn, NtsKeClient), String> {
    let session = NtsKeClient::new(Arc::clone(config), &target.name).map_err(|e| e.to_string())?;
    let socket = tcp_socket(target.address).map_err(|e| format!("socket: {e}"))?;
    let connecting = match socket.connect(&SockAddr::from(target.address)) {
        Ok(()) => false,
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock => true,
        Err(e) => return Err(format!("connect: {e}")),
    };
    Ok((Conn::new(TcpStream::from(socket), connecting), session))
}

/// Moves a running exchange on; `Ok(Some)` once it has its outcome.
fn drive(state: &mut TaskState, now: Instant) -> Result<Option<NtsKeOutcome>, String> {
    let TaskState::Running(running) = state else { return Ok(None) };
    let (conn, session) = &mut **running;
    session.write_tls(&mut conn.out);
    conn.flush().map_err(|e| format!("connect/write: {e}"))?;
    let mut received = Vec::new();
    let eof = conn.read(&mut received).map_err(|e| format!("read: {e}"))?;
    if !received.is_empty() || eof {
        let result = session.receive_tls(&received);
        // Whatever the session has left (its close, or an alert) goes out.
        session.write_tls(&mut conn.out);
        let _ = conn.flush();
        match result {
            Ok(Some(outcome)) => {
                let _ = conn.stream.shutdown(std::net::Shutdown::Both);
                return Ok(Some(outcome));
            }
            Ok(None) if eof => return Err("the server closed the connection".to_owned()),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if conn.expired(NTS_KE_CLIENT_TIMEOUT, now) {
        return Err(format!("no answer within {} s", NTS_KE_CLIENT_TIMEOUT.as_secs()));
    }
    Ok(None)
}

/// The NTP address the outcome names: its server (an address, or a name
/// resolved here) and port (123 when absent, RFC 8915 §4.1.8); `None` when
/// it names neither, and the association keeps its own address.
///
/// Departure from RFC 8915 §4.1.8, which has a missing Port record mean
/// 123: when the answer names neither server nor port, the association
/// keeps the address it was configured with, port included, because that
/// port is the operator's word (a server on another port that does not
/// say so is more likely than one that wants 123 against its config).
///
/// A name is resolved with the system resolver, which blocks; servers
/// name addresses or their own host in practice, and this runs once per
/// key exchange.
fn ntp_address(outcome: &NtsKeOutcome, association: SocketAddr) -> Option<SocketAddr> {
    let port = outcome.port.unwrap_or(NTP_PORT);
    match outcome.server.as_deref() {
        None => outcome.port.map(|port| SocketAddr::new(association.ip(), port)),
        Some(name) => match name.parse::<IpAddr>() {
            Ok(ip) => Some(SocketAddr::new(ip, port)),
            Err(_) => (name, port).to_socket_addrs().ok()?.find(|a| a.is_ipv4() == association.is_ipv4()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_algo::{MasterKeys, NtsKeServerConfig, nts_ke_answer};

    /// A self-signed certificate for 127.0.0.1 and its key, in files.
    fn certificate(dir: &std::path::Path) -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    fn answer_with(master: &MasterKeys) -> impl FnMut(&NtsKeRequest) -> Result<(Vec<u8>, Answered), String> + '_ {
        |request| {
            let mut out = vec![0u8; 4096];
            let mut rng = |buf: &mut [u8]| buf.fill(7);
            let config = NtsKeServerConfig { ntp_server: None, ntp_port: Some(11123) };
            let a = nts_ke_answer(&request.message, master, &request.keys, config, &mut rng, &mut out)
                .map_err(|e| e.to_string())?;
            out.truncate(a.len);
            Ok((out, a.refused.map_or(Answered::Served, Answered::Refused)))
        }
    }

    #[test]
    fn client_and_server_exchange_cookies_over_loopback_tcp() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate(dir.path());
        let mut server =
            KeServer::bind(&NtsKeServerSettings::new(cert.clone(), key), &["127.0.0.1:0".parse().unwrap()]).unwrap();
        let address = server.local_addrs()[0];
        let mut clients = KeClients::new(std::slice::from_ref(&cert)).unwrap();
        let association: SocketAddr = "127.0.0.1:123".parse().unwrap();
        let target = NtsKeTarget { association, name: "127.0.0.1".to_owned(), address };
        clients.request(AssociationId(4), target.clone());
        // A second request while one runs changes nothing.
        clients.request(AssociationId(4), target);
        let master = MasterKeys::new(&mut |b: &mut [u8]| b.fill(3), 0.0, 3600.0, 7200.0);
        let mut results = Vec::new();
        let mut lines = Vec::new();
        let end = Instant::now() + Duration::from_secs(10);
        while results.is_empty() && Instant::now() < end {
            let mut fds = Vec::new();
            server.pollfds(&mut fds);
            clients.pollfds(&mut fds);
            // The runtime waits in poll(2) on these; a short sleep will do here.
            assert!(!fds.is_empty());
            std::thread::sleep(Duration::from_millis(2));
            server.progress(answer_with(&master), |l| lines.push(l));
            results.extend(clients.progress(|l| lines.push(l)));
        }
        let [result] = results.as_slice() else { panic!("{lines:?}") };
        assert_eq!(result.id, AssociationId(4));
        assert_eq!(result.outcome.cookies.len(), 8);
        assert_eq!(result.ntp_address, Some("127.0.0.1:11123".parse().unwrap()));
        for cookie in &result.outcome.cookies {
            let keys = master.open_cookie(cookie).unwrap();
            assert_eq!(keys.c2s.as_bytes(), result.outcome.keys.c2s.as_bytes());
        }
        assert!(clients.is_idle());
        // The server closes its side once the answer is out.
        for _ in 0..100 {
            server.progress(answer_with(&master), |l| lines.push(l));
            if server.conns.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(server.conns.is_empty(), "{lines:?}");
        assert_eq!((server.counters.accepted, server.counters.served, server.counters.failed), (1, 1, 0), "{lines:?}");
    }

    #[test]
    fn a_failed_exchange_is_retried_after_a_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = certificate(dir.path());
        let mut clients = KeClients::new(std::slice::from_ref(&cert)).unwrap();
        // Nobody listens on this port.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let association: SocketAddr = "127.0.0.1:123".parse().unwrap();
        clients.request(AssociationId(1), NtsKeTarget { association, name: "127.0.0.1".to_owned(), address: closed });
        let mut lines = Vec::new();
        let end = Instant::now() + Duration::from_secs(5);
        while clients.failed == 0 && Instant::now() < end {
            assert!(clients.progress(|l| lines.push(l)).is_empty());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(clients.failed, 1, "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("trying again in 2 s")), "{lines:?}");
        let next = clients.next_deadline().unwrap();
        assert!(next > Instant::now() + Duration::from_secs(1), "retried after the backoff");
        assert!(!clients.is_idle());
        clients.forget(AssociationId(1));
        assert!(clients.is_idle());
    }

    #[test]
    fn a_silent_client_loses_its_slot_and_garbage_fails_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate(dir.path());
        let mut server =
            KeServer::bind(&NtsKeServerSettings::new(cert, key), &["127.0.0.1:0".parse().unwrap()]).unwrap();
        let address = server.local_addrs()[0];
        let master = MasterKeys::new(&mut |b: &mut [u8]| b.fill(3), 0.0, 3600.0, 7200.0);
        let mut garbage = TcpStream::connect(address).unwrap();
        garbage.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3]).unwrap();
        let _silent = TcpStream::connect(address).unwrap();
        let mut lines = Vec::new();
        let end = Instant::now() + Duration::from_secs(5);
        while server.counters.failed == 0 && Instant::now() < end {
            server.progress(answer_with(&master), |l| lines.push(l));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!((server.counters.accepted, server.counters.failed), (2, 1), "{lines:?}");
        assert_eq!(server.conns.len(), 1, "the silent one waits");
        // Age it past the timeout.
        server.conns[0].0.started -= NTS_KE_SERVER_TIMEOUT;
        server.progress(answer_with(&master), |l| lines.push(l));
        assert!(server.conns.is_empty());
        assert_eq!(server.counters.timed_out, 1, "{lines:?}");
    }

    #[test]
    fn backoff_doubles_to_its_limit() {
        assert_eq!(backoff(1), NTS_KE_RETRY_MIN);
        assert_eq!(backoff(2), NTS_KE_RETRY_MIN * 2);
        assert_eq!(backoff(100), NTS_KE_RETRY_MAX);
    }

    fn outcome(server: Option<&str>, port: Option<u16>) -> NtsKeOutcome {
        use ntp_wire::nts::AeadKey;
        NtsKeOutcome {
            keys: ntp_algo::NtsKeys { c2s: AeadKey::new([1; 32]), s2c: AeadKey::new([2; 32]) },
            cookies: vec![vec![1; 10]],
            server: server.map(str::to_owned),
            port,
        }
    }

    #[test]
    fn the_ntp_address_follows_the_servers_records() {
        let association: SocketAddr = "192.0.2.1:123".parse().unwrap();
        assert_eq!(ntp_address(&outcome(None, None), association), None);
        assert_eq!(ntp_address(&outcome(None, Some(1123)), association), Some("192.0.2.1:1123".parse().unwrap()));
        assert_eq!(ntp_address(&outcome(Some("192.0.2.9"), None), association), Some("192.0.2.9:123".parse().unwrap()));
        assert_eq!(
            ntp_address(&outcome(Some("192.0.2.9"), Some(7)), association),
            Some("192.0.2.9:7".parse().unwrap())
        );
    }
}
