//! ntpd and NTPsec key files (`ntp.keys(5)`).
//!
//! ```text
//! # keyid  type     key
//! 1        MD5      tulip
//! 2        SHA1     933f62be1d604e68a81b557f18cfa200483f5b70
//! 3        aes-128  7ea62ae64d190114d46d5a082f948ec1
//! ```
//!
//! * `#` starts a comment anywhere on a line; blank lines are skipped.
//! * Exactly three whitespace-separated fields: key id, type, key.
//! * A key of up to [`NTP_KEYS_MAX_ASCII_LEN`] (20) characters is taken as
//!   printable ASCII text; a longer one is hex, at most
//!   [`NTP_KEYS_MAX_HEX_BYTES`] (32) bytes. That is NTPsec's rule (and
//!   classic ntpd 4.2.8's); the type does not change it, so a 20-byte SHA1
//!   key is written as 40 hex digits.
//! * Key ids: NTPsec reads 1..=65535 and classic ntpd 1..=65534; this parser
//!   takes the whole 1..=2^32-1 range the wire allows.
//! * Keys from an `ntp.keys` file are not trusted until a `trustedkey` list
//!   says so ([`parse_trusted_keys`](super::parse_trusted_keys)).

use core::iter::Enumerate;
use core::str::Lines;

use super::{KeyFileError, KeyFileErrorKind, key_from_hex, parse_key_id, parse_key_type};
use crate::auth::key::Key;

/// Keys up to this many characters are ASCII text; longer ones are hex.
pub const NTP_KEYS_MAX_ASCII_LEN: usize = 20;

/// The longest hex key ntpd and NTPsec read, in bytes (64 hex digits).
pub const NTP_KEYS_MAX_HEX_BYTES: usize = 32;

const LAYOUT: &str = "`keyid type key`";

/// Reads an `ntp.keys` file: an iterator over `(line number, key)` for every
/// key line, or the first problem on each bad line.
///
/// ```
/// use ntp_wire::auth::{KeyType, parse_ntp_keys};
/// let text = "# shared with the lab\n1 M tulip\n2 sha1 933f62be1d604e68a81b557f18cfa200483f5b70\n";
/// let keys: Vec<_> = parse_ntp_keys(text).collect::<Result<_, _>>()?;
/// assert_eq!(keys[0].0, 2); // line number
/// assert_eq!((keys[0].1.id(), keys[0].1.key_type()), (1, KeyType::Md5));
/// assert_eq!(keys[1].1.expose_secret().len(), 20);
/// # Ok::<(), ntp_wire::auth::KeyFileError>(())
/// ```
pub fn parse_ntp_keys(text: &str) -> NtpKeys<'_> {
    NtpKeys { lines: text.lines().enumerate() }
}

/// Iterator returned by [`parse_ntp_keys`].
#[derive(Clone, Debug)]
pub struct NtpKeys<'a> {
    lines: Enumerate<Lines<'a>>,
}

impl Iterator for NtpKeys<'_> {
    type Item = Result<(usize, Key), KeyFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        super::next_key(&mut self.lines, parse_line)
    }
}

