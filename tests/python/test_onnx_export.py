"""ONNX export end to end: models exported by `shadowsync export` and Model.to_onnx, run by ONNX
Runtime (onnxruntime-node, tests/export/run_onnx.js) on Dataset.model_inputs(), give the
probabilities of Model.predict (and `shadowsync predict`) within 1e-5: small, kaggle (fp32 and
bf16 embedding rows), dcn (full
and low rank, also over a multi-hot schema), a multi-hot schema (avazu), a schema without numeric
columns, the cat interaction, and initializers written as external data. Skipped, with the reason, where node or
onnxruntime-node (scripts/setup --bench) is missing."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import shadowsync
from conftest import run_cli

EXPORT_DIR = Path(__file__).resolve().parents[1] / "export"
RUN_ONNX = EXPORT_DIR / "run_onnx.js"
TOPOLOGY = "package:1 core:1 pu:1"


def require_onnx_runtime():
    if shutil.which("node") is None:
        pytest.skip("node is not installed (ONNX Runtime runs under node here: apt-get install nodejs npm)")
    if not (EXPORT_DIR / "node_modules" / "onnxruntime-node").is_dir():
        pytest.skip(f"onnxruntime-node is not installed in {EXPORT_DIR}/node_modules (scripts/setup --bench)")


def model_inputs(data, serving):
    """The graph's inputs for every row of `data` (Dataset.model_inputs()), in the order of the
    serving description."""
    out = data.model_inputs()
    assert list(out) == [i["name"] for i in serving["inputs"]]
    return out


def run_onnx_runtime(model_path, inputs, folder):
    spec = {name: {"dtype": "float32" if a.dtype == np.float32 else "int64", "dims": list(a.shape),
                   "data": a.ravel().tolist()} for name, a in inputs.items()}
    inputs_path, out_path = folder / "ort_inputs.json", folder / "ort_out.json"
    inputs_path.write_text(json.dumps(spec))
    r = subprocess.run(["node", str(RUN_ONNX), str(model_path), str(inputs_path), str(out_path)],
                       capture_output=True, text=True, cwd=EXPORT_DIR, timeout=120)
    if r.returncode == 77:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr
    out = json.loads(out_path.read_text())
    assert out["dims"] == [len(next(iter(inputs.values())))]
    return np.array(out["probability"], dtype=np.float32)


def check_onnx_runtime_matches(model, onnx_path, data, folder):
    serving = json.loads(Path(str(onnx_path)[: -len(".onnx")] + ".serving.json").read_text())
    expected = model.predict(data)
    got = run_onnx_runtime(onnx_path, model_inputs(data, serving), folder)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert np.std(expected) > 1e-4  # the rows differ: the comparison is not of one constant
    return expected


def train_cli(folder, data, model, rows_per_table, *extra):
    ckpt = folder / f"{Path(str(model)).stem}.ckpt"
    run_cli("train", "--data", data, "--model", model, "--rows-per-table", rows_per_table, "--epochs", 1,
            "--topology", TOPOLOGY, "--quiet", "--checkpoint", ckpt, *extra)
    return ckpt


def dataset_for(model, path):
    """`path` read with the model's hashing and schema."""
    return shadowsync.Dataset(path, rows_per_table=list(model.rows_per_table), hash_salt=model.hash_salt,
                              **model._schema_keyword())


@pytest.fixture(scope="module")
def criteo_tsv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx_criteo")
    tsv = folder / "rows.tsv"
    shadowsync.generate(tsv, rows=300, seed=11)
    return tsv


