//! From the model to the engine's values.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ntp_algo::{AccessClass, AccessList, AssociationConfig, EngineConfig, NtsServerConfig, Prefix, ResponderConfig};

use crate::error::BuildError;
use crate::model::{AccessTarget, Host, NodeConfig, SourceExemption};

/// The NTP port broadcasts go to.
const NTP_PORT: u16 = 123;

impl NodeConfig {
    /// Replaces every host name (in sources and access rules) by the address
    /// `resolve` gives for it. The parser does no I/O, so this is where a
    /// daemon plugs in DNS and a lab its own table of names (the vendor
    /// guides' `<I-TS-1>` placeholders included). Fails on the first name
    /// `resolve` does not know, naming its line.
    pub fn resolve_names(&mut self, mut resolve: impl FnMut(&str) -> Option<IpAddr>) -> Result<(), BuildError> {
        for source in &mut self.sources {
            if let Host::Name(name) = &source.host {
                let addr =
                    resolve(name).ok_or_else(|| BuildError::NotFound { line: source.line, name: name.clone() })?;
                source.name = Some(name.clone());
                source.host = Host::Addr(addr);
            }
        }
        for rule in &mut self.access.rules {
            if let AccessTarget::Name(name) = &rule.target {
                let addr = resolve(name).ok_or_else(|| BuildError::NotFound { line: rule.line, name: name.clone() })?;
                rule.target = AccessTarget::Prefix(Prefix::host(addr));
            }
        }
        Ok(())
    }

    /// The engine's associations: one per configured source, plus one
    /// broadcast server per interface with `ntp broadcast` (to the
    /// interface's subnet broadcast address, or its `destination`).
    /// Fails on a name not yet resolved, a broadcasting interface without an
    /// address, or settings the engine refuses (poll range).
    pub fn associations(&self) -> Result<Vec<AssociationConfig>, BuildError> {
        let mut out = Vec::new();
        for source in &self.sources {
            let Host::Addr(addr) = &source.host else {
                return Err(BuildError::Unresolved { line: source.line, name: source.host.to_string() });
            };
            let mut config = AssociationConfig::new(source.mode, SocketAddr::new(*addr, source.port))
                .with_iburst(source.iburst)
                .with_burst(source.burst)
                .with_prefer(source.prefer)
                .with_nts(source.nts);
            let defaults = AssociationConfig::client(config.address);
            config = config
                .with_poll(source.min_poll.unwrap_or(defaults.min_poll), source.max_poll.unwrap_or(defaults.max_poll));
            if let Some(key_id) = source.key_id {
                config = config.with_key(key_id);
            }
            config
                .validate()
                .map_err(|source_error| BuildError::Association { line: source.line, source: source_error })?;
            out.push(config);
        }
        for interface in &self.interfaces {
            let Some(broadcast) = &interface.broadcast else { continue };
            let destination = match (broadcast.destination, interface.address) {
                (Some(destination), _) => destination,
                (None, Some((addr, len))) => IpAddr::V4(directed_broadcast(addr, len)),
                (None, None) => {
                    return Err(BuildError::BroadcastWithoutAddress {
                        line: broadcast.line,
                        interface: interface.display_name.clone(),
                    });
                }
            };
            let mut config = AssociationConfig::broadcast_server(SocketAddr::new(destination, NTP_PORT));
            if let Some(key_id) = broadcast.key_id {
                config = config.with_key(key_id);
            }
            out.push(config);
        }
        Ok(out)
    }

    /// The engine's configuration: access list, authentication, local
    /// reference, orphan mode, broadcast client, rate limit, NTS service
    /// (with `nts_rotate`) and the node's own addresses; everything else
    /// keeps the engine's defaults.
    ///
    /// Access rules that name hosts must have been resolved
    /// ([`NodeConfig::resolve_names`]); for dialects whose access rules
    /// never stop a node from using its own sources (see
    /// [`crate::SourceExemption`]), each configured source with a literal
    /// address gets a host rule of class `peer` where the rules would keep
    /// the node from using it.
    // Default plus assignment on purpose: the engine's configuration structs
    // are `#[non_exhaustive]`, so no struct literal can name their fields.
    #[allow(clippy::field_reassign_with_default)]
    pub fn engine_config(&self) -> Result<EngineConfig, BuildError> {
        let mut engine = EngineConfig::default();
        engine.access = self.access_list()?;
        engine.require_authentication = self.require_authentication;
        engine.local_reference_stratum = self.local_reference.map(|local| local.stratum);
        if let Some(orphan) = self.orphan {
            engine.orphan_stratum = Some(orphan.stratum);
            if let Some(wait) = orphan.wait {
                engine.orphan_wait = wait;
            }
        }
        engine.broadcast_client =
            self.broadcast_client.is_some() || self.interfaces.iter().any(|i| i.broadcast_client.is_some());
        let mut responder = ResponderConfig::default();
        responder.rate_limit = self.rate_limit;
        engine.responder = responder;
        let mut local: Vec<IpAddr> = self.listen_addresses.clone();
        local.extend(self.interfaces.iter().filter_map(|i| i.address.map(|(addr, _)| IpAddr::V4(addr))));
        local.dedup();
        engine.local_addresses = local;
        if self.nts_server.is_some() {
            let mut nts = NtsServerConfig::default();
            if let Some(seconds) = self.nts_rotate {
                // chrony keeps the two keys before the current one, so a
                // retired key opens cookies for two more intervals.
                nts = nts.with_rotation_interval(seconds).with_grace(seconds.saturating_mul(2));
            }
            engine = engine.with_nts_server(nts);
        }
        Ok(engine)
    }

