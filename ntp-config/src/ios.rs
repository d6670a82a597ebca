//! Cisco IOS configuration commands: a running-config, or a session pasted
//! with its prompts (`R1(config)#ntp peer 10.1.2.2`).
//!
//! Read: `ntp server`, `ntp peer` (options `key`, `prefer`, `version`,
//! `source`, `burst`, `iburst`, `minpoll`, `maxpoll`), `ntp master [N]`,
//! `ntp authenticate`, `ntp authentication-key N md5 SECRET [7]`,
//! `ntp trusted-key N [- M]`, `ntp access-group {peer|serve|serve-only|query-only} ACL`
//! with standard access lists (`access-list N permit|deny ...` and
//! `ip access-list standard NAME` blocks), `ntp broadcast [client]` under
//! `interface` blocks with `ip address`, `ntp source`, `hostname`, and
//! `ntp update-calendar`, `ntp logging`, `ntp clock-period` (no effect).
//!
//! Lines starting with `!` are comments. Commands of other subsystems
//! (`clock timezone`, `router ospf`, ...) are not NTP's: they are skipped
//! with a note, as are session commands (`configure terminal`, `end`,
//! `write memory`). An interface block lasts while its lines are indented,
//! carry a `(config-if)#` prompt, or are interface commands (`ip address`,
//! `ntp broadcast`, `shutdown`...), as a pasted session stays in interface
//! mode until another global command.
//!
//! ## Access groups
//!
//! IOS checks a source against the groups in the order peer, serve,
//! serve-only, query-only and gives it the first whose list permits it
//! (each list read top-down, first match wins); a source no group permits
//! is denied. The engine's list is longest-prefix-match instead, so the
//! groups are resolved here: for each address or network a list names, the
//! class IOS would give it becomes one rule, and the default is `ignore`.
//! Every address inside such a network but outside the more specific ones
//! gets the same answer from both, so the translation is exact for
//! addresses. Host names in lists (the white paper prints `<I-TS-1>`) are
//! treated as hosts of their own; resolved later, a name that falls inside
//! a listed network keeps its own rule.
//!
//! ## Keys
//!
//! `ntp authentication-key N md5 SECRET 7` carries the secret in Cisco's
//! type 7 encoding (a fixed XOR pad: an obfuscation, not encryption), which
//! is decoded here; without the `7` (or with `0`) the secret is the text.

use std::collections::BTreeMap;

use ntp_algo::{AccessClass, AssociationMode, Prefix};
use ntp_wire::auth::KeyType;

use crate::detect::Dialect;
use crate::error::{ErrorKind, ParseError};
use crate::keys::add_inline_key;
use crate::model::{
    AccessRule, AccessTarget, BroadcastServer, Host, Interface, LocalReference, NodeConfig, Severity, Source,
    normalize_interface,
};
use crate::text::{At, numbered_lines};

/// IOS's default `ntp master` stratum.
const DEFAULT_MASTER_STRATUM: u8 = 8;

/// Splits a router prompt (`R1#`, `R1(config)#`, `Router>`) off a line:
/// the prompt's mode (`config`, `config-if`, or "" for exec) and the command.
pub(crate) fn split_prompt(line: &str) -> Option<(&str, &str)> {
    let name_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))?;
    if name_end == 0 || !line.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let after = line.get(name_end..)?;
    let (mode, after) = match after.strip_prefix('(') {
        Some(inner) => {
            let close = inner.find(')')?;
            let mode = inner.get(..close)?;
            if mode.is_empty() || !mode.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return None;
            }
            (mode, inner.get(close + 1..)?)
        }
        None => ("", after),
    };
    let rest = after.strip_prefix('#').or_else(|| after.strip_prefix('>'))?;
    Some((mode, rest.trim()))
}

/// Where a command goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Global,
    /// Index into the interfaces.
    Interface(usize),
    /// A named standard access list being defined.
    NamedAcl,
}

/// A resolved access list: (line, permit, what the entry matches) in order.
type AclEntries = Vec<(usize, bool, AclMatch)>;

