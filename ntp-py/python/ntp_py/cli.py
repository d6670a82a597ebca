"""The ``ntp-py`` command-line tool (also ``python -m ntp_py``)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import string
import sys
from typing import Any, Dict, List, Optional, Sequence, Union

from ntp_py._ntp_py import (
    ConfigUnavailable,
    Key,
    Keyring,
    KissOfDeath,
    MruEntry,
    NtpError,
    NtpTimestamp,
    Packet,
    PeerVariables,
    Reply,
    SystemVariables,
    check_config,
)
from ntp_py.client import query_many
from ntp_py.control import ControlClient
from ntp_py.pcap import is_capture, read_capture

EXIT_OK = 0
EXIT_NTP_ERROR = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

_EPILOG = """exit status:
  0  success
  1  an NTP error: no reply, an invalid or unauthenticated reply, a
     kiss-o'-death, an unsynchronized server (query); an error status or a
     garbled answer from a mode 6 server (peers, rv, mrulist); undecodable
     packet (decode)
  2  bad usage or unreadable input (argparse errors, missing files, bad keys)
  3  the feature is not built into this version (check-config without ntp-config)
"""


class _UsageError(Exception):
    """Bad arguments or input: exit status 2."""


def _refid_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _time_text(ts: NtpTimestamp) -> str:
    if ts.is_zero:
        return "0 (unset)"
    try:
        return f"0x{ts.bits:016x}  {ts.to_datetime().isoformat()}"
    except (OverflowError, ValueError):
        return f"0x{ts.bits:016x}"


def _reply_record(host: str, port: int, reply: Reply) -> Dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "offset": reply.offset,
        "delay": reply.delay,
        "root_distance": reply.root_distance,
        "stratum": reply.stratum,
        "reference_id": _refid_text(reply.reference_id),
        "leap": reply.leap.description,
        "root_delay": reply.root_delay,
        "root_dispersion": reply.root_dispersion,
        "key_id": reply.key_id,
        "transmit_time": reply.transmit_time.to_datetime().isoformat(),
    }


def _load_key(args: argparse.Namespace) -> Optional[Key]:
    if args.key is None and args.keyfile is None:
        return None
    if args.key is None or args.keyfile is None:
        raise _UsageError("--key and --keyfile go together")
    try:
        ring = Keyring.from_file(args.keyfile, dialect=args.key_dialect)
    except OSError as e:
        raise _UsageError(str(e)) from None
    except NtpError as e:
        raise _UsageError(str(e)) from None
    key = ring.get(args.key)
    if key is None:
        raise _UsageError(f"key id {args.key} is not in {args.keyfile} (it has {ring.ids()})")
    return key


def _cmd_query(args: argparse.Namespace) -> int:
    key = _load_key(args)
    results = query_many(
        args.hosts, args.port, key=key, timeout=args.timeout, version=args.version, concurrency=args.concurrency
    )
    records: List[Dict[str, Any]] = []
    status = EXIT_OK
    for host, result in zip(args.hosts, results):
        if isinstance(result, Reply):
            record = _reply_record(host, args.port, result)
            if not args.json:
                auth = f"  key {result.key_id}" if result.key_id is not None else ""
                print(
                    f"{host}:{args.port}  offset {result.offset:+.6f} s  delay {result.delay:.6f} s  "
                    f"stratum {result.stratum}  refid {record['reference_id']}  "
                    f"leap {result.leap.description}  root distance {result.root_distance:.6f} s{auth}"
                )
        else:
            status = EXIT_NTP_ERROR
            record = {"host": host, "port": args.port, "error": type(result).__name__, "message": str(result)}
            if isinstance(result, KissOfDeath):
                record["kiss_code"] = getattr(result, "code", None)
            if not args.json:
                print(f"ntp-py: {host}:{args.port}: {type(result).__name__}: {result}", file=sys.stderr)
        records.append(record)
    if args.json:
        print(json.dumps(records, indent=2))
    return status


def _packet_record(packet: Packet) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "length": len(packet),
        "leap": int(packet.leap),
        "leap_meaning": packet.leap.description,
        "version": packet.version,
        "mode": int(packet.mode),
        "mode_name": packet.mode.description,
        "stratum": packet.stratum,
        "poll": packet.poll,
        "precision": packet.precision,
        "root_delay": packet.root_delay,
        "root_dispersion": packet.root_dispersion,
        "reference_id": _refid_text(packet.reference_id),
        "kiss_code": packet.kiss_code,
    }
    for name in ("reference_time", "origin_time", "receive_time", "transmit_time"):
        ts: NtpTimestamp = getattr(packet, name)
        record[name] = None if ts.is_zero else ts.to_datetime().isoformat()
    record["extension_fields"] = [{"type": t, "length": len(v)} for t, v in packet.extension_fields]
    record["key_id"] = packet.key_id
    record["mac"] = packet.mac.hex() if packet.mac is not None else None
    record["crypto_nak"] = packet.is_crypto_nak
    return record


def _stratum_text(stratum: int) -> str:
    if stratum == 0:
        return "0 (unspecified or kiss-o'-death)"
    if stratum == 1:
        return "1 (primary: a reference clock)"
    if stratum <= 15:
        return f"{stratum} (secondary)"
    if stratum == 16:
        return "16 (unsynchronized)"
    return f"{stratum} (reserved)"


def _explain(packet: Packet) -> List[str]:
    refid = packet.reference_id
    if isinstance(refid, ipaddress.IPv4Address):
        refid_note = "upstream server address (or hash of an IPv6 address)"
    elif isinstance(refid, str):
        refid_note = "kiss code" if packet.kiss_code is not None else "reference source"
    else:
        refid_note = "no meaning at this stratum"
    lines = [
        f"  leap indicator   {int(packet.leap)} ({packet.leap.description})",
        f"  version          {packet.version}",
        f"  mode             {int(packet.mode)} ({packet.mode.description})",
        f"  stratum          {_stratum_text(packet.stratum)}",
        f"  poll             {packet.poll} (2^{packet.poll} = {2.0 ** packet.poll:g} s)",
        f"  precision        {packet.precision} (2^{packet.precision} = {2.0 ** packet.precision:.3g} s)",
        f"  root delay       {packet.root_delay:.6f} s",
        f"  root dispersion  {packet.root_dispersion:.6f} s",
        f"  reference id     {_refid_text(refid)} ({refid_note})",
        f"  reference time   {_time_text(packet.reference_time)}",
        f"  origin time      {_time_text(packet.origin_time)}",
        f"  receive time     {_time_text(packet.receive_time)}",
        f"  transmit time    {_time_text(packet.transmit_time)}",
    ]
    if packet.kiss_code is not None:
        lines.append(f"  kiss-o'-death    {packet.kiss_code}")
    for field_type, value in packet.extension_fields:
        lines.append(f"  extension field  type 0x{field_type:04x}, {len(value)} bytes of value")
    if packet.key_id is not None and packet.mac is not None:
        lines.append(f"  MAC              key id {packet.key_id}, digest {packet.mac.hex()} ({len(packet.mac)} bytes)")
    elif packet.is_crypto_nak:
        lines.append("  crypto-NAK       the sender could not authenticate the packet it answers")
    else:
        lines.append("  MAC              none (unauthenticated)")
    return lines


def _hex_bytes(text: str) -> Optional[bytes]:
    digits = "".join(ch for ch in text if ch not in string.whitespace + ":-")
    if digits.lower().startswith("0x"):
        digits = digits[2:]
    try:
        return bytes.fromhex(digits)
    except ValueError:
        return None


def _cmd_decode(args: argparse.Namespace) -> int:
    inputs: List[tuple[str, bytes]] = []
    source: str = args.input
    if os.path.exists(source):
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as e:
            raise _UsageError(f"cannot read {source}: {e.strerror}") from None
        if is_capture(data):
            try:
                datagrams = read_capture(data, tuple(args.port) if args.port else (123,))
            except ValueError as e:
                raise _UsageError(f"{source}: {e}") from None
            if not datagrams:
                raise _UsageError(f"{source}: no UDP datagrams on the NTP port(s) in the capture")
            for d in datagrams:
                label = f"frame {d.frame}: {d.source[0]}:{d.source[1]} -> {d.destination[0]}:{d.destination[1]}"
                inputs.append((label, d.payload))
        else:
            as_hex = _hex_bytes(data.decode("ascii", "replace"))
            inputs.append((source, as_hex if as_hex is not None and as_hex else data))
    else:
        as_hex = _hex_bytes(source)
        if as_hex is None:
            raise _UsageError(f"{source!r} is neither a file nor hexadecimal")
        inputs.append(("hex input", as_hex))
    status = EXIT_OK
    records: List[Dict[str, Any]] = []
    for label, payload in inputs:
        try:
            packet = Packet.parse(payload)
        except NtpError as e:
            status = EXIT_NTP_ERROR
            records.append({"source": label, "error": str(e)})
            if not args.json:
                print(f"{label}: not an NTP packet: {e}")
            continue
        record = _packet_record(packet)
        record["source"] = label
        records.append(record)
        if not args.json:
            print(f"{label}: {len(packet)} bytes")
            print("\n".join(_explain(packet)))
    if args.json:
        print(json.dumps(records, indent=2))
    return status


def _ts_text(ts: Optional[NtpTimestamp]) -> Optional[str]:
    if ts is None or ts.is_zero:
        return None
    try:
        return ts.to_datetime().isoformat()
    except (OverflowError, ValueError):
        return f"0x{ts.bits:016x}"


def _peer_kind(peer: PeerVariables) -> str:
    """The t column of ``ntpq -p``: l local (reference clock), u unicast
    client, s symmetric, b broadcast."""
    if isinstance(peer.address, ipaddress.IPv4Address) and str(peer.address).startswith("127.127."):
        return "l"
    if peer.hmode in (1, 2):
        return "s"
    if peer.hmode in (5, 6):
        return "b"
    return "u"


def _peer_when(peer: PeerVariables, clock: Optional[NtpTimestamp]) -> Optional[int]:
    """Seconds since the peer's last packet, by the server's own clock."""
    if clock is None or peer.rec is None or peer.rec.is_zero:
        return None
    since = clock - peer.rec
    return round(since) if since >= 0 else None


def _peer_poll(peer: PeerVariables) -> Optional[int]:
    """The poll column in seconds: the shorter of the two intervals (ntpq's)."""
    polls = [p for p in (peer.hpoll, peer.ppoll) if p is not None]
    return 1 << max(0, min(min(polls), 17)) if polls else None


def _ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value * 1e3:.3f}"


