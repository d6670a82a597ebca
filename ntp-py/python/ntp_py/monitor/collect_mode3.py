"""Mode 3: ask the device for the time, as any client does (RFC 5905).

Gives the device's header (stratum, leap, precision, root delay and
dispersion, reference id and time) and our own offset and delay to it.
Unlike :func:`ntp_py.aquery`, an unsynchronized answer (leap 3, stratum
16 or 0) is a result here, not an error: that is what the monitor must
see. The origin check still applies, so only an answer to our request
counts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any, Optional, Tuple

from ntp_py import ClientRequest, Key, NotSynchronized, NtpError, NtpTimestamp, OriginMismatch, Packet

from ntp_py.monitor.model import DeviceResult

__all__ = ["collect_mode3", "refid_text"]


def refid_text(value: object) -> str:
    """A reference id as ntpq shows it: an address, a code, or hex."""
    if isinstance(value, ipaddress.IPv4Address):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, request: ClientRequest, future: "asyncio.Future[Tuple[bytes, NtpTimestamp]]") -> None:
        self.request = request
        self.future = future

    def datagram_received(self, data: bytes, addr: Tuple[object, ...]) -> None:
        if not self.future.done():
            self.future.set_result((data, NtpTimestamp.now()))

    def error_received(self, exc: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(NtpError(f"{exc}"))


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> Tuple[int, Tuple[Any, ...]]:
    """An address literal directly; a name through the resolver (which
    asyncio runs in a thread: too slow to pay for every device)."""
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


def _unsynchronized(device: str, packet: Packet, sent: Optional[NtpTimestamp], arrived: NtpTimestamp) -> DeviceResult:
    offset: Optional[float] = None
    delay: Optional[float] = None
    if sent is not None and not packet.receive_time.is_zero and not packet.transmit_time.is_zero:
        t2, t3 = packet.receive_time, packet.transmit_time
        offset = ((t2 - sent) + (t3 - arrived)) / 2
        delay = (arrived - sent) - (t3 - t2)
    return _result(device, packet, offset, delay)


def _result(device: str, packet: Packet, offset: Optional[float], delay: Optional[float]) -> DeviceResult:
    """What a mode 3 answer says: the server's header fields, and our
    offset and delay to it when they could be measured."""
    return DeviceResult(
        device=device,
        source="mode3",
        ok=True,
        leap=int(packet.leap),
        stratum=packet.stratum,
        precision=packet.precision,
        root_delay=packet.root_delay,
        root_dispersion=packet.root_dispersion,
        refid=refid_text(packet.reference_id),
        reference_time=None if packet.reference_time.is_zero else packet.reference_time.unix,
        poll=packet.poll,
        offset=offset,
        delay=delay,
    )


async def collect_mode3(
    device: str, host: str, port: int, *, key: Optional[Key], timeout: float, source: str = ""
) -> DeviceResult:
    """One validated exchange with ``host:port`` (sent from ``source`` when
    given); raises :class:`NtpError` (or ``OSError``) when there is no
    usable answer within ``timeout`` s."""
    loop = asyncio.get_running_loop()
    family, sockaddr = await _resolve(loop, host, port)
    request = ClientRequest(key=key)
    deadline = loop.time() + timeout
    transport: Optional[asyncio.DatagramTransport] = None
    try:
        while True:
            future: asyncio.Future[Tuple[bytes, NtpTimestamp]] = loop.create_future()
            if transport is None:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(request, future),
                    remote_addr=(str(sockaddr[0]), int(sockaddr[1])),
                    local_addr=(source, 0) if source else None,
                    family=family,
                )
                transport.sendto(request.stamp())
            else:
                proto = transport.get_protocol()
                assert isinstance(proto, _Protocol)
                proto.future = future
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise NtpError(f"no answer from {host} port {port} within {timeout} s")
            try:
                data, arrived = await asyncio.wait_for(future, remaining)
            except asyncio.TimeoutError:
                raise NtpError(f"no answer from {host} port {port} within {timeout} s") from None
            try:
                reply = request.check_reply(data, arrived)
            except OriginMismatch:
                continue
            except NotSynchronized:
                return _unsynchronized(device, Packet.parse(data), request.transmit_time, arrived)
            # The reply's header fields are the packet's, read after the checks.
            return _result(device, reply.packet, reply.offset, reply.delay)
    finally:
        if transport is not None:
            transport.close()
