//! NTP time formats (RFC 5905 §6) with exact integer arithmetic.
//!
//! * [`NtpTimestamp`]: the 64-bit on-wire timestamp, unsigned 32.32 fixed point
//!   seconds since the start of an *era* (era 0 began 1900-01-01 00:00 UTC).
//!   It wraps every 2^32 s (about 136 years; era 1 begins 2036-02-07 06:28:16 UTC).
//! * [`NtpShort`]: the 32-bit short format, unsigned 16.16 fixed point seconds,
//!   used for root delay and root dispersion.
//! * [`NtpDate`]: the 128-bit date format, a signed era number plus a
//!   timestamp, which names one instant without ambiguity.
//! * [`NtpDuration`]: a signed 32.32 fixed point difference, what you get by
//!   subtracting two timestamps.
//!
//! # Eras and pivots
//!
//! A timestamp alone does not say which era it belongs to. Only *differences*
//! of raw timestamps are meaningful on their own: the subtraction is done
//! modulo 2^64 and read as a signed number, which is right whenever the two
//! instants are less than 2^31 s (68 years) apart. To turn a timestamp into an
//! absolute date, pick a *pivot* date known to be within 68 years of the
//! answer (the reference implementation uses "now"); [`NtpTimestamp::to_date`]
//! returns the date closest to the pivot. [`NtpDate::ERA1_START`] as pivot
//! gives the RFC 4330 rule (most significant bit set: 1968–2036; clear:
//! 2036–2104), which is what packet dissectors such as Wireshark use.
//!
//! # Precision of conversions
//!
//! One unit of the 32-bit fraction is 2^-32 s (about 233 ps), finer than a
//! nanosecond, so nanoseconds → [`NtpTimestamp`] rounds *up* to the next
//! fraction unit and timestamp → nanoseconds rounds *down*; this makes
//! nanoseconds → timestamp → nanoseconds an exact round trip.

use core::fmt;
use core::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use core::time::Duration;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const UNIX_EPOCH_NTP_SECONDS: u32 = 2_208_988_800;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const FRAC_SCALE: u128 = 1 << 32;

/// Nanoseconds (< 10^9) to a 32-bit fraction, rounding up.
const fn nanos_to_frac32(nanos: u32) -> u32 {
    let scaled = (nanos as u128) * FRAC_SCALE;
    scaled.div_ceil(NANOS_PER_SEC as u128) as u32
}

/// A 32-bit fraction to nanoseconds, rounding down.
const fn frac32_to_nanos(frac: u32) -> u32 {
    (((frac as u64) * NANOS_PER_SEC) >> 32) as u32
}

/// Rounds to the nearest integer, halves away from zero. `f64::round` lives in
/// `std`, and this crate must build without it.
///
/// Not `x ± 0.5` truncated: that sum is rounded itself, which turns
/// 0.49999999999999994 into 1 and every odd integer between 2^52 and 2^53
/// into the next even one (found by the `timestamps` fuzz target).
#[inline]
fn round_half_away(x: f64) -> f64 {
    // From 2^52 up every f64 is an integer already; NaN and the infinities
    // pass through to the callers' saturating casts.
    const INTEGRAL_FROM: f64 = 4_503_599_627_370_496.0; // 2^52
    if !(x > -INTEGRAL_FROM && x < INTEGRAL_FROM) {
        return x;
    }
    // Below 2^52 in magnitude the truncation and the difference are exact.
    let whole = x as i64 as f64;
    let rest = x - whole;
    if rest >= 0.5 {
        whole + 1.0
    } else if rest <= -0.5 {
        whole - 1.0
    } else {
        whole
    }
}

/// 64-bit NTP timestamp: 32 bits of seconds and 32 bits of fraction since the
/// start of the era (RFC 5905 §6, "NTP Timestamp Format").
///
/// Zero is special on the wire: it means "not known" (for instance the origin
/// timestamp of the first packet of an association).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtpTimestamp(u64);

impl NtpTimestamp {
    /// The all-zero timestamp, meaning "unknown" on the wire.
    pub const ZERO: NtpTimestamp = NtpTimestamp(0);

    /// From the raw 64-bit value (seconds in the high 32 bits).
    #[inline]
    pub const fn from_bits(bits: u64) -> Self {
        NtpTimestamp(bits)
    }

    /// The raw 64-bit value (seconds in the high 32 bits).
    #[inline]
    pub const fn to_bits(self) -> u64 {
        self.0
    }

    /// From whole seconds since the era start and a fraction in units of 2^-32 s.
    #[inline]
    pub const fn from_parts(seconds: u32, fraction: u32) -> Self {
        NtpTimestamp(((seconds as u64) << 32) | fraction as u64)
    }

    /// Whole seconds since the start of the era.
    #[inline]
    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Fraction of a second, in units of 2^-32 s.
    #[inline]
    pub const fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// Whether this is the "unknown" timestamp (all bits zero).
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// From the 8 big-endian bytes used on the wire.
    #[inline]
    pub const fn from_be_bytes(bytes: [u8; 8]) -> Self {
        NtpTimestamp(u64::from_be_bytes(bytes))
    }

    /// The 8 big-endian bytes used on the wire.
    #[inline]
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// `self - earlier` as a signed duration, computed modulo 2^32 s.
    ///
    /// Correct whenever the two instants are less than 2^31 s (about 68 years)
    /// apart, in either order and across an era boundary.
    #[inline]
    pub const fn wrapping_sub(self, earlier: NtpTimestamp) -> NtpDuration {
        NtpDuration(self.0.wrapping_sub(earlier.0) as i64)
    }

