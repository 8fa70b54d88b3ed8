"""ShadowSyncClassifier: scikit-learn conventions (clone, params, pickling, shapes), pandas input,
and scikit-learn's own estimator checks where they apply (see docs/python.md for the others)."""
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from shadowsync import ShadowSyncClassifier

FAST = dict(model="tiny", sync="fr-ma", groups=1, threads_per_group=1, deterministic=True, seed=3)

# The checks that apply to an estimator with a fixed 39-column schema (13 numeric, 26 categorical
# ids); the others fit on random data of 2..10 columns (see docs/python.md).
APPLICABLE_CHECKS = {
    "check_classifiers_one_label", "check_classifiers_one_label_sample_weights",
    "check_classifiers_regression_target", "check_estimator_get_tags_default_keys",
    "check_estimator_sparse_data", "check_estimators_partial_fit_n_features", "check_estimators_unfitted",
    "check_fit1d", "check_fit2d_1feature", "check_fit2d_1sample", "check_get_params_invariance",
    "check_no_attributes_set_in_init", "check_non_transformer_estimators_n_iter",
    "check_parameters_default_constructible", "check_requires_y_none", "check_set_params",
    "check_supervised_y_no_nan", "check_complex_data",
}


def xy(arrays, rows=4000):
    numeric, categorical, labels = arrays
    X = np.hstack([numeric[:rows], categorical[:rows].astype(np.float64)])
    y = np.where(labels[:rows] > 0, "click", "no click")
    return X, y


def test_tables_fit_the_data_and_other_rows_predict_with_the_fitted_hashing(arrays):
    numeric, categorical, labels = arrays
    X = np.hstack([numeric, categorical.astype(np.float64)])
    y = labels > 0
    est = ShadowSyncClassifier(**FAST).fit(X[:1999], y[:1999])
    # 1,999 rows: tables of a few thousand rows, not the preset's 131,072 (68 MB pickles before).
    assert max(est.model_.rows_per_table) <= 4096
    assert len(pickle.dumps(est)) < 4 << 20
    # Rows the fit never saw (other ids) are hashed into the fitted tables.
    proba = est.predict_proba(X[2000:2600])
    assert proba.shape == (600, 2)
    np.testing.assert_array_equal(est.predict_proba(X[:1999]), est.predict_proba(X[:1999]))


def test_fit_predict_proba_score(arrays):
    X, y = xy(arrays)
    est = ShadowSyncClassifier(**FAST)
    assert est.fit(X, y) is est
    assert list(est.classes_) == ["click", "no click"]
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(est.predict(X)) <= set(est.classes_)
    auc = est.score(X, y)
    assert 0.5 < auc <= 1.0


def test_clone_params_and_pickle(arrays):
    X, y = xy(arrays)
    est = ShadowSyncClassifier(batch=32, **FAST)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    copy.set_params(batch=64)
    assert copy.batch == 64 and est.batch == 32
    est.fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    # deterministic: a clone fitted on the same data gives the same model
    np.testing.assert_array_equal(clone(est).fit(X, y).predict_proba(X), est.predict_proba(X))


def test_dataframe_with_named_columns_in_any_order(arrays):
    X, y = xy(arrays, rows=2000)
    names = [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]
    frame = pd.DataFrame(X, columns=names)
    shuffled = frame[names[::-1]]
    a = ShadowSyncClassifier(**FAST).fit(X, y).predict_proba(X)
    b = ShadowSyncClassifier(**FAST).fit(shuffled, y).predict_proba(shuffled)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("X, message", [
    (np.zeros((4, 38)), "X: expected 39 columns"),
    (np.zeros(39), "X: expected a 2-D array of 39 columns"),
    (np.zeros((4, 39), dtype=complex), "Complex data not supported"),
])
def test_bad_x_raises(X, message):
    with pytest.raises(ValueError, match=message):
        ShadowSyncClassifier(**FAST).fit(X, [0, 1, 0, 1] if X.ndim == 2 else [0, 1])


def test_sklearn_estimator_checks_that_apply():
    est = ShadowSyncClassifier(**FAST)
    ran = set()
    for estimator, check in check_estimator(est, generate_only=True):
        name = getattr(check, "func", check).__name__
        if name in APPLICABLE_CHECKS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check(estimator)
            ran.add(name)
    assert ran == APPLICABLE_CHECKS


def test_dataframe_hex_strings_and_missing_values_as_in_the_tsv(data_dir, arrays):
    numeric, categorical, labels = arrays
    rows = 500
    frame = pd.DataFrame(numeric[:rows], columns=[f"I{i}" for i in range(1, 14)])
    for t in range(26):
        frame[f"C{t + 1}"] = [format(v, "08x") if v >= 0 else None for v in categorical[:rows, t]]
    est = ShadowSyncClassifier(**FAST).fit(frame, labels[:rows])
    as_array = np.hstack([numeric[:rows], categorical[:rows].astype(np.float64)])
    as_array[:, 13:][categorical[:rows] < 0] = np.nan
    np.testing.assert_array_equal(est.predict_proba(frame), est.predict_proba(as_array))
    assert list(est.feature_names_in_[:2]) == ["I1", "I2"]
