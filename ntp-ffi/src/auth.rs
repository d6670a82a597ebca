//! Keyrings, signing and verification (RFC 5905 section 7.3, RFC 8573).

use ntp_wire::auth::{self, Key, KeyType, Keyring};

use crate::ptr::{self, boundary, boundary_void};
use crate::result::ntp_result;

pub use crate::wire::ntp_auth_kind;

/// A set of symmetric keys, each trusted or not. Opaque; create with
/// `ntp_keyring_new` or `ntp_keyring_from_key_file`, release with
/// `ntp_keyring_free`. Secrets are wiped from memory when it is freed.
pub struct ntp_keyring {
    pub(crate) inner: Keyring,
}

/// Digest algorithms of a key.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_key_type {
    /// MD5, 16-byte digest (deprecated by RFC 8573, still the most common).
    Md5 = 1,
    /// SHA-1, 20-byte digest.
    Sha1 = 2,
    /// SHA-256 truncated to 20 bytes.
    Sha256 = 3,
    /// SHA-384 truncated to 20 bytes.
    Sha384 = 4,
    /// SHA-512 truncated to 20 bytes.
    Sha512 = 5,
    /// AES-128-CMAC (RFC 8573): 16-byte key, 16-byte tag.
    Aes128Cmac = 6,
    /// AES-256-CMAC: 32-byte key, 16-byte tag.
    Aes256Cmac = 7,
}

fn key_type(code: u32) -> Result<KeyType, ntp_result> {
    Ok(match code {
        1 => KeyType::Md5,
        2 => KeyType::Sha1,
        3 => KeyType::Sha256,
        4 => KeyType::Sha384,
        5 => KeyType::Sha512,
        6 => KeyType::Aes128Cmac,
        7 => KeyType::Aes256Cmac,
        _ => return Err(ntp_result::InvalidParameter),
    })
}

/// The two key file formats.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_key_file_dialect {
    /// ntpd / NTPsec `ntp.keys` (`ID TYPE KEY`, ASCII up to 20 characters or
    /// hex). No key is trusted: apply a trusted list with
    /// `ntp_keyring_trust_list` or `ntp_keyring_set_trusted`.
    NtpKeys = 1,
    /// chrony `chrony.keys` (`ID [TYPE] ASCII:/HEX:KEY`). Every key is trusted.
    ChronyKeys = 2,
}

/// Creates an empty keyring in `*out`. Free it with `ntp_keyring_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_keyring_new(out: *mut *mut ntp_keyring) -> ntp_result {
    boundary(|| {
        let out = ptr::out(out)?;
        *out = ptr::to_boxed(ntp_keyring { inner: Keyring::new() });
        Ok(())
    })
}

/// Parses a key file's text (`text`, `len` bytes of UTF-8, not necessarily
/// NUL-terminated, read during the call only) in `dialect` (an
/// `ntp_key_file_dialect` value) into a new keyring in `*out`, which the
/// caller frees with `ntp_keyring_free`.
///
/// - `error_line`: may be NULL; on `NTP_RESULT_CONFIG_KEY_FILE_SYNTAX` or
///   `NTP_RESULT_CONFIG_DUPLICATE_KEY_ID` it receives the offending line
///   (from 1), and is left alone otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_keyring_from_key_file(
    text: *const u8,
    len: usize,
    dialect: u32,
    out: *mut *mut ntp_keyring,
    error_line: *mut usize,
) -> ntp_result {
    boundary(|| {
        let bytes = ptr::slice(text, len)?;
        let out = ptr::out(out)?;
        let text = std::str::from_utf8(bytes).map_err(|_| ntp_result::InvalidUtf8)?;
        let parsed = match dialect {
            1 => Keyring::from_ntp_keys(text),
            2 => Keyring::from_chrony_keys(text),
            _ => return Err(ntp_result::InvalidParameter),
        };
        match parsed {
            Ok(inner) => {
                *out = ptr::to_boxed(ntp_keyring { inner });
                Ok(())
            }
            Err(e) => {
                if let Some(line) = ptr::out_opt(error_line) {
                    *line = e.line;
                }
                Err(e.into())
            }
        }
    })
}

