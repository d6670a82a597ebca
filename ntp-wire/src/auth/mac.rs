//! Signing and verifying packets in place, and the crypto-NAK.
//!
//! ```text
//! | header (48) | extension fields (RFC 7822, optional) | key id (4) | digest (16 or 20) |
//! |<-------------- covered by the digest -------------->|
//! ```
//!
//! Neither function allocates or copies the packet: the digest is computed
//! over the caller's buffer and written straight after it (RFC 5905 §7.3,
//! §9.2; RFC 8573 §4).

use super::error::AuthError;
use super::key::Key;
use super::key_type::KEY_ID_LEN;
use super::lookup::KeyLookup;
use crate::error::Error;
use crate::header::HEADER_LEN;
use crate::trailer::{Authenticator, Trailer};

/// Signs a packet in place: writes `key`'s id and the digest of
/// `buf[..mac_offset]` at `mac_offset`, and returns the packet length
/// (`mac_offset` + 20 or 24).
///
/// `mac_offset` is where the header and any extension fields end: 48 for a
/// bare header, or the length [`ExtensionFieldWriter::finish`](crate::ExtensionFieldWriter::finish)
/// returned (call it with `mac_follows = true`).
///
/// Fails, writing nothing, when `mac_offset` is below the 48-byte header or
/// the buffer cannot hold the MAC.
///
/// ```
/// use ntp_wire::auth::{Key, KeyType, sign, verify};
/// use ntp_wire::{Mode, Repr};
/// let key = Key::new(7, KeyType::Aes128Cmac, &[0x42; 16])?;
/// let mut buf = [0u8; 68];
/// let header_len = Repr { mode: Mode::Client, ..Repr::default() }.emit_into(&mut buf)?;
/// let len = sign(&mut buf, header_len, &key)?;
/// assert_eq!(len, 68);
/// assert_eq!(verify(&buf[..len], &[key])?.id(), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign(buf: &mut [u8], mac_offset: usize, key: &Key) -> Result<usize, Error> {
    if mac_offset < HEADER_LEN {
        return Err(Error::Truncated { len: mac_offset });
    }
    let len = buf.len();
    let needed = mac_offset.saturating_add(key.mac_len());
    let (data, trailer) = buf
        .get_mut(..needed)
        .and_then(|packet| packet.split_at_mut_checked(mac_offset))
        .ok_or(Error::BufferTooSmall { len, needed })?;
    let (key_id, digest) = trailer.split_at_mut(KEY_ID_LEN);
    key_id.copy_from_slice(&key.id().to_be_bytes());
    key.compute_digest(data, digest)?;
    Ok(needed)
}

/// Signs a packet held in a `Vec`: appends `key`'s id and the digest of
/// everything in `packet` (the header and any extension fields), and
/// returns the new length. No sizing needed, unlike [`sign`]; needs the
/// `alloc` feature.
///
/// Fails, leaving `packet` as it was, when it is shorter than the 48-byte
/// header.
///
/// ```
/// use ntp_wire::auth::{Key, KeyType, sign_to_vec, verify};
/// use ntp_wire::{Mode, Repr};
/// let key = Key::from_hex(3, KeyType::Sha1, "00112233445566778899")?;
/// let mut packet = vec![0u8; 48];
/// Repr { mode: Mode::Client, ..Repr::default() }.emit_into(&mut packet)?;
/// assert_eq!(sign_to_vec(&mut packet, &key)?, 72);
/// assert_eq!(verify(&packet, &[key])?.id(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "alloc")]
pub fn sign_to_vec(packet: &mut alloc::vec::Vec<u8>, key: &Key) -> Result<usize, Error> {
    let mac_offset = packet.len();
    if mac_offset < HEADER_LEN {
        return Err(Error::Truncated { len: mac_offset });
    }
    packet.resize(mac_offset.saturating_add(key.mac_len()), 0);
    let result = sign(packet, mac_offset, key);
    if result.is_err() {
        packet.truncate(mac_offset);
    }
    result
}

