//! The `node` example of ntp-algo as a real NTP peer for interop tests:
//! built once per test binary, run as a child process with its output in a
//! temporary directory, stopped by PID, and its final status read back.
//!
//! ```no_run
//! use std::time::Duration;
//! use ntp_tests::node::Node;
//!
//! let listen = "127.0.0.2:12123".parse().unwrap();
//! let node = Node::start(listen, &["--master", "2", "--duration", "5", "--quiet"]).unwrap();
//! let report = node.finish(Duration::from_secs(15)).unwrap();
//! assert!(report.system.synchronized);
//! ```
//!
//! At the end of its `--duration` the node prints one `SYSTEM` line and one
//! `ASSOC` line per association (see `machine_lines` in
//! `ntp-algo/examples/support/mod.rs`); [`parse_report`] reads them into a
//! [`NodeReport`].
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

use tempfile::TempDir;

/// What the node prints once its socket is bound.
const LISTENING: &str = "listening on";

/// How often to look at a running node's output or exit status.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The path of the `node` example binary, built on first use. Every later
/// call (from any thread) returns the same path or the same build error.
pub fn binary() -> io::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY.get_or_init(build).clone().map_err(io::Error::other)
}

/// Runs `cargo build -p ntp-algo --example node` and finds the executable in
/// cargo's JSON messages.
fn build() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("Cargo.toml");
    let mut command = Command::new(&cargo);
    command
        .args(["build", "-p", "ntp-algo", "--example", "node", "--message-format=json-render-diagnostics"])
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
        return Err(format!("`cargo build -p ntp-algo --example node` failed ({})", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
        .filter(|line| line.contains(r#""kind":["example"]"#) && line.contains(r#""name":"node""#))
        .find_map(json_string_field("executable"))
        .map(PathBuf::from)
        .ok_or_else(|| "cargo built the node example but named no executable".to_owned())
}

/// The target directory the running test binary was built in: the nearest
/// ancestor that holds cargo's `CACHEDIR.TAG`.
fn target_dir_of_this_test() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().skip(1).find(|dir| dir.join("CACHEDIR.TAG").is_file()).map(Path::to_path_buf)
}

/// A reader of the string value of `"name":"..."` in one line of JSON (with
/// the escapes cargo may put in a path).
fn json_string_field(name: &str) -> impl Fn(&str) -> Option<String> + '_ {
    move |line| {
        let key = format!("\"{name}\":\"");
        let start = line.find(&key)? + key.len();
        let mut value = String::new();
        let mut chars = line.get(start..)?.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(value),
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        }
        None
    }
}

/// A running `node`. Dropping it kills the process (by its PID).
#[derive(Debug)]
pub struct Node {
    child: Child,
    listen: SocketAddr,
    // Holds `stdout.log` and `stderr.log`; removed after the child is stopped.
    dir: TempDir,
}

impl Node {
    /// Starts the node on `listen` with more `args` (`--listen` is added
    /// here) and returns once it has bound its socket. The error is of kind
    /// [`io::ErrorKind::AddrInUse`] when the address was taken, so that a
    /// caller can pick another port.
    pub fn start(listen: SocketAddr, args: &[&str]) -> io::Result<Node> {
        let mut command = Command::new(binary()?);
        command.arg("--listen").arg(listen.to_string()).args(args);
        Node::start_command(command, listen)
    }

