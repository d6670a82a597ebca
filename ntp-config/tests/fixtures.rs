//! The configuration lines printed in the vendors' configuration guides,
//! read verbatim from `tests/fixtures/`, and each dialect's own reference
//! example: what each one means.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::net::IpAddr;

use ntp_algo::{AccessClass, AssociationMode};
use ntp_config::{
    AccessTarget, BuildError, Dialect, ErrorKind, Host, KeyFileFormat, NodeConfig, Severity, load_keyring, parse,
    render,
};
use ntp_wire::auth::KeyType;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The 1-based number of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap_or_else(|| panic!("{needle:?} not found"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn modes(config: &NodeConfig) -> Vec<(AssociationMode, String)> {
    config.sources.iter().map(|s| (s.mode, s.host.to_string())).collect()
}

/// Every fixture is detected as the dialect its extension says.
#[test]
fn detection_matches_every_fixture() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let expected = if name.ends_with(".ios") {
            Dialect::Ios
        } else if name.ends_with(".vrp") {
            Dialect::Vrp
        } else if name.starts_with("chrony") {
            Dialect::Chrony
        } else {
            Dialect::NtpConf
        };
        assert_eq!(Dialect::detect(&fixture(&name)), Some(expected), "{name}");
        seen += 1;
    }
    assert!(seen >= 16);
}

// --- Cisco peers: the guide prints its commands with the addresses lost ---

#[test]
fn seed_000_r1_is_refused_at_the_misspelt_command() {
    let text = fixture("seed-000-r1.ios");
    let err = parse(&text, None).unwrap_err();
    assert_eq!(err.line, line_of(&text, "ntp sever"));
    assert_eq!(err.directive, "ntp sever");
    assert_eq!(err.kind, ErrorKind::UnknownDirective);
}

#[test]
fn seed_000_r2_is_refused_for_the_missing_address() {
    let text = fixture("seed-000-r2.ios");
    let err = parse(&text, None).unwrap_err();
    assert_eq!(err.line, line_of(&text, "ntp server"));
    assert_eq!(err.directive, "ntp server");
    assert!(matches!(err.kind, ErrorKind::MissingArgument { .. }), "{err}");
    // With the addresses written in, the same session is a server and a peer.
    let fixed = text.replace("ntp server", "ntp server 192.0.2.1").replace("ntp peer", "ntp peer 10.1.2.1");
    let config = parse(&fixed, None).unwrap();
    assert_eq!(
        modes(&config),
        [(AssociationMode::Client, "192.0.2.1".into()), (AssociationMode::SymmetricActive, "10.1.2.1".into())]
    );
}

// --- Huawei VRP peer mode: DeviceC master at 2, D its client, E peers with D ---

#[test]
fn seed_001_device_c_is_a_stratum_2_reference() {
    for name in ["seed-001-device-c.vrp", "seed-001-device-c-session.vrp"] {
        let text = fixture(name);
        let config = parse(&text, None).unwrap();
        assert_eq!(config.dialect, Dialect::Vrp);
        assert_eq!(config.hostname.as_deref(), Some("DeviceC"), "{name}");
        assert!(config.sources.is_empty(), "{name}");
        assert_eq!(config.local_reference.map(|l| l.stratum), Some(2), "{name}");
        assert_eq!(config.local_reference.unwrap().line, line_of(&text, "refclock-master 2"));
        assert_eq!(config.source_interface.as_deref(), Some("gigabitethernet0/1/0"), "{name}");
        assert_eq!(config.engine_config().unwrap().local_reference_stratum, Some(2));
    }
    // The configuration file also gives the interface's address, which the
    // source interface names.
    let config = parse(&fixture("seed-001-device-c.vrp"), None).unwrap();
    let interface = config.interface("gigabitethernet 0/1/0").unwrap();
    assert_eq!(interface.address, Some(("10.0.1.31".parse().unwrap(), 24)));
    assert_eq!(config.engine_config().unwrap().local_addresses, [ip("10.0.1.31")]);
    assert!(render(&config).contains("source interface: gigabitethernet0/1/0 (10.0.1.31)"));
}

