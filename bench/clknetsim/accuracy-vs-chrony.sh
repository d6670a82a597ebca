#!/usr/bin/env bash
# Clock accuracy of ntp-node beside chronyd on identical simulated input.
#
#   bench/clknetsim/accuracy-vs-chrony.sh [options] [CLKNETSIM_DIR]
#
# CLKNETSIM_DIR is the path of a clknetsim checkout (its source is copied to a
# temp dir and built there; nothing is written to the checkout). clknetsim runs
# unmodified daemons under LD_PRELOAD with simulated clocks and a simulated
# network, so a simulated day passes in seconds and every daemon sees the same
# conditions. Node N of the simulation has address 192.168.123.N.
#
# For each scenario and seed, node 1 (and 2, 3 in three-servers) is a chronyd
# `local stratum 1` server and the last node is the client under test: chronyd
# (`server ... iburst`, `makestep 0.1 3`), then ntp-node when a binary is given,
# then NTPsec's ntpd when NTPSEC_NTPD is given. Metrics come from clknetsim's
# per-second log of each node's true clock error (summarize.py).
#
# Options:
#   --ntp-node PATH   our daemon (or env NTP_NODE); without it only chronyd runs
#   --ntpsec PATH     NTPsec ntpd binary (or env NTPSEC_NTPD), a third column;
#                     it runs with ntpsec-shim.c preloaded before clknetsim
#                     (pselect and SO_TIMESTAMPNS, which clknetsim lacks)
#   --smoke           one scenario (lan), one seed, one simulated hour; checks
#                     that each client ran and synchronised (exit 1 if not)
#   --scenarios "A B" subset of: lan wan three-servers asymmetric cold-start
#   --seeds "1 2"     seeds (default 1 2 3 4 5)
#   --live-rng        put the random expressions into clknetsim's config as they
#                     are instead of pre-generating them per seed (see below)
#   --keep DIR        keep every run's logs in DIR
#
# Environment:
#   NTP_NODE_CMD      the client command template for ntp-node; {bin} is the
#                     binary, {servers} the server arguments, each built from
#                     NTP_NODE_SERVER_ARG with {addr} replaced by the address.
#   CLKNETSIM_RUN_TIMEOUT  real seconds one simulation may take (default 900)
#
# Identical input: by default every random expression (frequency wander, each
# link's delay and loss) is turned into a number file once per seed with
# clknetsim's own generator (`clknetsim -G`, one RNG seed per stream) and the
# simulation reads it with `(file ...)`. Then the n-th second's frequency and
# the n-th packet's delay on each link are the same whichever daemon runs; with
# the expressions inline (--live-rng) all streams share one RNG, so a daemon
# that sends more packets also shifts the clock's wander.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

CLKNETSIM_SRC=""
NTP_NODE=${NTP_NODE:-}
NTPSEC_NTPD=${NTPSEC_NTPD:-}
SMOKE=0
SCENARIOS="lan wan three-servers asymmetric cold-start"
SEEDS="1 2 3 4 5"
LIVE_RNG=0
KEEP=""
# The same configuration as chronyd's: iburst, and a step only above 0.1 s.
NTP_NODE_CMD=${NTP_NODE_CMD:-'{bin} run --clock system --step-threshold 0.1 {servers}'}
NTP_NODE_SERVER_ARG=${NTP_NODE_SERVER_ARG:-'--server {addr},iburst'}
RUN_TIMEOUT=${CLKNETSIM_RUN_TIMEOUT:-900}

die() {
    echo "accuracy-vs-chrony: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --ntp-node) NTP_NODE=$2; shift 2 ;;
    --ntpsec) NTPSEC_NTPD=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --live-rng) LIVE_RNG=1; shift ;;
    --keep) KEEP=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) CLKNETSIM_SRC=$1; shift ;;
    esac
done
CLKNETSIM_SRC=${CLKNETSIM_SRC:-$REPO/../shared/tools/clknetsim}

# One simulated day, statistics after the first hour; the smoke run is one hour
# with statistics after the first ten minutes.
if [ "$SMOKE" = 1 ]; then
    SCENARIOS="lan"
    SEEDS="1"
    LIMIT=3600
    WARMUP=600
else
    LIMIT=86400
    WARMUP=3600
fi

