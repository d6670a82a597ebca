//! The engine: one NTP node, sans-IO.
//!
//! # Driving it
//!
//! ```text
//! loop {
//!     match engine.poll_output() {
//!         Output::Transmit(t)  => socket.send_to(t.payload(), t.destination),
//!         Output::Clock(a)     => apply a to the clock (step, or set the frequency),
//!         Output::Event(e)     => log e,
//!         Output::Timeout(at)  => { wait for a datagram or until `at`;
//!                                   engine.handle_datagram(now, from, bytes) or
//!                                   engine.handle_timeout(now) }
//!     }
//! }
//! ```
//!
//! Every input carries `now`, the caller's reading of the clock this engine
//! disciplines. Deadlines come back in that clock. When the engine asks for
//! a step, the caller must apply it before the next input; the engine then
//! expects readings that are off by the step and keeps its own timeline
//! continuous.
//!
//! # Dispatch (RFC 5905 Figure 20)
//!
//! Rows are the association a packet's source address matches (if any),
//! columns the packet's mode:
//!
//! | association | 1 sym-act | 2 sym-pas | 3 client | 4 server | 5 bcast |
//! |---|---|---|---|---|---|
//! | none | NEWPS | DSCRD | FXMIT | DSCRD | NEWBC |
//! | symmetric active | PROC | PROC | FXMIT | DSCRD | DSCRD |
//! | symmetric passive | PROC | DSCRD (ERR) | FXMIT | DSCRD | DSCRD |
//! | client | DSCRD | DSCRD | FXMIT | PROC | DSCRD |
//! | broadcast client | DSCRD | DSCRD | FXMIT | PROC while calibrating | PROC |
//!
//! Departures from the RFC's table, each on purpose:
//! * A client request (mode 3) is always answered by the stateless server,
//!   whatever association its source has, as ntpd does (its AM_NOMATCH falls
//!   back to the "none" row): two nodes that each list the other as a server
//!   must both be answered.
//! * NEWPS (a passive association for an unknown mode 1 peer) happens only
//!   when the packet verifies with a trusted key, or when an explicit `peer`
//!   access rule covers the source and authentication is not required.
//!   Otherwise the packet is answered statelessly (mode 2) if access allows
//!   time service, and creates nothing.
//! * ERR (mode 2 to a passive association) discards the packet and never
//!   tears the association down: an unauthenticated packet must not be
//!   able to demobilize anything.
//! * Manycast (mode 4 from an unknown server) is not supported: DSCRD.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use ntp_wire::auth::{self, AuthError, Keyring};
use ntp_wire::{LeapIndicator, Mode, NtpDate, NtpDuration, NtpTimestamp, Packet, ReferenceId, Repr, Version};

use crate::access::{AccessClass, AccessList};
use crate::association::{
    Association, AssociationConfig, AuthStatus, ConfigError, ReceiveContext, ReceiveOutcome, Unfit,
};
use crate::constants::{MAXSTRAT, MINPOLL};
use crate::control::{ControlConfig, ControlCounters, ControlState};
use crate::discipline::{ClockState, Discipline, DisciplineConfig, DisciplineResult};
use crate::events::{Counters, DemobilizeReason, EVENT_QUEUE_LIMIT, Event};
use crate::filter::FilterVerdict;
use crate::ids::{AssociationId, AssociationMode};
use crate::leap::{LeapCommand, LeapCommandError, LeapSecondsList};
use crate::nts::{
    MasterKeys, NtsKeAnswer, NtsKeError, NtsKeServerConfig, NtsKeys, NtsServerConfig, NtsState, RandomSlot,
    RandomSource, ReplyCheck, RequestSeal, has_nts_fields,
};
use crate::onwire::log2_seconds;
use crate::select::{Candidate, SelectConfig, Selector};
use crate::server::{Responder, ResponderConfig, Response};
use crate::status::{PeerStatus, SystemStatus};
use crate::system::{SelectionStatus, SyncSource, SystemVariables, reference_id_for};
use crate::table::Table;

/// How long the first clock update waits for the other sources of a burst
/// round once one is fit, seconds (see `Engine::first_round_pending`): two
/// and a half burst spacings, so that the round after next arrives in full
/// whatever the order of the replies within it (a source whose samples
/// travel farther can need one more round than the first).
const FIRST_ROUND_WAIT: f64 = 5.0;

/// The longest datagram the engine sends: a mode 6 control response (12
/// bytes of header, 468 of data, a 24-byte MAC), rounded up. Time packets
/// are at most 72 bytes.
pub const MAX_DATAGRAM: usize = 512;
/// The most datagrams kept waiting to be drained; more are dropped and counted.
pub const TRANSMIT_QUEUE_LIMIT: usize = 1024;

/// How the engine behaves. Every field has a default (see
/// [`EngineConfig::default`]); change fields by assignment or with the
/// `with_*` methods (the struct is `#[non_exhaustive]`: fields may be added).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Precision of the local clock, log2 seconds (default -20, about 1 µs).
    pub precision: i8,
    /// The addresses others reach this node at: a source whose reference id
    /// names one of them is synchronized to us, and is refused (a loop).
    pub local_addresses: Vec<IpAddr>,
    /// Use only authenticated packets for time (`ntp authenticate`).
    pub require_authentication: bool,
    /// Access control; by default every source may do everything.
    pub access: AccessList,
    /// The server responder's settings (rate limiting, crypto-NAKs).
    pub responder: ResponderConfig,
    /// Listen to broadcast servers (`ntp broadcast client`).
    pub broadcast_client: bool,
    /// Most symmetric passive associations created by arriving mode 1
    /// packets at once.
    pub max_ephemeral: usize,
    /// Most broadcast servers listened to at once. A budget of its own, so
    /// spoofed broadcasts (when they need not be authenticated) cannot use
    /// up the room authenticated peers need.
    pub max_broadcast_servers: usize,
    /// Most associations in all.
    pub max_associations: usize,
    /// The clock discipline's constants.
    pub discipline: DisciplineConfig,
    /// The selection's constants.
    pub select: SelectConfig,
    /// Serve the local clock as a reference at this stratum when no source
    /// is usable (`ntp master N`, `refclock-master N`).
    pub local_reference_stratum: Option<u8>,
    /// Orphan mode (`tos orphan N`): when no source below this stratum is
    /// usable, the group of servers configured alike elects the one with the
    /// lowest reference id (its address) as root at this stratum, and the
    /// others follow it, so an isolated network keeps one time.
    pub orphan_stratum: Option<u8>,
    /// Seconds after the engine starts before orphan mode may take over
    /// (ntpd's `tos orphanwait`, default 300 s), so a restarting server does
    /// not serve its own clock while its upstreams are still being heard.
    pub orphan_wait: f64,
    /// Frequency correction saved from an earlier run, ppm.
    pub saved_frequency_ppm: Option<f64>,
    /// The mode 6 responder (`ntpq`): who may query (loopback only by
    /// default, and only sources the access list above also lets query),
    /// its rate limit, the control key. See [`ControlConfig`].
    pub control: ControlConfig,
    /// Answer NTS-protected requests (RFC 8915) with cookies sealed by
    /// master keys the engine makes and rotates; `None` (the default)
    /// drops them, as chrony does without `ntsserverkey`.
    pub nts_server: Option<NtsServerConfig>,
    /// Where NTS gets random bytes (unique ids, nonces, master keys).
    random: RandomSlot,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            precision: -20,
            local_addresses: Vec::new(),
            require_authentication: false,
            access: AccessList::allow_all(),
            responder: ResponderConfig::default(),
            broadcast_client: false,
            max_ephemeral: 64,
            max_broadcast_servers: 16,
            max_associations: 4096,
            discipline: DisciplineConfig::default(),
            select: SelectConfig::default(),
            local_reference_stratum: None,
            orphan_stratum: None,
            orphan_wait: 300.0,
            saved_frequency_ppm: None,
            control: ControlConfig::default(),
            nts_server: None,
            random: RandomSlot::default(),
        }
    }
}

