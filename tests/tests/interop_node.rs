//! Interop of the `ntp-node` binary (a real UDP node driven by the
//! sans-IO engine) with chronyd 4.3 and NTPsec's ntpdig, on loopback
//! (issue 4). Each test proves one way the two sides work together:
//!
//! * our client association synchronizes to chronyd, without a key and with
//!   MD5 and AES128-CMAC keys, and gets nothing with a wrong secret;
//! * chronyd, as a client of our server, selects our node (`^*`) and
//!   synchronizes to it;
//! * ntpdig gets answers signed with the key it asked with (MD5, SHA1 from
//!   an NTPsec `ntp.keys` file), and none with a wrong secret or unknown key;
//! * symmetric mode with chronyd, authenticated: our active association
//!   answered by an unconfigured chronyd; chronyd's `peer` mobilizing a
//!   passive association in our node; both sides configured as peers; and
//!   an unauthenticated `peer` that must mobilize nothing;
//! * our broadcast client calibrates against chronyd and then takes
//!   samples from chronyd's broadcasts.
//!
//! Safety: chronyd runs with `-x` on 127.0.0.1 in its own
//! temporary directory (`ntp_tests::chrony`), the node disciplines a
//! software clock and never the system clock, ntpdig runs without `-S`/`-s`,
//! and every process is stopped by its PID. The node listens on
//! [`NODE_IP`]; the ntpdig test runs the node on 127.0.0.1:123 inside a
//! private network namespace, because ntpdig has no port option.
//!
//! Polls are 1 s (chronyd's peer and server polls too, 0.25 s where
//! chronyd is the client), so each test takes 5 to 20 seconds; they run in
//! parallel on distinct ports. Without chronyd, chronyc or ntpdig these
//! tests print `SKIPPED` (or fail under `CI=true`).
// A test states its expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ntp_node::AssociationSnapshot;
use ntp_tests::chrony::{Chronyd, ChronydConfig};
use ntp_tests::chronyc::CommandSocket;
use ntp_tests::node::{Node, NodeReport};
use ntp_tests::tools;

/// Where our node listens (chronyd listens on 127.0.0.1).
const NODE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// chronyd's key file, which the node reads too (`--keyfile`): an MD5 key
/// and an AES128-CMAC key.
const CHRONY_KEYS: &str = "\
1 MD5 HEX:fa1ac5e97ab9aca3b2f03903e26a6af4
3 AES128 HEX:62a6cf422dcdc5588164a320e51922bc
";

/// Key 1 with another secret.
const WRONG_CHRONY_KEYS: &str = "1 MD5 HEX:fa1ac5e97ab9aca3b2f03903e26a6af5\n";

/// The node's and ntpdig's `ntp.keys` (NTPsec syntax: up to 20 characters
/// is text, more is hex).
const NTP_KEYS: &str = "\
5 md5 interop-md5-text
6 sha1 6e74702d776972652073686131206b6579212121
";

/// ntpdig's keys that the node must not accept: key 5 with another secret,
/// and a key id the node does not have.
const WRONG_NTP_KEYS: &str = "\
5 md5 interop-md5-texT
7 md5 nobody-has-key-7
";

/// Largest |offset| accepted between two clocks that both read the system
/// clock (the node's starts from it and nothing moves it far).
const SAME_CLOCK: f64 = 1e-3;

/// How long a node may outlive its `--duration` before it counts as hung.
const FINISH_GRACE: Duration = Duration::from_secs(15);

/// How many times to pick a new port when one was taken in the meantime.
const PORT_ATTEMPTS: usize = 3;

// ---------------------------------------------------------------------------
// Helpers

/// chronyd and chronyc, or `None` (after the `SKIPPED` line) when missing.
fn chrony_programs() -> Option<(PathBuf, PathBuf)> {
    Some((tools::require("chronyd", "chrony")?, tools::require("chronyc", "chrony")?))
}

