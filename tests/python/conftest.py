"""Shared fixtures: a small synthetic data set (TSV, its CLI cache, the same rows as raw arrays)."""
import math
import os
import subprocess

import numpy as np
import pytest

import shadowsync

ROWS = 6000


def cli():
    path = os.environ.get("SHADOWSYNC_CLI")
    if not path:
        pytest.skip("SHADOWSYNC_CLI not set (run through meson test)")
    return path


def run_cli(*args):
    return subprocess.run([cli(), *map(str, args)], check=True, capture_output=True, text=True)


def read_tsv_arrays(path):
    """The raw arrays of a Criteo TSV: numeric float64 (NaN = missing), categorical ids int64
    (-1 = missing), labels float32."""
    numeric, categorical, labels = [], [], []
    with open(path) as f:
        for line in f:
            cells = line.rstrip("\n").split("\t")
            labels.append(float(cells[0]))
            numeric.append([float(c) if c else math.nan for c in cells[1:14]])
            categorical.append([int(c, 16) if c else -1 for c in cells[14:40]])
    return (np.array(numeric, dtype=np.float64), np.array(categorical, dtype=np.int64),
            np.array(labels, dtype=np.float32))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    tsv = folder / "train.tsv"
    shadowsync.generate(tsv, rows=ROWS, seed=5)
    cache = folder / "train.bin"
    run_cli("convert", tsv, cache)
    return folder


@pytest.fixture(scope="session")
def arrays(data_dir):
    return read_tsv_arrays(data_dir / "train.tsv")
