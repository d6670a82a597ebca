//! What follows the 48-byte header: extension fields (RFC 7822) and then a
//! legacy MAC or a crypto-NAK (RFC 5905 §7.3).
//!
//! # Telling them apart
//!
//! The packet carries no explicit marker, so the split goes by length, as
//! the reference implementations do. Walking from the end of the header,
//! with `n` bytes left:
//!
//! | `n` | meaning |
//! |---|---|
//! | 0 | nothing more |
//! | 4 | crypto-NAK: a key id of zero and no digest |
//! | 20 | MAC: key id + 16-byte digest (MD5, AES-CMAC) |
//! | 24 | MAC: key id + 20-byte digest (SHA1, truncated SHA-2) |
//! | 17 to 27, not starting like an extension field | malformed: reported as a MAC of the wrong length |
//! | 16 or more, otherwise | an extension field: type (16 bits), length (16 bits, a multiple of 4, at least 16, covering the whole field), value; then walk on |
//! | anything else | malformed |
//!
//! A last extension field with no MAC after it must be at least 28 bytes
//! (RFC 7822 §7.5), so that a 20- or 24-byte field can never be taken for a
//! MAC. [`ExtensionFieldWriter::finish`] pads the last field to keep that rule.

use crate::error::Error;
use crate::header::HEADER_LEN;

/// Length of an extension field's type and length words.
pub const EXTENSION_HEADER_LEN: usize = 4;
/// The shortest extension field allowed (RFC 7822 §3).
pub const MIN_EXTENSION_LEN: usize = 16;
/// The shortest last extension field when no MAC follows (RFC 7822 §7.5).
pub const MIN_LAST_EXTENSION_LEN: usize = 28;
/// Length of a crypto-NAK: a zero key id.
pub const CRYPTO_NAK_LEN: usize = 4;
/// Length of a MAC with a 16-byte digest (MD5, AES-CMAC), key id included.
pub const MAC_LEN_16: usize = 20;
/// Length of a MAC with a 20-byte digest (SHA1, truncated SHA-2), key id included.
pub const MAC_LEN_20: usize = 24;
/// The longest value an extension field can carry (65535 rounded down to a
/// multiple of 4, less the 4-byte field header).
pub const MAX_EXTENSION_VALUE_LEN: usize = 65_532 - EXTENSION_HEADER_LEN;

/// The authentication part at the end of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authenticator<'a> {
    /// No MAC: the packet is unauthenticated.
    None,
    /// A crypto-NAK: the sender could not authenticate our last packet.
    CryptoNak,
    /// A message authentication code.
    Mac(Mac<'a>),
}

/// A legacy MAC: key id and digest, borrowed from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mac<'a> {
    /// Key id, 1..=2^32-1 (0 never signs).
    pub key_id: u32,
    /// The digest: 16 or 20 bytes.
    pub digest: &'a [u8],
}

/// The parts of a packet after the header, located and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer<'a> {
    extensions: &'a [u8],
    auth_offset: usize,
    authenticator: Authenticator<'a>,
}

impl<'a> Trailer<'a> {
    /// Splits a whole packet (header included) into its extension fields and
    /// its MAC or crypto-NAK, checking every length on the way.
    pub fn split(packet: &'a [u8]) -> Result<Trailer<'a>, Error> {
        let rest = match packet.get(HEADER_LEN..) {
            Some(rest) => rest,
            None => return Err(Error::Truncated { len: packet.len() }),
        };
        let mut pos = 0;
        loop {
            let offset = HEADER_LEN + pos;
            let remaining = rest.get(pos..).unwrap_or(&[]);
            let authenticator = match remaining.len() {
                0 => Authenticator::None,
                CRYPTO_NAK_LEN => match read_u32(remaining) {
                    0 => Authenticator::CryptoNak,
                    key_id => return Err(Error::BadCryptoNak { offset, key_id }),
                },
                MAC_LEN_16 | MAC_LEN_20 => {
                    let (key_id, digest) = remaining.split_at(4);
                    Authenticator::Mac(Mac { key_id: read_u32(key_id), digest })
                }
                len if len < MIN_EXTENSION_LEN => return Err(Error::BadTrailerLength { offset, len }),
                // 17 to 27 bytes (but not 20 or 24) cannot be anything valid:
                // too short for a last extension field (28), too long for a
                // 16-byte field plus a crypto-NAK (that would be 20, a MAC).
                // Unless the first word reads as an extension field header,
                // a MAC that lost or gained bytes is the likely cause, and an
                // error about extension-field lengths would mislead.
                len if len < MIN_LAST_EXTENSION_LEN && !starts_like_extension(remaining) => {
                    return Err(Error::BadMacLength { offset, len });
                }
                available => {
                    let declared = read_u16(remaining.get(2..).unwrap_or(&[])) as usize;
                    if declared < MIN_EXTENSION_LEN || declared % 4 != 0 {
                        return Err(Error::BadExtensionLength { offset, declared });
                    }
                    if declared > available {
                        return Err(Error::ExtensionOverrun { offset, declared, available });
                    }
                    if declared == available && declared < MIN_LAST_EXTENSION_LEN {
                        return Err(Error::LastExtensionTooShort { offset, declared });
                    }
                    pos += declared;
                    continue;
                }
            };
            return Ok(Trailer { extensions: rest.get(..pos).unwrap_or(&[]), auth_offset: offset, authenticator });
        }
    }

    /// The extension fields, in order.
    #[inline]
    pub fn extension_fields(&self) -> ExtensionFields<'a> {
        ExtensionFields { bytes: self.extensions, offset: HEADER_LEN }
    }

