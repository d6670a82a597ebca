//! One association: the peer process and the poll process for one remote
//! (RFC 5905 §9 and §13, Appendix A.5.1 and A.5.7).
//!
//! An association keeps what the last packets said (the peer variables), the
//! on-wire bookkeeping that ties replies to requests, the reach register, the
//! poll schedule and the clock filter. It is driven by the engine, but it is
//! also usable alone: feed it parsed packets with [`Association::receive`],
//! and call [`Association::poll`] when [`Association::next_poll`] is due.
//!
//! # The order of the packet tests, and why
//!
//! Access (test 4) and authentication (test 5) come first, before any state
//! is touched: a packet we would not trust must not be able to change the
//! bookkeeping of an association it is aimed at (RFC 5905 checks them
//! later; ntpd's history of origin-timestamp attacks is why we do not). Then
//! duplicate (1), invalid (3) and bogus (2). In symmetric modes a packet that
//! fails 2 or 3 still updates the origin/receive bookkeeping, as the RFC
//! says, so that two peers whose packets crossed resynchronize on the next
//! exchange; in client mode nothing is updated. Then the header tests (6, 7),
//! which a packet can fail while still proving the server is reachable.

use core::net::SocketAddr;

use ntp_wire::{KissCode, LeapIndicator, Mode, NtpTimestamp, ReferenceId, Repr};

use crate::constants::{
    BURST_PACKETS, BURST_SPACING_LOG2, MAXDISP, MAXDIST, MAXPOLL, MAXSTRAT, MINDISP, MINPOLL, PHI, POLL_LIMIT_MAX,
    POLL_LIMIT_MIN, STARTUP_BURST_EXTRA,
};
use crate::discipline::FreqFit;
use crate::filter::{ClockFilter, FilterOutput, FilterParams, FilterSample, FilterVerdict};
use crate::ids::{AssociationId, AssociationMode, PACKET_TESTS, PacketTest, count_rejection};
use crate::onwire::{Exchange, broadcast_sample, log2_seconds};
use crate::system::SelectionStatus;

/// Client/server exchanges a broadcast client makes to calibrate the delay.
pub const CALIBRATION_EXCHANGES: u8 = 4;

/// What the caller configures for an association.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssociationConfig {
    /// The remote address (for a broadcast server: where to send).
    pub address: SocketAddr,
    /// The mode.
    pub mode: AssociationMode,
    /// Sign our packets with this key and require it on theirs.
    pub key_id: Option<u32>,
    /// Shortest poll interval, log2 seconds (default 6 = 64 s; allowed 0..=17).
    pub min_poll: i8,
    /// Longest poll interval, log2 seconds (default 10 = 1024 s; allowed 0..=17).
    pub max_poll: i8,
    /// Send a burst of packets 2 s apart while the remote is unreachable,
    /// so the first synchronization takes seconds, not minutes.
    pub iburst: bool,
    /// Send a burst of packets at every poll while reachable.
    pub burst: bool,
    /// Prefer this source among equals.
    pub prefer: bool,
    /// Authenticate with Network Time Security (RFC 8915) instead of a
    /// symmetric key: requests carry an NTS cookie and authenticator, and
    /// only replies that authenticate with the session keys are used. The
    /// association sends nothing until the runtime has run NTS-KE and
    /// handed the keys and cookies over (`Engine::provision_nts`). Client
    /// mode only, and not together with `key_id`.
    pub nts: bool,
}

impl AssociationConfig {
    /// A configuration with the defaults: no key, poll 6..10, no bursts.
    pub const fn new(mode: AssociationMode, address: SocketAddr) -> Self {
        AssociationConfig {
            address,
            mode,
            key_id: None,
            min_poll: MINPOLL,
            max_poll: MAXPOLL,
            iburst: false,
            burst: false,
            prefer: false,
            nts: false,
        }
    }

    /// `ntp server ADDRESS`.
    pub const fn client(address: SocketAddr) -> Self {
        Self::new(AssociationMode::Client, address)
    }

    /// `ntp peer ADDRESS`.
    pub const fn symmetric_active(address: SocketAddr) -> Self {
        Self::new(AssociationMode::SymmetricActive, address)
    }

    /// `ntp broadcast` towards ADDRESS.
    pub const fn broadcast_server(address: SocketAddr) -> Self {
        Self::new(AssociationMode::BroadcastServer, address)
    }

