"""Corrective-action checks: what a scan's results say must be fixed.

Each check turns the newest results of a device (merged over its
collection methods by :func:`merge`) into :class:`Finding` rows:

* ``no-answer``: no collection method got an answer;
* ``unsynchronized``: leap indicator 3 (alarm);
* ``stratum-16``: stratum 16 (or 0 from a device that is not a reference clock);
* ``few-sources``: fewer usable sources than the design's ``min_sources`` (default 3);
* ``reach``: a source whose reach register is below 377 (octal);
* ``unauthenticated``: a source without authentication where the design expects it;
* ``not-in-design``: synchronized to (or associated with) something not in the design records;
* ``missing-design-source``: a design server or peer the device does not have;
* ``stratum-design``: a stratum other than the design's;
* ``falseticker``: the device's time differs from ours by more than ``offset_limit``,
  or the device marks a source as a falseticker;
* ``baseline``: offset, delay or dispersion outside the baseline band;
* ``leap-pending``: a leap second announced.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

from ntp_py.monitor.baseline import BASELINE_VARIABLES, Baseline, baseline_for
from ntp_py.monitor.model import DeviceResult, PeerRow
from ntp_py.monitor.seed import Device, Seed
from ntp_py.monitor.store import Store

__all__ = ["DeviceView", "Finding", "merge", "run_checks", "peer_key", "USABLE_TALLIES"]

#: Variables judged on both sides of their band (the rest only above it).
TWO_SIDED = ("cntpPeersOffset", "monitorOffset")

#: Tallies of sources that survive selection (ntpq's ``*``, ``+``, ``#``, ``o``).
USABLE_TALLIES = ("*", "+", "#", "o")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One corrective action for one device (``peer`` empty if system-wide)."""

    device: str
    area: str
    severity: str
    check: str
    message: str
    peer: str = ""


@dataclasses.dataclass
class DeviceView:
    """A device's newest state, merged over its methods: system variables
    from mode 6, else SNMP, else mode 3; peers from mode 6, else SNMP; our
    offset and delay to it from mode 3."""

    device: Device
    scanned: Optional[float]
    results: List[DeviceResult]
    system: Optional[DeviceResult]
    peers: List[PeerRow]
    peers_source: str
    offset: Optional[float]
    delay: Optional[float]
    baselines: Dict[Tuple[str, str], Baseline] = dataclasses.field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """Whether any method got an answer."""
        return any(r.ok for r in self.results)


def peer_key(row: PeerRow) -> str:
    """A peer as the design records name it: the address, with ``:PORT`` unless 123."""
    return row.address if row.port == 123 else f"{row.address}:{row.port}"


def merge(device: Device, scanned: Optional[float], results: Sequence[DeviceResult]) -> DeviceView:
    """One view of ``device`` from its newest ``results``."""
    ok = {r.source: r for r in results if r.ok}
    system = ok.get("mode6") or ok.get("snmp") or ok.get("mode3")
    peers_from = ok.get("mode6") or ok.get("snmp")
    mode3 = ok.get("mode3")
    return DeviceView(
        device=device,
        scanned=scanned,
        results=list(results),
        system=system,
        peers=list(peers_from.peers) if peers_from else [],
        peers_source=peers_from.source if peers_from else "",
        offset=mode3.offset if mode3 else None,
        delay=mode3.delay if mode3 else None,
    )


def _in(address: str, design: Sequence[str]) -> bool:
    return address in design or address.split(":")[0] in design and ":" not in address


def _values(view: DeviceView) -> List[Tuple[str, str, float]]:
    out: List[Tuple[str, str, float]] = []
    s = view.system
    if s is not None:
        if s.root_delay is not None:
            out.append(("cntpSysRootDelay", "", s.root_delay))
        if s.root_dispersion is not None:
            out.append(("cntpSysRootDispersion", "", s.root_dispersion))
    for p in view.peers:
        key = peer_key(p)
        for variable, value in (
            ("cntpPeersRootDelay", p.root_delay),
            ("cntpPeersRootDispersion", p.root_dispersion),
            ("cntpPeersOffset", p.offset),
            ("cntpPeersDelay", p.delay),
            ("cntpPeersDispersion", p.dispersion),
        ):
            if value is not None:
                out.append((variable, key, value))
    if view.offset is not None:
        out.append(("monitorOffset", "", view.offset))
    if view.delay is not None:
        out.append(("monitorDelay", "", view.delay))
    return out


