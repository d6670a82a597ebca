//! The hybrid PLL/FLL clock discipline (RFC 5905 §11.3, Appendix A.5.5.6
//! `local_clock`, A.5.5.7 `rstclock`, A.5.6.1 `clock_adjust`).
//!
//! [`Discipline`] turns the stream of combined offsets from the system
//! process into what the caller's clock should do: step by an amount, or run
//! at a corrected rate for the next second. It reads no clock and touches
//! none; the caller passes its time with every [`Discipline::update`] and
//! calls [`Discipline::tick`] once per second.
//!
//! # Conventions and units
//!
//! * Times are `f64` seconds on the caller's timeline (any epoch, moving
//!   forward). Offsets are seconds, positive when the reference is *ahead* of
//!   the local clock, so the local clock must be advanced (RFC 5905 §8 sign).
//! * Frequencies are fractional (seconds per second) internally; the
//!   `*_ppm` accessors multiply by 10⁶. A positive frequency correction makes
//!   the local clock run *faster*.
//! * Poll intervals are log2 seconds; T = 2^poll is the interval in seconds.
//!
//! # The maths
//!
//! Let θ be the offset handed to [`Discipline::update`] and μ the time since
//! the last update that was used. The loop keeps a frequency φ and a residual
//! phase θᵣ still to be slewed.
//!
//! **Phase (clock-adjust process, A.5.6.1).** Every second a fixed fraction of
//! the residual is slewed out:
//!
//! ```text
//!     s  = θᵣ / (K_PLL · min(T, 2^allan))      K_PLL = 16
//!     θᵣ ← θᵣ − s,   the clock runs at φ + s for the next second.
//! ```
//!
//! So θᵣ decays exponentially with time constant τ = 16·T (1024 s at T = 64 s).
//!
//! **Frequency, PLL part (A.5.5.6).** Each update integrates the offset:
//!
//! ```text
//!     φ ← φ + θ · min(μ, 2^allan) / (c · K_PLL · T)²      c = 2 here (4 in ntpd)
//! ```
//!
//! Together with the phase slew this is a type-II loop. Linearised (phase
//! error x, oscillator error e, one update per T): ẋ = e − φ − x/(16T) and
//! φ̇ = x/(16cT)², with characteristic polynomial s² + s/(16T) + 1/(16cT)².
//! Its natural frequency is ωₙ = 1/(16cT) and its damping ζ = c/2.
//!
//! * ntpd (c = 4): ζ = 2, overdamped, with a slow pole at about 1/(240·T):
//!   a frequency error δ leaves a phase bias of about 16T·δ that takes hours
//!   to decay (4 h at T = 64 s).
//! * here (c = 2): ζ = 1, critically damped, double pole at 1/(32T): the
//!   same bias decays about 7 times faster, with no overshoot to speak of
//!   and a frequency noise that stays far below the phase noise.
//!
//! Either way the PLL alone would need hours to learn a 100 ppm error, which
//! is why the state machine measures the frequency directly first (FREQ).
//!
//! **Frequency, FLL part.** At poll intervals at or above the Allan intercept
//! (2^allan, where oscillator wander rather than network jitter dominates),
//! and whenever |θ| exceeds PGATE·ψ (the loop is not locked), the change of
//! phase not explained by the slew, θ − θᵣ, is a direct frequency
//! measurement over max(μ, T); a quarter of it is added:
//! φ ← φ + (θ − θᵣ) / max(μ, T) · ¼.
//!
//! **Frequency tracking in SYNC.** Once the fit below has at least three
//! effective samples spanning two polls, it sets φ directly and the PLL/FLL
//! increments above are not used: the least-squares slope of the
//! uncorrected phase y = θ + C, with samples forgotten exponentially over
//! TRACK_POLLS (4) poll intervals. This is where we depart most from RFC
//! 5905: its PLL learns a frequency error at about 0.02 ppm per update at
//! 256 s polls, so an error left from start-up (a source that was itself
//! settling, a falseticker chosen while intervals were wide) ramps the phase
//! for hours; in the simulator such errors of 7–260 ppm now vanish within a
//! few polls. [`Discipline::restart_frequency_measurement`] starts the fit
//! over when the source changes.
//!
//! **Statistics.** Clock jitter ψ is the exponentially weighted RMS (weight
//! 1/AVG, AVG = 4, floored at the system precision) of θ − θᵣ, how far the
//! offset moved from the residual still expected; wander ω is the same
//! average over the frequency changes per update.
//!
//! **Poll interval.** If |θ| < PGATE·ψ (PGATE = 1 by default, 4 in the RFC;
//! see [`DisciplineConfig::pgate`]) the hysteresis counter grows by the
//! poll exponent, else it shrinks by twice that; crossing +LIMIT raises the
//! poll exponent by one, crossing −LIMIT lowers it, within
//! [min_poll, max_poll]. Small offsets against the jitter mean the loop is
//! noise limited and can average longer; large ones mean it must track.
//!
//! # The state machine (RFC 5905 Fig. 28)
//!
//! | state | \|θ\| ≤ step threshold | \|θ\| > step threshold |
//! |---|---|---|
//! | NSET | slew, start measuring frequency → FREQ | step → FREQ |
//! | FSET | slew → SYNC | step → SYNC |
//! | FREQ | measure frequency; after the stepout → SYNC | ignore until the stepout, then step → SYNC |
//! | SPIK | PLL/FLL → SYNC | ignore until the stepout, then step → SYNC |
//! | SYNC | PLL/FLL | ignore (a spike) → SPIK |
//!
//! Above the panic threshold nothing is done: [`DisciplineResult::Panic`]
//! (unless it is the very first update and `allow_first_panic_step` is set,
//! ntpd's `-g`).
//!
//! # Where this departs from the RFC skeleton, and why
//!
//! * **Loop gain.** The RFC appendix defines `PLL` as 65536 while its
//!   formulas need the scale that ntpd uses (`CLOCK_PLL` = 16); with 65536
//!   the loop would take days to converge. We use 16 and ntpd's FLL gain ¼.
//! * **Critical damping.** The PLL frequency gain uses c = 2 instead of
//!   ntpd's 4 (see the maths above). Why: the poll-interval hysteresis lets
//!   the poll interval grow while |θ| < PGATE·ψ, so in steady state the phase
//!   bias 16T·δ left by a frequency error δ grows until it is about PGATE·ψ;
//!   how fast δ is driven to zero decides the steady-state error. In the
//!   closed-loop simulation of the accuracy yardstick (100 ppm, 0.1 s
//!   start, white offset noise σ, polls 64..1024 s, 8 seeds) the RMS offset
//!   from the 6th to the 24th hour was 98/246/492 µs with c = 4 and
//!   55/137/273 µs with c = 2, for σ = 20/50/100 µs (measured when
//!   the loop was tuned; the `accuracy` bench of the lab crate measures the
//!   whole engine the same way today). A clock filter that keeps the lowest-delay
//!   sample turns 100 µs of one-sided (queueing) delay jitter into roughly
//!   σ = 15–20 µs of offset noise. With the poll interval pinned at 64 s
//!   the same loop reaches 4/10/19 µs: the steady-state error is set by the
//!   poll adaptation (PGATE), not by the loop filter.
//! * **AVG.** The appendix code uses 4, its text (Fig. 27) and ntpd use 8;
//!   we take 4: with 8 the jitter estimate kept start-up transients so long
//!   that the poll interval grew to 1024 s with a millisecond of phase still
//!   to slew (a symmetric peer in the seed-001 scenario ended 1.8 ms off
//!   after an hour with 8, 0.3 ms with 4; the accuracy benchmark at 10 µs
//!   jitter went from 26 to 10 µs mean).
//! * **Allan intercept.** ntpd's 2^11 s (configurable) instead of the
//!   appendix's 1500 s; the FLL engages when the poll exponent reaches it.
//! * **NSET is not ignored.** The RFC ignores the first update and only
//!   measures the frequency after WATCH (900 s), leaving the system
//!   unsynchronized for 15 minutes. Like ntpd we act on the first update:
//!   it is slewed (or stepped when large) and reported, so a caller with
//!   iburst is synchronized within seconds.
//! * **FREQ measures continuously.** Instead of one two-point measurement at
//!   the end of the stepout, every update in FREQ refines a least-squares fit
//!   of the *uncorrected* phase y = θ + C (C = the total correction this
//!   discipline has applied since FREQ began, summed by [`Discipline::tick`]).
//!   Since y(t) = y₀ + e·t + noise for an oscillator error e, the slope of the
//!   fit is the frequency to run at, whatever corrections were applied on the
//!   way. The frequency is set from the fit as soon as the samples span
//!   [`FREQ_MIN_SPAN`] seconds, so a 100 ppm error is mostly gone after the
//!   first regular poll instead of accumulating for the whole stepout; the
//!   state moves to SYNC once the samples span the stepout. FREQ updates
//!   are therefore used ([`DisciplineResult::Slewed`]), not ignored. With white
//!   offset noise σ the fit's error is σ/√Σ(tᵢ − t̄)², a few tenths of a ppm
//!   for σ = 100 µs over 300 s. The engine goes further: it hands the
//!   discipline a fit over *every* sample of the system peer, the burst
//!   before a step included ([`Discipline::adopt_frequency_fit`]), and the
//!   slope is used as soon as it is known well, so the clock runs at the
//!   right frequency from the end of its initial burst.
//! * **Startup slew.** While in FREQ, and for one stepout after an FSET
//!   start, the residual is slewed with the time constant of a 1 s poll
//!   (16 s) rather than 16·T, as ntpd does during its start-up transient: a
//!   0.1 s initial offset is down to the millisecond level within two
//!   minutes instead of taking hours. (The RFC table slews it with τ = 16·T
//!   and only learns the frequency after WATCH; meanwhile a 100 ppm error
//!   adds 90 ms.)
//! * **Poll adaptation only in SYNC.** Start-up updates come from a burst
//!   (2 s apart) and would drive the hysteresis counter up before the loop
//!   has settled; like ntpd (which returns early from FREQ) we adapt the
//!   poll exponent only in SYNC.
//! * **Jitter.** The RFC averages θ − θ_last (the previous offset); we use
//!   θ − θᵣ (what is left of it after slewing). In steady state they differ
//!   by the few per cent slewed per poll, but during the start-up slew the
//!   RFC form would read the slew itself as jitter, and an inflated jitter
//!   lets the poll interval climb too early. For the same reason the FREQ
//!   updates do not feed the average; when FREQ ends the jitter is seeded
//!   from the residuals of the frequency fit (√2 times their deviation, the
//!   RMS difference of two noisy samples).
//! * **Steps reset the poll exponent** to `min_poll` (RFC `clock_update`
//!   STEP case), since the caller restarts its associations.

