//! The sans-IO engine behind an opaque handle.
//!
//! Kept in one module on purpose: it is the only part of this crate that
//! touches `ntp-algo`, whose API is being curated, so an adaptation stays
//! local. Nothing here decides anything about the protocol; it converts
//! between C structs and the engine's types.

use std::net::SocketAddr;

use ntp_algo::{
    AssociationConfig, AssociationId, AssociationMode, ClockAction, ClockState, DemobilizeReason, Engine, EngineConfig,
    Event, Output, PeerStatus, SelectionStatus, SyncSource, SystemStatus,
};
use ntp_node::views::{cisco_show_ntp_associations, cisco_show_ntp_status, huawei_display_ntp_status, ntpq_peers};
use ntp_node::{AssociationSnapshot, SystemSnapshot};
use ntp_wire::NtpTimestamp;
use ntp_wire::auth::Keyring;

use crate::addr::ntp_sockaddr;
use crate::auth::ntp_keyring;
use crate::ptr::{self, boundary, boundary_void};
use crate::result::ntp_result;
use crate::time::ntp_timestamp;
use crate::wire::NTP_MAX_DATAGRAM;

/// One NTP node: associations, system process, clock discipline, server.
/// Opaque; create with `ntp_engine_new`, release with `ntp_engine_free`.
/// Sans-IO: it opens no socket and reads no clock; the caller passes its
/// clock's reading (`now`) with every input and drains `ntp_engine_poll_output`.
pub struct ntp_engine {
    pub(crate) inner: Engine,
}

/// Engine options. Initialize with `ntp_engine_options_init` (which sets
/// `struct_size` and every default), then change fields.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ntp_engine_options {
    /// `sizeof(ntp_engine_options)` as the caller compiled it; lets a later
    /// library accept structs from older headers.
    pub struct_size: usize,
    /// Precision of the local clock, log2 seconds (default -20).
    pub precision: i8,
    /// Serve the local clock as a reference at this stratum when no source
    /// is usable (ntpd's `fudge 127.127.1.0 stratum N` / chrony's
    /// `local stratum N`); 0 (default) disables it.
    pub master_stratum: u8,
    /// Orphan mode stratum (ntpd's `tos orphan N`); 0 (default) disables it.
    pub orphan_stratum: u8,
    /// Use only authenticated packets for time (default false).
    pub require_auth: bool,
    /// Listen to broadcast servers (default false).
    pub broadcast_client: bool,
    /// Answer requests whose MAC fails with a crypto-NAK instead of silence
    /// (default false, as ntpd and chrony).
    pub crypto_nak_on_failure: bool,
    /// Seconds after start before orphan mode may take over (default 300).
    pub orphan_wait: f64,
    /// Frequency correction saved from an earlier run, ppm; NaN (default) for none.
    pub saved_frequency_ppm: f64,
    /// Addresses this node is reached at (to detect timing loops); may be
    /// NULL when `local_address_count` is 0. Read during `ntp_engine_new` only.
    pub local_addresses: *const ntp_sockaddr,
    /// Number of entries in `local_addresses`.
    pub local_address_count: usize,
}

/// Fills `out` with the defaults and sets `struct_size`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_options_init(out: *mut ntp_engine_options) -> ntp_result {
    boundary(|| {
        let d = EngineConfig::default();
        *ptr::out(out)? = ntp_engine_options {
            struct_size: size_of::<ntp_engine_options>(),
            precision: d.precision,
            master_stratum: d.local_reference_stratum.unwrap_or(0),
            orphan_stratum: d.orphan_stratum.unwrap_or(0),
            require_auth: d.require_authentication,
            broadcast_client: d.broadcast_client,
            crypto_nak_on_failure: d.responder.crypto_nak_on_failure,
            orphan_wait: d.orphan_wait,
            saved_frequency_ppm: d.saved_frequency_ppm.unwrap_or(f64::NAN),
            local_addresses: std::ptr::null(),
            local_address_count: 0,
        };
        Ok(())
    })
}

// Field assignment rather than a struct literal: EngineConfig is becoming
// #[non_exhaustive], which forbids literals outside ntp-algo.
#[allow(clippy::field_reassign_with_default)]
fn engine_config(o: &ntp_engine_options) -> Result<EngineConfig, ntp_result> {
    if o.struct_size != size_of::<ntp_engine_options>() {
        return Err(ntp_result::StructSizeMismatch);
    }
    if o.master_stratum > 15 || o.orphan_stratum > 15 || !(o.orphan_wait.is_finite() && o.orphan_wait >= 0.0) {
        return Err(ntp_result::InvalidParameter);
    }
    let mut config = EngineConfig::default();
    config.precision = o.precision;
    config.local_reference_stratum = (o.master_stratum != 0).then_some(o.master_stratum);
    config.orphan_stratum = (o.orphan_stratum != 0).then_some(o.orphan_stratum);
    config.require_authentication = o.require_auth;
    config.broadcast_client = o.broadcast_client;
    config.responder.crypto_nak_on_failure = o.crypto_nak_on_failure;
    config.orphan_wait = o.orphan_wait;
    config.saved_frequency_ppm = o.saved_frequency_ppm.is_finite().then_some(o.saved_frequency_ppm);
    for a in ptr::slice(o.local_addresses, o.local_address_count)? {
        config.local_addresses.push(a.to_socket_addr()?.ip());
    }
    Ok(config)
}