    /// `self + d`, modulo 2^32 s (the era wraps silently, as on the wire).
    #[inline]
    pub const fn wrapping_add(self, d: NtpDuration) -> NtpTimestamp {
        NtpTimestamp(self.0.wrapping_add(d.0 as u64))
    }

    /// The timestamp of a Unix time (seconds since 1970-01-01 UTC, and
    /// nanoseconds), with the era dropped. `nanos` of 10^9 or more carry into
    /// the seconds.
    pub const fn from_unix(seconds: i64, nanos: u32) -> Self {
        let carry = (nanos as u64 / NANOS_PER_SEC) as i64;
        let nanos = (nanos as u64 % NANOS_PER_SEC) as u32;
        let ntp_seconds = seconds.wrapping_add(carry).wrapping_add(UNIX_EPOCH_NTP_SECONDS as i64);
        NtpTimestamp::from_parts(ntp_seconds as u32, nanos_to_frac32(nanos))
    }

    /// The date this timestamp names that is closest to `pivot` (within
    /// -2^31 s .. +2^31 s of it). `None` only if that date is outside the
    /// range of [`NtpDate`] (era beyond ±2^31).
    ///
    /// The pivot is the *middle* of a 136-year window, not its start.
    /// `to_date(NtpDate::PRIME_EPOCH)` therefore reads the window
    /// 1831–1968, and a timestamp with the top bit set lands *before* 1900:
    /// 0xFFFFFFFF seconds comes out as 1899-12-31 23:59:59 (era -1), not as
    /// the last second of era 0 (2036-02-07 06:28:15). To place a timestamp
    /// in a known era, use [`NtpTimestamp::to_date_in_era`]; to read one
    /// from a packet, pivot on the current date (or
    /// [`NtpDate::ERA1_START`] for the RFC 4330 rule).
    ///
    /// ```
    /// use ntp_wire::{NtpDate, NtpTimestamp};
    /// let last = NtpTimestamp::from_parts(u32::MAX, 0);
    /// assert_eq!(last.to_date(NtpDate::PRIME_EPOCH).map(NtpDate::era), Some(-1));
    /// assert_eq!(last.to_date_in_era(0).to_utc().map(|d| d.year), Some(2036));
    /// ```
    pub const fn to_date(self, pivot: NtpDate) -> Option<NtpDate> {
        let delta = self.wrapping_sub(pivot.timestamp).0 as i128;
        NtpDate::from_fixed(pivot.to_fixed() + delta)
    }

    /// This timestamp read as a time in era `era`: era 0 is 1900-01-01 to
    /// 2036-02-07 06:28:16 UTC, era 1 the 2^32 s after it, era -1 the 2^32 s
    /// before 1900. Use it when the era is known from elsewhere (a file
    /// format, a protocol field, a date already decoded); to guess the era
    /// from a nearby date, use [`NtpTimestamp::to_date`].
    #[inline]
    pub const fn to_date_in_era(self, era: i32) -> NtpDate {
        NtpDate::new(era, self)
    }

    /// The Unix time (seconds, nanoseconds) this timestamp names that is
    /// closest to the Unix time `pivot_unix_seconds`. `None` only if the
    /// answer does not fit in an `i64` of seconds.
    pub const fn to_unix(self, pivot_unix_seconds: i64) -> Option<(i64, u32)> {
        match NtpDate::from_unix(pivot_unix_seconds, 0) {
            Some(pivot) => match self.to_date(pivot) {
                Some(date) => date.to_unix(),
                None => None,
            },
            None => None,
        }
    }

    /// Seconds within the era as a float (loses precision below ~1 µs).
    #[inline]
    pub fn to_seconds_f64(self) -> f64 {
        self.0 as f64 / FRAC_SCALE as f64
    }
}

#[cfg(feature = "std")]
impl NtpTimestamp {
    /// The timestamp of a `SystemTime` (era dropped).
    pub fn from_system_time(t: std::time::SystemTime) -> Self {
        let (secs, nanos) = system_time_to_unix(t);
        NtpTimestamp::from_unix(secs, nanos)
    }

    /// The `SystemTime` this timestamp names that is closest to `pivot`.
    /// `None` if the answer is outside what `SystemTime` can hold.
    pub fn to_system_time(self, pivot: std::time::SystemTime) -> Option<std::time::SystemTime> {
        let pivot = NtpDate::from_system_time(pivot)?;
        self.to_date(pivot)?.to_system_time()
    }
}

impl fmt::Debug for NtpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpTimestamp({:#010x}.{:08x})", self.seconds(), self.fraction())
    }
}

/// `a - b` is [`NtpTimestamp::wrapping_sub`]: a signed difference, modulo 2^32 s.
impl Sub for NtpTimestamp {
    type Output = NtpDuration;
    #[inline]
    fn sub(self, rhs: NtpTimestamp) -> NtpDuration {
        self.wrapping_sub(rhs)
    }
}

/// Adds modulo 2^32 s, as [`NtpTimestamp::wrapping_add`].
impl Add<NtpDuration> for NtpTimestamp {
    type Output = NtpTimestamp;
    #[inline]
    fn add(self, rhs: NtpDuration) -> NtpTimestamp {
        self.wrapping_add(rhs)
    }
}