/// One `access-list` line, kept as written until an `ntp access-group`
/// needs it: lists of other subsystems are none of our business.
struct AclLine {
    line: usize,
    /// `access-list` for a numbered list's line; a named list's lines have
    /// no command word of their own, so their first word (`permit`, `deny`).
    directive: String,
    words: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum AclMatch {
    /// `any` is 0.0.0.0/0, so that `10.0.0.0 255.255.255.255` is the same target.
    Prefix(Prefix),
    Name(String),
}

struct Parser {
    config: NodeConfig,
    block: Block,
    acl_name: String,
    acls: BTreeMap<String, Vec<AclLine>>,
    /// Named lists that are not standard (their entries are not read).
    other_acls: BTreeMap<String, usize>,
    groups: Vec<(AccessClass, String, usize)>,
}

/// Parses IOS configuration text.
pub(crate) fn parse(text: &str) -> Result<NodeConfig, ParseError> {
    let mut parser = Parser {
        config: NodeConfig::new(Dialect::Ios),
        block: Block::Global,
        acl_name: String::new(),
        acls: BTreeMap::new(),
        other_acls: BTreeMap::new(),
        groups: Vec::new(),
    };
    for (line, raw) in numbered_lines(text) {
        parser.line(line, raw)?;
    }
    parser.finish()
}

impl Parser {
    fn line(&mut self, line: usize, raw: &str) -> Result<(), ParseError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('!') {
            return Ok(());
        }
        let indented = raw.starts_with([' ', '\t']);
        let (mode, command) = match split_prompt(trimmed) {
            Some((mode, command)) => (Some(mode), command),
            None => (None, trimmed),
        };
        let words: Vec<&str> = command.split_whitespace().collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let Some(first) = lower.first() else { return Ok(()) };
        let second = lower.get(1).map_or("", String::as_str);
        let in_block = match (self.block, mode) {
            (Block::Global, _) => false,
            (_, Some(mode)) => mode.starts_with("config-"),
            (Block::Interface(_), None) => indented || is_interface_command(first, second),
            (Block::NamedAcl, None) => indented || matches!(first.as_str(), "permit" | "deny" | "remark"),
        };
        if in_block {
            return match self.block {
                Block::Interface(index) => self.interface_command(line, index, &words, &lower),
                _ => {
                    if let Some(list) = self.acls.get_mut(&self.acl_name) {
                        list.push(AclLine {
                            line,
                            directive: first.clone(),
                            words: words.iter().map(|w| (*w).to_owned()).collect(),
                        });
                    }
                    Ok(())
                }
            };
        }
        self.block = Block::Global;
        self.global(line, &words, &lower)
    }

    fn global(&mut self, line: usize, words: &[&str], lower: &[String]) -> Result<(), ParseError> {
        let first = lower.first().map_or("", String::as_str);
        let second = lower.get(1).map_or("", String::as_str);
        match first {
            "ntp" => self.ntp(line, words, lower),
            "no" if second == "ntp" => Err(ParseError::new(
                line,
                "no ntp",
                ErrorKind::NotSupported {
                    what: "no ntp".to_owned(),
                    why: "the file is read as the whole configuration; leave the command out instead",
                },
            )),
            "hostname" => {
                let at = At { line, directive: "hostname" };
                let name = at.next(&mut words.iter().skip(1).copied(), "a name")?;
                self.config.hostname = Some(name.to_owned());
                Ok(())
            }
            "interface" => {
                let at = At { line, directive: "interface" };
                let name = words.get(1..).unwrap_or(&[]).join(" ");
                if name.is_empty() {
                    return Err(at.missing("an interface name"));
                }
                self.config.interfaces.push(Interface {
                    line,
                    name: normalize_interface(&name),
                    display_name: name,
                    address: None,
                    broadcast: None,
                    broadcast_client: None,
                });
                self.block = Block::Interface(self.config.interfaces.len() - 1);
                Ok(())
            }
            "access-list" => {
                let at = At { line, directive: "access-list" };
                let number = at.next(&mut words.iter().skip(1).copied(), "a list number")?;
                let entry = AclLine {
                    line,
                    directive: "access-list".to_owned(),
                    words: words.iter().skip(2).map(|w| (*w).to_owned()).collect(),
                };
                self.acls.entry(number.to_owned()).or_default().push(entry);
                Ok(())
            }
            "ip" if second == "access-list" => {
                let at = At { line, directive: "ip access-list" };
                let kind = lower.get(2).map_or("", String::as_str);
                let name = words.get(3).ok_or_else(|| at.missing("a list name"))?;
                if kind == "standard" {
                    self.acl_name = (*name).to_owned();
                    self.acls.entry(self.acl_name.clone()).or_default();
                    self.block = Block::NamedAcl;
                } else {
                    self.other_acls.insert((*name).to_owned(), line);
                }
                Ok(())
            }
            "configure" | "conf" | "enable" | "end" | "exit" | "write" | "copy" | "show" | "terminal" => Ok(()),
            _ => {
                // Only the command word: the next may be a secret (`password X`, `key-string X`).
                let directive = words.first().copied().unwrap_or("");
                self.config.note(line, directive, Severity::Info, "not an NTP command; ignored");
                Ok(())
            }
        }
    }

