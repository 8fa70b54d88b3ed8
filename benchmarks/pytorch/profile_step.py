#!/usr/bin/python3
"""Profiles dlrm_torch.py's one-thread training step in fp32 and in bf16 (torch.autocast on the
MLPs): CPU time per step (time.process_time, so a shared machine's waiting does not count) and
torch.profiler's operators by self CPU time, for steps 20 to 20 + --steps of the data in order.

  /usr/bin/python3 benchmarks/pytorch/profile_step.py --data CACHE [--model kaggle] [--batch 128]
"""

import argparse
import os
import sys
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dlrm_torch  # noqa: E402  (after the environment above)
import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="binary cache from `shadowsync convert`")
    ap.add_argument("--model", default="kaggle", choices=sorted(dlrm_torch.PRESETS))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rows", type=int, default=14, help="operators listed per precision")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for precision in ("fp32", "bf16"):
        config = argparse.Namespace(data=args.data, eval_fraction=0.1, model=args.model, seed=1,
                                    init="torch", optimizer="adagrad", lr=0.01, emb_lr=0.05, eps=1e-8,
                                    batch=args.batch, precision=precision)
        trainer = dlrm_torch.Trainer(config)
        if (20 + args.steps) * args.batch > trainer.train_rows:
            ap.error(f"--data has {trainer.train_rows} training rows, fewer than {20 + args.steps} batches")
        for b in range(20):  # warm-up: oneDNN primitives, allocator
            trainer.step(b * args.batch, (b + 1) * args.batch)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.process_time()
            for b in range(20, 20 + args.steps):
                trainer.step(b * args.batch, (b + 1) * args.batch)
            cpu = time.process_time() - start
        print(f"{precision}: {1000 * cpu / args.steps:.2f} ms CPU per step ({args.model}, batch {args.batch})")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
