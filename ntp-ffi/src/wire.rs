//! The packet header as a plain C struct, and the trailer (extension
//! fields, MAC, crypto-NAK) located without copying.

use ntp_wire::auth::MAX_DIGEST_LEN;
use ntp_wire::{
    Authenticator, LeapIndicator, Mode, NtpShort, NtpTimestamp, Packet, ReferenceId, Repr, Stratum, Trailer, Version,
};

use crate::ptr::{self, boundary};
use crate::result::ntp_result;
use crate::time::ntp_timestamp;

/// Length of the NTP header, bytes.
pub const NTP_HEADER_LEN: usize = 48;
/// The longest datagram the engine sends, bytes: a buffer of this size
/// always holds an `ntp_engine_poll_output` transmit.
pub const NTP_MAX_DATAGRAM: usize = 512;
/// The longest MAC digest, bytes (SHA-1 and truncated SHA-2; MD5 and CMAC use 16).
pub const NTP_MAX_DIGEST_LEN: usize = 20;

/// The 48-byte NTP header (RFC 5905 section 7.3) as plain fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ntp_packet_header {
    /// Leap indicator, 0..=3 (3: unsynchronized).
    pub leap: u8,
    /// Version, 0..=7 (4 for NTPv4).
    pub version: u8,
    /// Mode, 0..=7 (3 client, 4 server, 1/2 symmetric, 5 broadcast, 6 control).
    pub mode: u8,
    /// Stratum, 0 (unspecified / kiss-o'-death) to 16 (unsynchronized) and up.
    pub stratum: u8,
    /// Poll interval, log2 seconds.
    pub poll: i8,
    /// Precision of the sender's clock, log2 seconds.
    pub precision: i8,
    /// Root delay, NTP short format (16.16 fixed point seconds).
    pub root_delay: u32,
    /// Root dispersion, NTP short format (16.16 fixed point seconds).
    pub root_dispersion: u32,
    /// Reference id, the 4 bytes as on the wire (an IPv4 address, an ASCII
    /// code, or a kiss code at stratum 0).
    pub reference_id: [u8; 4],
    /// Reference timestamp.
    pub reference_time: ntp_timestamp,
    /// Origin timestamp (T1).
    pub origin_time: ntp_timestamp,
    /// Receive timestamp (T2).
    pub receive_time: ntp_timestamp,
    /// Transmit timestamp (T3).
    pub transmit_time: ntp_timestamp,
}

impl From<Repr> for ntp_packet_header {
    fn from(r: Repr) -> Self {
        ntp_packet_header {
            leap: r.leap.to_bits(),
            version: r.version.to_bits(),
            mode: r.mode.to_bits(),
            stratum: r.stratum.0,
            poll: r.poll,
            precision: r.precision,
            root_delay: r.root_delay.to_bits(),
            root_dispersion: r.root_dispersion.to_bits(),
            reference_id: r.reference_id.0,
            reference_time: r.reference_time.to_bits(),
            origin_time: r.origin_time.to_bits(),
            receive_time: r.receive_time.to_bits(),
            transmit_time: r.transmit_time.to_bits(),
        }
    }
}

impl ntp_packet_header {
    /// The header of a checked packet, each field read by ntp-wire's
    /// accessor and turned back into its wire bits. Read straight from the
    /// view rather than through `Repr::from_bytes`: out of its
    /// `Result<Repr, _>` the compiler rebuilt the 3-bit version with a
    /// lookup table and an indirect jump; accessor by accessor, each
    /// `from_bits(..).to_bits()` pair folds into a shift and a mask.
    #[inline]
    fn from_packet(p: &Packet<&[u8]>) -> Self {
        ntp_packet_header {
            leap: p.leap().to_bits(),
            version: p.version().to_bits(),
            mode: p.mode().to_bits(),
            stratum: p.stratum().0,
            poll: p.poll(),
            precision: p.precision(),
            root_delay: p.root_delay().to_bits(),
            root_dispersion: p.root_dispersion().to_bits(),
            reference_id: p.reference_id().0,
            reference_time: p.reference_time().to_bits(),
            origin_time: p.origin_time().to_bits(),
            receive_time: p.receive_time().to_bits(),
            transmit_time: p.transmit_time().to_bits(),
        }
    }