/// Creates an engine started at `now` in `*out`; free it with `ntp_engine_free`.
///
/// - `options`: NULL for the defaults; read during the call only.
/// - `keyring`: NULL for no keys; copied, so the caller keeps (and frees)
///   its keyring, and later changes to it do not reach the engine.
///
/// Returns `NTP_RESULT_STRUCT_SIZE_MISMATCH` for options not initialized
/// with `ntp_engine_options_init`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_new(
    options: *const ntp_engine_options,
    keyring: *const ntp_keyring,
    now: ntp_timestamp,
    out: *mut *mut ntp_engine,
) -> ntp_result {
    boundary(|| {
        let out = ptr::out(out)?;
        let config = match options.is_null() {
            true => EngineConfig::default(),
            false => engine_config(ptr::read(options)?)?,
        };
        let keys = match keyring.is_null() {
            true => Keyring::new(),
            false => ptr::read(keyring)?.inner.clone(),
        };
        *out = ptr::to_boxed(ntp_engine { inner: Engine::new(config, keys, NtpTimestamp::from_bits(now)) });
        Ok(())
    })
}

/// Frees an engine made by `ntp_engine_new`; NULL is a no-op. The pointer
/// must not be used afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_free(engine: *mut ntp_engine) {
    boundary_void(|| ptr::free_boxed(engine));
}

/// The local side's mode of an association (RFC 5905 section 3).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_association_mode {
    /// We poll a server (`server` in ntp.conf).
    Client = 1,
    /// Symmetric active peer (`peer`).
    SymmetricActive = 2,
    /// Symmetric passive, created by an arriving mode 1 packet (output only).
    SymmetricPassive = 3,
    /// We broadcast to an address (`broadcast`).
    BroadcastServer = 4,
    /// We listen to a broadcast server (output only).
    BroadcastClient = 5,
}

fn mode_code(m: AssociationMode) -> u32 {
    (match m {
        AssociationMode::Client => ntp_association_mode::Client,
        AssociationMode::SymmetricActive => ntp_association_mode::SymmetricActive,
        AssociationMode::SymmetricPassive => ntp_association_mode::SymmetricPassive,
        AssociationMode::BroadcastServer => ntp_association_mode::BroadcastServer,
        AssociationMode::BroadcastClient => ntp_association_mode::BroadcastClient,
    }) as u32
}

/// An association to configure. Initialize with `ntp_association_config_init`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ntp_association_config {
    /// An `ntp_association_mode`: CLIENT, SYMMETRIC_ACTIVE or BROADCAST_SERVER.
    pub mode: u32,
    /// The remote address (for a broadcast server: where to send).
    pub address: ntp_sockaddr,
    /// Sign with and require this key; 0 for none. It must be in the
    /// engine's keyring.
    pub key_id: u32,
    /// Shortest poll interval, log2 seconds (default 6; allowed 0..=17).
    pub minpoll: i8,
    /// Longest poll interval, log2 seconds (default 10; allowed 0..=17).
    pub maxpoll: i8,
    /// Burst of packets while unreachable, for a fast first sync.
    pub iburst: bool,
    /// Burst of packets at every poll.
    pub burst: bool,
    /// Prefer this source among equals.
    pub prefer: bool,
}

/// Fills `out` with the defaults: client mode, no address (family 0: set
/// one), no key, poll 6..10, no bursts, not preferred.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_association_config_init(out: *mut ntp_association_config) -> ntp_result {
    boundary(|| {
        let d = AssociationConfig::client(SocketAddr::from(([0, 0, 0, 0], 123)));
        *ptr::out(out)? = ntp_association_config {
            mode: ntp_association_mode::Client as u32,
            address: ntp_sockaddr::NONE,
            key_id: 0,
            minpoll: d.min_poll,
            maxpoll: d.max_poll,
            iburst: d.iburst,
            burst: d.burst,
            prefer: d.prefer,
        };
        Ok(())
    })
}

fn association_config(c: &ntp_association_config) -> Result<AssociationConfig, ntp_result> {
    let mode = match c.mode {
        1 => AssociationMode::Client,
        2 => AssociationMode::SymmetricActive,
        4 => AssociationMode::BroadcastServer,
        _ => return Err(ntp_result::InvalidParameter),
    };
    let mut config = AssociationConfig::new(mode, c.address.to_socket_addr()?)
        .with_poll(c.minpoll, c.maxpoll)
        .with_iburst(c.iburst)
        .with_burst(c.burst)
        .with_prefer(c.prefer);
    if c.key_id != 0 {
        config = config.with_key(c.key_id);
    }
    Ok(config)
}

/// Adds a configured association at `now` and writes its id (never 0) to
/// `id`. Its first poll is due at once: drain `ntp_engine_poll_output`.
///
/// Returns a 300-399 code for a refused configuration (poll range, unknown
/// key, an association with this address exists).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_add_association(
    engine: *mut ntp_engine,
    config: *const ntp_association_config,
    now: ntp_timestamp,
    id: *mut u32,
) -> ntp_result {
    boundary(|| {
        let engine = ptr::out(engine)?;
        let config = association_config(ptr::read(config)?)?;
        let id = ptr::out(id)?;
        *id = engine.inner.add_association(config, NtpTimestamp::from_bits(now))?.0;
        Ok(())
    })
}

/// Removes association `id` at `now`; `NTP_RESULT_ENGINE_NO_SUCH_ASSOCIATION`
/// if there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_remove_association(engine: *mut ntp_engine, id: u32, now: ntp_timestamp) -> ntp_result {
    boundary(|| {
        let engine = ptr::out(engine)?;
        engine.inner.remove_association(AssociationId(id), NtpTimestamp::from_bits(now))?;
        Ok(())
    })
}

