//! Property tests over the whole codec: every encode/decode pair round-trips
//! and no input makes it panic.

use proptest::prelude::*;

use crate::*;

pub(crate) fn any_repr() -> impl Strategy<Value = Repr> {
    (
        (0u8..4, 0u8..8, 0u8..8, any::<u8>(), any::<i8>(), any::<i8>()),
        (any::<u32>(), any::<u32>(), any::<[u8; 4]>()),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(|((li, vn, mode, stratum, poll, precision), (rd, rdisp, refid), (rt, ot, rx, tx))| Repr {
            leap: LeapIndicator::from_bits(li),
            version: Version::from_bits(vn),
            mode: Mode::from_bits(mode),
            stratum: Stratum(stratum),
            poll,
            precision,
            root_delay: NtpShort::from_bits(rd),
            root_dispersion: NtpShort::from_bits(rdisp),
            reference_id: ReferenceId(refid),
            reference_time: NtpTimestamp::from_bits(rt),
            origin_time: NtpTimestamp::from_bits(ot),
            receive_time: NtpTimestamp::from_bits(rx),
            transmit_time: NtpTimestamp::from_bits(tx),
        })
}

/// A well-formed trailer: some extension fields, then nothing, a MAC or a NAK.
fn any_trailer() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..4),
        0u8..4,
        any::<u32>(),
        any::<[u8; 20]>(),
    )
        .prop_map(|(fields, auth, key_id, digest)| {
            let mut buf = vec![0u8; 1024];
            let mut w = ExtensionFieldWriter::new(&mut buf);
            for (t, v) in &fields {
                w.push(*t, v).unwrap();
            }
            let key_id = key_id.max(1);
            let mut end = w.finish(auth != 0).unwrap();
            match auth {
                1 => end = trailer::emit_crypto_nak(&mut buf, end).unwrap(),
                2 | 3 => {
                    let digest_len = if auth == 2 { 16 } else { 20 };
                    buf[end..end + 4].copy_from_slice(&key_id.to_be_bytes());
                    buf[end + 4..end + 4 + digest_len].copy_from_slice(&digest[..digest_len]);
                    end += 4 + digest_len;
                }
                _ => {}
            }
            buf.truncate(end);
            buf.split_off(HEADER_LEN)
        })
}

