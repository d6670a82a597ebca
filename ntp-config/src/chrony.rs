//! chronyd's `chrony.conf`.
//!
//! Read: `server` and `peer` (options `key`, `minpoll`, `maxpoll`,
//! `iburst`, `burst`, `prefer`, `version`, `port`), `allow`, `deny`,
//! `local [stratum N] [orphan]`, `keyfile`, `driftfile`, `ratelimit`,
//! `leapseclist`, `bindaddress`. A line whose first character is `!`, `;`,
//! `#` or `%` is a comment, as in chronyd.
//!
//! NTS (RFC 8915): the source options `nts` and `ntsport N` (the NTS-KE
//! port), and `ntsserverkey FILE`, `ntsservercert FILE` (both, once each:
//! one certificate), `ntsport N` (the NTS-KE server's port, default 4460),
//! `ntstrustedcerts [0] FILE` (repeatable), `ntsrotate SECONDS` (0: never),
//! and `ntsdumpdir DIR` (accepted; nothing is saved across restarts).
//!
//! ## `allow` and `deny`
//!
//! They decide who may use this node as a server, never which sources it
//! takes time from; chronyd serves nobody until an `allow` says so. So the
//! default class is `ignore`, `allow` makes a prefix `serve-only` (chronyd
//! answers time requests; its control port is `cmdallow`'s business),
//! `deny` makes it `ignore`, and configured sources stay usable (see
//! [`crate::SourceExemption`]). The most specific rule wins,
//! as in chronyd; `allow all`/`deny all` also drop the earlier rules for
//! the prefixes inside theirs, which is what `all` means there. A subnet
//! may be written short (`192.168` for 192.168.0.0/16).

use ntp_algo::{AccessClass, AssociationMode, Prefix};

use crate::detect::Dialect;
use crate::error::{ErrorKind, ParseError};
use crate::model::{
    AccessRule, AccessTarget, KeyFile, KeyFileFormat, LocalReference, NTS_KE_PORT, NodeConfig, NtsServerFiles, Orphan,
    Severity, Source, SourceExemption,
};
use crate::text::{At, numbered_lines};

