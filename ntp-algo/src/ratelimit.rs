//! Per-source rate limiting with bounded state, answered with KoD RATE or dropped.
//!
//! A server answers time requests for anyone, so it needs to stop a client
//! that polls too fast without letting an attacker grow its memory or turn
//! it into an amplifier. [`RateLimiter::check`] decides for each request
//! whether to answer ([`RateDecision::Allow`]), send a Kiss-o'-Death RATE
//! (RFC 5905 §7.4, [`RateDecision::KissOfDeath`]) or stay silent
//! ([`RateDecision::Drop`]).
//!
//! ## Semantics (ntpd's `discard average A minimum M` + `restrict limited kod`)
//!
//! Each source address has a token bucket:
//!
//! - It holds at most `burst` tokens and starts full. It refills one token
//!   every `2^average_log2` s (the minimum *average* interval between
//!   requests). An answered request costs one token.
//! - A request is *limited* when the bucket has less than one token, or when
//!   it follows the source's previous request (answered or not) by less than
//!   the minimum spacing `2^minimum_log2` s. A quarter of that spacing is
//!   forgiven, so a client's evenly spaced burst (iburst: 2 s apart) survives
//!   network jitter; ntpd forgives a second in the same place.
//! - A limited request costs nothing, but still counts as the source's
//!   latest request for the spacing test, so a client that keeps polling too
//!   fast stays limited.
//! - A limited request gets [`RateDecision::KissOfDeath`] when `send_kod` is
//!   set, at most once per source per minimum spacing; otherwise, and always
//!   without `send_kod`, it gets [`RateDecision::Drop`]. A KoD is no larger
//!   than the request, and rate limiting it per source means a flood spoofed
//!   from a victim's address gets the victim at most one packet per spacing.
//!
//! ## Bounded state
//!
//! Sources live in a fixed table of `capacity` slots allocated once by
//! [`RateLimiter::new`]; [`check`](RateLimiter::check) never allocates.
//! Open addressing: a source hashes to a slot and may live in that slot or
//! the next seven (wrapping). A new source takes a free slot in that window,
//! or else evicts the least recently seen source in it. Every request is
//! O(1), and a flood of spoofed sources can only recycle slots, never add
//! them: a source that keeps sending stays recent and keeps its state, while
//! one-off spoofed addresses push each other out. A source that was evicted
//! starts again with a full bucket, which is what a new client gets anyway.
//!
//! The slot comes from SipHash-2-4 keyed with a 64-bit seed. The same seed
//! and the same requests give the same decisions (the simulator relies on
//! this): [`RateLimiter::new`] uses seed 0. A daemon should use
//! [`RateLimiter::with_seed`] with a random seed, so an attacker cannot pick
//! addresses that collide into one window and evict a chosen client's state.
//!
//! IPv4-mapped IPv6 addresses count as the IPv4 address. Each IPv6 address
//! is its own source (no aggregation by /64).
//!
//! ## Edge cases
//!
//! A NaN or infinite `now` gives [`RateDecision::Drop`] and changes nothing.
//! A `now` earlier than a source's last request (the caller's clock went
//! back) counts as no time elapsed. `capacity` 0 tracks nothing and allows
//! every request (rate limiting off); a capacity above 2^20 slots is treated
//! as 2^20 (about 48 MiB). `burst` 0 limits every request.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// Slots a source may occupy: its home slot and the next ones, wrapping.
const PROBE_WINDOW: usize = 8;

/// Most slots ever allocated, whatever `capacity` asks for.
const MAX_SLOTS: usize = 1 << 20;

/// Fraction of the minimum spacing forgiven for network jitter.
const SPACING_GRACE: f64 = 0.25;

