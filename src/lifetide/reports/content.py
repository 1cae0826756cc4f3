"""What the model report shows: the data structures the scoring pipeline fills.

Every section may be left out: `None`, or `Unavailable(reason)` to say why; the report then
shows "not available: <reason>".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple, TypeAlias, TypeVar

from numpy.typing import ArrayLike

from lifetide.models.diagnostics import ConditionalExpectations, TrackingCurve
from lifetide.models.evaluation import TopShareResult
from lifetide.models.fitting import FittedModel


@dataclass(frozen=True)
class Unavailable:
    """A section left out, and why (shown as "not available: <reason>")."""

    reason: str


@dataclass(frozen=True)
class DataSummary:
    """What the models were fitted on: customers, those who bought, orders and dates."""

    customers: int
    buyers: int
    orders: int
    first_order: date
    last_order: date


class ParameterRow(NamedTuple):
    """One fitted parameter: estimate, standard error and a 95% interval."""

    name: str
    estimate: float
    standard_error: float
    lower: float
    upper: float


@dataclass(frozen=True)
class ModelParameters:
    """A fitted model's parameters, with its log-likelihood and sample size if known."""

    model: str
    rows: Sequence[ParameterRow]
    log_likelihood: float | None = None
    n_customers: float | None = None
    converged: bool | None = None

    @classmethod
    def of(cls, model: str, fitted: FittedModel) -> ModelParameters:
        """The summary of a fitted BGNBD, ParetoNBD or GammaGamma."""
        rows = [
            ParameterRow(
                str(r["parameter"]),
                float(r["estimate"]),
                float(r["standard_error"]),
                float(r["lower_95"]),
                float(r["upper_95"]),
            )
            for r in fitted.summary.to_pylist()
        ]
        return cls(
            model, rows, fitted.log_likelihood_, fitted.n_customers_, bool(fitted.converged_)
        )


@dataclass(frozen=True)
class ClassifierEvaluation:
    """A propensity classifier on its time-split test set.

    `y_true` holds the test outcomes (0/1), `probability` the calibrated predictions; `auc`
    is computed from them when not given. `feature_importance` lists (feature, share of the
    total importance).
    """

    name: str
    y_true: ArrayLike
    probability: ArrayLike
    auc: float | None = None
    feature_importance: Sequence[tuple[str, float]] = ()


@dataclass(frozen=True)
class TopShareComparison:
    """Who will be the top customers next period: the model against a naive rule."""

    model: TopShareResult
    naive: TopShareResult
    share: float = 0.2
    naive_label: str = "Last year's top 20% by spend"


@dataclass(frozen=True)
class RecommendationMetrics:
    """Offline ranking quality of one recommender on one data set, at cut-off k."""

    dataset: str
    method: str
    precision: float
    recall: float
    ndcg: float
    k: int = 10


T = TypeVar("T")
Section: TypeAlias = T | Unavailable | None


@dataclass(frozen=True)
class ModelsReport:
    """Everything the model report shows; any section may be None or Unavailable."""

    title: str
    as_of: date
    data: Section[DataSummary] = None
    bgnbd: Section[ModelParameters] = None
    gamma_gamma: Section[ModelParameters] = None
    pareto_nbd: Section[ModelParameters] = None
    tracking: Section[TrackingCurve] = None
    conditional: Section[ConditionalExpectations] = None
    classifiers: Section[Sequence[ClassifierEvaluation]] = None
    top_share: Section[TopShareComparison] = None
    lifecycle: Section[Mapping[str, int]] = None
    recommendations: Section[Sequence[RecommendationMetrics]] = None
    notes: Sequence[str] = field(default_factory=tuple)
