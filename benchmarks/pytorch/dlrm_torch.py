#!/usr/bin/python3
"""PyTorch baseline of shadowsync's DLRM: the same network, initialization, data, loss, optimizers
and hyperparameters, trained one pass in file order, in one thread or with PyTorch's own Hogwild
recipe (torch.multiprocessing, share_memory(), one process per core, one thread per process).

Mirrors, and must stay in step with:
  - include/shadowsync/data/binary_cache.hpp   cache layout (read here with numpy.memmap, so the hashed
                                          data is bit-identical to what `shadowsync train` reads);
  - src/model/model_config.cpp            presets tiny / small / kaggle;
  - src/model/model.cpp                   initialization: W ~ N(0, sqrt(2/(in+out))),
                                          b ~ N(0, sqrt(1/out)), embeddings U(-sqrt(1/rows), +);
                                          --init ours reproduces its counter-based generator value
                                          for value, --init torch draws the same distributions
                                          from torch's generator;
  - src/model/model_workspace.cpp, layers.cpp  forward: ReLU after every bottom layer (the last
                                          included) and every hidden top layer; dot interaction =
                                          the bottom output followed by the strictly lower
                                          triangle (row-major) of the 27x27 Gram matrix of
                                          [bottom output, 26 embedding rows]; BCE on the logit,
                                          mean over the batch;
  - include/shadowsync/model/optimizer.hpp      dense Adagrad (accumulator starts at 0,
                                          w -= lr g / (sqrt(s) + eps)) or SGD; embeddings row-wise
                                          Adagrad on the touched rows, repeated rows' gradients
                                          summed first: s += mean(g^2), row -= emb_lr g/(sqrt(s)+eps).

--precision bf16 runs the bottom and top MLPs of every training step under
torch.autocast("cpu", dtype=torch.bfloat16): their linear layers take BF16 inputs through oneDNN
(AVX512_BF16 or AMX kernels where the CPU has them), forward and backward. As in shadowsync's
--precision bf16, everything else stays fp32: weights, optimizer state, embedding table, the
interaction (bmm), the loss, and evaluation. BF16 needs no loss scaling.

Prints one JSON object (the last line of stdout): examples, elapsed_s, examples_per_second, ne,
logloss, auc, precision, and the BLAS library torch loaded.
Run with Debian's torch: /usr/bin/python3 benchmarks/pytorch/dlrm_torch.py --data CACHE ...
"""

import argparse
import json
import math
import os
import sys
import time

# One BLAS thread per process, set before torch loads OpenBLAS: torch.set_num_threads(1) does not
# reach Debian's torch's OpenBLAS (BLAS_INFO=generic), which otherwise runs large GEMMs on every
# core and would make the "one thread" baseline a multi-threaded one.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402  (after the environment above)
import torch  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn as nn  # noqa: E402

NUM_DENSE = 13
NUM_SPARSE = 26
HEADER_BYTES_V1 = 320
CACHE_HEADER_BYTES = {1: 320, 2: 4096}  # format version -> header bytes
CACHE_MAGIC = b"SSYNCDAT"

PRESETS = {
    "tiny": ([8, 4], 4, [8, 1]),
    "small": ([64, 16], 16, [256, 64, 1]),
    "kaggle": ([512, 256, 64, 16], 16, [512, 256, 1]),
}


# ---------------------------------------------------------------------------------------------
# Data: the binary cache, read in place.

def _align64(n):
    return (n + 63) // 64 * 64


