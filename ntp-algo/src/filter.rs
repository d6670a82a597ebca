//! The clock filter (RFC 5905 §10): eight stages, lowest-delay sample, popcorn spike suppressor.
//!
//! One [`ClockFilter`] per association. Each exchange with the server gives
//! a sample: an offset θ, a round-trip delay δ and a dispersion ε (all in
//! seconds), taken at a time t on the caller's timeline (seconds, any epoch,
//! as long as it only moves forward). [`ClockFilter::add`] shifts it into an
//! eight-stage register (NSTAGE) and picks the best estimate there.
//!
//! ## The maths (RFC 5905 §10, Appendix A.5.2)
//!
//! - Ageing: a stage's dispersion grows at PHI (15 ppm) from the time its
//!   sample was taken, capped at MAXDISP: εᵢ(now) = min(εᵢ + PHI·(now − tᵢ), MAXDISP),
//!   where `now` is the time of the newest sample. A stage at MAXDISP (or an
//!   empty one) is not a candidate.
//! - Choice: the candidates sorted by their error bound, half the delay plus
//!   the aged dispersion (δᵢ/2 + εᵢ(now)); the first is the chosen sample.
//!   A low delay leaves little room for path asymmetry, so its offset has
//!   the least error, while a sample's age bounds how far the clock may have
//!   drifted since (PHI per second). This is a documented departure: RFC
//!   5905 and ntpd sort by delay alone, so a lucky low-delay sample stays
//!   chosen for up to eight polls and the system gets no new offset while
//!   the clock drifts. With the aged bound a LAN (delays within a fraction
//!   of a millisecond) gets a fresh sample each poll, and a path with
//!   milliseconds of jitter still keeps its best sample for several polls.
//!   Equal bounds go to the newer sample.
//! - Peer dispersion over all eight sorted stages (empty ones count MAXDISP):
//!   ε = Σ εᵢ / 2^(i+1). A fresh filter therefore starts near 8 s and drops as
//!   samples arrive, which keeps an association that has just started out of
//!   the selection until it has proven itself.
//! - Jitter: ψ = √(Σ (θᵢ − θ₀)² / (m − 1)) over the m candidates, θ₀ the chosen
//!   offset, and at least the system precision.
//!
//! ## When the chosen sample is used
//!
//! 1. Prime directive: a sample is used at most once and never one older
//!    than the last one used ([`FilterVerdict::NoNewSample`]). Before the
//!    system clock is synchronized anything goes (RFC 5905 A.5.2): the same
//!    sample may be handed out again, so a starting system is not held back.
//! 2. Popcorn spike suppressor ([`FilterVerdict::Spike`]): if the chosen
//!    offset differs from the offset chosen on the previous call by more than
//!    SGATE (3) times the jitter, and it is less than two poll intervals newer
//!    than the last sample used, it is held back. As in ntpd, the test only
//!    runs once the filter has settled (peer dispersion and the chosen
//!    sample's dispersion both below MAXDIST), so a filter that is still
//!    filling up after a start or a [`clear`](ClockFilter::clear) is never held back.
//!    The owner can turn the test off ([`FilterParams::suppress_spikes`]),
//!    as the engine does while its discipline measures the frequency.
//!
//! ### Which jitter the suppressor uses (a documented departure)
//!
//! RFC 5905 A.5.2 and ntpd compare against the jitter they have just computed,
//! which already includes the candidate. A lone low-delay outlier is then
//! measured against itself: with the other stages in agreement its jitter
//! comes out as large as its own jump, and the jump never exceeds three times
//! that, so the spike passes. We compare against the jitter computed on the
//! previous call, before the candidate entered the register (systemd-timesyncd's
//! spike check makes the same choice). Everything else follows the reference:
//! the offset and jitter remembered for the next comparison are updated even
//! when a sample is held back, so a jump that persists is accepted with the
//! next sample that agrees with it, and a lone spike is forgotten when the
//! next ordinary sample arrives. The onset of a trend (the discipline slewing
//! the clock) typically costs one held-back sample: once a step of the trend
//! is in the register, the jitter covers it.
//!
//! ### Other choices
//!
//! - Ageing runs from each sample's own time rather than from the last
//!   update, as ntpd does; the RFC's pseudo-code ages by the time since the
//!   last used sample, which double-counts when several samples are skipped.
//! - A delay below the system precision is raised to it (RFC 5905 A.5.1 does
//!   this in `packet()`; doing it here keeps the filter safe to use alone).
//! - The spike test compares with the last chosen offset, not with the last
//!   *output*, exactly as the reference does.
//!
//! ## Robustness
//!
//! No input panics. A sample with a NaN or infinite field, or with an offset
//! beyond ±2^31 s (the range of an NTP time difference), is ignored: `add`
//! returns [`FilterVerdict::NoNewSample`] and the filter is unchanged.
//! Dispersions are clamped to 0..=MAXDISP. For any finite parameters every
//! output field is finite and the dispersion is non-negative. A NaN or
//! non-positive poll interval turns the spike suppressor off; a negative or
//! non-finite precision counts as zero. The filter never allocates.

