"""Unit tests of ``ntp_py.monitor``: seed validation with line numbers,
storage and migrations, baselines, checks, reports, the SNMP encodings,
the mode 6 variable parser, the scheduler, and the CLI."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntp_py.cli import main as ntp_py_main
from ntp_py.monitor import (
    DeviceResult,
    PeerRow,
    SeedError,
    Store,
    StoreError,
    build,
    compute,
    merge,
    parse_seed,
    render,
    run_checks,
    run_schedule,
)
from ntp_py.monitor.baseline import percentile
from ntp_py.monitor.collect_mode3 import collect_mode3
from ntp_py.monitor.collect_snmp import (
    decode_signed,
    decode_unsigned,
    encode_signed,
    encode_unsigned,
    load_credentials,
    parse_cntp,
    SnmpError,
)
from ntp_py.monitor.control import parse_variables
from ntp_py.monitor.seed import Thresholds, load_seed
from ntp_py.monitor.store import MIGRATIONS, SCHEMA_VERSION

from fleet.cntp_pass_persist import answer, table

SEED = """\
[monitor]
database = "m.sqlite"
timeout = 0.5

[intervals]
critical = 10
interesting = 100

[[device]]
name = "a"
address = "127.0.0.1"
area = "east"
category = "critical"
collect = ["mode3", "mode6"]

[device.design]
servers = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
authentication = true
stratum = 2

