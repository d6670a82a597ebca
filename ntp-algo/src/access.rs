//! Access control by source address or prefix (the white paper's access groups).
//!
//! Each rule maps an IPv4 or IPv6 prefix to an [`AccessClass`], the white
//! paper's `ntp access-group` types:
//!
//! | class        | time requests (mode 3) | control queries (mode 6) | we may synchronize to it |
//! |--------------|:---:|:---:|:---:|
//! | `peer`       | yes | yes | yes |
//! | `serve`      | yes | yes | no  |
//! | `serve-only` | yes | no  | no  |
//! | `query-only` | no  | yes | no  |
//! | `ignore`     | no  | no  | no  |
//!
//! ## Matching
//!
//! The longest matching prefix wins, as ntpd's `restrict` list does (its
//! entries are kept sorted by mask, most specific first): a host rule inside
//! a network rule overrides it. Adding a rule for a prefix that already has
//! one replaces its class. A source no rule matches gets the list's default.
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address
//! (`::ffff:192.0.2.1`, what a dual-stack socket reports for an IPv4 peer)
//! is the IPv4 address, and a prefix written inside the mapped range
//! (`::ffff:10.0.0.0/104`) is stored as the IPv4 prefix (`10.0.0.0/8`). IPv4
//! prefixes match only IPv4 sources and IPv6 prefixes only IPv6 ones, so
//! `::/0` means "every IPv6 source" and does not swallow IPv4.
//!
//! ## Cisco semantics
//!
//! On IOS, with no access group configured every source gets every kind of
//! access; once any group is configured, a source that matches none is
//! denied. Build that with [`AccessList::allow_all`] for the first case and
//! `AccessList::new(AccessClass::Ignore)` for the second: the default you
//! pass in is what an unmatched source gets. IOS also resolves a source that
//! matches several groups by the order peer, serve, serve-only, query-only
//! (the first, most permissive, wins) rather than by prefix length; a
//! translator from IOS configuration that wants that exactly should resolve
//! overlapping groups before adding the rules here.
//!
//! Lookups scan the rules (most specific first) and never allocate; rule
//! lists are configuration-sized. Parsing errors name the input.

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a source may do (one of the white paper's access-group types, or `ignore`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessClass {
    /// `peer`: time requests and control queries are answered, and we may synchronize to it (or peer with it).
    Peer,
    /// `serve`: time requests and control queries are answered; we never synchronize to it.
    Serve,
    /// `serve-only`: only time requests are answered.
    ServeOnly,
    /// `query-only`: only control queries are answered.
    QueryOnly,
    /// `ignore`: every packet from it is dropped.
    Ignore,
}

impl AccessClass {
    /// Every class, from the most permissive to the least (IOS's scan order, then `ignore`).
    pub const ALL: [AccessClass; 5] =
        [AccessClass::Peer, AccessClass::Serve, AccessClass::ServeOnly, AccessClass::QueryOnly, AccessClass::Ignore];

    /// Whether a time request (mode 3 client packet) is answered: `peer`, `serve`, `serve-only`.
    pub fn allows_time_requests(self) -> bool {
        matches!(self, AccessClass::Peer | AccessClass::Serve | AccessClass::ServeOnly)
    }

    /// Whether a control query (mode 6, ntpq) is answered: `peer`, `serve`, `query-only`.
    pub fn allows_queries(self) -> bool {
        matches!(self, AccessClass::Peer | AccessClass::Serve | AccessClass::QueryOnly)
    }

    /// Whether we may synchronize to the source or run a symmetric association with it: `peer` only.
    pub fn allows_sync(self) -> bool {
        matches!(self, AccessClass::Peer)
    }

    /// The white paper's spelling: `peer`, `serve`, `serve-only`, `query-only`, `ignore`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessClass::Peer => "peer",
            AccessClass::Serve => "serve",
            AccessClass::ServeOnly => "serve-only",
            AccessClass::QueryOnly => "query-only",
            AccessClass::Ignore => "ignore",
        }
    }
}