use crate::constants::{POLL_LIMIT_MAX, POLL_LIMIT_MIN};

/// PLL loop gain K_PLL (ntpd `CLOCK_PLL`): the phase time constant is
/// K_PLL · T seconds.
const PLL_GAIN: f64 = 16.0;
/// The PLL frequency gain is 1 / (FREQ_GAIN_SCALE · K_PLL · T)² per second
/// of offset: 2 gives a critically damped loop (ζ = 1). The RFC and ntpd use
/// 4 (ζ = 2); see the module documentation for why we do not.
const FREQ_GAIN_SCALE: f64 = 2.0;
/// FLL gain (ntpd `CLOCK_FLL`): the fraction of a measured frequency error
/// corrected per update above the Allan intercept.
const FLL_GAIN: f64 = 0.25;
/// In SYNC the frequency follows a least-squares fit of the uncorrected
/// phase whose samples lose weight with a time constant of this many poll
/// intervals (about as many samples in effect).
const TRACK_POLLS: f64 = 4.0;
/// Phase time constant, in poll intervals, once the tracking fit sets the
/// frequency: it follows the clock jitter ψ, as
/// `(TRACKED_GAIN_AT_1MS · √(ψ / 1 ms))` kept within
/// `TRACKED_GAIN_MIN..=TRACKED_GAIN_MAX`. With the frequency from the
/// fit, a slow slew only leaves each offset uncorrected for longer while
/// the oscillator's wander moves the phase; a fast one passes the offset
/// noise to the clock. So quiet paths get a short time constant and noisy
/// ones a longer one. Under clknetsim beside chronyd (100 ppm with a
/// 1 ppb/√s random-walk wander; seeds 1-5, median after the first hour;
/// mean |offset| / RMS, µs):
///
/// | fixed gain | lan (ψ ≈ 0.15 ms) | wan (ψ ≈ 10 ms) |
/// |---|---|---|
/// | 16 (the PLL's, used until now) | 72 / 93 | 1988 / 2521 |
/// | 4 | 65 / 90 | 1901 / 2487 |
/// | 2 | 59 / 78 | 2129 / 2979 |
/// | chronyd | 65 / 86 | 2309 / 2579 |
///
/// (Earlier, with the start-up frequency learned from the first polls
/// instead of the burst, 2 had also been best on lan but made the lab's
/// `accuracy` bench, white noise and no wander, worse at 1 and 10 ms of
/// jitter; the square root keeps those at 4.)
const TRACKED_GAIN_AT_1MS: f64 = 4.0;
/// Smallest tracked phase gain, poll intervals (quiet paths).
const TRACKED_GAIN_MIN: f64 = 2.0;
/// Largest tracked phase gain, poll intervals (noisy paths).
const TRACKED_GAIN_MAX: f64 = 4.0;

/// The tracked phase gain for a clock jitter of `jitter` seconds: see
/// [`TRACKED_GAIN_AT_1MS`].
fn tracked_phase_gain(jitter: f64) -> f64 {
    let gain = TRACKED_GAIN_AT_1MS * (jitter.max(0.0) / 1e-3).sqrt();
    if gain.is_nan() { TRACKED_GAIN_MAX } else { gain.clamp(TRACKED_GAIN_MIN, TRACKED_GAIN_MAX) }
}
/// An offset beyond this many clock jitters means the loop is not locked
/// (before the tracking fit is ready the FLL then engages); RFC 5905's PGATE
/// value, kept for this test when the poll gate was lowered.
const LOCK_GATE: f64 = 4.0;
/// Effective samples the tracking fit needs before it sets the frequency.
const TRACK_MIN_SAMPLES: f64 = 3.0;
/// Averaging constant for jitter and wander (RFC Fig. 27, ntpd `CLOCK_AVG`).
const AVG: f64 = 4.0;
/// During start-up the phase is slewed as if the poll interval were
/// 2^STARTUP_POLL_LOG2 s, i.e. with a time constant of 16 s.
const STARTUP_POLL_LOG2: i8 = 0;
/// Seconds the FREQ-state samples must span before their fitted slope is
/// trusted as the frequency. Shorter spans (an initial burst, 2 s apart)
/// give a slope too noisy to use: at 100 µs of offset noise the error of a
/// 10 s fit is about 14 ppm, of a 30 s fit a few ppm.
pub(crate) const FREQ_MIN_SPAN: f64 = 30.0;
/// Lower bound on the clock jitter and on the precision used in it, seconds.
const MIN_JITTER: f64 = 1e-9;
/// A start-up frequency fit over raw samples (see
/// [`Discipline::frequency_sample`]) is used before it spans
/// [`FREQ_MIN_SPAN`] once its slope is this many standard errors from zero:
/// a 100 ppm error measured to ±16 ppm from a four-sample burst is far
/// better than none, while a slope within the noise of a clock that is
/// already right would only add that noise.
const STARTUP_SLOPE_SIGNIFICANCE: f64 = 4.0;
/// Standard error of the start-up slope, s/s, below which it is used in
/// any case, and below which no more burst samples are wanted: 2 ppm is
/// 0.13 ms over the first 64 s poll.
const STARTUP_SLOPE_PRECISE: f64 = 2e-6;
/// Samples a start-up fit needs before its slope is used early (its
/// residuals, with two fewer degrees of freedom, estimate the noise).
const STARTUP_MIN_SAMPLES: f64 = 4.0;

