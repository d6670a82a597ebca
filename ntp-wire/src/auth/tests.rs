//! Known answers from independent implementations, and properties of the
//! whole sign/verify/key-file surface.

use proptest::prelude::*;

use super::*;
use crate::trailer::ExtensionFieldWriter;
use crate::{Mode, Repr};

/// Vectors computed by `testdata/auth/make_vectors.py` with Python's hashlib
/// and the `cryptography` package.
const VECTORS: &str = include_str!("../../testdata/auth/vectors.txt");

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex in vectors: {text}");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn test_vectors_from_independent_implementation() {
    let (mut digests, mut macs) = (0, 0);
    let mut types_seen = std::collections::BTreeSet::new();
    for line in VECTORS.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        let key_type: KeyType = fields[1].parse().unwrap();
        types_seen.insert(key_type);
        match fields[0] {
            "digest" => {
                let key = Key::new(1, key_type, &hex(fields[2])).unwrap();
                let data = hex(fields[3]);
                assert_eq!(key.digest(&data).as_bytes(), hex(fields[4]), "{line}");
                digests += 1;
            }
            "mac" => {
                let key_id: u32 = fields[2].parse().unwrap();
                let key = Key::new(key_id, key_type, &hex(fields[3])).unwrap();
                let packet = hex(fields[4]);
                let trailer = hex(fields[5]);
                let mut buf = packet.clone();
                buf.resize(packet.len() + 24, 0xee);
                let len = sign(&mut buf, packet.len(), &key).unwrap();
                assert_eq!(&buf[packet.len()..len], trailer, "{line}");
                let wire = [packet, trailer].concat();
                assert_eq!(verify(&wire, &key).map(Key::id), Ok(key_id));
                macs += 1;
            }
            other => panic!("unknown record {other}"),
        }
    }
    assert_eq!(types_seen.len(), KeyType::ALL.len(), "every key type has vectors");
    assert!(digests > 300 && macs > 50, "{digests} digests, {macs} macs");
}

#[test]
fn test_md5_legacy_vector() {
    let key = Key::new(1, KeyType::Md5, b"abcdefgh").unwrap();
    assert_eq!(key.digest(b"ijklmnopqrstuvwx").as_bytes(), hex("0c0e84cf0bb7a8688e5238dbbc1c3953"));
}

/// RFC 4493 §4 example message; the examples use its first 0, 16, 40 and 64 bytes.
const CMAC_MESSAGE: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                            30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

#[test]
fn test_rfc4493_aes128_cmac() {
    let key = Key::new(1, KeyType::Aes128Cmac, &hex("2b7e151628aed2a6abf7158809cf4f3c")).unwrap();
    let message = hex(CMAC_MESSAGE);
    for (len, tag) in [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ] {
        assert_eq!(key.digest(&message[..len]).as_bytes(), hex(tag), "Mlen = {len}");
    }
}

#[test]
fn test_sp800_38b_aes256_cmac() {
    // NIST SP 800-38B Appendix D.3 (same message as RFC 4493).
    let key =
        Key::new(1, KeyType::Aes256Cmac, &hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"))
            .unwrap();
    let message = hex(CMAC_MESSAGE);
    for (len, tag) in [
        (0, "028962f61b7bf89efc6b551f4667d983"),
        (16, "28a7023f452e8f82bd4bf28d8c37c35c"),
        (40, "aaf3d8f1de5640c232f5b169b9c911e6"),
        (64, "e1992190549f6ed5696a2c056c315410"),
    ] {
        assert_eq!(key.digest(&message[..len]).as_bytes(), hex(tag), "Mlen = {len}");
    }
}

#[test]
fn test_same_keys_from_both_file_formats() {
    let chrony = "\
1 MD5 HEX:0102030405060708090a0b0c0d0e0f10
2 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70
3 AES128 HEX:7EA62AE64D190114D46D5A082F948EC1
4 tulip
";
    let ntp = "\
1 md5 0102030405060708090a0b0c0d0e0f10
2 sha1 933f62be1d604e68a81b557f18cfa200483f5b70
3 aes-128 7ea62ae64d190114d46d5a082f948ec1
4 M tulip
";
    let from_chrony = Keyring::from_chrony_keys(chrony).unwrap();
    let mut from_ntp = Keyring::from_ntp_keys(ntp).unwrap();
    assert_ne!(from_chrony, from_ntp, "ntp.keys trusts nothing by itself");
    assert_eq!(from_ntp.trust_list("1-4"), Ok(4));
    assert_eq!(from_chrony, from_ntp);
}

fn any_key() -> impl Strategy<Value = Key> {
    (0..KeyType::ALL.len(), 1u32.., proptest::collection::vec(any::<u8>(), 1..80)).prop_map(|(t, id, mut secret)| {
        let key_type = KeyType::ALL[t];
        if let Some(len) = key_type.required_secret_len() {
            secret.resize(len, 0x5c);
        }
        Key::new(id, key_type, &secret).unwrap()
    })
}

/// A signed packet: random header, zero to two extension fields, MAC.
fn any_signed_packet() -> impl Strategy<Value = (Key, Vec<u8>)> {
    (
        any_key(),
        any::<[u8; 48]>(),
        proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..3),
    )
        .prop_map(|(key, header, fields)| {
            let mut buf = vec![0u8; 512];
            buf[..48].copy_from_slice(&header);
            let mut writer = ExtensionFieldWriter::new(&mut buf);
            for (field_type, value) in &fields {
                writer.push(*field_type, value).unwrap();
            }
            let mac_offset = writer.finish(true).unwrap();
            let len = sign(&mut buf, mac_offset, &key).unwrap();
            buf.truncate(len);
            (key, buf)
        })
}

