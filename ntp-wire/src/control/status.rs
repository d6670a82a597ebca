//! The status words of READSTAT and READVAR responses (RFC 9327 §2.1 and
//! §2.2; the bit layout of ntpd's `CTL_SYS_STATUS` and `CTL_PEER_STATUS`).
//!
//! ```text
//! system: | LI (15-14) | clock source (13-8) | event count (7-4) | last event (3-0) |
//! peer:   | flags (15-11) | selection (10-8) | event count (7-4) | last event (3-0) |
//! ```

use core::fmt;

use crate::codes::LeapIndicator;

/// The system status word: leap indicator, clock source, and the count and
/// code of the most recent system event.
///
/// Fields are stored as given; [`SystemStatus::to_bits`] keeps only the low
/// bits each field has room for (6 for the clock source, 4 for the events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SystemStatus {
    /// Leap indicator, bits 15-14.
    pub leap: LeapIndicator,
    /// Clock source, bits 13-8 (ntpd's `CTL_SST_TS_*`: 0 unspecified,
    /// 1 atomic, 2 LF radio, 3 HF radio, 4 UHF radio, 5 local, 6 NTP,
    /// 7 other UDP/time, 8 wristwatch, 9 telephone modem; 0x20 adds "PPS").
    pub clock_source: u8,
    /// Events since the last READ of this word, bits 7-4 (saturates at 15 in ntpd).
    pub event_count: u8,
    /// Code of the most recent event, bits 3-0.
    pub last_event: u8,
}

impl SystemStatus {
    /// Splits a status word.
    #[inline]
    pub const fn from_bits(word: u16) -> SystemStatus {
        SystemStatus {
            leap: LeapIndicator::from_bits((word >> 14) as u8),
            clock_source: ((word >> 8) & 0x3f) as u8,
            event_count: ((word >> 4) & 0xf) as u8,
            last_event: (word & 0xf) as u8,
        }
    }

    /// Builds the status word.
    #[inline]
    pub const fn to_bits(self) -> u16 {
        ((self.leap.to_bits() as u16) << 14)
            | (((self.clock_source & 0x3f) as u16) << 8)
            | (((self.event_count & 0xf) as u16) << 4)
            | (self.last_event & 0xf) as u16
    }
}

/// How the selection algorithms last classed a peer: the low 3 bits of the
/// peer status word's high byte, and the tally character `ntpq -p` prints
/// before the peer's name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PeerSelection {
    /// 0: rejected (unreachable, or failed the sanity checks). Tally `' '`.
    #[default]
    Reject,
    /// 1: discarded by the intersection algorithm (falseticker). Tally `'x'`.
    Falsetick,
    /// 2: discarded by the table overflow (not among the first ten). Tally `'.'`.
    Excess,
    /// 3: discarded by the cluster algorithm (outlier). Tally `'-'`.
    Outlier,
    /// 4: included by the combine algorithm (candidate). Tally `'+'`.
    Candidate,
    /// 5: a backup (more than enough candidates). Tally `'#'`.
    Backup,
    /// 6: the system peer. Tally `'*'`.
    SystemPeer,
    /// 7: the PPS peer (system peer with a PPS signal). Tally `'o'`.
    PpsPeer,
}

impl PeerSelection {
    const ALL: [PeerSelection; 8] = [
        PeerSelection::Reject,
        PeerSelection::Falsetick,
        PeerSelection::Excess,
        PeerSelection::Outlier,
        PeerSelection::Candidate,
        PeerSelection::Backup,
        PeerSelection::SystemPeer,
        PeerSelection::PpsPeer,
    ];

    /// From the 3-bit code (higher bits are ignored).
    #[inline]
    pub const fn from_bits(bits: u8) -> PeerSelection {
        match bits & 7 {
            0 => PeerSelection::Reject,
            1 => PeerSelection::Falsetick,
            2 => PeerSelection::Excess,
            3 => PeerSelection::Outlier,
            4 => PeerSelection::Candidate,
            5 => PeerSelection::Backup,
            6 => PeerSelection::SystemPeer,
            _ => PeerSelection::PpsPeer,
        }
    }

