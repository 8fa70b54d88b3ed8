"""Tests of benchmarks/experiment/run: the spread rule (stats, compare), the verdict it words
from it, the table cells, and a small end-to-end run (2 repeats, no plots) whose results.json keeps
every repeat and whose report uses the teacher's NE on the evaluated rows. The shadowsync
executable comes in SHADOWSYNC_EXE."""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "benchmarks", "experiment", "run")


def load_script():
    loader = importlib.machinery.SourceFileLoader("experiment_run", SCRIPT)
    spec = importlib.util.spec_from_loader("experiment_run", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


run = load_script()


def fake_run(name, ne_values, deterministic=False, wait=0.5, oversubscribed=False):
    stats = {m: None for m in run.METRICS}
    stats["ne"] = run.stats(ne_values)
    stats["wait_share"] = run.stats([wait] * len(ne_values))
    return {"name": name, "stats": stats, "deterministic": deterministic, "oversubscribed": oversubscribed,
            "repeats": [{}] * len(ne_values)}


class SpreadRule(unittest.TestCase):
    def test_stats(self):
        s = run.stats([0.8, None, 0.7, 0.9])
        self.assertAlmostEqual(s["mean"], 0.8)
        self.assertEqual((s["min"], s["max"], s["n"]), (0.7, 0.9, 3))
        self.assertIsNone(run.stats([None]))

    def test_compare(self):
        a, b = run.stats([0.78, 0.79]), run.stats([0.795, 0.80])
        self.assertEqual(run.compare(a, False, b, False), "lower")
        self.assertEqual(run.compare(b, False, a, False), "higher")
        self.assertEqual(run.compare(a, False, run.stats([0.785, 0.80]), False), "within")  # overlap
        self.assertEqual(run.compare(a, False, run.stats([0.79]), True), "within")  # touches the max
        # One run of a nondeterministic mode: its spread is unknown.
        self.assertEqual(run.compare(run.stats([0.7]), False, b, False), "undecided")
        self.assertEqual(run.compare(run.stats([0.7]), True, b, False), "lower")

    def test_cells(self):
        self.assertEqual(run.fmt_stat(run.stats([0.5, 0.25]), ".2f", 100, " %"), "37.50 % [25.00 - 50.00]")
        self.assertEqual(run.fmt_stat(run.stats([0.78719]), ".5f"), "0.78719")
        ref = fake_run("reference", [0.8], deterministic=True)
        self.assertEqual(run.relative_ne(fake_run("x", [0.81, 0.83]), ref), "**+2.50 %**")
        self.assertEqual(run.relative_ne(fake_run("x", [0.79, 0.83]), ref), "+1.25 %")


class Verdict(unittest.TestCase):
    def test_worse_somewhere_is_named(self):
        s2, s8 = fake_run("s-ma-G2", [0.79, 0.80], wait=0.0), fake_run("s-ma-G8", [0.815, 0.818], wait=0.0)
        f2, f8 = fake_run("fr-ma-k1-G2", [0.795, 0.805]), fake_run("fr-ma-k1-G8", [0.806, 0.809])
        text = run.verdict("ma", "s-ma", "fr-ma",
                           [(2, 1, run.compare(s2["stats"]["ne"], False, f2["stats"]["ne"], False), s2, f2),
                            (8, 1, run.compare(s8["stats"]["ne"], False, f8["stats"]["ne"], False), s8, f8)])
        self.assertIn("**not reproduced everywhere**", text)
        self.assertIn("neutral to better in 1 of 2 decided comparisons", text)
        self.assertIn("worse beyond the spread at G=8 k=1 (0.81650 vs 0.80750)", text)
        self.assertIn("the foreground runs waited 50.0 to 50.0 %", text)

    def test_all_within_is_reproduced(self):
        s, f = fake_run("s-bmuf-G2", [0.79, 0.80], wait=0.0), fake_run("fr-bmuf-k4-G2", [0.795, 0.805])
        text = run.verdict("bmuf", "s-bmuf", "fr-bmuf", [(2, 4, "within", s, f)])
        self.assertIn("**reproduced**: s-bmuf is neutral to better than fr-bmuf in all 1 decided comparisons "
                      "(every difference within the spread)", text)

    def test_single_runs_are_undecided(self):
        s, f = fake_run("s-ma-G2", [0.79]), fake_run("fr-ma-k4-G2", [0.80])
        text = run.verdict("ma", "s-ma", "fr-ma", [(2, 4, "undecided", s, f)])
        self.assertIn("cannot be decided", text)


class EndToEnd(unittest.TestCase):
    def test_small_run_keeps_every_repeat(self):
        exe = os.environ.get("SHADOWSYNC_EXE")
        if not exe:
            self.skipTest("SHADOWSYNC_EXE is not set")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            proc = subprocess.run(
                [sys.executable, SCRIPT, "--rows", "3000", "--groups", "2", "--rules", "ma", "--ks", "4",
                 "--baselines", "hogwild", "--repeats", "2", "--model", "tiny", "--evals", "2", "--no-plots",
                 "--oversubscribe", "--data-dir", tmp, "--out", out, "--bin", exe],
                capture_output=True, text=True, timeout=240)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(out, "results.json")) as f:
                saved = json.load(f)
            by_name = {r["name"]: r for r in saved["runs"]}
            self.assertEqual(sorted(by_name), ["fr-ma-k4-G2", "hogwild-G2", "reference", "s-ma-G2"])
            self.assertEqual(len(by_name["reference"]["repeats"]), 1)  # deterministic: once
            for name in ("s-ma-G2", "fr-ma-k4-G2", "hogwild-G2"):
                self.assertEqual(len(by_name[name]["repeats"]), 2, name)
            # The teacher's NE on exactly the 300 evaluated rows, from the trainer's report.
            self.assertEqual(saved["teacher_rows"], "eval")
            teacher = by_name["reference"]["repeats"][0]["final"]["config"]["teacher"]
            self.assertEqual((teacher["first_row"], teacher["rows"]), (2700, 300))
            self.assertEqual(saved["teacher_ne"], teacher["ne"])
            with open(os.path.join(out, "report.md")) as f:
                report = f.read()
            self.assertIn(f"Teacher NE (floor) on the evaluated rows: {teacher['ne']:.5f}", report)
            self.assertIn("| s-ma-G2 | s-ma | - | 2 x 1 | 2 (nondet.) |", report)
            self.assertIn("**ma** (s-ma against fr-ma at k = 4): ", report)
            # --replot rewrites the same tables from results.json.
            with open(os.path.join(out, "table.md")) as f:
                table = f.read()
            proc = subprocess.run([sys.executable, SCRIPT, "--replot", out, "--no-plots"], capture_output=True,
                                  text=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(out, "table.md")) as f:
                self.assertEqual(f.read(), table)


if __name__ == "__main__":
    unittest.main()