    /// The raw bytes of all extension fields.
    #[inline]
    pub fn extension_bytes(&self) -> &'a [u8] {
        self.extensions
    }

    /// The MAC, crypto-NAK, or nothing.
    #[inline]
    pub fn authenticator(&self) -> Authenticator<'a> {
        self.authenticator
    }

    /// Where the MAC or crypto-NAK starts: the number of bytes a MAC covers
    /// (header plus extension fields). Equals the packet length when there is
    /// neither.
    #[inline]
    pub fn auth_offset(&self) -> usize {
        self.auth_offset
    }
}

/// Whether `bytes` begin with an extension field header whose length fits
/// the rules and the bytes given.
#[inline]
fn starts_like_extension(bytes: &[u8]) -> bool {
    let declared = read_u16(bytes.get(2..).unwrap_or(&[])) as usize;
    declared >= MIN_EXTENSION_LEN && declared % 4 == 0 && declared <= bytes.len()
}

#[inline]
fn read_u16(bytes: &[u8]) -> u16 {
    match bytes {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

#[inline]
fn read_u32(bytes: &[u8]) -> u32 {
    match bytes {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// One extension field, borrowed from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionField<'a> {
    /// Field type (RFC 7822 §7.5; IANA "NTP Extension Field Types").
    pub field_type: u16,
    /// The value, including any zero padding the sender added (the wire
    /// format does not say where a value ends and padding begins).
    pub value: &'a [u8],
}

impl ExtensionField<'_> {
    /// Length on the wire, field header included.
    #[inline]
    pub fn wire_len(&self) -> usize {
        EXTENSION_HEADER_LEN + self.value.len()
    }
}

/// Iterator over extension fields. Each item is checked; after the first
/// error the iterator ends.
#[derive(Clone, Debug)]
pub struct ExtensionFields<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> ExtensionFields<'a> {
    /// Iterates over a run of extension fields that starts at byte `offset`
    /// of its packet (used in error messages only).
    #[inline]
    pub fn new(bytes: &'a [u8], offset: usize) -> Self {
        ExtensionFields { bytes, offset }
    }
}

impl<'a> Iterator for ExtensionFields<'a> {
    type Item = Result<ExtensionField<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        let offset = self.offset;
        let available = self.bytes.len();
        let failed = |this: &mut Self, e| {
            this.bytes = &[];
            Some(Err(e))
        };
        if available < MIN_EXTENSION_LEN {
            return failed(self, Error::BadTrailerLength { offset, len: available });
        }
        let declared = read_u16(self.bytes.get(2..).unwrap_or(&[])) as usize;
        if declared < MIN_EXTENSION_LEN || declared % 4 != 0 {
            return failed(self, Error::BadExtensionLength { offset, declared });
        }
        let (field, rest) = match self.bytes.split_at_checked(declared) {
            Some(parts) => parts,
            None => return failed(self, Error::ExtensionOverrun { offset, declared, available }),
        };
        self.bytes = rest;
        self.offset += declared;
        Some(Ok(ExtensionField {
            field_type: read_u16(field),
            value: field.get(EXTENSION_HEADER_LEN..).unwrap_or(&[]),
        }))
    }
}

