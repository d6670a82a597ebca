"""Mode 6 (the ``ntpq`` protocol) from Python: a server's system
variables, its peers and its list of recent clients.

The requests, the reassembly of fragmented responses, the MAC checks and
the reading of the variable lists are done by the Rust side
(:class:`ntp_py.ControlSession`, over ntp-algo's sans-IO client); this
module only moves datagrams and keeps time, once with a blocking socket
(:class:`ControlClient`) and once on an asyncio datagram endpoint
(:class:`AsyncControlClient`). Both have the same methods; the asyncio
ones are coroutines.

A request unanswered for 5 s is sent once more (ntpq's rule); ``timeout``
bounds the wait for each response, retry included.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Callable, List, Optional, Tuple, Type, cast

from ntp_py._ntp_py import (
    ControlError,
    ControlSession,
    Key,
    MruEntry,
    NtpError,
    PeerVariables,
    SystemVariables,
    Timeout,
)

__all__ = ["AsyncControlClient", "ControlClient"]

_MAX_DATAGRAM = 65535


def _check_timeout(timeout: float) -> None:
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")


class _Wait:
    """The I/O-free part of waiting for one exchange, shared by the
    blocking and the asyncio client so both keep time the same way.

    ``limit`` is when the current response is overdue (``timeout`` s
    after the last datagram sent for a new reason); the session's own
    deadline is when the request goes out once more. Times are in
    seconds on the caller's monotonic clock.
    """

    def __init__(self, session: ControlSession, where: str, timeout: float, now: float) -> None:
        self._session = session
        self._where = where
        self._timeout = timeout
        self._limit = now + timeout

    def restart(self, now: float) -> None:
        """A new request went out (the next fragment of a response):
        it gets a full ``timeout`` of its own."""
        self._limit = now + self._timeout

    def step(self, now: float) -> Tuple[Optional[bytes], Optional[float]]:
        """What to do at ``now``: ``(datagram, None)`` to send the request
        again (``datagram`` is None when there is nothing to send) and
        then ask again, or ``(None, seconds)`` to wait that long for a
        datagram. Raises :class:`Timeout` when the wait is over."""
        session = self._session
        if now >= self._limit:
            session.cancel()
            raise self._timed_out()
        due = session.deadline
        if due is not None and now >= due:
            try:
                return session.handle_timeout(now), None
            except Timeout:
                raise self._timed_out() from None
        return None, min(self._limit, due if due is not None else self._limit) - now

    def _timed_out(self) -> Timeout:
        return Timeout(f"no mode 6 response from {self._where} within {self._timeout} s")


class ControlClient:
    """A blocking mode 6 client for one server.

    ``key`` signs every request, and every response must then verify with
    it (ntpd wants a key for some variables and for the MRU list only when
    so configured). ``timeout`` is the wait for each response, in seconds.
    Use it as a context manager, or call :meth:`close`.

    Raises, from every method: :class:`Timeout`, :class:`ServerError` (the
    server answered with an error status, ``.code``),
    :class:`AuthenticationError` (the response does not verify with
    ``key``), :class:`MalformedResponse`, or :class:`ControlError` (no
    server at that address, a socket error).
    """

    def __init__(self, host: str, port: int = 123, *, key: Optional[Key] = None, timeout: float = 10.0) -> None:
        _check_timeout(timeout)
        self.host = host
        self.port = port
        self.timeout = timeout
        self._where = f"{host} port {port}"
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except socket.gaierror as e:
            raise NtpError(f"cannot resolve {host!r}: {e.strerror}") from None
        family, _, _, _, sockaddr = infos[0]
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        # connect() makes the kernel drop datagrams from other addresses.
        self._sock.connect(sockaddr)
        self._session = ControlSession(key)
        self._lock = threading.Lock()

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the socket."""
        self._sock.close()

    def system(self) -> SystemVariables:
        """The server's system variables (``ntpq -c rv``)."""
        return cast(SystemVariables, self._run(self._session.begin_system))

    def peers(self) -> List[PeerVariables]:
        """Every association's variables (``ntpq -p``), in the server's order."""
        return cast(List[PeerVariables], self._run(self._session.begin_peers))

    def mrulist(self) -> List[MruEntry]:
        """The server's recent clients (``ntpq -c mrulist``), oldest first."""
        return cast(List[MruEntry], self._run(self._session.begin_mrulist))

    def _send(self, data: bytes) -> None:
        try:
            self._sock.send(data)
        except OSError as e:
            self._session.cancel()
            raise ControlError(f"{self._where}: {e}") from None

    def _run(self, begin: Callable[[float], bytes]) -> object:
        with self._lock:
            try:
                return self._exchange(begin)
            except BaseException:
                # Whatever ended the wait (an error, Ctrl-C), the session
                # must be free for the next call.
                self._session.cancel()
                raise

    def _exchange(self, begin: Callable[[float], bytes]) -> object:
        session = self._session
        self._send(begin(time.monotonic()))
        wait = _Wait(session, self._where, self.timeout, time.monotonic())
        while not session.done:
            again, seconds = wait.step(time.monotonic())
            if seconds is None:
                if again is not None:
                    self._send(again)
                continue
            self._sock.settimeout(seconds)
            try:
                data = self._sock.recv(_MAX_DATAGRAM)
            except socket.timeout:
                continue
            except ConnectionRefusedError:
                session.cancel()
                raise ControlError(f"{self._where}: connection refused (no NTP server there)") from None
            out = session.handle_datagram(data, time.monotonic())
            if out is not None:
                self._send(out)
                wait.restart(time.monotonic())
        return session.take_result()


