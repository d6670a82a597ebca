//! Fuzz target `keyfile`: key files as operators write them.
//!
//! The input, read as UTF-8 (invalid sequences replaced), goes through both
//! dialects' parsers (`parse_ntp_keys`, `parse_chrony_keys`), both `Keyring`
//! constructors, and `parse_trusted_keys` (the whole text and each line).
//!
//! * Nothing panics.
//! * Every key and every error carries a line number within the text's line
//!   count; a key's line starts with its id.
//! * No error message (`Display` or `Debug`) repeats 8 or more characters of
//!   the fields of the line it is about. Error texts hold numbers and fixed
//!   words only, so a window of a field that the message contains is a leak
//!   unless the error vocabulary explains it: the fixed text of every error
//!   variant, with any run of digits standing for any number (see
//!   `Vocabulary`). A planted echo is checked to be caught at start-up.
//! * Every key parsed re-serialises to a line that parses back to an equal
//!   key: chrony `ID TYPE HEX:...` always, and where the secret allows,
//!   chrony `ASCII:` and bare forms and the `ntp.keys` text and hex forms.
//! * `Keyring::from_ntp_keys` / `from_chrony_keys` succeed exactly when the
//!   iterator yields no error and no id twice, fail with the first of those
//!   (a duplicate naming both lines), hold every key, and trust none (ntp) or
//!   all (chrony).
//! * A trusted-key list yields well-formed ranges, stops after its only
//!   error, whose column lies within the text; `Keyring::trust_list` trusts
//!   exactly the keys the ranges cover, and changes nothing on an error.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ntp_wire::auth::{
    Key, KeyError, KeyFileError, KeyFileErrorKind, KeyType, Keyring, MAX_SECRET_LEN, NTP_KEYS_MAX_ASCII_LEN,
    NTP_KEYS_MAX_HEX_BYTES, parse_chrony_keys, parse_ntp_keys, parse_trusted_keys,
};

/// Shortest run of a field's characters that counts as a leak.
const LEAK_WINDOW: usize = 8;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().collect();

    let ntp: Vec<_> = parse_ntp_keys(&text).collect();
    let chrony: Vec<_> = parse_chrony_keys(&text).collect();
    for (dialect, items) in [(Dialect::Ntp, &ntp), (Dialect::Chrony, &chrony)] {
        for item in items {
            match item {
                Ok((line, key)) => {
                    check_key_line(&lines, *line, key.id(), dialect);
                    check_round_trip(key);
                }
                Err(error) => check_error(&lines, error),
            }
        }
    }

    let ntp_ring = Keyring::from_ntp_keys(&text);
    check_keyring(&ntp_ring, &ntp, false);
    if let Err(error) = &ntp_ring {
        check_error(&lines, error);
    }
    let chrony_ring = Keyring::from_chrony_keys(&text);
    check_keyring(&chrony_ring, &chrony, true);
    if let Err(error) = &chrony_ring {
        check_error(&lines, error);
    }

    check_trusted_list(&text, ntp_ring.ok());
    for line in &lines {
        check_trusted_list(line, None);
    }
});

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Ntp,
    Chrony,
}

/// A key came from line `line`, whose first field must be its id.
fn check_key_line(lines: &[&str], line: usize, id: u32, dialect: Dialect) {
    assert!((1..=lines.len()).contains(&line), "key on line {line} of {}", lines.len());
    let content = lines[line - 1];
    let content = match dialect {
        Dialect::Ntp => content.split('#').next().unwrap_or(""),
        // chrony trims any leading white space, not only ASCII's.
        Dialect::Chrony => content.trim_start(),
    };
    let first = content.split_ascii_whitespace().next();
    assert_eq!(first.and_then(|f| f.parse::<u32>().ok()), Some(id), "{dialect:?} key {id} from line {line}");
}

/// An error names a line of the text and repeats no part of its fields.
fn check_error(lines: &[&str], error: &KeyFileError) {
    assert!((1..=lines.len()).contains(&error.line), "error on line {} of {}: {error}", error.line, lines.len());
    let mut about = vec![lines[error.line - 1]];
    if let KeyFileErrorKind::DuplicateKeyId { first_line, .. } = error.kind {
        assert!((1..error.line).contains(&first_line), "{error}");
        about.push(lines[first_line - 1]);
    }
    for message in [error.to_string(), format!("{error:?}"), format!("{:#?}", error.kind)] {
        for line in &about {
            if let Some(leaked) = vocabulary().leak(&message, line) {
                panic!("error message {message:?} repeats {leaked:?} from its line");
            }
        }
    }
}