impl EngineConfig {
    /// Serve the local clock at `stratum` when no source is usable (`ntp master N`).
    #[must_use]
    pub fn with_local_reference(mut self, stratum: u8) -> Self {
        self.local_reference_stratum = Some(stratum);
        self
    }

    /// Orphan mode at `stratum` (`tos orphan N`).
    #[must_use]
    pub fn with_orphan(mut self, stratum: u8) -> Self {
        self.orphan_stratum = Some(stratum);
        self
    }

    /// Use only authenticated packets for time (`ntp authenticate`).
    #[must_use]
    pub fn with_authentication_required(mut self, on: bool) -> Self {
        self.require_authentication = on;
        self
    }

    /// Replace the access list.
    #[must_use]
    pub fn with_access(mut self, access: AccessList) -> Self {
        self.access = access;
        self
    }

    /// Listen to broadcast servers (`ntp broadcast client`).
    #[must_use]
    pub fn with_broadcast_client(mut self, on: bool) -> Self {
        self.broadcast_client = on;
        self
    }

    /// Add an address others reach this node at (for the loop check).
    #[must_use]
    pub fn with_local_address(mut self, address: IpAddr) -> Self {
        self.local_addresses.push(address);
        self
    }

    /// The server responder's settings.
    #[must_use]
    pub fn with_responder(mut self, responder: ResponderConfig) -> Self {
        self.responder = responder;
        self
    }

    /// Answer NTS requests (RFC 8915). The engine makes and rotates the
    /// master keys; the runtime's NTS-KE server gets cookies from
    /// [`Engine::nts_ke_answer`].
    #[must_use]
    pub fn with_nts_server(mut self, nts: NtsServerConfig) -> Self {
        self.nts_server = Some(nts);
        self
    }

    /// Where NTS draws random bytes from (default: [`OsRandom`](crate::OsRandom), the
    /// operating system's CSPRNG). Tests pass a seeded source so runs
    /// repeat. The engine built from this configuration takes the source;
    /// an engine built from a clone of it afterwards uses [`OsRandom`](crate::OsRandom).
    #[must_use]
    pub fn with_random_source(mut self, source: Box<dyn RandomSource + Send>) -> Self {
        self.random = RandomSlot::new(source);
        self
    }
}

/// A datagram to send.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    len: u16,
    data: [u8; MAX_DATAGRAM],
}

impl Transmit {
    fn new(destination: SocketAddr, payload: &[u8]) -> Option<Self> {
        let mut data = [0u8; MAX_DATAGRAM];
        data.get_mut(..payload.len())?.copy_from_slice(payload);
        Some(Transmit { destination, len: payload.len() as u16, data })
    }

    /// The bytes to send.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        self.data.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl core::fmt::Debug for Transmit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Transmit").field("destination", &self.destination).field("len", &self.len).finish()
    }
}

/// What the caller should do to its clock.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClockAction {
    /// Step the clock by `offset` seconds (add it to the current time).
    Step {
        /// Seconds; positive means the clock is behind and must jump forward.
        offset: f64,
    },
    /// Run the clock with this frequency correction from now on, ppm
    /// (positive: faster). It combines the learned frequency error with the
    /// slew that removes the remaining offset; the engine sends a new value
    /// every second while it disciplines the clock.
    SetFrequency {
        /// Parts per million.
        ppm: f64,
    },
}

/// One output of the engine.
// A datagram is inline so that outputs are `Copy` and the hot path never
// allocates; mode 6 responses made it 512 bytes (see MAX_DATAGRAM).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
#[must_use = "an engine output is an instruction: send it, apply it, log it, or wait until it"]
pub enum Output {
    /// Send a datagram.
    Transmit(Transmit),
    /// Adjust the clock.
    Clock(ClockAction),
    /// Something happened.
    Event(Event),
    /// Nothing more to do: call [`Engine::handle_timeout`] at this time (or
    /// earlier, with a datagram).
    Timeout(NtpTimestamp),
}

/// One NTP node.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    keys: Keyring,
    our_ids: Vec<ReferenceId>,
    associations: Table,
    next_id: u32,
    epoch: NtpTimestamp,
    last_now: f64,
    /// The latest reading behind `last_now`, in the caller's clock (moved by steps).
    last_input: NtpTimestamp,
    system: SystemVariables,
    discipline: Discipline,
    selector: Selector,
    candidates: Vec<Candidate>,
    last_sample_used: f64,
    stepped: f64,
    stepped_at: Option<f64>,
    /// When a source was first fit to synchronize to, before the clock was
    /// ever updated (see [`Engine::first_round_pending`]).
    first_candidate_at: Option<f64>,
    leap_list: Option<LeapSecondsList>,
    manual_leap: Option<(LeapCommand, NtpDate)>,
    survivors_leap: LeapIndicator,
    next_tick: Option<f64>,
    /// The rate the last tick asked for, frequency and slew, s/s, and its
    /// slew part alone (see [`Engine::rest_of_tick`]).
    tick_correction: f64,
    tick_slew: f64,
    responder: Responder,
    transmits: VecDeque<Transmit>,
    clock_actions: VecDeque<ClockAction>,
    events: VecDeque<Event>,
    counters: Counters,
    control: ControlState,
    nts: NtsState,
}

impl Engine {
    /// An engine with no associations, created at `now`.
    pub fn new(config: EngineConfig, keys: Keyring, now: NtpTimestamp) -> Self {
        let discipline = Discipline::new(config.discipline, config.saved_frequency_ppm);
        let control = ControlState::new(&config.control);
        let poll = discipline.poll_log2();
        let our_ids = config.local_addresses.iter().map(|a| reference_id_for(*a)).collect();
        let nts = NtsState::new(config.nts_server, &config.random);
        let mut engine = Engine {
            system: SystemVariables::unsynchronized(config.precision, poll),
            responder: Responder::new(config.responder),
            config,
            keys,
            our_ids,
            associations: Table::default(),
            next_id: 1,
            epoch: now,
            last_now: 0.0,
            last_input: now,
            discipline,
            selector: Selector::new(),
            candidates: Vec::new(),
            last_sample_used: f64::NEG_INFINITY,
            stepped: 0.0,
            stepped_at: None,
            first_candidate_at: None,
            leap_list: None,
            manual_leap: None,
            survivors_leap: LeapIndicator::NoWarning,
            next_tick: None,
            tick_correction: 0.0,
            tick_slew: 0.0,
            transmits: VecDeque::with_capacity(64),
            clock_actions: VecDeque::with_capacity(8),
            events: VecDeque::with_capacity(64),
            counters: Counters::default(),
            control,
            nts,
        };
        engine.fall_back(0.0);
        engine
    }

