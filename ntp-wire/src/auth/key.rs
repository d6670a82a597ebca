//! A symmetric key: id, type and secret, prepared once for fast MACs.
//!
//! # Preparation
//!
//! [`Key::new`] does the per-key work up front, so signing or verifying a
//! packet costs one hash or CMAC pass over the packet and nothing more:
//!
//! * hash types: the digest is `H(secret || packet)`, so the hash state after
//!   absorbing the secret is the same for every packet. The key keeps that
//!   state and clones it per packet (about 100 to 200 bytes copied) instead
//!   of hashing the secret again.
//! * CMAC types: the AES key schedule is expanded once and kept inside a
//!   ready CMAC instance, cloned per packet.
//!
//! # Secrecy
//!
//! The secret lives in a fixed buffer that is overwritten with zeros on
//! drop, and the prepared hash and cipher states (which contain the secret
//! or its schedule) are wiped by their own crates' `zeroize` support.
//! `Debug` prints `<redacted>`. As with any Rust value, moving a `Key`
//! copies its bytes and leaves the old copy behind unwiped: keep keys in
//! one place (a `Keyring` or a static slice) and lend them out.

use core::fmt;
use core::num::NonZeroU32;

use aes::{Aes128Enc, Aes256Enc};
use cmac::{Cmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::error::KeyError;
use super::key_type::{KeyType, MAX_DIGEST_LEN};
use crate::error::Error;

/// The longest secret a [`Key`] holds, in bytes (4096 bits: the longest key
/// `chronyc keygen` makes).
pub const MAX_SECRET_LEN: usize = 512;

/// A symmetric key (RFC 5905 §7.3, RFC 8573): id, type and secret.
///
/// ```
/// use ntp_wire::auth::{Key, KeyType};
/// let key = Key::new(1, KeyType::Md5, b"abcdefgh")?;
/// let digest = key.digest(b"ijklmnopqrstuvwx");
/// assert_eq!(digest.as_bytes()[..4], [0x0c, 0x0e, 0x84, 0xcf]);
/// assert_eq!(format!("{key:?}"), r#"Key { id: 1, key_type: Md5, secret: "<redacted>" }"#);
/// # Ok::<(), ntp_wire::auth::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Key {
    id: NonZeroU32,
    key_type: KeyType,
    secret: Secret,
    engine: Engine,
}

/// The secret bytes, wiped on drop.
#[derive(Clone)]
struct Secret {
    bytes: [u8; MAX_SECRET_LEN],
    len: usize,
}

impl Secret {
    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

/// A prepared MAC state: a hash that has absorbed the secret, or a CMAC
/// with its AES key schedule expanded.
#[derive(Clone)]
// The AES key schedules make the CMAC variants several times larger than the
// hash states. Boxing them would need an allocator, and a key is built once
// and then lent out, so the size costs nothing per packet.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
    Aes128(Cmac<Aes128Enc>),
    Aes256(Cmac<Aes256Enc>),
}

impl Engine {
    fn prepare(key_type: KeyType, secret: &[u8]) -> Result<Engine, KeyError> {
        let wrong_len = |expected| KeyError::WrongSecretLength { key_type, len: secret.len(), expected };
        Ok(match key_type {
            KeyType::Md5 => Engine::Md5(Md5::new_with_prefix(secret)),
            KeyType::Sha1 => Engine::Sha1(Sha1::new_with_prefix(secret)),
            KeyType::Sha256 => Engine::Sha256(Sha256::new_with_prefix(secret)),
            KeyType::Sha384 => Engine::Sha384(Sha384::new_with_prefix(secret)),
            KeyType::Sha512 => Engine::Sha512(Sha512::new_with_prefix(secret)),
            KeyType::Aes128Cmac => Engine::Aes128(Cmac::new_from_slice(secret).map_err(|_| wrong_len(16))?),
            KeyType::Aes256Cmac => Engine::Aes256(Cmac::new_from_slice(secret).map_err(|_| wrong_len(32))?),
        })
    }

