#!/usr/bin/python3
"""Tests of benchmarks/pytorch/compare (run by scripts/test through meson, suite pytorch): the
OpenBLAS core choice and the BF16 checks (always), and tiny runs against dlrm_torch.py where
Debian's torch and OpenBLAS are installed (skipped with the reason otherwise): each mode
(one-thread, hogwild), fp32 beside bf16 (the bf16 rows, or their skip reason on CPUs without
AVX512_BF16 or AMX), and bf16 refused with the reason when torch's oneDNN is lowered below its
BF16 ISA. SHADOWSYNC_EXE names the shadowsync binary."""

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


# oneDNN 2.6's verbose lines as torch 1.13 prints them under autocast on an AVX512_BF16 CPU, and
# with ONEDNN_MAX_CPU_ISA=AVX512_CORE (BF16 emulated by gemm:jit).
VERBOSE_BF16 = """onednn_verbose,info,oneDNN v2.6.3 (commit N/A)
onednn_verbose,info,cpu,runtime:OpenMP,nthr:1
onednn_verbose,info,cpu,isa:Intel AVX-512 with Intel DL Boost and bfloat16 support
onednn_verbose,info,gpu,runtime:OpenCL
onednn_verbose,info,prim_template:operation,engine,primitive,implementation,prop_kind,memory_descriptors,attributes,auxiliary,problem_desc,exec_time
onednn_verbose,exec,cpu,matmul,brg:avx512_core_bf16,undef,src_bf16::blocked:ab:f0 wei_bf16::blocked:ba:f0 dst_bf16::blocked:ab:f0,attr-scratchpad:user attr-post-ops:sum ,,128x512:512x256:128x256,0.129
onednn_verbose,exec,cpu,matmul,brg:avx512_core_bf16,undef,src_bf16::blocked:ab:f0 wei_bf16::blocked:ab:f0 dst_bf16::blocked:ab:f0,attr-scratchpad:user ,,128x256:256x512:128x512,0.130859
"""
VERBOSE_EMULATED = """onednn_verbose,info,cpu,isa:Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions
onednn_verbose,exec,cpu,matmul,gemm:jit,undef,src_bf16::blocked:ab:f0 wei_bf16::blocked:ba:f0 dst_bf16::blocked:ab:f0,attr-scratchpad:user ,,128x512:512x256:128x256,0.2
"""
VERBOSE_FP32 = """onednn_verbose,info,cpu,isa:Intel AVX-512 with Intel DL Boost and bfloat16 support
onednn_verbose,exec,cpu,matmul,gemm:jit,undef,src_f32::blocked:ab:f0 wei_f32::blocked:ba:f0 dst_f32::blocked:ab:f0,,,128x512:512x256:128x256,0.2
"""