/// Configuration of the clock discipline. Every field has the RFC 5905
/// default, or ntpd's where the two differ (those fields say so).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct DisciplineConfig {
    /// Step threshold STEPT, seconds (default 0.128). Offsets larger than this
    /// are stepped (after the stepout in FREQ, SPIK, SYNC). Zero, negative or
    /// NaN: never step, always slew (and no spike detection either).
    pub step_threshold: f64,
    /// Stepout interval WATCH, seconds (default 300, as ntpd; the RFC says
    /// 900): how long an offset above the step threshold must persist before
    /// it is stepped, and how long the initial frequency measurement runs.
    pub stepout: f64,
    /// Panic threshold PANICT, seconds (default 1000). A larger offset is
    /// refused with [`DisciplineResult::Panic`]. Zero, negative or NaN: no
    /// panic check.
    pub panic_threshold: f64,
    /// Allow the very first update to step the clock by any amount, above the
    /// panic threshold too (ntpd `-g`). Default false.
    pub allow_first_panic_step: bool,
    /// Largest frequency correction, seconds per second (default 500e-6, i.e.
    /// 500 ppm). NaN or negative is replaced by the default.
    pub max_frequency: f64,
    /// Largest rate the clock is slewed at, frequency included, seconds per
    /// second (default: `max_frequency`, 500 ppm, what a kernel's frequency
    /// alone reaches). A clock that can run faster may allow more: Linux's
    /// tick adjustment reaches ±10 %, and chronyd slews at up to 83 333 ppm.
    /// The start-up slew (time constant 16 s) then removes an offset just
    /// below the step threshold at its own pace: under clknetsim
    /// (`asymmetric`, 0.1 s off, not stepped) the clock stayed within 1 ms
    /// after 80 s instead of 275 s at 500 ppm (chronyd 73 s). A shorter
    /// start-up time constant (4 s, 8 s) overshot and did worse. Values
    /// below `max_frequency` (or NaN) are raised to it.
    pub max_slew_rate: f64,
    /// Allan intercept, log2 seconds (default 11, 2048 s): the PLL averages
    /// over at most this long, and the FLL engages at poll exponents at or
    /// above it. Clamped to 0..=30.
    pub allan_log2: i8,
    /// Poll-adjust hysteresis limit LIMIT (default 30).
    pub limit: i32,
    /// Poll-adjust gate PGATE (default 1; RFC 5905 and ntpd: 4): offsets
    /// below PGATE × jitter count towards a longer poll interval.
    ///
    /// Why 1: at 4 the poll interval climbs to 1024 s and stays there while
    /// the clock's frequency wander moves the phase by up to 4 jitters, a few
    /// hundred µs on a LAN. Under clknetsim beside chronyd (seeds 1-3,
    /// median mean |offset| after the first hour): lan 236 µs at 4, 64 µs at
    /// 1 (chronyd 65 µs); wan 2312 µs at 4, 2107 µs at 1 (chronyd 2309 µs).
    /// The lab's `accuracy` bench (no wander) improved too, mean |offset|
    /// 9.8/29.6/191/1826 µs at 4 and 8.2/24.3/158/1651 µs at 1 for
    /// 10 µs/100 µs/1 ms/10 ms of jitter. At 1 an offset within one jitter still counts
    /// towards longer polls, so a clock whose wander the loop follows keeps
    /// polling slowly.
    pub pgate: f64,
    /// Smallest system poll exponent, log2 seconds (default 6, 64 s).
    /// Clamped to 0..=17.
    pub min_poll: i8,
    /// Largest system poll exponent, log2 seconds (default 10, 1024 s).
    /// Clamped to min_poll..=17.
    pub max_poll: i8,
}

impl Default for DisciplineConfig {
    fn default() -> Self {
        DisciplineConfig {
            step_threshold: 0.128,
            stepout: 300.0,
            panic_threshold: 1000.0,
            allow_first_panic_step: false,
            max_frequency: 500e-6,
            max_slew_rate: 500e-6,
            allan_log2: 11,
            limit: 30,
            pgate: 1.0,
            min_poll: crate::constants::MINPOLL,
            max_poll: crate::constants::MAXPOLL,
        }
    }
}

impl DisciplineConfig {
    /// The configuration with out-of-range values brought into range (see
    /// each field), as [`Discipline::new`] stores it.
    pub fn normalized(mut self) -> Self {
        if self.max_frequency.is_nan() || self.max_frequency < 0.0 {
            self.max_frequency = DisciplineConfig::default().max_frequency;
        }
        if self.max_slew_rate.is_nan() || self.max_slew_rate < self.max_frequency {
            self.max_slew_rate = self.max_frequency;
        }
        self.allan_log2 = self.allan_log2.clamp(0, 30);
        self.min_poll = self.min_poll.clamp(POLL_LIMIT_MIN, POLL_LIMIT_MAX);
        self.max_poll = self.max_poll.clamp(self.min_poll, POLL_LIMIT_MAX);
        if self.stepout.is_nan() || self.stepout < 0.0 {
            self.stepout = 0.0;
        }
        self
    }
}

/// Discipline states (RFC 5905 Fig. 28).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockState {
    /// No update yet and no saved frequency.
    Nset,
    /// No update yet; the frequency was taken from a saved value.
    Fset,
    /// An offset above the step threshold was seen in SYNC; waiting for the
    /// stepout before believing it.
    Spik,
    /// Measuring the oscillator frequency directly (after an NSET start).
    Freq,
    /// Normal operation: PLL/FLL.
    Sync,
}

/// What [`Discipline::update`] did with an offset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DisciplineResult {
    /// Not used: a spike, a stale or non-finite input, or waiting for the
    /// stepout. The system variables should not be updated from it.
    Ignored,
    /// Used; the correction is slewed through [`Discipline::tick`].
    Slewed,
    /// The caller must step its clock by `offset` seconds (add it to the
    /// clock). The discipline has already reset its residual offset; the
    /// caller should reset its associations (RFC 5905 §11.2.3).
    Stepped {
        /// Seconds to add to the clock.
        offset: f64,
    },
    /// The offset exceeds the panic threshold and was refused; nothing
    /// changed. ntpd exits here; the caller decides (log, alarm, ask the
    /// operator).
    Panic {
        /// The refused offset, seconds.
        offset: f64,
    },
}

/// Running least-squares fit of the uncorrected phase y = θ + C over time,
/// kept relative to the first sample to stay well conditioned. The engine's
/// associations keep one each during start-up, in the frame of
/// [`Discipline::total_correction`] (see [`Discipline::adopt_frequency_fit`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FreqFit {
    /// Time of the first sample, seconds.
    t0: f64,
    /// Time of the latest sample, seconds.
    latest: f64,
    /// Number of samples.
    n: f64,
    /// Σ (t − t0), Σ y, Σ (t − t0)², Σ (t − t0)·y, Σ y².
    st: f64,
    sy: f64,
    stt: f64,
    sty: f64,
    syy: f64,
    /// Correction applied in this fit's frame (Σ of tick outputs and
    /// steps), seconds: the discipline's own since t0, or an association's
    /// copy of [`Discipline::total_correction`].
    pub(crate) applied: f64,
}

impl FreqFit {
    pub(crate) fn new(t0: f64) -> Self {
        FreqFit { t0, latest: t0, n: 0.0, st: 0.0, sy: 0.0, stt: 0.0, sty: 0.0, syy: 0.0, applied: 0.0 }
    }

    /// One sample: `offset` (seconds, as measured) at time `t`, taken when
    /// the correction applied in this fit's frame was `self.applied`.
    pub(crate) fn add(&mut self, t: f64, offset: f64) {
        let x = t - self.t0;
        let y = offset + self.applied;
        self.latest = self.latest.max(t);
        self.n += 1.0;
        self.st += x;
        self.sy += y;
        self.stt += x * x;
        self.sty += x * y;
        self.syy += y * y;
    }

    /// Multiplies every sample's weight by `factor` (0..1): exponential
    /// forgetting, so the fit follows a frequency that changes.
    fn decay(&mut self, factor: f64) {
        if factor.is_finite() && (0.0..1.0).contains(&factor) {
            self.n *= factor;
            self.st *= factor;
            self.sy *= factor;
            self.stt *= factor;
            self.sty *= factor;
            self.syy *= factor;
        }
    }

    /// Seconds spanned by the samples (the last sample's time since t0).
    fn span(&self, t: f64) -> f64 {
        t - self.t0
    }

    /// Standard deviation of the residuals about the fitted line, seconds;
    /// `None` with fewer than three samples.
    fn residual_deviation(&self) -> Option<f64> {
        let sxx = self.stt - self.st * self.st / self.n;
        let sxy = self.sty - self.st * self.sy / self.n;
        let syy = self.syy - self.sy * self.sy / self.n;
        let rss = (syy - sxy * sxy / sxx).max(0.0);
        let sd = (rss / (self.n - 2.0)).sqrt();
        (self.n >= 3.0 && sxx > 0.0 && sd.is_finite()).then_some(sd)
    }

    /// Standard error of the fitted slope, s/s: the residual deviation over
    /// the spread of the sample times. `None` with fewer than three samples.
    fn slope_error(&self) -> Option<f64> {
        let sxx = self.stt - self.st * self.st / self.n;
        let error = self.residual_deviation()? / sxx.sqrt();
        error.is_finite().then_some(error)
    }

    /// The slope, if it is known well enough to run the clock at during
    /// start-up, before the samples span [`FREQ_MIN_SPAN`]: at least
    /// [`STARTUP_MIN_SAMPLES`] samples, and a standard error either below
    /// [`STARTUP_SLOPE_PRECISE`] or small against the slope itself.
    fn early_slope(&self) -> Option<f64> {
        if self.n < STARTUP_MIN_SAMPLES {
            return None;
        }
        let slope = self.slope()?;
        let error = self.slope_error()?;
        (error <= STARTUP_SLOPE_PRECISE || STARTUP_SLOPE_SIGNIFICANCE * error <= slope.abs()).then_some(slope)
    }

    /// Fitted slope, s/s; `None` with fewer than two distinct times.
    fn slope(&self) -> Option<f64> {
        let sxx = self.stt - self.st * self.st / self.n;
        let sxy = self.sty - self.st * self.sy / self.n;
        let slope = sxy / sxx;
        (self.n >= 2.0 && sxx > 0.0 && slope.is_finite()).then_some(slope)
    }
}

