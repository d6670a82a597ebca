#!/usr/bin/env bash
# The monitor's test command (`ntp-py monitor`): builds ntp-node (the fleet
# test and the benchmark run it), installs ntp-py with the monitor and
# report extras into a virtualenv (.venv-test, made by scripts/test-python.sh,
# reused when present; else .venv-monitor), then runs mypy --strict on the
# package, the tests and the benchmark, the monitor's pytest files (unit
# tests and the fleet test: chronyd, NTPsec ntpd, ntp-node and snmpd in a
# private network namespace), and the 1,000-device scan benchmark (RATIO).
#
# Needs root for the fleet test (network namespace, port 123), and the
# Debian packages chrony, snmpd, snmp, libcap2-bin, iproute2, ntpsec-ntpdig
# (test.sh installs them). Under CI=true a missing tool fails the run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
PINS=(pytest==9.2.0 hypothesis==6.170.17 mypy==2.4.1)

nice -n 10 cargo build -p ntp-node --locked --manifest-path "$ROOT/Cargo.toml"

if [ -x "$ROOT/.venv-test/bin/python" ] && [ "${MONITOR_OWN_VENV:-0}" != 1 ]; then
    VENV="$ROOT/.venv-test"
else
    VENV="$ROOT/.venv-monitor"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
fi
# The wheel with the extras (pysnmp, matplotlib; tomli on Python < 3.11).
nice -n 10 "$VENV/bin/python" -m pip install --quiet "$ROOT/ntp-py[monitor,report]"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "== mypy --strict (monitor)"
"$VENV/bin/python" -m mypy --strict --cache-dir "$WORK/mypy-cache" \
    "$ROOT/ntp-py/python/ntp_py/monitor" "$ROOT/ntp-py/tests/test_monitor.py" \
    "$ROOT/ntp-py/tests/fleet" "$ROOT/bench/monitor"

echo "== pytest (monitor unit tests and fleet)"
# From ntp-py/: `import ntp_py` finds the installed wheel, not python/.
cd "$ROOT/ntp-py"
"$VENV/bin/python" -m pytest -W error tests/test_monitor.py tests/fleet/fleet_monitor.py

if [ "${SKIP_BENCH:-0}" != 1 ]; then
    echo "== scan benchmark"
    # The fixture nodes as deployed (optimized), so the figure is the monitor's.
    nice -n 10 cargo build --release -p ntp-node --locked --manifest-path "$ROOT/Cargo.toml"
    cd "$WORK"
    NTP_NODE="$ROOT/target/release/ntp-node" "$VENV/bin/python" "$ROOT/bench/monitor/scan_bench.py"
fi
