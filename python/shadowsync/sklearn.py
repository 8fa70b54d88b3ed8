"""ShadowSyncClassifier: the shadowsync trainer as a scikit-learn estimator.

X: 39 columns, 13 numeric (raw integer features, NaN = missing) then 26 categorical ids (raw
32-bit ids: whole numbers 0 .. 2^32 - 1, negative or NaN = missing, the same rule for every dtype;
anything else raises ValueError naming the column, row and value; in a DataFrame also hex strings
as in the Criteo TSV and pandas nullable columns, pd.NA = missing),
as a NumPy array or a pandas DataFrame (columns named I1..I13, C1..C26 are taken by name,
otherwise by position). y: two classes (classes_[1] is the positive one, "click").
score() is ROC AUC (not accuracy): the quality measure of CTR models.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._api import Dataset, train

NUMERIC_COLUMNS = [f"I{i}" for i in range(1, 14)]
CATEGORICAL_COLUMNS = [f"C{i}" for i in range(1, 27)]


_MAX_ID = 2**32 - 1
_ID_RULE = "categorical ids are whole numbers 0 .. 2^32 - 1; negative or NaN = missing"


def _bad_id(index, row, value):
    raise ValueError(f"X: column {index}, row {row}: {value!r} is not a 32-bit categorical id ({_ID_RULE})")


def _is_missing(v):
    try:
        import pandas as pd
        if v is pd.NA or v is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    return v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)) or (isinstance(v, str) and v == "")


def _categorical_ids(column, index):
    """One categorical column of X (X's column `index`) as int64 ids, -1 = missing.

    One rule for every dtype (int64, uint64, float, pandas nullable, objects): a whole number in
    0 .. 2^32 - 1 is an id, negative or NaN (None, pd.NA) is missing, anything else raises
    ValueError naming the column, the first bad row and its value."""
    if hasattr(column, "dtype") and hasattr(column, "to_numpy") and getattr(column.dtype, "na_value", None) is not None \
            and column.dtype.kind in "iufb":
        # pandas nullable columns (Int64, UInt64, Float64, boolean): pd.NA is missing.
        if column.dtype.kind == "f":
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            na = column.isna().to_numpy()
            values = _categorical_ids(column.to_numpy(dtype=column.dtype.numpy_dtype, na_value=0), index)
            values[na] = -1
            return values
    else:
        values = np.asarray(column)
    if values.dtype.kind == "b":
        return values.astype(np.int64)
    if values.dtype.kind in "iu":
        too_big = values > _MAX_ID
        if np.any(too_big):
            row = int(np.argmax(too_big))
            _bad_id(index, row, values[row].item())
        return np.where(values < 0, -1, values).astype(np.int64) if values.dtype.kind == "i" \
            else values.astype(np.int64)
    if values.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            missing = np.isnan(values) | ((values < 0) & np.isfinite(values))
            bad = ~missing & ~((values <= _MAX_ID) & (values == np.floor(values)))
        if np.any(bad):
            row = int(np.argmax(bad))
            _bad_id(index, row, values[row].item())
        return np.where(missing, -1, values).astype(np.int64)
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if _is_missing(v):
            out[i] = -1
            continue
        if isinstance(v, str):
            try:
                v = int(v, 16)
            except ValueError:
                _bad_id(index, i, values[i])
        elif isinstance(v, (bool, np.bool_)):
            v = int(v)
        elif isinstance(v, (float, np.floating)):
            if not (np.isfinite(v) and v == np.floor(v)):
                _bad_id(index, i, values[i])
            v = int(v)
        else:
            try:
                v = int(v)
            except (TypeError, ValueError):
                _bad_id(index, i, values[i])
        if v > _MAX_ID:
            _bad_id(index, i, values[i])
        out[i] = -1 if v < 0 else v
    return out


def _numeric_column(column, index):
    """One numeric column of a DataFrame as float64, NaN = missing (pd.NA of nullable columns too)."""
    try:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as e:
        raise ValueError(f"X: column {index} ({column.name}): expected numbers (NaN or NA = missing): {e}") from None


def _split_features(X, estimator, fitting):
    """(numeric float32 (n, 13), categorical int64 (n, 26)) from a 39-column array or DataFrame."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        if X.shape[1] != 39:
            raise ValueError(f"X: expected 39 columns (13 numeric I1..I13, 26 categorical C1..C26), got {X.shape[1]}")
        names = [str(c) for c in X.columns]
        if fitting:
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        if set(NUMERIC_COLUMNS + CATEGORICAL_COLUMNS) <= set(names):
            numeric_frame, categorical_frame = X[NUMERIC_COLUMNS], X[CATEGORICAL_COLUMNS]
        else:
            numeric_frame, categorical_frame = X.iloc[:, :13], X.iloc[:, 13:]
        numeric = np.column_stack([_numeric_column(numeric_frame.iloc[:, j], names.index(str(numeric_frame.columns[j])))
                                   for j in range(13)]).astype(np.float32) \
            if len(X) else np.zeros((0, 13), dtype=np.float32)
        categorical = np.column_stack([_categorical_ids(categorical_frame.iloc[:, j],
                                                        names.index(str(categorical_frame.columns[j])))
                                       for j in range(26)]) \
            if len(X) else np.zeros((0, 26), dtype=np.int64)
        return numeric, categorical
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError("X: sparse matrices are not supported; give a dense array of 39 columns")
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError("X: Complex data not supported")
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array of 39 columns, got shape {X.shape}")
    if X.shape[1] != 39:
        raise ValueError(f"X: expected 39 columns (13 numeric, 26 categorical ids), got {X.shape[1]} feature(s)")
    if X.dtype.kind == "c":
        raise ValueError("X: Complex data not supported")
    if X.dtype.kind not in "iufb":
        raise ValueError(f"X: expected a numeric array, got dtype {X.dtype}")
    if X.dtype.kind == "f" and np.isinf(X[:, :13]).any():
        raise ValueError("X: contains infinity (NaN is a missing value)")
    numeric = np.ascontiguousarray(X[:, :13], dtype=np.float32)
    categorical = np.column_stack([_categorical_ids(X[:, 13 + j], 13 + j) for j in range(26)]) \
        if len(X) else np.zeros((0, 26), dtype=np.int64)
    return numeric, categorical


class ShadowSyncClassifier(ClassifierMixin, BaseEstimator):
    """CTR classifier trained by the shadowsync engine (DLRM model, ShadowSync).

    Parameters are the CLI's `shadowsync train` options (see shadowsync.train); `max_examples=0`
    and `lr=None`/`emb_lr=None` mean the engine's defaults. fit trains on every row (no held-out
    tail). score(X, y) is ROC AUC.
    """

    def __init__(self, model="small", sync="s-pa", groups="auto", threads_per_group="auto", batch=128, lr=None,
                 emb_lr=None, epochs=1, seed=1, sync_every=10, deterministic=False, rows_per_table=None,
                 hash_salt=0, max_examples=0, checkpoint=None, verbose=False):
        self.model = model
        self.sync = sync
        self.groups = groups
        self.threads_per_group = threads_per_group
        self.batch = batch
        self.lr = lr
        self.emb_lr = emb_lr
        self.epochs = epochs
        self.seed = seed
        self.sync_every = sync_every
        self.deterministic = deterministic
        self.rows_per_table = rows_per_table
        self.hash_salt = hash_salt
        self.max_examples = max_examples
        self.checkpoint = checkpoint
        self.verbose = verbose

    def _more_tags(self):
        return {"binary_only": True, "allow_nan": True, "requires_y": True,
                "_xfail_checks": {}}

    def _dataset(self, X, y=None, fitting=False):
        numeric, categorical = _split_features(X, self, fitting)
        labels = None
        if y is not None and len(y) != len(numeric):
            raise ValueError(f"y: expected {len(numeric)} labels like X, got {len(y)}")
        if y is not None:
            labels = (np.asarray(y) == self.classes_[1]).astype(np.float32)
        if fitting:
            # rows_per_table=None: tables sized to X's ids (Dataset.from_arrays).
            return Dataset.from_arrays(numeric, categorical, labels, rows_per_table=self.rows_per_table,
                                       hash_salt=self.hash_salt)
        # Predicting: X hashed as the fitted model's tables are.
        return Dataset.from_arrays(numeric, categorical, labels, rows_per_table=list(self.model_.rows_per_table),
                                   hash_salt=self.model_.hash_salt)

    def fit(self, X, y):
        """Trains on every row of X with labels y (two classes); returns self."""
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            raise TypeError("X: sparse matrices are not supported; give a dense array of 39 columns")
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if not hasattr(X, "iloc"):
            X = np.asarray(X)
        if hasattr(y, "isna") and hasattr(y, "to_numpy"):  # pandas: NA labels named, nullable dtypes
            na = np.asarray(y.isna()).reshape(-1)
            if na.any():
                raise ValueError(f"y: row {int(np.argmax(na))} is missing (NA); every row needs a label")
            numpy_dtype = getattr(getattr(y, "dtype", None), "numpy_dtype", None)
            y = y.to_numpy(dtype=numpy_dtype) if numpy_dtype is not None else y.to_numpy()
        y = np.asarray(y)
        if y.ndim != 1:
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.ravel()
            else:
                raise ValueError(f"y: expected shape (n,), got {y.shape}")
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) != 2:
            raise ValueError(f"y: expected two classes (binary CTR labels), got {len(classes)} class(es)")
        self.classes_ = classes
        data = self._dataset(X, y, fitting=True)
        self.n_features_in_ = 39
        options = dict(model=self.model, sync=self.sync, groups=self.groups, threads_per_group=self.threads_per_group,
                       batch=self.batch, epochs=self.epochs, seed=self.seed, sync_every=self.sync_every,
                       deterministic=self.deterministic, eval_fraction=0.0, verbose=bool(self.verbose))
        if self.lr is not None:
            options["lr"] = float(self.lr)
        if self.emb_lr is not None:
            options["emb_lr"] = float(self.emb_lr)
        if self.max_examples:
            options["max_examples"] = int(self.max_examples)
        if self.checkpoint:
            options["checkpoint"] = self.checkpoint
        self.model_ = train(data, **options)
        return self

    def predict_proba(self, X):
        """Probabilities of shape (n, 2): columns classes_[0], classes_[1]."""
        check_is_fitted(self, "model_")
        p = self.model_.predict(self._dataset(X)).astype(np.float64)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """classes_[1] where predict_proba(X)[:, 1] >= 0.5, else classes_[0]."""
        check_is_fitted(self, "model_")
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def decision_function(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict_logits(self._dataset(X)).astype(np.float64)

    def score(self, X, y, sample_weight=None):
        """ROC AUC of predict_proba(X)[:, 1] against y (not accuracy)."""
        y = np.asarray(y)
        return roc_auc_score(y == self.classes_[1], self.predict_proba(X)[:, 1], sample_weight=sample_weight)
