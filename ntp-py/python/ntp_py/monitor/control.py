"""The mode 6 (RFC 9327, "NTP control messages") reader the monitor uses.

This is the one place that knows how mode 6 is spoken: :func:`read_status`
returns a device's system variables and every association's variables as
plain dictionaries of ``name -> text``, exactly as the server sent them.
It uses ``ntp_py.ControlClient`` when the installed ``ntp_py`` has one and
otherwise a small asyncio reader of its own (READSTAT for the association
list, READVAR for the variables, fragments reassembled by offset), so the
collectors never depend on which is present.

The built-in reader does not sign requests (reading variables needs no
authentication on ntpd, NTPsec or ntp-node); a key is used only through
``ControlClient``.
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Dict, List, Optional, Tuple

from ntp_py import Key

__all__ = ["ControlError", "RemoteStatus", "parse_variables", "read_status"]

_OP_READSTAT = 1
_OP_READVAR = 2
_HEADER = struct.Struct("!BBHHHHH")
# Version 2 in the first byte, as ntpq sends: every server answers it.
_FIRST_BYTE = (2 << 3) | 6
_MAX_FRAGMENTS = 64


class ControlError(Exception):
    """A mode 6 exchange failed (timeout, error bit, malformed answer)."""


RemoteStatus = Tuple[Dict[str, str], List[Tuple[int, int, Dict[str, str]]]]
"""(system variables, [(association id, peer status word, variables)])."""


def parse_variables(data: bytes) -> Dict[str, str]:
    """``name=value, name="quoted, value", ...`` as a dictionary.

    Items that are not ``name=value`` are skipped rather than failing the
    whole answer: NTPsec 1.2.2 garbles its filter arrays at fragment
    boundaries, and those are not needed."""
    text = data.decode("ascii", "replace")
    out: Dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,\r\n\t":
            i += 1
        start = i
        while i < n and text[i] not in "=,":
            i += 1
        name = text[start:i].strip()
        if i < n and text[i] == "=":
            i += 1
            if i < n and text[i] == '"':
                end = text.find('"', i + 1)
                end = n if end < 0 else end
                value = text[i + 1 : end]
                i = end + 1
            else:
                start = i
                while i < n and text[i] != ",":
                    i += 1
                value = text[start:i].strip()
            if name and name.isprintable():
                out[name] = value
        else:
            i += 1
    return out


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: "asyncio.Queue[bytes]" = asyncio.Queue()
        self.error: Optional[Exception] = None

    def datagram_received(self, data: bytes, addr: Tuple[object, ...]) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.error = exc
        self.queue.put_nowait(b"")


class _Session:
    def __init__(self, transport: asyncio.DatagramTransport, proto: _Exchange, timeout: float) -> None:
        self.transport = transport
        self.proto = proto
        self.timeout = timeout
        self.sequence = int.from_bytes(os.urandom(2), "big") or 1

    async def ask(self, opcode: int, association: int) -> Tuple[int, bytes]:
        self.sequence = (self.sequence + 1) & 0xFFFF or 1
        sequence = self.sequence
        self.transport.sendto(_HEADER.pack(_FIRST_BYTE, opcode, sequence, 0, association, 0, 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        fragments: Dict[int, bytes] = {}
        last_end: Optional[int] = None
        status = 0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ControlError(f"no complete answer within {self.timeout} s")
            try:
                data = await asyncio.wait_for(self.proto.queue.get(), remaining)
            except asyncio.TimeoutError:
                raise ControlError(f"no complete answer within {self.timeout} s") from None
            if not data:
                raise ControlError(f"{self.proto.error}")
            if len(data) < _HEADER.size:
                continue
            first, bits, seq, status_word, assoc, offset, count = _HEADER.unpack_from(data)
            if first & 7 != 6 or not bits & 0x80 or seq != sequence or bits & 0x1F != opcode:
                continue
            if bits & 0x40:
                raise ControlError(f"the server answered with error code {status_word >> 8}")
            if assoc != association and association != 0:
                continue
            status = status_word
            fragments[offset] = data[_HEADER.size : _HEADER.size + count]
            if not bits & 0x20:
                last_end = offset + count
            if len(fragments) > _MAX_FRAGMENTS:
                raise ControlError("too many fragments")
            if last_end is not None:
                joined = b""
                for frag_offset in sorted(fragments):
                    if frag_offset != len(joined):
                        break
                    joined += fragments[frag_offset]
                if len(joined) == last_end:
                    return status, joined


async def _builtin(host: str, port: int, timeout: float, source: str) -> RemoteStatus:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        _Exchange, remote_addr=(host, port), local_addr=(source, 0) if source else None
    )
    try:
        session = _Session(transport, proto, timeout)
        _, system_data = await session.ask(_OP_READVAR, 0)
        system = parse_variables(system_data)
        _, listing = await session.ask(_OP_READSTAT, 0)
        peers: List[Tuple[int, int, Dict[str, str]]] = []
        for i in range(0, len(listing) - 3, 4):
            association, word = struct.unpack_from("!HH", listing, i)
            _, data = await session.ask(_OP_READVAR, association)
            peers.append((association, word, parse_variables(data)))
        return system, peers
    finally:
        transport.close()


async def read_status(
    host: str, port: int = 123, *, key: Optional[Key] = None, timeout: float = 2.0, source: str = ""
) -> RemoteStatus:
    """Reads ``host``'s system variables and every association's variables
    (requests sent from the local address ``source`` when given).

    Raises :class:`ControlError` when the server does not answer in
    ``timeout`` seconds per request or answers with an error."""
    try:
        return await _builtin(host, port, timeout, source)
    except OSError as e:
        raise ControlError(str(e)) from None
