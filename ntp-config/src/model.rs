//! The configuration model every dialect is read into.
//!
//! One [`NodeConfig`] holds what a configuration file says, in the terms of
//! the engine rather than of any one daemon: sources (associations), keys,
//! access rules, the local reference, orphan mode, broadcast, and the paths
//! of the files the daemon reads itself. Each item remembers the line it
//! came from, so `check-config` and later errors can point at it.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use ntp_algo::{AccessClass, AssociationMode, Prefix, RateLimitConfig};
use ntp_wire::auth::Key;

use crate::detect::Dialect;

/// A remote named in the configuration: an address, or a name the caller
/// resolves (see [`NodeConfig::resolve_names`]).
///
/// Names are kept, not looked up, because the parser does no I/O. They are
/// DNS names (`time.example.com`) or the placeholders vendor guides print
/// for addresses (`<I-TS-1>`, kept with their angle brackets), which a lab
/// maps to the addresses of its own topology.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A literal IPv4 or IPv6 address.
    Addr(IpAddr),
    /// A name still to be resolved.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Addr(addr) => write!(f, "{addr}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// One configured source: `server`, `peer`, `ntp server`, `unicast-peer`,
/// an ntp.conf `broadcast` address...
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// The line (from 1) that configured it.
    pub line: usize,
    /// Our side's mode: client, symmetric active or broadcast server.
    pub mode: AssociationMode,
    /// The remote (for a broadcast server: the address sent to).
    pub host: Host,
    /// The UDP port (123 unless the dialect allows another).
    pub port: u16,
    /// Sign with this key id and require it on replies.
    pub key_id: Option<u32>,
    /// Shortest poll interval, log2 seconds (`None`: the engine's default, 6).
    pub min_poll: Option<i8>,
    /// Longest poll interval, log2 seconds (`None`: the engine's default, 10).
    pub max_poll: Option<i8>,
    /// Burst of packets while unreachable.
    pub iburst: bool,
    /// Burst of packets at every poll.
    pub burst: bool,
    /// Preferred among equals (`prefer`, VRP `preference`).
    pub prefer: bool,
    /// The NTP version asked for, if given. The engine sends version 4 and
    /// answers in the version of the request, so other values are reported
    /// as a note rather than honoured.
    pub version: Option<u8>,
    /// Authenticate with NTS (RFC 8915) instead of a key: chrony's and
    /// NTPsec's `server HOST nts`.
    pub nts: bool,
    /// The NTS-KE server's TCP port when not 4460 (chrony's `ntsport N`
    /// source option). NTS-KE runs at the source's host.
    pub nts_ke_port: Option<u16>,
    /// The host name as written, kept when [`NodeConfig::resolve_names`]
    /// replaces it by an address: NTS-KE checks the server's certificate
    /// against this name.
    pub name: Option<String>,
}

impl Source {
    /// A source with no options, on port 123.
    pub fn new(line: usize, mode: AssociationMode, host: Host) -> Source {
        Source {
            line,
            mode,
            host,
            port: 123,
            key_id: None,
            min_poll: None,
            max_poll: None,
            iburst: false,
            burst: false,
            prefer: false,
            version: None,
            nts: false,
            nts_ke_port: None,
            name: None,
        }
    }
}

/// The NTS-KE port (RFC 8915 §4, TCP).
pub const NTS_KE_PORT: u16 = 4460;

/// The files and port of this node's NTS-KE server (chrony's
/// `ntsservercert`, `ntsserverkey`, `ntsport`; NTPsec's `nts cert`,
/// `nts key`, `nts enable`). The parser opens neither file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NtsServerFiles {
    /// The line that turned the server on (chrony: its `ntsserverkey`;
    /// NTPsec: `nts enable`).
    pub line: usize,
    /// The certificate chain (PEM) the TLS server presents.
    pub cert_path: PathBuf,
    /// Its private key (PEM).
    pub key_path: PathBuf,
    /// The NTS-KE server's TCP port (default 4460).
    pub port: u16,
}

/// Where a key file is and how it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFileFormat {
    /// ntpd / NTPsec `ntp.keys`: keys are trusted only by `trustedkey`.
    NtpKeys,
    /// `chrony.keys`: every key in it is trusted.
    ChronyKeys,
}

/// A key file the configuration names (ntp.conf `keys`, chrony `keyfile`).
/// The parser never opens it: see [`crate::load_keyring`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFile {
    /// The line (from 1) that named it.
    pub line: usize,
    /// The path as written.
    pub path: String,
    /// Its format.
    pub format: KeyFileFormat,
}