    // ----- getters -----

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The system variables.
    #[must_use]
    pub fn system(&self) -> &SystemVariables {
        &self.system
    }

    /// The clock discipline (its internal timeline stays inside the engine;
    /// [`Engine::system_status`] reports its state and frequency).
    pub(crate) fn discipline(&self) -> &Discipline {
        &self.discipline
    }

    /// Counters of the dispatch and the associations.
    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The server responder (its counters, tracked sources).
    #[must_use]
    pub fn responder(&self) -> &Responder {
        &self.responder
    }

    /// Counters of the mode 6 (control) responder.
    #[must_use]
    pub fn control_counters(&self) -> &ControlCounters {
        self.control.counters()
    }

    /// The keyring.
    #[must_use]
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// All associations, in no particular order.
    pub fn associations(&self) -> impl Iterator<Item = &Association> {
        self.associations.iter()
    }

    /// One association.
    #[must_use]
    pub fn association(&self, id: AssociationId) -> Option<&Association> {
        self.associations.get(id)
    }

    /// The association with this remote address.
    #[must_use]
    pub fn association_at(&self, address: SocketAddr) -> Option<&Association> {
        self.associations.find(address).and_then(|id| self.associations.get(id))
    }

    /// Cookies an NTS association holds (`None`: no such NTS association).
    #[must_use]
    pub fn nts_cookies(&self, id: AssociationId) -> Option<usize> {
        self.nts.cookies(id)
    }

    /// The NTS server's master keys (`None` when NTS service is off): the
    /// current key id, how many keys open cookies.
    #[must_use]
    pub fn nts_master_keys(&self) -> Option<&MasterKeys> {
        self.nts.master_keys()
    }

    /// How the selection last judged an association ([`SelectionStatus::Rejected`]
    /// for an unknown id).
    #[must_use]
    pub fn selection_status(&self, id: AssociationId) -> SelectionStatus {
        self.associations.get(id).map(Association::selection).unwrap_or_default()
    }

    /// When association `id` polls next, as a reading of the caller's clock.
    #[must_use]
    pub fn next_poll(&self, id: AssociationId) -> Option<NtpTimestamp> {
        self.associations.get(id).map(|a| self.timestamp_at(a.next_poll()))
    }

    /// The system status at `now` (the caller's clock).
    pub fn system_status(&self, now: NtpTimestamp) -> SystemStatus {
        crate::status::system_status(self, now)
    }

    /// Every association's status at `now` (the caller's clock).
    #[must_use]
    pub fn peer_status(&self, now: NtpTimestamp) -> Vec<PeerStatus> {
        crate::status::peer_status(self, now)
    }

    /// `now` on the engine's timeline, seconds since the engine started
    /// (continuous across clock steps the engine ordered).
    pub(crate) fn seconds(&self, now: NtpTimestamp) -> f64 {
        (now - self.epoch).to_seconds_f64()
    }

    /// The caller's clock reading that corresponds to `at` on the engine's timeline.
    pub(crate) fn timestamp_at(&self, at: f64) -> NtpTimestamp {
        self.epoch + NtpDuration::from_seconds_f64(at)
    }

    /// Test hook: [`Engine::seconds`].
    #[cfg(feature = "__internal-test-api")]
    #[doc(hidden)]
    pub fn test_timeline_seconds(&self, now: NtpTimestamp) -> f64 {
        self.seconds(now)
    }

    /// Test hook: [`Engine::timestamp_at`].
    #[cfg(feature = "__internal-test-api")]
    #[doc(hidden)]
    pub fn test_timestamp_at(&self, at: f64) -> NtpTimestamp {
        self.timestamp_at(at)
    }

    /// Test hook: an association's last clock filter output (its time on
    /// the engine's timeline, its offset in the phase frame).
    #[cfg(feature = "__internal-test-api")]
    #[doc(hidden)]
    pub fn test_filter_output(&self, id: AssociationId) -> Option<crate::FilterOutput> {
        self.associations.get(id).and_then(Association::filter_output)
    }

    /// Test hook: an association's next poll on the engine's timeline, seconds.
    #[cfg(feature = "__internal-test-api")]
    #[doc(hidden)]
    pub fn test_next_poll_seconds(&self, id: AssociationId) -> Option<f64> {
        self.associations.get(id).map(Association::next_poll)
    }

    // ----- commands -----

    /// Adds a configured association; its first poll is due at once.
    pub fn add_association(
        &mut self,
        config: AssociationConfig,
        now: NtpTimestamp,
    ) -> Result<AssociationId, ConfigError> {
        config.validate()?;
        if let Some(key_id) = config.key_id
            && self.keys.get(key_id).is_none()
        {
            return Err(ConfigError::UnknownKey { key_id });
        }
        if self.associations.find(config.address).is_some() {
            return Err(ConfigError::Duplicate { address: config.address });
        }
        let t = self.advance(now);
        self.mobilize(config, false, t)
    }

    /// Gives an NTS association its session keys and cookies from NTS-KE
    /// (RFC 8915 §4, §5.1), replacing any it had; it polls at once.
    /// `ntp_address`, when NTS-KE named another NTP server or port (its
    /// Server and Port records), moves the association there.
    ///
    /// Cookies that are empty or longer than 1024 bytes are skipped, and at
    /// most eight are kept.
    pub fn provision_nts(
        &mut self,
        id: AssociationId,
        keys: NtsKeys,
        cookies: Vec<Vec<u8>>,
        ntp_address: Option<SocketAddr>,
    ) -> Result<(), ConfigError> {
        let Some(association) = self.associations.get(id) else {
            return Err(ConfigError::NoSuchAssociation { id });
        };
        if !self.nts.is_client(id) {
            return Err(ConfigError::NotNts { id });
        }
        let current = association.config().address;
        if let Some(address) = ntp_address.filter(|a| *a != current) {
            if self.associations.find(address).is_some() {
                return Err(ConfigError::Duplicate { address });
            }
        }
        if !self.nts.provision(id, keys, &cookies) {
            return Err(ConfigError::NoNtsCookies);
        }
        if let Some(address) = ntp_address.filter(|a| *a != current) {
            self.associations.set_address(id, address);
        }
        let t = self.last_now;
        self.associations.update(id, |a| a.poll_soon(t));
        Ok(())
    }

