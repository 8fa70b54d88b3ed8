"""The reference hashing of a server: raw text rows -> the inputs of an exported model
(docs/serving.md), from the `schema` and `hashing` of `<stem>.serving.json` alone.

Pure Python and NumPy: this file imports nothing else of shadowsync, so a server may copy it on
its own. It follows include/shadowsync/data/feature_transform.hpp and the text reader
(src/data/line_parser.cpp) exactly:
  - an empty field is missing: numeric 0, categorical row 0, multi-hot an empty list;
  - log1p numeric columns read integers (int64), identity columns decimal numbers (finite,
    |x| < 1e30, not below the smallest double); the inputs hold the values as read (the model
    applies the transform);
  - categorical values and multi-hot items are 32-bit ids: hexadecimal (1 to 8 digits) when the
    schema's hex_ids is true, else string_id(text) = low 32 bits of F(FNV-1a-64(UTF-8 bytes));
  - row(t, v) = 1 + reduce_range(F(v XOR table_key(t, salt)), rows[t] - 1), table_key(t, s) =
    F(s XOR (t + 1) * 0x9E3779B97F4A7C15), F the splitmix64 finalizer, reduce_range the
    multiply-high of a 64-bit hash onto 0..n-1;
  - a multi-hot field is split at the column's separator; every item is read (an empty or bad
    item is refused, past max_length too); a list longer than max_length is cut to its first
    max_length ids ("overlong": "refuse": refused).
Bad values raise ValueError naming the row, the column and the value, where the reader refuses
the line.

    spec = serving.read_spec("model.serving.json")
    inputs = serving.model_inputs([{"I1": "3", "C1": "68fd1e64", ...}], spec["schema"], spec["hashing"])
"""

import json
import re

import numpy as np

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_INTEGER = re.compile(r"-?[0-9]+\Z")
_DECIMAL = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_HEX = re.compile(r"[0-9a-fA-F]+\Z")
_NOT_FINITE = re.compile(r"-?(inf|infinity|nan(\([0-9A-Za-z_]*\))?)\Z", re.IGNORECASE)
_NONZERO_MANTISSA = re.compile(r"-?[0-9.]*[1-9]")
_DEFAULT_MAX_LENGTH = 64


def read_spec(path):
    """The JSON written beside an exported model (`shadowsync export`: <stem>.serving.json)."""
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("format") != "shadowsync-serving":
        raise ValueError(f"{path}: not a shadowsync serving file (format {spec.get('format')!r})")
    return spec


def splitmix64_finalize(x):
    """The splitmix64 finalizer F of uint64 values (NumPy arrays or one Python int; wraps mod 2^64)."""
    x = np.asarray(x, dtype=_U64)
    with np.errstate(over="ignore"):
        x = x ^ (x >> _U64(30))
        x = x * _U64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> _U64(27))
        x = x * _U64(0x94D049BB133111EB)
        x = x ^ (x >> _U64(31))
    return x


def table_key(table, salt):
    """F(salt XOR (table + 1) * 0x9E3779B97F4A7C15)."""
    return int(splitmix64_finalize(salt ^ (((table + 1) * _GOLDEN) & _MASK64)))


