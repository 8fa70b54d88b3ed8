"""The low-level API: Dataset, train, Model, load, generate, plot_metrics (mirrors
`shadowsync train/eval/predict/gen/plot`)."""

import json
import os
import shutil
import sys
import tempfile
import warnings
import weakref

import numpy as np

from . import _schema, _shadowsync

# The run option table of the library (shared with `shadowsync train`): one dict per option with
# name, type, layer, front_ends ("cli", "python", "mpi"), default, expected and help.
RUN_OPTIONS = tuple(_shadowsync._run_options())
_BY_NAME = {o["name"]: o for o in RUN_OPTIONS}
# The keyword options of train(), named as the CLI's flags (--threads-per-group ->
# threads_per_group); data and eval_data are its arguments.
TRAIN_OPTIONS = tuple(o["name"] for o in RUN_OPTIONS
                      if "python" in o["front_ends"] and o["name"] not in ("data", "eval_data"))
# Options about reading the data (used when `data` is a path).
_DATA_OPTIONS = tuple(o["name"] for o in RUN_OPTIONS if o["layer"] == "data" and o["name"] in TRAIN_OPTIONS
                      and o["name"] != "eval_fraction")
_METRICS_EVENTS = ("progress", "eval", "final")
# The keywords that state the columns of text files (the command line's --header, --label, ...,
# read by SchemaRequest, not options of a run): Dataset's and, when data is a path, train()'s.
SCHEMA_OPTIONS = ("header", "label", "numeric", "categorical", "multi_hot", "ignore", "hex_ids", "schema")
# Criteo's layout (the default schema) in its JSON form.
_CRITEO_SCHEMA = json.loads(_shadowsync._criteo_schema())


def _check_hash_salt(value):
    """hash_salt= as the engine takes it: an integer in [0, 2^64 - 1] (ValueError otherwise)."""
    return _shadowsync._check_option("hash_salt", value)


def _check_rows_per_table(value):
    """rows_per_table= as one size, checked by the table as train() checks it; 26 sizes (a list,
    tuple or array) are checked one by one when the data is read."""
    if value is None or isinstance(value, (list, tuple, np.ndarray)):
        return value
    return _shadowsync._check_option("rows_per_table", value)


def _not_offered(name):
    """The TypeError for a keyword train() does not take; options of the command line only say so."""
    option = _BY_NAME.get(name)
    message = f"train() got an unexpected keyword argument {name!r}"
    if option is None:
        return TypeError(message)
    if option["layer"] == "hosts":
        return TypeError(f"{message}: {name}= sets the sync across the processes of a run under mpirun, which "
                         f"only the command line starts (mpirun ... shadowsync train --{name.replace('_', '-')})")
    return TypeError(f"{message}: {name}= is an option of the command line only "
                     f"(shadowsync train --{name.replace('_', '-')})")


