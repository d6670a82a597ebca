//! Fuzz target `control_packet`: untrusted bytes through the mode 6 decode
//! surface of `ntp_wire::control`.
//!
//! What must hold for every input:
//!
//! * Nothing panics: the unchecked view (every getter, `data`, `mac`,
//!   `error_code`, `verify`), `ControlRepr::parse` on it.
//! * `ControlPacket::new_checked` and `ControlRepr::from_bytes` accept and
//!   refuse the same inputs, for the same reason.
//! * After `new_checked`: the length is a multiple of 4, the data is `count`
//!   (at most 468) bytes after the 12-byte header, and the MAC, when there
//!   is one, starts at `mac_offset()` (`round8(12 + count)`, or 12 for an
//!   error response without data) and is 20 or 24 bytes.
//! * Round trip: `parse` -> `emit` reproduces the header and data byte for
//!   byte and parses back to the same `ControlRepr`; `emit_signed` with
//!   either test key parses back to it too and verifies with that key only.
//! * `verify` against the fixed keys says `Ok` only when the digest over
//!   the bytes before the MAC, computed afresh, matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_wire::auth::{AuthError, Key, KeyEntry, KeyType};
use ntp_wire::control::{CONTROL_HEADER_LEN, ControlPacket, ControlRepr, MAX_DATA_LEN};

fn keys() -> [KeyEntry; 2] {
    // The public keys of ntp-wire/testdata: captured signed messages verify.
    [
        KeyEntry::trusted(Key::new(1, KeyType::Md5, b"interop-md5-key").expect("valid key")),
        KeyEntry::trusted(Key::new(2, KeyType::Sha1, b"ntp-wire sha1 key!!!").expect("valid key")),
    ]
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let view = ControlPacket::new_unchecked(data);
    let _ = (view.leap(), view.version(), view.mode(), view.is_response(), view.is_error(), view.more());
    let _ = (view.opcode(), view.sequence(), view.status(), view.association_id(), view.offset());
    let _ = (view.count(), view.data(), view.mac(), view.error_code(), view.verify(&keys[..]));
    let _ = ControlRepr::parse(&view);

    let checked = ControlPacket::new_checked(data);
    let from_bytes = ControlRepr::from_bytes(data);
    assert_eq!(checked.as_ref().err(), from_bytes.as_ref().err(), "the two doors disagree");
    let Ok(packet) = checked else { return };
    let repr = ControlRepr::parse(&packet);
    assert_eq!(Ok(repr), from_bytes);

    assert_eq!(data.len() % 4, 0);
    let count = packet.count() as usize;
    assert!(count <= MAX_DATA_LEN);
    assert_eq!(repr.data, &data[CONTROL_HEADER_LEN..CONTROL_HEADER_LEN + count]);
    match packet.mac() {
        Some(mac) => {
            assert_eq!(data.len(), packet.mac_offset() + 4 + mac.digest.len());
            assert!(mac.digest.len() == 16 || mac.digest.len() == 20);
            let covered = &data[..packet.mac_offset()];
            let matching = keys.iter().find(|k| k.key.id() == mac.key_id && k.key.digest_len() == mac.digest.len());
            match packet.verify(&keys[..]) {
                Ok(key) => {
                    assert_eq!(key.id(), mac.key_id);
                    assert!(key.digest(covered).ct_eq(mac.digest));
                }
                Err(AuthError::BadMac { key_id }) => {
                    assert_eq!(key_id, mac.key_id);
                    let key = &matching.expect("BadMac only for a known key of the right type").key;
                    assert!(!key.digest(covered).ct_eq(mac.digest));
                }
                Err(AuthError::UnknownKey { .. } | AuthError::DigestLength { .. }) => {
                    assert!(matching.is_none());
                }
                Err(other) => panic!("unexpected verify error {other:?}"),
            }
        }
        None => {
            assert!(data.len() <= packet.mac_offset());
            assert_eq!(packet.verify(&keys[..]), Err(AuthError::NoMac));
        }
    }

    let mut out = [0u8; 600];
    let len = repr.emit(&mut out).expect("a parsed message fits 600 bytes");
    assert_eq!(len % 4, 0);
    assert_eq!(&out[..CONTROL_HEADER_LEN + count], &data[..CONTROL_HEADER_LEN + count]);
    assert!(out[CONTROL_HEADER_LEN + count..len].iter().all(|&b| b == 0));
    assert_eq!(ControlRepr::from_bytes(&out[..len]), Ok(repr));

    for (i, entry) in keys.iter().enumerate() {
        let len = repr.emit_signed(&mut out, &entry.key).expect("a signed message fits 600 bytes");
        let signed = ControlPacket::new_checked(&out[..len]).expect("what we sign is well formed");
        assert_eq!(ControlRepr::parse(&signed), repr);
        assert_eq!(signed.verify(&entry.key).map(Key::id), Ok(entry.key.id()));
        let other = &keys[1 - i].key;
        assert!(signed.verify(other).is_err());
    }
});
