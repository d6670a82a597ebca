//! A chronyd on loopback for interop tests: its own config, key file and
//! temporary directory, a free UDP port, the system clock left alone, and
//! the process stopped by PID when the handle drops.
//!
//! ```no_run
//! use std::time::Duration;
//! use ntp_tests::chrony::{Chronyd, ChronydConfig};
//!
//! let Some(program) = ntp_tests::tools::require("chronyd", "chrony") else { return };
//! let config = ChronydConfig { keys: Some("1 MD5 HEX:0102030405060708090a0b0c0d0e0f10\n".into()), ..Default::default() };
//! let daemon = Chronyd::start(&program, &config).unwrap();
//! daemon.wait_serving(Duration::from_secs(10)).unwrap();
//! println!("chronyd serves on {}", daemon.addr());
//! ```
//!
//! What the configuration says, and why:
//!
//! * `chronyd -d -x -f CONF`: stay in the foreground and log to stderr (kept
//!   in `chronyd.log` in the temporary directory), and never touch the
//!   system clock (`-x`).
//! * `port N` with `bindaddress 127.0.0.1` and `allow 127.0.0.0/8`: serve
//!   NTP on loopback only, to loopback only.
//! * `local stratum 8`: serve the local clock although nothing is synchronized.
//! * `cmdport 0`: no chronyc socket, so parallel daemons cannot collide on it.
//! * `keyfile`, `pidfile`, `driftfile` inside the temporary directory.
//!
//! Started as root, chronyd drops privileges to `_chrony`, which then needs
//! to read and write the temporary directory: the launcher hands the
//! directory to that user and says `-u _chrony`. Without that user it keeps
//! root (`-u root`); started as another user, it runs as that user (`-U`).

use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::tools::free_udp_port;

/// How long a fresh chronyd gets to either answer a request or say that
/// its port is taken. Generous: on a loaded machine chronyd can take
/// seconds to get there, and the wait ends as soon as one happens.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long to wait for an answer to one probe request.
const PROBE_WAIT: Duration = Duration::from_millis(100);

/// How many ports to try when another process takes the one we picked.
const PORT_ATTEMPTS: usize = 3;

/// What chronyd 4.3 logs when its NTP port is in use.
const PORT_TAKEN: &str = "Could not open NTP socket";

/// What to put in a chronyd's configuration beyond the fixed loopback setup.
#[derive(Clone, Debug)]
pub struct ChronydConfig {
    /// Contents of `chrony.keys`; `None` leaves out the `keyfile` directive.
    pub keys: Option<String>,
    /// The loopback address to serve on.
    pub bind: Ipv4Addr,
    /// More directives, one per line, appended as they are.
    pub extra: Vec<String>,
}

impl Default for ChronydConfig {
    fn default() -> Self {
        ChronydConfig { keys: None, bind: Ipv4Addr::LOCALHOST, extra: Vec::new() }
    }
}

/// A running chronyd. Dropping it kills the process (by its PID) and
/// deletes its directory.
#[derive(Debug)]
pub struct Chronyd {
    child: Child,
    addr: SocketAddr,
    // Dropped after `child` is stopped (see `Drop`), so chronyd never sees
    // its files vanish while it runs.
    dir: TempDir,
}

