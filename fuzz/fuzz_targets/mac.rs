//! Fuzz target `mac`: symmetric-key authentication (`ntp_wire::auth`).
//!
//! Every input is first taken as a received datagram (part a); an input
//! whose first byte is 0 is also decoded, from its second byte on, as a
//! packet to build and sign (part b).
//!
//! (a) `verify` of arbitrary bytes against a fixed keyring holding one key of
//! every type, some trusted and some not (keys 1 and 2 are the public keys
//! of `ntp-wire/testdata`, so the captured chronyd and NTPsec packets
//! verify):
//!
//! * Nothing panics.
//! * `Ok(key)` only for a packet that really is ours: the key is in the ring
//!   and trusted, the MAC names it, and signing the bytes before the MAC with
//!   it gives back the input byte for byte.
//! * Every error is the right one, in the documented order: `Malformed` is
//!   exactly what `Trailer::split` says, `NoMac` / `CryptoNak` what the
//!   trailer holds, `UnknownKey` / `UntrustedKey` / `DigestLength` what the
//!   ring says about the MAC's key id, and `BadMac` only when re-signing
//!   really gives a different digest.
//! * The other `KeyLookup` implementations (a slice of entries, a slice of
//!   keys, one key) agree with the `Keyring`.
//!
//! (b) Build: header bytes, a key (type, id, secret), extension fields, a
//! byte mask. The target builds the packet with `ExtensionFieldWriter`,
//! signs it, and checks:
//!
//! * `Key::new` accepts exactly the ids, secrets and lengths its contract
//!   allows, and the prepared digest equals one computed from scratch with
//!   the hash or cipher crate (key || packet, or AES-CMAC), cut to 16 or 20
//!   bytes.
//! * `verify` accepts the signed packet with that key (alone, in a ring,
//!   trusted), says `UntrustedKey` / `UnknownKey` when the ring does not
//!   trust or hold it, and `DigestLength` when it holds another type of key
//!   under the same id.
//! * Flipping any single byte of the packet fails verification: `BadMac` in
//!   the header and the digest, `UnknownKey` in the key id, some error in
//!   the extension fields.
//! * The same packet ending in a crypto-NAK is recognised as one
//!   (`is_crypto_nak`, `AuthError::CryptoNak`), and without a MAC it is
//!   `NoMac`.
#![no_main]

use std::sync::OnceLock;

use aes::{Aes128, Aes256};
use arbitrary::{Arbitrary, Unstructured};
use cmac::{Cmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use md5::Md5;
use ntp_wire::auth::Key;
use ntp_wire::auth::{
    AuthError, KeyEntry, KeyError, KeyLookup, KeyType, Keyring, MAX_SECRET_LEN, emit_crypto_nak, is_crypto_nak, sign,
    verify,
};
use ntp_wire::packet::HEADER_LEN;
use ntp_wire::{Authenticator, ExtensionFieldWriter, Trailer};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The fixed keyring of part (a): id, type, secret, trusted.
const RING: &[(u32, KeyType, &[u8], bool)] = &[
    // The public keys of ntp-wire/testdata/README.md.
    (1, KeyType::Md5, b"interop-md5-key", true),
    (2, KeyType::Sha1, b"ntp-wire sha1 key!!!", true),
    (3, KeyType::Sha256, b"sha256 fuzz key", true),
    (4, KeyType::Sha384, b"sha384 fuzz key, not trusted", false),
    (5, KeyType::Sha512, b"sha512 fuzz key", true),
    (6, KeyType::Aes128Cmac, b"0123456789abcdef", false),
    (7, KeyType::Aes256Cmac, b"0123456789abcdef0123456789abcdef", true),
    (65_535, KeyType::Md5, b"abcdefgh", false),
    (u32::MAX, KeyType::Sha1, b"the largest key id", true),
];

struct Fixed {
    ring: Keyring,
    entries: Vec<KeyEntry>,
    keys: Vec<Key>,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let entries: Vec<KeyEntry> = RING
            .iter()
            .map(|&(id, key_type, secret, trusted)| KeyEntry {
                key: Key::new(id, key_type, secret).expect("a fixed key is valid"),
                trusted,
            })
            .collect();
        let ring: Keyring = entries.iter().cloned().collect();
        let keys = entries.iter().map(|entry| entry.key.clone()).collect();
        Fixed { ring, entries, keys }
    })
}