/// A key given in the configuration itself (IOS `ntp authentication-key`,
/// VRP `ntp-service authentication-keyid`). `Debug` never shows the secret.
#[derive(Clone, Debug)]
pub struct InlineKey {
    /// The line (from 1) that defined it.
    pub line: usize,
    /// The key, ready to sign and verify.
    pub key: Key,
}

/// What an access rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AccessTarget {
    /// An address prefix (a host is a /32 or /128 prefix).
    Prefix(Prefix),
    /// One host known by name, resolved by [`NodeConfig::resolve_names`].
    Name(String),
}

impl fmt::Display for AccessTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessTarget::Prefix(prefix) => write!(f, "{prefix}"),
            AccessTarget::Name(name) => f.write_str(name),
        }
    }
}

/// One access rule, already translated from the dialect's own semantics to
/// the engine's: the longest matching prefix wins, and a later rule for the
/// same prefix replaces an earlier one (see [`ntp_algo::AccessList`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRule {
    /// The line (from 1) the rule comes from (for IOS, the `access-list` entry).
    pub line: usize,
    /// The addresses it covers.
    pub target: AccessTarget,
    /// What they may do.
    pub class: AccessClass,
}

/// The access policy: a default class and rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessPolicy {
    /// The class of a source no rule matches.
    pub default: AccessClass,
    /// The line that set the default, if one did.
    pub default_line: Option<usize>,
    /// Rules, in the order written.
    pub rules: Vec<AccessRule>,
    /// Whether configured sources may be synchronized to whatever the
    /// rules say about serving them. The engine ties synchronization to the
    /// `peer` class; see [`SourceExemption`].
    pub sources_exempt: SourceExemption,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            default: AccessClass::Peer,
            default_line: None,
            rules: Vec::new(),
            sources_exempt: SourceExemption::None,
        }
    }
}

/// How access rules apply to the node's own sources.
///
/// ntpd's `noserve`/`noquery`/`nopeer` and chrony's `allow`/`deny` restrict
/// who the node serves, never which of its configured sources it takes time
/// from; the engine ties synchronization to the `peer` class, so for those
/// dialects [`crate::NodeConfig::engine_config`] gives each configured
/// source a host rule of class `peer`. IOS access groups do gate
/// synchronization (a server must pass the `peer` group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceExemption {
    /// Rules apply to sources as to anyone (IOS, VRP).
    None,
    /// Sources are usable unless their class is `ignore` (ntpd: `restrict
    /// ... ignore`, even by default, also stops its own servers).
    UnlessIgnored,
    /// Sources are always usable (chrony: `deny` only stops serving).
    Always,
}

/// The local clock served as a reference when no source is usable
/// (`ntp master N`, `refclock-master N`, ntp.conf's local clock driver,
/// chrony's `local stratum N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalReference {
    /// The line (from 1) that configured it.
    pub line: usize,
    /// The stratum served, 1..=15.
    pub stratum: u8,
}

/// Orphan mode (ntp.conf `tos orphan N`, chrony `local ... orphan`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Orphan {
    /// The line (from 1) that configured it.
    pub line: usize,
    /// The orphan stratum, 1..=15.
    pub stratum: u8,
    /// Seconds to wait after start before orphan mode may take over
    /// (`tos orphanwait`); `None` keeps the engine's default (300 s).
    pub wait: Option<f64>,
}

/// An interface block (IOS and VRP `interface NAME`) with what NTP needs
/// from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The line (from 1) that opened the block.
    pub line: usize,
    /// The name, normalized: lower case, no blanks (`gigabitethernet0/1/0`),
    /// so `ntp-service server source-interface gigabitethernet 0/1/0` finds
    /// `interface GigabitEthernet0/1/0`.
    pub name: String,
    /// The name as written.
    pub display_name: String,
    /// The primary IPv4 address and prefix length (`ip address A MASK`).
    pub address: Option<(std::net::Ipv4Addr, u8)>,
    /// `ntp broadcast` on this interface: the line, and its options.
    pub broadcast: Option<BroadcastServer>,
    /// `ntp broadcast client` on this interface: the line.
    pub broadcast_client: Option<usize>,
}

/// `ntp broadcast [key N] [version N] [destination A]` on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BroadcastServer {
    /// The line (from 1).
    pub line: usize,
    /// Sign broadcasts with this key.
    pub key_id: Option<u32>,
    /// The version asked for (noted, not honoured: the engine sends 4).
    pub version: Option<u8>,
    /// Send to this address instead of the subnet's broadcast address.
    pub destination: Option<IpAddr>,
}

/// How bad a [`Note`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Understood, and has no effect here (daemon housekeeping, other
    /// subsystems' commands).
    Info,
    /// Understood and applied only partly, or differently from the daemon
    /// the syntax comes from: read it.
    Warning,
}

