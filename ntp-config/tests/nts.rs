//! NTS (RFC 8915) in the two dialects that have it: chrony.conf and
//! NTPsec's ntp.conf. What each directive becomes, what the engine gets,
//! what check-config prints, and the errors with their lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::path::PathBuf;

use ntp_config::{Dialect, ErrorKind, NTS_KE_PORT, NtsServerFiles, Severity, parse, render};
use proptest::prelude::*;

fn chrony(text: &str) -> ntp_config::NodeConfig {
    parse(text, Some(Dialect::Chrony)).unwrap()
}

fn ntpconf(text: &str) -> ntp_config::NodeConfig {
    parse(text, Some(Dialect::NtpConf)).unwrap()
}

fn error_line(dialect: Dialect, text: &str) -> (usize, ErrorKind) {
    let e = parse(text, Some(dialect)).unwrap_err();
    (e.line, e.kind)
}

#[test]
fn chrony_nts_sources() {
    let config = chrony("server 192.0.2.1 iburst nts\nserver 192.0.2.2 nts ntsport 14460\nserver 192.0.2.3\n");
    let nts: Vec<_> = config.sources.iter().map(|s| (s.nts, s.nts_ke_port)).collect();
    assert_eq!(nts, [(true, None), (true, Some(14460)), (false, None)]);
    let associations = config.associations().unwrap();
    assert_eq!(associations.iter().map(|a| a.nts).collect::<Vec<_>>(), [true, true, false]);
    assert!(associations[0].iburst);
    let text = render(&config);
    assert!(text.contains("line 1: client of server 192.0.2.1, iburst, nts\n"), "{text}");
    assert!(text.contains("line 2: client of server 192.0.2.2, nts, ntsport 14460\n"), "{text}");
    // No server side configured: the engine answers no NTS.
    assert!(config.engine_config().unwrap().nts_server.is_none());
}

#[test]
fn chrony_nts_server() {
    let config = chrony(
        "ntsport 4461\nntsservercert /etc/chrony/server.crt\nntsserverkey /etc/chrony/server.key\n\
         ntstrustedcerts /etc/ca-a.pem\nntstrustedcerts 0 /etc/ca-b.pem\nntsrotate 3600\nntsdumpdir /var/lib/chrony\n",
    );
    assert_eq!(
        config.nts_server,
        Some(NtsServerFiles {
            line: 3,
            cert_path: "/etc/chrony/server.crt".into(),
            key_path: "/etc/chrony/server.key".into(),
            port: 4461,
        })
    );
    assert_eq!(config.nts_trusted_certs, [PathBuf::from("/etc/ca-a.pem"), PathBuf::from("/etc/ca-b.pem")]);
    assert_eq!(config.nts_rotate, Some(3600));
    let engine = config.engine_config().unwrap();
    let nts = engine.nts_server.unwrap();
    assert_eq!((nts.rotation_interval, nts.grace), (3600, 7200));
    assert!(config.notes.iter().any(|n| n.line == 7 && n.directive == "ntsdumpdir" && n.severity == Severity::Info));
    let text = render(&config);
    assert!(text.contains(
        "nts server (line 3): NTS-KE on TCP port 4461, certificate /etc/chrony/server.crt, key /etc/chrony/server.key\n"
    ));
    assert!(text.contains("nts master key rotation: every 3600 s\n"), "{text}");
    assert!(text.contains("nts trusted certificates: /etc/ca-b.pem\n"), "{text}");
    // The default port, and the engine's default rotation.
    let config = chrony("ntsserverkey k.pem\nntsservercert c.pem\n");
    assert_eq!(config.nts_server.as_ref().map(|s| s.port), Some(NTS_KE_PORT));
    assert_eq!(config.engine_config().unwrap().nts_server, Some(ntp_algo::NtsServerConfig::default()));
}

#[test]
fn chrony_nts_errors_name_their_line() {
    // A key without a certificate (and the reverse): chronyd refuses both.
    assert!(matches!(
        error_line(Dialect::Chrony, "server 192.0.2.1\nntsserverkey k.pem\n"),
        (2, ErrorKind::MissingArgument { .. })
    ));
    assert!(matches!(error_line(Dialect::Chrony, "ntsservercert c.pem\n"), (1, ErrorKind::MissingArgument { .. })));
    assert!(matches!(
        error_line(Dialect::Chrony, "ntsserverkey a\nntsserverkey b\nntsservercert c\n"),
        (2, ErrorKind::NotSupported { .. })
    ));
    assert!(matches!(error_line(Dialect::Chrony, "\nntsport 0\n"), (2, ErrorKind::BadValue { .. })));
    assert!(matches!(error_line(Dialect::Chrony, "ntsrotate -1\n"), (1, ErrorKind::BadValue { .. })));
    assert!(matches!(error_line(Dialect::Chrony, "ntstrustedcerts 2 x.pem\n"), (1, ErrorKind::BadValue { .. })));
    assert!(matches!(error_line(Dialect::Chrony, "ntstrustedcerts\n"), (1, ErrorKind::MissingArgument { .. })));
    assert!(matches!(
        error_line(Dialect::Chrony, "server 192.0.2.1 nts ntsport\n"),
        (1, ErrorKind::MissingArgument { .. })
    ));
    assert!(matches!(error_line(Dialect::Chrony, "server 192.0.2.1 nts key 1\n"), (1, ErrorKind::BadValue { .. })));
    assert!(matches!(error_line(Dialect::Chrony, "\n\npeer 192.0.2.1 nts\n"), (3, ErrorKind::NotSupported { .. })));
    assert!(matches!(error_line(Dialect::Chrony, "ntsprocesses 2\n"), (1, ErrorKind::NotSupported { .. })));
    // Settings that need a server, without one: accepted with a warning.
    let config = chrony("ntsport 123\nntsrotate 60\nserver 192.0.2.1 ntsport 5\n");
    let warned: Vec<usize> = config.notes.iter().filter(|n| n.severity == Severity::Warning).map(|n| n.line).collect();
    assert_eq!(warned, [3, 1, 2]);
}

