//! chrony key files (`keyfile` directive, `chrony.conf(5)`).
//!
//! ```text
//! # id  [type]  key
//! 10    tulip
//! 20    MD5     ASCII:crocus
//! 25    SHA1    HEX:933F62BE1D604E68A81B557F18CFA200483F5B70
//! 30    AES128  HEX:7EA62AE64D190114D46D5A082F948EC1
//! ```
//!
//! * A line whose first non-blank character is `#`, `%`, `!` or `;` is a
//!   comment, as in the rest of chrony's configuration; a `#` later on the
//!   line is part of the key. Blank lines are skipped.
//! * Two or three whitespace-separated fields: id, optional type (MD5 when
//!   absent), key.
//! * The key is `HEX:` and an even number of hex digits, `ASCII:` and text,
//!   or bare text. The prefixes are case-sensitive, as in chrony.
//! * Any id in 1..=2^32-1; secrets up to [`MAX_SECRET_LEN`](crate::auth::MAX_SECRET_LEN)
//!   bytes (chronyc keygen makes at most 4096 bits); AES keys exactly 16 or 32 bytes.
//! * chronyd uses every key in its file, so
//!   `Keyring::from_chrony_keys` trusts them all.

use core::iter::Enumerate;
use core::str::Lines;

use super::{KeyFileError, KeyFileErrorKind, key_from_hex, parse_key_id, parse_key_type};
use crate::auth::key::{Key, MAX_SECRET_LEN};
use crate::auth::key_type::KeyType;

const LAYOUT: &str = "`id [type] key`";

/// Reads a `chrony.keys` file: an iterator over `(line number, key)` for
/// every key line, or the first problem on each bad line.
///
/// ```
/// use ntp_wire::auth::{KeyType, parse_chrony_keys};
/// let text = "10 tulip\n30 AES128 HEX:7EA62AE64D190114D46D5A082F948EC1\n";
/// let keys: Vec<_> = parse_chrony_keys(text).collect::<Result<_, _>>()?;
/// assert_eq!((keys[0].1.id(), keys[0].1.key_type()), (10, KeyType::Md5));
/// assert_eq!(keys[1].1.key_type(), KeyType::Aes128Cmac);
/// # Ok::<(), ntp_wire::auth::KeyFileError>(())
/// ```
pub fn parse_chrony_keys(text: &str) -> ChronyKeys<'_> {
    ChronyKeys { lines: text.lines().enumerate() }
}

/// Iterator returned by [`parse_chrony_keys`].
#[derive(Clone, Debug)]
pub struct ChronyKeys<'a> {
    lines: Enumerate<Lines<'a>>,
}

impl Iterator for ChronyKeys<'_> {
    type Item = Result<(usize, Key), KeyFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        super::next_key(&mut self.lines, parse_line)
    }
}

