"""Uplift models: scikit-learn's rules, a population of known uplift, and the Hillstrom test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pytest
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from lifetide.models.qini import qini_coefficient, qini_curve
from lifetide.models.uplift import (
    ClassTransformationUplift,
    TwoModelUplift,
    default_classifier,
)
from tests.conftest import ON_CI
from tests.models import hillstrom

MODELS = [TwoModelUplift, ClassTransformationUplift]


def population(
    seed: int, n: int, treated_share: float = 0.5
) -> tuple[NDArray[np.float64], NDArray[np.int8], NDArray[np.int8], NDArray[np.float64]]:
    """Customers whose true uplift is +0.25 when x0 > 0 and -0.05 otherwise.

    x1 drives the base rate (so a propensity ranking is not an uplift ranking); x2 is noise.
    Returns features, outcomes, treatment and the true uplift.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    true_uplift = np.where(x[:, 0] > 0, 0.25, -0.05)
    base = 0.1 + 0.4 / (1 + np.exp(-2 * x[:, 1]))
    treated = (rng.random(n) < treated_share).astype(np.int8)
    y = (rng.random(n) < base + treated * true_uplift).astype(np.int8)
    return x, y, treated, true_uplift


@pytest.fixture(scope="module")
def train() -> tuple[NDArray[np.float64], NDArray[np.int8], NDArray[np.int8], NDArray[np.float64]]:
    return population(1, 20_000)


# scikit-learn's rules.


@pytest.mark.parametrize("model_class", MODELS)
def test_init_only_stores_and_params_round_trip(model_class: type[Any]) -> None:
    estimator = LogisticRegression(C=0.5)
    model = model_class(estimator=estimator)
    assert model.estimator is estimator  # stored as given, not copied or checked
    params = model.get_params(deep=False)
    assert params["estimator"] is estimator
    rebuilt = model_class(**params)
    assert rebuilt.get_params(deep=False) == params
    # Nested parameters reach the classifier, as in any scikit-learn meta-estimator.
    model.set_params(estimator__C=2.0)
    assert estimator.C == 2.0
    assert model.get_params()["estimator__C"] == 2.0
    # No checking in __init__: a nonsense estimator is only refused by fit.
    odd = model_class(estimator="not a classifier")
    assert odd.get_params(deep=False)["estimator"] == "not a classifier"


def test_class_transformation_params_include_the_treated_share() -> None:
    model = ClassTransformationUplift(treatment_share=0.3)
    assert model.get_params(deep=False) == {"estimator": None, "treatment_share": 0.3}
    model.set_params(treatment_share=0.5)
    assert clone(model).treatment_share == 0.5


@pytest.mark.parametrize("model_class", MODELS)
def test_clone_gives_an_unfitted_twin(model_class: type[Any], train: Any) -> None:
    x, y, t, _ = train
    fitted = model_class().fit(x[:4000], y[:4000], t[:4000])
    twin = clone(fitted)
    assert twin.get_params(deep=False) == fitted.get_params(deep=False)
    with pytest.raises(NotFittedError):
        twin.predict_uplift(x[:5])
    np.testing.assert_array_equal(
        twin.fit(x[:4000], y[:4000], t[:4000]).predict_uplift(x[:100]),
        fitted.predict_uplift(x[:100]),
    )


@pytest.mark.parametrize("model_class", MODELS)
def test_fitting_twice_equals_fitting_once_on_the_second_data(
    model_class: type[Any], train: Any
) -> None:
    x, y, t, _ = train
    refitted = model_class().fit(x[:5000], y[:5000], t[:5000]).fit(x[5000:], y[5000:], t[5000:])
    fresh = model_class().fit(x[5000:], y[5000:], t[5000:])
    np.testing.assert_array_equal(refitted.predict_uplift(x[:200]), fresh.predict_uplift(x[:200]))


@pytest.mark.parametrize("model_class", MODELS)
def test_fit_returns_self_and_predict_is_the_uplift(model_class: type[Any], train: Any) -> None:
    x, y, t, _ = train
    model = model_class()
    assert model.fit(x[:4000], y[:4000], t[:4000]) is model
    np.testing.assert_array_equal(model.predict(x[:50]), model.predict_uplift(x[:50]))
    assert model.n_features_in_ == 3
    assert model.feature_names_ is None
    assert model.estimator is None  # the default is built in fit, never stored back


# Learning a known uplift.