    fn ntp(&mut self, line: usize, words: &[&str], lower: &[String]) -> Result<(), ParseError> {
        let sub = lower.get(1).map_or("", String::as_str);
        let directive = format!("ntp {sub}");
        let directive = directive.trim_end();
        let at = At { line, directive };
        let mut args = words.iter().skip(2).copied();
        match sub {
            "server" | "peer" => self.source(&at, words.get(2..).unwrap_or(&[])),
            "master" => {
                let stratum = match args.next() {
                    Some(word) => at.stratum(word)?,
                    None => DEFAULT_MASTER_STRATUM,
                };
                at.end(&mut args)?;
                self.config.local_reference = Some(LocalReference { line, stratum });
                Ok(())
            }
            "authenticate" => {
                at.end(&mut args)?;
                self.config.require_authentication = true;
                Ok(())
            }
            "authentication-key" => self.key(&at, words.get(2..).unwrap_or(&[])),
            "trusted-key" => {
                let first = at.key_id(at.next(&mut args, "key id")?)?;
                let last = match args.next() {
                    None => first,
                    Some("-") => at.key_id(at.next(&mut args, "the range's last key id")?)?,
                    Some(other) => return Err(at.extra(other)),
                };
                at.end(&mut args)?;
                if last < first || last - first >= crate::text::MAX_TRUSTED_IDS as u32 {
                    return Err(at.bad(
                        "key range",
                        &format!("{first} - {last}"),
                        "a range of at most 65536 ids, low to high",
                    ));
                }
                self.config.trusted_keys.extend(first..=last);
                Ok(())
            }
            "access-group" => {
                let mut kind = at.next(&mut args, "peer, serve, serve-only or query-only")?;
                if kind.eq_ignore_ascii_case("ipv4") {
                    kind = at.next(&mut args, "peer, serve, serve-only or query-only")?;
                } else if kind.eq_ignore_ascii_case("ipv6") {
                    return Err(at.unsupported("ntp access-group ipv6", "IPv6 access lists are not read"));
                }
                let class = match kind.parse::<AccessClass>() {
                    Ok(AccessClass::Ignore) | Err(_) => {
                        return Err(at.bad("access group", kind, "peer, serve, serve-only or query-only"));
                    }
                    Ok(class) => class,
                };
                let acl = at.next(&mut args, "an access list")?;
                match args.next() {
                    None => {}
                    Some(kod) if kod.eq_ignore_ascii_case("kod") => self.config.note(
                        line,
                        directive,
                        Severity::Info,
                        "kod: denied requests are dropped without a kiss-o'-death",
                    ),
                    Some(other) => return Err(at.extra(other)),
                }
                at.end(&mut args)?;
                self.groups.retain(|(existing, _, _)| *existing != class);
                self.groups.push((class, acl.to_owned(), line));
                Ok(())
            }
            "source" => {
                let name = words.get(2..).unwrap_or(&[]).join(" ");
                if name.is_empty() {
                    return Err(at.missing("an interface name"));
                }
                self.config.source_interface = Some(normalize_interface(&name));
                Ok(())
            }
            "update-calendar" => {
                self.config.note(
                    line,
                    directive,
                    Severity::Info,
                    "updating the hardware calendar is left to the operating system; no effect",
                );
                Ok(())
            }
            "logging" | "clock-period" | "max-associations" | "allow" => {
                self.config.note(line, directive, Severity::Info, "no effect here");
                Ok(())
            }
            "broadcast" | "multicast" | "disable" => {
                Err(at.err(ErrorKind::OutOfContext { why: "an interface command: put it under `interface NAME`" }))
            }
            "broadcastdelay" | "refclock" | "orphan" | "passive" | "maxdistance" => {
                Err(at.unsupported(directive, "this IOS setting has no counterpart in the engine"))
            }
            _ => Err(at.err(ErrorKind::UnknownDirective)),
        }
    }