/// The clock discipline: state machine, PLL/FLL, jitter/wander statistics
/// and the system poll exponent. See the module documentation.
#[derive(Clone, Debug)]
pub struct Discipline {
    config: DisciplineConfig,
    state: ClockState,
    /// Frequency correction φ, s/s.
    freq: f64,
    /// Residual offset θᵣ still to be slewed, s.
    residual: f64,
    /// Phase slewed by [`Discipline::tick`] since the start, s.
    slewed: f64,
    /// Offset of the last update used, s (for the jitter).
    last_offset: f64,
    /// Clock jitter ψ, s.
    jitter: f64,
    /// Frequency wander ω, s/s.
    wander: f64,
    /// System poll exponent, log2 s.
    poll: i8,
    /// Poll-adjust hysteresis counter.
    count: i32,
    /// Time of the last update used (s.t), s.
    last_update: Option<f64>,
    /// Direct frequency measurement while in FREQ.
    fit: Option<FreqFit>,
    /// Until this time, slew with the start-up time constant (FSET start).
    fast_slew_until: Option<f64>,
    /// True once any update has been used (for allow_first_panic_step).
    used_any: bool,
    /// The phase is slewed with a time constant of this many poll
    /// intervals: K_PLL until the frequency fit is ready, then
    /// [`tracked_phase_gain`] of the clock jitter.
    phase_gain: f64,
    /// The caller hands every raw sample to the start-up frequency fit
    /// ([`Discipline::frequency_sample`]); the updates then leave that fit
    /// alone.
    raw_samples: bool,
    /// Every correction applied since construction, steps and tick outputs
    /// (frequency and slew), seconds.
    total_correction: f64,
}

impl Discipline {
    /// A discipline in FSET when a saved frequency (ppm, positive = the clock
    /// must run faster, as [`Discipline::frequency_ppm`] reports it) is
    /// given, else NSET. A saved frequency is clamped to ±max_frequency; a
    /// non-finite one is ignored. The configuration is
    /// [normalized](DisciplineConfig::normalized).
    pub fn new(config: DisciplineConfig, saved_frequency_ppm: Option<f64>) -> Self {
        let config = config.normalized();
        let saved = saved_frequency_ppm.filter(|f| f.is_finite()).map(|f| clamp_abs(f * 1e-6, config.max_frequency));
        Discipline {
            config,
            state: if saved.is_some() { ClockState::Fset } else { ClockState::Nset },
            freq: saved.unwrap_or(0.0),
            residual: 0.0,
            slewed: 0.0,
            last_offset: 0.0,
            jitter: MIN_JITTER,
            wander: 0.0,
            poll: config.min_poll,
            count: 0,
            last_update: None,
            fit: None,
            fast_slew_until: None,
            used_any: false,
            phase_gain: PLL_GAIN,
            raw_samples: false,
            total_correction: 0.0,
        }
    }

    /// One clock update from the system process (RFC 5905 A.5.5.6
    /// `local_clock`).
    ///
    /// * `now`: the time of the sample the offset comes from, seconds on the
    ///   caller's timeline. An update not later than the last one used is
    ///   ignored (never use a sample twice or an older one).
    /// * `offset`: the combined offset, seconds (positive: the local clock
    ///   is behind).
    /// * `system_precision`: the clock's precision in seconds (e.g. 2^-20),
    ///   the floor of the jitter.
    ///
    /// Non-finite `now` or `offset` are ignored. On
    /// [`DisciplineResult::Stepped`] the caller steps its clock by the
    /// returned offset.
    pub fn update(&mut self, now: f64, offset: f64, system_precision: f64) -> DisciplineResult {
        if !now.is_finite() || !offset.is_finite() {
            return DisciplineResult::Ignored;
        }
        // Elapsed time since the last update that was used (RFC μ). The first
        // update has no predecessor: μ = 0.
        let mu = match self.last_update {
            Some(last) if now <= last => return DisciplineResult::Ignored,
            Some(last) => now - last,
            None => 0.0,
        };
        let precision = if system_precision.is_finite() { system_precision.abs().max(MIN_JITTER) } else { MIN_JITTER };
        let magnitude = offset.abs();

        // Panic check (RFC: PANICT). `>` is false for a NaN threshold, so NaN
        // and non-positive thresholds disable it.
        let panic_enabled = self.config.panic_threshold > 0.0;
        if panic_enabled && magnitude > self.config.panic_threshold {
            let first = !self.used_any && matches!(self.state, ClockState::Nset | ClockState::Fset);
            if !(first && self.config.allow_first_panic_step) {
                return DisciplineResult::Panic { offset };
            }
        }

        let step_enabled = self.config.step_threshold > 0.0;
        if step_enabled && magnitude > self.config.step_threshold {
            return self.large_offset(now, offset, mu, precision);
        }
        self.small_offset(now, offset, mu, precision)
    }

    /// An offset above the step threshold.
    fn large_offset(&mut self, now: f64, offset: f64, mu: f64, precision: f64) -> DisciplineResult {
        match self.state {
            ClockState::Sync => {
                // A single outlier is suppressed, even at long poll intervals.
                self.state = ClockState::Spik;
                return DisciplineResult::Ignored;
            }
            ClockState::Freq | ClockState::Spik => {
                // Only believe it once it has persisted for the stepout since
                // the last update that was used.
                if mu < self.config.stepout {
                    return DisciplineResult::Ignored;
                }
                if self.state == ClockState::Freq {
                    // The stepout has passed: take the measured frequency,
                    // including this sample (RFC: "step freq" in FREQ).
                    let raw = self.raw_samples;
                    let slope = self.fit.as_mut().and_then(|fit| {
                        if !raw {
                            fit.add(now, offset);
                        }
                        fit.slope()
                    });
                    if let Some(slope) = slope {
                        self.set_frequency(slope);
                    }
                }
            }
            ClockState::Nset | ClockState::Fset => {}
        }
        // Step. From NSET the frequency is still unknown: measure it from
        // here (the clock is now right, so the fit starts at zero offset).
        let from_nset = self.state == ClockState::Nset;
        self.total_correction += offset;
        self.residual = 0.0;
        self.last_offset = 0.0;
        self.jitter = precision;
        self.count = 0;
        self.poll = self.config.min_poll;
        self.last_update = Some(now);
        self.used_any = true;
        if from_nset {
            self.state = ClockState::Freq;
            match self.fit.as_mut().filter(|_| self.raw_samples) {
                Some(fit) => {
                    // The burst before the step stays in the fit: a step is
                    // a correction like the slews, so the uncorrected phase
                    // runs on through it. chronyd likewise keeps its
                    // samples across a step and starts with the frequency
                    // its burst shows, where measuring from the step alone
                    // left the clock to drift (6.4 ms at 100 ppm) until the
                    // first 64 s poll.
                    fit.applied += offset;
                    self.follow_early_slope();
                }
                None => {
                    let mut fit = FreqFit::new(now);
                    fit.add(now, 0.0);
                    self.fit = Some(fit);
                }
            }
        } else {
            if self.state == ClockState::Fset {
                self.fast_slew_until = Some(now + self.config.stepout);
            }
            self.state = ClockState::Sync;
            // The clock is right now: track the frequency from here.
            let mut fit = FreqFit::new(now);
            fit.add(now, 0.0);
            self.fit = Some(fit);
        }
        DisciplineResult::Stepped { offset }
    }