    /// Sign with and require key `key_id`.
    pub const fn with_key(mut self, key_id: u32) -> Self {
        self.key_id = Some(key_id);
        self
    }

    /// Poll between 2^`min_poll` and 2^`max_poll` seconds.
    pub const fn with_poll(mut self, min_poll: i8, max_poll: i8) -> Self {
        self.min_poll = min_poll;
        self.max_poll = max_poll;
        self
    }

    /// Turn the initial burst on or off.
    pub const fn with_iburst(mut self, on: bool) -> Self {
        self.iburst = on;
        self
    }

    /// Turn bursts at every poll on or off.
    pub const fn with_burst(mut self, on: bool) -> Self {
        self.burst = on;
        self
    }

    /// Mark the source as preferred.
    pub const fn with_prefer(mut self, on: bool) -> Self {
        self.prefer = on;
        self
    }

    /// Authenticate with NTS (RFC 8915) instead of a symmetric key; the
    /// association sends nothing until it is provisioned with keys and
    /// cookies from NTS-KE.
    #[must_use]
    pub const fn with_nts(mut self, nts: bool) -> Self {
        self.nts = nts;
        self
    }

    /// Checks the values against their allowed ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for poll in [self.min_poll, self.max_poll] {
            if !(POLL_LIMIT_MIN..=POLL_LIMIT_MAX).contains(&poll) {
                return Err(ConfigError::PollOutOfRange { poll });
            }
        }
        if self.min_poll > self.max_poll {
            return Err(ConfigError::PollOrder { min_poll: self.min_poll, max_poll: self.max_poll });
        }
        if self.key_id == Some(0) {
            return Err(ConfigError::ZeroKeyId);
        }
        if self.nts && self.mode != AssociationMode::Client {
            // RFC 8915 defines NTS for client/server mode only.
            return Err(ConfigError::NtsMode { mode: self.mode });
        }
        if self.nts && self.key_id.is_some() {
            return Err(ConfigError::NtsWithKey);
        }
        Ok(())
    }
}

/// A configuration the engine refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A poll exponent outside 0..=17.
    #[error("poll interval 2^{poll} s is outside the allowed 2^0..2^17 s")]
    PollOutOfRange {
        /// The exponent given.
        poll: i8,
    },
    /// minpoll above maxpoll.
    #[error("minpoll {min_poll} is greater than maxpoll {max_poll}")]
    PollOrder {
        /// minpoll given.
        min_poll: i8,
        /// maxpoll given.
        max_poll: i8,
    },
    /// Key id 0 marks crypto-NAKs and cannot sign.
    #[error("key id 0 cannot sign packets; use 1..=4294967295")]
    ZeroKeyId,
    /// The key is not in the keyring.
    #[error("key id {key_id} is not in the keyring")]
    UnknownKey {
        /// The key id.
        key_id: u32,
    },
    /// An association to this address and mode exists already.
    #[error("an association with {address} exists already")]
    Duplicate {
        /// The address.
        address: SocketAddr,
    },
    /// No association has this id.
    #[error("no association has id {id}")]
    NoSuchAssociation {
        /// The id.
        id: AssociationId,
    },
    /// The engine's association limit is reached.
    #[error("the limit of {limit} associations is reached")]
    TooManyAssociations {
        /// The limit.
        limit: usize,
    },
    /// NTS asked for an association mode it does not protect (RFC 8915
    /// defines it for client/server only).
    #[error("NTS authenticates client associations only, not {}", mode.name())]
    NtsMode {
        /// The mode given.
        mode: AssociationMode,
    },
    /// NTS and a symmetric key on the same association.
    #[error("an association authenticates with NTS or with a key, not both")]
    NtsWithKey,
    /// NTS keys or cookies given to an association that does not use NTS.
    #[error("association {id} does not use NTS")]
    NotNts {
        /// The association.
        id: AssociationId,
    },
    /// NTS provisioning without a usable cookie (none, or all empty or
    /// longer than 1024 bytes).
    #[error("NTS provisioning needs at least one cookie of 1 to 1024 bytes")]
    NoNtsCookies,
}

/// How an arriving packet authenticated, as the engine found out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthStatus {
    /// No MAC.
    None,
    /// The MAC verified with this trusted key.
    Verified {
        /// The key id.
        key_id: u32,
    },
    /// A crypto-NAK.
    CryptoNak,
    /// A MAC that did not verify, or an unknown or untrusted key; or, for
    /// an NTS association, a reply that did not authenticate.
    Failed,
    /// An NTS reply that answers our outstanding request and verified with
    /// the server-to-client key (RFC 8915 §5.7).
    Nts,
}

