//! The 48-byte NTP header: a zero-copy view ([`Packet`]) and an owned,
//! checked representation ([`Repr`]) (RFC 5905 §7.3, Figure 8).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |
//! |                          Root Delay  (16.16)                  |
//! |                       Root Dispersion (16.16)                 |
//! |                          Reference ID                         |
//! |                     Reference Timestamp (64)                  |
//! |                      Origin Timestamp (64)                    |
//! |                      Receive Timestamp (64)                   |
//! |                      Transmit Timestamp (64)                  |
//! |            Extension fields, MAC (optional, see trailer)      |
//! ```
//!
//! # Contract
//!
//! * [`Packet::new_checked`] is the door for untrusted bytes: it checks the
//!   length and the structure of everything after the header (extension
//!   fields, MAC or crypto-NAK) once. After it succeeds, every accessor
//!   returns the field's value.
//! * [`Packet::new_unchecked`] skips those checks. Nothing panics even then:
//!   on a buffer shorter than [`HEADER_LEN`], getters read zero and setters
//!   write nothing. Use it for buffers you sized yourself.
//! * [`Repr::emit`] writes exactly [`Repr::buffer_len`] bytes and fails
//!   cleanly on a smaller buffer. Neither decoding nor encoding allocates.

use zerocopy::network_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::codes::{LeapIndicator, Mode, Stratum, Version};
use crate::error::Error;
use crate::refid::{KissCode, ReferenceId};
use crate::time::{NtpShort, NtpTimestamp};
use crate::trailer::Trailer;

pub use crate::header::{HEADER_LEN, field};

/// The header as laid out on the wire; zerocopy proves the layout has no
/// padding and may be read from any alignment.
#[derive(Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct Header {
    li_vn_mode: u8,
    stratum: u8,
    poll: i8,
    precision: i8,
    root_delay: U32,
    root_dispersion: U32,
    reference_id: [u8; 4],
    reference_time: U64,
    origin_time: U64,
    receive_time: U64,
    transmit_time: U64,
}

// The zerocopy struct and the documented offsets must agree.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<Header>() == HEADER_LEN);
    assert!(offset_of!(Header, stratum) == field::STRATUM);
    assert!(offset_of!(Header, poll) == field::POLL);
    assert!(offset_of!(Header, precision) == field::PRECISION);
    assert!(offset_of!(Header, root_delay) == field::ROOT_DELAY.start);
    assert!(offset_of!(Header, root_dispersion) == field::ROOT_DISPERSION.start);
    assert!(offset_of!(Header, reference_id) == field::REFERENCE_ID.start);
    assert!(offset_of!(Header, reference_time) == field::REFERENCE_TIME.start);
    assert!(offset_of!(Header, origin_time) == field::ORIGIN_TIME.start);
    assert!(offset_of!(Header, receive_time) == field::RECEIVE_TIME.start);
    assert!(offset_of!(Header, transmit_time) == field::TRANSMIT_TIME.start);
};

static ZERO_HEADER: Header = Header {
    li_vn_mode: 0,
    stratum: 0,
    poll: 0,
    precision: 0,
    root_delay: U32::ZERO,
    root_dispersion: U32::ZERO,
    reference_id: [0; 4],
    reference_time: U64::ZERO,
    origin_time: U64::ZERO,
    receive_time: U64::ZERO,
    transmit_time: U64::ZERO,
};

