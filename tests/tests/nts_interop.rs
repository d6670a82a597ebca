//! Network Time Security (RFC 8915) between our node and chronyd 4.3, both
//! ways, on loopback:
//!
//! * our node as the NTS client of chronyd's NTS-KE and NTP server: it gets
//!   cookies over TLS 1.3, synchronizes, chronyd counts every request as
//!   authenticated, and replies whose authenticator a proxy in the path
//!   changed are rejected, one for one;
//! * chronyd as the NTS client of our node: `chronyc authdata` shows NTS
//!   with AEAD 15 and cookies, `chronyc sources` shows our node selected
//!   (`^*`);
//! * cookie exhaustion: a proxy drops every reply to one of two NTS
//!   associations until its jar is empty, the node runs NTS-KE again and the
//!   association comes back, while the other keeps the node synchronized;
//! * master-key rotation: our server rotates its cookie key every two
//!   seconds while chronyd polls it four times a second, and chronyd stays
//!   synchronized without a second key exchange.
//!
//! Certificates are made at test time with `openssl` (a CA, and a server
//! certificate with IP subject names, so no DNS is involved). chronyd runs
//! with `-x` (the system clock is never touched) in its own temporary
//! directory and is stopped by PID; our node runs in this process on a
//! software clock. Without chronyd, chronyc or openssl these tests print
//! `SKIPPED` (or fail under `CI=true`).
// A test states its expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ntp_algo::{AssociationConfig, NtsServerConfig};
use ntp_node::{Clock as _, Control, LogFormat, Node, NodeConfig, NtsKeServerSettings, NtsKeTarget, SoftwareClock};
use ntp_tests::chrony::{Chronyd, ChronydConfig};
use ntp_tests::chronyc::CommandSocket;
use ntp_tests::tools;
use tempfile::TempDir;

/// Where our node serves when chronyd is its client.
const NODE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Largest |offset| between two clocks that both read the system clock.
const SAME_CLOCK: f64 = 1e-3;

// ---------------------------------------------------------------------------
// Helpers

/// chronyd, chronyc and openssl, or `None` (after the `SKIPPED` line).
fn programs() -> Option<(PathBuf, PathBuf, PathBuf)> {
    Some((
        tools::require("chronyd", "chrony")?,
        tools::require("chronyc", "chrony")?,
        tools::require("openssl", "openssl")?,
    ))
}

/// A test CA and a server certificate it signed for 127.0.0.1 and
/// [`NODE_IP`] (IP subject alternative names), in a directory chronyd's
/// user can read.
struct Certs {
    _dir: TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs(openssl: &Path) -> Certs {
    let dir = tempfile::Builder::new().prefix("ntp-tests-nts-certs-").tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let p = |name: &str| dir.path().join(name);
    // Our own openssl configuration, so the system's defaults do not decide
    // the extensions: a CA that may sign, and a leaf that may not (rustls'
    // verifier refuses a CA certificate as a server's).
    fs::write(
        p("openssl.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = ntp-tests NTS\n\
         [ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [leaf]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, IP:127.0.0.2\n\
         authorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    let run = |args: &[String]| {
        let out = Command::new(openssl).args(args).current_dir(dir.path()).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -config openssl.cnf";
    let args = |line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
    run(&args(format!("req -x509 {new_key} -extensions ca -subj /CN=ntp-tests-ca -keyout ca.key -out ca.pem -days 2")));
    run(&args(format!("req {new_key} -subj /CN=127.0.0.1 -keyout server.key -out server.csr")));
    run(&args(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
         -extfile openssl.cnf -extensions leaf"
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    ));
    for name in ["ca.pem", "server.pem", "server.key"] {
        // chronyd may read them after dropping root to `_chrony`.
        fs::set_permissions(p(name), fs::Permissions::from_mode(0o644)).unwrap();
    }
    Certs { ca: p("ca.pem"), cert: p("server.pem"), key: p("server.key"), _dir: dir }
}

/// A TCP port on loopback that was free a moment ago.
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The value of `Label : value` in chronyc's reports.
fn report_field<'a>(output: &'a str, label: &str) -> Option<&'a str> {
    output.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == label).then_some(value.trim())
    })
}

/// The fields of the CSV row (`chronyc -c ...`) whose first field is `name`
/// (`authdata`) or whose third is (`sources`).
fn csv_row(output: &str, column: usize, name: &str) -> Option<Vec<String>> {
    output
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
        .find(|f| f.get(column).is_some_and(|v| v == name))
}

