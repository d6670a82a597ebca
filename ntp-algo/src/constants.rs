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
/// is not fit to synchronize to. The RFC says 1; ntpd and NTPsec use 1.5.
pub(crate) const MAXDIST: f64 = 1.5;
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