/// Hands the engine a datagram received at `now` from `from` (`bytes`,
/// `len` bytes, read during the call only). Malformed or unwanted packets
/// are counted and dropped, never an error: the result is an error only
/// for bad arguments.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_handle_datagram(
    engine: *mut ntp_engine,
    now: ntp_timestamp,
    from: *const ntp_sockaddr,
    bytes: *const u8,
    len: usize,
) -> ntp_result {
    boundary(|| {
        let engine = ptr::out(engine)?;
        let from = ptr::read(from)?.to_socket_addr()?;
        let bytes = ptr::slice(bytes, len)?;
        engine.inner.handle_datagram(NtpTimestamp::from_bits(now), from, bytes);
        Ok(())
    })
}

/// Tells the engine its clock reads `now` (call at or after the deadline
/// of the last TIMEOUT output).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_handle_timeout(engine: *mut ntp_engine, now: ntp_timestamp) -> ntp_result {
    boundary(|| {
        ptr::out(engine)?.inner.handle_timeout(NtpTimestamp::from_bits(now));
        Ok(())
    })
}

/// The kind of an `ntp_output`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_output_kind {
    /// Send `len` bytes of the caller's buffer to `destination`.
    Transmit = 1,
    /// Step the clock by `step_seconds` (add it to the current time).
    ClockStep = 2,
    /// Run the clock with frequency correction `frequency_ppm` from now on
    /// (positive: faster). Sent every second while disciplining.
    ClockFrequency = 3,
    /// Something happened: see `event`.
    Event = 4,
    /// Nothing more to do: call `ntp_engine_handle_timeout` at `deadline`
    /// (or earlier, with a datagram). Always the last output of a drain.
    Timeout = 5,
    /// An output this version of the ABI has no code for (the engine is
    /// newer than the header): nothing to do; call `ntp_engine_poll_output`
    /// again.
    Other = 6,
}

/// The kind of an `ntp_event`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_event_kind {
    /// An association was created: `association_id`, `address`, `code` (its
    /// `ntp_association_mode`), `ephemeral`.
    Mobilized = 1,
    /// An association was removed: `association_id`, `address`, `code` (an
    /// `ntp_demobilize_reason`), `kiss_code` when the reason is a KoD.
    Demobilized = 2,
    /// `association_id` answered after silence.
    Reachable = 3,
    /// `association_id` missed eight polls.
    Unreachable = 4,
    /// `association_id` sent a kiss-o'-death `kiss_code`.
    KissOfDeath = 5,
    /// A packet from `address` (for `association_id`, 0 if none) failed
    /// packet test number `code` (1..=7, RFC 5905 figure 22).
    PacketRejected = 6,
    /// The system peer changed from `association_id` to
    /// `other_association_id` (0: none).
    SystemPeerChanged = 7,
    /// `association_id` was rejected as a falseticker.
    FalsetickerRejected = 8,
    /// The clock is synchronized, at `stratum`.
    SyncGained = 9,
    /// No usable source remains.
    SyncLost = 10,
    /// The local reference or orphan mode serves at `stratum`.
    LocalReferenceInUse = 11,
    /// The clock was told to step by `value` seconds.
    ClockStepped = 12,
    /// An offset of `value` seconds beyond the panic threshold was refused.
    PanicOffset = 13,
    /// The announced leap indicator changed to `code` (0..=3).
    LeapChanged = 14,
    /// An event this version of the ABI has no code for (the engine is
    /// newer than the header): log it by kind alone and go on.
    Other = 15,
    /// NTS association `association_id` (RFC 8915) needs keys and cookies:
    /// it was just added, used up its cookies, or its server sent an NTSN
    /// kiss. It sends nothing until NTS-KE (RFC 8915 §4) has run; this ABI
    /// runs no NTS-KE, so a C caller can only report it.
    NtsKeyExchangeNeeded = 16,
}

/// Why an association ended.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_demobilize_reason {
    /// The caller removed it.
    Removed = 1,
    /// An ephemeral association heard nothing for too long.
    Unreachable = 2,
    /// A kiss-o'-death demanded that we stop.
    KissOfDeath = 3,
}

/// An event; which fields mean something depends on `kind` (see
/// `ntp_event_kind`); the others are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ntp_event {
    /// An `ntp_event_kind`.
    pub kind: u32,
    /// The association concerned (0: none).
    pub association_id: u32,
    /// A second association (SYSTEM_PEER_CHANGED: the new peer; 0: none).
    pub other_association_id: u32,
    /// An address (MOBILIZED, DEMOBILIZED, PACKET_REJECTED).
    pub address: ntp_sockaddr,
    /// A small number whose meaning the kind gives (mode, reason, test, leap).
    pub code: u32,
    /// A kiss code's 4 ASCII bytes (KISS_OF_DEATH, DEMOBILIZED by KoD).
    pub kiss_code: [u8; 4],
    /// A stratum (SYNC_GAINED, LOCAL_REFERENCE_IN_USE).
    pub stratum: u8,
    /// Whether a mobilized association was created by an arriving packet.
    pub ephemeral: bool,
    /// Seconds (CLOCK_STEPPED, PANIC_OFFSET).
    pub value: f64,
}

