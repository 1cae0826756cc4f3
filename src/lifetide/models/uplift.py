"""Uplift models: who responds to a promotion because of it, learned from a randomized test.

A propensity model says who will buy; an uplift model says whose buying the promotion changes,
tau(x) = P(y=1 | x, treated) - P(y=1 | x, control). Targeting by tau spends the discount on
the persuadable, not on customers who would buy anyway (or who are put off by it). Two classic
approaches on top of any probabilistic classifier (LightGBM by default):

- **Two models** (the "T-learner"): one classifier on the treated customers, one on the
  control group; the uplift is the difference of their probabilities. Hansotia, B. and
  Rukstales, B. (2002), "Incremental value modeling", Journal of Interactive Marketing 16(3),
  35-46; Kunzel, S. R., Sekhon, J. S., Bickel, P. J. and Yu, B. (2019), "Metalearners for
  estimating heterogeneous treatment effects using machine learning", PNAS 116(10), 4156-4165.
- **Class transformation**: one classifier of z = 1 when (treated and responded) or (control
  and did not respond). With half the customers treated, 2 P(z=1 | x) - 1 = tau(x).
  Jaskowski, M. and Jaroszewicz, S. (2012), "Uplift modeling for clinical trial data", ICML
  2012 Workshop on Clinical Data Analysis. Other treated shares p are reweighted to one half
  (treated rows weigh 1/(2p), control rows 1/(2(1-p))), which makes 2 P(z=1 | x) - 1 the
  conditional mean of Athey & Imbens' transformed outcome y (t/p - (1-t)/(1-p)), again tau(x):
  Athey, S. and Imbens, G. W. (2015), "Machine Learning Methods for Estimating Heterogeneous
  Causal Effects", arXiv:1504.01132 (Section 4.1).

Both assume the treatment was assigned at random (independent of x), as in an A/B test or a
holdout; on observational data their estimates are confounded. Evaluate them with a Qini curve
(lifetide.models.qini) on customers held out of the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def default_classifier() -> Any:
    """The classifier used when none is given: small, strongly regularized LightGBM trees.

    Uplift is a small difference of two probabilities, so variance is the enemy: few shallow
    trees with many customers per leaf. One thread, because on tens of thousands of rows
    LightGBM's threads wait on each other more than they work (see propensity.py).
    """
    return lgb.LGBMClassifier(
        n_estimators=50,
        learning_rate=0.05,
        num_leaves=4,
        min_child_samples=500,
        reg_lambda=1.0,
        n_jobs=1,
        random_state=0,
        deterministic=True,
        force_col_wise=True,
        verbose=-1,
    )


class _UpliftModel(BaseEstimator):  # type: ignore[misc]
    """What both approaches share: input checks, the base classifier, feature bookkeeping."""

    estimator: Any

    def predict_uplift(self, X: ArrayLike | pa.Table) -> FloatArray:  # noqa: N803 (sklearn's name)
        """Estimated lift in P(outcome) from treating each row's customer (may be < 0)."""
        raise NotImplementedError

    def predict(self, X: ArrayLike | pa.Table) -> FloatArray:  # noqa: N803
        """The estimated uplift of each row (the same as predict_uplift)."""
        return self.predict_uplift(X)

    def _base(self) -> Any:
        """An unfitted copy of the classifier to build on (the default if none was given)."""
        if self.estimator is None:
            return default_classifier()
        if not all(
            hasattr(self.estimator, name) for name in ("fit", "predict_proba", "get_params")
        ):
            raise ValueError(
                "estimator must be a scikit-learn style classifier with fit, predict_proba "
                f"and get_params, got {type(self.estimator).__name__}"
            )
        return clone(self.estimator)

    def _training_data(
        self,
        X: ArrayLike | pa.Table,  # noqa: N803
        y: ArrayLike,
        treatment: ArrayLike,
    ) -> tuple[FloatArray, list[str] | None, NDArray[np.int8], BoolArray]:
        """Checked features, their names (None for a plain matrix), 0/1 labels, treated flags."""
        matrix, names = _features(X, None)
        n = matrix.shape[0]
        labels = _binary(y, "y", n)
        treated = _binary(treatment, "treatment", n) == 1
        if treated.all() or not treated.any():
            group = "control" if treated.all() else "treated"
            raise ValueError(f"treatment has no {group} rows: uplift needs both groups")
        return matrix, names, labels, treated

    def _remember_features(self, matrix: FloatArray, names: list[str] | None) -> None:
        """Record what prediction must match; called once a fit has succeeded."""
        self.n_features_in_ = matrix.shape[1]
        self.feature_names_ = names

    def _prediction_data(self, X: ArrayLike | pa.Table) -> FloatArray:  # noqa: N803
        """X as the fitted features: by name when names are known, else by position."""
        check_is_fitted(self)
        matrix, _ = _features(X, self.feature_names_)
        if matrix.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {matrix.shape[1]} features, the model was fitted on {self.n_features_in_}"
            )
        return matrix


