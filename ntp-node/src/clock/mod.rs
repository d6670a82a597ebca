//! The clocks the runtime reads and disciplines, behind one trait.
//!
//! * [`SoftwareClock`]: a clock of its own that starts from the system
//!   time plus an offset and runs at a phase and frequency the engine
//!   controls; the system clock is never touched. The default, and what
//!   tests and the lab use.
//! * [`SystemClock`] (Linux): the system clock itself, read with
//!   `clock_gettime(CLOCK_REALTIME)` and disciplined with `clock_adjtime`,
//!   as chronyd and ntpd do. Opt-in (`--clock system`), needs
//!   `CAP_SYS_TIME`.
//! * [`DriftFile`]: the saved frequency correction, ntpd's and chronyd's
//!   `driftfile`.

mod drift;
mod software;
mod system;

pub use drift::{DriftFile, DriftFileError};
pub use software::SoftwareClock;
pub use system::{ClockError, KERNEL_MAX_PPM, MAX_SLEW_PPM, SystemClock, ppm_to_scaled, scaled_to_ppm};

use ntp_algo::ClockAction;
use ntp_wire::NtpTimestamp;

/// A clock the runtime reads for every input to the engine and adjusts
/// as the engine asks.
pub trait Clock {
    /// The clock's reading now.
    fn now(&mut self) -> NtpTimestamp;

    /// Applies a step or a frequency change the engine asked for
    /// ([`ClockAction`]: steps in seconds, frequencies in ppm).
    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError>;

    /// A short name for logs and the status (`software`, `system`).
    fn name(&self) -> &'static str;

    /// Tells the clock whether it is synchronized and how well: an
    /// estimated and a maximum error, seconds. The system clock hands this
    /// to the kernel (`STA_UNSYNC`, `esterror`, `maxerror`), as chronyd and
    /// ntpd do, so other programs and the kernel's RTC update see it. The
    /// default does nothing.
    fn set_sync_status(&mut self, synchronized: bool, est_error: f64, max_error: f64) -> Result<(), ClockError> {
        let _ = (synchronized, est_error, max_error);
        Ok(())
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&mut self) -> NtpTimestamp {
        (**self).now()
    }

    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError> {
        (**self).apply(action)
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn set_sync_status(&mut self, synchronized: bool, est_error: f64, max_error: f64) -> Result<(), ClockError> {
        (**self).set_sync_status(synchronized, est_error, max_error)
    }
}
