//! Selection (intersection of correctness intervals), clustering and combining (RFC 5905 §11.2).
//!
//! [`Selector::select`] takes the candidates that passed the engine's fitness
//! tests (reachable, synchronized, root distance below MAXDIST, no loop) and
//! returns which are truechimers, which survive clustering, the system peer,
//! and the combined offset and jitter for the discipline. It owns reusable
//! scratch space: after the first calls it does not allocate.
//!
//! # The maths
//!
//! **Selection (§11.2.1, A.5.5.1).** Each candidate i claims that the true
//! offset lies in its correctness interval [θᵢ − λᵢ, θᵢ + λᵢ], λᵢ its root
//! synchronization distance. With m candidates and at most f of them lying
//! (falsetickers), some point must lie in at least m − f intervals. For
//! f = 0, 1, … while f < m/2 (so truechimers stay a majority), let
//!
//! * l(k) = the lowest point covered by k intervals, u(k) = the highest,
//! * k = m − f,
//!
//! and stop at the first f with l(k) ≤ u(k): [l, u] is the intersection.
//! Candidates whose interval meets [l, u] are the truechimers, the others
//! falsetickers, whatever their stratum. If no f < m/2 works there is no
//! majority and nothing may be disciplined.
//!
//! **Cost.** The RFC loop sweeps the sorted endpoint list twice for every f,
//! O(m²) in the worst case. Here the endpoints are sorted once (O(m log m)).
//! Sweeping up, the running count of open intervals changes by ±1 per
//! endpoint, so each level k is reached for the first time exactly once: one
//! pass records l(k) for every k at once, one downward pass u(k), and the
//! loop over f just reads them, O(m). Same answers as the RFC loop, in
//! O(m log m).
//!
//! **Cluster (§11.2.2).** Truechimers are ranked by the merit
//! stratum · MAXDIST + λ (lower is better); only the best `max_candidates`
//! (ntpd's maxclock) are clustered. Candidate s's selection jitter among the
//! n remaining is
//!
//! ```text
//!     ψₛ² = Σⱼ (θₛ − θⱼ)² / (n − 1) = (n·(θₛ − θ̄)² + Σⱼ (θⱼ − θ̄)²) / (n − 1),
//! ```
//!
//! which is largest for the candidate farthest from the mean θ̄, i.e. the
//! lowest or the highest offset. So with the survivors sorted by offset the
//! outlier is always at one end, the survivors stay a contiguous range, and
//! each round costs O(1) from running sums Σθ and Σθ². Rounds repeat, dropping
//! that outlier, until n ≤ min_cluster or the largest ψₛ is below the smallest
//! peer jitter ψₚ among the survivors (dropping more cannot help). Total cost
//! O(k log k) for k clustered candidates.
//!
//! **Combine (§11.2.3, A.5.5.5).** With weights wᵢ = 1/λᵢ over the survivors
//! at the system peer's stratum (the RFC combines every survivor; see the
//! departures below):
//!
//! ```text
//!     Θ   = Σ wᵢ θᵢ / Σ wᵢ                         combined offset
//!     ψ_s = √(Σ wᵢ (θᵢ − θ_p)² / Σ wᵢ)             selection jitter about the system peer p
//!     Ψ   = √(ψ_s² + ψ_p²)                          system jitter
//! ```
//!
//! # The system peer
//!
//! The candidate for system peer is the first survivor (best merit). The
//! current system peer is kept while it is a survivor unless
//! [`should_switch`] says the first survivor is better by the HP/DEC rules,
//! precisely:
//!
//! 1. a `prefer` survivor, if any (the best-merit one), is the system peer
//!    and its own offset is used instead of the combined one (as ntpd);
//! 2. else, if `current_system_peer` is among the survivors, the first
//!    survivor replaces it only if `should_switch(Some(current), true, first)`
//!    (lower stratum, or same stratum and less than half the root distance);
//! 3. else (no current one, or it is no longer a survivor: a falseticker,
//!    clustered out, or gone) the first survivor, which is what
//!    `should_switch(current, false, first)` answers.
//!
//! # Departures from the RFC skeleton
//!
//! * **Combine within one stratum.** A survivor a stratum further away than
//!   the system peer is usually a node synchronized to the same upstreams:
//!   the symmetric peer of the white paper's design. Combining it feeds each
//!   peer's own drift back to itself (in the seed-003 simulation two such
//!   peers held a shared 0.65 ppm error for an hour, their offsets pulling
//!   toward each other instead of toward the servers). It still counts in
//!   the selection and clustering, and serves as a backup.
//! * **No midpoint test.** RFC 5905 also counts the midpoints θᵢ outside
//!   [l, u] and requires at most f of them. ntpd 4.2.8 and NTPsec dropped
//!   that test (it rejects agreeing majorities whose midpoints fall outside
//!   a narrow intersection) and call every candidate whose interval meets
//!   [l, u] a truechimer; so do we.
//! * **Closed intervals**: touching intervals intersect, and a one-point
//!   intersection (l = u) counts; ntpd requires l < u.
//! * **A lone outlier goes below `min_cluster`.** The RFC stops clustering
//!   at NMIN (3) survivors. Right after a start the correctness intervals
//!   are wide (the empty filter stages still count MAXDISP, about 1 s of
//!   root distance after a four-sample burst), so a source 200 ms off is
//!   not yet a falseticker; with three sources it then survived, was
//!   combined with a third of the weight, and the start-up slew pulled the
//!   clock 40 ms toward it in the first two minutes (clknetsim,
//!   `three-servers`; chronyd, whose intervals are its error estimates,
//!   rejects it at once). So while at least three survive, one whose
//!   selection jitter exceeds [`OUTLIER_GATE`] times the largest peer
//!   jitter among them is dropped: the two or more left agree far better
//!   with each other than with it. It stays a truechimer (a backup) until
//!   the intervals narrow and the intersection rejects it.
//! * **Cluster ties** drop the candidate with the worse merit (the RFC
//!   loop keeps whichever it met first). A `prefer` truechimer is never
//!   dropped: when it is the outlier, clustering stops.
//! * **Clock hopping**: the RFC keeps the old system peer when it has the
//!   same stratum as the first survivor; we apply the full HP/DEC rule of
//!   [`should_switch`], which also requires a 50 % better root distance.
//! * **Invalid input** (a non-finite offset, distance or jitter, or a
//!   negative distance or jitter) is reported as a falseticker and not
//!   counted in m. Root distances are floored at [`MIN_DISTANCE`] for the
//!   weights.