/// Adds a key (or replaces the key with the same id).
///
/// - `key_type`: an `ntp_key_type` value.
/// - `secret`: `secret_len` bytes, copied; the caller may wipe its copy after.
/// - `trusted`: whether packets signed with it are accepted.
///
/// Returns the key's error (`NTP_RESULT_AUTH_ZERO_KEY_ID`,
/// `NTP_RESULT_AUTH_WRONG_SECRET_LENGTH`, ...) if it is not valid.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_keyring_add_key(
    keyring: *mut ntp_keyring,
    key_id: u32,
    key_type: u32,
    secret: *const u8,
    secret_len: usize,
    trusted: bool,
) -> ntp_result {
    boundary(|| {
        let ring = ptr::out(keyring)?;
        let secret = ptr::slice(secret, secret_len)?;
        let key = Key::new(key_id, self::key_type(key_type)?, secret)?;
        ring.inner.insert(key, trusted);
        Ok(())
    })
}

/// Removes the key `key_id`; `NTP_RESULT_NOT_FOUND` if there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_keyring_remove_key(keyring: *mut ntp_keyring, key_id: u32) -> ntp_result {
    boundary(|| {
        let ring = ptr::out(keyring)?;
        ring.inner.remove(key_id).map(|_| ()).ok_or(ntp_result::NotFound)
    })
}

/// Marks key `key_id` trusted or not; `NTP_RESULT_NOT_FOUND` if there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_keyring_set_trusted(keyring: *mut ntp_keyring, key_id: u32, trusted: bool) -> ntp_result {
    boundary(|| {
        let ring = ptr::out(keyring)?;
        if ring.inner.set_trusted(key_id, trusted) { Ok(()) } else { Err(ntp_result::NotFound) }
    })
}

/// Applies an ntpd `trustedkey` list (`text`, `len` bytes of UTF-8: ids and
/// ranges such as "1 2 (10 ... 20)") and writes how many keys it trusted.
///
/// - `count`: receives the number of keys newly trusted.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_keyring_trust_list(
    keyring: *mut ntp_keyring,
    text: *const u8,
    len: usize,
    count: *mut usize,
) -> ntp_result {
    boundary(|| {
        let ring = ptr::out(keyring)?;
        let text = std::str::from_utf8(ptr::slice(text, len)?).map_err(|_| ntp_result::InvalidUtf8)?;
        let count = ptr::out(count)?;
        *count = ring.inner.trust_list(text)?;
        Ok(())
    })
}

/// Writes the number of keys in the keyring to `count`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_keyring_len(keyring: *const ntp_keyring, count: *mut usize) -> ntp_result {
    boundary(|| {
        let ring = ptr::read(keyring)?;
        *ptr::out(count)? = ring.inner.len();
        Ok(())
    })
}

/// Frees a keyring made by this library (its secrets are wiped). NULL is a
/// no-op. The pointer must not be used afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_keyring_free(keyring: *mut ntp_keyring) {
    boundary_void(|| ptr::free_boxed(keyring));
}

/// Signs a packet in place with key `key_id`: writes the key id and digest
/// of the first `mac_offset` bytes of `buf` at `mac_offset` (at least 48:
/// the header and any extension fields), and writes the signed packet's
/// length (`mac_offset` + 20 for 16-byte digests, + 24 for 20-byte ones)
/// to `new_len`.
///
/// - `buf`: caller-owned, `buf_len` bytes, must hold the MAC
///   (`NTP_RESULT_INSUFFICIENT_SIZE` otherwise).
/// - The key need not be trusted to sign.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_sign(
    keyring: *const ntp_keyring,
    key_id: u32,
    buf: *mut u8,
    buf_len: usize,
    mac_offset: usize,
    new_len: *mut usize,
) -> ntp_result {
    boundary(|| {
        let ring = ptr::read(keyring)?;
        let buf = ptr::slice_mut(buf, buf_len)?;
        let new_len = ptr::out(new_len)?;
        let key = ring.inner.get(key_id).ok_or(ntp_result::AuthUnknownKey)?;
        *new_len = auth::sign(buf, mac_offset, key)?;
        Ok(())
    })
}

