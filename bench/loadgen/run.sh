#!/usr/bin/env bash
# Server throughput of ntp-node beside chronyd, one core each, on loopback.
#
#   bench/loadgen/run.sh [--ntp-node PATH] [--rounds N] [--seconds S] [--perf]
#
# Builds loadgen.c (cc -O2) into a temp dir, then for each mode (no key, MD5
# key) and each round runs each server in turn, pinned to core 1, with the load
# generator pinned to core 0 for S seconds (default 3), and prints the median
# over rounds (default 3) of valid replies per second:
#
#   RATIO serve.nokey ours=<replies/s> chronyd=<replies/s> x<ours/chronyd>
#   RATIO serve.md5   ours=<replies/s> chronyd=<replies/s> x<ours/chronyd>
#
# and, after each RATIO line, the servers' CPU time (user + system, from
# /proc/PID/stat) per valid reply, median over rounds, which a busy machine
# disturbs much less than the rate:
#
#   CPU serve.nokey ours=<µs> chronyd=<µs> per reply x<chronyd/ours>
#
# With --perf, the first round of each server and mode also samples the server
# with `perf record -g -p PID` and prints where a reply's CPU time goes:
#
#   PROFILE serve.nokey ours: <µs> per reply = kernel <µs> (udp_sendmsg <µs>,
#           udp_recvmsg <µs>) + user <µs>
#
# udp_sendmsg is the kernel's send path of one reply; on loopback it includes
# the delivery into the load generator's socket (the softirq runs on the
# sender's core), so no server can answer for less.
#
# chronyd runs with -x (never touches the clock), `local stratum 1`, `allow`,
# no rate limiting, bound to 127.0.0.1 on its own port, in its own temp dir.
# Without a binary for ours (--ntp-node or env NTP_NODE) only chronyd is
# measured.
#
# Environment:
#   NTP_NODE_SERVE_CMD  template of our server command: {bin} the binary,
#                       {port} the UDP port, {keyargs} NTP_NODE_KEY_ARGS in the
#                       md5 mode and nothing otherwise
#   NTP_NODE_KEY_ARGS   template with {keyfile} (chrony format, `ID MD5
#                       ASCII:KEY`), {keyid} and {key}
#   LOADGEN_ARGS        extra loadgen options (e.g. "-s 64 -b 32 -w 4")
#   PORT                UDP port for the servers (default 11123)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
NTP_NODE=${NTP_NODE:-}
ROUNDS=3
SECS=3
PORT=${PORT:-11123}
NTP_NODE_SERVE_CMD=${NTP_NODE_SERVE_CMD:-'{bin} run --listen 127.0.0.1:{port} --master 1 {keyargs}'}
NTP_NODE_KEY_ARGS=${NTP_NODE_KEY_ARGS:-'--keyfile {keyfile}'}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
PERF=0
KEYID=7
KEY=loadgen-bench-key

