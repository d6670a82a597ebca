//! System variables (RFC 5905 §11, Figure 25): what this node says about
//! its own time in every packet it sends, and what operators read.

use core::net::IpAddr;

use ntp_wire::{LeapIndicator, NtpShort, NtpTimestamp, ReferenceId, Repr, Stratum};

use crate::constants::{MAXSTRAT, PHI};
use crate::ids::AssociationId;

/// Where the system takes its time from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncSource {
    /// Nothing: the clock is unsynchronized.
    None,
    /// An association chosen by the selection (the system peer).
    Peer(AssociationId),
    /// The local clock, configured as a reference at a stratum (`ntp master N`,
    /// `refclock-master N`), because nothing better is reachable.
    LocalReference,
    /// Orphan mode: no upstream is reachable, and this node leads its orphan group.
    Orphan,
}

/// How the selection last judged an association.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SelectionStatus {
    /// Not considered: not fit (unreachable, unsynchronized, too far, a loop).
    #[default]
    Rejected,
    /// Dropped by the intersection: its interval misses the majority's.
    Falseticker,
    /// A truechimer dropped by the cluster algorithm.
    Outlier,
    /// A survivor of the cluster algorithm, combined into the offset.
    Candidate,
    /// The system peer.
    SystemPeer,
}

impl SelectionStatus {
    /// The one-character tally code `ntpq -p` and Cisco's `show ntp associations` print.
    pub const fn tally(self) -> char {
        match self {
            SelectionStatus::Rejected => ' ',
            SelectionStatus::Falseticker => 'x',
            SelectionStatus::Outlier => '-',
            SelectionStatus::Candidate => '+',
            SelectionStatus::SystemPeer => '*',
        }
    }
}

/// The system variables, as the engine last set them ([`crate::Engine::system`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SystemVariables {
    /// Leap indicator we announce (3 while unsynchronized).
    pub leap: LeapIndicator,
    /// Our stratum: the system peer's plus one; 16 while unsynchronized.
    pub stratum: u8,
    /// Our clock's precision, log2 seconds.
    pub precision: i8,
    /// Round-trip delay to the primary reference, seconds.
    pub root_delay: f64,
    /// Dispersion to the primary reference at the last update, seconds; it
    /// grows at PHI (15 ppm) from then on ([`crate::SystemStatus::root_dispersion`] gives it grown to now).
    pub root_dispersion: f64,
    /// Reference id we announce.
    pub reference_id: ReferenceId,
    /// When the clock was last updated (our clock).
    pub reference_time: NtpTimestamp,
    /// The same instant on the engine's timeline, seconds.
    pub(crate) update_time: f64,
    /// Where the time comes from.
    pub source: SyncSource,
    /// The last combined offset handed to the discipline, seconds.
    pub offset: f64,
    /// System jitter, seconds.
    pub jitter: f64,
    /// System poll interval, log2 seconds.
    pub poll: i8,
}

impl SystemVariables {
    /// The variables of an unsynchronized node with clock precision `precision`.
    pub(crate) fn unsynchronized(precision: i8, poll: i8) -> Self {
        SystemVariables {
            leap: LeapIndicator::Unsynchronized,
            stratum: MAXSTRAT,
            precision,
            root_delay: 0.0,
            root_dispersion: 0.0,
            reference_id: ReferenceId::NONE,
            reference_time: NtpTimestamp::ZERO,
            update_time: 0.0,
            source: SyncSource::None,
            offset: 0.0,
            jitter: 0.0,
            poll,
        }
    }

    /// Whether the system has a source.
    pub fn is_synchronized(&self) -> bool {
        self.source != SyncSource::None && self.leap != LeapIndicator::Unsynchronized
    }

    /// The system peer, if an association is the source.
    pub fn system_peer(&self) -> Option<AssociationId> {
        match self.source {
            SyncSource::Peer(id) => Some(id),
            _ => None,
        }
    }

    /// Root dispersion at `now` (engine timeline), grown at PHI since the update.
    pub(crate) fn root_dispersion_at(&self, now: f64) -> f64 {
        if self.is_synchronized() {
            self.root_dispersion + PHI * (now - self.update_time).max(0.0)
        } else {
            self.root_dispersion
        }
    }

    /// The header fields our packets carry at `now`; mode, poll and the
    /// three exchange timestamps are left for the sender to fill in.
    pub(crate) fn header_template(&self, now: f64) -> Repr {
        Repr {
            leap: self.leap,
            stratum: Stratum(self.stratum),
            precision: self.precision,
            root_delay: NtpShort::from_seconds_f64(self.root_delay),
            root_dispersion: NtpShort::from_seconds_f64(self.root_dispersion_at(now)),
            reference_id: self.reference_id,
            reference_time: self.reference_time,
            ..Repr::default()
        }
    }
}

/// The reference id that names `addr` as our upstream (RFC 5905 §7.3).
pub(crate) fn reference_id_for(addr: IpAddr) -> ReferenceId {
    ReferenceId::from_ip(addr)
}
