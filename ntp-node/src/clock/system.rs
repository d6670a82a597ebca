//! The Linux system clock, disciplined through `clock_adjtime`.
//!
//! What the engine asks maps onto the kernel interface the way chronyd
//! (`sys_timex.c`) and ntpd-rs (`ntp-os-clock`) use it:
//!
//! * `SetFrequency { ppm }`: `ADJ_FREQUENCY` with `freq` in "scaled ppm",
//!   ppm × 2^16, limited to the kernel's ±500 ppm. The engine folds its
//!   phase slew into this value every second, so no kernel PLL is used:
//!   the first adjustment clears `STA_PLL`/`STA_FLL` (a kernel loop left on
//!   by another daemon would fight ours).
//! * `Step { offset }`: `ADJ_SETOFFSET | ADJ_NANO`, which adds `time` to
//!   the clock atomically, with `tv_usec` holding nanoseconds in
//!   0..10^9 and `tv_sec` carrying the sign.
//!
//! Never used on a real host clock by the tests: this path runs only
//! under clknetsim, whose LD_PRELOAD library answers these calls with a
//! simulated clock (as an unprivileged user, so a call that escaped the
//! simulation would fail with EPERM rather than move the host's clock).
//! There, a node whose clock started 0.2 s ahead and 50 ppm fast, polling
//! a `--master 1` node every 16..64 s over links of 10 ms, stepped by
//! -0.207 s after 144 s, wrote -50.018 ppm to its drift file, and kept
//! the true offset under 0.17 ms from the 1000th to the 2000th simulated
//! second.

use ntp_algo::ClockAction;
use ntp_wire::NtpTimestamp;

use super::Clock;
use crate::sys;

/// The kernel's frequency limit, ppm (`MAXFREQ` in the kernel's timex.h).
pub const KERNEL_MAX_PPM: f64 = 500.0;

/// The fastest this clock is slewed, frequency included, ppm: chronyd's
/// default `maxslewrate`. Beyond [`KERNEL_MAX_PPM`] the rest goes into the
/// kernel's tick length (`ADJ_TICK`, ±10 % of its nominal value).
pub const MAX_SLEW_PPM: f64 = 83_333.0;

/// A rate of `ppm` as a change of the tick length, microseconds (each one
/// is `ppm_per_tick` ppm), and the rest for `ADJ_FREQUENCY`, ppm: no tick
/// change within ±[`KERNEL_MAX_PPM`], otherwise whole microseconds of tick
/// (at most ±10 % of `base_tick`) and a remainder below `ppm_per_tick`.
pub(crate) fn split_tick(ppm: f64, base_tick: i64) -> (i64, f64) {
    if ppm.abs() <= KERNEL_MAX_PPM || base_tick <= 0 {
        return (0, ppm);
    }
    let ppm_per_tick = 1e6 / base_tick as f64;
    let limit = base_tick / 10;
    let delta = ((ppm / ppm_per_tick).trunc() as i64).clamp(-limit, limit);
    (delta, ppm - delta as f64 * ppm_per_tick)
}

/// What went wrong adjusting a clock.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The system call failed (EPERM without `CAP_SYS_TIME`).
    #[error("{call}: {source}")]
    Os {
        /// Which call.
        call: &'static str,
        /// The error it returned.
        source: std::io::Error,
    },
    /// The engine asked for a non-finite step or frequency.
    #[error("refused a non-finite clock adjustment: {0}")]
    NotFinite(String),
}

/// ppm to the kernel's `timex.freq` unit (ppm × 2^16), clamped to
/// ±[`KERNEL_MAX_PPM`] and rounded to the nearest unit.
pub fn ppm_to_scaled(ppm: f64) -> libc::c_long {
    let clamped = ppm.clamp(-KERNEL_MAX_PPM, KERNEL_MAX_PPM);
    // Within ±500 × 65536, which fits every c_long.
    (clamped * 65_536.0).round() as libc::c_long
}

/// The kernel's `timex.freq` unit back to ppm.
pub fn scaled_to_ppm(scaled: libc::c_long) -> f64 {
    scaled as f64 / 65_536.0
}

