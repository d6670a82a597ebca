#!/usr/bin/env python3
"""Writes the hand-made seed corpus of the fuzz targets.

    python3 fuzz/seeds/make_seeds.py        # from the repository root

Seeds only give the fuzzer a head start: each file is one input that reaches
a part of the code random bytes find slowly (a valid MAC length, a well-formed
extension field, an era boundary). The output is deterministic, so running
the script again leaves git with nothing to commit. Files named `regress-*`
are inputs the fuzzer found; they are kept verbatim and this script leaves
them alone.

packet/      raw datagrams, as a socket would deliver them (RFC 5905, RFC 7822).
extensions/  `Input` of fuzz_targets/extensions.rs, encoded the way the
             `arbitrary` crate (1.x) decodes it.
timestamps/  `Input` of fuzz_targets/timestamps.rs, likewise.

For the two structured targets the encoding mirrors arbitrary 1.x: integers
little-endian in field order, a `Vec` as its elements each preceded by a byte
whose low bit says "another element follows", an enum as a little-endian u32
`v` choosing variant `(v * count) >> 32`. Should arbitrary change that, the
seeds still decode to valid (if less targeted) inputs.
"""

import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# Seconds from the NTP epoch (1900) to the Unix epoch (1970).
UNIX_TO_NTP = 2_208_988_800


def ntp_ts(unix_seconds, fraction=0):
    """A 64-bit NTP timestamp (era dropped) for a Unix time."""
    return (((unix_seconds + UNIX_TO_NTP) % 2**32) << 32) | fraction


def header(li=0, vn=4, mode=3, stratum=0, poll=6, precision=-20, root_delay=0, root_dispersion=0,
           refid=b"\0\0\0\0", ref=0, org=0, rec=0, xmt=0):
    """The 48-byte NTP header (RFC 5905 §7.3)."""
    return struct.pack(">BBbbII4sQQQQ", (li << 6) | (vn << 3) | mode, stratum, poll, precision,
                       root_delay, root_dispersion, refid, ref, org, rec, xmt)