export PATH="$PATH:/usr/sbin:/sbin"
command -v chronyd >/dev/null || die "chronyd not found (Debian package chrony)"
command -v python3 >/dev/null || die "python3 not found"
[ -d "$CLKNETSIM_SRC" ] || die "no clknetsim checkout at '$CLKNETSIM_SRC' (give its path as the argument)"
[ -f "$CLKNETSIM_SRC/Makefile" ] && [ -f "$CLKNETSIM_SRC/client.c" ] ||
    die "'$CLKNETSIM_SRC' does not look like a clknetsim checkout (no Makefile/client.c)"
if [ -n "$NTP_NODE" ]; then
    [ -x "$NTP_NODE" ] || die "NTP_NODE '$NTP_NODE' is not an executable file"
    NTP_NODE=$(cd "$(dirname "$NTP_NODE")" && pwd)/$(basename "$NTP_NODE")
fi
if [ -n "$NTPSEC_NTPD" ]; then
    [ -x "$NTPSEC_NTPD" ] || die "NTPSEC_NTPD '$NTPSEC_NTPD' is not an executable file"
fi
# Simulated daemons run as root so chronyd can keep its privileges (-u root);
# every clock call they make goes to the simulator, never to this machine.
[ "$(id -u)" = 0 ] || die "must run as root (chronyd under clknetsim runs with -u root)"

WORK=$(mktemp -d /tmp/accuracy-vs-chrony.XXXXXX)
declare -a PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$KEEP" ]; then
        mkdir -p "$KEEP" && cp -r "$WORK"/runs "$WORK"/results.tsv "$KEEP"/ 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building clknetsim from $CLKNETSIM_SRC in $WORK/clknetsim"
