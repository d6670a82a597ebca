"""``ntp_py.monitor``: the NTP management process as a program.

A seed file lists the devices (by area and category, with how to read
them and their design records); scans read them over NTP mode 3, mode 6
and SNMP (CISCO-NTP-MIB) into SQLite; baselines are learned from the
history; reports (critical, interesting, configuration) end in corrective
actions. The command line is ``ntp-py monitor``.
"""

from ntp_py.monitor.baseline import Baseline, compute
from ntp_py.monitor.checks import DeviceView, Finding, merge, run_checks
from ntp_py.monitor.collect import Scan, run_scan, scan_devices
from ntp_py.monitor.model import MIB, DeviceResult, Measurement, PeerRow
from ntp_py.monitor.report import build, render
from ntp_py.monitor.scheduler import run_schedule
from ntp_py.monitor.seed import Design, Device, KeyRef, Seed, SeedError, SnmpRef, Thresholds, load_seed, parse_seed
from ntp_py.monitor.store import Store, StoreError

__all__ = [
    "MIB",
    "Baseline",
    "Design",
    "Device",
    "DeviceResult",
    "DeviceView",
    "Finding",
    "KeyRef",
    "Measurement",
    "PeerRow",
    "Scan",
    "Seed",
    "SeedError",
    "SnmpRef",
    "Store",
    "StoreError",
    "Thresholds",
    "build",
    "compute",
    "load_seed",
    "merge",
    "parse_seed",
    "render",
    "run_checks",
    "run_scan",
    "run_schedule",
    "scan_devices",
]
