//! # ntp-node
//!
//! The std runtime for the sans-IO [`ntp_algo`] engine, and the daemon
//! built on it, as quinn is to quinn-proto: UDP sockets waited on with
//! `poll(2)`, a clock the engine disciplines, key files, a typed status
//! snapshot and the text views operators know.
//!
//! ```no_run
//! use std::time::Duration;
//! use ntp_algo::AssociationConfig;
//! use ntp_node::{Control, Node, NodeConfig, SoftwareClock};
//!
//! let mut config = NodeConfig::default();
//! config.listen = vec!["127.0.0.1:11123".parse()?];
//! config.associations.push(AssociationConfig::client("127.0.0.1:123".parse()?));
//! let mut node = Node::new(config, SoftwareClock::new(0.0, 0.0))?;
//! node.run(&Control::default(), Some(Duration::from_secs(10)))?;
//! println!("{}", node.snapshot().to_json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | module | what it does |
//! |---|---|
//! | [`Node`], [`NodeConfig`] | the loop: sockets, clock, engine |
//! | [`clock`] | the [`Clock`] trait, the software clock, the Linux system clock, the drift file |
//! | [`keys`] | ntp.keys / chrony.keys loading, trusted keys |
//! | [`StatusSnapshot`] | the status as serde data (JSON) |
//! | [`views`] | Cisco, Huawei and ntpq text views of a snapshot |
//! | [`log`] | human-readable and JSON log lines for engine events |
//! | [`NtsKeServerSettings`], [`NtsKeTarget`] | NTS-KE (RFC 8915 §4) on TCP, in the same loop: the cookie server and the clients of NTS associations |
//! | [`config`] | `run --config FILE`: ntp.conf, chrony.conf, IOS and VRP files to a [`NodeConfig`] |
//! | [`cli`] | the `ntp-node` command line |
//!
//! Units: seconds for times and offsets, ppm for frequencies, log2
//! seconds for poll intervals.
//!
//! `unsafe` is confined to one private module, the operating-system
//! boundary (`poll`, `recvmmsg`/`sendmmsg`, `fcntl`, `clock_gettime`,
//! `clock_adjtime`), every block with its safety argument.
#![deny(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::field_reassign_with_default
    )
)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod keys;
pub mod log;
mod nts;
pub mod query;
mod runtime;
mod snapshot;
mod socket;
mod sys;
pub mod views;

pub use clock::{Clock, ClockError, DriftFile, DriftFileError, SoftwareClock, SystemClock};
pub use nts::{
    NTS_KE_CLIENT_TIMEOUT, NTS_KE_MAX_CONNECTIONS, NTS_KE_RETRY_MAX, NTS_KE_RETRY_MIN, NTS_KE_SERVER_TIMEOUT,
    NtsKeServerCounters, NtsKeServerSettings, NtsKeSetupError, NtsKeTarget,
};
pub use runtime::{Control, LogFormat, MAX_WAIT, Node, NodeConfig, NodeError, write_atomically};
pub use snapshot::{
    AssociationCounters, AssociationSnapshot, NodeCounters, NtsKeCounters, StatusSnapshot, SystemSnapshot, Timestamp,
};
