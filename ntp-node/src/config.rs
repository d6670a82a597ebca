//! `run --config FILE`: a configuration file in one of the four dialects
//! `ntp-config` reads (ntp.conf, chrony.conf, Cisco IOS, Huawei VRP) turned
//! into a [`NodeConfig`] the runtime starts from, with the files it names
//! (key files, drift file, leap-seconds list) read here, because
//! `ntp-config` itself does no I/O.
//!
//! Paths in the file are taken relative to the file's own folder when they
//! are not absolute, so a configuration folder can be moved as a whole
//! (ntpd takes them relative to its working directory, which for a daemon
//! is `/`, where relative paths mean nothing useful).
//!
//! What the node listens on: the file's own addresses (ntp.conf
//! `interface listen A`, chrony `bindaddress`) and the address of the
//! interface named by IOS `ntp source` or VRP `ntp-service server
//! source-interface`, each on port 123. A file that names none leaves the
//! choice to the command line (`--listen`, by default the wildcard).

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use ntp_algo::{LeapFileError, LeapSecondsList};
use ntp_config::{BuildError, Dialect, KeyLoadError, ParseError};

use crate::nts::{NtsKeServerSettings, NtsKeTarget};
use crate::runtime::NodeConfig;

/// The NTP port, where a configured node listens unless told otherwise.
const NTP_PORT: u16 = 123;

/// Why a configuration file could not become a node configuration. Every
/// variant names the file; those about a line name the line too, never
/// its secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line of the file was refused.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line and what is wrong with it.
        source: ParseError,
    },
    /// The file parsed but the engine's values could not be built from it
    /// (a name that does not resolve, a poll range the engine refuses).
    #[error("{path}: {source}")]
    Build {
        /// The file.
        path: PathBuf,
        /// The line and what is wrong.
        source: BuildError,
    },
    /// A key file the configuration names could not be loaded.
    #[error("{path}: {source}")]
    Keys {
        /// The configuration file.
        path: PathBuf,
        /// The naming line and what is wrong.
        source: KeyLoadError<io::Error>,
    },
    /// The leap-seconds list (`leapfile`) could not be read or is invalid.
    #[error("{path}: leap file {leap}: {reason}")]
    Leap {
        /// The configuration file.
        path: PathBuf,
        /// The leap file.
        leap: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What a configuration file gives the runtime.
#[derive(Debug)]
pub struct FileConfig {
    /// The parsed file (for `check-config`-style reporting).
    pub parsed: ntp_config::NodeConfig,
    /// The runtime configuration: engine, associations, keyring, drift file,
    /// listen addresses (empty when the file names none; the caller decides).
    pub node: NodeConfig,
    /// The leap-seconds list the file names (`leapfile`), read and checked;
    /// give it to the engine with [`ntp_algo::Engine::set_leap_seconds`]
    /// once the node runs.
    pub leap_seconds: Option<LeapSecondsList>,
}

/// Reads and parses a configuration file (`dialect` `None`: detected).
pub fn parse_file(path: &Path, dialect: Option<Dialect>) -> Result<ntp_config::NodeConfig, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read { path: path.into(), source })?;
    ntp_config::parse(&text, dialect).map_err(|source| ConfigFileError::Parse { path: path.into(), source })
}

/// Reads a configuration file and everything it names into a
/// [`FileConfig`]. Host names are resolved with the system resolver (the
/// first address); `port` replaces the UDP port of every association the
/// file configures (the vendor dialects have no syntax for one).
pub fn load_file(path: &Path, dialect: Option<Dialect>, port: Option<u16>) -> Result<FileConfig, ConfigFileError> {
    let parsed = parse_file(path, dialect)?;
    from_parsed(path, parsed, port, dns_resolve)
}

/// The first address the system resolver gives for `name`.
fn dns_resolve(name: &str) -> Option<IpAddr> {
    (name, NTP_PORT).to_socket_addrs().ok()?.next().map(|addr| addr.ip())
}