/// What the engine knows that an association needs to judge a packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ReceiveContext {
    /// Our clock's precision, log2 seconds.
    pub precision: i8,
    /// Whether our clock is synchronized (for the filter's "use a sample once" rule).
    pub synchronized: bool,
    /// Whether the discipline is still measuring the frequency (start-up):
    /// the filter's spike suppressor is off then.
    pub measuring_frequency: bool,
    /// Whether every packet we use must be authenticated (`ntp authenticate`).
    pub require_authentication: bool,
    /// Whether access control lets us synchronize to this source.
    pub access_allows_sync: bool,
    /// The phase the owner has slewed its clock by so far, seconds
    /// ([`crate::discipline::Discipline::slewed_phase`]; 0 if it slews
    /// nothing). Samples enter the clock filter as offset + phase, a frame
    /// in which the slewing does not move them; read them back with
    /// [`Association::offset_now`].
    pub phase: f64,
    /// Every correction the owner has applied to its clock so far, steps,
    /// slews and frequency, seconds
    /// ([`crate::discipline::Discipline::total_correction`]): the frame of
    /// the start-up frequency fit.
    pub correction: f64,
}

/// Delay above the lowest seen, seconds, that a start-up sample may always
/// have and still enter the frequency fit (see [`Association::receive`]).
const STARTUP_DELAY_SPREAD: f64 = 1e-3;

/// What became of a packet handed to [`Association::receive`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ReceiveOutcome {
    /// A packet test failed; see the module doc for what each leaves behind.
    Rejected(PacketTest),
    /// A valid kiss-o'-death. RATE has been acted on already; DENY and RSTR
    /// ask the owner to demobilize the association.
    KissOfDeath(KissCode),
    /// A valid packet used for the broadcast delay calibration, or a
    /// broadcast heard before calibration finished.
    Calibrating,
    /// A valid sample went into the clock filter.
    Sample(FilterVerdict),
}

/// The report of one received packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ReceiveReport {
    /// What happened.
    pub outcome: ReceiveOutcome,
    /// The association had been unreachable and this packet reached it.
    pub became_reachable: bool,
    /// Send our packet now rather than at the next poll (symmetric modes;
    /// see [`Association::receive`]).
    pub answer_now: bool,
}

/// What one poll asks of the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PollReport {
    /// Send a packet now (build it with [`Association::build_packet`]).
    pub transmit: bool,
    /// Reach dropped to zero at this poll.
    pub became_unreachable: bool,
    /// An ephemeral association is unreachable and should go.
    pub demobilize: bool,
}

/// Why an association cannot be a candidate for synchronization (RFC 5905 §11.2 `fit()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unfit {
    /// No answer in the last three polls.
    Unreachable,
    /// It says it is unsynchronized.
    Unsynchronized,
    /// No sample has come through the filter yet.
    NoSample,
    /// Its root distance exceeds the limit.
    TooFar,
    /// It is synchronized to us (its reference id is our address).
    Loop,
    /// It is a broadcast server association (we only send).
    NotASource,
}

/// Counters of one association.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssociationCounters {
    /// Packets sent.
    pub sent: u64,
    /// Packets received and dispatched to this association.
    pub received: u64,
    /// Packets that passed every test and gave a sample.
    pub samples: u64,
    /// Packets rejected, per test number - 1.
    pub rejected_by_test: [u64; PACKET_TESTS],
    /// Kiss-o'-death packets accepted.
    pub kod: u64,
}

/// One association's state.
#[derive(Clone, Debug)]
pub struct Association {
    id: AssociationId,
    config: AssociationConfig,
    ephemeral: bool,
    // Peer variables from the last valid packet.
    leap: LeapIndicator,
    stratum: u8,
    ppoll: i8,
    precision: i8,
    root_delay: f64,
    root_dispersion: f64,
    reference_id: ReferenceId,
    reference_time: NtpTimestamp,
    // On-wire bookkeeping: their last transmit time, our receive time of it,
    // and our last transmit time (the origin a genuine reply carries).
    org: NtpTimestamp,
    rec: NtpTimestamp,
    xmt: NtpTimestamp,
    // Poll process.
    reach: u8,
    unreached_polls: u32,
    hpoll: i8,
    poll_floor: i8,
    next_poll: f64,
    poll_started: f64,
    last_sent: f64,
    burst_left: u8,
    /// While the discipline measures the frequency: every sample's
    /// uncorrected phase (see `Discipline::adopt_frequency_fit`).
    startup_fit: Option<FreqFit>,
    /// The lowest delay among the samples offered to `startup_fit`, seconds.
    startup_min_delay: f64,
    /// Packets the initial burst may still add for the start-up frequency
    /// measurement ([`STARTUP_BURST_EXTRA`] with iburst, else 0).
    startup_extra: u8,
    // Broadcast client calibration.
    calibration_left: u8,
    broadcast_delay: Option<f64>,
    filter: ClockFilter,
    counters: AssociationCounters,
    selection: SelectionStatus,
}

