#!/usr/bin/env bash
# The C side of ntp-ffi, end to end:
#   1. builds the library (static and shared) in release mode;
#   2. regenerates include/ntp.h with a pinned cbindgen and fails on any
#      difference from the committed copy (--update-header rewrites it);
#   3. checks the header's NTP_FFI_VERSION_* defines against Cargo.toml;
#   4. writes target/ntp-ffi-c/ntp-ffi.pc and the static link line;
#   5. compiles every tests/c/test_*.c with -std=c11 -Wall -Wextra
#      -Wpedantic -Werror and runs it plain, under ASan+UBSan and under
#      valgrind; compiles the header as C++17;
#   6. builds examples/c/ntpd-mini.c and runs it against chronyd on loopback
#      both ways (client of chronyd, server to chronyd), MD5 and AES-CMAC;
#      two ntpd-minis as symmetric peers, read over mode 6 (-q); a client
#      and a server over IPv6 on ::1;
#   7. builds the library a second time as LLVM bitcode (-Clinker-plugin-lto),
#      links the C tests and the benchmark against it with clang-19 and
#      rustc's own rust-lld (cross-language ThinLTO) and runs those tests;
#   8. measures the ABI's overhead (RATIO lines, medians of five rounds):
#      gcc with the plain static library, and (the *_lto lines) the LTO
#      build, whose main must have no call to the codec left in it.
# Ends with "N passed, M failed"; exits non-zero on any failure.
#
# Environment: NTP_FFI_SKIP_INTEROP=1 skips step 6, NTP_FFI_SKIP_LTO=1 step 7
# (and the *_lto lines), NTP_FFI_SKIP_BENCH=1 step 8. Without them a missing
# tool (chronyd, valgrind, clang-19) is a failure, never a skip.
# chronyd always runs with -x (never touches the system clock), on 127.0.0.1,
# in its own temporary directory, and is stopped by PID.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CBINDGEN_VERSION=0.29.4
OUT="$ROOT/target/ntp-ffi-c"
LOGS="$OUT/logs"
mkdir -p "$OUT" "$LOGS"
CFLAGS_STRICT=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g -O1 -I "$ROOT/include")
PASSED=0
FAILED=0
UPDATE_HEADER=0
[ "${1:-}" = "--update-header" ] && UPDATE_HEADER=1

pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }

# step NAME COMMAND...: runs COMMAND with its output in $LOGS/NAME.log and
# counts the result; on failure shows the log's tail.
step() {
    local name=$1
    shift
    if "$@" >"$LOGS/$name.log" 2>&1; then
        pass "$name"
    else
        fail "$name"
        tail -n 40 "$LOGS/$name.log" | sed 's/^/    /'
    fi
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# ---- 1. the library -------------------------------------------------------
if ! cargo build --release -p ntp-ffi >"$LOGS/build.log" 2>&1; then
    fail build
    tail -n 40 "$LOGS/build.log"
    finish
fi
pass build
LIB_A="$ROOT/target/release/libntp_ffi.a"

# The system libraries a static link needs, as rustc reports them.
NATIVE_LIBS=$(cargo rustc --release -p ntp-ffi --crate-type staticlib -- --print native-static-libs 2>&1 |
    sed -n 's/.*native-static-libs: //p' | tail -n 1)
if [ -z "$NATIVE_LIBS" ]; then
    NATIVE_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
fi

# ---- 2. the header --------------------------------------------------------
# The pinned cbindgen, from PATH or cargo's own bin directory; installed
# there (the usual cargo location, kept between runs) when missing.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
CBINDGEN=cbindgen
if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
    CBINDGEN="$CARGO_BIN/cbindgen"
    if [ "$("$CBINDGEN" --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
        echo "installing cbindgen $CBINDGEN_VERSION into $CARGO_BIN"
        cargo install cbindgen --version "=$CBINDGEN_VERSION" --locked >"$LOGS/cbindgen-install.log" 2>&1 ||
            { fail cbindgen-install; tail -n 20 "$LOGS/cbindgen-install.log"; }
    fi
fi
generate_header() {
    "$CBINDGEN" --quiet --config ntp-ffi/cbindgen.toml --crate ntp-ffi --output "$OUT/ntp.h" ntp-ffi
}
if step header-generate generate_header; then :; fi
if [ "$UPDATE_HEADER" = 1 ] && [ -f "$OUT/ntp.h" ]; then
    cp "$OUT/ntp.h" include/ntp.h
    echo "include/ntp.h updated"
fi
step header-current diff -u include/ntp.h "$OUT/ntp.h"

# ---- 3. version defines ---------------------------------------------------
check_version() {
    local version major minor patch
    version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
    IFS=. read -r major minor patch <<<"$version"
    grep -q "^#define NTP_FFI_VERSION_MAJOR $major\$" include/ntp.h &&
        grep -q "^#define NTP_FFI_VERSION_MINOR $minor\$" include/ntp.h &&
        grep -q "^#define NTP_FFI_VERSION_PATCH $patch\$" include/ntp.h &&
        echo "header and Cargo.toml agree on $version"
}
step header-version check_version

# ---- 4. pkg-config and the link line ---------------------------------------
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
cat >"$OUT/ntp-ffi.pc" <<PC
prefix=$ROOT
includedir=\${prefix}/include
libdir=\${prefix}/target/release

Name: ntp-ffi
Description: NTP packet codec, authentication and sans-IO engine (C ABI)
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -lntp_ffi
Libs.private: $NATIVE_LIBS
PC
STATIC_LINK="$LIB_A $NATIVE_LIBS"
echo "$STATIC_LINK" >"$OUT/static-link-line.txt"
echo "pkg-config file: $OUT/ntp-ffi.pc"
echo "compile: cc -std=c11 \$(PKG_CONFIG_PATH=$OUT pkg-config --cflags ntp-ffi) app.c $STATIC_LINK"
check_pc() {
    PKG_CONFIG_PATH="$OUT" pkg-config --validate ntp-ffi &&
        PKG_CONFIG_PATH="$OUT" pkg-config --cflags --static --libs ntp-ffi
}
step pkg-config check_pc

# ---- 5. C unit tests --------------------------------------------------------
for src in tests/c/test_*.c; do
    name=$(basename "$src" .c)
    step "$name-compile" gcc "${CFLAGS_STRICT[@]}" "$src" -o "$OUT/$name" $STATIC_LINK -lm
    [ -x "$OUT/$name" ] || continue
    step "$name-run" "$OUT/$name"
    step "$name-asan-compile" gcc "${CFLAGS_STRICT[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all \
        -fno-omit-frame-pointer "$src" -o "$OUT/$name-asan" $STATIC_LINK -lm
    [ -x "$OUT/$name-asan" ] &&
        step "$name-asan" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            "$OUT/$name-asan"
    if command -v valgrind >/dev/null; then
        step "$name-valgrind" valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
            "$OUT/$name"
    else
        fail "$name-valgrind (valgrind not installed)"
    fi
done
cxx_header() {
    printf '#include "ntp.h"\nint main() { ntp_engine *e = nullptr; ntp_engine_free(e); return 0; }\n' |
        g++ -x c++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I "$ROOT/include" -
}
step header-cxx17 cxx_header

# ---- 6. ntpd-mini and chronyd ----------------------------------------------
step ntpd-mini-compile gcc "${CFLAGS_STRICT[@]}" examples/c/ntpd-mini.c -o "$OUT/ntpd-mini" $STATIC_LINK -lm
MINI="$OUT/ntpd-mini"

free_port() {
    python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Every daemon this script starts, so an interrupted run stops them too.
STARTED_PIDS=()
cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
}
trap cleanup EXIT

# Drops a reaped PID from the list (it may be reused by another process).
forget_pid() {
    local pid=$1 p kept=()
    for p in "${STARTED_PIDS[@]}"; do
        [ "$p" = "$pid" ] || kept+=("$p")
    done
    STARTED_PIDS=("${kept[@]}")
}

# chronyd's privilege options: as root it drops to _chrony when that user
# exists (the temporary directory is handed to it) and keeps root
# otherwise; as another user it must be told not to insist on root (-U).
chronyd_user_args() {
    local dir=$1
    if [ "$(id -u)" != 0 ]; then
        echo "-U"
    elif id _chrony >/dev/null 2>&1; then
        chown _chrony "$dir"
        echo "-u _chrony"
    else
        echo "-u root"
    fi
}

# Stops a process by PID: TERM, up to 5 s, then KILL.
stop_pid() {
    local pid=$1 i
    if kill -TERM "$pid" 2>/dev/null; then
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    forget_pid "$pid"
}

# interop NAME KEYLINE KEYID [MINI_KEYS_ARGS...]: two chronyds S1, S2
# (stratum 1) <- ntpd-mini <- chronyd C, every hop authenticated with the key (ntpd-mini
# reads chrony.keys unless MINI_KEYS_ARGS give its own key file and dialect,
# e.g. an ntp.keys file). Passes when ntpd-mini hears both servers, selects
# one with |offset| < 1 ms, and C selects ntpd-mini. With NAME "wrong-key" it passes
# only when neither happens (ntpd-mini holds a different secret).
interop() {
    local name=$1 keyline=$2 keyid=$3
    shift 3
    local dir ps ps2 pm spid spid2 cpid mpid user rc=0 bound=80
    dir=$(mktemp -d /tmp/ntp-ffi-interop.XXXXXX)
    chmod 755 "$dir"
    user=$(chronyd_user_args "$dir")
    ps=$(free_port)
    ps2=$(free_port)
    pm=$(free_port)
    echo "$keyline" >"$dir/chrony.keys"
    chmod 644 "$dir/chrony.keys"
    local mini_keys=(-k "$dir/chrony.keys")
    if [ "$#" -gt 0 ]; then
        printf '%s\n' "$1" >"$dir/mini.keys"
        shift
        mini_keys=(-k "$dir/mini.keys" "$@")
    fi
    [ "$name" = wrong-key ] && bound=24
    cat >"$dir/server.conf" <<CONF
port $ps
bindaddress 127.0.0.1
allow 127.0.0.0/8
local stratum 1
cmdport 0
keyfile $dir/chrony.keys
pidfile $dir/server.pid
driftfile $dir/server.drift
CONF
    cat >"$dir/client.conf" <<CONF
port 0
cmdport 0
server 127.0.0.1 port $pm iburst minpoll -1 maxpoll 0 key $keyid
keyfile $dir/chrony.keys
pidfile $dir/client.pid
driftfile $dir/client.drift
CONF
    sed -e "s/^port $ps\$/port $ps2/" -e "s/server\./server2./g" "$dir/server.conf" >"$dir/server2.conf"
    /usr/sbin/chronyd -d -x $user -f "$dir/server.conf" >"$dir/server.log" 2>&1 &
    spid=$!
    STARTED_PIDS+=("$spid")
    /usr/sbin/chronyd -d -x $user -f "$dir/server2.conf" >"$dir/server2.log" 2>&1 &
    spid2=$!
    STARTED_PIDS+=("$spid2")
    sleep 0.5
    # Start 0.3 s off: ntpd-mini must measure and step its software clock.
    "$MINI" -b 127.0.0.1 -p "$pm" -s "127.0.0.1:$ps:$keyid" -s "127.0.0.1:$ps2:$keyid" -n 0 -x 1 "${mini_keys[@]}" -a -o 0.3 -t 40 -v \
        >"$dir/mini.log" 2>&1 &
    mpid=$!
    STARTED_PIDS+=("$mpid")
    sleep 1
    /usr/sbin/chronyd -d -x $user -f "$dir/client.conf" >"$dir/client.log" 2>&1 &
    cpid=$!
    STARTED_PIDS+=("$cpid")
    # Wait (at most 40 s) for chronyd C to select ntpd-mini, then ask
    # ntpd-mini for its table.
    for _ in $(seq "$bound"); do
        grep -q "Selected source 127.0.0.1" "$dir/client.log" && break
        kill -0 "$mpid" 2>/dev/null || break
        sleep 0.5
    done
    sleep 2
    kill -USR1 "$mpid" 2>/dev/null
    sleep 0.5
    stop_pid "$mpid"
    stop_pid "$cpid"
    stop_pid "$spid"
    stop_pid "$spid2"
    echo "--- ntpd-mini"; grep -E "^(STATUS|PEER|STEP)" "$dir/mini.log" | tail -n 6
    echo "--- chronyd client"; grep -E "Selected|source|auth|NTP" "$dir/client.log" | tail -n 5
    if [ "$name" = wrong-key ]; then
        # Authentication must have kept both sides apart, while ntpd-mini
        # ran to the end (so the test cannot pass by a crash).
        if ! grep -q "^PEER id=1 " "$dir/mini.log"; then
            echo "ntpd-mini did not run to its status table"
            rc=1
        fi
        # ...and it did hear the replies, which failed authentication.
        if ! tail -n 30 "$dir/mini.log" | grep -qE "^COUNTERS .*auth_failed=[1-9]"; then
            echo "ntpd-mini counted no authentication failure"
            rc=1
        fi
        if grep -q "^STATUS synchronized=1" "$dir/mini.log" || grep -q "Selected source" "$dir/client.log"; then
            echo "a wrong key was accepted"
            rc=1
        fi
        [ "$rc" = 0 ] && rm -rf "$dir"
        return $rc
    fi
    # ntpd-mini as a client of chronyd: synchronized, |offset| < 1 ms.
    if ! tail -n 30 "$dir/mini.log" | grep -E "^STATUS synchronized=1 " >/dev/null; then
        echo "ntpd-mini did not synchronize"
        rc=1
    fi
    if ! tail -n 30 "$dir/mini.log" | awk '/^PEER / && /selection=4/ { for (i = 1; i <= NF; i++) if ($i ~ /^offset=/) { v = substr($i, 8) + 0; if (v < 0) v = -v; ok = (v < 0.001) } } END { exit ok ? 0 : 1 }'; then
        echo "ntpd-mini's system peer offset is not below 1 ms"
        rc=1
    fi
    # Both servers answered recently (the last table shows two PEER lines,
    # neither with an empty reach register).
    if [ "$(tail -n 30 "$dir/mini.log" | awk '/^STATUS/ { n = 0; z = 0 } /^PEER / { n++; if (/reach=000/) z++ } END { print n "/" z }')" != "2/0" ]; then
        echo "ntpd-mini did not hear from both servers"
        rc=1
    fi
    # chronyd as a client of ntpd-mini: it selected it.
    if ! grep -q "Selected source 127.0.0.1" "$dir/client.log"; then
        echo "chronyd did not select ntpd-mini"
        rc=1
    fi
    if [ "$rc" != 0 ]; then
        echo "--- full logs in $dir"
        tail -n 40 "$dir/mini.log"
        cat "$dir/client.log" "$dir/server.log" "$dir/server2.log" | tail -n 40
    else
        rm -rf "$dir"
    fi
    return $rc
}

# symmetric: two ntpd-minis as symmetric active peers, one serving its
# local clock at stratum 1 and started 0.3 s off; the other must
# synchronize to it at stratum 2 with |offset| < 1 ms.
symmetric() {
    local dir pa pb apid bpid rc=0
    dir=$(mktemp -d /tmp/ntp-ffi-symmetric.XXXXXX)
    pa=$(free_port)
    pb=$(free_port)
    "$MINI" -b 127.0.0.1 -p "$pa" -P "127.0.0.1:$pb" -n 0 -x 1 -m 1 -t 30 >"$dir/a.log" 2>&1 &
    apid=$!
    STARTED_PIDS+=("$apid")
    "$MINI" -b 127.0.0.1 -p "$pb" -P "127.0.0.1:$pa" -n 0 -x 1 -o 0.3 -t 20 >"$dir/b.log" 2>&1 &
    bpid=$!
    STARTED_PIDS+=("$bpid")
    # The status table on demand, twice: the daemon must survive both.
    sleep 6
    kill -USR1 "$bpid" 2>/dev/null
    sleep 1
    kill -USR1 "$bpid" 2>/dev/null
    sleep 2
    "$MINI" -q "127.0.0.1:$pb" >"$dir/q.log" 2>&1 || { echo "ntpd-mini -q failed"; rc=1; }
    for _ in $(seq 60); do
        kill -0 "$bpid" 2>/dev/null || break
        sleep 0.5
    done
    wait "$bpid" 2>/dev/null || { echo "peer B did not exit cleanly"; rc=1; }
    forget_pid "$bpid"
    stop_pid "$apid"
    # B's peers over mode 6, read by a third ntpd-mini (-q), taken while
    # B still ran (below).
    grep -q "^QPEER id=[0-9]* addr=127.0.0.1:$pa tally=. stratum=1 reach=[0-7]*[1-7][0-7]* hmode=1 " "$dir/q.log" ||
        { echo "the mode 6 query did not list peer A"; cat "$dir/q.log"; rc=1; }
    grep -q "^QSYS stratum=[0-9]" "$dir/q.log" || { echo "the mode 6 query got no system variables"; rc=1; }
    [ "$(grep -c '^STATUS ' "$dir/b.log")" -ge 3 ] || { echo "peer B did not print its table on each SIGUSR1 and at exit"; rc=1; }
    grep -E "^(STATUS|PEER|STEP)" "$dir/b.log" | tail -n 3
    tail -n 20 "$dir/b.log" | grep -q "^STATUS synchronized=1 stratum=2 " || { echo "peer B did not synchronize"; rc=1; }
    tail -n 20 "$dir/b.log" | awk '/^PEER / && /mode=2/ && /selection=4/ { for (i = 1; i <= NF; i++) if ($i ~ /^offset=/) { v = substr($i, 8) + 0; if (v < 0) v = -v; ok = (v < 0.001) } } END { exit ok ? 0 : 1 }' ||
        { echo "peer B's offset to A is not below 1 ms"; rc=1; }
    [ "$rc" = 0 ] && rm -rf "$dir" || { echo "logs in $dir"; tail -n 20 "$dir/b.log"; }
    return $rc
}

# ipv6: ntpd-mini A serves its local clock at stratum 1 on ::1 only; B,
# bound to ::1 and 127.0.0.1, is its client over IPv6, started 0.3 s off,
# and must synchronize with |offset| < 1 ms; B's peers are then read over
# mode 6 on both families.
free_port6() {
    python3 -c 'import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1", 0)); print(s.getsockname()[1])'
}
ipv6() {
    local dir pa pb apid bpid rc=0
    dir=$(mktemp -d /tmp/ntp-ffi-ipv6.XXXXXX)
    pa=$(free_port6)
    pb=$(free_port)
    "$MINI" -b ::1 -p "$pa" -n 0 -x 1 -m 1 -t 30 >"$dir/a.log" 2>&1 &
    apid=$!
    STARTED_PIDS+=("$apid")
    "$MINI" -b ::1 -b 127.0.0.1 -p "$pb" -s "[::1]:$pa" -n 0 -x 1 -o 0.3 -t 14 >"$dir/b.log" 2>&1 &
    bpid=$!
    STARTED_PIDS+=("$bpid")
    sleep 11
    "$MINI" -q "[::1]:$pb" >"$dir/q6.log" 2>&1 || { echo "ntpd-mini -q over IPv6 failed"; cat "$dir/q6.log"; rc=1; }
    "$MINI" -q "127.0.0.1:$pb" >"$dir/q4.log" 2>&1 || { echo "ntpd-mini -q over IPv4 failed"; cat "$dir/q4.log"; rc=1; }
    for _ in $(seq 60); do
        kill -0 "$bpid" 2>/dev/null || break
        sleep 0.5
    done
    wait "$bpid" 2>/dev/null || { echo "B did not exit cleanly"; rc=1; }
    forget_pid "$bpid"
    stop_pid "$apid"
    grep -E "^(STATUS|PEER|STEP)" "$dir/b.log" | tail -n 3
    cat "$dir/q6.log"
    tail -n 20 "$dir/b.log" | grep -q "^STATUS synchronized=1 stratum=2 " || { echo "B did not synchronize over IPv6"; rc=1; }
    tail -n 20 "$dir/b.log" | awk '/^PEER / && /addr=\[::1\]:/ && /selection=4/ { for (i = 1; i <= NF; i++) if ($i ~ /^offset=/) { v = substr($i, 8) + 0; if (v < 0) v = -v; ok = (v < 0.001) } } END { exit ok ? 0 : 1 }' ||
        { echo "B's offset to A over IPv6 is not below 1 ms"; rc=1; }
    for q in q6 q4; do
        grep -q "^QPEER id=[0-9]* addr=\[::1\]:$pa tally=. stratum=1 " "$dir/$q.log" ||
            { echo "$q: the mode 6 query did not list A at [::1]:$pa"; rc=1; }
    done
    [ "$rc" = 0 ] && rm -rf "$dir" || { echo "logs in $dir"; tail -n 20 "$dir/b.log" "$dir/a.log"; }
    return $rc
}

if [ "${NTP_FFI_SKIP_INTEROP:-0}" = 1 ]; then
    echo "SKIP interop (NTP_FFI_SKIP_INTEROP=1)"
elif [ ! -x /usr/sbin/chronyd ]; then
    fail "interop (chronyd not installed at /usr/sbin/chronyd)"
elif [ -x "$MINI" ]; then
    step interop-chronyd-md5 interop md5 "1 MD5 HEX:8a1f3c5e7b9d0f2e4c6a8b0d1f3e5c7a" 1
    # ntpd-mini reads the same AES key from an ntp.keys file (ntpd dialect).
    step interop-chronyd-aes128-cmac interop aes "2 AES128 HEX:000102030405060708090a0b0c0d0e0f" 2 \
        "2 AES128CMAC 000102030405060708090a0b0c0d0e0f" -K ntp -T 2
    step interop-chronyd-wrong-key-refused interop wrong-key "1 MD5 HEX:8a1f3c5e7b9d0f2e4c6a8b0d1f3e5c7a" 1 \
        "1 MD5 HEX:8a1f3c5e7b9d0f2e4c6a8b0d1f3e5c7b"
fi
if [ "${NTP_FFI_SKIP_INTEROP:-0}" != 1 ] && [ -x "$MINI" ]; then
    step ntpd-mini-symmetric-and-query symmetric
    step ntpd-mini-ipv6 ipv6
fi

# ---- 7. cross-language LTO ---------------------------------------------------
# rustc 1.95 emits LLVM 22 bitcode, which Debian 12's newest clang (19) and
# its lld cannot read; LLVM reads older bitcode, so the link is done by the
# lld that ships with rustc (rust-lld, LLVM 22), reached through clang's
# --ld-path. The C side's bitcode (LLVM 19) is read by it too. ThinLTO
# imports a function into another module only below a size limit (100 IR
# instructions by default); ntp_packet_decode, with its panic landing pad
# and the trailer walk's call, is a little above it, hence the raised limit.
HOST=$(rustc -vV | sed -n 's/^host: //p')
RUST_LLD="$(rustc --print sysroot)/lib/rustlib/$HOST/bin/gcc-ld/ld.lld"
LTO_DIR="$ROOT/target/lto-c"
LIB_LTO="$LTO_DIR/$HOST/release/libntp_ffi.a"
LTO_CC=(clang-19 --target="$HOST" -O2 -flto=thin)
LTO_LINK=(-fuse-ld=lld --ld-path="$RUST_LLD" -Wl,-mllvm,-import-instr-limit=200 "$LIB_LTO" $NATIVE_LIBS -lm)
LTO_BUILT=0
if [ "${NTP_FFI_SKIP_LTO:-0}" = 1 ]; then
    echo "SKIP cross-language LTO (NTP_FFI_SKIP_LTO=1)"
elif ! command -v clang-19 >/dev/null; then
    fail "lto (clang-19 not installed: apt-get install clang-19)"
elif [ ! -x "$RUST_LLD" ]; then
    fail "lto (rustc's rust-lld not found at $RUST_LLD)"
else
    # --target keeps build scripts and proc macros out of RUSTFLAGS (rustc
    # links them as ordinary native code); crate type staticlib only, since
    # the cdylib's link by cc cannot take bitcode.
    build_lto_lib() {
        RUSTFLAGS="${RUSTFLAGS:-} -Clinker-plugin-lto" CARGO_TARGET_DIR="$LTO_DIR" \
            cargo rustc --release -p ntp-ffi --target "$HOST" --crate-type staticlib
    }
    if step lto-build build_lto_lib; then
        LTO_BUILT=1
        echo "LTO link: ${LTO_CC[*]} app.c ${LTO_LINK[*]}" | tee "$OUT/lto-link-line.txt"
        for src in tests/c/test_*.c; do
            name=$(basename "$src" .c)
            step "$name-lto-compile" "${LTO_CC[@]}" -std=c11 -Wall -Wextra -Wpedantic -Werror -g -I "$ROOT/include" "$src" \
                -o "$OUT/$name-lto" "${LTO_LINK[@]}"
            [ -x "$OUT/$name-lto" ] && step "$name-lto-run" "$OUT/$name-lto"
        done
    fi
fi

# ---- 8. benchmarks -----------------------------------------------------------
# Five rounds, each the Rust program then the C one (and its LTO build),
# back to back so all see the same machine load; every figure is already
# the fastest of 200 short rounds. The RATIO lines give the median over the
# rounds of each side's figure and their quotient; the single rounds are in
# the log.
if [ "${NTP_FFI_SKIP_BENCH:-0}" != 1 ] && [ -f bench/ffi/bench.c ]; then
    if [ "$LTO_BUILT" = 1 ]; then
        # The point of the LTO build: no call to the codec is left in the
        # benchmark (the linker inlined both entry points into main).
        bench_lto_inlined() {
            rm -f "$OUT/bench-c-lto"
            "${LTO_CC[@]}" -std=c11 -DBENCH_SUFFIX='"_lto"' -I "$ROOT/include" bench/ffi/bench.c \
                -o "$OUT/bench-c-lto" "${LTO_LINK[@]}" || return 1
            local calls
            calls=$(objdump -d --no-show-raw-insn "$OUT/bench-c-lto" | awk '/<main>:/,/^$/' |
                grep -cE 'call.*<ntp_packet_(decode|encode)>')
            echo "calls to ntp_packet_decode/encode left in main: $calls"
            [ "$calls" = 0 ]
        }
        step bench-lto-inlined bench_lto_inlined
    fi
    bench() {
        local i
        gcc -std=c11 -O2 -I "$ROOT/include" bench/ffi/bench.c -o "$OUT/bench-c" $STATIC_LINK -lm &&
            cargo build --release -q -p ntp-ffi --example ffi_bench_rust || return 1
        : >"$OUT/bench-rounds.txt"
        for i in 1 2 3 4 5; do
            "$ROOT/target/release/examples/ffi_bench_rust" >"$OUT/bench-rust.txt" &&
                "$OUT/bench-c" "$OUT/bench-rust.txt" | tee -a "$OUT/bench-rounds.txt" | sed 's/^RATIO/round/' ||
                return 1
            if [ "$LTO_BUILT" = 1 ] && [ -x "$OUT/bench-c-lto" ]; then
                "$OUT/bench-c-lto" "$OUT/bench-rust.txt" | tee -a "$OUT/bench-rounds.txt" | sed 's/^RATIO/round/' ||
                    return 1
            fi
        done
        python3 - "$OUT/bench-rounds.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"RATIO (\S+) ours_c=(\S+) rust=(\S+) x", line)
    if m:
        runs.setdefault(m.group(1), []).append((float(m.group(2)), float(m.group(3))))
for name, pairs in runs.items():
    c = statistics.median(p[0] for p in pairs)
    r = statistics.median(p[1] for p in pairs)
    print(f"RATIO {name} ours_c={c:.1f} rust={r:.1f} x{r / c:.2f}")
PY
    }
    step bench bench && grep '^RATIO' "$LOGS/bench.log"
fi

finish