impl fmt::Display for AccessClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccessClass {
    type Err = AccessClassError;

    /// Parses the white paper's spellings, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccessClass::ALL
            .into_iter()
            .find(|class| class.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| AccessClassError { input: s.to_owned() })
    }
}

/// An access class name that is not one of the five.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown access class {input:?}: expected peer, serve, serve-only, query-only or ignore")]
#[non_exhaustive]
pub struct AccessClassError {
    /// The text that failed to parse.
    pub input: String,
}

/// Why a prefix could not be parsed or built. Every message quotes the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrefixError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("invalid prefix {input:?}: {address:?} is not an IPv4 or IPv6 address")]
    InvalidAddress {
        /// The whole input.
        input: String,
        /// The address part.
        address: String,
    },
    /// The part after `/` is not a decimal number.
    #[error("invalid prefix {input:?}: the length after '/' must be a decimal number of bits")]
    InvalidLength {
        /// The whole input.
        input: String,
    },
    /// The length exceeds the address size (32 bits for IPv4, 128 for IPv6).
    #[error("invalid prefix {input:?}: /{len} is longer than the {max} bits of an {family} address")]
    LengthTooLong {
        /// The whole input.
        input: String,
        /// The length asked for, bits.
        len: u32,
        /// The address size, bits.
        max: u8,
        /// "IPv4" or "IPv6".
        family: &'static str,
    },
    /// Bits beyond the prefix length are set, which usually means a typo
    /// (`10.1.0.0/8` for `10.0.0.0/8`, or a wrong length).
    #[error("invalid prefix {input:?}: address bits are set beyond /{len}; the network is {network}")]
    HostBitsSet {
        /// The whole input.
        input: String,
        /// The prefix length, bits.
        len: u8,
        /// The network the input lies in, for the message.
        network: Prefix,
    },
}

/// An IPv4 or IPv6 network: an address and a prefix length in bits.
///
/// Always canonical: no bits set beyond the length, and an IPv4-mapped IPv6
/// prefix of length 96 or more is stored as the IPv4 prefix. Parses from
/// `10.0.0.0/8`, `2001:db8::/32` or a bare address (a host prefix, /32 or
/// /128); displays as `address/length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// The network `addr/len`. Fails when `len` exceeds the address size or
    /// `addr` has bits set beyond `len` (see [`PrefixError`]).
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, PrefixError> {
        Self::build(addr, u32::from(len), || format!("{addr}/{len}"))
    }

    /// The prefix holding exactly one address (/32 or /128).
    pub fn host(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V4(a) => Prefix { addr: IpAddr::V4(a), len: 32 },
            IpAddr::V6(a) => Prefix { addr: IpAddr::V6(a), len: 128 },
        }
    }

    /// The network address (canonical: IPv4 for the mapped range).
    pub fn addr(self) -> IpAddr {
        self.addr
    }

    /// The prefix length, bits (0..=32 for IPv4, 0..=128 for IPv6).
    pub fn prefix_len(self) -> u8 {
        self.len
    }

    /// Whether `addr` lies in this network. IPv4-mapped IPv6 addresses are
    /// compared as IPv4; an IPv4 prefix never contains a (non-mapped) IPv6
    /// address and the other way round.
    pub fn contains(self, addr: IpAddr) -> bool {
        match (self.addr, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = mask_v4(self.len);
                u32::from(a) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = mask_v6(self.len);
                u128::from(a) & mask == u128::from(net)
            }
            _ => false,
        }
    }

    /// Validate and canonicalize; `input` renders the caller's text for errors.
    fn build(addr: IpAddr, len: u32, input: impl Fn() -> String) -> Result<Self, PrefixError> {
        let (addr, len) = match addr {
            // The mapped range ::ffff:0:0/96 is IPv4 in IPv6 clothing. Check the
            // length against what the caller wrote (128 bits) before converting.
            IpAddr::V6(a) if (96..=128).contains(&len) && a.to_ipv4_mapped().is_some() => {
                (IpAddr::V4(mapped_v4(a)), len - 96)
            }
            other => (other, len),
        };
        match addr {
            IpAddr::V4(a) => {
                let len = check_len(len, 32, "IPv4", &input)?;
                let network = u32::from(a) & mask_v4(len);
                check_host_bits(u32::from(a) == network, Ipv4Addr::from(network).into(), len, &input)
            }
            IpAddr::V6(a) => {
                let len = check_len(len, 128, "IPv6", &input)?;
                let network = u128::from(a) & mask_v6(len);
                check_host_bits(u128::from(a) == network, Ipv6Addr::from(network).into(), len, &input)
            }
        }
    }
}