proptest! {
    #[test]
    fn prop_repr_emit_parse_is_identity(repr in any_repr()) {
        let mut buf = [0u8; 48];
        prop_assert_eq!(repr.emit_into(&mut buf), Ok(48));
        prop_assert_eq!(Repr::from_bytes(&buf), Ok(repr));
    }

    #[test]
    fn prop_parse_emit_reproduces_bytes(header in any::<[u8; 48]>(), trailer in any_trailer()) {
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(&trailer);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&packet).unwrap();
        let mut out = bytes.clone();
        out[..48].fill(0);
        repr.emit_into(&mut out).unwrap();
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn prop_setters_match_repr(repr in any_repr()) {
        let mut a = [0u8; 48];
        let mut p = Packet::new_unchecked(&mut a[..]);
        p.set_leap(repr.leap);
        p.set_version(repr.version);
        p.set_mode(repr.mode);
        p.set_stratum(repr.stratum);
        p.set_poll(repr.poll);
        p.set_precision(repr.precision);
        p.set_root_delay(repr.root_delay);
        p.set_root_dispersion(repr.root_dispersion);
        p.set_reference_id(repr.reference_id);
        p.set_reference_time(repr.reference_time);
        p.set_origin_time(repr.origin_time);
        p.set_receive_time(repr.receive_time);
        p.set_transmit_time(repr.transmit_time);
        let mut b = [0u8; 48];
        repr.emit_into(&mut b).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn prop_trailer_round_trips(trailer in any_trailer()) {
        let mut bytes = vec![0u8; 48];
        bytes.extend_from_slice(&trailer);
        let t = Trailer::split(&bytes).unwrap();
        // Re-assemble from the parts: the fields, then the authenticator.
        let mut rebuilt = vec![0u8; 48];
        for field in t.extension_fields() {
            let field = field.unwrap();
            rebuilt.extend_from_slice(&field.field_type.to_be_bytes());
            rebuilt.extend_from_slice(&(field.wire_len() as u16).to_be_bytes());
            rebuilt.extend_from_slice(field.value);
        }
        prop_assert_eq!(rebuilt.len(), t.auth_offset());
        match t.authenticator() {
            Authenticator::None => {}
            Authenticator::CryptoNak => rebuilt.extend_from_slice(&[0; 4]),
            Authenticator::Mac(mac) => {
                rebuilt.extend_from_slice(&mac.key_id.to_be_bytes());
                rebuilt.extend_from_slice(mac.digest);
            }
        }
        prop_assert_eq!(rebuilt, bytes);
    }

    #[test]
    fn prop_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let unchecked = Packet::new_unchecked(&bytes[..]);
        let _ = (unchecked.mode(), unchecked.transmit_time(), unchecked.trailer_bytes());
        let _ = unchecked.trailer();
        let _ = Repr::parse(&unchecked);
        if let Ok(packet) = Packet::new_checked(&bytes[..]) {
            let repr = Repr::parse(&packet).unwrap();
            let trailer = packet.trailer().unwrap();
            prop_assert!(trailer.auth_offset() <= bytes.len());
            for field in trailer.extension_fields() {
                prop_assert!(field.is_ok());
            }
            let _ = repr.kiss_code();
            let _ = repr.reference_id.meaning(repr.stratum);
        }
        for field in ExtensionFields::new(&bytes, 0) {
            let _ = field;
        }
    }

    #[test]
    fn prop_arbitrary_trailer_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..200), lens in proptest::collection::vec(0u16..120, 0..4)) {
        // Random bytes with plausible extension lengths spliced in, to reach deep branches.
        let mut bytes = vec![0u8; 48];
        bytes.extend_from_slice(&tail);
        let mut pos = 48;
        for len in lens {
            if pos + 4 <= bytes.len() {
                bytes[pos + 2..pos + 4].copy_from_slice(&len.to_be_bytes());
                pos += len.max(4) as usize;
            }
        }
        let _ = Trailer::split(&bytes);
    }

    #[test]
    fn prop_sign_to_vec_then_verify(
        repr in any_repr(),
        fields in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..48)), 0..3),
        type_index in 0usize..7,
        id in 1u32..,
        secret in proptest::collection::vec(any::<u8>(), 32),
    ) {
        use crate::auth::{Key, KeyType, sign_to_vec, verify};
        let key_type = KeyType::ALL[type_index];
        let secret = &secret[..key_type.required_secret_len().unwrap_or(20)];
        let key = Key::new(id, key_type, secret).unwrap();
        let mut buf = vec![0u8; 1024];
        repr.emit_into(&mut buf).unwrap();
        let mut w = ExtensionFieldWriter::new(&mut buf);
        for (t, v) in &fields {
            w.push(*t, v).unwrap();
        }
        let end = w.finish(true).unwrap();
        buf.truncate(end);
        let len = sign_to_vec(&mut buf, &key).unwrap();
        prop_assert_eq!(len, end + key.mac_len());
        prop_assert_eq!(buf.len(), len);
        prop_assert_eq!(verify(&buf, core::slice::from_ref(&key)).map(Key::id), Ok(id));
        let packet = Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Repr::parse(&packet), Ok(repr));
        let trailer = packet.trailer().unwrap();
        prop_assert_eq!(trailer.auth_offset(), end);
        prop_assert_eq!(trailer.extension_fields().count(), fields.len());
    }

    #[test]
    fn prop_mac_of_wrong_length_names_the_mac(len in 17usize..28, key_id in 1u32..0x1_0000, fill in any::<u8>()) {
        // A key id below 2^16 puts it in the word an extension field uses
        // for its length; only ids 16, 20 and 24 would read as one.
        prop_assume!(len != 20 && len != 24 && ![16, 20, 24].contains(&key_id));
        let mut bytes = vec![0u8; 48];
        bytes.extend_from_slice(&key_id.to_be_bytes());
        bytes.resize(48 + len, fill);
        prop_assert_eq!(Trailer::split(&bytes), Err(Error::BadMacLength { offset: 48, len }));
    }
}