    /// Writes the wire digest of `data` into `out`: as many of its first
    /// bytes as `out` holds, which is where SHA-2 is cut to 20 bytes.
    #[inline]
    fn compute(&self, data: &[u8], out: &mut [u8]) {
        match self {
            Engine::Md5(prefix) => copy_prefix(out, &prefix.clone().chain_update(data).finalize()),
            Engine::Sha1(prefix) => copy_prefix(out, &prefix.clone().chain_update(data).finalize()),
            Engine::Sha256(prefix) => copy_prefix(out, &prefix.clone().chain_update(data).finalize()),
            Engine::Sha384(prefix) => copy_prefix(out, &prefix.clone().chain_update(data).finalize()),
            Engine::Sha512(prefix) => copy_prefix(out, &prefix.clone().chain_update(data).finalize()),
            Engine::Aes128(mac) => copy_prefix(out, &Mac::chain_update(mac.clone(), data).finalize().into_bytes()),
            Engine::Aes256(mac) => copy_prefix(out, &Mac::chain_update(mac.clone(), data).finalize().into_bytes()),
        }
    }
}

/// Copies as much of `full` as fits in `out`.
#[inline]
fn copy_prefix(out: &mut [u8], full: &[u8]) {
    for (o, f) in out.iter_mut().zip(full) {
        *o = *f;
    }
}

impl Key {
    /// Makes a key and prepares its MAC state.
    ///
    /// `id` must be in 1..=2^32-1 (0 marks a crypto-NAK on the wire; note
    /// that classic ntpd only accepts 1..=65534 and NTPsec 1..=65535). The
    /// secret must be 1..=[`MAX_SECRET_LEN`] bytes, and exactly 16 or 32
    /// bytes for AES-128-CMAC or AES-256-CMAC.
    pub fn new(id: u32, key_type: KeyType, secret: &[u8]) -> Result<Key, KeyError> {
        let id = NonZeroU32::new(id).ok_or(KeyError::ZeroKeyId)?;
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        match key_type.required_secret_len() {
            Some(expected) if secret.len() != expected => {
                return Err(KeyError::WrongSecretLength { key_type, len: secret.len(), expected });
            }
            _ => {}
        }
        let mut stored = Secret { bytes: [0; MAX_SECRET_LEN], len: secret.len() };
        match stored.bytes.get_mut(..secret.len()) {
            Some(slot) => slot.copy_from_slice(secret),
            None => return Err(KeyError::SecretTooLong { len: secret.len(), max: MAX_SECRET_LEN }),
        }
        let engine = Engine::prepare(key_type, secret)?;
        Ok(Key { id, key_type, secret: stored, engine })
    }

    /// Makes a key from its secret written in hexadecimal (either case, an
    /// even number of digits, nothing else), as chrony's `HEX:` keys and
    /// long `ntp.keys` keys are written.
    ///
    /// The decoded bytes pass through a buffer that is wiped afterwards.
    /// Errors say where the first bad digit is (from 1) but never echo it.
    ///
    /// ```
    /// use ntp_wire::auth::{Key, KeyError, KeyType};
    /// let key = Key::from_hex(2, KeyType::Sha1, "6e74702d776972652073686131206b6579212121")?;
    /// assert_eq!(key.expose_secret(), b"ntp-wire sha1 key!!!");
    /// assert_eq!(Key::from_hex(2, KeyType::Sha1, "6e7x").unwrap_err(), KeyError::BadHex { position: 4 });
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn from_hex(id: u32, key_type: KeyType, hex: &str) -> Result<Key, KeyError> {
        let len = check_hex(hex)?;
        if len > MAX_SECRET_LEN {
            return Err(KeyError::SecretTooLong { len, max: MAX_SECRET_LEN });
        }
        let mut buf = Zeroizing::new([0u8; MAX_SECRET_LEN]);
        for (pair, out) in hex.as_bytes().chunks_exact(2).zip(buf.iter_mut()) {
            // `check_hex` accepted every byte, so the fallback zero is never used.
            let nibble = |offset: usize| pair.get(offset).and_then(|&c| hex_value(c)).unwrap_or(0);
            *out = (nibble(0) << 4) | nibble(1);
        }
        Key::new(id, key_type, buf.get(..len).unwrap_or(&[]))
    }