/// A step of `offset` seconds as the `timex.time` of `ADJ_SETOFFSET |
/// ADJ_NANO`: whole seconds (floored) and nanoseconds in 0..10^9.
pub(crate) fn step_timeval(offset: f64) -> (i64, i64) {
    let mut seconds = offset.floor();
    let mut nanos = ((offset - seconds) * 1e9).round();
    if nanos >= 1e9 {
        seconds += 1.0;
        nanos -= 1e9;
    }
    (seconds as i64, nanos as i64)
}

/// The kernel's status word with `STA_UNSYNC` set or cleared, and the
/// PLL/FLL/PPS discipline bits cleared (the engine disciplines the clock,
/// not the kernel).
pub(crate) fn status_bits(current: i32, synchronized: bool) -> i32 {
    let cleared = current & !(libc::STA_PLL | libc::STA_FLL | libc::STA_PPSFREQ | libc::STA_PPSTIME);
    if synchronized { cleared & !libc::STA_UNSYNC } else { cleared | libc::STA_UNSYNC }
}

/// An error bound in seconds as the kernel's microseconds, clamped to
/// 0..=16 s (the kernel's `NTP_PHASE_LIMIT`, past which it sets
/// `STA_UNSYNC` itself).
pub(crate) fn error_micros(seconds: f64) -> libc::c_long {
    if seconds.is_nan() {
        return 16_000_000;
    }
    (seconds.clamp(0.0, 16.0) * 1e6).round() as libc::c_long
}

/// The system clock (`CLOCK_REALTIME`).
#[derive(Debug)]
pub struct SystemClock {
    /// Whether the kernel PLL flags were cleared yet.
    status_set: bool,
    /// The kernel's tick length when we opened the clock, microseconds
    /// (10 000 at USER_HZ 100): the nominal value a tick change returns to.
    base_tick: i64,
    /// Whether our last adjustment changed the tick length.
    tick_changed: bool,
}

impl SystemClock {
    /// Checks that the clock can be read and its kernel state queried
    /// (a read-only `clock_adjtime`); returns the frequency the kernel
    /// currently applies, ppm, with the clock.
    pub fn open() -> Result<(Self, f64), ClockError> {
        sys::clock::realtime_now().map_err(|source| ClockError::Os { call: "clock_gettime", source })?;
        let mut tx = sys::clock::empty_timex();
        sys::clock::adjtime(&mut tx).map_err(|source| ClockError::Os { call: "clock_adjtime", source })?;
        let clock = SystemClock { status_set: false, base_tick: tx.tick, tick_changed: false };
        Ok((clock, scaled_to_ppm(tx.freq)))
    }

    fn adjust(&mut self, mut tx: libc::timex) -> Result<(), ClockError> {
        if !self.status_set {
            let mut current = sys::clock::empty_timex();
            sys::clock::adjtime(&mut current).map_err(|source| ClockError::Os { call: "clock_adjtime", source })?;
            tx.modes |= libc::ADJ_STATUS;
            tx.status = status_bits(current.status, current.status & libc::STA_UNSYNC == 0);
        }
        sys::clock::adjtime(&mut tx).map_err(|source| ClockError::Os { call: "clock_adjtime", source })?;
        self.status_set = true;
        Ok(())
    }
}

impl Clock for SystemClock {
    fn now(&mut self) -> NtpTimestamp {
        match sys::clock::realtime_now() {
            Ok((seconds, nanos)) => NtpTimestamp::from_unix(seconds, nanos),
            // CLOCK_REALTIME cannot fail once `open` read it; fall back to
            // std's reading of the same clock rather than stop.
            Err(_) => NtpTimestamp::from_system_time(std::time::SystemTime::now()),
        }
    }

    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError> {
        let mut tx = sys::clock::empty_timex();
        match action {
            ClockAction::SetFrequency { ppm } if ppm.is_finite() => {
                let (tick_delta, rest) = split_tick(ppm, self.base_tick);
                tx.modes = libc::ADJ_FREQUENCY;
                tx.freq = ppm_to_scaled(rest);
                if tick_delta != 0 || self.tick_changed {
                    tx.modes |= libc::ADJ_TICK;
                    tx.tick = self.base_tick + tick_delta;
                    self.tick_changed = tick_delta != 0;
                }
            }
            ClockAction::Step { offset } if offset.is_finite() => {
                let (seconds, nanos) = step_timeval(offset);
                tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
                tx.time.tv_sec = seconds;
                tx.time.tv_usec = nanos;
            }
            other => return Err(ClockError::NotFinite(format!("{other:?}"))),
        }
        self.adjust(tx)
    }