/// Checks a received packet's MAC against a set of keys and returns the key
/// that signed it.
///
/// The checks run in this order, and the error says which one failed:
/// the packet's structure ([`AuthError::Malformed`]), whether it has a MAC
/// at all ([`AuthError::NoMac`], [`AuthError::CryptoNak`]), the key id
/// ([`AuthError::UnknownKey`], [`AuthError::UntrustedKey`]), the digest
/// length for that key's type ([`AuthError::DigestLength`]), and finally
/// the digest, compared in constant time ([`AuthError::BadMac`]).
///
/// The MAC is found with [`Trailer::split`], which reads NTPv4 rules:
/// 20- or 24-byte trailers are MACs, so SHA-2 digests must be the 20-byte
/// truncated form chrony and NTPsec send.
pub fn verify<'k, K: KeyLookup + ?Sized>(packet: &[u8], keys: &'k K) -> Result<&'k Key, AuthError> {
    let trailer = Trailer::split(packet)?;
    let mac = match trailer.authenticator() {
        Authenticator::None => return Err(AuthError::NoMac),
        Authenticator::CryptoNak => return Err(AuthError::CryptoNak),
        Authenticator::Mac(mac) => mac,
    };
    let key_id = mac.key_id;
    let (key, trusted) = keys.lookup(key_id).ok_or(AuthError::UnknownKey { key_id })?;
    if !trusted {
        return Err(AuthError::UntrustedKey { key_id });
    }
    let expected = key.digest_len();
    if mac.digest.len() != expected {
        return Err(AuthError::DigestLength { key_id, key_type: key.key_type(), len: mac.digest.len(), expected });
    }
    let covered = packet.get(..trailer.auth_offset()).ok_or(Error::Truncated { len: packet.len() })?;
    if key.digest(covered).ct_eq(mac.digest) { Ok(key) } else { Err(AuthError::BadMac { key_id }) }
}

