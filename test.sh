#!/usr/bin/env bash
# The project's one test command: builds everything and runs every suite.
#
#   bash test.sh            # everything
#   FUZZ_SECONDS=60 bash test.sh   # longer fuzz smoke per target (default 12 s)
#
# It installs what it needs when it is missing (Debian packages as root,
# cargo-fuzz, cbindgen, a Python venv), then runs, in order: formatting,
# clippy, the no_std build, all Rust tests and doc tests (interop tests
# against real chronyd, NTPsec and tshark included), the C suite (header
# check, ASan/UBSan, valgrind, the C daemon against chronyd), the Python
# suite (pytest, stubtest, mypy), ntp-node under clknetsim for a simulated
# hour, and the fuzz smoke. Under CI=true a suite that cannot run fails the
# run; nothing is skipped silently. The last line is a summary.
set -uo pipefail
cd "$(dirname "$0")"

FUZZ_SECONDS=${FUZZ_SECONDS:-12}
CI=${CI:-false}
export CI
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

declare -a RESULTS=()
PASSED=0
FAILED=0

step() {
    local name=$1
    shift
    echo
    echo "==> ${name}"
    local start=$SECONDS
    if "$@"; then
        RESULTS+=("PASS  ${name} ($((SECONDS - start)) s)")
        PASSED=$((PASSED + 1))
    else
        RESULTS+=("FAIL  ${name} ($((SECONDS - start)) s)")
        FAILED=$((FAILED + 1))
    fi
}

# Debian packages the interop suites need: program -> package.
declare -A NEEDED_PACKAGES=(
    [tshark]=tshark
    [chronyd]=chrony
    [ntpdig]=ntpsec-ntpdig
    [valgrind]=valgrind
    [capsh]=libcap2-bin
    [ip]=iproute2
    [taskset]=util-linux
    [openssl]=openssl
    [snmpd]=snmpd
    [snmpget]=snmp
    [clang-19]=clang-19
)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

install_packages() {
    local missing=()
    for program in "${!NEEDED_PACKAGES[@]}"; do
        have "$program" || missing+=("${NEEDED_PACKAGES[$program]}")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "all needed packages present"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]} (run as root, or install them yourself)"
        return 1
    fi
    echo "installing: ${missing[*]}"
    # Packages must not start a system chronyd (it would steer this machine's
    # clock): deny service starts while installing, unless a policy exists.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    local rc=0
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || rc=$?
    [ "$made_policy" -eq 1 ] && rm -f "$policy"
    return $rc
}

rust_fmt() { cargo fmt --all -- --check; }
rust_clippy() { cargo clippy --workspace --all-targets --locked -- -D warnings; }
nostd_build() { cargo build -p ntp-wire --no-default-features --locked; }
rust_tests() { cargo test --workspace --locked --no-fail-fast; }
c_suite() { bash scripts/test-c.sh; }
python_suite() { bash scripts/test-python.sh; }
monitor_suite() { bash scripts/test-monitor.sh; }
clknetsim_smoke() { bash scripts/clknetsim-smoke.sh; }
fuzz_smoke() { bash scripts/fuzz-smoke.sh "$FUZZ_SECONDS"; }

step "install Debian packages (tshark, chrony, ntpsec-ntpdig, valgrind, clang-19, snmpd, ...)" install_packages
step "cargo fmt --check" rust_fmt
step "cargo clippy --workspace --all-targets -D warnings" rust_clippy
step "no_std build of ntp-wire" nostd_build
step "Rust tests and doc tests (incl. chronyd, NTPsec and tshark interop)" rust_tests
step "C suite: header, ASan/UBSan, valgrind, ntpd-mini against chronyd" c_suite
step "Python suite: pytest, stubtest, mypy --strict" python_suite
step "ntp-py monitor: fleet test (chronyd, NTPsec, ntp-node, snmpd) and scan benchmark" monitor_suite
step "ntp-node under clknetsim for a simulated hour" clknetsim_smoke
step "fuzz smoke, ${FUZZ_SECONDS} s per target (installs cargo-fuzz if missing)" fuzz_smoke

echo
echo "==> summary"
for line in "${RESULTS[@]}"; do
    echo "  $line"
done
echo "steps: ${PASSED} passed, ${FAILED} failed"
[ "$FAILED" -eq 0 ]
