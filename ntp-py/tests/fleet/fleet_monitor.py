"""The monitor against a real fleet: two areas of chronyd, NTPsec ntpd,
ntp-node instances (one a falseticker, one unsynchronized, one whose
sources differ from its design record) and net-snmp's snmpd serving the
CISCO-NTP-MIB from a node's status, all on a private loopback.

The test re-runs itself inside a new network namespace (``unshare
--net``; needs root), so every daemon can own port 123 on its own
10.77.0.x address and nothing touches the host's network or clock. It
asserts that the reports agree with each daemon's own tool (``chronyc
tracking``/``sources``, ``ntpq -p``/``rv``, ``ntp-node status``,
``snmpget``) and that every planted fault is a corrective action.
Without the tools it skips, and fails under ``CI=true``.

Not named ``test_*.py``: it needs the ``monitor`` and ``report`` extras,
so ``scripts/test-monitor.sh`` runs it by path rather than every pytest
run of ``tests/`` collecting it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import pytest

from ntp_py.cli import main as ntp_py_main

from fleet.daemons import Fleet, in_ci, ntp_node_binary, ntpsec_root, wait_until

INSIDE = "NTP_MONITOR_FLEET_NETNS"
#: ntpd-west's key file (and the monitor's): key 5, MD5.
NTP_KEYS = "5 md5 fleet-ntp-key-5\n"
ADDRESSES = ["10.77.0.1", "10.77.0.2", "10.77.0.11", "10.77.0.12", "10.77.0.13", "10.77.0.14", "10.77.0.21",
             "10.77.0.22", "10.77.0.31"]  # fmt: skip


def _missing(why: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true: {why}")
    pytest.skip(why)


def test_fleet_in_private_network() -> None:
    if os.environ.get(INSIDE) == "1":
        _fleet()
        return
    if os.geteuid() != 0:
        _missing("the fleet test needs root (a network namespace, port 123)")
    unshare = shutil.which("unshare")
    if unshare is None:
        _missing("unshare (util-linux) is not installed")
    assert unshare is not None
    env = {**os.environ, INSIDE: "1"}
    out = subprocess.run(
        [unshare, "--net", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         f"{__file__}::test_fleet_in_private_network"],
        cwd=Path(__file__).parent.parent.parent, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    print(out.stdout[-6000:])
    assert out.returncode == 0, out.stdout[-12000:] + out.stderr[-3000:]
    assert " passed" in out.stdout and "skipped" not in out.stdout, out.stdout[-3000:]


SEED = """\
[monitor]
database = "fleet.sqlite"
concurrency = 16
timeout = 1.0
retries = 1
# ntp-node answers mode 6 from loopback sources only.
source = "127.0.0.1"

[intervals]
critical = 1
interesting = 2
all = 3

[thresholds]
min_samples = 3
offset_limit = 1.0

[[device]]
name = "chrony-east"
address = "10.77.0.1"
area = "east"
category = "critical"
collect = ["mode3"]
[device.design]
stratum = 3

[[device]]
name = "node-east"
address = "10.77.0.11"
area = "east"
category = "critical"
collect = ["mode3", "mode6", "snmp"]
snmp = { credentials = "snmp-v2c.toml", port = 161 }
[device.design]
servers = ["10.77.0.1"]
authentication = true
min_sources = 1

[[device]]
name = "router-east"
address = "10.77.0.31"
area = "east"
category = "interesting"
collect = ["snmp"]
snmp = { credentials = "snmp-v3.toml" }
[device.design]
servers = ["10.77.0.1"]
min_sources = 1

[[device]]
name = "ntpd-east"
address = "10.77.0.21"
area = "east"
category = "critical"
collect = ["mode3", "mode6"]
[device.design]
servers = ["10.77.0.11"]
min_sources = 1

[[device]]
name = "chrony-west"
address = "10.77.0.2"
area = "west"
category = "interesting"
collect = ["mode3"]
[device.design]
servers = ["10.77.0.1"]