    fn source(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied().peekable();
        if words.peek().is_some_and(|w| w.eq_ignore_ascii_case("vrf")) {
            return Err(at.unsupported("vrf", "VRFs are not supported; the daemon uses the host's routing"));
        }
        if words.peek().is_some_and(|w| w.eq_ignore_ascii_case("ip") || w.eq_ignore_ascii_case("ipv6")) {
            words.next();
        }
        let address = at.next(&mut words, "an address")?;
        let mode =
            if at.directive == "ntp server" { AssociationMode::Client } else { AssociationMode::SymmetricActive };
        let mut source = Source::new(at.line, mode, at.host(address)?);
        while let Some(option) = words.next() {
            match option.to_ascii_lowercase().as_str() {
                "key" => source.key_id = Some(at.key_id(at.next(&mut words, "key id")?)?),
                "prefer" => source.prefer = true,
                "version" => source.version = Some(at.version(at.next(&mut words, "version")?)?),
                "minpoll" => source.min_poll = Some(at.poll(at.next(&mut words, "minpoll")?)?),
                "maxpoll" => source.max_poll = Some(at.poll(at.next(&mut words, "maxpoll")?)?),
                "burst" => source.burst = true,
                "iburst" => source.iburst = true,
                "source" => {
                    at.next(&mut words, "an interface")?;
                    self.config.note(
                        at.line,
                        at.directive,
                        Severity::Warning,
                        "source: a per-association source interface is not supported; the global one is used",
                    );
                }
                _ => return Err(at.unknown_option(option)),
            }
        }
        self.config.sources.push(source);
        Ok(())
    }

    /// `ntp authentication-key N md5 SECRET [7|0]`. Nothing of the line is
    /// quoted in errors but the key id.
    fn key(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let bad = |key_id, reason| at.err(ErrorKind::BadKeyLine { key_id, reason });
        let id = args
            .first()
            .and_then(|w| w.parse::<u32>().ok())
            .filter(|id| *id != 0)
            .ok_or_else(|| bad(None, "the key id is missing or not a number in 1..=4294967295"))?;
        let key_type = args.get(1).ok_or_else(|| bad(Some(id), "missing the key type (md5)"))?;
        if !key_type.eq_ignore_ascii_case("md5") {
            return Err(
                if ["cmac-aes-128", "hmac-sha1", "hmac-sha2-256"].iter().any(|t| key_type.eq_ignore_ascii_case(t)) {
                    bad(Some(id), "only md5 keys are supported in IOS syntax (HMAC and CMAC keys are not)")
                } else {
                    bad(Some(id), "unknown key type; expected md5")
                },
            );
        }
        let secret = args.get(2).ok_or_else(|| bad(Some(id), "missing the secret"))?;
        let bytes = match args.get(3).copied() {
            None | Some("0") => secret.as_bytes().to_vec(),
            Some("7") => {
                decode_type7(secret).ok_or_else(|| bad(Some(id), "the type 7 secret is not valid type 7 text"))?
            }
            Some(_) => {
                return Err(bad(Some(id), "expected the encryption type (0 or 7) after the secret, and nothing else"));
            }
        };
        if args.len() > 4 {
            return Err(bad(Some(id), "unexpected text after the encryption type"));
        }
        add_inline_key(&mut self.config, at, id, KeyType::Md5, &bytes)
    }

