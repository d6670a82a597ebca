"""Tests of summarize.py (stdlib only: `python3 -m unittest discover -s bench/clknetsim`)."""

import contextlib
import io
import math
import os
import tempfile
import unittest

import summarize


def run(fn, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn(*args)
    return out.getvalue()


def parse(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split())}


class MetricsTest(unittest.TestCase):
    def log(self, rows):
        fd, path = tempfile.mkstemp(suffix=".log")
        with os.fdopen(fd, "w") as f:
            for row in rows:
                f.write("\t".join(str(x) for x in row) + "\n")
        self.addCleanup(os.remove, path)
        return path

    def test_offsets_after_the_warm_up_and_the_settling_second(self):
        # Column 2 is the client: 2 s far off, then +-300 us and one 600 us.
        rows = [(0, 0.5), (0, -0.002), (0, 300e-6), (0, -300e-6), (0, 600e-6)]
        m = parse(run(summarize.metrics, self.log(rows), 2, 2))
        self.assertAlmostEqual(m["mean_abs_offset_us"], 400.0, places=3)
        self.assertAlmostEqual(m["rms_offset_us"], math.sqrt((300**2 + 300**2 + 600**2) / 3), places=3)
        self.assertAlmostEqual(m["max_abs_offset_us"], 600.0, places=3)
        self.assertEqual(m["time_to_1ms_s"], 2.0)
        self.assertNotIn("rms_error_us", m)

    def test_never_settling_is_inf(self):
        m = parse(run(summarize.metrics, self.log([(0.0,), (0.0,), (0.002,)]), 1, 1))
        self.assertTrue(math.isinf(m["time_to_1ms_s"]))

    def test_bias_metrics_measure_about_the_bias(self):
        rows = [(0.1,), (600e-6,), (400e-6,), (500e-6,), (500e-6,)]
        m = parse(run(summarize.metrics, self.log(rows), 1, 1, 500e-6))
        self.assertAlmostEqual(m["mean_abs_offset_us"], 500.0, places=3)
        self.assertAlmostEqual(m["mean_abs_error_us"], 50.0, places=3)
        self.assertAlmostEqual(m["rms_error_us"], math.sqrt((100**2 * 2) / 4), places=3)


class ReportTest(unittest.TestCase):
    def results(self, lines):
        fd, path = tempfile.mkstemp(suffix=".tsv")
        with os.fdopen(fd, "w") as f:
            f.writelines("\t".join(str(x) for x in line) + "\n" for line in lines)
        self.addCleanup(os.remove, path)
        return path

    def test_ratio_is_chronyd_over_ours_of_the_median_seed(self):
        lines = []
        for seed, (ours, theirs) in enumerate([(10, 40), (20, 30), (90, 20)], 1):
            lines.append(("lan", "ours", seed, "mean_abs_offset_us", ours))
            lines.append(("lan", "chronyd", seed, "mean_abs_offset_us", theirs))
        out = run(summarize.report, self.results(lines), False)
        self.assertIn("RATIO accuracy.lan.mean_abs_offset_us ours=20.0 chronyd=30.0 x1.50", out)
        self.assertIn("| lan | mean_abs_offset_us | 20.0 (10.0-90.0) | 30.0 (20.0-40.0) |", out)

    def test_bias_metrics_only_where_measured(self):
        lines = [
            ("asymmetric", "ours", 1, "rms_error_us", 50),
            ("asymmetric", "chronyd", 1, "rms_error_us", 100),
            ("lan", "ours", 1, "rms_offset_us", 5),
            ("lan", "chronyd", 1, "rms_offset_us", 5),
        ]
        out = run(summarize.report, self.results(lines), False)
        self.assertIn("RATIO accuracy.asymmetric.rms_error_us ours=50.0 chronyd=100 x2.00", out)
        self.assertNotIn("accuracy.lan.rms_error_us", out)
        self.assertNotIn("| lan | rms_error_us |", out)


if __name__ == "__main__":
    unittest.main()
