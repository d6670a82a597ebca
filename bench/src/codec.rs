//! Codec: ntp-wire against `ntp-proto` (ntpd-rs's packet layer) and
//! `ntp-parser` (rusticata's nom parser), on one server reply, in one run.
//!
//! Fairness: every side gets the same 48 bytes through `black_box` and does
//! a full checked decode into its own owned value, which goes back out
//! through `black_box` (by reference, see [`sink`]):
//!
//! * ntp-wire: `Packet::new_checked` (length, and the trailer walk) then
//!   `Repr::parse`.
//! * ntp-proto: `NtpPacket::deserialize(bytes, &NoCipher)`, the path for a
//!   packet without NTS (no key set, nothing to decrypt).
//! * ntp-parser: `parse_ntp`, plus the check that nothing was left over
//!   (ntp-wire rejects trailing garbage, so the peer must not skip it).
//!
//! Encoding writes the same reply into a 48-byte buffer: `Repr::emit_into`
//! against `NtpPacket::serialize` into a `Cursor` over the buffer. Both sides
//! are checked to produce the input bytes before anything is timed.

use std::hint::black_box;
use std::io::Cursor;

use ntp_proto::{DecodedServerCookie, NoCipher, NtpPacket, PacketParsingError};
use ntp_wire::{Packet, Repr};

use crate::harness::{measure, print_ratio};

/// A server reply as chrony sends it: LI 0, version 4, mode 4, stratum 2,
/// poll 6, precision -24, root delay ~40 ms, root dispersion ~110 ms, refid
/// 192.0.2.1 and four timestamps. The same bytes as in
/// `ntp-wire/benches/codec.rs`.
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

/// Keeps a whole result: the value escapes to memory through `black_box`.
///
/// Why by reference: returning a `Result` from the timed closure puts it
/// through `black_box` by value, and LLVM then carries every field of the
/// previous iteration's value around the loop for the branch that leaves
/// them unwritten (the `Err` case), spilling and reloading them: more stores
/// than the 48-byte decode itself. A reference makes the value escape once,
/// which is what a caller that keeps the result pays. Every side gets the
/// same treatment.
#[inline(always)]
fn sink<T>(value: T) {
    black_box(&value);
}

fn wire_decode(bytes: &[u8]) -> Result<Repr, ntp_wire::Error> {
    Repr::parse(&Packet::new_checked(bytes)?)
}

/// ntp-proto's own result: the packet and, on the NTS path only, a cookie.
type ProtoDecoded<'a> = Result<(NtpPacket<'a>, Option<DecodedServerCookie>), PacketParsingError<'a>>;

#[allow(clippy::result_large_err)] // ntp-proto's signature, kept as it is
fn proto_decode(bytes: &[u8]) -> ProtoDecoded<'_> {
    NtpPacket::deserialize(bytes, &NoCipher)
}

fn parser_decode(bytes: &[u8]) -> Option<ntp_parser::NtpPacket<'_>> {
    match ntp_parser::parse_ntp(bytes) {
        Ok(([], packet)) => Some(packet),
        _ => None,
    }
}

fn wire_encode(repr: &Repr, buf: &mut [u8]) -> Result<usize, ntp_wire::Error> {
    repr.emit_into(buf)
}

fn proto_encode(packet: &NtpPacket<'_>, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut cursor = Cursor::new(buf);
    packet.serialize(&mut cursor, &NoCipher, None)?;
    Ok(cursor.position() as usize)
}

/// Measures and prints the `decode` and `encode` ratios.
pub fn run() {
    let bytes = &SERVER_REPLY[..];

    // Every side must decode the reply and encode it back byte for byte;
    // otherwise the timings would compare different work.
    let repr = wire_decode(bytes).expect("ntp-wire decodes the reply");
    let proto = match proto_decode(bytes) {
        Ok((packet, None)) => packet,
        _ => panic!("ntp-proto decodes the reply (without NTS)"),
    };
    let parsed = parser_decode(bytes).expect("ntp-parser decodes the reply");
    match &parsed {
        ntp_parser::NtpPacket::V4(p) => {
            assert_eq!((p.mode.0, p.stratum, p.ts_xmit), (4, 2, repr.transmit_time.to_bits()));
        }
        ntp_parser::NtpPacket::V3(_) => panic!("ntp-parser read a version 4 reply as version 3"),
    }
    let mut buf = [0u8; 48];
    assert_eq!(wire_encode(&repr, &mut buf).ok(), Some(48));
    assert_eq!(buf, SERVER_REPLY, "ntp-wire encodes the reply back");
    let mut buf = [0u8; 48];
    assert_eq!(proto_encode(&proto, &mut buf).ok(), Some(48));
    assert_eq!(buf, SERVER_REPLY, "ntp-proto encodes the reply back");

    // Decode: ours against each peer.
    let (ours, peer) = compare(|| sink(wire_decode(black_box(bytes))), || sink(proto_decode(black_box(bytes))));
    print_ratio("decode", ours, "ntp-proto", peer);
    let (ours, peer) = compare(|| sink(wire_decode(black_box(bytes))), || sink(parser_decode(black_box(bytes))));
    print_ratio("decode", ours, "ntp-parser", peer);

    // Encode: the same reply into the same kind of 48-byte buffer.
    let (mut our_buf, mut peer_buf) = ([0u8; 48], [0u8; 48]);
    let (ours, peer) = compare(
        || {
            sink(wire_encode(black_box(&repr), black_box(&mut our_buf[..])));
            black_box(&our_buf);
        },
        || {
            sink(proto_encode(black_box(&proto), black_box(&mut peer_buf[..])));
            black_box(&peer_buf);
        },
    );
    print_ratio("encode", ours, "ntp-proto", peer);
}

/// Rounds of back-to-back measurements per comparison.
const ROUNDS: usize = 5;

/// Measures `ours` and `peer` alternately, [`ROUNDS`] times each, and keeps
/// each side's fastest median. On a shared two-core machine a build elsewhere
/// can slow a whole measurement, and load only ever adds time; alternating
/// gives both sides the same chances at a quiet moment (as `auth` does).
fn compare<A: FnMut() -> RA, RA, B: FnMut() -> RB, RB>(mut ours: A, mut peer: B) -> (f64, f64) {
    let (mut ours_ns, mut peer_ns) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        ours_ns = ours_ns.min(measure(&mut ours));
        peer_ns = peer_ns.min(measure(&mut peer));
    }
    (ours_ns, peer_ns)
}
