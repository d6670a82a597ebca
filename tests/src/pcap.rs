//! A small writer of classic pcap files holding UDP datagrams over IPv4, so
//! that tests can hand packets made by `ntp-wire` to tshark.
//!
//! The file format is the original libpcap one (not pcapng): a 24-byte
//! global header, then per packet a 16-byte record header and the bytes.
//! Packets are written with link type `LINKTYPE_RAW` (101): each record
//! starts straight with an IPv4 header, so no fake Ethernet addresses are
//! needed. The IPv4 and UDP headers are built here, checksums included, so
//! tshark sees well-formed datagrams; with port 123 on either side it
//! dissects the payload as NTP without a `-d` option.
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddrV4};
//! use std::time::Duration;
//! use ntp_tests::pcap::PcapWriter;
//!
//! let mut pcap = PcapWriter::new(Vec::new())?;
//! let client = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 40000);
//! let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 123);
//! pcap.write_udp(Duration::from_secs(1), client, server, &[0x23; 48])?;
//! let bytes = pcap.into_inner()?;
//! assert_eq!(bytes.len(), 24 + 16 + 20 + 8 + 48);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Write};
use std::net::SocketAddrV4;
use std::time::Duration;

/// The classic pcap magic number for microsecond timestamps, written in
/// little-endian order (readers detect the byte order from it).
const MAGIC_MICROSECONDS: u32 = 0xa1b2_c3d4;
/// `LINKTYPE_RAW`: each packet begins with an IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u32 = 101;
/// Largest record we write; any datagram fits (IPv4 caps it at 65535).
const SNAPLEN: u32 = 65_535;
/// Length of the IPv4 header we build (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// IANA protocol number of UDP.
const IPPROTO_UDP: u8 = 17;
/// Largest UDP payload an IPv4 datagram can carry.
pub const MAX_UDP_PAYLOAD: usize = 65_535 - IPV4_HEADER_LEN - UDP_HEADER_LEN;

/// Writes a pcap file one UDP datagram at a time.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    /// IPv4 identification field: counts up so that every datagram differs,
    /// as a real sender's would.
    next_id: u16,
}

impl<W: Write> PcapWriter<W> {
    /// Starts a file on `out` by writing the global header.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&MAGIC_MICROSECONDS.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes()); // version 2.4
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // Bytes 8..16: time zone offset and timestamp accuracy, both zero by convention.
        header[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out, next_id: 1 })
    }

    /// Appends one UDP datagram from `src` to `dst` carrying `payload`,
    /// stamped with `time` since the Unix epoch (capture time only: tshark
    /// shows it as `frame.time`, it plays no part in the NTP fields).
    ///
    /// Fails with `InvalidInput` if the payload does not fit one IPv4
    /// datagram or `time` does not fit the format's 32-bit seconds.
    pub fn write_udp(
        &mut self,
        time: Duration,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> io::Result<()> {
        let seconds = u32::try_from(time.as_secs())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcap timestamps end in 2106"))?;
        let packet = ipv4_udp_packet(src, dst, payload, self.next_id)?;
        self.next_id = self.next_id.wrapping_add(1);
        let len = packet.len() as u32; // at most 65535, checked by ipv4_udp_packet
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&seconds.to_le_bytes());
        record[4..8].copy_from_slice(&time.subsec_micros().to_le_bytes());
        record[8..12].copy_from_slice(&len.to_le_bytes()); // bytes stored
        record[12..16].copy_from_slice(&len.to_le_bytes()); // bytes on the wire
        self.out.write_all(&record)?;
        self.out.write_all(&packet)
    }

    /// Flushes and gives back the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// An IPv4 datagram (20-byte header, no options, TTL 64, don't-fragment)
/// holding a UDP datagram with `payload`, both checksums filled in.
///
/// Fails with `InvalidInput` if the payload is longer than [`MAX_UDP_PAYLOAD`].
pub fn ipv4_udp_packet(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8], id: u16) -> io::Result<Vec<u8>> {
    if payload.len() > MAX_UDP_PAYLOAD {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "UDP payload too long for one IPv4 datagram"));
    }
    let udp_len = (UDP_HEADER_LEN + payload.len()) as u16;
    let total_len = IPV4_HEADER_LEN as u16 + udp_len;
    let mut packet = Vec::with_capacity(usize::from(total_len));

    // IPv4 header (RFC 791).
    packet.push(0x45); // version 4, header length 5 words
    packet.push(0); // DSCP/ECN
    packet.extend_from_slice(&total_len.to_be_bytes());
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&0x4000u16.to_be_bytes()); // don't fragment, offset 0
    packet.push(64); // TTL
    packet.push(IPPROTO_UDP);
    packet.extend_from_slice(&[0, 0]); // checksum, filled in below
    packet.extend_from_slice(&src.ip().octets());
    packet.extend_from_slice(&dst.ip().octets());
    let ip_checksum = internet_checksum(&[&packet[..IPV4_HEADER_LEN]]);
    packet[10..12].copy_from_slice(&ip_checksum.to_be_bytes());

    // UDP header (RFC 768); its checksum covers a pseudo-header of the
    // addresses, protocol and length, then the header and payload.
    let mut udp = [0u8; UDP_HEADER_LEN];
    udp[0..2].copy_from_slice(&src.port().to_be_bytes());
    udp[2..4].copy_from_slice(&dst.port().to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&src.ip().octets());
    pseudo[4..8].copy_from_slice(&dst.ip().octets());
    pseudo[9] = IPPROTO_UDP;
    pseudo[10..12].copy_from_slice(&udp_len.to_be_bytes());
    let udp_checksum = match internet_checksum(&[&pseudo, &udp, payload]) {
        // A computed zero is sent as all ones: zero on the wire means "no checksum".
        0 => 0xffff,
        sum => sum,
    };
    udp[6..8].copy_from_slice(&udp_checksum.to_be_bytes());
    packet.extend_from_slice(&udp);
    packet.extend_from_slice(payload);
    Ok(packet)
}

