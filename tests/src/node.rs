//! The `ntp-node` binary as a real NTP peer for interop tests: built once
//! per test binary, run as a child process with its output and status
//! file in a temporary directory, stopped by PID, and its final status
//! read back as the typed JSON snapshot it writes (`--status-file`).
//!
//! ```no_run
//! use std::time::Duration;
//! use ntp_tests::node::Node;
//!
//! let listen = "127.0.0.2:12123".parse().unwrap();
//! let node = Node::start(listen, &["--master", "2", "--duration", "5", "--quiet"]).unwrap();
//! let report = node.finish(Duration::from_secs(15)).unwrap();
//! assert!(report.status.system.synchronized);
//! ```
//!
//! The binary is built with the `cargo` that runs the tests (`CARGO`), in
//! the profile the tests were built in, into the same target directory: the
//! one `CARGO_TARGET_DIR` names, or else the one the test binary lives in.

use std::fs::{self, File};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use ntp_node::StatusSnapshot;
use ntp_node::log::LogRecord;
use tempfile::TempDir;

/// What the node prints once its sockets are bound.
const LISTENING: &str = "ntp-node: listening on";

/// How often to look at a running node's output or exit status.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The status file's name in the node's temporary directory.
const STATUS_FILE: &str = "status.json";

/// The path of the `ntp-node` binary, built on first use. Every later
/// call (from any thread) returns the same path or the same build error.
pub fn binary() -> io::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY.get_or_init(build).clone().map_err(io::Error::other)
}

/// Runs `cargo build -p ntp-node --bin ntp-node` and finds the executable
/// in cargo's JSON messages.
fn build() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("Cargo.toml");
    let mut command = Command::new(&cargo);
    command
        .args(["build", "-p", "ntp-node", "--bin", "ntp-node", "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    if std::env::var_os("CARGO_TARGET_DIR").is_none()
        && let Some(dir) = target_dir_of_this_test()
    {
        command.arg("--target-dir").arg(dir);
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("run {}: {e}", Path::new(&cargo).display()))?;
    if !output.status.success() {
        return Err(format!("`cargo build -p ntp-node --bin ntp-node` failed ({})", output.status));
    }
    executable_in_cargo_messages(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| "cargo built ntp-node but named no executable".to_owned())
}

/// The `executable` of the `ntp-node` binary artifact in cargo's JSON lines.
fn executable_in_cargo_messages(stdout: &str) -> Option<PathBuf> {
    stdout.lines().filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok()).find_map(|message| {
        let target = message.get("target")?;
        let is_binary = message.get("reason")?.as_str()? == "compiler-artifact"
            && target.get("name")?.as_str()? == "ntp-node"
            && target.get("kind")?.as_array()?.iter().any(|kind| kind.as_str() == Some("bin"));
        is_binary.then(|| message.get("executable")?.as_str().map(PathBuf::from))?
    })
}

/// The target directory the running test binary was built in: the nearest
/// ancestor that holds cargo's `CACHEDIR.TAG`.
fn target_dir_of_this_test() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().skip(1).find(|dir| dir.join("CACHEDIR.TAG").is_file()).map(Path::to_path_buf)
}

/// A running `ntp-node run`. Dropping it kills the process (by its PID).
#[derive(Debug)]
pub struct Node {
    child: Child,
    listen: SocketAddr,
    // Holds `stdout.log`, `stderr.log` and the status file; removed after
    // the child is stopped.
    dir: TempDir,
}

impl Node {
    /// Starts `ntp-node run --listen LISTEN ARGS` and returns once it has
    /// bound its socket. The error is of kind [`io::ErrorKind::AddrInUse`]
    /// when the address was taken, so that a caller can pick another port.
    pub fn start(listen: SocketAddr, args: &[&str]) -> io::Result<Node> {
        let mut command = Command::new(binary()?);
        command.arg("run").arg("--listen").arg(listen.to_string()).args(args);
        Node::start_command(command, listen)
    }

    /// Starts `command`, which must run `ntp-node run ...` (possibly
    /// through a wrapper that passes on its last arguments and `exec`s the
    /// node, such as `unshare ... sh -c 'exec "$@"'`), listening on
    /// `listen`. `--status-file` is appended here. See [`Node::start`].
    pub fn start_command(mut command: Command, listen: SocketAddr) -> io::Result<Node> {
        let dir = tempfile::Builder::new().prefix("ntp-tests-node-").tempdir()?;
        let stdout = File::create(dir.path().join("stdout.log"))?;
        let stderr = File::create(dir.path().join("stderr.log"))?;
        command.arg("--status-file").arg(dir.path().join(STATUS_FILE));
        let child = command.stdin(Stdio::null()).stdout(stdout).stderr(stderr).spawn()?;
        let mut node = Node { child, listen, dir };
        node.wait_listening(Duration::from_secs(10))?;
        Ok(node)
    }