    /// The NTS-KE server's answer to a client's request (RFC 8915 §4):
    /// NTPv4, AES-SIV-CMAC-256, eight cookies carrying `keys` (the session
    /// keys the TLS exporter gave for this connection) sealed with the
    /// current master key, rotating it first if due; or an Error record for
    /// a bad request. The TLS session sends `out[..answer.len]` and closes.
    /// Fails when `out` is too small or NTS service is off.
    pub fn nts_ke_answer(
        &mut self,
        now: NtpTimestamp,
        request: &[u8],
        keys: &NtsKeys,
        config: NtsKeServerConfig<'_>,
        out: &mut [u8],
    ) -> Result<NtsKeAnswer, NtsKeError> {
        let t = self.advance(now);
        self.nts.rotate_if_due(t);
        self.nts.ke_answer(request, keys, config, out)
    }

    /// Makes a new NTS master key now (whether or not one is due); cookies
    /// of the old one still open for the grace period. Does nothing when
    /// NTS service is off.
    pub fn rotate_nts_master_key(&mut self, now: NtpTimestamp) {
        let t = self.advance(now);
        self.nts.rotate(t);
    }

    /// Removes an association.
    pub fn remove_association(&mut self, id: AssociationId, now: NtpTimestamp) -> Result<(), ConfigError> {
        let t = self.advance(now);
        if self.associations.get(id).is_none() {
            return Err(ConfigError::NoSuchAssociation { id });
        }
        self.demobilize(id, DemobilizeReason::Removed);
        self.system_process(t);
        Ok(())
    }

    /// The keyring, to add, remove or (un)trust keys.
    pub fn keys_mut(&mut self) -> &mut Keyring {
        &mut self.keys
    }

    /// Replaces the access list.
    pub fn set_access(&mut self, access: AccessList) {
        self.config.access = access;
    }

    /// Uses an IERS `leap-seconds.list` for the leap indicator we announce;
    /// while it is valid (not expired) it takes precedence over the
    /// survivors' vote.
    pub fn set_leap_seconds(&mut self, list: LeapSecondsList, now: NtpTimestamp) {
        self.leap_list = Some(list);
        let t = self.advance(now);
        self.update_leap(t);
    }

    /// A manual leap second (`ntp leap add|delete`), announced until
    /// `leap_at` (the first instant of the month after the leap). Accepted
    /// only while synchronized and within the month before the leap (the
    /// white paper's rule); refused with the reason otherwise.
    pub fn leap_command(
        &mut self,
        command: LeapCommand,
        leap_at: NtpDate,
        now: NtpTimestamp,
    ) -> Result<(), LeapCommandError> {
        let t = self.advance(now);
        let today = self.date_at(now);
        crate::leap::check_leap_command(command, leap_at, today, self.system.is_synchronized())?;
        self.manual_leap = Some((command, leap_at));
        self.update_leap(t);
        Ok(())
    }

    /// Withdraws a manual leap second.
    pub fn clear_leap_command(&mut self, now: NtpTimestamp) {
        let t = self.advance(now);
        self.manual_leap = None;
        self.update_leap(t);
    }

    // ----- inputs -----

    /// A datagram from `source` arrived at `now` (the receive timestamp).
    pub fn handle_datagram(&mut self, now: NtpTimestamp, source: SocketAddr, bytes: &[u8]) {
        let t = self.advance(now);
        self.counters.received += 1;
        if crate::control::is_control(bytes) {
            return self.handle_control(now, t, source, bytes);
        }
        let Ok(packet) = Packet::new_checked(bytes) else {
            self.counters.malformed += 1;
            return;
        };
        if matches!(packet.version(), Version::Unknown(_)) {
            self.counters.bad_version += 1;
            return;
        }
        let access = self.config.access.classify(source.ip());
        if access == AccessClass::Ignore {
            self.counters.access_denied += 1;
            return;
        }
        let mode = packet.mode();
        match mode {
            Mode::Client => return self.serve(bytes, source, access, now, t),
            Mode::SymmetricActive | Mode::SymmetricPassive | Mode::Server | Mode::Broadcast => {}
            Mode::Reserved | Mode::Control | Mode::Private => {
                self.counters.discarded += 1;
                return;
            }
        }
        let Ok(repr) = Repr::parse(&packet) else {
            self.counters.malformed += 1;
            return;
        };
        let verified = auth::verify(bytes, &self.keys).map(|key| key.id());
        let auth = match verified {
            Ok(key_id) => AuthStatus::Verified { key_id },
            Err(AuthError::NoMac) => AuthStatus::None,
            Err(AuthError::CryptoNak) => AuthStatus::CryptoNak,
            Err(_) => AuthStatus::Failed,
        };
        if auth == AuthStatus::CryptoNak {
            self.counters.crypto_nak += 1;
        }
        let id = match self.associations.find(source) {
            Some(id) => id,
            None => match self.mobilize_for(&repr, source, access, auth, t) {
                Some(id) => id,
                None => {
                    if mode == Mode::SymmetricActive {
                        // Answered statelessly with the MAC verdict we have:
                        // the responder does not parse or verify it again.
                        let packet = crate::server::Verified { packet: &packet, key_id: verified };
                        self.serve_verified(packet, source, access, now, t);
                    } else {
                        self.count_auth(auth);
                        self.counters.discarded += 1;
                    }
                    return;
                }
            },
        };
        let auth = if mode == Mode::Server && self.nts.is_client(id) {
            match self.nts.check_reply(id, bytes) {
                ReplyCheck::Authentic => AuthStatus::Nts,
                ReplyCheck::Nak => {
                    // Only a kiss that echoed our outstanding request gets
                    // here (RFC 8915 §5.7); its cookies are gone.
                    self.counters.nts_naks += 1;
                    self.counters.kod_received += 1;
                    self.push_event(Event::KissOfDeath { id, code: ntp_wire::KissCode::from_bytes(*b"NTSN") });
                    self.push_event(Event::NtsKeyExchangeNeeded { id });
                    return;
                }
                ReplyCheck::Refused(_) => {
                    // Unauthenticated, forged, replayed or not ours: the
                    // association rejects it at test 5 without touching
                    // its state.
                    self.counters.nts_rejected += 1;
                    AuthStatus::Failed
                }
            }
        } else {
            auth
        };
        self.count_auth(auth);
        let ctx = ReceiveContext {
            precision: self.config.precision,
            synchronized: self.system.is_synchronized(),
            measuring_frequency: self.discipline.measuring_frequency(),
            require_authentication: self.config.require_authentication,
            access_allows_sync: access.allows_sync(),
            phase: self.phase(),
            correction: self.applied_correction(),
        };
        let report = self.associations.update(id, |association| {
            association.accepts(mode).then(|| association.receive(&repr, now, t, auth, &ctx))
        });
        let Some(report) = report.flatten() else {
            self.counters.discarded += 1;
            return;
        };
        if report.became_reachable {
            self.push_event(Event::Reachable { id });
        }
        if report.answer_now {
            let template = self.system.header_template(t);
            self.transmit(id, &template, now);
        }
        match report.outcome {
            ReceiveOutcome::Rejected(test) => {
                self.counters.count_rejection(test);
                self.push_event(Event::PacketRejected { source, id: Some(id), test });
            }
            ReceiveOutcome::KissOfDeath(code) => {
                self.counters.kod_received += 1;
                self.push_event(Event::KissOfDeath { id, code });
                if code.demands_stop() {
                    self.demobilize(id, DemobilizeReason::KissOfDeath(code));
                    self.system_process(t);
                }
            }
            ReceiveOutcome::Calibrating => {}
            ReceiveOutcome::Sample(verdict) => {
                self.measure_frequency(id);
                if let FilterVerdict::Update(_) = verdict {
                    self.system_process(t);
                }
            }
        }
    }

