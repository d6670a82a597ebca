//! Fuzz target `nts_extension_fields`: the NTS extension fields and the
//! AES-SIV authenticator (`ntp_wire::nts`).
//!
//! Every input is taken as a received packet; an input whose first byte is
//! 0 is also used, from its second byte on, to build and seal one.
//!
//! (a) Received: each extension field goes through `NtsField::parse`, and
//! every authenticator is opened with a fixed key. Nothing panics, and
//! nothing opens: without the key nobody can make a packet that does.
//!
//! (b) Built: a unique identifier, a cookie and placeholders from the
//! input, then an authenticator sealed around a plaintext from the input
//! with a nonce from the input. Opening gives the plaintext back, the
//! packet walks as RFC 7822 extension fields, and changing any byte of the
//! packet (header, clear fields, nonce, ciphertext) makes opening fail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_wire::nts::{AeadKey, AuthenticatorWriter, FieldWriter, NtsField, open_authenticator};
use ntp_wire::trailer::ExtensionFields;
use ntp_wire::{HEADER_LEN, Trailer};

const KEY: [u8; 32] = [0x5c; 32];

fuzz_target!(|data: &[u8]| {
    let key = AeadKey::new(KEY);
    let mut out = [0u8; 2048];

    // (a) As received.
    if let Ok(trailer) = Trailer::split(data) {
        let mut offset = HEADER_LEN;
        for field in trailer.extension_fields() {
            let Ok(field) = field else { break };
            if let Ok(NtsField::Authenticator(_)) = NtsField::parse(&field) {
                assert!(open_authenticator(data, offset, &key, &mut out).is_err(), "a forged authenticator opened");
            }
            offset += field.wire_len();
        }
    }

    // (b) Built and sealed.
    let [0, nonce_len, cookie_len, placeholders, pt_len, rest @ ..] = data else { return };
    let nonce_len = usize::from(*nonce_len % 40) + 1;
    let (cookie_len, pt_len) = (usize::from(*cookie_len), usize::from(*pt_len));
    if rest.len() < 32 + nonce_len {
        return;
    }
    let (unique_id, rest) = rest.split_at(32);
    let (nonce, rest) = rest.split_at(nonce_len);
    let cookie = &rest[..cookie_len.min(rest.len())];
    let plaintext = &rest[..pt_len.min(rest.len())];

    let mut packet = vec![0u8; 4096];
    packet[..HEADER_LEN].copy_from_slice(&[0x23; HEADER_LEN]);
    let mut fields = FieldWriter::new(&mut packet, HEADER_LEN);
    fields.push_unique_id(unique_id).expect("room");
    fields.push_cookie(cookie).expect("room");
    for _ in 0..(placeholders % 8) {
        fields.push_placeholder(cookie.len()).expect("room");
    }
    let start = fields.position();
    let mut auth = AuthenticatorWriter::new(&mut packet, start, nonce).expect("room");
    auth.plaintext_mut()[..plaintext.len()].copy_from_slice(plaintext);
    let len = auth.seal(&key, plaintext.len()).expect("room");
    let packet = &packet[..len];

    assert_eq!(open_authenticator(packet, start, &key, &mut out), Ok(plaintext.len()));
    assert_eq!(&out[..plaintext.len()], plaintext);
    let walked: Vec<_> = ExtensionFields::new(&packet[HEADER_LEN..], HEADER_LEN).collect();
    assert!(walked.iter().all(Result::is_ok));
    assert!(Trailer::split(packet).is_ok());

    // Any one byte changed, at a position the input picks, fails.
    let pos = usize::from(rest.first().copied().unwrap_or(0)) * len / 256;
    let mut bad = packet.to_vec();
    bad[pos] ^= 0x01;
    let nonce_pad = start + 8 + nonce_len..start + 8 + nonce_len.next_multiple_of(4);
    let ct_end = start + 8 + nonce_len.next_multiple_of(4) + 16 + plaintext.len();
    let clear_padding = nonce_pad.contains(&pos) || pos >= ct_end;
    // Padding after a clear field's value is covered (it is associated
    // data); padding inside the authenticator is not, by design of §5.6.
    if !clear_padding {
        assert!(open_authenticator(&bad, start, &key, &mut out).is_err(), "changed byte {pos} still opened");
    }
});
