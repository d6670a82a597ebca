#!/usr/bin/env bash
# The Python package's test command: builds ntp-py into a fresh virtualenv
# (.venv-test at the repository root), then runs the stub check, mypy
# --strict, the benchmarks (RATIO lines) and pytest with warnings as errors.
# Exits non-zero on the first failure; pytest's summary is the last line.
#
# Needs: python3 (3.9+) with venv, a Rust toolchain, network access to PyPI
# (or a pip configuration that provides the pinned wheels), and chronyd for
# the live tests and the query benchmark (CHRONYD=/path overrides
# /usr/sbin/chronyd). The mode 6 live tests also run the workspace's
# ntp-node (built here; NTP_NODE=/path overrides) and, as root, NTPsec's
# ntpq and ntpd (unpacked from `apt-get download ntpsec`; ntpq needs
# python3-ntp). Without a tool those tests are skipped; with CI=true they fail.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-test"
PYTHON="${PYTHON:-python3}"

# Test tools, pinned so a run means the same thing tomorrow.
PINS=(pytest==9.2.0 hypothesis==6.170.17 mypy==2.4.1)
# What the benchmarks compare against (installed in the same venv).
BENCH_PINS=(dpkt==1.9.8 ntplib==0.4.0 scapy==2.6.1)

echo "== cargo build -p ntp-node (for the mode 6 live tests)"
if [ -z "${NTP_NODE:-}" ]; then
    (cd "$ROOT" && nice -n 10 cargo build --quiet -p ntp-node --bin ntp-node)
    export NTP_NODE="$ROOT/target/debug/ntp-node"
fi

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
"$VENV/bin/python" -m pip install --quiet "$ROOT/ntp-py"

# Run from outside the source tree so the installed package is what is tested.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

echo "== stubtest"
"$VENV/bin/python" -m mypy.stubtest ntp_py._ntp_py

echo "== mypy --strict"
"$VENV/bin/python" -m mypy --strict --cache-dir "$WORK/mypy-cache" \
    "$ROOT/ntp-py/python/ntp_py" "$ROOT/ntp-py/tests" "$ROOT/ntp-py/bench"

if [ "${SKIP_BENCH:-0}" != 1 ]; then
    echo "== benchmarks"
    "$VENV/bin/python" -m pip install --quiet "${BENCH_PINS[@]}"
    "$VENV/bin/python" "$ROOT/ntp-py/bench/bench.py"
fi

echo "== pytest"
# From ntp-py/: the package source is under python/, so `import ntp_py`
# still finds the installed wheel, not the source tree.
cd "$ROOT/ntp-py"
"$VENV/bin/python" -m pytest -W error tests