#[test]
fn seed_001_device_d_is_a_client_of_c() {
    for name in ["seed-001-device-d.vrp", "seed-001-device-d-session.vrp"] {
        let config = parse(&fixture(name), None).unwrap();
        assert_eq!(modes(&config), [(AssociationMode::Client, "10.0.1.31".into())], "{name}");
        assert_eq!(config.local_reference, None);
        let associations = config.associations().unwrap();
        assert_eq!(associations[0].address, "10.0.1.31:123".parse().unwrap());
        assert_eq!(associations[0].key_id, None);
    }
}

#[test]
fn seed_001_device_e_is_a_symmetric_active_peer_of_d() {
    for name in ["seed-001-device-e.vrp", "seed-001-device-e-session.vrp"] {
        let config = parse(&fixture(name), None).unwrap();
        assert_eq!(modes(&config), [(AssociationMode::SymmetricActive, "10.0.1.32".into())], "{name}");
        assert_eq!(config.associations().unwrap()[0].mode, AssociationMode::SymmetricActive);
    }
}

// --- CCNA symmetric active: each router a client of its own server and a peer of the other ---

#[test]
fn seed_002_routers_peer_with_each_other() {
    let r1 = parse(&fixture("seed-002-r1.ios"), None).unwrap();
    let r2 = parse(&fixture("seed-002-r2.ios"), None).unwrap();
    assert_eq!(
        modes(&r1),
        [(AssociationMode::Client, "1.1.1.1".into()), (AssociationMode::SymmetricActive, "10.1.2.2".into())]
    );
    assert_eq!(
        modes(&r2),
        [(AssociationMode::Client, "2.2.2.2".into()), (AssociationMode::SymmetricActive, "10.1.2.1".into())]
    );
    for config in [&r1, &r2] {
        assert!(config.notes.is_empty(), "{:?}", config.notes);
        // No access group: everyone may do everything.
        assert_eq!(config.engine_config().unwrap().access.classify(ip("198.51.100.1")), AccessClass::Peer);
    }
}

// --- The white paper's WAN design (A0-R1) and campus distribution router (dl-1) ---

fn white_paper_names(name: &str) -> Option<IpAddr> {
    let table = [
        ("<I-TS-1>", "192.0.2.1"),
        ("<I-TS-2>", "192.0.2.2"),
        ("<I-TS-3>", "192.0.2.3"),
        ("<A0-R2>", "10.0.0.2"),
        ("<A0-R3>", "10.0.0.3"),
        ("<A1-R1>", "10.1.0.1"),
        ("<A1-R2>", "10.1.0.2"),
        ("<A1-R3>", "10.1.0.3"),
        ("<CB-1>", "10.2.0.1"),
        ("<CB-2>", "10.2.0.2"),
        ("<dl-2>", "10.3.0.2"),
    ];
    table.iter().find(|(n, _)| *n == name).map(|(_, a)| ip(a))
}