use crate::constants::{MAXDIST, MAXSTRAT, MIN_CLUSTER, MIN_SANE};

/// Below `min_cluster` survivors (but with at least three, so two that
/// agree remain), the cluster algorithm still drops the one farthest from
/// the others when its selection jitter exceeds this many times the
/// largest peer jitter among them: see the module doc.
const OUTLIER_GATE: f64 = 10.0;

/// Smallest root distance used as a combine weight's denominator, seconds.
/// Real root distances are never this small (they include half the delay,
/// at least MINDISP/2); it only keeps 1/λ finite.
pub(crate) const MIN_DISTANCE: f64 = 1e-9;

/// One association offered to the selection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The caller's identifier (association id), echoed back in [`Outcome`].
    /// Should be unique among the candidates.
    pub id: u32,
    /// Clock offset θ from the clock filter, seconds (positive: the source is
    /// ahead of the local clock).
    pub offset: f64,
    /// Root synchronization distance λ, seconds (RFC 5905 A.5.5.2
    /// `root_dist`): the half-width of the correctness interval.
    pub root_distance: f64,
    /// Peer jitter ψₚ from the clock filter, seconds.
    pub jitter: f64,
    /// The source's stratum (1 = primary).
    pub stratum: u8,
    /// Operator preference (ntpd `prefer`): the system peer whenever it
    /// survives, and never clustered out. It is still dropped as a
    /// falseticker.
    pub prefer: bool,
}

/// Selection parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SelectConfig {
    /// Fewest truechimers needed to synchronize (ntpd `minsane`, RFC CMIN).
    /// Default 1; 0 is treated as 1.
    pub min_sane: usize,
    /// The cluster algorithm stops at this many survivors (ntpd `minclock`,
    /// RFC NMIN). Default 3; 0 is treated as 1.
    pub min_cluster: usize,
    /// Only the best this many truechimers (by merit) are clustered and
    /// combined (ntpd `maxclock`). Default 10; 0 is treated as 1.
    pub max_candidates: usize,
}

impl Default for SelectConfig {
    fn default() -> Self {
        SelectConfig { min_sane: MIN_SANE, min_cluster: MIN_CLUSTER, max_candidates: 10 }
    }
}

/// Why no system peer could be chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// No candidate was given, or none had finite, non-negative values.
    #[error("no usable candidates: nothing to select from")]
    NoCandidates,
    /// No point lies in the correctness intervals of a majority.
    #[error("no majority: no point lies within the correctness intervals of more than half of the candidates")]
    NoMajority,
    /// A majority agrees, but it is smaller than `min_sane`.
    #[error("only {found} truechimers, at least {needed} needed (min_sane)")]
    TooFewTruechimers {
        /// Truechimers found.
        found: usize,
        /// The configured minimum.
        needed: usize,
    },
}

/// The result of one selection. Slices borrow the [`Selector`]'s scratch
/// space and hold candidate ids.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
#[must_use]
pub struct Outcome<'a> {
    /// Candidates whose correctness interval meets the intersection, best
    /// merit first.
    pub truechimers: &'a [u32],
    /// The other candidates (and invalid ones), in input order.
    pub falsetickers: &'a [u32],
    /// Truechimers left after clustering, best first: sorted by
    /// stratum · MAXDIST + root distance.
    pub survivors: &'a [u32],
    /// The chosen system peer (one of the survivors).
    pub system_peer: u32,
    /// Combined offset Θ, seconds: the 1/λ-weighted mean of the survivors'
    /// offsets, or the prefer peer's own offset.
    pub offset: f64,
    /// System jitter Ψ = √(ψ_s² + ψ_p²), seconds: the selection jitter about
    /// the system peer combined with the system peer's own jitter.
    pub jitter: f64,
    /// Selection jitter ψ_s, seconds (the 1/λ-weighted RMS of the survivors'
    /// offsets about the system peer's).
    pub selection_jitter: f64,
    /// The intersection interval [l, u], seconds.
    pub intersection: (f64, f64),
}

/// Reusable selection state: scratch vectors that keep their capacity, so
/// selection allocates nothing once warmed up.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    /// Indices (into the candidates) of the valid ones.
    valid: Vec<usize>,
    /// Endpoints: (edge, +1 for a lower end, −1 for an upper end).
    endpoints: Vec<(f64, i8)>,
    /// low_at[k − 1]: lowest edge covered by k intervals.
    low_at: Vec<f64>,
    /// high_at[k − 1]: highest edge covered by k intervals.
    high_at: Vec<f64>,
    /// Truechimer indices, best merit first.
    ranked: Vec<usize>,
    /// Merit ranks of the clustered candidates, sorted by offset.
    by_offset: Vec<usize>,
    /// Positions in `by_offset`, sorted by peer jitter.
    by_jitter: Vec<usize>,
    /// position_of[rank]: where merit rank `rank` sits in `by_offset`.
    position_of: Vec<usize>,
    truechimers: Vec<u32>,
    falsetickers: Vec<u32>,
    survivors: Vec<u32>,
}