/// Subtracts modulo 2^32 s.
impl Sub<NtpDuration> for NtpTimestamp {
    type Output = NtpTimestamp;
    #[inline]
    fn sub(self, rhs: NtpDuration) -> NtpTimestamp {
        NtpTimestamp(self.0.wrapping_sub(rhs.0 as u64))
    }
}

impl AddAssign<NtpDuration> for NtpTimestamp {
    #[inline]
    fn add_assign(&mut self, rhs: NtpDuration) {
        *self = *self + rhs;
    }
}

/// Signed 32.32 fixed point seconds: a difference of timestamps, an offset or
/// a delay. Range about ±68 years with 233 ps resolution.
///
/// `+`, `-` and unary `-` saturate at the ends of the range instead of
/// wrapping: an offset that overflows is better pinned at "huge" than turned
/// into its opposite.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtpDuration(i64);

impl NtpDuration {
    /// Zero seconds.
    pub const ZERO: NtpDuration = NtpDuration(0);
    /// The largest duration, just under 2^31 s.
    pub const MAX: NtpDuration = NtpDuration(i64::MAX);
    /// The most negative duration, -2^31 s.
    pub const MIN: NtpDuration = NtpDuration(i64::MIN);
    /// One second.
    pub const ONE_SECOND: NtpDuration = NtpDuration(1 << 32);

    /// From the raw signed 32.32 value.
    #[inline]
    pub const fn from_bits(bits: i64) -> Self {
        NtpDuration(bits)
    }

    /// The raw signed 32.32 value.
    #[inline]
    pub const fn to_bits(self) -> i64 {
        self.0
    }

    /// Whole seconds (may be negative).
    #[inline]
    pub const fn from_seconds(seconds: i32) -> Self {
        NtpDuration((seconds as i64) << 32)
    }

    /// 2^`log2` seconds, the form poll intervals and precisions take on the
    /// wire. Saturates at [`NtpDuration::MAX`] for `log2 >= 31`; below
    /// `-32` the result is zero.
    pub const fn from_log2_seconds(log2: i8) -> Self {
        if log2 >= 31 {
            NtpDuration::MAX
        } else if log2 < -32 {
            NtpDuration::ZERO
        } else {
            NtpDuration(1i64 << (log2 as i32 + 32))
        }
    }

    /// From seconds as a float, rounded to the nearest unit and saturated at
    /// the ends of the range. NaN gives zero.
    pub fn from_seconds_f64(seconds: f64) -> Self {
        // `as` from float saturates and maps NaN to 0, which is the documented behaviour.
        NtpDuration(round_half_away(seconds * FRAC_SCALE as f64) as i64)
    }

    /// Seconds as a float.
    #[inline]
    pub fn to_seconds_f64(self) -> f64 {
        self.0 as f64 / FRAC_SCALE as f64
    }

    /// From a `core::time::Duration`, rounding up to the next 2^-32 s.
    /// `None` if it is 2^31 s or longer.
    pub const fn from_duration(d: Duration) -> Option<Self> {
        let secs = d.as_secs();
        if secs >= (1 << 31) {
            return None;
        }
        let bits = ((secs << 32) + nanos_to_frac32(d.subsec_nanos()) as u64) as i64;
        if bits < 0 { None } else { Some(NtpDuration(bits)) }
    }

    /// As a `core::time::Duration`, rounding down to whole nanoseconds.
    /// `None` if negative.
    pub const fn to_duration(self) -> Option<Duration> {
        if self.0 < 0 {
            return None;
        }
        let bits = self.0 as u64;
        Some(Duration::new(bits >> 32, frac32_to_nanos(bits as u32)))
    }

    /// The absolute value, saturating (|MIN| gives MAX).
    #[inline]
    pub const fn abs(self) -> Self {
        NtpDuration(self.0.saturating_abs())
    }

