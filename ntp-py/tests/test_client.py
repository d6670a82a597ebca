"""Query validation against a scripted loopback server, and the request/reply
checks without a network."""

from __future__ import annotations

import asyncio
import socket
from typing import Callable, List

import pytest

import ntp_py
from ntp_py import ClientRequest, NtpTimestamp, Packet

from conftest import FakeServer, Responder, server_reply

Make = Callable[..., FakeServer]


def test_valid_reply_gives_offset_and_delay() -> None:
    request = ClientRequest()
    sent = Packet.parse(request.stamp())
    assert sent.mode == ntp_py.Mode.CLIENT and sent.version == 4
    t1 = sent.transmit_time
    # Server clock 10 s ahead, 20 ms each way, 1 ms inside the server.
    t2 = NtpTimestamp.from_unix(t1.unix + 10.020)
    t3 = NtpTimestamp.from_unix(t1.unix + 10.021)
    t4 = NtpTimestamp.from_unix(t1.unix + 0.041)
    reply_bytes = Packet(
        mode=4, stratum=2, precision=-20, root_delay=0.010, root_dispersion=0.005,
        reference_id=0xC0000201, origin_time=t1, receive_time=t2, transmit_time=t3,
    ).to_bytes()
    reply = request.check_reply(reply_bytes, received_at=t4)
    assert reply.offset == pytest.approx(10.0, abs=1e-6)
    assert reply.delay == pytest.approx(0.040, abs=1e-6)
    assert reply.root_distance == pytest.approx((0.010 + 0.040) / 2 + 0.005 + 2**-20, abs=1e-4)  # 16.16 rounding
    assert reply.packet.to_bytes() is reply_bytes
    assert (reply.originate_time, reply.receive_time, reply.transmit_time, reply.destination_time) == (t1, t2, t3, t4)
    assert reply.key_id is None and reply.leap == ntp_py.Leap.NO_WARNING


def test_offset_across_the_2036_wrap() -> None:
    # ntplib's float arithmetic gives -4e9 s here; the 64-bit difference does not.
    request = ClientRequest()
    t1 = Packet.parse(request.stamp()).transmit_time
    t3 = NtpTimestamp.from_bits((t1.bits + (2**32 - t1.seconds) * 2**32) % 2**64)  # the wrap, era 1
    assert t3.seconds == 0
    reply = Packet(mode=4, stratum=2, reference_id=1, origin_time=t1, receive_time=t3, transmit_time=t3)
    got = request.check_reply(reply.to_bytes(), received_at=t1)
    assert got.offset == pytest.approx(t3 - t1) and 0 < got.offset < 2**31


def test_check_reply_needs_a_stamp() -> None:
    with pytest.raises(ValueError, match="stamp"):
        ClientRequest().check_reply(bytes(48))
    with pytest.raises(ValueError, match="version must be"):
        ClientRequest(version=5)


@pytest.mark.parametrize(
    "respond, error, message",
    [
        (lambda r: [server_reply(r, stratum=0, reference_id="RATE")], ntp_py.KissOfDeath, "RATE: the server rate-limits"),
        (lambda r: [server_reply(r, stratum=0, reference_id="DENY")], ntp_py.KissOfDeath, "stop querying"),
        (lambda r: [server_reply(r, leap=3)], ntp_py.NotSynchronized, "leap indicator 3"),
        (lambda r: [server_reply(r, stratum=16)], ntp_py.NotSynchronized, "stratum 16"),
        (lambda r: [server_reply(r, mode=2)], ntp_py.InvalidReply, "mode 2"),
        (lambda r: [server_reply(r, zero_receive=True)], ntp_py.InvalidReply, "timestamp is zero"),
        (lambda r: [b"\x24" * 20], ntp_py.ParseError, "20 bytes"),
    ],
)
def test_bad_replies_raise_what_is_wrong(
    fake_server: Make, respond: Responder, error: type, message: str
) -> None:
    server = fake_server(respond)
    with pytest.raises(error, match=message):
        ntp_py.query("127.0.0.1", server.port, timeout=2)


def test_kiss_of_death_carries_its_code(fake_server: Make) -> None:
    server = fake_server(lambda r: [server_reply(r, stratum=0, reference_id="RATE")])
    with pytest.raises(ntp_py.KissOfDeath) as info:
        ntp_py.query("127.0.0.1", server.port, timeout=2)
    assert info.value.code == "RATE"


def test_stale_reply_is_skipped_and_the_real_one_taken(fake_server: Make) -> None:
    stale = NtpTimestamp.from_unix(1_000_000_000)
    server = fake_server(lambda r: [server_reply(r, origin=stale, stratum=9), server_reply(r, stratum=3)])
    assert ntp_py.query("127.0.0.1", server.port, timeout=2).stratum == 3


def test_only_stale_replies_time_out(fake_server: Make) -> None:
    stale = NtpTimestamp.from_unix(1_000_000_000)
    server = fake_server(lambda r: [server_reply(r, origin=stale)])
    with pytest.raises(ntp_py.Timeout, match="no valid reply") as info:
        ntp_py.query("127.0.0.1", server.port, timeout=0.3)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, ntp_py.NtpError)


