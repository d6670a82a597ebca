//! Criterion benchmarks for the ntp-wire codec: a checked decode
//! ([`Packet::new_checked`], which also walks the trailer, then
//! [`Repr::parse`]) and an encode ([`Repr::emit_into`], [`Repr::emit`]) of
//! three packets a client sees every day: a plain 48-byte server reply, the
//! same reply with a 20-byte MAC (key id + 16-byte digest), and one with
//! two extension fields before the MAC.
//!
//! `cargo bench -p ntp-wire --bench codec`. Every input goes through
//! `black_box` and every result comes back out through it (by reference, see
//! `sink`), so the optimiser can neither fold the parse into a constant nor
//! drop it. For a same-run comparison against peer crates see `bench/`
//! (`ntp-bench`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ntp_wire::{Authenticator, ExtensionFieldWriter, HEADER_LEN, Mode, Packet, Repr};

/// A server reply as chrony sends it: LI 0, version 4, mode 4, stratum 2,
/// poll 6, precision -24, root delay ~40 ms, root dispersion ~110 ms,
/// refid 192.0.2.1, and the four timestamps.
const SERVER_REPLY: [u8; 48] = [
    0x24, 0x02, 0x06, 0xe8, // LI/VN/mode, stratum, poll, precision
    0x00, 0x00, 0x0a, 0x3d, // root delay
    0x00, 0x00, 0x1c, 0x28, // root dispersion
    0xc0, 0x00, 0x02, 0x01, // reference id
    0xec, 0xa5, 0x5e, 0x7d, 0x34, 0x19, 0x7c, 0x1e, // reference time
    0xec, 0xa5, 0x5e, 0x80, 0x12, 0x34, 0x56, 0x78, // origin time
    0xec, 0xa5, 0x5e, 0x80, 0x1d, 0x4c, 0x7f, 0x2a, // receive time
    0xec, 0xa5, 0x5e, 0x80, 0x1d, 0x4e, 0x8b, 0x39, // transmit time
];

/// Key id and a (made-up) 16-byte digest: an MD5 or AES-CMAC MAC.
const MAC: [u8; 20] = [
    0x00, 0x00, 0x00, 0x2a, 0x0c, 0x0e, 0x84, 0xcf, 0x0b, 0xb7, 0xa8, 0x68, 0x8e, 0x52, 0x38, 0xdb, 0xbc, 0x1c, 0x39,
    0x53,
];

/// The server reply followed by the MAC: 68 bytes.
fn with_mac() -> Vec<u8> {
    let mut bytes = SERVER_REPLY.to_vec();
    bytes.extend_from_slice(&MAC);
    bytes
}

/// Writes the reply's header, a 36-byte unique-identifier field, a 16-byte
/// field, then the MAC, into `buf`; returns the length (48 + 36 + 16 + 20).
fn write_with_extensions(repr: &Repr, buf: &mut [u8]) -> usize {
    repr.emit_into(buf).unwrap();
    let mut writer = ExtensionFieldWriter::new(buf);
    writer.push(0x0104, &[0x5a; 32]).unwrap();
    writer.push(0x0002, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    let end = writer.finish(true).unwrap();
    buf[end..end + MAC.len()].copy_from_slice(&MAC);
    end + MAC.len()
}

/// Keeps a whole result: the value escapes to memory through `black_box`.
///
/// Returning a `Result` from the timed closure would put it through
/// `black_box` by value, and LLVM then carries the previous iteration's
/// fields around the loop for the branch that leaves them unwritten (the
/// `Err` case), spilling and reloading them: more stores than the decode
/// itself. A reference makes the value escape once, as it does for a caller
/// that keeps the result.
#[inline(always)]
fn sink<T>(value: T) {
    black_box(&value);
}

/// The full checked decode the benchmarks time.
#[inline]
fn decode(bytes: &[u8]) -> Result<Repr, ntp_wire::Error> {
    Repr::parse(&Packet::new_checked(bytes)?)
}

fn bench_decode(c: &mut Criterion) {
    let reply = Repr::from_bytes(&SERVER_REPLY).unwrap();
    let mac = with_mac();
    let mut ext = [0u8; 256];
    let ext_len = write_with_extensions(&reply, &mut ext);
    let ext = &ext[..ext_len];

    // Sanity: each input is what its name says, before anything is timed.
    assert_eq!(reply.mode, Mode::Server);
    let mac_packet = Packet::new_checked(&mac[..]).unwrap();
    assert!(matches!(mac_packet.trailer().unwrap().authenticator(), Authenticator::Mac(_)));
    let ext_packet = Packet::new_checked(ext).unwrap();
    assert_eq!(ext_packet.trailer().unwrap().extension_fields().count(), 2);

    let mut group = c.benchmark_group("decode");
    for (name, bytes) in [("server_reply", &SERVER_REPLY[..]), ("mac_20", &mac[..]), ("extensions_mac", ext)] {
        assert_eq!(decode(bytes), Ok(reply));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("checked", name), bytes, |b, bytes| {
            b.iter(|| sink(decode(black_box(bytes))));
        });
    }
    // Only the header (what `Repr::parse` reads), without the trailer walk.
    group.throughput(Throughput::Bytes(HEADER_LEN as u64));
    let packet = Packet::new_unchecked(&SERVER_REPLY[..]);
    group.bench_function("parse_only/server_reply", |b| b.iter(|| sink(Repr::parse(black_box(&packet)))));
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let reply = Repr::from_bytes(&SERVER_REPLY).unwrap();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(HEADER_LEN as u64));

    let mut buf = [0u8; 48];
    group.bench_function("emit_into/server_reply", |b| {
        b.iter(|| {
            sink(black_box(&reply).emit_into(black_box(&mut buf[..])));
            black_box(&buf);
        });
    });
    assert_eq!(buf, SERVER_REPLY);

    let mut packet = Packet::new_unchecked([0u8; 48]);
    group.bench_function("emit/server_reply", |b| {
        b.iter(|| {
            sink(black_box(&reply).emit(black_box(&mut packet)));
            black_box(&packet);
        });
    });
    assert_eq!(packet.into_inner(), SERVER_REPLY);

    // The header plus a MAC copied in after it (the digest itself is
    // computed elsewhere; this is the codec's part of sending it).
    let mut buf = [0u8; 68];
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("emit_into/mac_20", |b| {
        b.iter(|| {
            let buf = black_box(&mut buf[..]);
            let len = black_box(&reply).emit_into(buf).map(|len| {
                buf[len..len + MAC.len()].copy_from_slice(black_box(&MAC));
                len + MAC.len()
            });
            sink(len);
            black_box(&buf);
        });
    });
    assert_eq!(buf[..], with_mac()[..]);

    // The header, two extension fields through `ExtensionFieldWriter`, MAC.
    let mut buf = [0u8; 256];
    group.throughput(Throughput::Bytes(120));
    group.bench_function("emit_into/extensions_mac", |b| {
        b.iter(|| {
            sink(write_with_extensions(black_box(&reply), black_box(&mut buf[..])));
            black_box(&buf);
        });
    });
    assert_eq!(decode(&buf[..120]), Ok(reply));
    group.finish();
}

criterion_group!(benches, bench_decode, bench_encode);
criterion_main!(benches);
