"""The values a scan produces: one :class:`Measurement` per variable, each
named after the CISCO-NTP-MIB object it corresponds to and carrying its
unit, so values from mode 3, mode 6 and SNMP land in the same columns.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple

__all__ = ["MIB", "Measurement", "DeviceResult", "PeerRow", "unit_of"]

#: MIB object name -> (unit, OID under 1.3.6.1.4.1.9.9.168). Units: ``s``
#: seconds, ``log2 s`` (precision, poll), ``count`` (stratum, reach as a
#: number), ``code`` (enumerations such as the leap indicator), ``text``.
MIB: Dict[str, Tuple[str, str]] = {
    "cntpSysLeap": ("code", "1.1.1"),
    "cntpSysStratum": ("count", "1.1.2"),
    "cntpSysPrecision": ("log2 s", "1.1.3"),
    "cntpSysRootDelay": ("s", "1.1.4"),
    "cntpSysRootDispersion": ("s", "1.1.5"),
    "cntpSysRefId": ("text", "1.1.6"),
    "cntpSysRefTime": ("s", "1.1.7"),
    "cntpSysPoll": ("log2 s", "1.1.8"),
    "cntpSysPeer": ("code", "1.1.9"),
    "cntpSysSrvStatus": ("code", "1.1.11"),
    "cntpPeersPeerAddress": ("text", "1.2.1.1.3"),
    "cntpPeersPeerPort": ("code", "1.2.1.1.4"),
    "cntpPeersMode": ("code", "1.2.1.1.8"),
    "cntpPeersStratum": ("count", "1.2.1.1.9"),
    "cntpPeersRootDelay": ("s", "1.2.1.1.13"),
    "cntpPeersRootDispersion": ("s", "1.2.1.1.14"),
    "cntpPeersRefId": ("text", "1.2.1.1.15"),
    "cntpPeersReach": ("code", "1.2.1.1.21"),
    "cntpPeersOffset": ("s", "1.2.1.1.23"),
    "cntpPeersDelay": ("s", "1.2.1.1.24"),
    "cntpPeersDispersion": ("s", "1.2.1.1.25"),
    # Not in the MIB: what the monitor itself measures with a mode 3
    # exchange (RFC 5905 section 8), and the peer's selection tally and
    # authentication as ntpq shows them. Named in the MIB's style.
    "monitorOffset": ("s", ""),
    "monitorDelay": ("s", ""),
    "peerSelection": ("text", ""),
    "peerAuthenticated": ("code", ""),
}


def unit_of(variable: str) -> str:
    """The unit of ``variable`` (``s``, ``log2 s``, ``count``, ``code``, ``text``)."""
    return MIB.get(variable, ("", ""))[0]


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One value of one device from one scan.

    ``peer`` is empty for system variables and the peer's address for
    cntpPeers* rows; ``value`` is numeric (in ``unit``) or None, ``text``
    holds reference ids, addresses and tallies."""

    device: str
    source: str
    variable: str
    peer: str = ""
    value: Optional[float] = None
    text: str = ""

    @property
    def unit(self) -> str:
        """The unit of the variable."""
        return unit_of(self.variable)


@dataclasses.dataclass
class PeerRow:
    """One association of a device, as one collector saw it."""

    address: str
    port: int = 123
    stratum: Optional[int] = None
    refid: str = ""
    reach: Optional[int] = None
    offset: Optional[float] = None
    delay: Optional[float] = None
    dispersion: Optional[float] = None
    root_delay: Optional[float] = None
    root_dispersion: Optional[float] = None
    selection: str = ""
    authenticated: Optional[bool] = None
    mode: Optional[int] = None


@dataclasses.dataclass
class DeviceResult:
    """What one collector learned about one device in one scan (or why not)."""

    device: str
    source: str
    ok: bool
    error: str = ""
    leap: Optional[int] = None
    stratum: Optional[int] = None
    precision: Optional[int] = None
    root_delay: Optional[float] = None
    root_dispersion: Optional[float] = None
    refid: str = ""
    reference_time: Optional[float] = None
    poll: Optional[int] = None
    offset: Optional[float] = None
    delay: Optional[float] = None
    system_peer: str = ""
    peers: List[PeerRow] = dataclasses.field(default_factory=list)

    def measurements(self) -> List[Measurement]:
        """The result as rows of (variable, peer, value, text)."""
        if not self.ok:
            return []
        out: List[Measurement] = []

        def num(variable: str, value: Optional[float], peer: str = "") -> None:
            if value is not None:
                out.append(Measurement(self.device, self.source, variable, peer, float(value)))

        def txt(variable: str, value: str, peer: str = "") -> None:
            if value:
                out.append(Measurement(self.device, self.source, variable, peer, None, value))

        num("cntpSysLeap", self.leap)
        num("cntpSysStratum", self.stratum)
        num("cntpSysPrecision", self.precision)
        num("cntpSysRootDelay", self.root_delay)
        num("cntpSysRootDispersion", self.root_dispersion)
        txt("cntpSysRefId", self.refid)
        num("cntpSysRefTime", self.reference_time)
        num("cntpSysPoll", self.poll)
        txt("cntpSysPeer", self.system_peer)
        num("monitorOffset", self.offset)
        num("monitorDelay", self.delay)
        for p in self.peers:
            key = f"{p.address}:{p.port}" if p.port != 123 else p.address
            num("cntpPeersStratum", p.stratum, key)
            txt("cntpPeersRefId", p.refid, key)
            num("cntpPeersReach", p.reach, key)
            num("cntpPeersOffset", p.offset, key)
            num("cntpPeersDelay", p.delay, key)
            num("cntpPeersDispersion", p.dispersion, key)
            num("cntpPeersRootDelay", p.root_delay, key)
            num("cntpPeersRootDispersion", p.root_dispersion, key)
            num("cntpPeersMode", p.mode, key)
            txt("peerSelection", p.selection, key)
            if p.authenticated is not None:
                num("peerAuthenticated", 1.0 if p.authenticated else 0.0, key)
        return out