/// Whether all of a candidate's numbers are usable.
fn is_valid(c: &Candidate) -> bool {
    c.offset.is_finite()
        && c.root_distance.is_finite()
        && c.root_distance >= 0.0
        && c.jitter.is_finite()
        && c.jitter >= 0.0
}

/// The cluster merit: stratum dominates, then root distance.
fn merit(c: &Candidate) -> f64 {
    f64::from(c.stratum) * MAXDIST + c.root_distance
}

impl Selector {
    /// An empty selector.
    pub fn new() -> Self {
        Selector::default()
    }

    /// Runs selection, clustering and combining over `candidates` and picks
    /// the system peer, keeping `current_system_peer` while it survives (see
    /// the module documentation for the exact rule).
    ///
    /// Cost O(n log n) in the number of candidates; no allocation once the
    /// scratch space has grown to the largest n seen.
    pub fn select(
        &mut self,
        candidates: &[Candidate],
        current_system_peer: Option<u32>,
        config: &SelectConfig,
    ) -> Result<Outcome<'_>, SelectError> {
        self.valid.clear();
        self.endpoints.clear();
        self.low_at.clear();
        self.high_at.clear();
        self.ranked.clear();
        self.by_offset.clear();
        self.by_jitter.clear();
        self.position_of.clear();
        self.truechimers.clear();
        self.falsetickers.clear();
        self.survivors.clear();

        for (i, c) in candidates.iter().enumerate() {
            if is_valid(c) {
                self.valid.push(i);
                self.endpoints.push((c.offset - c.root_distance, 1));
                self.endpoints.push((c.offset + c.root_distance, -1));
            }
        }
        let m = self.valid.len();
        if m == 0 {
            return Err(SelectError::NoCandidates);
        }

        // --- Selection: one sort, two sweeps. ---
        // Equal edges: lower ends first, so touching intervals overlap.
        self.endpoints.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut count: i32 = 0;
        let mut deepest: i32 = 0;
        for &(edge, kind) in &self.endpoints {
            count += i32::from(kind);
            if count > deepest {
                deepest = count;
                self.low_at.push(edge);
            }
        }
        count = 0;
        deepest = 0;
        for &(edge, kind) in self.endpoints.iter().rev() {
            count -= i32::from(kind);
            if count > deepest {
                deepest = count;
                self.high_at.push(edge);
            }
        }
        let mut found = None;
        let mut allow = 0;
        while 2 * allow < m {
            let k = m - allow;
            if let (Some(&l), Some(&u)) = (self.low_at.get(k - 1), self.high_at.get(k - 1)) {
                if l <= u {
                    found = Some((l, u));
                    break;
                }
            }
            allow += 1;
        }
        let Some((low, high)) = found else {
            return Err(SelectError::NoMajority);
        };

        // Truechimers: intervals meeting [low, high]. Falsetickers: the rest,
        // and the invalid candidates, in input order.
        for (i, c) in candidates.iter().enumerate() {
            if is_valid(c) && c.offset - c.root_distance <= high && c.offset + c.root_distance >= low {
                self.ranked.push(i);
            } else {
                self.falsetickers.push(c.id);
            }
        }
        let needed = config.min_sane.max(1);
        if self.ranked.len() < needed {
            return Err(SelectError::TooFewTruechimers { found: self.ranked.len(), needed });
        }
        let by_merit = |&a: &usize, &b: &usize| {
            let (ca, cb) = (candidates.get(a), candidates.get(b));
            let ma = ca.map_or(f64::INFINITY, merit);
            let mb = cb.map_or(f64::INFINITY, merit);
            ma.total_cmp(&mb).then_with(|| ca.map(|c| c.id).cmp(&cb.map(|c| c.id)))
        };
        self.ranked.sort_unstable_by(by_merit);
        self.truechimers.extend(self.ranked.iter().filter_map(|&i| candidates.get(i)).map(|c| c.id));

        // --- Cluster over the best `max_candidates`. ---
        let k = self.ranked.len().min(config.max_candidates.max(1));
        let ranked = self.ranked.get(..k).unwrap_or(&[]);
        let cand = |rank: usize| ranked.get(rank).and_then(|&i| candidates.get(i));
        let offset_of = |rank: usize| cand(rank).map_or(0.0, |c| c.offset);
        let jitter_of = |rank: usize| cand(rank).map_or(0.0, |c| c.jitter);
        let protected = |rank: usize| cand(rank).is_some_and(|c| c.prefer);

        self.by_offset.extend(0..k);
        self.by_offset.sort_unstable_by(|&a, &b| offset_of(a).total_cmp(&offset_of(b)).then(a.cmp(&b)));
        self.position_of.resize(k, 0);
        for (pos, &rank) in self.by_offset.iter().enumerate() {
            if let Some(slot) = self.position_of.get_mut(rank) {
                *slot = pos;
            }
        }
        self.by_jitter.extend(0..k);
        let by_offset = &self.by_offset;
        let jitter_at = |pos: usize| by_offset.get(pos).map_or(0.0, |&rank| jitter_of(rank));
        self.by_jitter.sort_unstable_by(|&a, &b| jitter_at(a).total_cmp(&jitter_at(b)));