proptest! {
    #[test]
    fn prop_sign_verify_round_trip((key, packet) in any_signed_packet()) {
        prop_assert_eq!(packet.len() % 4, 0);
        let ring: Keyring = [KeyEntry::trusted(key.clone())].into_iter().collect();
        prop_assert_eq!(verify(&packet, &ring).map(Key::id), Ok(key.id()));
        prop_assert_eq!(verify(&packet, std::slice::from_ref(&key)).map(Key::id), Ok(key.id()));
        // Known but untrusted: refused, and said so.
        let untrusted = [KeyEntry::untrusted(key.clone())];
        prop_assert_eq!(verify(&packet, &untrusted), Err(AuthError::UntrustedKey { key_id: key.id() }));
    }

    #[test]
    fn prop_any_bit_flip_fails((key, packet) in any_signed_packet(), bit in any::<prop::sample::Index>()) {
        let bit = bit.index(packet.len() * 8);
        let mut tampered = packet.clone();
        tampered[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify(&tampered, &key).is_err(), "flipping bit {} was not noticed", bit);
    }

    #[test]
    fn prop_wrong_secret_fails((key, packet) in any_signed_packet(), other in proptest::collection::vec(any::<u8>(), 1..80)) {
        let mut secret = other;
        if let Some(len) = key.key_type().required_secret_len() {
            secret.resize(len, 0xa3);
        }
        prop_assume!(secret != key.expose_secret());
        let impostor = Key::new(key.id(), key.key_type(), &secret).unwrap();
        prop_assert_eq!(verify(&packet, &impostor), Err(AuthError::BadMac { key_id: key.id() }));
    }

    #[test]
    fn prop_verify_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), key in any_key()) {
        let _ = verify(&bytes, &key);
        let _ = is_crypto_nak(&bytes);
        // The same bytes dressed with the key's id and a plausible length.
        let mut dressed = bytes.clone();
        dressed.resize(48 + key.mac_len(), 0);
        dressed[48..52].copy_from_slice(&key.id().to_be_bytes());
        let result = verify(&dressed, &key);
        prop_assert!(matches!(result, Ok(_) | Err(AuthError::BadMac { .. })), "{:?}", result);
    }

    #[test]
    fn prop_sign_never_panics(len in 0usize..128, offset in 0usize..160, key in any_key()) {
        let mut buf = vec![0u8; len];
        match sign(&mut buf, offset, &key) {
            Ok(end) => prop_assert!(offset >= 48 && end == offset + key.mac_len() && end <= len),
            Err(_) => prop_assert!(offset < 48 || offset + key.mac_len() > len),
        }
    }

    #[test]
    fn prop_key_file_parsers_never_panic(text in "(\\PC{0,40}\n?){0,6}") {
        for item in parse_ntp_keys(&text) { let _ = item; }
        for item in parse_chrony_keys(&text) { let _ = item; }
        for item in parse_trusted_keys(&text) { let _ = item; }
        let _ = Keyring::from_ntp_keys(&text);
        let _ = Keyring::from_chrony_keys(&text);
    }

    #[test]
    fn prop_key_file_errors_never_echo_secrets(
        secret in "[G-Zg-z][A-Za-z0-9]{7,30}",
        layout in 0usize..8,
    ) {
        // Lines that are wrong in some way, with the secret in every field position.
        let line = match layout {
            0 => secret.clone(),
            1 => format!("1 {secret}"),
            2 => format!("{secret} MD5 key"),
            3 => format!("1 {secret} key"),
            4 => format!("1 MD5 {secret} extra"),
            5 => format!("1 SHA1 {secret}{secret}"),
            6 => format!("1 AES128 HEX:{secret}"),
            _ => format!("1 AES256 ASCII:{secret}"),
        };
        for error in parse_ntp_keys(&line).chain(parse_chrony_keys(&line)).filter_map(Result::err) {
            let shown = format!("{error} {error:?}");
            prop_assert!(!shown.contains(&secret), "{}", shown);
        }
    }

    #[test]
    fn prop_chrony_hex_round_trip(id in 1u32.., t in 0..KeyType::ALL.len(), secret in proptest::collection::vec(any::<u8>(), 1..64)) {
        let key_type = KeyType::ALL[t];
        let mut secret = secret;
        if let Some(len) = key_type.required_secret_len() {
            secret.resize(len, 1);
        }
        let hex: String = secret.iter().map(|b| format!("{b:02X}")).collect();
        let line = format!("{id} {key_type} HEX:{hex}");
        let parsed: Vec<_> = parse_chrony_keys(&line).collect();
        prop_assert_eq!(parsed.len(), 1);
        let (_, key) = parsed.into_iter().next().unwrap().unwrap();
        prop_assert_eq!(key, Key::new(id, key_type, &secret).unwrap());
    }
}

#[test]
fn test_client_request_signed_for_each_type() {
    // The shape the interop test sends: a bare client header and a MAC.
    for key_type in KeyType::ALL {
        let secret = [0x11u8; 32];
        let key = Key::new(10, key_type, &secret[..key_type.required_secret_len().unwrap_or(20)]).unwrap();
        let mut buf = [0u8; 72];
        let header_len = Repr { mode: Mode::Client, ..Repr::default() }.emit_into(&mut buf).unwrap();
        let len = sign(&mut buf, header_len, &key).unwrap();
        assert_eq!(len, 48 + key_type.mac_len());
        let packet = crate::Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(packet.mode(), Mode::Client);
        assert_eq!(verify(&buf[..len], &key).map(Key::id), Ok(10));
    }
}
