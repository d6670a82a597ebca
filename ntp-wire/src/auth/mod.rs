//! Symmetric-key authentication of NTP packets (RFC 5905 §7.3 and §9.2,
//! RFC 8573), as ntpd, NTPsec and chrony do it.
//!
//! # The MAC
//!
//! A signed packet ends in a key id (32 bits, big-endian) and a digest
//! computed over everything before them, header and extension fields alike:
//!
//! | [`KeyType`] | digest | on the wire |
//! |---|---|---|
//! | MD5 | MD5(secret ‖ packet) | 16 bytes |
//! | SHA1 | SHA-1(secret ‖ packet) | 20 bytes |
//! | SHA256, SHA384, SHA512 | SHA-2(secret ‖ packet), first 20 bytes | 20 bytes |
//! | AES128, AES256 | AES-CMAC(secret, packet) (RFC 4493) | 16 bytes |
//!
//! The hash types are the legacy prefix construction, not HMAC: that is what
//! every deployed daemon computes. The SHA-2 truncation is chrony's and
//! NTPsec's NTPv4 behaviour, forced by the trailer rules of RFC 7822 §7.5
//! (see [`Trailer`](crate::Trailer)).
//!
//! # Pieces
//!
//! * [`Key`]: id, type and secret, with the MAC state prepared once; the
//!   secret is wiped on drop and never printed. Made from bytes
//!   ([`Key::new`]), hex ([`Key::from_hex`]) or text ([`Key::from_ascii`]).
//! * [`KeyLookup`]: how [`verify`] finds a key and learns whether it is
//!   trusted. Implemented by slices (`[Key]`, `[KeyEntry]`) for `no_std`
//!   without an allocator, and by `Keyring` (feature `alloc`).
//! * [`sign`] and [`verify`]: in place, no allocation, constant-time
//!   comparison, and an [`AuthError`] that says exactly why a packet failed.
//!   With the `alloc` feature, `sign_to_vec` appends the MAC to a `Vec`
//!   and needs no buffer sizing.
//! * [`emit_crypto_nak`] and [`is_crypto_nak`]: the zero-key-id "I could not
//!   authenticate you" reply.
//! * [`parse_ntp_keys`], [`parse_chrony_keys`], [`parse_trusted_keys`]: key
//!   files as operators keep them; errors name the line and never the secret.
//!
//! ```
//! use ntp_wire::auth::{AuthError, Key, parse_chrony_keys, sign, verify};
//! use ntp_wire::{Mode, NtpTimestamp, Repr};
//!
//! // With the `alloc` feature, `Keyring::from_chrony_keys` does this in one call.
//! let file = "1 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70\n";
//! let ring: Vec<Key> = parse_chrony_keys(file).map(|line| line.map(|(_, key)| key)).collect::<Result<_, _>>()?;
//! let key = &ring[0];
//!
//! let request = Repr { mode: Mode::Client, transmit_time: NtpTimestamp::from_bits(1 << 40), ..Repr::default() };
//! let mut buf = [0u8; 128];
//! let header_len = request.emit_into(&mut buf)?;
//! let len = sign(&mut buf, header_len, key)?;
//!
//! assert_eq!(verify(&buf[..len], &ring[..])?.id(), 1);
//! buf[40] ^= 1; // one bit of the transmit timestamp
//! assert_eq!(verify(&buf[..len], &ring[..]), Err(AuthError::BadMac { key_id: 1 }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod key;
mod key_type;
mod keyfile;
#[cfg(feature = "alloc")]
mod keyring;
mod lookup;
mod mac;

pub use crate::trailer::emit_crypto_nak;
pub use error::{AuthError, KeyError};
pub use key::{Key, MAX_SECRET_LEN, MacDigest};
pub use key_type::{KEY_ID_LEN, KeyType, MAX_DIGEST_LEN, UnknownKeyType};
pub use keyfile::{
    ChronyKeys, KeyFileError, KeyFileErrorKind, NTP_KEYS_MAX_ASCII_LEN, NTP_KEYS_MAX_HEX_BYTES, NtpKeys, TrustedKeyIds,
    TrustedKeysError, TrustedKeysErrorKind, parse_chrony_keys, parse_ntp_keys, parse_trusted_keys,
};
#[cfg(feature = "alloc")]
pub use keyring::Keyring;
pub use lookup::{KeyEntry, KeyLookup};
#[cfg(feature = "alloc")]
pub use mac::sign_to_vec;
pub use mac::{is_crypto_nak, sign, verify};

#[cfg(test)]
mod tests;
