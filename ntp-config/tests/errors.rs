//! Every error kind, with its line number, in every dialect that has it;
//! and no error ever repeats a secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use ntp_config::{Dialect, ErrorKind, ParseError, parse};

fn err(dialect: Dialect, text: &str) -> ParseError {
    match parse(text, Some(dialect)) {
        Ok(config) => panic!("{dialect}: accepted {text:?}: {config:?}"),
        Err(e) => e,
    }
}

/// Asserts the error is on `line`, for `directive`, and of the kind `matches`.
fn check(dialect: Dialect, text: &str, line: usize, directive: &str, matches: impl Fn(&ErrorKind) -> bool) {
    let e = err(dialect, text);
    assert_eq!((e.line, e.directive.as_str()), (line, directive), "{dialect}: {e}");
    assert!(matches(&e.kind), "{dialect}: unexpected kind: {e}");
    let message = e.to_string();
    assert!(message.starts_with(&format!("line {line}: {directive}")), "{message}");
}

use Dialect::{Chrony, Ios, NtpConf, Vrp};

#[test]
fn unknown_directive() {
    let unknown = |k: &ErrorKind| *k == ErrorKind::UnknownDirective;
    check(NtpConf, "server 192.0.2.1\nservr 192.0.2.2\n", 2, "servr", unknown);
    check(Chrony, "# c\n\nallowed 10/8\n", 3, "allowed", unknown);
    check(Ios, "ntp server 192.0.2.1\nntp sever 192.0.2.2\n", 2, "ntp sever", unknown);
    check(Vrp, "#\nntp-service unicast-servr 10.0.0.1\n", 2, "ntp-service unicast-servr", unknown);
}

#[test]
fn not_supported_names_the_directive() {
    let unsupported =
        |what: &'static str| move |k: &ErrorKind| matches!(k, ErrorKind::NotSupported { what: w, .. } if w == what);
    check(NtpConf, "server 192.0.2.1\npool pool.ntp.org iburst\n", 2, "pool", unsupported("pool"));
    check(NtpConf, "manycastclient 239.1.1.1\n", 1, "manycastclient", unsupported("manycastclient"));
    check(NtpConf, "server 192.0.2.1 autokey\n", 1, "server", unsupported("autokey"));
    check(NtpConf, "crypto pw secret\n", 1, "crypto", unsupported("crypto"));
    check(NtpConf, "server 127.127.20.0\n", 1, "server", unsupported("reference clock 127.127.20.0"));
    check(NtpConf, "disable auth\n", 1, "disable", unsupported("disable auth"));
    check(NtpConf, "restrict default notrust\n", 1, "restrict", unsupported("notrust"));
    check(Chrony, "server a.example\nleapsectz right/UTC\n", 2, "leapsectz", unsupported("leapsectz"));
    check(Chrony, "refclock PPS /dev/pps0\n", 1, "refclock", unsupported("refclock"));
    check(Chrony, "server 192.0.2.1 noselect\n", 1, "server", unsupported("noselect"));
    check(Chrony, "local stratum 8 distance 1.0\n", 1, "local", unsupported("distance"));
    check(Ios, "ntp server vrf MGMT 192.0.2.1\n", 1, "ntp server", unsupported("vrf"));
    check(Ios, "no ntp server 192.0.2.1\n", 1, "no ntp", unsupported("no ntp"));
    check(
        Ios,
        "access-list 101 permit ip any any\nntp access-group peer 101\n",
        2,
        "ntp access-group",
        unsupported("access list 101"),
    );
    check(
        Vrp,
        "ntp-service unicast-server 10.0.0.1 vpn-instance A\n",
        1,
        "ntp-service unicast-server",
        unsupported("vpn-instance"),
    );
    check(Vrp, "ntp-service access peer 2000\n", 1, "ntp-service access", unsupported("ntp-service access"));
}

#[test]
fn unknown_option() {
    let option = |o: &'static str| move |k: &ErrorKind| matches!(k, ErrorKind::UnknownOption { option } if option == o);
    check(NtpConf, "server 192.0.2.1 iburts\n", 1, "server", option("iburts"));
    check(NtpConf, "restrict default nosuchflag\n", 1, "restrict", option("nosuchflag"));
    check(Chrony, "server 192.0.2.1 ibrust\n", 1, "server", option("ibrust"));
    check(Ios, "ntp server 192.0.2.1 preferr\n", 1, "ntp server", option("preferr"));
    check(Ios, "interface Ethernet0\n ntp broadcast loud\n", 2, "ntp broadcast", option("loud"));
    check(Vrp, "ntp-service unicast-peer 10.0.0.1 loud\n", 1, "ntp-service unicast-peer", option("loud"));
}

