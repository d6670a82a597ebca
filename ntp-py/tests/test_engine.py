"""The sans-IO engine from Python, and the asyncio driver against chronyd."""

from __future__ import annotations

import asyncio
from typing import List, Tuple

import pytest

import ntp_py
from ntp_py import Engine, EngineEvent, NtpTimestamp, SetFrequency, Step, TimeoutAt, Transmit
from ntp_py.aio import Output, run_node

from conftest import Chronyd

START = NtpTimestamp.from_unix(1_795_219_200)


def test_client_engine_synchronizes_to_a_server_engine() -> None:
    server = Engine(local_stratum=1, now=START)
    client = Engine(now=START)
    assoc = client.add_server("192.0.2.1", iburst=True, now=START)
    assert assoc >= 1
    kinds: List[str] = []
    t = START.unix
    for _ in range(40):
        now = NtpTimestamp.from_unix(t)
        client.handle_timeout(now)
        while True:
            out = client.poll_output()
            if isinstance(out, TimeoutAt):
                assert out.deadline - now >= 0
                break
            if isinstance(out, Transmit):
                assert out.destination == ("192.0.2.1", 123)
                server.handle_datagram(now, ("192.0.2.2", 123), out.data)
                while isinstance(reply := server.poll_output(), (Transmit, EngineEvent)):
                    if isinstance(reply, Transmit):
                        client.handle_datagram(now, ("192.0.2.1", 123), reply.data)
            elif isinstance(out, EngineEvent):
                kinds.append(out.kind)
            else:
                assert isinstance(out, (Step, SetFrequency))
        t += 0.5
    assert "Mobilized" in kinds and "Reachable" in kinds
    system = client.system
    assert system.synchronized and system.stratum == 2
    assert str(system.reference_id) == "192.0.2.1"


def test_engine_input_errors() -> None:
    engine = Engine(now=START)
    with pytest.raises(ValueError, match="not an IP address"):
        engine.add_server("pool.ntp.org")
    with pytest.raises(ValueError, match="local_stratum"):
        Engine(local_stratum=0)
    engine.add_server("192.0.2.1", now=START)
    with pytest.raises(ValueError, match="cannot add 192.0.2.1"):
        engine.add_server("192.0.2.1", now=START)
    # Garbage is counted and dropped, never raised.
    engine.handle_datagram(START, ("192.0.2.9", 123), b"\x00" * 5)


def test_run_node_polls_chronyd(chronyd: Chronyd) -> None:
    seen: List[Output] = []
    engine = asyncio.run(
        run_node([("127.0.0.1", chronyd.port)], duration=4.0, on_output=seen.append)
    )
    kinds = [o.kind for o in seen if isinstance(o, EngineEvent)]
    assert "Reachable" in kinds, kinds
    assert engine.system.stratum in (2, 16)


def test_run_node_config_hook() -> None:
    # A file is refused rather than ignored, with or without ntp-config.
    with pytest.raises(ntp_py.ConfigUnavailable, match="not supported yet"):
        asyncio.run(run_node(config="/etc/ntp.conf", duration=0.1))


def test_rate_limited_engine_server_sends_kod_rate() -> None:
    # chronyd 4.3 drops rate-limited requests silently (its `kod` option is
    # newer), so the live KoD comes from ntp-algo's responder over loopback.
    async def scenario() -> List[str]:
        bound: "asyncio.Future[Tuple[str, int]]" = asyncio.get_running_loop().create_future()
        node = asyncio.ensure_future(
            run_node(local_stratum=1, rate_limit_burst=1, duration=3.0, on_bound=bound.set_result)
        )
        host, port = await bound
        outcomes: List[str] = []
        for _ in range(3):
            try:
                reply = await ntp_py.aquery(host, port, timeout=0.5)
                outcomes.append(f"stratum {reply.stratum}")
            except ntp_py.KissOfDeath as e:
                outcomes.append(f"KoD {e.code}")
            except ntp_py.Timeout:
                # At most one KoD per minimum interval: the rest are dropped.
                outcomes.append("dropped")
        node.cancel()
        try:
            await node
        except asyncio.CancelledError:
            pass
        return outcomes

    outcomes = asyncio.run(scenario())
    assert outcomes == ["stratum 1", "KoD RATE", "dropped"]