fn event(e: Event) -> ntp_event {
    let mut out = ntp_event::default();
    let kind = match e {
        Event::Mobilized { id, address, mode, ephemeral } => {
            out.association_id = id.0;
            out.address = ntp_sockaddr::from_socket_addr(address);
            out.code = mode_code(mode);
            out.ephemeral = ephemeral;
            ntp_event_kind::Mobilized
        }
        Event::Demobilized { id, address, reason } => {
            out.association_id = id.0;
            out.address = ntp_sockaddr::from_socket_addr(address);
            out.code = match reason {
                DemobilizeReason::Removed => ntp_demobilize_reason::Removed,
                DemobilizeReason::Unreachable => ntp_demobilize_reason::Unreachable,
                DemobilizeReason::KissOfDeath(code) => {
                    out.kiss_code = code.to_bytes();
                    ntp_demobilize_reason::KissOfDeath
                }
            } as u32;
            ntp_event_kind::Demobilized
        }
        Event::Reachable { id } => {
            out.association_id = id.0;
            ntp_event_kind::Reachable
        }
        Event::Unreachable { id } => {
            out.association_id = id.0;
            ntp_event_kind::Unreachable
        }
        Event::KissOfDeath { id, code } => {
            out.association_id = id.0;
            out.kiss_code = code.to_bytes();
            ntp_event_kind::KissOfDeath
        }
        Event::PacketRejected { source, id, test } => {
            out.address = ntp_sockaddr::from_socket_addr(source);
            out.association_id = id.map_or(0, |id| id.0);
            out.code = u32::try_from(test.number()).unwrap_or(0);
            ntp_event_kind::PacketRejected
        }
        Event::SystemPeerChanged { from, to } => {
            out.association_id = from.map_or(0, |id| id.0);
            out.other_association_id = to.map_or(0, |id| id.0);
            ntp_event_kind::SystemPeerChanged
        }
        Event::FalsetickerRejected { id } => {
            out.association_id = id.0;
            ntp_event_kind::FalsetickerRejected
        }
        Event::SyncGained { stratum } => {
            out.stratum = stratum;
            ntp_event_kind::SyncGained
        }
        Event::SyncLost => ntp_event_kind::SyncLost,
        Event::LocalReferenceInUse { stratum } => {
            out.stratum = stratum;
            ntp_event_kind::LocalReferenceInUse
        }
        Event::ClockStepped { offset } => {
            out.value = offset;
            ntp_event_kind::ClockStepped
        }
        Event::PanicOffset { offset } => {
            out.value = offset;
            ntp_event_kind::PanicOffset
        }
        Event::LeapChanged { leap } => {
            out.code = u32::from(leap.to_bits());
            ntp_event_kind::LeapChanged
        }
        Event::NtsKeyExchangeNeeded { id } => {
            out.association_id = id.0;
            ntp_event_kind::NtsKeyExchangeNeeded
        }
        _ => ntp_event_kind::Other,
    };
    out.kind = kind as u32;
    out
}

/// One output of the engine; which fields mean something depends on
/// `kind` (an `ntp_output_kind`), the others are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ntp_output {
    /// An `ntp_output_kind`.
    pub kind: u32,
    /// TRANSMIT: where to send.
    pub destination: ntp_sockaddr,
    /// TRANSMIT: bytes written at the start of the caller's buffer.
    pub len: usize,
    /// TIMEOUT: when to call `ntp_engine_handle_timeout`.
    pub deadline: ntp_timestamp,
    /// CLOCK_STEP: seconds to add to the clock.
    pub step_seconds: f64,
    /// CLOCK_FREQUENCY: frequency correction, ppm.
    pub frequency_ppm: f64,
    /// EVENT: the event.
    pub event: ntp_event,
}

impl ntp_output {
    /// Every field zero, as the fields a kind does not use must be.
    const EMPTY: ntp_output = ntp_output {
        kind: 0,
        destination: ntp_sockaddr::NONE,
        len: 0,
        deadline: 0,
        step_seconds: 0.0,
        frequency_ppm: 0.0,
        event: ntp_event {
            kind: 0,
            association_id: 0,
            other_association_id: 0,
            address: ntp_sockaddr::NONE,
            code: 0,
            kiss_code: [0; 4],
            stratum: 0,
            ephemeral: false,
            value: 0.0,
        },
    };
}

/// Takes the next output of the engine into `out`; a TRANSMIT's datagram
/// is copied into the caller's `buf` (`buf_len` bytes, which must be at
/// least `NTP_MAX_DATAGRAM`, checked before anything is taken so no output
/// is lost). Call until the kind is TIMEOUT.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_poll_output(
    engine: *mut ntp_engine,
    out: *mut ntp_output,
    buf: *mut u8,
    buf_len: usize,
) -> ntp_result {
    boundary(|| {
        let engine = ptr::out(engine)?;
        let out = ptr::out(out)?;
        let buf = ptr::slice_mut(buf, buf_len)?;
        if buf.len() < NTP_MAX_DATAGRAM {
            return Err(ntp_result::InsufficientSize);
        }
        // Matched by reference: moving the transmit out of the output would
        // copy its whole 512-byte buffer once more per datagram.
        let output = engine.inner.poll_output();
        // The payload first: the one step that could fail (it cannot, the
        // buffer was checked), before anything of `out` is written.
        if let Output::Transmit(t) = &output {
            let payload = t.payload();
            buf.get_mut(..payload.len()).ok_or(ntp_result::InsufficientSize)?.copy_from_slice(payload);
        }
        // Zeroed as a whole, then the kind's few fields: a struct built per
        // arm and copied out was stored field by field, 35 stores, the
        // larger part of this call's own cost.
        *out = ntp_output::EMPTY;
        out.kind = match &output {
            Output::Transmit(t) => {
                out.destination = ntp_sockaddr::from_socket_addr(t.destination);
                out.len = t.payload().len();
                ntp_output_kind::Transmit
            }
            Output::Clock(ClockAction::Step { offset }) => {
                out.step_seconds = *offset;
                ntp_output_kind::ClockStep
            }
            Output::Clock(ClockAction::SetFrequency { ppm }) => {
                out.frequency_ppm = *ppm;
                ntp_output_kind::ClockFrequency
            }
            Output::Event(e) => {
                out.event = event(*e);
                ntp_output_kind::Event
            }
            Output::Timeout(at) => {
                out.deadline = at.to_bits();
                ntp_output_kind::Timeout
            }
            _ => ntp_output_kind::Other,
        } as u32;
        Ok(())
    })
}