def test_unsigned_reply_to_a_signed_request_fails(fake_server: Make) -> None:
    server = fake_server(lambda r: [server_reply(r)])
    with pytest.raises(ntp_py.NoMac):
        ntp_py.query("127.0.0.1", server.port, key=ntp_py.Key(1, "SHA1", b"k"), timeout=2)


def test_signed_reply_with_the_wrong_secret_fails(fake_server: Make) -> None:
    wrong = ntp_py.Key(1, "SHA1", b"other")
    server = fake_server(lambda r: [ntp_py.sign(server_reply(r), wrong)])
    with pytest.raises(ntp_py.BadMac):
        ntp_py.query("127.0.0.1", server.port, key=ntp_py.Key(1, "SHA1", b"k"), timeout=2)


def test_crypto_nak_reply(fake_server: Make) -> None:
    server = fake_server(lambda r: [server_reply(r) + bytes(4)])
    with pytest.raises(ntp_py.CryptoNak, match="could not authenticate our request"):
        ntp_py.query("127.0.0.1", server.port, key=ntp_py.Key(1, "SHA1", b"k"), timeout=2)


def test_nothing_listening() -> None:
    with pytest.raises(ntp_py.NtpError, match="refused|no valid reply"):
        ntp_py.query("127.0.0.1", 9, timeout=0.5)


def test_unresolvable_host() -> None:
    with pytest.raises(ntp_py.NtpError, match="cannot resolve"):
        ntp_py.query("no-such-host.invalid", timeout=0.5)


def test_aquery_validates_the_same_way(fake_server: Make) -> None:
    kod = fake_server(lambda r: [server_reply(r, stratum=0, reference_id="RATE")])
    good = fake_server(lambda r: [server_reply(r, stratum=4)])

    async def run() -> List[object]:
        reply = await ntp_py.aquery("127.0.0.1", good.port, timeout=2)
        with pytest.raises(ntp_py.KissOfDeath):
            await ntp_py.aquery("127.0.0.1", kod.port, timeout=2)
        with pytest.raises(ntp_py.Timeout):
            await ntp_py.aquery("127.0.0.1", fake_server(lambda r: []).port, timeout=0.2)
        return [reply.stratum]

    assert asyncio.run(run()) == [4]


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("use_asyncio", [False, True], ids=["blocking", "asyncio"])
def test_source_is_the_address_the_request_comes_from(fake_server: Make, use_asyncio: bool) -> None:
    server = fake_server(lambda r: [server_reply(r, stratum=5)])
    source = ("127.0.0.1", _free_loopback_port())
    if use_asyncio:
        reply = asyncio.run(ntp_py.aquery("127.0.0.1", server.port, timeout=2, source=source))
    else:
        reply = ntp_py.query("127.0.0.1", server.port, timeout=2, source=source)
    assert reply.stratum == 5
    assert server.senders == [source]


@pytest.mark.parametrize("use_asyncio", [False, True], ids=["blocking", "asyncio"])
def test_source_that_is_not_ours_cannot_be_bound(fake_server: Make, use_asyncio: bool) -> None:
    server = fake_server(lambda r: [server_reply(r)])
    # TEST-NET-1 (RFC 5737): no interface here has it.
    source = ("192.0.2.1", 0)
    with pytest.raises(OSError):
        if use_asyncio:
            asyncio.run(ntp_py.aquery("127.0.0.1", server.port, timeout=1, source=source))
        else:
            ntp_py.query("127.0.0.1", server.port, timeout=1, source=source)
    assert server.senders == []


@pytest.mark.parametrize("use_asyncio", [False, True], ids=["threads", "asyncio"])
def test_many_keeps_at_most_concurrency_in_flight(fake_server: Make, use_asyncio: bool) -> None:
    server = fake_server(lambda r: [server_reply(r)], delay=0.3)
    hosts = [("127.0.0.1", server.port)] * 6
    if use_asyncio:
        results = asyncio.run(ntp_py.aquery_many(hosts, timeout=3, concurrency=2))
    else:
        results = ntp_py.query_many(hosts, timeout=3, concurrency=2)
    assert all(isinstance(r, ntp_py.Reply) for r in results)
    # Each reply takes 0.3 s: with 2 in flight, requests come in waves of 2.
    first = server.arrivals[0]
    assert len([t for t in server.arrivals if t - first < 0.2]) == 2
    assert len(server.arrivals) == 6


def test_query_many_keeps_order(fake_server: Make) -> None:
    good = fake_server(lambda r: [server_reply(r, stratum=5)])
    kod = fake_server(lambda r: [server_reply(r, stratum=0, reference_id="RATE")])
    hosts = [("127.0.0.1", good.port), ("127.0.0.1", kod.port)] * 5
    for results in (
        ntp_py.query_many(hosts, timeout=2, concurrency=3),
        asyncio.run(ntp_py.aquery_many(hosts, timeout=2, concurrency=3)),
    ):
        assert [type(r).__name__ for r in results] == ["Reply", "KissOfDeath"] * 5
    with pytest.raises(ValueError):
        ntp_py.query_many(hosts, concurrency=0)
