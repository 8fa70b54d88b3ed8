"""ShadowSyncClassifier(warm_start=True) and partial_fit: continuing from the current model.
With one worker and no sync (bit-identical runs), partial_fit on A then B equals fit on A and B
with epochs=1, and so does a warm-started fit on B after fit on A (for categorical columns:
numeric columns are standardised with the first call's mean and scale, which then differ from
those of A and B together, so there the equality does not hold and the kept scale is tested)."""
import numpy as np
import pandas as pd
import pytest

from shadowsync import ShadowSyncClassifier

ONE = dict(model="tiny", sync="none", groups=1, threads_per_group=1, deterministic=True, seed=3, batch=128,
           rows_per_table=64, epochs=1)
PART = 1280  # 10 batches


def categorical(rows, seed):
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "blue", "grey"], size=rows)
    shape = rng.choice(["o", "x", "+"], size=rows)
    logit = np.where(color == "red", 2.0, -1.0) + np.where(shape == "x", 1.0, -0.5)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"color": pd.Series(color, dtype="category"), "shape": pd.Series(shape, dtype="category")}), y


def test_partial_fit_twice_equals_fit_on_the_concatenation():
    X, y = categorical(2 * PART, 1)
    stream = ShadowSyncClassifier(**ONE)
    assert stream.partial_fit(X[:PART], y[:PART], classes=[0, 1]) is stream
    first = stream.decision_function(X)
    stream.partial_fit(X[PART:], y[PART:])
    whole = ShadowSyncClassifier(**ONE).fit(X, y)
    assert np.array_equal(stream.decision_function(X), whole.decision_function(X))
    assert not np.array_equal(first, whole.decision_function(X))
    assert stream.model_.examples_trained == PART  # the last call's rows
    assert len(stream.model_.init_chain) == 1


def test_warm_start_fit_continues_and_cold_fit_starts_anew():
    X, y = categorical(2 * PART, 2)
    whole = ShadowSyncClassifier(**ONE).fit(X, y)
    warm = ShadowSyncClassifier(warm_start=True, **ONE).fit(X[:PART], y[:PART]).fit(X[PART:], y[PART:])
    assert np.array_equal(warm.decision_function(X), whole.decision_function(X))
    cold = ShadowSyncClassifier(**ONE).fit(X[:PART], y[:PART]).fit(X[PART:], y[PART:])
    fresh = ShadowSyncClassifier(**ONE).fit(X[PART:], y[PART:])
    assert np.array_equal(cold.decision_function(X), fresh.decision_function(X))
    assert cold.model_.init_chain == []
    # Other columns: warm_start starts anew (nothing to continue from).
    wider = X.assign(size=pd.Series(np.where(y == 1, "big", "small"), dtype="category"))
    other = warm.fit(wider[:PART], y[:PART])
    assert other.n_features_in_ == 3 and other.model_.init_chain == []


def test_numeric_columns_keep_the_first_calls_standardisation():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2 * PART, 2)) * [1.0, 5.0] + [0.0, 3.0]
    y = (X[:, 0] + rng.normal(size=2 * PART) > 0).astype(int)
    est = ShadowSyncClassifier(**ONE).partial_fit(X[:PART], y[:PART])
    mean, scale = est.mean_.copy(), est.scale_.copy()
    np.testing.assert_allclose(mean, X[:PART].mean(axis=0))
    est.partial_fit(X[PART:] + 100.0, y[PART:])
    assert np.array_equal(est.mean_, mean) and np.array_equal(est.scale_, scale)
    assert est.score(X[:PART], y[:PART]) > 0.7  # ROC AUC


def test_partial_fit_classes_and_columns_are_checked():
    X, y = categorical(PART, 3)
    ones = np.ones(PART, dtype=int)
    with pytest.raises(ValueError, match=r"classes: y holds 1 class\(es\); pass classes="):
        ShadowSyncClassifier(**ONE).partial_fit(X, ones)
    est = ShadowSyncClassifier(**ONE).partial_fit(X, ones, classes=np.array([1, 0]))
    assert list(est.classes_) == [0, 1]
    est.partial_fit(X, 1 - ones)  # later calls: any labels among the classes
    with pytest.raises(ValueError, match=r"classes: \[0, 2\] differ from the classes of the first call, \[0, 1\]"):
        est.partial_fit(X, y, classes=[0, 2])
    with pytest.raises(ValueError, match=r"y: labels \[5\] are not among the classes \[0, 1\]"):
        est.partial_fit(X, np.where(y == 1, 5, 0))
    with pytest.raises(ValueError, match="classes: expected two classes"):
        ShadowSyncClassifier(**ONE).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError):
        est.partial_fit(X[["color"]], y)  # another number of columns
