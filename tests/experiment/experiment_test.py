"""Tests of benchmarks/experiment/run: the spread rule (stats, compare), the verdict it words
from it, the table cells, NE / one-worker NE along the curves (points matched by index or the
reference interpolated), the refusals of bad --variant values, and small end-to-end runs (2
repeats, no plots): one whose results.json keeps every repeat and whose report uses the teacher's
NE on the evaluated rows, one of only the reference and variants whose curve table is checked
against results.json. The shadowsync executable comes in SHADOWSYNC_EXE."""

import importlib.machinery
import importlib.util
import json
import os
import re
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


class RelativeCurves(unittest.TestCase):
    REF = [(1024, 1.0), (1920, 0.9), (2700, 0.8)]

    def test_same_grid_matches_by_index(self):
        # Within a batch per group of the reference's points: divided point by point.
        ratios = run.ne_ratios([(1024, 1.02), (1862, 0.918), (2700, 0.84)], self.REF, 384)
        self.assertEqual([x for x, _ in ratios], [1024, 1862, 2700])
        for (_, got), want in zip(ratios, [1.02, 1.02, 1.05]):
            self.assertAlmostEqual(got, want)

    def test_other_grid_interpolates_the_reference(self):
        # One point fewer: the reference's NE is interpolated linearly in examples at each point,
        # and held at its first / last value outside its range.
        ratios = run.ne_ratios([(512, 1.1), (1472, 0.95), (2700, 0.84)], self.REF, 384)
        for (_, got), want in zip(ratios, [1.1 / 1.0, 0.95 / 0.95, 0.84 / 0.8]):
            self.assertAlmostEqual(got, want)
        # Same count but one point farther than the tolerance: interpolated too.
        ratios = run.ne_ratios([(1024, 1.0), (1472, 0.95), (2700, 0.8)], self.REF, 384)
        self.assertAlmostEqual(ratios[1][1], 1.0)

    def test_cells(self):
        self.assertEqual(run.fmt_ratio(run.stats([1.008, 1.016, 1.012])), "1.012 [1.008-1.016]")
        self.assertEqual(run.fmt_ratio(run.stats([0.9994])), "0.999")


def run_script(*arguments, timeout=60):
    return subprocess.run([sys.executable, SCRIPT, *arguments], capture_output=True, text=True, timeout=timeout)


