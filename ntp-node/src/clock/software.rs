//! A software clock: the engine's to discipline, the system's left alone.

use std::time::{Instant, SystemTime};

use ntp_algo::ClockAction;
use ntp_wire::{NtpDuration, NtpTimestamp};

use super::{Clock, ClockError};

/// A clock that starts at the system time plus an offset and then runs
/// from the monotonic clock, at the frequency correction and with the
/// steps the engine applies. It never touches the system clock, so a node
/// with it can run beside chronyd or ntpd, many to a host.
#[derive(Clone, Debug)]
pub struct SoftwareClock {
    base: NtpTimestamp,
    start: Instant,
    last: Instant,
    /// Seconds added to the monotonic time since `start`: the start
    /// offset, every step, and the integral of the frequency corrections.
    phase: f64,
    frequency_ppm: f64,
    error_ppm: f64,
}

impl SoftwareClock {
    /// A clock `offset` seconds ahead of the system clock (negative:
    /// behind), with an intrinsic frequency error of `error_ppm` (ppm,
    /// positive: it runs fast), for demonstrations and tests.
    pub fn new(offset: f64, error_ppm: f64) -> Self {
        let now = Instant::now();
        SoftwareClock {
            base: NtpTimestamp::from_system_time(SystemTime::now()),
            start: now,
            last: now,
            phase: offset,
            frequency_ppm: 0.0,
            error_ppm,
        }
    }

    /// The frequency correction in force, ppm.
    pub fn frequency_ppm(&self) -> f64 {
        self.frequency_ppm
    }

    /// How far this clock is ahead of the system clock now, seconds.
    pub fn offset_from_system(&mut self) -> f64 {
        let ours = self.now();
        (ours - NtpTimestamp::from_system_time(SystemTime::now())).to_seconds_f64()
    }

    fn advance(&mut self) -> Instant {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.phase += dt * (self.frequency_ppm + self.error_ppm) * 1e-6;
        self.last = now;
        now
    }
}

impl Clock for SoftwareClock {
    fn now(&mut self) -> NtpTimestamp {
        let now = self.advance();
        let elapsed = now.duration_since(self.start).as_secs_f64();
        self.base + NtpDuration::from_seconds_f64(elapsed + self.phase)
    }

    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError> {
        // The frequency in force so far applies up to this moment.
        self.advance();
        match action {
            ClockAction::Step { offset } if offset.is_finite() => self.phase += offset,
            ClockAction::SetFrequency { ppm } if ppm.is_finite() => self.frequency_ppm = ppm,
            other => return Err(ClockError::NotFinite(format!("{other:?}"))),
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "software"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_starts_at_the_offset_and_steps_by_the_asked_amount() {
        let mut clock = SoftwareClock::new(-0.05, 0.0);
        let off = clock.offset_from_system();
        assert!((off + 0.05).abs() < 0.005, "{off}");
        clock.apply(ClockAction::Step { offset: 0.25 }).unwrap();
        let off = clock.offset_from_system();
        assert!((off - 0.2).abs() < 0.005, "{off}");
        assert!(clock.apply(ClockAction::Step { offset: f64::NAN }).is_err());
    }

    #[test]
    fn test_frequency_correction_accumulates_phase() {
        let mut clock = SoftwareClock::new(0.0, 0.0);
        // 100000 ppm (10 %) makes 20 ms of sleep gain about 2 ms.
        clock.apply(ClockAction::SetFrequency { ppm: 100_000.0 }).unwrap();
        let before = clock.offset_from_system();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let gained = clock.offset_from_system() - before;
        assert!(gained > 0.0015 && gained < 0.02, "{gained}");
        assert_eq!(clock.frequency_ppm(), 100_000.0);
    }

    #[test]
    fn test_readings_never_go_backwards_without_a_step() {
        let mut clock = SoftwareClock::new(0.0, -50.0);
        let mut last = clock.now();
        for _ in 0..1000 {
            let now = clock.now();
            assert!((now - last).to_bits() >= 0);
            last = now;
        }
    }
}