    /// Whether this is below zero.
    #[inline]
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `self + rhs`, or `None` on overflow.
    #[inline]
    pub const fn checked_add(self, rhs: NtpDuration) -> Option<Self> {
        match self.0.checked_add(rhs.0) {
            Some(v) => Some(NtpDuration(v)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` on overflow.
    #[inline]
    pub const fn checked_sub(self, rhs: NtpDuration) -> Option<Self> {
        match self.0.checked_sub(rhs.0) {
            Some(v) => Some(NtpDuration(v)),
            None => None,
        }
    }

    /// The exact mean of two durations, rounded toward negative infinity;
    /// never overflows. The on-wire offset is such a mean.
    #[inline]
    pub const fn midpoint(self, other: NtpDuration) -> Self {
        NtpDuration(((self.0 as i128 + other.0 as i128) >> 1) as i64)
    }
}

impl fmt::Debug for NtpDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpDuration({:+.9} s)", self.to_seconds_f64())
    }
}

/// Seconds with nanosecond digits, e.g. `+0.000123456`.
impl fmt::Display for NtpDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let magnitude = self.0.unsigned_abs();
        let nanos = frac32_to_nanos(magnitude as u32);
        write!(f, "{sign}{}.{nanos:09}", magnitude >> 32)
    }
}

impl Add for NtpDuration {
    type Output = NtpDuration;
    #[inline]
    fn add(self, rhs: NtpDuration) -> NtpDuration {
        NtpDuration(self.0.saturating_add(rhs.0))
    }
}

impl Sub for NtpDuration {
    type Output = NtpDuration;
    #[inline]
    fn sub(self, rhs: NtpDuration) -> NtpDuration {
        NtpDuration(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for NtpDuration {
    type Output = NtpDuration;
    #[inline]
    fn neg(self) -> NtpDuration {
        NtpDuration(self.0.saturating_neg())
    }
}

impl AddAssign for NtpDuration {
    #[inline]
    fn add_assign(&mut self, rhs: NtpDuration) {
        *self = *self + rhs;
    }
}

impl SubAssign for NtpDuration {
    #[inline]
    fn sub_assign(&mut self, rhs: NtpDuration) {
        *self = *self - rhs;
    }
}

/// NTP short format: unsigned 16.16 fixed point seconds (RFC 5905 §6), used
/// on the wire for root delay and root dispersion. Range 0 to 65536 s with
/// 15.3 µs resolution.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtpShort(u32);

impl NtpShort {
    /// Zero seconds.
    pub const ZERO: NtpShort = NtpShort(0);
    /// The largest value, just under 65536 s.
    pub const MAX: NtpShort = NtpShort(u32::MAX);

    /// From the raw 16.16 value.
    #[inline]
    pub const fn from_bits(bits: u32) -> Self {
        NtpShort(bits)
    }

    /// The raw 16.16 value.
    #[inline]
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// From whole seconds and a fraction in units of 2^-16 s.
    #[inline]
    pub const fn from_parts(seconds: u16, fraction: u16) -> Self {
        NtpShort(((seconds as u32) << 16) | fraction as u32)
    }

    /// Whole seconds.
    #[inline]
    pub const fn seconds(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// Fraction, in units of 2^-16 s.
    #[inline]
    pub const fn fraction(self) -> u16 {
        self.0 as u16
    }

    /// From seconds as a float, rounded to nearest and saturated to the
    /// representable range (negative and NaN give zero).
    pub fn from_seconds_f64(seconds: f64) -> Self {
        NtpShort(round_half_away(seconds * 65536.0) as u32)
    }

    /// Seconds as a float (exact: a 16.16 value fits an f64).
    #[inline]
    pub fn to_seconds_f64(self) -> f64 {
        self.0 as f64 / 65536.0
    }

    /// As a signed 32.32 duration (exact).
    #[inline]
    pub const fn to_ntp_duration(self) -> NtpDuration {
        NtpDuration((self.0 as i64) << 16)
    }

    /// From a non-negative duration, rounded to the nearest 2^-16 s and
    /// saturated at [`NtpShort::MAX`]; negative durations give zero.
    pub const fn from_ntp_duration(d: NtpDuration) -> Self {
        if d.0 <= 0 {
            return NtpShort(0);
        }
        let rounded = (d.0 as u64 + (1 << 15)) >> 16;
        if rounded > u32::MAX as u64 { NtpShort::MAX } else { NtpShort(rounded as u32) }
    }

    /// From a `core::time::Duration`, rounded to the nearest 2^-16 s.
    /// `None` if it rounds to 65536 s or more.
    pub const fn from_duration(d: Duration) -> Option<Self> {
        let secs = d.as_secs();
        // Round to nearest: (nanos * 2^16 + 5e8) / 1e9, carrying into seconds.
        let frac = ((d.subsec_nanos() as u64) * 65536 + NANOS_PER_SEC / 2) / NANOS_PER_SEC;
        let total = (secs as u128) * 65536 + frac as u128;
        if total > u32::MAX as u128 { None } else { Some(NtpShort(total as u32)) }
    }

    /// As a `core::time::Duration`, rounded down to whole nanoseconds.
    pub const fn to_duration(self) -> Duration {
        let nanos = ((self.fraction() as u64) * NANOS_PER_SEC) >> 16;
        Duration::new(self.seconds() as u64, nanos as u32)
    }
}

impl fmt::Debug for NtpShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpShort({:.6} s)", self.to_seconds_f64())
    }
}

/// NTP date (RFC 5905 §6, "NTP Date Format"): a signed era number and the
/// timestamp within it. Era 0 starts at 1900-01-01 00:00:00 UTC; each era is
/// 2^32 s long. Dates order and subtract without ambiguity.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtpDate {
    era: i32,
    timestamp: NtpTimestamp,
}

impl NtpDate {
    /// 1900-01-01 00:00:00 UTC, the NTP prime epoch.
    pub const PRIME_EPOCH: NtpDate = NtpDate { era: 0, timestamp: NtpTimestamp::ZERO };
    /// 1970-01-01 00:00:00 UTC.
    pub const UNIX_EPOCH: NtpDate = NtpDate { era: 0, timestamp: NtpTimestamp::from_parts(UNIX_EPOCH_NTP_SECONDS, 0) };
    /// 2036-02-07 06:28:16 UTC, where era 1 begins. As a pivot for
    /// [`NtpTimestamp::to_date`] it gives the RFC 4330 rule: timestamps with
    /// the top bit set fall in 1968–2036, the others in 2036–2104.
    pub const ERA1_START: NtpDate = NtpDate { era: 1, timestamp: NtpTimestamp::ZERO };

    /// From an era number and the timestamp within that era.
    #[inline]
    pub const fn new(era: i32, timestamp: NtpTimestamp) -> Self {
        NtpDate { era, timestamp }
    }

    /// The era number (0 for 1900–2036, 1 for 2036–2172, negative before 1900).
    #[inline]
    pub const fn era(self) -> i32 {
        self.era
    }

    /// The timestamp within the era: what goes on the wire.
    #[inline]
    pub const fn timestamp(self) -> NtpTimestamp {
        self.timestamp
    }

    /// As one signed 96-bit fixed point number of 2^-32 s since the prime epoch.
    #[inline]
    pub const fn to_fixed(self) -> i128 {
        ((self.era as i128) << 64) | self.timestamp.0 as i128
    }

    /// From a signed fixed point number of 2^-32 s since the prime epoch;
    /// `None` if the era does not fit in an `i32`.
    pub const fn from_fixed(fixed: i128) -> Option<Self> {
        let era = fixed >> 64;
        if era < i32::MIN as i128 || era > i32::MAX as i128 {
            return None;
        }
        Some(NtpDate { era: era as i32, timestamp: NtpTimestamp(fixed as u64) })
    }

    /// From a Unix time (seconds since 1970-01-01 UTC, nanoseconds; `nanos`
    /// of 10^9 or more carry into the seconds). Exact: the fraction is
    /// rounded up, so [`NtpDate::to_unix`] gives the same nanoseconds back.
    /// `None` only if the era would not fit in an `i32`.
    pub const fn from_unix(seconds: i64, nanos: u32) -> Option<Self> {
        let carry = nanos as i128 / NANOS_PER_SEC as i128;
        let nanos = (nanos as u64 % NANOS_PER_SEC) as u32;
        let ntp_seconds = seconds as i128 + carry + UNIX_EPOCH_NTP_SECONDS as i128;
        NtpDate::from_fixed((ntp_seconds << 32) + nanos_to_frac32(nanos) as i128)
    }

    /// As a Unix time (seconds since 1970-01-01 UTC, nanoseconds rounded
    /// down). `None` if the seconds do not fit in an `i64`.
    pub const fn to_unix(self) -> Option<(i64, u32)> {
        let fixed = self.to_fixed();
        let seconds = (fixed >> 32) - UNIX_EPOCH_NTP_SECONDS as i128;
        if seconds < i64::MIN as i128 || seconds > i64::MAX as i128 {
            return None;
        }
        Some((seconds as i64, frac32_to_nanos(fixed as u32)))
    }

    /// `self - earlier` as a signed duration; `None` if the difference is
    /// 2^31 s or more either way.
    pub const fn checked_sub(self, earlier: NtpDate) -> Option<NtpDuration> {
        let d = self.to_fixed() - earlier.to_fixed();
        if d < i64::MIN as i128 || d > i64::MAX as i128 { None } else { Some(NtpDuration(d as i64)) }
    }

    /// `self + d`; `None` if the era overflows.
    pub const fn checked_add(self, d: NtpDuration) -> Option<NtpDate> {
        NtpDate::from_fixed(self.to_fixed() + d.0 as i128)
    }

    /// The civil UTC date and time of this instant (proleptic Gregorian,
    /// no leap seconds: 23:59:60 cannot be named by an NTP timestamp).
    /// `None` only for dates whose year does not fit in an `i64`.
    pub const fn to_utc(self) -> Option<UtcDateTime> {
        let fixed = self.to_fixed();
        let seconds = (fixed >> 32) - UNIX_EPOCH_NTP_SECONDS as i128;
        let nanos = frac32_to_nanos(fixed as u32);
        let days = seconds.div_euclid(86_400);
        let second_of_day = seconds.rem_euclid(86_400) as u32;
        // Civil-from-days (H. Hinnant's algorithm), in i128 so no input overflows.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        if year < i64::MIN as i128 || year > i64::MAX as i128 {
            return None;
        }
        Some(UtcDateTime {
            year: year as i64,
            month,
            day,
            hour: (second_of_day / 3600) as u8,
            minute: (second_of_day / 60 % 60) as u8,
            second: (second_of_day % 60) as u8,
            nanosecond: nanos,
        })
    }
}

#[cfg(feature = "std")]
impl NtpDate {
    /// From a `SystemTime`; `None` only outside the era range.
    pub fn from_system_time(t: std::time::SystemTime) -> Option<Self> {
        let (secs, nanos) = system_time_to_unix(t);
        NtpDate::from_unix(secs, nanos)
    }

    /// As a `SystemTime`; `None` if the platform cannot represent it.
    pub fn to_system_time(self) -> Option<std::time::SystemTime> {
        let (secs, nanos) = self.to_unix()?;
        let epoch = std::time::SystemTime::UNIX_EPOCH;
        if secs >= 0 {
            epoch.checked_add(Duration::new(secs.unsigned_abs(), nanos))
        } else {
            // The last second apart: SystemTime refuses to subtract 2^63 s
            // (i64::MIN) in one step where it keeps seconds in an i64.
            epoch
                .checked_sub(Duration::from_secs((secs + 1).unsigned_abs()))?
                .checked_sub(Duration::from_secs(1))?
                .checked_add(Duration::from_nanos(nanos as u64))
        }
    }
}

/// Unix seconds and nanoseconds of a `SystemTime`, also before 1970.
#[cfg(feature = "std")]
fn system_time_to_unix(t: std::time::SystemTime) -> (i64, u32) {
    match t.duration_since(std::time::SystemTime::UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_nanos()),
        Err(e) => {
            // In i128: i64::MIN seconds, which SystemTime holds on Unix, is
            // 2^63 s before the epoch, a magnitude no i64 holds.
            let d = e.duration();
            let secs = -i128::from(d.as_secs());
            let (secs, nanos) =
                if d.subsec_nanos() == 0 { (secs, 0) } else { (secs - 1, 1_000_000_000 - d.subsec_nanos()) };
            (i64::try_from(secs).unwrap_or(i64::MIN), nanos)
        }
    }
}

impl fmt::Debug for NtpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_utc() {
            Some(utc) => write!(f, "NtpDate(era {}, {utc})", self.era),
            None => write!(f, "NtpDate(era {}, {:?})", self.era, self.timestamp),
        }
    }
}

/// A civil date and time in UTC, as returned by [`NtpDate::to_utc`].
/// Its `Display` form is RFC 3339 with nanoseconds: `2026-11-21T15:12:00.123456789Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UtcDateTime {
    /// Year (proleptic Gregorian; may be zero or negative far from today).
    pub year: i64,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
    /// Nanoseconds, 0..1_000_000_000 (rounded down).
    pub nanosecond: u32,
}

impl fmt::Display for UtcDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanosecond
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_unix_epoch_constant() {
        assert_eq!(NtpDate::from_unix(0, 0), Some(NtpDate::UNIX_EPOCH));
        assert_eq!(NtpDate::UNIX_EPOCH.to_unix(), Some((0, 0)));
    }

    #[test]
    fn test_era1_start_is_2036_02_07() {
        let utc = NtpDate::ERA1_START.to_utc().unwrap();
        assert_eq!(utc.to_string(), "2036-02-07T06:28:16.000000000Z");
        // 2^32 - 2208988800 seconds after the Unix epoch.
        assert_eq!(NtpDate::ERA1_START.to_unix(), Some((2_085_978_496, 0)));
    }

    #[test]
    fn test_known_civil_dates() {
        let cases = [
            (0i64, "1970-01-01T00:00:00.000000000Z"),
            (951_782_400, "2000-02-29T00:00:00.000000000Z"),
            (1_795_273_920, "2026-11-21T15:12:00.000000000Z"),
            (-2_208_988_800, "1900-01-01T00:00:00.000000000Z"),
            (4_107_542_400, "2100-03-01T00:00:00.000000000Z"),
        ];
        for (unix, text) in cases {
            let date = NtpDate::from_unix(unix, 0).unwrap();
            assert_eq!(date.to_utc().unwrap().to_string(), text, "unix {unix}");
        }
    }

    #[test]
    fn test_wrapping_sub_across_era_boundary() {
        let before = NtpTimestamp::from_parts(u32::MAX, 0x8000_0000); // 0.5 s before era 1
        let after = NtpTimestamp::from_parts(0, 0x8000_0000); // 0.5 s into era 1
        assert_eq!(after - before, NtpDuration::ONE_SECOND);
        assert_eq!(before - after, -NtpDuration::ONE_SECOND);
        assert_eq!(before + NtpDuration::ONE_SECOND, after);
    }

    #[test]
    fn test_to_date_in_era_names_the_era_it_is_given() {
        let first = NtpTimestamp::ZERO;
        let last = NtpTimestamp::from_parts(u32::MAX, 0);
        let utc = |d: NtpDate| {
            let t = d.to_utc().unwrap();
            (t.year, t.month, t.day, t.hour, t.minute, t.second)
        };
        // Expected values from Python: datetime(1900, 1, 1) + timedelta(seconds=...).
        assert_eq!(utc(first.to_date_in_era(0)), (1900, 1, 1, 0, 0, 0));
        assert_eq!(utc(last.to_date_in_era(0)), (2036, 2, 7, 6, 28, 15));
        assert_eq!(utc(first.to_date_in_era(1)), (2036, 2, 7, 6, 28, 16));
        assert_eq!(utc(last.to_date_in_era(1)), (2172, 3, 15, 12, 56, 31));
        assert_eq!(utc(first.to_date_in_era(-1)), (1763, 11, 24, 17, 31, 44));
        assert_eq!(utc(last.to_date_in_era(-1)), (1899, 12, 31, 23, 59, 59));
        // The era form is exactly NtpDate::new, for every era.
        for era in [i32::MIN, -2, -1, 0, 1, 2, i32::MAX] {
            let date = last.to_date_in_era(era);
            assert_eq!((date.era(), date.timestamp()), (era, last));
        }
    }

    #[test]
    fn test_prime_epoch_pivot_reads_top_bit_as_before_1900() {
        // The documented trap: the pivot is the middle of the window.
        let last = NtpTimestamp::from_parts(u32::MAX, 0);
        assert_eq!(last.to_date(NtpDate::PRIME_EPOCH), Some(last.to_date_in_era(-1)));
        let below = NtpTimestamp::from_parts(0x7fff_ffff, 0);
        assert_eq!(below.to_date(NtpDate::PRIME_EPOCH), Some(below.to_date_in_era(0)));
        // A pivot inside era 0 puts the same timestamp at the end of era 0.
        assert_eq!(last.to_date(NtpDate::ERA1_START), Some(last.to_date_in_era(0)));
    }

    #[test]
    fn test_to_date_uses_pivot() {
        let ts = NtpTimestamp::from_parts(10, 0);
        // Near 2036 the small timestamp belongs to era 1.
        assert_eq!(ts.to_date(NtpDate::ERA1_START).unwrap().era(), 1);
        // Near 1900 it belongs to era 0.
        assert_eq!(ts.to_date(NtpDate::PRIME_EPOCH).unwrap().era(), 0);
        // RFC 4330 rule: top bit set is era 0 (1968..2036).
        let late = NtpTimestamp::from_parts(0xE000_0000, 0);
        assert_eq!(late.to_date(NtpDate::ERA1_START).unwrap().era(), 0);
    }

    #[test]
    fn test_duration_conversions() {
        let d = Duration::new(3, 500_000_000);
        let n = NtpDuration::from_duration(d).unwrap();
        assert_eq!(n.to_bits(), (3 << 32) | 0x8000_0000);
        assert_eq!(n.to_duration(), Some(d));
        assert_eq!((-n).to_duration(), None);
        assert_eq!(NtpDuration::from_duration(Duration::from_secs(1 << 31)), None);
        assert_eq!(NtpDuration::from_seconds_f64(-1.5).to_bits(), -(3i64 << 31));
        assert_eq!(NtpDuration::from_seconds_f64(f64::NAN), NtpDuration::ZERO);
        assert_eq!(NtpDuration::from_seconds_f64(1e300), NtpDuration::MAX);
        assert_eq!(NtpDuration::from_log2_seconds(6), NtpDuration::from_seconds(64));
        assert_eq!(NtpDuration::from_log2_seconds(-1).to_seconds_f64(), 0.5);
        assert_eq!(NtpDuration::from_log2_seconds(40), NtpDuration::MAX);
        assert_eq!(NtpDuration::from_log2_seconds(-100), NtpDuration::ZERO);
        assert_eq!(NtpDuration::from_seconds_f64(-0.25).to_string(), "-0.250000000");
    }

    #[test]
    fn test_float_rounding_is_exact() {
        // Regression (fuzz target `timestamps`): rounding by adding 0.5 and
        // truncating moved odd values between 2^52 and 2^53 units (12 to 24
        // days) to the next even one, and the largest double below 0.5 up to 1.
        for bits in [-8_444_249_301_319_681, (1 << 52) + 1, (1 << 53) - 1, -((1 << 53) - 1), 1, -1] {
            let d = NtpDuration::from_bits(bits);
            assert_eq!(NtpDuration::from_seconds_f64(d.to_seconds_f64()), d, "{bits}");
        }
        let below_half = 0.499_999_999_999_999_94_f64;
        assert_eq!(NtpDuration::from_seconds_f64(below_half / 4_294_967_296.0), NtpDuration::ZERO);
        assert_eq!(NtpDuration::from_seconds_f64(-below_half / 4_294_967_296.0), NtpDuration::ZERO);
        assert_eq!(NtpShort::from_seconds_f64(below_half / 65_536.0), NtpShort::ZERO);
        // Halves still go away from zero.
        assert_eq!(NtpDuration::from_seconds_f64(2.5 / 4_294_967_296.0).to_bits(), 3);
        assert_eq!(NtpDuration::from_seconds_f64(-2.5 / 4_294_967_296.0).to_bits(), -3);
        assert_eq!(NtpShort::from_seconds_f64(0.5 / 65_536.0), NtpShort::from_bits(1));
    }

    #[test]
    fn test_short_conversions() {
        let s = NtpShort::from_parts(1, 0x8000);
        assert_eq!(s.to_seconds_f64(), 1.5);
        assert_eq!(s.to_duration(), Duration::from_millis(1500));
        assert_eq!(NtpShort::from_duration(Duration::from_millis(1500)), Some(s));
        assert_eq!(NtpShort::from_duration(Duration::from_secs(65_536)), None);
        assert_eq!(NtpShort::from_seconds_f64(-3.0), NtpShort::ZERO);
        assert_eq!(NtpShort::from_seconds_f64(1e9), NtpShort::MAX);
        assert_eq!(s.to_ntp_duration(), NtpDuration::from_seconds_f64(1.5));
        assert_eq!(NtpShort::from_ntp_duration(s.to_ntp_duration()), s);
        assert_eq!(NtpShort::from_ntp_duration(NtpDuration::MAX), NtpShort::MAX);
        assert_eq!(NtpShort::from_ntp_duration(-NtpDuration::ONE_SECOND), NtpShort::ZERO);
    }

    #[test]
    fn test_midpoint_never_overflows() {
        assert_eq!(NtpDuration::MAX.midpoint(NtpDuration::MAX), NtpDuration::MAX);
        assert_eq!(NtpDuration::MIN.midpoint(NtpDuration::MIN), NtpDuration::MIN);
        assert_eq!(NtpDuration::MAX.midpoint(NtpDuration::MIN).to_bits(), -1);
    }

    #[test]
    fn test_unix_extremes_are_none_not_panic() {
        assert!(NtpDate::from_unix(i64::MAX, 999_999_999).is_none());
        assert!(NtpDate::new(i32::MIN, NtpTimestamp::ZERO).to_unix().is_none());
        assert!(NtpDate::new(i32::MAX, NtpTimestamp::from_bits(u64::MAX)).checked_add(NtpDuration::MAX).is_none());
        assert!(
            NtpTimestamp::from_bits(10)
                .to_date(NtpDate::new(i32::MAX, NtpTimestamp::from_bits(u64::MAX - 5)))
                .is_none()
        );
        assert!(NtpDate::new(i32::MIN, NtpTimestamp::ZERO).to_utc().is_some());
    }

    #[cfg(feature = "std")]
    #[test]
    fn test_system_time_round_trip() {
        use std::time::{SystemTime, UNIX_EPOCH};
        let t = UNIX_EPOCH + Duration::new(1_795_273_920, 123_456_789);
        let date = NtpDate::from_system_time(t).unwrap();
        assert_eq!(date.to_system_time(), Some(t));
        let ts = NtpTimestamp::from_system_time(t);
        assert_eq!(ts.to_system_time(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)), Some(t));
        let before = UNIX_EPOCH - Duration::new(5, 250_000_000);
        let date = NtpDate::from_system_time(before).unwrap();
        assert_eq!(date.to_unix(), Some((-6, 750_000_000)));
        assert_eq!(date.to_system_time(), Some(before));
    }

    #[cfg(feature = "std")]
    #[test]
    fn test_system_time_at_i64_min_seconds() {
        // Regression (fuzz target `timestamps`): the earliest SystemTime Unix
        // holds, i64::MIN seconds, came out one second late and did not
        // convert back.
        use std::time::UNIX_EPOCH;
        let earliest = UNIX_EPOCH
            .checked_sub(Duration::from_secs(i64::MAX as u64))
            .and_then(|t| t.checked_sub(Duration::from_secs(1)));
        let Some(t) = earliest else { return }; // a platform with a narrower SystemTime
        let date = NtpDate::from_system_time(t).unwrap();
        assert_eq!(Some(date), NtpDate::from_unix(i64::MIN, 0));
        assert_eq!(date.to_system_time(), Some(t));
        let t = t + Duration::new(0, 250);
        let date = NtpDate::from_system_time(t).unwrap();
        assert_eq!(date.to_unix(), Some((i64::MIN, 250)));
        assert_eq!(date.to_system_time(), Some(t));
    }

    proptest! {
        #[test]
        fn prop_unix_round_trip(secs in -(1i64 << 40)..(1i64 << 40), nanos in 0u32..1_000_000_000) {
            let date = NtpDate::from_unix(secs, nanos).unwrap();
            prop_assert_eq!(date.to_unix(), Some((secs, nanos)));
        }

        #[test]
        fn prop_to_date_in_era_agrees_with_fixed_point(bits in any::<u64>(), era in any::<i32>()) {
            let ts = NtpTimestamp::from_bits(bits);
            let date = ts.to_date_in_era(era);
            prop_assert_eq!(date.to_fixed(), ((era as i128) << 64) + bits as i128);
            // Pivoting on the date itself finds the same era again.
            prop_assert_eq!(ts.to_date(date), Some(date));
        }

        #[test]
        fn prop_timestamp_to_date_recovers_era(secs in -(1i64 << 40)..(1i64 << 40), nanos in 0u32..1_000_000_000, skew in -(1i64 << 31)+1..(1i64 << 31)) {
            // Drop the era, then recover it from any pivot within 68 years.
            let date = NtpDate::from_unix(secs, nanos).unwrap();
            let ts = NtpTimestamp::from_unix(secs, nanos);
            prop_assert_eq!(ts, date.timestamp());
            let pivot = NtpDate::from_unix(secs.saturating_add(skew), 0).unwrap();
            prop_assert_eq!(ts.to_date(pivot), Some(date));
            prop_assert_eq!(ts.to_unix(secs.saturating_add(skew)), Some((secs, nanos)));
        }

        #[test]
        fn prop_difference_across_eras(a in any::<u64>(), d in any::<i64>()) {
            let ta = NtpTimestamp::from_bits(a);
            let dd = NtpDuration::from_bits(d);
            prop_assert_eq!((ta + dd) - ta, dd);
            prop_assert_eq!((ta + dd) - dd, ta);
        }

        #[test]
        fn prop_date_difference_matches_timestamp_difference(era in -1000i32..1000, a in any::<u64>(), d in -(1i64 << 62)..(1i64 << 62)) {
            let start = NtpDate::new(era, NtpTimestamp::from_bits(a));
            let dd = NtpDuration::from_bits(d);
            let end = start.checked_add(dd).unwrap();
            prop_assert_eq!(end.checked_sub(start), Some(dd));
            prop_assert_eq!(end.timestamp() - start.timestamp(), dd);
        }

        #[test]
        fn prop_duration_f64_round_trip(bits in -(1i64 << 53)..=(1i64 << 53)) {
            // Below 2^53 units the float is exact, so the way back must be too.
            let d = NtpDuration::from_bits(bits);
            prop_assert_eq!(NtpDuration::from_seconds_f64(d.to_seconds_f64()), d);
        }

        #[test]
        fn prop_duration_round_trip(secs in 0u64..(1 << 31), nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(NtpDuration::from_duration(d).unwrap().to_duration(), Some(d));
        }

        #[test]
        fn prop_short_round_trip(bits in any::<u32>()) {
            let s = NtpShort::from_bits(bits);
            prop_assert_eq!(NtpShort::from_duration(s.to_duration()), Some(s));
            prop_assert_eq!(NtpShort::from_seconds_f64(s.to_seconds_f64()), s);
            prop_assert_eq!(NtpShort::from_ntp_duration(s.to_ntp_duration()), s);
        }

        #[test]
        fn prop_utc_matches_days(days in -1_000_000i64..1_000_000) {
            // Each day advances the civil date by exactly one.
            let a = NtpDate::from_unix(days * 86_400, 0).unwrap().to_utc().unwrap();
            let b = NtpDate::from_unix(days * 86_400 + 86_399, 0).unwrap().to_utc().unwrap();
            prop_assert_eq!((a.year, a.month, a.day), (b.year, b.month, b.day));
            prop_assert_eq!((b.hour, b.minute, b.second), (23, 59, 59));
            prop_assert!((1..=12).contains(&a.month) && (1..=31).contains(&a.day));
        }
    }
}