[[device]]
name = "b"
address = "127.0.0.2"
area = "west"
category = "interesting"
"""


def seed_error(text: str) -> SeedError:
    with pytest.raises(SeedError) as e:
        parse_seed(text, "s.toml")
    return e.value


def test_example_seed_file_is_valid() -> None:
    import ntp_py.monitor

    path = Path(ntp_py.monitor.__file__).parent / "seed-example.toml"
    seed = load_seed(str(path))
    assert [d.name for d in seed.devices] == ["core-east-1", "access-west-7"]
    assert seed.devices[0].key is not None and seed.devices[0].key.id == 5
    assert seed.thresholds_for(seed.devices[0]).limit("cntpSysRootDispersion") == (0.0, 0.05)
    assert seed.intervals["critical"] == 3600


def test_seed_parses_devices_categories_and_design() -> None:
    seed = parse_seed(SEED, "s.toml")
    assert [d.name for d in seed.select("critical")] == ["a"]
    assert [d.name for d in seed.select("all")] == ["a", "b"]
    a = seed.devices[0]
    assert a.line == 9 and seed.devices[1].line == 21
    assert a.design is not None and a.design.authentication and a.design.servers[2] == "10.0.0.3"
    assert seed.devices[1].collect == ("mode3",)
    assert seed.intervals["critical"] == 10 and seed.intervals["all"] == 30 * 86400


@pytest.mark.parametrize(
    "change, line, words",
    [
        (('category = "interesting"', 'category = "vital"'), 25, "category must be one of"),
        (('address = "127.0.0.2"', 'address = "not an address!"'), 23, "neither an IP address"),
        (('collect = ["mode3", "mode6"]', 'collect = ["mode3", "mode7"]'), 14, "unknown collection method"),
        (("stratum = 2", "stratum = 99"), 19, "design.stratum"),
        (('name = "b"', 'name = "a"'), 22, "already defined at line 9"),
        (('name = "b"\n', 'name = "b"\ncommunity = "public"\n'), 23, "secrets do not belong"),
        (('collect = ["mode3", "mode6"]', 'collect = ["snmp"]'), 14, "no snmp"),
        (("timeout = 0.5", "timeout = -1"), 3, "timeout must be"),
        (("authentication = true", "authentication = 1"), 18, "design.authentication"),
        (('area = "west"\n', ""), 21, "device needs 'area'"),
    ],
)
def test_seed_errors_name_the_line(change: Tuple[str, str], line: int, words: str) -> None:
    text = SEED.replace(change[0], change[1], 1)
    assert text != SEED
    e = seed_error(text)
    assert e.line == line, str(e)
    assert words in str(e)
    assert str(e).startswith(f"s.toml:{line}: ")


def test_seed_syntax_error_has_the_parser_line() -> None:
    e = seed_error(SEED.replace('area = "west"', "area = west"))
    assert e.line == 24 and "not valid TOML" in str(e)


def test_seed_secret_in_inline_snmp_table_is_refused() -> None:
    text = SEED.replace('collect = ["mode3", "mode6"]', 'collect = ["snmp"]\nsnmp = { credentials = "c.toml", community = "x" }')
    e = seed_error(text)
    assert e.line == 15 and "credentials file" in str(e)


def test_seed_without_devices_is_an_error() -> None:
    assert "no [[device]]" in str(seed_error("[monitor]\ntimeout = 1\n"))


def result(name: str, source: str = "mode6", **kw: Any) -> DeviceResult:
    base: Dict[str, Any] = dict(leap=0, stratum=2, precision=-20, root_delay=0.01, root_dispersion=0.02, refid="10.0.0.1")
    base.update(kw)
    return DeviceResult(device=name, source=source, ok=True, **base)


def good_peers(auth: bool = True) -> List[PeerRow]:
    return [
        PeerRow(address=f"10.0.0.{i}", stratum=1, refid="GPS", reach=0o377, offset=0.001 * i, delay=0.002,
                dispersion=0.001, selection="*" if i == 1 else "+", authenticated=auth)  # fmt: skip
        for i in (1, 2, 3)
    ]


def test_store_saves_and_migrates_an_old_file(tmp_path: Path) -> None:
    path = str(tmp_path / "m.sqlite")
    # A version 1 file with one scan, as an older program wrote it.
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO scans (started, category) VALUES (1.0, 'all')")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.version() == SCHEMA_VERSION == 2
        assert store.scans() == [(1, 1.0, "all")]
        scan = store.save(2.0, "critical", [result("a", peers=good_peers()), DeviceResult("b", "mode3", False, "Timeout")])
        started, latest = store.latest("a")
        assert started == 2.0 and latest[0].peers[0].address == "10.0.0.1"
        [(scan_id, when, offset)] = store.history("a", "cntpPeersOffset", "10.0.0.2")
        assert (scan_id, when) == (scan, 2.0) and offset == pytest.approx(0.002)
        rows = json.loads(store.export("json"))
        delay = next(r for r in rows if r["variable"] == "cntpSysRootDelay")
        assert delay["unit"] == "s" and delay["mib_oid"] == "1.3.6.1.4.1.9.9.168.1.1.4"
        assert "cntpPeersOffset" in store.export("csv").splitlines()[3] or "cntpPeersOffset" in store.export("csv")
    # A file from a newer program is refused.
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=50), st.floats(0, 100))
def test_percentile_is_within_the_data_and_monotone(values: List[float], p: float) -> None:
    ordered = sorted(values)
    v = percentile(ordered, p)
    assert ordered[0] <= v <= ordered[-1]
    assert percentile(ordered, 0) == ordered[0] and percentile(ordered, 100) == ordered[-1]
    assert percentile(ordered, min(100.0, p + 10)) >= v


def test_baseline_needs_min_samples_and_fixed_limits_win() -> None:
    t = Thresholds(min_samples=3, margin=0.0)
    assert not compute("cntpPeersOffset", "", [0.0, 0.1], t).trusted
    b = compute("cntpPeersOffset", "", [0.0, 0.1, 0.2, 0.3, 0.4], t)
    assert b.trusted and b.median == pytest.approx(0.2)
    assert b.judge(0.5) == "above" and b.judge(-0.1) == "below" and b.judge(0.2) is None
    fixed = compute("cntpPeersOffset", "", [], Thresholds(limits=(("cntpPeersOffset", -1.0, 1.0),)))
    assert fixed.trusted and fixed.fixed and fixed.judge(2.0) == "above"


def checks_of(seed_text: str, results: List[DeviceResult], store: Any = None) -> List[Tuple[str, str]]:
    seed = parse_seed(seed_text)
    view = merge(seed.devices[0], 1.0, results)
    return [(f.check, f.peer) for f in run_checks(seed, view, store)]


def test_a_healthy_device_needs_no_action() -> None:
    assert checks_of(SEED, [result("a", peers=good_peers()), result("a", "mode3", offset=0.001, delay=0.001)]) == []


def test_every_fault_is_a_corrective_action() -> None:
    peers = good_peers(auth=False)
    peers[1].reach = 0o17
    peers[2].address = "10.9.9.9"
    peers[2].selection = "x"
    found = checks_of(
        SEED,
        [result("a", leap=3, stratum=16, peers=peers), result("a", "mode3", offset=3.0, delay=0.001)],
    )
    for expected in [
        ("unsynchronized", ""),
        ("stratum-16", ""),
        ("falseticker", ""),
        ("falseticker", "10.9.9.9"),
        ("few-sources", ""),
        ("reach", "10.0.0.2"),
        ("unauthenticated", "10.0.0.1"),
        ("not-in-design", "10.9.9.9"),
        ("missing-design-source", "10.0.0.3"),
    ]:
        assert expected in found, (expected, found)
    assert ("leap-pending", "") in checks_of(SEED, [result("a", leap=1, peers=good_peers())])
    assert ("stratum-design", "") in checks_of(SEED, [result("a", stratum=3, peers=good_peers())])
    assert checks_of(SEED, [DeviceResult("a", "mode3", False, "Timeout")]) == [("no-answer", "")]
    # Mode 3 only: the reference id names the source.
    assert ("not-in-design", "10.7.7.7") in checks_of(SEED, [result("a", "mode3", refid="10.7.7.7", offset=0.0)])


def test_values_outside_the_baseline_are_flagged(tmp_path: Path) -> None:
    seed = parse_seed(SEED)
    with Store(str(tmp_path / "m.sqlite")) as store:
        for i in range(6):
            store.save(float(i), "critical", [result("a", "mode3", offset=0.001 + i * 1e-5, delay=0.001)])
        store.save(7.0, "critical", [result("a", "mode3", offset=0.05, delay=0.001)])
        _, latest = store.latest("a")
        view = merge(seed.devices[0], 7.0, latest)
        found = [(f.check, f.message) for f in run_checks(seed, view, store)]
        assert any(c == "baseline" and "monitorOffset" in m and "above" in m for c, m in found), found
        assert not any("monitorDelay" in m for _, m in found)


def test_reports_in_every_format(tmp_path: Path) -> None:
    seed = parse_seed(SEED, str(tmp_path / "s.toml"))
    with Store(str(tmp_path / "m.sqlite")) as store:
        for i in range(3):
            store.save(float(i), "all", [result("a", peers=good_peers()), result("a", "mode3", offset=0.001 * i, delay=0.001),
                                         result("b", "mode3", leap=3, stratum=16)])  # fmt: skip
        critical = build(seed, store, "critical")
        assert [a["area"] for a in critical["areas"]] == ["east"]
        assert critical["checks"] == []
        interesting = build(seed, store, "interesting")
        assert {c["check"] for c in interesting["checks"]} == {"unsynchronized", "stratum-16"}
        config = build(seed, store, "configuration")
        assert [p["peer"] for p in config["peers"]] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        text = render(interesting, "text")
        assert "b (127.0.0.2" in text and "critical b" not in text and "unsynchronized" in text
        assert "check,west,b,,critical:unsynchronized" in render(interesting, "csv")
        assert json.loads(render(config, "json"))["kind"] == "configuration"
        page = render(critical, "html", store)
        assert page.startswith("<!DOCTYPE html>")
        if importlib.util.find_spec("matplotlib") is not None:
            assert "data:image/png;base64," in page
        else:
            assert "Charts need matplotlib" in page
        with pytest.raises(ValueError):
            build(seed, store, "weekly")


@given(st.floats(-32767, 32767))
def test_signed_time_value_round_trips(seconds: float) -> None:
    decoded = decode_signed(encode_signed(seconds))
    assert decoded is not None and abs(decoded - seconds) <= 1 / 65536


@given(st.floats(0, 65535))
def test_unsigned_time_value_round_trips(seconds: float) -> None:
    decoded = decode_unsigned(encode_unsigned(seconds))
    assert decoded is not None and abs(decoded - seconds) <= 1 / 65536
    assert decode_unsigned(b"\x00") is None


def status_json() -> Dict[str, Any]:
    ts = {"ntp": "E8A1B2C3.80000000", "utc": "x"}
    return {
        "system": {"synchronized": True, "source": "peer", "stratum": 3, "leap": 0, "precision": -23,
                   "refid": "127.0.0.1", "root_delay": 0.0125, "root_dispersion": 0.25, "reference_time": ts,
                   "system_peer_id": 7, "poll": 6},
        "associations": [
            {"id": 7, "configured": True, "address": "127.0.0.1:11123", "mode": "client", "stratum": 2,
             "refid": "10.1.2.3", "root_delay": 0.001, "root_dispersion": 0.002, "reach": 255,
             "offset": -0.0005, "delay": 0.0002, "dispersion": 0.01},
            {"id": 9, "configured": True, "address": "127.0.0.5:123", "mode": "client", "stratum": 16,
             "refid": "INIT", "root_delay": 0.0, "root_dispersion": 0.0, "reach": 0,
             "offset": None, "delay": None, "dispersion": None},
        ],
    }  # fmt: skip


def test_pass_persist_table_decodes_to_the_status() -> None:
    served = table(status_json())
    values: Dict[str, Any] = {}
    for oid, (kind, text) in served.items():
        key = ".".join(map(str, oid))
        if kind == "integer":
            values[key] = int(text)
        elif kind == "ipaddress":
            values[key] = text
        else:
            values[key] = bytes(int(x, 16) for x in text.split())
    r = parse_cntp("n", values)
    assert (r.stratum, r.leap, r.precision, r.poll, r.refid) == (3, 0, -23, 6, "127.0.0.1")
    assert r.root_delay == pytest.approx(0.0125, abs=2e-5) and r.root_dispersion == pytest.approx(0.25, abs=2e-5)
    assert r.system_peer == "127.0.0.1:11123"
    assert [(p.address, p.port, p.reach, p.selection) for p in r.peers] == [("127.0.0.1", 11123, 255, "*"), ("127.0.0.5", 123, 0, "")]
    assert r.peers[0].offset == pytest.approx(-0.0005, abs=2e-5) and r.peers[1].offset is None
    assert r.peers[1].refid == "INIT" and r.reference_time is not None


def test_pass_persist_protocol_walks_in_order(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    path.write_text(json.dumps(status_json()))
    first = answer("getnext", ".1.3.6.1.4.1.9.9.168", str(path))
    assert first == [".1.3.6.1.4.1.9.9.168.1.1.1.0", "integer", "0"]
    assert answer("get", ".1.3.6.1.4.1.9.9.168.1.1.2.0", str(path))[2] == "3"
    assert answer("get", ".1.3.6.1.4.1.9.9.168.1.1.2", str(path)) == ["NONE"]
    last = answer("getnext", ".1.3.6.1.4.1.9.9.168.1.2.1.1.25.7", str(path))
    assert last == ["NONE"]
    assert answer("get", ".1.3.6.1.4.1.9.9.168.1.1.2.0", str(tmp_path / "missing")) == ["NONE"]


def test_snmp_credentials_files(tmp_path: Path) -> None:
    v2 = tmp_path / "v2.toml"
    v2.write_text('version = "2c"\ncommunity = "sekrit"\n')
    creds = load_credentials(str(v2))
    assert creds.community == "sekrit" and "sekrit" not in repr(creds)
    v3 = tmp_path / "v3.toml"
    v3.write_text('version = "3"\nuser = "u"\npriv_key = "p"\n')
    with pytest.raises(SnmpError, match="privacy needs authentication"):
        load_credentials(str(v3))
    with pytest.raises(SnmpError, match="cannot read"):
        load_credentials(str(tmp_path / "none.toml"))


def test_mode6_variables_parse_like_ntpq() -> None:
    data = b'version="ntpd 4.2.8p15", leap=0, stratum=2,\r\nrefid=10.0.0.1, reach=0xff, filtdisp= 0.27 0.0\x04 0.00, offset=-0.123\r\n'
    v = parse_variables(data)
    assert v["version"] == "ntpd 4.2.8p15" and v["stratum"] == "2" and v["reach"] == "0xff"
    assert v["refid"] == "10.0.0.1" and v["offset"] == "-0.123"


@given(st.dictionaries(st.from_regex(r"[a-z]{1,10}", fullmatch=True), st.from_regex(r"[0-9a-zA-Z.:-]{0,12}", fullmatch=True), max_size=8))
def test_mode6_variables_round_trip(values: Dict[str, str]) -> None:
    text = ", ".join(f"{k}={v}" for k, v in values.items()) + "\r\n"
    assert parse_variables(text.encode()) == values


def test_scheduler_scans_each_category_at_its_interval(tmp_path: Path) -> None:
    # Devices on a port nobody answers: the scans fail fast, but are stored.
    text = SEED.replace('address = "127.0.0.1"', 'address = "127.0.0.1"\nntp_port = 9\ncontrol_port = 9').replace(
        'category = "interesting"', 'category = "interesting"\nntp_port = 9'
    )
    seed = parse_seed(text, str(tmp_path / "s.toml"))
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    with Store(str(tmp_path / "m.sqlite")) as store:
        done = asyncio.run(run_schedule(seed, store, duration=105.0, clock=lambda: now[0], sleep=sleep))
        cats = [c for c, _ in done]
        assert cats.count("critical") == 11 and cats.count("interesting") == 2 and cats.count("all") == 1
        assert len(store.scans()) == len(done)
        once = asyncio.run(run_schedule(seed, store, once=True, clock=lambda: now[0], sleep=sleep))
        assert [c for c, _ in once] == ["critical", "interesting", "all"]


def test_cli_check_seed_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SEED)
    assert ntp_py_main(["monitor", "check-seed", str(path)]) == 0
    assert "critical: 1 devices" in capsys.readouterr().out
    path.write_text(SEED.replace('category = "critical"', 'category = "vital"'))
    assert ntp_py_main(["monitor", "check-seed", str(path)]) == 2
    assert f"{path}:13: category must be one of" in capsys.readouterr().err


def test_cli_scan_with_no_answer_stores_the_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SEED.replace('area = "west"', 'area = "west"\nntp_port = 9').replace("timeout = 0.5", "timeout = 0.2\nretries = 0"))
    assert ntp_py_main(["monitor", "scan", str(path), "--category", "interesting"]) == 1
    assert "b mode3" in capsys.readouterr().out
    assert ntp_py_main(["monitor", "report", str(path), "--kind", "interesting", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checks"][0]["check"] == "no-answer"
    assert ntp_py_main(["monitor", "export", str(path), "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("scan_id,started,category,device")




def test_less_delay_than_usual_is_not_an_action_but_an_offset_either_way_is(tmp_path: Path) -> None:
    seed = parse_seed(SEED)
    with Store(str(tmp_path / "m.sqlite")) as store:
        for i in range(6):
            store.save(float(i), "critical", [result("a", "mode3", offset=0.001, delay=0.05 + i * 1e-4)])
        store.save(7.0, "critical", [result("a", "mode3", offset=-0.05, delay=0.001)])
        _, latest = store.latest("a")
        found = [f.message for f in run_checks(seed, merge(seed.devices[0], 7.0, latest), store) if f.check == "baseline"]
        assert any("monitorOffset" in m and "below" in m for m in found), found
        assert not any("monitorDelay" in m for m in found), found


def test_mode3_keeps_an_unsynchronized_answer_and_skips_a_stale_one(fake_server: Any) -> None:
    from conftest import server_reply
    from ntp_py import NtpTimestamp

    stale = NtpTimestamp.from_unix(1_000_000_000)
    lost = fake_server(lambda r: [server_reply(r, origin=stale, stratum=2), server_reply(r, leap=3, stratum=16)])
    good = fake_server(lambda r: [server_reply(r, stratum=3)])

    async def run() -> Tuple[Any, Any]:
        a = await collect_mode3("lost", "127.0.0.1", lost.port, key=None, timeout=2, source="127.0.0.1")
        b = await collect_mode3("good", "127.0.0.1", good.port, key=None, timeout=2)
        return a, b

    unsynchronized, synchronized = asyncio.run(run())
    assert (unsynchronized.device, unsynchronized.ok, unsynchronized.leap, unsynchronized.stratum) == ("lost", True, 3, 16)
    assert unsynchronized.offset is not None and abs(unsynchronized.offset) < 0.5
    assert lost.senders[0][0] == "127.0.0.1"
    assert (synchronized.stratum, synchronized.refid) == (3, "192.0.2.7")
    assert synchronized.delay is not None and 0 <= synchronized.delay < 0.5


def test_mode3_silence_is_a_timeout(fake_server: Any) -> None:
    from ntp_py import Timeout

    silent = fake_server(lambda r: [])
    with pytest.raises(Timeout, match="no valid reply"):
        asyncio.run(collect_mode3("x", "127.0.0.1", silent.port, key=None, timeout=0.2))
