//! Huawei VRP configuration commands: a configuration file (`#` between
//! sections, `return` at the end) or a session pasted with its prompts
//! (`<HUAWEI> system-view`, `[~DeviceC] ntp-service refclock-master 2`).
//!
//! Read: `ntp-service refclock-master [127.127.1.0] [N]`,
//! `ntp-service unicast-server [ipv6] A` and `ntp-service unicast-peer [ipv6] A`
//! (options `authentication-keyid`, `version`, `preference`, `minpoll`,
//! `maxpoll`, `burst`, `iburst`, `source-interface`),
//! `ntp-service authentication enable`,
//! `ntp-service authentication-keyid N authentication-mode md5 [plain] SECRET`,
//! `ntp-service reliable authentication-keyid N`,
//! `ntp-service server source-interface IF` (and the older
//! `ntp-service source-interface IF`), `interface` blocks with
//! `ip address A MASK|LEN` and `ntp-service broadcast-server`/`broadcast-client`,
//! and `sysname`. Session and file structure (`system-view`, `commit`,
//! `quit`, `return`, `#`, `display ...`) is accepted silently; other
//! subsystems' commands are skipped with a note.
//!
//! Indentation is not needed: an interface block lasts while its lines are
//! indented, carry the interface's prompt (`[~DeviceC-GigabitEthernet0/1/0]`),
//! or are interface commands; `#`, `quit` and `return` end it.

use ntp_algo::AssociationMode;
use ntp_wire::auth::KeyType;

use crate::detect::Dialect;
use crate::error::{ErrorKind, ParseError};
use crate::keys::add_inline_key;
use crate::model::{BroadcastServer, Interface, LocalReference, NodeConfig, Severity, Source, normalize_interface};
use crate::text::{At, numbered_lines};

/// The stratum `ntp-service refclock-master` serves when none is given.
const DEFAULT_MASTER_STRATUM: u8 = 8;

/// Splits a VRP prompt off a line: `<Name>`, `[Name]`, `[~Name]`, `[*Name]`
/// (the view's name, the `~`/`*` marks of uncommitted changes dropped) and
/// the command after it.
pub(crate) fn split_prompt(line: &str) -> Option<(&str, &str)> {
    let (close, rest) =
        if let Some(rest) = line.strip_prefix('<') { ('>', rest) } else { (']', line.strip_prefix('[')?) };
    let end = rest.find(close)?;
    let name = rest.get(..end)?;
    let name = name.trim_start_matches(['~', '*']);
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some((name, rest.get(end + 1..)?.trim()))
}

/// Parses VRP configuration text.
pub(crate) fn parse(text: &str) -> Result<NodeConfig, ParseError> {
    let mut config = NodeConfig::new(Dialect::Vrp);
    let mut interface: Option<usize> = None;
    for (line, raw) in numbered_lines(text) {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        let (view, command) = match split_prompt(trimmed) {
            Some((view, command)) => (Some(view), command),
            None => (None, trimmed),
        };
        let words: Vec<&str> = command.split_whitespace().collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let Some(first) = lower.first().map(String::as_str) else { continue };
        let second = lower.get(1).map_or("", String::as_str);
        if first.starts_with('#') {
            interface = None;
            continue;
        }
        if let Some(index) = interface {
            // The interface view's prompt is `[~Sysname-Interface]`.
            let in_view = view.is_some_and(|v| v.contains('-') && config.hostname.as_deref().is_none_or(|h| v != h));
            let stays = match view {
                Some(_) => in_view,
                None => indented || is_interface_command(first, second),
            };
            if stays && !matches!(first, "quit" | "return") {
                interface_command(&mut config, line, index, &words, &lower)?;
                continue;
            }
            interface = None;
        }
        match first {
            "ntp-service" => ntp_service(&mut config, line, &words, &lower)?,
            "undo" if second == "ntp-service" => {
                return Err(ParseError::new(
                    line,
                    "undo ntp-service",
                    ErrorKind::NotSupported {
                        what: "undo ntp-service".to_owned(),
                        why: "the file is read as the whole configuration; leave the command out instead",
                    },
                ));
            }
            "sysname" => {
                let at = At { line, directive: "sysname" };
                let name = at.next(&mut words.iter().skip(1).copied(), "a name")?;
                config.hostname = Some(name.to_owned());
            }
            "interface" => {
                let at = At { line, directive: "interface" };
                let name = words.get(1..).unwrap_or(&[]).join(" ");
                if name.is_empty() {
                    return Err(at.missing("an interface name"));
                }
                config.interfaces.push(Interface {
                    line,
                    name: normalize_interface(&name),
                    display_name: name,
                    address: None,
                    broadcast: None,
                    broadcast_client: None,
                });
                interface = Some(config.interfaces.len() - 1);
            }
            "system-view" | "commit" | "quit" | "return" | "display" | "save" | "run" | "y" => {}
            _ => {
                // Only the command word: the next may be a secret (`password X`, `key-string X`).
                let directive = words.first().copied().unwrap_or("");
                config.note(line, directive, Severity::Info, "not an NTP command; ignored");
            }
        }
    }
    Ok(config)
}

