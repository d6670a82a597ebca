//! Events and counters: what the engine reports for logs and monitoring.
//!
//! Events are queued as they happen and drained with the other outputs. The
//! queue is bounded ([`EVENT_QUEUE_LIMIT`]): a flood of hostile packets can
//! make the engine drop old events (counted in
//! [`Counters::events_dropped`]), never grow without bound.

use core::net::SocketAddr;

use ntp_wire::KissCode;

use crate::ids::{AssociationId, AssociationMode, PACKET_TESTS, PacketTest, count_rejection};

/// The most events kept waiting to be drained.
pub const EVENT_QUEUE_LIMIT: usize = 1024;

/// Why an association ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemobilizeReason {
    /// The caller removed it.
    Removed,
    /// An ephemeral association heard nothing for too long.
    Unreachable,
    /// The server sent a kiss-o'-death demanding that we stop (DENY, RSTR).
    KissOfDeath(KissCode),
}

/// Something worth logging or showing to an operator.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// An association was created.
    Mobilized {
        /// Its id.
        id: AssociationId,
        /// The remote address.
        address: SocketAddr,
        /// Its mode.
        mode: AssociationMode,
        /// Created by an arriving packet rather than configured.
        ephemeral: bool,
    },
    /// An association was removed.
    Demobilized {
        /// Its id.
        id: AssociationId,
        /// The remote address.
        address: SocketAddr,
        /// Why.
        reason: DemobilizeReason,
    },
    /// The first answer after a period of silence (reach went from 0 to non-zero).
    Reachable {
        /// The association.
        id: AssociationId,
    },
    /// Eight polls without an answer (reach went to 0).
    Unreachable {
        /// The association.
        id: AssociationId,
    },
    /// A kiss-o'-death that passed the checks (origin matches, authenticated when required).
    KissOfDeath {
        /// The association.
        id: AssociationId,
        /// The code.
        code: KissCode,
    },
    /// A packet failed one of the packet tests.
    PacketRejected {
        /// Where it came from.
        source: SocketAddr,
        /// The association it was for, if any.
        id: Option<AssociationId>,
        /// Which test.
        test: PacketTest,
    },
    /// The system peer changed (None: no source is selected any more).
    SystemPeerChanged {
        /// The previous system peer.
        from: Option<AssociationId>,
        /// The new one.
        to: Option<AssociationId>,
    },
    /// The selection rejected a source whose interval does not overlap the
    /// majority's (a falseticker), whatever its stratum.
    FalsetickerRejected {
        /// The association.
        id: AssociationId,
    },
    /// The system clock is synchronized (the first clock update, or again after a loss).
    SyncGained {
        /// Our stratum now.
        stratum: u8,
    },
    /// No usable source remains; the clock runs free.
    SyncLost,
    /// The local reference (`ntp master N`) or orphan mode took over as our
    /// source because nothing better is reachable.
    LocalReferenceInUse {
        /// The stratum we now serve.
        stratum: u8,
    },
    /// The clock was told to step.
    ClockStepped {
        /// The step, seconds.
        offset: f64,
    },
    /// An offset beyond the panic threshold was refused.
    PanicOffset {
        /// The offset, seconds.
        offset: f64,
    },
    /// The leap indicator we announce changed.
    LeapChanged {
        /// The new indicator.
        leap: ntp_wire::LeapIndicator,
    },
    /// An NTS association (RFC 8915) needs keys and cookies: it was just
    /// added, its cookies are used up, or its server sent an NTSN kiss that
    /// echoed our outstanding request (RFC 8915 §5.7). It sends nothing
    /// until the runtime has run NTS-KE and called `Engine::provision_nts`.
    /// Emitted once per need, not at every poll.
    NtsKeyExchangeNeeded {
        /// The association.
        id: AssociationId,
    },
}

/// Counters since the engine was created. All monotonic.
///
/// One set per job: these count what the engine's dispatch and its
/// associations did with datagrams; what the server answered or dropped of
/// client requests (and of mode 1 packets answered statelessly) is counted
/// once, by the responder ([`crate::ResponderCounters`], through
/// `Engine::responder`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Datagrams handed to the engine.
    pub received: u64,
    /// Datagrams that were not well-formed NTP packets (requests excepted:
    /// the responder checks those).
    pub malformed: u64,
    /// Packets with a version other than 1..=4.
    pub bad_version: u64,
    /// Packets of a mode this engine does not handle (0, 6, 7) or discarded by dispatch.
    pub discarded: u64,
    /// Datagrams dropped at the door because their source's access class is `ignore`.
    pub access_denied: u64,
    /// Packets for an association (or refused one) whose MAC did not
    /// verify or whose key is unknown or untrusted.
    pub auth_failed: u64,
    /// Crypto-NAKs received.
    pub crypto_nak: u64,
    /// Mode 1 packets refused the creation of a passive association.
    pub peer_refused: u64,
    /// Packets rejected by each packet test, indexed by test number - 1.
    pub rejected_by_test: [u64; PACKET_TESTS],
    /// Kiss-o'-death packets accepted.
    pub kod_received: u64,
    /// Requests and polls sent by associations.
    pub polls_sent: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
    /// Datagrams dropped because the transmit queue was full (the caller
    /// did not drain it), replies included.
    pub transmits_dropped: u64,
    /// Replies to NTS associations refused by NTS (RFC 8915 §5.7): not
    /// authenticated, an authenticator that does not verify, or a unique
    /// identifier that is not our outstanding request's (a replay). They
    /// are also counted in `auth_failed` and as test 5 rejections.
    pub nts_rejected: u64,
    /// NTSN kisses honoured (they echoed our outstanding request).
    pub nts_naks: u64,
    /// NTS polls not sent for want of a cookie.
    pub nts_unsent: u64,
}

impl Counters {
    /// How many packets test `test` rejected.
    pub fn rejected(&self, test: PacketTest) -> u64 {
        self.rejected_by_test.get(test.number() - 1).copied().unwrap_or(0)
    }

    pub(crate) fn count_rejection(&mut self, test: PacketTest) {
        count_rejection(&mut self.rejected_by_test, test);
    }
}