    /// Starts `command`, which must run the node binary (possibly through a
    /// wrapper that `exec`s it, such as `unshare`), listening on `listen`.
    /// See [`Node::start`].
    pub fn start_command(mut command: Command, listen: SocketAddr) -> io::Result<Node> {
        let dir = tempfile::Builder::new().prefix("ntp-tests-node-").tempdir()?;
        let stdout = File::create(dir.path().join("stdout.log"))?;
        let stderr = File::create(dir.path().join("stderr.log"))?;
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

    /// Waits for the node to end its `--duration` (killing it when `timeout`
    /// passes first, which is an error) and parses its final status.
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
        let stdout = self.stdout();
        if !status.success() {
            return Err(io::Error::other(format!(
                "node on {} failed ({status}): {}\n{stdout}",
                self.listen,
                self.stderr()
            )));
        }
        parse_report(&stdout).map_err(|e| io::Error::other(format!("{e}; the node's output:\n{stdout}")))
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

/// The node's final status: its `SYSTEM` line, its `ASSOC` lines, and all it printed.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeReport {
    /// The system variables.
    pub system: SystemLine,
    /// One entry per association, in the order printed.
    pub associations: Vec<AssocLine>,
    /// The node's whole stdout, for failure messages.
    pub output: String,
}

impl NodeReport {
    /// The association with this remote address, if any.
    pub fn association(&self, address: SocketAddr) -> Option<&AssocLine> {
        self.associations.iter().find(|a| a.address == address)
    }
}

/// `SYSTEM synchronized=1 stratum=9 refid=127.0.0.1 offset=0.000049055 frequency_ppm=0.0000 peer=127.0.0.1:22123`
#[derive(Clone, Debug, PartialEq)]
pub struct SystemLine {
    /// Synchronized to a source or to the local reference.
    pub synchronized: bool,
    /// The system stratum.
    pub stratum: u8,
    /// The reference id, as a dotted quad.
    pub refid: String,
    /// The last combined offset, seconds.
    pub offset: f64,
    /// The frequency correction, ppm.
    pub frequency_ppm: f64,
    /// The system peer's address (`None` for `-`).
    pub peer: Option<SocketAddr>,
}

/// `ASSOC id=1 address=127.0.0.1:123 mode=client reach=377 stratum=8 offset=0.000012 delay=0.0001 jitter=0.00001 selection=* samples=8`
#[derive(Clone, Debug, PartialEq)]
pub struct AssocLine {
    /// The association id.
    pub id: u32,
    /// The remote address.
    pub address: SocketAddr,
    /// `client`, `sym_active`, `sym_passive`, `bcast_server` or `bcast_client`.
    pub mode: String,
    /// The reach register (printed in octal).
    pub reach: u8,
    /// The remote's stratum.
    pub stratum: u8,
    /// The clock filter's offset, seconds (`None` before the first sample).
    pub offset: Option<f64>,
    /// The clock filter's delay, seconds.
    pub delay: Option<f64>,
    /// The clock filter's jitter, seconds.
    pub jitter: Option<f64>,
    /// The selection tally character (`*` system peer, `+` candidate, `-`
    /// outlier, `x` falseticker, ` ` rejected).
    pub selection: char,
    /// Packets that gave a sample.
    pub samples: u64,
}

/// Reads the last `SYSTEM` line and the `ASSOC` lines that follow it.
pub fn parse_report(output: &str) -> Result<NodeReport, String> {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .rposition(|line| line.starts_with("SYSTEM "))
        .ok_or("the node printed no SYSTEM line (did --duration end?)")?;
    let mut rest = lines.iter().skip(start);
    let system = parse_system(rest.next().copied().unwrap_or_default())?;
    let associations = rest
        .take_while(|line| line.starts_with("ASSOC "))
        .map(|line| parse_assoc(line))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NodeReport { system, associations, output: output.to_owned() })
}

/// The `key=value` fields of one line, after its first word.
struct Fields<'a> {
    line: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    fn new(line: &'a str) -> Self {
        let pairs = line.split_whitespace().skip(1).filter_map(|word| word.split_once('=')).collect();
        Fields { line, pairs }
    }

    fn raw(&self, key: &str) -> Result<&'a str, String> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).ok_or(format!("no {key}= in {:?}", self.line))
    }

    fn get<T: std::str::FromStr>(&self, key: &str) -> Result<T, String> {
        let raw = self.raw(key)?;
        raw.parse().map_err(|_| format!("bad {key}={raw} in {:?}", self.line))
    }

    /// A number, or `None` for `-`.
    fn optional(&self, key: &str) -> Result<Option<f64>, String> {
        if self.raw(key)? == "-" { Ok(None) } else { self.get(key).map(Some) }
    }
}

