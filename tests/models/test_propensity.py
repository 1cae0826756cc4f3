"""The calibrated propensity classifier on data simulated from a known model."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy.special import expit
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from lifetide.models.propensity import PropensityModel

Data = tuple[np.ndarray, np.ndarray, np.ndarray]
N_FEATURES = 8


def simulate(n: int, seed: int, intercept: float = -1.0) -> Data:
    """(X, y, true P(y=1)) from a nonlinear logistic model; NaN where there is no data.

    x0 is an order count; x1 (say, days since the last order) is NaN without orders, and
    having none lowers the odds; x2 acts through its square, x3 only where x4 > 0; x5-x7 are
    noise. 5% of x2-x7 are missing at random after the outcome is drawn, so the true
    probabilities bound what any model of the observed X can reach.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, N_FEATURES))
    orders = rng.poisson(1.5, n).astype(float)
    x[:, 0] = orders
    none = orders == 0
    x[none, 1] = np.nan
    logit = (
        intercept
        + 0.6 * np.minimum(orders, 4)
        + np.where(none, -0.7, x[:, 1])
        - 0.8 * x[:, 2] ** 2
        + 0.7 * x[:, 3] * (x[:, 4] > 0)
    )
    p = expit(logit)
    y = (rng.random(n) < p).astype(int)
    missing = rng.random((n, N_FEATURES)) < 0.05
    missing[:, :2] = False
    x[missing] = np.nan
    return x, y, p


def decile_error(y: np.ndarray, p: np.ndarray) -> float:
    """Mean |observed rate - mean prediction| over ten equal-count bins of the prediction."""
    bins = np.array_split(np.argsort(p, kind="stable"), 10)
    return float(np.mean([abs(y[b].mean() - p[b].mean()) for b in bins]))


@pytest.fixture(scope="module")
def train() -> Data:
    return simulate(50_000, seed=1)


@pytest.fixture(scope="module")
def test() -> Data:
    return simulate(50_000, seed=2)


@pytest.fixture(scope="module")
def model(train: Data) -> PropensityModel:
    x, y, _ = train
    return PropensityModel().fit(x, y, feature_names=[f"f{j}" for j in range(N_FEATURES)])


@pytest.fixture(scope="module")
def proba(model: PropensityModel, test: Data) -> np.ndarray:
    return model.predict_proba(test[0])


def test_ranks_almost_as_well_as_the_true_probabilities(proba: np.ndarray, test: Data) -> None:
    _, y, p = test
    bayes = roc_auc_score(y, p)
    assert bayes - 0.02 <= roc_auc_score(y, proba[:, 1]) <= bayes + 0.005


def test_probabilities_are_calibrated(
    model: PropensityModel, proba: np.ndarray, test: Data
) -> None:
    assert model.calibration_used_ == "isotonic"
    assert decile_error(test[1], proba[:, 1]) < 0.02


def test_probabilities_are_finite_and_predictions_follow_them(
    model: PropensityModel, proba: np.ndarray, test: Data
) -> None:
    x = test[0][:5_000]
    proba = proba[:5_000]
    assert proba.shape == (len(x), 2)
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(x), (proba[:, 1] > 0.5).astype(int))
    # Rows with every feature missing still get a probability.
    assert np.isfinite(model.predict_proba(np.full((3, N_FEATURES), np.nan))).all()


def test_learned_attributes(model: PropensityModel, train: Data) -> None:
    _, y, _ = train
    np.testing.assert_array_equal(model.classes_, [0, 1])
    assert model.n_features_in_ == N_FEATURES
    assert model.feature_names_in_.tolist() == [f"f{j}" for j in range(N_FEATURES)]
    assert model.base_rate_ == pytest.approx(y.mean())
    assert 1 <= model.best_iteration_ < model.n_estimators  # early stopping chose
    assert model.feature_importances_.sum() == pytest.approx(1.0)
    ranked = model.importances()
    assert [share for _, share in ranked] == sorted((s for _, s in ranked), reverse=True)
    # The four features the outcome depends on carry nearly all the gain; noise the rest.
    assert {name for name, _ in ranked[:4]} == {"f0", "f1", "f2", "f3"}
    assert sum(share for name, share in ranked if name in {"f5", "f6", "f7"}) < 0.05


