//! How each dialect's meaning maps onto the engine's: defaults, access
//! semantics, blocks and prompts, and what check-config prints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::net::IpAddr;

use ntp_algo::{AccessClass, AssociationMode};
use ntp_config::{Dialect, Severity, parse, render};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn class(dialect: Dialect, text: &str, addr: &str) -> AccessClass {
    parse(text, Some(dialect)).unwrap().engine_config().unwrap().access.classify(ip(addr))
}

#[test]
fn local_reference_defaults() {
    let stratum = |dialect, text: &str| parse(text, Some(dialect)).unwrap().local_reference.map(|l| l.stratum);
    assert_eq!(stratum(Dialect::Ios, "ntp master\n"), Some(8));
    assert_eq!(stratum(Dialect::Ios, "ntp master 1\n"), Some(1));
    assert_eq!(stratum(Dialect::Vrp, "ntp-service refclock-master\n"), Some(8));
    assert_eq!(stratum(Dialect::Vrp, "ntp-service refclock-master 127.127.1.0 4\n"), Some(4));
    // ntpd's local clock is a source at stratum 5 by default: the node serves 6.
    assert_eq!(stratum(Dialect::NtpConf, "server 127.127.1.0\n"), Some(6));
    assert_eq!(stratum(Dialect::NtpConf, "server 127.127.1.0\nfudge 127.127.1.0 stratum 0\n"), Some(1));
    assert_eq!(stratum(Dialect::Chrony, "local\n"), Some(10));
    assert_eq!(stratum(Dialect::Chrony, "local stratum 3\n"), Some(3));
    let orphan = parse("local stratum 9 orphan\n", Some(Dialect::Chrony)).unwrap();
    assert_eq!((orphan.local_reference, orphan.orphan.map(|o| o.stratum)), (None, Some(9)));
}

#[test]
fn restrict_flags_become_classes() {
    let cases = [
        ("", AccessClass::Peer),
        ("nopeer", AccessClass::Serve),
        ("noquery", AccessClass::ServeOnly),
        ("noquery nopeer nomodify notrap", AccessClass::ServeOnly),
        ("noserve", AccessClass::QueryOnly),
        ("noserve noquery", AccessClass::Ignore),
        ("ignore", AccessClass::Ignore),
        ("kod limited nomodify", AccessClass::Peer),
    ];
    for (flags, expected) in cases {
        let text = format!("restrict 10.0.0.0 mask 255.0.0.0 {flags}\n");
        assert_eq!(class(Dialect::NtpConf, &text, "10.1.2.3"), expected, "{flags}");
        assert_eq!(class(Dialect::NtpConf, &text, "11.1.2.3"), AccessClass::Peer, "{flags}");
    }
    // Longest prefix wins, whatever the order; -4/-6 defaults cover one family.
    let text = "restrict 10.1.0.0 mask 255.255.0.0 ignore\nrestrict 10.0.0.0 mask 255.0.0.0 noquery\nrestrict -6 default noserve\n";
    assert_eq!(class(Dialect::NtpConf, text, "10.1.0.1"), AccessClass::Ignore);
    assert_eq!(class(Dialect::NtpConf, text, "10.2.0.1"), AccessClass::ServeOnly);
    assert_eq!(class(Dialect::NtpConf, text, "2001:db8::1"), AccessClass::QueryOnly);
    assert_eq!(class(Dialect::NtpConf, text, "192.0.2.1"), AccessClass::Peer);
    // `restrict default ignore` stops even the node's own servers, as in ntpd.
    let text = "restrict default ignore\nserver 192.0.2.1\nserver 192.0.2.2\nrestrict 192.0.2.2 noquery\n";
    assert_eq!(class(Dialect::NtpConf, text, "192.0.2.1"), AccessClass::Ignore);
    assert_eq!(class(Dialect::NtpConf, text, "192.0.2.2"), AccessClass::Peer);
}

#[test]
fn rate_limit_needs_limited() {
    let config = parse("discard average 5\n", Some(Dialect::NtpConf)).unwrap();
    assert_eq!(config.rate_limit, None);
    let config = parse("discard average 5\nrestrict default limited\n", Some(Dialect::NtpConf)).unwrap();
    let limit = config.rate_limit.unwrap();
    assert_eq!((limit.average_log2, limit.send_kod), (5, false));
    assert!(config.notes.iter().any(|n| n.directive == "restrict" && n.severity == Severity::Warning));
    assert_eq!(config.engine_config().unwrap().responder.rate_limit, Some(limit));
}

