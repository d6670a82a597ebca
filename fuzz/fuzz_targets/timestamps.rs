//! Fuzz target `timestamps`: arbitrary integers and floats through every
//! conversion in `ntp_wire::time`.
//!
//! Nothing may panic (the fuzz build has overflow checks on), and the laws
//! the module documents must hold for every value, not only the ones the
//! unit tests and proptests pick:
//!
//! * timestamp arithmetic is modulo 2^64 units and exact both ways;
//! * `to_date(pivot)` returns the date nearest the pivot, so any date within
//!   2^31 s of the pivot is recovered from its timestamp alone;
//! * Unix -> NTP rounds the fraction up and NTP -> Unix rounds it down, so
//!   Unix -> NTP -> Unix (and `Duration` -> `NtpDuration` -> `Duration`, and
//!   `SystemTime` -> `NtpDate` -> `SystemTime`) is exact, and the other way
//!   round loses less than a nanosecond;
//! * `to_utc` names a real civil date, the same instant `to_unix` names;
//! * float conversions round to nearest and saturate; `NtpShort` survives
//!   every conversion it offers.
#![no_main]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntp_wire::time::UNIX_EPOCH_NTP_SECONDS;
use ntp_wire::{NtpDate, NtpDuration, NtpShort, NtpTimestamp};

/// Raw material: every value is used in several conversions below.
#[derive(Arbitrary, Debug)]
struct Input {
    /// A raw 32.32 timestamp, and a second one to subtract.
    ts: u64,
    other_ts: u64,
    /// A raw signed 32.32 duration, and a second one for binary operations.
    duration: i64,
    other_duration: i64,
    /// A raw 16.16 short value.
    short: u32,
    /// Era of the date made of `ts`.
    era: i32,
    /// A pivot date: era and timestamp.
    pivot_era: i32,
    pivot_ts: u64,
    /// A Unix time; nanoseconds may be 10^9 or more (they carry).
    unix_secs: i64,
    unix_nanos: u32,
    /// A Unix pivot, and an offset from `unix_secs` to make a near pivot.
    pivot_unix_secs: i64,
    skew: i32,
    /// A `core::time::Duration`.
    std_secs: u64,
    std_nanos: u32,
    /// Any float, NaN and infinities included.
    float: f64,
    /// A log2 interval as poll and precision carry it.
    log2: i8,
}

/// Timestamp units (2^-32 s) a nanosecond spans, rounded up: the most that
/// rounding the fraction down to nanoseconds and back up can lose.
const UNITS_PER_NANO_CEIL: i128 = 5;
const NANOS_PER_SEC: u32 = 1_000_000_000;

fuzz_target!(|input: Input| {
    timestamp_laws(&input);
    date_and_pivot_laws(&input);
    unix_laws(&input);
    utc_laws(NtpDate::new(input.era, NtpTimestamp::from_bits(input.ts)));
    utc_laws(NtpDate::new(input.pivot_era, NtpTimestamp::from_bits(input.pivot_ts)));
    duration_laws(&input);
    short_laws(&input);
    system_time_laws(&input);
});

fn timestamp_laws(input: &Input) {
    let a = NtpTimestamp::from_bits(input.ts);
    let b = NtpTimestamp::from_bits(input.other_ts);
    let d = NtpDuration::from_bits(input.duration);
    assert_eq!(NtpTimestamp::from_parts(a.seconds(), a.fraction()), a);
    assert_eq!(NtpTimestamp::from_be_bytes(a.to_be_bytes()), a);
    assert_eq!(a.is_zero(), input.ts == 0);

    // Modulo arithmetic: exact in both directions, whatever the values.
    assert_eq!((a + d) - a, d);
    assert_eq!((a + d) - d, a);
    assert_eq!(b + (a - b), a);
    assert_eq!((a - b).to_bits(), (b - a).to_bits().wrapping_neg());
    let mut c = a;
    c += d;
    assert_eq!(c, a.wrapping_add(d));
    assert_eq!(a.wrapping_sub(b), a - b);

    let f = a.to_seconds_f64();
    assert!((0.0..=4_294_967_296.0).contains(&f), "{a:?} is {f} s");
    black_box(format!("{a:?}"));
}