#[test]
fn missing_and_extra_arguments() {
    let missing = |k: &ErrorKind| matches!(k, ErrorKind::MissingArgument { .. });
    let extra = |k: &ErrorKind| matches!(k, ErrorKind::ExtraArgument { .. });
    check(NtpConf, "server\n", 1, "server", missing);
    check(NtpConf, "server 192.0.2.1 key\n", 1, "server", missing);
    check(NtpConf, "keys a b\n", 1, "keys", extra);
    check(Chrony, "keyfile\n", 1, "keyfile", missing);
    check(Chrony, "allow 10/8 20/8\n", 1, "allow", extra);
    check(Ios, "R2#configure terminal\nR2(config)#ntp server\n", 2, "ntp server", missing);
    check(Ios, "ntp master 3 4\n", 1, "ntp master", extra);
    check(Vrp, "ntp-service refclock-master 2 3\n", 1, "ntp-service refclock-master", extra);
    check(Vrp, "interface\n", 1, "interface", missing);
}

#[test]
fn bad_values() {
    let bad = |w: &'static str| move |k: &ErrorKind| matches!(k, ErrorKind::BadValue { what, .. } if *what == w);
    check(NtpConf, "server 192.0.2.1 minpoll 40\n", 1, "server", bad("poll interval"));
    check(NtpConf, "server 192.0.2.1 key 0\n", 1, "server", bad("key id"));
    check(NtpConf, "restrict 10.0.0.0 mask 255.0.255.0\n", 1, "restrict", bad("netmask"));
    check(NtpConf, "tos orphan 16\n", 1, "tos", bad("stratum"));
    check(NtpConf, "trustedkey 5-1\n", 1, "trustedkey", bad("trusted key list"));
    check(Chrony, "local stratum 0\n", 1, "local", bad("stratum"));
    check(Chrony, "allow 10.0.0.0/33\n", 1, "allow", bad("prefix length"));
    check(Chrony, "server bad;name\n", 1, "server", bad("address"));
    check(Ios, "ntp master 16\n", 1, "ntp master", bad("stratum"));
    check(Ios, "ntp server 192.0.2.1 version 5\n", 1, "ntp server", bad("version"));
    check(Ios, "access-list 5 permit 10.0.0.0 0.0.255.0\nntp access-group peer 5\n", 1, "access-list", bad("wildcard"));
    check(Ios, "ntp access-group everyone 5\n", 1, "ntp access-group", bad("access group"));
    check(Ios, "interface e0\n ip address 10.0.0.1 255.0.255.0\n", 2, "ip address", bad("netmask"));
    check(Vrp, "ntp-service refclock-master 99\n", 1, "ntp-service refclock-master", bad("stratum"));
    check(
        Vrp,
        "ntp-service unicast-server 10.0.0.1 maxpoll -1\n",
        1,
        "ntp-service unicast-server",
        bad("poll interval"),
    );
}