    fn interface_command(
        &mut self,
        line: usize,
        index: usize,
        words: &[&str],
        lower: &[String],
    ) -> Result<(), ParseError> {
        let first = lower.first().map_or("", String::as_str);
        let second = lower.get(1).map_or("", String::as_str);
        let Some(interface) = self.config.interfaces.get_mut(index) else { return Ok(()) };
        match (first, second) {
            ("ip", "address") => {
                let at = At { line, directive: "ip address" };
                let mut args = words.iter().skip(2).copied();
                let addr = at.ipv4(at.next(&mut args, "an address")?)?;
                let len = at.netmask(at.next(&mut args, "a netmask")?)?;
                match args.next() {
                    None => interface.address = Some((addr, len)),
                    Some(word) if word.eq_ignore_ascii_case("secondary") => {
                        self.config.note(
                            line,
                            "ip address",
                            Severity::Info,
                            "secondary address: not used for broadcast",
                        );
                    }
                    Some(other) => return Err(at.extra(other)),
                }
                Ok(())
            }
            ("ntp", "broadcast") => {
                let at = At { line, directive: "ntp broadcast" };
                let mut args = words.iter().skip(2).copied();
                let mut server = BroadcastServer { line, key_id: None, version: None, destination: None };
                let mut client = false;
                while let Some(option) = args.next() {
                    match option.to_ascii_lowercase().as_str() {
                        "client" => client = true,
                        "key" => server.key_id = Some(at.key_id(at.next(&mut args, "key id")?)?),
                        "version" => server.version = Some(at.version(at.next(&mut args, "version")?)?),
                        "destination" => server.destination = Some(at.addr(at.next(&mut args, "an address")?)?),
                        _ => return Err(at.unknown_option(option)),
                    }
                }
                if client {
                    interface.broadcast_client = Some(line);
                } else {
                    interface.broadcast = Some(server);
                }
                Ok(())
            }
            ("ntp", "multicast") | ("ntp", "disable") => Err(ParseError::new(
                line,
                &format!("ntp {second}"),
                ErrorKind::NotSupported {
                    what: format!("ntp {second}"),
                    why: "per-interface multicast and disabling are not supported",
                },
            )),
            ("ntp", _) => Err(ParseError::new(line, &format!("ntp {second}"), ErrorKind::UnknownDirective)),
            _ => {
                // Only the command word: the next may be a secret (`password X`, `key-string X`).
                let directive = words.first().copied().unwrap_or("");
                if !matches!(first, "shutdown" | "description" | "no") {
                    self.config.note(line, directive, Severity::Info, "not an NTP command; ignored");
                }
                Ok(())
            }
        }
    }

    fn finish(mut self) -> Result<NodeConfig, ParseError> {
        if self.groups.is_empty() {
            return Ok(self.config);
        }
        // Resolve each group's list once, in IOS's scan order.
        let mut lists: Vec<(AccessClass, AclEntries)> = Vec::new();
        for class in AccessClass::ALL {
            let Some((_, acl, line)) = self.groups.iter().find(|(c, _, _)| *c == class) else { continue };
            let entries = self.list(acl, *line)?;
            lists.push((class, entries));
        }
        let first_group_line = self.groups.iter().map(|(_, _, line)| *line).min();
        let mut targets: Vec<(usize, AclMatch)> = Vec::new();
        for (_, entries) in &lists {
            for (line, _, target) in entries {
                if !targets.iter().any(|(_, t)| t == target) {
                    targets.push((*line, target.clone()));
                }
            }
        }
        let access = &mut self.config.access;
        access.default = AccessClass::Ignore;
        access.default_line = first_group_line;
        for (line, target) in targets {
            let class = lists
                .iter()
                .find(|(_, entries)| {
                    entries.iter().find(|(_, _, entry)| covers(entry, &target)).is_some_and(|(_, permit, _)| *permit)
                })
                .map_or(AccessClass::Ignore, |(class, _)| *class);
            let target = match target {
                AclMatch::Prefix(prefix) => AccessTarget::Prefix(prefix),
                AclMatch::Name(name) => AccessTarget::Name(name),
            };
            access.rules.push(AccessRule { line, target, class });
        }
        Ok(self.config)
    }

    /// A standard access list's entries: (line, permit, what it matches).
    fn list(&self, acl: &str, group_line: usize) -> Result<AclEntries, ParseError> {
        let at = At { line: group_line, directive: "ntp access-group" };
        let standard = |number: u32| (1..=99).contains(&number) || (1300..=1999).contains(&number);
        if acl.parse::<u32>().is_ok_and(|number| !standard(number)) {
            return Err(
                at.unsupported(&format!("access list {acl}"), "only standard access lists (1-99, 1300-1999) are read")
            );
        }
        if self.other_acls.contains_key(acl) {
            return Err(at.unsupported(&format!("access list {acl}"), "only standard access lists are read"));
        }
        let lines = self.acls.get(acl).ok_or_else(|| at.err(ErrorKind::UndefinedAccessList { acl: acl.to_owned() }))?;
        let mut entries = Vec::new();
        for entry in lines {
            let at = At { line: entry.line, directive: &entry.directive };
            let mut words = entry.words.iter().map(String::as_str);
            let action = at.next(&mut words, "permit, deny or remark")?;
            let permit = match action.to_ascii_lowercase().as_str() {
                "permit" => true,
                "deny" => false,
                "remark" => continue,
                _ => return Err(at.bad("action", action, "permit, deny or remark")),
            };
            let what = at.next(&mut words, "any, host A, or A [wildcard]")?;
            let target = if what.eq_ignore_ascii_case("any") {
                AclMatch::Prefix(at.network(std::net::Ipv4Addr::UNSPECIFIED.into(), 0)?)
            } else if what.eq_ignore_ascii_case("host") {
                host_match(&at, at.next(&mut words, "an address")?)?
            } else {
                let mut rest = words.clone();
                match rest.next() {
                    Some(wildcard) if !wildcard.eq_ignore_ascii_case("log") => {
                        words.next();
                        let len = at.wildcard(wildcard)?;
                        let addr = at.ipv4(what)?;
                        AclMatch::Prefix(at.network(addr.into(), len)?)
                    }
                    _ => host_match(&at, what)?,
                }
            };
            match words.next() {
                None => {}
                Some(word) if word.eq_ignore_ascii_case("log") => {}
                Some(other) => return Err(at.extra(other)),
            }
            entries.push((entry.line, permit, target));
        }
        Ok(entries)
    }
}

