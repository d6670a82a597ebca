//! Mode 6 interop with NTPsec 1.2.2 (issue 12): its `ntpq` reads our node,
//! and our client (`ntp-node status --host`) reads its `ntpd`.
//!
//! NTPsec's `ntpq` and `ntpd` come from the Debian package `ntpsec`,
//! unpacked (`apt-get download`, `dpkg -x`) under the target directory;
//! `ntpq` needs the Python module `ntp` (package `python3-ntp`). `ntpq`
//! always asks port 123, so our node listens on 127.0.0.x:123 (one address
//! per test; we are root). ntpd runs in a private network namespace, under
//! `capsh --drop=cap_sys_time` and with `-x`, so it cannot set the clock;
//! every process is stopped by its PID. Without the tools (or root) the
//! tests print `SKIPPED`, and fail under `CI=true`.
// A test states its expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use ntp_tests::chrony::{Chronyd, ChronydConfig};
use ntp_tests::node::Node;
use ntp_tests::tools;

/// The node's and ntpq's `ntp.keys`: key 5 (MD5).
const NTP_KEYS: &str = "5 md5 mode6-interop-md5\n";

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Skips (or fails under CI) with `why`.
fn skip(why: &str) -> Option<()> {
    assert!(!tools::in_ci(), "CI=true: {why}");
    eprintln!("SKIPPED: {why}");
    None
}

/// NTPsec unpacked under the target directory (done once per run).
fn ntpsec() -> Option<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ntpsec-1.2.2");
        if root.join("usr/bin/ntpq").is_file() && root.join("usr/sbin/ntpd").is_file() {
            return Ok(root);
        }
        let download = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ntpsec-deb");
        fs::create_dir_all(&download).map_err(|e| e.to_string())?;
        let find_deb = |dir: &Path| {
            fs::read_dir(dir).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ntpsec_") && n.ends_with(".deb"))
            })
        };
        let deb = match find_deb(&download).or_else(|| find_deb(Path::new("/tmp"))) {
            Some(deb) => deb,
            None => {
                let status = Command::new("apt-get")
                    .arg("download")
                    .arg("ntpsec")
                    .current_dir(&download)
                    .stdout(Stdio::null())
                    .status()
                    .map_err(|e| format!("apt-get download ntpsec: {e}"))?;
                if !status.success() {
                    return Err(format!("apt-get download ntpsec: {status}"));
                }
                find_deb(&download).ok_or("apt-get download ntpsec left no .deb")?
            }
        };
        let status =
            Command::new("dpkg").arg("-x").arg(&deb).arg(&root).status().map_err(|e| format!("dpkg -x: {e}"))?;
        if !status.success() {
            return Err(format!("dpkg -x {}: {status}", deb.display()));
        }
        Ok(root)
    });
    match result {
        Ok(dir) => Some(dir.clone()),
        Err(e) => skip(&format!("NTPsec's ntpq/ntpd unavailable ({e}); the test command installs them"))
            .map(|_| PathBuf::new()),
    }
}

/// The Python that has NTPsec's `ntp` module.
fn python() -> Option<PathBuf> {
    let python = PathBuf::from("/usr/bin/python3");
    let ok = Command::new(&python).args(["-c", "import ntp.packet"]).output().is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        skip("python3-ntp not installed (the test command installs ntpsec-ntpdig)").map(|_| python)
    }
}

/// `ntpq -n ARGS HOST`, bounded to 30 s.
fn ntpq(ntpsec: &Path, python: &Path, host: Ipv4Addr, args: &[&str]) -> String {
    let mut command = Command::new(python);
    command.arg(ntpsec.join("usr/bin/ntpq")).arg("-n").args(args).arg(host.to_string());
    let out = bounded(command, Duration::from_secs(30));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "ntpq {args:?}: {text}");
    text
}

fn bounded(mut command: Command, timeout: Duration) -> Output {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{command:?} still ran after {timeout:?}: {}", String::from_utf8_lossy(&out.stdout));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// `name=value` pairs of ntpq's `rv` output.
fn rv_pairs(text: &str) -> Vec<(String, String)> {
    let body = text.lines().filter(|l| !l.starts_with("associd=")).collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    let mut rest = body.as_str();
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim().trim_start_matches(',').trim().to_owned();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (quoted[..end].to_owned(), quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(", ").unwrap_or(after.len());
            (after[..end].trim().to_owned(), after.get(end..).unwrap_or(""))
        };
        out.push((name, value));
        rest = next.trim_start_matches([',', ' ']);
    }
    out
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("{name} in {pairs:?}"))
}