@pytest.mark.parametrize("model_class", MODELS)
def test_recovers_a_known_uplift(model_class: type[Any], train: Any) -> None:
    x, y, t, _ = train
    model = model_class().fit(x, y, t)
    x_new, y_new, t_new, truth = population(2, 20_000)
    predicted = model.predict_uplift(x_new)
    assert predicted.shape == (20_000,)
    assert ((predicted >= -1) & (predicted <= 1)).all()
    # Per group the mean estimate is near the truth (+0.25 / -0.05; ~10,000 customers each).
    assert predicted[truth > 0].mean() == pytest.approx(0.25, abs=0.04)
    assert predicted[truth < 0].mean() == pytest.approx(-0.05, abs=0.04)
    # The ranking finds the persuadable on customers it never saw, far better than chance.
    assert qini_coefficient(y_new, t_new, predicted) > 0.08
    assert qini_curve(y_new, t_new, predicted).share_at(0.5) > 0.8
    assert np.corrcoef(predicted, truth)[0, 1] > 0.7


def test_class_transformation_reweights_an_unequal_split() -> None:
    # A fifth treated and no uplift at all: without reweighting, 2 P(z=1) - 1 would be ~0.3.
    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.normal(size=(n, 2))
    treated = (rng.random(n) < 0.2).astype(np.int8)
    y = (rng.random(n) < 0.3).astype(np.int8)
    model = ClassTransformationUplift().fit(x, y, treated)
    assert model.treatment_share_ == pytest.approx(treated.mean())
    assert model.predict_uplift(x).mean() == pytest.approx(0.0, abs=0.03)
    # The designed share, when given, is the one used.
    assert ClassTransformationUplift(treatment_share=0.2).fit(x, y, treated).treatment_share_ == 0.2


@pytest.mark.parametrize("model_class", MODELS)
def test_other_classifiers_plug_in(model_class: type[Any], train: Any) -> None:
    x, y, t, truth = train
    # Uplift that flips at x0 = 0 is not linear in x; an interaction column makes it so.
    features = np.column_stack([x, x[:, 0] > 0])
    model = model_class(estimator=LogisticRegression()).fit(features, y, t)
    predicted = model.predict_uplift(features)
    assert predicted[truth > 0].mean() > predicted[truth < 0].mean() + 0.2


def test_default_classifier_is_lightgbm_and_fresh_each_time() -> None:
    first, second = default_classifier(), default_classifier()
    assert isinstance(first, lgb.LGBMClassifier)
    assert first is not second
    fitted = TwoModelUplift().fit(*population(4, 3000)[:3])
    for model in (fitted.treated_model_, fitted.control_model_):
        assert isinstance(model, lgb.LGBMClassifier)
        assert model.get_params() == first.get_params()
        assert model.booster_.num_trees() == first.n_estimators


# Feature tables.


def test_a_table_is_read_by_column_name(train: Any) -> None:
    x, y, t, _ = train
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})
    model = TwoModelUplift().fit(table, y, t)
    assert model.feature_names_ == ["a", "b", "c"]
    reordered = pa.table(
        {"c": x[:100, 2], "extra": np.zeros(100), "a": x[:100, 0], "b": x[:100, 1]}
    )
    np.testing.assert_array_equal(model.predict_uplift(reordered), model.predict_uplift(x[:100]))
    with pytest.raises(ValueError, match=r"X lacks the feature columns \['b'\]"):
        model.predict_uplift(pa.table({"a": x[:5, 0], "c": x[:5, 2]}))
    with pytest.raises(ValueError, match="feature column 'a' must be numeric"):
        model.predict_uplift(pa.table({"a": ["x"] * 5, "b": x[:5, 1], "c": x[:5, 2]}))


def test_a_data_frame_must_keep_its_columns(train: Any) -> None:
    pd = pytest.importorskip("pandas")
    x, y, t, _ = train
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    model = ClassTransformationUplift().fit(frame, y, t)
    assert model.feature_names_ == ["a", "b", "c"]
    np.testing.assert_array_equal(model.predict_uplift(frame[:50]), model.predict_uplift(x[:50]))
    with pytest.raises(ValueError, match="X has the columns"):
        model.predict_uplift(frame[["b", "a", "c"]][:5])


def test_missing_values_go_to_the_trees(train: Any) -> None:
    x, y, t, _ = train
    holes = x.copy()
    holes[::7, 1] = np.nan
    predicted = TwoModelUplift().fit(holes, y, t).predict_uplift(holes)
    assert np.isfinite(predicted).all()


# Bad input.


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"y": [0, 1, 2] * 100}, "y must be 0/1 or booleans, found 2 at row 2"),
        ({"treatment": [0.5] * 300}, "treatment must be 0/1 or booleans, found 0.5 at row 0"),
        ({"treatment": [1] * 300}, "treatment has no control rows"),
        ({"treatment": [0] * 300}, "treatment has no treated rows"),
        ({"y": [1] * 299}, "X has 300 rows, y 299"),
        ({"y": ["a"] * 300}, "y must be 0/1 or booleans, got dtype"),
        ({"x": np.ones(300)}, "X must be two-dimensional"),
        ({"x": np.full((300, 2), np.inf)}, "X has infinite values in columns"),
    ],
)
def test_bad_input_is_named(model_class: type[Any], change: dict[str, Any], message: str) -> None:
    rng = np.random.default_rng(5)
    data: dict[str, Any] = {
        "x": rng.normal(size=(300, 2)),
        "y": rng.integers(0, 2, 300),
        "treatment": np.arange(300) % 2,
    }
    data.update(change)
    with pytest.raises(ValueError, match=message):
        model_class().fit(data["x"], data["y"], data["treatment"])