/// [`load_file`] after parsing, with the resolver given (for tests and
/// labs that map names themselves).
pub fn from_parsed(
    path: &Path,
    mut parsed: ntp_config::NodeConfig,
    port: Option<u16>,
    resolve: impl FnMut(&str) -> Option<IpAddr>,
) -> Result<FileConfig, ConfigFileError> {
    let build = |source| ConfigFileError::Build { path: path.into(), source };
    parsed.resolve_names(resolve).map_err(build)?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut node = NodeConfig {
        engine: parsed.engine_config().map_err(build)?,
        associations: parsed.associations().map_err(build)?,
        ..NodeConfig::default()
    };
    if let Some(port) = port {
        for association in &mut node.associations {
            association.address.set_port(port);
        }
    }
    nts_settings(&parsed, folder, &mut node);
    node.keys = ntp_config::load_keyring(&parsed, |file| std::fs::read_to_string(folder.join(file)))
        .map_err(|source| ConfigFileError::Keys { path: path.into(), source })?;
    node.drift_file = parsed.drift_file.as_ref().map(|file| folder.join(file));
    node.listen = listen_addresses(&parsed);
    node.name.clone_from(&parsed.hostname);
    let leap_seconds = match &parsed.leap_file {
        Some(file) => {
            let leap = folder.join(file);
            let error = |reason: String| ConfigFileError::Leap { path: path.into(), leap: leap.clone(), reason };
            let text = std::fs::read_to_string(&leap).map_err(|e| error(e.to_string()))?;
            Some(LeapSecondsList::parse(&text).map_err(|e: LeapFileError| error(e.to_string()))?)
        }
        None => None,
    };
    Ok(FileConfig { parsed, node, leap_seconds })
}

/// The file's NTS settings (RFC 8915): the NTS-KE server's certificate,
/// key and port, the trusted certificates, and where each `nts` source gets
/// its cookies (its host at `ntsport`, 4460 by default, the certificate
/// checked against the name as written). Call after the associations'
/// ports are final: the targets are keyed by association address.
fn nts_settings(parsed: &ntp_config::NodeConfig, folder: &Path, node: &mut NodeConfig) {
    if let Some(files) = &parsed.nts_server {
        let mut settings = NtsKeServerSettings::new(folder.join(&files.cert_path), folder.join(&files.key_path));
        settings.port = files.port;
        node.nts_ke_server = Some(settings);
    }
    node.nts_trusted_certs = parsed.nts_trusted_certs.iter().map(|file| folder.join(file)).collect();
    // `associations()` makes one association per source, in order, first.
    for (source, association) in parsed.sources.iter().zip(&node.associations) {
        if !source.nts || !association.nts {
            continue;
        }
        let name = source.name.clone().unwrap_or_else(|| association.address.ip().to_string());
        let port = source.nts_ke_port.unwrap_or(ntp_algo::NTS_KE_PORT);
        node.nts_ke_targets.push(NtsKeTarget {
            association: association.address,
            name,
            address: SocketAddr::new(association.address.ip(), port),
        });
    }
}