/// Starts chronyd with `CHRONY_KEYS` and `extra` directives and waits
/// until it answers.
fn start_chronyd(program: &Path, extra: Vec<String>) -> io::Result<Chronyd> {
    let config = ChronydConfig { keys: Some(CHRONY_KEYS.to_owned()), extra, ..ChronydConfig::default() };
    let daemon = Chronyd::start(program, &config)?;
    daemon.wait_serving(Duration::from_secs(10))?;
    Ok(daemon)
}

/// Runs `attempt` with a node address on a port that was free a moment
/// ago, again with another port when the node finds it taken (chronyd must
/// often be told the node's port before the node can bind it).
fn with_node_port<T>(mut attempt: impl FnMut(SocketAddr) -> io::Result<T>) -> T {
    let mut last = None;
    for _ in 0..PORT_ATTEMPTS {
        let listen = SocketAddr::from((NODE_IP, tools::free_udp_port()));
        match attempt(listen) {
            Ok(value) => return value,
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last = Some(error),
            Err(error) => panic!("{error}"),
        }
    }
    panic!("no free port for the node after {PORT_ATTEMPTS} attempts: {last:?}")
}

/// `--server`/`--peer` value: chronyd's address, 1 s polls, and a key.
fn association_spec(remote: SocketAddr, key: Option<u32>) -> String {
    let key = key.map(|id| format!(",key={id}")).unwrap_or_default();
    format!("{remote},minpoll=0,maxpoll=0{key}")
}

/// Runs `command` with stdout and stderr captured, killing it (by PID) if
/// it is still running after `timeout`.
fn run_bounded(mut command: Command, timeout: Duration) -> Finished {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} still ran after {timeout:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Finished { status, stdout: fs::read_to_string(out).unwrap(), stderr: fs::read_to_string(err).unwrap() }
}

/// What a finished program printed.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// One row of `chronyc -c sources`: `^,*,127.0.0.2,2,-2,377,0,...`.
#[derive(Debug)]
struct SourceRow {
    /// `^` server, `=` peer, `#` reference clock.
    mode: char,
    /// `*` selected, `+` combined, `-`, `?`, `x`, `~`.
    state: char,
    stratum: u8,
    /// The reach register, read from octal.
    reach: u8,
}

/// The row of `chronyc -c sources` output for the source named `name`.
fn source_row(output: &str, name: &str) -> Option<SourceRow> {
    output.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() < 6 || fields[2] != name {
            return None;
        }
        Some(SourceRow {
            mode: fields[0].chars().next()?,
            state: fields[1].chars().next()?,
            stratum: fields[3].parse().ok()?,
            reach: u8::from_str_radix(fields[5], 8).ok()?,
        })
    })
}

/// The value of `Label : value` in chronyc's human-readable reports
/// (`tracking`, `ntpdata`, `serverstats`).
fn report_field<'a>(output: &'a str, label: &str) -> Option<&'a str> {
    output.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == label).then_some(value.trim())
    })
}

/// The association with `remote` in the node's report, or a failure that
/// shows the whole report.
fn association(report: &NodeReport, remote: SocketAddr) -> &AssociationSnapshot {
    report
        .association(remote)
        .unwrap_or_else(|| panic!("no association with {remote}; the node printed:\n{}", report.output))
}

/// The reach register of an association polled at least eight times, all
/// answered (the last poll's answer may still be in flight when the node
/// prints its status, so its bit may be 0).
fn fully_reached(reach: u8) -> bool {
    reach | 1 == 0o377
}

/// Our association with chronyd as a server (or peer) answered every poll
/// and synchronized our node, within [`SAME_CLOCK`].
fn assert_synchronized_to(report: &NodeReport, chronyd: SocketAddr, mode: &str) {
    let assoc = association(report, chronyd);
    assert!(fully_reached(assoc.reach), "reach {:o}: not every poll answered\n{}", assoc.reach, report.output);
    assert_synchronized_to_peer(report, chronyd, mode);
}