/// Writes extension fields after the header in a caller's packet buffer.
///
/// ```
/// use ntp_wire::{ExtensionFieldWriter, Packet, Repr};
/// let mut buf = [0u8; 128];
/// Repr::default().emit_into(&mut buf)?;
/// let mut writer = ExtensionFieldWriter::new(&mut buf);
/// writer.push(0x0104, b"unique identifier, 32 bytes.....")?;
/// let len = writer.finish(false)?;
/// let packet = Packet::new_checked(&buf[..len])?;
/// let field = packet.trailer()?.extension_fields().next().unwrap()?;
/// assert_eq!(field.field_type, 0x0104);
/// # Ok::<(), ntp_wire::Error>(())
/// ```
#[derive(Debug)]
pub struct ExtensionFieldWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    last: Option<usize>,
}

impl<'a> ExtensionFieldWriter<'a> {
    /// Starts writing right after the 48-byte header of `packet_buf`.
    #[inline]
    pub fn new(packet_buf: &'a mut [u8]) -> Self {
        ExtensionFieldWriter { buf: packet_buf, pos: HEADER_LEN, last: None }
    }

    /// Appends one field, zero-padded to a multiple of 4 and to at least 16 bytes.
    pub fn push(&mut self, field_type: u16, value: &[u8]) -> Result<(), Error> {
        if value.len() > MAX_EXTENSION_VALUE_LEN {
            return Err(Error::ExtensionTooLong { len: value.len() });
        }
        let len = (EXTENSION_HEADER_LEN + value.len()).next_multiple_of(4).max(MIN_EXTENSION_LEN);
        let end = self.pos + len;
        let available = self.buf.len();
        let field = match self.buf.get_mut(self.pos..end) {
            Some(field) => field,
            None => return Err(Error::BufferTooSmall { len: available, needed: end }),
        };
        let (head, body) = field.split_at_mut(EXTENSION_HEADER_LEN);
        let [t0, t1] = field_type.to_be_bytes();
        let [l0, l1] = (len as u16).to_be_bytes();
        head.copy_from_slice(&[t0, t1, l0, l1]);
        let (data, padding) = body.split_at_mut(value.len());
        data.copy_from_slice(value);
        padding.fill(0);
        self.last = Some(self.pos);
        self.pos = end;
        Ok(())
    }

    /// Ends the run of fields and returns the packet length so far. When
    /// `mac_follows` is false, the last field is padded to 28 bytes if it is
    /// shorter (RFC 7822 §7.5).
    ///
    /// `mac_follows` means a MAC of 20 or 24 bytes. Pass `false` before a
    /// crypto-NAK: a 16-byte field plus the 4-byte NAK would be 20 bytes and
    /// read back as a MAC.
    pub fn finish(self, mac_follows: bool) -> Result<usize, Error> {
        let Some(last) = self.last else { return Ok(self.pos) };
        let last_len = self.pos - last;
        if mac_follows || last_len >= MIN_LAST_EXTENSION_LEN {
            return Ok(self.pos);
        }
        let end = last + MIN_LAST_EXTENSION_LEN;
        let available = self.buf.len();
        match self.buf.get_mut(self.pos..end) {
            Some(padding) => padding.fill(0),
            None => return Err(Error::BufferTooSmall { len: available, needed: end }),
        }
        if let Some(len_field) = self.buf.get_mut(last + 2..last + 4) {
            len_field.copy_from_slice(&(MIN_LAST_EXTENSION_LEN as u16).to_be_bytes());
        }
        Ok(end)
    }
}

