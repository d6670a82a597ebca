#!/usr/bin/env python3
"""Writes the hand-made seed corpus of the fuzz targets.

    python3 fuzz/seeds/make_seeds.py        # from the repository root

Seeds only give the fuzzer a head start: each file is one input that reaches
a part of the code random bytes find slowly (a valid MAC length, a well-formed
extension field, an era boundary). The output is deterministic, so running
the script again leaves git with nothing to commit. Files named `regress-*`
are inputs the fuzzer found; they are kept verbatim and this script leaves
them alone.

packet/      raw datagrams, as a socket would deliver them (RFC 5905, RFC 7822),
             plus `capture-*.bin`: real chronyd and NTPsec packets copied from
             ntp-wire/testdata (see its README.md).
extensions/  `Input` of fuzz_targets/extensions.rs, encoded the way the
             `arbitrary` crate (1.x) decodes it.
timestamps/  `Input` of fuzz_targets/timestamps.rs, likewise.
mac/         received packets signed with the target's fixed keys (MD5, SHA1,
             the truncated SHA-2s; the real chrony/NTPsec captures with keys 1
             and 2), and, after a 0 byte, `Built` inputs: one per key type.
keyfile/     key files of both dialects and trusted-key lists, as text.
leapfile/    leap-seconds.list files as text (the tzdata copy among them),
             and, after a 0 byte, `Built` inputs.
engine/      `Input` of fuzz_targets/engine.rs: scenarios that reach
             synchronization, steps, symmetric and broadcast peers, kisses of
             death, floods, reflections and configuration changes.

For the structured targets the encoding mirrors arbitrary 1.x: integers
little-endian in field order, a `Vec` as its elements each preceded by a byte
whose low bit says "another element follows", an `Option` as such a byte then
the value, an enum as a little-endian u32 `v` choosing variant
`(v * count) >> 32`. Should arbitrary change that, the seeds still decode to
valid (if less targeted) inputs. `cargo fuzz fmt --sanitizer none TARGET FILE`
prints what a seed decodes to.
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


# ---- real captures ------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(HERE))
TESTDATA = os.path.join(ROOT, "ntp-wire", "testdata")

# The public keys of ntp-wire/testdata/README.md.
MD5_KEY = b"interop-md5-key"
SHA1_KEY = bytes.fromhex("6e74702d776972652073686131206b6579212121")


def capture(path):
    with open(os.path.join(TESTDATA, path), "rb") as f:
        return f.read()


def capture_seeds():
    """Real packets for the `packet` corpus (the smoke test adds the others)."""
    return {
        "capture-chrony-server-reply.bin": capture("chrony/server-reply.bin"),
        "capture-chrony-server-reply-md5.bin": capture("chrony/server-reply-md5.bin"),
        "capture-chrony-client-request-sha1.bin": capture("chrony/client-request-sha1.bin"),
        "capture-chrony-server-reply-extfield.bin": capture("chrony/server-reply-extfield.bin"),
        "capture-ntpsec-kod-rate.bin": capture("ntpsec/ntpd-kod-rate.bin"),
        "capture-ntpsec-ntpdig-request-md5.bin": capture("ntpsec/ntpdig-request-md5.bin"),
    }


# ---- mac ---------------------------------------------------------------------

# fuzz_targets/mac.rs RING: id, hash name, secret (the CMAC keys are left out:
# Python's standard library has no AES).
MAC_RING = [
    (1, "md5", MD5_KEY),
    (2, "sha1", SHA1_KEY),
    (3, "sha256", b"sha256 fuzz key"),
    (4, "sha384", b"sha384 fuzz key, not trusted"),
    (5, "sha512", b"sha512 fuzz key"),
    (0xFFFF_FFFF, "sha1", b"the largest key id"),
]
KEY_TYPES = ["md5", "sha1", "sha256", "sha384", "sha512", "aes128", "aes256"]  # KeyType::ALL


def wire_mac(key_id, name, key, packet):
    """A legacy MAC with the digest cut to 20 bytes, as chrony and NTPsec send SHA-2."""
    digest = hashlib.new(name, key + packet).digest()[:20]
    return struct.pack(">I", key_id) + digest


def mac_built(key_type, key_id, secret, fields, mask=1):
    """`Built` of fuzz_targets/mac.rs, after the 0 byte that selects it."""
    encoded_fields = arb_vec([struct.pack("<H", t) + arb_vec([bytes([b]) for b in v]) for t, v in fields])
    return (b"\0" + SERVER + bytes([KEY_TYPES.index(key_type)]) + struct.pack("<I", key_id)
            + arb_vec([bytes([b]) for b in secret]) + encoded_fields + bytes([mask]))


def mac_seeds():
    seeds = {}
    for key_id, name, key in MAC_RING:
        seeds[f"signed-{name}-{key_id}"] = SERVER + wire_mac(key_id, name, key, SERVER)
    body = CLIENT + extension(0x0104, bytes(range(32)))
    seeds["signed-sha256-after-field"] = body + wire_mac(3, "sha256", b"sha256 fuzz key", body)
    seeds["unknown-key"] = SERVER + wire_mac(99, "md5", b"x", SERVER)
    seeds["bad-digest"] = SERVER + struct.pack(">I", 1) + bytes(16)
    seeds["crypto-nak"] = SERVER + bytes(4)
    seeds["no-mac"] = CLIENT
    seeds["capture-chrony-server-reply-md5"] = capture("chrony/server-reply-md5.bin")
    seeds["capture-chrony-server-reply-sha1"] = capture("chrony/server-reply-sha1.bin")
    seeds["capture-ntpsec-ntpdig-request-md5"] = capture("ntpsec/ntpdig-request-md5.bin")
    seeds["built-md5"] = mac_built("md5", 1, b"abcdefgh", [])
    seeds["built-sha1-field"] = mac_built("sha1", 2, SHA1_KEY, [(0x0104, bytes(range(32)))])
    seeds["built-sha256"] = mac_built("sha256", 7, b"0123456789", [(0x0002, b"\x05" * 5)], mask=0x80)
    seeds["built-sha384-two-fields"] = mac_built("sha384", 65535, b"k", [(0x7777, b"\x01"), (0x0104, bytes(12))])
    seeds["built-sha512"] = mac_built("sha512", 0xFFFF_FFFF, bytes(range(64)), [])
    seeds["built-aes128"] = mac_built("aes128", 3, bytes(range(16)), [(0x0204, bytes(24))])
    seeds["built-aes256"] = mac_built("aes256", 4, bytes(range(32)), [])
    return seeds


# ---- keyfile -----------------------------------------------------------------

def keyfile_seeds():
    return {
        "chrony-testdata.keys": b"1 MD5 ASCII:interop-md5-key\n2 SHA1 HEX:6e74702d776972652073686131206b6579212121\n",
        "ntpsec-testdata.keys": b"1 md5 interop-md5-key\n2 sha1 6e74702d776972652073686131206b6579212121\n",
        "chrony-manual.keys": (
            b"# comment\n% comment\n! comment\n; comment\n10 tulip\n11 hyacinth\n20 MD5 ASCII:crocus\n"
            b"25 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70\n30 AES128 HEX:7EA62AE64D190114D46D5A082F948EC1\n"
            b"31 AES256 HEX:37DDCBC67BB902BCB8E995977FAB4D2B5642F5B32EBCEEE421921D97E5CBFE39\n"
            b"  40   SHA512   pass#word\r\n"),
        "ntp-manual.keys": (
            b"# ntp.keys, as NTPsec's keygen writes it\n1 MD5 tulip            # a comment after the key\n"
            b"2 SHA1 933F62BE1D604E68A81B557F18CFA200483F5B70\n\n3\taes-128\t7ea62ae64d190114d46d5a082f948ec1\r\n"
            b"4 M abcdefghijklmnopqrst\n   5 SHA256 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n"),
        "errors.keys": (
            b"1 MD5\nS3cr3tW0rd\n1 MD5 key 10.0.0.1\nx MD5 key\n0 MD5 key\n1 RC4 key\n1 MD5 caf\xc3\xa9\n"
            b"1 SHA1 933F62BE1D604E68A81B557F18CFA200483F5B7Z\n1 AES128 0123456789abcdef0123\n"
            b"5 MD5 HEX:123\n5 MD5 ASCII:\n5 AES256 HEX:7EA62AE64D190114D46D5A082F948EC1\n"
            b"1 S3cr3tW0rd ASCII:S3cr3tW0rd\n1 MD5 HEX:S3cr3tW0rd\n"),
        "duplicate.keys": b"# keys\n1 a\n2 b\n1 c\n",
        "trusted-list": b"1 2, 5-7 (10 ... 12) 4294967295",
        "trusted-list-errors": b"1 5-\n7-5\n(5 7)\n(0 ... 7)\n4294967296\n",
    }


# ---- leapfile ----------------------------------------------------------------

def leapfile_built(start=540, first_tai=37, steps=(), updated=None, expires=(120, 0), layout=0, comments=True,
                   crlf=False, short_words=True, edits=(), shift=0):
    """`Built` of fuzz_targets/leapfile.rs, after the 0 byte that selects it."""
    encoded_steps = arb_vec([bytes([gap, int(insert)]) for gap, insert in steps])
    encoded_updated = b"\x00" if updated is None else b"\x01" + struct.pack("<I", updated)
    return (b"\0" + struct.pack("<HB", start, first_tai) + encoded_steps + encoded_updated
            + struct.pack("<HI", *expires) + bytes([layout, int(comments), int(crlf), int(short_words)])
            + arb_vec([struct.pack("<H", e) for e in edits]) + bytes([shift]))


def leapfile_seeds():
    with open(os.path.join(ROOT, "ntp-algo", "testdata", "leap-seconds.list"), "rb") as f:
        real = f.read()
    return {
        "tzdata-leap-seconds.list": real,
        "no-hash.list": b"#$\t3960835200\n#@\t4100000000\n3692217600 37 # 1 Jan 2017\n3991852800 38\n4007750400 37\n",
        "bad-lines.list": b"#@ 3991593600\n3692217600 37\n3991852801 38\n#h 1 2 3 4\n",
        # The real history: 1972-01 at 10 s, then 27 insertions.
        "built-history": leapfile_built(start=0, first_tai=10, steps=[(5, True), (5, True)] + [(11, True)] * 8,
                                        updated=3960835200 % 2**32, expires=(654, 0), edits=(3, 40, 77, 200)),
        "built-deletions": leapfile_built(start=660, first_tai=2, steps=[(0, False), (2, False), (0, False)],
                                          layout=3, crlf=True, short_words=False, edits=(0, 9, 18, 27), shift=4),
        "built-hash-first": leapfile_built(start=2399, steps=[(23, True)] * 3, expires=(2999, 2_419_199), layout=6,
                                           comments=False, edits=(1, 2, 3, 4)),
    }


# ---- engine ------------------------------------------------------------------

def variant(index, count):
    return arb_variant(index, count)


def opt(value):
    return b"\x00" if value is None else b"\x01" + value


def engine_setup(require_authentication=False, crypto_nak=False, answer_symmetric=True, default_class=0,
                 local_reference=None, orphan=None, max_associations=0, max_ephemeral=2, max_broadcast=2,
                 rate_capacity=3, rate_burst=3, send_kod=True, quick=True, iburst=True, saved_frequency=None):
    """`Setup` of fuzz_targets/engine.rs."""
    return (bytes([require_authentication, crypto_nak, answer_symmetric, default_class])
            + opt(None if local_reference is None else bytes([local_reference]))
            + opt(None if orphan is None else bytes([orphan]))
            + bytes([max_associations, max_ephemeral, max_broadcast, rate_capacity, rate_burst, send_kod, quick,
                     iburst])
            + opt(None if saved_frequency is None else struct.pack("<h", saved_frequency)))


OPS = 12  # variants of `Op`


def op_receive(source, payload):
    return variant(0, OPS) + bytes([source]) + payload


def op_flood(first_source, count, signed=False):
    return variant(1, OPS) + bytes([first_source, count, signed])


def op_advance(millis):
    return variant(2, OPS) + struct.pack("<I", millis)


def op_timeout():
    return variant(3, OPS)


def op_jump_back(millis):
    return variant(4, OPS) + struct.pack("<H", millis)


def op_add(mode, source, key=0, min_poll=7, max_poll=11, iburst=True, burst=False, prefer=False):
    """mode: index into [client, sym active, sym passive, bcast server, bcast client]; polls are n + 1."""
    return variant(5, OPS) + bytes([mode, source, key, min_poll, max_poll, iburst, burst, prefer])


def op_remove(which):
    return variant(6, OPS) + bytes([which])


def op_leap(delete=False, at=None):
    return variant(7, OPS) + bytes([delete]) + (at if at is not None else variant(0, 3))


def op_clear_leap():
    return variant(8, OPS)


def op_leap_list():
    return variant(9, OPS)


def op_key(which, action):
    """action: 0 trust, 1 untrust, 2 remove, 3 restore."""
    return variant(10, OPS) + bytes([which]) + variant(action, 4)


def op_drain():
    return variant(11, OPS)


def payload_raw(data):
    return variant(0, 3) + arb_vec([bytes([b]) for b in data])


def payload_reflect(which, flip=None):
    return variant(2, 3) + bytes([which]) + opt(None if flip is None else bytes(flip))


def origin_pending(which, from_it=True):
    return variant(1, 3) + bytes([which, from_it])


def payload_packet(mode=4, leap=0, stratum=1, poll=6, precision=-20, root_delay=0, root_dispersion=0x10,
                   refid=b"GPS\0", origin=None, offset_ms=20, hold_ms=1, reference_age=16, auth=None,
                   mutation=None):
    """A `PacketSpec`; `auth` is None (unsigned), ("sign", n), "nak" or "truncated"."""
    if auth is None:
        encoded_auth = variant(0, 4)
    elif auth == "nak":
        encoded_auth = variant(2, 4)
    elif auth == "truncated":
        encoded_auth = variant(3, 4)
    else:
        encoded_auth = variant(1, 4) + bytes([auth[1]])
    return (variant(1, 3) + bytes([mode, 0, leap, stratum]) + struct.pack("<bbII", poll, precision, root_delay,
                                                                         root_dispersion)
            + refid + (origin if origin is not None else variant(0, 3)) + struct.pack("<iHH", offset_ms, hold_ms,
                                                                                      reference_age)
            + encoded_auth + opt(None if mutation is None else bytes(mutation)))


def engine_input(setup, ops):
    return setup + arb_vec(ops)


def answer(association, offset_ms=20, **kwargs):
    """A server's reply to association `association`'s pending request, from its address."""
    return op_receive(0, payload_packet(origin=origin_pending(association), offset_ms=offset_ms, **kwargs))


def engine_seeds():
    sync = []
    for _ in range(10):
        sync += [op_advance(2000), answer(0), answer(1, auth=("sign", 0))]
    sync += [op_drain(), op_leap(), op_leap_list(), op_advance(3_600_000), op_drain()]

    step = []
    for _ in range(10):
        step += [op_advance(2000), answer(0, offset_ms=900), answer(1, offset_ms=900, auth=("sign", 0))]
    step += [op_drain(), op_advance(600_000), op_drain()]

    symmetric = []
    for _ in range(8):
        symmetric += [op_advance(3000), op_drain(),
                      op_receive(2, payload_packet(mode=1, stratum=2, origin=origin_pending(2), auth=("sign", 1))),
                      op_receive(3, payload_packet(mode=1, stratum=3)),
                      op_receive(7, payload_packet(mode=5, stratum=2, auth=("sign", 3)))]
    symmetric += [op_drain(), op_advance(4_000_000), op_drain()]

    hostile = [op_advance(1000), op_drain(),
               answer(0, stratum=0, refid=b"RATE"), answer(1, stratum=0, refid=b"DENY", auth=("sign", 0)),
               answer(1, stratum=0, refid=b"DENY"), answer(1, auth=("sign", 5)), answer(1, auth="truncated"),
               answer(0, auth="nak"), op_receive(3, payload_packet(mode=1, auth=("sign", 2))),
               op_receive(3, payload_packet(mode=1, auth=("sign", 4))), op_receive(9, payload_packet(mode=5)),
               op_receive(5, payload_packet(mode=3)), op_receive(8, payload_packet(mode=3)),
               op_receive(4, payload_packet(mode=2, origin=variant(2, 3) + struct.pack("<Q", 7))),
               op_drain(), op_receive(0, payload_reflect(0)),
               op_receive(0, payload_reflect(1, (40, 1))), op_drain()]

    floods = [op_flood(0, 255), op_flood(4, 255, True), op_advance(1000), op_flood(7, 255), op_drain(),
              op_flood(0, 200), op_drain()]

    config = [op_add(0, 7, key=1), op_add(1, 3, key=2), op_add(3, 9), op_add(0, 7), op_add(0, 8, key=5),
              op_add(0, 8, key=6), op_add(0, 8, min_poll=20, max_poll=3), op_remove(0), op_remove(200),
              op_key(0, 1), op_key(1, 2), op_advance(70_000), op_drain(), op_key(1, 3), op_key(2, 0),
              op_leap(at=variant(1, 3) + struct.pack("<i", -1)), op_leap(True, variant(2, 3) + bytes([1]) +
                                                                        struct.pack("<Q", 2**63)),
              op_clear_leap(), op_jump_back(30_000), op_timeout(), op_advance(200_000), op_drain()]

    captures = [op_receive(0, payload_raw(capture("chrony/server-reply.bin"))),
                op_receive(1, payload_raw(capture("chrony/server-reply-md5.bin"))),
                op_receive(6, payload_raw(capture("ntpsec/ntpdig-request-md5.bin"))),
                op_receive(7, payload_raw(capture("chrony/client-request-extfield.bin"))),
                op_receive(0, payload_raw(capture("ntpsec/ntpd-kod-rate.bin"))), op_drain()]

    return {
        "client-sync": engine_input(engine_setup(), sync),
        "client-sync-local-reference": engine_input(engine_setup(local_reference=3, quick=False), sync),
        "client-step": engine_input(engine_setup(saved_frequency=12), step),
        "symmetric-and-broadcast": engine_input(engine_setup(), symmetric),
        "symmetric-and-broadcast-auth-required": engine_input(engine_setup(require_authentication=True), symmetric),
        "hostile": engine_input(engine_setup(crypto_nak=True), hostile),
        "hostile-auth-required": engine_input(engine_setup(require_authentication=True, default_class=1), hostile),
        "floods": engine_input(engine_setup(rate_capacity=7, rate_burst=0), floods),
        "configuration": engine_input(engine_setup(max_associations=3, orphan=5), config),
        "captures": engine_input(engine_setup(default_class=2), captures),
        # A month of uptime, then an association whose first poll is due at
        # once: its deadline used to come out 2^-32 s before `now`.
        "long-uptime": engine_input(engine_setup(), [op_advance(36 * 3600 * 1000 - 1)] * 20
                                    + [op_advance(12345), op_drain(), op_add(0, 7), op_drain()]),
    }


if __name__ == "__main__":
    write("packet", {**packet_seeds(), **capture_seeds()})
    write("extensions", extensions_seeds())
    write("timestamps", timestamps_seeds())
    write("mac", mac_seeds())
    write("keyfile", keyfile_seeds())
    write("leapfile", leapfile_seeds())
    write("engine", engine_seeds())