    /// Makes a key from a secret written as text: printable ASCII without
    /// spaces (0x21..=0x7e), the bytes used as they are. This is what
    /// `ntp.keys` (20 characters or fewer), chrony's `ASCII:` keys and the
    /// `passwd` of `ntpq` hold; a space or a control character could not be
    /// written in a key file, so it is refused rather than accepted here
    /// and lost there.
    ///
    /// ```
    /// use ntp_wire::auth::{Key, KeyError, KeyType};
    /// let key = Key::from_ascii(1, KeyType::Md5, "interop-md5-key")?;
    /// assert_eq!(key.expose_secret(), b"interop-md5-key");
    /// assert_eq!(Key::from_ascii(1, KeyType::Md5, "two words").unwrap_err(), KeyError::NotPrintable { position: 4 });
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn from_ascii(id: u32, key_type: KeyType, text: &str) -> Result<Key, KeyError> {
        if let Some(index) = text.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(KeyError::NotPrintable { position: index + 1 });
        }
        Key::new(id, key_type, text.as_bytes())
    }

    /// The key id, 1..=2^32-1, sent in the first word of the MAC.
    #[inline]
    pub fn id(&self) -> u32 {
        self.id.get()
    }

    /// The MAC algorithm.
    #[inline]
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Bytes of digest on the wire (16 or 20); see [`KeyType::digest_len`].
    #[inline]
    pub fn digest_len(&self) -> usize {
        self.key_type.digest_len()
    }

    /// Bytes of the whole MAC trailer, key id included (20 or 24).
    #[inline]
    pub fn mac_len(&self) -> usize {
        self.key_type.mac_len()
    }

    /// The secret itself. Named so that every use stands out in review:
    /// needed only to write a key file or hand the key to another program.
    #[inline]
    pub fn expose_secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    /// The digest that goes on the wire for `data` (the packet up to the
    /// MAC): `H(secret || data)` for the hash types, truncated to 20 bytes
    /// for SHA-2, or AES-CMAC(secret, data) for the CMAC types.
    #[inline]
    pub fn digest(&self, data: &[u8]) -> MacDigest {
        let mut digest = MacDigest { bytes: [0; MAX_DIGEST_LEN], len: self.digest_len() };
        self.engine.compute(data, &mut digest.bytes);
        digest
    }

    /// Writes the digest of `data` into the start of `out` and returns its
    /// length (16 or 20 bytes). Fails, writing nothing, when `out` is shorter.
    /// [`sign`](super::sign) uses this to write straight into the packet.
    #[inline]
    pub fn compute_digest(&self, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let len = self.digest_len();
        let available = out.len();
        let slot = out.get_mut(..len).ok_or(Error::BufferTooSmall { len: available, needed: len })?;
        self.engine.compute(data, slot);
        Ok(len)
    }
}

