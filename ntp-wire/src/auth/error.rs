//! Why a key could not be made, and why a packet did not authenticate.
//!
//! No message here ever contains key material: at most a key id, a type and
//! lengths.

use super::key_type::KeyType;
use crate::error::Error;

/// Why [`Key::new`](super::Key::new) refused its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key id 0 is reserved: on the wire it marks a crypto-NAK (RFC 5905 §7.3).
    #[error("key id 0 is reserved (it marks a crypto-NAK); use 1..=4294967295")]
    ZeroKeyId,
    /// A secret of zero bytes.
    #[error("the secret is empty")]
    EmptySecret,
    /// A secret longer than [`MAX_SECRET_LEN`](super::MAX_SECRET_LEN).
    #[error("the secret is {len} bytes; at most {max} are supported")]
    SecretTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A character that is not a hex digit in a hex secret
    /// ([`Key::from_hex`](super::Key::from_hex)).
    #[error("the secret is not hexadecimal (character {position})")]
    BadHex {
        /// Position of the offending character, from 1.
        position: usize,
    },
    /// A hex secret with an odd number of digits cannot be whole bytes.
    #[error("the hex secret has an odd number of digits ({digits})")]
    OddHexLength {
        /// Digits given.
        digits: usize,
    },
    /// A text secret with a character outside printable ASCII without
    /// space, 0x21..=0x7e ([`Key::from_ascii`](super::Key::from_ascii)).
    #[error("a text secret may hold only printable ASCII without spaces (character {position} is not)")]
    NotPrintable {
        /// Position of the offending character (byte), from 1.
        position: usize,
    },
    /// A cipher key of the wrong size (AES-128 needs 16 bytes, AES-256 32).
    #[error("a {key_type} key must be {expected} bytes, this one is {len}")]
    WrongSecretLength {
        /// The cipher.
        key_type: KeyType,
        /// The secret's length in bytes.
        len: usize,
        /// The length the cipher needs, in bytes.
        expected: usize,
    },
}

/// Why [`verify`](super::verify) did not accept a packet.
///
/// The variants are ordered as the checks run: structure, then trailer kind,
/// then key lookup and trust, then the digest itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The packet's structure is broken (too short, bad extension field, a
    /// trailer of impossible length), so no MAC can be located.
    #[error("malformed packet: {0}")]
    Malformed(#[from] Error),
    /// The packet carries no MAC: it is unauthenticated.
    #[error("the packet carries no MAC")]
    NoMac,
    /// The packet carries a crypto-NAK (a lone zero key id): the sender
    /// could not authenticate our last packet (RFC 5905 §7.4).
    #[error("the packet is a crypto-NAK: the sender could not authenticate our last packet")]
    CryptoNak,
    /// No key with this id is configured.
    #[error("key id {key_id} is not configured")]
    UnknownKey {
        /// The key id from the packet.
        key_id: u32,
    },
    /// The key exists but is not in the trusted set.
    #[error("key id {key_id} is configured but not trusted")]
    UntrustedKey {
        /// The key id from the packet.
        key_id: u32,
    },
    /// The MAC's digest length does not fit the key's type (e.g. a 20-byte
    /// digest for an MD5 key).
    #[error("key id {key_id} is {key_type}, whose digest is {expected} bytes, but the MAC holds {len}")]
    DigestLength {
        /// The key id from the packet.
        key_id: u32,
        /// The configured key's type.
        key_type: KeyType,
        /// Bytes of digest in the packet.
        len: usize,
        /// Bytes the key's type produces.
        expected: usize,
    },
    /// The digest does not match: wrong secret, or the packet was altered.
    #[error("MAC with key id {key_id} does not match the packet")]
    BadMac {
        /// The key id from the packet.
        key_id: u32,
    },
}
