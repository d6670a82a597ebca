//! # ntp-wire
//!
//! Zero-copy encoding and decoding of NTP packets (RFC 5905, RFC 7822), for
//! daemons, clients, monitors and fuzzers alike. `no_std`, no allocation, and
//! no panic on any input.
//!
//! Two layers, in the manner of smoltcp's `wire` module:
//!
//! * [`Packet`]: a view over a byte buffer with a getter and a setter per
//!   header field, and borrowed access to the [`Trailer`] (extension fields,
//!   MAC or crypto-NAK).
//! * [`Repr`]: the header as a plain `Copy` value, read with [`Repr::parse`]
//!   and written with [`Repr::emit`].
//!
//! ```
//! use ntp_wire::{Mode, NtpTimestamp, Packet, Repr};
//!
//! // A client request: mode 3, version 4, transmit time set.
//! let request = Repr {
//!     mode: Mode::Client,
//!     transmit_time: NtpTimestamp::from_unix(1_795_273_920, 0),
//!     poll: 6,
//!     ..Repr::default()
//! };
//! let mut buf = [0u8; 48];
//! request.emit_into(&mut buf)?;
//!
//! // Untrusted bytes go through `new_checked`; after that nothing can fail.
//! let packet = Packet::new_checked(&buf[..])?;
//! assert_eq!(packet.mode(), Mode::Client);
//! assert_eq!(Repr::parse(&packet)?, request);
//! # Ok::<(), ntp_wire::Error>(())
//! ```
//!
//! Mode 6 control messages (what `ntpq` speaks) are in [`control`]: the
//! message view and representation, status words, `name=value` lists, and
//! fragmentation with reassembly.
//!
//! Time values are in [`time`]: [`NtpTimestamp`] (32.32), [`NtpShort`]
//! (16.16), [`NtpDate`] (era + timestamp) and the signed [`NtpDuration`].
//!
//! Symmetric-key authentication is in [`auth`]: keys of every type in use
//! (MD5, SHA1, SHA-256/384/512 truncated to 20 bytes, AES-128/256-CMAC per
//! RFC 8573), `sign` and `verify` in place with constant-time comparison,
//! crypto-NAKs, keyrings with trusted-key sets, and parsers for ntpd's
//! `ntp.keys` and chrony's `chrony.keys`.
//!
//! ```
//! use ntp_wire::auth::{self, Key, KeyType, Keyring};
//! use ntp_wire::{Mode, Repr};
//!
//! let mut keys = Keyring::new();
//! keys.insert(Key::new(1, KeyType::Aes128Cmac, &[7u8; 16])?, true);
//! let mut buf = [0u8; 68];
//! let len = Repr { mode: Mode::Client, ..Repr::default() }.emit_into(&mut buf)?;
//! let len = auth::sign(&mut buf, len, keys.get(1).unwrap())?;
//! assert_eq!(auth::verify(&buf[..len], &keys)?.id(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Network Time Security (RFC 8915) is in [`nts`]: NTS-KE records, the NTS
//! extension fields, and AES-SIV-CMAC-256 sealing and opening of the
//! authenticator in the caller's buffer.
//!
//! ## Features
//!
//! * `std` (default): `SystemTime` conversions and `std::error::Error`;
//!   implies `alloc`.
//! * `alloc`: the heap-backed [`auth::Keyring`], the key-file parsers
//!   that collect into it, and [`auth::sign_to_vec`]. Without `alloc`, [`auth::verify`] still works on
//!   any [`auth::KeyLookup`], such as a plain array of keys.
//!
//! Without features the crate is `#![no_std]` and needs no allocator.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod auth;
pub mod codes;
pub mod control;
mod error;
mod header;
pub mod nts;
pub mod packet;
pub mod refid;
pub mod time;
pub mod trailer;

pub use codes::{LeapIndicator, Mode, Stratum, StratumClass, Version};
pub use error::Error;
pub use packet::{HEADER_LEN, Packet, Repr};
pub use refid::{KissCode, ReferenceId, ReferenceIdMeaning};
pub use time::{NtpDate, NtpDuration, NtpShort, NtpTimestamp, UtcDateTime};
pub use trailer::{Authenticator, ExtensionField, ExtensionFieldWriter, ExtensionFields, Mac, Trailer};

#[cfg(test)]
mod proptests;
