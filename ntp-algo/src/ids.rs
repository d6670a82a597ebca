//! The names every other module shares: association ids and modes, and the
//! per-test rejection tally. A leaf module (it imports nothing of this
//! crate), so the association, the events and the status views can all use
//! these without importing each other.

use ntp_wire::Mode;

/// How many packet tests there are (RFC 5905 Figure 22, tests 1..=7).
pub(crate) const PACKET_TESTS: usize = 7;

/// Identifies an association within one engine. Never reused while the
/// engine lives (until 2^32 associations have been created).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssociationId(pub u32);

impl core::fmt::Display for AssociationId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The local side's mode of an association (RFC 5905 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssociationMode {
    /// We poll a server (`ntp server`, `unicast-server`).
    Client,
    /// We poll a peer and let it synchronize to us too (`ntp peer`, `unicast-peer`).
    SymmetricActive,
    /// Created when a symmetric active peer contacts us.
    SymmetricPassive,
    /// We send mode 5 packets to a broadcast address (`ntp broadcast`).
    BroadcastServer,
    /// We listen to a broadcast server (`ntp broadcast client`), after
    /// calibrating the delay with a few client/server exchanges.
    BroadcastClient,
}

impl AssociationMode {
    /// The mode our packets carry.
    pub const fn packet_mode(self) -> Mode {
        match self {
            AssociationMode::Client | AssociationMode::BroadcastClient => Mode::Client,
            AssociationMode::SymmetricActive => Mode::SymmetricActive,
            AssociationMode::SymmetricPassive => Mode::SymmetricPassive,
            AssociationMode::BroadcastServer => Mode::Broadcast,
        }
    }

    /// Whether both sides may synchronize to each other.
    pub const fn is_symmetric(self) -> bool {
        matches!(self, AssociationMode::SymmetricActive | AssociationMode::SymmetricPassive)
    }

    /// The short name used in status views.
    pub const fn name(self) -> &'static str {
        match self {
            AssociationMode::Client => "client",
            AssociationMode::SymmetricActive => "sym_active",
            AssociationMode::SymmetricPassive => "sym_passive",
            AssociationMode::BroadcastServer => "bcast_server",
            AssociationMode::BroadcastClient => "bcast_client",
        }
    }
}

/// The packet tests of RFC 5905 Figure 22 (and §11.2's fitness reasons), as
/// reasons a packet was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketTest {
    /// Test 1: the transmit timestamp equals the last one seen (a replay or duplicate).
    Duplicate,
    /// Test 2: the origin timestamp does not match our last transmit (bogus, spoofed or stale).
    Bogus,
    /// Test 3: a timestamp is zero where a value is required (e.g. zero origin).
    Invalid,
    /// Test 4: access control does not let us use this source.
    AccessDenied,
    /// Test 5: authentication failed or was required and missing.
    Authentication,
    /// Test 6: the source is unsynchronized (leap 3 or stratum 16 and up).
    Unsynchronized,
    /// Test 7: the header values are out of range (root distance too large,
    /// reference time after transmit time).
    BadHeader,
}

impl PacketTest {
    /// The test's number in RFC 5905 Figure 22 (1..=7).
    pub const fn number(self) -> usize {
        match self {
            PacketTest::Duplicate => 1,
            PacketTest::Bogus => 2,
            PacketTest::Invalid => 3,
            PacketTest::AccessDenied => 4,
            PacketTest::Authentication => 5,
            PacketTest::Unsynchronized => 6,
            PacketTest::BadHeader => 7,
        }
    }
}

/// Adds one to `test`'s slot in a per-test tally (the engine's and each
/// association's counters share this layout: index = test number - 1).
pub(crate) fn count_rejection(tally: &mut [u64; PACKET_TESTS], test: PacketTest) {
    if let Some(slot) = tally.get_mut(test.number() - 1) {
        *slot += 1;
    }
}