/// Whether a packet ends in a crypto-NAK. A crypto-NAK is unauthenticated by
/// nature: treat it as a hint, never as proof that the peer is gone.
pub fn is_crypto_nak(packet: &[u8]) -> bool {
    Trailer::split(packet).is_ok_and(|trailer| trailer.authenticator() == Authenticator::CryptoNak)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{KeyEntry, KeyType};
    use crate::trailer::{ExtensionFieldWriter, emit_crypto_nak};

    fn keys() -> [KeyEntry; 3] {
        [
            KeyEntry::trusted(Key::new(1, KeyType::Md5, b"abcdefgh").unwrap()),
            KeyEntry::trusted(Key::new(2, KeyType::Sha256, b"0123456789").unwrap()),
            KeyEntry::untrusted(Key::new(3, KeyType::Sha1, b"untrusted").unwrap()),
        ]
    }

    #[test]
    fn test_sign_layout() {
        let [md5, ..] = keys();
        let mut buf = [0u8; 100];
        buf[..48].copy_from_slice(&[0x23; 48]);
        assert_eq!(sign(&mut buf, 48, &md5.key), Ok(68));
        assert_eq!(buf[48..52], 1u32.to_be_bytes());
        assert_eq!(buf[52..68], *md5.key.digest(&[0x23; 48]).as_bytes());
        assert!(buf[68..].iter().all(|&b| b == 0));
    }

    #[test]
    fn test_sign_errors_write_nothing() {
        let [_, sha, _] = keys();
        let mut buf = [0u8; 71];
        assert_eq!(sign(&mut buf, 48, &sha.key), Err(Error::BufferTooSmall { len: 71, needed: 72 }));
        assert_eq!(sign(&mut buf, 47, &sha.key), Err(Error::Truncated { len: 47 }));
        assert_eq!(
            sign(&mut buf, usize::MAX - 10, &sha.key),
            Err(Error::BufferTooSmall { len: 71, needed: usize::MAX })
        );
        assert!(buf.iter().all(|&b| b == 0));
    }

    #[test]
    fn test_verify_reasons() {
        let ring = keys();
        let mut buf = [0u8; 100];
        let len = sign(&mut buf, 48, &ring[1].key).unwrap();
        assert_eq!(verify(&buf[..len], &ring).map(Key::id), Ok(2));

        assert_eq!(verify(&buf[..48], &ring), Err(AuthError::NoMac));
        assert_eq!(verify(&buf[..40], &ring), Err(AuthError::Malformed(Error::Truncated { len: 40 })));
        assert!(matches!(verify(&buf[..50], &ring), Err(AuthError::Malformed(Error::BadTrailerLength { .. }))));
        // A MAC one byte short is reported as a MAC problem, not an extension field's.
        assert_eq!(
            verify(&buf[..len - 1], &ring),
            Err(AuthError::Malformed(Error::BadMacLength { offset: 48, len: 23 }))
        );

        let mut nak = [0u8; 52];
        emit_crypto_nak(&mut nak, 48).unwrap();
        assert_eq!(verify(&nak, &ring), Err(AuthError::CryptoNak));

        let mut other = buf;
        other[48..52].copy_from_slice(&9u32.to_be_bytes());
        assert_eq!(verify(&other[..len], &ring), Err(AuthError::UnknownKey { key_id: 9 }));
        other[48..52].copy_from_slice(&3u32.to_be_bytes());
        assert_eq!(verify(&other[..len], &ring), Err(AuthError::UntrustedKey { key_id: 3 }));
        other[48..52].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(
            verify(&other[..len], &ring),
            Err(AuthError::DigestLength { key_id: 1, key_type: KeyType::Md5, len: 20, expected: 16 })
        );

        let mut tampered = buf;
        tampered[47] ^= 1;
        assert_eq!(verify(&tampered[..len], &ring), Err(AuthError::BadMac { key_id: 2 }));
    }

    #[test]
    fn test_sign_after_extension_fields() {
        let key = Key::new(77, KeyType::Aes256Cmac, &[7; 32]).unwrap();
        let mut buf = [0u8; 200];
        let mut writer = ExtensionFieldWriter::new(&mut buf);
        writer.push(0x0104, &[0xaa; 32]).unwrap();
        let mac_offset = writer.finish(true).unwrap();
        let len = sign(&mut buf, mac_offset, &key).unwrap();
        assert_eq!(len, 48 + 36 + 20);
        assert_eq!(verify(&buf[..len], &key).map(Key::id), Ok(77));
        // The extension field is covered too.
        buf[60] ^= 0x80;
        assert_eq!(verify(&buf[..len], &key), Err(AuthError::BadMac { key_id: 77 }));
    }

    #[test]
    fn test_sign_to_vec_matches_sign_in_place() {
        for entry in keys() {
            let mut fixed = [0x5au8; 100];
            let len = sign(&mut fixed, 48, &entry.key).unwrap();
            let mut grown = vec![0x5au8; 48];
            assert_eq!(sign_to_vec(&mut grown, &entry.key), Ok(len));
            assert_eq!(grown, fixed[..len]);
        }
    }

    #[test]
    fn test_sign_to_vec_refuses_a_short_packet_and_leaves_it() {
        let [md5, ..] = keys();
        let mut short = vec![7u8; 47];
        assert_eq!(sign_to_vec(&mut short, &md5.key), Err(Error::Truncated { len: 47 }));
        assert_eq!(short, vec![7u8; 47]);
    }

    #[test]
    fn test_crypto_nak_helpers() {
        let mut buf = [0u8; 60];
        assert_eq!(emit_crypto_nak(&mut buf, 10), Err(Error::Truncated { len: 10 }));
        assert_eq!(emit_crypto_nak(&mut buf, 58), Err(Error::BufferTooSmall { len: 60, needed: 62 }));
        let len = emit_crypto_nak(&mut buf, 48).unwrap();
        assert!(is_crypto_nak(&buf[..len]));
        assert!(!is_crypto_nak(&buf[..48]));
        assert!(!is_crypto_nak(&buf[..3]));
        assert_eq!(emit_crypto_nak(&mut buf, usize::MAX), Err(Error::BufferTooSmall { len: 60, needed: usize::MAX }));
    }
}