def extension(field_type, value, min_len=16):
    """An RFC 7822 extension field, zero-padded to a multiple of 4 and to `min_len`."""
    length = max(min_len, (4 + len(value) + 3) // 4 * 4)
    return struct.pack(">HH", field_type, length) + value + bytes(length - 4 - len(value))


def legacy_mac(key_id, key, packet, digest):
    """Key id and digest(key || packet), the legacy symmetric-key MAC (RFC 5905 §7.3)."""
    return struct.pack(">I", key_id) + hashlib.new(digest, key + packet).digest()


# Times from a plausible exchange on 2026-11-21 (Unix 1795273920).
T1 = ntp_ts(1_795_273_920, 0x1234_5678)
T2 = ntp_ts(1_795_273_920, 0x2000_0000)
T3 = ntp_ts(1_795_273_920, 0x2000_4000)
REF = ntp_ts(1_795_273_856, 0x8000_0000)

CLIENT = header(mode=3, poll=6, precision=-20, xmt=T1)
SERVER = header(mode=4, stratum=2, poll=6, precision=-23, root_delay=0x0000_0123, root_dispersion=0x0000_0456,
                refid=bytes([192, 0, 2, 1]), ref=REF, org=T1, rec=T2, xmt=T3)


def packet_seeds():
    """Raw datagrams for the `packet` target."""
    unique_id = extension(0x0104, bytes(range(32)))  # NTS Unique Identifier, 36 bytes
    return {
        "client-request": CLIENT,
        "server-reply": SERVER,
        # Kiss-o'-Death: stratum 0, kiss code in the refid, leap "alarm".
        "kod-rate": header(li=3, mode=4, stratum=0, refid=b"RATE", org=T1),
        "kod-deny": header(li=3, mode=4, stratum=0, refid=b"DENY", org=T1),
        "symmetric-active": header(mode=1, stratum=3, refid=bytes([198, 51, 100, 7]), ref=REF, org=T1, rec=T2,
                                   xmt=T3),
        "broadcast": header(mode=5, stratum=2, refid=bytes([192, 0, 2, 1]), ref=REF, xmt=T3),
        "ntpv3-client": header(vn=3, mode=3, xmt=T1),
        # A 20-byte MAC (MD5, key 1 = "abcdefgh") and a 24-byte one (SHA1).
        "client-mac-md5": CLIENT + legacy_mac(1, b"abcdefgh", CLIENT, "md5"),
        "server-mac-sha1": SERVER + legacy_mac(2, bytes(range(20)), SERVER, "sha1"),
        # A crypto-NAK: key id 0 and no digest.
        "crypto-nak": SERVER + bytes(4),
        # Extension fields: one long enough to stand last without a MAC, a short
        # one padded to the 28 bytes RFC 7822 §7.5 asks for, two before a MAC,
        # and one before a crypto-NAK.
        "ext-unique-id": CLIENT + unique_id,
        "ext-padded-last": CLIENT + extension(0x7777, b"\x01\x02\x03", min_len=28),
        "ext-two-then-mac": (lambda body: body + legacy_mac(7, b"abcdefgh", body, "md5"))(
            CLIENT + extension(0x0002, b"\x05" * 5) + unique_id),
        "ext-then-crypto-nak": SERVER + extension(0x0204, bytes(24)) + bytes(4),
        # Malformed: a length not a multiple of 4, a field overrunning the
        # packet, stray bytes after the header, and a short header.
        "bad-ext-length": CLIENT + struct.pack(">HH", 0x0104, 30) + bytes(28),
        "bad-ext-overrun": CLIENT + struct.pack(">HH", 0x0104, 64) + bytes(28),
        "bad-trailer-7": CLIENT + bytes(7),
        "truncated-47": CLIENT[:47],
    }


# ---- arbitrary 1.x encodings -------------------------------------------------

def arb_vec(items):
    """A non-final Vec: each element preceded by a "continue" byte, then a stop byte."""
    return b"".join(b"\x01" + item for item in items) + b"\x00"


def arb_variant(index, count):
    """The smallest u32 that selects variant `index` of `count`."""
    return struct.pack("<I", -(-(index << 32) // count))


def extensions_input(fields, end, shortfall=0):
    """fuzz_targets/extensions.rs `Input`: header, fields, end, shortfall."""
    encoded_fields = arb_vec([struct.pack("<H", t) + arb_vec([bytes([b]) for b in value]) for t, value in fields])
    kind, *rest = end
    if kind == "nothing":
        encoded_end = arb_variant(0, 4)
    elif kind == "nak":
        encoded_end = arb_variant(1, 4)
    elif kind == "mac16":
        encoded_end = arb_variant(2, 4) + struct.pack("<I", rest[0]) + bytes(range(16))
    else:
        encoded_end = arb_variant(3, 4) + struct.pack("<I", rest[0]) + bytes(range(20))
    return CLIENT + encoded_fields + encoded_end + bytes([shortfall])


def extensions_seeds():
    return {
        "no-fields": extensions_input([], ("nothing",)),
        "short-field-padded": extensions_input([(0x7777, b"\x01\x02\x03")], ("nothing",)),
        "two-fields-mac16": extensions_input([(0x0002, b"\x05" * 5), (0x0104, bytes(range(32)))], ("mac16", 1)),
        "field-mac20": extensions_input([(0x0204, bytes(20))], ("mac20", 0xFFFF_FFFF)),
        "field-crypto-nak": extensions_input([(0x0104, bytes(12))], ("nak",)),
        "buffer-too-small": extensions_input([(0x0104, bytes(8)), (0x0002, b"\x09")], ("mac16", 5), shortfall=3),
    }


def timestamps_input(ts=0, other_ts=0, duration=0, other_duration=0, short=0, era=0, pivot_era=0, pivot_ts=0,
                     unix_secs=0, unix_nanos=0, pivot_unix_secs=0, skew=0, std_secs=0, std_nanos=0, float=0.0,
                     log2=0):
    """fuzz_targets/timestamps.rs `Input`, fields in declaration order."""
    return struct.pack("<QQqqIiiQqIqiQIdb", ts, other_ts, duration, other_duration, short, era, pivot_era, pivot_ts,
                       unix_secs, unix_nanos, pivot_unix_secs, skew, std_secs, std_nanos, float, log2)


def timestamps_seeds():
    now = 1_795_273_920
    return {
        "zero": timestamps_input(),
        # An ordinary exchange: today's times, a pivot in the same era.
        "today": timestamps_input(ts=ntp_ts(now, 0x1234_5678), other_ts=ntp_ts(now - 64), duration=5 << 29,
                                  other_duration=-(3 << 30), short=0x0001_8000, era=0, pivot_era=1, pivot_ts=0,
                                  unix_secs=now, unix_nanos=123_456_789, pivot_unix_secs=1_700_000_000, skew=1000,
                                  std_secs=3, std_nanos=500_000_000, float=0.25, log2=6),
        # Around the 2036 era boundary, pivot on either side of it.
        "era-boundary": timestamps_input(ts=0xFFFF_FFFF_8000_0000, other_ts=0x0000_0000_8000_0000,
                                         duration=1 << 32, era=0, pivot_era=1, pivot_ts=0x0000_0010_0000_0000,
                                         unix_secs=2_085_978_495, unix_nanos=999_999_999,
                                         pivot_unix_secs=2_085_978_496, skew=-(2**31 - 1), float=-0.5, log2=-32),
        # The ends of every range.
        "extremes": timestamps_input(ts=2**64 - 1, other_ts=0, duration=-(2**63), other_duration=2**63 - 1,
                                     short=2**32 - 1, era=-(2**31), pivot_era=2**31 - 1, pivot_ts=2**64 - 1,
                                     unix_secs=-(2**63), unix_nanos=2**32 - 1, pivot_unix_secs=2**63 - 1,
                                     skew=-(2**31), std_secs=2**64 - 1, std_nanos=2**32 - 1, float=float("nan"),
                                     log2=-128),
        # The earliest SystemTime (i64::MIN Unix seconds, used to come out a
        # second late) and the latest.
        "systime-ends": timestamps_input(unix_secs=-(2**63), pivot_unix_secs=2**63 - 1, era=-(2**31), ts=0),
        # Values where rounding used to go wrong (see time.rs's tests).
        "rounding": timestamps_input(duration=(1 << 52) + 1, other_duration=-((1 << 53) - 1), short=1,
                                     float=0.49999999999999994 / 2**32, std_nanos=999_999_999, log2=31),
    }


def write(target, seeds):
    directory = os.path.join(HERE, target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    write("packet", packet_seeds())
    write("extensions", extensions_seeds())
    write("timestamps", timestamps_seeds())