use core::cmp::Ordering;

use crate::constants::{MAXDISP, MAXDIST, NSTAGE, PHI, SGATE};

/// Largest offset magnitude a sample may have, seconds: the range of a signed
/// 32.32 NTP time difference. Anything larger cannot come from the wire and
/// would only overflow the jitter sums.
const MAX_ABS_OFFSET: f64 = 2_147_483_648.0;

/// One measurement from the on-wire protocol (RFC 5905 §8).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterSample {
    /// Clock offset θ of the server relative to us, seconds (positive: we are behind).
    pub offset: f64,
    /// Round-trip delay δ, seconds.
    pub delay: f64,
    /// Dispersion ε of this sample when it was taken, seconds (precision terms plus PHI times the exchange's duration).
    pub dispersion: f64,
    /// When the sample was taken (usually the receive time T4), seconds on the caller's timeline.
    pub time: f64,
}

/// The filter's estimate after an update (RFC 5905 §10 peer variables).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterOutput {
    /// Peer offset θ, seconds: the chosen sample's offset.
    pub offset: f64,
    /// Peer delay δ, seconds: the chosen sample's delay.
    pub delay: f64,
    /// Peer dispersion ε, seconds: Σ εᵢ / 2^(i+1) over the sorted stages, 0..=MAXDISP.
    pub dispersion: f64,
    /// Peer jitter ψ, seconds: RMS of the candidates' offsets against the chosen one, at least the system precision.
    pub jitter: f64,
    /// Time of the chosen sample, seconds on the caller's timeline. The dispersion grows at PHI from here.
    pub time: f64,
}

/// System state the filter needs on each update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterParams {
    /// System clock precision, seconds (2^precision, e.g. 2^-20 ≈ 1 µs). The floor for the jitter and the delay.
    pub system_precision: f64,
    /// Current poll interval of the association, seconds (2^poll). The spike suppressor's time window is twice this.
    pub poll_interval: f64,
    /// Whether the system clock is synchronized (its leap indicator is not NOSYNC).
    /// Before it is, a sample may be used again or out of order.
    pub synchronized: bool,
    /// Whether the popcorn spike suppressor runs. The owner turns it off
    /// while its clock discipline is still measuring the frequency after a
    /// start or step: the offsets then ramp at the uncorrected frequency
    /// error (100 ppm is 6.4 ms per 64 s poll), so every new sample looks
    /// like a spike against the burst before it, and holding one back
    /// delays the frequency measurement by a whole poll. (A departure: RFC
    /// 5905 and ntpd run the test always.)
    pub suppress_spikes: bool,
}