fuzz_target!(|data: &[u8]| {
    check_received(data);
    if let Some((&0, rest)) = data.split_first()
        && let Ok(input) = Built::arbitrary(&mut Unstructured::new(rest))
    {
        check_built(&input);
    }
});

// ----- (a) arbitrary bytes against the fixed keyring -----

fn check_received(data: &[u8]) {
    let fixed = fixed();
    let result = verify(data, &fixed.ring);

    // The other lookups must come to the same answer (ids are unique, so
    // "first match wins" and the binary search find the same key).
    let by_entries = verify(data, &fixed.entries[..]);
    assert_eq!(by_entries.map(Key::id), result.map(Key::id), "[KeyEntry] and Keyring disagree");
    // A slice of keys trusts all of them: same answer except that an
    // untrusted key now gets as far as its digest.
    let by_keys = verify(data, &fixed.keys[..]);
    match result {
        Err(AuthError::UntrustedKey { .. }) => {}
        _ => assert_eq!(by_keys.map(Key::id), result.map(Key::id), "[Key] and Keyring disagree"),
    }
    assert_eq!(is_crypto_nak(data), result == Err(AuthError::CryptoNak));

    let trailer = match Trailer::split(data) {
        Ok(trailer) => trailer,
        Err(e) => {
            assert_eq!(result, Err(AuthError::Malformed(e)));
            return;
        }
    };
    let mac = match trailer.authenticator() {
        Authenticator::None => return assert_eq!(result, Err(AuthError::NoMac)),
        Authenticator::CryptoNak => return assert_eq!(result, Err(AuthError::CryptoNak)),
        Authenticator::Mac(mac) => mac,
    };
    let key_id = mac.key_id;
    let Some((key, trusted)) = fixed.ring.lookup(key_id) else {
        return assert_eq!(result.map(Key::id), Err(AuthError::UnknownKey { key_id }));
    };
    // The key one-key lookup must behave like a ring of one trusted key.
    assert_eq!(verify(data, key).map(Key::id), by_keys.map(Key::id));
    if !trusted {
        return assert_eq!(result.map(Key::id), Err(AuthError::UntrustedKey { key_id }));
    }
    if mac.digest.len() != key.digest_len() {
        let expected = key.digest_len();
        let error = AuthError::DigestLength { key_id, key_type: key.key_type(), len: mac.digest.len(), expected };
        return assert_eq!(result.map(Key::id), Err(error));
    }

    // Re-sign the covered bytes with the key and compare with the input.
    let covered = trailer.auth_offset();
    let mut resigned = data[..covered].to_vec();
    resigned.resize(covered + key.mac_len(), 0);
    assert_eq!(sign(&mut resigned, covered, key), Ok(data.len()));
    match result {
        Ok(signer) => {
            assert_eq!(signer.id(), key_id);
            assert_eq!(resigned, data, "verify accepted a packet its key does not sign so");
        }
        Err(AuthError::BadMac { key_id: id }) => {
            assert_eq!(id, key_id);
            assert_ne!(resigned, data, "verify refused a packet its key signs exactly so");
        }
        Err(e) => panic!("a trusted key of the right digest length, yet {e:?}"),
    }
}

// ----- (b) build, sign, verify, tamper -----

/// A packet to build and sign.
#[derive(Arbitrary, Debug)]
struct Built {
    header: [u8; HEADER_LEN],
    /// Index into `KeyType::ALL` (modulo its length).
    key_type: u8,
    key_id: u32,
    secret: Vec<u8>,
    /// Extension fields, type and value; at most `MAX_FIELDS` are used.
    fields: Vec<(u16, Vec<u8>)>,
    /// XORed into each byte in turn when tampering (0 is taken as 0x01).
    mask: u8,
}

