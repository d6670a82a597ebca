//! The 32-bit reference identifier (RFC 5905 §7.3, "Reference ID").
//!
//! Its meaning depends on the stratum: at stratum 0 a four-letter kiss code,
//! at stratum 1 a four-character ASCII name of the reference source (`GPS`,
//! `PPS`, `LOCL`), above that the IPv4 address of the upstream server or, for
//! an IPv6 upstream, the first four bytes of the MD5 digest of its address.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use md5::{Digest, Md5};

use crate::codes::{Stratum, StratumClass};

/// A 4-byte reference identifier, kept as the bytes on the wire.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReferenceId(pub [u8; 4]);

impl ReferenceId {
    /// All zero bytes.
    pub const NONE: ReferenceId = ReferenceId([0; 4]);
    /// `LOCL`, the conventional id of an undisciplined local clock used as a reference.
    pub const LOCAL: ReferenceId = ReferenceId(*b"LOCL");

    /// From the big-endian 32-bit value.
    #[inline]
    pub const fn from_u32(value: u32) -> Self {
        ReferenceId(value.to_be_bytes())
    }

    /// The big-endian 32-bit value.
    #[inline]
    pub const fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// The id a server synchronized to an IPv4 upstream sends: the address.
    #[inline]
    pub const fn from_ipv4(addr: Ipv4Addr) -> Self {
        ReferenceId(addr.octets())
    }

    /// The id a server synchronized to an IPv6 upstream sends: the first four
    /// bytes of the MD5 digest of the 16-byte address (RFC 5905 §7.3).
    pub fn from_ipv6(addr: Ipv6Addr) -> Self {
        let digest = Md5::digest(addr.octets());
        let mut id = [0u8; 4];
        for (slot, byte) in id.iter_mut().zip(digest.iter()) {
            *slot = *byte;
        }
        ReferenceId(id)
    }

    /// The id for an upstream of either address family.
    pub fn from_ip(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => ReferenceId::from_ipv4(a),
            IpAddr::V6(a) => ReferenceId::from_ipv6(a),
        }
    }

    /// The 4-character source id of a primary server, e.g. `GPS` or `LOCL`:
    /// ASCII letters, digits and the characters `-_.` padded with NUL on the
    /// right. `None` for anything else.
    pub fn from_source_name(name: &str) -> Option<Self> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > 4 {
            return None;
        }
        let mut id = [0u8; 4];
        for (slot, &b) in id.iter_mut().zip(bytes) {
            if !is_source_char(b) {
                return None;
            }
            *slot = b;
        }
        Some(ReferenceId(id))
    }

    /// The id read as an IPv4 address (meaningful for IPv4 upstreams).
    #[inline]
    pub const fn as_ipv4(self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[0], self.0[1], self.0[2], self.0[3])
    }

    /// The id read as ASCII text, with trailing NULs removed, if it is a
    /// plausible source or kiss code (printable ASCII, NUL only as padding).
    pub fn as_ascii(&self) -> Option<&str> {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(4);
        let (text, padding) = self.0.split_at(len);
        if text.is_empty() || padding.iter().any(|&b| b != 0) {
            return None;
        }
        if !text.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return None;
        }
        core::str::from_utf8(text).ok()
    }

    /// The kiss code, if the id is read as one (only meaningful at stratum 0).
    #[inline]
    pub const fn kiss_code(self) -> KissCode {
        KissCode::from_bytes(self.0)
    }

    /// What the id means for a packet of the given stratum.
    pub fn meaning(self, stratum: Stratum) -> ReferenceIdMeaning {
        match stratum.class() {
            StratumClass::Unspecified => ReferenceIdMeaning::Kiss(self.kiss_code()),
            StratumClass::Primary => ReferenceIdMeaning::Source(self),
            StratumClass::Secondary(_) => ReferenceIdMeaning::Upstream(self),
            StratumClass::Unsynchronized | StratumClass::Reserved(_) => ReferenceIdMeaning::Opaque(self),
        }
    }
}

fn is_source_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

impl fmt::Debug for ReferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_ascii() {
            Some(text) => write!(f, "ReferenceId({text:?} / {})", self.as_ipv4()),
            None => write!(f, "ReferenceId({})", self.as_ipv4()),
        }
    }
}

/// How to read a [`ReferenceId`], given the packet's stratum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceIdMeaning {
    /// Stratum 0: a kiss-o'-death or other kiss code.
    Kiss(KissCode),
    /// Stratum 1: the name of the reference source (use [`ReferenceId::as_ascii`]).
    Source(ReferenceId),
    /// Stratum 2..=15: the upstream's IPv4 address, or the MD5 hash form of
    /// its IPv6 address; the two cannot be told apart on the wire.
    Upstream(ReferenceId),
    /// Stratum 16 and reserved strata: no defined meaning (chrony and ntpd
    /// send `INIT`/`STEP`-like text or zero here).
    Opaque(ReferenceId),
}