/// What [`ClockFilter::add`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FilterVerdict {
    /// A new sample was chosen: hand this to the selection (RFC 5905 §11.2).
    Update(FilterOutput),
    /// Nothing new to report: the chosen sample was already used (or is older
    /// than the last one used), no stage is valid, or the sample was ignored
    /// as malformed.
    NoNewSample,
    /// The chosen sample is a popcorn spike and was held back (RFC 5905 §10).
    Spike,
}

/// The offset and jitter of the previous call, the reference for the spike test
/// (the RFC's p->offset and p->jitter).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Estimate {
    offset: f64,
    jitter: f64,
}

/// A stage after ageing, ready to sort.
#[derive(Clone, Copy, Debug)]
struct Ranked {
    /// Position in the register, 0 = newest; breaks delay ties in favour of newer samples.
    age: usize,
    /// Dispersion grown to the newest sample's time, seconds.
    dispersion: f64,
    /// The sample, if the stage holds a valid one (not empty, not aged to MAXDISP).
    sample: Option<FilterSample>,
}

/// The clock filter of one association (RFC 5905 §10). See the module docs for the algorithm.
#[derive(Clone, Debug, Default)]
pub struct ClockFilter {
    /// Shift register, newest first; `None` for a stage that was never filled.
    stages: [Option<FilterSample>; NSTAGE],
    /// The last update handed out; its time is the time of the last sample used.
    output: Option<FilterOutput>,
    /// Offset and jitter from the previous call, for the spike test.
    previous: Option<Estimate>,
    /// Spikes held back since construction.
    spikes: u64,
}

impl ClockFilter {
    /// An empty filter: every stage at MAXDISP, no output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shift a sample into the register and choose the best one (RFC 5905 A.5.2 `clock_filter`).
    ///
    /// Returns [`FilterVerdict::Update`] with the new peer variables when a
    /// sample newer than the last one used was chosen and is not a spike. A
    /// malformed sample (non-finite field, offset beyond ±2^31 s) is ignored
    /// and gives [`FilterVerdict::NoNewSample`] with the filter unchanged.
    pub fn add(&mut self, sample: FilterSample, params: FilterParams) -> FilterVerdict {
        let precision = sanitize_precision(params.system_precision);
        let Some(sample) = sanitize_sample(sample, precision) else {
            return FilterVerdict::NoNewSample;
        };
        self.stages.rotate_right(1);
        if let Some(newest) = self.stages.first_mut() {
            *newest = Some(sample);
        }

        let ranked = self.ranked(sample.time);
        // Σ εᵢ / 2^(i+1), folded from the last stage so each step halves what follows.
        let dispersion = ranked.iter().rev().fold(0.0, |acc, r| 0.5 * (acc + r.dispersion));
        let Some(chosen) = ranked.first().and_then(|r| r.sample) else {
            // No valid stage: only the dispersion changed, and nobody reads it without an output.
            return FilterVerdict::NoNewSample;
        };
        let chosen_dispersion = ranked.first().map_or(MAXDISP, |r| r.dispersion);
        let jitter = jitter(&ranked, chosen.offset).max(precision);

        // Remember this call's estimate whatever happens next, as the reference
        // does: a jump that persists then passes the spike test on the next call.
        let previous = self.previous.replace(Estimate { offset: chosen.offset, jitter });

        if let Some(last) = self.output {
            if params.synchronized && chosen.time <= last.time {
                return FilterVerdict::NoNewSample;
            }
            let settled = dispersion < MAXDIST && chosen_dispersion < MAXDIST;
            let recent = chosen.time - last.time < 2.0 * params.poll_interval;
            if let Some(previous) = previous {
                let jump = (chosen.offset - previous.offset).abs() > SGATE * previous.jitter;
                if params.suppress_spikes && settled && recent && jump {
                    self.spikes = self.spikes.saturating_add(1);
                    return FilterVerdict::Spike;
                }
            }
        }

        let output = FilterOutput { offset: chosen.offset, delay: chosen.delay, dispersion, jitter, time: chosen.time };
        self.output = Some(output);
        FilterVerdict::Update(output)
    }