@pytest.fixture(scope="module")
def avazu(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx_avazu")
    rows = folder / "avazu.tsv"
    run_cli("gen", "--schema", "avazu", "--rows", 400, "--seed", 3, "--out", rows)
    schema = json.loads((folder / "avazu.tsv.json").read_text())["spec"]["schema"]
    schema_path = folder / "avazu.schema.json"
    schema_path.write_text(json.dumps(schema))
    return rows, schema, schema_path


@pytest.mark.parametrize("preset,rows_per_table,rows", [("small", 1024, "fp32"), ("kaggle", 128, "fp32"),
                                                         ("kaggle", 128, "bf16")])
def test_cli_export_runs_in_onnx_runtime_as_predict(tmp_path, criteo_tsv, preset, rows_per_table, rows):
    require_onnx_runtime()
    ckpt = train_cli(tmp_path, criteo_tsv, preset, rows_per_table, "--embedding-precision", rows)
    out = tmp_path / f"{preset}.onnx"
    r = run_cli("export", "--checkpoint", ckpt, "--out", out)
    assert f"wrote {out} (" in r.stdout
    assert f"wrote {tmp_path / (preset + '.serving.json')} (" in r.stdout
    assert "input numeric: float32 [batch, 13] (I1, I2, I3, I4, ... (13 columns))" in r.stdout
    assert "input categorical: int64 [batch, 26] (C1, C2, C3, C4, ... (26 columns))" in r.stdout
    model = shadowsync.load(ckpt)
    expected = check_onnx_runtime_matches(model, out, dataset_for(model, criteo_tsv), tmp_path)
    # and `shadowsync predict` (6 decimals) agrees
    predicted = run_cli("predict", "--checkpoint", ckpt, "--data", criteo_tsv).stdout.split()
    np.testing.assert_allclose(np.array(predicted, dtype=np.float64), expected, rtol=0, atol=1e-5)


def test_multi_hot_schema_exported_from_python(tmp_path, avazu):
    require_onnx_runtime()
    rows, schema, schema_path = avazu
    assert any(c["kind"] == "multi_hot" for c in schema["columns"])
    ckpt = train_cli(tmp_path, rows, "small", 512, "--schema", schema_path)
    model = shadowsync.load(ckpt)
    written = model.to_onnx(tmp_path / "avazu.onnx")
    assert written["model"] == str(tmp_path / "avazu.onnx")
    assert written["data"] is None
    assert written["inputs"] == ["numeric", "categorical", "multi_hot_0", "multi_hot_0_length"]
    data = dataset_for(model, rows)
    lengths = np.diff(np.asarray(data.bag_offsets))
    assert (lengths == 0).any() and (lengths > 1).any()  # empty lists and lists to pool
    check_onnx_runtime_matches(model, tmp_path / "avazu.onnx", data, tmp_path)


def test_sum_pooling_and_no_numeric_columns(tmp_path, avazu):
    require_onnx_runtime()
    rows, schema, _ = avazu
    schema = json.loads(json.dumps(schema))
    for c in schema["columns"]:
        if c["kind"] == "numeric":
            c["kind"] = "ignore"
            c.pop("transform", None)
        if c["kind"] == "multi_hot":
            c["pooling"] = "sum"  # avazu's is mean
    schema_path = tmp_path / "no_numeric.schema.json"
    schema_path.write_text(json.dumps(schema))
    ckpt = train_cli(tmp_path, rows, "small", 512, "--schema", schema_path)
    model = shadowsync.load(ckpt)
    written = model.to_onnx(tmp_path / "no_numeric.onnx")
    assert written["inputs"] == ["categorical", "multi_hot_0", "multi_hot_0_length"]
    check_onnx_runtime_matches(model, tmp_path / "no_numeric.onnx", dataset_for(model, rows), tmp_path)


def test_cat_interaction(tmp_path, criteo_tsv):
    require_onnx_runtime()
    config = tmp_path / "cat.json"
    config.write_text(json.dumps({"bottom": [32, 8], "top": [64, 1], "embedding_dim": 8, "interaction": "cat"}))
    ckpt = train_cli(tmp_path, criteo_tsv, config, 256)
    model = shadowsync.load(ckpt)
    model.to_onnx(tmp_path / "cat.onnx")
    check_onnx_runtime_matches(model, tmp_path / "cat.onnx", dataset_for(model, criteo_tsv), tmp_path)


DCN_LOW_RANK = {"bottom": [32, 8], "top": [64, 1], "embedding_dim": 8, "interaction": "dcn", "cross_layers": 2,
                "cross_rank": 4}


@pytest.mark.parametrize("kind", ["preset", "low_rank"])
def test_dcn_runs_in_onnx_runtime_as_predict(tmp_path, criteo_tsv, kind):
    require_onnx_runtime()
    model_arg = "dcn"
    if kind == "low_rank":
        model_arg = tmp_path / "dcn_low.json"
        model_arg.write_text(json.dumps(DCN_LOW_RANK))
    ckpt = train_cli(tmp_path, criteo_tsv, model_arg, 128)
    model = shadowsync.load(ckpt)
    assert model.config["interaction"] == "dcn"
    model.to_onnx(tmp_path / "dcn.onnx")
    check_onnx_runtime_matches(model, tmp_path / "dcn.onnx", dataset_for(model, criteo_tsv), tmp_path)


def test_dcn_over_a_multi_hot_schema(tmp_path, avazu):
    require_onnx_runtime()
    rows, _, schema_path = avazu
    config = tmp_path / "dcn_low.json"
    config.write_text(json.dumps(dict(DCN_LOW_RANK, bottom=[16, 8])))
    ckpt = train_cli(tmp_path, rows, config, 512, "--schema", schema_path)
    model = shadowsync.load(ckpt)
    run_cli("export", "--checkpoint", ckpt, "--out", tmp_path / "dcn_avazu.onnx")
    check_onnx_runtime_matches(model, tmp_path / "dcn_avazu.onnx", dataset_for(model, rows), tmp_path)


def test_external_data_runs_in_onnx_runtime_and_passes_onnx_checker(tmp_path, criteo_tsv):
    require_onnx_runtime()
    onnx = pytest.importorskip("onnx", reason="python3-onnx is not installed (scripts/setup)")
    ckpt = train_cli(tmp_path, criteo_tsv, "small", 1024)
    out = tmp_path / "ext.onnx"
    r = run_cli("export", "--checkpoint", ckpt, "--out", out, "--external-data-threshold", 0)
    data_file = tmp_path / "ext.onnx.data"
    assert f"wrote {data_file} ({data_file.stat().st_size} bytes of external data)" in r.stdout
    # every table is in the data file: the model file is small
    assert out.stat().st_size < 64 * 1024 < data_file.stat().st_size
    # run from another folder: the data file is found relative to the model
    elsewhere = tmp_path / "moved"
    elsewhere.mkdir()
    shutil.move(out, elsewhere / "ext.onnx")
    shutil.move(data_file, elsewhere / "ext.onnx.data")
    shutil.copy(tmp_path / "ext.serving.json", elsewhere / "ext.serving.json")
    model = shadowsync.load(ckpt)
    check_onnx_runtime_matches(model, elsewhere / "ext.onnx", dataset_for(model, criteo_tsv), tmp_path)
    onnx.checker.check_model(str(elsewhere / "ext.onnx"), full_check=True)
    loaded = onnx.load(str(elsewhere / "ext.onnx"))
    onnx.checker.check_model(loaded, full_check=True)
    names = [t.name for t in loaded.graph.initializer]
    assert names[:4] == ["bottom.0.weight", "bottom.0.bias", "bottom.1.weight", "bottom.1.bias"]
    assert names[4:30] == [f"embedding.{t}.weight" for t in range(26)]
    assert [i.name for i in loaded.graph.input] == ["numeric", "categorical"]
    assert [o.name for o in loaded.graph.output] == ["probability"]


def test_to_onnx_refusals_are_value_errors_naming_path(tmp_path, criteo_tsv):
    ckpt = train_cli(tmp_path, criteo_tsv, "tiny", 64)
    model = shadowsync.load(ckpt)
    with pytest.raises(ValueError, match=r"^path= '.*m\.bin' must be a file name ending in \.onnx"):
        model.to_onnx(tmp_path / "m.bin")
    with pytest.raises(ValueError, match=r"^path= '.*no/m\.onnx': folder '.*no' does not exist"):
        model.to_onnx(tmp_path / "no" / "m.onnx")
    with pytest.raises(ValueError, match=r"^opset= expects an integer in \[13, 17\], got 11"):
        model.to_onnx(tmp_path / "m.onnx", opset=11)
    assert not (tmp_path / "m.onnx").exists()
    written = model.to_onnx(tmp_path / "m.onnx", opset=17)
    assert written["serving"] == str(tmp_path / "m.serving.json")
    serving = json.loads((tmp_path / "m.serving.json").read_text())
    assert serving["format"] == "shadowsync-serving" and serving["version"] == 1
    assert serving["model"]["interaction"] == "dot"
    assert serving["hashing"] == {"rows": [64] * 26, "salt": 0}