/// Waits until the node's status file shows `ready`.
fn wait_for(node: &Node, what: &str, timeout: Duration, ready: impl Fn(&ntp_node::StatusSnapshot) -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if node.status().is_ok_and(|s| ready(&s)) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} within {timeout:?}: {}{}", node.stdout(), node.stderr());
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn ntpq_reads_a_node_synchronized_to_chronyd() {
    if !is_root() {
        skip("the ntpq tests need root (port 123)");
        return;
    }
    let Some(chronyd) = tools::require("chronyd", "chrony") else { return };
    let Some(ntpsec) = ntpsec() else { return };
    let Some(python) = python() else { return };
    let daemon = Chronyd::start(&chronyd, &ChronydConfig::default()).expect("start chronyd");
    daemon.wait_serving(Duration::from_secs(10)).unwrap();
    let host = Ipv4Addr::new(127, 0, 0, 3);
    let server = format!("{},minpoll=0,maxpoll=0", daemon.addr());
    let node = Node::start(SocketAddr::from((host, 123)), &["--server", &server, "--rate-limit", "--quiet"]).unwrap();
    wait_for(&node, "the node selects chronyd", Duration::from_secs(30), |s| {
        s.system.synchronized && s.associations.first().is_some_and(|a| a.tally == '*')
    });

    // ntpq -p: one row, chronyd, selected, at chronyd's stratum (8).
    let peers = ntpq(&ntpsec, &python, host, &["-p"]);
    let row = peers.lines().find(|l| l.contains("127.0.0.1")).unwrap_or_else(|| panic!("no chronyd row: {peers}"));
    let fields: Vec<&str> = row[1..].split_whitespace().collect();
    assert_eq!(&row[..1], "*", "tally of the system peer: {peers}");
    assert_eq!(fields[2], "8", "chronyd's stratum: {peers}");
    assert_eq!(fields[3], "u", "{peers}");
    let snapshot = node.status().unwrap();
    let a = &snapshot.associations[0];
    let delay_ms: f64 = fields[7].parse().unwrap();
    assert!((delay_ms - a.delay.unwrap() * 1e3).abs() < 1.0, "delay {delay_ms} ms vs {:?}: {peers}", a.delay);

    // ntpq -c rv: the system variables equal our status.
    let rv = rv_pairs(&ntpq(&ntpsec, &python, host, &["-c", "rv"]));
    let snapshot = node.status().unwrap();
    assert_eq!(get(&rv, "stratum"), snapshot.system.stratum.to_string());
    assert_eq!(get(&rv, "stratum"), "9");
    assert_eq!(get(&rv, "refid"), "127.0.0.1");
    assert_eq!(get(&rv, "precision"), snapshot.system.precision.to_string());
    assert_eq!(get(&rv, "peer"), a.id.to_string());
    let offset_ms: f64 = get(&rv, "offset").parse().unwrap();
    assert!((offset_ms - snapshot.system.offset * 1e3).abs() < 1.0, "offset {offset_ms} ms: {rv:?}");
    let root_delay: f64 = get(&rv, "rootdelay").parse().unwrap();
    assert!((root_delay - snapshot.system.root_delay * 1e3).abs() < 1.0, "rootdelay {root_delay}: {rv:?}");

    // Named variables: exactly those.
    let two = rv_pairs(&ntpq(&ntpsec, &python, host, &["-c", "rv 0 stratum,offset"]));
    assert_eq!(two.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["stratum", "offset"], "{two:?}");

    // The association list, and one association's variables.
    let associations = ntpq(&ntpsec, &python, host, &["-c", "as"]);
    let line = associations.lines().find(|l| l.contains("sys.peer")).unwrap_or_else(|| panic!("{associations}"));
    assert!(line.split_whitespace().nth(1) == Some(&a.id.to_string()), "{associations}");
    assert!(line.contains("yes"), "configured/reachable: {associations}");
    let peer = rv_pairs(&ntpq(&ntpsec, &python, host, &["-c", &format!("rv {}", a.id)]));
    assert_eq!(get(&peer, "srcadr"), "127.0.0.1");
    assert_eq!(get(&peer, "srcport"), daemon.addr().port().to_string());
    assert_eq!(get(&peer, "stratum"), "8");
    // ntpq shows the register in octal, as ntpq -p does.
    let reach = u8::from_str_radix(get(&peer, "reach"), 8).unwrap();
    assert_ne!(reach, 0);
    let by_index = ntpq(&ntpsec, &python, host, &["-c", "as", "-c", "rv &1"]);
    assert!(by_index.contains("srcadr=127.0.0.1"), "{by_index}");

    // The MRU list: chronyd never asks us, but ntpq itself is listed.
    let mru = ntpq(&ntpsec, &python, host, &["-c", "mrulist"]);
    assert!(mru.contains("# Collected"), "{mru}");
    assert!(mru.contains("127.0.0.1") || mru.contains("localhost"), "{mru}");

    // Our own client agrees with ntpq.
    let ours = Command::new(ntp_tests::node::binary().unwrap())
        .args(["status", "--host", &host.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let json: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
    assert_eq!(json["system"]["stratum"], 9);
    assert_eq!(json["peers"][0]["tally"], "*");
    assert_eq!(json["peers"][0]["address"], "127.0.0.1");
    drop(node);
    drop(daemon);
}

#[test]
fn ntpq_with_keys_gets_signed_answers_and_wrong_keys_permission() {
    if !is_root() {
        skip("the ntpq tests need root (port 123)");
        return;
    }
    let Some(ntpsec) = ntpsec() else { return };
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("ntp.keys");
    fs::write(&keys, NTP_KEYS).unwrap();
    let host = Ipv4Addr::new(127, 0, 0, 4);
    let node =
        Node::start(SocketAddr::from((host, 123)), &["--master", "2", "--keyfile", keys.to_str().unwrap(), "--quiet"])
            .unwrap();
    // Key 5 from ntpq's key file (`-k`, `-a`, then `passwd` reads it).
    let wrong = dir.path().join("wrong.keys");
    fs::write(&wrong, "5 md5 mode6-interop-mdX\n").unwrap();
    let signed = |keyfile: &Path, command: &str| {
        let keyfile = keyfile.to_str().unwrap();
        let args = ["-k", keyfile, "-a", "5", "-c", "passwd", "-c", "authenticate yes", "-c", command];
        ntpq(&ntpsec, &python, host, &args)
    };
    let good = signed(&keys, "rv 0 stratum");
    assert!(good.contains("stratum=2"), "{good}");
    assert!(!good.contains("AUTH"), "a signed answer that verifies: {good}");
    let bad = signed(&wrong, "rv 0 stratum");
    // ntpq reports an answer without a valid MAC ("AUTH - packet too short
    // for MAC", "AUTH: Content untrusted").
    assert!(bad.contains("AUTH"), "no valid signature for a wrong key: {bad}");
    let config = signed(&wrong, ":config restrict default");
    assert!(config.contains("PERMISSION") || config.contains("ermission"), "{config}");
    drop(node);
}

/// A process in the network namespace of `holder`, stopped by PID on drop.
struct InNamespace(Child);

impl Drop for InNamespace {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn our_client_reads_ntpsec_ntpd() {
    if !is_root() {
        skip("the ntpd test needs root (network namespace, port 123)");
        return;
    }
    let Some(ntpsec) = ntpsec() else { return };
    let Some(python) = python() else { return };
    let Some(unshare) = tools::require("unshare", "util-linux") else { return };
    let Some(nsenter) = tools::require("nsenter", "util-linux") else { return };
    let Some(capsh) = tools::require("capsh", "libcap2-bin") else { return };
    let Some(ip) = tools::require("ip", "iproute2") else { return };
    let dir = tempfile::tempdir().unwrap();

    // An empty network namespace, held by a sleeping shell.
    let holder = InNamespace(
        Command::new(&unshare)
            .args(["--net", "--", "sh", "-c", r#""$0" link set lo up && "$0" addr add 10.66.0.1/32 dev lo && "$0" addr add 10.66.0.2/32 dev lo && exec sleep 300"#])
            .arg(&ip)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    thread::sleep(Duration::from_millis(300));
    let enter = |program: &Path| {
        let mut command = Command::new(&nsenter);
        command.args(["--target", &holder.0.id().to_string(), "--net", "--"]).arg(program);
        command
    };

    // Our node on 10.66.0.2:123 serves its clock at stratum 2 (ntpd
    // refuses loopback addresses other than its own as servers).
    let mut command = enter(&ntp_tests::node::binary().unwrap());
    command.args(["run", "--listen", "10.66.0.2:123", "--master", "2", "--quiet"]);
    let node = Node::start_command(command, SocketAddr::from((Ipv4Addr::new(10, 66, 0, 2), 123))).unwrap();

    // ntpd on 127.0.0.1:123 and 10.66.0.1:123, a client of our node, unable to set the clock.
    let conf = dir.path().join("ntp.conf");
    fs::write(
        &conf,
        format!(
            "server 10.66.0.2 iburst minpoll 3 maxpoll 3\ninterface ignore wildcard\ninterface listen 127.0.0.1\n\
             interface listen 10.66.0.1\n\
             driftfile {}\nrestrict default\nrestrict 127.0.0.1\n",
            dir.path().join("ntp.drift").display()
        ),
    )
    .unwrap();
    let log = fs::File::create(dir.path().join("ntpd.log")).unwrap();
    let ntpd = ntpsec.join("usr/sbin/ntpd");
    let mut command = enter(&capsh);
    command.arg("--drop=cap_sys_time").arg("--").arg("-c").arg(format!(
        "exec {} -n -x -c {} -l {}",
        ntpd.display(),
        conf.display(),
        dir.path().join("ntpd.out").display()
    ));
    let daemon =
        InNamespace(command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap());

    // Wait until ntpd has reached our node (reach != 0) and selected it.
    let ntpq_ns = |args: &[&str]| {
        let mut command = enter(&python);
        command.arg(ntpsec.join("usr/bin/ntpq")).arg("-n").args(args).arg("127.0.0.1");
        let out = bounded(command, Duration::from_secs(30));
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let peers = loop {
        let peers = ntpq_ns(&["-p"]);
        if peers.lines().any(|l| l.starts_with('*') && l.contains("10.66.0.2")) {
            break peers;
        }
        assert!(
            Instant::now() < deadline,
            "ntpd selects our node: {peers}\nntpd log: {}",
            fs::read_to_string(dir.path().join("ntpd.out")).unwrap_or_default()
        );
        thread::sleep(Duration::from_secs(1));
    };
    let rv = rv_pairs(&ntpq_ns(&["-c", "rv"]));

    // Our client, in the namespace, reads ntpd.
    let mut command = enter(&ntp_tests::node::binary().unwrap());
    command.args(["status", "--host", "127.0.0.1", "--json"]);
    let ours = bounded(command, Duration::from_secs(30));
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let json: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
    let system = &json["system"];
    assert_eq!(system["stratum"].to_string(), get(&rv, "stratum"), "{json}\n{rv:?}");
    assert_eq!(system["stratum"], 3);
    assert_eq!(system["refid"].as_str(), Some(get(&rv, "refid")));
    assert_eq!(system["precision"].to_string(), get(&rv, "precision"));
    let frequency: f64 = get(&rv, "frequency").parse().unwrap();
    assert!((system["frequency_ppm"].as_f64().unwrap() - frequency).abs() < 0.01, "{json}\n{rv:?}");
    let peer = &json["peers"][0];
    assert_eq!(peer["address"], "10.66.0.2", "{json}");
    assert_eq!(peer["tally"], "*", "{json}\n{peers}");
    assert_eq!(peer["stratum"], 2);
    let row = peers.lines().find(|l| l.starts_with('*') && l.contains("10.66.0.2")).unwrap();
    let fields: Vec<&str> = row[1..].split_whitespace().collect();
    assert_eq!(fields[0], "10.66.0.2");
    assert_eq!(format!("{:o}", peer["reach"].as_u64().unwrap()), fields[6], "reach: {json}\n{peers}");
    // NTPsec 1.2.2 garbles its filter arrays at fragment boundaries (the
    // client skips those items), so only the scalar delay is checked.
    assert!(peer["delay"].as_f64().is_some_and(|d| d > 0.0 && d < 0.01), "{json}");
    drop(daemon);
    drop(node);
    drop(holder);
}