/// Checks the MAC of the packet in `packet` (`len` bytes) against the
/// keyring and writes the signing key's id to `key_id`.
///
/// The result says exactly why a packet fails, in the order the checks run:
/// a wire error (100-199) for a malformed packet, then
/// `NTP_RESULT_AUTH_NO_MAC`, `NTP_RESULT_AUTH_CRYPTO_NAK`,
/// `NTP_RESULT_AUTH_UNKNOWN_KEY`, `NTP_RESULT_AUTH_UNTRUSTED`,
/// `NTP_RESULT_AUTH_KEY_TYPE_MISMATCH`, `NTP_RESULT_AUTH_BAD_MAC`.
/// Digests are compared in constant time.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_verify(
    keyring: *const ntp_keyring,
    packet: *const u8,
    len: usize,
    key_id: *mut u32,
) -> ntp_result {
    boundary(|| {
        let ring = ptr::read(keyring)?;
        let packet = ptr::slice(packet, len)?;
        let key_id = ptr::out(key_id)?;
        *key_id = auth::verify(packet, &ring.inner)?.id();
        Ok(())
    })
}

/// Writes a crypto-NAK (a zero key id, RFC 5905 section 7.4) at `offset`
/// (at least 48) of `buf` (`buf_len` bytes) and writes the packet's new
/// length (`offset` + 4) to `new_len`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_crypto_nak_emit(buf: *mut u8, buf_len: usize, offset: usize, new_len: *mut usize) -> ntp_result {
    boundary(|| {
        let buf = ptr::slice_mut(buf, buf_len)?;
        let new_len = ptr::out(new_len)?;
        *new_len = auth::emit_crypto_nak(buf, offset)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ntp_packet_encode, ntp_packet_header, ntp_packet_header_init};
    use std::ptr::{null, null_mut};

    fn header_packet(buf: &mut [u8]) -> usize {
        let mut h = ntp_packet_header::default();
        ntp_packet_header_init(&mut h);
        h.mode = 3;
        let mut n = 0;
        assert_eq!(ntp_packet_encode(&h, buf.as_mut_ptr(), buf.len(), &mut n), ntp_result::Ok);
        n
    }

    #[test]
    fn sign_and_verify_with_every_failure_reason() {
        let mut ring = null_mut();
        assert_eq!(ntp_keyring_new(&mut ring), ntp_result::Ok);
        let md5 = [1u8; 20];
        let aes = [2u8; 16];
        assert_eq!(ntp_keyring_add_key(ring, 1, ntp_key_type::Md5 as u32, md5.as_ptr(), 20, true), ntp_result::Ok);
        assert_eq!(
            ntp_keyring_add_key(ring, 2, ntp_key_type::Aes128Cmac as u32, aes.as_ptr(), 16, false),
            ntp_result::Ok
        );
        assert_eq!(
            ntp_keyring_add_key(ring, 3, ntp_key_type::Aes128Cmac as u32, aes.as_ptr(), 15, true),
            ntp_result::AuthWrongSecretLength
        );
        assert_eq!(ntp_keyring_add_key(ring, 3, 99, aes.as_ptr(), 16, true), ntp_result::InvalidParameter);
        assert_eq!(ntp_keyring_add_key(ring, 0, 1, aes.as_ptr(), 16, true), ntp_result::AuthZeroKeyId);

        let mut buf = [0u8; 72];
        let off = header_packet(&mut buf);
        let mut id = 0;
        assert_eq!(ntp_verify(ring, buf.as_ptr(), off, &mut id), ntp_result::AuthNoMac);
        let mut len = 0;
        assert_eq!(ntp_sign(ring, 1, buf.as_mut_ptr(), buf.len(), off, &mut len), ntp_result::Ok);
        assert_eq!(len, 68);
        assert_eq!(ntp_verify(ring, buf.as_ptr(), len, &mut id), ntp_result::Ok);
        assert_eq!(id, 1);
        buf[10] ^= 1;
        assert_eq!(ntp_verify(ring, buf.as_ptr(), len, &mut id), ntp_result::AuthBadMac);
        buf[10] ^= 1;
        assert_eq!(ntp_sign(ring, 2, buf.as_mut_ptr(), buf.len(), off, &mut len), ntp_result::Ok);
        assert_eq!(ntp_verify(ring, buf.as_ptr(), len, &mut id), ntp_result::AuthUntrusted);
        assert_eq!(ntp_keyring_set_trusted(ring, 2, true), ntp_result::Ok);
        assert_eq!(ntp_verify(ring, buf.as_ptr(), len, &mut id), ntp_result::Ok);
        assert_eq!(id, 2);
        assert_eq!(ntp_keyring_remove_key(ring, 2), ntp_result::Ok);
        assert_eq!(ntp_verify(ring, buf.as_ptr(), len, &mut id), ntp_result::AuthUnknownKey);
        assert_eq!(ntp_sign(ring, 2, buf.as_mut_ptr(), buf.len(), off, &mut len), ntp_result::AuthUnknownKey);
        assert_eq!(ntp_sign(ring, 1, buf.as_mut_ptr(), 60, off, &mut len), ntp_result::InsufficientSize);
        assert_eq!(ntp_crypto_nak_emit(buf.as_mut_ptr(), buf.len(), off, &mut len), ntp_result::Ok);
        assert_eq!(ntp_verify(ring, buf.as_ptr(), len, &mut id), ntp_result::AuthCryptoNak);
        ntp_keyring_free(ring);
        ntp_keyring_free(null_mut());
    }

    #[test]
    fn key_files_in_both_dialects() {
        let ntp = b"# ntp.keys\n1 MD5 secret1\n2 SHA1 0102030405060708090a0b0c0d0e0f1011121314\n";
        let mut ring = null_mut();
        assert_eq!(ntp_keyring_from_key_file(ntp.as_ptr(), ntp.len(), 1, &mut ring, null_mut()), ntp_result::Ok);
        let mut n = 0;
        assert_eq!(ntp_keyring_len(ring, &mut n), ntp_result::Ok);
        assert_eq!(n, 2);
        assert_eq!(ntp_keyring_trust_list(ring, b"1 2".as_ptr(), 3, &mut n), ntp_result::Ok);
        assert_eq!(n, 2);
        ntp_keyring_free(ring);

        let chrony = b"1 MD5 HEX:0102\n2 AES128 HEX:000102030405060708090a0b0c0d0e0f\n";
        let mut ring = null_mut();
        assert_eq!(ntp_keyring_from_key_file(chrony.as_ptr(), chrony.len(), 2, &mut ring, null_mut()), ntp_result::Ok);
        ntp_keyring_free(ring);

        let bad = b"1 MD5 x\n1 MD5 y\n";
        let mut line = 0;
        let mut untouched = null_mut();
        assert_eq!(
            ntp_keyring_from_key_file(bad.as_ptr(), bad.len(), 1, &mut untouched, &mut line),
            ntp_result::ConfigDuplicateKeyId
        );
        assert_eq!(line, 2);
        assert!(untouched.is_null());
        assert_eq!(ntp_keyring_from_key_file(null(), 3, 1, &mut untouched, &mut line), ntp_result::NullParameter);
        assert_eq!(
            ntp_keyring_from_key_file(bad.as_ptr(), 3, 9, &mut untouched, &mut line),
            ntp_result::InvalidParameter
        );
    }
}