class VariantRefusals(unittest.TestCase):
    """Refused before anything is trained (no binary needed), with the value and what is wrong."""

    def refused(self, *arguments):
        proc = run_script("--rows", "3000", "--groups", "2", "--no-plots", "--bin", "/nonexistent", *arguments)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        return proc.stderr

    def test_name_unsafe_for_file_names(self):
        err = self.refused("--variant", "../x=s-pa")
        self.assertIn("--variant '../x=s-pa': the name '../x' is not safe for file names", err)
        self.assertIn("is not safe for file names", self.refused("--variant", "a b=s-pa"))
        self.assertIn("is not safe for file names", self.refused("--variant", "=s-pa"))

    def test_name_given_twice(self):
        err = self.refused("--variants", "a=s-ma;a=s-pa --block-momentum 0.3")
        self.assertIn("--variant 'a=s-pa --block-momentum 0.3': the name 'a' is given twice", err)

    def test_name_of_another_configuration(self):
        err = self.refused("--rules", "ma", "--ks", "4", "--variant", "s-ma=s-ma --block-momentum 0.3")
        self.assertIn("its runs would be named like another configuration's (s-ma-G2)", err)

    def test_mode_and_options(self):
        self.assertIn("--variant 'a': expected NAME=MODE", self.refused("--variant", "a"))
        self.assertIn("'s-foo' is not a sync mode (one of s-ma, fr-ma, s-easgd", self.refused("--variant", "a=s-foo"))
        self.assertIn("--variant 'a=s-pa --groups 4': --groups is set by the experiment itself",
                      self.refused("--variant", "a=s-pa --groups 4"))
        self.assertIn("--sync is set by the experiment itself", self.refused("--variant", "a=s-pa --sync=s-ma"))
        self.assertIn("cannot split the options", self.refused("--variant", "a=s-pa --topology 'x"))

    def test_empty_rules_need_a_variant(self):
        err = self.refused("--rules", "", "--baselines", "")
        self.assertIn("--rules '': no rule given (an empty --rules needs at least one --variant)", err)


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
            # A results.json written before variants existed replots too, curves included.
            with open(os.path.join(out, "curves.md")) as f:
                curves = f.read()
            del saved["variants"]
            with open(os.path.join(out, "results.json"), "w") as f:
                json.dump(saved, f)
            os.remove(os.path.join(out, "curves.md"))
            proc = run_script("--replot", out, "--no-plots")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(out, "table.md")) as f:
                self.assertEqual(f.read(), table)
            with open(os.path.join(out, "curves.md")) as f:
                self.assertEqual(f.read(), curves)
            self.assertIn("| s-ma-G2 | s-ma | ", curves)

    def test_reference_and_variants_only(self):
        exe = os.environ.get("SHADOWSYNC_EXE")
        if not exe:
            self.skipTest("SHADOWSYNC_EXE is not set")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            proc = run_script(
                "--rows", "3000", "--groups", "2", "--repeats", "2", "--evals", "3", "--rules", "", "--baselines", "",
                "--variant", "a=s-ma", "--variant", "b=s-pa --block-momentum 0.3",
                "--variant", "c=fr-ma --sync-every 4 --deterministic", "--model", "tiny", "--no-plots",
                "--oversubscribe", "--data-dir", tmp, "--out", out, "--bin", exe, timeout=240)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(out, "results.json")) as f:
                saved = json.load(f)
            self.assertEqual(saved["variants"]["b"]["mode"], "s-pa")
            self.assertEqual(saved["variants"]["b"]["options"], ["--block-momentum", "0.3"])
            by_name = {r["name"]: r for r in saved["runs"]}
            self.assertEqual(sorted(by_name), ["a-G2", "b-G2", "c-G2", "reference"])
            self.assertEqual([len(by_name[n]["repeats"]) for n in ("a-G2", "b-G2", "c-G2")], [2, 2, 1])
            for rep in by_name["b-G2"]["repeats"]:  # the options come after the standard ones
                self.assertIn("--sync s-pa --groups 2", rep["command"])
                self.assertTrue(rep["command"].endswith(" --block-momentum 0.3"), rep["command"])
            c_command = by_name["c-G2"]["repeats"][0]["command"]
            self.assertEqual(c_command.split().count("--deterministic"), 1)
            self.assertTrue(c_command.endswith("--sync-every 4 --deterministic"), c_command)
            self.assertTrue(by_name["c-G2"]["repeats"][0]["final"]["config"]["deterministic"])

            # The curve table: columns = the reference's evaluation points, cells = NE / reference
            # NE there (same grid here: by index), mean [min-max] over the repeats.
            with open(os.path.join(out, "curves.md")) as f:
                curves = f.read()
            ref_curve = by_name["reference"]["repeats"][0]["curve"]
            self.assertEqual(len(ref_curve), 3)  # 2 evaluations and the final one
            header = "| run | mode | " + " | ".join(str(x) for x, _ in ref_curve) + " |"
            # (oversubscribed on a machine with fewer than 2 processing units)
            self.assertRegex(curves, r"### G = 2( \(oversubscribed\))?: NE / one-worker NE against examples "
                                     r"seen\n\n" + re.escape(header))
            rows = {line.split(" | ")[0][2:]: line.strip("| ").split(" | ") for line in curves.splitlines()
                    if line.startswith("| ") and not line.startswith("| run") and not line.startswith("| ---")}
            self.assertEqual(sorted(rows), ["a-G2", "b-G2", "c-G2"])
            self.assertEqual(rows["b-G2"][1], "s-pa --block-momentum 0.3")
            for name in ("a-G2", "b-G2", "c-G2"):
                cells = []
                for i, (_, ref_ne) in enumerate(ref_curve):
                    ratios = []
                    for rep in by_name[name]["repeats"]:
                        self.assertEqual(len(rep["curve"]), len(ref_curve), name)
                        ratios.append(rep["curve"][i][1] / ref_ne)
                    if len(ratios) == 1:
                        cells.append(f"{ratios[0]:.3f}")
                    else:
                        cells.append(f"{sum(ratios) / len(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}]")
                self.assertEqual(rows[name][2:], cells, name)
            # The report carries the table and names the variants; the comparison has no pair.
            with open(os.path.join(out, "report.md")) as f:
                report = f.read()
            self.assertIn("`b` = `s-pa --block-momentum 0.3`", report)
            self.assertRegex(report, r"#### G = 2( \(oversubscribed\))?: NE / one-worker NE against examples seen")
            self.assertIn("| b-G2 | s-pa --block-momentum 0.3 | - | 2 x 1 | 2 (nondet.) |", report)
            self.assertIn("| c-G2 | fr-ma --sync-every 4 --deterministic | - | 2 x 1 | 1 |", report)
            self.assertIn("No rule with both a shadow and a foreground mode was run.", report)
            self.assertIn("--rules '' --baselines '' --variant a=s-ma --variant 'b=s-pa --block-momentum 0.3'",
                          report)
            # --replot keeps the variants (their tables and curves).
            proc = run_script("--replot", out, "--no-plots")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(out, "curves.md")) as f:
                self.assertEqual(f.read(), curves)
            with open(os.path.join(out, "report.md")) as f:
                self.assertEqual(f.read(), report)


if __name__ == "__main__":
    unittest.main()
