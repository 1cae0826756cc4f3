"""One experiment's page: its arms, conversion and revenue per customer, verdict and progress.

An experiment is known by its key (experiments.holdouts, journeys.steps): the global control
group, a journey's holdout, or a journey's random split. Its customers are its exposures (the
copy in the warehouse); each one's outcome is what she ordered from her first exposure to the
end of the period: whether she ordered (conversion) and what she spent (revenue per customer,
zero for those who did not buy). The arms' sums come back from the warehouse, one row per arm,
and the statistics (experiments.analysis) run on those.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from lifetide.context import Lifetide
from lifetide.experiments.analysis import (
    OutcomeResult,
    SampleRatio,
    analyze_conversion,
    analyze_revenue_summary,
    sample_ratio,
)
from lifetide.experiments.holdouts import GLOBAL, HELD_OUT, TREATED
from lifetide.experiments.stats import sample_size
from lifetide.journeys.definition import Split
from lifetide.journeys.steps import arm_name
from lifetide.journeys.store import JourneyNotFound, JourneyStore
from lifetide.measure.lift import arm_revenue, summaries
from lifetide.measure.placed import orders_by_profile
from lifetide.measure.queries import Period, placed_in
from lifetide.measure.tables import EXPOSURES

_JOURNEY_KEY = re.compile(r"journey-(?P<journey>\d+)-(?:(?P<holdout>holdout)|split-(?P<step>.+))")


class UnknownExperiment(LookupError):
    """No experiment has this key."""


@dataclass(frozen=True)
class Experiment:
    """What an experiment is: its kind, what it tests, its arms' planned weights and size."""

    key: str
    kind: str  # global_holdout | journey_holdout | split
    title: str
    control: str
    weights: dict[str, float] | None
    journey_id: int | None = None
    step: str | None = None
    planned: int | None = None
    plan_text: str | None = None


@dataclass(frozen=True)
class ExperimentReport:
    """An experiment's figures over a period."""

    experiment: Experiment
    period: Period
    customers: dict[str, int]
    conversion: OutcomeResult | None
    revenue: OutcomeResult | None
    sample_ratio: SampleRatio | None
    warnings: tuple[str, ...] = field(default=())

    @property
    def progress(self) -> float | None:
        """The smallest arm's share of the planned size (1.0 once every arm has it)."""
        if self.experiment.planned is None:
            return None
        smallest = min((self.customers.get(a, 0) for a in self.arms), default=0)
        return min(1.0, smallest / self.experiment.planned)

    @property
    def arms(self) -> list[str]:
        """The arms, control first."""
        names = list(self.experiment.weights or self.customers)
        rest = [a for a in self.customers if a not in names]
        ordered = [*names, *rest]
        control = self.experiment.control
        return [control, *[a for a in ordered if a != control]] if control in ordered else ordered


def experiment(app: Lifetide, key: str) -> Experiment:
    """The experiment called `key`; UnknownExperiment if no journey or holdout has it."""
    if key == GLOBAL:
        percent = app.settings.global_holdout_percent
        return Experiment(
            GLOBAL,
            "global_holdout",
            "Global control group: all marketing against none",
            HELD_OUT,
            {HELD_OUT: percent, TREATED: 100 - percent} if 0 < percent < 100 else None,
        )
    found = _JOURNEY_KEY.fullmatch(key)
    if found is None:
        raise UnknownExperiment(f"no experiment is called {key!r}")
    journey_id = int(found["journey"])
    store = JourneyStore(app.sessions, app.clock)
    try:
        record = store.get(journey_id)
        definition = store.definition_of(journey_id, record.version)
    except JourneyNotFound:
        raise UnknownExperiment(
            f"experiment {key!r}: journey {journey_id} does not exist"
        ) from None
    if found["holdout"]:
        percent = definition.holdout
        return Experiment(
            key,
            "journey_holdout",
            f"{record.name}: its marketing against its holdout",
            HELD_OUT,
            {HELD_OUT: percent, TREATED: 100 - percent} if percent > 0 else None,
            journey_id,
        )
    step_id = found["step"]
    step = definition.steps.get(step_id)
    if not isinstance(step, Split):
        raise UnknownExperiment(f"experiment {key!r}: {record.name} has no split step {step_id!r}")
    names = [arm_name(step, i) for i in range(len(step.paths))]
    weights: dict[str, float] = {}
    for name, path in zip(names, step.paths, strict=True):
        weights[name] = weights.get(name, 0.0) + path.weight
    planned = plan_text = None
    if step.plan is not None:
        plan = step.plan
        planned = sample_size(
            plan.minimum_lift, baseline=plan.baseline_rate, relative=True, power=plan.power
        )
        plan_text = (
            f"sized to find a {plan.minimum_lift:.0%} better rate than {plan.baseline_rate:.1%} "
            f"with {plan.power:.0%} power at 5% significance: {planned:,} customers per arm"
        )
    return Experiment(
        key,
        "split",
        f"{record.name}: split test at step {step_id} ({' vs '.join(names)})",
        "control" if "control" in names else names[0],
        weights,
        journey_id,
        step_id,
        planned,
        plan_text,
    )