fn parse_system(line: &str) -> Result<SystemLine, String> {
    let f = Fields::new(line);
    let peer = match f.raw("peer")? {
        "-" => None,
        _ => Some(f.get("peer")?),
    };
    Ok(SystemLine {
        synchronized: f.get::<u8>("synchronized")? == 1,
        stratum: f.get("stratum")?,
        refid: f.raw("refid")?.to_owned(),
        offset: f.get("offset")?,
        frequency_ppm: f.get("frequency_ppm")?,
        peer,
    })
}

fn parse_assoc(line: &str) -> Result<AssocLine, String> {
    let f = Fields::new(line);
    let reach = f.raw("reach")?;
    Ok(AssocLine {
        id: f.get("id")?,
        address: f.get("address")?,
        mode: f.raw("mode")?.to_owned(),
        reach: u8::from_str_radix(reach, 8).map_err(|_| format!("bad octal reach={reach} in {line:?}"))?,
        stratum: f.get("stratum")?,
        offset: f.optional("offset")?,
        delay: f.optional("delay")?,
        jitter: f.optional("jitter")?,
        // A rejected association's tally is a space, which leaves `selection=` empty.
        selection: f.raw("selection")?.chars().next().unwrap_or(' '),
        samples: f.get("samples")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
node: listening on 127.0.0.2:22124
     remote              refid       st t  when poll reach   delay   offset   jitter
SYSTEM synchronized=0 stratum=16 refid=0.0.0.0 offset=0.000000000 frequency_ppm=0.0000 peer=-
SYSTEM synchronized=1 stratum=9 refid=127.0.0.1 offset=0.000049055 frequency_ppm=-1.2500 peer=127.0.0.1:22123
ASSOC id=1 address=127.0.0.1:22123 mode=client reach=377 stratum=8 offset=0.000049055 delay=0.000119490 jitter=0.000053466 selection=* samples=8
ASSOC id=2 address=127.0.0.3:123 mode=sym_passive reach=0 stratum=16 offset=- delay=- jitter=- selection=  samples=0
";

    #[test]
    fn test_report_reads_the_last_system_line_and_its_associations() {
        let report = parse_report(OUTPUT).unwrap();
        assert_eq!(
            report.system,
            SystemLine {
                synchronized: true,
                stratum: 9,
                refid: "127.0.0.1".into(),
                offset: 0.000049055,
                frequency_ppm: -1.25,
                peer: Some("127.0.0.1:22123".parse().unwrap()),
            }
        );
        assert_eq!(report.associations.len(), 2);
        let first = report.association("127.0.0.1:22123".parse().unwrap()).unwrap();
        assert_eq!((first.id, first.mode.as_str(), first.reach, first.stratum), (1, "client", 0o377, 8));
        assert_eq!((first.offset, first.selection, first.samples), (Some(0.000049055), '*', 8));
        let second = &report.associations[1];
        assert_eq!((second.offset, second.delay, second.jitter, second.reach), (None, None, None, 0));
        assert_eq!((second.selection, second.samples), (' ', 0));
    }

    #[test]
    fn test_report_without_system_line_is_an_error() {
        assert!(parse_report("node: listening on 127.0.0.1:1\n").is_err());
        assert!(parse_report("SYSTEM synchronized=1\n").is_err());
    }

    #[test]
    fn test_json_string_field_unescapes() {
        let read = json_string_field("executable");
        assert_eq!(read(r#"{"a":1,"executable":"/t/a\"b\\c","x":"y"}"#).as_deref(), Some(r#"/t/a"b\c"#));
        assert_eq!(read(r#"{"executable":null}"#), None);
    }
}