    /// The 3-bit code.
    #[inline]
    pub const fn to_bits(self) -> u8 {
        self as u8
    }

    /// The character `ntpq -p` prints for it.
    #[inline]
    pub const fn tally(self) -> char {
        match self {
            PeerSelection::Reject => ' ',
            PeerSelection::Falsetick => 'x',
            PeerSelection::Excess => '.',
            PeerSelection::Outlier => '-',
            PeerSelection::Candidate => '+',
            PeerSelection::Backup => '#',
            PeerSelection::SystemPeer => '*',
            PeerSelection::PpsPeer => 'o',
        }
    }

    /// From a tally character; `None` for any other character.
    pub fn from_tally(c: char) -> Option<PeerSelection> {
        PeerSelection::ALL.into_iter().find(|s| s.tally() == c)
    }
}

impl fmt::Display for PeerSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerSelection::Reject => "reject",
            PeerSelection::Falsetick => "falsetick",
            PeerSelection::Excess => "excess",
            PeerSelection::Outlier => "outlier",
            PeerSelection::Candidate => "candidate",
            PeerSelection::Backup => "backup",
            PeerSelection::SystemPeer => "sys.peer",
            PeerSelection::PpsPeer => "pps.peer",
        })
    }
}

/// `bit` if `set`, else 0.
const fn flag(set: bool, bit: u16) -> u16 {
    if set { bit } else { 0 }
}

const CONFIGURED: u16 = 0x8000;
const AUTH_ENABLED: u16 = 0x4000;
const AUTHENTIC: u16 = 0x2000;
const REACHABLE: u16 = 0x1000;
const BROADCAST: u16 = 0x0800;

/// The peer status word: five flags, the selection code, and the count and
/// code of the peer's most recent event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PeerStatus {
    /// 0x80 of the high byte: configured (not mobilized by a packet).
    pub configured: bool,
    /// 0x40: authentication enabled for this peer.
    pub auth_enabled: bool,
    /// 0x20: the last packet authenticated.
    pub authentic: bool,
    /// 0x10: reachable (the reach register is not zero).
    pub reachable: bool,
    /// 0x08: a broadcast or manycast association.
    pub broadcast: bool,
    /// The low 3 bits of the high byte.
    pub selection: PeerSelection,
    /// Events since the last read, bits 7-4.
    pub event_count: u8,
    /// Code of the most recent event, bits 3-0.
    pub last_event: u8,
}

impl PeerStatus {
    /// Splits a status word.
    #[inline]
    pub const fn from_bits(word: u16) -> PeerStatus {
        PeerStatus {
            configured: word & CONFIGURED != 0,
            auth_enabled: word & AUTH_ENABLED != 0,
            authentic: word & AUTHENTIC != 0,
            reachable: word & REACHABLE != 0,
            broadcast: word & BROADCAST != 0,
            selection: PeerSelection::from_bits((word >> 8) as u8),
            event_count: ((word >> 4) & 0xf) as u8,
            last_event: (word & 0xf) as u8,
        }
    }