    /// Whether the first clock update should wait for more sources: before
    /// the clock was ever updated, while some reachable, synchronized source
    /// is not yet fit (its filter still too dispersed), for at most
    /// [`FIRST_ROUND_WAIT`] after the first one became fit. The sources'
    /// initial bursts run side by side, so their third samples come within
    /// milliseconds of each other; a selection made on the first alone would follow it even if it
    /// is the one that is far off (clknetsim `three-servers`: a server 200 ms
    /// off won the first selection, the clock was slewed toward it and
    /// stepped back five minutes later). ntpd has the same race; waiting for
    /// the round lets the intersection and cluster stages judge them all.
    fn first_round_pending(&mut self, t: f64) -> bool {
        if self.discipline.last_update().is_some() || self.candidates.is_empty() {
            return false;
        }
        let first = *self.first_candidate_at.get_or_insert(t);
        // Sources that say they are synchronized will become fit within the
        // burst; an unsynchronized one (a peer still starting) may take
        // minutes and is not waited for.
        let coming = self
            .associations
            .sampled()
            .iter()
            .filter_map(|&id| self.associations.get(id))
            .filter(|a| a.reach() != 0 && a.leap() != LeapIndicator::Unsynchronized && a.stratum() < MAXSTRAT)
            .count();
        self.candidates.len() < coming && t - first < FIRST_ROUND_WAIT
    }

    /// While the discipline measures the frequency after start-up (FREQ),
    /// hands it the start-up fit of association `id` if that is the system
    /// peer: one more sample in it, whether or not the clock filter passed
    /// it on.
    fn measure_frequency(&mut self, id: AssociationId) {
        if self.discipline.state() == ClockState::Freq && self.system.system_peer() == Some(id) {
            self.adopt_startup_fit(id);
        }
    }

    /// Hands the discipline the start-up fit of association `id`, which it
    /// takes while it measures the frequency (see
    /// [`Discipline::adopt_frequency_fit`]).
    fn adopt_startup_fit(&mut self, id: AssociationId) {
        if let Some(fit) = self.associations.get(id).and_then(Association::startup_fit) {
            self.discipline.adopt_frequency_fit(fit);
        }
    }

    /// A deadline passed (call at or after the last [`Output::Timeout`]).
    pub fn handle_timeout(&mut self, now: NtpTimestamp) {
        let t = self.advance(now);
        let system_poll = self.system.poll;
        let template = self.system.header_template(t);
        let due = self.associations.due_by(t);
        let polled = !due.is_empty();
        let wants_samples = self.discipline.wants_frequency_samples();
        let system_peer = self.system.system_peer();
        for id in due {
            let more_samples = wants_samples && system_peer == Some(id);
            let Some(report) = self.associations.update(id, |a| a.poll(t, system_poll, more_samples)) else {
                continue;
            };
            if report.became_unreachable {
                self.push_event(Event::Unreachable { id });
            }
            if report.demobilize {
                self.demobilize(id, DemobilizeReason::Unreachable);
                continue;
            }
            if report.transmit {
                self.transmit(id, &template, now);
            }
        }
        if polled {
            self.system_process(t);
        }
        // A manual leap second is withdrawn once its moment has passed.
        if self.manual_leap.is_some() {
            self.update_leap(t);
        }
        if let Some(tick) = self.next_tick
            && tick <= t
        {
            let correction = self.discipline.tick();
            self.tick_correction = correction;
            self.tick_slew = correction - self.discipline.frequency();
            self.queue_clock(ClockAction::SetFrequency { ppm: correction * 1e6 });
            self.next_tick = Some(tick.max(t - 1.0) + 1.0);
        }
    }

    // ----- outputs -----

