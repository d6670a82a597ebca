"""Baselines per device and variable, learned from the stored history.

A baseline is the median and a percentile band of a variable's past
values (scans before the one being judged), widened by a margin so a
perfectly quiet history does not flag noise. It is trusted only after
``min_samples`` values. A fixed band from the seed file (``limits``)
replaces the learned one.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence

from ntp_py.monitor.seed import Thresholds
from ntp_py.monitor.store import Store

__all__ = ["BASELINE_VARIABLES", "Baseline", "compute", "percentile", "baseline_for"]

#: The white paper's baseline variables, plus the monitor's own offset and
#: delay to each device (mode 3).
BASELINE_VARIABLES = (
    "cntpSysRootDelay",
    "cntpSysRootDispersion",
    "cntpPeersRootDelay",
    "cntpPeersRootDispersion",
    "cntpPeersOffset",
    "cntpPeersDelay",
    "cntpPeersDispersion",
    "monitorOffset",
    "monitorDelay",
)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation between
    closest ranks; ``sorted_values`` must be sorted and non-empty."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A variable's expected range; ``trusted`` when enough history (or fixed)."""

    variable: str
    peer: str
    samples: int
    median: Optional[float]
    low: Optional[float]
    high: Optional[float]
    trusted: bool
    fixed: bool = False

    def judge(self, value: float) -> Optional[str]:
        """None when ``value`` is inside the band (or the baseline is not
        trusted yet), else ``"above"`` or ``"below"``."""
        if not self.trusted or self.low is None or self.high is None:
            return None
        if value > self.high:
            return "above"
        if value < self.low:
            return "below"
        return None


def compute(variable: str, peer: str, values: Sequence[float], thresholds: Thresholds) -> Baseline:
    """The baseline of ``values`` under ``thresholds``."""
    fixed = thresholds.limit(variable)
    ordered: List[float] = sorted(values)
    median = percentile(ordered, 50) if ordered else None
    if fixed is not None:
        return Baseline(variable, peer, len(ordered), median, fixed[0], fixed[1], True, True)
    if not ordered:
        return Baseline(variable, peer, 0, None, None, None, False)
    low = percentile(ordered, thresholds.low_percentile) - thresholds.margin
    high = percentile(ordered, thresholds.high_percentile) + thresholds.margin
    return Baseline(variable, peer, len(ordered), median, low, high, len(ordered) >= thresholds.min_samples)


def baseline_for(
    store: Store, device: str, variable: str, peer: str, thresholds: Thresholds, *, before: Optional[int] = None
) -> Baseline:
    """The baseline of ``device``'s ``variable`` from scans before ``before``."""
    history = store.history(device, variable, peer, before=before)
    return compute(variable, peer, [v for _, _, v in history], thresholds)