fn date_and_pivot_laws(input: &Input) {
    let ts = NtpTimestamp::from_bits(input.ts);
    let date = NtpDate::new(input.era, ts);
    let pivot = NtpDate::new(input.pivot_era, NtpTimestamp::from_bits(input.pivot_ts));
    assert_eq!((date.era(), date.timestamp()), (input.era, ts));
    assert_eq!(NtpDate::from_fixed(date.to_fixed()), Some(date));
    assert_eq!(date.cmp(&pivot), date.to_fixed().cmp(&pivot.to_fixed()), "Ord disagrees with the fixed-point value");

    // to_date gives the date with this timestamp nearest the pivot: within
    // [-2^31 s, 2^31 s) of it, that is exactly the wrapping difference.
    match ts.to_date(pivot) {
        Some(near) => {
            assert_eq!(near.timestamp(), ts);
            assert_eq!(near.checked_sub(pivot), Some(ts - pivot.timestamp()));
        }
        // Half an era either side of the pivot only leaves the i32 eras at the ends.
        None => assert!(pivot.era() == i32::MAX || pivot.era() == i32::MIN, "to_date({ts:?}, {pivot:?}) is None"),
    }
    // So the era comes back from the timestamp alone whenever the pivot is
    // near enough.
    if let Some(diff) = date.checked_sub(pivot) {
        assert_eq!(ts.to_date(pivot), Some(date), "era lost at distance {diff:?}");
        assert_eq!(pivot.checked_add(diff), Some(date));
    }

    // Date + duration and back.
    let dd = NtpDuration::from_bits(input.duration);
    match date.checked_add(dd) {
        Some(end) => {
            assert_eq!(end.checked_sub(date), Some(dd));
            assert_eq!(end.timestamp() - date.timestamp(), dd);
            assert_eq!(end.cmp(&date), input.duration.cmp(&0));
        }
        None => assert!(date.era() == i32::MAX || date.era() == i32::MIN, "{date:?} + {dd:?} is None"),
    }
    black_box(format!("{date:?}"));
}