#[test]
fn chrony_allow_and_deny() {
    let text = "allow 10/8\ndeny 10.1/16\nallow 10.1.1/24\n";
    assert_eq!(class(Dialect::Chrony, text, "10.2.0.1"), AccessClass::ServeOnly);
    assert_eq!(class(Dialect::Chrony, text, "10.1.0.1"), AccessClass::Ignore);
    assert_eq!(class(Dialect::Chrony, text, "10.1.1.1"), AccessClass::ServeOnly);
    assert_eq!(class(Dialect::Chrony, text, "192.0.2.1"), AccessClass::Ignore);
    // `deny all` drops the more specific rules inside it.
    let text = "allow 10.1.1.0/24\ndeny all 10/8\n";
    assert_eq!(class(Dialect::Chrony, text, "10.1.1.1"), AccessClass::Ignore);
    // A bare `allow` serves everyone.
    assert_eq!(class(Dialect::Chrony, "allow\n", "203.0.113.1"), AccessClass::ServeOnly);
    // A denied server is still a source (deny only stops serving).
    assert_eq!(class(Dialect::Chrony, "server 10.1.1.1\ndeny 10/8\n", "10.1.1.1"), AccessClass::Peer);
}

#[test]
fn ios_access_groups_follow_ios_order() {
    // 10.0.0.5 is in both lists: peer is checked first and wins, even though
    // the serve-only rule is more specific.
    let text = "access-list 1 permit 10.0.0.0 0.0.0.255\naccess-list 2 permit host 10.0.0.5\n\
                ntp access-group serve-only 2\nntp access-group peer 1\n";
    assert_eq!(class(Dialect::Ios, text, "10.0.0.5"), AccessClass::Peer);
    assert_eq!(class(Dialect::Ios, text, "10.0.0.6"), AccessClass::Peer);
    assert_eq!(class(Dialect::Ios, text, "10.0.1.6"), AccessClass::Ignore);
    // First match within a list: a deny before a broader permit.
    let text = "access-list 1 deny host 10.0.0.5\naccess-list 1 permit any\nntp access-group query-only 1\n";
    assert_eq!(class(Dialect::Ios, text, "10.0.0.5"), AccessClass::Ignore);
    assert_eq!(class(Dialect::Ios, text, "10.0.0.6"), AccessClass::QueryOnly);
    // Denied by the peer list, the serve list still permits.
    let text = "access-list 1 deny 10.0.0.0 0.0.0.255\naccess-list 1 permit any\naccess-list 2 permit any\n\
                ntp access-group peer 1\nntp access-group serve 2\n";
    assert_eq!(class(Dialect::Ios, text, "10.0.0.9"), AccessClass::Serve);
    assert_eq!(class(Dialect::Ios, text, "192.0.2.9"), AccessClass::Peer);
    // No group: everything allowed.
    assert_eq!(class(Dialect::Ios, "ntp server 192.0.2.1\n", "203.0.113.1"), AccessClass::Peer);
}

#[test]
fn ios_sessions_with_interface_prompts() {
    let text = "R1#configure terminal\n\
                R1(config)#interface GigabitEthernet0/1\n\
                R1(config-if)#ip address 192.168.10.1 255.255.255.0\n\
                R1(config-if)#ntp broadcast client\n\
                R1(config-if)#exit\n\
                R1(config)#ntp broadcast\n";
    let err = parse(text, None).unwrap_err();
    assert_eq!((err.line, err.directive.as_str()), (6, "ntp broadcast"));
    let text = text.replace("R1(config)#ntp broadcast\n", "R1(config)#ntp server 192.0.2.1\n");
    let config = parse(&text, None).unwrap();
    let interface = config.interface("GigabitEthernet0/1").unwrap();
    assert_eq!(interface.broadcast_client, Some(4));
    assert_eq!(config.sources.len(), 1);
    assert!(config.engine_config().unwrap().broadcast_client);
    // Without prompts or indentation, interface commands stay in the block
    // and the first global command leaves it.
    let text = "interface Ethernet0\nip address 10.0.0.1 255.255.255.0\nntp broadcast\nntp server 192.0.2.1\n";
    let config = parse(text, Some(Dialect::Ios)).unwrap();
    let associations = config.associations().unwrap();
    assert_eq!(associations[1].mode, AssociationMode::BroadcastServer);
    assert_eq!(associations[1].address, "10.0.0.255:123".parse().unwrap());
}