class Dataset:
    """Examples the engine trains on, evaluates and predicts.

    Dataset(path, rows_per_table=None, hash_salt=0, strict=False, delimiter="\t")
        A Criteo TSV or a binary cache (from `shadowsync convert`), read by the same data
        library as the CLI, with the CLI's hashing rule: rows_per_table/hash_salt when given,
        else a cache's own hashing, else (text files) tables sized to the data: twice the rows
        each table uses at 131072 rows, as a power of two, at most 131072; standard input and
        FIFOs keep 131072. OSError for a file that
        cannot be read or is not valid. rows_per_table: an integer (every table) or 26 integers
        (one per table, as caches converted with `--table-rows-from` have).
        `path` may be a list of paths (e.g. one cache per day): their rows in that order, as
        `shadowsync train --data a.bin b.bin` reads them: caches stay memory-mapped and are not
        joined (the hashing rule applies to the first; the others must match it). Training,
        evaluate and predict read the files in place; the labels / numeric / categorical arrays
        of several files are one copy that joins them, made when first asked for.
        delimiter: the byte between the fields of text files ("\t", also "tab"; or "," for CSV).

    Dataset(path, ..., schema=None, header=None, label=None, numeric=None, categorical=None,
            multi_hot=None, ignore=None)
        Text files of any column layout (a click log other than Criteo's): name every column's
        kind with the keywords, or give schema= (a dict or the path of a JSON schema file, the
        form Dataset.schema returns). header=True: line 1 of every file names the columns (read
        from the first file, checked against the others by the reader); without it columns are
        named by position "0", "1", ... and the keywords may give positions (label=0).
        label: the 0/1 column. numeric: names (log1p of integer counts, Criteo's transform) or a
        dict name -> "log1p" | "identity" (decimal numbers, negative too, stored as they are).
        categorical: names; values are any text, hashed by the reader's string hash.
        multi_hot: names (items separated by ","), or a dict name -> separator ("|") or name ->
        {"separator", "max_length", "pooling"}. ignore: columns read past. Every column must be
        given one kind (ValueError naming those left out).

    Dataset.from_frame(frame, label=None, numeric=None, categorical=None, multi_hot=None,
                       ignore=None, schema=None, rows_per_table=None, hash_salt=0)
    Dataset(frame, label=..., ...)
        Rows of any schema from a pandas DataFrame, a dict of name -> column, or a 2-D NumPy
        array (columns named "0", "1", ...), with the keywords above, giving the rows the reader
        gives for the same data written as a delimited file: categorical values of any type are
        hashed as their text (strings as they are, integers in decimal, floats as repr: 3.0,
        True/False) with the reader's string hash (string_id); None, NaN, pd.NA and "" are
        missing. A multi-hot column holds lists (tuples, arrays) of such values, or strings of
        items joined by the column's separator; a missing cell or "" is an empty list, an empty
        item ("a||b") a ValueError, a list longer than max_length (default 64) cut to its first
        max_length items (schema "overlong": "refuse": a ValueError). Without numeric=,
        categorical= and multi_hot=, kinds follow the columns: numbers numeric (log1p), lists
        multi-hot, anything else categorical. label=None: every label 0 (rows to predict); with
        schema= the columns are taken by name and the label column may be absent.
        Tables are sized to the data as for files when rows_per_table is None (pass the model's
        rows_per_table and hash_salt to predict with a trained model). ValueError names the
        column, row and value of a bad cell.

    Dataset.from_arrays(numeric, categorical, labels=None, rows_per_table=None, hash_salt=0,
                        hashed=False)
        numeric: float array (n, 13) of raw integer features, NaN = missing; transformed as the
            parser does (log(1 + max(x, 0))) in one pass, whatever the layout (the one copy).
        categorical: array (n, 26) of raw categorical ids, the 32-bit values the TSV writes in
            hex; hashed with the CLI's hash and salt (one copy), into tables sized to these ids
            as for a text file when rows_per_table is None (pass the model's rows_per_table and
            hash_salt to predict with a trained model). One rule for every
            dtype (any integer dtype, float32, float64): an id is a whole number in
            0 .. 2^32 - 1; negative or NaN = missing; anything else (above 2^32 - 1, infinite,
            a fraction) raises ValueError naming the column, the first bad row and its value.
            With hashed=True they are already table rows (0 = missing; integer dtypes) and a
            C-contiguous uint32 array is used without a copy.
        labels: (n,) of 0/1 (float32 C-contiguous: used without a copy), or None (all 0: for
            predict).
        Arrays used in place are kept alive by the Dataset. ValueError names the argument and
        what was expected. (Criteo's layout: 13 numeric, 26 categorical columns.)

    numeric (n, N) and categorical (n, S) are the schema's widths; multi-hot lists are bag_offsets
    and bag_ids (see their docstrings).
    """

    def __init__(self, path, rows_per_table=None, hash_salt=0, strict=False, delimiter="\t", *, schema=None,
                 header=None, label=None, numeric=None, categorical=None, multi_hot=None, ignore=None, hex_ids=None):
        keywords = dict(label=label, numeric=numeric, categorical=categorical, multi_hot=multi_hot, ignore=ignore)
        if not isinstance(path, (str, bytes, os.PathLike, list, tuple)):
            if strict or delimiter != "\t":
                raise ValueError("strict=, delimiter=: apply to files, not to a DataFrame or arrays")
            if header is not None or hex_ids is not None:
                raise ValueError("header=, hex_ids=: apply to files; a DataFrame names its own columns and values")
            frame = Dataset.from_frame(path, schema=schema, rows_per_table=rows_per_table, hash_salt=hash_salt,
                                       **keywords)
            self._data = frame._data
            return
        if isinstance(path, (list, tuple)):
            paths = [os.fsdecode(p) for p in path]
            if not paths:
                raise ValueError("path: expected a path or a non-empty list of paths, got an empty list")
        else:
            paths = [os.fsdecode(path)]
        delimiter = _shadowsync._check_option("delimiter", delimiter)
        schema = _file_schema(paths, delimiter, schema, header, keywords, hex_ids)
        args = (paths, _check_rows_per_table(rows_per_table), _check_hash_salt(hash_salt),
                _shadowsync._check_option("strict", strict))
        if schema is None:
            self._data = _shadowsync._Data.from_paths(*args, delimiter=delimiter)
        else:
            self._data = _shadowsync._Data.from_paths_with_schema(*args, False, delimiter, json.dumps(schema))

    @classmethod
    def from_frame(cls, frame, label=None, numeric=None, categorical=None, multi_hot=None, ignore=None, schema=None,
                   rows_per_table=None, hash_salt=0):
        self = cls.__new__(cls)
        names, get, rows = _schema.frame_columns(frame)
        keywords = dict(label=label, numeric=numeric, categorical=categorical, multi_hot=multi_hot, ignore=ignore)
        if schema is not None:
            if any(v is not None for v in keywords.values()):
                raise ValueError("schema=: give either a schema or the column keywords (label=, numeric=, ...), not both")
            schema = _schema.read_schema_argument(schema)
        else:
            infer = None
            if all(keywords[k] is None for k in ("numeric", "categorical", "multi_hot")):
                label_name = None if label is None else _schema._name_of(label, names, "label")
                ignored = {_schema._name_of(c, names, "ignore") for c in _schema._as_list(ignore, "ignore")}
                infer = _schema.infer_kinds([n for n in names if n != label_name and n not in ignored], get)
            stated = names
            if label is None:  # rows to predict: a label column the frame does not have (all 0)
                keywords["label"] = next(n for n in ("label", "_label", "__label__") if n not in names)
                stated = names + [keywords["label"]]
            schema = _schema.schema_from_keywords(stated, infer=infer, **keywords)
        labels, numeric_, categorical_, offsets, ids = _schema.columns_for(schema, names, get, rows)
        self._data = _shadowsync._Data.from_columns(json.dumps(schema), labels, numeric_, categorical_, offsets, ids,
                                                    _check_rows_per_table(rows_per_table), _check_hash_salt(hash_salt))
        return self

    @classmethod
    def from_arrays(cls, numeric, categorical, labels=None, rows_per_table=None, hash_salt=0, hashed=False):
        self = cls.__new__(cls)
        self._data = _shadowsync._Data.from_arrays(numeric, categorical, labels, _check_rows_per_table(rows_per_table),
                                                   _check_hash_salt(hash_salt), hashed)
        return self

    def __len__(self):
        return self._data.rows

    def __repr__(self):
        return f"<shadowsync.Dataset {self._data.source!r}: {self._data.rows} rows>"

    @property
    def labels(self):
        """Labels as the engine reads them: float32 (n,), read-only view."""
        return self._data.labels

    @property
    def numeric(self):
        """Numeric features as the engine reads them (transformed): float32 (n, 13), read-only view."""
        return self._data.numeric

    @property
    def categorical(self):
        """Embedding-table rows (hashed, 0 = missing): uint32 (n, 26), read-only view."""
        return self._data.categorical

    @property
    def schema(self):
        """The columns the rows were read with, as a dict (the JSON form of a schema file)."""
        return json.loads(self._data.schema)

    @property
    def bag_offsets(self):
        """Multi-hot lists: uint64 (n * M + 1,) offsets into bag_ids, row-major (row i, feature m:
        bag_ids[bag_offsets[i * M + m]:bag_offsets[i * M + m + 1]]); a copy."""
        return self._data.bag_offsets

    @property
    def bag_ids(self):
        """Multi-hot lists: the embedding-table rows of every list (hashed, >= 1), uint32; a copy."""
        return self._data.bag_ids

    @property
    def rows_per_table(self):
        return self._data.rows_per_table

    @property
    def hash_salt(self):
        return self._data.hash_salt

    def model_inputs(self):
        """The rows as the inputs of an exported model (docs/serving.md; Model.to_torch(), ONNX):
        a dict name -> NumPy array. "numeric": float32 (n, N), the values as read (expm1 of the
        stored value for log1p columns, so a negative count reads 0; the stored value for identity
        columns); "categorical": int64 (n, S), the table rows (0 = missing); per multi-hot column
        m, "multi_hot_<m>": int64 (n, L_m), its list's table rows padded with 0 to the longest
        list (L_m >= 1), and "multi_hot_<m>_length": int64 (n,). An input of width 0 is absent."""
        return _serving_inputs(self.schema, len(self), self.numeric, self.categorical, self.bag_offsets, self.bag_ids)