/// Rate limiting parameters. Log2 values are powers of two in seconds, as in ntpd's `discard` command.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Minimum average interval between a source's requests, log2 seconds (default 3: 8 s; ntpd `average`).
    /// One token is refilled per interval.
    pub average_log2: i8,
    /// Minimum spacing between two requests of a source, log2 seconds (default 1: 2 s; ntpd `minimum`).
    /// Also the least time between two KoDs to the same source.
    /// [`RateLimitConfig::NO_MINIMUM_SPACING`] turns the spacing test off, so
    /// only the bucket limits a source (requests at one instant included).
    pub minimum_log2: i8,
    /// Requests a source may send back to back (at the minimum spacing) before the average applies:
    /// the bucket size, tokens (default 8).
    pub burst: u32,
    /// Sources tracked at most, slots (default 4096; 0 turns rate limiting off; at most 2^20 are allocated).
    pub capacity: usize,
    /// Answer a limited request with a KoD RATE (true, default) or drop it silently (false).
    pub send_kod: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig { average_log2: 3, minimum_log2: 1, burst: 8, capacity: 4096, send_kod: true }
    }
}

impl RateLimitConfig {
    /// The minimum average interval, seconds (2^average_log2).
    pub fn average_interval(&self) -> f64 {
        2f64.powi(i32::from(self.average_log2))
    }

    /// The `minimum_log2` that turns the minimum-spacing test off.
    ///
    /// Any other value, however small, still limits a second request that
    /// arrives at the same instant as the first, and a daemon that reads its
    /// clock once per batch of received datagrams gives several requests of
    /// one source the same arrival time.
    pub const NO_MINIMUM_SPACING: i8 = i8::MIN;

    /// The minimum spacing, seconds (2^minimum_log2; 0 for [`Self::NO_MINIMUM_SPACING`]).
    pub fn minimum_interval(&self) -> f64 {
        if self.minimum_log2 == Self::NO_MINIMUM_SPACING {
            return 0.0;
        }
        2f64.powi(i32::from(self.minimum_log2))
    }
}

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum RateDecision {
    /// Answer it.
    Allow,
    /// Do not answer; send a Kiss-o'-Death with code RATE instead (RFC 5905 §7.4).
    KissOfDeath,
    /// Do not answer at all.
    Drop,
}

/// What we remember about one source.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    /// The source, canonical (IPv4 as IPv4-mapped IPv6), as the 16 address bytes.
    key: [u8; 16],
    /// Time of its latest request, seconds.
    last_seen: f64,
    /// Tokens left at `last_seen`, 0..=burst.
    tokens: f64,
    /// Time of the latest KoD sent to it, seconds; `None` if none yet.
    last_kod: Option<f64>,
    /// Time of its first request since it took this slot, seconds.
    first_seen: f64,
    /// Requests seen since it took this slot (answered or not).
    count: u64,
    /// The first byte's mode and version bits of its latest request (0 if unknown).
    mode_version: u8,
    /// Its latest source port (0 if unknown).
    port: u16,
}

/// A source the limiter tracks, for monitoring (the MRU list of mode 6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RecentSource {
    pub(crate) address: IpAddr,
    pub(crate) port: u16,
    pub(crate) first_seen: f64,
    pub(crate) last_seen: f64,
    pub(crate) count: u64,
    pub(crate) mode_version: u8,
}

/// Per-source rate limiter with a fixed-size table. See the module docs.
#[derive(Clone)]
pub struct RateLimiter {
    config: RateLimitConfig,
    /// SipHash key.
    keys: (u64, u64),
    /// `min(capacity, MAX_SLOTS)` slots, allocated once.
    slots: Vec<Option<Entry>>,
    /// Occupied slots.
    tracked: usize,
}

impl RateLimiter {
    /// A limiter with seed 0 (deterministic; see [`with_seed`](Self::with_seed) for daemons).
    /// Allocates the whole table now.
    pub fn new(config: RateLimitConfig) -> Self {
        Self::with_seed(config, 0)
    }

    /// A limiter whose table hashing is keyed by `seed`. Daemons should pass a
    /// random seed so attackers cannot aim hash collisions; simulations pass a
    /// fixed one to stay reproducible.
    pub fn with_seed(config: RateLimitConfig, seed: u64) -> Self {
        let slots = vec![None; config.capacity.min(MAX_SLOTS)];
        RateLimiter { config, keys: (seed, splitmix64(seed)), slots, tracked: 0 }
    }

    /// Decide what to do with a request from `source` arriving at `now`
    /// (seconds on the caller's timeline). O(1), no allocation.
    pub fn check(&mut self, source: IpAddr, now: f64) -> RateDecision {
        self.check_tagged(source, 0, now, 0)
    }

