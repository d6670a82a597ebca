"""``ntp-py monitor``: scan, run, report, baseline, export, check-seed.

Exit status: 0 success (a report with corrective actions is still a
success: it did its job), 1 a scan where some device gave no answer, 2 bad
usage, an invalid seed file or an unusable database.
"""

from __future__ import annotations

import argparse
import asyncio

import sys
import time
from typing import Any, Callable, List, Optional

from ntp_py.monitor.baseline import BASELINE_VARIABLES, baseline_for
from ntp_py.monitor.collect import run_scan
from ntp_py.monitor.report import FORMATS, KINDS, build, render
from ntp_py.monitor.scheduler import run_schedule
from ntp_py.monitor.seed import CATEGORIES, Seed, SeedError, load_seed
from ntp_py.monitor.store import Store, StoreError

__all__ = ["add_monitor_parser", "main"]


def _open(seed: Seed, db: Optional[str]) -> Store:
    return Store(db if db else seed.resolve(seed.database))


def _write(text: str, output: Optional[str]) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def _scan(args: argparse.Namespace) -> int:
    seed = load_seed(args.seed)
    scan = run_scan(seed, args.category, timeout=args.timeout, concurrency=args.concurrency)
    with _open(seed, args.db) as store:
        scan_id = store.save(scan.started, scan.category, scan.results)
    failed = [r for r in scan.results if not r.ok]
    print(f"scan {scan_id}: {args.category}, {len(scan.results)} reads of {len(seed.select(args.category))} devices, "
          f"{len(failed)} without an answer")  # fmt: skip
    for r in failed:
        print(f"  {r.device} {r.source}: {r.error}")
    return 1 if failed else 0


def _run(args: argparse.Namespace) -> int:
    seed = load_seed(args.seed)

    def report(category: str, scan_id: int, failures: int) -> None:
        print(f"{time.strftime('%H:%M:%S')} scan {scan_id}: {category}, {failures} without an answer", flush=True)

    with _open(seed, args.db) as store:
        asyncio.run(run_schedule(seed, store, once=args.once, duration=args.duration, on_scan=report))
    return 0


def _report(args: argparse.Namespace) -> int:
    seed = load_seed(args.seed)
    with _open(seed, args.db) as store:
        report = build(seed, store, args.kind, now=time.time())
        _write(render(report, args.format, store), args.output)
    return 0


def _baseline(args: argparse.Namespace) -> int:
    seed = load_seed(args.seed)
    with _open(seed, args.db) as store:
        for d in seed.devices:
            if args.device and d.name not in args.device:
                continue
            thresholds = seed.thresholds_for(d)
            peers = {""}
            _, results = store.latest(d.name)
            for r in results:
                peers.update(p.address if p.port == 123 else f"{p.address}:{p.port}" for p in r.peers)
            print(f"{d.name} ({d.area}, {d.category})")
            for variable in BASELINE_VARIABLES:
                for peer in sorted(peers):
                    if variable.startswith("cntpPeers") != bool(peer):
                        continue
                    b = baseline_for(store, d.name, variable, peer, thresholds)
                    if b.samples == 0 and not b.fixed:
                        continue
                    status = "fixed" if b.fixed else ("trusted" if b.trusted else f"learning ({thresholds.min_samples} needed)")
                    where = f" {peer}" if peer else ""
                    band = f"[{(b.low or 0) * 1e3:+.3f}, {(b.high or 0) * 1e3:+.3f}] ms" if b.low is not None else "-"
                    median = f"{b.median * 1e3:+.3f} ms" if b.median is not None else "-"
                    print(f"  {variable}{where}: median {median}, band {band}, {b.samples} scans, {status}")
    return 0


def _export(args: argparse.Namespace) -> int:
    seed = load_seed(args.seed)
    with _open(seed, args.db) as store:
        _write(store.export(args.format), args.output)
    return 0


def _check_seed(args: argparse.Namespace) -> int:
    seed = load_seed(args.seed)
    for category in CATEGORIES:
        print(f"{category}: {len(seed.select(category))} devices, every {seed.intervals[category]:g} s")
    return 0


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (SeedError, StoreError) as e:
            print(f"ntp-py monitor: {e}", file=sys.stderr)
            return 2
        except OSError as e:
            print(f"ntp-py monitor: {e}", file=sys.stderr)
            return 2

    return run


def add_monitor_parser(sub: Any) -> None:
    """Adds ``monitor`` to the ``ntp-py`` subcommands (``sub`` from add_subparsers)."""
    m = sub.add_parser(
        "monitor",
        help="watch a fleet: seed file, scans, baselines, reports, corrective actions",
        description="The NTP management process: scan the devices of a seed file (mode 3, mode 6, SNMP), "
        "keep every scan in SQLite, learn baselines, and report with corrective actions.",
    )
    ms = m.add_subparsers(dest="monitor_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("seed", metavar="SEED", help="the seed file (TOML)")
        p.add_argument("--db", help="the SQLite file (default: the seed file's database setting)")

    s = ms.add_parser("scan", help="scan once and store the results")
    common(s)
    s.add_argument("--category", choices=CATEGORIES, default="all", help="which devices (default all)")
    s.add_argument("--timeout", type=float, help="seconds per request (default: the seed file's)")
    s.add_argument("--concurrency", type=int, help="devices read at once (default: the seed file's)")
    s.set_defaults(func=_guard(_scan))

    r = ms.add_parser("run", help="scan each category at its interval from the seed file")
    common(r)
    r.add_argument("--once", action="store_true", help="scan each category once, then stop")
    r.add_argument("--for", dest="duration", type=float, metavar="SECONDS", help="stop after this long")
    r.set_defaults(func=_guard(_run))

    p = ms.add_parser("report", help="the critical, interesting or configuration report")
    common(p)
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--output", "-o", help="write here instead of standard output")
    p.set_defaults(func=_guard(_report))

    b = ms.add_parser("baseline", help="show each device's baselines")
    common(b)
    b.add_argument("--device", action="append", help="only this device (repeatable)")
    b.set_defaults(func=_guard(_baseline))

    e = ms.add_parser("export", help="every stored value as CSV or JSON (with unit and MIB object)")
    common(e)
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    e.add_argument("--output", "-o")
    e.set_defaults(func=_guard(_export))

    c = ms.add_parser("check-seed", help="validate a seed file")
    c.add_argument("seed", metavar="SEED")
    c.set_defaults(func=_guard(_check_seed))


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m ntp_py.monitor.cli``: the monitor commands on their own."""
    parser = argparse.ArgumentParser(prog="ntp-py")
    add_monitor_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