fn unix_laws(input: &Input) {
    let secs = input.unix_secs;
    let nanos = input.unix_nanos % NANOS_PER_SEC;

    // Unix -> NTP -> Unix is exact (fraction rounded up, then down).
    let expected_era = (i128::from(secs) + i128::from(UNIX_EPOCH_NTP_SECONDS)) >> 32;
    match NtpDate::from_unix(secs, nanos) {
        Some(date) => {
            assert_eq!(date.to_unix(), Some((secs, nanos)), "Unix {secs}.{nanos:09} does not round-trip");
            assert_eq!(i128::from(date.era()), expected_era);
            assert_eq!(NtpTimestamp::from_unix(secs, nanos), date.timestamp());
        }
        None => assert!(expected_era > i128::from(i32::MAX), "from_unix({secs}, {nanos}) is None"),
    }

    // Nanoseconds past 10^9 carry into the seconds.
    let carry = i64::from(input.unix_nanos / NANOS_PER_SEC);
    if let Some(carried) = secs.checked_add(carry) {
        assert_eq!(NtpDate::from_unix(secs, input.unix_nanos), NtpDate::from_unix(carried, nanos));
        assert_eq!(NtpTimestamp::from_unix(secs, input.unix_nanos), NtpTimestamp::from_unix(carried, nanos));
    }

    // From a pivot less than 2^31 s away the timestamp alone gives the Unix
    // time back (the pivot is a whole second, the instant may be up to a
    // second past it, hence the strict bound on the skew).
    let skew = i64::from(input.skew.max(-i32::MAX));
    if let (Some(_), Some(pivot)) = (NtpDate::from_unix(secs, nanos), secs.checked_add(skew))
        && NtpDate::from_unix(pivot, 0).is_some()
    {
        let ts = NtpTimestamp::from_unix(secs, nanos);
        assert_eq!(ts.to_unix(pivot), Some((secs, nanos)), "pivot {pivot}");
    }

    // NTP -> Unix -> NTP loses less than a nanosecond, never gains.
    let date = NtpDate::new(input.era, NtpTimestamp::from_bits(input.ts));
    if let Some((s, n)) = date.to_unix() {
        assert!(n < NANOS_PER_SEC);
        let back = NtpDate::from_unix(s, n).expect("to_unix gave a time from_unix refuses");
        let lost = date.to_fixed() - back.to_fixed();
        assert!((0..UNITS_PER_NANO_CEIL).contains(&lost), "{date:?} -> {s}.{n:09} -> {back:?}");
    } else {
        // Only the era at the bottom reaches below i64::MIN Unix seconds.
        assert_eq!(date.era(), i32::MIN, "{date:?} has no Unix time");
    }

    // Any raw timestamp has a Unix time near any pivot that is not at the
    // very ends of i64.
    let ts = NtpTimestamp::from_bits(input.ts);
    let pivot = input.pivot_unix_secs;
    match ts.to_unix(pivot) {
        Some((s, n)) => {
            assert!(n < NANOS_PER_SEC);
            let distance = i128::from(s) - i128::from(pivot);
            assert!((-(1i128 << 31)..=(1i128 << 31)).contains(&distance), "{ts:?} near {pivot} is {s}");
            assert_eq!(NtpTimestamp::from_unix(s, n).seconds(), ts.seconds());
        }
        None => assert!(pivot.unsigned_abs() > 1 << 62, "{ts:?} has no Unix time near {pivot}"),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, counted through
/// March-based years so the leap day is the last of its year; written
/// independently of the crate's civil-from-days so each checks the other.
fn days_from_civil(year: i64, month: u8, day: u8) -> i128 {
    let (y, m) = if month <= 2 {
        (i128::from(year) - 1, i128::from(month) + 9)
    } else {
        (i128::from(year), i128::from(month) - 3)
    };
    let day_of_year = (153 * m + 2) / 5 + i128::from(day) - 1; // 0 = 1 March
    let leap_days = y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400);
    // 719_468 days separate 0000-03-01 from 1970-01-01.
    365 * y + leap_days + day_of_year - 719_468
}

fn days_in_month(year: i64, month: u8) -> u8 {
    let leap = year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn utc_laws(date: NtpDate) {
    // Every era an i32 can hold is a year an i64 can hold.
    let utc = date.to_utc().unwrap_or_else(|| panic!("{date:?} has no civil date"));
    assert!((1..=12).contains(&utc.month), "{utc:?}");
    assert!((1..=days_in_month(utc.year, utc.month)).contains(&utc.day), "{utc:?}");
    assert!(utc.hour < 24 && utc.minute < 60 && utc.second < 60 && utc.nanosecond < NANOS_PER_SEC, "{utc:?}");

    // The civil date names the same instant.
    let unix_secs = (date.to_fixed() >> 32) - i128::from(UNIX_EPOCH_NTP_SECONDS);
    let civil_secs = days_from_civil(utc.year, utc.month, utc.day) * 86_400
        + i128::from(utc.hour) * 3600
        + i128::from(utc.minute) * 60
        + i128::from(utc.second);
    assert_eq!(civil_secs, unix_secs, "{date:?} is {utc}");
    let nanos = (u64::from(date.timestamp().fraction()) * u64::from(NANOS_PER_SEC)) >> 32;
    assert_eq!(u64::from(utc.nanosecond), nanos);
    if let Some((_, n)) = date.to_unix() {
        assert_eq!(utc.nanosecond, n);
    }
    black_box(utc.to_string());
}

fn duration_laws(input: &Input) {
    let a = NtpDuration::from_bits(input.duration);
    let b = NtpDuration::from_bits(input.other_duration);
    let (x, y) = (i128::from(input.duration), i128::from(input.other_duration));
    let saturate = |v: i128| v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;

    // Saturating operators, checked operators, midpoint, abs.
    assert_eq!((a + b).to_bits(), saturate(x + y));
    assert_eq!((a - b).to_bits(), saturate(x - y));
    assert_eq!((-a).to_bits(), saturate(-x));
    assert_eq!(a.abs().to_bits(), saturate(x.abs()));
    assert_eq!(a.checked_add(b).map(NtpDuration::to_bits), i64::try_from(x + y).ok());
    assert_eq!(a.checked_sub(b).map(NtpDuration::to_bits), i64::try_from(x - y).ok());
    let mid = i128::from(a.midpoint(b).to_bits());
    assert!(2 * mid <= x + y && x + y < 2 * mid + 2, "midpoint of {x} and {y} is {mid}");
    assert_eq!(a.is_negative(), x < 0);
    let mut c = a;
    c += b;
    c -= b;
    if i64::try_from(x + y).is_ok() {
        assert_eq!(c, a);
    }

    // core::time::Duration -> NtpDuration -> Duration is exact.
    let std_duration = Duration::new(input.std_secs, input.std_nanos % NANOS_PER_SEC);
    match NtpDuration::from_duration(std_duration) {
        Some(n) => {
            assert!(input.std_secs < 1 << 31);
            assert_eq!(n.to_duration(), Some(std_duration));
        }
        None => assert!(input.std_secs >= 1 << 31, "{std_duration:?} refused"),
    }
    // ... and NtpDuration -> Duration -> NtpDuration loses under a nanosecond.
    match a.to_duration() {
        Some(d) => {
            let back = NtpDuration::from_duration(d).expect("to_duration gave a Duration from_duration refuses");
            let lost = x - i128::from(back.to_bits());
            assert!((0..UNITS_PER_NANO_CEIL).contains(&lost), "{a:?} -> {d:?} -> {back:?}");
        }
        None => assert!(x < 0),
    }

    // Floats: round to nearest, saturate, NaN is zero. Below 2^53 units
    // `to_seconds_f64` is exact, so the way back must be too.
    let back = NtpDuration::from_seconds_f64(a.to_seconds_f64()).to_bits();
    if x.abs() <= 1 << 53 {
        assert_eq!(back, input.duration, "{a:?} does not survive f64");
    } else {
        // Above that the float keeps 53 bits: half an ulp at most.
        assert!((i128::from(back) - x).abs() <= (x.abs() >> 53) + 1, "{a:?} -> f64 -> {back}");
    }
    let f = input.float;
    let n = NtpDuration::from_seconds_f64(f).to_bits();
    let units = f * 4_294_967_296.0;
    if f.is_nan() {
        assert_eq!(n, 0);
    } else if units.abs() < 4_503_599_627_370_496.0 {
        // 2^52: here every rounding can be checked exactly.
        assert!((n as f64 - units).abs() <= 0.5, "{f:e} s is {units} units, rounded to {n}");
    } else if units >= 9.3e18 {
        assert_eq!(n, i64::MAX);
    } else if units <= -9.3e18 {
        assert_eq!(n, i64::MIN);
    }

    // 2^log2 seconds, as poll and precision mean.
    let p = NtpDuration::from_log2_seconds(input.log2).to_bits();
    match input.log2 {
        31.. => assert_eq!(p, i64::MAX),
        -32..=30 => assert_eq!(p, 1i64 << (i32::from(input.log2) + 32)),
        _ => assert_eq!(p, 0),
    }

    // Display: sign, seconds, nine digits of nanoseconds, rounded down.
    let text = a.to_string();
    let (sign, rest) = text.split_at(1);
    let (whole, frac) = rest.split_once('.').expect("no decimal point");
    assert_eq!(sign, if x < 0 { "-" } else { "+" });
    assert_eq!(frac.len(), 9, "{text}");
    let magnitude = input.duration.unsigned_abs();
    assert_eq!(whole.parse::<u64>().ok(), Some(magnitude >> 32), "{text}");
    black_box(format!("{a:?}"));
}

fn short_laws(input: &Input) {
    // Every 16.16 value survives every conversion NtpShort offers.
    let s = NtpShort::from_bits(input.short);
    assert_eq!(NtpShort::from_parts(s.seconds(), s.fraction()), s);
    assert_eq!(NtpShort::from_duration(s.to_duration()), Some(s));
    assert_eq!(NtpShort::from_seconds_f64(s.to_seconds_f64()), s);
    assert_eq!(NtpShort::from_ntp_duration(s.to_ntp_duration()), s);

    // From a 32.32 duration: zero below zero, MAX above the range, else
    // within half a 16.16 unit (2^15 32.32 units).
    let d = input.duration;
    let r = NtpShort::from_ntp_duration(NtpDuration::from_bits(d));
    if d <= 0 {
        assert_eq!(r, NtpShort::ZERO);
    } else if r != NtpShort::MAX {
        assert!((r.to_ntp_duration().to_bits() - d).abs() <= 1 << 15, "{d} -> {r:?}");
    } else {
        assert!(d >= (i64::from(u32::MAX) << 16) - (1 << 15), "{d} saturated early");
    }

    // From a Duration: within half a unit plus the nanosecond to_duration drops.
    let std_duration = Duration::new(input.std_secs, input.std_nanos % NANOS_PER_SEC);
    match NtpShort::from_duration(std_duration) {
        Some(r) => {
            let error = r.to_duration().abs_diff(std_duration);
            assert!(error <= Duration::from_nanos(7630 + 1), "{std_duration:?} -> {r:?}");
        }
        None => assert!(input.std_secs >= 65_535, "{std_duration:?} refused"),
    }

    // From any float: no panic; NaN and negatives are zero.
    let r = NtpShort::from_seconds_f64(input.float);
    if input.float.is_nan() || input.float <= 0.0 {
        assert_eq!(r, NtpShort::ZERO);
    }
    black_box(format!("{r:?}"));
}

/// The `SystemTime` at `secs` Unix seconds plus `nanos`, if the platform
/// holds it. Built in steps so that `i64::MIN` seconds is reachable.
fn system_time(secs: i64, nanos: u32) -> Option<SystemTime> {
    let t = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))?
    } else {
        // -(secs + 1) cannot overflow; the last second is taken separately.
        UNIX_EPOCH
            .checked_sub(Duration::from_secs((-(secs + 1)).unsigned_abs()))?
            .checked_sub(Duration::from_secs(1))?
    };
    t.checked_add(Duration::from_nanos(u64::from(nanos)))
}

