"""Fixtures: chronyd on loopback (never touching the system clock) and a
scripted fake server for the replies chronyd will not send."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List, NamedTuple, NoReturn, Optional, Tuple, Union

import pytest
from hypothesis import settings

import ntp_py

CHRONYD = os.environ.get("CHRONYD", "/usr/sbin/chronyd")

# The same keys in both dialects: chrony tags its hex, ntpd does not.
KEYS = [
    (1, "MD5", "3132333435363738393031323334353637383930"),
    (2, "AES128", "000102030405060708090A0B0C0D0E0F"),
    (3, "SHA1", "933F62BE1D604E68A81B557F18CFA200483F5B70"),
    (4, "SHA256", "6B86B273FF34FCE19D6B804EFF5A3F5747ADA4EAA22F1D49C01E52DDB7875B4B"),
]


class Chronyd(NamedTuple):
    port: int
    keyfile: Path
    directory: Path


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def in_ci() -> bool:
    return os.environ.get("CI", "") in ("true", "1")


def missing(what: str) -> "NoReturn":
    """Skips a test that needs ``what``; under CI=true a missing tool is a
    failure, so a suite that cannot run never passes quietly."""
    if in_ci():
        pytest.fail(f"CI=true: {what}")
    pytest.skip(what)


def _start_chronyd(extra: str) -> Iterator[Chronyd]:
    if not os.path.exists(CHRONYD):
        missing(f"{CHRONYD} is not installed (set CHRONYD=/path)")
    directory = Path(tempfile.mkdtemp(prefix="ntp-py-chronyd-"))
    keyfile = directory / "chrony.keys"
    keyfile.write_text("".join(f"{i} {t} HEX:{h}\n" for i, t, h in KEYS))
    port = free_udp_port()
    conf = directory / "chrony.conf"
    conf.write_text(
        f"local stratum 1\nallow 127.0.0.0/8\nport {port}\nbindaddress 127.0.0.1\ncmdport 0\n"
        f"keyfile {keyfile}\ndriftfile {directory}/drift\npidfile {directory}/chronyd.pid\n{extra}"
    )
    log = open(directory / "log", "wb")
    # -x: never touch the clock; -d: stay in the foreground so we own the PID.
    proc = subprocess.Popen([CHRONYD, "-d", "-x", "-u", "root", "-f", str(conf)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                ntp_py.query("127.0.0.1", port, timeout=0.2)
                break
            except ntp_py.NtpError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"chronyd did not start: {(directory / 'log').read_text(errors='replace')}"
                    ) from None
                time.sleep(0.1)
        yield Chronyd(port, keyfile, directory)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def chronyd() -> Iterator[Chronyd]:
    """chronyd serving its own clock at stratum 1 on a free loopback port."""
    yield from _start_chronyd("")


Responder = Callable[[ntp_py.Packet], List[bytes]]


class FakeServer:
    """A loopback UDP server answering each request with what `respond` returns."""

    def __init__(self, respond: Responder, delay: float = 0.0) -> None:
        self.respond = respond
        self.delay = delay
        # Monotonic arrival time of every request.
        self.arrivals: List[float] = []
        # Where each request came from.
        self.senders: List[Tuple[str, int]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(1024)
            except socket.timeout:
                continue
            except OSError:
                return
            self.arrivals.append(time.monotonic())
            self.senders.append(addr)
            replies = self.respond(ntp_py.Packet.parse(data))
            if self.delay:
                # Answer later from a timer, so requests overlap as they would
                # over a slow network.
                threading.Timer(self.delay, self._send, (replies, addr)).start()
            else:
                self._send(replies, addr)

    def _send(self, replies: List[bytes], addr: Tuple[str, int]) -> None:
        for reply in replies:
            try:
                self.sock.sendto(reply, addr)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    servers: List[FakeServer] = []

    def make(respond: Responder, delay: float = 0.0) -> FakeServer:
        server = FakeServer(respond, delay)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def server_reply(
    request: ntp_py.Packet,
    *,
    stratum: int = 2,
    leap: int = 0,
    mode: int = 4,
    reference_id: Union[ipaddress.IPv4Address, str, bytes, int, None] = None,
    origin: Optional[ntp_py.NtpTimestamp] = None,
    zero_receive: bool = False,
) -> bytes:
    """A well-formed server reply to `request`, with one thing changed."""
    now = ntp_py.NtpTimestamp.now()
    packet = ntp_py.Packet(
        leap=leap,
        mode=mode,
        stratum=stratum,
        poll=6,
        precision=-20,
        root_delay=0.001,
        root_dispersion=0.002,
        reference_id=reference_id if reference_id is not None else "GPS" if stratum == 1 else ipaddress.IPv4Address("192.0.2.7"),
        reference_time=now,
        origin_time=origin if origin is not None else request.transmit_time,
        receive_time=None if zero_receive else now,
        transmit_time=now,
    )
    return packet.to_bytes()


def pair_addr(server: FakeServer) -> Tuple[str, int]:
    return ("127.0.0.1", server.port)


# No example database in the source tree, and no per-example deadline: the
# machine running the suite may be busy, and a slow example is not a bug.
settings.register_profile("ntp-py", database=None, deadline=None)
settings.load_profile("ntp-py")


class EngineServer:
    """ntp-algo's engine (through :class:`ntp_py.Engine`) serving on a
    loopback port from a thread: time at ``local_stratum`` and mode 6 to
    loopback, with one configured server that never answers (192.0.2.1, a
    documentation address; nothing is sent there). The mode 6 tests run
    against it without any daemon installed."""

    def __init__(self, keyring: Optional[ntp_py.Keyring] = None, stratum: int = 3) -> None:
        now = ntp_py.NtpTimestamp.now()
        self.engine = ntp_py.Engine(local_stratum=stratum, keyring=keyring, rate_limit_burst=16, now=now)
        self.engine.add_server("192.0.2.1", now=now)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                self.engine.handle_timeout(ntp_py.NtpTimestamp.now())
                self._drain()
                continue
            except OSError:
                return
            self.engine.handle_datagram(ntp_py.NtpTimestamp.now(), addr, data)
            self._drain()

    def _drain(self) -> None:
        while True:
            out = self.engine.poll_output()
            if isinstance(out, ntp_py.TimeoutAt):
                return
            if isinstance(out, ntp_py.Transmit) and out.destination[0].startswith("127."):
                self.sock.sendto(out.data, out.destination)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def engine_server() -> Iterator[EngineServer]:
    server = EngineServer()
    yield server
    server.close()