/// What the system is synchronized to.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_sync_source {
    /// Nothing: unsynchronized.
    None = 0,
    /// An association (the system peer).
    Peer = 1,
    /// The local clock as configured reference (`master_stratum`).
    LocalReference = 2,
    /// Orphan mode, as leader of the orphan group.
    Orphan = 3,
}

/// The clock discipline's state (RFC 5905 appendix A.5.5.1).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_clock_state {
    /// No update yet, no saved frequency.
    Nset = 0,
    /// No update yet, frequency from a saved value.
    Fset = 1,
    /// A step-sized offset is being waited out.
    Spik = 2,
    /// Measuring the frequency.
    Freq = 3,
    /// Normal operation.
    Sync = 4,
}

/// How the selection last judged an association.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_selection {
    /// Not fit (unreachable, unsynchronized, too far, a loop).
    Rejected = 0,
    /// Dropped by the intersection algorithm.
    Falseticker = 1,
    /// Dropped by the cluster algorithm.
    Outlier = 2,
    /// Survivor, combined into the offset.
    Candidate = 3,
    /// The system peer.
    SystemPeer = 4,
}

/// The system variables (RFC 5905 section 11 / the NTPv4 MIB's system group).
/// Seconds are `double`; unknown values are NaN.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ntp_system_status {
    /// Whether the clock is synchronized.
    pub synchronized: bool,
    /// An `ntp_sync_source`.
    pub source: u32,
    /// The system peer's association id (0: none).
    pub system_peer_id: u32,
    /// The system peer's address (family 0: none).
    pub system_peer: ntp_sockaddr,
    /// Our stratum (16: unsynchronized).
    pub stratum: u8,
    /// Precision, log2 seconds.
    pub precision: i8,
    /// Leap indicator we announce, 0..=3.
    pub leap: u8,
    /// System poll interval, log2 seconds.
    pub poll: i8,
    /// Root delay, seconds.
    pub root_delay: f64,
    /// Root dispersion now, seconds.
    pub root_dispersion: f64,
    /// Reference id, the 4 wire bytes.
    pub reference_id: [u8; 4],
    /// Time of the last clock update.
    pub reference_time: ntp_timestamp,
    /// The clock reading the snapshot was taken at.
    pub clock: ntp_timestamp,
    /// Last combined offset, seconds.
    pub offset: f64,
    /// Frequency correction, ppm.
    pub frequency_ppm: f64,
    /// System jitter, seconds.
    pub jitter: f64,
    /// An `ntp_clock_state`.
    pub clock_state: u32,
    /// Seconds since the last clock update; NaN when unsynchronized.
    pub since_update: f64,
    /// Whether the engine answers NTS requests (RFC 8915 §5), as an
    /// `ntsservercert`/`nts enable` configuration asks.
    pub nts_server: bool,
    /// The id of the NTS master key that seals new cookies (0 when
    /// `nts_server` is false).
    pub nts_master_key_id: u32,
}

fn system_status(s: &SystemStatus) -> ntp_system_status {
    ntp_system_status {
        synchronized: s.synchronized,
        source: (match s.source {
            SyncSource::None => ntp_sync_source::None,
            SyncSource::Peer(_) => ntp_sync_source::Peer,
            SyncSource::LocalReference => ntp_sync_source::LocalReference,
            SyncSource::Orphan => ntp_sync_source::Orphan,
        }) as u32,
        system_peer_id: s.system_peer_id.map_or(0, |id| id.0),
        system_peer: s.system_peer.map_or(ntp_sockaddr::NONE, ntp_sockaddr::from_socket_addr),
        stratum: s.stratum,
        precision: s.precision,
        leap: s.leap.to_bits(),
        poll: s.poll,
        root_delay: s.root_delay,
        root_dispersion: s.root_dispersion,
        reference_id: s.reference_id.0,
        reference_time: s.reference_time.to_bits(),
        clock: s.clock.to_bits(),
        offset: s.offset,
        frequency_ppm: s.frequency_ppm,
        jitter: s.jitter,
        clock_state: (match s.clock_state {
            ClockState::Nset => ntp_clock_state::Nset,
            ClockState::Fset => ntp_clock_state::Fset,
            ClockState::Spik => ntp_clock_state::Spik,
            ClockState::Freq => ntp_clock_state::Freq,
            ClockState::Sync => ntp_clock_state::Sync,
        }) as u32,
        since_update: s.since_update.unwrap_or(f64::NAN),
        nts_server: s.nts_server,
        nts_master_key_id: s.nts_master_key_id.unwrap_or(0),
    }
}

/// Writes the system status at `now` to `out`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_system_status(
    engine: *const ntp_engine,
    now: ntp_timestamp,
    out: *mut ntp_system_status,
) -> ntp_result {
    boundary(|| {
        let engine = ptr::read(engine)?;
        let out = ptr::out(out)?;
        *out = system_status(&engine.inner.system_status(NtpTimestamp::from_bits(now)));
        Ok(())
    })
}

