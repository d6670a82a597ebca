//! No input makes any parser, the detection, the builders or the renderer
//! panic: arbitrary text, and the fixtures mutated line by line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use ntp_config::{Dialect, parse, render};
use proptest::prelude::*;

const FIXTURES: &[&str] = &[
    include_str!("fixtures/seed-000-r1.ios"),
    include_str!("fixtures/seed-000-r2.ios"),
    include_str!("fixtures/seed-001-device-c.vrp"),
    include_str!("fixtures/seed-001-device-c-session.vrp"),
    include_str!("fixtures/seed-001-device-d.vrp"),
    include_str!("fixtures/seed-001-device-e-session.vrp"),
    include_str!("fixtures/seed-002-r1.ios"),
    include_str!("fixtures/whitepaper-a0-r1.ios"),
    include_str!("fixtures/whitepaper-dl-1.ios"),
    include_str!("fixtures/ios-reference.ios"),
    include_str!("fixtures/vrp-reference.vrp"),
    include_str!("fixtures/ntp-reference.conf"),
    include_str!("fixtures/chrony-reference.conf"),
];

/// Words every dialect reacts to, so mutations reach deep branches.
const WORDS: &[&str] = &[
    "ntp",
    "ntp-service",
    "server",
    "peer",
    "broadcast",
    "client",
    "key",
    "md5",
    "7",
    "0",
    "interface",
    "ip",
    "address",
    "access-list",
    "access-group",
    "permit",
    "deny",
    "any",
    "host",
    "restrict",
    "default",
    "mask",
    "fudge",
    "127.127.1.0",
    "stratum",
    "local",
    "orphan",
    "allow",
    "tos",
    "orphanwait",
    "-",
    "(",
    ")",
    "...",
    "authentication-keyid",
    "authentication-mode",
    "cipher",
    "plain",
    "refclock-master",
    "unicast-peer",
    "#",
    "!",
    "[~R]",
    "<R>",
    "R(config)#",
    "0.0.0.255",
    "255.255.255.0",
    "10.0.0.1",
    "::1",
    "10/8",
    "<X>",
    "iburst",
    "minpoll",
    "maxpoll",
    "version",
    "4294967295",
    "4294967296",
    "-1",
    "ratelimit",
    "interval",
    "limited",
    "kod",
    "trustedkey",
    "trusted-key",
    "1-3",
    "quit",
    "return",
    " ",
    "\t",
    "ignore",
    "noquery",
    "discard",
    "average",
];

/// Runs everything the crate offers on a text; any panic fails the test.
fn exercise(text: &str) {
    let _ = Dialect::detect(text);
    for dialect in [None, Some(Dialect::NtpConf), Some(Dialect::Chrony), Some(Dialect::Ios), Some(Dialect::Vrp)] {
        match parse(text, dialect) {
            Ok(mut config) => {
                let _ = render(&config);
                let _ = config.associations();
                let _ = config.engine_config();
                let _ = config.resolve_names(|_| Some("192.0.2.1".parse().unwrap()));
                let _ = config.associations();
                let _ = config.engine_config();
                let _ = ntp_config::load_keyring(&config, |_| Ok::<_, std::io::Error>("1 MD5 x\n".into()));
            }
            Err(e) => {
                let text_lines = text.lines().count().max(1);
                assert!(e.line >= 1 && e.line <= text_lines, "line {} of {text_lines}: {e}", e.line);
                let _ = e.to_string();
            }
        }
    }
}

fn mutated() -> impl Strategy<Value = String> {
    (0..FIXTURES.len(), proptest::collection::vec((any::<prop::sample::Index>(), 0..WORDS.len(), 0..4u8), 1..6))
        .prop_map(|(which, edits)| {
            let mut lines: Vec<String> = FIXTURES[which].lines().map(str::to_owned).collect();
            for (index, word, op) in edits {
                if lines.is_empty() {
                    lines.push(String::new());
                }
                let at = index.index(lines.len());
                let word = WORDS[word];
                match op {
                    0 => lines[at].push_str(&format!(" {word}")),
                    1 => lines.insert(at, word.to_owned()),
                    2 => {
                        let mut parts: Vec<&str> = lines[at].split(' ').collect();
                        if !parts.is_empty() {
                            let i = index.index(parts.len());
                            parts[i] = word;
                        }
                        lines[at] = parts.join(" ");
                    }
                    _ => {
                        lines.remove(at);
                    }
                }
            }
            lines.join("\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn word_soup_never_panics(words in proptest::collection::vec(0..WORDS.len(), 0..40), breaks in proptest::collection::vec(any::<bool>(), 40)) {
        let mut text = String::new();
        for (i, w) in words.iter().enumerate() {
            text.push_str(WORDS[*w]);
            text.push(if breaks[i] { '\n' } else { ' ' });
        }
        exercise(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(text in mutated()) {
        exercise(&text);
    }
}

#[test]
fn fixtures_themselves() {
    for text in FIXTURES {
        exercise(text);
    }
}