fn mapped_v4(a: Ipv6Addr) -> Ipv4Addr {
    // The last 32 bits of ::ffff:a.b.c.d; only called when `to_ipv4_mapped` said yes.
    a.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED)
}

fn check_len(len: u32, max: u8, family: &'static str, input: &impl Fn() -> String) -> Result<u8, PrefixError> {
    match u8::try_from(len) {
        Ok(l) if l <= max => Ok(l),
        _ => Err(PrefixError::LengthTooLong { input: input(), len, max, family }),
    }
}

fn check_host_bits(clean: bool, network: IpAddr, len: u8, input: &impl Fn() -> String) -> Result<Prefix, PrefixError> {
    let prefix = Prefix { addr: network, len };
    if clean { Ok(prefix) } else { Err(PrefixError::HostBitsSet { input: input(), len, network: prefix }) }
}

/// Network mask for an IPv4 prefix of `len` bits (0..=32); a shift by 32 would overflow, hence `checked_shl`.
fn mask_v4(len: u8) -> u32 {
    u32::MAX.checked_shl(32u32.saturating_sub(u32::from(len))).unwrap_or(0)
}

/// Network mask for an IPv6 prefix of `len` bits (0..=128).
fn mask_v6(len: u8) -> u128 {
    u128::MAX.checked_shl(128u32.saturating_sub(u32::from(len))).unwrap_or(0)
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;

    /// `address/length` or a bare address (a host prefix). Strict: no spaces,
    /// no bits set beyond the length.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, len) = match s.split_once('/') {
            Some((address, len)) => (address, Some(len)),
            None => (s, None),
        };
        let addr: IpAddr = address
            .parse()
            .map_err(|_| PrefixError::InvalidAddress { input: s.to_owned(), address: address.to_owned() })?;
        let input = || s.to_owned();
        match len {
            None => Ok(Prefix::host(addr)),
            Some(len) => {
                // Digits only: `u32::from_str` would also take a leading '+'.
                let bits =
                    if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) { len.parse().ok() } else { None };
                let bits = bits.ok_or_else(|| PrefixError::InvalidLength { input: input() })?;
                Prefix::build(addr, bits, input)
            }
        }
    }
}

/// Rules from prefixes to access classes, with a default for unmatched sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessList {
    default: AccessClass,
    /// Sorted by prefix length, longest first, so the first match is the most specific.
    rules: Vec<(Prefix, AccessClass)>,
}

impl AccessList {
    /// An empty list; `default` is the class of a source no rule matches
    /// (`Ignore` for IOS behaviour once any access group exists).
    pub fn new(default: AccessClass) -> Self {
        AccessList { default, rules: Vec::new() }
    }

    /// No rules and default `peer`: everything allowed, the behaviour without access groups.
    pub fn allow_all() -> Self {
        Self::new(AccessClass::Peer)
    }