class Bf16Checks(unittest.TestCase):
    def test_parse_onednn_verbose(self):
        v = compare.parse_onednn_verbose(VERBOSE_BF16)
        self.assertEqual(v["isa"], "Intel AVX-512 with Intel DL Boost and bfloat16 support")
        self.assertEqual(v["matmuls"], [("brg:avx512_core_bf16", "bf16")] * 2)
        self.assertEqual(compare.parse_onednn_verbose(VERBOSE_FP32)["matmuls"], [("gemm:jit", "f32")])
        self.assertEqual(compare.parse_onednn_verbose("no verbose here\n"), {"isa": "", "matmuls": []})

    def test_cpu_without_bf16_is_refused_with_the_reason(self):
        reason = compare.bf16_unsupported_reason("Old CPU", {"avx512f", "avx2"}, None)
        self.assertEqual(reason, "bf16 needs a CPU with AVX512_BF16 or AMX; this one (Old CPU) has neither "
                                 "(avx512_bf16=no amx=no)")
        # Before any probe: AVX512_BF16 alone or AMX alone is enough.
        self.assertEqual(compare.bf16_unsupported_reason("X", {"avx512_bf16"}, None), "")
        self.assertEqual(compare.bf16_unsupported_reason("X", {"amx_bf16", "amx_tile"}, None), "")
        self.assertIn("neither", compare.bf16_unsupported_reason("X", {"amx_tile"}, None))

    def test_torch_must_run_native_bf16_matmuls(self):
        flags = {"avx512_bf16"}
        ok = compare.parse_onednn_verbose(VERBOSE_BF16)
        self.assertEqual(compare.bf16_unsupported_reason("X", flags, ok), "")
        fp32 = compare.bf16_unsupported_reason("X", flags, compare.parse_onednn_verbose(VERBOSE_FP32))
        self.assertIn("ran no BF16 matmul", fp32)
        self.assertIn("gemm:jit (f32)", fp32)
        emulated = compare.bf16_unsupported_reason("X", flags, compare.parse_onednn_verbose(VERBOSE_EMULATED))
        self.assertIn("without the CPU's BF16 instructions", emulated)
        self.assertIn("AVX512BW", emulated)
        self.assertIn("no oneDNN matmul",
                      compare.bf16_unsupported_reason("X", flags, {"isa": "bfloat16", "matmuls": []}))

    def test_speedups_and_table(self):
        def row(precision, ours, torch):
            return compare.summarize("kaggle", "one-thread", precision, 1,
                                     [{"examples_per_second": e, "ne": 0.8, "auc": 0.7} for e in ours],
                                     [{"examples_per_second": e, "ne": 0.8, "auc": 0.7} for e in torch])
        rows = [row("fp32", [100, 300, 200], [50, 100, 40]), row("bf16", [400, 500, 600], [60, 80, 70])]
        self.assertEqual(rows[0]["ours_eps"], 200)  # medians
        self.assertEqual(rows[0]["ours_eps_best"], 300)
        self.assertAlmostEqual(rows[1]["ratio"], 500 / 70)
        self.assertAlmostEqual(rows[1]["ratio_best"], 600 / 80)
        ups = compare.speedups(rows)
        self.assertEqual(len(ups), 1)
        self.assertAlmostEqual(ups[0]["ours"], 2.5)
        self.assertAlmostEqual(ups[0]["torch"], 70 / 50)
        table = compare.report_table(rows, ups)
        self.assertIn("| kaggle | one-thread | bf16 | 1 | 500 | 70 | 7.14x | 7.50x |", table)
        self.assertIn("| kaggle | one-thread | 2.50x | 1.40x |", table)
        self.assertEqual(compare.speedups(rows[:1]), [])