    /// The next thing to do. Call until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(action) = self.clock_actions.pop_front() {
            return Output::Clock(action);
        }
        if let Some(transmit) = self.transmits.pop_front() {
            return Output::Transmit(transmit);
        }
        if let Some(event) = self.events.pop_front() {
            return Output::Event(event);
        }
        Output::Timeout(self.next_deadline())
    }

    /// When to call [`Engine::handle_timeout`] next, as a reading of the
    /// caller's clock; never before the latest reading given.
    #[must_use]
    pub fn next_deadline(&self) -> NtpTimestamp {
        // The f64 timeline rounds (by up to half an ulp: 2^-32 s after 24
        // days): never hand out a deadline before the latest reading.
        let at = self.timestamp_at(self.next_deadline_seconds());
        if (at - self.last_input).to_bits() < 0 { self.last_input } else { at }
    }

    /// The next deadline on the engine's timeline, never before the last input.
    fn next_deadline_seconds(&self) -> f64 {
        let deadline =
            self.associations.first_due().into_iter().chain(self.next_tick).fold(self.last_now + 3600.0, f64::min);
        deadline.max(self.last_now)
    }

    // ----- internals -----

    fn advance(&mut self, now: NtpTimestamp) -> f64 {
        let t = self.seconds(now);
        // A caller's clock that went backwards must not move deadlines back.
        if t > self.last_now {
            self.last_now = t;
        }
        if (now - self.last_input).to_bits() > 0 {
            self.last_input = now;
        }
        t
    }

    /// Counts a failed MAC on a packet the engine itself uses or discards
    /// (packets handed to the responder are counted there, once).
    fn count_auth(&mut self, auth: AuthStatus) {
        if auth == AuthStatus::Failed {
            self.counters.auth_failed += 1;
        }
    }

    /// A client request: the responder parses, checks and answers it, and
    /// keeps the counts of what it answered and dropped.
    fn serve(&mut self, bytes: &[u8], source: SocketAddr, access: AccessClass, now: NtpTimestamp, t: f64) {
        let system = self.system.header_template(t);
        let mut out = [0u8; MAX_DATAGRAM];
        let request = crate::server::Request { bytes, source: source.ip(), access, received: now, now: t };
        let response = if has_nts_fields(bytes) {
            if !self.nts.serves() {
                // NTS fields while NTS service is off: dropped, as chrony
                // drops them without `ntsserverkey` (its NTS check fails
                // with no kiss code). A plain reply would tell an NTS client
                // nothing it may use, and an NTSN would send it to NTS-KE
                // at a server that has none.
                self.responder.count_nts_dropped();
                return;
            }
            self.nts.rotate_if_due(t);
            let nts = &mut self.nts;
            self.responder.respond_nts(&request, &system, &mut out, &mut |reply| nts.seal_reply(bytes, reply))
        } else {
            self.responder.respond(&request, &system, &self.keys, &mut out)
        };
        self.queue_response(response, source, &out);
    }

    /// A mode 6 request: the control responder answers it (see `control.rs`).
    fn handle_control(&mut self, now: NtpTimestamp, t: f64, source: SocketAddr, bytes: &[u8]) {
        // Shorter than a control header: not a control message at all, and
        // counted as malformed like any datagram the wire crate refuses.
        if bytes.len() < ntp_wire::control::CONTROL_HEADER_LEN {
            self.counters.malformed += 1;
            return;
        }
        // Taken out for the call, so the responder can read the engine.
        let mut control = core::mem::take(&mut self.control);
        let request = crate::control::Incoming { bytes, source, now, t };
        let datagrams = control.respond(self, &request);
        self.control = control;
        // Unanswered (not allowed, rate-limited, malformed): discarded, as
        // every mode 6 packet was before the responder existed.
        if datagrams.is_empty() {
            self.counters.discarded += 1;
        }
        for datagram in datagrams {
            self.queue_transmit(source, &datagram);
        }
    }

    /// A mode 1 packet that creates nothing, answered statelessly from the
    /// parse and MAC verdict the dispatch already made.
    fn serve_verified(
        &mut self,
        packet: crate::server::Verified<'_, '_>,
        source: SocketAddr,
        access: AccessClass,
        now: NtpTimestamp,
        t: f64,
    ) {
        let system = self.system.header_template(t);
        let mut out = [0u8; MAX_DATAGRAM];
        let response =
            self.responder.respond_verified(packet, source.ip(), access, now, t, &system, &self.keys, &mut out);
        self.queue_response(response, source, &out);
    }

    fn queue_response(&mut self, response: Response, source: SocketAddr, out: &[u8]) {
        let len = match response {
            Response::Reply { len, .. } | Response::KissOfDeath { len, .. } | Response::CryptoNak { len } => len,
            Response::Drop(_) => return,
        };
        if let Some(payload) = out.get(..len) {
            self.queue_transmit(source, payload);
        }
    }

    /// NEWPS and NEWBC: whether an unknown source's packet may create an
    /// association, and if so which. Returns its index.
    fn mobilize_for(
        &mut self,
        repr: &Repr,
        source: SocketAddr,
        access: AccessClass,
        auth: AuthStatus,
        t: f64,
    ) -> Option<AssociationId> {
        let key_id = match auth {
            AuthStatus::Verified { key_id } => Some(key_id),
            _ => None,
        };
        let (mode, allowed) = match repr.mode {
            Mode::SymmetricActive => {
                let by_rule = !self.config.require_authentication
                    && auth == AuthStatus::None
                    && self.config.access.explicit_class(source.ip()) == Some(AccessClass::Peer);
                (AssociationMode::SymmetricPassive, key_id.is_some() || by_rule)
            }
            Mode::Broadcast => {
                let authentic = key_id.is_some() || (auth == AuthStatus::None && !self.config.require_authentication);
                (AssociationMode::BroadcastClient, self.config.broadcast_client && authentic)
            }
            _ => return None,
        };
        if !allowed || !access.allows_sync() {
            if repr.mode == Mode::SymmetricActive {
                self.counters.peer_refused += 1;
            }
            return None;
        }
        let same_kind = self.associations.ephemeral(mode);
        let limit = match mode {
            AssociationMode::BroadcastClient => self.config.max_broadcast_servers,
            _ => self.config.max_ephemeral,
        };
        if same_kind >= limit {
            if mode == AssociationMode::SymmetricPassive {
                self.counters.peer_refused += 1;
            }
            return None;
        }
        let poll = repr.poll.clamp(MINPOLL, crate::constants::MAXPOLL);
        let mut config = AssociationConfig::new(mode, source).with_poll(poll, crate::constants::MAXPOLL);
        config.key_id = key_id;
        self.mobilize(config, true, t).ok()
    }

    fn mobilize(&mut self, config: AssociationConfig, ephemeral: bool, t: f64) -> Result<AssociationId, ConfigError> {
        if self.associations.len() >= self.config.max_associations {
            return Err(ConfigError::TooManyAssociations { limit: self.config.max_associations });
        }
        let id = AssociationId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.associations.insert(Association::new(id, config, ephemeral, t));
        self.push_event(Event::Mobilized { id, address: config.address, mode: config.mode, ephemeral });
        if config.nts {
            self.nts.add_client(id);
            self.push_event(Event::NtsKeyExchangeNeeded { id });
        }
        Ok(id)
    }

    fn demobilize(&mut self, id: AssociationId, reason: DemobilizeReason) {
        let Some(association) = self.associations.remove(id) else { return };
        self.nts.remove_client(id);
        self.push_event(Event::Demobilized { id, address: association.config().address, reason });
    }

    fn transmit(&mut self, id: AssociationId, template: &Repr, now: NtpTimestamp) {
        let at = self.last_now;
        let nts = self.nts.is_client(id);
        if nts && self.nts.cookies(id) == Some(0) {
            // No cookie: nothing may be sent (an unauthenticated request
            // would get a reply we must refuse). The poll still counts as
            // unanswered, which is the truth.
            self.counters.nts_unsent += 1;
            if let RequestSeal::NoCookie(true) = self.nts.seal_request(id, &mut []) {
                self.push_event(Event::NtsKeyExchangeNeeded { id });
            }
            return;
        }
        let Some((destination, key_id, repr)) = self.associations.update(id, |association| {
            (association.config().address, association.config().key_id, association.build_packet(template, now, at))
        }) else {
            return;
        };
        let mut buf = [0u8; MAX_DATAGRAM];
        let Ok(mut len) = repr.emit_into(&mut buf) else { return };
        if nts {
            match self.nts.seal_request(id, &mut buf) {
                RequestSeal::Sealed(total) => len = total,
                RequestSeal::NoCookie(_) | RequestSeal::Failed => return,
            }
        }
        if let Some(key_id) = key_id {
            // A key removed from the keyring after configuration: the packet
            // would be refused anyway, so it is not sent.
            let Some(key) = self.keys.get(key_id) else {
                self.counters.auth_failed += 1;
                return;
            };
            match auth::sign(&mut buf, len, key) {
                Ok(total) => len = total,
                Err(_) => return,
            }
        }
        if buf.get(..len).is_some_and(|payload| self.queue_transmit(destination, payload)) {
            self.counters.polls_sent += 1;
        }
    }

    /// Queues a datagram; false (and counted) when the queue is full.
    fn queue_transmit(&mut self, destination: SocketAddr, payload: &[u8]) -> bool {
        match Transmit::new(destination, payload) {
            Some(transmit) if self.transmits.len() < TRANSMIT_QUEUE_LIMIT => {
                self.transmits.push_back(transmit);
                true
            }
            _ => {
                self.counters.transmits_dropped += 1;
                false
            }
        }
    }

    fn queue_clock(&mut self, action: ClockAction) {
        // Only the latest frequency matters; a step must not be lost.
        if let ClockAction::SetFrequency { .. } = action {
            self.clock_actions.retain(|a| !matches!(a, ClockAction::SetFrequency { .. }));
        }
        self.clock_actions.push_back(action);
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= EVENT_QUEUE_LIMIT {
            self.events.pop_front();
            self.counters.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    /// The system process (RFC 5905 §11): select, cluster, combine, update
    /// the system variables and the clock.
    fn system_process(&mut self, t: f64) {
        self.candidates.clear();
        let phase = self.phase();
        // Only associations with a sample can be candidates; the others keep
        // the status they were created with (rejected) and are not visited.
        let mut lost = Vec::new();
        for &id in self.associations.sampled() {
            let Some(association) = self.associations.get(id) else { continue };
            let Some(out) = association.filter_output() else { continue };
            match association.fitness(t, self.system.poll, &self.our_ids) {
                Ok(()) => {}
                Err(Unfit::Unreachable | Unfit::TooFar | Unfit::Unsynchronized) => {
                    lost.push(reference_id_for(association.config().address.ip()));
                    continue;
                }
                Err(_) => continue,
            }
            self.candidates.push(Candidate {
                id: association.id().0,
                offset: out.offset - phase,
                root_distance: association.root_distance(t),
                jitter: out.jitter,
                stratum: association.stratum(),
                prefer: association.config().prefer,
            });
        }
        self.refuse_followers_of_lost(&lost);
        self.apply_orphan_rule();
        if self.first_round_pending(t) {
            return;
        }
        let current = self.system.system_peer().map(|id| id.0);
        let outcome = match self.selector.select(&self.candidates, current, &self.config.select) {
            Ok(outcome) => outcome,
            Err(_) => {
                Self::set_selection(&mut self.associations, |_| SelectionStatus::Rejected);
                // Right after a step every filter is empty by design: wait a
                // few polls for fresh samples before declaring the sources lost.
                let grace = (3.0 * log2_seconds(self.system.poll)).max(30.0);
                if self.stepped_at.is_some_and(|at| t - at < grace) {
                    return;
                }
                self.fall_back(t);
                return;
            }
        };
        self.stepped_at = None;
        let peer_id = AssociationId(outcome.system_peer);
        let offset = outcome.offset;
        let jitter = outcome.jitter;
        let newly_false = Self::set_selection(&mut self.associations, |id| {
            if id == outcome.system_peer {
                SelectionStatus::SystemPeer
            } else if outcome.survivors.contains(&id) {
                SelectionStatus::Candidate
            } else if outcome.falsetickers.contains(&id) {
                SelectionStatus::Falseticker
            } else if outcome.truechimers.contains(&id) {
                SelectionStatus::Outlier
            } else {
                SelectionStatus::Rejected
            }
        });
        let leap = crate::leap::vote(
            outcome.survivors.iter().filter_map(|id| self.associations.get(AssociationId(*id))).map(Association::leap),
        );
        for id in newly_false {
            self.push_event(Event::FalsetickerRejected { id });
        }
        let Some(peer) = self.association(peer_id) else { return };
        let Some(out) = peer.filter_output() else { return };
        let peer_sample_time = out.time;
        let stratum = peer.stratum().saturating_add(1).min(MAXSTRAT);
        let reference_id = reference_id_for(peer.config().address.ip());
        let root_delay = peer.root_delay() + out.delay;
        // RFC 5905 clock_update: the peer's root dispersion, its own dispersion
        // grown to now, the jitters, and the offset we are about to remove.
        let root_dispersion =
            peer.root_dispersion() + peer.filter().dispersion_at(t) + out.jitter.hypot(jitter) + offset.abs();
        let was = self.system.source;
        if was != SyncSource::Peer(peer_id) {
            self.push_event(Event::SystemPeerChanged { from: self.system.system_peer(), to: Some(peer_id) });
            self.discipline.restart_frequency_measurement(t);
        }
        // Use each sample once: the discipline sees the peer's output only when it is new.
        if peer_sample_time <= self.last_sample_used {
            self.system.source = SyncSource::Peer(peer_id);
            return;
        }
        self.last_sample_used = peer_sample_time;
        // The system peer's samples so far measure the frequency: its burst
        // at the first update, all of them after a change of peer. (For the
        // same peer in FREQ, `measure_frequency` handed its fit over already
        // when the sample arrived.)
        if self.discipline.state() == ClockState::Nset || was != SyncSource::Peer(peer_id) {
            self.adopt_startup_fit(peer_id);
        }
        let result = self.discipline.update(t, offset, log2_seconds(self.config.precision));
        match result {
            DisciplineResult::Panic { offset } => {
                self.push_event(Event::PanicOffset { offset });
                return;
            }
            DisciplineResult::Ignored => {
                self.system.source = SyncSource::Peer(peer_id);
                if !self.system.is_synchronized() {
                    return;
                }
            }
            DisciplineResult::Stepped { offset } => self.step(offset),
            DisciplineResult::Slewed => {}
        }
        let was_synchronized = self.system.is_synchronized();
        self.system.source = SyncSource::Peer(peer_id);
        self.system.stratum = stratum;
        self.system.reference_id = reference_id;
        self.system.root_delay = root_delay;
        self.system.root_dispersion = root_dispersion;
        self.system.reference_time = self.timestamp_at(t);
        self.system.update_time = t;
        self.system.offset = offset;
        self.system.jitter = jitter;
        self.system.poll = self.discipline.poll_log2();
        self.survivors_leap = leap;
        self.update_leap(t);
        if self.next_tick.is_none() {
            self.next_tick = Some(t + 1.0);
        }
        if !was_synchronized || matches!(was, SyncSource::LocalReference | SyncSource::Orphan | SyncSource::None) {
            self.push_event(Event::SyncGained { stratum });
        }
    }

    /// Gives every association with a sample the status `judge` returns for
    /// its id (the rest stay rejected); returns those newly found false.
    fn set_selection(associations: &mut Table, judge: impl Fn(u32) -> SelectionStatus) -> Vec<AssociationId> {
        let mut newly_false = Vec::new();
        for id in associations.sampled().to_vec() {
            let status = judge(id.0);
            let previous = associations.update(id, |a| {
                let previous = a.selection();
                a.set_selection(status);
                previous
            });
            if status == SelectionStatus::Falseticker && previous.is_some_and(|p| p != SelectionStatus::Falseticker) {
                newly_false.push(id);
            }
        }
        newly_false
    }

    /// The date of a clock reading (RFC 4330 era rule: 1968..2104).
    fn date_at(&self, now: NtpTimestamp) -> NtpDate {
        now.to_date(NtpDate::ERA1_START).unwrap_or(NtpDate::ERA1_START)
    }

    /// The leap indicator we announce: a manual command until its leap has
    /// passed, else a valid leap-seconds.list, else the survivors' vote;
    /// always "unsynchronized" without a source.
    fn update_leap(&mut self, t: f64) {
        if self.system.source == SyncSource::None {
            return;
        }
        let today = self.date_at(self.timestamp_at(t));
        if let Some((_, at)) = self.manual_leap
            && today >= at
        {
            self.manual_leap = None;
        }
        let leap = match (&self.manual_leap, &self.leap_list) {
            (Some((command, _)), _) => command.indicator(),
            (None, Some(list)) if !list.is_expired(today) => list.leap_indicator(today),
            _ => match self.system.source {
                SyncSource::Peer(_) => self.survivors_leap,
                _ => LeapIndicator::NoWarning,
            },
        };
        self.set_leap(leap);
    }

    fn set_leap(&mut self, leap: ntp_wire::LeapIndicator) {
        if self.system.leap != leap {
            self.system.leap = leap;
            self.push_event(Event::LeapChanged { leap });
        }
    }

    /// No usable source: the local reference if configured, else the orphan
    /// root if orphan mode is configured, else unsynchronized.
    fn fall_back(&mut self, t: f64) {
        if let Some(stratum) = self.config.local_reference_stratum {
            let id = if stratum <= 1 { ReferenceId::LOCAL } else { ReferenceId([127, 127, 1, 0]) };
            self.serve_own_clock(SyncSource::LocalReference, stratum, id, t);
            return;
        }
        if let Some(stratum) = self.config.orphan_stratum
            && t >= self.config.orphan_wait
        {
            let id = self.our_ids.first().copied().unwrap_or(ReferenceId::LOCAL);
            self.serve_own_clock(SyncSource::Orphan, stratum, id, t);
            return;
        }
        if self.system.source != SyncSource::None {
            if let Some(from) = self.system.system_peer() {
                self.push_event(Event::SystemPeerChanged { from: Some(from), to: None });
            }
            self.system.source = SyncSource::None;
            self.system.stratum = MAXSTRAT;
            self.set_leap(ntp_wire::LeapIndicator::Unsynchronized);
            self.push_event(Event::SyncLost);
        }
    }

    /// Takes the local clock as the reference (`ntp master N`, or the root of
    /// an orphan group): stratum `stratum`, reference id `id`, no root delay.
    fn serve_own_clock(&mut self, source: SyncSource, stratum: u8, id: ReferenceId, t: f64) {
        if self.system.source == source {
            return;
        }
        if let Some(from) = self.system.system_peer() {
            self.push_event(Event::SystemPeerChanged { from: Some(from), to: None });
        }
        self.system.source = source;
        self.system.stratum = stratum.min(MAXSTRAT);
        self.system.reference_id = id;
        self.system.root_delay = 0.0;
        self.system.root_dispersion = log2_seconds(self.config.precision);
        self.system.reference_time = self.timestamp_at(t);
        self.system.update_time = t;
        self.update_leap(t);
        self.push_event(Event::LocalReferenceInUse { stratum });
    }

    /// The loop test applied to what peers announce, for sources we lost.
    ///
    /// `lost` names the sources we had samples from and can no longer use
    /// (unreachable, too far, or unsynchronized themselves). A candidate
    /// whose reference id names one of them is synchronized to that source,
    /// which we know to be gone or stale here; its claim (say, stratum 2
    /// through S1) is at best one poll old and at worst rests on the same
    /// loss. Following it is how a timing loop forms when an upstream dies:
    /// in the orphan scenario O1 and O3 lost S1 on the same poll, each still
    /// saw the other announce "stratum 2, reference S1", each took the
    /// other, and the strata then counted up (O2 reached stratum 5) with no
    /// upstream at all. RFC 5905's loop test (reference id = our address)
    /// cannot see this two-node cycle, because neither had announced its
    /// switch yet. Refusing such candidates until they announce a reference
    /// we can still use costs at most their next poll when they have a path
    /// of their own to the source, and breaks the cycle when they do not. A
    /// source we never heard is not "lost": a peer synchronized to it by a
    /// path of its own stays usable. (A departure from RFC 5905 and ntpd,
    /// which rely on the loop test and orphan mode alone.)
    fn refuse_followers_of_lost(&mut self, lost: &[ReferenceId]) {
        if lost.is_empty() {
            return;
        }
        let associations = &self.associations;
        self.candidates
            .retain(|c| associations.get(AssociationId(c.id)).is_none_or(|a| !lost.contains(&a.reference_id())));
    }

    /// Orphan mode's candidate rule. With no candidate below the orphan
    /// stratum, only orphan roots (at exactly that stratum) whose reference
    /// id, their own address, is lower than ours may be followed: the group
    /// settles on its lowest-addressed member as root without a vote, and
    /// a root never follows its own followers (their reference id is the
    /// root's address, which the loop check refuses).
    fn apply_orphan_rule(&mut self) {
        let Some(orphan) = self.config.orphan_stratum else { return };
        if self.candidates.iter().any(|c| c.stratum < orphan) {
            return;
        }
        let ours = self.our_ids.first().map_or(u32::MAX, |id| id.to_u32());
        let associations = &self.associations;
        self.candidates.retain(|c| {
            c.stratum == orphan
                && associations.get(AssociationId(c.id)).is_some_and(|a| a.reference_id().to_u32() < ours)
        });
    }

    /// The phase this engine has moved its clock by so far, slews and steps,
    /// seconds: the reference of the clock filters' frame (see
    /// [`ReceiveContext::phase`]).
    pub(crate) fn phase(&self) -> f64 {
        self.discipline.slewed_phase() + self.stepped - self.tick_slew * self.rest_of_tick()
    }

    /// Every correction applied to the clock so far, seconds, as of the
    /// latest input: the frame of the start-up frequency fits (see
    /// [`Discipline::total_correction`]).
    fn applied_correction(&self) -> f64 {
        self.discipline.total_correction() - self.tick_correction * self.rest_of_tick()
    }

    /// Seconds of the current tick still to run at the latest input. The
    /// discipline counts a tick's whole second of slew and frequency when
    /// it hands the rate out; the clock has run only part of it by the time
    /// a sample arrives. At 500 ppm that is up to 0.5 ms, at the fast
    /// start-up slew of a tick-adjusted clock tens of milliseconds, which
    /// would both shift the filter's frame and bend the frequency fits.
    fn rest_of_tick(&self) -> f64 {
        self.next_tick.map_or(0.0, |tick| (tick - self.last_now).clamp(0.0, 1.0))
    }

    /// A step. RFC 5905 clears every clock filter here, because the samples
    /// measured the clock before the step. Ours are kept in a frame that
    /// moves with the clock's phase, so adding the step to the frame keeps
    /// them valid: clearing them would widen every source's distance for a
    /// few polls, during which a lower-stratum falseticker can win the
    /// selection again. Requests still in flight are forgotten (their
    /// replies would mix the two timescales).
    fn step(&mut self, offset: f64) {
        self.queue_clock(ClockAction::Step { offset });
        self.push_event(Event::ClockStepped { offset });
        // Readings from now on are `offset` later; keep the timeline continuous.
        let step = NtpDuration::from_seconds_f64(offset);
        self.epoch += step;
        self.last_input += step;
        self.stepped += offset;
        for id in self.associations.ids() {
            self.associations.update(id, Association::clock_stepped);
        }
        self.stepped_at = Some(self.last_now);
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
