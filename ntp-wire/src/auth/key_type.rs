//! The MAC algorithms a symmetric key can use, and the names operators give
//! them in key files.

use core::fmt;
use core::str::FromStr;

/// Length of a key id on the wire (RFC 5905 §7.3: the first word of the MAC).
pub const KEY_ID_LEN: usize = 4;

/// The longest digest this crate puts on the wire (SHA1 and truncated SHA-2), in bytes.
pub const MAX_DIGEST_LEN: usize = 20;

/// How a key turns a packet into a digest.
///
/// The hash types compute `H(key || packet)`, the legacy construction of
/// RFC 5905 §7.3 and Appendix A (not HMAC). SHA-2 digests are cut to their
/// first 20 bytes, as chrony and NTPsec do on NTPv4: RFC 7822 §7.5 reserves
/// longer trailers for extension fields, so a 36-byte SHA-256 MAC could not
/// be told apart from one. The CMAC types compute AES-CMAC (RFC 4493) over
/// the packet with the key, as RFC 8573 specifies, and keep the full 16-byte
/// tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// MD5 (RFC 1321): 16-byte digest. Broken as a hash; RFC 8573 §4 deprecates it for NTP.
    Md5,
    /// SHA-1 (FIPS 180-4): 20-byte digest.
    Sha1,
    /// SHA-256 (FIPS 180-4), truncated to 20 bytes.
    Sha256,
    /// SHA-384 (FIPS 180-4), truncated to 20 bytes.
    Sha384,
    /// SHA-512 (FIPS 180-4), truncated to 20 bytes.
    Sha512,
    /// AES-128-CMAC (RFC 4493, RFC 8573): 16-byte key, 16-byte tag.
    Aes128Cmac,
    /// AES-256-CMAC (NIST SP 800-38B, RFC 8573): 32-byte key, 16-byte tag.
    Aes256Cmac,
}

/// Accepted spellings, compared without regard to ASCII case. They cover
/// chrony (`MD5`, `SHA1`, `SHA256`, `AES128`, ...), NTPsec (OpenSSL names
/// such as `sha-256` and `aes-128`; bare `AES` means AES-128 there) and
/// classic ntpd (`M` for MD5, `AES128CMAC`).
const NAMES: &[(&str, KeyType)] = &[
    ("MD5", KeyType::Md5),
    ("M", KeyType::Md5),
    ("SHA1", KeyType::Sha1),
    ("SHA-1", KeyType::Sha1),
    ("SHA256", KeyType::Sha256),
    ("SHA-256", KeyType::Sha256),
    ("SHA2-256", KeyType::Sha256),
    ("SHA384", KeyType::Sha384),
    ("SHA-384", KeyType::Sha384),
    ("SHA2-384", KeyType::Sha384),
    ("SHA512", KeyType::Sha512),
    ("SHA-512", KeyType::Sha512),
    ("SHA2-512", KeyType::Sha512),
    ("AES128", KeyType::Aes128Cmac),
    ("AES-128", KeyType::Aes128Cmac),
    ("AES128CMAC", KeyType::Aes128Cmac),
    ("AES128-CMAC", KeyType::Aes128Cmac),
    ("AES-128-CMAC", KeyType::Aes128Cmac),
    ("AES", KeyType::Aes128Cmac),
    ("AES256", KeyType::Aes256Cmac),
    ("AES-256", KeyType::Aes256Cmac),
    ("AES256CMAC", KeyType::Aes256Cmac),
    ("AES256-CMAC", KeyType::Aes256Cmac),
    ("AES-256-CMAC", KeyType::Aes256Cmac),
];

impl KeyType {
    /// Every type, in a stable order (weakest hash first, then the ciphers).
    pub const ALL: [KeyType; 7] = [
        KeyType::Md5,
        KeyType::Sha1,
        KeyType::Sha256,
        KeyType::Sha384,
        KeyType::Sha512,
        KeyType::Aes128Cmac,
        KeyType::Aes256Cmac,
    ];

