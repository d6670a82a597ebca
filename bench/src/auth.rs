//! Auth: `ntp_wire::auth::{sign, verify}` against the raw primitives they
//! wrap, on a 48-byte client request, in one run.
//!
//! What each side does per call:
//!
//! * MD5, raw: `Md5::new()`, absorb the 16-byte key, absorb the packet,
//!   finalize (the md-5 crate called directly, as an ntpd port would).
//! * AES-128-CMAC, raw: clone a `Cmac<Aes128Enc>` made once from the key
//!   (so the key schedule is not redone per call), absorb the packet,
//!   finalize. `Aes128Enc` is the cipher ntp-wire keeps too, so both sides
//!   copy the same key schedule per call.
//! * sign, ours: the digest as above from the key's prepared state, plus
//!   writing the key id and digest into the packet buffer.
//! * verify, ours: the trailer walk that finds the MAC, the key lookup in a
//!   four-key `Keyring`, the digest, and the constant-time comparison. The
//!   raw side computes the digest and compares it with `==`.
//!
//! The ratio is raw/ours: 1.0 means no overhead, 0.9 means ours takes 11%
//! longer.
//!
//! Each pair is measured in alternating rounds and each side keeps its
//! fastest median: on a shared two-core machine a build elsewhere can slow
//! one side's whole measurement, and load only ever adds time.

use std::hint::black_box;

use aes::Aes128Enc;
use cmac::{Cmac, KeyInit, Mac};
use md5::{Digest, Md5};
use ntp_wire::auth::{Key, KeyType, Keyring, sign, verify};

use crate::harness::{measure, print_ratio};

/// A client request as chrony sends it (mode 3, version 4, poll 6, transmit time set).
const REQUEST: [u8; 48] = [
    0x23, 0x00, 0x06, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xec, 0xa5, 0x5e, 0x80, 0x12, 0x34, 0x56, 0x78,
];

const MD5_SECRET: [u8; 16] = *b"interop-md5-key!";
const AES_SECRET: [u8; 16] =
    [0x62, 0xa6, 0xcf, 0x42, 0x2d, 0xcd, 0xc5, 0x58, 0x81, 0x64, 0xa3, 0x20, 0xe5, 0x19, 0x22, 0xbc];

fn raw_md5(key: &[u8], packet: &[u8]) -> [u8; 16] {
    Md5::new().chain_update(key).chain_update(packet).finalize().into()
}

fn raw_cmac(prepared: &Cmac<Aes128Enc>, packet: &[u8]) -> [u8; 16] {
    prepared.clone().chain_update(packet).finalize().into_bytes().into()
}

/// Rounds of alternating measurements per pair.
const ROUNDS: usize = 5;

/// The fastest of `ROUNDS` medians of each closure, measured alternately.
fn compare<A, B>(mut ours: impl FnMut() -> A, mut raw: impl FnMut() -> B) -> (f64, f64) {
    (0..ROUNDS).fold((f64::INFINITY, f64::INFINITY), |(best_ours, best_raw), _| {
        (best_ours.min(measure(&mut ours)), best_raw.min(measure(&mut raw)))
    })
}

pub fn run() {
    let md5_key = Key::new(1, KeyType::Md5, &MD5_SECRET).expect("MD5 key");
    let aes_key = Key::new(6, KeyType::Aes128Cmac, &AES_SECRET).expect("AES key");
    let prepared = <Cmac<Aes128Enc> as KeyInit>::new_from_slice(&AES_SECRET).expect("CMAC key");
    let mut ring = Keyring::new();
    ring.insert(md5_key.clone(), true);
    ring.insert(aes_key.clone(), true);
    for id in [2, 3] {
        ring.insert(Key::new(id, KeyType::Sha1, b"filler key").expect("filler"), true);
    }

    // Both sides must agree before anything is timed.
    let mut md5_packet = [0u8; 68];
    md5_packet[..48].copy_from_slice(&REQUEST);
    sign(&mut md5_packet, 48, &md5_key).expect("sign MD5");
    assert_eq!(md5_packet[52..], raw_md5(&MD5_SECRET, &REQUEST));
    let mut aes_packet = [0u8; 68];
    aes_packet[..48].copy_from_slice(&REQUEST);
    sign(&mut aes_packet, 48, &aes_key).expect("sign CMAC");
    assert_eq!(aes_packet[52..], raw_cmac(&prepared, &REQUEST));
    assert_eq!(verify(&md5_packet, &ring).map(Key::id), Ok(1));
    assert_eq!(verify(&aes_packet, &ring).map(Key::id), Ok(6));

    let mut buf = [0u8; 68];
    buf[..48].copy_from_slice(&REQUEST);

    let (ours, raw) = compare(
        || sign(black_box(&mut buf), black_box(48), black_box(&md5_key)),
        || raw_md5(black_box(&MD5_SECRET), black_box(&REQUEST)),
    );
    print_ratio("auth.sign.md5", ours, "raw", raw);

    let expected_md5: [u8; 16] = md5_packet[52..].try_into().expect("16 bytes");
    let (ours, raw) = compare(
        || verify(black_box(&md5_packet), black_box(&ring)).is_ok(),
        || raw_md5(black_box(&MD5_SECRET), black_box(&REQUEST)) == black_box(expected_md5),
    );
    print_ratio("auth.verify.md5", ours, "raw", raw);

    let (ours, raw) = compare(
        || sign(black_box(&mut buf), black_box(48), black_box(&aes_key)),
        || raw_cmac(black_box(&prepared), black_box(&REQUEST)),
    );
    print_ratio("auth.sign.aes128cmac", ours, "raw", raw);

    let expected_cmac: [u8; 16] = aes_packet[52..].try_into().expect("16 bytes");
    let (ours, raw) = compare(
        || verify(black_box(&aes_packet), black_box(&ring)).is_ok(),
        || raw_cmac(black_box(&prepared), black_box(&REQUEST)) == black_box(expected_cmac),
    );
    print_ratio("auth.verify.aes128cmac", ours, "raw", raw);
}
