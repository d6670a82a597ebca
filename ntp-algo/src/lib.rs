//! # ntp-algo
//!
//! The NTP protocol engine (RFC 5905), sans-IO: it opens no socket, reads
//! no clock, sleeps on nothing and spawns no thread. The caller passes its
//! clock's reading with every input and drains what to do afterwards:
//! datagrams to send, the next deadline, clock actions and events.
//!
//! ```
//! use ntp_algo::{AssociationConfig, Engine, EngineConfig, Output};
//! use ntp_wire::auth::Keyring;
//! use ntp_wire::{NtpDuration, NtpTimestamp};
//!
//! let now = NtpTimestamp::from_unix(1_795_219_200, 0);
//! let server_addr = "192.0.2.1:123".parse().unwrap();
//! let client_addr = "192.0.2.2:123".parse().unwrap();
//!
//! // A stratum-1 server (its own clock as reference) and a client of it.
//! let mut server = Engine::new(EngineConfig::default().with_local_reference(1), Keyring::new(), now);
//! let mut client = Engine::new(EngineConfig::default(), Keyring::new(), now);
//! client.add_association(AssociationConfig::client(server_addr).with_iburst(true), now)?;
//!
//! // Ten seconds of network life: deliver every datagram at once.
//! let mut t = now;
//! for _ in 0..20 {
//!     client.handle_timeout(t);
//!     while let Output::Transmit(request) = client.poll_output() {
//!         server.handle_datagram(t, client_addr, request.payload());
//!         while let Output::Transmit(reply) = server.poll_output() {
//!             client.handle_datagram(t, server_addr, reply.payload());
//!         }
//!     }
//!     t += NtpDuration::from_seconds_f64(0.5);
//! }
//! assert!(client.system().is_synchronized());
//! assert_eq!(client.system().stratum, 2);
//! # Ok::<(), ntp_algo::ConfigError>(())
//! ```
//!
//! ## The pieces
//!
//! The modules are private; everything public is re-exported here. Besides
//! the [`Engine`], each piece can be used alone, so a daemon can take one
//! part without the rest:
//!
//! | piece | what it does | RFC 5905 |
//! |---|---|---|
//! | [`Engine`] | one node: dispatch, associations, system process, outputs | §8–§13 |
//! | [`ClockFilter`] | the 8-stage clock filter with the popcorn spike suppressor | §10 |
//! | [`Selector`] | intersection, cluster, combine, the system-peer rules | §11.2 |
//! | [`Discipline`] | the hybrid PLL/FLL clock discipline | §11.3 |
//! | [`LeapSecondsList`] | IERS leap-seconds.list, and manual leap commands | §7.3 (leap) |
//! | [`Responder`] | the stateless server | §9.2 |
//! | [`AccessList`] | access classes per address or prefix | — |
//! | [`RateLimiter`] | per-source rate limiting with bounded state, KoD RATE | §7.4 |
//! | [`NtsClient`], [`MasterKeys`], [`nts_check_request`] | Network Time Security (RFC 8915): cookies, requests, replies (the [`Engine`] uses them for associations `with_nts` and with [`NtsServerConfig`]) | — |
//! | [`ControlClient`] | a sans-IO mode 6 client (`ntpq`'s requests, reassembly, typed variables) | RFC 9327 |
//! | [`MruWalk`] | the `ntpq -c mrulist` walk over a [`ControlClient`]: nonce, READ_MRU cursor, restarts | ntpd `mrulist` |
//!
//! The engine's status snapshots ([`SystemStatus`], [`PeerStatus`]) are
//! plain data; the runtime crate `ntp-node` renders them in the vendors'
//! text formats.
//!
//! ## Time and units
//!
//! The engine speaks one time type: [`ntp_wire::NtpTimestamp`], the caller's
//! clock reading, on every input and output (deadlines, status times).
//! Inside, it keeps a continuous `f64` timeline of seconds since it
//! started; that never crosses its boundary. Values are plain numbers with
//! their unit in the docs: offsets, delays, dispersions and jitters are
//! `f64` seconds; frequencies ppm; poll intervals and precisions log2
//! seconds. The pieces used alone ([`ClockFilter`], [`Selector`],
//! [`Discipline`], [`RateLimiter`]) take times as `f64` seconds on the
//! caller's own monotonic timeline, since they never see a packet.
//!
//! Where this crate departs from RFC 5905 or the reference implementation,
//! the module that does it says so and why.
//!
//! ## Cargo features
//!
//! * `__internal-test-api` (off by default, not covered by semver): hooks
//!   that this repository's fuzz targets and integration tests use to look
//!   at the engine's internal timeline and at helpers of the leap module.
//!   Applications must not enable it.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