    /// Add a rule. A rule for the same prefix is replaced (the later one wins).
    pub fn add(&mut self, prefix: Prefix, class: AccessClass) {
        if let Some(rule) = self.rules.iter_mut().find(|(p, _)| *p == prefix) {
            rule.1 = class;
            return;
        }
        let at = self.rules.partition_point(|(p, _)| p.len >= prefix.len);
        self.rules.insert(at, (prefix, class));
    }

    /// Remove the rule for exactly `prefix`, returning its class.
    pub fn remove(&mut self, prefix: Prefix) -> Option<AccessClass> {
        let at = self.rules.iter().position(|(p, _)| *p == prefix)?;
        Some(self.rules.remove(at).1)
    }

    /// The class of `addr`: the longest matching rule's, else the default.
    pub fn classify(&self, addr: IpAddr) -> AccessClass {
        self.explicit_class(addr).unwrap_or(self.default)
    }

    /// The longest matching rule's class; `None` when only the default applies.
    pub fn explicit_class(&self, addr: IpAddr) -> Option<AccessClass> {
        let addr = addr.to_canonical();
        self.rules.iter().find(|(p, _)| p.contains(addr)).map(|&(_, class)| class)
    }

    /// The class of sources no rule matches.
    pub fn default_class(&self) -> AccessClass {
        self.default
    }

    /// Change the class of sources no rule matches.
    pub fn set_default_class(&mut self, default: AccessClass) {
        self.default = default;
    }

