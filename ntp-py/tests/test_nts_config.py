"""NTS (RFC 8915) reached through the configuration dialects: an Engine
built from a chrony.conf or an NTPsec ntp.conf naming NTS sources and an
NTS server, and check-config reading them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

import ntp_py
from ntp_py import Engine, EngineEvent, NtpTimestamp, TimeoutAt, Transmit

START = NtpTimestamp.from_unix(1_800_000_000)

# Valid chrony.conf and NTPsec ntp.conf alike (detection picks ntp.conf).
NTS_CLIENT = "server 127.0.0.1 nts iburst\nserver 127.0.0.2 iburst\n"
CHRONY_SERVER = (
    "server 127.0.0.1 nts ntsport 4460\n"
    "ntsservercert /etc/chrony/server.crt\n"
    "ntsserverkey /etc/chrony/server.key\n"
    "ntsrotate 3600\n"
)
NTPSEC_SERVER = "server 127.0.0.1 nts\nnts enable\nnts key /etc/ntp/key.pem\nnts cert /etc/ntp/cert.pem\n"


def drain(engine: Engine) -> List[object]:
    outputs: List[object] = []
    while True:
        out = engine.poll_output()
        if isinstance(out, TimeoutAt):
            return outputs
        outputs.append(out)


def test_nts_source_asks_for_key_exchange_and_sends_nothing_in_the_clear() -> None:
    engine = Engine.from_config(NTS_CLIENT, now=START)
    outputs = drain(engine)
    for second in range(1, 11):
        engine.handle_timeout(NtpTimestamp.from_unix(START.unix + second))
        outputs += drain(engine)
    events = [o for o in outputs if isinstance(o, EngineEvent)]
    by_address = {a.address[0]: a for a in engine.associations(START)}
    nts = by_address["127.0.0.1"]
    plain = by_address["127.0.0.2"]
    assert [e.kind for e in events].count("NtsKeyExchangeNeeded") == 1
    needed = next(e for e in events if e.kind == "NtsKeyExchangeNeeded")
    assert f"AssociationId({nts.id})" in needed.description
    assert nts.nts and nts.nts_cookies == 0
    assert not plain.nts and plain.nts_cookies == 0
    # Only the plain source polls: an NTS source without cookies waits.
    assert {o.destination[0] for o in outputs if isinstance(o, Transmit)} == {"127.0.0.2"}
    assert {"nts_rejected", "nts_naks", "nts_unsent", "nts_dropped"} <= engine.counters.keys()
    assert engine.counters["nts_replies"] == 0
    assert not engine.system.nts_server and engine.system.nts_master_key_id is None


@pytest.mark.parametrize("text", [CHRONY_SERVER, NTPSEC_SERVER])
def test_nts_server_directives_turn_nts_service_on(text: str) -> None:
    engine = Engine.from_config(text, now=START)
    drain(engine)
    assert engine.system.nts_server
    assert engine.system.nts_master_key_id is not None
    assert all(a.nts for a in engine.associations(START))


def test_from_config_refuses_what_it_cannot_resolve() -> None:
    with pytest.raises(ntp_py.ParseError, match="line 1"):
        Engine.from_config("server 127.0.0.1 nts ntsport nope\n", now=START)
    with pytest.raises(ValueError, match="host name"):
        Engine.from_config("server time.example.com nts\n", now=START)


def test_check_config_reads_an_nts_chrony_conf(tmp_path: Path) -> None:
    conf = tmp_path / "chrony.conf"
    conf.write_text(CHRONY_SERVER)
    lines = ntp_py.check_config(str(conf))
    assert any("dialect: chrony" in line for line in lines)
    assert any("nts" in line.lower() for line in lines)
    out = subprocess.run(
        [sys.executable, "-m", "ntp_py", "check-config", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "dialect: chrony" in out.stdout and "certificate /etc/chrony/server.crt" in out.stdout