impl Association {
    /// A new association, first poll due at `now` (seconds on the caller's
    /// timeline; a passive association waits one poll interval).
    pub(crate) fn new(id: AssociationId, config: AssociationConfig, ephemeral: bool, now: f64) -> Self {
        let first_poll = match config.mode {
            AssociationMode::SymmetricPassive => now + log2_seconds(config.min_poll),
            _ => now,
        };
        let calibrating = config.mode == AssociationMode::BroadcastClient;
        Association {
            id,
            config,
            ephemeral,
            leap: LeapIndicator::Unsynchronized,
            stratum: MAXSTRAT,
            ppoll: config.min_poll,
            precision: 0,
            root_delay: 0.0,
            root_dispersion: 0.0,
            reference_id: ReferenceId::NONE,
            reference_time: NtpTimestamp::ZERO,
            org: NtpTimestamp::ZERO,
            rec: NtpTimestamp::ZERO,
            xmt: NtpTimestamp::ZERO,
            reach: 0,
            unreached_polls: 0,
            hpoll: config.min_poll,
            poll_floor: config.min_poll,
            next_poll: first_poll,
            poll_started: first_poll,
            last_sent: f64::NEG_INFINITY,
            burst_left: 0,
            startup_fit: None,
            startup_min_delay: f64::INFINITY,
            startup_extra: if config.iburst { STARTUP_BURST_EXTRA } else { 0 },
            calibration_left: if calibrating { CALIBRATION_EXCHANGES } else { 0 },
            broadcast_delay: None,
            filter: ClockFilter::new(),
            counters: AssociationCounters::default(),
            selection: SelectionStatus::Rejected,
        }
    }

    /// The id.
    pub fn id(&self) -> AssociationId {
        self.id
    }

    /// The configuration.
    pub fn config(&self) -> &AssociationConfig {
        &self.config
    }

    /// Created by an arriving packet (and removed when unreachable).
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// The reach register: bit 0 is the latest poll, 1 = answered.
    pub fn reach(&self) -> u8 {
        self.reach
    }

    /// The remote's stratum (16 until a valid packet says otherwise; a
    /// Polls since the association was last reached (ntpd's `unreach`).
    pub(crate) fn unreached_polls(&self) -> u32 {
        self.unreached_polls
    }

    /// stratum of 0 on the wire is read as 16, RFC 5905 §7.3).
    pub fn stratum(&self) -> u8 {
        self.stratum
    }

    /// The remote's leap indicator.
    pub fn leap(&self) -> LeapIndicator {
        self.leap
    }

    /// The remote's reference id.
    pub fn reference_id(&self) -> ReferenceId {
        self.reference_id
    }

    /// The remote's reference time.
    pub fn reference_time(&self) -> NtpTimestamp {
        self.reference_time
    }

    /// The remote's root delay, seconds.
    pub fn root_delay(&self) -> f64 {
        self.root_delay
    }

    /// The remote's root dispersion, seconds.
    pub fn root_dispersion(&self) -> f64 {
        self.root_dispersion
    }

    /// The remote's precision, log2 seconds.
    pub fn precision(&self) -> i8 {
        self.precision
    }

    /// Our poll interval for this association, log2 seconds.
    pub fn poll_log2(&self) -> i8 {
        self.hpoll
    }

    /// The interval we actually poll at, log2 seconds: in symmetric modes the
    /// smaller of ours and the peer's, so neither side outpaces the other
    /// (RFC 5905 `poll_update`), but never below our minpoll.
    pub fn effective_poll(&self) -> i8 {
        if self.config.mode.is_symmetric() { self.hpoll.min(self.ppoll.max(self.config.min_poll)) } else { self.hpoll }
    }