        // Offsets relative to the best candidate's keep the running sums well
        // conditioned when offsets are large against their spread.
        let reference = offset_of(0);
        let x_at = |pos: usize| by_offset.get(pos).map_or(0.0, |&rank| offset_of(rank) - reference);
        let (mut lo, mut hi) = (0usize, k - 1);
        let (mut s1, mut s2) = (0.0, 0.0);
        for pos in 0..k {
            let x = x_at(pos);
            s1 += x;
            s2 += x * x;
        }
        let min_cluster = config.min_cluster.max(1);
        let mut jitter_cursor = 0usize;
        loop {
            let n = hi - lo + 1;
            if n <= min_cluster.min(2) || n < 2 {
                break;
            }
            let nf = n as f64;
            let psi = |x: f64| ((nf * x * x - 2.0 * x * s1 + s2).max(0.0) / (nf - 1.0)).sqrt();
            let (psi_lo, psi_hi) = (psi(x_at(lo)), psi(x_at(hi)));
            let rank_at = |pos: usize| by_offset.get(pos).copied().unwrap_or(0);
            // Farther from the mean goes; on a tie (always so for n = 2; within
            // rounding of the running sums) the worse merit, the higher rank.
            let tie = (psi_lo - psi_hi).abs() <= 1e-9 * psi_lo.max(psi_hi);
            let drop_low = if tie { rank_at(lo) > rank_at(hi) } else { psi_lo > psi_hi };
            let (drop_pos, psi_max) = if drop_low { (lo, psi_lo) } else { (hi, psi_hi) };
            // Smallest peer jitter among the remaining (lo..=hi).
            while self.by_jitter.get(jitter_cursor).is_some_and(|&pos| pos < lo || pos > hi) {
                jitter_cursor += 1;
            }
            let min_peer_jitter = self.by_jitter.get(jitter_cursor).map_or(0.0, |&pos| jitter_at(pos));
            if n <= min_cluster {
                // At min_cluster the RFC stops; we go on only for a lone
                // outlier (a departure, see the module doc).
                let max_peer_jitter = (lo..=hi).map(jitter_at).fold(0.0, f64::max);
                if psi_max <= OUTLIER_GATE * max_peer_jitter {
                    break;
                }
            }
            if psi_max < min_peer_jitter || protected(rank_at(drop_pos)) {
                break;
            }
            let x = x_at(drop_pos);
            s1 -= x;
            s2 -= x * x;
            if drop_low {
                lo += 1;
            } else {
                hi -= 1;
            }
        }

        // Survivors in merit order.
        let position_of = &self.position_of;
        let survives = |rank: usize| position_of.get(rank).is_some_and(|&pos| pos >= lo && pos <= hi);
        self.survivors.extend((0..k).filter(|&rank| survives(rank)).filter_map(cand).map(|c| c.id));

        // --- System peer. ---
        let surviving = || (0..k).filter(|&rank| survives(rank)).filter_map(cand);
        let first = surviving().next();
        let prefer = surviving().find(|c| c.prefer);
        let current = current_system_peer.and_then(|id| surviving().find(|c| c.id == id));
        let system = match (prefer, current, first) {
            (Some(p), _, _) => p,
            (None, Some(cur), Some(best)) => {
                if should_switch(Some(cur), true, best) {
                    best
                } else {
                    cur
                }
            }
            (None, None, Some(best)) => best,
            // Unreachable: at least one candidate always survives.
            (None, _, None) => return Err(SelectError::NoMajority),
        };

        // --- Combine. ---
        let (mut sum_w, mut sum_wx, mut sum_wd) = (0.0, 0.0, 0.0);
        // Only survivors at the system peer's stratum are combined (a
        // departure, see the module doc).
        for c in surviving().filter(|c| c.stratum == system.stratum) {
            let w = 1.0 / c.root_distance.max(MIN_DISTANCE);
            let d = c.offset - system.offset;
            sum_w += w;
            sum_wx += w * c.offset;
            sum_wd += w * d * d;
        }
        let weighted = sum_w > 0.0 && sum_w.is_finite();
        let selection_jitter = if weighted { (sum_wd / sum_w).sqrt() } else { 0.0 };
        let offset = if prefer.is_some() || !weighted { system.offset } else { sum_wx / sum_w };
        let jitter = (selection_jitter * selection_jitter + system.jitter * system.jitter).sqrt();

        Ok(Outcome {
            truechimers: &self.truechimers,
            falsetickers: &self.falsetickers,
            survivors: &self.survivors,
            system_peer: system.id,
            offset,
            jitter,
            selection_jitter,
            intersection: (low, high),
        })
    }
}

/// Whether a candidate can be a synchronization source at all: stratum
/// 1..=15 and a finite, non-negative root distance.
fn is_synchronized(c: &Candidate) -> bool {
    c.stratum >= 1 && c.stratum < MAXSTRAT && c.root_distance.is_finite() && c.root_distance >= 0.0
}