/// chronyd as an NTS server: NTS-KE on `ke_port` with the test certificate.
fn start_nts_chronyd(program: &Path, certs: &Certs, ke_port: u16, extra: Vec<String>) -> Chronyd {
    let mut lines = vec![
        format!("ntsservercert {}", certs.cert.display()),
        format!("ntsserverkey {}", certs.key.display()),
        format!("ntsport {ke_port}"),
        // NTS-KE in chronyd's main process: one process to stop by PID.
        "ntsprocesses 0".to_owned(),
    ];
    lines.extend(extra);
    let daemon =
        Chronyd::start(program, &ChronydConfig { extra: lines, ..ChronydConfig::default() }).expect("start chronyd");
    daemon.wait_serving(Duration::from_secs(10)).expect("chronyd serves");
    daemon
}

/// What the proxy does to replies (server to client).
#[derive(Default)]
struct ProxyControl {
    /// Change a byte of the authenticator of every Nth reply (0: none).
    tamper_every: AtomicU32,
    /// Drop replies while set.
    drop: AtomicBool,
    forwarded: AtomicU64,
    tampered: AtomicU64,
    dropped: AtomicU64,
    stop: AtomicBool,
}

/// A UDP proxy between our node and chronyd, in a thread, on `listen`.
struct Proxy {
    control: Arc<ProxyControl>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(listen: SocketAddr, upstream: SocketAddr) -> Proxy {
        let socket = UdpSocket::bind(listen).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let control = Arc::new(ProxyControl::default());
        let c = Arc::clone(&control);
        let thread = thread::spawn(move || {
            let mut client: Option<SocketAddr> = None;
            let mut buf = [0u8; 2048];
            let mut replies = 0u32;
            while !c.stop.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else { continue };
                let packet = &mut buf[..len];
                if from == upstream {
                    let Some(to) = client else { continue };
                    replies += 1;
                    if c.drop.load(Ordering::Relaxed) {
                        c.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let every = c.tamper_every.load(Ordering::Relaxed);
                    if every != 0 && replies % every == 0 && flip_authenticator_byte(packet) {
                        c.tampered.fetch_add(1, Ordering::Relaxed);
                    } else {
                        c.forwarded.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = socket.send_to(packet, to);
                } else {
                    client = Some(from);
                    let _ = socket.send_to(packet, upstream);
                }
            }
        });
        Proxy { control, thread: Some(thread) }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Flips one bit of the ciphertext in the NTS Authenticator and Encrypted
/// Extension Fields field (type 0x0404, RFC 8915 §5.6) of an NTP packet;
/// false when it has none.
fn flip_authenticator_byte(packet: &mut [u8]) -> bool {
    let mut at = 48;
    while at + 4 <= packet.len() {
        let kind = u16::from_be_bytes([packet[at], packet[at + 1]]);
        let len = usize::from(u16::from_be_bytes([packet[at + 2], packet[at + 3]]));
        if len < 4 || at + len > packet.len() {
            return false;
        }
        if kind == 0x0404 {
            let nonce_len = usize::from(u16::from_be_bytes([packet[at + 4], packet[at + 5]]));
            let ciphertext = at + 8 + nonce_len.div_ceil(4) * 4;
            if ciphertext < at + len {
                packet[ciphertext] ^= 0x01;
                return true;
            }
            return false;
        }
        at += len;
    }
    false
}

/// Our node as the NTS client of `associations` (each: its NTP address and
/// the NTS-KE server that hands out its cookies), polling every second.
fn nts_client_node(certs: &Certs, associations: &[(SocketAddr, SocketAddr)]) -> Node<SoftwareClock> {
    let mut config = NodeConfig::default();
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.log = LogFormat::Text;
    config.nts_trusted_certs = vec![certs.ca.clone()];
    for (ntp, ke) in associations {
        let mut association = AssociationConfig::client(*ntp).with_nts(true);
        association.min_poll = 0;
        association.max_poll = 0;
        association.iburst = true;
        config.associations.push(association);
        config.nts_ke_targets.push(NtsKeTarget { association: *ntp, name: ke.ip().to_string(), address: *ke });
    }
    Node::new(config, SoftwareClock::new(0.0, 0.0)).expect("start the node")
}

/// Turns `node` until `done` says so; fails after `timeout` with `why()`.
fn turn_until(
    node: &mut Node<SoftwareClock>,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&mut Node<SoftwareClock>) -> bool,
    why: impl Fn(&mut Node<SoftwareClock>) -> String,
) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        node.turn(Duration::from_millis(20)).unwrap();
        if done(node) {
            return;
        }
    }
    panic!("{what}: not within {timeout:?}\n{}", why(node));
}