    /// Builds the status word (event fields keep their low 4 bits).
    #[inline]
    pub const fn to_bits(self) -> u16 {
        flag(self.configured, CONFIGURED)
            | flag(self.auth_enabled, AUTH_ENABLED)
            | flag(self.authentic, AUTHENTIC)
            | flag(self.reachable, REACHABLE)
            | flag(self.broadcast, BROADCAST)
            | ((self.selection.to_bits() as u16) << 8)
            | (((self.event_count & 0xf) as u16) << 4)
            | (self.last_event & 0xf) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_captured_system_status() {
        // NTPsec ntpd, unsynchronized, before any source: 0xc016.
        let status = SystemStatus::from_bits(0xc016);
        assert_eq!(status.leap, LeapIndicator::Unsynchronized);
        assert_eq!(status.clock_source, 0);
        assert_eq!((status.event_count, status.last_event), (1, 6));
        assert_eq!(status.to_bits(), 0xc016);
    }

    #[test]
    // Grouped by field (LI, clock source, event count, last event), not by nibble.
    #[allow(clippy::unusual_byte_groupings)]
    fn test_system_status_fields_land_in_their_bits() {
        let status = SystemStatus { leap: LeapIndicator::InsertSecond, clock_source: 6, event_count: 2, last_event: 5 };
        assert_eq!(status.to_bits(), 0b01_000110_0010_0101);
        // Values too wide for their field keep only their low bits.
        let wide = SystemStatus { clock_source: 0xff, event_count: 0x1f, last_event: 0x1f, ..status };
        assert_eq!(wide.to_bits(), 0b01_111111_1111_1111);
    }

    #[test]
    fn test_peer_status_as_ntpq_shows_it() {
        // 0x961a: configured, reachable, sys.peer; ntpq prints '*'.
        let status = PeerStatus::from_bits(0x961a);
        assert!(status.configured && status.reachable);
        assert!(!status.auth_enabled && !status.authentic && !status.broadcast);
        assert_eq!(status.selection, PeerSelection::SystemPeer);
        assert_eq!(status.selection.tally(), '*');
        assert_eq!((status.event_count, status.last_event), (1, 0xa));
        // 0x9424: configured, reachable, candidate.
        assert_eq!(PeerStatus::from_bits(0x9424).selection.tally(), '+');
        // 0x8011: configured, never reached, rejected.
        let lost = PeerStatus::from_bits(0x8011);
        assert!(lost.configured && !lost.reachable);
        assert_eq!(lost.selection.tally(), ' ');
        let every_flag = PeerStatus {
            configured: true,
            auth_enabled: true,
            authentic: true,
            reachable: true,
            broadcast: true,
            ..PeerStatus::default()
        };
        assert_eq!(every_flag.to_bits(), 0xf800);
    }

    #[test]
    fn test_tally_characters() {
        let tallies: String = (0..8).map(|bits| PeerSelection::from_bits(bits).tally()).collect();
        assert_eq!(tallies, " x.-+#*o");
        for bits in 0..8 {
            let selection = PeerSelection::from_bits(bits);
            assert_eq!(selection.to_bits(), bits);
            assert_eq!(PeerSelection::from_tally(selection.tally()), Some(selection));
        }
        assert_eq!(PeerSelection::from_tally('?'), None);
        assert_eq!(PeerSelection::SystemPeer.to_string(), "sys.peer");
    }

    fn any_system_status() -> impl Strategy<Value = SystemStatus> {
        (0u8..4, 0u8..64, 0u8..16, 0u8..16).prop_map(|(li, source, count, last)| SystemStatus {
            leap: LeapIndicator::from_bits(li),
            clock_source: source,
            event_count: count,
            last_event: last,
        })
    }

    fn any_peer_status() -> impl Strategy<Value = PeerStatus> {
        (any::<[bool; 5]>(), 0u8..8, 0u8..16, 0u8..16).prop_map(|(flags, sel, count, last)| PeerStatus {
            configured: flags[0],
            auth_enabled: flags[1],
            authentic: flags[2],
            reachable: flags[3],
            broadcast: flags[4],
            selection: PeerSelection::from_bits(sel),
            event_count: count,
            last_event: last,
        })
    }

    proptest! {
        #[test]
        fn prop_system_word_round_trips(word in any::<u16>()) {
            prop_assert_eq!(SystemStatus::from_bits(word).to_bits(), word);
        }

        #[test]
        fn prop_system_value_round_trips(status in any_system_status()) {
            prop_assert_eq!(SystemStatus::from_bits(status.to_bits()), status);
        }

        #[test]
        fn prop_peer_word_round_trips(word in any::<u16>()) {
            // Bits 0x0700 hold the selection; every one of the 16 is meaningful.
            prop_assert_eq!(PeerStatus::from_bits(word).to_bits(), word);
        }

        #[test]
        fn prop_peer_value_round_trips(status in any_peer_status()) {
            prop_assert_eq!(PeerStatus::from_bits(status.to_bits()), status);
        }
    }
}