fn is_interface_command(first: &str, second: &str) -> bool {
    matches!(
        (first, second),
        ("ip", "address")
            | ("ntp-service", "broadcast-server")
            | ("ntp-service", "broadcast-client")
            | ("ntp-service", "multicast-server")
            | ("ntp-service", "multicast-client")
            | ("shutdown", _)
            | ("undo", "shutdown")
            | ("description", _)
    )
}

fn ntp_service(config: &mut NodeConfig, line: usize, words: &[&str], lower: &[String]) -> Result<(), ParseError> {
    let sub = lower.get(1).map_or("", String::as_str);
    let directive = format!("ntp-service {sub}");
    let directive = directive.trim_end();
    let at = At { line, directive };
    let mut args = words.iter().skip(2).copied().peekable();
    match sub {
        "refclock-master" => {
            if args.peek().is_some_and(|w| w.contains('.')) {
                let clock = args.next().unwrap_or("");
                if !clock.starts_with("127.127.1.") {
                    return Err(at.unsupported(
                        &format!("reference clock {clock}"),
                        "only the local clock (127.127.1.x) is supported",
                    ));
                }
                at.addr(clock)?;
            }
            let stratum = match args.next() {
                Some(word) => at.stratum(word)?,
                None => DEFAULT_MASTER_STRATUM,
            };
            at.end(&mut args)?;
            config.local_reference = Some(LocalReference { line, stratum });
            Ok(())
        }
        "unicast-server" | "unicast-peer" => {
            if args.peek().is_some_and(|w| w.eq_ignore_ascii_case("ipv6")) {
                args.next();
            }
            let address = at.next(&mut args, "an address")?;
            let mode = if sub == "unicast-server" { AssociationMode::Client } else { AssociationMode::SymmetricActive };
            let mut source = Source::new(line, mode, at.host(address)?);
            while let Some(option) = args.next() {
                match option.to_ascii_lowercase().as_str() {
                    "authentication-keyid" => source.key_id = Some(at.key_id(at.next(&mut args, "key id")?)?),
                    "version" => source.version = Some(at.version(at.next(&mut args, "version")?)?),
                    "preference" | "preferred" => source.prefer = true,
                    "minpoll" => source.min_poll = Some(at.poll(at.next(&mut args, "minpoll")?)?),
                    "maxpoll" => source.max_poll = Some(at.poll(at.next(&mut args, "maxpoll")?)?),
                    "burst" => source.burst = true,
                    "iburst" => source.iburst = true,
                    "source-interface" => {
                        // The interface name may be split (`gigabitethernet 0/1/0`).
                        at.next(&mut args, "an interface")?;
                        if args.peek().is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit())) {
                            args.next();
                        }
                        config.note(
                            line,
                            directive,
                            Severity::Warning,
                            "source-interface: a per-association source interface is not supported; the global one is used",
                        );
                    }
                    "vpn-instance" => {
                        return Err(at.unsupported(
                            "vpn-instance",
                            "VPN instances are not supported; the daemon uses the host's routing",
                        ));
                    }
                    "port" => return Err(at.unsupported("port", "sources are polled on port 123")),
                    _ => return Err(at.unknown_option(option)),
                }
            }
            config.sources.push(source);
            Ok(())
        }
        "authentication" => {
            let what = at.next(&mut args, "`enable`")?;
            if !what.eq_ignore_ascii_case("enable") {
                return Err(at.bad("argument", what, "`enable`"));
            }
            at.end(&mut args)?;
            config.require_authentication = true;
            Ok(())
        }
        "authentication-keyid" => key(config, &at, words.get(2..).unwrap_or(&[])),
        "reliable" => {
            let what = at.next(&mut args, "`authentication-keyid N`")?;
            if !what.eq_ignore_ascii_case("authentication-keyid") {
                return Err(at.bad("argument", what, "`authentication-keyid N`"));
            }
            let id = at.key_id(at.next(&mut args, "key id")?)?;
            at.end(&mut args)?;
            config.trusted_keys.push(id);
            Ok(())
        }
        "server" | "source-interface" => {
            if sub == "server" {
                let what = at.next(&mut args, "`source-interface IF`")?;
                if what.eq_ignore_ascii_case("disable") {
                    return Err(at.unsupported(
                        "ntp-service server disable",
                        "the daemon always serves time; deny clients with access rules",
                    ));
                }
                if !what.eq_ignore_ascii_case("source-interface") {
                    return Err(at.bad("argument", what, "`source-interface IF`"));
                }
            }
            let name: Vec<&str> = args.collect();
            if name.is_empty() {
                return Err(at.missing("an interface name"));
            }
            config.source_interface = Some(normalize_interface(&name.join(" ")));
            Ok(())
        }
        "enable" => {
            config.note(line, directive, Severity::Info, "NTP is always enabled here; no effect");
            Ok(())
        }
        "broadcast-server" | "broadcast-client" | "multicast-server" | "multicast-client" => {
            Err(at.err(ErrorKind::OutOfContext { why: "an interface command: put it under `interface NAME`" }))
        }
        "access"
        | "discard"
        | "max-dynamic-sessions"
        | "sync-interval"
        | "kod-enable"
        | "ipv6"
        | "port"
        | "dscp"
        | "refclock"
        | "manycast-client"
        | "manycast-server" => Err(at.unsupported(directive, "this VRP setting has no counterpart in the engine")),
        _ => Err(at.err(ErrorKind::UnknownDirective)),
    }
}

