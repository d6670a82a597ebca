"""The white paper's three reports, with the corrective-action checks.

* ``critical``: the critical devices, by area and device: state, sources,
  values against their baselines, and the checks;
* ``interesting``: the same for the interesting devices;
* ``configuration``: every device against its design records, grouped by
  area and device and, for the sources, by peer (which devices use it).

:func:`build` makes a plain dictionary (the JSON format); :func:`render`
turns it into text, CSV or JSON; :mod:`ntp_py.monitor.html` into HTML.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from typing import Any, Dict, List, Optional, Sequence

from ntp_py.monitor.checks import DeviceView, Finding, merge, peer_key, run_checks
from ntp_py.monitor.seed import Device, Seed
from ntp_py.monitor.store import Store

__all__ = ["KINDS", "FORMATS", "build", "render", "views"]

KINDS = ("critical", "interesting", "configuration")
FORMATS = ("text", "csv", "json", "html")


def _when(t: Optional[float]) -> str:
    if t is None:
        return "never"
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def views(seed: Seed, store: Store, devices: Sequence[Device]) -> List[DeviceView]:
    """The newest merged view of each device."""
    out = []
    for d in devices:
        scanned, results = store.latest(d.name)
        out.append(merge(d, scanned, results))
    return out


def _device_record(view: DeviceView, findings: List[Finding]) -> Dict[str, Any]:
    d = view.device
    s = view.system
    record: Dict[str, Any] = {
        "name": d.name,
        "address": d.address,
        "area": d.area,
        "category": d.category,
        "methods": list(d.collect),
        "scanned": _when(view.scanned),
        "answered": view.answered,
        "errors": {r.source: r.error for r in view.results if not r.ok},
        "leap": s.leap if s else None,
        "stratum": s.stratum if s else None,
        "refid": s.refid if s else "",
        "system_peer": s.system_peer if s else "",
        "root_delay_s": s.root_delay if s else None,
        "root_dispersion_s": s.root_dispersion if s else None,
        "offset_s": view.offset,
        "delay_s": view.delay,
        "peers_source": view.peers_source,
        "peers": [
            {
                "peer": peer_key(p),
                "tally": p.selection,
                "stratum": p.stratum,
                "refid": p.refid,
                "reach": f"{p.reach:o}" if p.reach is not None else None,
                "offset_s": p.offset,
                "delay_s": p.delay,
                "dispersion_s": p.dispersion,
                "authenticated": p.authenticated,
            }
            for p in view.peers
        ],
        "baselines": [
            {
                "variable": b.variable,
                "peer": b.peer,
                "samples": b.samples,
                "median": b.median,
                "low": b.low,
                "high": b.high,
                "trusted": b.trusted,
                "fixed": b.fixed,
            }
            for b in view.baselines.values()
        ],
        "checks": [{"severity": f.severity, "check": f.check, "peer": f.peer, "message": f.message} for f in findings],
    }
    if d.design is not None:
        record["design"] = {
            "servers": list(d.design.servers),
            "peers": list(d.design.peers),
            "stratum": d.design.stratum,
            "authentication": d.design.authentication,
            "min_sources": d.design.min_sources,
        }
    return record


def build(seed: Seed, store: Store, kind: str, *, now: Optional[float] = None) -> Dict[str, Any]:
    """The ``kind`` report as a dictionary (see the module docs)."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r} (known: {', '.join(KINDS)})")
    devices = seed.select("all") if kind == "configuration" else [d for d in seed.devices if d.category == kind]
    areas: Dict[str, List[Dict[str, Any]]] = {}
    checks: List[Dict[str, Any]] = []
    by_peer: Dict[str, List[Dict[str, Any]]] = {}
    for view in views(seed, store, devices):
        findings = run_checks(seed, view, store)
        if kind == "configuration":
            findings = [
                f
                for f in findings
                if f.check
                in (
                    "not-in-design", "missing-design-source", "stratum-design", "unauthenticated",
                    "few-sources", "no-answer", "unsynchronized", "stratum-16",
                )
            ]  # fmt: skip
        record = _device_record(view, findings)
        areas.setdefault(view.device.area, []).append(record)
        for f in findings:
            checks.append({"device": f.device, "area": f.area, "severity": f.severity, "check": f.check,
                           "peer": f.peer, "message": f.message})  # fmt: skip
        if kind == "configuration":
            expected = set(view.device.design.servers + view.device.design.peers) if view.device.design else set()
            for p in view.peers:
                key = peer_key(p)
                by_peer.setdefault(key, []).append(
                    {"device": view.device.name, "tally": p.selection, "in_design": key in expected or p.address in expected}
                )
            system = view.system
            if not view.peers_source and system is not None and system.leap != 3 and system.refid:
                # Mode 3 only: the reference id is the one source we know of.
                refid = system.refid
                if system.stratum is not None and 2 <= system.stratum <= 15:
                    by_peer.setdefault(refid, []).append(
                        {"device": view.device.name, "tally": "refid", "in_design": refid in expected or not expected}
                    )
                continue
            for e in sorted(expected):
                if e not in {peer_key(p) for p in view.peers} and e not in {p.address for p in view.peers}:
                    by_peer.setdefault(e, []).append({"device": view.device.name, "tally": "", "in_design": True,
                                                      "missing": True})  # fmt: skip
    order = {"critical": 0, "warning": 1}
    checks.sort(key=lambda c: (order.get(str(c["severity"]), 2), str(c["area"]), str(c["device"])))
    report: Dict[str, Any] = {
        "kind": kind,
        "generated": _when(now),
        "seed": seed.path,
        "areas": [{"area": a, "devices": areas[a]} for a in sorted(areas)],
        "checks": checks,
    }
    if kind == "configuration":
        report["peers"] = [{"peer": k, "devices": by_peer[k]} for k in sorted(by_peer)]
    return report


