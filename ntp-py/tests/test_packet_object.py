"""The Packet and NtpTimestamp objects themselves: fields decoded at parse
time agree with the bytes, the datagram and its trailer are kept, nothing
leaks, and the classes behave like the rest of the API (read-only,
final, Python's own argument errors)."""

from __future__ import annotations

import gc
import struct
import sys
import tracemalloc
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ntp_py
from ntp_py import Leap, Mode, NtpTimestamp, Packet

SERVER = bytes.fromhex(
    "240206e9" "00000010" "00000020" "c0000201"
    "eca55e7d34197c1e" "123456789abcdef0" "eca55e801d4c7f2a" "eca55e801d4e8b39"
)
EXTENSION = (0x0104).to_bytes(2, "big") + (28).to_bytes(2, "big") + bytes(range(24))
KEY = ntp_py.Key(9, "SHA1", b"secret")
MODES = [
    Mode.RESERVED, Mode.SYMMETRIC_ACTIVE, Mode.SYMMETRIC_PASSIVE, Mode.CLIENT,
    Mode.SERVER, Mode.BROADCAST, Mode.CONTROL, Mode.PRIVATE,
]


def with_trailer() -> bytes:
    return ntp_py.sign(Packet(mode=3, stratum=3, trailer=EXTENSION).to_bytes(), KEY)


@given(st.binary(min_size=48, max_size=48), st.sampled_from([b"", b"\x00\x00\x00\x00"]))
def test_fields_match_a_struct_decode(header: bytes, trailer: bytes) -> None:
    # An oracle written independently of ntp-wire: RFC 5905 §7.3's layout.
    lvm, stratum, poll, precision, delay, dispersion, refid, *times = struct.unpack("!BBbbII4sQQQQ", header)
    p = Packet.parse(header + trailer)
    assert (int(p.leap), p.version, int(p.mode)) == (lvm >> 6, (lvm >> 3) & 7, lvm & 7)
    assert (p.stratum, p.poll, p.precision) == (stratum, poll, precision)
    assert (p.root_delay, p.root_dispersion) == (delay / 65536, dispersion / 65536)
    assert p.reference_id_bytes == refid
    got = [t.bits for t in (p.reference_time, p.origin_time, p.receive_time, p.transmit_time)]
    assert got == times
    assert p.is_crypto_nak == (trailer != b"")
    assert p.mode == MODES[lvm & 7]
    assert p.leap == [Leap.NO_WARNING, Leap.INSERT_SECOND, Leap.DELETE_SECOND, Leap.UNSYNCHRONIZED][lvm >> 6]


def test_mode_and_leap_are_shared_objects() -> None:
    # One object per value, not one per packet or per read.
    a, b = Packet.parse(SERVER), Packet(mode=Mode.SERVER)
    assert a.mode == Mode.SERVER and a.mode is b.mode is a.mode
    assert a.leap == Leap.NO_WARNING and a.leap is b.leap


def test_a_packet_with_a_trailer_keeps_its_bytes() -> None:
    signed = with_trailer()
    assert len(signed) > 48
    p = Packet.parse(signed)
    assert p.to_bytes() is signed and bytes(p) is signed and len(p) == len(signed)
    assert p.extension_fields == [(0x0104, bytes(range(24)))]
    assert p.key_id == 9 and p.mac is not None and len(p.mac) == 20
    assert (p.mode, p.stratum) == (Mode.CLIENT, 3)
    # A copy from another buffer is equal, hashes alike, and parses alike.
    copy = Packet.parse(bytearray(signed))
    assert copy == p and hash(copy) == hash(p) == hash(signed)
    assert Packet.parse(copy.to_bytes()).to_bytes() == signed
    assert ntp_py.verify(copy.to_bytes(), KEY).id == 9


def test_a_buffer_is_copied_not_kept() -> None:
    buffer = bytearray(SERVER)
    p = Packet.parse(buffer)
    buffer[1] = 9
    buffer[40:48] = bytes(8)
    assert p.stratum == 2 and p.transmit_time.bits == 0xECA55E801D4E8B39
    assert p.to_bytes() == SERVER and type(p.to_bytes()) is bytes


def test_equality_and_hash() -> None:
    a, b = Packet.parse(SERVER), Packet.parse(bytes(SERVER))
    assert a == b and not (a != b) and hash(a) == hash(b)
    assert a != Packet.parse(SERVER[:1] + b"\x03" + SERVER[2:])
    assert a != SERVER and not (a == SERVER)
    with pytest.raises(TypeError):
        _ = a < b  # type: ignore[operator]