#[test]
fn white_paper_a0_r1() {
    let text = fixture("whitepaper-a0-r1.ios");
    let mut config = parse(&text, None).unwrap();
    assert_eq!(config.dialect, Dialect::Ios);
    assert_eq!(config.local_reference.map(|l| l.stratum), Some(3));
    assert_eq!(config.source_interface.as_deref(), Some("loopback0"));
    assert!(config.require_authentication);
    assert_eq!(config.inline_keys.len(), 1);
    let key = &config.inline_keys[0];
    assert_eq!((key.key.id(), key.key.key_type()), (1234, KeyType::Md5));
    // The type 7 string decodes to the secret the guide's routers share.
    assert_eq!(key.key.expose_secret(), b"cisco");
    assert_eq!(config.trusted_keys, [1234]);
    assert_eq!(
        modes(&config),
        [
            (AssociationMode::Client, "<I-TS-1>".into()),
            (AssociationMode::Client, "<I-TS-2>".into()),
            (AssociationMode::Client, "<I-TS-3>".into()),
            (AssociationMode::SymmetricActive, "<A0-R2>".into()),
            (AssociationMode::SymmetricActive, "<A0-R3>".into()),
        ]
    );
    // Access groups: the servers and peers are `peer`, the clients
    // `serve-only`, everything else denied.
    assert_eq!(config.access.default, AccessClass::Ignore);
    let class_of = |config: &NodeConfig, name: &str| {
        config.access.rules.iter().find(|r| r.target == AccessTarget::Name(name.into())).map(|r| r.class)
    };
    for name in ["<I-TS-1>", "<I-TS-2>", "<I-TS-3>", "<A0-R2>", "<A0-R3>"] {
        assert_eq!(class_of(&config, name), Some(AccessClass::Peer), "{name}");
    }
    for name in ["<A1-R1>", "<A1-R2>", "<A1-R3>"] {
        assert_eq!(class_of(&config, name), Some(AccessClass::ServeOnly), "{name}");
    }
    // `ntp update-calendar` and the clock commands are accepted with a note.
    let update = config.notes.iter().find(|n| n.directive == "ntp update-calendar").unwrap();
    assert_eq!(update.line, line_of(&text, "ntp update-calendar"));
    assert!(config.notes.iter().any(|n| n.directive == "clock" && n.severity == Severity::Info));

    // Names must be resolved before the engine's values exist.
    assert!(matches!(config.associations(), Err(BuildError::Unresolved { .. })));
    config.resolve_names(white_paper_names).unwrap();
    let associations = config.associations().unwrap();
    assert_eq!(associations.len(), 5);
    let engine = config.engine_config().unwrap();
    assert!(engine.require_authentication);
    assert_eq!(engine.local_reference_stratum, Some(3));
    assert_eq!(engine.access.classify(ip("192.0.2.1")), AccessClass::Peer);
    assert_eq!(engine.access.classify(ip("10.0.0.3")), AccessClass::Peer);
    assert_eq!(engine.access.classify(ip("10.1.0.2")), AccessClass::ServeOnly);
    assert_eq!(engine.access.classify(ip("203.0.113.9")), AccessClass::Ignore);
    let ring = load_keyring(&config, |_| -> Result<String, std::io::Error> { unreachable!("no key file") }).unwrap();
    assert!(ring.is_trusted(1234));

    let shown = render(&config);
    assert!(shown.contains("key 1234 MD5"), "{shown}");
    assert!(!shown.contains("cisco") && !shown.contains("104D000A0618"), "{shown}");
}

#[test]
fn white_paper_dl_1_verbatim_puts_ntp_broadcast_outside_an_interface() {
    // The guide prints `internet Ethernet0` where IOS says `interface`, so
    // `ntp broadcast` lands in global configuration, where IOS refuses it.
    let text = fixture("whitepaper-dl-1.ios");
    let err = parse(&text, None).unwrap_err();
    assert_eq!(err.line, line_of(&text, "ntp broadcast"));
    assert!(matches!(err.kind, ErrorKind::OutOfContext { .. }), "{err}");
}

#[test]
fn white_paper_dl_1_with_the_interface_spelt_out() {
    let text = fixture("whitepaper-dl-1.ios").replace("internet Ethernet0", "interface Ethernet0");
    let mut config = parse(&text, None).unwrap();
    let ethernet = config.interface("Ethernet0").unwrap();
    assert_eq!(ethernet.broadcast.as_ref().map(|b| b.line), Some(line_of(&text, "ntp broadcast")));
    assert_eq!(
        modes(&config),
        [
            (AssociationMode::Client, "<CB-1>".into()),
            (AssociationMode::Client, "<CB-2>".into()),
            (AssociationMode::SymmetricActive, "<dl-2>".into()),
        ]
    );
    assert!(config.require_authentication);
    assert_eq!(config.trusted_keys, [1234]);
    config.resolve_names(white_paper_names).unwrap();
    // The guide gives Ethernet0 no address: there is no subnet to broadcast to.
    assert!(matches!(config.associations(), Err(BuildError::BroadcastWithoutAddress { .. })));
    let engine = config.engine_config().unwrap();
    assert_eq!(engine.access.classify(ip("10.2.0.1")), AccessClass::Peer);
    assert_eq!(engine.access.classify(ip("10.3.0.2")), AccessClass::Peer);
    assert_eq!(engine.access.classify(ip("10.9.9.9")), AccessClass::Ignore);
}

// --- Each dialect's own reference example ---

