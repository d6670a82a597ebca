//! `check-config`: what a configuration means, in words.

use std::fmt::Write as _;

use ntp_algo::AssociationMode;

use crate::model::{AccessTarget, KeyFileFormat, NodeConfig, Severity, Source, SourceExemption};

/// Renders what the configuration means, for `ntp-node check-config`:
/// associations (mode, address, key id, options), keys by id and type
/// (never a secret), trusted keys, access rules in order, local reference,
/// orphan mode, broadcast, files, then the notes with their line numbers.
pub fn render(config: &NodeConfig) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(out, "dialect: {}", config.dialect);
    if let Some(name) = &config.hostname {
        let _ = writeln!(out, "device: {name}");
    }
    let broadcasting = config.interfaces.iter().filter(|i| i.broadcast.is_some()).count();
    let _ = writeln!(out, "associations: {}", config.sources.len() + broadcasting);
    for source in &config.sources {
        let _ = writeln!(out, "  line {}: {}", source.line, describe_source(source));
    }
    for interface in &config.interfaces {
        if let Some(broadcast) = &interface.broadcast {
            let target = match (broadcast.destination, interface.address) {
                (Some(destination), _) => destination.to_string(),
                (None, Some((addr, len))) => format!("the subnet of {addr}/{len}"),
                (None, None) => "nowhere (the interface has no address)".to_owned(),
            };
            let key = broadcast.key_id.map(|id| format!(", key {id}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  line {}: broadcast server on {} to {target}{key}",
                broadcast.line, interface.display_name
            );
        }
    }
    let clients: Vec<String> = config
        .interfaces
        .iter()
        .filter_map(|i| i.broadcast_client.map(|line| format!("{} (line {line})", i.display_name)))
        .chain(config.broadcast_client.map(|line| format!("every interface (line {line})")))
        .collect();
    if !clients.is_empty() {
        let _ = writeln!(out, "broadcast client: {}", clients.join(", "));
    }

    let _ = writeln!(
        out,
        "authentication: {}",
        if config.require_authentication {
            "required for time (only authenticated sources are used)"
        } else {
            "optional (sources with a key must authenticate)"
        }
    );
    if config.inline_keys.is_empty() {
        let _ = writeln!(out, "keys in the file: none");
    } else {
        let _ = writeln!(out, "keys in the file:");
        for key in &config.inline_keys {
            let _ = writeln!(out, "  line {}: key {} {}", key.line, key.key.id(), key.key.key_type());
        }
    }
    for file in &config.key_files {
        let format = match file.format {
            KeyFileFormat::NtpKeys => "ntp.keys format: keys trusted by trustedkey only",
            KeyFileFormat::ChronyKeys => "chrony.keys format: every key trusted",
        };
        let _ = writeln!(out, "key file (line {}): {} ({format})", file.line, file.path);
    }
    if !config.trusted_keys.is_empty() {
        let ids: Vec<String> = config.trusted_keys.iter().map(u32::to_string).collect();
        let _ = writeln!(out, "trusted keys: {}", ids.join(" "));
    }
    if let Some(id) = config.control_key {
        let _ = writeln!(out, "control key: {id}");
    }
    if let Some(server) = &config.nts_server {
        let _ = writeln!(
            out,
            "nts server (line {}): NTS-KE on TCP port {}, certificate {}, key {}",
            server.line,
            server.port,
            server.cert_path.display(),
            server.key_path.display()
        );
    }
    if let Some(seconds) = config.nts_rotate {
        let every = if seconds == 0 { "never (only when asked)".to_owned() } else { format!("every {seconds} s") };
        let _ = writeln!(out, "nts master key rotation: {every}");
    }
    for path in &config.nts_trusted_certs {
        let _ = writeln!(out, "nts trusted certificates: {}", path.display());
    }

    let default_from = config.access.default_line.map(|line| format!(" (line {line})")).unwrap_or_default();
    let _ = writeln!(out, "access: default {}{default_from}", config.access.default);
    if config.access.rules.is_empty() && config.access.default == ntp_algo::AccessClass::Peer {
        let _ = writeln!(out, "  no rules: every source may do everything");
    }
    for rule in &config.access.rules {
        let target = match &rule.target {
            AccessTarget::Prefix(prefix) => prefix.to_string(),
            AccessTarget::Name(name) => format!("{name} (a name)"),
        };
        let _ = writeln!(out, "  line {}: {target} -> {}", rule.line, rule.class);
    }
    match config.access.sources_exempt {
        _ if config.sources.is_empty() => {}
        SourceExemption::None => {}
        SourceExemption::UnlessIgnored => {
            let _ = writeln!(out, "  configured sources are usable unless their class is ignore");
        }
        SourceExemption::Always => {
            let _ = writeln!(out, "  configured sources are always usable (the rules say who is served)");
        }
    }

    match config.local_reference {
        Some(local) => {
            let _ = writeln!(
                out,
                "local reference: the local clock at stratum {} when no source is usable (line {})",
                local.stratum, local.line
            );
        }
        None => {
            let _ = writeln!(out, "local reference: none");
        }
    }
    if let Some(orphan) = config.orphan {
        let wait = orphan.wait.map(|w| format!(", after {w} s")).unwrap_or_default();
        let _ = writeln!(out, "orphan mode: stratum {}{wait} (line {})", orphan.stratum, orphan.line);
    }
    if let Some(limit) = &config.rate_limit {
        let _ = writeln!(
            out,
            "rate limit: average 2^{} s, minimum 2^{} s, burst {}, {}",
            limit.average_log2,
            limit.minimum_log2,
            limit.burst,
            if limit.send_kod { "KoD RATE" } else { "drop silently" }
        );
    }
    if let Some(name) = &config.source_interface {
        let address =
            config.interface(name).and_then(|i| i.address).map(|(addr, _)| format!(" ({addr})")).unwrap_or_default();
        let _ = writeln!(out, "source interface: {name}{address}");
    }
    for addr in &config.listen_addresses {
        let _ = writeln!(out, "listen: {addr}");
    }
    if let Some(path) = &config.drift_file {
        let _ = writeln!(out, "drift file: {path}");
    }
    if let Some(path) = &config.leap_file {
        let _ = writeln!(out, "leap file: {path}");
    }
    let mut notes: Vec<_> = config.notes.iter().collect();
    notes.sort_by_key(|note| note.line);
    for note in notes {
        let label = match note.severity {
            Severity::Info => "note",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}: line {}: {}: {}", note.line, note.directive, note.message);
    }
    out
}