    /// Parses a type name as ntpd, NTPsec or chrony spell it (see the list
    /// on [`KeyType`]'s `FromStr`), ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<KeyType> {
        NAMES.iter().find(|(spelling, _)| spelling.eq_ignore_ascii_case(name)).map(|&(_, key_type)| key_type)
    }

    /// The name chrony writes in `chrony.keys` (`MD5`, `SHA1`, `SHA256`,
    /// `SHA384`, `SHA512`, `AES128`, `AES256`).
    pub const fn name(self) -> &'static str {
        match self {
            KeyType::Md5 => "MD5",
            KeyType::Sha1 => "SHA1",
            KeyType::Sha256 => "SHA256",
            KeyType::Sha384 => "SHA384",
            KeyType::Sha512 => "SHA512",
            KeyType::Aes128Cmac => "AES128",
            KeyType::Aes256Cmac => "AES256",
        }
    }

    /// Bytes of digest this type puts on the wire after the key id: 16 for
    /// MD5 and the CMACs, 20 for SHA-1 and the truncated SHA-2 family.
    pub const fn digest_len(self) -> usize {
        match self {
            KeyType::Md5 | KeyType::Aes128Cmac | KeyType::Aes256Cmac => 16,
            KeyType::Sha1 | KeyType::Sha256 | KeyType::Sha384 | KeyType::Sha512 => MAX_DIGEST_LEN,
        }
    }

    /// Bytes of the whole MAC trailer: the 4-byte key id plus the digest (20 or 24).
    pub const fn mac_len(self) -> usize {
        KEY_ID_LEN + self.digest_len()
    }

    /// Whether this is a cipher-based MAC (RFC 8573) rather than a hash of key and packet.
    pub const fn is_cmac(self) -> bool {
        matches!(self, KeyType::Aes128Cmac | KeyType::Aes256Cmac)
    }

    /// The exact secret length a cipher demands (16 or 32 bytes), or `None`
    /// for the hash types, which take any length.
    pub const fn required_secret_len(self) -> Option<usize> {
        match self {
            KeyType::Aes128Cmac => Some(16),
            KeyType::Aes256Cmac => Some(32),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key type name no daemon we follow knows.
///
/// It does not repeat the name: in a key file with a missing column, the
/// "type" may well be the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown key type; expected MD5, SHA1, SHA256, SHA384, SHA512, AES128 or AES256 (any case, NTPsec and ntpd spellings too)"
)]
pub struct UnknownKeyType;

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    /// See [`KeyType::from_name`].
    fn from_str(name: &str) -> Result<KeyType, UnknownKeyType> {
        KeyType::from_name(name).ok_or(UnknownKeyType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_daemon_spellings() {
        for (name, expected) in [
            ("MD5", KeyType::Md5),
            ("md5", KeyType::Md5),
            ("M", KeyType::Md5),
            ("SHA1", KeyType::Sha1),
            ("sha-1", KeyType::Sha1),
            ("SHA256", KeyType::Sha256),
            ("sha2-256", KeyType::Sha256),
            ("Sha384", KeyType::Sha384),
            ("SHA-512", KeyType::Sha512),
            ("AES128", KeyType::Aes128Cmac),
            ("aes-128", KeyType::Aes128Cmac),
            ("AES128CMAC", KeyType::Aes128Cmac),
            ("AES-128-CMAC", KeyType::Aes128Cmac),
            ("aes", KeyType::Aes128Cmac),
            ("AES256", KeyType::Aes256Cmac),
            ("aes-256", KeyType::Aes256Cmac),
            ("aes256cmac", KeyType::Aes256Cmac),
            ("AES-256-CMAC", KeyType::Aes256Cmac),
        ] {
            assert_eq!(name.parse::<KeyType>(), Ok(expected), "{name}");
        }
    }

    #[test]
    fn test_reject_unknown_names() {
        // "SHA" was SHA-0 in old OpenSSL builds of ntpd: refuse rather than guess.
        for name in ["", "SHA", "SHA3-256", "AES192", "HMAC-SHA1", "MD5 ", "aes-128-cbc"] {
            assert_eq!(name.parse::<KeyType>(), Err(UnknownKeyType), "{name:?}");
        }
    }

    #[test]
    fn test_names_round_trip_and_lengths() {
        for key_type in KeyType::ALL {
            assert_eq!(key_type.name().parse::<KeyType>(), Ok(key_type));
            assert_eq!(key_type.mac_len(), 4 + key_type.digest_len());
            assert!(key_type.digest_len() <= MAX_DIGEST_LEN);
            assert_eq!(key_type.is_cmac(), key_type.required_secret_len().is_some());
        }
        assert_eq!(KeyType::Md5.mac_len(), 20);
        assert_eq!(KeyType::Sha256.mac_len(), 24);
        assert_eq!(KeyType::Aes256Cmac.mac_len(), 20);
    }
}