    /// Refuses what `Repr` cannot hold: a leap above 3, a version or mode
    /// above 7. Reads only those three bytes, so the caller's other checks
    /// can run before the rest of the struct is loaded.
    #[inline]
    fn check_ranges(&self) -> Result<(), ntp_result> {
        if self.leap > 3 || self.version > 7 || self.mode > 7 {
            return Err(ntp_result::InvalidParameter);
        }
        Ok(())
    }

    /// The header as ntp-wire's `Repr`; the fields must have passed
    /// [`Self::check_ranges`] (`from_bits` would otherwise drop high bits).
    #[inline]
    fn to_repr(self) -> Repr {
        Repr {
            leap: LeapIndicator::from_bits(self.leap),
            version: Version::from_bits(self.version),
            mode: Mode::from_bits(self.mode),
            stratum: Stratum(self.stratum),
            poll: self.poll,
            precision: self.precision,
            root_delay: NtpShort::from_bits(self.root_delay),
            root_dispersion: NtpShort::from_bits(self.root_dispersion),
            reference_id: ReferenceId(self.reference_id),
            reference_time: NtpTimestamp::from_bits(self.reference_time),
            origin_time: NtpTimestamp::from_bits(self.origin_time),
            receive_time: NtpTimestamp::from_bits(self.receive_time),
            transmit_time: NtpTimestamp::from_bits(self.transmit_time),
        }
    }
}

/// Fills `out` with the defaults of a fresh header: NTPv4, everything else
/// zero (leap 0, mode 0, stratum 0, zero timestamps).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_packet_header_init(out: *mut ntp_packet_header) -> ntp_result {
    boundary(|| {
        *ptr::out(out)? = Repr::default().into();
        Ok(())
    })
}

/// Decodes the header of the packet in `buf` (`len` bytes, read during the
/// call only) into `out`. The trailer's structure is checked too, as for
/// any untrusted packet; `ntp_packet_trailer` reports what it holds.
///
/// Returns `NTP_RESULT_WIRE_TRUNCATED` for fewer than 48 bytes, and the
/// wire error (100-199) of a malformed trailer.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_packet_decode(buf: *const u8, len: usize, out: *mut ntp_packet_header) -> ntp_result {
    boundary(|| {
        let bytes = ptr::slice(buf, len)?;
        let out = ptr::out(out)?;
        // The checks of untrusted bytes (length, trailer), then a view of
        // the same bytes: out of `new_checked`'s `Result` the compiler no
        // longer sees that the length was checked and keeps every
        // accessor's short-buffer branch; on `bytes` itself it drops them.
        Packet::new_checked(bytes)?;
        *out = ntp_packet_header::from_packet(&Packet::new_unchecked(bytes));
        Ok(())
    })
}

/// Encodes `header` into the first 48 bytes of the caller's `buf` (`len`
/// bytes; bytes after the header are left alone) and writes 48 to `written`.
///
/// Returns `NTP_RESULT_INSUFFICIENT_SIZE` if `len` < 48 and
/// `NTP_RESULT_INVALID_PARAMETER` for a leap above 3 or a version or mode
/// above 7.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_packet_encode(
    header: *const ntp_packet_header,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> ntp_result {
    boundary(|| {
        // Every check before the conversion, so that the fields are read
        // once, straight into the encoder, instead of being held in
        // registers (and saved ones) across the pointer checks.
        let header = ptr::read(header)?;
        header.check_ranges()?;
        let out = ptr::slice_mut(buf, len)?;
        let written = ptr::out(written)?;
        *written = header.to_repr().emit_into(out)?;
        Ok(())
    })
}

/// What authenticates a packet.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_auth_kind {
    /// No MAC: unauthenticated.
    None = 0,
    /// A MAC (key id and digest).
    Mac = 1,
    /// A crypto-NAK: the sender could not authenticate our last packet.
    CryptoNak = 2,
}

/// The trailer of a packet: what follows the 48-byte header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ntp_trailer_info {
    /// Number of extension fields (RFC 7822).
    pub extension_count: u32,
    /// An `ntp_auth_kind` value.
    pub auth_kind: u32,
    /// Offset of the MAC or crypto-NAK (or the packet length when none):
    /// the bytes a MAC covers are `[0, auth_offset)`.
    pub auth_offset: usize,
    /// The MAC's key id (0 unless `auth_kind` is MAC).
    pub mac_key_id: u32,
    /// Digest length in bytes, 16 or 20 (0 unless `auth_kind` is MAC).
    pub mac_digest_len: usize,
    /// The digest; bytes past `mac_digest_len` are zero.
    pub mac_digest: [u8; NTP_MAX_DIGEST_LEN],
}