def test_calibration_repairs_an_overconfident_booster_on_rare_outcomes() -> None:
    # Boosting on log-loss with early stopping is already nearly calibrated; these settings
    # (no early stopping, big steps, tiny leaves) deliberately overfit, as models tuned for
    # ranking alone do, so that the raw scores are overconfident on ~5% positives.
    x, y, _ = simulate(20_000, seed=3, intercept=-4.0)
    x_test, y_test, _ = simulate(20_000, seed=4, intercept=-4.0)
    assert 0.03 < y.mean() < 0.07
    overfit = PropensityModel(
        n_estimators=200,
        early_stopping_rounds=None,
        learning_rate=0.3,
        min_child_samples=5,
        num_leaves=63,
    ).fit(x, y)
    assert overfit.best_iteration_ == overfit.n_estimators
    raw = np.asarray(overfit.booster_.predict(x_test, num_iteration=overfit.best_iteration_))
    calibrated = overfit.predict_proba(x_test)[:, 1]
    assert decile_error(y_test, calibrated) < 0.012
    assert decile_error(y_test, calibrated) < decile_error(y_test, raw) / 2


def test_sigmoid_calibration_when_asked_or_when_positives_are_few() -> None:
    x, y, _ = simulate(4_000, seed=5)
    sigmoid = PropensityModel(calibration="sigmoid").fit(x, y)
    assert sigmoid.calibration_used_ == "sigmoid"
    few = y.copy()
    few[np.flatnonzero(few)[60:]] = 0  # 60 positives: 12 held out, too few for isotonic
    model = PropensityModel().fit(x, few)
    assert model.calibration_used_ == "sigmoid"
    p = model.predict_proba(x)[:, 1]
    assert np.isfinite(p).all() and p.min() > 0 and p.max() < 1
    # A single positive cannot be both learned from and held out: no calibration at all.
    one = np.zeros_like(y)
    one[7] = 1
    lone = PropensityModel().fit(x, one)
    assert lone.calibration_used_ == "none"
    assert np.isfinite(lone.predict_proba(x)).all()


def test_same_random_state_same_model_and_sklearn_conventions() -> None:
    x, y, _ = simulate(8_000, seed=6)
    first = PropensityModel(n_estimators=50, random_state=7)
    copy = clone(first)
    assert copy.get_params() == first.get_params()
    assert not hasattr(copy, "booster_")
    with pytest.raises(NotFittedError):
        copy.predict_proba(x)
    assert first.fit(x, y) is first
    np.testing.assert_array_equal(first.predict_proba(x), copy.fit(x, y).predict_proba(x))
    other = PropensityModel(n_estimators=50, random_state=8).fit(x, y)
    assert not np.array_equal(first.predict_proba(x), other.predict_proba(x))
    params = first.get_params()
    assert params["calibration"] == "isotonic" and params["n_estimators"] == 50
    assert PropensityModel(**params).get_params() == params
    assert first.set_params(calibration="sigmoid").calibration == "sigmoid"
    assert first.score(x, y) > 0.5  # ClassifierMixin's accuracy, through predict
    assert is_classifier(first)
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.predict_proba(x), first.predict_proba(x))


def test_a_table_is_read_by_column_name() -> None:
    x, y, _ = simulate(5_000, seed=9)
    names = [f"f{j}" for j in range(N_FEATURES)]
    columns = {name: pa.array(x[:, j], from_pandas=True) for j, name in enumerate(names)}
    columns["f0"] = pa.array(x[:, 0].astype(np.int64))  # an integer column
    table = pa.table({"customer_id": np.arange(len(x)), **columns})
    assert table.column("f1").null_count > 0  # NaN arrives as null and goes back to NaN
    model = PropensityModel(n_estimators=30).fit(table, y, feature_names=names)
    assert model.feature_names_in_.tolist() == names
    by_array = model.predict_proba(x)
    reordered = table.select(["customer_id", *reversed(names)])
    np.testing.assert_array_equal(model.predict_proba(reordered), by_array)
    with pytest.raises(ValueError, match=r"X lacks the feature columns \['f3'\]"):
        model.predict_proba(table.drop_columns(["f3"]))
    # float32 matrices are used as they are.
    assert np.isfinite(model.predict_proba(x.astype(np.float32))).all()


def test_sample_weight_counts_rows() -> None:
    x, y, _ = simulate(5_000, seed=10)
    weight = np.where(y == 1, 3.0, 1.0)
    model = PropensityModel(n_estimators=30).fit(x, y, sample_weight=weight)
    assert model.base_rate_ == pytest.approx(3 * y.sum() / (3 * y.sum() + (1 - y).sum()))