// ---------------------------------------------------------------------------
// 1. Our node, the NTS client of chronyd.

#[test]
fn node_synchronizes_to_chronyd_over_nts_and_rejects_tampered_replies() {
    let Some((chronyd, chronyc, openssl)) = programs() else { return };
    let certs = make_certs(&openssl);
    let ke_port = free_tcp_port();
    let socket = CommandSocket::new(chronyc);
    let daemon = start_nts_chronyd(&chronyd, &certs, ke_port, vec![socket.directive()]);
    // The proxy listens on another loopback address with chronyd's port,
    // so an NTS-KE Port record (chronyd's port) still leads through it.
    let proxy_addr = SocketAddr::from(([127, 0, 0, 3], daemon.addr().port()));
    let proxy = Proxy::start(proxy_addr, daemon.addr());
    proxy.control.tamper_every.store(4, Ordering::Relaxed);
    let before = socket.run(&["serverstats"]).unwrap();
    let mut node = nts_client_node(&certs, &[(proxy_addr, SocketAddr::from(([127, 0, 0, 1], ke_port)))]);
    let log = || daemon.log();
    turn_until(
        &mut node,
        Duration::from_secs(40),
        "synchronized over NTS with tampered replies rejected",
        |n| {
            let samples = n.engine().associations().next().map_or(0, |a| a.counters().samples);
            n.engine().system().is_synchronized() && samples >= 8 && proxy.control.tampered.load(Ordering::Relaxed) >= 3
        },
        |n| {
            format!(
                "{}\nproxy tampered {}\nchronyd:\n{}",
                n.snapshot().to_json(),
                proxy.control.tampered.load(Ordering::Relaxed),
                log()
            )
        },
    );
    let after = socket.run(&["serverstats"]).unwrap();
    let tampered = proxy.control.tampered.load(Ordering::Relaxed);
    let forwarded = proxy.control.forwarded.load(Ordering::Relaxed);
    drop(proxy);
    // Give the last replies in flight a moment, then count.
    let end = Instant::now() + Duration::from_millis(200);
    while Instant::now() < end {
        node.turn(Duration::from_millis(20)).unwrap();
    }
    let shown = node.snapshot().to_json();
    let counters = *node.engine().counters();
    let association = node.engine().associations().next().unwrap();
    let a = association.counters();
    // Every tampered reply was refused by NTS, and nothing else was.
    assert_eq!(counters.nts_rejected, tampered, "{shown}");
    assert!(
        a.samples >= 8 && a.samples <= forwarded,
        "{} samples of {forwarded} untouched replies\n{shown}",
        a.samples
    );
    assert_eq!((node.nts_ke_client_counts(), counters.nts_naks), ((1, 0), 0), "one key exchange, no NTSN\n{shown}");
    // Synchronized to chronyd (`local stratum 8`) through the proxy.
    assert!(node.engine().system().is_synchronized(), "{shown}");
    let now = node.clock_mut().now();
    let status = node.engine().system_status(now);
    assert_eq!(status.stratum, 9, "{shown}");
    let peer = node.engine().peer_status(now).into_iter().find(|p| p.nts).expect("an NTS peer");
    assert!(peer.nts_cookies >= 6, "the jar refills: {} cookies\n{shown}", peer.nts_cookies);
    let offset = peer.offset.expect("an offset");
    assert!(offset.abs() < SAME_CLOCK, "offset {offset}\n{shown}");
    // chronyd counted every request it received from us as authenticated (NTS).
    let count = |report: &str, label: &str| -> u64 { report_field(report, label).unwrap().parse().unwrap() };
    let received = count(&after, "NTP packets received") - count(&before, "NTP packets received");
    let authenticated = count(&after, "Authenticated NTP packets") - count(&before, "Authenticated NTP packets");
    assert!(received >= 8 && authenticated == received, "{received} received, {authenticated} authenticated");
    assert_eq!(count(&after, "NTS-KE connections accepted") - count(&before, "NTS-KE connections accepted"), 1);
}

// ---------------------------------------------------------------------------
// 2. chronyd, the NTS client of our node.

