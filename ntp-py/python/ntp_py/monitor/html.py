"""A report as one self-contained HTML page: tables, the corrective
actions, and for each device of a critical or interesting report charts of
its offset, delay and root dispersion over time against the baseline band
(matplotlib, the optional extra ``ntp-py[report]``; PNGs embedded as
base64, so the page needs no other file).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Dict, List, Optional, Tuple

from ntp_py.monitor.baseline import compute
from ntp_py.monitor.seed import Thresholds
from ntp_py.monitor.store import Store

__all__ = ["render_html", "CHART_VARIABLES"]

#: What each device's charts show: (variable, title).
CHART_VARIABLES: Tuple[Tuple[str, str], ...] = (
    ("monitorOffset", "offset to the monitor"),
    ("monitorDelay", "delay from the monitor"),
    ("cntpSysRootDispersion", "root dispersion"),
)

_STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #999;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:2px 6px;font-size:.85em}
th{background:#eee}.critical{background:#f8c8c8}.warning{background:#fbeec0}.ok{background:#d6f0d6}
.device{margin:1em 0;padding:.5em;border:1px solid #ccc}.charts img{width:32%;margin-right:1%}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _ms(v: Any) -> str:
    return "-" if v is None else f"{float(v) * 1e3:+.3f} ms"


def _chart(store: Store, device: str, variable: str, title: str, band: Optional[Dict[str, Any]]) -> Optional[str]:
    try:
        # The optional extra ntp-py[report]; without it the page has no charts.
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    history = store.history(device, variable)
    if not history:
        return None
    import datetime

    first = history[0][1]
    since = datetime.datetime.fromtimestamp(first, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    # Seconds since the first scan: a plain axis, whatever the span.
    times = [t - first for _, t, _ in history]
    values = [v * 1e3 for _, _, v in history]
    # The band the newest value was judged against (from the report, with
    # the device's thresholds), else one from all scans before it.
    if band is None:
        b = compute(variable, "", [v for _, _, v in history[:-1]], Thresholds())
        band = {"low": b.low, "high": b.high, "median": b.median, "trusted": b.trusted}
    fig, ax = plt.subplots(figsize=(4.2, 2.6), dpi=90)
    low, high, median = band.get("low"), band.get("high"), band.get("median")
    if low is not None and high is not None:
        label = "baseline band" if band.get("trusted") else "baseline band (learning)"
        ax.axhspan(float(low) * 1e3, float(high) * 1e3, color="#8fd18f", alpha=0.35, label=label)
    if median is not None:
        ax.axhline(float(median) * 1e3, color="#2a7a2a", linewidth=0.8, label="median")
    ax.plot(times, values, marker="o", markersize=3, color="#1f4e9a", linewidth=1, label=variable)
    ax.set_xlabel(f"seconds since {since}", fontsize=7)
    ax.set_title(f"{device}: {title}", fontsize=9)
    ax.set_ylabel("ms", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(report: Dict[str, Any], store: Optional[Store]) -> str:
    """The page for ``report`` (charts from ``store`` when given)."""
    kind = str(report["kind"])
    out: List[str] = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>NTP {_e(kind)} report</title><style>{_STYLE}</style></head><body>",
        f"<h1>NTP {_e(kind)} report</h1><p>Generated {_e(report['generated'])} from {_e(report['seed'])}.</p>",
    ]
    checks = report["checks"]
    out.append(f"<h2>Corrective actions ({len(checks)})</h2>")
    if checks:
        out.append("<table><tr><th>severity</th><th>area</th><th>device</th><th>check</th><th>peer</th><th>what</th></tr>")
        for c in checks:
            out.append(
                f"<tr class='{_e(c['severity'])}'><td>{_e(c['severity'])}</td><td>{_e(c['area'])}</td>"
                f"<td>{_e(c['device'])}</td><td>{_e(c['check'])}</td><td>{_e(c['peer'])}</td><td>{_e(c['message'])}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='ok'>Nothing to correct.</p>")
    charts_missing = False
    for area in report["areas"]:
        out.append(f"<h2>Area {_e(area['area'])}</h2>")
        for d in area["devices"]:
            severities = {c["severity"] for c in d["checks"]}
            cls = "critical" if "critical" in severities else ("warning" if severities else "ok")
            out.append(f"<div class='device'><h3 class='{cls}'>{_e(d['name'])} ({_e(d['address'])})</h3>")
            out.append(
                "<table><tr><th>stratum</th><th>leap</th><th>refid</th><th>system peer</th><th>root delay</th>"
                "<th>root dispersion</th><th>offset (measured)</th><th>delay (measured)</th><th>scanned</th></tr>"
                f"<tr><td>{_e(d['stratum'])}</td><td>{_e(d['leap'])}</td><td>{_e(d['refid'])}</td>"
                f"<td>{_e(d['system_peer'])}</td><td>{_ms(d['root_delay_s'])}</td><td>{_ms(d['root_dispersion_s'])}</td>"
                f"<td>{_ms(d['offset_s'])}</td><td>{_ms(d['delay_s'])}</td><td>{_e(d['scanned'])}</td></tr></table>"
            )
            if d["peers"]:
                out.append(
                    "<table><tr><th></th><th>peer</th><th>stratum</th><th>refid</th><th>reach</th><th>offset</th>"
                    "<th>delay</th><th>dispersion</th><th>auth</th></tr>"
                )
                for p in d["peers"]:
                    out.append(
                        f"<tr><td>{_e(p['tally'])}</td><td>{_e(p['peer'])}</td><td>{_e(p['stratum'])}</td>"
                        f"<td>{_e(p['refid'])}</td><td>{_e(p['reach'])}</td><td>{_ms(p['offset_s'])}</td>"
                        f"<td>{_ms(p['delay_s'])}</td><td>{_ms(p['dispersion_s'])}</td>"
                        f"<td>{'yes' if p['authenticated'] else 'no' if p['authenticated'] is False else '-'}</td></tr>"
                    )
                out.append("</table>")
            if d.get("design"):
                ds = d["design"]
                out.append(
                    f"<p>Design: servers {_e(', '.join(ds['servers']) or '-')}; peers {_e(', '.join(ds['peers']) or '-')}; "
                    f"stratum {_e(ds['stratum'] or '-')}; authentication {'expected' if ds['authentication'] else 'not expected'}.</p>"
                )
            if d["checks"]:
                out.append("<ul>")
                for c in d["checks"]:
                    peer = f" [{_e(c['peer'])}]" if c["peer"] else ""
                    out.append(f"<li class='{_e(c['severity'])}'>{_e(c['check'])}{peer}: {_e(c['message'])}</li>")
                out.append("</ul>")
            if store is not None and kind != "configuration":
                images = []
                for variable, title in CHART_VARIABLES:
                    band = next((b for b in d["baselines"] if b["variable"] == variable and not b["peer"]), None)
                    png = _chart(store, str(d["name"]), variable, title, band)
                    if png is None:
                        charts_missing = charts_missing or not _have_matplotlib()
                        continue
                    images.append(f"<img alt='{_e(d['name'])} {_e(title)}' src='data:image/png;base64,{png}'>")
                if images:
                    out.append("<div class='charts'>" + "".join(images) + "</div>")
            out.append("</div>")
    if "peers" in report:
        out.append("<h2>By peer</h2><table><tr><th>peer</th><th>used by</th></tr>")
        for p in report["peers"]:
            users = ", ".join(
                _e(u["device"]) + ("" if u["in_design"] else " <b>(not in design)</b>") + (" <b>(missing)</b>" if u.get("missing") else "")
                for u in p["devices"]
            )
            out.append(f"<tr><td>{_e(p['peer'])}</td><td>{users}</td></tr>")
        out.append("</table>")
    if charts_missing:
        out.append("<p>Charts need matplotlib: <code>pip install 'ntp-py[report]'</code>.</p>")
    out.append("</body></html>")
    return "\n".join(out)


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True