def _serving_inputs(schema, rows, numeric, categorical, bag_offsets, bag_ids):
    """Dataset.model_inputs() of stored columns: vectorized, one pass per column kind."""
    columns = schema["columns"]
    log1p = np.array([c.get("transform", "log1p") == "log1p" for c in columns if c["kind"] == "numeric"], dtype=bool)
    multi_hot = sum(1 for c in columns if c["kind"] == "multi_hot")
    inputs = {}
    if log1p.size:
        values = np.array(numeric, dtype=np.float32)  # a copy: the stored values stay as they are
        values[:, log1p] = np.expm1(values[:, log1p].astype(np.float64))
        inputs["numeric"] = values
    categorical = np.asarray(categorical)
    if categorical.ndim == 2 and categorical.shape[1]:
        inputs["categorical"] = categorical.astype(np.int64)
    if multi_hot:
        offsets = np.asarray(bag_offsets, dtype=np.int64)
        ids = np.asarray(bag_ids, dtype=np.int64)
        starts = offsets[:-1].reshape(rows, multi_hot)
        lengths = np.diff(offsets).reshape(rows, multi_hot)
        for m in range(multi_hot):
            length = lengths[:, m]
            width = max(int(length.max(initial=0)), 1)
            position = np.arange(width, dtype=np.int64)[None, :]
            inside = position < length[:, None]
            index = np.where(inside, starts[:, m, None] + position, 0)
            padded = ids[index] if ids.size else np.zeros(index.shape, dtype=np.int64)
            inputs[f"multi_hot_{m}"] = np.where(inside, padded, 0).astype(np.int64)
            inputs[f"multi_hot_{m}_length"] = length.astype(np.int64)
    return inputs