macro_rules! kiss_codes {
    ($($(#[doc = $doc:literal])* $name:ident = $text:literal,)*) => {
        /// Kiss codes (RFC 5905 Figure 13), carried in the reference id of a
        /// stratum 0 packet. Unlisted codes are kept as `Unknown`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum KissCode {
            $($(#[doc = $doc])* $name,)*
            /// Any other four bytes.
            Unknown([u8; 4]),
        }

        impl KissCode {
            /// Every kiss code RFC 5905 names, in its order.
            pub const ALL: &'static [KissCode] = &[$(KissCode::$name,)*];

            /// From the four bytes of the reference id.
            pub const fn from_bytes(bytes: [u8; 4]) -> Self {
                $(if u32::from_be_bytes(bytes) == u32::from_be_bytes(*$text) {
                    return KissCode::$name;
                })*
                KissCode::Unknown(bytes)
            }

            /// The four bytes of the reference id.
            pub const fn to_bytes(self) -> [u8; 4] {
                match self {
                    $(KissCode::$name => *$text,)*
                    KissCode::Unknown(bytes) => bytes,
                }
            }
        }
    };
}

kiss_codes! {
    /// `ACST`: the association belongs to a unicast server.
    Acst = b"ACST",
    /// `AUTH`: server authentication failed.
    Auth = b"AUTH",
    /// `AUTO`: Autokey sequence failed.
    Auto = b"AUTO",
    /// `BCST`: the association belongs to a broadcast server.
    Bcst = b"BCST",
    /// `CRYP`: cryptographic authentication or identification failed.
    Cryp = b"CRYP",
    /// `DENY`: access denied by remote server; stop sending to it.
    Deny = b"DENY",
    /// `DROP`: lost peer in symmetric mode.
    Drop = b"DROP",
    /// `RSTR`: access denied due to local policy; stop sending to it.
    Rstr = b"RSTR",
    /// `INIT`: the association has not yet synchronized for the first time.
    Init = b"INIT",
    /// `MCST`: the association belongs to a dynamically discovered server.
    Mcst = b"MCST",
    /// `NKEY`: no key found.
    Nkey = b"NKEY",
    /// `RATE`: rate exceeded; reduce the poll rate.
    Rate = b"RATE",
    /// `RMOT`: alteration of association from a remote host running ntpdc.
    Rmot = b"RMOT",
    /// `STEP`: a step change in system time has occurred, but the association has not yet resynchronized.
    Step = b"STEP",
}

impl KissCode {
    /// Whether the code tells the client to stop sending to this server
    /// (`DENY` and `RSTR`, RFC 5905 §7.4).
    #[inline]
    pub const fn demands_stop(self) -> bool {
        matches!(self, KissCode::Deny | KissCode::Rstr)
    }

    /// Whether the code tells the client to reduce its poll rate (`RATE`).
    #[inline]
    pub const fn demands_slower_polling(self) -> bool {
        matches!(self, KissCode::Rate)
    }
}

impl fmt::Display for KissCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        match ReferenceId(bytes).as_ascii() {
            Some(text) => f.write_str(text),
            None => write!(f, "{:02x}{:02x}{:02x}{:02x}", bytes[0], bytes[1], bytes[2], bytes[3]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_kiss_codes_round_trip() {
        assert_eq!(KissCode::ALL.len(), 14);
        for &code in KissCode::ALL {
            assert_eq!(KissCode::from_bytes(code.to_bytes()), code);
            assert_eq!(code.to_string().len(), 4);
        }
        assert_eq!(KissCode::from_bytes(*b"RATE"), KissCode::Rate);
        assert_eq!(KissCode::from_bytes(*b"XYZW"), KissCode::Unknown(*b"XYZW"));
        assert!(KissCode::Deny.demands_stop() && KissCode::Rstr.demands_stop());
        assert!(!KissCode::Rate.demands_stop() && KissCode::Rate.demands_slower_polling());
    }

    #[test]
    fn test_ipv6_refid_is_md5_prefix() {
        // hashlib.md5(ipaddress.IPv6Address('::1').packed).hexdigest()[:8] == "cf404dc8"
        assert_eq!(ReferenceId::from_ipv6(Ipv6Addr::LOCALHOST).0, [0xcf, 0x40, 0x4d, 0xc8]);
    }

    #[test]
    fn test_source_names() {
        assert_eq!(ReferenceId::from_source_name("GPS"), Some(ReferenceId(*b"GPS\0")));
        assert_eq!(ReferenceId::from_source_name("LOCL"), Some(ReferenceId::LOCAL));
        assert_eq!(ReferenceId::from_source_name("TOOLONG"), None);
        assert_eq!(ReferenceId::from_source_name(""), None);
        assert_eq!(ReferenceId::from_source_name("a b"), None);
        assert_eq!(ReferenceId(*b"GPS\0").as_ascii(), Some("GPS"));
        assert_eq!(ReferenceId([b'G', 0, b'S', 0]).as_ascii(), None);
        assert_eq!(ReferenceId([127, 0, 0, 1]).as_ascii(), None);
    }

    #[test]
    fn test_meaning_by_stratum() {
        let id = ReferenceId(*b"DENY");
        assert_eq!(id.meaning(Stratum(0)), ReferenceIdMeaning::Kiss(KissCode::Deny));
        assert_eq!(id.meaning(Stratum(1)), ReferenceIdMeaning::Source(id));
        assert_eq!(id.meaning(Stratum(3)), ReferenceIdMeaning::Upstream(id));
        assert_eq!(id.meaning(Stratum(16)), ReferenceIdMeaning::Opaque(id));
        assert_eq!(ReferenceId::from_ipv4(Ipv4Addr::new(10, 1, 2, 3)).as_ipv4(), Ipv4Addr::new(10, 1, 2, 3));
    }
}