PEERS_HEADER = (
    "     remote           refid      st t when poll reach   delay   offset   jitter\n"
    "=============================================================================="
)


def peers_table(peers: Sequence[PeerVariables], clock: Optional[NtpTimestamp]) -> str:
    """The ``ntpq -p`` table: tally code and remote, refid, stratum, type,
    seconds since the last packet, poll (s), reach (octal), then delay,
    offset and jitter in milliseconds."""
    lines = [PEERS_HEADER]
    for p in peers:
        when = _peer_when(p, clock)
        poll = _peer_poll(p)
        lines.append(
            f"{p.tally}{str(p.address) if p.address is not None else '-':<15} {p.refid or '-':<15} "
            f"{'-' if p.stratum is None else p.stratum:>2} {_peer_kind(p)} "
            f"{'-' if when is None else when:>4} {'-' if poll is None else poll:>4} "
            f"{p.reach or 0:>5o} {_ms(p.delay):>7} {_ms(p.offset):>8} {_ms(p.jitter):>8}"
        )
    return "\n".join(lines)


def _peer_record(p: PeerVariables, clock: Optional[NtpTimestamp]) -> Dict[str, Any]:
    return {
        "association_id": p.association_id,
        "tally": p.tally,
        "address": None if p.address is None else str(p.address),
        "port": p.port,
        "refid": p.refid,
        "stratum": p.stratum,
        "type": _peer_kind(p),
        "when": _peer_when(p, clock),
        "poll": _peer_poll(p),
        "reach": p.reach,
        "configured": p.configured,
        "reachable": p.reachable,
        "delay": p.delay,
        "offset": p.offset,
        "jitter": p.jitter,
        "dispersion": p.dispersion,
        "status": p.status,
    }


