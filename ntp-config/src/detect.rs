//! The four dialects, and telling them apart from the text alone.

use std::fmt;
use std::str::FromStr;

/// A configuration syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// ntpd / NTPsec `ntp.conf`.
    NtpConf,
    /// chronyd's `chrony.conf`.
    Chrony,
    /// Cisco IOS configuration commands (running-config or a pasted session).
    Ios,
    /// Huawei VRP configuration commands (configuration file or a pasted session).
    Vrp,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 4] = [Dialect::NtpConf, Dialect::Chrony, Dialect::Ios, Dialect::Vrp];

    /// The name used on command lines: `ntp.conf`, `chrony`, `ios`, `vrp`.
    pub const fn name(self) -> &'static str {
        match self {
            Dialect::NtpConf => "ntp.conf",
            Dialect::Chrony => "chrony",
            Dialect::Ios => "ios",
            Dialect::Vrp => "vrp",
        }
    }

    /// Guesses the dialect of a configuration text; `None` when nothing in it
    /// is typical of any.
    ///
    /// Each non-comment line votes by its first word (after a router prompt,
    /// which itself is a strong vote): `ntp-service`, `sysname`, `return`
    /// and `[~Name]`/`<Name>` prompts for VRP; `ntp`, `access-list`,
    /// `hostname` and `Name(config)#` prompts for IOS; directives only chrony
    /// has (`allow`, `deny`, `local`, `keyfile`, `makestep`, `rtcsync`,
    /// `ratelimit`, `leapsectz`, ...) for chrony; directives only ntpd has
    /// (`restrict`, `fudge`, `keys`, `trustedkey`, `tos`, `enable`,
    /// `broadcastclient`, ...) for ntp.conf. `server`, `peer` and
    /// `driftfile`, common to both daemons, vote for neither; `server`
    /// options settle it when present (`key N` alone is both, but
    /// `127.127.*` clocks are ntpd's and `maxsources`/`offline` chrony's).
    /// The most votes win; a tie between the two daemons goes to ntp.conf,
    /// the older and more common syntax, and a file of only `server` lines
    /// reads the same in both.
    pub fn detect(text: &str) -> Option<Dialect> {
        let mut votes = [0u32; 4];
        let mut shared = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with(['#', '!', ';', '%']) {
                continue;
            }
            if let Some(prompt) = prompt_vote(trimmed) {
                vote(&mut votes, prompt, 3);
            }
            let command = strip_prompt(trimmed);
            let mut words = command.split_whitespace();
            let Some(first) = words.next() else { continue };
            let first = first.to_ascii_lowercase();
            match first.as_str() {
                "ntp-service" | "sysname" | "return" | "system-view" | "undo" => vote(&mut votes, Dialect::Vrp, 2),
                "ntp" | "access-list" | "hostname" => vote(&mut votes, Dialect::Ios, 2),
                "pool" if !command.contains("maxsources") => shared = true,
                "allow" | "deny" | "local" | "keyfile" | "makestep" | "rtcsync" | "ratelimit" | "leapsectz"
                | "pool" | "logdir" | "dumpdir" | "ntsdumpdir" | "sourcedir" | "bindaddress" | "cmdallow"
                | "hwtimestamp" | "maxupdateskew" | "rtcfile" | "initstepslew" | "leapseclist" | "confdir"
                | "clientloglimit" | "ntsserverkey" | "ntsservercert" | "ntsport" | "ntstrustedcerts" | "ntsrotate"
                | "ntscachedir" => {
                    vote(&mut votes, Dialect::Chrony, 2);
                }
                "restrict" | "fudge" | "keys" | "trustedkey" | "controlkey" | "requestkey" | "tos" | "enable"
                | "disable" | "broadcastclient" | "statsdir" | "filegen" | "statistics" | "leapfile" | "discard"
                | "includefile" | "tinker" | "logconfig" | "manycastclient" | "nts" => {
                    vote(&mut votes, Dialect::NtpConf, 2)
                }
                "server" | "peer" => {
                    let rest: Vec<&str> = words.collect();
                    if rest.first().is_some_and(|addr| addr.starts_with("127.127.")) {
                        vote(&mut votes, Dialect::NtpConf, 2);
                    } else if rest.iter().any(|w| is_chrony_source_option(w)) {
                        vote(&mut votes, Dialect::Chrony, 2);
                    } else {
                        shared = true;
                    }
                }
                "driftfile" | "broadcast" | "logfile" => shared = true,
                _ => {}
            }
        }
        let best = votes.iter().copied().max().unwrap_or(0);
        if best == 0 {
            return shared.then_some(Dialect::NtpConf);
        }
        // Ties resolve in `ALL` order, ntp.conf first.
        Dialect::ALL.into_iter().zip(votes).find(|&(_, count)| count == best).map(|(dialect, _)| dialect)
    }
}