/// The key written back in every form that can hold it parses to itself.
fn check_round_trip(key: &Key) {
    let (id, name, secret) = (key.id(), key.key_type().name(), key.expose_secret());
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let printable = secret.iter().all(|b| (0x21..=0x7e).contains(b));
    let text = std::str::from_utf8(secret).unwrap_or("");

    let mut chrony_lines = vec![format!("{id} {name} HEX:{hex}"), format!("{id}\t{name}\tHEX:{}", hex.to_uppercase())];
    if printable {
        chrony_lines.push(format!("{id} {name} ASCII:{text}"));
        if !text.starts_with("HEX:") && !text.starts_with("ASCII:") {
            chrony_lines.push(format!("{id} {name} {text}"));
            if key.key_type() == KeyType::Md5 {
                chrony_lines.push(format!("{id} {text}"));
            }
        }
    }
    for line in &chrony_lines {
        let back: Vec<_> = parse_chrony_keys(line).collect();
        assert!(matches!(&back[..], [Ok((1, k))] if k == key), "chrony line {id} {name} did not round-trip: {back:?}");
    }

    let mut ntp_lines = Vec::new();
    if secret.len() * 2 > NTP_KEYS_MAX_ASCII_LEN && secret.len() <= NTP_KEYS_MAX_HEX_BYTES {
        ntp_lines.push(format!("{id} {name} {hex} # hex"));
    }
    if printable && !text.contains('#') && secret.len() <= NTP_KEYS_MAX_ASCII_LEN {
        ntp_lines.push(format!("{id} {name} {text}"));
    }
    for line in &ntp_lines {
        let back: Vec<_> = parse_ntp_keys(line).collect();
        assert!(matches!(&back[..], [Ok((1, k))] if k == key), "ntp line {id} {name} did not round-trip: {back:?}");
    }
}

type Items = Vec<Result<(usize, Key), KeyFileError>>;

/// The keyring constructor agrees with the iterator it collects.
fn check_keyring(ring: &Result<Keyring, KeyFileError>, items: &Items, trusted: bool) {
    // The first error or the first id seen twice, whichever comes first.
    let mut seen: Vec<(u32, usize)> = Vec::new();
    let mut expected = Ok(());
    for item in items {
        match item {
            Err(error) => {
                expected = Err(*error);
                break;
            }
            Ok((line, key)) => {
                if let Some(&(key_id, first_line)) = seen.iter().find(|(id, _)| *id == key.id()) {
                    let kind = KeyFileErrorKind::DuplicateKeyId { key_id, first_line };
                    expected = Err(KeyFileError { line: *line, kind });
                    break;
                }
                seen.push((key.id(), *line));
            }
        }
    }
    match (ring, expected) {
        (Ok(ring), Ok(())) => {
            assert_eq!(ring.len(), items.len());
            for (_, key) in items.iter().flatten() {
                assert_eq!(ring.get(key.id()), Some(key));
                assert_eq!(ring.is_trusted(key.id()), trusted);
            }
            let ids: Vec<u32> = ring.iter().map(|(key, _)| key.id()).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "keyring not sorted by id");
        }
        (Err(got), Err(want)) => assert_eq!(*got, want),
        (got, want) => panic!("keyring {got:?}, but the iterator says {want:?}"),
    }
}

fn check_trusted_list(list: &str, ring: Option<Keyring>) {
    let items: Vec<_> = parse_trusted_keys(list).collect();
    let (ranges, errors): (Vec<_>, Vec<_>) = items.iter().partition(|item| item.is_ok());
    assert!(errors.len() <= 1 && (errors.is_empty() || items.last().is_some_and(|i| i.is_err())));
    let ranges: Vec<_> = ranges.into_iter().flatten().cloned().collect();
    for range in &ranges {
        assert!(*range.start() >= 1 && range.start() <= range.end(), "{range:?}");
    }
    if let Some(Err(error)) = errors.first() {
        assert!((1..=list.len() + 1).contains(&error.column), "column {} of {}: {error}", error.column, list.len());
        assert!(parse_trusted_keys(list).contains(1).is_err());
        let _ = format!("{error} {error:?}");
    }
    let Some(mut ring) = ring else { return };
    let before = ring.clone();
    match ring.trust_list(list) {
        Ok(count) => {
            assert!(errors.is_empty());
            let covered = |id: u32| ranges.iter().filter(|r| r.contains(&id)).count();
            assert_eq!(count, before.iter().map(|(key, _)| covered(key.id())).sum::<usize>());
            for (key, trusted) in ring.iter() {
                assert_eq!(trusted, before.is_trusted(key.id()) || covered(key.id()) > 0);
            }
        }
        Err(error) => {
            assert_eq!(Some(&Err(error)), errors.first().copied());
            assert_eq!(ring, before, "a refused list changed the keyring");
        }
    }
}

