"""Mode 6: the system variables and every association's variables of an
ntpd, NTPsec or ntp-node, mapped onto the cntpSys*/cntpPeers* set.

ntpd and NTPsec send times in milliseconds (``offset``, ``delay``,
``rootdelay``, ``rootdisp``, ``dispersion``/``disp``) and ``reach`` in
hex; they are stored here in seconds and as a number.
"""

from __future__ import annotations

from typing import Dict, Optional

from ntp_py import Key

from ntp_py.monitor.control import read_status
from ntp_py.monitor.model import DeviceResult, PeerRow

__all__ = ["collect_mode6", "SELECTION"]

#: The selection field of a peer status word (RFC 9327 appendix B) as
#: ntpq's tally characters.
SELECTION = {0: " ", 1: "x", 2: ".", 3: "-", 4: "+", 5: "#", 6: "*", 7: "o"}


def _int(v: Optional[str]) -> Optional[int]:
    if v is None or v == "":
        return None
    try:
        return int(v, 0) if v.lower().startswith("0x") else int(v)
    except ValueError:
        return None


def _ms(v: Optional[str]) -> Optional[float]:
    if v is None or v == "":
        return None
    try:
        return float(v) / 1000.0
    except ValueError:
        return None


def _timestamp(v: Optional[str]) -> Optional[float]:
    """An ntpd timestamp ``0xSSSSSSSS.FFFFFFFF`` as Unix seconds (era 0/1 by pivot)."""
    if not v or not v.lower().startswith("0x"):
        return None
    try:
        whole, _, frac = v[2:].partition(".")
        seconds = int(whole, 16) + (int(frac, 16) / 2**32 if frac else 0.0)
    except ValueError:
        return None
    if seconds == 0:
        return None
    unix = seconds - 2208988800
    # Era 1 starts in 2036: a small value is a time after the wrap.
    return unix + 2**32 if unix < 0 else unix


async def collect_mode6(
    device: str, host: str, port: int, *, key: Optional[Key], timeout: float, source: str = ""
) -> DeviceResult:
    """Reads ``host:port`` over mode 6 (from ``source`` when given); raises on no answer."""
    system, peers = await read_status(host, port, key=key, timeout=timeout, source=source)
    by_id: Dict[int, str] = {}
    rows = []
    for association, word, v in peers:
        address = v.get("srcadr", "")
        port_number = _int(v.get("srcport")) or 123
        by_id[association] = address if port_number == 123 else f"{address}:{port_number}"
        high = word >> 8
        authenable, authentic = bool(high & 0x40), bool(high & 0x20)
        rows.append(
            PeerRow(
                address=address,
                port=port_number,
                stratum=_int(v.get("stratum")),
                refid=v.get("refid", ""),
                reach=_int(v.get("reach")),
                offset=_ms(v.get("offset")),
                delay=_ms(v.get("delay")),
                dispersion=_ms(v.get("dispersion", v.get("disp"))),
                root_delay=_ms(v.get("rootdelay")),
                root_dispersion=_ms(v.get("rootdisp", v.get("rootdispersion"))),
                selection=SELECTION.get(high & 7, " "),
                authenticated=authenable and authentic,
                mode=_int(v.get("hmode")),
            )
        )
    peer_id = _int(system.get("peer"))
    return DeviceResult(
        device=device,
        source="mode6",
        ok=True,
        leap=_int(system.get("leap")),
        stratum=_int(system.get("stratum")),
        precision=_int(system.get("precision")),
        root_delay=_ms(system.get("rootdelay")),
        root_dispersion=_ms(system.get("rootdisp", system.get("rootdispersion"))),
        refid=system.get("refid", ""),
        reference_time=_timestamp(system.get("reftime")),
        poll=_int(system.get("tc", system.get("poll"))),
        system_peer=by_id.get(peer_id, "") if peer_id else "",
        peers=rows,
    )