    /// An offset within the step threshold (or stepping disabled).
    fn small_offset(&mut self, now: f64, offset: f64, mu: f64, precision: f64) -> DisciplineResult {
        if matches!(self.state, ClockState::Spik | ClockState::Sync) {
            // Clock jitter: exponentially weighted RMS of how far the offset
            // moved from what was expected, the residual not yet slewed.
            let old = self.jitter * self.jitter;
            let diff = (offset - self.residual).abs().max(precision);
            self.jitter = (old + (diff * diff - old) / AVG).sqrt().max(MIN_JITTER);
        }
        let old_freq = self.freq;

        match self.state {
            ClockState::Nset => {
                // First update, no frequency known: slew the phase and start
                // measuring the frequency (from the raw samples so far, when
                // the caller hands them over).
                self.state = ClockState::Freq;
                if self.raw_samples && self.fit.is_some() {
                    self.follow_early_slope();
                } else {
                    let mut fit = FreqFit::new(now);
                    fit.add(now, offset);
                    self.fit = Some(fit);
                }
            }
            ClockState::Fset => {
                // First update with a saved frequency: slew the phase, leave
                // the frequency alone until the next update.
                self.fast_slew_until = Some(now + self.config.stepout);
                self.state = ClockState::Sync;
                let mut fit = FreqFit::new(now);
                fit.add(now, offset);
                self.fit = Some(fit);
            }
            ClockState::Freq => {
                let stepout = self.config.stepout;
                let mut done = true;
                let mut slope = None;
                let raw = self.raw_samples;
                if let Some(fit) = self.fit.as_mut() {
                    if !raw {
                        fit.add(now, offset);
                    }
                    let span = fit.span(now);
                    if span >= FREQ_MIN_SPAN.min(stepout) {
                        slope = fit.slope();
                    } else if raw {
                        slope = fit.early_slope();
                    }
                    done = span >= stepout;
                    if done {
                        // The offsets seen while slewing the start-up offset
                        // say nothing about noise; the fit's residuals do.
                        if let Some(sd) = fit.residual_deviation() {
                            self.jitter = (sd * core::f64::consts::SQRT_2).max(precision);
                        }
                    }
                }
                if let Some(slope) = slope {
                    self.set_frequency(slope);
                }
                if done {
                    // The fit goes on, forgetting, as the SYNC frequency tracker.
                    self.state = ClockState::Sync;
                }
            }
            ClockState::Spik | ClockState::Sync => {
                let t = pow2(self.poll);
                // Frequency tracking (a departure, see the module doc): the
                // slope of the uncorrected phase over the last ~8 polls.
                let tracked = self.fit.as_mut().and_then(|fit| {
                    fit.decay((-mu / (TRACK_POLLS * t)).exp());
                    fit.add(now, offset);
                    let ready = fit.n >= TRACK_MIN_SAMPLES && fit.span(now) >= 2.0 * t;
                    if ready { fit.slope() } else { None }
                });
                if let Some(slope) = tracked {
                    self.set_frequency(slope);
                    self.state = ClockState::Sync;
                    // The fit owns the frequency, so the phase need not be
                    // slewed as slowly as a PLL's (whose 16·T also keeps
                    // offset noise out of the frequency): see TRACKED_GAIN_AT_1MS.
                    self.phase_gain = tracked_phase_gain(self.jitter);
                    return self.finish_update(now, offset, old_freq);
                }
                self.phase_gain = PLL_GAIN;
                let allan = pow2(self.config.allan_log2);
                let mut delta = 0.0;
                // An offset far outside the clock jitter means the loop is
                // not locked: typically a frequency learned from a source
                // that was itself still settling. The PLL's frequency gain
                // (about 0.5 ppm per update at 64 s) would take hours to
                // undo tens of ppm, while the phase ramps into a step. So
                // the FLL also engages then, not only above the Allan
                // intercept as in RFC 5905; once locked, the PLL alone keeps
                // the FLL's noise (jitter / interval) out of the frequency.
                let unlocked = offset.abs() > LOCK_GATE * self.jitter.max(precision);
                if self.poll >= self.config.allan_log2 || unlocked {
                    // FLL: the phase change the slew does not explain is a
                    // frequency error measured over the interval.
                    delta += (offset - self.residual) / mu.max(t) * FLL_GAIN;
                }
                // PLL: integrate over at most the Allan intercept (oversampling
                // allowed, undersampling not).
                let gain = FREQ_GAIN_SCALE * PLL_GAIN * t;
                delta += offset * mu.min(allan) / (gain * gain);
                self.set_frequency(self.freq + delta);
                self.state = ClockState::Sync;
            }
        }

        self.finish_update(now, offset, old_freq)
    }

    /// The bookkeeping every slewed update ends with: residual, wander, poll.
    fn finish_update(&mut self, now: f64, offset: f64, old_freq: f64) -> DisciplineResult {
        self.residual = offset;
        self.last_offset = offset;
        self.last_update = Some(now);
        self.used_any = true;

        // Wander: exponentially weighted RMS of frequency changes.
        let change = self.freq - old_freq;
        let old = self.wander * self.wander;
        self.wander = (old + (change * change - old) / AVG).sqrt();

        if self.state == ClockState::Sync {
            self.adjust_poll(offset);
        }
        DisciplineResult::Slewed
    }

    /// Poll-interval hysteresis (RFC 5905 A.5.5.6, end of `local_clock`).
    fn adjust_poll(&mut self, offset: f64) {
        let limit = self.config.limit;
        let poll = i32::from(self.poll);
        if offset.abs() < self.config.pgate * self.jitter {
            self.count = self.count.saturating_add(poll);
            if self.count > limit {
                self.count = limit;
                if self.poll < self.config.max_poll {
                    self.count = 0;
                    self.poll += 1;
                }
            }
        } else {
            self.count = self.count.saturating_sub(poll.saturating_mul(2));
            if self.count < limit.saturating_neg() {
                self.count = limit.saturating_neg();
                if self.poll > self.config.min_poll {
                    self.count = 0;
                    self.poll -= 1;
                }
            }
        }
    }

    fn set_frequency(&mut self, freq: f64) {
        if freq.is_finite() {
            self.freq = clamp_abs(freq, self.config.max_frequency);
        }
    }

    /// The clock-adjust process (RFC 5905 A.5.6.1), to be called once per
    /// second. Returns the frequency correction, s/s, the caller's clock
    /// should run with for the next second: the frequency plus the phase slew
    /// θᵣ / (16 · min(T, 2^allan)) (16 s instead of 16·T during start-up, see
    /// the module documentation). The residual offset shrinks by the slewed
    /// part; frequency plus slew stay within ±`max_slew_rate` (by default
    /// `max_frequency`), as a kernel's slew does. Positive: run faster.
    pub fn tick(&mut self) -> f64 {
        let poll = if self.fast_slewing() { STARTUP_POLL_LOG2 } else { self.poll.min(self.config.allan_log2) };
        // A real clock slews at most `max_slew_rate` (500 ppm through the
        // kernel's frequency alone): ask for no more, and keep the residual
        // honest. The normalized configuration keeps it at least
        // `max_frequency`.
        let limit = self.config.max_slew_rate;
        let gain = if self.fast_slewing() { PLL_GAIN } else { self.phase_gain };
        // The limit holds for the whole correction, frequency plus slew: a
        // kernel clamps what it is given to ±500 ppm, so asking for 100 ppm
        // of frequency plus a 500 ppm slew moves the clock by 500, not 600,
        // and both the residual and the fit's record of what was applied
        // would drift from the truth. Under clknetsim (lan, 100 ppm, a
        // 12 ms start-up slew) the fit then counted 1.2 ms that the clock
        // never moved, a 4 ppm error that ramped the phase past 1 ms for
        // ten minutes.
        let low = (-limit - self.freq).min(0.0);
        let high = (limit - self.freq).max(0.0);
        let slew = (self.residual / (gain * pow2(poll))).clamp(low, high);
        let correction = self.freq + slew;
        // The caller's second is one of its own clock, which (the
        // frequency cancelling the oscillator's error) runs at 1 + slew:
        // it lasts 1 / (1 + slew) true seconds, and the phase moves by that
        // much less than the rate. Negligible at 500 ppm (0.05 %), but at a
        // tick-adjusted start-up slew of 6000 ppm counting the full rate
        // overstated the correction by 0.6 %, and the start-up frequency
        // fit read the difference as a slope: 20 ppm under clknetsim.
        let moved = Some(1.0 / (1.0 + slew)).filter(|m| m.is_finite()).unwrap_or(1.0);
        let slewed = slew * moved;
        let applied = correction * moved;
        self.residual -= slewed;
        self.slewed += slewed;
        self.total_correction += applied;
        if let Some(fit) = self.fit.as_mut() {
            fit.applied += applied;
        }
        correction
    }

    /// Whether the phase is slewed with the start-up time constant now.
    fn fast_slewing(&self) -> bool {
        match (self.state, self.fast_slew_until, self.last_update) {
            (ClockState::Freq, _, _) => true,
            (_, Some(until), Some(last)) => last < until,
            _ => false,
        }
    }

    /// Every correction applied since construction, seconds: the steps and
    /// the sum of [`Discipline::tick`]'s outputs. An offset θ measured when
    /// this was C makes θ + C a point of the clock's *uncorrected* phase,
    /// whose slope is the frequency error; the associations keep their
    /// start-up fits in this frame.
    pub(crate) fn total_correction(&self) -> f64 {
        self.total_correction
    }

    /// Takes `fit`, the start-up fit of the source the clock follows (kept
    /// by its association over every sample, in the frame of
    /// [`Discipline::total_correction`]), as the frequency measurement, while
    /// the frequency is unknown or being measured (NSET, FREQ; ignored
    /// otherwise). In FREQ the clock then runs at its slope as soon as that
    /// is known well.
    ///
    /// A departure from RFC 5905, whose FREQ state sees only what the clock
    /// filter hands on: the filter passes a sample only when its delay beats
    /// the older ones', so of a 2 s burst a few samples reached the frequency
    /// fit, too few to use before the first regular poll, and the clock
    /// drifted (6.4 ms at 100 ppm) until then. Every sample is a point of
    /// the phase's slope, so the association fits them all, the burst before
    /// a step included (the step counts as one more correction), and a
    /// change of system peer hands over that peer's fit instead of starting
    /// from nothing. chronyd likewise keeps its samples across a step and
    /// starts with the frequency its burst shows. Once a caller does this,
    /// the updates no longer feed the FREQ fit.
    pub(crate) fn adopt_frequency_fit(&mut self, fit: &FreqFit) {
        if !self.measuring_frequency() || fit.n < 1.0 {
            return;
        }
        self.raw_samples = true;
        let mut fit = *fit;
        fit.applied = self.total_correction;
        self.fit = Some(fit);
        if self.state == ClockState::Freq {
            self.follow_early_slope();
        }
    }