/// Something `check-config` should tell the operator about a line that was
/// accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The line (from 1).
    pub line: usize,
    /// The directive (its command words only, never its arguments).
    pub directive: String,
    /// How bad it is.
    pub severity: Severity,
    /// What it means here.
    pub message: String,
}

/// Everything a configuration file says, in one dialect-neutral form.
///
/// Build the engine's values with [`NodeConfig::engine_config`] and
/// [`NodeConfig::associations`] after [`NodeConfig::resolve_names`] (when
/// the file names hosts), and the keyring with [`crate::load_keyring`].
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The dialect it was read as.
    pub dialect: Dialect,
    /// The device's name (IOS `hostname`, VRP `sysname`), if given.
    pub hostname: Option<String>,
    /// Configured sources, in order.
    pub sources: Vec<Source>,
    /// Keys defined in the file itself.
    pub inline_keys: Vec<InlineKey>,
    /// Key files to load.
    pub key_files: Vec<KeyFile>,
    /// Trusted key ids (`trustedkey`, `ntp trusted-key`, `reliable authentication-keyid`).
    pub trusted_keys: Vec<u32>,
    /// The key ntpq must sign control writes with (`controlkey`).
    pub control_key: Option<u32>,
    /// Use only authenticated packets for time (`ntp authenticate`,
    /// `ntp-service authentication enable`).
    pub require_authentication: bool,
    /// Who may do what.
    pub access: AccessPolicy,
    /// The local clock as a reference, if configured.
    pub local_reference: Option<LocalReference>,
    /// Orphan mode, if configured.
    pub orphan: Option<Orphan>,
    /// Interface blocks, in order.
    pub interfaces: Vec<Interface>,
    /// Listen to broadcast servers on every interface (ntp.conf
    /// `broadcastclient`): the line.
    pub broadcast_client: Option<usize>,
    /// Addresses to listen on / send from (chrony `bindaddress`, ntp.conf
    /// `interface listen A`); the daemon binds them.
    pub listen_addresses: Vec<IpAddr>,
    /// The interface whose address NTP packets are sent from (IOS
    /// `ntp source`, VRP `ntp-service server source-interface`), normalized
    /// like [`Interface::name`].
    pub source_interface: Option<String>,
    /// The drift file path (`driftfile`), for the daemon to read and write.
    pub drift_file: Option<String>,
    /// The leap-seconds.list path (`leapfile`), for the daemon to read.
    pub leap_file: Option<String>,
    /// Rate limiting of the server responder, if enabled.
    pub rate_limit: Option<RateLimitConfig>,
    /// This node's NTS-KE server, if configured; the engine then answers
    /// NTS requests ([`NodeConfig::engine_config`]).
    pub nts_server: Option<NtsServerFiles>,
    /// Certificates (PEM) trusted for NTS-KE servers besides the system's
    /// (chrony's `ntstrustedcerts`, NTPsec's `nts ca`).
    pub nts_trusted_certs: Vec<PathBuf>,
    /// Seconds between rotations of the NTS server's master key (chrony's
    /// `ntsrotate`; 0 never rotates); `None` keeps the engine's default
    /// (one week).
    pub nts_rotate: Option<u32>,
    /// What check-config should say about accepted lines.
    pub notes: Vec<Note>,
}

impl NodeConfig {
    /// An empty configuration of the given dialect: no sources, every
    /// source allowed, no keys.
    pub fn new(dialect: Dialect) -> NodeConfig {
        NodeConfig {
            dialect,
            hostname: None,
            sources: Vec::new(),
            inline_keys: Vec::new(),
            key_files: Vec::new(),
            trusted_keys: Vec::new(),
            control_key: None,
            require_authentication: false,
            access: AccessPolicy::default(),
            local_reference: None,
            orphan: None,
            interfaces: Vec::new(),
            broadcast_client: None,
            listen_addresses: Vec::new(),
            source_interface: None,
            drift_file: None,
            leap_file: None,
            rate_limit: None,
            nts_server: None,
            nts_trusted_certs: Vec::new(),
            nts_rotate: None,
            notes: Vec::new(),
        }
    }

    /// The interface block with this (normalized) name.
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        let name = normalize_interface(name);
        self.interfaces.iter().find(|interface| interface.name == name)
    }

    pub(crate) fn note(&mut self, line: usize, directive: &str, severity: Severity, message: impl Into<String>) {
        self.notes.push(Note { line, directive: directive.to_owned(), severity, message: message.into() });
    }
}

/// Interface names compare without case and blanks: VRP writes
/// `gigabitethernet 0/1/0` where the block says `GigabitEthernet0/1/0`.
pub(crate) fn normalize_interface(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}