/// As [`assert_synchronized_to`], for a chronyd that polls us on its own
/// schedule (both sides `peer`): a reach bit then says whether chronyd's
/// own packet came within our poll interval, not whether our poll was
/// answered, and when the two 1 s timers run nearly in phase, scheduling
/// jitter can put two of its packets in one of our intervals and none in
/// the next. Most bits must still be set.
fn assert_synchronized_to_peer(report: &NodeReport, chronyd: SocketAddr, mode: &str) {
    let assoc = association(report, chronyd);
    let shown = &report.output;
    assert_eq!(assoc.mode, mode, "{shown}");
    assert!(assoc.reach.count_ones() >= 6, "reach {:o}: most polls unanswered\n{shown}", assoc.reach);
    assert!(assoc.counters.samples >= 8, "{} samples\n{shown}", assoc.counters.samples);
    assert_eq!(assoc.stratum, 8, "chronyd serves `local stratum 8`\n{shown}");
    assert_eq!(assoc.tally, '*', "chronyd must be the system peer\n{shown}");
    let offset = assoc.offset.expect("an offset after samples");
    assert!(offset.abs() < SAME_CLOCK, "offset {offset} s to a server on the same clock\n{shown}");
    assert!(report.status.system.synchronized, "{shown}");
    assert_eq!(report.status.system.stratum, 9, "{shown}");
    assert_eq!(report.status.system.system_peer, Some(chronyd), "{shown}");
}

// ---------------------------------------------------------------------------
// 1. Our client, chronyd the server.

/// What chronyd's `serverstats` counted: NTP packets received, and how many
/// of them were authenticated (their MAC verified).
#[derive(Debug)]
struct ServerStats {
    received: u64,
    authenticated: u64,
}

fn server_stats(socket: &CommandSocket) -> ServerStats {
    let stats = socket.run(&["serverstats"]).unwrap();
    let count = |label| -> u64 {
        report_field(&stats, label).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{label}?\n{stats}"))
    };
    ServerStats { received: count("NTP packets received"), authenticated: count("Authenticated NTP packets") }
}

/// Runs the node for `seconds` as a client of a chronyd (with
/// `CHRONY_KEYS`), polling every second, the node reading `node_keys` and
/// signing with `key`; returns chronyd's address, the node's final status
/// and what chronyd counted while the node ran.
fn node_as_client_of_chronyd(
    node_keys: &str,
    key: Option<u32>,
    seconds: u32,
) -> Option<(SocketAddr, NodeReport, ServerStats)> {
    let (chronyd, chronyc) = chrony_programs()?;
    let socket = CommandSocket::new(chronyc);
    let daemon = start_chronyd(&chronyd, vec![socket.directive()]).expect("start chronyd");
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("chrony.keys");
    fs::write(&keyfile, node_keys).unwrap();
    let server = association_spec(daemon.addr(), key);
    let duration = seconds.to_string();
    let before = server_stats(&socket);
    let node = with_node_port(|listen| {
        let args = ["--server", &server, "--keyfile", keyfile.to_str().unwrap(), "--duration", &duration, "--quiet"];
        Node::start(listen, &args)
    });
    let report = node
        .finish(Duration::from_secs(seconds.into()) + FINISH_GRACE)
        .unwrap_or_else(|e| panic!("{e}\nchronyd's log:\n{}", daemon.log()));
    let after = server_stats(&socket);
    let stats = ServerStats {
        received: after.received - before.received,
        authenticated: after.authenticated - before.authenticated,
    };
    Some((daemon.addr(), report, stats))
}

#[test]
fn node_client_synchronizes_to_chronyd_without_key() {
    let Some((chronyd, report, stats)) = node_as_client_of_chronyd(CHRONY_KEYS, None, 10) else { return };
    assert_synchronized_to(&report, chronyd, "client");
    assert_eq!(stats.authenticated, 0, "{stats:?}");
}

/// The MAC checks of a keyed client association: chronyd verified every
/// request (it counts them), and the node took samples only from answers
/// that verified with the same key (the association requires it).
fn assert_authenticated_client(report: &NodeReport, chronyd: SocketAddr, stats: &ServerStats) {
    assert_synchronized_to(report, chronyd, "client");
    assert!(stats.received >= 8 && stats.authenticated == stats.received, "{stats:?}");
}