[[device]]
name = "node-false"
address = "10.77.0.12"
area = "west"
category = "critical"
collect = ["mode3", "mode6"]
[device.design]
stratum = 2
min_sources = 0

[[device]]
name = "node-unsync"
address = "10.77.0.13"
area = "west"
category = "critical"
collect = ["mode3", "mode6"]
[device.design]
servers = ["10.77.0.99"]
min_sources = 1

[[device]]
name = "node-mismatch"
address = "10.77.0.14"
area = "west"
category = "interesting"
collect = ["mode3", "mode6"]
[device.design]
servers = ["10.77.0.1"]
min_sources = 1

[[device]]
name = "ntpd-west"
address = "10.77.0.22"
area = "west"
category = "interesting"
collect = ["mode3", "mode6"]
key = { file = "ntp.keys", id = 5 }
[device.design]
servers = ["10.77.0.2"]
"""


def _rv(text: str) -> Dict[str, str]:
    from ntp_py.monitor.control import parse_variables

    body = "\n".join(line for line in text.splitlines() if not line.startswith("associd="))
    return parse_variables(body.replace("\n", ", ").encode())


def _ntpq_rows(text: str) -> Dict[str, str]:
    """``ntpq -pn`` rows: remote address -> tally."""
    rows = {}
    for line in text.splitlines():
        if line[:1] in " *+-#xo." and len(line) > 2 and line[1:2].isdigit():
            rows[line[1:].split()[0]] = line[0].strip()
    return rows


def _device(report: Dict[str, Any], name: str) -> Dict[str, Any]:
    for area in report["areas"]:
        for d in area["devices"]:
            if d["name"] == name:
                return dict(d)
    raise AssertionError(f"{name} not in the {report['kind']} report")


def _checks(report: Dict[str, Any], name: str) -> List[str]:
    return [f"{c['check']}:{c['peer']}" for c in report["checks"] if c["device"] == name]


def _report(seed: Path, kind: str, fmt: str, output: Path) -> str:
    assert ntp_py_main(["monitor", "report", str(seed), "--kind", kind, "--format", fmt, "--output", str(output)]) == 0
    return output.read_text()


def _fleet() -> None:
    for module in ("pysnmp", "matplotlib", "cryptography"):
        if importlib.util.find_spec(module) is None:
            _missing(f"Python package {module} is not installed: pip install 'ntp-py[monitor,report]'")
    for tool in ("ip", "chronyd", "chronyc", "capsh", "snmpd", "snmpget"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            _missing(f"{tool} is not installed (Debian: iproute2 chrony libcap2-bin snmpd snmp)")
    node = ntp_node_binary()
    if node is None:
        _missing("ntp-node is not built (cargo build -p ntp-node)")
    ntpsec = ntpsec_root()
    if ntpsec is None:
        _missing("NTPsec (apt-get download ntpsec) is unavailable")
    if subprocess.run(["/usr/bin/python3", "-c", "import ntp.packet"], check=False).returncode != 0:
        _missing("python3-ntp (for ntpq) is not installed: Debian ntpsec-ntpdig")
    assert node is not None and ntpsec is not None
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for a in ADDRESSES:
        subprocess.run(["ip", "addr", "add", f"{a}/32", "dev", "lo"], check=True)

    directory = Path(tempfile.mkdtemp(prefix="ntp-monitor-fleet-"))
    fleet = Fleet(directory)
    try:
        fleet.chronyd("chrony-east", "10.77.0.1", "local stratum 3\n")
        fleet.chronyd("chrony-west", "10.77.0.2", "server 10.77.0.1 iburst minpoll 0 maxpoll 0\n")
        east = fleet.node("node-east", node, "10.77.0.11", "--server", "10.77.0.1,minpoll=0,maxpoll=0,iburst")
        false = fleet.node("node-false", node, "10.77.0.12", "--master", "2", "--offset", "5")
        unsync = fleet.node("node-unsync", node, "10.77.0.13", "--server", "10.77.0.99,minpoll=0,maxpoll=0")
        mismatch = fleet.node("node-mismatch", node, "10.77.0.14", "--server", "10.77.0.2,minpoll=0,maxpoll=0,iburst")
        fleet.ntpd("ntpd-east", ntpsec, "10.77.0.21", "10.77.0.11")
        fleet.ntpd("ntpd-west", ntpsec, "10.77.0.22", "10.77.0.2", keys=NTP_KEYS)
        fleet.snmpd("snmpd", ["10.77.0.11", "10.77.0.31"], east)

        def synced(status: Path) -> bool:
            s = json.loads(status.read_text())
            return bool(s["system"]["synchronized"]) and any(a["tally"] == "*" for a in s["associations"])

        wait_until("node-east selects chrony-east", 60, lambda: synced(east), fleet)
        wait_until("node-mismatch selects chrony-west", 60, lambda: synced(mismatch), fleet)
        wait_until("chrony-west selects chrony-east", 60,
                   lambda: "^* 10.77.0.1" in fleet.chronyc("10.77.0.2", "sources"), fleet)  # fmt: skip
        def selected(address: str) -> bool:
            return "*" in _ntpq_rows(fleet.ntpq(ntpsec, address, "-p")).values()

        wait_until("ntpd-east selects node-east", 120, lambda: selected("10.77.0.21"), fleet)
        wait_until("ntpd-west selects chrony-west", 120, lambda: selected("10.77.0.22"), fleet)
        wait_until("the status files exist", 10, lambda: false.exists() and unsync.exists(), fleet)

        seed = directory / "seed.toml"
        seed.write_text(SEED)
        (directory / "ntp.keys").write_text(NTP_KEYS)
        (directory / "snmp-v2c.toml").write_text('version = "2c"\ncommunity = "fleet-community"\n')
        (directory / "snmp-v3.toml").write_text(
            'version = "3"\nuser = "fleetuser"\nauth_protocol = "SHA"\nauth_key = "fleet-auth-secret"\n'
            'priv_protocol = "AES"\npriv_key = "fleet-priv-secret"\n'
        )
        # Several scans per category, so baselines and charts have history.
        assert ntp_py_main(["monitor", "run", str(seed), "--for", "7"]) == 0
        assert ntp_py_main(["monitor", "scan", str(seed), "--category", "all"]) == 0

        out = directory / "reports"
        out.mkdir()
        critical = json.loads(_report(seed, "critical", "json", out / "critical.json"))
        interesting = json.loads(_report(seed, "interesting", "json", out / "interesting.json"))
        configuration = json.loads(_report(seed, "configuration", "json", out / "configuration.json"))
        html = _report(seed, "critical", "html", out / "critical.html")
        text = _report(seed, "configuration", "text", out / "configuration.txt")
        keep = os.environ.get("NTP_MONITOR_REPORT_DIR")
        if keep:
            for f in out.iterdir():
                shutil.copy(f, Path(keep) / f.name)

        # chronyd: chronyc tracking/sources say what the report says.
        for name, address in (("chrony-east", "10.77.0.1"), ("chrony-west", "10.77.0.2")):
            report = critical if name == "chrony-east" else interesting
            d = _device(report, name)
            tracking = fleet.chronyc(address, "tracking")
            fields = {k.strip(): v.strip() for k, _, v in (l.partition(":") for l in tracking.splitlines()) if v}
            assert str(d["stratum"]) == fields["Stratum"], (d, tracking)
            refid_hex = fields["Reference ID"].split()[0]
            import ipaddress

            assert d["refid"] == str(ipaddress.IPv4Address(int(refid_hex, 16))), (d, tracking)
        assert _device(interesting, "chrony-west")["refid"] == "10.77.0.1"
        assert "^* 10.77.0.1" in fleet.chronyc("10.77.0.2", "sources")

        # NTPsec: ntpq rv and -p agree with the mode 6 collection.
        for name, address, report in (("ntpd-east", "10.77.0.21", critical), ("ntpd-west", "10.77.0.22", interesting)):
            d = _device(report, name)
            rv = _rv(fleet.ntpq(ntpsec, address, "-c", "rv"))
            assert str(d["stratum"]) == rv["stratum"] and d["refid"] == rv["refid"], (d, rv)
            rows = _ntpq_rows(fleet.ntpq(ntpsec, address, "-p"))
            assert {p["peer"]: p["tally"].strip() for p in d["peers"]} == rows, (d["peers"], rows)

        # ntp-node: the status file agrees with mode 6.
        for name, status, report in (("node-east", east, critical), ("node-false", false, critical),
                                     ("node-unsync", unsync, critical), ("node-mismatch", mismatch, interesting)):  # fmt: skip
            d = _device(report, name)
            s = json.loads(status.read_text())
            assert d["stratum"] == s["system"]["stratum"], (name, d, s["system"])
            assert d["leap"] == s["system"]["leap"]
            ours = {a["address"].removesuffix(":123"): a["tally"].strip() for a in s["associations"]}
            assert {p["peer"]: p["tally"].strip() for p in d["peers"]} == ours, (name, d["peers"], ours)
            listed = subprocess.run([str(node), "status", "--file", str(status)], capture_output=True, text=True, check=False)
            assert listed.returncode == 0 and f'"stratum": {d["stratum"]}' in listed.stdout

        # SNMP (v2c for node-east, v3 for router-east): what snmpget and the status say.
        get = subprocess.run(
            ["snmpget", "-v2c", "-c", "fleet-community", "-On", "-Oqv", "10.77.0.11:161", ".1.3.6.1.4.1.9.9.168.1.1.2.0"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert get.stdout.strip() == str(_device(critical, "node-east")["stratum"]), get
        router = _device(interesting, "router-east")
        assert router["answered"] and router["peers_source"] == "snmp", router
        assert router["stratum"] == json.loads(east.read_text())["system"]["stratum"]
        assert [p["peer"] for p in router["peers"]] == ["10.77.0.1"]
        assert router["peers"][0]["tally"] == "*"

        # Signed requests (key 5) to ntpd-west: both methods answered and verified.
        assert _device(interesting, "ntpd-west")["errors"] == {}, _device(interesting, "ntpd-west")
        # Every planted fault is a corrective action.
        assert "falseticker:" in _checks(critical, "node-false"), critical["checks"]
        assert abs(_device(critical, "node-false")["offset_s"] - 5.0) < 1.0
        assert {"unsynchronized:", "stratum-16:"} <= set(_checks(critical, "node-unsync")), critical["checks"]
        mismatch_checks = _checks(interesting, "node-mismatch")
        assert "not-in-design:10.77.0.2" in mismatch_checks and "missing-design-source:10.77.0.1" in mismatch_checks
        assert "unauthenticated:10.77.0.1" in _checks(critical, "node-east")
        assert "few-sources:" in _checks(interesting, "ntpd-west")
        assert "not-in-design:10.77.0.2" in _checks(configuration, "node-mismatch")
        # A healthy device needs no action (a baseline warning can come from
        # this machine's load, so only those are allowed).
        assert [c for c in _checks(critical, "chrony-east") if not c.startswith("baseline:")] == [], critical["checks"]
        # The configuration report groups by peer.
        peers = {p["peer"]: [u["device"] for u in p["devices"]] for p in configuration["peers"]}
        assert set(peers["10.77.0.1"]) >= {"node-east", "router-east", "node-mismatch"}
        assert "node-mismatch" in peers["10.77.0.2"] and "NOT IN DESIGN" in text
        # A mode-3-only device is placed by its reference id, never "missing".
        assert "chrony-west" in peers["10.77.0.1"] and "chrony-west MISSING" not in text
        # The HTML page is self-contained, with charts.
        assert html.count("data:image/png;base64,") >= 3 and "<script" not in html and "http" not in html.split("<body>")[1]
        # No secret from the credential files reaches a report.
        for body in (json.dumps(critical), json.dumps(interesting), html, text):
            assert "fleet-community" not in body and "fleet-auth-secret" not in body and "fleet-ntp-key" not in body
    finally:
        fleet.stop()
        shutil.rmtree(directory, ignore_errors=True)