// ----- the leak detector -----

/// One character of a message, or a run of ASCII digits (any number).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Number,
    Char(char),
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            if out.last() != Some(&Token::Number) {
                out.push(Token::Number);
            }
        } else {
            out.push(Token::Char(c));
        }
    }
    out
}

/// The fixed text of every key-file error, as `Display` and `Debug` write it.
struct Vocabulary {
    texts: Vec<Vec<Token>>,
}

fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
    VOCABULARY.get_or_init(|| {
        // The layouts the parsers quote are private: get them from the parsers.
        let layout = |item: Option<Result<(usize, Key), KeyFileError>>| match item {
            Some(Err(KeyFileError { kind: KeyFileErrorKind::TooFewFields { expected, .. }, .. })) => expected,
            other => panic!("expected TooFewFields, got {other:?}"),
        };
        let layouts = [layout(parse_ntp_keys("1").next()), layout(parse_chrony_keys("1").next())];
        let mut kinds = vec![
            KeyFileErrorKind::AddressListUnsupported,
            KeyFileErrorKind::BadKeyId,
            KeyFileErrorKind::UnknownKeyType,
            KeyFileErrorKind::BadHex { position: 1 },
            KeyFileErrorKind::OddHexLength { digits: 1 },
            KeyFileErrorKind::NotPrintable { position: 1 },
            KeyFileErrorKind::EmptyKey,
            KeyFileErrorKind::HexTooLong { len: 1, max: 1 },
            KeyFileErrorKind::DuplicateKeyId { key_id: 1, first_line: 1 },
            KeyFileErrorKind::Key(KeyError::ZeroKeyId),
            KeyFileErrorKind::Key(KeyError::EmptySecret),
            KeyFileErrorKind::Key(KeyError::SecretTooLong { len: 1, max: MAX_SECRET_LEN }),
        ];
        for expected in layouts {
            kinds.push(KeyFileErrorKind::TooFewFields { found: 1, expected });
            kinds.push(KeyFileErrorKind::TooManyFields { found: 1, expected });
        }
        for key_type in KeyType::ALL {
            kinds.push(KeyFileErrorKind::Key(KeyError::WrongSecretLength { key_type, len: 1, expected: 1 }));
        }
        let mut texts = Vec::new();
        for kind in kinds {
            let error = KeyFileError { line: 1, kind };
            for text in [error.to_string(), format!("{error:?}"), format!("{error:#?}"), format!("{kind:#?}")] {
                texts.push(tokens(&text));
            }
        }
        let vocabulary = Vocabulary { texts };
        // The detector must catch an echo, and must not flag the fixed text.
        assert!(vocabulary.leak("line 3: bad key S3cr3tW0rd", "1 MD5 S3cr3tW0rd").is_some());
        assert!(vocabulary.leak("line 3: the key is HEX:0123abcdef", "1 MD5 HEX:0123abcdef").is_some());
        assert!(
            vocabulary
                .leak("line 9: the key id is not a decimal number in 1..=4294967295", "x1..=4294967295")
                .is_none()
        );
        assert!(vocabulary.leak("line 4294967295: 1 field(s)", "4294967295").is_none());
        vocabulary
    })
}

impl Vocabulary {
    /// A window of `LEAK_WINDOW` characters of one of `line`'s fields that
    /// `message` contains and the fixed text of the errors does not explain.
    fn leak(&self, message: &str, line: &str) -> Option<String> {
        for field in line.split_ascii_whitespace() {
            let chars: Vec<char> = field.chars().collect();
            for window in chars.windows(LEAK_WINDOW) {
                let window: String = window.iter().collect();
                if message.contains(&window) && !self.explains(&window) {
                    return Some(window);
                }
            }
        }
        None
    }

    fn explains(&self, window: &str) -> bool {
        let needle = tokens(window);
        self.texts.iter().any(|text| text.windows(needle.len()).any(|w| w == needle))
    }
}
