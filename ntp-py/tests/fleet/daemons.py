"""Starting and stopping the fleet's daemons: chronyd (``-x``), NTPsec
ntpd (``-x`` under ``capsh --drop=cap_sys_time``), ntp-node (software
clock) and net-snmp's snmpd. None of them can change the clock; every
process is stopped by its PID. Meant to run inside a private network
namespace (the fleet test makes one), so port 123 and the 10.77.0.0/24
addresses on its loopback belong to the test alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[3]


def in_ci() -> bool:
    """Whether missing tools must fail the run rather than skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def ntp_node_binary() -> Optional[Path]:
    """ntp-node from $NTP_NODE or the workspace's target directory."""
    env = os.environ.get("NTP_NODE")
    candidates = [Path(env)] if env else []
    candidates += [REPO / "target" / "debug" / "ntp-node", REPO / "target" / "release" / "ntp-node"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def ntpsec_root() -> Optional[Path]:
    """NTPsec's ntpd/ntpq unpacked from the Debian package (as the Rust
    mode 6 interop test does), downloading the package if needed."""
    env = os.environ.get("NTPSEC_ROOT")
    root = Path(env) if env else REPO / "target" / "tmp" / "ntpsec-1.2.2"
    if (root / "usr/sbin/ntpd").is_file() and (root / "usr/bin/ntpq").is_file():
        return root
    download = REPO / "target" / "tmp" / "ntpsec-deb"
    download.mkdir(parents=True, exist_ok=True)

    def find() -> Optional[Path]:
        for d in (download, Path("/tmp")):
            for p in sorted(d.glob("ntpsec_*.deb")):
                return p
        return None

    deb = find()
    if deb is None:
        subprocess.run(["apt-get", "download", "ntpsec"], cwd=download, stdout=subprocess.DEVNULL, check=False)
        deb = find()
    if deb is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["dpkg", "-x", str(deb), str(root)], check=False).returncode != 0:
        return None
    return root if (root / "usr/sbin/ntpd").is_file() else None


class Fleet:
    """Owns the processes and the temporary directory of one fleet."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.procs: Dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: List[str], env: Optional[Dict[str, str]] = None) -> None:
        log = open(self.dir / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        log.close()

    def log(self, name: str) -> str:
        try:
            return (self.dir / f"{name}.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def check_running(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited ({p.returncode}): {self.log(name)}")

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def chronyd(self, name: str, address: str, extra: str) -> None:
        d = self.dir / name
        d.mkdir()
        conf = d / "chrony.conf"
        conf.write_text(
            f"port 123\nbindaddress {address}\nallow all\nbindcmdaddress {address}\nbindcmdaddress {d}/chronyd.sock\n"
            f"cmdallow all\ndriftfile {d}/drift\npidfile {d}/chronyd.pid\n{extra}"
        )
        self.start(name, [shutil.which("chronyd") or "/usr/sbin/chronyd", "-d", "-x", "-u", "root", "-f", str(conf)])

    def chronyc(self, address: str, *command: str) -> str:
        out = subprocess.run(
            [shutil.which("chronyc") or "/usr/bin/chronyc", "-n", "-h", address, *command],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
        return out.stdout + out.stderr

    def node(self, name: str, node: Path, address: str, *args: str) -> Path:
        status = self.dir / f"{name}.json"
        self.start(
            name,
            [str(node), "run", "--listen", f"{address}:123", "--status-file", str(status), "--status-interval", "0.5",
             "--quiet", *args],
        )  # fmt: skip
        return status

    def ntpd(self, name: str, ntpsec: Path, address: str, server: str, keys: str = "") -> None:
        d = self.dir / name
        d.mkdir()
        conf = d / "ntp.conf"
        if keys:
            # Signed mode 3 and mode 6 requests with key 5 are answered signed.
            (d / "ntp.keys").write_text(keys)
            keys = f"keys {d}/ntp.keys\ntrustedkey 5\n"
        conf.write_text(keys + 
            f"server {server} iburst minpoll 3 maxpoll 3\ninterface ignore wildcard\ninterface listen {address}\n"
            f"driftfile {d}/ntp.drift\nrestrict default\nrestrict 127.0.0.1\nrestrict 10.77.0.0 mask 255.255.255.0\n"
        )
        capsh = shutil.which("capsh") or "/usr/sbin/capsh"
        ntpd = ntpsec / "usr/sbin/ntpd"
        self.start(name, [capsh, "--drop=cap_sys_time", "--", "-c", f"exec {ntpd} -n -x -c {conf} -l {d}/ntpd.log"])

    def ntpq(self, ntpsec: Path, address: str, *args: str) -> str:
        out = subprocess.run(
            ["/usr/bin/python3", str(ntpsec / "usr/bin/ntpq"), "-n", *args, address],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return out.stdout + out.stderr

    def snmpd(self, name: str, addresses: List[str], status: Path) -> None:
        d = self.dir / name
        (d / "persist").mkdir(parents=True)
        script = Path(__file__).with_name("cntp_pass_persist.py")
        conf = d / "snmpd.conf"
        conf.write_text(
            f"agentaddress {','.join(f'udp:{a}:161' for a in addresses)}\n"
            "rocommunity fleet-community default\n"
            'createUser fleetuser SHA "fleet-auth-secret" AES "fleet-priv-secret"\n'
            "rouser fleetuser priv\n"
            f"pass_persist .1.3.6.1.4.1.9.9.168 {sys.executable} {script} {status}\n"
        )
        snmpd = shutil.which("snmpd") or "/usr/sbin/snmpd"
        self.start(
            name,
            [snmpd, "-f", "-Lo", "-C", "-c", str(conf), "-p", str(d / "snmpd.pid")],
            env={"SNMP_PERSISTENT_DIR": str(d / "persist"), "MIBS": "", "MIBDIRS": str(d)},
        )


def wait_until(what: str, timeout: float, ready: Callable[[], bool], fleet: Fleet) -> None:
    """Polls ``ready`` until it holds, or fails with the fleet's logs."""
    deadline = time.monotonic() + timeout
    while True:
        fleet.check_running()
        try:
            if ready():
                return
        except (OSError, ValueError, KeyError, subprocess.SubprocessError):
            pass
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n}\n{fleet.log(n)}" for n in fleet.procs)
            raise AssertionError(f"{what} within {timeout} s\n{logs}")
        time.sleep(0.5)

