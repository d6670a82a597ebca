"""Keys, key files in both dialects, sign and verify."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ntp_py
from ntp_py import Key, Keyring, Packet, sign, verify

from conftest import KEYS

REQUEST = Packet(mode=3, transmit_time=1_800_000_000.5).to_bytes()


def chrony_text() -> str:
    return "# chrony.keys\n" + "".join(f"{i} {t} HEX:{h}\n" for i, t, h in KEYS)


def ntp_text() -> str:
    return "# ntp.keys\n" + "".join(f"{i} {t} {h}\n" for i, t, h in KEYS)


@pytest.mark.parametrize("text", [chrony_text(), ntp_text()], ids=["chrony", "ntp"])
def test_both_dialects_give_the_same_keys(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keys"
    path.write_text(text)
    ring = Keyring.from_file(path)
    assert ring.ids() == [1, 2, 3, 4] and len(ring) == 4 and 2 in ring
    for key_id, key_type, hex_secret in KEYS:
        key = ring.get(key_id)
        assert key is not None and key == Key.from_hex(key_id, key_type, hex_secret)
        assert ring.is_trusted(key_id)


def test_dialect_guess_and_override() -> None:
    # Untagged 40 digits: 20 hex bytes to ntpd, 40 ASCII characters to chrony.
    line = "3 SHA1 933F62BE1D604E68A81B557F18CFA200483F5B70\n"
    as_ntp = Keyring.from_text(line).get(3)
    as_chrony = Keyring.from_text(line, dialect="chrony").get(3)
    assert as_ntp == Key.from_hex(3, "SHA1", "933F62BE1D604E68A81B557F18CFA200483F5B70")
    assert as_chrony == Key(3, "SHA1", "933F62BE1D604E68A81B557F18CFA200483F5B70")
    # A two-field line is chrony's (MD5 by default).
    assert Keyring.from_text("10 tulip\n").get(10) == Key(10, "MD5", b"tulip")


def test_trusted_list() -> None:
    ring = Keyring.from_text(chrony_text(), trusted="2-3")
    assert [ring.is_trusted(i) for i in (1, 2, 3, 4)] == [False, True, True, False]
    signed = sign(REQUEST, Key.from_hex(*KEYS[0]))
    with pytest.raises(ntp_py.UntrustedKey, match="key id 1 is configured but not trusted") as info:
        verify(signed, ring)
    assert info.value.key_id == 1


def test_key_file_errors_name_the_line_not_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "chrony.keys"
    path.write_text("1 MD5 HEX:00\n2 AES128 HEX:0011\n")
    with pytest.raises(ntp_py.KeyFileError, match=r"chrony.keys: line 2: ") as info:
        Keyring.from_file(path, dialect="chrony")
    assert "0011" not in str(info.value)
    with pytest.raises(ntp_py.KeyFileError, match="line 1"):
        Keyring.from_text("1 NOPE 1234\n", dialect="ntp")
    with pytest.raises(OSError, match="cannot read key file"):
        Keyring.from_file(tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown key file dialect"):
        Keyring.from_text("", dialect="openntpd")


def test_key_construction_errors() -> None:
    with pytest.raises(ntp_py.InvalidKey, match="key id 0 is reserved"):
        Key(0, "MD5", b"x")
    with pytest.raises(ntp_py.InvalidKey, match="must be 16 bytes, this one is 3"):
        Key(1, "AES128", b"abc")
    with pytest.raises(ntp_py.InvalidKey, match="unknown key type"):
        Key(1, "ROT13", b"abc")
    with pytest.raises(ntp_py.InvalidKey, match="not hexadecimal"):
        Key.from_hex(1, "MD5", "zz")
    assert "secret" not in repr(Key(1, "MD5", b"hunter2")).replace("secret=<redacted>", "")


def test_key_parse_one_line() -> None:
    key = Key.parse("7 AES128 HEX:000102030405060708090A0B0C0D0E0F")
    assert (key.id, key.type, key.digest_len, key.mac_len) == (7, "AES128", 16, 20)
    key = Key.parse("8 SHA256 6B86B273FF34FCE19D6B804EFF5A3F5747ADA4EA", dialect="ntp")
    assert (key.type, key.mac_len) == ("SHA256", 24)


def test_verify_says_why() -> None:
    md5 = Key.from_hex(*KEYS[0])
    ring = Keyring([md5])
    signed = sign(REQUEST, md5)
    assert verify(signed, ring) == md5 and verify(signed, md5) == md5
    with pytest.raises(ntp_py.NoMac, match="carries no MAC"):
        verify(REQUEST, ring)
    with pytest.raises(ntp_py.CryptoNak):
        verify(REQUEST + bytes(4), ring)
    with pytest.raises(ntp_py.UnknownKey, match="key id 2 is not configured") as unknown:
        verify(sign(REQUEST, Key.from_hex(*KEYS[1])), ring)
    assert unknown.value.key_id == 2
    tampered = bytearray(signed)
    tampered[40] ^= 1
    with pytest.raises(ntp_py.BadMac, match="key id 1 does not match"):
        verify(bytes(tampered), ring)
    wrong_secret = Key(1, "MD5", b"not the secret")
    with pytest.raises(ntp_py.BadMac):
        verify(sign(REQUEST, wrong_secret), ring)
    with pytest.raises(ntp_py.BadMac, match="digest is 16 bytes, but the MAC holds 20"):
        verify(sign(REQUEST, Key(1, "SHA1", b"x")), ring)
    for cls in (ntp_py.NoMac, ntp_py.CryptoNak, ntp_py.UnknownKey, ntp_py.UntrustedKey, ntp_py.BadMac):
        assert issubclass(cls, ntp_py.AuthenticationError) and issubclass(cls, ntp_py.NtpError)


key_types = st.sampled_from(["MD5", "SHA1", "SHA256", "SHA384", "SHA512", "AES128", "AES256"])


@st.composite
def keys(draw: st.DrawFn) -> Key:
    key_type = draw(key_types)
    size = {"AES128": 16, "AES256": 32}.get(key_type)
    secret = draw(st.binary(min_size=size or 1, max_size=size or 32))
    return Key(draw(st.integers(1, 2**32 - 1)), key_type, secret)


@given(keys(), st.binary(min_size=48, max_size=48), st.integers(0, 47 * 8 - 1))
def test_sign_verify_and_any_flipped_bit_fails(key: Key, header: bytes, bit: int) -> None:
    signed = sign(header, key)
    assert len(signed) == 48 + key.mac_len
    assert Packet.parse(signed).key_id == key.id
    assert verify(signed, Keyring([key])) == key
    flipped = bytearray(signed)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(ntp_py.BadMac):
        verify(bytes(flipped), key)