/// `ntp-service authentication-keyid N authentication-mode md5 [plain] SECRET`.
/// Nothing of the line is quoted in errors but the key id.
fn key(config: &mut NodeConfig, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
    let bad = |key_id, reason| at.err(ErrorKind::BadKeyLine { key_id, reason });
    let id = args
        .first()
        .and_then(|w| w.parse::<u32>().ok())
        .filter(|id| *id != 0)
        .ok_or_else(|| bad(None, "the key id is missing or not a number in 1..=4294967295"))?;
    if !args.get(1).is_some_and(|w| w.eq_ignore_ascii_case("authentication-mode")) {
        return Err(bad(Some(id), "expected `authentication-mode md5` after the key id"));
    }
    let mode = args.get(2).ok_or_else(|| bad(Some(id), "missing the authentication mode (md5)"))?;
    if !mode.eq_ignore_ascii_case("md5") {
        return Err(if mode.to_ascii_lowercase().starts_with("hmac") || mode.eq_ignore_ascii_case("sha1") {
            bad(Some(id), "only md5 keys are supported in VRP syntax (HMAC keys are not)")
        } else {
            bad(Some(id), "unknown authentication mode; expected md5")
        });
    }
    let mut rest = args.get(3..).unwrap_or(&[]);
    match rest.first() {
        Some(w) if w.eq_ignore_ascii_case("cipher") => {
            return Err(bad(
                Some(id),
                "a `cipher` secret is stored irreversibly encrypted and cannot be read; give it in plain text",
            ));
        }
        Some(w) if w.eq_ignore_ascii_case("plain") => rest = rest.get(1..).unwrap_or(&[]),
        _ => {}
    }
    let secret = match rest {
        [secret] => *secret,
        [] => return Err(bad(Some(id), "missing the secret")),
        _ => return Err(bad(Some(id), "unexpected text after the secret")),
    };
    if secret.starts_with("%^%#") || secret.starts_with("%@%@") || secret.starts_with("@%@%") {
        return Err(bad(Some(id), "the secret is in VRP's encrypted form and cannot be read; give it in plain text"));
    }
    add_inline_key(config, at, id, KeyType::Md5, secret.as_bytes())
}