#[test]
fn node_client_synchronizes_to_chronyd_with_md5_key() {
    let Some((chronyd, report, stats)) = node_as_client_of_chronyd(CHRONY_KEYS, Some(1), 10) else { return };
    assert_authenticated_client(&report, chronyd, &stats);
}

#[test]
fn node_client_synchronizes_to_chronyd_with_aes128_cmac_key() {
    let Some((chronyd, report, stats)) = node_as_client_of_chronyd(CHRONY_KEYS, Some(3), 10) else { return };
    assert_authenticated_client(&report, chronyd, &stats);
}

#[test]
fn node_client_with_wrong_secret_gets_nothing_from_chronyd() {
    let Some((chronyd, report, stats)) = node_as_client_of_chronyd(WRONG_CHRONY_KEYS, Some(1), 5) else { return };
    let assoc = association(&report, chronyd);
    assert_eq!((assoc.reach, assoc.counters.samples), (0, 0), "chronyd answered a wrong MAC\n{}", report.output);
    assert!(!report.status.system.synchronized, "{}", report.output);
    // Our requests did reach chronyd, which dropped them.
    assert!(stats.received >= 3 && stats.authenticated == 0, "{stats:?}");
}

// ---------------------------------------------------------------------------
// 2. chronyd the client, our node the server.

#[test]
fn chronyd_selects_and_synchronizes_to_node_server() {
    let Some((chronyd, chronyc)) = chrony_programs() else { return };
    let node = with_node_port(|listen| Node::start(listen, &["--master", "2", "--duration", "30", "--quiet"]));
    let socket = CommandSocket::new(chronyc);
    let extra = vec![
        format!("server {} port {} iburst minpoll -2 maxpoll -2", NODE_IP, node.addr().port()),
        socket.directive(),
    ];
    let daemon = start_chronyd(&chronyd, extra).expect("start chronyd");

    let name = NODE_IP.to_string();
    let row =
        socket.wait_for(&["-c", "sources"], Duration::from_secs(20), "chronyd selects our node", &daemon, |out| {
            source_row(out, &name).filter(|row| row.state == '*')
        });
    assert_eq!((row.mode, row.stratum), ('^', 2), "a server at our `--master 2` stratum: {row:?}");
    assert_ne!(row.reach, 0, "{row:?}");

    // chronyd's own clock now follows ours: one stratum below, our address as reference.
    let our_id = format!("({NODE_IP})");
    socket.wait_for(&["tracking"], Duration::from_secs(5), "chronyd tracks our node", &daemon, |out| {
        let reference = report_field(out, "Reference ID")?;
        (report_field(out, "Stratum") == Some("3") && reference.ends_with(&our_id)).then_some(())
    });
    drop(daemon);
    drop(node);
}

// ---------------------------------------------------------------------------
// 3. NTPsec's ntpdig against our node, authenticated.

/// Whether this process runs as root (needed for a network namespace and port 123).
fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `ntpdig -d -j -t 1 -k KEYS -a KEY 127.0.0.1` in the network namespace of `pid`.
fn ntpdig_in(pid: u32, nsenter: &Path, ntpdig: &Path, keys: &Path, key: u32) -> Finished {
    let mut command = Command::new(nsenter);
    command.args(["--target", &pid.to_string(), "--net", "--"]).arg(ntpdig);
    command.args(["-d", "-j", "-t", "1", "-k"]).arg(keys).args(["-a", &key.to_string(), "127.0.0.1"]);
    run_bounded(command, Duration::from_secs(20))
}

/// A number in ntpdig's one-line JSON answer (`"offset":0.000012`).
fn json_number(json: &str, name: &str) -> Option<f64> {
    let start = json.find(&format!("\"{name}\":"))? + name.len() + 3;
    let rest = json.get(start..)?;
    rest.split([',', '}']).next()?.trim().parse().ok()
}

