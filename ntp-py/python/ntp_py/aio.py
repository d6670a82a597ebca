"""A small asyncio driver for :class:`ntp_py.Engine`.

:func:`run_node` opens one UDP socket, feeds every datagram and every
deadline to the engine, sends what it asks to send, and hands clock
actions and events to a callback. It never touches the system clock:
applying a :class:`Step` or :class:`SetFrequency` is the caller's choice.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Callable, Optional, Sequence, Tuple, Union

from ntp_py._ntp_py import (
    CONFIG_AVAILABLE,
    ConfigUnavailable,
    Engine,
    EngineEvent,
    Keyring,
    NtpTimestamp,
    SetFrequency,
    Step,
    TimeoutAt,
    Transmit,
)

__all__ = ["Output", "run_node"]

Output = Union[Step, SetFrequency, EngineEvent]
"""What :func:`run_node` passes to its callback."""


class _EngineProtocol(asyncio.DatagramProtocol):
    def __init__(self, wake: Callable[[], None], engine: Engine) -> None:
        self.engine = engine
        self.wake = wake

    def datagram_received(self, data: bytes, addr: Tuple[object, ...]) -> None:
        host, port = str(addr[0]), int(str(addr[1]))
        self.engine.handle_datagram(NtpTimestamp.now(), (host, port), data)
        self.wake()


async def run_node(
    servers: Sequence[Union[str, Tuple[str, int]]] = (),
    *,
    config: Optional[str] = None,
    bind: Tuple[str, int] = ("127.0.0.1", 0),
    keyring: Optional[Keyring] = None,
    key_id: Optional[int] = None,
    local_stratum: Optional[int] = None,
    rate_limit_burst: Optional[int] = None,
    iburst: bool = True,
    duration: Optional[float] = None,
    on_output: Optional[Callable[[Output], None]] = None,
    on_bound: Optional[Callable[[Tuple[str, int]], None]] = None,
) -> Engine:
    """Runs one NTP node until ``duration`` seconds have passed (or forever).

    ``servers`` are IP addresses (or (address, port) pairs) to poll in client
    mode; ``local_stratum`` makes the node serve its own clock, and
    ``rate_limit_burst`` rate-limits its clients (KoD RATE beyond it; see
    :class:`Engine`). ``config`` (a configuration file in an operator's
    dialect) is not supported here yet and raises :class:`ConfigUnavailable`;
    check one with :func:`check_config`, run one with ``ntp-node run
    --config FILE``. Returns the
    engine, whose ``system`` property tells what it concluded. ``on_bound``
    is told the socket's address once it is open (useful with port 0).
    """
    if config is not None:
        # CONFIG_AVAILABLE says check_config works; building an engine from
        # a file is not wired into this layer, and ignoring the file would
        # run a different node than the caller asked for.
        detail = "" if CONFIG_AVAILABLE else " (and the ntp-config crate is not built in)"
        raise ConfigUnavailable(
            f"cannot run from {config}: run_node(config=...) is not supported yet{detail};"
            " pass servers=... instead, or run `ntp-node run --config FILE`"
        )
    loop = asyncio.get_running_loop()
    engine = Engine(keyring=keyring, local_stratum=local_stratum, rate_limit_burst=rate_limit_burst)
    for spec in servers:
        host, port = (spec, 123) if isinstance(spec, str) else spec
        engine.add_server(host, port, key_id=key_id, iburst=iburst)
    wakeup = asyncio.Event()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _EngineProtocol(wakeup.set, engine), local_addr=bind, family=socket.AF_INET
    )
    end = None if duration is None else time.monotonic() + duration
    if on_bound is not None:
        on_bound(transport.get_extra_info("sockname"))
    try:
        while end is None or time.monotonic() < end:
            # Drain every output; the last one tells when to wake next.
            while True:
                out = engine.poll_output()
                if isinstance(out, Transmit):
                    transport.sendto(out.data, out.destination)
                elif isinstance(out, TimeoutAt):
                    deadline = out.deadline
                    break
                elif on_output is not None:
                    on_output(out)
            wait = max(0.0, deadline - NtpTimestamp.now())
            if end is not None:
                wait = min(wait, max(0.0, end - time.monotonic()))
            wakeup.clear()
            try:
                await asyncio.wait_for(wakeup.wait(), wait)
            except asyncio.TimeoutError:
                pass
            engine.handle_timeout(NtpTimestamp.now())
    finally:
        transport.close()
    return engine
