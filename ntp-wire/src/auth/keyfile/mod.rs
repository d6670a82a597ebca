//! Key files as operators keep them: ntpd/NTPsec `ntp.keys`, chrony
//! `chrony.keys`, and `trustedkey`-style lists of key ids.
//!
//! The parsers work line by line on a `&str` and yield keys one at a time,
//! so they need no allocator; with the `alloc` feature,
//! `Keyring::from_ntp_keys` and `Keyring::from_chrony_keys` collect
//! a whole file.
//!
//! Errors name the line (1-based) and the reason, and never quote the line:
//! when a column is missing, any field might be the secret.
//!
//! Where the daemons quietly repair a bad key (NTPsec truncates a long hex
//! key and pads or cuts an AES key to size; chrony logs and skips the line),
//! these parsers refuse it instead: a key that silently differs from what
//! the operator wrote fails later, on the wire, where it is much harder to
//! diagnose.

mod chrony;
mod ntp;
mod trusted;

pub use chrony::{ChronyKeys, parse_chrony_keys};
pub use ntp::{NTP_KEYS_MAX_ASCII_LEN, NTP_KEYS_MAX_HEX_BYTES, NtpKeys, parse_ntp_keys};
pub use trusted::{TrustedKeyIds, TrustedKeysError, TrustedKeysErrorKind, parse_trusted_keys};

use super::error::KeyError;
use super::key::{Key, MAX_SECRET_LEN, check_hex};
use super::key_type::KeyType;

/// A key file line that could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct KeyFileError {
    /// The line number, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub kind: KeyFileErrorKind,
}

/// What is wrong with a key file line. No variant holds any text from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileErrorKind {
    /// Fewer whitespace-separated fields than the format needs.
    #[error("{found} field(s); expected {expected}")]
    TooFewFields {
        /// Fields on the line.
        found: usize,
        /// The format's layout, e.g. "`keyid type key`".
        expected: &'static str,
    },
    /// More fields than the format allows.
    #[error("{found} fields; expected {expected}")]
    TooManyFields {
        /// Fields on the line.
        found: usize,
        /// The format's layout.
        expected: &'static str,
    },
    /// Classic ntpd's optional fourth column (addresses allowed to use the
    /// key). Ignoring it would trust the key more widely than configured.
    #[error("a fourth column (ntpd's per-key address list) is not supported")]
    AddressListUnsupported,
    /// The key id is not a decimal number in range.
    #[error("the key id is not a decimal number in 1..=4294967295")]
    BadKeyId,
    /// The type is none of the names [`KeyType::from_name`] accepts.
    #[error("unknown key type; expected MD5, SHA1, SHA256, SHA384, SHA512, AES128 or AES256")]
    UnknownKeyType,
    /// A character that is not a hex digit where hex is expected.
    #[error("the key is not hexadecimal (character {position} of the key)")]
    BadHex {
        /// Position of the offending character in the key field, from 1.
        position: usize,
    },
    /// Hex with an odd number of digits cannot be whole bytes.
    #[error("the hex key has an odd number of digits ({digits})")]
    OddHexLength {
        /// Digits given.
        digits: usize,
    },
    /// An ASCII key with a byte outside printable ASCII (0x21..=0x7e).
    #[error("an ASCII key may hold only printable ASCII characters (character {position} is not)")]
    NotPrintable {
        /// Position of the offending character in the key field, from 1.
        position: usize,
    },
    /// Nothing after an `ASCII:` or `HEX:` prefix.
    #[error("the key is empty")]
    EmptyKey,
    /// A hex key longer than `ntp.keys` readers take.
    #[error("the hex key is {len} bytes; ntp.keys readers take at most {max} (NTPsec would truncate it)")]
    HexTooLong {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The key itself is not acceptable (reserved id, wrong AES key size, too long).
    #[error("{0}")]
    Key(#[from] KeyError),
    /// The same key id appears on two lines.
    #[error("key id {key_id} is already defined on line {first_line}")]
    DuplicateKeyId {
        /// The repeated id.
        key_id: u32,
        /// The line that defined it first.
        first_line: usize,
    },
}

/// Parses a key id: decimal digits only, 1..=2^32-1.
/// The next key of a key file, or the error of the next bad line, from a
/// dialect's line parser (which answers `Ok(None)` for blank and comment
/// lines). Line numbers start at 1.
fn next_key(
    lines: &mut core::iter::Enumerate<core::str::Lines<'_>>,
    parse_line: fn(&str) -> Result<Option<Key>, KeyFileErrorKind>,
) -> Option<Result<(usize, Key), KeyFileError>> {
    for (index, line) in lines.by_ref() {
        let number = index + 1;
        match parse_line(line) {
            Ok(Some(key)) => return Some(Ok((number, key))),
            Ok(None) => continue,
            Err(kind) => return Some(Err(KeyFileError { line: number, kind })),
        }
    }
    None
}

fn parse_key_id(field: &str) -> Result<u32, KeyFileErrorKind> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeyFileErrorKind::BadKeyId);
    }
    match field.parse::<u32>() {
        Ok(0) => Err(KeyFileErrorKind::Key(KeyError::ZeroKeyId)),
        Ok(id) => Ok(id),
        Err(_) => Err(KeyFileErrorKind::BadKeyId),
    }
}