#[test]
fn ntpdig_gets_signed_answers_from_node_and_none_with_wrong_keys() {
    let Some(ntpdig) = tools::require("ntpdig", "ntpsec-ntpdig") else { return };
    let Some(unshare) = tools::require("unshare", "util-linux") else { return };
    let Some(nsenter) = tools::require("nsenter", "util-linux") else { return };
    let Some(ip) = tools::require("ip", "iproute2") else { return };
    if !is_root() {
        assert!(!tools::in_ci(), "CI=true: the ntpdig test needs root (network namespace, port 123)");
        eprintln!("SKIPPED: the ntpdig test needs root (network namespace, port 123)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("ntp.keys");
    let wrong = dir.path().join("wrong.keys");
    fs::write(&keys, NTP_KEYS).unwrap();
    fs::write(&wrong, WRONG_NTP_KEYS).unwrap();

    // The node on 127.0.0.1:123 in a fresh network namespace that holds
    // nothing else: `unshare` and `sh` exec into the node, so its PID is
    // the child's, and its namespace is the one ntpdig enters.
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 123));
    let mut command = Command::new(unshare);
    command.args(["--net", "--", "sh", "-c", r#""$0" link set lo up && exec "$@""#]).arg(ip);
    command.arg(ntp_tests::node::binary().unwrap()).args([
        "run",
        "--listen",
        "127.0.0.1:123",
        "--master",
        "2",
        "--keyfile",
    ]);
    command.arg(&keys).args(["--duration", "60", "--quiet"]);
    let node = Node::start_command(command, listen).unwrap();
    let pid = node.pid();

    let answered = |key: u32, finished: &Finished| {
        let shown = format!("ntpdig -a {key}: {finished:?}\nthe node printed: {}{}", node.stdout(), node.stderr());
        assert!(finished.status.success(), "{shown}");
        // ntpdig drops an answer whose MAC fails ("server is untrusted") and then exits 1.
        assert!(finished.stderr.contains("MAC verification on reply from 127.0.0.1 succeeded"), "{shown}");
        assert_eq!(json_number(&finished.stdout, "stratum"), Some(2.0), "our --master 2: {shown}");
        // ntpdig reads its clock before it computes the MAC, which adds
        // milliseconds to its offset; 50 ms still catches a wrong timestamp.
        let offset = json_number(&finished.stdout, "offset").unwrap_or(f64::NAN);
        assert!(offset.abs() < 0.05, "offset {offset}: {shown}");
    };
    let unanswered = |key: u32, finished: &Finished| {
        let shown = format!("ntpdig -a {key}: {finished:?}");
        assert!(!finished.status.success(), "{shown}");
        assert!(finished.stderr.contains("no eligible servers"), "{shown}");
        // Silence, not an answer that failed verification: like chronyd and
        // ntpd, the node sends no reply (and no crypto-NAK) to a bad MAC.
        assert!(!finished.stderr.contains("MAC verification"), "{shown}");
        assert!(finished.stdout.is_empty(), "{shown}");
    };

    answered(5, &ntpdig_in(pid, &nsenter, &ntpdig, &keys, 5));
    unanswered(5, &ntpdig_in(pid, &nsenter, &ntpdig, &wrong, 5));
    unanswered(7, &ntpdig_in(pid, &nsenter, &ntpdig, &wrong, 7));
    // The node still serves after the bad requests.
    answered(6, &ntpdig_in(pid, &nsenter, &ntpdig, &keys, 6));
    drop(node);
}

// ---------------------------------------------------------------------------
// 4. Symmetric mode with chronyd, authenticated.

#[test]
fn node_symmetric_active_is_answered_by_chronyd_with_aes128_key() {
    // chronyd has no `peer` for us: it answers our mode 1 packets with
    // mode 2, statelessly, and signs them with our key.
    let Some((chronyd, chronyc)) = chrony_programs() else { return };
    let socket = CommandSocket::new(chronyc);
    let daemon = start_chronyd(&chronyd, vec![socket.directive()]).expect("start chronyd");
    let peer = association_spec(daemon.addr(), Some(3));
    let keyfile = daemon.keys_path();
    let node = with_node_port(|listen| {
        let args = ["--peer", &peer, "--keyfile", keyfile.to_str().unwrap(), "--duration", "10", "--quiet"];
        Node::start(listen, &args)
    });
    let report = node.finish(Duration::from_secs(10) + FINISH_GRACE).unwrap();
    assert_synchronized_to(&report, daemon.addr(), "sym_active");

    let stats = socket.run(&["serverstats"]).unwrap();
    let authenticated: u64 = report_field(&stats, "Authenticated NTP packets").unwrap().parse().unwrap();
    let samples = association(&report, daemon.addr()).counters.samples;
    assert!(authenticated >= samples, "chronyd verified {authenticated} of our packets, we took {samples} samples");
}

/// Starts chronyd with `peer NODE port P minpoll 0 maxpoll 0 [key K]` and
/// then the node on P, with the arguments `node_args` makes from chronyd's
/// address, and `--duration seconds --quiet`.
fn chronyd_peering_node(
    chronyd: &Path,
    socket: &CommandSocket,
    key: Option<u32>,
    node_args: impl Fn(SocketAddr) -> Vec<String>,
    seconds: u32,
) -> (Chronyd, Node) {
    with_node_port(|listen| {
        let key = key.map(|id| format!(" key {id}")).unwrap_or_default();
        let peer = format!("peer {} port {} minpoll 0 maxpoll 0{key}", listen.ip(), listen.port());
        let daemon = start_chronyd(chronyd, vec![peer, socket.directive()])?;
        let mut args = node_args(daemon.addr());
        args.extend(["--duration".to_owned(), seconds.to_string(), "--quiet".to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let node = Node::start(listen, &args)?;
        Ok((daemon, node))
    })
}

/// Waits until chronyd lists our node as a peer (`=`) that answers (reach
/// not zero), and returns chronyd's `ntpdata` about it.
fn wait_chronyd_hears_peer(socket: &CommandSocket, daemon: &Chronyd, timeout: Duration) -> String {
    let name = NODE_IP.to_string();
    let row = socket.wait_for(&["-c", "sources"], timeout, "chronyd hears our node as a peer", daemon, |out| {
        source_row(out, &name).filter(|row| row.reach != 0)
    });
    assert_eq!(row.mode, '=', "chronyd lists our node as a peer: {row:?}");
    socket.run(&["ntpdata", &name]).unwrap()
}

#[test]
fn chronyd_peer_with_md5_key_mobilizes_passive_association_in_node() {
    let Some((chronyd, chronyc)) = chrony_programs() else { return };
    let socket = CommandSocket::new(chronyc);
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("chrony.keys");
    fs::write(&keyfile, CHRONY_KEYS).unwrap();
    let node_args = |_| vec!["--keyfile".to_owned(), keyfile.display().to_string()];
    let (daemon, node) = chronyd_peering_node(&chronyd, &socket, Some(1), node_args, 20);

    // Our passive association answers chronyd's polls (every other one: it
    // sends at most one packet per 2 s) once it has synchronized to chronyd.
    let ntpdata = wait_chronyd_hears_peer(&socket, &daemon, Duration::from_secs(18));
    assert_eq!(report_field(&ntpdata, "Mode"), Some("Symmetric passive"), "{ntpdata}");
    assert_eq!(report_field(&ntpdata, "Authenticated"), Some("Yes"), "{ntpdata}");

    let report = node.finish(Duration::from_secs(20) + FINISH_GRACE).unwrap();
    let assoc = association(&report, daemon.addr());
    assert_eq!(assoc.mode, "sym_passive", "{}", report.output);
    assert_ne!(assoc.reach, 0, "{}", report.output);
    assert!(assoc.counters.samples >= 3, "{} samples\n{}", assoc.counters.samples, report.output);
    let system = &report.status.system;
    assert!(system.synchronized && system.system_peer == Some(daemon.addr()), "{}", report.output);
}

#[test]
fn node_and_chronyd_peer_each_other_with_aes128_key() {
    let Some((chronyd, chronyc)) = chrony_programs() else { return };
    let socket = CommandSocket::new(chronyc);
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("chrony.keys");
    fs::write(&keyfile, CHRONY_KEYS).unwrap();
    let node_args = |chronyd: SocketAddr| {
        let keyfile = keyfile.display().to_string();
        vec!["--peer".to_owned(), association_spec(chronyd, Some(3)), "--keyfile".to_owned(), keyfile]
    };
    let (daemon, node) = chronyd_peering_node(&chronyd, &socket, Some(3), node_args, 15);

    let ntpdata = wait_chronyd_hears_peer(&socket, &daemon, Duration::from_secs(14));
    assert_eq!(report_field(&ntpdata, "Mode"), Some("Symmetric active"), "{ntpdata}");
    assert_eq!(report_field(&ntpdata, "Authenticated"), Some("Yes"), "{ntpdata}");

    let report = node.finish(Duration::from_secs(15) + FINISH_GRACE).unwrap();
    assert_synchronized_to_peer(&report, daemon.addr(), "sym_active");
}

#[test]
fn unauthenticated_chronyd_peer_mobilizes_nothing_in_node() {
    // Without a key and without a `peer` access rule, a mode 1 packet gets
    // a stateless mode 2 answer and creates no association.
    let Some((chronyd, chronyc)) = chrony_programs() else { return };
    let socket = CommandSocket::new(chronyc);
    let (daemon, node) = chronyd_peering_node(&chronyd, &socket, None, |_| Vec::new(), 6);

    let name = NODE_IP.to_string();
    socket.wait_for(&["ntpdata", &name], Duration::from_secs(5), "our node answers chronyd", &daemon, |out| {
        let received: u64 = report_field(out, "Total RX")?.parse().ok()?;
        (received >= 3 && report_field(out, "Mode") == Some("Symmetric passive")).then_some(())
    });
    let report = node.finish(Duration::from_secs(6) + FINISH_GRACE).unwrap();
    assert!(report.status.associations.is_empty(), "{}", report.output);
    assert!(!report.status.system.synchronized, "{}", report.output);
}

// ---------------------------------------------------------------------------
// 5. chronyd broadcasts, our node a broadcast client.

#[test]
fn node_broadcast_client_calibrates_then_takes_chronyd_broadcast_samples() {
    let Some((chronyd, chronyc)) = chrony_programs() else { return };
    let socket = CommandSocket::new(chronyc);
    let (daemon, node, before) = with_node_port(|listen| {
        // One broadcast a second, to the node's unicast address and port.
        let broadcast = format!("broadcast 1 {} {}", listen.ip(), listen.port());
        let daemon = start_chronyd(&chronyd, vec![broadcast, socket.directive()])?;
        let before = server_stats(&socket);
        let node = Node::start(listen, &["--broadcast-client", "--duration", "12", "--quiet"])?;
        Ok((daemon, node, before))
    });
    let report = node.finish(Duration::from_secs(12) + FINISH_GRACE).unwrap();
    let shown = &report.output;
    let assoc = association(&report, daemon.addr());
    assert_eq!(assoc.mode, "bcast_client", "{shown}");
    // The calibration's client requests went to chronyd as a server, and
    // each gave at most one sample: samples beyond the requests are broadcasts.
    let requests = server_stats(&socket).received - before.received;
    assert!(requests >= 1, "the broadcast client calibrated with no client request");
    let samples = assoc.counters.samples;
    assert!(samples >= requests + 3, "{samples} samples, {requests} of them at most from calibration\n{shown}");
    assert_ne!(assoc.reach, 0, "{shown}");
    assert_eq!(assoc.stratum, 8, "{shown}");
    let system = &report.status.system;
    assert!(system.synchronized && system.system_peer == Some(daemon.addr()), "{shown}");
    // A broadcast sample rests on the calibrated delay and one timestamp
    // each side, so the node's scheduling shows in it (milliseconds on a
    // busy machine); seconds would mean a wrong timestamp or sign.
    let offset = assoc.offset.unwrap();
    assert!(offset.abs() < 0.05, "offset {offset}\n{shown}");
}

// ---------------------------------------------------------------------------
// 6. A known, non-zero offset: our software clock started off on purpose.
//
// Both sides read the same system clock, so the true offset between them
// is exactly what `--offset` put there (plus scheduling noise well under a
// millisecond on loopback). A sign error in the on-wire calculation, the
// clock filter or the step would show here, which tests on one clock
// (true offset 0) cannot see.

/// How far a measured offset may be from the one we put there, seconds:
/// the slew the discipline applies during the run (about 0.5 ms/s in its
/// first minutes) and the noise of a busy machine.
const KNOWN_OFFSET_TOLERANCE: f64 = 5e-3;

/// Runs the node as a client of chronyd, 1 s polls, its software clock
/// started `offset` seconds off, logging events as JSON.
fn node_off_by(offset: f64, seconds: u32) -> Option<(SocketAddr, NodeReport)> {
    let (chronyd, chronyc) = chrony_programs()?;
    let socket = CommandSocket::new(chronyc);
    let daemon = start_chronyd(&chronyd, vec![socket.directive()]).expect("start chronyd");
    let server = association_spec(daemon.addr(), None);
    let (offset, duration) = (offset.to_string(), seconds.to_string());
    let node = with_node_port(|listen| {
        let args = ["--server", &server, "--offset", &offset, "--duration", &duration, "--json-log"];
        Node::start(listen, &args)
    });
    let report = node
        .finish(Duration::from_secs(seconds.into()) + FINISH_GRACE)
        .unwrap_or_else(|e| panic!("{e}\nchronyd's log:\n{}", daemon.log()));
    Some((daemon.addr(), report))
}

/// A clock `ahead` seconds ahead of the server measures an offset of
/// `-ahead` (RFC 5905 §8: offset is the server's time minus ours), below
/// the step threshold, so the clock is slewed and the measurement stays.
fn assert_known_offset_measured(ahead: f64) {
    let Some((chronyd, report)) = node_off_by(ahead, 5) else { return };
    let shown = &report.output;
    let assoc = association(&report, chronyd);
    assert!(assoc.counters.samples >= 3, "{shown}");
    let measured = assoc.offset.expect("an offset after samples");
    assert!(
        (measured + ahead).abs() < KNOWN_OFFSET_TOLERANCE,
        "clock {ahead:+} s ahead: measured {measured:+.6} s, expected {:+.6} s\n{shown}",
        -ahead
    );
    let system = &report.status.system;
    assert!(system.synchronized && system.system_peer == Some(chronyd), "{shown}");
    assert!((system.offset + ahead).abs() < KNOWN_OFFSET_TOLERANCE, "system offset {}\n{shown}", system.offset);
    assert!(report.events.iter().all(|e| e.event != "clock_step"), "50 ms is slewed, not stepped\n{shown}");
}

#[test]
fn node_clock_50_ms_ahead_measures_minus_50_ms_against_chronyd() {
    assert_known_offset_measured(0.05);
}

#[test]
fn node_clock_50_ms_behind_measures_plus_50_ms_against_chronyd() {
    assert_known_offset_measured(-0.05);
}

#[test]
fn node_clock_300_ms_behind_is_stepped_forward_by_300_ms() {
    // Above the 128 ms step threshold: one step of the right size and
    // sign, after which chronyd and the node agree.
    let Some((chronyd, report)) = node_off_by(-0.3, 8) else { return };
    let shown = &report.output;
    let steps: Vec<f64> = report.events.iter().filter(|e| e.event == "clock_step").filter_map(|e| e.offset).collect();
    let [step] = steps.as_slice() else { panic!("expected one step, got {steps:?}\n{shown}") };
    assert!((step - 0.3).abs() < KNOWN_OFFSET_TOLERANCE, "step {step:+.6} s, expected +0.3 s\n{shown}");
    let after = association(&report, chronyd).offset.expect("an offset after samples");
    assert!(after.abs() < KNOWN_OFFSET_TOLERANCE, "offset {after:+.6} s after the step\n{shown}");
}