/// Locates and checks the trailer of the packet in `buf` (`len` bytes).
///
/// Returns the wire error (100-199) that makes the packet malformed, e.g.
/// `NTP_RESULT_WIRE_BAD_TRAILER_LENGTH`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_packet_trailer(buf: *const u8, len: usize, out: *mut ntp_trailer_info) -> ntp_result {
    boundary(|| {
        let bytes = ptr::slice(buf, len)?;
        let out = ptr::out(out)?;
        let trailer = Trailer::split(bytes)?;
        let mut info = ntp_trailer_info { auth_offset: trailer.auth_offset(), ..ntp_trailer_info::default() };
        for field in trailer.extension_fields() {
            field?;
            info.extension_count = info.extension_count.saturating_add(1);
        }
        match trailer.authenticator() {
            Authenticator::None => info.auth_kind = ntp_auth_kind::None as u32,
            Authenticator::CryptoNak => info.auth_kind = ntp_auth_kind::CryptoNak as u32,
            Authenticator::Mac(mac) => {
                info.auth_kind = ntp_auth_kind::Mac as u32;
                info.mac_key_id = mac.key_id;
                let dst = info.mac_digest.get_mut(..mac.digest.len()).ok_or(ntp_result::WireOther)?;
                dst.copy_from_slice(mac.digest);
                info.mac_digest_len = mac.digest.len();
            }
        }
        *out = info;
        Ok(())
    })
}

/// One extension field, located by offsets into the caller's packet (no
/// pointer into it is handed out).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ntp_extension_field {
    /// Field type (IANA "NTP Extension Field Types").
    pub field_type: u16,
    /// Offset of the value in the packet (after the 4-byte field header).
    pub value_offset: usize,
    /// Length of the value including any padding, bytes.
    pub value_len: usize,
}

/// The extension field number `index` (from 0) of the packet in `buf`.
///
/// Returns `NTP_RESULT_NOT_FOUND` if the packet has `index` fields or fewer,
/// or the wire error of a malformed packet.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_packet_extension(
    buf: *const u8,
    len: usize,
    index: usize,
    out: *mut ntp_extension_field,
) -> ntp_result {
    boundary(|| {
        let bytes = ptr::slice(buf, len)?;
        let out = ptr::out(out)?;
        let trailer = Trailer::split(bytes)?;
        // Fields are contiguous from the end of the header.
        let mut offset = NTP_HEADER_LEN;
        for (i, field) in trailer.extension_fields().enumerate() {
            let field = field?;
            if i == index {
                *out = ntp_extension_field {
                    field_type: field.field_type,
                    value_offset: offset.saturating_add(4),
                    value_len: field.value.len(),
                };
                return Ok(());
            }
            offset = offset.saturating_add(field.wire_len());
        }
        Err(ntp_result::NotFound)
    })
}

