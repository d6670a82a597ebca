"""Mode 6 against real daemons: our ``ntp-node`` synchronized to chronyd
(read by ControlClient, by the ``ntp-py peers`` CLI, by ``ntp-node status``
and by NTPsec's ``ntpq``), and NTPsec's ``ntpd`` (read by ``ntp-py peers``
beside ``ntpq -p``).

``ntp-node`` is the workspace binary (NTP_NODE=/path, else
target/{debug,release}/ntp-node; scripts/test-python.sh builds it).
NTPsec comes from the Debian package ``ntpsec``, unpacked with
``apt-get download`` and ``dpkg -x`` (NTPSEC_ROOT=/path skips that);
its ``ntpq`` needs the system Python's ``ntp`` module (python3-ntp).
``ntpq`` only asks port 123, so those tests need root; ntpd runs in a
network namespace of its own, without CAP_SYS_TIME and with ``-x``, so it
never touches the clock. Every process is stopped by its PID. Missing
tools skip the tests, and fail them under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence

import pytest

import ntp_py
from ntp_py import ControlClient, Key, PeerVariables

from conftest import Chronyd, free_udp_port, missing

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
NODE_KEY = Key(5, "MD5", b"mode6-python-md5")


def node_binary() -> Path:
    named = os.environ.get("NTP_NODE")
    candidates = [Path(named)] if named else [ROOT / "target" / p / "ntp-node" for p in ("debug", "release")]
    for path in candidates:
        if path.is_file():
            return path
    missing(f"no ntp-node binary at {', '.join(map(str, candidates))} (cargo build -p ntp-node)")


class Daemon:
    """A child process stopped by its PID, with its output kept for failures."""

    def __init__(self, argv: Sequence[str], directory: Path) -> None:
        self.log_path = directory / f"{Path(argv[0]).name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Node(NamedTuple):
    host: str
    port: int
    daemon: Daemon


def wait_for_system_peer(host: str, port: int, daemon: Daemon, full_reach: bool, limit: float = 60) -> List[PeerVariables]:
    """Polls the node over mode 6 until its one peer is the system peer
    (and, if asked, reached on the last 8 polls, so reach stops changing)."""
    deadline = time.monotonic() + limit
    peers: List[PeerVariables] = []
    while time.monotonic() < deadline:
        if daemon.proc.poll() is not None:
            pytest.fail(f"the daemon exited: {daemon.log()}")
        try:
            with ControlClient(host, port, timeout=1) as client:
                peers = client.peers()
        except ntp_py.NtpError:
            peers = []
        if peers and peers[0].tally == "*" and (not full_reach or peers[0].reach == 0o377):
            return peers
        time.sleep(0.25)
    pytest.fail(f"no system peer after {limit} s: {peers}\n{daemon.log()}")


def start_node(chronyd: Chronyd, host: str, port: int, directory: Path) -> Daemon:
    return Daemon(
        [
            str(node_binary()),
            "run",
            "--listen",
            f"{host}:{port}",
            "--server",
            f"127.0.0.1:{chronyd.port},minpoll=0,maxpoll=0",
            "--key",
            f"{NODE_KEY.id} MD5 mode6-python-md5",
            "--trusted-key",
            str(NODE_KEY.id),
            "--quiet",
        ],
        directory,
    )


@pytest.fixture(scope="module")
def node(chronyd: Chronyd) -> Iterator[Node]:
    """ntp-node on a free loopback port, a client of chronyd (1 s polls)."""
    directory = Path(tempfile.mkdtemp(prefix="ntp-py-node-"))
    port = free_udp_port()
    daemon = start_node(chronyd, "127.0.0.1", port, directory)
    try:
        wait_for_system_peer("127.0.0.1", port, daemon, full_reach=False)
        yield Node("127.0.0.1", port, daemon)
    finally:
        daemon.stop()
        shutil.rmtree(directory, ignore_errors=True)


def run_cli(*args: str, prefix: Sequence[str] = ()) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ntp_py", *args], capture_output=True, text=True, timeout=60
    )


def test_system_and_peers_of_a_synchronized_node(node: Node, chronyd: Chronyd) -> None:
    with ControlClient(node.host, node.port, timeout=3) as client:
        system = client.system()
        peers = client.peers()
    # chronyd serves stratum 1, so the node is at stratum 2 with chronyd as refid.
    assert system.stratum == 2 and system.refid == "127.0.0.1"
    assert system.leap == ntp_py.Leap.NO_WARNING
    [peer] = peers
    assert system.peer == peer.association_id
    assert peer.tally == "*" and peer.configured and peer.reachable
    assert str(peer.address) == "127.0.0.1" and peer.port == chronyd.port
    assert peer.stratum == 1 and peer.refid
    assert peer.delay is not None and 0 < peer.delay < 0.05
    assert peer.offset is not None and abs(peer.offset) < 0.01
    assert peer.rec is not None and system.clock is not None and 0 <= system.clock - peer.rec < 10


def test_our_peers_agree_with_ntp_node_status(node: Node) -> None:
    theirs = subprocess.run(
        [str(node_binary()), "status", "--host", f"{node.host}:{node.port}", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert theirs.returncode == 0, theirs.stderr
    status = json.loads(theirs.stdout)
    ours = run_cli("peers", node.host, "-p", str(node.port), "--json")
    assert ours.returncode == 0, ours.stderr
    [peer] = json.loads(ours.stdout)
    [their_peer] = status["peers"]
    for name in ("association_id", "tally", "address", "port", "stratum", "refid"):
        assert peer[name] == their_peer[name], name
    assert abs(peer["delay"] - their_peer["delay"]) < 0.005
    rv = json.loads(run_cli("rv", node.host, "-p", str(node.port), "--json").stdout)
    for name in ("stratum", "refid", "precision", "peer", "leap"):
        assert rv[name] == status["system"][name], name


def test_signed_requests_to_the_node(node: Node) -> None:
    with ControlClient(node.host, node.port, key=NODE_KEY, timeout=3) as client:
        assert client.system().stratum == 2
        assert client.peers()[0].tally == "*"
    wrong = Key(5, "MD5", b"not-the-secret")
    with ControlClient(node.host, node.port, key=wrong, timeout=3) as client:
        with pytest.raises((ntp_py.AuthenticationError, ntp_py.ServerError)):
            client.system()


def test_mrulist_of_the_node_lists_us(node: Node) -> None:
    with ControlClient(node.host, node.port, timeout=3) as client:
        entries = client.mrulist()
    control = [e for e in entries if e.mode == 6 and str(e.address) == "127.0.0.1"]
    assert control and all(e.version in (2, 3, 4) and e.count >= 1 for e in control), entries


# --- NTPsec ---------------------------------------------------------------


def ntpsec_root() -> Path:
    """NTPsec 1.2.2's files, unpacked once into a cache directory."""
    named = os.environ.get("NTPSEC_ROOT")
    cache = Path(named) if named else ROOT / "target" / "ntpsec-python"
    if (cache / "usr/bin/ntpq").is_file() and (cache / "usr/sbin/ntpd").is_file():
        return cache
    if os.geteuid() != 0:
        missing("the NTPsec tests need root (port 123, network namespaces)")
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (needed to unpack NTPsec)")
    download = Path(tempfile.mkdtemp(prefix="ntpsec-deb-"))
    try:
        got = subprocess.run(["apt-get", "download", "ntpsec"], cwd=download, capture_output=True, text=True, timeout=300)
        debs = sorted(download.glob("ntpsec_*.deb"))
        if got.returncode != 0 or not debs:
            missing(f"apt-get download ntpsec failed: {got.stderr.strip()}")
        subprocess.run(["dpkg", "-x", str(debs[0]), str(cache)], check=True, timeout=120)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return cache


