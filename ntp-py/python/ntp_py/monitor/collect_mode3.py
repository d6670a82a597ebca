"""Mode 3: ask the device for the time, as any client does (RFC 5905).

Gives the device's header (stratum, leap, precision, root delay and
dispersion, reference id and time) and our own offset and delay to it.
Unlike :func:`ntp_py.aquery`, an unsynchronized answer (leap 3, stratum
16 or 0) is a result here, not an error: that is what the monitor must
see. The origin check still applies, so only an answer to our request
counts.
"""

from __future__ import annotations

import ipaddress
from typing import Optional

from ntp_py import ClientRequest, Key, NotSynchronized, NtpTimestamp, Packet
from ntp_py.client import aexchange
from ntp_py.monitor.model import DeviceResult

__all__ = ["collect_mode3", "refid_text"]


def refid_text(value: object) -> str:
    """A reference id as ntpq shows it: an address, a code, or hex."""
    if isinstance(value, ipaddress.IPv4Address):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


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
    given); raises :class:`NtpError` (:class:`Timeout` when there is no
    answer within ``timeout`` s) or ``OSError``."""
    request = ClientRequest(key=key)

    def accept(data: bytes, arrived: NtpTimestamp) -> DeviceResult:
        try:
            reply = request.check_reply(data, arrived)
        except NotSynchronized:
            return _unsynchronized(device, Packet.parse(data), request.transmit_time, arrived)
        # The reply's header fields are the packet's, read after the checks.
        return _result(device, reply.packet, reply.offset, reply.delay)

    return await aexchange(
        host, port, request, accept, timeout=timeout, source=(source, 0) if source else None
    )
