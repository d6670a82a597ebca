#!/usr/bin/env python3
"""A net-snmp ``pass_persist`` agent extension that serves the
CISCO-NTP-MIB (1.3.6.1.4.1.9.9.168) from an ntp-node status file (the
JSON of its ``--status-file``), so the monitor's SNMP collector can be
tested against a real ``snmpd`` where no router is reachable.

Usage in snmpd.conf:  ``pass_persist .1.3.6.1.4.1.9.9.168 /usr/bin/python3 cntp_pass_persist.py STATUS.json``

The status file is re-read on every request, so the values follow the
node. Served: the cntpSys* scalars (1.1.1-1.1.9, 1.1.11) and the
cntpPeersVarTable columns the monitor reads, indexed by association id.
"""

from __future__ import annotations

import ipaddress
import json
import struct
import sys
from typing import Any, Dict, List, Optional, Tuple

ROOT = (1, 3, 6, 1, 4, 1, 9, 9, 168)
Value = Tuple[str, str]


def _signed(seconds: float) -> str:
    raw = struct.pack("!i", max(-(2**31), min(2**31 - 1, int(round(seconds * 65536)))))
    return " ".join(f"{b:02X}" for b in raw)


def _unsigned(seconds: float) -> str:
    raw = struct.pack("!I", min(2**32 - 1, int(round(max(0.0, seconds) * 65536))))
    return " ".join(f"{b:02X}" for b in raw)


def _octets(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


def _refid(text: str, stratum: int) -> bytes:
    try:
        return ipaddress.IPv4Address(text).packed
    except ValueError:
        return text.strip(".").encode("ascii", "replace")[:4].ljust(4, b"\0")


def _timestamp(ts: Any) -> bytes:
    try:
        seconds, _, fraction = str(ts["ntp"]).partition(".")
        return struct.pack("!II", int(seconds, 16), int(fraction or "0", 16))
    except (KeyError, TypeError, ValueError):
        return bytes(8)


_MODES = {"sym_active": 1, "sym_passive": 2, "client": 3, "bcast_server": 5, "bcast_client": 5}


def table(status: Dict[str, Any]) -> Dict[Tuple[int, ...], Value]:
    """Every OID this agent serves, from a status snapshot."""
    s = status["system"]
    out: Dict[Tuple[int, ...], Value] = {}

    def put(suffix: Tuple[int, ...], kind: str, value: str) -> None:
        out[ROOT + suffix] = (kind, value)

    stratum = int(s["stratum"])
    put((1, 1, 1, 0), "integer", str(int(s["leap"])))
    put((1, 1, 2, 0), "integer", str(stratum))
    put((1, 1, 3, 0), "integer", str(int(s["precision"])))
    put((1, 1, 4, 0), "octet", _signed(float(s["root_delay"])))
    put((1, 1, 5, 0), "octet", _unsigned(float(s["root_dispersion"])))
    put((1, 1, 6, 0), "octet", _octets(_refid(str(s["refid"]), stratum)))
    put((1, 1, 7, 0), "octet", _octets(_timestamp(s["reference_time"])))
    put((1, 1, 8, 0), "integer", str(int(s["poll"])))
    put((1, 1, 9, 0), "integer", str(int(s.get("system_peer_id") or 0)))
    source = str(s.get("source", "none"))
    srv = 3 if not s["synchronized"] else {"local": 4, "peer": 6}.get(source, 1)
    put((1, 1, 11, 0), "integer", str(srv))
    for a in status.get("associations", []):
        index = int(a["id"])
        host, _, port = str(a["address"]).rpartition(":")
        host = host.strip("[]")

        def col(column: int, kind: str, value: str) -> None:
            put((1, 2, 1, 1, column, index), kind, value)

        col(2, "integer", "1" if a.get("configured") else "2")
        col(3, "ipaddress", host)
        col(4, "integer", port or "123")
        col(8, "integer", str(_MODES.get(str(a.get("mode")), 0)))
        col(9, "integer", str(int(a["stratum"])))
        col(13, "octet", _signed(float(a["root_delay"])))
        col(14, "octet", _unsigned(float(a["root_dispersion"])))
        col(15, "octet", _octets(_refid(str(a["refid"]), int(a["stratum"]))))
        col(21, "integer", str(int(a["reach"])))
        if a.get("offset") is not None:
            col(23, "octet", _signed(float(a["offset"])))
        if a.get("delay") is not None:
            col(24, "octet", _signed(float(a["delay"])))
        if a.get("dispersion") is not None:
            col(25, "octet", _unsigned(float(a["dispersion"])))
    return out


def _parse(oid: str) -> Optional[Tuple[int, ...]]:
    try:
        return tuple(int(x) for x in oid.strip().strip(".").split("."))
    except ValueError:
        return None


def answer(command: str, oid_text: str, path: str) -> List[str]:
    """The lines to print for one ``get``/``getnext`` request."""
    oid = _parse(oid_text)
    try:
        with open(path, encoding="utf-8") as f:
            values = table(json.load(f))
    except (OSError, ValueError, KeyError, TypeError):
        return ["NONE"]
    if oid is None:
        return ["NONE"]
    if command == "get":
        found = oid if oid in values else None
    else:
        after = [k for k in values if k > oid]
        found = min(after) if after else None
    if found is None:
        return ["NONE"]
    kind, value = values[found]
    return ["." + ".".join(map(str, found)), kind, value]


def main() -> int:
    path = sys.argv[1]
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        command = line.strip()
        if command == "PING":
            print("PONG", flush=True)
        elif command in ("get", "getnext"):
            oid = sys.stdin.readline()
            print("\n".join(answer(command, oid, path)), flush=True)
        elif command == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            print("not-writable", flush=True)
        elif command == "":
            continue
        else:
            print("NONE", flush=True)


if __name__ == "__main__":
    sys.exit(main())