/// The HP/DEC rule for accepting `new` as the synchronization source in
/// place of `current` (no clock hopping).
///
/// Rejected, whatever else holds:
/// * `new` is not synchronized (stratum 0 or 16 and above, or an unusable
///   root distance);
/// * `new` is the current source (nothing to switch);
/// * `new` has a higher stratum than the current source.
///
/// Accepted:
/// * there is no current source;
/// * the current source is unreachable or not synchronized
///   (`current_usable == false`, or its stratum is not 1..=15);
/// * `new` has a lower stratum than the current source;
/// * same stratum, and `new`'s root distance is less than half the current
///   one's (closer by more than 50 %).
///
/// Otherwise the current source is kept. "The peer is synchronized to the
/// local node" (a loop) is the engine's fitness test and cannot be seen
/// from a [`Candidate`].
pub(crate) fn should_switch(current: Option<&Candidate>, current_usable: bool, new: &Candidate) -> bool {
    if !is_synchronized(new) {
        return false;
    }
    let Some(current) = current else {
        return true;
    };
    if current.id == new.id {
        return false;
    }
    if !current_usable || !is_synchronized(current) {
        return true;
    }
    match new.stratum.cmp(&current.stratum) {
        core::cmp::Ordering::Less => true,
        core::cmp::Ordering::Greater => false,
        core::cmp::Ordering::Equal => new.root_distance < 0.5 * current.root_distance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cand(id: u32, offset: f64, root_distance: f64, stratum: u8) -> Candidate {
        Candidate { id, offset, root_distance, jitter: 0.001, stratum, prefer: false }
    }

    fn sorted(ids: &[u32]) -> Vec<u32> {
        let mut v = ids.to_vec();
        v.sort_unstable();
        v
    }

    #[test]
    fn test_single_candidate() {
        let mut s = Selector::new();
        let out = s.select(&[cand(7, 0.002, 0.05, 2)], None, &SelectConfig::default()).unwrap();
        assert_eq!(out.truechimers, &[7]);
        assert_eq!(out.survivors, &[7]);
        assert!(out.falsetickers.is_empty());
        assert_eq!(out.system_peer, 7);
        assert_eq!(out.offset, 0.002);
        assert_eq!(out.intersection, (0.002 - 0.05, 0.002 + 0.05));
        assert!((out.jitter - 0.001).abs() < 1e-12, "system jitter = peer jitter alone: {}", out.jitter);
    }

    #[test]
    fn test_no_candidates() {
        let mut s = Selector::new();
        assert_eq!(s.select(&[], None, &SelectConfig::default()).unwrap_err(), SelectError::NoCandidates);
        let bad = [cand(1, f64::NAN, 0.1, 2), cand(2, 0.0, -1.0, 2)];
        assert_eq!(s.select(&bad, None, &SelectConfig::default()).unwrap_err(), SelectError::NoCandidates);
    }

    #[test]
    fn test_falseticker_dropped_even_at_lower_stratum() {
        // Three stratum-2 servers agree within a millisecond; a stratum-1
        // server with a tiny distance is 200 ms away.
        let c = [cand(1, 0.001, 0.02, 2), cand(2, 0.0015, 0.03, 2), cand(3, 0.0005, 0.025, 2), cand(4, 0.2, 0.001, 1)];
        let mut s = Selector::new();
        let out = s.select(&c, Some(4), &SelectConfig::default()).unwrap();
        assert_eq!(out.falsetickers, &[4]);
        assert_eq!(sorted(out.truechimers), vec![1, 2, 3]);
        assert_ne!(out.system_peer, 4, "the old system peer is a falseticker now");
        assert!(out.offset > 0.0005 && out.offset < 0.0015, "{}", out.offset);
    }

    #[test]
    fn test_no_majority() {
        // Two sources that disagree: neither can be trusted.
        let mut s = Selector::new();
        let c = [cand(1, 0.0, 0.01, 2), cand(2, 1.0, 0.01, 2)];
        assert_eq!(s.select(&c, None, &SelectConfig::default()).unwrap_err(), SelectError::NoMajority);
        // Four in two pairs of two: no majority either.
        let c = [cand(1, 0.0, 0.01, 2), cand(2, 0.001, 0.01, 2), cand(3, 1.0, 0.01, 2), cand(4, 1.001, 0.01, 2)];
        assert_eq!(s.select(&c, None, &SelectConfig::default()).unwrap_err(), SelectError::NoMajority);
        // Three, two of which agree: a majority.
        let c = [cand(1, 0.0, 0.01, 2), cand(2, 0.001, 0.01, 2), cand(3, 1.0, 0.01, 2)];
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.falsetickers, &[3]);
    }

    #[test]
    fn test_min_sane() {
        let mut s = Selector::new();
        let c = [cand(1, 0.0, 0.01, 2), cand(2, 0.001, 0.01, 2), cand(3, 1.0, 0.01, 2)];
        let config = SelectConfig { min_sane: 3, ..SelectConfig::default() };
        assert_eq!(s.select(&c, None, &config).unwrap_err(), SelectError::TooFewTruechimers { found: 2, needed: 3 });
        assert_eq!(
            SelectError::TooFewTruechimers { found: 2, needed: 3 }.to_string(),
            "only 2 truechimers, at least 3 needed (min_sane)"
        );
    }

    #[test]
    fn test_touching_intervals_intersect() {
        let mut s = Selector::new();
        let c = [cand(1, 0.0, 0.5, 2), cand(2, 1.0, 0.5, 2)];
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.intersection, (0.5, 0.5));
        assert_eq!(out.truechimers.len(), 2);
    }

    #[test]
    fn test_matches_rfc_loop() {
        // The O(n log n) intersection gives the RFC/ntpd loop's answer.
        fn rfc(c: &[Candidate]) -> Option<(f64, f64)> {
            let mut e: Vec<(f64, i32)> = Vec::new();
            for x in c {
                e.push((x.offset - x.root_distance, 1));
                e.push((x.offset + x.root_distance, -1));
            }
            e.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
            let n = c.len();
            for allow in 0..n {
                if 2 * allow >= n {
                    break;
                }
                let need = (n - allow) as i32;
                let (mut chime, mut low, mut high) = (0, None, None);
                for &(edge, t) in &e {
                    chime += t;
                    if chime >= need {
                        low = Some(edge);
                        break;
                    }
                }
                chime = 0;
                for &(edge, t) in e.iter().rev() {
                    chime -= t;
                    if chime >= need {
                        high = Some(edge);
                        break;
                    }
                }
                if let (Some(l), Some(h)) = (low, high) {
                    if l <= h {
                        return Some((l, h));
                    }
                }
            }
            None
        }
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut s = Selector::new();
        for round in 0..2000 {
            let n = 1 + round % 9;
            let c: Vec<Candidate> =
                (0..n).map(|i| cand(i as u32, next() * 0.2 - 0.1, next() * 0.06, 1 + (i % 3) as u8)).collect();
            let ours = s.select(&c, None, &SelectConfig::default()).map(|o| o.intersection).ok();
            assert_eq!(ours, rfc(&c), "{c:?}");
        }
    }

    #[test]
    fn test_cluster_matches_quadratic_rfc_loop() {
        // The RFC's O(n²) cluster loop over all pairs, for comparison.
        fn rfc(c: &[Candidate], min_cluster: usize) -> Vec<u32> {
            let mut v: Vec<Candidate> = c.to_vec();
            v.sort_by(|a, b| merit(a).total_cmp(&merit(b)));
            loop {
                let n = v.len();
                if n < 2 || (n <= min_cluster && n < 3) {
                    break;
                }
                let (mut max, mut at) = (f64::NEG_INFINITY, 0);
                let mut min = f64::INFINITY;
                let mut max_jitter: f64 = 0.0;
                for (i, p) in v.iter().enumerate() {
                    min = min.min(p.jitter);
                    max_jitter = max_jitter.max(p.jitter);
                    let d: f64 = v.iter().map(|q| (p.offset - q.offset).powi(2)).sum();
                    let psi = (d / (n - 1) as f64).sqrt();
                    if psi >= max {
                        max = psi;
                        at = i;
                    }
                }
                if max < min || (n <= min_cluster && max <= OUTLIER_GATE * max_jitter) {
                    break;
                }
                v.remove(at);
            }
            v.iter().map(|c| c.id).collect()
        }
        let mut rng = 777u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut s = Selector::new();
        for round in 0..2000 {
            let n = 1 + round % 12;
            let c: Vec<Candidate> = (0..n)
                .map(|i| Candidate {
                    id: i as u32,
                    offset: next() * 0.02 - 0.01,
                    root_distance: 0.5 + next() * 0.1,
                    jitter: next() * 0.004,
                    stratum: 1 + (i % 3) as u8,
                    prefer: false,
                })
                .collect();
            let min_cluster = 1 + round % 4;
            let config = SelectConfig { min_cluster, max_candidates: 100, ..SelectConfig::default() };
            let out = s.select(&c, None, &config).unwrap();
            assert_eq!(out.survivors, rfc(&c, min_cluster).as_slice(), "{c:?}");
        }
    }

    #[test]
    fn test_cluster_drops_outliers_to_min_cluster() {
        // Six truechimers with wide intervals; two are off to the sides.
        let mut c: Vec<Candidate> = (0..4).map(|i| cand(i, 0.001 * f64::from(i), 0.2, 2)).collect();
        c.push(cand(10, 0.08, 0.2, 2));
        c.push(cand(11, -0.07, 0.2, 2));
        for x in &mut c {
            x.jitter = 0.0005;
        }
        let mut s = Selector::new();
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.truechimers.len(), 6);
        assert_eq!(out.survivors.len(), 3);
        assert!(!out.survivors.contains(&10) && !out.survivors.contains(&11));
    }

    #[test]
    fn test_lone_outlier_dropped_below_min_cluster() {
        // Just after a start: intervals of a second, so the source 200 ms
        // off is a truechimer, but two agree within 100 µs.
        let mut c = vec![cand(1, 0.0, 1.0, 1), cand(2, 0.0001, 0.9, 1), cand(3, 0.2, 0.8, 1)];
        for x in &mut c {
            x.jitter = 1e-4;
        }
        let mut s = Selector::new();
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.truechimers.len(), 3);
        assert_eq!(sorted(out.survivors), vec![1, 2]);
        assert_ne!(out.system_peer, 3, "the best merit is not enough");
        assert!(out.offset.abs() < 1e-4, "{}", out.offset);
        // Three that disagree by about their jitter all stay.
        for (x, d) in c.iter_mut().zip([0.0, 2e-4, 5e-4]) {
            x.offset = d;
        }
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.survivors.len(), 3);
        // Two never go below two.
        let out = s.select(c.get(..2).unwrap(), None, &SelectConfig::default()).unwrap();
        assert_eq!(out.survivors.len(), 2);
    }

    #[test]
    fn test_cluster_stops_when_jitter_cannot_improve() {
        // Peer jitter larger than the spread: no point in dropping anyone.
        let mut c: Vec<Candidate> = (0..6).map(|i| cand(i, 0.0001 * f64::from(i), 0.1, 2)).collect();
        for x in &mut c {
            x.jitter = 0.01;
        }
        let mut s = Selector::new();
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.survivors.len(), 6);
    }

    #[test]
    fn test_survivors_sorted_by_merit() {
        let c = [cand(1, 0.0, 0.05, 3), cand(2, 0.001, 0.09, 2), cand(3, 0.002, 0.01, 2), cand(4, 0.0, 0.001, 4)];
        let mut s = Selector::new();
        let config = SelectConfig { min_cluster: 10, ..SelectConfig::default() };
        let out = s.select(&c, None, &config).unwrap();
        assert_eq!(out.survivors, &[3, 2, 1, 4]);
        assert_eq!(out.truechimers, &[3, 2, 1, 4]);
        assert_eq!(out.system_peer, 3);
    }

    #[test]
    fn test_combine_weights_by_inverse_distance() {
        let c = [cand(1, 0.0, 0.01, 2), cand(2, 0.003, 0.02, 2)];
        let mut s = Selector::new();
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        // w = 100 and 50: (0 · 100 + 0.003 · 50) / 150 = 0.001.
        assert!((out.offset - 0.001).abs() < 1e-15, "{}", out.offset);
        assert_eq!(out.system_peer, 1);
        // ψ_s² = 50 · 0.003² / 150 = 3e-6; Ψ² = ψ_s² + 0.001².
        assert!((out.selection_jitter - 3e-6f64.sqrt()).abs() < 1e-12);
        assert!((out.jitter - (3e-6f64 + 1e-6).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn test_combine_keeps_to_the_system_peers_stratum() {
        // Two stratum-2 servers and a stratum-3 peer that agrees with them
        // but sits 2 ms off: the peer survives but is not averaged in.
        let c = [cand(1, 0.0, 0.01, 2), cand(2, 0.0, 0.01, 2), cand(3, 0.002, 0.005, 3)];
        let mut s = Selector::new();
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.survivors.len(), 3);
        assert!(out.survivors.contains(&3));
        assert_eq!(out.offset, 0.0, "the stratum-3 peer was combined");
    }

    #[test]
    fn test_max_candidates_bounds_cluster() {
        let c: Vec<Candidate> = (0..50).map(|i| cand(i, 1e-5 * f64::from(i), 0.01 + 1e-4 * f64::from(i), 2)).collect();
        let mut s = Selector::new();
        let config = SelectConfig { max_candidates: 5, min_cluster: 10, ..SelectConfig::default() };
        let out = s.select(&c, None, &config).unwrap();
        assert_eq!(out.truechimers.len(), 50);
        assert_eq!(out.survivors, &[0, 1, 2, 3, 4], "only the best five are clustered");
    }

    #[test]
    fn test_system_peer_kept_while_survivor() {
        // Same stratum, the first survivor only 30 % closer: keep the current.
        let c = [cand(1, 0.0, 0.07, 2), cand(2, 0.001, 0.1, 2), cand(3, 0.0005, 0.09, 2)];
        let mut s = Selector::new();
        let config = SelectConfig::default();
        assert_eq!(s.select(&c, None, &config).unwrap().system_peer, 1);
        assert_eq!(s.select(&c, Some(2), &config).unwrap().system_peer, 2, "no clock hopping");
        // More than 50 % closer: switch.
        let c = [cand(1, 0.0, 0.04, 2), cand(2, 0.001, 0.1, 2), cand(3, 0.0005, 0.09, 2)];
        assert_eq!(s.select(&c, Some(2), &config).unwrap().system_peer, 1);
        // A lower stratum: switch.
        let c = [cand(1, 0.0, 0.09, 1), cand(2, 0.001, 0.1, 2), cand(3, 0.0005, 0.09, 2)];
        assert_eq!(s.select(&c, Some(2), &config).unwrap().system_peer, 1);
        // The current one is no longer a candidate: the first survivor.
        let c = [cand(1, 0.0, 0.07, 2), cand(3, 0.0005, 0.09, 2)];
        assert_eq!(s.select(&c, Some(2), &config).unwrap().system_peer, 1);
    }

    #[test]
    fn test_prefer_peer() {
        let mut c = [cand(1, 0.0, 0.01, 2), cand(2, 0.002, 0.05, 2), cand(3, 0.001, 0.04, 2)];
        c[1].prefer = true;
        let mut s = Selector::new();
        let out = s.select(&c, Some(1), &SelectConfig::default()).unwrap();
        assert_eq!(out.system_peer, 2);
        assert_eq!(out.offset, 0.002, "the prefer peer's own offset");
        // A prefer falseticker is still dropped.
        let mut c = [cand(1, 0.0, 0.01, 2), cand(2, 0.5, 0.01, 2), cand(3, 0.001, 0.01, 2)];
        c[1].prefer = true;
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.falsetickers, &[2]);
        assert_ne!(out.system_peer, 2);
    }

    #[test]
    fn test_nan_candidates_are_falsetickers() {
        let c = [
            cand(1, 0.0, 0.01, 2),
            cand(2, f64::NAN, 0.01, 2),
            cand(3, 0.001, f64::INFINITY, 2),
            Candidate { jitter: f64::NAN, ..cand(4, 0.0, 0.01, 2) },
            cand(5, 0.0005, 0.01, 2),
        ];
        let mut s = Selector::new();
        let out = s.select(&c, None, &SelectConfig::default()).unwrap();
        assert_eq!(out.falsetickers, &[2, 3, 4]);
        assert_eq!(sorted(out.truechimers), vec![1, 5]);
    }

    #[test]
    fn test_scales() {
        // 1000 candidates: selection stays fast and finds the majority.
        let c: Vec<Candidate> = (0..1000u32)
            .map(|i| {
                let off = if i % 3 == 0 { 0.5 + f64::from(i) * 1e-4 } else { f64::from(i % 7) * 1e-4 };
                cand(i, off, 0.005, 2 + (i % 4) as u8)
            })
            .collect();
        let mut s = Selector::new();
        let start = std::time::Instant::now();
        for _ in 0..20 {
            let out = s.select(&c, None, &SelectConfig::default()).unwrap();
            assert_eq!(out.falsetickers.len(), 334);
        }
        assert!(start.elapsed().as_secs_f64() < 2.0);
    }

    /// Rows of the HP/DEC accept/reject table (seed 004), each named by its rule.
    #[test]
    fn test_should_switch_rules() {
        let cur = cand(1, 0.0, 0.1, 2);
        let rows: &[(&str, Option<Candidate>, bool, Candidate, bool)] = &[
            ("accept: there is no current time source", None, true, cand(2, 0.0, 0.5, 3), true),
            ("accept: the current source is unreachable", Some(cur), false, cand(2, 0.0, 0.5, 3), true),
            (
                "accept: the current source is not synchronized (stratum 16)",
                Some(cand(1, 0.0, 0.1, 16)),
                true,
                cand(2, 0.0, 0.5, 3),
                true,
            ),
            (
                "accept: the current source is not synchronized (stratum 0)",
                Some(cand(1, 0.0, 0.1, 0)),
                true,
                cand(2, 0.0, 0.5, 3),
                true,
            ),
            ("accept: the new source's stratum is lower", Some(cur), true, cand(2, 0.0, 0.9, 1), true),
            ("accept: same stratum, distance closer by more than 50%", Some(cur), true, cand(2, 0.0, 0.049, 2), true),
            ("keep: same stratum, distance closer by exactly 50%", Some(cur), true, cand(2, 0.0, 0.05, 2), false),
            ("keep: same stratum, distance closer by only 40%", Some(cur), true, cand(2, 0.0, 0.06, 2), false),
            ("keep: same stratum, distance worse", Some(cur), true, cand(2, 0.0, 0.2, 2), false),
            ("reject: the stratum is higher than the current source's", Some(cur), true, cand(2, 0.0, 0.001, 3), false),
            ("reject: the new source is not synchronized (stratum 16)", None, true, cand(2, 0.0, 0.01, 16), false),
            ("reject: the new source is not synchronized (stratum 0)", Some(cur), false, cand(2, 0.0, 0.01, 0), false),
            ("reject: the new source's distance is not a number", None, true, cand(2, 0.0, f64::NAN, 2), false),
            ("keep: the new source is the current one", Some(cur), true, cur, false),
        ];
        for (rule, current, usable, new, expected) in rows {
            assert_eq!(should_switch(current.as_ref(), *usable, new), *expected, "{rule}");
        }
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            6 => -1.0f64..1.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(0.0),
            1 => any::<f64>(),
        ]
    }

    fn any_candidate() -> impl Strategy<Value = Candidate> {
        (any_f64(), any_f64(), any_f64(), 0u8..20, any::<bool>()).prop_map(
            |(offset, root_distance, jitter, stratum, prefer)| Candidate {
                id: 0,
                offset,
                root_distance,
                jitter,
                stratum,
                prefer,
            },
        )
    }

    fn config() -> impl Strategy<Value = SelectConfig> {
        (0usize..5, 0usize..6, 0usize..12).prop_map(|(min_sane, min_cluster, max_candidates)| SelectConfig {
            min_sane,
            min_cluster,
            max_candidates,
        })
    }

    proptest! {
        #[test]
        fn prop_select_invariants(
            mut c in proptest::collection::vec(any_candidate(), 0..30),
            current in proptest::option::of(0u32..35),
            config in config(),
        ) {
            for (i, x) in c.iter_mut().enumerate() {
                x.id = i as u32;
            }
            let mut s = Selector::new();
            if let Ok(out) = s.select(&c, current, &config) {
                for id in out.survivors {
                    prop_assert!(out.truechimers.contains(id), "survivor {id} is a truechimer");
                }
                for id in out.falsetickers {
                    prop_assert!(!out.truechimers.contains(id), "{id} both");
                }
                prop_assert_eq!(out.truechimers.len() + out.falsetickers.len(), c.len());
                prop_assert!(!out.survivors.is_empty());
                prop_assert!(out.survivors.contains(&out.system_peer));
                prop_assert!(out.truechimers.len() >= config.min_sane.max(1));
                prop_assert!(out.survivors.len() <= config.max_candidates.max(1));
            }
        }

        #[test]
        fn prop_agreeing_majority_survives(
            center in -1.0f64..1.0,
            agreeing in proptest::collection::vec((-1e-3f64..1e-3, 0.01f64..0.05, 1u8..4, 0.0f64..0.002), 1..12),
            others in proptest::collection::vec((0.2f64..5.0, any::<bool>(), 0.0f64..0.1, 1u8..4), 0..11),
            current in proptest::option::of(0u32..25),
        ) {
            // `agreeing` all contain `center`; the others sit clear of every
            // agreeing interval. With the agreeing ones a strict majority,
            // they must be exactly the truechimers.
            prop_assume!(2 * agreeing.len() > agreeing.len() + others.len());
            let mut c = Vec::new();
            for (i, &(d, rd, stratum, jitter)) in agreeing.iter().enumerate() {
                c.push(Candidate { id: i as u32, offset: center + d, root_distance: rd, jitter, stratum, prefer: false });
            }
            for (j, &(gap, above, rd, stratum)) in others.iter().enumerate() {
                // Clear of [center - 0.051, center + 0.051] by the gap.
                let edge = 0.051 + gap + rd;
                let offset = if above { center + edge } else { center - edge };
                c.push(Candidate { id: 100 + j as u32, offset, root_distance: rd, jitter: 0.001, stratum, prefer: false });
            }
            let mut s = Selector::new();
            let out = s.select(&c, current, &SelectConfig::default()).unwrap();
            let mut want: Vec<u32> = (0..agreeing.len() as u32).collect();
            want.sort_unstable();
            prop_assert_eq!(sorted(out.truechimers), want);
            prop_assert!(out.system_peer < 100);
            prop_assert!((out.offset - center).abs() <= 1e-3 + 1e-12);
        }

        #[test]
        fn prop_far_source_is_falseticker(
            center in -0.5f64..0.5,
            spread in proptest::collection::vec((-5e-4f64..5e-4, 0.005f64..0.05), 3..8),
            stratum in 1u8..3,
            sign in any::<bool>(),
        ) {
            // Three or more agree; one 200 ms away with a tiny distance (and a
            // low stratum) is out-voted.
            let mut c: Vec<Candidate> = spread
                .iter()
                .enumerate()
                .map(|(i, &(d, rd))| cand(i as u32, center + d, rd, 3))
                .collect();
            let far = center + if sign { 0.2 } else { -0.2 };
            c.push(cand(99, far, 1e-4, stratum));
            let mut s = Selector::new();
            let out = s.select(&c, Some(99), &SelectConfig::default()).unwrap();
            prop_assert_eq!(out.falsetickers, &[99]);
            prop_assert_ne!(out.system_peer, 99);
        }
    }
}
