"""Model.to_torch() and Dataset.model_inputs(): the PyTorch module of a trained model gives
Model.predict's probabilities from the serving inputs (Criteo presets, multi-hot lists with sum
and mean pooling, no numeric columns, the cat interaction, dcn of full and low rank), with the exported parameter names,
and so does its TorchScript form after a save and load."""
import json
from typing import Optional

import numpy as np
import pandas as pd
import pytest

import shadowsync

torch = pytest.importorskip("torch", reason="PyTorch is not installed (Debian python3-torch; scripts/setup --bench)")

RUN = dict(sync="fr-ma", groups=1, threads_per_group=1, deterministic=True, eval_fraction=0, seed=7)


def multi_hot_frame(rows=3000, seed=3, numeric=True):
    """Rows with two multi-hot columns (sum and mean pooling, empty and cut lists), a categorical
    column, and (numeric=True) a log1p and an identity column."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(300)])
    frame = {"click": (rng.random(rows) < 0.3).astype(int),
             "site": [f"s{v}" if v else None for v in rng.integers(0, 40, rows)],
             "tags": [list(rng.choice(words, size=k)) for k in rng.integers(0, 7, rows)],
             "cats": ["|".join(rng.choice(words, size=k)) for k in rng.integers(0, 12, rows)]}
    if numeric:
        frame["hour"] = rng.integers(-2, 400, rows)
        frame["price"] = np.round(rng.normal(0, 3, rows), 3)
    keywords = dict(label="click", categorical=["site"],
                    multi_hot={"tags": {"separator": ";", "pooling": "sum"},
                               "cats": {"separator": "|", "pooling": "mean", "max_length": 8}})
    if numeric:
        keywords["numeric"] = {"hour": "log1p", "price": "identity"}
    return pd.DataFrame(frame), keywords


@pytest.fixture(scope="module")
def criteo(data_dir):
    return shadowsync.Dataset(data_dir / "train.tsv", rows_per_table=4096, hash_salt=11)


def trained(data, model, **options):
    return shadowsync.train(data, model=model, **RUN, **options)


def probabilities(module, inputs):
    with torch.no_grad():
        return module({k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()


def check_module(model, data):
    module = model.to_torch()
    inputs = data.model_inputs()
    got = probabilities(module, inputs)
    assert got.dtype == np.float32 and got.shape == (len(data),)
    np.testing.assert_allclose(got, model.predict(data), rtol=0, atol=1e-5)
    return module, inputs


@pytest.mark.parametrize("preset", ["small", "kaggle"])
def test_criteo_presets_give_predict(criteo, preset):
    model = trained(criteo, preset, max_examples=3000)
    module, _ = check_module(model, criteo)
    names = [name for name, _ in module.named_parameters()]
    assert names == list(model.named_parameters())
    assert names[0] == "bottom.0.weight" and names[-1] == f"top.{len(model.config['top']) - 1}.bias"
    for name, parameter in module.named_parameters():
        np.testing.assert_array_equal(parameter.detach().numpy(), model.named_parameters()[name])


def test_multi_hot_sum_and_mean_give_predict():
    frame, keywords = multi_hot_frame()
    data = shadowsync.Dataset.from_frame(frame, **keywords)
    model = trained(data, "small", epochs=2)
    inputs = data.model_inputs()
    assert set(inputs) == {"numeric", "categorical", "multi_hot_0", "multi_hot_0_length", "multi_hot_1",
                           "multi_hot_1_length"}
    assert inputs["multi_hot_1"].shape[1] == 8  # the longest list after the cut to max_length
    assert (inputs["multi_hot_0_length"] == 0).any()  # empty lists: zero vectors
    check_module(model, data)


def test_schema_without_numeric_columns_has_no_bottom():
    frame, keywords = multi_hot_frame(numeric=False)
    data = shadowsync.Dataset.from_frame(frame, **keywords)
    model = trained(data, "small", epochs=2)
    module, inputs = check_module(model, data)
    assert "numeric" not in inputs and len(module.bottom) == 0
    assert not any(name.startswith("bottom.") for name, _ in module.named_parameters())


@pytest.fixture(scope="module")
def cat_model(criteo, tmp_path_factory):
    spec = tmp_path_factory.mktemp("cat") / "cat.json"
    # embedding_dim 6: the tables' rows are padded to 8 floats in the engine, packed in the module.
    spec.write_text(json.dumps({"bottom": [16, 6], "top": [32, 1], "embedding_dim": 6, "interaction": "cat"}))
    return trained(criteo, str(spec), max_examples=3000)


def test_cat_interaction_gives_predict(criteo, cat_model):
    assert cat_model.config["interaction"] == "cat"
    check_module(cat_model, criteo)


@pytest.mark.parametrize("rank", [0, 4])
def test_dcn_gives_predict_with_the_contracts_names(criteo, tmp_path, rank):
    spec = tmp_path / "dcn.json"
    spec.write_text(json.dumps({"bottom": [16, 6], "top": [32, 1], "embedding_dim": 6, "interaction": "dcn",
                                "cross_layers": 2, "cross_rank": rank}))
    model = trained(criteo, str(spec), max_examples=3000)
    module, inputs = check_module(model, criteo)
    names = [name for name, _ in module.named_parameters()]
    assert names == list(model.named_parameters())
    cross = [n for n in names if n.startswith("cross.")]
    per_layer = ["weight", "bias"] if rank == 0 else ["v", "u", "bias"]
    assert cross == [f"cross.{l}.{p}" for l in range(2) for p in per_layer]
    scripted = torch.jit.script(module)
    np.testing.assert_allclose(probabilities(scripted, inputs), model.predict(criteo), rtol=0, atol=1e-5)


def test_dcn_preset_over_a_multi_hot_schema():
    frame, keywords = multi_hot_frame(rows=1500)
    data = shadowsync.Dataset.from_frame(frame, **keywords)
    model = trained(data, "dcn")
    check_module(model, data)


def test_torchscript_saved_and_loaded_gives_the_same(tmp_path):
    frame, keywords = multi_hot_frame(rows=1500)
    data = shadowsync.Dataset.from_frame(frame, **keywords)
    model = trained(data, "tiny")
    module, inputs = check_module(model, data)
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(module), str(path))
    loaded = torch.jit.load(str(path))
    np.testing.assert_allclose(probabilities(loaded, inputs), probabilities(module, inputs), rtol=0, atol=1e-7)
    np.testing.assert_allclose(probabilities(loaded, inputs), model.predict(data), rtol=0, atol=1e-5)
    assert [name for name, _ in loaded.named_parameters()] == list(model.named_parameters())


def test_an_interaction_the_module_cannot_express_is_refused(criteo):
    from shadowsync import _torch

    model = trained(criteo, "tiny", max_examples=500)
    config = dict(model.config, interaction="fm")
    with pytest.raises(ValueError, match=r"interaction 'fm': Model.to_torch\(\) cannot express it "
                                         r"\(it expresses: cat, dcn, dot\)"):
        _torch.DLRMModule(config, model.named_parameters())


def test_model_inputs_are_the_rows_as_read():
    frame = pd.DataFrame({"click": [0, 1, 0], "hour": [3, None, -4], "price": [-2.5, 0.125, None],
                          "tags": [["a", "b", "c"], [], ["b"]]})
    data = shadowsync.Dataset.from_frame(frame, label="click", numeric={"hour": "log1p", "price": "identity"},
                                         multi_hot={"tags": ";"}, rows_per_table=64)
    inputs = data.model_inputs()
    assert set(inputs) == {"numeric", "multi_hot_0", "multi_hot_0_length"}  # no categorical column
    assert inputs["numeric"].dtype == np.float32
    # log1p columns as read (a negative count is stored as 0), identity columns as stored.
    np.testing.assert_allclose(inputs["numeric"], [[3, -2.5], [0, 0.125], [0, 0]], rtol=1e-6)
    ids = data.bag_ids.astype(np.int64)
    np.testing.assert_array_equal(inputs["multi_hot_0_length"], [3, 0, 1])
    np.testing.assert_array_equal(inputs["multi_hot_0"], [ids[0:3], [0, 0, 0], [ids[3], 0, 0]])
    assert inputs["multi_hot_0"].dtype == np.int64
    assert (ids[0:3] >= 1).all() and ids[3] == ids[1]  # "b" in both lists: one row
