"""Schemas from keywords (label=, numeric=, categorical=, multi_hot=, ignore=, header=, schema=)
and the columns of a pandas DataFrame / dict of arrays / 2-D NumPy array prepared for the C++ side
(_Data.from_columns): numbers as float64, categorical values as the 32-bit ids the reader hashes
(string_id of the value's text, bound from C++), multi-hot lists as offsets and ids."""

import json
import os

import numpy as np

from . import _shadowsync

DEFAULT_MAX_LENGTH = 64


def read_schema_argument(schema):
    """schema= as a dict: a dict as given, or a path of a JSON file (OSError / ValueError naming it)."""
    if isinstance(schema, dict):
        return schema
    if isinstance(schema, (str, bytes, os.PathLike)):
        path = os.fsdecode(schema)
        with open(path, encoding="utf-8") as f:
            try:
                return json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"schema: {path}: not JSON: {e}") from None
    raise TypeError(f"schema: expected a dict or the path of a JSON file, got {type(schema).__name__}")


def _name_of(value, names, keyword):
    """A column named in keyword=: a name, or a position (an int) when `names` are known."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if names is None:
            return str(int(value))  # files without a header: columns are named "0", "1", ...
        if not 0 <= int(value) < len(names):
            raise ValueError(f"{keyword}=: column position {int(value)} is out of range (there are {len(names)} columns)")
        return names[int(value)]
    return str(value)


def _as_list(value, keyword):
    if value is None:
        return []
    if isinstance(value, (str, int, np.integer)):
        return [value]
    if isinstance(value, dict):
        return list(value.items())
    try:
        return list(value)
    except TypeError:
        raise TypeError(f"{keyword}=: expected a column name or a list of them, got {type(value).__name__}") from None


def request_lists(names, label=None, numeric=None, categorical=None, multi_hot=None, ignore=None,
                  default_separator=","):
    """The keywords as the items of a SchemaRequest (the command line's forms: NAME,
    NAME:identity, NAME:SEP[:MAX_LENGTH[:POOLING]]).

    numeric: names (log1p, the reader's transform of integer counts) or a dict name -> "log1p" |
        "identity" (decimal numbers, stored as they are).
    multi_hot: names (items split at `default_separator`, or list-valued cells), or a dict name ->
        separator (one character) or name -> {"separator", "max_length", "pooling"}.
    """
    lists = {"label": None if label is None else _name_of(label, names, "label"),
             "numeric": [], "categorical": [], "multi_hot": [], "ignore": []}
    for item in _as_list(numeric, "numeric"):
        column, transform = item if isinstance(item, tuple) else (item, None)
        name = _name_of(column, names, "numeric")
        lists["numeric"].append(name if transform is None else f"{name}:{transform}")
    for column in _as_list(categorical, "categorical"):
        lists["categorical"].append(_name_of(column, names, "categorical"))
    for item in _as_list(multi_hot, "multi_hot"):
        column, spec = item if isinstance(item, tuple) else (item, default_separator)
        if isinstance(spec, str):
            spec = {"separator": spec}
        if not isinstance(spec, dict):
            raise TypeError(f"multi_hot=: column {column!r}: expected a separator or a dict of separator, "
                            f"max_length, pooling, got {type(spec).__name__}")
        unknown = set(spec) - {"separator", "max_length", "pooling"}
        if unknown:
            raise ValueError(f"multi_hot=: column {column!r}: unknown setting {sorted(unknown)[0]!r} "
                             f"(separator, max_length, pooling)")
        separator = spec.get("separator", default_separator)
        separator = {" ": "space", ":": "::"}.get(separator, separator)
        item = f"{_name_of(column, names, 'multi_hot')}:{separator}"
        if "max_length" in spec or "pooling" in spec:
            item += f":{spec.get('max_length', DEFAULT_MAX_LENGTH)}"
        if "pooling" in spec:
            item += f":{spec['pooling']}"
        lists["multi_hot"].append(item)
    for column in _as_list(ignore, "ignore"):
        lists["ignore"].append(_name_of(column, names, "ignore"))
    return lists


def schema_from_keywords(names, label=None, numeric=None, categorical=None, multi_hot=None, ignore=None,
                         infer=None):
    """The schema dict of a frame's columns `names` from the keywords, resolved by the C++
    SchemaRequest (the command line's rules and messages). `infer` (name -> kind) gives a kind to
    columns the keywords leave out."""
    lists = request_lists(names, label, numeric, categorical, multi_hot, ignore)
    for name, kind in (infer or {}).items():
        lists[kind].append(name if kind != "multi_hot" else f"{name}:,")
    schema = json.loads(_shadowsync._schema_request([], names, "\t", True, lists["label"], lists["numeric"],
                                                    lists["categorical"], lists["multi_hot"], lists["ignore"], "",
                                                    None))
    schema["header"] = False  # a frame's columns are named by the frame, not by a line
    return schema


def file_schema(paths, delimiter, header, keywords, hex_ids=None, schema_file=""):
    """The schema dict the keywords (or a schema file) state for text files or caches `paths`."""
    lists = request_lists(None, **keywords)
    return json.loads(_shadowsync._schema_request(paths, None, delimiter, bool(header), lists["label"],
                                                  lists["numeric"], lists["categorical"], lists["multi_hot"],
                                                  lists["ignore"], schema_file, hex_ids))


def _is_missing(v):
    if v is None:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    try:
        import pandas as pd
        return v is pd.NA or v is pd.NaT
    except ImportError:  # pragma: no cover
        return False


def value_text(v):
    """A categorical value as text, as pandas' to_csv writes it: strings as they are, integers in
    decimal, floats as repr (3.0), booleans True/False; None / NaN / NA / "" are missing (None)."""
    if _is_missing(v):
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if isinstance(v, str):
        return v or None
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v)


def _text_ids(texts):
    """32-bit ids (int64) of texts as the reader hashes categorical strings; None -> -1 (missing)."""
    out = np.full(len(texts), -1, dtype=np.int64)
    present = [i for i, t in enumerate(texts) if t is not None]
    if present:
        out[present] = _shadowsync._string_ids([texts[i] for i in present]).astype(np.int64)
    return out


def _hex_id(v, name, row):
    text = value_text(v)
    if text is None:
        return -1
    try:
        value = int(text, 16) if isinstance(v, (str, bytes)) else int(float(text))
    except ValueError:
        value = -2
    if not 0 <= value <= 0xFFFFFFFF or (isinstance(v, (float, np.floating)) and float(v) != int(v)):
        raise ValueError(f"categorical column {name!r}: row {row}: {v!r} is not a 32-bit id (hex_ids)")
    return value


def categorical_ids(values, name, hex_ids=False):
    """One categorical column -> int64 32-bit ids, -1 = missing (each distinct value hashed once)."""
    values = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) or values.dtype.kind != "O" \
        else values
    if hex_ids:
        return np.array([_hex_id(v, name, i) for i, v in enumerate(values)], dtype=np.int64)
    uniques = {}
    codes = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        text = value_text(v)
        codes[i] = uniques.setdefault(text, len(uniques))
    table = _text_ids(list(uniques))
    return table[codes] if len(values) else np.zeros(0, dtype=np.int64)


def bag_lists(values, name, separator, max_length, overlong):
    """One multi-hot column -> (lengths int64 [n], ids int64 [total]): list-valued cells, or strings
    split at `separator` ("" or missing = an empty list; an empty item is refused, as the reader
    refuses "a||b"); lists longer than max_length cut to their first max_length ids, or refused."""
    lengths = np.zeros(len(values), dtype=np.int64)
    texts = []
    for i, v in enumerate(values):
        if isinstance(v, (str, bytes)):
            v = v.decode("utf-8") if isinstance(v, bytes) else v
            items = v.split(separator) if v else []
        elif isinstance(v, (list, tuple, np.ndarray)):
            items = [value_text(item) for item in v]
        elif _is_missing(v):
            items = []
        else:
            raise ValueError(f"multi_hot column {name!r}: row {i}: expected a list or a string of items separated "
                             f"by {separator!r}, got {type(v).__name__}")
        if any(item is None or item == "" for item in items):
            raise ValueError(f"multi_hot column {name!r}: row {i}: an empty or missing item in {v!r}")
        if len(items) > max_length:
            if overlong == "refuse":
                raise ValueError(f"multi_hot column {name!r}: row {i}: {len(items)} items, more than max_length "
                                 f"{max_length}")
            items = items[:max_length]
        lengths[i] = len(items)
        texts.extend(items)
    return lengths, _text_ids(texts) if texts else np.zeros(0, dtype=np.int64)


def frame_columns(frame):
    """(names, getter) of a DataFrame, a dict of name -> sequence, or a 2-D array (names "0".."k-1")."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(frame, pd.DataFrame):
        names = [str(c) for c in frame.columns]
        if len(set(names)) != len(names):
            raise ValueError("data: the DataFrame's column names are not unique")
        by_name = dict(zip(names, frame.columns))
        return names, lambda name: frame[by_name[name]], len(frame)
    if isinstance(frame, dict):
        names = [str(c) for c in frame]
        by_name = dict(zip(names, frame))
        lengths = {len(v) for v in frame.values()}
        if len(lengths) > 1:
            raise ValueError("data: the columns of the dict have different lengths")
        return names, lambda name: frame[by_name[name]], lengths.pop() if lengths else 0
    array = np.asarray(frame)
    if array.ndim != 2:
        raise ValueError(f"data: expected a DataFrame, a dict of columns or a 2-D array, got shape {array.shape}")
    names = [str(j) for j in range(array.shape[1])]
    return names, lambda name: array[:, int(name)], array.shape[0]


def infer_kinds(names, get):
    """Kinds of columns by their values (no feature keyword given): numbers -> numeric, lists ->
    multi_hot, anything else (strings, categories, booleans) -> categorical."""
    kinds = {}
    for name in names:
        column = get(name)
        dtype = getattr(column, "dtype", None)
        if dtype is None:
            column = np.asarray(column, dtype=object)
            dtype = np.asarray(list(column)).dtype if len(column) and not any(
                isinstance(v, (list, tuple, np.ndarray)) for v in column) else column.dtype
        kind = getattr(dtype, "kind", "O")
        if kind in "iuf" and str(dtype) != "category":
            kinds[name] = "numeric"
        elif kind == "O" and any(isinstance(v, (list, tuple, np.ndarray)) for v in np.asarray(column, dtype=object)):
            kinds[name] = "multi_hot"
        else:
            kinds[name] = "categorical"
    return kinds


def numeric_values(column, name):
    try:
        if hasattr(column, "to_numpy"):
            return column.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray([np.nan if _is_missing(v) else v for v in column] if np.asarray(column).dtype.kind == "O"
                          else column, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"numeric column {name!r}: expected numbers (NaN = missing): {e}") from None


def label_values(column, name):
    values = numeric_values(column, name)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"label column {name!r}: row {row}: expected 0 or 1, got {values[row]!r}")
    return values.astype(np.float32)


def columns_for(schema, names, get, rows):
    """The arrays of _Data.from_columns for the rows of a frame read with `schema` (a dict): columns
    taken by name; the label column may be absent (labels None: all 0, for prediction)."""
    columns = schema["columns"]
    hex_ids = schema.get("hex_ids", True)
    overlong = schema.get("overlong", "cut")
    for c in columns:
        if c["kind"] not in ("label", "ignore") and c["name"] not in names:
            raise ValueError(f"data: no column named {c['name']!r} (the schema's {c['kind']} column)")
    labels = None
    numeric, categorical, lengths, ids = [], [], [], []
    for c in columns:
        name, kind = c["name"], c["kind"]
        if kind == "label" and name in names:
            labels = label_values(get(name), name)
        elif kind == "numeric":
            numeric.append(numeric_values(get(name), name))
        elif kind == "categorical":
            categorical.append(categorical_ids(get(name), name, hex_ids))
        elif kind == "multi_hot":
            n, i = bag_lists(get(name), name, c.get("separator", ","), int(c.get("max_length", 0)) or DEFAULT_MAX_LENGTH,
                             overlong)
            lengths.append(n)
            ids.append(i)
    numeric = np.column_stack(numeric) if numeric else np.zeros((rows, 0))
    categorical = np.column_stack(categorical) if categorical else np.zeros((rows, 0), dtype=np.int64)
    if lengths:
        per_cell = np.column_stack(lengths).reshape(-1)  # row-major: row i, feature m
        offsets = np.concatenate([[0], np.cumsum(per_cell)]).astype(np.int64)
        # ids of each feature are in row order; the DataView wants row-major (row, feature) order
        starts = [np.concatenate([[0], np.cumsum(n)]) for n in lengths]
        ordered = [ids[m][starts[m][i]:starts[m][i + 1]] for i in range(rows) for m in range(len(lengths))]
        bag_ids = np.concatenate(ordered).astype(np.int64) if ordered else np.zeros(0, dtype=np.int64)
    else:
        offsets = np.zeros(1, dtype=np.int64)
        bag_ids = np.zeros(0, dtype=np.int64)
    return labels, numeric, categorical, offsets, bag_ids