class TwoModelUplift(_UpliftModel):
    """Uplift as the difference of two classifiers, one per group (the T-learner).

    Hansotia & Rukstales (2002); Kunzel et al. (2019). `fit(X, y, treatment)` fits a clone of
    `estimator` (default: default_classifier()) on the treated rows and another on the control
    rows; `predict_uplift(X)` is P(y=1 | x, treated) - P(y=1 | x, control).

    Learned: `treated_model_`, `control_model_`, `treatment_share_` (share of treated rows),
    `n_features_in_`, `feature_names_` (column names of a table or data frame, else None).
    Simple and strong when each group is large; each model is fitted for the outcome, not the
    difference, so with few rows the difference is noisy.
    """

    def __init__(self, estimator: Any = None) -> None:
        """Set the classifier to clone for each group (None: default_classifier())."""
        self.estimator = estimator

    def fit(
        self,
        X: ArrayLike | pa.Table,  # noqa: N803
        y: ArrayLike,
        treatment: ArrayLike,
    ) -> Self:
        """Fit one classifier on the treated rows and one on the control rows."""
        matrix, names, labels, treated = self._training_data(X, y, treatment)
        for group, rows in (("treated", treated), ("control", ~treated)):
            _check_both_classes(labels[rows], group)
        self.treated_model_ = self._base().fit(matrix[treated], labels[treated])
        self.control_model_ = self._base().fit(matrix[~treated], labels[~treated])
        self.treatment_share_ = float(treated.mean())
        self._remember_features(matrix, names)
        return self

    def predict_uplift(self, X: ArrayLike | pa.Table) -> FloatArray:  # noqa: N803
        """P(y=1 | x, treated) - P(y=1 | x, control) for each row, in [-1, 1]."""
        matrix = self._prediction_data(X)
        treated = _positive_probability(self.treated_model_, matrix)
        control = _positive_probability(self.control_model_, matrix)
        return treated - control


class ClassTransformationUplift(_UpliftModel):
    """Uplift from one classifier of the transformed class z (Jaskowski & Jaroszewicz 2012).

    z = 1 for treated responders and control non-responders. `fit(X, y, treatment)` fits a
    clone of `estimator` (default: default_classifier()) to z, with treated rows weighted
    1/(2p) and control rows 1/(2(1-p)) so both groups weigh half; then
    `predict_uplift(X)` = 2 P(z=1 | x) - 1, the conditional mean of Athey & Imbens' (2015)
    transformed outcome. p is `treatment_share`, the designed share of treated customers, or
    (None) the share among the rows fitted on. The estimator must accept sample_weight.

    Learned: `model_`, `treatment_share_` (the p used), `n_features_in_`, `feature_names_`.
    One model aims at the difference directly, but with a rare outcome z is almost "not
    treated", a coin flip the classifier then spends itself on (see docs/uplift.md).
    """

    def __init__(self, estimator: Any = None, treatment_share: float | None = None) -> None:
        """Set the classifier (None: default_classifier()) and the designed treated share."""
        self.estimator = estimator
        self.treatment_share = treatment_share

    def fit(
        self,
        X: ArrayLike | pa.Table,  # noqa: N803
        y: ArrayLike,
        treatment: ArrayLike,
    ) -> Self:
        """Fit the classifier to the transformed class z, the groups weighted to one half each."""
        share = self.treatment_share
        if share is not None and (
            isinstance(share, bool) or not isinstance(share, float | int) or not 0 < share < 1
        ):
            raise ValueError(
                f"treatment_share must be None or strictly between 0 and 1, got {share!r}"
            )
        matrix, names, labels, treated = self._training_data(X, y, treatment)
        p = float(treated.mean()) if share is None else float(share)
        z = (labels == treated).astype(np.int8)
        _check_both_classes(z, "transformed (z)")
        base = self._base()
        if not has_fit_parameter(base, "sample_weight"):
            raise ValueError(
                f"estimator {type(base).__name__} does not accept sample_weight, which the "
                "class transformation needs to weigh both groups equally"
            )
        weight = np.where(treated, 0.5 / p, 0.5 / (1 - p))
        self.model_ = base.fit(matrix, z, sample_weight=weight)
        self.treatment_share_ = p
        self._remember_features(matrix, names)
        return self

    def predict_uplift(self, X: ArrayLike | pa.Table) -> FloatArray:  # noqa: N803
        """2 P(z=1 | x) - 1 for each row, in [-1, 1]: the estimated lift in P(y=1)."""
        matrix = self._prediction_data(X)
        return 2.0 * _positive_probability(self.model_, matrix) - 1.0


