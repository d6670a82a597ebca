"""One scan: every selected device, every method it lists, concurrently.

At most ``concurrency`` devices are read at once; each method has its own
timeout and retries; any failure becomes a failed :class:`DeviceResult`
(with the error text) so the rest of the scan is never lost.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Dict, List, Optional, Sequence

from ntp_py import Key, Keyring, NtpError

from ntp_py.monitor.collect_mode3 import collect_mode3
from ntp_py.monitor.collect_mode6 import collect_mode6
from ntp_py.monitor.collect_snmp import SnmpCredentials, SnmpError, collect_snmp, load_credentials
from ntp_py.monitor.control import ControlError
from ntp_py.monitor.model import DeviceResult
from ntp_py.monitor.seed import Device, Seed

__all__ = ["Scan", "scan_devices", "run_scan"]


class Scan:
    """The results of one scan, with when it started (Unix seconds)."""

    def __init__(self, started: float, category: str, results: List[DeviceResult]) -> None:
        self.started = started
        self.category = category
        self.results = results


class _Secrets:
    """Key files and credential files, read once per scan."""

    def __init__(self, seed: Seed) -> None:
        self.seed = seed
        self.rings: Dict[str, Keyring] = {}
        self.snmp: Dict[str, SnmpCredentials] = {}

    def key(self, device: Device) -> Optional[Key]:
        if device.key is None:
            return None
        path = self.seed.resolve(device.key.file)
        if path not in self.rings:
            self.rings[path] = Keyring.from_file(path)
        key = self.rings[path].get(device.key.id)
        if key is None:
            raise NtpError(f"key {device.key.id} is not in {device.key.file}")
        return key

    def credentials(self, device: Device) -> SnmpCredentials:
        if device.snmp is None:
            raise SnmpError("no snmp credentials in the seed file")
        path = self.seed.resolve(device.snmp.credentials)
        if path not in self.snmp:
            self.snmp[path] = load_credentials(path)
        return self.snmp[path]


async def _with_retries(
    device: Device, method: str, attempt: Callable[[], Awaitable[DeviceResult]], retries: int
) -> DeviceResult:
    error = ""
    for _ in range(retries + 1):
        try:
            return await attempt()
        except (NtpError, ControlError, SnmpError, OSError, ValueError) as e:
            error = f"{type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - one device's surprise must not end the scan
            error = f"{type(e).__name__}: {e}"
    return DeviceResult(device=device.name, source=method, ok=False, error=error)


async def scan_devices(
    seed: Seed,
    devices: Sequence[Device],
    *,
    concurrency: Optional[int] = None,
    timeout: Optional[float] = None,
    retries: Optional[int] = None,
) -> List[DeviceResult]:
    """Reads ``devices``; one result per (device, method), in seed order."""
    gate = asyncio.Semaphore(concurrency or seed.concurrency)
    limit = timeout if timeout is not None else seed.timeout
    tries = retries if retries is not None else seed.retries
    secrets = _Secrets(seed)

    async def one(device: Device, method: str) -> DeviceResult:
        async with gate:
            if method == "mode3":

                async def attempt() -> DeviceResult:
                    return await collect_mode3(
                        device.name, device.address, device.ntp_port, key=secrets.key(device), timeout=limit,
                        source=device.source or seed.source,
                    )

            elif method == "mode6":

                async def attempt() -> DeviceResult:
                    return await collect_mode6(
                        device.name, device.address, device.control_port, key=secrets.key(device), timeout=limit,
                        source=device.source or seed.source,
                    )

            else:

                async def attempt() -> DeviceResult:
                    port = device.snmp.port if device.snmp else 161
                    return await collect_snmp(
                        device.name, device.address, port, secrets.credentials(device), timeout=limit
                    )

            return await _with_retries(device, method, attempt, tries)

    jobs = [one(d, m) for d in devices for m in d.collect]
    return list(await asyncio.gather(*jobs))


def run_scan(seed: Seed, category: str, *, timeout: Optional[float] = None, concurrency: Optional[int] = None) -> Scan:
    """Scans the devices of ``category`` (blocking); ``timeout`` (s) and
    ``concurrency`` override the seed file's."""
    started = time.time()
    devices = seed.select(category)
    results = asyncio.run(scan_devices(seed, devices, concurrency=concurrency, timeout=timeout))
    return Scan(started, category, results)
