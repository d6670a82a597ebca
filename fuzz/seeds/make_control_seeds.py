#!/usr/bin/env python3
"""Writes the seed corpus of the mode 6 fuzz targets.

    python3 fuzz/seeds/make_control_seeds.py    # from the repository root

control_packet/      mode 6 datagrams: NTPsec's captured READVAR request and
                     response (ntp-wire/testdata/ntpsec), an error response,
                     a fragment with the M bit, and messages signed with the
                     target's keys 1 (MD5) and 2 (SHA1), the MAC at
                     round8(12 + count).
control_varlist/     name=value lists: the captured ntpd list, quoted values
                     with commas, bare names, a variable request list.
control_reassembly/  a few byte strings; `Input` is decoded by `arbitrary`,
                     and any bytes make a valid input.

The output is deterministic: running the script again changes nothing.
"""

import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "..", "ntp-wire", "testdata", "ntpsec")
KEYS = {1: ("md5", b"interop-md5-key"), 2: ("sha1", b"ntp-wire sha1 key!!!")}


def write(target, name, data):
    directory = os.path.join(HERE, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def control(flags, sequence, data=b"", status=0, assoc=0, offset=0, version=2, leap=0):
    header = struct.pack(">BBHHHHH", (leap << 6) | (version << 3) | 6, flags, sequence, status, assoc, offset, len(data))
    body = header + data
    return body + b"\0" * (-len(body) % 4)


def signed(message, count, key_id):
    kind, secret = KEYS[key_id]
    end = (12 + count + 7) & ~7
    covered = message + b"\0" * (end - len(message))
    digest = hashlib.new(kind, secret + covered).digest()
    return covered + struct.pack(">I", key_id) + digest


def main():
    for name in ["ntpq-readvar-request.bin", "ntpd-readvar-response.bin"]:
        with open(os.path.join(TESTDATA, name), "rb") as f:
            write("control_packet", "capture-" + name, f.read())
    write("control_packet", "error-permission", control(0xC2, 9, status=0x0100))
    write("control_packet", "fragment-more", control(0xA2, 3, b"a=1, b=2, " * 10, offset=468))
    request = b"stratum,offset"
    write("control_packet", "signed-md5-request", signed(control(0x02, 5, request), len(request), 1))
    reply = b"stratum=2, offset=0.125000\r\n"
    write("control_packet", "signed-sha1-response", signed(control(0x82, 5, reply, status=0x0615), len(reply), 2))
    write("control_packet", "bad-mac-length", control(0x02, 1) + b"\0\0\0\1" + b"\0" * 12)

    with open(os.path.join(TESTDATA, "ntpd-readvar-response.bin"), "rb") as f:
        captured = f.read()
    count = struct.unpack(">H", captured[10:12])[0]
    write("control_varlist", "capture-ntpd-system", captured[12:12 + count])
    write("control_varlist", "quoted-commas", b'version="ntpd 4.2.8p15, NTPsec", processor="x86_64",\r\nsystem="Linux/6.1"\r\n')
    write("control_varlist", "bare-names", b"flash, reach=0x377, filtdelay= 0.12 0.34 0.56,\r\nsrcadr=192.0.2.1\r\n")
    write("control_varlist", "request-names", b"stratum,offset,rootdisp")
    write("control_varlist", "hostile-quote", b'a="x, b=1, c="y')

    write("control_reassembly", "short", bytes(range(64)))
    write("control_reassembly", "long", bytes((i * 7) % 251 for i in range(2048)))


if __name__ == "__main__":
    main()