die() {
    echo "loadgen/run.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --ntp-node) NTP_NODE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --perf) PERF=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done

export PATH="$PATH:/usr/sbin:/sbin"
command -v chronyd >/dev/null || die "chronyd not found (Debian package chrony)"
command -v taskset >/dev/null || die "taskset not found (util-linux)"
[ "$(nproc)" -ge 2 ] || die "needs two cores (server on core 1, load on core 0)"
if [ "$PERF" = 1 ]; then
    command -v perf >/dev/null || die "--perf needs perf (Debian package linux-perf)"
fi
if [ -n "$NTP_NODE" ]; then
    [ -x "$NTP_NODE" ] || die "NTP_NODE '$NTP_NODE' is not an executable file"
fi

WORK=$(mktemp -d /tmp/loadgen.XXXXXX)
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -Wall -o "$WORK/loadgen" "$HERE/loadgen.c" || die "loadgen.c failed to build"
"$WORK/loadgen" --selftest >/dev/null || die "loadgen's MD5 self-test failed"

echo "$KEYID MD5 ASCII:$KEY" >"$WORK/keys"
chmod 600 "$WORK/keys"

start_server() { # DAEMON MODE
    local daemon=$1 mode=$2 cmd keyargs=""
    case $daemon in
    chronyd)
        cat >"$WORK/chrony.conf" <<EOF
pidfile $WORK/chronyd.pid
local stratum 1
allow
port $PORT
bindaddress 127.0.0.1
cmdport 0
bindcmdaddress /
keyfile $WORK/keys
EOF
        # -x: never touch this machine's clock; -u root keeps the run free of
        # the _chrony user's file permissions (it only reads our temp dir).
        taskset -c 1 chronyd -d -x -u root -f "$WORK/chrony.conf" >"$WORK/server.log" 2>&1 &
        ;;
    ours)
        if [ "$mode" = md5 ]; then
            keyargs=${NTP_NODE_KEY_ARGS//\{keyfile\}/$WORK/keys}
            keyargs=${keyargs//\{keyid\}/$KEYID}
            keyargs=${keyargs//\{key\}/$KEY}
        fi
        cmd=${NTP_NODE_SERVE_CMD//\{bin\}/$NTP_NODE}
        cmd=${cmd//\{port\}/$PORT}
        cmd=${cmd//\{keyargs\}/$keyargs}
        # shellcheck disable=SC2086 # the template is split into words on purpose
        taskset -c 1 $cmd >"$WORK/server.log" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    # Ready when it answers a few requests (up to 5 s).
    local i keyopts=()
    [ "$mode" = md5 ] && keyopts=(-k "$KEYID" -K "$KEY")
    for i in $(seq 50); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -5 "$WORK/server.log" >&2
            die "$daemon exited at start"
        fi
        if "$WORK/loadgen" -p "$PORT" -t 0.05 -n 4 -s 1 "${keyopts[@]}" | grep -qv '^replies=0 '; then
            return 0
        fi
        sleep 0.1
    done
    tail -5 "$WORK/server.log" >&2
    die "$daemon does not answer ${mode} requests on 127.0.0.1:$PORT"
}

cpu_ticks() { # PID -> user+system CPU time of the process, clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Runs in this shell, not in a $(...) subshell, so that the EXIT trap sees the
# server's PID and stops it whatever fails.
measure() { # DAEMON MODE PROFILE -> RATE (replies/s), CPU (server CPU µs per reply)
    local daemon=$1 mode=$2 profile=$3 keyopts=() out before after replies perf_pid=""
    [ "$mode" = md5 ] && keyopts=(-k "$KEYID" -K "$KEY")
    start_server "$daemon" "$mode"
    if [ "$profile" = 1 ]; then
        # The server's own samples (its system calls and the softirqs they
        # run), taken while the load is steady.
        (sleep 0.5 && exec perf record -q -p "$SERVER_PID" -g -o "$WORK/perf.data" -- sleep "$(awk -v s="$SECS" 'BEGIN { print (s > 1.5) ? s - 1 : 0.5 }')") \
            >/dev/null 2>&1 &
        perf_pid=$!
    fi
    before=$(cpu_ticks "$SERVER_PID")
    # shellcheck disable=SC2086 # extra options are split into words on purpose
    out=$(taskset -c 0 "$WORK/loadgen" -p "$PORT" -t "$SECS" "${keyopts[@]}" $LOADGEN_ARGS)
    after=$(cpu_ticks "$SERVER_PID")
    [ -n "$perf_pid" ] && { wait "$perf_pid" || die "perf record failed"; }
    stop_server
    replies=${out#replies=}
    replies=${replies%% *}
    CPU=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v r="$replies" 'BEGIN { printf "%.2f", (r > 0) ? t / hz * 1e6 / r : 0 }')
    echo "  $mode/$daemon: $out cpu_us_per_reply=$CPU" >&2
    out=${out##*rate=}
    RATE=${out%% *}
    [ "$profile" = 1 ] && profile_line "$daemon" "$mode" "$CPU"
    return 0
}

profile_line() { # DAEMON MODE CPU_US -> prints the PROFILE line from $WORK/perf.data
    local daemon=$1 mode=$2 cpu=$3 kernel send recv
    kernel=$(perf report -i "$WORK/perf.data" --no-children --sort dso -g none --stdio 2>/dev/null |
        awk '$2 == "[kernel.kallsyms]" { sub("%", "", $1); print $1 }')
    # Children shares: the function and all it calls.
    read -r send recv < <(perf report -i "$WORK/perf.data" --children --sort sym -g none --stdio 2>/dev/null |
        awk '$4 == "udp_sendmsg" { s = $1 } $4 == "udp_recvmsg" { r = $1 }
             END { gsub("%", "", s); gsub("%", "", r); print s + 0, r + 0 }')
    if [ -z "$kernel" ] || [ "$send" = 0 ]; then
        echo "PROFILE serve.$mode $daemon: no kernel samples or symbols (perf needs root, or kernel.perf_event_paranoid <= 1 and kernel.kptr_restrict 0)"
        return 0
    fi
    awk -v d="$daemon" -v m="$mode" -v c="$cpu" -v k="$kernel" -v s="$send" -v r="$recv" 'BEGIN {
        printf "PROFILE serve.%s %s: %.2f us per reply = kernel %.2f us (udp_sendmsg %.2f us, udp_recvmsg %.2f us) + user %.2f us\n",
            m, d, c, c * k / 100, c * s / 100, c * r / 100, c * (100 - k) / 100 }'
}

median() {
    tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

CLK_TCK=$(getconf CLK_TCK)
DAEMONS="chronyd"
[ -n "$NTP_NODE" ] && DAEMONS="ours chronyd"
for mode in nokey md5; do
    declare -A rates=() cpus=()
    for round in $(seq "$ROUNDS"); do
        # Alternate which server goes first so drift in the machine's load
        # does not favour one of them.
        order=$DAEMONS
        [ $((round % 2)) = 0 ] && order=$(echo "$DAEMONS" | tr ' ' '\n' | tac | tr '\n' ' ')
        for daemon in $order; do
            measure "$daemon" "$mode" "$([ "$PERF" = 1 ] && [ "$round" = 1 ] && echo 1 || echo 0)"
            rates[$daemon]="${rates[$daemon]:-} $RATE"
            cpus[$daemon]="${cpus[$daemon]:-} $CPU"
        done
    done
    c=$(echo "${rates[chronyd]}" | median)
    if [ -n "$NTP_NODE" ]; then
        o=$(echo "${rates[ours]}" | median)
        x=$(awk -v o="$o" -v c="$c" 'BEGIN { printf "%.2f", (c > 0) ? o / c : 0 }')
        echo "RATIO serve.$mode ours=$o chronyd=$c x$x"
        # The server's own CPU time per reply (median), which depends far
        # less than the rate on what else the machine runs.
        co=$(echo "${cpus[ours]}" | median)
        cc=$(echo "${cpus[chronyd]}" | median)
        cx=$(awk -v o="$co" -v c="$cc" 'BEGIN { printf "%.2f", (o > 0) ? c / o : 0 }')
        echo "CPU serve.$mode ours=${co}us chronyd=${cc}us per reply x$cx"
    else
        echo "VALUE serve.$mode chronyd=$c (no NTP_NODE given: chronyd only)"
    fi
    unset rates cpus
done