    /// The remote's poll interval from its last packet, log2 seconds.
    pub fn peer_poll_log2(&self) -> i8 {
        self.ppoll
    }

    /// When the next poll is due, seconds on the caller's timeline.
    pub(crate) fn next_poll(&self) -> f64 {
        self.next_poll
    }

    /// The calibrated broadcast delay, seconds (broadcast clients only).
    pub fn broadcast_delay(&self) -> Option<f64> {
        self.broadcast_delay
    }

    /// The last clock filter output. Its offset is in the phase frame (see
    /// [`ReceiveContext::phase`]); [`Association::offset_now`] gives the
    /// offset as of now.
    pub(crate) fn filter_output(&self) -> Option<FilterOutput> {
        self.filter.output()
    }

    /// The filtered offset brought up to date: the filter's offset less the
    /// phase slewed since (`phase` is the owner's slewed phase now), seconds.
    pub(crate) fn offset_now(&self, phase: f64) -> Option<f64> {
        self.filter.output().map(|out| out.offset - phase)
    }

    /// The clock filter.
    pub(crate) fn filter(&self) -> &ClockFilter {
        &self.filter
    }

    /// Counters.
    pub fn counters(&self) -> &AssociationCounters {
        &self.counters
    }

    /// Moves the association to another remote address (NTS-KE named
    /// another NTP server); the owner re-files it by address.
    pub(crate) fn set_address(&mut self, address: SocketAddr) {
        self.config.address = address;
    }

    /// An NTS association just got keys and cookies: poll at once rather
    /// than wait out the interval the silent polls backed off to.
    pub(crate) fn poll_soon(&mut self, now: f64) {
        self.next_poll = self.next_poll.min(now);
    }

    /// Our last transmit timestamp still awaiting its reply (zero if none).
    pub fn pending_origin(&self) -> NtpTimestamp {
        self.xmt
    }

    /// Whether packets of mode `mode` belong to this association
    /// (RFC 5905 Figure 20, the PROC cells; see the engine for the rest).
    pub(crate) fn accepts(&self, mode: Mode) -> bool {
        match (self.config.mode, mode) {
            (AssociationMode::SymmetricActive, Mode::SymmetricActive | Mode::SymmetricPassive) => true,
            (AssociationMode::SymmetricPassive, Mode::SymmetricActive) => true,
            (AssociationMode::Client, Mode::Server) => true,
            (AssociationMode::BroadcastClient, Mode::Broadcast) => true,
            // The calibration exchange of a broadcast client is client/server.
            (AssociationMode::BroadcastClient, Mode::Server) => self.calibration_left > 0,
            _ => false,
        }
    }

    fn reject(&mut self, test: PacketTest) -> ReceiveReport {
        self.count_rejection(test);
        ReceiveReport { outcome: ReceiveOutcome::Rejected(test), became_reachable: false, answer_now: false }
    }

    fn authentic(&self, auth: AuthStatus, require: bool) -> bool {
        // An NTS association takes NTS-authenticated packets only; NTS
        // proves nothing for any other association.
        if self.config.nts || auth == AuthStatus::Nts {
            return self.config.nts && auth == AuthStatus::Nts;
        }
        match (auth, self.config.key_id) {
            (AuthStatus::Verified { key_id }, Some(expected)) => key_id == expected,
            (AuthStatus::Verified { .. }, None) => true,
            (AuthStatus::None, None) => !require,
            _ => false,
        }
    }

