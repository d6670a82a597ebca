"""Benchmarks against the Python NTP libraries people use, printed as
RATIO lines (how many times longer the other library takes than ntp_py;
above 1 means ntp_py is faster).

* decode: a 48-byte server packet, reading stratum, mode and transmit time,
  against dpkt, ntplib (``NTPPacket.from_data``) and scapy (``NTP(b)``);
* query: one loopback round trip to chronyd, against ntplib's
  ``NTPClient.request`` (which checks nothing but the source address).

Missing comparison libraries or chronyd are reported and skipped.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import timeit
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, Iterator, Optional

import ntp_py

SERVER = bytes.fromhex(
    "240206e9" "00000010" "00000020" "c0000201"
    "eca55e7d34197c1e" "123456789abcdef0" "eca55e801d4c7f2a" "eca55e801d4e8b39"
)
CHRONYD = os.environ.get("CHRONYD", "/usr/sbin/chronyd")


def best_per_call(cases: Dict[str, Callable[[], object]], number: int, repeat: int) -> Dict[str, float]:
    """Seconds per call of each case: the best of `repeat` runs (the least
    disturbed). The cases take turns within each round, so a busy machine
    slows them alike and the ratios stay fair."""
    best = {name: float("inf") for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            best[name] = min(best[name], timeit.timeit(fn, number=number) / number)
    return best


def optional(name: str) -> Optional[ModuleType]:
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"SKIP {name} is not installed")
        return None


def decode_benchmarks() -> Dict[str, Callable[[], object]]:
    def ours() -> object:
        p = ntp_py.Packet.parse(SERVER)
        return (p.stratum, p.mode, p.transmit_time)

    cases: Dict[str, Callable[[], object]] = {"ntp_py": ours}
    dpkt_ntp = optional("dpkt.ntp")
    if dpkt_ntp is not None:
        def dpkt_case() -> object:
            p = dpkt_ntp.NTP(SERVER)
            return (p.stratum, p.mode, p.transmit_time)

        cases["dpkt"] = dpkt_case
    ntplib = optional("ntplib")
    if ntplib is not None:
        def ntplib_case() -> object:
            p = ntplib.NTPPacket()
            p.from_data(SERVER)
            return (p.stratum, p.mode, p.tx_timestamp)

        cases["ntplib"] = ntplib_case
    scapy_ntp = optional("scapy.layers.ntp")
    if scapy_ntp is not None:
        def scapy_case() -> object:
            p = scapy_ntp.NTP(SERVER)
            return (p.stratum, p.mode, p.sent)

        cases["scapy"] = scapy_case
    return cases


def chronyd() -> Iterator[int]:
    """A chronyd on a free loopback port (clock untouched: -x), stopped after."""
    directory = Path(tempfile.mkdtemp(prefix="ntp-py-bench-"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    conf = directory / "chrony.conf"
    conf.write_text(
        f"local stratum 1\nallow 127.0.0.0/8\nport {port}\nbindaddress 127.0.0.1\ncmdport 0\n"
        f"pidfile {directory}/chronyd.pid\n"
    )
    proc = subprocess.Popen(
        [CHRONYD, "-d", "-x", "-u", "root", "-f", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                ntp_py.query("127.0.0.1", port, timeout=0.2)
                break
            except ntp_py.NtpError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chronyd did not start") from None
        yield port
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    cases = decode_benchmarks()
    times = best_per_call(cases, 5_000, repeat=15)
    for name, t in times.items():
        print(f"decode {name:8s} {t * 1e9:9.0f} ns per packet")
    for name, t in times.items():
        if name != "ntp_py":
            print(f"RATIO decode {name}/ntp_py {t / times['ntp_py']:.2f}")

    ntplib = optional("ntplib")
    if ntplib is None or not os.path.exists(CHRONYD):
        print("SKIP query benchmark (needs ntplib and chronyd)")
        return
    for port in chronyd():
        client = ntplib.NTPClient()
        both = best_per_call(
            {
                "ntp_py": lambda: ntp_py.query("127.0.0.1", port, timeout=2),
                "ntplib": lambda: client.request("127.0.0.1", port=port, version=4, timeout=2),
            },
            100,
            repeat=10,
        )
        ours, theirs = both["ntp_py"], both["ntplib"]
        print(f"query  ntp_py   {ours * 1e6:9.1f} us per round trip (validated)")
        print(f"query  ntplib   {theirs * 1e6:9.1f} us per round trip")
        print(f"RATIO query ntplib/ntp_py {theirs / ours:.2f}")


if __name__ == "__main__":
    main()
