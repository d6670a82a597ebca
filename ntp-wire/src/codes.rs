//! Code points of the first header byte and the stratum (RFC 5905 §7.3).
//!
//! Each enum covers every value its bits can hold, keeping the ones the RFC
//! leaves open in an `Unknown`/`Reserved` variant, so decoding never fails on
//! a code point and encoding gives back the same bits.

use core::fmt;

/// Leap indicator (LI), 2 bits: a warning of a leap second at the end of the
/// current UTC month, or that the sender's clock is not synchronized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LeapIndicator {
    /// 0: no warning.
    #[default]
    NoWarning,
    /// 1: the last minute of the month has 61 seconds (23:59:60 is inserted).
    InsertSecond,
    /// 2: the last minute of the month has 59 seconds (23:59:59 is deleted).
    DeleteSecond,
    /// 3: the sender's clock is unsynchronized (alarm condition).
    Unsynchronized,
}

impl LeapIndicator {
    /// From the 2-bit field (higher bits are ignored).
    #[inline]
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => LeapIndicator::NoWarning,
            1 => LeapIndicator::InsertSecond,
            2 => LeapIndicator::DeleteSecond,
            _ => LeapIndicator::Unsynchronized,
        }
    }

    /// The 2-bit field value.
    #[inline]
    pub const fn to_bits(self) -> u8 {
        match self {
            LeapIndicator::NoWarning => 0,
            LeapIndicator::InsertSecond => 1,
            LeapIndicator::DeleteSecond => 2,
            LeapIndicator::Unsynchronized => 3,
        }
    }
}

impl fmt::Display for LeapIndicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeapIndicator::NoWarning => "no warning",
            LeapIndicator::InsertSecond => "insert leap second (last minute has 61 s)",
            LeapIndicator::DeleteSecond => "delete leap second (last minute has 59 s)",
            LeapIndicator::Unsynchronized => "unsynchronized",
        })
    }
}

/// Version number (VN), 3 bits. NTPv4 is current; 1–3 are older versions
/// with the same header layout; 0 and 5–7 are kept as `Unknown`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// NTP version 1 (RFC 1059).
    V1,
    /// NTP version 2 (RFC 1119).
    V2,
    /// NTP version 3 (RFC 1305).
    V3,
    /// NTP version 4 (RFC 5905).
    #[default]
    V4,
    /// Any other 3-bit value (0, 5, 6, 7).
    Unknown(u8),
}

impl Version {
    /// From the 3-bit field (higher bits are ignored).
    #[inline]
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b111 {
            1 => Version::V1,
            2 => Version::V2,
            3 => Version::V3,
            4 => Version::V4,
            other => Version::Unknown(other),
        }
    }

    /// The 3-bit field value (an `Unknown` value is masked to 3 bits).
    #[inline]
    pub const fn to_bits(self) -> u8 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
            Version::V3 => 3,
            Version::V4 => 4,
            Version::Unknown(v) => v & 0b111,
        }
    }
}

/// Association mode, 3 bits (RFC 5905 Figure 10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 0: reserved.
    Reserved,
    /// 1: symmetric active.
    SymmetricActive,
    /// 2: symmetric passive.
    SymmetricPassive,
    /// 3: client.
    #[default]
    Client,
    /// 4: server.
    Server,
    /// 5: broadcast.
    Broadcast,
    /// 6: NTP control message (mode 6, RFC 9327 / `ntpq`).
    Control,
    /// 7: reserved for private use (`ntpdc`).
    Private,
}