    /// Processes a packet from the remote, received at `dst` (our clock) =
    /// `now` (seconds on the caller's timeline).
    pub(crate) fn receive(
        &mut self,
        packet: &Repr,
        dst: NtpTimestamp,
        now: f64,
        auth: AuthStatus,
        ctx: &ReceiveContext,
    ) -> ReceiveReport {
        self.counters.received += 1;
        if !ctx.access_allows_sync {
            return self.reject(PacketTest::AccessDenied);
        }
        if !self.authentic(auth, ctx.require_authentication) {
            return self.reject(PacketTest::Authentication);
        }
        if packet.transmit_time.is_zero() {
            return self.reject(PacketTest::Invalid);
        }
        if packet.transmit_time == self.org {
            return self.reject(PacketTest::Duplicate);
        }
        let broadcast = packet.mode == Mode::Broadcast;
        if !broadcast {
            let symmetric = self.config.mode.is_symmetric();
            let failed = if packet.origin_time.is_zero() {
                Some(PacketTest::Invalid)
            } else if packet.origin_time != self.xmt {
                Some(PacketTest::Bogus)
            } else if packet.receive_time.is_zero() {
                Some(PacketTest::Invalid)
            } else {
                None
            };
            if let Some(test) = failed {
                let mut report = self.reject(test);
                // Keep the peer's latest transmit time so our next packet
                // carries it back and the exchange resynchronizes (RFC 5905)
                // -- but only a later one: a replayed older packet would
                // otherwise make us echo a stale time, and the genuine peer
                // would reject our next packet (a replay per poll starves it).
                let later = self.org.is_zero() || (packet.transmit_time - self.org).to_bits() > 0;
                if symmetric && later {
                    self.org = packet.transmit_time;
                    self.rec = dst;
                    report.answer_now = self.should_answer(now);
                }
                return report;
            }
        }

        if packet.stratum.0 == 0 {
            let code = packet.reference_id.kiss_code();
            if code.demands_stop() || code.demands_slower_polling() {
                // Our request is answered (by a refusal): a replay of it must fail test 2.
                self.xmt = NtpTimestamp::ZERO;
                self.counters.kod += 1;
                if code.demands_slower_polling() {
                    let slower = self.hpoll.saturating_add(1).max(packet.poll).min(self.config.max_poll);
                    self.hpoll = slower.max(self.hpoll);
                    self.poll_floor = self.hpoll;
                    self.burst_left = 0;
                }
                return ReceiveReport {
                    outcome: ReceiveOutcome::KissOfDeath(code),
                    became_reachable: false,
                    answer_now: false,
                };
            }
        }

        self.org = packet.transmit_time;
        self.rec = dst;
        if !broadcast && !self.config.mode.is_symmetric() {
            // One answer per request: a second packet with this origin is a replay.
            self.xmt = NtpTimestamp::ZERO;
        }
        let became_reachable = self.reach == 0;
        self.reach |= 1;
        self.unreached_polls = 0;
        self.leap = packet.leap;
        self.stratum = if packet.stratum.0 == 0 { MAXSTRAT } else { packet.stratum.0.min(MAXSTRAT) };
        self.ppoll = packet.poll;
        self.precision = packet.precision;
        self.root_delay = packet.root_delay.to_seconds_f64();
        self.root_dispersion = packet.root_dispersion.to_seconds_f64();
        self.reference_id = packet.reference_id;
        self.reference_time = packet.reference_time;
        let answer_now = self.config.mode.is_symmetric() && self.should_answer(now);
        let report = |outcome| ReceiveReport { outcome, became_reachable, answer_now };

        if packet.leap == LeapIndicator::Unsynchronized || self.stratum >= MAXSTRAT {
            self.count_rejection(PacketTest::Unsynchronized);
            return report(ReceiveOutcome::Rejected(PacketTest::Unsynchronized));
        }
        let reference_after_transmit =
            !packet.reference_time.is_zero() && (packet.reference_time - packet.transmit_time).to_bits() > 0;
        if self.root_delay / 2.0 + self.root_dispersion >= MAXDISP || reference_after_transmit {
            self.count_rejection(PacketTest::BadHeader);
            return report(ReceiveOutcome::Rejected(PacketTest::BadHeader));
        }

        let sample = if broadcast {
            match self.broadcast_delay {
                Some(delay) => broadcast_sample(packet.transmit_time, dst, delay, packet.precision, ctx.precision),
                None => return report(ReceiveOutcome::Calibrating),
            }
        } else {
            let exchange =
                Exchange { t1: packet.origin_time, t2: packet.receive_time, t3: packet.transmit_time, t4: dst };
            exchange.sample(packet.precision, ctx.precision)
        };
        if !broadcast && self.calibration_left > 0 {
            self.calibration_left -= 1;
            let best = self.broadcast_delay.map_or(sample.delay, |d| d.min(sample.delay));
            self.broadcast_delay = Some(best);
            if self.calibration_left > 0 {
                // Keep the calibration exchanges 2 s apart, as a burst.
                self.next_poll = self.next_poll.min(now + log2_seconds(BURST_SPACING_LOG2));
            }
        }
        self.counters.samples += 1;
        if ctx.measuring_frequency {
            // The clock filter protects the phase from a sample delayed in a
            // queue by preferring the lowest delay; the start-up fit takes
            // every sample, so it leaves out those whose delay exceeds the
            // lowest seen by more than twice that lowest delay (and 1 ms): under
            // load a loopback exchange of 50 µs can take 5 ms, and a few
            // such samples in a burst make a slope of hundreds of ppm. The
            // spread of a LAN (100 µs + exp(100 µs) each way) or a WAN path
            // (10 ms + exp(10 ms)) stays in.
            let lowest = self.startup_min_delay.min(sample.delay);
            self.startup_min_delay = lowest;
            if sample.delay - lowest <= (2.0 * lowest).max(STARTUP_DELAY_SPREAD) {
                let fit = self.startup_fit.get_or_insert_with(|| FreqFit::new(now));
                fit.applied = ctx.correction;
                fit.add(now, sample.offset);
            }
        } else {
            self.startup_fit = None;
            self.startup_min_delay = f64::INFINITY;
        }
        let verdict = self.filter.add(
            FilterSample {
                offset: sample.offset + ctx.phase,
                delay: sample.delay,
                dispersion: sample.dispersion,
                time: now,
            },
            FilterParams {
                system_precision: log2_seconds(ctx.precision),
                poll_interval: log2_seconds(self.hpoll),
                synchronized: ctx.synchronized,
                suppress_spikes: !ctx.measuring_frequency,
            },
        );
        report(ReceiveOutcome::Sample(verdict))
    }