/// One line: `Ok(None)` for a blank or comment line.
fn parse_line(line: &str) -> Result<Option<Key>, KeyFileErrorKind> {
    let content = line.split('#').next().unwrap_or("");
    let mut fields = content.split_ascii_whitespace();
    let Some(id) = fields.next() else { return Ok(None) };
    let (Some(key_type), Some(secret)) = (fields.next(), fields.next()) else {
        let found = content.split_ascii_whitespace().count();
        return Err(KeyFileErrorKind::TooFewFields { found, expected: LAYOUT });
    };
    if fields.next().is_some() {
        return Err(KeyFileErrorKind::AddressListUnsupported);
    }
    let id = parse_key_id(id)?;
    let key_type = parse_key_type(key_type)?;
    if secret.len() <= NTP_KEYS_MAX_ASCII_LEN {
        if let Some(position) = secret.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(KeyFileErrorKind::NotPrintable { position: position + 1 });
        }
        return Ok(Some(Key::new(id, key_type, secret.as_bytes())?));
    }
    let bytes = secret.len() / 2;
    if bytes > NTP_KEYS_MAX_HEX_BYTES {
        return Err(KeyFileErrorKind::HexTooLong { len: bytes, max: NTP_KEYS_MAX_HEX_BYTES });
    }
    key_from_hex(id, key_type, secret, NTP_KEYS_MAX_HEX_BYTES).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{KeyError, KeyType};

    fn parse_all(text: &str) -> Vec<Result<(usize, Key), KeyFileError>> {
        parse_ntp_keys(text).collect()
    }

    #[test]
    fn test_parse_file() {
        let text = "\
# ntp.keys, as NTPsec's keygen writes it
1 MD5 tulip            # a comment after the key
2 SHA1 933F62BE1D604E68A81B557F18CFA200483F5B70

3\taes-128\t7ea62ae64d190114d46d5a082f948ec1\r
4 M abcdefghijklmnopqrst
   5 SHA256 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
";
        let keys: Vec<_> = parse_all(text).into_iter().map(Result::unwrap).collect();
        let summary: Vec<_> =
            keys.iter().map(|(line, k)| (*line, k.id(), k.key_type(), k.expose_secret().len())).collect();
        assert_eq!(
            summary,
            [
                (2, 1, KeyType::Md5, 5),
                (3, 2, KeyType::Sha1, 20),
                (5, 3, KeyType::Aes128Cmac, 16),
                (6, 4, KeyType::Md5, 20),
                (7, 5, KeyType::Sha256, 32),
            ]
        );
        assert_eq!(keys[0].1.expose_secret(), b"tulip");
        assert_eq!(keys[1].1.expose_secret()[..2], [0x93, 0x3f]);
        assert_eq!(keys[3].1.expose_secret(), b"abcdefghijklmnopqrst");
    }

    #[test]
    fn test_twenty_characters_is_text_twenty_one_is_hex() {
        let text = "1 md5 0123456789abcdef0123\n2 md5 0123456789abcdef01234\n";
        let results = parse_all(text);
        assert_eq!(results[0].as_ref().unwrap().1.expose_secret(), b"0123456789abcdef0123");
        assert_eq!(results[1].as_ref().unwrap_err().kind, KeyFileErrorKind::OddHexLength { digits: 21 });
    }

    #[test]
    fn test_errors_carry_line_and_reason() {
        let cases: &[(&str, KeyFileErrorKind)] = &[
            ("1 MD5", KeyFileErrorKind::TooFewFields { found: 2, expected: LAYOUT }),
            ("hunter2", KeyFileErrorKind::TooFewFields { found: 1, expected: LAYOUT }),
            ("1 MD5 key 10.0.0.1", KeyFileErrorKind::AddressListUnsupported),
            ("x MD5 key", KeyFileErrorKind::BadKeyId),
            ("0 MD5 key", KeyFileErrorKind::Key(KeyError::ZeroKeyId)),
            ("1 RC4 key", KeyFileErrorKind::UnknownKeyType),
            ("1 MD5 caf\u{e9}", KeyFileErrorKind::NotPrintable { position: 4 }),
            ("1 SHA1 933F62BE1D604E68A81B557F18CFA200483F5B7Z", KeyFileErrorKind::BadHex { position: 40 }),
            (
                "1 AES128 0123456789abcdef0123",
                KeyFileErrorKind::Key(KeyError::WrongSecretLength {
                    key_type: KeyType::Aes128Cmac,
                    len: 20,
                    expected: 16,
                }),
            ),
            (
                "1 SHA1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
                KeyFileErrorKind::HexTooLong { len: 33, max: 32 },
            ),
        ];
        for (line, kind) in cases {
            let text = format!("# header\n{line}\n");
            assert_eq!(parse_all(&text), [Err(KeyFileError { line: 2, kind: *kind })], "{line}");
        }
    }

    #[test]
    fn test_errors_never_echo_the_line() {
        for line in ["S3cr3tW0rd", "1 S3cr3tW0rd", "1 MD5 S3cr3tW0rd extra", "1 SHA1 S3cr3tW0rdS3cr3tW0rdS3cr3tW0rdS3"]
        {
            let error = parse_all(line).remove(0).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("S3cr3t"), "{shown}");
        }
    }

    #[test]
    fn test_keeps_going_after_a_bad_line() {
        let results = parse_all("1 MD5 ok\n2 nope key\n3 MD5 fine\n");
        assert!(results[0].is_ok());
        assert_eq!(results[1].as_ref().unwrap_err().line, 2);
        assert_eq!(results[2].as_ref().unwrap().1.id(), 3);
    }
}