class TinyRuns(unittest.TestCase):
    def setUp(self):
        reason = torch_missing_reason()
        if reason:
            self.skipTest(reason)

    def run_compare(self, mode, precisions, env=None):
        """Runs compare on 3,000 generated rows (tiny preset, one repeat); returns (stdout,
        compare.json, compare.md)."""
        exe = os.environ["SHADOWSYNC_EXE"]
        with tempfile.TemporaryDirectory() as tmp:
            tsv = os.path.join(tmp, "tiny.tsv")
            subprocess.run([exe, "gen", "--rows", "3000", "--seed", "3", "--out", tsv], check=True,
                           stdout=subprocess.DEVNULL)
            out = os.path.join(tmp, "out")
            proc = subprocess.run([sys.executable, COMPARE, "--bin", exe, "--data", tsv, "--models", "tiny",
                                   "--modes", mode, "--precisions", precisions, "--repeat", "1",
                                   "--processes", "2", "--out", out],
                                  capture_output=True, text=True, timeout=600, env=env)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(os.path.join(out, "compare.json")) as f:
                result = json.load(f)
            with open(os.path.join(out, "compare.md")) as f:
                markdown = f.read()
        return proc.stdout, result, markdown

    def test_bf16_beside_fp32(self):
        stdout, result, markdown = self.run_compare("one-thread", "fp32,bf16")
        with open("/proc/cpuinfo") as f:
            text = f.read()
        flags = compare.cpu_flags(text)
        self.assertIn("compare: bf16: avx512_bf16=", stdout)
        self.assertIn("machine: cpu=", markdown)
        self.assertIn("OPENBLAS_NUM_THREADS=1", markdown)
        reason = compare.bf16_unsupported_reason(compare.cpu_model_name(text), flags, None)
        precisions = [r["precision"] for r in result["rows"]]
        if reason:  # no AVX512_BF16 nor AMX: the fp32 row alone, and the reason printed
            self.assertEqual(precisions, ["fp32"])
            self.assertEqual(result["skipped"], [{"precision": "bf16", "reason": reason}])
            self.assertIn(f"compare: bf16 rows skipped: {reason}", stdout)
            return
        self.assertEqual(result["skipped"], [], stdout)
        self.assertEqual(precisions, ["fp32", "bf16"])
        # torch ran BF16 matmuls with its oneDNN's BF16 ISA, and said which.
        bf16 = result["bf16"]
        self.assertIn("bfloat16", bf16["isa"])
        self.assertIn(["brg:avx512_core_amx" if bf16["amx"] else "brg:avx512_core_bf16", "bf16"], bf16["matmuls"])
        self.assertGreater(bf16["bf16_gflops"], 0)
        self.assertIn("torch's oneDNN ISA: " + bf16["isa"], stdout)
        row = result["rows"][1]
        self.assertGreater(row["ours_eps"], 0)
        self.assertGreater(row["torch_eps"], 0)
        self.assertIn("--precision bf16", row["ours_runs"][0]["command"])
        self.assertIn("--precision bf16", row["torch_runs"][0]["command"])
        self.assertEqual(row["torch_runs"][0]["precision"], "bf16")
        # BF16 rounding moves the result, but both sides train the same model: NE close.
        self.assertLess(abs(row["ne_gap"]), 0.05)
        self.assertNotEqual(row["torch_ne"], result["rows"][0]["torch_ne"])  # really ran in BF16
        self.assertEqual(len(result["speedups"]), 1)
        self.assertGreater(result["speedups"][0]["torch"], 0)
        self.assertIn("| tiny | one-thread | bf16 | 1 |", markdown)
        self.assertIn("| model | mode | shadowsync bf16 / fp32 | PyTorch bf16 / fp32 |", markdown)

    def test_bf16_skipped_where_torch_onednn_lacks_bf16(self):
        # oneDNN below its BF16 ISA (torch's and ours): torch would emulate BF16; no bf16 rows.
        env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX512_CORE")
        stdout, result, _ = self.run_compare("one-thread", "fp32,bf16", env)
        self.assertEqual([r["precision"] for r in result["rows"]], ["fp32"])
        self.assertEqual(len(result["skipped"]), 1)
        reason = result["skipped"][0]["reason"]
        self.assertTrue("has neither" in reason or "without the CPU's BF16 instructions" in reason, reason)
        self.assertIn("compare: bf16 rows skipped: " + reason, stdout)
        self.assertEqual(result["speedups"], [])

    def run_mode(self, mode):
        exe = os.environ["SHADOWSYNC_EXE"]
        with tempfile.TemporaryDirectory() as tmp:
            tsv = os.path.join(tmp, "tiny.tsv")
            subprocess.run([exe, "gen", "--rows", "3000", "--seed", "3", "--out", tsv], check=True,
                           stdout=subprocess.DEVNULL)
            out = os.path.join(tmp, "out")
            proc = subprocess.run([sys.executable, COMPARE, "--bin", exe, "--data", tsv, "--models", "tiny",
                                   "--modes", mode, "--precisions", "fp32", "--repeat", "1", "--processes",
                                   "2", "--out", out],
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
    if result.skipped and len(result.skipped) == 4:
        print(f"compare_test: tiny runs skipped: {result.skipped[0][1]}")
    sys.exit(0)