impl Chronyd {
    /// Starts `program` (a chronyd binary) with `config` on a free UDP port.
    ///
    /// Returns once chronyd has survived its first moments; call
    /// [`Chronyd::wait_serving`] before relying on answers. The error holds
    /// chronyd's log when it exits early.
    pub fn start(program: &Path, config: &ChronydConfig) -> io::Result<Chronyd> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match Chronyd::start_on(program, config, free_udp_port()) {
                Ok(daemon) => return Ok(daemon),
                // The port was free a moment ago; someone may have taken it since.
                Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("chronyd did not start")))
    }

    fn start_on(program: &Path, config: &ChronydConfig, port: u16) -> io::Result<Chronyd> {
        let dir = tempfile::Builder::new().prefix("ntp-tests-chronyd-").tempdir()?;
        let path = |name: &str| dir.path().join(name);
        let mut conf = format!(
            "port {port}\nbindaddress {bind}\nallow 127.0.0.0/8\nlocal stratum 8\ncmdport 0\n\
             pidfile {pid}\ndriftfile {drift}\n",
            bind = config.bind,
            pid = path("chronyd.pid").display(),
            drift = path("chronyd.drift").display(),
        );
        if let Some(keys) = &config.keys {
            fs::write(path("chrony.keys"), keys)?;
            conf.push_str(&format!("keyfile {}\n", path("chrony.keys").display()));
        }
        for line in &config.extra {
            conf.push_str(line);
            conf.push('\n');
        }
        fs::write(path("chrony.conf"), conf)?;
        let log = File::create(path("chronyd.log"))?;

        let mut command = Command::new(program);
        command.arg("-d").arg("-x").arg("-f").arg(path("chrony.conf"));
        match privilege_choice(dir.path())? {
            Privileges::DropTo(user) => command.arg("-u").arg(user),
            Privileges::KeepRoot => command.arg("-u").arg("root"),
            Privileges::NotRoot => command.arg("-U"),
        };
        let child = command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).spawn()?;
        let mut daemon = Chronyd { child, addr: SocketAddr::V4(SocketAddrV4::new(config.bind, port)), dir };

        // Wait for an outcome rather than a fixed time, and read the log
        // after looking at the exit status: with a taken port chronyd logs
        // PORT_TAKEN and then either runs on without the socket or, with
        // nothing else to do, exits ("Fatal error : Nothing to do"), and
        // how soon depends on the machine's load. Each outcome is final:
        // chronyd answers only once it has its socket.
        let probe = Probe::new()?;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let exited = daemon.child.try_wait()?;
            // Read after `try_wait`: once chronyd has exited, its log is complete.
            let log = daemon.log();
            if log.contains(PORT_TAKEN) {
                // Dropping `daemon` here stops it if it still runs.
                return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("chronyd on port {port}: {log}")));
            }
            if let Some(status) = exited {
                return Err(io::Error::other(format!("chronyd exited at start ({status}); its log:\n{log}")));
            }
            if probe.answered(daemon.addr)? {
                return Ok(daemon);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("chronyd on port {port} neither answered nor failed within {STARTUP_TIMEOUT:?}: {log}"),
                ));
            }
        }
    }

    /// Where chronyd serves NTP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temporary directory with the config, key file and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The key file chronyd was given (present when the config had keys).
    pub fn keys_path(&self) -> PathBuf {
        self.dir.path().join("chrony.keys")
    }

    /// Everything chronyd has logged so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("chronyd.log")).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// Sends plain (unauthenticated) client requests until one is answered,
    /// or fails after `timeout` with chronyd's log in the error.
    pub fn wait_serving(&self, timeout: Duration) -> io::Result<()> {
        let probe = Probe::new()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if probe.answered(self.addr)? {
                return Ok(());
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("chronyd on {} did not answer within {timeout:?}; its log:\n{}", self.addr, self.log()),
        ))
    }
}

/// A client socket that asks whether an NTP server answers.
struct Probe {
    socket: UdpSocket,
}

impl Probe {
    fn new() -> io::Result<Probe> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        socket.set_read_timeout(Some(PROBE_WAIT))?;
        Ok(Probe { socket })
    }

    /// Sends one plain client request to `server` and waits [`PROBE_WAIT`]
    /// for its answer.
    fn answered(&self, server: SocketAddr) -> io::Result<bool> {
        // Mode 3 (client), version 4, and a transmit timestamp that is not zero.
        let mut request = [0u8; 48];
        request[0] = 0x23;
        request[40..48].copy_from_slice(&0x0123_4567_89ab_cdef_u64.to_be_bytes());
        self.socket.send_to(&request, server)?;
        let mut reply = [0u8; 1024];
        let deadline = Instant::now() + PROBE_WAIT;
        while Instant::now() < deadline {
            match self.socket.recv_from(&mut reply) {
                Ok((len, from)) if from == server && len >= 48 => return Ok(true),
                // Another datagram, a timeout, or an ICMP "port unreachable"
                // from a server not yet bound: not an answer.
                _ => {}
            }
        }
        Ok(false)
    }
}

impl Drop for Chronyd {
    fn drop(&mut self) {
        // Child::kill signals exactly this PID; wait reaps it so no zombie stays.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

enum Privileges {
    /// We are root and the user exists: hand it the directory.
    DropTo(&'static str),
    /// We are root and there is no such user.
    KeepRoot,
    /// We are not root: chronyd runs as us.
    NotRoot,
}

const CHRONY_USER: &str = "_chrony";

fn privilege_choice(dir: &Path) -> io::Result<Privileges> {
    if fs::metadata("/proc/self")?.uid() != 0 {
        return Ok(Privileges::NotRoot);
    }
    let Some((uid, gid)) = passwd_ids(CHRONY_USER)? else { return Ok(Privileges::KeepRoot) };
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    for entry in fs::read_dir(dir)? {
        std::os::unix::fs::chown(entry?.path(), Some(uid), Some(gid))?;
    }
    Ok(Privileges::DropTo(CHRONY_USER))
}

/// The uid and gid of `user` from `/etc/passwd`.
fn passwd_ids(user: &str) -> io::Result<Option<(u32, u32)>> {
    let passwd = match fs::read_to_string("/etc/passwd") {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    Ok(passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, uid, gid, ..] if *name == user => Some((uid.parse().ok()?, gid.parse().ok()?)),
            _ => None,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_taken_port_is_reported_and_avoided() {
        let Some(program) = crate::tools::require("chronyd", "chrony") else { return };
        let squatter = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = squatter.local_addr().unwrap().port();
        let error = Chronyd::start_on(&program, &ChronydConfig::default(), port).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
        // `start` picks other ports, and the daemon it returns serves.
        let daemon = Chronyd::start(&program, &ChronydConfig::default()).unwrap();
        assert_ne!(daemon.addr().port(), port);
        daemon.wait_serving(Duration::from_secs(10)).unwrap();
        let pid = daemon.pid();
        drop(daemon);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "chronyd {pid} still runs after drop");
    }
}