/// Parses a `chrony.conf` text.
pub(crate) fn parse(text: &str) -> Result<NodeConfig, ParseError> {
    let mut config = NodeConfig::new(Dialect::Chrony);
    config.access.default = AccessClass::Ignore;
    config.access.sources_exempt = SourceExemption::Always;
    let mut nts = NtsServer::default();
    for (line, raw) in numbered_lines(text) {
        let trimmed = raw.trim_start();
        if trimmed.starts_with(['!', ';', '#', '%']) {
            continue;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let Some((&directive, args)) = words.split_first() else { continue };
        directive_line(&mut config, &mut nts, line, directive, args)?;
    }
    nts.finish(&mut config)?;
    Ok(config)
}

/// The NTS-KE server's directives, which may come in any order: a path and
/// its line each.
#[derive(Default)]
struct NtsServer {
    key: Option<(usize, String)>,
    cert: Option<(usize, String)>,
    port: Option<(usize, u16)>,
    rotate: Option<usize>,
}

impl NtsServer {
    fn path(slot: &mut Option<(usize, String)>, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied();
        let path = at.next(&mut words, "file path")?;
        at.end(&mut words)?;
        if slot.is_some() {
            return Err(at.unsupported(
                &format!("a second {}", at.directive),
                "the NTS-KE server presents one certificate with one key",
            ));
        }
        *slot = Some((at.line, path.to_owned()));
        Ok(())
    }

    /// The server is on when both files are named; one without the other
    /// is an error on its line, as chronyd refuses to start then.
    fn finish(self, config: &mut NodeConfig) -> Result<(), ParseError> {
        match (self.key, self.cert) {
            (Some((key_line, key)), Some((_, cert))) => {
                config.nts_server = Some(NtsServerFiles {
                    line: key_line,
                    cert_path: cert.into(),
                    key_path: key.into(),
                    port: self.port.map_or(NTS_KE_PORT, |(_, port)| port),
                });
            }
            (Some((line, _)), None) => {
                return Err(At { line, directive: "ntsserverkey" }.missing("an `ntsservercert` for this key"));
            }
            (None, Some((line, _))) => {
                return Err(At { line, directive: "ntsservercert" }.missing("an `ntsserverkey` for this certificate"));
            }
            (None, None) => {
                for (line, directive) in self
                    .port
                    .map(|(line, _)| (line, "ntsport"))
                    .into_iter()
                    .chain(self.rotate.map(|l| (l, "ntsrotate")))
                {
                    config.note(
                        line,
                        directive,
                        Severity::Warning,
                        "no effect without an NTS-KE server (ntsserverkey)",
                    );
                }
            }
        }
        Ok(())
    }
}

fn directive_line(
    config: &mut NodeConfig,
    nts: &mut NtsServer,
    line: usize,
    directive: &str,
    args: &[&str],
) -> Result<(), ParseError> {
    let at = At { line, directive };
    let mut words = args.iter().copied();
    match directive {
        "ntsserverkey" => NtsServer::path(&mut nts.key, &at, args),
        "ntsservercert" => NtsServer::path(&mut nts.cert, &at, args),
        "ntsport" => {
            let port = at.number("port", at.next(&mut words, "port")?, 1u16, u16::MAX, "1..=65535")?;
            at.end(&mut words)?;
            nts.port = Some((line, port));
            Ok(())
        }
        "ntstrustedcerts" => {
            let first = at.next(&mut words, "certificate file")?;
            let path = match words.next() {
                // `ntstrustedcerts SET FILE`: only the default set 0, as the
                // `certset` source option is not supported.
                Some(path) => {
                    at.number("certificate set", first, 0u32, 0, "0 (other sets need `certset`)")?;
                    path
                }
                None => first,
            };
            at.end(&mut words)?;
            config.nts_trusted_certs.push(path.into());
            Ok(())
        }
        "ntsrotate" => {
            let seconds = at.number("interval", at.next(&mut words, "seconds")?, 0u32, u32::MAX, "0..=4294967295 seconds")?;
            at.end(&mut words)?;
            config.nts_rotate = Some(seconds);
            nts.rotate = Some(line);
            Ok(())
        }
        "ntsdumpdir" | "ntscachedir" => {
            at.next(&mut words, "directory")?;
            at.end(&mut words)?;
            config.note(
                line,
                directive,
                Severity::Info,
                "NTS keys and cookies are not saved: after a restart clients run NTS-KE again",
            );
            Ok(())
        }
        "server" | "peer" => source(config, &at, args),
        "pool" => Err(at.unsupported(directive, "DNS pools are not supported; list each server with `server`")),
        "allow" | "deny" => access(config, &at, args),
        "local" => local(config, &at, args),
        "keyfile" => {
            let path = at.next(&mut words, "key file path")?;
            at.end(&mut words)?;
            config.key_files.push(KeyFile { line, path: path.to_owned(), format: KeyFileFormat::ChronyKeys });
            Ok(())
        }
        "driftfile" => {
            let path = at.next(&mut words, "drift file path")?;
            at.end(&mut words)?;
            config.drift_file = Some(path.to_owned());
            Ok(())
        }
        "leapseclist" => {
            let path = at.next(&mut words, "leap-seconds.list path")?;
            at.end(&mut words)?;
            config.leap_file = Some(path.to_owned());
            Ok(())
        }
        "leapsectz" => Err(at.unsupported(
            directive,
            "leap seconds are not read from the system's time zone database; use `leapseclist` with a leap-seconds.list file",
        )),
        "ratelimit" => ratelimit(config, &at, args),
        "bindaddress" => {
            let addr = at.addr(at.next(&mut words, "address")?)?;
            at.end(&mut words)?;
            config.listen_addresses.push(addr);
            Ok(())
        }
        "refclock" => Err(at.unsupported(
            directive,
            "reference clock drivers are not supported; serve the local clock with `local stratum N`",
        )),
        "logdir" | "log" | "dumpdir" | "pidfile" | "user" | "lock_all" | "sched_priority"
        | "mailonchange" | "logchange" | "logbanner" | "noclientlog" | "clientloglimit" | "rtcsync" | "rtcfile"
        | "rtcdevice" | "rtconutc" | "rtcautotrim" | "hwclockfile" | "cmdport" | "bindcmdaddress" | "cmdallow"
        | "cmddeny" | "bindacqaddress" | "acquisitionport" | "dscp" => {
            config.note(line, directive, Severity::Info, "daemon housekeeping, logging or chronyc access: no effect here");
            Ok(())
        }
        "makestep" | "maxupdateskew" | "maxchange" | "maxslewrate" | "corrtimeratio" | "maxdrift" => {
            config.note(
                line,
                directive,
                Severity::Warning,
                "the engine's discipline (RFC 5905: step above 0.128 s) is used instead",
            );
            Ok(())
        }
        "sourcedir" | "confdir" | "include" => Err(at.unsupported(
            directive,
            "the parser reads one text and opens no file; concatenate the included files instead",
        )),
        "broadcast" => Err(at.unsupported(directive, "chronyd's broadcast server is not supported; use `peer` or `server`")),
        "initstepslew" | "manual" | "smoothtime" | "tempcomp" | "hwtimestamp" | "hwtsinterface" | "ptpport"
        | "minsources" | "maxdistance" | "maxjitter" | "reselectdist" | "stratumweight" | "combinelimit"
        | "maxclockerror" | "maxsamples" | "minsamples" | "clockprecision" | "fallbackdrift" | "port" | "authselectmode"
        | "nocerttimecheck" | "ntpsigndsocket" | "ntsprocesses" | "maxntsconnections" | "ntsntpserver"
        | "ntsratelimit" | "ntsserverrefresh" | "leapsecmode" | "cmdratelimit" | "opencommands" => {
            Err(at.unsupported(directive, "this chronyd setting has no counterpart in the engine"))
        }
        _ => Err(at.err(ErrorKind::UnknownDirective)),
    }
}

fn source(config: &mut NodeConfig, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
    let mut words = args.iter().copied();
    let address = at.next(&mut words, "address")?;
    let mode = if at.directive == "server" { AssociationMode::Client } else { AssociationMode::SymmetricActive };
    let mut source = Source::new(at.line, mode, at.host(address)?);
    while let Some(option) = words.next() {
        match option {
            "key" => source.key_id = Some(at.key_id(at.next(&mut words, "key id")?)?),
            "minpoll" => source.min_poll = Some(at.poll(at.next(&mut words, "minpoll")?)?),
            "maxpoll" => source.max_poll = Some(at.poll(at.next(&mut words, "maxpoll")?)?),
            "version" => source.version = Some(at.version(at.next(&mut words, "version")?)?),
            "port" => source.port = at.number("port", at.next(&mut words, "port")?, 1u16, u16::MAX, "1..=65535")?,
            "iburst" => source.iburst = true,
            "burst" => source.burst = true,
            "prefer" => source.prefer = true,
            "nts" => source.nts = true,
            "ntsport" => {
                source.nts_ke_port =
                    Some(at.number("ntsport", at.next(&mut words, "ntsport")?, 1u16, u16::MAX, "1..=65535")?);
            }
            "noselect" | "trust" | "require" | "xleave" | "offline" | "auto_offline" | "polltarget" | "presend"
            | "minstratum" | "maxdelay" | "maxdelayratio" | "maxdelaydevratio" | "maxdelayquant" | "mindelay"
            | "asymmetry" | "offset" | "minsamples" | "maxsamples" | "filter" | "certset" | "copy" | "extfield"
            | "maxsources" => {
                return Err(at.unsupported(option, "this source option has no counterpart in the engine"));
            }
            other => return Err(at.unknown_option(other)),
        }
    }
    nts_source_rules(config, at, &source)?;
    config.sources.push(source);
    Ok(())
}

/// NTS protects client associations, instead of a key (RFC 8915).
pub(crate) fn nts_source_rules(config: &mut NodeConfig, at: &At<'_>, source: &Source) -> Result<(), ParseError> {
    if source.nts && source.key_id.is_some() {
        return Err(at.bad("option", "nts", "either `key` or `nts`, not both"));
    }
    if source.nts && source.mode != AssociationMode::Client {
        return Err(at.unsupported("nts", "NTS (RFC 8915) protects client associations only: use `server`"));
    }
    if !source.nts && source.nts_ke_port.is_some() {
        config.note(at.line, at.directive, Severity::Warning, "ntsport has no effect without `nts`");
    }
    Ok(())
}

fn access(config: &mut NodeConfig, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
    let mut words = args.iter().copied().peekable();
    let all = words.peek() == Some(&"all");
    if all {
        words.next();
    }
    let class = if at.directive == "allow" { AccessClass::ServeOnly } else { AccessClass::Ignore };
    let Some(subnet) = words.next() else {
        // A bare `allow`/`deny` applies to every address.
        if all {
            config.access.rules.clear();
        }
        config.access.default = class;
        config.access.default_line = Some(at.line);
        return Ok(());
    };
    at.end(&mut words)?;
    let prefix = chrony_subnet(at, subnet)?;
    if all {
        config.access.rules.retain(|rule| match rule.target {
            AccessTarget::Prefix(inner) => !contains(prefix, inner),
            AccessTarget::Name(_) => true,
        });
    }
    config.access.rules.push(AccessRule { line: at.line, target: AccessTarget::Prefix(prefix), class });
    Ok(())
}

/// chronyd's subnet forms: `A/N`, a full address, or 1 to 3 IPv4 octets
/// standing for a /8, /16 or /24.
fn chrony_subnet(at: &At<'_>, word: &str) -> Result<Prefix, ParseError> {
    let (addr, len) = match word.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (word, None),
    };
    let octets: Vec<&str> = addr.split('.').collect();
    if (1..4).contains(&octets.len()) && octets.iter().all(|o| o.parse::<u8>().is_ok()) {
        let mut full = octets.clone();
        full.resize(4, "0");
        let bits = match len {
            Some(len) => at.number("prefix length", len, 0u8, 32, "0..=32")?,
            None => u8::try_from(octets.len() * 8).unwrap_or(32),
        };
        return at.network(at.addr(&full.join("."))?, bits);
    }
    at.prefix(word)
}