/// Our node as an NTS server (`--master 2`) on [`NODE_IP`], NTP on a free
/// UDP port and NTS-KE on a free TCP port, master keys rotating every
/// `rotate` seconds (0: the default, weekly).
fn nts_server_node(certs: &Certs, rotate: u32) -> Node<SoftwareClock> {
    for _ in 0..3 {
        let mut config = NodeConfig::default();
        config.listen = vec![SocketAddr::from((NODE_IP, tools::free_udp_port()))];
        config.log = LogFormat::Text;
        config.engine.local_reference_stratum = Some(2);
        let mut settings = NtsKeServerSettings::new(certs.cert.clone(), certs.key.clone());
        settings.listen = vec![SocketAddr::from((NODE_IP, free_tcp_port()))];
        config.nts_ke_server = Some(settings);
        if rotate > 0 {
            config.engine.nts_server =
                Some(NtsServerConfig::default().with_rotation_interval(rotate).with_grace(4 * rotate));
        }
        match Node::new(config, SoftwareClock::new(0.0, 0.0)) {
            Ok(node) => return node,
            Err(e) => eprintln!("node: {e}; another port"),
        }
    }
    panic!("no free ports for the node");
}

/// chronyd as the NTS client of `node`, polling every 0.25 s.
fn chronyd_client_of(program: &Path, certs: &Certs, node: &Node<SoftwareClock>, socket: &CommandSocket) -> Chronyd {
    let extra = vec![
        format!(
            "server {NODE_IP} port {} iburst minpoll -2 maxpoll -2 nts ntsport {}",
            node.local_addrs()[0].port(),
            node.nts_ke_addrs()[0].port()
        ),
        format!("ntstrustedcerts {}", certs.ca.display()),
        socket.directive(),
    ];
    Chronyd::start(program, &ChronydConfig { extra, ..ChronydConfig::default() }).expect("start chronyd")
}

/// Runs `node` in a thread until `stop` is set; returns it with the distinct
/// NTS master key ids it used.
fn run_in_thread(
    mut node: Node<SoftwareClock>,
    control: Control,
) -> thread::JoinHandle<(Node<SoftwareClock>, Vec<u32>)> {
    thread::spawn(move || {
        let mut keys = Vec::new();
        let end = Instant::now() + Duration::from_secs(90);
        while !control.stop.load(Ordering::Relaxed) && Instant::now() < end {
            node.turn(Duration::from_millis(20)).unwrap();
            let now = node.clock_mut().now();
            if let Some(id) = node.engine().system_status(now).nts_master_key_id
                && keys.last() != Some(&id)
            {
                keys.push(id);
            }
        }
        (node, keys)
    })
}

#[test]
fn chronyd_uses_nts_with_our_node_and_selects_it() {
    let Some((chronyd, chronyc, openssl)) = programs() else { return };
    let certs = make_certs(&openssl);
    let node = nts_server_node(&certs, 0);
    let socket = CommandSocket::new(chronyc);
    let daemon = chronyd_client_of(&chronyd, &certs, &node, &socket);
    let control = Control::default();
    let running = run_in_thread(node, control.clone());
    let name = NODE_IP.to_string();
    let row =
        socket.wait_for(&["-c", "sources"], Duration::from_secs(30), "chronyd selects our node", &daemon, |out| {
            csv_row(out, 2, &name).filter(|f| f[1] == "*")
        });
    assert_eq!((row[0].as_str(), row[3].as_str()), ("^", "2"), "{row:?}");
    // authdata: name, mode, key id, type (the AEAD), key bits, last, attempts, NAKs, cookies, cookie length.
    let auth = socket.wait_for(&["-c", "authdata"], Duration::from_secs(10), "NTS in authdata", &daemon, |out| {
        csv_row(out, 0, &name).filter(|f| f.len() >= 10 && f[8].parse::<u32>().is_ok_and(|c| c > 0))
    });
    control.stop.store(true, Ordering::Relaxed);
    let (node, _) = running.join().unwrap();
    assert_eq!(auth[1], "NTS", "{auth:?}");
    assert_eq!(auth[3], "15", "AEAD_AES_SIV_CMAC_256: {auth:?}");
    assert_eq!(auth[7], "0", "no NTSN: {auth:?}");
    let counters = node.nts_ke_server_counters();
    assert_eq!((counters.served, counters.failed, counters.timed_out), (1, 0, 0), "{counters:?}");
    assert!(node.engine().counters().nts_rejected == 0);
    drop(daemon);
}

// ---------------------------------------------------------------------------
// 3. Cookie exhaustion and master-key rotation.

