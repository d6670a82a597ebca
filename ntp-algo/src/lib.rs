//! # ntp-algo
//!
//! The NTP protocol engine (RFC 5905), sans-IO: it opens no socket, reads
//! no clock, sleeps on nothing and spawns no thread. The caller passes its
//! clock's reading with every input and drains what to do afterwards:
//! datagrams to send, the next deadline, clock actions and events.
//!
//! ```
//! use ntp_algo::association::AssociationConfig;
//! use ntp_algo::engine::{Engine, EngineConfig, Output};
//! use ntp_wire::auth::Keyring;
//! use ntp_wire::{NtpDuration, NtpTimestamp};
//!
//! let now = NtpTimestamp::from_unix(1_795_219_200, 0);
//! let server_addr = "192.0.2.1:123".parse().unwrap();
//! let client_addr = "192.0.2.2:123".parse().unwrap();
//!
//! // A stratum-1 server (its own clock as reference) and a client of it.
//! let mut server = Engine::new(
//!     EngineConfig { local_reference_stratum: Some(1), ..EngineConfig::default() },
//!     Keyring::new(),
//!     now,
//! );
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
//! # Ok::<(), ntp_algo::association::ConfigError>(())
//! ```
//!
//! ## The pieces
//!
//! Each module can be used alone, so a daemon can take one part without the
//! rest:
//!
//! | module | what it does |
//! |---|---|
//! | [`engine`] | one node: dispatch, associations, system process, outputs |
//! | [`association`] | the peer and poll processes of one remote, packet tests 1–7, KoD |
//! | [`onwire`] | offset, delay and dispersion from the four timestamps |
//! | [`filter`] | the 8-stage clock filter with the popcorn spike suppressor |
//! | [`select`] | intersection, cluster, combine, the system-peer rules |
//! | [`discipline`] | the hybrid PLL/FLL clock discipline |
//! | [`leap`] | leap-seconds.list, the survivors' vote, manual add/delete rules |
//! | [`access`] | access classes per address or prefix |
//! | [`ratelimit`] | per-source rate limiting with bounded state |
//! | [`server`] | the stateless server responder |
//! | [`system`] | the system variables |
//! | [`status`] | monitoring data and Cisco/Huawei/ntpq text views |
//! | [`events`] | events and counters |
//! | [`sim`] | a deterministic network simulator running real engines |
//! | [`scenarios`] | the seed documents' topologies, built in the simulator |
//! | [`constants`] | protocol constants and defaults |
//!
//! Units: times and offsets are `f64` seconds inside the algorithms (and on
//! the engine's timeline, seconds since it started), wire values stay in
//! NTP fixed point ([`ntp_wire::NtpTimestamp`], [`ntp_wire::NtpShort`]);
//! poll intervals and precisions are log2 seconds; frequencies are ppm.
//!
//! Where this crate departs from RFC 5905 or the reference implementation,
//! the module that does it says so and why.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod access;
pub mod association;
pub mod constants;
pub mod discipline;
pub mod engine;
pub mod events;
pub mod filter;
mod ids;
pub mod leap;
pub mod onwire;
pub mod ratelimit;
pub mod scenarios;
pub mod select;
pub mod server;
pub mod sim;
pub mod status;
pub mod system;
mod table;

// The names most users need, at the crate root. Code outside this crate
// should import from here: the module paths are being curated.
pub use access::{AccessClass, AccessClassError, AccessList, Prefix, PrefixError};
pub use association::{Association, AssociationConfig, AssociationCounters, AuthStatus, ConfigError, Unfit};
pub use discipline::{ClockState, DisciplineConfig};
pub use engine::{ClockAction, Engine, EngineConfig, MAX_DATAGRAM, Output, Transmit};
pub use events::{Counters, DemobilizeReason, Event};
pub use ids::{AssociationId, AssociationMode, PacketTest};
pub use leap::{LeapCommand, LeapCommandError, LeapFileError, LeapSecondsList};
pub use ratelimit::RateLimitConfig;
pub use select::SelectConfig;
pub use server::{DropReason, Request, Responder, ResponderConfig, ResponderCounters, Response};
pub use status::{PeerStatus, SystemStatus};
pub use system::{SelectionStatus, SyncSource, SystemVariables};
