//! The on-wire protocol's arithmetic (RFC 5905 §8 and §9.1).
//!
//! A request leaves the client at T1 (client clock), arrives at the server at
//! T2 and the reply leaves at T3 (server clock), and arrives back at T4
//! (client clock). With θ the server's clock minus the client's and the
//! one-way delays d₁ (out) and d₂ (back):
//!
//! ```text
//! T2 = T1 + d₁ + θ        T4 = T3 + d₂ - θ
//! ⇒ θ = ((T2 - T1) + (T3 - T4)) / 2 + (d₂ - d₁) / 2
//!   δ = (T4 - T1) - (T3 - T2) = d₁ + d₂
//! ```
//!
//! Taking the first term as the offset is exact for symmetric paths and
//! off by at most δ/2 otherwise, which is why the root distance counts δ/2.
//! The sums are taken on 64-bit differences of raw timestamps, so they are
//! right across an era boundary; only the results become floating point.
//!
//! Symmetric mode uses the same four timestamps: each peer's packet carries
//! the other's last transmit time as its origin. Broadcast has no T1/T2: a
//! client adds half the round trip measured once by a client/server
//! exchange (the calibration) to the one-way reading T3 - T4.

use ntp_wire::NtpTimestamp;

use crate::constants::PHI;

/// One measurement of a remote clock, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct OnWireSample {
    /// θ: the remote clock minus ours, s.
    pub offset: f64,
    /// δ: round-trip delay, s (never below the precision floor).
    pub delay: f64,
    /// ε: the error this sample brings, s (both clocks' precision plus the
    /// frequency tolerance over the exchange).
    pub dispersion: f64,
}

/// The four timestamps of one exchange (RFC 5905 Figure 15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// T1: our transmit time, echoed back as the reply's origin timestamp.
    pub t1: NtpTimestamp,
    /// T2: the remote's receive time.
    pub t2: NtpTimestamp,
    /// T3: the remote's transmit time.
    pub t3: NtpTimestamp,
    /// T4: our receive time.
    pub t4: NtpTimestamp,
}

impl Exchange {
    /// Offset, delay and dispersion of this exchange (RFC 5905 §8).
    ///
    /// `remote_precision` and `local_precision` are log2 seconds. The delay
    /// is clamped below at the local precision so that a negative delay
    /// (the remote's processing time measured longer than our round trip,
    /// possible when clocks tick coarsely) cannot make a sample look better
    /// than perfect.
    pub(crate) fn sample(&self, remote_precision: i8, local_precision: i8) -> OnWireSample {
        let outbound = self.t2 - self.t1;
        let inbound = self.t3 - self.t4;
        let offset = outbound.midpoint(inbound).to_seconds_f64();
        let round_trip = (self.t4 - self.t1).to_seconds_f64();
        let remote_busy = (self.t3 - self.t2).to_seconds_f64();
        let precision = log2_seconds(local_precision);
        let delay = (round_trip - remote_busy).max(precision);
        let dispersion = log2_seconds(remote_precision) + precision + PHI * round_trip.abs();
        OnWireSample { offset, delay, dispersion }
    }
}

/// A broadcast sample: offset from the one-way reading plus half the
/// calibrated round-trip delay (RFC 5905 §9.1, ntpd's `bdelay`).
pub(crate) fn broadcast_sample(
    t3: NtpTimestamp,
    t4: NtpTimestamp,
    calibrated_delay: f64,
    remote_precision: i8,
    local_precision: i8,
) -> OnWireSample {
    let one_way = (t3 - t4).to_seconds_f64();
    OnWireSample {
        offset: one_way + calibrated_delay / 2.0,
        delay: calibrated_delay.max(log2_seconds(local_precision)),
        dispersion: log2_seconds(remote_precision) + log2_seconds(local_precision),
    }
}

/// 2^`log2` seconds.
#[inline]
pub(crate) fn log2_seconds(log2: i8) -> f64 {
    2f64.powi(i32::from(log2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_wire::NtpDuration;

    fn ts(seconds: f64) -> NtpTimestamp {
        NtpTimestamp::from_parts(3_000_000_000, 0) + NtpDuration::from_seconds_f64(seconds)
    }

    #[test]
    fn test_symmetric_path() {
        // Server 0.25 s ahead; 10 ms each way; server holds the packet 1 ms.
        let x = Exchange { t1: ts(0.0), t2: ts(0.260), t3: ts(0.261), t4: ts(0.021) };
        let s = x.sample(-20, -20);
        assert!((s.offset - 0.25).abs() < 1e-9, "{s:?}");
        assert!((s.delay - 0.020).abs() < 1e-9, "{s:?}");
        assert!(s.dispersion > 2.0 * 2f64.powi(-20) && s.dispersion < 1e-5);
    }

    #[test]
    fn test_asymmetric_path_errs_by_half_the_asymmetry() {
        // 30 ms out, 10 ms back, true offset 0: measured offset +10 ms.
        let x = Exchange { t1: ts(0.0), t2: ts(0.030), t3: ts(0.030), t4: ts(0.040) };
        let s = x.sample(-20, -20);
        assert!((s.offset - 0.010).abs() < 1e-9);
        assert!((s.delay - 0.040).abs() < 1e-9);
    }

    #[test]
    fn test_across_era_boundary() {
        let base = NtpTimestamp::from_parts(u32::MAX, 0); // one second before era 1
        let at = |s: f64| base + NtpDuration::from_seconds_f64(s);
        let x = Exchange { t1: at(0.0), t2: at(2.5), t3: at(2.5), t4: at(1.0) };
        let s = x.sample(-20, -20);
        assert!((s.offset - 2.0).abs() < 1e-9, "{s:?}");
        assert!((s.delay - 1.0).abs() < 1e-9);
    }

    #[test]
    fn test_negative_delay_is_clamped() {
        let x = Exchange { t1: ts(0.0), t2: ts(0.0), t3: ts(0.010), t4: ts(0.005) };
        let s = x.sample(-20, -10);
        assert_eq!(s.delay, 2f64.powi(-10));
    }

    #[test]
    fn test_broadcast_adds_half_the_delay() {
        // Server 1 s ahead, 4 ms one way: T3 - T4 = 1 - 0.004; calibrated delay 8 ms.
        let s = broadcast_sample(ts(1.0), ts(0.004), 0.008, -20, -20);
        assert!((s.offset - 1.0).abs() < 1e-9);
        assert_eq!(s.delay, 0.008);
    }
}
