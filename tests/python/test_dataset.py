"""shadowsync.Dataset: files and arrays give the CLI's rows (several files: their rows in order);
bad arrays raise ValueError."""
import os

import numpy as np
import pytest

import shadowsync
from conftest import run_cli


def test_arrays_tsv_and_cache_agree_row_for_row(data_dir, arrays):
    numeric, categorical, labels = arrays
    # `convert` writes the default table size (131072); text and arrays are sized to their data
    # unless rows_per_table says otherwise.
    from_arrays = shadowsync.Dataset.from_arrays(numeric, categorical, labels, rows_per_table=131072)
    from_cache = shadowsync.Dataset(data_dir / "train.bin")
    from_tsv = shadowsync.Dataset(data_dir / "train.tsv", rows_per_table=131072)
    assert from_cache._data.is_cache
    sized_arrays = shadowsync.Dataset.from_arrays(numeric, categorical, labels)
    sized_tsv = shadowsync.Dataset(data_dir / "train.tsv")
    np.testing.assert_array_equal(sized_arrays.categorical, sized_tsv.categorical)
    assert sized_arrays.categorical.max() < 131072 // 2, "tables sized to the rows' ids"
    for other in (from_cache, from_tsv):
        assert len(other) == len(from_arrays)
        np.testing.assert_array_equal(from_arrays.labels, other.labels)
        np.testing.assert_array_equal(from_arrays.numeric, other.numeric)
        np.testing.assert_array_equal(from_arrays.categorical, other.categorical)


def test_float32_labels_used_in_place_and_hashed_uint32_too(arrays):
    numeric, categorical, labels = arrays
    hashed = shadowsync.Dataset.from_arrays(numeric, categorical, labels).categorical
    again = shadowsync.Dataset.from_arrays(numeric, np.ascontiguousarray(hashed), labels, hashed=True)
    assert again._data.zero_copy_arrays == 2
    np.testing.assert_array_equal(again.categorical, hashed)
    copied = shadowsync.Dataset.from_arrays(numeric, categorical, labels.astype(np.int64))
    assert copied._data.zero_copy_arrays == 0
    np.testing.assert_array_equal(copied.labels, labels)


def test_arrays_are_kept_alive(arrays):
    numeric, categorical, labels = arrays
    own_labels = labels.copy()
    data = shadowsync.Dataset.from_arrays(numeric, categorical, own_labels)
    del own_labels
    np.testing.assert_array_equal(data.labels, labels)


def test_fortran_order_and_float32_numeric_match(arrays):
    numeric, categorical, labels = arrays
    small = np.minimum(numeric, 2 ** 20)  # exact in float32
    a = shadowsync.Dataset.from_arrays(np.asfortranarray(small.astype(np.float32)), np.asfortranarray(categorical),
                                       labels)
    b = shadowsync.Dataset.from_arrays(small, categorical, labels)
    np.testing.assert_array_equal(a.numeric, b.numeric)
    np.testing.assert_array_equal(a.categorical, b.categorical)


@pytest.mark.parametrize("kwargs, message", [
    (dict(numeric=np.zeros((4, 12), np.float32)), r"numeric: expected a float array of shape \(n, 13\), got shape \(4, 12\)"),
    (dict(numeric=np.zeros(4, np.float32)), r"numeric: expected a float array of shape \(n, 13\), got shape \(4,\)"),
    (dict(numeric=np.zeros((4, 13), "U3")), r"numeric: expected a float array .* got dtype <U3"),
    (dict(categorical=np.zeros((4, 25), np.int64)), r"categorical: expected an integer array of shape \(n, 26\)"),
    (dict(categorical=np.zeros((4, 26), "U3")), r"categorical: expected an integer array of ids, or a float array of whole numbers \(negative or NaN = "
     r"missing\), got dtype <U3"),
    (dict(categorical=np.zeros((4, 26), np.float16)), r"categorical: expected float32 or float64 ids, got dtype float16"),
    (dict(categorical=np.zeros((4, 26), np.float32), hashed=True),
     r"categorical: with hashed=True expected an integer array of table rows, got dtype float32"),
    (dict(categorical=np.zeros((3, 26), np.int64)), r"categorical: expected 4 rows like numeric"),
    (dict(labels=np.zeros(3, np.float32)), r"labels: expected shape \(4,\) like numeric, got shape \(3,\)"),
    (dict(labels=np.full(4, 0.5, np.float32)), r"labels: expected 0 or 1, got 0.5 at row 0"),
    (dict(numeric=np.full((4, 13), np.inf, np.float32)), r"numeric: row 0, column 0: infinite value"),
    (dict(categorical=np.full((4, 26), 2 ** 33, np.int64)),
     r"categorical: column 0, row 0: id 8589934592 is not a 32-bit id \(ids are whole numbers 0 \.\. 2\^32 - 1"),
])
def test_bad_arrays_raise_value_error_naming_the_argument(kwargs, message):
    args = dict(numeric=np.zeros((4, 13), np.float32), categorical=np.zeros((4, 26), np.int64),
                labels=np.zeros(4, np.float32))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        shadowsync.Dataset.from_arrays(**args)