def _num(v: Any, scale: float = 1e3, unit: str = "ms") -> str:
    if v is None:
        return "-"
    return f"{float(v) * scale:+.3f} {unit}"


def _text(report: Dict[str, Any]) -> str:
    lines = [f"{report['kind']} report, {report['generated']}  (seed {report['seed']})", ""]
    for area in report["areas"]:
        lines.append(f"== area {area['area']}")
        for d in area["devices"]:
            state = "no answer" if not d["answered"] else (
                f"stratum {d['stratum']}  leap {d['leap']}  refid {d['refid']}  "
                f"root delay {_num(d['root_delay_s'])}  root disp {_num(d['root_dispersion_s'])}"
            )  # fmt: skip
            lines.append(f"  {d['name']} ({d['address']}, {d['category']}, {'+'.join(d['methods'])}): {state}")
            if d["offset_s"] is not None:
                lines.append(f"    measured offset {_num(d['offset_s'])}  delay {_num(d['delay_s'])}")
            if d.get("design"):
                ds = d["design"]
                lines.append(
                    f"    design: servers {', '.join(ds['servers']) or '-'}; peers {', '.join(ds['peers']) or '-'}; "
                    f"stratum {ds['stratum'] or '-'}; authentication {'yes' if ds['authentication'] else 'no'}"
                )
            for p in d["peers"]:
                lines.append(
                    f"    {p['tally'] or ' '}{p['peer']:<22} st {p['stratum']}  reach {p['reach']}  "
                    f"offset {_num(p['offset_s'])}  delay {_num(p['delay_s'])}  disp {_num(p['dispersion_s'])}"
                    + ("  auth" if p["authenticated"] else "")
                )
            for c in d["checks"]:
                where = f" [{c['peer']}]" if c["peer"] else ""
                lines.append(f"    ! {c['severity']}: {c['check']}{where}: {c['message']}")
        lines.append("")
    if "peers" in report:
        lines.append("== by peer")
        for p in report["peers"]:
            users = ", ".join(
                f"{u['device']}{'(' + u['tally'] + ')' if u['tally'].strip() else ''}"
                + ("" if u["in_design"] else " NOT IN DESIGN")
                + (" MISSING" if u.get("missing") else "")
                for u in p["devices"]
            )
            lines.append(f"  {p['peer']}: {users}")
        lines.append("")
    lines.append(f"== corrective actions ({len(report['checks'])})")
    for c in report["checks"]:
        where = f" [{c['peer']}]" if c["peer"] else ""
        lines.append(f"  {c['severity']:<8} {c['area']}/{c['device']}: {c['check']}{where}: {c['message']}")
    return "\n".join(lines) + "\n"


def _csv(report: Dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "area", "device", "peer", "field", "value", "unit"])
    for area in report["areas"]:
        for d in area["devices"]:
            for field, unit in (("stratum", "count"), ("leap", "code"), ("refid", "text"), ("system_peer", "text"),
                                ("root_delay_s", "s"), ("root_dispersion_s", "s"), ("offset_s", "s"), ("delay_s", "s")):  # fmt: skip
                w.writerow(["device", area["area"], d["name"], "", field, "" if d[field] is None else d[field], unit])
            for p in d["peers"]:
                for field, unit in (("tally", "text"), ("stratum", "count"), ("reach", "octal"), ("offset_s", "s"),
                                    ("delay_s", "s"), ("dispersion_s", "s"), ("authenticated", "bool")):  # fmt: skip
                    w.writerow(["peer", area["area"], d["name"], p["peer"], field, "" if p[field] is None else p[field], unit])
    for c in report["checks"]:
        w.writerow(["check", c["area"], c["device"], c["peer"], f"{c['severity']}:{c['check']}", c["message"], ""])
    return out.getvalue()


def render(report: Dict[str, Any], fmt: str, store: Optional[Store] = None) -> str:
    """``report`` as ``text``, ``csv``, ``json`` or ``html`` (charts need ``store``)."""
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    if fmt == "csv":
        return _csv(report)
    if fmt == "text":
        return _text(report)
    if fmt == "html":
        from ntp_py.monitor.html import render_html

        return render_html(report, store)
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
