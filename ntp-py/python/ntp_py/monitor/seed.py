"""The seed file: which devices to watch, how, and what their design says.

A TOML file (see ``seed-example.toml`` next to this module). Secrets are only
ever named by reference (a key file plus a key id, an SNMP credential
file), so a seed file can be shown and reports never carry a secret.

Errors carry the line number: TOML syntax errors come with one from the
parser; for a semantic error (a missing address, an unknown category) the
parser gives no position, so the text is scanned for the ``[[device]]``
header of the offending table and the line of the offending key in it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

__all__ = [
    "CATEGORIES",
    "METHODS",
    "Design",
    "Device",
    "KeyRef",
    "Seed",
    "SeedError",
    "SnmpRef",
    "Thresholds",
    "load_seed",
    "parse_seed",
]

#: The white paper's three device categories, most watched first.
CATEGORIES: Tuple[str, ...] = ("critical", "interesting", "all")
#: How a device can be read.
METHODS: Tuple[str, ...] = ("mode3", "mode6", "snmp")
#: Default scan intervals per category, seconds (hourly, daily, monthly).
DEFAULT_INTERVALS: Dict[str, float] = {"critical": 3600.0, "interesting": 86400.0, "all": 30 * 86400.0}


class SeedError(ValueError):
    """A seed file that cannot be used; ``line`` is 1-based (0: unknown)."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


@dataclasses.dataclass(frozen=True)
class KeyRef:
    """A symmetric key by reference: the key file and the id in it."""

    file: str
    id: int


@dataclasses.dataclass(frozen=True)
class SnmpRef:
    """How to reach a device's SNMP agent. ``credentials`` names a TOML
    file holding ``version = "2c"`` and ``community``, or ``version = "3"``
    and ``user``, ``auth_protocol``, ``auth_key``, ``priv_protocol``,
    ``priv_key``."""

    credentials: str
    port: int = 161


@dataclasses.dataclass(frozen=True)
class Design:
    """The design record: what the device should be synchronized to."""

    servers: Tuple[str, ...] = ()
    peers: Tuple[str, ...] = ()
    stratum: Optional[int] = None
    authentication: bool = False
    min_sources: int = 3


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """How baselines are made and judged (seed ``[thresholds]``, overridable per device).

    ``low_percentile``/``high_percentile`` bound the band, ``margin`` (s)
    widens it (so a perfectly quiet history does not flag noise),
    ``min_samples`` scans are needed before a baseline is trusted, and
    ``limits`` are fixed bands per variable that replace the learned one."""

    min_samples: int = 5
    low_percentile: float = 5.0
    high_percentile: float = 95.0
    margin: float = 0.002
    offset_limit: float = 0.128
    limits: Tuple[Tuple[str, float, float], ...] = ()

    def limit(self, variable: str) -> Optional[Tuple[float, float]]:
        """The fixed band for ``variable`` if the seed file gives one."""
        for name, low, high in self.limits:
            if name == variable:
                return (low, high)
        return None


@dataclasses.dataclass(frozen=True)
class Device:
    """One device of the seed file."""

    name: str
    address: str
    area: str
    category: str
    collect: Tuple[str, ...]
    line: int
    ntp_port: int = 123
    control_port: int = 123
    #: The local address to send this device's requests from (overrides
    #: ``[monitor] source``; e.g. the station's address in a management network).
    source: str = ""
    key: Optional[KeyRef] = None
    snmp: Optional[SnmpRef] = None
    design: Optional[Design] = None
    thresholds: Optional[Thresholds] = None

    def in_category(self, category: str) -> bool:
        """Whether a scan of ``category`` includes this device: ``all``
        takes every device, the others take their own."""
        return category == "all" or self.category == category


@dataclasses.dataclass(frozen=True)
class Seed:
    """A validated seed file."""

    path: str
    database: str
    concurrency: int
    timeout: float
    retries: int
    #: The local address NTP and mode 6 requests are sent from ("": the
    #: system's choice). A monitoring station with several addresses
    #: names the one the devices' access lists allow.
    source: str
    intervals: Mapping[str, float]
    thresholds: Thresholds
    devices: Tuple[Device, ...]

    def select(self, category: str) -> List[Device]:
        """The devices a scan of ``category`` covers, in seed order."""
        return [d for d in self.devices if d.in_category(category)]

    def device(self, name: str) -> Optional[Device]:
        """The device called ``name``."""
        for d in self.devices:
            if d.name == name:
                return d
        return None

    def thresholds_for(self, device: Device) -> Thresholds:
        """The device's thresholds, else the seed file's."""
        return device.thresholds if device.thresholds is not None else self.thresholds

    def resolve(self, reference: str) -> str:
        """A path from the seed file, relative to the seed file's directory."""
        if os.path.isabs(reference):
            return reference
        return os.path.join(os.path.dirname(os.path.abspath(self.path)), reference)


