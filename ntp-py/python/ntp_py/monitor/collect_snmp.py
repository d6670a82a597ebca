"""SNMP: the CISCO-NTP-MIB (1.3.6.1.4.1.9.9.168) of a router or of any
agent that serves it: the cntpSys* scalars and the cntpPeersVarTable, over
SNMPv2c or SNMPv3 (USM), with pysnmp's asyncio API.

Encodings (CISCO-NTP-MIB textual conventions): NTPSignedTimeValue and
NTPUnsignedTimeValue are 4 octets, 16.16 fixed-point seconds (RFC 1305
section 3.2.1), signed or not; NTPRefId is 4 octets; NTPTimeStamp is the
8-octet NTP timestamp; the peer address is an IpAddress.

Credentials come from the file the seed file names (TOML): ``version =
"2c"`` with ``community``, or ``version = "3"`` with ``user`` and
optionally ``auth_protocol`` (MD5, SHA, SHA224, SHA256, SHA384, SHA512),
``auth_key``, ``priv_protocol`` (DES, 3DES, AES, AES192, AES256),
``priv_key``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import struct
import sys
from typing import Any, Dict, List, Optional, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ntp_py.monitor.model import DeviceResult, PeerRow

__all__ = [
    "CNTP",
    "SnmpCredentials",
    "SnmpError",
    "collect_snmp",
    "decode_signed",
    "decode_unsigned",
    "encode_signed",
    "encode_unsigned",
    "load_credentials",
]

#: The CISCO-NTP-MIB's root.
CNTP = "1.3.6.1.4.1.9.9.168"
_SYS = CNTP + ".1.1"
_PEERS_ENTRY = CNTP + ".1.2.1.1"


class SnmpError(Exception):
    """No answer, an SNMP error, or an unusable credential file."""


@dataclasses.dataclass(frozen=True)
class SnmpCredentials:
    """SNMP credentials read from a credential file (never from the seed)."""

    version: str
    community: str = ""
    user: str = ""
    auth_protocol: str = ""
    auth_key: str = ""
    priv_protocol: str = ""
    priv_key: str = ""

    def __repr__(self) -> str:
        # Keeps secrets out of logs and tracebacks.
        return f"SnmpCredentials(version={self.version!r}, user={self.user!r})"


def load_credentials(path: str) -> SnmpCredentials:
    """Reads an SNMP credential file; raises :class:`SnmpError`."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as e:
        raise SnmpError(f"{path}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise SnmpError(f"{path}: not valid TOML: {e}") from None
    version = str(raw.get("version", ""))
    allowed = {"version", "community", "user", "auth_protocol", "auth_key", "priv_protocol", "priv_key"}
    unknown = set(raw) - allowed
    if unknown:
        raise SnmpError(f"{path}: unknown settings {sorted(unknown)}")
    if version == "2c":
        if not isinstance(raw.get("community"), str):
            raise SnmpError(f"{path}: version 2c needs community")
        return SnmpCredentials("2c", community=raw["community"])
    if version == "3":
        if not isinstance(raw.get("user"), str):
            raise SnmpError(f"{path}: version 3 needs user")
        fields = {k: str(raw.get(k, "")) for k in ("auth_protocol", "auth_key", "priv_protocol", "priv_key")}
        if fields["priv_key"] and not fields["auth_key"]:
            raise SnmpError(f"{path}: privacy needs authentication (auth_key)")
        return SnmpCredentials("3", user=raw["user"], **fields)
    raise SnmpError(f"{path}: version must be \"2c\" or \"3\", not {version!r}")


def encode_signed(seconds: float) -> bytes:
    """NTPSignedTimeValue: 16.16 fixed point, two's complement."""
    value = int(round(seconds * 65536))
    value = max(-(2**31), min(2**31 - 1, value))
    return struct.pack("!i", value)


def encode_unsigned(seconds: float) -> bytes:
    """NTPUnsignedTimeValue: 16.16 fixed point, unsigned."""
    value = int(round(max(0.0, seconds) * 65536))
    return struct.pack("!I", min(value, 2**32 - 1))


def decode_signed(data: bytes) -> Optional[float]:
    """The inverse of :func:`encode_signed` (None unless 4 octets)."""
    if len(data) != 4:
        return None
    return float(struct.unpack("!i", data)[0]) / 65536.0


def decode_unsigned(data: bytes) -> Optional[float]:
    """The inverse of :func:`encode_unsigned` (None unless 4 octets)."""
    if len(data) != 4:
        return None
    return float(struct.unpack("!I", data)[0]) / 65536.0


def _refid(data: bytes, stratum: Optional[int]) -> str:
    if len(data) != 4:
        return data.hex()
    # A code (GPS, LOCL, INIT) at stratum 0-1 and when unsynchronized (16).
    text = data.rstrip(b"\0")
    if stratum is not None and (stratum <= 1 or stratum >= 16) and text.isascii() and text.decode().isprintable():
        return text.decode()
    return str(ipaddress.IPv4Address(data))


def _timestamp(data: bytes) -> Optional[float]:
    if len(data) != 8:
        return None
    seconds, fraction = struct.unpack("!II", data)
    if seconds == 0 and fraction == 0:
        return None
    unix = float(seconds) - 2208988800.0 + float(fraction) / 2**32
    return unix + 2**32 if unix < 0 else unix


def _auth(credentials: SnmpCredentials) -> Any:
    from pysnmp.hlapi.v3arch import asyncio as snmp  # type: ignore[import-untyped, import-not-found, unused-ignore]

    if credentials.version == "2c":
        return snmp.CommunityData(credentials.community, mpModel=1)
    auth_protocols = {
        "": snmp.usmNoAuthProtocol,
        "MD5": snmp.usmHMACMD5AuthProtocol,
        "SHA": snmp.usmHMACSHAAuthProtocol,
        "SHA224": snmp.usmHMAC128SHA224AuthProtocol,
        "SHA256": snmp.usmHMAC192SHA256AuthProtocol,
        "SHA384": snmp.usmHMAC256SHA384AuthProtocol,
        "SHA512": snmp.usmHMAC384SHA512AuthProtocol,
    }
    priv_protocols = {
        "": snmp.usmNoPrivProtocol,
        "DES": snmp.usmDESPrivProtocol,
        "3DES": snmp.usm3DESEDEPrivProtocol,
        "AES": snmp.usmAesCfb128Protocol,
        "AES192": snmp.usmAesCfb192Protocol,
        "AES256": snmp.usmAesCfb256Protocol,
    }
    auth_name = credentials.auth_protocol.upper() or ("SHA" if credentials.auth_key else "")
    priv_name = credentials.priv_protocol.upper() or ("AES" if credentials.priv_key else "")
    if auth_name not in auth_protocols or priv_name not in priv_protocols:
        raise SnmpError(f"unknown SNMPv3 protocol {auth_name!r}/{priv_name!r}")
    return snmp.UsmUserData(
        credentials.user,
        authKey=credentials.auth_key or None,
        privKey=credentials.priv_key or None,
        authProtocol=auth_protocols[auth_name],
        privProtocol=priv_protocols[priv_name],
    )


def _raw(value: Any) -> Union[int, bytes, str]:
    """A pysnmp value as int (numbers), bytes (octet strings) or str (addresses)."""
    name = type(value).__name__
    if name == "IpAddress":
        return str(ipaddress.IPv4Address(bytes(value.asOctets())))
    if hasattr(value, "asOctets"):
        return bytes(value.asOctets())
    return int(value)


async def _walk(host: str, port: int, credentials: SnmpCredentials, timeout: float) -> Dict[str, Union[int, bytes, str]]:
    from pysnmp.hlapi.v3arch import asyncio as snmp  # type: ignore[import-untyped, import-not-found, unused-ignore]

    engine = snmp.SnmpEngine()
    try:
        target = await snmp.UdpTransportTarget.create((host, port), timeout=timeout, retries=0)
        auth = _auth(credentials)
        values: Dict[str, Union[int, bytes, str]] = {}
        scalars = [snmp.ObjectType(snmp.ObjectIdentity(f"{_SYS}.{n}.0")) for n in range(1, 12)]
        error, status, _, binds = await snmp.get_cmd(engine, auth, target, snmp.ContextData(), *scalars)
        if error:
            raise SnmpError(f"{host}:{port}: {error}")
        if status:
            raise SnmpError(f"{host}:{port}: {status.prettyPrint()}")
        for oid, value in binds:
            if type(value).__name__ in ("NoSuchObject", "NoSuchInstance", "EndOfMibView"):
                continue
            values[str(oid)] = _raw(value)
        async for error, status, _, binds in snmp.walk_cmd(
            engine,
            auth,
            target,
            snmp.ContextData(),
            snmp.ObjectType(snmp.ObjectIdentity(_PEERS_ENTRY)),
            lexicographicMode=False,
        ):
            if error:
                raise SnmpError(f"{host}:{port}: {error}")
            if status:
                raise SnmpError(f"{host}:{port}: {status.prettyPrint()}")
            for oid, value in binds:
                values[str(oid)] = _raw(value)
        return values
    finally:
        engine.close_dispatcher()


def parse_cntp(device: str, values: Dict[str, Union[int, bytes, str]]) -> DeviceResult:
    """The walked OIDs (``1.3.6.1.4.1.9.9.168...`` -> value) as a result."""

    def sys_value(n: int) -> Union[int, bytes, str, None]:
        return values.get(f"{_SYS}.{n}.0")

    def as_int(v: Union[int, bytes, str, None]) -> Optional[int]:
        return v if isinstance(v, int) else None

    def as_bytes(v: Union[int, bytes, str, None]) -> bytes:
        return v if isinstance(v, bytes) else b""

    stratum = as_int(sys_value(2))
    columns: Dict[int, Dict[int, Union[int, bytes, str]]] = {}
    prefix = _PEERS_ENTRY + "."
    for oid, value in values.items():
        if oid.startswith(prefix):
            column, _, index = oid[len(prefix) :].partition(".")
            try:
                columns.setdefault(int(index), {})[int(column)] = value
            except ValueError:
                continue
    rows: List[PeerRow] = []
    by_id: Dict[int, str] = {}
    for association in sorted(columns):
        c = columns[association]
        address = c.get(3)
        address_text = address if isinstance(address, str) else ""
        port = as_int(c.get(4)) or 123
        peer_stratum = as_int(c.get(9))
        by_id[association] = address_text if port == 123 else f"{address_text}:{port}"
        rows.append(
            PeerRow(
                address=address_text,
                port=port,
                stratum=peer_stratum,
                refid=_refid(as_bytes(c.get(15)), peer_stratum),
                reach=as_int(c.get(21)),
                offset=decode_signed(as_bytes(c.get(23))),
                delay=decode_signed(as_bytes(c.get(24))),
                dispersion=decode_unsigned(as_bytes(c.get(25))),
                root_delay=decode_signed(as_bytes(c.get(13))),
                root_dispersion=decode_unsigned(as_bytes(c.get(14))),
                mode=as_int(c.get(8)),
            )
        )
    peer = as_int(sys_value(9))
    for row, association in zip(rows, sorted(columns)):
        if peer and association == peer:
            row.selection = "*"
    return DeviceResult(
        device=device,
        source="snmp",
        ok=True,
        leap=as_int(sys_value(1)),
        stratum=stratum,
        precision=as_int(sys_value(3)),
        root_delay=decode_signed(as_bytes(sys_value(4))),
        root_dispersion=decode_unsigned(as_bytes(sys_value(5))),
        refid=_refid(as_bytes(sys_value(6)), stratum),
        reference_time=_timestamp(as_bytes(sys_value(7))),
        poll=as_int(sys_value(8)),
        system_peer=by_id.get(peer, "") if peer else "",
        peers=rows,
    )


async def collect_snmp(device: str, host: str, port: int, credentials: SnmpCredentials, *, timeout: float) -> DeviceResult:
    """Reads the CISCO-NTP-MIB of ``host:port``; raises :class:`SnmpError`."""
    values = await _walk(host, port, credentials, timeout)
    if not any(k.startswith(_SYS) for k in values):
        raise SnmpError(f"{host}:{port}: the agent serves no CISCO-NTP-MIB (cntpSys*)")
    return parse_cntp(device, values)


