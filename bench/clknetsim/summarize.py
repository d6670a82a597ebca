#!/usr/bin/env python3
"""Accuracy metrics from clknetsim offset logs, and the comparison report.

Two sub-commands, both used by accuracy-vs-chrony.sh:

  summarize.py metrics LOG COLUMN WARMUP_S [BIAS_S]
      LOG is clknetsim's `-o` offset log: one line per simulated second, one
      tab-separated column per node, each the node's true clock error in
      seconds (its clock minus the simulation's true time). Prints one line
      of KEY=VALUE pairs for node COLUMN (1-based):
        mean_abs_offset_us, rms_offset_us, max_abs_offset_us  over the seconds
            after the first WARMUP_S,
        time_to_1ms_s  the first second from which |offset| stays below 1 ms
            to the end of the run (inf when the last second is still outside).
      With a non-zero BIAS_S, the clock error that no NTP client can see (half
      the difference of the links' fixed one-way delays), also
        mean_abs_error_us, rms_error_us  the same as the first two, of the
            offset minus BIAS_S: how closely the client follows the time its
            measurements point to.

  summarize.py report RESULTS [--smoke]
      RESULTS has lines `scenario<TAB>daemon<TAB>seed<TAB>metric<TAB>value`.
      Prints, per scenario and metric, the median over seeds as
        RATIO accuracy.<scenario>.<metric> ours=<v> chronyd=<v> x<chronyd/ours>
      (only when the daemon `ours` was run), `VALUE` lines for chronyd (and
      ntpsec when present), then a markdown table with medians and ranges.
"""

import math
import statistics
import sys
from collections import defaultdict

METRICS = ["mean_abs_offset_us", "rms_offset_us", "max_abs_offset_us", "time_to_1ms_s"]
# Only in scenarios whose links have a fixed asymmetry (see metrics).
BIAS_METRICS = ["mean_abs_error_us", "rms_error_us"]
THRESHOLD_S = 1e-3


def metrics(log_path, column, warmup_s, bias_s=0.0):
    offsets = []
    with open(log_path) as log:
        for line in log:
            fields = line.split()
            if len(fields) >= column:
                offsets.append(float(fields[column - 1]))
    if len(offsets) <= warmup_s:
        sys.exit(f"{log_path}: {len(offsets)} seconds logged, not more than the {warmup_s} s warm-up")
    # The log's line i is the state after i+1 simulated seconds; the last
    # second outside the threshold decides when the clock "stays" inside.
    last_outside = -1
    for i, x in enumerate(offsets):
        if abs(x) >= THRESHOLD_S:
            last_outside = i
    if last_outside == len(offsets) - 1:
        settle = math.inf
    else:
        settle = float(last_outside + 1)
    after = offsets[warmup_s:]
    mean_abs = sum(abs(x) for x in after) / len(after)
    rms = math.sqrt(sum(x * x for x in after) / len(after))
    peak = max(abs(x) for x in after)
    line = (
        f"mean_abs_offset_us={mean_abs * 1e6:.3f} rms_offset_us={rms * 1e6:.3f} "
        f"max_abs_offset_us={peak * 1e6:.3f} time_to_1ms_s={settle:g}"
    )
    if bias_s != 0.0:
        errors = [x - bias_s for x in after]
        mean_abs_error = sum(abs(e) for e in errors) / len(errors)
        rms_error = math.sqrt(sum(e * e for e in errors) / len(errors))
        line += f" mean_abs_error_us={mean_abs_error * 1e6:.3f} rms_error_us={rms_error * 1e6:.3f}"
    print(line)


def fmt(v):
    if math.isinf(v):
        return "inf"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(ours, theirs):
    # Larger is better for us on every metric: smaller offsets, earlier settling.
    if math.isinf(ours) and math.isinf(theirs):
        return "x1.00"
    if math.isinf(ours) or theirs == 0 and ours > 0:
        return "x0.00"
    if math.isinf(theirs) or ours == 0 and theirs > 0:
        return "xinf"
    if ours == 0 and theirs == 0:
        return "x1.00"
    return f"x{theirs / ours:.2f}"


def report(results_path, smoke):
    values = defaultdict(list)  # (scenario, daemon, metric) -> [values over seeds]
    scenarios, daemons = [], []
    with open(results_path) as results:
        for line in results:
            scenario, daemon, _seed, metric, value = line.split("\t")
            values[(scenario, daemon, metric)].append(float(value))
            if scenario not in scenarios:
                scenarios.append(scenario)
            if daemon not in daemons:
                daemons.append(daemon)
    med = {k: statistics.median(v) for k, v in values.items()}
    order = [d for d in ("ours", "chronyd", "ntpsec") if d in daemons]
    for scenario in scenarios:
        for metric in METRICS + BIAS_METRICS:
            key = f"accuracy.{scenario}.{metric}"
            c = med.get((scenario, "chronyd", metric))
            o = med.get((scenario, "ours", metric))
            if c is None:
                continue
            if o is not None:
                print(f"RATIO {key} ours={fmt(o)} chronyd={fmt(c)} {ratio(o, c)}")
            else:
                print(f"VALUE {key} chronyd={fmt(c)}")
            n = med.get((scenario, "ntpsec", metric))
            if n is not None:
                print(f"VALUE {key} ntpsec={fmt(n)} {ratio(n, c)} (chronyd/ntpsec)")
    if "ours" not in daemons:
        print("(no NTP_NODE given: chronyd figures only, no RATIO lines)")
    print()
    seeds = max(len(v) for v in values.values())
    print(f"Median over {seeds} seed(s) (range min-max)" + (", smoke run" if smoke else "") + ":")
    print()
    print("| scenario | metric | " + " | ".join(order) + " |")
    print("|---|---|" + "---|" * len(order))
    for scenario in scenarios:
        for metric in METRICS + BIAS_METRICS:
            if not any((scenario, d, metric) in values for d in order):
                continue
            cells = []
            for d in order:
                v = values.get((scenario, d, metric))
                if not v:
                    cells.append("-")
                elif len(v) == 1:
                    cells.append(fmt(v[0]))
                else:
                    cells.append(f"{fmt(statistics.median(v))} ({fmt(min(v))}-{fmt(max(v))})")
            print(f"| {scenario} | {metric} | " + " | ".join(cells) + " |")


def main(argv):
    if len(argv) >= 5 and argv[1] == "metrics":
        metrics(argv[2], int(argv[3]), int(argv[4]), float(argv[5]) if len(argv) >= 6 else 0.0)
    elif len(argv) >= 3 and argv[1] == "report":
        report(argv[2], "--smoke" in argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
