"""``monitor run``: each category scanned at its own interval from the
seed file (critical hourly, interesting daily, all devices monthly by
default), every scan stored as it completes.

The loop is driven by an injectable clock and sleep so tests can run it
without waiting; ``once`` scans each category a single time, ``duration``
stops the loop after that many seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Dict, List, Optional, Tuple

from ntp_py.monitor.collect import scan_devices
from ntp_py.monitor.seed import CATEGORIES, Seed
from ntp_py.monitor.store import Store

__all__ = ["run_schedule"]


async def run_schedule(
    seed: Seed,
    store: Store,
    *,
    once: bool = False,
    duration: Optional[float] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    wall: Callable[[], float] = time.time,
    on_scan: Optional[Callable[[str, int, int], None]] = None,
) -> List[Tuple[str, int]]:
    """Runs the schedule; returns (category, scan id) of every scan made.

    ``on_scan(category, scan_id, failures)`` is called after each scan."""
    start = clock()
    due: Dict[str, float] = {c: start for c in CATEGORIES}
    # A category without devices of its own is not scanned ("all" always has some).
    due = {c: t for c, t in due.items() if c == "all" or any(d.category == c for d in seed.devices)}
    done: List[Tuple[str, int]] = []
    while due:
        category = min(due, key=lambda c: (due[c], CATEGORIES.index(c)))
        wait = due[category] - clock()
        if duration is not None and (due[category] - start) >= duration:
            break
        if wait > 0:
            await sleep(wait)
        started = wall()
        results = await scan_devices(seed, seed.select(category))
        scan_id = store.save(started, category, results)
        done.append((category, scan_id))
        if on_scan is not None:
            on_scan(category, scan_id, sum(1 for r in results if not r.ok))
        if once:
            del due[category]
        else:
            due[category] += seed.intervals[category]
    return done