def test_one_class_is_an_error_saying_there_is_nothing_to_learn() -> None:
    x, _, _ = simulate(500, seed=11)
    with pytest.raises(ValueError, match=r"only one class \(all 0\) among 500 rows: nothing"):
        PropensityModel().fit(x, np.zeros(500))
    with pytest.raises(ValueError, match=r"only one class \(all 1\) among 500 rows"):
        PropensityModel().fit(x, np.ones(500, dtype=bool))
    weight = np.ones(500)
    y = np.zeros(500)
    y[:3] = 1
    weight[:3] = 0
    with pytest.raises(ValueError, match=r"only one class .* of positive weight"):
        PropensityModel().fit(x, y, sample_weight=weight)


X_SMALL = np.arange(40.0).reshape(10, 4)
Y_SMALL = np.array([0, 1] * 5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.fit(X_SMALL, Y_SMALL[:9]), "X has 10 rows, y 9"),
        (lambda m: m.fit(X_SMALL, Y_SMALL * 2),
         r"y must be binary \(0/1 or bool\), also found \[2\]"),
        (lambda m: m.fit(X_SMALL, np.where(Y_SMALL, 0.5, 0)), r"also found \[0.5\]"),
        (lambda m: m.fit(X_SMALL, np.array(["a", "b"] * 5)), "y must be binary labels"),
        (lambda m: m.fit(X_SMALL, np.where(np.arange(10) == 4, np.nan, Y_SMALL)),
         "y has 1 NaN or infinite labels, first at row 4"),
        (lambda m: m.fit(X_SMALL, Y_SMALL.reshape(5, 2)), "y must be one-dimensional"),
        (lambda m: m.fit(X_SMALL[:, 0], Y_SMALL), "X must be two-dimensional"),
        (lambda m: m.fit(X_SMALL[:0], Y_SMALL[:0]), "at least one row and one feature"),
        (lambda m: m.fit(np.where(X_SMALL == 5, np.inf, X_SMALL), Y_SMALL),
         r"infinite values in features \['x1'\]"),
        (lambda m: m.fit(X_SMALL.astype(str), Y_SMALL), "X must be numeric"),
        (lambda m: m.fit(X_SMALL, Y_SMALL, feature_names=["a", "b"]),
         "feature_names has 2 names, X 4 columns"),
        (lambda m: m.fit(X_SMALL, Y_SMALL, feature_names=["a", "b", "a", "c"]),
         r"feature_names repeat \['a'\]"),
        (lambda m: m.fit(X_SMALL, Y_SMALL, sample_weight=-np.ones(10)),
         "sample_weight must be finite, non-negative"),
        (lambda m: m.fit(X_SMALL, Y_SMALL, sample_weight=np.ones(3)),
         r"sample_weight must have shape \(10,\)"),
        (lambda m: m.fit(pa.table({"a": ["x"] * 10}), Y_SMALL),
         "feature column 'a' must be numeric"),
        (lambda m: m.set_params(calibration="beta").fit(X_SMALL, Y_SMALL),
         "calibration must be 'isotonic' or 'sigmoid', got 'beta'"),
        (lambda m: m.set_params(calibration_share=1.0).fit(X_SMALL, Y_SMALL),
         "calibration_share must be strictly between 0 and 1"),
        (lambda m: m.set_params(n_estimators=0).fit(X_SMALL, Y_SMALL), "n_estimators must be"),
        (lambda m: m.set_params(learning_rate=float("nan")).fit(X_SMALL, Y_SMALL),
         "learning_rate must be > 0"),
        (lambda m: m.set_params(early_stopping_rounds=0).fit(X_SMALL, Y_SMALL),
         "early_stopping_rounds must be None or an integer"),
        (lambda m: m.set_params(n_jobs=0).fit(X_SMALL, Y_SMALL), "n_jobs must be a non-zero"),
        (lambda m: m.fit(X_SMALL, Y_SMALL).predict_proba(X_SMALL[:, :3]),
         "X has 3 features, the model was fitted on 4"),
        (lambda m: m.fit(X_SMALL, Y_SMALL).predict(np.ones(4)), "X must be two-dimensional"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_value_error(
    call: Callable[[PropensityModel], Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call(PropensityModel(n_estimators=5))
