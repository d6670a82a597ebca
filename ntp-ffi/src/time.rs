//! NTP timestamps and their era-correct conversions to Unix time.

use ntp_wire::{NtpDate, NtpDuration, NtpTimestamp};

use crate::ptr::{self, boundary};
use crate::result::ntp_result;

/// An NTP timestamp (RFC 5905 section 6): seconds since the start of its
/// era in the high 32 bits, the fraction in units of 2^-32 s in the low 32.
/// The era is not part of the value: conversions to Unix time take a pivot.
pub type ntp_timestamp = u64;

const NANOS_PER_SEC: u32 = 1_000_000_000;

/// The timestamp of a Unix time (seconds since 1970-01-01 UTC and
/// nanoseconds), with the era dropped as on the wire.
///
/// - `nanos` must be below 1 000 000 000 (else `NTP_RESULT_INVALID_PARAMETER`).
/// - `out`: receives the timestamp.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_timestamp_from_unix(seconds: i64, nanos: u32, out: *mut ntp_timestamp) -> ntp_result {
    boundary(|| {
        let out = ptr::out(out)?;
        if nanos >= NANOS_PER_SEC {
            return Err(ntp_result::InvalidParameter);
        }
        *out = NtpTimestamp::from_unix(seconds, nanos).to_bits();
        Ok(())
    })
}

/// The Unix time a timestamp names, choosing the era that puts it closest
/// to `pivot_unix_seconds` (within 68 years either way). With a pivot of
/// "now" this reads any timestamp from a live peer correctly across the
/// 2036 era rollover.
///
/// - `seconds`, `nanos`: receive the Unix seconds and nanoseconds (rounded down).
///
/// Returns `NTP_RESULT_OUT_OF_RANGE` if the answer does not fit.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_timestamp_to_unix(
    ts: ntp_timestamp,
    pivot_unix_seconds: i64,
    seconds: *mut i64,
    nanos: *mut u32,
) -> ntp_result {
    boundary(|| {
        let seconds = ptr::out(seconds)?;
        let nanos = ptr::out(nanos)?;
        let (s, n) = NtpTimestamp::from_bits(ts).to_unix(pivot_unix_seconds).ok_or(ntp_result::OutOfRange)?;
        *seconds = s;
        *nanos = n;
        Ok(())
    })
}

/// The era (0 for 1900-2036, 1 for 2036-2172, negative before 1900) of
/// the date a timestamp names closest to `pivot_unix_seconds`.
///
/// - `era`: receives the era number.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_timestamp_era(ts: ntp_timestamp, pivot_unix_seconds: i64, era: *mut i32) -> ntp_result {
    boundary(|| {
        let era = ptr::out(era)?;
        let pivot = NtpDate::from_unix(pivot_unix_seconds, 0).ok_or(ntp_result::OutOfRange)?;
        let date = NtpTimestamp::from_bits(ts).to_date(pivot).ok_or(ntp_result::OutOfRange)?;
        *era = date.era();
        Ok(())
    })
}

/// `later - earlier` in seconds, computed modulo the era, so it is right
/// across the 2036 rollover whenever the two are less than 68 years apart.
///
/// - `seconds`: receives the signed difference.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_timestamp_diff(later: ntp_timestamp, earlier: ntp_timestamp, seconds: *mut f64) -> ntp_result {
    boundary(|| {
        let seconds = ptr::out(seconds)?;
        *seconds = NtpTimestamp::from_bits(later).wrapping_sub(NtpTimestamp::from_bits(earlier)).to_seconds_f64();
        Ok(())
    })
}

/// `ts + seconds` (negative allowed), wrapping at the era as on the wire.
///
/// - `seconds` must be finite and within +-2^31 s (else
///   `NTP_RESULT_INVALID_PARAMETER`).
/// - `out`: receives the sum.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_timestamp_add_seconds(ts: ntp_timestamp, seconds: f64, out: *mut ntp_timestamp) -> ntp_result {
    boundary(|| {
        let out = ptr::out(out)?;
        if !seconds.is_finite() || seconds.abs() >= 2_147_483_648.0 {
            return Err(ntp_result::InvalidParameter);
        }
        *out = NtpTimestamp::from_bits(ts).wrapping_add(NtpDuration::from_seconds_f64(seconds)).to_bits();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn era_rollover_follows_the_pivot() {
        // 2036-02-07 06:28:16 UTC is the start of era 1: timestamp 0 again.
        let era1_unix = 2_085_978_496i64;
        let mut ts = 0;
        assert_eq!(ntp_timestamp_from_unix(era1_unix + 10, 0, &mut ts), ntp_result::Ok);
        assert_eq!(ts >> 32, 10);
        let (mut s, mut n, mut era) = (0i64, 0u32, 0i32);
        assert_eq!(ntp_timestamp_to_unix(ts, era1_unix, &mut s, &mut n), ntp_result::Ok);
        assert_eq!((s, n), (era1_unix + 10, 0));
        assert_eq!(ntp_timestamp_era(ts, era1_unix, &mut era), ntp_result::Ok);
        assert_eq!(era, 1);
        // The same bits with a 1990 pivot name a date in era 0... but 10 s
        // into an era is 1900, more than 68 years from 1990: it goes to 2036.
        assert_eq!(ntp_timestamp_era(ts, 631_152_000, &mut era), ntp_result::Ok);
        assert_eq!(era, 1);
        assert_eq!(ntp_timestamp_era(ts, -2_208_988_800, &mut era), ntp_result::Ok);
        assert_eq!(era, 0);
    }

    #[test]
    fn bad_arguments_leave_outputs_alone() {
        let mut ts = 7;
        assert_eq!(ntp_timestamp_from_unix(0, NANOS_PER_SEC, &mut ts), ntp_result::InvalidParameter);
        assert_eq!(ntp_timestamp_add_seconds(0, f64::NAN, &mut ts), ntp_result::InvalidParameter);
        assert_eq!(ts, 7);
        assert_eq!(ntp_timestamp_from_unix(0, 0, std::ptr::null_mut()), ntp_result::NullParameter);
    }

    proptest! {
        #[test]
        fn unix_round_trip(secs in -2_000_000_000i64..4_000_000_000i64, nanos in 0u32..NANOS_PER_SEC) {
            let mut ts = 0;
            prop_assert_eq!(ntp_timestamp_from_unix(secs, nanos, &mut ts), ntp_result::Ok);
            let (mut s, mut n) = (0i64, 0u32);
            prop_assert_eq!(ntp_timestamp_to_unix(ts, secs + 1000, &mut s, &mut n), ntp_result::Ok);
            prop_assert_eq!(s, secs);
            // 2^-32 s resolution: within a nanosecond.
            prop_assert!(n.abs_diff(nanos) <= 1);
        }

        #[test]
        fn add_then_diff(ts in any::<u64>(), d in -1.0e9f64..1.0e9) {
            let mut sum = 0;
            prop_assert_eq!(ntp_timestamp_add_seconds(ts, d, &mut sum), ntp_result::Ok);
            let mut back = 0.0;
            prop_assert_eq!(ntp_timestamp_diff(sum, ts, &mut back), ntp_result::Ok);
            prop_assert!((back - d).abs() < 1e-6);
        }
    }
}