/// A zero-copy view of an NTP packet in a byte buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it (see the module's contract).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking its length and the structure of its
    /// trailer (extension fields, MAC, crypto-NAK).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        // Most packets are a bare header, which has no trailer to walk (the
        // walk would accept it): skipping the call keeps the common checked
        // decode to a few instructions.
        if packet.buffer.as_ref().len() != HEADER_LEN {
            Trailer::split(packet.buffer.as_ref())?;
        }
        Ok(packet)
    }

    /// Checks that the buffer holds at least a full header.
    #[inline]
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN { Err(Error::Truncated { len }) } else { Ok(()) }
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole packet: header and trailer.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    #[inline]
    fn header(&self) -> &Header {
        match Header::ref_from_prefix(self.buffer.as_ref()) {
            Ok((header, _)) => header,
            Err(_) => &ZERO_HEADER,
        }
    }

    /// Leap indicator.
    #[inline]
    pub fn leap(&self) -> LeapIndicator {
        LeapIndicator::from_bits(self.header().li_vn_mode >> 6)
    }

    /// Version number.
    #[inline]
    pub fn version(&self) -> Version {
        Version::from_bits(self.header().li_vn_mode >> 3)
    }

    /// Association mode.
    #[inline]
    pub fn mode(&self) -> Mode {
        Mode::from_bits(self.header().li_vn_mode)
    }

    /// Stratum.
    #[inline]
    pub fn stratum(&self) -> Stratum {
        Stratum(self.header().stratum)
    }

    /// Poll interval, log2 seconds (signed; 6 means 64 s).
    #[inline]
    pub fn poll(&self) -> i8 {
        self.header().poll
    }

    /// Precision of the sender's clock, log2 seconds (signed; -20 is about 1 µs).
    #[inline]
    pub fn precision(&self) -> i8 {
        self.header().precision
    }

    /// Root delay: round-trip delay to the primary reference, seconds (16.16).
    #[inline]
    pub fn root_delay(&self) -> NtpShort {
        NtpShort::from_bits(self.header().root_delay.get())
    }

    /// Root dispersion: the sender's error bound relative to the primary
    /// reference, seconds (16.16).
    #[inline]
    pub fn root_dispersion(&self) -> NtpShort {
        NtpShort::from_bits(self.header().root_dispersion.get())
    }

    /// Reference id.
    #[inline]
    pub fn reference_id(&self) -> ReferenceId {
        ReferenceId(self.header().reference_id)
    }

    /// Reference timestamp: when the sender's clock was last set or corrected.
    #[inline]
    pub fn reference_time(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(self.header().reference_time.get())
    }

    /// Origin timestamp (T1): the transmit time of the request this answers.
    #[inline]
    pub fn origin_time(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(self.header().origin_time.get())
    }

    /// Receive timestamp (T2): when the request arrived at the sender.
    #[inline]
    pub fn receive_time(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(self.header().receive_time.get())
    }

    /// Transmit timestamp (T3): when this packet left the sender.
    #[inline]
    pub fn transmit_time(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(self.header().transmit_time.get())
    }

    /// Everything after the 48-byte header (empty if there is none or the
    /// buffer is short).
    #[inline]
    pub fn trailer_bytes(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// The trailer split into extension fields and a MAC or crypto-NAK.
    /// Cannot fail on a packet made by [`Packet::new_checked`].
    #[inline]
    pub fn trailer(&self) -> Result<Trailer<'_>, Error> {
        Trailer::split(self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    #[inline]
    fn header_mut(&mut self) -> Option<&mut Header> {
        Header::mut_from_prefix(self.buffer.as_mut()).ok().map(|(header, _)| header)
    }

    #[inline]
    fn set_first_byte(&mut self, mask: u8, bits: u8) {
        if let Some(h) = self.header_mut() {
            h.li_vn_mode = (h.li_vn_mode & !mask) | (bits & mask);
        }
    }

    /// Sets the leap indicator.
    #[inline]
    pub fn set_leap(&mut self, value: LeapIndicator) {
        self.set_first_byte(0b1100_0000, value.to_bits() << 6);
    }

    /// Sets the version number.
    #[inline]
    pub fn set_version(&mut self, value: Version) {
        self.set_first_byte(0b0011_1000, value.to_bits() << 3);
    }

    /// Sets the mode.
    #[inline]
    pub fn set_mode(&mut self, value: Mode) {
        self.set_first_byte(0b0000_0111, value.to_bits());
    }

    /// Sets the stratum.
    #[inline]
    pub fn set_stratum(&mut self, value: Stratum) {
        if let Some(h) = self.header_mut() {
            h.stratum = value.0;
        }
    }

    /// Sets the poll interval, log2 seconds.
    #[inline]
    pub fn set_poll(&mut self, value: i8) {
        if let Some(h) = self.header_mut() {
            h.poll = value;
        }
    }

    /// Sets the precision, log2 seconds.
    #[inline]
    pub fn set_precision(&mut self, value: i8) {
        if let Some(h) = self.header_mut() {
            h.precision = value;
        }
    }

    /// Sets the root delay.
    #[inline]
    pub fn set_root_delay(&mut self, value: NtpShort) {
        if let Some(h) = self.header_mut() {
            h.root_delay.set(value.to_bits());
        }
    }

    /// Sets the root dispersion.
    #[inline]
    pub fn set_root_dispersion(&mut self, value: NtpShort) {
        if let Some(h) = self.header_mut() {
            h.root_dispersion.set(value.to_bits());
        }
    }

    /// Sets the reference id.
    #[inline]
    pub fn set_reference_id(&mut self, value: ReferenceId) {
        if let Some(h) = self.header_mut() {
            h.reference_id = value.0;
        }
    }

    /// Sets the reference timestamp.
    #[inline]
    pub fn set_reference_time(&mut self, value: NtpTimestamp) {
        if let Some(h) = self.header_mut() {
            h.reference_time.set(value.to_bits());
        }
    }

    /// Sets the origin timestamp.
    #[inline]
    pub fn set_origin_time(&mut self, value: NtpTimestamp) {
        if let Some(h) = self.header_mut() {
            h.origin_time.set(value.to_bits());
        }
    }

    /// Sets the receive timestamp.
    #[inline]
    pub fn set_receive_time(&mut self, value: NtpTimestamp) {
        if let Some(h) = self.header_mut() {
            h.receive_time.set(value.to_bits());
        }
    }

    /// Sets the transmit timestamp.
    #[inline]
    pub fn set_transmit_time(&mut self, value: NtpTimestamp) {
        if let Some(h) = self.header_mut() {
            h.transmit_time.set(value.to_bits());
        }
    }

    /// The whole buffer, mutable (to write extension fields or a MAC).
    #[inline]
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
}

/// The decoded header: every field with its meaning, as a plain value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Leap indicator.
    pub leap: LeapIndicator,
    /// Version number.
    pub version: Version,
    /// Association mode.
    pub mode: Mode,
    /// Stratum.
    pub stratum: Stratum,
    /// Poll interval, log2 seconds.
    pub poll: i8,
    /// Clock precision, log2 seconds.
    pub precision: i8,
    /// Root delay, seconds (16.16).
    pub root_delay: NtpShort,
    /// Root dispersion, seconds (16.16).
    pub root_dispersion: NtpShort,
    /// Reference id.
    pub reference_id: ReferenceId,
    /// Reference timestamp.
    pub reference_time: NtpTimestamp,
    /// Origin timestamp (T1).
    pub origin_time: NtpTimestamp,
    /// Receive timestamp (T2).
    pub receive_time: NtpTimestamp,
    /// Transmit timestamp (T3).
    pub transmit_time: NtpTimestamp,
}