    /// [`RateLimiter::check`], remembering the request's source port and
    /// mode/version bits for the MRU list.
    pub(crate) fn check_tagged(&mut self, source: IpAddr, port: u16, now: f64, mode_version: u8) -> RateDecision {
        if !now.is_finite() {
            return RateDecision::Drop;
        }
        let config = self.config;
        let Some((entry, new)) = self.entry(source, now) else {
            // No table: rate limiting is off.
            return RateDecision::Allow;
        };
        entry.count = entry.count.saturating_add(1);
        entry.mode_version = mode_version;
        entry.port = port;

        let elapsed = (now - entry.last_seen).max(0.0);
        // A new source has no previous request, so the spacing test does not apply.
        let too_soon = !new && elapsed < config.minimum_interval() * (1.0 - SPACING_GRACE);
        entry.tokens = (entry.tokens + elapsed / config.average_interval()).min(f64::from(config.burst));
        entry.last_seen = now;

        if !too_soon && entry.tokens >= 1.0 {
            entry.tokens -= 1.0;
            return RateDecision::Allow;
        }
        let kod_due = entry.last_kod.is_none_or(|t| now - t >= config.minimum_interval() || now < t);
        if config.send_kod && kod_due {
            entry.last_kod = Some(now);
            RateDecision::KissOfDeath
        } else {
            RateDecision::Drop
        }
    }

    /// Sources currently tracked; never more than `config().capacity`.
    pub fn tracked(&self) -> usize {
        self.tracked
    }

    /// The configuration this limiter was built with.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The sources tracked now, in table order.
    pub(crate) fn recent(&self) -> impl Iterator<Item = RecentSource> + '_ {
        self.slots.iter().flatten().map(|e| {
            let v6 = Ipv6Addr::from(e.key);
            let address = v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4);
            RecentSource {
                address,
                port: e.port,
                first_seen: e.first_seen,
                last_seen: e.last_seen,
                count: e.count,
                mode_version: e.mode_version,
            }
        })
    }

    /// Forget every source (keeps the table's memory).
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|slot| *slot = None);
        self.tracked = 0;
    }

    /// The entry for `source` and whether it was just created (full bucket, seen `now`).
    /// `None` only when the table has no slots.
    fn entry(&mut self, source: IpAddr, now: f64) -> Option<(&mut Entry, bool)> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let key = canonical_key(source);
        // Multiply-shift maps the 64-bit hash onto 0..n without modulo bias; the result is < n.
        let home = ((u128::from(siphash24(self.keys, &key)) * n as u128) >> 64) as usize;
        let window = || (0..PROBE_WINDOW.min(n)).map(move |i| (home + i) % n);

        let mut free = None;
        let mut oldest: Option<(usize, f64)> = None;
        let mut found = None;
        for i in window() {
            match self.slots.get(i).copied().flatten() {
                Some(e) if e.key == key => {
                    found = Some(i);
                    break;
                }
                Some(e) => {
                    if oldest.is_none_or(|(_, t)| e.last_seen < t) {
                        oldest = Some((i, e.last_seen));
                    }
                }
                None => {
                    free = free.or(Some(i));
                }
            }
        }
        let (index, new) = match (found, free, oldest) {
            (Some(i), _, _) => (i, false),
            (None, Some(i), _) => {
                self.tracked += 1;
                (i, true)
            }
            // The window is full: the least recently seen source makes room.
            (None, None, Some((i, _))) => (i, true),
            // A non-empty window always has a matching, free or occupied slot.
            (None, None, None) => return None,
        };
        let burst = f64::from(self.config.burst);
        let slot = self.slots.get_mut(index)?;
        if new {
            *slot = Some(Entry {
                key,
                last_seen: now,
                tokens: burst,
                last_kod: None,
                first_seen: now,
                count: 0,
                mode_version: 0,
                port: 0,
            });
        }
        slot.as_mut().map(|e| (e, new))
    }
}

impl fmt::Debug for RateLimiter {
    /// A summary; the table itself is too large to print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .field("slots", &self.slots.len())
            .field("tracked", &self.tracked)
            .finish_non_exhaustive()
    }
}

