"""`lifetide score`: features, every model, and the tables segments and journeys read.

The stages run in order, each reporting progress: profiles are copied in, feature tables
are built as of the scoring date and of the earlier cut-offs the time splits need, then
lifetime value, the future top 20%, the two propensities, preferences, replenishment,
recommendations and lifecycle. Every figure a stage measures on held-out data goes to the
run record and the model report.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from lifetide.context import Lifetide
from lifetide.models.lifecycle import LifecycleThresholds
from lifetide.reports.store import save_report
from lifetide.scoring import features as feat
from lifetide.scoring.lifecycle import lifecycle
from lifetide.scoring.lifetime import fit_lifetime, predict_lifetime, spread
from lifetide.scoring.outputs import predictions_table, top_categories
from lifetide.scoring.prefs import preferences
from lifetide.scoring.profiles import sync_profiles
from lifetide.scoring.propensities import Evaluation, feature_names, matrix, propensity
from lifetide.scoring.recommend import recommendations
from lifetide.scoring.replenish import replenishment
from lifetide.scoring.report import build_report
from lifetide.scoring.tables import append_run, floats, nullable, replace_table
from lifetide.scoring.tops import TopShareEvaluation, evaluate_top_share

OnStage = Callable[[str, int, int], None]
PURCHASE_DAYS = 30
RETURN_DAYS = 90
TOP_SHARE_DAYS = 365
# A cut-off needs this much purchase history before it to learn anything from.
MIN_HISTORY_DAYS = 90


class ScoreError(Exception):
    """Scoring cannot run on this input; the message says why and what to do."""


@dataclass(frozen=True)
class ScoreOptions:
    """What to score and how."""

    as_of: dt.date
    clv_months: int = 12
    annual_discount_rate: float = 0.10
    recommendations: int = 10
    evaluate: bool = True


@dataclass
class ScoreResult:
    """What a run did: counts, seconds per stage, notes and held-out figures."""

    as_of: dt.date
    profiles: int = 0
    buyers: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def _nothing(stage: str, done: int, total: int) -> None:
    return None


class Scorer:
    """Runs every scoring stage against one Lifetide's stores."""

    def __init__(
        self, app: Lifetide, options: ScoreOptions, on_stage: OnStage | None = None
    ) -> None:
        self.app = app
        self.options = options
        self.on_stage = on_stage or _nothing
        self.result = ScoreResult(options.as_of)
        self.thresholds = LifecycleThresholds(**dict[str, Any](app.settings.lifecycle_thresholds))
        self._features: dict[dt.date, pa.Table] = {}

    def _timed(self, stage: str, started: float) -> None:
        self.result.seconds[stage] = round(time.perf_counter() - started, 2)
        self.on_stage(stage, 1, 1)

    def run(self) -> ScoreResult:
        """Score every profile as of the options' date and write the tables."""
        app, options, result = self.app, self.options, self.result
        today = app.clock.now().date()
        if options.as_of > today:
            raise ScoreError(f"--as-of {options.as_of} is in the future (today is {today})")
        run_started = app.clock.now()
        wall = time.perf_counter()

        started = time.perf_counter()
        self.on_stage("profiles", 0, 1)
        with app.sessions() as session:
            result.profiles = sync_profiles(session, app.warehouse)
        self._timed("profiles", started)

        started = time.perf_counter()
        cats = feat.categories(app.warehouse)
        cuts = self._cuts()
        self.on_stage("features", 0, len(cuts) + 1)
        self._inputs = feat.materialize(
            app.warehouse, feat.bases(app.warehouse, options.as_of, min(cuts))
        )
        for i, cut in enumerate(cuts):
            self.on_stage("features", i + 1, len(cuts) + 1)
            self._features[cut] = (
                feat.customer_features(app.warehouse, cut, cats, self._inputs)
                .order_by("profile_id")
                .to_pyarrow()
            )
        self._timed("features", started)
        now = self._features[options.as_of]
        orders = now.column("orders").to_numpy()
        result.buyers = int((orders > 0).sum())
        later = self._future_orders()
        if later:
            result.notes.append(
                f"{later:,} orders dated after {options.as_of} were left out (the future)"
            )

        started = time.perf_counter()
        self.on_stage("lifetime value", 0, 1)
        x, t_x, big_t, monetary = (floats(now, c) for c in ("x", "t_x", "T", "monetary"))
        buyers = orders > 0
        models = fit_lifetime(
            x[buyers],
            t_x[buyers],
            big_t[buyers],
            monetary[buyers],
            floats(now, "average_order_value")[buyers],
        )
        result.notes.extend(models.notes)
        # The lifetime models describe customers after their first purchase: prospects get
        # null, not a number the models never meant.
        life = spread(
            predict_lifetime(
                models,
                x[buyers],
                t_x[buyers],
                big_t[buyers],
                monetary[buyers],
                months=options.clv_months,
                annual_discount_rate=options.annual_discount_rate,
            ),
            buyers,
        )
        self._timed("lifetime value", started)

        started = time.perf_counter()
        self.on_stage("future top 20%", 0, 1)
        top: TopShareEvaluation | None = None
        cut = options.as_of - dt.timedelta(days=TOP_SHARE_DAYS)
        year_ago = self._features.get(cut)
        if options.evaluate and year_ago is None:
            result.notes.append(f"future top 20%: no purchase history before {cut}, no test")
        elif year_ago is not None:
            tested = evaluate_top_share(
                app.warehouse,
                year_ago,
                cut,
                months=options.clv_months,
                annual_discount_rate=options.annual_discount_rate,
                inputs=self._inputs,
            )
            if isinstance(tested, str):
                result.notes.append(f"future top 20%: {tested}")
            else:
                top = tested
                result.metrics["future_top20"] = top.metrics
        self._timed("future top 20%", started)

        names = feature_names(now)
        score_x = matrix(now, names)
        scores: dict[str, np.ndarray] = {}
        evaluations: list[Evaluation] = []
        for stage, column, days in (
            ("purchase propensity", "p_purchase_30d", PURCHASE_DAYS),
            ("return propensity", "p_return", RETURN_DAYS),
        ):
            started = time.perf_counter()
            self.on_stage(stage, 0, 1)
            outcome = "purchase" if column == "p_purchase_30d" else "return"
            windows = [self._window(cut, days, outcome, names) for cut in self._pair(days)]
            train, latest = windows if options.evaluate else (None, windows[1])
            found = propensity(stage, train, latest, latest, score_x, names)
            scores[column] = found.scores
            result.notes.extend(found.notes)
            if found.evaluation is not None:
                result.metrics[column] = {
                    "auc": found.evaluation.auc,
                    "base_rate": found.evaluation.base_rate,
                    "test_rows": found.evaluation.test_rows,
                }
                evaluations.append(found.evaluation)
            self._timed(stage, started)

        started = time.perf_counter()
        self.on_stage("preferences", 0, 1)
        prefs = preferences(app.warehouse, now, options.as_of, cats, self._inputs)
        self._timed("preferences", started)

        started = time.perf_counter()
        self.on_stage("replenishment", 0, 1)
        due = replenishment(app.warehouse, now, options.as_of, self._inputs)
        self._timed("replenishment", started)

        started = time.perf_counter()
        self.on_stage("recommendations", 0, 1)
        recs = recommendations(
            app.warehouse,
            now,
            options.as_of,
            options.recommendations,
            options.evaluate,
            self._inputs,
        )
        if recs.metrics:
            result.metrics["recommendations"] = recs.metrics
        result.notes.extend(recs.notes)
        self._timed("recommendations", started)

        started = time.perf_counter()
        self.on_stage("lifecycle", 0, 1)
        stages = lifecycle(now, life, models, self.thresholds)
        result.metrics["lifecycle"] = stages.counts
        self._timed("lifecycle", started)

        started = time.perf_counter()
        self.on_stage("writing", 0, 1)
        table = predictions_table(
            now,
            self._columns(now, cats, life, scores, stages.stages, prefs, due),
            options.as_of,
            run_started,
        )
        replace_table(app.warehouse, "predictions", table)
        replace_table(app.warehouse, "recommendations", recs.table)
        replace_table(app.warehouse, "bought_together", recs.together)
        replace_table(app.warehouse, "replenishment", due.table)
        replace_table(app.warehouse, "product_intervals", due.intervals)
        finished = app.clock.now()
        result.metrics["stage_seconds"] = dict(result.seconds)
        append_run(
            app.warehouse,
            {
                "as_of": options.as_of,
                "started_at": run_started,
                "finished_at": finished,
                "profiles": result.profiles,
                "buyers": result.buyers,
                "seconds": round(time.perf_counter() - wall, 2),
                "notes": json.dumps(result.notes),
                "metrics": json.dumps(result.metrics, default=float),
            },
        )
        self._timed("writing", started)

        started = time.perf_counter()
        self.on_stage("report", 0, 1)
        report = build_report(
            app.warehouse,
            options.as_of,
            result.profiles,
            result.buyers,
            models,
            top,
            evaluations,
            stages.counts,
            recs.metrics,
            result.notes,
            self._inputs,
        )
        save_report(report, app.settings.data_dir / "reports" / "models.json")
        self._timed("report", started)
        return result

    def _columns(
        self,
        now: pa.Table,
        cats: list[str],
        life: Any,
        scores: dict[str, np.ndarray],
        stages: np.ndarray,
        prefs: Any,
        due: Any,
    ) -> dict[str, Any]:
        """The model columns of the predictions table, in the documented order."""
        clv = life.clv_12m
        buyers = now.column("orders").to_numpy() > 0
        top20 = np.zeros(len(clv), dtype=bool)
        ranked = buyers & np.isfinite(clv)
        if ranked.any():
            threshold = np.quantile(clv[ranked], 1 - 0.2)
            top20 = ranked & (clv >= threshold)
        cats_list, first = top_categories(now, cats)
        return {
            "lifecycle_stage": pa.array(stages.astype(object), type=pa.string()),
            "p_alive": nullable(life.p_alive),
            "expected_orders_90d": nullable(life.expected_orders_90d),
            "expected_order_value": nullable(life.expected_order_value),
            "clv_12m": nullable(clv),
            "future_top20": pa.array(top20, mask=~np.isfinite(clv) & buyers),
            "p_purchase_30d": nullable(scores["p_purchase_30d"]),
            "p_return": nullable(scores["p_return"]),
            "discount_sensitivity": nullable(prefs.discount_sensitivity),
            "discount_class": pa.array(prefs.discount_class, type=pa.string()),
            "clearance_score": nullable(prefs.clearance_score),
            "price_tier": pa.array(prefs.price_tier, type=pa.string()),
            **prefs.category_tiers,
            "top_categories": cats_list,
            "top_category": first,
            "next_replenishment_due": due.next_due,
            "next_replenishment_product": due.next_product,
        }

    # --- cut-offs and windows -------------------------------------------------------------

    def _history_start(self) -> dt.date | None:
        orders = self.app.warehouse.table("orders")
        first = orders.filter(orders.status != "cancelled").ordered_at.min().to_pyarrow().as_py()
        return None if first is None else first.date()

    def _cuts(self) -> list[dt.date]:
        as_of = self.options.as_of
        cuts = [as_of]
        start = self._history_start()
        if start is None:
            return cuts
        wanted = {as_of - dt.timedelta(days=d) for d in (PURCHASE_DAYS, RETURN_DAYS)}
        if self.options.evaluate:
            wanted |= {
                as_of - dt.timedelta(days=d)
                for d in (2 * PURCHASE_DAYS, 2 * RETURN_DAYS, TOP_SHARE_DAYS)
            }
        usable = sorted(c for c in wanted if (c - start).days >= MIN_HISTORY_DAYS)
        return cuts + [c for c in usable if c != as_of]

    def _pair(self, days: int) -> list[dt.date]:
        as_of = self.options.as_of
        return [as_of - dt.timedelta(days=2 * days), as_of - dt.timedelta(days=days)]

    def _window(
        self, cut: dt.date, days: int, outcome: str, names: list[str]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(features as of `cut`, outcome in the `days` after), or None without that cut."""
        table = self._features.get(cut)
        if table is None:
            return None
        outcomes = feat.labels(self.app.warehouse, cut, days, self._inputs).to_pyarrow()
        joined = table.select(["profile_id", *names]).join(
            outcomes, "profile_id", join_type="left outer"
        )
        ordered = joined.sort_by("profile_id")
        bought = floats(ordered, "future_orders", fill=0.0) > 0
        if outcome == "purchase":
            return matrix(ordered, names), bought.astype(np.int8)
        returned = floats(ordered, "returned_items", fill=0.0) > 0
        return matrix(ordered, names)[bought], returned[bought].astype(np.int8)

    def features_as_of(self, cut: dt.date) -> pa.Table | None:
        """The feature table built for `cut`, if that cut-off was usable."""
        return self._features.get(cut)

    def _future_orders(self) -> int:
        orders = self.app.warehouse.table("orders")
        end = feat.AsOf(self.options.as_of).end
        return int(orders.filter(orders.ordered_at >= end).count().to_pyarrow().as_py())
