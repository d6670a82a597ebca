//! ntpd / NTPsec `ntp.conf`.
//!
//! Read: `server`, `peer`, `broadcast` (options `key`, `iburst`, `burst`,
//! `minpoll`, `maxpoll`, `prefer`, `version`), `broadcastclient`, `keys`,
//! `trustedkey`, `controlkey`, `restrict`, the local clock driver
//! (`server 127.127.1.0` with `fudge 127.127.1.0 stratum N`), `tos orphan`,
//! `tos orphanwait`, `discard`, `leapfile`, `driftfile`, `enable`/`disable`.
//! Everything after `#` is a comment.
//!
//! NTS (RFC 8915), as NTPsec writes it: the source option `nts`, and the
//! `nts` directive with `enable`, `disable`, `key FILE`, `cert FILE` and
//! `ca FILE` (trusted certificates for NTS-KE servers; repeatable). As in
//! NTPsec, `nts enable` without `key`/`cert` uses `/etc/ntp/key.pem` and
//! `/etc/ntp/cert-chain.pem`; the NTS-KE server listens on port 4460.
//!
//! ## `restrict`
//!
//! ntpd's flags become the engine's access classes: `ignore` is `ignore`;
//! otherwise time service is allowed unless `noserve`, control queries
//! unless `noquery`, and mobilizing a symmetric peer unless `nopeer`:
//! all three is `peer`, time and queries `serve`, time only `serve-only`,
//! queries only `query-only`, neither `ignore`. As in ntpd the longest
//! matching prefix wins, and configured sources stay usable whatever these
//! flags say (see [`crate::SourceExemption`]). `limited` turns
//! on the responder's rate limit (for every source: the engine has one
//! limit, not one per rule), and `kod` makes it answer with KoD RATE.
//! `nomodify`, `notrap`, `nomrulist` and `lowpriotrap` concern ntpd's mode 6
//! writes, traps and mode 7, which the engine does not have: accepted with
//! a note.

use ntp_algo::{AccessClass, AssociationMode};

use crate::detect::Dialect;
use crate::error::{ErrorKind, ParseError};
use crate::model::{
    AccessRule, AccessTarget, Host, KeyFile, KeyFileFormat, LocalReference, NTS_KE_PORT, NodeConfig, NtsServerFiles,
    Orphan, Severity, Source, SourceExemption,
};
use crate::text::{At, numbered_lines, trusted_list};

/// Autokey (RFC 5906) is broken by design and gone from NTPsec.
const AUTOKEY: &str = "Autokey (RFC 5906) is not implemented; use symmetric keys (`key N`)";

/// Parses an `ntp.conf` text.
pub(crate) fn parse(text: &str) -> Result<NodeConfig, ParseError> {
    let mut parser = Parser {
        config: NodeConfig::new(Dialect::NtpConf),
        fudge: None,
        local_line: None,
        limited: None,
        nts: NtsDirectives::default(),
    };
    parser.config.access.sources_exempt = SourceExemption::UnlessIgnored;
    for (line, raw) in numbered_lines(text) {
        let content = raw.split('#').next().unwrap_or("");
        let words: Vec<&str> = content.split_whitespace().collect();
        let Some((&directive, args)) = words.split_first() else { continue };
        parser.directive(line, directive, args)?;
    }
    parser.finish()
}

struct Parser {
    config: NodeConfig,
    /// The last `fudge 127.127.1.x stratum N`: line and stratum.
    fudge: Option<(usize, u8)>,
    /// The line of `server 127.127.1.x`.
    local_line: Option<usize>,
    /// `restrict ... limited` seen (line), and whether with `kod`.
    limited: Option<(usize, bool)>,
    /// What the `nts` lines said about the NTS-KE server.
    nts: NtsDirectives,
}

/// NTPsec's defaults for the NTS-KE server's files.
const NTPSEC_NTS_KEY: &str = "/etc/ntp/key.pem";
const NTPSEC_NTS_CERT: &str = "/etc/ntp/cert-chain.pem";

