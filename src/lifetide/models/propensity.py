"""Calibrated propensity scores from gradient-boosted trees (LightGBM), e.g. "buys in 30 days".

Ke, G., Meng, Q., Finley, T., Wang, T., Chen, W., Ma, W., Ye, Q. and Liu, T.-Y. (2017),
"LightGBM: A Highly Efficient Gradient Boosting Decision Tree", Advances in Neural Information
Processing Systems 30 (NeurIPS 2017), 3146-3154.

Boosted trees rank well but their scores need not be probabilities (Niculescu-Mizil, A. and
Caruana, R. (2005), "Predicting Good Probabilities with Supervised Learning", ICML 2005), and
campaigns use them as probabilities (expected buyers = sum of scores). So a stratified share
of the rows is held out: it stops the boosting early (binary log-loss) and then fits a
monotone map from the trees' log-odds to probabilities, either

- isotonic regression (Zadrozny, B. and Elkan, C. (2002), "Transforming Classifier Scores into
  Accurate Multiclass Probability Estimates", Proceedings of the 8th ACM SIGKDD, 694-699), or
- a logistic curve (Platt, J. C. (1999), "Probabilistic Outputs for Support Vector Machines and
  Comparisons to Regularized Likelihood Methods", in Advances in Large Margin Classifiers, MIT
  Press, 61-74), which needs far fewer positives than isotonic regression's steps.

The rows' time split (features before the as-of date, labels after) is the caller's job.
Missing feature values (NaN, e.g. no orders yet) go to LightGBM, which learns where they go.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

import lightgbm as lgb
import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from lifetide.models.fitting import FloatArray

Calibration = Literal["isotonic", "sigmoid"]
CalibrationUsed = Literal["isotonic", "sigmoid", "none"]

# Isotonic regression fits one step per run of same-label scores; with fewer than this many
# held-out rows of the rarer class its steps follow noise, and Platt's two parameters do better.
MIN_CLASS_ROWS_FOR_ISOTONIC = 20
ROWS_PER_THREAD = 50_000


@dataclass(frozen=True)
class PlattScaling:
    """P(y=1 | score) = expit(slope * score + intercept), fitted as in Platt (1999).

    The targets are Platt's smoothed labels (N+ + 1)/(N+ + 2) and 1/(N- + 2), a prior that
    keeps the curve off 0 and 1 when one class has few rows.
    """

    slope: float
    intercept: float

    @classmethod
    def fit(cls, score: FloatArray, y: FloatArray, weight: FloatArray) -> PlattScaling:
        """Weighted maximum likelihood of the smoothed targets, from the identity map."""
        positives = float((y == 1).sum())
        negatives = float(len(y) - positives)
        target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
        w = weight / weight.sum()

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            z = theta[0] * score + theta[1]
            # -[t ln p + (1-t) ln(1-p)] = t softplus(-z) + (1-t) softplus(z), overflow-free.
            loss = np.logaddexp(0.0, z) - target * z
            residual = w * (expit(z) - target)
            return float(w @ loss), np.array([residual @ score, residual.sum()])

        # The scores are LightGBM's log-odds, so the identity map is a close start.
        result = minimize(objective, np.array([1.0, 0.0]), jac=True, method="BFGS")
        return cls(float(result.x[0]), float(result.x[1]))

    def predict(self, score: FloatArray) -> FloatArray:
        """Calibrated probabilities of the scores."""
        return np.asarray(expit(self.slope * score + self.intercept), dtype=np.float64)


class PropensityModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A binary propensity model: LightGBM trees (Ke et al. 2017), calibrated on held-out rows.

    `fit(X, y, feature_names=None, sample_weight=None)` takes a 2-D numeric matrix (NaN =
    missing) or a pyarrow Table of numeric columns, and 0/1 (or bool) labels. It holds out a
    stratified `calibration_share` of the rows, boosts on the rest with early stopping on the
    held-out log-loss, then maps the trees' log-odds to probabilities on the held-out rows by
    isotonic regression (Zadrozny & Elkan 2002) or Platt's (1999) sigmoid.

    Learned: `booster_` (the LightGBM booster; its own scores are uncalibrated),
    `calibrator_`, `calibration_used_` ("isotonic", "sigmoid" or "none": fewer than
    MIN_CLASS_ROWS_FOR_ISOTONIC held-out rows of the rarer class mean sigmoid, none at all
    means no calibration), `classes_` ([0, 1]), `feature_names_in_`, `n_features_in_`,
    `base_rate_` (weighted share of positives), `best_iteration_` (trees used) and
    `feature_importances_` (split gain, summing to 1).

    Isotonic calibration is a step function: customers in a step share one probability, and
    the lowest step can be exactly 0 when no held-out positive scored that low. `n_jobs` is
    an upper bound: LightGBM gets at most one thread per ROWS_PER_THREAD rows.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 100,
        calibration: Calibration = "isotonic",
        calibration_share: float = 0.2,
        early_stopping_rounds: int | None = 30,
        n_jobs: int = 2,
        random_state: int | None = 0,
    ) -> None:
        """Set the boosting, calibration and hold-out hyperparameters (checked by fit)."""
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration = calibration
        self.calibration_share = calibration_share
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags, saying NaN features are accepted."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(
        self,
        X: ArrayLike | pa.Table,  # noqa: N803 (scikit-learn's name)
        y: ArrayLike,
        feature_names: Sequence[str] | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> Self:
        """Boost on a stratified (1 - calibration_share) of the rows, calibrate on the rest."""
        self._check_hyperparameters()
        matrix, names = _features(X, feature_names)
        n = matrix.shape[0]
        labels = _labels(y, n)
        weight = _sample_weight(sample_weight, n)
        positive_weight = float(weight[labels == 1].sum())
        if positive_weight == 0 or positive_weight == weight.sum():
            only = int(labels[weight > 0][0])
            raise ValueError(
                f"y has only one class (all {only}) among {n} rows"
                + (" of positive weight" if sample_weight is not None else "")
                + ": nothing to learn; use the base rate instead"
            )

        rng = np.random.default_rng(self.random_state)
        train, held_out = _stratified_split(labels, self.calibration_share, rng)
        params = self._lightgbm_params(int(rng.integers(2**31 - 1)), len(train))
        # One binned Dataset and two row subsets of it: no copy of the raw matrix's rows.
        full = lgb.Dataset(matrix, label=labels, weight=weight, params=params)
        callbacks: list[Callable[..., Any]] = []
        if self.early_stopping_rounds is not None:
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        booster = lgb.train(
            params,
            full.subset(train.tolist()),
            num_boost_round=self.n_estimators,
            valid_sets=[full.subset(held_out.tolist())],
            callbacks=callbacks,
        )
        best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()

        self.booster_ = booster
        self.best_iteration_ = int(best)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = matrix.shape[1]
        self.base_rate_ = positive_weight / float(weight.sum())
        gain = np.asarray(
            booster.feature_importance(importance_type="gain", iteration=self.best_iteration_),
            dtype=np.float64,
        )
        self.feature_importances_ = gain / gain.sum() if gain.sum() > 0 else np.zeros(len(names))

        score = self._raw_score(matrix[held_out])
        held_labels, held_weight = labels[held_out].astype(np.float64), weight[held_out]
        rarer = int(min((held_labels == 1).sum(), (held_labels == 0).sum()))
        self.calibrator_: IsotonicRegression | PlattScaling | None
        if rarer == 0:
            self.calibration_used_: CalibrationUsed = "none"
            self.calibrator_ = None
        elif self.calibration == "sigmoid" or rarer < MIN_CLASS_ROWS_FOR_ISOTONIC:
            self.calibration_used_ = "sigmoid"
            self.calibrator_ = PlattScaling.fit(score, held_labels, held_weight)
        else:
            self.calibration_used_ = "isotonic"
            isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            self.calibrator_ = isotonic.fit(score, held_labels, sample_weight=held_weight)
        return self

    def predict_proba(self, X: ArrayLike | pa.Table) -> FloatArray:  # noqa: N803
        """Calibrated probabilities, shape (n, 2): columns P(y=0), P(y=1)."""
        check_is_fitted(self)
        matrix = self._matrix_for_prediction(X)
        score = self._raw_score(matrix)
        if self.calibrator_ is None:
            positive = expit(score)
        else:
            positive = np.asarray(self.calibrator_.predict(score), dtype=np.float64)
        positive = np.clip(positive, 0.0, 1.0)
        if not np.isfinite(positive).all():
            raise FloatingPointError("the model produced non-finite probabilities")
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: ArrayLike | pa.Table) -> NDArray[np.int_]:  # noqa: N803
        """The more probable class (1 where the calibrated P(y=1) exceeds 0.5)."""
        return np.asarray(self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(np.intp)])

    def importances(self) -> list[tuple[str, float]]:
        """(feature name, share of the split gain), largest first."""
        check_is_fitted(self)
        pairs = zip(
            self.feature_names_in_.tolist(), self.feature_importances_.tolist(), strict=True
        )
        return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))

    def _raw_score(self, matrix: NDArray[np.floating[Any]]) -> FloatArray:
        """The trees' log-odds, from the best iteration."""
        return np.asarray(
            self.booster_.predict(
                matrix,
                raw_score=True,
                num_iteration=self.best_iteration_,
                num_threads=_threads(self.n_jobs, len(matrix)),
            ),
            dtype=np.float64,
        )

    def _matrix_for_prediction(self, X: ArrayLike | pa.Table) -> NDArray[np.floating[Any]]:  # noqa: N803
        """X as the fitted features: a Table's columns by name, a matrix's by position."""
        names: list[str] = self.feature_names_in_.tolist()
        if isinstance(X, pa.Table):
            return _features(X, names)[0]
        matrix = _features(X, None)[0]
        if matrix.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {matrix.shape[1]} features, the model was fitted on {self.n_features_in_}"
            )
        return matrix

    def _lightgbm_params(self, seed: int, rows: int) -> dict[str, Any]:
        """LightGBM's parameters for binary log-loss boosting."""
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "num_threads": _threads(self.n_jobs, rows),
            "seed": seed,
            "verbose": -1,
            # Same data and seed, same model; column-wise histograms are also what LightGBM
            # picks for ~1M rows x ~60 features, without spending time testing both layouts.
            "deterministic": True,
            "force_col_wise": True,
        }

    def _check_hyperparameters(self) -> None:
        """A ValueError naming the first hyperparameter out of range."""
        checks = (
            (
                "n_estimators",
                _is_int(self.n_estimators) and self.n_estimators >= 1,
                "an integer >= 1",
            ),
            ("learning_rate", _is_number(self.learning_rate) and self.learning_rate > 0, "> 0"),
            ("num_leaves", _is_int(self.num_leaves) and self.num_leaves >= 2, "an integer >= 2"),
            (
                "min_child_samples",
                _is_int(self.min_child_samples) and self.min_child_samples >= 1,
                "an integer >= 1",
            ),
            (
                "calibration",
                self.calibration in ("isotonic", "sigmoid"),
                "'isotonic' or 'sigmoid'",
            ),
            (
                "calibration_share",
                _is_number(self.calibration_share) and 0 < self.calibration_share < 1,
                "strictly between 0 and 1",
            ),
            (
                "early_stopping_rounds",
                self.early_stopping_rounds is None
                or (_is_int(self.early_stopping_rounds) and self.early_stopping_rounds >= 1),
                "None or an integer >= 1",
            ),
            (
                "n_jobs",
                _is_int(self.n_jobs) and self.n_jobs != 0,
                "a non-zero integer (-1: every core)",
            ),
            (
                "random_state",
                self.random_state is None or _is_int(self.random_state),
                "None or an integer",
            ),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or (isinstance(value, float | np.floating) and bool(np.isfinite(value)))


def _threads(n_jobs: int, rows: int) -> int:
    """LightGBM's threads: n_jobs (-1: every core), but at most one per ROWS_PER_THREAD rows.

    On small data each parallel region is short and OpenMP's threads spend their time at
    barriers; on a loaded 2-core machine 2 threads fitted 200k x 60 rows 3x slower than 1.
    """
    wanted = n_jobs if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, min(wanted, rows // ROWS_PER_THREAD))


def _features(
    X: ArrayLike | pa.Table,  # noqa: N803 (scikit-learn's name)
    feature_names: Sequence[str] | None,
) -> tuple[NDArray[np.floating[Any]], list[str]]:
    """A checked 2-D float matrix (float32 kept, else float64; NaN allowed) and column names.

    A Table gives its numeric columns (nulls become NaN), all or those named, in that order;
    a matrix's columns are named by feature_names, else x0, x1, ...
    """
    if isinstance(X, pa.Table):
        names = list(X.column_names) if feature_names is None else list(feature_names)
        _check_names(names)
        missing = [name for name in names if name not in X.column_names]
        if missing:
            raise ValueError(f"X lacks the feature columns {missing}")
        matrix: NDArray[np.floating[Any]] = np.empty((X.num_rows, len(names)))
        for j, name in enumerate(names):
            column = X.column(name)
            if not (
                pa.types.is_integer(column.type)
                or pa.types.is_floating(column.type)
                or pa.types.is_boolean(column.type)
                or pa.types.is_decimal(column.type)
            ):
                raise ValueError(f"feature column {name!r} must be numeric, got {column.type}")
            matrix[:, j] = column.cast(pa.float64()).to_numpy()
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"X must be two-dimensional (rows x features), got {array.shape}")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got dtype {array.dtype}")
        dtype = np.float32 if array.dtype == np.float32 else np.float64
        matrix = np.ascontiguousarray(array, dtype=dtype)
        if feature_names is None:
            names = [f"x{j}" for j in range(matrix.shape[1])]
        else:
            names = list(feature_names)
            _check_names(names)
            if len(names) != matrix.shape[1]:
                raise ValueError(
                    f"feature_names has {len(names)} names, X {matrix.shape[1]} columns"
                )
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"X must have at least one row and one feature, got {matrix.shape}")
    infinite = np.isinf(matrix).any(axis=0)
    if infinite.any():
        bad = [names[j] for j in np.flatnonzero(infinite)]
        raise ValueError(f"X has infinite values in features {bad} (NaN means missing; inf is not)")
    return matrix, names