    /// The access list alone (see [`NodeConfig::engine_config`]).
    pub fn access_list(&self) -> Result<AccessList, BuildError> {
        let mut list = AccessList::new(self.access.default);
        for rule in &self.access.rules {
            match &rule.target {
                AccessTarget::Prefix(prefix) => list.add(*prefix, rule.class),
                AccessTarget::Name(name) => {
                    return Err(BuildError::Unresolved { line: rule.line, name: name.clone() });
                }
            }
        }
        if self.access.sources_exempt != SourceExemption::None {
            for source in &self.sources {
                let Host::Addr(addr) = source.host else { continue };
                let class = list.classify(addr);
                let keep = class == AccessClass::Peer
                    || (class == AccessClass::Ignore && self.access.sources_exempt == SourceExemption::UnlessIgnored);
                if !keep {
                    list.add(Prefix::host(addr), AccessClass::Peer);
                }
            }
        }
        Ok(list)
    }
}

/// The subnet's directed broadcast address (all host bits set).
fn directed_broadcast(addr: Ipv4Addr, len: u8) -> Ipv4Addr {
    let host_bits = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
    Ipv4Addr::from(u32::from(addr) | host_bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dialect, parse};
    use ntp_algo::AssociationMode;

    #[test]
    fn broadcast_goes_to_the_subnet() {
        assert_eq!(directed_broadcast(Ipv4Addr::new(10, 0, 1, 31), 24), Ipv4Addr::new(10, 0, 1, 255));
        assert_eq!(directed_broadcast(Ipv4Addr::new(10, 0, 1, 31), 32), Ipv4Addr::new(10, 0, 1, 31));
        assert_eq!(directed_broadcast(Ipv4Addr::new(10, 0, 1, 31), 0), Ipv4Addr::BROADCAST);
    }

    #[test]
    fn names_must_be_resolved_first() {
        let mut config = parse("ntp server <I-TS-1>\n", Some(Dialect::Ios)).unwrap();
        assert!(matches!(config.associations(), Err(BuildError::Unresolved { line: 1, .. })));
        assert!(matches!(config.clone().resolve_names(|_| None), Err(BuildError::NotFound { line: 1, .. })));
        config.resolve_names(|name| (name == "<I-TS-1>").then(|| "192.0.2.1".parse().unwrap())).unwrap();
        let associations = config.associations().unwrap();
        assert_eq!(associations[0].address, "192.0.2.1:123".parse().unwrap());
        assert_eq!(associations[0].mode, AssociationMode::Client);
    }

    #[test]
    fn sources_exempt_from_serving_rules() {
        let text =
            "restrict default nomodify noquery nopeer\nserver 192.0.2.1\nserver 192.0.2.2\nrestrict 192.0.2.2 ignore\n";
        let config = parse(text, Some(Dialect::NtpConf)).unwrap();
        let list = config.engine_config().unwrap().access;
        assert_eq!(list.classify("192.0.2.1".parse().unwrap()), AccessClass::Peer);
        assert_eq!(list.classify("192.0.2.2".parse().unwrap()), AccessClass::Ignore);
        assert_eq!(list.classify("198.51.100.7".parse().unwrap()), AccessClass::ServeOnly);
    }

    #[test]
    fn engine_refusals_carry_the_line() {
        let config = parse("server 192.0.2.1 minpoll 10 maxpoll 6\n", Some(Dialect::NtpConf)).unwrap();
        assert!(matches!(config.associations(), Err(BuildError::Association { line: 1, .. })));
    }
}