/// The 16 bytes of the source as IPv6, IPv4 mapped, so `192.0.2.1` and `::ffff:192.0.2.1` are one source.
pub(crate) fn canonical_key(source: IpAddr) -> [u8; 16] {
    match source {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// SplitMix64 finalizer: spreads a 64-bit seed into the second half of the SipHash key.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SipHash-2-4 (Aumasson and Bernstein) of a 16-byte message: a keyed hash,
/// so slot collisions cannot be predicted without the key.
pub(crate) fn siphash24((k0, k1): (u64, u64), message: &[u8; 16]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let words = u128::from_le_bytes(*message);
    // Two message words (little-endian), then the final block: the length in the top byte.
    let blocks = [words as u64, (words >> 64) as u64, 16u64 << 56];
    for m in blocks {
        v[3] ^= m;
        sip_round(&mut v);
        sip_round(&mut v);
        v[0] ^= m;
    }
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn sip_round(v: &mut [u64; 4]) {
    let [v0, v1, v2, v3] = v;
    *v0 = v0.wrapping_add(*v1);
    *v1 = v1.rotate_left(13) ^ *v0;
    *v0 = v0.rotate_left(32);
    *v2 = v2.wrapping_add(*v3);
    *v3 = v3.rotate_left(16) ^ *v2;
    *v0 = v0.wrapping_add(*v3);
    *v3 = v3.rotate_left(21) ^ *v0;
    *v2 = v2.wrapping_add(*v1);
    *v1 = v1.rotate_left(17) ^ *v2;
    *v2 = v2.rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn test_siphash_matches_reference() {
        #[allow(deprecated)]
        fn reference(k0: u64, k1: u64, msg: &[u8; 16]) -> u64 {
            use std::hash::Hasher;
            let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
            h.write(msg);
            h.finish()
        }
        let msg: [u8; 16] = core::array::from_fn(|i| i as u8);
        for (k0, k1) in [(0, 0), (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908), (u64::MAX, 42)] {
            assert_eq!(siphash24((k0, k1), &msg), reference(k0, k1, &msg));
        }
    }

    #[test]
    fn test_defaults() {
        let c = RateLimitConfig::default();
        assert_eq!(c.average_interval(), 8.0);
        assert_eq!(c.minimum_interval(), 2.0);
        assert_eq!((c.burst, c.capacity, c.send_kod), (8, 4096, true));
    }

    #[test]
    fn test_burst_allowed_then_limited() {
        // A slow refill (1024 s per token) isolates the bucket size.
        let mut rl = RateLimiter::new(RateLimitConfig { average_log2: 10, ..RateLimitConfig::default() });
        let src = ip("192.0.2.1");
        for i in 0..8 {
            assert_eq!(rl.check(src, f64::from(i) * 2.0), RateDecision::Allow, "request {i}");
        }
        assert_eq!(rl.check(src, 16.0), RateDecision::KissOfDeath);
        assert_eq!(rl.check(src, 18.0), RateDecision::KissOfDeath, "2 s later: a second KoD is due");
    }

    #[test]
    fn test_burst_with_default_refill() {
        // The default refills a quarter token per 2 s step: 8 + 2 answered, then limited.
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let src = ip("192.0.2.1");
        let answered = (0..20).take_while(|&i| rl.check(src, f64::from(i) * 2.0) == RateDecision::Allow).count();
        assert_eq!(answered, 10);
    }

    #[test]
    fn test_average_sustained() {
        // Polling exactly at the average interval is always answered.
        let mut rl = RateLimiter::new(RateLimitConfig { burst: 1, ..RateLimitConfig::default() });
        let src = ip("192.0.2.1");
        for i in 0..100 {
            assert_eq!(rl.check(src, f64::from(i) * 8.0), RateDecision::Allow, "request {i}");
        }
    }

    #[test]
    fn test_minimum_spacing() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let src = ip("198.51.100.2");
        assert_eq!(rl.check(src, 100.0), RateDecision::Allow);
        // Tokens left, but only 1 s later: limited.
        assert_eq!(rl.check(src, 101.0), RateDecision::KissOfDeath);
        // 2 s after that one (the limited request counts for spacing): fine.
        assert_eq!(rl.check(src, 103.0), RateDecision::Allow);
        // Within the grace: 1.6 s is close enough to 2 s.
        assert_eq!(rl.check(src, 104.6), RateDecision::Allow);
        // Another source is unaffected.
        assert_eq!(rl.check(ip("198.51.100.3"), 104.7), RateDecision::Allow);
    }

    #[test]
    fn test_no_minimum_spacing_leaves_only_the_bucket() {
        let config = RateLimitConfig {
            minimum_log2: RateLimitConfig::NO_MINIMUM_SPACING,
            burst: 3,
            send_kod: false,
            ..RateLimitConfig::default()
        };
        assert_eq!(config.minimum_interval(), 0.0);
        let mut rl = RateLimiter::new(config);
        let src = ip("198.51.100.2");
        // Three requests at one instant: the whole burst, no spacing test.
        for _ in 0..3 {
            assert_eq!(rl.check(src, 100.0), RateDecision::Allow);
        }
        assert_eq!(rl.check(src, 100.0), RateDecision::Drop);
        // The smallest spacing that is still a spacing limits a same-instant request.
        let mut tiny = RateLimiter::new(RateLimitConfig { minimum_log2: -127, ..config });
        assert_eq!(tiny.check(src, 100.0), RateDecision::Allow);
        assert_eq!(tiny.check(src, 100.0), RateDecision::Drop);
    }

    #[test]
    fn test_kod_at_most_once_per_minimum_interval() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let src = ip("203.0.113.5");
        assert_eq!(rl.check(src, 0.0), RateDecision::Allow);
        let mut kods = 0;
        let mut drops = 0;
        // 100 requests per second for 10 s.
        for i in 1..=1000 {
            match rl.check(src, f64::from(i) * 0.01) {
                RateDecision::Allow => panic!("flooding source answered at request {i}"),
                RateDecision::KissOfDeath => kods += 1,
                RateDecision::Drop => drops += 1,
            }
        }
        assert!((5..=6).contains(&kods), "one KoD per 2 s over 10 s: {kods}");
        assert_eq!(kods + drops, 1000);
    }

    #[test]
    fn test_drop_without_kod() {
        let mut rl = RateLimiter::new(RateLimitConfig { send_kod: false, ..RateLimitConfig::default() });
        let src = ip("203.0.113.5");
        assert_eq!(rl.check(src, 0.0), RateDecision::Allow);
        assert_eq!(rl.check(src, 0.5), RateDecision::Drop);
        assert_eq!(rl.check(src, 5.0), RateDecision::Allow);
    }

    #[test]
    fn test_recovery_after_waiting() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let src = ip("2001:db8::7");
        let mut t = 0.0;
        while rl.check(src, t) == RateDecision::Allow {
            t += 2.0;
        }
        assert!(t < 40.0);
        // A quiet minute refills the whole bucket (64 s / 8 s = 8 tokens).
        t += 64.0;
        for i in 0..8 {
            assert_eq!(rl.check(src, t), RateDecision::Allow, "request {i} after the pause");
            t += 2.0;
        }
    }

    #[test]
    fn test_mapped_address_is_same_source() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        assert_eq!(rl.check(ip("192.0.2.9"), 0.0), RateDecision::Allow);
        assert_eq!(rl.check(ip("::ffff:192.0.2.9"), 0.5), RateDecision::KissOfDeath);
        assert_eq!(rl.tracked(), 1);
    }

    #[test]
    fn test_burst_zero_limits_everything() {
        let mut rl = RateLimiter::new(RateLimitConfig { burst: 0, ..RateLimitConfig::default() });
        assert_eq!(rl.check(ip("192.0.2.1"), 0.0), RateDecision::KissOfDeath);
        assert_eq!(rl.check(ip("192.0.2.1"), 100.0), RateDecision::KissOfDeath);
        assert_eq!(rl.check(ip("192.0.2.1"), 100.5), RateDecision::Drop);
    }

    #[test]
    fn test_capacity_zero_is_off() {
        let mut rl = RateLimiter::new(RateLimitConfig { capacity: 0, ..RateLimitConfig::default() });
        for i in 0..100 {
            assert_eq!(rl.check(ip("192.0.2.1"), f64::from(i) * 0.01), RateDecision::Allow);
        }
        assert_eq!(rl.tracked(), 0);
    }

    #[test]
    fn test_non_finite_now_dropped() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        for now in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(rl.check(ip("192.0.2.1"), now), RateDecision::Drop);
        }
        assert_eq!(rl.tracked(), 0);
    }

    #[test]
    fn test_clock_going_back() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let src = ip("192.0.2.1");
        assert_eq!(rl.check(src, 1000.0), RateDecision::Allow);
        // An hour back: no time elapsed, so too soon, but a KoD is still possible.
        assert_eq!(rl.check(src, -2600.0), RateDecision::KissOfDeath);
        assert_eq!(rl.check(src, -2598.0), RateDecision::Allow);
    }

    #[test]
    fn test_flood_of_distinct_sources_stays_bounded() {
        let config = RateLimitConfig::default();
        let mut rl = RateLimiter::with_seed(config, 0x5eed);
        let abuser = ip("192.0.2.66");
        let mut abuser_allowed = 0;
        for i in 0..100_000u32 {
            let now = f64::from(i) * 0.001;
            assert_eq!(rl.check(v4(0x0a00_0000 + i), now), RateDecision::Allow);
            // One real client hammering among the spoofed flood keeps its state.
            if i % 10 == 0 && rl.check(abuser, now) == RateDecision::Allow {
                abuser_allowed += 1;
            }
            assert!(rl.tracked() <= config.capacity);
        }
        assert_eq!(rl.tracked(), config.capacity, "the table fills but never grows");
        assert!(abuser_allowed <= config.burst, "abuser answered {abuser_allowed} times");
    }

    #[test]
    fn test_deterministic_with_fixed_seed() {
        let config = RateLimitConfig { capacity: 64, ..RateLimitConfig::default() };
        let run = |seed| {
            let mut rl = RateLimiter::with_seed(config, seed);
            let decisions: Vec<RateDecision> = (0..5000u32)
                .map(|i| {
                    let src = IpAddr::V6(Ipv6Addr::from(u128::from(i.wrapping_mul(2_654_435_761) % 300)));
                    rl.check(src, f64::from(i) * 0.05)
                })
                .collect();
            (decisions, rl.tracked())
        };
        assert_eq!(run(7), run(7));
        assert_eq!(run(0), run(0));
        assert_eq!(RateLimiter::new(config).config(), &config);
    }

    #[test]
    fn test_clear() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let _ = rl.check(ip("192.0.2.1"), 0.0);
        assert_eq!(rl.check(ip("192.0.2.1"), 0.1), RateDecision::KissOfDeath);
        rl.clear();
        assert_eq!(rl.tracked(), 0);
        assert_eq!(rl.check(ip("192.0.2.1"), 0.2), RateDecision::Allow);
    }

    #[test]
    fn test_capacity_clamped() {
        let rl = RateLimiter::new(RateLimitConfig { capacity: usize::MAX, ..RateLimitConfig::default() });
        assert!(format!("{rl:?}").contains("slots: 1048576"));
    }

    fn any_time() -> impl Strategy<Value = f64> {
        prop_oneof![0.0..1e6f64, any::<f64>(), Just(f64::NAN), Just(f64::INFINITY)]
    }

    proptest! {
        #[test]
        fn prop_tracked_within_capacity(
            capacity in 0usize..40,
            burst in 0u32..10,
            average_log2 in any::<i8>(),
            minimum_log2 in any::<i8>(),
            send_kod in any::<bool>(),
            seed in any::<u64>(),
            requests in prop::collection::vec((any::<u32>(), 0u8..4, any_time()), 0..300),
        ) {
            let config = RateLimitConfig { average_log2, minimum_log2, burst, capacity, send_kod };
            let mut rl = RateLimiter::with_seed(config, seed);
            for (addr, kind, now) in requests {
                let src = match kind {
                    0 => v4(addr % 64),
                    1 => IpAddr::V6(Ipv4Addr::from(addr % 64).to_ipv6_mapped()),
                    2 => IpAddr::V6(Ipv6Addr::from(u128::from(addr))),
                    _ => v4(addr),
                };
                let decision = rl.check(src, now);
                prop_assert!(rl.tracked() <= capacity);
                if !send_kod {
                    prop_assert_ne!(decision, RateDecision::KissOfDeath);
                }
            }
        }
    }
}
