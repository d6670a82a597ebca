//! Fuzz target `packet`: untrusted datagram bytes through the whole decode
//! surface of `ntp-wire`.
//!
//! What must hold for every input (see `ntp_wire::packet`'s contract):
//!
//! * Nothing panics: not the unchecked view (getters and setters, also on
//!   buffers shorter than the header), not `Trailer::split`, not the
//!   `ExtensionFields` iterator over arbitrary bytes.
//! * `new_checked`, `Repr::from_bytes` and `Trailer::split` agree on whether
//!   the bytes are a packet.
//! * Round trip: `new_checked` -> `Repr::parse` -> `emit_into` -> parse gives
//!   the same `Repr`, and emitting it over a copy of the input gives back the
//!   input byte for byte (the header has no field a decoder may normalise).
//! * Trailer invariants after a successful `new_checked`: the MAC offset lies
//!   in the packet, the extension fields tile exactly the bytes between the
//!   header and the MAC, the iterator yields no error, and the authenticator's
//!   length is one the split table allows.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use ntp_wire::packet::HEADER_LEN;
use ntp_wire::trailer::{
    CRYPTO_NAK_LEN, EXTENSION_HEADER_LEN, MAC_LEN_16, MAC_LEN_20, MIN_EXTENSION_LEN, MIN_LAST_EXTENSION_LEN,
};
use ntp_wire::{Authenticator, ExtensionFields, Packet, Repr, Trailer};

fuzz_target!(|data: &[u8]| {
    exercise_unchecked(data);
    exercise_raw_iterator(data);

    let checked = Packet::new_checked(data);
    // The three doors for untrusted bytes must agree with each other.
    let split = Trailer::split(data);
    match (&checked, &split) {
        (Ok(_), Ok(_)) => {}
        (Err(e), _) if data.len() < HEADER_LEN => {
            assert_eq!(*e, ntp_wire::Error::Truncated { len: data.len() });
        }
        (Err(e), Err(f)) => assert_eq!(e, f, "new_checked and Trailer::split disagree on why"),
        _ => panic!("new_checked {checked:?} but Trailer::split {split:?}"),
    }
    assert_eq!(Repr::from_bytes(data).err(), checked.as_ref().err().copied());

    if let Ok(packet) = checked {
        check_round_trip(&packet);
        check_trailer(data, &packet);
    }
});

/// The unchecked view must read (zero on a short buffer) and write (nothing
/// on a short buffer) without panicking; writing back what was read must not
/// change a single byte, whatever the buffer's length.
fn exercise_unchecked(data: &[u8]) {
    let view = Packet::new_unchecked(data);
    let leap = view.leap();
    let version = view.version();
    let mode = view.mode();
    let stratum = view.stratum();
    let poll = view.poll();
    let precision = view.precision();
    let root_delay = view.root_delay();
    let root_dispersion = view.root_dispersion();
    let reference_id = view.reference_id();
    let reference_time = view.reference_time();
    let origin_time = view.origin_time();
    let receive_time = view.receive_time();
    let transmit_time = view.transmit_time();
    black_box((stratum.class(), stratum.is_synchronized(), reference_id.meaning(stratum), reference_id.as_ascii()));
    black_box(reference_id.kiss_code());
    assert_eq!(view.check_len().is_ok(), data.len() >= HEADER_LEN);
    assert_eq!(view.trailer_bytes(), data.get(HEADER_LEN..).unwrap_or(&[]));
    assert_eq!(view.trailer(), Trailer::split(data));
    // Repr::parse on the unchecked view fails exactly on a short buffer.
    assert_eq!(Repr::parse(&view).is_ok(), data.len() >= HEADER_LEN);
    if let Ok(repr) = Repr::parse(&view) {
        black_box(repr.kiss_code());
    }

    let mut copy = data.to_vec();
    let mut view = Packet::new_unchecked(&mut copy[..]);
    view.set_leap(leap);
    view.set_version(version);
    view.set_mode(mode);
    view.set_stratum(stratum);
    view.set_poll(poll);
    view.set_precision(precision);
    view.set_root_delay(root_delay);
    view.set_root_dispersion(root_dispersion);
    view.set_reference_id(reference_id);
    view.set_reference_time(reference_time);
    view.set_origin_time(origin_time);
    view.set_receive_time(receive_time);
    view.set_transmit_time(transmit_time);
    black_box(view.as_bytes_mut());
    assert_eq!(copy, data, "setting each field to the value read changed the buffer");
}

/// `ExtensionFields::new` is public and may be handed any bytes: it must end,
/// yield only well-formed fields, and stop for good after its first error.
fn exercise_raw_iterator(data: &[u8]) {
    let from_header = data.get(HEADER_LEN..).unwrap_or(&[]);
    for (bytes, offset) in [(data, 0), (from_header, HEADER_LEN)] {
        let mut fields = ExtensionFields::new(bytes, offset);
        let mut consumed = 0;
        while let Some(item) = fields.next() {
            match item {
                Ok(field) => {
                    let len = field.wire_len();
                    assert!(len >= MIN_EXTENSION_LEN && len % 4 == 0, "iterator yielded a {len}-byte field");
                    assert_eq!(bytes.get(consumed + EXTENSION_HEADER_LEN..consumed + len), Some(field.value));
                    consumed += len;
                }
                Err(e) => {
                    black_box(e);
                    assert!(fields.next().is_none(), "iterator went on after an error");
                    break;
                }
            }
        }
        assert!(consumed <= bytes.len());
    }
}