/// One association's variables (the NTPv4 MIB's association group).
/// Seconds are `double`; unknown values (no sample yet) are NaN.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ntp_peer_status {
    /// Association id.
    pub id: u32,
    /// Configured (true) or created by an arriving packet (false).
    pub configured: bool,
    /// An `ntp_association_mode`.
    pub mode: u32,
    /// Remote address.
    pub address: ntp_sockaddr,
    /// The remote's stratum.
    pub stratum: u8,
    /// Reachability register (8 bits, newest poll in bit 0).
    pub reach: u8,
    /// Poll interval, log2 seconds.
    pub poll: i8,
    /// The remote's root delay, seconds.
    pub root_delay: f64,
    /// The remote's root dispersion, seconds.
    pub root_dispersion: f64,
    /// The remote's reference id, 4 wire bytes.
    pub reference_id: [u8; 4],
    /// The remote's reference time.
    pub reference_time: ntp_timestamp,
    /// Offset of the remote's clock from ours, seconds (NaN: none yet).
    pub offset: f64,
    /// Round-trip delay, seconds (NaN: none yet).
    pub delay: f64,
    /// Dispersion, seconds (NaN: none yet).
    pub dispersion: f64,
    /// Jitter, seconds (NaN: none yet).
    pub jitter: f64,
    /// Seconds since the last sample (NaN: none yet).
    pub since_sample: f64,
    /// An `ntp_selection`.
    pub selection: u32,
    /// Whether it authenticates with NTS (RFC 8915).
    pub nts: bool,
    /// NTS cookies it holds (0 without NTS or while waiting for NTS-KE).
    pub nts_cookies: u32,
}

fn peer_status(p: &PeerStatus) -> ntp_peer_status {
    let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    ntp_peer_status {
        id: p.id.0,
        configured: p.configured,
        mode: mode_code(p.mode),
        address: ntp_sockaddr::from_socket_addr(p.address),
        stratum: p.stratum,
        reach: p.reach,
        poll: p.poll,
        root_delay: p.root_delay,
        root_dispersion: p.root_dispersion,
        reference_id: p.reference_id.0,
        reference_time: p.reference_time.to_bits(),
        offset: nan(p.offset),
        delay: nan(p.delay),
        dispersion: nan(p.dispersion),
        jitter: nan(p.jitter),
        since_sample: nan(p.since_sample),
        selection: (match p.selection {
            SelectionStatus::Rejected => ntp_selection::Rejected,
            SelectionStatus::Falseticker => ntp_selection::Falseticker,
            SelectionStatus::Outlier => ntp_selection::Outlier,
            SelectionStatus::Candidate => ntp_selection::Candidate,
            SelectionStatus::SystemPeer => ntp_selection::SystemPeer,
        }) as u32,
        nts: p.nts,
        nts_cookies: u32::try_from(p.nts_cookies).unwrap_or(u32::MAX),
    }
}

/// Writes the number of associations to `count` (to size the array for
/// `ntp_engine_peer_status`).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_association_count(engine: *const ntp_engine, count: *mut usize) -> ntp_result {
    boundary(|| {
        let engine = ptr::read(engine)?;
        *ptr::out(count)? = engine.inner.associations().count();
        Ok(())
    })
}

/// Fills the caller's array `out` (`capacity` entries) with every
/// association's status at `now` and writes how many to `count`.
/// `NTP_RESULT_INSUFFICIENT_SIZE` (nothing written) if `capacity` is below
/// the number of associations (see `ntp_engine_association_count`).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_peer_status(
    engine: *const ntp_engine,
    now: ntp_timestamp,
    out: *mut ntp_peer_status,
    capacity: usize,
    count: *mut usize,
) -> ntp_result {
    boundary(|| {
        let engine = ptr::read(engine)?;
        let out = ptr::slice_mut(out, capacity)?;
        let count = ptr::out(count)?;
        let peers = engine.inner.peer_status(NtpTimestamp::from_bits(now));
        let dst = out.get_mut(..peers.len()).ok_or(ntp_result::InsufficientSize)?;
        for (d, p) in dst.iter_mut().zip(&peers) {
            *d = peer_status(p);
        }
        *count = peers.len();
        Ok(())
    })
}

/// The engine's packet counters since it was created (all monotonic), as
/// the NTPv4 MIB and ntpd's `sysstats` report them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ntp_counters {
    /// Datagrams handed to the engine.
    pub received: u64,
    /// Datagrams that were not well-formed NTP packets.
    pub malformed: u64,
    /// Packets with a version other than 1..=4.
    pub bad_version: u64,
    /// Packets of a mode the engine does not handle, or discarded by dispatch.
    pub discarded: u64,
    /// Packets refused by access control: dropped at the door, or requests
    /// the server refused to answer.
    pub access_denied: u64,
    /// Packets that failed authentication or lacked a required MAC: replies
    /// to our associations, and requests the server refused to answer.
    pub auth_failed: u64,
    /// Crypto-NAKs received.
    pub crypto_nak: u64,
    /// Symmetric active packets refused a passive association.
    pub peer_refused: u64,
    /// Packets rejected by each packet test (RFC 5905 figure 22), index = test number - 1.
    pub rejected_by_test: [u64; 7],
    /// Kiss-o'-death packets accepted.
    pub kod_received: u64,
    /// Client requests answered.
    pub replies_sent: u64,
    /// Kiss-o'-death RATE replies sent.
    pub kod_sent: u64,
    /// Requests dropped by the rate limiter.
    pub rate_dropped: u64,
    /// Polls sent by associations.
    pub polls_sent: u64,
    /// Events dropped because the caller did not drain them.
    pub events_dropped: u64,
    /// Datagrams dropped because the caller did not drain them.
    pub transmits_dropped: u64,
    /// Replies to NTS associations refused by NTS (RFC 8915 §5.7: no or a
    /// bad authenticator, or not our request's unique identifier); also
    /// counted in `auth_failed`.
    pub nts_rejected: u64,
    /// NTSN kisses received and honoured.
    pub nts_naks: u64,
    /// NTS polls not sent for want of a cookie.
    pub nts_unsent: u64,
    /// NTS requests answered (also in `replies_sent`).
    pub nts_replies: u64,
    /// NTSN kisses sent: a request's cookie no master key opens.
    pub nts_naks_sent: u64,
    /// NTS requests dropped: malformed, unauthenticated, or NTS service off.
    pub nts_dropped: u64,
}

