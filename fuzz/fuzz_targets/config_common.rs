//! What the four `config_*` targets check, for any text in one dialect.
//!
//! * Nothing panics: detection, parsing, rendering, name resolution, the
//!   engine's values, the keyring.
//! * Parsing is deterministic, and an error names a line within the text
//!   (from 1) whose directive is the error's.
//! * No secret leaks: an error on a key definition is of a kind that holds
//!   no text of the line (ids, counts, fixed reasons); a successful parse's `render` and
//!   `Debug` contain no inline key's secret that rendering without the keys
//!   would not also contain (a secret may equal a host name), and the notes
//!   name one command word only for commands that are not NTP's.
//! * After every name is resolved, `associations()` succeeds or names a
//!   line within the text, yields one association per source plus one per
//!   broadcasting interface, each with its source's mode and key, and
//!   `engine_config()` succeeds.

use ntp_config::{Dialect, ErrorKind, NodeConfig, parse, render};

pub fn check(data: &[u8], dialect: Dialect) {
    let text = String::from_utf8_lossy(data);
    let _ = Dialect::detect(&text);
    let lines: Vec<&str> = text.lines().collect();
    let first = parse(&text, Some(dialect));
    let second = parse(&text, Some(dialect));
    match (&first, &second) {
        (Err(a), Err(b)) => assert_eq!(a, b),
        (Ok(a), Ok(b)) => assert_eq!(render(a), render(b)),
        _ => panic!("parsing is not deterministic"),
    }
    match first {
        Err(error) => check_error(&error, &lines),
        Ok(config) => check_config(config, lines.len()),
    }
}

fn check_error(error: &ntp_config::ParseError, lines: &[&str]) {
    assert!(error.line >= 1 && error.line <= lines.len().max(1), "line {} of {}", error.line, lines.len());
    let _ = format!("{error} {error:?}");
    // The error names the directive of its own line.
    let line = lines.get(error.line - 1).copied().unwrap_or("").to_ascii_lowercase();
    for word in error.directive.split_whitespace() {
        assert!(
            line.contains(&word.to_ascii_lowercase()),
            "directive {:?} is not on line {}",
            error.directive,
            error.line
        );
    }
    // A key definition fails only with kinds that hold no text of the line
    // (ids, counts and fixed reasons), so its secret cannot be quoted.
    if matches!(error.directive.as_str(), "ntp authentication-key" | "ntp-service authentication-keyid") {
        assert!(
            matches!(
                error.kind,
                ErrorKind::BadKeyLine { .. } | ErrorKind::BadKey { .. } | ErrorKind::DuplicateKey { .. }
            ),
            "a key line failed with {:?}",
            error.kind
        );
    }
}

fn check_config(mut config: NodeConfig, line_count: usize) {
    let shown = render(&config);
    let debug = format!("{config:?}");
    let mut without_keys = config.clone();
    without_keys.inline_keys.clear();
    let shown_without = format!("{}{:?}", render(&without_keys), without_keys);
    for key in &config.inline_keys {
        let secret = String::from_utf8_lossy(key.key.expose_secret()).into_owned();
        if secret.len() >= 4 && !shown_without.contains(&secret) {
            assert!(!shown.contains(&secret), "secret of key {} in the rendering", key.key.id());
            assert!(!debug.contains(&secret), "secret of key {} in Debug", key.key.id());
        }
        assert!(key.line >= 1 && key.line <= line_count);
    }
    for note in &config.notes {
        assert!(note.line >= 1 && note.line <= line_count, "note line {}", note.line);
    }
    for source in &config.sources {
        assert!(source.line >= 1 && source.line <= line_count);
    }
    let _ = config.associations();
    let _ = config.engine_config();
    let _ = ntp_config::load_keyring(&config, |_| Ok::<_, std::io::Error>("1 MD5 tulip\n".to_owned()));

    config.resolve_names(|_| Some("192.0.2.1".parse().unwrap())).unwrap();
    match config.associations() {
        Ok(associations) => {
            let broadcasting = config.interfaces.iter().filter(|i| i.broadcast.is_some()).count();
            assert_eq!(associations.len(), config.sources.len() + broadcasting);
            for (association, source) in associations.iter().zip(&config.sources) {
                assert_eq!(association.mode, source.mode);
                assert_eq!(association.key_id, source.key_id);
                assert_eq!(association.address.port(), source.port);
            }
        }
        Err(error) => {
            let shown = error.to_string();
            let line: usize = shown
                .strip_prefix("line ")
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(line >= 1 && line <= line_count, "{shown}");
        }
    }
    let engine = config.engine_config().unwrap();
    assert_eq!(engine.require_authentication, config.require_authentication);
    assert_eq!(engine.local_reference_stratum, config.local_reference.map(|l| l.stratum));
}