def open_cache(path):
    """(labels float32[n], dense float32[n,13], sparse uint32[n,26], table rows[26]).

    The layout is include/shadowsync/data/binary_cache.hpp's. Formats 3 (what `convert` writes; of
    Criteo's layout here) and 2: row blocks of growing capacity, read as memmaps and joined into one
    array per column (a copy).
    Format 1: whole columns, read in place as memmaps."""
    with open(path, "rb") as f:
        header = f.read(CACHE_HEADER_BYTES[2])
    if len(header) < HEADER_BYTES_V1 or header[:8] != CACHE_MAGIC:
        raise SystemExit(f"{path}: not a shadowsync binary cache (run `shadowsync convert` first)")
    version, header_bytes = (int(x) for x in np.frombuffer(header, dtype="<u4", count=2, offset=8))
    if version == 3 and header_bytes >= 4096 and header_bytes % 4096 == 0:
        # Format 3 (with a schema): widths at byte 280 (numeric, categorical, multi-hot). For
        # Criteo's layout its blocks are format 2's, after a header of header_bytes.
        widths = tuple(int(x) for x in np.frombuffer(header, dtype="<u4", count=3, offset=280))
        if widths != (NUM_DENSE, NUM_SPARSE, 0):
            raise SystemExit(f"{path}: a cache of {widths[0]} numeric, {widths[1]} categorical and {widths[2]} "
                             "multi-hot columns; this script reads Criteo's layout (13, 26, 0) only")
    elif CACHE_HEADER_BYTES.get(version) != header_bytes or len(header) < header_bytes:
        raise SystemExit(f"{path}: cache version {version} / header {header_bytes}, this script reads "
                         + ", ".join(f"{v} / {b}" for v, b in CACHE_HEADER_BYTES.items()) + ", 3 (Criteo's layout)")
    rows = int(np.frombuffer(header, dtype="<u8", count=1, offset=16)[0])
    table_rows = np.frombuffer(header, dtype="<u4", count=NUM_SPARSE, offset=24).astype(np.int64)
    size = os.path.getsize(path)
    if version == 1:
        off_labels = header_bytes
        off_dense = _align64(off_labels + 4 * rows)
        off_sparse = _align64(off_dense + 4 * NUM_DENSE * rows)
        expected = off_sparse + 4 * NUM_SPARSE * rows
        if size != expected:
            raise SystemExit(f"{path}: {size} bytes, expected {expected} for {rows} rows")
        labels = np.memmap(path, dtype="<f4", mode="r", offset=off_labels, shape=(rows,))
        dense = np.memmap(path, dtype="<f4", mode="r", offset=off_dense, shape=(rows, NUM_DENSE))
        sparse = np.memmap(path, dtype="<u4", mode="r", offset=off_sparse, shape=(rows, NUM_SPARSE))
        return labels, dense, sparse, table_rows
    first, largest = (int(x) for x in np.frombuffer(header, dtype="<u4", count=2, offset=264))
    if first < 1 or largest < first:
        raise SystemExit(f"{path}: block sizes {first} / {largest} are impossible")
    labels, dense, sparse = [], [], []
    offset, left, k = header_bytes, rows, 0
    while left > 0:
        capacity = min(first << k, largest)
        n = min(capacity, left)
        if offset + 4 * (1 + NUM_DENSE) * capacity + 4 * NUM_SPARSE * n > size:
            raise SystemExit(f"{path}: {size} bytes, too short for {rows} rows")
        labels.append(np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=(n,)))
        offset += 4 * capacity
        dense.append(np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=(n, NUM_DENSE)))
        offset += 4 * NUM_DENSE * capacity
        sparse.append(np.memmap(path, dtype="<u4", mode="r", offset=offset, shape=(n, NUM_SPARSE)))
        offset += 4 * NUM_SPARSE * capacity
        left -= n
        k += 1
    if rows == 0:
        return (np.zeros(0, np.float32), np.zeros((0, NUM_DENSE), np.float32),
                np.zeros((0, NUM_SPARSE), np.uint32), table_rows)
    return np.concatenate(labels), np.concatenate(dense), np.concatenate(sparse), table_rows


def eval_split(rows, fraction):
    """Rows used for training, as src/data/dataset.cpp split_eval_tail (held-out tail)."""
    wanted = math.floor(rows * fraction + 0.5)  # std::round (half away from zero) for x >= 0
    eval_rows = max(1, int(wanted))
    eval_rows = min(eval_rows, rows - 1)
    return rows - eval_rows