def _system_record(s: SystemVariables) -> Dict[str, Any]:
    return {
        "version": s.version,
        "leap": None if s.leap is None else int(s.leap),
        "stratum": s.stratum,
        "precision": s.precision,
        "root_delay": s.root_delay,
        "root_dispersion": s.root_dispersion,
        "refid": s.refid,
        "reference_time": _ts_text(s.reference_time),
        "clock": _ts_text(s.clock),
        "peer": s.peer,
        "poll": s.poll,
        "offset": s.offset,
        "frequency_ppm": s.frequency_ppm,
        "sys_jitter": s.sys_jitter,
        "clk_jitter": s.clk_jitter,
        "clk_wander_ppm": s.clk_wander_ppm,
        "status": s.status,
        "raw": dict(s.raw),
    }


def _mru_record(e: MruEntry) -> Dict[str, Any]:
    return {
        "address": str(e.address),
        "port": e.port,
        "first": _ts_text(e.first),
        "last": _ts_text(e.last),
        "count": e.count,
        "mode": e.mode,
        "version": e.version,
        "restrictions": e.restrictions,
    }


def _control_client(args: argparse.Namespace) -> ControlClient:
    key = _load_key(args)
    if not args.timeout > 0:
        raise _UsageError("--timeout must be a positive number of seconds")
    return ControlClient(args.host, args.port, key=key, timeout=args.timeout)


