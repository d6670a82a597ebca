"""Packet decoding, construction and round trips."""

from __future__ import annotations

import datetime
import ipaddress
import sys
from typing import Any, Dict

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ntp_py
from ntp_py import Leap, Mode, NtpTimestamp, Packet

# A server reply: LI 0, v4, mode 4, stratum 2, poll 6, precision -23,
# refid 192.0.2.1, and distinct timestamps.
SERVER = bytes.fromhex(
    "240206e9" "00000010" "00000020" "c0000201"
    "eca55e7d34197c1e" "123456789abcdef0" "eca55e801d4c7f2a" "eca55e801d4e8b39"
)


def test_parse_reads_every_header_field() -> None:
    p = Packet.parse(SERVER)
    assert p.leap == Leap.NO_WARNING and int(p.leap) == 0
    assert p.version == 4
    assert p.mode == Mode.SERVER and int(p.mode) == 4
    assert p.stratum == 2
    assert p.poll == 6
    assert p.precision == -23
    assert p.root_delay == pytest.approx(16 / 65536)
    assert p.root_dispersion == pytest.approx(32 / 65536)
    assert p.reference_id == ipaddress.IPv4Address("192.0.2.1")
    assert p.reference_id_bytes == bytes([192, 0, 2, 1])
    assert p.reference_time.bits == 0xECA55E7D34197C1E
    assert p.origin_time.bits == 0x123456789ABCDEF0
    assert p.receive_time.bits == 0xECA55E801D4C7F2A
    assert p.transmit_time.bits == 0xECA55E801D4E8B39
    assert p.kiss_code is None and p.key_id is None and p.mac is None
    assert not p.is_crypto_nak and p.extension_fields == []


def test_parse_keeps_the_bytes_object() -> None:
    p = Packet.parse(SERVER)
    assert p.to_bytes() is SERVER
    assert bytes(p) == SERVER and len(p) == 48


def test_parse_accepts_buffers() -> None:
    assert Packet.parse(bytearray(SERVER)).to_bytes() == SERVER
    assert Packet.parse(memoryview(SERVER)).to_bytes() == SERVER
    # Not a buffer: a TypeError, not bytes(48) of zeros.
    for wrong in (48, "x" * 48, None):
        with pytest.raises(TypeError):
            Packet.parse(wrong)  # type: ignore[arg-type]
    # Packet.parse is a C function taking its one argument positionally.
    with pytest.raises(TypeError):
        Packet.parse()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Packet.parse(SERVER, SERVER)  # type: ignore[call-arg]


def test_parse_holds_exactly_one_reference_to_the_bytes() -> None:
    data = bytes(SERVER)
    before = sys.getrefcount(data)
    packets = [Packet.parse(data) for _ in range(100)]
    assert sys.getrefcount(data) == before + 100
    del packets
    for _ in range(100):
        with pytest.raises(ntp_py.ParseError):
            Packet.parse(data[:47])
        Packet.parse(data)
    assert sys.getrefcount(data) == before


@pytest.mark.parametrize(
    "data, reason",
    [
        (SERVER[:47], "47 bytes; an NTP header needs 48"),
        (SERVER + b"\x00" * 7, "neither a MAC"),
        (SERVER + b"\x00\x00\x00\x05", "crypto-NAK must be zero"),
    ],
)
def test_parse_says_why_it_refuses(data: bytes, reason: str) -> None:
    with pytest.raises(ntp_py.ParseError, match=reason):
        Packet.parse(data)


def test_parse_error_is_an_ntp_error() -> None:
    assert issubclass(ntp_py.ParseError, ntp_py.NtpError)


def test_reference_id_by_stratum() -> None:
    kod = Packet(mode=4, stratum=0, reference_id="RATE")
    assert kod.reference_id == "RATE" and kod.kiss_code == "RATE"
    primary = Packet(mode=4, stratum=1, reference_id="GPS")
    assert primary.reference_id == "GPS" and primary.kiss_code is None
    # chrony's local clock at stratum 1: not text, shown dotted.
    local = Packet(mode=4, stratum=1, reference_id=bytes([127, 127, 1, 1]))
    assert local.reference_id == ipaddress.IPv4Address("127.127.1.1")
    secondary = Packet(mode=4, stratum=3, reference_id=ipaddress.IPv4Address("10.1.2.3"))
    assert secondary.reference_id == ipaddress.IPv4Address("10.1.2.3")
    unsync = Packet(mode=4, stratum=16, reference_id=0x494E4954)
    assert unsync.reference_id == b"INIT"
    # A client request at stratum 0 carries no kiss code.
    assert Packet(mode=3, stratum=0, reference_id="RATE").kiss_code is None