def test_hashed_rows_out_of_range_raise():
    with pytest.raises(ValueError, match=r"categorical: row 0, column 0: with hashed=True expected a table row in \[0, 16\)"):
        shadowsync.Dataset.from_arrays(np.zeros((1, 13), np.float32), np.full((1, 26), 16, np.uint32),
                                       rows_per_table=16, hashed=True)


def test_missing_file_is_os_error(tmp_path):
    with pytest.raises(OSError, match="nothing.tsv"):
        shadowsync.Dataset(tmp_path / "nothing.tsv")


def split_cache(data_dir, tmp_path, first_rows, **convert_options):
    """The training TSV cut after `first_rows` lines, each half converted to its own cache."""
    lines = (data_dir / "train.tsv").read_text().splitlines(keepends=True)
    halves = []
    for name, part in (("a", lines[:first_rows]), ("b", lines[first_rows:])):
        (tmp_path / f"{name}.tsv").write_text("".join(part))
        flags = [x for key, value in convert_options.items() for x in ("--" + key.replace("_", "-"), value)]
        run_cli("convert", *flags, tmp_path / f"{name}.tsv", tmp_path / f"{name}.bin")
        halves.append(tmp_path / f"{name}.bin")
    return halves


def test_several_files_are_their_rows_in_order(data_dir, tmp_path):
    a, b = split_cache(data_dir, tmp_path, 2501)
    whole = shadowsync.Dataset(data_dir / "train.bin")
    for paths in ([a, b], (str(a), tmp_path / "b.tsv")):
        several = shadowsync.Dataset(paths)
        assert len(several) == len(whole) and several._data.files == 2
        assert several._data.source == f"{paths[0]} + {paths[1]}"
        np.testing.assert_array_equal(several.labels, whole.labels)
        np.testing.assert_array_equal(several.numeric, whole.numeric)
        np.testing.assert_array_equal(several.categorical, whole.categorical)
    assert shadowsync.Dataset([a])._data.files == 1
    with pytest.raises(ValueError, match="path: expected a path or a non-empty list of paths"):
        shadowsync.Dataset([])


def test_several_caches_must_share_their_hashing(data_dir, tmp_path):
    a, _ = split_cache(data_dir, tmp_path, 3000)
    run_cli("convert", "--rows-per-table", 64, tmp_path / "b.tsv", tmp_path / "b64.bin")
    with pytest.raises(OSError, match="b64.bin"):
        shadowsync.Dataset([a, tmp_path / "b64.bin"])


def test_the_same_file_twice_is_refused(data_dir, tmp_path):
    tsv = data_dir / "train.tsv"
    other_spelling = f"{data_dir}/./train.tsv"
    os.link(tsv, tmp_path / "link.tsv")
    for paths, second in (([tsv, tsv], tsv), ([tsv, other_spelling], other_spelling),
                          ([tsv, tmp_path / "link.tsv"], tmp_path / "link.tsv")):
        with pytest.raises(OSError, match=f"'{tsv}' and '{second}' are the same file"):
            shadowsync.Dataset(paths)


def test_predict_gives_one_value_per_data_line(data_dir, tmp_path):
    model = shadowsync.train(data_dir / "train.bin", model="tiny", sync="none", groups=1, threads_per_group=1,
                             eval_fraction=0.0, epochs=1)
    lines = (data_dir / "train.tsv").read_text().splitlines()
    rows = 3000
    good = tmp_path / "good.tsv"
    good.write_text("\n".join(lines[:rows]) + "\n")
    expected = model.predict(good)
    assert expected.shape == (rows,)
    # A byte order mark and a trailing empty line are not rows.
    (tmp_path / "bom.tsv").write_bytes(b"\xef\xbb\xbf" + good.read_bytes() + b"\n")
    np.testing.assert_array_equal(model.predict(tmp_path / "bom.tsv"), expected)
    # Bad lines: refused naming the first, or NaN in their place; never fewer values.
    bad = lines[:rows]
    bad[1499] = "2" + bad[1499][1:]               # line 1500: bad label
    bad[1999] = bad[1999][:3] + "\0" + bad[1999][4:]  # line 2000: NUL byte
    bad[2499] = bad[2499].replace("\t", ",")      # line 2500: mixed delimiters
    bad[2799] = ""                                # line 2800: empty
    path = tmp_path / "bad.tsv"
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(OSError, match=f"{path}:1500: label '2' is not 0 or 1"):
        model.predict(path)
    got = model.predict(path, bad_rows="nan")
    assert got.shape == (rows,)
    nan = np.isnan(got)
    assert list(np.flatnonzero(nan)) == [1499, 1999, 2499, 2799]
    np.testing.assert_array_equal(got[~nan], expected[~nan])
    assert np.isnan(model.predict_logits([path, good], bad_rows="nan")[[1499, rows + 5]]).tolist() == [True, False]
    with pytest.raises(ValueError, match="bad_rows: expected 'refuse' or 'nan'"):
        model.predict(path, bad_rows="skip")
