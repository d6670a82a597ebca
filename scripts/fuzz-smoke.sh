#!/usr/bin/env bash
# Runs every cargo-fuzz target briefly: the smoke test CI runs, and what a
# developer runs after touching a decoder.
#
#   scripts/fuzz-smoke.sh [SECONDS]      # SECONDS per target, default 20
#
# For each target in `cargo fuzz list`: copy the committed seeds (and, for
# `packet`, any captured datagrams under ntp-wire/testdata/**/*.bin) into the
# working corpus fuzz/corpus/TARGET (gitignored, kept between runs so the
# corpus keeps growing), fuzz for SECONDS, and print the number of executions
# and executions per second. Exits non-zero if any target crashed, leaked, hit
# a timeout or ran out of memory, after printing the input libFuzzer saved and
# the command that replays it.
#
# Environment:
#   FUZZ_SANITIZER=none|address   default none. AddressSanitizer builds and
#       runs fine here (with RUSTC_BOOTSTRAP=1, which this stable toolchain
#       needs for cargo-fuzz's -Z flags; the script sets it for cargo fuzz
#       only), but the smoke test does without it: ntp-wire is
#       #![forbid(unsafe_code)], so an out-of-bounds access there is already a
#       panic libFuzzer reports; ASan ran 4 to 8 times fewer inputs per second
#       here and needs 60% more CPU for a cold build (140 against 86 CPU
#       seconds), which would break the smoke test's 3-minute budget on a
#       fresh 2-core CI clone. Long runs use address (fuzz/README.md), which
#       also sees memory errors in dependencies' unsafe code.
#   FUZZ_EXTRA_ARGS   more libFuzzer flags, e.g. "-jobs=2 -workers=2".
#
# Long runs, reproducing a crash, and how CI uses this: fuzz/README.md.
set -euo pipefail

SECONDS_PER_TARGET="${1:-20}"
SANITIZER="${FUZZ_SANITIZER:-none}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

case "$SECONDS_PER_TARGET" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]  (a whole number of seconds per target)" >&2; exit 2 ;;
esac

# cargo fuzz with the chosen sanitizer; RUSTC_BOOTSTRAP only where needed.
fuzz() {
    case "$SANITIZER" in
        address) RUSTC_BOOTSTRAP=1 cargo fuzz "$1" "${@:2}" ;;
        none) cargo fuzz "$1" --sanitizer none "${@:2}" ;;
        *) echo "FUZZ_SANITIZER must be address or none, not '$SANITIZER'" >&2; exit 2 ;;
    esac
}
# The same, as a command line a person can paste.
reproduce_prefix() {
    case "$SANITIZER" in
        address) echo "RUSTC_BOOTSTRAP=1 cargo fuzz run" ;;
        none) echo "cargo fuzz run --sanitizer none" ;;
    esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz (about a minute)"
    cargo install cargo-fuzz --locked
fi

LOG_DIR="fuzz/target/fuzz-smoke"
mkdir -p "$LOG_DIR"

# One build for all targets, timed: `cargo fuzz run` below then finds it done.
build_start=$(date +%s)
if ! fuzz build >"$LOG_DIR/build.log" 2>&1; then
    tail -n 40 "$LOG_DIR/build.log" >&2
    echo "fuzz-smoke: FAILED: the fuzz targets do not build (sanitizer $SANITIZER; log $LOG_DIR/build.log)" >&2
    exit 1
fi
build_seconds=$(($(date +%s) - build_start))
echo "fuzz-smoke: built the targets in ${build_seconds} s (sanitizer $SANITIZER)"

mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "fuzz-smoke: FAILED: cargo fuzz list found no targets" >&2
    exit 1
fi

total_execs=0
failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    if [ -d "fuzz/seeds/$target" ]; then
        cp -p fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    fi
    # Captured datagrams from real daemons, when there are any, are the best
    # seeds a packet parser can have. Named after their path so two captures
    # with one file name do not overwrite each other.
    if [ "$target" = packet ] && [ -d ntp-wire/testdata ]; then
        while IFS= read -r -d '' capture; do
            name="${capture#ntp-wire/testdata/}"
            cp -p "$capture" "$corpus/testdata-${name//\//_}"
        done < <(find ntp-wire/testdata -type f -name '*.bin' -print0)
    fi

    log="$LOG_DIR/$target.log"
    status=0
    # shellcheck disable=SC2086 # FUZZ_EXTRA_ARGS is a list of flags
    fuzz run "$target" "$corpus" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        ${FUZZ_EXTRA_ARGS:-} >"$log" 2>&1 || status=$?

    # libFuzzer's final statistics (-print_final_stats=1), printed on a clean
    # end and after a crash alike.
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then
        # Older libFuzzers: "Done 123456 runs in 20 second(s)".
        execs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
        secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -n 1)
        [ -n "$execs" ] && [ -n "$secs" ] && [ "$secs" -gt 0 ] && rate=$((execs / secs))
    fi
    execs="${execs:-0}"
    rate="${rate:-?}"
    total_execs=$((total_execs + execs))
    corpus_size=$(find "$corpus" -type f | wc -l)

    # Anything libFuzzer saved as a finding: crash-, leak-, timeout-, oom-.
    artifacts=$(sed -n 's/.*Test unit written to \([^ ]*\).*/\1/p' "$log" | grep -v '/slow-unit-' || true)
    if [ "$status" -ne 0 ] || [ -n "$artifacts" ]; then
        failed+=("$target")
        printf 'fuzz-smoke: %-12s FAILED after %s execs (exit %s); log %s\n' "$target" "$execs" "$status" "$log"
        # The panic with its message (the line after), or the sanitizer's verdict.
        { grep -A 3 -m 1 "panicked at" "$log" | grep -v -E '^(stack backtrace:|--)' || true
          grep -E -m 2 "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY:" "$log" || true; } |
            sed 's/^/    /'
        for artifact in $artifacts; do
            echo "    input:     $artifact"
            echo "    reproduce: $(reproduce_prefix) $target $artifact"
        done
        [ -z "$artifacts" ] && tail -n 20 "$log" | sed 's/^/    /'
    else
        printf 'fuzz-smoke: %-12s ok  %10s execs  %7s execs/s  corpus %s\n' "$target" "$execs" "$rate" "$corpus_size"
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz-smoke: FAILED: ${failed[*]} (${#targets[@]} targets, ${SECONDS_PER_TARGET} s each, $total_execs execs, sanitizer $SANITIZER)"
    exit 1
fi
echo "fuzz-smoke: ${#targets[@]} targets passed, ${SECONDS_PER_TARGET} s each, $total_execs execs, sanitizer $SANITIZER, build ${build_seconds} s"