def _check_names(names: list[str]) -> None:
    """Feature names must be distinct strings."""
    if not all(isinstance(name, str) for name in names):
        raise ValueError("feature_names must be strings")
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"feature_names repeat {duplicates}")


def _labels(y: ArrayLike, n: int) -> NDArray[np.int8]:
    """Labels as 0/1 bytes, or a ValueError: one-dimensional, n long, no NaN, only 0 and 1."""
    array = np.asarray(y)
    if array.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {array.shape}")
    if len(array) != n:
        raise ValueError(f"X has {n} rows, y {len(array)}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"y must be binary labels (0/1 or bool), got dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        rows = np.flatnonzero(~np.isfinite(array))
        raise ValueError(f"y has {len(rows)} NaN or infinite labels, first at row {rows[0]}")
    binary = (array == 0) | (array == 1)
    if not binary.all():
        others = np.unique(array[~binary])[:5].tolist()
        raise ValueError(f"y must be binary (0/1 or bool), also found {others}")
    return array.astype(np.int8)


def _sample_weight(sample_weight: ArrayLike | None, n: int) -> FloatArray:
    """Row weights: ones if not given; one-dimensional, n long, finite, >= 0, not all 0."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero")
    return w


def _stratified_split(
    labels: NDArray[np.int8], share: float, rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row indices (sorted) to train on and to hold out: about `share` of each class held out.

    Each class keeps at least one training row and, if it has two or more, holds out at
    least one, so rare classes reach both parts.
    """
    held: list[NDArray[np.intp]] = []
    for value in (0, 1):
        rows = np.flatnonzero(labels == value)
        count = min(len(rows) - 1, max(1, round(share * len(rows))))
        held.append(rng.permutation(rows)[:count])
    held_out = np.sort(np.concatenate(held))
    keep = np.ones(len(labels), dtype=bool)
    keep[held_out] = False
    return np.flatnonzero(keep), held_out