fn system_time_laws(input: &Input) {
    // SystemTime -> NtpDate agrees with the Unix conversion.
    let nanos = input.unix_nanos % NANOS_PER_SEC;
    if let Some(t) = system_time(input.unix_secs, nanos) {
        assert_eq!(
            NtpDate::from_system_time(t),
            NtpDate::from_unix(input.unix_secs, nanos),
            "SystemTime at Unix {}.{nanos:09}",
            input.unix_secs
        );
        let date = NtpDate::from_system_time(t);
        if let Some(date) = date {
            assert_eq!(date.to_system_time(), Some(t), "{date:?} does not round-trip through SystemTime");
        }
        assert_eq!(NtpTimestamp::from_system_time(t), NtpTimestamp::from_unix(input.unix_secs, nanos));
    }

    // NtpDate -> SystemTime -> NtpDate loses under a nanosecond.
    let date = NtpDate::new(input.era, NtpTimestamp::from_bits(input.ts));
    if let Some(t) = date.to_system_time() {
        let back = NtpDate::from_system_time(t).expect("to_system_time gave a time from_system_time refuses");
        let lost = date.to_fixed() - back.to_fixed();
        assert!((0..UNITS_PER_NANO_CEIL).contains(&lost), "{date:?} -> {t:?} -> {back:?}");
    }
    if let Some(pivot) = system_time(input.pivot_unix_secs, 0) {
        black_box(NtpTimestamp::from_bits(input.ts).to_system_time(pivot));
    }
}