#[test]
fn exhausted_cookie_jar_brings_a_new_key_exchange_without_losing_sync() {
    let Some((chronyd, _chronyc, openssl)) = programs() else { return };
    let certs = make_certs(&openssl);
    let ke_port = free_tcp_port();
    let daemon = start_nts_chronyd(&chronyd, &certs, ke_port, Vec::new());
    let ke = SocketAddr::from(([127, 0, 0, 1], ke_port));
    // Two associations with chronyd through two proxies; replies to the
    // first are dropped for a while.
    let (a_addr, b_addr) = (
        SocketAddr::from(([127, 0, 0, 3], daemon.addr().port())),
        SocketAddr::from(([127, 0, 0, 4], daemon.addr().port())),
    );
    let (a, _b) = (Proxy::start(a_addr, daemon.addr()), Proxy::start(b_addr, daemon.addr()));
    let mut node = nts_client_node(&certs, &[(a_addr, ke), (b_addr, ke)]);
    let samples = |n: &Node<SoftwareClock>, addr| n.engine().association_at(addr).map_or(0, |x| x.counters().samples);
    let show = |n: &mut Node<SoftwareClock>| format!("{}\nchronyd:\n{}", n.snapshot().to_json(), daemon.log());
    turn_until(
        &mut node,
        Duration::from_secs(30),
        "synchronized",
        |n| n.engine().system().is_synchronized() && samples(n, a_addr) >= 3,
        show,
    );
    assert_eq!(node.nts_ke_client_counts().0, 2, "one exchange per association");
    a.control.drop.store(true, Ordering::Relaxed);
    // Eight cookies: the ninth poll has none left and asks for NTS-KE.
    turn_until(
        &mut node,
        Duration::from_secs(25),
        "a second key exchange for the starved association",
        |n| n.nts_ke_client_counts().0 >= 3,
        show,
    );
    assert!(a.control.dropped.load(Ordering::Relaxed) >= 8, "{}", a.control.dropped.load(Ordering::Relaxed));
    let unsent = node.engine().counters().nts_unsent;
    assert!(
        node.engine().system().is_synchronized(),
        "the other association kept the node synchronized\n{}",
        show(&mut node)
    );
    a.control.drop.store(false, Ordering::Relaxed);
    let before = samples(&node, a_addr);
    turn_until(
        &mut node,
        Duration::from_secs(15),
        "the association is back",
        |n| samples(n, a_addr) >= before + 3,
        show,
    );
    assert!(node.engine().system().is_synchronized(), "{}", show(&mut node));
    assert_eq!(node.engine().counters().nts_rejected, 0);
    eprintln!("polls not sent for want of a cookie: {unsent}");
}

#[test]
fn master_key_rotation_keeps_chronyd_synchronized_without_new_key_exchange() {
    let Some((chronyd, chronyc, openssl)) = programs() else { return };
    let certs = make_certs(&openssl);
    let node = nts_server_node(&certs, 2);
    let socket = CommandSocket::new(chronyc);
    let daemon = chronyd_client_of(&chronyd, &certs, &node, &socket);
    let control = Control::default();
    let running = run_in_thread(node, control.clone());
    let name = NODE_IP.to_string();
    socket.wait_for(&["-c", "sources"], Duration::from_secs(30), "chronyd selects our node", &daemon, |out| {
        csv_row(out, 2, &name).filter(|f| f[1] == "*")
    });
    // Ten seconds more: five rotations while chronyd polls four times a second.
    thread::sleep(Duration::from_secs(10));
    let sources = socket.run(&["-c", "sources"]).unwrap();
    let auth = socket.run(&["-c", "authdata"]).unwrap();
    let stats = socket.run(&["sourcestats"]).unwrap_or_default();
    control.stop.store(true, Ordering::Relaxed);
    let (node, keys) = running.join().unwrap();
    let row = csv_row(&sources, 2, &name).unwrap_or_else(|| panic!("{sources}"));
    assert_eq!(row[1], "*", "still selected after the rotations: {sources}\n{stats}");
    assert_eq!(row[5], "377", "every recent poll answered: {sources}");
    assert!(keys.len() >= 5, "master keys used: {keys:?}");
    let auth = csv_row(&auth, 0, &name).unwrap_or_else(|| panic!("{auth}"));
    assert_eq!(auth[7], "0", "no NTSN: {auth:?}");
    let counters = node.nts_ke_server_counters();
    assert_eq!(counters.served, 1, "cookies of retired keys still open: {counters:?}");
    assert_eq!(node.engine().counters().nts_rejected, 0);
    drop(daemon);
}