    /// Runs the clock at the start-up fit's slope if it is known well enough
    /// yet (`FreqFit::early_slope`).
    fn follow_early_slope(&mut self) {
        if let Some(slope) = self.fit.as_ref().and_then(FreqFit::early_slope) {
            self.set_frequency(slope);
        }
    }

    /// Whether more raw samples would help the start-up frequency
    /// measurement now: in NSET, or in FREQ while the fit spans less than
    /// [`FREQ_MIN_SPAN`] and its slope's standard error is above 2 ppm. The
    /// engine keeps its system peer's initial burst going while this holds
    /// (a few packets at most).
    pub(crate) fn wants_frequency_samples(&self) -> bool {
        match self.state {
            ClockState::Nset => true,
            ClockState::Freq => self.fit.as_ref().is_none_or(|fit| {
                fit.span(fit.latest) < FREQ_MIN_SPAN && fit.slope_error().is_none_or(|e| e > STARTUP_SLOPE_PRECISE)
            }),
            _ => false,
        }
    }

    /// Whether the frequency is still unknown or being measured (NSET,
    /// FREQ): offsets then ramp at the oscillator's error, which is no
    /// reason to hold a sample back as a spike.
    pub(crate) fn measuring_frequency(&self) -> bool {
        matches!(self.state, ClockState::Nset | ClockState::Freq)
    }

    /// The discipline state.
    pub fn state(&self) -> ClockState {
        self.state
    }

    /// The frequency correction, ppm (positive: the clock is made to run
    /// faster). Always within ±max_frequency. Save it periodically and pass
    /// it to [`Discipline::new`] at the next start.
    pub fn frequency_ppm(&self) -> f64 {
        self.freq * 1e6
    }

    /// The frequency correction, s/s.
    pub fn frequency(&self) -> f64 {
        self.freq
    }

    /// Starts the frequency measurement (FREQ) or tracking (SYNC) over; the
    /// frequency itself is kept until the new fit has enough samples. Call
    /// it when the source of the offsets changes: offsets
    /// against two sources differ by their disagreement, which a fit would
    /// take for frequency (a switch between sources 200 ms apart within a
    /// minute reads as thousands of ppm).
    pub fn restart_frequency_measurement(&mut self, now: f64) {
        if matches!(self.state, ClockState::Freq | ClockState::Sync | ClockState::Spik) && now.is_finite() {
            self.fit = Some(FreqFit::new(now));
        }
    }

    /// Total phase slewed by [`Discipline::tick`] since the start, seconds
    /// (the frequency part excluded). A sample's offset measured when this
    /// was `p₀` is worth `offset - (slewed_phase() - p₀)` now: the engine
    /// uses this to bring a clock filter's older samples up to date.
    pub fn slewed_phase(&self) -> f64 {
        self.slewed
    }

    /// The residual offset still to be slewed, seconds.
    pub fn offset(&self) -> f64 {
        self.residual
    }

    /// The clock jitter ψ, seconds (RFC 5905 §11.3).
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The frequency wander ω, ppm (RMS of frequency changes per update).
    pub fn wander_ppm(&self) -> f64 {
        self.wander * 1e6
    }

    /// The system poll exponent, log2 seconds, within [min_poll, max_poll];
    /// adapted with the LIMIT/PGATE hysteresis in SYNC and reset to min_poll
    /// by a step.
    pub fn poll_log2(&self) -> i8 {
        self.poll
    }

    /// The (normalized) configuration.
    pub fn config(&self) -> &DisciplineConfig {
        &self.config
    }

    /// Time of the last update that was used (slewed or stepped), seconds on
    /// the caller's timeline.
    pub fn last_update(&self) -> Option<f64> {
        self.last_update
    }
}

/// 2^exp as f64 for the small exponents used here.
fn pow2(exp: i8) -> f64 {
    2f64.powi(i32::from(exp))
}