#[test]
fn ntp_conf_reference() {
    let text = fixture("ntp-reference.conf");
    let config = parse(&text, None).unwrap();
    assert_eq!(config.dialect, Dialect::NtpConf);
    assert_eq!(
        modes(&config),
        [
            (AssociationMode::Client, "time.example.com".into()),
            (AssociationMode::Client, "192.0.2.1".into()),
            (AssociationMode::Client, "192.0.2.2".into()),
            (AssociationMode::SymmetricActive, "192.0.2.10".into()),
            (AssociationMode::BroadcastServer, "192.168.1.255".into()),
        ]
    );
    let s2 = &config.sources[2];
    assert_eq!((s2.key_id, s2.min_poll, s2.max_poll, s2.iburst), (Some(1), Some(4), Some(8), true));
    assert!(config.sources[1].prefer);
    // The local clock at fudged stratum 10 makes the node serve stratum 11.
    assert_eq!(config.local_reference.map(|l| (l.line, l.stratum)), Some((line_of(&text, "server 127.127.1.0"), 11)));
    let orphan = config.orphan.unwrap();
    assert_eq!((orphan.stratum, orphan.wait), (12, Some(60.0)));
    assert_eq!(config.key_files.len(), 1);
    assert_eq!(config.key_files[0].format, KeyFileFormat::NtpKeys);
    assert_eq!(config.trusted_keys, [1, 2]);
    assert_eq!(config.control_key, Some(1));
    assert_eq!(config.drift_file.as_deref(), Some("/var/lib/ntp/ntp.drift"));
    assert_eq!(config.leap_file.as_deref(), Some("/usr/share/zoneinfo/leap-seconds.list"));
    assert!(config.broadcast_client.is_some());
    let limit = config.rate_limit.unwrap();
    assert_eq!((limit.average_log2, limit.minimum_log2, limit.send_kod), (4, 2, true));

    let mut config = config;
    config.resolve_names(|_| Some(ip("192.0.2.50"))).unwrap();
    let engine = config.engine_config().unwrap();
    assert!(engine.broadcast_client);
    assert_eq!(engine.orphan_stratum, Some(12));
    assert_eq!(engine.orphan_wait, 60.0);
    // noquery: strangers get time only; the loopback and the LAN everything;
    // the configured servers stay usable.
    assert_eq!(engine.access.classify(ip("203.0.113.1")), AccessClass::ServeOnly);
    assert_eq!(engine.access.classify(ip("2001:db8::1")), AccessClass::ServeOnly);
    assert_eq!(engine.access.classify(ip("127.0.0.1")), AccessClass::Peer);
    assert_eq!(engine.access.classify(ip("192.168.1.77")), AccessClass::Peer);
    assert_eq!(engine.access.classify(ip("192.0.2.2")), AccessClass::Peer);
    assert_eq!(engine.access.classify(ip("192.0.2.50")), AccessClass::Peer);
    assert_eq!(config.associations().unwrap().len(), 5);
    let notes: Vec<&str> = config.notes.iter().map(|n| n.directive.as_str()).collect();
    for directive in ["requestkey", "enable", "statistics", "filegen", "statsdir", "restrict"] {
        assert!(notes.contains(&directive), "{directive}: {notes:?}");
    }
}

#[test]
fn chrony_reference() {
    let text = fixture("chrony-reference.conf");
    let config = parse(&text, None).unwrap();
    assert_eq!(config.dialect, Dialect::Chrony);
    assert_eq!(
        modes(&config),
        [
            (AssociationMode::Client, "192.0.2.1".into()),
            (AssociationMode::Client, "192.0.2.2".into()),
            (AssociationMode::Client, "ntp.example.net".into()),
            (AssociationMode::SymmetricActive, "192.0.2.20".into()),
        ]
    );
    assert_eq!(config.sources[1].key_id, Some(10));
    assert_eq!(config.key_files[0].format, KeyFileFormat::ChronyKeys);
    assert_eq!(config.orphan.map(|o| o.stratum), Some(10));
    assert_eq!(config.local_reference, None);
    assert_eq!(config.listen_addresses, [ip("192.168.1.1")]);
    let limit = config.rate_limit.unwrap();
    assert_eq!((limit.average_log2, limit.burst, limit.send_kod), (3, 16, false));
    let mut config = config;
    config.resolve_names(|_| Some(ip("198.51.100.3"))).unwrap();
    let engine = config.engine_config().unwrap();
    assert_eq!(engine.access.classify(ip("192.168.1.5")), AccessClass::ServeOnly);
    assert_eq!(engine.access.classify(ip("192.168.66.5")), AccessClass::Ignore);
    assert_eq!(engine.access.classify(ip("10.1.2.3")), AccessClass::ServeOnly);
    assert_eq!(engine.access.classify(ip("203.0.113.1")), AccessClass::Ignore);
    assert_eq!(engine.access.classify(ip("198.51.100.3")), AccessClass::Peer);
    assert_eq!(engine.orphan_stratum, Some(10));
    let makestep = config.notes.iter().find(|n| n.directive == "makestep").unwrap();
    assert_eq!((makestep.line, makestep.severity), (line_of(&text, "makestep"), Severity::Warning));
}