fn describe_source(source: &Source) -> String {
    let mode = match source.mode {
        AssociationMode::Client => "client of server",
        AssociationMode::SymmetricActive => "symmetric active peer",
        AssociationMode::BroadcastServer => "broadcast server to",
        AssociationMode::SymmetricPassive => "symmetric passive peer",
        AssociationMode::BroadcastClient => "broadcast client of",
    };
    let mut text = format!("{mode} {}", source.host);
    if source.port != 123 {
        let _ = write!(text, " port {}", source.port);
    }
    if let Some(id) = source.key_id {
        let _ = write!(text, ", key {id}");
    }
    if let Some(poll) = source.min_poll {
        let _ = write!(text, ", minpoll {poll}");
    }
    if let Some(poll) = source.max_poll {
        let _ = write!(text, ", maxpoll {poll}");
    }
    for (on, name) in [(source.iburst, "iburst"), (source.burst, "burst"), (source.prefer, "prefer")] {
        if on {
            let _ = write!(text, ", {name}");
        }
    }
    if let Some(version) = source.version {
        let _ = write!(text, ", version {version}");
    }
    if source.nts {
        let _ = write!(text, ", nts");
    }
    if let Some(port) = source.nts_ke_port {
        let _ = write!(text, ", ntsport {port}");
    }
    text
}