    /// The last update handed out by [`add`](Self::add), if any since construction or [`clear`](Self::clear).
    pub fn output(&self) -> Option<FilterOutput> {
        self.output
    }

    /// Peer dispersion at `now` (seconds on the caller's timeline): the last
    /// output's dispersion grown at PHI since its time, capped at MAXDISP.
    /// MAXDISP when there is no output or `now` is NaN; a `now` before the
    /// output's time counts as no time elapsed.
    pub fn dispersion_at(&self, now: f64) -> f64 {
        match self.output {
            Some(out) if !now.is_nan() => (out.dispersion + PHI * elapsed(out.time, now)).min(MAXDISP),
            _ => MAXDISP,
        }
    }

    /// Empty the register and forget the output, as after a clock step or an
    /// association reset (RFC 5905 A.5.5 `clear`): samples taken before a step
    /// measure a clock that no longer exists. The spike counter is kept: it
    /// counts over the filter's whole life.
    pub fn clear(&mut self) {
        self.stages = [None; NSTAGE];
        self.output = None;
        self.previous = None;
    }

    /// Number of samples held back as popcorn spikes since construction.
    pub fn spike_count(&self) -> u64 {
        self.spikes
    }

    /// The samples in the register, newest first, as stored (dispersion not aged;
    /// delay raised to the precision). For monitoring (ntpq's filter columns).
    pub fn samples(&self) -> impl Iterator<Item = &FilterSample> {
        self.stages.iter().flatten()
    }