def _file_schema(paths, delimiter, schema, header, keywords, hex_ids=None):
    """The schema dict of files from schema= or the column keywords (the CLI's SchemaRequest); None
    for Criteo's layout (nothing stated)."""
    if schema is not None and not isinstance(schema, dict):
        if not isinstance(schema, (str, bytes, os.PathLike)):
            raise TypeError(f"schema: expected a dict or the path of a JSON file, got {type(schema).__name__}")
        return _schema.file_schema(paths, delimiter, header, keywords, hex_ids, schema_file=os.fsdecode(schema))
    if schema is not None:
        if any(v is not None for v in keywords.values()) or header is not None or hex_ids is not None:
            raise ValueError("schema=: a schema states every column and rule; header=, label=, numeric=, "
                             "categorical=, multi_hot=, ignore= cannot be given with it")
        return schema
    if all(v is None for v in keywords.values()) and not header and hex_ids is None:
        return None
    return _schema.file_schema(paths, delimiter, header, keywords, hex_ids)


def _as_dataset(data, name, options=None):
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (str, bytes, os.PathLike)) or (
            isinstance(data, (list, tuple)) and data and all(isinstance(p, (str, bytes, os.PathLike)) for p in data)):
        return Dataset(data, **(options or {}))
    raise TypeError(f"{name}: expected a shadowsync.Dataset, a path or a list of paths, got {type(data).__name__}")