    fn name(&self) -> &'static str {
        "system"
    }

    fn set_sync_status(&mut self, synchronized: bool, est_error: f64, max_error: f64) -> Result<(), ClockError> {
        let mut current = sys::clock::empty_timex();
        sys::clock::adjtime(&mut current).map_err(|source| ClockError::Os { call: "clock_adjtime", source })?;
        let mut tx = sys::clock::empty_timex();
        tx.modes = libc::ADJ_STATUS | libc::ADJ_ESTERROR | libc::ADJ_MAXERROR;
        tx.status = status_bits(current.status, synchronized);
        tx.esterror = error_micros(est_error);
        tx.maxerror = error_micros(max_error);
        sys::clock::adjtime(&mut tx).map_err(|source| ClockError::Os { call: "clock_adjtime", source })?;
        self.status_set = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_split_tick() {
        // Within the kernel's frequency range the tick stays.
        assert_eq!(split_tick(499.0, 10_000), (0, 499.0));
        assert_eq!(split_tick(-500.0, 10_000), (0, -500.0));
        // Beyond it, whole microseconds of tick (100 ppm each at 10 000 µs).
        let (delta, rest) = split_tick(6_250.0, 10_000);
        assert_eq!(delta, 62);
        assert!((rest - 50.0).abs() < 1e-9);
        let (delta, rest) = split_tick(-83_333.0, 10_000);
        assert_eq!(delta, -833);
        assert!((rest + 33.0).abs() < 1e-6);
        // Never past ±10 % of the tick; the rest is then clamped by ppm_to_scaled.
        assert_eq!(split_tick(1e6, 10_000).0, 1_000);
        assert_eq!(split_tick(f64::MAX, 10_000).0, 1_000);
        // A kernel that reported no tick: frequency only.
        assert_eq!(split_tick(6_250.0, 0), (0, 6_250.0));
    }

    #[test]
    fn test_ppm_scaling_round_trips_and_clamps() {
        assert_eq!(ppm_to_scaled(1.0), 65_536);
        assert_eq!(ppm_to_scaled(-12.5), -819_200);
        assert_eq!(ppm_to_scaled(0.0), 0);
        assert_eq!(ppm_to_scaled(900.0), 500 * 65_536);
        assert_eq!(ppm_to_scaled(-900.0), -500 * 65_536);
        for ppm in [-499.99, -3.25, 0.0001, 17.0, 250.123] {
            let back = scaled_to_ppm(ppm_to_scaled(ppm));
            assert!((back - ppm).abs() <= 0.5 / 65_536.0, "{ppm} -> {back}");
        }
    }

    #[test]
    fn test_status_bits_and_error_bounds() {
        let kernel_pll = libc::STA_PLL | libc::STA_FLL | libc::STA_UNSYNC | libc::STA_NANO;
        assert_eq!(status_bits(kernel_pll, true), libc::STA_NANO);
        assert_eq!(status_bits(kernel_pll, false), libc::STA_NANO | libc::STA_UNSYNC);
        assert_eq!(status_bits(libc::STA_INS, true), libc::STA_INS, "leap bits are left alone");
        assert_eq!(error_micros(0.0015), 1500);
        assert_eq!(error_micros(-1.0), 0);
        assert_eq!(error_micros(100.0), 16_000_000);
        assert_eq!(error_micros(f64::NAN), 16_000_000);
    }

    #[test]
    fn test_step_timeval_keeps_nanoseconds_positive() {
        assert_eq!(step_timeval(0.05), (0, 50_000_000));
        assert_eq!(step_timeval(-0.05), (-1, 950_000_000));
        assert_eq!(step_timeval(2.5), (2, 500_000_000));
        assert_eq!(step_timeval(-2.5), (-3, 500_000_000));
        assert_eq!(step_timeval(-1.0), (-1, 0));
        // Rounding up to a whole second carries.
        assert_eq!(step_timeval(0.999_999_999_9), (1, 0));
        for offset in [-1_234.567_891_2, -0.000_000_1, 0.3, 86_400.25] {
            let (s, ns) = step_timeval(offset);
            assert!((0..1_000_000_000).contains(&ns));
            assert!(((s as f64 + ns as f64 * 1e-9) - offset).abs() < 1e-8, "{offset}");
        }
    }
}