def _cmd_peers(args: argparse.Namespace) -> int:
    with _control_client(args) as client:
        system = client.system()
        peers = client.peers()
    if args.json:
        print(json.dumps([_peer_record(p, system.clock) for p in peers], indent=2))
    else:
        print(peers_table(peers, system.clock))
    return EXIT_OK


def _cmd_rv(args: argparse.Namespace) -> int:
    with _control_client(args) as client:
        system = client.system()
    if args.json:
        print(json.dumps(_system_record(system), indent=2))
    else:
        for name, value in system.raw:
            print(f"{name}={value}")
    return EXIT_OK


def _cmd_mrulist(args: argparse.Namespace) -> int:
    with _control_client(args) as client:
        entries = client.mrulist()
    if args.json:
        print(json.dumps([_mru_record(e) for e in entries], indent=2))
        return EXIT_OK
    print(f"{'last':>27} {'first':>27} {'count':>7} m v rs  address")
    for e in entries:
        where = f"[{e.address}]:{e.port}" if e.address.version == 6 else f"{e.address}:{e.port}"
        print(
            f"{_ts_text(e.last) or '-':>27} {_ts_text(e.first) or '-':>27} {e.count:>7} {e.mode} {e.version} "
            f"{e.restrictions:>2x}  {where}"
        )
    return EXIT_OK


def _add_key_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--keyfile", help="key file (ntp.keys or chrony.keys) holding --key")
    p.add_argument("--key", type=int, metavar="ID", help=f"sign the {what} with this key id and require signed answers")
    p.add_argument(
        "--key-dialect", default="auto", choices=["auto", "chrony", "ntp"], help="key file dialect (default: guess)"
    )