#[test]
fn ntpsec_nts() {
    let config = ntpconf(
        "server 192.0.2.1 nts iburst\nserver 192.0.2.2\nnts enable\nnts key /etc/ntp/k.pem cert /etc/ntp/c.pem\n\
         nts ca /etc/ntp/ca.pem\n",
    );
    assert_eq!(config.sources.iter().map(|s| s.nts).collect::<Vec<_>>(), [true, false]);
    assert!(config.associations().unwrap()[0].nts);
    assert_eq!(
        config.nts_server,
        Some(NtsServerFiles {
            line: 3,
            cert_path: "/etc/ntp/c.pem".into(),
            key_path: "/etc/ntp/k.pem".into(),
            port: NTS_KE_PORT,
        })
    );
    assert_eq!(config.nts_trusted_certs, [PathBuf::from("/etc/ntp/ca.pem")]);
    assert!(config.engine_config().unwrap().nts_server.is_some());
    let text = render(&config);
    assert!(text.contains("line 1: client of server 192.0.2.1, iburst, nts\n"), "{text}");
    assert!(text.contains("nts server (line 3): NTS-KE on TCP port 4460"), "{text}");
    // `nts enable` alone: NTPsec's default files, with a note.
    let config = ntpconf("nts enable\n");
    let server = config.nts_server.unwrap();
    assert_eq!((server.key_path, server.cert_path), ("/etc/ntp/key.pem".into(), "/etc/ntp/cert-chain.pem".into()));
    assert!(config.notes.iter().any(|n| n.line == 1 && n.directive == "nts"));
    // Enabled then disabled: off, and the files are noted as unused.
    let config = ntpconf("nts enable key k cert c\nnts disable\n");
    assert!(config.nts_server.is_none());
    assert!(config.notes.iter().any(|n| n.line == 1 && n.severity == Severity::Warning));
    assert!(config.engine_config().unwrap().nts_server.is_none());
}

#[test]
fn ntpsec_nts_errors_name_their_line() {
    assert!(matches!(error_line(Dialect::NtpConf, "nts\n"), (1, ErrorKind::MissingArgument { .. })));
    assert!(matches!(error_line(Dialect::NtpConf, "\nnts key\n"), (2, ErrorKind::MissingArgument { .. })));
    assert!(matches!(error_line(Dialect::NtpConf, "nts mintls TLS1.3\n"), (1, ErrorKind::NotSupported { .. })));
    assert!(matches!(error_line(Dialect::NtpConf, "nts frobnicate\n"), (1, ErrorKind::UnknownOption { .. })));
    assert!(matches!(
        error_line(Dialect::NtpConf, "server 192.0.2.1 nts noval\n"),
        (1, ErrorKind::NotSupported { .. })
    ));
    assert!(matches!(error_line(Dialect::NtpConf, "peer 192.0.2.1 nts\n"), (1, ErrorKind::NotSupported { .. })));
    assert!(matches!(
        error_line(Dialect::NtpConf, "keys /k\nserver 192.0.2.1 key 1 nts\n"),
        (2, ErrorKind::BadValue { .. })
    ));
}

#[test]
fn resolving_a_name_keeps_it_for_nts_ke() {
    let mut config = chrony("server time.example.com nts\n");
    config.resolve_names(|_| Some("192.0.2.1".parse().unwrap())).unwrap();
    assert_eq!(config.sources[0].name.as_deref(), Some("time.example.com"));
    assert_eq!(config.associations().unwrap()[0].address, "192.0.2.1:123".parse().unwrap());
}

#[test]
fn dialects_without_nts_refuse_it() {
    assert!(parse("ntp server 192.0.2.1 nts\n", Some(Dialect::Ios)).is_err());
    assert!(parse("ntp-service unicast-server 192.0.2.1 nts\n", Some(Dialect::Vrp)).is_err());
}

proptest! {
    /// The server's settings come through whatever their order and values.
    #[test]
    fn chrony_server_settings_in_any_order(port in 1u16.., rotate in any::<u32>(), order in Just([0usize, 1, 2, 3]).prop_shuffle()) {
        let lines = [
            format!("ntsport {port}"),
            "ntsserverkey /k.pem".to_owned(),
            "ntsservercert /c.pem".to_owned(),
            format!("ntsrotate {rotate}"),
        ];
        let text: String = order.iter().map(|&i| format!("{}\n", lines[i])).collect();
        let config = chrony(&text);
        let server = config.nts_server.clone().unwrap();
        prop_assert_eq!(server.port, port);
        prop_assert_eq!(server.line, order.iter().position(|&i| i == 1).unwrap() + 1);
        prop_assert_eq!(config.nts_rotate, Some(rotate));
        let nts = config.engine_config().unwrap().nts_server.unwrap();
        prop_assert_eq!(nts.rotation_interval, rotate);
        prop_assert_eq!(nts.grace, rotate.saturating_mul(2));
        // check-config names the port and the rotation.
        let text = render(&config);
        let port_text = format!("TCP port {port},");
        prop_assert!(text.contains(&port_text));
    }
}