def experiment_keys(app: Lifetide, journey_id: int | None = None) -> list[tuple[str, int]]:
    """Experiments with exposures (of one journey, or all), with their customers."""
    exposures = app.warehouse.thread_backend().table(EXPOSURES)
    if journey_id is not None:
        prefix = f"journey-{journey_id}-"
        exposures = exposures.filter(exposures.experiment.startswith(prefix))
    counts = exposures.group_by("experiment").aggregate(customers=exposures.count())
    rows = counts.order_by("experiment").to_pyarrow().to_pylist()
    return [(r["experiment"], int(r["customers"])) for r in rows]


def report(app: Lifetide, key: str, period: Period | None = None) -> ExperimentReport:
    """The experiment's figures: customers exposed before the period's end, outcomes in it.

    Without a period: from its first exposure up to now.
    """
    about = experiment(app, key)
    backend = app.warehouse.thread_backend()
    exposures = backend.table(EXPOSURES)
    if period is None:
        mine = exposures.filter(exposures.experiment == key)
        first = mine.first_at.min().to_pyarrow().as_py()
        now = app.clock.now().astimezone(dt.UTC).replace(tzinfo=None)
        period = Period(
            min(first, now - dt.timedelta(days=1)) if first else now - dt.timedelta(days=30), now
        )
    orders = placed_in(orders_by_profile(app.warehouse), period)
    rows = arm_revenue(exposures, orders, key, [period]).to_pyarrow().to_pylist()
    arms = summaries(rows)
    customers = {arm: a.customers for arm, a in arms.items()}
    warnings: list[str] = []
    ratio = None
    if about.weights is not None and customers:
        unknown = sorted(set(customers) - set(about.weights))
        if unknown:
            warnings.append(
                f"arms {', '.join(unknown)} are no longer in the journey: the sample-ratio "
                "check is skipped"
            )
        elif sum(customers.values()) > 0:
            counts = {arm: customers.get(arm, 0) for arm in about.weights}
            ratio = sample_ratio(counts, about.weights)
            if ratio.mismatch:
                warnings.append(
                    "sample-ratio mismatch: the arms' sizes are far from their planned weights "
                    f"(p = {ratio.p_value:.2g}); assignment or exposure recording looks broken, "
                    "so do not trust the comparison"
                )
    conversion = revenue = None
    enough = (
        about.control in arms and len(arms) >= 2 and all(a.customers >= 2 for a in arms.values())
    )
    if enough:
        conversion = analyze_conversion(
            "ordered",
            {arm: (a.buyers, a.customers) for arm, a in arms.items()},
            control=about.control,
            planned=about.planned,
        )
        revenue = analyze_revenue_summary(
            "revenue per customer",
            {arm: (a.customers, a.mean, a.variance) for arm, a in arms.items()},
            control=about.control,
            planned=about.planned,
        )
    else:
        warnings.append("not enough data: every arm needs at least 2 customers exposed")
    return ExperimentReport(about, period, customers, conversion, revenue, ratio, tuple(warnings))
