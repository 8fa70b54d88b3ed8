"""shadowsync.serving, the reference hashing of a server: raw text rows give exactly the inputs
Dataset.model_inputs() gives for the same rows read by the C++ reader (Criteo's hexadecimal ids
with a salt, string ids and multi-hot lists), from the schema and hashing alone; it runs
without the C++ extension; bad fields are refused naming the row and column."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, configuration, given, settings
from hypothesis import strategies as st

import shadowsync
from shadowsync import serving

from conftest import run_cli

# Hypothesis's caches in the temporary folder, not beside the tests.
configuration.set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "shadowsync-hypothesis"))

SERVING_PY = os.path.join(os.path.dirname(serving.__file__), "serving.py")


def hashing_of(data):
    return {"rows": list(data.rows_per_table), "salt": data.hash_salt}


def text_rows(path, header):
    with open(path) as f:
        lines = f.read().splitlines()
    return [line.split("\t") for line in lines[1 if header else 0:]]


def assert_same_inputs(got, expected):
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        assert got[name].dtype == want.dtype and got[name].shape == want.shape, name
        if name == "numeric":
            # The reference keeps a negative count as read; the Dataset stores log1p(max(x, 0)).
            np.testing.assert_allclose(got[name], want, rtol=1e-6, atol=0)
        else:
            np.testing.assert_array_equal(got[name], want, err_msg=name)


def test_known_values_of_the_hash_functions():
    assert int(serving.splitmix64_finalize(0x9E3779B97F4A7C15)) == 0xE220A8397B1DCDAF  # splitmix64_next(0)
    assert serving.string_id("") == int(serving.splitmix64_finalize(0xCBF29CE484222325)) & 0xFFFFFFFF
    assert int(serving.reduce_range(np.uint64(2**63), 10)) == 5
    assert int(serving.reduce_range(np.uint64(2**64 - 1), 7)) == 6


def test_criteo_text_rows_hash_as_the_reader(data_dir):
    path = data_dir / "train.tsv"
    data = shadowsync.Dataset(path, rows_per_table=1000, hash_salt=2**63 + 12345)
    rows = text_rows(path, header=False)
    got = serving.model_inputs(rows, data.schema, hashing_of(data))
    numeric = got["numeric"]
    got["numeric"] = np.maximum(numeric, 0)  # what the model reads: log1p(max(x, 0))
    assert_same_inputs(got, data.model_inputs())
    assert (got["categorical"] == 0).any()  # missing ids: row 0
    # Dicts of column name -> text give the same.
    names = [c["name"] for c in data.schema["columns"]]
    dicts = [{n: v for n, v in zip(names, row) if v != ""} for row in rows[:200]]
    as_dicts = serving.model_inputs(dicts, data.schema, hashing_of(data))
    np.testing.assert_array_equal(as_dicts["categorical"], got["categorical"][:200])
    np.testing.assert_array_equal(as_dicts["numeric"], numeric[:200])


def test_string_id_multi_hot_text_rows_hash_as_the_reader(tmp_path):
    path = tmp_path / "avazu.tsv"
    run_cli("gen", "--schema", "avazu", "--rows", 3000, "--seed", 4, "--out", path)
    data = shadowsync.Dataset(path, schema=_avazu_schema(path), rows_per_table=5000, hash_salt=3)
    assert not data.schema["hex_ids"]
    expected = data.model_inputs()
    assert "multi_hot_0" in expected and (expected["multi_hot_0_length"] > 1).any()
    got = serving.model_inputs(text_rows(path, header=True), data.schema, hashing_of(data))
    assert_same_inputs(got, expected)


def _avazu_schema(path):
    with open(str(path) + ".json") as f:
        return json.load(f)["spec"]["schema"]


def test_edge_cases_of_a_written_log_hash_as_the_reader(tmp_path):
    schema = {"columns": [{"name": "click", "kind": "label"}, {"name": "n", "kind": "numeric"},
                          {"name": "x", "kind": "numeric", "transform": "identity"},
                          {"name": "site", "kind": "categorical"}, {"name": "skip", "kind": "ignore"},
                          {"name": "tags", "kind": "multi_hot", "separator": "|", "max_length": 3},
                          {"name": "more", "kind": "multi_hot", "separator": ",", "pooling": "mean"}],
              "header": False, "hex_ids": False, "overlong": "cut"}
    lines = ["1\t7\t-2.5e3\ta.com\tq\tx|y|z|w|v\tk",
             "0\t\t\t\t\t\t",
             "0\t-3\t.5\tü\t\tx\tk,k,k",
             "1\t123456789012\t1.\t0\t\ty|x\t"]
    path = tmp_path / "edge.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = shadowsync.Dataset(path, schema=schema, rows_per_table=[17, 2, 1 << 20], hash_salt=5)
    got = serving.model_inputs([line.split("\t") for line in lines], schema, hashing_of(data))
    np.testing.assert_array_equal(got["multi_hot_0_length"], [3, 0, 1, 2])  # cut to max_length 3
    np.testing.assert_array_equal(got["numeric"][:, 0], np.float32([7, 0, -3, 123456789012]))
    got["numeric"] = np.maximum(got["numeric"], np.float32([0, -np.inf]))
    assert_same_inputs(got, data.model_inputs())
    assert (got["multi_hot_1"][1:2] == 0).all() and got["categorical"][1, 0] == 0


@pytest.mark.parametrize("row, message", [
    (["0", "1.5", "", "zz", "", "a", ""], r"row 0: n: '1\.5' is not an integer"),
    (["0", "x", "", "", "", "", ""], r"row 0: n: 'x' is not an integer"),
    (["0", "99999999999999999999", "", "", "", "", ""], r"does not fit in a 64-bit signed integer"),
    (["0", "", "1e40", "", "", "", ""], r"row 0: x: '1e40' is not a finite number below 1e30"),
    (["0", "", "+1", "", "", "", ""], r"row 0: x: '\+1' is not a decimal number"),
    (["0", "", "1e-400", "", "", "", ""], r"row 0: x: '1e-400' is not a finite number below 1e30"),
    (["0", "", "-Inf", "", "", "", ""], r"row 0: x: '-Inf' is not a finite number below 1e30"),
    (["0", "", "", "", "", "a||b", ""], r"row 0: tags: 'a\|\|b' has an empty item"),
    (["0", "", ""], r"row 0: wrong number of fields: 3, the schema has 7"),
    ({"click": "0", "nope": "1"}, r"row 0: unknown column 'nope'"),
])
def test_bad_fields_are_refused_naming_row_and_column(row, message):
    schema = {"columns": [{"name": "click", "kind": "label"}, {"name": "n", "kind": "numeric"},
                          {"name": "x", "kind": "numeric", "transform": "identity"},
                          {"name": "site", "kind": "categorical"}, {"name": "skip", "kind": "ignore"},
                          {"name": "tags", "kind": "multi_hot", "separator": "|"},
                          {"name": "more", "kind": "multi_hot"}], "hex_ids": False}
    with pytest.raises(ValueError, match=message):
        serving.model_inputs([row], schema, {"rows": 100, "salt": 0})


@pytest.mark.parametrize("value, message", [("1g", "is not a hexadecimal value"),
                                            ("123456789", "has 9 hex digits, at most 8 allowed")])
def test_bad_hexadecimal_ids_are_refused(value, message):
    schema = {"columns": [{"name": "click", "kind": "label"}, {"name": "C1", "kind": "categorical"}]}
    with pytest.raises(ValueError, match=f"row 0: C1: '{value}' {message}"):
        serving.model_inputs([{"C1": value}], schema, {"rows": [100], "salt": 0})
    with pytest.raises(ValueError, match=r"hashing.rows: 2 tables, the schema has 1"):
        serving.model_inputs([{"C1": "1"}], schema, {"rows": [100, 100], "salt": 0})


def test_runs_without_the_cxx_extension(tmp_path, data_dir):
    """serving.py on its own (copied beside a server), with shadowsync not importable."""
    data = shadowsync.Dataset(data_dir / "train.tsv", rows_per_table=1000, hash_salt=9)
    rows = text_rows(data_dir / "train.tsv", header=False)[:50]
    expected = serving.model_inputs(rows, data.schema, hashing_of(data))
    script = tmp_path / "server.py"
    script.write_text(
        "import importlib.util, json, sys\n"
        "sys.modules['shadowsync'] = None  # importing the package would fail\n"
        f"spec = importlib.util.spec_from_file_location('serving_copy', {SERVING_PY!r})\n"
        "serving = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(serving)\n"
        "args = json.load(sys.stdin)\n"
        "inputs = serving.model_inputs(args['rows'], args['schema'], args['hashing'])\n"
        "print(json.dumps({k: v.tolist() for k, v in inputs.items()}))\n")
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True,
                         input=json.dumps({"rows": rows, "schema": data.schema, "hashing": hashing_of(data)}),
                         env={"PATH": os.environ.get("PATH", "")})
    got = json.loads(out.stdout)
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        np.testing.assert_array_equal(np.array(got[name], dtype=want.dtype), want)


def test_to_torch_without_pytorch_names_the_package(tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"
            "import shadowsync\n"
            "try:\n"
            "    from shadowsync import _torch\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "Model.to_torch() needs PyTorch, which is not installed (Debian package python3-torch; " \
           "scripts/setup --bench installs it)" in out.stdout


ANY = st.text(alphabet="0123456789abcdefABCDEFxyz-+.eE|inftyINF", max_size=10)
INTEGER = st.one_of(ANY, st.from_regex(r"-?[0-9]{0,21}", fullmatch=True))
DECIMAL = st.one_of(ANY, st.from_regex(r"-?[0-9]{0,3}(\.[0-9]{0,3})?([eE][-+]?[0-9]{1,4})?", fullmatch=True))
ID = st.one_of(ANY, st.from_regex(r"[0-9a-fA-F]{0,10}", fullmatch=True))
LIST = st.one_of(ANY, st.from_regex(r"([0-9a-f]{1,9}(\|[0-9a-f]{1,9}){0,4})?", fullmatch=True))


@pytest.mark.parametrize("hex_ids", [True, False])
@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(st.sampled_from("01"), INTEGER, DECIMAL, ID, LIST), min_size=1, max_size=4))
def test_random_fields_are_read_or_refused_as_the_reader_does(tmp_path, hex_ids, lines):
    """Differential: any line the C++ reader refuses (strict) is refused, any it reads gives the
    same inputs."""
    schema = {"columns": [{"name": "click", "kind": "label"}, {"name": "n", "kind": "numeric"},
                          {"name": "x", "kind": "numeric", "transform": "identity"},
                          {"name": "c", "kind": "categorical"},
                          {"name": "m", "kind": "multi_hot", "separator": "|", "max_length": 3}],
              "hex_ids": hex_ids}
    path = tmp_path / "random.tsv"
    path.write_text("".join("\t".join(fields) + "\n" for fields in lines))
    hashing = {"rows": [1000, 77], "salt": 99}
    try:
        data = shadowsync.Dataset(path, schema=schema, strict=True, rows_per_table=hashing["rows"],
                                  hash_salt=hashing["salt"])
    except OSError as e:
        line = int(str(e).split(":")[1]) - 1  # random.tsv:LINE: reason
        with pytest.raises(ValueError, match=f"row {line}: "):
            serving.model_inputs([list(fields) for fields in lines], schema, hashing)
        return
    got = serving.model_inputs([list(fields) for fields in lines], schema, hashing)
    expected = data.model_inputs()
    stored = np.float32(np.log1p(np.maximum(got["numeric"][:, 0].astype(np.float64), 0)))
    np.testing.assert_allclose(stored, data.numeric[:, 0], rtol=1e-6)
    np.testing.assert_array_equal(got["numeric"][:, 1], expected["numeric"][:, 1])
    del got["numeric"], expected["numeric"]
    assert_same_inputs(got, expected)
