#!/usr/bin/python3
"""How closely an exported model serves: for each model, train it on generated rows, export it
(`shadowsync export` to ONNX; `Model.to_torch()` and its TorchScript form), run ONNX Runtime
(onnxruntime-node, tests/export/run_onnx.js) and PyTorch on `Dataset.model_inputs()` of held-out
rows, and print the largest difference of their probabilities from the engine's (Model.predict,
which `shadowsync predict` prints), with
the export's time and file size.

Models: small, kaggle, dcn (Criteo's layout), dcn-low (2 cross layers of rank 16), and small and
dcn over an Avazu-like schema with a multi-hot column (`gen --schema avazu`).

Usage: PYTHONPATH=build/python benchmarks/python/serving_check.py [--cli build/src/cli/shadowsync]
           [--rows 20000] [--rows-per-table 4096] [--out DIR]
Needs node with tests/export/node_modules (scripts/setup --bench) for ONNX Runtime and
python3-torch for PyTorch; a missing one is reported as skipped with the reason.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_ONNX = os.path.join(ROOT, "tests", "export", "run_onnx.js")
DCN_LOW = {"bottom": [512, 256, 64, 16], "top": [512, 256, 1], "embedding_dim": 16, "interaction": "dcn",
           "cross_layers": 2, "cross_rank": 16}


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True)


def onnx_runtime_problem():
    if shutil.which("node") is None:
        return "node is not installed"
    if not os.path.isdir(os.path.join(ROOT, "tests", "export", "node_modules", "onnxruntime-node")):
        return "onnxruntime-node is not installed (scripts/setup --bench)"
    return None


def onnx_probabilities(model_path, inputs, folder):
    spec = {name: {"dtype": "float32" if a.dtype == np.float32 else "int64", "dims": list(a.shape),
                   "data": a.ravel().tolist()} for name, a in inputs.items()}
    inputs_path, out_path = os.path.join(folder, "inputs.json"), os.path.join(folder, "out.json")
    with open(inputs_path, "w") as f:
        json.dump(spec, f)
    run("node", RUN_ONNX, model_path, inputs_path, out_path)
    with open(out_path) as f:
        return np.array(json.load(f)["probability"], dtype=np.float64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cli", default=os.path.join(ROOT, "build", "src", "cli", "shadowsync"))
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rows-per-table", type=int, default=4096)
    parser.add_argument("--out")
    args = parser.parse_args()
    import shadowsync

    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    folder = args.out or tempfile.mkdtemp(prefix="serving_check_")
    os.makedirs(folder, exist_ok=True)
    ort_problem = onnx_runtime_problem()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; rows {args.rows}, "
          f"held-out {args.rows // 10}; folder {folder}")
    if ort_problem:
        print(f"ONNX Runtime skipped: {ort_problem}")
    if torch is None:
        print("PyTorch skipped: python3-torch is not installed (scripts/setup --bench)")

    criteo = os.path.join(folder, "criteo.tsv")
    run(args.cli, "gen", "--rows", args.rows, "--seed", 5, "--out", criteo)
    avazu = os.path.join(folder, "avazu.tsv")
    run(args.cli, "gen", "--schema", "avazu", "--rows", args.rows, "--seed", 5, "--out", avazu)
    with open(avazu + ".json") as f:
        avazu_schema = os.path.join(folder, "avazu.schema.json")
        with open(avazu_schema, "w") as out:
            json.dump(json.load(f)["spec"]["schema"], out)
    dcn_low = os.path.join(folder, "dcn_low.json")
    with open(dcn_low, "w") as f:
        json.dump(DCN_LOW, f)

    cases = [("small", criteo, "small", []), ("kaggle", criteo, "kaggle", []), ("dcn", criteo, "dcn", []),
             ("dcn-low", criteo, dcn_low, []), ("small, multi-hot", avazu, "small", ["--schema", avazu_schema]),
             ("dcn, multi-hot", avazu, "dcn", ["--schema", avazu_schema])]
    print()
    print("| model | data | parameters | export s | model.onnx MB | max abs ONNX Runtime - predict | "
          "max abs PyTorch - predict | max abs TorchScript - PyTorch | max abs `shadowsync predict` - predict |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, data_path, model_arg, extra in cases:
        tag = name.replace(", ", "_").replace("-", "_")
        ckpt = os.path.join(folder, tag + ".ckpt")
        run(args.cli, "train", "--data", data_path, "--model", model_arg, "--rows-per-table", args.rows_per_table,
            "--eval-fraction", 0.1, "--groups", 1, "--threads-per-group", 1, "--sync", "none", "--deterministic",
            "--quiet", "--checkpoint", ckpt, *extra)
        onnx_path = os.path.join(folder, tag + ".onnx")
        start = time.perf_counter()
        run(args.cli, "export", "--checkpoint", ckpt, "--out", onnx_path)
        seconds = time.perf_counter() - start
        model = shadowsync.load(ckpt)
        # The held-out rows: the last tenth of the file (the run's --eval-fraction), after the
        # header line where the schema has one.
        with open(data_path) as f:
            lines = f.readlines()
        header = lines[:1] if model.schema.get("header", False) else []
        body = lines[len(header):]
        held_out_path = os.path.join(folder, tag + ".held_out.tsv")
        with open(held_out_path, "w") as f:
            f.writelines(header + body[len(body) - len(body) // 10:])
        data = shadowsync.Dataset(held_out_path, rows_per_table=list(model.rows_per_table),
                                  hash_salt=model.hash_salt, **model._schema_keyword())
        reference = model.predict(data).astype(np.float64)
        printed = np.array(run(args.cli, "predict", "--checkpoint", ckpt, "--data", held_out_path).stdout.split(),
                           dtype=np.float64)
        cli_diff = f"{np.max(np.abs(printed - reference)):.1e}"
        inputs = data.model_inputs()
        ort_diff = torch_diff = script_diff = "skipped"
        if ort_problem is None:
            ort_diff = f"{np.max(np.abs(onnx_probabilities(onnx_path, inputs, folder) - reference)):.1e}"
        if torch is not None:
            module = model.to_torch()
            tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
            with torch.no_grad():
                eager = module(tensors).numpy().astype(np.float64)
                scripted = torch.jit.script(module)(tensors).numpy().astype(np.float64)
            torch_diff = f"{np.max(np.abs(eager - reference)):.1e}"
            script_diff = f"{np.max(np.abs(scripted - eager)):.1e}"
        parameters = sum(int(np.prod(a.shape)) for a in model.named_parameters().values())
        size = os.path.getsize(onnx_path) / 1e6
        print(f"| {name} | {os.path.basename(data_path)} | {parameters:,} | {seconds:.2f} | {size:.1f} | {ort_diff} | "
              f"{torch_diff} | {script_diff} | {cli_diff} |", flush=True)
    print("\npredict: Model.predict (the engine's probabilities, float32); `shadowsync predict` prints them with "
          "6 decimals")


if __name__ == "__main__":
    main()