impl Repr {
    /// Reads the header of a packet. Fails only on a buffer shorter than
    /// the header (which [`Packet::new_checked`] has already ruled out).
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        let bytes = packet.buffer.as_ref();
        let header = match Header::ref_from_prefix(bytes) {
            Ok((header, _)) => header,
            Err(_) => return Err(Error::Truncated { len: bytes.len() }),
        };
        let first = header.li_vn_mode;
        Ok(Repr {
            leap: LeapIndicator::from_bits(first >> 6),
            version: Version::from_bits(first >> 3),
            mode: Mode::from_bits(first),
            stratum: Stratum(header.stratum),
            poll: header.poll,
            precision: header.precision,
            root_delay: NtpShort::from_bits(header.root_delay.get()),
            root_dispersion: NtpShort::from_bits(header.root_dispersion.get()),
            reference_id: ReferenceId(header.reference_id),
            reference_time: NtpTimestamp::from_bits(header.reference_time.get()),
            origin_time: NtpTimestamp::from_bits(header.origin_time.get()),
            receive_time: NtpTimestamp::from_bits(header.receive_time.get()),
            transmit_time: NtpTimestamp::from_bits(header.transmit_time.get()),
        })
    }

    /// Checks `bytes` as [`Packet::new_checked`] does and reads the header.
    #[inline]
    pub fn from_bytes(bytes: &[u8]) -> Result<Repr, Error> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    /// Bytes [`Repr::emit`] writes: the header, 48.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first 48 bytes of the packet's buffer,
    /// leaving any bytes after it untouched.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        self.emit_into(packet.buffer.as_mut()).map(|_| ())
    }

    /// Writes the header into the start of `buf` and returns its length (48).
    #[inline]
    pub fn emit_into(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let header = Header {
            li_vn_mode: (self.leap.to_bits() << 6) | (self.version.to_bits() << 3) | self.mode.to_bits(),
            stratum: self.stratum.0,
            poll: self.poll,
            precision: self.precision,
            root_delay: U32::new(self.root_delay.to_bits()),
            root_dispersion: U32::new(self.root_dispersion.to_bits()),
            reference_id: self.reference_id.0,
            reference_time: U64::new(self.reference_time.to_bits()),
            origin_time: U64::new(self.origin_time.to_bits()),
            receive_time: U64::new(self.receive_time.to_bits()),
            transmit_time: U64::new(self.transmit_time.to_bits()),
        };
        match header.write_to_prefix(buf) {
            Ok(()) => Ok(HEADER_LEN),
            Err(_) => Err(Error::BufferTooSmall { len: buf.len(), needed: HEADER_LEN }),
        }
    }

    /// The kiss code, if this is a kiss-o'-death packet: stratum 0 in a
    /// packet that should carry time (server, symmetric or broadcast mode).
    /// Client requests also go out with stratum 0 and carry no kiss code.
    ///
    /// The caller still has to check that it answers one of its requests
    /// (origin timestamp) before acting on it (RFC 5905 §7.4).
    #[inline]
    pub fn kiss_code(&self) -> Option<KissCode> {
        let carries_time =
            matches!(self.mode, Mode::Server | Mode::SymmetricActive | Mode::SymmetricPassive | Mode::Broadcast);
        if carries_time && self.stratum == Stratum::UNSPECIFIED { Some(self.reference_id.kiss_code()) } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NtpDate;

    // A hand-assembled server reply; the captured ones are tested in tests/tests/captured_packets.rs.
    static SERVER_REPLY: [u8; 48] = [
        0x24, 0x08, 0x06, 0xe9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7f, 0x7f, 0x01, 0x00, 0xec, 0xa5,
        0x5e, 0x7d, 0x34, 0x19, 0x7c, 0x1e, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0xec, 0xa5, 0x5e, 0x80,
        0x1d, 0x4c, 0x7f, 0x2a, 0xec, 0xa5, 0x5e, 0x80, 0x1d, 0x4e, 0x8b, 0x39,
    ];

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&SERVER_REPLY[..]).unwrap();
        assert_eq!(packet.leap(), LeapIndicator::NoWarning);
        assert_eq!(packet.version(), Version::V4);
        assert_eq!(packet.mode(), Mode::Server);
        assert_eq!(packet.stratum(), Stratum(8));
        assert_eq!(packet.poll(), 6);
        assert_eq!(packet.precision(), -23);
        assert_eq!(packet.root_delay(), NtpShort::ZERO);
        assert_eq!(packet.root_dispersion(), NtpShort::from_bits(1));
        assert_eq!(packet.reference_id(), ReferenceId([127, 127, 1, 0]));
        assert_eq!(packet.reference_time(), NtpTimestamp::from_parts(0xeca5_5e7d, 0x3419_7c1e));
        assert_eq!(packet.origin_time(), NtpTimestamp::from_bits(0x1234_5678_9abc_def0));
        assert_eq!(packet.receive_time(), NtpTimestamp::from_parts(0xeca5_5e80, 0x1d4c_7f2a));
        assert_eq!(packet.transmit_time(), NtpTimestamp::from_parts(0xeca5_5e80, 0x1d4e_8b39));
        assert!(packet.trailer_bytes().is_empty());
        let date = packet.transmit_time().to_date(NtpDate::ERA1_START).unwrap();
        assert_eq!(date.era(), 0);
    }

    #[test]
    fn test_construct() {
        let mut bytes = [0xffu8; 48];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_leap(LeapIndicator::NoWarning);
        packet.set_version(Version::V4);
        packet.set_mode(Mode::Server);
        packet.set_stratum(Stratum(8));
        packet.set_poll(6);
        packet.set_precision(-23);
        packet.set_root_delay(NtpShort::ZERO);
        packet.set_root_dispersion(NtpShort::from_bits(1));
        packet.set_reference_id(ReferenceId([127, 127, 1, 0]));
        packet.set_reference_time(NtpTimestamp::from_parts(0xeca5_5e7d, 0x3419_7c1e));
        packet.set_origin_time(NtpTimestamp::from_bits(0x1234_5678_9abc_def0));
        packet.set_receive_time(NtpTimestamp::from_parts(0xeca5_5e80, 0x1d4c_7f2a));
        packet.set_transmit_time(NtpTimestamp::from_parts(0xeca5_5e80, 0x1d4e_8b39));
        assert_eq!(bytes, SERVER_REPLY);
    }

    #[test]
    fn test_parse_emit() {
        let repr = Repr::from_bytes(&SERVER_REPLY).unwrap();
        assert_eq!(repr.mode, Mode::Server);
        assert_eq!(repr.buffer_len(), 48);
        let mut out = [0u8; 48];
        assert_eq!(repr.emit_into(&mut out), Ok(48));
        assert_eq!(out, SERVER_REPLY);
        let mut view = Packet::new_unchecked(&mut out[..]);
        assert_eq!(repr.emit(&mut view), Ok(()));
    }

    #[test]
    fn test_impossible_len() {
        for len in 0..HEADER_LEN {
            let bytes = &SERVER_REPLY[..len];
            assert_eq!(Packet::new_checked(bytes), Err(Error::Truncated { len }));
            assert_eq!(Repr::from_bytes(bytes), Err(Error::Truncated { len }));
            // The unchecked view reads zero and writes nothing rather than panic.
            let view = Packet::new_unchecked(bytes);
            assert_eq!(view.transmit_time(), NtpTimestamp::ZERO);
            assert_eq!(view.mode(), Mode::Reserved);
            let mut copy = [0u8; 48];
            copy[..len].copy_from_slice(bytes);
            let mut view = Packet::new_unchecked(&mut copy[..len]);
            view.set_stratum(Stratum(3));
            view.set_mode(Mode::Client);
            assert_eq!(Repr::default().emit_into(&mut copy[..len]), Err(Error::BufferTooSmall { len, needed: 48 }));
        }
        assert_eq!(Error::Truncated { len: 40 }.to_string(), "packet is 40 bytes; an NTP header needs 48");
    }

    #[test]
    fn test_emit_keeps_trailer_bytes() {
        let mut bytes = [0xaau8; 68];
        Repr::default().emit_into(&mut bytes).unwrap();
        assert!(bytes[48..].iter().all(|&b| b == 0xaa));
    }

    #[test]
    fn test_kiss_code() {
        let mut repr = Repr::from_bytes(&SERVER_REPLY).unwrap();
        assert_eq!(repr.kiss_code(), None);
        repr.stratum = Stratum::UNSPECIFIED;
        repr.reference_id = ReferenceId(*b"RATE");
        assert_eq!(repr.kiss_code(), Some(KissCode::Rate));
        // A client request at stratum 0 is not a kiss-o'-death.
        repr.mode = Mode::Client;
        assert_eq!(repr.kiss_code(), None);
    }
}