/// Writes a crypto-NAK (a zero key id with no digest, RFC 5905 §7.4) at
/// `offset` of `buf` and returns the packet length (`offset` + 4). A server
/// sends one in answer to a request it could not authenticate; chronyd and
/// NTPsec choose to stay silent instead.
///
/// `offset` is where the header and any extension fields end: 48 for a bare
/// header. Fails, writing nothing, when `offset` is inside the header or the
/// buffer cannot hold the four bytes (an `offset` so large that the sum
/// overflows reports `needed` as `usize::MAX`). This is the crate's only
/// crypto-NAK writer; [`auth::emit_crypto_nak`](crate::auth::emit_crypto_nak)
/// is the same function.
///
/// ```
/// use ntp_wire::auth::{AuthError, emit_crypto_nak, is_crypto_nak, verify, Key};
/// let mut buf = [0u8; 52];
/// let len = emit_crypto_nak(&mut buf, 48)?;
/// assert!(is_crypto_nak(&buf[..len]));
/// assert_eq!(verify(&buf[..len], &[] as &[Key]), Err(AuthError::CryptoNak));
/// # Ok::<(), ntp_wire::Error>(())
/// ```
pub fn emit_crypto_nak(buf: &mut [u8], offset: usize) -> Result<usize, Error> {
    if offset < HEADER_LEN {
        return Err(Error::Truncated { len: offset });
    }
    let len = buf.len();
    // Saturating: an offset near usize::MAX must be refused, not wrap to a
    // small end that would pass the bounds check.
    let needed = offset.saturating_add(CRYPTO_NAK_LEN);
    match buf.get_mut(offset..needed) {
        Some(slot) => {
            slot.fill(0);
            Ok(needed)
        }
        None => Err(Error::BufferTooSmall { len, needed }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet_with(trailer: &[u8]) -> [u8; 256] {
        let mut buf = [0u8; 256];
        buf[HEADER_LEN..HEADER_LEN + trailer.len()].copy_from_slice(trailer);
        buf
    }

    #[test]
    fn test_no_trailer() {
        let buf = [0u8; HEADER_LEN];
        let t = Trailer::split(&buf).unwrap();
        assert_eq!(t.authenticator(), Authenticator::None);
        assert_eq!(t.auth_offset(), 48);
        assert_eq!(t.extension_fields().count(), 0);
    }

    #[test]
    fn test_mac_lengths() {
        for (len, digest_len) in [(20, 16), (24, 20)] {
            let mut trailer = [0xabu8; 24];
            trailer[..4].copy_from_slice(&1234u32.to_be_bytes());
            let buf = packet_with(&trailer[..len]);
            let t = Trailer::split(&buf[..HEADER_LEN + len]).unwrap();
            match t.authenticator() {
                Authenticator::Mac(mac) => {
                    assert_eq!(mac.key_id, 1234);
                    assert_eq!(mac.digest.len(), digest_len);
                }
                other => panic!("expected a MAC, got {other:?}"),
            }
            assert_eq!(t.auth_offset(), 48);
        }
    }

    #[test]
    fn test_crypto_nak() {
        let buf = packet_with(&[0, 0, 0, 0]);
        let t = Trailer::split(&buf[..52]).unwrap();
        assert_eq!(t.authenticator(), Authenticator::CryptoNak);
        let buf = packet_with(&[0, 0, 0, 7]);
        assert_eq!(Trailer::split(&buf[..52]), Err(Error::BadCryptoNak { offset: 48, key_id: 7 }));
        let mut out = [0xffu8; 52];
        assert_eq!(emit_crypto_nak(&mut out, 48), Ok(52));
        assert_eq!(Trailer::split(&out).unwrap().authenticator(), Authenticator::CryptoNak);
        assert_eq!(emit_crypto_nak(&mut out, 49), Err(Error::BufferTooSmall { len: 52, needed: 53 }));
    }

    #[test]
    fn test_every_wrong_trailer_length_is_rejected() {
        let buf = [0u8; 256];
        for len in 1..16 {
            if len == 4 {
                continue;
            }
            assert_eq!(Trailer::split(&buf[..48 + len]), Err(Error::BadTrailerLength { offset: 48, len }));
        }
    }

    #[test]
    fn test_extension_then_mac() {
        let mut buf = [0u8; 256];
        let mut w = ExtensionFieldWriter::new(&mut buf);
        w.push(0x0002, &[1, 2, 3, 4, 5]).unwrap(); // padded to 16
        w.push(0x0104, &[9; 40]).unwrap(); // 44
        let end = w.finish(true).unwrap();
        assert_eq!(end, 48 + 16 + 44);
        buf[end..end + 4].copy_from_slice(&5u32.to_be_bytes());
        let total = end + 20;
        let t = Trailer::split(&buf[..total]).unwrap();
        assert_eq!(t.auth_offset(), end);
        let fields: Vec<_> = t.extension_fields().map(Result::unwrap).collect();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].field_type, 2);
        assert_eq!(&fields[0].value[..5], &[1, 2, 3, 4, 5]);
        assert_eq!(fields[0].wire_len(), 16);
        assert_eq!(fields[1].value, &[9; 40][..]);
        assert!(matches!(t.authenticator(), Authenticator::Mac(Mac { key_id: 5, .. })));
    }

    #[test]
    fn test_last_field_padded_without_mac() {
        let mut buf = [0xeeu8; 128];
        let mut w = ExtensionFieldWriter::new(&mut buf);
        w.push(0x7777, &[1; 8]).unwrap();
        let end = w.finish(false).unwrap();
        assert_eq!(end, 48 + 28);
        let t = Trailer::split(&buf[..end]).unwrap();
        let field = t.extension_fields().next().unwrap().unwrap();
        assert_eq!(field.wire_len(), 28);
        assert_eq!(&field.value[..8], &[1; 8]);
        assert!(field.value[8..].iter().all(|&b| b == 0));
        // No fields at all: nothing to pad.
        let mut buf = [0u8; 48];
        assert_eq!(ExtensionFieldWriter::new(&mut buf).finish(false), Ok(48));
    }

    #[test]
    fn test_mac_one_byte_short_or_long_is_a_mac_error() {
        for len in [19, 21, 23, 25] {
            let mut trailer = [0xabu8; 25];
            trailer[..4].copy_from_slice(&1u32.to_be_bytes());
            let buf = packet_with(&trailer);
            let err = Trailer::split(&buf[..HEADER_LEN + len]).unwrap_err();
            assert_eq!(err, Error::BadMacLength { offset: 48, len });
            assert!(err.to_string().contains("MAC"), "{err}");
        }
        // The same after an extension field: the offset is the MAC's.
        let mut buf = [0u8; 256];
        let mut w = ExtensionFieldWriter::new(&mut buf);
        w.push(0x0104, &[1; 24]).unwrap();
        let end = w.finish(true).unwrap();
        buf[end..end + 4].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(Trailer::split(&buf[..end + 19]), Err(Error::BadMacLength { offset: end, len: 19 }));
        assert_eq!(Trailer::split(&buf[..end + 20]).map(|t| t.auth_offset()), Ok(end));
    }

    #[test]
    fn test_bad_extension_lengths() {
        // declared length not a multiple of 4
        let mut f = [0u8; 32];
        f[2..4].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(Trailer::split(&packet_with(&f)[..80]), Err(Error::BadExtensionLength { offset: 48, declared: 30 }));
        // declared length below 16
        f[2..4].copy_from_slice(&12u16.to_be_bytes());
        assert_eq!(Trailer::split(&packet_with(&f)[..80]), Err(Error::BadExtensionLength { offset: 48, declared: 12 }));
        // declared longer than the packet
        f[2..4].copy_from_slice(&64u16.to_be_bytes());
        assert_eq!(
            Trailer::split(&packet_with(&f)[..80]),
            Err(Error::ExtensionOverrun { offset: 48, declared: 64, available: 32 })
        );
        // a 16-byte last field without MAC
        f[2..4].copy_from_slice(&16u16.to_be_bytes());
        assert_eq!(
            Trailer::split(&packet_with(&f)[..64]),
            Err(Error::LastExtensionTooShort { offset: 48, declared: 16 })
        );
        // a 16-byte field followed by 3 stray bytes
        assert_eq!(Trailer::split(&packet_with(&f)[..67]), Err(Error::BadTrailerLength { offset: 64, len: 3 }));
    }

    #[test]
    fn test_writer_errors() {
        let mut buf = [0u8; 60];
        let mut w = ExtensionFieldWriter::new(&mut buf);
        assert_eq!(w.push(1, &[0; 4]), Err(Error::BufferTooSmall { len: 60, needed: 64 }));
        let mut big = [0u8; 64];
        let mut w = ExtensionFieldWriter::new(&mut big);
        assert_eq!(w.push(1, &[0; 70_000]), Err(Error::ExtensionTooLong { len: 70_000 }));
        let mut buf = [0u8; 70];
        let mut w = ExtensionFieldWriter::new(&mut buf);
        w.push(1, &[0; 4]).unwrap();
        assert_eq!(w.finish(false), Err(Error::BufferTooSmall { len: 70, needed: 76 }));
    }

    #[test]
    fn test_iterator_stops_after_error() {
        let bytes = [0u8; 20];
        let mut it = ExtensionFields::new(&bytes, 48);
        assert_eq!(it.next(), Some(Err(Error::BadExtensionLength { offset: 48, declared: 0 })));
        assert_eq!(it.next(), None);
    }
}
