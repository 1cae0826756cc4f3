"""An experiment's page against statsmodels and a plain reading, on a real warehouse."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.experiments.holdouts import GLOBAL
from lifetide.journeys.files import parse_journey
from lifetide.journeys.store import JourneyStore
from lifetide.measure.experiment_report import (
    UnknownExperiment,
    experiment,
    experiment_keys,
    report,
)
from lifetide.measure.tables import EXPOSURES_SCHEMA
from lifetide.settings import Settings
from lifetide.warehouse.arrow import arrow_schema
from lifetide.warehouse.schema import ORDERS
from tests.measure.rows import PROFILE_KEYS, put

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
T = NOW.replace(tzinfo=None)
SPLIT = (
    "name: Offer test\n"
    "trigger: {type: event, event: {event: Signed Up}}\n"
    "start: ab\n"
    "steps:\n"
    "  ab:\n"
    "    type: split\n"
    "    paths: [{weight: 1, label: control}, {weight: 1, label: 15% off}]\n"
    "    plan: {baseline_rate: 0.2, minimum_lift: 0.2}\n"
)


@pytest.fixture
def shop(settings: Settings) -> Iterator[tuple[Lifetide, int, dict[int, float], dict[int, str]]]:
    rng = random.Random(11)
    with Lifetide(
        settings.model_copy(update={"global_holdout_percent": 10}), clock=ManualClock(NOW)
    ) as app:
        store = JourneyStore(app.sessions, app.clock)
        journey_id = store.create("Offer test", parse_journey(SPLIT), None).id
        key = f"journey-{journey_id}-split-ab"
        arms = {p: ("control" if rng.random() < 0.5 else "15% off") for p in range(1, 1201)}
        firsts = {p: T - dt.timedelta(days=rng.uniform(1, 20)) for p in arms}
        put(
            app,
            "profile_keys",
            [{"kind": "user_id", "value": f"u{p}", "profile_id": p} for p in arms],
            PROFILE_KEYS,
        )
        put(
            app,
            "exposures",
            [
                {
                    "experiment": key,
                    "profile_id": p,
                    "arm": a,
                    "journey_id": journey_id,
                    "first_at": firsts[p],
                }
                for p, a in arms.items()
            ]
            + [
                {
                    "experiment": GLOBAL,
                    "profile_id": p,
                    "arm": "holdout" if p % 9 == 0 else "treated",
                    "first_at": firsts[p],
                }
                for p in arms
            ],
            EXPOSURES_SCHEMA.to_pyarrow(),
        )
        orders, spent = [], dict.fromkeys(arms, 0.0)
        for n in range(900):
            p = rng.randrange(1, 1201)
            at = T - dt.timedelta(days=rng.uniform(0, 25))
            total = Decimal(f"{rng.uniform(5, 150) * (1.4 if arms[p] != 'control' else 1):.2f}")
            orders.append(
                {
                    "order_id": f"o{n}",
                    "customer_id": f"u{p}",
                    "ordered_at": at,
                    "channel": "online",
                    "status": "completed",
                    "currency": "USD",
                    "subtotal": total,
                    "discount": 0,
                    "shipping": 0,
                    "tax": 0,
                    "total": total,
                }
            )
            if at >= firsts[p]:
                spent[p] += float(total)
        put(app, "orders", orders, arrow_schema(ORDERS))
        yield app, journey_id, spent, arms


def test_a_split_tests_arms_match_statsmodels(
    shop: tuple[Lifetide, int, dict[int, float], dict[int, str]],
) -> None:
    app, journey_id, spent, arms = shop
    result = report(app, f"journey-{journey_id}-split-ab")
    assert result.experiment.control == "control" and result.experiment.planned is not None
    assert result.customers == {
        a: sum(1 for v in arms.values() if v == a) for a in ("control", "15% off")
    }
    conversion, revenue = result.conversion, result.revenue
    assert conversion is not None and revenue is not None
    for arm in conversion.arms:
        values = np.array([spent[p] for p, a in arms.items() if a == arm.arm])
        buyers = int((values > 0).sum())
        assert arm.successes == buyers and arm.n == values.size
        low, high = proportion_confint(buyers, values.size, method="wilson")
        assert (arm.interval.low, arm.interval.high) == pytest.approx((low, high))
    treated = np.array([spent[p] for p, a in arms.items() if a == "15% off"])
    control = np.array([spent[p] for p, a in arms.items() if a == "control"])
    (comparison,) = revenue.comparisons
    low, high = CompareMeans(DescrStatsW(treated), DescrStatsW(control)).tconfint_diff(
        usevar="unequal"
    )
    assert comparison.difference == pytest.approx(treated.mean() - control.mean())
    assert (
        comparison.difference_interval.low,
        comparison.difference_interval.high,
    ) == pytest.approx((low, high))
    assert result.sample_ratio is not None and not result.sample_ratio.mismatch
    # 600 per arm of the ~1,500 planned: the verdict waits, whatever the interval says.
    assert comparison.verdict.kind == "not_enough_data"
    assert result.progress == pytest.approx(
        min(result.customers.values()) / result.experiment.planned
    )


def test_the_global_holdout_is_read_with_its_weights(
    shop: tuple[Lifetide, int, dict[int, float], dict[int, str]],
) -> None:
    app, _, _, _ = shop
    result = report(app, GLOBAL)
    assert result.experiment.weights == {"holdout": 10, "treated": 90}
    assert result.arms == ["holdout", "treated"]
    assert result.customers["holdout"] == sum(1 for p in range(1, 1201) if p % 9 == 0)
    assert result.sample_ratio is not None


def test_a_journeys_experiments_are_listed_with_their_customers(
    shop: tuple[Lifetide, int, dict[int, float], dict[int, str]],
) -> None:
    app, journey_id, _, arms = shop
    assert experiment_keys(app, journey_id) == [(f"journey-{journey_id}-split-ab", len(arms))]
    assert dict(experiment_keys(app))[GLOBAL] == len(arms)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("nonsense", "no experiment is called 'nonsense'"),
        ("journey-999-holdout", "journey 999 does not exist"),
        ("journey-{id}-split-nowhere", "has no split step 'nowhere'"),
    ],
)
def test_an_unknown_experiment_is_refused_by_name(
    shop: tuple[Lifetide, int, dict[int, float], dict[int, str]], key: str, message: str
) -> None:
    app, journey_id, _, _ = shop
    with pytest.raises(UnknownExperiment, match=message):
        experiment(app, key.format(id=journey_id))


def test_an_experiment_with_an_empty_arm_says_there_is_not_enough_data(settings: Settings) -> None:
    with Lifetide(settings, clock=ManualClock(NOW)) as app:
        store = JourneyStore(app.sessions, app.clock)
        journey_id = store.create("Offer test", parse_journey(SPLIT), None).id
        key = f"journey-{journey_id}-split-ab"
        put(
            app,
            "exposures",
            [{"experiment": key, "profile_id": 1, "arm": "control", "first_at": T}],
            EXPOSURES_SCHEMA.to_pyarrow(),
        )
        result: Any = report(app, key)
        assert result.conversion is None and any("not enough data" in w for w in result.warnings)