fn interface_command(
    config: &mut NodeConfig,
    line: usize,
    index: usize,
    words: &[&str],
    lower: &[String],
) -> Result<(), ParseError> {
    let first = lower.first().map_or("", String::as_str);
    let second = lower.get(1).map_or("", String::as_str);
    let Some(interface) = config.interfaces.get_mut(index) else { return Ok(()) };
    match (first, second) {
        ("ip", "address") => {
            let at = At { line, directive: "ip address" };
            let mut args = words.iter().skip(2).copied();
            let addr = at.ipv4(at.next(&mut args, "an address")?)?;
            let mask = at.next(&mut args, "a netmask or prefix length")?;
            let len = if mask.contains('.') {
                at.netmask(mask)?
            } else {
                at.number("prefix length", mask, 0u8, 32, "0..=32")?
            };
            match args.next() {
                None => interface.address = Some((addr, len)),
                Some(word) if word.eq_ignore_ascii_case("sub") => {
                    config.note(line, "ip address", Severity::Info, "secondary address: not used for broadcast");
                }
                Some(other) => return Err(at.extra(other)),
            }
            Ok(())
        }
        ("ntp-service", "broadcast-server") => {
            let at = At { line, directive: "ntp-service broadcast-server" };
            let mut args = words.iter().skip(2).copied();
            let mut server = BroadcastServer { line, key_id: None, version: None, destination: None };
            while let Some(option) = args.next() {
                match option.to_ascii_lowercase().as_str() {
                    "authentication-keyid" => server.key_id = Some(at.key_id(at.next(&mut args, "key id")?)?),
                    "version" => server.version = Some(at.version(at.next(&mut args, "version")?)?),
                    "port" => return Err(at.unsupported("port", "broadcasts go to port 123")),
                    _ => return Err(at.unknown_option(option)),
                }
            }
            interface.broadcast = Some(server);
            Ok(())
        }
        ("ntp-service", "broadcast-client") => {
            interface.broadcast_client = Some(line);
            Ok(())
        }
        ("ntp-service", _) => Err(ParseError::new(
            line,
            &format!("ntp-service {second}"),
            ErrorKind::NotSupported {
                what: format!("ntp-service {second}"),
                why: "only broadcast-server and broadcast-client are read in an interface view",
            },
        )),
        _ => {
            if !matches!(first, "shutdown" | "undo" | "description") {
                // Only the command word: the next may be a secret (`password X`, `key-string X`).
                let directive = words.first().copied().unwrap_or("");
                config.note(line, directive, Severity::Info, "not an NTP command; ignored");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        assert_eq!(split_prompt("<HUAWEI> system-view"), Some(("HUAWEI", "system-view")));
        assert_eq!(split_prompt("[~HUAWEI] sysname DeviceC"), Some(("HUAWEI", "sysname DeviceC")));
        assert_eq!(split_prompt("[*DeviceC] commit"), Some(("DeviceC", "commit")));
        assert_eq!(
            split_prompt("[~DeviceC-GigabitEthernet0/1/0] ip address 10.0.1.31 24"),
            Some(("DeviceC-GigabitEthernet0/1/0", "ip address 10.0.1.31 24"))
        );
        assert_eq!(split_prompt("ntp-service unicast-peer 10.0.1.32"), None);
        assert_eq!(split_prompt("<I-TS-1>"), Some(("I-TS-1", "")));
    }
}