/// Checks that `hex` is a whole number of bytes in hexadecimal and returns
/// that number of bytes.
pub(super) fn check_hex(hex: &str) -> Result<usize, KeyError> {
    let digits = hex.len();
    if digits == 0 {
        return Err(KeyError::EmptySecret);
    }
    if let Some(index) = hex.bytes().position(|c| hex_value(c).is_none()) {
        return Err(KeyError::BadHex { position: index + 1 });
    }
    if digits % 2 != 0 {
        return Err(KeyError::OddHexLength { digits });
    }
    Ok(digits / 2)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl PartialEq for Key {
    /// Keys are equal when id, type and secret are; the secrets are compared
    /// in constant time.
    fn eq(&self, other: &Key) -> bool {
        self.id == other.id
            && self.key_type == other.key_type
            && bool::from(self.expose_secret().ct_eq(other.expose_secret()))
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id.get())
            .field("key_type", &self.key_type)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A digest as it goes on the wire: 16 or 20 bytes, on the stack.
///
/// It has no `==`: compare a received digest with [`MacDigest::ct_eq`],
/// which takes the same time wherever the first difference is.
#[derive(Clone, Copy)]
pub struct MacDigest {
    bytes: [u8; MAX_DIGEST_LEN],
    len: usize,
}

impl MacDigest {
    /// The digest bytes (16 or 20).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// Compares with `other` in constant time (for a given length): true
    /// only when both have the same length and bytes.
    #[inline]
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        let mine = self.as_bytes();
        // Lengths are public (they are on the wire); only contents are secret.
        if mine.len() != other.len() {
            return false;
        }
        // OR together the XOR of every byte pair: no branch depends on where
        // a difference is. Only the final test goes through `subtle`'s
        // optimisation barrier. `subtle`'s slice comparison puts that barrier
        // on every byte, which cost about 10% of a whole MD5 verify.
        let difference = mine.iter().zip(other).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        bool::from(difference.ct_eq(&0))
    }
}

impl AsRef<[u8]> for MacDigest {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for MacDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacDigest(")?;
        for byte in self.as_bytes() {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_md5_known_answer() {
        // The classic ntpd/NTPsec vector: key "abcdefgh", data "ijklmnopqrstuvwx".
        let key = Key::new(1, KeyType::Md5, b"abcdefgh").unwrap();
        let expected = [0x0c, 0x0e, 0x84, 0xcf, 0x0b, 0xb7, 0xa8, 0x68, 0x8e, 0x52, 0x38, 0xdb, 0xbc, 0x1c, 0x39, 0x53];
        assert_eq!(key.digest(b"ijklmnopqrstuvwx").as_bytes(), expected);
        assert!(key.digest(b"ijklmnopqrstuvwx").ct_eq(&expected));
        assert!(!key.digest(b"ijklmnopqrstuvwy").ct_eq(&expected));
        assert!(!key.digest(b"ijklmnopqrstuvwx").ct_eq(&expected[..15]));
    }

    #[test]
    fn test_rejects_bad_keys() {
        assert_eq!(Key::new(0, KeyType::Md5, b"x").unwrap_err(), KeyError::ZeroKeyId);
        assert_eq!(Key::new(1, KeyType::Sha1, b"").unwrap_err(), KeyError::EmptySecret);
        assert_eq!(
            Key::new(1, KeyType::Sha1, &[1; MAX_SECRET_LEN + 1]).unwrap_err(),
            KeyError::SecretTooLong { len: MAX_SECRET_LEN + 1, max: MAX_SECRET_LEN }
        );
        assert_eq!(
            Key::new(7, KeyType::Aes128Cmac, &[1; 32]).unwrap_err(),
            KeyError::WrongSecretLength { key_type: KeyType::Aes128Cmac, len: 32, expected: 16 }
        );
        assert_eq!(
            Key::new(7, KeyType::Aes256Cmac, &[1; 16]).unwrap_err(),
            KeyError::WrongSecretLength { key_type: KeyType::Aes256Cmac, len: 16, expected: 32 }
        );
        assert!(Key::new(u32::MAX, KeyType::Sha512, &[1; MAX_SECRET_LEN]).is_ok());
    }

    #[test]
    fn test_debug_never_shows_the_secret() {
        let key = Key::new(42, KeyType::Sha256, b"SuperSecretValue").unwrap();
        let printed = format!("{key:?} {key:#?}");
        assert!(!printed.contains("SuperSecret"), "{printed}");
        assert!(!printed.contains("83, 117"), "{printed}"); // b"Su" as decimal bytes
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn test_equality_and_accessors() {
        let a = Key::new(3, KeyType::Sha1, b"same").unwrap();
        assert_eq!(a, a.clone());
        assert_ne!(a, Key::new(3, KeyType::Sha1, b"other").unwrap());
        assert_ne!(a, Key::new(4, KeyType::Sha1, b"same").unwrap());
        assert_ne!(a, Key::new(3, KeyType::Md5, b"same").unwrap());
        assert_eq!(a.id(), 3);
        assert_eq!(a.key_type(), KeyType::Sha1);
        assert_eq!(a.expose_secret(), b"same");
        assert_eq!((a.digest_len(), a.mac_len()), (20, 24));
    }

    #[test]
    fn test_compute_digest_into_buffer() {
        let key = Key::new(9, KeyType::Sha384, b"k").unwrap();
        let mut out = [0u8; 32];
        assert_eq!(key.compute_digest(b"data", &mut out), Ok(20));
        assert_eq!(&out[..20], key.digest(b"data").as_bytes());
        assert!(out[20..].iter().all(|&b| b == 0));
        let mut short = [0u8; 19];
        assert_eq!(key.compute_digest(b"data", &mut short), Err(Error::BufferTooSmall { len: 19, needed: 20 }));
    }

    #[test]
    fn test_from_hex_decodes_either_case() {
        let key = Key::from_hex(5, KeyType::Md5, "00ffA0Bc").unwrap();
        assert_eq!(key.expose_secret(), [0x00, 0xff, 0xa0, 0xbc]);
        assert_eq!(key, Key::new(5, KeyType::Md5, &[0x00, 0xff, 0xa0, 0xbc]).unwrap());
        let aes = Key::from_hex(6, KeyType::Aes128Cmac, &"0f".repeat(16)).unwrap();
        assert_eq!(aes.expose_secret(), [0x0f; 16]);
    }

    #[test]
    fn test_from_hex_errors_are_exact() {
        assert_eq!(Key::from_hex(1, KeyType::Md5, "").unwrap_err(), KeyError::EmptySecret);
        assert_eq!(Key::from_hex(1, KeyType::Md5, "abc").unwrap_err(), KeyError::OddHexLength { digits: 3 });
        assert_eq!(Key::from_hex(1, KeyType::Md5, "0g").unwrap_err(), KeyError::BadHex { position: 2 });
        // A bad digit is reported before an odd length.
        assert_eq!(Key::from_hex(1, KeyType::Md5, "x").unwrap_err(), KeyError::BadHex { position: 1 });
        // Multi-byte UTF-8 is not hex and must not be split mid-character.
        assert_eq!(Key::from_hex(1, KeyType::Md5, "\u{e9}0").unwrap_err(), KeyError::BadHex { position: 1 });
        assert_eq!(Key::from_hex(0, KeyType::Md5, "00").unwrap_err(), KeyError::ZeroKeyId);
        assert_eq!(
            Key::from_hex(1, KeyType::Aes256Cmac, &"00".repeat(16)).unwrap_err(),
            KeyError::WrongSecretLength { key_type: KeyType::Aes256Cmac, len: 16, expected: 32 }
        );
        let long = "ab".repeat(MAX_SECRET_LEN + 1);
        assert_eq!(
            Key::from_hex(1, KeyType::Sha1, &long).unwrap_err(),
            KeyError::SecretTooLong { len: MAX_SECRET_LEN + 1, max: MAX_SECRET_LEN }
        );
        assert!(Key::from_hex(1, KeyType::Sha1, &long[2..]).is_ok());
    }

    #[test]
    fn test_from_ascii_takes_printable_text_only() {
        let key = Key::from_ascii(1, KeyType::Md5, "abcdefgh").unwrap();
        assert_eq!(key, Key::new(1, KeyType::Md5, b"abcdefgh").unwrap());
        assert_eq!(Key::from_ascii(1, KeyType::Md5, "").unwrap_err(), KeyError::EmptySecret);
        assert_eq!(Key::from_ascii(1, KeyType::Md5, "ab cd").unwrap_err(), KeyError::NotPrintable { position: 3 });
        assert_eq!(Key::from_ascii(1, KeyType::Md5, "tab\t").unwrap_err(), KeyError::NotPrintable { position: 4 });
        assert_eq!(
            Key::from_ascii(1, KeyType::Md5, "\u{e9}t\u{e9}").unwrap_err(),
            KeyError::NotPrintable { position: 1 }
        );
        assert_eq!(Key::from_ascii(1, KeyType::Md5, "~!").unwrap().expose_secret(), b"~!");
    }

    #[test]
    fn test_hex_and_ascii_agree_on_the_same_secret() {
        let text = "interop-md5-key";
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        assert_eq!(Key::from_hex(1, KeyType::Md5, &hex).unwrap(), Key::from_ascii(1, KeyType::Md5, text).unwrap());
    }

    #[test]
    fn test_prepared_state_is_reusable() {
        // The cloned prefix state must not leak one packet into the next.
        for key_type in KeyType::ALL {
            let secret = [0x5a; 32];
            let secret = &secret[..key_type.required_secret_len().unwrap_or(20)];
            let key = Key::new(1, key_type, secret).unwrap();
            let first = key.digest(b"packet one");
            let _ = key.digest(b"something else entirely");
            assert!(key.digest(b"packet one").ct_eq(first.as_bytes()), "{key_type}");
        }
    }
}