#[test]
fn keys_errors_never_echo_the_secret() {
    const SECRET: &str = "Zebra9Quokka";
    let cases: Vec<(Dialect, String, usize, &str)> = vec![
        // A misplaced secret where the type should be.
        (Ios, format!("ntp authentication-key 1 {SECRET}\n"), 1, "ntp authentication-key"),
        // Secret where the key id should be.
        (Ios, format!("!\nntp authentication-key {SECRET} md5 x\n"), 2, "ntp authentication-key"),
        // An HMAC type.
        (Ios, format!("ntp authentication-key 1 hmac-sha1 {SECRET}\n"), 1, "ntp authentication-key"),
        // A bad type 7 string, and words after the secret.
        (Ios, format!("ntp authentication-key 1 md5 {SECRET} 7\n"), 1, "ntp authentication-key"),
        (Ios, format!("ntp authentication-key 1 md5 {SECRET} {SECRET}\n"), 1, "ntp authentication-key"),
        (
            Vrp,
            format!("ntp-service authentication-keyid 3 authentication-mode {SECRET}\n"),
            1,
            "ntp-service authentication-keyid",
        ),
        (Vrp, format!("ntp-service authentication-keyid 3 {SECRET}\n"), 1, "ntp-service authentication-keyid"),
        (
            Vrp,
            format!("ntp-service authentication-keyid 3 authentication-mode md5 cipher {SECRET}\n"),
            1,
            "ntp-service authentication-keyid",
        ),
        (
            Vrp,
            format!("ntp-service authentication-keyid 3 authentication-mode md5 %^%#{SECRET}%^%#\n"),
            1,
            "ntp-service authentication-keyid",
        ),
        (
            Vrp,
            format!("ntp-service authentication-keyid 3 authentication-mode md5 {SECRET} {SECRET}\n"),
            1,
            "ntp-service authentication-keyid",
        ),
    ];
    for (dialect, text, line, directive) in cases {
        let e = err(dialect, &text);
        assert_eq!((e.line, e.directive.as_str()), (line, directive), "{text}");
        assert!(matches!(e.kind, ErrorKind::BadKeyLine { .. }), "{text}: {e}");
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains(SECRET), "{shown}");
        }
    }
}

#[test]
fn bad_and_duplicate_keys() {
    // A secret the key type refuses (too long for MD5's 512-byte limit).
    let long = "x".repeat(600);
    let e = err(Ios, &format!("ntp authentication-key 9 md5 {long}\n"));
    assert!(matches!(e.kind, ErrorKind::BadKey { key_id: 9, .. }), "{e}");
    assert!(!e.to_string().contains("xxxxxxxx"));
    let e = err(Ios, "ntp authentication-key 1 md5 a\n!\nntp authentication-key 1 md5 b\n");
    assert_eq!(e.line, 3);
    assert_eq!(e.kind, ErrorKind::DuplicateKey { key_id: 1, first_line: 1 });
    let e = err(
        Vrp,
        "ntp-service authentication-keyid 4 authentication-mode md5 a\nntp-service authentication-keyid 4 authentication-mode md5 b\n",
    );
    assert_eq!((e.line, &e.kind), (2, &ErrorKind::DuplicateKey { key_id: 4, first_line: 1 }));
}

#[test]
fn out_of_context_undefined_lists_and_unconfigured_clocks() {
    check(Ios, "ntp server 192.0.2.1\nntp broadcast\n", 2, "ntp broadcast", |k| {
        matches!(k, ErrorKind::OutOfContext { .. })
    });
    check(Vrp, "ntp-service broadcast-server\n", 1, "ntp-service broadcast-server", |k| {
        matches!(k, ErrorKind::OutOfContext { .. })
    });
    check(Ios, "access-list 5 permit any\nntp access-group peer 6\n", 2, "ntp access-group", |k| {
        *k == ErrorKind::UndefinedAccessList { acl: "6".into() }
    });
    check(NtpConf, "server 192.0.2.1\nfudge 127.127.1.0 stratum 8\n", 2, "fudge", |k| {
        matches!(k, ErrorKind::UnconfiguredClock { .. })
    });
}

#[test]
fn undetectable_text() {
    let e = parse("hello\nworld\n", None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownDialect);
    assert_eq!(e.line, 1);
}

#[test]
fn long_arguments_are_cut_in_messages() {
    let word = "a".repeat(500);
    let e = err(NtpConf, &format!("server 192.0.2.1 {word}\n"));
    assert!(e.to_string().len() < 200, "{e}");
}

#[test]
fn notes_about_other_commands_never_echo_their_arguments() {
    const SECRET: &str = "Zebra9Quokka";
    let ios =
        format!("key chain K\n key 1\n  key-string {SECRET}\nusername admin password {SECRET}\nntp server 192.0.2.1\n");
    let vrp = format!("local-user admin password irreversible-cipher {SECRET}\nntp-service unicast-server 10.0.0.1\n");
    for (dialect, text) in [(Ios, ios), (Vrp, vrp)] {
        let config = parse(&text, Some(dialect)).unwrap();
        assert!(!config.notes.is_empty());
        let shown = ntp_config::render(&config);
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!format!("{config:?}").contains(SECRET));
    }
}