/// The `nts` lines' server settings, applied at the end (they may come in
/// any order): each with its line.
#[derive(Default)]
struct NtsDirectives {
    enabled: Option<usize>,
    key: Option<(usize, String)>,
    cert: Option<(usize, String)>,
}

impl Parser {
    fn directive(&mut self, line: usize, directive: &str, args: &[&str]) -> Result<(), ParseError> {
        let at = At { line, directive };
        let mut words = args.iter().copied();
        match directive {
            "server" | "peer" | "broadcast" => self.source(&at, args),
            "pool" | "manycastclient" | "manycastserver" | "multicastclient" => Err(at.unsupported(
                directive,
                "sources found by DNS round robin or multicast discovery are not supported; list each server with `server`",
            )),
            "unpeer" => Err(at.unsupported(directive, "the file describes the configuration; leave the source out")),
            "refclock" => Err(at.unsupported(directive, "reference clock drivers are not supported; the local clock is `server 127.127.1.0`")),
            "fudge" => self.fudge(&at, args),
            "broadcastclient" => {
                match words.next() {
                    None => {}
                    Some("novolley") => self.config.note(
                        line,
                        directive,
                        Severity::Warning,
                        "novolley: the engine always calibrates the delay with a few client exchanges first",
                    ),
                    Some(other) => return Err(at.unknown_option(other)),
                }
                at.end(&mut words)?;
                self.config.broadcast_client = Some(line);
                Ok(())
            }
            "keys" => {
                let path = at.next(&mut words, "key file path")?;
                at.end(&mut words)?;
                self.config.key_files.push(KeyFile { line, path: path.to_owned(), format: KeyFileFormat::NtpKeys });
                Ok(())
            }
            "trustedkey" => {
                let ids = trusted_list(&at, &args.join(" "))?;
                self.config.trusted_keys.extend(ids);
                Ok(())
            }
            "controlkey" => {
                let id = at.key_id(at.next(&mut words, "key id")?)?;
                at.end(&mut words)?;
                self.config.control_key = Some(id);
                Ok(())
            }
            "requestkey" => {
                at.key_id(at.next(&mut words, "key id")?)?;
                at.end(&mut words)?;
                self.config.note(line, directive, Severity::Info, "mode 7 (ntpdc) is not implemented; no effect");
                Ok(())
            }
            "restrict" => self.restrict(&at, args),
            "discard" => self.discard(&at, args),
            "tos" => self.tos(&at, args),
            "leapfile" => {
                let path = at.next(&mut words, "leap file path")?;
                at.end(&mut words)?;
                self.config.leap_file = Some(path.to_owned());
                Ok(())
            }
            "driftfile" => {
                let path = at.next(&mut words, "drift file path")?;
                if let Some(tolerance) = words.next() {
                    at.number("tolerance", tolerance, 0.0f64, 1.0, "0..=1 (ppm)")?;
                    self.config.note(line, directive, Severity::Info, "the wander tolerance is not used");
                }
                at.end(&mut words)?;
                self.config.drift_file = Some(path.to_owned());
                Ok(())
            }
            "enable" | "disable" => self.flags(&at, args),
            "interface" | "nic" => self.interface(&at, args),
            "statsdir" | "statistics" | "filegen" | "logfile" | "logconfig" | "saveconfigdir" | "setvar" | "mru"
            | "rlimit" => {
                self.config.note(line, directive, Severity::Info, "monitoring and daemon housekeeping: no effect here");
                Ok(())
            }
            "crypto" | "automax" | "revoke" | "ident" | "keysdir" => Err(at.unsupported(directive, AUTOKEY)),
            "nts" => self.nts(&at, args),
            "includefile" | "include" => Err(at.unsupported(
                directive,
                "the parser reads one text and opens no file; concatenate the included file instead",
            )),
            "tinker" | "broadcastdelay" | "trap" | "phone" | "ttl" | "mdnstries" | "reset" | "dscp" => {
                Err(at.unsupported(directive, "this setting of ntpd has no counterpart in the engine"))
            }
            _ => Err(at.err(ErrorKind::UnknownDirective)),
        }
    }