def run_checks(seed: Seed, view: DeviceView, store: Optional[Store] = None) -> List[Finding]:
    """Every finding for ``view``; baselines come from ``store``'s history
    before the device's newest scan (none without a store)."""
    d = view.device
    out: List[Finding] = []

    def add(severity: str, check: str, message: str, peer: str = "") -> None:
        out.append(Finding(d.name, d.area, severity, check, message, peer))

    if not view.answered:
        errors = "; ".join(f"{r.source}: {r.error}" for r in view.results) or "not scanned yet"
        add("critical", "no-answer", f"no answer ({errors})")
        return out
    for r in view.results:
        if not r.ok:
            add("warning", "no-answer", f"{r.source} got no answer: {r.error}")
    s = view.system
    design = d.design
    thresholds = seed.thresholds_for(d)
    if s is not None:
        if s.leap == 3:
            add("critical", "unsynchronized", "leap indicator 3 (alarm): the device is not synchronized")
        if s.stratum is not None and (s.stratum >= 16 or (s.stratum == 0 and s.leap == 3)):
            add("critical", "stratum-16", f"stratum {s.stratum}: the device serves no usable time")
        if s.leap in (1, 2):
            add("warning", "leap-pending", f"leap second pending ({'insert' if s.leap == 1 else 'delete'})")
        if design is not None and design.stratum is not None and s.stratum is not None and s.stratum < 16:
            if s.stratum != design.stratum:
                add("warning", "stratum-design", f"stratum {s.stratum}, the design says {design.stratum}")
    if view.offset is not None and abs(view.offset) > thresholds.offset_limit:
        add(
            "critical",
            "falseticker",
            f"its time differs from the monitor's by {view.offset:+.6f} s (limit {thresholds.offset_limit} s)",
        )
    if view.peers_source:
        usable = [p for p in view.peers if p.selection in USABLE_TALLIES]
        wanted = design.min_sources if design is not None else 3
        if len(usable) < wanted:
            add(
                "warning" if usable else "critical",
                "few-sources",
                f"{len(usable)} usable source(s) of {len(view.peers)}, at least {wanted} wanted",
            )
        for p in view.peers:
            key = peer_key(p)
            if p.reach is not None and p.reach != 0o377:
                add("warning", "reach", f"reach {p.reach:o} (below 377)", key)
            if p.selection == "x":
                add("critical", "falseticker", "the device marks this source as a falseticker", key)
            if design is not None and design.authentication and p.authenticated is False:
                add("critical", "unauthenticated", "unauthenticated, but the design expects authentication", key)
        if design is not None:
            expected = list(design.servers) + list(design.peers)
            for p in view.peers:
                key = peer_key(p)
                if not _in(key, expected):
                    severity = "critical" if p.selection == "*" else "warning"
                    add(severity, "not-in-design", "a source the design records do not list", key)
            have = {peer_key(p) for p in view.peers} | {p.address for p in view.peers}
            for e in expected:
                if e not in have:
                    add("warning", "missing-design-source", "in the design records, but not configured", e)
    if design is not None and s is not None and s.leap != 3 and not view.peers_source and s.refid:
        # Mode 3 only: the reference id is all there is (an IPv4 address at stratum 2-15).
        expected = [e.split(":")[0] for e in list(design.servers) + list(design.peers)]
        if s.stratum is not None and 2 <= s.stratum <= 15 and expected and s.refid not in expected:
            add("critical", "not-in-design", f"synchronized to {s.refid}, not to a design source", s.refid)
    if store is not None:
        last = store.last_scan_of(d.name)
        for variable, peer, value in _values(view):
            base = baseline_for(store, d.name, variable, peer, thresholds, before=last)
            view.baselines[(variable, peer)] = base
            verdict = base.judge(value)
            # Less delay or dispersion than usual needs no correction; an
            # offset is wrong in either direction.
            if verdict == "below" and variable not in TWO_SIDED:
                verdict = None
            if verdict is not None and variable in BASELINE_VARIABLES:
                add(
                    "warning",
                    "baseline",
                    f"{variable} {value:+.6f} s is {verdict} its baseline "
                    f"[{base.low or 0.0:+.6f}, {base.high or 0.0:+.6f}] s "
                    f"(median {'n/a' if base.median is None else f'{base.median:+.6f} s'}, {base.samples} scans)",
                    peer,
                )
    return out