    /// Whether a symmetric association should answer a peer's packet at
    /// once. Each side of a symmetric pair sends on its own poll timer
    /// (RFC 5905), so a peer's burst would get one answer per *our* poll and
    /// need minutes to fill its filter. Answering right away when our own
    /// next poll is more than a burst spacing off lets (i)burst work in
    /// symmetric mode too; sending at most one packet per burst spacing
    /// keeps two such peers from echoing each other without end.
    fn should_answer(&self, now: f64) -> bool {
        let spacing = log2_seconds(BURST_SPACING_LOG2);
        let last_sent = if self.counters.sent == 0 { f64::NEG_INFINITY } else { self.last_sent };
        now - last_sent >= spacing && self.next_poll - now > spacing
    }

    fn count_rejection(&mut self, test: PacketTest) {
        count_rejection(&mut self.counters.rejected_by_test, test);
    }

    /// Runs the poll process if a poll is due at `now`. `system_poll` is the
    /// discipline's poll interval (log2 s), which a reachable association
    /// follows within its own limits. `more_samples`: the discipline wants
    /// more samples from this association for its start-up frequency
    /// measurement, so an initial burst that ends now goes on by one packet
    /// (at most [`STARTUP_BURST_EXTRA`] times).
    pub(crate) fn poll(&mut self, now: f64, system_poll: i8, more_samples: bool) -> PollReport {
        let mut report = PollReport { transmit: false, became_unreachable: false, demobilize: false };
        if now < self.next_poll {
            return report;
        }
        let mode = self.config.mode;
        let spacing = log2_seconds(BURST_SPACING_LOG2);
        if self.burst_left > 0 {
            // Inside a burst: send, do not shift reach (one poll = one bit).
            // After the last packet the next poll is one interval after the
            // poll that started the burst, not one burst spacing later.
            self.burst_left -= 1;
            if self.burst_left == 0 && more_samples && self.startup_extra > 0 {
                self.startup_extra -= 1;
                self.burst_left = 1;
            }
            report.transmit = true;
            self.next_poll = if self.burst_left > 0 {
                now + spacing
            } else {
                (self.poll_started + log2_seconds(self.effective_poll())).max(now + spacing)
            };
            return report;
        }
        self.poll_started = now;
        if mode == AssociationMode::BroadcastServer {
            report.transmit = true;
            self.next_poll = now + log2_seconds(self.hpoll);
            return report;
        }
        let was_reachable = self.reach != 0;
        self.reach <<= 1;
        if self.reach == 0 {
            self.unreached_polls = self.unreached_polls.saturating_add(1);
        }
        report.became_unreachable = was_reachable && self.reach == 0;
        if self.ephemeral && self.reach == 0 && (was_reachable || self.unreached_polls > 8) {
            report.demobilize = true;
            return report;
        }
        let listening = mode == AssociationMode::BroadcastClient && self.calibration_left == 0;
        if listening {
            // A calibrated broadcast client only listens; the timer keeps reach honest.
            self.next_poll = now + log2_seconds(self.ppoll.clamp(POLL_LIMIT_MIN, POLL_LIMIT_MAX));
            return report;
        }
        report.transmit = true;
        if self.reach == 0 {
            // Unreachable: back off, but keep trying.
            if self.unreached_polls > 1 {
                self.hpoll = self.hpoll.saturating_add(1).min(self.config.max_poll);
            }
            if self.config.iburst || self.calibration_left > 0 {
                self.burst_left = BURST_PACKETS - 1;
            }
        } else {
            self.hpoll = system_poll.clamp(self.poll_floor, self.config.max_poll);
            if self.config.burst {
                self.burst_left = BURST_PACKETS - 1;
            }
        }
        let interval = if self.burst_left > 0 { spacing } else { log2_seconds(self.effective_poll()) };
        self.next_poll = now + interval;
        report
    }

