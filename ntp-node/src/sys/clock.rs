//! The Linux system clock: `clock_gettime(CLOCK_REALTIME)` to read it and
//! `clock_adjtime(CLOCK_REALTIME)` (the same kernel entry as
//! `ntp_adjtime`) to change its frequency, step it, and set its status.
//!
//! These are thin wrappers; the units and policy live in
//! [`crate::clock::system`].

use std::io;

/// The current `CLOCK_REALTIME` reading, seconds and nanoseconds since the
/// Unix epoch.
pub(crate) fn realtime_now() -> io::Result<(i64, u32)> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call, and CLOCK_REALTIME is a clock id every Linux kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let nanos = u32::try_from(ts.tv_nsec).map_err(|_| io::Error::other("clock_gettime: tv_nsec out of range"))?;
    Ok((ts.tv_sec, nanos))
}

/// An all-zero `timex` (`modes == 0`: a read-only call).
pub(crate) fn empty_timex() -> libc::timex {
    // SAFETY: `libc::timex` is a plain C struct of integers (and padding
    // bit-fields); the all-zero bit pattern is a valid value of it, and the
    // one the kernel documents for "change nothing".
    unsafe { std::mem::zeroed() }
}

/// `clock_adjtime(CLOCK_REALTIME, tx)`: applies the fields `tx.modes`
/// selects and returns the clock state (`TIME_OK`, `TIME_ERROR`, ...), with
/// `tx` updated to the kernel's current values.
pub(crate) fn adjtime(tx: &mut libc::timex) -> io::Result<i32> {
    // SAFETY: `tx` is a valid, exclusively borrowed timex for the duration
    // of the call; the kernel reads the fields `modes` selects and writes
    // the whole struct back. Nothing else aliases it.
    let rc = unsafe { libc::clock_adjtime(libc::CLOCK_REALTIME, tx) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc) }
}