class Model:
    """A trained model: the mean of the replicas and the embedding tables of a checkpoint.

    The model keeps its own copy of the checkpoint (in a private temporary folder), so save()
    and pickling give exactly the file the engine wrote, which `shadowsync eval/predict` and
    `shadowsync train --resume` read.
    """

    def __init__(self, checkpoint_path, result=None):
        self._open(os.fspath(checkpoint_path))
        self.result = result or {}

    def _open(self, checkpoint_path):
        # The private folder goes when the Model does (or at interpreter exit), silently:
        # weakref.finalize, not TemporaryDirectory (whose implicit cleanup warns).
        folder = tempfile.mkdtemp(prefix="shadowsync-model-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        self._path = os.path.join(folder, "model.ckpt")
        if os.path.isdir(checkpoint_path):
            raise IsADirectoryError(21, "checkpoint: is a directory, not a checkpoint file", checkpoint_path)
        shutil.copyfile(checkpoint_path, self._path)  # FileNotFoundError, PermissionError: the caller's path
        try:
            self._model = _shadowsync._TrainedModel.load(self._path)
        except OSError as e:  # name the caller's file, not the private copy
            raise OSError(str(e).replace(self._path, checkpoint_path)) from None

    @classmethod
    def _from_bytes(cls, data):
        self = cls.__new__(cls)
        self._open_bytes(data)
        self.result = {}
        return self

    def _open_bytes(self, data):
        with tempfile.TemporaryDirectory(prefix="shadowsync-load-") as folder:
            path = os.path.join(folder, "model.ckpt")
            with open(path, "wb") as f:
                f.write(data)
            self._open(path)

    def __repr__(self):
        return f"<shadowsync.Model trained on {self.examples_trained} examples>"

    @property
    def examples_trained(self):
        return self._model.examples_trained

    @property
    def init_chain(self):
        """The checkpoints this model was started from (train(init_from=)), oldest first: dicts of
        path, examples_trained, checksum (of the checkpoint's contents) and data_fingerprint; []
        for a model trained from its seed."""
        return self._model.init_chain

    @property
    def rows_per_table(self):
        return self._model.rows_per_table

    @property
    def hash_salt(self):
        return self._model.hash_salt

    @property
    def schema(self):
        """The columns the model reads, as a dict (the JSON form of a schema file)."""
        return json.loads(self._model.schema)

    @property
    def config(self):
        """The architecture as a dict (the JSON form of a model file: bottom, top, embedding_dim,
        interaction, hashing, schema)."""
        return json.loads(_shadowsync._model_config(self._model))

    def named_parameters(self):
        """The model's tensors by the names exported models give them (bottom.<l>.weight/bias,
        embedding.<t>.weight, top.<l>.weight/bias): dict name -> float32 array, copies."""
        return _shadowsync._model_parameters(self._model)

    def to_torch(self):
        """The model as a torch.nn.Module (needs PyTorch): forward(inputs) takes the dict of
        Dataset.model_inputs() as tensors and returns the click probabilities (docs/serving.md)."""
        from ._torch import to_torch
        return to_torch(self)

    def _schema_keyword(self):
        schema = self.schema
        return {} if schema == _CRITEO_SCHEMA else {"schema": schema}

    def _dataset(self, data):
        # A path is read with the model's own hashing and schema.
        if isinstance(data, (str, bytes, os.PathLike, list, tuple)):
            return Dataset(data, rows_per_table=list(self.rows_per_table), hash_salt=self.hash_salt,
                           **self._schema_keyword())
        return _as_dataset(data, "data")

    def evaluate(self, data):
        """Quality on `data` (Dataset or path): dict of examples, ne, logloss, auc, calibration.
        ne and auc are NaN (undefined) when the rows are all of one class."""
        return self._model.evaluate(self._dataset(data)._data)

    def _predict_data(self, data, bad_rows):
        # A path gives one row per data line, as `shadowsync predict` does: a bad line is refused
        # (OSError naming file and line) or, with bad_rows="nan", keeps its place (given NaN).
        if bad_rows not in ("refuse", "nan"):
            raise ValueError(f"bad_rows: expected 'refuse' or 'nan', got {bad_rows!r}")
        if not isinstance(data, (str, bytes, os.PathLike, list, tuple)):
            return _as_dataset(data, "data")._data
        paths = [os.fsdecode(p) for p in data] if isinstance(data, (list, tuple)) else [os.fsdecode(data)]
        if not paths:
            raise ValueError("data: expected a path or a non-empty list of paths, got an empty list")
        schema = self._schema_keyword()
        if schema:
            return _shadowsync._Data.from_paths_with_schema(paths, list(self.rows_per_table), self.hash_salt,
                                                            bad_rows == "refuse", bad_rows == "nan", "\t",
                                                            json.dumps(schema["schema"]))
        return _shadowsync._Data.from_paths(paths, list(self.rows_per_table), self.hash_salt,
                                            strict=bad_rows == "refuse", keep_bad_lines=bad_rows == "nan")

    def predict_logits(self, data, bad_rows="refuse"):
        """Logits of every row of `data` (Dataset or path), float32 (n,); see predict()."""
        d = self._predict_data(data, bad_rows)
        logits = self._model.predict_logits(d)
        if bad_rows == "nan" and len(d.bad_rows):
            logits[d.bad_rows] = np.nan
        return logits

    def predict(self, data, bad_rows="refuse"):
        """Click probabilities of every row of `data` (Dataset or path), float32 (n,).

        A path (or list of paths) gives exactly one value per data line, in order (a header line
        and empty lines at the end are not data lines): a bad line raises OSError naming the file
        and line, or with bad_rows="nan" gives NaN in its place.
        """
        logits = self.predict_logits(data, bad_rows).astype(np.float64)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def to_bytes(self):
        """The checkpoint file's bytes."""
        with open(self._path, "rb") as f:
            return f.read()

    def save(self, path):
        """Writes the checkpoint to `path` atomically (temporary file, fsync, rename)."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".shadowsync-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out, open(self._path, "rb") as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def to_onnx(self, path, opset=13, external_data_threshold=None):
        """Writes the model as ONNX to `path` (ending in .onnx) and its serving description to
        <stem>.serving.json beside it: inputs numeric (raw values), categorical (hashed rows),
        multi_hot_<m> + multi_hot_<m>_length, output probability (as `shadowsync export`).
        Initializers of at least external_data_threshold bytes go to <path>.data (default: only
        for models over 1 GiB). Returns a dict of the files written and the input names.
        ValueError for a bad path or opset (nothing written), OSError when writing fails."""
        return _shadowsync._export_onnx(self._model, os.fspath(path), opset, external_data_threshold)

    def __getstate__(self):
        return {"checkpoint": self.to_bytes(), "result": self.result}

    def __setstate__(self, state):
        self._open_bytes(state["checkpoint"])
        self.result = state.get("result", {})


def load(path):
    """Reads a checkpoint written by `shadowsync train` or Model.save. OSError when it cannot:
    FileNotFoundError (no such file), IsADirectoryError, PermissionError (unreadable), OSError
    naming the file for one that is not a valid checkpoint."""
    return Model(os.fspath(path))


def _event_sink(callback, verbose):
    def sink(event):
        kind = event.get("event")
        if kind == "warning":
            warnings.warn(event["message"], RuntimeWarning, stacklevel=2)
            return
        if verbose:
            _print_event(event)
        if callback is not None and kind in _METRICS_EVENTS:
            callback(event)
    return sink


def _print_event(event):
    kind = event["event"]
    if kind == "progress":
        print(f"{event['examples']} examples, {event['examples_per_second']:.0f} examples/s, "
              f"running logloss {event.get('running_logloss', float('nan')):.5f}", file=sys.stderr)
    elif kind in ("eval", "final") and event.get("eval"):
        print(f"{kind} at {event['examples']} examples: {_quality_text(event['eval'])}", file=sys.stderr)
    elif kind == "checkpoint":
        print(f"checkpoint at {event['examples']} examples: {event['path']}", file=sys.stderr)
    elif kind in ("pacing", "warmup"):
        print(event["message"], file=sys.stderr)


def _defined(value):
    return value is not None and value == value  # null in a metrics line, NaN from evaluate()


def _quality_text(e):
    """The CLI's eval line: NE and AUC are undefined (null/NaN) when the rows are all of one class."""
    ne = f"NE {e['ne']:.5f}" if _defined(e.get("ne")) else "NE undefined (the evaluated rows are all of one class)"
    auc = f"AUC {e['auc']:.5f}" if _defined(e.get("auc")) else "AUC undefined"
    logloss = f"{e['logloss']:.5f}" if _defined(e.get("logloss")) else "undefined"
    calibration = f"{e['calibration']:.4f}" if _defined(e.get("calibration")) else "undefined"
    return f"{ne}  logloss {logloss}  {auc}  calibration {calibration}"


def train(data, eval_data=None, **options):
    """Trains a model, like `shadowsync train`, and returns a Model.

    data, eval_data: Dataset, path (TSV or cache) or list of paths (trained in order, e.g. one
        cache per day). Without eval_data the last eval_fraction
        (default 0.1, as the CLI; 0 = train on every row) of data is held out for evaluation;
        eval_fraction= given without eval_every= evaluates 8 times along the run (a curve), and
        a run of several epochs whose held-out NE rose again warns (UserWarning).
    options: the CLI's option names with underscores (TRAIN_OPTIONS; RUN_OPTIONS is the table
        they come from, with the command line's own options), listed below; rows_per_table,
        hash_salt, strict and delimiter apply when data is a path (rows_per_table may also be one
        integer per table), and so do the keywords that state the columns (SCHEMA_OPTIONS: header,
        label, numeric, categorical, multi_hot, ignore, hex_ids, schema; see Dataset); eval_data
        given as a path is read with the training data's schema. Each value is checked as `shadowsync train` checks it, with the
        same message (ValueError "batch= expects an integer in [1, 1048576], got 0"); None
        stands for the option's default.

    The GIL is released while training. Ctrl-C (KeyboardInterrupt) stops training at the next
    batch, writes the checkpoint if checkpoint= was given, and raises KeyboardInterrupt.
    Errors: ValueError (bad options or data, the message spells options as keywords: batch=),
    OSError (files), RuntimeError (a diverged run). The result dict of the run (final metrics
    line, checkpoint written, stopped_early) is Model.result.

    init_from: a Model or a checkpoint path to start from (the next day's training from the
        previous day's model): its weights, tables and optimizer state, on data of the same
        columns and hashing (a path given as data is read with the checkpoint's tables, salt and
        columns); model= defaults to the checkpoint's. Examples, epochs and the checkpoint's
        progress start anew; Model.init_chain of the result names the checkpoints it came from.
        ValueError for a checkpoint of other columns, hashing or model (naming the difference),
        OSError for a file that is not a checkpoint.
    """
    schema_options = {k: options.pop(k) for k in SCHEMA_OPTIONS if k in options and options[k] is not None}
    for key in options:
        if key not in TRAIN_OPTIONS and key not in SCHEMA_OPTIONS:
            raise _not_offered(key)
    options = {k: v for k, v in options.items() if v is not None}  # None: the option's default
    for key in ("checkpoint", "resume", "topology", "model"):
        if key in options and isinstance(options[key], os.PathLike):
            options[key] = os.fspath(options[key])
    init_model = None
    if "init_from" in options:  # a Model (its own copy of its checkpoint) or a checkpoint path
        source = options["init_from"]
        if isinstance(source, Model):
            init_model, options["init_from"] = source._model, source._path
        elif isinstance(source, (str, bytes, os.PathLike)):
            options["init_from"] = os.fsdecode(source)
        else:
            raise TypeError(f"init_from= expects a shadowsync.Model or a checkpoint path, got {type(source).__name__}")
    callback = options.pop("callback", None)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback= expects {_BY_NAME['callback']['expected']}, got {callback!r}")
    # Every value checked by the table before anything is read (the engine's options again by _train).
    for key, value in options.items():
        options[key] = _check_rows_per_table(value) if key == "rows_per_table" else _shadowsync._check_option(key, value)
    data_options = {k: options.pop(k) for k in _DATA_OPTIONS if k in options}
    if (data_options or schema_options) and isinstance(data, Dataset):
        names = ", ".join(f"{k}=" for k in [*data_options, *schema_options])
        raise ValueError(f"{names}: apply when data is a path; this Dataset is already read (give them to "
                         f"Dataset(...) instead)")
    verbose = options.pop("verbose", False)
    progress_seconds = options.pop("progress_seconds", 5.0)

    if "init_from" in options and not isinstance(data, Dataset):
        # Text read for a run started from a trained model: with its tables, salt and columns
        # unless they are given (a cache keeps its own; the trainer refuses any difference).
        if init_model is None:
            try:
                init_model = _shadowsync._TrainedModel.load(options["init_from"])
            except OSError as e:
                raise OSError(f"init_from=: {e}") from None
        if "rows_per_table" not in data_options and "hash_salt" not in data_options:
            data_options.update(rows_per_table=list(init_model.rows_per_table), hash_salt=init_model.hash_salt)
        checkpoint_schema = json.loads(init_model.schema)
        if not schema_options and checkpoint_schema != _CRITEO_SCHEMA:
            schema_options = {"schema": checkpoint_schema}
    train_set = _as_dataset(data, "data", {**data_options, **schema_options})
    eval_schema = {} if train_set.schema == _CRITEO_SCHEMA else {"schema": train_set.schema}
    eval_set = None if eval_data is None else _as_dataset(
        eval_data, "eval_data", {"rows_per_table": list(train_set.rows_per_table), "hash_salt": train_set.hash_salt,
                                 **eval_schema})

    # The run writes its final checkpoint where asked, else into a private folder: the Model is
    # read from that file (the one state save of the engine), so it is exactly what the CLI reads.
    with tempfile.TemporaryDirectory(prefix="shadowsync-train-") as folder:
        if not options.get("checkpoint"):
            options["checkpoint"] = os.path.join(folder, "final.ckpt")
        sink = _event_sink(callback, verbose)
        poll_s = 0.1
        next_progress = [float(progress_seconds)]

        def paced_sink(event):
            # Progress comes every poll_s (the Ctrl-C poll); forward it every progress_seconds.
            if event.get("event") == "progress":
                if not progress_seconds or event.get("elapsed_s", 0.0) < next_progress[0]:
                    return
                next_progress[0] = event.get("elapsed_s", 0.0) + float(progress_seconds)
            sink(event)

        result = _shadowsync._train(train_set._data, None if eval_set is None else eval_set._data, options,
                                    paced_sink, poll_s)
        rise = result.get("ne_rise")
        if rise is not None:
            warnings.warn(
                f"held-out NE rose from {rise['best_ne']:.5f} (at {rise['best_examples']} examples, epoch "
                f"{rise['best_epoch']}) to {rise['final_ne']:.5f} at the end: the epochs after "
                f"{rise['best_epoch']} overfit; epochs={rise['best_epoch']} stops near the best model",
                UserWarning, stacklevel=2)
        checkpoint = result["checkpoint"]
        if result["already_finished"]:
            checkpoint = options["resume"]
        if not checkpoint:
            raise RuntimeError("the run wrote no checkpoint")
        return Model(checkpoint, result)


def generate(path, rows=100000, seed=1):
    """Writes `rows` synthetic Criteo TSV lines to `path` (and its summary to path + '.json'),
    like `shadowsync gen`; returns the summary (positive_rate, teacher_logloss, teacher_ne)."""
    return _shadowsync._generate(os.fspath(path), int(rows), int(seed))


def plot_metrics(paths, out):
    """Draws the training curves of runs into the PNG `out`, like `shadowsync plot`: eval NE,
    training NE (running), eval AUC and throughput against examples trained, one
    line per run, labelled with its sync mode and group count.

    paths: a path or a list of paths of metrics JSON-lines files (`shadowsync train --metrics`,
        or the dicts of train(callback=) written one json.dumps per line).
    Needs gnuplot (Debian: gnuplot-nox). ValueError for a line that is not a metrics line
    (naming file:line), OSError for a file that cannot be read or written, RuntimeError when
    gnuplot is missing or fails. Returns `out`."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fsdecode(p) for p in paths]
    if not paths:
        raise ValueError("paths: expected a path or a non-empty list of paths, got an empty list")
    out = os.fsdecode(out)
    _shadowsync._plot_metrics(paths, out)
    return out


def _python_default(option):
    """An option's default as Python writes it (the table has the command line's text)."""
    text, kind = option["default"], option["type"]
    if option["name"] == "progress_seconds":
        return "5.0"
    if not text:
        return "None"
    if kind == "bool":
        return str(text == "true")
    if kind == "byte":
        return repr("\t") if text == "tab" else repr(text)
    if kind in ("int", "float") or (kind == "auto|int" and text != "auto"):
        return text
    return repr(text)


def _options_doc():
    """The keyword options of train(), from the run option table."""
    lines = ["", "    Keyword options (default; what a value must be):"]
    for option in RUN_OPTIONS:
        if option["name"] not in TRAIN_OPTIONS:
            continue
        lines.append(f"      {option['name']}={_python_default(option)} ({option['expected']}): {option['help']}")
    cli_only = [o["name"] for o in RUN_OPTIONS if "python" not in o["front_ends"]]
    lines.append(f"    Options of the command line only (TypeError here): {', '.join(cli_only)}.")
    return "\n".join(lines) + "\n"


train.__doc__ += _options_doc()