/// The addresses the file asks the node to listen on, port 123: its listen
/// addresses and the source interface's address.
fn listen_addresses(parsed: &ntp_config::NodeConfig) -> Vec<SocketAddr> {
    let source = parsed
        .source_interface
        .as_deref()
        .and_then(|name| parsed.interface(name))
        .and_then(|interface| interface.address)
        .map(|(addr, _)| IpAddr::V4(addr));
    let mut out: Vec<SocketAddr> = Vec::new();
    for ip in parsed.listen_addresses.iter().copied().chain(source) {
        let addr = SocketAddr::new(ip, NTP_PORT);
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// The node configuration of `ntp-node run --config FILE` with the other
/// options of the command line applied on top of the file:
///
/// * added to the file's: `--server`, `--peer`, `--broadcast` (more
///   associations), `--keyfile` and `--key` (more keys, an id may not be
///   defined twice), `--trusted-key` (more trusted ids; keys from the
///   command line are all trusted without it), `--access`, `--allow`,
///   `--deny` (rules after the file's, so they win for the same prefix);
/// * turned on, never off: `--authenticate`, `--broadcast-client`,
///   `--rate-limit`;
/// * replacing the file's when given: `--listen` (when not given, the
///   file's addresses, else the wildcard default), `--master`, `--orphan`
///   (with `--orphan-wait`), `--drift-file`, `--port` (the remote port of
///   the file's associations);
/// * the file's default access class stands (`--access-default` is not
///   used with `--config`);
/// * runtime options (clock, offset, step threshold, status, logging) as
///   without a file.
pub(crate) fn merge_run_args(
    path: &Path,
    args: &crate::cli::RunArgs,
) -> Result<(NodeConfig, Option<LeapSecondsList>), Box<dyn std::error::Error>> {
    use crate::cli::{parse_access_rule, parse_association};
    use ntp_algo::{AccessClass, AssociationMode, RateLimitConfig};
    use ntp_wire::auth::Keyring;

    let FileConfig { node: mut config, leap_seconds, .. } = load_file(path, args.dialect, args.port)?;
    let default_listen = args.listen.len() == 1
        && args.listen.first().is_some_and(|addr| addr.ip().is_unspecified() && addr.port() == NTP_PORT);
    if !default_listen || config.listen.is_empty() {
        config.listen.clone_from(&args.listen);
    }
    for (option, mode, specs) in [
        ("--server", AssociationMode::Client, &args.servers),
        ("--peer", AssociationMode::SymmetricActive, &args.peers),
        ("--broadcast", AssociationMode::BroadcastServer, &args.broadcasts),
    ] {
        for spec in specs {
            config.associations.push(parse_association(option, mode, spec)?);
        }
    }
    let mut extra = match &args.keyfile {
        Some(file) => crate::keys::read_key_file(file, args.keyfile_format)?,
        None => Keyring::new(),
    };
    crate::keys::add_key_lines(&mut extra, &args.keys)?;
    crate::keys::apply_trusted(&mut extra, args.trusted_keys.as_deref())?;
    for (key, trusted) in extra.iter() {
        if config.keys.get(key.id()).is_some() {
            return Err(
                format!("key {} is defined both in {} and on the command line", key.id(), path.display()).into()
            );
        }
        config.keys.insert(key.clone(), trusted);
    }
    if let Some(list) = &args.trusted_keys {
        config
            .keys
            .trust_list(list)
            .map_err(|source| crate::keys::KeysError::Trusted { list: list.clone(), source })?;
    }
    let engine = &mut config.engine;
    for rule in &args.access {
        let (prefix, class) = parse_access_rule(rule)?;
        engine.access.add(prefix, class);
    }
    for prefix in &args.allow {
        engine.access.add(*prefix, AccessClass::Peer);
    }
    for prefix in &args.deny {
        engine.access.add(*prefix, AccessClass::Ignore);
    }
    engine.require_authentication |= args.authenticate;
    engine.broadcast_client |= args.broadcast_client;
    if args.master.is_some() {
        engine.local_reference_stratum = args.master;
    }
    if args.orphan.is_some() {
        engine.orphan_stratum = args.orphan;
        engine.orphan_wait = args.orphan_wait;
    }
    engine.discipline.step_threshold = args.step_threshold;
    if args.rate_limit {
        engine.responder.rate_limit = Some(RateLimitConfig::default());
    }
    if args.drift_file.is_some() {
        config.drift_file.clone_from(&args.drift_file);
    }
    args.apply_runtime_options(&mut config)?;
    args.apply_nts_options(&mut config)?;
    Ok((config, leap_seconds))
}

/// `check-config`: the file's meaning as text, or the error (with the line).
pub fn check(path: &Path, dialect: Option<Dialect>) -> Result<String, ConfigFileError> {
    let parsed = parse_file(path, dialect)?;
    Ok(ntp_config::render(&parsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_algo::{AccessClass, AssociationMode};

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn ios_file_becomes_a_node_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "r1.ios",
            "hostname R1\n\
             interface Loopback0\n ip address 127.0.0.9 255.255.255.255\n!\n\
             ntp authentication-key 1 md5 tulip\nntp authenticate\nntp trusted-key 1\n\
             ntp source Loopback0\nntp server 127.0.0.1 key 1 iburst\nntp peer 192.0.2.7\nntp master 3\n",
        );
        let loaded = load_file(&path, None, Some(11123)).unwrap();
        assert_eq!(loaded.parsed.dialect, Dialect::Ios);
        let node = &loaded.node;
        assert_eq!(node.listen, vec!["127.0.0.9:123".parse::<SocketAddr>().unwrap()]);
        assert_eq!(node.name.as_deref(), Some("R1"));
        let [server, peer] = node.associations.as_slice() else { panic!("{:?}", node.associations) };
        assert_eq!(
            (server.mode, server.address, server.key_id),
            (AssociationMode::Client, "127.0.0.1:11123".parse().unwrap(), Some(1))
        );
        assert!(server.iburst);
        assert_eq!(peer.mode, AssociationMode::SymmetricActive);
        assert!(node.keys.is_trusted(1));
        assert!(node.engine.require_authentication);
        assert_eq!(node.engine.local_reference_stratum, Some(3));
        assert!(node.engine.local_addresses.contains(&"127.0.0.9".parse().unwrap()));
    }

    #[test]
    fn vrp_file_with_authentication() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "d.cfg",
            "sysname DeviceD\n#\nntp-service authentication enable\n\
             ntp-service authentication-keyid 7 authentication-mode md5 crocus\n\
             ntp-service reliable authentication-keyid 7\n\
             ntp-service unicast-server 127.0.0.1 authentication-keyid 7\n#\nreturn\n",
        );
        let loaded = load_file(&path, Some(Dialect::Vrp), None).unwrap();
        assert!(loaded.node.listen.is_empty(), "no source interface: the command line decides");
        assert_eq!(loaded.node.associations[0].key_id, Some(7));
        assert_eq!(loaded.node.associations[0].address.port(), 123);
        assert!(loaded.node.keys.is_trusted(7));
        assert!(loaded.node.engine.require_authentication);
    }

    #[test]
    fn files_named_by_the_config_are_read_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "ntp.keys", "3 MD5 crocus\n4 SHA1 0123456789abcdef0123456789abcdef01234567\n");
        let path = write(
            dir.path(),
            "ntp.conf",
            "keys ntp.keys\ntrustedkey 3\ndriftfile ntp.drift\nserver 192.0.2.1 key 3\n\
             restrict default ignore\nrestrict 192.0.2.0 mask 255.255.255.0 nomodify\n",
        );
        let loaded = load_file(&path, None, None).unwrap();
        assert!(loaded.node.keys.is_trusted(3) && !loaded.node.keys.is_trusted(4));
        assert_eq!(loaded.node.drift_file.as_deref(), Some(dir.path().join("ntp.drift").as_path()));
        assert_eq!(loaded.node.engine.access.classify("198.51.100.1".parse().unwrap()), AccessClass::Ignore);
        assert!(loaded.leap_seconds.is_none());
    }

    #[test]
    fn errors_name_the_file_and_line_and_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(dir.path(), "bad.ios", "ntp authentication-key 1 md5 hunter2-secret\nntp frobnicate\n");
        let message = load_file(&bad, None, None).unwrap_err().to_string();
        assert!(message.contains("bad.ios") && message.contains("line 2"), "{message}");
        let placeholder = write(dir.path(), "p.ios", "ntp server <I-TS-1>\n");
        let message = load_file(&placeholder, None, None).unwrap_err().to_string();
        assert!(message.contains("line 1") && message.contains("<I-TS-1>"), "{message}");
        let keys = write(dir.path(), "k.conf", "keys missing.keys\nserver 192.0.2.1\n");
        let message = load_file(&keys, None, None).unwrap_err().to_string();
        assert!(message.contains("missing.keys") && message.contains("line 1"), "{message}");
        let leap = write(dir.path(), "l.conf", "leapfile leap.list\nserver 192.0.2.1\n");
        write(dir.path(), "leap.list", "garbage\n");
        assert!(matches!(load_file(&leap, None, None), Err(ConfigFileError::Leap { .. })));
        let key_secret = write(dir.path(), "s.ios", "ntp authentication-key 1 md5\n");
        let message = check(&key_secret, None).unwrap_err().to_string();
        assert!(message.contains("line 1"), "{message}");
        assert!(matches!(load_file(&dir.path().join("none"), None, None), Err(ConfigFileError::Read { .. })));
    }

    #[test]
    fn check_renders_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "r.ios", "ntp authentication-key 1 md5 tulip\nntp server 192.0.2.1 key 1\n");
        let text = check(&path, None).unwrap();
        assert!(text.contains("192.0.2.1") && !text.contains("tulip"), "{text}");
    }

    fn run_args(args: &[&str]) -> crate::cli::RunArgs {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["ntp-node", "run"].iter().chain(args)).unwrap();
        match cli.command {
            crate::cli::Command::Run(run) => *run,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn command_line_adds_to_and_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "r.ios",
            "interface Loopback0\n ip address 127.0.0.9 255.255.255.255\nntp source Loopback0\n\
             ntp authentication-key 1 md5 tulip\nntp trusted-key 1\nntp server 127.0.0.1 key 1\nntp master 5\n",
        );
        let p = path.to_str().unwrap();
        // Nothing else given: the file's listen address, stratum, keys.
        let config = run_args(&["--config", p]).node_config().unwrap();
        assert_eq!(config.listen, vec!["127.0.0.9:123".parse::<SocketAddr>().unwrap()]);
        assert_eq!(config.engine.local_reference_stratum, Some(5));
        assert!(!config.engine.require_authentication);
        let args = run_args(&[
            "--config",
            p,
            "--dialect",
            "ios",
            "--port",
            "4123",
            "--listen",
            "127.0.0.1:0",
            "--server",
            "192.0.2.5,key=2",
            "--key",
            "2 sha1 crocus",
            "--master",
            "7",
            "--authenticate",
            "--deny",
            "198.51.100.0/24",
        ]);
        let config = args.node_config().unwrap();
        assert_eq!(config.listen, vec!["127.0.0.1:0".parse::<SocketAddr>().unwrap()]);
        let addresses: Vec<SocketAddr> = config.associations.iter().map(|a| a.address).collect();
        assert_eq!(addresses, ["127.0.0.1:4123".parse().unwrap(), "192.0.2.5:123".parse().unwrap()]);
        assert!(config.keys.is_trusted(1) && config.keys.is_trusted(2));
        assert_eq!(config.engine.local_reference_stratum, Some(7));
        assert!(config.engine.require_authentication);
        assert_eq!(config.engine.access.classify("198.51.100.3".parse().unwrap()), AccessClass::Ignore);
        // A key id in both places is refused.
        let err = run_args(&["--config", p, "--key", "1 md5 other"]).node_config().unwrap_err().to_string();
        assert!(err.contains("key 1"), "{err}");
        // --dialect needs --config.
        use clap::Parser;
        assert!(crate::cli::Cli::try_parse_from(["ntp-node", "run", "--dialect", "ios"]).is_err());
    }

    #[test]
    fn nts_settings_of_a_chrony_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "chrony.conf",
            "server 127.0.0.1 port 11123 iburst nts ntsport 14460
