"""ShadowSyncClassifier: scikit-learn's estimator checks (parametrize_with_checks), X of any width
(NumPy arrays, DataFrames with categorical and multi-hot columns), one row at a time equals the
batch, pickling and clones."""
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from shadowsync import ShadowSyncClassifier

FAST = dict(model="tiny", sync="fr-ma", groups=1, threads_per_group=1, deterministic=True, seed=3)


@parametrize_with_checks([ShadowSyncClassifier(**FAST)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_declared_xfail_checks_have_reasons_and_the_default_fit_is_nondeterministic():
    assert ShadowSyncClassifier()._more_tags()["non_deterministic"] is True
    assert ShadowSyncClassifier(**FAST)._more_tags()["non_deterministic"] is False
    xfail = ShadowSyncClassifier(**FAST)._more_tags()["_xfail_checks"]
    assert len(xfail) <= 3 and all(isinstance(reason, str) and reason for reason in xfail.values())


def frame(rows, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows) * 10 - 3  # negative decimals
    color = rng.choice(["red", "green", "blue", None], size=rows)
    tags = [list(rng.choice(["a", "b", "c", "d"], size=rng.integers(0, 3), replace=False)) for _ in range(rows)]
    logit = 0.3 * (x + 3) + np.where(color == "red", 2.0, -1.0) + np.array([2.0 * ("a" in t) for t in tags])
    y = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "click", "none")
    return pd.DataFrame({"x": x, "color": pd.Series(color, dtype="category"), "tags": tags}), y


def test_dataframe_with_categorical_and_multi_hot_columns_learns():
    X, y = frame(3000, 1)
    est = ShadowSyncClassifier(**FAST).fit(X, y)
    assert est.kinds_ == ["numeric", "categorical", "multi_hot"]
    assert list(est.feature_names_in_) == ["x", "color", "tags"]
    X_test, y_test = frame(1000, 2)
    assert est.score(X_test, y_test) > 0.8  # ROC AUC; the generating model's is about 0.9
    with pytest.raises(ValueError, match="feature names"):
        est.predict(X_test[["tags", "color", "x"]])


def test_numpy_columns_named_categorical_and_multi_hot_by_index():
    rng = np.random.default_rng(3)
    rows = 2000
    X = np.empty((rows, 3), dtype=object)
    X[:, 0] = rng.normal(size=rows)
    X[:, 1] = rng.integers(0, 5, size=rows)
    X[:, 2] = ["|".join(rng.choice(["u", "v", "w"], size=rng.integers(0, 3), replace=False)) for _ in range(rows)]
    y = (X[:, 1] >= 3).astype(int)
    est = ShadowSyncClassifier(categorical_features=[1], multi_hot_features={2: "|"}, **FAST).fit(X, y)
    assert est.kinds_ == ["numeric", "categorical", "multi_hot"]
    assert est.schema_["columns"][3] == {"name": "f2", "kind": "multi_hot", "separator": "|"}
    assert est.score(X, y) > 0.95


def test_standardised_identity_numeric_features():
    X = np.array([[-2.5, 100.0], [0.5, 100.0], [np.nan, 100.0], [2.0, 100.0]] * 50)
    y = np.array([0, 1, 0, 1] * 50)
    est = ShadowSyncClassifier(**FAST).fit(X, y)
    np.testing.assert_allclose(est.mean_, [0.0, 100.0])
    np.testing.assert_allclose(est.scale_, [np.nanstd(X[:, 0]), 1.0])
    assert est.schema_["columns"][1] == {"name": "f0", "kind": "numeric", "transform": "identity"}


def test_one_row_at_a_time_equals_the_batch():
    X, y = frame(1500, 4)
    est = ShadowSyncClassifier(**FAST).fit(X, y)
    batch = est.predict_proba(X[:200])
    for i in range(200):
        np.testing.assert_allclose(est.predict_proba(X.iloc[i:i + 1]), batch[i:i + 1], rtol=0, atol=1e-7)


def test_clone_params_and_pickle():
    X, y = frame(1000, 5)
    est = ShadowSyncClassifier(batch=32, **FAST)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    copy.set_params(batch=64)
    assert copy.batch == 64 and est.batch == 32
    est.fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(clone(est).fit(X, y).predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("X, message", [
    (np.zeros(39), "Expected 2D array"),
    (np.zeros((4, 3), dtype=complex), "Complex data not supported"),
    (np.array([[1.0, np.inf]] * 4), "infinity"),
])
def test_bad_x_raises(X, message):
    with pytest.raises(ValueError, match=message):
        ShadowSyncClassifier(**FAST).fit(X, [0, 1, 0, 1] if X.ndim == 2 else [0, 1])


def test_bad_feature_indices_are_named():
    with pytest.raises(ValueError, match=r"categorical_features: column index 5 is out of range for X of 2 columns"):
        ShadowSyncClassifier(categorical_features=[5], **FAST).fit(np.zeros((4, 2)), [0, 1, 0, 1])
