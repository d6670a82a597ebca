"""The command-line tool, run as a subprocess like a user would."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Callable, List

import ntp_py
import pytest

from conftest import Chronyd, EngineServer, FakeServer, Responder, server_reply
from test_packet import SERVER


def run(*args: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-m", "ntp_py", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_command_and_exit_status() -> None:
    out = run("--help")
    assert out.returncode == 0
    for word in ("query", "peers", "rv", "mrulist", "decode", "check-config", "exit status"):
        assert word in out.stdout
    for command in ("query", "peers", "rv", "mrulist", "decode", "check-config"):
        sub = run(command, "--help")
        assert sub.returncode == 0 and "usage: ntp-py " + command in sub.stdout


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "ntp-py"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "ntp-py" in out.stdout


def test_query_chronyd_text_and_json(chronyd: Chronyd) -> None:
    out = run("query", "127.0.0.1", "--port", str(chronyd.port), "--timeout", "2")
    assert out.returncode == 0, out.stderr
    assert "stratum 1" in out.stdout and "refid 127.127.1.1" in out.stdout and "offset" in out.stdout
    out = run("query", "127.0.0.1", "-p", str(chronyd.port), "--json", "--keyfile", str(chronyd.keyfile), "--key", "2")
    assert out.returncode == 0, out.stderr
    [record] = json.loads(out.stdout)
    assert record["stratum"] == 1 and record["key_id"] == 2 and abs(record["offset"]) < 0.01


def test_query_failures_exit_1_with_the_reason(fake_server: Callable[[Responder], FakeServer]) -> None:
    kod = fake_server(lambda r: [server_reply(r, stratum=0, reference_id="RATE")])
    out = run("query", "127.0.0.1", "-p", str(kod.port), "--timeout", "2")
    assert out.returncode == 1
    assert "KissOfDeath: kiss-o'-death RATE" in out.stderr
    out = run("query", "127.0.0.1", "-p", str(kod.port), "--timeout", "2", "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)[0]["kiss_code"] == "RATE"


def test_query_usage_errors_exit_2(tmp_path: Path) -> None:
    out = run("query", "127.0.0.1", "--key", "1")
    assert out.returncode == 2 and "--key and --keyfile go together" in out.stderr
    keys = tmp_path / "chrony.keys"
    keys.write_text("1 MD5 HEX:00\n")
    out = run("query", "127.0.0.1", "--keyfile", str(keys), "--key", "5")
    assert out.returncode == 2 and "key id 5 is not in" in out.stderr
    assert run("query").returncode == 2


def test_decode_hex_explains_fields() -> None:
    out = run("decode", SERVER.hex())
    assert out.returncode == 0, out.stderr
    assert "mode             4 (server)" in out.stdout
    assert "reference id     192.0.2.1 (upstream server" in out.stdout
    assert "MAC              none" in out.stdout
    out = run("decode", "--json", SERVER.hex())
    [record] = json.loads(out.stdout)
    assert record["stratum"] == 2 and record["reference_id"] == "192.0.2.1"


def test_decode_bad_input() -> None:
    out = run("decode", "zz-not-hex")
    assert out.returncode == 2 and "neither a file nor hexadecimal" in out.stderr
    out = run("decode", "2402")
    assert out.returncode == 1 and "not an NTP packet: packet is 2 bytes" in out.stdout


def _pcap(frames: List[bytes]) -> bytes:
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    body = b"".join(struct.pack("<IIII", 0, 0, len(f), len(f)) + f for f in frames)
    return head + body


def _udp_frame(payload: bytes, sport: int, dport: int) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])) + udp
    return b"\x00" * 12 + b"\x08\x00" + ip


def test_decode_pcap(tmp_path: Path) -> None:
    signed = ntp_py.sign(ntp_py.Packet(mode=3).to_bytes(), ntp_py.Key(7, "AES128", bytes(16)))
    capture = tmp_path / "ntp.pcap"
    capture.write_bytes(_pcap([_udp_frame(signed, 40000, 123), _udp_frame(b"dns", 5353, 53), _udp_frame(SERVER, 123, 40000)]))
    out = run("decode", str(capture))
    assert out.returncode == 0, out.stderr
    assert "frame 1: 192.0.2.1:40000 -> 192.0.2.2:123: 68 bytes" in out.stdout
    assert "key id 7" in out.stdout
    assert "frame 3:" in out.stdout and "frame 2:" not in out.stdout


def _pcapng(frames: List[bytes], linktype: int) -> bytes:
    def block(kind: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        length = 12 + len(body)
        return struct.pack("<II", kind, length) + body + struct.pack("<I", length)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 65535))
    for f in frames:
        out += block(6, struct.pack("<IIIII", 0, 0, 0, len(f), len(f)) + f)
    return out


def test_decode_pcapng_raw_ip(tmp_path: Path) -> None:
    raw_ip = _udp_frame(SERVER, 123, 50000)[14:]  # strip the Ethernet header
    capture = tmp_path / "ntp.pcapng"
    capture.write_bytes(_pcapng([raw_ip], linktype=101))
    out = run("decode", "--json", str(capture))
    assert out.returncode == 0, out.stderr
    [record] = json.loads(out.stdout)
    assert record["source"] == "frame 1: 192.0.2.1:123 -> 192.0.2.2:50000"
    assert record["stratum"] == 2 and record["mode_name"] == "server"


def test_decode_capture_without_ntp(tmp_path: Path) -> None:
    capture = tmp_path / "dns.pcap"
    capture.write_bytes(_pcap([_udp_frame(b"dns", 5353, 53)]))
    out = run("decode", str(capture))
    assert out.returncode == 2 and "no UDP datagrams on the NTP port" in out.stderr
    out = run("decode", "--port", "53", str(capture))
    assert out.returncode == 1 and "not an NTP packet: packet is 3 bytes" in out.stdout


def test_check_config_prints_the_meaning_or_the_line(tmp_path: Path) -> None:
    assert ntp_py.CONFIG_AVAILABLE
    conf = tmp_path / "r1.cfg"
    conf.write_text("ntp authentication-key 1 md5 tulip\nntp trusted-key 1\nntp server 192.0.2.1 key 1\n")
    out = run("check-config", str(conf))
    assert out.returncode == 0, out.stderr
    assert "dialect: ios" in out.stdout and "192.0.2.1" in out.stdout and "tulip" not in out.stdout
    lines = ntp_py.check_config(str(conf))
    assert any("192.0.2.1" in line for line in lines)
    bad = tmp_path / "bad.cfg"
    bad.write_text("ntp authentication-key 1 md5 tulip\nntp frobnicate\n")
    out = run("check-config", str(bad))
    assert out.returncode == 1 and "line 2" in out.stderr and "tulip" not in out.stderr
    with pytest.raises(ntp_py.ParseError, match="line 2"):
        ntp_py.check_config(str(bad))
    out = run("check-config", str(tmp_path / "missing.conf"))
    assert out.returncode == 2 and "no such file" in out.stderr


def test_peers_table_and_json(engine_server: EngineServer) -> None:
    out = run("peers", "127.0.0.1", "--port", str(engine_server.port))
    assert out.returncode == 0, out.stderr
    header, rule, row = out.stdout.splitlines()
    assert header.split() == ["remote", "refid", "st", "t", "when", "poll", "reach", "delay", "offset", "jitter"]
    assert set(rule) == {"="}
    # Unreachable, never selected: a blank tally, stratum 16, reach 0.
    assert row.startswith(" 192.0.2.1 ")
    assert row.split() == ["192.0.2.1", "-", "16", "u", "-", "64", "0", "0.000", "0.000", "0.000"]
    out = run("peers", "127.0.0.1", "-p", str(engine_server.port), "--json")
    assert out.returncode == 0, out.stderr
    [peer] = json.loads(out.stdout)
    assert peer["address"] == "192.0.2.1" and peer["reach"] == 0 and peer["dispersion"] == 16.0
    assert peer["tally"] == " " and peer["configured"] is True and peer["poll"] == 64


def test_rv_and_mrulist(engine_server: EngineServer) -> None:
    out = run("rv", "127.0.0.1", "-p", str(engine_server.port))
    assert out.returncode == 0, out.stderr
    pairs = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert pairs["stratum"] == "3" and pairs["version"].startswith("ntp-algo")
    out = run("rv", "127.0.0.1", "-p", str(engine_server.port), "--json")
    system = json.loads(out.stdout)
    # Typed values in seconds; the raw texts as sent (milliseconds).
    assert system["stratum"] == 3
    assert system["root_dispersion"] == pytest.approx(float(system["raw"]["rootdisp"]) / 1e3)
    out = run("mrulist", "127.0.0.1", "-p", str(engine_server.port), "--json")
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)
    assert any(e["mode"] == 6 and e["address"] == "127.0.0.1" and e["count"] >= 2 for e in entries), entries
    out = run("mrulist", "127.0.0.1", "-p", str(engine_server.port))
    assert out.returncode == 0 and "127.0.0.1:" in out.stdout


def test_control_errors_exit_1_and_usage_errors_2(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        silent_port = str(s.getsockname()[1])
        out = run("peers", "127.0.0.1", "-p", silent_port, "--timeout", "0.5")
        assert out.returncode == 1 and "Timeout" in out.stderr and "within 0.5 s" in out.stderr
    out = run("rv", "127.0.0.1", "-p", silent_port, "--timeout", "1")
    assert out.returncode == 1 and "connection refused" in out.stderr
    out = run("rv", "127.0.0.1", "--key", "1")
    assert out.returncode == 2 and "--key and --keyfile go together" in out.stderr
    keys = tmp_path / "ntp.keys"
    keys.write_text("1 MD5 secret\n")
    out = run("peers", "127.0.0.1", "--keyfile", str(keys), "--key", "9")
    assert out.returncode == 2 and "key id 9" in out.stderr
    out = run("peers", "127.0.0.1", "--timeout", "0")
    assert out.returncode == 2 and "--timeout" in out.stderr
