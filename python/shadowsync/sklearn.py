"""ShadowSyncClassifier: the shadowsync trainer as a scikit-learn estimator, for X of any width.

X: a NumPy array (every column numeric, unless categorical_features / multi_hot_features name
some by index) or a pandas DataFrame (columns of dtype category, object, string or bool are
categorical unless named otherwise; columns whose cells are lists are multi-hot). y: two classes
(classes_[1] is the positive one, "click").

Numeric columns: any real numbers (negative and decimal too; NaN = missing). They are read with
the Identity transform (not the log1p of Criteo's counts) and standardised with the mean and
standard deviation of the fit's X (a column of one value is only centred), so a missing value is
the column's mean, 0 after standardising.
Categorical values of any type are hashed as the C++ reader hashes string ids: the value's text
(strings as they are, integers in decimal, floats as repr, True/False) through string_id; None,
NaN, pd.NA and "" are missing. Multi-hot cells: lists of such values, or strings of items joined
by the column's separator (multi_hot_features={"tags": "|"}); a missing cell is an empty list.
score() is ROC AUC (not accuracy): the quality measure of CTR models.
"""

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from ._api import Dataset, train

# epochs="auto": passes enough for about this many examples (at most 1000 passes).
AUTO_EXAMPLES = 50_000
_LABEL = "__label__"


def _is_frame(X):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return False
    return isinstance(X, pd.DataFrame)


def _is_list_column(values):
    values = np.asarray(values, dtype=object)
    return len(values) > 0 and any(isinstance(v, (list, tuple, np.ndarray)) for v in values)