    fn source(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied().peekable();
        // `-4`/`-6` force the address family of a name's lookup; the
        // resolver is the caller's, so they only need to be accepted.
        while matches!(words.peek(), Some(&"-4") | Some(&"-6")) {
            words.next();
        }
        let address = at.next(&mut words, "address")?;
        if let Some(rest) = address.strip_prefix("127.127.") {
            return self.local_clock(at, rest, words);
        }
        let mode = match at.directive {
            "server" => AssociationMode::Client,
            "peer" => AssociationMode::SymmetricActive,
            _ => AssociationMode::BroadcastServer,
        };
        let mut source = Source::new(at.line, mode, at.host(address)?);
        while let Some(option) = words.next() {
            match option {
                "key" => source.key_id = Some(at.key_id(at.next(&mut words, "key id")?)?),
                "minpoll" => source.min_poll = Some(at.poll(at.next(&mut words, "minpoll")?)?),
                "maxpoll" => source.max_poll = Some(at.poll(at.next(&mut words, "maxpoll")?)?),
                "version" => source.version = Some(at.version(at.next(&mut words, "version")?)?),
                "iburst" => source.iburst = true,
                "burst" => source.burst = true,
                "prefer" => source.prefer = true,
                "ttl" if mode == AssociationMode::BroadcastServer => {
                    at.number("ttl", at.next(&mut words, "ttl")?, 0u8, 255, "0..=255")?;
                    self.config.note(at.line, at.directive, Severity::Info, "ttl applies to multicast only; no effect");
                }
                "autokey" => return Err(at.unsupported(option, AUTOKEY)),
                "nts" => source.nts = true,
                "noval" | "ca" | "aead" | "expire" => {
                    return Err(at.unsupported(
                        option,
                        "per-server NTS settings are not supported; `nts ca FILE` trusts certificates for all",
                    ));
                }
                "noselect" | "true" | "preempt" | "xleave" | "mode" | "ident" | "bias" | "refid" | "ttl"
                | "minjitter" => {
                    return Err(at.unsupported(option, "this source option has no counterpart in the engine"));
                }
                other => return Err(at.unknown_option(other)),
            }
        }
        crate::chrony::nts_source_rules(&mut self.config, at, &source)?;
        self.config.sources.push(source);
        Ok(())
    }

    /// NTPsec's `nts` directive: several settings may share a line.
    fn nts(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied();
        if args.is_empty() {
            return Err(at.missing("`enable`, `disable`, `key FILE`, `cert FILE` or `ca FILE`"));
        }
        while let Some(option) = words.next() {
            match option {
                "enable" => self.nts.enabled = Some(at.line),
                "disable" => self.nts.enabled = None,
                "key" => self.nts.key = Some((at.line, at.next(&mut words, "key file")?.to_owned())),
                "cert" => self.nts.cert = Some((at.line, at.next(&mut words, "certificate file")?.to_owned())),
                "ca" => self.config.nts_trusted_certs.push(at.next(&mut words, "CA file")?.into()),
                "mintls" | "maxtls" | "tlsciphersuites" | "tlsecdhcurves" | "cookie" | "aead" => {
                    return Err(at.unsupported(
                        option,
                        "TLS 1.3 with rustls's defaults and AES-SIV-CMAC-256 are fixed; cookie keys are not saved",
                    ));
                }
                other => return Err(at.unknown_option(other)),
            }
        }
        Ok(())
    }