def test_a_group_with_one_outcome_cannot_be_fitted() -> None:
    x = np.random.default_rng(6).normal(size=(300, 2))
    treated = np.arange(300) % 2
    y = np.where(treated == 1, np.arange(300) % 3 == 0, 0)  # no control responder
    with pytest.raises(ValueError, match=r"the control rows have only one outcome \(all 0"):
        TwoModelUplift().fit(x, y, treated)


@pytest.mark.parametrize("share", [0.0, 1.0, -0.2, 1.5, True, "half"])
def test_class_transformation_refuses_a_share_out_of_range(share: Any) -> None:
    with pytest.raises(ValueError, match="treatment_share must be None or strictly between"):
        ClassTransformationUplift(treatment_share=share).fit(*population(4, 500)[:3])


def test_estimators_that_cannot_serve_are_refused() -> None:
    x, y, t, _ = population(4, 2000)
    with pytest.raises(ValueError, match="estimator must be a scikit-learn style classifier"):
        TwoModelUplift(estimator=object()).fit(x, y, t)
    with pytest.raises(ValueError, match="KNeighborsClassifier does not accept sample_weight"):
        ClassTransformationUplift(estimator=KNeighborsClassifier()).fit(x, y, t)


@pytest.mark.parametrize("model_class", MODELS)
def test_prediction_needs_the_fitted_features(model_class: type[Any], train: Any) -> None:
    x, y, t, _ = train
    with pytest.raises(NotFittedError):
        model_class().predict_uplift(x)
    model = model_class().fit(x[:3000], y[:3000], t[:3000])
    with pytest.raises(ValueError, match="X has 2 features, the model was fitted on 3"):
        model.predict_uplift(x[:5, :2])


# Hillstrom: a real randomized e-mail test (Womens E-Mail against No E-Mail).


@pytest.fixture(scope="module")
def hillstrom_data() -> hillstrom.UpliftData:
    """The Hillstrom customers of the two arms; skipped if the file is absent, except on CI."""
    path: Path = hillstrom.HILLSTROM_CSV
    if not path.is_file():
        message = f"the Hillstrom data is not at {path} (see the shared data folder's README)"
        if ON_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return hillstrom.load(path)


def test_hillstrom_arms_are_read_whole(hillstrom_data: hillstrom.UpliftData) -> None:
    data = hillstrom_data
    assert len(data.treatment) == 42_693
    assert int(data.treatment.sum()) == 21_387  # Womens E-Mail; No E-Mail has 21,306
    assert len(data.feature_names) == 5 + 7 + 3 + 3
    visit = data.outcomes["visit"]
    treated = data.treatment == 1
    # The published arm rates: 15.1% of the mailed visited, 10.6% of the control group.
    assert visit[treated].mean() == pytest.approx(0.1514, abs=5e-4)
    assert visit[~treated].mean() == pytest.approx(0.1062, abs=5e-4)
    _, test = hillstrom.stratified_split(data)
    assert len(test.treatment) == pytest.approx(0.3 * len(data.treatment), abs=2)
    assert test.treatment.mean() == pytest.approx(data.treatment.mean(), abs=1e-3)


def test_hillstrom_uplift_rankings_beat_random_targeting(
    hillstrom_data: hillstrom.UpliftData,
) -> None:
    test, scores = hillstrom.held_out_scores(hillstrom_data, "visit")
    y, treated = test.outcomes["visit"], test.treatment
    # Random targeting's spread on these same customers: 200 seeded random rankings.
    rng = np.random.default_rng(1)
    random_qini = np.array([qini_coefficient(y, treated, rng.random(len(y))) for _ in range(200)])
    assert abs(random_qini.mean()) < 0.01
    random_99th = float(np.quantile(random_qini, 0.99))
    seeded_random = qini_coefficient(y, treated, scores["random"])
    for name in ("two models", "class transformation"):
        score = scores[name]
        qini = qini_coefficient(y, treated, score)
        assert qini > 0.03, name  # clearly positive (random: 0 +- 0.015)
        assert qini > random_99th, name
        assert qini > seeded_random + 0.03, name
        # Mailing everyone wins all of the incremental visits with 100% of the mail; the top
        # 30% by predicted uplift must win more than 30% of them (random targeting's share).
        assert qini_curve(y, treated, score).share_at(0.3) > 0.35, name
