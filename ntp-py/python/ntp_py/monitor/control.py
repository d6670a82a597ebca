"""The mode 6 (RFC 9327, "NTP control messages") reader the monitor uses.

This is the one place that knows how mode 6 is spoken: :func:`read_status`
returns a device's system variables and every association's variables as
plain dictionaries of ``name -> text``, exactly as the server sent them,
so :mod:`ntp_py.monitor.collect_mode6` can map them onto the MIB names.
The protocol (requests, signing with a key, fragment reassembly, retries,
the peer list) is ``ntp_py.ControlSession``, the sans-IO session behind
``ntp_py.ControlClient``; this module only moves its datagrams, over an
endpoint that can be bound to a chosen source address (which
``ControlClient`` does not offer).
"""

from __future__ import annotations

import asyncio
from typing import Callable, Dict, List, Optional, Tuple

from ntp_py import ControlSession, Key, NtpError, PeerVariables, SystemVariables

__all__ = ["ControlError", "RemoteStatus", "parse_variables", "read_status"]


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


async def _drive(
    session: ControlSession, begin: Callable[[float], bytes], transport: asyncio.DatagramTransport, proto: _Exchange,
    timeout: float,
) -> object:
    """Runs one request of the sans-IO ``session`` to its end over ``transport``."""
    loop = asyncio.get_running_loop()
    while not proto.queue.empty():
        proto.queue.get_nowait()
    transport.sendto(begin(loop.time()))
    limit = loop.time() + timeout
    while not session.done:
        now = loop.time()
        if now >= limit:
            session.cancel()
            raise ControlError(f"no complete answer within {timeout} s")
        due = session.deadline
        if due is not None and now >= due:
            again = session.handle_timeout(now)
            if again is not None:
                transport.sendto(again)
            continue
        wait = min(limit, due if due is not None else limit) - now
        try:
            data = await asyncio.wait_for(proto.queue.get(), wait)
        except asyncio.TimeoutError:
            continue
        if not data:
            session.cancel()
            raise ControlError(f"{proto.error}")
        out = session.handle_datagram(data, loop.time())
        if out is not None:
            transport.sendto(out)
    return session.take_result()


async def _session(host: str, port: int, key: Optional[Key], timeout: float, source: str) -> RemoteStatus:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        _Exchange, remote_addr=(host, port), local_addr=(source, 0) if source else None
    )
    try:
        session = ControlSession(key)
        system = await _drive(session, session.begin_system, transport, proto, timeout)
        peers = await _drive(session, session.begin_peers, transport, proto, timeout)
    finally:
        transport.close()
    if not isinstance(system, SystemVariables) or not isinstance(peers, list):
        raise ControlError("unexpected answer")
    rows = [
        (p.association_id, p.status, dict(p.raw)) for p in peers if isinstance(p, PeerVariables)
    ]
    return dict(system.raw), rows


async def read_status(
    host: str, port: int = 123, *, key: Optional[Key] = None, timeout: float = 2.0, source: str = ""
) -> RemoteStatus:
    """Reads ``host``'s system variables and every association's variables
    (requests sent from the local address ``source`` when given).

    Raises :class:`ControlError` when the server does not answer in
    ``timeout`` seconds per request or answers with an error."""
    try:
        return await _session(host, port, key, timeout, source)
    except OSError as e:
        raise ControlError(str(e)) from None
    except NtpError as e:
        raise ControlError(f"{type(e).__name__}: {e}") from None