def test_fields_are_read_only() -> None:
    p = Packet.parse(SERVER)
    for name in ("mode", "stratum", "poll", "precision", "leap", "transmit_time"):
        with pytest.raises(AttributeError):
            setattr(p, name, getattr(p, name))
    with pytest.raises(AttributeError):
        p.extra = 1  # type: ignore[attr-defined]


def test_parse_reads_from_class_and_instance_alike() -> None:
    p = Packet.parse(SERVER)
    assert p.parse(SERVER) == p
    assert repr(p) == f"Packet(mode=server, version=4, stratum=2, leap=0, transmit_time=0x{0xECA55E801D4E8B39:016x}, len=48)"


def test_classes_are_final() -> None:
    for cls in (Packet, NtpTimestamp):
        with pytest.raises(TypeError):
            type("Sub", (cls,), {})


def test_constructor_arguments_like_python_functions() -> None:
    with pytest.raises(TypeError, match="no positional arguments"):
        Packet(3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'stratun'"):
        Packet(stratun=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="argument 'stratum'"):
        Packet(stratum="3")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        Packet(stratum=256)
    # None is "not given" for the optional ones.
    none = Packet(leap=None, mode=None, reference_id=None, transmit_time=None, trailer=None)
    assert none == Packet()
    assert NtpTimestamp(seconds=1, fraction=2) == NtpTimestamp(1, 2) == NtpTimestamp.from_bits(bits=2**32 + 2)
    with pytest.raises(TypeError, match="multiple values for argument 'seconds'"):
        NtpTimestamp(1, seconds=1)  # type: ignore[misc]
    with pytest.raises(TypeError, match="at most 2 arguments"):
        NtpTimestamp(1, 2, 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing required argument 'bits'"):
        NtpTimestamp.from_bits()  # type: ignore[call-arg]
    with pytest.raises(OverflowError):
        NtpTimestamp.from_bits(-1)


def test_timestamp_operators() -> None:
    a, b = NtpTimestamp(10, 0), NtpTimestamp(9, 2**31)
    assert a - b == 0.5 and b - a == -0.5
    assert a == NtpTimestamp.from_bits(a.bits) and a != b
    assert hash(a) == hash(NtpTimestamp.from_bits(a.bits))
    # All ones is -1 as a signed hash, which CPython reserves for errors.
    assert hash(NtpTimestamp.from_bits(2**64 - 1)) == -2
    for other in (1, 1.0, None):
        with pytest.raises(TypeError):
            _ = a - other  # type: ignore[operator]
        with pytest.raises(TypeError):
            _ = other - a  # type: ignore[operator]
    assert a != 10 and not (a == 10)
    with pytest.raises(TypeError):
        _ = a < b  # type: ignore[operator]
    assert repr(NtpTimestamp()).startswith("NtpTimestamp(0x0000000000000000")


def test_objects_are_not_gc_tracked() -> None:
    # Neither can be part of a cycle, so neither costs the GC anything.
    p = Packet.parse(SERVER)
    assert not gc.is_tracked(p) and not gc.is_tracked(p.transmit_time)


def parse_and_read(data: bytes, rounds: int) -> Optional[object]:
    last: Optional[object] = None
    for _ in range(rounds):
        p = Packet.parse(data)
        last = (p.stratum, p.mode, p.leap, p.transmit_time, p.to_bytes(), p.extension_fields, p.mac)
        try:
            Packet.parse(data[:47])
        except ntp_py.ParseError:
            pass
    return last


def test_references_are_given_back() -> None:
    signed = with_trailer()
    parse_and_read(signed, 10)
    counts = [sys.getrefcount(o) for o in (signed, Mode.CLIENT, Leap.NO_WARNING)]
    parse_and_read(signed, 1000)
    assert [sys.getrefcount(o) for o in (signed, Mode.CLIENT, Leap.NO_WARNING)] == counts


def test_parses_do_not_leak_memory() -> None:
    signed = with_trailer()
    parse_and_read(signed, 1000)
    tracemalloc.start()
    try:
        parse_and_read(signed, 1000)
        before, _ = tracemalloc.get_traced_memory()
        parse_and_read(signed, 20_000)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 20,000 packets of ~130 bytes each would be megabytes.
    assert after - before < 50_000