/// Whether `inner` lies inside `outer`.
fn contains(outer: Prefix, inner: Prefix) -> bool {
    outer.prefix_len() <= inner.prefix_len() && outer.contains(inner.addr())
}

fn local(config: &mut NodeConfig, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
    let mut words = args.iter().copied();
    // chronyd's default local stratum.
    let mut stratum = 10;
    let mut orphan = false;
    while let Some(option) = words.next() {
        match option {
            "stratum" => stratum = at.stratum(at.next(&mut words, "stratum")?)?,
            "orphan" => orphan = true,
            "distance" | "activate" | "waitsynced" | "waitunsynced" => {
                return Err(at.unsupported(option, "this `local` option has no counterpart in the engine"));
            }
            other => return Err(at.unknown_option(other)),
        }
    }
    if orphan {
        // chronyd's orphan option is ntpd's orphan mode: of the servers
        // configured alike, the one with the smallest reference id serves.
        config.orphan = Some(Orphan { line: at.line, stratum, wait: None });
    } else {
        config.local_reference = Some(LocalReference { line: at.line, stratum });
    }
    Ok(())
}

fn ratelimit(config: &mut NodeConfig, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
    let mut words = args.iter().copied();
    let mut limit = config.rate_limit.unwrap_or_default();
    // chronyd drops limited requests silently unless `kod` is given.
    limit.send_kod = false;
    while let Some(option) = words.next() {
        match option {
            "interval" => {
                limit.average_log2 =
                    at.number("interval", at.next(&mut words, "interval")?, 0i8, 12, "0..=12 (log2 seconds)")?;
            }
            "burst" => limit.burst = at.number("burst", at.next(&mut words, "burst")?, 1u32, 255, "1..=255")?,
            "leak" => {
                at.number("leak", at.next(&mut words, "leak")?, 0u8, 4, "0..=4")?;
                config.note(
                    at.line,
                    at.directive,
                    Severity::Warning,
                    "leak: the engine answers no limited request (it leaks none)",
                );
            }
            "kod" => {
                at.number("kod", at.next(&mut words, "kod")?, 0u8, 4, "0..=4")?;
                limit.send_kod = true;
            }
            other => return Err(at.unknown_option(other)),
        }
    }
    // The engine also enforces a minimum spacing; keep it no longer than the average.
    limit.minimum_log2 = limit.minimum_log2.min(limit.average_log2);
    config.rate_limit = Some(limit);
    Ok(())
}
