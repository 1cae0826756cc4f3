"""The model report's content, gathered from a scoring run and the warehouse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import numpy as np

from lifetide.models.diagnostics import conditional_expectations, tracking_curve
from lifetide.reports.models import (
    ClassifierEvaluation,
    DataSummary,
    ModelParameters,
    ModelsReport,
    RecommendationMetrics,
    TopShareComparison,
    Unavailable,
)
from lifetide.scoring.features import Bases, bases
from lifetide.scoring.lifetime import DAYS_PER_WEEK, LifetimeModels
from lifetide.scoring.propensities import Evaluation
from lifetide.scoring.tables import EPOCH, epoch_day
from lifetide.scoring.tops import HORIZON_DAYS, TopShareEvaluation
from lifetide.warehouse.connection import Warehouse

METHOD_NAMES = {
    "blend": "Lifetide (ALS + co-occurrence)",
    "als": "ALS only",
    "cooccurrence": "Co-occurrence only",
    "popularity": "Popularity baseline",
}


def _data_summary(bought: ir.Table, profiles: int, buyers: int) -> Any:
    row = (
        bought.agg(
            orders=bought.count(), first=bought.ordered_at.min(), last=bought.ordered_at.max()
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    if not row["orders"]:
        return Unavailable("no purchases before the scoring date")
    return DataSummary(profiles, buyers, row["orders"], row["first"].date(), row["last"].date())


def _tracking(bought: ir.Table, top: TopShareEvaluation, as_of: dt.date) -> Any:
    model = top.models.purchase
    if model is None:
        return Unavailable("no BG/NBD fit as of the calibration end")
    days = bought.select("profile_id", day=bought.day.delta(EPOCH, unit="day")).distinct()
    table = days.order_by(["profile_id", "day"]).to_pyarrow()
    profile = table.column("profile_id").to_numpy()
    day = table.column("day").to_numpy()
    customers, customer = np.unique(profile, return_inverse=True)
    first = np.full(len(customers), np.iinfo(np.int64).max)
    np.minimum.at(first, customer, day)
    return tracking_curve(
        model,
        first,
        customer,
        day,
        calibration_end_day=float(epoch_day(top.cut) + 1),
        holdout_end_day=float(epoch_day(as_of) + 1),
        time_unit_days=DAYS_PER_WEEK,
    )


def _conditional(top: TopShareEvaluation) -> Any:
    model = top.models.purchase
    if model is None:
        return Unavailable("no BG/NBD fit as of the calibration end")
    c = top.calibration
    return conditional_expectations(
        model,
        c["x"],
        c["t_x"],
        c["T"],
        c["holdout_purchase_days"],
        holdout_days=float(HORIZON_DAYS),
        time_unit_days=DAYS_PER_WEEK,
    )


def _parameters(name: str, fitted: Any, why: str) -> Any:
    return ModelParameters.of(name, fitted) if fitted is not None else Unavailable(why)


def build_report(
    warehouse: Warehouse,
    as_of: dt.date,
    profiles: int,
    buyers: int,
    models: LifetimeModels,
    top: TopShareEvaluation | None,
    evaluations: Sequence[Evaluation],
    lifecycle_counts: dict[str, int],
    recommendation_metrics: dict[str, dict[str, float]],
    notes: Sequence[str],
    inputs: Bases | None = None,
) -> ModelsReport:
    """Everything the model report shows for one scoring run.

    `inputs` (from `features.bases`, up to `as_of`) are the run's shared purchases.
    """
    bought = (inputs or bases(warehouse, as_of)).purchases
    no_test = Unavailable("no time-split test in this run (too little history, or --no-evaluate)")
    classifiers = [
        ClassifierEvaluation(e.name, e.y_true, e.probability, e.auc, e.importances)
        for e in evaluations
    ]
    recs = [
        RecommendationMetrics(
            "this shop (last 90 days held out)",
            METHOD_NAMES.get(method, method),
            m["precision"],
            m["recall"],
            m["ndcg"],
        )
        for method, m in recommendation_metrics.items()
    ]
    return ModelsReport(
        title="Lifetide model report",
        as_of=as_of,
        data=_data_summary(bought, profiles, buyers),
        bgnbd=_parameters("BG/NBD (time unit: weeks)", models.purchase, "not fit"),
        gamma_gamma=_parameters("Gamma-Gamma", models.spend, "not fit"),
        pareto_nbd=Unavailable(
            "not fit by `lifetide score` (its gradient is numerical; BG/NBD is the production "
            "model); see docs/benchmarks.md for the CDNOW comparison"
        ),
        tracking=_tracking(bought, top, as_of) if top else no_test,
        conditional=_conditional(top) if top else no_test,
        classifiers=classifiers or no_test,
        top_share=TopShareComparison(top.model, top.naive) if top else no_test,
        lifecycle=lifecycle_counts,
        recommendations=recs or no_test,
        notes=tuple(notes),
    )