    /// The rules, most specific first.
    pub fn rules(&self) -> impl Iterator<Item = (Prefix, AccessClass)> + '_ {
        self.rules.iter().copied()
    }

    /// Number of rules (the default is not one).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules (only the default applies).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl Default for AccessList {
    /// [`AccessList::allow_all`].
    fn default() -> Self {
        Self::allow_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn prefix(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn test_permission_table() {
        use AccessClass::*;
        let table = [
            (Peer, true, true, true),
            (Serve, true, true, false),
            (ServeOnly, true, false, false),
            (QueryOnly, false, true, false),
            (Ignore, false, false, false),
        ];
        for (class, time, query, sync) in table {
            assert_eq!(class.allows_time_requests(), time, "{class}");
            assert_eq!(class.allows_queries(), query, "{class}");
            assert_eq!(class.allows_sync(), sync, "{class}");
        }
    }

    #[test]
    fn test_class_parse_display() {
        for class in AccessClass::ALL {
            assert_eq!(class.to_string().parse::<AccessClass>(), Ok(class));
        }
        assert_eq!("Serve-Only".parse(), Ok(AccessClass::ServeOnly));
        let err = "serveonly".parse::<AccessClass>().unwrap_err();
        assert!(err.to_string().contains("\"serveonly\""), "{err}");
        assert!("".parse::<AccessClass>().is_err());
    }

    #[test]
    fn test_parse_prefixes() {
        let p = prefix("10.0.0.0/8");
        assert_eq!((p.addr(), p.prefix_len()), (ip("10.0.0.0"), 8));
        let p = prefix("2001:db8::/32");
        assert_eq!((p.addr(), p.prefix_len()), (ip("2001:db8::"), 32));
        assert_eq!(prefix("192.0.2.1"), Prefix::host(ip("192.0.2.1")));
        assert_eq!(prefix("192.0.2.1").prefix_len(), 32);
        assert_eq!(prefix("2001:db8::1").prefix_len(), 128);
        assert_eq!(prefix("0.0.0.0/0").prefix_len(), 0);
        assert_eq!(prefix("::/0").prefix_len(), 0);
        assert_eq!(prefix("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(prefix("2001:db8::/32").to_string(), "2001:db8::/32");
    }

    #[test]
    fn test_mapped_prefix_is_ipv4() {
        assert_eq!(prefix("::ffff:10.0.0.0/104"), prefix("10.0.0.0/8"));
        assert_eq!(prefix("::ffff:192.0.2.1"), prefix("192.0.2.1"));
        // The whole mapped range is every IPv4 source.
        assert_eq!(prefix("::ffff:0:0/96"), prefix("0.0.0.0/0"));
        // Shorter prefixes stay IPv6.
        assert!(prefix("::/80").addr().is_ipv6());
    }

    #[test]
    fn test_parse_errors() {
        type Check = fn(&PrefixError) -> bool;
        let cases: [(&str, Check); 9] = [
            ("10.0.0.0/33", |e| matches!(e, PrefixError::LengthTooLong { len: 33, max: 32, .. })),
            ("2001:db8::/129", |e| matches!(e, PrefixError::LengthTooLong { len: 129, max: 128, .. })),
            ("10.0.0.0/99999999999", |e| matches!(e, PrefixError::InvalidLength { .. })),
            ("10.0.0.0/", |e| matches!(e, PrefixError::InvalidLength { .. })),
            ("10.0.0.0/+8", |e| matches!(e, PrefixError::InvalidLength { .. })),
            ("10.0.0.0/8/8", |e| matches!(e, PrefixError::InvalidLength { .. })),
            ("10.0.0/8", |e| matches!(e, PrefixError::InvalidAddress { .. })),
            ("host.example/24", |e| matches!(e, PrefixError::InvalidAddress { .. })),
            ("10.1.0.0/8", |e| matches!(e, PrefixError::HostBitsSet { len: 8, .. })),
        ];
        for (input, check) in cases {
            let err = input.parse::<Prefix>().unwrap_err();
            assert!(check(&err), "{input}: {err:?}");
            assert!(err.to_string().contains(&format!("{input:?}")), "message names the input: {err}");
        }
        let err = "10.1.0.0/8".parse::<Prefix>().unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/8"), "suggests the network: {err}");
        assert!(matches!("2001:db8::1/32".parse::<Prefix>(), Err(PrefixError::HostBitsSet { .. })));
        assert!(matches!("::ffff:10.0.0.0/95".parse::<Prefix>(), Err(PrefixError::HostBitsSet { .. })));
        assert!(matches!("::ffff:10.0.0.0/129".parse::<Prefix>(), Err(PrefixError::LengthTooLong { max: 128, .. })));
    }

    #[test]
    fn test_new() {
        assert_eq!(Prefix::new(ip("10.0.0.0"), 8), Ok(prefix("10.0.0.0/8")));
        assert!(matches!(Prefix::new(ip("10.0.0.0"), 40), Err(PrefixError::LengthTooLong { .. })));
        let err = Prefix::new(ip("10.0.0.1"), 8).unwrap_err();
        assert!(err.to_string().contains("\"10.0.0.1/8\""), "{err}");
    }

    #[test]
    fn test_contains() {
        let net = prefix("192.0.2.0/24");
        assert!(net.contains(ip("192.0.2.200")));
        assert!(!net.contains(ip("192.0.3.1")));
        assert!(net.contains(ip("::ffff:192.0.2.7")), "mapped address is IPv4");
        assert!(!net.contains(ip("2001:db8::1")));
        let v6 = prefix("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("192.0.2.1")));
        assert!(prefix("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!prefix("::/0").contains(ip("203.0.113.9")), "::/0 is every IPv6 source, not IPv4");
        assert!(!prefix("::/0").contains(ip("::ffff:203.0.113.9")));
        assert!(prefix("::/0").contains(ip("::1")));
    }

    #[test]
    fn test_longest_prefix_wins() {
        let mut list = AccessList::new(AccessClass::Ignore);
        list.add(prefix("10.0.0.0/8"), AccessClass::ServeOnly);
        list.add(prefix("10.1.2.3"), AccessClass::Peer);
        list.add(prefix("10.1.0.0/16"), AccessClass::QueryOnly);
        assert_eq!(list.classify(ip("10.1.2.3")), AccessClass::Peer);
        assert_eq!(list.classify(ip("10.1.2.4")), AccessClass::QueryOnly);
        assert_eq!(list.classify(ip("10.2.0.1")), AccessClass::ServeOnly);
        assert_eq!(list.classify(ip("11.0.0.1")), AccessClass::Ignore);
        assert_eq!(list.explicit_class(ip("11.0.0.1")), None);
        assert_eq!(list.explicit_class(ip("10.2.0.1")), Some(AccessClass::ServeOnly));
        assert_eq!(list.classify(ip("::ffff:10.1.2.3")), AccessClass::Peer);
        let lens: Vec<u8> = list.rules().map(|(p, _)| p.prefix_len()).collect();
        assert_eq!(lens, [32, 16, 8]);
    }

    #[test]
    fn test_v4_and_v6_rules() {
        let mut list = AccessList::new(AccessClass::Serve);
        list.add(prefix("::/0"), AccessClass::Ignore);
        list.add(prefix("2001:db8::/32"), AccessClass::Peer);
        list.add(prefix("0.0.0.0/0"), AccessClass::QueryOnly);
        assert_eq!(list.classify(ip("2001:db8::5")), AccessClass::Peer);
        assert_eq!(list.classify(ip("2001:db9::5")), AccessClass::Ignore);
        assert_eq!(list.classify(ip("198.51.100.1")), AccessClass::QueryOnly);
        assert_eq!(list.classify(ip("::ffff:198.51.100.1")), AccessClass::QueryOnly);
    }

    #[test]
    fn test_same_prefix_replaced() {
        let mut list = AccessList::new(AccessClass::Ignore);
        list.add(prefix("192.0.2.0/24"), AccessClass::Peer);
        list.add(prefix("::ffff:192.0.2.0/120"), AccessClass::Serve);
        assert_eq!(list.len(), 1);
        assert_eq!(list.classify(ip("192.0.2.9")), AccessClass::Serve);
        assert_eq!(list.remove(prefix("192.0.2.0/24")), Some(AccessClass::Serve));
        assert!(list.is_empty());
        assert_eq!(list.classify(ip("192.0.2.9")), AccessClass::Ignore);
    }

    #[test]
    fn test_allow_all_and_cisco_default() {
        let open = AccessList::allow_all();
        assert_eq!(open.classify(ip("203.0.113.1")), AccessClass::Peer);
        assert_eq!(open.classify(ip("2001:db8::1")), AccessClass::Peer);
        assert_eq!(AccessList::default(), open);
        // The white paper's example: peers in list 5, serve-only clients in list 6, deny any.
        let mut cisco = AccessList::new(AccessClass::Ignore);
        cisco.add(prefix("192.0.2.1"), AccessClass::Peer);
        cisco.add(prefix("198.51.100.0/24"), AccessClass::ServeOnly);
        assert!(cisco.classify(ip("192.0.2.1")).allows_sync());
        assert!(cisco.classify(ip("198.51.100.7")).allows_time_requests());
        assert!(!cisco.classify(ip("198.51.100.7")).allows_queries());
        assert_eq!(cisco.classify(ip("203.0.113.1")), AccessClass::Ignore);
    }

    proptest! {
        #[test]
        fn prop_parse_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Prefix>();
            let _ = s.parse::<AccessClass>();
        }

        #[test]
        fn prop_new_contains_own_address(bits in any::<u128>(), len in 0u8..=128, v4 in any::<bool>()) {
            let addr: IpAddr = if v4 { Ipv4Addr::from(bits as u32).into() } else { Ipv6Addr::from(bits).into() };
            let max = if v4 { 32 } else { 128 };
            let len = len.min(max);
            let net = match Prefix::new(addr, len) {
                Ok(p) => p,
                Err(PrefixError::HostBitsSet { network, .. }) => network,
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            };
            prop_assert!(net.contains(addr));
            prop_assert_eq!(net.to_string().parse::<Prefix>(), Ok(net));
        }
    }
}