/// `x` limited to ±`limit` (`limit` ≥ 0 or +∞). Unlike `f64::clamp` it
/// cannot panic.
fn clamp_abs(x: f64, limit: f64) -> f64 {
    if x > limit {
        limit
    } else if x < -limit {
        -limit
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2^-20 s, a typical system precision.
    const PRECISION: f64 = 9.5e-7;

    /// xorshift64* with Box–Muller: deterministic, dependency-free noise.
    struct Rng(u64);

    impl Rng {
        fn new(seed: u64) -> Self {
            Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }

        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Uniform in (0, 1).
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        fn gauss(&mut self) -> f64 {
            let (u1, u2) = (self.uniform(), self.uniform());
            (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()
        }
    }

    /// A virtual clock disciplined in closed loop: one iteration per simulated
    /// second (`tick`), a measurement every poll interval after an iburst-like
    /// start of six samples 2 s apart.
    struct Sim {
        d: Discipline,
        /// Local clock minus true time, seconds.
        phase: f64,
        /// Oscillator frequency error, s/s (positive: runs fast).
        osc: f64,
        /// Standard deviation of the offset noise, seconds.
        noise: f64,
        t: u64,
        next_poll: u64,
        burst_left: u32,
        rng: Rng,
        steps: u32,
        first_used: Option<u64>,
        results: Vec<DisciplineResult>,
    }

    #[derive(Debug)]
    struct Stats {
        mean_abs: f64,
        rms: f64,
    }

    impl Sim {
        fn new(d: Discipline, phase: f64, osc_ppm: f64, noise: f64, seed: u64) -> Self {
            Sim {
                d,
                phase,
                osc: osc_ppm * 1e-6,
                noise,
                t: 0,
                next_poll: 1,
                burst_left: 5,
                rng: Rng::new(seed),
                steps: 0,
                first_used: None,
                results: Vec::new(),
            }
        }

        fn measure(&mut self) {
            let measured = -self.phase + self.noise * self.rng.gauss();
            let result = self.d.update(self.t as f64, measured, PRECISION);
            match result {
                DisciplineResult::Stepped { offset } => {
                    self.phase += offset;
                    self.steps += 1;
                    self.first_used.get_or_insert(self.t);
                }
                DisciplineResult::Slewed => {
                    self.first_used.get_or_insert(self.t);
                }
                DisciplineResult::Ignored | DisciplineResult::Panic { .. } => {}
            }
            self.results.push(result);
        }

        /// Runs for `seconds`; statistics of |phase| over them.
        fn run(&mut self, seconds: u64) -> Stats {
            let (mut sum, mut sum2) = (0.0, 0.0);
            for _ in 0..seconds {
                self.phase += self.osc + self.d.tick();
                self.t += 1;
                if self.t >= self.next_poll {
                    self.measure();
                    if self.burst_left > 0 {
                        self.burst_left -= 1;
                        self.next_poll = self.t + 2;
                    } else {
                        self.next_poll = self.t + (1u64 << self.d.poll_log2());
                    }
                }
                sum += self.phase.abs();
                sum2 += self.phase * self.phase;
            }
            let n = seconds.max(1) as f64;
            Stats { mean_abs: sum / n, rms: (sum2 / n).sqrt() }
        }
    }

    fn default_sim(phase: f64, osc_ppm: f64, noise: f64, seed: u64) -> Sim {
        Sim::new(Discipline::new(DisciplineConfig::default(), None), phase, osc_ppm, noise, seed)
    }

    #[test]
    fn test_closed_loop_converges() {
        for (seed, osc) in [(1, 100.0), (2, -100.0), (3, 100.0)] {
            let mut sim = default_sim(0.1, osc, 100e-6, seed);
            sim.run(6 * 3600);
            assert_eq!(sim.steps, 0, "0.1 s is below the step threshold: slewed, never stepped");
            assert!(sim.first_used.is_some_and(|t| t <= 10), "synchronized within 10 s: {:?}", sim.first_used);
            let tail = sim.run(3600);
            assert_eq!(sim.d.state(), ClockState::Sync);
            assert!(sim.phase.abs() < 1e-3, "seed {seed}: final offset {}", sim.phase);
            assert!(tail.mean_abs < 1e-3, "seed {seed}: {tail:?}");
            assert!((sim.d.frequency_ppm() + osc).abs() < 0.5, "seed {seed}: frequency {}", sim.d.frequency_ppm());
        }
    }

    #[test]
    fn test_closed_loop_settles_fast() {
        // The start-up path: the 0.1 s offset is slewed within minutes (no
        // faster than the 500 ppm a kernel slews: at least 200 s for 0.1 s,
        // plus the 100 ppm the clock adds meanwhile) and the frequency is
        // known after the stepout.
        let mut sim = default_sim(0.1, 100.0, 20e-6, 7);
        sim.run(120);
        assert!(sim.phase.abs() > 0.03, "faster than a kernel can slew: {}", sim.phase);
        sim.run(240);
        assert!(sim.phase.abs() < 2e-3, "after 6 min: {}", sim.phase);
        sim.run(300);
        assert_eq!(sim.d.state(), ClockState::Sync);
        assert!((sim.d.frequency_ppm() + 100.0).abs() < 0.5, "{}", sim.d.frequency_ppm());
        let hour = sim.run(3600);
        assert!(hour.mean_abs < 300e-6 && hour.rms < 300e-6, "{hour:?}");
    }

    #[test]
    fn test_first_update_slews_and_measures_frequency() {
        let mut d = Discipline::new(DisciplineConfig::default(), None);
        assert_eq!(d.state(), ClockState::Nset);
        assert_eq!(d.update(10.0, 0.05, PRECISION), DisciplineResult::Slewed);
        assert_eq!(d.state(), ClockState::Freq);
        assert_eq!(d.offset(), 0.05);
        assert_eq!(d.last_update(), Some(10.0));
        // The start-up slew takes 1/16 of the residual per second, but never
        // more than the 500 ppm a kernel slews.
        let correction = d.tick();
        assert!((correction - 500e-6).abs() < 1e-12, "{correction}");
        let mut small = Discipline::new(DisciplineConfig::default(), None);
        small.update(10.0, 0.004, PRECISION);
        let correction = small.tick();
        assert!((correction - 0.004 / 16.0).abs() < 1e-12, "{correction}");
    }

    /// A clock 50 ppm fast whose source changes 60 s in to one that reads
    /// 80 ms differently; returns the frequency learned after 10 minutes.
    fn frequency_after_source_change(restart: bool) -> f64 {
        let mut d = Discipline::new(DisciplineConfig::default(), None);
        let mut clock_error = 0.010;
        let mut source_error = 0.0;
        for second in 0..600u32 {
            let now = f64::from(second);
            if second == 60 {
                source_error = -0.080;
                if restart {
                    d.restart_frequency_measurement(now);
                }
            }
            if second % 2 == 0 {
                d.update(now, source_error - clock_error, PRECISION);
            }
            clock_error += 50e-6 + d.tick();
        }
        d.frequency_ppm()
    }

    #[test]
    fn test_source_change_restarts_the_frequency_measurement() {
        let with_restart = frequency_after_source_change(true);
        let without = frequency_after_source_change(false);
        assert!((with_restart + 50.0).abs() < 5.0, "with the restart: {with_restart} ppm");
        assert!((without + 50.0).abs() > 20.0, "the jump should mislead a fit without the restart: {without} ppm");
        let mut synced = Discipline::new(DisciplineConfig::default(), Some(10.0));
        synced.update(0.0, 0.001, PRECISION);
        synced.restart_frequency_measurement(1.0);
        assert_eq!(synced.state(), ClockState::Sync, "only a running measurement restarts");
    }

    #[test]
    fn test_nset_large_offset_is_stepped_at_once() {
        let mut d = Discipline::new(DisciplineConfig::default(), None);
        assert_eq!(d.update(5.0, -0.5, PRECISION), DisciplineResult::Stepped { offset: -0.5 });
        assert_eq!(d.state(), ClockState::Freq);
        assert_eq!(d.offset(), 0.0);
    }

    #[test]
    fn test_fset_uses_saved_frequency() {
        let mut d = Discipline::new(DisciplineConfig::default(), Some(-12.5));
        assert_eq!(d.state(), ClockState::Fset);
        assert!((d.frequency_ppm() + 12.5).abs() < 1e-9);
        assert!((d.tick() + 12.5e-6).abs() < 1e-15, "before any update the clock runs at the saved frequency");
        assert_eq!(d.update(1.0, 0.001, PRECISION), DisciplineResult::Slewed);
        assert_eq!(d.state(), ClockState::Sync, "FSET goes straight to SYNC");
        assert!((d.frequency_ppm() + 12.5).abs() < 1e-9, "the first update leaves the frequency alone");
        // A saved frequency beyond the limit is clamped; NaN is ignored.
        assert_eq!(Discipline::new(DisciplineConfig::default(), Some(900.0)).frequency_ppm(), 500.0);
        assert_eq!(Discipline::new(DisciplineConfig::default(), Some(f64::NAN)).state(), ClockState::Nset);
    }

    #[test]
    fn test_frequency_and_slew_together_stay_within_the_limit() {
        // 100 ppm of frequency plus a 50 ms start-up slew: a kernel would
        // clamp 600 ppm to 500, so the discipline must ask for 500 and keep
        // the rest of the offset in its residual.
        let mut d = Discipline::new(DisciplineConfig::default(), Some(-100.0));
        assert_eq!(d.update(1.0, -0.05, PRECISION), DisciplineResult::Slewed);
        for second in 1..=10 {
            let correction = d.tick();
            assert!((correction + 500e-6).abs() < 1e-12, "second {second}: {correction}");
        }
        // 400 ppm of slew for ten of the clock's seconds, each 1 / (1 − 400e-6) true seconds.
        let slewed = 10.0 * 400e-6 / (1.0 - 400e-6);
        assert!((d.offset() + 0.05 - slewed).abs() < 1e-12, "residual {}", d.offset());
        // A frequency at the limit leaves no room, but the slew toward zero is never blocked.
        let mut d = Discipline::new(DisciplineConfig::default(), Some(500.0));
        d.update(1.0, 0.05, PRECISION);
        assert!((d.tick() - 500e-6).abs() < 1e-12);
        assert!((d.offset() - 0.05).abs() < 1e-12);
        let mut d = Discipline::new(DisciplineConfig::default(), Some(500.0));
        d.update(1.0, -0.05, PRECISION);
        assert!(d.tick() < 0.0);
    }

    #[test]
    fn test_max_slew_rate_lets_the_start_up_slew_past_the_frequency_limit() {
        // The same 100 ppm and 50 ms as above, on a clock that may slew at
        // 83 333 ppm: the start-up slew (16 s) asks for what it needs,
        // 100 ppm of frequency less 50 ms / 16 s.
        let config = DisciplineConfig { max_slew_rate: 0.083_333, ..DisciplineConfig::default() };
        let mut d = Discipline::new(config, Some(-100.0));
        d.update(1.0, -0.05, PRECISION);
        let correction = d.tick();
        assert!((correction - (-100e-6 - 0.05 / 16.0)).abs() < 1e-12, "{correction}");
        // The second that rate lasts is one of the clock's, 1 / (1 + slew)
        // true seconds: the residual shrinks by that much less.
        let slew = -0.05 / 16.0;
        assert!((d.offset() - (-0.05 - slew / (1.0 + slew))).abs() < 1e-12, "residual {}", d.offset());
        assert!((d.offset() + 0.05 * 15.0 / 16.0).abs() > 1e-6, "residual {}", d.offset());
        // The frequency alone stays within max_frequency.
        let d = Discipline::new(config, Some(900.0));
        assert_eq!(d.frequency_ppm(), 500.0);
        // Below max_frequency (or NaN) it is raised to it.
        for bad in [f64::NAN, 0.0, 100e-6] {
            let config = DisciplineConfig { max_slew_rate: bad, ..DisciplineConfig::default() };
            assert_eq!(config.normalized().max_slew_rate, 500e-6);
        }
    }

    #[test]
    fn test_fset_closed_loop() {
        // Starting from a good saved frequency skips FREQ: synchronized in SYNC at once.
        let d = Discipline::new(DisciplineConfig::default(), Some(-99.0));
        let mut sim = Sim::new(d, 0.05, 100.0, 50e-6, 11);
        sim.run(3 * 3600);
        assert!(!sim.results.iter().any(|r| matches!(r, DisciplineResult::Stepped { .. })));
        assert!(sim.phase.abs() < 1e-3, "{}", sim.phase);
        assert!((sim.d.frequency_ppm() + 100.0).abs() < 0.5, "{}", sim.d.frequency_ppm());
    }

    /// A discipline in SYNC at poll 6 with a zero offset history.
    fn synced() -> Discipline {
        let mut d = Discipline::new(DisciplineConfig::default(), Some(0.0));
        assert_eq!(d.update(0.0, 0.0, PRECISION), DisciplineResult::Slewed);
        assert_eq!(d.state(), ClockState::Sync);
        d
    }

    #[test]
    fn test_single_spike_ignored() {
        let mut d = synced();
        assert_eq!(d.update(64.0, 0.0001, PRECISION), DisciplineResult::Slewed);
        let before = (d.frequency_ppm(), d.offset());
        assert_eq!(d.update(128.0, 0.3, PRECISION), DisciplineResult::Ignored);
        assert_eq!(d.state(), ClockState::Spik);
        assert_eq!((d.frequency_ppm(), d.offset()), before, "a spike changes nothing");
        assert_eq!(d.last_update(), Some(64.0));
        assert_eq!(d.update(192.0, 0.0002, PRECISION), DisciplineResult::Slewed);
        assert_eq!(d.state(), ClockState::Sync);
    }

    #[test]
    fn test_persistent_offset_stepped_after_stepout() {
        // In closed loop: converge, then the true time jumps by 0.5 s.
        let mut sim = default_sim(0.0, 20.0, 10e-6, 5);
        sim.run(2 * 3600);
        assert_eq!(sim.d.state(), ClockState::Sync);
        sim.phase -= 0.5; // the local clock is now 0.5 s behind
        sim.results.clear();
        let last_good = sim.d.last_update().unwrap();
        // Long enough for two updates at the longest poll (1024 s).
        sim.run(2100);
        let mut saw_spik = false;
        let mut stepped = None;
        for r in &sim.results {
            match r {
                DisciplineResult::Ignored => saw_spik = true,
                DisciplineResult::Stepped { offset } => {
                    stepped = Some(*offset);
                    break;
                }
                DisciplineResult::Slewed => panic!("an offset above the step threshold must not be slewed"),
                DisciplineResult::Panic { .. } => panic!("not a panic"),
            }
        }
        assert!(saw_spik, "first ignored as a spike");
        let offset = stepped.expect("stepped after the stepout");
        assert!((offset - 0.5).abs() < 1e-3, "{offset}");
        assert!(sim.phase.abs() < 1e-3, "{}", sim.phase);
        assert_eq!(sim.d.state(), ClockState::Sync);
        let step_time = sim.d.last_update().unwrap();
        assert!(step_time - last_good >= 300.0, "no step before the stepout: {last_good} -> {step_time}");

        // And directly: SYNC → SPIK → ignored until 300 s after the last good update → step.
        let mut d = synced();
        assert_eq!(d.update(64.0, 0.5, PRECISION), DisciplineResult::Ignored);
        assert_eq!(d.state(), ClockState::Spik);
        assert_eq!(d.update(128.0, 0.5, PRECISION), DisciplineResult::Ignored);
        assert_eq!(d.update(299.0, 0.5, PRECISION), DisciplineResult::Ignored);
        assert_eq!(d.update(300.0, 0.5, PRECISION), DisciplineResult::Stepped { offset: 0.5 });
        assert_eq!(d.state(), ClockState::Sync);
        assert_eq!(d.offset(), 0.0);
        assert_eq!(d.poll_log2(), 6);
    }

    #[test]
    fn test_panic_threshold() {
        let mut d = Discipline::new(DisciplineConfig::default(), None);
        assert_eq!(d.update(1.0, 2000.0, PRECISION), DisciplineResult::Panic { offset: 2000.0 });
        assert_eq!(d.state(), ClockState::Nset, "a panic changes nothing");
        assert_eq!(d.last_update(), None);
        assert_eq!(d.update(2.0, -1500.0, PRECISION), DisciplineResult::Panic { offset: -1500.0 });

        let config = DisciplineConfig { allow_first_panic_step: true, ..DisciplineConfig::default() };
        let mut d = Discipline::new(config, None);
        assert_eq!(d.update(1.0, 2000.0, PRECISION), DisciplineResult::Stepped { offset: 2000.0 });
        // Only the first: later panics are refused again.
        assert_eq!(d.update(400.0, 2000.0, PRECISION), DisciplineResult::Panic { offset: 2000.0 });

        // Zero disables the check.
        let config = DisciplineConfig { panic_threshold: 0.0, ..DisciplineConfig::default() };
        let mut d = Discipline::new(config, None);
        assert_eq!(d.update(1.0, 1e6, PRECISION), DisciplineResult::Stepped { offset: 1e6 });
    }

    #[test]
    fn test_never_step() {
        let config = DisciplineConfig { step_threshold: 0.0, ..DisciplineConfig::default() };
        let mut d = Discipline::new(config, Some(0.0));
        assert_eq!(d.update(1.0, 5.0, PRECISION), DisciplineResult::Slewed);
        assert_eq!(d.update(100.0, 4.0, PRECISION), DisciplineResult::Slewed);
        assert_eq!(d.state(), ClockState::Sync);
    }

    #[test]
    fn test_frequency_clamped() {
        // An oscillator 1000 ppm slow: the correction sticks at +500 ppm.
        let mut sim = default_sim(0.0, -1000.0, 10e-6, 3);
        for _ in 0..40 {
            sim.run(300);
            assert!(sim.d.frequency_ppm().abs() <= 500.0);
        }
        assert_eq!(sim.d.frequency_ppm(), 500.0);
        let config = DisciplineConfig { max_frequency: 100e-6, ..DisciplineConfig::default() };
        let mut sim = Sim::new(Discipline::new(config, None), 0.0, 300.0, 10e-6, 3);
        sim.run(3600);
        assert_eq!(sim.d.frequency_ppm(), -100.0);
    }

    #[test]
    fn test_poll_adapts() {
        let mut d = synced();
        let mut t = 0.0;
        // Offsets that wander around zero by more than they are far from it:
        // |θ| < PGATE·ψ, the loop is noise limited, the poll interval grows.
        let mut rng = Rng::new(9);
        for _ in 0..200 {
            t += pow2(d.poll_log2());
            for _ in 0..d.poll_log2() {
                d.tick();
            }
            d.update(t, 50e-6 * rng.gauss(), PRECISION);
        }
        assert_eq!(d.poll_log2(), 10, "small offsets: poll climbs to max_poll");
        // Now a steady 50 ms error (below the step threshold): |θ| ≫ PGATE·ψ
        // after the jitter settles, the poll interval comes down.
        for _ in 0..50 {
            t += pow2(d.poll_log2());
            d.update(t, 0.05, PRECISION);
        }
        assert_eq!(d.poll_log2(), 6, "large offsets: poll falls to min_poll");
    }

    #[test]
    fn test_stale_and_non_finite_updates_ignored() {
        let mut d = synced();
        assert_eq!(d.update(0.0, 0.001, PRECISION), DisciplineResult::Ignored, "same time twice");
        assert_eq!(d.update(-5.0, 0.001, PRECISION), DisciplineResult::Ignored, "older");
        assert_eq!(d.update(f64::NAN, 0.001, PRECISION), DisciplineResult::Ignored);
        assert_eq!(d.update(10.0, f64::NAN, PRECISION), DisciplineResult::Ignored);
        assert_eq!(d.update(10.0, f64::INFINITY, PRECISION), DisciplineResult::Ignored);
        assert_eq!(d.update(10.0, 0.001, f64::NAN), DisciplineResult::Slewed, "a bad precision is floored");
    }

    #[test]
    fn test_config_normalized() {
        let config = DisciplineConfig {
            min_poll: 12,
            max_poll: 3,
            max_frequency: f64::NAN,
            allan_log2: -4,
            ..DisciplineConfig::default()
        };
        let d = Discipline::new(config, None);
        assert_eq!(d.config().min_poll, 12);
        assert_eq!(d.config().max_poll, 12);
        assert_eq!(d.config().max_frequency, 500e-6);
        assert_eq!(d.config().allan_log2, 0);
        assert_eq!(d.poll_log2(), 12);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Update { dt: f64, offset: f64, precision: f64 },
        Tick(u8),
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -2.0f64..2.0,
            2 => -0.001f64..0.001,
            1 => -5000.0f64..5000.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(0.0),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any_f64(), any_f64(), any_f64()).prop_map(|(dt, offset, precision)| Op::Update { dt, offset, precision }),
            (0u8..64).prop_map(Op::Tick),
        ]
    }

    proptest! {
        #[test]
        fn prop_frequency_within_limit(
            ops in proptest::collection::vec(op(), 0..80),
            saved in proptest::option::of(-1000.0f64..1000.0),
            max_frequency in 0.0f64..1e-3,
            step_threshold in -1.0f64..1.0,
            allow in any::<bool>(),
        ) {
            let config = DisciplineConfig {
                max_frequency,
                step_threshold,
                allow_first_panic_step: allow,
                ..DisciplineConfig::default()
            };
            let mut d = Discipline::new(config, saved);
            let mut now = 0.0;
            for op in ops {
                match op {
                    Op::Update { dt, offset, precision } => {
                        now += dt.abs().min(1e4);
                        let _ = d.update(now, offset, precision);
                    }
                    Op::Tick(n) => {
                        for _ in 0..n {
                            let c = d.tick();
                            prop_assert!(c.is_finite());
                        }
                    }
                }
                prop_assert!(d.frequency().abs() <= max_frequency, "{} > {}", d.frequency(), max_frequency);
                prop_assert!(d.offset().is_finite());
                prop_assert!(d.jitter().is_finite() && d.jitter() > 0.0);
                prop_assert!(d.wander_ppm().is_finite());
                prop_assert!((d.config().min_poll..=d.config().max_poll).contains(&d.poll_log2()));
            }
        }
    }
}
