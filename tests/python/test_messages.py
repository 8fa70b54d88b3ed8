"""Messages and exception types of the package: categorical ids outside 32 bits (one rule for
every dtype), hash_salt= out of range, pandas nullable columns, bad checkpoint paths, no
ResourceWarning at exit, NE/AUC undefined on rows of one class, training curves (plot_metrics)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import shadowsync
from shadowsync import _api
from shadowsync.sklearn import ShadowSyncClassifier

pd = pytest.importorskip("pandas")

ROWS = 4


def raw_arrays(dtype, values):
    """ROWS rows; categorical column 2 holds `values` (the others 7), as `dtype`."""
    numeric = np.ones((ROWS, 13), dtype=np.float32)
    categorical = np.full((ROWS, 26), 7, dtype=dtype)
    categorical[:, 2] = np.asarray(values, dtype=dtype)
    return numeric, categorical


HUGE = [
    (np.uint64, 2**63),
    (np.uint64, 2**64 - 1),
    (np.int64, 2**32),
    (np.int64, 2**62),
    (np.float64, 1e30),
    (np.float64, 2.0**32),
    (np.float32, 1e30),
    (np.float64, np.inf),
    (np.float64, 12.5),
]


@pytest.mark.parametrize("dtype,value", HUGE, ids=[f"{np.dtype(d).name}-{v!r}" for d, v in HUGE])
def test_ids_outside_32_bits_are_refused_in_from_arrays(dtype, value):
    numeric, categorical = raw_arrays(dtype, [5, value, value, 3])
    with pytest.raises(ValueError, match=r"categorical: column 2, row 1: id .* is not a 32-bit id \(ids are whole "
                                         r"numbers 0 \.\. 2\^32 - 1; negative or NaN = missing\)"):
        shadowsync.Dataset.from_arrays(numeric, categorical)


def test_the_largest_id_and_missing_are_the_same_for_every_dtype():
    rows = {}
    for dtype in (np.int64, np.uint64, np.float64, np.uint32):
        numeric, categorical = raw_arrays(dtype, [2**32 - 1, 0, 12345, 0])
        if np.dtype(dtype).kind != "u":
            categorical[3, 2] = -1  # missing
        rows[np.dtype(dtype).name] = shadowsync.Dataset.from_arrays(numeric, categorical,
                                                                    rows_per_table=131072).categorical.copy()
    numeric, categorical = raw_arrays(np.float64, [2**32 - 1, 0, 12345, np.nan])
    rows["float64-nan"] = shadowsync.Dataset.from_arrays(numeric, categorical, rows_per_table=131072).categorical.copy()
    reference = rows["int64"]
    assert reference[3, 2] == 0  # missing -> row 0
    assert reference[0, 2] != 0
    for name, got in rows.items():
        if name == "uint64" or name == "uint32":
            np.testing.assert_array_equal(got[:3], reference[:3], err_msg=name)
        else:
            np.testing.assert_array_equal(got, reference, err_msg=name)


@pytest.mark.parametrize("salt", [-1, 2**64, 1.5, True, "3"])
def test_hash_salt_out_of_range_is_a_value_error_naming_it(data_dir, salt):
    message = r"hash_salt= expects an integer in \[0, 18446744073709551615\], got "
    numeric, categorical = raw_arrays(np.int64, [1, 2, 3, 4])
    with pytest.raises(ValueError, match=message):
        shadowsync.Dataset.from_arrays(numeric, categorical, hash_salt=salt)
    with pytest.raises(ValueError, match=message):
        shadowsync.Dataset(data_dir / "train.tsv", hash_salt=salt)
    with pytest.raises(ValueError, match=message):
        shadowsync.train(data_dir / "train.tsv", model="tiny", hash_salt=salt)
    with pytest.raises(ValueError, match=message):
        ShadowSyncClassifier(hash_salt=salt).fit(np.hstack([numeric, categorical]), [0, 1, 0, 1])
    with pytest.raises(ValueError, match=message):
        shadowsync.Dataset.from_frame(pd.DataFrame({"y": [0, 1], "c": ["a", "b"]}), label="y", hash_salt=salt)


def test_largest_hash_salt_is_accepted():
    numeric, categorical = raw_arrays(np.int64, [1, 2, 3, 4])
    assert shadowsync.Dataset.from_arrays(numeric, categorical, hash_salt=2**64 - 1).hash_salt == 2**64 - 1


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
def test_pandas_nullable_columns_take_na_as_missing(dtype):
    nullable = pd.DataFrame({"n": pd.Series([1.0, 2.0, pd.NA, 4.0], dtype="Float64"),
                             "c": pd.Series([5, pd.NA, 7, 5], dtype=dtype)})
    plain = pd.DataFrame({"n": [1.0, 2.0, np.nan, 4.0], "c": pd.Series([5, None, 7, 5], dtype=object)})
    keywords = dict(numeric={"n": "identity"}, categorical=["c"], rows_per_table=64)
    got = shadowsync.Dataset.from_frame(nullable, **keywords)
    want = shadowsync.Dataset.from_frame(plain, **keywords)
    np.testing.assert_array_equal(got.numeric, want.numeric)
    if dtype == "Int64":  # Float64 writes 5.0, another text than 5
        np.testing.assert_array_equal(got.categorical, want.categorical)
    assert got.categorical[1, 0] == 0 and got.categorical[0, 0] == got.categorical[3, 0] != 0


def test_pandas_boolean_columns_and_labels():
    X = pd.DataFrame({"b": pd.Series([True, pd.NA, False, True], dtype="boolean"), "n": [1.0, 2.0, 3.0, 4.0]})
    est = ShadowSyncClassifier()
    data = shadowsync.Dataset.from_frame(est._frame(X, fitting=True), schema=est.schema_, rows_per_table=1 << 16)
    assert est.kinds_ == ["categorical", "numeric"]
    b = data.categorical[:, 0]
    assert b[1] == 0 and b[0] == b[3] != b[2] != 0
    with pytest.raises(ValueError, match=r"y: row 2 is missing \(NA\)"):
        ShadowSyncClassifier().fit(X, pd.Series([True, False, pd.NA, True], dtype="boolean"))


def test_bad_checkpoint_paths_are_os_errors_of_their_kind(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        shadowsync.load(tmp_path / "missing.ckpt")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        shadowsync.load(tmp_path)
    if os.geteuid() != 0:  # root reads any file
        unreadable = tmp_path / "unreadable.ckpt"
        unreadable.write_bytes(b"x")
        unreadable.chmod(0)
        with pytest.raises(PermissionError):
            shadowsync.load(unreadable)


def test_bad_checkpoint_paths_of_train_are_os_errors_of_their_kind(data_dir, tmp_path):
    tsv = data_dir / "train.tsv"
    with pytest.raises(FileNotFoundError, match="nodir"):  # its lock file cannot be made: was ValueError
        shadowsync.train(tsv, model="tiny", max_examples=10, checkpoint=str(tmp_path / "nodir" / "x.ckpt"))
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        shadowsync.train(tsv, model="tiny", max_examples=10, resume=str(tmp_path / "missing.ckpt"))
    with pytest.raises(IsADirectoryError, match="is a directory"):
        shadowsync.train(tsv, model="tiny", max_examples=10, resume=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        shadowsync.Dataset(tmp_path / "missing.tsv")


@pytest.fixture(scope="module")
def tiny_model(data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.ckpt"
    shadowsync.train(data_dir / "train.bin", model="tiny", groups=1, threads_per_group=1, max_examples=2000,
                     checkpoint=str(path))
    return path


def test_no_resource_warning_and_no_folder_left_at_exit(tiny_model):
    script = ("import pickle, shadowsync, sys\n"
              f"m = shadowsync.load({str(tiny_model)!r})\n"
              "copy = pickle.loads(pickle.dumps(m))\n"
              "print(m._path)\nprint(copy._path)\n")
    env = dict(os.environ)
    out = subprocess.run(["/usr/bin/python3", "-W", "error::ResourceWarning", "-X", "dev", "-c", script],
                         capture_output=True, text=True, env=env, check=True)
    assert out.stderr == ""
    paths = out.stdout.split()
    assert len(paths) == 2
    for path in paths:
        assert not os.path.exists(os.path.dirname(path)), path


def test_model_folder_goes_with_the_model(tiny_model):
    m = shadowsync.load(tiny_model)
    folder = os.path.dirname(m._path)
    copy = __import__("pickle").loads(__import__("pickle").dumps(m))
    assert os.path.isdir(folder)
    del m
    import gc
    gc.collect()
    assert not os.path.exists(folder)
    assert copy.examples_trained > 0  # the unpickled model has its own folder


def test_one_class_rows_have_undefined_ne_and_auc(tiny_model, arrays):
    numeric, categorical, _ = arrays
    model = shadowsync.load(tiny_model)
    zeros = shadowsync.Dataset.from_arrays(numeric[:50], categorical[:50], np.zeros(50, dtype=np.float32),
                                           rows_per_table=list(model.rows_per_table), hash_salt=model.hash_salt)
    result = model.evaluate(zeros)
    assert result["examples"] == 50
    assert np.isnan(result["ne"]) and np.isnan(result["auc"])
    assert np.isfinite(result["logloss"])
    assert _api._quality_text(result).startswith("NE undefined (the evaluated rows are all of one class)  logloss ")
    assert "AUC undefined" in _api._quality_text(result)
    line = {"ne": None, "logloss": 0.5, "auc": None, "calibration": 1.0}  # a metrics line's nulls
    assert _api._quality_text(line) == ("NE undefined (the evaluated rows are all of one class)  logloss 0.50000  "
                                        "AUC undefined  calibration 1.0000")


def metrics_lines(sync, groups, scale):
    lines = []
    for step in range(1, 6):
        lines.append({"event": "progress", "examples": step * 1000, "examples_per_second": 5000.0 * scale + step,
                      "running_logloss": 0.7 - 0.02 * step * scale, "ne": None, "auc": None,
                      "groups": [{"examples": 1}] * groups, "config": {"sync": sync, "groups": "auto"}})
        if step % 2 == 0 or step == 5:
            lines.append({"event": "final" if step == 5 else "eval", "examples": step * 1000,
                          "examples_per_second": 5000.0, "running_logloss": 0.6, "ne": 0.95 - 0.01 * step * scale,
                          "auc": 0.6 + 0.02 * step * scale, "eval": {"ne": 0.9}, "groups": [{}] * groups,
                          "config": {"sync": sync, "groups": "auto"}})
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_plot_metrics_draws_a_png_of_two_runs(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(metrics_lines("s-pa", 2, 1.0))
    b.write_text(metrics_lines("fr-ma", 4, 1.5))
    out = tmp_path / "curves.png"
    assert shadowsync.plot_metrics([a, b], out) == str(out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20000


def test_plot_metrics_refuses_a_malformed_line_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(metrics_lines("s-pa", 2, 1.0) + "{not json\n")
    lines = metrics_lines("s-pa", 2, 1.0).count("\n") + 1
    with pytest.raises(ValueError, match=f"bad.jsonl:{lines}: not a metrics line"):
        shadowsync.plot_metrics(bad, tmp_path / "out.png")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"event": "progress", "examples": 5, "auc": "high"}\n')
    with pytest.raises(ValueError, match=r'wrong.jsonl:1: "auc" must be a number or null, got "high"'):
        shadowsync.plot_metrics(wrong, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(OSError, match="missing.jsonl"):
        shadowsync.plot_metrics(tmp_path / "missing.jsonl", tmp_path / "out.png")
    with pytest.raises(OSError, match="one of the metrics files"):
        shadowsync.plot_metrics(bad, bad)


def test_plot_metrics_without_gnuplot_says_so(tmp_path, monkeypatch):
    a = tmp_path / "a.jsonl"
    a.write_text(metrics_lines("s-pa", 2, 1.0))
    monkeypatch.setenv("PATH", str(tmp_path))  # no gnuplot there
    with pytest.raises(RuntimeError, match="cannot run gnuplot: .*gnuplot-nox"):
        shadowsync.plot_metrics(a, tmp_path / "out.png")
