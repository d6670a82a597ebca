//! `ntp-node run --config FILE` with vendor configuration files against
//! chronyd 4.3 on loopback (issue 10): a Cisco IOS file and a Huawei VRP
//! file, each naming chronyd as an authenticated server, with
//! authentication required for time (`ntp authenticate`, `ntp-service
//! authentication enable`), so the node synchronizes only if chronyd's
//! answers carry a MAC that verifies with the file's own MD5 key. A control
//! run with the VRP file's secret changed by one character gets no time.
//! `check-config` is run on the same files (exit 0, the meaning printed,
//! no secret) and on a broken one (exit 1, the line named).
//!
//! The dialects have no syntax for a port, and chronyd runs on a free port
//! so that tests can run in parallel: the node gets it with `--port`
//! (documented in `ntp_node::config`). The node listens on 127.0.0.3 (its
//! own address: reference ids are addresses, and chronyd is 127.0.0.1).
//!
//! Safety: chronyd runs with `-x` in its own temporary directory, the node
//! disciplines a software clock, and both are stopped by PID. Without
//! chronyd these tests print `SKIPPED` (or fail under `CI=true`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ntp_tests::chrony::{Chronyd, ChronydConfig};
use ntp_tests::node::{Node, NodeReport};
use ntp_tests::tools;

/// Where the node listens.
const NODE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// chronyd's keys, text secrets as the vendor files write them.
const CHRONY_KEYS: &str = "1 MD5 ASCII:IosInteropKey\n7 MD5 ASCII:VrpInteropKey\n";

/// How long each node runs, seconds (1 s polls: more than eight samples).
const RUN_SECONDS: u32 = 12;

/// Largest |offset| between two clocks that both read the system clock.
const SAME_CLOCK: f64 = 1e-3;

fn ios_config() -> String {
    "\
hostname R1
!
ntp authentication-key 1 md5 IosInteropKey
ntp authenticate
ntp trusted-key 1
ntp server 127.0.0.1 key 1 minpoll 0 maxpoll 0
ntp update-calendar
end
"
    .to_owned()
}

fn vrp_config(secret: &str) -> String {
    format!(
        "\
<HUAWEI> system-view
[~HUAWEI] sysname DeviceD
[*HUAWEI] commit
[~DeviceD] ntp-service authentication enable
[*DeviceD] ntp-service authentication-keyid 7 authentication-mode md5 {secret}
[*DeviceD] ntp-service reliable authentication-keyid 7
[*DeviceD] ntp-service unicast-server 127.0.0.1 authentication-keyid 7 minpoll 0 maxpoll 0
[*DeviceD] commit
"
    )
}

/// Starts chronyd serving `local stratum 8` with [`CHRONY_KEYS`].
fn start_chronyd() -> Option<Chronyd> {
    let program = tools::require("chronyd", "chrony")?;
    let config = ChronydConfig { keys: Some(CHRONY_KEYS.to_owned()), ..ChronydConfig::default() };
    let daemon = Chronyd::start(&program, &config).expect("start chronyd");
    daemon.wait_serving(Duration::from_secs(10)).expect("chronyd serves");
    Some(daemon)
}

/// Runs `ntp-node run --config FILE --port CHRONYD_PORT` for
/// [`RUN_SECONDS`] and returns its final report.
fn run_with_config(daemon: &Chronyd, file: &Path, dialect: Option<&str>) -> NodeReport {
    let port = daemon.addr().port().to_string();
    let duration = RUN_SECONDS.to_string();
    let mut args = vec!["--config", file.to_str().unwrap(), "--port", &port, "--duration", &duration, "--quiet"];
    if let Some(dialect) = dialect {
        args.extend(["--dialect", dialect]);
    }
    let mut last = None;
    for _ in 0..3 {
        let listen = SocketAddr::from((NODE_IP, tools::free_udp_port()));
        match Node::start(listen, &args) {
            Ok(node) => {
                return node
                    .finish(Duration::from_secs(u64::from(RUN_SECONDS) + 15))
                    .unwrap_or_else(|e| panic!("{e}\nchronyd's log:\n{}", daemon.log()));
            }
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last = Some(error),
            Err(error) => panic!("{error}"),
        }
    }
    panic!("no free port for the node: {last:?}")
}