fn host_match(at: &At<'_>, word: &str) -> Result<AclMatch, ParseError> {
    Ok(match at.host(word)? {
        Host::Addr(addr) => AclMatch::Prefix(Prefix::host(addr)),
        Host::Name(name) => AclMatch::Name(name),
    })
}

/// Whether an access-list entry matches every address of `target`.
fn covers(entry: &AclMatch, target: &AclMatch) -> bool {
    match (entry, target) {
        // Standard lists are IPv4: a name is taken to be an IPv4 host.
        (AclMatch::Prefix(outer), AclMatch::Name(_)) => outer.prefix_len() == 0 && outer.addr().is_ipv4(),
        (AclMatch::Prefix(outer), AclMatch::Prefix(inner)) => {
            outer.prefix_len() <= inner.prefix_len() && outer.contains(inner.addr())
        }
        (AclMatch::Name(a), AclMatch::Name(b)) => a == b,
        _ => false,
    }
}

fn is_interface_command(first: &str, second: &str) -> bool {
    matches!(
        (first, second),
        ("ip", "address")
            | ("ntp", "broadcast")
            | ("ntp", "multicast")
            | ("ntp", "disable")
            | ("shutdown", _)
            | ("no", "shutdown")
            | ("no", "ip")
            | ("description", _)
    )
}

/// Cisco's type 7 pad (a published constant of the IOS password encoding).
const TYPE7_PAD: &[u8] = b"dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87";

/// Decodes a type 7 string: two decimal digits giving the pad offset, then
/// the secret's bytes in hex, each XORed with the pad from that offset on.
fn decode_type7(text: &str) -> Option<Vec<u8>> {
    let offset: usize = text.get(..2)?.parse().ok()?;
    let hex = text.get(2..)?;
    if hex.is_empty() || hex.len() % 2 != 0 || offset >= TYPE7_PAD.len() {
        return None;
    }
    let mut out = Vec::with_capacity(hex.len() / 2);
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        let byte = u8::from_str_radix(pair, 16).ok()?;
        let pad = TYPE7_PAD.get((offset + i) % TYPE7_PAD.len())?;
        out.push(byte ^ pad);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        assert_eq!(split_prompt("R1(config)#ntp peer 10.1.2.2"), Some(("config", "ntp peer 10.1.2.2")));
        assert_eq!(split_prompt("R1#configure terminal"), Some(("", "configure terminal")));
        assert_eq!(split_prompt("vl-7500-6#show clock"), Some(("", "show clock")));
        assert_eq!(split_prompt("Router>enable"), Some(("", "enable")));
        assert_eq!(split_prompt("access-list 5 permit <I-TS-1>"), None);
        assert_eq!(split_prompt("ntp server 192.0.2.1"), None);
        assert_eq!(split_prompt("!--- comment"), None);
    }

    #[test]
    fn type7_decodes_the_white_paper_key() {
        // Worked by hand from the pad: 0x4D^'.', 0x00^'i', 0x0A^'y', 0x06^'e', 0x18^'w'.
        assert_eq!(decode_type7("104D000A0618").as_deref(), Some(&b"cisco"[..]));
        assert_eq!(decode_type7("1"), None);
        assert_eq!(decode_type7("10"), None);
        assert_eq!(decode_type7("104D0"), None);
        assert_eq!(decode_type7("99AA"), None);
        assert_eq!(decode_type7("10ZZ"), None);
    }
}