/// The Internet checksum (RFC 1071) of the concatenation of `parts`: the
/// ones' complement of the ones' complement sum of 16-bit big-endian words,
/// an odd last byte padded with zero.
pub fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut pending: Option<u8> = None;
    for byte in parts.iter().flat_map(|part| part.iter().copied()) {
        match pending.take() {
            Some(high) => sum += u32::from(u16::from_be_bytes([high, byte])),
            None => pending = Some(byte),
        }
    }
    if let Some(high) = pending {
        sum += u32::from(high) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, last), port)
    }

    #[test]
    fn test_checksum_known_answer() {
        // RFC 1071 §3's example words sum to 0xddf2 (ones' complement 0x220d).
        assert_eq!(internet_checksum(&[&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]), 0x220d);
        // Splitting the input anywhere, even mid-word, changes nothing.
        assert_eq!(internet_checksum(&[&[0x00, 0x01, 0xf2], &[0x03, 0xf4, 0xf5, 0xf6, 0xf7]]), 0x220d);
        // An odd length pads the last byte on the right.
        assert_eq!(internet_checksum(&[&[0x12]]), !0x1200);
    }

    #[test]
    fn test_global_header() {
        let bytes = PcapWriter::new(Vec::new()).unwrap().into_inner().unwrap();
        assert_eq!(bytes, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0]);
    }

    #[test]
    fn test_record_layout_and_checksums_verify() {
        let payload = [0xabu8; 49]; // odd length exercises the checksum padding
        let mut pcap = PcapWriter::new(Vec::new()).unwrap();
        pcap.write_udp(Duration::new(1_000, 250_000_000), addr(2, 40_000), addr(1, 123), &payload).unwrap();
        let bytes = pcap.into_inner().unwrap();
        let record = &bytes[24..40];
        assert_eq!(record[0..4], 1_000u32.to_le_bytes());
        assert_eq!(record[4..8], 250_000u32.to_le_bytes());
        let len = (20 + 8 + payload.len()) as u32;
        assert_eq!(record[8..12], len.to_le_bytes());
        assert_eq!(record[12..16], len.to_le_bytes());

        let ip = &bytes[40..];
        assert_eq!(ip.len(), len as usize);
        assert_eq!(ip[0], 0x45);
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), len as u16);
        assert_eq!(ip[9], 17);
        assert_eq!(ip[12..16], [127, 0, 0, 2]);
        assert_eq!(ip[16..20], [127, 0, 0, 1]);
        // A correct header checksums to zero when summed with its checksum.
        assert_eq!(internet_checksum(&[&ip[..20]]), 0);

        let udp = &ip[20..];
        assert_eq!(u16::from_be_bytes([udp[0], udp[1]]), 40_000);
        assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), 123);
        assert_eq!(u16::from_be_bytes([udp[4], udp[5]]) as usize, 8 + payload.len());
        let mut pseudo = [0u8; 12];
        pseudo[0..8].copy_from_slice(&ip[12..20]);
        pseudo[9] = 17;
        pseudo[10..12].copy_from_slice(&udp[4..6]);
        assert_eq!(internet_checksum(&[&pseudo, udp]), 0);
        assert_eq!(&udp[8..], &payload[..]);
    }

    #[test]
    fn test_ids_count_up() {
        let mut pcap = PcapWriter::new(Vec::new()).unwrap();
        for _ in 0..2 {
            pcap.write_udp(Duration::ZERO, addr(2, 1), addr(1, 123), &[]).unwrap();
        }
        let bytes = pcap.into_inner().unwrap();
        let first = &bytes[24 + 16..];
        let second = &first[28 + 16..];
        assert_eq!(first[4..6], [0, 1]);
        assert_eq!(second[4..6], [0, 2]);
    }

    #[test]
    fn test_impossible_inputs_are_refused() {
        let too_long = vec![0u8; MAX_UDP_PAYLOAD + 1];
        assert_eq!(
            ipv4_udp_packet(addr(2, 1), addr(1, 123), &too_long, 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(ipv4_udp_packet(addr(2, 1), addr(1, 123), &too_long[1..], 0).is_ok());
        let mut pcap = PcapWriter::new(Vec::new()).unwrap();
        let year_2106 = Duration::from_secs(u64::from(u32::MAX) + 1);
        assert_eq!(
            pcap.write_udp(year_2106, addr(2, 1), addr(1, 123), &[]).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