    /// Our next packet's header, from the system variables in `template`;
    /// records its transmit time `now` (`at` on the caller's timeline) as the
    /// origin a genuine answer must carry.
    pub(crate) fn build_packet(&mut self, template: &Repr, now: NtpTimestamp, at: f64) -> Repr {
        self.last_sent = at;
        let mode = self.config.mode.packet_mode();
        let symmetric = self.config.mode.is_symmetric();
        let mut repr = Repr { mode, poll: self.hpoll, transmit_time: now, ..*template };
        if symmetric {
            repr.origin_time = self.org;
            repr.receive_time = self.rec;
        } else {
            // A client request or a broadcast echoes nothing (data minimization).
            repr.origin_time = NtpTimestamp::ZERO;
            repr.receive_time = NtpTimestamp::ZERO;
        }
        if self.config.mode != AssociationMode::BroadcastServer {
            self.xmt = now;
        }
        self.counters.sent += 1;
        repr
    }

    /// The synchronization distance λ of this source at `now` (RFC 5905
    /// §11.2): half the total round trip, plus the root dispersion, plus the
    /// peer dispersion grown since the sample, plus the jitter.
    pub(crate) fn root_distance(&self, now: f64) -> f64 {
        match self.filter.output() {
            Some(out) => {
                MINDISP.max(self.root_delay + out.delay) / 2.0
                    + self.root_dispersion
                    + self.filter.dispersion_at(now)
                    + out.jitter
            }
            None => MAXDISP,
        }
    }

    /// Whether this association may be a candidate at `now` (RFC 5905 `fit()`).
    /// `system_poll` widens the distance limit by PHI times the poll interval;
    /// `our_ids` are the reference ids others would use for us (loop check).
    pub(crate) fn fitness(&self, now: f64, system_poll: i8, our_ids: &[ReferenceId]) -> Result<(), Unfit> {
        if self.config.mode == AssociationMode::BroadcastServer {
            return Err(Unfit::NotASource);
        }
        // Silent for the last three polls: RFC 5905's poll() shifts a MAXDISP
        // dummy sample into the filter then, which pushes the root distance
        // past MAXDIST; refusing the source outright has the same effect.
        if self.reach & 0b111 == 0 {
            return Err(Unfit::Unreachable);
        }
        if self.leap == LeapIndicator::Unsynchronized || self.stratum >= MAXSTRAT {
            return Err(Unfit::Unsynchronized);
        }
        if self.filter.output().is_none() {
            return Err(Unfit::NoSample);
        }
        if self.root_distance(now) > MAXDIST + PHI * log2_seconds(system_poll) {
            return Err(Unfit::TooFar);
        }
        if our_ids.contains(&self.reference_id) {
            return Err(Unfit::Loop);
        }
        Ok(())
    }

    /// After the clock was stepped: forget the pending request (a reply to a
    /// request sent before the step would give a sample off by the step).
    /// The filter keeps its samples: they are stored in the phase frame
    /// ([`ReceiveContext::phase`]), which the owner moves by the step.
    pub(crate) fn clock_stepped(&mut self) {
        self.xmt = NtpTimestamp::ZERO;
    }

    /// The start-up frequency fit over this association's samples, while
    /// the discipline measures the frequency.
    pub(crate) fn startup_fit(&self) -> Option<&FreqFit> {
        self.startup_fit.as_ref()
    }

    /// How the selection last judged this association.
    pub fn selection(&self) -> SelectionStatus {
        self.selection
    }

    /// Records the selection's verdict (the engine's system process).
    pub(crate) fn set_selection(&mut self, status: SelectionStatus) {
        self.selection = status;
    }
}