class _Queue(asyncio.DatagramProtocol):
    """Queues datagrams (and socket errors) for the coroutine waiting on them."""

    def __init__(self) -> None:
        self.queue: "asyncio.Queue[Tuple[Optional[bytes], Optional[Exception]]]" = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Tuple[object, ...]) -> None:
        self.queue.put_nowait((data, None))

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait((None, exc))


class AsyncControlClient:
    """:class:`ControlClient` for asyncio: the same arguments, errors and
    results, with coroutine methods. The endpoint opens on first use; use
    ``async with``, or call :meth:`close`. Calls on one client run one at a
    time (a lock orders them)."""

    def __init__(self, host: str, port: int = 123, *, key: Optional[Key] = None, timeout: float = 10.0) -> None:
        _check_timeout(timeout)
        self.host = host
        self.port = port
        self.timeout = timeout
        self._where = f"{host} port {port}"
        self._session = ControlSession(key)
        self._transport: Optional[asyncio.DatagramTransport] = None
        self._protocol: Optional[_Queue] = None
        self._lock: Optional[asyncio.Lock] = None

    async def __aenter__(self) -> "AsyncControlClient":
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the endpoint."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def system(self) -> SystemVariables:
        """The server's system variables (``ntpq -c rv``)."""
        return cast(SystemVariables, await self._run(self._session.begin_system))

    async def peers(self) -> List[PeerVariables]:
        """Every association's variables (``ntpq -p``), in the server's order."""
        return cast(List[PeerVariables], await self._run(self._session.begin_peers))

    async def mrulist(self) -> List[MruEntry]:
        """The server's recent clients (``ntpq -c mrulist``), oldest first."""
        return cast(List[MruEntry], await self._run(self._session.begin_mrulist))

    async def _open(self) -> Tuple[asyncio.DatagramTransport, _Queue]:
        if self._transport is not None and self._protocol is not None:
            return self._transport, self._protocol
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except socket.gaierror as e:
            raise NtpError(f"cannot resolve {self.host!r}: {e.strerror}") from None
        family, _, _, _, sockaddr = infos[0]
        transport, protocol = await loop.create_datagram_endpoint(
            _Queue, remote_addr=(str(sockaddr[0]), int(sockaddr[1])), family=family
        )
        self._transport, self._protocol = transport, protocol
        return transport, protocol

    async def _run(self, begin: Callable[[float], bytes]) -> object:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                return await self._exchange(begin)
            except BaseException:
                # An error, or a cancellation (asyncio.wait_for around a
                # call): the session must be free for the next call.
                self._session.cancel()
                raise

    async def _exchange(self, begin: Callable[[float], bytes]) -> object:
        transport, protocol = await self._open()
        session = self._session
        loop = asyncio.get_running_loop()
        # Datagrams left over from an earlier call belong to no request.
        while not protocol.queue.empty():
            protocol.queue.get_nowait()
        transport.sendto(begin(loop.time()))
        wait = _Wait(session, self._where, self.timeout, loop.time())
        while not session.done:
            again, seconds = wait.step(loop.time())
            if seconds is None:
                if again is not None:
                    transport.sendto(again)
                continue
            try:
                data, error = await asyncio.wait_for(protocol.queue.get(), seconds)
            except asyncio.TimeoutError:
                continue
            if error is not None or data is None:
                session.cancel()
                if isinstance(error, ConnectionRefusedError):
                    raise ControlError(f"{self._where}: connection refused (no NTP server there)")
                raise ControlError(f"{self._where}: {error}")
            out = session.handle_datagram(data, loop.time())
            if out is not None:
                transport.sendto(out)
                wait.restart(loop.time())
        return session.take_result()
