//! # ntp-config
//!
//! One NTP configuration model, read from the syntaxes operators already
//! write: ntpd / NTPsec `ntp.conf`, `chrony.conf`, Cisco IOS and Huawei VRP
//! configuration commands. The result, a [`NodeConfig`], produces the
//! engine's values ([`ntp_algo::EngineConfig`], [`ntp_algo::AssociationConfig`])
//! and a text saying what the file means ([`render`], for `check-config`).
//!
//! ```
//! use ntp_config::{Dialect, parse};
//!
//! let text = "\
//! R1(config)#ntp authentication-key 1 md5 tulip
//! R1(config)#ntp trusted-key 1
//! R1(config)#ntp server 192.0.2.1 key 1 prefer
//! R1(config)#ntp peer 10.1.2.2
//! R1(config)#ntp master 3
//! ";
//! let config = parse(text, None)?; // the dialect is detected: IOS
//! assert_eq!(config.dialect, Dialect::Ios);
//! let associations = config.associations()?;
//! assert_eq!(associations.len(), 2);
//! assert_eq!(associations[0].key_id, Some(1));
//! assert_eq!(config.engine_config()?.local_reference_stratum, Some(3));
//! assert!(!ntp_config::render(&config).contains("tulip"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Why a crate of its own
//!
//! The daemon (`ntp-node`), the lab that runs whole networks from
//! configuration folders, and the C and Python bindings must all read a
//! file the same way, so there is one parser. It lives apart from the
//! daemon so that the C and Python layers can use it without pulling in the
//! daemon's runtime (sockets, clock system calls, threads).
//!
//! ## No I/O
//!
//! Parsing takes a `&str` and opens nothing. What the configuration names
//! but does not contain is returned for the caller to fetch: key file paths
//! (read them with [`load_keyring`], which takes a reader closure), the
//! drift and leap file paths, and host names (resolve them with
//! [`NodeConfig::resolve_names`], which takes a resolver closure; a lab
//! maps the vendor guides' `<I-TS-1>` placeholders the same way).
//!
//! ## Errors and notes
//!
//! A line that cannot be read fails with a [`ParseError`] naming the line
//! (from 1) and the directive, never the rest of the line, so no secret
//! reaches a log. A directive this crate understands but does not implement
//! is refused by name ([`ErrorKind::NotSupported`]): the node must never do
//! less than the file says. Lines that are understood and have no effect
//! here (`ntp update-calendar`, logging, other subsystems' commands on a
//! router) are accepted and listed in [`NodeConfig::notes`].
//!
//! ## How the dialects map onto the engine
//!
//! * Access rules become the engine's classes (`peer`, `serve`,
//!   `serve-only`, `query-only`, `ignore`), longest prefix first. ntpd's
//!   `restrict` flags: `ignore`, else time unless `noserve`, queries unless
//!   `noquery`, peering unless `nopeer`. chrony's `allow`/`deny`: who is
//!   served (`serve-only`/`ignore`, default `ignore`). For both, the node's
//!   own sources stay usable ([`SourceExemption`]). IOS access
//!   groups are resolved in IOS's order (peer, serve, serve-only,
//!   query-only; first permitting group wins; default deny) into one rule
//!   per listed address or network, which is exact for addresses.
//! * The local clock: `ntp master N` and `refclock-master N` serve stratum
//!   N (default 8); chrony's `local stratum N` too (default 10), and with
//!   `orphan` it is orphan mode at N; ntp.conf's local clock driver is a
//!   source at its fudged stratum (default 5), so the node serves one more.
//! * IOS type 7 secrets (`... md5 104D000A0618 7`) are decoded; VRP
//!   `cipher` secrets cannot be and are refused.
//! * Broadcast: an interface with `ntp broadcast` and `ip address A MASK`
//!   sends to the subnet's broadcast address.
//! * NTS (RFC 8915), in the two dialects that have it: `server HOST nts`
//!   makes an association that authenticates with NTS
//!   ([`Source::nts`]); chrony's `ntsserverkey`/`ntsservercert`/`ntsport`
//!   and NTPsec's `nts enable`/`key`/`cert` give the NTS-KE server's files
//!   ([`NodeConfig::nts_server`], which turns NTS service on in the
//!   engine); `ntstrustedcerts` and `nts ca` add trusted certificates,
//!   `ntsrotate` sets the master-key rotation.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

mod build;
mod chrony;
mod detect;
mod error;
mod ios;
mod keys;
mod model;
mod ntpconf;
mod render;
mod text;
mod vrp;

pub use detect::{Dialect, UnknownDialect};
pub use error::{BuildError, ErrorKind, KeyLoadError, ParseError};
pub use keys::load_keyring;
pub use model::{
    AccessPolicy, AccessRule, AccessTarget, BroadcastServer, Host, InlineKey, Interface, KeyFile, KeyFileFormat,
    LocalReference, NTS_KE_PORT, NodeConfig, Note, NtsServerFiles, Orphan, Severity, Source, SourceExemption,
};
pub use render::render;

/// Parses a configuration text in `dialect`, or in the dialect
/// [`Dialect::detect`] finds when `None`.
pub fn parse(text: &str, dialect: Option<Dialect>) -> Result<NodeConfig, ParseError> {
    let dialect = match dialect {
        Some(dialect) => dialect,
        None => Dialect::detect(text).ok_or_else(|| ParseError::new(1, "", ErrorKind::UnknownDialect))?,
    };
    let mut config = match dialect {
        Dialect::NtpConf => ntpconf::parse(text)?,
        Dialect::Chrony => chrony::parse(text)?,
        Dialect::Ios => ios::parse(text)?,
        Dialect::Vrp => vrp::parse(text)?,
    };
    let versions: Vec<(usize, u8)> =
        config.sources.iter().filter_map(|s| s.version.filter(|v| *v != 4).map(|v| (s.line, v))).collect();
    for (line, version) in versions {
        config.note(
            line,
            "version",
            Severity::Warning,
            format!("version {version}: the engine sends NTPv4 and answers each request in its own version"),
        );
    }
    check_keys(&mut config);
    Ok(config)
}

/// Warns about sources that can never be used for time: a key id defined
/// nowhere the configuration can see (no inline key and no key file), or no
/// key at all while authentication is required.
fn check_keys(config: &mut NodeConfig) {
    let defined = |id: u32| config.inline_keys.iter().any(|k| k.key.id() == id) || !config.key_files.is_empty();
    let mut notes = Vec::new();
    for source in &config.sources {
        match source.key_id {
            Some(id) if !defined(id) => notes.push((source.line, format!("key {id} is not defined in this file"))),
            None if config.require_authentication => notes.push((
                source.line,
                "authentication is required and this source has no key: it will never be used for time".to_owned(),
            )),
            _ => {}
        }
    }
    for interface in &config.interfaces {
        if let Some(broadcast) = &interface.broadcast {
            match broadcast.key_id {
                Some(id) if !defined(id) => {
                    notes.push((broadcast.line, format!("key {id} is not defined in this file")))
                }
                _ => {}
            }
        }
    }
    for (line, message) in notes {
        config.note(line, "key", Severity::Warning, message);
    }
}