def ntpq_available() -> Path:
    root = ntpsec_root()
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import ntp.packet"], capture_output=True)
    if probe.returncode != 0:
        missing("NTPsec's ntpq needs the python3-ntp package for /usr/bin/python3")
    return root


def ntpq_rows(output: str) -> Dict[str, List[str]]:
    """ntpq -p rows by remote: [tally, remote, refid, st, t, when, poll, reach, delay, offset, jitter]."""
    rows: Dict[str, List[str]] = {}
    for line in output.splitlines()[2:]:
        fields = line[1:].split()
        if len(fields) >= 10:
            rows[fields[0]] = [line[0], *fields]
    return rows


def assert_rows_agree(ours: List[str], theirs: List[str], context: str) -> None:
    # tally, remote, refid, st, t, reach: the same; delay and offset (ms) within 1 ms.
    for i in (0, 1, 2, 3, 4, 7):
        assert ours[i] == theirs[i], f"column {i}: {ours} vs {theirs}\n{context}"
    for i in (8, 9):
        assert abs(float(ours[i]) - float(theirs[i])) < 1.0, f"column {i}: {ours} vs {theirs}\n{context}"


def test_ntpq_and_ntp_py_peers_read_the_node_alike(chronyd: Chronyd) -> None:
    ntpsec = ntpq_available()
    host = "127.0.77.1"  # ntpq asks port 123; an address of our own on loopback
    directory = Path(tempfile.mkdtemp(prefix="ntp-py-ntpq-"))
    daemon = start_node(chronyd, host, 123, directory)
    try:
        wait_for_system_peer(host, 123, daemon, full_reach=True)
        ours = run_cli("peers", host)
        ntpq = subprocess.run(
            [SYSTEM_PYTHON, str(ntpsec / "usr/bin/ntpq"), "-n", "-p", host], capture_output=True, text=True, timeout=60
        )
        context = f"ntp-py:\n{ours.stdout}{ours.stderr}\nntpq:\n{ntpq.stdout}{ntpq.stderr}"
        assert ours.returncode == 0 and ntpq.returncode == 0, context
        assert_rows_agree(ntpq_rows(ours.stdout)["127.0.0.1"], ntpq_rows(ntpq.stdout)["127.0.0.1"], context)
    finally:
        daemon.stop()
        shutil.rmtree(directory, ignore_errors=True)


