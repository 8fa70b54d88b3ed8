"""shadowsync.Dataset of any schema: a DataFrame (multi-hot list and string columns) gives the rows
the C++ reader gives for the same data written as CSV; keyword schemas of files; training on a
small non-Criteo frame."""
import math

import numpy as np
import pandas as pd
import pytest

import shadowsync

KEYWORDS = dict(label="click", numeric={"hour": "log1p", "price": "identity"}, categorical=["site", "user"],
                multi_hot={"tags": ";", "cats": "|"}, ignore=["note"])
ROWS_PER_TABLE = 1024


def small_frame():
    return pd.DataFrame({
        "click": [1, 0, 0, 1, 0],
        "hour": [3, np.nan, 0, 12, 7],
        "price": [-2.5, 0.125, np.nan, 1e6, 3.0],
        "site": ["a.com", None, "b.org", "a.com", "c.net"],
        "user": [17, 4, 17, 99, 4],
        "tags": [["x", "y"], [], ["y"], ["z", "x", "w"], None],
        "cats": ["p|q", "", "q", "r", "p"],
        "note": ["n1", "n2", "n3", "n4", "n5"],
    })


def cell(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def write_csv(frame, path):
    """The frame as the reader reads it: a header line, fields joined by ",", lists by ";"."""
    lines = [",".join(frame.columns)]
    for _, row in frame.iterrows():
        fields = []
        for name, v in row.items():
            if name == "tags":
                fields.append(";".join(v) if isinstance(v, list) else "")
            elif name == "hour":
                fields.append("" if math.isnan(v) else str(int(v)))
            else:
                fields.append(cell(v))
        lines.append(",".join(fields))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("rows_per_table", [ROWS_PER_TABLE, None])
def test_frame_and_csv_read_by_the_reader_give_the_same_rows(tmp_path, rows_per_table):
    frame = small_frame()
    csv = tmp_path / "log.csv"
    write_csv(frame, csv)
    from_frame = shadowsync.Dataset.from_frame(frame, rows_per_table=rows_per_table, **KEYWORDS)
    from_csv = shadowsync.Dataset(csv, rows_per_table=rows_per_table, delimiter=",", header=True, **KEYWORDS)
    assert len(from_frame) == len(from_csv) == 5
    assert from_csv.schema["columns"] == from_frame.schema["columns"]
    assert from_frame.rows_per_table == from_csv.rows_per_table
    np.testing.assert_array_equal(from_frame.labels, from_csv.labels)
    np.testing.assert_array_equal(from_frame.numeric, from_csv.numeric)
    np.testing.assert_array_equal(from_frame.categorical, from_csv.categorical)
    np.testing.assert_array_equal(from_frame.bag_offsets, from_csv.bag_offsets)
    np.testing.assert_array_equal(from_frame.bag_ids, from_csv.bag_ids)

    if rows_per_table is None:
        return  # tables sized to 5 rows: distinct values may share a row, so the checks below need 1024
    # The values themselves: labels, log1p / identity numbers (missing = 0), missing ids = row 0.
    np.testing.assert_array_equal(from_frame.labels, [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(from_frame.numeric[:, 0], np.float32([math.log1p(3), 0, 0, math.log1p(12),
                                                                       math.log1p(7)]))
    np.testing.assert_array_equal(from_frame.numeric[:, 1], np.float32([-2.5, 0.125, 0, 1e6, 3.0]))
    sites, users = from_frame.categorical[:, 0], from_frame.categorical[:, 1]
    assert sites[1] == 0 and sites[0] == sites[3] and len({sites[0], sites[2], sites[4]}) == 3
    assert users[0] == users[2] and users[1] == users[4] and users[0] != users[1]
    # Lists row-major (row i, feature m): tags then cats of each row; empty and missing = no ids.
    np.testing.assert_array_equal(from_frame.bag_offsets, [0, 2, 4, 4, 4, 5, 6, 9, 10, 10, 11])
    ids = from_frame.bag_ids
    x, y = ids[0], ids[1]
    assert ids[4] == y and ids[7] == x and x != y  # "y" in row 2, "x" in row 3 (table tags)
    assert ids[2] == ids[10] and ids[3] == ids[5]  # "p" rows 0 and 4, "q" rows 0 and 2 (table cats)
    assert ids.min() >= 1


def test_frame_values_of_any_type_hash_as_their_text_in_the_reader(tmp_path):
    # A categorical column of floats, booleans and integers is read as the CSV text pandas writes.
    frame = pd.DataFrame({"click": [0, 1, 1], "f": [1.5, 2.0, np.nan], "b": [True, False, True],
                          "n": [-3, 0, 2**40]})
    csv = tmp_path / "t.csv"
    frame.to_csv(csv, index=False)
    keywords = dict(label="click", categorical=["f", "b", "n"], rows_per_table=4096)
    a = shadowsync.Dataset.from_frame(frame, **keywords)
    b = shadowsync.Dataset(csv, delimiter=",", header=True, **keywords)
    np.testing.assert_array_equal(a.categorical, b.categorical)
    assert a.categorical[2, 0] == 0 and a.categorical[0, 1] == a.categorical[2, 1]


def test_keywords_without_header_name_columns_by_position(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("1\tu1\t5\ta,b\n0\tu2\t\tb\n")
    data = shadowsync.Dataset(path, label=0, categorical=[1], numeric=[2], multi_hot=[3], rows_per_table=64)
    assert [c["name"] for c in data.schema["columns"]] == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(data.numeric[:, 0], np.float32([math.log1p(5), 0]))
    np.testing.assert_array_equal(data.bag_offsets, [0, 2, 3])
    assert data.bag_ids[1] == data.bag_ids[2]


def test_schema_as_a_dict_or_file_is_the_same_as_keywords(tmp_path):
    frame = small_frame()
    by_keywords = shadowsync.Dataset.from_frame(frame, rows_per_table=256, **KEYWORDS)
    schema = by_keywords.schema
    path = tmp_path / "schema.json"
    import json
    path.write_text(json.dumps(schema))
    for given in (schema, path):
        other = shadowsync.Dataset.from_frame(frame, schema=given, rows_per_table=256)
        np.testing.assert_array_equal(other.bag_ids, by_keywords.bag_ids)
        np.testing.assert_array_equal(other.categorical, by_keywords.categorical)


@pytest.mark.parametrize("change, message", [
    (dict(cats=["p||q", "", "q", "r", "p"]), r"multi_hot column 'cats': row 0: an empty or missing item in 'p\|\|q'"),
    (dict(hour=[3.5, 1, 0, 12, 7]), r"numeric column hour: row 0: 3.5 is not a whole number"),
    (dict(price=[np.inf, 1, 0, 12, 7]), r"numeric column price: row 0: inf is not a finite number"),
    (dict(click=[2, 0, 0, 1, 0]), r"label column 'click': row 0: expected 0 or 1, got 2.0"),
])
def test_bad_frame_values_are_value_errors_naming_column_and_row(change, message):
    frame = small_frame().assign(**change)
    with pytest.raises(ValueError, match=message):
        shadowsync.Dataset.from_frame(frame, **KEYWORDS)


def test_columns_without_a_kind_and_unknown_names_are_refused(tmp_path):
    frame = small_frame()
    keywords = dict(KEYWORDS, ignore=None)
    with pytest.raises(ValueError, match=r"ignore=: column 7 'note' is not named by label, numeric, categorical, "
                                         r"multi_hot or ignore"):
        shadowsync.Dataset.from_frame(frame, **keywords)
    with pytest.raises(ValueError, match=r"categorical=: 'nope' is not a column of the header \(click, hour, "):
        shadowsync.Dataset.from_frame(frame, **dict(KEYWORDS, categorical=["site", "nope"]))
    with pytest.raises(ValueError, match=r"categorical=: 'site' is already named by numeric="):
        shadowsync.Dataset.from_frame(frame, **dict(KEYWORDS, numeric=["hour", "price", "site"]))
    # The same rule and message for files (the command line's SchemaRequest, keywords spelled name=).
    csv = tmp_path / "log.csv"
    write_csv(frame, csv)
    with pytest.raises(ValueError, match=r"ignore=: column 7 'note' is not named by"):
        shadowsync.Dataset(csv, delimiter=",", header=True, **keywords)


def test_long_lists_are_cut_to_max_length_or_refused():
    frame = pd.DataFrame({"click": [1, 0], "tags": [["a", "b", "c"], ["a"]]})
    cut = shadowsync.Dataset.from_frame(frame, label="click", multi_hot={"tags": {"separator": ",", "max_length": 2}},
                                        rows_per_table=64)
    np.testing.assert_array_equal(cut.bag_offsets, [0, 2, 3])
    schema = dict(cut.schema, overlong="refuse")
    with pytest.raises(ValueError, match=r"multi_hot column 'tags': row 0: 3 items, more than max_length 2"):
        shadowsync.Dataset.from_frame(frame, schema=schema)


def generated_frame(rows, seed):
    """A click log of another shape: a decimal numeric column, a categorical column with per-value
    effects and a multi-hot column; labels drawn from a known logistic model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    site = rng.integers(0, 30, size=rows)
    site_effect = np.linspace(-2.0, 2.0, 30)[site]
    tags = [list(rng.choice(["t0", "t1", "t2", "t3", "t4", "t5"], size=rng.integers(0, 4), replace=False))
            for _ in range(rows)]
    tag_effect = np.array([1.5 * ("t1" in t) - 1.5 * ("t4" in t) for t in tags])
    logit = -1.0 + 1.2 * x + site_effect + tag_effect
    click = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"click": click, "x": x, "site": [f"s{s}" for s in site], "tags": tags})


def test_training_a_generated_non_criteo_frame_beats_the_base_rate(tmp_path):
    keywords = dict(label="click", numeric={"x": "identity"}, categorical=["site"], multi_hot=["tags"])
    train_set = shadowsync.Dataset.from_frame(generated_frame(8000, 1), **keywords)
    eval_set = shadowsync.Dataset.from_frame(generated_frame(2000, 2), rows_per_table=list(train_set.rows_per_table),
                                             **keywords)
    model = shadowsync.train(train_set, eval_set, model="tiny", sync="fr-ma", groups=1, threads_per_group=1,
                             deterministic=True, epochs=3, seed=4)
    assert model.schema == train_set.schema
    quality = model.evaluate(eval_set)
    assert math.isfinite(quality["ne"])
    assert quality["ne"] < 0.9  # NE 1.0 is the base rate's; the generating model reaches about 0.75
    p = model.predict(eval_set)
    assert p.shape == (2000,) and np.all((p > 0) & (p < 1))
    # A path is read with the model's schema: the same rows written as TSV predict the same.
    frame = generated_frame(2000, 2)
    tsv = tmp_path / "eval.tsv"
    tsv.write_text("".join(f"{c}\t{x!r}\t{site}\t{','.join(tags)}\n"
                           for c, x, site, tags in zip(frame.click, frame.x, frame.site, frame.tags)))
    np.testing.assert_allclose(model.predict(tsv), p, rtol=1e-6)
    assert model.evaluate(tsv)["ne"] == pytest.approx(quality["ne"], rel=1e-6)