const _: () = assert!(MAX_DIGEST_LEN == NTP_MAX_DIGEST_LEN);
const _: () = assert!(ntp_algo::MAX_DATAGRAM == NTP_MAX_DATAGRAM);
const _: () = assert!(ntp_wire::HEADER_LEN == NTP_HEADER_LEN);

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_wire::ExtensionFieldWriter;
    use proptest::prelude::*;

    fn arb_header() -> impl Strategy<Value = ntp_packet_header> {
        (0u8..4, 0u8..8, 0u8..8, any::<u8>(), any::<i8>(), any::<i8>(), any::<u32>(), any::<u32>(), any::<[u8; 4]>())
            .prop_flat_map(|(leap, version, mode, stratum, poll, precision, rd, rdisp, refid)| {
                (any::<[u64; 4]>()).prop_map(move |t| ntp_packet_header {
                    leap,
                    version,
                    mode,
                    stratum,
                    poll,
                    precision,
                    root_delay: rd,
                    root_dispersion: rdisp,
                    reference_id: refid,
                    reference_time: t[0],
                    origin_time: t[1],
                    receive_time: t[2],
                    transmit_time: t[3],
                })
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(h in arb_header()) {
            let mut buf = [0u8; 48];
            let mut n = 0;
            prop_assert_eq!(ntp_packet_encode(&h, buf.as_mut_ptr(), buf.len(), &mut n), ntp_result::Ok);
            prop_assert_eq!(n, 48);
            let mut back = ntp_packet_header::default();
            prop_assert_eq!(ntp_packet_decode(buf.as_ptr(), buf.len(), &mut back), ntp_result::Ok);
            prop_assert_eq!(back, h);
        }

        #[test]
        fn decode_never_fails_oddly(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut h = ntp_packet_header::default();
            let r = ntp_packet_decode(bytes.as_ptr(), bytes.len(), &mut h);
            let mut t = ntp_trailer_info::default();
            let rt = ntp_packet_trailer(bytes.as_ptr(), bytes.len(), &mut t);
            prop_assert!(rt == ntp_result::Ok || (100..200).contains(&(rt as u32)));
            // The header decodes exactly when the packet is well formed.
            prop_assert_eq!(r, rt);
        }
    }

    #[test]
    fn encode_rejects_out_of_range_fields_and_short_buffers() {
        let mut h = ntp_packet_header::default();
        assert_eq!(ntp_packet_header_init(&mut h), ntp_result::Ok);
        assert_eq!(h.version, 4);
        let mut buf = [0u8; 48];
        let mut n = 99;
        assert_eq!(ntp_packet_encode(&h, buf.as_mut_ptr(), 47, &mut n), ntp_result::InsufficientSize);
        h.leap = 4;
        assert_eq!(ntp_packet_encode(&h, buf.as_mut_ptr(), 48, &mut n), ntp_result::InvalidParameter);
        assert_eq!(n, 99);
    }

    #[test]
    fn decode_writes_out_only_on_success() {
        let mut packet = [0u8; 48 + 8];
        Repr::default().emit_into(&mut packet).unwrap();
        let marker = ntp_packet_header { stratum: 99, ..ntp_packet_header::default() };
        let mut h = marker;
        // Truncated, then a trailer too short to be a MAC or an extension.
        assert_eq!(ntp_packet_decode(packet.as_ptr(), 47, &mut h), ntp_result::WireTruncated);
        assert_eq!(h, marker);
        assert_ne!(ntp_packet_decode(packet.as_ptr(), packet.len(), &mut h), ntp_result::Ok);
        assert_eq!(h, marker);
        assert_eq!(ntp_packet_decode(std::ptr::null(), 48, &mut h), ntp_result::NullParameter);
        assert_eq!(ntp_packet_decode(packet.as_ptr(), 48, std::ptr::null_mut()), ntp_result::NullParameter);
        assert_eq!(h, marker);
        assert_eq!(ntp_packet_decode(packet.as_ptr(), 48, &mut h), ntp_result::Ok);
        assert_eq!(h.version, 4);
        assert_eq!(h.stratum, 0);
    }

    #[test]
    fn trailer_reports_extensions_and_mac() {
        let mut buf = [0u8; 48 + 32 + 20];
        Repr::default().emit_into(&mut buf).unwrap();
        let mut w = ExtensionFieldWriter::new(&mut buf);
        w.push(0x0104, &[9u8; 12]).unwrap();
        let off = w.finish(true).unwrap();
        buf[off..off + 4].copy_from_slice(&7u32.to_be_bytes());
        buf[off + 4..off + 20].fill(0xAB);
        let len = off + 20;
        let mut t = ntp_trailer_info::default();
        assert_eq!(ntp_packet_trailer(buf.as_ptr(), len, &mut t), ntp_result::Ok);
        assert_eq!(t.extension_count, 1);
        assert_eq!(t.auth_kind, ntp_auth_kind::Mac as u32);
        assert_eq!(t.auth_offset, off);
        assert_eq!(t.mac_key_id, 7);
        assert_eq!(&t.mac_digest[..t.mac_digest_len], &[0xAB; 16]);
        let mut f = ntp_extension_field::default();
        assert_eq!(ntp_packet_extension(buf.as_ptr(), len, 0, &mut f), ntp_result::Ok);
        assert_eq!(f.field_type, 0x0104);
        assert_eq!(&buf[f.value_offset..f.value_offset + 12], &[9u8; 12]);
        assert_eq!(ntp_packet_extension(buf.as_ptr(), len, 1, &mut f), ntp_result::NotFound);
    }
}
