//! Small lexing helpers the four dialects share: lines, words, numbers,
//! hosts and prefixes, each failing with an [`ErrorKind`] that quotes only
//! the argument at fault.

use std::net::{IpAddr, Ipv4Addr};

use ntp_algo::Prefix;

use crate::error::{ErrorKind, ParseError};
use crate::model::Host;

/// Most key ids a `trustedkey` range may expand to: ntpd and NTPsec use
/// ids below 65536, and a range over all 2^32 ids would only waste memory.
pub(crate) const MAX_TRUSTED_IDS: usize = 65_536;

/// The lines of a text with their numbers (from 1).
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(index, line)| (index + 1, line))
}

/// Where a parser is: the line and directive errors and notes name.
pub(crate) struct At<'a> {
    pub(crate) line: usize,
    pub(crate) directive: &'a str,
}

impl At<'_> {
    pub(crate) fn err(&self, kind: ErrorKind) -> ParseError {
        ParseError::new(self.line, self.directive, kind)
    }

    pub(crate) fn unsupported(&self, what: &str, why: &'static str) -> ParseError {
        self.err(ErrorKind::NotSupported { what: what.to_owned(), why })
    }

    pub(crate) fn missing(&self, expected: &'static str) -> ParseError {
        self.err(ErrorKind::MissingArgument { expected })
    }

    pub(crate) fn bad(&self, what: &'static str, value: &str, expected: &'static str) -> ParseError {
        self.err(ErrorKind::BadValue { what, value: shorten(value), expected })
    }

    pub(crate) fn unknown_option(&self, option: &str) -> ParseError {
        self.err(ErrorKind::UnknownOption { option: shorten(option) })
    }

    pub(crate) fn extra(&self, argument: &str) -> ParseError {
        self.err(ErrorKind::ExtraArgument { argument: shorten(argument) })
    }

    /// The next word, or a "missing" error.
    pub(crate) fn next<'w>(
        &self,
        words: &mut impl Iterator<Item = &'w str>,
        expected: &'static str,
    ) -> Result<&'w str, ParseError> {
        words.next().ok_or_else(|| self.missing(expected))
    }

    /// Fails if any word is left.
    pub(crate) fn end<'w>(&self, words: &mut impl Iterator<Item = &'w str>) -> Result<(), ParseError> {
        match words.next() {
            Some(word) => Err(self.extra(word)),
            None => Ok(()),
        }
    }

    /// A decimal integer in `lo..=hi`.
    pub(crate) fn number<T>(
        &self,
        what: &'static str,
        word: &str,
        lo: T,
        hi: T,
        expected: &'static str,
    ) -> Result<T, ParseError>
    where
        T: std::str::FromStr + PartialOrd + Copy,
    {
        match word.parse::<T>() {
            Ok(value) if value >= lo && value <= hi => Ok(value),
            _ => Err(self.bad(what, word, expected)),
        }
    }

    /// A stratum, 1..=15.
    pub(crate) fn stratum(&self, word: &str) -> Result<u8, ParseError> {
        self.number("stratum", word, 1u8, 15, "1..=15")
    }

    /// A key id, 1..=4294967295 (0 marks crypto-NAKs on the wire).
    pub(crate) fn key_id(&self, word: &str) -> Result<u32, ParseError> {
        self.number("key id", word, 1u32, u32::MAX, "1..=4294967295")
    }

    /// A poll exponent, log2 seconds, in the engine's 0..=17.
    pub(crate) fn poll(&self, word: &str) -> Result<i8, ParseError> {
        self.number("poll interval", word, 0i8, 17, "0..=17 (log2 seconds)")
    }

    /// An NTP version, 1..=4.
    pub(crate) fn version(&self, word: &str) -> Result<u8, ParseError> {
        self.number("version", word, 1u8, 4, "1..=4")
    }

    /// An address or a host name.
    pub(crate) fn host(&self, word: &str) -> Result<Host, ParseError> {
        parse_host(word).ok_or_else(|| self.bad("address", word, "an IPv4 or IPv6 address or a host name"))
    }

    /// An IP address.
    pub(crate) fn addr(&self, word: &str) -> Result<IpAddr, ParseError> {
        word.parse().map_err(|_| self.bad("address", word, "an IPv4 or IPv6 address"))
    }

    /// An IPv4 address.
    pub(crate) fn ipv4(&self, word: &str) -> Result<Ipv4Addr, ParseError> {
        word.parse().map_err(|_| self.bad("address", word, "an IPv4 address"))
    }

    /// The prefix length of a contiguous netmask (`255.255.255.0` is 24).
    pub(crate) fn netmask(&self, word: &str) -> Result<u8, ParseError> {
        let mask = self.ipv4(word).map_err(|_| self.bad("netmask", word, "a dotted IPv4 netmask"))?;
        mask_len(u32::from(mask)).ok_or_else(|| self.bad("netmask", word, "a contiguous netmask such as 255.255.255.0"))
    }

    /// The prefix length of a contiguous IOS wildcard (`0.0.0.255` is 24).
    pub(crate) fn wildcard(&self, word: &str) -> Result<u8, ParseError> {
        let wildcard = self.ipv4(word).map_err(|_| self.bad("wildcard", word, "a dotted IPv4 wildcard mask"))?;
        mask_len(!u32::from(wildcard)).ok_or_else(|| {
            self.bad("wildcard", word, "a contiguous wildcard such as 0.0.0.255 (other masks are not supported)")
        })
    }

    /// The network holding `addr` with this prefix length (host bits cleared,
    /// as ntpd and IOS do with `10.1.2.3 mask 255.0.0.0`).
    pub(crate) fn network(&self, addr: IpAddr, len: u8) -> Result<Prefix, ParseError> {
        let cleared = match addr.to_canonical() {
            IpAddr::V4(a) => {
                let mask = if len == 0 { 0 } else { u32::MAX.checked_shl(32 - u32::from(len).min(32)).unwrap_or(0) };
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = if len == 0 { 0 } else { u128::MAX.checked_shl(128 - u32::from(len).min(128)).unwrap_or(0) };
                IpAddr::V6(std::net::Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        Prefix::new(cleared, len).map_err(|_| self.bad("prefix length", &len.to_string(), "at most the address size"))
    }

    /// `A/N`, a bare address (a host), or a CIDR prefix.
    pub(crate) fn prefix(&self, word: &str) -> Result<Prefix, ParseError> {
        match word.split_once('/') {
            Some((addr, len)) => {
                let addr = self.addr(addr)?;
                let max = if addr.to_canonical().is_ipv4() { 32 } else { 128 };
                let len = self.number("prefix length", len, 0u8, max, "a prefix length within the address size")?;
                self.network(addr, len)
            }
            None => Ok(Prefix::host(self.addr(word)?)),
        }
    }
}

/// An address, a DNS name, or a `<placeholder>` as vendor guides print.
pub(crate) fn parse_host(word: &str) -> Option<Host> {
    if let Ok(addr) = word.parse::<IpAddr>() {
        return Some(Host::Addr(addr));
    }
    let placeholder = word.len() > 2
        && word.starts_with('<')
        && word.ends_with('>')
        && word.get(1..word.len() - 1).is_some_and(|inner| {
            inner.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
        });
    let name = !word.is_empty()
        && word.len() <= 253
        && word.chars().any(|c| c.is_ascii_alphabetic())
        && word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !word.starts_with(['-', '.']);
    (placeholder || name).then(|| Host::Name(word.to_owned()))
}

/// The number of leading one bits, if the mask is contiguous.
fn mask_len(mask: u32) -> Option<u8> {
    let len = mask.leading_ones();
    (mask.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// Arguments quoted in errors are cut short: an error message is not the
/// place to reproduce a line.
fn shorten(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", value.get(..cut).unwrap_or("")),
        None => value.to_owned(),
    }
}

/// Expands a trusted-key list (ntpd syntax: ids, `a-b`, `(a ... b)`).
pub(crate) fn trusted_list(at: &At<'_>, list: &str) -> Result<Vec<u32>, ParseError> {
    let mut ids = Vec::new();
    for range in ntp_wire::auth::parse_trusted_keys(list) {
        let range = range.map_err(|e| at.bad("trusted key list", list, leak_free(e.kind)))?;
        let count = usize::try_from(u64::from(*range.end()) - u64::from(*range.start()) + 1).unwrap_or(usize::MAX);
        if ids.len().saturating_add(count) > MAX_TRUSTED_IDS {
            return Err(at.bad("trusted key list", list, "at most 65536 key ids in all"));
        }
        ids.extend(range);
    }
    if ids.is_empty() {
        return Err(at.missing("key id"));
    }
    Ok(ids)
}

fn leak_free(kind: ntp_wire::auth::TrustedKeysErrorKind) -> &'static str {
    use ntp_wire::auth::TrustedKeysErrorKind as K;
    match kind {
        K::ZeroKeyId => "key ids 1..=4294967295 (0 is reserved)",
        K::ReversedRange { .. } => "ranges whose end is not below their start",
        _ => "key ids, `a-b` or `(a ... b)` ranges",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_wildcards() {
        let at = At { line: 1, directive: "x" };
        assert_eq!(at.netmask("255.255.255.0").unwrap(), 24);
        assert_eq!(at.netmask("0.0.0.0").unwrap(), 0);
        assert_eq!(at.netmask("255.255.255.255").unwrap(), 32);
        assert!(at.netmask("255.0.255.0").is_err());
        assert_eq!(at.wildcard("0.0.0.255").unwrap(), 24);
        assert_eq!(at.wildcard("0.0.0.0").unwrap(), 32);
        assert!(at.wildcard("0.0.255.0").is_err());
        assert_eq!(at.prefix("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(at.prefix("2001:db8::1").unwrap().prefix_len(), 128);
    }

    #[test]
    fn hosts() {
        assert_eq!(parse_host("192.0.2.1"), Some(Host::Addr("192.0.2.1".parse().unwrap())));
        assert_eq!(parse_host("<I-TS-1>"), Some(Host::Name("<I-TS-1>".into())));
        assert_eq!(parse_host("time.example.com"), Some(Host::Name("time.example.com".into())));
        assert_eq!(parse_host("1.2.3"), None);
        assert_eq!(parse_host("a;b"), None);
    }

    #[test]
    fn trusted_ranges() {
        let at = At { line: 1, directive: "trustedkey" };
        assert_eq!(trusted_list(&at, "1 3-4 (7 ... 8)").unwrap(), [1, 3, 4, 7, 8]);
        assert!(trusted_list(&at, "1-4294967295").is_err());
        assert!(trusted_list(&at, "0").is_err());
    }
}
