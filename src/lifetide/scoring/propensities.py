"""Purchase and return propensity stages: time-split training, evaluation, then scoring.

For a horizon h, the deployed model is trained on features as of D - h with what happened in
the h days after, and scores the customers as of D. It is evaluated the same way one step
back: trained as of D - 2h, tested on features as of D - h against the h days after. The
test figures are therefore those of the deployed procedure on data it never saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from lifetide.models.evaluation import roc_auc
from lifetide.models.fitting import FloatArray
from lifetide.models.propensity import PropensityModel

# Columns of the feature table that are identifiers, instants or inputs of other models only.
NOT_FEATURES = frozenset({"profile_id", "first_seen_at", "first_order_at", "last_order_at",
                          "last_seen_at"})  # fmt: skip
MIN_POSITIVES = 20
EVALUATION_SAMPLE = 100_000
# Trees learn these ~60 features as well from a few hundred thousand customers as from a
# million; fitting on a sample keeps a 1M-customer run within minutes on two cores.
MAX_TRAINING_ROWS = 300_000


def feature_names(table: pa.Table) -> list[str]:
    """The numeric columns of a feature table that the classifiers learn from."""
    return [
        f.name
        for f in table.schema
        if f.name not in NOT_FEATURES
        and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]


def matrix(table: pa.Table, names: Sequence[str]) -> FloatArray:
    """The named columns as a float matrix; null becomes NaN, which the trees route apart."""
    columns = [table.column(n).cast(pa.float64()).to_numpy(zero_copy_only=False) for n in names]
    return np.column_stack(columns) if columns else np.empty((table.num_rows, 0))


@dataclass
class Evaluation:
    """A classifier's time-split test: outcomes and calibrated probabilities (sampled)."""

    name: str
    y_true: np.ndarray
    probability: FloatArray
    auc: float
    base_rate: float
    test_rows: int
    importances: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class PropensityResult:
    """Scores for the customers as of D (NaN where no model could be fit), and the test."""

    scores: FloatArray
    evaluation: Evaluation | None
    notes: list[str]


def _fit(x: FloatArray, y: np.ndarray, names: list[str]) -> PropensityModel:
    if len(y) > MAX_TRAINING_ROWS:
        rows = np.sort(np.random.default_rng(1).choice(len(y), MAX_TRAINING_ROWS, replace=False))
        x, y = x[rows], y[rows]
    # Platt scaling, not isotonic: on held-out tests isotonic's steps tied thousands of
    # customers at one probability (some at exactly 0) and calibrated no better.
    return PropensityModel(calibration="sigmoid", random_state=0).fit(x, y, feature_names=names)


def _trainable(y: np.ndarray, what: str, notes: list[str]) -> bool:
    positives = int(y.sum())
    negatives = len(y) - positives
    if min(positives, negatives) < MIN_POSITIVES:
        notes.append(
            f"{what}: {positives:,} positive and {negatives:,} negative examples, "
            f"at least {MIN_POSITIVES} of each needed to learn"
        )
        return False
    return True


def propensity(
    name: str,
    train: tuple[FloatArray, np.ndarray] | None,
    test: tuple[FloatArray, np.ndarray] | None,
    latest: tuple[FloatArray, np.ndarray] | None,
    score_x: FloatArray,
    names: list[str],
) -> PropensityResult:
    """Evaluate (train on `train`, test on `test`), then fit on `latest` and score `score_x`.

    Each of train/test/latest is (features, outcome) or None when the history is too short.
    Without a fit the scores are the base rate of the latest window, or NaN without one.
    """
    notes: list[str] = []
    evaluation: Evaluation | None = None
    if train is not None and test is not None and _trainable(train[1], f"{name} (test)", notes):
        model = _fit(train[0], train[1], names)
        x_test, y_test = test
        p = model.predict_proba(x_test)[:, 1]
        if 0 < int(y_test.sum()) < len(y_test):
            sample = _sample(len(y_test))
            evaluation = Evaluation(
                name=name,
                y_true=y_test[sample],
                probability=p[sample],
                auc=roc_auc(y_test, p),
                base_rate=float(y_test.mean()),
                test_rows=len(y_test),
                importances=model.importances()[:15],
            )
        else:
            notes.append(f"{name}: the test window has only one outcome; no test figures")
    if latest is None:
        notes.append(f"{name}: the history is too short for a training window; not scored")
        return PropensityResult(np.full(len(score_x), np.nan), evaluation, notes)
    x_latest, y_latest = latest
    if not _trainable(y_latest, name, notes):
        rate = float(y_latest.mean()) if len(y_latest) else np.nan
        return PropensityResult(np.full(len(score_x), rate), evaluation, notes)
    model = _fit(x_latest, y_latest, names)
    return PropensityResult(model.predict_proba(score_x)[:, 1], evaluation, notes)


def _sample(n: int) -> np.ndarray:
    # The report's curves need a representative sample, not a million points.
    if n <= EVALUATION_SAMPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, EVALUATION_SAMPLE, replace=False))