class ShadowSyncClassifier(ClassifierMixin, BaseEstimator):
    """CTR classifier trained by the shadowsync engine (DLRM model, ShadowSync), X of any width.

    categorical_features: indices (NumPy arrays) or names / indices (DataFrames) of the
        categorical columns. None: none for NumPy arrays; for a DataFrame its category, object,
        string and bool columns (those whose cells are lists are multi-hot).
    multi_hot_features: indices or names of multi-hot columns (cells are lists, or strings of
        items joined by ","), or a dict index/name -> separator.
    epochs: passes over X; "auto" passes enough for about 50,000 examples (at least 1, at most
        1000), so that small X are fitted well.
    Other parameters are the CLI's `shadowsync train` options (see shadowsync.train); lr=None /
    emb_lr=None mean the engine's defaults, max_examples=0 no limit. fit trains on every row (no
    held-out tail).

    Numeric features use the Identity transform (any real number, NaN = missing), standardised
    with the fit's mean and standard deviation (mean_, scale_); see the module's docstring.
    With deterministic=False (the default) two fits on the same data give different models (the
    engine's groups train in parallel); deterministic=True gives bit-identical fits.

    warm_start=True: fit continues from the previous fit's model (its weights, embedding tables
        and optimizer state; shadowsync.train(init_from=)) when X has the same columns (number,
        names and kinds) and y the same classes; the standardisation (mean_, scale_) and the
        tables' hashing stay the first fit's. Otherwise, and with warm_start=False, fit starts anew.
    partial_fit(X, y, classes=None): one pass over the rows of X continuing from the current model
        (the first call starts one, as fit does with epochs=1: its standardisation and tables are
        the first call's X's; give rows_per_table= when later rows bring many new values). classes:
        the two classes, needed on the first call when its y holds only one of them.
    Rows are predicted independently up to float32 rounding: one row at a time gives the batch's
    probabilities within 1e-7 (tested); logits (decision_function) differ by a few float32 ulps.
    """

    def __init__(self, categorical_features=None, multi_hot_features=None, model="small", sync="s-pa", groups="auto",
                 threads_per_group="auto", batch=128, lr=None, emb_lr=None, epochs="auto", seed=1, sync_every=10,
                 deterministic=False, rows_per_table=None, hash_salt=0, max_examples=0, checkpoint=None,
                 verbose=False, warm_start=False):
        self.categorical_features = categorical_features
        self.multi_hot_features = multi_hot_features
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
        self.warm_start = warm_start

    def _more_tags(self):
        return {"binary_only": True, "allow_nan": True, "requires_y": True,
                "non_deterministic": not self.deterministic,
                "_xfail_checks": {
                    "check_methods_subset_invariance":
                        "logits are float32 from batched matrix products, so a row's logit depends on the rows "
                        "predicted with it by a few float32 ulps (7e-7 measured), above the check's 1e-7"}}

    # -- X -> the columns of a Dataset --------------------------------------------------------

    def _kinds(self, names, columns, frame):
        """Kind of each column (numeric, categorical, multi_hot) and the multi-hot separators."""
        def position(key, what):
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                if not -len(names) <= int(key) < len(names):
                    raise ValueError(f"{what}: column index {int(key)} is out of range for X of {len(names)} columns")
                return int(key) % len(names)
            if str(key) not in names:
                raise ValueError(f"{what}: X has no column named {key!r}")
            return names.index(str(key))

        kinds = ["numeric"] * len(names)
        separators = {}
        multi = self.multi_hot_features
        if multi is not None:
            items = multi.items() if isinstance(multi, dict) else [(key, ",") for key in multi]
            for key, separator in items:
                j = position(key, "multi_hot_features")
                kinds[j] = "multi_hot"
                separators[j] = separator
        if self.categorical_features is not None:
            keys = self.categorical_features
            if isinstance(keys, np.ndarray) and keys.dtype == bool:
                keys = np.flatnonzero(keys)
            for key in keys:
                j = position(key, "categorical_features")
                if kinds[j] == "multi_hot":
                    raise ValueError(f"categorical_features: column {key!r} is also in multi_hot_features")
                kinds[j] = "categorical"
        elif frame:
            for j, column in enumerate(columns):
                if kinds[j] != "numeric":
                    continue
                kind = getattr(column.dtype, "kind", "O")
                if str(column.dtype) == "category" or kind not in "iuf":
                    if kind == "O" and _is_list_column(column):
                        kinds[j] = "multi_hot"
                        separators[j] = ","
                    else:
                        kinds[j] = "categorical"
        return kinds, separators

    def _columns(self, X, fitting):
        """X checked (shape, features of the fit) -> (names, list of columns)."""
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            raise TypeError("X: sparse matrices are not supported; give a dense array or a DataFrame")
        if _is_frame(X):
            self._check_feature_names(X, reset=fitting)
            if X.ndim != 2 or X.shape[0] == 0:
                raise ValueError(f"X: expected a non-empty 2-D table, got shape {X.shape}")
            if X.shape[1] == 0:
                raise ValueError("X: 0 feature(s) (shape=(n, 0)) while a minimum of 1 is required.")
            self._check_n_features(X, reset=fitting)
            return [str(c) for c in X.columns], [X.iloc[:, j] for j in range(X.shape[1])], True
        if self.categorical_features is None and self.multi_hot_features is None:
            X = self._validate_data(X, reset=fitting, dtype=np.float64, force_all_finite="allow-nan")
        else:
            self._check_feature_names(X, reset=fitting)
            X = check_array(X, dtype=None, force_all_finite=False)
            if X.dtype.kind == "c":
                raise ValueError("Complex data not supported")
            self._check_n_features(X, reset=fitting)
        return [f"x{j}" for j in range(X.shape[1])], [X[:, j] for j in range(X.shape[1])], False

    def _frame(self, X, fitting):
        """{name: values} in the schema's names, numeric columns standardised."""
        names, columns, frame = self._columns(X, fitting)
        if fitting:
            kinds, separators = self._kinds(names, columns, frame)
            self.kinds_ = kinds
            schema = [{"name": _LABEL, "kind": "label"}]
            for j, kind in enumerate(kinds):
                column = {"name": f"f{j}", "kind": kind}
                if kind == "numeric":
                    column["transform"] = "identity"
                elif kind == "multi_hot":
                    column["separator"] = separators[j]
                schema.append(column)
            self.schema_ = {"columns": schema, "header": False, "hex_ids": False}
        out = {}
        numeric = [j for j, kind in enumerate(self.kinds_) if kind == "numeric"]
        values = {}
        for j in numeric:
            try:
                column = columns[j]
                values[j] = column.to_numpy(dtype=np.float64, na_value=np.nan) if hasattr(column, "to_numpy") \
                    else np.asarray(column, dtype=np.float64)
            except (TypeError, ValueError) as e:
                raise ValueError(f"X: column {names[j]!r} is numeric (not in categorical_features): {e}") from None
            if np.isinf(values[j]).any():
                raise ValueError(f"X: column {names[j]!r} contains infinity (NaN is a missing value)")
        if fitting:
            self.mean_ = np.zeros(len(names))
            self.scale_ = np.ones(len(names))
            for j in numeric:
                finite = values[j][~np.isnan(values[j])]
                if len(finite):
                    self.mean_[j] = finite.mean()
                    std = finite.std()
                    self.scale_[j] = std if std > 0 and np.isfinite(std) else 1.0
        for j, kind in enumerate(self.kinds_):
            if kind == "numeric":
                out[f"f{j}"] = (values[j] - self.mean_[j]) / self.scale_[j]
            else:
                column = columns[j]
                out[f"f{j}"] = column.to_numpy(dtype=object) if hasattr(column, "to_numpy") else column
        return out

    def _dataset(self, X):
        """The rows of X for prediction, hashed as the fitted model's tables are."""
        return Dataset.from_frame(self._frame(X, fitting=False), schema=self.schema_,
                                  rows_per_table=list(self.model_.rows_per_table), hash_salt=self.model_.hash_salt)

    # -- fit / predict --------------------------------------------------------------------------

    @staticmethod
    def _labels(y):
        """y checked: one label per row, classification targets; as a 1-D NumPy array."""
        if y is None:
            raise ValueError("ShadowSyncClassifier requires y to be passed, but the target y is None")
        if hasattr(y, "isna") and hasattr(y, "to_numpy"):  # pandas: NA labels named, nullable dtypes
            na = np.asarray(y.isna()).reshape(-1)
            if na.any():
                raise ValueError(f"y: row {int(np.argmax(na))} is missing (NA); every row needs a label")
            numpy_dtype = getattr(getattr(y, "dtype", None), "numpy_dtype", None)
            y = y.to_numpy(dtype=numpy_dtype) if numpy_dtype is not None else y.to_numpy()
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        elif y.ndim != 1:
            raise ValueError(f"y: expected shape (n,), got {y.shape}")
        check_classification_targets(y)
        return y

    def _same_columns(self, X):
        """True when X has the fitted columns (number, names, kinds): a fit may continue."""
        if not hasattr(self, "model_"):
            return False
        try:
            names, columns, frame = self._columns(X, fitting=False)
            kinds, _ = self._kinds(names, columns, frame)
        except ValueError:
            return False
        return kinds == self.kinds_

    def _train(self, frame, y, epochs, init_from):
        """Trains on the frame (labels y as 0/1 of classes_[1]) from init_from (a Model or None)."""
        rows = len(next(iter(frame.values())))
        if len(y) != rows:
            raise ValueError(f"y: expected {rows} labels like X, got {len(y)}")
        frame[_LABEL] = (y == self.classes_[1]).astype(np.float32)
        if init_from is None:  # rows_per_table=None: tables sized to X's values
            data = Dataset.from_frame(frame, schema=self.schema_, rows_per_table=self.rows_per_table,
                                      hash_salt=self.hash_salt)
        else:  # hashed as the model's tables are
            data = Dataset.from_frame(frame, schema=self.schema_, rows_per_table=list(init_from.rows_per_table),
                                      hash_salt=init_from.hash_salt)
        if epochs == "auto":
            epochs = max(1, min(1000, math.ceil(AUTO_EXAMPLES / max(len(data), 1))))
        options = dict(model=self.model, sync=self.sync, groups=self.groups, threads_per_group=self.threads_per_group,
                       batch=self.batch, epochs=epochs, seed=self.seed, sync_every=self.sync_every,
                       deterministic=self.deterministic, eval_fraction=0.0, verbose=bool(self.verbose))
        if self.lr is not None:
            options["lr"] = float(self.lr)
        if self.emb_lr is not None:
            options["emb_lr"] = float(self.emb_lr)
        if self.max_examples:
            options["max_examples"] = int(self.max_examples)
        if self.checkpoint:
            options["checkpoint"] = self.checkpoint
        if init_from is not None:
            options["init_from"] = init_from
        self.model_ = train(data, **options)
        return self

    def fit(self, X, y):
        """Trains on every row of X with labels y (two classes); returns self. With warm_start=True
        and X of the fitted columns, continues from the fitted model (see the class docstring)."""
        y = self._labels(y)
        classes = np.unique(y)
        if len(classes) != 2:
            raise ValueError(f"y: expected two classes (binary CTR labels), got {len(classes)} class(es)")
        if self.warm_start and self._same_columns(X) and np.array_equal(classes, self.classes_):
            return self._train(self._frame(X, fitting=False), y, self.epochs, self.model_)
        frame = self._frame(X, fitting=True)
        self.classes_ = classes
        return self._train(frame, y, self.epochs, None)

    def partial_fit(self, X, y, classes=None):
        """One pass over the rows of X (labels y), continuing from the current model; the first
        call starts one. classes: the two classes (needed on the first call when y holds only one;
        later calls must give the same or none). Returns self."""
        y = self._labels(y)
        first = not hasattr(self, "model_")
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if len(classes) != 2:
                raise ValueError(f"classes: expected two classes (binary CTR labels), got {len(classes)}")
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes: {list(classes)} differ from the classes of the first call, "
                                 f"{list(self.classes_)}")
        elif first:
            classes = np.unique(y)
            if len(classes) != 2:
                raise ValueError(f"classes: y holds {len(classes)} class(es); pass classes= (the two classes) on "
                                 f"the first call to partial_fit")
        known = classes if first else self.classes_
        unknown = np.setdiff1d(np.unique(y), known)
        if len(unknown):
            raise ValueError(f"y: labels {list(unknown)} are not among the classes {list(known)}")
        if first:
            frame = self._frame(X, fitting=True)
            self.classes_ = classes
            return self._train(frame, y, 1, None)
        frame = self._frame(X, fitting=False)  # n_features and names checked (ValueError)
        names, columns, is_frame = self._columns(X, fitting=False)
        kinds, _ = self._kinds(names, columns, is_frame)
        if kinds != self.kinds_:
            raise ValueError(f"X: column kinds {kinds} differ from the first call's {self.kinds_}")
        return self._train(frame, y, 1, self.model_)

    def decision_function(self, X):
        """Logits of shape (n,): > 0 predicts classes_[1]."""
        check_is_fitted(self, "model_")
        return self.model_.predict_logits(self._dataset(X)).astype(np.float64)

    def predict_proba(self, X):
        """Probabilities of shape (n, 2): columns classes_[0], classes_[1]."""
        logits = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-logits))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """classes_[1] where the logit is > 0 (probability above 0.5), else classes_[0]."""
        positive = self.decision_function(X) > 0  # checks that the estimator is fitted first
        return self.classes_[positive.astype(int)]

    def score(self, X, y, sample_weight=None):
        """ROC AUC of predict_proba(X)[:, 1] against y (not accuracy)."""
        y = np.asarray(y)
        return roc_auc_score(y == self.classes_[1], self.predict_proba(X)[:, 1], sample_weight=sample_weight)