/// Writes the engine's counters to `out`.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_counters(engine: *const ntp_engine, out: *mut ntp_counters) -> ntp_result {
    boundary(|| {
        let engine = ptr::read(engine)?;
        let c = engine.inner.counters();
        let served = engine.inner.responder().counters();
        *ptr::out(out)? = ntp_counters {
            received: c.received,
            malformed: c.malformed,
            bad_version: c.bad_version,
            discarded: c.discarded,
            // The engine counts what reaches its associations, the responder
            // what it refused to answer; the two sets are disjoint.
            access_denied: c.access_denied + served.access_denied,
            auth_failed: c.auth_failed + served.auth_failed,
            crypto_nak: c.crypto_nak,
            peer_refused: c.peer_refused,
            rejected_by_test: c.rejected_by_test,
            kod_received: c.kod_received,
            replies_sent: served.replies,
            kod_sent: served.kod_sent,
            rate_dropped: served.rate_dropped,
            polls_sent: c.polls_sent,
            events_dropped: c.events_dropped,
            transmits_dropped: c.transmits_dropped,
            nts_rejected: c.nts_rejected,
            nts_naks: c.nts_naks,
            nts_unsent: c.nts_unsent,
            nts_replies: served.nts_replies,
            nts_naks_sent: served.nts_naks,
            nts_dropped: served.nts_dropped,
        };
        Ok(())
    })
}

/// The operator text views.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_text_view {
    /// Cisco IOS `show ntp status`.
    CiscoStatus = 1,
    /// Cisco IOS `show ntp associations`.
    CiscoAssociations = 2,
    /// Huawei VRP `display ntp status`.
    HuaweiStatus = 3,
    /// ntpq `peers` (`-p`).
    NtpqPeers = 4,
}

