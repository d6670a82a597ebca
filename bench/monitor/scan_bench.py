"""Scale benchmark of ``ntp-py monitor``: a scan of 1,000 devices on
loopback, each read over mode 3 and mode 6.

The devices are served by a few ntp-node processes (10), each listening on
many ports (one port = one device; a node serves mode 3 and mode 6 on the
same port). The scan runs once with the seed file's concurrency (the
figure: devices per second, peak RSS) and once sequentially (concurrency
1); the two must give identical results for every field that does not
change with time (stratum, leap, precision, reference id and time, poll,
the association lists). Prints

    RATIO monitor.scan ours=<devices/s> goal=500 x<ours/500>

Usage: python bench/monitor/scan_bench.py [--devices N] [--processes P]
(NTP_NODE=/path/to/ntp-node, default target/debug or target/release).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Tuple

from ntp_py.monitor import DeviceResult, parse_seed, scan_devices

REPO = Path(__file__).resolve().parents[2]
GOAL = 500.0


def node_binary() -> Path:
    env = os.environ.get("NTP_NODE")
    for c in ([Path(env)] if env else []) + [REPO / "target/release/ntp-node", REPO / "target/debug/ntp-node"]:
        if c.is_file():
            return c
    sys.exit("ntp-node is not built: cargo build -p ntp-node (or set NTP_NODE)")


def free_block(count: int) -> int:
    """A base port with ``count`` consecutive free UDP ports on 127.0.0.1."""
    for base in range(21000, 60000 - count, count + 17):
        socks: List[socket.socket] = []
        try:
            for p in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    sys.exit("no block of free ports")


def stable(r: DeviceResult) -> Tuple[Any, ...]:
    """The fields of a result that must not differ between two scans."""
    peers = tuple((p.address, p.port, p.stratum, p.refid, p.selection) for p in r.peers)
    return (r.device, r.source, r.ok, r.leap, r.stratum, r.precision, r.refid, r.reference_time, r.poll, peers)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    node = node_binary()
    base = free_block(args.devices)
    ports = list(range(base, base + args.devices))
    procs: List[subprocess.Popen[bytes]] = []
    directory = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    try:
        share = (len(ports) + args.processes - 1) // args.processes
        for i in range(args.processes):
            mine = ports[i * share : (i + 1) * share]
            listen = [x for p in mine for x in ("--listen", f"127.0.0.1:{p}")]
            procs.append(
                subprocess.Popen(
                    [str(node), "run", *listen, "--master", "3", "--quiet"],
                    stdout=subprocess.DEVNULL, stderr=open(directory / f"node{i}.log", "wb"),
                )  # fmt: skip
            )
        lines = ["[monitor]", f"concurrency = {args.concurrency}", "timeout = 2.0", "retries = 1", ""]
        for p in ports:
            # ntp-node answers mode 6 from loopback only, with a rate limit
            # per source address (a burst of 64): each device is read from
            # its own loopback address, as devices in many networks would be.
            n = p - base
            lines += ["[[device]]", f'name = "dev{p}"', 'address = "127.0.0.1"', 'area = "bench"',
                      f"ntp_port = {p}", f"control_port = {p}", f'source = "127.1.{n // 250}.{n % 250 + 1}"',
                      'collect = ["mode3", "mode6"]', ""]  # fmt: skip
        seed = parse_seed("\n".join(lines), str(directory / "seed.toml"))
        # Wait until every node answers on its last port.
        deadline = time.monotonic() + 30
        while True:
            probe = asyncio.run(scan_devices(seed, [seed.devices[-1], seed.devices[0]], timeout=0.5, retries=0))
            if all(r.ok for r in probe):
                break
            if time.monotonic() > deadline or any(proc.poll() is not None for proc in procs):
                sys.exit(f"the fixture nodes did not start: {[r.error for r in probe]}")
            time.sleep(0.2)

        rss_before = peak_rss_mib()
        cpu_start = time.process_time()
        start = time.perf_counter()
        fast = asyncio.run(scan_devices(seed, seed.devices))
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        rss = peak_rss_mib()
        start = time.perf_counter()
        slow = asyncio.run(scan_devices(seed, seed.devices, concurrency=1))
        slow_elapsed = time.perf_counter() - start

        failures = [r for r in fast if not r.ok]
        differ = [(a.device, a.source) for a, b in zip(fast, slow) if stable(a) != stable(b)]
        rate = len(seed.devices) / elapsed
        print(f"devices: {len(seed.devices)} (mode 3 + mode 6), served by {args.processes} ntp-node processes")
        print(f"concurrent scan: {elapsed:.3f} s = {rate:.0f} devices/s, concurrency {args.concurrency}")
        print(f"sequential scan: {slow_elapsed:.3f} s = {len(seed.devices) / slow_elapsed:.0f} devices/s")
        print(f"monitor CPU for the concurrent scan: {cpu:.3f} s = {len(seed.devices) / cpu:.0f} devices per CPU-second")
        print(f"peak RSS: {rss:.1f} MiB (before the scans {rss_before:.1f} MiB)")
        print(f"failed reads: {len(failures)}; results differing from the sequential scan: {len(differ)}")
        print(f"RATIO monitor.scan ours={rate:.0f} goal={GOAL:.0f} x{rate / GOAL:.2f}")
        if failures or differ:
            print(f"FAIL: {failures[:3]} {differ[:3]}")
            return 1
        return 0
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    sys.exit(main())
