"""Validated NTP client queries: blocking, asyncio, and many hosts at once.

The request and every check on the reply are done by the Rust side
(:class:`ntp_py.ClientRequest`); this module only moves the datagrams.
A reply whose origin timestamp does not match is not an answer to our
request (a stale duplicate, or a forgery), so it is dropped and the wait
continues; every other failed check is raised at once.

``source`` sends from a chosen local (address, port), for a host with
more than one network (port 0: any free port).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import socket
import time
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, TypeVar, Union

from ntp_py._ntp_py import ClientRequest, Key, NtpError, NtpTimestamp, OriginMismatch, Reply, Timeout

_T = TypeVar("_T")

_MAX_DATAGRAM = 1024

__all__ = ["aquery", "aquery_many", "query", "query_many"]


def _resolve(host: str, port: int) -> Tuple[int, Tuple[object, ...]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as e:
        raise NtpError(f"cannot resolve {host!r}: {e.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def query(
    host: str,
    port: int = 123,
    *,
    key: Optional[Key] = None,
    timeout: float = 5.0,
    version: int = 4,
    source: Optional[Tuple[str, int]] = None,
) -> Reply:
    """Asks ``host`` for the time once and returns the validated reply.

    ``source`` is the local (address, port) to send from; None lets the
    kernel choose. Raises :class:`Timeout` when no valid reply arrives
    within ``timeout`` seconds, and the :class:`NtpError` subclass of the
    first check a reply fails (:class:`KissOfDeath`,
    :class:`NotSynchronized`, :class:`BadMac`...); ``OSError`` when
    ``source`` cannot be bound.
    """
    family, sockaddr = _resolve(host, port)
    request = ClientRequest(version=version, key=key)
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        if source is not None:
            sock.bind(source)
        # connect() makes the kernel drop datagrams from other addresses.
        sock.connect(sockaddr)
        sock.send(request.stamp())
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            try:
                data = sock.recv(_MAX_DATAGRAM)
            except socket.timeout:
                break
            except ConnectionRefusedError:
                raise NtpError(f"{host} port {port}: connection refused (no NTP server there)") from None
            try:
                return request.check_reply(data)
            except OriginMismatch:
                continue
    raise Timeout(f"no valid reply from {host} port {port} within {timeout} s")


class _ReplyProtocol(asyncio.DatagramProtocol):
    """Hands the first accepted answer (or the first error) to a future.

    ``accept`` reads a datagram and its arrival time; raising
    :class:`OriginMismatch` means "not ours, keep waiting"."""

    def __init__(
        self, accept: Callable[[bytes, NtpTimestamp], _T], future: "asyncio.Future[_T]", where: str
    ) -> None:
        self.accept = accept
        self.future = future
        self.where = where

    def datagram_received(self, data: bytes, addr: Tuple[object, ...]) -> None:
        if self.future.done():
            return
        # Stamped before anything else, so our work is not in the delay.
        arrived = NtpTimestamp.now()
        try:
            answer = self.accept(data, arrived)
        except OriginMismatch:
            return
        except Exception as e:  # noqa: BLE001 - raised in the caller, not lost in the event loop
            self.future.set_exception(e)
            return
        self.future.set_result(answer)

    def error_received(self, exc: Exception) -> None:
        if not self.future.done():
            if isinstance(exc, ConnectionRefusedError):
                self.future.set_exception(
                    NtpError(f"{self.where}: connection refused (no NTP server there)")
                )
            else:
                self.future.set_exception(NtpError(f"{self.where}: {exc}"))


async def _aresolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> Tuple[int, Tuple[Any, ...]]:
    """An address literal directly; a name through the resolver (which
    asyncio runs in a thread: too slow to pay for every one of many
    hosts)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except socket.gaierror as e:
            raise NtpError(f"cannot resolve {host!r}: {e.strerror}") from None
        family, _, _, _, sockaddr = infos[0]
        return family, tuple(sockaddr)
    family = socket.AF_INET if literal.version == 4 else socket.AF_INET6
    return family, (str(literal), port)


async def aexchange(
    host: str,
    port: int,
    request: ClientRequest,
    accept: Callable[[bytes, NtpTimestamp], _T],
    *,
    timeout: float,
    source: Optional[Tuple[str, int]] = None,
) -> _T:
    """Sends ``request`` to ``host`` and returns what ``accept`` makes of
    the first datagram it does not reject with :class:`OriginMismatch`.

    The transport under :func:`aquery`, for callers that read the answer
    their own way (the monitor keeps unsynchronized answers). ``accept``
    gets the datagram and its arrival time; any other exception it
    raises ends the wait and is raised here. Raises :class:`Timeout`
    after ``timeout`` s, ``OSError`` when ``source`` cannot be bound.
    """
    loop = asyncio.get_running_loop()
    family, sockaddr = await _aresolve(loop, host, port)
    future: asyncio.Future[_T] = loop.create_future()
    where = f"{host} port {port}"
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _ReplyProtocol(accept, future, where),
        remote_addr=(str(sockaddr[0]), int(sockaddr[1])),
        local_addr=source,
        family=family,
    )
    try:
        transport.sendto(request.stamp())
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise Timeout(f"no valid reply from {where} within {timeout} s") from None
    finally:
        transport.close()


async def aquery(
    host: str,
    port: int = 123,
    *,
    key: Optional[Key] = None,
    timeout: float = 5.0,
    version: int = 4,
    source: Optional[Tuple[str, int]] = None,
) -> Reply:
    """:func:`query` for asyncio: the same checks and ``source``, on a
    datagram endpoint."""
    request = ClientRequest(version=version, key=key)
    return await aexchange(host, port, request, request.check_reply, timeout=timeout, source=source)


HostSpec = Union[str, Tuple[str, int]]


def _split(spec: HostSpec, port: int) -> Tuple[str, int]:
    if isinstance(spec, tuple):
        return spec[0], spec[1]
    return spec, port


def query_many(
    hosts: Iterable[HostSpec],
    port: int = 123,
    *,
    key: Optional[Key] = None,
    timeout: float = 5.0,
    version: int = 4,
    concurrency: int = 16,
) -> List[Union[Reply, NtpError]]:
    """Queries every host (a name, or a (name, port) pair) with at most
    ``concurrency`` in flight; returns a :class:`Reply` or the
    :class:`NtpError` for each, in the order given."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    targets: Sequence[Tuple[str, int]] = [_split(h, port) for h in hosts]

    def one(target: Tuple[str, int]) -> Union[Reply, NtpError]:
        try:
            return query(target[0], target[1], key=key, timeout=timeout, version=version)
        except NtpError as e:
            return e

    if not targets:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(concurrency, len(targets))) as pool:
        return list(pool.map(one, targets))


async def aquery_many(
    hosts: Iterable[HostSpec],
    port: int = 123,
    *,
    key: Optional[Key] = None,
    timeout: float = 5.0,
    version: int = 4,
    concurrency: int = 64,
) -> List[Union[Reply, NtpError]]:
    """:func:`query_many` for asyncio: at most ``concurrency`` queries in flight."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    gate = asyncio.Semaphore(concurrency)

    async def one(target: Tuple[str, int]) -> Union[Reply, NtpError]:
        async with gate:
            try:
                return await aquery(target[0], target[1], key=key, timeout=timeout, version=version)
            except NtpError as e:
                return e

    return list(await asyncio.gather(*(one(_split(h, port)) for h in hosts)))
