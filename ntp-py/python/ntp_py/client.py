"""Validated NTP client queries: blocking, asyncio, and many hosts at once.

The request and every check on the reply are done by the Rust side
(:class:`ntp_py.ClientRequest`); this module only moves the datagrams.
A reply whose origin timestamp does not match is not an answer to our
request (a stale duplicate, or a forgery), so it is dropped and the wait
continues; every other failed check is raised at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import time
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from ntp_py._ntp_py import ClientRequest, Key, NtpError, OriginMismatch, Reply, Timeout

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
) -> Reply:
    """Asks ``host`` for the time once and returns the validated reply.

    Raises :class:`Timeout` when no valid reply arrives within ``timeout``
    seconds, and the :class:`NtpError` subclass of the first check a reply
    fails (:class:`KissOfDeath`, :class:`NotSynchronized`, :class:`BadMac`...).
    """
    family, sockaddr = _resolve(host, port)
    request = ClientRequest(version=version, key=key)
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
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
    """Hands the first valid reply (or the first error) to a future."""

    def __init__(self, request: ClientRequest, future: "asyncio.Future[Reply]", where: str) -> None:
        self.request = request
        self.future = future
        self.where = where

    def datagram_received(self, data: bytes, addr: Tuple[object, ...]) -> None:
        if self.future.done():
            return
        try:
            reply = self.request.check_reply(data)
        except OriginMismatch:
            return
        except NtpError as e:
            self.future.set_exception(e)
            return
        self.future.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        if not self.future.done():
            if isinstance(exc, ConnectionRefusedError):
                self.future.set_exception(
                    NtpError(f"{self.where}: connection refused (no NTP server there)")
                )
            else:
                self.future.set_exception(NtpError(f"{self.where}: {exc}"))


async def aquery(
    host: str,
    port: int = 123,
    *,
    key: Optional[Key] = None,
    timeout: float = 5.0,
    version: int = 4,
) -> Reply:
    """:func:`query` for asyncio: the same checks, on a datagram endpoint."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as e:
        raise NtpError(f"cannot resolve {host!r}: {e.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    request = ClientRequest(version=version, key=key)
    future: asyncio.Future[Reply] = loop.create_future()
    where = f"{host} port {port}"
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _ReplyProtocol(request, future, where),
        remote_addr=(str(sockaddr[0]), int(sockaddr[1])),
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
