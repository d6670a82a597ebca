"""UDP payloads from packet captures (pcap and pcapng), for ``ntp-py decode``.

Reads the link types capture tools write for NTP traffic: Ethernet (with
802.1Q tags), BSD loopback, raw IP, Linux cooked v1 and v2; IPv4 and IPv6
(without extension headers). Anything else is skipped, not guessed at.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Iterator, List, NamedTuple, Optional, Tuple

__all__ = ["Datagram", "is_capture", "read_capture"]

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\x4d\x3c\xb2\xa1": "<",  # nanosecond timestamps
    b"\xa1\xb2\x3c\x4d": ">",
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


class Datagram(NamedTuple):
    """One UDP datagram from a capture."""

    frame: int
    source: Tuple[str, int]
    destination: Tuple[str, int]
    payload: bytes


def is_capture(data: bytes) -> bool:
    """Whether ``data`` starts like a pcap or pcapng file."""
    return data[:4] in _PCAP_MAGICS or data[:4] == _PCAPNG_MAGIC


def _frames(data: bytes) -> Iterator[Tuple[int, bytes]]:
    """(link type, frame) for every captured frame."""
    magic = data[:4]
    if magic in _PCAP_MAGICS:
        order = _PCAP_MAGICS[magic]
        if len(data) < 24:
            raise ValueError("pcap file is shorter than its 24-byte header")
        (linktype,) = struct.unpack_from(order + "I", data, 20)
        pos = 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from(order + "I", data, pos + 8)[0]
            frame = data[pos + 16 : pos + 16 + incl]
            if len(frame) < incl:
                raise ValueError(f"pcap record at byte {pos} runs past the end of the file")
            yield linktype & 0xFFFF, frame
            pos += 16 + incl
        return
    if magic != _PCAPNG_MAGIC:
        raise ValueError("not a pcap or pcapng file")
    order = "<"
    linktypes: List[int] = []
    pos = 0
    while pos + 12 <= len(data):
        if data[pos : pos + 4] == _PCAPNG_MAGIC:
            order = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            linktypes = []
        btype, blen = struct.unpack_from(order + "II", data, pos)
        if blen < 12 or pos + blen > len(data):
            raise ValueError(f"pcapng block at byte {pos} has a bad length {blen}")
        body = data[pos + 8 : pos + blen - 4]
        if btype == 1:  # interface description
            linktypes.append(struct.unpack_from(order + "H", body, 0)[0])
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            iface, _, _, caplen = struct.unpack_from(order + "IIII", body, 0)
            if iface < len(linktypes):
                yield linktypes[iface], body[20 : 20 + caplen]
        elif btype == 3 and linktypes:  # simple packet
            yield linktypes[0], body[4:]
        pos += blen


def _ip_payload(linktype: int, frame: bytes) -> Optional[bytes]:
    """The IP packet inside a link-layer frame, or None."""
    if linktype == 1:  # Ethernet
        ethertype, pos = struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else 0, 14
        while ethertype in (0x8100, 0x88A8) and len(frame) >= pos + 4:
            ethertype = struct.unpack_from("!H", frame, pos + 2)[0]
            pos += 4
        return frame[pos:] if ethertype in (0x0800, 0x86DD) else None
    if linktype == 0 or linktype == 108:  # BSD loopback: 4-byte family
        return frame[4:]
    if linktype in (12, 14, 101, 228, 229):  # raw IP
        return frame
    if linktype == 113:  # Linux cooked v1
        return frame[16:]
    if linktype == 276:  # Linux cooked v2
        return frame[20:]
    return None


def _udp(ip: bytes) -> Optional[Tuple[str, str, bytes]]:
    """(source address, destination address, UDP segment), or None."""
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17 or len(ip) < ihl:
            return None
        total = struct.unpack_from("!H", ip, 2)[0]
        return (
            str(ipaddress.IPv4Address(ip[12:16])),
            str(ipaddress.IPv4Address(ip[16:20])),
            ip[ihl : max(ihl, total)] if total else ip[ihl:],
        )
    if version == 6 and len(ip) >= 40:
        if ip[6] != 17:
            return None
        return str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40])), ip[40:]
    return None


def read_capture(data: bytes, ports: Tuple[int, ...] = (123,)) -> List[Datagram]:
    """Every UDP datagram to or from one of ``ports`` (all ports if empty),
    numbered by frame from 1. Raises ValueError on a malformed file."""
    found = []
    for index, (linktype, frame) in enumerate(_frames(data), start=1):
        ip = _ip_payload(linktype, frame)
        udp = _udp(ip) if ip is not None else None
        if udp is None or len(udp[2]) < 8:
            continue
        src, dst, segment = udp
        sport, dport, length = struct.unpack_from("!HHH", segment, 0)
        if ports and sport not in ports and dport not in ports:
            continue
        end = length if 8 <= length <= len(segment) else len(segment)
        found.append(Datagram(index, (src, sport), (dst, dport), segment[8:end]))
    return found