#[test]
fn vrp_interface_view_prompts() {
    let text = "<HUAWEI> system-view\n\
                [~HUAWEI] sysname DeviceC\n\
                [*HUAWEI] commit\n\
                [~DeviceC] interface GigabitEthernet0/1/0\n\
                [~DeviceC-GigabitEthernet0/1/0] ip address 10.0.1.31 24\n\
                [*DeviceC-GigabitEthernet0/1/0] ntp-service broadcast-server\n\
                [*DeviceC-GigabitEthernet0/1/0] quit\n\
                [*DeviceC] ntp-service refclock-master 2\n\
                [*DeviceC] commit\n";
    let config = parse(text, None).unwrap();
    assert_eq!(config.dialect, Dialect::Vrp);
    assert_eq!(config.local_reference.map(|l| l.stratum), Some(2));
    let associations = config.associations().unwrap();
    assert_eq!(associations.len(), 1);
    assert_eq!(associations[0].address, "10.0.1.255:123".parse().unwrap());
}

#[test]
fn check_config_lists_everything_in_order() {
    let text = "ntp authentication-key 5 md5 s3cr3tvalue\nntp trusted-key 5\nntp authenticate\n\
                access-list 1 permit 192.0.2.0 0.0.0.255\naccess-list 1 deny any\nntp access-group peer 1\n\
                ntp server 192.0.2.1 key 5 iburst\nntp peer 192.0.2.2\nntp master 4\nntp update-calendar\n";
    let shown = render(&parse(text, None).unwrap());
    let expected_in_order = [
        "dialect: ios",
        "associations: 2",
        "line 7: client of server 192.0.2.1, key 5, iburst",
        "line 8: symmetric active peer 192.0.2.2",
        "authentication: required",
        "line 1: key 5 MD5",
        "trusted keys: 5",
        "access: default ignore (line 6)",
        "line 4: 192.0.2.0/24 -> peer",
        "line 5: 0.0.0.0/0 -> ignore",
        "local reference: the local clock at stratum 4",
        "note: line 10: ntp update-calendar",
    ];
    let mut from = 0;
    for item in expected_in_order {
        let at = shown[from..].find(item).unwrap_or_else(|| panic!("{item:?} missing or out of order in:\n{shown}"));
        from += at + item.len();
    }
    assert!(!shown.contains("s3cr3tvalue"));
}

#[test]
fn detection_breaks_ties_towards_ntp_conf_and_reads_options() {
    assert_eq!(Dialect::detect("server 192.0.2.1\ndriftfile /x\n"), Some(Dialect::NtpConf));
    assert_eq!(Dialect::detect("server 192.0.2.1 offline\n"), Some(Dialect::Chrony));
    assert_eq!(Dialect::detect("keyfile /etc/chrony.keys\nserver 192.0.2.1 key 1\n"), Some(Dialect::Chrony));
    assert_eq!(Dialect::detect("keys /etc/ntp.keys\nserver 192.0.2.1 key 1\n"), Some(Dialect::NtpConf));
    // A VRP file with many interfaces and one NTP line is still VRP.
    let vrp = "#\nsysname A\n#\ninterface GE0/1/0\n ip address 10.0.0.1 24\n#\ninterface GE0/1/1\n ip address 10.0.1.1 24\n#\nntp-service unicast-server 10.0.0.2\n#\nreturn\n";
    assert_eq!(Dialect::detect(vrp), Some(Dialect::Vrp));
}

#[test]
fn unusable_sources_are_warned_about() {
    let config = parse("ntp authenticate\nntp server 192.0.2.1\nntp server 192.0.2.2 key 9\n", None).unwrap();
    let warnings: Vec<(usize, &str)> =
        config.notes.iter().filter(|n| n.severity == Severity::Warning).map(|n| (n.line, n.message.as_str())).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0].0, 2);
    assert!(warnings[0].1.contains("no key"));
    assert_eq!(warnings[1], (3, "key 9 is not defined in this file"));
    // A key file may define it: no warning then.
    let config = parse("keys /etc/ntp.keys\nserver 192.0.2.2 key 9\n", None).unwrap();
    assert!(config.notes.is_empty(), "{:?}", config.notes);
}