    /// Waits until the node says it listens, or fails (with its output)
    /// when it exits first or `timeout` passes.
    fn wait_listening(&mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stdout().contains(LISTENING) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                let stderr = self.stderr();
                let kind = if stderr.contains("Address already in use") {
                    io::ErrorKind::AddrInUse
                } else {
                    io::ErrorKind::Other
                };
                return Err(io::Error::new(
                    kind,
                    format!("node on {} exited at start ({status}): {stderr}{}", self.listen, self.stdout()),
                ));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("node on {} did not listen within {timeout:?}: {}", self.listen, self.stderr()),
                ));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// The address the node listens on.
    pub fn addr(&self) -> SocketAddr {
        self.listen
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the node has printed to stdout so far.
    pub fn stdout(&self) -> String {
        read_log(&self.dir.path().join("stdout.log"))
    }

    /// Everything the node has printed to stderr so far.
    pub fn stderr(&self) -> String {
        read_log(&self.dir.path().join("stderr.log"))
    }

    /// The status the node wrote last (it rewrites the file every second).
    pub fn status(&self) -> io::Result<StatusSnapshot> {
        read_status(&self.dir.path().join(STATUS_FILE))
    }

    /// Sends the node SIGTERM (by its PID); [`Node::finish`] then waits
    /// for its clean exit.
    pub fn terminate(&mut self) -> io::Result<()> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        Ok(())
    }

    /// Waits for the node to end (its `--duration`, or a signal), killing
    /// it when `timeout` passes first (an error), and reads its final
    /// status file and log.
    pub fn finish(mut self, timeout: Duration) -> io::Result<NodeReport> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("node on {} still runs after {timeout:?}; its output:\n{}", self.listen, self.stdout()),
                ));
            }
            thread::sleep(POLL_INTERVAL);
        };
        let output = self.stdout();
        if !status.success() {
            return Err(io::Error::other(format!(
                "node on {} failed ({status}): {}\n{output}",
                self.listen,
                self.stderr()
            )));
        }
        let status = self.status().map_err(|e| io::Error::other(format!("{e}; the node's output:\n{output}")))?;
        let events = parse_json_log(&output);
        Ok(NodeReport { status, events, output })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Child::kill signals exactly this PID; wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// Reads a status file written by `ntp-node --status-file`.
pub fn read_status(path: &Path) -> io::Result<StatusSnapshot> {
    let text = fs::read_to_string(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    StatusSnapshot::from_json(&text).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))
}

/// The event records among a node's output lines (with `--json-log`).
pub fn parse_json_log(output: &str) -> Vec<LogRecord> {
    output.lines().filter(|line| line.starts_with('{')).filter_map(|line| serde_json::from_str(line).ok()).collect()
}

/// A finished node: its final status snapshot, its logged events (when
/// run with `--json-log`) and all it printed.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeReport {
    /// The status file as the node left it at exit.
    pub status: StatusSnapshot,
    /// The events it logged as JSON lines, in order.
    pub events: Vec<LogRecord>,
    /// The node's whole stdout, for failure messages.
    pub output: String,
}

impl NodeReport {
    /// The association with this remote address, if any.
    pub fn association(&self, address: SocketAddr) -> Option<&ntp_node::AssociationSnapshot> {
        self.status.association(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_executable_is_found_in_cargo_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"ntp_node"},"executable":null}"#,
            "\n",
            "not json\n",
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"ntp-node"},"executable":"/t/de\"bug/ntp-node"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
        );
        assert_eq!(executable_in_cargo_messages(messages), Some(PathBuf::from("/t/de\"bug/ntp-node")));
        assert_eq!(executable_in_cargo_messages(r#"{"reason":"build-finished"}"#), None);
    }

    #[test]
    fn test_json_log_lines_are_picked_from_the_output() {
        let output = "ntp-node: listening on 127.0.0.2:1\n\
            {\"time\":\"2026-12-01T22:00:00.000000Z\",\"event\":\"clock_step\",\"message\":\"clock stepped by +0.300000 s\",\"offset\":0.3}\n\
            {not an event}\n";
        let events = parse_json_log(output);
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].event.as_str(), events[0].offset), ("clock_step", Some(0.3)));
    }

    #[test]
    fn test_binary_runs_and_writes_a_readable_status_file() {
        let listen: SocketAddr = (std::net::Ipv4Addr::new(127, 0, 0, 2), crate::tools::free_udp_port()).into();
        let node = match Node::start(listen, &["--master", "3", "--duration", "1.5", "--quiet"]) {
            Ok(node) => node,
            // Someone took the port meanwhile: nothing to learn here.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return,
            Err(e) => panic!("{e}"),
        };
        let report = node.finish(Duration::from_secs(20)).unwrap();
        assert_eq!(report.status.listen, vec![listen]);
        assert_eq!((report.status.system.stratum, report.status.system.source.as_str()), (3, "local"));
        assert!(report.output.contains("ntp-node: stopped after"), "{}", report.output);

        // Without --duration the node runs until SIGTERM, and then exits
        // cleanly with a final status.
        let listen: SocketAddr = (std::net::Ipv4Addr::new(127, 0, 0, 2), crate::tools::free_udp_port()).into();
        let Ok(mut node) = Node::start(listen, &["--master", "4", "--quiet"]) else { return };
        // SIGUSR1 prints the snapshot as JSON (the loop looks within a second).
        Command::new("kill").args(["-USR1", &node.pid().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !node.stdout().contains("\"associations\"") && Instant::now() < deadline {
            thread::sleep(POLL_INTERVAL);
        }
        assert!(node.stdout().contains("\"stratum\": 4"), "{}", node.stdout());
        // `ntp-node status` renders the status file in a vendor's view.
        let file = node.dir.path().join(STATUS_FILE);
        let shown = Command::new(binary().unwrap())
            .args(["status", "--view", "cisco-status", "--file"])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.starts_with("Clock is synchronized, stratum 4, reference is "), "{text}");
        node.terminate().unwrap();
        let report = node.finish(Duration::from_secs(10)).unwrap();
        assert_eq!(report.status.system.stratum, 4);
        assert!(report.output.contains("ntp-node: stopped after"), "{}", report.output);
    }
}
