#!/usr/bin/python3
"""Tests of benchmarks/pytorch/compare (run by scripts/test through meson, suite pytorch): the
OpenBLAS core choice (always), and a tiny run of each mode (one-thread, hogwild) against
dlrm_torch.py where Debian's torch and OpenBLAS are installed (skipped with the reason otherwise:
exit 77, meson's skip code). SHADOWSYNC_EXE names the shadowsync binary."""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE = os.path.join(HERE, "compare")


def load_compare():
    loader = importlib.machinery.SourceFileLoader("compare", COMPARE)
    spec = importlib.util.spec_from_loader("compare", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


compare = load_compare()


def torch_missing_reason():
    """Why the tiny runs cannot run here, or None."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import torch, numpy"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "python3-torch/python3-numpy not installed (scripts/setup --bench installs them)"
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "libopenblas0-pthread"],
                            capture_output=True, text=True)
    if "install ok installed" not in status.stdout:
        return "libopenblas0-pthread not installed (scripts/setup --bench installs it)"
    if not os.access(os.environ.get("SHADOWSYNC_EXE", ""), os.X_OK):
        return "SHADOWSYNC_EXE does not name the shadowsync binary"
    return None


class CoreChoice(unittest.TestCase):
    def test_avx512_cpu_gets_skylakex(self):
        flags = compare.cpu_flags("processor : 0\nflags\t\t: fpu sse avx avx2 fma avx512f avx512bw "
                                  "avx512dq avx512vl avx512_bf16\n")
        self.assertEqual(compare.best_coretype(flags), "SkylakeX")

    def test_avx2_cpu_gets_haswell_and_avx_sandybridge(self):
        self.assertEqual(compare.best_coretype({"avx", "avx2", "fma"}), "Haswell")
        self.assertEqual(compare.best_coretype({"avx", "avx512f"}), "Sandybridge")  # F alone: not SkylakeX
        self.assertIsNone(compare.best_coretype({"sse2", "sse4_2"}))

    def test_generic_cores_are_recognized(self):
        for core in ("Prescott", "prescott", "Core2", "Nehalem", "Barcelona", ""):
            self.assertTrue(compare.is_generic_core(core), core)
        for core in ("SkylakeX", "Haswell", "Zen", "Cooperlake", "Sandybridge"):
            self.assertFalse(compare.is_generic_core(core), core)

    def test_cpu_flags_reads_the_first_flags_line(self):
        self.assertEqual(compare.cpu_flags("model name : X\nflags : a b\nflags : c\n"), {"a", "b"})
        self.assertEqual(compare.cpu_flags("model name : X\n"), set())


class TinyRuns(unittest.TestCase):
    def setUp(self):
        reason = torch_missing_reason()
        if reason:
            self.skipTest(reason)

    def run_mode(self, mode):
        exe = os.environ["SHADOWSYNC_EXE"]
        with tempfile.TemporaryDirectory() as tmp:
            tsv = os.path.join(tmp, "tiny.tsv")
            subprocess.run([exe, "gen", "--rows", "3000", "--seed", "3", "--out", tsv], check=True,
                           stdout=subprocess.DEVNULL)
            out = os.path.join(tmp, "out")
            proc = subprocess.run([sys.executable, COMPARE, "--bin", exe, "--data", tsv, "--models", "tiny",
                                   "--modes", mode, "--repeat", "1", "--processes", "2", "--out", out],
                                  capture_output=True, text=True, timeout=600)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("compare: machine: cpu=", proc.stdout)
            self.assertIn("detected core", proc.stdout)
            with open(os.path.join(out, "compare.json")) as f:
                result = json.load(f)
        self.assertIn("cpu=", result["machine"])
        blas = result["blas"]
        self.assertGreater(blas["sgemm_512_gflops_1thread"], 0)
        self.assertTrue(blas["core"])
        # A generic detected core is replaced by the best supported one where the CPU has one;
        # otherwise the core used is the detected one or the best supported one.
        with open("/proc/cpuinfo") as f:
            best = compare.best_coretype(compare.cpu_flags(f.read()))
        if not os.environ.get("OPENBLAS_CORETYPE"):
            if compare.is_generic_core(blas["detected_core"]) and best:
                self.assertEqual(blas["openblas_coretype"], best)
            self.assertIn(blas["core"].lower(), {blas["detected_core"].lower(), (best or "").lower()})
            if blas["openblas_coretype"]:
                self.assertEqual(blas["core"].lower(), blas["openblas_coretype"].lower())
        self.assertEqual(len(result["rows"]), 1)
        row = result["rows"][0]
        self.assertEqual(row["mode"], mode)
        self.assertEqual(row["workers"], 1 if mode == "one-thread" else 2)
        self.assertGreater(row["ours_eps"], 0)
        self.assertGreater(row["torch_eps"], 0)
        # Same data, model and initialization: the NE of both sides agree loosely on 2,700 rows.
        self.assertLess(abs(row["ne_gap"]), 0.05)

    def test_one_thread_mode(self):
        self.run_mode("one-thread")

    def test_hogwild_mode(self):
        self.run_mode("hogwild")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    if not result.wasSuccessful():
        sys.exit(1)
    # Only skips among the tiny runs and nothing failed: say so to meson (exit 77 = skipped)
    # when nothing but the core-choice tests ran.
    if result.skipped and len(result.skipped) == 2:
        print(f"compare_test: tiny runs skipped: {result.skipped[0][1]}")
    sys.exit(0)