mkdir -p "$WORK/clknetsim"
cp -r "$CLKNETSIM_SRC"/. "$WORK/clknetsim"/
rm -f "$WORK"/clknetsim/*.o "$WORK"/clknetsim/clknetsim "$WORK"/clknetsim/clknetsim.so
if ! make -C "$WORK/clknetsim" -j2 clknetsim clknetsim.so >"$WORK/build.log" 2>&1; then
    tail -20 "$WORK/build.log" >&2
    die "clknetsim failed to build from '$CLKNETSIM_SRC'"
fi
SIM=$WORK/clknetsim/clknetsim
PRELOAD=$WORK/clknetsim/clknetsim.so
if [ -n "$NTPSEC_NTPD" ]; then
    cc -O2 -Wall -fPIC -shared -o "$WORK/ntpsec-shim.so" "$HERE/ntpsec-shim.c" -ldl ||
        die "ntpsec-shim.c failed to build"
fi

# --- scenario definitions ---------------------------------------------------
#
# Each scenario sets SERVERS (server node count; the client is node SERVERS+1),
# writes clknetsim's config through `rnd`, and may add server config lines. A
# scenario whose links have a fixed asymmetry sets BIAS (seconds): half the
# difference of the fixed one-way delays, the clock error that NTP's
# arithmetic cannot see (RFC 5905 §8 assumes equal delays each way), so the
# best any client can do there is |offset| = BIAS. summarize.py then also
# reports the error about it (mean_abs_error_us, rms_error_us).

rnd() { # STREAM EXPR COUNT -> the expression, or a file of COUNT numbers from it
    local stream=$1 expr=$2 count=$3
    if [ "$LIVE_RNG" = 1 ]; then
        echo "$expr"
        return
    fi
    # Each stream has its own RNG seed so no two streams are correlated.
    local file=$RUN/stream$stream
    CLKNETSIM_RANDOM_SEED=$((SEED * 1000 + stream)) "$SIM" -G "$expr" "$count" >"$file"
    echo "(file \"$file\")"
}

# Packets per link are far fewer than one per simulated second; a file loops
# when read to its end, so this bounds only how long the input stays unrepeated.
PACKETS=$((LIMIT + 100))
SECONDS_N=$((LIMIT + 100))
# The simulated clocks start at 2026-01-01 00:00:00 UTC. clknetsim's default,
# 2010, is before NTPsec's build date, and NTPsec unfolds the 32-bit NTP era
# of a stepped time into the 136 years from its build date: its first step
# put the clock 2^32 s ahead.
START_DATE=1767225600
WANDER="(sum (* 1e-9 (normal)))" # random walk, 1 ppb/s^0.5

link() { # FROM TO EXPR
    echo "node$1_delay$2 = $(rnd "$(($1 * 10 + $2))" "$3" "$PACKETS")"
}

client_clock() { # NODE OFFSET_S FREQ_EXPR
    echo "node$1_offset = $2"
    echo "node$1_freq = $(rnd "$((100 + $1))" "$3" "$SECONDS_N")"
}

LAN_DELAY="(+ 100e-6 (* 100e-6 (exponential)))"

scenario_lan() { # the issue's reference: 100 us + exp(100 us) each way, 100 ppm
    SERVERS=1
    client_clock 2 0.1 "(+ 100e-6 $WANDER)"
    link 2 1 "$LAN_DELAY"
    link 1 2 "$LAN_DELAY"
}

scenario_wan() { # 10 ms + exp(10 ms) each way, 1 % loss (a negative delay drops)
    SERVERS=1
    local d="(+ 10e-3 (* 10e-3 (exponential)) (* -1 (equal 0.005 (uniform) 0.005)))"
    client_clock 2 0.1 "(+ 50e-6 $WANDER)"
    link 2 1 "$d"
    link 1 2 "$d"
}

scenario_three_servers() { # node 3 serves a clock 200 ms off: a falseticker
    SERVERS=3
    local s
    echo "node3_offset = 0.2"
    client_clock 4 0.1 "(+ 100e-6 $WANDER)"
    for s in 1 2 3; do
        link 4 $s "$LAN_DELAY"
        link $s 4 "$LAN_DELAY"
    done
}

scenario_asymmetric() { # 1 ms more on the way out than back, 100 us jitter
    SERVERS=1
    # A client steers its measured offset to zero, which leaves its clock
    # (1.1 ms - 0.1 ms) / 2 ahead of true time.
    BIAS=500e-6
    client_clock 2 0.1 "(+ 100e-6 $WANDER)"
    link 2 1 "(+ 1.1e-3 (* 100e-6 (exponential)))"
    link 1 2 "$LAN_DELAY"
}

scenario_cold_start() { # 0.5 s off and 200 ppm fast at start
    SERVERS=1
    client_clock 2 0.5 "(+ 200e-6 $WANDER)"
    link 2 1 "$LAN_DELAY"
    link 1 2 "$LAN_DELAY"
}

# --- running one simulation -------------------------------------------------

start_node() { # NODE LOGFILE COMMAND... (env EXTRA_PRELOAD: a library to load first)
    local node=$1 log=$2
    shift 2
    # The file-size limit stops a daemon that loops on an error from filling
    # the disk with its log.
    (
        ulimit -f 204800
        LD_PRELOAD=${EXTRA_PRELOAD:+$EXTRA_PRELOAD:}$PRELOAD CLKNETSIM_NODE=$node \
            CLKNETSIM_SOCKET=$RUN/sock CLKNETSIM_RANDOM_SEED=$SEED \
            CLKNETSIM_START_DATE=$START_DATE exec "$@"
    ) >"$log" 2>&1 &
    PIDS+=($!)
}

server_addrs() {
    local s
    for s in $(seq 1 "$SERVERS"); do echo "192.168.123.$s"; done
}

start_client() { # DAEMON NODE
    local daemon=$1 node=$2 addr cmd servers=""
    case $daemon in
    chronyd)
        {
            echo "pidfile $RUN/pid.$node"
            echo "bindcmdaddress /clknetsim/unix/chronyd.sock"
            for addr in $(server_addrs); do echo "server $addr iburst"; done
            echo "makestep 0.1 3"
        } >"$RUN/chrony.$node.conf"
        start_node "$node" "$RUN/log.$node" chronyd -d -u root -f "$RUN/chrony.$node.conf"
        ;;
    ours)
        for addr in $(server_addrs); do servers+="${NTP_NODE_SERVER_ARG//\{addr\}/$addr} "; done
        cmd=${NTP_NODE_CMD//\{bin\}/$NTP_NODE}
        cmd=${cmd//\{servers\}/$servers}
        echo "$cmd" >"$RUN/cmd.$node"
        # shellcheck disable=SC2086 # the template is split into words on purpose
        start_node "$node" "$RUN/log.$node" $cmd
        ;;
    ntpsec)
        {
            echo "driftfile $RUN/drift.$node"
            for addr in $(server_addrs); do echo "server $addr iburst"; done
        } >"$RUN/ntp.$node.conf"
        EXTRA_PRELOAD=$WORK/ntpsec-shim.so \
            start_node "$node" "$RUN/log.$node" "$NTPSEC_NTPD" -n -g -c "$RUN/ntp.$node.conf"
        ;;
    esac
}

run_one() { # SCENARIO DAEMON SEED -> appends metrics to results.tsv
    local scenario=$1 daemon=$2 node s rc=0
    SEED=$3
    RUN=$WORK/runs/$scenario.$daemon.$SEED
    mkdir -p "$RUN"
    BIAS=0
    "scenario_${scenario//-/_}" >"$RUN/conf"
    node=$((SERVERS + 1))
    for s in $(seq 1 "$SERVERS"); do
        {
            echo "pidfile $RUN/pid.$s"
            echo "bindcmdaddress /clknetsim/unix/chronyd.sock"
            echo "local stratum 1"
            echo "allow"
        } >"$RUN/chrony.$s.conf"
        start_node "$s" "$RUN/log.$s" chronyd -d -u root -f "$RUN/chrony.$s.conf"
    done
    start_client "$daemon" "$node"
    CLKNETSIM_RANDOM_SEED=$SEED timeout "$RUN_TIMEOUT" \
        "$SIM" -o "$RUN/offset.log" -r "$WARMUP" -l "$LIMIT" -s "$RUN/sock" "$RUN/conf" "$node" \
        >"$RUN/stats" 2>"$RUN/sim.log" || rc=$?
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    if [ "$rc" != 0 ]; then
        echo "  $scenario/$daemon/seed $SEED: clknetsim exited with $rc; last lines of its log and the client's:" >&2
        tail -5 "$RUN/sim.log" "$RUN/log.$node" >&2 || true
        return 1
    fi
    # clknetsim ends the simulation early when a client exits.
    local logged
    logged=$(wc -l <"$RUN/offset.log")
    if [ "$logged" -lt "$LIMIT" ]; then
        echo "  $scenario/$daemon/seed $SEED: the simulation ended after $logged of $LIMIT s; the client's log ends:" >&2
        tail -5 "$RUN/log.$node" >&2 || true
        return 1
    fi
    local line kv
    line=$(python3 "$HERE/summarize.py" metrics "$RUN/offset.log" "$node" "$WARMUP" "$BIAS") || return 1
    for kv in $line; do
        printf '%s\t%s\t%s\t%s\t%s\n' "$scenario" "$daemon" "$SEED" "${kv%%=*}" "${kv#*=}" >>"$WORK/results.tsv"
    done
    echo "  $scenario/$daemon/seed $SEED: $line"
}

DAEMONS="chronyd"
[ -n "$NTP_NODE" ] && DAEMONS+=" ours"
[ -n "$NTPSEC_NTPD" ] && DAEMONS+=" ntpsec"
for scenario in $SCENARIOS; do
    declare -F "scenario_${scenario//-/_}" >/dev/null || die "unknown scenario '$scenario'"
done

: >"$WORK/results.tsv"
FAILED=0
START=$SECONDS
for scenario in $SCENARIOS; do
    for daemon in $DAEMONS; do
        t0=$SECONDS
        for seed in $SEEDS; do
            run_one "$scenario" "$daemon" "$seed" || FAILED=$((FAILED + 1))
        done
        echo "$scenario/$daemon: $((SECONDS - t0)) s real"
    done
done
echo "simulations took $((SECONDS - START)) s real"
echo

if [ -s "$WORK/results.tsv" ]; then
    python3 "$HERE/summarize.py" report "$WORK/results.tsv" $([ "$SMOKE" = 1 ] && echo --smoke)
fi

if [ "$SMOKE" = 1 ]; then
    # A client that never got within 1 ms in an hour is a broken run, not a figure.
    if awk -F'\t' '$4 == "time_to_1ms_s" && $5 == "inf" { bad = 1 } END { exit !bad }' "$WORK/results.tsv"; then
        die "smoke: a client never stayed within 1 ms of true time"
    fi
fi
[ "$FAILED" = 0 ] || die "$FAILED simulation(s) failed"
