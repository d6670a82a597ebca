"""NtpTimestamp: Unix and datetime conversions, eras, arithmetic."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntp_py import NtpTimestamp

UTC = datetime.timezone.utc
ERA1 = datetime.datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC)

# 1800 to 2300: eras -1 to 2.
unix_ns = st.integers(-5_364_662_400 * 10**9, 10_413_792_000 * 10**9)


def test_era_boundary() -> None:
    ts = NtpTimestamp.from_datetime(ERA1)
    assert (ts.seconds, ts.fraction, ts.era) == (0, 0, 1)
    assert ts.to_datetime() == ERA1
    just_before = NtpTimestamp.from_datetime(ERA1 - datetime.timedelta(seconds=1))
    assert (just_before.seconds, just_before.era) == (2**32 - 1, 0)
    # Two seconds apart across the wrap.
    assert ts - just_before == 1.0
    assert just_before - ts == -1.0


def test_wire_timestamp_is_placed_near_the_pivot() -> None:
    wire = NtpTimestamp.from_bits(NtpTimestamp.from_datetime(ERA1 + datetime.timedelta(days=1)).bits)
    assert wire.to_datetime(pivot=ERA1) == ERA1 + datetime.timedelta(days=1)
    # The same bits near 1900 are in era 0.
    near_1900 = datetime.datetime(1900, 1, 3, tzinfo=UTC)
    assert wire.to_datetime(pivot=near_1900) == datetime.datetime(1900, 1, 2, tzinfo=UTC)


def test_unix_and_now() -> None:
    assert NtpTimestamp.from_unix(0).seconds == 2_208_988_800
    assert NtpTimestamp.from_unix(0.5).fraction == 2**31
    now = NtpTimestamp.now()
    assert abs(now.to_datetime() - datetime.datetime.now(UTC)) < datetime.timedelta(seconds=5)
    assert NtpTimestamp().is_zero


def test_bad_inputs_say_why() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        NtpTimestamp.from_datetime(datetime.datetime(2020, 1, 1))
    with pytest.raises(TypeError, match="int or a float"):
        NtpTimestamp.from_unix("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a representable Unix time"):
        NtpTimestamp.from_unix(float("nan"))


@given(unix_ns)
def test_unix_ns_round_trips_exactly_in_every_era(ns: int) -> None:
    ts = NtpTimestamp.from_unix_ns(ns)
    assert ts.unix_ns == ns
    assert ts.era == (ns // 10**9 + 2_208_988_800) // 2**32


@given(unix_ns, st.integers(-(2**31) + 1, 2**31 - 1))
def test_wire_bits_resolve_within_68_years_of_the_pivot(ns: int, shift: int) -> None:
    ts = NtpTimestamp.from_unix_ns(ns)
    wire = NtpTimestamp.from_bits(ts.bits)
    pivot = ns // 10**9 + shift
    assert wire.to_unix(pivot=pivot) == ts.unix


@given(st.datetimes(min_value=datetime.datetime(1901, 1, 1), max_value=datetime.datetime(2199, 12, 31)))
def test_datetime_round_trips(naive: datetime.datetime) -> None:
    when = naive.replace(tzinfo=UTC)
    ts = NtpTimestamp.from_datetime(when)
    assert ts.to_datetime() == when
    assert NtpTimestamp.from_bits(ts.bits).to_datetime(pivot=when) == when


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_difference_is_antisymmetric(a: int, b: int) -> None:
    x, y = NtpTimestamp.from_bits(a), NtpTimestamp.from_bits(b)
    if (a - b) % 2**64 != 2**63:
        assert x - y == -(y - x)
