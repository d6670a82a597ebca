"""Where the time of bench.py's decode case goes: each step timed on its
own (best of N rounds, nanoseconds per call), next to the cost of the
benchmark's own frame, a function returning a tuple of three attribute
reads of a plain object.

    python ntp-py/bench/pieces.py [ROUNDS]
"""

from __future__ import annotations

import sys
import timeit
from typing import Dict, Tuple

import ntp_py

SERVER = bytes.fromhex(
    "240206e9" "00000010" "00000020" "c0000201"
    "eca55e7d34197c1e" "123456789abcdef0" "eca55e801d4c7f2a" "eca55e801d4e8b39"
)


class _Slots:
    __slots__ = ("a", "b", "c")

    def __init__(self) -> None:
        self.a, self.b, self.c = 1, 2, 3


def _frame(x: _Slots = _Slots()) -> object:
    return (x.a, x.b, x.c)


def _decode() -> object:
    p = ntp_py.Packet.parse(SERVER)
    return (p.stratum, p.mode, p.transmit_time)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    packet = ntp_py.Packet.parse(SERVER)
    cases: Dict[str, Tuple[str, Dict[str, object]]] = {
        "Packet.parse(b)": ("ntp_py.Packet.parse(b)", {"ntp_py": ntp_py, "b": SERVER}),
        ".stratum": ("p.stratum", {"p": packet}),
        ".mode": ("p.mode", {"p": packet}),
        ".transmit_time": ("p.transmit_time", {"p": packet}),
        ".leap": ("p.leap", {"p": packet}),
        ".poll": ("p.poll", {"p": packet}),
        "NtpTimestamp.bits": ("t.bits", {"t": packet.transmit_time}),
        "bench decode case": ("f()", {"f": _decode}),
        "bench frame alone": ("f()", {"f": _frame}),
    }
    number = 20_000
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, (stmt, names) in cases.items():
            best[name] = min(best[name], timeit.timeit(stmt, globals=names, number=number) / number)
    for name, t in best.items():
        print(f"PIECE {name:20s} {t * 1e9:7.1f} ns")


if __name__ == "__main__":
    main()