mod access;
mod association;
mod constants;
mod control;
mod control_client;
mod control_mru;
mod control_mru_client;
#[cfg(test)]
mod control_tests;
mod control_vars;
mod discipline;
mod engine;
mod events;
mod filter;
mod ids;
mod leap;
mod nts;
mod onwire;
mod ratelimit;
mod select;
mod server;
mod status;
mod system;
mod table;

// The engine and what goes in and out of it.
pub use association::{Association, AssociationConfig, AssociationCounters, CALIBRATION_EXCHANGES, ConfigError};
pub use control::{ControlConfig, ControlCounters};
pub use control_client::{
    ClientError, ClientEvent, ControlClient, ControlResponse, FIRST_FRAGMENT_TIMEOUT, NEXT_FRAGMENT_TIMEOUT, PeerVars,
    SystemVars, parse_association_list, parse_timestamp,
};
pub use control_mru_client::{
    MRU_CURSOR, MRU_DEFAULT_MAX_ROWS, MRU_FRAGMENTS, MRU_MAX_REQUESTS, MRU_MAX_RESTARTS, MRU_NONCE_STALE_AFTER,
    MruEntry, MruError, MruStep, MruWalk,
};
pub use engine::{ClockAction, Engine, EngineConfig, MAX_DATAGRAM, Output, TRANSMIT_QUEUE_LIMIT, Transmit};
pub use events::{Counters, DemobilizeReason, EVENT_QUEUE_LIMIT, Event};
pub use ids::{AssociationId, AssociationMode, PacketTest};
pub use status::{PeerStatus, SystemStatus};
pub use system::{SelectionStatus, SyncSource, SystemVariables};

// The pieces usable alone.
pub use access::{AccessClass, AccessClassError, AccessList, Prefix, PrefixError};
pub use discipline::{ClockState, Discipline, DisciplineConfig, DisciplineResult};
pub use filter::{ClockFilter, FilterOutput, FilterParams, FilterSample, FilterVerdict};
pub use leap::{LeapCommand, LeapCommandError, LeapEntry, LeapFileError, LeapHash, LeapSecondsList};
pub use nts::{
    CookieJar, MasterKeys, NTS_COOKIE_LEN, NTS_EXPORTER_LABEL, NTS_JAR_CAPACITY, NTS_KISS_NTSN, NTS_MAX_COOKIE_LEN,
    NTS_MAX_MASTER_KEYS, NTS_NONCE_LEN, NTS_UNIQUE_ID_LEN, NtsClient, NtsCookieError, NtsError, NtsKeAnswer,
    NtsKeError, NtsKeResponse, NtsKeServerConfig, NtsKeyDirection, NtsKeys, NtsRequest, NtsRequestCheck,
    NtsResponseCheck, NtsServerConfig, OsRandom, RandomSource, nts_check_request, nts_exporter_context, nts_ke_answer,
    nts_ke_limits, nts_ke_read_response, nts_ke_scan, nts_ke_write_error, nts_ke_write_request, nts_write_nak,
    nts_write_response,
};
// NTS-KE over TLS 1.3 (rustls, sans-IO).
#[cfg(feature = "tls")]
pub use nts::{
    NTS_KE_ALPN, NTS_KE_PORT, NtsKeClient, NtsKeOutcome, NtsKeRequest, NtsKeServer, NtsTlsError, nts_ke_client_config,
    nts_ke_server_config, nts_ke_server_config_from_pem, nts_ke_trust_roots, nts_ke_trust_roots_from_pem,
};
pub use ratelimit::{RateDecision, RateLimitConfig, RateLimiter};
pub use select::{Candidate, Outcome as SelectOutcome, SelectConfig, SelectError, Selector};
pub use server::{DropReason, MAX_REPLY_LEN, Request, Responder, ResponderConfig, ResponderCounters, Response};

/// Hooks for this repository's fuzz targets and integration tests. Not
/// part of the API: enabled only by the `__internal-test-api` feature and
/// free to change in any release.
#[cfg(feature = "__internal-test-api")]
#[doc(hidden)]
pub mod test_api {
    use ntp_wire::NtpDate;

    use crate::{LeapCommand, LeapCommandError};

    /// The manual leap command's acceptance rule (see `Engine::leap_command`).
    pub fn check_leap_command(
        command: LeapCommand,
        leap_at: NtpDate,
        now: NtpDate,
        synchronized: bool,
    ) -> Result<(), LeapCommandError> {
        crate::leap::check_leap_command(command, leap_at, now, synchronized)
    }

    /// The first instant of the month after `now`'s.
    pub fn end_of_month(now: NtpDate) -> NtpDate {
        crate::leap::end_of_month(now)
    }
}