def string_id(text):
    """The 32-bit id of a categorical string: low 32 bits of F(FNV-1a-64(its UTF-8 bytes))."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & _MASK64
    return int(splitmix64_finalize(h)) & 0xFFFFFFFF


def reduce_range(hashes, n):
    """floor(hash * n / 2^64) of uint64 hashes (multiply-high without a 128-bit type)."""
    hashes = np.asarray(hashes, dtype=_U64)
    n = _U64(n)
    with np.errstate(over="ignore"):
        lo = (hashes & _U64(0xFFFFFFFF)) * n
        hi = (hashes >> _U64(32)) * n
        return ((hi + (lo >> _U64(32))) >> _U64(32)).astype(np.int64)


def table_rows(table, values, rows, salt):
    """CategoryHasher::row: the embedding-table rows (1..rows-1) of 32-bit ids of table `table`."""
    values = np.asarray(values, dtype=_U64)
    return 1 + reduce_range(splitmix64_finalize(values ^ _U64(table_key(table, salt))), rows - 1)


class _Reader:
    """One schema's reading of fields (see the module's docstring)."""

    def __init__(self, schema, hashing):
        self.columns = schema["columns"]
        self.names = [c["name"] for c in self.columns]
        self.hex_ids = schema.get("hex_ids", True)
        self.refuse_overlong = schema.get("overlong", "cut") == "refuse"
        self.numeric = [c for c in self.columns if c["kind"] == "numeric"]
        self.categorical = [c for c in self.columns if c["kind"] == "categorical"]
        self.multi_hot = [c for c in self.columns if c["kind"] == "multi_hot"]
        tables = len(self.categorical) + len(self.multi_hot)
        rows = hashing.get("rows", 131072)
        self.rows = [int(rows)] * tables if isinstance(rows, int) else [int(r) for r in rows]
        if len(self.rows) != tables:
            raise ValueError(f"hashing.rows: {len(self.rows)} tables, the schema has {tables} "
                             f"(categorical and multi-hot columns)")
        if any(r < 2 for r in self.rows):
            raise ValueError(f"hashing.rows: every table needs at least 2 rows, got {self.rows}")
        self.salt = int(hashing.get("salt", 0))

    def fields(self, i, row):
        """Row `i` as a dict name -> text ('' = missing)."""
        if isinstance(row, dict):
            unknown = [k for k in row if k not in self.names]
            if unknown:
                raise ValueError(f"row {i}: unknown column {unknown[0]!r} (the schema's columns: "
                                 f"{', '.join(self.names)})")
            return {k: ("" if v is None else v) for k, v in row.items()}
        if isinstance(row, (str, bytes)):
            raise ValueError(f"row {i}: expected a dict column -> text or a list of fields, got a string "
                             f"(split a text line at its delimiter first)")
        row = list(row)
        if len(row) != len(self.names):
            raise ValueError(f"row {i}: wrong number of fields: {len(row)}, the schema has {len(self.names)}")
        return {name: ("" if v is None else v) for name, v in zip(self.names, row)}

    def number(self, i, column, text):
        text = _text(text)
        if text == "":
            return 0.0
        if column.get("transform", "log1p") == "log1p":
            if not _INTEGER.match(text):
                raise ValueError(f"row {i}: {column['name']}: {text!r} is not an integer")
            value = int(text)
            if not -(1 << 63) <= value < (1 << 63):
                raise ValueError(f"row {i}: {column['name']}: {text!r} does not fit in a 64-bit signed integer")
            return float(value)
        too_big = f"row {i}: {column['name']}: {text!r} is not a finite number below 1e30 in magnitude"
        if _NOT_FINITE.match(text):
            raise ValueError(too_big)
        if not _DECIMAL.match(text):
            raise ValueError(f"row {i}: {column['name']}: {text!r} is not a decimal number")
        value = float(text)
        if value == 0.0 and _NONZERO_MANTISSA.match(text):  # below the doubles: out of range, as from_chars
            raise ValueError(too_big)
        if not abs(value) < 1e30 or not abs(float(np.float32(value))) < 1e30:
            raise ValueError(too_big)
        return value

    def category(self, i, column, text):
        if not self.hex_ids:
            return string_id(text)
        if not _HEX.match(text):
            raise ValueError(f"row {i}: {column['name']}: {text!r} is not a hexadecimal value")
        if len(text) > 8:
            raise ValueError(f"row {i}: {column['name']}: {text!r} has {len(text)} hex digits, at most 8 allowed")
        return int(text, 16)

    def items(self, i, column, text):
        if text == "":
            return []
        separator = column.get("separator", ",")
        ids = []
        for item in text.split(separator):  # every item is read, also those past max_length
            if item == "":
                raise ValueError(f"row {i}: {column['name']}: {text!r} has an empty item")
            ids.append(self.category(i, column, item))
        max_length = int(column.get("max_length", _DEFAULT_MAX_LENGTH))
        if len(ids) > max_length and self.refuse_overlong:
            raise ValueError(f"row {i}: {column['name']}: list of {len(ids)} items is longer than its "
                             f"max_length {max_length}")
        return ids[:max_length]


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def model_inputs(rows, schema, hashing):
    """The inputs of an exported model for raw text rows, as Dataset.model_inputs() gives them for
    the same rows read from a file.

    rows: a list of dicts column name -> text (a column left out or None is missing; the label and
        ignored columns may be left out) or of lists of fields, one per schema column in order
        (the fields of a text line).
    schema: the FeatureSchema JSON (spec["schema"]); hashing: {"rows": [one per table] or one
        number, "salt": s} (spec["hashing"]).
    Returns a dict name -> NumPy array: "numeric" float32 (n, N) as read, "categorical" int64
    (n, S), "multi_hot_<m>" int64 (n, L_m) padded with 0, "multi_hot_<m>_length" int64 (n,);
    inputs of width 0 are absent."""
    reader = _Reader(schema, hashing)
    # Each row's fields in column order (its first bad field is the one reported, as the reader
    # reports a line's), then each table's ids hashed at once.
    numeric, ids, lists = [], [], []
    for i, row in enumerate(rows):
        fields = reader.fields(i, row)
        values, row_ids, row_lists = [], [], []
        for column in reader.columns:
            text = _text(fields.get(column["name"], ""))
            if column["kind"] == "numeric":
                values.append(reader.number(i, column, text))
            elif column["kind"] == "categorical":
                row_ids.append(reader.category(i, column, text) if text != "" else -1)
            elif column["kind"] == "multi_hot":
                row_lists.append(reader.items(i, column, text))
        numeric.append(values)
        ids.append(row_ids)
        lists.append(row_lists)
    n = len(numeric)
    inputs = {}
    if reader.numeric:
        inputs["numeric"] = np.array(numeric, dtype=np.float32).reshape(n, len(reader.numeric))
    if reader.categorical:
        values = np.array(ids, dtype=np.int64).reshape(n, len(reader.categorical))
        categorical = np.zeros(values.shape, dtype=np.int64)
        for t in range(values.shape[1]):
            present = values[:, t] >= 0
            categorical[present, t] = table_rows(t, values[present, t].astype(np.uint64), reader.rows[t], reader.salt)
        inputs["categorical"] = categorical
    first = len(reader.categorical)
    for m in range(len(reader.multi_hot)):
        lengths = np.array([len(row_lists[m]) for row_lists in lists], dtype=np.int64)
        padded = np.zeros((n, max(int(lengths.max(initial=0)), 1)), dtype=np.int64)
        inside = np.arange(padded.shape[1])[None, :] < lengths[:, None]
        flat = np.array([v for row_lists in lists for v in row_lists[m]], dtype=np.uint64)
        padded[inside] = table_rows(first + m, flat, reader.rows[first + m], reader.salt)
        inputs[f"multi_hot_{m}"] = padded
        inputs[f"multi_hot_{m}_length"] = lengths
    return inputs