/// Keeps one iteration cheap: every byte of the packet is flipped once.
const MAX_FIELDS: usize = 4;
const MAX_FIELD_VALUE: usize = 96;

/// The error `Key::new` must give for these arguments, if any.
fn expected_key_error(id: u32, key_type: KeyType, secret: &[u8]) -> Option<KeyError> {
    if id == 0 {
        Some(KeyError::ZeroKeyId)
    } else if secret.is_empty() {
        Some(KeyError::EmptySecret)
    } else if let Some(expected) = key_type.required_secret_len().filter(|&n| n != secret.len()) {
        Some(KeyError::WrongSecretLength { key_type, len: secret.len(), expected })
    } else if secret.len() > MAX_SECRET_LEN {
        Some(KeyError::SecretTooLong { len: secret.len(), max: MAX_SECRET_LEN })
    } else {
        None
    }
}

/// The wire digest of `data`, computed from scratch: H(secret || data) cut
/// to 20 bytes, or the full AES-CMAC tag.
fn reference_digest(key_type: KeyType, secret: &[u8], data: &[u8]) -> Vec<u8> {
    fn hash<D: Digest>(secret: &[u8], data: &[u8]) -> Vec<u8> {
        let mut hasher = D::new();
        hasher.update(secret);
        hasher.update(data);
        hasher.finalize().to_vec()
    }
    fn cmac<C: Mac + KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = <C as KeyInit>::new_from_slice(secret).expect("AES key of the right size");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
    let mut full = match key_type {
        KeyType::Md5 => hash::<Md5>(secret, data),
        KeyType::Sha1 => hash::<Sha1>(secret, data),
        KeyType::Sha256 => hash::<Sha256>(secret, data),
        KeyType::Sha384 => hash::<Sha384>(secret, data),
        KeyType::Sha512 => hash::<Sha512>(secret, data),
        KeyType::Aes128Cmac => cmac::<Cmac<Aes128>>(secret, data),
        KeyType::Aes256Cmac => cmac::<Cmac<Aes256>>(secret, data),
    };
    full.truncate(key_type.digest_len());
    full
}