/// Source options only chrony has: ntp.conf (ntpd and NTPsec) knows none
/// of them, so one on a `server` line settles the dialect.
fn is_chrony_source_option(word: &str) -> bool {
    matches!(
        word,
        "offline"
            | "auto_offline"
            | "maxsources"
            | "xleave"
            | "port"
            | "ntsport"
            | "polltarget"
            | "presend"
            | "minstratum"
            | "maxdelay"
            | "maxdelayratio"
            | "maxdelaydevratio"
            | "mindelay"
            | "asymmetry"
            | "certset"
            | "extfield"
    )
}

fn vote(votes: &mut [u32; 4], dialect: Dialect, weight: u32) {
    let index = Dialect::ALL.iter().position(|d| *d == dialect).unwrap_or(0);
    if let Some(slot) = votes.get_mut(index) {
        *slot = slot.saturating_add(weight);
    }
}

/// Which vendor a router prompt at the start of a line belongs to.
fn prompt_vote(line: &str) -> Option<Dialect> {
    if crate::vrp::split_prompt(line).is_some() {
        return Some(Dialect::Vrp);
    }
    if crate::ios::split_prompt(line).is_some() {
        return Some(Dialect::Ios);
    }
    None
}

fn strip_prompt(line: &str) -> &str {
    if let Some((_, rest)) = crate::vrp::split_prompt(line) {
        return rest;
    }
    if let Some((_, rest)) = crate::ios::split_prompt(line) {
        return rest;
    }
    line
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A dialect name that is none of the four.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect {input:?}: expected ntp.conf, chrony, ios or vrp")]
pub struct UnknownDialect {
    /// The text given.
    pub input: String,
}

impl FromStr for Dialect {
    type Err = UnknownDialect;

    /// Accepts the [`Dialect::name`]s and common aliases (`ntpd`, `ntpsec`,
    /// `ntp`, `chrony.conf`, `chronyd`, `cisco`, `huawei`), ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ntp.conf" | "ntpconf" | "ntp" | "ntpd" | "ntpsec" => Ok(Dialect::NtpConf),
            "chrony" | "chrony.conf" | "chronyd" => Ok(Dialect::Chrony),
            "ios" | "cisco" => Ok(Dialect::Ios),
            "vrp" | "huawei" => Ok(Dialect::Vrp),
            _ => Err(UnknownDialect { input: s.to_owned() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_is_recognized() {
        let ntp = "driftfile /var/lib/ntp/drift\nrestrict default nomodify\nserver 192.0.2.1 iburst\n";
        let chrony = "server 192.0.2.1 iburst\nmakestep 1.0 3\nrtcsync\n";
        let ios = "ntp server 192.0.2.1\nntp peer 192.0.2.2\n";
        let vrp = "ntp-service unicast-server 10.0.1.31\n";
        assert_eq!(Dialect::detect(ntp), Some(Dialect::NtpConf));
        assert_eq!(Dialect::detect(chrony), Some(Dialect::Chrony));
        assert_eq!(Dialect::detect(ios), Some(Dialect::Ios));
        assert_eq!(Dialect::detect(vrp), Some(Dialect::Vrp));
    }

    #[test]
    fn nts_lines_name_their_dialect() {
        // chrony: the NTS-KE port on the source line, or the server's files.
        assert_eq!(Dialect::detect("server 127.0.0.1 iburst nts ntsport 4461\n"), Some(Dialect::Chrony));
        assert_eq!(Dialect::detect("server 127.0.0.1 port 10123\n"), Some(Dialect::Chrony));
        assert_eq!(Dialect::detect("server 192.0.2.1 nts\nntstrustedcerts /etc/ca.pem\n"), Some(Dialect::Chrony));
        assert_eq!(Dialect::detect("ntsserverkey /k.pem\nntsservercert /c.pem\n"), Some(Dialect::Chrony));
        // NTPsec: the `nts` command.
        assert_eq!(Dialect::detect("server 192.0.2.1 nts\nnts ca /etc/ca.pem\n"), Some(Dialect::NtpConf));
    }

    #[test]
    fn prompts_vote() {
        assert_eq!(Dialect::detect("R1(config)#ntp peer 10.1.2.2\n"), Some(Dialect::Ios));
        assert_eq!(Dialect::detect("[~DeviceE] ntp-service unicast-peer 10.0.1.32\n"), Some(Dialect::Vrp));
        assert_eq!(Dialect::detect("<HUAWEI> system-view\n"), Some(Dialect::Vrp));
    }

    #[test]
    fn shared_lines_default_to_ntp_conf_and_nothing_is_none() {
        assert_eq!(Dialect::detect("server 192.0.2.1 iburst\n"), Some(Dialect::NtpConf));
        assert_eq!(Dialect::detect("server 127.127.1.0\n"), Some(Dialect::NtpConf));
        assert_eq!(Dialect::detect("pool pool.ntp.org iburst maxsources 4\n"), Some(Dialect::Chrony));
        assert_eq!(Dialect::detect("# only a comment\n\n"), None);
        assert_eq!(Dialect::detect("hello world\n"), None);
    }

    #[test]
    fn names_round_trip() {
        for dialect in Dialect::ALL {
            assert_eq!(dialect.name().parse::<Dialect>(), Ok(dialect));
        }
        assert!("junos".parse::<Dialect>().is_err());
    }
}