    /// `server 127.127.T.U`: only the local clock driver (type 1).
    fn local_clock<'w>(
        &mut self,
        at: &At<'_>,
        rest: &str,
        mut words: impl Iterator<Item = &'w str>,
    ) -> Result<(), ParseError> {
        let driver = rest.split('.').next().unwrap_or("");
        if driver != "1" || at.directive != "server" {
            return Err(at.unsupported(
                &format!("reference clock 127.127.{rest}"),
                "only the local clock driver (`server 127.127.1.0`) is supported",
            ));
        }
        at.addr(&format!("127.127.{rest}"))?;
        while let Some(option) = words.next() {
            match option {
                "prefer" | "iburst" | "burst" => {}
                "minpoll" | "maxpoll" => {
                    at.poll(at.next(&mut words, "poll interval")?)?;
                }
                other => return Err(at.unknown_option(other)),
            }
        }
        self.local_line = Some(at.line);
        Ok(())
    }

    fn fudge(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied();
        let clock = at.next(&mut words, "reference clock address")?;
        if !clock.starts_with("127.127.1.") {
            return Err(
                at.unsupported(&format!("fudge {clock}"), "only the local clock driver (127.127.1.x) is supported")
            );
        }
        at.addr(clock)?;
        let mut stratum = None;
        while let Some(option) = words.next() {
            match option {
                "stratum" => {
                    // 0 is allowed: a local clock disciplined by other means
                    // (the node then serves stratum 1).
                    stratum = Some(at.number("stratum", at.next(&mut words, "stratum")?, 0u8, 14, "0..=14")?);
                }
                "refid" => {
                    at.next(&mut words, "refid")?;
                    self.config.note(
                        at.line,
                        at.directive,
                        Severity::Info,
                        "refid: the engine announces LOCL for its local clock",
                    );
                }
                "time1" | "time2" | "flag1" | "flag2" | "flag3" | "flag4" => {
                    return Err(at.unsupported(option, "the local clock has no calibration to fudge"));
                }
                other => return Err(at.unknown_option(other)),
            }
        }
        if let Some(stratum) = stratum {
            self.fudge = Some((at.line, stratum));
        }
        Ok(())
    }

    fn restrict(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied().peekable();
        let mut family = None;
        while let Some(&flag @ ("-4" | "-6")) = words.peek() {
            family = Some(flag);
            words.next();
        }
        let target = at.next(&mut words, "address or `default`")?;
        if target == "source" {
            return Err(at.unsupported(
                "restrict source",
                "restrictions for pool-mobilized servers do not apply: pools are not supported",
            ));
        }
        let mut mask = None;
        if words.peek() == Some(&"mask") {
            words.next();
            mask = Some(at.next(&mut words, "netmask")?);
        }
        let (mut serve, mut query, mut peer, mut ignore) = (true, true, true, false);
        for flag in words {
            match flag {
                "ignore" => ignore = true,
                "noserve" => serve = false,
                "noquery" => query = false,
                "nopeer" => peer = false,
                "limited" => self.limited = Some((at.line, self.limited.is_some_and(|(_, kod)| kod))),
                "kod" => {
                    let line = self.limited.map_or(at.line, |(line, _)| line);
                    self.limited = Some((line, true));
                }
                "nomodify" | "notrap" | "nomrulist" | "lowpriotrap" | "noepeer" => {}
                "notrust" | "ntpport" | "version" | "mssntp" | "flake" | "interface" | "serverresponse" => {
                    return Err(at.unsupported(flag, "this restrict flag has no counterpart in the engine"));
                }
                other => return Err(at.unknown_option(other)),
            }
        }
        let class = if ignore {
            AccessClass::Ignore
        } else {
            match (serve, query, peer) {
                (true, true, true) => AccessClass::Peer,
                (true, true, false) => AccessClass::Serve,
                (true, false, _) => AccessClass::ServeOnly,
                (false, true, _) => AccessClass::QueryOnly,
                (false, false, _) => AccessClass::Ignore,
            }
        };
        let targets = if target == "default" {
            match (family, mask) {
                (_, Some(_)) => return Err(at.bad("mask", mask.unwrap_or(""), "no mask with `default`")),
                (None, _) => {
                    self.config.access.default = class;
                    self.config.access.default_line = Some(at.line);
                    return Ok(());
                }
                (Some("-4"), _) => vec![at.prefix("0.0.0.0/0")?],
                (Some(_), _) => vec![at.prefix("::/0")?],
            }
        } else {
            let addr = match crate::text::parse_host(target) {
                Some(Host::Addr(addr)) => addr,
                Some(Host::Name(name)) if mask.is_none() => {
                    self.config.access.rules.push(AccessRule {
                        line: at.line,
                        target: AccessTarget::Name(name),
                        class,
                    });
                    return Ok(());
                }
                _ => return Err(at.bad("address", target, "an address, a host name or `default`")),
            };
            let len = match mask {
                Some(mask) if addr.is_ipv4() => at.netmask(mask)?,
                Some(mask) => {
                    let mask: std::net::Ipv6Addr =
                        mask.parse().map_err(|_| at.bad("netmask", mask, "an IPv6 netmask"))?;
                    let bits = u128::from(mask);
                    let len = bits.leading_ones();
                    if bits.checked_shl(len).unwrap_or(0) != 0 {
                        return Err(at.bad("netmask", &mask.to_string(), "a contiguous netmask"));
                    }
                    len as u8
                }
                None if addr.is_ipv4() => 32,
                None => 128,
            };
            vec![at.network(addr, len)?]
        };
        for prefix in targets {
            self.config.access.rules.push(AccessRule { line: at.line, target: AccessTarget::Prefix(prefix), class });
        }
        Ok(())
    }

    fn discard(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied();
        let mut limit = self.config.rate_limit.unwrap_or_default();
        if words.len() == 0 {
            return Err(at.missing("`average`, `minimum` or `monitor`"));
        }
        while let Some(option) = words.next() {
            match option {
                "average" => {
                    limit.average_log2 =
                        at.number("average", at.next(&mut words, "average")?, 0i8, 16, "0..=16 (log2 seconds)")?
                }
                "minimum" => {
                    limit.minimum_log2 =
                        at.number("minimum", at.next(&mut words, "minimum")?, 0i8, 16, "0..=16 (log2 seconds)")?
                }
                "monitor" => {
                    at.number("monitor", at.next(&mut words, "monitor")?, 0u32, u32::MAX, "a number")?;
                    self.config.note(
                        at.line,
                        at.directive,
                        Severity::Info,
                        "monitor: the MRU list is not kept; no effect",
                    );
                }
                other => return Err(at.unknown_option(other)),
            }
        }
        self.config.rate_limit = Some(limit);
        Ok(())
    }

    fn tos(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied();
        if words.len() == 0 {
            return Err(at.missing("`orphan N` or `orphanwait S`"));
        }
        while let Some(option) = words.next() {
            match option {
                "orphan" => {
                    let stratum = at.stratum(at.next(&mut words, "orphan stratum")?)?;
                    let wait = self.config.orphan.and_then(|o| o.wait);
                    self.config.orphan = Some(Orphan { line: at.line, stratum, wait });
                }
                "orphanwait" => {
                    let wait = at.number(
                        "orphanwait",
                        at.next(&mut words, "seconds")?,
                        0.0f64,
                        86_400.0,
                        "0..=86400 seconds",
                    )?;
                    match self.config.orphan.as_mut() {
                        Some(orphan) => orphan.wait = Some(wait),
                        None => self.config.orphan = Some(Orphan { line: at.line, stratum: 0, wait: Some(wait) }),
                    }
                }
                "minclock" | "maxclock" | "minsane" | "mindist" | "maxdist" | "ceiling" | "floor" | "cohort"
                | "beacon" | "bcpollbstep" | "maxdisp" => {
                    return Err(at.unsupported(
                        option,
                        "the selection constants are the engine's; only `orphan` and `orphanwait` are read",
                    ));
                }
                other => return Err(at.unknown_option(other)),
            }
        }
        Ok(())
    }

    fn flags(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        if args.is_empty() {
            return Err(at.missing("a flag"));
        }
        let enable = at.directive == "enable";
        for &flag in args {
            match (flag, enable) {
                ("auth", true) => self.config.note(
                    at.line,
                    at.directive,
                    Severity::Info,
                    "ntpd's default: an unconfigured symmetric peer must authenticate, as the engine always requires",
                ),
                ("auth", false) => {
                    return Err(at.unsupported(
                        "disable auth",
                        "unauthenticated, unconfigured peers are accepted only by an access rule of class peer",
                    ));
                }
                ("bclient", true) => self.config.broadcast_client = Some(at.line),
                ("bclient", false) => self.config.broadcast_client = None,
                ("ntp", false) => {
                    return Err(at.unsupported("disable ntp", "the engine always disciplines the clock it is given"));
                }
                ("ntp", true) | ("kernel", _) | ("monitor", _) | ("stats", _) | ("calibrate", _) | ("mode7", false) => {
                    self.config.note(at.line, at.directive, Severity::Info, format!("{flag}: no effect here"));
                }
                ("pps", _)
                | ("mode7", true)
                | ("peer_clear_digest_early", _)
                | ("unpeer_crypto_early", _)
                | ("unpeer_crypto_nak_early", _)
                | ("unpeer_digest_early", _) => {
                    return Err(at.unsupported(flag, "this ntpd switch has no counterpart in the engine"));
                }
                (other, _) => return Err(at.unknown_option(other)),
            }
        }
        Ok(())
    }

    fn interface(&mut self, at: &At<'_>, args: &[&str]) -> Result<(), ParseError> {
        let mut words = args.iter().copied();
        let action = at.next(&mut words, "`listen`, `ignore` or `drop`")?;
        let which = at.next(&mut words, "an address")?;
        at.end(&mut words)?;
        match action {
            "listen" => {
                let addr = at.addr(which)?;
                self.config.listen_addresses.push(addr);
                Ok(())
            }
            "ignore" | "drop" => Err(at.unsupported(
                &format!("{} {action}", at.directive),
                "list the addresses to use with `interface listen A`",
            )),
            other => Err(at.unknown_option(other)),
        }
    }

    fn finish(mut self) -> Result<NodeConfig, ParseError> {
        let nts = core::mem::take(&mut self.nts);
        match nts.enabled {
            Some(line) => {
                if nts.key.is_none() || nts.cert.is_none() {
                    self.config.note(
                        line,
                        "nts",
                        Severity::Info,
                        "NTS-KE server files not all given: NTPsec's defaults /etc/ntp/key.pem and /etc/ntp/cert-chain.pem",
                    );
                }
                self.config.nts_server = Some(NtsServerFiles {
                    line,
                    cert_path: nts.cert.map_or_else(|| NTPSEC_NTS_CERT.to_owned(), |(_, p)| p).into(),
                    key_path: nts.key.map_or_else(|| NTPSEC_NTS_KEY.to_owned(), |(_, p)| p).into(),
                    port: NTS_KE_PORT,
                });
            }
            None => {
                for line in nts.key.iter().chain(nts.cert.iter()).map(|(line, _)| *line) {
                    self.config.note(line, "nts", Severity::Warning, "no effect without `nts enable`");
                }
            }
        }
        if let Some((line, kod)) = self.limited {
            let mut limit = self.config.rate_limit.unwrap_or_default();
            limit.send_kod = kod;
            self.config.rate_limit = Some(limit);
            self.config.note(
                line,
                "restrict",
                Severity::Warning,
                "limited: the engine rate-limits every source alike, not only this rule's",
            );
        } else if self.config.rate_limit.is_some() {
            // `discard` alone sets the parameters; ntpd applies them only to
            // `limited` rules, so without one there is no limit.
            self.config.rate_limit = None;
        }
        match (self.local_line, self.fudge) {
            (Some(line), fudge) => {
                // ntpd's local clock driver is a source at stratum 5 unless
                // fudged (refclock_local.c), and like any source it puts
                // the node one stratum below it: `fudge ... stratum 10`
                // serves stratum 11. The engine takes the served stratum.
                let stratum = fudge.map_or(5, |(_, stratum)| stratum).saturating_add(1).min(15);
                self.config.local_reference = Some(LocalReference { line, stratum });
            }
            (None, Some((line, _))) => {
                return Err(ParseError::new(
                    line,
                    "fudge",
                    ErrorKind::UnconfiguredClock { clock: "127.127.1.0".to_owned() },
                ));
            }
            (None, None) => {}
        }
        if let Some(orphan) = self.config.orphan.filter(|orphan| orphan.stratum == 0) {
            return Err(ParseError::new(
                orphan.line,
                "tos",
                ErrorKind::MissingArgument { expected: "`tos orphan N` with `orphanwait`" },
            ));
        }
        Ok(self.config)
    }
}
