//! Protocol constants (RFC 5905 §7.2 and Appendix A), with the defaults
//! this crate takes where the RFC and the reference implementation differ.
//! Every one that an operator may want to change is also a configuration
//! field; these are the defaults.

/// Frequency tolerance PHI: how fast dispersion grows, seconds per second (15 ppm).
pub(crate) const PHI: f64 = 15e-6;
/// Maximum dispersion MAXDISP, seconds. Also the dispersion of an empty filter stage.
pub(crate) const MAXDISP: f64 = 16.0;
/// Minimum dispersion increment MINDISP, seconds.
pub(crate) const MINDISP: f64 = 0.005;
/// Distance threshold MAXDIST, seconds: a source with a larger root distance
/// is not fit to synchronize to. The RFC says 1; ntpd and NTPsec use 1.5; we
/// use 2. Why: the filter counts each empty stage as 16 s of dispersion,
/// halved per stage, so three samples leave 1.94 s of peer dispersion and
/// a source under 1.5 needs a fourth: an initial burst, 2 s apart, then
/// synchronizes at 6 s. With 2 it does at the third sample (4 s), as
/// chronyd (which needs three samples for its regression) does. Under
/// clknetsim beside chronyd the time to stay within 1 ms went from 7 s to
/// 5 s (chronyd 5 s) in every scenario with a LAN path; a source any
/// sane server gives stays far below either threshold.
pub(crate) const MAXDIST: f64 = 2.0;
/// Number of clock filter stages.
pub(crate) const NSTAGE: usize = 8;
/// Popcorn spike gate: a sample whose offset differs from the last one by more
/// than SGATE times the peer jitter is a spike.
pub(crate) const SGATE: f64 = 3.0;
/// Stratum meaning "unsynchronized" (MAXSTRAT).
pub(crate) const MAXSTRAT: u8 = 16;
/// Default minimum poll interval, log2 seconds (64 s).
pub(crate) const MINPOLL: i8 = 6;
/// Default maximum poll interval, log2 seconds (1024 s).
pub(crate) const MAXPOLL: i8 = 10;
/// The smallest poll interval a configuration may ask for, log2 seconds (1 s).
pub(crate) const POLL_LIMIT_MIN: i8 = 0;
/// The largest poll interval a configuration may ask for, log2 seconds (36 h).
pub(crate) const POLL_LIMIT_MAX: i8 = 17;
/// Minimum number of survivors for the cluster algorithm (minclock / NMIN... 3).
pub(crate) const MIN_CLUSTER: usize = 3;
/// Minimum number of truechimers needed to synchronize (minsane).
pub(crate) const MIN_SANE: usize = 1;
/// Packets in a burst or an initial burst (iburst), as ntpd sends.
pub(crate) const BURST_PACKETS: u8 = 6;
/// Spacing of burst packets, log2 seconds (2 s).
pub(crate) const BURST_SPACING_LOG2: i8 = 1;
/// Packets an initial burst (iburst) may add, one at a time, while the
/// discipline still wants samples for its start-up frequency measurement
/// (`Discipline::wants_frequency_samples`). With the six of the burst this
/// makes at most 16 packets 2 s apart, once: at 70 µs of offset noise per
/// sample (a LAN's queueing) the slope over them is good to about 2 ppm.
pub(crate) const STARTUP_BURST_EXTRA: u8 = 10;