    /// The stages aged to `now` and sorted: valid ones by δ/2 + ε(now) (newer first on ties), then the rest.
    fn ranked(&self, now: f64) -> [Ranked; NSTAGE] {
        let mut ranked: [Ranked; NSTAGE] = core::array::from_fn(|age| {
            let stored = self.stages.get(age).copied().flatten();
            let dispersion = stored.map_or(MAXDISP, |s| (s.dispersion + PHI * elapsed(s.time, now)).min(MAXDISP));
            let sample = stored.filter(|_| dispersion < MAXDISP);
            Ranked { age, dispersion, sample }
        });
        // Unstable sort without allocation; the age tie-break makes the order total anyway.
        ranked.sort_unstable_by(|a, b| {
            let by_delay = match (a.sample, b.sample) {
                (Some(x), Some(y)) => (x.delay / 2.0 + a.dispersion).total_cmp(&(y.delay / 2.0 + b.dispersion)),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            by_delay.then(a.age.cmp(&b.age))
        });
        ranked
    }
}

/// RMS of the valid samples' offsets against the chosen one (RFC 5905 §10 eq. for ψ).
/// Zero with a single candidate.
fn jitter(ranked: &[Ranked], chosen_offset: f64) -> f64 {
    let (count, sum) = ranked
        .iter()
        .filter_map(|r| r.sample)
        .fold((0u32, 0.0), |(n, sum), s| (n + 1, sum + (s.offset - chosen_offset).powi(2)));
    if count > 1 { (sum / f64::from(count - 1)).sqrt() } else { 0.0 }
}

/// Seconds from `then` to `now`, never negative (a clock that went backwards ages nothing).
fn elapsed(then: f64, now: f64) -> f64 {
    (now - then).max(0.0)
}

fn sanitize_precision(precision: f64) -> f64 {
    if precision.is_finite() && precision > 0.0 { precision } else { 0.0 }
}

/// Reject what cannot be a measurement; clamp the rest into the ranges the maths expects.
fn sanitize_sample(s: FilterSample, precision: f64) -> Option<FilterSample> {
    let finite = s.offset.is_finite() && s.delay.is_finite() && s.dispersion.is_finite() && s.time.is_finite();
    if !finite || s.offset.abs() > MAX_ABS_OFFSET {
        return None;
    }
    Some(FilterSample { delay: s.delay.max(precision), dispersion: s.dispersion.clamp(0.0, MAXDISP), ..s })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLL: f64 = 64.0;
    const PRECISION: f64 = 1e-6;

    fn params(synchronized: bool) -> FilterParams {
        FilterParams { system_precision: PRECISION, poll_interval: POLL, synchronized, suppress_spikes: true }
    }

    fn sample(offset: f64, delay: f64, time: f64) -> FilterSample {
        FilterSample { offset, delay, dispersion: 0.0, time }
    }

    fn update(v: FilterVerdict) -> FilterOutput {
        match v {
            FilterVerdict::Update(out) => out,
            other => panic!("expected an update, got {other:?}"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    /// Eight samples at offsets alternating ±100 µs, 64 s apart, all accepted.
    fn settled_filter() -> (ClockFilter, f64) {
        let mut f = ClockFilter::new();
        let mut t = 0.0;
        for i in 0..NSTAGE {
            let offset = if i % 2 == 0 { 1e-4 } else { -1e-4 };
            t = i as f64 * POLL;
            update(f.add(sample(offset, 0.010, t), params(true)));
        }
        (f, t)
    }

    #[test]
    fn test_first_sample_is_used() {
        let mut f = ClockFilter::new();
        assert_eq!(f.output(), None);
        let out = update(f.add(sample(0.25, 0.02, 10.0), params(true)));
        assert_eq!((out.offset, out.delay, out.time), (0.25, 0.02, 10.0));
        assert_eq!(f.output(), Some(out));
        assert_eq!(out.jitter, PRECISION, "a single sample has no spread: the precision is the floor");
    }

    #[test]
    fn test_lowest_delay_chosen() {
        let mut f = ClockFilter::new();
        f.add(sample(0.010, 0.050, 0.0), params(false));
        f.add(sample(0.002, 0.005, 1.0), params(false));
        let out = update(f.add(sample(0.030, 0.080, 2.0), params(false)));
        assert_eq!(out.offset, 0.002);
        assert_eq!(out.delay, 0.005);
        assert_eq!(out.time, 1.0);
    }

    #[test]
    fn test_equal_delays_prefer_newer() {
        let mut f = ClockFilter::new();
        f.add(sample(0.1, 0.01, 0.0), params(true));
        let out = update(f.add(sample(0.1001, 0.01, 1.0), params(true)));
        assert_eq!(out.time, 1.0);
    }

    #[test]
    fn test_dispersion_weights() {
        // One sample of dispersion d: d/2 plus seven empty stages at MAXDISP.
        let mut f = ClockFilter::new();
        let d = 0.5;
        let out = update(f.add(FilterSample { dispersion: d, ..sample(0.0, 0.01, 0.0) }, params(true)));
        let empty: f64 = (2..=NSTAGE as i32).map(|i| MAXDISP / 2f64.powi(i)).sum();
        assert!(close(out.dispersion, d / 2.0 + empty), "{}", out.dispersion);

        // Two samples: weights follow the delay order, not the arrival order,
        // and the older one has aged PHI * 100 s.
        let out = update(f.add(FilterSample { dispersion: 0.1, ..sample(0.0, 0.001, 100.0) }, params(true)));
        let empty: f64 = (3..=NSTAGE as i32).map(|i| MAXDISP / 2f64.powi(i)).sum();
        let expected = 0.1 / 2.0 + (d + PHI * 100.0) / 4.0 + empty;
        assert!(close(out.dispersion, expected), "{} vs {expected}", out.dispersion);
    }

    #[test]
    fn test_full_register_dispersion_small() {
        let (f, t) = settled_filter();
        let out = f.output().unwrap();
        // All stages valid and young: a few PHI * 448 s terms at most.
        assert!(out.dispersion < PHI * t, "{}", out.dispersion);
        assert!(out.dispersion > 0.0);
    }

    #[test]
    fn test_jitter_rms() {
        let mut f = ClockFilter::new();
        f.add(sample(0.003, 0.02, 0.0), params(false));
        f.add(sample(-0.001, 0.03, 1.0), params(false));
        let out = update(f.add(sample(0.001, 0.01, 2.0), params(false)));
        assert_eq!(out.offset, 0.001);
        // Differences against the chosen 0.001: +0.002 and -0.002, over m - 1 = 2.
        let expected = ((0.002f64.powi(2) + 0.002f64.powi(2)) / 2.0).sqrt();
        assert!(close(out.jitter, expected), "{} vs {expected}", out.jitter);
    }

    #[test]
    fn test_jitter_floor_is_precision() {
        let mut f = ClockFilter::new();
        let p = FilterParams { system_precision: 0.001, ..params(false) };
        f.add(sample(0.0, 0.01, 0.0), p);
        let out = update(f.add(sample(0.0, 0.01, 1.0), p));
        assert_eq!(out.jitter, 0.001);
    }

    #[test]
    fn test_never_reuse_a_sample() {
        let mut f = ClockFilter::new();
        update(f.add(sample(0.001, 0.001, 0.0), params(true)));
        // Worse delays: the first sample stays the best, and it was used already.
        assert_eq!(f.add(sample(0.002, 0.010, 64.0), params(true)), FilterVerdict::NoNewSample);
        assert_eq!(f.add(sample(0.003, 0.020, 128.0), params(true)), FilterVerdict::NoNewSample);
        assert_eq!(f.output().unwrap().time, 0.0);
        // A better one arrives: used.
        let out = update(f.add(sample(0.004, 0.0005, 192.0), params(true)));
        assert_eq!(out.time, 192.0);
    }

    #[test]
    fn test_aged_low_delay_sample_loses_to_a_fresh_one() {
        let mut f = ClockFilter::new();
        update(f.add(sample(0.001, 0.0002, 0.0), params(true)));
        // 64 s later, 0.1 ms more delay: ageing (PHI × 64 s ≈ 1 ms) makes the
        // new sample's error bound the lower one, so it is used.
        let out = update(f.add(sample(0.002, 0.0003, 64.0), params(true)));
        assert_eq!(out.time, 64.0);
        // A much larger delay still loses to a young low-delay sample.
        assert_eq!(f.add(sample(0.003, 0.0200, 128.0), params(true)), FilterVerdict::NoNewSample);
    }

    #[test]
    fn test_old_sample_not_used_when_synchronized() {
        let mut f = ClockFilter::new();
        update(f.add(sample(0.001, 0.010, 100.0), params(true)));
        // Arrives late with a better delay but is older than the one used.
        assert_eq!(f.add(sample(0.002, 0.001, 50.0), params(true)), FilterVerdict::NoNewSample);
    }

    #[test]
    fn test_anything_goes_before_synchronized() {
        let mut f = ClockFilter::new();
        update(f.add(sample(0.001, 0.010, 100.0), params(false)));
        let out = update(f.add(sample(0.002, 0.001, 50.0), params(false)));
        assert_eq!(out.time, 50.0);
        // The same best sample is handed out again.
        let again = update(f.add(sample(0.003, 0.020, 150.0), params(false)));
        assert_eq!(again.time, 50.0);
    }

    #[test]
    fn test_spike_rejected_then_accepted_when_it_persists() {
        let (mut f, t) = settled_filter();
        let before = f.output().unwrap();
        assert!(before.jitter < 1e-3);
        // A 50 ms jump, one poll later: held back.
        assert_eq!(f.add(sample(0.050, 0.010, t + POLL), params(true)), FilterVerdict::Spike);
        assert_eq!(f.spike_count(), 1);
        assert_eq!(f.output(), Some(before), "a spike leaves the output alone");
        // It persists: the next sample that agrees with it is used.
        let out = update(f.add(sample(0.0501, 0.010, t + 2.0 * POLL), params(true)));
        assert_eq!(out.offset, 0.0501);
        assert_eq!(f.spike_count(), 1);
    }

    #[test]
    fn test_no_spike_test_when_the_owner_turns_it_off() {
        let (mut f, t) = settled_filter();
        let p = FilterParams { suppress_spikes: false, ..params(true) };
        let out = update(f.add(sample(0.050, 0.010, t + POLL), p));
        assert_eq!(out.offset, 0.050);
        assert_eq!(f.spike_count(), 0);
    }

    #[test]
    fn test_lone_spike_forgotten() {
        let (mut f, t) = settled_filter();
        assert_eq!(f.add(sample(0.050, 0.010, t + POLL), params(true)), FilterVerdict::Spike);
        let out = update(f.add(sample(1e-4, 0.010, t + 2.0 * POLL), params(true)));
        assert_eq!(out.offset, 1e-4);
    }

    #[test]
    fn test_low_delay_spike_rejected() {
        // The case RFC 5905 A.5.2 lets through: the outlier also has the lowest delay.
        let (mut f, t) = settled_filter();
        assert_eq!(f.add(sample(0.050, 0.001, t + POLL), params(true)), FilterVerdict::Spike);
    }

    #[test]
    fn test_jump_after_two_polls_is_not_a_spike() {
        let (mut f, t) = settled_filter();
        let out = update(f.add(sample(0.050, 0.010, t + 2.0 * POLL), params(true)));
        assert_eq!(out.offset, 0.050);
        assert_eq!(f.spike_count(), 0);
    }

    #[test]
    fn test_no_spike_test_while_filling() {
        // Two samples leave the peer dispersion near 4 s, above MAXDIST: not settled.
        let mut f = ClockFilter::new();
        update(f.add(sample(0.0, 0.01, 0.0), params(true)));
        let out = update(f.add(sample(0.5, 0.01, 2.0), params(true)));
        assert_eq!(out.offset, 0.5);
    }

    #[test]
    fn test_stale_stage_not_candidate() {
        let mut f = ClockFilter::new();
        update(f.add(sample(0.001, 0.001, 0.0), params(true)));
        // Over 16 s / 15 ppm ≈ 12.3 days later the old stage has aged to MAXDISP:
        // the worse-delay new sample is chosen.
        let later = MAXDISP / PHI + 1.0;
        let out = update(f.add(sample(0.002, 0.050, later), params(true)));
        assert_eq!(out.time, later);
    }

    #[test]
    fn test_dispersion_at() {
        let mut f = ClockFilter::new();
        assert_eq!(f.dispersion_at(0.0), MAXDISP);
        let out = update(f.add(sample(0.0, 0.01, 100.0), params(true)));
        assert!(close(f.dispersion_at(100.0), out.dispersion));
        assert!(close(f.dispersion_at(1100.0), out.dispersion + PHI * 1000.0));
        assert_eq!(f.dispersion_at(50.0), out.dispersion, "time before the output ages nothing");
        assert_eq!(f.dispersion_at(1e12), MAXDISP);
        assert_eq!(f.dispersion_at(f64::NAN), MAXDISP);
        assert_eq!(f.dispersion_at(f64::INFINITY), MAXDISP);
    }

    #[test]
    fn test_clear() {
        let (mut f, t) = settled_filter();
        f.add(sample(0.050, 0.010, t + POLL), params(true));
        assert_eq!(f.spike_count(), 1);
        f.clear();
        assert_eq!(f.output(), None);
        assert_eq!(f.samples().count(), 0);
        assert_eq!(f.dispersion_at(t), MAXDISP);
        assert_eq!(f.spike_count(), 1, "the counter survives");
        // After a step the new offset is taken at once, even though it is
        // older than nothing and far from the old one.
        let out = update(f.add(sample(-0.3, 0.010, t + 2.0 * POLL), params(true)));
        assert_eq!(out.offset, -0.3);
    }

    #[test]
    fn test_malformed_samples_ignored() {
        let mut f = ClockFilter::new();
        let good = update(f.add(sample(0.001, 0.01, 0.0), params(true)));
        for bad in [
            sample(f64::NAN, 0.01, 1.0),
            sample(0.0, f64::INFINITY, 1.0),
            sample(0.0, 0.01, f64::NEG_INFINITY),
            FilterSample { dispersion: f64::NAN, ..sample(0.0, 0.01, 1.0) },
            sample(1e10, 0.01, 1.0),
        ] {
            assert_eq!(f.add(bad, params(true)), FilterVerdict::NoNewSample);
        }
        assert_eq!(f.output(), Some(good));
        assert_eq!(f.samples().count(), 1);
    }

    #[test]
    fn test_delay_raised_to_precision_and_dispersion_clamped() {
        let mut f = ClockFilter::new();
        let out = update(f.add(FilterSample { dispersion: -1.0, ..sample(0.0, -0.5, 0.0) }, params(true)));
        assert_eq!(out.delay, PRECISION);
        assert_eq!(f.samples().next().unwrap().dispersion, 0.0);
    }

    #[test]
    fn test_nan_poll_disables_spike_test() {
        let (mut f, t) = settled_filter();
        let p = FilterParams { poll_interval: f64::NAN, ..params(true) };
        update(f.add(sample(0.050, 0.010, t + POLL), p));
    }

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![-1e3..1e3f64, prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,]
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![finite(), any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)]
    }

    proptest! {
        #[test]
        fn prop_outputs_finite(
            steps in prop::collection::vec((finite(), finite(), finite(), finite(), any::<bool>()), 1..40),
            precision in finite(),
            poll in finite(),
        ) {
            let mut f = ClockFilter::new();
            for (offset, delay, dispersion, time, synchronized) in steps {
                let p = FilterParams { system_precision: precision, poll_interval: poll, synchronized, suppress_spikes: true };
                if let FilterVerdict::Update(out) = f.add(FilterSample { offset, delay, dispersion, time }, p) {
                    for v in [out.offset, out.delay, out.dispersion, out.jitter, out.time] {
                        prop_assert!(v.is_finite(), "{out:?}");
                    }
                    prop_assert!((0.0..=MAXDISP).contains(&out.dispersion), "{out:?}");
                    prop_assert!(out.jitter >= 0.0);
                }
                let d = f.dispersion_at(time);
                prop_assert!((0.0..=MAXDISP).contains(&d), "{d}");
            }
        }

        #[test]
        fn prop_no_panic_on_any_input(
            steps in prop::collection::vec((any_f64(), any_f64(), any_f64(), any_f64(), any::<bool>()), 1..40),
            precision in any_f64(),
            poll in any_f64(),
        ) {
            let mut f = ClockFilter::new();
            for (offset, delay, dispersion, time, synchronized) in steps {
                let p = FilterParams { system_precision: precision, poll_interval: poll, synchronized, suppress_spikes: true };
                f.add(FilterSample { offset, delay, dispersion, time }, p);
                let d = f.dispersion_at(time);
                prop_assert!((0.0..=MAXDISP).contains(&d));
            }
        }

        #[test]
        fn prop_used_samples_move_forward_when_synchronized(
            steps in prop::collection::vec((-1.0..1.0f64, 0.0..0.1f64, 0.0..10.0f64), 1..40),
        ) {
            let mut f = ClockFilter::new();
            let mut last: Option<f64> = None;
            for (offset, delay, dt) in steps {
                let time = f.samples().next().map_or(0.0, |s| s.time) + dt;
                if let FilterVerdict::Update(out) = f.add(sample(offset, delay, time), params(true)) {
                    if let Some(last) = last {
                        prop_assert!(out.time > last);
                    }
                    last = Some(out.time);
                }
            }
        }
    }
}
