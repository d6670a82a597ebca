//! Fuzz target `extensions`: what `ExtensionFieldWriter` writes,
//! `Trailer::split` must read back.
//!
//! The input is a structured description of a packet (a header, a list of
//! extension fields, and what ends the packet). The target builds it with the
//! crate's own writers into a buffer of exactly the right size or a little
//! less, and checks:
//!
//! * Into a large enough buffer, building never fails, and the result passes
//!   `Packet::new_checked` with the same header, the same fields in the same
//!   order (each value followed only by zero padding, each field of the
//!   length the writer promises) and the same MAC or crypto-NAK.
//! * Into a buffer that is too small, the writer reports `BufferTooSmall`
//!   (never panics, never writes past the end).
#![no_main]

use std::hint::black_box;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntp_wire::packet::HEADER_LEN;
use ntp_wire::trailer::{EXTENSION_HEADER_LEN, MIN_EXTENSION_LEN, MIN_LAST_EXTENSION_LEN, emit_crypto_nak};
use ntp_wire::{Authenticator, Error, ExtensionFieldWriter, Packet, Repr};

/// One packet to build.
#[derive(Arbitrary, Debug)]
struct Input {
    /// The 48 header bytes, taken as they are (any bytes are a valid header).
    header: [u8; HEADER_LEN],
    /// Extension fields in order: type and value (before padding).
    fields: Vec<(u16, Vec<u8>)>,
    /// What follows the fields.
    end: End,
    /// How many bytes the output buffer lacks (0: exactly the right size).
    /// Values above the packet length clamp to an empty buffer.
    shortfall: u8,
}

/// The tail of the packet.
#[derive(Arbitrary, Debug)]
enum End {
    /// Nothing: an unauthenticated packet.
    Nothing,
    /// A crypto-NAK (four zero bytes).
    CryptoNak,
    /// A MAC with a 16-byte digest (MD5, AES-CMAC): 20 bytes.
    Mac16 { key_id: u32, digest: [u8; 16] },
    /// A MAC with a 20-byte digest (SHA1, truncated SHA-2): 24 bytes.
    Mac20 { key_id: u32, digest: [u8; 20] },
}

impl End {
    /// Key id and digest of a MAC, if this is one.
    fn mac(&self) -> Option<(u32, &[u8])> {
        match self {
            End::Mac16 { key_id, digest } => Some((*key_id, &digest[..])),
            End::Mac20 { key_id, digest } => Some((*key_id, &digest[..])),
            End::Nothing | End::CryptoNak => None,
        }
    }

    /// Bytes on the wire.
    fn len(&self) -> usize {
        match self {
            End::Nothing => 0,
            End::CryptoNak => 4,
            End::Mac16 { .. } => 20,
            End::Mac20 { .. } => 24,
        }
    }
}

/// The length `ExtensionFieldWriter::push` gives a field: its header and
/// value, rounded up to a multiple of 4, at least 16.
fn padded_len(value_len: usize) -> usize {
    (EXTENSION_HEADER_LEN + value_len).next_multiple_of(4).max(MIN_EXTENSION_LEN)
}

fuzz_target!(|input: Input| {
    // The packet length the writers should produce.
    let mut wire_lens: Vec<usize> = input.fields.iter().map(|(_, v)| padded_len(v.len())).collect();
    // `finish(false)` pads a short last field to 28 bytes (RFC 7822 §7.5).
    // A crypto-NAK counts as "no MAC" here: a 16- or 20-byte last field plus
    // the 4-byte NAK would be 20 or 24 bytes, which the length rules read as
    // a MAC. So only a real MAC lets the writer skip the padding.
    let mac_follows = input.end.mac().is_some();
    if let Some(last) = wire_lens.last_mut().filter(|_| !mac_follows) {
        *last = (*last).max(MIN_LAST_EXTENSION_LEN);
    }
    let needed = HEADER_LEN + wire_lens.iter().sum::<usize>() + input.end.len();
    let size = needed.saturating_sub(usize::from(input.shortfall));

    // Fill with a non-zero byte so padding the writer forgets shows up.
    let mut buf = vec![0xa5u8; size];
    let built = build(&input, &mut buf, mac_follows);
    if size < needed {
        match built {
            Err(Error::BufferTooSmall { len, needed: want }) => {
                assert_eq!(len, size);
                assert!(want > size && want <= needed, "BufferTooSmall asks for {want}, packet needs {needed}");
            }
            other => panic!("{size}-byte buffer for a {needed}-byte packet: {other:?}"),
        }
        return;
    }
    let len = built.expect("building into a large enough buffer failed");
    assert_eq!(len, needed, "writers produced {len} bytes, expected {needed}");

    let packet = Packet::new_checked(&buf[..]).expect("new_checked rejected what the writers built");
    assert_eq!(packet.as_bytes()[..HEADER_LEN], input.header);
    black_box(Repr::parse(&packet).expect("Repr::parse failed after new_checked"));

    let trailer = packet.trailer().expect("trailer() failed after new_checked");
    let mut got = trailer.extension_fields();
    for (i, ((field_type, value), wire_len)) in input.fields.iter().zip(&wire_lens).enumerate() {
        let field = got.next().unwrap_or_else(|| panic!("field {i} missing")).expect("field error");
        assert_eq!(field.field_type, *field_type, "field {i}: type");
        assert_eq!(field.wire_len(), *wire_len, "field {i}: length");
        let (data, padding) = field.value.split_at(value.len());
        assert_eq!(data, &value[..], "field {i}: value");
        assert!(padding.iter().all(|&b| b == 0), "field {i}: padding not zero");
    }
    assert!(got.next().is_none(), "more fields read than written");
    assert_eq!(trailer.auth_offset(), needed - input.end.len());

    match (&input.end, trailer.authenticator()) {
        (End::Nothing, Authenticator::None) | (End::CryptoNak, Authenticator::CryptoNak) => {}
        (end, Authenticator::Mac(mac)) if end.mac() == Some((mac.key_id, mac.digest)) => {}
        (end, got) => panic!("wrote {end:?}, read {got:?}"),
    }
});

/// Writes the packet described by `input` into `buf` with the crate's
/// writers; returns its length.
fn build(input: &Input, buf: &mut [u8], mac_follows: bool) -> Result<usize, Error> {
    let len = buf.len();
    let header = buf.get_mut(..HEADER_LEN).ok_or(Error::BufferTooSmall { len, needed: HEADER_LEN })?;
    header.copy_from_slice(&input.header);
    let mut writer = ExtensionFieldWriter::new(buf);
    for (field_type, value) in &input.fields {
        writer.push(*field_type, value)?;
    }
    let end = writer.finish(mac_follows)?;
    match &input.end {
        End::Nothing => Ok(end),
        End::CryptoNak => emit_crypto_nak(buf, end),
        End::Mac16 { key_id, digest } => write_mac(buf, end, *key_id, digest),
        End::Mac20 { key_id, digest } => write_mac(buf, end, *key_id, digest),
    }
}

/// Appends key id and digest at `offset`, as a signer would.
fn write_mac(buf: &mut [u8], offset: usize, key_id: u32, digest: &[u8]) -> Result<usize, Error> {
    let end = offset + 4 + digest.len();
    let len = buf.len();
    let slot = buf.get_mut(offset..end).ok_or(Error::BufferTooSmall { len, needed: end })?;
    slot[..4].copy_from_slice(&key_id.to_be_bytes());
    slot[4..].copy_from_slice(digest);
    Ok(end)
}