/// The node synchronized to chronyd through an authenticated association.
fn assert_authenticated_sync(report: &NodeReport, chronyd: SocketAddr, key: u32) {
    let shown = &report.output;
    let assoc = report.association(chronyd).unwrap_or_else(|| panic!("no association with {chronyd}\n{shown}"));
    assert_eq!(assoc.mode, "client", "{shown}");
    assert_eq!(report.status.counters.auth_failed, 0, "every answer verified with key {key}\n{shown}");
    assert!(assoc.reach.count_ones() >= 7, "reach {:o}\n{shown}", assoc.reach);
    assert!(assoc.counters.samples >= 8, "{} samples\n{shown}", assoc.counters.samples);
    assert_eq!(assoc.tally, '*', "chronyd must be the system peer\n{shown}");
    let offset = assoc.offset.expect("an offset after samples");
    assert!(offset.abs() < SAME_CLOCK, "offset {offset} s to a server on the same clock\n{shown}");
    assert!(report.status.system.synchronized, "{shown}");
    assert_eq!(report.status.system.stratum, 9, "chronyd serves stratum 8\n{shown}");
    assert_eq!(report.status.system.system_peer, Some(chronyd), "{shown}");
}

#[test]
fn cisco_ios_file_synchronizes_to_chronyd_authenticated() {
    let Some(daemon) = start_chronyd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r1.cfg");
    fs::write(&file, ios_config()).unwrap();
    // Detected as IOS (no --dialect).
    let report = run_with_config(&daemon, &file, None);
    assert_authenticated_sync(&report, daemon.addr(), 1);
}

#[test]
fn huawei_vrp_file_synchronizes_to_chronyd_authenticated_and_a_wrong_secret_gets_nothing() {
    let Some(daemon) = start_chronyd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("device-d.cfg");
    fs::write(&good, vrp_config("VrpInteropKey")).unwrap();
    let bad = dir.path().join("device-d-wrong.cfg");
    fs::write(&bad, vrp_config("VrpInteropKeY")).unwrap();
    let (report, wrong) = std::thread::scope(|s| {
        let wrong = s.spawn(|| run_with_config(&daemon, &bad, Some("vrp")));
        (run_with_config(&daemon, &good, Some("vrp")), wrong.join().unwrap())
    });
    assert_authenticated_sync(&report, daemon.addr(), 7);
    let assoc = wrong.association(daemon.addr()).unwrap();
    assert_eq!(assoc.counters.samples, 0, "an answer was used although its MAC cannot verify\n{}", wrong.output);
    assert!(!wrong.status.system.synchronized, "{}", wrong.output);
}

/// `ntp-node check-config FILE`: exit status, stdout, stderr.
fn check_config(file: &Path) -> (bool, String, String) {
    let output = Command::new(ntp_tests::node::binary().unwrap()).arg("check-config").arg(file).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_config_prints_the_meaning_or_the_refused_line() {
    let dir = tempfile::tempdir().unwrap();
    let ios = dir.path().join("r1.cfg");
    fs::write(&ios, ios_config()).unwrap();
    let (ok, out, err) = check_config(&ios);
    assert!(ok, "{err}");
    assert!(out.contains("dialect: ios") && out.contains("127.0.0.1") && out.contains("key 1"), "{out}");
    assert!(!out.contains("IosInteropKey"), "the secret leaked:\n{out}");
    let vrp = dir.path().join("d.cfg");
    fs::write(&vrp, vrp_config("VrpInteropKey")).unwrap();
    let (ok, out, _) = check_config(&vrp);
    assert!(ok && out.contains("dialect: vrp") && !out.contains("VrpInteropKey"), "{out}");

    let broken = dir.path().join("broken.cfg");
    fs::write(&broken, "ntp authentication-key 1 md5 SecretNotShown\nntp server 127.0.0.1 key 1 sometimes\n").unwrap();
    let (ok, out, err) = check_config(&broken);
    assert!(!ok, "a refused file must fail\n{out}");
    assert!(err.contains("broken.cfg") && err.contains("line 2"), "{err}");
    assert!(!err.contains("SecretNotShown") && out.is_empty(), "{err}{out}");
}