fn check_built(input: &Built) {
    let key_type = KeyType::ALL[usize::from(input.key_type) % KeyType::ALL.len()];

    // Key::new accepts exactly what its contract allows.
    let made = Key::new(input.key_id, key_type, &input.secret);
    match expected_key_error(input.key_id, key_type, &input.secret) {
        Some(error) => assert_eq!(made.as_ref().err(), Some(&error)),
        None => assert!(made.is_ok(), "Key::new refused a valid key: {made:?}"),
    }
    // Then make the arguments valid and go on with that key.
    let id = input.key_id.max(1);
    let mut secret = input.secret.clone();
    secret.truncate(MAX_SECRET_LEN);
    if let Some(len) = key_type.required_secret_len() {
        secret.resize(len, 0x5a);
    } else if secret.is_empty() {
        secret.push(0);
    }
    let key = Key::new(id, key_type, &secret).expect("valid key arguments");
    assert_eq!((key.id(), key.key_type(), key.expose_secret()), (id, key_type, &secret[..]));
    assert!(!format!("{key:?}").contains("secret: ["), "Debug shows the secret");

    // Header and fields, then the MAC.
    let fields: Vec<(u16, &[u8])> =
        input.fields.iter().take(MAX_FIELDS).map(|(t, v)| (*t, &v[..v.len().min(MAX_FIELD_VALUE)])).collect();
    let capacity = HEADER_LEN + fields.iter().map(|(_, v)| (v.len() + 4).max(28) + 4).sum::<usize>() + 24;
    let mut buf = vec![0u8; capacity];
    buf[..HEADER_LEN].copy_from_slice(&input.header);
    let mac_offset = write_fields(&mut buf, &fields, true);
    let len = sign(&mut buf, mac_offset, &key).expect("sign into a large enough buffer");
    assert_eq!(len, mac_offset + key.mac_len());
    let packet = &buf[..len];

    // The digest on the wire is the one computed from scratch.
    let reference = reference_digest(key_type, &secret, &packet[..mac_offset]);
    assert_eq!(packet[mac_offset..mac_offset + 4], id.to_be_bytes());
    assert_eq!(&packet[mac_offset + 4..], &reference[..], "{key_type} digest differs from the reference");
    assert!(key.digest(&packet[..mac_offset]).ct_eq(&reference));

    // Accepted with the key, by every kind of lookup that trusts it.
    assert_eq!(verify(packet, &key).map(Key::id), Ok(id));
    assert_eq!(verify(packet, std::slice::from_ref(&key)).map(Key::id), Ok(id));
    let mut ring = Keyring::new();
    ring.insert(key.clone(), true);
    assert_eq!(verify(packet, &ring).map(Key::id), Ok(id));
    assert!(!is_crypto_nak(packet));
    // Refused when the ring does not trust it, does not hold it, or holds a
    // key of another digest length under its id.
    ring.set_trusted(id, false);
    assert_eq!(verify(packet, &ring).map(Key::id), Err(AuthError::UntrustedKey { key_id: id }));
    assert_eq!(verify(packet, &Keyring::new()).map(Key::id), Err(AuthError::UnknownKey { key_id: id }));
    let other_type = if key.digest_len() == 16 { KeyType::Sha1 } else { KeyType::Md5 };
    let other = Key::new(id, other_type, b"other").expect("valid key");
    let error = AuthError::DigestLength {
        key_id: id,
        key_type: other_type,
        len: key.digest_len(),
        expected: other.digest_len(),
    };
    assert_eq!(verify(packet, &other).map(Key::id), Err(error));

    // Any single byte changed makes it fail.
    let mask = if input.mask == 0 { 1 } else { input.mask };
    let mut tampered = packet.to_vec();
    for i in 0..len {
        tampered[i] ^= mask;
        let result = verify(&tampered, &key).map(Key::id);
        if i < HEADER_LEN || i >= mac_offset + 4 {
            assert_eq!(result, Err(AuthError::BadMac { key_id: id }), "byte {i} of {len} changed");
        } else if i >= mac_offset {
            let key_id = u32::from_be_bytes(tampered[mac_offset..mac_offset + 4].try_into().unwrap());
            assert_eq!(result, Err(AuthError::UnknownKey { key_id }), "key id byte {i} changed");
        } else {
            assert!(result.is_err(), "byte {i} of an extension field changed, still verified");
        }
        tampered[i] ^= mask;
    }
    assert_eq!(tampered, packet);

    // The same packet without a MAC, and with a crypto-NAK.
    let mut plain = vec![0u8; capacity];
    plain[..HEADER_LEN].copy_from_slice(&input.header);
    let end = write_fields(&mut plain, &fields, false);
    assert_eq!(verify(&plain[..end], &key).map(Key::id), Err(AuthError::NoMac));
    assert!(!is_crypto_nak(&plain[..end]));
    let nak_len = emit_crypto_nak(&mut plain, end).expect("room for a crypto-NAK");
    assert_eq!(nak_len, end + 4);
    assert!(is_crypto_nak(&plain[..nak_len]));
    assert_eq!(verify(&plain[..nak_len], &key).map(Key::id), Err(AuthError::CryptoNak));
    assert_eq!(verify(&plain[..nak_len], &fixed().ring).map(Key::id), Err(AuthError::CryptoNak));
}

/// Writes `fields` after the header already in `buf`; returns where they end.
fn write_fields(buf: &mut [u8], fields: &[(u16, &[u8])], mac_follows: bool) -> usize {
    let mut writer = ExtensionFieldWriter::new(buf);
    for (field_type, value) in fields {
        writer.push(*field_type, value).expect("room for the field");
    }
    writer.finish(mac_follows).expect("room to finish")
}