# ---------------------------------------------------------------------------------------------
# Initialization: src/model/model.cpp's counter-based generator, vectorized in numpy.

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix64(x):
    """splitmix64 with its increment (model.cpp's mix64), on uint64 arrays (wrapping)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _Stream:
    def __init__(self, seed, stream):
        with np.errstate(over="ignore"):
            s = _mix64(np.array([seed], dtype=np.uint64))
            m = np.array([stream], dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03)
            self.key = _mix64(s ^ m)[0]

    def uniform(self, i):  # (0, 1], 53 bits
        with np.errstate(over="ignore"):
            h = _mix64(np.uint64(self.key) + i.astype(np.uint64))
        return ((h >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0 ** -53

    def normal(self, n):
        i = np.arange(n, dtype=np.uint64)
        u1 = self.uniform(2 * i)
        u2 = self.uniform(2 * i + 1)
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)


# ---------------------------------------------------------------------------------------------
# The model.

class DLRM(nn.Module):
    def __init__(self, bottom, dim, top):
        super().__init__()
        self.dim = dim
        layers, width = [], NUM_DENSE
        for out in bottom:
            layers += [nn.Linear(width, out), nn.ReLU()]
            width = out
        self.bottom = nn.Sequential(*layers)
        vectors = 1 + NUM_SPARSE
        li, lj = torch.tril_indices(vectors, vectors, offset=-1)
        self.register_buffer("li", li, persistent=False)
        self.register_buffer("lj", lj, persistent=False)
        layers, width = [], dim + vectors * (vectors - 1) // 2
        for n, out in enumerate(top):
            layers.append(nn.Linear(width, out))
            if n + 1 < len(top):
                layers.append(nn.ReLU())
            width = out
        self.top = nn.Sequential(*layers)

    def linears(self):
        return [m for m in list(self.bottom) + list(self.top) if isinstance(m, nn.Linear)]

    @staticmethod
    def mlp(layers, x, bf16):
        """layers(x); with bf16, under BF16 autocast (oneDNN BF16 matmuls), the result as fp32."""
        if not bf16:
            return layers(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return layers(x).float()

    def forward(self, dense, emb, bf16=False):
        """dense: (B, 13); emb: (B, 26, d) gathered rows. Returns logits (B,). bf16: the MLPs
        under BF16 autocast."""
        x = self.mlp(self.bottom, dense, bf16)
        t = torch.cat([x.unsqueeze(1), emb], dim=1)  # (B, 27, d)
        gram = torch.bmm(t, t.transpose(1, 2))
        z = torch.cat([x, gram[:, self.li, self.lj]], dim=1)
        return self.mlp(self.top, z, bf16).squeeze(1)


def init_model(model, table_rows, dim, seed, scheme):
    """Dense layers in place; returns the concatenated embedding table (sum(rows), dim)."""
    total = int(table_rows.sum())
    if scheme == "ours":
        for index, lin in enumerate(model.linears()):
            out, inp = lin.weight.shape
            w = _Stream(seed, 2 * index).normal(out * inp) * math.sqrt(2.0 / (inp + out))
            b = _Stream(seed, 2 * index + 1).normal(out) * math.sqrt(1.0 / out)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.astype(np.float32).reshape(out, inp)))
                lin.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        table = np.empty((total, dim), dtype=np.float32)
        at = 0
        for t in range(NUM_SPARSE):
            rows = int(table_rows[t])
            stream = _Stream(seed, 1000003 + t)
            bound = math.sqrt(1.0 / rows)
            step = 1 << 20
            flat = table[at:at + rows].reshape(-1)
            for begin in range(0, rows * dim, step):
                end = min(rows * dim, begin + step)
                u = stream.uniform(np.arange(begin, end, dtype=np.uint64))
                flat[begin:end] = (bound * (2.0 * u - 1.0)).astype(np.float32)
            at += rows
        return torch.from_numpy(table)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for lin in model.linears():
            out, inp = lin.weight.shape
            lin.weight.normal_(0.0, math.sqrt(2.0 / (inp + out)), generator=gen)
            lin.bias.normal_(0.0, math.sqrt(1.0 / out), generator=gen)
    parts = []
    for t in range(NUM_SPARSE):
        bound = math.sqrt(1.0 / float(table_rows[t]))
        parts.append(torch.empty(int(table_rows[t]), dim).uniform_(-bound, bound, generator=gen))
    return torch.cat(parts)


# ---------------------------------------------------------------------------------------------
# Training.

class Trainer:
    """Everything one process needs to train: model, tables, optimizer state, data."""

    def __init__(self, args):
        labels, dense, sparse, table_rows = open_cache(args.data)
        rows = labels.shape[0]
        self.train_rows = eval_split(rows, args.eval_fraction)
        bottom, dim, top = PRESETS[args.model]
        torch.manual_seed(args.seed)
        self.model = DLRM(bottom, dim, top)
        self.table = init_model(self.model, table_rows, dim, args.seed, args.init)
        self.acc = torch.zeros(self.table.shape[0])
        offsets = np.concatenate([[0], np.cumsum(table_rows)[:-1]]).astype(np.int64)
        # Whole data set as tensors up front (outside the timed loop, favouring torch): labels,
        # dense features and global row indices into the concatenated table.
        self.labels = torch.from_numpy(np.array(labels))
        self.dense = torch.from_numpy(np.array(dense))
        self.index = torch.from_numpy(np.asarray(sparse, dtype=np.int64) + offsets)
        self.args = args
        if args.optimizer == "adagrad":
            self.opt = torch.optim.Adagrad(self.model.parameters(), lr=args.lr, eps=args.eps,
                                           initial_accumulator_value=0.0)
        else:
            self.opt = torch.optim.SGD(self.model.parameters(), lr=args.lr)

    def share_memory(self):
        self.model.share_memory()
        if isinstance(self.opt, torch.optim.Adagrad):
            self.opt.share_memory()  # the accumulators are shared too, as in shadowsync
        self.table.share_memory_()
        self.acc.share_memory_()

    def step(self, begin, end):
        args = self.args
        idx = self.index[begin:end]
        emb = self.table[idx]  # (B, 26, d): a copy, the leaf whose gradient we apply by hand
        emb.requires_grad_(True)
        logits = self.model(self.dense[begin:end], emb, args.precision == "bf16")
        loss = nn.functional.binary_cross_entropy_with_logits(logits, self.labels[begin:end])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        # Row-wise Adagrad on the touched rows, repeated rows summed first.
        g = emb.grad.reshape(-1, emb.shape[2])
        rows, inverse = torch.unique(idx.reshape(-1), return_inverse=True)
        summed = torch.zeros(rows.shape[0], g.shape[1]).index_add_(0, inverse, g)
        s = self.acc[rows] + summed.pow(2).mean(dim=1)
        self.acc[rows] = s
        self.table[rows] -= (args.emb_lr / (s.sqrt() + args.eps)).unsqueeze(1) * summed
        return float(loss)

    def train_batches(self, first, stride):
        """Trains batches first, first + stride, ... of the training rows (file order)."""
        batch = self.args.batch
        count = (self.train_rows + batch - 1) // batch
        done = 0
        for b in range(first, count, stride):
            begin = b * batch
            end = min(begin + batch, self.train_rows)
            self.step(begin, end)
            done += end - begin
        return done

    @torch.no_grad()
    def evaluate(self):
        logits = []
        n = self.labels.shape[0]
        for begin in range(self.train_rows, n, 4096):
            end = min(n, begin + 4096)
            logits.append(self.model(self.dense[begin:end], self.table[self.index[begin:end]]))
        z = torch.cat(logits).double().numpy()
        y = self.labels[self.train_rows:].double().numpy()
        return metrics(z, y)


def metrics(z, y):
    """NE, log loss and exact AUC (ties as half) as src/metrics/binary_metrics.cpp."""
    floor = 1e-7
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    p = min(max(float(y.mean()), floor), 1.0 - floor)
    entropy = -(p * math.log(p) + (1.0 - p) * math.log(1.0 - p))
    order = np.argsort(z, kind="mergesort")
    zs = z[order]
    # Average ranks (1-based) over ties, then Mann-Whitney U.
    _, first, counts = np.unique(zs, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks = np.repeat(avg, counts)
    pos = y[order] == 1.0
    npos, nneg = int(pos.sum()), int((~pos).sum())
    auc = 0.5 if npos == 0 or nneg == 0 else \
        (ranks[pos].sum() - npos * (npos + 1) / 2.0) / (npos * nneg)
    return {"ne": float(loss / entropy), "logloss": float(loss), "auc": float(auc)}


def _hogwild_worker(trainer, p, processes, barrier, starts, ends, done):
    torch.set_num_threads(1)
    barrier.wait()
    starts[p] = time.perf_counter()
    done[p] = trainer.train_batches(p, processes)
    ends[p] = time.perf_counter()


def blas_library():
    """The BLAS shared object this process loaded (after a matmul), e.g. libopenblasp-r0.3.21.so."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    return sorted(os.path.basename(x) for x in libs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="binary cache from `shadowsync convert`")
    ap.add_argument("--model", default="small", choices=sorted(PRESETS))
    ap.add_argument("--eval-fraction", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--optimizer", default="adagrad", choices=["adagrad", "sgd"])
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--emb-lr", type=float, default=0.05)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--init", default="ours", choices=["ours", "torch"],
                    help="ours: shadowsync's exact initial values; torch: same scheme, torch RNG")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                    help="bf16: the MLPs' forward and backward under torch.autocast(\"cpu\", "
                    "dtype=torch.bfloat16)")
    ap.add_argument("--processes", type=int, default=1,
                    help="1: one thread; N > 1: Hogwild with N processes of one thread each")
    ap.add_argument("--alt-gemm-order", action="store_true",
                    help="diagnostic: compute every linear layer as (W x^T)^T + b, the same math "
                         "with another summation order, to measure how far rounding alone moves "
                         "the result (docs/results.md)")
    args = ap.parse_args()
    if not 0.0 < args.eval_fraction < 1.0:
        ap.error("--eval-fraction must be strictly between 0 and 1")
    if args.processes < 1 or args.batch < 1:
        ap.error("--processes and --batch must be >= 1")

    torch.set_num_threads(1)
    trainer = Trainer(args)
    if args.alt_gemm_order:
        for lin in trainer.model.linears():
            lin.forward = (lambda layer: lambda x: (layer.weight @ x.t()).t() + layer.bias)(lin)
    cpu_per_wall = None
    if args.processes == 1:
        start, cpu_start = time.perf_counter(), time.process_time()
        examples = trainer.train_batches(0, 1)
        elapsed = time.perf_counter() - start
        cpu_per_wall = (time.process_time() - cpu_start) / elapsed  # about 1: really one thread
    else:
        trainer.share_memory()
        ctx = mp.get_context("fork")
        barrier = ctx.Barrier(args.processes)
        starts = ctx.Array("d", args.processes, lock=False)
        ends = ctx.Array("d", args.processes, lock=False)
        done = ctx.Array("q", args.processes, lock=False)
        procs = [ctx.Process(target=_hogwild_worker,
                             args=(trainer, p, args.processes, barrier, starts, ends, done))
                 for p in range(args.processes)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        if any(proc.exitcode != 0 for proc in procs):
            raise SystemExit("dlrm_torch: a Hogwild worker process failed")
        examples = int(sum(done))
        elapsed = max(ends) - min(starts)
    result = trainer.evaluate()
    result.update({
        "examples": examples, "elapsed_s": elapsed, "examples_per_second": examples / elapsed,
        "processes": args.processes, "threads_per_process": torch.get_num_threads(),
        "cpu_per_wall": cpu_per_wall,
        "model": args.model, "init": args.init, "precision": args.precision, "batch": args.batch,
        "torch": torch.__version__,
        "blas": blas_library(),
    })
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