/// One line: `Ok(None)` for a blank or comment line.
fn parse_line(line: &str) -> Result<Option<Key>, KeyFileErrorKind> {
    let content = line.trim_start();
    if content.is_empty() || content.starts_with(['#', '%', '!', ';']) {
        return Ok(None);
    }
    let mut fields = content.split_ascii_whitespace();
    let (id, first, second, extra) = (fields.next(), fields.next(), fields.next(), fields.next());
    let found = content.split_ascii_whitespace().count();
    let (id, key_type, secret) = match (id, first, second, extra) {
        (Some(id), Some(key_type), Some(secret), None) => (id, parse_key_type(key_type), secret),
        (Some(id), Some(secret), None, None) => (id, Ok(KeyType::Md5), secret),
        (_, _, _, Some(_)) => return Err(KeyFileErrorKind::TooManyFields { found, expected: LAYOUT }),
        _ => return Err(KeyFileErrorKind::TooFewFields { found, expected: LAYOUT }),
    };
    let id = parse_key_id(id)?;
    let key_type = key_type?;
    if let Some(hex) = secret.strip_prefix("HEX:") {
        return key_from_hex(id, key_type, hex, MAX_SECRET_LEN).map(Some);
    }
    let text = secret.strip_prefix("ASCII:").unwrap_or(secret);
    if text.is_empty() {
        return Err(KeyFileErrorKind::EmptyKey);
    }
    Ok(Some(Key::new(id, key_type, text.as_bytes())?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyError;

    fn parse_all(text: &str) -> Vec<Result<(usize, Key), KeyFileError>> {
        parse_chrony_keys(text).collect()
    }

    #[test]
    fn test_parse_manual_example() {
        // The example from chrony.conf(5), plus comments of every kind.
        let text = "\
# comment
% comment
! comment
; comment
10 tulip
11 hyacinth
20 MD5 ASCII:crocus
25 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70
30 AES128 HEX:7EA62AE64D190114D46D5A082F948EC1
31 AES256 HEX:37DDCBC67BB902BCB8E995977FAB4D2B5642F5B32EBCEEE421921D97E5CBFE39
  40   SHA512   pass#word\r
";
        let keys: Vec<_> = parse_all(text).into_iter().map(Result::unwrap).collect();
        let summary: Vec<_> =
            keys.iter().map(|(line, k)| (*line, k.id(), k.key_type(), k.expose_secret().len())).collect();
        assert_eq!(
            summary,
            [
                (5, 10, KeyType::Md5, 5),
                (6, 11, KeyType::Md5, 8),
                (7, 20, KeyType::Md5, 6),
                (8, 25, KeyType::Sha1, 20),
                (9, 30, KeyType::Aes128Cmac, 16),
                (10, 31, KeyType::Aes256Cmac, 32),
                (11, 40, KeyType::Sha512, 9),
            ]
        );
        assert_eq!(keys[2].1.expose_secret(), b"crocus");
        assert_eq!(keys[4].1.expose_secret()[..3], [0x7e, 0xa6, 0x2a]);
        assert_eq!(keys[6].1.expose_secret(), b"pass#word");
    }

    #[test]
    fn test_prefixes_are_case_sensitive() {
        // chrony compares "HEX:" exactly; anything else is bare ASCII text.
        let keys = parse_all("1 hex:00ff\n2 HEX:00ff\n3 ASCII:\u{e9}t\u{e9}\n");
        assert_eq!(keys[0].as_ref().unwrap().1.expose_secret(), b"hex:00ff");
        assert_eq!(keys[1].as_ref().unwrap().1.expose_secret(), [0, 0xff]);
        assert_eq!(keys[2].as_ref().unwrap().1.expose_secret(), "\u{e9}t\u{e9}".as_bytes());
    }

    #[test]
    fn test_errors_carry_line_and_reason() {
        let cases: &[(&str, KeyFileErrorKind)] = &[
            ("5", KeyFileErrorKind::TooFewFields { found: 1, expected: LAYOUT }),
            ("5 MD5 key extra", KeyFileErrorKind::TooManyFields { found: 4, expected: LAYOUT }),
            ("five MD5 key", KeyFileErrorKind::BadKeyId),
            ("0 key", KeyFileErrorKind::Key(KeyError::ZeroKeyId)),
            ("5 TIGER key", KeyFileErrorKind::UnknownKeyType),
            ("5 MD5 HEX:", KeyFileErrorKind::EmptyKey),
            ("5 MD5 ASCII:", KeyFileErrorKind::EmptyKey),
            ("5 MD5 HEX:123", KeyFileErrorKind::OddHexLength { digits: 3 }),
            ("5 MD5 HEX:12zz", KeyFileErrorKind::BadHex { position: 3 }),
            (
                "5 AES256 HEX:7EA62AE64D190114D46D5A082F948EC1",
                KeyFileErrorKind::Key(KeyError::WrongSecretLength {
                    key_type: KeyType::Aes256Cmac,
                    len: 16,
                    expected: 32,
                }),
            ),
        ];
        for (line, kind) in cases {
            let text = format!("\n\n{line}");
            assert_eq!(parse_all(&text), [Err(KeyFileError { line: 3, kind: *kind })], "{line}");
        }
        let long = format!("5 SHA1 HEX:{}", "ab".repeat(MAX_SECRET_LEN + 1));
        assert_eq!(
            parse_all(&long)[0].as_ref().unwrap_err().kind,
            KeyFileErrorKind::Key(KeyError::SecretTooLong { len: MAX_SECRET_LEN + 1, max: MAX_SECRET_LEN })
        );
    }

    #[test]
    fn test_errors_never_echo_the_line() {
        for line in ["S3cr3tW0rd", "1 S3cr3tW0rd x y", "1 S3cr3tW0rd ASCII:S3cr3tW0rd", "1 MD5 HEX:S3cr3tW0rd"] {
            let error = parse_all(line).remove(0).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("S3cr3t"), "{shown}");
        }
    }
}