def test_keyword_construction() -> None:
    when = datetime.datetime(2040, 5, 6, 7, 8, 9, 500000, tzinfo=datetime.timezone.utc)
    p = Packet(
        leap=Leap.INSERT_SECOND,
        version=3,
        mode=Mode.SYMMETRIC_ACTIVE,
        stratum=5,
        poll=10,
        precision=-18,
        root_delay=0.5,
        root_dispersion=1.25,
        reference_id=ipaddress.IPv4Address("198.51.100.9"),
        reference_time=when,
        origin_time=NtpTimestamp(5, 6),
        receive_time=1_700_000_000.25,
        transmit_time=1_700_000_001,
    )
    assert (p.leap, p.version, p.mode, p.stratum, p.poll, p.precision) == (
        Leap.INSERT_SECOND, 3, Mode.SYMMETRIC_ACTIVE, 5, 10, -18,
    )
    assert (p.root_delay, p.root_dispersion) == (0.5, 1.25)
    assert p.reference_time.to_datetime() == when
    assert (p.origin_time.seconds, p.origin_time.fraction) == (5, 6)
    assert p.receive_time.unix == pytest.approx(1_700_000_000.25)
    assert p.transmit_time.unix == 1_700_000_001


def test_construction_errors_say_why() -> None:
    with pytest.raises(ValueError, match="mode must be an int in 0..=7"):
        Packet(mode=9)
    with pytest.raises(ValueError, match="at most 4 ASCII"):
        Packet(reference_id="TOOLONG")
    with pytest.raises(ValueError, match="naive datetime"):
        Packet(transmit_time=datetime.datetime(2020, 1, 1))
    with pytest.raises(ntp_py.ParseError, match="neither a MAC"):
        Packet(trailer=b"\x01\x02")


def test_trailer_with_mac_and_extension_field() -> None:
    ext = (0x0104).to_bytes(2, "big") + (28).to_bytes(2, "big") + bytes(range(24))
    key = ntp_py.Key(9, "SHA1", b"secret")
    signed = ntp_py.sign(Packet(mode=3, trailer=ext).to_bytes(), key)
    p = Packet.parse(signed)
    assert p.extension_fields == [(0x0104, bytes(range(24)))]
    assert p.key_id == 9 and p.mac is not None and len(p.mac) == 20


header: st.SearchStrategy[Dict[str, Any]] = st.builds(
    dict,
    leap=st.integers(0, 3),
    version=st.integers(0, 7),
    mode=st.integers(0, 7),
    stratum=st.integers(0, 255),
    poll=st.integers(-128, 127),
    precision=st.integers(-128, 127),
    reference_id=st.binary(min_size=4, max_size=4),
    reference_time=st.integers(0, 2**64 - 1).map(NtpTimestamp.from_bits),
    origin_time=st.integers(0, 2**64 - 1).map(NtpTimestamp.from_bits),
    receive_time=st.integers(0, 2**64 - 1).map(NtpTimestamp.from_bits),
    transmit_time=st.integers(0, 2**64 - 1).map(NtpTimestamp.from_bits),
)


@given(st.binary(min_size=48, max_size=48))
def test_any_header_round_trips(data: bytes) -> None:
    p = Packet.parse(data)
    assert p.to_bytes() == data
    rebuilt = Packet(
        leap=p.leap,
        version=p.version,
        mode=p.mode,
        stratum=p.stratum,
        poll=p.poll,
        precision=p.precision,
        root_delay=p.root_delay,
        root_dispersion=p.root_dispersion,
        reference_id=p.reference_id_bytes,
        reference_time=p.reference_time,
        origin_time=p.origin_time,
        receive_time=p.receive_time,
        transmit_time=p.transmit_time,
    )
    assert rebuilt.to_bytes() == data


@given(header)
def test_fields_survive_encode_decode(fields: Dict[str, Any]) -> None:
    p = Packet.parse(Packet(**fields).to_bytes())
    assert (int(p.leap), p.version, int(p.mode), p.stratum, p.poll, p.precision) == (
        fields["leap"], fields["version"], fields["mode"], fields["stratum"], fields["poll"], fields["precision"],
    )
    assert p.reference_id_bytes == fields["reference_id"]
    for name in ("reference_time", "origin_time", "receive_time", "transmit_time"):
        assert getattr(p, name) == fields[name]


@given(st.binary(max_size=200))
def test_parse_never_crashes(data: bytes) -> None:
    try:
        p = Packet.parse(data)
    except ntp_py.ParseError:
        return
    # Whatever parses, every field reads.
    _ = (p.leap, p.mode, p.reference_id, p.kiss_code, p.extension_fields, p.key_id, p.mac)
