"""Every scan in one SQLite file, so history survives restarts.

The schema is versioned (``PRAGMA user_version``) and brought up to date
by the ordered :data:`MIGRATIONS` when a file is opened: an old file is
migrated in place, a file from a newer version is refused.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ntp_py.monitor.model import MIB, DeviceResult, PeerRow

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Store", "StoreError"]

#: Migration n (1-based) brings a file from version n-1 to version n.
MIGRATIONS: Tuple[str, ...] = (
    # 1: scans, the per-(device, method) outcome, and every value.
    """
    CREATE TABLE scans (id INTEGER PRIMARY KEY, started REAL NOT NULL, category TEXT NOT NULL);
    CREATE TABLE results (
        scan_id INTEGER NOT NULL REFERENCES scans(id), device TEXT NOT NULL, source TEXT NOT NULL,
        ok INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '');
    CREATE TABLE measurements (
        scan_id INTEGER NOT NULL REFERENCES scans(id), device TEXT NOT NULL, source TEXT NOT NULL,
        variable TEXT NOT NULL, peer TEXT NOT NULL DEFAULT '', value REAL, text TEXT NOT NULL DEFAULT '',
        unit TEXT NOT NULL, mib TEXT NOT NULL);
    """,
    # 2: the whole result as JSON (reports rebuild peers from it), and an
    # index for the baseline's per-device, per-variable history.
    """
    ALTER TABLE results ADD COLUMN data TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX measurements_by_variable ON measurements(device, variable, peer, scan_id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be used (newer schema, not SQLite)."""


def _result_from_json(text: str) -> Optional[DeviceResult]:
    try:
        raw: Dict[str, Any] = json.loads(text)
        peers = [PeerRow(**p) for p in raw.pop("peers", [])]
        return DeviceResult(peers=peers, **raw)
    except (ValueError, TypeError):
        return None


class Store:
    """One monitor database."""

    def __init__(self, path: str) -> None:
        try:
            self.db = sqlite3.connect(path)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path}: {e}") from None
        self.path = path

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the file."""
        self.db.close()

    def version(self) -> int:
        """The file's schema version."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.version()
        if current > SCHEMA_VERSION:
            raise StoreError(f"schema version {current} is newer than this program's {SCHEMA_VERSION}")
        for number in range(current, SCHEMA_VERSION):
            with self.db:
                self.db.executescript(f"BEGIN; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;")

    def save(self, started: float, category: str, results: Sequence[DeviceResult]) -> int:
        """Stores one scan; returns its id."""
        with self.db:
            cursor = self.db.execute("INSERT INTO scans (started, category) VALUES (?, ?)", (started, category))
            scan_id = int(cursor.lastrowid or 0)
            for r in results:
                self.db.execute(
                    "INSERT INTO results (scan_id, device, source, ok, error, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (scan_id, r.device, r.source, int(r.ok), r.error, json.dumps(dataclasses.asdict(r))),
                )
                self.db.executemany(
                    "INSERT INTO measurements (scan_id, device, source, variable, peer, value, text, unit, mib) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (scan_id, m.device, m.source, m.variable, m.peer, m.value, m.text, m.unit, MIB[m.variable][1])
                        for m in r.measurements()
                    ],
                )
        return scan_id

    def scans(self) -> List[Tuple[int, float, str]]:
        """Every scan: (id, started, category), oldest first."""
        return [(int(a), float(b), str(c)) for a, b, c in self.db.execute("SELECT id, started, category FROM scans ORDER BY id")]

    def latest(self, device: str) -> Tuple[Optional[float], List[DeviceResult]]:
        """The most recent scan's results for ``device`` and when it ran."""
        row = self.db.execute(
            "SELECT MAX(scan_id) FROM results WHERE device = ?", (device,)
        ).fetchone()
        if row is None or row[0] is None:
            return None, []
        scan_id = int(row[0])
        started = float(self.db.execute("SELECT started FROM scans WHERE id = ?", (scan_id,)).fetchone()[0])
        out = []
        for (data,) in self.db.execute(
            "SELECT data FROM results WHERE scan_id = ? AND device = ? ORDER BY rowid", (scan_id, device)
        ):
            r = _result_from_json(str(data))
            if r is not None:
                out.append(r)
        return started, out

    def history(
        self, device: str, variable: str, peer: str = "", *, before: Optional[int] = None, source: str = ""
    ) -> List[Tuple[int, float, float]]:
        """(scan id, scan time, value) of ``variable`` for ``device``, oldest
        first; only scans before scan id ``before`` when given."""
        sql = (
            "SELECT m.scan_id, s.started, m.value FROM measurements m JOIN scans s ON s.id = m.scan_id "
            "WHERE m.device = ? AND m.variable = ? AND m.peer = ? AND m.value IS NOT NULL"
        )
        args: List[Any] = [device, variable, peer]
        if before is not None:
            sql += " AND m.scan_id < ?"
            args.append(before)
        if source:
            sql += " AND m.source = ?"
            args.append(source)
        sql += " ORDER BY m.scan_id"
        return [(int(a), float(b), float(c)) for a, b, c in self.db.execute(sql, args)]

    def last_scan_of(self, device: str) -> Optional[int]:
        """The id of the newest scan that covered ``device``."""
        row = self.db.execute("SELECT MAX(scan_id) FROM results WHERE device = ?", (device,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def rows(self) -> List[Dict[str, Any]]:
        """Every measurement with its scan time, unit and MIB name (for export)."""
        cursor = self.db.execute(
            "SELECT m.scan_id, s.started, s.category, m.device, m.source, m.variable, m.peer, m.value, m.text, "
            "m.unit, m.mib FROM measurements m JOIN scans s ON s.id = m.scan_id ORDER BY m.scan_id, m.rowid"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    def export(self, fmt: str) -> str:
        """Every measurement as ``csv`` or ``json`` text."""
        rows = self.rows()
        for r in rows:
            r["mib_oid"] = f"1.3.6.1.4.1.9.9.168.{r['mib']}" if r["mib"] else ""
        if fmt == "json":
            return json.dumps(rows, indent=1)
        out = io.StringIO()
        fields = ["scan_id", "started", "category", "device", "source", "variable", "peer", "value", "text", "unit", "mib_oid"]
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