/// Renders text view `view` (an `ntp_text_view`) at `now` into the caller's
/// `buf` (`len` bytes) as a NUL-terminated string, and writes its length
/// without the NUL to `written`. `NTP_RESULT_INSUFFICIENT_SIZE` if it does
/// not fit (a few hundred bytes plus ~100 per association suffice).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_text_view(
    engine: *const ntp_engine,
    now: ntp_timestamp,
    view: u32,
    buf: *mut std::ffi::c_char,
    len: usize,
    written: *mut usize,
) -> ntp_result {
    boundary(|| {
        let engine = ptr::read(engine)?;
        let buf = ptr::slice_mut(buf.cast::<u8>(), len)?;
        let written = ptr::out(written)?;
        let now = NtpTimestamp::from_bits(now);
        let system = || SystemSnapshot::from_status(&engine.inner.system_status(now));
        let peers = || engine.inner.peer_status(now).iter().map(AssociationSnapshot::from_status).collect::<Vec<_>>();
        let text = match view {
            1 => cisco_show_ntp_status(&system()),
            2 => cisco_show_ntp_associations(&peers()),
            3 => {
                let status = engine.inner.system_status(now);
                let peer_dispersion = status
                    .system_peer_id
                    .and_then(|id| engine.inner.peer_status(now).into_iter().find(|p| p.id == id))
                    .and_then(|p| p.dispersion);
                huawei_display_ntp_status(&system(), peer_dispersion)
            }
            4 => ntpq_peers(&peers()),
            _ => return Err(ntp_result::InvalidParameter),
        };
        *written = ptr::write_c_string(buf, &text)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ntp_timestamp_add_seconds;
    use std::ptr::{null, null_mut};

    fn ts(unix: i64) -> ntp_timestamp {
        NtpTimestamp::from_unix(unix, 0).to_bits()
    }

    fn sa(s: &str) -> ntp_sockaddr {
        ntp_sockaddr::from_socket_addr(s.parse().unwrap())
    }

    /// Drains one engine, delivering transmits to the other; returns the
    /// kinds seen.
    fn drain(from: *mut ntp_engine, from_addr: ntp_sockaddr, to: *mut ntp_engine, now: ntp_timestamp) -> Vec<u32> {
        let mut kinds = Vec::new();
        let mut buf = [0u8; NTP_MAX_DATAGRAM];
        loop {
            let mut o = ntp_output::default();
            assert_eq!(ntp_engine_poll_output(from, &mut o, buf.as_mut_ptr(), buf.len()), ntp_result::Ok);
            kinds.push(o.kind);
            if o.kind == ntp_output_kind::Timeout as u32 {
                return kinds;
            }
            if o.kind == ntp_output_kind::Transmit as u32 && !to.is_null() {
                assert_eq!(ntp_engine_handle_datagram(to, now, &from_addr, buf.as_ptr(), o.len), ntp_result::Ok);
            }
        }
    }

    #[test]
    fn client_synchronizes_to_server_through_the_abi() {
        let t0 = ts(1_795_219_200);
        let mut opts = unsafe_init_options();
        opts.master_stratum = 1;
        let (mut server, mut client) = (null_mut(), null_mut());
        assert_eq!(ntp_engine_new(&opts, null(), t0, &mut server), ntp_result::Ok);
        assert_eq!(ntp_engine_new(null(), null(), t0, &mut client), ntp_result::Ok);
        let (server_addr, client_addr) = (sa("192.0.2.1:123"), sa("192.0.2.2:123"));
        let mut cfg = ntp_association_config {
            mode: 0,
            address: ntp_sockaddr::NONE,
            key_id: 0,
            minpoll: 0,
            maxpoll: 0,
            iburst: false,
            burst: false,
            prefer: false,
        };
        assert_eq!(ntp_association_config_init(&mut cfg), ntp_result::Ok);
        cfg.address = server_addr;
        cfg.iburst = true;
        let mut id = 0;
        assert_eq!(ntp_engine_add_association(client, &cfg, t0, &mut id), ntp_result::Ok);
        assert_ne!(id, 0);
        let mut again = 0;
        assert_eq!(ntp_engine_add_association(client, &cfg, t0, &mut again), ntp_result::ConfigDuplicateAssociation);
        let mut t = t0;
        for _ in 0..40 {
            assert_eq!(ntp_engine_handle_timeout(client, t), ntp_result::Ok);
            let mut buf = [0u8; NTP_MAX_DATAGRAM];
            loop {
                let mut o = ntp_output::default();
                assert_eq!(ntp_engine_poll_output(client, &mut o, buf.as_mut_ptr(), buf.len()), ntp_result::Ok);
                if o.kind == ntp_output_kind::Timeout as u32 {
                    break;
                }
                if o.kind == ntp_output_kind::Transmit as u32 {
                    assert_eq!(o.destination, server_addr);
                    assert_eq!(
                        ntp_engine_handle_datagram(server, t, &client_addr, buf.as_ptr(), o.len),
                        ntp_result::Ok
                    );
                    drain(server, server_addr, client, t);
                }
            }
            ntp_timestamp_add_seconds(t, 0.5, &mut t);
        }
        let mut s = ntp_system_status::default();
        assert_eq!(ntp_engine_system_status(client, t, &mut s), ntp_result::Ok);
        assert!(s.synchronized);
        assert_eq!(s.stratum, 2);
        assert_eq!(s.system_peer_id, id);
        assert_eq!(s.system_peer, server_addr);
        let mut n = 0;
        assert_eq!(ntp_engine_association_count(client, &mut n), ntp_result::Ok);
        assert_eq!(n, 1);
        let mut peers = [ntp_peer_status::default(); 1];
        assert_eq!(ntp_engine_peer_status(client, t, peers.as_mut_ptr(), 0, &mut n), ntp_result::InsufficientSize);
        assert_eq!(ntp_engine_peer_status(client, t, peers.as_mut_ptr(), 1, &mut n), ntp_result::Ok);
        assert_eq!(peers[0].selection, ntp_selection::SystemPeer as u32);
        assert!(peers[0].offset.abs() < 1e-6);
        let mut text = [0 as std::ffi::c_char; 2048];
        for view in 1..=4 {
            assert_eq!(ntp_engine_text_view(client, t, view, text.as_mut_ptr(), text.len(), &mut n), ntp_result::Ok);
            assert!(n > 0);
        }
        assert_eq!(ntp_engine_text_view(client, t, 1, text.as_mut_ptr(), 8, &mut n), ntp_result::InsufficientSize);
        let mut counters = ntp_counters::default();
        assert_eq!(ntp_engine_counters(server, &mut counters), ntp_result::Ok);
        assert!(counters.received > 0);
        assert_eq!(counters.replies_sent, counters.received);
        assert_eq!(ntp_engine_counters(server, null_mut()), ntp_result::NullParameter);
        assert_eq!(ntp_engine_remove_association(client, id, t), ntp_result::Ok);
        assert_eq!(ntp_engine_remove_association(client, id, t), ntp_result::EngineNoSuchAssociation);
        ntp_engine_free(client);
        ntp_engine_free(server);
        ntp_engine_free(null_mut());
    }

    fn unsafe_init_options() -> ntp_engine_options {
        let mut o = std::mem::MaybeUninit::<ntp_engine_options>::zeroed();
        assert_eq!(ntp_engine_options_init(o.as_mut_ptr()), ntp_result::Ok);
        // SAFETY: initialized by ntp_engine_options_init just above.
        unsafe { o.assume_init() }
    }

    #[test]
    fn misuse_is_refused() {
        let mut opts = unsafe_init_options();
        let mut e = null_mut();
        opts.struct_size -= 1;
        assert_eq!(ntp_engine_new(&opts, null(), 0, &mut e), ntp_result::StructSizeMismatch);
        assert!(e.is_null());
        assert_eq!(ntp_engine_new(null(), null(), 0, &mut e), ntp_result::Ok);
        let mut o = ntp_output::default();
        let mut small = [0u8; 16];
        assert_eq!(ntp_engine_poll_output(e, &mut o, small.as_mut_ptr(), small.len()), ntp_result::InsufficientSize);
        let bad_from = ntp_sockaddr { family: 9, ..ntp_sockaddr::NONE };
        assert_eq!(ntp_engine_handle_datagram(e, 0, &bad_from, small.as_ptr(), 16), ntp_result::InvalidParameter);
        assert_eq!(ntp_engine_handle_datagram(e, 0, &sa("192.0.2.9:1"), null(), 16), ntp_result::NullParameter);
        let mut cfg = ntp_association_config {
            mode: 3,
            address: sa("192.0.2.1:123"),
            key_id: 0,
            minpoll: 6,
            maxpoll: 10,
            iburst: false,
            burst: false,
            prefer: false,
        };
        let mut id = 0;
        assert_eq!(ntp_engine_add_association(e, &cfg, 0, &mut id), ntp_result::InvalidParameter);
        cfg.mode = 1;
        cfg.key_id = 5;
        assert_eq!(ntp_engine_add_association(e, &cfg, 0, &mut id), ntp_result::ConfigUnknownKey);
        cfg.key_id = 0;
        cfg.minpoll = 12;
        assert_eq!(ntp_engine_add_association(e, &cfg, 0, &mut id), ntp_result::ConfigPollOrder);
        assert_eq!(id, 0);
        assert_eq!(ntp_engine_text_view(e, 0, 99, null_mut(), 0, &mut 0), ntp_result::InvalidParameter);
        ntp_engine_free(e);
    }
}