/// parse -> emit -> parse is the identity, and the emitted header is the
/// input's header, byte for byte.
fn check_round_trip(packet: &Packet<&[u8]>) {
    let data = packet.as_bytes();
    let repr = Repr::parse(packet).expect("Repr::parse failed after new_checked");
    assert_eq!(repr.buffer_len(), HEADER_LEN);

    // Every getter agrees with the Repr.
    assert_eq!(packet.leap(), repr.leap);
    assert_eq!(packet.version(), repr.version);
    assert_eq!(packet.mode(), repr.mode);
    assert_eq!(packet.stratum(), repr.stratum);
    assert_eq!(packet.poll(), repr.poll);
    assert_eq!(packet.precision(), repr.precision);
    assert_eq!(packet.root_delay(), repr.root_delay);
    assert_eq!(packet.root_dispersion(), repr.root_dispersion);
    assert_eq!(packet.reference_id(), repr.reference_id);
    assert_eq!(packet.reference_time(), repr.reference_time);
    assert_eq!(packet.origin_time(), repr.origin_time);
    assert_eq!(packet.receive_time(), repr.receive_time);
    assert_eq!(packet.transmit_time(), repr.transmit_time);

    // Into a fresh header-sized buffer, then parsed again.
    let mut fresh = [0u8; HEADER_LEN];
    assert_eq!(repr.emit_into(&mut fresh), Ok(HEADER_LEN));
    assert_eq!(Repr::from_bytes(&fresh), Ok(repr), "parse(emit(parse(x))) != parse(x)");
    assert_eq!(fresh[..], data[..HEADER_LEN], "emitted header differs from the parsed one");

    // Over a scrambled copy of the whole input, through the view: the
    // header is rewritten, the trailer left alone, so the input comes back.
    let mut copy = data.to_vec();
    for b in &mut copy[..HEADER_LEN] {
        *b = !*b;
    }
    let mut view = Packet::new_unchecked(&mut copy[..]);
    assert_eq!(repr.emit(&mut view), Ok(()));
    assert_eq!(copy, data, "re-emitting the header did not reproduce the input");

    // A buffer one byte short is refused, not written past.
    let mut short = [0u8; HEADER_LEN - 1];
    assert!(repr.emit_into(&mut short).is_err());
}

/// The structure `Trailer::split` reports must describe the bytes exactly.
fn check_trailer(data: &[u8], packet: &Packet<&[u8]>) {
    let trailer = packet.trailer().expect("trailer() failed after new_checked");
    let auth_offset = trailer.auth_offset();
    assert!((HEADER_LEN..=data.len()).contains(&auth_offset), "auth_offset {auth_offset} outside the packet");
    assert_eq!(trailer.extension_bytes(), &data[HEADER_LEN..auth_offset]);

    // The fields tile the extension bytes: in order, without gap or error,
    // each one's value borrowed from where the packet holds it.
    let mut pos = HEADER_LEN;
    let mut last_len = None;
    for item in trailer.extension_fields() {
        let field = item.expect("extension field error after a successful new_checked");
        let len = field.wire_len();
        assert!(len >= MIN_EXTENSION_LEN && len % 4 == 0, "{len}-byte extension field accepted");
        assert_eq!(u16::from_be_bytes([data[pos], data[pos + 1]]), field.field_type);
        assert_eq!(usize::from(u16::from_be_bytes([data[pos + 2], data[pos + 3]])), len);
        assert!(std::ptr::eq(field.value, &data[pos + EXTENSION_HEADER_LEN..pos + len]));
        pos += len;
        last_len = Some(len);
    }
    assert_eq!(pos, auth_offset, "extension fields do not end where the MAC starts");

    let auth_len = data.len() - auth_offset;
    match trailer.authenticator() {
        Authenticator::None => {
            assert_eq!(auth_len, 0);
            // RFC 7822 §7.5: without a MAC the last field is at least 28
            // bytes, so it can never be mistaken for one.
            if let Some(len) = last_len {
                assert!(len >= MIN_LAST_EXTENSION_LEN, "{len}-byte last field accepted without a MAC");
            }
        }
        Authenticator::CryptoNak => {
            assert_eq!(auth_len, CRYPTO_NAK_LEN);
            assert_eq!(&data[auth_offset..], &[0; CRYPTO_NAK_LEN]);
        }
        Authenticator::Mac(mac) => {
            assert!(auth_len == MAC_LEN_16 || auth_len == MAC_LEN_20, "{auth_len}-byte MAC accepted");
            let key_id = &data[auth_offset..auth_offset + 4];
            assert_eq!(u32::from_be_bytes([key_id[0], key_id[1], key_id[2], key_id[3]]), mac.key_id);
            assert!(std::ptr::eq(mac.digest, &data[auth_offset + 4..]));
        }
    }
    black_box(trailer);
}