server time.example nts
server 192.0.2.9
             ntsservercert cert.pem
ntsserverkey /etc/key.pem
ntsport 4461
ntstrustedcerts ca.pem
ntsrotate 60
",
        );
        let parsed = parse_file(&path, Some(Dialect::Chrony)).unwrap();
        let resolve = |name: &str| (name == "time.example").then(|| "192.0.2.7".parse().unwrap());
        let node = from_parsed(&path, parsed, None, resolve).unwrap().node;
        let nts: Vec<bool> = node.associations.iter().map(|a| a.nts).collect();
        assert_eq!(nts, [true, true, false]);
        assert_eq!(
            node.nts_ke_targets,
            [
                NtsKeTarget {
                    association: "127.0.0.1:11123".parse().unwrap(),
                    name: "127.0.0.1".to_owned(),
                    address: "127.0.0.1:14460".parse().unwrap(),
                },
                NtsKeTarget {
                    association: "192.0.2.7:123".parse().unwrap(),
                    name: "time.example".to_owned(),
                    address: "192.0.2.7:4460".parse().unwrap(),
                },
            ]
        );
        let server = node.nts_ke_server.unwrap();
        assert_eq!(server.cert_chain, dir.path().join("cert.pem"));
        assert_eq!(server.key, PathBuf::from("/etc/key.pem"));
        assert_eq!(server.port, 4461);
        assert_eq!(node.nts_trusted_certs, [dir.path().join("ca.pem")]);
        assert_eq!(node.engine.nts_server.map(|n| n.rotation_interval), Some(60));
    }
}