class Namespace:
    """An empty network namespace with 10.66.0.1 and 10.66.0.2 on its
    loopback, held open by a sleeping shell."""

    def __init__(self) -> None:
        tools = {t: shutil.which(t) for t in ("unshare", "nsenter", "capsh", "ip")}
        absent = [t for t, path in tools.items() if path is None]
        if absent:
            missing(f"the ntpd test needs {', '.join(absent)}")
        self.tools = {t: str(p) for t, p in tools.items()}
        script = '"$0" link set lo up && "$0" addr add 10.66.0.1/32 dev lo && "$0" addr add 10.66.0.2/32 dev lo && exec sleep 300'
        self.holder = subprocess.Popen([self.tools["unshare"], "--net", "--", "sh", "-c", script, self.tools["ip"]])
        time.sleep(0.3)

    def enter(self) -> List[str]:
        return [self.tools["nsenter"], "--target", str(self.holder.pid), "--net", "--"]

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()


def test_ntp_py_peers_reads_ntpsec_ntpd_as_ntpq_does() -> None:
    ntpsec = ntpq_available()
    if os.geteuid() != 0:
        missing("the ntpd test needs root")
    ns = Namespace()
    directory = Path(tempfile.mkdtemp(prefix="ntp-py-ntpd-"))
    daemons: List[Daemon] = []
    try:
        # Our node serves its own clock at stratum 2 on 10.66.0.2; ntpd
        # (127.0.0.1 and 10.66.0.1) is its client, unable to set the clock.
        daemons.append(
            Daemon([*ns.enter(), str(node_binary()), "run", "--listen", "10.66.0.2:123", "--master", "2", "--quiet"], directory)
        )
        conf = directory / "ntp.conf"
        conf.write_text(
            "server 10.66.0.2 iburst minpoll 3 maxpoll 3\ninterface ignore wildcard\ninterface listen 127.0.0.1\n"
            f"interface listen 10.66.0.1\ndriftfile {directory}/ntp.drift\nrestrict default\nrestrict 127.0.0.1\n"
        )
        ntpd = ntpsec / "usr/sbin/ntpd"
        daemons.append(
            Daemon(
                [*ns.enter(), ns.tools["capsh"], "--drop=cap_sys_time", "--", "-c",
                 f"exec {ntpd} -n -x -c {conf} -l {directory}/ntpd.out"],
                directory,
            )
        )
        ntpq = [*ns.enter(), SYSTEM_PYTHON, str(ntpsec / "usr/bin/ntpq"), "-n", "-p", "127.0.0.1"]
        deadline = time.monotonic() + 90
        while True:
            theirs = subprocess.run(ntpq, capture_output=True, text=True, timeout=60)
            row = ntpq_rows(theirs.stdout).get("10.66.0.2")
            if row is not None and row[0] == "*":
                break
            if time.monotonic() > deadline:
                pytest.fail(f"ntpd did not select our node:\n{theirs.stdout}{theirs.stderr}")
            time.sleep(1)
        # reach moves every 8 s here; read ours right after theirs, and
        # retry if a poll fell in between.
        for _ in range(5):
            theirs = subprocess.run(ntpq, capture_output=True, text=True, timeout=60)
            ours = run_cli("peers", "127.0.0.1", prefix=ns.enter())
            assert ours.returncode == 0, ours.stderr
            mine, their_row = ntpq_rows(ours.stdout)["10.66.0.2"], ntpq_rows(theirs.stdout)["10.66.0.2"]
            if mine[7] == their_row[7]:
                break
        context = f"ntp-py:\n{ours.stdout}\nntpq:\n{theirs.stdout}"
        assert_rows_agree(mine, their_row, context)
        assert mine[3] == "2"
        # The JSON view and the system variables, against ntpq -c rv.
        peers = json.loads(run_cli("peers", "127.0.0.1", "--json", prefix=ns.enter()).stdout)
        assert [p["address"] for p in peers] == ["10.66.0.2"] and peers[0]["tally"] == "*"
        rv_text = subprocess.run([*ntpq[:-2], "-c", "rv", "127.0.0.1"], capture_output=True, text=True, timeout=60).stdout
        ours_rv = json.loads(run_cli("rv", "127.0.0.1", "--json", prefix=ns.enter()).stdout)
        assert ours_rv["stratum"] == 3 and f"stratum={ours_rv['stratum']}" in rv_text.replace(" ", ""), rv_text
        assert ours_rv["version"] is not None and "ntpsec" in ours_rv["version"].lower()
    finally:
        for d in reversed(daemons):
            d.stop()
        ns.close()
        shutil.rmtree(directory, ignore_errors=True)
