"""Against a real chronyd on loopback (run with -x: the clock is never touched)."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest

import ntp_py

from conftest import KEYS, Chronyd


def test_plain_query(chronyd: Chronyd) -> None:
    reply = ntp_py.query("127.0.0.1", chronyd.port, timeout=2)
    assert reply.stratum == 1
    assert reply.reference_id == ipaddress.IPv4Address("127.127.1.1")
    assert reply.leap == ntp_py.Leap.NO_WARNING
    # Same host, same clock: offset and delay are tiny.
    assert abs(reply.offset) < 0.01 and 0 <= reply.delay < 0.05
    assert reply.packet.mode == ntp_py.Mode.SERVER and reply.key_id is None


@pytest.mark.parametrize("key_id", [k[0] for k in KEYS], ids=[k[1] for k in KEYS])
def test_authenticated_query(chronyd: Chronyd, key_id: int) -> None:
    key = ntp_py.Keyring.from_file(chronyd.keyfile).get(key_id)
    assert key is not None
    reply = ntp_py.query("127.0.0.1", chronyd.port, key=key, timeout=2)
    assert reply.key_id == key_id and reply.packet.key_id == key_id
    assert len(reply.packet) == 48 + key.mac_len


@pytest.mark.parametrize("key", [ntp_py.Key(2, "AES128", bytes(16)), ntp_py.Key(99, "MD5", b"x")], ids=["wrong-secret", "unknown-id"])
def test_requests_chrony_cannot_authenticate_go_unanswered(chronyd: Chronyd, key: ntp_py.Key) -> None:
    # chronyd 4.3 drops them (no crypto-NAK), so the client times out.
    with pytest.raises(ntp_py.Timeout):
        ntp_py.query("127.0.0.1", chronyd.port, key=key, timeout=0.5)


def test_aquery_and_many(chronyd: Chronyd) -> None:
    reply = asyncio.run(ntp_py.aquery("127.0.0.1", chronyd.port, timeout=2))
    assert reply.stratum == 1
    results = asyncio.run(ntp_py.aquery_many(["127.0.0.1"] * 4, chronyd.port, timeout=2, concurrency=2))
    assert all(isinstance(r, ntp_py.Reply) for r in results)


def test_ntp_keys_dialect_against_chrony(chronyd: Chronyd, tmp_path: Path) -> None:
    path = tmp_path / "ntp.keys"
    path.write_text("".join(f"{i} {t} {h}\n" for i, t, h in KEYS))
    key = ntp_py.Keyring.from_file(path, dialect="ntp").get(3)
    assert key is not None
    assert ntp_py.query("127.0.0.1", chronyd.port, key=key, timeout=2).key_id == 3