_HEADER = re.compile(r"^\s*\[\[\s*device\s*\]\]\s*(#.*)?$")
_TABLE = re.compile(r"^\s*\[")


class _Locator:
    """Maps ``[[device]]`` tables and their keys back to line numbers."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.devices = [i + 1 for i, line in enumerate(self.lines) if _HEADER.match(line)]

    def device(self, index: int) -> int:
        return self.devices[index] if 0 <= index < len(self.devices) else 0

    def key(self, index: int, key: str, table: str = "") -> int:
        """The line of ``key`` inside device ``index`` (or its sub-table
        ``[device.TABLE]``, or an inline ``TABLE = { key = ... }``)."""
        start = self.device(index)
        if not start:
            return self.top(key)
        end = self.devices[index + 1] - 1 if index + 1 < len(self.devices) else len(self.lines)
        pattern = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=")
        inline = re.compile(rf"{re.escape(key)}\s*=")
        section = ""
        for n in range(start, end):
            line = self.lines[n]
            if _TABLE.match(line):
                m = re.match(r"^\s*\[\s*device\.([A-Za-z_]+)", line)
                section = m.group(1) if m else "?"
                if table and section == table and not key:
                    return n + 1
                continue
            if table:
                if section == table and pattern.match(line):
                    return n + 1
                if section == "" and re.match(rf"^\s*{re.escape(table)}\s*=", line) and inline.search(line):
                    return n + 1
            elif section == "" and pattern.match(line):
                return n + 1
        return start

    def top(self, key: str) -> int:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n, line in enumerate(self.lines):
            if pattern.match(line):
                return n + 1
        return 0

    def table(self, name: str) -> int:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(name)}\s*\]")
        for n, line in enumerate(self.lines):
            if pattern.match(line):
                return n + 1
        return 0


_SECRET_KEYS = ("secret", "community", "password", "auth_key", "priv_key", "passphrase")


class _Reader:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.where = _Locator(text)

    def fail(self, line: int, message: str) -> SeedError:
        return SeedError(self.path, line, message)

    def thresholds(self, raw: Any, line_of: Any, base: Thresholds) -> Thresholds:
        if not isinstance(raw, dict):
            raise self.fail(line_of(""), "thresholds must be a table")
        known = {"min_samples", "low_percentile", "high_percentile", "margin", "offset_limit", "limits"}
        for k in raw:
            if k not in known:
                raise self.fail(line_of(k), f"unknown threshold {k!r} (known: {', '.join(sorted(known))})")
        values: Dict[str, Any] = dataclasses.asdict(base)
        values["limits"] = base.limits
        for k in ("min_samples",):
            if k in raw:
                v = raw[k]
                if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                    raise self.fail(line_of(k), f"{k} must be a whole number of at least 1")
                values[k] = v
        for k in ("low_percentile", "high_percentile", "margin", "offset_limit"):
            if k in raw:
                v = raw[k]
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise self.fail(line_of(k), f"{k} must be a non-negative number")
                values[k] = float(v)
        if not 0 <= values["low_percentile"] < values["high_percentile"] <= 100:
            raise self.fail(line_of("high_percentile"), "percentiles must satisfy 0 <= low < high <= 100")
        if "limits" in raw:
            limits = raw["limits"]
            if not isinstance(limits, dict):
                raise self.fail(line_of("limits"), "limits must be a table of VARIABLE = [low, high]")
            out: List[Tuple[str, float, float]] = []
            from ntp_py.monitor.model import MIB

            for name, band in limits.items():
                if name not in MIB:
                    raise self.fail(line_of("limits"), f"limits: unknown variable {name!r}")
                ok = (
                    isinstance(band, list)
                    and len(band) == 2
                    and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in band)
                )
                if not ok or float(band[0]) > float(band[1]):
                    raise self.fail(line_of("limits"), f"limits.{name} must be [low, high] with low <= high")
                out.append((name, float(band[0]), float(band[1])))
            values["limits"] = tuple(out)
        return Thresholds(**values)

    def device(self, index: int, raw: Any, base: Thresholds, names: Dict[str, int]) -> Device:
        line = self.where.device(index)
        if not isinstance(raw, dict):
            raise self.fail(line, "each [[device]] must be a table")

        def at(key: str, table: str = "") -> int:
            return self.where.key(index, key, table)

        known = {
            "name", "address", "area", "category", "collect", "ntp_port", "control_port",
            "source", "key", "snmp", "design", "thresholds",
        }  # fmt: skip
        for k in raw:
            if k in _SECRET_KEYS:
                raise self.fail(at(k), f"{k!r}: secrets do not belong in the seed file; name a key or credential file")
            if k not in known:
                raise self.fail(at(k), f"unknown device setting {k!r} (known: {', '.join(sorted(known))})")
        for k in ("name", "address", "area"):
            if k not in raw:
                raise self.fail(line, f"device needs {k!r}")
            if not isinstance(raw[k], str) or not raw[k].strip():
                raise self.fail(at(k), f"{k} must be a non-empty string")
        name = str(raw["name"])
        if name in names:
            raise self.fail(at("name"), f"device {name!r} is already defined at line {names[name]}")
        names[name] = line
        category = raw.get("category", "all")
        if category not in CATEGORIES:
            raise self.fail(at("category"), f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
        collect_raw = raw.get("collect", ["mode3"])
        if isinstance(collect_raw, str):
            collect_raw = [collect_raw]
        if not isinstance(collect_raw, list) or not collect_raw:
            raise self.fail(at("collect"), "collect must be a non-empty list of " + ", ".join(METHODS))
        for m in collect_raw:
            if m not in METHODS:
                raise self.fail(at("collect"), f"unknown collection method {m!r} (known: {', '.join(METHODS)})")
        ports: Dict[str, int] = {}
        for k in ("ntp_port", "control_port"):
            v = raw.get(k, 123)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 65535:
                raise self.fail(at(k), f"{k} must be a port number (1-65535)")
            ports[k] = v
        key: Optional[KeyRef] = None
        if "key" in raw:
            k = raw["key"]
            if not isinstance(k, dict) or set(k) - {"file", "id"} or "file" not in k or "id" not in k:
                for s in _SECRET_KEYS:
                    if isinstance(k, dict) and s in k:
                        raise self.fail(at(s, "key") or at("key"), "key: give the key file and id, never the secret")
                raise self.fail(at("key"), "key must be { file = \"PATH\", id = N }")
            if not isinstance(k["file"], str) or not isinstance(k["id"], int) or isinstance(k["id"], bool):
                raise self.fail(at("key"), "key.file must be a string and key.id a number")
            key = KeyRef(k["file"], int(k["id"]))
        snmp: Optional[SnmpRef] = None
        if "snmp" in raw:
            s = raw["snmp"]
            if isinstance(s, dict):
                for secret in _SECRET_KEYS:
                    if secret in s:
                        raise self.fail(
                            at(secret, "snmp"), f"snmp.{secret}: put SNMP secrets in the credentials file"
                        )
            if not isinstance(s, dict) or "credentials" not in s or set(s) - {"credentials", "port"}:
                raise self.fail(at("snmp"), "snmp must be { credentials = \"FILE\", port = N }")
            port = s.get("port", 161)
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                raise self.fail(at("port", "snmp"), "snmp.port must be a port number (1-65535)")
            snmp = SnmpRef(str(s["credentials"]), port)
        if "snmp" in collect_raw and snmp is None:
            raise self.fail(at("collect"), "collect has \"snmp\" but the device has no snmp = { credentials = ... }")
        design: Optional[Design] = None
        if "design" in raw:
            d = raw["design"]
            dline = at("", "design") or at("design")
            if not isinstance(d, dict):
                raise self.fail(dline, "design must be a table")
            dknown = {"servers", "peers", "stratum", "authentication", "min_sources"}
            for k in d:
                if k not in dknown:
                    raise self.fail(at(k, "design"), f"unknown design setting {k!r} (known: {', '.join(sorted(dknown))})")
            lists: Dict[str, Tuple[str, ...]] = {}
            for k in ("servers", "peers"):
                v = d.get(k, [])
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise self.fail(at(k, "design"), f"design.{k} must be a list of addresses")
                lists[k] = tuple(v)
            stratum = d.get("stratum")
            if stratum is not None and (not isinstance(stratum, int) or isinstance(stratum, bool) or not 1 <= stratum <= 15):
                raise self.fail(at("stratum", "design"), "design.stratum must be 1-15")
            auth = d.get("authentication", False)
            if not isinstance(auth, bool):
                raise self.fail(at("authentication", "design"), "design.authentication must be true or false")
            min_sources = d.get("min_sources", 3)
            if not isinstance(min_sources, int) or isinstance(min_sources, bool) or min_sources < 0:
                raise self.fail(at("min_sources", "design"), "design.min_sources must be a whole number")
            design = Design(lists["servers"], lists["peers"], stratum, auth, min_sources)
        thresholds: Optional[Thresholds] = None
        if "thresholds" in raw:
            thresholds = self.thresholds(raw["thresholds"], lambda k: at(k, "thresholds"), base)
        source = raw.get("source", "")
        try:
            if source:
                ipaddress.ip_address(source)
        except ValueError:
            source = None
        if not isinstance(source, str):
            raise self.fail(at("source"), "source must be an IP address of this host")
        address = str(raw["address"])
        try:
            ipaddress.ip_address(address)
        except ValueError:
            if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", address):
                raise self.fail(at("address"), f"address {address!r} is neither an IP address nor a host name") from None
        return Device(
            name=name,
            address=address,
            area=str(raw["area"]),
            category=str(category),
            collect=tuple(str(m) for m in collect_raw),
            line=line,
            ntp_port=ports["ntp_port"],
            control_port=ports["control_port"],
            source=source,
            key=key,
            snmp=snmp,
            design=design,
            thresholds=thresholds,
        )


def parse_seed(text: str, path: str = "<seed>") -> Seed:
    """Validates seed-file ``text``; raises :class:`SeedError` with the line."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise SeedError(path, int(m.group(1)) if m else 0, f"not valid TOML: {e}") from None
    reader = _Reader(path, text)
    where = reader.where
    for k in raw:
        if k not in ("monitor", "intervals", "thresholds", "device"):
            raise SeedError(path, where.top(k) or where.table(k), f"unknown top-level setting {k!r}")
    monitor = raw.get("monitor", {})
    if not isinstance(monitor, dict):
        raise SeedError(path, where.top("monitor"), "monitor must be a table")
    mknown = {"database", "concurrency", "timeout", "retries", "source"}
    for k in monitor:
        if k not in mknown:
            raise SeedError(path, where.top(k), f"unknown [monitor] setting {k!r} (known: {', '.join(sorted(mknown))})")
    database = monitor.get("database", "monitor.sqlite")
    if not isinstance(database, str) or not database:
        raise SeedError(path, where.top("database"), "database must be a file name")
    concurrency = monitor.get("concurrency", 64)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise SeedError(path, where.top("concurrency"), "concurrency must be a whole number of at least 1")
    timeout = monitor.get("timeout", 2.0)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise SeedError(path, where.top("timeout"), "timeout must be a positive number of seconds")
    retries = monitor.get("retries", 1)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise SeedError(path, where.top("retries"), "retries must be a whole number of at least 0")
    source = monitor.get("source", "")
    try:
        if source:
            ipaddress.ip_address(source)
    except ValueError:
        source = None
    if not isinstance(source, str):
        raise SeedError(path, where.top("source"), "source must be an IP address of this host")
    intervals = dict(DEFAULT_INTERVALS)
    raw_intervals = raw.get("intervals", {})
    if not isinstance(raw_intervals, dict):
        raise SeedError(path, where.top("intervals"), "intervals must be a table")
    for k, v in raw_intervals.items():
        if k not in CATEGORIES:
            raise SeedError(path, where.top(k), f"intervals: unknown category {k!r} (known: {', '.join(CATEGORIES)})")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            raise SeedError(path, where.top(k), f"intervals.{k} must be a positive number of seconds")
        intervals[k] = float(v)
    base = Thresholds()
    if "thresholds" in raw:
        base = reader.thresholds(raw["thresholds"], lambda k: where.top(k) if k else where.table("thresholds"), base)
    raw_devices = raw.get("device", [])
    if not isinstance(raw_devices, list):
        raise SeedError(path, where.top("device"), "devices are written as [[device]] tables")
    names: Dict[str, int] = {}
    devices = tuple(reader.device(i, d, base, names) for i, d in enumerate(raw_devices))
    if not devices:
        raise SeedError(path, 0, "no [[device]] tables: nothing to monitor")
    return Seed(path, database, concurrency, float(timeout), retries, source, intervals, base, devices)


def load_seed(path: str) -> Seed:
    """Reads and validates the seed file at ``path``."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SeedError(path, 0, f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise SeedError(path, 0, f"not UTF-8: {e}") from None
    return parse_seed(text, path)


def device_names(devices: Sequence[Device]) -> List[str]:
    """The names of ``devices``, in order."""
    return [d.name for d in devices]
