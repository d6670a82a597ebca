"""Mode 6 from Python: ControlClient and AsyncControlClient against
ntp-algo's engine on loopback, and against a scripted responder for the
answers a healthy server does not give (errors, garbage, silence)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
import threading
import time
from typing import Callable, Iterator, List, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ntp_py
from ntp_py import (
    AsyncControlClient,
    ControlClient,
    ControlError,
    ControlSession,
    Key,
    Keyring,
    Leap,
    MalformedResponse,
    NtpError,
    ServerError,
    Timeout,
)

from conftest import EngineServer

KEY = Key(7, "SHA1", bytes(range(20)))


def test_system_variables_of_the_engine(engine_server: EngineServer) -> None:
    with ControlClient("127.0.0.1", engine_server.port, timeout=3) as client:
        system = client.system()
    assert system.stratum == 3
    assert system.leap == Leap.NO_WARNING
    assert system.version is not None and system.version.startswith("ntp-algo")
    assert system.precision is not None and -30 < system.precision < 0
    assert system.poll == 6
    # Units: ntpd sends milliseconds, the record holds seconds.
    assert system.root_dispersion is not None and 0 <= system.root_dispersion < 0.1
    assert system.clock is not None and abs(system.clock.unix - time.time()) < 5
    raw = dict(system.raw)
    assert raw["stratum"] == "3"
    assert system.as_dict() == raw
    assert system.skipped == 0
    assert system.status_leap == Leap.NO_WARNING
    assert "stratum=3" in repr(system)


def test_peers_of_the_engine(engine_server: EngineServer) -> None:
    with ControlClient("127.0.0.1", engine_server.port, timeout=3) as client:
        peers = client.peers()
    assert len(peers) == 1
    peer = peers[0]
    assert peer.association_id >= 1
    assert peer.address == ipaddress.IPv4Address("192.0.2.1")
    assert peer.port == 123
    assert peer.configured and not peer.reachable
    assert peer.tally == " "
    assert peer.reach == 0 and peer.stratum == 16 and peer.hmode == 3
    assert peer.hpoll == 6
    # An unreachable peer's dispersion is the maximum, 16 s.
    assert peer.dispersion == pytest.approx(16.0)
    assert len(peer.filter_dispersion) == 8
    assert peer.as_dict()["srcadr"] == "192.0.2.1"


def test_mrulist_lists_time_and_control_clients(engine_server: EngineServer) -> None:
    ntp_py.query("127.0.0.1", engine_server.port, timeout=3)
    with ControlClient("127.0.0.1", engine_server.port, timeout=3) as client:
        client.system()
        entries = client.mrulist()
    modes = {e.mode for e in entries}
    assert {3, 6} <= modes, entries
    for e in entries:
        assert e.address == ipaddress.IPv4Address("127.0.0.1")
        assert e.version == 4 and e.count >= 1
        assert e.last - e.first >= 0
        assert abs(e.last.unix - time.time()) < 60
    control = [e for e in entries if e.mode == 6][0]
    assert control.count >= 2  # system() and the MRU requests so far
    # Oldest first.
    lasts = [e.last.unix for e in entries]
    assert lasts == sorted(lasts)


def test_async_client_gives_the_same_answers(engine_server: EngineServer) -> None:
    async def main() -> None:
        async with AsyncControlClient("127.0.0.1", engine_server.port, timeout=3) as client:
            system, peers = await client.system(), await client.peers()
            # Calls on one client are ordered by its lock.
            both = await asyncio.gather(client.system(), client.mrulist())
        assert system.stratum == 3
        assert [p.address for p in peers] == [ipaddress.IPv4Address("192.0.2.1")]
        assert isinstance(both[0], ntp_py.SystemVariables) and both[1]

    asyncio.run(main())


def test_signed_requests_and_a_wrong_key() -> None:
    server = EngineServer(keyring=Keyring([KEY]))
    try:
        with ControlClient("127.0.0.1", server.port, key=KEY, timeout=3) as client:
            assert client.system().stratum == 3
        wrong = Key(7, "SHA1", bytes(20))
        with ControlClient("127.0.0.1", server.port, key=wrong, timeout=3) as client:
            with pytest.raises((ntp_py.AuthenticationError, ServerError)):
                client.system()
    finally:
        server.close()


class Scripted:
    """A mode 6 responder on loopback answering with ``respond(request)``."""

    def __init__(self, respond: Callable[[bytes], List[bytes]]) -> None:
        self.respond = respond
        self.requests: List[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            self.requests.append(data)
            for reply in self.respond(data):
                self.sock.sendto(reply, addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[bytes], List[bytes]]], Scripted]]:
    made: List[Scripted] = []

    def make(respond: Callable[[bytes], List[bytes]]) -> Scripted:
        made.append(Scripted(respond))
        return made[-1]

    yield make
    for s in made:
        s.close()


def response(request: bytes, data: bytes = b"", *, error: Optional[int] = None, status: int = 0) -> bytes:
    """A one-fragment response to ``request`` (RFC 9327 header)."""
    opcode = request[1] & 0x1F
    sequence, _, association = struct.unpack("!HHH", request[2:8])
    flags = 0x80 | (0x40 if error is not None else 0)
    if error is not None:
        status = error << 8
    body = data + bytes(-len(data) % 4)
    return struct.pack("!BBHHHHH", 0x16, flags | opcode, sequence, status, association, 0, len(data)) + body


def test_error_status_raises_server_error_with_the_code(scripted: Callable[..., Scripted]) -> None:
    server = scripted(lambda req: [response(req, error=1)])
    with ControlClient("127.0.0.1", server.port, timeout=3) as client:
        with pytest.raises(ServerError, match="permission") as info:
            client.system()
    assert info.value.code == 1
    assert isinstance(info.value, ControlError) and isinstance(info.value, NtpError)


def test_garbled_variables_raise_malformed_response(scripted: Callable[..., Scripted]) -> None:
    server = scripted(lambda req: [response(req, b"stratum=banana\r\n")])
    with ControlClient("127.0.0.1", server.port, timeout=3) as client:
        with pytest.raises(MalformedResponse, match="stratum"):
            client.system()
        # The session is free again for the next call.
        with pytest.raises(MalformedResponse):
            client.system()


def test_stale_and_foreign_datagrams_are_ignored(scripted: Callable[..., Scripted]) -> None:
    def respond(req: bytes) -> List[bytes]:
        stale = bytearray(response(req, b"stratum=9\r\n"))
        stale[2:4] = struct.pack("!H", (struct.unpack("!H", req[2:4])[0] + 100) & 0xFFFF)
        return [b"\x00" * 7, bytes(stale), response(req, b"stratum=4\r\n")]

    server = scripted(respond)
    with ControlClient("127.0.0.1", server.port, timeout=3) as client:
        assert client.system().stratum == 4


def test_silence_times_out(scripted: Callable[..., Scripted]) -> None:
    server = scripted(lambda req: [])
    started = time.monotonic()
    with ControlClient("127.0.0.1", server.port, timeout=0.5) as client:
        with pytest.raises(Timeout, match="within 0.5 s") as info:
            client.system()
    assert 0.4 < time.monotonic() - started < 3
    assert isinstance(info.value, TimeoutError)

    async def main() -> None:
        async with AsyncControlClient("127.0.0.1", server.port, timeout=0.5) as aclient:
            with pytest.raises(Timeout):
                await aclient.peers()

    asyncio.run(main())


def test_the_request_is_sent_again_after_5_s(scripted: Callable[..., Scripted]) -> None:
    # Answer only the second copy: ntpq's retry rule, kept by ntp-algo.
    seen: List[bytes] = []

    def respond(req: bytes) -> List[bytes]:
        seen.append(req)
        return [response(req, b"stratum=5\r\n")] if len(seen) == 2 else []

    server = scripted(respond)
    with ControlClient("127.0.0.1", server.port, timeout=8) as client:
        assert client.system().stratum == 5
    assert len(seen) == 2 and seen[0] == seen[1]


def test_no_server_and_bad_arguments() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ControlClient("127.0.0.1", port, timeout=2) as client:
        with pytest.raises(ControlError, match="connection refused"):
            client.system()
    with pytest.raises(ValueError, match="timeout"):
        ControlClient("127.0.0.1", port, timeout=0)
    with pytest.raises(NtpError, match="cannot resolve"):
        ControlClient("no-such-host.invalid")


def test_session_refuses_a_second_operation() -> None:
    session = ControlSession()
    request = session.begin_system(0.0)
    assert len(request) == 12 and request[0] & 7 == 6
    assert session.deadline == pytest.approx(5.0)
    with pytest.raises(RuntimeError, match="in progress"):
        session.begin_peers(0.0)
    assert session.handle_timeout(1.0) is None
    assert session.handle_timeout(5.0) == request
    with pytest.raises(Timeout):
        session.handle_timeout(10.0)
    assert not session.done and session.deadline is None
    session.begin_peers(11.0)


def _waits(wait: "ntp_py.control._Wait", now: float) -> float:
    """How long ``wait`` says to wait for a datagram at ``now`` (it must
    have nothing to send)."""
    again, seconds = wait.step(now)
    assert again is None and seconds is not None
    return seconds


def test_wait_keeps_the_time_both_clients_share() -> None:
    from ntp_py.control import _Wait

    session = ControlSession()
    request = session.begin_system(0.0)
    wait = _Wait(session, "there", 8.0, 0.0)
    # Until the retry is due, wait for it; at 5 s, send the request again.
    assert _waits(wait, 1.0) == pytest.approx(4.0)
    assert wait.step(5.0) == (request, None)
    assert _waits(wait, 6.0) == pytest.approx(2.0)
    with pytest.raises(Timeout, match="no mode 6 response from there within 8.0 s"):
        wait.step(8.0)
    assert session.deadline is None
    session.begin_peers(9.0)


def test_wait_restarts_the_limit_for_a_new_request() -> None:
    from ntp_py.control import _Wait

    session = ControlSession()
    session.begin_system(0.0)
    wait = _Wait(session, "there", 3.0, 0.0)
    assert _waits(wait, 1.0) == pytest.approx(2.0)
    # Without the restart, 4 s would be past the 3 s limit.
    wait.restart(2.0)
    assert _waits(wait, 4.0) == pytest.approx(1.0)
    with pytest.raises(Timeout, match="within 3.0 s"):
        wait.step(5.0)


def test_wait_ends_when_the_retry_is_unanswered() -> None:
    from ntp_py.control import _Wait

    session = ControlSession()
    session.begin_system(0.0)
    wait = _Wait(session, "there", 60.0, 0.0)
    assert wait.step(5.0)[1] is None
    with pytest.raises(Timeout, match="within 60.0 s"):
        wait.step(10.0)
    session.begin_peers(11.0)


@given(st.binary(max_size=468), st.integers(0, 0xFFFF))
def test_any_response_body_ends_in_a_result_or_an_ntp_error(body: bytes, status: int) -> None:
    session = ControlSession()
    request = session.begin_peers(0.0)
    try:
        out = session.handle_datagram(response(request, body, status=status), 0.1)
    except NtpError:
        assert not session.done
        return
    # READSTAT data: (id, status) pairs; each id is then asked for in turn.
    ids = [struct.unpack("!H", body[i : i + 2])[0] for i in range(0, len(body) - 3, 4)]
    if ids:
        assert out is not None and struct.unpack("!H", out[6:8])[0] == ids[0]
    else:
        assert out is None and session.done and session.take_result() == []


def test_a_cancelled_call_leaves_the_client_usable(scripted: Callable[..., Scripted]) -> None:
    # The first request goes unanswered; later ones are answered.
    def respond(req: bytes) -> List[bytes]:
        return [] if len(server.requests) == 1 else [response(req, b"stratum=6\r\n")]

    server = scripted(respond)

    async def main() -> None:
        async with AsyncControlClient("127.0.0.1", server.port, timeout=3) as client:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.system(), 0.2)
            assert (await client.system()).stratum == 6

    asyncio.run(main())