def _positive_probability(model: Any, matrix: FloatArray) -> FloatArray:
    """A fitted classifier's probability of class 1 for each row."""
    classes = list(model.classes_)
    probability = np.asarray(model.predict_proba(matrix), dtype=np.float64)
    return np.ascontiguousarray(probability[:, classes.index(1)])


def _check_both_classes(labels: NDArray[np.int8], group: str) -> None:
    """A ValueError when a group's labels are all 0 or all 1: there is nothing to learn."""
    if labels.min() == labels.max():
        raise ValueError(
            f"the {group} rows have only one outcome (all {int(labels[0])}, {len(labels)} rows): "
            "a classifier cannot be fitted to them"
        )


def _binary(values: ArrayLike, name: str, n: int) -> NDArray[np.int8]:
    """0/1 labels or a ValueError: one-dimensional, n long, numeric or boolean, only 0 and 1."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if len(array) != n:
        raise ValueError(f"X has {n} rows, {name} {len(array)}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be 0/1 or booleans, got dtype {array.dtype}")
    binary = (array == 0) | (array == 1)
    if not binary.all():
        rows = np.flatnonzero(~binary)
        raise ValueError(
            f"{name} must be 0/1 or booleans, found {array[rows[0]].item()!r} at row {rows[0]}"
        )
    return array.astype(np.int8)


def _features(
    X: ArrayLike | pa.Table,  # noqa: N803
    expected: Sequence[str] | None,
) -> tuple[FloatArray, list[str] | None]:
    """A finite-or-NaN float matrix and its column names (None for a plain array).

    A pyarrow Table gives its numeric columns (the `expected` ones, in that order, when the
    model was fitted on names); a pandas data frame must have the fitted columns in order.
    """
    if isinstance(X, pa.Table):
        names = list(X.column_names) if expected is None else list(expected)
        missing = [name for name in names if name not in X.column_names]
        if missing:
            raise ValueError(f"X lacks the feature columns {missing}")
        matrix = np.empty((X.num_rows, len(names)))
        for j, name in enumerate(names):
            column = X.column(name)
            if not (
                pa.types.is_integer(column.type)
                or pa.types.is_floating(column.type)
                or pa.types.is_boolean(column.type)
                or pa.types.is_decimal(column.type)
            ):
                raise ValueError(f"feature column {name!r} must be numeric, got {column.type}")
            matrix[:, j] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        found: list[str] | None = names
    else:
        columns = getattr(X, "columns", None)
        found = None if columns is None else [str(name) for name in columns]
        if found is not None and expected is not None and found != list(expected):
            raise ValueError(f"X has the columns {found}, the model was fitted on {list(expected)}")
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"X must be two-dimensional (rows x features), got {array.shape}")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got dtype {array.dtype}")
        matrix = np.asarray(array, dtype=np.float64)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"X must have at least one row and one feature, got {matrix.shape}")
    infinite = np.isinf(matrix).any(axis=0)
    if infinite.any():
        raise ValueError(
            f"X has infinite values in columns {np.flatnonzero(infinite).tolist()} "
            "(NaN means missing; inf is not)"
        )
    return matrix, found
