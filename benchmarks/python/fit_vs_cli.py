#!/usr/bin/env python3
"""Benchmark: examples/s of shadowsync.train from NumPy arrays vs `shadowsync train` on the same
rows and configuration, and the time to hand a million rows over from NumPy.

Run (after scripts/build or ninja -C build):
  PYTHONPATH=build/python /usr/bin/python3 benchmarks/python/fit_vs_cli.py --cli build/src/cli/shadowsync
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

import numpy as np

import shadowsync


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True, help="the shadowsync binary")
    parser.add_argument("--rows", type=int, default=200000, help="training rows")
    parser.add_argument("--handover-rows", type=int, default=1000000)
    parser.add_argument("--model", default="small")
    parser.add_argument("--sync", default="s-ma")
    parser.add_argument("--groups", default="1")
    parser.add_argument("--threads-per-group", default="2")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        tsv = os.path.join(folder, "bench.tsv")
        cache = os.path.join(folder, "bench.bin")
        shadowsync.generate(tsv, rows=args.rows, seed=11)
        subprocess.run([args.cli, "convert", tsv, cache], check=True, capture_output=True)
        engine = shadowsync.Dataset(cache)
        # The same rows as arrays: hashed table rows (uint32, used in place), raw numeric values
        # recovered from the transform (the speed of training does not depend on them), labels.
        numeric = np.rint(np.expm1(engine.numeric.astype(np.float64))).astype(np.float32)
        categorical = np.ascontiguousarray(engine.categorical)
        labels = np.ascontiguousarray(engine.labels)
        arrays = shadowsync.Dataset.from_arrays(numeric, categorical, labels, hashed=True)

        options = dict(model=args.model, sync=args.sync, groups=int(args.groups),
                       threads_per_group=int(args.threads_per_group), eval_fraction=0.0, oversubscribe=True)
        cli_rates, py_rates, py_wall = [], [], []
        for _ in range(args.repeats):
            out = subprocess.run([args.cli, "train", "--data", cache, "--model", args.model, "--sync", args.sync,
                                  "--groups", args.groups, "--threads-per-group", args.threads_per_group,
                                  "--eval-fraction", "0", "--oversubscribe", "--quiet"],
                                 check=True, capture_output=True, text=True).stdout
            cli_rates.append(float(re.search(r"s: (\d+) examples/s", out).group(1)))
            start = time.perf_counter()
            model = shadowsync.train(arrays, **options)
            py_wall.append(time.perf_counter() - start)
            py_rates.append(model.result["final"]["examples_per_second"])
        cli, py = np.median(cli_rates), np.median(py_rates)
        print(f"fit from arrays: {args.rows} rows, model {args.model}, sync {args.sync}, "
              f"{args.groups} group(s) x {args.threads_per_group} thread(s), median of {args.repeats}")
        print(f"  CLI     {cli:12.0f} examples/s  (runs: {', '.join(f'{r:.0f}' for r in cli_rates)})")
        print(f"  Python  {py:12.0f} examples/s  (runs: {', '.join(f'{r:.0f}' for r in py_rates)}); "
              f"whole train() call {np.median(py_wall):.2f} s")
        print(f"  Python / CLI = {py / cli:.3f}")

    n = args.handover_rows
    rng = np.random.default_rng(0)
    raw_numeric = rng.integers(0, 1000, size=(n, 13)).astype(np.float32)
    raw_numeric[rng.random((n, 13)) < 0.2] = np.nan
    raw_ids = rng.integers(-1, 2 ** 32, size=(n, 26), dtype=np.int64)
    hashed = rng.integers(0, 1 << 17, size=(n, 26), dtype=np.uint32)
    y = (rng.random(n) < 0.25).astype(np.float32)
    input_mb = (raw_numeric.nbytes + raw_ids.nbytes + y.nbytes) / 2 ** 20

    def best_of(f, k=3):
        times = []
        for _ in range(k):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return min(times)

    t_raw = best_of(lambda: shadowsync.Dataset.from_arrays(raw_numeric, raw_ids, y))
    t_hashed = best_of(lambda: shadowsync.Dataset.from_arrays(raw_numeric, hashed, y, hashed=True))
    print(f"hand-over of {n} rows from NumPy (best of 3):")
    print(f"  raw ids (int64) + raw numeric: {t_raw * 1000:.0f} ms ({input_mb:.0f} MiB in; numeric transformed "
          f"and ids hashed into one engine copy, labels used in place)")
    print(f"  hashed uint32 ids + raw numeric: {t_hashed * 1000:.0f} ms (ids and labels used in place, numeric "
          f"transformed: {n * 13 * 4 / 2 ** 20:.0f} MiB written)")


if __name__ == "__main__":
    main()