#[test]
fn ios_reference() {
    let text = fixture("ios-reference.ios");
    let config = parse(&text, None).unwrap();
    assert_eq!(config.hostname.as_deref(), Some("dl-1"));
    assert_eq!(
        modes(&config),
        [
            (AssociationMode::Client, "10.0.0.1".into()),
            (AssociationMode::Client, "10.0.0.2".into()),
            (AssociationMode::SymmetricActive, "10.0.0.3".into()),
        ]
    );
    let s0 = &config.sources[0];
    assert_eq!(
        (s0.key_id, s0.prefer, s0.version, s0.min_poll, s0.max_poll),
        (Some(1234), true, Some(4), Some(6), Some(10))
    );
    assert_eq!(config.inline_keys.iter().map(|k| k.key.id()).collect::<Vec<_>>(), [1234, 42]);
    assert_eq!(config.trusted_keys, [1234, 40, 41, 42]);
    // Version 3 is noted: the engine speaks version 4.
    assert!(config.notes.iter().any(|n| n.directive == "version" && n.line == line_of(&text, "ntp peer")));
    let associations = config.associations().unwrap();
    assert_eq!(associations.len(), 4);
    assert_eq!(associations[3].mode, AssociationMode::BroadcastServer);
    assert_eq!(associations[3].address, "10.20.0.255:123".parse().unwrap());
    assert_eq!(associations[3].key_id, Some(1234));
    let engine = config.engine_config().unwrap();
    assert!(engine.broadcast_client);
    assert!(engine.local_addresses.contains(&ip("10.255.0.1")));
    // peer: the core; serve-only: the LAN but its printer; query-only: management.
    assert_eq!(engine.access.classify(ip("10.0.0.2")), AccessClass::Peer);
    assert_eq!(engine.access.classify(ip("10.0.0.4")), AccessClass::Ignore);
    assert_eq!(engine.access.classify(ip("10.20.0.5")), AccessClass::ServeOnly);
    assert_eq!(engine.access.classify(ip("10.20.0.99")), AccessClass::Ignore);
    assert_eq!(engine.access.classify(ip("10.99.3.4")), AccessClass::QueryOnly);
    assert_eq!(engine.access.classify(ip("192.0.2.1")), AccessClass::Ignore);
    let shown = render(&config);
    assert!(shown.contains("broadcast server on Ethernet0 to the subnet of 10.20.0.1/24, key 1234"), "{shown}");
    assert!(!shown.contains("cisco"), "{shown}");
}

#[test]
fn vrp_reference() {
    let text = fixture("vrp-reference.vrp");
    let config = parse(&text, None).unwrap();
    assert!(config.require_authentication);
    assert_eq!(config.inline_keys[0].key.id(), 7);
    assert_eq!(config.trusted_keys, [7]);
    assert_eq!(
        modes(&config),
        [
            (AssociationMode::Client, "10.0.1.31".into()),
            (AssociationMode::Client, "10.0.2.31".into()),
            (AssociationMode::SymmetricActive, "10.0.1.33".into()),
        ]
    );
    assert!(config.sources[0].prefer);
    assert_eq!(config.sources[0].key_id, Some(7));
    assert_eq!(config.local_reference.map(|l| l.stratum), Some(5));
    assert_eq!(config.source_interface.as_deref(), Some("loopback0"));
    let associations = config.associations().unwrap();
    assert_eq!(associations.last().unwrap().address, "10.0.1.255:123".parse().unwrap());
    assert!(config.engine_config().unwrap().broadcast_client);
    let shown = render(&config);
    assert!(!shown.contains("Huawei@123"), "{shown}");
    assert!(shown.contains("key 7 MD5"), "{shown}");
}

#[test]
fn hosts_keep_their_kind() {
    let config = parse("server 192.0.2.1\nserver ntp.example.org\n", Some(Dialect::NtpConf)).unwrap();
    assert_eq!(config.sources[0].host, Host::Addr(ip("192.0.2.1")));
    assert_eq!(config.sources[1].host, Host::Name("ntp.example.org".into()));
}