fn parse_key_type(field: &str) -> Result<KeyType, KeyFileErrorKind> {
    KeyType::from_name(field).ok_or(KeyFileErrorKind::UnknownKeyType)
}

/// Decodes hex (either case) into a key, refusing more than `max_len`
/// bytes, with the key-file flavour of each error.
fn key_from_hex(id: u32, key_type: KeyType, hex: &str, max_len: usize) -> Result<Key, KeyFileErrorKind> {
    let as_file_error = |e| match e {
        KeyError::EmptySecret => KeyFileErrorKind::EmptyKey,
        KeyError::BadHex { position } => KeyFileErrorKind::BadHex { position },
        KeyError::OddHexLength { digits } => KeyFileErrorKind::OddHexLength { digits },
        other => KeyFileErrorKind::Key(other),
    };
    let len = check_hex(hex).map_err(as_file_error)?;
    let max_len = max_len.min(MAX_SECRET_LEN);
    if len > max_len {
        return Err(KeyFileErrorKind::Key(KeyError::SecretTooLong { len, max: max_len }));
    }
    Key::from_hex(id, key_type, hex).map_err(as_file_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_key_ids() {
        assert_eq!(parse_key_id("1"), Ok(1));
        assert_eq!(parse_key_id("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_key_id("007"), Ok(7));
        assert_eq!(parse_key_id("0"), Err(KeyFileErrorKind::Key(KeyError::ZeroKeyId)));
        for bad in ["", "4294967296", "-1", "+1", "1a", "0x10", " 1"] {
            assert_eq!(parse_key_id(bad), Err(KeyFileErrorKind::BadKeyId), "{bad:?}");
        }
    }

    #[test]
    fn test_hex() {
        let key = key_from_hex(1, KeyType::Md5, "00ffA0", 32).unwrap();
        assert_eq!(key.expose_secret(), [0x00, 0xff, 0xa0]);
        assert_eq!(key_from_hex(1, KeyType::Md5, "", 32).unwrap_err(), KeyFileErrorKind::EmptyKey);
        assert_eq!(key_from_hex(1, KeyType::Md5, "abc", 32).unwrap_err(), KeyFileErrorKind::OddHexLength { digits: 3 });
        assert_eq!(key_from_hex(1, KeyType::Md5, "0g", 32).unwrap_err(), KeyFileErrorKind::BadHex { position: 2 });
        assert_eq!(key_from_hex(1, KeyType::Md5, "x0", 32).unwrap_err(), KeyFileErrorKind::BadHex { position: 1 });
        assert_eq!(
            key_from_hex(1, KeyType::Md5, "0011", 1).unwrap_err(),
            KeyFileErrorKind::Key(KeyError::SecretTooLong { len: 2, max: 1 })
        );
        // Multi-byte UTF-8 is not hex, and must not be split mid-character.
        assert_eq!(key_from_hex(1, KeyType::Md5, "é0", 32).unwrap_err(), KeyFileErrorKind::BadHex { position: 1 });
    }

    #[test]
    fn test_error_messages_name_line_and_reason() {
        let e = KeyFileError { line: 12, kind: KeyFileErrorKind::UnknownKeyType };
        assert_eq!(
            e.to_string(),
            "line 12: unknown key type; expected MD5, SHA1, SHA256, SHA384, SHA512, AES128 or AES256"
        );
    }
}