def _add_control_parser(sub: Any, name: str, help_text: str, description: str, func: Any) -> None:
    p = sub.add_parser(
        name, help=help_text, description=description, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("host", metavar="HOST", help="server name or address (it must allow mode 6 queries from us)")
    p.add_argument("-p", "--port", type=int, default=123, help="UDP port (default 123)")
    p.add_argument(
        "-t",
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for each answer; an unanswered request is sent again after 5 s (default 10)",
    )
    _add_key_options(p, "requests")
    p.add_argument("--json", action="store_true", help="print JSON (times in seconds, frequencies in ppm)")
    p.set_defaults(func=func)


def _cmd_check_config(args: argparse.Namespace) -> int:
    if not os.path.exists(args.file):
        raise _UsageError(f"{args.file}: no such file")
    try:
        summary = check_config(args.file)
    except ConfigUnavailable as e:
        print(f"ntp-py: check-config: not available: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except NtpError as e:
        print(f"ntp-py: {e}", file=sys.stderr)
        return EXIT_NTP_ERROR
    print("\n".join(summary))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="ntp-py",
        description="Query NTP servers with every check a client owes a reply, read a server's "
        "state over mode 6 (as ntpq does), and explain NTP packets.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    q = sub.add_parser(
        "query",
        help="ask servers for the time (validated: origin, mode, KoD, leap, MAC)",
        description="Ask each HOST once for the time and print offset, delay, stratum, "
        "reference id and leap indicator. A reply is shown only after it passed every check.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("hosts", nargs="+", metavar="HOST", help="server name or address")
    q.add_argument("-p", "--port", type=int, default=123, help="UDP port (default 123)")
    q.add_argument("-t", "--timeout", type=float, default=5.0, help="seconds to wait for each reply (default 5)")
    q.add_argument("--version", type=int, default=4, choices=[1, 2, 3, 4], help="NTP version to send (default 4)")
    _add_key_options(q, "request")
    q.add_argument("--json", action="store_true", help="print a JSON list, one object per host")
    q.add_argument("--concurrency", type=int, default=16, help="queries in flight at once (default 16)")
    q.set_defaults(func=_cmd_query)

    d = sub.add_parser(
        "decode",
        help="explain NTP packets from hex, a raw file, or a pcap/pcapng capture",
        description="Explain every field of NTP packets. INPUT is hexadecimal text, a file of raw "
        "packet bytes or hex, or a pcap/pcapng capture (UDP to or from the NTP port).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("input", metavar="HEX|FILE|PCAP")
    d.add_argument(
        "-p", "--port", type=int, action="append", help="UDP port to pick from a capture (repeatable; default 123)"
    )
    d.add_argument("--json", action="store_true", help="print a JSON list, one object per packet")
    d.set_defaults(func=_cmd_decode)

    _add_control_parser(
        sub,
        "peers",
        "a server's peers, as ntpq -p shows them (mode 6)",
        "Read HOST's associations over mode 6 and print the ntpq -p table: tally code "
        "(* system peer, + candidate, - outlier, x falseticker, # backup, . excess, "
        "space rejected) and remote address, refid, stratum, type (u unicast, s symmetric, "
        "b broadcast, l local clock), seconds since the last packet, poll interval (s), "
        "reach (octal), delay, offset and jitter (ms). --json gives the same in seconds.",
        _cmd_peers,
    )
    _add_control_parser(
        sub,
        "rv",
        "a server's system variables, as ntpq -c rv shows them (mode 6)",
        "Read HOST's system variables over mode 6 and print them as name=value lines, as "
        "the server sent them (ntpd's units: milliseconds, ppm); --json gives them typed, "
        "in seconds and ppm.",
        _cmd_rv,
    )
    _add_control_parser(
        sub,
        "mrulist",
        "a server's recent clients, as ntpq -c mrulist shows them (mode 6)",
        "Read HOST's list of most recently seen clients over mode 6 (oldest first): last "
        "and first packet times (UTC), packet count, mode, version, restriction flags (hex) "
        "and address.",
        _cmd_mrulist,
    )

    c = sub.add_parser(
        "check-config",
        help="check a configuration file (needs the ntp-config crate)",
        description="Parse a configuration file in an operator's dialect and report what it "
        "configures or the line that is wrong. Needs the ntp-config crate built in; "
        "without it the command exits with status 3.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("file", metavar="FILE")
    c.set_defaults(func=_cmd_check_config)
    __import__("ntp_py.monitor.cli", fromlist=["add_monitor_parser"]).add_monitor_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the tool and returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: Union[int, Any] = args.func(args)
        return int(result)
    except _UsageError as e:
        print(f"ntp-py: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NtpError as e:
        print(f"ntp-py: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_NTP_ERROR
    except KeyboardInterrupt:
        return 130