impl Mode {
    /// From the 3-bit field (higher bits are ignored).
    #[inline]
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b111 {
            0 => Mode::Reserved,
            1 => Mode::SymmetricActive,
            2 => Mode::SymmetricPassive,
            3 => Mode::Client,
            4 => Mode::Server,
            5 => Mode::Broadcast,
            6 => Mode::Control,
            _ => Mode::Private,
        }
    }

    /// The 3-bit field value.
    #[inline]
    pub const fn to_bits(self) -> u8 {
        match self {
            Mode::Reserved => 0,
            Mode::SymmetricActive => 1,
            Mode::SymmetricPassive => 2,
            Mode::Client => 3,
            Mode::Server => 4,
            Mode::Broadcast => 5,
            Mode::Control => 6,
            Mode::Private => 7,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Reserved => "reserved",
            Mode::SymmetricActive => "symmetric active",
            Mode::SymmetricPassive => "symmetric passive",
            Mode::Client => "client",
            Mode::Server => "server",
            Mode::Broadcast => "broadcast",
            Mode::Control => "control",
            Mode::Private => "private",
        })
    }
}

/// Stratum, 8 bits: the distance in hops from a primary reference.
///
/// The raw value is kept as is; [`Stratum::class`] says what it means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stratum(pub u8);

/// What a stratum value means on the wire (RFC 5905 Figure 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StratumClass {
    /// 0: unspecified or invalid; the reference id carries a kiss code.
    Unspecified,
    /// 1: primary server, synchronized to a reference clock.
    Primary,
    /// 2..=15: secondary server, synchronized over NTP.
    Secondary(u8),
    /// 16: unsynchronized.
    Unsynchronized,
    /// 17..=255: reserved.
    Reserved(u8),
}

impl Stratum {
    /// Stratum 0: unspecified; used by kiss-o'-death packets.
    pub const UNSPECIFIED: Stratum = Stratum(0);
    /// Stratum 1: a primary server.
    pub const PRIMARY: Stratum = Stratum(1);
    /// The largest stratum a synchronized server may have (15).
    pub const MAX_SYNCHRONIZED: Stratum = Stratum(15);
    /// Stratum 16: unsynchronized.
    pub const UNSYNCHRONIZED: Stratum = Stratum(16);

    /// The class this value belongs to.
    #[inline]
    pub const fn class(self) -> StratumClass {
        match self.0 {
            0 => StratumClass::Unspecified,
            1 => StratumClass::Primary,
            s @ 2..=15 => StratumClass::Secondary(s),
            16 => StratumClass::Unsynchronized,
            s => StratumClass::Reserved(s),
        }
    }

    /// Whether the sender claims to be synchronized (1..=15).
    #[inline]
    pub const fn is_synchronized(self) -> bool {
        matches!(self.0, 1..=15)
    }
}

impl fmt::Display for Stratum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.class() {
            StratumClass::Unspecified => write!(f, "0 (unspecified / kiss-o'-death)"),
            StratumClass::Primary => write!(f, "1 (primary)"),
            StratumClass::Secondary(s) => write!(f, "{s} (secondary)"),
            StratumClass::Unsynchronized => write!(f, "16 (unsynchronized)"),
            StratumClass::Reserved(s) => write!(f, "{s} (reserved)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_code_point_round_trips() {
        for bits in 0..4 {
            assert_eq!(LeapIndicator::from_bits(bits).to_bits(), bits);
        }
        for bits in 0..8 {
            assert_eq!(Version::from_bits(bits).to_bits(), bits);
            assert_eq!(Mode::from_bits(bits).to_bits(), bits);
        }
        assert_eq!(Version::from_bits(0), Version::Unknown(0));
        assert_eq!(Version::from_bits(7), Version::Unknown(7));
        assert_eq!(Version::Unknown(0xFF).to_bits(), 7);
    }

    #[test]
    fn test_stratum_classes() {
        assert_eq!(Stratum(0).class(), StratumClass::Unspecified);
        assert_eq!(Stratum(1).class(), StratumClass::Primary);
        assert_eq!(Stratum(2).class(), StratumClass::Secondary(2));
        assert_eq!(Stratum(15).class(), StratumClass::Secondary(15));
        assert_eq!(Stratum(16).class(), StratumClass::Unsynchronized);
        assert_eq!(Stratum(17).class(), StratumClass::Reserved(17));
        assert!(!Stratum(0).is_synchronized());
        assert!(Stratum(15).is_synchronized());
        assert!(!Stratum(16).is_synchronized());
    }
}
